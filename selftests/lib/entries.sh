# shellcheck shell=bash
# Helpers for the entry tests (selftests/integration/test_entries_*.sh), sourced after itest.sh.
#
#   PY                              /usr/bin/python3 (Debian's, with python3-grpcio; `python3`
#                                   may be a pyenv shim without it)
#   floe_start_json OUT LOG args... start `floe tap args... --json` in the node netns, entries
#                                   (stdout) to OUT, messages (stderr) to LOG; waits for
#                                   "floe: tapping". Sets FLOE_PID like floe_start.
#   entries_wait OUT N SECS         wait until OUT has at least N lines
#   entries_wait_tls OUT N SECS     wait until OUT has at least N whole entries with "tls": true
#   entries_complete OUT            the whole lines of OUT (not one floe is writing)
#   entries_wait_sel OUT SEL N SECS wait until N whole entries of OUT match the jq selection SEL
#   blind_libssl LIBSSL COPY        a copy of LIBSSL without SSL_read/SSL_write in its dynamic
#                                   symbols (it loads; floe cannot probe it: tls_blind)
#   checks cmd...                   run a checker that prints TAB-separated lines
#                                   "ok<TAB>DESC", "fail<TAB>DESC", "diag<TAB>TEXT",
#                                   "skip<TAB>DESC<TAB>REASON" and turn them into assertions
#   need_cmd DESC CMD...            skip DESC (and return 1) when one of the commands is missing
#   entries_diag OUT                the entries of OUT as short diag lines
#   build_go GO OUT [ARGS...]       build the Go test program selftests/integration/$SRC
#                                   (default gotls) with the toolchain GO into OUT, unless OUT
#                                   is newer than its sources; caches under $BIN; the log in
#                                   $PODS_TMP/gobuild.log. Returns go build's status.

PY=/usr/bin/python3
ENTRIES_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECK_PY=$ENTRIES_LIB/entries_check.py

floe_start_json() {
	local out=$1 log=$2
	shift 2
	# floe_start sends stdout and stderr to one log: a wrapper keeps the entries apart.
	printf '#!/bin/sh\nexec "%s" "$@" >"%s"\n' "$FLOE" "$out" >"$PODS_TMP/floe-json"
	chmod +x "$PODS_TMP/floe-json"
	FLOE=$PODS_TMP/floe-json floe_start "$log" "$@" --json
}

# entries_wait OUT N [SECS]: until OUT holds N whole lines (a line floe is in the middle of
# writing has no newline yet and is not counted: jq would read it cut). 1 on timeout.
entries_wait() {
	local out=$1 n=$2 secs=${3:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		if [ -f "$out" ] && [ "$(wc -l <"$out")" -ge "$n" ]; then
			return 0
		fi
		if [ "$(date +%s%N)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.1
	done
}

# entries_wait_tls OUT N [SECS]: until OUT holds N whole entries read through the TLS uprobes
# ("tls": true; the handshake entries from packets do not count). 1 on timeout.
entries_wait_tls() {
	local out=$1 n=$2 end=$(($(date +%s%N) + ${3:-10} * 1000000000))
	until [ -f "$out" ] && [ "$(head -n "$(wc -l <"$out")" "$out" | jq -c 'select(.tls == true)' | wc -l)" -ge "$n" ]; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

entries_complete() { head -n "$(wc -l <"$1")" "$1"; }

# Not a count of any lines: handshake entries (protocol tls) may come first and would end the
# wait early.
entries_wait_sel() {
	local out=$1 sel=$2 n=$3 end=$(($(date +%s%N) + ${4:-10} * 1000000000))
	until [ -f "$out" ] && [ "$(entries_complete "$out" | jq -c "select($sel)" | wc -l)" -ge "$n" ]; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

blind_libssl() {
	mkdir -p "$(dirname "$2")"
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
d = open(sys.argv[1], "rb").read()
# The exported names SSL_read and SSL_write renamed in the dynamic string table: the library
# still loads, but has no SSL_read/SSL_write for floe to probe.
for a, b in ((b"\0SSL_read\0", b"\0SSL_reaX\0"), (b"\0SSL_write\0", b"\0SSL_writX\0")):
    assert a in d
    d = d.replace(a, b)
open(sys.argv[2], "wb").write(d)
PYEOF
}

checks() {
	local kind desc reason out rc=0
	out=$("$@" 2>&1) || rc=$?
	while IFS=$'\t' read -r kind desc reason; do
		case $kind in
		ok) ok "$desc" ;;
		fail) not_ok "$desc" ;;
		skip) skip "$desc" "$reason" ;;
		diag) diag "$desc" ;;
		*) [ -n "$kind$desc" ] && diag "$kind${desc:+ $desc}" ;;
		esac
	done <<<"$out"
	if [ "$rc" -ne 0 ]; then
		not_ok "checker $(basename "$2") ${3:-} ran to the end (exit $rc)"
	fi
}

