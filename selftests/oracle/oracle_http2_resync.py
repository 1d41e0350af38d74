#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test: HTTP/2 and gRPC picked up mid-connection and with segments lost, floe read
against tshark on the same cut files.

Every HTTP/2 and gRPC capture under <captures>/{http2,grpc} (and any --extra FILE, taken as
HTTP/2 with prior knowledge) is cut by selftests/lib/pcap_cut.py into a temp dir:

  first-K    its first K packets dropped, at several K (the connection is picked up in the
             middle: no handshake, no preface, no SETTINGS, HPACK tables unknown)
  every-N    every Nth TCP segment that carries data dropped
  burst      a run of data segments dropped

and each cut file is dissected by tshark (with and without -d tcp.port==P,http2 for the
server ports floe found in the whole file: forcing http2 hides an HTTP/1.1 upgrade, not
forcing it hides a connection picked up in the middle; the union counts) and by
`floe read --json`. Required, per file:

  - every stream to which tshark shows a response :status is a floe entry (same connection
    and stream id) with that status: floe finds at least as many responses with a status;
  - every floe entry is a stream of the whole file (tshark on the uncut file), with its
    status there (floe invents none, and guesses no header);
  - gRPC: per connection, floe decodes at least as many messages as tshark shows.

Output: TAP lines, the counts side by side, and a last line "N passed, N failed".
Usage: oracle_http2_resync.py [--floe PATH] [--captures DIR] [--extra FILE]... [-v]
Only the Python standard library (run with /usr/bin/python3).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcap_cut  # noqa: E402

TIMEOUT = 600


def pairs(obj):
    """tshark's JSON keeps repeated keys: objects are lists of (key, value)."""
    return obj if isinstance(obj, list) and (not obj or isinstance(obj[0], tuple)) else []


def get(obj, key):
    for k, v in pairs(obj):
        if k == key:
            return v
    return None


def get_all(obj, key):
    return [v for k, v in pairs(obj) if k == key]


def conn_key(a, b):
    return tuple(sorted([a, b]))


def tshark_view(path, ports):
    """{conn: {sid: status}}, {conn: set(sid)}, {conn: grpc message count}. With ports and
    without (an HTTP/1.1 upgrade left in the file hides behind a forced http2), merged."""
    views = [tshark_once(path, ports)]
    if ports:
        views.append(tshark_once(path, set()))
    status, streams, grpc = {}, {}, {}
    for st, sm, gr in views:
        for c, m in st.items():
            for sid, v in m.items():
                status.setdefault(c, {}).setdefault(sid, v)
        for c, m in sm.items():
            streams.setdefault(c, set()).update(m)
        for c, k in gr.items():
            grpc[c] = max(grpc.get(c, 0), k)
    return status, streams, grpc


def tshark_once(path, ports):
    args = ["tshark", "-r", path, "-T", "json", "-J", "ip ipv6 tcp http2 grpc"]
    for p in sorted(ports):
        args += ["-d", "tcp.port==%d,http2" % p]
    out = subprocess.run(args, capture_output=True, timeout=TIMEOUT, check=True).stdout
    status, streams, grpc = {}, {}, {}
    for pkt in json.loads(out or b"[]", object_pairs_hook=lambda p: p):
        layers = get(get(pkt, "_source"), "layers")
        ip = get(layers, "ip") or get(layers, "ipv6")
        tcp = get(layers, "tcp")
        if ip is None or tcp is None:
            continue
        src = get(ip, "ip.src") or get(ip, "ipv6.src")
        dst = get(ip, "ip.dst") or get(ip, "ipv6.dst")
        conn = conn_key((src, int(get(tcp, "tcp.srcport"))), (dst, int(get(tcp, "tcp.dstport"))))
        for h2 in get_all(layers, "http2"):
            for st in get_all(h2, "http2.stream"):
                sid = get(st, "http2.streamid")
                if sid is None or int(sid) == 0:
                    continue
                sid = int(sid)
                streams.setdefault(conn, set()).add(sid)
                if get(st, "http2.type") != "1":
                    continue
                for hd in get_all(st, "http2.header"):
                    if get(hd, "http2.header.name") == ":status":
                        v = get(hd, "http2.header.value")
                        if v and v.isdigit() and int(v) >= 200:
                            status.setdefault(conn, {}).setdefault(sid, int(v))
        for g in get_all(layers, "grpc"):
            grpc[conn] = grpc.get(conn, 0) + len(get_all(g, "grpc.message_length"))
    return status, streams, grpc


