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
# BENCH_RUNS rounds of (untapped, floe, floe zstd, tcpdump), whole packets; then once snap 256
# and the non-targeted pair. The table gives per run, and medians over the rounds: throughput
# against the same round's untapped run, packets lost, GB recorded and CPU seconds per GB.
# Per run: iperf3 Gbit/s (receiver side, iperf3 -J) and retransmits; packets seen / recorded /
# dropped by the capturer (floe: --stats-json seen, recorded, ringbuf_full; tcpdump: "received
# by filter", "captured", "dropped by kernel"); CPU of the capturer process (utime+stime from
# /proc/PID/stat over the iperf3 run, % of one core); in-kernel BPF cost of floe's programs
# (kernel.bpf_stats_enabled=1 during floe runs: run_time_ns / run_cnt of the programs attached
# to the tapped veths, delta over the iperf3 run).
#
# Disk: both capturers are bounded the same way: floe --storagelimit 512MB, tcpdump -C 100 -W 5
# (five rotating 100 MB files). Everything lives in a temp dir that is removed at exit.
# Environment: BENCH_SECONDS (default 5), BENCH_RUNS (rounds of untapped/floe/floe zstd/tcpdump,
# default 3), BENCH_SNAP256 (0: skip the snap-256 rows), BENCH_STORAGE (default 512MB).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
test_timeout 900 "$0" "$@"
source "$HERE/../lib/assert.sh"
source "$HERE/../lib/floe.sh"
set -o pipefail

SECS=${BENCH_SECONDS:-5}
RUNS=${BENCH_RUNS:-3}
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

