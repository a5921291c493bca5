#!/usr/bin/env bash
# `make run`: the demo site behind mod_authrs in a throw-away ServerRoot on 127.0.0.1.
# Ctrl-C stops it. Never touches the system apache2 service.
set -euo pipefail
: "${RUN_DIR:?}" "${AUTHRS:?}" "${MODULE:?}"
here=$(cd "$(dirname "$0")" && pwd)
port=${AUTHRS_DEMO_PORT:-8443}
backend=${AUTHRS_BACKEND_PORT:-8081}
envoy_port=${AUTHRS_ENVOY_PORT:-8444}
admin_port=${AUTHRS_ENVOY_ADMIN_PORT:-9901}
op_port=${AUTHRS_OPENID_OP_PORT:-8090}
root=$RUN_DIR/httpd
demo=$RUN_DIR/demo
mkdir -p "$root"/{logs,run,htdocs/app,cgi-bin} "$demo"
"$here/gen-demo-certs.sh" "$demo/certs"
[ -f "$demo/ticket.key" ] || "$AUTHRS" keygen --out "$demo/ticket.key"
if [ ! -s "$demo/htpasswd" ]; then
  hash=$(printf demo | "$AUTHRS" password hash --cost 8)
  printf 'demo:%s\n' "$hash" > "$demo/htpasswd"
fi
printf 'demo admin:projectX reader\nalice reader\n' > "$demo/roles"
[ -s "$demo/openid.secret" ] || (umask 077; head -c 32 /dev/urandom | base64 > "$demo/openid.secret")
chmod 600 "$demo/openid.secret"
printf '<h1>authrs demo</h1><p><a href="/app/">protected app</a> · <a href="/app/cgi/echo">what the app sees</a> · <a href="/LOGOUT">log out</a></p>\n' > "$root/htdocs/index.html"
printf '<h1>You are in.</h1><p><a href="/app/cgi/echo">what the application sees</a> · <a href="/LOGOUT">log out</a></p>\n' > "$root/htdocs/app/index.html"
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nenv | grep -E "^(REMOTE_USER|AUTH_TYPE|AUTHRS_|SSL_CLIENT_S_DN=|HTTP_X_AUTHRS_)" | sort\n' > "$root/cgi-bin/echo"
chmod 755 "$root/cgi-bin/echo"
m=/usr/lib/apache2/modules
cat > "$root/httpd.conf" <<CONF
ServerRoot "$root"
ServerName 127.0.0.1
PidFile "$root/run/httpd.pid"
DefaultRuntimeDir "$root/run"
Mutex file:$root/run default
ErrorLog "$root/logs/error.log"
LogLevel warn authrs:info
$( [ "$(id -u)" = 0 ] && printf 'User www-data\nGroup www-data\n' )
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authn_core_module $m/mod_authn_core.so
LoadModule authn_file_module $m/mod_authn_file.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authz_user_module $m/mod_authz_user.so
LoadModule mime_module $m/mod_mime.so
LoadModule dir_module $m/mod_dir.so
LoadModule alias_module $m/mod_alias.so
LoadModule cgid_module $m/mod_cgid.so
LoadModule ssl_module $m/mod_ssl.so
LoadModule authrs_module "$MODULE"
TypesConfig /etc/mime.types
ScriptSock "$root/run/cgid.sock"
Listen 127.0.0.1:$port https
Listen 127.0.0.1:$backend http
DocumentRoot "$root/htdocs"
DirectoryIndex index.html
ScriptAlias /app/cgi/ "$root/cgi-bin/"
LoadModule socache_shmcb_module $m/mod_socache_shmcb.so
SSLSessionCache "shmcb:$root/run/ssl_scache(512000)"
AuthRsTicketKeyFile "$demo/ticket.key"
<VirtualHost 127.0.0.1:$port>
  SSLEngine on
  SSLCertificateFile "$demo/certs/server.crt"
  SSLCertificateKeyFile "$demo/certs/server.key"
  SSLCACertificateFile "$demo/certs/ca.crt"
  SSLVerifyClient optional
  SSLOptions +StdEnvVars +ExportCertData
  <Location />
    AuthName Demo
    AuthRsLoginURL /LOGIN
    AuthRsCRLFile "$demo/certs/ca.crl"
    AuthRsRolesFile "$demo/roles"
  </Location>
  <Location /app>
    AuthType AuthRs
    Require valid-user
  </Location>
  <Location /LOGIN>
    SetHandler authrs-login
    AuthRsProvider file
    AuthUserFile "$demo/htpasswd"
    # The login page also offers OpenID; the demo provider runs on loopback. Private addresses
    # are allowed at the allowed provider's origin only (its host and port): nothing else on
    # loopback is fetched, whatever identifier a visitor types.
    AuthRsMethods cert ticket openid
    AuthRsOpenIDConsumerSecretFile "$demo/openid.secret"
    AuthRsOpenIDAllowPrivateAddresses On
    AuthRsOpenIDAllowedProviders http://127.0.0.1:$op_port/op
    # This site's own URL: OpenID refuses to run without it (the Host header is the client's).
    AuthRsOpenIDRealm https://127.0.0.1:$port/
  </Location>
  <Location /LOGOUT>
    SetHandler authrs-logout
    # Revoke the ticket server-side too (this httpd's socache; Envoy keeps its own).
    AuthRsRevokeOnLogout On
  </Location>
