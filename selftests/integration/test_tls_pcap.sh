#!/usr/bin/env bash
# Integration: the TLS plaintext floe reads through uprobes, exported as PCAP (docs/tls.md,
# "The plaintext as PCAP"). Pods a (curl, "front") and b (nginx with TLS, "back"); nginx
# serves HTTP/1.1 on one port and HTTP/2 on another, so that tshark can be told which is which.
#   - curl makes H1_N HTTP/1.1 requests (one connection each) and one HTTP/2 connection with
#     two requests, a large body among them (many MSS-sized segments).
#   - `floe pcap export --tls-plaintext`: tshark (the oracle) finds in it exactly the requests
#     curl made (its own -w output: URL, status, local port) and that floe's entries have, no
#     expert warning or error with the checksums checked, each connection once (both ends are
#     read, curl's and nginx's: one is written), and every frame carries the synthetic mark.
#   - `floe pcap export` (the captured packets): the ciphertext of the same connections, TLS
#     application data, and no synthetic frame, no HTTP.
#   - the in-process hub's /api/v1/pcap (`floe pcap export --hub`) for the curl side's TLS
#     entries: the plaintext of the same requests.
#   - the counters: tls_pcap_frames in --stats-json is the plaintext export's frame count,
#     tls_pcap_conns curl's connections; the agent's live stats (the hub's /api/v1/stats)
#     count frames while floe runs.
#   - --tls-pcap=false: the entries as before, no synthetic packet in the store.
# Usage (root, from the repo root): bash selftests/integration/test_tls_pcap.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
source "$HERE/../bench/nginx_conf.sh"

T=$PODS_TMP
A=10.213.57.11 B=10.213.57.12
H1PORT=8443 H2PORT=8444
H1_N=3
MARK='02:66:6c:6f:65:0[12]'

need_cmd "openssl, curl, nginx, jq, tshark are installed" openssl curl nginx jq tshark || done_testing
entries_pods $A $B

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; diag "$(cat "$T/req.log")"; done_testing; }
mkdir -p "$T/www"
echo "floe tls pcap" >"$T/www/index.html"
for i in $(seq 1 $H1_N); do echo "page $i" >"$T/www/p$i.html"; done
head -c 60000 /dev/urandom | base64 -w 0 >"$T/www/big.txt"
# Two listen lines through nginx_conf's one: HTTP/1.1 only, and HTTP/2.
nginx_conf "$T/nginx.conf" "$T" "$B:$H1PORT ssl; listen $B:$H2PORT ssl http2" "$T/www" 1024 "" on \
	"$T/cert.pem" "$T/key.pem"
pod_bg b "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
if ! wait_tcp_listen b $H2PORT 10; then
	not_ok "nginx listens in b"
	diag "$(cat "$T/nginx.log" "$T/nginx/error.log" 2>/dev/null)"
	done_testing
fi
ok "nginx with TLS listens in b"

entries_tap --proxy-hub-port 0 --proxy-front-port 0
HUBPORT=$(sed -n 's|^floe: hub API at http://127.0.0.1:\([0-9]*\)/$|\1|p' "${OUT%.json}.floe.log")

# What curl made: "URL STATUS LOCALPORT" per request.
: >"$T/curl.w"
for i in $(seq 1 $H1_N); do
	in_pod a curl -sk --http1.1 -o /dev/null -w "/p$i.html %{http_code} %{local_port}\n" \
		"https://$B:$H1PORT/p$i.html" >>"$T/curl.w" 2>>"$T/curl.err" ||
		diag "curl $i: $(cat "$T/curl.err")"
done
in_pod a curl -sk --http2 -o /dev/null -o /dev/null -w '%{url_effective} %{http_code} %{local_port}\n' \
	"https://$B:$H2PORT/index.html" "https://$B:$H2PORT/big.txt" >"$T/curl2.w" 2>>"$T/curl.err" ||
	diag "curl --http2: $(cat "$T/curl.err")"
sed -i "s|^https://$B:$H2PORT||" "$T/curl2.w"
is "$(cat "$T/curl.w" "$T/curl2.w" | wc -l)" $((H1_N + 2)) "curl made $((H1_N + 2)) requests"

