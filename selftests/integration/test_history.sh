#!/usr/bin/env bash
# Integration: the entry history and the local agent_api (issue 16), through the real eBPF
# path. floe tap --json taps pods a (curl) and b (HTTP server, selftests/lib/httpd1.py) with
# 2-second segments, in two rounds a few seconds apart, then again after a restart on the same
# store. `floe history` (the local agent_api on the store) must give back every entry that
# floe tap --json printed, exactly once and byte for byte, in merge order (ts, then id); time
# ranges and the resume cursor partition the history exactly; --get, --no-bodies and filters
# agree with the same selection made by an independent script (history_check.py); the PCAP
# of a filter's entries, opened by tshark without warnings, holds exactly their connections;
# ids of the restarted run are new, and the first run's entries are still there.
# Usage (root, from the repo root): bash selftests/integration/test_history.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.16.11 B=10.213.16.12
PORT=8080
HCHECK=$HERE/../lib/history_check.py

need_cmd "curl, jq and tshark are installed" curl jq tshark || done_testing
entries_pods $A $B

entries_httpd1 b $PORT

U=http://$B:$PORT
# round: keep-alive runs, separate connections, 404s, POSTs with bodies
round() {
	local i
	in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?n=[1-15]"
	for i in 1 2 3 4; do
		in_pod a curl -sS --max-time 10 -o /dev/null "$U/missing/$i"
		in_pod a curl -sS --max-time 10 -o /dev/null -d "round $1 post $i" "$U/echo"
	done
	in_pod a curl -sS --max-time 10 -o /dev/null "$U/status?code=204" "$U/status?code=304"
}

OUT=$T/run1.json
entries_tap --segment-seconds 2
round 1
# the next round lands in other history segments (2 s each)
sleep 2.5
round 2
check "the server closed every connection" wait_tcp_idle b $PORT 10
N1=$((2 * (15 + 8 + 2)))
entries_stop $N1
STORE=$T/run1.store
segs=$(ls "$STORE/entries" | grep -c '^entries-.*\.jsonl\.zst$')
check "the history rotated into several segments ($segs)" test "$segs" -ge 2
is "$(stat -c %a "$STORE/entries")" 700 "entries/ is private (0700) as the store is"
is "$(stat_get "$T/run1.stats.json" history_entries)" "$(grep -c . "$OUT")" \
	"--stats-json: history_entries equals the entries printed"
is "$(stat_get "$T/run1.stats.json" history_dropped)" 0 "--stats-json: no entry dropped"
diag "$(grep 'entry history' "$T/run1.floe.log")"

checks "$PY" "$HCHECK" live "$OUT" "$FLOE" "$STORE"
checks "$PY" "$HCHECK" pcap "$FLOE" "$STORE" 'response.status == 404' \
	'(e.get("response") or {}).get("status") == 404' "$T/404.pcap"
checks "$PY" "$HCHECK" pcap "$FLOE" "$STORE" 'request.method == "POST"' \
	'(e.get("request") or {}).get("method") == "POST"' "$T/post.pcap"

# a restart on the same store: new ids, the first run's entries kept
OUT2=$T/run2.json
floe_start_json "$OUT2" "$T/run2.floe.log" "^${PREFIX}-(a|b)\$" -A --inventory "$INV" \
	--store "$STORE" --segment-seconds 2 || { not_ok "floe restarts on the store"; done_testing; }
in_pod a curl -sS --max-time 10 -o /dev/null "$U/text?n=[1-5]"
entries_wait "$OUT2" 5 10 || not_ok "5 entries after the restart"
floe_stop
is "$?" 0 "the second run exits 0"
p1=$(jq -r '.id' "$OUT" | cut -d- -f1 | sort -u)
p2=$(jq -r '.id' "$OUT2" | cut -d- -f1 | sort -u)
check "the restarted run's ids have another run id ($p1 then $p2)" test -n "$p2" -a "$p1" != "$p2"
"$FLOE" history --store "$STORE" >"$T/all.json" 2>"$T/all.err"
is "$?" 0 "floe history after the restart exits 0"
is "$(grep -c . "$T/all.json")" "$(($(grep -c . "$OUT") + $(grep -c . "$OUT2")))" \
	"the history holds both runs' entries"
is "$(jq -r .id "$T/all.json" | sort | uniq -d | wc -l)" 0 "no id twice across the runs"

# ---------------------------------------------------------------- floe tap --pcap
# A capture taken elsewhere, replayed through the same path: the history equals floe read's
# entries (ids aside: the replay's carry its run id), its PCAP opens in tshark.
CAPS=${FLOE_CAPTURES:-$(floe_root)/../shared/captures}
for cap in http1/http-post-upload.pcap dns/dns-tcp.pcap redis/redis-50-pings.pcap kafka/01-fetch-v12-ok.pcap; do
	f=$CAPS/$cap
	if [ ! -f "$f" ]; then
		skip "floe tap --pcap $cap" "no such capture ($CAPS)"
		continue
	fi
	s=$T/replay-$(basename "$cap" .pcap).store
	"$FLOE" tap --pcap "$f" --store "$s" --json --no-hub >"$s.live" 2>"$s.log"
	is "$?" 0 "floe tap --pcap $cap exits 0" || diag "$(cat "$s.log")"
	"$FLOE" history --store "$s" >"$s.hist" 2>>"$s.log"
	"$FLOE" read "$f" --json 2>/dev/null >"$s.read"
	strip='del(.id) | if .tunnel then del(.tunnel.id) else . end | tojson'
	if [ -s "$s.read" ] && cmp -s <(jq -c "$strip" "$s.read" | sort) <(jq -c "$strip" "$s.hist" | sort) &&
		cmp -s <(sort "$s.live") <(sort "$s.hist"); then
		ok "$cap: the history holds floe read's $(grep -c . "$s.read") entries (and what --json printed)"
	else
		not_ok "$cap: the history holds floe read's entries"
		diag "$(diff <(jq -c "$strip" "$s.read" | sort) <(jq -c "$strip" "$s.hist" | sort) | head -n 6)"
	fi
	is "$(jq -r .id "$s.hist" | grep -cvE '^[0-9a-f]{16}-[0-9]+-[0-9]+$')" 0 "$cap: ids carry the replay's run id"
	"$FLOE" history --store "$s" --pcap "$s.pcap" 2>>"$s.log"
	n=$(pcap_count "$s.pcap")
	check "$cap: the history's PCAP opens in tshark ($n packets)" test "$n" -gt 0
done

done_testing
