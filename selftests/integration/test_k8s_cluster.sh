#!/usr/bin/env bash
# The test cluster itself (selftests/k8s/cluster.sh): a real kube-apiserver on etcd, with TLS,
# RBAC and a service account issuer. Brings it up, writes what a kubelet and the controllers
# would (a Node, a Pod on it and its status through the status subresource, a Service, its
# EndpointSlice) and reads them back; checks that floe's service account (manifests/rbac.yaml)
# can list and watch but not write; forces a 410 Gone on a watch by compacting etcd; kills and
# restarts the API server; rotates the token on disk; tears everything down.
# Skipped when the binaries are not built (make k8s-deps builds them: too long for this test).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
test_timeout "${ITEST_TIMEOUT:-280}" "$0" "$@"
source "$HERE/../lib/assert.sh"
set -o pipefail
quiet() { "$@" >/dev/null; }

K8S=$HERE/../k8s
CLUSTER=$K8S/cluster.sh
# shellcheck source=selftests/k8s/lib.sh
source "$K8S/lib.sh"
KUBECTL=$K8S_BIN/kubectl

for bin in "$K8S_BIN/kube-apiserver" "$K8S_BIN/kubectl" "$ETCD_BIN/etcd" "$ETCD_BIN/etcdctl"; do
	if [ ! -x "$bin" ]; then
		skip "test cluster" "$bin is not built (make k8s-deps)"
		done_testing
	fi
done

pods_tmp
export FLOE_K8S_STATE=$PODS_TMP/cluster
cleanup() {
	bash "$CLUSTER" down 2>/dev/null
	pods_cleanup
}
trap cleanup EXIT
trap 'diag "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- up
t0=$SECONDS
ADMIN=$(bash "$CLUSTER" up 2>"$PODS_TMP/up.err" | tail -n 1)
if [ -z "$ADMIN" ] || [ ! -f "$ADMIN" ]; then
	not_ok "cluster.sh up prints an admin kubeconfig"
	diag "$(tail -n 20 "$PODS_TMP/up.err")"
	diag "$(tail -n 30 "$FLOE_K8S_STATE/logs/apiserver.log" 2>/dev/null)"
	done_testing
fi
ok "cluster.sh up: ready in $((SECONDS - t0)) s, kubeconfig $ADMIN"
check "cluster.sh status: etcd and the API server run, /readyz ok" \
	quiet bash "$CLUSTER" status

PKI=$FLOE_K8S_STATE/pki
PORT=$(cat "$FLOE_K8S_STATE/apiserver.port")
API=https://127.0.0.1:$PORT
kc() { "$KUBECTL" --kubeconfig "$ADMIN" "$@"; }

ETCD_PORT=$(cat "$FLOE_K8S_STATE/etcd.port")
check_not "ports $PORT (API server), $ETCD_PORT (etcd): none of the host's services" \
	grep -qwE "5432|3306|6379|5672|1883|4222" <<<"$PORT $ETCD_PORT"
# Loopback only: nothing listens on the API server's port on another address.
is "$(ss -Htln "sport = :$PORT" | awk '{print $4}')" "127.0.0.1:$PORT" \
	"the API server listens on 127.0.0.1 only"

# TLS with the cluster's CA, and the version pinned in build/kubernetes/go.mod.
is "$(curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
	"$API/version" | jq -r .gitVersion)" "$K8S_VERSION" \
	"TLS with the cluster's CA; /version is $K8S_VERSION"
check_not "a client that does not trust the CA is refused" curl -sf "$API/version" -o /dev/null
# Authentication and RBAC: an anonymous client may read /readyz, not the API.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" "$API/api/v1/pods")
is "$code" 403 "RBAC: anonymous list of pods is 403 Forbidden"

# ------------------------------------------- objects, as the kubelet and the controllers write them
NODE_NAME=node-a
POD_IP=10.213.0.5
kc apply -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "$NODE_NAME"},
 "status": {"addresses": [{"type": "InternalIP", "address": "10.213.0.1"}]}}
EOF
kc create namespace shop >/dev/null
# The service account controller would create "default"; the admission of pods needs it.
kc -n shop create serviceaccount default >/dev/null
kc apply -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
 "spec": {"nodeName": "$NODE_NAME", "automountServiceAccountToken": false,
          "containers": [{"name": "web", "image": "registry.invalid/web:1",
                          "ports": [{"name": "http", "containerPort": 8080}]}]}}
EOF
kc -n shop patch pod web-1 --subresource=status --type=merge -p "{\"status\": {
	\"phase\": \"Running\", \"hostIP\": \"10.213.0.1\", \"podIP\": \"$POD_IP\",
	\"podIPs\": [{\"ip\": \"$POD_IP\"}],
	\"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}]}}" >/dev/null
kc apply -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
 "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
