#!/usr/bin/env bash
# Generates the DNS capture of the dissection benchmark: build/bench/dns.pcap (tens of MB,
# a few hundred thousand DNS messages over UDP and TCP) made by real servers and clients.
# Reused as it is when it already exists and is big enough (BENCH_REGEN=1 makes a new one).
# build/ is not in git.
#
# Topology (selftests/lib/pods.sh): pods "cli" and "srv" on one node netns bridge; traffic only
# between them. In srv: dnsmasq (Debian's dnsmasq-base), authoritative for test.floe from flags
# (A, AAAA, CNAME, MX, SRV, TXT, CAA, SOA/NS; NXDOMAIN for other names), no upstream, bound to
# srv's address. In cli: dnsperf (Debian's dnsperf) with a query file mixing those names and
# types (and some NXDOMAIN), first over UDP (BENCH_DNS_UDP_SECONDS, default 10, at most
# BENCH_DNS_QPS queries a second, default 20000), then over TCP (BENCH_DNS_TCP_SECONDS, default
# 4, 4 clients, queries pipelined on each connection). tcpdump -i v-srv -s 0 records it all in
# the node netns.
#
# The same messages in tshark:
#   tshark -r build/bench/dns.pcap -Y dns -T fields -e frame.number -e dns.id \
#     -e dns.flags.response -e dns.qry.name -e dns.flags.rcode
#
# Environment: BENCH_DNS_CAPTURE (output path), BENCH_DNS_MIN_BYTES (reuse threshold, default
# 20 MB), BENCH_REGEN=1, BENCH_DNS_UDP_SECONDS, BENCH_DNS_TCP_SECONDS, BENCH_DNS_QPS.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib/pods.sh"
ROOT=$(floe_root)
OUT=${BENCH_DNS_CAPTURE:-$ROOT/build/bench/dns.pcap}
WANT=${BENCH_DNS_MIN_BYTES:-20000000}
UDP_S=${BENCH_DNS_UDP_SECONDS:-10}
TCP_S=${BENCH_DNS_TCP_SECONDS:-4}
QPS=${BENCH_DNS_QPS:-20000}

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

if [ -z "${BENCH_REGEN:-}" ] && [ "$(fsize "$OUT")" -ge "$WANT" ]; then
	echo "gen_dns: reusing $OUT ($(fsize "$OUT") bytes)" >&2
	exit 0
fi

test_timeout $((UDP_S + TCP_S + 120)) "$0" "$@"
set -o pipefail
PART=$OUT.part
TCPDUMP_PID=

cleanup() {
	[ -n "$TCPDUMP_PID" ] && bg_stop "$TCPDUMP_PID" INT
	pods_cleanup
	rm -f -- "$PART"
}
trap cleanup EXIT
trap 'echo "gen_dns: interrupted" >&2; exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "gen_dns: must run as root" >&2
	exit 1
fi
for t in dnsmasq dnsperf tcpdump; do
	command -v $t >/dev/null || { echo "gen_dns: $t missing (make deps)" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"

pods_tmp
T=$PODS_TMP
CLI=10.213.8.11 SRV=10.213.8.12
pod_add cli $CLI && pod_add srv $SRV || { echo "gen_dns: pods" >&2; exit 1; }

pod_bg srv "$T/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--no-poll --pid-file= --user=root --log-facility=- --cache-size=0 \
	--bind-interfaces --listen-address=$SRV --port=53 \
	--auth-server=ns.test.floe,$SRV --auth-zone=test.floe --auth-soa=2024050101,hostmaster.test.floe \
	--host-record=web.test.floe,10.213.8.50,fd00:f10e::50 --host-record=ns.test.floe,$SRV \
	--host-record=db.test.floe,10.213.8.60 --host-record=mail.test.floe,10.213.8.51 \
	--cname=www.test.floe,web.test.floe --mx-host=test.floe,mail.test.floe,10 \
	--srv-host=_http._tcp.test.floe,web.test.floe,8080,5,20 \
	--txt-record=txt.test.floe,"v=spf1 -all","a second string" \
	--caa-record=test.floe,0,issue,letsencrypt.org
end=$(($(date +%s) + 10))
until in_pod srv ss -Hlun "sport = :53" | grep -q . && wait_tcp_listen srv 53 1; do
	if [ "$(date +%s)" -ge "$end" ]; then
		echo "gen_dns: dnsmasq does not listen" >&2
		cat "$T/dnsmasq.log" >&2
		exit 1
	fi
	sleep 0.1
done

cat >"$T/queries" <<'EOF'
web.test.floe A
web.test.floe AAAA
www.test.floe A
test.floe MX
_http._tcp.test.floe SRV
txt.test.floe TXT
test.floe CAA
test.floe SOA
test.floe NS
db.test.floe A
mail.test.floe A
nothere.test.floe A
missing.test.floe AAAA
EOF

node_bg "$T/tcpdump.log" tcpdump -i v-srv -s 0 -B 65536 -U -w "$PART" udp port 53 or tcp port 53
TCPDUMP_PID=$BG_PID
sleep 1
in_pod cli dnsperf -s $SRV -d "$T/queries" -l "$UDP_S" -Q "$QPS" -c 4 -q 64 >"$T/perf-udp.log" 2>&1
in_pod cli dnsperf -m tcp -s $SRV -d "$T/queries" -l "$TCP_S" -c 4 -q 32 >"$T/perf-tcp.log" 2>&1
sleep 1
bg_stop "$TCPDUMP_PID" INT
TCPDUMP_PID=
grep -E 'Queries (sent|completed)' "$T/perf-udp.log" "$T/perf-tcp.log" | sed 's/^/gen_dns: /' >&2
grep -E 'dropped by kernel' "$T/tcpdump.log" | sed 's/^/gen_dns: tcpdump: /' >&2
mv -- "$PART" "$OUT"
echo "gen_dns: wrote $OUT ($(fsize "$OUT") bytes)" >&2
