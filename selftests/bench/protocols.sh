#!/usr/bin/env bash
# `make bench`, third part: the Redis, DNS, AMQP and Kafka dissectors, `floe read` side by side
# with tshark on the same captures, on this machine, in one run. Not a pass/fail test.
#
# Captures: per protocol one made by real servers and clients in pods
# (selftests/bench/gen_<protocol>.sh -> build/bench/<protocol>.pcap, made when missing; tens of
# MB each), and the protocol's largest shared capture (../shared/captures, FLOE_CAPTURES).
#
# Per capture, three commands, each under bash's time (wall, CPU) and GNU time (peak RSS):
#   floe --json   floe read FILE --json > /dev/null
#   floe text     floe read FILE > FILE.txt
#   tshark        tshark -n -r FILE [-d ...] -Y PROTO -T fields -e FIELD > FILE.tsv
# Units: floe counts entries (a request with its response, or one message without a partner);
# tshark counts protocol messages (values of FIELD: one per message, several per packet when
# a packet carries several). For request/response protocols a complete entry is two messages.
#
# Environment: BENCH_REPEAT (runs per capture, fastest reported, default 3), BENCH_ONLY
# (extended regex on the labels), BENCH_TSHARK_TIMEOUT (s, 3600), BENCH_GEN=0 (do not
# generate missing captures), FLOE_CAPTURES.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
test_timeout "${BENCH_PROTOCOLS_TIMEOUT:-10800}" "$0" "$@"
set -o pipefail

ROOT=$(floe_root)
FLOE=${FLOE:-$ROOT/build/floe}
CAPS=${FLOE_CAPTURES:-$ROOT/../shared/captures}
REPEAT=${BENCH_REPEAT:-3}
TS_TIMEOUT=${BENCH_TSHARK_TIMEOUT:-3600}
TIME=/usr/bin/time

TMPD=$(mktemp -d /tmp/floe-bench-protocols.XXXXXX)
cleanup() { rm -rf -- "$TMPD"; }
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM
source "$HERE/bench_lib.sh"

if [ ! -x "$FLOE" ]; then
	echo "bench: $FLOE missing (make all)" >&2
	exit 1
fi

# label|path|generator (empty: a shared capture)|tshark options|field counted
CASES=(
	"redis (generated)|$ROOT/build/bench/redis.pcap|gen_redis.sh|-Y resp&&tcp.dstport==6379|resp.array.length"
	"redis/pubsub-resp3|$CAPS/redis/pubsub-resp3.pcap||-Y resp&&tcp.dstport==6379|resp.array.length"
	"dns (generated)|$ROOT/build/bench/dns.pcap|gen_dns.sh|-Y dns|dns.id"
	"dns/dns-edns-ecs|$CAPS/dns/dns-edns-ecs.pcap||-Y dns|dns.id"
	"amqp (generated)|$ROOT/build/bench/amqp.pcap|gen_amqp.sh|-Y amqp.type==1|amqp.method.method"
	"amqp/amqp|$CAPS/amqp/amqp.pcap||-Y amqp.type==1|amqp.method.method"
	"kafka (generated)|$ROOT/build/bench/kafka.pcap|gen_kafka.sh|-Y kafka|kafka.correlation_id"
	"kafka/kafka|$CAPS/kafka/kafka.pcapng||-Y kafka|kafka.correlation_id"
)

echo "bench: floe read ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)) vs tshark, protocols, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(tshark --version 2>/dev/null | head -1 | sed 's/ (Git.*//')" >&2

