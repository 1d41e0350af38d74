#!/usr/bin/env bash
# Benchmark: the cost of reading TLS in plaintext (docs/tls.md, "Cost"; docs/bench.md). Pods a
# (clients) and b (servers); in one run, ROUNDS times, interleaved, each load without floe, with
# `floe tap --json --tls=false` (packets only; nginx only) and with `floe tap --json` (uprobes
# read both ends):
#   nginx    h2load -n N -c 8 -m 10, HTTP/2 over TLS (OpenSSL on both ends), 1 KB responses:
#            requests/s, and p50/p99 of the requests' latency (h2load's --log-file, per request)
#   go       a Go net/http HTTPS server and client (selftests/integration/gotls server,
#            selftests/bench/gotlsload, both standard library, built with /usr/local/go): HTTP/2,
#            8 goroutines, N/2 GETs: requests/s, p50/p99
#   calls    build/bench/ssl_calls in pod a: SSL_write in a tight loop to an SSL_read thread
#            over TCP on pod a's own address (100-byte writes, each copied by floe): wall and
#            CPU microseconds per SSL call
#   sys      dd on the node (an untapped process, no TLS): 1-byte reads and writes, 400000
#            syscalls: microseconds per syscall (what floe's syscall tracepoints cost every
#            process)
# and floe's own CPU seconds. Medians of the rounds at the end, with the overhead in percent.
# FLOE_BASE=path/to/another/build/floe adds, in each round, the same loads under that floe
# (label tls-base): an older build against this one in the same run.
# Not pass/fail.
# BENCH_TLS_RPS=R runs the nginx and Go loads at a fixed rate (below).
# Usage (root, from the repo root): bash selftests/bench/tls.sh [REQUESTS] [ROUNDS]

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=900 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
source "$HERE/../bench/nginx_conf.sh"

N=${1:-20000} ROUNDS=${2:-3}
# BENCH_TLS_RPS=R: nginx's and the Go pair's loads at a fixed R requests/s (h2load --rps, R/8
# per client; gotlsload's RATE, latency counted from each request's due time) instead
# of as fast as it goes: latency at a rate the machine sustains with and without floe, not
# throughput under saturation (where any CPU floe takes shows as queueing).
RPS=${BENCH_TLS_RPS:-}
CALLS=${CALLS:-20000}
T=$PODS_TMP
A=10.213.18.11 B=10.213.18.12 NPORT=8443 GPORT=9443
ROOT=$(cd "$HERE/../.." && pwd)
GO=${GO:-/usr/local/go/bin/go}
GOBIN=$ROOT/build/gotls
SSL_CALLS=$ROOT/build/bench/ssl_calls

need_cmd "nginx, h2load, openssl" nginx h2load openssl || done_testing
# nginx, h2load and ssl_calls run on private copies of OpenSSL's libraries: uprobes sit on a
# file for every process, so another floe on the machine (other jobs' tests) probing the
# system's libssl would charge its probes to the runs "without floe" here.
LIBDIR=${LIBDIR:-/usr/lib/x86_64-linux-gnu}
mkdir -p "$T/lib"
cp "$LIBDIR/libssl.so.3" "$LIBDIR/libcrypto.so.3" "$T/lib/" || { not_ok "copy libssl"; done_testing; }
PRIV="env LD_LIBRARY_PATH=$T/lib"
entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
mkdir -p "$T/www"
head -c 1000 /dev/zero | tr '\0' x >"$T/www/1k.txt"
nginx_conf "$T/nginx.conf" "$T" "$B:$NPORT ssl http2" "$T/www" 1024 "" on "$T/cert.pem" "$T/key.pem"
pod_bg b "$T/nginx.log" $PRIV nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
wait_tcp_listen b $NPORT 10 || { not_ok "nginx listens"; done_testing; }
check "nginx maps the private libssl" grep -q "$T/lib/libssl.so.3" /proc/"$(cat "$T/nginx/nginx.pid")"/maps

