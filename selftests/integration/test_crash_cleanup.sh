#!/usr/bin/env bash
# Integration: a floe killed with SIGKILL leaves its TC hooks behind (nothing can run at
# SIGKILL); the next floe in the same network namespace must start fine and leave the veths
# clean when it exits.
#
# "Clean" here means, for each tapped pod's host-side veth (v-a, v-b, created by this test with
# no qdisc or filter of their own):
#   - `tc filter show dev IF ingress` and `... egress` print nothing: no floe filter (handle and
#     priority 0xf10e, program floe_tc_*) from either run remains;
#   - the clsact qdisc floe created is gone too (`tc qdisc show dev IF` has no clsact);
#   - the BPF programs the crashed run had attached no longer exist (their ids are gone from
#     `bpftool prog show`), i.e. nothing keeps them alive;
#   - and while the second run taps, each hook holds exactly one floe filter (the stale filter
#     was replaced, not stacked next to the new one).
# Also: the store the crashed run was writing is reused by the second run and exports without
# tshark warnings.
# A third run ends by itself (--duration 1) and must leave the veths clean too.
# Usage (root, from the repo root): bash selftests/integration/test_crash_cleanup.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"

T=$PODS_TMP
A=10.213.3.11 B=10.213.3.12
STORE=$T/store PCAP=$T/export.pcap

pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
mkdir -p "$T/www" && echo hello >"$T/www/hello.txt"
pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T/www"
wait_tcp_listen a 8080 10 || { not_ok "HTTP server listens"; done_testing; }
get() { in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?run=$1"; }

# hook_filters IF DIR: the filters on one hook, one per line (tc prints a chain line, then one
# line with the handle per filter).
hook_filters() { on_node tc filter show dev "$1" "$2" 2>/dev/null | grep -E '^filter .* handle '; }
# prog_ids: ids of the BPF programs of the filters on v-a and v-b.
prog_ids() {
	local ifc dir
	for ifc in v-a v-b; do
		for dir in ingress egress; do
			hook_filters $ifc $dir | grep -oE ' id [0-9]+' | awk '{ print $2 }'
		done
	done | sort -u
}

# --- first run, killed with SIGKILL while tapping
if ! floe_start "$T/floe1.log" --store "$STORE" --stats-json "$T/stats1.json"; then
	not_ok "first floe starts"
	done_testing
fi
ok "first floe starts"
get 1
for ifc in v-a v-b; do
	for dir in ingress egress; do
		is "$(hook_filters $ifc $dir | grep -c .)" 1 "while tapping: one filter on $ifc $dir"
	done
done
diag "filters of the first run:" "$(floe_filters v-a v-b)"
old_ids=$(prog_ids)
diag "program ids of the first run: $(echo $old_ids)"

pid1=$FLOE_PID
FLOE_PID=
kill -KILL "$pid1"
wait "$pid1" 2>/dev/null
is "$?" 137 "first floe killed with SIGKILL"

left=$(floe_filters v-a v-b)
check "after SIGKILL the filters are left behind (expected: nothing runs at SIGKILL)" test -n "$left"
diag "$left"

# --- second run: must start, replace the stale hooks, and clean everything at exit
if ! floe_start "$T/floe2.log" --store "$STORE" --stats-json "$T/stats2.json"; then
	not_ok "second floe starts after a crashed one"
else
	ok "second floe starts after a crashed one"
	get 2
	for ifc in v-a v-b; do
		for dir in ingress egress; do
			is "$(hook_filters $ifc $dir | grep -c .)" 1 \
				"second run: exactly one filter on $ifc $dir (stale one not stacked)"
		done
	done
	new_ids=$(prog_ids)
	is "$(comm -12 <(echo "$old_ids") <(echo "$new_ids") | grep -c .)" 0 \
		"second run: the hooks run its own programs, not the crashed run's"
	floe_stop INT
	is "$?" 0 "second floe exits 0 on SIGINT"
	diag "$(cat "$T/floe2.log")"
fi

is "$(floe_filters v-a v-b)" "" "after the second run: no tc filter on v-a/v-b"

# --- third run: ends by itself (--duration), and cleans up as well. (Not the second run: what
# it checks while tapping must not race a timer.)
if ! floe_start "$T/floe3.log" --duration 1 --store "$STORE" --stats-json "$T/stats3.json"; then
	not_ok "third floe starts"
else
	floe_wait 20
	is "$?" 0 "third floe exits 0 after --duration 1"
fi

is "$(floe_filters v-a v-b)" "" "after the third run: no tc filter on v-a/v-b"
for ifc in v-a v-b; do
	q=$(on_node tc qdisc show dev $ifc | grep clsact)
	is "$q" "" "after the third run: no clsact qdisc on $ifc"
done
still=
for id in $old_ids; do
	if bpftool prog show id "$id" >/dev/null 2>&1; then
		still="$still $id"
	fi
done
is "$still" "" "the crashed run's BPF programs are gone"

# The store survived the crash.
rc=0
on_node "$FLOE" pcap export -o "$PCAP" --store "$STORE" >"$T/export.log" 2>&1 || rc=$?
is "$rc" 0 "floe pcap export of the store a crashed run wrote to exits 0" || diag "$(cat "$T/export.log")"
warn=$(tshark_q -r "$PCAP" -q 2>&1 >/dev/null)
is "$warn" "" "tshark reads that export without warnings"
is_num "$(pcap_count "$PCAP" 'http.request.uri contains "run=2"')" -eq 1 "the second run's HTTP request is in the export"

done_testing
