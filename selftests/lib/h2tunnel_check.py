#!/usr/bin/python3
"""Checks the entries of selftests/integration/test_entries_h2tunnel.sh: HTTP/2 CONNECT and
extended CONNECT through a Node http2 proxy (pod --proxy, selftests/lib/h2proxy.js) from a
Node http2 client (pod --client, selftests/lib/h2connect.js) to servers in pod --server.
Prints the TAB-separated ok/fail/diag lines that selftests/lib/entries.sh (`checks`) reads.

  --client-log F --proxy-log F   floe's entries against the client's own view (its JSON
                                 lines) and the proxy's (one line per CONNECT it answered)
  --tshark F                     floe's CONNECTs against tshark's HTTP/2 on the client's leg,
                                 and what floe saw inside the tunnels against tshark's
                                 exchanges on the proxy's leg to the servers (TSHARK_FIELDS)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from entries_check import (check, check_problems, diag, load_entries, read_entries,  # noqa: E402
                           read_jsonl, short)
from tunnel_check import pod, req, status, tls_handshakes  # noqa: E402

TSHARK_FIELDS = ["tcp.srcport", "tcp.dstport", "http2.headers.method", "http2.headers.authority",
                 "http2.headers.status", "http2.headers.path", "http.request.uri",
                 "http.response.code"]


def legs(entries, a):
    """(CONNECT entries of the client's leg by stream id, entries inside tunnels, entries of the
    proxy's leg to the servers, problems)."""
    connects, inside, back, p = {}, [], [], []
    for e in entries:
        s, d = pod(e, "src"), pod(e, "dst")
        if (s, d) == (a.client, a.proxy) and "tunnel" in e:
            inside.append(e)
        elif (s, d) == (a.client, a.proxy) and req(e).get("method") == "CONNECT":
            connects[e.get("stream_id")] = e
        elif (s, d) == (a.proxy, a.server) and "tunnel" not in e:
            back.append(e)
        else:
            p.append("%s: pods %s -> %s, not a CONNECT, not inside one" % (short(e), s, d))
    return connects, inside, back, p


def cmd_client(a):
    entries = load_entries(a)
    mine = read_jsonl(a.client_log)
    proxy = [x for x in read_jsonl(a.proxy_log) if "status" in x]
    diag("%d entries, %d client lines, %d proxy lines" % (len(entries), len(mine), len(proxy)))
    check(any(x.get("kind") == "done" for x in mine), "the client ran to its end")
    check(len(entries) == a.want, "floe: %d entries, want %d" % (len(entries), a.want),
          [short(e) for e in entries])
    connects, inside, back, p = legs(tls_handshakes(entries, a), a)
    check_problems(p, "every entry: a CONNECT or inside one on the client's leg, or the proxy's "
                   "own request to a server")

    # The CONNECTs: stream, target and status as the client saw them, and as the proxy answered.
    p = []
    want = [x for x in mine if x.get("kind") in ("connect", "extended")]
    for x in want:
        e = connects.get(x.get("stream_id"))
        ext = x["kind"] == "extended"
        if not e:
            p.append("no CONNECT entry on stream %s (%s)" % (x.get("stream_id"), x))
            continue
        if not ext and req(e).get("authority") != x["authority"]:
            p.append("%s: authority %r, the client's %r" % (short(e), req(e).get("authority"), x["authority"]))
        if status(e) != x["status"]:
            p.append("%s: status %r, the client saw %r" % (short(e), status(e), x["status"]))
        if e.get("missing") or e.get("incomplete"):
            p.append("%s: not complete" % short(e))
        if ext:
            kind = "not_dissected"
            if req(e).get("protocol") != "websocket" or not x.get("echoed"):
                p.append("%s: protocol %r (the client's echo %r)" % (short(e), req(e).get("protocol"), x.get("echoed")))
        elif x["status"] // 100 != 2:
            kind = None
        else:
            kind = "tls" if x["authority"].endswith(":%d" % a.tls_port) else "cleartext"
        if e.get("tunnel_kind") != kind:
            p.append("%s: tunnel_kind %r, want %r" % (short(e), e.get("tunnel_kind"), kind))
    check(len(connects) == len(want), "floe: %d CONNECT entries, the client sent %d" % (len(connects), len(want)))
    got = sorted((req(e).get("authority"), req(e).get("protocol"), status(e)) for e in connects.values())
    told = sorted((x["authority"], x.get("protocol"), x["status"]) for x in proxy)
    if got != told:
        p.append("floe's (authority, protocol, status) %s, the proxy's log %s" % (got, told))
    check_problems(p, "each CONNECT: the client's stream, target and status, the proxy's answer, "
                   "tunnel_kind cleartext / tls / not_dissected (extended, websocket) / none (403)")

    # Inside: each request the client made through a tunnel, with that tunnel's id.
    p = []
    by_id = {e["id"]: e for e in connects.values()}
    want = [x for x in mine if x.get("kind") == "inner"]
    left = list(inside)
    for x in want:
        hit = [e for e in left if (e.get("tunnel") or {}).get("authority") == x["authority"] and
               req(e).get("url") == x["path"] and status(e) == x["status"]]
        if not hit:
            p.append("no entry inside a tunnel to %s for %s %s -> %s" % (x["authority"], x["method"], x["path"], x["status"]))
            continue
        e = hit[0]
        left.remove(e)
        o = by_id.get(e["tunnel"].get("id"))
        if not o or req(o).get("authority") != x["authority"] or o.get("flow_id") != e.get("flow_id"):
            p.append("%s: tunnel.id %r is not the CONNECT to %s" % (short(e), e["tunnel"].get("id"), x["authority"]))
        elif o.get("response_time", "") > e.get("request_time", "~"):
            p.append("%s: before its CONNECT's answer" % short(e))
        if e.get("missing") or e.get("incomplete"):
            p.append("%s: not complete" % short(e))
    p += ["%s: inside a tunnel, not a request of the client" % short(e) for e in left]
    check_problems(p, "inside the tunnels: the client's %d requests (HTTP/1 and h2c), each with "
                   "the id and authority of its CONNECT, complete" % len(want))

    # The proxy relayed the same requests on its own connections (TLS: its handshake only).
    got = sorted((req(e).get("url"), status(e)) for e in back)
    told = sorted((x["path"], x["status"]) for x in want)
    check(got == told, "the proxy's leg: the same requests as inside the tunnels",
          ["floe: %s" % got, "client: %s" % told])


def tshark_rows(path):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            rows.append(dict(zip(TSHARK_FIELDS, line.rstrip("\n").split("\t"))))
    return rows


def cmd_tshark(a):
    entries, _ = read_entries(a.entries)
    entries = [e for e in entries if e.get("protocol") != "tls"]  # checked by cmd_client
    connects, inside, back, _ = legs(entries, a)
    rows = tshark_rows(a.tshark)
    front = [r for r in rows if a.proxy_port in (int(r["tcp.srcport"] or 0), int(r["tcp.dstport"] or 0))]
    methods = [(m, au) for r in front for m, au in zip(r["http2.headers.method"].split(","),
                                                     r["http2.headers.authority"].split(","))
               if m == "CONNECT"]
    statuses = [s for r in front if int(r["tcp.srcport"] or 0) == a.proxy_port
                for s in r["http2.headers.status"].split(",") if s]
    ours = [connects[k] for k in sorted(connects)]
    check(methods and [au for _, au in methods] == [req(e).get("authority") for e in ours] and
          statuses == [str(status(e)) for e in ours],
          "tshark on the client's leg: the same CONNECTs (authorities, statuses, in order)",
          ["tshark: %s %s" % (methods, statuses),
           "floe: %s" % [(req(e).get("authority"), status(e)) for e in ours]])
    # The proxy's leg: HTTP/1 and h2c exchanges as tshark pairs them, against floe's inside.
    h1 = [r for r in rows if r["http.request.uri"] or r["http.response.code"]]
    h2 = [r for r in rows if r not in front and (r["http2.headers.path"] or r["http2.headers.status"])]
    paths = sorted([r["http.request.uri"] for r in h1 if r["http.request.uri"]] +
                   [p for r in h2 for p in r["http2.headers.path"].split(",") if p])
    codes = sorted([r["http.response.code"] for r in h1 if r["http.response.code"]] +
                   [s for r in h2 for s in r["http2.headers.status"].split(",") if s])
    fpaths = sorted(req(e).get("url") for e in inside)
    fcodes = sorted(str(status(e)) for e in inside)
    check(paths and paths == fpaths and codes == fcodes,
          "tshark on the proxy's leg: the requests and statuses floe found inside the tunnels",
          ["tshark: %s %s" % (paths, codes), "floe inside: %s %s" % (fpaths, fcodes)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--proxy-port", type=int, required=True)
    ap.add_argument("--tls-port", type=int, default=0)
    ap.add_argument("--client-log")
    ap.add_argument("--proxy-log")
    ap.add_argument("--tshark")
    ap.add_argument("--want", type=int)
    ap.add_argument("--since", type=float)
    ap.add_argument("--until", type=float)
    a = ap.parse_args()
    if a.tshark:
        return cmd_tshark(a)
    return cmd_client(a)


if __name__ == "__main__":
    sys.exit(main())
