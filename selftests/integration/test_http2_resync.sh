#!/usr/bin/env bash
# Integration: HTTP/2 picked up mid-connection and after capture gaps, on real traffic.
#
# 1. Cut captures against tshark: pod b serves with nghttpd (h2c, prior knowledge); h2load in
#    pod a sends H2LOAD_N requests over 4 connections, 10 streams at a time, to 300 different
#    URIs (new :path literals all along, so the HPACK tables keep changing); tcpdump records
#    b's host veth. selftests/oracle/oracle_http2_resync.py then cuts that capture
#    (selftests/lib/pcap_cut.py: first packets dropped at several offsets, every Nth data
#    segment, a burst) and requires on each cut file that every response tshark shows with a
#    :status is a floe entry with that status, and that floe invents no stream.
# 2. Live: h2load runs on long-lived connections first; floe tap starts after they are
#    established. Entries must come for the requests after the start (status 200; but the
#    requests h2load leaves in flight when its duration ends, and any a ring-buffer overflow
#    cut: see the check), header
#    fields that refer to table entries sent before the start are marked unknown with their
#    index (headers_partial), and fields the encoders insert again later decode whole.
# Usage (root, from the repo root): bash selftests/integration/test_http2_resync.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=400 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.14.11 B=10.213.14.12
PORT=8080
H2LOAD_N=${H2LOAD_N:-3000}

need_cmd "nghttp2 tools, tcpdump and tshark are installed" nghttpd h2load tcpdump tshark ||
	done_testing
entries_pods $A $B

entries_nghttpd $B $PORT

# ------------------------------------------------------------------ 1. cut captures
node_bg "$T/tcpdump.log" tcpdump -i v-b -s 0 -U -B 16384 -w "$T/h2.pcap" "tcp port $PORT"
TCPDUMP=$BG_PID
if ! wait_for_line "$T/tcpdump.log" "listening on" 10; then
	not_ok "tcpdump records b's veth"
	diag "$(cat "$T/tcpdump.log")"
	done_testing
fi
in_pod a timeout 60 h2load -n "$H2LOAD_N" -c 4 -m 10 -i "$T/urls" >"$T/h2load.log" 2>&1
check "h2load: all $H2LOAD_N requests succeeded" \
	grep -q "^requests: $H2LOAD_N total, $H2LOAD_N started, $H2LOAD_N done, $H2LOAD_N succeeded" \
	"$T/h2load.log"
bg_stop "$TCPDUMP" INT
diag "tcpdump: $(grep -E 'captured|dropped' "$T/tcpdump.log" | tr '\n' ' ')"
check "tcpdump dropped nothing (the uncut capture is whole)" \
	grep -q "^0 packets dropped by kernel" "$T/tcpdump.log"

rc=0
/usr/bin/python3 "$HERE/../oracle/oracle_http2_resync.py" --floe "$FLOE" \
	--captures "$T/no-shared-captures" --extra "$T/h2.pcap" >"$T/resync.log" 2>&1 || rc=$?
while IFS= read -r line; do
	diag "$line"
done < <(grep -E '^(ok|not ok|#)' "$T/resync.log" | head -60)
is "$rc" 0 "oracle_http2_resync.py on the h2load capture: floe has every status tshark has, on every cut"
check "it compared cut files" grep -qE '^ok [0-9]+ - h2\.pcap \[first-' "$T/resync.log"

# ------------------------------------------------------------------ 2. live, started late
# h2load on 2 long-lived connections for LIVE_SECS seconds, 1 stream at a time per client.
LIVE_SECS=8
pod_bg a "$T/h2load-live.log" h2load -c 2 -m 1 -D $LIVE_SECS -i "$T/urls"
H2LOAD=$BG_PID
# wait until both connections are up and have carried requests
end=$(($(date +%s) + 10))
while [ "$(in_pod a ss -Htn state established "dport = :$PORT" | grep -c .)" -lt 2 ]; do
	[ "$(date +%s)" -lt "$end" ] || break
	sleep 0.05
done
is "$(in_pod a ss -Htn state established "dport = :$PORT" | grep -c .)" 2 \
	"h2load's two connections are established before floe starts"
# the connections must have carried requests (filled their HPACK tables) before the tap:
# wait until each has received 20 KB
end=$(($(date +%s) + 10))
until in_pod a ss -Htni state established "dport = :$PORT" |
	grep -oE 'bytes_received:[0-9]+' | awk -F: '$2 < 20000 {low=1} END {exit low || NR < 2}'; do
	[ "$(date +%s)" -lt "$end" ] || break
	sleep 0.05
done
OUT=$T/live.json
entries_tap
if entries_wait "$OUT" 20 10; then
	ok "entries come for the requests after floe started"
else
	not_ok "entries come for the requests after floe started (only $(grep -c . "$OUT"))"
