#!/usr/bin/env bash
# Integration: where floe's TLS reading reaches and where it is blind (docs/tls.md, issue 17).
# Pod a (namespace "front") is tapped; pod b ("back", not tapped, so its libssl users do not
# count) runs Python's http.server over TLS. Nothing in a uses OpenSSL when floe starts.
#   1. A library loaded later: tlsdl (selftests/integration/tlsdl, not linked against OpenSSL)
#      starts after floe, dlopen()s libssl.so.3 only when told, and floe must probe libssl
#      then (the sys_enter_mmap tracepoint: "hooked" in its log, tls_mmaps in its live stats).
#      Its HTTPS GETs must then be entries with "tls": true, process tlsdl, the status, body
#      size and local port tlsdl itself reports, and b's real endpoint.
#   2. Probes removed (--tls-unprobe-after 0.2: 30 s by default, so that a program run again
#      and again keeps them): once tlsdl has exited, no tapped process maps libssl: "unhooked" in
#      the log and the live tls_probes (hub /api/v1/stats) 0. Another tlsdl in a probes it
#      again (tls_probes > 0, its request an entry), and after it 0 again. A process still using
#      libssl in a pod that is untapped (its network namespace removed): 0 as well.
#   3. Blind: a copy of libssl whose dynamic symbols lack SSL_read/SSL_write, dlopen()ed by a
#      process of a: the agent's stats (hub /api/v1/stats) and /api/v1/agents list it in
#      tls_blind with its pod, namespace, pid, process, library and reason; the log says so;
#      when the process ends it leaves the list.
# Usage (root, from the repo root): bash selftests/integration/test_tls_coverage.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.61.11 B=10.213.61.12
SPORT=4433
LIBSSL=/usr/lib/x86_64-linux-gnu/libssl.so.3
H=http://127.0.0.1:8899

need_cmd "openssl, curl, cc, jq, python3 are installed" openssl curl cc jq "$PY" || done_testing
[ -f "$LIBSSL" ] || { skip "libssl.so.3" "$LIBSSL is not there"; done_testing; }
entries_pods $A $B
LOG=$T/entries.floe.log
hub_get() { on_node curl -sS --max-time 5 "$@"; }
# The agent's live stats field F (the hub's /api/v1/stats of floe tap's in-process agent).
live() { hub_get "$H/api/v1/stats" 2>/dev/null | jq -c ".agents[0].stats.$1" 2>/dev/null; }
# wait_for SECS CMD...: until CMD succeeds, bounded.
wait_for() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
live_is() { [ "$(live "$1")" = "$2" ]; }
live_gt0() { local v; v=$(live "$1"); [ -n "$v" ] && [ "$v" != null ] && [ "$v" -gt 0 ]; }
log_count() { grep -c -- "$1" "$LOG"; }
log_has_n() { [ "$(log_count "$1")" -ge "$2" ]; }

cc -O2 -Wall -Werror -o "$T/tlsdl" "$HERE/tlsdl/tlsdl.c" 2>"$T/cc.log" ||
	{ not_ok "build tlsdl"; diag "$(cat "$T/cc.log")"; done_testing; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; diag "$(cat "$T/req.log")"; done_testing; }
# The server: Python's http.server over TLS (responses with a Content-Length).
mkdir -p "$T/www/dl"
for i in 1 2 3; do head -c $((3000 + i * 1000)) /dev/urandom | base64 -w 0 >"$T/www/dl/$i"; done
pod_bg b "$T/https.log" "$PY" -c '
import http.server, ssl, sys, functools
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
s = http.server.ThreadingHTTPServer(("", int(sys.argv[4])), h)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()' "$T/cert.pem" "$T/key.pem" "$T/www" $SPORT
wait_tcp_listen b $SPORT 10 || { not_ok "the HTTPS server listens in b"; diag "$(cat "$T/https.log")"; done_testing; }

ENTRIES_PODS=a entries_tap --proxy-host 127.0.0.1 --tls-unprobe-after 0.2
check_not "at the start nothing in a maps libssl: not hooked yet" grep -q "floe: tls: hooked .*libssl" "$LOG"
wait_for 5 live_is tls_probes 0 || diag "tls_probes at start: $(live tls_probes)"
is "$(live tls_probes)" 0 "live stats: 0 uprobes attached at the start"

