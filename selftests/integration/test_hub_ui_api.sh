#!/usr/bin/env bash
# Integration: floe-hub's routes for the web UI (docs/hub.md, docs/ui.md) over real loopback
# connections: the UI's files from --ui-dir with their MIME types and nothing outside the
# directory (raw requests with "..", encoded or not, symlinks, hidden files), the schema
# against `floe schema --json`, validate against the entries route's own 400 and column, the
# front port serving the same and a busy one not being fatal. build/hub-fixture is the server
# (in-memory agents); selftests/lib/hub_ui_check.py the client. Only loopback; every process
# it starts is its child.
# Usage (from the repo root): bash selftests/integration/test_hub_ui_api.sh
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
if [ ! -x "$BUILD/hub-fixture" ] || [ ! -x "$BUILD/floe" ]; then
	echo "not ok 1 - $BUILD/hub-fixture and $BUILD/floe exist (run make all)"
	echo "0 passed, 1 failed"
	exit 1
fi
exec timeout -k 10 120 /usr/bin/python3 selftests/lib/hub_ui_check.py --build "$BUILD"
