#!/usr/bin/env bash
# Integration: the web UI (docs/ui.md) in real headless browsers, Debian's chromium (DevTools
# protocol) and firefox-esr (WebDriver BiDi), both driven by puppeteer-core with the same checks
# (selftests/ui/ui_check.mjs, run once per browser) against a real floe-hub serving build/ui/ over a
# real floe-agent tapping pods a (clients, namespace "front") and b (servers, "back"): HTTP/1.1
# (httpd1.py), h2c (nghttpd), gRPC (grpc_peer.py) and Redis (redis-server), made while the page
# is open. Checks: entries appear live, the page counts the hub's entries, pause/resume and
# the order, the KFL box filters
# (as the hub's API answers the same query) and completes field names, an invalid query is
# marked at the hub's column, ?q= opens filtered, an entry's details show the header and body
# the client sent, copy as curl, the PCAP the browser downloads opens in tshark with the POST in
# it, the service map shows both pods and an HTTP edge with its rate, health shows the agent,
# keyboard and dark mode, gRPC rows (streaming and reset calls) show the client's gRPC status
# and never HTTP 200, health shows TLS blind spots (a fixture of the agent's stats) and a trigger
# POSTed to the hub with the agent's counters, a second hub with --token asks for it and streams with it,
# a third hub stopped and started again under an open page (Chromium): the stream back without a
# reload, the rows kept, the entry made while it was down shown once, and a slow request that
# completed while it was down, older than rows shown before the stop (the resume window), none twice, a new entry
# live (the reconnection's backoff and resume point: stream_check.mjs), no
# console error on any page; the stream parsed in the Web Worker (and by the page without it),
# the list holding exactly what the stream sent; the worker's socket, its order, its bound and
# the page taking over (selftests/ui/stream_check.mjs, no browser). Screenshots: build/ui-screenshots/<browser>/.
# Skipped when chromium, node or ui/node_modules (make deps) or build/ui (make ui) are absent.
# Usage (root, from the repo root): bash selftests/integration/test_ui.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=400 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

ROOT=$(floe_root)
T=$PODS_TMP
# The pods' subnet: UI_NET overrides it (parallel runs of the tests each take their own).
A=${UI_NET:-10.213.21}.11 B=${UI_NET:-10.213.21}.12
H1=8080 H2=8081 GRPC=50051 REDIS=16379 AGENT_PORT=18897 HUB_PORT=18898 FRONT_PORT=18900
TOKEN_HUB_PORT=18901 TOKEN_FRONT_PORT=18902 TOKEN=ui-token-$RANDOM$RANDOM
RESTART_HUB_PORT=18903 RESTART_FRONT_PORT=18904
AGENT=$ROOT/build/floe-agent
HUB=$ROOT/build/floe-hub
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}

need_cmd "chromium, node, tshark, curl, nghttpd, redis are installed" "$CHROMIUM" node tshark curl \
	nghttpd redis-server redis-cli || done_testing
if [ ! -d "$ROOT/ui/node_modules/puppeteer-core" ]; then
	skip "the UI in a browser" "ui/node_modules is missing (make deps: npm ci in ui/)"
	done_testing
fi
if [ ! -f "$ROOT/build/ui/index.html" ]; then
	skip "the UI in a browser" "build/ui is missing (make ui)"
	done_testing
fi
[ -x "$AGENT" ] && [ -x "$HUB" ] || { skip "floe-agent and floe-hub" "not built"; done_testing; }
"$PY" -c 'import grpc' 2>/dev/null || { skip "gRPC peers" "python3-grpcio missing"; done_testing; }

entries_pods $A $B
pod_bg b "$T/httpd.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' :: $H1 2>'$T/httpd.err'"
mkdir -p "$T/www"
printf 'hello over h2c\n' >"$T/www/index.html"
pod_bg b "$T/nghttpd.log" nghttpd --no-tls -d "$T/www" $H2
pod_bg b "$T/grpc.err" "$PY" "$HERE/../lib/grpc_peer.py" server $GRPC "$T/grpc-server.log"
mkdir -p "$T/redis"
printf 'bind %s\nport %s\ndir %s\nsave ""\nappendonly no\nprotected-mode no\ndaemonize no\nlogfile ""\n' \
	$B $REDIS "$T/redis" >"$T/redis.conf"
