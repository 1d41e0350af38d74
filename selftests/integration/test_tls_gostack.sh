#!/usr/bin/env bash
# Integration: a Go (*tls.Conn).Write or Read whose goroutine's stack must grow at the call is
# read once (docs/tls.md, "Go": the stack check). The entry probe sits on the stack check's
# `jbe` (or, with --tls-probe-sites first, on its first instruction); when the stack is too
# small the `jbe` jumps to runtime.morestack, which grows the stack and enters the function
# again from its start, so the probe fires twice for one call. The server (pod b) is
# test_tls_go's net/http one (selftests/integration/gotls, its /echo: 200, an empty body);
# the client (pod a) is selftests/integration/gostack (standard library): on one connection,
# each request written by a fresh goroutine (8 KiB of stack) after recursing D frames, D =
# 0..MAXDEPTH, and its answer read the same way, so that for some D the growth happens
# exactly at Write's (and at Read's) entry. The client prints each request's path and Write's
# n, each answer, and its pid (the oracle). For the default probe sites and for
# --tls-probe-sites first, checked against floe's output:
#   - from the client's process: one entry per request the client made, none twice, each with
#     the answer the client read (its status and body size);
#   - from the server's process: one entry per request as well;
#   - the plaintext export's bytes from the client to the server are the client's own sum of
#     Write's n (a Write recorded twice adds its bytes again);
#   - tls_hold_timeouts 0 (a Write recorded twice leaves one copy without its count);
#   - tls_go_morestack > 0: the kernel side saw entry passes bound for morestack (the case).
# Against a floe that records at both entries (before the stack check was looked at), the
# requests whose Write grew the stack come twice: this test fails there.
# Usage (root, from the repo root): bash selftests/integration/test_tls_gostack.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=400 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.246.1.11 B=10.246.1.12 PORT=9443
GO=${GO:-/usr/local/go/bin/go}
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/build/gotls
ROUNDS=2 MAXDEPTH=230

need_cmd "Go toolchain (/usr/local/go), openssl, jq, tshark" "$GO" openssl jq tshark || done_testing
if ! SRC=gostack build_go "$GO" "$BIN/gostack" || ! build_go "$GO" "$BIN/gotls"; then
	not_ok "build gostack and gotls"
	diag "$(tail -n 20 "$T/gobuild.log")"
	done_testing
fi
ok "gostack and gotls built"

entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
pod_bg b "$T/server.log" "$BIN/gotls" server "$B:$PORT" "$T/cert.pem" "$T/key.pem"
wait_tcp_listen b $PORT 10 || { not_ok "gotls server listens"; done_testing; }