EOF
POD_UID=$(kc -n shop get pod web-1 -o jsonpath='{.metadata.uid}')
kc apply -f - >/dev/null <<EOF
{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
 "metadata": {"name": "web-x1", "namespace": "shop",
              "labels": {"kubernetes.io/service-name": "web"}},
 "addressType": "IPv4",
 "endpoints": [{"addresses": ["$POD_IP"], "conditions": {"ready": true}, "nodeName": "$NODE_NAME",
                "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-1",
                              "uid": "$POD_UID"}}],
 "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
EOF

pod=$(kc -n shop get pod web-1 -o json)
is "$(jq -r '[.spec.nodeName, .status.phase, .status.podIP, .status.podIPs[0].ip,
	(.status.conditions[] | select(.type == "Ready") | .status)] | join(" ")' <<<"$pod")" \
	"$NODE_NAME Running $POD_IP $POD_IP True" \
	"pod: spec.nodeName, and the status written through the status subresource"
svc=$(kc -n shop get service web -o json)
cluster_ip=$(jq -r .spec.clusterIP <<<"$svc")
check "service: a cluster IP allocated from 10.96.0.0/16 ($cluster_ip)" \
	grep -qE '^10\.96\.[0-9]+\.[0-9]+$' <<<"$cluster_ip"
is "$(jq -r '.spec.ports[0] | "\(.port) \(.targetPort)"' <<<"$svc")" "80 8080" "service: its port"
is "$(kc -n shop get endpointslices -l kubernetes.io/service-name=web -o json |
	jq -r '.items[] | .endpoints[0] as $e | [.metadata.name, $e.addresses[0], $e.nodeName,
	$e.targetRef.uid, (.ports[0].port | tostring)] | join(" ")')" \
	"web-x1 $POD_IP $NODE_NAME $POD_UID 8080" \
	"endpointslice: found by its service label, pointing at the pod"
is "$(kc get node "$NODE_NAME" -o jsonpath='{.status.addresses[0].address}')" 10.213.0.1 \
	"node: its status"

# ---------------------------------------------------------------- floe's service account
SA=$(bash "$CLUSTER" sa-kubeconfig floe-agent 2>"$PODS_TMP/sa.err" | tail -n 1)
if [ -z "$SA" ] || [ ! -f "$SA" ]; then
	not_ok "cluster.sh sa-kubeconfig writes a kubeconfig"
	diag "$(cat "$PODS_TMP/sa.err")"
	done_testing
fi
SA_DIR=$(dirname "$SA")
sa() { "$KUBECTL" --kubeconfig "$SA" "$@"; }
is "$(sa auth whoami -o jsonpath='{.status.userInfo.username}')" \
	system:serviceaccount:floe:floe-agent \
	"the service account kubeconfig authenticates as floe:floe-agent"
is "$(sa get pods -A -o json | jq -r '.items[] | "\(.metadata.namespace)/\(.metadata.name)"')" \
	shop/web-1 "service account: list pods in every namespace"
is "$(sa get services,endpointslices -n shop -o name | sort | tr '\n' ' ')" \
	"endpointslice.discovery.k8s.io/web-x1 service/web " \
	"service account: list services and endpointslices"
SA_USER='User "system:serviceaccount:floe:floe-agent"'
# Least privilege: floe lists and watches pods, services, endpointslices and nodes (their
# addresses name entries); it never reads one object by name, nor namespaces.
out=$(sa -n shop get pod web-1 -o name 2>&1)
check "service account: get of one pod by name is Forbidden (floe only lists and watches)" \
	grep -qF "pods \"web-1\" is forbidden: $SA_USER cannot get resource \"pods\"" <<<"$out" ||
	diag "$out"
is "$(sa get nodes -o name)" "node/$NODE_NAME" "service account: list nodes"
out=$(sa get namespaces -o name 2>&1)
check "service account: listing namespaces is Forbidden" \
	grep -qF "namespaces is forbidden: $SA_USER cannot list resource \"namespaces\"" <<<"$out" ||
	diag "$out"
out=$(sa -n shop run intruder --image=registry.invalid/x --restart=Never 2>&1)
check "service account: creating a pod is Forbidden" \
	grep -qF "pods is forbidden: $SA_USER cannot create resource \"pods\"" <<<"$out" ||
	diag "$out"
out=$(sa -n shop get secrets 2>&1)
check "service account: reading secrets is Forbidden" \
	grep -qF "secrets is forbidden: $SA_USER cannot list resource \"secrets\"" <<<"$out" ||
	diag "$out"
