#!/usr/bin/env bash
# Integration: triggers (docs/triggers.md) and the configuration file (docs/config.md) on real
# traffic between tapped pods. Pod a (client) talks HTTP to pod b (selftests/lib/httpd.py);
# floe tap runs in the node netns with everything set from a config file. Oracles: the
# client's own list of the requests it sent, the receiver's log, tshark.
#   - config precedence (floe config): file < --set < flag; a bad value names FILE:LINE
#   - webhook: the receiver (python, node netns loopback) gets exactly the matching entries
#     (the client's /missing-N requests, 404), once each, with delivery ids
#   - exec: the command gets each matching entry on stdin
#   - snapshot: a PCAP per match under STORE/snapshots/ that tshark reads, holding the request
#   - webhook to a port nothing listens on: the retries, then one failure, counted
#   - rate limit: 30 matches in a burst, 5 delivered, 25 counted rate-limited
#   - every count in --stats-json (set from the file) and the summary
# Usage (root, from the repo root): bash selftests/integration/test_triggers.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"

T=$PODS_TMP
A=10.219.0.11 B=10.219.0.12
PORT=8080
N_MISSING=6
N_FLOOD=30
FLOOD_MAX=5

# ---------------------------------------------------------------- config precedence
printf 'tap:\n  storagelimit: 1GB\n  snaplen: 1500\n' >"$T/p.yaml"
eff() { "$FLOE" config --config-path "$T/p.yaml" "$@" 2>&1 | awk '$1 == "storagelimit:" { print $2 }'; }
is "$(eff)" 1GB "floe config: the file's storagelimit"
is "$(eff --set tap.storagelimit=2GB)" 2GB "floe config: --set overrides the file"
is "$(eff --storagelimit 3GB --set tap.storagelimit=2GB)" 3GB \
	"floe config: a flag overrides --set and the file (before --set on the line)"
printf 'tap:\n  storagelimit: 1GB\n\n  snaplen: 10\n' >"$T/bad.yaml"
out=$("$FLOE" tap --config-path "$T/bad.yaml" 2>&1)
is "$?" 2 "floe tap with a bad value in the file exits 2"
check "the error names the file's line and the key ($out)" grep -q "bad.yaml:4: tap.snaplen" <<<"$out"
out=$("$FLOE" tap --config-path "$T/nonexistent.yaml" 2>&1)
is "$?" 2 "floe tap with a missing --config-path exits 2"

# ---------------------------------------------------------------- pods, servers
pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
INV=$T/inventory
printf '%s shop\n%s shop\n' "$(pod_ns a)" "$(pod_ns b)" >"$INV"
WWW=$T/www
mkdir -p "$WWW"
echo 'index' >"$WWW/index.html"
pod_bg b "$T/httpd.log" /usr/bin/python3 "$HERE/../lib/httpd.py" :: $PORT "$WWW"
wait_tcp_listen b $PORT 10 || { not_ok "HTTP server listens in b"; diag "$(cat "$T/httpd.log")"; done_testing; }

node_bg "$T/receiver.log" /usr/bin/python3 "$HERE/../lib/webhook_receiver.py" 127.0.0.1 0 "$T/hooks.jsonl" \
	"$T/receiver.port"
RECV_PID=$BG_PID
wait_for_line "$T/receiver.port" '^[0-9]+$' 10 || { not_ok "webhook receiver listens"; done_testing; }
WPORT=$(cat "$T/receiver.port")
# Nothing listens on port 1 of the node netns (made by this test): connection refused.
DOWN=127.0.0.1:1
ok "webhook receiver listens on 127.0.0.1:$WPORT"

STORE=$T/store
cat >"$T/floe.yaml" <<EOF
tap:
  inventory: $INV
  store: $STORE
  stats-json: $T/stats.json
  namespaces: [shop]
  segment-seconds: 1
