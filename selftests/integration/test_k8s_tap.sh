#!/usr/bin/env bash
# Integration: floe tap in Kubernetes mode against a real kube-apiserver (selftests/k8s/cluster.sh).
# Network-namespace pods (pods.sh) stand in for the containers; the test writes the Pods a kubelet
# would (spec.nodeName = this test's node, status Running with the netns pod's IP through the
# status subresource) and routes each pod IP to its veth in the node netns, as a CNI plugin does.
# floe runs in the node netns with floe's own service account (manifests/rbac.yaml) and checks:
# --dryrun lists exactly the pods in scope with the right host interface (not Pending, Succeeded,
# other nodes, other namespaces; host-network pods shown as such); client certificates inline
# (*-data) and in files, bearer tokens inline and from a file, in-cluster mode; traffic between two pods becomes
# entries named with the API's pod names and namespaces; a Pod made Running mid-run is tapped
# within a second of its status write (latency printed); a Pod marked for deletion and a Pod
# deleted stop being tapped (their tc filters go); pods out of scope are never hooked; a service
# account without the ClusterRole's binding gets a clear error. Faults: the API server killed
# and restarted, 410 Gone after etcd compaction, the token file rotated (a refused token, then a good one).
# Skipped when the cluster's binaries are not built (make k8s-deps).
# Usage (root, from the repo root): bash selftests/integration/test_k8s_tap.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
CLUSTER=$K8S_DIR/cluster.sh
k8s_test_init "floe tap against a real API server"
check "the node netns reaches the API server through the relay" \
	on_node curl -sf --cacert "$PKI/ca.crt" -o /dev/null "$API/readyz"

# ---------------------------------------------------------------- pods
NODE_NAME=node-$$
A=10.213.9.11 B=10.213.9.12 C=10.213.9.13 D=10.213.9.14 L=10.213.9.15 G=10.213.9.16
R=10.213.9.17
pod_add a $A && pod_add b $B && pod_add c $C && pod_add d $D && pod_add l $L && pod_add g $G &&
	pod_add r $R || { not_ok "create network-namespace pods"; done_testing; }
# As a CNI plugin that wires one veth per pod: a host route to each pod IP through its veth.
for p in a b c d l g; do
	k8s_route $p || { not_ok "route to pod $p"; done_testing; }
done
# r's CNI plugin is late: neither its address nor its route yet (floe would find its veth
# through the namespace holding the address, docs/kubernetes.md "The host interface").
in_pod r ip -4 addr flush dev eth0

kc create namespace shop >/dev/null && kc create namespace other >/dev/null
for ns in shop other; do kc -n "$ns" create serviceaccount default >/dev/null; done

api_pod shop web-a "$NODE_NAME" && api_status shop web-a Running $A
api_pod shop client-b "$NODE_NAME" && api_status shop client-b Running $B
api_pod other c "$NODE_NAME" && api_status other c Running $C
api_pod shop d-elsewhere node-other && api_status shop d-elsewhere Running $D
api_pod shop pending "$NODE_NAME"
api_pod shop done-g "$NODE_NAME" && api_status shop done-g Succeeded $G
api_pod shop hostnet "$NODE_NAME" '"hostNetwork": true,' && api_status shop hostnet Running 10.213.9.1
is "$(kc get pods -A --no-headers | wc -l)" 7 "seven Pods in the API"

SA=$(bash "$CLUSTER" sa-kubeconfig floe-agent 2>"$T/sa.err" | tail -n 1)
[ -f "$SA" ] || { not_ok "a kubeconfig of floe's service account"; diag "$(cat "$T/sa.err")"; done_testing; }

# ---------------------------------------------------------------- --dryrun
dry() { on_node "$FLOE" tap --dryrun "$@" 2>"$T/dry.err"; }
# listed OUT NS/NAME IP IF: a line "NS/NAME NODE IP IF"
listed() {
	awk -v pod="$2" -v node="$NODE_NAME" -v ip="$3" -v ifc="$4" \
		'$1 == pod && $2 == node && $3 == ip && $4 == ifc { f = 1 } END { exit !f }' <<<"$1"
}
out=$(dry --kubeconfig "$SA" --node "$NODE_NAME" -n shop)
is "$?" 0 "dryrun (service account, token file) exits 0" || diag "$(cat "$T/dry.err")"
diag "floe tap --kubeconfig SA --node $NODE_NAME -n shop --dryrun:" "$out"
is "$(head -n 1 <<<"$out" | awk '{print $1, $2, $3, $4}')" "POD NODE ADDRESSES INTERFACE" \
	"dryrun: the header first"
check "dryrun lists shop/web-a, its IP and host interface v-a" listed "$out" shop/web-a $A v-a
check "dryrun lists shop/client-b with v-b" listed "$out" shop/client-b $B v-b
check "dryrun lists the host-network pod as such" \
	grep -qE '^shop/hostnet +'"$NODE_NAME"' +10\.213\.9\.1 +\(host network\)$' <<<"$out"
