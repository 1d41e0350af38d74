#!/usr/bin/env python3
"""Test webhook receiver: every POST's path, headers of interest and body, one JSON line each
in OUT (flushed at once), answered 200. Binds HOST:PORT (port 0: any) and writes the port it
got to PORTFILE when it listens.

usage: webhook_receiver.py HOST PORT OUT PORTFILE
"""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        rec = {
            "path": self.path,
            "delivery_header": self.headers.get("X-Floe-Delivery-Id"),
            "content_type": self.headers.get("Content-Type"),
            "body": body.decode("utf-8", "replace"),
        }
        with open(OUT, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    host, port, OUT, portfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    srv = http.server.ThreadingHTTPServer((host, port), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()
