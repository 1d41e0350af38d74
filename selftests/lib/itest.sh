# shellcheck shell=bash
# Common start of an integration test (sourced first thing, with the script's arguments):
#   HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
# Re-runs the script under a hard timeout, loads the pod harness, assertions and floe helpers,
# traps clean-up (floe, pods, processes, temp dir) on exit and interruption, requires root and
# build/floe, and makes the run's temp dir ($PODS_TMP).

ITEST_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$ITEST_LIB/pods.sh"
test_timeout "${ITEST_TIMEOUT:-120}" "$0" "$@"
source "$ITEST_LIB/assert.sh"
source "$ITEST_LIB/floe.sh"
set -o pipefail

itest_cleanup() {
	floe_cleanup
	pods_cleanup
}
trap itest_cleanup EXIT
trap 'diag "interrupted"; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	not_ok "must run as root"
	done_testing
fi
if [ ! -x "$FLOE" ]; then
	not_ok "build/floe exists (run make all)"
	done_testing
fi
pods_tmp
