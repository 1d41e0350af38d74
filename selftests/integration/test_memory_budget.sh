#!/usr/bin/env bash
# Integration: the dissection memory budget (--dissect-memory) live. Pod a opens 10,000 TCP
# connections to a server in pod b (selftests/lib/slow_heads.py), each sending the start of an
# HTTP/1.1 request head (~2 KB) that never ends (a slow-loris client), and keeps them open
# while it makes a few normal requests with curl to a real HTTP server in b
# (selftests/lib/httpd1.py). floe tap --json taps both pods, three times:
#   1. baseline: the normal requests alone; floe's peak RSS (VmHWM) is the baseline;
#   2. no budget given (default 256 MiB): floe's summary shows dissection holding more than
#      the 16 MiB of round 3, so that round's budget is needed (and the RSS is the "before");
#   3. --dissect-memory 16MiB: floe's peak RSS stays under baseline + 16 MiB + the ring buffer
#      and dissection queue it was given (both may fill under this load and are their own
#      bounds) + 8 MiB (allocator overhead and fragmentation the accounting does not see, and
#      the PCAP store's and the kernel ring's work buffers under load); evictions are counted
#      in the summary and --stats-json; the normal requests are entries, complete, as curl saw
#      them;
#   4. the third round's store, exported and read by `floe read --dissect-memory 16MiB`: the
#      same checks offline.
# Usage (root, from the repo root): bash selftests/integration/test_memory_budget.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.14.11 B=10.213.14.12
PORT=8080 SLOW_PORT=8081
SLOW_CONNS=10000 PAD=2000 NORMAL=5
MIB=$((1 << 20))
BUDGET_MIB=16 RING_MIB=4 QUEUE_MIB=4 SLACK_MIB=8
TAP_ARGS=(--ringbuffer ${RING_MIB}MB --dissect-queue ${QUEUE_MIB}MiB)

need_cmd "curl and jq are installed" curl jq || done_testing
entries_pods $A $B

pod_bg b "$T/httpd.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' 0.0.0.0 $PORT 2>'$T/httpd.err'"
pod_bg b "$T/sink.log" "$PY" "$HERE/../lib/slow_heads.py" server 0.0.0.0 $SLOW_PORT
SINK_PID=$BG_PID
if ! wait_tcp_listen b $PORT 10 || ! wait_tcp_listen b $SLOW_PORT 10; then
	not_ok "HTTP server and slow sink listen in b"
	diag "$(cat "$T/httpd.err" "$T/sink.log")"
	done_testing
fi
ok "HTTP server and slow sink listen in b"

# hwm: floe's peak RSS so far, in bytes (VmHWM of the running process).
hwm() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$FLOE_PID/status"; }

# normal NAME: the normal requests from a (one connection each), their URLs to $T/NAME.urls.
normal() {
	local i url
	: >"$T/$1.urls"
	for ((i = 1; i <= NORMAL; i++)); do
		url="/text?n=$((100 + i))&round=$1"
		in_pod a curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' "http://$B:$PORT$url" \
			>>"$T/$1.curl" 2>&1
		echo "$url" >>"$T/$1.urls"
	done
	is "$(sort -u "$T/$1.curl" | tr '\n' ' ')" "200 " "$1: curl got 200 for its $NORMAL requests"
}

