#!/usr/bin/env bash
# Integration: floe-hub over a real floe-agent, end to end (issue 16): pods a (curl) and b (HTTP
# server) tapped by `floe-agent --listen` (the eBPF path, the entry history, the gRPC server);
# `floe-hub --agents` reaches it over gRPC with the agent token and serves the HTTP API. The
# oracle is the agent's own --json output: the hub's entries are exactly the agent's, once each,
# in time order; a KFL query returns exactly the entries jq selects from the agent's output;
# /entries/{id} is the entry in full; the PCAP of a query holds exactly its requests (tshark);
# a hub with the wrong token is refused and says so; a stopped agent is reported as gone. The
# CLI against the hub: `floe pcap export --hub -q` writes the same PCAP, `floe stream -q` gives
# the matching entries, history then live, once each; unfiltered (batched, past one history
# page) it prints every entry of /api/v1/entries exactly once.
# Usage (root, from the repo root): bash selftests/integration/test_hub_agent.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.18.11 B=10.213.18.12
PORT=8080 AGENT_PORT=18897 HUB_PORT=18898 BAD_HUB_PORT=18899
AGENT=$(floe_root)/build/floe-agent
HUB=$(floe_root)/build/floe-hub

need_cmd "curl, jq and tshark are installed" curl jq tshark || done_testing
[ -x "$AGENT" ] && [ -x "$HUB" ] || { skip "floe-agent and floe-hub" "not built"; done_testing; }
entries_pods $A $B
entries_httpd1 b $PORT

# floe_start runs "$FLOE tap ARGS": floe-agent takes the ARGS alone, entries to their own file.
printf '#!/bin/sh\nshift\nexec "%s" "$@" >"%s"\n' "$AGENT" "$T/agent.json" >"$T/agent-wrap"
chmod +x "$T/agent-wrap"
if ! FLOE=$T/agent-wrap floe_start "$T/agent.log" "^${PREFIX}-(a|b)\$" -A --inventory "$INV" \
	--store "$T/store" --json --listen "127.0.0.1:$AGENT_PORT" --agent-token s3cret \
	--agent-name agent-one; then
	not_ok "floe-agent --listen starts"
	done_testing
fi
AGENT_PID=$FLOE_PID
check "floe-agent says it serves the hub" \
	grep -q "serving the hub on 127.0.0.1:$AGENT_PORT (port $AGENT_PORT), token required" \
	"$T/agent.log"

U=http://$B:$PORT
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?n=[1-6]"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/missing/1" "$U/missing/2"
N=8
entries_wait "$T/agent.json" $N 10 || not_ok "$N entries from the agent"
# The history is written by the agent's writer thread: wait until the hub would see them all.

node_bg "$T/hub.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --agent-token s3cret \
	--proxy-hub-port $HUB_PORT
HUB_PID=$BG_PID
H=http://127.0.0.1:$HUB_PORT
hub_get() { on_node curl -sS --max-time 10 "$@"; }
n=0
for _ in $(seq 100); do
	n=$(hub_get "$H/api/v1/entries?limit=1000" 2>/dev/null | jq '.entries | length' 2>/dev/null)
	[ "${n:-0}" -ge $N ] && break
	sleep 0.1
done
is "$n" "$N" "the hub serves the agent's $N entries"

hub_get "$H/api/v1/entries?limit=1000" >"$T/hub.json"
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | tr '\n' ' ')" \
	"$(jq -r '.id' "$T/agent.json" | sort | tr '\n' ' ')" \
	"the hub's entries are exactly the agent's (ids)"
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | uniq -d | wc -l)" 0 "no entry twice"
times=$(jq -r '.entries[].request_time' "$T/hub.json")
is "$times" "$(sort <<<"$times")" "entries in time order"

# A KFL query, against jq over the agent's own output
hub_get -G "$H/api/v1/entries" --data-urlencode 'q=response.status == 404' \
	--data-urlencode 'limit=1000' >"$T/q404.json"
is "$(jq -r '.entries[].id' "$T/q404.json" | sort | tr '\n' ' ')" \
	"$(jq -r 'select(.response.status == 404) | .id' "$T/agent.json" | sort | tr '\n' ' ')" \
	"q=response.status == 404: exactly the agent's 404 entries"
is "$(jq '.entries | length' "$T/q404.json")" 2 "two 404 entries"
code=$(hub_get -o "$T/bad.json" -w '%{http_code}' -G "$H/api/v1/entries" \
	--data-urlencode 'q=response.statu == 404')
is "$code" 400 "a bad query is a 400"
check "the 400 names the column" jq -e '.column == 1' "$T/bad.json"