need_cmd() {
	local desc=$1 c
	shift
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "$c" ]; then
			skip "$desc" "$c is not installed (selftests/lib/deps.sh)"
			return 1
		fi
	done
	return 0
}

entries_diag() {
	jq -r '[.id, .protocol, (.src.pod // .src.ip) + ":" + (.src.port|tostring),
		(.dst.pod // .dst.ip) + ":" + (.dst.port|tostring),
		(.stream_id // "-"|tostring), (.request.method // "-"), (.request.url // "-"),
		(.response.status // "-"|tostring), (.missing // "")] | join(" ")' "$1" 2>&1 |
		sed 's/^/entry: /' | head -n "${2:-80}"
}

build_go() {
	local go=$1 out=$2 src
	src=$(cd "$ENTRIES_LIB/../integration" && pwd)/${SRC:-gotls}
	shift 2
	if [ -x "$out" ] && [ "$out" -nt "$src/main.go" ] && [ "$out" -nt "$src/go.mod" ]; then
		return 0
	fi
	mkdir -p "$BIN"
	(cd "$src" && GOFLAGS=-mod=mod GOCACHE=$BIN/cache GOPATH=$BIN/gopath \
		timeout 400 "$go" build "$@" -o "$out" .) >"$PODS_TMP/gobuild.log" 2>&1
}

# entries_pods A4 B4 [A6 B6]: pods a (client, namespace "front") and b (server, "back") of
# this run, and their inventory $INV. Ends the test when that fails.
entries_pods() {
	pod_add a "$1" "${3:-}" && pod_add b "$2" "${4:-}" || { not_ok "create pods"; done_testing; }
	INV=$PODS_TMP/inventory
	printf '%s front\n%s back\n' "$(pod_ns a)" "$(pod_ns b)" >"$INV"
}

# entries_httpd1 POD PORT: selftests/lib/httpd1.py (the HTTP/1.1 echo server) in POD on PORT,
# its log $PODS_TMP/httpd.log and stderr httpd.err; one check that it listens, and the test
# ends when it does not.
entries_httpd1() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	pod_bg "$1" "$PODS_TMP/httpd.log" sh -c "exec $PY '$here/httpd1.py' :: $2 2>'$PODS_TMP/httpd.err'"
	if ! wait_tcp_listen "$1" "$2" 10; then
		not_ok "HTTP server listens in $1"
		diag "$(cat "$PODS_TMP/httpd.err")"
		done_testing
	fi
	ok "HTTP server listens in $1"
}

# entries_nghttpd ADDR PORT: nghttpd (h2c) in pod b on PORT serving ten files of 200 to 2900
# bytes from $PODS_TMP/www, and $PODS_TMP/urls, 300 URIs of them at ADDR (h2load -i: new
# :path literals all along, so the HPACK tables keep changing). One check that it listens;
# the test ends when it does not.
entries_nghttpd() {
	local i www=$PODS_TMP/www
	mkdir -p "$www"
	for i in $(seq 0 9); do
		head -c $((200 + i * 300)) /dev/zero | tr '\0' x >"$www/f$i.txt"
	done
	for i in $(seq 1 300); do
		echo "http://$1:$2/f$((i % 10)).txt?q=$i"
	done >"$PODS_TMP/urls"
	pod_bg b "$PODS_TMP/nghttpd.log" nghttpd --no-tls -d "$www" "$2"
	if ! wait_tcp_listen b "$2" 10; then
		not_ok "nghttpd listens in b"
		diag "$(cat "$PODS_TMP/nghttpd.log")"
		done_testing
	fi
	ok "nghttpd listens in b"
}

# entries_tap [FLOE-ARGS...]: floe tap --json of pods a and b (ENTRIES_PODS: another regex
# alternative of pod names, "a|b|p"), entries to $OUT (default
# $PODS_TMP/entries.json; set OUT for another round), next to it X.floe.log, X.store,
# X.stats.json for X = $OUT without .json. Ends the test when floe does not start.
entries_tap() {
	OUT=${OUT:-$PODS_TMP/entries.json}
	ENTRIES_T0=$(date +%s.%N)
	local x=${OUT%.json}
	if ! floe_start_json "$OUT" "$x.floe.log" "^${PREFIX}-(${ENTRIES_PODS:-a|b})\$" -A --inventory "$INV" \
		--store "$x.store" --stats-json "$x.stats.json" "$@"; then
		not_ok "floe tap --json $* starts"
		done_testing
	fi
	ok "floe tap --json $* starts"
}

# entries_stop N: N entries must come while floe runs (10 s at most); a little longer for any
# extra one, stop floe; it must exit 0 and report no parse error. Sets ENTRIES_WINDOW: the
# checker's --since/--until (from entries_tap to now).
entries_stop() {
	if entries_wait "$OUT" "$1" 10; then
		ok "$1 entries printed live"
	else
		not_ok "$1 entries printed live (only $(grep -c . "$OUT") within 10 s)"
	fi
	sleep 1.5
	ENTRIES_WINDOW=(--since "$ENTRIES_T0" --until "$(date +%s.%N)")
	floe_stop
	is "$?" 0 "floe exits 0"
	diag "$(grep -E '^ +entries +[0-9]' "${OUT%.json}.floe.log")"
	check "floe's summary: no parse errors" grep -qE 'entries .*, 0 parse errors' "${OUT%.json}.floe.log"
}

# entries_vs_read [JQ]: the store of the last entries_tap, exported and read back with `floe
# read`, must give the entries floe printed live (compared by flow, stream, request, response,
# sizes, gRPC status and counts, GraphQL operation; pods are only known live). JQ: another
# projection of each entry to compare by (a jq filter giving one string).
entries_vs_read() {
	local x=${OUT%.json} proj=${1:-}
	[ -n "$proj" ] || proj='[.id, .protocol, .src.port, .stream_id, .request.method, .request.url, .response.status,
		.request_size, .response_size, .request.body.size, .response.body.size, .missing,
		.grpc.status, .grpc.request_count, .grpc.response_count, .graphql.operation_name] | @json'
	on_node "$FLOE" pcap export -o "$x.pcap" --store "$x.store" >"$x.export.log" 2>&1
	"$FLOE" read "$x.pcap" --json 2>"$x.read.log" | jq -r "$proj" | sort >"$x.read.proj"
	# A tap's ids carry its run id ("<run>-<flow>-<n>", docs/entries.md); floe read's do not.
	jq -c '.id |= sub("^[0-9a-f]{16}-"; "") | if .tunnel.id then .tunnel.id |= sub("^[0-9a-f]{16}-"; "") else . end' "$OUT" |
		jq -r "$proj" | sort >"$x.live.proj"
	if [ -s "$x.live.proj" ] && cmp -s "$x.read.proj" "$x.live.proj"; then
		ok "floe read of the exported PCAP gives the same entries as the live tap ($(wc -l <"$x.live.proj"))"
	else
		not_ok "floe read of the exported PCAP gives the same entries as the live tap"
		diag "$(diff "$x.live.proj" "$x.read.proj" | head -n 20)" "$(cat "$x.export.log" "$x.read.log")"
	fi
}