is "$(tail -n +2 <<<"$out" | awk '{print $1}' | sort | tr '\n' ' ')" \
	"shop/client-b shop/hostnet shop/web-a " \
	"dryrun: exactly those (not Pending, not Succeeded, not another node's, not namespace other)"

out=$(dry --kubeconfig "$SA" --node "$NODE_NAME" -A 'web|^c$')
is "$(tail -n +2 <<<"$out" | awk '{print $1 "=" $4}' | sort | tr '\n' ' ')" \
	"other/c=v-c shop/web-a=v-a " "dryrun -A with a POD REGEX (on the pod's own name)"
out=$(dry --kubeconfig "$SA" --all-nodes -n shop 'elsewhere')
is "$(tail -n +2 <<<"$out" | awk '{print $1, $2}')" "shop/d-elsewhere node-other" \
	"dryrun --all-nodes: another node's pod too"
out=$(NODE_NAME=$NODE_NAME dry --kubeconfig "$SA" -n other)
is "$(tail -n +2 <<<"$out" | awk '{print $1}')" "other/c" "the node name from \$NODE_NAME"
# The pod table's bound: four pods of the node are Running with an IP; two are followed.
out=$(dry --kubeconfig "$SA" --node "$NODE_NAME" -A --max-pods 2)
is "$(tail -n +2 <<<"$out" | wc -l)" 2 "--max-pods 2: two pods followed"
check "... and the others said: 2 pods past --max-pods 2 not followed" \
	grep -q 'kubernetes: 2 pods past --max-pods 2 not followed' "$T/dry.err" ||
	diag "$(cat "$T/dry.err")"

# Credentials: the admin's client certificate from files, then inline (*-data), and a bearer
# token inline.
out=$(dry --kubeconfig "$ADMIN" --node "$NODE_NAME" -n shop | tail -n +2 | awk '{print $1}' | sort |
	tr '\n' ' ')
is "$out" "shop/client-b shop/hostnet shop/web-a " "client certificate and key from files"
b64() { base64 -w0 "$1"; }
cat >"$T/inline.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$API", certificate-authority-data: $(b64 "$PKI/ca.crt")}
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- {name: x, context: {cluster: c, user: admin}}
current-context: x
EOF
out=$(dry --kubeconfig "$T/inline.kubeconfig" --node "$NODE_NAME" -n other | tail -n +2)
is "$(awk '{print $1, $4}' <<<"$out")" "other/c v-c" "CA, client certificate and key inline (*-data)" ||
	diag "$(cat "$T/dry.err")"
sed -e "s|^    client-certificate-data:.*|    token: $(cat "$(dirname "$SA")/token")|" \
	-e '/client-key-data/d' "$T/inline.kubeconfig" >"$T/token.kubeconfig"
out=$(dry --kubeconfig "$T/token.kubeconfig" --node "$NODE_NAME" -n other | tail -n +2)
is "$(awk '{print $1}' <<<"$out")" "other/c" "a bearer token inline" || diag "$(cat "$T/dry.err")"

