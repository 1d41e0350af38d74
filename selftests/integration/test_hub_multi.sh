#!/usr/bin/env bash
# Integration: one floe-hub over three nodes (issue 16). Three network namespaces are nodes, each
# with its own pods (a curl client, an HTTP server on the node's bridge) and its own floe-agent
# (its own hostname: a UTS namespace) tapping them; a fourth namespace runs floe-hub, which
# reaches the agents over veth links. The oracle is the agents' own --json output:
# /api/v1/entries holds every node's entries exactly once, ids distinct, time-ordered; a KFL
# query returns exactly what jq selects from the three outputs; /api/v1/agents names the three;
# the PCAP holds every node's requests; /metrics counts each agent's entries; an agent killed (SIGKILL) is reported down while the
# others are still served, and once restarted it is back, and the open WebSocket stream gets its
# new entries; the hub killed and restarted serves everything the agents still hold.
# Usage (root, from the repo root): bash selftests/integration/test_hub_multi.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
PORT=8080 APORT=8897 HPORT=8898
AGENT=$(floe_root)/build/floe-agent
HUB=$(floe_root)/build/floe-hub
HUBNS=${PREFIX}-hub
NODE0=$NODE

need_cmd "curl, jq, tshark and unshare are installed" curl jq tshark unshare || done_testing
[ -x "$AGENT" ] && [ -x "$HUB" ] || { skip "floe-agent and floe-hub" "not built"; done_testing; }

multi_cleanup() {
	local i
	itest_cleanup_multi_done=1
	floe_cleanup
	pods_cleanup
	for i in 0 1 2; do ip netns del "${PREFIX}-n$i" 2>/dev/null; done
	ip netns del "$HUBNS" 2>/dev/null
	ip netns del "$NODE0" 2>/dev/null
}
trap multi_cleanup EXIT

node_ns() { printf '%s-n%s\n' "$PREFIX" "$1"; }
agent_ip() { printf '10.213.30.%d\n' $((4 * $1 + 2)); }
on_hub() { ip netns exec "$HUBNS" "$@"; }
jqe() { jq -e "$@" >/dev/null; }
hub_get() { on_hub curl -sS --max-time 10 "$@"; }
H=http://127.0.0.1:$HPORT

# --- three nodes, their pods, and the links to the hub's namespace
ip netns add "$HUBNS" || { not_ok "create the hub's netns"; done_testing; }
ip -n "$HUBNS" link set lo up
INV=$T/inventory
: >"$INV"
for i in 0 1 2; do
	NODE=$(node_ns $i) _PODS_NODE_UP=0
	if ! pod_add a$i 10.213.2$i.11 || ! pod_add b$i 10.213.2$i.12; then
		not_ok "create node $i's pods"
		done_testing
	fi
	printf '%s front\n%s back\n' "$(pod_ns a$i)" "$(pod_ns b$i)" >>"$INV"
	ip -n "$HUBNS" link add h$i type veth peer name up$i netns "$NODE"
	ip -n "$HUBNS" addr add 10.213.30.$((4 * i + 1))/30 dev h$i
	ip -n "$HUBNS" link set h$i up
	ip -n "$NODE" addr add "$(agent_ip $i)/30" dev up$i
	ip -n "$NODE" link set up$i up
	pod_bg b$i "$T/httpd$i.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' :: $PORT 2>'$T/httpd$i.err'"
done
# pods_cleanup deletes the last $NODE; the trap the others.
for i in 0 1 2; do
	wait_tcp_listen b$i $PORT 10 || { not_ok "HTTP server listens in b$i"; done_testing; }
done

