#!/usr/bin/env bash
# floe's whole test suite, as `make test` runs it (after `make all unit-san fuzz`):
#   1. unit tests (cmocka)             build/tests/test_*
#   2. unit tests under ASan+UBSan     build/tests-san/test_*
#   3. fuzz targets (libFuzzer)        build/fuzz/fuzz_*, FUZZ_SECONDS each (default 30),
#                                      corpus in build/fuzz-corpus/<target> (seeded from
#                                      selftests/fuzz/corpus/<target> when present); any
#                                      sanitizer report fails the target (selftests/fuzz/fuzz.sh)
#   4. oracle                          selftests/oracle/oracle*.py: `floe read --json` against
#                                      tshark on the shared captures ($FLOE_CAPTURES), and
#                                      floe read on broken inputs
#   5. integration tests (root)        selftests/integration/test_*.sh
# Prints per-suite results and ends with ONE line "N passed, N failed, N skipped" (totals);
# exits 1 if anything failed. A test that reports itself skipped (cmocka's SKIPPED, TAP's
# "ok N - ... # SKIP reason": its inputs or tools are absent) counts as skipped, never passed.
# Unit binaries count their cmocka tests; a fuzz target or a binary that
# crashes counts as one failure; the oracle and integration scripts count their own
# "ok"/"not ok" lines.
#
# Environment: BUILD (default build), FUZZ_SECONDS, ONLY (a regex: run only matching files),
# INTEGRATION_TIMEOUT (seconds per integration script, default 300), ORACLE_TIMEOUT (the
# whole oracle suite, default 600), V=1 (show all output).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
INTEGRATION_TIMEOUT=${INTEGRATION_TIMEOUT:-300}
ONLY=${ONLY:-}
LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"
source selftests/fuzz/fuzz.sh

TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
declare -a SUMMARY=()

wanted() { [ -z "$ONLY" ] || [[ "$1" =~ $ONLY ]]; }

# count P F [S]: add to the current suite and the totals.
SUITE_PASS=0
SUITE_FAIL=0
SUITE_SKIP=0
count() {
	SUITE_PASS=$((SUITE_PASS + $1))
	SUITE_FAIL=$((SUITE_FAIL + $2))
	SUITE_SKIP=$((SUITE_SKIP + ${3:-0}))
	TOTAL_PASS=$((TOTAL_PASS + $1))
	TOTAL_FAIL=$((TOTAL_FAIL + $2))
	TOTAL_SKIP=$((TOTAL_SKIP + ${3:-0}))
}
suite_begin() {
	SUITE_PASS=0
	SUITE_FAIL=0
	SUITE_SKIP=0
	echo "=== $1"
}
suite_end() {
	SUMMARY+=("$(printf '%-22s %4d passed, %4d failed, %4d skipped' "$1" "$SUITE_PASS" \
		"$SUITE_FAIL" "$SUITE_SKIP")")
}
show_log() {
	if [ -n "${V:-}" ]; then
		sed 's/^/    /' "$1"
	else
		tail -n "${2:-40}" "$1" | sed 's/^/    /'
	fi
}