def floe_entries(floe, path):
    r = subprocess.run([floe, "read", path, "--json"], capture_output=True, timeout=TIMEOUT)
    ents = [json.loads(line) for line in r.stdout.split(b"\n") if line.strip()]
    return [e for e in ents if e.get("version") == "2"], ents


def e_conn(e):
    return conn_key((e["src"]["ip"], e["src"]["port"]), (e["dst"]["ip"], e["dst"]["port"]))


def decoded_messages(e):
    g = e.get("grpc") or {}
    n = 0
    for key in ("request_messages", "response_messages"):
        for m in g.get(key, []):
            if not m.get("incomplete"):
                n += 1
    # past the messages listed, the counts say how many more completed
    return n + max(0, g.get("request_count", 0) - len(g.get("request_messages", []))) + \
        max(0, g.get("response_count", 0) - len(g.get("response_messages", [])))


# A known limit, not of HTTP/2's: when the cut loses an h2c upgrade's request or its 101,
# the HTTP/1 dissector keeps the connection (it hands over only on a 101 answering an
# Upgrade: h2c request it saw), so what follows is not dissected as HTTP/2.
UPGRADE_CUT = "h2c upgrade cut (its request or 101 lost): HTTP/1 keeps the connection"


def compare(rel, variant, floe, path, ports, whole, upgrades):
    """whole: tshark's view of the uncut file (what floe's entries must be part of);
    upgrades: connections that begin with an h2c upgrade there."""
    t_status, t_streams, t_grpc = tshark_view(path, ports)
    w_status, w_streams, _ = whole
    ents, every = floe_entries(floe, path)
    h2conns = {e_conn(e) for e in ents}
    diffs, expected = [], []
    f_status = {}
    f_grpc = {}
    for e in ents:
        c = e_conn(e)
        sid = e.get("stream_id")
        st = (e.get("response") or {}).get("status")
        if st is not None:
            f_status.setdefault(c, {})[sid] = st
        if e.get("protocol") == "grpc":
            f_grpc[c] = f_grpc.get(c, 0) + decoded_messages(e)
        if sid not in w_streams.get(c, set()):
            diffs.append("floe entry on stream %s of %s: not a stream of the whole file" %
                         (sid, c))
        elif st is not None and w_status.get(c, {}).get(sid, st) != st:
            diffs.append("%s stream %s: floe :status %s, the whole file has %s" %
                         (c, sid, st, w_status[c][sid]))
    nt = sum(len(v) for v in t_status.values())
    nf = sum(len(v) for v in f_status.values())
    for c, m in t_status.items():
        for sid, st in m.items():
            got = f_status.get(c, {}).get(sid)
            if got != st:
                d = "%s stream %d: tshark :status %d, floe %s" % (c, sid, st, got)
                if c in upgrades and c not in h2conns:
                    expected.append(d)
                else:
                    diffs.append(d)
    gt = sum(t_grpc.values())
    gf = sum(f_grpc.values())
    for c, n in t_grpc.items():
        if f_grpc.get(c, 0) < n:
            diffs.append("%s: tshark %d gRPC messages, floe %d" % (c, n, f_grpc.get(c, 0)))
    line = "%s [%s]: responses with a status: tshark %d, floe %d; gRPC messages: tshark %d, " \
        "floe %d; floe entries %d" % (rel, variant, nt, nf, gt, gf, len(ents))
    return line, diffs, expected, (nt, nf)


