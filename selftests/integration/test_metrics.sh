#!/usr/bin/env bash
# Integration: GET /metrics of floe-agent (--metrics) and of floe-hub over it (issue 16), the
# real path. Pods a (clients) and b (an HTTP/1.1 server and redis-server) are tapped by
# `floe-agent --listen --metrics` (eBPF hooks, dissection thread, entry history); floe-hub reaches
# it over gRPC. Oracles:
#   - the clients' own counts: curl's one status line per request, a RESP client's one reply
#     per command; floe_agent_entries_by_protocol_total{protocol} must equal them (both endpoints),
#     every other protocol 0;
#   - the kernel's own counters: the BPF `counters` map of this agent (bpftool, found by the
#     agent's PID), summed over CPUs; floe_agent_packets_total{stage} and the ring-full drops
#     must equal them while the pods are quiet (no IPv6, static ARP);
#   - a malformed HTTP/1 request (a header name with a control byte, sent by a raw socket)
#     raises floe_agent_parse_errors_total{protocol="http1",cause="malformed"}, from 0;
#   - the hub's queries and gets raise the agent's floe_agent_query_seconds counts;
#   - the live dissection queue's and name resolver's figures (dissect_queue_peak, names_addrs)
#     are above 0, and names_addrs is the final --stats-json's (the pods stay);
#   - prometheus_client's parser (python3-prometheus-client) reads both expositions;
#     its checks are reported skipped when the module is missing.
# Also: the agent's token guards its /metrics (401 without it), and only /metrics is served.
# Usage (root, from the repo root): bash selftests/integration/test_metrics.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.240.16.11 B=10.240.16.12
PORT=8080 RPORT=6390 AGENT_PORT=18897 HUB_PORT=18898 MPORT=19100
AGENT=$(floe_root)/build/floe-agent
HUB=$(floe_root)/build/floe-hub
TOKEN=m3trics

need_cmd "curl, jq, bpftool and redis-server are installed" curl jq bpftool redis-server ||
	done_testing
[ -x "$AGENT" ] && [ -x "$HUB" ] || { skip "floe-agent and floe-hub" "not built"; done_testing; }
entries_pods $A $B
# Quiet links, so that the kernel's counters stand still between two reads: no IPv6 (no
# ND/MLD/RS), static ARP entries (as test_drops).
for p in a b; do
	in_pod $p sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1
	on_node sysctl -qw net.ipv6.conf.v-$p.disable_ipv6=1
done
on_node sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
in_pod a ip neigh replace $B lladdr "$(in_pod b cat /sys/class/net/eth0/address)" dev eth0 nud permanent
in_pod b ip neigh replace $A lladdr "$(in_pod a cat /sys/class/net/eth0/address)" dev eth0 nud permanent
entries_httpd1 b $PORT
cat >"$T/redis.conf" <<EOF
bind $B
port $RPORT
dir $T
save ""
appendonly no
protected-mode no
daemonize no
logfile ""
EOF
pod_bg b "$T/redis-server.log" redis-server "$T/redis.conf"
wait_tcp_listen b $RPORT 10 || { not_ok "redis-server listens in b"; done_testing; }

printf '#!/bin/sh\nshift\nexec "%s" "$@" >"%s"\n' "$AGENT" "$T/agent.json" >"$T/agent-wrap"
chmod +x "$T/agent-wrap"
if ! FLOE=$T/agent-wrap floe_start "$T/agent.log" "^${PREFIX}-(a|b)\$" -A --inventory "$INV" \
	--store "$T/store" --json --listen "127.0.0.1:$AGENT_PORT" --agent-token $TOKEN \
	--agent-name agent-m --metrics ":$MPORT" --stats-json "$T/stats.json"; then
	not_ok "floe-agent --metrics starts"
	done_testing
fi
AGENT_PID=$FLOE_PID
check "floe-agent says it serves /metrics, token required" \
	grep -q "serving /metrics on :$MPORT (port $MPORT), token required" "$T/agent.log"
M=http://127.0.0.1:$MPORT/metrics
scrape() { on_node curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "$@"; }
# metric NAME LABELS FILE: the value of one sample line (exact label text), "" when absent
metric() { awk -v k="$1{$2}" '$1 == k { print $2 }' "$3"; }

