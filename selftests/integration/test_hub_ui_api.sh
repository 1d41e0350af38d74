#!/usr/bin/env bash
# Integration: floe-hub's routes for the web UI (docs/hub.md, docs/ui.md) over real loopback
# connections: the UI's files from --ui-dir with their MIME types and nothing outside the
# directory (raw requests with "..", encoded or not, symlinks, hidden files), the schema
# against `floe schema --json`, validate against the entries route's own 400 and column, the
# front port serving the same and a busy one not being fatal. The server is build/hub-fixture
# (in-memory agents), run as test_hub_api.sh runs it; the client selftests/lib/hub_ui_check.py.
# Usage (from the repo root): bash selftests/integration/test_hub_ui_api.sh
HUB_CHECK=selftests/lib/hub_ui_check.py exec bash "$(dirname "${BASH_SOURCE[0]}")/test_hub_api.sh" "$@"