# ---------------------------------------------------------------- cmocka
run_cmocka_dir() {
	local suite=$1 dir=$2 bin name log rc p f sk
	suite_begin "$suite ($dir)"
	shopt -s nullglob
	local bins=("$dir"/test_*)
	shopt -u nullglob
	if [ ${#bins[@]} -eq 0 ]; then
		echo "  (no binaries in $dir)"
	fi
	for bin in "${bins[@]}"; do
		[ -x "$bin" ] && [ -f "$bin" ] || continue
		name=$(basename "$bin")
		wanted "$bin" || continue
		log=$LOGDIR/$suite-$name.log
		rc=0
		# cmocka prints its summary on stderr.
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
			UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
			timeout -k 5 300 "$bin" >"$log" 2>&1 || rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\) test(s)\..*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test(s).*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
		# cmocka leaves skipped tests out of PASSED and prints "[  SKIPPED ] N test(s)".
		sk=$(sed -n 's/^\[  SKIPPED \] \([0-9]\+\) test(s).*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
		if ! grep -qE '^\[  (PASSED|FAILED)  \] [0-9]+ test\(s\)' "$log"; then
			# No summary at all: crashed, hung or not a cmocka binary.
			f=$((f + 1))
			echo "  $name: no cmocka summary (exit $rc): counted as 1 failure"
			show_log "$log"
		elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			# Summary says all passed but the process failed (sanitizer report at exit, ...).
			f=1
			echo "  $name: $p passed but exit status $rc: counted as 1 failure"
			show_log "$log"
		else
			echo "  $name: $p passed, $f failed, $sk skipped"
			[ "$f" -gt 0 ] && show_log "$log"
		fi
		count "$p" "$f" "$sk"
	done
	suite_end "$suite"
}

# ---------------------------------------------------------------- fuzz
run_fuzz() {
	local dir=$BUILD/fuzz bin name
	suite_begin "fuzz ($dir, ${FUZZ_SECONDS}s each)"
	shopt -s nullglob
	local bins=("$dir"/fuzz_*)
	shopt -u nullglob
	[ ${#bins[@]} -eq 0 ] && echo "  (no fuzz targets in $dir)"
	for bin in "${bins[@]}"; do
		[ -x "$bin" ] && [ -f "$bin" ] || continue
		name=$(basename "$bin")
		wanted "$bin" || continue
		# Fails at the first sanitizer report of any kind (selftests/fuzz/fuzz.sh).
		if BUILD=$BUILD fuzz_run_target "$bin" "$FUZZ_SECONDS" "$LOGDIR/fuzz-$name.log"; then
			count 1 0
		else
			show_log "$LOGDIR/fuzz-$name.log" 30
			count 0 1
		fi
	done
	suite_end fuzz
}

# ---------------------------------------------------------------- TAP-like scripts
# count_tap NAME LOG RC: count a script's "ok N"/"not ok N" lines; a missing "N passed, N
# failed" line, or a failing exit status without a failed assertion, is one more failure.
count_tap() {
	local name=$1 log=$2 rc=$3 p f sk
	sk=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log")
	p=$(($(grep -cE '^ok [0-9]+' "$log") - sk))
	f=$(grep -cE '^not ok [0-9]+' "$log")
	if ! grep -qE '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log"; then
		echo "  $name: ended without its summary line (exit $rc): counted as 1 more failure"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  $name: exit status $rc with no failed assertion: counted as 1 failure"
		f=1
	fi
	echo "  $name: $p passed, $f failed, $sk skipped"
	grep -E '^ok [0-9]+ .*# SKIP' "$log" | sed 's/^/    /'
	if [ "$f" -gt 0 ]; then
		grep -E '^not ok' "$log" | sed 's/^/    /'
		show_log "$log" 60
	fi
	count "$p" "$f" "$sk"
}

# ---------------------------------------------------------------- oracle
# floe read against tshark on real captures: selftests/oracle/oracle.py (HTTP, HTTP/2, gRPC)
# and one oracle_<protocol>.py per other protocol. Each skips, as "ok N - ... # SKIP", what
# lacks tshark or the captures. Run with Debian's python3 (stdlib only), not whatever python3
# comes first in PATH.
run_oracle() {
	local t name log rc
	suite_begin "oracle (selftests/oracle)"
	shopt -s nullglob
	local scripts=(selftests/oracle/oracle*.py)
	shopt -u nullglob
	for t in "${scripts[@]}"; do
		wanted "$t" || continue
		name=$(basename "$t" .py)
		log=$LOGDIR/$name.log
		rc=0
		timeout -k 20 "${ORACLE_TIMEOUT:-600}" /usr/bin/python3 "$t" --floe "$BUILD/floe" \
			>"$log" 2>&1 || rc=$?
		count_tap "$name" "$log" "$rc"
	done
	suite_end oracle
}

# ---------------------------------------------------------------- integration
run_integration() {
	local t name log rc
	suite_begin "integration (selftests/integration)"
	shopt -s nullglob
	local tests=(selftests/integration/test_*.sh)
	shopt -u nullglob
	for t in "${tests[@]}"; do
		name=$(basename "$t" .sh)
		wanted "$t" || continue
		log=$LOGDIR/integration-$name.log
		if [ "$(id -u)" -ne 0 ]; then
			echo "  $name: needs root (network namespaces, BPF): counted as 1 failure"
			count 0 1
			continue
		fi
		rc=0
		# Each script bounds itself too (timeout(1) around its own body); this is the backstop.
		timeout -k 20 "$INTEGRATION_TIMEOUT" bash "$t" >"$log" 2>&1 || rc=$?
		count_tap "$name" "$log" "$rc"
	done
	suite_end integration
}

start=$(date +%s)
run_cmocka_dir unit "$BUILD/tests"
run_cmocka_dir unit-san "$BUILD/tests-san"
run_fuzz
run_oracle
run_integration

echo
echo "=== results ($(($(date +%s) - start)) s; logs in $LOGDIR)"
printf '  %s\n' "${SUMMARY[@]}"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
[ "$TOTAL_FAIL" -eq 0 ]
