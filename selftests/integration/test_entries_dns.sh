#!/usr/bin/env bash
# Integration: DNS entries (UDP and TCP) through the real eBPF path. Pod b runs dnsmasq
# (Debian's dnsmasq-base) serving a zone from files and flags in $PODS_TMP: A/AAAA, CNAME, MX,
# SRV, TXT, PTR, CAA, SOA and NS (authoritative zone test.floe, AXFR allowed to pod a),
# NXDOMAIN for unknown names, no upstream (--no-resolv), bound to b's addresses only. Pod a
# runs dig over UDP (IPv4 and IPv6), over TCP (+tcp), several queries on one TCP connection
# (+tcp +keepopen), an AXFR (one entry for all of it; this small zone fits one message), EDNS
# client subnet and NSID, and one query to a port of b where nothing listens (dig +tries=2:
# sent twice, from two ports, never answered). floe taps both pods with --json; every entry
# is compared with dig's own output (selftests/lib/dns_check.py): id, status, flags, counts,
# every answer/authority/additional record in dig's presentation form, the query's EDNS
# options; each query exactly one entry, transport and pods right, the keepopen queries on
# one connection. The unanswered queries must be entries missing their response with reason
# "timeout" once floe's UDP idle timeout (30 s) has passed, printed live. Then `floe read` of
# the exported PCAP gives the same entries.
# Usage (root, from the repo root): bash selftests/integration/test_entries_dns.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.4.11 B=10.213.4.12 A6=fd00:f10e::4:11 B6=fd00:f10e::4:12
DEAD_PORT=5300 # nothing listens there in b
UDP_IDLE=30    # DISSECT_DEFAULT_UDP_IDLE_NS

need_cmd "dnsmasq and dig are installed" dnsmasq dig || done_testing
entries_pods $A $B $A6 $B6

# The zone: hosts file, records as flags. dnsmasq is authoritative for test.floe (SOA, NS,
# NXDOMAIN with the SOA for unknown names, AXFR to pod a).
cat >"$T/hosts" <<EOF
10.213.4.60 db.test.floe
fd00:f10e::60 db.test.floe
10.213.4.61 cache.test.floe
EOF
pod_bg b "$T/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--no-poll --pid-file= --user=root --log-queries --log-facility=- \
	--bind-interfaces --listen-address=$B --listen-address=$B6 --port=53 \
	--auth-server=ns.test.floe,$B --auth-zone=test.floe,10.213.4.0/24 --auth-soa=2024050101,hostmaster.test.floe \
	--auth-peer=$A --auth-ttl=300 \
	--addn-hosts="$T/hosts" \
	--host-record=web.test.floe,10.213.4.50,fd00:f10e::50 \
	--host-record=ns.test.floe,$B \
	--cname=www.test.floe,web.test.floe \
	--mx-host=test.floe,mail.test.floe,10 --host-record=mail.test.floe,10.213.4.51 \
	--srv-host=_http._tcp.test.floe,web.test.floe,8080,5,20 \
	--txt-record=txt.test.floe,"v=spf1 -all","second string with spaces" \
	--caa-record=test.floe,0,issue,letsencrypt.org
end=$(($(date +%s) + 10))
until in_pod b ss -Hlun "sport = :53" 2>/dev/null | grep -q . && wait_tcp_listen b 53 1; do
	if [ "$(date +%s)" -ge "$end" ] || ! kill -0 "$BG_PID" 2>/dev/null; then
		not_ok "dnsmasq listens on 53 (UDP and TCP) in b"
		diag "$(cat "$T/dnsmasq.log")"
		done_testing
	fi
	sleep 0.1
done
ok "dnsmasq listens on 53 (UDP and TCP) in b"

entries_tap

# q TAG DIG-ARGS...: one dig run in pod a against b; its output after "DIG TAG" in $DIGS.
DIGS=$T/dig.log
: >"$DIGS"
q() {
	local tag=$1
	shift
	echo "DIG $tag $*" >>"$DIGS"
	in_pod a timeout 15 dig +nosearch "$@" >>"$DIGS" 2>&1
	echo "END $tag" >>"$DIGS"
}

# First the query nobody answers: it must time out in floe while the rest runs.
start=$(date +%s)
q unanswered @$B -p $DEAD_PORT +tries=2 +timeout=1 +qid=4242 lost.test.floe A
UNANSWERED_AT=$(date +%s)
q a @$B web.test.floe A
q aaaa @$B web.test.floe AAAA
q cname @$B www.test.floe A
q mx @$B test.floe MX
q srv @$B _http._tcp.test.floe SRV
q txt @$B txt.test.floe TXT
q ptr @$B -x 10.213.4.50
q caa @$B test.floe CAA
q soa @$B test.floe SOA
q ns @$B test.floe NS
q hosts-file @$B db.test.floe A
q nxdomain @$B nothere.test.floe A
q ipv6 @$B6 db.test.floe AAAA
q subnet @$B +subnet=10.213.4.0/24 +nsid cache.test.floe A
q nocookie @$B +nocookie +noedns web.test.floe A
q tcp @$B +tcp web.test.floe A
q tcp-mx @$B +tcp test.floe MX
q keepopen @$B +tcp +keepopen web.test.floe A db.test.floe AAAA txt.test.floe TXT nothere.test.floe A
q axfr @$B test.floe AXFR
diag "dig traffic took $(($(date +%s) - start)) s"

ndig=$(grep -c '^;; ->>HEADER<<-' "$DIGS")
# keepopen: 4 queries; AXFR prints no header (its records only); unanswered: none
is "$ndig" 21 "dig printed 21 answers"
# +tries=2: dig sent the unanswered query twice (a retransmission for floe)
check "dig gave up on the unanswered query" grep -qE "timed out|no servers could be reached" "$DIGS"

# The unanswered query becomes an entry only after floe's UDP idle timeout: wait for it (and
# the rest) rather than for a guessed time.
nentries=$((ndig + 3)) # + the AXFR + the unanswered query, sent twice
entries_wait "$OUT" "$nentries" $((UNANSWERED_AT + UDP_IDLE + 10 - $(date +%s)))
entries_stop $nentries

checks "$PY" "$HERE/../lib/dns_check.py" --entries "$OUT" --dig "$DIGS" \
	--client "$(pod_ns a)" --client-ns front --server-pod "$(pod_ns b)" --server-ns back \
	--dnsmasq-log "$T/dnsmasq.log" --dead-port $DEAD_PORT
[ -n "${V:-}" ] && diag "$(jq -c '[.id,.transport,.request.name,.request.type,.response.rcode,.missing_reason]' "$OUT")"

entries_vs_read

done_testing
