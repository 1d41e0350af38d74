#!/usr/bin/env bash
# Integration: --filter's capture scope in the kernel (docs/capture.md, "Capture scope"). The
# same traffic is tapped twice with the same --filter, once with --no-capture-scope (every
# packet of the tapped pods recorded) and once with the pushdown: the entries printed must be
# the same both times and the ones the client made (the oracle), and with the pushdown the
# kernel's `recorded` counter must fall by the packets of the connections the query rules out
# (counted as out_of_scope), which the store then does not hold.
#
# Pods: a (server, namespace back) with HTTP servers on ports 8080 and 8081; b and c (clients,
# namespace front). Each round: b -> a:8080, b -> a:8081, c -> a:8080, ROUNDS transfers each.
# Query: http and dst.port == 8080 and src.pod == <b>: pushed down as (port=8080 & pod=<b>),
# so b -> a:8081 (port) and c -> a:8080 (neither end is pod b) are not recorded.
# Usage (root, from the repo root): bash selftests/integration/test_capture_scope.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.53.11 B=10.213.53.12 C=10.213.53.13
ROUNDS=6

pod_add a $A && pod_add b $B && pod_add c $C || { not_ok "create pods"; done_testing; }
INV=$T/inventory
printf '%s back\n%s front\n%s front\n' "$(pod_ns a)" "$(pod_ns b)" "$(pod_ns c)" >"$INV"

for port in 8080 8081; do
	pod_bg a "$T/httpd-$port.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' :: $port 2>'$T/httpd-$port.err'"
	if ! wait_tcp_listen a $port 10; then
		not_ok "HTTP server listens on $port"
		diag "$(cat "$T/httpd-$port.err")"
		done_testing
	fi
done
ok "HTTP servers listen in a on 8080 and 8081"

QUERY="http and dst.port == 8080 and src.pod == \"$(pod_ns b)\""

# curl_each POD URL N: N transfers on one connection; prints "GET PATH CODE" per transfer (the
# client's own view of what it did).
curl_each() {
	local pod=$1 url=$2 n=$3 args=() i
	for ((i = 0; i < n; i++)); do
		args+=(-o /dev/null "$url?n=$((1000 + i))")
	done
	in_pod "$pod" curl -sS --max-time 10 -w '%{method} %{url_effective} %{http_code}\n' "${args[@]}" |
		sed -E 's#^(\S+) http://[^/]+(/\S*) #\1 \2 #'
}

# round NAME [FLOE-ARGS...]: tap a, b, c with --filter, the traffic, stop. Leaves
# $T/NAME.json (entries), $T/NAME.stats.json, $T/NAME.floe.log, $T/NAME.want (b -> a:8080 as
# the client saw it).
round() {
	local name=$1
	shift
	OUT=$T/$name.json ENTRIES_PODS='a|b|c' entries_tap --filter "$QUERY" "$@"
	curl_each b "http://$A:8080/text" $ROUNDS >"$T/$name.want"
	curl_each b "http://$A:8081/text" $ROUNDS >"$T/$name.other"
	curl_each c "http://$A:8080/text" $ROUNDS >>"$T/$name.other"
	is "$(grep -c ' 200$' "$T/$name.want")" $ROUNDS "$name: b's $ROUNDS transfers to a:8080 answered"
	is "$(grep -c ' 200$' "$T/$name.other")" $((2 * ROUNDS)) "$name: the other $((2 * ROUNDS)) transfers answered"
	# Every packet of the connections is recorded before floe stops: the clients are done and
	# the entries are out (the last one's response came).
	OUT=$T/$name.json entries_stop $ROUNDS
}

# entries_view FILE: the entries as the client's lines "METHOD URL STATUS" plus who and where.
entries_view() {
	jq -r '[.request.method, .request.url, (.response.status|tostring), .src.pod, .dst.pod,
		(.dst.port|tostring)] | join(" ")' "$1" | sort
}

round full --no-capture-scope
check_not "without the pushdown: floe loads no capture scope" grep -q '^floe: capture scope: ' "$T/full.floe.log"
round scoped
check "with the pushdown: floe says the scope it loaded" \
	grep -qF "floe: capture scope: (port=8080 & pod=$(pod_ns b))" "$T/scoped.floe.log"
diag "$(grep '^floe: capture scope' "$T/scoped.floe.log")"

# The oracle: the client's own view of b -> a:8080, the same in both rounds.
want=$(sed "s/\$/ $(pod_ns b) $(pod_ns a) 8080/" "$T/full.want" | sort)
is "$(entries_view "$T/full.json")" "$want" "without the pushdown: the entries are b's transfers to a:8080"
is "$(entries_view "$T/scoped.json")" "$want" "with the pushdown: the same entries"

rec_full=$(stat_get "$T/full.stats.json" recorded)
rec_scoped=$(stat_get "$T/scoped.stats.json" recorded)
oos_full=$(stat_get "$T/full.stats.json" out_of_scope)
oos_scoped=$(stat_get "$T/scoped.stats.json" out_of_scope)
tgt_scoped=$(stat_get "$T/scoped.stats.json" targeted)
diag "recorded: $rec_full without the pushdown, $rec_scoped with it ($oos_scoped out of scope of $tgt_scoped targeted)"
is "$oos_full" 0 "without the pushdown: nothing out of scope"
check "with the pushdown: packets out of scope ($oos_scoped)" test "${oos_scoped:-0}" -gt 0
# Two of the three connections' packets go: recorded falls to well under two thirds.
check "with the pushdown: recorded falls ($rec_full -> $rec_scoped)" \
	test "${rec_scoped:-0}" -gt 0 -a "$((rec_scoped * 3))" -lt "$((rec_full * 2))"
is "$((rec_scoped + oos_scoped))" "$tgt_scoped" "with the pushdown: recorded + out of scope = targeted"

# The store holds what was recorded: none of port 8081, none of c.
for name in full scoped; do
	"$FLOE" pcap export --store "$T/$name.store" -o "$T/$name.pcap" 2>"$T/$name.export.err" ||
		diag "$(cat "$T/$name.export.err")"
done
n8081_full=$(pcap_count "$T/full.pcap" "tcp.port == 8081")
n8081=$(pcap_count "$T/scoped.pcap" "tcp.port == 8081")
nc=$(pcap_count "$T/scoped.pcap" "ip.addr == $C")
check "without the pushdown the store has port 8081 ($n8081_full frames)" test "${n8081_full:-0}" -gt 0
is "$n8081" 0 "with the pushdown the store has no frame of port 8081"
is "$nc" 0 "with the pushdown the store has no frame of c"
is "$(pcap_count "$T/scoped.pcap")" "$rec_scoped" "with the pushdown the store has the recorded frames"

done_testing