n=0
for c in "${CASES[@]}"; do
	IFS='|' read -r label path gen tsopts field <<<"$c"
	if [ -n "${BENCH_ONLY:-}" ] && ! grep -Eq -- "$BENCH_ONLY" <<<"$label"; then
		continue
	fi
	if [ -n "$gen" ] && [ "${BENCH_GEN:-1}" != 0 ] && [ -f "$HERE/$gen" ]; then
		bash "$HERE/$gen" >&2 || NOTES+=("$label: $gen failed")
	fi
	if [ ! -f "$path" ]; then
		NOTES+=("$label: $path missing, skipped")
		continue
	fi
	n=$((n + 1))
	size=$(stat -L -c %s "$path")
	sizeh=$(human "$size")
	cat "$path" >/dev/null
	echo "bench: $label ($sizeh, best of $REPEAT)" >&2

	best "$REPEAT" /dev/null "$TMPD/$n.json.err" "$FLOE" read "$path" --json
	fj_wall=$B_WALL fj_cpu=$B_CPU fj_rss=$B_RSS_KB
	fj_n=$(summary_field "$TMPD/$n.json.err" entries)
	[ "$B_RC" -ne 0 ] && NOTES+=("$label: floe read --json exited $B_RC")
	row "$label" "$sizeh" "floe --json" "$fj_wall" "$fj_cpu" "$(mb $((fj_rss * 1024)))" "${fj_n:-?}" \
		"$(mbps "$size" "$fj_wall")" "$(rate0 "${fj_n:-0}" "$fj_wall")"

	best "$REPEAT" "$TMPD/$n.txt" "$TMPD/$n.text.err" "$FLOE" read "$path"
	ft_wall=$B_WALL
	ft_n=$(wc -l <"$TMPD/$n.txt")
	[ "$B_RC" -ne 0 ] && NOTES+=("$label: floe read exited $B_RC")
	row "" "" "floe text" "$B_WALL" "$B_CPU" "$(mb $((B_RSS_KB * 1024)))" "$ft_n" \
		"$(mbps "$size" "$B_WALL")" "$(rate0 "$ft_n" "$B_WALL")"
	incomplete=$(sed -n 's/.*printed, \([0-9]\+\) incomplete.*/\1/p' "$TMPD/$n.text.err" | tail -1)

	read -r -a TS_ARGS <<<"$tsopts"
	best "$REPEAT" "$TMPD/$n.tsv" "$TMPD/$n.tshark.err" timeout "$TS_TIMEOUT" \
		tshark -n -r "$path" "${TS_ARGS[@]}" -T fields -e "$field"
	[ "$B_RC" -ne 0 ] && NOTES+=("$label: tshark exited $B_RC: $(grep -v 'Running as user' "$TMPD/$n.tshark.err" | tail -2 | tr '\n' ' ')")
	ts_n=$(awk -F'\t' '$1 != "" { n += split($1, x, ",") } END { print n + 0 }' "$TMPD/$n.tsv")
	row "" "" "tshark" "$B_WALL" "$B_CPU" "$(mb $((B_RSS_KB * 1024)))" "$ts_n msgs" \
		"$(mbps "$size" "$B_WALL")" "$(rate0 "$ts_n" "$B_WALL")"

	CMP+=("$label|$(ratio "$B_WALL" "$fj_wall")|$(ratio "$B_WALL" "$ft_wall")|$(ratio "$B_CPU" "$fj_cpu")|$(ratio "$B_RSS_KB" "$fj_rss")|${fj_n:-?} (${incomplete:-?} incomplete)|$ts_n")
done

echo
{
	echo "capture|size|tool|wall s|CPU s|peak RSS MB|entries|MB/s|entries/s"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o '  '
echo
{
	echo "capture|speedup json|speedup text|CPU ratio|memory ratio|floe entries|tshark messages"
	printf '%s\n' "${CMP[@]}"
} | column -t -s '|' -o '  '
cat <<EOF

How to read it:
- wall s / CPU s / peak RSS MB: elapsed, user+system and maximum resident set of the one
  process (floe read, or tshark); fastest of $REPEAT runs, files from the page cache.
- entries: floe's entries (a request and its response, or one message without a partner);
  for tshark the protocol messages it decoded ("msgs"): a complete floe entry is two of them.
  entries/s for tshark is messages/s.
- speedup json / text: tshark wall / floe wall; CPU ratio: tshark CPU / floe --json CPU; memory
  ratio: tshark peak RSS / floe --json peak RSS. Above 1: floe is faster / smaller.
EOF
if [ ${#NOTES[@]} -gt 0 ]; then
	echo
	echo "Notes:"
	printf '  %s\n' "${NOTES[@]}"
fi
