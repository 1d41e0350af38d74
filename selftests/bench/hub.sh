#!/usr/bin/env bash
# floe-hub's stream: entries/s to a WebSocket client and live latency (selftests/bench/hub.py).
# Not pass/fail. Usage (from the repo root, after make all): bash selftests/bench/hub.sh
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
echo "== hub stream (build/hub-fixture, 3 in-memory agents)"
/usr/bin/python3 selftests/bench/hub.py --build "${BUILD:-build}"
/usr/bin/python3 selftests/bench/hub.py --build "${BUILD:-build}" --history 1000 --hold-ms 0 --live 1000
