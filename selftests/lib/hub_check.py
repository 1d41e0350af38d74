#!/usr/bin/python3
"""floe-hub's HTTP/WebSocket API over real connections on loopback (docs/hub.md).

The server is build/hub-fixture: the hub's own server module over three in-memory agents
(lib/core/api/agent_api_mem.h) holding a real capture's entries (`floe read --json`) and its
packets, plus synthetic entries whose timestamps interleave across the agents (pairs share one:
ties are ordered by id). The clients are real: urllib and curl for HTTP, a stdlib WebSocket
client (ws_client.py) for the stream, tshark for the PCAP. Expectations are computed here from
what was loaded, not asked of the hub.

Prints TAP-like "ok N - ..." lines and "N passed, N failed"; exit status 1 when anything failed.
Usage: hub_check.py --build build [--captures DIR]
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ws_client import HandshakeError, WSClient  # noqa: E402

N_AGENTS = 3
SYNTHETIC = 3000

results = {"pass": 0, "fail": 0, "n": 0}


def ok(cond, desc, detail=None):
    results["n"] += 1
    if cond:
        results["pass"] += 1
        print(f"ok {results['n']} - {desc}")
    else:
        results["fail"] += 1
        print(f"not ok {results['n']} - {desc}")
        if detail is not None:
            for line in str(detail).splitlines()[:20]:
                print(f"# {line}")
    sys.stdout.flush()
    return cond


def skip(desc, why):
    results["n"] += 1
    results["pass"] += 1
    print(f"ok {results['n']} - {desc} # SKIP {why}")


def ts_ns(rfc3339):
    """'2026-12-05T16:56:32.386554576Z' -> Unix ns, exactly (no float)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", rfc3339)
    import calendar
    sec = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = (m.group(2) or "").ljust(9, "0")[:9]
    return sec * 1000000000 + int(frac)


def entry_ts(e):
    return ts_ns(e.get("request_time") or e["response_time"])


class Fixture:
    """build/hub-fixture as a child process, driven through its stdin."""

    def __init__(self, build, *args):
        self.p = subprocess.Popen([os.path.join(build, "hub-fixture"), *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=sys.stderr, text=True, bufsize=1)
        line = self.p.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"hub-fixture did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def cmd(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def wait_followers(self, n, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if int(self.cmd("followers").split()[1]) >= n:
                return True
            time.sleep(0.02)
        return False

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=10)
            except Exception:
                self.p.kill()
                self.p.wait()


def http(base, path, params=None, token=None):
    """(status, headers, body bytes)."""
    url = base + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(base, path, params=None, token=None):
    st, _, body = http(base, path, params, token)
    return st, json.loads(body)


def all_pages(base, params, limit):
    """Every entry of a query, page by page through the cursor."""
    out, cursor, pages = [], None, 0
    while True:
        p = dict(params, limit=str(limit))
        if cursor:
            p["cursor"] = cursor
        st, j = get_json(base, "/api/v1/entries", p)
        if st != 200:
            raise RuntimeError(f"page {pages}: {st} {j}")
        out += j["entries"]
        pages += 1
        cursor = j["next"]
        if not cursor:
            return out, pages


def key(e):
    return (entry_ts(e), e["id"])


def synthetic_expected(k, base_ts):
    """What hub-fixture's synthetic entry k holds (selftests/hub/hub_fixture.c)."""
    return {"method": ["GET", "POST", "PUT"][k % 3], "status": [200, 404, 500, 201][k % 4]}


def load_expected(build, capture):
    """The entries the fixture loads, with the ids and agents it gives them."""
    out = subprocess.run([os.path.join(build, "floe"), "read", capture, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.split("\n") if line.strip()]


def tshark_packets(path):
    r = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch",
                        "-e", "frame.len"], capture_output=True, text=True)
    # tshark says it runs as root on stderr; anything else there is a warning about the file.
    warn = [l for l in r.stderr.splitlines() if l.strip() and "Running as user" not in l]
    rows = []
    for line in r.stdout.splitlines():
        t, n = line.split("\t")
        s, _, f = t.partition(".")
        rows.append((int(s) * 1000000000 + int(f.ljust(9, "0")[:9]), int(n)))
    return r.returncode, warn, rows


