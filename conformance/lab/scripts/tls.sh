# shellcheck shell=bash
# tls.sh -- a fresh certificate authority and server certificate for one lab
# instance (sourced by the lab scripts, not run).
#
#   make_certs DIR OWNER
#
# writes into DIR (made 0755 if missing):
#   ca.pem       the instance's own CA certificate: the only thing a client
#                needs to verify the server (the harness's --tls-ca)
#   server.pem   the server certificate, for "localhost" and 127.0.0.1
#                (subjectAltName), signed by that CA
#   server.key   its private key (ECDSA P-256), mode 0600, owned by OWNER
#                (user or user:group: the server process that reads it)
#   server-both.pem  key and certificate in one file (Courier wants that),
#                mode 0600, owned by OWNER
# The CA's private key is deleted once it has signed: nothing else can be
# issued under that CA, and every instance trusts a CA of its own.  Both
# certificates are valid for 30 days from now.  Needs openssl.

make_certs() { # $1=dir $2=owner
    local dir=$1 owner=$2 serial key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256)
    command -v openssl >/dev/null || { echo "make_certs: openssl is not installed" >&2; return 1; }
    mkdir -p "$dir"
    chmod 755 "$dir"
    rm -f "$dir"/{ca.pem,ca.key,server.pem,server.key,server.csr,server-both.pem,openssl.cnf}
    # A configuration of our own: the system's openssl.cnf adds nothing.
    cat >"$dir/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
    serial=0x$(openssl rand -hex 16)
    (
        umask 077
        openssl req -x509 -new "${key[@]}" -days 30 -config "$dir/openssl.cnf" -extensions ca \
            -subj "/CN=pop3 lab CA ${serial:2:8}" -keyout "$dir/ca.key" -out "$dir/ca.pem" &&
        openssl req -new "${key[@]}" -config "$dir/openssl.cnf" -subj /CN=localhost \
            -keyout "$dir/server.key" -out "$dir/server.csr" &&
        openssl x509 -req -sha256 -days 30 -in "$dir/server.csr" -CA "$dir/ca.pem" \
            -CAkey "$dir/ca.key" -set_serial "$serial" -extfile "$dir/openssl.cnf" \
            -extensions server -out "$dir/server.pem"
    ) >/dev/null 2>"$dir/openssl.err" || { cat "$dir/openssl.err" >&2; return 1; }
    rm -f "$dir/ca.key" "$dir/server.csr" "$dir/openssl.err" "$dir/openssl.cnf"
    cat "$dir/server.key" "$dir/server.pem" >"$dir/server-both.pem"
    chmod 644 "$dir/ca.pem" "$dir/server.pem"
    chmod 600 "$dir/server.key" "$dir/server-both.pem"
    chown "$owner" "$dir/server.key" "$dir/server-both.pem"
}