# The Go pair, cached in build/gotls (as test_tls_go.sh builds the server).
go_build() { # SRC OUT
	[ -x "$2" ] && [ "$2" -nt "$1/main.go" ] && return 0
	(cd "$1" && GOFLAGS=-mod=mod GOCACHE=$GOBIN/cache GOPATH=$GOBIN/gopath \
		timeout 400 "$GO" build -o "$2" .) >>"$T/gobuild.log" 2>&1
}
mkdir -p "$GOBIN"
HAVE_GO=
if [ -x "$GO" ] && go_build "$HERE/../integration/gotls" "$GOBIN/gotls" &&
	go_build "$HERE/gotlsload" "$GOBIN/gotlsload"; then
	pod_bg b "$T/goserver.log" "$GOBIN/gotls" server "$B:$GPORT" "$T/cert.pem" "$T/key.pem"
	wait_tcp_listen b $GPORT 10 && HAVE_GO=1
fi
[ -n "$HAVE_GO" ] || skip "the Go pair" "no Go toolchain at $GO or the build failed: $(tail -n 3 "$T/gobuild.log" 2>/dev/null)"

# percentiles FILE: "p50 p99" in ms of the microsecond values of FILE (one a line).
percentiles() {
	sort -n "$1" | awk '{ a[NR] = $1 } END { if (!NR) { print "- -"; exit }
		printf "%.3f %.3f\n", a[int(0.50 * (NR - 1)) + 1] / 1000, a[int(0.99 * (NR - 1)) + 1] / 1000 }'
}

# nginx LABEL: one h2load run; appends "nginx LABEL req/s p50_ms p99_ms succeeded" to results
nginx_load() {
	rm -f "$T/h2load.log" # h2load appends
	in_pod a $PRIV h2load -n "$N" -c 8 -m 10 ${RPS:+--rps=$((RPS / 8))} --log-file="$T/h2load.log" \
		"https://$B:$NPORT/1k.txt" >"$T/h2load.out" 2>&1
	awk -F'\t' '$2 == 200 { print $3 }' "$T/h2load.log" >"$T/h2load.us"
	local rps ok
	rps=$(awk '/finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) print $(i - 1) }' "$T/h2load.out")
	ok=$(wc -l <"$T/h2load.us")
	echo "nginx $1 ${rps:--} $(percentiles "$T/h2load.us") $ok" >>"$T/results"
}

# go LABEL: one gotlsload run: "go LABEL req/s p50_ms p99_ms succeeded"
go_load() {
	[ -n "$HAVE_GO" ] || return 0
	local out n=$((N / 2))
	out=$(in_pod a "$GOBIN/gotlsload" "https://$B:$GPORT/r/1" h2 8 $n $RPS 2>"$T/gotlsload.err")
	sed -n 's/^rps=\([0-9.]*\) p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\) failed=\([0-9]*\)$/\1 \2 \3 \4/p' <<<"$out" |
		awk -v l="$1" -v n=$n '{ print "go", l, $1, $2, $3, n - $4 }' >>"$T/results"
}

# calls LABEL: "calls LABEL wall_us cpu_us calls" (the cost of one SSL call)
calls_load() {
	local out
	out=$(in_pod a $PRIV "$SSL_CALLS" "$T/cert.pem" "$T/key.pem" "$CALLS" 100 "$A" 2>"$T/ssl_calls.err")
	sed -n 's/^calls=\([0-9]*\) wall_us_per_call=\([0-9.]*\) cpu_us_per_call=\([0-9.]*\)$/\2 \3 \1/p' <<<"$out" |
		awk -v l="$1" '{ print "calls", l, $1, $2, $3 }' >>"$T/results"
}

# sys LABEL: "sys LABEL us_per_syscall - - -" (dd: 200000 reads and as many writes)
sys_load() {
	local t0 t1
	t0=$(date +%s%N)
	dd if=/dev/zero of=/dev/null bs=1 count=200000 status=none
	t1=$(date +%s%N)
	echo "sys $1 $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1000 / 400000 }') - - -" >>"$T/results"
}

