#!/usr/bin/env bash
# Integration: Redis entries through the real eBPF path. Pod b runs a real redis-server (its
# own config in $PODS_TMP: pod address only, no persistence); pod a runs the clients:
#   - redis-cli sessions (RESP2 with -2, and RESP3 with -3) reading commands from a file,
#     with --json output: strings, integers, nil, errors, arrays, maps, sets, a Lua reply,
#     MULTI/EXEC, streams, CONFIG GET;
#   - a subscriber (RESP2 SUBSCRIBE) and a pattern subscriber (RESP3 PSUBSCRIBE) that log
#     every message, while redis-cli publishes;
#   - a value of 3 MB set with redis-cli -x and read back (many segments each way);
#   - redis-benchmark pipelining 16 commands at a time (SET, GET, INCR, LPUSH, -n each);
#   - a MONITOR client: the server's own account of every command it ran.
# floe taps both pods with --json; every entry it prints live is compared with what the
# clients sent and got (their command files and --json output, the subscribers' logs,
# redis-benchmark's request counts) and with MONITOR's lines (every command the server ran
# is an entry, same client port, command and arguments). Then `floe read` of the exported
# PCAP must give the same entries.
# Usage (root, from the repo root): bash selftests/integration/test_entries_redis.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.4.11 B=10.213.4.12
PORT=6390
BENCH_N=2000

need_cmd "redis-server, redis-cli and redis-benchmark are installed" redis-server redis-cli \
	redis-benchmark || done_testing
entries_pods $A $B

mkdir -p "$T/redis"
cat >"$T/redis.conf" <<EOF
bind $B
port $PORT
dir $T/redis
save ""
appendonly no
protected-mode no
daemonize no
logfile ""
databases 4
EOF
pod_bg b "$T/redis-server.log" redis-server "$T/redis.conf"
if ! wait_tcp_listen b $PORT 10; then
	not_ok "redis-server listens in b"
	diag "$(cat "$T/redis-server.log")"
	done_testing
fi
ok "redis-server listens in b ($B:$PORT, state in \$PODS_TMP)"
is "$(in_pod b ss -Hltn "sport = :$PORT" | awk '{print $4}' | sort -u | tr '\n' ' ')" "$B:$PORT " \
	"redis-server listens on the pod address only"

entries_tap

cli() { in_pod a redis-cli -h $B -p $PORT "$@"; }

# The server's own record of what it ran.
pod_bg a "$T/monitor.log" redis-cli -h $B -p $PORT monitor
MON_PID=$BG_PID
wait_for_line "$T/monitor.log" '^OK' 5 || diag "MONITOR did not answer OK"
pod_bg a "$T/sub.log" redis-cli -2 -h $B -p $PORT --json subscribe news sport
SUB_PID=$BG_PID
pod_bg a "$T/psub.log" redis-cli -3 -h $B -p $PORT --json psubscribe 's*'
PSUB_PID=$BG_PID
wait_for_line "$T/sub.log" '"sport",2' 5 && wait_for_line "$T/psub.log" '"psubscribe"' 5 ||
	diag "subscribers not ready: $(cat "$T/sub.log" "$T/psub.log")"

cat >"$T/session2.txt" <<'EOF'
ECHO session-resp2
SET user:1 bob
GET user:1
GET nokey
INCR counter
INCRBY counter 41
LPOP user:1
MSET k1 v1 k2 "two words"
MGET k1 k2 nokey
HSET h f1 a f2 b
HGETALL h
LPUSH list a b c
LRANGE list 0 -1
SADD set x y
SCARD set
EVAL "return {1,2,'x',{3,'y'}}" 0
EVAL "return redis.call('GET', KEYS[1])" 1 user:1
XADD stream * field value
XLEN stream
MULTI
SET tx 1
INCR tx
LPOP tx
EXEC
CONFIG GET maxmemory
EXISTS k1 k2 nokey
DEL k1
NOSUCHCOMMAND arg
PUBLISH news hello
PUBLISH sport "goal x"
PUBLISH other nobody
SELECT 2
SET indb2 x
SELECT 0
PING
EOF
cat >"$T/session3.txt" <<'EOF'
ECHO session-resp3
HGETALL h
SMEMBERS set
GET user:1
INCRBYFLOAT float 1.5
ZADD z 1 one 2 two
ZRANGE z 0 -1 WITHSCORES
CONFIG GET maxmemory
GET nokey
PUBLISH sport resp3
EOF
cli -2 --json <"$T/session2.txt" >"$T/session2.out" 2>&1
cli -3 --json <"$T/session3.txt" >"$T/session3.out" 2>&1
is "$(wc -l <"$T/session2.out")" "$(wc -l <"$T/session2.txt")" "redis-cli printed one reply per command (RESP2)"
is "$(wc -l <"$T/session3.out")" "$(wc -l <"$T/session3.txt")" "redis-cli printed one reply per command (RESP3)"

# A large value, many segments each way.
head -c 2250000 /dev/urandom | base64 -w 0 >"$T/big.txt"
is "$(cli -x SET bigvalue <"$T/big.txt")" "OK" "redis-cli -x SET of a 3 MB value"
cli GET bigvalue >"$T/big.out"
check "redis-cli GET returns the 3 MB value" cmp -s <(tr -d '\n' <"$T/big.out") "$T/big.txt"

# Pipelining.
in_pod a redis-benchmark -h $B -p $PORT -P 16 -n $BENCH_N -c 2 -t set,get,incr,lpush --csv \
	>"$T/bench.csv" 2>"$T/bench.err"
diag "$(cat "$T/bench.csv")"
is "$(grep -c '^"' "$T/bench.csv")" 5 "redis-benchmark ran its 4 tests"

# The subscribers and the monitor have printed everything before a last message (the server
# sends to each in order): wait until they print that one, then stop them.
is "$(cli PUBLISH sport floe-end)" 2 "the last PUBLISH reached both subscribers"
check "both subscribers and the monitor printed the last message" eval \
	'wait_for_line "$T/sub.log" "floe-end" 10 && wait_for_line "$T/psub.log" "floe-end" 10 &&
	wait_for_line "$T/monitor.log" "\"PUBLISH\" \"sport\" \"floe-end\"" 10'
bg_stop "$SUB_PID"
bg_stop "$PSUB_PID"
bg_stop "$MON_PID"

# Entries: 33 + 11 (HELLO) + 2 + 8000 benchmark + its CONFIG GETs, MONITOR's lines, 3 subscriptions
# and their messages; at least 8040.
entries_stop 8040

checks "$PY" "$HERE/../lib/redis_check.py" --entries "$OUT" --session2 "$T/session2.txt" \
	--out2 "$T/session2.out" --session3 "$T/session3.txt" --out3 "$T/session3.out" \
	--sub "$T/sub.log" --psub "$T/psub.log" --monitor "$T/monitor.log" --big "$T/big.txt" \
	--bench-n $BENCH_N --client $A --server $B --port $PORT \
	--client-pod "$(pod_ns a)" --server-pod "$(pod_ns b)"
[ -n "${V:-}" ] && jq -c '[.id, .request.command, .response.type, .push.kind, .missing]' "$OUT" | head -100

# The exported PCAP read back gives the same entries.
entries_vs_read '[.id, .protocol, .version, .src.port, .request.command, .request.args,
	.request.keys, .response.type, (.response.value|tostring|.[0:300]), .response.length,
	.response.error, .request_size, .response_size, .missing, .push.kind,
	.transaction.outcome] | @json'

done_testing
