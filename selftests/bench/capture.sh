#!/usr/bin/env bash
# `make bench`: the capture path side by side with tcpdump, on this machine, in one run.
# Not a pass/fail test: it prints one table and a short explanation.
#
# Topology (selftests/lib/pods.sh): pods a, b, c, d on one "node" netns bridge. iperf3 TCP a -> b
# (5 s per run, one stream) over the veths, with:
#   untapped                 nothing attached
#   floe   snap 65535/256    floe tap of pods a and b (both veths hooked), --snaplen N
#   tcpdump snap 65535/256   tcpdump -i v-a -w FILE -s N in the node netns (the sender's veth)
# and the non-targeted cost: iperf3 c -> d without floe, then while floe taps pod a only.
#
# Per run: iperf3 Gbit/s (receiver side, iperf3 -J) and retransmits; packets seen / recorded /
# dropped by the capturer (floe: --stats-json seen, recorded, ringbuf_full; tcpdump: "received
# by filter", "captured", "dropped by kernel"); CPU of the capturer process (utime+stime from
# /proc/PID/stat over the iperf3 run, % of one core); in-kernel BPF cost of floe's programs
# (kernel.bpf_stats_enabled=1 during floe runs: run_time_ns / run_cnt of the programs attached
# to the tapped veths, delta over the iperf3 run).
#
# Disk: both capturers are bounded the same way: floe --storagelimit 512MB, tcpdump -C 100 -W 5
# (five rotating 100 MB files). Everything lives in a temp dir that is removed at exit.
# Environment: BENCH_SECONDS (default 5), BENCH_STORAGE (default 512MB).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
test_timeout 900 "$0" "$@"
source "$HERE/../lib/assert.sh"
source "$HERE/../lib/floe.sh"
set -o pipefail

SECS=${BENCH_SECONDS:-5}
STORAGE=${BENCH_STORAGE:-512MB}
HZ=$(getconf CLK_TCK)
BPF_STATS_ORIG=

