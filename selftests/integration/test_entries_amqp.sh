#!/usr/bin/env bash
# Integration: AMQP 0-9-1 entries through the real eBPF path. Pod b runs Debian's
# rabbitmq-server (its own epmd in the pod's network namespace, node, cookie, database and
# logs all under the run's temp dir, listening on b's address only); pod a runs a
# python3-pika client (selftests/lib/amqp_peer.py): declares, binds, publishes with
# properties and bodies (one larger than frame_max, one binary), consumes with batched and
# negative acks, basic_get settled three ways and an empty get, publisher confirms with a
# mandatory publish to an unroutable key (Basic.Return), an inequivalent Queue.Declare
# (Channel.Close 406), a transaction, purge/unbind/deletes, heartbeats. floe taps both pods
# with --json; every entry it prints live is compared with what the client logged it sent
# and received (methods, arguments, properties, body sizes and hashes, acks by delivery tag),
# exactly once, pods right in src/dst. Then `floe read` of the exported PCAP must give the
# same entries and count the heartbeats.
# Usage (root, from the repo root): bash selftests/integration/test_entries_amqp.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
source "$HERE/../lib/rabbitmq.sh"

T=$PODS_TMP
A=10.213.41.11 B=10.213.41.12
PORT=5672

need_cmd "rabbitmq-server and epmd are installed" "$RABBITMQ_SERVER" epmd || done_testing
if ! "$PY" -c 'import pika' 2>/dev/null; then
	skip "python3-pika is installed" "python3-pika is not installed (selftests/lib/deps.sh)"
	done_testing
fi
entries_pods $A $B

# The broker's world, all of it in $T (selftests/lib/rabbitmq.sh).
start=$(date +%s)
if ! rabbitmq_start b $B $PORT 120; then
	not_ok "rabbitmq-server listens in b"
	diag "$(tail -n 40 "$RABBITMQ_LOG")"
	done_testing
fi
ok "rabbitmq-server listens in b (after $(($(date +%s) - start)) s)"
check "rabbitmq-server listens on b's address only" \
	sh -c "! ip netns exec $(pod_ns b) ss -Hltn 'sport = :$PORT' | grep -v '$B:$PORT' | grep -q ."

entries_tap

start=$(date +%s%N)
if in_pod a "$PY" "$HERE/../lib/amqp_peer.py" client $B $PORT "$T/client.log" >"$T/client.out" 2>&1; then
	ok "the pika client ran"
else
	not_ok "the pika client ran"
	diag "$(tail -n 30 "$T/client.out")"
fi
diag "AMQP traffic took $((($(date +%s%N) - start) / 1000000)) ms"
n=$(jq -s '[.[] | if .ev == "connect" then 3 elif .ev == "channel_error" then 2
	elif (.ev == "heartbeat_wait" or .ev == "error") then 0 else 1 end] | add // 0' "$T/client.log")
diag "the client logged $n AMQP exchanges"
entries_stop "$n"

checks "$PY" "$HERE/../lib/amqp_peer.py" check "${ENTRIES_WINDOW[@]}" --entries "$OUT" \
	--log "$T/client.log" --client-pod "$(pod_ns a)" --server-pod "$(pod_ns b)" --port $PORT
[ -n "${V:-}" ] && diag "$(jq -c '[.id, .request.method, .request.channel, .response.method, .missing]' "$OUT")"

entries_vs_read
x=${OUT%.json}
hb=$(grep -oE 'amqp\.heartbeats [0-9]+' "$x.read.log" | awk '{ print $2 }')
check "floe read counts heartbeats in the capture, not as entries (${hb:-0})" test "${hb:-0}" -ge 2
check "floe read: no AMQP parse error" grep -qE ' 0 parse errors' "$x.read.log"

rabbitmq_stop
done_testing