# round NAME [FLOE-ARGS...]: floe with those arguments, one client run, the checks above.
round() {
	local name=$1 x cpid n_req sum grew last_grew skipped client end
	shift
	OUT=$T/$name.json
	x=${OUT%.json}
	entries_tap "$@"
	# A fixed first stack (8 KiB): the depths then sweep across its end. The client waits for
	# a line on its stdin before it connects: floe probes it at its exec, and its first
	# requests are not to race with that (the FIFO is opened read-write: no wait for a writer).
	mkfifo "$x.go"
	in_pod a env GODEBUG=adaptivestackstart=0 "$BIN/gostack" client "$B:$PORT" $ROUNDS $MAXDEPTH \
		<>"$x.go" >"$x.client.out" 2>"$x.client.err" &
	client=$!
	end=$(($(date +%s) + 20))
	until grep -q "floe: tls: hooked .*gostack (Go " "$x.floe.log" || [ "$(date +%s)" -ge "$end" ]; do
		sleep 0.1
	done
	check "$name: floe probed gostack's Read and Write" \
		grep -Eq "hooked .*gostack .*RETs of Read, [0-9]+ of Write" "$x.floe.log"
	echo go >"$x.go"
	wait "$client"
	is "$?" 0 "$name: gostack client ran"
	cpid=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$x.client.out")
	n_req=$(sed -n 's/^pid=.* requests=\([0-9]*\) .*/\1/p' "$x.client.out")
	sum=$(sed -n 's/^pid=.* bytes=\([0-9]*\)$/\1/p' "$x.client.out")
	is "${n_req:-0}" $((ROUNDS * (MAXDEPTH + 1))) "$name: the client made every request"
	is "$(awk '/^req / { split($3, a, "="); split($4, b, "="); if (a[2] != b[2]) n++ } END { print n + 0 }' \
		"$x.client.out")" 0 "$name: every Write wrote all its bytes"
	# Stack moves during a Write: at its entry (the case) or deeper in it. Past the depth at
	# which the recursion itself grows the stack, none: the sweep crossed the stack's end.
	grew=$(grep -c '^req .* moved=1$' "$x.client.out")
	last_grew=$(awk '/^req .* moved=1$/ { sub(".*-d", "", $2); if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }' \
		"$x.client.out")
	diag "$name: client pid $cpid, $n_req requests, $sum bytes; the stack moved during $grew Writes, the deepest at depth $last_grew"
	check "$name: the depths swept past the end of the first stack ($last_grew < $MAXDEPTH)" \
		test "$last_grew" -lt "$MAXDEPTH"

	entries_wait_sel "$OUT" ".tls == true and .pid == ${cpid:-0}" "${n_req:-1}" 20 ||
		diag "$name: fewer than $n_req entries from the client within 20 s"
	sleep 1.5 # a Write recorded twice: its copy released after TLS_HOLD_NS without a count
	floe_stop
	is "$?" 0 "$name: floe exits 0"

	# The client's entries: per path, how many, and with which answer.
	jq -r "select(.tls == true and .pid == ${cpid:-0}) | [.request.url, (.response.status // 0), (.response.body.size // 0)] | @tsv" \
		"$OUT" | sort >"$x.client.entries"
	is "$(wc -l <"$x.client.entries")" "$n_req" "$name: one entry from the client per request"
	is "$(cut -f1 "$x.client.entries" | uniq -d | wc -l)" 0 "$name: no request read twice from the client"
	awk '/^resp / { sub("path=", "", $2); sub("status=", "", $3); sub("body=", "", $4); printf "%s\t%s\t%d\n", $2, $3, length($4) }' \
		"$x.client.out" | sort >"$x.client.truth"
	if cmp -s "$x.client.entries" "$x.client.truth"; then
		ok "$name: the client's entries are its requests with the answers it read"
	else
		not_ok "$name: the client's entries are its requests with the answers it read"
		diag "$(diff "$x.client.truth" "$x.client.entries" | grep '^[<>]' | head -n 6)" \
			"$(diff "$x.client.truth" "$x.client.entries" | grep '^>' | head -n 6)"
	fi
	jq -r 'select(.tls == true and .process == "gotls") | .request.url' "$OUT" | sort >"$x.server.urls"
	is "$(sort -u "$x.server.urls" | wc -l)" "$n_req" "$name: the server's entries cover every request"
	is "$(wc -l <"$x.server.urls")" "$n_req" "$name: one entry from the server per request"

	on_node "$FLOE" pcap export --tls-plaintext -o "$x.plain.pcap" --store "$x.store" >"$x.export.log" 2>&1
	is "$?" 0 "$name: floe pcap export --tls-plaintext exits 0"
	is "$(tshark_q -r "$x.plain.pcap" -Y "tcp.dstport == $PORT" -T fields -e tcp.len |
		awk '{ s += $1 } END { print s + 0 }')" "${sum:-0}" \
		"$name: the plaintext from the client is the bytes its Writes wrote"
	is "$(stat_get "$x.stats.json" tls_hold_timeouts)" 0 "$name: tls_hold_timeouts 0"
	# The case happened: entry passes bound for morestack were seen (and skipped).
	skipped=$(stat_get "$x.stats.json" tls_go_morestack)
	check "$name: tls_go_morestack ${skipped:-absent} > 0 (Write or Read entered twice)" \
		test "${skipped:-0}" -gt 0
	diag "$(grep -E '^  tls:' "$x.floe.log")"
}

round sites
round first --tls-probe-sites first
done_testing
