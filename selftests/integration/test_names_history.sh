#!/usr/bin/env bash
# Integration (local mode): names on entries follow an address over time. Pod b asks pod c a
# question that c never answers; c is deleted and its IP given to a new pod c2; only then does b
# give up, and its entry is made. The entry names c (the pod the address was when the request
# was captured), not c2; c2's own entries name c2. Before the name resolver, the address's name
# was replaced: the entry named c2.
# Usage (root, from the repo root): bash selftests/integration/test_names_history.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
B=10.213.8.12 C=10.213.8.13
pod_add b $B && pod_add c $C || { not_ok "create pods b, c"; done_testing; }
# A server that reads one request and never answers.
pod_bg c "$T/silent.log" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8081)); s.listen(4)
c, _ = s.accept(); print("got", c.recv(4096)[:20], flush=True); time.sleep(60)'
wait_tcp_listen c 8081 10 || { not_ok "silent server in c"; done_testing; }

OUT=$T/entries.json
if ! floe_start_json "$OUT" "$T/floe.log" -A --store "$T/store" --stats-json "$T/stats.json"; then
	not_ok "floe tap --json starts"
	done_testing
fi
check "floe taps b and c" grep -qE '^floe: tapping 2 pods' "$T/floe.log"

pod_bg b "$T/curl.log" curl -sS -o /dev/null --max-time 60 "http://$C:8081/pending?to=c"
CURL_PID=$BG_PID
wait_for_line "$T/silent.log" got 10
check "c got the request" grep -q got "$T/silent.log"

# c goes (its name and its veth; its server keeps the old netns alive, without a link), and c2
# comes with c's IP.
ip netns del "$(pod_ns c)"
on_node ip link del v-c
wait_for_line "$T/floe.log" "pod default/$(pod_ns c) is gone" 10
check "floe saw c go" grep -q "pod default/$(pod_ns c) is gone" "$T/floe.log"
pod_add c2 $C || { not_ok "create pod c2 with c's IP"; done_testing; }
wait_for_line "$T/floe.log" "tapping new pod default/$(pod_ns c2)" 10
check "floe taps c2" grep -q "tapping new pod default/$(pod_ns c2)" "$T/floe.log"
mkdir -p "$T/www" && echo hello >"$T/www/hello.txt"
pod_bg c2 "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T/www"
wait_tcp_listen c2 8080 10 || { not_ok "HTTP server in c2"; done_testing; }
# b still has c's MAC for the IP (a real pod would announce itself: gratuitous ARP).
in_pod b ip neigh flush all
in_pod b curl -sS -o /dev/null --max-time 5 "http://$C:8080/hello.txt?to=c2"

# b gives up now: the pending request's entry is made after c went and c2 took its IP.
bg_stop "$CURL_PID" >/dev/null
entries_wait "$OUT" 2 10
floe_stop
dst() { jq -r --arg q "$1" 'select(.request.url | contains($q)) | "\(.dst.pod) \(.dst.name)"' "$OUT"; }
is "$(dst to=c2)" "$(pod_ns c2) $(pod_ns c2)" "c2's entry names c2"
is "$(dst pending?to=c)" "$(pod_ns c) $(pod_ns c)" \
	"the request captured while c lived, its entry made after c2 took the IP, names c" ||
	entries_diag "$OUT"
is "$(jq -r 'select(.request.url | contains("pending?to=c")) | .missing' "$OUT")" \
	response "... an entry without a response"
is "$(jq -r 'select(.request.url | contains("to=c2")) | "\(.src.pod) \(.src.name)"' "$OUT")" \
	"$(pod_ns b) $(pod_ns b)" "the client named b"
spans_ok() { jq -e '.names_spans_closed >= 1 and .names_spans_open >= 2' "$T/stats.json" >/dev/null; }
check "the resolver kept a closed span (c) and open ones (--stats-json)" spans_ok
done_testing
