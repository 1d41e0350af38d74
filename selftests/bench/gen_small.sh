#!/usr/bin/env bash
# Generates the two "many small responses" captures of the dissection benchmark (dissect.sh):
#   gen_small.sh h1   build/bench/wrk-nginx.pcap    >= BENCH_H1_BYTES (default 800 MB)
#   gen_small.sh h2   build/bench/h2load-nghttpd.pcap >= BENCH_H2_BYTES (default 500 MB)
# Reused as they are when they exist and are big enough (BENCH_REGEN=1 makes new ones); build/ is
# not in git. Each file gets FILE.info: client requests, tcpdump's counters.
#
# Topology (selftests/lib/pods.sh): pods "cli" and "srv" on one node netns bridge. srv serves 20
# text files of 0.7 to 14 KB (f00.html .. f19.html, sizes spread evenly):
#   h1: nginx (HTTP/1.1, keep-alive) on :80; wrk -t2 -c16 with a Lua script: every request a
#       random file and a random query string.
#   h2: nghttpd --no-tls (h2c, prior knowledge) on :8080; h2load -c16 -m10 over 2000 URIs (random
#       file, random query string each), -n requests per round.
# tcpdump -i v-srv -s 0 -B 262144 -w FILE records in the node netns (the server's host veth).
# Without shaping, tcpdump falls behind the clients on 2 CPUs and the kernel drops packets: srv's
# eth0 sends through a token bucket (tc tbf, BENCH_SMALL_RATE, default 600mbit), which keeps the
# capture complete. The script fails when tcpdump reports a packet dropped by the kernel or left
# unwritten, so a kept file has no gaps. Clients run in rounds until the file is big enough.
#
# Environment: BENCH_H1_BYTES, BENCH_H2_BYTES, BENCH_SMALL_OUT (output path), BENCH_REGEN=1,
# BENCH_SMALL_RATE (600mbit), BENCH_GEN_MAX_SECONDS (600), BENCH_CLI_IP and BENCH_SRV_IP (the pods'
# addresses, 10.213.8.11 and .12; another subnet when other benchmarks run at the same time).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
source "$HERE/nginx_conf.sh"
ROOT=$(floe_root)
KIND=${1:-}
case $KIND in
h1) OUT=${BENCH_SMALL_OUT:-$ROOT/build/bench/wrk-nginx.pcap} WANT=${BENCH_H1_BYTES:-838860800} ;;
h2) OUT=${BENCH_SMALL_OUT:-$ROOT/build/bench/h2load-nghttpd.pcap} WANT=${BENCH_H2_BYTES:-524288000} ;;
*)
	echo "usage: gen_small.sh h1|h2" >&2
	exit 2
	;;
esac

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [ -z "${BENCH_REGEN:-}" ] && [ "$(fsize "$OUT")" -ge "$WANT" ]; then
	echo "gen_small: reusing $OUT ($(fsize "$OUT") bytes)" >&2
	exit 0
fi

MAXSECS=${BENCH_GEN_MAX_SECONDS:-600}
test_timeout $((MAXSECS + 300)) "$0" "$@"
set -o pipefail

RATE=${BENCH_SMALL_RATE:-600mbit}
H2_PORT=8080
PART=$OUT.part

cleanup() {
	pods_cleanup
	rm -f -- "$PART"
}
trap cleanup EXIT
trap 'echo "gen_small: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "gen_small: must run as root" >&2
	exit 1
