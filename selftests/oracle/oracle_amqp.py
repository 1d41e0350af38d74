#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for AMQP 0-9-1: `floe read FILE --json` against tshark on real captures.

For every capture under $FLOE_CAPTURES/amqp (default ../shared/captures next to the
repository; walked recursively; see SOURCES.md there) tshark dissects the file into PDML and
floe into JSON entries. Every AMQP method frame tshark shows must be in floe's entries (as an
entry's request, its response, or a Basic.Get's "ack") with the same class.method, channel,
sender (client or server) and arguments (strings, numbers, bits, field tables); the content
that follows Basic.Publish / Deliver / Return / Get-Ok must match (body size from the content
header, the body bytes floe kept, every property, the headers table); and floe must show no
method frame tshark does not. floe's frame counters (method, header, body frames,
heartbeats) must equal tshark's counts, and floe must report no parse error.

Known differences, each with the reason floe is right (not counted as failures, printed as
"# expected difference"):
  - the SASL response of Connection.Start-Ok: floe shows the user name and the response's
    size, never the password; tshark shows the raw bytes (compared as response_size);
  - reserved arguments (ticket, Connection.Open's capabilities and insist, Channel.Open's
    out_of_band, Open-Ok's known_hosts / channel_id) are not shown by floe.
Files tshark only sees as TLS (amqps.pcapng) are skipped: floe never decrypts.

Output: TAP-like lines "ok N - ..." / "not ok N - ...", "#" diagnostics, and a last line
"N passed, N failed". Exit status 1 when anything failed.
Usage: oracle_amqp.py [--floe PATH] [--captures DIR] [-v]
Only the Python standard library is used (run with /usr/bin/python3).
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import Tap, hexbytes, q  # noqa: E402  (shared with the HTTP oracle)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")

# AMQP 0-9-1 class and method names (the spec's, as floe and tshark print them).
CLASSES = {10: "Connection", 20: "Channel", 30: "Access", 40: "Exchange", 50: "Queue",
           60: "Basic", 85: "Confirm", 90: "Tx"}
METHODS = {
    (10, 10): "Start", (10, 11): "Start-Ok", (10, 20): "Secure", (10, 21): "Secure-Ok",
    (10, 30): "Tune", (10, 31): "Tune-Ok", (10, 40): "Open", (10, 41): "Open-Ok",
    (10, 50): "Close", (10, 51): "Close-Ok", (10, 60): "Blocked", (10, 61): "Unblocked",
    (10, 70): "Update-Secret", (10, 71): "Update-Secret-Ok",
    (20, 10): "Open", (20, 11): "Open-Ok", (20, 20): "Flow", (20, 21): "Flow-Ok",
    (20, 40): "Close", (20, 41): "Close-Ok", (30, 10): "Request", (30, 11): "Request-Ok",
    (40, 10): "Declare", (40, 11): "Declare-Ok", (40, 20): "Delete", (40, 21): "Delete-Ok",
    (40, 30): "Bind", (40, 31): "Bind-Ok", (40, 40): "Unbind", (40, 51): "Unbind-Ok",
    (50, 10): "Declare", (50, 11): "Declare-Ok", (50, 20): "Bind", (50, 21): "Bind-Ok",
    (50, 30): "Purge", (50, 31): "Purge-Ok", (50, 40): "Delete", (50, 41): "Delete-Ok",
    (50, 50): "Unbind", (50, 51): "Unbind-Ok",
    (60, 10): "Qos", (60, 11): "Qos-Ok", (60, 20): "Consume", (60, 21): "Consume-Ok",
    (60, 30): "Cancel", (60, 31): "Cancel-Ok", (60, 40): "Publish", (60, 50): "Return",
    (60, 60): "Deliver", (60, 70): "Get", (60, 71): "Get-Ok", (60, 72): "Get-Empty",
    (60, 80): "Ack", (60, 90): "Reject", (60, 100): "Recover-Async", (60, 110): "Recover",
    (60, 111): "Recover-Ok", (60, 120): "Nack",
    (85, 10): "Select", (85, 11): "Select-Ok",
    (90, 10): "Select", (90, 11): "Select-Ok", (90, 20): "Commit", (90, 21): "Commit-Ok",
    (90, 30): "Rollback", (90, 31): "Rollback-Ok",
}
CONTENT_METHODS = {(60, 40), (60, 50), (60, 60), (60, 71)}
SERVER_ONLY = {(10, 10), (10, 20), (10, 30), (10, 41), (60, 60), (60, 50), (60, 71), (60, 72)}

# tshark's method argument -> (floe key, kind); None: floe does not show it (reserved).
ARGS = {
    "version_major": ("version_major", "int"), "version_minor": ("version_minor", "int"),
    "server_properties": ("server_properties", "table"),
    "client_properties": ("client_properties", "table"),
    "mechanisms": ("mechanisms", "bytes"), "locales": ("locales", "bytes"),
    "mechanism": ("mechanism", "str"), "locale": ("locale", "str"),
    "response": ("response_size", "size"), "challenge": ("challenge_size", "size"),
    "channel_max": ("channel_max", "int"), "frame_max": ("frame_max", "int"),
    "heartbeat": ("heartbeat", "int"), "virtual_host": ("virtual_host", "str"),
    "reply_code": ("reply_code", "int"), "reply_text": ("reply_text", "str"),
    "class_id": ("class_id", "int"), "method_id": ("method_id", "int"),
    "reason": ("reason", "str"), "realm": ("realm", "str"),
    "exchange": ("exchange", "str"), "type": ("type", "str"),
    "routing_key": ("routing_key", "str"), "queue": ("queue", "str"),
    "destination": ("destination", "str"), "source": ("source", "str"),
    "message_count": ("message_count", "int"), "consumer_count": ("consumer_count", "int"),
    "prefetch_size": ("prefetch_size", "int"), "prefetch_count": ("prefetch_count", "int"),
    "consumer_tag": ("consumer_tag", "str"), "delivery_tag": ("delivery_tag", "int"),
    "arguments": ("arguments", "table"), "filter": ("arguments", "table"),
    "publish_number": None,
    "passive": ("flags.passive", "bool"), "durable": ("flags.durable", "bool"),
    "auto_delete": ("flags.auto_delete", "bool"), "internal": ("flags.internal", "bool"),
    "nowait": ("flags.no_wait", "bool"), "exclusive": ("flags.exclusive", "bool"),
    "if_unused": ("flags.if_unused", "bool"), "if_empty": ("flags.if_empty", "bool"),
    "global": ("flags.global", "bool"), "no_local": ("flags.no_local", "bool"),
    "no_ack": ("flags.no_ack", "bool"), "mandatory": ("flags.mandatory", "bool"),
    "immediate": ("flags.immediate", "bool"), "redelivered": ("flags.redelivered", "bool"),
    "multiple": ("flags.multiple", "bool"), "requeue": ("flags.requeue", "bool"),
    "active": ("flags.active", "bool"), "write": ("flags.write", "bool"),
    "read": ("flags.read", "bool"),
    "ticket": None, "capabilities": None, "insist": None, "known_hosts": None,
    "known_hosts_bytes": None, "out_of_band": None, "channel_id": None,
    "cluster_id": None,
}
PROPS = {
    "content_type": "str", "content_encoding": "str", "headers": "table",
    "delivery_mode": "int", "priority": "int", "correlation_id": "str", "reply_to": "str",
    "expiration": "str", "message_id": "str", "timestamp": "time", "type": "str",
    "user_id": "str", "app_id": "str", "cluster_id": "str",
}
EXPECTED = [
    ("Connection.Start-Ok response", "floe shows the SASL user and the response size, never "
     "the password (tshark: the raw bytes)"),
    ("reserved arguments", "ticket, capabilities, insist, out_of_band, known_hosts, "
     "channel_id are reserved in 0-9-1 and not shown by floe"),
    ("publish_number", "tshark numbers Basic.Publish frames itself (not on the wire); floe "
     "numbers them only on channels in confirm mode (request.publish_seq)"),
]


# --------------------------------------------------------------------------- tshark side
def field_value(el):
    """A PDML field's bytes (from value, without the short or long string length tshark
    includes for some fields), else its show text as bytes."""
    b = hexbytes(el.get("value"))
    if b is None or not el.get("value"):
        return (el.get("show") or "").encode("utf-8", "surrogateescape")
    if int(el.get("size") or 0) == len(b):
        if len(b) >= 1 and b[0] == len(b) - 1:
            return b[1:]
        if len(b) >= 4 and int.from_bytes(b[:4], "big") == len(b) - 4:
            return b[4:]
    return b


TABLE_ITEM = re.compile(r"^(.*?) \(([a-z ]+)\)(?:: (.*))?$", re.S)


def parse_table(el):
    """tshark's field table (amqp.field children, showname "key (type): value") as a dict
    key -> (type, value or nested dict/list)."""
    out = {}
    for ch in el:
        if ch.get("name") != "amqp.field":
            continue
        m = TABLE_ITEM.match(ch.get("showname") or "")
        if not m:
            continue
        key, typ, val = m.group(1), m.group(2), m.group(3)
        if typ == "field table":
            out[key] = ("table", parse_table(ch))
        elif typ == "field array" or typ == "array":
            out[key] = ("array", [parse_table_value(c) for c in ch if c.get("name") == "amqp.field"])
        else:
            out[key] = (typ, val)
    return out


def parse_table_value(el):
    m = TABLE_ITEM.match(el.get("showname") or "")
    if not m:
        return ("?", el.get("showname"))
    typ, val = m.group(2), m.group(3)
    if typ == "field table":
        return ("table", parse_table(el))
    return (typ, val)


def tshark_frames(path, tshark):
    """Every AMQP frame of the capture, in order."""
    r = subprocess.run([tshark, "-r", path, "-Y", "amqp", "-T", "pdml"], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("tshark failed: %s" % r.stderr.decode(errors="replace")[:300])
    root = ET.fromstring(r.stdout)
    frames = []
    for pkt in root.iter("packet"):
        info = {}
        for proto in pkt:
            name = proto.get("name")
            if name == "geninfo":
                for f in proto:
                    if f.get("name") == "num":
                        info["frame"] = int(f.get("show"))
                    if f.get("name") == "timestamp":
                        info["time"] = f.get("value")
            elif name in ("ip", "ipv6"):
                for f in proto:
                    if f.get("name") in ("ip.src", "ipv6.src"):
                        info["sip"] = f.get("show")
                    if f.get("name") in ("ip.dst", "ipv6.dst"):
                        info["dip"] = f.get("show")
            elif name == "tcp":
                for f in proto:
                    if f.get("name") == "tcp.srcport":
                        info["sport"] = int(f.get("show"))
                    if f.get("name") == "tcp.dstport":
                        info["dport"] = int(f.get("show"))
            elif name == "amqp":
                fr = dict(info)
                fr["src"] = (fr.get("sip"), fr.get("sport"))
                fr["dst"] = (fr.get("dip"), fr.get("dport"))
                fr["args"], fr["tables"], fr["props"], fr["ptables"] = {}, {}, {}, {}
                for f in proto.iter("field"):
                    n = f.get("name")
                    if n == "amqp.type":
                        fr["type"] = int(f.get("show"))
                    elif n == "amqp.channel":
                        fr["channel"] = int(f.get("show"))
                    elif n == "amqp.length":
                        fr["length"] = int(f.get("show"))
                    elif n == "amqp.method.class":
                        fr["class"] = int(f.get("show"))
                    elif n == "amqp.method.method":
                        fr["method"] = int(f.get("show"))
                    elif n == "amqp.header.body-size":
                        fr["body_size"] = int(f.get("show"))
                    elif n == "amqp.payload":
                        fr["payload"] = field_value(f)
                    elif n.startswith("amqp.method.arguments."):
                        key = n[len("amqp.method.arguments."):]
                        if key in ("server_properties", "client_properties", "arguments",
                                   "filter"):
                            fr["tables"][key] = parse_table(f)
                        else:
                            fr["args"][key] = f
                    elif n.startswith("amqp.method.properties."):
                        key = n[len("amqp.method.properties."):]
                        if key == "headers":
                            fr["ptables"][key] = parse_table(f)
                        else:
                            fr["props"][key] = f
                    elif n == "amqp.init.protocol":
                        fr["type"] = "init"
                if "type" in fr:
                    frames.append(fr)
    return frames


def conn_key(a, b):
    return tuple(sorted([a, b], key=lambda e: (str(e[0]), e[1] or 0)))


def server_side(frames):
    """conn -> the server endpoint (port 5672/5671, else who sends server-only methods, else
    the lower port)."""
    out = {}
    for fr in frames:
        k = conn_key(fr["src"], fr["dst"])
        if k in out:
            continue
        for e in k:
            if e[1] in (5672, 5671):
                out[k] = e
    for fr in frames:
        k = conn_key(fr["src"], fr["dst"])
        if k not in out and fr.get("type") == 1 and (fr.get("class"), fr.get("method")) in SERVER_ONLY:
            out[k] = fr["src"]
    for fr in frames:
        k = conn_key(fr["src"], fr["dst"])
        if k not in out:
            out[k] = min(k, key=lambda e: e[1] or 0)
    return out


# --------------------------------------------------------------------------- floe side
def floe_read(floe, path):
    r = subprocess.run([floe, "read", path, "--json"], capture_output=True)
    entries = [json.loads(line) for line in r.stdout.decode("utf-8", "replace").split("\n")
               if line.strip()]
    return r.returncode, entries, r.stderr.decode("utf-8", "replace")


def jpath(o, path):
    for k in path.split("."):
        if not isinstance(o, dict) or k not in o:
            return None
        o = o[k]
    return o


def floe_occurrences(entries):
    """Each method frame floe shows: (conn, sender, channel, method) -> [(time, idx, obj, entry)].
    A Channel/Connection.Close shown as the response of the request it failed is the same
    frame as its own entry's request: counted once. A multiple ack settling several
    deliveries is one frame."""
    occ = {}
    seen_multi = set()
    for idx, e in enumerate(entries):
        if e.get("protocol") != "amqp":
            continue
        conn = conn_key((e["src"]["ip"], e["src"]["port"]), (e["dst"]["ip"], e["dst"]["port"]))
        req, resp, ack = e.get("request"), e.get("response"), e.get("ack")
        halves = []
        if req:
            halves.append((req, e.get("request_time")))
        if resp:
            rm, qm = resp.get("method"), (req or {}).get("method")
            if rm in ("Channel.Close", "Connection.Close") and qm not in ("Channel.Close",
                                                                        "Connection.Close"):
                pass
            else:
                halves.append((resp, e.get("response_time")))
        if ack:
            halves.append((ack, ack.get("time")))
        for h, t in halves:
            m = h.get("method")
            if m == "Protocol-Header":
                continue
            if m in ("Basic.Ack", "Basic.Nack") and jpath(h, "flags.multiple"):
                key = (conn, h.get("sender"), h.get("channel"), m, h.get("delivery_tag"), t)
                if key in seen_multi:
                    continue
                seen_multi.add(key)
            occ.setdefault((conn, h.get("sender"), h.get("channel"), m), []).append(
                (t or "", idx, h, e))
    for v in occ.values():
        v.sort(key=lambda x: (x[0], x[1]))
    return occ


# --------------------------------------------------------------------------- comparison
def cmp_scalar(kind, tval, fval):
    """(equal?, tshark value as shown)."""
    if kind == "int":
        try:
            return int(tval) == fval, int(tval)
        except (TypeError, ValueError):
            return False, tval
    if kind == "bool":
        tb = tval in ("1", "True", "true")
        return bool(fval) == tb, tb
    return tval == fval, tval


def cmp_table(ttab, ftab, where, diffs):
    if not isinstance(ftab, dict):
        diffs.append("%s: tshark has a table, floe %s" % (where, q(ftab)))
        return
    for key, (typ, val) in ttab.items():
        if key not in ftab:
            diffs.append("%s.%s: tshark %s, floe has no such key" % (where, key, q(val)))
            continue
        fv = ftab[key]
        w = "%s.%s" % (where, key)
        if typ == "table":
            cmp_table(val, fv, w, diffs)
        elif typ == "array":
            if not isinstance(fv, list) or len(fv) != len(val):
                diffs.append("%s: tshark array of %d, floe %s" % (w, len(val), q(fv)))
        elif typ == "boolean":
            if bool(fv) != (val == "true"):
                diffs.append("%s: tshark %s, floe %s" % (w, val, q(fv)))
        elif typ == "string":
            if fv != val:
                diffs.append("%s: tshark %s, floe %s" % (w, q(val), q(fv)))
        elif typ in ("integer", "long int", "short int", "long long int", "short short int",
                     "unsigned integer", "long uint", "short uint", "short short uint",
                     "long long uint", "timestamp", "byte", "unsigned byte"):
            try:
                if int(val) != fv:
                    diffs.append("%s: tshark %s, floe %s" % (w, val, q(fv)))
            except (TypeError, ValueError):
                pass  # tshark shows some types as text (dates): presence is enough
    for key in ftab:
        if key not in ttab:
            diffs.append("%s.%s: floe %s, tshark has no such key" % (where, key, q(ftab[key])))


def cmp_method(fr, obj, where, diffs, expected):
    for key, el in fr["args"].items():
        spec = ARGS.get(key, "unknown")
        if spec is None:
            expected.add("publish_number" if key == "publish_number" else "reserved arguments")
            continue
        if spec == "unknown":
            diffs.append("%s: tshark argument %s=%s unknown to the oracle" % (where, key, el.get("show")))
            continue
        fkey, kind = spec
        fval = jpath(obj, fkey)
        if kind == "size":
            tb = field_value(el)
            if key == "response":
                expected.add("Connection.Start-Ok response")
            if fval != len(tb):
                diffs.append("%s: %s: tshark %d bytes, floe %s" % (where, fkey, len(tb), q(fval)))
            continue
        if kind == "bytes":
            tval = field_value(el).decode("utf-8", "replace")
        else:
            tval = el.get("show")
        if kind == "str":
            tval = field_value(el).decode("utf-8", "replace") if el.get("value") else (tval or "")
        if fval is None:
            diffs.append("%s: %s: tshark %s, floe has none" % (where, fkey, q(tval)))
            continue
        good, shown = cmp_scalar("str" if kind == "bytes" else kind, tval, fval)
        if not good:
            diffs.append("%s: %s: tshark %s, floe %s" % (where, fkey, q(shown), q(fval)))
    for key, tab in fr["tables"].items():
        cmp_table(tab, obj.get(ARGS[key][0]), "%s: %s" % (where, ARGS[key][0]), diffs)


def cmp_content(content, obj, where, diffs):
    hdr, bodies = content
    if hdr is None:
        return
    props = obj.get("properties") or {}
    for key, el in hdr["props"].items():
        kind = PROPS.get(key)
        if kind is None:
            continue
        fval = props.get(key)
        if kind == "time":
            tval = int.from_bytes(field_value(el), "big") if el.get("value") else None
            if tval is not None and tval != fval:
                diffs.append("%s: properties.%s: tshark %s, floe %s" % (where, key, tval, q(fval)))
            continue
        tval = field_value(el).decode("utf-8", "replace") if kind == "str" else el.get("show")
        good, shown = cmp_scalar(kind, tval, fval)
        if not good:
            diffs.append("%s: properties.%s: tshark %s, floe %s" % (where, key, q(shown), q(fval)))
    if "headers" in hdr["ptables"]:
        cmp_table(hdr["ptables"]["headers"], props.get("headers"), where + ": properties.headers", diffs)
    for key in props:
        if key not in hdr["props"] and key not in hdr["ptables"]:
            diffs.append("%s: properties.%s: floe %s, tshark has none" % (where, key, q(props[key])))
    body = obj.get("body") or {}
    data = b"".join(b.get("payload") or b"" for b in bodies)
    if body.get("size") != hdr.get("body_size") or len(data) != hdr.get("body_size"):
        diffs.append("%s: body.size: tshark %s (frames hold %d), floe %s"
                     % (where, hdr.get("body_size"), len(data), q(body.get("size"))))
        return
    if "text" in body:
        kept = body["text"].encode("utf-8")
    elif "base64" in body:
        kept = base64.b64decode(body["base64"])
    else:
        kept = b""
    if body.get("truncated"):
        if not data.startswith(kept):
            diffs.append("%s: body: floe's kept bytes are not the start of tshark's" % where)
    elif kept != data:
        diffs.append("%s: body: floe %s, tshark %s" % (where, q(kept[:60].decode("latin-1")),
                                                        q(data[:60].decode("latin-1"))))


def check_capture(path, floe, tshark, tap, verbose):
    name = os.path.relpath(path, ROOT) if path.startswith(ROOT) else path
    frames = tshark_frames(path, tshark)
    amqp_frames = [f for f in frames if f["type"] != "init"]
    if not amqp_frames:
        r = subprocess.run([tshark, "-r", path, "-Y", "tls"], capture_output=True, text=True)
        if r.stdout.strip():
            tap.result(True, "%s: TLS only" % name, skip="floe never decrypts TLS")
        else:
            tap.result(True, "%s: no AMQP frames for tshark" % name, skip="nothing to compare")
        return
    rc, entries, err = floe_read(floe, path)
    diffs, expected = [], set()
    if rc != 0:
        diffs.append("floe read exited %d: %s" % (rc, err.strip()[-300:]))
    m = re.search(r"(\d+) parse errors", err)
    if not m or int(m.group(1)) != 0:
        diffs.append("floe reports parse errors: %s" % err.strip()[-300:])
    servers = server_side(frames)

    # Content: the header and body frames after each content method, per sender and channel.
    pending = {}
    contents = {}
    for i, fr in enumerate(amqp_frames):
        k = (conn_key(fr["src"], fr["dst"]), fr["src"], fr.get("channel"))
        if fr["type"] == 1 and (fr.get("class"), fr.get("method")) in CONTENT_METHODS:
            pending[k] = i
            contents[i] = [None, []]
        elif fr["type"] == 2 and k in pending:
            contents[pending[k]][0] = fr
        elif fr["type"] == 3 and k in pending:
            contents[pending[k]][1].append(fr)

    # tshark's method frames, grouped like floe's occurrences.
    tgroups = {}
    for i, fr in enumerate(amqp_frames):
        if fr["type"] != 1:
            continue
        cm = (fr.get("class"), fr.get("method"))
        mname = "%s.%s" % (CLASSES.get(cm[0], cm[0]), METHODS.get(cm, cm[1]))
        conn = conn_key(fr["src"], fr["dst"])
        sender = "server" if fr["src"] == servers[conn] else "client"
        tgroups.setdefault((conn, sender, fr.get("channel"), mname), []).append(i)
    occ = floe_occurrences(entries)
    matched = 0
    for key in sorted(set(tgroups) | set(occ), key=str):
        conn, sender, ch, mname = key
        t, f = tgroups.get(key, []), occ.get(key, [])
        where0 = "%s <-> %s ch %s %s from %s" % (conn[0], conn[1], ch, mname, sender)
        if len(t) != len(f):
            diffs.append("%s: tshark %d frames (frames %s), floe %d" % (
                where0, len(t), [amqp_frames[i]["frame"] for i in t][:10], len(f)))
        for ti, fo in zip(t, f):
            fr = amqp_frames[ti]
            where = "frame %d %s ch %s %s" % (fr["frame"], sender, ch, mname)
            obj, e = fo[2], fo[3]
            cmp_method(fr, obj, where, diffs, expected)
            if ti in contents:
                cmp_content(contents[ti], obj, where, diffs)
            srv = servers[conn]
            if (e["dst"]["ip"], e["dst"]["port"]) != srv and (
                    e["dst"]["ip"], e["dst"]["port"]) != (srv[0], srv[1]):
                diffs.append("%s: entry %s dst %s:%s, tshark's server %s" % (
                    where, e["id"], e["dst"]["ip"], e["dst"]["port"], srv))
            matched += 1

    # Frame counters.
    counts = {"method_frames": 0, "header_frames": 0, "body_frames": 0, "heartbeats": 0}
    for fr in amqp_frames:
        k = {1: "method_frames", 2: "header_frames", 3: "body_frames", 8: "heartbeats"}.get(fr["type"])
        if k:
            counts[k] += 1
    for k, v in counts.items():
        m = re.search(r"amqp\.%s (\d+)" % k, err)
        got = int(m.group(1)) if m else 0
        if got != v:
            diffs.append("counter %s: tshark %d frames, floe %d" % (k, v, got))

    desc = "%s: %d method frames, %d entries, %d AMQP frames in all" % (
        name, sum(len(v) for v in tgroups.values()), len(entries), len(amqp_frames))
    tap.result(not diffs, desc)
    for d in diffs[:60]:
        tap.diag("  " + d)
    if len(diffs) > 60:
        tap.diag("  ... %d more" % (len(diffs) - 60))
    for label, why in EXPECTED:
        if label in expected:
            tap.diag("  expected difference: %s: %s" % (label, why))
    if verbose:
        for e in entries:
            tap.diag("  entry %s %s -> %s" % (e["id"], jpath(e, "request.method"), jpath(e, "response.method")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES")
                    or os.path.join(os.path.dirname(ROOT), "shared", "captures"))
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tap = Tap()
    tshark = shutil.which("tshark")
    cdir = os.path.join(a.captures, "amqp")
    if not tshark:
        tap.result(True, "AMQP captures against tshark", skip="tshark is not installed")
        return tap.done()
    if not os.path.isdir(cdir):
        tap.result(True, "AMQP captures against tshark", skip="no captures in %s" % cdir)
        return tap.done()
    if not os.access(a.floe, os.X_OK):
        tap.result(False, "floe binary %s exists (make build/floe)" % a.floe)
        return tap.done()
    files = []
    for d, _, names in os.walk(cdir):
        files += [os.path.join(d, n) for n in names if n.endswith(CAPTURE_EXT)]
    for path in sorted(files):
        try:
            check_capture(path, a.floe, tshark, tap, a.v)
        except (RuntimeError, ET.ParseError, OSError) as ex:
            tap.result(False, "%s: %s" % (path, ex))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
