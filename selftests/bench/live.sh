#!/usr/bin/env bash
# `make bench`: live load. Many keep-alive HTTP/1.1 connections between two tapped pods, and
# `floe tap --json` turning them into entries while they run. Not pass/fail: one table.
#
# Topology (selftests/lib/pods.sh): pods cli and srv on one node netns bridge. nginx in srv
# (one worker, worker_connections above the client's count, a ~300-byte JSON file); wrk in cli
# with -c BENCH_LIVE_CONNS (10000) keep-alive connections, -t1, for BENCH_LIVE_SECONDS (15).
# Runs, one after the other:
#   untapped        wrk alone: what this machine can drive without floe
#   floe --json     floe tap of both pods --json, entries to a file
#   floe (no json)  floe tap of both pods, PCAP store only (the capture's own cost)
#
# Per floe run: wrk's completed requests (the ground truth), floe's entries and how many of them
# are incomplete (from its summary), packets not dissected (dissection queue full), packets lost
# in the kernel ring, floe's own CPU seconds (utime+stime of the whole process, all threads, from
# /proc/PID/stat, start to just before the stop signal), entries per CPU-second, peak RSS (VmHWM)
# and the part of it that is the ring buffer's mapping (Rss of the anon_inode:bpf-map mappings of
# smaps; the ring's data pages are mapped twice, so its Size is about 2 x --ringbuffer).
# Environment: BENCH_LIVE_SECONDS (15), BENCH_LIVE_CONNS (10000), BENCH_LIVE_THREADS (wrk -t, 1),
# BENCH_LIVE_ONLY (regex of run labels), FLOE_LIVE_ARGS (extra `floe tap` flags), BENCH_LIVE_PERF
# (a path prefix: perf record floe during each run, DWARF call graphs: floe has no frame
# pointers), BENCH_LIVE_PERF_STAT (a path prefix: `perf stat --per-thread` of floe's task-clock,
# context switches and page faults during each run), BENCH_LIVE_EXPORT (a path prefix: each run's store exported as PREFIX.LABEL.pcap, to
# profile the same traffic offline with `floe read`), BENCH_CLI_IP and BENCH_SRV_IP (the pods'
# addresses, 10.213.8.11 and .12).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
source "$HERE/nginx_conf.sh"
test_timeout 600 "$0" "$@"
source "$HERE/../lib/assert.sh"
source "$HERE/../lib/floe.sh"
set -o pipefail

SECS=${BENCH_LIVE_SECONDS:-15}
CONNS=${BENCH_LIVE_CONNS:-10000}
WTHREADS=${BENCH_LIVE_THREADS:-1}
ONLY=${BENCH_LIVE_ONLY:-.}
HZ=$(getconf CLK_TCK)
PEER_PER_CORE=90000 # DeepFlow agent: HTTP requests per second on one core (published figure)

cleanup() {
	floe_cleanup
	pods_cleanup
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
for t in nginx wrk; do
	command -v $t >/dev/null || { echo "bench: $t missing (make deps)" >&2; exit 1; }
done
# Each end (nginx, wrk: separate processes) holds CONNS sockets; both inherit this limit.
NOFILE=$((CONNS + 2048))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $NOFILE ]; then
	echo "bench: ulimit -Hn $(ulimit -Hn) is below $NOFILE (BENCH_LIVE_CONNS=$CONNS)" >&2
	exit 1
fi
ulimit -n $NOFILE || { echo "bench: cannot raise ulimit -n" >&2; exit 1; }

pods_tmp
T=$PODS_TMP
CLI=${BENCH_CLI_IP:-10.213.8.11} SRV=${BENCH_SRV_IP:-10.213.8.12}
pod_add cli $CLI && pod_add srv $SRV || { echo "bench: pods" >&2; exit 1; }
# 10000 connections from one address to one port: room in the ephemeral range and the backlog.
in_pod cli sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
in_pod srv sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535

W=$T/www
mkdir -p "$W" "$T/nginx"
{
	printf '{"items":['
	for i in 1 2 3 4 5 6; do
		printf '{"id":%d,"name":"item-%d","price":%d.99,"tags":["a","b"]}' "$i" "$i" "$((i * 7))"
		[ $i -lt 6 ] && printf ','
	done
	printf '],"total":6}\n'
} >"$W/api.json"
nginx_conf "$T/nginx.conf" "$T" "$SRV:80" "$W" $((CONNS + 1024)) "$NOFILE" off
pod_bg srv "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
wait_tcp_listen srv 80 10 || {
	echo "bench: nginx did not start" >&2
	cat "$T/nginx.log" "$T/nginx/error.log" >&2 2>/dev/null
	exit 1
}
in_pod cli ping -c 1 -W 2 $SRV >/dev/null 2>&1

