#!/usr/bin/env bash
# `make bench`: what triggers cost per entry (lib/node/trigger, docs/triggers.md), next to the
# rate floe makes entries at. Not a pass/fail test: it prints a table.
#
# Entries: `floe read --json` of every capture of ../shared/captures (FLOE_CAPTURES) with
# HTTP/1, HTTP/2, DNS, Redis (their mix as they are); the dissection rate is that read's:
# entries / CPU s of `floe read` (one thread). build/bench/trigger_bench then runs 1 and
# TRIGGERS (default 100) triggers over the entries for BENCH_SECONDS (default 2) each:
#   follow us   the union filter over the entry (what the agent's follow does per entry)
#   offer us    trigger_set_offer on the follow's tree (lent): every trigger's query matched
#   total, parsed twice  the follow as it was before the tree was lent (the offer parsed the
#               entry's text again), for comparison
#   total us    both: the follow thread's time per entry; 1/total is the entry rate it keeps up
#               with on one core (it runs beside capture and dissection, never in their path)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
CAPS=${FLOE_CAPTURES:-$ROOT/../shared/captures}
N=${TRIGGERS:-100}
SECS=${BENCH_SECONDS:-2}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for f in "$CAPS"/{http1,http2,dns,redis}/*; do
	case $f in
	*.gz) gunzip -c "$f" >"$TMP/cap" && f=$TMP/cap ;;
	esac
	"$BUILD/floe" read "$f" --json 2>/dev/null
done >"$TMP/entries.jsonl"
n=$(grep -c . "$TMP/entries.jsonl")
if [ "$n" -eq 0 ]; then
	echo "triggers bench: no entries from $CAPS (FLOE_CAPTURES)"
	exit 0
fi
# the dissection rate: the same entries made again, CPU time of floe read alone
cpu=$( { TIMEFORMAT='%U %S'; time (for f in "$CAPS"/{http1,http2,dns,redis}/*; do
	case $f in *.gz) gunzip -c "$f" >"$TMP/cap2" && f=$TMP/cap2 ;; esac
	"$BUILD/floe" read "$f" --json >/dev/null 2>&1; done) ; } 2>&1 | awk '{ print $1 + $2 }')
echo "== triggers: cost per entry ($n entries from $CAPS, ${SECS} s per case)"
printf '%-10s %10s %10s %10s %14s %10s %18s\n' triggers "follow us" "offer us" "total us" "entries/s" matched \
	"total, parsed twice"
"$BUILD/bench/trigger_bench" "$TMP/entries.jsonl" "$N" "$SECS" | while read -r t f o tot r m p; do
	printf '%-10s %10s %10s %10s %14s %10s %18s\n' "${t#*=}" "${f#*=}" "${o#*=}" "${tot#*=}" "${r#*=}" \
		"${m#*=}" "${p#*=}"
done
awk -v n="$n" -v c="$cpu" 'BEGIN { if (c <= 0) c = 0.001
	printf "dissection (floe read --json, gunzip included): %d entries in %.2f CPU s = %.0f entries/s, %.1f us each\n", n, c, n / c, c / n * 1e6 }'
