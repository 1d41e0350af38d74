#!/usr/bin/python3
"""One HTTP/1.1 request per new TCP connection, for tests and benchmarks that follow a pod's
traffic across changes (selftests/bench/k8s_latency.sh, test_untap_live.sh): a new connection
each time, so that one begun before a change does not hide the next ones.

  newconn.py server PORT          answer every request at once (200, no body) and close
  newconn.py client IP PORT       ask forever, ~2 ms apart ("GET /live?n=N"); prints N after
                                  each answer, "error ..." after a failure (timeout 5 s)
"""
import socket
import socketserver
import sys
import time


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def client(ip, port):
    n = 0
    while True:
        n += 1
        try:
            k = socket.create_connection((ip, port), timeout=5)
            k.sendall(b"GET /live?n=%d HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n" % n)
            while k.recv(4096):
                pass
            k.close()
            print(n, flush=True)
        except OSError as e:
            print("error", e, flush=True)
        time.sleep(0.002)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer(("0.0.0.0", int(sys.argv[2])), Handler).serve_forever()
    else:
        client(sys.argv[2], int(sys.argv[3]))
