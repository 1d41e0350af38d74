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
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

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
    finally:
        for f in (fx, fx2):
            if f:
                f.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{results['pass']} passed, {results['fail']} failed, 0 skipped")
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