# Each request gives an entry on each side (curl's and nginx's).
entries_wait "$OUT" $((2 * (H1_N + 2))) 15 || diag "only $(grep -c . "$OUT") entries"
x=${OUT%.json}
# The hub, while floe runs: the plaintext behind curl's side's TLS entries.
if [ -n "$HUBPORT" ]; then
	on_node "$FLOE" pcap export --hub "http://127.0.0.1:$HUBPORT" -q 'tls and process == "curl"' \
		-o "$x.hub.pcap" >"$x.hub.log" 2>&1
	is "$?" 0 "floe pcap export --hub exits 0"
	# The agent's stats, live: the synthetic frames counted (the loop's copy of each second).
	live=0
	for _ in $(seq 1 100); do
		live=$(on_node curl -s "http://127.0.0.1:$HUBPORT/api/v1/stats" | jq -r '.agents[0].stats.tls_pcap_frames // 0')
		[ "${live:-0}" -gt 0 ] 2>/dev/null && break
		sleep 0.1
	done
	check "the agent's live stats count synthetic frames (tls_pcap_frames $live)" test "${live:-0}" -gt 0
else
	not_ok "floe tap says where its hub is"
fi
entries_stop $((2 * (H1_N + 2)))
[ -n "${TLS_PCAP_KEEP:-}" ] && cp -r "$T" "$TLS_PCAP_KEEP"
diag "$(grep -E '^  tls:' "$x.floe.log")"

on_node "$FLOE" pcap export --tls-plaintext -o "$x.plain.pcap" --store "$x.store" >"$x.export.log" 2>&1
is "$?" 0 "floe pcap export --tls-plaintext exits 0"
on_node "$FLOE" pcap export -o "$x.cipher.pcap" --store "$x.store" >>"$x.export.log" 2>&1
is "$?" 0 "floe pcap export exits 0"

# tshark: the HTTP/1.1 requests (port H1PORT) and the HTTP/2 ones (H2PORT) with the client's
# port and the response's status, as "URL STATUS PORT" sorted.
TS=(-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -d tcp.port==$H1PORT,http -d tcp.port==$H2PORT,http2)
ts_requests() {
	{
		tshark -r "$1" "${TS[@]}" -Y "http.response && tcp.srcport == $H1PORT" \
			-T fields -e http.response_for.uri -e http.response.code -e tcp.dstport |
			sed 's|^https\?://[^/]*||' | tr '\t' ' '
		# HTTP/2: each stream's :path and :status, by client port and stream id.
		tshark -r "$1" "${TS[@]}" -Y "http2.header && tcp.port == $H2PORT" -T json \
			-J "tcp http2" --no-duplicate-keys |
			jq -r --argjson sp $H2PORT '.[]._source.layers as $l |
				($l.tcp["tcp.srcport"] | tonumber) as $s |
				(if $s == $sp then $l.tcp["tcp.dstport"] else $l.tcp["tcp.srcport"] end) as $c |
				[$l.http2 | if type == "array" then .[] else . end |
				 .["http2.stream"] | if type == "array" then .[] else . end] | .[] |
				select(type == "object") | .["http2.streamid"] as $id |
				[.. | objects | select(has("http2.header.name")) |
				 select(.["http2.header.name"] == ":path" or .["http2.header.name"] == ":status") |
				 [.["http2.header.name"], .["http2.header.value"]]] | .[] |
				[$c, $id, .[0], .[1]] | @tsv' |
			awk -F'\t' '$3 == ":path" { p[$1" "$2] = $4 } $3 == ":status" { st[$1" "$2] = $4 }
				END { for (k in p) { split(k, a, " "); print p[k], st[k], a[1] } }'
	} 2>"$1.tshark.err" | sort
}
sort "$T/curl.w" "$T/curl2.w" >"$T/curl.all"
ts_requests "$x.plain.pcap" >"$T/plain.req"
is "$(cat "$T/plain.req")" "$(cat "$T/curl.all")" \
	"tshark finds in the plaintext export exactly the requests curl made (URL, status, client port)"
is "$(grep -v '^Running as user' "$x.plain.pcap.tshark.err")" "" \
	"tshark reads the plaintext export without a message"
# floe's entries, curl's side: the same set.
jq -r 'select(.tls == true and .process == "curl") |
	"\(.request.url // .request.path) \(.response.status) \(.src.port)"' "$OUT" | sort >"$T/entries.req"
is "$(cat "$T/entries.req")" "$(cat "$T/curl.all")" "floe's curl-side entries are those requests"
is "$(jq -c 'select(.tls == true and .process == "nginx")' "$OUT" | wc -l)" $((H1_N + 2)) \
	"and nginx's side has as many"

# No warning: the expert info, checksums checked.
tshark -r "$x.plain.pcap" "${TS[@]}" -q -z expert,warn >"$T/expert.txt" 2>&1
if grep -qE '^(Errors|Warns) \(' "$T/expert.txt"; then
	not_ok "tshark's expert info: no warning or error in the plaintext export"
	diag "$(head -n 30 "$T/expert.txt")"
