#!/usr/bin/env bash
# Integration: every way a tap can stop is a clean stop, and its exit status tells the truth.
#
# Pods a (HTTP server) and b (curl). For each signal a user or the system may send (INT, TERM,
# HUP: a closed terminal, QUIT: Ctrl-\, PIPE, USR1, USR2, and ALRM VTALRM XCPU PWR IO STKFLT,
# whose default action also ends a process), a tap is started, b makes one
# request, the signal is sent, and the tap must:
#   - exit 0, saying which signal stopped it;
#   - leave no tc filter on the pods' veths;
#   - have closed and compressed its last segment (no floe-*.pcap left, as after SIGINT;
#     compare SIGKILL in test_crash_cleanup.sh, which leaves the active segment plain);
#   - have printed its summary;
#   - have the request in the store (tshark on `floe pcap export`).
# Then:
#   - `floe tap --json | head -n 1`: head takes the first entry and exits; the tap ends
#     cleanly (exit 0, hooks gone, store compressed, summary) without waiting for more traffic;
#   - a reader that never reads: the tap still stops on SIGINT, within its 5 s bound for the
#     entries, with hooks gone; entries were lost, so it exits 1 and says so;
#   - a full disk: the store on a 1 MiB tmpfs (limit 64 MiB) that another file fills, then
#     traffic: the tap exits 1,
#     counts the losses (written + store_lost == recorded), shows them in the -d line and the
#     summary with the disk's error;
#   - entries (--json) into a file on a full 64 KiB tmpfs: the tap stops by itself (exit 1) and
#     says why;
#   - a file-size limit (ulimit -f): SIGXFSZ does not kill it; the losses are counted;
#   - --stats-json into a directory that does not exist: exit 1 and a message naming it.
# Usage (root, from the repo root): bash selftests/integration/test_tap_stops.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"

T=$PODS_TMP
A=10.213.14.11 B=10.213.14.12
FULL=$T/full # the small tmpfs of the full-disk case

stops_cleanup() {
	if mountpoint -q "$FULL" 2>/dev/null; then
		umount "$FULL"
	fi
	itest_cleanup
}
trap stops_cleanup EXIT

