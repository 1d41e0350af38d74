# shellcheck shell=bash
# Tiny TAP-like assertions for floe's shell tests (sourced, not run).
#
#   ok DESC / not_ok DESC          record a pass / a failure
#   check DESC cmd...              pass if cmd exits 0
#   check_not DESC cmd...          pass if cmd exits non-zero
#   is GOT WANT DESC               string equality
#   is_num GOT OP WANT DESC        integer comparison, OP one of -eq -ne -lt -le -gt -ge
#   diag TEXT...                   "# TEXT" comment line (stderr-safe, on stdout)
#   skip DESC REASON               "ok N - DESC # SKIP REASON" (run.sh counts it as skipped)
#   done_testing                   prints "N passed, N failed", exits 1 if any failed
#
# Output lines: "ok N - DESC" / "not ok N - DESC", optional "#" lines.

ASSERT_PASS=0
ASSERT_FAIL=0
ASSERT_N=0

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done < <(printf '%s\n' "$@")
}

ok() {
	ASSERT_N=$((ASSERT_N + 1))
	ASSERT_PASS=$((ASSERT_PASS + 1))
	printf 'ok %d - %s\n' "$ASSERT_N" "$1"
}

not_ok() {
	ASSERT_N=$((ASSERT_N + 1))
	ASSERT_FAIL=$((ASSERT_FAIL + 1))
	printf 'not ok %d - %s\n' "$ASSERT_N" "$1"
}

skip() {
	ASSERT_N=$((ASSERT_N + 1))
	ASSERT_PASS=$((ASSERT_PASS + 1))
	printf 'ok %d - %s # SKIP %s\n' "$ASSERT_N" "$1" "${2:-}"
}

check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; return 1; fi
}

check_not() {
	local desc=$1
	shift
	if "$@"; then not_ok "$desc"; return 1; else ok "$desc"; fi
}

is() {
	if [ "$1" == "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "  got: '$1'
 want: '$2'"
		return 1
	fi
}

is_num() {
	local got=$1 op=$2 want=$3 desc=$4
	if [[ ! "$got" =~ ^-?[0-9]+$ ]] || [[ ! "$want" =~ ^-?[0-9]+$ ]]; then
		not_ok "$desc"
		diag "not integers: got='$got' want='$want'"
		return 1
	fi
	if test "$got" "$op" "$want"; then
		ok "$desc ($got $op $want)"
	else
		not_ok "$desc"
		diag "got $got, expected $op $want"
		return 1
	fi
}

done_testing() {
	printf '%d passed, %d failed\n' "$ASSERT_PASS" "$ASSERT_FAIL"
	[ "$ASSERT_FAIL" -eq 0 ]
	exit $?
}
