#!/usr/bin/env bash
# Integration: TLS handshake entries (protocol "tls") through the real eBPF path, for TLS floe
# does not read in plaintext. Pod b runs two `openssl s_server -www` (its own self-signed
# certificate for www.floe.test, made here): one TLS 1.3 only, one TLS 1.2 only, both choosing
# ALPN http/1.1. Pod a runs curl (OpenSSL), which offers h2 and http/1.1:
#   - TLS 1.3: SNI www.floe.test, the certificate checked against the test's CA file;
#   - TLS 1.2: the same, so the certificate is in clear;
#   - curl limited to TLS 1.2 against the TLS 1.3 server: the server refuses with an alert.
# floe taps both pods with --json: exactly one tls entry per handshake, each compared with
# what curl itself reports (-v: "SSL connection using <version> / <cipher>", "ALPN: offers",
# "ALPN: server accepted", which TLS 1.3 encrypts); OpenSSL cipher names mapped to IANA's by `openssl ciphers
# -stdname`), and with the certificate (`openssl x509`: subject CN, serial, not after). Then
# `floe read` of the exported PCAP must give the same entries, and tshark on that PCAP the
# same SNI and JA3 as floe.
# Usage (root, from the repo root): bash selftests/integration/test_entries_tls.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.27.11 B=10.213.27.12
P13=8443 P12=8444
NAME=www.floe.test

need_cmd "openssl, curl, jq and tshark are installed" openssl curl jq tshark || done_testing
entries_pods $A $B

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/O=floe test/CN=$NAME" -addext "subjectAltName=DNS:$NAME,DNS:api.floe.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/req.log" ||
	{ not_ok "a self-signed certificate"; diag "$(cat "$T/req.log")"; done_testing; }
ok "a self-signed certificate for $NAME"

pod_bg b "$T/s13.log" openssl s_server -accept "$B:$P13" -cert "$T/cert.pem" -key "$T/key.pem" \
	-tls1_3 -alpn http/1.1 -www
pod_bg b "$T/s12.log" openssl s_server -accept "$B:$P12" -cert "$T/cert.pem" -key "$T/key.pem" \
	-tls1_2 -alpn http/1.1 -www
if wait_tcp_listen b $P13 10 && wait_tcp_listen b $P12 10; then
	ok "openssl s_server listens in b (TLS 1.3 on $P13, TLS 1.2 on $P12)"
else
	not_ok "openssl s_server listens in b"
	diag "$(cat "$T/s13.log" "$T/s12.log")"
	done_testing
fi

# --tls=false: the handshake entries are for TLS floe does not read in plaintext (docs/tls.md)
entries_tap --tls=false

# curl: -v tells what it negotiated; the exit status whether it got the page.
c() {
	local tag=$1 port=$2
	shift 2
	in_pod a curl -sS -v -o "$T/$tag.body" --connect-timeout 5 --max-time 10 \
		--resolve "$NAME:$port:$B" --cacert "$T/cert.pem" "$@" "https://$NAME:$port/" \
		2>"$T/$tag.curl"
}
c tls13 $P13 --tlsv1.3
is "$?" 0 "curl TLS 1.3 to s_server"
c tls12 $P12 --tlsv1.2 --tls-max 1.2
is "$?" 0 "curl TLS 1.2 to s_server"
c refused $P13 --tlsv1.2 --tls-max 1.2
check_not "curl limited to TLS 1.2 is refused by the TLS 1.3 server" test "$?" -eq 0
check "s_server -www answered the two good ones" grep -q "s_server" "$T/tls13.body" "$T/tls12.body"

entries_stop 3
is "$(jq -r 'select(.protocol=="tls")' "$OUT" | jq -s length)" 3 "three tls entries, one per handshake"
is "$(jq -r 'select(.protocol!="tls") | .protocol' "$OUT" | sort -u | tr '\n' ' ')" "" \
	"no other entry (the encrypted bytes are not read as another protocol)"

