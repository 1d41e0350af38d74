#!/usr/bin/env bash
# Integration: `floe tap` serves the hub in-process (issue 16): pods a (curl) and b (HTTP server)
# tapped by `floe tap --json`, whose hub answers on 127.0.0.1:8898 (the API, --proxy-hub-port) and
# 127.0.0.1:8899 (the UI and the API, --proxy-front-port), the default ports inside the test's
# node netns, over the tap's own agent_api. The oracle is the tap's --json output: the
# hub's /api/v1/entries holds exactly its entries, once each, in time order; a KFL query gives
# exactly what jq selects; /entries/{id} is the entry in full; the WebSocket stream gives the
# history, then live entries made after it said "live", each as --json printed it. Authorization
# and cookie values are masked in what the hub serves (the tap's own output has them), and not
# with --no-redact. A hub port in use is a warning and capture goes on; a UI port in use is a
# warning and the UI and API stay on the hub port; --no-hub serves nothing.
# Usage (root, from the repo root): bash selftests/integration/test_tap_hub.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.19.11 B=10.213.19.12
PORT=8080 BUSY_PORT=18899

need_cmd "curl, jq and ss are installed" curl jq ss || done_testing
jqe() { jq -e "$@" >/dev/null; }
entries_pods $A $B
entries_httpd1 b $PORT

# --proxy-host alone: the default ports (8898, 8899), in this test's own node netns. The agent's
# name: every entry the hub serves carries it (`agent`); floe tap --json prints none.
AG=tap-node-1
entries_tap --proxy-host 127.0.0.1 --agent-name $AG
check "floe tap says where its hub's API is" \
	grep -qx 'floe: hub API at http://127.0.0.1:8898/' "${OUT%.json}.floe.log"
check "floe tap says where its web UI is" \
	grep -qx 'floe: web UI at http://127.0.0.1:8899/' "${OUT%.json}.floe.log"
H=http://127.0.0.1:8899 HAPI=http://127.0.0.1:8898
hub_get() { on_node curl -sS --max-time 10 "$@"; }
# hub_one PORT FILE: until the hub on PORT serves one entry (5 s at most), its answer in FILE.
hub_one() {
	for _ in $(seq 50); do
		hub_get "http://127.0.0.1:$1/api/v1/entries" >"$2" 2>/dev/null
		[ "$(jq '.entries | length' "$2" 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
}
# The hub's masking applied to the tap's --json entries: the expected answer.
RED='def m: with_entries(if (.key | ascii_downcase | IN("authorization", "proxy-authorization", "cookie", "set-cookie")) then .value = "[REDACTED]" else . end);
	def all: map_values("[REDACTED]");
	if .request.headers then .request.headers |= m else . end |
	if .response.headers then .response.headers |= m else . end |
	if .request.cookies then .request.cookies |= all else . end |
	if .response.cookies then .response.cookies |= all else . end | .agent = "'$AG'"'

U=http://$B:$PORT
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?n=[1-6]"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/missing/1" "$U/missing/2"
in_pod a curl -sS --max-time 10 -o /dev/null -H 'Authorization: Bearer s3cr3t-t0ken' \
	-H 'Cookie: session=c00kie' "$U/text?secret=1"
N=9
entries_wait "$OUT" $N 10 || not_ok "$N entries printed by floe tap --json"
n=0
for _ in $(seq 100); do
	n=$(hub_get "$H/api/v1/entries?limit=1000" 2>/dev/null | jq '.entries | length' 2>/dev/null)
	[ "${n:-0}" -ge $N ] && break
	sleep 0.1
done
is "$n" "$N" "the hub serves the tap's $N entries"

hub_get "$H/api/v1/entries?limit=1000" >"$T/hub.json"
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | tr '\n' ' ')" \
	"$(jq -r '.id' "$OUT" | sort | tr '\n' ' ')" "the hub's entries are exactly the tap's (ids)"
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | uniq -d | wc -l)" 0 "no entry twice"
times=$(jq -r '.entries[].request_time' "$T/hub.json")
is "$times" "$(sort <<<"$times")" "entries in time order"
is "$(jq -S -c '.entries[] | del(.request.body, .response.body)' "$T/hub.json" | sort)" \
	"$(jq -S -c "$RED | del(.request.body, .response.body)" "$OUT" | sort)" \
	"each is the tap's --json entry (bodies aside: the list leaves them out; masked)"
