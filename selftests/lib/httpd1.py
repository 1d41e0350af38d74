#!/usr/bin/python3
"""HTTP/1.x test server for the entry tests (selftests/integration/test_entries_*.sh).

Answers HTTP/1.0 as HTTP/1.0 and HTTP/1.1 as HTTP/1.1 (keep-alive), and logs every exchange
as one JSON line on stdout (the server's ground truth):

  {"method", "path", "query", "version", "client_port", "req_body_len", "req_body_sha256",
   "req_chunked", "req_head_len", "req_wire_len" (head + body with chunk framing),
   "status", "resp_body_len" (bytes after chunk decoding), "resp_body_sha256",
   "resp_chunked", "resp_gzip", "resp_plain_len" (after gzip decoding),
   "resp_interim_len" (100 Continue sent before), "resp_wire_len" (final response: head + body
   with chunk framing)}

Routes (n = body size, default 100; the body is body_text(n), deterministic text):
  GET|HEAD /text?n=N[&nolen=1]         N bytes; nolen: no Content-Length (HTTP/1.0: close-delimited)
  GET|HEAD /chunked?n=N&parts=K[&trailer=1][&delay=S]  chunked in K chunks, S seconds apart;
                                       trailer: an "X-Body-Sha256" trailer
  GET|HEAD /status?code=C              C (204, 304, ...) with no body; 304 says Content-Length: 100
  ...&setcookie=1                      (on /text) two Set-Cookie headers: sid=abc123, theme=dark
  GET|HEAD /gzip?n=N                   body_text(N) gzip-compressed, Content-Encoding: gzip
  POST|PUT /echo                       the request body back (Content-Length or chunked request),
                                       same Content-Type, status 200
  POST     /upload                     201, "received N bytes sha256=...\n"
  POST     /graphql                    a GraphQL JSON response (see graphql_answer) to a JSON body
                                       (an object, or an array: a batch) or an application/graphql
                                       body (the document)
  GET      /graphql?query=...          the same for a query in the URL
  anything else                        404 "no such thing: PATH\n"

usage: httpd1.py BIND_ADDR PORT
       httpd1.py client HOST PORT [--dribble] PATH...   (see client())
"""
import gzip
import hashlib
import http.server
import json
import re
import socketserver
import sys
import time
import urllib.parse

import httpd  # selftests/lib/httpd.py, next to this file


def body_text(n):
    """n bytes of readable, position-dependent text."""
    out = []
    size = 0
    i = 0
    while size < n:
        line = "floe line %06d abcdefghijklmnopqrstuvwxyz\n" % i
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out)[:n].encode()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def graphql_answer(req):
    """The answer to a GraphQL request (a JSON object, or a list of them): data keyed by
    operation; an operation named like "Fail*" (operationName or in the document) answers
    with two errors."""
    if isinstance(req, list):
        return [graphql_answer(r) for r in req]
    name = req.get("operationName") or ""
    if name.startswith("Fail") or re.match(r"\s*(query|mutation|subscription)\s+Fail", req.get("query") or ""):
        return {"data": None, "errors": [{"message": "first failure"}, {"message": "second failure"}]}
    variables = req.get("variables") or {}
    return {"data": {"op": name, "echo": variables}}


