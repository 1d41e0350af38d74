#!/usr/bin/env bash
# Integration: `floe read` names addresses from the capture's own DNS answers (issue 15;
# docs/dns-names.md, "floe read"). Pod d runs dnsmasq (web1 and web2 name one address of netns
# x, one names another); pod a asks with dig and speaks HTTP to the answers, while tcpdump in a
# writes the capture. A request made before any answer, two names of one address answered in
# turn, and a slow response that spans the second answer (its request was made while the
# first name held: it keeps the first). The oracle is tshark on the same file: its DNS answers
# (dns.qry.name, dns.a, TTLs) give every entry's expected dst.dns_name by the documented rule
# (selftests/lib/read_dns_check.py); the story is also checked entry by entry. `floe tap --pcap`
# of the same file names its entries the same way (the same oracle), and `floe read --dns-names 1`
# keeps one name: the slow response then finds the second name only.
# Usage (root, from the repo root): bash selftests/integration/test_read_dns_names.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.240.40.11 D=10.240.40.12 X=10.240.40.30
EXT=10.240.41 # x's loopback addresses: what the names resolve to
CAP=$T/client.pcap

need_cmd "dnsmasq, dig, curl, tcpdump and tshark are installed" dnsmasq dig curl tcpdump tshark ||
	done_testing
pod_add a $A && pod_add d $D && pod_add x $X || { not_ok "create pods a, d, x"; done_testing; }
for i in 1 3; do in_pod x ip addr add $EXT.$i/32 dev lo; done
in_pod a ip route add $EXT.0/24 via $X
entries_httpd1 x 8080

pod_bg d "$T/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--no-poll --pid-file= --user=root --log-queries --log-facility=- \
	--bind-interfaces --listen-address=$D --port=53 --local-ttl=300 \
	--host-record=one.ext.floe,$EXT.1 \
	--host-record=web1.ext.floe,$EXT.3 --host-record=web2.ext.floe,$EXT.3
if ! wait_udp_listen d 53 10; then
	not_ok "dnsmasq listens on 53 in d"
	diag "$(cat "$T/dnsmasq.log")"
	done_testing
fi
ok "dnsmasq listens on 53 in d"

pod_bg a "$T/tcpdump.log" tcpdump -i eth0 --immediate-mode -U -n -w "$CAP" 'tcp or udp'
TCPDUMP_PID=$BG_PID
wait_for_line "$T/tcpdump.log" 'listening on' 10 || { not_ok "tcpdump starts in a"; done_testing; }

ask() { in_pod a timeout 10 dig +nosearch +short @$D "$1" A >"$T/$1.dig" 2>&1; }
get() { in_pod a curl -sS -o /dev/null --max-time 10 "http://$1:8080/text?n=10&tag=$2" ||
	diag "curl $1 $2 failed"; }

get $EXT.1 before   # no answer yet: made before any, it is named by none
ask one.ext.floe
is "$(cat "$T/one.ext.floe.dig")" "$EXT.1" "dig: one.ext.floe"
get $EXT.1 one
ask web1.ext.floe
is "$(cat "$T/web1.ext.floe.dig")" "$EXT.3" "dig: web1.ext.floe"
get $EXT.3 w1a
# A slow response (3 chunks a second apart): its request goes out under web1, it ends after
# the web2 answer.
pod_bg a "$T/slow.err" curl -sS -v -o /dev/null --max-time 20 \
	"http://$EXT.3:8080/chunked?n=300&parts=3&delay=1&tag=slow"
SLOW_PID=$BG_PID
wait_for_line "$T/slow.err" '^< HTTP/1.1 200' 10 || diag "the slow request got no header"
ask web2.ext.floe
is "$(cat "$T/web2.ext.floe.dig")" "$EXT.3" "dig: web2.ext.floe (the same address)"
get $EXT.3 w2
check "the slow response ends after the web2 answer" wait_pid "$SLOW_PID" 20
ask web1.ext.floe
get $EXT.3 w1c
check "a closed every connection" eval "wait_tcp_idle a 8080 10"
# Every packet in the file before tcpdump stops: both FINs of the 6 HTTP connections.
fins=0
for _ in $(seq 100); do
	fins=$(tshark_q -r "$CAP" -Y 'tcp.port == 8080 && tcp.flags.fin == 1' 2>/dev/null | wc -l)
	[ "$fins" -ge 12 ] && break
	sleep 0.1