def ws_collect(url, until, token=None, pause=None, timeout=30, rcvbuf=None, frames=None):
    """Messages from the stream until until(msgs) is true. pause(msgs) may return a function,
    run once (the socket not read meanwhile). A batched stream's WebSocket messages (JSON
    arrays, ?batch=N) are taken apart into their messages; frames, when a list, gets each
    WebSocket message's count of messages, or None for one that was not an array."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    ws = WSClient(url, headers=headers, timeout=timeout, rcvbuf=rcvbuf)
    msgs = []
    paused = False
    end = time.time() + timeout
    try:
        while not until(msgs):
            if time.time() > end:
                raise TimeoutError(f"{len(msgs)} messages: {len(entries_of(msgs))} entries, "
                                   f"{sum(m.get('lost', 0) for m in msgs)} lost, last "
                                   f"{msgs[-1:]}")
            text = ws.recv()
            if text is None:
                raise EOFError(f"closed after {len(msgs)} messages")
            m = json.loads(text)
            if frames is not None:
                frames.append(len(m) if isinstance(m, list) else None)
            msgs.extend(m if isinstance(m, list) else [m])
            if pause and not paused:
                job = pause(msgs)
                if job is not None:
                    paused = True
                    job()
    finally:
        ws.close()
    return msgs


def emit_when(fx, when, n, spacing_us=0):
    """A ws_collect pause: once when(msgs), the fixture emits n entries (spacing_us apart) once
    the stream's followers are registered, while the socket is not read."""
    def pause(msgs):
        if not when(msgs):
            return None

        def emit():
            fx.wait_followers(3)
            fx.cmd(f"emit {n} {spacing_us}")
        return emit
    return pause


def entries_of(msgs):
    return [m["entry"] for m in msgs if m["type"] == "entry"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES",
                                                         "../shared/captures"))
    args = ap.parse_args()
    build = args.build
    capture = os.path.join(args.captures, "redis", "redis-50-pings.pcap")
    if not os.path.exists(capture):
        skip("hub API", f"{capture} is missing")
        return
    real = load_expected(build, capture)
    ok(len(real) > 20, f"floe read gives the capture's entries ({len(real)})")
    jsonl = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"hub_check_{os.getpid()}.jsonl")
    with open(jsonl, "w") as f:
        for e in real:
            f.write(json.dumps(e) + "\n")

    fx = Fixture(build, "--agents", str(N_AGENTS), "--entries", jsonl, "--synthetic",
                 str(SYNTHETIC), "--pcap", capture)
    fixtures = [fx]
    try:
        run_http(fx, real, capture)
        run_stream(fx, real)
        run_stream_batched(fx)
        fx2 = Fixture(build, "--agents", "2", "--synthetic", "10", "--token", "s3cret")
        fixtures.append(fx2)
        run_token(fx2)
        # Each agent's follower queue (2000) is far smaller than what is emitted (20000): if the
        # hub's callback waited for the slow client, the agents would lose entries.
        fx3 = Fixture(build, "--agents", str(N_AGENTS), "--synthetic", "30", "--ws-queue",
                      "64", "--follow-queue", "2000")
        fixtures.append(fx3)
        run_slow(fx3)
        fx4 = Fixture(build, "--agents", str(N_AGENTS), "--synthetic", "30", "--ws-queue",
                      "64", "--follow-queue", "2000")
        fixtures.append(fx4)
        run_slow(fx4, batch=16)
    finally:
        for f in fixtures:
            f.close()
        os.unlink(jsonl)


