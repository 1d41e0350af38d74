#!/usr/bin/env bash
# Integration: what floe's TLS probes cost the processes it does not tap (docs/tls.md, "Which
# processes pay", issue 17). Pods a (tapped) and b (not tapped) use one private copy of libssl
# (LD_LIBRARY_PATH), so other floe instances on the machine do not probe it.
#   1. An untapped process on the probed library is not trapped: b's `openssl s_server`,
#      started before floe, must still have the library's own code in SSL_read (read from
#      /proc/PID/mem and compared with the file), while a's s_server on the same file has
#      the breakpoint (0xcc) in it. A uprobe attached for all processes (pid -1)
#      writes it into every process mapping the file; floe's are attached per process of the
#      tapped pods.
#   2. Tapped traffic is still read: a Python client in a (started before floe, it waits until
#      step 1 is over), each GET an entry with the status and local port it reported; and one
#      started after floe that imports ssl 0.5 s after its exec (probes put on ahead).
#   3. A child forked without exec by a tapped process (Python: the parent maps libssl, the
#      child makes 3 HTTPS requests) is followed: 3 entries with the child's pid.
#   4. The cost for b (diag, not pass/fail: the machine is shared): `ssl_calls` in b, CPU per
#      SSL call with floe tapping a against before floe, and with the default.
#   5. The default (--tls-pid-probes 0): probed for every process, b's server has 0xcc too.
#   6. The cap: --tls-pid-probes 1 with a's s_server alone on the file, b's server is clean;
#      a second process of a maps it (a client started after floe): floe says the file is
#      probed for every process, b's server then has 0xcc, tls_wide_files is 1 at exit, and
#      the client's 5 GETs are read across the switch.
# Steps 1-4 run floe with --tls-pid-probes 32.
# Usage (root, from the repo root): bash selftests/integration/test_tls_untapped.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=240 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.243.17.11 B=10.243.17.12
PORT=4433
CALLS=${CALLS:-20000}
ROOT=$(cd "$HERE/../.." && pwd)
LIBDIR=/usr/lib/x86_64-linux-gnu
need_cmd "openssl, curl, jq, readelf, python3" openssl curl jq readelf "$PY" || done_testing
mkdir -p "$T/lib"
cp "$LIBDIR/libssl.so.3" "$LIBDIR/libcrypto.so.3" "$T/lib/"
LIB=$T/lib/libssl.so.3
entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=a.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; diag "$(cat "$T/req.log")"; done_testing; }
lp() { env LD_LIBRARY_PATH="$T/lib" "$@"; }

# SSL_read's code in process $1's mapping of $LIB against the file's: the first byte that
# differs (floe's probe sits where the kernel emulates the instruction, not always at the first
# byte: docs/tls.md, "Where the probes sit") and the file's byte there, or, when none differs,
# the first byte of each.
entry_byte() {
	"$PY" - "$1" "$LIB" <<'PYEOF'
import struct, subprocess, sys
pid, lib = int(sys.argv[1]), sys.argv[2]
sym = None
for l in subprocess.run(["readelf", "-W", "--dyn-syms", lib], capture_output=True, text=True).stdout.splitlines():
    f = l.split()
    if len(f) >= 8 and f[7].split("@")[0] == "SSL_read" and f[6] != "UND":
        sym, size = int(f[1], 16), max(1, int(f[2], 0))
segs = []
for l in subprocess.run(["readelf", "-W", "-l", lib], capture_output=True, text=True).stdout.splitlines():
    f = l.split()
    if f and f[0] == "LOAD":
        off, va, fs = int(f[1], 16), int(f[2], 16), int(f[4], 16)
        segs.append((off, va, fs))
foff = next(sym - va + off for off, va, fs in segs if va <= sym < va + fs)
addr = None
for l in open(f"/proc/{pid}/maps"):
    f = l.split()
    if len(f) >= 6 and f[5] == lib and "x" in f[1]:
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        moff = int(f[2], 16)
        if moff <= foff < moff + hi - lo:
            addr = lo + foff - moff
if addr is None:
    sys.exit("SSL_read not mapped in %d" % pid)
with open(f"/proc/{pid}/mem", "rb") as m:
    m.seek(addr)
    mem = m.read(size)
with open(lib, "rb") as fl:
    fl.seek(foff)
    orig = fl.read(size)
i = next((k for k in range(min(len(mem), len(orig))) if mem[k] != orig[k]), 0)
print("%02x %02x" % (mem[i], orig[i]))
PYEOF
}

# byte_cc PID: entry_byte of PID once it is the breakpoint (0xcc), or after 5 s what it is;
# floe attaches after its "hooked" line (at an exec or mmap event), so it is polled.
byte_cc() {
	local m o
	for _ in $(seq 50); do
		read -r m o <<<"$(entry_byte "$1")"
		[ "$m" = cc ] && break
		sleep 0.1
	done
	echo "$m $o"
}

