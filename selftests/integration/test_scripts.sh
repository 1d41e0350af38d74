#!/usr/bin/env bash
# Integration: JavaScript scripts beside `floe tap` (docs/scripting.md) on real HTTP traffic
# between pods a (curl) and b (selftests/lib/httpd1.py). floe taps both with --json and
# --scripting-source holding:
#   all.js     onEntry logs every entry as JSON: must be exactly the entries floe prints live
#              (same objects, field by field), which must be what `floe read --json` of the
#              exported PCAP gives (entries_vs_read);
#   errors.js  KFL pre-filter 'http and response.status >= 500': exactly the live 5xx entries,
#              each also POSTed by webhook() to a receiver on the node's loopback;
#   job.js     a job every 200 ms: runs on schedule, never early;
#   spin.js    `while (true) {}` on /spin: stopped at the CPU limit (--scripting-cpu-ms 200),
#              restarted, disabled after 5 failures in a row;
#   hog.js     an allocation loop on /hog: stopped at its memory/CPU limits;
#   syntax.js  a syntax error: reported with file and line;
#   packets.js onPacket logs the SYNs to the server: exactly those tshark finds in the store.
# Capture must go on without loss: the tap's counters (ringbuf_full, dissect_queue_dropped,
# store_lost) 0, every request an entry, and all.js sees every entry, even those during which
# spin.js and hog.js were being killed. Then a script file is rewritten (inotify) and reloaded.
# Usage (root, from the repo root): bash selftests/integration/test_scripts.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.19.11 B=10.213.19.12
PORT=8080
RUNNER=$(floe_root)/build/floe-script

need_cmd "curl and jq are installed" curl jq || done_testing
if [ ! -x "$RUNNER" ]; then
	skip "scripts" "build/floe-script is not built (make all)"
	done_testing
fi
entries_pods $A $B

entries_httpd1 b $PORT

S=$T/scripts
mkdir -p "$S"
cat >"$S/all.js" <<'EOF'
// every entry, whole
function onEntry(e) { log('ENTRY ' + JSON.stringify(e)); }
EOF
# a webhook receiver on the node's loopback (not a tapped pod: its traffic makes no entries):
# one line per POST, its type and body
WPORT=9099
cat >"$T/hook.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        sys.stdout.write(self.headers.get("Content-Type", "") + " " + body.decode() + "\n")
        sys.stdout.flush()
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
node_bg "$T/hooks.log" $PY "$T/hook.py" $WPORT
for _ in $(seq 1 100); do
	on_node ss -Hltn "sport = :$WPORT" | grep -q . && break
	sleep 0.05
done
check "the webhook receiver listens on the node" on_node sh -c "ss -Hltn 'sport = :$WPORT' | grep -q ."
cat >"$S/errors.js" <<EOF
var filter = 'http and response.status >= 500';
var n = 0;
function onEntry(e) {
	n++;
	log('5XX ' + e.id + ' ' + e.response.status + ' ' + n);
	metric('floe_test_5xx', n, {path: e.request.path});
	webhook('http://127.0.0.1:$WPORT/hook', {id: e.id, status: e.response.status});
}
EOF
# webhook() to a port nothing listens on (port 1 of the node netns this test made): retried as
# a trigger's webhook is (trigger/webhook.c)
cat >"$S/down.js" <<'EOF'
var filter = 'http and response.status >= 500';
function onEntry(e) { webhook('http://127.0.0.1:1/down', {id: e.id}); }
EOF
cat >"$S/job.js" <<'EOF'
var jobs = [{name: 'tick', every: '200ms', run: function () { log('TICK ' + Date.now()); }}];
EOF
cat >"$S/spin.js" <<'EOF'
var filter = 'http';
function onEntry(e) {
	if (e.request.path == '/spin')
		while (true) {}
	log('SPIN-OK ' + e.id);
}
EOF
cat >"$S/hog.js" <<'EOF'
var filter = 'http';
var keep = [];
function onEntry(e) {
	if (e.request.path == '/hog')
		for (var i = 0; ; i++)
			keep.push({i: i, s: 'x' + i, a: [i, i]});
	log('HOG-OK ' + e.id);
}
EOF
cat >"$S/packets.js" <<'EOF'
// the client's SYNs to the server: one per connection curl opened
function onPacket(p) {
	if (p.protocol == 'tcp' && p.dst.port == 8080 && p.flags.indexOf('SYN') >= 0 &&
	    p.flags.indexOf('ACK') < 0)
		log('SYN ' + p.src.ip + ' ' + p.src.port + ' ' + p.size);
}
EOF
printf 'var a = 1;\nvar b = ;\n' >"$S/syntax.js"

