#!/usr/bin/env bash
# Integration: floe-hub's HTTP/WebSocket API (docs/hub.md) over real loopback connections:
# build/hub-fixture runs the hub's server module over three in-memory agents holding a real
# capture's entries and packets plus interleaved synthetic ones; selftests/lib/hub_check.py is
# the client (urllib and curl for HTTP, a stdlib WebSocket client, tshark for the PCAP) and
# checks merge order, exactly-once, cursor pages, filters, time bounds, 400/404/401, agents
# going down, stats and metrics, the merged PCAP, the stream (history then live, none twice,
# a slow client told what it lost while the agents are never held up), and the loopback bind.
# Only loopback traffic; every process it starts is its child and ends with it.
# Usage (from the repo root): bash selftests/integration/test_hub_api.sh
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
if [ ! -x "$BUILD/hub-fixture" ] || [ ! -x "$BUILD/floe" ]; then
	echo "not ok 1 - $BUILD/hub-fixture and $BUILD/floe exist (run make all)"
	echo "0 passed, 1 failed"
	exit 1
fi
# Debian's python3: python3-websockets and the stdlib only.
# HUB_CHECK: another checker of the same fixture (test_hub_ui_api.sh: the UI's routes).
exec timeout -k 10 240 /usr/bin/python3 "${HUB_CHECK:-selftests/lib/hub_check.py}" --build "$BUILD" \
	--captures "${FLOE_CAPTURES:-$ROOT/../shared/captures}"
