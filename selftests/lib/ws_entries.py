#!/usr/bin/env python3
"""Collect a hub stream's entries (GET /api/v1/stream, WebSocket) into a file, for shell tests.

usage: ws_entries.py URL OUT [--live FILE] [--count N] [--timeout S]

Each entry goes to OUT as one compact JSON line (flushed at once, so a test can poll it); when
the hub says the history is over ({"type":"live"}) FILE is created; every other message (lost,
agent) goes to stderr as it came. Ends when N entries came (exit 0), when the hub closes the
stream or S seconds passed (exit 1 if N was given and not reached).
"""
import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ws_client import WSClient  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--live")
    ap.add_argument("--count", type=int)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    end = time.monotonic() + a.timeout
    ws = WSClient(a.url, timeout=a.timeout)
    got = 0
    with open(a.out, "w") as out:
        while a.count is None or got < a.count:
            left = end - time.monotonic()
            if left <= 0:
                break
            ws.sock.settimeout(left)
            try:
                text = ws.recv()
            except (socket.timeout, EOFError):
                break
            if text is None:
                print(f"closed {ws.close_code} {ws.close_reason}", file=sys.stderr)
                break
            msg = json.loads(text)
            if msg.get("type") == "entry":
                out.write(json.dumps(msg["entry"], separators=(",", ":")) + "\n")
                out.flush()
                got += 1
            elif msg.get("type") == "live" and a.live:
                open(a.live, "w").close()
            else:
                print(text, file=sys.stderr, flush=True)
    ws.close()
    return 1 if a.count is not None and got < a.count else 0


if __name__ == "__main__":
    sys.exit(main())
