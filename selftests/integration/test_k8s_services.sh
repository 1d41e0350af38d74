#!/usr/bin/env bash
# Integration: names on entries from a real kube-apiserver (selftests/k8s/cluster.sh): Services
# and EndpointSlices written through the API as the controllers would, network-namespace pods
# (pods.sh) as in test_k8s_tap.sh, floe with the service account of manifests/rbac.yaml.
# Checks, on live traffic between the pods:
#   - both ends of an entry carry pod, namespace, service (from the EndpointSlices), node and
#     name; a Service's cluster IP (given to pod a's interface, as kube-proxy would make it
#     reach a) names the server by the service (name = service, no pod);
#   - a request captured while pod old-c lived, whose entry is made only after old-c was
#     deleted and its IP taken by pod new-c (of another service, in a sandbox of its own),
#     still names old-c and its service; new-c's own entries name new-c;
#   - a Service made mid-run names entries from then on (the watch);
#   - the node's own address (its Node's InternalIP) names the node;
#   - the ClusterRole is enough (no permission error), and without list on endpointslices
#     floe says which permission it needs and exits 1.
# Skipped when the cluster's binaries are not built (make k8s-deps).
# Usage (root, from the repo root): bash selftests/integration/test_k8s_services.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
CLUSTER=$K8S_DIR/cluster.sh
k8s_test_init "names from Services and EndpointSlices"

NODE_NAME=node-$$
A=10.213.9.21 B=10.213.9.22 C=10.213.9.23
pod_add a $A && pod_add b $B && pod_add c $C || { not_ok "create network-namespace pods"; done_testing; }
for p in a b c; do
	k8s_route $p || { not_ok "route to pod $p"; done_testing; }
done

kc create namespace shop >/dev/null && kc -n shop create serviceaccount default >/dev/null
# The Node, its InternalIP held by a network namespace of its own on the pods' bridge (the API
# knows no pod there: never tapped), where a server runs. (Not the node netns: its /32 routes
# to the pods go out of bridge ports, where no ARP answer arrives.)
NODE_IP=10.213.9.24
pod_add n $NODE_IP || { not_ok "the node's address"; done_testing; }
kc apply -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "$NODE_NAME"}}
EOF
curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" -X PATCH \
	-H 'Content-Type: application/merge-patch+json' \
	-d "{\"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"$NODE_IP\"},
	     {\"type\": \"Hostname\", \"address\": \"$NODE_NAME\"}]}}" \
	"$API/api/v1/nodes/$NODE_NAME/status" -o /dev/null || { not_ok "the Node's status"; done_testing; }

api_pod shop web-a "$NODE_NAME" && api_status shop web-a Running $A
api_pod shop client-b "$NODE_NAME" && api_status shop client-b Running $B
api_pod shop old-c "$NODE_NAME" && api_status shop old-c Running $C
api_service shop web && api_slice shop web-1 web $A web-a "$NODE_NAME"
api_service shop clients && api_slice shop clients-1 clients $B client-b "$NODE_NAME"
api_service shop legacy && api_slice shop legacy-1 legacy $C old-c "$NODE_NAME"
CIP=$(kc -n shop get service web -o jsonpath='{.spec.clusterIP}')
is "$(kc -n shop get services,endpointslices -o name | wc -l)" 6 "three Services, three EndpointSlices"
diag "service web's cluster IP: $CIP"
# The cluster IP reaches pod a, as kube-proxy's rules would make it: a's interface has it, b
# sends it on its link (a answers ARP for it).
in_pod a ip addr add "$CIP/32" dev eth0 && in_pod b ip route add "$CIP/32" dev eth0 ||
	{ not_ok "wire the cluster IP to pod a"; done_testing; }

SA=$(bash "$CLUSTER" sa-kubeconfig floe-agent 2>"$T/sa.err" | tail -n 1)
[ -f "$SA" ] || { not_ok "a kubeconfig of floe's service account"; diag "$(cat "$T/sa.err")"; done_testing; }

pod_bg a "$T/httpd-a.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	pod_bg c "$T/httpd-c.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	wait_tcp_listen a 8080 10 && wait_tcp_listen c 8080 10 || { not_ok "HTTP servers"; done_testing; }
pod_bg n "$T/httpd-node.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	wait_tcp_listen n 8080 10 || { not_ok "HTTP server on the node's address"; done_testing; }
# A server on c that reads a request and never answers: its entry waits for a response.
pod_bg c "$T/silent.log" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8081)); s.listen(4)
c, _ = s.accept(); print("got", c.recv(4096)[:20], flush=True); time.sleep(60)'
wait_tcp_listen c 8081 10 || { not_ok "silent server"; done_testing; }
echo hello >"$T/hello.txt"

