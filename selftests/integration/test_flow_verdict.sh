#!/usr/bin/env bash
# Integration: flow verdicts (docs/capture.md, "Flow verdicts"). An iperf3 bulk flow (no
# dissector recognises it) runs between two tapped pods beside HTTP requests (curl, five
# per keep-alive connection) to a server in the same pod. Then:
#   - the bulk flow's payload stops being copied for dissection: verdict_cut_bytes is most of
#     what iperf3 sent, no cut packet came late (verdict_late == 0);
#   - the HTTP flows still give all their entries: one complete http entry per request curl
#     made and saw answered, nothing else;
#   - the store still has the bulk flow whole (the export's bytes of port 5201 pass what the
#     cut left).
# Usage (root, from the repo root): bash selftests/integration/test_flow_verdict.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.7.11 B=10.213.7.12
PORT=8080 NREQ=40
STORE=$T/store STATS=$T/stats.json LOG=$T/floe.log OUT=$T/entries.json PCAP=$T/export.pcap

pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
WWW=$T/www
mkdir -p "$WWW"
head -c 20000 /dev/urandom >"$WWW/blob.bin"

pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" :: $PORT "$WWW"
pod_bg a "$T/iperf3-s.log" iperf3 -s -1 -B $A -p 5201
IPERF_S=$BG_PID
if ! wait_tcp_listen a $PORT 10 || ! wait_tcp_listen a 5201 10; then
	not_ok "servers listen"
	done_testing
fi

if ! floe_start_json "$OUT" "$LOG" --store "$STORE" --storagelimit 4GB --stats-json "$STATS"; then
	not_ok "floe starts"
	diag "$(tail -n 20 "$LOG")"
	done_testing
fi
ok "floe starts"

in_pod b timeout 30 iperf3 -c $A -p 5201 -t 4 -b 2G -J >"$T/iperf3.json" 2>"$T/iperf3.err" &
IPERF_C=$!
sleep 0.5
# 8 curl runs of 5 requests each on one keep-alive connection: a verdict given to an HTTP
# connection by mistake would cut the requests after its first.
ok_req=0
for ((i = 0; i < NREQ / 5; i++)); do
	urls=()
	for ((j = 0; j < 5; j++)); do urls+=("http://$A:$PORT/blob.bin?i=$i.$j"); done
	n=$(in_pod b curl -s --max-time 10 -w '%{http_code}\n' -o /dev/null -o /dev/null \
		-o /dev/null -o /dev/null -o /dev/null "${urls[@]}" | grep -c '^200$')
	ok_req=$((ok_req + n))
	sleep 0.2
done
wait $IPERF_C
is "$?" 0 "iperf3 client ran" || diag "$(cat "$T/iperf3.err")"
check "iperf3's server exited and both ends closed every connection" \
	eval 'wait_pid $IPERF_S 10 && wait_tcp_idle a 5201 10 && wait_tcp_idle b 5201 10'
entries_wait "$OUT" "$ok_req" 10
floe_stop
is "$?" 0 "floe exits 0"
diag "$(tail -n 20 "$LOG")"

sent=$(jq -r '.end.sum_sent.bytes' "$T/iperf3.json" 2>/dev/null)
diag "iperf3: $(jq -r '.end.sum_received.bits_per_second / 1e9 | tostring + " Gbit/s"' "$T/iperf3.json" 2>/dev/null), $sent bytes; curl: $ok_req of $NREQ answered"
cut=$(stat_get "$STATS" verdict_cut_bytes)
cutp=$(stat_get "$STATS" verdict_cut_packets)
late=$(stat_get "$STATS" verdict_late)
sets=$(stat_get "$STATS" verdict_sets)
full=$(stat_get "$STATS" ringbuf_full)
qdrop=$(stat_get "$STATS" dissect_queue_dropped)
diag "verdicts: sets $sets, cut $cutp packets / $cut bytes, late $late; ringbuf_full $full, dissect_queue_dropped $qdrop"
diag "stats: $(jq -c 'with_entries(select(.key | test("verdict|ringbuf|dissect_queue|recorded")))' "$STATS" 2>/dev/null)"

is_num "$ok_req" -eq $NREQ "curl: every request answered"
is_num "$sets" -ge 1 "the bulk flow was given a verdict"
is_num "$late" -eq 0 "no cut packet reached a flow the engine no longer gave up on"
# Whatever the ring lost (ringbuf_full) was never cut: the cut must still be most of it.
is_num "$cut" -gt $((sent / 2)) "the bulk flow's payload was not copied for dissection (cut > half of what iperf3 sent)"

n_http=$(entries_complete "$OUT" | jq -c 'select(.protocol == "http" and .missing == null and .incomplete == null)' | wc -l)
n_all=$(entries_complete "$OUT" | wc -l)
is_num "$n_http" -eq "$ok_req" "one complete http entry per answered request"
is_num "$n_all" -eq "$ok_req" "no other entries"
[ "$n_all" -eq "$ok_req" ] || entries_diag "$OUT"
n_conn=$(entries_complete "$OUT" | jq -r '.flow_id // .id' | awk -F- '{ print $(NF - 1) }' | sort -u | wc -l)
is_num "$n_conn" -eq $((NREQ / 5)) "the requests came on $((NREQ / 5)) keep-alive connections"

rc=0
on_node "$FLOE" pcap export -o "$PCAP" --store "$STORE" >"$T/export.log" 2>&1 || rc=$?
is "$rc" 0 "floe pcap export exits 0" || diag "$(cat "$T/export.log")"
stored=$(tshark_q -r "$PCAP" -Y "tcp.port == 5201" -T fields -e tcp.len 2>/dev/null |
	awk '{ s += $1 } END { print s + 0 }')
diag "bulk flow payload in the store: $stored bytes"
is_num "$stored" -ge "$cut" "the store has the bulk flow whole (its payload >= what was cut)"

done_testing
