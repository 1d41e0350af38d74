#!/usr/bin/env bash
# Integration: pods' network namespaces in Kubernetes mode (docs/kubernetes.md "The host
# interface", docs/tls.md), against the real API server (selftests/k8s/cluster.sh).
# The node is wired as the bridge CNI plugin does: the pods' veths enslaved to the bridge br0 in
# the node netns, br0 holding the pod subnet's gateway address, so the node's route to every
# pod IP is the subnet's, through br0 (no route per pod). floe runs in the node netns with the
# service account of manifests/rbac.yaml and must find each pod's veth through the pod's network
# namespace (the one holding its IP, joined to the node by a veth), not the bridge:
#   (a) --dryrun lists v-a and v-b, not br0; the live tap hooks v-a and v-b and never br0;
#       HTTP between the two pods (bridged, never routed by the node) gives the entries curl
#       saw: status, body size, curl's local port, the pods' API names on both ends; a pod
#       made mid-run (its netns, veth and Pod after floe started) is tapped on its veth and
#       its request is an entry named by it;
#   (b) TLS: openssl s_server in web-a, curl over HTTPS from client-b and from the pod made
#       mid-run (its namespace found by a scan after floe started): entries with "tls": true,
#       process curl, the pod names, and the status, body and local port curl reported; the
#       pods' processes are found through their namespaces, as in local mode;
#   (c) tls_blind: a process of client-b that loads a libssl copy without SSL_read/SSL_write is
#       listed with the pod's API name and namespace in --stats-json;
#   (d) --stats-json's pod_netns: the scans (two at least), the pods and addresses they found.
# Subnet: 10.242.1.0/24. Skipped when the cluster's binaries are not built (make k8s-deps).
# Usage (root, from the repo root): bash selftests/integration/test_k8s_podns.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
CLUSTER=$K8S_DIR/cluster.sh
need_cmd "openssl, curl, jq, cc are installed" openssl curl jq cc || done_testing
k8s_test_init "pods' network namespaces in Kubernetes mode"

NODE_NAME=node-$$
GW=10.242.1.1 A=10.242.1.11 B=10.242.1.12 C=10.242.1.13
HPORT=8080 SPORT=4433
LIBSSL=/usr/lib/x86_64-linux-gnu/libssl.so.3
pod_add a $A && pod_add b $B || { not_ok "create network-namespace pods"; done_testing; }
# The bridge CNI: the gateway address on the bridge, so the pod subnet is routed to br0.
on_node ip addr add $GW/24 dev br0 || { not_ok "the bridge's address"; done_testing; }
is "$(on_node ip -o route get $A | grep -o 'dev [^ ]*')" "dev br0" \
	"the node routes the pods' IPs to the bridge (no route per pod)"

kc create namespace shop >/dev/null && kc -n shop create serviceaccount default >/dev/null
api_pod shop web-a "$NODE_NAME" && api_status shop web-a Running $A
api_pod shop client-b "$NODE_NAME" && api_status shop client-b Running $B
SA=$(bash "$CLUSTER" sa-kubeconfig floe-agent 2>"$T/sa.err" | tail -n 1)
[ -f "$SA" ] || { not_ok "a kubeconfig of floe's service account"; diag "$(cat "$T/sa.err")"; done_testing; }

# ---------------------------------------------------------------- (a) --dryrun
out=$(on_node "$FLOE" tap --dryrun --kubeconfig "$SA" --node "$NODE_NAME" -n shop 2>"$T/dry.err")
is "$?" 0 "dryrun exits 0" || diag "$(cat "$T/dry.err")"
diag "floe tap --dryrun:" "$out"
is "$(tail -n +2 <<<"$out" | awk '{print $1 "=" $3 "=" $4}' | sort | tr '\n' ' ')" \
	"shop/client-b=$B=v-b shop/web-a=$A=v-a " "dryrun: each pod's veth, not the bridge"

# ---------------------------------------------------------------- servers, then floe
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=web-a.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; diag "$(cat "$T/req.log")"; done_testing; }
mkdir -p "$T/www"
head -c 3000 /dev/urandom | base64 -w 0 >"$T/www/page.txt"
pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 $HPORT "$T/www" &&
	pod_bg a "$T/s_server.log" openssl s_server -www -accept $SPORT -cert "$T/cert.pem" \
		-key "$T/key.pem" &&
	wait_tcp_listen a $HPORT 10 && wait_tcp_listen a $SPORT 10 ||
	{ not_ok "HTTP and TLS servers in a"; diag "$(cat "$T/httpd.log" "$T/s_server.log")"; done_testing; }

