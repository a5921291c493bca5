#!/usr/bin/env bash
# Instructions per request added by mod_authrs and by mod_auth_tkt, counted with callgrind on
# `apache2 -X` (deterministic, unlike wall-clock numbers on a shared 2-core machine).
# Usage: callgrind-apache.sh MODULE AUTHRS   (env N=2000)
set -euo pipefail
module=$(realpath -e "$1") authrs=$(realpath -e "$2") n=${N:-2000}
dir=$(mktemp -d /tmp/authrs-callgrind.XXXXXX)
chmod 755 "$dir"; mkdir -p "$dir"/{logs,run,out,htdocs/plain,htdocs/rs,htdocs/tkt}; chmod 700 "$dir/out"
for d in plain rs tkt; do head -c 1024 /dev/zero | tr '\0' x > "$dir/htdocs/$d/file.html"; done
"$authrs" keygen --out "$dir/ticket.key"
rs=$("$authrs" ticket mint --key "$dir/ticket.key" --user bench@example.org --lifetime 5h --roles admin:projectX,reader --cookie-name AuthRs_Bench)
secret=bench-secret-for-mod-auth-tkt-0123456789
tkt=$(python3 - "$secret" <<'PY'
import hashlib, sys, time
key = sys.argv[1].encode(); ts = int(time.time()); u = b"bench@example.org"
d0 = hashlib.sha256(bytes(4) + ts.to_bytes(4, "big") + key + u + b"\0" + b"\0").hexdigest()
print(f"{hashlib.sha256(d0.encode() + key).hexdigest()}{ts:08x}bench@example.org!")
PY
)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
m=/usr/lib/apache2/modules
# Under valgrind the single process keeps its uid (no User line), so callgrind can write its file.
cat > "$dir/httpd.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
PidFile $dir/run/httpd.pid
DefaultRuntimeDir $dir/run
Mutex file:$dir/run default
ErrorLog $dir/logs/error.log
LogLevel warn
LoadModule mpm_prefork_module $m/mod_mpm_prefork.so
LoadModule authn_core_module $m/mod_authn_core.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authz_user_module $m/mod_authz_user.so
LoadModule mime_module $m/mod_mime.so
LoadModule auth_tkt_module $m/mod_auth_tkt.so
LoadModule authrs_module $module
TypesConfig /etc/mime.types
MaxKeepAliveRequests 0
Listen 127.0.0.1:$port
DocumentRoot $dir/htdocs
AuthRsTicketKeyFile $dir/ticket.key
TKTAuthSecret "$secret"
TKTAuthDigestType SHA256
<Location /rs>
  AuthType AuthRs
  AuthName Bench
  AuthRsMethods ticket
  Require valid-user
</Location>
<Location /tkt>
  AuthType None
  TKTAuthLoginURL http://127.0.0.1:$port/login
  TKTAuthIgnoreIP on
  TKTAuthTimeout 5h
  Require valid-user
</Location>
CONF
total() { # name path cookie requests -> total instructions
  local out=$dir/out/cg.$1
  valgrind --tool=callgrind --callgrind-out-file="$out" /usr/sbin/apache2 -X -d "$dir" -f "$dir/httpd.conf" >/dev/null 2>&1 &
  local vp=$!
  local up=
  for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/plain/file.html" && { up=1; break; }; sleep 0.3; done
  if [ -z "$up" ]; then
    echo "$1: apache2 under valgrind did not answer in 90 s (see $dir/logs)" >&2; kill $vp 2>/dev/null; exit 1
  fi
  ab -q -k -n "$4" -c 1 -H "Cookie: $3" "http://127.0.0.1:$port$2" > "$dir/ab.$1" 2>&1
  if grep -q "Non-2xx" "$dir/ab.$1"; then echo "$1: non-2xx answers" >&2; exit 1; fi
  kill -TERM $vp; wait $vp 2>/dev/null || true
  local sum; sum=$(awk '/^summary:/ {print $2}' "$out")
  [ -n "$sum" ] || { echo "$1: no callgrind summary in $out" >&2; exit 1; }
  echo "$sum"
}
per_request() { # name path cookie
  local a b
  a=$(total "$1-10" "$2" "$3" 10) || exit 1
  b=$(total "$1-n" "$2" "$3" $((n + 10))) || exit 1
  # 2000 requests add millions of instructions; less means the requests did not reach httpd.
  if [ $((b - a)) -lt $((n * 1000)) ]; then
    echo "$1: only $((b - a)) instructions for $n requests (see $dir/logs, $dir/ab.$1-n)" >&2; exit 1
  fi
  echo $(( (b - a) / n ))
}
plain=$(per_request plain /plain/file.html "x=1") || exit 1
rsi=$(per_request rs /rs/file.html "AuthRs_Bench=$rs") || exit 1
tkti=$(per_request tkt /tkt/file.html "auth_tkt=$tkt") || exit 1
echo
echo "callgrind, apache2 -X (prefork), $n keep-alive requests, instructions per request"
echo "| scenario | Ir/request | added |"
echo "|---|---:|---:|"
echo "| unprotected | $plain | 0 |"
echo "| mod_authrs ticket | $rsi | +$((rsi - plain)) |"
echo "| mod_auth_tkt SHA256 | $tkti | +$((tkti - plain)) |"
rm -rf "$dir"
