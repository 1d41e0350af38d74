#!/usr/bin/env bash
# Integration: Go crypto/tls plaintext through the real uprobes (docs/tls.md, "Go"). One Go
# program (selftests/integration/gotls, standard library only, built with /usr/local/go into
# build/gotls/, cached) is both the HTTPS server (pod b) and the client (pod a); the client
# writes one JSON line per request it made (method, path, body sent, status, protocol and
# body received, its local port, its pid): the oracle.
#   1. The program with its symbol table: the server starts before floe; floe must find it
#      through .symtab (its log says so). The client (the same file, so already probed when
#      it starts) makes HTTP/1.1 then HTTP/2 requests, GETs and POSTs with bodies, one of them
#      a 404. Each request the client logged must be exactly one entry from the client's pid
#      and one from the server's, "tls": true, with the client's method, path, body, status,
#      response body and size, the real endpoints (the client's local port) and pod names.
#   2. The same program stripped (-ldflags='-s -w': no .symtab, no DWARF): its server starts
#      after floe (found through the exec tracepoint); floe must find crypto/tls through
#      .gopclntab, and an HTTP/2 client of the same stripped file is checked as in 1.
#   3. When Debian's golang-go is installed (another Go version: 1.19 on bookworm, whose
#      .gopclntab has the older 1.18 layout): the program built with it, with and without
#      symbols, servers started after floe, HTTP/1.1 and HTTP/2 clients, checked as in 1.
#      Skipped (said so) without it. The same with a third version, go1.27.3 (GO3), fetched by
#      /usr/local/go from the Go module proxy (GOTOOLCHAIN), newer than floe's offsets table.
#   4. grpc-go over TLS (selftests/integration/gotlsgrpc: grpc-go's health service, modules
#      from the Go module proxy, skipped when it cannot be reached): server started after
#      floe, a client making Check calls (OK, NOT_FOUND); each call the client logged must be
#      one gRPC entry from each side, with the client's status, in the order of its streams.
#   5. A Go program file never run before, first run after floe as a short client: what it
#      sends before floe has probed its file may be missed (docs/tls.md; counted in a diag),
#      but its file gets probed, and its next run is read in full.
# No entry comes from the ciphertext packets but the handshakes' (protocol tls).
# Usage (root, from the repo root): bash selftests/integration/test_tls_go.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=600 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.19.11 B=10.213.19.12
PORT=8443 SPORT=9443
GO=${GO:-/usr/local/go/bin/go}
GO2=${GO2:-/usr/lib/go/bin/go} # Debian's golang-go
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/build/gotls

need_cmd "Go toolchain (/usr/local/go), openssl, jq" "$GO" openssl jq || done_testing

# ---------------------------------------------------------------- the Go program, cached
mkdir -p "$BIN"
# build_go: selftests/lib/entries.sh
if ! build_go "$GO" "$BIN/gotls" || ! build_go "$GO" "$BIN/gotls-stripped" -ldflags='-s -w'; then
	not_ok "build the Go HTTPS program"
	diag "$(tail -n 20 "$T/gobuild.log")"
	done_testing
fi
ok "Go HTTPS program built ($("$GO" version | awk '{print $3}'), with and without symbols)"

entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/req.log" 2>&1 ||
	{ not_ok "make a certificate"; diag "$(cat "$T/req.log")"; done_testing; }

# The checker: each client log line against the entries (TAB-separated ok/fail/diag lines).
cat >"$T/check.py" <<'PYEOF'
import json, sys
entries_path, log_path, srv_pid, a_ip, b_ip, port, ver, a_pod, b_pod = sys.argv[1:10]
srv_pid, port = int(srv_pid), int(port)
entries = []
for line in open(entries_path):
    try:
        entries.append(json.loads(line))
    except ValueError:
        pass
recs = [json.loads(l) for l in open(log_path) if l.strip()]
def out(kind, desc):
    print(f"{kind}\t{desc}")
def eq(desc, got, want):
    out("ok" if got == want else "fail", desc if got == want else f"{desc}: got {got!r}, want {want!r}")
if not recs:
    out("fail", f"{log_path}: the client logged requests")
cli_pid = recs[0]["pid"] if recs else 0
def url_of(e):
    return (e.get("request") or {}).get("url")
