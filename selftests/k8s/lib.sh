# shellcheck shell=bash
# Shared by selftests/k8s/build.sh and cluster.sh (sourced): where the Go toolchain, the Go
# caches and the built binaries are. The versions are read from the build modules' go.mod, so
# that the cache key follows the pins.
#
#   FLOE_CACHE   the machine-wide cache (default /var/cache/floe; ~/.cache/floe when that is
#                not writable and holds no build)
#   FLOE_K8S_BIN, FLOE_ETCD_BIN   directories of binaries built elsewhere (then used as they are)

K8S_DIR=${K8S_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

# go_mod_version GO_MOD MODULE: the version GO_MOD requires of MODULE.
go_mod_version() {
	awk -v m="$2" '$1 == m && $2 ~ /^v[0-9]/ { print $2; exit }' "$1"
}

K8S_VERSION=$(go_mod_version "$K8S_DIR/build/kubernetes/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(go_mod_version "$K8S_DIR/build/etcd/go.mod" go.etcd.io/etcd/server/v3)
# A user who cannot write /var/cache/floe uses the binaries built there, or builds in ~/.cache.
if [ -z "${FLOE_CACHE:-}" ]; then
	FLOE_CACHE=/var/cache/floe
	if ! { mkdir -p "$FLOE_CACHE" 2>/dev/null && [ -w "$FLOE_CACHE" ]; } &&
		! [ -x "$FLOE_CACHE/k8s/kubernetes-$K8S_VERSION/kube-apiserver" ]; then
		FLOE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/floe
	fi
fi
K8S_BIN=${FLOE_K8S_BIN:-$FLOE_CACHE/k8s/kubernetes-$K8S_VERSION}
ETCD_BIN=${FLOE_ETCD_BIN:-$FLOE_CACHE/k8s/etcd-$ETCD_VERSION}

# The machine's Go, its caches beside the binaries (shared by every clone: downloaded and
# compiled once), writable module files (so that the cache can be removed with rm -rf), no VCS
# stamp (a clone owned by another user would make git refuse, failing the build), and no
# silent toolchain download: the go.mod files name a Go this machine has.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi
export GOMODCACHE=$FLOE_CACHE/go/mod
export GOCACHE=$FLOE_CACHE/go/build
export GOFLAGS="-modcacherw -buildvcs=false"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# ---------------------------------------------------------------- for the integration tests
# The setup the Kubernetes integration tests share (sourced after selftests/lib/itest.sh and
# entries.sh; build.sh and cluster.sh only define these):
#
#   k8s_test_init DESC   skip DESC (and end the test) when the cluster's binaries or socat are
#                        missing; else the cluster up in the run's temp dir (trap: down, floe
#                        and pods cleaned), the relay that gives the node netns the API
#                        server's 127.0.0.1:PORT, and ADMIN (admin kubeconfig), PKI, PORT, API
#   kc ARGS...           the built kubectl with the admin kubeconfig
#   relay_up / relay_cut the node side of the relay started; stopped with its connections
#   k8s_route POD        the host route to the pod's IP through its veth, as a CNI plugin adds
#   api_pod NS NAME NODE [SPEC-EXTRA]   a Pod bound to NODE, as the scheduler leaves it
#   api_status NS NAME PHASE [IP]       the status a kubelet writes (status subresource)
#   api_service NS NAME                 a ClusterIP Service without selector
#   api_slice NS NAME SERVICE IP POD NODE   an EndpointSlice of SERVICE with one endpoint

k8s_test_init() {
	local desc=$1 bin
	for bin in "$K8S_BIN/kube-apiserver" "$K8S_BIN/kubectl" "$ETCD_BIN/etcd"; do
		if [ ! -x "$bin" ]; then
			skip "$desc" "$bin is not built (make k8s-deps)"
			done_testing
		fi
	done
	need_cmd "$desc" socat || done_testing
	T=$PODS_TMP
	export FLOE_K8S_STATE=$T/cluster
	trap k8s_cleanup EXIT
	ADMIN=$(bash "$K8S_DIR/cluster.sh" up 2>"$T/up.err" | tail -n 1)
	if [ -z "$ADMIN" ] || [ ! -f "$ADMIN" ]; then
		not_ok "cluster.sh up"
		diag "$(tail -n 20 "$T/up.err")"
		done_testing
	fi
	ok "the test API server is up"
	PKI=$FLOE_K8S_STATE/pki
	PORT=$(cat "$FLOE_K8S_STATE/apiserver.port")
	API=https://127.0.0.1:$PORT
	# The API server listens on the host's loopback; floe runs in the node netns. A relay
	# through a Unix socket (which no netns separates) gives the node netns the same
	# 127.0.0.1:PORT: floe's TLS passes through it unchanged (the certificate names 127.0.0.1).
	socat "UNIX-LISTEN:$T/api.sock,fork" "TCP:127.0.0.1:$PORT" </dev/null \
		>"$T/relay-host.log" 2>&1 &
	bg_track $!
	pods_init
	for _ in $(seq 1 100); do [ -S "$T/api.sock" ] && break; sleep 0.05; done
	relay_up
}

k8s_cleanup() {
	floe_cleanup
	bash "$K8S_DIR/cluster.sh" down 2>/dev/null
	pods_cleanup
}

kc() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN" "$@"; }

relay_up() {
	node_bg "$T/relay-node.log" socat "TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr" \
		"UNIX-CONNECT:$T/api.sock"
	RELAY_PID=$BG_PID
	for _ in $(seq 1 100); do
		on_node ss -Htln "sport = :$PORT" | grep -q . && break
		sleep 0.05
	done
}

relay_cut() {
	local p
	for p in $(pgrep -P "$RELAY_PID") "$RELAY_PID"; do kill "$p" 2>/dev/null; done
	wait "$RELAY_PID" 2>/dev/null
}

k8s_route() { on_node ip route add "$(pod_ip "$1")/32" dev "v-$1"; }

api_pod() {
	kc apply -f - >/dev/null <<EOT
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "$2", "namespace": "$1"},
 "spec": {"nodeName": "$3", "automountServiceAccountToken": false, ${4:-}
          "containers": [{"name": "c", "image": "registry.invalid/c:1"}]}}
EOT
}

# curl with the admin's certificate: no process start-up of kubectl inside a measured time.
api_status() {
	local ips=""
	[ -n "${4:-}" ] && ips=", \"podIP\": \"$4\", \"podIPs\": [{\"ip\": \"$4\"}]"
	curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' \
		-d "{\"status\": {\"phase\": \"$3\", \"hostIP\": \"10.213.9.1\"$ips}}" \
		"$API/api/v1/namespaces/$1/pods/$2/status" -o /dev/null
}

# The API server allocates the cluster IP; no selector: the test writes the EndpointSlices, as
# the EndpointSlice controller would.
api_service() { kc -n "$1" create service clusterip "$2" --tcp=8080:8080 >/dev/null; }

api_slice() {
	kc apply -f - >/dev/null <<EOT
{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
 "metadata": {"name": "$2", "namespace": "$1", "labels": {"kubernetes.io/service-name": "$3"}},
 "addressType": "IPv4", "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
 "endpoints": [{"addresses": ["$4"], "conditions": {"ready": true}, "nodeName": "$6",
                "targetRef": {"kind": "Pod", "name": "$5", "namespace": "$1"}}]}
EOT
}