# In-cluster: no flag; KUBERNETES_SERVICE_HOST/PORT set and the service account's files where a pod
# has them. A private mount namespace with a tmpfs on /run gives floe that path without touching
# the host's /run.
out=$(KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$PORT NODE_NAME=$NODE_NAME \
	on_node unshare -m sh -c 'mount -t tmpfs floe-sa /run &&
		d=/run/secrets/kubernetes.io/serviceaccount && mkdir -p "$d" &&
		cp "$1/ca.crt" "$1/token" "$1/namespace" "$d/" && exec "$2" tap --dryrun -n other' \
	sh "$(dirname "$SA")" "$FLOE" 2>"$T/dry.err")
is "$(tail -n +2 <<<"$out" | awk '{print $1, $2, $4}')" "other/c $NODE_NAME v-c" \
	"in-cluster: the service account's token and CA found without a flag" ||
	diag "$(cat "$T/dry.err")"

# A service account without the binding to the ClusterRole floe: a clear error, exit 1.
kc -n floe create serviceaccount nobody >/dev/null
sed -e "s|^    token:.*|    token: $(kc -n floe create token nobody)|" "$T/token.kubeconfig" \
	>"$T/nobody.kubeconfig"
dry --kubeconfig "$T/nobody.kubeconfig" --node "$NODE_NAME" >/dev/null
is "$?" 1 "without the RBAC binding: exit 1"
diag "its message: $(cat "$T/dry.err")"
check "without the RBAC binding: the message says 403, the user, and the role to bind" \
	grep -qE 'HTTP 403: pods is forbidden: User "system:serviceaccount:floe:nobody" cannot list .*manifests/rbac.yaml' \
	"$T/dry.err"
sed -e 's|^    token:.*|    exec: {command: get-token, apiVersion: client.authentication.k8s.io/v1}|' \
	"$T/token.kubeconfig" >"$T/exec.kubeconfig"
dry --kubeconfig "$T/exec.kubeconfig" --node "$NODE_NAME" >/dev/null
check "an exec plugin is refused with a clear message" \
	grep -q 'exec authentication is not supported by floe' "$T/dry.err" || diag "$(cat "$T/dry.err")"

# ---------------------------------------------------------------- tapping
pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	wait_tcp_listen a 8080 10 || { not_ok "HTTP server in a"; done_testing; }
echo hello >"$T/hello.txt"
OUT=$T/entries.json
if ! floe_start_json "$OUT" "$T/floe.log" --kubeconfig "$SA" --node "$NODE_NAME" -n shop \
	--store "$T/store" --stats-json "$T/stats.json"; then
	not_ok "floe tap --kubeconfig starts"
	done_testing
fi
diag "$(grep '^floe:' "$T/floe.log")"
check "floe taps shop/client-b and shop/web-a" \
	grep -qE '^floe: tapping 2 pods: shop/(client-b, shop/web-a|web-a, shop/client-b);' "$T/floe.log"
check "it says the host-network pod is not tapped, and why" \
	grep -qF 'pod shop/hostnet (10.213.9.1): host network' "$T/floe.log"
is "$(floe_filters v-a v-b | grep -c handle)" 4 "tc filters on v-a and v-b (ingress, egress)"
is "$(floe_filters v-c v-d v-l v-g | grep -c handle)" 0 \
	"no filter on other/c, another node's pod, a Pending and a Succeeded pod"

for i in 1 2 3; do
	in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?n=$i"
done
entries_wait "$OUT" 3 10
is "$(jq -r 'select(.request.url | test("hello.txt")) | [.src.pod, .src.namespace, .dst.pod,
	.dst.namespace] | join(" ")' "$OUT" | sort -u)" "client-b shop web-a shop" \
	"entries carry the API's pod names and namespaces for both ends" || entries_diag "$OUT"

# A pod made Running mid-run: tapped within a second of its status write.
api_pod shop late-l "$NODE_NAME"
t0=$(date +%s%N)
api_status shop late-l Running $L
t1=$(date +%s%N)
seen=""
while [ $(($(date +%s%N) - t0)) -lt 5000000000 ]; do
	if grep -q 'tapping new pod shop/late-l$' "$T/floe.log"; then
		seen=$(date +%s%N)
		break
	fi
	sleep 0.01
done
if [ -n "$seen" ]; then
	lat_ms=$(((seen - t0) / 1000000))
	diag "latency from the status write to floe's 'tapping new pod' line: $lat_ms ms" \
		"(the write itself took $(((t1 - t0) / 1000000)) ms; polled every 10 ms)"
	is_num "$lat_ms" -le 1000 "a pod made Running mid-run is tapped within 1 s ($lat_ms ms)"
else
	not_ok "a pod made Running mid-run is tapped"
	diag "$(cat "$T/floe.log")"
fi
is "$(floe_filters v-l | grep -c handle)" 2 "its veth has floe's filters"

# A pod Running before its CNI plugin wired it (r has no address nor route yet): said, not
# tapped; the address and route added, floe sees the route event and taps it within a second.
api_pod shop late-route "$NODE_NAME" && api_status shop late-route Running $R
wait_for_line "$T/floe.log" "pod shop/late-route \\($R\\): no host interface" 5
check "a pod without a route yet: said, not tapped" \
	grep -q "pod shop/late-route ($R): no host interface routes to its IP: not tapped" "$T/floe.log"
t0=$(date +%s%N)
in_pod r ip addr add $R/24 dev eth0 && k8s_route r
wait_for_line "$T/floe.log" 'tapping new pod shop/late-route$' 5
lat_ms=$((($(date +%s%N) - t0) / 1000000))
check "its route added: tapped (rtnetlink route event)" \
	grep -q 'tapping new pod shop/late-route$' "$T/floe.log"
is_num "$lat_ms" -le 1000 "... within 1 s of the route ($lat_ms ms; the safety-net look is every 10 s)"
is "$(floe_filters v-r | grep -c handle)" 2 "its veth has floe's filters"

# Marked for deletion (no kubelet confirms it: the Pod stays, with a deletionTimestamp), then a
# Pod deleted outright: both stop being tapped.
kc -n shop delete pod late-l --wait=false >/dev/null
wait_for_line "$T/floe.log" 'pod shop/late-l is gone' 5
check "a Pod marked for deletion stops being tapped" grep -q 'pod shop/late-l is gone' "$T/floe.log"
is "$(floe_filters v-l | grep -c handle)" 0 "its tc filters are gone"
check "the Pod is still in the API (deletionTimestamp set)" \
	test -n "$(kc -n shop get pod late-l -o jsonpath='{.metadata.deletionTimestamp}')"