check "the tap's own output has the Authorization and Cookie values as sent" \
	jqe 'select(.request.query == "secret=1") | .request.headers.authorization == "Bearer s3cr3t-t0ken" and .request.headers.cookie == "session=c00kie"' "$OUT"
check "the hub masks them" jqe '.entries[] | select(.request.query == "secret=1") |
	.request.headers.authorization == "[REDACTED]" and .request.headers.cookie == "[REDACTED]"' \
	"$T/hub.json"
check "and no served byte holds the secrets" sh -c "! grep -qE 's3cr3t|c00kie' '$T/hub.json'"

hub_get -G "$H/api/v1/entries" --data-urlencode 'q=response.status == 404' \
	--data-urlencode 'limit=1000' >"$T/q404.json"
is "$(jq -r '.entries[].id' "$T/q404.json" | sort | tr '\n' ' ')" \
	"$(jq -r 'select(.response.status == 404) | .id' "$OUT" | sort | tr '\n' ' ')" \
	"q=response.status == 404: exactly the tap's 404 entries (jq)"
is "$(jq '.entries | length' "$T/q404.json")" 2 "two of them"
check "the tap's own --json entries name no agent" sh -c "! jq -e 'has(\"agent\")' '$OUT' | grep -q true"
is "$(jq -r '.entries[].agent' "$T/hub.json" | sort -u)" "$AG" "every entry the hub serves names its agent"
# KFL on the agent's name, through the API's own port.
hub_get -G "$HAPI/api/v1/entries" --data-urlencode "q=agent == \"$AG\" and response.status == 404" \
	--data-urlencode 'limit=1000' >"$T/qagent.json"
is "$(jq -r '.entries[].id' "$T/qagent.json" | sort | tr '\n' ' ')" \
	"$(jq -r '.entries[].id' "$T/q404.json" | sort | tr '\n' ' ')" \
	"q=agent == \"$AG\" and ... on the hub port (8898): the same entries"
hub_get -G "$HAPI/api/v1/entries" --data-urlencode 'q=agent == "another-node"' >"$T/qnone.json"
is "$(jq '.entries | length' "$T/qnone.json")" 0 "q=agent == \"another-node\": none"

id=$(jq -r 'select(.request.path == "/text") | .id' "$OUT" | head -n 1)
is "$(hub_get "$H/api/v1/entries/$id" | jq -S -c .)" \
	"$(jq -S -c "select(.id == \"$id\") | .agent = \"$AG\"" "$OUT")" \
	"/api/v1/entries/{id} is the tap's entry in full, with its agent"
id=$(jq -r 'select(.request.query == "secret=1") | .id' "$OUT")
is "$(hub_get "$H/api/v1/entries/$id" | jq -S -c .)" "$(jq -S -c "select(.id == \"$id\") | $RED" "$OUT")" \
	"/api/v1/entries/{id} of the entry with secrets: in full, masked"
check "/api/v1/agents: one agent, connected" \
	sh -c "ip netns exec $NODE curl -sS --max-time 10 $H/api/v1/agents |
		jq -e '(.agents | length) == 1 and .agents[0].connected == true' >/dev/null"

# The WebSocket stream: the history (8), then 3 entries made after it said "live".
node_bg "$T/ws.err" $PY "$HERE/../lib/ws_entries.py" "ws://127.0.0.1:8899/api/v1/stream" \
	"$T/ws.json" --live "$T/ws.live" --count $((N + 3)) --timeout 30
WS_PID=$BG_PID
for _ in $(seq 100); do
	[ -e "$T/ws.live" ] && break
	sleep 0.1
done
check "the stream says the history is over" test -e "$T/ws.live"
is "$(grep -c . "$T/ws.json")" $N "the stream's history: $N entries"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?live=[1-3]"
wait_pid "$WS_PID" 20
is "$?" 0 "the stream gives the 3 live entries too"
entries_wait "$OUT" $((N + 3)) 10
is "$(jq -r .id "$T/ws.json" | tail -n 3 | sort | tr '\n' ' ')" \
	"$(jq -r 'select(.request.query | test("live=")) | .id' "$OUT" | sort | tr '\n' ' ')" \
	"the live entries are the ones made after 'live'"
is "$(jq -S -c . "$T/ws.json" | sort)" "$(jq -S -c "$RED" "$OUT" | sort)" \
	"stream = floe tap --json: the same $((N + 3)) entries, in full (masked), once each"
times=$(jq -r '.request_time' "$T/ws.json" | head -n $N)
is "$times" "$(sort <<<"$times")" "the history in time order"
diag "$(cat "$T/ws.err")"

