#!/usr/bin/env bash
# Integration: ring-buffer overload is counted, exactly. With the smallest sensible ring
# (--ringbuffer 16KiB) and whole packets (--snaplen 65535), an unthrottled iperf3 between two
# tapped pods must overflow the ring; then
#   ringbuf_full > 0, targeted == recorded + ringbuf_full,
#   packets in the export == recorded == written   (so targeted - exported == ringbuf_full),
# and `seen` matches an independent count: the packet counters of the two tapped veths
# (ip -s link: rx + tx of v-a and v-b over the run). The test removes the usual non-IP chatter
# (ARP: static neighbours; IPv6 disabled on the veths) so the two counts must agree up to a
# few stray non-IP frames.
# Usage (root, from the repo root): bash selftests/integration/test_drops.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"

NONIP_SLACK=4
T=$PODS_TMP
A=10.213.2.11 B=10.213.2.12
STORE=$T/store STATS=$T/stats.json PCAP=$T/export.pcap LOG=$T/floe.log

pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
# Quiet links: no IPv6 (no ND/MLD/RS), static ARP entries.
for p in a b; do
	in_pod $p sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1
	on_node sysctl -qw net.ipv6.conf.v-$p.disable_ipv6=1
done
on_node sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
mac_a=$(in_pod a cat /sys/class/net/eth0/address)
mac_b=$(in_pod b cat /sys/class/net/eth0/address)
in_pod a ip neigh replace $B lladdr "$mac_b" dev eth0 nud permanent
in_pod b ip neigh replace $A lladdr "$mac_a" dev eth0 nud permanent
# Teach the bridge both MACs before the run (one packet each way).
in_pod b ping -c 1 -W 2 $A >/dev/null 2>&1

pod_bg a "$T/iperf3-s.log" iperf3 -s -1 -B $A -p 5201
IPERF_S=$BG_PID
wait_tcp_listen a 5201 10 || { not_ok "iperf3 server listens"; done_testing; }

if ! floe_start "$LOG" --ringbuffer 16KiB --snaplen 65535 --storagelimit 1GB \
	--store "$STORE" --stats-json "$STATS"; then
	not_ok "floe starts with --ringbuffer 16KiB --snaplen 65535"
	done_testing
fi
ok "floe starts with --ringbuffer 16KiB --snaplen 65535"

read -r a_rx0 a_tx0 < <(veth_counters a)
read -r b_rx0 b_tx0 < <(veth_counters b)

in_pod b timeout 20 iperf3 -c $A -p 5201 -t 3 -J >"$T/iperf3.json" 2>"$T/iperf3.err"
is "$?" 0 "iperf3 client ran" || diag "$(cat "$T/iperf3.err")"
diag "iperf3: $(jq -r '.end.sum_received.bits_per_second / 1e9 | tostring + " Gbit/s"' "$T/iperf3.json" 2>/dev/null)"

# Every packet of the run crosses the veths before floe stops: the server (-1) has exited and
# neither pod holds a connection any more.
check "iperf3's server exited and both ends closed every connection" \
	eval 'wait_pid $IPERF_S 10 && wait_tcp_idle a 5201 10 && wait_tcp_idle b 5201 10'
floe_stop
is "$?" 0 "floe exits 0"
read -r a_rx1 a_tx1 < <(veth_counters a)
read -r b_rx1 b_tx1 < <(veth_counters b)
diag "$(tail -n 15 "$LOG")"
diag "stats: $(jq -c . "$STATS" 2>/dev/null)"

seen=$(stat_get "$STATS" seen)
targeted=$(stat_get "$STATS" targeted)
recorded=$(stat_get "$STATS" recorded)
full=$(stat_get "$STATS" ringbuf_full)
written=$(stat_get "$STATS" written)
lost=$(stat_get "$STATS" store_lost)
pktev=$(stat_get "$STATS" packets_evicted)
dup=$(stat_get "$STATS" duplicate)

is_num "$full" -gt 0 "ring buffer overflowed (ringbuf_full > 0)"
is_num "$targeted" -eq $((recorded + full)) "targeted == recorded + ringbuf_full"
is_num "$lost" -eq 0 "no store loss"
is_num "$pktev" -eq 0 "nothing evicted (1GB limit)"
is_num "$written" -eq "$recorded" "written == recorded"

rc=0
on_node "$FLOE" pcap export -o "$PCAP" --store "$STORE" >"$T/export.log" 2>&1 || rc=$?
is "$rc" 0 "floe pcap export exits 0" || diag "$(cat "$T/export.log")"
warn=$(tshark_q -r "$PCAP" -q 2>&1 >/dev/null)
is "$warn" "" "tshark reads the export without warnings"
exported=$(capinfos -M -c -T -r "$PCAP" 2>/dev/null | awk -F'\t' 'NR == 1 { print $2 }')
[ -n "$exported" ] || exported=$(pcap_count "$PCAP")
is_num "$exported" -eq "$recorded" "packets in export == recorded"
is_num $((targeted - exported)) -eq "$full" "targeted - exported == ringbuf_full"

veth=$(((a_rx1 - a_rx0) + (a_tx1 - a_tx0) + (b_rx1 - b_rx0) + (b_tx1 - b_tx0)))
diag "veth counters over the run: v-a rx $((a_rx1 - a_rx0)) tx $((a_tx1 - a_tx0)), v-b rx $((b_rx1 - b_rx0)) tx $((b_tx1 - b_tx0)); total $veth; floe seen $seen (targeted $targeted, duplicate $dup)"
is_num "$seen" -le "$veth" "seen <= packets the tapped veths counted"
is_num "$((veth - seen))" -le $NONIP_SLACK "seen == veth counters up to $NONIP_SLACK non-IP frames"
# Each a<->b packet crosses both tapped veths: seen counts it twice, targeted once.
is_num "$((targeted + dup))" -le "$seen" "targeted + duplicate <= seen"

done_testing
