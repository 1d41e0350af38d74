#!/usr/bin/python3
"""gRPC server and client for selftests/integration/test_entries_grpc.sh, on Debian's
python3-grpcio with generic handlers and hand-encoded protobuf (no generated code, no schema):
both sides log what they sent and received, as JSON lines, for comparison with floe's entries.

  grpc_peer.py server PORT LOG        serve floe.test.Echo on [::]:PORT; one line per call
  grpc_peer.py client HOST:PORT LOG   make the calls below; one line per call

Service floe.test.Echo (every call carries metadata x-call-id):
  Get    unary           {1 id, 2 name, ...} -> {1 id, 2 "Hello, NAME", 3 {1 {1 depth}}, ...}
                         id 404: NOT_FOUND "user 404 not found: ñ 100%"
  List   server stream   {1 count, 2 fail_after} -> count x {1 i, 2 "item i"};
                         fail_after: RESOURCE_EXHAUSTED after that many
  Sum    client stream   n x {1 value} -> {1 sum, 2 n}
  Chat   bidi            {1 seq, 2 text} -> {1 seq, 2 TEXT}
  Ping   unary           {1 seq} -> {1 seq}  (the bounded load)
  Blob   unary           {1 bytes} -> {1 length, 2 "got it"}  (a message bigger than --body-max)
  Slow   unary           answers after 1.5 s: the client's deadline (0.3 s) passes first
The client also cancels a Chat after two exchanges (RST_STREAM); a cancelled or timed-out
call has no server log line. Messages over 64 KiB have "request_fields": null.

A log line: {"call_id", "method" (/floe.test.Echo/X), "request_raw" / "response_raw" (hex of each
message), "request_fields" / "response_fields" (the fields floe should decode from each message,
in its JSON form: {"field", "wire_type", "type"?, "value", "double"/"float"?}; the side that
encoded the message logs them), "code" (grpc status number), "code_name", "details",
"compression"}.
"""
import base64
import json
import struct
import sys
import threading
import time
from concurrent import futures

import grpc

SERVICE = "floe.test.Echo"


# ------------------------------------------------------------------ protobuf by hand
def varint(v):
    v &= (1 << 64) - 1  # negatives: 64-bit two's complement, as int32/int64 do
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(fields):
    """fields: [(number, kind, value)], kind one of varint, i64, double, i32, float, string,
    bytes, message (value: a nested field list). Returns (bytes, floe's expected JSON list)."""
    out = bytearray()
    exp = []
    for num, kind, value in fields:
        if kind == "varint":
            out += varint(num << 3 | 0) + varint(value)
            v = value & ((1 << 64) - 1)
            exp.append({"field": num, "wire_type": "varint", "value": v - (1 << 64) if v >= 1 << 63 else v})
        elif kind in ("i64", "double"):
            raw = struct.pack("<d", value) if kind == "double" else struct.pack("<q", value)
            out += varint(num << 3 | 1) + raw
            e = {"field": num, "wire_type": "i64", "value": struct.unpack("<q", raw)[0]}
            if kind == "double":
                e["double"] = value
            exp.append(e)
        elif kind in ("i32", "float"):
            raw = struct.pack("<f", value) if kind == "float" else struct.pack("<I", value)
            out += varint(num << 3 | 5) + raw
            e = {"field": num, "wire_type": "i32", "value": struct.unpack("<I", raw)[0]}
            if kind == "float":
                e["float"] = value
            exp.append(e)
        else:
            if kind == "message":
                raw, sub = encode(value)
                e = {"type": "message", "value": sub}
            elif kind == "string":
                raw = value.encode()
                e = {"type": "string", "value": value}
            else:
                raw = value
                e = {"type": "bytes", "value": base64.b64encode(value).decode()}
            out += varint(num << 3 | 2) + varint(len(raw)) + raw
            e.update({"field": num, "wire_type": "len"})
            exp.append(e)
    return bytes(out), exp


def decode(b):
    """Top-level fields of a message: {number: [values]} (varints as int, len as bytes)."""
    res = {}
    i = 0

    def rd():
        nonlocal i
        v = s = 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7F) << s
            s += 7
            if not c & 0x80:
                return v
    while i < len(b):
        tag = rd()
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            val = rd()
        elif wt == 1:
            val, i = b[i:i + 8], i + 8
        elif wt == 5:
            val, i = b[i:i + 4], i + 4
        elif wt == 2:
            n = rd()
            val, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        res.setdefault(num, []).append(val)
    return res


