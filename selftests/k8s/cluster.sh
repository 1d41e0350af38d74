#!/usr/bin/env bash
# A real Kubernetes API server for floe's tests: kube-apiserver (TLS, RBAC, a service account
# issuer) on etcd, both on loopback, built from their Go modules by build.sh. No kubelet, no
# controllers: tests write nodes, pods (and their status), services and EndpointSlices
# themselves, as those components would.
#
#   cluster.sh up                  build what is missing, start etcd and the API server, return
#                                  once /readyz answers ok; the last line on stdout is the path
#                                  of an admin kubeconfig (client certificate, system:masters)
#   cluster.sh down                stop the processes `up` started (by PID) and remove the state
#   cluster.sh status              what runs, and whether /readyz answers (exit 0 when ready)
#   cluster.sh sa-kubeconfig NAME [NAMESPACE]
#                                  namespace (default floe), service account NAME bound to the
#                                  ClusterRole floe (manifests/rbac.yaml), a bound token in a
#                                  file and a kubeconfig reading it; prints the kubeconfig path
#   cluster.sh rotate-token NAME [NAMESPACE]
#                                  a new token for NAME, written over its token file
#   cluster.sh stop-apiserver | kill-apiserver | start-apiserver | restart-apiserver
#                                  the API server only (etcd keeps the data): faults for tests;
#                                  stop sends SIGTERM, kill SIGKILL (a crash)
#   cluster.sh compact             compact etcd at its current revision (older resourceVersions
#                                  then get 410 Gone); prints the revision
#   cluster.sh kubectl ARGS...     the built kubectl with the admin kubeconfig
#
# Environment:
#   FLOE_K8S_STATE        the state directory (certificates, keys, etcd's data, logs, PID
#                         files, kubeconfigs); default /tmp/floe-k8s-<uid>. Parallel runs each
#                         name their own (the tests use one under their temp dir).
#   FLOE_K8S_WATCH_CACHE  1: keep the API server's watch cache (default 0: watches are served
#                         by etcd, so that an etcd compaction reaches the watchers: 410 Gone)
#   FLOE_CACHE            where the binaries are built (see lib.sh)
# Ports are picked free on 127.0.0.1 (never 5432 3306 6379 5672 1883 4222) and kept in the
# state directory.
set -euo pipefail

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$K8S_DIR/../.." && pwd)
# shellcheck source=selftests/k8s/lib.sh
source "$K8S_DIR/lib.sh"

STATE=${FLOE_K8S_STATE:-${TMPDIR:-/tmp}/floe-k8s-$(id -u)}
PKI=$STATE/pki
ADMIN_KUBECONFIG=$STATE/admin.kubeconfig
READY_TIMEOUT=${FLOE_K8S_READY_TIMEOUT:-180}
HOST_PORTS=" 5432 3306 6379 5672 1883 4222 "
# The service network exists only in the API server's allocator: nothing routes it.
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}
say() { echo "cluster.sh: $*" >&2; }

# ---------------------------------------------------------------- processes
# pid_of NAME: the PID in NAME's PID file when that process still runs and is ours (its
# command line names the state directory: a recycled PID is never taken for it).
pid_of() {
	local f=$STATE/$1.pid pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE/" || return 1
	echo "$pid"
}

# alive PID: the process exists and is not a zombie waiting for its parent.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# wait_gone PID TENTHS: until PID is gone, at most TENTHS tenths of a second.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