is "$(on_node curl -sS -o /dev/null -w '%{http_code}' "$M")" 401 "/metrics without the token: 401"
is "$(on_node curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$M")" 401 \
	"/metrics with a wrong token: 401"
is "$(scrape -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/api/v1/stats")" 404 \
	"the agent's metrics port serves /metrics alone"
ctype=$(scrape -o "$T/m0.txt" -w '%{content_type}' "$M")
is "$ctype" "text/plain; version=0.0.4; charset=utf-8" "/metrics: text format 0.0.4"
is "$(metric floe_agent_parse_errors_total 'agent="agent-m",protocol="http1",cause="malformed"' \
	"$T/m0.txt")" 0 "no HTTP/1 parse error before the malformed request"
check "the agent listens on loopback only" sh -c \
	"ip netns exec $NODE ss -Hltn 'sport = :$MPORT' | awk '{print \$4}' | grep -qx '127.0.0.1:$MPORT'"

# The clients' traffic, and their own counts of requests
U=http://$B:$PORT
in_pod a curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' "$U/text?n=[1-6]" \
	"$U/missing/1" >"$T/curl.out"
N_HTTP=$(grep -c '^[0-9][0-9][0-9]$' "$T/curl.out")
# A RESP client of its own (redis-cli sends commands of its own at connect): one line per
# reply it read, so its count is exactly the requests it made.
in_pod a "$PY" - "$B" "$RPORT" >"$T/redis.out" <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = s.makefile("rb")
def reply():
    line = f.readline()
    t, rest = line[:1], line[1:].strip()
    if t == b"$" and int(rest) >= 0:
        return f.read(int(rest) + 2)[:-2]
    if t == b"*":
        return [reply() for _ in range(max(int(rest), 0))]
    return rest
for cmd in ["SET k1 v1", "GET k1", "INCR n", "INCR n", "LPUSH l a b c", "LRANGE l 0 -1", "DEL k1"]:
    args = cmd.split()
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args))
    print(cmd, "->", reply())
s.close()
PYEOF
N_REDIS=$(grep -c -- ' -> ' "$T/redis.out")
is "$N_HTTP" 7 "curl made 7 requests"
is "$N_REDIS" 7 "the RESP client sent 7 commands and read 7 replies"
check "both clients closed their connections" eval \
	"wait_tcp_idle a $PORT 10 && wait_tcp_idle a $RPORT 10"

# The dissection thread publishes its counters each second: wait for them
for _ in $(seq 150); do
	scrape -o "$T/m1.txt" "$M"
	h=$(metric floe_agent_entries_by_protocol_total 'agent="agent-m",protocol="http"' "$T/m1.txt")
	r=$(metric floe_agent_entries_by_protocol_total 'agent="agent-m",protocol="redis"' "$T/m1.txt")
	[ "${h:-0}" -ge $N_HTTP ] && [ "${r:-0}" -ge $N_REDIS ] && break
	sleep 0.2
done
entries_wait "$T/agent.json" $((N_HTTP + N_REDIS)) 10
is "$(jq -r .protocol "$T/agent.json" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
	"http=$N_HTTP redis=$N_REDIS " "the agent's own entries: $N_HTTP http, $N_REDIS redis"
is "$h" "$N_HTTP" "agent /metrics: entries_by_protocol http == curl's requests"
is "$r" "$N_REDIS" "agent /metrics: entries_by_protocol redis == the RESP client's commands"
is "$(grep '^floe_agent_entries_by_protocol_total{' "$T/m1.txt" | grep -v 'protocol="http"\|protocol="redis"' |
	awk '$2 != 0' | wc -l)" 0 "every other protocol: 0 entries"

# The kernel's counters: the agent's BPF map, read before and after a scrape of quiet pods
kernel_counters() {
	local id
	# the maps the agent holds open (their ids in its fds' fdinfo), the one named counters
	for id in $(awk '$1 == "map_id:" { print $2 }' /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | sort -un); do
		[ "$(bpftool -j map show id "$id" 2>/dev/null | jq -r .name)" = counters ] && break
		id=
	done
	[ -n "$id" ] || return 1
	bpftool -j map dump id "$id" | jq -r '[sort_by(.formatted.key)[] | [.formatted.values[].value] | add] | join(" ")'
}
same=0
for _ in $(seq 10); do
	k0=$(kernel_counters) || break
	scrape -o "$T/m2.txt" "$M"
	k1=$(kernel_counters)
	[ "$k0" = "$k1" ] && { same=1; break; }
	sleep 0.3
