#!/usr/bin/env bash
# Benchmark: the memory of floe's names for a big cluster, against the real API server
# (selftests/k8s/cluster.sh). Creates BENCH_K8S_PODS (10000) Pods, Running with an IP, half on
# this bench's node and half on ten others, and BENCH_K8S_SERVICES (2000) Services with one
# EndpointSlice each (the pods, PODS/SERVICES per slice). Then runs floe tap -A on the node
# (no pod has a host interface here: nothing is hooked, every pod is named):
#   pods only   floe tap (no entries: Services and EndpointSlices are not read)
#   with names  floe tap --json (Services and EndpointSlices listed and watched, the resolver)
# and prints, per run, the time to its "tapping" line (the first lists), floe's RSS then, and for
# the second the resolver's own count (--stats-json names_*). Not pass/fail.
# Usage (root, from the repo root): bash selftests/bench/k8s_names.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
test_timeout 1500 "$0" "$@"
source "$HERE/../lib/assert.sh"
source "$HERE/../lib/floe.sh"
K8S=$HERE/../k8s
CLUSTER=$K8S/cluster.sh
# shellcheck source=selftests/k8s/lib.sh
source "$K8S/lib.sh"
NPODS=${BENCH_K8S_PODS:-10000}
NSVCS=${BENCH_K8S_SERVICES:-2000}
for bin in "$K8S_BIN/kube-apiserver" "$K8S_BIN/kubectl" "$ETCD_BIN/etcd"; do
	[ -x "$bin" ] || { echo "# skip: $bin is not built (make k8s-deps)"; exit 0; }
done
pods_tmp
T=$PODS_TMP
export FLOE_K8S_STATE=$T/cluster
cleanup() {
	floe_cleanup
	bash "$CLUSTER" down 2>/dev/null
	pods_cleanup
}
trap cleanup EXIT

ADMIN=$(bash "$CLUSTER" up 2>"$T/up.err" | tail -n 1)
[ -f "$ADMIN" ] || { echo "cluster.sh up failed:"; tail -n 20 "$T/up.err"; exit 1; }
PORT=$(cat "$FLOE_K8S_STATE/apiserver.port")
kc() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN" "$@"; }
kc create namespace bench >/dev/null
NODE_NAME=bench-node
python3 "$HERE/k8s_objects.py" "https://127.0.0.1:$PORT" "$FLOE_K8S_STATE/pki" bench \
	"$NPODS" "$NSVCS" "$NODE_NAME" || exit 1
echo "# in the API: $(kc get pods -A --no-headers | wc -l) pods, $(kc get services -A --no-headers | wc -l) services, $(kc get endpointslices -A --no-headers | wc -l) endpointslices"

# run LABEL ARGS...: floe tap on the host (the API server is on its loopback), 3 s after its
# "tapping" line; prints the row.
run() {
	local label=$1 t0 t1 rss
	shift
	t0=$(date +%s%N)
	FLOE_START_TIMEOUT=300 floe_start "$T/floe-$label.log" --kubeconfig "$ADMIN" \
		--node "$NODE_NAME" -A --store "$T/store-$label" --stats-json "$T/stats-$label.json" \
		"$@" || { echo "floe did not start ($label)"; return 1; }
	t1=$(date +%s%N)
	sleep 3
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$FLOE_PID/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$FLOE_PID/status")
	floe_stop >/dev/null
	printf '%-12s %10.2f %12s %12s' "$label" "$(echo "($t1 - $t0) / 1e9" | bc -l)" \
		"$((rss / 1024)) MiB" "$((hwm / 1024)) MiB"
	if [ "$label" = names ]; then
		jq -r '"  \(.names_addrs) addresses, \(.names_spans_open) spans, \(.names_bytes / 1048576 * 10 | floor / 10) MiB by its count"' \
			"$T/stats-$label.json" | tr -d '\n'
	fi
	echo
}
echo "# $NPODS pods ($((NPODS / 2)) on the node), $NSVCS services x $((NPODS / NSVCS)) endpoints"
printf '%-12s %10s %12s %12s  %s\n' run "start (s)" "RSS" "peak RSS" "resolver"
run pods-only
run names --json
