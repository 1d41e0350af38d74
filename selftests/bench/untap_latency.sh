#!/usr/bin/env bash
# Benchmark (local mode): a pod leaves the scope and comes back while its traffic goes on, as in
# each round of k8s_latency.sh (a Pod deleted, the next made Running on the same veth), without
# the API server. Pod c asks server s (never tapped) over a new connection every ~2 ms
# (selftests/lib/newconn.py). Each round: c's namespace changed in the inventory to one out of
# scope (floe untaps c), then at once back (t0; floe taps c again); the round's figure is the
# request time of the first entry of c after t0, minus t0. Also the TCP segments c and s sent
# again over all rounds (a packet floe's hooks dropped costs the client 0.2 s to 1 s).
# BASELINE=/path/to/floe runs the same rounds with another build first (side by side, same
# machine, same run). Not pass/fail.
#   BENCH_UNTAP_ROUNDS   rounds (default 20)
# Usage (root, from the repo root): [BASELINE=FLOE] bash selftests/bench/untap_latency.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=600 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
ROUNDS=${BENCH_UNTAP_ROUNDS:-20}
T=$PODS_TMP
C=10.226.20.11 S=10.226.20.12
pod_add c $C && pod_add s $S || { echo "pods failed"; exit 1; }
INV=$T/inventory
inventory() { printf '%s %s\n%s back\n' "$(pod_ns c)" "$1" "$(pod_ns s)" >"$INV.tmp" && mv "$INV.tmp" "$INV"; }
pod_bg s "$T/server.log" python3 "$HERE/../lib/newconn.py" server 8080
wait_tcp_listen s 8080 10 || { echo "server failed"; exit 1; }
pod_bg c "$T/client.log" python3 "$HERE/../lib/newconn.py" client $S 8080
wait_for_line "$T/client.log" '^50$' 10 || { echo "client failed"; exit 1; }

retrans() {
	in_pod "$1" awk '
		/^Tcp:/ { if (th) { for (i = 1; i <= NF; i++) if (tk[i] == "RetransSegs") n += $i } else { for (i = 1; i <= NF; i++) tk[i] = $i; th = 1 } }
		/^TcpExt:/ { if (xh) { for (i = 1; i <= NF; i++) if (xk[i] == "TCPSynRetrans") n += $i } else { for (i = 1; i <= NF; i++) xk[i] = $i; xh = 1 } }
		END { print n + 0 }' /proc/net/snmp /proc/net/netstat
}

# wait_count FILE ERE N: until FILE has N lines matching ERE (10 s at most).
wait_count() {
	local end=$(($(date +%s) + 10))
	until [ "$(grep -Ec -- "$2" "$1")" -ge "$3" ]; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# run LABEL FLOE: the rounds with that floe binary; one summary line.
run() {
	local label=$1 out=$T/$1.json log=$T/$1.log i t0 r0 r1
	inventory front
	FLOE=$2 floe_start_json "$out" "$log" -n front --inventory "$INV" --store "$T/$1.store" \
		--no-history || { echo "$label: floe did not start"; return; }
	: >"$T/$label.rounds"
	r0=$(($(retrans c) + $(retrans s)))
	for ((i = 1; i <= ROUNDS; i++)); do
		inventory back
		wait_count "$log" 'is gone$' "$i" || echo "# $label round $i: c not untapped"
		t0=$(date +%s%N)
		inventory front
		wait_count "$log" '^floe: tapping new pod' "$i" || echo "# $label round $i: c not tapped"

		echo "$i $t0" >>"$T/$label.rounds"
		# the round's first entries: until one is printed after t0 (the output is flushed
		# within a second), or 3 s
		sleep 1.2
	done
	r1=$(($(retrans c) + $(retrans s)))
	floe_stop >/dev/null
	python3 - "$T/$label.rounds" "$out" "$label" "$((r1 - r0))" <<'EOF'
import json, sys
from datetime import datetime, timezone

def ns(t):
    base, frac = t.rstrip("Z").split(".")
    s = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(s) * 10**9 + int(frac.ljust(9, "0")[:9])

times = sorted(ns(e["request_time"]) for e in map(json.loads, open(sys.argv[2]))
               if (e.get("src") or {}).get("pod", "").endswith("-c") and e.get("request_time"))
lat = []
for line in open(sys.argv[1]):
    t0 = int(line.split()[1])
    after = [t for t in times if t >= t0]
    if after:
        lat.append((after[0] - t0) / 1e6)
lat.sort()
def q(p):
    return lat[max(0, -(-len(lat) * p // 100) - 1)]
print("%-9s %d rounds: first entry after the re-tap median %.1f ms, p99 %.1f ms, max %.1f ms; "
      "over 300 ms in %d rounds; TCP retransmissions %s" %
      (sys.argv[3], len(lat), q(50), q(99), lat[-1], sum(1 for v in lat if v > 300), sys.argv[4]))
EOF
}

[ -n "${BASELINE:-}" ] && run baseline "$BASELINE"
run floe "$(floe_root)/build/floe"