# ------------------------------------------------------------------ helpers
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# bpf_map_kb PID FIELD: a field (Rss, Size) summed over the process's BPF map mappings.
bpf_map_kb() {
	awk -v f="$2:" '/^[0-9a-f]+-[0-9a-f]+ / { m = ($0 ~ /anon_inode:bpf-map/) } m && $1 == f { s += $2 }
		END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null
}
# per-thread CPU seconds of PID: "comm=s(sys s) ..." (the busiest first; sys: the system part,
# where softirqs that interrupt the thread, the veths' among them, are counted too)
thread_cpu() {
	local f
	for f in /proc/"$1"/task/*/stat; do
		# comm may hold spaces: fields after the closing parenthesis
		sed 's/^[0-9]* (\(.*\)) /\1\t/' "$f" | awk -F'\t' -v hz="$HZ" '{ split($2, a, " ");
			printf "%.2f %s %.2f\n", (a[12] + a[13]) / hz, $1, a[13] / hz }'
	done 2>/dev/null | sort -rn | awk '{ printf "%s%s=%ss(sys %s)", sep, $2, $1, $3; sep = " " }'
}
# per-thread context switches of PID (voluntary + involuntary): "comm=n ..." (the most first);
# each drain of the ring wakes the store's writer and the dissection thread
thread_switches() {
	local f
	for f in /proc/"$1"/task/*; do
		awk -v c="$(cat "$f/comm")" '/^(non)?voluntary_ctxt_switches:/ { n += $2 }
			END { print n, c }' "$f/status"
	done 2>/dev/null | sort -rn | awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }'
}
wrk_run() { # LOG
	in_pod cli timeout $((SECS + 60)) wrk -t"$WTHREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s \
		"http://$SRV/api.json" >"$1" 2>&1
}
wrk_reqs() { sed -n 's/^ *\([0-9]\+\) requests in .*/\1/p' "$1"; }
wrk_errs() {
	sed -n 's/^ *Socket errors: \(.*\)/\1/p; s/^ *Non-2xx or 3xx responses: \([0-9]\+\)/non-2xx \1/p' "$1" |
		paste -sd' ' -
}
summary_num() { sed -n "s/$2/\1/p" "$1" | tail -1; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN { if (b <= 0) { print "-"; exit } printf f "\n", a / b }'; }

# Rows: run|wrk req|req/s|entries|incomplete|complete-wrk|not dissected|ring lost|CPU s|entries/CPU s|peak RSS MB|ring Rss MB|RSS-ring MB
declare -a ROWS=() NOTES=()
row() { ROWS+=("$(
	IFS='|'
	echo "$*"
)"); }

run_untapped() {
	local log=$T/wrk-untapped.log n
	wrk_run "$log"
	n=$(wrk_reqs "$log")
	row "untapped" "${n:-?}" "$(div "${n:-0}" "$SECS")" - - - - - - - - - -
	NOTES+=("untapped wrk errors: $(wrk_errs "$log")")
}

# run_floe LABEL FLOE-ARGS...
run_floe() {
	local label=$1 d=$T/floe-$RANDOM
	shift
	mkdir -p "$d"
	# floe_start mixes stdout into its log: start it here, entries (stdout) to their own file.
	: >"$d/floe.log"
	ip netns exec "$NODE" "$FLOE" tap "(cli|srv)\$" -A --store "$d/store" --storagelimit 1GB --no-hub \
		--stats-json "$d/stats.json" "$@" $FLOE_LIVE_ARGS >"$d/entries" 2>"$d/floe.log" </dev/null &
	local pid=$!
	bg_track "$pid"
	if ! wait_for_line "$d/floe.log" '^floe: tapping ' 30; then
		row "$label: floe failed to start" - - - - - - - - - - - -
		cat "$d/floe.log" >&2
		bg_stop "$pid" KILL
		return
	fi
	local c0 c1 hwm ring ring_size n
	c0=$(cpu_ticks "$pid")
	local perf_pid=
	if [ -n "${BENCH_LIVE_PERF:-}" ]; then # a profile of floe during the load (perf report -i)
		perf record -q -F 499 --call-graph dwarf,16384 -p "$pid" -o "$BENCH_LIVE_PERF.${label// /_}" -- sleep "$SECS" \
			>/dev/null 2>&1 &
		perf_pid=$!
	fi
	local stat_pid=
	if [ -n "${BENCH_LIVE_PERF_STAT:-}" ]; then # per-thread software counters during the load
		perf stat --per-thread -e task-clock,context-switches,page-faults -p "$pid" \
			-o "$BENCH_LIVE_PERF_STAT.${label// /_}" -- sleep "$SECS" >/dev/null 2>&1 &
		stat_pid=$!
	fi
	wrk_run "$d/wrk.log"
	[ -z "$perf_pid" ] || wait "$perf_pid"
	[ -z "$stat_pid" ] || wait "$stat_pid"
	# Let the dissection thread catch up (its backlog counts in its CPU), then read the figures
	# of the live process: they are gone once it exits.
	sleep 2
	c1=$(cpu_ticks "$pid")
	hwm=$(status_kb "$pid" VmHWM)
	ring=$(bpf_map_kb "$pid" Rss)
	ring_size=$(bpf_map_kb "$pid" Size)
	NOTES+=("$label threads: $(thread_cpu "$pid")")
	NOTES+=("$label context switches: $(thread_switches "$pid")")
	# A tap under this load takes 2.5 s or more to stop (hooks, the ring, the store's close)
	# on a busy machine: killed after 3 s it would print no summary.
	bg_stop "$pid" INT 30
	[ -z "${BENCH_LIVE_EXPORT:-}" ] ||
		"$FLOE" pcap export --store "$d/store" --force -o "$BENCH_LIVE_EXPORT.${label// /_}.pcap" >/dev/null
	rm -rf "$d/store"
	n=$(wrk_reqs "$d/wrk.log")
	local s=$d/floe.log ent inc nd lost cpu
	ent=$(summary_num "$s" '^ *entries *\([0-9]\+\) (.*')
	inc=$(summary_num "$s" '^ *entries .*, \([0-9]\+\) incomplete).*')
	nd=$(summary_num "$s" '^ *not dissected: queue full *\([0-9]\+\) packets.*')
	lost=$(stat_get "$d/stats.json" ringbuf_full)
	cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
	if [ -z "$ent" ]; then # no --json: no entries lines in the summary
		ent=- inc=- nd=-
	fi
	local complete=- per=-
	if [ "$ent" != - ]; then
		complete=$((ent - inc - ${n:-0}))
		per=$(div "$ent" "$cpu")
	fi
	row "$label" "${n:-?}" "$(div "${n:-0}" "$SECS")" "$ent" "$inc" "$complete" "$nd" "${lost:-?}" "$cpu" \
		"$per" "$(div "${hwm:-0}" 1024 %.1f)" "$(div "${ring:-0}" 1024 %.1f)" \
		"$(div $((${hwm:-0} - ${ring:-0})) 1024 %.1f)"
	NOTES+=("$label: ring mappings $(div "${ring_size:-0}" 1024 %.0f) MB mapped; wrk errors: $(wrk_errs "$d/wrk.log"); json lines: $(wc -l <"$d/entries")")
	NOTES+=("$label: $(grep -E '^ *drain waited' "$s" | sed 's/^ *//; s/  */ /g' | paste -sd';' -)")
	NOTES+=("$label: $(grep -E '^ *(queue memory|entry history)' "$s" | sed 's/^ *//; s/  */ /g' | paste -sd';' -)")
	[ -n "${KEEP_TMP:-}" ] || rm -f "$d/entries"
}

echo "bench: live load: wrk -t$WTHREADS -c$CONNS ${SECS}s, nginx 1 worker; $(nproc) CPUs, kernel $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Warm-up (not reported): connections, page cache, nginx's worker.
in_pod cli timeout 20 wrk -t1 -c100 -d2s "http://$SRV/api.json" >/dev/null 2>&1
[[ untapped =~ $ONLY ]] && run_untapped
[[ "floe --json" =~ $ONLY ]] && run_floe "floe --json" --json
[[ "floe store only" =~ $ONLY ]] && run_floe "floe store only"
# The peer's published figure, for the entries / CPU s column (not measured here).
row "peer: DeepFlow agent (published)" - - - - - - - - "$PEER_PER_CORE" - - -

{
	echo "run|wrk requests|req/s|entries|incomplete|complete - wrk|not dissected|ring lost|floe CPU s|entries / CPU s|peak RSS MB|ring Rss MB|RSS beyond ring MB"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o '  '
cat <<EOF

How to read it:
- wrk requests: requests wrk completed (a response read), the ground truth for the entries.
  Entries at or above it with "complete - wrk" >= 0 mean every completed request is an entry;
  incomplete entries are requests in flight when wrk stopped (at most one per connection) or
  entries floe could not finish (their missing_reason says why).
- not dissected: packets the dissection queue refused (stored, but not turned into entries);
  ring lost: packets the kernel ring buffer had no room for (not stored either).
- floe CPU s: utime+stime of the floe process (all its threads) from start to 2 s after wrk;
  entries / CPU s against the peer's published figure: DeepFlow's agent, ${PEER_PER_CORE} HTTP
  requests/s on one core.
- peak RSS: VmHWM. ring Rss: the resident part of floe's BPF map mappings (the ring buffer,
  --ringbuffer, default 32 MB, most of it). RSS beyond ring: the rest, the agent's own memory.
- Load at the start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: note it).
EOF
echo
printf '  %s\n' "${NOTES[@]}"