def run_http(fx, real, capture):
    base = fx.base
    total = len(real) + SYNTHETIC
    # The expected ids: entry i (file entries first, then synthetic) is on agent i % 3.
    ids = [f"node{i % N_AGENTS}-{e['id']}" for i, e in enumerate(real)]
    ids += [f"node{(len(real) + k) % N_AGENTS}-s{k}" for k in range(SYNTHETIC)]

    ss = subprocess.run(["ss", "-Hltn", f"sport = :{fx.port}"], capture_output=True,
                        text=True).stdout
    local = [line.split()[3] for line in ss.splitlines()]
    ok(local == [f"127.0.0.1:{fx.port}"], "binds loopback only by default", ss)

    # One page of everything, and the same through the cursor in pages of 97.
    st, big = get_json(base, "/api/v1/entries", {"limit": "10000"})
    ok(st == 200 and len(big["entries"]) == total and big["next"] is None,
       f"all {total} entries of 3 agents in one page", (st, len(big.get("entries", []))))
    got = big["entries"]
    keys = [key(e) for e in got]
    ok(keys == sorted(keys), "merged in time order (ts, then id)")
    ok(sorted(e["id"] for e in got) == sorted(ids) and len(set(e["id"] for e in got)) == total,
       "every entry exactly once")
    ties = sum(1 for a, b in zip(keys, keys[1:]) if a[0] == b[0])
    ok(ties >= SYNTHETIC // 2 - 1, f"ties across agents are ordered by id ({ties} ties)")
    ok(all("text" not in json.dumps(e.get("response", {}).get("body", {})) for e in got),
       "listings leave bodies out")
    st, d = get_json(base, "/api/v1/entries")
    ok(st == 200 and len(d["entries"]) == 100 and d["next"], "limit defaults to 100")

    paged, pages = all_pages(base, {}, 97)
    ok([e["id"] for e in paged] == [e["id"] for e in got],
       f"cursor pages of 97 ({pages} pages) partition the result exactly",
       (len(paged), len(got)))
    paged1, _ = all_pages(base, {"q": "redis"}, 7)
    ok([e["id"] for e in paged1] == [e["id"] for e in got if e["protocol"] == "redis"],
       "cursor pages of a filtered query partition its result")

    # Filters, checked against the entries as loaded.
    q = 'response.status == 404 and request.method == "GET"'
    st, d = get_json(base, "/api/v1/entries", {"q": q, "limit": "10000"})
    want = [f"node{(len(real) + k) % N_AGENTS}-s{k}" for k in range(SYNTHETIC)
            if synthetic_expected(k, 0) == {"method": "GET", "status": 404}]
    ok(st == 200 and sorted(e["id"] for e in d["entries"]) == sorted(want),
       f"filter {q!r}: {len(want)} entries", (st, len(d.get("entries", []))))
    st, d = get_json(base, "/api/v1/entries", {"q": "redis and request.command == \"PING\"",
                                                "limit": "10000"})
    want = [ids[i] for i, e in enumerate(real) if e["request"].get("command") == "PING"]
    ok(st == 200 and [e["id"] for e in d["entries"]] == [e["id"] for e in got if e["id"] in want]
       and len(want) > 10, f"filter on a real capture's field: {len(want)} PINGs")

    # Time bounds: RFC 3339 and Unix ns say the same.
    synth = [e for e in got if e["protocol"] == "http"]
    lo, hi = synth[100], synth[200]
    st, a = get_json(base, "/api/v1/entries", {"since": str(entry_ts(lo)),
                                               "until": str(entry_ts(hi)), "limit": "10000"})
    st2, b = get_json(base, "/api/v1/entries", {"since": lo["request_time"],
                                                "until": hi["request_time"], "limit": "10000"})
    want = [e["id"] for e in got if entry_ts(lo) <= entry_ts(e) < entry_ts(hi)]
    ok(st == 200 and [e["id"] for e in a["entries"]] == want, f"since/until as Unix ns "
       f"({len(want)} entries)")
    ok(st2 == 200 and [e["id"] for e in b["entries"]] == want, "since/until as RFC 3339")
    t = lo["request_time"]
    off = t[:10] + "T" + "%02d" % ((int(t[11:13]) + 1) % 24) + t[13:-1] + "+01:00"
    if int(t[11:13]) < 23:
        st3, c = get_json(base, "/api/v1/entries", {"since": off, "until": hi["request_time"],
                                                    "limit": "10000"})
        ok(st3 == 200 and [e["id"] for e in c["entries"]] == want,
           "RFC 3339 with a +01:00 offset")

    # Errors.
    st, d = get_json(base, "/api/v1/entries", {"q": "response.statuss == 404"})
    ok(st == 400 and d.get("column") == 1 and "response.status" in d["error"],
       "a bad query is a 400 with its column", d)
    st, d = get_json(base, "/api/v1/entries", {"q": 'http and request.method =='})
    ok(st == 400 and d.get("column", 0) > 1, "a syntax error is a 400 with its column", d)
    for name, params in [("limit=0", {"limit": "0"}), ("limit=abc", {"limit": "abc"}),
                         ("since=yesterday", {"since": "yesterday"}),
                         ("cursor=xyz", {"cursor": "xyz"})]:
        st, d = get_json(base, "/api/v1/entries", params)
        ok(st == 400 and "error" in d, f"{name}: 400", d)
    st, _, _ = http(base, "/api/v1/nope")
    ok(st == 404, "an unknown route: 404")
    st, _, _ = http(base, "/api/v1/stream")
    ok(st == 426, "the stream without a WebSocket upgrade: 426")

    # One entry in full.
    one = ids[len(real) + 5]
    st, d = get_json(base, "/api/v1/entries/" + urllib.parse.quote(one))
    ok(st == 200 and d["id"] == one and d["response"]["body"]["text"] == "body",
       "an entry by id, in full (body included)", d)
    st, d = get_json(base, "/api/v1/entries/" + urllib.parse.quote(ids[1]))
    ok(st == 200 and d["id"] == ids[1] and d["protocol"] == "redis",
       "an entry of another agent by id")
    st, d = get_json(base, "/api/v1/entries/node9-nothing")
    ok(st == 404 and "error" in d, "an unknown id: 404")

    # Agents, a lost one, stats and metrics.
    st, d = get_json(base, "/api/v1/agents")
    ok(st == 200 and [a["name"] for a in d["agents"]] == ["node0", "node1", "node2"] and
       all(a["connected"] for a in d["agents"]), "/api/v1/agents lists the 3 agents", d)
    fx.cmd("down 1")
    st, d = get_json(base, "/api/v1/agents")
    ok(st == 200 and not d["agents"][1]["connected"] and d["agents"][1]["error"],
       "an agent that is down is reported in /api/v1/agents", d)
    st, d = get_json(base, "/api/v1/entries", {"limit": "10000"})
    ok(st == 200 and len(d["entries"]) == total - len([i for i in ids if i.startswith("node1-")])
       and [x["agent"] for x in d.get("errors", [])] == ["node1"],
       "entries of the agents that answer, and which one did not", d.get("errors"))
    fx.cmd("up 1")
    st, d = get_json(base, "/api/v1/stats")
    ok(st == 200 and d["hub"]["agents_connected"] == 3 and
       sum(a["stats"]["entries"] for a in d["agents"]) == total, "/api/v1/stats", d.get("hub"))
    st, h, body = http(base, "/metrics")
    text = body.decode()
    served = re.search(r'^floe_hub_entries_served_total\{route="entries"\} (\d+)$', text, re.M)
    ok(st == 200 and h["Content-Type"].startswith("text/plain") and served and
       int(served.group(1)) >= total and
       re.search(r'^floe_hub_query_seconds_bucket\{route="entries",le="\+Inf"\} \d+$', text,
                 re.M) and
       re.search(r"^floe_hub_agents_connected 3$", text, re.M) and
       re.search(r'^floe_agent_entries\{agent="node2"\} \d+$', text, re.M),
       "/metrics: entries served by route, latency histogram, agents, agents' stats",
       text[:1500])
    types = re.findall(r"^# TYPE (\S+)", text, re.M)
    ok(len(types) == len(set(types)), "/metrics: one TYPE line per metric")

    # PCAP: every agent's packets merged in time order; tshark reads it without a warning.
    pcap = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"hub_check_{os.getpid()}.pcap")
    try:
        for q, want_n in [(None, None), ("redis", None)]:
            rc, warn, orig = tshark_packets(capture)
            if q == "redis":
                # Packet j was given to entry j % entries: the file's entries come first.
                orig = [p for j, p in enumerate(orig) if (j % (len(real) + SYNTHETIC)) <
                        len(real)]
            params = {"q": q} if q else None
            st, h, body = http(base, "/api/v1/pcap", params)
            with open(pcap, "wb") as f:
                f.write(body)
            rc, warn, rows = tshark_packets(pcap)
            what = f"pcap{'?q=' + q if q else ''}"
            ok(st == 200 and h["Content-Type"] == "application/vnd.tcpdump.pcap" and rc == 0
               and not warn, f"{what}: tshark opens it without warnings", (st, rc, warn))
            ok(len(rows) == len(orig) and [r[0] for r in rows] == sorted(r[0] for r in rows)
               and sorted(rows) == sorted(orig),
               f"{what}: {len(orig)} packets of 3 agents, in time order", (len(rows),
                                                                           len(orig)))
    finally:
        if os.path.exists(pcap):
            os.unlink(pcap)


