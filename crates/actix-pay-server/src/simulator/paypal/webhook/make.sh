#!/bin/sh
# Makes the PayPal simulator's webhook certificate: a CA (ca.pem) and the certificate it signed (chain.pem)
# with its key (leaf.pk8). The server trusts this CA ONLY in simulator mode, where the simulator signs its
# Checkout webhooks with leaf.pk8. Public on purpose: it proves nothing outside the simulator. Re-run to
# renew (valid ten years).
set -e
cd "$(dirname "$0")"
tmp=$(mktemp -d)
make_pair() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/$1-ca.key" -out "$tmp/$1-ca.pem" -days 3650 \
    -subj "/CN=$2 test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$tmp/$1-leaf.key" -out "$tmp/$1-leaf.csr" \
    -subj "/CN=messageverificationcerts.$2.example" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:messageverificationcerts.%s.example\n' "$2" > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1-leaf.csr" -CA "$tmp/$1-ca.pem" -CAkey "$tmp/$1-ca.key" -CAcreateserial \
    -out "$tmp/$1-leaf.pem" -days 3650 -extfile "$tmp/$1.ext" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$tmp/$1-leaf.key" -outform DER -out "$tmp/$1-leaf.pk8"
}
make_pair trusted simulator

cp "$tmp/trusted-ca.pem" ca.pem
cat "$tmp/trusted-leaf.pem" > chain.pem
cp "$tmp/trusted-leaf.pk8" leaf.pk8


rm -rf "$tmp"
