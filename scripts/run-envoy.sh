#!/usr/bin/env bash
# `make run` (second half): Envoy with the authrs wasm filter on https://127.0.0.1:8444/, in
# front of the same demo site httpd serves (its plain loopback port), with the same ticket key
# and cookie name, so a login on either works on both. Renders conf/envoy/envoy.yaml.
# Runs in the background; prints its PID file. Never touches anything outside $RUN_DIR.
set -euo pipefail
: "${RUN_DIR:?}" "${WASM:?}" "${ENVOY:?}"
here=$(cd "$(dirname "$0")" && pwd)
port=${AUTHRS_ENVOY_PORT:-8444}
admin=${AUTHRS_ENVOY_ADMIN_PORT:-9901}
backend=${AUTHRS_BACKEND_PORT:-8081}
op_port=${AUTHRS_OPENID_OP_PORT:-8090}
demo=$RUN_DIR/demo
dir=$RUN_DIR/envoy
mkdir -p "$dir"
# Values reach Python as arguments (a quoted heredoc: nothing of the shell is pasted into code).
python3 - "$here/../conf/envoy/envoy.yaml" "$dir/envoy.yaml" "$demo" "$WASM" "$port" "$admin" \
  "$backend" "$op_port" <<'PY'
import json, sys
src, dst, demo, wasm, port, admin, backend, op_port = sys.argv[1:9]
text = open(src).read()
values = {
    "@ETC@": demo + "/certs",
    "@WASM@": wasm,
    "@TICKET_KEY@": open(demo + "/ticket.key").read().strip(),
    "@USERS@": open(demo + "/htpasswd").read().strip().replace("\n", "\\n"),
    '"@CRL@"': json.dumps(open(demo + "/certs/ca.crl").read()),
    "@PORT@": port,
    "@ADMIN_PORT@": admin,
    "@BACKEND_PORT@": backend,
    "@OPENID_SECRET@": open(demo + "/openid.secret").read().strip(),
    "@OP_PORT@": op_port,
}
for k, v in values.items():
    text = text.replace(k, v)
# The bootstrap holds the ticket key and the OpenID secret: readable by this user only.
import os
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.fchmod(fd, 0o600)
with os.fdopen(fd, "w") as f:
    f.write(text)
PY
"$ENVOY" --mode validate -c "$dir/envoy.yaml" >"$dir/validate.log" 2>&1 || { cat "$dir/validate.log"; exit 1; }
"$ENVOY" -c "$dir/envoy.yaml" --concurrency 1 --disable-hot-restart --log-level warn \
  --component-log-level wasm:info >"$dir/envoy.log" 2>&1 &
echo $! > "$dir/envoy.pid"