# normal_entries NAME: every normal request of the round is one complete entry with status 200.
normal_entries() {
	local got want
	if ! entries_wait_urls "$1"; then
		diag "$(entries_diag "$OUT" 20)"
	fi
	got=$(jq -r 'select(.request.path == "/text") |
		select(.missing == null and .response.status == 200) | .request.url' "$OUT" | sort)
	want=$(sort "$T/$1.urls")
	is "$got" "$want" "$1: the $NORMAL normal requests are complete entries (status 200)"
}

# entries_wait_urls NAME: wait (10 s at most) until every normal URL of the round has an entry.
entries_wait_urls() {
	local end=$(($(date +%s) + 10)) n
	while :; do
		n=$(jq -r 'select(.request.path == "/text") | .request.url' "$OUT" 2>/dev/null |
			grep -cF -f "$T/$1.urls")
		[ "$n" -ge "$NORMAL" ] && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# slow_open NAME: pod a opens the slow connections; waits until all are open (60 s at most).
slow_open() {
	pod_bg a "$T/$1.slow.log" "$PY" "$HERE/../lib/slow_heads.py" client $B $SLOW_PORT \
		$SLOW_CONNS $PAD 120
	SLOW_PID=$BG_PID
	if wait_for_line "$T/$1.slow.log" "^ready $SLOW_CONNS\$" 60; then
		ok "$1: $SLOW_CONNS slow connections open, each with an unfinished head"
	else
		not_ok "$1: $SLOW_CONNS slow connections open"
		diag "$(tail -n 5 "$T/$1.slow.log")"
	fi
}

# summary_field LOG N: the Nth number of floe's "dissection memory" summary line
# (1: peak, 2: limit, 3: evictions, 4: evicted bytes).
summary_field() {
	sed -n 's/^ *dissection memory *peak \([0-9]*\) of \([0-9]*\) bytes, \([0-9]*\) connections evicted (\([0-9]*\) bytes).*/\1 \2 \3 \4/p' \
		"$1" | awk -v n="$2" '{ print $n }'
}

# ---------------------------------------------------------------- 1. baseline
OUT=$T/base.json
entries_tap "${TAP_ARGS[@]}" --dissect-memory ${BUDGET_MIB}MiB
normal base
normal_entries base
BASE=$(hwm)
floe_stop
is "$?" 0 "base: floe exits 0"

# ---------------------------------------------------------------- 2. no budget given
OUT=$T/nobudget.json
entries_tap "${TAP_ARGS[@]}"
slow_open nobudget
normal nobudget
normal_entries nobudget
NOBUDGET=$(hwm)
floe_stop
is "$?" 0 "nobudget: floe exits 0"
bg_stop "$SLOW_PID"
LOG=$T/nobudget.floe.log
diag "$(grep -E 'entries  |dissection memory|not dissected' "$LOG")"
peak=$(summary_field "$LOG" 1)
is_num "${peak:-0}" -gt $((BUDGET_MIB * MIB)) \
	"nobudget: dissection held ${peak:-?} bytes at its peak, more than ${BUDGET_MIB} MiB"

# ---------------------------------------------------------------- 3. the budget
OUT=$T/budget.json
entries_tap "${TAP_ARGS[@]}" --dissect-memory ${BUDGET_MIB}MiB
slow_open budget
normal budget
normal_entries budget
RSS=$(hwm)
floe_stop
is "$?" 0 "budget: floe exits 0"
bg_stop "$SLOW_PID"
LOG=$T/budget.floe.log
STATS=$T/budget.stats.json
diag "$(grep -E 'entries  |dissection memory|not dissected' "$LOG")"
diag "peak RSS: baseline $((BASE / 1024)) KiB, no budget $((NOBUDGET / 1024)) KiB," \
	"--dissect-memory ${BUDGET_MIB}MiB $((RSS / 1024)) KiB"
LIMIT=$((BASE + (BUDGET_MIB + RING_MIB + QUEUE_MIB + SLACK_MIB) * MIB))
is_num "$RSS" -le "$LIMIT" "budget: floe's peak RSS $((RSS / 1024)) KiB <= baseline + budget + ring + queue + ${SLACK_MIB} MiB ($((LIMIT / 1024)) KiB)"
is "$(summary_field "$LOG" 2)" $((BUDGET_MIB * MIB)) "budget: the summary shows the limit"
is_num "$(stat_get "$STATS" dissect_mem_evictions)" -gt 0 "budget: evictions counted in --stats-json"
is "$(stat_get "$STATS" dissect_mem_evictions)" "$(summary_field "$LOG" 3)" \
	"budget: --stats-json and the summary agree on the evictions"
is_num "$(stat_get "$STATS" dissect_mem_peak)" -le $((BUDGET_MIB * MIB + MIB)) \
	"budget: charged bytes stayed within the budget (+ what one packet adds)"
evicted=$(jq -r 'select(.missing_reason == "memory_budget") | .request.path // "-"' "$OUT" |
	sed 's,/[0-9]*$,,' | sort -u | tr '\n' ' ')
is "$evicted" "/slow " "budget: entries evicted for memory are slow connections' heads"

# ---------------------------------------------------------------- 4. the same capture offline
# The budget round's store, exported, read back by floe read with the same budget.
PCAP=$T/budget.pcap
on_node "$FLOE" pcap export -o "$PCAP" --store "$T/budget.store" >"$T/export.log" 2>&1
is "$?" 0 "offline: floe pcap export of the budget round" || diag "$(cat "$T/export.log")"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$T/read.rss" "$FLOE" read --json --dissect-memory ${BUDGET_MIB}MiB 		"$PCAP" >"$T/read.json" 2>"$T/read.log"
	is "$?" 0 "offline: floe read --dissect-memory ${BUDGET_MIB}MiB exits 0"
	/usr/bin/time -f %M -o "$T/read-nobudget.rss" "$FLOE" read --json "$PCAP" >/dev/null 		2>"$T/read-nobudget.log"
	diag "$(tail -n 1 "$T/read.log")"
	diag "floe read peak RSS: $(tail -n 1 "$T/read.rss") KiB with the budget," 		"$(tail -n 1 "$T/read-nobudget.rss") KiB without"
	check "offline: evictions counted in floe read's summary" 		grep -qE 'connections evicted' "$T/read.log"
	n=$(sed -n 's/.*, \([0-9]*\) connections evicted.*/\1/p' "$T/read.log")
	is_num "${n:-0}" -gt 0 "offline: floe read evicted connections to stay within the budget"
	# The offline oracle's bound (selftests/oracle/oracle_memory_budget.py): baseline (floe
	# read of the baseline round's store: the normal requests alone) + budget + 4 MiB.
	on_node "$FLOE" pcap export -o "$T/base.pcap" --store "$T/base.store" >/dev/null 2>&1
	/usr/bin/time -f %M -o "$T/read-base.rss" "$FLOE" read --json "$T/base.pcap" >/dev/null \
		2>&1
	rbase=$(($(tail -n 1 "$T/read-base.rss") * 1024))
	is_num "$(($(tail -n 1 "$T/read.rss") * 1024))" -le $((rbase + (BUDGET_MIB + 4) * MIB)) \
		"offline: floe read's peak RSS <= baseline $((rbase / 1024)) KiB + ${BUDGET_MIB} + 4 MiB"
	got=$(jq -r 'select(.request.path == "/text") |
		select(.missing == null and .response.status == 200) | .request.url' "$T/read.json" |
		sort)
	is "$got" "$(sort "$T/budget.urls")" "offline: the $NORMAL normal requests are complete entries"
else
	skip "offline: floe read's peak RSS" "/usr/bin/time is not installed"
fi

done_testing
