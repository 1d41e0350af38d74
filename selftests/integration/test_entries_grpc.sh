#!/usr/bin/env bash
# Integration: gRPC entries through the real eBPF path. Pod b runs a gRPC server, pod a a
# client (selftests/lib/grpc_peer.py, Debian's python3-grpcio, generic handlers, protobuf
# encoded by hand): unary, unary with gzip compression, NOT_FOUND with a message,
# server-streaming, server-streaming ended by RESOURCE_EXHAUSTED, client-streaming, bidi, a
# 100 KiB message, a call past its deadline, a bidi call the client cancels, and a bounded run
# of unary pings. Every call must be exactly one "grpc" entry whose service,
# method, status, message, message counts and schema-less decoded protobuf fields (numbers,
# wire types, values) are what the client sent and the server answered.
# Usage (root, from the repo root): bash selftests/integration/test_entries_grpc.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.3.11 B=10.213.3.12
PORT=50051 PINGS=40

if ! "$PY" -c 'import grpc' 2>/dev/null; then
	skip "gRPC peers" "python3-grpcio is not installed for $PY (selftests/lib/deps.sh)"
	done_testing
fi
entries_pods $A $B

pod_bg b "$T/server.err" "$PY" "$HERE/../lib/grpc_peer.py" server $PORT "$T/server.log"
if ! wait_tcp_listen b $PORT 15; then
	not_ok "gRPC server listens in b"
	diag "$(cat "$T/server.err")"
	done_testing
fi
ok "gRPC server listens in b"

entries_tap

start=$(date +%s%N)
rc=0
in_pod a timeout 60 "$PY" "$HERE/../lib/grpc_peer.py" client "$B:$PORT" "$T/client.log" $PINGS \
	>"$T/client.err" 2>&1 || rc=$?
is "$rc" 0 "gRPC client ran all its calls" || diag "$(tail -n 20 "$T/client.err")"
diag "calls took $((($(date +%s%N) - start) / 1000000)) ms"
ncalls=$(grep -c . "$T/client.log")
is "$ncalls" $((10 + PINGS)) "client logged $((10 + PINGS)) calls"
is "$(jq -r 'select(.code != 0) | "\(.call_id) \(.code_name)"' "$T/client.log" | tr '\n' ' ')" \
	"unary-not-found NOT_FOUND server-stream-error RESOURCE_EXHAUSTED deadline-exceeded DEADLINE_EXCEEDED bidi-cancelled CANCELLED " \
	"client: the four failing calls failed as meant"

# The server's log is whole once it has closed every connection.
check "the server closed every connection (its log is complete)" wait_tcp_idle b $PORT 10
entries_stop "$ncalls"
checks "$PY" "$CHECK_PY" grpc "${ENTRIES_WINDOW[@]}" --entries "$OUT" --client-log "$T/client.log" --server-log "$T/server.log" \
	--client "$(pod_ns a)" --client-ns front --server-pod "$(pod_ns b)" --server-ns back --port $PORT
entries_vs_read
[ -n "${V:-}" ] && diag "$(entries_diag "$OUT" 100)"

done_testing
