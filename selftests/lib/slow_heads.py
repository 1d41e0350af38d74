#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""
Slow-loris peers for the memory budget test (selftests/integration/test_memory_budget.sh).

  slow_heads.py server HOST PORT
      accept connections and read (and discard) what they send; never answer. Prints
      "listening" once bound, then "open N" each time another 1000 connections are open.
  slow_heads.py client HOST PORT N PAD HOLD
      open N connections, one after another, each sending the start of an HTTP/1.1 request
      head whose last header value (PAD bytes) never ends; print "ready N" once all are
      open and sent, keep them open HOLD seconds at most (or until SIGTERM), then close them
      all. Bounded: N connections, one send each.

Both raise their soft open-file limit to N + 64 (the server: 12,000) if the hard one allows.
"""
import resource
import selectors
import socket
import sys
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 64:
        sys.exit("slow_heads.py: the open-file limit (hard %d) is below %d" % (hard, n + 64))
    if soft != resource.RLIM_INFINITY and soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, hard))


def server(host, port):
    raise_nofile(12000)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("listening", flush=True)
    n = 0
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                n += 1
                if n % 1000 == 0:
                    print("open %d" % n, flush=True)
                continue
            try:
                data = s.recv(65536)
            except (BlockingIOError, ConnectionError):
                data = b"x"
            if not data:
                sel.unregister(s)
                s.close()


def client(host, port, n, pad, hold):
    raise_nofile(n)
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=10)
        head = ("GET /slow/%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: slow-heads\r\nX-Pad: %s"
                % (i, host, "a" * pad)).encode()
        s.sendall(head)
        socks.append(s)
    print("ready %d" % len(socks), flush=True)
    time.sleep(hold)
    for s in socks:
        s.close()
    print("closed %d" % len(socks), flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 7 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
               float(sys.argv[6]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