# b's server before floe: a file-wide probe would reach it at its attach.
pod_bg b "$T/sb.log" env LD_LIBRARY_PATH="$T/lib" openssl s_server -accept $B:$PORT -www \
	-cert "$T/cert.pem" -key "$T/key.pem"
SB=$BG_PID
wait_tcp_listen b $PORT 10 || { not_ok "s_server listens in b"; diag "$(cat "$T/sb.log")"; done_testing; }
if [ -x "$ROOT/build/bench/ssl_calls" ]; then
	base=$(in_pod b env LD_LIBRARY_PATH="$T/lib" "$ROOT/build/bench/ssl_calls" "$T/cert.pem" "$T/key.pem" "$CALLS" 100 "$B")
fi

# An HTTPS client (Python) in pod a: 5 GETs of /PREFIXn to a's server, one line each with its
# status and local port. It maps libssl at once (DELAY 0) or after DELAY seconds, then waits
# for the file WAIT (or 1.5 s when WAIT is -) before its requests.
cat >"$T/client.py" <<'PYEOF2'
import os, sys, time
addr, port, prefix, wait, delay = sys.argv[1:6]
time.sleep(float(delay))
import ssl, http.client
ctx = ssl._create_unverified_context()
if wait == "-":
    time.sleep(1.5)
for _ in range(600 if wait != "-" else 0):
    if os.path.exists(wait):
        break
    time.sleep(0.1)
for i in range(5):
    c = http.client.HTTPSConnection(addr, int(port), context=ctx)
    c.request("GET", "/%s%d" % (prefix, i))
    lport = c.sock.getsockname()[1]
    r = c.getresponse()
    print("GET /%s%d %d %d" % (prefix, i, r.status, lport), flush=True)
    r.read()
    c.close()
PYEOF2
# gets_read SEL: the entries of $OUT matching SEL as the client prints its GETs, sorted.
gets_read() {
	entries_complete "$OUT" |
		jq -r "select($1) | \"\\(.request.method) \\(.request.url) \\(.response.status) \\(.src.port)\"" | sort
}
# gets_check PREFIX CLIENT-LOG DESC: the client's GETs of /PREFIX* are entries of $OUT with the
# status and local port it printed (waited for, 10 s).
gets_check() {
	local sel=".tls == true and (.request.url // \"\" | startswith(\"/$1\"))"
	entries_wait_sel "$OUT" "$sel" 5 10
	is "$(gets_read "$sel")" "$(sort "$2")" "$3" || diag "$(grep 'floe: tls' "$LOG")"
}
# One started before floe (found by the tap's scan), waiting for step 1 to be over.
rm -f "$T/go"
pod_bg a "$T/cli.log" env LD_LIBRARY_PATH="$T/lib" "$PY" "$T/client.py" $A $PORT r "$T/go" 0
CLI=$BG_PID

ENTRIES_PODS=a entries_tap --tls-pid-probes 32
pod_bg a "$T/sa.log" env LD_LIBRARY_PATH="$T/lib" openssl s_server -accept $A:$PORT -www \
	-cert "$T/cert.pem" -key "$T/key.pem"
SA=$BG_PID
wait_tcp_listen a $PORT 10 || { not_ok "s_server listens in a"; diag "$(cat "$T/sa.log")"; done_testing; }
LOG=${OUT%.json}.floe.log
if wait_for_line "$LOG" "hooked $LIB" 10; then ok "floe hooked the library copy"; else not_ok "floe hooked the library copy"; fi
sleep 0.5

# ---------------------------------------------------------------- 1. who has the breakpoint
read -r ma oa <<<"$(byte_cc "$SA")"
read -r mb ob <<<"$(entry_byte "$SB")"
diag "SSL_read's code (first byte that differs from the file): a's s_server $ma (file $oa), b's s_server $mb (file $ob)"
is "$ma" cc "a's s_server (tapped) has the breakpoint at SSL_read"
is "${mb:-none}" "${ob:-unread}" "b's s_server (not tapped) has the library's own instruction at SSL_read"

# ---------------------------------------------------------------- 2. a tapped client still read
# Started before floe (found by the tap's scan), it maps libssl and waits for step 1 to be over.
touch "$T/go"
wait "$CLI" 2>/dev/null
sel='.tls == true and (.request.url // "" | test("^/r[0-9]$"))'
entries_wait_sel "$OUT" "$sel" 5 10
got=$(gets_read "$sel")
want=$(sort "$T/cli.log")
diag "client: $(tr '\n' ';' <<<"$want")"
diag "floe:   $(tr '\n' ';' <<<"$got")"
is "$got" "$want" "a client in a: its 5 GETs entries with its status and local port" ||
	diag "$(grep 'floe: tls' "$LOG")"

# And one started after floe, whose exec floe sees before it maps libssl (probes ahead).
pod_bg a "$T/late.log" env LD_LIBRARY_PATH="$T/lib" "$PY" "$T/client.py" $A $PORT late - 0.5
wait "$BG_PID" 2>/dev/null
gets_check late "$T/late.log" "a client started after floe (exec, then dlopen of libssl): its 5 GETs read"