# What curl says it negotiated, and what floe shows for that connection (by client port).
curl_port() { sed -n 's/.*Connected to .* port [0-9]* (#0)//; s/^\* *Local port: *//p' "$1" | head -n 1; }
entry_of() { # the entry whose server port is $1, nth ($2) by time
	jq -c --argjson p "$1" 'select(.protocol=="tls" and .dst.port==$p)' "$OUT" | sed -n "${2}p"
}
stdname() { openssl ciphers -stdname ALL:COMPLEMENTOFALL 2>/dev/null | awk -v c="$1" '$3==c {print $1}'; }
for tag in tls13 tls12; do
	port=$P13 && [ $tag = tls12 ] && port=$P12
	e=$(entry_of $port 1)
	ver=$(sed -n 's/.*SSL connection using TLSv\([0-9.]*\) \/ \(.*\)$/\1/p' "$T/$tag.curl")
	ciph=$(sed -n 's/.*SSL connection using TLSv[0-9.]* \/ \(.*\)$/\1/p' "$T/$tag.curl")
	iana=$ciph
	[ "${ciph#TLS_}" = "$ciph" ] && iana=$(stdname "$ciph")
	offers=$(sed -n 's/^\* ALPN[,:] *offers* *//p' "$T/$tag.curl" | tr -d ' ' | paste -sd, -)
	chosen=$(sed -n 's/^\* ALPN[,:] *server accepted *\(to use \)*//p' "$T/$tag.curl" | tr -d ' ')
	diag "$tag: curl: TLS $ver $ciph ($iana), ALPN offers $offers, accepted $chosen"
	is "$(jq -r .request.sni <<<"$e")" "$NAME" "$tag: request.sni is curl's"
	is "$(jq -r '.request.alpn | join(",")' <<<"$e")" "$offers" "$tag: request.alpn is what curl offered"
	if [ $tag = tls12 ]; then
		is "$(jq -r .response.alpn <<<"$e")" "$chosen" "$tag: response.alpn is what the server accepted"
	else # TLS 1.3 sends its choice in EncryptedExtensions
		is "$(jq -r .response.alpn <<<"$e")" null "$tag: no response.alpn (encrypted in TLS 1.3)"
	fi
	is "$(jq -r .response.version <<<"$e")" "$ver" "$tag: response.version is curl's"
	is "$(jq -r .version <<<"$e")" "$ver" "$tag: the entry's version"
	is "$(jq -r .response.cipher <<<"$e")" "$iana" "$tag: response.cipher is curl's, by its IANA name"
	is "$(jq -r .established <<<"$e")" true "$tag: established"
	is "$(jq -r .src.pod <<<"$e")" "$(pod_ns a)" "$tag: from pod a"
	is "$(jq -r '.handshake_ms > 0' <<<"$e")" true "$tag: handshake_ms is there"
	is "$(jq -r --arg v "${ver/./}" '.request.ja4 | startswith("t" + $v + "d")' <<<"$e")" true \
		"$tag: a JA4 of TLS $ver"
done
# TLS 1.2: the certificate in clear, as openssl reads it.
e=$(entry_of $P12 1)
serial=$(openssl x509 -in "$T/cert.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')
end=$(date -u -d "$(openssl x509 -in "$T/cert.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%S.000000000Z)
is "$(jq -r .response.certificate.subject <<<"$e")" "CN=$NAME,O=floe test" "tls12: certificate subject"
is "$(jq -r .response.certificate.serial <<<"$e")" "$serial" "tls12: certificate serial is openssl's"
is "$(jq -r .response.certificate.not_after <<<"$e")" "$end" "tls12: certificate not_after is openssl's"
is "$(jq -r '.response.certificate.san | join(",")' <<<"$e")" "$NAME,api.floe.test" "tls12: certificate SAN"
is "$(entry_of $P13 1 | jq -r .response.certificate)" null "tls13: no certificate (encrypted in TLS 1.3)"
# The refused one: the server's alert.
e=$(entry_of $P13 2)
is "$(jq -r .established <<<"$e")" false "refused: not established"
is "$(jq -r '.alerts[0].from + " " + .alerts[0].level' <<<"$e")" "server fatal" "refused: the server's fatal alert"
is "$(jq -r .response.alert <<<"$e")" "$(jq -r .alerts[0].description <<<"$e")" "refused: response.alert is that alert"
diag "refused: $(jq -c '{alerts, request: {versions: .request.versions}}' <<<"$e")"

entries_vs_read '[.id, .protocol, .version, .src.port, .request.sni, .request.alpn, .request.ja3_hash,
	.request.ja4, .response.version, .response.cipher, .response.alpn, .response.certificate.serial,
	.established, .alerts, .missing, .request_size, .response_size] | @json'

# tshark's view of the same PCAP: SNI and JA3 per connection.
x=${OUT%.json}
tshark -r "$x.pcap" -Y 'tls.handshake.type == 1' -T fields -e tcp.srcport \
	-e tls.handshake.extensions_server_name -e tls.handshake.ja3 2>/dev/null | sort >"$x.tshark"
jq -r 'select(.protocol=="tls") | [(.src.port|tostring), .request.sni, .request.ja3_hash] | join("\t")' \
	"$OUT" | sort >"$x.floe"
if [ -s "$x.tshark" ] && cmp -s "$x.tshark" "$x.floe"; then
	ok "tshark on the exported PCAP: the same SNI and JA3 per connection ($(wc -l <"$x.floe"))"
else
	not_ok "tshark on the exported PCAP: the same SNI and JA3 per connection"
	diag "$(diff "$x.floe" "$x.tshark")"
fi

done_testing
