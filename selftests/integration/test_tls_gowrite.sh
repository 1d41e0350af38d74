#!/usr/bin/env bash
# Integration: a Go (*tls.Conn).Write that fails records nothing of what it did not write
# (docs/tls.md, "Go": the bytes are taken at Write's entry, the count at its RETs, and the
# connection's later chunks held back until then). selftests/integration/gowfail (standard
# library) is the server (pod b: answers one request with Connection: close, then closes) and
# the client (pod a): GET /ok, the answer read to its end, then GET /after-1..3 on the same
# connection, whose peer is gone: the client prints each Write's n and error (the oracle).
# Checked against floe's output (entries, the plaintext PCAP export, stats):
#   - /ok: one entry from the client's side, status 200 (the pairing still works);
#   - every Write that returned 0 bytes: its path is in no entry and not in the plaintext
#     export (a Write that returned all its bytes may be there: it was sent);
#   - tls_write_unsent counts at least the bytes of those Writes.
# Run against a floe that records Writes at their entry (before this change), the failed
# Writes' paths are in the plaintext export: this test fails there.
# Usage (root, from the repo root): bash selftests/integration/test_tls_gowrite.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=400 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.64.11 B=10.213.64.12 PORT=9443
GO=${GO:-/usr/local/go/bin/go}
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/build/gotls
N_AFTER=3

need_cmd "Go toolchain (/usr/local/go), openssl, jq" "$GO" openssl jq || done_testing
SRC=gowfail build_go "$GO" "$BIN/gowfail" ||
	{ not_ok "build gowfail"; diag "$(tail -n 20 "$T/gobuild.log")"; done_testing; }
ok "gowfail built"

entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
entries_tap
x=${OUT%.json}
# Started after floe: found through its exec (the file is probed once for both ends).
pod_bg b "$T/server.log" "$BIN/gowfail" server "$B:$PORT" "$T/cert.pem" "$T/key.pem"
wait_tcp_listen b $PORT 10 || { not_ok "gowfail server listens"; done_testing; }
end=$(($(date +%s) + 20))
until grep -q "floe: tls: hooked .*gowfail (Go " "$x.floe.log" || [ "$(date +%s)" -ge "$end" ]; do
	sleep 0.2
done
check "floe probed gowfail's Read and Write returns" \
	grep -Eq "hooked .*gowfail .*RETs of Read, [0-9]+ of Write" "$x.floe.log"

in_pod a "$BIN/gowfail" client "$B:$PORT" $N_AFTER >"$T/client.out" 2>"$T/client.err"
is "$?" 0 "gowfail client ran"
diag "client: $(tr '\n' ';' <"$T/client.out")"
grep -q '^write path=/ok n=[1-9][0-9]* ' "$T/client.out" || not_ok "the client wrote /ok"
failed=$(awk '/^write path=\/after/ && / n=0 / { sub("path=", "", $2); print $2 }' "$T/client.out")
unsent=$(awk '/^write path=\/after/ && / n=0 / { sub("len=", "", $4); s += $4 } END { print s + 0 }' "$T/client.out")
if [ -z "$failed" ]; then
	not_ok "at least one Write after the peer closed failed (client: $(cat "$T/client.out"))"
fi

# The /ok exchange from the client's side (its process), then floe stops: all is flushed.
end=$(($(date +%s) + 15))
until jq -e 'select(.tls == true and .process == "gowfail" and .request.url == "/ok")' \
	"$OUT" >/dev/null 2>&1 || [ "$(date +%s)" -ge "$end" ]; do
	sleep 0.2
done
sleep 1.5 # the failed Writes' counts: past TLS_HOLD_NS, had they been held without one
floe_stop
is "$?" 0 "floe exits 0"

ok_entries=$(jq -c 'select(.tls == true and .request.url == "/ok" and .response.status == 200)' "$OUT" | wc -l)
is "$ok_entries" 2 "/ok read at both ends, with its status 200"
on_node "$FLOE" pcap export --tls-plaintext -o "$x.plain.pcap" --store "$x.store" >"$x.export.log" 2>&1
is "$?" 0 "floe pcap export --tls-plaintext exits 0"
grep -aq "GET /ok HTTP/1.1" "$x.plain.pcap" || not_ok "the plaintext export has GET /ok"
for p in $failed; do
	n=$(grep -c "\"$p\"" "$OUT")
	is "$n" 0 "the failed Write of $p gives no entry"
	if grep -aq "GET $p HTTP" "$x.plain.pcap"; then
		not_ok "the failed Write of $p is not in the plaintext export"
	else
		ok "the failed Write of $p is not in the plaintext export"
	fi
done
got=$(jq .tls_write_unsent "$x.stats.json")
check "tls_write_unsent $got >= $unsent (the failed Writes' bytes)" test "${got:-0}" -ge "$unsent"
diag "$(grep -E '^  tls:' "$x.floe.log")"
done_testing
