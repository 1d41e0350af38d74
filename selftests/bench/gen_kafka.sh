#!/usr/bin/env bash
# Generates the Kafka capture of the dissection benchmark: build/bench/kafka.pcap, at least
# BENCH_KAFKA_BYTES (default 40 MiB) of Kafka traffic between a real client and the scripted
# broker. Reused as it is when it already exists and is big enough (BENCH_REGEN=1 makes a new
# one). build/ is not in git.
#
# Topology (selftests/lib/pods.sh): pods "kcli" and "ksrv" on one node netns bridge; traffic
# only between them. ksrv runs selftests/lib/kafka_peer.py on :9092: a scripted peer, NOT Apache
# Kafka (no Kafka broker is installable here; see docs/kafka.md). kcli runs kcat (librdkafka) in
# rounds of BENCH_KAFKA_ROUND_MESSAGES (default 4000) messages of 200-700 bytes with keys:
# produce them (4 records per Produce request, so thousands of requests per round; the round's
# compression cycles through none, gzip, snappy, lz4 and zstd) to one of four topics, then
# consume them back (Fetch responses of up to 64 KiB per partition). tcpdump -i v-ksrv -s 0
# records in the node netns the whole time; its "dropped by kernel" count is printed (non-zero
# means gaps). Finally the capture's counts are printed, with the tshark command that decodes
# the same messages.
#
# Environment: BENCH_KAFKA_BYTES (41943040), BENCH_KAFKA_CAPTURE (output path), BENCH_REGEN=1,
# BENCH_KAFKA_ROUND_MESSAGES (4000), BENCH_GEN_MAX_SECONDS (600: stop generating then, whatever
# the size).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
ROOT=$(floe_root)
OUT=${BENCH_KAFKA_CAPTURE:-$ROOT/build/bench/kafka.pcap}
WANT=${BENCH_KAFKA_BYTES:-41943040}
PY=/usr/bin/python3

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [ -z "${BENCH_REGEN:-}" ] && [ "$(fsize "$OUT")" -ge "$WANT" ]; then
	echo "gen_kafka: reusing $OUT ($(fsize "$OUT") bytes)" >&2
	exit 0
fi

test_timeout $((${BENCH_GEN_MAX_SECONDS:-600} + 120)) "$0" "$@"
set -o pipefail

MAXSECS=${BENCH_GEN_MAX_SECONDS:-600}
ROUND_MSGS=${BENCH_KAFKA_ROUND_MESSAGES:-4000}
PART=$OUT.part

cleanup() {
	pods_cleanup
	rm -f -- "$PART"
}
trap cleanup EXIT
trap 'echo "gen_kafka: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "gen_kafka: must run as root" >&2
	exit 1
fi
for t in kcat tcpdump $PY; do
	command -v $t >/dev/null || { echo "gen_kafka: $t missing (make deps)" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"

pods_tmp
T=$PODS_TMP
CLI=10.213.8.11 SRV=10.213.8.12
pod_add kcli $CLI && pod_add ksrv $SRV || { echo "gen_kafka: pods" >&2; exit 1; }

pod_bg ksrv "$T/peer.out" $PY "$HERE/../lib/kafka_peer.py" --listen $SRV --port 9092 \
	--log "$T/peer.log"
wait_tcp_listen ksrv 9092 10 || { echo "gen_kafka: the peer did not start" >&2; cat "$T/peer.out" >&2; exit 1; }

node_bg "$T/tcpdump.err" tcpdump -i v-ksrv -s 0 -B 131072 -w "$PART" tcp port 9092
TD=$BG_PID
wait_for_line "$T/tcpdump.err" 'listening on' 10 || { echo "gen_kafka: tcpdump" >&2; exit 1; }

# The round's messages: "key-N:value" lines of 200-700 bytes (printable, varied).
gen_msgs() {
	$PY -c 'import random, string, sys
r = random.Random(int(sys.argv[2]))
alpha = string.ascii_letters + string.digits + " ,.-"
for i in range(int(sys.argv[1])):
    n = r.randint(200, 700)
    print("key-%d:%s" % (i, "".join(r.choice(alpha) for _ in range(n))))' "$1" "$2"
}

codecs=(none gzip snappy lz4 zstd)
start=$(date +%s)
round=0
while [ "$(fsize "$PART")" -lt "$WANT" ] && [ $(($(date +%s) - start)) -lt "$MAXSECS" ]; do
	z=${codecs[$((round % 5))]}
	topic=bench-$((round % 4))
	gen_msgs "$ROUND_MSGS" "$round" >"$T/msgs.txt"
	in_pod kcli timeout 120 kcat -b $SRV:9092 -P -t "$topic" -K: -z "$z" -X linger.ms=0 \
		-X batch.num.messages=4 -X queue.buffering.max.messages=100000 <"$T/msgs.txt" ||
		{ echo "gen_kafka: kcat -P failed in round $round" >&2; exit 1; }
	in_pod kcli timeout 120 kcat -b $SRV:9092 -C -t "$topic" -o "-$ROUND_MSGS" -e -q \
		-X fetch.message.max.bytes=65536 >/dev/null ||
		{ echo "gen_kafka: kcat -C failed in round $round" >&2; exit 1; }
	round=$((round + 1))
	sync
done
sleep 0.5
bg_stop "$TD" INT
grep -E 'captured|dropped' "$T/tcpdump.err" >&2
mv -- "$PART" "$OUT"
echo "gen_kafka: $OUT: $(fsize "$OUT") bytes, $round rounds of $ROUND_MSGS messages," \
	"$(grep -c . "$T/peer.log") requests answered by the scripted peer" >&2
echo "gen_kafka: tshark decodes the same messages with:" >&2
echo "  tshark -n -r $OUT -Y kafka -T fields -e kafka.api_key -e kafka.api_version" \
	"-e kafka.correlation_id -e kafka.client_id -e kafka.topic_name -e kafka.error" >&2