cleanup() {
	floe_cleanup
	pods_cleanup
	if [ -n "$BPF_STATS_ORIG" ]; then
		sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_ORIG"
	fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root" >&2
	exit 1
fi
if [ ! -x "$FLOE" ]; then
	echo "bench: $FLOE missing (make all)" >&2
	exit 1
fi
for t in iperf3 tcpdump bpftool jq; do
	command -v $t >/dev/null || { echo "bench: $t missing (make deps)" >&2; exit 1; }
done

pods_tmp
T=$PODS_TMP
A=10.213.4.11 B=10.213.4.12 C=10.213.4.13 D=10.213.4.14
pod_add a $A && pod_add b $B && pod_add c $C && pod_add d $D || { echo "bench: pods" >&2; exit 1; }
pod_bg b "$T/iperf3-b.log" iperf3 -s -B $B -p 5201
pod_bg d "$T/iperf3-d.log" iperf3 -s -B $D -p 5201
wait_tcp_listen b 5201 10 && wait_tcp_listen d 5201 10 || { echo "bench: iperf3 servers" >&2; exit 1; }

# ------------------------------------------------------------------ helpers
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
now_ns() { date +%s%N; }

# iperf SRC DST_IP JSON: one bounded iperf3 run; prints nothing.
iperf() {
	in_pod "$1" timeout $((SECS + 20)) iperf3 -c "$2" -p 5201 -t "$SECS" -J >"$3" 2>"$3.err"
}
gbps() { jq -r '(.end.sum_received.bits_per_second // 0) / 1e9 | . * 100 | round / 100' "$1" 2>/dev/null || echo "?"; }
retr() { jq -r '.end.sum_sent.retransmits // "?"' "$1" 2>/dev/null || echo "?"; }

# floe's programs: the ids of the BPF programs of the tc filters on the given veths.
floe_prog_ids() {
	local ifc dir
	for ifc in "$@"; do
		for dir in ingress egress; do
			on_node tc filter show dev "$ifc" "$dir" 2>/dev/null | grep -oE ' id [0-9]+' | awk '{ print $2 }'
		done
	done | sort -u
}
# bpf_totals IDS...: "run_time_ns run_cnt" summed over those programs.
bpf_totals() {
	local ids
	if [ $# -eq 0 ]; then
		echo "0 0"
		return
	fi
	ids=$(printf '%s\n' "$@" | jq -R 'tonumber' | jq -s -c .)
	bpftool prog show -j 2>/dev/null |
		jq -r --argjson ids "$ids" '[.[] | select(.id as $i | $ids | index($i))] |
			"\(map(.run_time_ns // 0) | add // 0) \(map(.run_cnt // 0) | add // 0)"'
}

# Result rows: case|gbps|retr|seen|recorded|dropped|cpu|bpf_ns|bpf_runs
declare -a ROWS=()
row() { ROWS+=("$(
	IFS='|'
	echo "$*"
)"); }

pct() { awk -v t="$1" -v hz="$HZ" -v ns="$2" 'BEGIN { if (ns <= 0) { print "?"; exit } printf "%.1f\n", 100 * (t / hz) / (ns / 1e9) }'; }

# ------------------------------------------------------------------ cases
run_untapped() {
	local label=$1 src=$2 dst=$3
	local j=$T/untapped-$src.json
	iperf "$src" "$dst" "$j"
	row "$label" "$(gbps "$j")" "$(retr "$j")" - - - - - -
}

# run_floe LABEL SNAP SRC DST FLOE-SCOPE-ARGS...
run_floe() {
	local label=$1 snap=$2 src=$3 dst=$4
	shift 4
	NRUN=$((NRUN + 1))
	local d=$T/floe-$NRUN
	mkdir -p "$d"
	local j=$d/iperf.json
	if ! floe_start "$d/floe.log" "$@" --snaplen "$snap" --storagelimit "$STORAGE" \
		--store "$d/store" --stats-json "$d/stats.json"; then
		row "$label" "floe failed to start" - - - - - - -
		floe_stop KILL
		return
	fi
	local ifs ids
	ifs=$(on_node ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | grep '^v-')
	# shellcheck disable=SC2086
	ids=$(floe_prog_ids $ifs)
	local b0 c0 t0 b1 c1 t1
	# shellcheck disable=SC2086
	b0=$(bpf_totals $ids)
	c0=$(cpu_ticks "$FLOE_PID")
	t0=$(now_ns)
	iperf "$src" "$dst" "$j"
	t1=$(now_ns)
	c1=$(cpu_ticks "$FLOE_PID")
	# shellcheck disable=SC2086
	b1=$(bpf_totals $ids)
	floe_stop INT
	rm -rf "$d/store"
	local s=$d/stats.json rt cnt per
	rt=$(($(cut -d' ' -f1 <<<"$b1") - $(cut -d' ' -f1 <<<"$b0")))
	cnt=$(($(cut -d' ' -f2 <<<"$b1") - $(cut -d' ' -f2 <<<"$b0")))
	per=$(awk -v r="$rt" -v c="$cnt" 'BEGIN { if (c > 0) printf "%.0f\n", r / c; else print "-" }')
	row "$label" "$(gbps "$j")" "$(retr "$j")" "$(stat_get "$s" seen)" "$(stat_get "$s" recorded)" \
		"$(stat_get "$s" ringbuf_full)" "$(pct $((c1 - c0)) $((t1 - t0)))" "$per" "$cnt"
	FLOE_NOTES+=("$label: $(jq -c '{targeted, duplicate, written, store_lost, segments_evicted, store_bytes_peak}' "$s" 2>/dev/null)")
}

run_tcpdump() {
	local label=$1 snap=$2 d=$T/tcpdump-$2
	mkdir -p "$d"
	local j=$d/iperf.json
	node_bg "$d/tcpdump.log" tcpdump -i v-a -n -Z root -s "$snap" -C 100 -W 5 -w "$d/cap.pcap"
	local pid=$BG_PID
	if ! wait_for_line "$d/tcpdump.log" 'listening on' 10; then
		row "$label" "tcpdump failed to start" - - - - - - -
		bg_stop "$pid" TERM
		return
	fi
	local c0 t0 c1 t1
	c0=$(cpu_ticks "$pid")
	t0=$(now_ns)
	iperf a $B "$j"
	t1=$(now_ns)
	c1=$(cpu_ticks "$pid")
	bg_stop "$pid" TERM
	rm -f "$d"/cap.pcap*
	local cap recv drop
	cap=$(sed -n 's/^\([0-9]\+\) packets\? captured.*/\1/p' "$d/tcpdump.log")
	recv=$(sed -n 's/^\([0-9]\+\) packets\? received by filter.*/\1/p' "$d/tcpdump.log")
	drop=$(sed -n 's/^\([0-9]\+\) packets\? dropped by kernel.*/\1/p' "$d/tcpdump.log")
	row "$label" "$(gbps "$j")" "$(retr "$j")" "${recv:-?}" "${cap:-?}" "${drop:-?}" \
		"$(pct $((c1 - c0)) $((t1 - t0)))" - -
}

declare -a FLOE_NOTES=()
NRUN=0
REGEX_AB="${PREFIX}-(a|b)\$"
REGEX_A="${PREFIX}-a\$"

echo "bench: iperf3 TCP, ${SECS}s per run, $(nproc) CPUs, kernel $(uname -r)" >&2
in_pod a ping -c 1 -W 2 $B >/dev/null 2>&1
in_pod c ping -c 1 -W 2 $D >/dev/null 2>&1

# Warm-up (not reported): first runs on a fresh netns are slower.
in_pod a timeout 10 iperf3 -c $B -p 5201 -t 1 >/dev/null 2>&1
run_untapped "a->b untapped" a $B
BPF_STATS_ORIG=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
# Plain PCAP segments, like tcpdump -w; then the default, zstd-compressed segments.
run_floe "a->b floe snap 65535" 65535 a $B "$REGEX_AB" -A --no-compress
run_floe "a->b floe snap 65535 zstd" 65535 a $B "$REGEX_AB" -A
run_floe "a->b floe snap 256" 256 a $B "$REGEX_AB" -A --no-compress
run_floe "a->b floe snap 256 zstd" 256 a $B "$REGEX_AB" -A
sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_ORIG"
run_tcpdump "a->b tcpdump snap 65535" 65535
run_tcpdump "a->b tcpdump snap 256" 256
run_untapped "c->d untapped, no floe" c $D
sysctl -qw kernel.bpf_stats_enabled=1
run_floe "c->d while floe taps a" 256 c $D "$REGEX_A" -A
sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_ORIG"
BPF_STATS_ORIG=

# ------------------------------------------------------------------ report
{
	echo "case|Gbit/s|retrans|pkts seen|recorded|dropped|capturer CPU %|BPF ns/run|BPF runs"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o '  '
cat <<EOF

How to read it:
- Gbit/s: iperf3 receiver throughput (one TCP stream, ${SECS}s); the untapped row is the baseline.
- pkts seen: floe: packets that reached its hooks on both tapped veths (v-a and v-b, so each
  a<->b packet is seen twice; the second sighting is a "duplicate", not recorded again);
  tcpdump: "received by filter" on v-a only. Packets are skbs: with offloads on, many are GSO
  super-packets of up to 64 KB, so counts are far below wire-MTU packet counts.
- recorded / dropped: floe: recorded and ringbuf_full (kernel ring buffer full) from
  --stats-json; tcpdump: "captured" and "dropped by kernel".
- capturer CPU %: utime+stime of the floe / tcpdump process over the iperf3 run, in % of one
  core. It excludes the BPF programs, which run in the sender's softirq context (next item).
  On a 2-CPU machine the capturer competes with iperf3's sender and receiver for the cores,
  so capturer CPU shows up directly as lost throughput.
- BPF ns/run, BPF runs: kernel.bpf_stats_enabled run_time_ns / run_cnt of floe's programs on the
  tapped veths over the run (every hook invocation, recorded or not).
- c->d rows: a flow between two pods that are not tapped while floe taps pod a on the same node.
  floe hooks only the tapped pods' veths, so that flow never reaches a floe program (0 runs):
  its cost is nothing beyond noise.
- floe rows write plain PCAP segments (--no-compress) like tcpdump -w; 'zstd' rows use floe's
  default, compressing closed segments in a background thread (its CPU is in the capturer's).
- Disk bound: floe --storagelimit $STORAGE; tcpdump -C 100 -W 5 (500 MB ring of files).
EOF
if [ ${#FLOE_NOTES[@]} -gt 0 ]; then
	echo
	echo "floe stats (other fields):"
	printf '  %s\n' "${FLOE_NOTES[@]}"
fi