OUT=$T/entries.json
if ! floe_start_json "$OUT" "$T/floe.log" --kubeconfig "$SA" --node "$NODE_NAME" -n shop \
	--store "$T/store"; then
	not_ok "floe tap --json with the service account starts"
	done_testing
fi
diag "$(grep '^floe:' "$T/floe.log")"
check "floe taps the three pods" grep -q '^floe: tapping 3 pods' "$T/floe.log"

in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?to=pod"
in_pod b curl -sS -o /dev/null --max-time 5 "http://$CIP:8080/hello.txt?to=clusterip"
in_pod b curl -sS -o /dev/null --max-time 5 "http://$C:8080/hello.txt?to=old-c"
in_pod b curl -sS -o /dev/null --max-time 5 "http://$NODE_IP:8080/hello.txt?to=node"
entries_wait "$OUT" 4 10
ends() { # ends QUERY-SUBSTRING: "src: pod ns service node name | dst: ..." of the entry
	jq -r --arg q "$1" 'select(.request.url | contains($q)) |
		"src: \(.src.pod) \(.src.namespace) \(.src.service) \(.src.node) \(.src.name) |" +
		" dst: \(.dst.pod) \(.dst.namespace) \(.dst.service) \(.dst.node) \(.dst.name)"' "$OUT" |
		sort -u
}
is "$(ends to=pod)" \
	"src: client-b shop clients $NODE_NAME client-b | dst: web-a shop web $NODE_NAME web-a" \
	"pod to pod: pod, namespace, service, node and name for both ends" || entries_diag "$OUT"
is "$(ends to=clusterip)" \
	"src: client-b shop clients $NODE_NAME client-b | dst: null shop web null web" \
	"to the cluster IP: the server named by its Service (name = service, no pod)" ||
	entries_diag "$OUT"
is "$(jq -r 'select(.request.url | contains("to=clusterip")) | .dst.ip' "$OUT")" "$CIP" \
	"... and its ip is the cluster IP"
is "$(ends to=old-c)" \
	"src: client-b shop clients $NODE_NAME client-b | dst: old-c shop legacy $NODE_NAME old-c" \
	"old-c named with its service legacy" || entries_diag "$OUT"

# The node's own address (its Node's InternalIP) names the node: node and name, no pod,
# namespace or service.
is "$(ends to=node)" \
	"src: client-b shop clients $NODE_NAME client-b | dst: null null null $NODE_NAME $NODE_NAME" \
	"to the node's InternalIP: the node named (node and name)" || entries_diag "$OUT"

# A request to old-c that waits for its answer; then old-c deleted and its IP given to new-c,
# of another service. The entry is made when the client gives up, after all that.
pod_bg b "$T/curl-silent.log" curl -sS -o /dev/null --max-time 60 "http://$C:8081/pending?to=silent"
CURL_PID=$BG_PID
wait_for_line "$T/silent.log" got 10
check "the silent server got the request" grep -q got "$T/silent.log"
kc -n shop delete endpointslice legacy-1 >/dev/null
kc -n shop delete pod old-c --grace-period=0 --force >/dev/null 2>&1
wait_for_line "$T/floe.log" 'pod shop/old-c is gone' 10
check "floe saw old-c go" grep -q 'pod shop/old-c is gone' "$T/floe.log"
# The runtime tears old-c's sandbox down: its netns and veth go (its silent server, not yet
# exited, keeps the old netns alive without a link). new-c gets a sandbox of its own with the
# same IP, as a real pod would: never old-c's netns. (Given old-c's netns, new-c inherited the
# silent server's socket: it acknowledged the client's FIN and the connection stayed
# half-open, so its entry waited, rightly, for the server's answer or the connection's end.)
ip netns del "$(pod_ns c)" && on_node ip link del v-c &&
	pod_add c2 $C && k8s_route c2 || { not_ok "new-c's sandbox"; done_testing; }