# ------------------------------------------------------------------ log
class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, rec):
        with self.lock:
            self.f.write(json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n")
            self.f.flush()


def hexes(msgs):
    return [m.hex() for m in msgs]


# ------------------------------------------------------------------ server
class Echo:
    def __init__(self, log):
        self.log = log

    def _rec(self, ctx, method, reqs, resps, fields, code=grpc.StatusCode.OK, details=""):
        md = dict(ctx.invocation_metadata())
        self.log.write({"call_id": md.get("x-call-id"), "method": "/%s/%s" % (SERVICE, method),
                        "request_raw": hexes(reqs), "response_raw": hexes(resps),
                        "response_fields": fields, "code": code.value[0], "code_name": code.name,
                        "details": details})

    def _send(self, fields, resps, exp):
        raw, e = encode(fields)
        resps.append(raw)
        exp.append(e)
        return raw

    def get(self, req, ctx):
        f = decode(req)
        uid, name = f[1][0], f[2][0].decode()
        if dict(ctx.invocation_metadata()).get("x-compress") == "gzip":
            ctx.set_compression(grpc.Compression.Gzip)
        if uid == 404:
            details = "user 404 not found: ñ 100%"
            self._rec(ctx, "Get", [req], [], [], grpc.StatusCode.NOT_FOUND, details)
            ctx.abort(grpc.StatusCode.NOT_FOUND, details)
        resps, exp = [], []
        raw = self._send([(1, "varint", uid), (2, "string", "Hello, " + name),
                          (3, "message", [(1, "message", [(1, "varint", 3)]), (2, "string", "nested two")]),
                          (4, "varint", 1 << 40), (5, "double", 2.5), (6, "float", -0.75),
                          (7, "bytes", b"\xff\xfe\x00\x01 binary"), (8, "string", "padding " * (1 + uid % 7))],
                         resps, exp)
        self._rec(ctx, "Get", [req], resps, exp)
        return raw

    def list(self, req, ctx):
        f = decode(req)
        count = f[1][0]
        fail_after = f.get(2, [0])[0]
        resps, exp = [], []
        for i in range(count):
            if fail_after and i == fail_after:
                details = "quota exhausted after %d items" % i
                self._rec(ctx, "List", [req], resps, exp, grpc.StatusCode.RESOURCE_EXHAUSTED, details)
                ctx.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, details)
            yield self._send([(1, "varint", i), (2, "string", "item %d" % i)], resps, exp)
        self._rec(ctx, "List", [req], resps, exp)

    def sum(self, it, ctx):
        reqs = list(it)
        total = sum(decode(r)[1][0] for r in reqs)
        resps, exp = [], []
        raw = self._send([(1, "varint", total), (2, "varint", len(reqs))], resps, exp)
        self._rec(ctx, "Sum", reqs, resps, exp)
        return raw

    def chat(self, it, ctx):
        reqs, resps, exp = [], [], []
        for r in it:
            reqs.append(r)
            f = decode(r)
            yield self._send([(1, "varint", f[1][0]), (2, "string", f[2][0].decode().upper())], resps, exp)
        self._rec(ctx, "Chat", reqs, resps, exp)

    def blob(self, req, ctx):
        resps, exp = [], []
        raw = self._send([(1, "varint", len(decode(req)[1][0])), (2, "string", "got it")], resps, exp)
        self._rec(ctx, "Blob", [req], resps, exp)
        return raw

    def slow(self, req, ctx):
        time.sleep(1.5)
        return b""

    def ping(self, req, ctx):
        resps, exp = [], []
        raw = self._send([(1, "varint", decode(req)[1][0])], resps, exp)
        self._rec(ctx, "Ping", [req], resps, exp)
        return raw