# The trigger routes reach the tap's own trigger set (docs/triggers.md, "Through the hub")
code=$(hub_get -o "$T/trig.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	--data-binary '{"name":"tap-count","query":"http and request.path == \"/never\"","actions":[{"counter":true}]}' \
	"$H/api/v1/triggers")
is "$code" 201 "floe tap's hub: POST /api/v1/triggers"
check "the tap runs it: GET shows it with the tap's counters" \
	sh -c "ip netns exec $NODE curl -sS $H/api/v1/triggers/tap-count |
		jq -e '.source == \"api\" and ([.agents[]] | length == 1 and .[0].matched == 0)' >/dev/null"
is "$(hub_get -o /dev/null -w '%{http_code}' -X DELETE "$H/api/v1/triggers/tap-count")" 200 \
	"floe tap's hub: DELETE it"

entries_stop $((N + 3))
check "the hub's ports are closed once floe tap stopped" \
	sh -c "! ip netns exec $NODE ss -Hltn '( sport = :8899 or sport = :8898 )' | grep -q ."

# A port in use: a warning; capture goes on.
node_bg "$T/busy.log" $PY -c "import socket,time
s=socket.socket(); s.bind(('127.0.0.1', $BUSY_PORT)); s.listen(); time.sleep(60)"
BUSY_PID=$BG_PID
for _ in $(seq 50); do
	on_node ss -Hltn "sport = :$BUSY_PORT" | grep -q . && break
	sleep 0.1
done
OUT=$T/busy.json entries_tap --proxy-hub-port $BUSY_PORT
check "a hub port in use is a warning that says how to go on" \
	grep -q "^floe: warning: hub not started (.*); capture goes on without it (--proxy-hub-port PORT" "$T/busy.floe.log"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?busy=1"
OUT=$T/busy.json entries_stop 1
# The UI's port in use: a warning; the API's port serves the UI and the API.
OUT=$T/busyui.json entries_tap --proxy-hub-port 0 --proxy-front-port $BUSY_PORT
PB=$(sed -n 's|^floe: hub API at http://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/busyui.floe.log")
check "a web UI port in use is a warning that names where the UI is" \
	grep -qx "floe: warning: web UI port $BUSY_PORT not bound (in use, or not an address of this host); the UI is at http://127.0.0.1:$PB/" "$T/busyui.floe.log"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?busyui=1"
entries_wait "$T/busyui.json" 1 10
hub_one $PB "$T/busyui-hub.json"
check "with the UI port in use the hub port serves the API" \
	jqe '.entries[0].request.url == "/text?busyui=1"' "$T/busyui-hub.json"
OUT=$T/busyui.json entries_stop 1
bg_stop $BUSY_PID >/dev/null

# --no-redact, on any free port (0) and no UI port (0): the hub serves the values as captured.
OUT=$T/noredact.json entries_tap --proxy-hub-port 0 --proxy-front-port 0 --no-redact
P0=$(sed -n 's|^floe: hub API at http://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/noredact.floe.log")
check "--proxy-hub-port 0: a free port, printed" test -n "$P0" -a "${P0:-0}" -gt 0
check "--proxy-front-port 0: the UI is on the hub port" \
	grep -qx "floe: web UI at http://127.0.0.1:$P0/" "$T/noredact.floe.log"
in_pod a curl -sS --max-time 10 -o /dev/null -H 'Authorization: Bearer s3cr3t-t0ken' "$U/text?secret=2"
entries_wait "$T/noredact.json" 1 10
hub_one $P0 "$T/noredact-hub.json"
check "--no-redact: the hub serves the Authorization value as captured" \
	jqe '.entries[0].request.headers.authorization == "Bearer s3cr3t-t0ken"' "$T/noredact-hub.json"
OUT=$T/noredact.json entries_stop 1

# --no-hub: nothing listens, nothing said.
OUT=$T/nohub.json entries_tap --proxy-host 127.0.0.1 --no-hub
check "--no-hub: no hub line" sh -c "! grep -qE '^floe: (warning: )?hub' '$T/nohub.floe.log'"
check "--no-hub: nothing listens on 8898 or 8899" \
	sh -c "! ip netns exec $NODE ss -Hltn '( sport = :8899 or sport = :8898 )' | grep -q ."
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?nohub=1"
OUT=$T/nohub.json entries_stop 1
is "$(floe_filters v-a v-b)" "" "no tc filter left on v-a/v-b"
done_testing