</VirtualHost>
# The same site in plain HTTP on loopback, for Envoy in front of it: no authentication here
# (the filter did it). It believes X-AuthRs-* from any connection from 127.0.0.1 — Envoy's,
# but also any local user's or program's: a demo on a one-user machine, never a pattern for a
# shared host (there, a Unix socket or an address only the proxy can reach).
<VirtualHost 127.0.0.1:$backend>
  AuthRsTrustedProxies 127.0.0.1/32
  AuthRsTrustedProxyHeaders xfcc
</VirtualHost>
CONF
/usr/sbin/apache2 -d "$root" -f "$root/httpd.conf" -t
stop=()
trap 'for p in "${stop[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
if [ -n "${WASM:-}" ] && [ -n "${ENVOY:-}" ]; then
  "$here/run-envoy.sh"
  stop+=("$(cat "$RUN_DIR/envoy/envoy.pid")")
  envoy_line="Envoy with the authrs filter on https://127.0.0.1:$envoy_port/ (same site, key and cookie; log $RUN_DIR/envoy/envoy.log)"
else
  envoy_line="(Envoy not started: set WASM and ENVOY)"
fi
# The tests' scripted OpenID provider (python3-openid), approving any http://127.0.0.1:$op_port/id/<name>.
if /usr/bin/python3 -c 'import openid' 2>/dev/null; then
  /usr/bin/python3 "$here/../tests/openid_op.py" "$op_port" 2>"$root/logs/openid_op.log" &
  stop+=("$!")
  openid_line="OpenID:        type http://127.0.0.1:$op_port/id/<anyone> on either login page (a test provider that approves everyone)"
else
  openid_line="OpenID:        (no demo provider: apt-get install python3-openid)"
fi
c=$demo/certs
cat <<EOF

authrs demo: httpd with mod_authrs on https://127.0.0.1:$port/  (Ctrl-C stops both)
  $envoy_line
  demo user:     demo / demo          demo CA:  $c/ca.crt
  $openid_line
  client certs:  $c/{demo,alice,zoe}.crt + .key (and .p12 for browsers, empty password);
                 $c/revoked.crt is in the CRL
  error log:     $root/logs/error.log

Try:
  curl --cacert $c/ca.crt -i https://127.0.0.1:$port/app/                       # 302 to /LOGIN?reason=no_cookie
  curl --cacert $c/ca.crt -i -d 'credential_0=demo&credential_1=demo&destination=/app/' https://127.0.0.1:$port/LOGIN
  curl --cacert $c/ca.crt --cert $c/alice.crt --key $c/alice.key https://127.0.0.1:$port/app/cgi/echo
  curl --cacert $c/ca.crt --cert $c/revoked.crt --key $c/revoked.key -i https://127.0.0.1:$port/app/   # revoked_cert
  curl --cacert $c/ca.crt -H 'Accept: application/json' -i https://127.0.0.1:$port/app/               # 401
  curl --cacert $c/ca.crt --cert $c/alice.crt --key $c/alice.key https://127.0.0.1:$envoy_port/app/cgi/echo   # via Envoy
  curl --cacert $c/ca.crt -i https://127.0.0.1:$envoy_port/app/                 # Envoy: 302 to /LOGIN?reason=no_cookie
  curl -s http://127.0.0.1:$admin_port/stats | grep wasmcustom.authrs           # the filter's metrics
  Browser: import $c/demo.p12, trust $c/ca.crt, open https://127.0.0.1:$port/app/
  CLI: $AUTHRS --help

EOF
# httpd runs as a child we wait for, so stopping this script any way (Ctrl-C, kill, a closed
# terminal) stops httpd, Envoy and the provider through the EXIT trap.
/usr/sbin/apache2 -d "$root" -f "$root/httpd.conf" -DFOREGROUND &
stop+=("$!")
trap 'exit 130' INT TERM HUP
wait "$!"