METRICS=$T/metrics.prom
entries_tap --scripting-source "$S" --scripting-cpu-ms 200 --scripting-memory 8MiB \
	--scripting-metrics "$METRICS"
LOG=${OUT%.json}.floe.log

check "syntax.js is reported with file and line" \
	grep -q '^floe: script syntax.js: not loaded: syntax.js:2: SyntaxError' "$LOG"
for s in all errors job spin hog packets; do
	check "$s.js is loaded" grep -q "^floe: script $s.js: loaded" "$LOG"
done

U=http://$B:$PORT
N=0
# get PATH: one request from pod a
get() {
	in_pod a curl -sS --max-time 10 -o /dev/null "$U$1" 2>>"$T/curl.err"
	N=$((N + 1))
}
for i in $(seq 1 12); do get "/text?n=$((i * 10))"; done
get "/status?code=500"
get "/status?code=503"
get "/nothing/here"
get "/spin"
get "/hog"
for i in $(seq 1 6); do get "/text?n=$i&after=1"; done
get "/status?code=502"
# spin.js: five failures in a row disable it
for i in 1 2 3 4 5; do get "/spin"; done
for i in $(seq 1 5); do get "/text?n=$i&last=1"; done

# lines_wait RE N: the log has N lines matching RE (60 s at most: a script's calls wait for
# its runner, and the killed ones are restarted)
lines_wait() {
	local end=$(($(date +%s) + 60))
	while [ "$(grep -c "$1" "$LOG")" -lt "$2" ] && [ "$(date +%s)" -lt "$end" ]; do
		sleep 0.2
	done
}
lines_wait '^floe: script all.js: ENTRY ' "$N"
lines_wait '^floe: script hog.js: HOG-OK ' $((N - 1))
lines_wait '^floe: script spin.js: disabled' 1
entries_stop "$N"

STATS=${OUT%.json}.stats.json
for c in ringbuf_full dissect_queue_dropped store_lost; do
	is "$(stat_get "$STATS" "$c")" 0 "capture without loss while scripts failed: $c is 0"
done
is "$(grep -c . "$OUT")" "$N" "one entry per request ($N)"

# all.js: the same entries, object for object, as floe printed live
grep '^floe: script all.js: ENTRY ' "$LOG" | sed 's/^floe: script all.js: ENTRY //' |
	jq -cS . | sort >"$T/script.all"
jq -cS . "$OUT" | sort >"$T/live.all"
if [ -s "$T/live.all" ] && cmp -s "$T/script.all" "$T/live.all"; then
	ok "onEntry saw exactly the entries floe printed live ($(wc -l <"$T/live.all"), field by field)"
else
	not_ok "onEntry saw exactly the entries floe printed live"
	diag "$(diff "$T/live.all" "$T/script.all" | head -c 3000)"
fi
# ... which are what floe read --json of the same traffic gives
entries_vs_read

# packets.js: onPacket saw exactly the SYNs to the server that the store holds (tshark)
tshark_q -r "${OUT%.json}.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 8080' \
	-T fields -e ip.src -e tcp.srcport -e frame.len 2>/dev/null | tr '\t' ' ' | sort >"$T/tshark.syn"
sed -n 's/^floe: script packets.js: SYN //p' "$LOG" | sort >"$T/script.syn"
if [ "$(grep -c . "$T/tshark.syn")" -ge "$N" ] && cmp -s "$T/tshark.syn" "$T/script.syn"; then
	ok "onPacket saw exactly the $(grep -c . "$T/tshark.syn") SYNs tshark finds in the store"
else
	not_ok "onPacket saw exactly the SYNs tshark finds in the store"
	diag "$(diff "$T/tshark.syn" "$T/script.syn" | head -n 20)"
fi
is "$(sed -n 's/^floe_script_packets_dropped_total //p' "$METRICS")" 0 "no packet metadata dropped"

# errors.js: exactly the 5xx entries, in order
jq -r 'select(.protocol == "http" and .response.status >= 500) | .id' "$OUT" >"$T/live.5xx"
sed -n 's/^floe: script errors.js: 5XX \([^ ]*\) .*/\1/p' "$LOG" >"$T/script.5xx"
if [ -s "$T/live.5xx" ] && cmp -s "$T/live.5xx" "$T/script.5xx"; then
	ok "the KFL pre-filter passed exactly the $(wc -l <"$T/live.5xx") 5xx entries"
else
	not_ok "the KFL pre-filter passed exactly the 5xx entries"
	diag "live: $(tr '\n' ' ' <"$T/live.5xx")" "script: $(tr '\n' ' ' <"$T/script.5xx")"
fi
# webhook(): delivered by floe (libcurl) to the receiver, once per 5xx entry
jq -c '{id, status: .response.status}' <(jq -c 'select(.protocol == "http" and .response.status >= 500)' "$OUT") |
	sed 's/^/application\/json /' >"$T/live.hooks"
