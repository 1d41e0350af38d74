#!/usr/bin/env bash
# Generates the large capture of the dissection benchmark (selftests/bench/dissect.sh):
# build/bench/mixed-1g.pcap, at least BENCH_CAPTURE_BYTES (default 1 GiB) of mixed HTTP/1.1 and
# h2c traffic made by real servers and clients. Reused as it is when it already exists and is big
# enough (BENCH_REGEN=1 makes a new one). build/ is not in git.
#
# Topology (selftests/lib/pods.sh): pods "cli" and "srv" on one node netns bridge; traffic only
# between them. In srv:
#   nginx              HTTP/1.1 on :80 (keep-alive, static files)
#   nghttpd --no-tls   h2c with prior knowledge on :8080 (same files)
# The files: api.json (~300 B), page.html (~10 KB), blob.bin (~100 KB, random).
# In cli, in rounds of BENCH_ROUND_SECONDS (default 2) until the capture is big enough:
#   wrk -t1 -c2 (keep-alive) with a Lua script: per 20 requests 12 GET api.json, 4 GET page.html,
#     1 GET blob.bin, 1 conditional GET of page.html (304), 1 POST api.json (405 from nginx), 1 GET
#     of a missing file (404) (no HEAD: wrk would wait for a body); every URL has a distinct query string
#   h2load -c2 -m8 --rps N (h2c prior knowledge), the same mix of GETs (no 304/POST), -n bounded
# tcpdump -i v-srv -s 0 -B 131072 -w FILE records in the node netns (the server's host veth) the
# whole time. Offloads are left on (as on a Kubernetes node): large segments are GSO packets of up
# to 64 KB (BENCH_GSO_MAX=1500 sets the pods' gso_max_size for wire-sized packets instead). Its
# "dropped by kernel" count is printed: non-zero means gaps in the capture.
#
# Environment: BENCH_CAPTURE_BYTES (default 1073741824), BENCH_CAPTURE (output path),
# BENCH_REGEN=1, BENCH_ROUND_SECONDS (2), BENCH_GEN_MAX_SECONDS (1200: stop generating then,
# whatever the size), BENCH_H2_RPS (per h2load client, default 2500).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
source "$HERE/nginx_conf.sh"
ROOT=$(floe_root)
OUT=${BENCH_CAPTURE:-$ROOT/build/bench/mixed-1g.pcap}
WANT=${BENCH_CAPTURE_BYTES:-1073741824}

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [ -z "${BENCH_REGEN:-}" ] && [ "$(fsize "$OUT")" -ge "$WANT" ]; then
	echo "gen_capture: reusing $OUT ($(fsize "$OUT") bytes)" >&2
	exit 0
fi

test_timeout $((${BENCH_GEN_MAX_SECONDS:-1200} + 300)) "$0" "$@"
set -o pipefail

ROUND=${BENCH_ROUND_SECONDS:-2}
MAXSECS=${BENCH_GEN_MAX_SECONDS:-1200}
H2RPS=${BENCH_H2_RPS:-2500}
PART=$OUT.part

cleanup() {
	pods_cleanup
	rm -f -- "$PART"
}
trap cleanup EXIT
trap 'echo "gen_capture: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "gen_capture: must run as root" >&2
	exit 1