# start_agent I: floe-agent on node I (hostname nodeI), entries appended to agentI.json
declare -a AGENT_PID GEN
start_agent() {
	local i=$1 log
	GEN[i]=$((${GEN[i]:-0} + 1))
	log=$T/agent$i.${GEN[i]}.log
	: >"$log"
	ip netns exec "$(node_ns "$i")" unshare --uts sh -c "hostname node$i && exec '$AGENT' \
		'^${PREFIX}-(a$i|b$i)\$' -A --inventory '$INV' --store '$T/store$i' --json \
		--listen $(agent_ip "$i"):$APORT >>'$T/agent$i.json' 2>'$log'" </dev/null &
	AGENT_PID[i]=$!
	bg_track "${AGENT_PID[i]}"
	if ! wait_for_line "$log" '^floe: tapping 2 pods' 30; then
		diag "$(cat "$log")"
		return 1
	fi
}
start_hub() {
	local log=$T/hub.$1.log
	ip netns exec "$HUBNS" "$HUB" --agents "$(agent_ip 0):$APORT,$(agent_ip 1):$APORT,$(agent_ip 2):$APORT" \
		--proxy-hub-port $HPORT >"$log" 2>&1 </dev/null &
	HUB_PID=$!
	bg_track $HUB_PID
	wait_for_line "$log" 'API on http://' 10 || diag "$(cat "$log")"
}
# traffic I TAG: 4 requests and one 404 from aI to bI
traffic() {
	in_pod a$1 curl -sS --max-time 10 -o /dev/null "http://10.213.2$1.12:$PORT/text?node=$1&t=$2&n=[1-4]"
	in_pod a$1 curl -sS --max-time 10 -o /dev/null "http://10.213.2$1.12:$PORT/missing/$1-$2"
}
# all_json: every agent's --json entries, each with the name the hub serves it under (its
# agent: the host's name, nodeI)
all_json() {
	local i
	for i in 0 1 2; do
		jq -c --arg a "node$i" '. + {agent: $a}' "$T/agent$i.json"
	done
}
# hub_wait N: until /api/v1/entries holds N entries (20 s); leaves them in $T/hub.json
hub_wait() {
	local n=0
	for _ in $(seq 200); do
		hub_get "$H/api/v1/entries?limit=10000" >"$T/hub.json" 2>/dev/null
		n=$(jq '.entries | length' "$T/hub.json" 2>/dev/null)
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 0.1
	done
	diag "the hub has ${n:-no} entries, not $1"
	return 1
}

for i in 0 1 2; do
	start_agent $i || { not_ok "floe-agent on node $i starts"; done_testing; }
done
ok "three floe-agents tap their nodes' pods"
for i in 0 1 2; do traffic $i 1; done
N=15
for i in 0 1 2; do
	entries_wait "$T/agent$i.json" 5 10 || not_ok "node $i's agent printed its 5 entries"
done
start_hub 1
hub_wait $N
is "$(jq '.entries | length' "$T/hub.json")" $N "the hub serves the $N entries of the three nodes"
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | tr '\n' ' ')" \
	"$(all_json | jq -r .id | sort | tr '\n' ' ')" "exactly the agents' entries (ids)"
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | uniq -d | wc -l)" 0 "ids distinct, none twice"
for i in 0 1 2; do
	is "$(jq -r '.entries[].id' "$T/hub.json" | grep -cFf <(jq -r .id "$T/agent$i.json"))" 5 \
		"node $i's 5 entries are there"
done
times=$(jq -r '.entries[] | [.request_time, .id] | @tsv' "$T/hub.json")
is "$times" "$(sort <<<"$times")" "in time order across nodes"
is "$(jq -S -c '.entries[]' "$T/hub.json" | sort)" \
	"$(all_json | jq -S -c 'del(.request.body, .response.body)' | sort)" \
	"each as its agent printed it (the list leaves the bodies out)"

hub_get "$H/api/v1/agents" >"$T/agents.json"
is "$(jq -r '[.agents[].name] | sort | join(" ")' "$T/agents.json")" "node0 node1 node2" \
	"/api/v1/agents names the three agents (their hosts)"
# KFL on the agent: node 1's entries alone, as each entry names its agent.
hub_get -G "$H/api/v1/entries" --data-urlencode 'q=agent == "node1"' --data-urlencode 'limit=10000' \
	>"$T/qnode1.json"
is "$(jq -r '.entries[].id' "$T/qnode1.json" | sort | tr '\n' ' ')" \
	"$(jq -r .id "$T/agent1.json" | sort | tr '\n' ' ')" "q=agent == \"node1\": exactly node 1's entries"
check "all three connected" jqe '[.agents[].connected] == [true, true, true]' "$T/agents.json"