# Result rows: case|run|gbps|ratio|retr|seen|kept|lost|loss %|GB|cpu s|cpu s/GB|cpu %|bpf_ns
declare -a ROWS=()
row() { ROWS+=("$(
	IFS='|'
	echo "$*"
)"); }

pct() { awk -v t="$1" -v hz="$HZ" -v ns="$2" 'BEGIN { if (ns <= 0) { print "?"; exit } printf "%.1f\n", 100 * (t / hz) / (ns / 1e9) }'; }
# ratio A B [FMT]: A / B, "-" when either is not a positive number
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b + 0 <= 0 || a !~ /^[0-9.]+$/) { print "-"; exit } printf f "\n", a / b }'; }
# lossp LOST KEPT: lost / (lost + kept), in %
lossp() { awk -v l="$1" -v k="$2" 'BEGIN { if (l == "" || k == "" || l + k <= 0) { print "?"; exit } printf "%.2f\n", 100 * l / (l + k) }'; }
# thread_cpu PID: CPU seconds of each thread, busiest first: "name=Ns ..."
thread_cpu() {
	local f
	for f in /proc/"$1"/task/*/stat; do
		# the name may hold spaces: the fields after the closing parenthesis
		sed 's/^[0-9]* (\(.*\)) /\1\t/' "$f" | awk -F'\t' -v hz="$HZ" '{ split($2, a, " ");
			printf "%.2f %s\n", (a[12] + a[13]) / hz, $1 }'
	done 2>/dev/null | sort -rn | awk '{ printf "%s%s=%ss", sep, $2, $1; sep = " " }'
}
# settle PID: wait until the capturer has caught up (no CPU used over 200 ms; at most 5 s)
settle() {
	local a b i
	for ((i = 0; i < 25; i++)); do
		a=$(cpu_ticks "$1")
		sleep 0.2
		b=$(cpu_ticks "$1")
		[ "$a" = "$b" ] && return
	done
}

# ------------------------------------------------------------------ cases
UNTAPPED=
run_untapped() {
	local label=$1 src=$2 dst=$3
	local j=$T/untapped-$src.json
	iperf "$src" "$dst" "$j"
	UNTAPPED=$(gbps "$j")
	row "$label" "$ROUND" "$UNTAPPED" - "$(retr "$j")" - - - - - - - - -
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
		row "$label" "$ROUND" "floe failed to start" - - - - - - - - - - -
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
	settle "$FLOE_PID"
	local threads
	threads=$(thread_cpu "$FLOE_PID")
	floe_stop INT
	rm -rf "$d/store"
	local s=$d/stats.json rt cnt per lost kept gb cpu
	rt=$(($(cut -d' ' -f1 <<<"$b1") - $(cut -d' ' -f1 <<<"$b0")))
	cnt=$(($(cut -d' ' -f2 <<<"$b1") - $(cut -d' ' -f2 <<<"$b0")))
	per=$(awk -v r="$rt" -v c="$cnt" 'BEGIN { if (c > 0) printf "%.0f\n", r / c; else print "-" }')
	# lost: no room in the ring, or the store could not write it; kept: in the store
	lost=$(($(stat_get "$s" ringbuf_full) + $(stat_get "$s" store_lost)))
	kept=$(stat_get "$s" written)
	gb=$(awk -v b="$(stat_get "$s" bytes_written)" 'BEGIN { printf "%.2f\n", b / 1e9 }')
	cpu=$(jq -r '.cpu_s // "?"' "$s" 2>/dev/null)
	row "$label" "$ROUND" "$(gbps "$j")" "$(ratio "$(gbps "$j")" "$UNTAPPED")" "$(retr "$j")" \
		"$(stat_get "$s" seen)" "$kept" "$lost" "$(lossp "$lost" "$kept")" "$gb" "$cpu" \
		"$(ratio "$cpu" "$gb")" "$(pct $((c1 - c0)) $((t1 - t0)))" "$per"
	FLOE_NOTES+=("$label (run $ROUND): threads $threads; $(jq -c '{targeted, duplicate, store_wait_s, segments_evicted, store_bytes_peak}' "$s" 2>/dev/null)")
}

run_tcpdump() {
	local label=$1 snap=$2 d=$T/tcpdump-$2-$ROUND
	mkdir -p "$d"
	local j=$d/iperf.json
	node_bg "$d/tcpdump.log" tcpdump -i v-a -n -Z root -s "$snap" -C 100 -W 5 -w "$d/cap.pcap"
	local pid=$BG_PID
	if ! wait_for_line "$d/tcpdump.log" 'listening on' 10; then
		row "$label" "$ROUND" "tcpdump failed to start" - - - - - - - - - - -
		bg_stop "$pid" TERM
		return
	fi
	local c0 t0 c1 t1 call wchar
	c0=$(cpu_ticks "$pid")
	t0=$(now_ns)
	iperf a $B "$j"
	t1=$(now_ns)
	c1=$(cpu_ticks "$pid")
	settle "$pid"
	# Its whole run, as floe's cpu_s: CPU, and the bytes it wrote (its files rotate: count writes).
	call=$(cpu_ticks "$pid")
	wchar=$(awk '$1 == "wchar:" { print $2 }' "/proc/$pid/io" 2>/dev/null)
	bg_stop "$pid" INT
	rm -f "$d"/cap.pcap*
	local cap recv gb cpu
	cap=$(sed -n 's/^\([0-9]\+\) packets\? captured.*/\1/p' "$d/tcpdump.log")
	recv=$(sed -n 's/^\([0-9]\+\) packets\? received by filter.*/\1/p' "$d/tcpdump.log")
	gb=$(awk -v b="${wchar:-0}" 'BEGIN { printf "%.2f\n", b / 1e9 }')
	cpu=$(awk -v t="$call" -v hz="$HZ" 'BEGIN { printf "%.2f\n", t / hz }')
	row "$label" "$ROUND" "$(gbps "$j")" "$(ratio "$(gbps "$j")" "$UNTAPPED")" "$(retr "$j")" \
		"${recv:-?}" "${cap:-?}" "$((${recv:-0} - ${cap:-0}))" \
		"$(lossp $((${recv:-0} - ${cap:-0})) "${cap:-0}")" "$gb" "$cpu" "$(ratio "$cpu" "$gb")" \
		"$(pct $((c1 - c0)) $((t1 - t0)))" -
}

declare -a FLOE_NOTES=()
NRUN=0
REGEX_AB="${PREFIX}-(a|b)\$"
REGEX_A="${PREFIX}-a\$"

echo "bench: iperf3 TCP, ${SECS}s per run, $RUNS rounds, $(nproc) CPUs, kernel $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
in_pod a ping -c 1 -W 2 $B >/dev/null 2>&1
in_pod c ping -c 1 -W 2 $D >/dev/null 2>&1