triggers:
  - name: not-found
    query: 'http and response.status == 404 and request.path.startsWith("/missing")'
    actions:
      - webhook: http://127.0.0.1:$WPORT/hook
      - exec: {command: 'cat >> $T/exec.out', timeout: 5s}
      - snapshot: {before: 2s, after: 1s}
      - counter: true
  - name: down
    query: 'http and request.path == "/down"'
    actions:
      - webhook: {url: 'http://$DOWN/x', retries: 2, backoff: 100ms, timeout: 2s}
  - name: flood
    query: 'http and request.path.startsWith("/flood")'
    rate_limit: {max: $FLOOD_MAX, per: 1h}
    actions:
      - webhook: {url: 'http://127.0.0.1:$WPORT/flood', body: '{"t":"{{trigger}}","p":"{{entry.request.path}}","d":"{{delivery_id}}"}'}
      - snapshot: {before: 1s, after: 1s, keep: 2}
EOF
# The pod regex is on the command line, everything else from the file.
if ! floe_start "$T/floe.log" "^${PREFIX}-(a|b)\$" --config-path "$T/floe.yaml"; then
	not_ok "floe tap --config-path starts"
	done_testing
fi
ok "floe tap --config-path starts (inventory, store, namespaces from the file)"

# ---------------------------------------------------------------- traffic
: >"$T/sent"
for i in $(seq 1 $N_MISSING); do
	code=$(in_pod a curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://$B:$PORT/missing-$i")
	echo "/missing-$i $code" >>"$T/sent"
done
in_pod a curl -s --max-time 5 "http://$B:$PORT/index.html" "http://$B:$PORT/down" >/dev/null
urls=()
for i in $(seq 1 $N_FLOOD); do urls+=("http://$B:$PORT/flood-$i"); done
in_pod a curl -s --max-time 20 "${urls[@]}" >/dev/null
diag "client sent: $(tr '\n' ' ' <"$T/sent")"
is "$(grep -c ' 404$' "$T/sent")" $N_MISSING "the client got $N_MISSING 404s for /missing-N"

# wait_count FILE JQ N SECS: until jq's count over FILE's lines reaches N
wait_count() {
	local f=$1 q=$2 n=$3 secs=$4 end c
	end=$(($(date +%s) + secs))
	while :; do
		c=$(jq -s "$q" "$f" 2>/dev/null || echo 0)
		[ "${c:-0}" -ge "$n" ] && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
wait_count "$T/hooks.jsonl" '[.[] | select(.path == "/hook")] | length' $N_MISSING 20 ||
	diag "webhook deliveries: only $(grep -c '"/hook"' "$T/hooks.jsonl" 2>/dev/null)"
wait_count "$T/hooks.jsonl" '[.[] | select(.path == "/flood")] | length' $FLOOD_MAX 20
wait_for_line "$T/exec.out" "missing-$N_MISSING" 10
# snapshots fall due 1 s (after) past their match; down's retries within a second
end=$(($(date +%s) + 20))
while [ "$(ls "$STORE/snapshots/"not-found.*.pcap 2>/dev/null | wc -l)" -lt $N_MISSING ] &&
	[ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
sleep 1 # anything extra (a duplicate, a seventh flood) would have come by now
floe_stop
is "$?" 0 "floe exits 0"
bg_stop "$RECV_PID" >/dev/null 2>&1

# ---------------------------------------------------------------- webhook oracle
want=$(awk '$2 == 404 { print $1 }' "$T/sent" | sort)
got=$(jq -r 'select(.path == "/hook") | .body | fromjson | .entry.request.path' "$T/hooks.jsonl" | sort)
is "$got" "$want" "webhook: exactly the client's /missing-N requests, once each"
is "$(jq -r 'select(.path == "/hook") | .body | fromjson | .trigger' "$T/hooks.jsonl" | sort -u)" \
	not-found "webhook: the trigger's name in each delivery"
is "$(jq -r 'select(.path == "/hook") | .body | fromjson | .delivery_id' "$T/hooks.jsonl" | sort -u | wc -l)" \
	$N_MISSING "webhook: $N_MISSING distinct delivery ids"
is "$(jq -r 'select(.path == "/hook") | (.body | fromjson) as $b |
	($b.delivery_id == "not-found." + $b.entry.id and .delivery_header == $b.delivery_id
	 and $b.entry.response.status == 404 and .content_type == "application/json")' \
	"$T/hooks.jsonl" | sort -u)" true \
	"webhook: delivery id = trigger.entry-id (body and X-Floe-Delivery-Id), entry as floe read --json (status 404), JSON"

# ---------------------------------------------------------------- exec
is "$(jq -r '.request.path' "$T/exec.out" 2>/dev/null | sort)" "$want" \
	"exec: the command got each matching entry on stdin (JSON)"

# ---------------------------------------------------------------- snapshot
n=0
for i in $(seq 1 $N_MISSING); do
	id=$(jq -r "select(.path == \"/hook\") | .body | fromjson | select(.entry.request.path == \"/missing-$i\") | .entry.id" "$T/hooks.jsonl")
	f="$STORE/snapshots/not-found.$id.pcap"
	if [ -n "$id" ] && [ -s "$f" ] &&
		[ "$(pcap_count "$f" "http.request.uri == \"/missing-$i\"")" = 1 ] &&
		[ "$(pcap_count "$f" "http.response.code == 404")" -ge 1 ] &&
		[ "$(pcap_count "$f" "tcp.flags.syn == 1 && tcp.flags.ack == 0")" = 1 ]; then
		n=$((n + 1))
	else
		diag "snapshot for /missing-$i ($f): $(ls -la "$f" 2>&1); $(tshark_q -r "$f" 2>&1 | head -5)"
	fi
done
is "$n" $N_MISSING "snapshot: a PCAP per match that tshark reads, with the connection (SYN, request, 404)"
is "$(ls "$STORE/snapshots/" | grep -vc '\.pcap$')" 0 "snapshot: no partial files left"

# ---------------------------------------------------------------- rate limit
is "$(jq -r 'select(.path == "/flood") | .body | fromjson | .t' "$T/hooks.jsonl" | grep -c '^flood$')" \
	$FLOOD_MAX "rate limit: $FLOOD_MAX of $N_FLOOD flood matches delivered (body template)"
is "$(jq -r 'select(.path == "/flood") | .body | fromjson | .p' "$T/hooks.jsonl" | sort -u | wc -l)" \
	$FLOOD_MAX "rate limit: $FLOOD_MAX distinct paths in the template's {{entry.request.path}}"

# ---------------------------------------------------------------- counters
S=$T/stats.json
tstat() { jq -r --arg n "$1" --arg k "$2" '.triggers.triggers[$n][$k]' "$S" 2>/dev/null; }
astat() { jq -r --arg n "$1" --arg t "$2" --arg k "$3" '.triggers.triggers[$n].actions[$t][$k]' "$S" 2>/dev/null; }
check "--stats-json (from the file) has the triggers" test -s "$S"
is "$(tstat not-found matched)" $N_MISSING "stats: not-found matched $N_MISSING"
is "$(astat not-found webhook sent)/$(astat not-found webhook failed)" "$N_MISSING/0" "stats: not-found webhook sent $N_MISSING, failed 0"
is "$(astat not-found exec sent)" $N_MISSING "stats: exec sent $N_MISSING"
is "$(astat not-found snapshot sent)" $N_MISSING "stats: snapshot sent $N_MISSING"
is "$(astat not-found counter sent)" $N_MISSING "stats: counter $N_MISSING"
is "$(tstat down matched)/$(tstat down retried)/$(tstat down failed)/$(tstat down sent)" 1/2/1/0 \
	"stats: receiver down: 1 match, 2 retries, then 1 failure, 0 sent"
is "$(tstat flood matched)/$(tstat flood rate_limited)/$(astat flood webhook sent)" \
	"$N_FLOOD/$((N_FLOOD - FLOOD_MAX))/$FLOOD_MAX" "stats: flood matched $N_FLOOD, rate-limited $((N_FLOOD - FLOOD_MAX)), webhook sent $FLOOD_MAX"
is "$(astat flood snapshot sent)" $FLOOD_MAX "stats: flood snapshot sent $FLOOD_MAX"
n=$(ls "$STORE/snapshots/" | grep -c '^flood\..*\.pcap$')
is "$n" 2 "snapshot keep: 2: 2 of the flood's $FLOOD_MAX snapshots kept"
is "$(jq -r '.triggers.queue_dropped' "$S")" 0 "stats: no job dropped"
check "summary: a line per trigger" grep -qE '^  trigger flood +30 matched, 25 rate-limited' "$T/floe.log"
check "log: the failed delivery said" grep -q 'trigger down: webhook for entry .* failed' "$T/floe.log"
diag "$(grep -E '^  trigger|trigger down' "$T/floe.log")"

# ---------------------------------------------------------------- floe-agent
# The same service in floe-agent: a log trigger from its config file, --set over the file.
AGENT=$(dirname "$FLOE")/floe-agent
cat >"$T/agent.yaml" <<EOF
tap:
  inventory: $INV
  store: $T/agent-store
  namespaces: [shop]
  stats-json: /nonexistent/overridden-by-set
triggers:
  - name: agent-log
    query: 'http and request.path == "/agent-$$"'
    actions: [{log: $T/agent-hits.jsonl}]
EOF
# Ports in the node netns this test made: nothing else listens there.
APORT=18897 HPORT=18898
node_bg "$T/agent.log" "$AGENT" "^${PREFIX}-(a|b)\$" --config-path "$T/agent.yaml" \
	--set "tap.stats-json=$T/agent-stats.json" --listen "127.0.0.1:$APORT"
AGENT_PID=$BG_PID
if wait_for_line "$T/agent.log" '^floe: tapping ' 30; then
	in_pod a curl -s --max-time 5 "http://$B:$PORT/agent-$$" >/dev/null
	wait_for_line "$T/agent-hits.jsonl" "agent-$$" 15
	# the agent's stats, through a hub: series labelled by trigger in /metrics
	node_bg "$T/hub.log" "$(dirname "$FLOE")/floe-hub" --agents "127.0.0.1:$APORT" \
		--proxy-hub-port $HPORT
	HUB_PID=$BG_PID
	m=
	for _ in $(seq 100); do
		m=$(on_node curl -sS --max-time 5 "http://127.0.0.1:$HPORT/metrics" 2>/dev/null |
			grep -E '^floe_trigger_(matched_total\{agent="[^"]*",trigger="agent-log"\}|actions_total\{agent="[^"]*",trigger="agent-log",action="log",outcome="sent"\})')
		[ "$(grep -c ' 1$' <<<"$m")" = 2 ] && break
		sleep 0.1
	done
	is "$(grep -c ' 1$' <<<"$m")" 2 "hub /metrics: the agent's trigger counters (matched 1, log sent 1)"
	diag "$m"
	bg_stop "$HUB_PID" >/dev/null 2>&1
	kill -INT "$AGENT_PID"
	wait_pid "$AGENT_PID" 30
	is "$?" 0 "floe-agent exits 0 on SIGINT"
	is "$(jq -r '.entry.request.path' "$T/agent-hits.jsonl" 2>/dev/null)" "/agent-$$" \
		"floe-agent: the log trigger wrote the matching entry to its file"
	is "$(jq -r '.triggers.triggers["agent-log"] | "\(.matched) \(.sent)"' "$T/agent-stats.json" 2>/dev/null)" \
		"1 1" "floe-agent: the trigger's counters in --stats-json (path from --set)"
else
	not_ok "floe-agent --config-path starts"
	diag "$(cat "$T/agent.log")"
fi

done_testing
