#!/usr/bin/python3
"""The WebSocket client of selftests/bench/agent_hub.sh (not pass/fail).

  agent_hub.py follow URL OUT READY STOP
      Subscribe to the hub's stream; once it says "live" create READY; then write one line per
      live entry to OUT: "RECV_NS RESPONSE_NS REQUEST_NS URL" (RECV_NS: CLOCK_REALTIME when this
      client had the whole message; RESPONSE_NS / REQUEST_NS: the entry's response_time /
      request_time, the timestamps of the packets, also CLOCK_REALTIME), and "lost N" for the
      stream's loss reports. Ends once the file STOP exists and no message came for 2 s.
      Asks the hub for batches (URL without batch= gets BATCH); RECV_NS is then the time the
      whole batch was in, the same for every entry of it.
  agent_hub.py report OUT TAG
      Figures of the entries whose URL contains TAG: count, entries per second at the client
      (first to last received), latency from the response packet to the client (median, p99,
      max) and from the request packet.
"""
import json
import os
import socket
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hub_check import ts_ns  # noqa: E402
from ws_client import WSClient  # noqa: E402


class Frames:
    """Server frames off the handshaken socket of a WSClient, read in big chunks and cut by
    offset (the client of the tests slices its buffer per message: too slow at these rates).
    Messages come whole (the hub sends each, a batch included, in one frame)."""

    def __init__(self, ws):
        self.sock, self.buf, self.off = ws.sock, bytearray(ws.buf), 0

    def _need(self, n):
        while len(self.buf) - self.off < n:
            if self.off:
                del self.buf[:self.off]
                self.off = 0
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def next(self):
        self._need(2)
        b0, b1 = self.buf[self.off], self.buf[self.off + 1]
        ln, hl = b1 & 0x7F, 2
        if ln == 126:
            self._need(4)
            ln, hl = struct.unpack_from("!H", self.buf, self.off + 2)[0], 4
        elif ln == 127:
            self._need(10)
            ln, hl = struct.unpack_from("!Q", self.buf, self.off + 2)[0], 10
        self._need(hl + ln)
        start = self.off + hl
        self.off = start + ln
        return b0 & 0x0F, bytes(self.buf[start:start + ln])


# BENCH_AH_BATCH="" asks for no batches (one message per entry), for a side-by-side run.
BATCH = os.environ.get("BENCH_AH_BATCH", "batch=1000&batch_ms=50")


def follow(url, out, ready, stop):
    if BATCH and "batch=" not in url:
        url += ("&" if "?" in url else "?") + BATCH
    ws = WSClient(url, timeout=2, rcvbuf=4 << 20)
    fr = Frames(ws)
    with open(out, "w") as f:
        live = False
        while True:
            try:
                op, msg = fr.next()
            except (socket.timeout, TimeoutError):
                if os.path.exists(stop):
                    break
                continue
            now = time.time_ns()
            if op == 8:
                break
            if op != 1:
                continue
            batch = json.loads(msg)
            for m in batch if isinstance(batch, list) else [batch]:
                kind = m.get("type")
                if kind == "live" and not live:
                    live = True
                    open(ready, "w").close()
                elif kind == "lost":
                    f.write(f"lost {m['lost']}\n")
                elif kind == "entry" and live:
                    e = m.get("entry", {})
                    resp, req = e.get("response_time"), e.get("request_time")
                    f.write(f"{now} {ts_ns(resp) if resp else 0} {ts_ns(req) if req else 0} "
                            f"{(e.get('request') or {}).get('url') or '-'}\n")
    ws.sock.close()


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))]


def report(out, tag):
    recv, lat, lat_req, lost = [], [], [], 0
    with open(out) as f:
        for line in f:
            w = line.split()
            if w[0] == "lost":
                lost += int(w[1])
                continue
            if tag not in w[3]:
                continue
            now, resp, req = int(w[0]), int(w[1]), int(w[2])
            recv.append(now)
            if resp:
                lat.append((now - resp) / 1e6)
            if req:
                lat_req.append((now - req) / 1e6)
    if len(recv) < 2:
        print(f"{tag}: {len(recv)} entries at the client")
        return
    lat.sort()
    lat_req.sort()
    span = (max(recv) - min(recv)) / 1e9
    print(f"{tag}: {len(recv)} entries at the client in {span:.2f} s: {len(recv) / span:,.0f} "
          f"entries/s; stream loss reports: {lost}")
    print(f"{tag}: latency, response packet -> client: median {statistics.median(lat):.1f} ms, "
          f"p99 {pct(lat, 0.99):.1f} ms, max {lat[-1]:.1f} ms "
          f"(request packet -> client: median {statistics.median(lat_req):.1f} ms, "
          f"p99 {pct(lat_req, 0.99):.1f} ms)")


if __name__ == "__main__":
    if sys.argv[1] == "follow":
        follow(*sys.argv[2:6])
    else:
        report(*sys.argv[2:4])
