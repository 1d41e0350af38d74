#!/usr/bin/env bash
# Integration: Kafka entries through the real eBPF path. No Kafka broker exists in Debian (nor
# in the npm registry), so pod b runs selftests/lib/kafka_peer.py, a SCRIPTED broker (Python,
# not Apache Kafka) that speaks enough of the protocol for a real client; pod a runs that
# client: kcat (librdkafka), with `-d protocol` so that librdkafka logs every request and
# response it sends and receives (API, version, size, correlation id). kcat lists metadata,
# produces keyed messages with headers, with each compression codec (gzip, snappy, lz4, zstd),
# with acks=0, a value beyond --body-max and one beyond floe's decode bound, consumes topics
# from the beginning and runs a balanced consumer group (FindCoordinator, JoinGroup with
# MEMBER_ID_REQUIRED, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, LeaveGroup).
# floe taps both pods with --json; every entry is compared with librdkafka's log, with the
# peer's log and with the messages produced (selftests/lib/entries_check_kafka.py). Then
# `floe read` of the exported PCAP must give the same entries, and tshark must agree with
# floe read on that PCAP (selftests/oracle/oracle_kafka.py on it).
# Usage (root, from the repo root): bash selftests/integration/test_entries_kafka.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.9.11 B=10.213.9.12
PORT=9092

need_cmd "kcat is installed" kcat || done_testing
entries_pods $A $B

pod_bg b "$T/peer.out" "$PY" "$HERE/../lib/kafka_peer.py" --listen $B --port $PORT --log "$T/peer.log"
if ! wait_tcp_listen b $PORT 10; then
	not_ok "scripted Kafka peer listens in b"
	diag "$(cat "$T/peer.out")"
	done_testing
fi
ok "scripted Kafka peer (kafka_peer.py, not Apache Kafka) listens in b"

entries_tap

# k TAG KCAT-ARGS...: one kcat run in pod a; its -d protocol log after a line "KCAT TAG".
KLOG=$T/kcat.log
: >"$KLOG"
k() {
	local tag=$1
	shift
	echo "KCAT $tag" >>"$KLOG"
	in_pod a timeout 40 kcat -b "$B:$PORT" -d protocol "$@" 2>>"$KLOG"
}
# expect TOPIC KEY VALUE-FILE [HEADERS-JSON [EXTRA-JSON]]: a message the checker must find.
EXP=$T/produced.jsonl
: >"$EXP"
expect() {
	"$PY" -c 'import json, sys
t, k, f, h, x = sys.argv[1:6]
m = {"topic": t, "key": k or None, "value": open(f).read().rstrip("\n"), "headers": json.loads(h or "{}")}
m.update(json.loads(x or "{}"))
print(json.dumps(m))' "$1" "$2" "$3" "${4:-}" "${5:-}" >>"$EXP"
}
msg() { printf '%s' "$1" >"$T/m"; echo "$T/m"; }

start=$(date +%s%N)
k list -L >"$T/list.out"

printf 'k1:hello\nk2:world\nk3:caf\xc3\xa9 au lait\n' |
	k produce-keyed -P -t orders -K: -H trace=abc -H app=floe
expect orders k1 "$(msg hello)" '{"trace": "abc", "app": "floe"}'
expect orders k2 "$(msg world)" '{"trace": "abc", "app": "floe"}'
expect orders k3 "$(msg "$(printf 'caf\xc3\xa9 au lait')")" '{"trace": "abc"}'

for z in gzip snappy lz4 zstd; do
	printf '%s\n' "$z-one" "$z-two" "$z-three" | k "produce-$z" -P -t zipped -z "$z"
	for v in one two three; do
		expect zipped "" "$(msg "$z-$v")"
	done
done

printf 'fire-and-forget\n' | k produce-acks0 -P -t orders -X acks=0
expect orders "" "$(msg fire-and-forget)"

# 100 000 bytes: beyond --body-max (64 KiB), kept cut; 3 MB: beyond the decode bound.
head -c 75000 /dev/urandom | base64 -w0 >"$T/large.txt"
k produce-large -P -t large -X message.max.bytes=2000000 <"$T/large.txt"
expect large "" "$T/large.txt" "" '{"truncated": true}'
head -c 2300000 /dev/urandom | base64 -w0 >"$T/huge.txt"
k produce-huge -P -t huge -X message.max.bytes=20000000 <"$T/huge.txt"

k consume-orders -C -t orders -o beginning -e -f '%k=%s\n' >"$T/c-orders.out"
k consume-zipped -C -t zipped -o beginning -e >"$T/c-zipped.out"
k consume-large -C -t large -o beginning -e >"$T/c-large.out"
k consume-huge -C -t huge -o beginning -e -X receive.message.max.bytes=100000000 >"$T/c-huge.out"
k group -G grp1 -e -X auto.offset.reset=earliest -X enable.auto.commit=true orders zipped >"$T/c-group.out"
diag "kcat traffic took $((($(date +%s%N) - start) / 1000000)) ms"

