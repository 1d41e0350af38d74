#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test: Kafka and AMQP after capture gaps. floe must resynchronise at the next frame
and go on; a gap loses what it cut and nothing after it.

Every Kafka and AMQP capture (the shared ones under $FLOE_CAPTURES/{kafka,amqp}, and the files
given with --extra, e.g. the bench generators' captures, see test_gaps.sh) is cut at run time
by selftests/lib/pcap_cut.py in several ways (every Nth TCP data segment, and bursts of
consecutive ones) into a temporary directory. For each cut file:

1. untouched entries: every entry floe makes of the whole capture whose messages no removed
   segment could have carried (no removed segment of its direction between the message's
   first packet and the next message's first packet) must be an entry of the cut file, equal
   field by field (request, response, sizes, completeness);
2. nothing invented: every Kafka request in the cut file's entries is one of the whole
   capture's (connection, correlation id, API key and version); no AMQP message (connection,
   method, channel, delivery tag) is in the cut file's entries more often than in the whole
   capture's;
3. tshark on the same cut file: every Kafka request tshark decodes there (and that the whole
   capture has) is a floe entry, and floe has at least as many complete request/response
   pairs as tshark pairs; floe's AMQP method frames (counter amqp.method_frames) are at least
   as many as the method frames tshark decodes there;
4. the summary line counts the resyncs (kafka.resyncs / amqp.resyncs) when floe had to look
   for a frame boundary.

And every HTTP/1 capture ($FLOE_CAPTURES/http1) cut so that each connection ends right after
its first FIN (the capture stops before the other side's FIN): every complete entry of the
whole capture is a complete entry of the cut one (a body delimited by the server's close is
complete at the server's FIN), and floe has at least as many complete responses as tshark.

Output: TAP lines and a last line "N passed, N failed". Standard library only.

Usage: oracle_gaps.py [--floe PATH] [--captures DIR] [--extra FILE ...] [-v]
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from oracle import Tap, norm_ip  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcap_cut  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")
# amqps.pcapng is TLS: nothing to cut that floe dissects.
SKIP = ("amqps.pcapng",)
# (name, pcap_cut.cut arguments): single segments at several periods, and bursts.
CUTS = (
    ("every 2nd data segment", {"every": (2, None)}),
    ("every 3rd data segment", {"every": (3, None)}),
    ("every 5th data segment from the 2nd", {"every": (5, 2)}),
    ("every 13th data segment", {"every": (13, None)}),
    ("bursts of 3 in every 10 data segments", {"burst": (10, 3)}),
    ("bursts of 20 in every 100 data segments", {"burst": (100, 20)}),
)
# What must be equal in an entry a cut did not touch.
COMPARED = ("request", "response", "request_size", "response_size", "missing", "incomplete",
            "missing_reason")
# Segments lost before the capture point and captured only as their retransmission.
LATE_EVERY = 7
SETTLE = ("Basic.Ack", "Basic.Nack", "Basic.Reject")
CLOSES = ("Channel.Close", "Connection.Close")
TSHARK_OPTS = ["-d", "tcp.port==36333,kafka"]


def rfc3339_ns(s):
    """floe's "2023-04-18T19:05:06.292198000Z" as ns since the epoch."""
    import calendar
    import time
    day, _, frac = s.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int((frac + "000000000")[:9])


def floe_read(floe, path):
    p = subprocess.run([floe, "read", path, "--json"], capture_output=True, check=False)
    if p.returncode != 0:
        raise RuntimeError("floe read %s: exit %d: %s" % (path, p.returncode,
                                                         p.stderr.decode()[-500:]))
    entries = [json.loads(line) for line in p.stdout.decode().split("\n") if line.strip()]
    summary = p.stderr.decode().strip().splitlines()[-1] if p.stderr.strip() else ""
    counters = {k: int(v) for k, v in re.findall(r"(\w+\.\w+) (\d+)", summary)}
    return entries, summary, counters


def ends(e):
    return ((norm_ip(e["src"]["ip"]), e["src"]["port"]), (norm_ip(e["dst"]["ip"]),
                                                          e["dst"]["port"]))


def messages(e):
    """The messages of an entry: (direction as (from, to), start ns)."""
    a, b = ends(e)
    req_from_dst = e.get("protocol") == "amqp" and (e.get("request") or {}).get(
        "sender") == "server"
    rq = (b, a) if req_from_dst else (a, b)
    out = []
    if e.get("request_time"):
        out.append((rq, rfc3339_ns(e["request_time"])))
    if e.get("response_time"):
        out.append(((rq[1], rq[0]), rfc3339_ns(e["response_time"])))
    return out


def segment_index(path):
    """Per direction ((ip, port), (ip, port)): {ts_ns: (lowest sequence number, highest end)}
    of the capture's TCP data segments, sequence numbers unwrapped from the direction's
    first one."""
    linktype, pkts = pcap_cut.read_capture(path)
    base, out = {}, {}
    for ts, frame, _orig_len in pkts:
        d = pcap_cut.decode(linktype, frame)
        if not d or d[0] != "tcp" or not d[5]:
            continue
        k = ((norm_ip(d[1]), d[2]), (norm_ip(d[3]), d[4]))
        lo = unwrap(base, k, d[7])
        at = out.setdefault(k, {})
        a, b = at.get(ts, (lo, lo + len(d[5])))
        at[ts] = (min(a, lo), max(b, lo + len(d[5])))
    return out, base


def unwrap(base, k, seq):
    """seq as an offset from the direction's first sequence number (within +-2 GiB of it)."""
    b = base.setdefault(k, seq)
    return (seq - b + 2**31) % 2**32 - 2**31


def touched(entries, dropped, segments=None):
    """The ids of entries a removed segment may have carried part of.

    A message runs from its first packet to the next message's first packet in its direction
    (floe's times are those of the packet with a message's first byte). By time, a removed
    segment between the two touches it. By bytes (segments: segment_index() of the whole
    capture), so do the removed segments whose sequence range meets the message's: a segment
    lost before the capture point and sent again later is captured only as the retransmission,
    after the next message's first packet (seen in CI under load)."""
    segments, base = segments or ({}, {})
    starts = {}  # direction -> sorted message starts
    for e in entries:
        for d, t in messages(e):
            starts.setdefault(d, []).append(t)
    for v in starts.values():
        v.sort()
    drops = {}
    for d in dropped:
        f = d["flow"]
        if f is None:
            continue
        k = ((norm_ip(f[0]), f[1]), (norm_ip(f[2]), f[3]))
        lo = unwrap(base, k, d.get("seq", 0)) if k in base else None
        drops.setdefault(k, []).append((d["ts_ns"], lo, d.get("len", 0)))
    out = set()
    for e in entries:
        for d, t in messages(e):
            later = [s for s in starts[d] if s > t]
            end = later[0] if later else float("inf")
            at = segments.get(d, {})
            lo = at[t][0] if t in at else None
            hi = at[end][1] if end in at else (float("inf") if not later else None)
            for x, seq, n in drops.get(d, ()):
                if t <= x <= end or (lo is not None and hi is not None and seq is not None
                                     and seq < hi and seq + n > lo):
                    out.add(e["id"])
                    break
        if e.get("missing") or e.get("incomplete"):
            out.add(e["id"])  # compared only as far as they go: not in the strict check
    # State a cut message carried: a consumer's no_ack flag is in its Basic.Consume, so its
    # deliveries depend on it.
    lost_consumers = {(ends(e), (e.get("request") or {}).get("consumer_tag")) for e in entries
                      if e["id"] in out and (e.get("request") or {}).get("method") ==
                      "Basic.Consume"}
    for e in entries:
        rq = e.get("request") or {}
        if rq.get("method") == "Basic.Deliver" and (ends(e), rq.get("consumer_tag")) in \
                lost_consumers:
            out.add(e["id"])
    return out


def same_key(e):
    """What tells an entry from the others of its connection (messages sharing a packet share
    their times)."""
    rq, rs = e.get("request") or {}, e.get("response") or {}
    ids = tuple((m.get("method"), m.get("channel"), m.get("delivery_tag"),
                 m.get("correlation_id")) for m in (rq, rs))
    if any(i[2] is not None or i[3] is not None for i in ids):
        # Tags and correlation ids name it; the times are those of the packet that carried
        # the first byte of what the dissector was given, which a gap before can move.
        return (ends(e), ids)
    return (ends(e), e.get("request_time"), e.get("response_time"), ids)


def compare_untouched(whole, cut_entries, dropped, segments=None):
    """(entries compared, entries not compared on connections cut before their first data,
    problems)."""
    problems = []
    hit = touched(whole, dropped, segments)
    # A connection whose first data segments were cut is recognised only at a segment that
    # starts a message: the engine's detection looks at segment starts (docs/kafka.md,
    # docs/amqp.md "Limits"). Its entries are counted, not compared.
    headless = {frozenset(((norm_ip(d["flow"][0]), d["flow"][1]),
                           (norm_ip(d["flow"][2]), d["flow"][3]))) for d in dropped if d["first"]}
    skipped = 0
    by_key = {}
    for e in cut_entries:
        by_key.setdefault(same_key(e), []).append(e)
    n = 0
    for e in whole:
        if e["id"] in hit:
            continue
        if frozenset(ends(e)) in headless:
            skipped += 1
            continue
        n += 1
        cands = by_key.get(same_key(e), [])
        if not cands:
            problems.append("entry %s (%s) of the whole capture, untouched by the cut, is not "
                            "in the cut file's entries" % (e["id"], brief(e)))
            continue
        c = cands[0]
        for k in COMPARED:
            if e.get(k) != c.get(k):
                problems.append("entry %s (%s): %s differs after the cut: whole %s, cut %s" % (
                    e["id"], brief(e), k, json.dumps(e.get(k))[:160],
                    json.dumps(c.get(k))[:160]))
                break
    return n, skipped, problems


def brief(e):
    rq, rs = e.get("request") or {}, e.get("response") or {}
    if e.get("protocol") == "kafka":
        return "kafka %s v%s #%s" % (rq.get("api_name"), rq.get("api_version"),
                                     rq.get("correlation_id", rs.get("correlation_id")))
    return "amqp %s ch %s" % (rq.get("method") or rs.get("method"),
                              rq.get("channel", rs.get("channel")))


# ------------------------------------------------------------------ tshark
def flat(o, out):
    if isinstance(o, dict):
        for k, v in o.items():
            if isinstance(v, (dict, list)) and not (isinstance(v, list) and v and
                                                    isinstance(v[0], str)):
                flat(v, out)
            else:
                out.setdefault(k, v)
    elif isinstance(o, list):
        for v in o:
            flat(v, out)
    return out


def tshark_pdus(path, proto):
    """Every PDU of proto tshark shows: dicts with the packet's ends, time and its fields."""
    out = subprocess.run(["tshark", "-r", path, "-T", "json", "-Y", proto, "-J",
                          "frame ip ipv6 tcp " + proto] + TSHARK_OPTS,
                         capture_output=True, check=True).stdout
    pdus = []
    for pkt in json.loads(out.decode("utf-8", "replace") or "[]"):
        ly = pkt["_source"]["layers"]
        ip = ly.get("ip") or ly.get("ipv6") or {}
        src = ip.get("ip.src") or ip.get("ipv6.src")
        dst = ip.get("ip.dst") or ip.get("ipv6.dst")
        tcp = ly.get("tcp", {})
        a = (norm_ip(src), int(tcp.get("tcp.srcport", 0)))
        b = (norm_ip(dst), int(tcp.get("tcp.dstport", 0)))
        layers = ly.get(proto)
        for pdu in layers if isinstance(layers, list) else [layers]:
            f = flat(pdu, {})
            f["_from"], f["_to"] = a, b
            f["_frame"] = int(ly["frame"]["frame.number"])
            pdus.append(f)
    return pdus


def kafka_requests_tshark(pdus):
    """(conn, correlation id, api key, version) of the requests; pairs tshark made."""
    reqs, pairs = [], 0
    for f in pdus:
        if "kafka.request_key" in f and "kafka.correlation_id" in f:
            reqs.append(((f["_from"], f["_to"]), int(f["kafka.correlation_id"]),
                         int(f["kafka.request_key"]), int(f.get("kafka.request.version", -1))))
        elif "kafka.request_frame" in f:
            pairs += 1
    return reqs, pairs


def kafka_requests_floe(entries):
    out = []
    for e in entries:
        rq = e.get("request")
        if rq and "correlation_id" in rq:
            out.append((ends(e), rq["correlation_id"], rq.get("api_key"), rq.get("api_version")))
    return out


def amqp_messages_floe(entries):
    """How many of each message (connection, method, channel, delivery tag) the entries
    hold. Times are not compared: a message's time is that of the packet with the first byte
    the dissector was given, which a gap before it can move."""
    out = collections.Counter()
    for e in entries:
        for half in ("request", "response"):
            m = e.get(half)
            if half == "response" and e.get("request") and m and m.get("method") in CLOSES:
                continue  # a close is also the response of the request it failed (a copy)
            if m and m.get("method"):
                k = (ends(e), m["method"], m.get("channel"), m.get("delivery_tag"))
                if m["method"] in SETTLE:
                    # one (multiple) ack settles many deliveries and each entry shows it; a
                    # channel's acks have distinct tags: counted once
                    out[k] = 1
                else:
                    out[k] += 1
    return out


# ------------------------------------------------------------------ one capture
def check_kafka(whole, cut_entries, path_cut, problems):
    t_reqs, t_pairs = kafka_requests_tshark(tshark_pdus(path_cut, "kafka"))
    known = set(kafka_requests_floe(whole))
    mine = kafka_requests_floe(cut_entries)
    mine_keys = {(c, corr) for c, corr, _k, _v in mine}
    real = [r for r in t_reqs if r in known]
    for r in real:
        if (r[0], r[1]) not in mine_keys:
            problems.append("tshark decodes request #%d (api key %d v%d) of %s:%d in the cut "
                            "file; floe has no entry for it" % (r[1], r[2], r[3], *r[0][0]))
    for r in mine:
        if r not in known:
            problems.append("floe entry for a request #%s (api key %s v%s) the whole capture "
                            "does not have (resynchronised on bytes that were no message "
                            "start)" % (r[1], r[2], r[3]))
    complete = sum(1 for e in cut_entries if e.get("request") and e.get("response") and
                   not e.get("missing") and not e.get("incomplete"))
    if complete < t_pairs:
        problems.append("complete request/response pairs: tshark %d, floe %d" % (t_pairs,
                                                                                complete))
    return "kafka requests: tshark %d (%d of them real), floe %d; pairs: tshark %d, floe %d" % (
        len(t_reqs), len(real), len(mine), t_pairs, complete)


def check_amqp(whole, cut_entries, counters, path_cut, problems):
    t_methods = sum(1 for f in tshark_pdus(path_cut, "amqp") if f.get("amqp.type") == "1")
    known = amqp_messages_floe(whole)
    for m, k in amqp_messages_floe(cut_entries).items():
        if k > known[m]:
            problems.append("floe shows %s on channel %s (delivery tag %s) %d times, the whole "
                            "capture %d" % (m[1], m[2], m[3], k, known[m]))
    mine = counters.get("amqp.method_frames", 0)
    if mine < t_methods:
        problems.append("method frames: tshark %d, floe %d" % (t_methods, mine))
    complete = sum(1 for e in cut_entries if not e.get("missing") and not e.get("incomplete"))
    return "amqp method frames: tshark %d, floe %d; complete entries %d" % (t_methods, mine,
                                                                          complete)


def check_cut(floe, path, proto, whole, how, args, tmp):
    cut = os.path.join(tmp, "cut.pcap")
    dropped = pcap_cut.cut_file(path, cut, **args)
    if not dropped:
        return None
    entries, summary, counters = floe_read(floe, cut)
    problems = []
    n_untouched, headless, p = compare_untouched(whole, entries, dropped, segment_index(path))
    problems += p
    if proto == "kafka":
        side = check_kafka(whole, entries, cut, problems)
    else:
        side = check_amqp(whole, entries, counters, cut, problems)
    gaps = int((re.search(r"(\d+) gaps", summary) or [0, 0])[1])
    errors = int((re.search(r"(\d+) parse errors", summary) or [0, 0])[1])
    resyncs = counters.get(proto + ".resyncs", 0)
    # Each resync starts at a gap or at bytes that did not parse.
    if resyncs > gaps + errors:
        problems.append("%d resyncs, more than gaps (%d) and parse errors (%d)" % (
            resyncs, gaps, errors))
    desc = ("%d segments removed, %d gaps, %s.resyncs %d; %d untouched entries equal (%d on "
            "connections cut before their first data not compared); %s" % (
                len(dropped), gaps, proto, resyncs, n_untouched, headless, side))
    return problems, desc


def check_late(floe, path, proto, whole, every, tmp):
    """Every Nth data segment lost before the capture point, captured only as a later
    retransmission: the entries are those of the whole capture (reassembly puts the bytes back
    in order); then the retransmissions are removed too, and that cut is checked as the others
    (the untouched entries are found by the segments' sequence numbers, as their times do not
    tell)."""
    linktype, pkts = pcap_cut.read_capture(path)
    out, late = pcap_cut.delay(linktype, pkts, every)
    if not late:
        return None
    late_path = os.path.join(tmp, "late.pcap")
    pcap_cut.write_pcap(late_path, linktype, out)
    entries, _s, _c = floe_read(floe, late_path)
    # Times aside (a message whose first byte was in a moved segment starts later): the same
    # entries, each as often.
    def content(e):
        return json.dumps([ends(e)] + [e.get(k) for k in COMPARED], sort_keys=True)
    want, got = collections.Counter(map(content, whole)), collections.Counter(map(content, entries))
    problems = ["%d× in the whole capture's entries, %d× with segments late: %s" % (
        want[k], got[k], k[:300]) for k in want.keys() | got.keys() if want[k] != got[k]]
    n = sum(min(k, got[c]) for c, k in want.items())  # entries found as often as in the whole
    r = check_cut(floe, late_path, proto, entries, "late", {"burst_at": [(k, 1) for k in late]},
                  tmp)
    if r is None:
        return None
    p, desc = r
    return problems + p, ("%d segments captured late: %d entries equal the whole capture's; "
                          "then those removed: %s" % (len(late), n, desc))


def check_first_fin(floe, path, tmp):
    """The capture ends right after each connection's first FIN: a response delimited by the
    server's close is complete, as in the whole capture, though the client's FIN never came."""
    cut = os.path.join(tmp, "fin.pcap")
    dropped = pcap_cut.cut_file(path, cut, first_fin=True)
    whole, _s, _c = floe_read(floe, path)
    entries, _s, _c = floe_read(floe, cut)
    problems = []
    by_key = {same_key(e): e for e in entries}
    n = 0
    for e in whole:
        if e.get("missing") or e.get("incomplete"):
            continue
        n += 1
        c = by_key.get(same_key(e))
        if c is None:
            problems.append("entry %s is not in the cut file's entries" % e["id"])
            continue
        for k in ("request", "response", "missing", "incomplete", "missing_reason"):
            if e.get(k) != c.get(k):
                problems.append("entry %s: %s: whole %s, cut %s" % (
                    e["id"], k, json.dumps(e.get(k))[:160], json.dumps(c.get(k))[:160]))
                break
    # 100 Continue is part of floe's entry, not a response of its own.
    out = subprocess.run(["tshark", "-r", cut, "-Y", "http.response and http.response.code != 100",
                          "-T", "fields", "-e", "frame.number"], capture_output=True,
                         check=True).stdout
    t_resp = len(out.decode().split())
    mine = sum(1 for e in entries if e.get("response") and not e.get("missing") and
               not e.get("incomplete"))
    if mine < t_resp:
        problems.append("complete responses: tshark %d, floe %d" % (t_resp, mine))
    return problems, ("ends at each connection's first FIN (%d packets removed): %d complete "
                      "entries of the whole capture equal; complete responses: tshark %d, "
                      "floe %d" % (len(dropped), n, t_resp, mine))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES") or
                    os.path.join(os.path.dirname(ROOT), "shared", "captures"))
    ap.add_argument("--extra", nargs="*", default=[],
                    help="more captures, as PROTO:FILE (kafka or amqp)")
    ap.add_argument("--only-extra", action="store_true", help="not the shared captures")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tap = Tap()
    if not shutil.which("tshark"):
        tap.result(True, "captures cut into gaps", skip="tshark is not installed")
        return tap.done()
    if not os.access(a.floe, os.X_OK):
        tap.result(False, "floe binary %s exists (make build/floe)" % a.floe)
        return tap.done()
    files = []
    if not a.only_extra:
        for proto in ("kafka", "amqp"):
            d = os.path.join(a.captures, proto)
            for dp, _dn, fn in os.walk(d):
                files += [(proto, os.path.join(dp, f)) for f in sorted(fn)
                          if f.endswith(CAPTURE_EXT) and f not in SKIP]
        if not files:
            tap.result(True, "captures cut into gaps", skip="no captures in " + a.captures)
    for x in a.extra:
        proto, _, path = x.partition(":")
        files.append((proto, path))
    tmp = tempfile.mkdtemp(prefix="floe-oracle-gaps-")
    try:
        d = os.path.join(a.captures, "http1")
        fin_files = [] if a.only_extra or not os.path.isdir(d) else sorted(
            os.path.join(d, f) for f in os.listdir(d) if f.endswith(CAPTURE_EXT))
        for path in fin_files:
            try:
                problems, desc = check_first_fin(a.floe, path, tmp)
            except pcap_cut.UnsupportedLinkType as e:
                tap.result(True, "%s, first FIN" % os.path.basename(path), skip=str(e))
                continue
            except (RuntimeError, ValueError, subprocess.CalledProcessError) as e:
                tap.result(False, "%s, first FIN: %s" % (os.path.basename(path), e))
                continue
            tap.result(not problems, "%s: %s" % (os.path.basename(path), desc))
            for p in problems[:20]:
                tap.diag(p)
        for proto, path in files:
            name = os.path.basename(path)
            try:
                whole, _s, _c = floe_read(a.floe, path)
            except RuntimeError as e:
                tap.result(False, "%s: %s" % (name, e))
                continue
            for how, args in CUTS:
                try:
                    r = check_cut(a.floe, path, proto, whole, how, args, tmp)
                except pcap_cut.UnsupportedLinkType as e:
                    tap.result(True, "%s, %s" % (name, how), skip=str(e))
                    break
                except (RuntimeError, ValueError, subprocess.CalledProcessError) as e:
                    tap.result(False, "%s, %s: %s" % (name, how, e))
                    continue
                if r is None:
                    continue  # too few segments for this cut
                problems, desc = r
                tap.result(not problems, "%s, %s: %s" % (name, how, desc))
                for p in problems[:20]:
                    tap.diag(p)
                if len(problems) > 20:
                    tap.diag("... %d more" % (len(problems) - 20))
            try:
                r = check_late(a.floe, path, proto, whole, LATE_EVERY, tmp)
            except pcap_cut.UnsupportedLinkType as e:
                r = None
            except (RuntimeError, ValueError, subprocess.CalledProcessError) as e:
                tap.result(False, "%s, retransmitted late: %s" % (name, e))
                r = None
            if r is not None:
                problems, desc = r
                tap.result(not problems, "%s, every %dth data segment retransmitted late: %s" % (
                    name, LATE_EVERY, desc))
                for p in problems[:20]:
                    tap.diag(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