# The write itself, as a kubelet would send it (kubectl would stop at reading pods/status).
out=$(curl -s --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$SA_DIR/token")" \
	-X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Failed"}}' \
	"$API/api/v1/namespaces/shop/pods/web-1/status")
denied="$SA_USER cannot patch resource \"pods/status\""
is "$(jq -r '"\(.code) \(.reason)"' <<<"$out") $(jq -r .message <<<"$out" | grep -oF "$denied")" \
	"403 Forbidden $denied" "service account: writing a pod's status is 403 Forbidden"

# watch WHO RV FILE: a watch on the pods of shop from resourceVersion RV, as WHO (admin or sa),
# its events one JSON object per line in FILE; sets WATCH_PID.
watch_pods() {
	local auth=(--cert "$PKI/admin.crt" --key "$PKI/admin.key")
	[ "$1" = sa ] && auth=(-H "Authorization: Bearer $(cat "$SA_DIR/token")")
	curl -sN --cacert "$PKI/ca.crt" "${auth[@]}" -w '\nHTTP %{http_code}\n' \
		"$API/api/v1/namespaces/shop/pods?watch=1&resourceVersion=$2&timeoutSeconds=60" >"$3" &
	WATCH_PID=$!
	bg_track "$WATCH_PID"
}

list_rv=$(kc get --raw /api/v1/namespaces/shop/pods | jq -r .metadata.resourceVersion)
is_num "$list_rv" -gt 0 "the list of pods has a resourceVersion"
watch_pods sa "$list_rv" "$PODS_TMP/watch-sa"
kc -n shop label pod web-1 seen=1 >/dev/null
check "service account: a watch sees the pod change" \
	wait_for_line "$PODS_TMP/watch-sa" '"type":"MODIFIED".*"seen":"1"' 20 ||
	diag "$(cat "$PODS_TMP/watch-sa")"
bg_stop "$WATCH_PID"

# ---------------------------------------------------------------- 410 Gone after compaction
# A watch from list_rv works before the compaction (so that the 410 below is the compaction's).
kc -n shop label pod web-1 seen=2 --overwrite >/dev/null
watch_pods admin "$list_rv" "$PODS_TMP/watch-before"
check "a watch from an old resourceVersion replays its events before the compaction" \
	wait_for_line "$PODS_TMP/watch-before" '"type":"MODIFIED".*"seen":"2"' 20 ||
	diag "$(cat "$PODS_TMP/watch-before")"
bg_stop "$WATCH_PID"
rev=$(bash "$CLUSTER" compact)
is_num "$rev" -gt "$list_rv" "etcd compacted at revision $rev, after resourceVersion $list_rv"
watch_pods admin "$list_rv" "$PODS_TMP/watch-after"
wait_for_line "$PODS_TMP/watch-after" '^HTTP ' 20
# The 410 comes either as the response's status or as an ERROR event in the stream.
gone=$(grep -v '^HTTP ' "$PODS_TMP/watch-after" |
	jq -r 'select(.type == "ERROR" or .kind == "Status") | (.object // .) | "\(.code) \(.reason)"' \
	2>/dev/null | head -n 1)
is "$gone" "410 Expired" "after the compaction the same watch ends with 410 Gone (Expired)" ||
	diag "$(head -c 600 "$PODS_TMP/watch-after")"
diag "the watch's answer: $(grep '^HTTP ' "$PODS_TMP/watch-after"), $(grep -v '^HTTP ' \
	"$PODS_TMP/watch-after" | jq -c '{type, code: .object.code, message: .object.message}' \
	2>/dev/null | head -n 1)"
watch_pods admin "$rev" "$PODS_TMP/watch-new"
kc -n shop label pod web-1 seen=3 --overwrite >/dev/null
check "a watch from the compacted revision works" \
	wait_for_line "$PODS_TMP/watch-new" '"type":"MODIFIED".*"seen":"3"' 20
bg_stop "$WATCH_PID"

# ---------------------------------------------------------- the API server killed and restarted
check "the API server killed (SIGKILL)" bash "$CLUSTER" kill-apiserver
check_not "while it is down, kubectl gets no answer" kc get pods -n shop --request-timeout=3s
t0=$SECONDS
check "the API server restarted: /readyz ok again" bash "$CLUSTER" start-apiserver
diag "ready again in $((SECONDS - t0)) s"
is "$(kc -n shop get pod web-1 \
	-o jsonpath='{.metadata.uid} {.status.phase} {.metadata.labels.seen}')" \
	"$POD_UID Running 3" "after the restart: the same pod, its status and its last change"
is "$(sa get pods -n shop -o name)" pod/web-1 \
	"after the restart: the service account token is still valid"

# ---------------------------------------------------------------- the token rotated on disk
old_token=$(cat "$SA_DIR/token")
check "cluster.sh rotate-token" bash "$CLUSTER" rotate-token floe-agent
new_token=$(cat "$SA_DIR/token")
check "the token file holds a new token" test -n "$new_token" -a "$new_token" != "$old_token"
is "$(sa get pods -n shop -o name)" pod/web-1 "the kubeconfig reads the new token from its file"

# ---------------------------------------------------------------- down
pids="$(cat "$FLOE_K8S_STATE/etcd.pid") $(cat "$FLOE_K8S_STATE/apiserver.pid")"
check "cluster.sh down" bash "$CLUSTER" down
left=""
for p in $pids; do
	# A zombie left for its (sub)reaper has exited: only a process in another state counts.
	stat=$(cat "/proc/$p/stat" 2>/dev/null) && [ "$(cut -d' ' -f1 <<<"${stat##*) }")" != Z ] &&
		left="$left $p"
done
is "$left" "" "down: etcd and the API server are gone"
check_not "down: the state directory is removed" test -e "$FLOE_K8S_STATE"
done_testing