OUT=$T/entries.json
STATS=$T/stats.json
LOG=$T/floe.log
if ! floe_start_json "$OUT" "$LOG" --kubeconfig "$SA" --node "$NODE_NAME" -n shop \
	--store "$T/store" --stats-json "$STATS"; then
	not_ok "floe tap --json starts"
	done_testing
fi
ok "floe tap --json starts"
diag "$(grep '^floe:' "$LOG")"
check "floe hooked Debian's libssl (s_server's, found through web-a's namespace)" \
	grep -q "floe: tls: hooked .*libssl.so" "$LOG"
check_not "no message that Kubernetes pods' processes are not found" \
	grep -qi "not found yet\|no network namespace" "$LOG"
has_filters() { [ -n "$(tc_filters "$1")" ]; }
check "tc filters on v-a" has_filters v-a
check "tc filters on v-b" has_filters v-b
check_not "no tc filter on the bridge" has_filters br0

complete() { entries_complete "$OUT"; }
wait_sel() { entries_wait_sel "$OUT" "$@"; }
# check_entry SEL CODE SIZE LPORT SRCPOD SRCIP DSTPOD DSTIP DESC: the one entry of SEL is curl's.
check_entry() {
	local sel=$1 e
	e=$(complete | jq -c "select($sel)")
	is "$(grep -c . <<<"$e")" 1 "$9: one entry" || { entries_diag "$OUT"; return; }
	is "$(jq -r '"\(.response.status) \(.response.body.size)"' <<<"$e")" "$2 $3" \
		"$9: status $2 and $3 body bytes, as curl got"
	is "$(jq -r '"\(.src.pod) \(.src.namespace) \(.src.ip):\(.src.port)"' <<<"$e")" \
		"$5 shop $6:$4" "$9: client $5 (shop) at curl's local port"
	is "$(jq -r '"\(.dst.pod) \(.dst.namespace) \(.dst.ip)"' <<<"$e")" "$7 shop $8" \
		"$9: server $7 (shop)"
}

# ---------------------------------------------------------------- (a) HTTP over the bridge
for i in 1 2 3; do
	in_pod b curl -sS -o /dev/null -w '%{http_code} %{size_download} %{local_port}\n' \
		"http://$A:$HPORT/page.txt?n=$i" >>"$T/curl.w" 2>>"$T/curl.err"
done
is "$(wc -l <"$T/curl.w")" 3 "curl made 3 requests from client-b to web-a" || diag "$(cat "$T/curl.err")"
wait_sel '.request.url // "" | test("n=[0-9]$")' 3 15
i=0
while read -r code size lport; do
	i=$((i + 1))
	check_entry ".protocol == \"http\" and (.tls | not) and .request.url == \"/page.txt?n=$i\"" \
		"$code" "$size" "$lport" client-b $B web-a $A "HTTP request $i over the bridge"
done <"$T/curl.w"

# ---------------------------------------------------------------- (b) TLS
for i in 1 2; do
	in_pod b curl -sk --http1.1 -o "$T/tls-body.$i" \
		-w '%{http_code} %{size_download} %{local_port}\n' \
		"https://$A:$SPORT/tls$i" >>"$T/tls.w" 2>>"$T/curl.err"
done
is "$(wc -l <"$T/tls.w")" 2 "curl made 2 HTTPS requests from client-b to web-a" || diag "$(cat "$T/curl.err")"
wait_sel '.tls == true and (.request.url // "" | test("^/tls[0-9]$"))' 2 15
i=0
while read -r code size lport; do
	i=$((i + 1))
	sel=".tls == true and .process == \"curl\" and .request.url == \"/tls$i\""
	check_entry "$sel" "$code" "$size" "$lport" client-b $B web-a $A "TLS request $i (plaintext)"
	e=$(complete | jq -c "select($sel)" | head -n 1)
	if [ -n "$e" ] && cmp -s <(jq -j '.response.body.text' <<<"$e") "$T/tls-body.$i"; then
		ok "TLS request $i: the body in the entry is the one curl received"
	else
		not_ok "TLS request $i: the body in the entry is the one curl received"
	fi
