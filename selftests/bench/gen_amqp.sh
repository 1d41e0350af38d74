#!/usr/bin/env bash
# Generates the AMQP capture of the dissection benchmark: build/bench/amqp.pcap, tens of MB and
# tens of thousands of messages made by Debian's rabbitmq-server and a python3-pika client
# (selftests/lib/amqp_peer.py load): one connection publishing (every tenth message on a
# publisher-confirm channel; bodies of ~200 B, 2 KB, 10 KB and a 200 KB one per thousand, the
# last larger than frame_max), one consuming with manual multiple acks, a basic_get every
# thousand messages. Reused as it is when it exists (BENCH_REGEN=1 makes a new one). build/ is
# not in git.
#
# Topology (selftests/lib/pods.sh): pods "cli" and "srv" on one node netns bridge; the broker in
# srv (selftests/lib/rabbitmq.sh: its own epmd, state under the run's temp dir); tcpdump -s 0
# on the server's host veth in the node netns records the whole time.
#
# The same messages in tshark (method frames; every Basic.Publish/Deliver/Get-Ok, each ack):
#   tshark -r build/bench/amqp.pcap -Y 'amqp.type == 1' -T fields -e frame.number \
#       -e amqp.channel -e amqp.method.class -e amqp.method.method -e amqp.method.arguments.routing_key
#
# Environment: BENCH_AMQP_CAPTURE (output path), BENCH_AMQP_MESSAGES (40000), BENCH_REGEN=1,
# BENCH_GEN_MAX_SECONDS (300: the client stops publishing then).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
source "$HERE/../lib/rabbitmq.sh"
ROOT=$(floe_root)
OUT=${BENCH_AMQP_CAPTURE:-$ROOT/build/bench/amqp.pcap}
MESSAGES=${BENCH_AMQP_MESSAGES:-40000}
MAXSECS=${BENCH_GEN_MAX_SECONDS:-300}
PY=/usr/bin/python3

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [ -z "${BENCH_REGEN:-}" ] && [ "$(fsize "$OUT")" -gt 0 ]; then
	echo "gen_amqp: reusing $OUT ($(fsize "$OUT") bytes)" >&2
	exit 0
fi

test_timeout $((MAXSECS + 300)) "$0" "$@"
set -o pipefail
PART=$OUT.part

cleanup() {
	pods_cleanup
	rm -f -- "$PART"
}
trap cleanup EXIT
trap 'echo "gen_amqp: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "gen_amqp: must run as root" >&2
	exit 1
fi
for t in "$RABBITMQ_SERVER" epmd tcpdump; do
	command -v "$t" >/dev/null || { echo "gen_amqp: $t missing (make deps)" >&2; exit 1; }
done
"$PY" -c 'import pika' || { echo "gen_amqp: python3-pika missing (make deps)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"

pods_tmp
T=$PODS_TMP
CLI=10.213.42.11 SRV=10.213.42.12 PORT=5672
pod_add cli $CLI && pod_add srv $SRV || { echo "gen_amqp: pods" >&2; exit 1; }
if ! rabbitmq_start srv $SRV $PORT 180; then
	echo "gen_amqp: rabbitmq-server did not start:" >&2
	tail -n 30 "$RABBITMQ_LOG" >&2
	exit 1
fi

rm -f -- "$PART"
node_bg "$T/tcpdump.log" tcpdump -i v-srv -n -Z root -s 0 -B 131072 -w "$PART"
TCPDUMP=$BG_PID
wait_for_line "$T/tcpdump.log" 'listening on' 10 || { echo "gen_amqp: tcpdump" >&2; exit 1; }

start=$(date +%s)
if ! in_pod cli timeout $((MAXSECS + 60)) "$PY" "$HERE/../lib/amqp_peer.py" load $SRV $PORT \
	--messages "$MESSAGES" --seconds "$MAXSECS" >"$T/load.out" 2>&1; then
	echo "gen_amqp: the client failed:" >&2
	tail -n 20 "$T/load.out" >&2
	exit 1
fi
# Let tcpdump drain what the kernel still holds for it (its file stops growing).
prev=-1 still=0
for ((i = 0; i < 120 && still < 4; i++)); do
	sleep 0.25
	cur=$(fsize "$PART")
	if [ "$cur" = "$prev" ]; then still=$((still + 1)); else still=0; fi
	prev=$cur
done
bg_stop "$TCPDUMP" INT
rabbitmq_stop
cat "$T/tcpdump.log" >&2
drop=$(sed -n 's/^\([0-9]\+\) packets\? dropped by kernel.*/\1/p' "$T/tcpdump.log")
mv -- "$PART" "$OUT"
counts=$(tail -n 1 "$T/load.out")
printf 'gen_amqp: %s: %d bytes, %d s; client %s; tcpdump dropped by kernel: %s\n' \
	"$OUT" "$(fsize "$OUT")" $(($(date +%s) - start)) "$counts" "${drop:-?}" >&2
if [ "${drop:-1}" != 0 ]; then
	echo "gen_amqp: warning: tcpdump dropped packets: the capture has gaps" >&2
fi
printf '%s\n' "client=$counts dropped=${drop:-?} bytes=$(fsize "$OUT")" >"$OUT.info"
