#!/usr/bin/env bash
# Generates a demo CA, a server certificate for 127.0.0.1/localhost, and client
# certificates (demo user with email + xmpp SANs, a second user, one revoked),
# plus a CRL. Usage: gen-demo-certs.sh DIR   (idempotent: keeps an existing CA)
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
days=825
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/C=XX/O=authrs demo/CN=authrs demo CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  mkdir -p issued
  echo 1000 > serial
  : > index.txt
fi
cat > ca.cnf <<CNF
[ca]
default_ca = demo
[demo]
dir = .
database = index.txt
serial = serial
new_certs_dir = ./issued
certificate = ca.crt
private_key = ca.key
default_md = sha256
default_crl_days = 30
policy = any
preserve = yes
[any]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
CNF
issue() { # name subject san extendedKeyUsage
  local name=$1 subj=$2 san=$3 eku=$4
  [ -f "$name.crt" ] && return 0
  openssl req -utf8 -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  # The CA sets every extension itself (nothing is copied from the request): an end-entity
  # certificate for one purpose, with these names.
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$eku" "subjectAltName=$san" > "$name.ext"
  openssl ca -batch -config ca.cnf -extfile "$name.ext" -in "$name.csr" -out "$name.crt" -days $days -notext 2>/dev/null
  # PKCS#12 for browsers (empty password).
  openssl pkcs12 -export -in "$name.crt" -inkey "$name.key" -out "$name.p12" -passout pass: 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
issue server "/C=XX/O=authrs demo/CN=localhost" "DNS:localhost,IP:127.0.0.1" serverAuth
issue demo "/C=XX/O=authrs demo/CN=demo" "email:demo@example.org,otherName:1.3.6.1.5.5.7.8.5;UTF8:demo@example.org" clientAuth
issue alice "/C=XX/O=authrs demo/OU=Admins/CN=alice" "email:alice@example.org" clientAuth
issue revoked "/C=XX/O=authrs demo/CN=mallory" "email:mallory@example.org" clientAuth
issue zoe "/C=XX/O=authrs demo/OU=Zürich Büro/CN=zoë" "email:zoe@example.org" clientAuth
if ! grep -q "^R" index.txt; then
  openssl ca -batch -config ca.cnf -revoke revoked.crt 2>/dev/null
fi
openssl ca -batch -config ca.cnf -gencrl -out ca.crl 2>/dev/null
