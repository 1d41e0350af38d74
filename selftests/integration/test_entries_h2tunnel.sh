#!/usr/bin/env bash
# Integration: HTTP/2 CONNECT (RFC 9113 8.5) and extended CONNECT (RFC 8441) tunnels, through
# the real eBPF path. Pod p runs an HTTP/2 (h2c) forward proxy made with Node's http2 module
# (selftests/lib/h2proxy.js); pod b an HTTP/1.1 server (selftests/lib/httpd1.py) on 8080,
# nghttpd (h2c, prior knowledge) on 8081 and openssl s_server (TLS) on 8443. Pod a's Node
# client (selftests/lib/h2connect.js) opens, on one HTTP/2 connection to the proxy, a CONNECT
# to each with HTTP/1.1 keep-alive, h2c and TLS inside, a CONNECT the proxy refuses (403), and
# an extended CONNECT for WebSocket that the proxy echoes. floe taps a, p and b: each CONNECT
# must be an entry with the stream, target and status the client saw and the proxy logged, and
# the tunnel's kind; each request inside one entry with its tunnel's id; the proxy's own
# connections must carry the same requests. tshark on the exported PCAP must see the same
# CONNECTs on the client's leg and the same requests on the proxy's; `floe read` of it the same
# entries.
# Usage (root, from the repo root): bash selftests/integration/test_entries_h2tunnel.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.24.11 B=10.213.24.12 P=10.213.24.13
PROXY=3128 H1=8080 H2C=8081 TLS=8443 CLOSED=8099

need_cmd "node, nghttpd, openssl and tshark are installed" node nghttpd openssl tshark ||
	done_testing
entries_pods $A $B
pod_add p $P || { not_ok "create pod p"; done_testing; }
printf '%s proxy\n' "$(pod_ns p)" >>"$INV"

WWW=$T/www
mkdir -p "$WWW"
printf 'inside h2c, through an HTTP/2 proxy\n' >"$WWW/h2.txt"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$B" -keyout "$T/key.pem" \
	-out "$T/cert.pem" >"$T/openssl-req.log" 2>&1

pod_bg b "$T/httpd.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' $B $H1 2>'$T/httpd.err'"
pod_bg b "$T/nghttpd.log" nghttpd --no-tls -d "$WWW" $H2C
pod_bg b "$T/s_server.log" openssl s_server -quiet -accept $TLS -www -cert "$T/cert.pem" -key "$T/key.pem"
pod_bg p "$T/proxy.log" node "$HERE/../lib/h2proxy.js" $P $PROXY "$H1,$H2C,$TLS"
if ! wait_tcp_listen b $H1 10 || ! wait_tcp_listen b $H2C 10 || ! wait_tcp_listen b $TLS 10 ||
	! wait_tcp_listen p $PROXY 10; then
	not_ok "the servers listen in b, the proxy in p"
	diag "$(cat "$T/httpd.err" "$T/nghttpd.log" "$T/s_server.log" "$T/proxy.log")"
	done_testing
fi
ok "the servers listen in b, the proxy in p"

# --tls=false: the tunnels' TLS stays ciphertext (what tshark sees too); plaintext through
# uprobes is test_tls_openssl's
ENTRIES_PODS="a|b|p" entries_tap --tls=false

CLIENT=$T/client.log
in_pod a timeout 30 node "$HERE/../lib/h2connect.js" "http://$P:$PROXY" $B $H1 $H2C $TLS $CLOSED \
	>"$CLIENT" 2>"$T/client.err"
is "$?" 0 "the client ran through the proxy"
[ -s "$T/client.err" ] && diag "$(head -n 20 "$T/client.err")"
# The client's own view first: 5 CONNECTs (4 accepted, 1 refused), 4 requests inside.
is "$(grep -c '"kind":"connect"' "$CLIENT")" 4 "client: 4 CONNECTs answered"
is "$(grep -c '"kind":"connect".*"status":200' "$CLIENT")" 3 "client: 3 tunnels opened with 200"
check "client: the CONNECT to port $CLOSED refused with 403" grep -q "\"authority\":\"$B:$CLOSED\",\"status\":403" "$CLIENT"
is "$(grep -c '"kind":"inner"' "$CLIENT")" 4 "client: 2 HTTP/1.1 and 2 h2c requests inside"
check "client: TLS inside a tunnel, answered 200" grep -q '"kind":"tls".*"status":200' "$CLIENT"
check "client: the extended CONNECT (websocket) echoed its frame" grep -q '"kind":"extended","status":200.*"echoed":true' "$CLIENT"

# Entries: a->p: 5 CONNECTs + 4 inside the cleartext tunnels + the TLS handshake inside the TLS
# one; p->b: the same 4 requests + the proxy's TLS handshake with s_server.
want=$((5 + 4 + 1 + 4 + 1))
entries_stop $want

checks "$PY" "$HERE/../lib/h2tunnel_check.py" "${ENTRIES_WINDOW[@]}" --entries "$OUT" \
	--client-log "$CLIENT" --proxy-log "$T/proxy.log" --client "$(pod_ns a)" --proxy "$(pod_ns p)" \
	--server "$(pod_ns b)" --proxy-port $PROXY --tls-port $TLS --want "$want"
x=${OUT%.json}

# tshark, on the same packets: the CONNECTs on the client's leg (HTTP/2 on the proxy's port),
# and on the proxy's leg the HTTP/1 and h2c requests floe found inside the tunnels.
entries_vs_read
check "floe read's summary: 3 tunnels dissected, 1 TLS" grep -q '(3 CONNECT tunnels dissected, 1 TLS)' "$x.read.log"
check "floe read's summary: 3 HTTP/2 tunnels, 1 extended CONNECT" \
	grep -qE 'http2\.tunnels 3,.*http2\.extended_connects 1' "$x.read.log"
fields=()
for f in $("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import h2tunnel_check; print(" ".join(h2tunnel_check.TSHARK_FIELDS))' "$HERE/../lib"); do
	fields+=(-e "$f")
done
tshark -r "$x.pcap" -d tcp.port==$PROXY,http2 -d tcp.port==$H2C,http2 \
	-Y 'http.request || http.response || http2.type == 1' -T fields -E occurrence=a \
	"${fields[@]}" >"$x.tshark.tsv" 2>"$x.tshark.err"
checks "$PY" "$HERE/../lib/h2tunnel_check.py" --entries "$OUT" --tshark "$x.tshark.tsv" \
	--proxy-port $PROXY --client "$(pod_ns a)" --proxy "$(pod_ns p)" --server "$(pod_ns b)"
[ -n "${V:-}" ] && diag "$(entries_diag "$OUT" 100)"

done_testing
