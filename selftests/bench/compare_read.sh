#!/usr/bin/env bash
# compare_read.sh OLD_FLOE NEW_FLOE [CAPTURE...]: "no field lost" check of a change to the read
# path. Runs `floe read` of both binaries on every capture (default: every capture under
# ../shared/captures, FLOE_CAPTURES) in several modes (--json, --json --body-max 0, text, and
# --json and text with filters, some answered without the entries' trees, one needing them)
# and compares the outputs and the summary lines byte for byte, apart from the dissection memory
# peak (an estimate that moves with struct sizes: a change of it is printed as a NOTE, not counted).
# Prints one line per difference and exits 1 when there is any.
#
# OLD_FLOE is a build of the commit before the change, e.g.:
#   git worktree add /tmp/floe-old 65c5335 && make -C /tmp/floe-old -j2 build/floe
# Not in the suite: it needs two builds. The outputs of a documented fix differ on purpose:
# name them in the change's message.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
ROOT=$(floe_root)
OLD=${1:?usage: compare_read.sh OLD_FLOE NEW_FLOE [CAPTURE...]}
NEW=${2:?usage: compare_read.sh OLD_FLOE NEW_FLOE [CAPTURE...]}
shift 2
if [ $# -eq 0 ]; then
	mapfile -t caps < <(find "${FLOE_CAPTURES:-$ROOT/../shared/captures}" -type f \
		\( -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' -o -name '*.pcapng.gz' \) | sort)
	set -- "${caps[@]}"
fi

TMPD=$(mktemp -d /tmp/floe-compare-read.XXXXXX)
trap 'rm -rf -- "$TMPD"' EXIT

# Filters: one every entry passes; queries of HTTP fields the entries answer without their
# tree (lib/core/entry/entry_kfl.c) and one that needs the tree ("[]": every header); text
# output with a filter.
FILTERS=('protocol != "none"'
	'http and response.status < 400 or request.method == POST or not http'
	'request.headers["content-type"].contains("json") or request.path.startsWith("/a") or src.port > 40000 or elapsed_ms > 1ms'
	'request.headers[] == "never" or exists(response.headers.server) or dns or redis')
MODES=("--json" "--json --body-max 0" "")
for i in "${!FILTERS[@]}"; do
	MODES+=("--json --filter $i")
done
MODES+=("--filter 1")
diffs=0 runs=0 peaks=0
mask_peak() { sed -E 's/memory peak [0-9]+ of/memory peak N of/'; }
peak() { sed -nE 's/.*memory peak ([0-9]+) of.*/\1/p'; }
for cap in "$@"; do
	for mode in "${MODES[@]}"; do
		read -ra args <<<"$mode"
		if [ "${mode#*--filter}" != "$mode" ]; then
			args=(${mode% *})
			args+=("${FILTERS[${mode##* }]}")
		fi
		"$OLD" read "$cap" "${args[@]}" >"$TMPD/old.out" 2>"$TMPD/old.err"
		orc=$?
		"$NEW" read "$cap" "${args[@]}" >"$TMPD/new.out" 2>"$TMPD/new.err"
		nrc=$?
		runs=$((runs + 1))
		if [ $orc != $nrc ]; then
			echo "DIFF $cap [$mode]: exit $orc (old) vs $nrc (new)"
			diffs=$((diffs + 1))
		elif ! cmp -s "$TMPD/old.out" "$TMPD/new.out"; then
			echo "DIFF $cap [$mode]: output differs: $(cmp "$TMPD/old.out" "$TMPD/new.out" 2>&1 | head -1)"
			diffs=$((diffs + 1))
		elif ! cmp -s <(tail -1 "$TMPD/old.err" | mask_peak) <(tail -1 "$TMPD/new.err" | mask_peak); then
			echo "DIFF $cap [$mode]: summary differs"
			diffs=$((diffs + 1))
		elif ! cmp -s <(tail -1 "$TMPD/old.err") <(tail -1 "$TMPD/new.err"); then
			# The peak is the dissectors' own estimate of what they hold (struct sizes
			# included): a change of layout moves it without changing any output.
			echo "NOTE $cap [$mode]: dissection memory peak $(tail -1 "$TMPD/old.err" | peak) -> $(tail -1 "$TMPD/new.err" | peak)"
			peaks=$((peaks + 1))
		fi
	done
done
echo "compare_read: $# captures, $runs runs, $diffs differences ($peaks runs with another memory peak only)"
[ $diffs -eq 0 ]
