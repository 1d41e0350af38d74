#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Cut a capture the way a lossy or late capturer would: write a copy of a pcap/pcapng file
(gzip-compressed or not) with some packets removed.

What is removed, by the packets' order in the file (options combine; a packet goes when one
of them selects it):
  --first K             the first K packets, whatever they carry (a connection picked up in
                        the middle)
  --every N[:FIRST]     every Nth TCP segment that carries data: the FIRST-th (default the
                        N-th), then every N after it
  --burst N:LEN         in every N data segments, the last LEN (periodic bursts of loss)
  --burst-at START:LEN  the data segments START..START+LEN-1 (one burst; may be repeated)
  --udp-queries K       the first K DNS queries over UDP (QR bit clear): their answers arrive
                        unsolicited, as if the capture began after the queries were sent
  --first-fin           every packet of a TCP connection after its first FIN: the capture
                        ends before the other side's FIN

Data segments are numbered from 1 over the whole file (all connections), counting only the
packets --first left. Link types: Ethernet (802.1Q/802.1ad tags looked through), BSD
loopback, raw IP, Linux cooked v1/v2; a pcapng's interfaces must share one. The output is a
classic pcap with the input's link type and timestamps in nanoseconds. --dropped FILE writes
what was removed as JSON lines: {"flow": [src, sport, dst, dport] or null, "ts_ns": ..,
"len": payload bytes, "seq": the TCP sequence number (0 for UDP), "first": no data of the
connection was kept before it}.

Usage: pcap_cut.py IN OUT [--first K] [--every N[:FIRST]] [--burst N:LEN]
                   [--burst-at START:LEN]... [--udp-queries K] [--first-fin] [--dropped FILE]
As a module: read_capture(), cut(), cut_file(), write_pcap(), data_segments().
Python standard library only (run with /usr/bin/python3).
"""

import argparse
import gzip
import ipaddress
import json
import struct
import sys


class UnsupportedLinkType(ValueError):
    """The capture's link type is not one whose IP header this module can find."""