done
if [ -z "$k0" ]; then
	not_ok "bpftool finds the agent's counters map (pid $AGENT_PID)"
	diag "map ids in its fds: $(awk '$1 == "map_id:" { print $2 }' /proc/"$AGENT_PID"/fdinfo/* 2>&1 | tr '\n' ' ')"
else
	is "$same" 1 "the kernel's counters stood still around a scrape"
	read -r kseen ktarg krec kfull kdup kscope <<<"$k0"
	diag "kernel: seen $kseen targeted $ktarg recorded $krec ringbuf_full $kfull duplicate $kdup out_of_scope $kscope"
	is "$(metric floe_agent_packets_total 'agent="agent-m",stage="seen"' "$T/m2.txt")" "$kseen" \
		"packets seen == the kernel's"
	is "$(metric floe_agent_packets_total 'agent="agent-m",stage="targeted"' "$T/m2.txt")" "$ktarg" \
		"packets targeted == the kernel's"
	is "$(metric floe_agent_packets_total 'agent="agent-m",stage="recorded"' "$T/m2.txt")" "$krec" \
		"packets recorded == the kernel's"
	is "$(metric floe_agent_packets_dropped_total 'agent="agent-m",cause="ringbuf_full"' "$T/m2.txt")" \
		"$kfull" "packets dropped, ring buffer full == the kernel's"
	is "$(metric floe_agent_packets_skipped_total 'agent="agent-m",reason="duplicate"' "$T/m2.txt")" \
		"$kdup" "pod-to-pod duplicates == the kernel's"
	check "packets were recorded" test "${krec:-0}" -gt 0
fi

# The hub over the agent: its queries time the agent's calls
node_bg "$T/hub.log" "$HUB" --agents "127.0.0.1:$AGENT_PORT" --agent-token $TOKEN \
	--proxy-hub-port $HUB_PORT
H=http://127.0.0.1:$HUB_PORT
for _ in $(seq 100); do
	n=$(on_node curl -sS --max-time 10 "$H/api/v1/entries?limit=1000" 2>/dev/null |
		jq '.entries | length' 2>/dev/null)
	[ "${n:-0}" -ge $((N_HTTP + N_REDIS)) ] && break
	sleep 0.1
done
is "$n" $((N_HTTP + N_REDIS)) "the hub serves the agent's entries"
id=$(jq -r 'select(.protocol == "redis") | .id' "$T/agent.json" | head -n 1)
is "$(on_node curl -sS -o /dev/null -w '%{http_code}' "$H/api/v1/entries/$id")" 200 \
	"the hub gets one entry by id"
on_node curl -sS --max-time 10 -o "$T/hub.txt" "$H/metrics"
scrape -o "$T/m3.txt" "$M"
is "$(metric floe_agent_entries_by_protocol_total 'agent="agent-m",protocol="http"' "$T/hub.txt")" \
	"$N_HTTP" "hub /metrics: entries_by_protocol http of agent-m == curl's requests"
is "$(metric floe_agent_entries_by_protocol_total 'agent="agent-m",protocol="redis"' "$T/hub.txt")" \
	"$N_REDIS" "hub /metrics: entries_by_protocol redis of agent-m == the RESP client's commands"
check "agent /metrics: the hub's queries counted (query_seconds_count{call=query} >= 1)" test \
	"$(metric floe_agent_query_seconds_count 'agent="agent-m",call="query"' "$T/m3.txt")" -ge 1
is "$(metric floe_agent_query_seconds_count 'agent="agent-m",call="get"' "$T/m3.txt")" 1 \
	"agent /metrics: the hub's one get counted"
# The live view of the dissection queue and the name resolver (the final --stats-json had them,
# the live one said 0): frames went through the queue, and the pods' addresses are known.
for f in m3 hub; do
	qp=$(metric floe_agent_dissect_queue_peak 'agent="agent-m"' "$T/$f.txt")
	na=$(metric floe_agent_names_addrs 'agent="agent-m"' "$T/$f.txt")
	check "$f /metrics: dissect_queue_peak > 0 while the agent runs (${qp:-none})" \
		test "${qp:-0}" -gt 0
	check "$f /metrics: names_addrs > 0 while the agent runs (${na:-none})" test "${na:-0}" -gt 0