def variants(path):
    """(name, pcap_cut arguments) for a capture: several cuts of its start, then losses."""
    linktype, pkts = pcap_cut.read_capture(path)
    n = len(pkts)
    data = pcap_cut.data_segments(linktype, pkts)
    out = []
    for k in sorted({3, 5, 8, n // 4, n // 2}):
        if 0 < k < n:
            out.append(("first-%d" % k, dict(first=k)))
    # (data segments are numbered from 1: "every-3+1" drops the 2nd, 5th, 8th, ...)
    for every, off in ((3, 1), (5, 2), (7, 0)):
        if data > every:
            out.append(("every-%d+%d" % (every, off), dict(every=(every, off + 1))))
    if data > 6:
        out.append(("burst-%d:3" % (data // 3), dict(burst_at=[(data // 3 + 1, 3)])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--floe", default=os.path.join(HERE, "..", "..", "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get(
        "FLOE_CAPTURES", os.path.join(HERE, "..", "..", "..", "shared", "captures")))
    ap.add_argument("--extra", action="append", default=[])
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    files = []
    for sub in ("http2", "grpc"):
        for p in sorted(glob.glob(os.path.join(a.captures, sub, "**", "*"), recursive=True)):
            if os.path.isfile(p) and p.endswith((".pcap", ".pcapng")):
                files.append((os.path.relpath(p, a.captures), p, False))
    files += [(os.path.basename(p), p, True) for p in a.extra]
    n = passed = failed = 0
    tot_t = tot_f = 0
    if not shutil.which("tshark") or not files:
        print("ok 1 - HTTP/2 resync against tshark # SKIP %s" %
              ("no tshark" if files else "no captures at " + a.captures))
        print("0 passed, 0 failed, 1 skipped")
        return 0
    tmp = tempfile.mkdtemp(prefix="floe-h2resync-")
    try:
        for rel, path, prior in files:
            whole, _ = floe_entries(a.floe, path)
            if not whole:
                n += 1
                print("ok %d - %s # SKIP floe sees no HTTP/2 in it (TLS)" % (n, rel))
                continue
            ports = {e["dst"]["port"] for e in whole}
            upgrade = any(e.get("upgrade") == "h2c" for e in whole)
            linktype, pkts = pcap_cut.read_capture(path)
            w_view = tshark_view(path, ports if prior or not upgrade else set())
            upgrades = {e_conn(e) for e in whole if e.get("upgrade") == "h2c"}
            for name, kw in variants(path):
                out = os.path.join(tmp, "%s.%s.pcap" % (rel.replace("/", "_"), name))
                pcap_cut.write_pcap(out, linktype, pcap_cut.cut(linktype, pkts, **kw)[0])
                # an h2c upgrade still in the file is HTTP/1.1 tshark must see as such
                n += 1
                try:
                    line, diffs, expected, (nt, nf) = compare(rel, name, a.floe, out, ports,
                                                              w_view, upgrades)
                except (subprocess.SubprocessError, ValueError) as e:
                    failed += 1
                    print("not ok %d - %s [%s]: %s" % (n, rel, name, e))
                    continue
                tot_t += nt
                tot_f += nf
                if diffs:
                    failed += 1
                    print("not ok %d - %s" % (n, line))
                    for d in diffs[:20 if not a.v else len(diffs)]:
                        print("#   " + d)
                    if len(diffs) > 20 and not a.v:
                        print("#   ... %d more (-v shows all)" % (len(diffs) - 20))
                else:
                    passed += 1
                    print("ok %d - %s" % (n, line))
                if expected:
                    print("#   %d expected difference(s), because: %s" %
                          (len(expected), UPGRADE_CUT))
                    for d in expected[:5]:
                        print("#     " + d)
        print("# all cut files: responses with a status: tshark %d, floe %d" % (tot_t, tot_f))
    finally:
        if a.keep:
            print("# kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