# stop NAME: SIGTERM, up to 30 s for it to exit, then SIGKILL.
stop() {
	local pid
	pid=$(pid_of "$1") || {
		rm -f "$STATE/$1.pid"
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" 300; then
		say "$1 (pid $pid) did not stop on SIGTERM: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 100 || say "$1 (pid $pid) is still there after SIGKILL"
	fi
	rm -f "$STATE/$1.pid"
}

# start NAME CMD...: run CMD in the background, its output in logs/NAME.log, its PID in
# NAME.pid.
start() {
	local name=$1
	shift
	mkdir -p "$STATE/logs"
	"$@" </dev/null >>"$STATE/logs/$name.log" 2>&1 &
	local pid=$! i
	echo "$pid" >"$STATE/$name.pid"
	# Until the child has exec'd CMD, /proc/PID/cmdline is this script's: pid_of would call the
	# server gone, wait_for gave up at once and the server was stopped before it wrote a line
	# (CI's "did not become ready" with an empty log, on a loaded machine). Wait for the exec.
	for ((i = 0; i < 100; i++)); do
		pid_of "$name" >/dev/null && break
		alive "$pid" || break
		sleep 0.05
	done
}

# ---------------------------------------------------------------- ports
port_busy() {
	[ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
}

# pick_port: a port below the ephemeral range (so clients' own ports never take it), free now,
# not one of the host's services, not one this run picked already.
PICKED=" "
pick_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000))
		[[ "$HOST_PORTS$PICKED" == *" $p "* ]] && continue
		port_busy "$p" && continue
		PICKED="$PICKED$p "
		echo "$p"
		return 0
	done
	die "no free port found"
}

# ---------------------------------------------------------------- certificates
# cert NAME SUBJECT EXT: a P-256 key and a certificate signed by the cluster's CA.
cert() {
	local name=$1 subj=$2 ext=$3
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 30 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" \
		2>/dev/null
	rm -f "$PKI/$name.csr"
}

make_pki() {
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$PKI/ca.key" -subj "/CN=floe-test-cluster-ca" -days 30 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$PKI/ca.crt" 2>/dev/null
	local names=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default
	names=$names,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
	cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$names"
	cert admin "/O=system:masters/CN=floe-test-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
	# The service account issuer's signing key (RSA: what every token verifier accepts).
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
	openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# kubeconfig FILE USER_LINES...: a kubeconfig for the API server with the given user fields.
write_kubeconfig() {
	local file=$1 user=$2
	shift 2
	{
		cat <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: floe-test
    cluster:
      server: https://127.0.0.1:$(cat "$STATE/apiserver.port")
      certificate-authority: $PKI/ca.crt
users:
  - name: $user
    user:
EOF
		local line
		for line in "$@"; do
			printf '      %s\n' "$line"
		done
		cat <<EOF
contexts:
  - name: $user@floe-test
    context:
      cluster: floe-test
      user: $user
current-context: $user@floe-test
EOF
	} >"$file.tmp"
	mv "$file.tmp" "$file"
}

# ---------------------------------------------------------------- etcd and the API server
etcd_url() { echo "http://127.0.0.1:$(cat "$STATE/etcd.port")"; }

# wait_for NAME SECONDS CMD...: until CMD succeeds, while NAME still runs.
wait_for() {
	local name=$1 deadline=$((SECONDS + $2))
	shift 2
	while [ "$SECONDS" -lt "$deadline" ]; do
		"$@" && return 0
		pid_of "$name" >/dev/null || return 1
		sleep 0.2
	done
	return 1
}

etcd_healthy() {
	curl -sf --max-time 2 "$(etcd_url)/health" 2>/dev/null | grep -q '"health":"true"'
}

apiserver_ready() {
	[ "$(curl -s --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
		--key "$PKI/admin.key" "https://127.0.0.1:$(cat "$STATE/apiserver.port")/readyz" \
		2>/dev/null)" = ok ]
}

# Tells whether a failed start was a port taken meanwhile by someone else (then retried).
log_says_port_taken() {
	tail -n 50 "$STATE/logs/$1.log" 2>/dev/null | grep -q "address already in use"
}

start_etcd() {
	local try cport pport
	for ((try = 0; try < 5; try++)); do
		cport=$(pick_port)
		pport=$(pick_port)
		echo "$cport" >"$STATE/etcd.port"
		# No fsync: the data lives as long as the test, and the disk is shared.
		start etcd "$ETCD_BIN/etcd" --name floe-test --data-dir "$STATE/etcd" \
			--listen-client-urls "http://127.0.0.1:$cport" \
			--advertise-client-urls "http://127.0.0.1:$cport" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "floe-test=http://127.0.0.1:$pport" \
			--unsafe-no-fsync --log-level warn
		wait_for etcd 60 etcd_healthy && return 0
		stop etcd
		log_says_port_taken etcd || break
		rm -rf "$STATE/etcd"
	done
	die "etcd did not become healthy; its log: $STATE/logs/etcd.log"
}

apiserver_cmd() {
	local watch_cache=false
	[ "${FLOE_K8S_WATCH_CACHE:-0}" = 1 ] && watch_cache=true
	APISERVER_CMD=("$K8S_BIN/kube-apiserver"
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1
		--secure-port="$(cat "$STATE/apiserver.port")"
		--cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt"
		--tls-private-key-file="$PKI/apiserver.key"
		--client-ca-file="$PKI/ca.crt"
		--etcd-servers="$(etcd_url)"
		--authorization-mode=Node,RBAC
		--enable-admission-plugins=NodeRestriction
		--service-account-issuer=https://kubernetes.default.svc.cluster.local
		--service-account-key-file="$PKI/sa.pub"
		--service-account-signing-key-file="$PKI/sa.key"
		--service-cluster-ip-range="$SERVICE_CIDR"
		--endpoint-reconciler-type=none
		--watch-cache="$watch_cache"
		--profiling=false --v=1)
}

# A restart keeps the port (the kubeconfigs name it); only the first start retries another one.
start_apiserver() {
	local try
	for ((try = 0; try < 5; try++)); do
		[ -f "$STATE/apiserver.port" ] || pick_port >"$STATE/apiserver.port"
		apiserver_cmd
		start apiserver "${APISERVER_CMD[@]}"
		local t0=$SECONDS
		wait_for apiserver "$READY_TIMEOUT" apiserver_ready && return 0
		# For the reader of a failed run: a timeout, or a process that ended (how soon).
		say "not ready after $((SECONDS - t0)) s; the process $(pid_of apiserver >/dev/null &&
			echo 'still runs' || echo 'had ended')"
		stop apiserver
		log_says_port_taken apiserver || break
		if [ -f "$ADMIN_KUBECONFIG" ]; then
			# A restart keeps its port: whoever held it (the killed server's sockets,
			# another program) is waited for, a second at a time.
			say "port $(cat "$STATE/apiserver.port") taken: retrying"
			sleep 1
		else
			rm -f "$STATE/apiserver.port"
		fi
	done
	say "the API server's log ends with:"
	tail -n 15 "$STATE/logs/apiserver.log" >&2 2>/dev/null || true
	die "the API server did not become ready; its log: $STATE/logs/apiserver.log"
}

