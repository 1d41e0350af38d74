#!/usr/bin/env bash
# The web UI under load (selftests/ui/ui_load.mjs): build/hub-fixture's in-memory agents emit
# UI_RATE entries/s (default 5000) for UI_SECONDS (default 30, the issue's) into the traffic
# view of headless Chromium, then of Firefox ESR (UI_BROWSERS, default "chromium firefox")
# (UI_HISTORY=100000: with the list holding that much history first); frame times (animation
# frame gaps and event-loop stalls in the page; in Chromium also the DevTools trace's longest
# task, main-thread time and the JS heap of the page and its worker), the browser's RSS, after
# an idle baseline of the same page; the same in-page figures for a control page (a bare
# animation-frame loop) in the same run. Not pass/fail for the frame figures. Usage (from the repo root, after make all):
#   bash selftests/bench/ui.sh
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
secs=${UI_SECONDS:-30}
for browser in ${UI_BROWSERS:-chromium firefox}; do
	echo "== web UI under load (build/hub-fixture, 3 in-memory agents, headless $browser)"
	bin=/usr/bin/chromium
	[ "$browser" = firefox ] && bin=/usr/bin/firefox-esr
	if [ ! -x "$bin" ] || [ ! -d ui/node_modules/puppeteer-core ] || [ ! -f "$BUILD/ui/index.html" ]; then
		echo "skipped: needs $bin, ui/node_modules (make deps) and $BUILD/ui (make ui)"
		continue
	fi
	profile=$(mktemp -d)
	# UI_HISTORY=N (ui_load.mjs): the list holds N entries of history first; loading them takes time.
	UI_BROWSER=$browser PROFILE=$profile timeout -k 5 $((90 + 10 * secs + ${UI_HISTORY:-0} / 200)) \
		node selftests/ui/ui_load.mjs "$BUILD" "${UI_RATE:-5000}" "$secs" |
		sed -u -e 's/^diag\t//' -e 's/^ok\t/ok: /' -e 's/^fail\t/FAIL: /' || true
	rm -rf "$profile"
done