pod_bg c2 "$T/httpd-c2.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	wait_tcp_listen c2 8080 10 || { not_ok "HTTP server in new-c"; done_testing; }
api_service shop fresh && api_slice shop fresh-1 fresh $C new-c "$NODE_NAME"
api_pod shop new-c "$NODE_NAME" && api_status shop new-c Running $C
wait_for_line "$T/floe.log" 'tapping new pod shop/new-c' 10
check "floe taps new-c, on old-c's IP" grep -q 'tapping new pod shop/new-c' "$T/floe.log"
# b still has old-c's MAC for the IP (a pod wired to a bridge announces itself: gratuitous ARP).
in_pod b ip neigh flush all
in_pod b curl -sS -o /dev/null --max-time 5 "http://$C:8080/hello.txt?to=new-c"
# The client gives up: its FIN reaches new-c, which knows no such connection and resets it;
# the entry is made now, while floe runs, without response.
bg_stop "$CURL_PID" >/dev/null
silent_entry() { jq -e 'select(.request.url | contains("to=silent"))' "$OUT" >/dev/null 2>&1; }
for _ in $(seq 1 100); do silent_entry && break; sleep 0.1; done
is "$(ends to=new-c)" \
	"src: client-b shop clients $NODE_NAME client-b | dst: new-c shop fresh $NODE_NAME new-c" \
	"new-c's entry: new-c and its service fresh" || entries_diag "$OUT"
is "$(ends to=silent)" \
	"src: client-b shop clients $NODE_NAME client-b | dst: old-c shop legacy $NODE_NAME old-c" \
	"the request made while old-c lived, its entry made after old-c went and new-c took its IP: old-c and legacy" ||
	entries_diag "$OUT"
is "$(jq -r 'select(.request.url | contains("to=silent")) | "\(.missing) \(.missing_reason)"' "$OUT")" \
	"response connection_reset" "... an entry without response, made when new-c reset the connection (floe still running)"

# A Service made mid-run names the entries from then on.
api_service shop web-v2 && api_slice shop web-v2-1 web-v2 $A web-a "$NODE_NAME"
kc -n shop delete endpointslice web-1 >/dev/null
deadline=$(($(date +%s) + 10))
while [ "$(date +%s)" -lt "$deadline" ]; do
	in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?to=v2-$(date +%s%N)"
	jq -e 'select(.request.url | contains("to=v2-")) | select(.dst.service == "web-v2")' \
		"$OUT" >/dev/null 2>&1 && break
	sleep 0.2
done
check "a Service made mid-run (and web's slice deleted) names web-a's later entries web-v2" \
	jq -e 'select(.request.url | contains("to=v2-")) | select(.dst.service == "web-v2")' "$OUT"
check_not "no permission error (the ClusterRole is enough)" grep -qi 'forbidden\|HTTP 403' "$T/floe.log" ||
	diag "$(grep -i 'kubernetes:' "$T/floe.log")"
floe_stop
is "$?" 0 "floe exits 0"

# A role without endpointslices: floe says what it needs and stops.
kc apply -f - >/dev/null <<'EOF'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "floe-partial"},
 "rules": [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["list", "watch"]}]}
EOF
PARTIAL=$(bash "$CLUSTER" sa-kubeconfig partial 2>>"$T/sa.err" | tail -n 1)
kc delete clusterrolebinding floe:floe:partial >/dev/null
kc create clusterrolebinding floe-partial --clusterrole=floe-partial \
	--serviceaccount=floe:partial >/dev/null
on_node "$FLOE" tap --kubeconfig "$PARTIAL" --node "$NODE_NAME" -n shop --json --no-hub \
	--store "$T/store2" --duration 5 >/dev/null 2>"$T/partial.err"
is "$?" 1 "without list on endpointslices, floe tap --json exits 1"
diag "its message: $(grep floe: "$T/partial.err" | head -n 3)"
check "... and says which permission it needs" \
	grep -qE 'cannot list endpointslices .*HTTP 403: .*\(floe needs list and watch on endpointslices: manifests/rbac.yaml\)' \
	"$T/partial.err"
on_node "$FLOE" tap --kubeconfig "$PARTIAL" --node "$NODE_NAME" -n shop --dryrun \
	>/dev/null 2>"$T/partial-dry.err"
is "$?" 0 "--dryrun (no entries, no names) needs pods only" || diag "$(cat "$T/partial-dry.err")"
done_testing
