#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A scripted Kafka broker for floe's tests: NOT Apache Kafka.

No Kafka broker can be installed on the test machines (Debian has none; the npm registry has
only clients), so the live Kafka test runs a real client (kcat, i.e. librdkafka) against this
peer. It speaks the Kafka wire protocol just far enough for kcat to list metadata, produce
(any compression, acks 0/1/all), consume from the beginning (ListOffsets, Fetch) and run a
balanced consumer group of one member (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
OffsetFetch, OffsetCommit, LeaveGroup): one broker (node 0), topics created on first use with
one partition, record batches kept in memory as the producer sent them (their base offset
rewritten) and handed back by Fetch.

Every request and its response are logged as one JSON line (--log): time, client address and
port, api_key, api_version, correlation_id, client_id, topics, partitions, records (produced
or fetched), error (the first non-zero error code of the response, else 0), acks (Produce),
no_response (acks=0: nothing is sent back), sizes of request and response on the wire,
send_failed (the client closed or reset the connection before the response could be written).

Versions: ApiVersions answers with the ranges below (--max KEY=V lowers one), so the client
picks the highest both sides know; the encoders handle every version up to those.

usage: kafka_peer.py --listen ADDR --port PORT [--log FILE] [--max KEY=V ...]
Python standard library only.
"""

import argparse
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

# api key -> (name, max version the peer speaks, first flexible version or None)
APIS = {
    0: ("Produce", 9, 9),
    1: ("Fetch", 12, 12),
    2: ("ListOffsets", 7, 6),
    3: ("Metadata", 12, 9),
    8: ("OffsetCommit", 8, 8),
    9: ("OffsetFetch", 7, 6),
    10: ("FindCoordinator", 3, 3),
    11: ("JoinGroup", 7, 6),
    12: ("Heartbeat", 4, 4),
    13: ("LeaveGroup", 4, 4),
    14: ("SyncGroup", 5, 4),
    18: ("ApiVersions", 3, 3),
    22: ("InitProducerId", 4, 2),
}

LOCK = threading.Lock()
LOGF = None


# --------------------------------------------------------------------------- encoding
class W:
    def __init__(self, flex):
        self.b = bytearray()
        self.flex = flex

    def i8(self, v):
        self.b += struct.pack(">b", v)

    def i16(self, v):
        self.b += struct.pack(">h", v)

    def i32(self, v):
        self.b += struct.pack(">i", v)

    def i64(self, v):
        self.b += struct.pack(">q", v)

    def uvar(self, v):
        while True:
            c = v & 0x7F
            v >>= 7
            self.b.append(c | (0x80 if v else 0))
            if not v:
                return

    def str(self, s):
        if s is None:
            if self.flex:
                self.uvar(0)
            else:
                self.i16(-1)
            return
        e = s.encode()
        if self.flex:
            self.uvar(len(e) + 1)
        else:
            self.i16(len(e))
        self.b += e

    def bytes(self, b):
        if b is None:
            if self.flex:
                self.uvar(0)
            else:
                self.i32(-1)
            return
        if self.flex:
            self.uvar(len(b) + 1)
        else:
            self.i32(len(b))
        self.b += b

    def array(self, items, fn):
        if items is None:
            if self.flex:
                self.uvar(0)
            else:
                self.i32(-1)
            return
        if self.flex:
            self.uvar(len(items) + 1)
        else:
            self.i32(len(items))
        for it in items:
            fn(it)

    def tags(self):
        if self.flex:
            self.uvar(0)


class R:
    def __init__(self, b, flex=False):
        self.b = b
        self.o = 0
        self.flex = flex

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("short")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvar(self):
        v = s = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << s
            if not c & 0x80:
                return v
            s += 7

    def str(self, legacy=False):
        n = self.i16() if legacy or not self.flex else self.uvar() - 1
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes(self):
        n = self.i32() if not self.flex else self.uvar() - 1
        return None if n < 0 else bytes(self.take(n))

    def array(self, fn):
        n = self.i32() if not self.flex else self.uvar() - 1
        return None if n < 0 else [fn() for _ in range(n)]

    def tags(self):
        if self.flex:
            for _ in range(self.uvar()):
                self.uvar()
                self.take(self.uvar())

    def uuid(self):
        return bytes(self.take(16))


# --------------------------------------------------------------------------- broker state
class Log:
    def __init__(self):
        self.batches = []  # (base offset, bytes, count)
        self.next = 0


class Broker:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.topics = {}   # name -> Log (one partition)
        self.ids = {}      # name -> 16-byte topic id
        self.offsets = {}  # (group, topic, partition) -> committed offset
        self.members = {}  # group -> {member id: metadata}
        self.generation = {}
        self.assign = {}   # (group, member) -> assignment bytes
        self.seq = 0

    def topic(self, name, create=True):
        if name not in self.topics and create:
            self.topics[name] = Log()
            self.ids[name] = os.urandom(16)
        return self.topics.get(name)

    def append(self, name, records):
        """Store the record batches of a produce request; returns (base offset, count)."""
        log = self.topic(name)
        base = log.next
        r, total = 0, 0
        while r + 61 <= len(records):
            blen = struct.unpack(">i", records[r + 8:r + 12])[0]
            batch = bytearray(records[r:r + 12 + blen])
            count = struct.unpack(">i", batch[57:61])[0] if batch[16] == 2 else 1
            batch[0:8] = struct.pack(">q", log.next)
            log.batches.append((log.next, bytes(batch), count))
            log.next += count
            total += count
            r += 12 + blen
        return base, total

    def read(self, name, offset, max_bytes):
        log = self.topics.get(name)
        if not log:
            return b"", 0
        out, n = bytearray(), 0
        for base, batch, count in log.batches:
            if base + count <= offset:
                continue
            if out and len(out) + len(batch) > max_bytes:
                break
            out += batch
            n += count
        return bytes(out), n


# --------------------------------------------------------------------------- handlers
def h_api_versions(b, v, r, w, log):
    if v >= 3:
        r.str()
        r.str()
        r.tags()
    w.i16(0)
    w.array(sorted(APIS), lambda k: (w.i16(k), w.i16(0), w.i16(b.max.get(k, APIS[k][1])), w.tags()))
    if v >= 1:
        w.i32(0)
    w.tags()


def h_metadata(b, v, r, w, log):
    def topic():
        tid = r.uuid() if v >= 10 else None
        name = r.str()
        r.tags()
        return name
    names = r.array(topic)
    if v >= 4:
        r.i8()
    if 8 <= v <= 10:
        r.i8()
    if v >= 8:
        r.i8()
    r.tags()
    if v == 0 and names == []:
        names = None
    if names is None:
        names = sorted(b.topics)
    for n in names:
        b.topic(n)
    log["topics"] = names
    if v >= 3:
        w.i32(0)
    w.array([0], lambda n: (w.i32(0), w.str(b.host), w.i32(b.port), v >= 1 and w.str(None), w.tags()))
    if v >= 2:
        w.str("floe-peer-cluster")
    if v >= 1:
        w.i32(0)

    def t(n):
        w.i16(0)
        w.str(n)
        if v >= 10:
            w.b += b.ids[n]
        if v >= 1:
            w.i8(0)

        def p(i):
            w.i16(0)
            w.i32(i)
            w.i32(0)
            if v >= 7:
                w.i32(0)
            w.array([0], w.i32)
            w.array([0], w.i32)
            if v >= 5:
                w.array([], w.i32)
            w.tags()
        w.array([0], p)
        if v >= 8:
            w.i32(-2147483648)
        w.tags()
    w.array(names, t)
    if 8 <= v <= 10:
        w.i32(-2147483648)
    w.tags()


def h_produce(b, v, r, w, log):
    if v >= 3:
        r.str()
    acks = r.i16()
    r.i32()

    def part():
        i = r.i32()
        rec = r.bytes()
        r.tags()
        return i, rec

    def topic():
        n = r.str()
        ps = r.array(part)
        r.tags()
        return n, ps
    topics = r.array(topic)
    r.tags()
    res, total = [], 0
    for n, ps in topics:
        out = []
        for i, rec in ps:
            base, cnt = b.append(n, rec or b"")
            total += cnt
            out.append((i, base))
        res.append((n, out))
    log.update(topics=[n for n, _ in topics], records=total, acks=acks)
    if acks == 0:
        return False

    def pr(x):
        w.i32(x[0])
        w.i16(0)
        w.i64(x[1])
        if v >= 2:
            w.i64(-1)
        if v >= 5:
            w.i64(0)
        if v >= 8:
            w.array([], None)
            w.str(None)
        w.tags()
    w.array(res, lambda t: (w.str(t[0]), w.array(t[1], pr), w.tags()))
    if v >= 1:
        w.i32(0)
    w.tags()
    return True


def h_list_offsets(b, v, r, w, log):
    r.i32()
    if v >= 2:
        r.i8()

    def part():
        i = r.i32()
        if v >= 4:
            r.i32()
        ts = r.i64()
        if v == 0:
            r.i32()
        r.tags()
        return i, ts

    def topic():
        n = r.str()
        ps = r.array(part)
        r.tags()
        return n, ps
    topics = r.array(topic)
    r.tags()
    log["topics"] = [n for n, _ in topics]
    if v >= 2:
        w.i32(0)

    def pr(n, x):
        lg = b.topic(n)
        off = 0 if x[1] == -2 else lg.next
        w.i32(x[0])
        w.i16(0)
        if v == 0:
            w.array([off], w.i64)
        else:
            w.i64(-1)
            w.i64(off)
        if v >= 4:
            w.i32(0)
        w.tags()
    w.array(topics, lambda t: (w.str(t[0]), w.array(t[1], lambda x: pr(t[0], x)), w.tags()))
    w.tags()


def h_fetch(b, v, r, w, log):
    r.i32()
    max_wait = r.i32()
    r.i32()
    max_bytes = r.i32() if v >= 3 else 0x7FFFFFFF
    if v >= 4:
        r.i8()
    if v >= 7:
        r.i32()
        r.i32()

    def part():
        i = r.i32()
        if v >= 9:
            r.i32()
        off = r.i64()
        if v >= 12:
            r.i32()
        if v >= 5:
            r.i64()
        pmax = r.i32()
        r.tags()
        return i, off, pmax

    def topic():
        n = r.str()
        ps = r.array(part)
        r.tags()
        return n, ps
    topics = r.array(topic)
    if v >= 7:
        r.array(lambda: (r.str(), r.array(r.i32), r.tags()))
    if v >= 11:
        r.str()
    r.tags()
    out, total = [], 0
    for n, ps in topics:
        rows = []
        for i, off, pmax in ps:
            data, cnt = b.read(n, off, min(pmax, max_bytes))
            total += cnt
            rows.append((i, data))
        out.append((n, rows))
    if not total and max_wait > 0:
        time.sleep(min(max_wait, 200) / 1000.0)  # a long poll, shortened
    log.update(topics=[n for n, _ in topics], records=total)
    if v >= 1:
        w.i32(0)
    if v >= 7:
        w.i16(0)
        w.i32(0)

    def pr(n, x):
        lg = b.topic(n)
        w.i32(x[0])
        w.i16(0)
        w.i64(lg.next)
        if v >= 4:
            w.i64(lg.next)
        if v >= 5:
            w.i64(0)
        if v >= 4:
            w.array([], None)
        if v >= 11:
            w.i32(-1)
        w.bytes(x[1])
        w.tags()
    w.array(out, lambda t: (w.str(t[0]), w.array(t[1], lambda x: pr(t[0], x)), w.tags()))
    w.tags()


def h_find_coordinator(b, v, r, w, log):
    key = r.str()
    if v >= 1:
        r.i8()
    r.tags()
    log["group"] = key
    if v >= 1:
        w.i32(0)
    w.i16(0)
    if v >= 1:
        w.str(None)
    w.i32(0)
    w.str(b.host)
    w.i32(b.port)
    w.tags()


def h_join_group(b, v, r, w, log):
    group = r.str()
    r.i32()
    if v >= 1:
        r.i32()
    member = r.str()
    if v >= 5:
        r.str()
    ptype = r.str()
    protos = r.array(lambda: (r.str(), r.bytes(), r.tags())[:2])
    r.tags()
    log["group"] = group
    err = 0
    if not member and v >= 4:
        member = "%s-%d" % (log["client_id"] or "member", b.seq)
        b.seq += 1
        err = 79  # MEMBER_ID_REQUIRED: the client joins again with this id
        gen, members, proto = -1, [], ""
    else:
        if not member:
            member = "%s-%d" % (log["client_id"] or "member", b.seq)
            b.seq += 1
        b.members.setdefault(group, {})[member] = protos[0][1]
        b.generation[group] = b.generation.get(group, 0) + 1
        gen = b.generation[group]
        members = [(member, protos[0][1])]
        proto = protos[0][0]
    log["error"] = err
    if v >= 2:
        w.i32(0)
    w.i16(err)
    w.i32(gen)
    if v >= 7:
        w.str(ptype if not err else None)
    w.str(proto if not err else (None if v >= 7 else ""))
    w.str(member if not err else "")
    w.str(member)

    def m(x):
        w.str(x[0])
        if v >= 5:
            w.str(None)
        w.bytes(x[1])
        w.tags()
    w.array(members, m)
    w.tags()


def h_sync_group(b, v, r, w, log):
    group = r.str()
    r.i32()
    member = r.str()
    if v >= 3:
        r.str()
    if v >= 5:
        r.str()
        r.str()
    assigns = r.array(lambda: (r.str(), r.bytes(), r.tags())[:2])
    r.tags()
    for mem, a in assigns:
        b.assign[(group, mem)] = a
    log["group"] = group
    if v >= 1:
        w.i32(0)
    w.i16(0)
    if v >= 5:
        w.str("consumer")
        w.str("range")
    w.bytes(b.assign.get((group, member), b""))
    w.tags()


def h_heartbeat(b, v, r, w, log):
    log["group"] = r.str()
    if v >= 1:
        w.i32(0)
    w.i16(0)
    w.tags()


def h_leave_group(b, v, r, w, log):
    group = r.str()
    if v <= 2:
        members = [r.str()]
    else:
        members = [m for m, _ in r.array(lambda: (r.str(), r.str(), r.tags())[:2])]
    log["group"] = group
    if v >= 1:
        w.i32(0)
    w.i16(0)
    if v >= 3:
        w.array(members, lambda m: (w.str(m), w.str(None), w.i16(0), w.tags()))
    w.tags()


def h_offset_commit(b, v, r, w, log):
    group = r.str()
    if v >= 1:
        r.i32()
        r.str()
    if v >= 7:
        r.str()
    if 2 <= v <= 4:
        r.i64()

    def part():
        i = r.i32()
        off = r.i64()
        if v >= 6:
            r.i32()
        if v == 1:
            r.i64()
        r.str()
        r.tags()
        return i, off

    def topic():
        n = r.str()
        ps = r.array(part)
        r.tags()
        return n, ps
    topics = r.array(topic)
    r.tags()
    for n, ps in topics:
        for i, off in ps:
            b.offsets[(group, n, i)] = off
    log.update(group=group, topics=[n for n, _ in topics])
    if v >= 3:
        w.i32(0)
    w.array(topics, lambda t: (w.str(t[0]), w.array(t[1], lambda x: (w.i32(x[0]), w.i16(0), w.tags())), w.tags()))
    w.tags()


def h_offset_fetch(b, v, r, w, log):
    group = r.str()
    topics = r.array(lambda: (r.str(), r.array(r.i32), r.tags())[:2])
    if v >= 7:
        r.i8()
    r.tags()
    log.update(group=group, topics=[n for n, _ in topics or []])
    if v >= 3:
        w.i32(0)

    def pr(n, i):
        w.i32(i)
        w.i64(b.offsets.get((group, n, i), -1))
        if v >= 5:
            w.i32(-1)
        w.str("")
        w.i16(0)
        w.tags()
    w.array(topics or [], lambda t: (w.str(t[0]), w.array(t[1], lambda i: pr(t[0], i)), w.tags()))
    if v >= 2:
        w.i16(0)
    w.tags()


def h_init_producer_id(b, v, r, w, log):
    r.str()
    r.i32()
    if v >= 3:
        r.i64()
        r.i16()
    r.tags()
    w.i32(0)
    w.i16(0)
    w.i64(1000 + b.seq)
    b.seq += 1
    w.i16(0)
    w.tags()


HANDLERS = {0: h_produce, 1: h_fetch, 2: h_list_offsets, 3: h_metadata, 8: h_offset_commit,
            9: h_offset_fetch, 10: h_find_coordinator, 11: h_join_group, 12: h_heartbeat,
            13: h_leave_group, 14: h_sync_group, 18: h_api_versions, 22: h_init_producer_id}


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        """N bytes, or None when the client closed or reset the connection first (a client
        that exits with requests in flight resets it: the kernel drops what was unread)."""
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.request.recv(n - len(buf))
            except ConnectionError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        b = self.server.broker
        peer = "%s:%d" % self.client_address[:2]
        while True:
            head = self.recv_exact(4)
            if not head:
                return
            n = struct.unpack(">i", head)[0]
            msg = self.recv_exact(n)
            if msg is None:
                return
            r = R(msg)
            key, ver, corr = r.i16(), r.i16(), r.i32()
            client_id = r.str(legacy=True)
            api = APIS.get(key)
            flex = api is not None and api[2] is not None and ver >= api[2]
            r.flex = flex
            r.tags()
            log = {"t": time.time(), "client": peer, "api_key": key, "api_version": ver,
                   "api_name": api[0] if api else None, "correlation_id": corr,
                   "client_id": client_id, "request_size": 4 + n, "error": 0}
            w = W(flex)
            w.i32(corr)
            if flex and key != 18:
                w.uvar(0)  # response header v1
            body_at = len(w.b)
            send = True
            with LOCK:
                try:
                    if key not in HANDLERS:
                        raise ValueError("unsupported api key %d" % key)
                    if HANDLERS[key](b, ver, r, w, log) is False:
                        send = False
                except (ValueError, struct.error, IndexError) as ex:
                    log["peer_error"] = str(ex)
                    send = False
            if send:
                out = struct.pack(">i", len(w.b)) + bytes(w.b)
                log["response_size"] = len(out)
                try:
                    self.request.sendall(out)
                except ConnectionError as ex:
                    # The client went away with this request unanswered (kcat exiting with a
                    # metadata refresh in flight): logged, so the test knows no answer went out.
                    log["send_failed"] = type(ex).__name__
            else:
                log["no_response"] = True
            with LOCK:
                LOGF.write(json.dumps(log) + "\n")
                LOGF.flush()
            if "peer_error" in log or "send_failed" in log:
                return


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global LOGF
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9092)
    ap.add_argument("--advertise", help="host the Metadata response names (default: --listen)")
    ap.add_argument("--log", default="-")
    ap.add_argument("--max", action="append", default=[], help="KEY=V: highest version of an API")
    a = ap.parse_args()
    LOGF = sys.stdout if a.log == "-" else open(a.log, "a")
    fam = socket.AF_INET6 if ":" in a.listen else socket.AF_INET
    Server.address_family = fam
    srv = Server((a.listen, a.port), Handler)
    srv.broker = Broker(a.advertise or a.listen, a.port)
    srv.broker.max = {}
    for kv in a.max:
        k, v = kv.split("=")
        srv.broker.max[int(k)] = int(v)
    print("kafka_peer: listening on %s:%d (a scripted peer, not Apache Kafka)" % (a.listen, a.port),
          file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
