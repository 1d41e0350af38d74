#!/usr/bin/env bash
# Benchmark: what attaching and removing the uprobes of many hooked files costs, perf-event
# uprobes (one per probe point) against uprobe_multi links (one per program of a file), in one
# run (--tls-attach, docs/tls.md "How probes are attached"). Per mode: floe taps pods a and b;
# the Go program build/gotls/gotls serves in b; K copies of it (new files: each is hooked anew,
# about 30 probe points each) run once each as a client in a, and floe hooks each (its log's
# "hooked" line, 10 s at most each). Then floe gets SIGINT: the time to its exit is the stop
# figure (bounded: killed after STOP_MAX s, said so). The attach figure is tls_attach_us /
# tls_attaches of its --stats-json (the time floe spent in the attaches, per file).
# HOGS=N runs N CPU hogs (`yes`, bounded by HOG_SECONDS) through each mode, from before floe
# starts to its exit. Not pass/fail. One line per mode.
#   K (default 25), HOGS (default 0), HOG_SECONDS (default 180), STOP_MAX (default 120),
#   MODES (default "perf multi")
# Usage (root, from the repo root, under flock /tmp/floe-itest.lock):
#   K=25 HOGS=2 bash selftests/bench/tls_stop.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=1500 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
T=$PODS_TMP
A=10.213.29.11 B=10.213.29.12
PORT=8443
BIN=$(floe_root)/build/gotls/gotls
K=${K:-25}
HOGS=${HOGS:-0}
STOP_MAX=${STOP_MAX:-120}
[ -x "$BIN" ] || { echo "no $BIN: run selftests/integration/test_tls_go.sh once (it builds it)"; exit 1; }
entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" -keyout "$T/key.pem" \
	-out "$T/cert.pem" >/dev/null 2>&1
pod_bg b "$T/server.log" "$BIN" server "$B:$PORT" "$T/cert.pem" "$T/key.pem"
wait_tcp_listen b $PORT 10 || { echo "server failed"; exit 1; }

run() {
	local mode=$1 hooked=0 k hogs=() pid t0 t1 i x stop
	for ((i = 0; i < HOGS; i++)); do
		timeout "${HOG_SECONDS:-180}" sh -c 'yes >/dev/null' &
		hogs+=($!)
	done
	OUT=$T/$mode.json
	x=$T/$mode
	# Files without a user stay hooked (the clients are short): all K are there at the stop.
	entries_tap --tls-attach "$mode" --tls-unprobe-after 3600 >/dev/null
	for ((k = 1; k <= K; k++)); do
		cp "$BIN" "$T/gotls-$mode$k"
		in_pod a "$T/gotls-$mode$k" client "https://$B:$PORT" h1 1 "$T/$mode$k.log" 2>/dev/null
		wait_for_line "$x.floe.log" "hooked $T/gotls-$mode$k " 10 && hooked=$((hooked + 1))
	done
	pid=$FLOE_PID
	FLOE_PID=
	t0=$(date +%s%N)
	kill -INT "$pid"
	for ((i = 0; i < STOP_MAX * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	t1=$(date +%s%N)
	stop=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	if kill -0 "$pid" 2>/dev/null; then
		stop=">$STOP_MAX (killed)"
		kill -KILL "$pid"
	fi
	wait "$pid" 2>/dev/null
	# (a bare `wait` would wait for the server too)
	for pid in "${hogs[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	printf '%-5s hogs %d: %d/%d files hooked, tls_probes %s, tls_attach_multi %s, attach %s us per file, stop %s s, load %s\n' \
		"$mode" "$HOGS" "$hooked" "$K" "$(stat_get "$x.stats.json" tls_probes)" \
		"$(stat_get "$x.stats.json" tls_attach_multi)" \
		"$(jq -r 'if .tls_attaches > 0 then (.tls_attach_us / .tls_attaches | floor) else "-" end' "$x.stats.json" 2>/dev/null)" \
		"$stop" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

for m in ${MODES:-perf multi}; do
	run "$m"
done