def run_stream(fx, real):
    base = f"ws://127.0.0.1:{fx.port}/api/v1/stream"
    st, d = get_json(fx.base, "/api/v1/entries", {"limit": "10000"})
    history = [e["id"] for e in d["entries"]]
    emitted = 300

    # While the history is still being sent.
    pause = emit_when(fx, lambda m: m[-1]["type"] == "entry" and len(m) == 50, emitted, 200)
    want = len(history) + emitted
    msgs = ws_collect(base, lambda m: bool(m) and m[-1]["type"] == "entry" and
                      len(m) >= want and len(entries_of(m)) >= want, pause=pause)
    types = [m["type"] for m in msgs]
    live_at = types.index("live") if "live" in types else -1
    ents = entries_of(msgs)
    ids = [e["id"] for e in ents]
    ok(live_at > 0 and len(ids) == want and len(set(ids)) == want,
       f"stream: history then live, {want} entries, none twice", (live_at, len(ids),
                                                                   len(set(ids))))
    hist = entries_of(msgs[:live_at])
    live = entries_of(msgs[live_at:])
    ok([e["id"] for e in hist][:len(history)] == history[:len(hist)] and
       [key(e) for e in hist] == sorted(key(e) for e in hist),
       f"stream: history in time order ({len(hist)} entries)")
    ok(set(ids) >= set(history) and len(live) + len(hist) == want,
       f"stream: live entries after it ({len(live)}), none lost, none twice")
    lk = [key(e) for e in live]
    ok(lk == sorted(lk), "stream: live entries of 3 agents merged in time order")
    ok(not any(m["type"] == "lost" for m in msgs), "stream: no loss notice for a fast client")

    # A bad query: closed at once, the error as the close reason.
    ws = WSClient(base + "?" + urllib.parse.urlencode({"q": "response.statu == 1"}), timeout=10)
    first = ws.recv()
    ws.close()
    ok(first is None and ws.close_code == 1008 and "response.status" in ws.close_reason,
       "stream: a bad query closes it with 1008 and the error", (first, ws.close_code,
                                                                 ws.close_reason))

    # A filtered stream: only matching entries, history and live.
    q = 'request.method == "POST"'

    pause2 = emit_when(fx, lambda m: m[-1]["type"] == "live", 30)
    n_post = sum(1 for e in d["entries"] if e.get("request", {}).get("method") == "POST")
    msgs = ws_collect(base + "?" + urllib.parse.urlencode({"q": q}),
                      lambda m: len(entries_of(m)) >= n_post + 10, pause=pause2)
    ents = entries_of(msgs)
    ok(len(ents) == n_post + 10 and all(e["request"]["method"] == "POST" for e in ents),
       f"filtered stream: {n_post} history + 10 live POSTs, nothing else")


