#!/usr/bin/env bash
# Integration: triggers defined through the hub (issue 19; docs/triggers.md, docs/hub.md). Pods
# a (curl) and b (HTTP server) tapped by a real `floe-agent --listen` with a configuration file
# holding one trigger of its own; a real `floe-hub --agents` over gRPC with a token and a state
# directory; a real HTTP receiver (selftests/lib/webhook_receiver.py) in the node netns.
# Oracles: the client's own list of the requests it sent and their answers, the receiver's
# log, the agent's --json output, tshark.
#   - POST /api/v1/triggers: bad KFL (400 with its column), an unknown action, exec (400),
#     no token (401), a name the agent's file has (409), the same name twice (409)
#   - the receiver gets exactly the client's matching requests, once each
#   - GET lists both triggers (config and api) with the agent's counters; /metrics has them
#     labelled by trigger
#   - snapshots: listed by the hub, downloaded, read by tshark holding the request; a bad
#     name (path traversal) is a 400
#   - DELETE stops deliveries; DELETE of the file's trigger is a 409
#   - the agent restarted: the hub sends the trigger again and it fires again
#   - the hub restarted: its triggers come back from --state-dir
# Usage (root, from the repo root): bash selftests/integration/test_hub_triggers.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.222.19.11 B=10.222.19.12
PORT=8080 AGENT_PORT=18897 HUB_PORT=18898
AGENT=$(floe_root)/build/floe-agent
HUB=$(floe_root)/build/floe-hub
TOKEN=hubtok

need_cmd "curl, jq and tshark are installed" curl jq tshark || done_testing
[ -x "$AGENT" ] && [ -x "$HUB" ] || { skip "floe-agent and floe-hub" "not built"; done_testing; }
entries_pods $A $B
entries_httpd1 b $PORT
U=http://$B:$PORT

node_bg "$T/receiver.log" /usr/bin/python3 "$HERE/../lib/webhook_receiver.py" 127.0.0.1 0 \
	"$T/hooks.jsonl" "$T/receiver.port"
wait_for_line "$T/receiver.port" '^[0-9]+$' 10 || { not_ok "webhook receiver listens"; done_testing; }
WPORT=$(cat "$T/receiver.port")
: >"$T/hooks.jsonl"

# The agent's own trigger, from its configuration file: listed read-only by the hub.
cat >"$T/agent.yaml" <<EOF
triggers:
  - name: cfg-count
    query: 'http and request.path == "/cfg"'
    actions: [{counter: true}]
EOF
# floe_start runs "$FLOE tap ARGS": floe-agent takes the ARGS alone, entries appended to a file
# (the agent is started twice).
printf '#!/bin/sh\nshift\nexec "%s" "$@" >>"%s"\n' "$AGENT" "$T/agent.json" >"$T/agent-wrap"
chmod +x "$T/agent-wrap"
agent_start() {
	FLOE=$T/agent-wrap floe_start "$T/agent$1.log" "^${PREFIX}-(a|b)\$" -A --inventory "$INV" \
		--store "$T/store" --json --listen "127.0.0.1:$AGENT_PORT" --config-path "$T/agent.yaml"
}
agent_start 1 || { not_ok "floe-agent --listen --config-path starts"; done_testing; }

hub_start() {
	node_bg "$T/hub$1.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --proxy-hub-port $HUB_PORT \
		--proxy-front-port 0 --token $TOKEN --state-dir "$T/hubstate"
	HUB_PID=$BG_PID
}
hub_start 1
H=http://127.0.0.1:$HUB_PORT
api() { on_node curl -sS --max-time 20 -H "Authorization: Bearer $TOKEN" "$@"; }
# post BODY: the status; the answer in $T/post.json
post() {
	api -o "$T/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "$1" "$H/api/v1/triggers"
}
# wait_until SECS CMD...: until CMD succeeds
wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}
agent_has() { # agent_has TRIGGER: the agent reports the trigger (its counters) to the hub
	api "$H/api/v1/triggers" | jq -e --arg t "$1" \
		'.triggers[] | select(.name == $t) | .agents | length == 1'
}

wait_until 20 agent_has cfg-count || not_ok "the hub reaches the agent"
AG=$(api "$H/api/v1/agents" | jq -r '.agents[0].name')
diag "agent name: $AG"

# ---------------------------------------------------------------- validation
code=$(on_node curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary '{}' "$H/api/v1/triggers")
is "$code" 401 "POST without the hub's token: 401"
is "$(post '{"name":"x","query":"http and response.statu == 404","actions":[{"counter":true}]}')" \
	400 "a bad KFL query: 400"
