#!/usr/bin/env bash
# Integration: names from DNS answers, and names of pods deleted mid-request, in Kubernetes mode
# against the real API server (selftests/k8s/cluster.sh), with floe's service account.
#   - Pod dns runs dnsmasq (as CoreDNS would serve the cluster): the Service name
#     web.shop.svc.cluster.local (pod web-a's IP) and partner.example.com through a CNAME to an
#     address of a network namespace the API does not know (an external server). Pod client-b
#     asks with dig, then speaks HTTP to what dig's answer gave (the oracle): the external
#     address is named by the name dig asked for (dst.dns_name and dst.name); web-a keeps its
#     pod names (name = the pod) and gets dns_name beside them.
#   - A request to pod slow waits (its server answers when the test says so); slow is deleted
#     through the API (a graceful delete: floe untaps it at once), then its server answers:
#     the entry, complete, is made after the pod went and names slow (dst).
#   - Pod leaver asks pod gate the same way and is deleted (forced) before gate answers: the
#     response is captured at gate's hook, the entry names leaver (src).
# Skipped when the cluster's binaries are not built (make k8s-deps).
# Usage (root, from the repo root): bash selftests/integration/test_k8s_names.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
CLUSTER=$K8S_DIR/cluster.sh
need_cmd "dnsmasq, dig and curl are installed" dnsmasq dig curl || done_testing
k8s_test_init "names from DNS answers and of pods deleted mid-request"

NODE_NAME=node-$$
WEB=10.226.17.21 CLIENT=10.226.17.22 DNS=10.226.17.23 SLOW=10.226.17.24 LEAVER=10.226.17.25
GATE=10.226.17.26 EXT=10.226.17.40
for p in "web $WEB" "client $CLIENT" "dns $DNS" "slow $SLOW" "leaver $LEAVER" "gate $GATE"; do
	set -- $p
	pod_add "$1" "$2" && k8s_route "$1" || { not_ok "pod $1"; done_testing; }
done
pod_add ext $EXT || { not_ok "the external server's netns"; done_testing; }
kc create namespace shop >/dev/null && kc -n shop create serviceaccount default >/dev/null
for p in "web-a $WEB" "client-b $CLIENT" "dns $DNS" "slow $SLOW" "leaver $LEAVER" "gate $GATE"; do
	set -- $p
	api_pod shop "$1" "$NODE_NAME" && api_status shop "$1" Running "$2" ||
		{ not_ok "Pod $1 in the API"; done_testing; }
done
SA=$(bash "$CLUSTER" sa-kubeconfig floe-agent 2>"$T/sa.err" | tail -n 1)
[ -f "$SA" ] || { not_ok "a kubeconfig of floe's service account"; diag "$(cat "$T/sa.err")"; done_testing; }

echo hello >"$T/hello.txt"
for p in web ext; do
	pod_bg $p "$T/httpd-$p.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
		wait_tcp_listen $p 8080 10 || { not_ok "HTTP server in $p"; done_testing; }
done
# A server that answers each request when the file its query names appears in $T (the test's
# word), not before: "got NAME" when the request came.
GATED='
import os, socketserver, sys, time
class H(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        name = line.split("wait=")[1].split()[0]
        print("got", name, flush=True)
        while not os.path.exists(os.path.join(sys.argv[1], name)):
            time.sleep(0.02)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("0.0.0.0", 8081), H).serve_forever()'
for p in slow gate; do
	pod_bg $p "$T/gated-$p.log" python3 -c "$GATED" "$T" &&
		wait_tcp_listen $p 8081 10 || { not_ok "gated server in $p"; done_testing; }
done
pod_bg dns "$T/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--no-poll --pid-file= --user=root --log-queries --log-facility=- \
	--bind-interfaces --listen-address=$DNS --port=53 --local-ttl=30 \
	--host-record=web.shop.svc.cluster.local,$WEB \
	--host-record=edge.cdn.example.net,$EXT --cname=partner.example.com,edge.cdn.example.net
wait_udp_listen dns 53 10 || { not_ok "dnsmasq listens"; diag "$(cat "$T/dnsmasq.log")"; done_testing; }

OUT=$T/entries.json
if ! floe_start_json "$OUT" "$T/floe.log" --kubeconfig "$SA" --node "$NODE_NAME" -n shop \
	--store "$T/store" --stats-json "$T/stats.json"; then
	not_ok "floe tap --json with the service account starts"
	done_testing
fi
check "floe taps the six pods" grep -q '^floe: tapping 6 pods' "$T/floe.log"

