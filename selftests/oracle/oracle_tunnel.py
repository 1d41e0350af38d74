#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for CONNECT tunnels: the real HTTP/1, HTTP/2 and gRPC captures carried again
inside HTTP/1.1 CONNECT tunnels, in a capture this script writes at run time.

No shared capture has a CONNECT tunnel (see SOURCES.md there), so for every capture under
<captures>/{http1,http2,grpc}:

- tshark follows each TCP connection that starts with its handshake and lost nothing
  (`-z follow,tcp,raw,N`: each direction's bytes in order, tshark's own reassembly);
- a new capture gets, per such connection, a client -> proxy connection with a handshake,
  `CONNECT <server address>:<port>`, `200 Connection established`, then those bytes in the
  same order and directions, then FINs;
- `floe read --json` of the original and of the new capture: every entry of a followed
  connection must be, in the same order, an entry inside its tunnel with the same fields
  (all but those naming the connection and the times: id, flow_id, src, dst, request_time,
  response_time, elapsed_ms, interim times), with tunnel.id the CONNECT's entry id and
  tunnel.authority the original server; each CONNECT's tunnel_kind is `cleartext`, or `tls`
  for a connection whose client starts with a TLS ClientHello; and floe has no other entry;
- tshark on the new capture sees the CONNECTs (target host and port) and their 200s.

What floe makes of the original captures is checked against tshark by oracle.py; here the
question is only whether a tunnel changes anything.

Output is TAP-like: "ok N - ..." / "not ok N - ...", "#" diagnostics, and the last line
"N passed, N failed". Exit status 1 when anything failed.

