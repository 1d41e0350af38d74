#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""
Write a pcap of many TCP connections whose HTTP request heads never finish (a slow-loris
client: handshake, ~100 bytes of a request head, then silence) with a few normal HTTP/1.1
exchanges among them. The memory budget tests read it with `floe read`.

  slow_heads_pcap.py OUT.pcap --slow 10000 --normal 20

Layout in time: the normal exchanges are spread evenly among the slow connections (one every
slow/normal openings), each on its own connection (handshake, request, response, FIN both
ways). Slow connection i: 10.1.(i>>8).(i&255):(20000+i%40000) -> 10.9.0.1:80, request
"GET /slow/i"; normal j: 10.2.0.1:(1024+j) -> 10.9.0.1:80, request "GET /ok/j", response
200 with body "ok j". --pad sets the length of the last, unfinished header value (the head
goes out in 1448-byte segments). The ground truth is printed as JSON on stdout:
{"slow": N, "normal": M, "normal_paths": [...]}.

--proto redis: the same to 10.9.0.1:6379 with Redis commands. A slow connection sends
"SET slow:i <bulk string of 1 MiB>" and only --pad bytes of the bulk string; normal j sends
"GET ok:j" and gets the bulk string "ok j" (normal_paths lists the keys).
"""
import argparse
import json
import struct


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


class Writer:
    def __init__(self, f):
        self.f = f
        self.ts_us = 1_700_000_000 * 1_000_000
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet

    def packet(self, src, sport, dst, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        c = csum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000,
                         64, 6, 0, ip4(src), ip4(dst))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp + payload
        self.ts_us += 10
        self.f.write(struct.pack("<IIII", self.ts_us // 1_000_000, self.ts_us % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)


SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10
SERVER = "10.9.0.1"


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


class Http:
    port = 80

    @staticmethod
    def slow_head(i, pad):
        return ("GET /slow/%d HTTP/1.1\r\nHost: server\r\nUser-Agent: slow-heads\r\n"
                "X-Pad: %s" % (i, "a" * pad)).encode()

    @staticmethod
    def exchange(j):
        body = ("ok %d" % j).encode()
        return ("/ok/%d" % j, ("GET /ok/%d HTTP/1.1\r\nHost: server\r\n\r\n" % j).encode(),
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


class Redis:
    port = 6379

    @staticmethod
    def slow_head(i, pad):
        return b"*3\r\n" + bulk(b"SET") + bulk(b"slow:%d" % i) + b"$1048576\r\n" + b"a" * pad

    @staticmethod
    def exchange(j):
        key = b"ok:%d" % j
        return (key.decode(), b"*2\r\n" + bulk(b"GET") + bulk(key), bulk(b"ok %d" % j))


def handshake(w, cli, cport, port):
    w.packet(cli, cport, SERVER, port, 1000, 0, SYN)
    w.packet(SERVER, port, cli, cport, 5000, 1001, SYN | ACK)
    w.packet(cli, cport, SERVER, port, 1001, 5001, ACK)


def slow(w, proto, i, pad):
    cli = "10.1.%d.%d" % (i >> 8 & 255, i & 255)
    cport, port = 20000 + i % 40000, proto.port
    handshake(w, cli, cport, port)
    head = proto.slow_head(i, pad)
    for off in range(0, len(head), 1448):  # MSS-sized segments, each acknowledged
        seg = head[off:off + 1448]
        w.packet(cli, cport, SERVER, port, 1001 + off, 5001, PSH | ACK, seg)
        w.packet(SERVER, port, cli, cport, 5001, 1001 + off + len(seg), ACK)


def normal(w, proto, j):
    cli, cport, port = "10.2.0.1", 1024 + j, proto.port
    handshake(w, cli, cport, port)
    name, req, resp = proto.exchange(j)
    c, s = 1001, 5001
    w.packet(cli, cport, SERVER, port, c, s, PSH | ACK, req)
    c += len(req)
    w.packet(SERVER, port, cli, cport, s, c, PSH | ACK, resp)
    s += len(resp)
    w.packet(cli, cport, SERVER, port, c, s, FIN | ACK)
    w.packet(SERVER, port, cli, cport, s, c + 1, FIN | ACK)
    w.packet(cli, cport, SERVER, port, c + 1, s + 1, ACK)
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--slow", type=int, default=10000)
    ap.add_argument("--normal", type=int, default=20)
    ap.add_argument("--pad", type=int, default=40,
                    help="bytes of the unfinished header value (redis: bulk string)")
    ap.add_argument("--proto", choices=["http", "redis"], default="http")
    a = ap.parse_args()
    proto = Redis if a.proto == "redis" else Http
    every = max(1, a.slow // max(1, a.normal))
    paths = []
    with open(a.out, "wb") as f:
        w = Writer(f)
        for i in range(a.slow):
            slow(w, proto, i, a.pad)
            if (i + 1) % every == 0 and len(paths) < a.normal:
                paths.append(normal(w, proto, len(paths)))
        while len(paths) < a.normal:
            paths.append(normal(w, proto, len(paths)))
    print(json.dumps({"slow": a.slow, "normal": a.normal, "normal_paths": paths}))


if __name__ == "__main__":
    main()