# ---------------------------------------------------------------- 1. dlopen after the start
mkfifo "$T/dl.in"
ip netns exec "$(pod_ns a)" "$T/tlsdl" "$LIBSSL" $B $SPORT 3 <"$T/dl.in" >"$T/dl.out" 2>"$T/dl.err" &
DL_PID=$!
bg_track $DL_PID
exec 7>"$T/dl.in"
wait_for 5 grep -q started "$T/dl.out" || not_ok "tlsdl started"
sleep 0.3 # its loader's own mmaps are over (none of them is libssl)
check_not "tlsdl running, libssl not loaded yet: not hooked" grep -q "floe: tls: hooked .*libssl" "$LOG"
t0=$(date +%s%N)
echo load >&7
wait_for 5 grep -q loaded "$T/dl.out" || { not_ok "tlsdl loaded libssl"; diag "$(cat "$T/dl.err")"; }
if wait_for 5 grep -q "floe: tls: hooked .*libssl.so.3" "$LOG"; then
	ok "floe probed libssl after tlsdl's dlopen"
	diag "dlopen to 'hooked' seen by the test within $((($(date +%s%N) - t0) / 1000000)) ms"
else
	not_ok "floe probed libssl after tlsdl's dlopen"
fi
wait_for 3 live_gt0 tls_mmaps
check "live stats: the mmap of libssl was reported (tls_mmaps $(live tls_mmaps))" live_gt0 tls_mmaps
wait_for 3 live_gt0 tls_probes
check "live stats: uprobes attached ($(live tls_probes))" live_gt0 tls_probes
echo go >&7
exec 7>&-
wait "$DL_PID"
is "$?" 0 "tlsdl made its requests"
is "$(wc -l <"$T/dl.out")" 5 "tlsdl: started, loaded and 3 responses"
entries_wait_tls "$OUT" 3 10 || diag "TLS entries: $(jq -c 'select(.tls == true)' "$OUT" | wc -l)"
i=0
while read -r code size lport; do
	i=$((i + 1))
	e=$(jq -c "select(.tls == true and .request.url == \"/dl/$i\")" "$OUT")
	is "$(grep -c . <<<"$e")" 1 "request $i of tlsdl: one TLS entry"
	e=$(head -n 1 <<<"$e")
	is "$(jq -r .process <<<"$e")" tlsdl "request $i: process tlsdl"
	is "$(jq -r .pid <<<"$e")" "$DL_PID" "request $i: tlsdl's pid"
	is "$(jq -r .response.status <<<"$e")" "$code" "request $i: status $code as tlsdl got"
	is "$(jq -r .response.body.size <<<"$e")" "$size" "request $i: $size body bytes as tlsdl got"
	is "$(jq -r '.src.ip + ":" + (.src.port|tostring)' <<<"$e")" "$A:$lport" "request $i: client $A:$lport (tlsdl's socket)"
	is "$(jq -r '.dst.ip + ":" + (.dst.port|tostring) + " " + .dst.pod' <<<"$e")" "$B:$SPORT $(pod_ns b)" "request $i: server b"
done < <(tail -n 3 "$T/dl.out")

# ---------------------------------------------------------------- 2. probes removed, and back
if wait_for 5 grep -q "floe: tls: unhooked .*libssl.so.3: no tapped process uses it" "$LOG"; then
	ok "tlsdl gone: libssl unhooked"
else
	not_ok "tlsdl gone: libssl unhooked"
fi
wait_for 3 live_is tls_probes 0
is "$(live tls_probes)" 0 "live stats: 0 uprobes attached once no tapped process uses libssl"
# Again a process of a that loads libssl (tlsdl, so the test knows when floe has probed it).
mkfifo "$T/dl2.in"
ip netns exec "$(pod_ns a)" "$T/tlsdl" "$LIBSSL" $B $SPORT 1 <"$T/dl2.in" >"$T/dl2.out" 2>"$T/dl2.err" &
DL2_PID=$!
bg_track $DL2_PID
exec 7>"$T/dl2.in"
echo load >&7
check "a second tlsdl in a probes libssl again (hooked twice in all)" wait_for 5 log_has_n "floe: tls: hooked .*libssl.so.3" 2
wait_for 3 live_gt0 tls_probes
check "live stats: uprobes attached again ($(live tls_probes))" live_gt0 tls_probes
echo go >&7
exec 7>&-
wait "$DL2_PID"
read -r ccode csize cport < <(tail -n 1 "$T/dl2.out")
entries_wait_tls "$OUT" 4 10
e=$(jq -c "select(.tls == true and .pid == $DL2_PID)" "$OUT")
is "$(grep -c . <<<"$e")" 1 "its request: one TLS entry after the probes came back"
[ -n "$e" ] || diag "entries: $(jq -c '[.pid, .process, .protocol, .request.url, .response.status, .src.port]' "$OUT"); tlsdl: $(cat "$T/dl2.out" "$T/dl2.err"); pid $DL2_PID"
is "$(jq -r '.process + " " + (.response.status|tostring) + " " + (.src.port|tostring)' <<<"$e")" \
	"tlsdl $ccode $cport" "its request: process, status and port as tlsdl saw"