Usage: oracle_tunnel.py [--floe PATH] [--captures DIR] [-v] [--keep]
Only the Python standard library is used (run with /usr/bin/python3).
"""
import argparse
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUBDIRS = ("http1", "http2", "grpc")
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")
CLIENT, PROXY, PROXY_PORT = "10.99.0.1", "10.99.0.2", 3128
MSS = 1400
# Fields that name the connection or depend on packet times: not compared.
NOT_COMPARED = ("id", "flow_id", "src", "dst", "request_time", "response_time", "elapsed_ms", "tunnel",
                "handshake_ms")  # TLS: from packet times, which the rewrapped capture changes

sys.path.insert(0, HERE)
from oracle import Tap, csum  # noqa: E402


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        raise RuntimeError("%s: exit %d: %s" % (cmd[0], r.returncode, r.stderr.decode(errors="replace")[:300]))
    return r.stdout.decode(errors="replace")


# --------------------------------------------------------------------------- tshark side
def followable(path):
    """tcp.stream numbers whose first packet is a SYN and that lost no segment."""
    out = run(["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream", "-e", "tcp.flags.syn",
               "-e", "tcp.flags.ack", "-e", "tcp.analysis.lost_segment",
               "-e", "tcp.analysis.ack_lost_segment", "-Y", "tcp"])
    first, lost = {}, set()
    for line in out.splitlines():
        c = line.split("\t") + [""] * 5
        if not c[0]:
            continue
        s = int(c[0])
        first.setdefault(s, (c[1] in ("1", "True"), c[2] in ("1", "True")))
        if c[3] or c[4]:
            lost.add(s)
    return sorted(s for s, (syn, ack) in first.items() if syn and not ack and s not in lost)


def follow(path, streams):
    """{stream: (client "ip:port", server "ip:port", [(dir, bytes)])} with dir 0 = client."""
    cmd = ["tshark", "-q", "-r", path]
    for s in streams:
        cmd += ["-z", "follow,tcp,raw,%d" % s]
    out = run(cmd)
    res, cur = {}, None
    for line in out.split("\n"):
        if line.startswith("Filter: tcp.stream eq "):
            cur = int(line.split()[-1])
            res[cur] = [None, None, []]
        elif cur is None:
            continue
        elif line.startswith("Node 0: "):
            res[cur][0] = line[8:].strip()
        elif line.startswith("Node 1: "):
            res[cur][1] = line[8:].strip()
        elif line.startswith("====="):
            cur = None
        elif line.strip():
            d = 1 if line.startswith("\t") else 0
            chunk = bytes.fromhex(line.strip())
            chunks = res[cur][2]
            if chunks and chunks[-1][0] == d:
                chunks[-1] = (d, chunks[-1][1] + chunk)
            else:
                chunks.append((d, chunk))
    return res


def split_addr(s):
    """"10.0.0.1:80" / "[fd00::1]:80" / "fd00::1:80" -> (ip, port)."""
    host, _, port = s.rpartition(":")
    return str(ipaddress.ip_address(host.strip("[]"))), int(port)


# --------------------------------------------------------------------------- the new capture
class Writer:
    """A pcap (Ethernet, IPv4, TCP) of client -> proxy connections, 1 ms between packets."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        self.t = 1700000000 * 1000000

    def packet(self, src, sport, dst, dport, seq, ack, flags, payload=b""):
        sa, da = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4,
                          flags, 65535, 0, 0) + payload
        tcp = tcp[:16] + struct.pack("!H", csum(sa + da + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, sa, da)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp
        self.t += 1000
        self.f.write(struct.pack("<IIII", self.t // 1000000, self.t % 1000000, len(frame), len(frame)))
        self.f.write(frame)

    def connection(self, port, chunks):
        """A handshake, the chunks [(dir, bytes)] (dir 0: client to proxy), FINs."""
        seq = [1000, 5000]
        ends = ((CLIENT, port, PROXY, PROXY_PORT), (PROXY, PROXY_PORT, CLIENT, port))
        self.packet(*ends[0], seq[0], 0, 0x02)
        self.packet(*ends[1], seq[1], seq[0] + 1, 0x12)
        seq = [seq[0] + 1, seq[1] + 1]
        self.packet(*ends[0], seq[0], seq[1], 0x10)
        for d, data in chunks:
            for i in range(0, len(data), MSS):
                seg = data[i:i + MSS]
                self.packet(*ends[d], seq[d], seq[1 - d], 0x18, seg)
                seq[d] += len(seg)
        self.packet(*ends[0], seq[0], seq[1], 0x11)
        self.packet(*ends[1], seq[1], seq[0] + 1, 0x11)
        self.packet(*ends[0], seq[0] + 1, seq[1] + 1, 0x10)

    def close(self):
        self.f.close()


def authority(ip, port):
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


# --------------------------------------------------------------------------- floe side
def floe_entries(floe, path):
    out = run([floe, "read", "--json", "-q", path])
    return [json.loads(line) for line in out.split("\n") if line.strip()]


def seq_of(e):
    return int(e["id"].rsplit("-", 1)[1])


def project(e):
    """The entry without what names its connection or depends on packet times."""
    p = {k: v for k, v in e.items() if k not in NOT_COMPARED}
    if isinstance(p.get("interim"), list):
        p["interim"] = [{k: v for k, v in i.items() if k != "time"} for i in p["interim"]]
    return p


def first_diff(a, b, path=""):
    if type(a) is not type(b):
        return "%s: %r vs %r" % (path or ".", a, b)
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return "%s.%s: only in the %s" % (path, k, "original" if k in a else "tunnel")
            d = first_diff(a[k], b[k], path + "." + k)
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: %d vs %d elements" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %r vs %r" % (path or ".", str(a)[:80], str(b)[:80])


def check_capture(path, floe, tmp, tap, verbose):
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    streams = followable(path)
    if not streams:
        tap.result(True, "%s: tunnelled" % name, skip="no connection with its handshake and no loss")
        return
    flows = follow(path, streams)
    wrapped = os.path.join(tmp, os.path.basename(path).split(".")[0] + "-tunnelled.pcap")
    w = Writer(wrapped)
    conns = []  # (client port in the new capture, client (ip, port), server (ip, port), chunks)
    for i, s in enumerate(streams):
        client, server, chunks = flows[s]
        if not client or not server:
            continue
        sip, sport = split_addr(server)
        target = authority(sip, sport)
        head = [(0, ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode()),
                (1, b"HTTP/1.1 200 Connection established\r\n\r\n")]
        port = 20000 + i
        w.connection(port, head + chunks)
        conns.append((port, split_addr(client), (sip, sport), chunks))
    w.close()

    orig = floe_entries(floe, path)
    tun = floe_entries(floe, wrapped)
    problems, n_inside, n_tls = [], 0, 0
    by_port = {}
    for e in tun:
        by_port.setdefault(e["src"]["port"], []).append(e)
    for port, client, server, chunks in conns:
        mine = sorted(by_port.pop(port, []), key=seq_of)
        want = sorted([e for e in orig if (e["src"]["ip"], e["src"]["port"]) == client and
                       (e["dst"]["ip"], e["dst"]["port"]) == server], key=seq_of)
        if not mine or mine[0].get("request", {}).get("method") != "CONNECT":
            problems.append("%s: no CONNECT entry first" % (client,))
            continue
        c, inside = mine[0], mine[1:]
        first = next((b for d, b in chunks if d == 0), b"")
        tls = len(first) >= 6 and first[0] == 22 and first[1] == 3 and first[5] == 1
        kind = "tls" if tls else ("cleartext" if chunks else "empty")
        n_tls += tls
        if c.get("tunnel_kind") != kind or c.get("response", {}).get("status") != 200:
            problems.append("%s: CONNECT %s kind %r, want %r" % (client, c.get("response", {}).get("status"),
                                                                 c.get("tunnel_kind"), kind))
        if len(inside) != len(want):
            problems.append("%s -> %s: %d entries inside the tunnel, %d in the original"
                            % (client, server, len(inside), len(want)))
        for a, b in zip(want, inside):
            t = b.get("tunnel") or {}
            if t.get("id") != c["id"] or t.get("authority") != authority(*server):
                problems.append("%s: tunnel %r, want id %s authority %s" % (b["id"], t, c["id"], authority(*server)))
            d = first_diff(project(a), project(b))
            if d:
                problems.append("%s (original %s): %s" % (b["id"], a["id"], d))
        n_inside += len(inside)
    for port, es in by_port.items():
        problems += ["an entry of no tunnel: %s" % e["id"] for e in es]
    desc = "%s: %d connections in CONNECT tunnels (%d TLS), %d entries inside equal to the original's" % (
        name, len(conns), n_tls, n_inside)
    tap.result(not problems, desc)
    for p in problems[:20]:
        tap.diag("  " + p)

    # tshark on the new capture: the CONNECTs and their answers.
    out = run(["tshark", "-r", wrapped, "-Y", "http.request.method == \"CONNECT\" || "
               "(http.response.code == 200 && tcp.srcport == %d)" % PROXY_PORT, "-T", "fields",
               "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "http.request.method",
               "-e", "http.request.uri", "-e", "http.response.code"])
    seen = set()
    for line in out.splitlines():
        c = line.split("\t") + [""] * 5
        if c[2] == "CONNECT":
            seen.add(("connect", int(c[0]), c[3]))
        elif c[4] == "200":
            seen.add(("200", int(c[1]), None))
    want = {("connect", p, authority(*srv)) for p, _, srv, _ in conns} | {("200", p, None) for p, _, _, _ in conns}
    tap.result(seen == want, "%s: tshark sees the %d CONNECTs (target) and their 200s" % (name, len(conns)))
    if seen != want:
        tap.diag("  tshark only: %s" % sorted(seen - want, key=str)[:10])
        tap.diag("  missing: %s" % sorted(want - seen, key=str)[:10])
    if verbose:
        tap.diag("  %s" % wrapped)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get(
        "FLOE_CAPTURES", os.path.join(os.path.dirname(ROOT), "shared", "captures")))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the tunnelled captures")
    args = ap.parse_args()
    tap = Tap()
    files = []
    for sub in SUBDIRS:
        d = os.path.join(args.captures, sub)
        for top, _, names in os.walk(d):
            files += [os.path.join(top, n) for n in names if n.endswith(CAPTURE_EXT)]
    if not shutil.which("tshark"):
        tap.result(True, "captures in CONNECT tunnels", skip="tshark is not installed")
    elif not files:
        tap.result(True, "captures in CONNECT tunnels", skip="no captures in %s" % args.captures)
    elif not os.access(args.floe, os.X_OK):
        tap.result(False, "floe binary %s exists (make build/floe)" % args.floe)
    else:
        tmp = tempfile.mkdtemp(prefix="floe-oracle-tunnel-")
        try:
            for f in sorted(files):
                try:
                    check_capture(f, args.floe, tmp, tap, args.verbose)
                except (RuntimeError, ValueError, KeyError) as err:
                    tap.result(False, "%s: %s" % (os.path.relpath(f), err))
        finally:
            if args.keep:
                tap.diag("tunnelled captures kept in %s" % tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
