# shellcheck shell=bash
# Pod harness for floe's integration tests and benchmarks (sourced, not run).
#
# Topology, isolated per test run (names carry the run's PID so runs never collide):
#
#   netns ${PREFIX}-node : bridge "br0" (no address) + host ends v-NAME of every pod
#   netns ${PREFIX}-NAME : "eth0" (IPV4/24, IPV6/64 nodad) + lo, for every pod_add NAME
#
# floe runs in the node netns (on_node build/floe tap ...), where it finds each pod's host-side
# veth. Test traffic stays between these namespaces: private subnets 10.213.x.0/24 and
# fd00:f10e::/64 exist only inside them.
#
# API
#   pods_init                    create the node netns (called by pod_add when needed)
#   pod_add NAME IPV4 [IPV6]     create a pod
#   pod_ns NAME                  print the pod's netns name
#   pod_ip NAME / pod_ip6 NAME   print the pod's addresses
#   in_pod NAME cmd...           run cmd inside the pod
#   on_node cmd...               run cmd inside the node netns
#   pod_bg NAME LOG cmd...       start cmd in the pod in the background (stdout+stderr to LOG);
#                                sets BG_PID, remembered for cleanup
#   node_bg LOG cmd...           same in the node netns
#   bg_track PID                 remember an extra PID for cleanup
#   bg_stop PID [SIG]            stop one remembered process (SIG, default TERM; KILL after 3 s)
#   wait_for_line FILE ERE SECS  wait until FILE has a line matching ERE (0) or timeout (1)
#   wait_tcp_listen NAME PORT SECS  wait until something listens on PORT in the pod
#   wait_udp_listen NAME PORT SECS  the same for a UDP socket bound to PORT
#   wait_tcp_idle NAME PORT SECS    wait until the pod holds no TCP connection from or to PORT
#                                (each closed on its side: only listeners and TIME-WAIT left)
#   pods_cleanup                 stop remembered processes, delete every netns of this run,
#                                remove PODS_TMP; safe to call more than once
#   veth_counters NAME           print "rx_packets tx_packets" of v-NAME (node side)
#   tc_filters IF                print the tc filters on IF ingress and egress (node netns)
#
#   pods_tmp                     create the run's temp dir, PODS_TMP (removed by pods_cleanup)
#
# Variables: PREFIX (default floe-t$$), NODE (${PREFIX}-node), PODS_TMP (a temp dir of the run).

PREFIX=${PREFIX:-floe-t$$}
NODE=${NODE:-${PREFIX}-node}
PODS_TMP=${PODS_TMP:-}
PODS_BRIDGE=br0
declare -a PODS_NAMES=()
declare -a PODS_PIDS=()
declare -A PODS_IP4=()
declare -A PODS_IP6=()
_PODS_NODE_UP=0

# pods_tmp: create the run's temp dir (removed by pods_cleanup) and set PODS_TMP. Call it
# directly, not in $(...): a subshell's PODS_TMP would be lost and the dir leaked.
pods_tmp() {
	if [ -z "$PODS_TMP" ] || [ ! -d "$PODS_TMP" ]; then
		PODS_TMP=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
	fi
}

# pods_sweep_stale: namespaces (and temp dirs) of test runs whose shell is gone. A run killed
# with SIGKILL (a timeout's last resort, an OOM kill) cannot run its trap; the next run cleans
# up after it. Only names floe-t<PID>-* whose PID no longer exists are touched.
pods_sweep_stale() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^floe-t[0-9]+-'); do
		pid=${ns#floe-t}
		pid=${pid%%-*}
		[ "$pid" = "$$" ] && continue
		kill -0 "$pid" 2>/dev/null && continue
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		rm -rf /tmp/floe-t"$pid".?????? 2>/dev/null
	done
}

pods_init() {
	[ "$_PODS_NODE_UP" = 1 ] && return 0
	pods_sweep_stale
	pods_tmp
	ip netns add "$NODE" || return 1
	_PODS_NODE_UP=1
	ip -n "$NODE" link set lo up
	ip -n "$NODE" link add "$PODS_BRIDGE" type bridge
	# No STP delays, no multicast snooping surprises: a plain learning switch.
	ip -n "$NODE" link set "$PODS_BRIDGE" type bridge forward_delay 0 stp_state 0 mcast_snooping 0
	ip -n "$NODE" link set "$PODS_BRIDGE" up
}

pod_ns() { printf '%s-%s\n' "$PREFIX" "$1"; }
pod_ip() { printf '%s\n' "${PODS_IP4[$1]}"; }
pod_ip6() { printf '%s\n' "${PODS_IP6[$1]:-}"; }

