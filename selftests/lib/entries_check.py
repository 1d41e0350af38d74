#!/usr/bin/python3
"""Compares the entries floe printed (`floe tap --json`, one JSON object per line) with what
the real clients and servers of the entry tests did (their own logs). Prints TAB-separated
lines that selftests/lib/entries.sh (`checks`) turns into assertions:

  ok<TAB>DESC     fail<TAB>DESC     diag<TAB>TEXT     skip<TAB>DESC<TAB>REASON

usage: entries_check.py http1 --entries F --curl F --server F --client POD --server-pod POD ...
       entries_check.py http2 ...     (see each subcommand's --help)
"""
import argparse
import base64
import gzip
import hashlib
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BODY_MAX = 64 * 1024


# ------------------------------------------------------------------ output
def out(kind, desc, reason=None):
    desc = str(desc).replace("\t", " ")
    for i, line in enumerate(desc.split("\n")):
        if kind == "diag" or i == 0:
            print("%s\t%s%s" % (kind if i == 0 or kind == "diag" else "diag", line,
                                ("\t" + reason) if reason and i == 0 else ""))
        else:
            print("diag\t%s" % line)
    sys.stdout.flush()


def diag(text):
    for line in str(text).split("\n"):
        out("diag", line)


def check(cond, desc, problems=()):
    """ok/fail DESC; on failure, each problem as a diag line."""
    if cond:
        out("ok", desc)
    else:
        out("fail", desc)
        for p in problems:
            diag("  " + p)
    return cond


def check_problems(problems, desc, limit=40):
    """ok when the problem list is empty, else fail with (the first LIMIT) problems."""
    check(not problems, desc, problems[:limit] + (["... %d more" % (len(problems) - limit)]
                                                  if len(problems) > limit else []))
    return not problems


def sha(b):
    return hashlib.sha256(b).hexdigest()


def read_entries(path):
    entries, bad = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entries.append(json.loads(line))
            except ValueError as e:
                bad.append("line %d: %s: %s" % (n, e, line[:200]))
    return entries, bad


def read_jsonl(path):
    res = []
    if not os.path.exists(path):
        return res
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    res.append(json.loads(line))
                except ValueError:
                    pass
    return res