fi
for t in nginx nghttpd wrk h2load tcpdump tc; do
	command -v $t >/dev/null || { echo "gen_small: $t missing (make deps)" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"

pods_tmp
T=$PODS_TMP
CLI=${BENCH_CLI_IP:-10.213.8.11} SRV=${BENCH_SRV_IP:-10.213.8.12}
pod_add cli $CLI && pod_add srv $SRV || { echo "gen_small: pods" >&2; exit 1; }
in_pod srv tc qdisc add dev eth0 root tbf rate "$RATE" burst 256kb latency 100ms ||
	{ echo "gen_small: tc tbf" >&2; exit 1; }

# ------------------------------------------------------------------ content
W=$T/www
mkdir -p "$W" "$T/nginx"
for i in $(seq 0 19); do
	size=$((700 + i * (14000 - 700) / 19))
	{
		printf '<!doctype html><html><head><title>file %d</title></head><body>\n' "$i"
		for ((l = 0; l < size / 60 + 1; l++)); do
			printf '<p>line %05d of file %02d: the quick brown fox jumps</p>\n' "$l" "$i"
		done
	} | head -c "$size" >"$W/$(printf 'f%02d.html' "$i")"
done

# ------------------------------------------------------------------ servers
if [ "$KIND" = h1 ]; then
	nginx_conf "$T/nginx.conf" "$T" "$SRV:80" "$W"
	cat >"$T/random.lua" <<'EOF'
-- Every request: one of the 20 files and a random query string.
math.randomseed(os.time())
request = function()
	local path = string.format("/f%02d.html?q=%d", math.random(0, 19), math.random(0, 999999999))
	return wrk.format("GET", path)
end
EOF
	pod_bg srv "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
	wait_tcp_listen srv 80 10 || { echo "gen_small: nginx did not start" >&2; exit 1; }
else
	pod_bg srv "$T/nghttpd.log" nghttpd --no-tls -a $SRV -d "$W" -n 1 $H2_PORT
	wait_tcp_listen srv $H2_PORT 10 || { echo "gen_small: nghttpd did not start" >&2; exit 1; }
	for ((u = 0; u < 2000; u++)); do
		printf 'http://%s:%d/f%02d.html?q=%d\n' $SRV $H2_PORT $((RANDOM % 20)) $((RANDOM * 32768 + RANDOM))
	done >"$T/uris.txt"
fi
in_pod cli ping -c 1 -W 2 $SRV >/dev/null 2>&1

# ------------------------------------------------------------------ record
rm -f -- "$PART"
node_bg "$T/tcpdump.log" tcpdump -i v-srv -n -Z root -s 0 -B 262144 -w "$PART"
TCPDUMP=$BG_PID
wait_for_line "$T/tcpdump.log" 'listening on' 10 || { echo "gen_small: tcpdump" >&2; exit 1; }

echo "gen_small: writing $OUT until it has $WANT bytes (at most ${MAXSECS}s)" >&2
start=$(date +%s)
rounds=0 reqs=0
while [ "$(fsize "$PART")" -lt "$WANT" ]; do
	if [ $(($(date +%s) - start)) -ge "$MAXSECS" ]; then
		echo "gen_small: stopped after ${MAXSECS}s at $(fsize "$PART") bytes" >&2
		break
	fi
	rounds=$((rounds + 1))
	if [ "$KIND" = h1 ]; then
		in_pod cli timeout 60 wrk -t2 -c16 -d2s -s "$T/random.lua" "http://$SRV" >"$T/client.log" 2>&1
		n=$(sed -n 's/^ *\([0-9]\+\) requests in .*/\1/p' "$T/client.log")
	else
		in_pod cli timeout 60 h2load -c16 -m10 -t2 -n 10000 -i "$T/uris.txt" >"$T/client.log" 2>&1
		n=$(sed -n 's/^requests: [0-9]\+ total, [0-9]\+ started, \([0-9]\+\) done.*/\1/p' "$T/client.log")
		grep -q ' 0 failed, 0 errored' "$T/client.log" || { echo "gen_small: h2load failures:" >&2; cat "$T/client.log" >&2; exit 1; }
	fi
	if [ -z "$n" ]; then
		echo "gen_small: the client failed:" >&2
		tail -5 "$T/client.log" >&2
		exit 1
	fi
	reqs=$((reqs + n))
	printf 'gen_small: round %d: %s requests; %d MB\n' "$rounds" "$n" $(($(fsize "$PART") / 1048576)) >&2
done
# Let tcpdump drain what the kernel still holds for it (see gen_capture.sh).
prev=-1 still=0
for ((i = 0; i < 120 && still < 4; i++)); do
	sleep 0.25
	cur=$(fsize "$PART")
	if [ "$cur" = "$prev" ]; then still=$((still + 1)); else still=0; fi
	prev=$cur
done
bg_stop "$TCPDUMP" INT
cat "$T/tcpdump.log" >&2
drop=$(sed -n 's/^\([0-9]\+\) packets\? dropped by kernel.*/\1/p' "$T/tcpdump.log")
recv=$(sed -n 's/^\([0-9]\+\) packets\? received by filter.*/\1/p' "$T/tcpdump.log")
capt=$(sed -n 's/^\([0-9]\+\) packets\? captured.*/\1/p' "$T/tcpdump.log")
size=$(fsize "$PART")
if [ "${drop:-1}" != 0 ] || [ -z "$recv" ] || [ "$recv" != "$capt" ]; then
	echo "gen_small: tcpdump dropped ${drop:-?} packets, received ${recv:-?}, wrote ${capt:-?}: not kept (lower BENCH_SMALL_RATE)" >&2
	exit 1
fi
if [ "$size" -lt "$WANT" ]; then
	echo "gen_small: only $size bytes, wanted $WANT: not kept" >&2
	exit 1
fi
mv -- "$PART" "$OUT"
printf 'gen_small: %s: %d bytes, %d s, %d rounds, %d requests answered (client), tcpdump dropped 0\n' \
	"$OUT" "$size" $(($(date +%s) - start)) "$rounds" "$reqs" >&2
printf '%s\n' "client=$reqs dropped=0 packets=$capt bytes=$size rate=$RATE" >"$OUT.info"
