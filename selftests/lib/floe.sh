# shellcheck shell=bash
# Helpers to drive build/floe from the integration tests (sourced after pods.sh).
#
#   floe_start LOG tap-args...  start `floe tap tap-args...` in the node netns; waits for the
#                               "floe: tapping " line (FLOE_START_TIMEOUT s, default 30).
#                               Sets FLOE_PID. Returns 1 (and prints the log) if it never
#                               said so. Adds --no-hub unless the args name --proxy-host or
#                               --proxy-front-port (a test of floe tap's hub).
#   floe_stop [SIG]             stop it (default SIGINT), wait up to 30 s; returns its exit code
#   floe_wait SECS              wait for it to exit by itself (--duration); returns its exit code
#   stat_get FILE FIELD         print one integer field of a --stats-json file ("" if absent)
#   tls_attach_expect           the tls_attach_multi a tap's stats must say: 0 with
#                               FLOE_TLS_ATTACH=perf, else 1 on Linux >= 6.6 (uprobe_multi links)
#
# FLOE_TLS_ATTACH (auto|perf|multi): passed to every floe_start as --tls-attach (the *_perf.sh
# tests run a TLS test again with the perf uprobes forced); unset: floe's default (auto).
#   floe_filters IF...          print every tc filter left on the interfaces (node netns)
#   pcap_count FILE [FILTER]    number of frames in a capture (tshark, optional display filter)
#   tshark_q ...                tshark without its "Running as user root" banner on stderr

FLOE=${FLOE:-$(floe_root)/build/floe}
FLOE_PID=

floe_start() {
	local log=$1 secs=${FLOE_START_TIMEOUT:-30}
	shift
	: >"$log"
	# `floe tap` starts its hub unless told: only a test of the hub asks for it (a port).
	case " $* " in
	*" --proxy-"* | *" --no-hub "*) ;;
	*) set -- "$@" --no-hub ;;
	esac
	[ -z "${FLOE_TLS_ATTACH:-}" ] || set -- "$@" --tls-attach "$FLOE_TLS_ATTACH"
	node_bg "$log" "$FLOE" tap "$@"
	FLOE_PID=$BG_PID
	local end=$(($(date +%s) + secs))
	while :; do
		if grep -q '^floe: tapping ' "$log"; then
			return 0
		fi
		if ! kill -0 "$FLOE_PID" 2>/dev/null; then
			wait "$FLOE_PID" 2>/dev/null
			diag "floe exited ($?) before tapping; its output:" "$(cat "$log")"
			FLOE_PID=
			return 1
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			diag "floe did not say 'floe: tapping' within ${secs}s; its output:" "$(cat "$log")"
			return 1
		fi
		sleep 0.05
	done
}

floe_stop() {
	local sig=${1:-${FLOE_STOP_SIG:-INT}} pid=$FLOE_PID rc=0 i
	[ -n "$pid" ] || return 0
	FLOE_PID=
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		diag "floe (pid $pid) still running 30 s after SIG$sig; killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return $rc
}

floe_wait() {
	local secs=$1 pid=$FLOE_PID rc=0
	[ -n "$pid" ] || return 0
	wait_pid "$pid" "$secs" || rc=$?
	if [ "$rc" -eq 124 ]; then
		diag "floe (pid $pid) still running after ${secs}s"
		floe_stop INT
		return 124
	fi
	FLOE_PID=
	return $rc
}

tls_attach_expect() {
	local v
	v=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
	case "${FLOE_TLS_ATTACH:-auto}" in
	perf) echo 0 ;;
	multi) echo 1 ;;
	*) [ "$v" -ge 6006 ] && echo 1 || echo 0 ;;
	esac
}

stat_get() {
	jq -r --arg f "$2" 'if has($f) then .[$f] else "" end' "$1" 2>/dev/null
}

floe_filters() {
	local ifc
	for ifc in "$@"; do
		on_node tc filter show dev "$ifc" ingress 2>/dev/null | sed "s/^/$ifc ingress: /"
		on_node tc filter show dev "$ifc" egress 2>/dev/null | sed "s/^/$ifc egress: /"
	done
}

tshark_q() {
	local errf rc=0
	errf=$(mktemp)
	tshark "$@" 2>"$errf" || rc=$?
	grep -v -e '^Running as user "root"' "$errf" >&2
	rm -f "$errf"
	return $rc
}

pcap_count() {
	local out
	if ! out=$(tshark_q -r "$1" ${2:+-Y "$2"} -T fields -e frame.number); then
		echo "tshark-error"
		return 1
	fi
	grep -c . <<<"$out"
}

# floe_cleanup: stop a floe still running (by PID). For traps.
floe_cleanup() {
	if [ -n "${FLOE_PID:-}" ]; then
		floe_stop INT >/dev/null 2>&1
	fi
}