# The client's own view: what it consumed is what it produced.
is "$(sort "$T/c-orders.out" | tr '\n' ' ')" "$(printf '%s\n' "=fire-and-forget" "k1=hello" "k2=world" "k3=café au lait" | sort | tr '\n' ' ')" \
	"kcat consumed from orders what it produced"
is "$(grep -c . "$T/c-zipped.out")" 12 "kcat consumed the 12 compressed messages"
check "kcat consumed the large and the huge message whole" \
	cmp -s <(cat "$T/large.txt" "$T/huge.txt") <(cat "$T/c-large.out" "$T/c-huge.out" | tr -d '\n')
is "$(grep -c . "$T/c-group.out")" 16 "kcat's consumer group read orders and zipped (16 messages)"
check "the peer logged every request and no peer error" \
	sh -c "! grep -q peer_error '$T/peer.log'"

# kcat exits without waiting for its background requests: the peer has logged all it read once
# it has closed every connection.
check "the peer closed every client connection" wait_tcp_idle b $PORT 10
np=$(grep -c . "$T/peer.log")
entries_stop "$np"

"$PY" -c 'import json, sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$EXP" >"$T/produced.json"
checks "$PY" "$ENTRIES_LIB/entries_check_kafka.py" "${ENTRIES_WINDOW[@]}" --entries "$OUT" \
	--kcat "$KLOG" --peer "$T/peer.log" --produced "$T/produced.json" --consumed orders,zipped,large \
	--client "$(pod_ns a)" --client-ns front --server-pod "$(pod_ns b)" --server-ns back --port $PORT

# The 3 MB produce request and the fetch response carrying it: streamed, cut at the decode
# bound (1 MiB + --body-max), the rest counted, the topic still known.
huge=$(jq -c 'select(.request.api_name == "Produce" and (.request.topics // []) == ["huge"])
	| [.request.truncated, (.request.skipped_bytes > 1500000), .request_size > 3000000,
	   .response.error_name]' "$OUT")
is "$huge" '[true,true,true,"NONE"]' "the 3 MB Produce request: truncated, skipped bytes counted, answered"
hugef=$(jq -c 'select(.request.api_name == "Fetch" and .response.truncated == true)
	| [(.request.topics // []), (.response.skipped_bytes > 1500000)]' "$OUT" | sort -u | tr '\n' ' ')
is "$hugef" '[["huge"],true] ' "the Fetch response with the 3 MB batch: truncated, skipped bytes counted"
[ -n "${V:-}" ] && diag "$(jq -r '[.id, .request.api_name, .request.api_version, .request.correlation_id, .response.error_name // "-"] | @tsv' "$OUT")"

entries_vs_read
check "floe read's summary counts the two oversized messages" \
	grep -q 'kafka.oversized_messages 2' "${OUT%.json}.read.log"

# Kafka's own fields too, live against floe read of the exported capture.
x=${OUT%.json}
proj='[(.id | sub("^[0-9a-f]{16}-"; "")), .src.port, .request.api_key, .request.api_version, .request.correlation_id,
	.response.correlation_id, .request_size, .response_size, .request.record_count,
	.response.record_count, .response.error_code, .request.topics, .missing] | @json'
jq -r "$proj" "$OUT" | sort >"$x.klive"
"$FLOE" read "$x.pcap" --json 2>/dev/null | jq -r "$proj" | sort >"$x.kread"
if [ -s "$x.klive" ] && cmp -s "$x.klive" "$x.kread"; then
	ok "floe read of the exported PCAP: same Kafka fields as live ($(wc -l <"$x.klive") entries)"
else
	not_ok "floe read of the exported PCAP: same Kafka fields as live"
	diag "$(diff "$x.klive" "$x.kread" | head -n 20)"
fi

# tshark on the same capture agrees with floe read (PDU by PDU, as the oracle does).
if command -v tshark >/dev/null; then
	mkdir -p "$T/cap/kafka"
	cp "$x.pcap" "$T/cap/kafka/live-kcat.pcap"
	orc=$("$PY" "$HERE/../oracle/oracle_kafka.py" --floe "$FLOE" --captures "$T/cap" 2>&1)
	if grep -q '^ok 1 ' <<<"$orc"; then
		ok "tshark agrees with floe read on the live capture: $(sed -n 's/^ok 1 - kafka\///p' <<<"$orc")"
	else
		not_ok "tshark agrees with floe read on the live capture"
		diag "$(head -n 40 <<<"$orc")"
	fi
else
	skip "tshark agrees with floe read on the live capture" "tshark is not installed"
fi

done_testing
