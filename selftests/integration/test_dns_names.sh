#!/usr/bin/env bash
# Integration (local mode): names from DNS answers on entries (docs/dns-names.md). Pod d runs
# dnsmasq, answering names (A, AAAA, CNAME chains, TTL 30) for addresses of netns x: x is a pod
# of the node that floe does not tap, and the addresses are on its loopback, so no pod names
# them. Pod a (tapped, as d) asks d with dig, over UDP and TCP, then speaks HTTP to every
# address dig's answer gave. The oracle is dig's own answer: each HTTP entry to an address
# carries, on dst, `dns_name` = the name dig asked for (as dig shows its question, case kept,
# through the CNAMEs) and `name` = that name; an address nobody looked up keeps its IP as name;
# an address two names resolved to carries the most recent one; the client end is still named
# by its pod. --stats-json counts the answers used.
# Usage (root, from the repo root): bash selftests/integration/test_dns_names.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.226.15.11 D=10.226.15.12 X=10.226.15.30
A6=fd00:f10e::15:11 X6=fd00:f10e::15:30
EXT=10.226.16 EXT6=fd00:f116:: # x's loopback addresses: what the names resolve to

need_cmd "dnsmasq, dig and curl are installed" dnsmasq dig curl || done_testing
pod_add a $A $A6 && pod_add d $D && pod_add x $X $X6 || { not_ok "create pods a, d, x"; done_testing; }
INV=$T/inventory
printf '%s front\n%s infra\n%s ext\n' "$(pod_ns a)" "$(pod_ns d)" "$(pod_ns x)" >"$INV"
for i in 1 2 3 4 9; do in_pod x ip addr add $EXT.$i/32 dev lo; done
in_pod x ip -6 addr add ${EXT6}1/128 dev lo
in_pod a ip route add $EXT.0/24 via $X
in_pod a ip -6 route add ${EXT6}/64 via $X6
entries_httpd1 x 8080

# The zone: web (A and AAAA) behind www behind shop (a chain of two CNAMEs), api, and two names
# of one address (old, new). dnsmasq's own names have TTL 0 unless told (--local-ttl).
pod_bg d "$T/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--no-poll --pid-file= --user=root --log-queries --log-facility=- \
	--bind-interfaces --listen-address=$D --port=53 --local-ttl=30 \
	--host-record=web.ext.floe,$EXT.1,${EXT6}1 \
	--cname=www.ext.floe,web.ext.floe --cname=shop.ext.floe,www.ext.floe \
	--host-record=api.ext.floe,$EXT.2 \
	--host-record=old.ext.floe,$EXT.3 --host-record=new.ext.floe,$EXT.3 \
	--host-record=multi.ext.floe,$EXT.4
if ! { wait_udp_listen d 53 10 && wait_tcp_listen d 53 1; }; then
	not_ok "dnsmasq listens on 53 in d"
	diag "$(cat "$T/dnsmasq.log")"
	done_testing
fi
ok "dnsmasq listens on 53 in d"

ENTRIES_PODS="a|d" entries_tap
check "floe taps a and d, not x" grep -qE '^floe: tapping 2 pods' "${OUT%.json}.floe.log"

# ask TAG DIG-ARGS...: dig in a; "QNAME ADDR" lines (dig's question, its A/AAAA answers) to
# $T/TAG.names, dig's whole output to $T/TAG.dig.
ask() {
	local tag=$1
	shift
	in_pod a timeout 10 dig +nosearch @$D "$@" >"$T/$tag.dig" 2>&1
	awk '/^;; QUESTION SECTION:/ {q = 1; next}
	     q && /^;/ {sub(/^;/, ""); qn = $1; sub(/\.$/, "", qn); q = 0; next}
	     /^;; ANSWER SECTION:/ {an = 1; next}
	     an && /^$/ {an = 0}
	     an && ($4 == "A" || $4 == "AAAA") {print qn, $5}' "$T/$tag.dig" >"$T/$tag.names"
}
# get ADDR TAG: one HTTP request from a to ADDR (the tag in its query string).
get() {
	local url="http://$1:8080/text?n=10&tag=$2"
	[[ $1 == *:* ]] && url="http://[$1]:8080/text?n=10&tag=$2"
	in_pod a curl -sS -o /dev/null --max-time 5 "$url" || diag "curl $url failed"
}