# Warm-up (not reported): first runs on a fresh netns are slower.
in_pod a timeout 10 iperf3 -c $B -p 5201 -t 1 >/dev/null 2>&1
BPF_STATS_ORIG=$(sysctl -n kernel.bpf_stats_enabled)
for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
	# Each round: its own untapped baseline, then the capturers, whole packets. floe writes
	# plain PCAP segments (like tcpdump -w), then the default, zstd-compressed segments.
	run_untapped "a->b untapped" a $B
	sysctl -qw kernel.bpf_stats_enabled=1
	run_floe "a->b floe" 65535 a $B "$REGEX_AB" -A --no-compress
	run_floe "a->b floe zstd" 65535 a $B "$REGEX_AB" -A
	sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_ORIG"
	run_tcpdump "a->b tcpdump" 65535
done
ROUND=1
if [ "${BENCH_SNAP256:-1}" != 0 ]; then
	sysctl -qw kernel.bpf_stats_enabled=1
	run_floe "a->b floe snap 256" 256 a $B "$REGEX_AB" -A --no-compress
	sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_ORIG"
	run_tcpdump "a->b tcpdump snap 256" 256
fi
run_untapped "c->d untapped, no floe" c $D
sysctl -qw kernel.bpf_stats_enabled=1
run_floe "c->d while floe taps a" 256 c $D "$REGEX_A" -A
sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_ORIG"
BPF_STATS_ORIG=

# ------------------------------------------------------------------ report
{
	echo "case|run|Gbit/s|of untapped|retrans|pkts seen|kept|lost|lost %|GB recorded|CPU s|CPU s/GB|CPU % in run|BPF ns/run"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o '  '
echo
echo "Medians over the $RUNS rounds (whole packets):"
{
	echo "case|of untapped|lost %|CPU s/GB"
	for c in "a->b floe" "a->b floe zstd" "a->b tcpdump"; do
		printf '%s\n' "${ROWS[@]}" | awk -F'|' -v c="$c" '
			function med(a, n,   i, j, t) {
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
					if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
				return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			}
			$1 == c { n++; r[n] = $4; l[n] = $9; g[n] = $12 }
			END { if (n) printf "%s|%s|%s|%s\n", c, med(r, n), med(l, n), med(g, n) }'
	done
} | column -t -s '|' -o '  '
cat <<EOF

How to read it:
- Gbit/s: iperf3 receiver throughput (one TCP stream, ${SECS}s); "of untapped": against the
  untapped run of the same round, the capture's cost to the pods' flow.
- pkts seen: floe: packets that reached its hooks on both tapped veths (v-a and v-b, so each
  a<->b packet is seen twice; the second sighting is a "duplicate", not recorded again);
  tcpdump: "received by filter" on v-a only. Packets are skbs: with offloads on, many are GSO
  super-packets of up to 64 KB, so counts are far below wire-MTU packet counts.
- kept / lost: floe: written to the store / ringbuf_full (kernel ring buffer full) + store_lost,
  from --stats-json; tcpdump: "captured" / received - captured (its kernel drops).
- GB recorded: floe: PCAP bytes written (bytes_written, uncompressed); tcpdump: bytes it wrote
  (wchar of /proc/PID/io; its files rotate).
- CPU s: the capturer's whole run, all threads: floe's cpu_s from --stats-json (getrusage after
  the store is closed, so the compression of the last segment is in, and start-up too); tcpdump:
  utime+stime from /proc/PID/stat once it has caught up. CPU s/GB: CPU s / GB recorded.
- CPU % in run: utime+stime over the iperf3 run only, in % of one core. It excludes the BPF
  programs, which run in the sender's softirq context (next item). On a 2-CPU machine the
  capturer competes with iperf3's sender and receiver for the cores, so capturer CPU shows up
  directly as lost throughput.
- BPF ns/run: kernel.bpf_stats_enabled run_time_ns / run_cnt of floe's programs on the tapped
  veths over the run (every hook invocation, recorded or not).
- c->d rows: a flow between two pods that are not tapped while floe taps pod a on the same node.
  floe hooks only the tapped pods' veths, so that flow never reaches a floe program.
- 'floe' rows write plain PCAP segments (--no-compress) like tcpdump -w; 'zstd' rows use floe's
  default, compressing closed segments in a background thread (its CPU is in floe's).
- Disk bound: floe --storagelimit $STORAGE; tcpdump -C 100 -W 5 (500 MB ring of files).
- Load at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared).
EOF
if [ ${#FLOE_NOTES[@]} -gt 0 ]; then
	echo
	echo "floe per run (threads' CPU seconds, other counters):"
	printf '  %s\n' "${FLOE_NOTES[@]}"
fi