pod_bg b "$T/redis.log" redis-server "$T/redis.conf"
for p in $H1 $H2 $GRPC $REDIS; do
	wait_tcp_listen b $p 15 || { not_ok "servers listen in b (port $p)"; done_testing; }
done
ok "HTTP/1.1, h2c, gRPC and Redis servers listen in b"

printf '#!/bin/sh\nshift\nexec "%s" "$@" >"%s"\n' "$AGENT" "$T/agent.json" >"$T/agent-wrap"
chmod +x "$T/agent-wrap"
if ! FLOE=$T/agent-wrap floe_start "$T/agent.log" "^${PREFIX}-(a|b)\$" -A --inventory "$INV" \
	--store "$T/store" --json --listen "127.0.0.1:$AGENT_PORT"; then
	not_ok "floe-agent --listen starts"
	done_testing
fi
node_bg "$T/hub.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --proxy-hub-port $HUB_PORT \
	--proxy-front-port $FRONT_PORT --ui-dir "$ROOT/build/ui"
wait_for_line "$T/hub.log" "web UI on http://127.0.0.1:$FRONT_PORT/" 10 ||
	{ not_ok "floe-hub says where the UI is"; diag "$(cat "$T/hub.log")"; done_testing; }
ok "floe-hub serves the UI on the front port $FRONT_PORT"
# A second hub over the same agent, with --token.
node_bg "$T/hub-token.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --proxy-hub-port $TOKEN_HUB_PORT \
	--proxy-front-port $TOKEN_FRONT_PORT --ui-dir "$ROOT/build/ui" --token "$TOKEN"
wait_for_line "$T/hub-token.log" "web UI on http://127.0.0.1:$TOKEN_FRONT_PORT/" 10 ||
	{ not_ok "floe-hub --token starts"; diag "$(cat "$T/hub-token.log")"; done_testing; }
# A third one, which the Chromium run has restarted under an open page (ui_check.mjs: 8c).
start_restart_hub() {
	node_bg "$T/hub-restart-$1.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --proxy-hub-port $RESTART_HUB_PORT \
		--proxy-front-port $RESTART_FRONT_PORT --ui-dir "$ROOT/build/ui"
	RESTART_HUB_PID=$BG_PID
	wait_for_line "$T/hub-restart-$1.log" "web UI on http://127.0.0.1:$RESTART_FRONT_PORT/" 10
}
start_restart_hub 0 || { not_ok "a third floe-hub starts"; diag "$(cat "$T/hub-restart-0.log")"; done_testing; }

# The traffic, made by the browser check while the page is open; the POST's header ($1) and the
# Redis key ($2) are the run's own (a run per browser, one agent).
BODY='{"hello":"floe","items":[1,2,3],"nested":{"ok":true}}'
cat >"$T/traffic.sh" <<EOS
set -u
ip netns exec $(pod_ns a) timeout 60 $PY $HERE/../lib/grpc_peer.py client $B:$GRPC $T/grpc-client.log 2 >$T/grpc-client.err 2>&1
for i in 1 2; do ip netns exec $(pod_ns a) curl -sS --max-time 5 --http2-prior-knowledge -o /dev/null http://$B:$H2/index.html; done
ip netns exec $(pod_ns a) curl -sS --max-time 5 -o /dev/null "http://$B:$H1/text?n=[1-3]00"
ip netns exec $(pod_ns a) curl -sS --max-time 5 -o /dev/null http://$B:$H1/missing
ip netns exec $(pod_ns a) curl -sS --max-time 5 -o /dev/null -X POST -H 'content-type: application/json' \
	-H "x-floe-test: \$1" --data-binary '$BODY' http://$B:$H1/echo
