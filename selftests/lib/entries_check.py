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


TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$")


def parse_time(t):
    """RFC 3339 UTC with nanoseconds -> epoch seconds (float), or None."""
    import calendar
    import time as _time
    m = TIME_RE.match(str(t))
    if not m:
        return None
    return calendar.timegm(_time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1e9


def load_entries(a):
    """floe's entries, with the checks every entry must pass: JSON, ids "<flow_id>-<n>" with
    n = 1, 2, ... per flow, times in RFC 3339 with nanoseconds inside the test's window
    (--since/--until, epoch seconds), response after request, elapsed_ms their difference."""
    entries, bad = read_entries(a.entries)
    check(not bad, "every line floe printed is a JSON object", bad[:5])
    p = []
    seqs = {}
    for e in entries:
        fid = e.get("flow_id")
        # a tap's ids start with its run id: "<run, 16 hex digits>-<flow_id>-<n>"
        if not isinstance(fid, int) or not re.fullmatch(r"(?:[0-9a-f]{16}-)?%s-%d" % (fid, entry_seq(e)),
                                                        str(e.get("id"))):
            p.append("%s: id %r does not read [<run>-]<flow_id>-<n> (flow_id %r)" % (short(e), e.get("id"), fid))
        seqs.setdefault(fid, []).append(entry_seq(e))
        t = {k: parse_time(e[k]) for k in ("request_time", "response_time") if k in e}
        for k in ("request_time", "response_time"):
            if k in e and t[k] is None:
                p.append("%s: %s %r is not RFC 3339 UTC with nanoseconds" % (short(e), k, e[k]))
            elif k in e and a.since and not (a.since <= t[k] <= a.until):
                p.append("%s: %s %s outside the test's window" % (short(e), k, e[k]))
        if t.get("request_time") and t.get("response_time"):
            if t["response_time"] < t["request_time"]:
                p.append("%s: response_time before request_time" % short(e))
            el = e.get("elapsed_ms")
            if not isinstance(el, (int, float)) or abs(el - (t["response_time"] - t["request_time"]) * 1e3) > 0.01:
                p.append("%s: elapsed_ms %r, want %.6f" % (short(e), el, (t["response_time"] - t["request_time"]) * 1e3))
        elif "elapsed_ms" in e:
            p.append("%s: elapsed_ms without both times" % short(e))
    for fid, ns in seqs.items():
        if sorted(ns) != list(range(1, len(ns) + 1)):
            p.append("flow %s: entry numbers %s, want 1..%d" % (fid, sorted(ns)[:20], len(ns)))
    check_problems(p, "every entry: id <flow_id>-<n> numbered 1.. per flow, times in the test's window, "
                   "elapsed_ms = response_time - request_time")
    return entries


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
        s.get("status"), (" missing=%s/%s" % (e.get("missing") or "incomplete " + e.get("incomplete", ""), e.get("missing_reason"))) if e.get("missing") or e.get("incomplete") else "")


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
    "XFER TAG {json}" lines (-w '%{stderr}XFER TAG %{json}\\n'); "CURL TAG nopair": the -v lines
    are not in transfer order (--parallel), use only the XFER lines. Returns a list of transfers,
    in order: dict(tag, w=json, reqline=(method, url, version), statuses=[codes])."""
    xfers = []
    nopair = False   # "CURL TAG nopair": parallel transfers, -v lines not in transfer order
    cur_req = []     # request lines of the invocation not yet paired
    cur_status = []  # final status lines
    interim = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("CURL "):
                cur_req, cur_status, interim = [], [], []
                nopair = line.split()[2:3] == ["nopair"]
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
                     "reqline": cur_req.pop(0) if cur_req and not nopair else None,
                     "status": cur_status.pop(0) if cur_status and not nopair else None,
                     "interim": interim}
                interim = []
                xfers.append(x)
    return xfers


# ------------------------------------------------------------------ http1
def cmd_http1(a):
    import httpd1
    entries = load_entries(a)
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
        if e.get("missing") or e.get("incomplete"):
            p.append("missing/incomplete %r (%s)" % (e.get("missing") or e.get("incomplete"), e.get("missing_reason")))
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
            if e.get("response_size") != s["resp_wire_len"]:
                p.append("response_size %r, want %r (server: the final response on the wire)"
                         % (e.get("response_size"), s["resp_wire_len"]))
            want_interim = [c for c in x["interim"]]
            got_interim = [i.get("status") for i in e.get("interim") or []]
            if got_interim != want_interim:
                p.append("interim statuses %r, want %r (curl -v)" % (got_interim, want_interim))
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
    if tag == "cookies":
        if req.get("cookies") != {"session": "xyz", "lang": "en"}:
            p.append("request.cookies %r, want session=xyz, lang=en" % req.get("cookies"))
        rc = resp.get("cookies") or {}
        if rc.get("sid") != "abc123" or rc.get("theme") != "dark":
            p.append("response.cookies %r, want sid=abc123, theme=dark" % rc)
    if tag == "head":
        if resp.get("body") and (resp.get("body") or {}).get("size", 0):
            p.append("HEAD response has a body in the entry")
    return p


# ------------------------------------------------------------------ http2
FRAME_RE = re.compile(r"^\[\s*[0-9.]+\] (send|recv) (\w+) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>")
RECV_HDR_RE = re.compile(r"^\[\s*[0-9.]+\] recv \(stream_id=(\d+)\) ([^:]*|:[^:]+): (.*)$")


def parse_nghttp_log(path):
    """nghttp -v logs, each opened by a line "NGHTTP TAG". Returns a list of connections:
    dict(tag, upgrade, streams={sid: dict(method, url, status, req_frames, resp_frames,
    req_data, resp_data, req_headers, resp_headers)}), frame byte counts being the payload
    lengths nghttp printed for HEADERS, CONTINUATION and DATA frames."""
    conns = []
    cur = None
    hdr_target = None  # headers of a sent HEADERS frame follow it, indented
    upgrade_req = False
    pending = []       # received header lines, before the frame line they belong to
    promised = None    # those of a PUSH_PROMISE, until its promised_stream_id
    promise_len = 0
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\r\n")
        if line.startswith("NGHTTP "):
            cur = {"tag": line.split(" ", 1)[1], "upgrade": False, "streams": {}, "order": []}
            conns.append(cur)
            continue
        if cur is None:
            continue

        def stream(sid):
            if sid not in cur["streams"]:
                cur["streams"][sid] = {"sid": sid, "method": None, "url": None, "status": None,
                                       "req_frames": 0, "resp_frames": 0, "req_data": 0, "resp_data": 0,
                                       "req_headers": {}, "resp_headers": {}}
                cur["order"].append(sid)
            return cur["streams"][sid]
        if "HTTP Upgrade request" in line:
            cur["upgrade"] = True
            upgrade_req = True
            continue
        if upgrade_req:
            m = re.match(r"^([A-Z]+) (\S+) HTTP/1\.1$", line)
            if m:
                st = stream(1)
                st["method"], st["url"] = m.group(1), m.group(2)
                st["upgraded"] = True
                upgrade_req = False
            continue
        m = FRAME_RE.match(line)
        if m:
            d, typ, length, sid = m.group(1), m.group(2), int(m.group(3)), int(m.group(5))
            hdr_target = None
            if sid and typ in ("HEADERS", "CONTINUATION", "DATA"):
                st = stream(sid)
                st["req_frames" if d == "send" else "resp_frames"] += length
                if typ == "DATA":
                    st["req_data" if d == "send" else "resp_data"] += length
                if d == "send" and typ in ("HEADERS", "CONTINUATION"):
                    hdr_target = st
            if d == "recv" and typ in ("HEADERS", "CONTINUATION"):
                # nghttp prints a received header block before its frame line
                for hsid, name, value in pending:
                    st = stream(hsid)
                    if name == ":status" and st["status"] is None:
                        st["status"] = int(value)
                    st["resp_headers"][name] = value
                pending = []
            elif d == "recv" and typ == "PUSH_PROMISE":
                promised = pending
                promise_len = length
                pending = []
            continue
        m = re.search(r"promised_stream_id=(\d+)", line)
        if m and promised is not None:
            st = stream(int(m.group(1)))
            st["pushed"] = True
            st["req_frames"] = promise_len  # the request is a PUSH_PROMISE on another stream
            for _, name, value in promised:
                st["req_headers"][name] = value
            st["method"] = st["req_headers"].get(":method")
            st["url"] = st["req_headers"].get(":path")
            promised = None
            continue
        m = RECV_HDR_RE.match(line)
        if m:
            pending.append((int(m.group(1)), m.group(2), m.group(3)))
            continue
        if hdr_target is not None and line.startswith("          ") and not line.strip().startswith(("(", ";", "[")):
            name, _, value = line.strip().partition(": ")
            if name.startswith(":") or name:
                hdr_target["req_headers"][name] = value
                if name == ":method":
                    hdr_target["method"] = value
                elif name == ":path":
                    hdr_target["url"] = value
            continue
        if line.startswith("["):
            hdr_target = None
    return conns


def curl_h2_conns(path):
    """curl invocations (parse_curl_log) as connections of the HTTP/2 test: each transfer with
    its stream id ("Using Stream ID: N" in -v; an upgraded first request is stream 1)."""
    xfers = parse_curl_log(path)
    conns = []
    xi = 0
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\r\n")
        c = conns[-1] if conns else None
        if line.startswith("CURL "):
            conns.append({"tag": line.split(" ", 1)[1], "upgrade": False, "streams": {}, "order": [],
                          "sids": []})
        elif c is None:
            continue
        elif "Using Stream ID: " in line:
            c["sids"].append(int(re.search(r"Using Stream ID: (\d+)", line).group(1)))
        elif line.startswith("< HTTP/1.1 101"):
            c["upgrade"] = True
            c["sids"].insert(0, 1)
        elif line.startswith("XFER "):
            x = xfers[xi]
            xi += 1
            w = x["w"]
            n = len(c["order"])
            sid = c["sids"][n] if n < len(c["sids"]) else None
            url = x["reqline"][1] if x["reqline"] else urllib.parse.urlsplit(w["url_effective"]).path
            c["streams"][sid] = {"sid": sid, "method": w.get("method"), "url": url,
                                 "status": w.get("http_code"), "resp_data": w.get("size_download"),
                                 "req_data": w.get("size_upload"), "upgraded": c["upgrade"] and sid == 1,
                                 "req_frames": None, "resp_frames": None, "req_headers": {},
                                 "resp_headers": {}}
            c["order"].append(sid)
    return conns


def h2_request_problems(e, st, a, files):
    p = []
    req = e.get("request") or {}
    resp = e.get("response") or {}
    if e.get("protocol") != "http":
        p.append("protocol %r, want 'http'" % e.get("protocol"))
    if e.get("missing") or e.get("incomplete"):
        p.append("missing/incomplete %r (%s)" % (e.get("missing") or e.get("incomplete"), e.get("missing_reason")))
    if e.get("stream_id") != st["sid"]:
        p.append("stream_id %r, want %r" % (e.get("stream_id"), st["sid"]))
    if e.get("version") != "2":
        p.append("version %r, want '2'" % e.get("version"))
    if req.get("method") != st["method"]:
        p.append("request.method %r, want %r" % (req.get("method"), st["method"]))
    if resp.get("status") != st["status"]:
        p.append("response.status %r, want %r" % (resp.get("status"), st["status"]))
    if body_size(resp) != st["resp_data"]:
        p.append("response.body.size %r, want %r (DATA the client received)" % (body_size(resp), st["resp_data"]))
    if body_size(req) != (st["req_data"] or 0):
        p.append("request.body.size %r, want %r (DATA the client sent)" % (body_size(req), st["req_data"]))
    if st.get("upgraded"):
        # docs/http2.md: the HTTP/1.1 request, upgrade "h2c", the 101 in interim
        if e.get("upgrade") != "h2c":
            p.append("upgrade %r, want 'h2c'" % e.get("upgrade"))
        if [i.get("status") for i in e.get("interim") or []] != [101]:
            p.append("interim %r, want the 101" % e.get("interim"))
        if req.get("version") != "1.1":
            p.append("request.version %r, want '1.1' (sent before the upgrade)" % req.get("version"))
    else:
        if e.get("upgrade") or e.get("interim"):
            p.append("upgrade %r, interim %r on a stream that was not upgraded" % (e.get("upgrade"), e.get("interim")))
        for k in (":authority", ":scheme"):
            want = st["req_headers"].get(k)
            got = req.get(k[1:])
            if want is not None and got != want:
                p.append("request.%s %r, want %r" % (k[1:], got, want))
        if st["req_frames"] is not None and e.get("request_size") != st["req_frames"]:
            p.append("request_size %r, want %r (HEADERS/CONTINUATION/DATA payloads the client sent)"
                     % (e.get("request_size"), st["req_frames"]))
        if req.get("version") != "2":
            p.append("request.version %r, want '2'" % req.get("version"))
    if st["resp_frames"] is not None and e.get("response_size") != st["resp_frames"]:
        p.append("response_size %r, want %r (HEADERS/CONTINUATION/DATA payloads the client received)"
                 % (e.get("response_size"), st["resp_frames"]))
    for name, value in st["resp_headers"].items():
        if not name.startswith(":") and (resp.get("headers") or {}).get(name) != value:
            p.append("response.headers[%r] %r, want %r" % (name, (resp.get("headers") or {}).get(name), value))
    for name, value in st["req_headers"].items():
        if not name.startswith(":") and (req.get("headers") or {}).get(name) != value:
            p.append("request.headers[%r] %r, want %r" % (name, (req.get("headers") or {}).get(name), value))
    # response body content: the file served (nghttpd), or the request body (echo)
    path = (st["url"] or "").split("?")[0]
    want = files.get(path)
    if path == "/echo":
        want = body_bytes(req.get("body"))
    if want is not None and st["status"] == 200:
        kept = body_bytes(resp.get("body"))
        if kept is None and want:
            p.append("response.body has neither text nor base64")
        elif kept is not None and kept != want[:len(kept)]:
            p.append("response.body differs from the content served (%d bytes kept)" % len(kept))
        elif kept is not None and len(kept) < min(len(want), BODY_MAX):
            p.append("response.body keeps %d bytes of %d" % (len(kept), len(want)))
        if len(want) > BODY_MAX and (resp.get("body") or {}).get("truncated") is not True:
            p.append("response.body.truncated not true for %d bytes" % len(want))
    return p


def cmd_http2(a):
    entries = load_entries(a)
    files = {}
    if a.htdocs:
        for name in os.listdir(a.htdocs):
            with open(os.path.join(a.htdocs, name), "rb") as f:
                files["/" + name] = f.read()
    conns = parse_nghttp_log(a.nghttp) if a.nghttp else []
    if a.curl:
        conns += curl_h2_conns(a.curl)
    by_url = {}
    for e in entries:
        by_url.setdefault((e.get("request") or {}).get("url"), []).append(e)
    used = set()
    flows = {}
    for c in conns:
        probs = []
        flow_ids = set()
        for sid in c["order"]:
            st = c["streams"][sid]
            got = by_url.get(st["url"], [])
            what = "stream %s %s %s" % (sid, st["method"], st["url"])
            if len(got) != 1:
                probs.append("%s: %d entries (want exactly 1)%s" % (what, len(got),
                             "".join("\n      " + short(e) for e in got)))
                if not got:
                    continue
            e = got[0]
            used.update(id(x) for x in got)
            flow_ids.add(e.get("flow_id"))
            p = h2_request_problems(e, st, a, files)
            p += endpoint_problems(e, "src", a.client, a.client_ns)
            p += endpoint_problems(e, "dst", a.server_pod, a.server_ns, None, int(c["tag"].split()[1]))
            if p:
                probs.append("%s (entry %s):" % (what, e.get("id")))
                probs.extend("    " + q for q in p)
        if len(flow_ids) != 1:
            probs.append("the streams of one connection are in flows %s" % sorted(flow_ids, key=str))
        for f in flow_ids:
            if f in flows:
                probs.append("flow %s also holds the streams of %s" % (f, flows[f]))
            flows[f] = c["tag"]
        n = len(c["order"])
        check_problems(probs, "%s: %d stream%s (%s), each exactly one entry matching the client's -v"
                       % (c["tag"], n, "" if n == 1 else "s",
                          ", ".join(str(s) for s in c["order"][:12]) + (" ..." if n > 12 else "")))
    # h2load: bounded load, counted
    if a.h2load_log:
        txt = open(a.h2load_log, encoding="utf-8", errors="replace").read()
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded", txt)
        if not m:
            out("fail", "h2load reported its requests")
            diag(txt[-2000:])
        else:
            succeeded = int(m.group(4))
            hl = [e for e in entries if (e.get("request") or {}).get("url") == a.h2load_url]
            used.update(id(e) for e in hl)
            check(len(hl) == succeeded, "h2load: %d entries for %s == %d requests h2load reports succeeded"
                  % (len(hl), a.h2load_url, succeeded))
            by_flow = {}
            for e in hl:
                by_flow.setdefault(e.get("flow_id"), []).append(e)
            check(len(by_flow) == a.h2load_clients, "h2load: entries in %d connections (-c %d)"
                  % (len(by_flow), a.h2load_clients))
            probs = []
            for f, es in sorted(by_flow.items(), key=lambda kv: str(kv[0])):
                sids = sorted(e.get("stream_id") or 0 for e in es)
                if sids != list(range(1, 2 * len(es), 2)):
                    probs.append("flow %s: stream ids %s, want 1, 3, ... %d" % (f, sids[:20], 2 * len(es) - 1))
            bad_e = [short(e) for e in hl if e.get("missing") or e.get("incomplete") or (e.get("response") or {}).get("status") != 200
                     or e.get("version") != "2" or body_size(e.get("response")) != len(files.get(a.h2load_url.split("?")[0], b""))
                     or endpoint_problems(e, "src", a.client, a.client_ns) or endpoint_problems(e, "dst", a.server_pod, a.server_ns)]
            check_problems(probs, "h2load: each connection's streams are 1, 3, 5, ... without a gap or a duplicate")
            check_problems(bad_e, "h2load: every entry complete, status 200, version 2, whole body, right pods")
    extra = [short(e) for e in entries if id(e) not in used]
    n_want = sum(len(c["order"]) for c in conns)
    check_problems(extra, "no entry beyond the clients' requests (%d entries, %d from nghttp/curl + h2load)"
                   % (len(entries), n_want))
    return 0


# ------------------------------------------------------------------ grpc
def fields_problems(got, want, where):
    """floe's decoded protobuf fields against the encoder's: same fields in the same order,
    same wire types, types and values (floats to 1e-6; extra "double"/"float" readings of
    i64/i32 values are allowed)."""
    if not isinstance(got, list):
        return ["%s: fields %r, want a list of %d fields" % (where, got, len(want))]
    p = []
    if len(got) != len(want):
        p.append("%s: %d fields, want %d (got numbers %s, want %s)" % (
            where, len(got), len(want), [g.get("field") for g in got if isinstance(g, dict)],
            [w["field"] for w in want]))
    for i, (g, w) in enumerate(zip(got, want)):
        at = "%s.%d(field %s)" % (where, i, w["field"])
        for k in ("field", "wire_type", "type"):
            if g.get(k) != w.get(k):
                p.append("%s: %s %r, want %r" % (at, k, g.get(k), w.get(k)))
        for k in ("double", "float"):
            if k in w and not (isinstance(g.get(k), (int, float)) and abs(g[k] - w[k]) <= 1e-6 * max(1, abs(w[k]))):
                p.append("%s: %s %r, want %r" % (at, k, g.get(k), w[k]))
        if w.get("type") == "message":
            p += fields_problems(g.get("value"), w["value"], at)
        elif g.get("value") != w["value"]:
            p.append("%s: value %r, want %r" % (at, g.get("value"), w["value"]))
    return p


ABORTED = ("CANCELLED", "DEADLINE_EXCEEDED")


def grpc_call_problems(e, c, s):
    """One gRPC entry against the client's log line c and the server's s."""
    p = []
    g = e.get("grpc") or {}
    req = e.get("request") or {}
    service, _, method = c["method"][1:].partition("/")
    if e.get("protocol") != "grpc":
        p.append("protocol %r, want 'grpc'" % e.get("protocol"))
    if e.get("version") != "2":
        p.append("version %r, want '2'" % e.get("version"))
    if not isinstance(e.get("stream_id"), int) or e["stream_id"] % 2 != 1:
        p.append("stream_id %r, want an odd number" % e.get("stream_id"))
    if req.get("method") != "POST" or req.get("path") != c["method"]:
        p.append("request %r %r, want POST %r" % (req.get("method"), req.get("path"), c["method"]))
    if not str(req.get("content_type", "")).startswith("application/grpc"):
        p.append("request.content_type %r" % req.get("content_type"))
    if (g.get("service"), g.get("method")) != (service, method):
        p.append("grpc.service/method %r/%r, want %r/%r" % (g.get("service"), g.get("method"), service, method))
    if c["code_name"] in ABORTED:
        # The client gave up (RST_STREAM); its status and details are its own. The entry
        # either has the status the server still sent, or misses the response's end.
        if "status" in g:
            if g.get("status_name") not in ABORTED:
                p.append("grpc.status %r %r, want CANCELLED or DEADLINE_EXCEEDED, or no status"
                         % (g.get("status"), g.get("status_name")))
        elif (e.get("missing") or e.get("incomplete"), e.get("missing_reason")) != ("response", "stream_reset"):
            p.append("no grpc.status, and missing/incomplete %r (%s), want response (stream_reset)"
                     % (e.get("missing") or e.get("incomplete"), e.get("missing_reason")))
    else:
        if e.get("missing") or e.get("incomplete"):
            p.append("missing/incomplete %r (%s)" % (e.get("missing") or e.get("incomplete"), e.get("missing_reason")))
        if g.get("status") != c["code"] or g.get("status_name") != c["code_name"]:
            p.append("grpc.status %r %r, want %r %r (client)" % (g.get("status"), g.get("status_name"), c["code"], c["code_name"]))
        if (g.get("message") or "") != c["details"]:
            p.append("grpc.message %r, want %r (client's details)" % (g.get("message"), c["details"]))
    if g.get("request_count") != len(c["request_raw"]):
        p.append("grpc.request_count %r, want %d" % (g.get("request_count"), len(c["request_raw"])))
    if g.get("response_count") != len(c["response_raw"]):
        p.append("grpc.response_count %r, want %d (client received)" % (g.get("response_count"), len(c["response_raw"])))
    if s is not None and s["response_raw"] != c["response_raw"]:
        p.append("the client received other messages than the server sent (test peers disagree)")
    gz = c.get("compression") == "gzip"
    if gz and g.get("encoding") != "gzip":
        p.append("grpc.encoding %r, want 'gzip'" % g.get("encoding"))
    for which, raws, fields in (("request", c["request_raw"], c.get("request_fields")),
                                ("response", c["response_raw"], (s or {}).get("response_fields"))):
        msgs = g.get(which + "_messages") or []
        if len(msgs) != len(raws):
            p.append("grpc.%s_messages: %d, want %d" % (which, len(msgs), len(raws)))
        for i, (m, raw) in enumerate(zip(msgs, raws)):
            at = "grpc.%s_messages[%d]" % (which, i)
            n = len(bytes.fromhex(raw))
            if m.get("compressed"):
                if m.get("decompressed_size") != n:
                    p.append("%s.decompressed_size %r, want %d" % (at, m.get("decompressed_size"), n))
            elif m.get("size") != n:
                p.append("%s.size %r, want %d" % (at, m.get("size"), n))
            if not gz and m.get("compressed"):
                p.append("%s.compressed true on an identity call" % at)
            if fields is not None and i < len(fields) and fields[i] is None:
                # bigger than --body-max: measured, not decoded
                if m.get("truncated") is not True or "fields" in m:
                    p.append("%s: truncated %r, fields %s, want truncated and no fields (%d bytes > %d)"
                             % (at, m.get("truncated"), "present" if "fields" in m else "absent", n, BODY_MAX))
            elif fields is not None and i < len(fields):
                p += fields_problems(m.get("fields"), fields[i], at + ".fields")
    return p


def cmd_grpc(a):
    entries = load_entries(a)
    client = read_jsonl(a.client_log)
    server = {s["call_id"]: s for s in read_jsonl(a.server_log)}
    finished = {c["call_id"] for c in client if c["code_name"] not in ABORTED}
    # A call the client aborted (deadline, cancel) may still finish on the server, or not,
    # depending on timing: the server's log holds every finished call and only calls made.
    called = {c["call_id"] for c in client}
    check(client and finished <= set(server) and set(server) <= called,
          "the server logged every call the client did not abort, and no other (%d finished, "
          "%d logged, %d made)" % (len(finished), len(server), len(called)))
    by_call = {}
    for e in entries:
        cid = ((e.get("request") or {}).get("headers") or {}).get("x-call-id")
        by_call.setdefault(cid, []).append(e)
    used = set()
    groups = []
    probs_of = {}
    flows = set()
    for c in client:
        grp = c["call_id"].split("-")[0] if c["call_id"].startswith("ping-") else c["call_id"]
        if grp not in probs_of:
            groups.append(grp)
            probs_of[grp] = []
        got = by_call.get(c["call_id"], [])
        used.update(id(e) for e in got)
        if len(got) != 1:
            probs_of[grp].append("%s %s: %d entries (want exactly 1)%s" % (
                c["call_id"], c["method"], len(got), "".join("\n      " + short(e) for e in got)))
            if not got:
                continue
        e = got[0]
        flows.add(e.get("flow_id"))
        p = grpc_call_problems(e, c, server.get(c["call_id"]))
        p += endpoint_problems(e, "src", a.client, a.client_ns)
        p += endpoint_problems(e, "dst", a.server_pod, a.server_ns, None, a.port)
        if p:
            probs_of[grp].append("%s (entry %s, stream %s):" % (c["call_id"], e.get("id"), e.get("stream_id")))
            probs_of[grp].extend("    " + q for q in p)
    for grp in groups:
        calls = [c for c in client if c["call_id"] == grp or c["call_id"].startswith(grp + "-") and grp == "ping"]
        c0 = calls[0]
        check_problems(probs_of[grp], "%s: %s%s status %s, %d+%d messages: entry matches client and server"
                       % (grp, c0["method"], " x%d" % len(calls) if len(calls) > 1 else "", c0["code_name"],
                          len(c0["request_raw"]), len(c0["response_raw"])))
    check(len(flows) == 1, "all calls in one connection, as the client's channel made them (flows %s)"
          % sorted(flows, key=str))
    extra = [short(e) for e in entries if id(e) not in used]
    check_problems(extra, "no entry beyond the client's calls (%d entries, %d calls)" % (len(entries), len(client)))
    return 0


# ------------------------------------------------------------------ graphql
def graphql_expect(case):
    """What floe's graphql object should hold for a case of test_entries_graphql.sh: from
    the request the client sent (body or URL parameters) and the case's expectations."""
    exp = dict(case.get("expect") or {})
    if case.get("params") is not None:
        req = dict(case["params"])
        if "variables" in req:
            req["variables"] = json.loads(req["variables"])
    elif case.get("content_type", "").startswith("application/graphql"):
        req = {"query": case["body"]}
    else:
        req = json.loads(case["body"])
    first = req[0] if isinstance(req, list) else req
    if "query" in first:
        exp.setdefault("query", first["query"])
    if first.get("variables") is not None:
        exp.setdefault("variables", first["variables"])
    if isinstance(req, list):
        exp.setdefault("batch_size", len(req))
    pq = (first.get("extensions") or {}).get("persistedQuery")
    if pq and "query" not in first:
        exp.setdefault("persisted_query", pq)
    return exp


