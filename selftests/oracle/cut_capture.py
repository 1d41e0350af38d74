#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Cut a capture: write a copy of a pcap/pcapng file with some packets removed, to make the
capture gaps live traffic has (a ring buffer that overflowed, a tap that started late).

What is removed, by the packets' order in the file:
  --every N[:FIRST]     every Nth TCP segment that carries data (the FIRST-th, default N-th,
                        then every N after it)
  --burst N:LEN         every N data segments, LEN consecutive ones (a burst of loss)
  --udp-queries K       the first K DNS queries over UDP (QR bit clear): their answers arrive
                        unsolicited, as if the capture began after the queries were sent
  --first-fin           every packet of a TCP connection after its first FIN: the capture
                        ends before the other side's FIN

Only Ethernet captures (with 802.1Q tags) are read; the output is a classic pcap with the
input's link type and timestamps in nanoseconds. --dropped FILE writes what was removed as
JSON lines: {"flow": [src, sport, dst, dport], "ts_ns": .., "len": payload bytes, "first": no
data of the connection was kept before it}.

Usage: cut_capture.py IN OUT (--every ... | --burst ... | --udp-queries K | --first-fin)
                      [--dropped FILE]
Python standard library only (run with /usr/bin/python3).
"""

import argparse
import gzip
import ipaddress
import json
import struct
import sys

LINKTYPE_ETHERNET = 1


class NotEthernet(ValueError):
    pass


def read_packets(path):
    """Yield (ts_ns, caplen data, orig_len, linktype) of every packet of a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                 b"\xa1\xb2\x3c\x4d"):
        yield from read_pcap(data)
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)
    else:
        raise ValueError("%s: not a pcap or pcapng file" % path)


def read_pcap(data):
    le = data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    e = "<" if le else ">"
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        yield sec * 10**9 + (frac if nano else frac * 1000), data[off:off + incl], orig, linktype
        off += incl


def read_pcapng(data):
    e = "<"
    ifaces = []  # (linktype, ticks per second)
    off = 0
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            linktype = struct.unpack(e + "H", body[:2])[0]
            tsres = 10**6
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    v = body[o + 4]
                    tsres = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, tsres))
        elif btype == 6:  # enhanced packet
            iface, hi, lo, incl, orig = struct.unpack(e + "IIIII", body[:20])
            linktype, tsres = ifaces[iface]
            ticks = hi << 32 | lo
            yield ticks * 10**9 // tsres, body[20:20 + incl], orig, linktype
        elif btype == 3:  # simple packet
            orig = struct.unpack(e + "I", body[:4])[0]
            yield 0, body[4:4 + orig], orig, ifaces[0][0]
        off += blen


def write_pcap(path, linktype, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        for ts, pkt, orig in packets:
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(pkt), orig))
            f.write(pkt)


def decode(pkt):
    """(proto, src, sport, dst, dport, payload) of an Ethernet frame, or None."""
    if len(pkt) < 14:
        return None
    et = struct.unpack(">H", pkt[12:14])[0]
    off = 14
    while et in (0x8100, 0x88A8) and len(pkt) >= off + 4:
        et = struct.unpack(">H", pkt[off + 2:off + 4])[0]
        off += 4
    if et == 0x0800 and len(pkt) >= off + 20:
        ihl = (pkt[off] & 0x0F) * 4
        total = struct.unpack(">H", pkt[off + 2:off + 4])[0]
        proto = pkt[off + 9]
        src = str(ipaddress.IPv4Address(pkt[off + 12:off + 16]))
        dst = str(ipaddress.IPv4Address(pkt[off + 16:off + 20]))
        end = min(len(pkt), off + total) if total else len(pkt)
        off += ihl
    elif et == 0x86DD and len(pkt) >= off + 40:
        plen = struct.unpack(">H", pkt[off + 4:off + 6])[0]
        proto = pkt[off + 6]
        src = str(ipaddress.IPv6Address(pkt[off + 8:off + 24]))
        dst = str(ipaddress.IPv6Address(pkt[off + 24:off + 40]))
        end = min(len(pkt), off + 40 + plen)
        off += 40
    else:
        return None
    if proto == 6 and end >= off + 20:
        sport, dport = struct.unpack(">HH", pkt[off:off + 4])
        doff = (pkt[off + 12] >> 4) * 4
        return "tcp", src, sport, dst, dport, pkt[off + doff:end], pkt[off + 13]
    if proto == 17 and end >= off + 8:
        sport, dport = struct.unpack(">HH", pkt[off:off + 4])
        return "udp", src, sport, dst, dport, pkt[off + 8:end]
    return None


