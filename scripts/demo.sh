#!/usr/bin/env bash
# `make run`, first part: a tour of the authrs CLI over generated demo material, before
# scripts/run-apache.sh starts httpd and Envoy on it.
set -euo pipefail
: "${RUN_DIR:?}" "${AUTHRS:?}"
here=$(cd "$(dirname "$0")" && pwd)
demo=$RUN_DIR/demo
# The demo keeps keys and a CA key here and reuses them: a directory someone else owns or may
# write to could hold theirs.
mkdir -p "$RUN_DIR"
if [ "$(stat -c %u "$RUN_DIR")" != "$(id -u)" ] || [ -n "$(find "$RUN_DIR" -maxdepth 0 -perm /022)" ]; then
  echo "demo: $RUN_DIR is not owned by $(id -un) alone (owner or group/other write): refusing to use it" >&2
  exit 1
fi
mkdir -p "$demo"
"$here/gen-demo-certs.sh" "$demo/certs"
[ -f "$demo/ticket.key" ] || "$AUTHRS" keygen --out "$demo/ticket.key"
# The hash first: a failed `password hash` must stop here, not leave `demo:` behind.
if [ ! -s "$demo/htpasswd" ]; then
  hash=$(printf demo | "$AUTHRS" password hash --cost 8)
  printf 'demo:%s\n' "$hash" > "$demo/htpasswd"
fi
cat > "$demo/roles" <<'R'
# user role[:scope]...
demo admin:projectX reader
alice reader
R
cat > "$demo/require.conf" <<'R'
<RequireAll>
  Require valid-user
  Require role admin projectX
  Require not user mallory
</RequireAll>
R

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@" || true; }
A=$AUTHRS
step "$A" cert inspect "$demo/certs/demo.crt"
step "$A" cert map --rule cn "$demo/certs/demo.crt"
step "$A" cert map --rule xmpp "$demo/certs/demo.crt"
step "$A" cert map --rule '{CN}@example.org' "$demo/certs/alice.crt"
step "$A" cert map --rule cn --crl "$demo/certs/ca.crl" "$demo/certs/revoked.crt"
ticket=$("$A" ticket mint --key "$demo/ticket.key" --user demo --roles admin:projectX --lifetime 2h --cookie-name AuthRs_Example)
echo; echo "\$ $A ticket mint --key $demo/ticket.key --user demo --roles admin:projectX --lifetime 2h --cookie-name AuthRs_Example"; echo "$ticket"
step "$A" ticket verify --key "$demo/ticket.key" --cookie-name AuthRs_Example "$ticket"
step "$A" ticket verify --key "$demo/ticket.key" --cookie-name AuthRs_Example --now $(( $(date +%s) + 3 * 3600 )) "$ticket"
# Tampered: the tag's last character swapped for another canonical one (A/Q/g/w carry its last two
# bits); appending a fixed "A" would give the ticket back unchanged one time in four.
case "${ticket: -1}" in A) last=Q ;; *) last=A ;; esac
step "$A" ticket verify --key "$demo/ticket.key" --cookie-name AuthRs_Example "${ticket%?}$last"
step "$A" ticket verify --key "$demo/ticket.key" --cookie-name AuthRs_Admins "$ticket"
step "$A" require check --roles "$demo/roles" --user demo "$demo/require.conf"
step "$A" require check --roles "$demo/roles" --user alice "$demo/require.conf"

cat <<EOF

Demo material is in $demo:
  certs/          CA, client certificates (demo, alice, revoked) with .p12 for browsers, ca.crl
  ticket.key      a ticket key (mode 0600)
  htpasswd        user demo, password demo (bcrypt)
  roles, require.conf

Try:
  $A ticket mint --key $demo/ticket.key --user demo --lifetime 30m --cookie-name AuthRs_Example
  $A cert inspect --json $demo/certs/alice.crt
  $A require check --user demo --method password $demo/require.conf
  $A --help

Next: httpd with mod_authrs on https://127.0.0.1:${AUTHRS_DEMO_PORT:-8443}/ and Envoy with the authrs filter beside it.
EOF
