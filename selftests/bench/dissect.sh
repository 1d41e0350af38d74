#!/usr/bin/env bash
# `make bench`, second part: offline dissection, `floe read` side by side with tshark on the same
# captures, on this machine, in one run. Not a pass/fail test: it prints tables.
#
# Captures: a few real ones from ../shared/captures (FLOE_CAPTURES), an empty pcap (fixed start-up
# cost), and build/bench/mixed-1g.pcap, >= 1 GiB of HTTP/1.1 + h2c made by real servers and clients
# (selftests/bench/gen_capture.sh, run first when the file is missing; slow the first time only),
# and the two captures of many small responses (selftests/bench/gen_small.sh): wrk-nginx.pcap
# (>= 800 MB of HTTP/1.1, wrk -t2 -c16 against nginx, 20 files of 0.7-14 KB) and
# h2load-nghttpd.pcap (>= 500 MB of h2c, h2load -c16 -m10 against nghttpd). On those two, every
# command's output is piped to wc -l and tshark runs issue 13's commands:
#   tshark -n -r F -2 -Y http.response -T fields -e http.response.code
#   tshark -n -r F -2 -d tcp.port==8080,http2 -T fields -e http2.headers.status
# and their counts are responses (status codes), compared with floe's complete entries.
#
# Per capture, four commands, each under bash's time (wall, CPU) and GNU time (peak RSS):
#   floe --json      floe read FILE --json > /dev/null
#   floe --json -b0  floe read FILE --json --body-max 0 > /dev/null   (no bodies)
#   floe text        floe read FILE > FILE.txt            (one line per entry, counted)
#   tshark           tshark -n -r FILE [-d tcp.port==N,http2] -Y FILTER -T fields -e ... > FILE.tsv
#     HTTP/1:  -Y 'http.request or http.response' -e http.request.method -e http.request.uri
#              -e http.response.code
#     HTTP/2:  -Y http2 -e http2.streamid -e http2.headers.path -e http2.headers.status
#              -e http2.headers.method
#     mixed:   -Y 'http or http2' and both field sets
# Small captures run BENCH_REPEAT times (default 5) and the fastest run is reported; the big one
# BENCH_BIG_REPEAT times (default 1). Every file is read once before (page cache warm for both).
#
# Columns: wall s (elapsed), CPU s (user + system), peak RSS MB (max resident set), entries
# (floe: entries, from its summary line, = lines of its text output; tshark: HTTP requests it
# decoded, i.e. request method values in its output, = what floe calls entries), MB/s (capture
# file size / wall), entries/s (entries / wall). Then per capture: speedups (tshark wall / floe
# wall, per floe mode), CPU ratio and memory ratio (tshark / floe --json), and the counts side by
# side (floe entries and incomplete ones; tshark requests and responses). Docs: docs/bench.md.
#
# Environment: BENCH_REPEAT (5), BENCH_BIG_REPEAT (1, also for the small-response captures),
# BENCH_BIG=0 (skip the big captures), BENCH_SMALL_H1 / BENCH_SMALL_H2 (their paths),
# BENCH_CAPTURE (big capture path), BENCH_TSHARK_TIMEOUT (seconds per tshark run, 3600),
# BENCH_ONLY (extended regex: only the captures whose label matches, e.g. 'mixed|empty'),
# FLOE_CAPTURES (../shared/captures).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
test_timeout "${BENCH_DISSECT_TIMEOUT:-10800}" "$0" "$@"
set -o pipefail

ROOT=$(floe_root)
FLOE=${FLOE:-$ROOT/build/floe}
CAPS=${FLOE_CAPTURES:-$ROOT/../shared/captures}
BIG=${BENCH_CAPTURE:-$ROOT/build/bench/mixed-1g.pcap}
REPEAT=${BENCH_REPEAT:-5}
BIG_REPEAT=${BENCH_BIG_REPEAT:-1}
TS_TIMEOUT=${BENCH_TSHARK_TIMEOUT:-3600}
TIME=/usr/bin/time