def run_stream_batched(fx):
    """?batch=N: the same stream, N messages to a WebSocket message (a JSON array)."""
    batch = 100
    base = f"ws://127.0.0.1:{fx.port}/api/v1/stream"
    url = base + "?" + urllib.parse.urlencode({"batch": batch, "batch_ms": 50})
    st, d = get_json(fx.base, "/api/v1/entries", {"limit": "10000"})
    history = [e["id"] for e in d["entries"]]
    emitted = 500
    frames = []

    # While the history is still being sent (the client is not reading).
    pause = emit_when(fx, lambda m: len(entries_of(m)) >= 50, emitted, 100)
    want = len(history) + emitted
    msgs = ws_collect(url, lambda m: len(entries_of(m)) >= want, pause=pause, frames=frames)
    ents = entries_of(msgs)
    ids = [e["id"] for e in ents]
    ok(frames and all(f is not None and 1 <= f <= batch for f in frames),
       f"batched stream: every WebSocket message is an array of 1 to {batch} messages "
       f"({len(frames)} messages, largest {max(f or 0 for f in frames)})",
       frames[:20])
    ok(max(f or 0 for f in frames) > 1, "batched stream: messages do hold several entries")
    # The oracle: the hub's own listing, asked again now that the emitted entries are in it.
    st, d2 = get_json(fx.base, "/api/v1/entries", {"limit": "10000"})
    now = [e["id"] for e in d2["entries"]]
    ok(len(ids) == want and len(set(ids)) == want and set(ids) == set(now),
       f"batched stream: every entry of /api/v1/entries exactly once across batches ({want})",
       (len(ids), len(set(ids)), len(now), sorted(set(now) - set(ids))[:5]))
    types = [m["type"] for m in msgs]
    live_at = types.index("live") if "live" in types else -1
    hist = entries_of(msgs[:live_at])
    # Entries emitted while the history is read can be in its last pages too.
    ok(live_at > 0 and [e["id"] for e in hist][:len(history)] == history and
       [key(e) for e in hist] == sorted(key(e) for e in hist),
       f"batched stream: the history in time order, then live ({len(hist)} entries)")
    lk = [key(e) for e in entries_of(msgs[live_at:])]
    ok(lk == sorted(lk), "batched stream: live entries in time order")

    # A lone live entry is not kept waiting for its batch to fill: it comes within batch_ms
    # (plus the hub's 200 ms ordering hold).
    # The earlier streams' followers are gone first, so that "3 followers" means this one's.
    end = time.time() + 10
    while int(fx.cmd("followers").split()[1]) and time.time() < end:
        time.sleep(0.05)
    got = {}

    def pause1(msgs):
        if msgs[-1]["type"] != "live":
            return None

        def emit():
            fx.wait_followers(3)
            got["t0"] = time.time()
            fx.cmd("emit 1")
        return emit
    # History from now on: none; then the one live entry.
    url1 = base + "?" + urllib.parse.urlencode({"batch": 1000, "batch_ms": 300,
                                                "since": str(time.time_ns())})
    try:
        msgs = ws_collect(url1, lambda m: len(entries_of(m)) >= 1, pause=pause1, timeout=20)
        took = time.time() - got["t0"]
        ok(len(entries_of(msgs)) == 1 and took < 5,
           f"batched stream: a lone live entry arrives without its batch filling "
           f"({took * 1000:.0f} ms; batch_ms 300)")
    except (TimeoutError, EOFError) as e:
        ok(False, "batched stream: a lone live entry arrives without its batch filling", e)

    # Out of range: refused like a bad query.
    for arg in ({"batch": "0"}, {"batch": "5000"}, {"batch": "10", "batch_ms": "x"}):
        ws = WSClient(base + "?" + urllib.parse.urlencode(arg), timeout=10)
        first = ws.recv()
        ws.close()
        name = "batch_ms" if "batch_ms" in arg else "batch"
        ok(first is None and ws.close_code == 1008 and f'"error":"{name}: ' in ws.close_reason,
           f"stream: {urllib.parse.urlencode(arg)} closes it with 1008 and why",
           (first, ws.close_code, ws.close_reason))