for r in recs:
    tag = f"{ver} {r['method']} {r['path']}"
    eq(f"{tag}: the client saw {'HTTP/1.1' if ver == '1.1' else 'HTTP/2.0'}", r["proto"], "HTTP/1.1" if ver == "1.1" else "HTTP/2.0")
    for side, pid in (("client", cli_pid), ("server", srv_pid)):
        # The server answers every client at the same paths: its entry is the one of this
        # client's connection (its local port); the port itself is checked below.
        m = [e for e in entries if e.get("tls") is True and e.get("pid") == pid and url_of(e) == r["path"]
             and (side == "client" or (e.get("src") or {}).get("port") == r["local_port"])]
        eq(f"{tag} ({side}'s side): exactly one entry", len(m), 1)
        if not m:
            continue
        e = m[0]
        req, resp = e.get("request") or {}, e.get("response") or {}
        eq(f"{tag} ({side}): protocol http {ver}", (e.get("protocol"), e.get("version")), ("http", ver))
        eq(f"{tag} ({side}): method", req.get("method"), r["method"])
        eq(f"{tag} ({side}): status as the client got it", resp.get("status"), r["status"])
        eq(f"{tag} ({side}): response body size", (resp.get("body") or {}).get("size"), r["resp_size"])
        eq(f"{tag} ({side}): response body text", (resp.get("body") or {}).get("text"), r["resp_body"])
        if r["req_body"]:
            eq(f"{tag} ({side}): request body the client sent", (req.get("body") or {}).get("text"), r["req_body"])
        h = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
        eq(f"{tag} ({side}): the client's X-Floe-Test header", h.get("x-floe-test"), f"go-{'h1' if ver == '1.1' else 'h2'}-{r['path'].split('=')[-1].split('/')[-1]}")
        eq(f"{tag} ({side}): client endpoint (the client's local port)", ((e.get("src") or {}).get("ip"), (e.get("src") or {}).get("port")), (a_ip, r["local_port"]))
        eq(f"{tag} ({side}): server endpoint", ((e.get("dst") or {}).get("ip"), (e.get("dst") or {}).get("port")), (b_ip, port))
        eq(f"{tag} ({side}): pod names", ((e.get("src") or {}).get("pod"), (e.get("dst") or {}).get("pod")), (a_pod, b_pod))
        out("ok" if e.get("process") else "fail", f"{tag} ({side}): a process name ({e.get('process')})")
# Nothing else from the client's process: one entry per request it made.
n = len([e for e in entries if e.get("pid") == cli_pid])
eq(f"{ver}: the client's process gave one entry per logged request", n, len(recs))
PYEOF
check_client() { # LOG SERVER_PID PORT VERSION
	checks "$PY" "$T/check.py" "$OUT" "$1" "$2" $A $B "$3" "$4" "$(pod_ns a)" "$(pod_ns b)"
}

# ---------------------------------------------------------------- 1. with symbols
pod_bg b "$T/server.log" "$BIN/gotls" server "$B:$PORT" "$T/cert.pem" "$T/key.pem"
SRV=$BG_PID
if ! wait_tcp_listen b $PORT 10; then
	not_ok "Go HTTPS server listens in b"
	diag "$(cat "$T/server.log")"
	done_testing