TMPD=$(mktemp -d /tmp/floe-bench-dissect.XXXXXX)
cleanup() { rm -rf -- "$TMPD"; }
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

if [ ! -x "$FLOE" ]; then
	echo "bench: $FLOE missing (make all)" >&2
	exit 1
fi
for t in tshark "$TIME"; do
	command -v "$t" >/dev/null || { echo "bench: $t missing (make deps)" >&2; exit 1; }
done

SMALL_H1=${BENCH_SMALL_H1:-$ROOT/build/bench/wrk-nginx.pcap}
SMALL_H2=${BENCH_SMALL_H2:-$ROOT/build/bench/h2load-nghttpd.pcap}
if [ "${BENCH_BIG:-1}" != 0 ]; then
	if ! bash "$HERE/gen_capture.sh"; then
		echo "bench: could not generate $BIG; going on without it" >&2
	fi
	for k in h1 h2; do
		f=$SMALL_H1
		[ $k = h2 ] && f=$SMALL_H2
		if ! BENCH_SMALL_OUT=$f bash "$HERE/gen_small.sh" $k; then
			echo "bench: could not generate $f; going on without it" >&2
		fi
	done
fi

# An empty pcap (global header only): what starting up costs each tool.
EMPTY=$TMPD/empty.pcap
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' >"$EMPTY"

# label|path|kind (h1, h2, mixed)|tshark decode-as port for h2c ("" when tshark finds it alone)
CASES=(
	"empty pcap|$EMPTY|mixed|"
	"http1/pipelined-requests|$CAPS/http1/pipelined-requests.pcap|h1|"
	"http1/http-post-upload|$CAPS/http1/http-post-upload.pcap|h1|"
	"http1/1000-requests-1-dropped (gz)|$CAPS/http1/1000-requests-one-dropped-response.pcap.gz|h1|"
	"http2/http2-keywords|$CAPS/http2/http2-keywords/input.pcap|h2|3000"
	"http2/dns_over_https_POST|$CAPS/http2/dns_over_https_POST.pcap|h2|"
	"grpc/grpc-service-name|$CAPS/grpc/grpc-service-name.pcap|h2|38888"
	"grpc/bidi-streaming|$CAPS/grpc/bidi-streaming.pcapng|h2|50051"
)
if [ "${BENCH_BIG:-1}" != 0 ] && [ -f "$BIG" ]; then
	CASES+=("$(basename "$BIG")|$BIG|mixed|8080")
fi
# Many small responses (gen_small.sh), with issue 13's tshark commands and every output piped
# to wc -l (kinds h1resp, h2resp).
if [ "${BENCH_BIG:-1}" != 0 ] && [ -f "$SMALL_H1" ]; then
	CASES+=("$(basename "$SMALL_H1")|$SMALL_H1|h1resp|")
fi
if [ "${BENCH_BIG:-1}" != 0 ] && [ -f "$SMALL_H2" ]; then
	CASES+=("$(basename "$SMALL_H2")|$SMALL_H2|h2resp|8080")
fi

H1_FIELDS=(-e http.request.method -e http.request.uri -e http.response.code)
H2_FIELDS=(-e http2.streamid -e http2.headers.path -e http2.headers.status -e http2.headers.method)

# tshark_args KIND PORT: the filter and fields for that kind of capture.
tshark_args() {
	local kind=$1 port=$2
	TS_ARGS=()
	if [ -n "$port" ]; then
		TS_ARGS+=(-d "tcp.port==$port,http2")
	fi
	case $kind in
	h1) TS_ARGS+=(-Y 'http.request or http.response' "${H1_FIELDS[@]}") ;;
	h1resp) TS_ARGS+=(-2 -Y http.response -e http.response.code) ;;
	h2resp) TS_ARGS+=(-2 -e http2.headers.status) ;;
	h2) TS_ARGS+=(-Y http2 "${H2_FIELDS[@]}") ;;
	*) TS_ARGS+=(-Y 'http or http2' "${H1_FIELDS[@]}" "${H2_FIELDS[@]}") ;;
	esac
}

