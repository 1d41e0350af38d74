#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for the Kafka dissector: `floe read FILE --json` against tshark on the shared
Kafka captures, PDU by PDU and field by field.

For every capture under $FLOE_CAPTURES/kafka (default ../shared/captures/kafka next to the
repository), tshark dissects the file into PDML (with `-d tcp.port==36333,kafka`: SOURCES.md
says tshark takes that port for SMPP otherwise) and floe into JSON entries. Every Kafka PDU
tshark shows must be in floe's entries, and floe must have no entry tshark has no PDU for:

- a request is the floe entry of the same connection (client and server address and port)
  with the same correlation id; compared: api_key, api_version, correlation_id, client_id,
  request_size (tshark's kafka.len + 4), and from the body, in order: topic names, partition
  ids, group ids, member ids, generation ids, acks, timeout, transactional id, producer id and
  epoch, protocol type and names, client software name and version; of magic-2 record batches
  the record count, every record's key, value and header keys.
- a response is the floe entry of the same connection whose response has that correlation id;
  compared: correlation_id, response_size, and from the body, in order: topic names, partition
  ids, error codes, throttle time, group/member/generation ids, producer id and epoch, node
  ids, hosts, ports, cluster id, leader ids, ISR ids, the ApiVersions list (key, min, max). A
  response tshark ties to a request (kafka.request_frame) must be the response of the same
  floe entry as that request; one tshark marks "Request Missing" must be a floe entry whose
  request is missing.

tshark 4.0 blind spots, where only the framing (length, api key, version, correlation id,
client id) is compared and floe's decoding is the better one, are listed in BLIND_SPOTS with
their reason; the oracle checks that tshark really flags those PDUs (unsupported version or
malformed) so that the list cannot hide a floe bug, and prints the reason for each.

Output: TAP lines "ok N - ..." / "not ok N - ..." with "# " diagnostics, then
"N passed, N failed". Python standard library only: run with /usr/bin/python3.

Usage: oracle_kafka.py [--floe PATH] [--captures DIR] [-v]
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from oracle import Tap, norm_ip  # noqa: E402  (the HTTP oracle's TAP output and addresses)
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")

# (capture, api_key, api_version, side) -> why tshark 4.0 cannot be compared beyond framing
# (length, api key, version, correlation id, client id).
FLEX = "tshark 4.0 does not decode this flexible version (it reports 'Unsupported %s version')"
BLIND_SPOTS = {
    ("kafka.pcapng", 22, 4, "request"): FLEX % "InitProducerId",
    ("kafka.pcapng", 22, 4, "response"): FLEX % "InitProducerId",
    ("kafka.pcapng", 3, 12, "request"): FLEX % "Metadata",
    ("kafka.pcapng", 3, 12, "response"): FLEX % "Metadata"
    + "; it then reads the v12 topic id as is_internal and fails (Malformed Packet)",
    ("kafka.pcapng", 0, 9, "request"): FLEX % "Produce" + " and stops at the compact topic array",
    ("kafka.pcapng", 0, 9, "response"): "tshark lost the request (unsupported Produce v9), so it "
    "shows 'Undecoded, Request Missing'; floe pairs it by correlation id",
    ("01-fetch-v12-ok.pcap", 1, 12, "request"): FLEX % "Fetch",
    ("01-fetch-v12-ok.pcap", 1, 12, "response"): "tshark lost the request (unsupported Fetch "
    "v12), so it shows 'Undecoded, Request Missing'; floe pairs it by correlation id",
    ("mixed-with-unsupported.pcap", 1, 13, "request"): FLEX % "Fetch",
    ("mixed-with-unsupported.pcap", 1, 13, "response"): "tshark lost the request (unsupported "
    "Fetch v13), so it shows 'Undecoded, Request Missing'; floe pairs it by correlation id",
}
# Where tshark decodes the message but not its records: everything but the records is compared.
NO_RECORDS = {
    ("00-produce-v2.pcap", 0, 2, "request"): "tshark 4.0 reads the magic-1 message's timestamp "
    "eight bytes off (it shows the year 13971) and so loses its key and value ('Invalid string "
    "length field', Malformed); floe shows timestamp 1479416797449 (2016-11-17), key null, value "
    "'Message without compression', as the bytes say",
}
LEGACY_NOTE = ("record contents of magic 0/1 message sets are not compared (tshark 4.0 misreads "
               "magic-1 messages)")
LENGTH_MISMATCH = "Dissected message does not end at the pdu length offset"
# tshark 4.0 bugs that do not depend on the capture: (api_key, side) -> (versions, reason).
# On such PDUs, when tshark shows the symptom (LENGTH_MISMATCH), only the framing and the
# fields before the broken one (REQ/RESP fields in BEFORE_BUG) are compared.
GROUP_BYTES = ("tshark 4.0 does not skip a non-empty consumer protocol %s (a classic "
               "length-prefixed bytes field): it shows '<MISSING>' and reads the next field from "
               "inside it ('Dissected message does not end at the pdu length offset'); floe reads "
               "the length and the bytes")
TSHARK_BUGS = {
    (11, "request"): (range(0, 6), GROUP_BYTES % "metadata (JoinGroup protocols)"),
    (11, "response"): (range(0, 6), GROUP_BYTES % "metadata (JoinGroup members)"),
    (14, "request"): (range(0, 4), GROUP_BYTES % "assignment (SyncGroup assignments)"),
    (14, "response"): (range(0, 4), GROUP_BYTES % "assignment (SyncGroup)"),
}
BEFORE_BUG = ("kafka.consumer_group", "kafka.generation_id", "kafka.throttle_time",
              "kafka.group_leader_id")

REQ_FIELDS = {
    # tshark field -> floe body keys whose values, in document order, must equal tshark's
    "kafka.consumer_group": ("group_id",),
    "kafka.member_id": ("member_id",),
    "kafka.generation_id": ("generation_id", "generation_id_or_member_epoch"),
    "kafka.required_acks": ("acks",),
    "kafka.timeout": ("timeout_ms",),
    "kafka.producer_id": ("producer_id",),
    "kafka.producer_epoch": ("producer_epoch",),
    "kafka.protocol_type": ("protocol_type",),
    "kafka.protocol_name": ("protocol_name", "@protocols.name"),
    "kafka.client_software_name": ("client_software_name",),
    "kafka.client_software_version": ("client_software_version",),
    "kafka.session_timeout": ("session_timeout_ms",),
    "kafka.rebalance_timeout": ("rebalance_timeout_ms",),
    "kafka.batch_size": ("record_count",),
}
RESP_FIELDS = {
    "kafka.error": ("*error_code",),
    "kafka.throttle_time": ("throttle_time_ms",),
    "kafka.consumer_group": ("group_id",),
    "kafka.member_id": ("member_id",),
    "kafka.generation_id": ("generation_id",),
    "kafka.producer_id": ("producer_id",),
    "kafka.producer_epoch": ("producer_epoch",),
    "kafka.host": ("host",),
    "kafka.port": ("port",),
    "kafka.cluster_id": ("cluster_id",),
    "kafka.leader_id": ("leader_id",),
    "kafka.group_leader_id": ("leader",),
    "kafka.isr_id": ("isr_nodes",),
    "kafka.protocol_name": ("protocol_name",),
    "kafka.api_versions.api_key": ("@api_keys.api_key",),
    "kafka.api_versions.min_version": ("@api_keys.min_version",),
    "kafka.api_versions.max_version": ("@api_keys.max_version",),
}
TOPIC_PARENTS = {"topic_data", "topics", "responses", "forgotten_topics_data"}
PARTITION_KEYS = {"index", "partition", "partition_index", "partition_indexes"}


# --------------------------------------------------------------------------- tshark
def tshark_pdus(path):
    """Every Kafka PDU of the capture, in order: dict(frame, time, src, dst, request, fields,
    flagged) where fields maps a tshark field name to its values in document order."""
    # Out-of-order reassembly as floe does: a live capture taken at two CPUs' TC hooks may hold
    # a large message's segments a few microseconds out of order, and tshark then misses the
    # message (and ties its response to nothing).
    cmd = ["tshark", "-r", path, "-d", "tcp.port==36333,kafka", "-o", "tcp.reassemble_out_of_order:TRUE",
           "-T", "pdml"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    pdus = []
    for pkt in ET.fromstring(out).iter("packet"):
        info = {}
        protos = list(pkt.findall("proto"))
        for proto in protos:
            for f in proto.iter("field"):
                n = f.get("name")
                if n in ("frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src",
                         "ipv6.dst", "tcp.srcport", "tcp.dstport") and n not in info:
                    info[n] = f.get("show")
        last = None
        for proto in protos:
            if proto.get("name") == "_ws.malformed" and last is not None:
                last["malformed"] = True
                continue
            if proto.get("name") != "kafka":
                continue
            fields = {}
            malformed = unsupported = missing = mismatch = False
            for f in proto.iter():
                if f.tag == "proto" and f.get("name") == "_ws.malformed":
                    malformed = True
                if f.tag != "field":
                    continue
                n = f.get("name") or ""
                if n in ("kafka.api_version", "kafka.response.version"):
                    # the message's own version (the ApiVersions list has such notes too)
                    unsupported |= any(g.get("name") == "kafka.unsupported_api_version"
                                       for g in f.iter("field"))
                if n == "kafka.request_missing":
                    missing = True
                if n == "_ws.expert.message" and f.get("show") == LENGTH_MISMATCH:
                    mismatch = True
                if n.startswith("kafka."):
                    fields.setdefault(n, []).append(f.get("show"))
            flagged = unsupported or missing
            src = (norm_ip(info.get("ip.src") or info.get("ipv6.src")), int(info["tcp.srcport"]))
            dst = (norm_ip(info.get("ip.dst") or info.get("ipv6.dst")), int(info["tcp.dstport"]))
            last = {
                "frame": int(info["frame.number"]),
                "time": info["frame.time_epoch"],
                "src": src,
                "dst": dst,
                "request": "kafka.request_key" in fields,
                "fields": fields,
                "flagged": flagged,
                "malformed": malformed,
                "mismatch": mismatch,
            }
            pdus.append(last)
    return pdus


# --------------------------------------------------------------------------- floe
def floe_entries(floe, path):
    r = subprocess.run([floe, "read", path, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    entries = [json.loads(line) for line in r.stdout.decode().split("\n") if line.strip()]
    return entries, r.returncode, r.stderr.decode()


def walk(o, parent=None):
    """(key, value, parent array key) of every scalar in a JSON tree, in document order."""
    if isinstance(o, dict):
        for k, v in o.items():
            if isinstance(v, (dict, list)):
                yield from walk(v, k if isinstance(v, list) else parent)
                if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
                    for x in v:
                        yield k, x, parent
            else:
                yield k, v, parent
    elif isinstance(o, list):
        for x in o:
            if isinstance(x, (dict, list)):
                yield from walk(x, parent)


def body_values(body, spec):
    """Values of a body in document order for a spec: "key", "*suffix" (keys ending so),
    "@array.key" (key inside the array of that name)."""
    out = []
    for k, v, parent in walk(body or {}):
        for s in spec:
            if s.startswith("*") and k.endswith(s[1:]) and not isinstance(v, str):
                out.append(v)
            elif s.startswith("@"):
                arr, key = s[1:].split(".")
                if k == key and parent == arr:
                    out.append(v)
            elif k == s and not (s in ("protocol_name",) and parent == "protocols"):
                out.append(v)
    return out


def topics_of(body):
    out = []
    for k, v, parent in walk(body or {}):
        if (k == "name" and parent in TOPIC_PARENTS) or k in ("topic", "topic_names"):
            out.append(v)
    return out


def partitions_of(body):
    return [v for k, v, parent in walk(body or {}) if k in PARTITION_KEYS]


def value_bytes(v):
    if not isinstance(v, dict):
        return None
    if "text" in v:
        return v["text"].encode()
    return base64.b64decode(v.get("base64", ""))


def records_of(body):
    """(key hex, value hex, [header keys], value cut) of every record of magic-2 batches."""
    out = []

    def visit(o):
        if isinstance(o, dict):
            if o.get("magic") == 2 and isinstance(o.get("records"), list):
                for r in o["records"]:
                    k, v = value_bytes(r.get("key")), value_bytes(r.get("value"))
                    out.append((k.hex() if k is not None else None,
                                v.hex() if v is not None else None,
                                [h.get("key") for h in r.get("headers", [])],
                                bool((r.get("value") or {}).get("truncated"))))
            for x in o.values():
                visit(x)
        elif isinstance(o, list):
            for x in o:
                visit(x)
    visit(body or {})
    return out


def tshark_records(f):
    keys, values = f.get("kafka.message_key", []), f.get("kafka.message_value", [])
    return [bytes.fromhex((k or "").replace(":", "")).hex() for k in keys], \
        [bytes.fromhex((v or "").replace(":", "")).hex() for v in values]


def as_num(s):
    try:
        return int(s, 0)
    except (TypeError, ValueError):
        return s


def norm(vals):
    out = []
    for v in vals:
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, str):
            v = as_num(v)
        out.append(v)
    return out


# --------------------------------------------------------------------------- comparison
def compare_capture(floe, path):
    """Returns (problems, notes, counts)."""
    name = os.path.basename(path)
    pdus = tshark_pdus(path)
    entries, rc, err = floe_entries(floe, path)
    problems, notes = [], []
    if rc != 0:
        problems.append("floe read exited %d: %s" % (rc, err.strip()))
    conn = lambda a, b: tuple(sorted([a, b]))
    ep = lambda e, side: (norm_ip(e[side]["ip"]), e[side]["port"])
    reqs, resps = {}, {}
    for e in entries:
        c = conn(ep(e, "src"), ep(e, "dst"))
        if "request" in e:
            reqs.setdefault((c, e["request"]["correlation_id"]), []).append(e)
        if "response" in e:
            resps.setdefault((c, e["response"]["correlation_id"]), []).append(e)
    used = set()
    by_frame = {}
    listed_seen = set()
    n_req = n_resp = 0
    for p in pdus:
        f = p["fields"]
        c = conn(p["src"], p["dst"])
        corr = int(f["kafka.correlation_id"][0])
        where = "frame %d %s:%d->%s:%d corr %d" % (p["frame"], p["src"][0], p["src"][1],
                                                   p["dst"][0], p["dst"][1], corr)
        if p["request"]:
            n_req += 1
            key, ver = int(f["kafka.api_key"][0]), int(f["kafka.api_version"][0])
            got = reqs.get((c, corr), [])
            got = [e for e in got if e["request"]["api_key"] == key]
            if len(got) != 1:
                problems.append("%s: request %d v%d: %d floe entries (want 1)" % (where, key, ver, len(got)))
                continue
            e = got[0]
            used.add(id(e))
            # A frame may hold several requests (the client's writes coalesced by Nagle).
            by_frame.setdefault(p["frame"], []).append(e)
            r = e["request"]
            diffs = []
            want = {"api_key": key, "api_version": ver, "correlation_id": corr}
            if f.get("kafka.client_id") and f["kafka.client_id"][0] != "[ Null ]":
                want["client_id"] = f["kafka.client_id"][0]
            for k, v in want.items():
                if r.get(k) != v:
                    diffs.append("%s: tshark %r, floe %r" % (k, v, r.get(k)))
            if e.get("src") and ep(e, "src") != p["src"]:
                diffs.append("src: tshark %r, floe %r" % (p["src"], ep(e, "src")))
            if e.get("request_size") != int(f["kafka.len"][0]) + 4:
                diffs.append("request_size: tshark %d+4, floe %r" % (int(f["kafka.len"][0]), e.get("request_size")))
            spot = BLIND_SPOTS.get((name, key, ver, "request"))
            norec = NO_RECORDS.get((name, key, ver, "request"))
            bug = tshark_bug(key, ver, "request", p)
            if not bug:
                diffs += mismatch_check(p, r)
            if bug:
                notes.append("%s: request %s v%d: %s" % (where, r.get("api_name"), ver, bug))
                for tf in BEFORE_BUG:
                    if tf in f and tf in REQ_FIELDS:
                        diffs += compare_lists(tf, [v for v in f[tf] if v != "[ Null ]"],
                                               body_values(r.get("body"), REQ_FIELDS[tf]))
            elif spot:
                listed_seen.add((name, key, ver, "request"))
                if not p["flagged"]:
                    diffs.append("listed as a tshark blind spot but tshark decodes it: update BLIND_SPOTS")
                notes.append("%s: request %s v%d: framing only: %s" % (where, r.get("api_name"), ver, spot))
            elif p["flagged"] or (p["malformed"] and not p["mismatch"] and not norec):
                diffs.append("tshark flags this request (unsupported/malformed) and BLIND_SPOTS has no reason for it")
            else:
                if norec:
                    listed_seen.add((name, key, ver, "request"))
                    if not p["malformed"]:
                        diffs.append("listed in NO_RECORDS but tshark decodes it: update NO_RECORDS")
                    notes.append("%s: request %s v%d: records not compared: %s" % (where, r.get("api_name"), ver, norec))
                body = r.get("body")
                if "body" not in r and f.get("kafka.topic_name"):
                    diffs.append("floe has no body: %s" % r.get("body_undecoded") or r.get("malformed"))
                if r.get("malformed"):
                    diffs.append("floe: malformed: %s" % r["malformed"])
                diffs += compare_lists("topics", f.get("kafka.topic_name", []), topics_of(body))
                diffs += compare_lists("partitions", f.get("kafka.partition_id", []), partitions_of(body))
                for tf, spec in REQ_FIELDS.items():
                    if tf in f:
                        tv = [v for v in f[tf] if v != "[ Null ]"]
                        diffs += compare_lists(tf, tv, body_values(body, spec))
                if ("kafka.message_key" in f or "kafka.message_value" in f) and not norec:
                    magic = f.get("kafka.message_magic", [])
                    if any(m != "2" for m in magic):
                        notes.append("%s: %s" % (where, LEGACY_NOTE))
                    else:
                        diffs += compare_records(f, r)
            if diffs:
                problems.append("%s: request %s v%d:\n    " % (where, r.get("api_name"), ver) + "\n    ".join(diffs))
        else:
            n_resp += 1
            got = resps.get((c, corr), [])
            if len(got) != 1:
                problems.append("%s: response: %d floe entries (want 1)" % (where, len(got)))
                continue
            e = got[0]
            used.add(id(e))
            s = e["response"]
            diffs = []
            if e.get("response_size") != int(f["kafka.len"][0]) + 4:
                diffs.append("response_size: tshark %d+4, floe %r" % (int(f["kafka.len"][0]), e.get("response_size")))
            rf = f.get("kafka.request_frame")
            missing = "kafka.request_missing" in f
            if rf and not any(x is e for x in by_frame.get(int(rf[0]), [])):
                diffs.append("tshark ties it to the request in frame %s; floe's entry is another" % rf[0])
            key = e.get("request", {}).get("api_key")
            ver = e.get("request", {}).get("api_version")
            spot = BLIND_SPOTS.get((name, key, ver, "response"))
            if missing and not spot and not e.get("missing") == "request":
                diffs.append("tshark: request missing; floe: %r" % e.get("missing"))
            bug = tshark_bug(key, ver, "response", p)
            if not bug:
                diffs += mismatch_check(p, s)
            if bug:
                notes.append("%s: response to %s v%s: %s" % (where, e.get("request", {}).get("api_name"), ver, bug))
                for tf in BEFORE_BUG + ("kafka.error",):
                    if tf in f and tf in RESP_FIELDS:
                        diffs += compare_lists(tf, [v for v in f[tf] if v != "[ Null ]"],
                                               body_values(s.get("body"), RESP_FIELDS[tf]))
            elif spot:
                listed_seen.add((name, key, ver, "response"))
                if not p["flagged"]:
                    diffs.append("listed as a tshark blind spot but tshark decodes it: update BLIND_SPOTS")
                notes.append("%s: response to %s v%s: framing only: %s" % (where, e.get("request", {}).get("api_name"), ver, spot))
            elif (p["flagged"] or (p["malformed"] and not p["mismatch"])) and not missing:
                diffs.append("tshark flags this response and BLIND_SPOTS has no reason for it")
            elif not missing:
                body = s.get("body")
                if s.get("malformed"):
                    diffs.append("floe: malformed: %s" % s["malformed"])
                diffs += compare_lists("topics", f.get("kafka.topic_name", []), topics_of(body))
                diffs += compare_lists("partitions", f.get("kafka.partition_id", []), partitions_of(body))
                for tf, spec in RESP_FIELDS.items():
                    if tf in f:
                        tv = [v for v in f[tf] if v != "[ Null ]"]
                        diffs += compare_lists(tf, tv, body_values(body, spec))
                if ("kafka.message_key" in f or "kafka.message_value" in f) and \
                        all(m == "2" for m in f.get("kafka.message_magic", [])):
                    diffs += compare_records(f, s)
                if "kafka.node_id" in f:
                    # tshark labels brokers' node ids and the controller id alike
                    fv = body_values(body, ("node_id", "controller_id"))
                    diffs += compare_lists("kafka.node_id", f["kafka.node_id"], fv)
            if diffs:
                problems.append("%s: response:\n    " % where + "\n    ".join(diffs))
    for k in list(BLIND_SPOTS) + list(NO_RECORDS):
        if k[0] == name and k not in listed_seen:
            problems.append("BLIND_SPOTS lists %r but no such PDU is in the capture" % (k,))
    for e in entries:
        if id(e) not in used:
            problems.append("floe entry %s (%s) matches no tshark PDU" % (e.get("id"), line_of(e)))
    return problems, notes, (len(pdus), n_req, n_resp, len(entries))


def tshark_bug(key, ver, side, p):
    """The reason when this PDU hits a known tshark bug (and shows its symptom)."""
    vers, why = TSHARK_BUGS.get((key, side), ((), None))
    if why and ver in vers and p["mismatch"]:
        return why
    return None


def compare_records(f, msg):
    """Record keys, values and header keys of magic-2 batches, tshark's against floe's. A value
    floe kept cut (--body-max) must be a prefix of tshark's; when floe decoded only a prefix of
    the message (decode bound), its records must be the first of tshark's."""
    tk, tv = tshark_records(f)
    fr = records_of(msg.get("body"))
    th = f.get("kafka.header_key", [])
    fh = [h for _, _, hs, _ in fr for h in hs]
    if msg.get("truncated"):
        tk, tv = tk[:len(fr)], tv[:len(fr)]
        th = th[:len(fh)]
    # tshark shows a null key or value as empty
    fk = [k or "" for k, _, _, _ in fr]
    fv = [v or "" for _, v, _, _ in fr]
    tv = [t[:len(fl)] if cut and t.startswith(fl) else t
          for t, fl, cut in zip(tv, fv + [""] * len(tv), [c for _, _, _, c in fr] + [False] * len(tv))]
    return (compare_lists("record keys", tk, fk) + compare_lists("record values", tv, fv)
            + compare_lists("record header keys", th, fh))


def mismatch_check(p, msg):
    """tshark's "does not end at the pdu length offset" is floe's trailing_bytes."""
    if p["flagged"]:
        return []  # tshark did not decode the body: its end says nothing
    if p["mismatch"] and not msg.get("trailing_bytes"):
        return ["tshark: the message has bytes after its fields; floe: no trailing_bytes"]
    if not p["mismatch"] and msg.get("trailing_bytes") and not p["flagged"]:
        return ["floe: trailing_bytes %r; tshark decodes to the end" % msg["trailing_bytes"]]
    if p["mismatch"]:
        p.setdefault("notes", []).append("both see %d bytes after the fields" % msg["trailing_bytes"])
    return []


def line_of(e):
    r, s = e.get("request", {}), e.get("response", {})
    return "%s v%s corr %s / response corr %s missing %s" % (
        r.get("api_name"), r.get("api_version"), r.get("correlation_id"),
        s.get("correlation_id"), e.get("missing"))


COMPARED = [0]


def compare_lists(what, tshark_vals, floe_vals):
    t, fl = norm(tshark_vals), norm(floe_vals)
    COMPARED[0] += len(t)
    if t == fl:
        return []
    return ["%s: tshark %s, floe %s" % (what, json.dumps(t)[:400], json.dumps(fl)[:400])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES") or
                    os.path.join(os.path.dirname(ROOT), "shared", "captures"))
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tap = Tap()
    d = os.path.join(a.captures, "kafka")
    if not shutil.which("tshark"):
        tap.result(True, "kafka captures against tshark", skip="tshark is not installed")
        return tap.done()
    if not os.path.isdir(d):
        tap.result(True, "kafka captures against tshark", skip="no captures at %s" % d)
        return tap.done()
    if not os.access(a.floe, os.X_OK):
        tap.result(False, "floe is built (%s)" % a.floe)
        return tap.done()
    files = sorted(x for x in os.listdir(d) if x.endswith(CAPTURE_EXT))
    for fn in files:
        COMPARED[0] = 0
        try:
            problems, notes, (npdu, nreq, nresp, nent) = compare_capture(a.floe, os.path.join(d, fn))
        except (subprocess.CalledProcessError, ET.ParseError, KeyError, ValueError) as ex:
            tap.result(False, "kafka/%s: compared with tshark" % fn)
            tap.diag("error: %r" % ex)
            continue
        tap.result(not problems, "kafka/%s: %d PDUs (%d requests, %d responses) = %d floe entries, "
                   "%d body values compared" % (fn, npdu, nreq, nresp, nent, COMPARED[0]))
        for p in problems:
            tap.diag(p)
        for n in notes:
            tap.diag("expected difference: " + n)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