# One entry in full
id=$(jq -r 'select(.request.path == "/text") | .id' "$T/agent.json" | head -n 1)
hub_get "$H/api/v1/entries/$id" | jq -S -c . >"$T/one.json"
is "$(cat "$T/one.json")" "$(jq -S -c "select(.id == \"$id\") | .agent = \"agent-one\"" "$T/agent.json")" \
	"/api/v1/entries/{id} is the agent's entry in full, named by its agent (--agent-name)"
is "$(jq -r '.entries[].agent' "$T/hub.json" | sort -u)" agent-one "every entry the hub serves names the agent"
hub_get -G "$H/api/v1/entries" --data-urlencode 'q=agent == "agent-one" and response.status == 404' \
	>"$T/qagent.json"
is "$(jq '.entries | length' "$T/qagent.json")" 2 "q=agent == \"agent-one\" and response.status == 404: the 2"
is "$(hub_get -o /dev/null -w '%{http_code}' "$H/api/v1/entries/no-such-id")" 404 \
	"an unknown id is a 404"

# PCAP of a query: its requests, opened by tshark
hub_get -G "$H/api/v1/pcap" --data-urlencode 'q=response.status == 404' -o "$T/q404.pcap"
is "$(pcap_count "$T/q404.pcap" 'http.request.uri contains "/missing/"')" 2 \
	"the PCAP of the 404 query holds its 2 requests"
is "$(pcap_count "$T/q404.pcap" 'http.request.uri contains "/text"')" 0 \
	"and none of the other requests"
check "tshark reads it without a warning" test -z "$(tshark_q -r "$T/q404.pcap" 2>&1 >/dev/null)"

# The terminal user's commands: floe pcap export --hub, floe stream (history, then live)
on_node "$FLOE" pcap export --hub "$H" -q 'response.status == 404' -o "$T/cli404.pcap" \
	2>"$T/cli-export.log"
is "$?" 0 "floe pcap export --hub exits 0"
check "floe pcap export --hub writes the hub's PCAP" cmp -s "$T/cli404.pcap" "$T/q404.pcap"
is "$(stat -c %a "$T/cli404.pcap")" 600 "the exported file is private (0600)"
on_node "$FLOE" pcap export --hub "$H" -q 'response.statu == 1' -o "$T/bad.pcap" 2>"$T/cli-bad.log"
is "$?" 1 "floe pcap export --hub with a bad query exits 1"
check "it says the hub's error with the column" grep -q "column 1" "$T/cli-bad.log"
check "and leaves no file behind" test ! -e "$T/bad.pcap"

node_bg "$T/stream.err" sh -c "exec '$FLOE' stream --hub '$H' -q 'response.status == 404' >'$T/stream.json'"
STREAM_PID=$BG_PID
entries_wait "$T/stream.json" 2 10 || not_ok "floe stream: the 2 history entries"
wait_for_line "$T/stream.err" 'history done' 10 || not_ok "floe stream says the history is done"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/missing/3"
entries_wait "$T/stream.json" 3 10 || not_ok "floe stream: the live entry"
bg_stop "$STREAM_PID" INT
is "$?" 0 "floe stream exits 0 on SIGINT"
entries_wait "$T/agent.json" $((N + 1)) 10
is "$(jq -r .id "$T/stream.json" | tr '\n' ' ')" \
	"$(jq -r 'select(.response.status == 404) | .id' "$T/agent.json" | tr '\n' ' ')" \
	"floe stream: the 404 entries, history then live, once each and in order"
on_node "$FLOE" stream --hub "$H" -q 'response.statu == 1' >/dev/null 2>"$T/stream-bad.err"
is "$?" 1 "floe stream with a bad query exits 1"
check "it says why, with the column" grep -q "column 1" "$T/stream-bad.err"

# floe stream asks for batches: every entry exactly once, through more than one history page
# (512 entries) and a live batch; the oracle is the hub's own /api/v1/entries.
BULK=700 LIVE=5
in_pod a curl -sS --max-time 120 -o /dev/null "$U/text?bulk=[1-$BULK]"
M=$((N + 1 + BULK))
entries_wait "$T/agent.json" $M 60 || not_ok "$M entries from the agent"
n=0
for _ in $(seq 300); do
	n=$(hub_get "$H/api/v1/entries?limit=10000" 2>/dev/null | jq '.entries | length' 2>/dev/null)
	[ "${n:-0}" -ge $M ] && break
	sleep 0.1
