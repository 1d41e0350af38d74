#!/usr/bin/env bash
# Generates the Redis capture of the dissection benchmark: build/bench/redis.pcap, at least
# BENCH_REDIS_BYTES (default 48 MiB) of real Redis traffic. Reused as it is when it already
# exists and is big enough (BENCH_REGEN=1 makes a new one). build/ is not in git.
#
# Topology (selftests/lib/pods.sh): pods "rcli" and "rsrv" on one node netns bridge; traffic
# only between them. In rsrv: redis-server on 6379 (tshark's port for RESP), its own config
# and state in the run's temp dir, no persistence, bound to the pod address. In rcli, in
# rounds until the capture is big enough:
#   redis-benchmark -P 16 -c 4 (pipelined) and -P 1 -c 2 (one command at a time), random keys
#   (-r), 256-byte values (-d), the tests SET, GET, INCR, LPUSH, LPOP, SADD, HSET, MSET; and
#   LRANGE_100 (array replies of 100 elements, 64-byte values) with a twentieth of the
#   requests: RESP arrays of bulk strings one way; simple strings, integers, bulk strings and
#   arrays the other.
# tcpdump -i v-rsrv -s 0 records the whole time in the node netns (the server's host veth).
# Its "dropped by kernel" count is printed: non-zero means gaps in the capture.
#
# tshark shows the same messages with (RESP is tshark's dissector for port 6379):
#   tshark -r build/bench/redis.pcap -Y resp -T fields -e frame.number -e resp.array.length \
#          -e resp.string -e resp.integer -e resp.error
#
# Environment: BENCH_REDIS_BYTES (default 50331648), BENCH_REDIS_CAPTURE (output path),
# BENCH_REGEN=1, BENCH_REDIS_N (requests per test and round, default 6000),
# BENCH_GEN_MAX_SECONDS (600: stop generating then, whatever the size).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
ROOT=$(floe_root)
OUT=${BENCH_REDIS_CAPTURE:-$ROOT/build/bench/redis.pcap}
WANT=${BENCH_REDIS_BYTES:-50331648}
N=${BENCH_REDIS_N:-6000}

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [ -z "${BENCH_REGEN:-}" ] && [ "$(fsize "$OUT")" -ge "$WANT" ]; then
	echo "gen_redis: reusing $OUT ($(fsize "$OUT") bytes)" >&2
	exit 0
fi

test_timeout $((${BENCH_GEN_MAX_SECONDS:-600} + 120)) "$0" "$@"
set -o pipefail

MAXSECS=${BENCH_GEN_MAX_SECONDS:-600}
PART=$OUT.part

cleanup() {
	pods_cleanup
	rm -f -- "$PART"
}
trap cleanup EXIT
trap 'echo "gen_redis: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "gen_redis: must run as root" >&2
	exit 1
fi
for t in redis-server redis-benchmark tcpdump; do
	command -v $t >/dev/null || { echo "gen_redis: $t missing (make deps)" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"

pods_tmp
T=$PODS_TMP
CLI=10.213.8.11 SRV=10.213.8.12
pod_add rcli $CLI && pod_add rsrv $SRV || { echo "gen_redis: pods" >&2; exit 1; }

mkdir -p "$T/redis"
cat >"$T/redis.conf" <<EOF
bind $SRV
port 6379
dir $T/redis
save ""
appendonly no
protected-mode no
daemonize no
logfile ""
EOF
pod_bg rsrv "$T/redis-server.log" redis-server "$T/redis.conf"
wait_tcp_listen rsrv 6379 10 || {
	echo "gen_redis: redis-server did not start" >&2
	cat "$T/redis-server.log" >&2
	exit 1
}

rm -f -- "$PART"
node_bg "$T/tcpdump.log" tcpdump -i v-rsrv -n -Z root -s 0 -B 131072 -w "$PART"
TCPDUMP=$BG_PID
wait_for_line "$T/tcpdump.log" 'listening on' 10 || { echo "gen_redis: tcpdump" >&2; exit 1; }

echo "gen_redis: writing $OUT until it has $WANT bytes (at most ${MAXSECS}s)" >&2
TESTS=set,get,incr,lpush,lpop,sadd,hset,mset
start=$(date +%s)
rounds=0 reqs=0
while [ "$(fsize "$PART")" -lt "$WANT" ]; do
	if [ $(($(date +%s) - start)) -ge "$MAXSECS" ]; then
		echo "gen_redis: stopped after ${MAXSECS}s at $(fsize "$PART") bytes" >&2
		break
	fi
	rounds=$((rounds + 1))
	for run in "-P 16 -c 4 -n $N -d 256 -t $TESTS" "-P 1 -c 2 -n $N -d 256 -t $TESTS" \
		"-P 16 -c 2 -n $((N / 20)) -d 64 -t lrange_100"; do
		# shellcheck disable=SC2086
		in_pod rcli timeout 300 redis-benchmark -h $SRV -p 6379 -r 100000 $run --csv \
			>"$T/bench.csv" 2>"$T/bench.err" || {
			echo "gen_redis: redis-benchmark failed:" >&2
			cat "$T/bench.err" >&2
			exit 1
		}
		reqs=$((reqs + $(grep -c '^"[A-Z]' "$T/bench.csv") * $(echo "$run" | sed 's/.*-n \([0-9]*\).*/\1/')))
	done
	printf 'gen_redis: round %d: %d requests so far; %d MB\n' "$rounds" "$reqs" \
		$(($(fsize "$PART") / 1048576)) >&2
done
# Let tcpdump drain what the kernel still holds for it.
prev=-1 still=0
for ((i = 0; i < 120 && still < 4; i++)); do
	sleep 0.25
	cur=$(fsize "$PART")
	if [ "$cur" = "$prev" ]; then still=$((still + 1)); else still=0; fi
	prev=$cur
done
bg_stop "$TCPDUMP" INT
grep -E 'packets (captured|received|dropped)' "$T/tcpdump.log" >&2
mv -- "$PART" "$OUT"
echo "gen_redis: $OUT: $(fsize "$OUT") bytes, $reqs benchmark requests in $rounds rounds" \
	"($(($(date +%s) - start)) s)" >&2
