#!/usr/bin/env bash
# Integration: what goes through HTTP/1.1 CONNECT tunnels, through the real eBPF path. Pod p
# runs a real forward proxy (tinyproxy); pod b an HTTP/1.1 server (selftests/lib/httpd1.py) on
# 8080, nghttpd (h2c, prior knowledge) on 8081 and openssl s_server (TLS) on 8443. Pod a's curl
# goes through the proxy with --proxytunnel: HTTP/1.1 keep-alive (several transfers in one
# tunnel), a POST, h2c with prior knowledge, HTTPS, and CONNECTs the proxy refuses (a port it
# does not allow; then a plain proxied GET on the same tool). floe taps a, p and b: each CONNECT
# must be an entry with the target and status curl reports (%{http_connect}) and the tunnel's
# kind; each transfer inside one entry with the tunnel's id, curl's method, path and status;
# the proxy's own connections to b must give the same requests again as plain entries, matching
# the server's log. tshark on the exported PCAP must see the same CONNECTs and, dissecting the
# tunnels itself, the same HTTP/1 requests inside; `floe read` of it the same entries.
# Usage (root, from the repo root): bash selftests/integration/test_entries_tunnel.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.14.11 B=10.213.14.12 P=10.213.14.13
PROXY=3128 H1=8080 H2C=8081 TLS=8443 CLOSED=8099

need_cmd "tinyproxy, nghttpd, openssl and curl are installed" tinyproxy nghttpd openssl curl tshark ||
	done_testing
entries_pods $A $B
pod_add p $P || { not_ok "create pod p"; done_testing; }
printf '%s proxy\n' "$(pod_ns p)" >>"$INV"

# The proxy: CONNECT allowed to the three servers' ports only (RFC 9110 9.3.6 leaves the policy
# to the proxy; tinyproxy refuses others with 403).
cat >"$T/tinyproxy.conf" <<EOF
Port $PROXY
Listen $P
Timeout 30
MaxClients 16
LogLevel Info
PidFile "$T/tinyproxy.pid"
Allow 10.213.14.0/24
ConnectPort $H1
ConnectPort $H2C
ConnectPort $TLS
DisableViaHeader Yes
EOF
WWW=$T/www
mkdir -p "$WWW"
printf 'inside h2c, through the proxy\n' >"$WWW/h2.txt"
head -c 30000 /dev/urandom | base64 -w 76 >"$WWW/h2big.txt"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$B" -keyout "$T/key.pem" \
	-out "$T/cert.pem" >"$T/openssl-req.log" 2>&1

pod_bg b "$T/httpd.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' $B $H1 2>'$T/httpd.err'"
pod_bg b "$T/nghttpd.log" nghttpd --no-tls -d "$WWW" $H2C
pod_bg b "$T/s_server.log" openssl s_server -quiet -accept $TLS -www -cert "$T/cert.pem" -key "$T/key.pem"
pod_bg p "$T/tinyproxy.log" tinyproxy -d -c "$T/tinyproxy.conf"
if ! wait_tcp_listen b $H1 10 || ! wait_tcp_listen b $H2C 10 || ! wait_tcp_listen b $TLS 10 ||
	! wait_tcp_listen p $PROXY 10; then
	not_ok "the servers listen in b, the proxy in p"
	diag "$(cat "$T/httpd.err" "$T/nghttpd.log" "$T/s_server.log" "$T/tinyproxy.log")"
	done_testing
fi
ok "the servers listen in b, the proxy in p"

# --tls=false: the tunnels' TLS stays ciphertext (what tshark sees too); plaintext through
# uprobes is test_tls_openssl's
ENTRIES_PODS="a|b|p" entries_tap --tls=false

# c TAG CURL-ARGS...: one curl run in pod a through the proxy, its -v output and one
# "XFER TAG {json}" line per transfer appended to $CURLS.
CURLS=$T/curl.log
: >"$CURLS"
c() {
	local tag=$1
	shift
	echo "CURL $tag" >>"$CURLS"
	in_pod a curl -sS --max-time 10 -x "http://$P:$PROXY" -v -w "%{stderr}XFER $tag %{json}\n" \
		"$@" 2>>"$CURLS" >/dev/null
}
head -c 5000 /dev/urandom | base64 -w 76 >"$T/body.txt"

