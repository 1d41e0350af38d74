#!/usr/bin/env bash
# Integration: Kafka and AMQP after capture gaps, on traffic of real clients and servers. The
# bench generators make one small capture each in their own pods (selftests/bench/gen_kafka.sh:
# kcat against the scripted broker peer, every codec; gen_amqp.sh: rabbitmq-server and a pika
# client with publisher confirms and multiple acks), into this run's temp dir; then
# selftests/oracle/oracle_gaps.py cuts each at run time (every Nth data segment, bursts) and
# checks floe's entries after every gap against the uncut capture's and against tshark on the
# same cut file (see oracle_gaps.py and docs/testing.md).
# Usage (root, from the repo root): bash selftests/integration/test_gaps.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=900 source "$HERE/../lib/itest.sh" "$@"

T=$PODS_TMP
BENCH=$HERE/../bench
extra=()

for t in kcat tcpdump tshark; do
	command -v $t >/dev/null || { skip "captures cut into gaps" "$t is not installed"; done_testing; }
done

if BENCH_REGEN=1 BENCH_KAFKA_CAPTURE=$T/kafka.pcap BENCH_KAFKA_BYTES=1500000 \
	BENCH_KAFKA_ROUND_MESSAGES=400 BENCH_GEN_MAX_SECONDS=120 \
	bash "$BENCH/gen_kafka.sh" >"$T/gen_kafka.log" 2>&1; then
	ok "gen_kafka.sh made a Kafka capture ($(stat -c %s "$T/kafka.pcap") bytes)"
	extra+=("kafka:$T/kafka.pcap")
else
	not_ok "gen_kafka.sh made a Kafka capture"
	diag "$(tail -20 "$T/gen_kafka.log")"
fi

if ! command -v rabbitmq-server >/dev/null; then
	skip "AMQP capture" "rabbitmq-server is not installed"
elif BENCH_REGEN=1 BENCH_AMQP_CAPTURE=$T/amqp.pcap BENCH_AMQP_MESSAGES=2000 \
	BENCH_GEN_MAX_SECONDS=120 bash "$BENCH/gen_amqp.sh" >"$T/gen_amqp.log" 2>&1; then
	ok "gen_amqp.sh made an AMQP capture ($(stat -c %s "$T/amqp.pcap") bytes)"
	extra+=("amqp:$T/amqp.pcap")
else
	not_ok "gen_amqp.sh made an AMQP capture"
	diag "$(tail -20 "$T/gen_amqp.log")"
fi

if [ ${#extra[@]} -gt 0 ]; then
	# The oracle's own TAP lines, renumbered into this script's.
	/usr/bin/python3 "$HERE/../oracle/oracle_gaps.py" --floe "$FLOE" --only-extra \
		--extra "${extra[@]}" >"$T/oracle.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok "*" # SKIP "*) d=${line#ok * - }; skip "${d%% # SKIP *}" "${d##* # SKIP }" ;;
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) not_ok "${line#not ok * - }" ;;
		"#"*) printf '%s\n' "$line" ;;
		esac
	done <"$T/oracle.out"
	grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$T/oracle.out" ||
		{ not_ok "oracle_gaps.py ran to its end"; diag "$(tail -20 "$T/oracle.out")"; }
fi
# The captures differ per run: on a failure keep them (pods_cleanup leaves the dir with
# KEEP_TMP) to rerun the oracle on, e.g. oracle_gaps.py --only-extra --extra kafka:DIR/kafka.pcap
if [ "$ASSERT_FAIL" -gt 0 ]; then
	KEEP_TMP=1
	diag "captures and logs kept in $T"
fi
done_testing
