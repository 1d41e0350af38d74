#!/usr/bin/env bash
# Integration: TLS plaintext through the real uprobes on OpenSSL (docs/tls.md). Pods a
# (client, namespace "front") and b (server, "back"):
#   1. b runs `openssl s_server -www` (started before floe); curl in a (also OpenSSL, Debian's
#      libssl3) makes HTTP/1.1 GETs over TLS. Each request curl reports (-w: status, bytes,
#      local port; --trace-ascii: the request line and headers it sent) must be exactly one
#      entry with "tls": true, process "curl" and its pid, the real endpoints, and the body
#      curl received. s_server -www does its TLS I/O through an SSL BIO, which calls
#      OpenSSL's internal read/write functions, not SSL_read/SSL_write: its side is not
#      seen (docs/tls.md, "Where floe is blind"), so exactly one entry per request.
#   2. nginx with TLS (a process started after floe: found through the exec tracepoint)
#      and curl --http2: HTTP/2 entries over TLS with the stream, :path and status curl saw,
#      one from each side (curl's and nginx's).
#   3. Python's ssl module as the client against nginx (HTTP/1.1): one entry from each side.
#   4. --tls=false: the same curl gives no entry (ciphertext only), and the TLS counters stay 0.
# The ciphertext packets stay in the PCAP store (exported, tshark sees TLS records there) and
# no entry comes from them.
# Usage (root, from the repo root): bash selftests/integration/test_tls_openssl.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
source "$HERE/../bench/nginx_conf.sh"

T=$PODS_TMP
A=10.213.17.11 B=10.213.17.12
SPORT=4433 NPORT=8443

need_cmd "openssl, curl, nginx, jq are installed" openssl curl nginx jq || done_testing
entries_pods $A $B
complete() { entries_complete "$OUT"; }
wait_sel() { entries_wait_sel "$OUT" "$@"; }

# A self-signed certificate for b.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; diag "$(cat "$T/req.log")"; done_testing; }

pod_bg b "$T/s_server.log" openssl s_server -www -accept $SPORT -cert "$T/cert.pem" -key "$T/key.pem"
if ! wait_tcp_listen b $SPORT 10; then
	not_ok "openssl s_server listens in b"
	diag "$(cat "$T/s_server.log")"
	done_testing
fi
ok "openssl s_server listens in b (started before floe)"

entries_tap
check "floe hooked Debian's libssl" grep -q "floe: tls: hooked .*libssl.so" "${OUT%.json}.floe.log"

# ---------------------------------------------------------------- 1. curl -> s_server
CURL_N=3
: >"$T/curl.w"
for i in $(seq 1 $CURL_N); do
	in_pod a curl -sk --http1.1 -o "$T/body.$i" --trace-ascii "$T/trace.$i" \
		-H "X-Floe-Test: run-$i" \
		-w '%{http_code} %{size_download} %{local_port} %{remote_ip}\n' \
		"https://$B:$SPORT/r$i" >>"$T/curl.w" 2>"$T/curl.err" ||
		diag "curl $i: $(cat "$T/curl.err")"
done
is "$(wc -l <"$T/curl.w")" $CURL_N "curl made $CURL_N HTTPS requests"
wait_sel '.tls == true and (.request.url // "" | test("^/r[0-9]+$"))' $CURL_N 15 ||
	diag "only $(grep -c . "$OUT") entries"

i=0
while read -r code size lport rip; do
	i=$((i + 1))
	url=/r$i
	# What curl says it sent: the request line and our header (--trace-ascii).
	sent_line=$(grep -a -m1 "^0000: GET " "$T/trace.$i" | sed 's/^0000: //')
	is "$sent_line" "GET $url HTTP/1.1" "curl $i sent 'GET $url HTTP/1.1' (trace)"
	sel=".tls == true and .request.url == \"$url\""
	n=$(complete | jq -c "select($sel)" | wc -l)
	is "$n" 1 "request $i: one TLS entry (curl's side)"
	for proc in curl; do
		e=$(complete | jq -c "select($sel and .process == \"$proc\")" | head -n 1)
		if [ -z "$e" ]; then
			not_ok "request $i: an entry from $proc"
			continue
		fi
		is "$(jq -r '.protocol + " " + .version' <<<"$e")" "http 1.1" "request $i ($proc): HTTP/1.1"
		is "$(jq -r '.response.status' <<<"$e")" "$code" "request $i ($proc): status $code as curl saw"
		is "$(jq -r '.src.ip + ":" + (.src.port|tostring)' <<<"$e")" "$A:$lport" \
			"request $i ($proc): client $A:$lport (curl's local port)"
		is "$(jq -r '.dst.ip + ":" + (.dst.port|tostring)' <<<"$e")" "$rip:$SPORT" \
			"request $i ($proc): server $rip:$SPORT"
		is "$(jq -r '.request.headers["x-floe-test"] // .request.headers["X-Floe-Test"] // empty' <<<"$e")" \
			"run-$i" "request $i ($proc): the header curl sent"
		is "$(jq -r '.response.body.size' <<<"$e")" "$size" "request $i ($proc): body of $size bytes as curl got"
		is_num "$(jq -r '.pid' <<<"$e")" -gt 0 "request $i ($proc): a pid"
		is "$(jq -r '.src.pod + " " + .dst.pod' <<<"$e")" "$(pod_ns a) $(pod_ns b)" \
			"request $i ($proc): pod names of both ends"
	done
	# The body floe kept is what curl wrote to its file (s_server -www: a text page).
	e=$(complete | jq -c "select($sel and .process == \"curl\")" | head -n 1)
	if [ -n "$e" ] && cmp -s <(jq -j '.response.body.text' <<<"$e") "$T/body.$i"; then
		ok "request $i: the response body in the entry is the one curl received"
	else
		not_ok "request $i: the response body in the entry is the one curl received"
	fi