ip netns exec $(pod_ns a) redis-cli -h $B -p $REDIS SET "\$2" ui >/dev/null
ip netns exec $(pod_ns a) redis-cli -h $B -p $REDIS GET "\$2" >/dev/null
ip netns exec $(pod_ns a) redis-cli -h $B -p $REDIS PING >/dev/null
EOS

printf 'ip netns exec %s redis-cli -h %s -p %s PING >/dev/null\n' "$(pod_ns a)" $B $REDIS >"$T/ping.sh"
# A slow HTTP request for the restart (8c): its response's two chunks $1 s apart; the file $2
# is made once it is over.
cat >"$T/slow.sh" <<EOS
ip netns exec $(pod_ns a) curl -sS --max-time 30 -o /dev/null "http://$B:$H1/chunked?n=64&parts=2&delay=\$1"
touch "\$2"
EOS

# The page's stream without a browser: the worker reading the socket, in order, bounded; the
# page taking over when the worker fails.
checks node "$ROOT/selftests/ui/stream_check.mjs" "$T"

SHOTS=$ROOT/build/ui-screenshots
rm -rf "$SHOTS"
for browser in chromium firefox; do
	bin=$CHROMIUM
	[ $browser = firefox ] && bin=$FIREFOX
	if [ ! -x "$bin" ]; then
		skip "the UI in $browser" "$bin is missing (make deps)"
		continue
	fi
	MARK=ui-$browser-$RANDOM$RANDOM
	printf 'exec bash %q %q %q\n' "$T/traffic.sh" "$MARK" "floe-$browser" >"$T/traffic-$browser.sh"
	diag "== $browser"
	restart_ui=
	[ $browser = chromium ] && restart_ui="http://127.0.0.1:$RESTART_FRONT_PORT"
	rm -f "$T/restart" "$T/restarted" "$T/slow-done"
	env UI="http://127.0.0.1:$FRONT_PORT" TRAFFIC="$T/traffic-$browser.sh" PING="$T/ping.sh" MARK="$MARK" \
		KEY="floe-$browser" BODY="$BODY" GRPC_LOG="$T/grpc-client.log" POD_A="$(pod_ns a)" POD_B="$(pod_ns b)" \
		SHOTS="$SHOTS/$browser" DL="$T/dl-$browser" BROWSER=$browser BROWSER_BIN="$bin" \
		TOKEN_UI="http://127.0.0.1:$TOKEN_FRONT_PORT" TOKEN="$TOKEN" \
		RESTART_UI="$restart_ui" RESTART="$T/restart" RESTARTED="$T/restarted" SLOW="$T/slow.sh" SLOW_DONE="$T/slow-done" \
		HOME="$T" ip netns exec "$NODE" timeout 200 node "$ROOT/selftests/ui/ui_check.mjs" >"$T/ui-$browser.out" 2>&1 &
	ui_pid=$!
	# The check asks (the file restart) for the hub's restart while its page is open: stopped,
	# started again on the same ports; the file restarted says it serves again.
	while kill -0 $ui_pid 2>/dev/null; do
		if [ -f "$T/restart" ] && [ ! -f "$T/restarted" ]; then
			bg_stop "$RESTART_HUB_PID"
			# An entry made while the hub is down: the agent stores it, so the hub back has it
			# in its history and the page, resuming where it was, shows it (8c). And the check's
			# slow request (SLOW_DONE), which started before entries the page got before the stop,
			# completes while it is down: its timestamp is older than theirs.
			bash "$T/ping.sh"
			for _ in $(seq 200); do [ -f "$T/slow-done" ] && break; sleep 0.1; done
			sleep 1
			start_restart_hub 1 && touch "$T/restarted"
		fi
		sleep 0.1
	done
	ui_rc=0
	wait $ui_pid || ui_rc=$?
	checks bash -c 'cat "$1"; exit "$2"' _ "$T/ui-$browser.out" "$ui_rc"
	shots=11
	[ $browser = chromium ] && shots=12
	is "$(ls "$SHOTS/$browser"/*.png 2>/dev/null | wc -l)" $shots "$browser: a screenshot of each view in build/ui-screenshots/$browser/"
done
done_testing
