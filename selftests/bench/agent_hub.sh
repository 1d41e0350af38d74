#!/usr/bin/env bash
# `make bench`: entries from one real floe-agent tapping pods, through floe-hub (gRPC), to one
# WebSocket client of /api/v1/stream; not pass/fail. Two phases in one run:
#   load    wrk -c BENCH_AH_CONNS (50) for BENCH_AH_SECONDS (10) between two tapped pods
#           (nginx): wrk's requests (the ground truth, side by side) against the entries the
#           client got and their rate there, and the latency under that load;
#   paced   BENCH_AH_PACED (200) requests, BENCH_AH_RATE (20) a second (curl --rate): the
#           latency of an entry on a quiet path.
# Latency: from the packet that completed the entry (its response_time, the kernel's timestamp
# of the response's first byte, CLOCK_REALTIME) to the client holding the entry (the same
# clock: one machine). The hub holds live entries up to 200 ms to put them in time order
# across agents (docs/hub.md, the stream): with one agent an entry waits for the next one or
# for the hold, which the paced figure shows. The client asks for batches (BENCH_AH_BATCH,
# default batch=1000&batch_ms=50; empty: one message per entry). BENCH_AH_CLI / BENCH_AH_SRV:
# the pods' addresses (default 10.213.54.11 / .12).
# Usage (root, from the repo root, after make all): bash selftests/bench/agent_hub.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
source "$HERE/nginx_conf.sh"
test_timeout 300 "$0" "$@"
source "$HERE/../lib/assert.sh"
source "$HERE/../lib/floe.sh"
set -o pipefail

SECS=${BENCH_AH_SECONDS:-10}
CONNS=${BENCH_AH_CONNS:-50}
PACED=${BENCH_AH_PACED:-200}
RATE=${BENCH_AH_RATE:-20}
PY=/usr/bin/python3
AGENT=$(floe_root)/build/floe-agent
HUB=$(floe_root)/build/floe-hub
APORT=18897 HPORT=18896

trap pods_cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM
[ "$(id -u)" -eq 0 ] || { echo "bench: must run as root" >&2; exit 1; }
for b in "$AGENT" "$HUB"; do
	[ -x "$b" ] || { echo "bench: $b missing (make all)" >&2; exit 1; }
done
for t in nginx wrk curl; do
	command -v $t >/dev/null || { echo "bench: $t missing (make deps)" >&2; exit 1; }
done

pods_tmp
T=$PODS_TMP
CLI=${BENCH_AH_CLI:-10.213.54.11} SRV=${BENCH_AH_SRV:-10.213.54.12}
pod_add cli $CLI && pod_add srv $SRV || { echo "bench: pods" >&2; exit 1; }
mkdir -p "$T/www"
printf '{"items":[{"id":1,"name":"item-1","price":7.99}],"total":1}\n' >"$T/www/api.json"
nginx_conf "$T/nginx.conf" "$T" "$SRV:80" "$T/www"
pod_bg srv "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
wait_tcp_listen srv 80 10 || { echo "bench: nginx did not start" >&2; exit 1; }
INV=$T/inventory
printf '%s front\n%s back\n' "$(pod_ns cli)" "$(pod_ns srv)" >"$INV"

node_bg "$T/agent.log" "$AGENT" "^${PREFIX}-(cli|srv)\$" -A --inventory "$INV" --store "$T/store" \
	--storagelimit 1GB --listen "127.0.0.1:$APORT" --stats-json "$T/agent.stats.json"
AGENT_PID=$BG_PID
wait_for_line "$T/agent.log" '^floe: tapping 2 pods' 30 || { cat "$T/agent.log" >&2; exit 1; }
node_bg "$T/hub.log" "$HUB" --agents "127.0.0.1:$APORT" --proxy-hub-port $HPORT --proxy-front-port 0
wait_for_line "$T/hub.log" 'API on http://' 10 || { cat "$T/hub.log" >&2; exit 1; }

OUT=$T/client.txt
node_bg "$T/client.log" $PY "$HERE/agent_hub.py" follow "ws://127.0.0.1:$HPORT/api/v1/stream?q=http" \
	"$OUT" "$T/ready" "$T/stop"
CLIENT_PID=$BG_PID
for _ in $(seq 100); do
	[ -e "$T/ready" ] && break
	sleep 0.1
done
[ -e "$T/ready" ] || { echo "bench: the stream never said live" >&2; cat "$T/client.log" >&2; exit 1; }

echo "== floe-agent -> floe-hub -> WebSocket client ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
in_pod cli timeout $((SECS + 30)) wrk -t1 -c"$CONNS" -d"${SECS}s" "http://$SRV/api.json?load" >"$T/wrk.log" 2>&1
wrk_n=$(sed -n 's/^ *\([0-9]\+\) requests in .*/\1/p' "$T/wrk.log")
sleep 3 # the last entries' hold (200 ms) and the agent's dissection backlog
in_pod cli curl -sS --max-time 60 --rate "$RATE/s" -o /dev/null "http://$SRV/api.json?paced=[1-$PACED]"
sleep 2
HUB_STATS=$(on_node curl -sS --max-time 10 "http://127.0.0.1:$HPORT/api/v1/stats" | jq -c .hub)
touch "$T/stop"
wait_pid "$CLIENT_PID" 30 >/dev/null
kill -INT "$AGENT_PID"
wait_pid "$AGENT_PID" 60 || echo "bench: floe-agent still running 60 s after SIGINT" >&2

echo "load: wrk -c$CONNS ${SECS}s: $wrk_n requests ($(awk -v n="${wrk_n:-0}" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')/s, wrk's count: the ground truth)"
$PY "$HERE/agent_hub.py" report "$OUT" "?load"
echo "paced: $PACED requests at $RATE/s"
$PY "$HERE/agent_hub.py" report "$OUT" "?paced="
echo "agent: recorded $(stat_get "$T/agent.stats.json" recorded) packets, ring lost $(stat_get "$T/agent.stats.json" ringbuf_full), entries $(stat_get "$T/agent.stats.json" dissect_entries), not dissected (queue full) $(stat_get "$T/agent.stats.json" dissect_queue_dropped)"
echo "hub: $HUB_STATS"
echo "No peer tool serves entries over a hub's WebSocket: wrk's own count is the side-by-side figure."