# ---- DNS names; the oracle is dig's answer.
# ask NAME: dig in client-b; prints "QNAME ADDR" for each A record of the answer.
ask() {
	in_pod client timeout 10 dig +nosearch @$DNS "$1" A >"$T/dig-$1" 2>&1
	awk '/^;; QUESTION SECTION:/ {q = 1; next}
	     q && /^;/ {sub(/^;/, ""); qn = $1; sub(/\.$/, "", qn); q = 0; next}
	     /^;; ANSWER SECTION:/ {an = 1; next}
	     an && /^$/ {an = 0}
	     an && $4 == "A" {print qn, $5}' "$T/dig-$1"
}
partner=$(ask partner.example.com)
web=$(ask web.shop.svc.cluster.local)
is "$partner" "partner.example.com $EXT" "dig: partner.example.com through its CNAME" ||
	diag "$(cat "$T/dig-partner.example.com")"
is "$web" "web.shop.svc.cluster.local $WEB" "dig: web.shop.svc.cluster.local"
in_pod client curl -sS -o /dev/null --max-time 5 "http://${partner#* }:8080/hello.txt?to=partner"
in_pod client curl -sS -o /dev/null --max-time 5 "http://${web#* }:8080/hello.txt?to=web"
entries_wait "$OUT" 4 10
ends() { # ends QUERY-SUBSTRING: "src: pod name dns_name | dst: pod name dns_name"
	jq -r --arg q "$1" 'select(.protocol == "http" and (.request.url | contains($q))) |
		"src: \(.src.pod) \(.src.name) \(.src.dns_name) |" +
		" dst: \(.dst.pod) \(.dst.name) \(.dst.dns_name)"' "$OUT" | sort -u
}
is "$(ends to=partner)" "src: client-b client-b null | dst: null partner.example.com partner.example.com" \
	"an address the API does not know: named by the name dig asked for" || entries_diag "$OUT"
is "$(ends to=web)" "src: client-b client-b null | dst: web-a web-a web.shop.svc.cluster.local" \
	"a pod's address: its pod names it, the DNS name beside" || entries_diag "$OUT"
is "$(jq -r 'select(.protocol == "dns") | "\(.src.pod) \(.dst.pod)"' "$OUT" | sort -u)" \
	"client-b dns" "the DNS entries: client-b asks pod dns"

# ---- a pod deleted while its request waits for the answer
# gated POD-FROM IP TAG: a request from POD-FROM to IP's gated server, in the background; waits
# until the server has it.
gated() {
	pod_bg "$1" "$T/curl-$3.log" curl -sS -o /dev/null --max-time 30 "http://$2:8081/?wait=$3"
	GATED_PID=$BG_PID
	wait_for_line "$4" "got $3" 10
	check "the gated server has request $3" grep -q "got $3" "$4"
}
gated client $SLOW slow-req "$T/gated-slow.log"
SLOW_CURL=$GATED_PID
# A graceful delete: the Pod is marked (deletionTimestamp) and keeps running its grace period,
# as a kubelet lets it; floe untaps it at once.
kc -n shop delete pod slow --wait=false >/dev/null
wait_for_line "$T/floe.log" 'pod shop/slow is gone' 10
check "floe untapped slow on its deletion" grep -q 'pod shop/slow is gone' "$T/floe.log"
touch "$T/slow-req"
wait_pid "$SLOW_CURL" 10
is "$?" 0 "slow answered after its deletion (curl exit 0)"

gated leaver $GATE leaver-req "$T/gated-gate.log"
LEAVER_CURL=$GATED_PID
kc -n shop delete pod leaver --grace-period=0 --force >/dev/null 2>&1
wait_for_line "$T/floe.log" 'pod shop/leaver is gone' 10
check "floe untapped leaver on its deletion" grep -q 'pod shop/leaver is gone' "$T/floe.log"
touch "$T/leaver-req"
wait_pid "$LEAVER_CURL" 10
is "$?" 0 "gate answered leaver after leaver's deletion (curl exit 0)"

got() { jq -e --arg q "$1" 'select(.request.url | contains($q))' "$OUT" >/dev/null 2>&1; }
for _ in $(seq 1 100); do got wait=slow-req && got wait=leaver-req && break; sleep 0.1; done
floe_stop
is "$?" 0 "floe exits 0"
whole() { # whole TAG: "src.pod src.name -> dst.pod dst.name status missing"
	jq -r --arg q "wait=$1" 'select(.protocol == "http" and (.request.url | endswith($q))) |
		"\(.src.pod) \(.src.name) -> \(.dst.pod) \(.dst.name) \(.response.status) \(.missing)"' "$OUT"
}
is "$(whole slow-req)" "client-b client-b -> slow slow 200 null" \
	"the request to slow, answered after slow was deleted: complete, dst named slow" ||
	entries_diag "$OUT"
is "$(whole leaver-req)" "leaver leaver -> gate gate 200 null" \
	"leaver's request, answered after leaver was deleted: complete, src named leaver" ||
	entries_diag "$OUT"
is "$(jq -r '.names_dns_answers' "$T/stats.json")" 2 "--stats-json: 2 answers named addresses"
done_testing
