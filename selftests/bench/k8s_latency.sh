#!/usr/bin/env bash
# Benchmark: from the API event to the first captured packet of a new pod, against the real API
# server (selftests/k8s/cluster.sh). A network-namespace pod (pods.sh, routed as a CNI plugin
# would) sends a short HTTP request every ~2 ms, each on a new connection, to a server in a
# network namespace the API does not know (never tapped: only the new pod's hook can see the
# traffic). floe tap --json runs in the node netns. Each round: a Pod is made (Pending), then
# its status is written Running with the netns pod's IP (t0, through the status subresource,
# as a kubelet would); the round's figure is the request time of floe's first entry whose
# source is that Pod (by name: tapped and named), minus t0; the time until floe's
# "tapping new pod" line is printed beside it. The Pod is then deleted (floe untaps it) and
# the next round makes another on the same IP. Prints every round, then median, p99 (nearest
# rank: with fewer than 100 rounds, the largest) and the largest. Not pass/fail.
#   BENCH_K8S_LAT_ROUNDS   rounds (default 30)
# Usage (root, from the repo root): bash selftests/bench/k8s_latency.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=600 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
ROUNDS=${BENCH_K8S_LAT_ROUNDS:-30}
k8s_test_init "API event to first packet"

NODE_NAME=bench-node
C=10.213.10.11 S=10.213.10.12
pod_add c $C && pod_add s $S && k8s_route c && k8s_route s || { echo "pods failed"; exit 1; }
kc create namespace lat >/dev/null && kc -n lat create serviceaccount default >/dev/null

# The server answers every request at once; the client asks forever (new connection each time,
# so that a request begun before its pod was tapped does not hide the next ones).
pod_bg s "$T/server.log" python3 "$HERE/../lib/newconn.py" server 8080
wait_tcp_listen s 8080 10 || { echo "server failed"; exit 1; }
pod_bg c "$T/client.log" python3 "$HERE/../lib/newconn.py" client "$S" 8080

OUT=$T/entries.json
floe_start_json "$OUT" "$T/floe.log" --kubeconfig "$ADMIN" --node "$NODE_NAME" -n lat \
	--store "$T/store" --no-history || { echo "floe did not start"; exit 1; }

: >"$T/rounds"
for ((i = 1; i <= ROUNDS; i++)); do
	api_pod lat "p-$i" "$NODE_NAME"
	t0=$(date +%s%N)
	api_status lat "p-$i" Running $C
	tap_ns="" first=""
	while [ $(($(date +%s%N) - t0)) -lt 10000000000 ]; do
		if [ -z "$tap_ns" ] && grep -q "tapping new pod lat/p-$i\$" "$T/floe.log"; then
			tap_ns=$(date +%s%N)
		fi
		if grep -q "\"pod\":\"p-$i\"" "$OUT"; then
			first=1
			break
		fi
		sleep 0.01
	done
	[ -n "$tap_ns" ] || tap_ns=$(date +%s%N)
	echo "$i $t0 $((tap_ns - t0)) ${first:-none}" >>"$T/rounds"
	kc -n lat delete pod "p-$i" --grace-period=0 --force >/dev/null 2>&1
	wait_for_line "$T/floe.log" "pod lat/p-$i is gone" 10 || echo "# round $i: p-$i not untapped"
done
floe_stop >/dev/null

python3 - "$T/rounds" "$OUT" <<'EOF'
import json, sys
from datetime import datetime, timezone

def ns(t):  # RFC 3339 with nanoseconds, UTC
    base, frac = t.rstrip("Z").split(".")
    s = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(s) * 10**9 + int(frac.ljust(9, "0")[:9])

first = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    pod = (e.get("src") or {}).get("pod")
    if pod and e.get("request_time"):
        t = ns(e["request_time"])
        first[pod] = min(first.get(pod, t), t)
lat, tap = [], []
print("%-6s %14s %14s" % ("round", "first pkt (ms)", "tapped (ms)"))
for line in open(sys.argv[1]):
    i, t0, tap_ns, _ = line.split()
    tap.append(int(tap_ns) / 1e6)
    p = "p-" + i
    if p in first:
        lat.append((first[p] - int(t0)) / 1e6)
        print("%-6s %14.1f %14.1f" % (i, lat[-1], tap[-1]))
    else:
        print("%-6s %14s %14.1f" % (i, "none", tap[-1]))

def q(v, p):  # nearest rank
    v = sorted(v)
    return v[max(0, -(-len(v) * p // 100) - 1)]

for name, v in (("API event -> first packet", lat), ("API event -> 'tapping new pod' line", tap)):
    if v:
        print("# %s: %d rounds, median %.1f ms, p99 %.1f ms, max %.1f ms" %
              (name, len(v), q(v, 50), q(v, 99), max(v)))
    else:
        print("# %s: no round measured" % name)
EOF
