#!/usr/bin/env bash
# Integration: OpenSSL linked statically into a program (docs/tls.md, "Statically linked").
# tlsstatic (selftests/integration/tlsstatic, linked against Debian's libssl.a and libcrypto.a:
# no libssl.so* in its maps) is an HTTPS client in pod a; nginx with TLS serves pod b.
#   1. With its symbol table: floe must probe the program file itself at its SSL_* symbols
#      ("hooked" names the program). Once hooked, each GET tlsstatic reports (path, status,
#      body size, local port: its own view) must be one entry with "tls": true, process
#      tlsstatic, and those values.
#   2. The same program stripped (`strip`: no .symtab, and a static link exports no .dynsym
#      SSL_*): floe cannot probe it; while it runs it must be listed in tls_blind with its pod,
#      process, program and a reason that says OpenSSL, linked statically, stripped, and the
#      log must say it.
# Usage (root, from the repo root): bash selftests/integration/test_tls_static.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
source "$HERE/../bench/nginx_conf.sh"

T=$PODS_TMP
A=10.213.65.11 B=10.213.65.12 PORT=8443 N=3
LIBDIR=/usr/lib/x86_64-linux-gnu

need_cmd "nginx, openssl, jq" nginx openssl jq || done_testing
if [ ! -f "$LIBDIR/libssl.a" ] || [ ! -f "$LIBDIR/libcrypto.a" ]; then
	skip "a program with OpenSSL linked statically" "no $LIBDIR/libssl.a (libssl-dev)"
	done_testing
fi
cc -O2 -Wall -Werror -o "$T/tlsstatic" "$HERE/tlsstatic/tlsstatic.c" "$LIBDIR/libssl.a" \
	"$LIBDIR/libcrypto.a" -lpthread -ldl 2>"$T/cc.log" &&
	strip -o "$T/tlsstatic-stripped" "$T/tlsstatic" 2>>"$T/cc.log" ||
	{ not_ok "build tlsstatic"; diag "$(cat "$T/cc.log")"; done_testing; }
check_not "tlsstatic maps no libssl.so (linked statically)" sh -c "ldd '$T/tlsstatic' | grep -q libssl"
ok "tlsstatic built, and a stripped copy"

entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
mkdir -p "$T/www/st"
for i in $(seq 1 $N); do head -c $((100 * i)) /dev/zero | tr '\0' s >"$T/www/st/$i"; done
nginx_conf "$T/nginx.conf" "$T" "$B:$PORT ssl" "$T/www" 1024 "" on "$T/cert.pem" "$T/key.pem"
pod_bg b "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
wait_tcp_listen b $PORT 10 || { not_ok "nginx listens"; done_testing; }

entries_tap
x=${OUT%.json}
LOG=$x.floe.log

# 1. A first run gets the file probed (its own requests race with that: not checked).
in_pod a "$T/tlsstatic" $B $PORT 1 >"$T/warm.out" 2>&1
wait_for_line "$LOG" "floe: tls: hooked $T/tlsstatic\$" 10
check "floe probed the program file itself" grep -q "floe: tls: hooked $T/tlsstatic\$" "$LOG"
in_pod a "$T/tlsstatic" $B $PORT $N >"$T/st.out" 2>"$T/st.err"
is "$?" 0 "tlsstatic made $N requests"
is "$(grep -c '^/st/' "$T/st.out")" $N "tlsstatic reported $N answers"
end=$(($(date +%s) + 15))
while read -r path status size lport; do
	sel="select(.tls == true and .process == \"tlsstatic\" and .request.url == \"$path\" and .src.port == $lport)"
	until [ "$(jq -c "$sel" "$OUT" 2>/dev/null | wc -l)" -ge 1 ] || [ "$(date +%s)" -ge "$end" ]; do
		sleep 0.2
	done
	e=$(jq -c "$sel" "$OUT" 2>/dev/null | head -n 1)
	is "$(jq -r '[.response.status, .response.body.size, .dst.ip, .dst.port, .src.pod] | map(tostring) | join(" ")' <<<"${e:-null}")" \
		"$status $size $B $PORT $(pod_ns a)" "$path (local port $lport): an entry from tlsstatic with its status, body size and endpoints"
done <"$T/st.out"

# 2. Stripped: blind, listed while it runs.
pod_bg a "$T/hold.out" "$T/tlsstatic-stripped" hold
HOLD=$BG_PID
wait_for_line "$LOG" "process $HOLD .*tlsstatic-stripped, which has TLS linked in" 10
check "the log says the stripped program cannot be probed" \
	grep -q "floe: tls: $T/tlsstatic-stripped: OpenSSL linked statically without SSL_read/SSL_write symbols (stripped)" "$LOG"
check "the log names its process as blind" grep -q "process $HOLD (tlsstatic-strip) of .* runs $T/tlsstatic-stripped, which has TLS linked in" "$LOG"
floe_stop
is "$?" 0 "floe exits 0"
b=$(jq -c ".tls_blind[] | select(.pid == $HOLD)" "$x.stats.json")
diag "tls_blind: $b"
is "$(jq -r '[.pod, .process, .library] | join(" ")' <<<"${b:-null}")" \
	"$(pod_ns a) tlsstatic-strip $T/tlsstatic-stripped" "tls_blind lists the stripped program's process"
check "its reason says OpenSSL, linked statically, stripped ($(jq -r .reason <<<"${b:-null}"))" \
	grep -q "OpenSSL linked statically .*stripped" <<<"$(jq -r .reason <<<"${b:-null}")"
kill "$HOLD" 2>/dev/null
diag "$(grep -E '^  tls:' "$LOG")"
done_testing
