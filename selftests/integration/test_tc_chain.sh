#!/usr/bin/env bash
# Integration: floe's TC programs leave the packets to the filters ranked after their own.
# floe's filters sit at priority 0xf10e (61710) on a pod's veth; a filter of another tool at a
# later priority (here selftests/bpf/tc_count.bpf.c at 65000: it counts the ICMP packets that
# reach it, in its own map) must still see every packet. A program that returns TC_ACT_OK ends the classification at floe's filter and
# the later one sees nothing; floe returns TC_ACT_UNSPEC ("no verdict, next filter").
#   Pods a (tapped, namespace front) and b (not tapped). Before floe starts, the test puts the
#   clsact qdisc and its own counting filters on a's veth, ingress (what a sends) and egress
#   (what a receives). a sends b COUNT ICMP echo requests, one at a time. Oracle: the sender's own count
#   of requests sent and replies received; the counting filters must match exactly those, and floe's store must hold
#   the same requests and replies (so floe's filters ran first and saw them too).
# Usage (root, from the repo root): bash selftests/integration/test_tc_chain.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.247.7.11 B=10.247.7.12
COUNT=25
PRIO=65000

pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
INV=$T/inventory
printf '%s front\n%s back\n' "$(pod_ns a)" "$(pod_ns b)" >"$INV"

COUNTER=$(floe_root)/build/selftests/tc_count.bpf.o
need_cmd "bpftool and jq are installed" bpftool jq || done_testing
[ -f "$COUNTER" ] || { not_ok "$COUNTER exists (make all)"; done_testing; }

# The other tool's filters on a's veth, one per direction, each with its own counter.
on_node tc qdisc add dev v-a clsact || { not_ok "clsact on v-a"; done_testing; }
declare -A MAP
for dir in ingress egress; do
	on_node tc filter add dev v-a $dir prio $PRIO bpf da obj "$COUNTER" sec tc ||
		{ not_ok "counting filter on v-a $dir"; done_testing; }
	prog=$(on_node tc filter show dev v-a $dir prio $PRIO | grep -o ' id [0-9]*' | awk '{ print $2 }')
	MAP[$dir]=$(bpftool prog show id "$prog" -j 2>/dev/null | jq -r '.map_ids[0] // empty')
	[ -n "${MAP[$dir]}" ] || { not_ok "the counting filter's map on v-a $dir"; done_testing; }
done

# counted DIR: ICMP packets the counting filter saw on v-a DIR.
counted() {
	bpftool map dump id "${MAP[$1]}" -j | jq -r '.[0].formatted.value'
}

if ! floe_start "$T/floe.log" -n front --inventory "$INV" --store "$T/store" \
	--stats-json "$T/stats.json"; then
	not_ok "floe tap -n front starts"
	done_testing
fi
check "floe taps a" grep -q '^floe: tapping 1 pod:' "$T/floe.log"
for dir in ingress egress; do
	# tc lists filters by priority: floe's first, the counting one after it
	prios=$(on_node tc filter show dev v-a $dir | awk '/^filter/ { for (i = 1; i <= NF; i++) if ($i == "pref") print $(i + 1) }' | uniq | tr '\n' ' ')
	is "$prios" "61710 $PRIO " "v-a $dir: floe's filter (pref 61710), then the counting one"
done
before_in=$(counted ingress) before_eg=$(counted egress)

# ping, without ping(8): COUNT echo requests one after the other, each answered before the next;
# prints "SENT RECEIVED" as the sender counted them.
in_pod a "$PY" - $B $COUNT >"$T/ping.log" 2>&1 <<'PY'
import os, socket, struct, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(5)
ident, sent, recv = os.getpid() & 0xffff, 0, 0
for seq in range(count):
    body = b"floe-tc-chain-%04d" % seq
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + body), ident, seq) + body, (dst, 0))
    sent += 1
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            pkt = s.recv(2048)
        except socket.timeout:
            break
        icmp = pkt[(pkt[0] & 15) * 4:]
        if icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (ident, seq):
            recv += 1
            break
print(sent, recv)
PY
read -r sent recv <"$T/ping.log"
is "$sent $recv" "$COUNT $COUNT" "echo: $COUNT requests sent, $COUNT replies received"

# Both hooks are synchronous: every request and reply has passed them when ping returns.
is "$(($(counted ingress) - before_in))" "$sent" "the filter after floe's at ingress saw every request"
is "$(($(counted egress) - before_eg))" "$recv" "the filter after floe's at egress saw every reply"

floe_stop
is "$?" 0 "floe exits 0"
"$FLOE" pcap export --store "$T/store" -o "$T/out.pcap" 2>"$T/export.err" || diag "$(cat "$T/export.err")"
is "$(pcap_count "$T/out.pcap" "icmp.type == 8 && ip.src == $A")" "$sent" "floe recorded every request"
is "$(pcap_count "$T/out.pcap" "icmp.type == 0 && ip.dst == $A")" "$recv" "floe recorded every reply"
is "$(floe_filters v-a | grep -c floe_tc_)" 0 "no floe filter left on v-a"
is "$(on_node tc filter show dev v-a ingress | grep -c "pref $PRIO.*tc_count")" 1 "the other tool's filter stays"
done_testing