def cmd_graphql(a):
    entries = load_entries(a)
    cases = json.load(open(a.cases))
    xfers = {x["tag"]: x for x in parse_curl_log(a.curl)}
    by_case = {}
    for e in entries:
        by_case.setdefault(((e.get("request") or {}).get("query_params") or {}).get("case"), []).append(e)
    used = set()
    for i, case in enumerate(cases):
        tag = "case-%d" % i
        x = xfers.get(tag)
        got = by_case.get(str(i), [])
        used.update(id(e) for e in got)
        desc = "%s %s over HTTP/%s (%s)" % (tag, case["name"], case["version"], case.get("method", "POST"))
        p = []
        if x is None or x["w"].get("exitcode"):
            p.append("curl did not complete it: %s" % (x and x["w"].get("errormsg")))
        if len(got) != 1:
            p.append("%d entries (want exactly 1)%s" % (len(got), "".join("\n    " + short(e) for e in got)))
        if not got:
            check_problems(p, desc)
            continue
        e = got[0]
        req = e.get("request") or {}
        want_proto = (case.get("expect") or {}).get("protocol", "graphql")
        if e.get("protocol") != want_proto:
            p.append("protocol %r, want %r" % (e.get("protocol"), want_proto))
        if e.get("version") != case["version"]:
            p.append("version %r, want %r" % (e.get("version"), case["version"]))
        if e.get("missing") or e.get("incomplete"):
            p.append("missing/incomplete %r (%s)" % (e.get("missing") or e.get("incomplete"), e.get("missing_reason")))
        if req.get("method") != case.get("method", "POST") or req.get("path") != "/graphql":
            p.append("request %r %r, want %s /graphql" % (req.get("method"), req.get("path"), case.get("method", "POST")))
        if x and (e.get("response") or {}).get("status") != x["w"].get("http_code"):
            p.append("response.status %r, want %r (curl)" % ((e.get("response") or {}).get("status"), x["w"].get("http_code")))
        p += endpoint_problems(e, "src", a.client, a.client_ns)
        p += endpoint_problems(e, "dst", a.server_pod, a.server_ns)
        g = e.get("graphql")
        if want_proto != "graphql":
            if g is not None:
                p.append("a graphql object on a request that is not GraphQL: %r" % g)
        else:
            g = g or {}
            exp = graphql_expect(case)
            exp.pop("protocol", None)
            for k, v in sorted(exp.items()):
                if g.get(k) != v:
                    p.append("graphql.%s %r, want %r" % (k, g.get(k), v))
            for k in ("variables", "batch_size", "persisted_query"):
                if k not in exp and k in g:
                    p.append("graphql.%s %r, want none (not sent)" % (k, g[k]))
        check_problems(p, desc)
    extra = [short(e) for e in entries if id(e) not in used]
    check_problems(extra, "no entry beyond curl's requests (%d entries, %d cases)" % (len(entries), len(cases)))
    return 0


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    h1 = sub.add_parser("http1")
    h1.add_argument("--curl", required=True, help="curl -v logs: 'CURL TAG', then -v and XFER lines")
    h1.add_argument("--server", required=True, help="httpd1.py's log")
    h1.add_argument("--client-ip")
    h1.add_argument("--server-ip")
    h1.add_argument("--port", type=int, required=True)
    h1.add_argument("--protocol", default="http")
    h2 = sub.add_parser("http2")
    h2.add_argument("--nghttp", help="nghttp -v logs, each after a line 'NGHTTP TAG PORT'")
    h2.add_argument("--curl", help="curl -v logs as for http1; TAG is 'NAME PORT'")
    h2.add_argument("--htdocs", help="the files the server serves, to compare bodies")
    h2.add_argument("--h2load-log")
    h2.add_argument("--h2load-url")
    h2.add_argument("--h2load-clients", type=int, default=1)
    gr = sub.add_parser("grpc")
    gr.add_argument("--client-log", required=True)
    gr.add_argument("--server-log", required=True)
    gr.add_argument("--port", type=int, required=True)
    gq = sub.add_parser("graphql")
    gq.add_argument("--cases", required=True, help="the JSON array of cases the test ran")
    gq.add_argument("--curl", required=True, help="curl -v logs as for http1, tags case-N")
    for p in (h1, h2, gr, gq):
        p.add_argument("--entries", required=True, help="floe tap --json output")
        p.add_argument("--client", required=True, help="the client's pod (netns) name")
        p.add_argument("--client-ns")
        p.add_argument("--server-pod", required=True)
        p.add_argument("--server-ns")
        p.add_argument("--since", type=float, help="epoch seconds: no entry time before")
        p.add_argument("--until", type=float, help="epoch seconds: no entry time after")
    a = ap.parse_args()
    return {"http1": cmd_http1, "http2": cmd_http2, "grpc": cmd_grpc, "graphql": cmd_graphql}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
