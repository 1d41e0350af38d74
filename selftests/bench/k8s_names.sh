#!/usr/bin/env bash
# Benchmark: the memory of floe's names for a big cluster, against the real API server
# (selftests/k8s/cluster.sh). Creates BENCH_K8S_PODS (10000) Pods, Running with an IP, half on
# this bench's node and half on ten others, and BENCH_K8S_SERVICES (2000) Services with one
# EndpointSlice each (the pods, PODS/SERVICES per slice). Then runs floe tap -A on the node
# (no pod has a host interface here: nothing is hooked, every pod is named):
#   pods only   floe tap (no entries: Services and EndpointSlices are not read)
#   with names  floe tap --json (Services and EndpointSlices listed and watched, the resolver)
#   all nodes   floe tap --all-nodes --json: every pod (10000) in the pod table (--max-pods)
# and prints, per run, the time to its "tapping" line (the first lists), floe's RSS then, its
# CPU over the 3 s after (the 0.5 s retries of pods without a route), and with names the
# resolver's own count (--stats-json names_*). Not pass/fail.
# Usage (root, from the repo root): bash selftests/bench/k8s_names.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=1500 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
NPODS=${BENCH_K8S_PODS:-10000}
NSVCS=${BENCH_K8S_SERVICES:-2000}
# floe runs in the node netns, the API server's address relayed to it (as the tests do).
k8s_test_init "names of a big cluster"
kc create namespace bench >/dev/null && kc -n bench create serviceaccount default >/dev/null
NODE_NAME=bench-node
python3 "$HERE/k8s_objects.py" "https://127.0.0.1:$PORT" "$FLOE_K8S_STATE/pki" bench \
	"$NPODS" "$NSVCS" "$NODE_NAME" || exit 1
echo "# in the API: $(kc get pods -A --no-headers | wc -l) pods, $(kc get services -A --no-headers | wc -l) services, $(kc get endpointslices -A --no-headers | wc -l) endpointslices"

# cpu_ticks PID: user + system clock ticks of the process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run LABEL ARGS...: floe tap in the node netns, 3 s after its
# "tapping" line; prints the row.
run() {
	local label=$1 t0 t1 rss c0 c1
	shift
	t0=$(date +%s%N)
	FLOE_START_TIMEOUT=300 floe_start "$T/floe-$label.log" --kubeconfig "$ADMIN" \
		-A --store "$T/store-$label" --stats-json "$T/stats-$label.json" \
		"$@" || { echo "floe did not start ($label)"; return 1; }
	t1=$(date +%s%N)
	c0=$(cpu_ticks "$FLOE_PID")
	sleep 3
	c1=$(cpu_ticks "$FLOE_PID")
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$FLOE_PID/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$FLOE_PID/status")
	floe_stop >/dev/null
	printf '%-12s %10.2f %12s %12s %8s' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')" \
		"$((rss / 1024)) MiB" "$((hwm / 1024)) MiB" \
		"$(((c1 - c0) * 100 / $(getconf CLK_TCK) / 3))%"
	grep -q 'not followed' "$T/floe-$label.log" && printf '  %s' "$(grep 'not followed' "$T/floe-$label.log")"
	if [ "$label" != pods-only ]; then
		jq -r '"  \(.names_addrs) addresses, \(.names_spans_open) spans, \(.names_bytes / 1048576 * 10 | floor / 10) MiB by its count"' \
			"$T/stats-$label.json" | tr -d '\n'
	fi
	echo
}
echo "# $NPODS pods ($((NPODS / 2)) on the node), $NSVCS services x $((NPODS / NSVCS)) endpoints"
printf '%-12s %10s %12s %12s %8s  %s\n' run "start (s)" "RSS" "peak RSS" "CPU" "resolver"
run pods-only --node "$NODE_NAME"
run names --node "$NODE_NAME" --json
run all-nodes --all-nodes --json
