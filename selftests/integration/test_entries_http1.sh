#!/usr/bin/env bash
# Integration: HTTP/1.x entries through the real eBPF path. Pod a runs curl, pod b a real
# HTTP/1.0 + 1.1 server (selftests/lib/httpd1.py: keep-alive, chunked responses with trailers
# and slow chunks, gzip, POST with Content-Length or chunked bodies, 100-continue, 204/304,
# bodies delimited by the close, cookies, parallel connections; pipelined and dribbled requests
# from httpd1.py's raw client). floe taps both pods with
# --json; every entry it prints live is compared with curl's own view (-v request and status
# lines, --write-out %{json}: method, URL, code, sizes, local port) and the server's log (body
# sizes and sha256, bytes on the wire): each transfer exactly one entry, no extra entry, pods
# right in src/dst. Then `floe read` of the exported PCAP must give the same entries.
# Usage (root, from the repo root): bash selftests/integration/test_entries_http1.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.1.11 B=10.213.1.12 A6=fd00:f10e::1:11 B6=fd00:f10e::1:12
PORT=8080

need_cmd "curl is installed" curl || done_testing
entries_pods $A $B $A6 $B6

entries_httpd1 b $PORT

entries_tap

# c TAG CURL-ARGS...: one curl invocation in pod a, its -v output and one "XFER TAG {json}" line
# per transfer appended to $CURLS. Options after --next must repeat -v/-w: use W.
CURLS=$T/curl.log
: >"$CURLS"
W=(-v --no-progress-meter -w "%{stderr}XFER %TAG% %{json}\n")
c() {
	local tag=$1
	shift
	echo "CURL $tag${CURL_NOPAIR:+ nopair}" >>"$CURLS"
	in_pod a curl -sS --max-time 10 "${W[@]/\%TAG\%/$tag}" "$@" 2>>"$CURLS" >/dev/null
}
U=http://$B:$PORT

head -c 3000 /dev/urandom | base64 -w 76 >"$T/body.txt"
printf '{"user": "floe", "items": [1, 2, 3], "note": "caf\xc3\xa9"}' >"$T/body.json"
"$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import httpd1; sys.stdout.buffer.write(httpd1.body_text(20000))' \
	"$HERE/../lib" >"$T/big.txt"
head -c 5000 /dev/urandom >"$T/rand.bin"

start=$(date +%s%N)
c http10 --http1.0 "$U/text?n=300"
c http10-close-delimited --http1.0 "$U/text?n=5000&nolen=1"
c keepalive "$U/text?n=10" "$U/text?n=2000&x=1" "$U/chunked?n=7000&parts=4" "$U/gzip?n=20000"
c chunked-trailer "$U/chunked?n=100000&parts=10&trailer=1"
c post-form -d 'a=1&b=two words' "$U/upload"
c post-json --data-binary @"$T/body.json" -H 'Content-Type: application/json' "$U/echo"
c post-chunked -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' --data-binary @"$T/body.txt" "$U/echo"
c post-100-continue -H 'Expect: 100-continue' -H 'Content-Type: text/plain' --data-binary @"$T/big.txt" "$U/upload"
c post-binary -H 'Content-Type: application/octet-stream' --data-binary @"$T/rand.bin" "$U/echo"
c head -I "$U/text?n=1234" --next "${W[@]/\%TAG\%/get-after-head}" "$U/text?n=1234"
c not-found "$U/nothing/here?q=1"
c query-params "$U/text?n=64&name=J%C3%BCrgen+x&q=a%26b%3Dc&empty="
c gzip-compressed --compressed "$U/gzip?n=3000"
c ipv6 -g "http://[$B6]:$PORT/text?n=77"
c no-body-statuses "$U/status?code=204" "$U/status?code=304" "$U/text?n=33"
c http11-close-delimited "$U/text?n=3000&nolen=1"
c slow-chunked "$U/chunked?n=3000&parts=3&delay=0.4"
c cookies -b 'session=xyz; lang=en' "$U/text?n=20&setcookie=1"
c loop-keepalive "$U/text?n=[1-40]"
# Concurrent connections. (-v lines of parallel transfers interleave: "nopair" tells the
# checker not to pair them with the transfers.)
CURL_NOPAIR=1 c parallel --parallel --parallel-max 6 "$U/text?n=[2000-2029]"
for i in $(seq 1 10); do
	c loop-connections "$U/chunked?n=$((i * 100))&parts=$i"
done
# What curl does not do: requests pipelined in one write, and requests dribbled out a few bytes
# per TCP segment (httpd1.py's own client, which logs like curl).
raw_client() {
	echo "CURL $1 nopair" >>"$CURLS"
	in_pod a "$PY" "$HERE/../lib/httpd1.py" client $B $PORT "${@:2}" 2>>"$CURLS" >/dev/null
}
raw_client pipelined '/text?n=5' '/chunked?n=3000&parts=3' '/status?code=304' '/gzip?n=4000' '/text?n=7'
raw_client dribbled --dribble '/text?n=50' '/text?n=60&x=y'
diag "curl traffic took $((($(date +%s%N) - start) / 1000000)) ms"

nx=$(grep -c '^XFER ' "$CURLS")
is "$nx" 111 "curl and the raw client made 111 transfers"
is "$(grep '^XFER keepalive ' "$CURLS" | grep -o '"num_connects":[0-9]*' | cut -d: -f2 | tr '\n' ' ')" \
	"1 0 0 0 " "curl: keep-alive reused the connection (num_connects)"
is "$(grep -c '^< HTTP/1.1 100 Continue' "$CURLS")" 1 "curl -v saw one 100 Continue"
# httpd1.py logs a request after sending its response: its log is whole once it has closed
# every connection.
check "the server closed every connection (its log is complete)" wait_tcp_idle b $PORT 10
entries_stop $nx

checks "$PY" "$CHECK_PY" http1 "${ENTRIES_WINDOW[@]}" --entries "$OUT" --curl "$CURLS" --server "$T/httpd.log" \
	--client "$(pod_ns a)" --client-ns front --server-pod "$(pod_ns b)" --server-ns back --port $PORT
[ -n "${V:-}" ] && diag "$(entries_diag "$OUT" 200)"

entries_vs_read

done_testing
