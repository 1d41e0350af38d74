# shellcheck shell=bash
# A RabbitMQ broker in a pod for the AMQP tests and benchmark (sourced after pods.sh).
#
#   rabbitmq_start POD IP PORT SECS   start epmd and rabbitmq-server in POD, listening on IP:PORT
#                                     only; everything it keeps (node name, Erlang cookie in
#                                     HOME, database, logs, config) is under $PODS_TMP/rabbitmq.
#                                     Waits up to SECS for the listener; returns 1 when it did
#                                     not come (RABBITMQ_LOG holds what the broker said).
#   rabbitmq_stop                     stop the broker and its epmd (by PID)
#
# epmd runs in the pod's network namespace (the host's epmd, if any, is neither used nor
# touched): started here in the foreground, so its PID is ours to stop.

RABBITMQ_SERVER=${RABBITMQ_SERVER:-/usr/lib/rabbitmq/bin/rabbitmq-server}

rabbitmq_start() {
	local pod=$1 ip=$2 port=$3 secs=${4:-120} r=$PODS_TMP/rabbitmq
	mkdir -p "$r/home" "$r/mnesia" "$r/log"
	: >"$r/rabbitmq-env.conf"
	echo '[].' >"$r/enabled_plugins"
	# guest may log in from another address (the client pod).
	printf 'loopback_users = none\n' >"$r/rabbitmq.conf"
	RABBITMQ_LOG=$r/server.out
	pod_bg "$pod" "$r/epmd.log" epmd -address 127.0.0.1
	RABBITMQ_EPMD_PID=$BG_PID
	pod_bg "$pod" "$RABBITMQ_LOG" env HOME="$r/home" RABBITMQ_CONF_ENV_FILE="$r/rabbitmq-env.conf" \
		RABBITMQ_CONFIG_FILE="$r/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$r/enabled_plugins" \
		RABBITMQ_MNESIA_BASE="$r/mnesia" RABBITMQ_LOG_BASE="$r/log" RABBITMQ_PID_FILE="$r/pid" \
		RABBITMQ_NODENAME="floe$$@localhost" RABBITMQ_NODE_IP_ADDRESS="$ip" RABBITMQ_NODE_PORT="$port" \
		RABBITMQ_DIST_PORT=$((port + 20000)) "$RABBITMQ_SERVER"
	RABBITMQ_PID=$BG_PID
	if ! wait_tcp_listen "$pod" "$port" "$secs"; then
		tail -n 20 "$r"/log/*.log >>"$RABBITMQ_LOG" 2>/dev/null
		return 1
	fi
}

rabbitmq_stop() {
	[ -n "${RABBITMQ_PID:-}" ] && bg_stop "$RABBITMQ_PID"
	[ -n "${RABBITMQ_EPMD_PID:-}" ] && bg_stop "$RABBITMQ_EPMD_PID"
	RABBITMQ_PID= RABBITMQ_EPMD_PID=
	return 0
}
