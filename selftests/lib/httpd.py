#!/usr/bin/env python3
"""Test HTTP server: python's http.server (SimpleHTTPRequestHandler) speaking HTTP/1.1 with
keep-alive, plus POST (answers 201 with the body's length and a digest). Single-threaded on
purpose: requests of one connection are served in order.

usage: httpd.py BIND_ADDR PORT DIR
"""
import hashlib
import http.server
import os
import socket
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        out = ("received %d bytes sha256=%s\n" % (len(body), hashlib.sha256(body).hexdigest())).encode()
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        sys.stderr.write("httpd: %s %s\n" % (self.address_string(), fmt % args))
        sys.stderr.flush()


class Server(http.server.HTTPServer):
    allow_reuse_address = True

    def __init__(self, addr, handler):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)


def main():
    bind, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.chdir(root)
    srv = Server((bind, port), Handler)
    sys.stderr.write("httpd: listening on %s %d\n" % (bind, port))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