def read_capture(path):
    """(linktype, [(ts_ns, bytes, orig_len)]) of a pcap or pcapng file, gzip or not."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                    b"\xa1\xb2\x3c\x4d"):
        return read_pcap(data)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data, path)
    raise ValueError("%s: not a pcap or pcapng file" % path)


def read_pcap(data):
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break  # cut inside the last record
        pkts.append((sec * 10**9 + (frac if nano else frac * 1000), data[off:off + incl], orig))
        off += incl
    return linktype, pkts


def read_pcapng(data, path):
    """Enhanced and simple packet blocks; every section's interfaces must share a link type."""
    pkts, ifaces, off, e, linktype = [], [], 0, "<", None
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:  # section header: its byte-order magic decides
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description: link type, time resolution
            lt = struct.unpack(e + "H", body[:2])[0]
            tsres, o = 10**6, 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    v = body[o + 4]
                    tsres = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                o += 4 + ((olen + 3) & ~3)
            ifaces.append(tsres)
            if linktype is None:
                linktype = lt
            elif lt != linktype:
                raise UnsupportedLinkType("%s: interfaces with different link types" % path)
        elif btype == 6:  # enhanced packet
            iface, hi, lo, incl, orig = struct.unpack(e + "IIIII", body[:20])
            pkts.append(((hi << 32 | lo) * 10**9 // ifaces[iface], body[20:20 + incl], orig))
        elif btype == 3:  # simple packet: no time
            orig = struct.unpack(e + "I", body[:4])[0]
            pkts.append((0, body[4:4 + orig], orig))
        off += blen
    if linktype is None:
        raise ValueError("%s: pcapng without an interface" % path)
    return linktype, pkts


def write_pcap(path, linktype, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        for ts, b, orig in pkts:
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(b), orig))
            f.write(b)


def ip_offset(linktype, b):
    """Offset of the IP header in a frame, None when it holds no IP, or UnsupportedLinkType."""
    if linktype == 1:  # Ethernet, VLAN tags looked through
        if len(b) < 14:
            return None
        off, et = 14, struct.unpack(">H", b[12:14])[0]
        while et in (0x8100, 0x88A8) and len(b) >= off + 4:
            et = struct.unpack(">H", b[off + 2:off + 4])[0]
            off += 4
        return off if et in (0x0800, 0x86DD) else None
    if linktype == 0:  # BSD loopback: a 4-byte family in host order
        return 4
    if linktype in (12, 101, 228, 229):  # raw IP
        return 0
    if linktype == 113:  # Linux cooked
        return 16
    if linktype == 276:  # Linux cooked v2
        return 20
    raise UnsupportedLinkType("link type %d is not cut (no IP header found in it)" % linktype)


def decode(linktype, b):
    """(proto, src, sport, dst, dport, payload, tcp flags, tcp sequence number) of a TCP or
    UDP frame (UDP: flags and sequence number 0), or None."""
    off = ip_offset(linktype, b)
    if off is None or len(b) < off + 20:
        return None
    if b[off] >> 4 == 4:
        total = struct.unpack(">H", b[off + 2:off + 4])[0]
        proto = b[off + 9]
        src = str(ipaddress.IPv4Address(b[off + 12:off + 16]))
        dst = str(ipaddress.IPv4Address(b[off + 16:off + 20]))
        end = min(len(b), off + total) if total else len(b)
        off += (b[off] & 0x0F) * 4
    elif b[off] >> 4 == 6 and len(b) >= off + 40:
        proto = b[off + 6]
        src = str(ipaddress.IPv6Address(b[off + 8:off + 24]))
        dst = str(ipaddress.IPv6Address(b[off + 24:off + 40]))
        end = min(len(b), off + 40 + struct.unpack(">H", b[off + 4:off + 6])[0])
        off += 40
    else:
        return None
    if proto == 6 and end >= off + 20:
        sport, dport = struct.unpack(">HH", b[off:off + 4])
        seq = struct.unpack(">I", b[off + 4:off + 8])[0]
        return "tcp", src, sport, dst, dport, b[off + (b[off + 12] >> 4) * 4:end], b[off + 13], seq
    if proto == 17 and end >= off + 8:
        sport, dport = struct.unpack(">HH", b[off:off + 4])
        return "udp", src, sport, dst, dport, b[off + 8:end], 0, 0
    return None


def data_segments(linktype, pkts):
    """How many TCP segments with data the capture has."""
    return sum(1 for p in pkts if (lambda d: d and d[0] == "tcp" and d[5])(decode(linktype, p[1])))


def cut(linktype, pkts, first=0, every=None, burst=None, burst_at=(), udp_queries=0,
        first_fin=False):
    """(kept packets, dropped ones as dicts): see the module's doc for what each selects;
    every = (N, FIRST or None), burst = (N, LEN), burst_at = [(START, LEN)]."""
    kept, dropped = [], []
    n_data = n_queries = 0
    finished = set()  # connections whose first FIN went by (first_fin)
    with_data = set()  # connections with data kept so far
    for i, p in enumerate(pkts):
        d = decode(linktype, p[1])
        conn = frozenset(((d[1], d[2]), (d[3], d[4]))) if d else None
        drop = i < first
        if not drop and d and d[0] == "tcp":
            if first_fin:
                drop = conn in finished
                if d[6] & 0x01:
                    finished.add(conn)
            if d[5]:
                n_data += 1
                if every:
                    n, start = every[0], every[1] if every[1] is not None else every[0]
                    drop = drop or (n_data >= start and (n_data - start) % n == 0)
                if burst:
                    drop = drop or (n_data - 1) % burst[0] >= burst[0] - burst[1]
                drop = drop or any(s <= n_data < s + n for s, n in burst_at)
        elif not drop and d and d[0] == "udp" and n_queries < udp_queries and len(d[5]) >= 12:
            if {53, 5353} & {d[2], d[4]} and not d[5][2] & 0x80:
                n_queries += 1
                drop = True
        if drop:
            dropped.append({"flow": [d[1], d[2], d[3], d[4]] if d else None, "ts_ns": p[0],
                            "len": len(d[5]) if d else 0, "seq": d[7] if d else 0,
                            "first": conn not in with_data})
        else:
            kept.append(p)
            if d and d[5]:
                with_data.add(conn)
    return kept, dropped


def delay(linktype, pkts, every):
    """A capture in which every Nth TCP data segment was lost before the capture point and is
    seen only as its retransmission: the segment moves to just after the next data segment of
    its direction, 1 us later, when that comes before any packet of the other direction (which
    would acknowledge or answer it). Returns (packets, the moved segments' data segment numbers in
    the new order), for cut(burst_at=[(k, 1) ...]) to remove the retransmissions."""
    dec = [decode(linktype, p[1]) for p in pkts]
    data = [i for i, d in enumerate(dec) if d and d[0] == "tcp" and d[5]]
    is_data = set(data)
    after = {}  # index of the packet a moved one follows -> the moved packet
    moved = set()
    for n, i in enumerate(data, 1):
        if n % every or i in moved or i in after:
            continue
        dirn = dec[i][1:5]
        back = (dirn[2], dirn[3], dirn[0], dirn[1])
        nxt = None
        for j in range(i + 1, len(pkts)):
            if dec[j] and dec[j][0] == "tcp" and dec[j][1:5] == back:
                break  # the peer acknowledges or answers what it got: these bytes came before
            if j in is_data and dec[j][1:5] == dirn:
                nxt = j
                break
        if nxt is None or nxt in after or nxt in moved:
            continue
        moved.add(i)
        after[nxt] = (pkts[nxt][0] + 1000,) + tuple(pkts[i][1:])
    out, late, n_data = [], [], 0
    for i, p in enumerate(pkts):
        if i in moved:
            continue
        out.append(p)
        if i in is_data:
            n_data += 1
        if i in after:
            out.append(after[i])
            n_data += 1
            late.append(n_data)
    return out, late


def cut_file(src, dst, **kw):
    """Write dst from src less the packets cut(**kw) selects; return the dropped ones."""
    linktype, pkts = read_capture(src)
    kept, dropped = cut(linktype, pkts, **kw)
    write_pcap(dst, linktype, kept)
    return dropped


def main():
    def pair(text, name):
        a, _, b = text.partition(":")
        try:
            return int(a), int(b) if b else None
        except ValueError:
            sys.exit("pcap_cut.py: %s wants N or N:M, not %r" % (name, text))

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--first", type=int, default=0, metavar="K")
    ap.add_argument("--every", metavar="N[:FIRST]")
    ap.add_argument("--burst", metavar="N:LEN")
    ap.add_argument("--burst-at", action="append", default=[], metavar="START:LEN")
    ap.add_argument("--udp-queries", type=int, default=0, metavar="K")
    ap.add_argument("--first-fin", action="store_true")
    ap.add_argument("--dropped", help="write the removed packets here (JSON lines)")
    a = ap.parse_args()
    burst = pair(a.burst, "--burst") if a.burst else None
    if burst and (burst[1] is None or not 0 < burst[1] < burst[0]):
        sys.exit("pcap_cut.py: --burst N:LEN needs 0 < LEN < N")
    bursts = [pair(s, "--burst-at") for s in a.burst_at]
    if any(n is None for _, n in bursts):
        sys.exit("pcap_cut.py: --burst-at wants START:LEN")
    try:
        linktype, pkts = read_capture(a.src)
        kept, dropped = cut(linktype, pkts, a.first, pair(a.every, "--every") if a.every else None,
                            burst, bursts, a.udp_queries, a.first_fin)
        write_pcap(a.dst, linktype, kept)
    except (OSError, ValueError, struct.error) as e:
        sys.exit("pcap_cut.py: %s" % e)
    if a.dropped:
        with open(a.dropped, "w") as f:
            for d in dropped:
                f.write(json.dumps(d) + "\n")
    print("read %d kept %d dropped %d" % (len(pkts), len(kept), len(dropped)))


if __name__ == "__main__":
    main()
