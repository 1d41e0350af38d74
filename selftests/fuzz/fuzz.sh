#!/usr/bin/env bash
# Runs floe's libFuzzer targets ($BUILD/fuzz/fuzz_*), FUZZ_SECONDS each.
#   sourced by selftests/run.sh, which calls fuzz_run_target per target (FUZZ_SECONDS=30);
#   run alone by `make fuzz-long` (FUZZ_SECONDS=300): every target, FUZZ_JOBS at a time
#   (default 1), FUZZ_TARGETS a regex to pick some; exit 1 when one found something.
#
# A run fails at the first sanitizer report of any kind: the targets are built with
# -fno-sanitize-recover=all (Makefile), so an UBSan finding aborts like an ASan one and
# libFuzzer saves the input; the options below halt on error too, and a log holding a report
# fails the run even if the process exited 0 (a build from before that flag, say).
# Corpus: $BUILD/fuzz-corpus/<target>, kept from run to run (libFuzzer adds the inputs that
# reach new code there), seeded from selftests/fuzz/corpus/<target>. Findings:
# $BUILD/fuzz-artifacts/<target>/ (crash-*, leak-*, timeout-*, oom-*); reproduce one with
# `$BUILD/fuzz/<target> FILE`, and add it to selftests/fuzz/corpus/<target> once fixed.

FUZZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_REPORT_RE='runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|^SUMMARY: [A-Za-z]+Sanitizer'

# fuzz_run_target BIN SECONDS LOG: run one target; prints "NAME: clean (...)" or "NAME: FAILED
# ..." and returns 0 when clean. BUILD (default build) locates the corpus and artifacts.
fuzz_run_target() {
	local bin=$1 secs=$2 log=$3 name build=${BUILD:-build} corpus seed art rc=0
	name=$(basename "$bin")
	corpus=$build/fuzz-corpus/$name
	art=$build/fuzz-artifacts/$name
	seed=$FUZZ_ROOT/selftests/fuzz/corpus/$name
	mkdir -p "$corpus" "$art"
	local args=("$corpus")
	[ -d "$seed" ] && args+=("$seed")
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:halt_on_error=1 \
		timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" "${args[@]}" \
		>"$log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && ! grep -qE "$FUZZ_REPORT_RE" "$log"; then
		local runs
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		echo "  $name: clean (${runs:-?} runs in ${secs} s, corpus $(find "$corpus" -type f | wc -l) files)"
		return 0
	fi
	echo "  $name: FAILED (exit $rc); inputs in $art/, log $log"
	grep -m 3 -E "$FUZZ_REPORT_RE" "$log" | sed 's/^/    /'
	sed -n 's/^.*Test unit written to /    input: /p' "$log" | sort -u
	return 1
}

fuzz_main() {
	local build=${BUILD:-build} secs=${FUZZ_SECONDS:-300} jobs=${FUZZ_JOBS:-1} bin
	local logdir=$build/test-logs pass=0 fail=0 running=0
	mkdir -p "$logdir"
	shopt -s nullglob
	local bins=("$build"/fuzz/fuzz_*)
	shopt -u nullglob
	if [ ${#bins[@]} -eq 0 ]; then
		echo "no fuzz targets in $build/fuzz (make fuzz)" >&2
		return 1
	fi
	# Interrupted: stop the targets this script started (its own jobs, by PID).
	trap 'kill $(jobs -p) 2>/dev/null; exit 130' INT TERM
	echo "=== fuzz: ${secs} s per target, $jobs at a time"
	for bin in "${bins[@]}"; do
		[[ "$(basename "$bin")" =~ ${FUZZ_TARGETS:-.} ]] || continue
		if [ "$running" -ge "$jobs" ]; then
			wait -n
			if [ "$?" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
			running=$((running - 1))
		fi
		fuzz_run_target "$bin" "$secs" "$logdir/fuzz-long-$(basename "$bin").log" &
		running=$((running + 1))
	done
	while [ "$running" -gt 0 ]; do
		wait -n
		if [ "$?" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
		running=$((running - 1))
	done
	echo "$pass passed, $fail failed, 0 skipped"
	[ "$fail" -eq 0 ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cd "$FUZZ_ROOT" || exit 1
	fuzz_main
fi