done
is "$fins" 12 "the capture holds both FINs of the 6 HTTP connections"
bg_stop "$TCPDUMP_PID" INT
wait_pid "$TCPDUMP_PID" 10

"$FLOE" read --json "$CAP" >"$T/entries.json" 2>"$T/read.log"
is "$?" 0 "floe read exits 0" || diag "$(cat "$T/read.log")"
is "$(jq -r 'select(.protocol == "http") | .request.url' "$T/entries.json" | wc -l)" 6 \
	"6 HTTP entries" || entries_diag "$T/entries.json"
is "$(jq -r 'select(.protocol == "dns") | .id' "$T/entries.json" | wc -l)" 4 "4 DNS entries"

want() { # want TAG: "dns_name name" of the dst of the HTTP entry with that tag
	jq -r --arg t "tag=$1" 'select(.protocol == "http" and (.request.url | endswith($t)))
		| "\(.dst.dns_name // "-") \(.dst.name)"' "${T_ENTRIES:-$T/entries.json}"
}
is "$(want before)" "- $EXT.1" "a request before any answer: its IP"
is "$(want one)" "one.ext.floe one.ext.floe" "after one.ext.floe's answer: that name"
is "$(want w1a)" "web1.ext.floe web1.ext.floe" "after web1's answer: web1"
is "$(want slow)" "web1.ext.floe web1.ext.floe" \
	"a request made under web1, ended after web2's answer: web1 (the name at its time)"
is "$(want w2)" "web2.ext.floe web2.ext.floe" "after web2's answer: web2"
is "$(want w1c)" "web1.ext.floe web1.ext.floe" "after web1's answer again: web1"

tshark_q -r "$CAP" -Y 'dns.flags.response == 1 && dns.a' -T fields -E occurrence=a \
	-E aggregator=, -e frame.time_epoch -e dns.qry.name -e dns.a -e dns.resp.ttl \
	>"$T/answers.tsv" 2>"$T/tshark.err"
is "$(wc -l <"$T/answers.tsv")" 4 "tshark: 4 DNS answers with A records" ||
	diag "$(cat "$T/tshark.err")"
checks "$PY" "$HERE/../lib/read_dns_check.py" "$T/entries.json" "$T/answers.tsv"

# `floe tap --pcap`: the capture replayed through the agent's path names the same way (its
# entries are dissected as floe read's are, the answers included); the oracle is the same.
"$FLOE" tap --pcap "$CAP" --store "$T/store" --json --no-hub >"$T/replay.json" 2>"$T/replay.log"
is "$?" 0 "floe tap --pcap exits 0" || diag "$(cat "$T/replay.log")"
http_names() {
	jq -c 'select(.protocol == "http") | [.request.url, .dst.dns_name, .dst.name]' "$1" | sort
}
is "$(http_names "$T/replay.json")" "$(http_names "$T/entries.json")" \
	"floe tap --pcap: every HTTP entry's dst named as floe read names it"
checks "$PY" "$HERE/../lib/read_dns_check.py" "$T/replay.json" "$T/answers.tsv"

# --dns-names bounds the names kept: with one, web2's answer pushes web1's record out, so the
# slow response (made after it) finds web2 alone; the other entries are named as before.
"$FLOE" read --json --dns-names 1 "$CAP" >"$T/entries1.json" 2>"$T/read1.log"
is "$?" 0 "floe read --dns-names 1 exits 0" || diag "$(cat "$T/read1.log")"
want1() { T_ENTRIES=$T/entries1.json want "$1"; }
is "$(want1 slow)" "web2.ext.floe web2.ext.floe" \
	"--dns-names 1: the slow response finds web2 only (web1's record evicted)"
is "$(want1 w1a) $(want1 w2) $(want1 w1c)" \
	"web1.ext.floe web1.ext.floe web2.ext.floe web2.ext.floe web1.ext.floe web1.ext.floe" \
	"--dns-names 1: the entries made right after an answer keep its name"
"$FLOE" read --json --dns-names 0 "$CAP" >/dev/null 2>"$T/read0.log"
is "$?" 2 "floe read --dns-names 0: exit 2"
check "floe read --dns-names 0 says the range" grep -q "dns-names: bad count '0' (1..10000000)" \
	"$T/read0.log"
done_testing