def parse_pair(text, name):
    a, _, b = text.partition(":")
    try:
        return int(a), int(b) if b else None
    except ValueError:
        sys.exit("cut_capture: %s wants N or N:M, not %r" % (name, text))


def cut(src, dst, every=None, burst=None, udp_queries=0, first_fin=False):
    """Write dst from src less the packets the arguments select; return the removed ones as
    dicts (flow, ts_ns, len)."""
    kept, dropped = [], []
    linktype = None
    n_data = 0
    n_queries = 0
    finished = set()  # connections whose first FIN went by (--first-fin)
    with_data = set()  # connections with data kept so far
    for ts, pkt, orig, lt in read_packets(src):
        if linktype is None:
            linktype = lt
        if lt != LINKTYPE_ETHERNET or lt != linktype:
            raise NotEthernet("%s: only Ethernet captures are cut" % src)
        d = decode(pkt)
        drop = False
        if first_fin and d and d[0] == "tcp":
            conn = frozenset(((d[1], d[2]), (d[3], d[4])))
            drop = conn in finished
            if d[6] & 0x01:
                finished.add(conn)
        elif d and d[0] == "tcp" and d[5]:
            n_data += 1
            if every:
                n, first = every
                first = first or n
                drop = n_data >= first and (n_data - first) % n == 0
            if burst:
                n, length = burst
                drop = drop or (n_data - 1) % n >= n - length
        elif d and d[0] == "udp" and n_queries < udp_queries and len(d[5]) >= 12:
            if 53 in (d[2], d[4]) or 5353 in (d[2], d[4]):
                if not d[5][2] & 0x80:
                    n_queries += 1
                    drop = True
        conn = frozenset(((d[1], d[2]), (d[3], d[4]))) if d else None
        if drop:
            dropped.append({"flow": [d[1], d[2], d[3], d[4]], "ts_ns": ts, "len": len(d[5]),
                            "first": conn not in with_data})
        else:
            kept.append((ts, pkt, orig))
            if d and d[5]:
                with_data.add(conn)
    write_pcap(dst, linktype or LINKTYPE_ETHERNET, kept)
    return dropped


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--every", help="N[:FIRST]")
    ap.add_argument("--burst", help="N:LEN")
    ap.add_argument("--udp-queries", type=int, default=0)
    ap.add_argument("--first-fin", action="store_true")
    ap.add_argument("--dropped", help="write the removed packets here (JSON lines)")
    a = ap.parse_args()
    every = parse_pair(a.every, "--every") if a.every else None
    burst = parse_pair(a.burst, "--burst") if a.burst else None
    if burst and (burst[1] is None or not 0 < burst[1] < burst[0]):
        sys.exit("cut_capture: --burst N:LEN needs 0 < LEN < N")
    dropped = cut(a.src, a.dst, every, burst, a.udp_queries, a.first_fin)
    if a.dropped:
        with open(a.dropped, "w") as f:
            for d in dropped:
                f.write(json.dumps(d) + "\n")
    print("cut_capture: %s: %d packets removed" % (a.dst, len(dropped)), file=sys.stderr)


if __name__ == "__main__":
    main()