kc -n shop delete pod client-b --grace-period=0 --force >/dev/null 2>&1
wait_for_line "$T/floe.log" 'pod shop/client-b is gone' 5
check "a deleted Pod stops being tapped" grep -q 'pod shop/client-b is gone' "$T/floe.log"
is "$(floe_filters v-b | grep -c handle)" 0 "its tc filters are gone"
api_status other c Running $C
api_pod other c2 "$NODE_NAME" && api_status other c2 Running $G
# No event is expected for those: a pod in scope made after them shows the watch went past them.
api_pod shop web-2 "$NODE_NAME" && api_status shop web-2 Running $D
wait_for_line "$T/floe.log" 'tapping new pod shop/web-2' 5
check "a pod in scope made after them is tapped" grep -q 'tapping new pod shop/web-2' "$T/floe.log"
check_not "pods of another namespace made mid-run are not tapped" grep -q 'other/c' "$T/floe.log"
is "$(floe_filters v-c v-g | grep -c handle)" 0 "no filter on them"
check "floe still runs" kill -0 "$FLOE_PID"
check_not "no error from the pod source so far" grep -qi 'kubernetes:' "$T/floe.log" ||
	diag "$(grep -i kubernetes: "$T/floe.log")"

# ---------------------------------------------------------------- faults
# The API server killed: floe keeps tapping what it knew, and catches up once it is back.
bash "$CLUSTER" kill-apiserver
wait_for_line "$T/floe.log" 'kubernetes: watch' 10
check "floe says the watch failed" grep -q 'kubernetes: watch' "$T/floe.log"
is "$(floe_filters v-a | grep -c handle)" 2 "while the API server is down, web-a stays tapped"
check "the API server restarted" bash "$CLUSTER" start-apiserver
api_pod shop after-restart "$NODE_NAME" && api_status shop after-restart Running $L
wait_for_line "$T/floe.log" 'tapping new pod shop/after-restart' 40
check "after the restart, a new pod is tapped (floe caught up)" \
	grep -q 'tapping new pod shop/after-restart' "$T/floe.log"
check "floe said the API server answers again" grep -q 'API server answers again' "$T/floe.log"

# 410 Gone: floe cut off from the API server (the relay stopped, its connections too) while a pod
# is deleted and one is made, then etcd compacted past floe's resourceVersion. Reconnected, its
# watch gets 410 Gone; floe lists again, and the list's differences are the events.
relay_cut
kc -n shop delete pod web-2 --grace-period=0 --force >/dev/null 2>&1
api_pod shop while-away "$NODE_NAME" && api_status shop while-away Running $B
rev=$(bash "$CLUSTER" compact)
diag "etcd compacted at revision $rev while floe was cut off"
relay_up
wait_for_line "$T/floe.log" 'tapping new pod shop/while-away' 40
check "after 410 Gone floe lists again" grep -q '410 Gone): listing the pods again\|410 Gone: listing' \
	"$T/floe.log"
check "the pod made while floe was cut off is tapped" \
	grep -q 'tapping new pod shop/while-away' "$T/floe.log"
check "the pod deleted while floe was cut off is untapped" \
	grep -q 'pod shop/web-2 is gone' "$T/floe.log"

# The token file re-read: a token that is refused written over it, floe cut off and reconnected:
# its requests get 401; then a good token rotated onto the file (cluster.sh rotate-token): floe
# takes it at its next try and catches up, without a restart.
relay_cut
printf 'not-a-valid-token' >"$(dirname "$SA")/token"
api_pod shop after-rotation "$NODE_NAME" && api_status shop after-rotation Running $G
relay_up
wait_for_line "$T/floe.log" 'HTTP 401' 20
check "with a refused token in the file, floe's next request gets 401 (it read the file)" \
	grep -q 'HTTP 401' "$T/floe.log"
check_not "... and it did not tap the new pod" grep -q 'tapping new pod shop/after-rotation' \
	"$T/floe.log"
check "a good token rotated onto the file" bash "$CLUSTER" rotate-token floe-agent
wait_for_line "$T/floe.log" 'tapping new pod shop/after-rotation' 40
check "floe reads the rotated token and catches up" \
	grep -q 'tapping new pod shop/after-rotation' "$T/floe.log"
diag "$(grep -i 'kubernetes:' "$T/floe.log" | sort | uniq -c | head -n 10)"

floe_stop
is "$?" 0 "floe exits 0"
is "$(floe_filters v-a v-b v-c v-d v-l v-g v-r | grep -c handle)" 0 "no filter left after exit"
done_testing
