#!/bin/sh
# Makes a throwaway certificate authority and a server certificate it signed, for the TLS
# tests of the server stores: ca.pem, server.pem and server.key in the directory $1. The
# server certificate names localhost and 127.0.0.1.
set -eu
cd "$1"
cat > ca.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
CN = baileys-rust-auth test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF
cat > server.cnf <<'CNF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
CNF
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
key server.key
openssl req -x509 -new -config ca.cnf -key ca.key -days 2 -out ca.pem
openssl req -new -key server.key -subj /CN=localhost -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.cnf -out server.pem 2>/dev/null