check "the 400 says the query's problem and its column ($(cat "$T/post.json"))" \
	jq -e '(.error | test("query: column 10: unknown field .response.statu.")) and .column == 10' \
	"$T/post.json"
is "$(post '{"name":"x","query":"http","actions":[{"page":"me"}]}')" 400 "an unknown action: 400"
check "it names the action ($(cat "$T/post.json"))" \
	jq -e '.error | test("unknown action .page.")' "$T/post.json"
is "$(post '{"name":"x","query":"http","actions":[{"exec":"id"}]}')" 400 \
	"exec through the hub: 400 (it would run commands on every node)"
is "$(post '{"name":"x","query":"http","actions":[{"webhook":{"url":"http://x","retries":"many"}}]}')" \
	400 "a bad webhook option: 400 (the agent's check)"
check "the agent's message names the key ($(cat "$T/post.json"))" \
	jq -e '.error | test("actions\\[0\\].webhook.retries")' "$T/post.json"
is "$(post '{"name":"cfg-count","query":"http","actions":[{"counter":true}]}')" 409 \
	"a name the agent's configuration file has: 409"
is "$(post 'not json')" 400 "a body that is not JSON: 400"

NF='{"name":"nf","query":"http and response.status == 404 and request.path.startsWith(\"/missing\")","actions":[{"webhook":"http://127.0.0.1:'$WPORT'/hook"},{"snapshot":{"before":"2s","after":"1s"}}]}'
is "$(post "$NF")" 201 "POST a good trigger: 201"
is "$(post "$NF")" 409 "the same name again: 409"
check "the hub keeps it in --state-dir" jq -e '.triggers[0].name == "nf"' "$T/hubstate/triggers.json"
wait_until 10 agent_has nf || not_ok "the agent runs it"

# ---------------------------------------------------------------- deliveries
: >"$T/sent"
send() { # send PATH...: the client's requests, each with the status it got, into $T/sent
	for p in "$@"; do
		echo "$p $(in_pod a curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$U$p")" >>"$T/sent"
	done
}
hooks() { jq -r 'select(.path == "/hook") | .body | fromjson | .entry.request.path' "$T/hooks.jsonl" | sort; }
hooks_n() { [ "$(hooks | wc -l)" -ge "$1" ]; }
send /missing/1 /missing/2 /missing/3 /missing/4 /text /cfg /cfg
wait_until 20 hooks_n 4 || diag "deliveries: $(hooks | tr '\n' ' ')"
entries_wait "$T/agent.json" 7 10 || not_ok "7 entries from the agent"
sleep 1 # a fifth delivery (a duplicate) would have come by now
is "$(hooks | tr '\n' ' ')" "$(awk '$2 == 404 && $1 ~ /^\/missing\// { print $1 }' "$T/sent" | sort | tr '\n' ' ')" \
	"the receiver got exactly the client's 404 /missing requests, once each"
is "$(jq -r 'select(.path == "/hook") | .body | fromjson | .trigger' "$T/hooks.jsonl" | sort -u)" nf \
	"each delivery names the trigger"

api "$H/api/v1/triggers" >"$T/list.json"
check "GET: nf from the API with the agent's counters ($(jq -c '.triggers[] | select(.name=="nf") | .agents' "$T/list.json"))" \
	jq -e --arg a "$AG" '.triggers[] | select(.name == "nf") | .source == "api" and
		.agents[$a].matched == 4 and .agents[$a].failed == 0 and .agents[$a].rate_limited == 0 and
		.agents[$a].deduplicated == 0 and .agents[$a].retried == 0 and .agents[$a].sent >= 4 and
		(.actions | length) == 2 and (.query | test("response.status == 404"))' "$T/list.json"
check "GET: cfg-count from the file, read-only, matched 2 (/cfg twice)" \
	jq -e --arg a "$AG" '.triggers[] | select(.name == "cfg-count") | .source == "config" and
		.agents[$a].matched == 2 and .agents[$a].sent == 2' "$T/list.json"
check "GET /api/v1/triggers/nf: the one trigger" \
	sh -c "ip netns exec $NODE curl -sS -H 'Authorization: Bearer $TOKEN' $H/api/v1/triggers/nf | jq -e '.name == \"nf\"' >/dev/null"
is "$(api -o /dev/null -w '%{http_code}' "$H/api/v1/triggers/nope")" 404 "GET of an unknown trigger: 404"
api "$H/metrics" >"$T/metrics.txt"
check "/metrics: floe_trigger_actions_total labelled by trigger, action, outcome" \
	grep -q "^floe_trigger_actions_total{agent=\"$AG\",trigger=\"nf\",action=\"webhook\",outcome=\"sent\"} 4\$" \
	"$T/metrics.txt"