class Counting:
    """A file wrapper that counts the bytes read or written through it."""

    def __init__(self, f):
        self.f = f
        self.count = 0

    def readline(self, *a):
        b = self.f.readline(*a)
        self.count += len(b)
        return b

    def read(self, *a):
        b = self.f.read(*a)
        self.count += len(b)
        return b

    def write(self, b):
        n = self.f.write(b)
        self.count += len(b)
        return n

    def flush(self):
        self.f.flush()

    def __getattr__(self, name):
        return getattr(self.f, name)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.rfile = Counting(self.rfile)
        self.wfile = Counting(self.wfile)

    def handle_one_request(self):
        self.rstart = self.rfile.count
        self.wstart = self.wfile.count
        super().handle_one_request()

    # --- helpers
    def _setup(self):
        # Answer in the request's version (the handler object lives as long as the connection).
        self.protocol_version = "HTTP/1.0" if self.request_version == "HTTP/1.0" else "HTTP/1.1"
        url = urllib.parse.urlsplit(self.path)
        self.rec = {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "version": self.request_version.split("/")[1],
            "client_port": self.client_address[1],
            "req_body_len": 0,
            "req_body_sha256": sha(b""),
            "req_chunked": False,
            "resp_chunked": False,
            "resp_gzip": False,
            # bytes of the request head (request line + headers + blank line), and of
            # interim (1xx) responses sent before the final one
            "req_head_len": self.rfile.count - self.rstart,
            "resp_interim_len": self.wfile.count - self.wstart,
        }
        self.params = dict(urllib.parse.parse_qsl(url.query))
        return url.path

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.rec["req_chunked"] = True
            parts = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(parts)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
        self.rec["req_body_len"] = len(body)
        self.rec["req_body_sha256"] = sha(body)
        return body

    def _log(self, status, body, plain=None):
        self.rec["status"] = status
        self.rec["resp_body_len"] = len(body)
        self.rec["resp_body_sha256"] = sha(body)
        self.rec["resp_plain_len"] = len(plain if plain is not None else body)
        self.wfile.flush()
        # whole request on the wire (head, body, chunk framing); final response likewise
        self.rec["req_wire_len"] = self.rfile.count - self.rstart
        self.rec["resp_wire_len"] = self.wfile.count - self.wstart - self.rec["resp_interim_len"]
        sys.stdout.write(json.dumps(self.rec, sort_keys=True) + "\n")
        sys.stdout.flush()

    def _send(self, status, body, ctype="text/plain", extra=(), length=True, head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        elif self.protocol_version == "HTTP/1.1":
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)
        return b"" if head else body

    def _chunked(self, body, parts, trailer, head):
        self.rec["resp_chunked"] = True
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        if trailer:
            self.send_header("Trailer", "X-Body-Sha256")
        self.end_headers()
        if head:
            return b""
        step = max(1, -(-len(body) // parts))
        for i in range(0, len(body), step):
            piece = body[i:i + step]
            if i and self.params.get("delay"):
                time.sleep(float(self.params["delay"]))
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n")
        if trailer:
            self.wfile.write(b"X-Body-Sha256: %s\r\n" % sha(body).encode())
        self.wfile.write(b"\r\n")
        return body

    # --- methods
    def _get(self, head):
        path = self._setup()
        n = int(self.params.get("n", "100"))
        if path == "/text":
            body = body_text(n)
            if self.params.get("nolen") and self.protocol_version == "HTTP/1.0":
                self.close_connection = True
            cookies = [("Set-Cookie", "sid=abc123; Path=/; HttpOnly"), ("Set-Cookie", "theme=dark")]
            sent = self._send(200, body, length=not self.params.get("nolen"), head=head,
                              extra=cookies if self.params.get("setcookie") else ())
            self._log(200, sent)
        elif path == "/status":
            code = int(self.params.get("code", "204"))
            self.send_response(code)
            if code == 304:
                self.send_header("Content-Length", "100")  # of the representation, not sent
            self.end_headers()
            self._log(code, b"")
        elif path == "/chunked":
            body = body_text(n)
            sent = self._chunked(body, int(self.params.get("parts", "3")),
                                 bool(self.params.get("trailer")), head)
            self._log(200, sent)
        elif path == "/graphql" and not head:
            q = self.params
            self._graphql({"query": q.get("query"), "operationName": q.get("operationName"),
                           "variables": json.loads(q.get("variables") or "null")})
        elif path == "/gzip":
            plain = body_text(n)
            body = gzip.compress(plain, mtime=0)
            self.rec["resp_gzip"] = True
            sent = self._send(200, body, extra=[("Content-Encoding", "gzip")], head=head)
            self._log(200, sent, b"" if head else plain)
        else:
            self._not_found(path, head)

    def _graphql(self, req):
        try:
            ans, status = graphql_answer(req), 200
        except (AttributeError, TypeError):
            ans, status = {"errors": [{"message": "not a GraphQL request"}]}, 400
        sent = self._send(status, json.dumps(ans).encode(), ctype="application/json")
        self._log(status, sent)

    def _not_found(self, path, head=False):
        body = ("no such thing: %s\n" % path).encode()
        sent = self._send(404, body, head=head)
        self._log(404, sent)

    def do_GET(self):
        self._get(False)

    def do_HEAD(self):
        self._get(True)

    def do_POST(self):
        path = self._setup()
        body = self._read_body()
        if path == "/echo":
            sent = self._send(200, body, ctype=self.headers.get("Content-Type") or "application/octet-stream")
            self._log(200, sent)
        elif path == "/upload":
            sent = self._send(201, ("received %d bytes sha256=%s\n" % (len(body), sha(body))).encode())
            self._log(201, sent)
        elif path == "/graphql":
            if (self.headers.get("Content-Type") or "").startswith("application/graphql"):
                self._graphql({"query": body.decode()})
            else:
                try:
                    self._graphql(json.loads(body))
                except ValueError:
                    self._graphql(None)
        else:
            self._not_found(path)

    do_PUT = do_POST

    def log_message(self, fmt, *args):
        sys.stderr.write("httpd1: %s %s\n" % (self.address_string(), fmt % args))
        sys.stderr.flush()


class Server(socketserver.ThreadingMixIn, httpd.Server):
    """httpd.py's server (IPv4 or IPv6 by the bind address), one thread per connection."""
    daemon_threads = True


def client(host, port, paths, dribble):
    """A client curl cannot be: all requests of PATHS written at once (pipelined), or
    dribbled out a few bytes per TCP segment. Prints one curl-like line per response on
    stderr: "XFER TAG {json}" with curl's --write-out names (tag: pipelined or dribbled)."""
    import http.client
    import socket

    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: httpd1-client\r\n%s\r\n"
                    % (p.encode(), host.encode(), port, b"Connection: close\r\n" if i == len(paths) - 1 else b"")
                    for i, p in enumerate(paths))
    if dribble:
        for i in range(0, len(reqs), 7):
            sock.sendall(reqs[i:i + 7])
            time.sleep(0.005)
    else:
        sock.sendall(reqs)
    f = sock.makefile("rb")

    class Unclosed:  # HTTPResponse closes its file after the body: not the shared one
        def __getattr__(self, name):
            return getattr(f, name)

        def close(self):
            pass

    class Shared:  # every response reads from the one buffered file
        def makefile(self, *a, **k):
            return Unclosed()
    for p in paths:
        r = http.client.HTTPResponse(Shared(), method="GET")
        r.begin()
        body = r.read()
        w = {"method": "GET", "url_effective": "http://%s:%d%s" % (host, port, p), "http_code": r.status,
             "size_download": len(body), "size_upload": 0, "http_version": "1.1", "exitcode": 0,
             "local_port": sock.getsockname()[1]}
        print("XFER %s %s" % ("dribbled" if dribble else "pipelined", json.dumps(w)), file=sys.stderr, flush=True)
    sock.close()


if __name__ == "__main__" and sys.argv[1] == "client":
    dribble = sys.argv[4] == "--dribble"
    client(sys.argv[2], int(sys.argv[3]), sys.argv[5 if dribble else 4:], dribble)
elif __name__ == "__main__":
    srv = Server((sys.argv[1], int(sys.argv[2])), Handler)
    print("httpd1: listening on %s %s" % tuple(sys.argv[1:3]), file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