c h1-keepalive -p "http://$B:$H1/text?n=100&t=1" "http://$B:$H1/chunked?n=7000&parts=3&t=1" \
	"http://$B:$H1/gzip?n=3000&t=1" "http://$B:$H1/missing?t=1"
c h1-post -p --data-binary @"$T/body.txt" -H 'Content-Type: text/plain' "http://$B:$H1/echo?t=2"
c h2c -p --http2-prior-knowledge "http://$B:$H2C/h2.txt"
c h2c-big -p --http2-prior-knowledge "http://$B:$H2C/h2big.txt"
c tls -p -k "https://$B:$TLS/"
c refused -p "http://$B:$CLOSED/never"
c plain-proxy "http://$B:$H1/text?n=10&t=3"

# The clients' own view first: every tunnel opened but the refused one, every transfer answered.
is "$(grep -c '^XFER ' "$CURLS")" 10 "curl: 10 transfers"
# (%{http_connect} is the CONNECT's status on a connection's first transfer, 0 on the next.)
is "$(grep '^XFER ' "$CURLS" | grep -c '"http_connect":200')" 5 "curl: 5 tunnels accepted with 200"
is "$(grep '^XFER refused ' "$CURLS" | grep -o '"http_connect":[0-9]*')" '"http_connect":403' \
	"curl: the proxy refused the CONNECT to port $CLOSED with 403"
is "$(grep '^XFER h2c' "$CURLS" | grep -c '"http_version":"2"')" 2 "curl: h2c inside 2 tunnels"
check "curl: TLS inside the tunnel" grep -q '^\* SSL connection using' "$CURLS"

# Entries: a->p: 6 CONNECTs, 4+1+1+1 transfers in cleartext tunnels, the TLS one's handshake,
# 1 plain proxied GET; p->b: the same 4+1 HTTP/1 + 2 h2c + 1 plain requests + the proxy's TLS
# handshake with s_server.
want=$((6 + 7 + 1 + 1 + 7 + 1 + 1))
entries_stop $want

checks "$PY" "$HERE/../lib/tunnel_check.py" "${ENTRIES_WINDOW[@]}" --entries "$OUT" --curl "$CURLS" \
	--server-log "$T/httpd.log" --client "$(pod_ns a)" --proxy "$(pod_ns p)" --server "$(pod_ns b)" \
	--proxy-port $PROXY --tls-port $TLS --want "$want"

# tshark, on the same packets: the CONNECTs on the client's connections, and what went through
# the tunnels where the proxy relays it (HTTP/1; h2c with -d). http.desegment_body off, so
# tshark dissects each response at the end of its header: tinyproxy's 403 has no
# Content-Length (an HTML body to the close), and tshark 4.0.17 desegmenting bodies shows such
# a response only at the server's FIN. curl closes as soon as it has read the 403's header;
# when that close races the body, the connection can end with the client's RST and no FIN
# from tinyproxy, and tshark shows "HTTP/1.1 403 ... [TCP segment of a reassembled PDU]" with
# no http.response.code: the refused CONNECT with status None where curl and floe have 403
# (seen once on main). Reproduced on a run's exported PCAP with the server's last data segment
# and FIN removed (editcap), the client's RST kept: no 403 by default, 403 with this option.
# The statuses compared here do not depend on the bodies.
entries_vs_read
x=${OUT%.json}
check "floe read's summary: 5 tunnels dissected, 1 TLS" grep -q '(5 CONNECT tunnels dissected, 1 TLS)' "$x.read.log"
fields=()
for f in $("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import tunnel_check; print(" ".join(tunnel_check.TSHARK_FIELDS))' "$HERE/../lib"); do
	fields+=(-e "$f")
done
tshark -r "$x.pcap" -o http.desegment_body:FALSE -d tcp.port==$H2C,http2 \
	-Y 'http.request || http.response || http2.type == 1' -T fields "${fields[@]}" \
	>"$x.tshark.tsv" 2>"$x.tshark.err"
checks "$PY" "$HERE/../lib/tunnel_check.py" --entries "$OUT" --tshark "$x.tshark.tsv" \
	--proxy-port $PROXY --client "$(pod_ns a)" --proxy "$(pod_ns p)" --server "$(pod_ns b)"
[ -n "${V:-}" ] && diag "$(entries_diag "$OUT" 100)"

done_testing