# ---------------------------------------------------------------- 3. a forked child
pod_bg a "$T/fork.log" env LD_LIBRARY_PATH="$T/lib" "$PY" -c '
import os, ssl, sys, time, http.client
ctx = ssl._create_unverified_context()
time.sleep(1.5)  # floe finds the parent mapping libssl
pid = os.fork()
if pid == 0:
    time.sleep(1.0)  # and follows the fork
    for i in range(3):
        c = http.client.HTTPSConnection(sys.argv[1], int(sys.argv[2]), context=ctx)
        c.request("GET", "/fork%d" % i)
        r = c.getresponse()
        print(os.getpid(), r.status, len(r.read()), flush=True)
        c.close()
    os._exit(0)
os.waitpid(pid, 0)' $A $PORT
FP=$BG_PID
wait "$FP" 2>/dev/null
child=$(awk 'NR==1 {print $1}' "$T/fork.log")
entries_wait_sel "$OUT" ".tls == true and .pid == ${child:-0} and .request != null" 3 10
n=$(entries_complete "$OUT" | jq -c "select(.tls == true and .pid == ${child:-0} and .request != null)" | wc -l)
diag "child: $(tr '\n' ';' <<<"$(cat "$T/fork.log")")"
is "$n" 3 "the forked child's 3 requests: entries with its pid"

# ---------------------------------------------------------------- 4. what b pays
if [ -n "${base:-}" ]; then
	with=$(in_pod b env LD_LIBRARY_PATH="$T/lib" "$ROOT/build/bench/ssl_calls" "$T/cert.pem" "$T/key.pem" "$CALLS" 100 "$B")
	diag "ssl_calls in b (not tapped), before floe: $base"
	diag "ssl_calls in b (not tapped), floe tapping a on the same libssl: $with (load $(cut -d' ' -f1-3 /proc/loadavg))"
fi
floe_stop
is "$?" 0 "floe exits 0"

# ---------------------------------------------------------------- 5. the default: for all
# --tls-pid-probes 0 (the default): the file is probed for every process, b's server too.
# OUT on its own line: an assignment before a function's name lasts only for the call.
OUT=$T/wide.json
ENTRIES_PODS=a entries_tap
if wait_for_line "${OUT%.json}.floe.log" "hooked $LIB" 10; then ok "default: hooked"; else not_ok "default: hooked"; fi
sleep 0.5
read -r mb ob <<<"$(entry_byte "$SB")"
is "$mb" cc "default (--tls-pid-probes 0): b's s_server has the breakpoint too"
if [ -n "${base:-}" ]; then
	with=$(in_pod b env LD_LIBRARY_PATH="$T/lib" "$ROOT/build/bench/ssl_calls" "$T/cert.pem" "$T/key.pem" "$CALLS" 100 "$B")
	diag "ssl_calls in b (not tapped), floe with the default (probes for all): $with (load $(cut -d' ' -f1-3 /proc/loadavg))"
fi
floe_stop
is "$?" 0 "floe exits 0"

# ---------------------------------------------------------------- 6. past N processes: for all
# --tls-pid-probes 1: a's s_server is the file's one tapped user (its own probes); a client
# started in a makes two, past the cap.
OUT=$T/cap.json
ENTRIES_PODS=a entries_tap --tls-pid-probes 1
LOG=${OUT%.json}.floe.log
if wait_for_line "$LOG" "hooked $LIB" 10; then ok "cap: hooked"; else not_ok "cap: hooked"; fi
read -r ma oa <<<"$(byte_cc "$SA")"
read -r mb ob <<<"$(entry_byte "$SB")"
is "$ma" cc "cap: a's s_server (one process on the file) has the breakpoint"
is "${mb:-none}" "${ob:-unread}" "cap: b's s_server has the library's own instruction (per process, 1 <= N)"
pod_bg a "$T/cap.log" env LD_LIBRARY_PATH="$T/lib" "$PY" "$T/client.py" $A $PORT cap - 0
CAPCLI=$BG_PID
if wait_for_line "$LOG" "$LIB: used by more than 1 tapped processes: probed for every process" 10; then
	ok "cap: floe says the file is probed for every process past 1 tapped process"
else
	not_ok "cap: floe says the file is probed for every process past 1 tapped process"
	diag "$(grep 'floe: tls' "$LOG")"
fi
read -r mb ob <<<"$(byte_cc "$SB")"
is "$mb" cc "cap: b's s_server (not tapped) has the breakpoint once the file is probed for all"
wait "$CAPCLI" 2>/dev/null
gets_check cap "$T/cap.log" "cap: the second process's 5 GETs read (status, local port) across the switch"
floe_stop
is "$?" 0 "floe exits 0"
is "$(stat_get "${OUT%.json}.stats.json" tls_wide_files)" 1 "cap: tls_wide_files 1"
diag "cap: tls_probe_pids $(stat_get "${OUT%.json}.stats.json" tls_probe_pids), tls_probes $(stat_get "${OUT%.json}.stats.json" tls_probes)"
done_testing
