#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for the Redis dissector: `floe read FILE --json` against tshark's RESP
dissector on the real captures in <captures>/redis (see SOURCES.md there).

For every capture, tshark dissects the file once (PDML) and floe once (JSON entries). Per
connection (matched by client and server address and port):

- Commands: every RESP array of bulk strings tshark shows from the client is one floe entry
  with a request, in order, and floe has no other: command (upper-cased; "CLIENT SETINFO"
  style for Redis' container commands), args, arg_count, keys where the oracle knows them,
  request_size (tshark's PDU size) and request_time (the frame of the first byte: for a
  PDU tshark reassembles, the frame where it showed the partial first).
- Inline commands: tshark shows each line as [fragment] (a tshark blind spot, SOURCES.md);
  the oracle takes the fragment's bytes (tshark's framing, tcp.payload) and splits them
  into words itself; floe must have the same command and args, marked inline.
- Replies: every top-level value tshark shows from the server is one reply of floe's, in
  order (an entry's response; a subscription command's entry holds one reply per channel;
  pushes are entries of their own): type (string, error, integer, bulk string, null,
  array), value (nested arrays element by element), length, response_size and
  response_time.

Known differences, where floe is right and tshark has no answer, are listed below with the
reason (EXPECTED) and printed as "# expected difference": they do not fail.

Output is TAP-like: "ok N - ..." / "not ok N - ...", "#" diagnostics, and the last line
"N passed, N failed". Exit status 1 when anything failed.

Usage: oracle_redis.py [--floe PATH] [--captures DIR] [-v]
Only the Python standard library is used (run with /usr/bin/python3).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")

# Redis commands whose second word names a subcommand (facts of Redis' COMMAND INFO).
CONTAINERS = {"ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY",
              "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO"}
# Where the first key is, for commands whose keys the oracle checks.
FIRST_KEY = {"GET": 1, "SET": 1, "INCR": 1, "DECR": 1, "LPUSH": 1, "RPUSH": 1, "LPOP": 1,
             "RPOP": 1, "SADD": 1, "SPOP": 1, "LRANGE": 1, "XADD": 1, "XRANGE": 1,
             "HSET": 1, "HGET": 1, "DEL": 1, "EXISTS": 1, "ZADD": 1, "MGET": 1}
SECRET_COMMANDS = {"AUTH", "HELLO", "MIGRATE", "CONFIG SET", "ACL SETUSER"}
REDACTED = "(redacted)"

# Differences where floe is right (or tshark has no answer), by kind.
EXPECTED = {
    "redacted": "floe never shows passwords (AUTH, HELLO AUTH, ...): tshark shows the "
                "argument, floe \"(redacted)\"",
    "resp3": "tshark 4.0's RESP dissector knows only RESP2 types: after HELLO 3 it shows "
             "RESP3 maps, sets and pushes as fragments and loose elements, so the "
             "server's messages of a RESP3 connection cannot be compared",
    "inline": "tshark shows inline commands as [fragment] (SOURCES.md): they are compared "
              "with the fragment's bytes, split into words by this oracle",
}


# The TAP printer and small helpers are the HTTP oracle's (oracle.py, next to this file).
sys.path.insert(0, HERE)
from oracle import Tap, norm_ip, q, rfc3339  # noqa: E402