fi
for t in nginx nghttpd wrk h2load tcpdump; do
	command -v $t >/dev/null || { echo "gen_capture: $t missing (make deps)" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"

pods_tmp
T=$PODS_TMP
CLI=10.213.7.11 SRV=10.213.7.12
pod_add cli $CLI && pod_add srv $SRV || { echo "gen_capture: pods" >&2; exit 1; }
if [ -n "${BENCH_GSO_MAX:-}" ]; then
	# Smaller GSO packets: BENCH_GSO_MAX=1500 gives wire-sized packets, as a network tap sees.
	in_pod cli ip link set eth0 gso_max_size "$BENCH_GSO_MAX" &&
		in_pod srv ip link set eth0 gso_max_size "$BENCH_GSO_MAX" ||
		{ echo "gen_capture: gso_max_size $BENCH_GSO_MAX" >&2; exit 1; }
fi

# ------------------------------------------------------------------ content
W=$T/www
mkdir -p "$W" "$T/nginx"
{
	printf '{"items":['
	for i in 1 2 3 4 5 6; do
		printf '{"id":%d,"name":"item-%d","price":%d.99,"tags":["a","b"]}' "$i" "$i" "$((i * 7))"
		[ $i -lt 6 ] && printf ','
	done
	printf '],"total":6}\n'
} >"$W/api.json"
{
	echo '<!DOCTYPE html><html><head><title>floe bench</title></head><body>'
	for i in $(seq 1 120); do
		echo "<p class=\"row\">Row $i: the quick brown fox jumps over the lazy dog.</p>"
	done
	echo '</body></html>'
} >"$W/page.html"
head -c 102400 /dev/urandom >"$W/blob.bin"

nginx_conf "$T/nginx.conf" "$T" "$SRV:80" "$W"

cat >"$T/mix.lua" <<'EOF'
-- 20 requests per cycle: 12 small JSON, 4 HTML, 1 binary, 1 conditional GET (304), 1 POST (405),
-- 1 missing (404). No HEAD: wrk would wait for a body.
local n = 0
local body = '{"name":"new item","price":1.5,"tags":["x","y","z"]}'
request = function()
	n = n + 1
	local i = n % 20
	local q = "?n=" .. n
	if i < 12 then
		return wrk.format("GET", "/api.json" .. q)
	elseif i < 16 then
		return wrk.format("GET", "/page.html" .. q)
	elseif i == 16 then
		return wrk.format("GET", "/blob.bin" .. q)
	elseif i == 17 then
		return wrk.format("GET", "/page.html" .. q, {["If-None-Match"] = "*"})
	elseif i == 18 then
		return wrk.format("POST", "/api.json" .. q, {["Content-Type"] = "application/json"}, body)
	else
		return wrk.format("GET", "/missing" .. q)
	end
end
EOF

pod_bg srv "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
pod_bg srv "$T/nghttpd.log" nghttpd --no-tls -a $SRV -d "$W" -n 1 8080
wait_tcp_listen srv 80 10 && wait_tcp_listen srv 8080 10 || {
	echo "gen_capture: servers did not start" >&2
	cat "$T/nginx.log" "$T/nginx/error.log" "$T/nghttpd.log" >&2 2>/dev/null
	exit 1
}
in_pod cli ping -c 1 -W 2 $SRV >/dev/null 2>&1

# h2load URIs: the same GET mix, distinct query strings per cycle position.
H2URIS=()
for i in $(seq 0 11); do H2URIS+=("http://$SRV:8080/api.json?h=$i"); done
for i in 12 13 14 15; do H2URIS+=("http://$SRV:8080/page.html?h=$i"); done
H2URIS+=("http://$SRV:8080/blob.bin?h=16" "http://$SRV:8080/missing?h=17")

# ------------------------------------------------------------------ record
rm -f -- "$PART"
node_bg "$T/tcpdump.log" tcpdump -i v-srv -n -Z root -s 0 -B 131072 -w "$PART"
TCPDUMP=$BG_PID
wait_for_line "$T/tcpdump.log" 'listening on' 10 || { echo "gen_capture: tcpdump" >&2; exit 1; }

echo "gen_capture: writing $OUT until it has $WANT bytes (rounds of ${ROUND}s, at most ${MAXSECS}s)" >&2
start=$(date +%s)
rounds=0 wrk_reqs=0 h2_reqs=0
h2n=$((H2RPS * 2 * ROUND))
while [ "$(fsize "$PART")" -lt "$WANT" ]; do
	if [ $(($(date +%s) - start)) -ge "$MAXSECS" ]; then
		echo "gen_capture: stopped after ${MAXSECS}s at $(fsize "$PART") bytes" >&2
		break
	fi
	rounds=$((rounds + 1))
	in_pod cli timeout $((ROUND + 30)) wrk -t1 -c2 -d"${ROUND}s" -s "$T/mix.lua" \
		"http://$SRV" >"$T/wrk.log" 2>&1 &
	wpid=$!
	in_pod cli timeout $((ROUND + 30)) h2load -c2 -m8 -t1 --rps "$H2RPS" -n "$h2n" \
		"${H2URIS[@]}" >"$T/h2load.log" 2>&1
	wait $wpid
	w=$(sed -n 's/^ *\([0-9]\+\) requests in .*/\1/p' "$T/wrk.log")
	h=$(sed -n 's/^requests: [0-9]\+ total, [0-9]\+ started, \([0-9]\+\) done.*/\1/p' "$T/h2load.log")
	wrk_reqs=$((wrk_reqs + ${w:-0}))
	h2_reqs=$((h2_reqs + ${h:-0}))
	printf 'gen_capture: round %d: wrk %s, h2load %s requests; %d MB\n' "$rounds" "${w:-?}" "${h:-?}" \
		$(($(fsize "$PART") / 1048576)) >&2
	if [ -z "$w" ] || [ -z "$h" ]; then
		echo "gen_capture: a client failed:" >&2
		tail -5 "$T/wrk.log" "$T/h2load.log" >&2
		exit 1
	fi
done
# Let tcpdump drain what the kernel still holds for it: stopping it earlier loses the last
# packets (counted as "received by filter", not as "dropped by kernel"). Its file stops growing
# when it has caught up.
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
if [ -n "$recv" ] && [ -n "$capt" ] && [ "$recv" != "$capt" ]; then
	echo "gen_capture: warning: tcpdump received $recv packets but wrote $capt" >&2
fi
size=$(fsize "$PART")
if [ "$size" -lt "$WANT" ]; then
	echo "gen_capture: only $size bytes, wanted $WANT: not kept" >&2
	exit 1
fi
mv -- "$PART" "$OUT"
printf 'gen_capture: %s: %d bytes, %d s, %d rounds; requests: wrk (HTTP/1.1) %d, h2load (h2c) %d; tcpdump dropped by kernel: %s\n' \
	"$OUT" "$size" $(($(date +%s) - start)) "$rounds" "$wrk_reqs" "$h2_reqs" "${drop:-?}" >&2
if [ "${drop:-1}" != 0 ]; then
	echo "gen_capture: warning: tcpdump dropped packets: the capture has gaps (lower BENCH_H2_RPS)" >&2
fi
printf '%s\n' "wrk=$wrk_reqs h2load=$h2_reqs dropped=${drop:-?} bytes=$size" >"$OUT.info"