def entry_seq(e):
    """The n of id "<flow_id>-<n>"."""
    try:
        return int(str(e.get("id", "")).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def short(e):
    r = e.get("request") or {}
    s = e.get("response") or {}
    return "%s %s %s:%s->%s:%s sid=%s %s %s -> %s%s" % (
        e.get("id"), e.get("protocol"), (e.get("src") or {}).get("pod") or (e.get("src") or {}).get("ip"),
        (e.get("src") or {}).get("port"), (e.get("dst") or {}).get("pod") or (e.get("dst") or {}).get("ip"),
        (e.get("dst") or {}).get("port"), e.get("stream_id", "-"), r.get("method"), r.get("url"),
        s.get("status"), (" missing=%s/%s" % (e.get("missing"), e.get("missing_reason"))) if e.get("missing") else "")


def body_bytes(body):
    """The kept (decoded) bytes of an entry body object, or None."""
    if not isinstance(body, dict):
        return None
    if "text" in body:
        return body["text"].encode("utf-8")
    if "base64" in body:
        try:
            return base64.b64decode(body["base64"])
        except ValueError:
            return None
    return None


def body_size(msg):
    b = (msg or {}).get("body")
    if not isinstance(b, dict):
        return 0
    return b.get("size", 0)


def endpoint_problems(e, side, pod, ns, ip=None, port=None):
    p = []
    ep = e.get(side) or {}
    if ep.get("pod") != pod:
        p.append("%s.pod %r, want %r" % (side, ep.get("pod"), pod))
    if ns is not None and ep.get("namespace") != ns:
        p.append("%s.namespace %r, want %r" % (side, ep.get("namespace"), ns))
    if ip is not None and ep.get("ip") != ip:
        p.append("%s.ip %r, want %r" % (side, ep.get("ip"), ip))
    if port is not None and ep.get("port") != port:
        p.append("%s.port %r, want %r" % (side, ep.get("port"), port))
    return p


# ------------------------------------------------------------------ curl logs
def parse_curl_log(path):
    """A log of curl invocations: "CURL TAG" opens one, then curl -v stderr with
    "XFER TAG {json}" lines (-w '%{stderr}XFER TAG %{json}\\n'). Returns a list of transfers,
    in order: dict(tag, w=json, reqline=(method, url, version), statuses=[codes])."""
    xfers = []
    cur_req = []     # request lines of the invocation not yet paired
    cur_status = []  # final status lines
    interim = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("CURL "):
                cur_req, cur_status, interim = [], [], []
            elif line.startswith("> "):
                m = re.match(r"> ([A-Z]+) (\S+) HTTP/([0-9.]+)$", line)
                if m:
                    cur_req.append((m.group(1), m.group(2), m.group(3)))
            elif line.startswith("< HTTP/"):
                m = re.match(r"< HTTP/([0-9.]+) (\d+)", line)
                if m:
                    code = int(m.group(2))
                    if 100 <= code < 200 and code != 101:
                        interim.append(code)
                    else:
                        cur_status.append((m.group(1), code))
            elif line.startswith("XFER "):
                _, tag, js = line.split(" ", 2)
                w = json.loads(js)
                x = {"tag": tag, "w": w,
                     "reqline": cur_req.pop(0) if cur_req else None,
                     "status": cur_status.pop(0) if cur_status else None,
                     "interim": interim}
                interim = []
                xfers.append(x)
    return xfers


# ------------------------------------------------------------------ http1
def cmd_http1(a):
    import httpd1
    entries, bad = read_entries(a.entries)
    check(not bad, "every line floe printed is a JSON object", bad[:5])
    xfers = parse_curl_log(a.curl)
    server = read_jsonl(a.server)
    diag("%d entries, %d curl transfers, %d server log lines" % (len(entries), len(xfers), len(server)))
    check(len(server) == len(xfers), "the server logged every transfer curl made (%d == %d)"
          % (len(server), len(xfers)))
    curl_fail = ["%s %s: exit %s %s" % (x["tag"], x["w"].get("url_effective"), x["w"].get("exitcode"),
                                        x["w"].get("errormsg")) for x in xfers if x["w"].get("exitcode")]
    check(not curl_fail, "every curl transfer succeeded", curl_fail)

    # Entries by connection (src port), in entry order; server records likewise.
    by_port = {}
    flows_of_port = {}
    for e in entries:
        port = (e.get("src") or {}).get("port")
        by_port.setdefault(port, []).append(e)
        flows_of_port.setdefault(port, set()).add(e.get("flow_id"))
    for port in by_port:
        by_port[port].sort(key=lambda e: (e.get("flow_id", 0), entry_seq(e)))
    reused = ["client port %s in flows %s" % (p, sorted(f)) for p, f in flows_of_port.items() if len(f) > 1]
    if reused:
        diag("client ports used by more than one connection (matching by order): %s" % reused)
    srv_by_port = {}
    for s in server:
        srv_by_port.setdefault(s["client_port"], []).append(s)

    used = set()
    tags = []
    per_tag = {}
    pos = {}
    for x in xfers:
        w = x["w"]
        port = w.get("local_port")
        k = pos.get(port, 0)
        pos[port] = k + 1
        e = by_port.get(port, [None] * (k + 1))[k] if k < len(by_port.get(port, [])) else None
        srv_list = srv_by_port.get(port, [])
        s = srv_list[k] if k < len(srv_list) else None
        if x["tag"] not in per_tag:
            tags.append(x["tag"])
            per_tag[x["tag"]] = []
        probs = per_tag[x["tag"]]
        url = urllib.parse.urlsplit(w.get("url_effective", ""))
        what = "%s %s" % (w.get("method"), url.path + ("?" + url.query if url.query else ""))
        if e is None:
            probs.append("%s (port %s, #%d): no entry" % (what, port, k + 1))
            continue
        used.add(id(e))
        p = []
        req = e.get("request") or {}
        resp = e.get("response") or {}
        rl = x["reqline"]
        want_url = rl[1] if rl else url.path + ("?" + url.query if url.query else "")
        want_ver = rl[2] if rl else w.get("http_version")
        if e.get("protocol") != a.protocol:
            p.append("protocol %r, want %r" % (e.get("protocol"), a.protocol))
        if e.get("missing"):
            p.append("missing %r (%s)" % (e.get("missing"), e.get("missing_reason")))
        if req.get("method") != w.get("method"):
            p.append("request.method %r, want %r" % (req.get("method"), w.get("method")))
        if req.get("url") != want_url:
            p.append("request.url %r, want %r" % (req.get("url"), want_url))
        path, _, query = want_url.partition("?")
        if req.get("path") != path:
            p.append("request.path %r, want %r" % (req.get("path"), path))
        if req.get("query") != query.split("#")[0]:
            p.append("request.query %r, want %r" % (req.get("query"), query))
        if req.get("version") != want_ver:
            p.append("request.version %r, want %r (curl -v request line)" % (req.get("version"), want_ver))
        if x["status"] and resp.get("version") != x["status"][0]:
            p.append("response.version %r, want %r (curl -v status line)" % (resp.get("version"), x["status"][0]))
        if e.get("version") != want_ver:
            p.append("version %r, want %r" % (e.get("version"), want_ver))
        if resp.get("status") != w.get("http_code"):
            p.append("response.status %r, want %r" % (resp.get("status"), w.get("http_code")))
        p += endpoint_problems(e, "src", a.client, a.client_ns, a.client_ip, port)
        p += endpoint_problems(e, "dst", a.server_pod, a.server_ns, a.server_ip, a.port)
        # sizes
        want_up = s["req_body_len"] if s else w.get("size_upload")
        if body_size(req) != want_up:
            p.append("request.body.size %r, want %r" % (body_size(req), want_up))
        if body_size(resp) != w.get("size_download"):
            p.append("response.body.size %r, want %r (curl size_download)" % (body_size(resp), w.get("size_download")))
        if s:
            if e.get("request_size") != s["req_wire_len"]:
                p.append("request_size %r, want %r (server: head %d + body on the wire)"
                         % (e.get("request_size"), s["req_wire_len"], s["req_head_len"]))
            if e.get("response_size") not in (s["resp_wire_len"], s["resp_wire_len"] + s["resp_interim_len"]):
                p.append("response_size %r, want %r (server: final response on the wire; +%d interim)"
                         % (e.get("response_size"), s["resp_wire_len"], s["resp_interim_len"]))
            if (s["method"], s["path"], s["status"]) != (req.get("method"), req.get("path"), resp.get("status")):
                p.append("server logged %s %s %s" % (s["method"], s["path"], s["status"]))
            # bodies: content
            p += body_problems("request", req.get("body"), s["req_body_len"], s["req_body_sha256"], None)
            plain = None
            if s["resp_gzip"] and s["resp_body_len"]:
                plain = httpd1.body_text(int(urllib.parse.parse_qs(s["query"]).get("n", ["100"])[0]))
            p += body_problems("response", resp.get("body"), s["resp_body_len"], s["resp_body_sha256"], plain)
        p += extra_http1_problems(x, e, s)
        if p:
            probs.append("%s (port %s, entry %s):" % (what, port, e.get("id")))
            probs.extend("    " + q for q in p)
        x["entry"] = e
    for t in tags:
        n = sum(1 for x in xfers if x["tag"] == t)
        check_problems(per_tag[t], "%s: %d transfer%s, each exactly one entry matching curl and the server"
                       % (t, n, "" if n == 1 else "s"))
    extra = [short(e) for e in entries if id(e) not in used]
    check_problems(extra, "no entry beyond curl's transfers (%d entries, %d transfers)" % (len(entries), len(xfers)))
    ok_pods = all(not endpoint_problems(e, "src", a.client, a.client_ns) and
                  not endpoint_problems(e, "dst", a.server_pod, a.server_ns) for e in entries)
    check(ok_pods and entries, "every entry: src is pod %s (%s), dst is pod %s (%s)"
          % (a.client, a.client_ns, a.server_pod, a.server_ns))
    return 0


def body_problems(which, body, size, digest, plain):
    """The entry's body object against the server's size and sha256 of the bytes (after chunk
    decoding, before content decoding); PLAIN: the gzip-decoded bytes when gzip was applied."""
    p = []
    if size == 0:
        if isinstance(body, dict) and body.get("size", 0) != 0:
            p.append("%s.body.size %r, want 0" % (which, body.get("size")))
        return p
    if not isinstance(body, dict):
        return ["%s.body absent, want %d bytes" % (which, size)]
    kept = body_bytes(body)
    if plain is not None:
        if body.get("encoding") != "gzip":
            p.append("%s.body.encoding %r, want 'gzip'" % (which, body.get("encoding")))
        want_dec = min(len(plain), BODY_MAX) if body.get("truncated") else len(plain)
        if body.get("decoded_size") not in (len(plain), want_dec):
            p.append("%s.body.decoded_size %r, want %d" % (which, body.get("decoded_size"), len(plain)))
        if kept is None:
            p.append("%s.body has neither text nor base64" % which)
        elif kept != plain[:len(kept)] or (not body.get("truncated") and kept != plain):
            p.append("%s.body (gunzipped) differs from what the server compressed (%d bytes vs %d)"
                     % (which, len(kept), len(plain)))
        return p
    if size > BODY_MAX:
        if body.get("truncated") is not True:
            p.append("%s.body.truncated %r, want true (%d > --body-max %d)" % (which, body.get("truncated"), size, BODY_MAX))
        if kept is not None and len(kept) > BODY_MAX:
            p.append("%s.body keeps %d bytes > --body-max %d" % (which, len(kept), BODY_MAX))
        return p
    if body.get("truncated"):
        p.append("%s.body.truncated true for %d bytes (<= --body-max)" % (which, size))
    if kept is None:
        p.append("%s.body has neither text nor base64" % which)
    elif sha(kept) != digest:
        p.append("%s.body content differs from the server's (%d bytes kept, sha256 %s..., want %s...)"
                 % (which, len(kept), sha(kept)[:12], digest[:12]))
    return p


def extra_http1_problems(x, e, s):
    """Scenario-specific expectations, by tag."""
    p = []
    req = e.get("request") or {}
    resp = e.get("response") or {}
    tag = x["tag"]
    if tag == "query-params":
        qp = req.get("query_params") or {}
        want = {"n": "64", "name": "Jürgen x", "q": "a&b=c", "empty": ""}
        for k, v in want.items():
            if qp.get(k) != v:
                p.append("request.query_params[%r] %r, want %r" % (k, qp.get(k), v))
    if tag == "chunked-trailer" and s:
        tr = resp.get("trailers") or {}
        want = hashlib.sha256(
            __import__("httpd1").body_text(int(urllib.parse.parse_qs(s["query"])["n"][0]))).hexdigest()
        if tr.get("x-body-sha256") != want:
            p.append("response.trailers %r, want x-body-sha256: %s" % (tr, want))
    if tag.startswith("post"):
        ct = (req.get("headers") or {}).get("content-type")
        if req.get("content_type") != ct or not ct:
            p.append("request.content_type %r, headers[content-type] %r" % (req.get("content_type"), ct))
    if tag == "head":
        if resp.get("body") and (resp.get("body") or {}).get("size", 0):
            p.append("HEAD response has a body in the entry")
    return p


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    h1 = sub.add_parser("http1")
    h1.add_argument("--entries", required=True)
    h1.add_argument("--curl", required=True)
    h1.add_argument("--server", required=True)
    h1.add_argument("--client", required=True)
    h1.add_argument("--client-ns")
    h1.add_argument("--client-ip")
    h1.add_argument("--server-pod", required=True)
    h1.add_argument("--server-ns")
    h1.add_argument("--server-ip")
    h1.add_argument("--port", type=int, required=True)
    h1.add_argument("--protocol", default="http")
    a = ap.parse_args()
    return {"http1": cmd_http1}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
