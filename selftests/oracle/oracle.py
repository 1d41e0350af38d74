#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test: `floe read FILE --json` against tshark on real captures, field by field.

For every capture under the shared captures directory ($FLOE_CAPTURES, default
../shared/captures next to the repository; the subdirectories http1, http2 and grpc, walked
recursively; see its SOURCES.md) tshark dissects the file once into PDML and floe once into
JSON entries; the HTTP/1.x messages, HTTP/2 streams and gRPC calls tshark finds must be
floe's entries, with the same fields, and floe must have no others. Then `floe read` is run
on broken inputs (a capture cut in the middle of a packet record, in pcap, pcapng and gzip
form; a file that is not a capture; an empty file; a missing one).

Output is TAP-like, as the integration scripts print it: "ok N - ..." / "not ok N - ...",
"#" lines with the differences (where, field, tshark's value, floe's value), and a last line
"N passed, N failed". Exit status 1 when anything failed.

Differences where floe is right (or tshark has no answer) are listed, each with its reason,
in expectations.json next to this file; they are shown as "# expected difference" and do not
fail. See docs/testing.md, "Oracle: floe read against tshark".

Usage: oracle.py [--floe PATH] [--captures DIR] [--expectations FILE] [-v] [--keep]
                 [--only REGEX] [--no-errors]
