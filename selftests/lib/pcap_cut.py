#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Cut a capture the way a lossy or late capturer would: drop its first packets (a
connection picked up in the middle), every Nth TCP segment that carries data, or bursts of
them. Reads pcap (either byte order, micro- or nanosecond) and pcapng (one link type);
writes pcap. Python standard library only.

  pcap_cut.py IN OUT --drop-first N
  pcap_cut.py IN OUT --drop-every N [--offset K]
  pcap_cut.py IN OUT --drop-burst START:COUNT [--drop-burst ...]

Data segments are counted over the whole file (all connections), from 0. The last line of
output says how many packets were read, kept and dropped.
"""

import argparse
import struct
import sys


def read_pcap(data):
    """(linktype, [(ts_sec, ts_frac, orig_len, bytes)], nanoseconds)."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break  # cut inside the last record
        pkts.append((sec, frac, orig, data[off:off + incl]))
        off += incl
    return linktype, pkts, nano


def read_pcapng(data):
    """Enhanced and simple packet blocks of a pcapng file, as pcap records (ns)."""
    pkts, ifaces, off, end, linktype = [], [], 0, "<", None
    while off + 12 <= len(data):
        btype = struct.unpack(end + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:  # section header: its byte-order magic decides
            bom = data[off + 8:off + 12]
            end = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack(end + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description: link type, time resolution
            lt = struct.unpack(end + "H", body[:2])[0]
            res = 6
            opt = 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack(end + "HH", body[opt:opt + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    res = body[opt + 4]
                opt += 4 + ((olen + 3) & ~3)
            ifaces.append((lt, res))
            if linktype is None:
                linktype = lt
            elif lt != linktype:
                raise ValueError("interfaces with different link types")
        elif btype == 6:  # enhanced packet
            iface, hi, lo, cap, orig = struct.unpack(end + "IIIII", body[:20])
            _, res = ifaces[iface]
            ticks = (hi << 32) | lo
            if res & 0x80:
                ns = ticks * 10**9 // (1 << (res & 0x7F))
            else:
                ns = ticks * 10**9 // 10**res
            pkts.append((ns // 10**9, ns % 10**9, orig, body[20:20 + cap]))
        elif btype == 3:  # simple packet: no time
            orig = struct.unpack(end + "I", body[:4])[0]
            pkts.append((0, 0, orig, body[4:4 + min(orig, len(body) - 4)]))
        off += blen
    if linktype is None:
        raise ValueError("pcapng without an interface")
    return linktype, pkts, True


def read_capture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    return read_pcap(data)


def write_pcap(path, linktype, pkts, nano):
    with open(path, "wb") as f:
        magic = 0xA1B23C4D if nano else 0xA1B2C3D4
        f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
        for sec, frac, orig, b in pkts:
            f.write(struct.pack("<IIII", sec, frac, len(b), orig))
            f.write(b)


def ip_offset(linktype, b):
    """Offset of the IP header in a frame, or None."""
    if linktype == 1:  # Ethernet, VLAN tags looked through
        off, et = 14, struct.unpack(">H", b[12:14])[0] if len(b) >= 14 else 0
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
    return None


def tcp_payload_len(linktype, b):
    """Bytes of TCP payload in the frame (0 for other frames)."""
    off = ip_offset(linktype, b)
    if off is None or len(b) < off + 20:
        return 0
    ver = b[off] >> 4
    if ver == 4:
        ihl = (b[off] & 15) * 4
        proto = b[off + 9]
        total = struct.unpack(">H", b[off + 2:off + 4])[0]
        l4, end = off + ihl, off + total
    elif ver == 6:
        proto = b[off + 6]
        plen = struct.unpack(">H", b[off + 4:off + 6])[0]
        l4, end = off + 40, off + 40 + plen
    else:
        return 0
    if proto != 6 or len(b) < l4 + 20:
        return 0
    doff = (b[l4 + 12] >> 4) * 4
    return max(0, min(end, len(b)) - (l4 + doff))


def cut(pkts, linktype, drop_first=0, every=0, offset=0, bursts=()):
    kept, dseg = [], 0
    for i, p in enumerate(pkts):
        if i < drop_first:
            continue
        if tcp_payload_len(linktype, p[3]) > 0:
            k = dseg
            dseg += 1
            if every and k >= offset and (k - offset) % every == 0:
                continue
            if any(s <= k < s + n for s, n in bursts):
                continue
        kept.append(p)
    return kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--drop-first", type=int, default=0)
    ap.add_argument("--drop-every", type=int, default=0)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--drop-burst", action="append", default=[])
    a = ap.parse_args()
    bursts = []
    for s in a.drop_burst:
        start, n = s.split(":")
        bursts.append((int(start), int(n)))
    try:
        linktype, pkts, nano = read_capture(a.input)
    except (OSError, ValueError, struct.error) as e:
        sys.exit("pcap_cut.py: %s: %s" % (a.input, e))
    kept = cut(pkts, linktype, a.drop_first, a.drop_every, a.offset, bursts)
    write_pcap(a.output, linktype, kept, nano)
    print("read %d kept %d dropped %d" % (len(pkts), len(kept), len(pkts) - len(kept)))


if __name__ == "__main__":
    main()