def run_token(fx):
    base = fx.base
    st, h, body = http(base, "/api/v1/entries")
    ok(st == 401 and h.get("WWW-Authenticate") == "Bearer", "token set: none given is a 401")
    st, _, _ = http(base, "/api/v1/entries", token="wrong")
    ok(st == 401, "token set: a wrong one is a 401")
    st, _, _ = http(base, "/metrics")
    ok(st == 401, "token set: /metrics too")
    st, d = get_json(base, "/api/v1/entries", token="s3cret")
    ok(st == 200 and len(d["entries"]) == 10, "token set: the right one is served")
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                        "Authorization: Bearer s3cret", base + "/api/v1/agents"],
                       capture_output=True, text=True)
    ok(r.stdout == "200", "token set: curl with the token", r.stdout)
    url = f"ws://127.0.0.1:{fx.port}/api/v1/stream"
    for what, tok in [("without it", None), ("with a wrong one", "nope")]:
        try:
            WSClient(url, headers={"Authorization": f"Bearer {tok}"} if tok else None,
                     timeout=5).close()
            refused = "accepted"
        except HandshakeError as e:
            refused = e.status
        except OSError as e:
            refused = repr(e)
        ok(refused not in ("accepted", 101), f"token set: a WebSocket {what} is refused "
           f"({refused})")
    msgs = ws_collect(url, lambda m: bool(m) and m[-1]["type"] == "live", token="s3cret")
    ok(len(entries_of(msgs)) == 10, "token set: a WebSocket with it gets the stream")
    # A browser's WebSocket cannot send Authorization: it offers the token as a subprotocol
    # (docs/ui.md), and the hub must select "floe" for the browser to accept the answer.
    good = "floe.bearer." + base64.urlsafe_b64encode(b"s3cret").decode().rstrip("=")
    for what, protos, want in [("the right token", f"floe, {good}", "accepted"),
                               ("a wrong token", "floe, floe.bearer.bm9wZQ", "refused"),
                               ("the token in plain", "floe, floe.bearer.s3cret", "refused"),
                               ("no token", "floe", "refused")]:
        try:
            c = WSClient(url, headers={"Sec-WebSocket-Protocol": protos}, timeout=5)
            head = c.head.lower()
            got = "accepted" if b"sec-websocket-protocol: floe\r" in head + b"\r" else "no floe"
            c.close()
        except HandshakeError as e:
            got, head = "refused", e.status
        except OSError as e:
            got, head = "refused", repr(e)
        ok(got == want, f"token set: a WebSocket offering {what} as a subprotocol is {want}",
           (got, head))
    st, _, body = http(base, "/")
    ok(st == 404 and b"no such file" in body,
       "token set: the UI's files are served without it (no --ui-dir here: the file route's "
       "404, not a 401)", (st, body[:100]))


