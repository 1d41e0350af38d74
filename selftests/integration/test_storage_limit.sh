#!/usr/bin/env bash
# Integration: --storagelimit is a hard bound on the store directory, and the store keeps the
# newest traffic (oldest segments are evicted first).
#
# Pods a (iperf3 server) and b (client), both in namespace "default", tapped by floe with
# --storagelimit 1MB. b sends 4 s of TCP at a capped 40 Mbit/s (~20 MB, 20x the limit). While
# floe runs, the store's apparent size (du -sb --apparent-size) is sampled every ~50 ms.
# Usage (root, from the repo root): bash selftests/integration/test_storage_limit.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"

LIMIT_ARG=1MB
LIMIT=$((1024 * 1024)) # the contract: MB is binary
RATE=40M
SECS=4
T=$PODS_TMP
A=10.213.1.11 B=10.213.1.12
STORE=$T/store STATS=$T/stats.json PCAP=$T/export.pcap LOG=$T/floe.log SAMPLES=$T/du.samples

pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
pod_bg a "$T/iperf3-s.log" iperf3 -s -1 -B $A -p 5201
IPERF_S=$BG_PID
wait_tcp_listen a 5201 10 || { not_ok "iperf3 server listens"; done_testing; }

if ! floe_start "$LOG" --storagelimit $LIMIT_ARG --store "$STORE" --stats-json "$STATS"; then
	not_ok "floe starts and says 'floe: tapping'"
	done_testing
fi
ok "floe starts and says 'floe: tapping'"

# Sampler: apparent size of the store dir (du -sb --apparent-size, as the contract says), every
# ~50 ms (bounded: 60 s at most; stopped with floe).
(
	end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		du -sb --apparent-size "$STORE" 2>/dev/null
		sleep 0.03
	done
) >"$SAMPLES" &
SAMPLER=$!
bg_track $SAMPLER
t_sampler=$(date +%s.%N)

t_start=$(date +%s.%N)
in_pod b timeout 20 iperf3 -c $A -p 5201 -t $SECS -b $RATE -J >"$T/iperf3.json" 2>"$T/iperf3.err"
rc=$?
t_end=$(date +%s.%N)
is "$rc" 0 "iperf3 client ran" || diag "$(cat "$T/iperf3.err")"
sent=$(jq -r '.end.sum_sent.bytes' "$T/iperf3.json" 2>/dev/null)
diag "iperf3 sent $sent bytes in $SECS s at $RATE bit/s; limit $LIMIT bytes"

# The closing FINs must be in the store: wait until the server (-1) has exited and neither pod
# holds a connection any more.
check "iperf3's server exited and both ends closed every connection" \
	eval 'wait_pid $IPERF_S 10 && wait_tcp_idle a 5201 10 && wait_tcp_idle b 5201 10'
floe_stop
is "$?" 0 "floe exits 0"
bg_stop $SAMPLER
t_stopped=$(date +%s.%N)
diag "$(tail -n 15 "$LOG")"

nsamples=$(grep -c . "$SAMPLES")
max_du=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$SAMPLES")
diag "$nsamples samples (every ~$(awk -v n="$nsamples" -v a="$t_sampler" -v b="$t_stopped" 'BEGIN { if (n) printf "%d", (b - a) * 1000 / n }') ms); max du -sb --apparent-size: $max_du"
is_num "$nsamples" -ge 20 "sampled the store at least 20 times"
is_num "$max_du" -le $LIMIT "du --apparent-size of the store never exceeded the limit"
# (floe's empty .lock file aside; entries/ is the entry history, docs/storage.md)
others=$(find "$STORE" -mindepth 1 ! \( -type f \( -name 'floe-*.pcap' -o -name 'floe-*.pcap.zst' \) \) \
	! \( -name .lock -empty \) ! \( -type d -path "$STORE/entries" \) \
	! \( -type f -path "$STORE/entries/entries-*.jsonl.zst" \))
is "$others" "" "the store holds only floe-*.pcap / floe-*.pcap.zst segments (and entries/) after exit"
diag "store after exit: $(find "$STORE" -name '*.pcap' | wc -l) .pcap, $(find "$STORE" -name '*.pcap.zst' | wc -l) .pcap.zst"
final=$(du -sb --apparent-size "$STORE" | cut -f1)
is_num "$final" -le $LIMIT "store size after exit within the limit"

written=$(stat_get "$STATS" written)
recorded=$(stat_get "$STATS" recorded)
targeted=$(stat_get "$STATS" targeted)
full=$(stat_get "$STATS" ringbuf_full)
lost=$(stat_get "$STATS" store_lost)
segev=$(stat_get "$STATS" segments_evicted)
pktev=$(stat_get "$STATS" packets_evicted)
peak=$(stat_get "$STATS" store_bytes_peak)
sbytes=$(stat_get "$STATS" store_bytes)
diag "stats: $(jq -c . "$STATS" 2>/dev/null)"
is_num "$segev" -gt 0 "segments were evicted"
is_num "$pktev" -gt 0 "packets were evicted"
is_num "$peak" -le $LIMIT "stats store_bytes_peak within the limit"
is_num "$sbytes" -le $LIMIT "stats store_bytes within the limit"
is_num "$lost" -eq 0 "no store loss"
is_num "$written" -eq "$recorded" "written == recorded"
is_num "$targeted" -eq $((recorded + full)) "targeted == recorded + ringbuf_full"

rc=0
on_node "$FLOE" pcap export -o "$PCAP" --store "$STORE" >"$T/export.log" 2>&1 || rc=$?
is "$rc" 0 "floe pcap export exits 0" || diag "$(cat "$T/export.log")"
warn=$(tshark_q -r "$PCAP" -q 2>&1 >/dev/null)
is "$warn" "" "tshark reads the export without warnings"
frames=$(pcap_count "$PCAP")
if ! is_num "$frames" -eq $((written - pktev)) "frames in export == written - packets_evicted"; then
	diag "export: $(cat "$T/export.log")"
	for f in "$STORE"/floe-*; do
		case $f in
		*.zst) n=$(zstdcat "$f" 2>/dev/null | tshark_q -r - -T fields -e frame.number 2>/dev/null | grep -c .) ;;
		*) n=$(pcap_count "$f") ;;
		esac
		diag "$(basename "$f"): $(stat -c %s "$f") bytes, $n frames"
	done
fi

times=$(tshark_q -r "$PCAP" -T fields -e frame.time_epoch | sed -n '1p;$p')
first=$(sed -n 1p <<<"$times")
last=$(sed -n 2p <<<"$times")
diag "traffic $t_start .. $t_end; export $first .. $last"
# awk for float arithmetic; prints integers in ms.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (a - b) * 1000 }'; }
is_num "$(ms "$first" "$t_start")" -gt 0 "first packet kept is later than the start of traffic (old evicted)"
is_num "$(ms "$t_end" "$last")" -le 1500 "last packet kept is within 1.5 s of the end of traffic"
is_num "$(ms "$last" "$t_end")" -le 1000 "last packet is not after the end of traffic (+1 s)"
# The end of the run must be there: iperf3's final FINs between a and b.
fins=$(pcap_count "$PCAP" "tcp.flags.fin == 1 && ip.addr == $A && ip.addr == $B")
is_num "$fins" -ge 2 "the closing FINs of the last connections are in the export"

done_testing