# tshark_counts KIND TSV: "requests responses" decoded by tshark (values of the method and status
# fields; several messages in one packet come as one line of comma-separated values).
tshark_counts() {
	local kind=$1 tsv=$2 mcols scols
	case $kind in
	h1) mcols=1 scols=3 ;;
	h2) mcols=4 scols=3 ;;
	h1resp | h2resp) mcols=1 scols=1 ;; # responses only: one count for both
	*) mcols="1 7" scols="3 6" ;;
	esac
	awk -F'\t' -v m="$mcols" -v s="$scols" '
		BEGIN { nm = split(m, M, " "); ns = split(s, S, " ") }
		{
			for (i = 1; i <= nm; i++) if ($M[i] != "") r += split($M[i], x, ",")
			for (i = 1; i <= ns; i++) if ($S[i] != "") p += split($S[i], x, ",")
		}
		END { printf "%d %d\n", r, p }' "$tsv"
}

source "$HERE/bench_lib.sh"

# piped KIND CMD...: CMD, or CMD | wc -l for the kinds measured as issue 13 asks (both tools'
# output piped); PIPED is then 1 and the command's output is the line count.
piped() {
	local kind=$1
	shift
	case $kind in
	h1resp | h2resp)
		PIPED=1
		P_CMD=(sh -c '"$@" | wc -l' sh "$@")
		;;
	*)
		PIPED=0
		P_CMD=("$@")
		;;
	esac
}


echo "bench: floe read ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)) vs tshark, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r), $(tshark --version 2>/dev/null | head -1 | sed 's/ (Git.*//')" >&2

# What starting any process costs here (fork, exec, GNU time): the floor under every wall time.
best 5 /dev/null /dev/null true
EXEC_FLOOR=$B_WALL

