#!/usr/bin/python3
"""floe-hub's routes for the web UI over real loopback connections (docs/hub.md, docs/ui.md).

build/hub-fixture serves a UI directory made here (index.html, app.js, app.css, a hidden file,
a symlink out of it, a secret beside it) and three in-memory agents with synthetic entries. The
client is raw sockets (so that "..", encoded or not, reaches the server as sent) and urllib.
Oracles: the files' own bytes; the entries route's 400 for the same bad query (its column);
`floe schema --json` for the schema.

Prints "ok N - ..." lines and "N passed, N failed"; exit status 1 when anything failed.
Usage: hub_ui_check.py --build build
"""
import argparse
import datetime
import json
import math
import random
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from hub_check import all_pages  # noqa: E402 (the same directory)

results = {"pass": 0, "fail": 0, "n": 0}


def ok(cond, desc, detail=None):
    results["n"] += 1
    results["pass" if cond else "fail"] += 1
    print(f"{'ok' if cond else 'not ok'} {results['n']} - {desc}")
    if not cond and detail is not None:
        for line in str(detail).splitlines()[:20]:
            print(f"# {line}")
    sys.stdout.flush()
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Fixture:
    def __init__(self, build, *args):
        self.p = subprocess.Popen([os.path.join(build, "hub-fixture"), *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"hub-fixture did not start: {line!r}")
        self.port = int(line.split()[1])
        self.front = None
        if "--front-port" in args:
            self.front = int(self.p.stdout.readline().split()[1])

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def raw_get(port, target):
    """GET target exactly as given; (status, headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def get_json(port, path, params=None):
    url = f"http://127.0.0.1:{port}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def entries_all(port, params):
    """Every entry of /api/v1/entries for params, following the cursor."""
    return all_pages(f"http://127.0.0.1:{port}", params, 10000)[0]


def is_error(e):
    """The error rule of docs/hub.md#service-map, written again here from the doc."""
    p, rs = e.get("protocol"), e.get("response") or {}
    if e.get("missing"):
        return True
    if p == "grpc":
        st = (e.get("grpc") or {}).get("status")
        return st is None or st != 0
    if p == "graphql":
        return rs.get("status", 0) >= 400 or (e.get("graphql") or {}).get("error_count", 0) > 0
    if p == "redis":
        return rs.get("type") == "error"
    if p == "dns":
        return bool(rs.get("rcode")) and rs.get("rcode") != "NOERROR"
    if p == "kafka":
        return rs.get("error_code", 0) > 0
    if p == "amqp":
        return rs.get("reply_code", 0) >= 300
    if p == "tls":
        return False
    return rs.get("status", 0) >= 400


def node_id(ep):
    ep = ep or {}
    name = next((ep[k] for k in ("pod", "service", "name", "ip") if ep.get(k)), "?")
    return f"{ep.get('namespace') or ''}/{name}"


def expected_map(entries, window_s):
    """The service map computed here from the entries route's answer."""
    edges = {}
    for e in entries:
        k = (node_id(e.get("src")), node_id(e.get("dst")), e.get("protocol") or "unknown")
        d = edges.setdefault(k, {"requests": 0, "errors": 0, "lat": []})
        d["requests"] += 1
        d["errors"] += is_error(e)
        if isinstance(e.get("elapsed_ms"), (int, float)):
            d["lat"].append(float(e["elapsed_ms"]))
    out = {}
    for k, d in edges.items():
        lat = sorted(d["lat"])
        pct = (lambda p: lat[min(len(lat) - 1, math.floor(p * len(lat)))] if lat else None)
        out[k] = {"requests": d["requests"], "errors": d["errors"],
                  "rate": d["requests"] / window_s, "error_rate": d["errors"] / d["requests"],
                  "p50_ms": pct(0.50), "p99_ms": pct(0.99), "latency_samples": len(lat)}
    return out


def map_entries(path, now):
    """Entries of several protocols between pods and services of two namespaces, some failing,
    over the last hour, written as `floe read --json` lines for hub-fixture --entries."""
    rnd = random.Random(18)
    eps = [{"namespace": "front", "pod": "web-1", "ip": "10.1.0.1"},
           {"namespace": "front", "pod": "web-2", "ip": "10.1.0.2"},
           {"namespace": "back", "pod": "api-1", "ip": "10.2.0.1"},
           {"namespace": "back", "service": "cache", "ip": "10.2.0.9"},
           {"ip": "10.9.9.9"}]
    with open(path, "w") as f:
        for i in range(3000):
            ts = now - datetime.timedelta(seconds=rnd.uniform(1, 3500))
            src, dst = rnd.sample(eps, 2)
            proto = rnd.choice(["http", "grpc", "redis", "dns", "kafka"])
            e = {"id": f"m{i}", "protocol": proto, "request_time": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                 "src": dict(src, port=40000 + i % 1000), "dst": dict(dst, port=80)}
            if rnd.random() < 0.9:
                e["elapsed_ms"] = round(rnd.lognormvariate(1, 1), 3)
            if proto == "http":
                e["response"] = {"status": rnd.choice([200, 200, 201, 404, 500])}
            elif proto == "grpc":
                e["response"] = {"status": 200}
                e["grpc"] = {"status": rnd.choice([0, 0, 5])} if rnd.random() < 0.8 else {}
            elif proto == "redis":
                e["response"] = {"type": rnd.choice(["status", "bulk", "error"])}
            elif proto == "dns":
                e["response"] = {"rcode": rnd.choice(["NOERROR", "NXDOMAIN"])}
            else:
                e["response"] = {"error_code": rnd.choice([0, 0, 3])}
            if rnd.random() < 0.03:
                e["missing"] = "response"
            f.write(json.dumps(e) + "\n")


def check_servicemap(build, tmp):
    """GET /api/v1/servicemap against the same computation over /api/v1/entries."""
    now = datetime.datetime.now(datetime.timezone.utc)
    path = os.path.join(tmp, "map.jsonl")
    map_entries(path, now)
    fx = Fixture(build, "--agents", "3", "--entries", path)
    try:
        until = int(now.timestamp() * 1e9)
        for q, window in [("", 3600), ("", 900), ("grpc or redis", 1800),
                          ('src.namespace == "front"', 3600)]:
            since = until - window * 10**9
            params = {"since": since, "until": until}
            if q:
                params["q"] = q
            st, m = get_json(fx.port, "/api/v1/servicemap", params)
            ents = entries_all(fx.port, params)
            want = expected_map(ents, window)
            got = {(e["source"], e["target"], e["protocol"]): {k: e[k] for k in (
                "requests", "errors", "rate", "error_rate", "p50_ms", "p99_ms", "latency_samples")}
                for e in m.get("edges", [])}
            diff = [(k, got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)]
            ok(st == 200 and m["entries"] == len(ents) > 0 and not diff and m["dropped"] == 0,
               f"servicemap q={q!r} last {window} s: {len(got)} edges over {len(ents)} entries, "
               "each equal to the entries route's numbers", (st, m.get("entries"), len(ents), diff[:5]))
            want_nodes = {node_id(e.get(s)) for e in ents for s in ("src", "dst")}
            ok({n["id"] for n in m["nodes"]} == want_nodes and
               all(n["id"] == f"{n['namespace']}/{n['name']}" for n in m["nodes"]),
               f"servicemap q={q!r}: the nodes are the entries' ends, by namespace", m["nodes"][:5])
        st, m = get_json(fx.port, "/api/v1/servicemap", {"q": "http and response.statu >= 500"})
        est, ent = get_json(fx.port, "/api/v1/entries", {"q": "http and response.statu >= 500"})
        ok(st == 400 and est == 400 and m.get("column") == ent.get("column"),
           "servicemap: a bad query is a 400 at the entries route's column", (st, m, ent))
        st, m = get_json(fx.port, "/api/v1/servicemap", {"since": until, "until": until - 1})
        ok(st == 400 and "since" in m.get("error", ""), "servicemap: since after until is a 400", m)
        st, m = get_json(fx.port, "/api/v1/servicemap")
        ok(st == 200 and m["until"] - m["since"] == 900 * 10**9 and m["window_s"] == 900,
           "servicemap: the default window is the last 15 minutes", {k: m.get(k) for k in ("since", "until", "window_s")})
    finally:
        fx.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--captures", help="not used: taken as test_hub_api.sh passes it")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="floe-uicheck-")
    ui = os.path.join(tmp, "ui")
    os.mkdir(ui)
    files = {"index.html": b"<!doctype html><title>t</title>\n",
             "app.js": b"export const x = 1;\n" * 500,
             "app.css": b"body{}\n", ".hidden": b"HIDDEN-CONTENT\n"}
    for name, data in files.items():
        with open(os.path.join(ui, name), "wb") as f:
            f.write(data)
    with open(os.path.join(tmp, "secret"), "wb") as f:
        f.write(b"SECRET-OUTSIDE\n")
    os.symlink("../secret", os.path.join(ui, "link.js"))
    front = free_port()
    fx = fx2 = None
    try:
        fx = Fixture(a.build, "--synthetic", "30", "--ui-dir", ui, "--front-port", str(front))
        p = fx.port
        for target, name, ctype in [("/", "index.html", "text/html; charset=utf-8"),
                                    ("/index.html", "index.html", "text/html; charset=utf-8"),
                                    ("/app.js", "app.js", "text/javascript; charset=utf-8"),
                                    ("/app.css", "app.css", "text/css; charset=utf-8")]:
            st, h, body = raw_get(p, target)
            ok(st == 200 and body == files[name] and h.get("content-type") == ctype
               and h.get("content-length") == str(len(files[name])),
               f"GET {target}: {name}'s bytes as {ctype}", (st, h, body[:80]))
        for target in ["/../secret", "/%2e%2e/secret", "/%2E%2E%2Fsecret", "/ui/../../secret",
                       "/..%2f..%2fsecret", "/link.js", "/.hidden", "/%2ehidden",
                       "/index.html%00.js", "/" + "a/" * 40 + "..%2f" * 45 + "secret"]:
            st, h, body = raw_get(p, target)
            ok(st != 200 and b"SECRET" not in body and b"HIDDEN-CONTENT" not in body,
               f"GET {target}: refused ({st or 'closed'}), nothing outside served",
               (st, body[:120]))
        st, body = get_json(p, "/api/v1/nope")
        ok(st == 404 and body.get("error") == "no such route",
           "an unknown /api/ path is the API's 404, not the UI's", (st, body))
        st, body = get_json(p, "/missing.js")
        ok(st == 404 and body.get("error") == "no such file", "a missing UI file is a 404", body)

        # The schema: what `floe schema --json` prints.
        st, body = get_json(p, "/api/v1/schema")
        want = json.loads(subprocess.run([os.path.join(a.build, "floe"), "schema", "--json"],
                                         capture_output=True, check=True).stdout)
        ok(st == 200 and body == want, "/api/v1/schema is floe schema --json")
        # validate: the entries route's own verdict and column.
        for q in ["http and response.status >= 500", "", "redis and request.command == \"GET\"",
                  "response.statu == 404", "http and (response.status >= ", "http and x ~ \"(\"",
                  "request.path.startsWith(1)"]:
            st, v = get_json(p, "/api/v1/validate", {"q": q})
            est, ent = get_json(p, "/api/v1/entries", {"q": q, "limit": 1})
            if est == 200:
                ok(st == 200 and v == {"ok": True}, f"validate {q!r}: ok, as /entries takes it", v)
            else:
                ok(st == 200 and v.get("ok") is False and v.get("error") == ent.get("error")
                   and v.get("column") == ent.get("column") and v.get("column"),
                   f"validate {q!r}: refused at column {ent.get('column')}, as /entries says",
                   (v, ent))

        # The front port serves the same.
        ok(fx.front == front, f"the front port is the one asked for ({front})", fx.front)
        st, h, body = raw_get(front, "/")
        ok(st == 200 and body == files["index.html"], "the front port serves the UI")
        st1, e1 = get_json(p, "/api/v1/entries", {"limit": 1000})
        st2, e2 = get_json(front, "/api/v1/entries", {"limit": 1000})
        ok(st1 == st2 == 200 and e1["entries"] == e2["entries"] and len(e1["entries"]) == 30,
           "and the API: the same 30 entries on both ports", (st1, st2))
        # A second hub cannot have that front port: it still starts, without it.
        fx2 = Fixture(a.build, "--synthetic", "1", "--ui-dir", ui, "--front-port", str(front))
        ok(fx2.front == 0, "a busy front port is not fatal: the hub starts without it", fx2.front)
        st, h, body = raw_get(fx2.port, "/")
        ok(st == 200 and body == files["index.html"], "and serves the UI on its API port")
        with urllib.request.urlopen(f"http://127.0.0.1:{p}/metrics", timeout=10) as r:
            m = r.read().decode()
        ui_n = [ln for ln in m.splitlines() if ln.startswith('floe_hub_requests_total{route="ui"}')]
        ok(ui_n and int(ui_n[0].split()[1]) >= 15, "/metrics counts the UI's requests", ui_n)
        check_servicemap(a.build, tmp)
    finally:
        for f in (fx, fx2):
            if f:
                f.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{results['pass']} passed, {results['fail']} failed, 0 skipped")
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
