#!/usr/bin/python3
"""Benchmark of floe-hub's stream (not pass/fail): entries per second to one WebSocket client
and live latency (entry timestamp to the client having it), over build/hub-fixture's three
in-memory agents (the agents cost next to nothing; the figures are the hub's and the client's).
Usage: hub.py [--build build] [--history 20000] [--live 1000] [--spacing-us 500]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hub_check import Fixture, entry_ts  # noqa: E402
from ws_client import WSClient  # noqa: E402
import json  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--history", type=int, default=20000)
    ap.add_argument("--live", type=int, default=1000)
    ap.add_argument("--spacing-us", type=int, default=500)
    ap.add_argument("--hold-ms", type=int, default=200)
    a = ap.parse_args()
    fx = Fixture(a.build, "--agents", "3", "--synthetic", str(a.history), "--hold-ms",
                 str(a.hold_ms), "--follow-queue", str(a.live + 1000))
    try:
        ws = WSClient(f"ws://127.0.0.1:{fx.port}/api/v1/stream", timeout=120)
        t0 = time.time()
        n = 0
        size = 0
        while True:
            text = ws.recv()
            size += len(text)
            m = json.loads(text)
            if m["type"] == "live":
                break
            n += 1
        dt = time.time() - t0
        print(f"history: {n} entries of 3 agents in {dt:.2f} s: {n / dt:,.0f} entries/s, "
              f"{size / dt / 1e6:.1f} MB/s to one WebSocket client")
        fx.wait_followers(3)
        fx.p.stdin.write(f"emit {a.live} {a.spacing_us}\n")
        fx.p.stdin.flush()
        lat = []
        while len(lat) < a.live:
            m = json.loads(ws.recv())
            now = time.time_ns()
            if m["type"] == "entry":
                lat.append((now - entry_ts(m["entry"])) / 1e6)
        fx.p.stdout.readline()
        lat.sort()
        print(f"live: {len(lat)} entries, one every {a.spacing_us} us round-robin over 3 agents "
              f"(hold {a.hold_ms} ms): latency median {statistics.median(lat):.2f} ms, "
              f"p99 {lat[int(len(lat) * 0.99) - 1]:.2f} ms, max {lat[-1]:.2f} ms")
        ws.close()
    finally:
        fx.close()


if __name__ == "__main__":
    main()
