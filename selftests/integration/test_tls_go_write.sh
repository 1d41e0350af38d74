#!/usr/bin/env bash
# Integration: a Go crypto/tls Write that fails records nothing (docs/tls.md, "Go's
# crypto/tls"): Write is recorded at its RET instructions with the count it returned, not at
# its entry. Pod b runs the Go HTTPS server of test_tls_go.sh (selftests/integration/gotls);
# in pod a, selftests/integration/gotlsfail makes one GET over TLS, closes the socket under the
# TLS connection and writes a second request holding a marker, which fails with n=0 (the
# program prints both: the oracle). floe must have the first request (an entry from the
# client's side with the status it got, and its bytes in the plaintext PCAP export) and no
# byte of the second: no entry and no synthetic packet holds the marker.
# Usage (root, from the repo root): bash selftests/integration/test_tls_go_write.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=400 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.58.11 B=10.213.58.12 PORT=8443
GO=${GO:-/usr/local/go/bin/go}
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/build/gotls
MARKER=floe-failed-write-$$

need_cmd "Go toolchain (/usr/local/go), openssl, jq" "$GO" openssl jq || done_testing
mkdir -p "$BIN"
go_build() { # SRC OUT (cached in build/gotls as test_tls_go.sh does)
	[ -x "$2" ] && [ "$2" -nt "$1/main.go" ] && return 0
	(cd "$1" && GOFLAGS=-mod=mod GOCACHE=$BIN/cache GOPATH=$BIN/gopath \
		timeout 300 "$GO" build -o "$2" .) >>"$T/gobuild.log" 2>&1
}
if ! go_build "$HERE/gotls" "$BIN/gotls" || ! go_build "$HERE/gotlsfail" "$BIN/gotlsfail"; then
	not_ok "build the Go programs"
	diag "$(tail -n 20 "$T/gobuild.log")"
	done_testing
fi
ok "Go programs built"
entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; done_testing; }
pod_bg b "$T/server.log" "$BIN/gotls" server "$B:$PORT" "$T/cert.pem" "$T/key.pem"
wait_tcp_listen b $PORT 10 || { not_ok "Go HTTPS server listens in b"; done_testing; }

entries_tap
x=${OUT%.json}
# A first run has floe probe the client's program file (found at its exec): the second run is
# read from its first instruction.
in_pod a "$BIN/gotlsfail" "$B:$PORT" warmup >"$T/warmup.out" 2>&1
wait_for_line "$x.floe.log" "hooked .*gotlsfail" 10 ||
	{ not_ok "floe hooked gotlsfail"; diag "$(grep 'floe: tls' "$x.floe.log")"; }
entries_wait "$OUT" 2 10 || diag "warm-up: $(grep -c . "$OUT") entries"
before=$(grep -c . "$OUT")
in_pod a "$BIN/gotlsfail" "$B:$PORT" "$MARKER" >"$T/client.out" 2>"$T/client.err"
diag "gotlsfail: $(tr '\n' ';' <"$T/client.out") $(cat "$T/client.err")"
read -r _ status lport < <(grep '^ok ' "$T/client.out")
check "the client's last Write failed and sent nothing (its own view: n=0)" \
	grep -qE '^write n=0 err=.+' "$T/client.out"
entries_stop $((before + 2))

sel="select(.tls == true and (.process | test(\"gotlsfail\")) and .src.port == ${lport:-0})"
is "$(jq -c "$sel | .request.url" "$OUT" | tr '\n' ' ')" '"/r/1" ' \
	"one entry from the client's side: the request that was sent"
is "$(jq -r "$sel | .response.status" "$OUT")" "${status:-?}" "with the status the client got"
is "$(grep -c -- "$MARKER" "$OUT")" 0 "no entry holds the failed Write's bytes"
on_node "$FLOE" pcap export --tls-plaintext -o "$x.plain.pcap" --store "$x.store" >/dev/null 2>&1
check "the plaintext export has the request that was sent" grep -qa "GET /r/1 HTTP/1.1" "$x.plain.pcap"
is "$(grep -ca -- "$MARKER" "$x.plain.pcap")" 0 "the plaintext export has no byte of the failed Write"
done_testing