def text(b):
    """Bytes as floe shows text: valid UTF-8 kept, each invalid byte (and NUL) U+FFFD."""
    out, i = [], 0
    while i < len(b):
        for n in (1, 2, 3, 4):
            try:
                ch = b[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if ch == "\0":
                break
            out.append(ch)
            i += n
            break
        else:
            out.append("\ufffd")
            i += 1
            continue
        if ch == "\0":
            out.append("\ufffd")
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- tshark side
class Msg:
    """One top-level RESP value tshark showed: kind and value, its frame and size."""

    def __init__(self, frame, time, src, dst, size, value):
        self.frame, self.time, self.src, self.dst = frame, time, src, dst
        self.size, self.value = size, value


def has_partial(el):
    return any(f.get("name") == "resp.reassembled_in_next_frame" for f in el.iter("field"))


def convert(el, payload, payload_pos):
    """A PDML RESP field as ('str', s) / ('err', s) / ('int', n) / ('bulk', b) / ('null',)
    / ('array', [...]) / ('frag', bytes)."""
    name = el.get("name")
    kids = [k for k in el if k.tag == "field" and k.get("name") != "_ws.expert"]
    if name == "resp.string":
        return ("str", el.get("show"))
    if name == "resp.error":
        return ("err", el.get("show"))
    if name == "resp.integer":
        return ("int", int(el.get("show")))
    if name == "resp.bulk_string":
        length = value = None
        for k in kids:
            if k.get("name") == "resp.bulk_string.length":
                length = int(k.get("show"))
            elif k.get("name") == "resp.bulk_string.value":
                value = bytes.fromhex(k.get("value") or "")
        if length is not None and length < 0:
            return ("null",)
        return ("bulk", value or b"")
    if name == "resp.array":
        items = []
        for k in kids:
            if k.get("name") == "resp.array.length":
                if int(k.get("show")) < 0:
                    return ("null",)
                continue
            items.append(convert(k, payload, payload_pos))
        return ("array", items)
    if name == "resp.fragment":
        pos, size = int(el.get("pos")), int(el.get("size"))
        if payload is None:
            return ("frag", None)
        return ("frag", payload[pos - payload_pos:pos - payload_pos + size])
    return ("unknown", name)


def tshark_messages(path):
    """Every top-level RESP value of the file, in frame order, and the first-byte time of
    PDUs tshark reassembled (by frame of the complete PDU)."""
    cmd = ["tshark", "-r", path, "-T", "pdml", "-Y", "resp"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise RuntimeError("tshark failed: %s" % p.stderr.decode(errors="replace")[:300])
    root = ET.fromstring(p.stdout)
    msgs, started = [], {}
    for pkt in root.iter("packet"):
        frame = time = None
        src = dst = sport = dport = None
        payload, payload_pos = None, 0
        resps = []
        for proto in pkt.findall("proto"):
            pname = proto.get("name")
            if pname == "geninfo":
                for f in proto:
                    if f.get("name") == "num":
                        frame = int(f.get("show"))
                    elif f.get("name") == "timestamp":
                        time = f.get("value")
            elif pname in ("ip", "ipv6"):
                for f in proto:
                    if f.get("name") in ("ip.src", "ipv6.src"):
                        src = norm_ip(f.get("show"))
                    elif f.get("name") in ("ip.dst", "ipv6.dst"):
                        dst = norm_ip(f.get("show"))
            elif pname == "tcp":
                for f in proto.iter("field"):
                    if f.get("name") == "tcp.srcport":
                        sport = int(f.get("show"))
                    elif f.get("name") == "tcp.dstport":
                        dport = int(f.get("show"))
                    elif f.get("name") == "tcp.payload":
                        payload = bytes.fromhex(f.get("value") or "")
                        payload_pos = int(f.get("pos"))
            elif pname == "resp":
                resps.append(proto)
        s, d = (src, sport), (dst, dport)
        for proto in resps:
            for el in proto:
                if el.tag != "field" or el.get("name") == "_ws.expert":
                    continue
                if has_partial(el):
                    started.setdefault((s, d), time)
                    continue
                t = started.pop((s, d), time)
                msgs.append(Msg(frame, t, s, d, int(el.get("size")),
                                convert(el, payload, payload_pos)))
    return msgs


# --------------------------------------------------------------------------- floe side
def floe_entries(floe, path):
    p = subprocess.run([floe, "read", path, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise RuntimeError("floe read failed (%d): %s" % (p.returncode,
                                                          p.stderr.decode(errors="replace")))
    out = []
    for line in p.stdout.decode().split("\n"):
        if line.strip():
            out.append(json.loads(line))
    return out, p.stderr.decode(errors="replace").strip()


def ep(e):
    return (norm_ip(e["ip"]), e["port"])


# --------------------------------------------------------------------------- comparison
class Check:
    def __init__(self, name):
        self.name = name
        self.problems = []
        self.expected = {}
        self.counts = {"commands": 0, "inline": 0, "replies": 0, "pushes": 0}

    def diff(self, where, field, tshark, floe):
        self.problems.append("%s: %s: tshark %s, floe %s" % (where, field, q(tshark), q(floe)))

    def expect(self, kind, where):
        self.expected.setdefault(kind, []).append(where)


ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("a"): b"\a"}
HEX = b"0123456789abcdefABCDEF"


def inline_words(line):
    """An inline command's words by Redis' rules (blanks separate; "..." with \\n \\r \\t
    \\b \\a \\xHH escapes; '...' with \\' only); None when the quotes do not balance."""
    b = line.rstrip(b"\r\n")
    words, i, n = [], 0, len(b)
    while True:
        while i < n and b[i:i + 1] in (b" ", b"\t", b"\r", b"\v", b"\f"):
            i += 1
        if i == n:
            return words
        cur, dq, sq = bytearray(), False, False
        while True:
            c = b[i:i + 1]
            if dq:
                if i == n:
                    return None
                if c == b"\\" and b[i + 1:i + 2] == b"x" and len(b[i + 2:i + 4]) == 2 and \
                        all(x in HEX for x in b[i + 2:i + 4]):
                    cur.append(int(b[i + 2:i + 4], 16))
                    i += 4
                elif c == b"\\" and i + 1 < n:
                    cur += ESCAPES.get(b[i + 1], b[i + 1:i + 2])
                    i += 2
                elif c == b'"':
                    if i + 1 < n and b[i + 1:i + 2] not in (b" ", b"\t"):
                        return None
                    i += 1
                    break
                else:
                    cur += c
                    i += 1
            elif sq:
                if i == n:
                    return None
                if c == b"\\" and b[i + 1:i + 2] == b"'":
                    cur += b"'"
                    i += 2
                elif c == b"'":
                    if i + 1 < n and b[i + 1:i + 2] not in (b" ", b"\t"):
                        return None
                    i += 1
                    break
                else:
                    cur += c
                    i += 1
            elif i == n or c in (b" ", b"\t", b"\r", b"\v", b"\f"):
                break
            elif c == b'"':
                dq = True
                i += 1
            elif c == b"'":
                sq = True
                i += 1
            else:
                cur += c
                i += 1
        words.append(bytes(cur))


def compare_request(ck, where, m, e):
    req = e.get("request") or {}
    kind, val = m.value[0], m.value[1] if len(m.value) > 1 else None
    if kind == "frag":
        words = inline_words(val or b"")
        ck.expect("inline", where)
        if words is None:
            if req.get("command") is not None:
                ck.diff(where, "request.command", None, req.get("command"))
            return
        ck.counts["inline"] += 1
        if not req.get("inline"):
            ck.diff(where, "request.inline", True, req.get("inline"))
    elif kind == "array" and all(x[0] == "bulk" for x in val):
        words = [x[1] for x in val]
        ck.counts["commands"] += 1
    else:
        ck.diff(where, "request", "a RESP array of bulk strings", kind)
        return
    if not words:
        ck.diff(where, "request", "a command", "an empty one")
        return
    cmd = text(words[0]).upper()
    nwords = 1
    if cmd in CONTAINERS and len(words) > 1:
        cmd += " " + text(words[1]).upper()
        nwords = 2
    if req.get("command") != cmd:
        ck.diff(where, "request.command", cmd, req.get("command"))
        return
    args = [text(w) for w in words[nwords:]]
    if req.get("arg_count") != len(args):
        ck.diff(where, "request.arg_count", len(args), req.get("arg_count"))
    fargs = req.get("args", [])
    if req.get("args_truncated"):
        args = args[:len(fargs)]
    for i, (a, b) in enumerate(zip(args, fargs)):
        if a == b or (req.get("args_truncated") and a.startswith(b)):
            continue
        if b == REDACTED and cmd in SECRET_COMMANDS:
            ck.expect("redacted", "%s args[%d]" % (where, i))
            continue
        ck.diff(where, "request.args[%d]" % i, a, b)
    if len(fargs) != len(args):
        ck.diff(where, "request.args (count)", len(args), len(fargs))
    if cmd in FIRST_KEY and len(words) > FIRST_KEY[cmd]:
        key = text(words[FIRST_KEY[cmd]])
        if (req.get("keys") or [None])[0] != key:
            ck.diff(where, "request.keys[0]", key, (req.get("keys") or [None])[0])
    if e.get("request_size") != m.size:
        ck.diff(where, "request_size", m.size, e.get("request_size"))
    if e.get("request_time") != rfc3339(m.time):
        ck.diff(where, "request_time", rfc3339(m.time), e.get("request_time"))


def value_matches(tv, fv, ftype=None):
    """tshark's value tv (a tuple) against floe's JSON value fv."""
    kind = tv[0]
    if kind == "str":
        return fv == tv[1]
    if kind == "err":
        return fv == {"error": tv[1]}
    if kind == "int":
        return fv == tv[1]
    if kind == "bulk":
        return fv == text(tv[1])
    if kind == "null":
        return fv is None
    if kind == "array":
        if not isinstance(fv, list) or len(fv) > len(tv[1]):
            return False
        return all(value_matches(a, b) for a, b in zip(tv[1], fv))
    return False


TYPE_OF = {"str": "simple_string", "err": "error", "int": "integer", "bulk": "bulk_string",
           "null": "null", "array": "array"}


def compare_reply(ck, where, m, r):
    """m: tshark's message; r: floe's reply {type, value, error, length, truncated,
    size, time} (size/time None when floe has them only for several replies together)."""
    kind = m.value[0]
    want = TYPE_OF.get(kind)
    if r["type"] != want and not (kind == "array" and r["type"] == "push"):
        ck.diff(where, "response.type", want, r["type"])
        return
    if kind == "err":
        if r.get("error") != m.value[1]:
            ck.diff(where, "response.error", m.value[1], r.get("error"))
    elif kind == "array":
        fv = r.get("value")
        if r.get("length") is not None and r["length"] != len(m.value[1]):
            ck.diff(where, "response.length", len(m.value[1]), r["length"])
        if not value_matches(m.value, fv):
            ck.diff(where, "response.value", [list(x) for x in m.value[1]][:20], fv)
        elif len(fv) != len(m.value[1]) and not r.get("truncated"):
            ck.diff(where, "response.value (elements)", len(m.value[1]), len(fv))
    elif not value_matches(m.value, r.get("value")):
        ck.diff(where, "response.value", m.value[1] if len(m.value) > 1 else None,
                r.get("value"))
    if kind == "bulk" and r.get("length") != len(m.value[1]):
        ck.diff(where, "response.length", len(m.value[1]), r.get("length"))
    if r["size"] is not None and r["size"] != m.size:
        ck.diff(where, "response_size", m.size, r["size"])
    if r["time"] is not None and r["time"] != rfc3339(m.time):
        ck.diff(where, "response_time", rfc3339(m.time), r["time"])


def floe_replies(entries):
    """Floe's replies of one connection in order: each entry's response, a subscription
    command's confirmations one by one."""
    out = []
    for i, e in sorted(enumerate(entries), key=lambda p: (p[1].get("response_time", ""), p[0])):
        resp = e.get("response")
        if not resp:
            continue
        if "replies" in resp:
            vals = resp.get("value") or []
            for j, v in enumerate(vals):
                out.append({"type": resp["type"], "value": v, "length": len(v),
                            "size": e["response_size"] if len(vals) == 1 else None,
                            "time": e.get("response_time") if j == 0 else None, "entry": e})
            continue
        out.append({"type": resp.get("type"), "value": resp.get("value"),
                    "error": resp.get("error"), "length": resp.get("length"),
                    "truncated": resp.get("truncated"), "size": e.get("response_size"),
                    "time": e.get("response_time"), "entry": e})
    return out


def check_capture(path, floe, tap, verbose):
    name = os.path.relpath(path)
    msgs = tshark_messages(path)
    entries, floe_err = floe_entries(floe, path)
    ck = Check(name)
    conns = {}
    for e in entries:
        if e.get("protocol") != "redis":
            ck.problems.append("entry %s: protocol %s" % (e.get("id"), e.get("protocol")))
            continue
        conns.setdefault((ep(e["src"]), ep(e["dst"])), []).append(e)
    tconns = {}
    for m in msgs:
        key = (m.src, m.dst) if (m.src, m.dst) in conns else (m.dst, m.src)
        tconns.setdefault(key, []).append(m)
    for key in sorted(set(conns) | set(tconns), key=str):
        client, server = key
        cname = "%s:%d -> %s:%d" % (client[0], client[1], server[0], server[1])
        fe = conns.get(key, [])
        tm = tconns.get(key, [])
        if not fe:
            ck.problems.append("%s: tshark has %d messages, floe no entry" % (cname, len(tm)))
            continue
        treq = [m for m in tm if m.src == client and not (m.value[0] == "frag" and
                                                           not inline_words(m.value[1] or b""))]
        trep = [m for m in tm if m.src == server]
        freq = [e for _, e in sorted(enumerate(fe), key=lambda p: (p[1].get("request_time", ""),
                                                                     p[0])) if "request" in e]
        if len(treq) != len(freq):
            ck.diff(cname, "commands", len(treq), len(freq))
        for i, (m, e) in enumerate(zip(treq, freq)):
            compare_request(ck, "%s command %d (frame %d)" % (cname, i + 1, m.frame), m, e)
        ck.counts["pushes"] += sum(1 for e in fe if "push" in e)
        for e in fe:
            if e.get("missing"):
                ck.problems.append("%s: entry %s is missing its %s (%s)" % (
                    cname, e["id"], e["missing"], e.get("missing_reason")))
        if any(e.get("version") == "3" for e in fe):
            ck.expect("resp3", "%s: %d server messages" % (cname, len(trep)))
            continue
        frep = floe_replies(fe)
        if len(trep) != len(frep):
            ck.diff(cname, "replies", len(trep), len(frep))
        for i, (m, r) in enumerate(zip(trep, frep)):
            compare_reply(ck, "%s reply %d (frame %d, entry %s)" % (cname, i + 1, m.frame,
                                                                   r["entry"]["id"]), m, r)
            ck.counts["replies"] += 1
    desc = "%s: %d commands, %d inline, %d replies, %d pushes in %d connections" % (
        name, ck.counts["commands"], ck.counts["inline"], ck.counts["replies"],
        ck.counts["pushes"], len(conns))
    tap.result(not ck.problems, desc)
    for kind, where in sorted(ck.expected.items()):
        tap.diag("expected difference (%d): %s" % (len(where), EXPECTED[kind]))
        if verbose:
            for w in where[:10]:
                tap.diag("  " + w)
    for p in ck.problems[:40]:
        tap.diag("  " + p)
    if len(ck.problems) > 40:
        tap.diag("  ... %d more" % (len(ck.problems) - 40))
    if verbose and floe_err:
        tap.diag(floe_err)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get(
        "FLOE_CAPTURES", os.path.join(os.path.dirname(ROOT), "shared", "captures")))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    tap = Tap()
    d = os.path.join(args.captures, "redis")
    files = []
    if os.path.isdir(d):
        for top, _, names in os.walk(d):
            files += [os.path.join(top, n) for n in names if n.endswith(CAPTURE_EXT)]
    if not shutil.which("tshark"):
        tap.result(True, "redis captures against tshark", skip="tshark is not installed")
    elif not files:
        tap.result(True, "redis captures against tshark", skip="no captures in %s" % d)
    elif not os.access(args.floe, os.X_OK):
        tap.result(False, "floe binary %s exists (make build/floe)" % args.floe)
    else:
        for f in sorted(files):
            try:
                check_capture(f, args.floe, tap, args.verbose)
            except (RuntimeError, ValueError, ET.ParseError) as err:
                tap.result(False, "%s: %s" % (os.path.relpath(f), err))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