check "and unhooked again after it" wait_for 5 log_has_n "floe: tls: unhooked .*libssl.so.3" 2
wait_for 3 live_is tls_probes 0
is "$(live tls_probes)" 0 "live stats: 0 uprobes again"

# ---------------------------------------------------------------- 3. blind
blind_libssl "$LIBSSL" "$T/blind/libssl.so.3"
mkfifo "$T/bl.in"
ip netns exec "$(pod_ns a)" "$T/tlsdl" "$T/blind/libssl.so.3" hold <"$T/bl.in" >"$T/bl.out" 2>"$T/bl.err" &
BL_PID=$!
bg_track $BL_PID
exec 7>"$T/bl.in"
wait_for 5 grep -q loaded "$T/bl.out" || { not_ok "tlsdl loaded the stripped copy"; diag "$(cat "$T/bl.err")"; }
check "the log says floe is blind to it" wait_for 5 grep -q \
	"floe: tls: process $BL_PID (tlsdl) of $(pod_ns a) uses $T/blind/libssl.so.3, which could not be probed" "$LOG"
blind_has() { [ "$(live tls_blind | jq "[.[] | select(.pid == $BL_PID)] | length")" = 1 ]; }
wait_for 3 blind_has
b=$(live tls_blind | jq -c ".[] | select(.pid == $BL_PID)")
diag "tls_blind: $b"
is "$(jq -r '[.pod, .namespace, .process, .library] | join(" ")' <<<"$b")" \
	"$(pod_ns a) front tlsdl $T/blind/libssl.so.3" "/api/v1/stats: tls_blind names the pod, namespace, process and library"
check "its reason names the missing function" grep -q "SSL_read" <<<"$(jq -r .reason <<<"$b")"
is "$(live tls_blind_count)" 1 "tls_blind_count 1"
hub_get "$H/api/v1/agents" >"$T/agents.json"
is "$(jq -c ".agents[0].tls_blind[] | select(.pid == $BL_PID)" "$T/agents.json")" "$b" \
	"/api/v1/agents: the same item under the agent"
echo bye >&7
exec 7>&-
wait "$BL_PID"
blind_empty() { [ "$(live tls_blind)" = "[]" ]; }
check "the process gone, tls_blind is empty" wait_for 3 blind_empty

# ---------------------------------------------------------------- 2b. a pod untapped
mkfifo "$T/h.in"
ip netns exec "$(pod_ns a)" "$T/tlsdl" "$LIBSSL" hold <"$T/h.in" >"$T/h.out" 2>"$T/h.err" &
H_PID=$!
bg_track $H_PID
exec 7>"$T/h.in"
wait_for 5 grep -q loaded "$T/h.out"
wait_for 5 live_gt0 tls_probes
check "a process of a holds libssl: probes attached ($(live tls_probes))" live_gt0 tls_probes
ip netns del "$(pod_ns a)" # the process keeps the namespace alive; the pod is gone for floe
check "pod a untapped: floe says it is gone" wait_for 5 grep -q "floe: pod .*$(pod_ns a) is gone" "$LOG"
wait_for 5 live_is tls_probes 0
is "$(live tls_probes)" 0 "pod untapped, its process still running: 0 uprobes"
check "the process still runs" kill -0 "$H_PID"
echo bye >&7
exec 7>&-
wait "$H_PID"

floe_stop
is "$?" 0 "floe exits 0"
x=${OUT%.json}
is "$(jq -r .tls_probes "$x.stats.json")" 0 "--stats-json: tls_probes 0 at the end"
check "--stats-json: libraries unhooked counted ($(jq -r .tls_libs_unhooked "$x.stats.json"))" \
	test "$(jq -r .tls_libs_unhooked "$x.stats.json")" -ge 3
check "--stats-json: tls_blind is an array" jq -e '.tls_blind | type == "array"' "$x.stats.json"
diag "$(grep -E "^  tls:|floe: tls" "$LOG")"
entries_diag "$OUT"
done_testing