check "/metrics: floe_trigger_matched_total of the file's trigger" \
	grep -q "^floe_trigger_matched_total{agent=\"$AG\",trigger=\"cfg-count\"} 2\$" "$T/metrics.txt"
check "/metrics: no trigger name in a metric's name" sh -c "! grep -q '_nf_\|cfg_count' '$T/metrics.txt'"

# ---------------------------------------------------------------- snapshots
snaps_n() { [ "$(api "$H/api/v1/snapshots" | jq '[.snapshots[] | select(.trigger == "nf")] | length')" -ge "$1" ]; }
wait_until 20 snaps_n 4 || not_ok "4 snapshots listed"
api "$H/api/v1/snapshots" >"$T/snaps.json"
check "snapshots: trigger, entry id, agent, size, time, path" \
	jq -e --arg a "$AG" '[.snapshots[] | select(.trigger == "nf")] | length == 4 and
		all(.agent == $a and .size > 24 and .mtime_ns > 0 and (.path | startswith("/api/v1/snapshots/")))' \
	"$T/snaps.json"
sid=$(jq -r '[.snapshots[] | select(.trigger == "nf")][0].entry_id' "$T/snaps.json")
spath=$(jq -r --arg i "$sid" 'select(.id == $i) | .request.path' "$T/agent.json")
code=$(api -o "$T/snap.pcap" -w '%{http_code}' "$H$(jq -r '[.snapshots[] | select(.trigger == "nf")][0].path' "$T/snaps.json")")
is "$code" 200 "a snapshot downloads"
check "tshark reads it without a warning" test -z "$(tshark_q -r "$T/snap.pcap" 2>&1 >/dev/null)"
is "$(pcap_count "$T/snap.pcap" "http.request.uri == \"$spath\"")" 1 \
	"it holds the matching request ($spath)"
is "$(pcap_count "$T/snap.pcap" 'tcp.flags.syn == 1 && tcp.flags.ack == 0')" 1 "and its connection's SYN"
is "$(api -o /dev/null -w '%{http_code}' "$H/api/v1/snapshots/$AG/nf.x%2F..%2F..%2Fagent.yaml")" 400 \
	"a name that is a path: 400"
code=$(api -o "$T/trav.out" -w '%{http_code}' "$H/api/v1/snapshots/$AG/..%2F..%2Fagent.yaml")
check "a path out of the directory is not served ($code)" \
	sh -c "[ '$code' != 200 ] && ! grep -q cfg-count '$T/trav.out'"
is "$(api -o /dev/null -w '%{http_code}' "$H/api/v1/snapshots/$AG/nf.no-such-id.pcap")" 404 \
	"a snapshot that is not there: 404"

# ---------------------------------------------------------------- DELETE
is "$(api -o "$T/del.json" -w '%{http_code}' -X DELETE "$H/api/v1/triggers/cfg-count")" 409 \
	"DELETE of the file's trigger: 409"
check "it says why ($(cat "$T/del.json"))" jq -e '.error | test("configuration file")' "$T/del.json"
is "$(api -o /dev/null -w '%{http_code}' -X DELETE "$H/api/v1/triggers/nf")" 200 "DELETE nf: 200"
is "$(api -o /dev/null -w '%{http_code}' "$H/api/v1/triggers/nf")" 404 "then GET nf: 404"
send /missing/5
entries_wait "$T/agent.json" 8 10 || not_ok "the agent saw /missing/5"
sleep 2 # a delivery would have come by now
is "$(hooks | wc -l)" 4 "after DELETE: no delivery for /missing/5"

# ---------------------------------------------------------------- the agent restarts
is "$(post "$NF")" 201 "POST nf again"
floe_stop
is "$?" 0 "floe-agent exits 0"
agent_start 2 || { not_ok "floe-agent starts again"; done_testing; }
wait_until 20 agent_has nf
is "$?" 0 "the hub sends nf to the restarted agent"
send /missing/6
wait_until 20 hooks_n 5
is "$(hooks | tr '\n' ' ')" "/missing/1 /missing/2 /missing/3 /missing/4 /missing/6 " \
	"the restarted agent's trigger fires (/missing/6), nothing else"

# ---------------------------------------------------------------- the hub restarts
bg_stop "$HUB_PID" >/dev/null
hub_start 2
wait_until 20 agent_has nf
is "$?" 0 "the restarted hub lists nf from its state directory, on the agent"
check "source api" sh -c "ip netns exec $NODE curl -sS -H 'Authorization: Bearer $TOKEN' $H/api/v1/triggers/nf | jq -e '.source == \"api\"' >/dev/null"

floe_stop
is "$?" 0 "floe-agent exits 0"
FLOE_PID=
done_testing