def run_slow(fx, batch=0):
    """A client that stops reading: the agents are never held up, it is told what it lost.
    With batch, the same through a batched stream."""
    url = f"ws://127.0.0.1:{fx.port}/api/v1/stream" + (f"?batch={batch}" if batch else "")
    what = f"slow client (batch={batch})" if batch else "slow client"
    n = 20000
    queue = 64  # --ws-queue: live entries the hub may hold besides the client's queue
    state = {}

    def metric(name):
        _, _, body = http(fx.base, "/metrics")
        m = re.search(rf"^{re.escape(name)} (\d+)$", body.decode(), re.M)
        return int(m.group(1))

    def pause(msgs):
        if msgs[-1]["type"] != "live":
            return None
        state["history"] = len(entries_of(msgs))

        def stall():
            fx.wait_followers(3)
            t0 = time.time()
            fx.cmd(f"emit {n}")
            state["emit_s"] = time.time() - t0
            # Not reading: wait until the hub has queued or dropped every live entry but
            # those it may still hold.
            end = time.time() + 30
            while time.time() < end:
                served = metric('floe_hub_entries_served_total{route="stream"}')
                lost = metric("floe_hub_stream_lost_total")
                state["served_lost"] = (served, lost)
                if served - state["history"] + lost >= n - queue:
                    break
                time.sleep(0.05)
            state["agent_lost"] = int(fx.cmd("lost").split()[1])
        return stall

    count = {"seen": 0, "live": False, "n": 0}

    def done(msgs):
        # Incremental: called after every message.
        for m in msgs[count["seen"]:]:
            if m["type"] == "live":
                count["live"] = True
            elif count["live"]:
                count["n"] += 1 if m["type"] == "entry" else m.get("lost", 0)
        count["seen"] = len(msgs)
        return count["n"] >= n

    try:
        # A small receive buffer: a client that stops reading is full after a few entries.
        msgs = ws_collect(url, done, pause=pause, timeout=60, rcvbuf=65536)
    except (TimeoutError, EOFError) as e:
        ok(False, f"{what}: the stream goes on", (e, state))
        return
    live = msgs[[m["type"] for m in msgs].index("live"):]
    got = entries_of(live)
    notices = [m for m in live if m["type"] == "lost"]
    lost = sum(m["lost"] for m in notices)
    ok(notices and lost > 0 and len(got) + lost == n,
       f"{what}: told it lost {lost} of {n} (got {len(got)})",
       (len(notices), lost, len(got), state))
    ok(notices and notices[-1]["total"] == lost, f"{what}: the notices' total adds up")
    ok(state.get("agent_lost") == 0, f"{what}: the agents' followers lost nothing "
       "(the hub never held them up)", state)
    ok(len(set(e["id"] for e in got)) == len(got), f"{what}: no entry twice")
    lk = [key(e) for e in got]
    ok(lk == sorted(lk), f"{what}: what it got is in time order")
    print(f"# {what}: the agents emitted {n} entries in {state.get('emit_s', 0):.2f} s")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is one more failure, with its reason
        import traceback
        ok(False, f"hub_check ran to the end: {e!r}", traceback.format_exc())
    print(f"{results['pass']} passed, {results['fail']} failed")
    sys.exit(1 if results["fail"] else 0)