pod_add a $A && pod_add b $B || { not_ok "create pods"; done_testing; }
mkdir -p "$T/www" && echo hello >"$T/www/hello.txt"
head -c $((2 << 20)) /dev/urandom >"$T/www/big.bin"
pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T/www"
wait_tcp_listen a 8080 10 || { not_ok "HTTP server listens"; done_testing; }
get() { in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?run=$1"; }

# stopped_cleanly WHAT LOG STORE: what every stop must leave behind.
stopped_cleanly() {
	local what=$1 log=$2 store=$3
	is "$(floe_filters v-a v-b)" "" "$what: no tc filter left on v-a/v-b"
	check "$what: the summary was printed" grep -q '^floe: stopped after ' "$log"
	is "$(find "$store" -name 'floe-*.pcap' | wc -l)" 0 \
		"$what: no segment left uncompressed (the last one was closed)"
	is_num "$(find "$store" -name 'floe-*.pcap.zst' | wc -l)" -ge 1 \
		"$what: the last segment was compressed"
}

# in_store STORE RUN: requests with ?run=RUN in the store, by tshark on its export.
in_store() {
	local pcap=$T/export-$2.pcap
	on_node "$FLOE" pcap export -o "$pcap" --store "$1" >"$T/export-$2.log" 2>&1 ||
		{ cat "$T/export-$2.log" >&2; echo export-failed; return; }
	pcap_count "$pcap" "http.request.uri contains \"run=$2\""
}

# --- every stop signal
for sig in INT TERM HUP QUIT PIPE USR1 USR2 ALRM VTALRM XCPU PWR IO STKFLT; do
	log=$T/floe-$sig.log store=$T/store-$sig
	if ! floe_start "$log" --store "$store"; then
		not_ok "SIG$sig: floe starts"
		continue
	fi
	get "$sig" || diag "curl failed for run=$sig"
	floe_stop "$sig"
	is "$?" 0 "SIG$sig: floe exits 0"
	said=$sig
	[ "$sig" = IO ] && said=POLL # the same signal; glibc's abbreviation is POLL
	check "SIG$sig: floe says it stopped on SIG$said" grep -q "^floe: SIG$said: stopping" "$log"
	stopped_cleanly "SIG$sig" "$log" "$store"
	is "$(in_store "$store" "$sig")" 1 "SIG$sig: the request made before the signal is in the store"
done

# --- floe tap --json | head -n 1: the reader goes away after the first entry
log=$T/floe-head.log store=$T/store-head
: >"$log"
on_node bash -c '"$0" tap --json --store "$1" 2>"$2" | head -n 1 >"$3"; echo "${PIPESTATUS[0]}" >"$4"' \
	"$FLOE" "$store" "$log" "$T/head.out" "$T/head.rc" </dev/null &
PIPE_PID=$!
bg_track $PIPE_PID
if wait_for_line "$log" '^floe: tapping ' 30; then
	# Requests until head has its line (bounded): the tap must end by itself after it.
	for i in $(seq 1 50); do
		[ -s "$T/head.out" ] && break
		get "head-$i"
		sleep 0.1
	done
	wait_pid $PIPE_PID 20
	is "$?" 0 "tap --json | head -n 1: the pipeline ends by itself"
	is "$(cat "$T/head.rc" 2>/dev/null)" 0 "tap --json | head -n 1: floe exits 0"
	is "$(jq -r .protocol "$T/head.out" 2>/dev/null)" http "head got one HTTP entry"
	check "tap --json | head -n 1: floe says its reader is gone" \
		grep -Eq "^floe: (standard output closed|the entries' reader is gone)" "$log"
	stopped_cleanly "tap --json | head -n 1" "$log" "$store"
else
	not_ok "tap --json | head -n 1: floe starts"
	diag "$(cat "$log")"
fi

# --- a reader that never reads: stop is bounded
log=$T/floe-stuck.log store=$T/store-stuck
mkfifo "$T/fifo"
sleep 120 <"$T/fifo" &
READER=$!
bg_track $READER
ip netns exec "$NODE" "$FLOE" tap --json --no-hub --store "$store" >"$T/fifo" 2>"$log" </dev/null &
FLOE_PID=$!
bg_track $FLOE_PID
if wait_for_line "$log" '^floe: tapping ' 30; then
	# ~400 entries of ~1 KiB: more than the pipe holds (64 KiB), so the dissection thread
	# blocks in its write.
	in_pod b curl -sS --max-time 30 "http://$A:8080/hello.txt?run=stuck-[1-400]" >/dev/null
	t0=$(date +%s%N)
	floe_stop INT
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$rc" 1 "stuck reader: floe exits 1 (entries were lost)"
	is_num "$ms" -lt 15000 "stuck reader: floe stopped within 15 s of SIGINT"
	check "stuck reader: floe says it gave up on the reader" \
		grep -q 'entries not written .*stopped reading' "$log"
	stopped_cleanly "stuck reader" "$log" "$store"
else
	not_ok "stuck reader: floe starts"
	diag "$(cat "$log")"
fi
bg_stop $READER

# --- a full disk: the store on a 1 MiB tmpfs
mkdir -p "$FULL"
if mount -t tmpfs -o size=1m floe-test-full "$FULL"; then
	log=$T/floe-full.log stats=$T/stats-full.json
	if floe_start "$log" -d --store "$FULL/store" --storagelimit 64MB --stats-json "$stats"; then
		# Someone else fills the disk: the store can evict only its own segments, which
		# cannot make room for the traffic below (4 x 2 MiB), so packets are lost whatever
		# the timing of its writer and compressor.
		dd if=/dev/zero of="$FULL/filler" bs=4k >/dev/null 2>&1
		diag "after the filler: $(df -k --output=avail "$FULL" | tail -n 1) KiB free"
		for i in 1 2 3 4; do
			in_pod b curl -sS -o /dev/null --max-time 10 "http://$A:8080/big.bin?run=full-$i"
		done
		# Let a -d line report the losses (once a second).
		wait_for_line "$log" 'store_lost [1-9]' 5
		floe_stop INT
		is "$?" 1 "full disk: floe exits 1"
		lost=$(stat_get "$stats" store_lost)
		written=$(stat_get "$stats" written)
		recorded=$(stat_get "$stats" recorded)
		diag "stats: $(jq -c . "$stats" 2>/dev/null)"
		is_num "$lost" -gt 0 "full disk: store_lost counts the packets lost"
		is_num "$((written + lost))" -eq "$recorded" "full disk: written + store_lost == recorded"
		check "full disk: the -d line shows the losses" grep -Eq '^floe: seen .* store_lost [1-9]' "$log"
		check "full disk: the summary shows them with the disk's error" \
			grep -Eq 'store write errors +[1-9][0-9]* \(last error: No space left on device\)' "$log"
		check "full disk: floe says packets could not be written" \
			grep -q 'packets could not be written to the store' "$log"
		is "$(floe_filters v-a v-b)" "" "full disk: no tc filter left"
		diag "$(grep -v '^floe: seen' "$log" | tail -n 20)"
	else
		not_ok "full disk: floe starts"
	fi
	umount "$FULL"
else
	skip "full disk" "cannot mount a tmpfs"
fi

# --- a file-size limit (ulimit -f): SIGXFSZ must not kill the tap; the writes that go past the
# limit fail (EFBIG) and are counted as store losses, as on a full disk
cat >"$T/floe-fsize.sh" <<EOF
#!/bin/bash
ulimit -f 512 # KiB: smaller than one segment of the traffic below
exec "$FLOE" "\$@"
EOF
chmod +x "$T/floe-fsize.sh"
log=$T/floe-fsize.log stats=$T/stats-fsize.json store=$T/store-fsize
if FLOE=$T/floe-fsize.sh floe_start "$log" -d --store "$store" --stats-json "$stats"; then
	for i in 1 2; do
		in_pod b curl -sS -o /dev/null --max-time 10 "http://$A:8080/big.bin?run=fsize-$i"
	done
	wait_for_line "$log" 'store_lost [1-9]' 5
	floe_stop INT
	rc=$?
	is "$rc" 1 "file-size limit: floe is not killed by SIGXFSZ and exits 1 (packets lost)"
	lost=$(stat_get "$stats" store_lost)
	is_num "${lost:-0}" -gt 0 "file-size limit: store_lost counts the packets lost"
	check "file-size limit: the summary names the error" \
		grep -Eq 'store write errors +[1-9][0-9]* \(last error: File too large\)' "$log"
	is "$(floe_filters v-a v-b)" "" "file-size limit: no tc filter left"
else
	not_ok "file-size limit: floe starts"
fi

# --- entries into a file on a full disk: the dissection thread's write fails (ENOSPC), the
# loop is told and stops the tap by itself
mkdir -p "$FULL"
if mount -t tmpfs -o size=64k floe-test-full "$FULL"; then
	log=$T/floe-enospc.log store=$T/store-enospc
	: >"$log"
	ip netns exec "$NODE" "$FLOE" tap --json --no-hub --store "$store" >"$FULL/entries.json" 2>"$log" </dev/null &
	FLOE_PID=$!
	bg_track $FLOE_PID
	if wait_for_line "$log" '^floe: tapping ' 30; then
		# ~400 entries of ~1 KiB: several times the 64 KiB the disk holds
		in_pod b curl -sS --max-time 30 "http://$A:8080/hello.txt?run=enospc-[1-400]" >/dev/null
		floe_wait 20
		is "$?" 1 "entries on a full disk: floe stops by itself and exits 1"
		check "entries on a full disk: floe says why" \
			grep -q '^floe: cannot write entries: No space left on device; stopping' "$log"
		check "entries on a full disk: the summary counts the entries not written" \
			grep -Eq 'entries not written +[1-9][0-9]* \(No space left on device\)' "$log"
		# Every entry is either printed or not written (entries gathered into a batch
		# after the failure count as not written, not as printed).
		made=$(sed -n 's/^ *entries *\([0-9]\+\) (\([0-9]\+\) printed.*/\1 \2/p' "$log")
		made=${made:-0 0}
		unwritten=$(sed -n 's/^ *entries not written *\([0-9]\+\) .*/\1/p' "$log")
		is "$(( ${made% *} - ${made#* } ))" "${unwritten:-x}" \
			"entries on a full disk: entries made = printed + not written"
		stopped_cleanly "entries on a full disk" "$log" "$store"
	else
		not_ok "entries on a full disk: floe starts"
		diag "$(cat "$log")"
	fi
	umount "$FULL"
else
	skip "entries on a full disk" "cannot mount a tmpfs"
fi

# --- --stats-json where it cannot be written
log=$T/floe-stats.log
if floe_start "$log" --store "$T/store-stats" --stats-json "$T/no-such-dir/stats.json" --duration 1; then
	floe_wait 20
	is "$?" 1 "--stats-json into a missing directory: floe exits 1"
	check "--stats-json: the message names the file" \
		grep -q "stats-json: cannot write $T/no-such-dir/stats.json" "$log"
	# (no traffic in this run: no segment to look at)
	is "$(floe_filters v-a v-b)" "" "--stats-json unwritable: no tc filter left on v-a/v-b"
	check "--stats-json unwritable: the summary was printed" grep -q '^floe: stopped after ' "$log"
else
	not_ok "--stats-json unwritable: floe starts"
fi

done_testing
