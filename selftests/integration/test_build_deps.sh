#!/usr/bin/env bash
# The build: a test binary is rebuilt when a header of the tests' own that it includes changes
# (selftests/unit/*.h, selftests/fuzz/*.h; the Makefile's TEST_DEPS). The header's time is set
# one second past the binary's, `make -q` must then say the binary is out of date, and the time
# is put back (nothing is rebuilt). Checked for a unit test including a fuzz header
# (test_http1_fields: h1_fields_ref.h), one including a unit header (test_tunnel:
# test_stream.h), the sanitized build and a fuzz target; and that a header the test does not
# include leaves it up to date.
# Usage (from the repo root, after make all unit-san fuzz): bash selftests/integration/test_build_deps.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/assert.sh"
cd "$HERE/../.." || exit 1
BUILD=${BUILD:-build}

# rebuilds HEADER TARGET: with HEADER newer than TARGET, is TARGET out of date for make?
rebuilds() {
	local hdr=$1 bin=$2 was rc
	was=$(stat -c %Y "$hdr") || return 2
	touch -d "@$(($(stat -c %Y "$bin") + 1))" "$hdr"
	make -q --no-print-directory BUILD="$BUILD" "$bin" >/dev/null 2>&1
	rc=$?
	touch -d "@$was" "$hdr"
	[ $rc = 1 ]
}

n=0
for pair in "selftests/fuzz/h1_fields_ref.h $BUILD/tests/test_http1_fields" \
	"selftests/unit/test_stream.h $BUILD/tests/test_tunnel" \
	"selftests/fuzz/h1_fields_ref.h $BUILD/tests-san/test_http1_fields" \
	"selftests/fuzz/fuzz_common.h $BUILD/fuzz/fuzz_http1"; do
	set -- $pair
	if [ ! -x "$2" ]; then
		skip "$2 rebuilt when $1 changes" "$2 not built"
		continue
	fi
	n=$((n + 1))
	if ! make -q --no-print-directory BUILD="$BUILD" "$2" 2>/dev/null; then
		skip "$2 rebuilt when $1 changes" "$2 is not up to date"
		continue
	fi
	check "$2 rebuilt when $1 changes" rebuilds "$1" "$2"
done
if [ -x "$BUILD/tests/test_entry_json" ] && make -q BUILD="$BUILD" "$BUILD/tests/test_entry_json" 2>/dev/null; then
	check_not "$BUILD/tests/test_entry_json not rebuilt for a header it does not include" \
		rebuilds selftests/fuzz/h1_fields_ref.h "$BUILD/tests/test_entry_json"
fi
done_testing