else
	ok "tshark's expert info: no warning or error in the plaintext export"
fi
# One TCP conversation per connection curl made: the other end's copy is not written.
is "$(tshark -r "$x.plain.pcap" -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)" $((H1_N + 1)) \
	"$((H1_N + 1)) TCP conversations in the plaintext export (curl's connections, once each)"
n_all=$(tshark -r "$x.plain.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
check "the plaintext export has frames ($n_all)" test "$n_all" -gt 10
n_mark=$(tshark -r "$x.plain.pcap" -T fields -e eth.src -e eth.dst 2>/dev/null |
	grep -cE "^$MARK	$MARK\$")
is "$n_mark" "$n_all" "every frame of the plaintext export carries the synthetic mark"
# --stats-json: the frames written are those exported; one connection written per curl
# connection, the other end's chunks skipped.
is "$(stat_get "$x.stats.json" tls_pcap_frames)" "$n_all" "--stats-json: tls_pcap_frames is the plaintext export's frames"
is "$(stat_get "$x.stats.json" tls_pcap_conns)" $((H1_N + 1)) "--stats-json: tls_pcap_conns is curl's connections"
check "--stats-json: the other end's chunks skipped ($(stat_get "$x.stats.json" tls_pcap_dup_skipped))" \
	test "$(stat_get "$x.stats.json" tls_pcap_dup_skipped)" -gt 0
# MSS-sized segments: big.txt's response is cut to at most 1460 bytes of TCP payload.
max=$(tshark -r "$x.plain.pcap" -T fields -e tcp.len 2>/dev/null | sort -n | tail -n 1)
is "$max" 1460 "segments are at most one MSS (1460 bytes over IPv4)"

# The ciphertext export: TLS records of both ports, no synthetic frame, no HTTP.
n=$(tshark -r "$x.cipher.pcap" -d tcp.port==$H1PORT,tls -d tcp.port==$H2PORT,tls \
	-Y "tls.app_data" 2>/dev/null | wc -l)
check "the captured export holds the TLS application data ($n records)" test "$n" -gt 0
is "$(tshark -r "$x.cipher.pcap" -T fields -e eth.src 2>/dev/null | grep -cE "^$MARK\$")" 0 \
	"no synthetic frame in the captured export"
is "$(ts_requests "$x.cipher.pcap" | grep -c .)" 0 "no HTTP in the captured export"

# The hub's export: curl's side's entries' plaintext, the same requests.
if [ -s "$x.hub.pcap" ]; then
	ts_requests "$x.hub.pcap" >"$T/hub.req"
	is "$(cat "$T/hub.req")" "$(cat "$T/curl.all")" \
		"the hub's PCAP of curl's TLS entries: tshark finds the same requests"
	is "$(tshark -r "$x.hub.pcap" -T fields -e eth.src 2>/dev/null | grep -cvE "^$MARK\$")" 0 \
		"the hub's PCAP of those entries holds only synthetic frames"
else
	not_ok "the hub's PCAP of curl's TLS entries"
	diag "$(cat "$x.hub.log")"
fi

# --tls-pcap=false: the entries still come, the store keeps no plaintext.
OUT=$T/nopcap.json entries_tap --tls-pcap=false --no-hub
in_pod a curl -sk --http1.1 -o /dev/null "https://$B:$H1PORT/p1.html" 2>>"$T/curl.err"
OUT=$T/nopcap.json entries_stop 2
is "$(jq -c 'select(.tls == true and .request.url == "/p1.html")' "$T/nopcap.json" | wc -l)" 2 \
	"--tls-pcap=false: the request's entries, both ends"
on_node "$FLOE" pcap export --tls-plaintext -o "$T/nopcap.plain.pcap" --store "$T/nopcap.store" \
	>"$T/nopcap.export.log" 2>&1
# "exported 0 of N packets": the store has the captured ones, none of them synthetic.
check "--tls-pcap=false: no synthetic packet among the stored ones ($(cat "$T/nopcap.export.log"))" \
	grep -qE '^floe: exported 0 of [1-9][0-9]* packets' "$T/nopcap.export.log"
check "--tls-pcap=false: no summary line of synthetic frames" \
	sh -c "! grep -q 'plaintext to the store' '$T/nopcap.floe.log'"
is "$(stat_get "$T/nopcap.stats.json" tls_pcap_frames)" 0 "--tls-pcap=false: tls_pcap_frames 0 in --stats-json"
done_testing