def serve(port, log):
    echo = Echo(Log(log))
    ident = dict(request_deserializer=None, response_serializer=None)
    handlers = {
        "Get": grpc.unary_unary_rpc_method_handler(echo.get, **ident),
        "List": grpc.unary_stream_rpc_method_handler(echo.list, **ident),
        "Sum": grpc.stream_unary_rpc_method_handler(echo.sum, **ident),
        "Chat": grpc.stream_stream_rpc_method_handler(echo.chat, **ident),
        "Ping": grpc.unary_unary_rpc_method_handler(echo.ping, **ident),
        "Blob": grpc.unary_unary_rpc_method_handler(echo.blob, **ident),
        "Slow": grpc.unary_unary_rpc_method_handler(echo.slow, **ident),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port("[::]:%d" % port)
    server.start()
    print("grpc_peer: serving on %d" % port, file=sys.stderr, flush=True)
    server.wait_for_termination()


# ------------------------------------------------------------------ client
def run_client(target, log_path, pings):
    log = Log(log_path)
    ch = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
    grpc.channel_ready_future(ch).result(timeout=10)

    def stub(kind, name):
        return getattr(ch, kind)("/%s/%s" % (SERVICE, name), request_serializer=None,
                                 response_deserializer=None)

    def call(call_id, method, reqs, fn, compression=None):
        raws, exps = [], []
        for fields in reqs:
            raw, exp = encode(fields)
            raws.append(raw)
            exps.append(exp if len(raw) <= 64 * 1024 else None)
        md = [("x-call-id", call_id)] + ([("x-compress", "gzip")] if compression else [])
        rec = {"call_id": call_id, "method": "/%s/%s" % (SERVICE, method), "request_raw": hexes(raws),
               "request_fields": exps, "compression": "gzip" if compression else None}
        resps = []
        try:
            resps = fn(raws, md, compression, resps)
            rec.update(code=0, code_name="OK", details="")
        except grpc.RpcError as e:
            rec.update(code=e.code().value[0], code_name=e.code().name, details=e.details() or "")
        rec["response_raw"] = hexes(resps)
        log.write(rec)

    def unary(name, timeout=10):
        def fn(raws, md, comp, resps):
            resps.append(stub("unary_unary", name)(raws[0], metadata=md, compression=comp, timeout=timeout))
            return resps
        return fn

    def bidi_cancel(raws, md, comp, resps):
        done = threading.Event()

        def gen():
            yield from raws
            done.wait(5)  # the request stream stays open: the cancel ends the call
        it = stub("stream_stream", "Chat")(gen(), metadata=md, timeout=10)
        try:
            for r in it:
                resps.append(r)
                if len(resps) == len(raws):
                    it.cancel()
        finally:
            done.set()
        return resps

    def server_stream(raws, md, comp, resps):
        for r in stub("unary_stream", "List")(raws[0], metadata=md, timeout=10):
            resps.append(r)
        return resps

    def client_stream(raws, md, comp, resps):
        resps.append(stub("stream_unary", "Sum")(iter(raws), metadata=md, timeout=10))
        return resps

    def bidi(raws, md, comp, resps):
        for r in stub("stream_stream", "Chat")(iter(raws), metadata=md, timeout=10):
            resps.append(r)
        return resps

    user = [(1, "varint", 42), (2, "string", "Ada Lovelace"),
            (3, "message", [(1, "string", "Main Street 1"), (2, "varint", 8001),
                            (3, "message", [(1, "varint", 47), (2, "float", 8.5)])]),
            (4, "bytes", b"\x00\x01\x02\xff\xfe raw"), (5, "varint", -42), (6, "double", 3.25),
            (7, "float", 1.5), (8, "string", "tag one"), (8, "string", "tag two"), (9, "i64", -7),
            (10, "i32", 123456)]
    call("unary", "Get", [user], unary("Get"))
    call("unary-gzip", "Get", [[(1, "varint", 43), (2, "string", "Grace Hopper " * 20)]], unary("Get"),
         grpc.Compression.Gzip)
    call("unary-not-found", "Get", [[(1, "varint", 404), (2, "string", "nobody")]], unary("Get"))
    call("server-stream", "List", [[(1, "varint", 5)]], server_stream)
    call("server-stream-error", "List", [[(1, "varint", 5), (2, "varint", 2)]], server_stream)
    call("client-stream", "Sum", [[(1, "varint", v)] for v in (1, 2, 3, 40, 300)], client_stream)
    call("bidi", "Chat", [[(1, "varint", i), (2, "string", w)] for i, w in enumerate(["alpha", "beta", "gamma", "delta"])],
         bidi)
    call("big-message", "Blob", [[(1, "bytes", bytes(range(256)) * 400)]], unary("Blob"))
    call("deadline-exceeded", "Slow", [[(1, "varint", 1)]], unary("Slow", timeout=0.3))
    call("bidi-cancelled", "Chat", [[(1, "varint", i), (2, "string", w)] for i, w in enumerate(["one", "two"])],
         bidi_cancel)
    for i in range(pings):
        call("ping-%d" % i, "Ping", [[(1, "varint", i)]], unary("Ping"))
    ch.close()


def main():
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        run_client(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 20)


if __name__ == "__main__":
    main()
