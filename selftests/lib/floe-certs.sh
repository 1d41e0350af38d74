#!/usr/bin/env bash
# floe-certs.sh DIR [SERVER-NAME...]: a CA and two key pairs signed by it, for the mutual TLS
# between floe agents and the hub (docs/hub-transport.md):
#   DIR/ca.pem ca.key          the CA (keep ca.key offline; only ca.pem is distributed)
#   DIR/agent.pem agent.key    the agents' server certificate, valid for SERVER-NAMEs
#                              (default: localhost 127.0.0.1 ::1); DNS names and IPs alike
#   DIR/hub.pem hub.key        the hub's client certificate
# EC P-256 keys, 825 days. Existing files are kept: remove them to make new ones.
set -euo pipefail
dir=${1:?usage: floe-certs.sh DIR [SERVER-NAME...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost 127.0.0.1 ::1)
mkdir -p "$dir"
umask 077
cd "$dir"

san=""
for n in "${names[@]}"; do
	if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then
		san+="${san:+,}IP:$n"
	else
		san+="${san:+,}DNS:$n"
	fi
done

if [ ! -e ca.pem ]; then
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
		-subj "/CN=floe CA" -keyout ca.key -out ca.pem \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		2>/dev/null
fi

# leaf NAME CN EXT: a key and a certificate signed by the CA.
leaf() {
	[ -e "$1.pem" ] && return 0
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
		-keyout "$1.key" -out "$1.csr" 2>/dev/null
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
leaf agent "floe agent" "subjectAltName=$san
extendedKeyUsage=serverAuth"
leaf hub "floe hub" "extendedKeyUsage=clientAuth"
chmod 644 ca.pem agent.pem hub.pem
echo "floe-certs: $dir: ca.pem, agent.pem/agent.key (${names[*]}), hub.pem/hub.key"