Only the Python standard library is used (run with /usr/bin/python3).
"""

import argparse
import base64
import gzip
import http.client
import ipaddress
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib
from fnmatch import fnmatchcase

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUBDIRS = ("http1", "http2", "grpc")
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")
PREFACE_HEX = "50:52:49:20:2a:20:48:54:54:50:2f:32:2e:30:0d:0a:0d:0a:53:4d:0d:0a:0d:0a"
# gRPC status codes by number (grpc/doc/statuscodes.md)
GRPC_CODES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
              "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
              "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
              "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED")
H2_ERRORS = ("NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
             "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
             "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
             "HTTP_1_1_REQUIRED")
H2_DATA, H2_HEADERS, H2_RST, H2_PUSH, H2_GOAWAY, H2_CONT = 0, 1, 3, 5, 7, 9


# --------------------------------------------------------------------------- TAP output
class Tap:
    def __init__(self):
        self.n = 0
        self.passed = 0
        self.failed = 0

    def result(self, good, desc, skip=None):
        self.n += 1
        if good:
            self.passed += 1
        else:
            self.failed += 1
        line = "%s %d - %s" % ("ok" if good else "not ok", self.n, desc)
        if skip:
            line += " # SKIP " + skip
        print(line, flush=True)

    @staticmethod
    def diag(text):
        for line in str(text).split("\n"):
            print("# " + line)
        sys.stdout.flush()

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


class Recorder:
    """Collects one capture's results and diagnostics (captures are checked in parallel and
    reported in order)."""

    def __init__(self):
        self.items = []

    def result(self, good, desc, skip=None):
        self.items.append(("result", good, desc, skip))

    def diag(self, text):
        self.items.append(("diag", text))

    def replay(self, tap):
        for it in self.items:
            if it[0] == "result":
                tap.result(it[1], it[2], skip=it[3])
            else:
                tap.diag(it[1])


def q(v):
    """A value as shown in a difference: JSON, shortened."""
    s = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return s if len(s) <= 300 else s[:280] + "...(%d chars)" % len(s)


# --------------------------------------------------------------------------- helpers
def norm_ip(s):
    try:
        return ipaddress.ip_address(s).compressed
    except ValueError:
        return s


def ep_str(ep):
    ip, port = ep
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def conn_key(a, b):
    return tuple(sorted([a, b]))


def hexbytes(v):
    try:
        return bytes.fromhex(v or "")
    except ValueError:
        return None


def text(b):
    return b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else b


def field_bytes(el):
    """The exact bytes of a PDML field (its hex value) or, failing that, its show text."""
    b = hexbytes(el.get("value"))
    if b is not None and el.get("value"):
        return b
    return (el.get("show") or "").encode("utf-8", "surrogateescape")


def join_headers(pairs, h2=False):
    """[(name, value)] -> {lower name: value}; repeated values joined as floe documents it
    (", ", set-cookie with a newline; HTTP/2 cookie crumbs with "; ", RFC 9113 8.2.3)."""
    out = {}
    for name, value in pairs:
        name = name.lower()
        if name in out:
            sep = ", "
            if name == "set-cookie":
                sep = "\n"
            elif name == "cookie" and h2:
                sep = "; "
            out[name] += sep + value
        else:
            out[name] = value
    return out


def parse_header_line(b):
    s = text(b).rstrip("\r\n")
    if ":" not in s:
        return None
    name, value = s.split(":", 1)
    return name.strip(), value.strip(" \t")


def std_phrase(code):
    return http.client.responses.get(code)


def rfc3339(epoch):
    """tshark's epoch "sec.nanosec" as floe prints times: 2026-11-23T10:42:00.123456789Z."""
    if epoch is None:
        return None
    sec, _, frac = epoch.partition(".")
    import datetime
    t = datetime.datetime.fromtimestamp(int(sec), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + (frac + "000000000")[:9] + "Z"


def is_capture(name):
    return name.endswith(CAPTURE_EXT)


# --------------------------------------------------------------------------- tshark side
class Msg:
    """One HTTP/1 message as tshark dissected it."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class H2Stream:
    def __init__(self, conn, sid):
        self.conn = conn
        self.sid = sid
        self.blocks = {"c": [], "s": []}  # header blocks per direction: [(frame, [(n, v)])]
        self.open_block = {"c": None, "s": None}
        self.payload = {"c": 0, "s": 0}   # HEADERS+CONTINUATION+DATA frame payload bytes
        self.data = {"c": bytearray(), "s": bytearray()}
        self.data_known = {"c": True, "s": True}  # every DATA byte seen in the PDML
        self.body = {"c": 0, "s": 0}      # DATA payload bytes without padding
        self.data_frames = {"c": 0, "s": 0}
        self.grpc = {"c": [], "s": []}    # tshark's grpc.message_length per direction
        self.first_frame = None
        self.first_time = {"c": None, "s": None}
        self.rst = None                   # (error code, "client"/"server") of a RST_STREAM
        self.ended = {"c": False, "s": False}  # END_STREAM seen
        self.promised_by = None           # stream id of the PUSH_PROMISE
        self.upgrade_req = None           # the HTTP/1.1 request of an h2c upgrade (stream 1)
        self.open_push = None             # a PUSH_PROMISE waiting for its CONTINUATION


class Conn:
    def __init__(self, key):
        self.key = key
        self.client = None  # (ip, port)
        self.server = None
        self.h1 = []        # Msg, in order
        self.h2 = {}        # stream id -> H2Stream
        self.h2_client = None
        self.preface = False
        self.grpc_unattributed = {"c": 0, "s": 0}

    def name(self):
        if self.client:
            return "%s -> %s" % (ep_str(self.client), ep_str(self.server))
        return "%s <-> %s" % (ep_str(self.key[0]), ep_str(self.key[1]))


RE_IP = re.compile(r"Src: ([^,]+), Dst: (.+)$")
RE_TCP = re.compile(r"Src Port: (\d+), Dst Port: (\d+)")
RE_SEGS = re.compile(r"#(\d+)\(\d+\)")
RE_CE = re.compile(r"^Content-encoded entity body \(([^)]*)\): (\d+) bytes(?: -> (\d+) bytes)?")


def has_preface(path):
    """Whether the file (gunzipped) holds the HTTP/2 client connection preface anywhere."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" in f.read()
    except (OSError, EOFError, zlib.error):
        return True  # let tshark say what is wrong


def run_tshark_prepass(path, timeout):
    """Which TCP ports carry HTTP/2 with prior knowledge that tshark does not find by itself
    (the client preface at a segment start, on a stream tshark leaves as data), and whether
    there is TLS. One quick tshark run."""
    cmd = ["tshark", "-n", "-r", path, "-Y",
           "tcp.payload[0:24] == %s or tls.record" % PREFACE_HEX,
           "-T", "fields", "-e", "tcp.dstport", "-e", "frame.protocols"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    ports, tls = set(), False
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        protos = parts[1].split(":")
        if "tls" in protos or "ssl" in protos:
            tls = True
            continue
        if "http2" not in protos and parts[0].isdigit():
            ports.add(int(parts[0]))
    return sorted(ports), tls, p.returncode, p.stderr.decode("utf-8", "replace")


def tshark_dissect(path, extra_args, timeout):
    """Run tshark once (PDML) and collect HTTP/1 messages and HTTP/2 streams per TCP
    connection. Returns (conns, frame_times, stderr, returncode)."""
    cmd = ["tshark", "-n", "-r", path] + extra_args + ["-T", "pdml", "-J", "http http2 grpc"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    conns = {}
    times = {}
    errbuf = []

    def drain_err():
        errbuf.append(proc.stderr.read())

    import threading
    t = threading.Thread(target=drain_err, daemon=True)
    t.start()
    try:
        for _ev, el in ET.iterparse(proc.stdout, events=("end",)):
            if el.tag != "packet":
                continue
            handle_packet(el, conns, times)
            el.clear()
    except ET.ParseError as e:
        errbuf.append(("PDML parse error: %s\n" % e).encode())
    proc.wait(timeout=timeout)
    t.join(timeout=5)
    err = b"".join(errbuf).decode("utf-8", "replace")
    return conns, times, err, proc.returncode


def handle_packet(pkt, conns, times):
    num, ts = None, None
    src_ip = dst_ip = None
    sport = dport = None
    pending_first = None  # first frame of a reassembled PDU that starts this packet's data
    app = []              # (proto element, first frame)
    for proto in pkt.iter("proto"):
        name = proto.get("name")
        if name == "geninfo":
            for f in proto:
                if f.get("name") == "num":
                    num = int(f.get("show"))
                elif f.get("name") == "timestamp":
                    ts = f.get("value")
        elif name in ("ip", "ipv6"):
            m = RE_IP.search(proto.get("showname") or "")
            if m:
                src_ip, dst_ip = norm_ip(m.group(1).strip()), norm_ip(m.group(2).strip())
        elif name == "tcp":
            m = RE_TCP.search(proto.get("showname") or "")
            if m:
                sport, dport = int(m.group(1)), int(m.group(2))
        elif name == "fake-field-wrapper":
            for f in proto.iter("field"):
                if f.get("name") == "tcp.segments":
                    segs = RE_SEGS.findall(f.get("showname") or "")
                    if segs:
                        pending_first = int(segs[0])
        elif name in ("http", "http2", "grpc"):
            app.append((proto, pending_first))
            pending_first = None
        elif name in ("tls", "ssl"):
            times["tls"] = True
    if num is not None and ts is not None:
        times[num] = ts
    if not app or sport is None or src_ip is None:
        return
    src, dst = (src_ip, sport), (dst_ip, dport)
    key = conn_key(src, dst)
    conn = conns.get(key)
    if conn is None:
        conn = conns[key] = Conn(key)
    last_h2 = None
    for idx, (proto, first) in enumerate(app):
        first = first or num
        name = proto.get("name")
        if name == "http":
            m = parse_http1(proto, num, idx, first, src, dst)
            if m:
                conn.h1.append(m)
                if m.kind == "req" and conn.client is None:
                    conn.client, conn.server = src, dst
        elif name == "http2":
            last_h2 = parse_http2(proto, conn, num, first, src, dst) or last_h2
        elif name == "grpc":
            lens = [int(f.get("show")) for f in proto.iter("field")
                    if f.get("name") == "grpc.message_length"]
            d = "c" if conn.h2_client in (None, src) else "s"
            if last_h2 is not None:
                last_h2.grpc[d].extend(lens)
            else:
                conn.grpc_unattributed[d] += len(lens)


def parse_http1(proto, num, idx, first, src, dst):
    kind = None
    m = Msg(frame=num, idx=idx, first_frame=first, src=src, dst=dst, headers=[],
            head_start=None, head_end=None, chunked_size=None, raw_body=None,
            decoded_body=None, encoding=None, request_in=None, method=None, uri=None,
            version=None, status=None, phrase=None, body=None, path=None, query=None,
            file_data=None)
    for f in proto.iter("field"):
        n = f.get("name")
        if n == "http.request.method":
            kind = "req"
            m.method = text(field_bytes(f))
        elif n == "http.request.uri":
            m.uri = text(field_bytes(f))
        elif n == "http.request.uri.path":
            m.path = text(field_bytes(f))
        elif n == "http.request.uri.query":
            m.query = text(field_bytes(f))
        elif n == "http.request.version":
            m.version = text(field_bytes(f))
        elif n == "http.response.version":
            kind = "resp"
            m.version = text(field_bytes(f))
        elif n == "http.response.code":
            kind = "resp"
            m.status = int(f.get("show"))
        elif n == "http.response.phrase":
            m.phrase = text(field_bytes(f))
        elif n in ("http.request.line", "http.response.line"):
            h = parse_header_line(field_bytes(f))
            if h:
                m.headers.append(h)
        elif n == "http.request_in":
            m.request_in = int(f.get("show"))
        elif n == "http.file_data":
            m.body = int(f.get("size") or 0)
            b = hexbytes(f.get("value"))
            m.file_data = b if b is not None and len(b) == m.body else None
        elif n == "":
            show = f.get("show") or ""
            pos, size = int(f.get("pos") or 0), int(f.get("size") or 0)
            if m.head_start is None and show.endswith("\\r\\n") and show != "\\r\\n":
                m.head_start = pos
            elif show == "\\r\\n" and m.head_end is None:
                m.head_end = pos + size
            elif show.startswith("HTTP chunked "):
                m.chunked_size = size
            else:
                ce = RE_CE.match(show)
                if ce:
                    m.encoding = ce.group(1)
                    m.raw_body = int(ce.group(2))
                    if ce.group(3):
                        m.decoded_body = int(ce.group(3))
    if kind is None:
        return None
    m.kind = kind
    # The request's status line can be "HTTP/1.1 200" without phrase: tshark then has none.
    if kind == "resp" and m.phrase is None:
        m.phrase = ""
    if m.raw_body is None:
        m.raw_body = m.body or 0
    m.head_size = (m.head_end - m.head_start) if (m.head_end is not None and
                                                    m.head_start is not None) else None
    if m.head_size is not None:
        m.wire_size = m.head_size + (m.chunked_size if m.chunked_size is not None
                                     else m.raw_body)
    else:
        m.wire_size = None
    return m


def parse_http2(proto, conn, num, first, src, dst):
    fields = list(proto.iter("field"))
    get = {}
    for f in fields:
        n = f.get("name")
        if n and n not in get:
            get[n] = f
    if "http2.magic" in get:
        conn.preface = True
        conn.h2_client = src
        if conn.client is None:
            conn.client, conn.server = src, dst
        return None
    if "http2.type" not in get or "http2.streamid" not in get:
        return None
    ftype = int(get["http2.type"].get("show"))
    sid = int(get["http2.streamid"].get("show"))
    length = int(get["http2.length"].get("show")) if "http2.length" in get else 0
    if sid == 0:
        return None
    if conn.h2_client is None:
        # No preface seen (h2c upgrade, or the capture starts late): the client is the
        # HTTP/1 client, or the side that opens odd streams.
        if conn.client is not None:
            conn.h2_client = conn.client
        elif ftype == H2_HEADERS and sid % 2 == 1:
            conn.h2_client = src
            conn.client, conn.server = src, dst
    d = "c" if src == conn.h2_client else "s"
    st = conn.h2.get(sid)
    if st is None:
        st = conn.h2[sid] = H2Stream(conn, sid)
        st.first_frame = num
    flag = lambda n: get.get(n) is not None and get[n].get("show") == "1"
    headers = []
    pending = None
    for f in fields:
        n = f.get("name")
        if n == "http2.header.name":
            pending = text(field_bytes(f))
        elif n == "http2.header.value" and pending is not None:
            headers.append((pending, text(field_bytes(f))))
            pending = None
    if ftype in (H2_HEADERS, H2_CONT, H2_DATA):
        st.payload[d] += length
        if st.first_time[d] is None:
            st.first_time[d] = first
    if ftype == H2_HEADERS:
        blk = (num, headers, first)
        st.blocks[d].append(blk)
        st.open_block[d] = None if flag("http2.flags.eh") else blk
    elif ftype == H2_CONT:
        blk = st.open_block[d]
        if st.open_push is not None and blk is not None:
            st.open_push.payload["c"] += length
            st.payload[d] -= length
        if flag("http2.flags.eh"):
            st.open_push = None
        if blk is not None:
            blk[1].extend(headers)
            if flag("http2.flags.eh"):
                st.open_block[d] = None
        elif headers:
            st.blocks[d].append((num, headers, first))
    elif ftype == H2_DATA:
        # The frame's own data: length minus padding. On the frame that ends a body tshark
        # may also show the whole reassembled body as http2.data.data (another tvb): only a
        # data field of exactly the frame's data size is this frame's.
        n = length
        if flag("http2.flags.padded") and "http2.pad_length" in get:
            n -= int(get["http2.pad_length"].get("show")) + 1
        st.body[d] += max(n, 0)
        if n > 0:
            own = [f for f in fields if f.get("name") == "http2.data.data"
                   and int(f.get("size") or -1) == n]
            b = hexbytes(own[0].get("value")) if own else None
            if b is None or len(b) != n:
                st.data_known[d] = False
            else:
                st.data[d] += b
        st.data_frames[d] += 1
    elif ftype == H2_PUSH:
        if "http2.push_promise.promised_stream_id" in get:
            pid = int(get["http2.push_promise.promised_stream_id"].get("show"))
            ps = conn.h2.get(pid)
            if ps is None:
                ps = conn.h2[pid] = H2Stream(conn, pid)
                ps.first_frame = num
            ps.promised_by = sid
            blk = (num, headers, first)
            ps.blocks["c"].append(blk)
            # the promise is the pushed stream's request: its payload counts as floe's
            # request_size of that stream (CONTINUATION frames of it arrive on stream sid)
            ps.payload["c"] += length
            if not flag("http2.flags.eh"):
                st.open_block[d] = blk
                st.open_push = ps
    elif ftype == H2_RST:
        # A reset after both halves ended comes after floe emitted the stream's entry: the
        # entry stays complete and has no rst_* fields (docs/http2.md).
        ended_c = st.ended["c"] or (sid == 1 and conn.h1 and not st.blocks["c"])
        if st.rst is None and not (ended_c and st.ended["s"]):
            code = get.get("http2.rst_stream.error")
            code = int(code.get("show"), 0) if code is not None else None
            st.rst = (code, "client" if d == "c" else "server")
    if ftype in (H2_HEADERS, H2_DATA) and flag("http2.flags.end_stream"):
        st.ended[d] = True
    return st


# --------------------------------------------------------------------------- floe side
def run_floe(floe, path, timeout):
    p = subprocess.run([floe, "read", path, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    entries, bad = [], []
    for line in p.stdout.decode("utf-8", "surrogateescape").split("\n"):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            bad.append(line)
    return entries, bad, p.returncode, p.stderr.decode("utf-8", "replace")


def entry_key(e):
    """(connection key, client endpoint) of an entry."""
    try:
        c = (norm_ip(e["src"]["ip"]), int(e["src"]["port"]))
        s = (norm_ip(e["dst"]["ip"]), int(e["dst"]["port"]))
    except (KeyError, TypeError, ValueError):
        return None, None, None
    return conn_key(c, s), c, s


def entry_n(e):
    try:
        return int(str(e.get("id", "")).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def dig(obj, path):
    for k in path.split("."):
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


# --------------------------------------------------------------------------- comparison
class Report:
    def __init__(self, capture, expect):
        self.capture = capture
        self.expect = expect
        self.diffs = []      # (where, field, tshark, floe)
        self.expected = []   # (where, field, tshark, floe, reason)
        self.compared = 0
        self.notes = []

    def eq(self, where, field, tv, fv):
        """Compare one field; record a difference unless equal. Objects (headers) are
        compared key by key, so a difference names the header."""
        if isinstance(tv, dict) and isinstance(fv, (dict, type(None))) and tv:
            fv = fv or {}
            good = True
            for k in sorted(set(tv) | set(fv)):
                good &= self.eq(where, "%s.%s" % (field, k), tv.get(k), fv.get(k))
            return good
        self.compared += 1
        if tv == fv:
            return True
        self.diff(where, field, tv, fv)
        return False

    def diff(self, where, field, tv, fv):
        reason = self.expect.match(self.capture, where, field, tv, fv)
        if reason is not None:
            self.expected.append((where, field, tv, fv, reason))
        else:
            self.diffs.append((where, field, tv, fv))


def h1_where(conn, req, resp, n):
    if req is not None:
        return "%s request %d (frame %d) %s %s" % (conn.name(), n, req.frame, req.method,
                                                   req.uri)
    return "%s response (frame %d) %s" % (conn.name(), resp.frame, resp.status)


def compare_h1_message(rep, where, side, tm, fm):
    """tshark message tm against floe's request/response object fm."""
    if fm is None:
        rep.diff(where, side, "present", None)
        return
    if side == "request":
        rep.eq(where, "request.method", tm.method, fm.get("method"))
        rep.eq(where, "request.url", tm.uri, fm.get("url"))
        if tm.path is not None:  # tshark splits the uri only when it has a query
            rep.eq(where, "request.path", tm.path, fm.get("path"))
            rep.eq(where, "request.query", (tm.query or "").split("#")[0], fm.get("query"))
    else:
        rep.eq(where, "response.status", tm.status, fm.get("status"))
        rep.eq(where, "response.status_text", tm.phrase, fm.get("status_text"))
    rep.eq(where, side + ".version", (tm.version or "").replace("HTTP/", ""),
           fm.get("version"))
    th = join_headers(tm.headers)
    rep.eq(where, side + ".headers", th, fm.get("headers"))
    rep.eq(where, side + ".content_type", th.get("content-type"), fm.get("content_type"))
    body = fm.get("body") or {}
    if tm.raw_body or body.get("size"):
        rep.eq(where, side + ".body.size", tm.raw_body, body.get("size"))
        if tm.decoded_body is not None and not body.get("truncated") and \
                "decode_error" not in body:
            rep.eq(where, side + ".body.decoded_size", tm.decoded_body,
                   body.get("decoded_size"))
        compare_body_bytes(rep, where, side, tm.file_data, body)


def compare_body_bytes(rep, where, side, want, body):
    """The body floe shows (text or base64, content-decoded) against tshark's bytes, when
    floe kept all of it and decoded it as tshark does (gzip, deflate)."""
    if want is None or body.get("truncated") or "decode_error" in body:
        return
    if body.get("encoding") not in (None, "gzip", "x-gzip", "deflate"):
        return
    if "text" in body:
        got = body["text"].encode("utf-8", "surrogateescape")
    elif "base64" in body:
        try:
            got = base64.b64decode(body["base64"])
        except ValueError:
            got = None
    else:
        got = b""
    if got == want:
        rep.compared += 1
        return
    # show where they part
    i = next((k for k in range(min(len(got or b""), len(want)))
              if got[k] != want[k]), min(len(got or b""), len(want)))
    rep.diff(where, side + ".body (content)",
             "%d bytes, at %d: %r" % (len(want), i, want[i:i + 40]),
             None if got is None else "%d bytes, at %d: %r" % (len(got), i, got[i:i + 40]))


def compare_h1(rep, conn, entries, counts):
    """HTTP/1 messages of one connection against floe's HTTP/1 entries of it."""
    reqs = [m for m in conn.h1 if m.kind == "req"]
    resps = [m for m in conn.h1 if m.kind == "resp"]
    counts["requests"] += len(reqs)
    counts["responses"] += len(resps)
    by_frame = {}
    for r in reqs:
        by_frame.setdefault(r.frame, []).append(r)
    answers = {id(r): [] for r in reqs}
    orphans = []
    # tshark links a response to its request's frame; several requests in one frame are
    # answered in order.
    used = {}
    for s in resps:
        cands = by_frame.get(s.request_in) if s.request_in else None
        if not cands and s.status is not None and 100 <= s.status < 200 and s.status != 101:
            # An interim response sent before the request was complete (100 Continue
            # before the body): tshark shows the request only where it ends, later, and
            # so cannot link the two. It belongs to the first request completed after it.
            later = [r for r in reqs if r.frame >= s.frame]
            if later:
                answers[id(later[0])].append(s)
                continue
        if not cands:
            orphans.append(s)
            continue
        i = used.get(s.request_in, 0)
        r = cands[min(i, len(cands) - 1)]
        answers[id(r)].append(s)
        if s.status is None or not (100 <= s.status < 200) or s.status == 101:
            used[s.request_in] = i + 1
    # floe's entries of this connection that came from HTTP/1 requests
    fl = sorted(entries, key=lambda e: (e.get("request_time") or e.get("response_time")
                                        or "", entry_n(e)))
    fl_req = [e for e in fl if "request" in e and e.get("missing") != "request"]
    fl_orphan = [e for e in fl if e.get("missing") == "request"]
    # align by (method, url) keeping order
    import difflib
    a = [(r.method, r.uri) for r in reqs]
    b = [(dig(e, "request.method"), dig(e, "request.url")) for e in fl_req]
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    pairs, t_only, f_only = [], [], []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            pairs += list(zip(range(i1, i2), range(j1, j2)))
        elif op == "replace" and (i2 - i1) == (j2 - j1):
            pairs += list(zip(range(i1, i2), range(j1, j2)))
        else:
            t_only += range(i1, i2)
            f_only += range(j1, j2)
    for i, j in pairs:
        r, e = reqs[i], fl_req[j]
        where = h1_where(conn, r, None, i + 1)
        compare_h1_pair(rep, where, conn, r, answers[id(r)], e)
    for i in t_only:
        r = reqs[i]
        rep.diff(h1_where(conn, r, None, i + 1), "entry", "request %s %s" % (r.method, r.uri),
                 None)
    for j in f_only:
        e = fl_req[j]
        rep.diff("%s floe %s" % (conn.name(), e.get("id")), "entry", None,
                 "request %s %s" % (dig(e, "request.method"), dig(e, "request.url")))
    # responses tshark could not tie to a request: floe's entries with missing=request
    for k, s in enumerate(orphans):
        where = h1_where(conn, None, s, 0)
        if k < len(fl_orphan):
            compare_h1_message(rep, where, "response", s, fl_orphan[k].get("response"))
        else:
            rep.diff(where, "entry", "response %s without request" % s.status, None)
    for e in fl_orphan[len(orphans):]:
        rep.diff("%s floe %s" % (conn.name(), e.get("id")), "entry", None,
                 "response %s without request" % dig(e, "response.status"))


def upgraded_entry(e):
    """An h2c upgrade's entry: HTTP/1.1 request, HTTP/2 stream 1's response."""
    return e.get("upgrade") == "h2c" or e.get("stream_id") is not None


def compare_h1_pair(rep, where, conn, req, answers, e):
    client = (norm_ip(dig(e, "src.ip") or ""), dig(e, "src.port"))
    rep.eq(where, "src", ep_str(req.src), ep_str(client) if client[1] is not None else None)
    rep.eq(where, "request_time", rfc3339(rep.times.get(req.first_frame)),
           e.get("request_time"))
    rep.eq(where, "protocol", "http" if e.get("protocol") != "graphql" else "graphql",
           e.get("protocol"))
    if not upgraded_entry(e):
        rep.eq(where, "version", (req.version or "").replace("HTTP/", ""), e.get("version"))
    compare_h1_message(rep, where, "request", req, e.get("request"))
    if req.wire_size is not None:
        rep.eq(where, "request_size", req.wire_size, e.get("request_size"))
    final = [s for s in answers if not (s.status and 100 <= s.status < 200) or s.status == 101]
    interim = [s for s in answers if s.status and 100 <= s.status < 200 and s.status != 101]
    upgraded = upgraded_entry(e)
    if upgraded:
        # h2c: the 101 is kept as interim; the response is stream 1's (compared there)
        interim = interim + [s for s in final if s.status == 101]
        final = []
    fi = e.get("interim") or []
    rep.eq(where, "interim[].status", [s.status for s in interim],
           [x.get("status") for x in fi])
    if len(fi) == len(interim):
        rep.eq(where, "interim[].status_text", [s.phrase for s in interim],
               [x.get("status_text") for x in fi])
        rep.eq(where, "interim[].time", [rfc3339(rep.times.get(s.first_frame))
                                         for s in interim], [x.get("time") for x in fi])
    if not upgraded:
        if final:
            s = final[0]
            # the final response's first byte (each interim one has its own time)
            rep.eq(where, "response_time", rfc3339(rep.times.get(s.first_frame)),
                   e.get("response_time"))
            compare_h1_message(rep, where, "response", s, e.get("response"))
            if s.wire_size is not None:
                rep.eq(where, "response_size", s.wire_size, e.get("response_size"))
            if len(final) > 1:
                rep.notes.append("%s: tshark has %d final responses" % (where, len(final)))
        else:
            rep.eq(where, "missing", "response", e.get("missing"))


def h2_block_headers(block):
    return [(n, v) for n, v in block[1]]


def split_pseudo(pairs):
    pseudo = {}
    regular = []
    for n, v in pairs:
        if n.startswith(":"):
            pseudo.setdefault(n, v)
        else:
            regular.append((n, v))
    return pseudo, regular


def grpc_messages(data):
    """gRPC length-prefixed messages in a DATA byte stream: [(compressed, size)], leftover."""
    out, i = [], 0
    while i + 5 <= len(data):
        size = struct.unpack(">I", bytes(data[i + 1:i + 5]))[0]
        if i + 5 + size > len(data):
            break
        out.append((data[i], size))
        i += 5 + size
    return out, len(data) - i


def compare_h2(rep, conn, entries, counts):
    by_sid = {}
    extra = []
    for e in entries:
        sid = e.get("stream_id")
        if sid is None:
            continue
        by_sid.setdefault(sid, []).append(e)
    for sid in sorted(conn.h2):
        st = conn.h2[sid]
        req_blocks, resp_blocks = st.blocks["c"], st.blocks["s"]
        if not req_blocks and not resp_blocks and st.upgrade_req is None:
            continue  # only PRIORITY / WINDOW_UPDATE / RST_STREAM on it
        counts["streams"] += 1
        where = "%s stream %d" % (conn.name(), sid)
        es = by_sid.pop(sid, [])
        if not es:
            what = ""
            if req_blocks:
                p, _ = split_pseudo(req_blocks[0][1])
                what = "%s %s" % (p.get(":method"), p.get(":path"))
            rep.diff(where, "entry", ("stream %d %s" % (sid, what)).strip(), None)
            continue
        if len(es) > 1:
            rep.diff(where, "entries for the stream", 1, len(es))
        e = es[0]
        compare_h2_stream(rep, where, st, e, counts)
    for sid, es in sorted(by_sid.items()):
        for e in es:
            rep.diff("%s stream %d floe %s" % (conn.name(), sid, e.get("id")), "entry", None,
                     "%s %s" % (dig(e, "request.method"), dig(e, "request.url")))


def final_block(blocks):
    """The final (non-1xx) response header block of a stream, or None."""
    for b in blocks:
        st = dict(b[1]).get(":status")
        if st is not None and not st.startswith("1"):
            return b
    return None


def compare_h2_stream(rep, where, st, e, counts):
    req = e.get("request") or {}
    resp = e.get("response") or {}
    req_blocks, resp_blocks = st.blocks["c"], st.blocks["s"]
    if req_blocks:
        pseudo, regular = split_pseudo(req_blocks[0][1])
        rep.eq(where, "request.method", pseudo.get(":method"), req.get("method"))
        rep.eq(where, "request.url", pseudo.get(":path"), req.get("url"))
        rep.eq(where, "request.authority", pseudo.get(":authority"), req.get("authority"))
        rep.eq(where, "request.scheme", pseudo.get(":scheme"), req.get("scheme"))
        rep.eq(where, "request.version", "2", req.get("version"))
        th = join_headers(regular, h2=True)
        rep.eq(where, "request.headers", th, req.get("headers"))
        rep.eq(where, "request.content_type", th.get("content-type"), req.get("content_type"))
        if len(req_blocks) > 1:
            rep.eq(where, "request.trailers", join_headers(req_blocks[-1][1], h2=True),
                   req.get("trailers"))
    elif st.upgrade_req is not None:
        u = st.upgrade_req
        rep.eq(where, "request.method (h2c upgrade)", u.method, req.get("method"))
        rep.eq(where, "request.url (h2c upgrade)", u.uri, req.get("url"))
    elif e.get("missing") != "request":
        rep.diff(where, "missing", "request", e.get("missing"))
    if resp_blocks:
        # interim 1xx blocks, the response head, then trailers (a block with no :status)
        heads = [b for b in resp_blocks if any(n == ":status" for n, _ in b[1])]
        trailers = [b for b in resp_blocks if not any(n == ":status" for n, _ in b[1])]
        final = [b for b in heads if not split_pseudo(b[1])[0][":status"].startswith("1")]
        if final:
            pseudo, regular = split_pseudo(final[0][1])
            status = int(pseudo[":status"]) if pseudo[":status"].isdigit() else pseudo[":status"]
            rep.eq(where, "response.status", status, resp.get("status"))
            rep.eq(where, "response.status_text", (std_phrase(status) or "")
                   if isinstance(status, int) else None, resp.get("status_text"))
            rep.eq(where, "response.version", "2", resp.get("version"))
            th = join_headers(regular, h2=True)
            rep.eq(where, "response.headers", th, resp.get("headers"))
            rep.eq(where, "response.content_type", th.get("content-type"),
                   resp.get("content_type"))
        if trailers:
            rep.eq(where, "response.trailers", join_headers(trailers[-1][1], h2=True),
                   resp.get("trailers"))
        elif final and len(final) > 0 and resp.get("trailers"):
            rep.eq(where, "response.trailers", None, resp.get("trailers"))
        if not final:
            rep.eq(where, "missing", "response", e.get("missing"))
    elif e.get("missing") != "response":
        rep.diff(where, "missing", "response", e.get("missing"))
    # sizes: payloads of HEADERS, CONTINUATION and DATA frames per direction
    # first byte of the request's first HEADERS (a pushed one's PUSH_PROMISE) and of the
    # final response's HEADERS
    if req_blocks:
        rep.eq(where, "request_time", rfc3339(rep.times.get(req_blocks[0][2])),
               e.get("request_time"))
    if final_block(resp_blocks) is not None:
        rep.eq(where, "response_time", rfc3339(rep.times.get(final_block(resp_blocks)[2])),
               e.get("response_time"))
    if st.promised_by is not None:
        rep.eq(where, "pushed", True, e.get("pushed"))
        rep.eq(where, "promised_on_stream", st.promised_by, e.get("promised_on_stream"))
    if st.rst is not None:
        code, by = st.rst
        name = H2_ERRORS[code] if code is not None and code < len(H2_ERRORS) else \
            ("0x%x" % code if code is not None else None)
        rep.eq(where, "rst_error", name, e.get("rst_error"))
        rep.eq(where, "rst_by", by, e.get("rst_by"))
    if req_blocks:
        rep.eq(where, "request_size", st.payload["c"], e.get("request_size"))
    if resp_blocks:
        rep.eq(where, "response_size", st.payload["s"], e.get("response_size"))
    for d, side, obj in (("c", "request", req), ("s", "response", resp)):
        body = obj.get("body") or {}
        if st.body[d] or body.get("size"):
            rep.eq(where, side + ".body.size", st.body[d], body.get("size"))
            # (a gRPC entry shows its body as grpc.*_messages, not as text or base64)
            if st.data_known[d] and not body.get("encoding") and not e.get("grpc"):
                compare_body_bytes(rep, where, side, bytes(st.data[d]), body)
    # gRPC
    ct = ""
    if req_blocks:
        ct = join_headers(split_pseudo(req_blocks[0][1])[1]).get("content-type", "")
    if not ct.startswith("application/grpc"):
        rep.eq(where, "protocol", "http" if e.get("protocol") != "graphql" else "graphql",
               e.get("protocol"))
    if ct.startswith("application/grpc"):
        counts["grpc"] += 1
        compare_grpc(rep, where, st, e, req_blocks, resp_blocks)


def compare_grpc(rep, where, st, e, req_blocks, resp_blocks):
    g = e.get("grpc") or {}
    rep.eq(where, "protocol", "grpc", e.get("protocol"))
    path = split_pseudo(req_blocks[0][1])[0].get(":path", "")
    parts = path.lstrip("/").split("/", 1)
    if len(parts) == 2:
        rep.eq(where, "grpc.service", parts[0], g.get("service"))
        rep.eq(where, "grpc.method", parts[1], g.get("method"))
    status = None
    message = None
    for b in resp_blocks:  # trailers, or a trailers-only response
        h = dict((n, v) for n, v in b[1])
        if "grpc-status" in h:
            status = h["grpc-status"]
            message = h.get("grpc-message")
    if status is not None:
        code = int(status) if status.isdigit() else status
        rep.eq(where, "grpc.status", code, g.get("status"))
        if isinstance(code, int) and code < len(GRPC_CODES):
            rep.eq(where, "grpc.status_name", GRPC_CODES[code], g.get("status_name"))
    if message is not None:
        import urllib.parse
        rep.eq(where, "grpc.message", urllib.parse.unquote(message), g.get("message"))
    for d, side in (("c", "request"), ("s", "response")):
        tshark_lens = st.grpc[d]
        if st.data_known[d]:
            msgs, left = grpc_messages(st.data[d])
            if left:
                rep.notes.append("%s: %d %s DATA bytes after the last whole gRPC message" % (
                    where, left, side))
        else:  # tshark did not show every DATA byte: its own gRPC dissection only
            msgs = [(None, n) for n in tshark_lens]
        # tshark's own gRPC dissection (grpc.message_length) and the framing of its
        # DATA bytes must agree; a disagreement is an oracle problem, shown as a note.
        if tshark_lens and tshark_lens != [m[1] for m in msgs]:
            rep.notes.append("%s: tshark grpc.message_length %s vs DATA framing %s" % (
                where, tshark_lens, [m[1] for m in msgs]))
        rep.eq(where, "grpc.%s_count" % side, len(msgs), g.get("%s_count" % side))
        fm = g.get("%s_messages" % side)
        if isinstance(fm, list):
            rep.eq(where, "grpc.%s_messages[].size" % side, [m[1] for m in msgs],
                   [x.get("size") for x in fm][:len(msgs)] if len(fm) >= len(msgs)
                   else [x.get("size") for x in fm])
            if all(m[0] is not None for m in msgs):
                rep.eq(where, "grpc.%s_messages[].compressed" % side,
                       [bool(m[0]) for m in msgs],
                       [bool(x.get("compressed")) for x in fm][:len(msgs)])


def compare_capture(rel, conns, entries, rep):
    counts = {"requests": 0, "responses": 0, "streams": 0, "grpc": 0}
    by_conn = {}
    unkeyed = []
    for e in entries:
        k, _c, _s = entry_key(e)
        if k is None:
            unkeyed.append(e)
        else:
            by_conn.setdefault(k, []).append(e)
    for e in unkeyed:
        rep.diff("floe %s" % e.get("id"), "src/dst", "ip and port", None)
    for key in sorted(conns):
        conn = conns[key]
        es = by_conn.pop(key, [])
        # h2c upgrade: the HTTP/1.1 request becomes stream 1's request
        if conn.h2 and 1 in conn.h2 and not conn.h2[1].blocks["c"]:
            ups = [m for m in conn.h1 if m.kind == "req" and any(
                n.lower() == "upgrade" and "h2c" in v.lower() for n, v in m.headers)]
            if ups:
                conn.h2[1].upgrade_req = ups[0]
        h2_entries = [e for e in es if e.get("stream_id") is not None]
        h1_entries = [e for e in es if e.get("stream_id") is None]
        # the upgrade request is both an HTTP/1 request (for tshark) and the stream-1 entry
        if conn.h2 and 1 in conn.h2 and conn.h2[1].upgrade_req is not None:
            h1_entries += [e for e in h2_entries if e.get("stream_id") == 1]
        if conn.h1 or h1_entries:
            compare_h1(rep, conn, h1_entries, counts)
        if conn.h2 or h2_entries:
            compare_h2(rep, conn, h2_entries, counts)
    for key, es in sorted(by_conn.items()):
        for e in es:
            rep.diff("%s <-> %s floe %s" % (ep_str(key[0]), ep_str(key[1]), e.get("id")),
                     "entry", None, "%s %s %s" % (e.get("protocol"), dig(e, "request.method"),
                                                  dig(e, "request.url")))
    return counts


# --------------------------------------------------------------------------- expectations
class Expectations:
    def __init__(self, path):
        self.path = path
        self.data = {}
        if path and os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)
        self.diffs = self.data.get("differences", [])
        self.used = [0] * len(self.diffs)

    def tshark_args(self, rel):
        out = []
        for pat, args in self.data.get("tshark_args", {}).items():
            if fnmatchcase(rel, pat):
                out += args
        return out

    def skip(self, rel):
        for pat, reason in self.data.get("skip", {}).items():
            if fnmatchcase(rel, pat):
                return reason
        return None

    def match(self, capture, where, field, tv, fv):
        for i, d in enumerate(self.diffs):
            if not fnmatchcase(capture, d.get("capture", "*")):
                continue
            if not fnmatchcase(field, d.get("field", "*")):
                continue
            if "where" in d and not fnmatchcase(where, d["where"]):
                continue
            if "tshark" in d and d["tshark"] != tv:
                continue
            if "floe" in d and d["floe"] != fv:
                continue
            self.used[i] += 1
            return d.get("reason", "(no reason given)")
        return None

    def unused(self, captures_run):
        for i, d in enumerate(self.diffs):
            if self.used[i]:
                continue
            if any(fnmatchcase(c, d.get("capture", "*")) for c in captures_run):
                yield d


# --------------------------------------------------------------------------- per capture
def find_captures(cdir):
    out = []
    for sub in SUBDIRS:
        base = os.path.join(cdir, sub)
        for dp, dns, fns in os.walk(base):
            dns.sort()
            for fn in fns:
                if is_capture(fn) and not fn.startswith("."):
                    full = os.path.join(dp, fn)
                    out.append((os.path.relpath(full, cdir), full))
    return sorted(out)


def check_capture(tap, args, expect, rel, full, floe_ok):
    reason = expect.skip(rel)
    if reason:
        tap.result(True, rel, skip=reason)
        return None
    ports = []
    if has_preface(full):
        ports, _tls, rc, err = run_tshark_prepass(full, args.timeout)
        if rc != 0:
            tap.result(False, "%s: tshark could not read it" % rel)
            tap.diag(err.strip())
            return None
    targs = []
    for p in ports:
        targs += ["-d", "tcp.port==%d,http2" % p]
    targs += expect.tshark_args(rel)
    conns, times, err, rc = tshark_dissect(full, targs, args.timeout)
    if rc != 0:
        tap.result(False, "%s: tshark failed (exit %d)" % (rel, rc))
        tap.diag(err.strip())
        return None
    has_http = any(c.h1 or c.h2 for c in conns.values())
    if times.get("tls") and not has_http:
        tap.result(True, rel, skip="TLS-encrypted: floe never decrypts (tshark needs the "
                   "key log to see HTTP in it)")
        return None
    if not floe_ok:
        tap.result(False, "%s: no floe binary" % rel)
        return None
    entries, bad, frc, ferr = run_floe(args.floe, full, args.timeout)
    rep = Report(rel, expect)
    rep.times = times
    if frc != 0:
        rep.diff("floe read", "exit status", 0, frc)
    for line in bad:
        rep.diff("floe read", "JSON line", "valid JSON", line[:200])
    counts = compare_capture(rel, conns, entries, rep)
    desc = "%s: %d requests, %d responses (HTTP/1), %d HTTP/2 streams, %d gRPC calls; " \
           "floe %d entries, %d fields compared" % (
               rel, counts["requests"], counts["responses"], counts["streams"], counts["grpc"],
               len(entries), rep.compared)
    if targs:
        desc += " [tshark %s]" % " ".join(targs)
    good = not rep.diffs
    tap.result(good, desc)
    if not good:
        tap.diag("%s: %d difference(s), %d fields compared" % (rel, len(rep.diffs),
                                                               rep.compared))
        shown = rep.diffs if args.verbose else rep.diffs[:args.max_diffs]
        for where, field, tv, fv in shown:
            tap.diag("  %s\n    %s: tshark %s | floe %s" % (where, field, q(tv), q(fv)))
        if len(shown) < len(rep.diffs):
            tap.diag("  ... %d more (-v shows all)" % (len(rep.diffs) - len(shown)))
        tap.diag("  floe read: " + ferr.strip().replace("\n", "\n  "))
    by_reason = {}
    for where, field, tv, fv, reason in rep.expected:
        by_reason.setdefault(reason, []).append((where, field, tv, fv))
    for reason, items in by_reason.items():
        tap.diag("  %d expected difference(s), because: %s" % (len(items), reason))
        for where, field, tv, fv in items[: (None if args.verbose else 3)]:
            tap.diag("    %s\n      %s: tshark %s | floe %s" % (where, field, q(tv), q(fv)))
        if len(items) > 3 and not args.verbose:
            tap.diag("    ... %d more (-v shows all)" % (len(items) - 3))
    for n in rep.notes[:5]:
        tap.diag("  note: " + n)
    return entries


# --------------------------------------------------------------------------- broken inputs
def pcap_records(data):
    """Byte offsets of packet records (start, end) in a pcap or pcapng file image."""
    out = []
    if len(data) < 24:
        return out
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                 b"\xa1\xb2\x3c\x4d"):
        le = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        fmt = "<I" if le else ">I"
        i = 24
        while i + 16 <= len(data):
            incl = struct.unpack(fmt, data[i + 8:i + 12])[0]
            end = i + 16 + incl
            if end > len(data):
                break
            out.append((i, end))
            i = end
    elif magic == b"\x0a\x0d\x0d\x0a":
        i = 0
        fmt = "<I"
        while i + 12 <= len(data):
            btype = data[i:i + 4]
            if btype == b"\x0a\x0d\x0d\x0a":
                bom = data[i + 8:i + 12]
                fmt = "<I" if bom == b"\x4d\x3c\x2b\x1a" else ">I"
            blen = struct.unpack(fmt, data[i + 4:i + 8])[0]
            if blen < 12 or i + blen > len(data):
                break
            t = struct.unpack(fmt, btype)[0]
            if t in (3, 6, 2):  # simple, enhanced, obsolete packet blocks
                out.append((i, i + blen))
            i += blen
    return out


def floe_read(floe, path, timeout):
    p = subprocess.run([floe, "read", path, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8",
                                                                              "replace")


def entry_lines(out):
    return [l for l in out.split("\n") if l.strip()]


def capture_image(full):
    """The capture's bytes (decompressed if it is gzip)."""
    with (gzip.open(full, "rb") if full.endswith(".gz") else open(full, "rb")) as f:
        return f.read()


def record_to_damage(tap, full, desc):
    """(image, (start, end)) of the capture and the packet record two thirds into it, or
    (None, None) after reporting a failure when it has too few records."""
    image = capture_image(full)
    recs = pcap_records(image)
    if len(recs) < 4:
        tap.result(False, desc + ": cannot find its packet records")
        return None, None
    return image, recs[(len(recs) * 2) // 3]


def damaged_vs_clean(args, bp, cp, where):
    """floe on the damaged file bp and on the clean cut cp (the same capture, cut where the
    damage starts): the same entries, the clean one read without error, a message naming bp.
    Returns (exit status, stderr, entry lines, problems) of the damaged file's run."""
    rc_b, out_b, err_b = floe_read(args.floe, bp, args.timeout)
    rc_c, out_c, err_c = floe_read(args.floe, cp, args.timeout)
    problems = []
    if rc_b < 0 or rc_b >= 126:
        problems.append("floe died (exit %d)" % rc_b)
    if bp not in err_b:
        problems.append("the message does not name the file")
    lb, lc = entry_lines(out_b), entry_lines(out_c)
    if not lc:
        problems.append("no entries before the %s (pick a capture with more entries)" % where)
    if lb != lc:
        problems.append("entries differ from the cleanly cut file's (%d vs %d lines)" % (
            len(lb), len(lc)))
        for x, y in zip(lb, lc):
            if x != y:
                problems.append("first different line: cut %s | clean %s" % (x[:300],
                                                                             y[:300]))
                break
    if rc_c != 0:
        problems.append("the cleanly cut file fails (exit %d): %s" % (rc_c, err_c.strip()))
    return rc_b, err_b, lb, problems


def report(tap, ok_desc, problems, err):
    tap.result(not problems, ok_desc)
    for p in problems:
        tap.diag("  " + p)
    if problems:
        tap.diag("  stderr: " + err.strip().replace("\n", "\n  "))


def write_pair(base, suffix, broken, clean):
    """The damaged and the clean file, as (damaged path, clean path)."""
    bp, cp = base + "-bad" + suffix, base + "-clean" + suffix
    for path, data in ((bp, broken), (cp, clean)):
        with open(path, "wb") as f:
            f.write(data)
    return bp, cp


def check_truncated(tap, args, tmp, rel, full, kind):
    """Cut a copy of the capture inside a packet record; floe must print exactly what it
    prints for the same file cut cleanly at that record's start, and say it is truncated."""
    desc = "floe read %s cut inside a packet record (%s)" % (kind, rel)
    image, rec = record_to_damage(tap, full, desc)
    if not image:
        return
    start, end = rec
    cut = start + max(1, (end - start) // 2)
    if kind == "gzip-stream":
        # a gzip file whose compressed stream stops in the middle (no trailer)
        comp = gzip.compress(image)
        cutc = len(comp) * 2 // 3
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        avail = d.decompress(comp[:cutc])
        recs2 = [r for r in pcap_records(avail)]
        clean_end = recs2[-1][1] if recs2 else 24
        broken, clean = comp[:cutc], gzip.compress(avail[:clean_end])
        suffix = ".pcap.gz"
    elif kind == "gzip":
        broken, clean = gzip.compress(image[:cut]), gzip.compress(image[:start])
        suffix = ".pcap.gz"
    else:
        broken, clean = image[:cut], image[:start]
        suffix = ".pcapng" if kind == "pcapng" else ".pcap"
    bp, cp = write_pair(os.path.join(tmp, "trunc-" + kind), suffix, broken, clean)
    rc_b, err_b, lb, problems = damaged_vs_clean(args, bp, cp, "cut")
    if "truncated" not in err_b.lower():
        problems.append("no message saying the file is truncated")
    report(tap, "%s: %d entries before the cut, exit %d" % (desc, len(lb), rc_b), problems, err_b)


def check_corrupt(tap, args, tmp, rel, full, kind):
    """Give a packet record two thirds into a copy of the capture a length no capture can hold
    (2 GiB: a pcap record's caplen, a pcapng block's total length). floe must print exactly
    what it prints for the file cut cleanly before that record, then fail (exit 1) with
    "corrupt record at offset N" (N: where the record starts, in the decompressed data for
    gzip), not take it for a truncated file."""
    desc = "floe read %s with a 2 GiB record length (%s)" % (kind, rel)
    image, rec = record_to_damage(tap, full, desc)
    if not image:
        return
    start = rec[0]
    # the length field: caplen at +8 in a pcap record, the block length at +4 in pcapng;
    # the byte order of the file's own header (pcap magic / pcapng byte-order magic)
    ng = image[:4] == b"\x0a\x0d\x0d\x0a"
    le = (image[8:12] == b"\x4d\x3c\x2b\x1a") if ng else \
        image[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    field = start + (4 if ng else 8)
    bad = bytearray(image)
    bad[field:field + 4] = struct.pack("<I" if le else ">I", 0x80000000)
    suffix = ".pcapng" if ng else ".pcap"
    broken, clean = bytes(bad), image[:start]
    if kind.startswith("gzip"):
        broken, clean, suffix = gzip.compress(broken), gzip.compress(clean), suffix + ".gz"
    bp, cp = write_pair(os.path.join(tmp, "corrupt-" + kind), suffix, broken, clean)
    rc_b, err_b, lb, problems = damaged_vs_clean(args, bp, cp, "damage")
    if rc_b != 1:
        problems.append("exit %d, not 1" % rc_b)
    want = "corrupt record at offset %d" % start
    if want not in err_b:
        problems.append("no message saying '%s'" % want)
    if "truncated" in err_b.lower():
        problems.append("the message calls it truncated")
    report(tap, "%s: %d entries before it, exit %d" % (desc, len(lb), rc_b), problems, err_b)


def check_bad_input(tap, args, path, desc, want_words):
    rc, out, err = floe_read(args.floe, path, args.timeout)
    problems = []
    if rc == 0:
        problems.append("exit status 0")
    if rc < 0 or rc >= 126:
        problems.append("floe died (exit %d)" % rc)
    if entry_lines(out):
        problems.append("printed %d lines on standard output" % len(entry_lines(out)))
    e = err.strip()
    if not e:
        problems.append("no message on standard error")
    elif path not in e:
        problems.append("the message does not name the file")
    if e and not any(w in e.lower() for w in want_words):
        problems.append("the message says none of %s" % (want_words,))
    if re.search(r":\s*Success\)?\s*$", e, re.M):
        problems.append("the message ends in 'Success' (an errno of 0 printed as the cause)")
    if len(e.splitlines()) > 3:
        problems.append("more than 3 lines of message")
    tap.result(not problems, "floe read %s: exit %d, %s" % (desc, rc, e.splitlines()[0]
                                                            if e else "(no message)"))
    for p in problems:
        tap.diag("  " + p)


def csum(b):
    """The Internet checksum (RFC 1071) of b: IPv4 headers, TCP with its pseudo-header."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def synth_pcap():
    """A small pcap (Ethernet/IPv4/TCP) with a few HTTP/1.1 exchanges, for when no capture
    is at hand."""
    recs = []
    t = 1700000000
    seq = {"c": 1000, "s": 5000}

    def pkt(d, flags, payload=b""):
        nonlocal t
        src, dst = (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02") if d == "c" else \
            (b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01")
        sp, dp = (40000, 80) if d == "c" else (80, 40000)
        o = "s" if d == "c" else "c"
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq[d], seq[o], 5 << 4, flags, 65535, 0, 0)
        ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        c = csum(ph + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0, 64, 6,
                         0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp + payload
        seq[d] += len(payload) + (1 if flags & 0x03 else 0)
        t += 1
        recs.append(struct.pack("<IIII", t, 0, len(frame), len(frame)) + frame)

    pkt("c", 0x02)
    pkt("s", 0x12)
    pkt("c", 0x10)
    for i in range(6):
        pkt("c", 0x18, b"GET /item/%d HTTP/1.1\r\nHost: example\r\n\r\n" % i)
        body = b"item %d\n" % i
        pkt("s", 0x18, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            b"%d\r\n\r\n%s" % (len(body), body))
    pkt("c", 0x11)
    pkt("s", 0x11)
    pkt("c", 0x10)
    hdr = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    return hdr + b"".join(recs)


def pcap_to_pcapng(image):
    """The same packets as a pcapng image (section header, one interface, enhanced packet
    blocks); image is a little-endian microsecond pcap such as synth_pcap() writes."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    linktype = struct.unpack("<I", image[20:24])[0]
    out = block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 65535))
    for start, end in pcap_records(image):
        sec, usec, incl, orig = struct.unpack("<IIII", image[start:start + 16])
        ts = sec * 1000000 + usec
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff, incl, orig) +
                     image[start + 16:end])
    return out


def check_errors(tap, args, captured):
    """floe read on broken inputs. captured: [(rel, full, number of floe entries)]."""
    tmp = tempfile.mkdtemp(prefix="floe-oracle-")
    try:
        def pick(pred):
            c = [x for x in captured if pred(x[0])]
            c.sort(key=lambda x: (-min(x[2], 50), x[0]))
            return c[0] if c and c[0][2] >= 3 else None

        synth = os.path.join(tmp, "synthetic-http.pcap")
        with open(synth, "wb") as f:
            f.write(synth_pcap())
        plain = pick(lambda r: r.endswith((".pcap", ".cap"))) or ("synthetic", synth, 0)
        ng = pick(lambda r: r.endswith(".pcapng"))
        gz = pick(lambda r: r.endswith(".gz"))
        check_truncated(tap, args, tmp, plain[0], plain[1], "pcap")
        if not ng:
            ngp = os.path.join(tmp, "synthetic-http.pcapng")
            with open(ngp, "wb") as f:
                f.write(pcap_to_pcapng(synth_pcap()))
            ng = ("synthetic", ngp, 0)
        check_truncated(tap, args, tmp, ng[0], ng[1], "pcapng")
        src = gz or plain
        check_truncated(tap, args, tmp, src[0], src[1], "gzip")
        check_truncated(tap, args, tmp, src[0], src[1], "gzip-stream")
        check_corrupt(tap, args, tmp, plain[0], plain[1], "pcap")
        check_corrupt(tap, args, tmp, ng[0], ng[1], "pcapng")
        check_corrupt(tap, args, tmp, src[0], src[1], "gzip")

        p = os.path.join(tmp, "notes.pcap")
        with open(p, "w") as f:
            f.write("This is a text file, not a packet capture.\n" * 40)
        check_bad_input(tap, args, p, "a text file named .pcap",
                        ["not a pcap", "not a capture", "unknown file format", "format"])
        p = os.path.join(tmp, "empty.pcap")
        open(p, "wb").close()
        check_bad_input(tap, args, p, "an empty file", ["empty", "not a pcap", "no data"])
        p = os.path.join(tmp, "header-only.pcap")
        with open(p, "wb") as f:
            f.write(synth_pcap()[:10])
        check_bad_input(tap, args, p, "a pcap cut inside its file header",
                        ["truncated", "not a pcap", "short"])
        p = os.path.join(tmp, "random.pcapng")
        with open(p, "wb") as f:
            f.write(b"\x0a\x0d\x0d\x0a" + os.urandom(0) + b"\xff" * 60)
        check_bad_input(tap, args, p, "a pcapng with a broken section header",
                        ["not a pcap", "corrupt", "invalid", "bad", "truncated", "format"])
        p = os.path.join(tmp, "garbage.pcap.gz")
        with open(p, "wb") as f:
            f.write(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"not deflate data" * 4)
        check_bad_input(tap, args, p, "a .gz that is not gzip data inside",
                        ["gzip", "not a pcap", "corrupt", "invalid", "compressed", "format"])
        p = os.path.join(tmp, "does-not-exist.pcap")
        check_bad_input(tap, args, p, "a missing file", ["no such file"])
        check_bad_input(tap, args, tmp, "a directory", ["directory", "not a pcap"])
    finally:
        if args.keep:
            tap.diag("temporary files kept in " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.environ.get("FLOE", os.path.join(ROOT, "build",
                                                                          "floe")))
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES") or
                    os.path.join(os.path.dirname(ROOT), "shared", "captures"))
    ap.add_argument("--expectations", default=os.path.join(HERE, "expectations.json"))
    ap.add_argument("--only", default=os.environ.get("ORACLE_ONLY", ""),
                    help="regex: only captures whose path (e.g. http1/get.pcap) matches")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per tshark/floe run")
    ap.add_argument("--max-diffs", type=int, default=25)
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("ORACLE_JOBS", "4")),
                    help="captures checked at once (default 4)")
    ap.add_argument("--no-errors", action="store_true", help="skip the broken-input tests")
    ap.add_argument("--keep", action="store_true", help="keep the temporary files")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    tap = Tap()
    expect = Expectations(args.expectations)
    floe_ok = os.access(args.floe, os.X_OK)
    if not floe_ok:
        tap.result(False, "floe binary %s exists (run make all)" % args.floe)
    tshark = shutil.which("tshark")
    captured = []
    ran = []
    if not os.path.isdir(args.captures):
        tap.result(True, "captures against tshark", skip="no captures directory %s "
                   "(set FLOE_CAPTURES)" % args.captures)
    elif not tshark:
        tap.result(True, "captures against tshark", skip="tshark not installed")
    else:
        caps = find_captures(args.captures)
        if args.only:
            caps = [c for c in caps if re.search(args.only, c[0])]
        if not caps:
            tap.result(True, "captures against tshark", skip="no captures under %s/{%s}" % (
                args.captures, ",".join(SUBDIRS)))
        def one(c):
            rec = Recorder()
            try:
                entries = check_capture(rec, args, expect, c[0], c[1], floe_ok)
            except subprocess.TimeoutExpired as e:
                rec.result(False, "%s: timed out (%s)" % (c[0], e.cmd[0]))
                entries = None
            return rec, entries

        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for (rel, full), (rec, entries) in zip(caps, pool.map(one, caps)):
                rec.replay(tap)
                ran.append(rel)
                if entries is not None:
                    captured.append((rel, full, len(entries)))
        for d in expect.unused(ran):
            tap.diag("note: expectation not needed any more (remove it?): %s" % q(d))
    if not args.no_errors:
        if floe_ok:
            check_errors(tap, args, captured)
        else:
            tap.result(False, "floe read on broken inputs: no floe binary")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