fi
ok "Go HTTPS server listens in b (started before floe)"
# A rough cost figure (diag only: this machine is shared): BENCH_N HTTP/2 requests without
# floe, and the same with floe reading both ends, below.
BENCH_N=300
bench_ms() {
	local t0 t1
	t0=$(date +%s%N)
	in_pod a "$BIN/gotls" client "https://$B:$PORT" h2 $BENCH_N "$T/bench-$1.log" 2>/dev/null ||
		diag "bench client ($1) failed"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
BENCH_OFF=$(bench_ms off)

entries_tap
check "floe hooked the Go program through its symbol table" \
	grep -q "floe: tls: hooked .*build/gotls/gotls (Go go1\.[0-9.]*, crypto/tls from \.symtab, [0-9]* RETs of Read, [0-9]* of Write)" \
	"${OUT%.json}.floe.log"
diag "$(grep 'floe: tls:' "${OUT%.json}.floe.log")"

N=6
in_pod a "$BIN/gotls" client "https://$B:$PORT" h1 $N "$T/h1.log" 2>"$T/h1.err" ||
	not_ok "HTTP/1.1 client: $(head -c 300 "$T/h1.err")"
in_pod a "$BIN/gotls" client "https://$B:$PORT" h2 $N "$T/h2.log" 2>"$T/h2.err" ||
	not_ok "HTTP/2 client: $(head -c 300 "$T/h2.err")"
is "$(cat "$T/h1.log" "$T/h2.log" 2>/dev/null | wc -l)" $((2 * N)) "the clients made $((2 * N)) requests"
BENCH_ON=$(bench_ms on)
diag "cost: $BENCH_N HTTP/2 requests (one connection) took $BENCH_OFF ms without floe, $BENCH_ON ms with floe reading both ends"

# ---------------------------------------------------------------- 2. stripped, after floe
pod_bg b "$T/server-s.log" "$BIN/gotls-stripped" server "$B:$SPORT" "$T/cert.pem" "$T/key.pem"
SRV_S=$BG_PID
if wait_for_line "${OUT%.json}.floe.log" "hooked .*gotls-stripped" 10; then
	check "floe hooked the stripped Go program (started after floe) through .gopclntab" \
		grep -q "floe: tls: hooked .*gotls-stripped (Go go1\.[0-9.]*, crypto/tls from \.gopclntab" \
		"${OUT%.json}.floe.log"
else
	not_ok "floe hooked the stripped Go program started after it"
	diag "$(grep 'floe: tls:' "${OUT%.json}.floe.log")"
fi
NS=4
if wait_tcp_listen b $SPORT 10; then
	in_pod a "$BIN/gotls-stripped" client "https://$B:$SPORT" h2 $NS "$T/s.log" 2>"$T/s.err" ||
		not_ok "stripped HTTP/2 client: $(head -c 300 "$T/s.err")"
else
	not_ok "stripped Go server listens in b"
fi

# ---------------------------------------------------------------- 3. Debian's Go
# later_round NAME BIN PORT LOGKIND: a server of BIN started after floe on PORT, hooked (its log
# line matches LOGKIND), then an HTTP/1.1 and an HTTP/2 client of the same file, NS requests
# each; the checks are made after floe stops (ROUNDS).
ROUNDS=()
EXPECT=$((4 * N + 2 * NS + 2 * BENCH_N))
later_round() {
	local name=$1 bin=$2 port=$3 kind=$4
	pod_bg b "$T/server-$name.log" "$bin" server "$B:$port" "$T/cert.pem" "$T/key.pem"
	local srv=$BG_PID
	if wait_for_line "${OUT%.json}.floe.log" "hooked $bin \\(Go go1\\.[0-9.]*, crypto/tls from \\$kind" 10; then
		ok "$name: floe hooked $(basename "$bin") (started after floe) through $kind"
	else
		not_ok "$name: floe hooked $(basename "$bin") (started after floe) through $kind"
		diag "$(grep 'floe: tls:' "${OUT%.json}.floe.log")"
	fi
	wait_tcp_listen b "$port" 10 || { not_ok "$name: server listens"; return; }
	for p in h1 h2; do
		in_pod a "$bin" client "https://$B:$port" $p $NS "$T/$name-$p.log" 2>"$T/$name-$p.err" ||
			not_ok "$name $p client: $(head -c 300 "$T/$name-$p.err")"
		ROUNDS+=("$T/$name-$p.log $srv $port $([ $p = h1 ] && echo 1.1 || echo 2)")
	done
	EXPECT=$((EXPECT + 4 * NS))
}
if [ -x "$GO2" ]; then
	V2=$("$GO2" version | awk '{print $3}')
	if build_go "$GO2" "$BIN/gotls-debian" && build_go "$GO2" "$BIN/gotls-debian-stripped" -ldflags='-s -w'; then
		ok "Go HTTPS program built with Debian's Go ($V2), with and without symbols"
		later_round debian "$BIN/gotls-debian" 10443 .symtab
		later_round debian-stripped "$BIN/gotls-debian-stripped" 11443 .gopclntab
	else
		not_ok "build the Go HTTPS program with Debian's Go ($V2)"
		diag "$(tail -n 20 "$T/gobuild.log")"
	fi
else
	skip "Debian's Go ($GO2): HTTP/1.1 and HTTP/2 with and without symbols" "golang-go is not installed (selftests/lib/deps.sh)"
fi

# A third Go version, newer than floe's offsets table (go1.26: its row is used, and the log
# says so): /usr/local/go fetching the GO3 toolchain from the Go module proxy (GOTOOLCHAIN;
# the module's go.mod stays at go 1.19). Skipped when it cannot be fetched.
GO3=${GO3:-go1.27.3}
if GOTOOLCHAIN=$GO3 GOPATH=$BIN/gopath timeout 400 "$GO" version >"$T/go3.log" 2>&1; then
	if GOTOOLCHAIN=$GO3 build_go "$GO" "$BIN/gotls-$GO3" &&
		GOTOOLCHAIN=$GO3 build_go "$GO" "$BIN/gotls-$GO3-stripped" -ldflags='-s -w'; then
		ok "Go HTTPS program built with $GO3, with and without symbols"
		later_round "$GO3" "$BIN/gotls-$GO3" 13443 .symtab
		later_round "$GO3-stripped" "$BIN/gotls-$GO3-stripped" 14443 .gopclntab
		check "$GO3 is newer than the offsets table: the log says its go1.26 offsets are used" \
			grep -q "hooked $BIN/gotls-$GO3 (Go $GO3, .*newer than the offsets table" "${OUT%.json}.floe.log"
	else
		not_ok "build the Go HTTPS program with $GO3"
		diag "$(tail -n 20 "$T/gobuild.log")"
	fi
else
	skip "$GO3: HTTP/1.1 and HTTP/2 with and without symbols" "the toolchain could not be fetched: $(tail -n 1 "$T/go3.log")"
fi

# ---------------------------------------------------------------- 5. a new program file
cp "$BIN/gotls" "$T/gotls-late"
in_pod a "$T/gotls-late" client "https://$B:$PORT" h1 3 "$T/late1.log" 2>"$T/late1.err" ||
	not_ok "new program's first run: $(head -c 300 "$T/late1.err")"
if wait_for_line "${OUT%.json}.floe.log" "hooked $T/gotls-late " 10; then
	ok "a Go program file first run after floe (a short client) got probed"
	in_pod a "$T/gotls-late" client "https://$B:$PORT" h1 3 "$T/late2.log" 2>"$T/late2.err" ||
		not_ok "new program's second run: $(head -c 300 "$T/late2.err")"
	EXPECT=$((EXPECT + 3 + 6))
else
	not_ok "a Go program file first run after floe (a short client) got probed"
	diag "$(grep 'floe: tls:' "${OUT%.json}.floe.log")"
fi

# ---------------------------------------------------------------- 4. grpc-go
GPORT=12443 NG=6
GRPC_LOG=
if [ -x "$BIN/gotlsgrpc" ] && [ "$BIN/gotlsgrpc" -nt "$HERE/gotlsgrpc/main.go" ] ||
	(cd "$HERE/gotlsgrpc" && GOFLAGS=-mod=mod GOPATH=$BIN/gopath timeout 120 "$GO" mod download) >"$T/gomod.log" 2>&1; then
	if SRC=gotlsgrpc build_go "$GO" "$BIN/gotlsgrpc"; then
		pod_bg b "$T/server-grpc.log" "$BIN/gotlsgrpc" server "$B:$GPORT" "$T/cert.pem" "$T/key.pem"
		GSRV=$BG_PID
		if wait_for_line "${OUT%.json}.floe.log" "hooked $BIN/gotlsgrpc " 10 && wait_tcp_listen b $GPORT 10; then
			ok "grpc-go server (started after floe) hooked and listening"
			in_pod a "$BIN/gotlsgrpc" client "$B:$GPORT" $NG "$T/grpc.log" 2>"$T/grpc.err" ||
				not_ok "grpc-go client: $(head -c 300 "$T/grpc.err")"
			GRPC_LOG=$T/grpc.log
			EXPECT=$((EXPECT + 2 * NG))
		else
			not_ok "grpc-go server (started after floe) hooked and listening"
			diag "$(cat "$T/server-grpc.log"; grep 'floe: tls:' "${OUT%.json}.floe.log")"
		fi
	else
		not_ok "build the grpc-go program"
		diag "$(tail -n 20 "$T/gobuild.log")"
	fi
else
	skip "grpc-go over TLS" "the Go module proxy cannot be reached: $(tail -n 1 "$T/gomod.log")"
fi

entries_stop $EXPECT
check_client "$T/h1.log" "$SRV" $PORT 1.1
check_client "$T/h2.log" "$SRV" $PORT 2
check_client "$T/s.log" "$SRV_S" $SPORT 2
# The load's requests too: one entry each from the client's process.
bpid=$(jq -r '.pid' "$T/bench-on.log" 2>/dev/null | head -n 1)
is "$(jq -c "select(.tls == true and .pid == ${bpid:-0})" "$OUT" | wc -l)" "$(grep -c . "$T/bench-on.log")" \
	"the $BENCH_N-request load: one entry per request from the client's side"
for run in 1 2; do
	[ -s "$T/late$run.log" ] || continue
	lpid=$(jq -r '.pid' "$T/late$run.log" | head -n 1)
	got=$(jq -c "select(.tls == true and .pid == $lpid)" "$OUT" | wc -l)
	if [ $run = 1 ]; then
		diag "new program's first run: $got of its 3 requests seen from its side"
	elif [ "$got" = 3 ]; then
		ok "new program's second run: each of its 3 requests seen from its side"
	else
		not_ok "new program's second run: each of its 3 requests seen from its side ($got seen)"
		# What floe knew of it: its log's lines on the file and the TLS figures.
		diag "first run pid $(jq -r '.pid' "$T/late1.log" | head -n 1), second $lpid"
		diag "$(grep -E 'gotls-late|unhooked|tls: (plaintext|libraries)' "${OUT%.json}.floe.log")"
		diag "$(jq -c 'with_entries(select(.key | startswith("tls_")))' "${OUT%.json}.stats.json" 2>&1)"
	fi
done
if [ -n "$GRPC_LOG" ]; then
	checks "$PY" - "$OUT" "$GRPC_LOG" "$GSRV" $A $B $GPORT <<'PYEOF'
import json, sys
entries_path, log_path, srv_pid, a_ip, b_ip, port = sys.argv[1:7]
srv_pid, port = int(srv_pid), int(port)
entries = [json.loads(l) for l in open(entries_path) if l.strip()]
recs = [json.loads(l) for l in open(log_path) if l.strip()]
names = {0: "OK", 5: "NOT_FOUND"}
def eq(desc, got, want):
    print(("ok\t" + desc) if got == want else f"fail\t{desc}: got {got!r}, want {want!r}")
eq("grpc-go: the client logged its calls", len(recs), 6)
for side, pid in (("client", recs[0]["pid"] if recs else 0), ("server", srv_pid)):
    es = sorted([e for e in entries if e.get("pid") == pid and e.get("tls") is True],
                key=lambda e: e.get("stream_id") or 0)
    eq(f"grpc-go ({side}'s side): one entry per call", len(es), len(recs))
    for i, (r, e) in enumerate(zip(recs, es)):
        g = e.get("grpc") or {}
        tag = f"grpc-go call {i + 1} ({r['service']}, {side})"
        eq(f"{tag}: protocol grpc", e.get("protocol"), "grpc")
        eq(f"{tag}: stream {2 * i + 1}", e.get("stream_id"), 2 * i + 1)
        eq(f"{tag}: service and method", (g.get("service"), g.get("method")), ("grpc.health.v1.Health", "Check"))
        eq(f"{tag}: status as the client got it", (g.get("status"), g.get("status_name")), (r["code"], names.get(r["code"])))
        eq(f"{tag}: endpoints", ((e.get("src") or {}).get("ip"), (e.get("src") or {}).get("port"), (e.get("dst") or {}).get("ip"), (e.get("dst") or {}).get("port")), (a_ip, r["local_port"], b_ip, port))
PYEOF
fi
for r in "${ROUNDS[@]}"; do
	# shellcheck disable=SC2086
	check_client $r
done

x=${OUT%.json}
is "$(jq -r '.tls_libs_failed' "$x.stats.json")" 0 "no library or program failed to be hooked"
# The uprobes went on as uprobe_multi links (auto, Linux >= 6.6) or perf uprobes (forced:
# FLOE_TLS_ATTACH=perf, the *_perf.sh run of this test): the entries above held either way.
is "$(jq -r '.tls_attach_multi' "$x.stats.json")" "$(tls_attach_expect)" \
	"tls_attach_multi (--tls-attach ${FLOE_TLS_ATTACH:-auto})"
is "$(jq -r '.tls_cut' "$x.stats.json")" 0 "no plaintext cut"
diag "$(grep -E '^  tls:' "$x.floe.log")"
is "$(jq -c 'select(.tls != true and .protocol != "tls")' "$OUT" | wc -l)" 0 \
	"no entry from the ciphertext packets but the handshake entries"
entries_diag "$OUT" 40 | while read -r l; do diag "$l"; done

done_testing