fi
wait_pid "$H2LOAD" $((LIVE_SECS + 10))
floe_stop
# Which entries may lack a status, by the scenario's ground truth: h2load -D stops its clients
# at the end of the duration with requests in flight ("N started, M done": N - M of them);
# floe emits those as missing their response when the connection ends, each the last stream
# of its connection. Where floe itself lost packets on a loaded machine (its ring buffer
# overflowed: stats ringbuf_full; or its dissection queue: "not dissected: queue full N
# packets" in its summary), entries that lost their response head to that say capture_gap.
# Every other HTTP/2 entry must have status 200.
/usr/bin/python3 - "$OUT" "$T/h2load-live.log" "$T/live.stats.json" "$T/live.floe.log" \
	>"$T/live.check" 2>&1 <<'EOF'
import json, re, sys
ents = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# h2load -c 2 -m 1: at most one request in flight per connection when its duration ends. Its
# own "started - done" is printed beside; it can differ by the request it wrote at the deadline.
MAX_IN_FLIGHT = 2
m = re.search(r"^requests: \d+ total, (\d+) started, (\d+) done", open(sys.argv[2]).read(), re.M)
in_flight = int(m.group(1)) - int(m.group(2)) if m else None
ringbuf_full = json.load(open(sys.argv[3])).get("ringbuf_full", 0)
m = re.search(r"not dissected: queue full +(\d+) packets", open(sys.argv[4]).read())
queue_full = int(m.group(1)) if m else None
floe_lost = ringbuf_full + (queue_full or 0)
h2 = [e for e in ents if e.get("version") == "2"]
ok200 = [e for e in h2 if (e.get("response") or {}).get("status") == 200]
last_stream = {}
for e in h2:
    last_stream[e.get("flow_id")] = max(last_stream.get(e.get("flow_id"), 0), e.get("stream_id", 0))
no200 = [e for e in h2 if (e.get("response") or {}).get("status") != 200]
cut_at_end = [e for e in no200 if e.get("missing") == "response" and
              e.get("missing_reason") != "capture_gap" and
              e.get("stream_id") == last_stream[e.get("flow_id")]]
lost = [e for e in no200 if e.get("missing_reason") == "capture_gap" and floe_lost > 0]
unexplained = [e for e in no200 if e not in cut_at_end and e not in lost]
def halves(e):
    return [e.get(k) or {} for k in ("request", "response")]
partial = [e for e in h2 if any(h.get("headers_partial") for h in halves(e))]
indexed = [u for e in partial for h in halves(e) for u in h.get("unknown_headers", [])]
known_date = [e for e in partial if "date" in ((e.get("response") or {}).get("headers") or {})]
bad_idx = [u for u in indexed if not isinstance(u.get("index"), int) or u["index"] <= 61]
path_known = [e for e in h2 if (e.get("request") or {}).get("path")]
print("entries %d, http/2 %d, status 200 %d, with partial headers %d, unknown refs listed %d, "
      "partial ones with a known date %d, with a known :path %d" %
      (len(ents), len(h2), len(ok200), len(partial), len(indexed), len(known_date),
       len(path_known)))
print("without status 200: %d; h2load: %s requests in flight at its end (at most %d), floe: %d entries cut "
      "there; floe lost %d packets (ringbuf_full %d, dissection queue full %s), %d entries "
      "cut by that" % (len(no200), in_flight, MAX_IN_FLIGHT, len(cut_at_end), floe_lost, ringbuf_full,
                       queue_full, len(lost)))
for e in unexplained[:10]:
    print("unexplained:", json.dumps({k: e.get(k) for k in ("id", "flow_id", "stream_id", "missing",
          "incomplete", "missing_reason")}), (e.get("response") or {}).get("status"))
def res(name, cond, skip=None):
    print(("skip\t%s\t%s" % (name, skip)) if skip else (("ok\t" if cond else "fail\t") + name))
res("h2load reports its requests started and done; floe its losses",
    in_flight is not None and queue_full is not None)
# A stream in the middle of a connection missing its response, with no loss counted, was
# issue 14's rare defect (the tap's start recorded a request whose response passed the pod's
# egress hook before it was attached: tap/pod_capture.c); it fails here like any other.
res("every HTTP/2 entry after the start has its status 200, but the requests h2load left in "
    "flight at its end (the last stream of a connection, missing its response) and those "
    "floe's own losses cut (capture_gap)", h2 and ok200 and not unexplained and
    in_flight is not None and len(cut_at_end) <= MAX_IN_FLIGHT)
res("headers sent before the start are marked unknown (headers_partial)", len(partial) > 0)
res("each unknown header has its dynamic-table index (> 61)", indexed and not bad_idx)
res("fields inserted again after the start decode whole (date; :path literals)",
    len(known_date) > 0 and len(path_known) > 0)
EOF
while IFS=$'\t' read -r kind desc why; do
	case $kind in
	ok) ok "$desc" ;;
	fail) not_ok "$desc" ;;
	skip) skip "$desc" "$why" ;;
	*) diag "$kind $desc" ;;
	esac
done <"$T/live.check"

done_testing