if [ -s "$T/live.hooks" ] && cmp -s "$T/live.hooks" "$T/hooks.log"; then
	ok "webhook() delivered one JSON POST per 5xx entry ($(grep -c . "$T/hooks.log"))"
else
	not_ok "webhook() delivered one JSON POST per 5xx entry"
	diag "$(diff "$T/live.hooks" "$T/hooks.log" | head)"
fi
check "webhooks counted as sent" grep -q '^floe_script_webhooks_sent_total 3$' "$METRICS"
# each of down.js's 3 webhooks failed its first attempt and was queued again at least once
retried=$(sed -n 's/^floe_script_webhooks_retried_total //p' "$METRICS")
check "webhook() to a closed port: retried ($retried >= 3)" test "${retried:-0}" -ge 3
check "metric() is written to --scripting-metrics" \
	grep -q '^floe_test_5xx{script="errors.js",path="/status"} 3$' "$METRICS"

# job.js: on schedule (at least 5 runs, none earlier than 200 ms after the one before)
sed -n 's/^floe: script job.js: TICK //p' "$LOG" >"$T/ticks"
ticks=$(grep -c . "$T/ticks")
check "the job ran at least 5 times ($ticks)" test "$ticks" -ge 5
span=$(awk 'NR == 1 { f = $1 } { l = $1 } END { print l - f }' "$T/ticks")
# runs keep to due times (a late run does not move the next): never more than the schedule
# holds, and at most a few missed on a busy machine
check "the job kept its schedule ($ticks runs over $span ms)" \
	test "$ticks" -le $((span / 200 + 2)) -a "$ticks" -ge $((span * 8 / 2000))

# spin.js: stopped at the CPU limit, restarted, then disabled
# (on a starved machine the wall-time watchdog, 4 x 200 ms + 2 s, may come first)
check "while (true) {} is stopped at its limit" \
	grep -qE '^floe: script spin.js: (CPU time limit of 200 ms per call exceeded|no answer within 2800 ms): runner killed' "$LOG"
check "spin.js is disabled after 5 failures in a row" \
	grep -q '^floe: script spin.js: disabled after 5 failures in a row' "$LOG"
ok_before=$(grep -c '^floe: script spin.js: SPIN-OK ' "$LOG")
check "spin.js ran again after its first kill ($ok_before calls went through)" \
	test "$ok_before" -ge 7
check "spin.js: disabled in the metrics" grep -q '^floe_script_disabled{script="spin.js"} 1$' "$METRICS"
check "spin.js restarted in the metrics" \
	grep -qE '^floe_script_restarts_total\{script="spin.js"\} [1-9]' "$METRICS"

# hog.js: stopped by its memory budget (alloc failed) or, crawling near it, the CPU limit
if grep -qE '^floe: script hog.js: (hog.js:[0-9]+: Error: alloc failed|CPU time limit of 200 ms|no answer within 2800 ms|fatal error in the JavaScript engine)' "$LOG"; then
	ok "the allocation loop is stopped at its limits"
else
	not_ok "the allocation loop is stopped at its limits"
	diag "$(grep '^floe: script hog.js:' "$LOG" | grep -v HOG-OK | head)"
fi
hog_after=$(grep -c '^floe: script hog.js: HOG-OK ' "$LOG")
is "$hog_after" $((N - 1)) "hog.js handled every other entry"
diag "$(grep -E '^floe: script (spin|hog).js:' "$LOG" | grep -vE 'OK ' | head -n 8)"

# ---------------------------------------------------------------- reload on change
OUT=$T/reload.json
entries_tap --scripting-source "$S" --scripting-cpu-ms 200
LOG=${OUT%.json}.floe.log
printf 'function onEntry(e) { log("NEW " + e.request.path); }\n' >"$S/.spin.tmp"
mv "$S/.spin.tmp" "$S/spin.js"
printf 'var a = 1;\nfunction onEntry(e) { log("FIXED " + e.id); }\n' >"$S/syntax.js"
wait_for_line "$LOG" '^floe: script spin.js: loaded' 10 &&
	wait_for_line "$LOG" '^floe: script syntax.js: loaded' 10
check "changed files are reloaded" test "$(grep -c ': loaded' "$LOG")" -ge 8
N=0
get "/spin"
get "/text?n=3"
entries_wait "$OUT" 2 10
wait_for_line "$LOG" '^floe: script syntax.js: FIXED ' 10
check "the reloaded spin.js runs its new code" grep -q '^floe: script spin.js: NEW /spin' "$LOG"
check "the fixed syntax.js runs" test "$(grep -c '^floe: script syntax.js: FIXED ' "$LOG")" -eq 2
entries_stop 2

done_testing
