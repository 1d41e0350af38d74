#!/usr/bin/env bash
# Where the time of one SSL call goes with floe reading TLS (docs/tls.md, "Cost"): ssl_calls
# (selftests/bench/ssl_calls.c) in a tapped pod, on a private copy of libssl (see tls.sh), with
# the kernel's BPF run-time statistics on (sysctl kernel.bpf_stats_enabled, put back after):
# per floe TLS program, how many times it ran and its mean run time. The rest of the call's
# extra CPU is the uprobe machinery itself (breakpoint trap, single-step, return trampoline).
# Not pass/fail. Usage (root, from the repo root): bash selftests/bench/tls_prog_cost.sh [CALLS]

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

CALLS=${1:-40000}
T=$PODS_TMP
A=10.213.66.11 B=10.213.66.12
ROOT=$(cd "$HERE/../.." && pwd)
LIBDIR=${LIBDIR:-/usr/lib/x86_64-linux-gnu}
need_cmd "bpftool, openssl, jq" bpftool openssl jq || done_testing
mkdir -p "$T/lib"
cp "$LIBDIR/libssl.so.3" "$LIBDIR/libcrypto.so.3" "$T/lib/"
entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
calls() { in_pod a env LD_LIBRARY_PATH="$T/lib" "$ROOT/build/bench/ssl_calls" "$T/cert.pem" "$T/key.pem" "$CALLS" 100 "$A"; }
diag "without floe: $(calls)"
entries_tap >/dev/null
# A first run maps the library: probed then (not measured).
calls >/dev/null
old=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled='"$old"'; itest_cleanup' EXIT
snap() { bpftool prog show --json | jq -c '[.[] | select(.name | test("^floe_(ssl|tls|go)")) | {id, name, run_cnt: (.run_cnt // 0), run_time_ns: (.run_time_ns // 0)}]'; }
sysctl -qw kernel.bpf_stats_enabled=1
s0=$(snap)
out=$(calls)
s1=$(snap)
sysctl -qw kernel.bpf_stats_enabled="$old"
diag "with floe: $out (load average $(cut -d' ' -f1-3 /proc/loadavg))"
jq -rn --argjson a "$s0" --argjson b "$s1" '
	($a | map({key: (.id | tostring), value: .}) | from_entries) as $o |
	$b[] | . as $p | ($o[$p.id | tostring] // {run_cnt: 0, run_time_ns: 0}) as $q |
	select($p.run_cnt > $q.run_cnt) |
	"\($p.name): \($p.run_cnt - $q.run_cnt) runs, \((($p.run_time_ns - $q.run_time_ns) / ($p.run_cnt - $q.run_cnt)) | floor) ns each"' |
	while read -r l; do diag "$l"; done
floe_stop
ok "measured"
done_testing