need_binaries() {
	if [ ! -x "$K8S_BIN/kube-apiserver" ] || [ ! -x "$K8S_BIN/kubectl" ] ||
		[ ! -x "$ETCD_BIN/etcd" ] || [ ! -x "$ETCD_BIN/etcdctl" ]; then
		bash "$K8S_DIR/build.sh" || die "the cluster's binaries cannot be built"
	fi
}

need_up() {
	pid_of apiserver >/dev/null && pid_of etcd >/dev/null ||
		die "no cluster runs in $STATE (cluster.sh up)"
}

kc() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# ---------------------------------------------------------------- commands
cmd_up() {
	need_binaries
	if pid_of apiserver >/dev/null && pid_of etcd >/dev/null && apiserver_ready; then
		say "already up in $STATE"
		echo "$ADMIN_KUBECONFIG"
		return 0
	fi
	cmd_down
	mkdir -p "$STATE"
	chmod 700 "$STATE"
	# A failed start leaves no process behind, and the state (logs) for a look: down removes it.
	trap 'stop apiserver; stop etcd' EXIT
	make_pki
	start_etcd
	start_apiserver
	trap - EXIT
	write_kubeconfig "$ADMIN_KUBECONFIG" floe-test-admin \
		"client-certificate: $PKI/admin.crt" "client-key: $PKI/admin.key"
	say "up: API server https://127.0.0.1:$(cat "$STATE/apiserver.port"), etcd $(etcd_url)," \
		"state $STATE"
	echo "$ADMIN_KUBECONFIG"
}