done
is "$n" "$M" "the hub serves the $M entries"
node_bg "$T/all.err" sh -c "exec '$FLOE' stream --hub '$H' >'$T/all.json'"
STREAM_PID=$BG_PID
wait_for_line "$T/all.err" 'history done' 60 || not_ok "floe stream (all): the history is done"
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?live=[1-$LIVE]"
entries_wait "$T/all.json" $((M + LIVE)) 30 || not_ok "floe stream (all): the live entries"
entries_wait "$T/agent.json" $((M + LIVE)) 10
sleep 0.5 # anything extra would show up as a duplicate below
bg_stop "$STREAM_PID" INT
is "$?" 0 "floe stream (all) exits 0 on SIGINT"
hub_get "$H/api/v1/entries?limit=10000" >"$T/all-hub.json"
is "$(jq '.entries | length' "$T/all-hub.json")" $((M + LIVE)) "the hub has the $((M + LIVE)) entries"
is "$(wc -l <"$T/all.json")" $((M + LIVE)) "floe stream printed $((M + LIVE)) lines"
is "$(jq -r .id "$T/all.json" | sort | tr '\n' ' ')" \
	"$(jq -r '.entries[].id' "$T/all-hub.json" | sort | tr '\n' ' ')" \
	"floe stream: every entry of /api/v1/entries exactly once, one a line"
is "$(jq -r .id "$T/all.json" | sort | uniq -d | wc -l)" 0 "floe stream: no entry twice"
check "floe stream: every line is a whole entry" \
	jq -e -s 'all(.[]; (.id | type) == "string" and (.request_time | type) == "string")' \
	"$T/all.json"

hub_get "$H/api/v1/agents" >"$T/agents.json"
check "/api/v1/agents: the agent is connected" jq -e '.agents[0].connected == true' "$T/agents.json"
check "/metrics answers in Prometheus text" sh -c "ip netns exec $NODE curl -sS $H/metrics | grep -q '^# TYPE'"

# A hub with the wrong agent token is refused, and says so
node_bg "$T/badhub.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --agent-token wrong \
	--proxy-hub-port $BAD_HUB_PORT
BAD_HUB_PID=$BG_PID
for _ in $(seq 50); do
	hub_get "http://127.0.0.1:$BAD_HUB_PORT/api/v1/entries" -o "$T/badtoken.json" 2>/dev/null && break
	sleep 0.1
done
check "wrong agent token: no entries, the error says the token" \
	sh -c "jq -r '.. | .error? // empty' '$T/badtoken.json' | grep -qi token"
bg_stop "$BAD_HUB_PID" >/dev/null

# The agent stops: the hub reports it
floe_stop
is "$?" 0 "floe-agent exits 0"
FLOE_PID=
for _ in $(seq 50); do
	hub_get "$H/api/v1/agents" >"$T/agents2.json" 2>/dev/null
	jq -e '.agents[0].connected == false' "$T/agents2.json" >/dev/null 2>&1 && break
	sleep 0.1
done
check "/api/v1/agents: the stopped agent is not connected" \
	jq -e '.agents[0].connected == false and (.agents[0].error | length > 0)' "$T/agents2.json"
bg_stop "$HUB_PID" >/dev/null

# --redact: the agent masks credentials in what it serves; a hub told --no-redact still gets
# none of them. The agent's own --json keeps them (the node's business).
if ! FLOE=$T/agent-wrap floe_start "$T/agent-r.log" "^${PREFIX}-(a|b)\$" -A --inventory "$INV" \
	--store "$T/store-r" --json --listen "127.0.0.1:$AGENT_PORT" --agent-token s3cret --redact; then
	not_ok "floe-agent --redact starts"
	done_testing
fi
check "floe-agent says it masks credentials" grep -q "credentials masked" "$T/agent-r.log"
node_bg "$T/hub-r.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --agent-token s3cret \
	--proxy-hub-port $HUB_PORT --no-redact
HUB_PID=$BG_PID
SECRET=tok-$RANDOM$RANDOM
in_pod a curl -sS --max-time 10 -o /dev/null -H "Authorization: Bearer $SECRET" \
	-H "Cookie: session=$SECRET" "$U/text?n=1"
entries_wait "$T/agent.json" 1 10 || not_ok "the --redact agent's entry"
check "the agent's own --json has the values" grep -q "Bearer $SECRET" "$T/agent.json"
r=""
for _ in $(seq 100); do
	r=$(hub_get "$H/api/v1/entries?q=http" 2>/dev/null)
	[ "$(jq '.entries | length' <<<"$r" 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
is "$(jq -r '.entries[0].request.headers.authorization' <<<"$r")" "[REDACTED]" \
	"a --no-redact hub gets authorization masked by the agent"
is "$(jq -r '.entries[0].request.cookies.session' <<<"$r")" "[REDACTED]" "and the cookie's value"
check "the secret is nowhere in the hub's answer" sh -c "! grep -q '$SECRET' <<'EOF'
$r
EOF"
floe_stop
is "$?" 0 "floe-agent --redact exits 0"
FLOE_PID=
bg_stop "$HUB_PID" >/dev/null
is "$(floe_filters v-a v-b)" "" "no tc filter left on v-a/v-b"
diag "$(grep -v '^floe: seen' "$T/agent.log" | tail -n 5)"
done_testing