n=0
for c in "${CASES[@]}"; do
	IFS='|' read -r label path kind port <<<"$c"
	if [ -n "${BENCH_ONLY:-}" ] && ! grep -Eq -- "$BENCH_ONLY" <<<"$label"; then
		continue
	fi
	if [ ! -f "$path" ]; then
		NOTES+=("$label: $path missing, skipped")
		continue
	fi
	n=$((n + 1))
	reps=$REPEAT
	case $path in "$BIG" | "$SMALL_H1" | "$SMALL_H2") reps=$BIG_REPEAT ;; esac
	size=$(stat -L -c %s "$path")
	sizeh=$(human "$size")
	cat "$path" >/dev/null
	echo "bench: $label ($sizeh, best of $reps)" >&2

	# floe --json
	piped "$kind" "$FLOE" read "$path" --json
	best "$reps" /dev/null "$TMPD/$n.floe-json.err" "${P_CMD[@]}"
	fj_wall=$B_WALL fj_cpu=$B_CPU fj_rss=$B_RSS_KB
	fj_n=$(summary_field "$TMPD/$n.floe-json.err" entries)
	if [ "$B_RC" -ne 0 ]; then
		NOTES+=("$label: floe read --json exited $B_RC: $(tail -2 "$TMPD/$n.floe-json.err" | tr '\n' ' ')")
	fi
	row "$label" "$sizeh" "floe --json" "$fj_wall" "$fj_cpu" "$(mb $((fj_rss * 1024)))" "${fj_n:-?}" \
		"$(mbps "$size" "$fj_wall")" "$(rate0 "${fj_n:-0}" "$fj_wall")"

	# floe --json without bodies (--body-max 0): headers and all other fields, like tshark's fields
	piped "$kind" "$FLOE" read "$path" --json --body-max 0
	best "$reps" /dev/null "$TMPD/$n.floe-json0.err" "${P_CMD[@]}"
	f0_wall=$B_WALL
	f0_n=$(summary_field "$TMPD/$n.floe-json0.err" entries)
	if [ "$B_RC" -ne 0 ]; then
		NOTES+=("$label: floe read --json --body-max 0 exited $B_RC: $(tail -2 "$TMPD/$n.floe-json0.err" | tr '\n' ' ')")
	fi
	row "" "" "floe --json -b0" "$B_WALL" "$B_CPU" "$(mb $((B_RSS_KB * 1024)))" "${f0_n:-?}" \
		"$(mbps "$size" "$B_WALL")" "$(rate0 "${f0_n:-0}" "$B_WALL")"

	# floe text
	piped "$kind" "$FLOE" read "$path"
	best "$reps" "$TMPD/$n.floe.txt" "$TMPD/$n.floe-text.err" "${P_CMD[@]}"
	if [ "$PIPED" = 1 ]; then
		ft_n=$(tr -d ' ' <"$TMPD/$n.floe.txt")
	else
		ft_n=$(wc -l <"$TMPD/$n.floe.txt")
	fi
	ft_wall=$B_WALL
	if [ "$B_RC" -ne 0 ]; then
		NOTES+=("$label: floe read exited $B_RC: $(tail -2 "$TMPD/$n.floe-text.err" | tr '\n' ' ')")
	fi
	row "" "" "floe text" "$B_WALL" "$B_CPU" "$(mb $((B_RSS_KB * 1024)))" "$ft_n" \
		"$(mbps "$size" "$B_WALL")" "$(rate0 "$ft_n" "$B_WALL")"
	incomplete=$(sed -n 's/.*printed, \([0-9]\+\) incomplete.*/\1/p' "$TMPD/$n.floe-text.err" | tail -1)
	perr=$(summary_field "$TMPD/$n.floe-text.err" 'parse errors')
	gaps=$(summary_field "$TMPD/$n.floe-text.err" gaps)

	# tshark
	tshark_args "$kind" "$port"
	if [ "${kind#*resp}" != "$kind" ]; then
		# Piped like floe; the counts come from one more run into a file.
		best "$reps" /dev/null "$TMPD/$n.tshark.err" sh -c '"$@" | wc -l' sh \
			timeout "$TS_TIMEOUT" tshark -n -r "$path" "${TS_ARGS[@]}" -T fields
		ts_b=("$B_WALL" "$B_CPU" "$B_RSS_KB" "$B_RC")
		timeout "$TS_TIMEOUT" tshark -n -r "$path" "${TS_ARGS[@]}" -T fields >"$TMPD/$n.tsv" 2>/dev/null
		B_WALL=${ts_b[0]} B_CPU=${ts_b[1]} B_RSS_KB=${ts_b[2]} B_RC=${ts_b[3]}
	else
		best "$reps" "$TMPD/$n.tsv" "$TMPD/$n.tshark.err" timeout "$TS_TIMEOUT" tshark -n -r "$path" "${TS_ARGS[@]}" -T fields
	fi
	if [ "$B_RC" -ne 0 ]; then
		NOTES+=("$label: tshark exited $B_RC: $(grep -v 'Running as user' "$TMPD/$n.tshark.err" | tail -2 | tr '\n' ' ')")
	fi
	read -r ts_req ts_resp < <(tshark_counts "$kind" "$TMPD/$n.tsv")
	row "" "" "tshark" "$B_WALL" "$B_CPU" "$(mb $((B_RSS_KB * 1024)))" "$ts_req" \
		"$(mbps "$size" "$B_WALL")" "$(rate0 "$ts_req" "$B_WALL")"

	CMP+=("$label|$(ratio "$B_WALL" "$fj_wall")|$(ratio "$B_WALL" "$f0_wall")|$(ratio "$B_WALL" "$ft_wall")|$(ratio "$B_CPU" "$fj_cpu")|$(ratio "$B_RSS_KB" "$fj_rss")|${fj_n:-?} (${ft_n} lines, ${incomplete:-?} incomplete)|$ts_req / $ts_resp|${perr:-?} / ${gaps:-?}")
	if [ "${fj_n:-x}" != "$ft_n" ]; then
		NOTES+=("$label: floe --json summary says ${fj_n:-?} entries, text output has $ft_n lines")
	fi
	# (h1resp, h2resp: tshark counts responses only, compared with floe's complete entries)
	if [ "$path" != "$EMPTY" ] && [ "${kind#*resp}" = "$kind" ] && [ "${fj_n:-0}" != "$ts_req" ]; then
		NOTES+=("$label: entry count differs: floe ${fj_n:-?}, tshark $ts_req requests / $ts_resp responses; floe: $(tail -1 "$TMPD/$n.floe-text.err")")
	elif [ $((${fj_n:-0} - ${incomplete:-0})) != "$ts_resp" ]; then
		NOTES+=("$label: floe has $((${fj_n:-0} - ${incomplete:-0})) complete entries, tshark decoded $ts_resp responses (interim 1xx responses count for tshark; so do responses tshark missed)")
	fi