done <"$T/tls.w"

# ---------------------------------------------------------------- a pod made mid-run
pod_add c $C || { not_ok "pod c's sandbox"; done_testing; }
api_pod shop late-c "$NODE_NAME" && api_status shop late-c Running $C
check "floe taps the new pod" wait_for_line "$LOG" 'tapping new pod shop/late-c' 10
check "... on its veth v-c" has_filters v-c
check_not "... without saying that no interface routes to its IP" \
	grep -q "pod shop/late-c .*no host interface" "$LOG"
check_not "... and still nothing on the bridge" has_filters br0
in_pod c curl -sS -o /dev/null -w '%{http_code} %{size_download} %{local_port}\n' \
	"http://$A:$HPORT/page.txt?from=c" >"$T/c.w" 2>>"$T/curl.err"
read -r code size lport <"$T/c.w"
wait_sel '.request.url == "/page.txt?from=c"' 1 10
check_entry '.request.url == "/page.txt?from=c"' "$code" "$size" "$lport" late-c $C web-a $A \
	"late-c's request"
# Its namespace came with a scan after floe started (with its veth): its processes are read.
in_pod c curl -sk --http1.1 -o /dev/null -w '%{http_code} %{size_download} %{local_port}\n' \
	"https://$A:$SPORT/tlsc1" >"$T/tlsc.w" 2>>"$T/curl.err"
read -r code size lport <"$T/tlsc.w"
wait_sel '.tls == true and .request.url == "/tlsc1"' 1 10
check_entry '.tls == true and .process == "curl" and .request.url == "/tlsc1"' \
	"$code" "$size" "$lport" late-c $C web-a $A "late-c's TLS request (plaintext)"

# ---------------------------------------------------------------- (c) tls_blind
cc -O2 -Wall -Werror -o "$T/tlsdl" "$HERE/tlsdl/tlsdl.c" 2>"$T/cc.log" ||
	{ not_ok "build tlsdl"; diag "$(cat "$T/cc.log")"; done_testing; }
blind_libssl "$LIBSSL" "$T/blind/libssl.so.3"
mkfifo "$T/bl.in"
ip netns exec "$(pod_ns b)" "$T/tlsdl" "$T/blind/libssl.so.3" hold <"$T/bl.in" >"$T/bl.out" 2>"$T/bl.err" &
BL_PID=$!
bg_track $BL_PID
exec 7>"$T/bl.in"
wait_for_line "$T/bl.out" loaded 5 || { not_ok "tlsdl loaded the stripped copy"; diag "$(cat "$T/bl.err")"; }
check "the log says floe is blind to client-b's process" wait_for_line "$LOG" \
	"floe: tls: process $BL_PID \(tlsdl\) of client-b uses $T/blind/libssl.so.3, which could not be probed" 5
sleep 3 # the stats' copy of the blind list is taken on the loop each second
floe_stop
is "$?" 0 "floe exits 0"
echo bye >&7
exec 7>&-
wait "$BL_PID"
b=$(jq -c ".tls_blind[]? | select(.pid == $BL_PID)" "$STATS")
diag "tls_blind: $b"
is "$(jq -r '[.pod, .namespace, .process, .library] | join(" ")' <<<"$b")" \
	"client-b shop tlsdl $T/blind/libssl.so.3" "--stats-json tls_blind: the pod's API name and namespace"
diag "$(grep -E '^  tls:' "$LOG")"
# The scans' figures (docs/kubernetes.md, "The host interface"): at least two scans (the first,
# and the one late-c's event asked for), and the last one saw the three pods this test joined
# to the node by a veth, with their addresses (other runs' namespaces may add more).
diag "pod_netns: $(jq -c .pod_netns "$STATS")"
check "--stats-json pod_netns: scans >= 2" jq -e '.pod_netns.scans >= 2' "$STATS"
check "--stats-json pod_netns: namespaces >= pods >= 3, addresses >= 3" jq -e \
	'.pod_netns | .namespaces >= .pods and .pods >= 3 and .addresses >= 3' "$STATS"
check "--stats-json pod_netns: durations, failures counted" jq -e \
	'.pod_netns | .last_scan_s > 0 and .scans_s >= .last_scan_s and .failed_total >= .failed
	 and (.first_error | type) == "string"' "$STATS"
done_testing