# /metrics: every agent's statistics, by agent
hub_get "$H/metrics" >"$T/metrics.txt"
for i in 0 1 2; do
	is "$(sed -n "s/^floe_agent_history_entries{agent=\"node$i\"} //p" "$T/metrics.txt")" 5 \
		"/metrics: floe_agent_history_entries{agent=\"node$i\"} is its 5 entries"
done

# KFL, narrowed on the hub: against jq over the agents' outputs
q() { hub_get -G "$H/api/v1/entries" --data-urlencode "q=$1" --data-urlencode limit=10000; }
q 'response.status == 404' >"$T/q1.json"
is "$(jq -r '.entries[].id' "$T/q1.json" | sort | tr '\n' ' ')" \
	"$(all_json | jq -r 'select(.response.status == 404) | .id' | sort | tr '\n' ' ')" \
	"q=response.status == 404: the 404s of every node (jq)"
is "$(jq '.entries | length' "$T/q1.json")" 3 "three of them"
q 'dst.ip == "10.213.21.12" and request.path == "/text"' >"$T/q2.json"
is "$(jq -r '.entries[].id' "$T/q2.json" | sort | tr '\n' ' ')" \
	"$(jq -r 'select(.dst.ip == "10.213.21.12" and .request.path == "/text") | .id' \
		"$T/agent1.json" | sort | tr '\n' ' ')" \
	"q=dst.ip == node 1's server and request.path == \"/text\": node 1's 4 (jq)"
is "$(jq '.entries | length' "$T/q2.json")" 4 "four of them"

# The PCAP of every node's entries
hub_get "$H/api/v1/pcap" -o "$T/all.pcap"
for i in 0 1 2; do
	is "$(pcap_count "$T/all.pcap" "ip.dst == 10.213.2$i.12 && http.request")" 5 \
		"the hub's PCAP holds node $i's 5 requests"
done
check "tshark reads it without a warning" test -z "$(tshark_q -r "$T/all.pcap" 2>&1 >/dev/null)"

# A stream stays open across node 1's agent being killed and restarted.
ip netns exec "$HUBNS" $PY "$HERE/../lib/ws_entries.py" "ws://127.0.0.1:$HPORT/api/v1/stream" "$T/ws.json" \
	--live "$T/ws.live" --timeout 90 2>"$T/ws.err" &
WS_PID=$!
bg_track $WS_PID
wait_for_line "$T/ws.json" . 10 >/dev/null
for _ in $(seq 100); do [ -e "$T/ws.live" ] && break; sleep 0.1; done
is "$(grep -c . "$T/ws.json")" $N "the stream's history: the $N entries"

kill -KILL "${AGENT_PID[1]}"
wait "${AGENT_PID[1]}" 2>/dev/null
for _ in $(seq 100); do
	hub_get "$H/api/v1/agents" >"$T/agents2.json" 2>/dev/null
	jq -e '.agents[] | select(.name == "node1" or .address == "10.213.30.6:8897") | .connected == false' \
		"$T/agents2.json" >/dev/null 2>&1 && break
	sleep 0.1
done
check "node 1's agent killed: /api/v1/agents says it is not connected, with why" \
	jqe '[.agents[] | select(.connected == false and (.error | length > 0))] | length == 1' \
	"$T/agents2.json"
check "... and the others still are" jqe '[.agents[] | select(.connected)] | length == 2' \
	"$T/agents2.json"
hub_get "$H/api/v1/entries?limit=10000" >"$T/partial.json"
is "$(jq '.entries | length' "$T/partial.json")" 10 "the hub still serves the other nodes' 10 entries"
check "... and names the agent it could not reach" \
	jqe '(.errors | length) == 1 and (.errors[0].error | length > 0)' "$T/partial.json"
traffic 0 2
entries_wait "$T/ws.json" $((N + 5)) 10
is "$(grep -c . "$T/ws.json")" $((N + 5)) "the stream goes on with node 0's new entries"

start_agent 1 || not_ok "node 1's agent restarts"
for _ in $(seq 100); do
	hub_get "$H/api/v1/agents" >"$T/agents3.json" 2>/dev/null
	jq -e '[.agents[].connected] == [true, true, true]' "$T/agents3.json" >/dev/null 2>&1 && break
	sleep 0.1
done
check "node 1's agent restarted: connected again" \
	jqe '[.agents[].connected] == [true, true, true]' "$T/agents3.json"
# the stream resubscribes with backoff (at most 5 s): traffic until its entries come
got=0
for t in 3 4 5 6; do
	traffic 1 $t
	if entries_wait "$T/ws.json" $((N + 5 + 5)) 6; then
		got=1
		break
	fi
done
check "the open stream gets the restarted agent's new entries" test $got = 1
entries_wait "$T/agent1.json" $((5 + 5 * (t - 2))) 10
M=$((N + 5 + 5 * (t - 2)))
hub_wait $M
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | tr '\n' ' ')" \
	"$(all_json | jq -r .id | sort | tr '\n' ' ')" \
	"all $M entries, the killed agent's history from before too"
kill "$WS_PID" 2>/dev/null
wait "$WS_PID" 2>/dev/null
is "$(jq -r .id "$T/ws.json" | sort | uniq -d | wc -l)" 0 "the stream gave no entry twice"
is "$(jq -r .id "$T/ws.json" | grep -vxFf <(all_json | jq -r .id) | wc -l)" 0 \
	"every entry it gave is an agent's"

# The hub killed and restarted: nothing the agents hold is lost.
kill -KILL $HUB_PID
wait $HUB_PID 2>/dev/null
start_hub 2
hub_wait $M
is "$(jq -r '.entries[].id' "$T/hub.json" | sort | tr '\n' ' ')" \
	"$(all_json | jq -r .id | sort | tr '\n' ' ')" "the restarted hub serves all $M entries again"

for i in 0 1 2; do
	kill -INT "${AGENT_PID[i]}"
	wait_pid "${AGENT_PID[i]}" 30
	is "$?" 0 "node $i's agent exits 0"
done
done_testing