done

# ------------------------------------------------------------------ report
echo
{
	echo "capture|size|tool|wall s|CPU s|peak RSS MB|entries|MB/s|entries/s"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o '  '
echo
{
	echo "capture|speedup json|speedup json -b0|speedup text|CPU ratio|memory ratio|floe entries|tshark req / resp|floe parse errors / gaps"
	printf '%s\n' "${CMP[@]}"
} | column -t -s '|' -o '  '
if [ "${BENCH_BIG:-1}" != 0 ] && [ -f "$BIG.info" ]; then
	echo
	echo "$(basename "$BIG"): $(cat "$BIG.info") (made by gen_capture.sh: wrk = HTTP/1.1 requests, h2load = h2c requests)"
fi
cat <<EOF

How to read it:
- wall s / CPU s / peak RSS MB: elapsed, user+system (bash's time) and maximum resident set (GNU
  time) of the one process (floe read, or tshark). Small captures: fastest of $REPEAT runs; the big one: $BIG_REPEAT.
  Files come from the page cache (each is read once first).
- entries: floe: entries it printed (one per request/response pair, or half of one when the other
  half is missing); tshark: HTTP requests it decoded (HTTP/1 request lines, HTTP/2 HEADERS with a
  :method), the same unit. tshark's own output has one line per packet (HTTP/2: per packet with
  any HTTP/2 frame), not per entry.
- MB/s: capture file size / wall. entries/s: entries / wall.
- floe --json -b0: floe read --json --body-max 0, every field but the bodies (the bodies are most
  of the JSON output: up to 64 KiB per message, binary ones in base64).
- speedup json / json -b0 / text: tshark wall / floe wall in that mode; CPU ratio: tshark CPU /
  floe --json CPU; memory ratio: tshark peak RSS / floe --json peak RSS. Above 1: floe is faster
  / smaller.
- Starting any process (\`true\` under GNU time) takes $EXEC_FLOOR s of wall time on this machine:
  no wall time here can be shorter.
- The 'empty pcap' row is the fixed cost of starting each tool; on the small shared captures
  that cost is nearly all of the time, so only the big capture measures throughput.
- tshark ran with -n (no name resolution) and in one pass, its fastest useful mode (on
  wrk-nginx.pcap and h2load-nghttpd.pcap: issue 13's commands, with -2, output piped to wc -l,
  as floe's there); it still decodes every layer of every packet, while floe decodes only what
  entries need.
EOF
if [ ${#NOTES[@]} -gt 0 ]; then
	echo
	echo "Notes:"
	printf '  %s\n' "${NOTES[@]}"
fi