: >"$T/results"
for r in $(seq 1 "$ROUNDS"); do
	diag "round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)"
	nginx_load none
	go_load none
	calls_load none
	sys_load none
	OUT=$T/notls.$r.json entries_tap --tls=false >/dev/null
	nginx_load "tls=false"
	floe_stop
	OUT=$T/tls.$r.json entries_tap >/dev/null
	nginx_load tls
	go_load tls
	calls_load tls
	sys_load tls
	floe_stop
	if [ -n "${FLOE_BASE:-}" ]; then
		FLOE=$FLOE_BASE OUT=$T/base.$r.json entries_tap >/dev/null
		nginx_load tls-base
		go_load tls-base
		calls_load tls-base
		sys_load tls-base
		floe_stop
	fi
	diag "round $r: floe cpu_s --tls=false $(jq -r .cpu_s "$T/notls.$r.stats.json"), --tls $(jq -r .cpu_s "$T/tls.$r.stats.json") ($(jq -r .dissect_entries "$T/tls.$r.stats.json") entries, $(jq -r .tls_records "$T/tls.$r.stats.json") plaintext records)"
done
diag "$(printf '%-6s %-10s %10s %10s %10s %10s' load run req/s p50_ms p99_ms succeeded)"
while read -r l; do diag "$(printf '%-6s %-10s %10s %10s %10s %10s' $l)"; done <"$T/results"
# med LOAD LABEL COLUMN: the median of the rounds
med() { awk -v a="$1" -v b="$2" '$1 == a && $2 == b { print $'"$3"' }' "$T/results" | sort -g |
	awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }
pct() { awk -v x="$1" -v y="$2" 'BEGIN { if (x + 0 > 0 && y != "-") printf "%+.1f %%", (y - x) * 100 / x; else print "-" }'; }
for load in nginx go; do
	for l in none tls=false tls tls-base; do
		[ "$(med $load "$l" 3)" = - ] && continue
		diag "$(printf 'median %-6s %-10s %8s req/s  p50 %7s ms  p99 %7s ms' $load "$l" \
			"$(med $load "$l" 3)" "$(med $load "$l" 4)" "$(med $load "$l" 5)")"
	done
	[ "$(med $load tls 5)" = - ] && continue
	for l in tls tls-base; do
		[ "$(med $load $l 5)" = - ] && continue
		diag "$(printf '%-6s with floe reading TLS (%s): req/s %s, p50 %s, p99 %s' $load $l \
			"$(pct "$(med $load none 3)" "$(med $load $l 3)")" \
			"$(pct "$(med $load none 4)" "$(med $load $l 4)")" \
			"$(pct "$(med $load none 5)" "$(med $load $l 5)")")"
	done
done
diag "$(printf 'median SSL call: without floe %s us wall, %s us CPU; with floe %s us wall, %s us CPU' \
	"$(med calls none 3)" "$(med calls none 4)" "$(med calls tls 3)" "$(med calls tls 4)")"
diag "$(awk -v a="$(med calls none 4)" -v b="$(med calls tls 4)" 'BEGIN {
	if (a != "-" && b != "-") printf "cost per SSL call (CPU, 100-byte calls): %.2f us", b - a }')"
diag "$(printf 'median SSL call with floe %s (tls-base): %s us wall, %s us CPU' \
	"${FLOE_BASE:-}" "$(med calls tls-base 3)" "$(med calls tls-base 4)")"
diag "$(printf 'median syscall of an untapped process (dd): without floe %s us, with floe %s us, tls-base %s us' \
	"$(med sys none 3)" "$(med sys tls 3)" "$(med sys tls-base 3)")"
diag "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
ok "benchmark ran ($ROUNDS rounds of $N requests)"
done_testing
