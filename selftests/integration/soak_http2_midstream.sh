#!/usr/bin/env bash
# Soak (not part of the suite; run by hand): the live half of test_http2_resync.sh in a loop,
# to catch the rare HTTP/2 stream that comes out missing its response in the middle of its
# connection (issue 14) and keep what is needed to tell capture from dissection.
#
# Each round: h2load -c 2 -m 1 (one stream at a time per connection) against nghttpd in pod
# b for SECS seconds; floe tap starts once the connections carried 20 KB (picked up
# mid-connection, as in the test), with its store kept. After the round, every HTTP/2 entry
# without status 200 that is not the last stream of its connection is "bad". For a round with
# bad entries, the store is exported to a PCAP and, for each bad stream: what tshark finds on
# that stream in the PCAP (is the response there?), and what `floe read` of that PCAP makes
# of it (does dissection of the stored packets find it?). Bad rounds are kept under KEEP_DIR.
#
# Usage (root, repo root): ROUNDS=20 SECS=10 bash selftests/integration/soak_http2_midstream.sh
#   START=early  floe starts before h2load (connections seen from their SYN) instead
#   KEEP_DIR     where bad rounds are copied (default /tmp/floe-soak-h2)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${ROUNDS:-10}
SECS=${SECS:-10}
START=${START:-late}
KEEP_DIR=${KEEP_DIR:-/tmp/floe-soak-h2}
ITEST_TIMEOUT=$((ROUNDS * (SECS + 40) + 60)) source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.231.14.11 B=10.231.14.12
PORT=8080
mkdir -p "$KEEP_DIR"

need_cmd "nghttp2 tools and tshark are installed" nghttpd h2load tshark || done_testing
entries_pods $A $B

entries_nghttpd $B $PORT

total=0 bad_total=0
for round in $(seq 1 "$ROUNDS"); do
	OUT=$T/r$round.json
	R=${OUT%.json}
	if [ "$START" = early ]; then
		entries_tap --dissect-queue "${QUEUE:-64MiB}" >/dev/null
	fi
	pod_bg a "$R.h2load.log" h2load -c 2 -m 1 -D "$SECS" -i "$T/urls"
	H2LOAD=$BG_PID
	if [ "$START" != early ]; then
		end=$(($(date +%s) + 10))
		until in_pod a ss -Htni state established "dport = :$PORT" |
			grep -oE 'bytes_received:[0-9]+' | awk -F: '$2 < 20000 {low=1} END {exit low || NR < 2}'; do
			[ "$(date +%s)" -lt "$end" ] || break
			sleep 0.05
		done
		t0=$(date +%s%N)
		entries_tap --dissect-queue "${QUEUE:-64MiB}" >/dev/null
		tap_ms=$((($(date +%s%N) - t0) / 1000000))
	fi
	wait_pid "$H2LOAD" $((SECS + 20))
	wait_tcp_idle a $PORT 10
	floe_stop
	/usr/bin/python3 - "$OUT" "$R.stats.json" "$R.floe.log" >"$R.check" <<'EOF'
import json, re, sys
ents = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
st = json.load(open(sys.argv[2]))
m = re.search(r"not dissected: queue full +(\d+) packets", open(sys.argv[3]).read())
h2 = [e for e in ents if e.get("version") == "2"]
last = {}
for e in h2:
    last[e["flow_id"]] = max(last.get(e["flow_id"], 0), e.get("stream_id", 0))
lost = st.get("ringbuf_full", 0) + (int(m.group(1)) if m else 0)
mid = [e for e in h2 if (e.get("response") or {}).get("status") != 200 and
       e.get("stream_id", 0) < last[e["flow_id"]]]
# what floe's own counted losses explain (as test_http2_resync accepts them)
bad = [e for e in mid if not (lost and e.get("missing_reason") == "capture_gap")]
print("entries %d ringbuf_full %s queue_full %s cut by those %d bad %d" %
      (len(h2), st.get("ringbuf_full"), m.group(1) if m else "?", len(mid) - len(bad), len(bad)))
for e in bad:
    print("bad\t%s\t%s\t%s\t%s\t%s\t%s" % (e["flow_id"], e["stream_id"], e["src"]["port"],
          e.get("missing"), e.get("missing_reason"), json.dumps(e)))
EOF
	n=$(sed -n 's/^entries \([0-9]*\).*/\1/p' "$R.check")
	nbad=$(grep -c '^bad' "$R.check")
	total=$((total + n))
	bad_total=$((bad_total + nbad))
	diag "round $round: $(head -1 "$R.check") (floe tap took ${tap_ms:-?} ms to start)"
	if [ "$nbad" -gt 0 ]; then
		K=$KEEP_DIR/$(date +%H%M%S)-r$round
		mkdir -p "$K"
		on_node "$FLOE" pcap export -o "$R.pcap" --store "$R.store" >"$R.export.log" 2>&1
		"$FLOE" read "$R.pcap" --json 2>"$R.read.log" >"$R.read.json"
		cp -r "$R".* "$T/urls" "$K/"
		while IFS=$'\t' read -r _ flow sid cport missing why _; do
			diag "  bad: flow $flow stream $sid client port $cport: missing $missing ($why)"
			tshark -r "$R.pcap" -d tcp.port==$PORT,http2 -Y "tcp.port == $cport && http2.streamid == $sid" \
				-T fields -e frame.number -e tcp.srcport -e http2.type -e http2.header.value \
				2>/dev/null >"$K/tshark-$cport-$sid.txt"
			diag "  tshark on the stored PCAP, port $cport stream $sid:" \
				"$(sed 's/^/    /' "$K/tshark-$cport-$sid.txt" | head -20)"
			diag "  floe read of the stored PCAP:" "$(jq -c --argjson p "$cport" --argjson s "$sid" \
				'select(.src.port == $p and .stream_id == $s) | {stream_id, status: .response.status, missing, missing_reason}' \
				"$R.read.json")"
		done < <(grep '^bad' "$R.check")
		diag "  kept in $K"
	fi
	rm -rf "$R.store"
done
diag "total: $total HTTP/2 entries, $bad_total mid-connection without status 200"
is "$bad_total" 0 "no mid-connection HTTP/2 entry without its response over $total entries"
done_testing