cmd_down() {
	stop apiserver
	stop etcd
	rm -rf "$STATE"
}

cmd_status() {
	local name pid rc=0
	for name in etcd apiserver; do
		if pid=$(pid_of "$name"); then
			echo "$name: running (pid $pid, port $(cat "$STATE/$name.port"))"
		else
			echo "$name: not running"
			rc=1
		fi
	done
	if [ "$rc" = 0 ] && apiserver_ready; then
		echo "readyz: ok"
		echo "kubeconfig: $ADMIN_KUBECONFIG"
	else
		echo "readyz: not ready"
		rc=1
	fi
	return "$rc"
}

# apply_quiet: create-or-keep a generated object (kubectl apply of a dry-run's YAML).
apply_quiet() { kc apply -f - >/dev/null; }

sa_dir() { echo "$STATE/sa/$2/$1"; }

write_token() {
	local name=$1 ns=$2 dir
	dir=$(sa_dir "$name" "$ns")
	kc -n "$ns" create token "$name" --duration="${FLOE_K8S_TOKEN_DURATION:-1h}" >"$dir/token.tmp"
	[ -s "$dir/token.tmp" ] || die "no token for $ns/$name"
	mv "$dir/token.tmp" "$dir/token"
}

cmd_sa_kubeconfig() {
	local name=${1:?usage: cluster.sh sa-kubeconfig NAME [NAMESPACE]} ns=${2:-floe} dir
	need_up
	kc apply -f "$ROOT/manifests/rbac.yaml" >/dev/null
	kc create namespace "$ns" --dry-run=client -o yaml | apply_quiet
	kc -n "$ns" create serviceaccount "$name" --dry-run=client -o yaml | apply_quiet
	kc create clusterrolebinding "floe:$ns:$name" --clusterrole=floe \
		--serviceaccount="$ns:$name" --dry-run=client -o yaml | apply_quiet
	dir=$(sa_dir "$name" "$ns")
	mkdir -p "$dir"
	# The layout of a pod's service account mount, for a process that reads it like one.
	cp "$PKI/ca.crt" "$dir/ca.crt"
	printf '%s' "$ns" >"$dir/namespace"
	write_token "$name" "$ns"
	write_kubeconfig "$dir/kubeconfig" "$ns-$name" "tokenFile: $dir/token"
	echo "$dir/kubeconfig"
}

cmd_rotate_token() {
	local name=${1:?usage: cluster.sh rotate-token NAME [NAMESPACE]} ns=${2:-floe}
	need_up
	[ -f "$(sa_dir "$name" "$ns")/token" ] || die "no service account $ns/$name (sa-kubeconfig)"
	write_token "$name" "$ns"
}

cmd_compact() {
	local rev
	pid_of etcd >/dev/null || die "etcd does not run in $STATE"
	rev=$("$ETCD_BIN/etcdctl" --endpoints="$(etcd_url)" endpoint status -w json |
		jq -r '.[0].Status.header.revision')
	[[ "$rev" =~ ^[0-9]+$ ]] || die "cannot read etcd's revision"
	"$ETCD_BIN/etcdctl" --endpoints="$(etcd_url)" compact "$rev" >/dev/null
	echo "$rev"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
sa-kubeconfig) cmd_sa_kubeconfig "${@:2}" ;;
rotate-token) cmd_rotate_token "${@:2}" ;;
stop-apiserver) stop apiserver ;;
kill-apiserver)
	pid=$(pid_of apiserver) || die "the API server does not run in $STATE"
	kill -KILL "$pid"
	wait_gone "$pid" 100 || die "the API server (pid $pid) is still there after SIGKILL"
	rm -f "$STATE/apiserver.pid"
	;;
start-apiserver)
	pid_of etcd >/dev/null || die "etcd does not run in $STATE"
	pid_of apiserver >/dev/null || start_apiserver
	;;
restart-apiserver)
	pid_of etcd >/dev/null || die "etcd does not run in $STATE"
	stop apiserver
	start_apiserver
	;;
compact) cmd_compact ;;
kubectl) kc "${@:2}" ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