done <"$T/curl.w"

# ---------------------------------------------------------------- 2. nginx (after floe), h2
mkdir -p "$T/www"
echo "floe tls index" >"$T/www/index.html"
head -c 50000 /dev/urandom | base64 -w 0 >"$T/www/big.txt"
nginx_conf "$T/nginx.conf" "$T" "$B:$NPORT ssl http2" "$T/www" 1024 "" on "$T/cert.pem" "$T/key.pem"
pod_bg b "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
if ! wait_tcp_listen b $NPORT 10; then
	not_ok "nginx listens in b"
	diag "$(cat "$T/nginx.log" "$T/nginx/error.log" 2>/dev/null)"
else
	ok "nginx (started after floe) listens in b"
	before=$(wc -l <"$OUT")
	in_pod a curl -sk --http2 -o /dev/null -o /dev/null \
		-w '%{http_version} %{http_code} %{size_download}\n' \
		"https://$B:$NPORT/index.html" "https://$B:$NPORT/big.txt" >"$T/curl2.w" 2>"$T/curl2.err" ||
		diag "curl --http2: $(cat "$T/curl2.err")"
	diag "curl --http2: $(tr '\n' ';' <"$T/curl2.w")"
	wait_sel '.tls == true and .version == "2" and (.process == "curl" or .process == "nginx") and
		(.request.url == "/index.html" or .request.url == "/big.txt")' 4 15 ||
		diag "h2: only $(($(grep -c . "$OUT") - before)) new entries"
	for path in /index.html /big.txt; do
		read -r ver code size < <(if [ $path = /index.html ]; then sed -n 1p "$T/curl2.w"; else sed -n 2p "$T/curl2.w"; fi)
		for proc in curl nginx; do
			e=$(complete | jq -c "select(.tls == true and .process == \"$proc\" and .request.url == \"$path\")" | head -n 1)
			if [ -z "$e" ]; then
				not_ok "h2 $path: an entry from $proc"
				continue
			fi
			is "$(jq -r '.protocol + " " + .version' <<<"$e")" "http 2" "h2 $path ($proc): HTTP/2 (curl: $ver)"
			is "$(jq -r '.response.status' <<<"$e")" "$code" "h2 $path ($proc): status $code"
			is "$(jq -r '.response.body.size' <<<"$e")" "$size" "h2 $path ($proc): $size body bytes"
			is_num "$(jq -r '.stream_id' <<<"$e")" -gt 0 "h2 $path ($proc): a stream id"
		done
	done

	# ------------------------------------------------------------ 3. Python's ssl client
	if [ -x "$PY" ]; then
		before=$(wc -l <"$OUT")
		in_pod a "$PY" - "$B" $NPORT >"$T/py.log" 2>&1 <<'EOF'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    with ctx.wrap_socket(s) as t:
        t.sendall(b"GET /index.html HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = t.recv(65536)
            if not chunk:
                break
            data += chunk
print(data.split(b"\r\n", 1)[0].decode())
EOF
		diag "python: $(head -n 1 "$T/py.log")"
		for proc in python nginx; do
			sel=".tls == true and (.process | test(\"$proc\")) and .version == \"1.1\" and .request.url == \"/index.html\""
			# Each side's entry is its own: wait for the one looked for (a loaded machine
			# may deliver python's side after nginx's), bounded.
			end=$(($(date +%s) + 15))
			until e=$(complete | jq -c "select($sel)" | head -n 1); [ -n "$e" ] || [ "$(date +%s)" -ge "$end" ]; do
				sleep 0.2
			done
			if [ -n "$e" ]; then
				is "$(jq -r '.response.status|tostring' <<<"$e")" "200" \
					"python ssl client: an HTTP/1.1 200 entry from $proc's side"
			else
				not_ok "python ssl client: an entry from $proc's side"
				diag "TLS entries after the h2 part (process, version, url, status):"
				diag "$(tail -n +"$((before + 1))" "$OUT" | jq -c '[.process, .pid, .version, .request.url, .response.status, .tls, .src.port, .dst.port]' 2>&1)"
				diag "$(grep 'floe: tls' "${OUT%.json}.floe.log")"
			fi
		done
	fi
fi

entries_stop $((CURL_N + 4 + 2))
x=${OUT%.json}
is "$(jq -r '.tls_libs_failed' "$x.stats.json")" 0 "no library failed to be hooked"
# The uprobes went on as uprobe_multi links (auto, Linux >= 6.6) or perf uprobes (forced:
# FLOE_TLS_ATTACH=perf, the *_perf.sh run of this test): the entries above held either way.
is "$(jq -r '.tls_attach_multi' "$x.stats.json")" "$(tls_attach_expect)" \
	"tls_attach_multi (--tls-attach ${FLOE_TLS_ATTACH:-auto})"
check "tls records counted" test "$(jq -r '.tls_records' "$x.stats.json")" -gt 0
diag "$(grep -E '^  tls:' "$x.floe.log")"
# No entry without "tls" for these pods but the handshakes' own (protocol tls,
# docs/tls-handshake.md): the ciphertext packets give no garbled HTTP entry.
is "$(jq -c 'select(.tls != true and .protocol != "tls")' "$OUT" | wc -l)" 0 \
	"no entry from the ciphertext packets but the handshake entries"
# The ciphertext is in the store as captured.
on_node "$FLOE" pcap export -o "$x.pcap" --store "$x.store" >/dev/null 2>&1
n=$(tshark -r "$x.pcap" -d tcp.port==$SPORT,tls -Y "tls.app_data && tcp.port == $SPORT" 2>/dev/null | wc -l)
check "the store holds the TLS application data records of s_server's connections ($n)" test "$n" -gt 0

# ---------------------------------------------------------------- 4. --tls=false
OUT=$T/notls.json entries_tap --tls=false
in_pod a curl -sk --http1.1 -o /dev/null "https://$B:$SPORT/off" 2>/dev/null
sleep 1
floe_stop
is "$?" 0 "floe --tls=false exits 0"
is "$(jq -c 'select(.protocol != "tls")' "$T/notls.json" | wc -l)" 0 \
	"--tls=false: no entry but the handshake's (protocol tls)"
check "--tls=false: the handshake entry is there" \
	test "$(jq -c 'select(.protocol == "tls")' "$T/notls.json" | wc -l)" -ge 1
is "$(jq -r '.tls_records' "$T/notls.stats.json")" 0 "--tls=false: no TLS record"
check_not "--tls=false: no library hooked" grep -q "floe: tls: hooked" "$T/notls.floe.log"

# ---------------------------------------------------------------- 5. where the probes sit
# Debian's SSL_read and SSL_write start with an instruction the kernel single-steps; by default
# floe probes them where it emulates the instruction (docs/tls.md, "Where the probes sit"),
# with --tls-probe-sites first at their first instruction. Both must read the same request.
for sites in first cheap; do
	OUT=$T/sites-$sites.json
	entries_tap --tls-probe-sites "$sites"
	in_pod a curl -sk --http1.1 -o /dev/null "https://$B:$SPORT/sites-$sites" 2>/dev/null
	end=$(($(date +%s) + 15))
	until jq -e "select(.tls == true and .request.url == \"/sites-$sites\")" "$OUT" \
		>/dev/null 2>&1 || [ "$(date +%s)" -ge "$end" ]; do
		sleep 0.2
	done
	floe_stop
	# (s_server's side gives no entry: section 1)
	is "$(jq -r "select(.tls == true and .request.url == \"/sites-$sites\" and .process == \"curl\") | .response.status" "$OUT" | head -n 1)" \
		200 "--tls-probe-sites $sites: curl's request and its 200" ||
		diag "$(jq -c '[.process, .protocol, .request.url, .response.status, .tls]' "$OUT" 2>&1 | head)"
done
first_step=$(jq -r .tls_probe_sites_stepped "$T/sites-first.stats.json")
cheap_step=$(jq -r .tls_probe_sites_stepped "$T/sites-cheap.stats.json")
cheap_emu=$(jq -r .tls_probe_sites_emulated "$T/sites-cheap.stats.json")
diag "probe sites single-stepped: first $first_step, cheap $cheap_step (emulated $cheap_emu)"
check "fewer single-stepped probe sites by default ($cheap_step) than at first instructions ($first_step)" \
	test "$cheap_step" -lt "$first_step"
check "SSL_read's and SSL_write's return sites are emulated ($cheap_emu sites)" test "$cheap_emu" -ge 4

done_testing
