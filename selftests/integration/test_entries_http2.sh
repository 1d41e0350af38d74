#!/usr/bin/env bash
# Integration: HTTP/2 (h2c) entries through the real eBPF path. Pod b serves with nghttpd
# (prior knowledge, static files, POST echo) on 8080 and nghttpx on 8081 (h2c Upgrade from
# HTTP/1.1, proxying to selftests/lib/httpd1.py on b's loopback). Pod a runs nghttp -v (several
# URLs at once: concurrent streams; a POST bigger than the flow-control windows; a page with
# two server pushes), nghttp -u (Upgrade), curl --http2-prior-knowledge and
# --http2, and a bounded h2load run. Each request the clients report (stream id, method,
# :path, status, DATA and header frame bytes, headers) must be exactly one entry with those
# values, bodies equal to the files served; h2load's succeeded requests == its entries.
# Usage (root, from the repo root): bash selftests/integration/test_entries_http2.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.2.11 B=10.213.2.12 A6=fd00:f10e::2:11 B6=fd00:f10e::2:12
PORT=8080 UPORT=8081 BACKEND=8089
H2LOAD_N=200 H2LOAD_C=4 H2LOAD_M=8

need_cmd "nghttp2 tools are installed" nghttpd nghttp h2load nghttpx curl || done_testing
entries_pods $A $B $A6 $B6

WWW=$T/www
mkdir -p "$WWW"
echo '<html><body>floe h2 index</body></html>' >"$WWW/index.html"
for f in a b c; do
	printf 'file %s\n' "$f" >"$WWW/$f.txt"
done
head -c 100 /dev/zero | tr '\0' x >"$WWW/h2load.txt"
head -c 100000 /dev/urandom >"$WWW/big.bin"
echo '<html><body>with pushes</body></html>' >"$WWW/push.html"
echo 'pushed a' >"$WWW/pushed-a.txt"
echo 'pushed b' >"$WWW/pushed-b.txt"
head -c 200000 /dev/urandom >"$T/post.bin"
printf '{"user": "floe", "items": [1, 2, 3]}' >"$T/post.json"
head -c 15000 /dev/urandom | base64 -w 0 >"$T/post.txt"

pod_bg b "$T/nghttpd.log" nghttpd --no-tls --echo-upload -d "$WWW" -p/push.html=/pushed-a.txt,/pushed-b.txt $PORT
pod_bg b "$T/httpd.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' 127.0.0.1 $BACKEND 2>'$T/httpd.err'"
pod_bg b "$T/nghttpx.log" nghttpx --conf=/dev/null --single-process --workers=1 \
	"--frontend=*,$UPORT;no-tls" "--backend=127.0.0.1,$BACKEND" --errorlog-file=/dev/stderr
if ! wait_tcp_listen b $PORT 10 || ! wait_tcp_listen b $UPORT 10 || ! wait_tcp_listen b $BACKEND 10; then
	not_ok "nghttpd, nghttpx and the backend listen in b"
	diag "$(cat "$T/nghttpd.log" "$T/nghttpx.log" "$T/httpd.err")"
	done_testing
fi
ok "nghttpd, nghttpx and the backend listen in b"

entries_tap

# n TAG PORT NGHTTP-ARGS...: one nghttp -v run in pod a, logged after "NGHTTP TAG PORT".
NG=$T/nghttp.log
: >"$NG"
n() {
	local tag=$1 port=$2 rc=0
	shift 2
	echo "NGHTTP $tag $port" >>"$NG"
	in_pod a timeout 10 nghttp -v -n "$@" >>"$NG" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || diag "nghttp $tag exited $rc"
}
CURLS=$T/curl.log
: >"$CURLS"
c() {
	local tag=$1 port=$2
	shift 2
	echo "CURL $tag $port" >>"$CURLS"
	in_pod a curl -sS --max-time 10 -v -w "%{stderr}XFER $tag %{json}\n" "$@" 2>>"$CURLS" >/dev/null
}
U=http://$B:$PORT UU=http://$B:$UPORT

start=$(date +%s%N)
n concurrent-streams $PORT "$U/a.txt?i=1" "$U/b.txt?i=1" "$U/c.txt?i=1" "$U/index.html?i=1" \
	"$U/big.bin?i=1" "$U/missing?i=1"
n post-json $PORT -d "$T/post.json" -H 'content-type: application/json' "$U/echo?i=2"
n post-multi-data-frames $PORT -d "$T/post.txt" -H 'content-type: text/plain' "$U/echo?i=3"
n post-flow-control $PORT -d "$T/post.bin" "$U/echo?i=8" # > the 64 KiB initial windows
n server-push $PORT "$U/push.html"
n upgrade $UPORT -u "$UU/text?n=100&i=4" "$UU/chunked?n=5000&parts=3&i=4" "$UU/text?n=70000&i=4"
n ipv6 $PORT "http://[$B6]:$PORT/a.txt?i=5"
# (curl 7.88's prior knowledge fails on a second request over the same connection, "Error in
# the HTTP2 framing layer", whatever the server: one URL per run.)
c curl-prior-knowledge $PORT --http2-prior-knowledge "$U/a.txt?i=6"
c curl-prior-knowledge-big $PORT --http2-prior-knowledge "$U/big.bin?i=6"
c curl-upgrade $UPORT --http2 "$UU/text?n=50&i=7" "$UU/gzip?n=3000&i=7"
in_pod a timeout 30 h2load -n $H2LOAD_N -c $H2LOAD_C -m $H2LOAD_M "$U/h2load.txt?h2load" >"$T/h2load.log" 2>&1
diag "traffic took $((($(date +%s%N) - start) / 1000000)) ms; h2load:" \
	"$(grep -E '^(requests|status codes|traffic):' "$T/h2load.log")"

# The clients' own view first.
is "$(grep -c 'recv (stream_id=[0-9]*) :status: ' "$NG")" 16 "nghttp -v: 16 responses"
is "$(grep -c 'recv PUSH_PROMISE frame' "$NG")" 2 "nghttp -v: 2 pushes promised"
is "$(grep -c '^HTTP/1.1 101 Switching Protocols' "$NG")" 1 "nghttp -u: the server switched to h2c"
is "$(grep -c '"http_version":"2"' "$CURLS")" 4 "curl: 4 transfers over HTTP/2"
check "curl --http2: upgraded with 101" grep -q '^< HTTP/1.1 101' "$CURLS"
check "h2load: all $H2LOAD_N requests succeeded" \
	grep -q "^requests: $H2LOAD_N total, $H2LOAD_N started, $H2LOAD_N done, $H2LOAD_N succeeded" "$T/h2load.log"

want=$((16 + 4 + H2LOAD_N))
entries_stop $want
is "$(grep -c . "$OUT")" $want "floe printed $want entries"

checks "$PY" "$CHECK_PY" http2 "${ENTRIES_WINDOW[@]}" --entries "$OUT" --nghttp "$NG" --curl "$CURLS" --htdocs "$WWW" \
	--h2load-log "$T/h2load.log" --h2load-url "/h2load.txt?h2load" --h2load-clients $H2LOAD_C \
	--client "$(pod_ns a)" --client-ns front --server-pod "$(pod_ns b)" --server-ns back
entries_vs_read
[ -n "${V:-}" ] && diag "$(entries_diag "$OUT" 100)"

done_testing