pod_add() {
	local name=$1 ip4=$2 ip6=${3:-}
	local ns host="v-$1"
	ns=$(pod_ns "$name")
	if [ ${#host} -gt 15 ]; then
		echo "pod_add: pod name '$name' too long for an interface name" >&2
		return 1
	fi
	pods_init || return 1
	ip netns add "$ns" || return 1
	PODS_NAMES+=("$name")
	PODS_IP4[$name]=$ip4
	PODS_IP6[$name]=$ip6
	# Create the pair inside the pod, then move the host end to the node.
	ip -n "$ns" link add eth0 type veth peer name "$host" || return 1
	ip -n "$ns" link set "$host" netns "$NODE" || return 1
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$ip4/24" dev eth0
	if [ -n "$ip6" ]; then
		ip -n "$ns" addr add "$ip6/64" dev eth0 nodad
	fi
	ip -n "$ns" link set eth0 up
	ip -n "$NODE" link set "$host" master "$PODS_BRIDGE"
	ip -n "$NODE" link set "$host" up
}

in_pod() {
	local ns
	ns=$(pod_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

on_node() {
	ip netns exec "$NODE" "$@"
}

bg_track() { PODS_PIDS+=("$1"); }

# `ip netns exec` execs the command, so $! is the command's own PID.
pod_bg() {
	local name=$1 log=$2
	shift 2
	ip netns exec "$(pod_ns "$name")" "$@" >"$log" 2>&1 </dev/null &
	BG_PID=$!
	PODS_PIDS+=("$BG_PID")
}

node_bg() {
	local log=$1
	shift
	ip netns exec "$NODE" "$@" >"$log" 2>&1 </dev/null &
	BG_PID=$!
	PODS_PIDS+=("$BG_PID")
}

# bg_stop PID [SIG [SECS]]: signal one of our processes, wait up to SECS (3) s, then SIGKILL.
# Returns its status.
bg_stop() {
	local pid=$1 sig=${2:-TERM} secs=${3:-3} i rc=0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return $rc
}

# wait_pid PID SECS: wait for one of our processes to exit by itself; prints nothing.
# Returns its exit status, or 124 if it is still running after SECS.
wait_pid() {
	local pid=$1 secs=$2 end
	end=$(($(date +%s%N) + secs * 1000000000))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(date +%s%N)" -ge "$end" ]; then
			return 124
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
}

wait_for_line() {
	local file=$1 re=$2 secs=${3:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		if [ -f "$file" ] && grep -Eq -- "$re" "$file"; then
			return 0
		fi
		if [ "$(date +%s%N)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.05
	done
}

wait_tcp_listen() { _wait_listen -Hltn "$@"; }
wait_udp_listen() { _wait_listen -Hlun "$@"; }

_wait_listen() {
	local opts=$1 name=$2 port=$3 secs=${4:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		if in_pod "$name" ss "$opts" "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		if [ "$(date +%s%N)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.05
	done
}

# A server has handled (and logged) everything its clients sent once it has closed their
# connections, and a connection's last packets (FIN, ACK) have crossed the link once neither
# end holds it any more (TIME-WAIT is entered after sending the last ACK): wait for that
# instead of guessing how long it takes.
wait_tcp_idle() {
	local name=$1 port=$2 secs=${3:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		if ! in_pod "$name" ss -Htan "( sport = :$port or dport = :$port )" 2>/dev/null |
			grep -qvE '^(LISTEN|TIME-WAIT)[[:space:]]'; then
			return 0
		fi
		if [ "$(date +%s%N)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.05
	done
}

veth_counters() {
	on_node ip -s -j link show "v-$1" |
		jq -r '.[0].stats64 | "\(.rx.packets) \(.tx.packets)"'
}

tc_filters() {
	on_node tc filter show dev "$1" ingress 2>/dev/null
	on_node tc filter show dev "$1" egress 2>/dev/null
}

pods_cleanup() {
	local pid name ns
	for pid in "${PODS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PODS_PIDS[@]}"; do
		local i
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	PODS_PIDS=()
	for name in "${PODS_NAMES[@]}"; do
		ns=$(pod_ns "$name")
		ip netns del "$ns" 2>/dev/null
	done
	PODS_NAMES=()
	if [ "$_PODS_NODE_UP" = 1 ] || [ -e "/run/netns/$NODE" ]; then
		ip netns del "$NODE" 2>/dev/null
		_PODS_NODE_UP=0
	fi
	if [ -n "$PODS_TMP" ] && [ -d "$PODS_TMP" ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf -- "$PODS_TMP"
	fi
	PODS_TMP=
	return 0
}

# test_timeout SECS "$0" "$@": re-execute the calling script under timeout(1) once, so the whole
# test (and every process it started, same process group) is bounded in time. timeout sends
# SIGTERM first: the script's trap then cleans up.
test_timeout() {
	local secs=$1
	shift
	if [ -z "${FLOE_TEST_UNDER_TIMEOUT:-}" ]; then
		export FLOE_TEST_UNDER_TIMEOUT=1
		exec timeout -k 15 "$secs" bash "$@"
	fi
}

# Locate the repo root (the directory holding build/) from a script under selftests/.
floe_root() {
	local d
	d=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	printf '%s\n' "$d"
}