ask web web.ext.floe A
ask chain shop.EXT.floe A      # two CNAMEs; the case as asked
ask six web.ext.floe AAAA
ask tcp api.ext.floe A +tcp
ask old old.ext.floe A
is "$(cat "$T/web.names")" "web.ext.floe $EXT.1" "dig: web.ext.floe A" || diag "$(cat "$T/web.dig")"
is "$(cat "$T/chain.names")" "shop.EXT.floe $EXT.1" "dig: shop.EXT.floe through two CNAMEs" ||
	diag "$(cat "$T/chain.dig")"
is "$(cat "$T/six.names")" "web.ext.floe ${EXT6}1" "dig: web.ext.floe AAAA"
is "$(cat "$T/tcp.names")" "api.ext.floe $EXT.2" "dig +tcp: api.ext.floe"
is "$(cat "$T/old.names")" "old.ext.floe $EXT.3" "dig: old.ext.floe"

# Every address dig's answers gave (tagged by the answer), the last answer for it winning
# (shop.EXT.floe after web.ext.floe for EXT.1), then the old name's address, then one nobody
# looked up.
for tag in web chain six tcp; do
	while read -r qname addr; do get "$addr" $tag; done <"$T/$tag.names"
done
get $EXT.3 old
get $EXT.9 nobody
# new.ext.floe now names EXT.3: the next request to it carries the new name.
ask new new.ext.floe A
is "$(cat "$T/new.names")" "new.ext.floe $EXT.3" "dig: new.ext.floe (the same address as old)"
get $EXT.3 new
# dns entries: web, chain, six, tcp, old, new; HTTP: 4 + 3
entries_stop 13

want() { # want TAG: "dns_name name pod" of the dst of the HTTP entry with that tag
	jq -r --arg t "tag=$1" 'select(.protocol == "http" and (.request.url | endswith($t)))
		| "\(.dst.dns_name // "-") \(.dst.name) \(.dst.pod // "-")"' "$OUT"
}
# The oracle: each address named by the last answer dig got for it before the request.
is "$(want web)" "shop.EXT.floe shop.EXT.floe -" \
	"web's address, asked for again as shop.EXT.floe (two CNAMEs) before the request: that name"
is "$(want chain)" "shop.EXT.floe shop.EXT.floe -" "... the chain's own request too"
is "$(want six)" "web.ext.floe web.ext.floe -" "IPv6: the AAAA answer's name"
is "$(want tcp)" "api.ext.floe api.ext.floe -" "an answer over TCP names its address"
is "$(want old)" "old.ext.floe old.ext.floe -" "EXT.3 named old.ext.floe after its answer"
is "$(want new)" "new.ext.floe new.ext.floe -" "... and new.ext.floe after the newer answer"
is "$(want nobody)" "- $EXT.9 -" "an address nobody looked up: its IP"
is "$(jq -r 'select(.protocol == "http") | "\(.src.pod) \(.src.name) \(.src.dns_name // "-")"' "$OUT" | sort -u)" \
	"$(pod_ns a) $(pod_ns a) -" "the client end: its pod"
is "$(jq -r 'select(.protocol == "dns") | "\(.dst.pod) \(.dst.name)"' "$OUT" | sort -u)" \
	"$(pod_ns d) $(pod_ns d)" "the DNS entries' server: pod d"
n_http=$(jq -r 'select(.protocol == "http") | .dst.ip' "$OUT" | wc -l)
is "$n_http" 7 "7 HTTP entries" || entries_diag "$OUT"
st=${OUT%.json}.stats.json
is "$(jq -r '"\(.names_dns_answers) \(.names_dns)"' "$st")" "6 4" \
	"--stats-json: 6 answers named addresses, 4 addresses named ($EXT.1, .2, .3, ${EXT6}1)"
done_testing