done
LIVE_NAMES=$(metric floe_agent_names_addrs 'agent="agent-m"' "$T/m3.txt")
LIVE_QPEAK=$(metric floe_agent_dissect_queue_peak 'agent="agent-m"' "$T/m3.txt")

# A malformed HTTP/1 request: a control byte in a header name
in_pod a "$PY" - "$B" "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET /bad HTTP/1.1\r\nHost: x\r\nBad\x01Name: y\r\n\r\n")
s.settimeout(3)
try:
    s.recv(4096)
except OSError:
    pass
s.close()
EOF
pe=0
for _ in $(seq 100); do
	scrape -o "$T/m4.txt" "$M"
	pe=$(metric floe_agent_parse_errors_total 'agent="agent-m",protocol="http1",cause="malformed"' "$T/m4.txt")
	[ "${pe:-0}" -ge 1 ] && break
	sleep 0.2
done
check "the malformed request raised http1 parse errors (now ${pe:-none})" test "${pe:-0}" -ge 1

# The independent parser, on the agent's and the hub's expositions
cat >"$T/expect-agent.json" <<EOF
[["floe_agent_entries_by_protocol_total", {"agent": "agent-m", "protocol": "http"}, "==", $N_HTTP, "entries http == curl's requests"],
 ["floe_agent_entries_by_protocol_total", {"agent": "agent-m", "protocol": "redis"}, "==", $N_REDIS, "entries redis == the RESP client's commands"],
 ["floe_agent_entries_by_protocol_total", {"agent": "agent-m", "protocol": "kafka"}, "==", 0, "entries kafka == 0"],
 ["floe_agent_packets_total", {"agent": "agent-m", "stage": "recorded"}, "==", ${krec:-0}, "packets recorded == the kernel's"],
 ["floe_agent_parse_errors_total", {"agent": "agent-m", "protocol": "http1", "cause": "malformed"}, "==", 0, "http1 malformed parse errors: 0 before the malformed request"],
 ["floe_agent_query_seconds_count", {"agent": "agent-m", "call": "get"}, "==", 1, "one get timed"],
 ["floe_agent_query_seconds_bucket", {"agent": "agent-m", "call": "get", "le": "+Inf"}, "==", 1, "its +Inf bucket"]]
EOF
checks "$PY" "$(floe_root)/selftests/lib/metrics_check.py" "$T/m3.txt" "$T/expect-agent.json" "agent"
cat >"$T/expect-agent2.json" <<EOF
[["floe_agent_parse_errors_total", {"agent": "agent-m", "protocol": "http1", "cause": "malformed"}, ">=", 1, "http1 malformed parse errors >= 1"]]
EOF
checks "$PY" "$(floe_root)/selftests/lib/metrics_check.py" "$T/m4.txt" "$T/expect-agent2.json" \
	"agent, after the malformed request"
cat >"$T/expect-hub.json" <<EOF
[["floe_agent_entries_by_protocol_total", {"agent": "agent-m", "protocol": "http"}, "==", $N_HTTP, "entries http of agent-m == curl's requests"],
 ["floe_agent_entries_by_protocol_total", {"agent": "agent-m", "protocol": "redis"}, "==", $N_REDIS, "entries redis of agent-m == the RESP client's commands"],
 ["floe_hub_agents_connected", {}, "==", 1, "one agent connected"]]
EOF
checks "$PY" "$(floe_root)/selftests/lib/metrics_check.py" "$T/hub.txt" "$T/expect-hub.json" "hub"

floe_stop
is "$?" 0 "floe-agent exits 0"
# The final counters: the pods did not change, so the resolver's addresses are the live ones;
# the queue's peak can only have grown.
is "$(jq .names_addrs "$T/stats.json")" "$LIVE_NAMES" "names_addrs live == at exit (--stats-json)"
check "dissect_queue_peak live ($LIVE_QPEAK) <= at exit ($(jq .dissect_queue_peak "$T/stats.json"))" \
	test "${LIVE_QPEAK:-0}" -le "$(jq .dissect_queue_peak "$T/stats.json")"
done_testing
