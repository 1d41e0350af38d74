#!/usr/bin/python3
"""Checks the entries of selftests/integration/test_entries_tunnel.sh: CONNECT tunnels through
a real proxy (pod --proxy) from curl in pod --client to servers in pod --server. Prints the
TAB-separated ok/fail/diag lines that selftests/lib/entries.sh (`checks`) reads.

Two modes:
  --curl F --server-log F   floe's entries against curl's own view (-w %{json}: local_port,
                            http_connect, method, url_effective, response_code, http_version)
                            and the HTTP/1 server's log (selftests/lib/httpd1.py)
  --tshark F                floe's CONNECTs against tshark's on the client's leg, and floe's
                            entries inside tunnels against tshark's exchanges on the proxy's
                            leg to the servers (TSV of TSHARK_FIELDS from the exported PCAP)
"""
import argparse
import collections
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from entries_check import (check, check_problems, diag, load_entries, read_entries,  # noqa: E402
                           read_jsonl, short)


def pod(e, side):
    return (e.get(side) or {}).get("pod")


def req(e):
    return e.get("request") or {}


def status(e):
    return (e.get("response") or {}).get("status")


def path_of(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def authority_of(url):
    u = urllib.parse.urlsplit(url)
    return "%s:%d" % (u.hostname, u.port or (443 if u.scheme == "https" else 80))


def tls_handshakes(entries, a):
    """The entries other than TLS handshakes, after checking those: one inside the client's TLS
    tunnel (its CONNECT's target port is --tls-port) and one on the proxy's own connection to
    that port, both established (docs/tls-handshake.md)."""
    tls = [e for e in entries if e.get("protocol") == "tls"]
    inside = [e for e in tls if "tunnel" in e and pod(e, "src") == a.client and
              (e["tunnel"].get("authority") or "").endswith(":%d" % a.tls_port)]
    relayed = [e for e in tls if "tunnel" not in e and pod(e, "src") == a.proxy and
               pod(e, "dst") == a.server and (e.get("dst") or {}).get("port") == a.tls_port]
    check(len(tls) == 2 and len(inside) == 1 and len(relayed) == 1 and
          all(e.get("established") is True for e in tls),
          "TLS: one handshake entry inside the TLS tunnel and one on the proxy's connection to "
          "port %d, both established" % a.tls_port, [short(e) for e in tls])
    return [e for e in entries if e.get("protocol") != "tls"]


def split(entries, a):
    """(CONNECT entries by client port, entries inside tunnels by tunnel id, the rest)."""
    connects, inside, rest = {}, collections.defaultdict(list), []
    for e in entries:
        if "tunnel" in e:
            inside[e["tunnel"].get("id")].append(e)
        elif req(e).get("method") == "CONNECT":
            connects.setdefault((e.get("src") or {}).get("port"), []).append(e)
        else:
            rest.append(e)
    return connects, inside, rest


def cmd_clients(a):
    entries = load_entries(a)
    xfers = []
    with open(a.curl, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("XFER "):
                import json
                _, tag, js = line.rstrip("\n").split(" ", 2)
                xfers.append((tag, json.loads(js)))
    server = read_jsonl(a.server_log)
    diag("%d entries, %d curl transfers, %d HTTP/1 server log lines" % (len(entries), len(xfers), len(server)))
    check(len(entries) == a.want, "floe: %d entries, want %d" % (len(entries), a.want),
          [short(e) for e in entries])
    entries = tls_handshakes(entries, a)
    connects, inside, rest = split(entries, a)
    ids = {e["id"]: e for e in entries}

    # Every entry between the client and the proxy is a CONNECT or came through one, or is the
    # plain proxied request; between the proxy and the servers none is in a tunnel.
    p = []
    for e in entries:
        s, d = pod(e, "src"), pod(e, "dst")
        if (s, d) == (a.client, a.proxy):
            if (e.get("dst") or {}).get("port") != a.proxy_port:
                p.append("%s: to port %s" % (short(e), (e.get("dst") or {}).get("port")))
        elif (s, d) == (a.proxy, a.server):
            if "tunnel" in e or req(e).get("method") == "CONNECT":
                p.append("%s: the proxy's own connection is not a tunnel" % short(e))
        else:
            p.append("%s: pods %s -> %s" % (short(e), s, d))
        refused = req(e).get("method") == "CONNECT" and (status(e) or 0) // 100 != 2
        if e.get("missing") or (e.get("incomplete") and not refused):
            p.append("%s: not complete" % short(e))
        elif e.get("incomplete") and e.get("missing_reason") != "connection_reset":
            # tinyproxy's 403 runs to the close, and curl resets the connection after its head
            p.append("%s: a refused CONNECT's body cut, but not by curl's reset" % short(e))
        t = e.get("tunnel")
        if t is not None:
            o = ids.get(t.get("id"))
            if not o or req(o).get("method") != "CONNECT" or o.get("flow_id") != e.get("flow_id"):
                p.append("%s: tunnel.id %r is not a CONNECT of its flow" % (short(e), t.get("id")))
            elif req(o).get("url") != t.get("authority") or o.get("tunnel_kind") != "cleartext":
                p.append("%s: tunnel %r, its CONNECT %s kind %s" % (short(e), t, short(o), o.get("tunnel_kind")))
            elif (o.get("src") or {}).get("port") != (e.get("src") or {}).get("port"):
                p.append("%s: not the connection of its CONNECT" % short(e))
            elif o.get("response_time", "") > e.get("request_time", "~"):
                p.append("%s: before its CONNECT's answer" % short(e))
    check_problems(p, "every entry: client -> proxy (CONNECTs, inside tunnels, the plain proxied "
                   "request) or proxy -> server (never a tunnel); complete; tunnel.id names the "
                   "CONNECT of its connection, with its authority")

    # curl's view, connection by connection (local_port).
    by_port = collections.OrderedDict()
    for tag, w in xfers:
        by_port.setdefault(w.get("local_port"), []).append((tag, w))
    p = []
    n_connect = n_inside = 0
    for port, xs in by_port.items():
        tag, w0 = xs[0]
        code = w0.get("http_connect") or 0
        if not code:  # the plain proxied GET: no CONNECT
            got = [e for e in rest if (e.get("src") or {}).get("port") == port]
            want = [(w.get("method"), w.get("url_effective"), w.get("response_code")) for _, w in xs]
            have = [(req(e).get("method"), req(e).get("url"), status(e)) for e in got]
            if have != want:
                p.append("%s (port %s): plain proxy entries %s, curl %s" % (tag, port, have, want))
            continue
        cs = connects.get(port, [])
        if len(cs) != 1:
            p.append("%s (port %s): %d CONNECT entries" % (tag, port, len(cs)))
            continue
        c = cs[0]
        n_connect += 1
        want_auth = authority_of(w0.get("url_effective", ""))
        kind = "tls" if w0.get("scheme", "").upper() == "HTTPS" else "cleartext"
        if req(c).get("url") != want_auth or status(c) != code:
            p.append("%s: CONNECT %s -> %s, curl %s -> %s" % (tag, req(c).get("url"), status(c), want_auth, code))
        if code // 100 != 2:
            if "tunnel_kind" in c or inside.get(c["id"]):
                p.append("%s: refused CONNECT %s has a tunnel" % (tag, short(c)))
            continue
        if c.get("tunnel_kind") != kind:
            p.append("%s: tunnel_kind %r, want %r" % (tag, c.get("tunnel_kind"), kind))
        got = sorted(inside.get(c["id"], []), key=lambda e: (e.get("stream_id", 0), e["id"]))
        if kind == "tls":
            if got:
                p.append("%s: %d entries inside a TLS tunnel" % (tag, len(got)))
            continue
        want = [(w.get("method"), path_of(w.get("url_effective", "")), w.get("response_code"),
                 w.get("http_version")) for _, w in xs]
        have = [(req(e).get("method"), req(e).get("url"), status(e), e.get("version")) for e in got]
        if have != want:
            p.append("%s: inside %s, curl %s" % (tag, have, want))
        n_inside += len(got)
    check_problems(p, "each curl connection: its CONNECT with curl's target and %{http_connect}, "
                   "the tunnel's kind, and inside, in order, curl's transfers (method, path, "
                   "status, HTTP version)")
    diag("%d CONNECTs, %d entries inside tunnels" % (n_connect, n_inside))

    # The proxy relays the same requests on its own connections: plain entries there, and for
    # HTTP/1 the server's log (method, path, status, proxy's port).
    inner = collections.Counter((req(e).get("method"), req(e).get("url"), status(e))
                                for es in inside.values() for e in es)
    relayed = collections.Counter((req(e).get("method"), req(e).get("url"), status(e))
                                  for e in rest if pod(e, "src") == a.proxy)
    plain = collections.Counter((req(e).get("method"), path_of(req(e).get("url", "")), status(e))
                                for e in rest if pod(e, "src") == a.client)
    check(inner + plain == relayed, "the proxy's connections to the servers carry the requests "
          "seen inside the tunnels (and the plain proxied one)",
          ["inside+plain %s" % sorted((inner + plain).items()), "relayed %s" % sorted(relayed.items())])
    logged = collections.Counter((s.get("method"), s.get("path") + ("?" + s["query"] if s.get("query") else ""),
                                  s.get("status"), s.get("client_port")) for s in server)
    h1 = collections.Counter((req(e).get("method"), req(e).get("url"), status(e), (e.get("src") or {}).get("port"))
                             for e in rest if pod(e, "src") == a.proxy and e.get("version") != "2")
    check(logged == h1, "the HTTP/1 server's log: the proxy's requests as floe saw them (method, "
          "path, status, the proxy's port)", ["server %s" % sorted(logged.items()), "floe %s" % sorted(h1.items())])


TSHARK_FIELDS = ["tcp.stream", "tcp.srcport", "tcp.dstport", "http.request.method", "http.request.uri",
                 "http.response.code", "http.proxy_connect_host", "http.proxy_connect_port",
                 "http2.streamid", "http2.headers.method", "http2.headers.path", "http2.headers.status"]


def tshark_exchanges(path):
    """tshark's HTTP/1 and HTTP/2 messages (TSV of TSHARK_FIELDS) paired into exchanges:
    HTTP/1 requests and responses in order per connection, HTTP/2 by stream. Returns a list
    of dict(stream, client_port, method, target, status)."""
    h1 = collections.OrderedDict()   # tcp.stream -> {"req": [...], "resp": [...]}
    h2 = collections.OrderedDict()   # (tcp.stream, stream id) -> exchange
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            c = dict(zip(TSHARK_FIELDS, line.rstrip("\n").split("\t")))
            st = c.get("tcp.stream", "")
            first = lambda k: c.get(k, "").split(",")[0]
            if c.get("http.request.method"):
                target = c["http.request.uri"]
                if c["http.request.method"] == "CONNECT" and c.get("http.proxy_connect_host"):
                    target = "%s:%s" % (c["http.proxy_connect_host"], c["http.proxy_connect_port"])
                h1.setdefault(st, {"req": [], "resp": []})["req"].append(
                    (int(c["tcp.srcport"]), c["http.request.method"], target))
            elif c.get("http.response.code"):
                h1.setdefault(st, {"req": [], "resp": []})["resp"].append(int(first("http.response.code")))
            elif c.get("http2.streamid"):
                # A packet may hold several frames (SETTINGS on stream 0, then HEADERS): headers
                # are on a request stream, never 0 (each curl run here makes one request).
                sids = [x for x in c["http2.streamid"].split(",") if x not in ("", "0")]
                if not sids:
                    continue
                x = h2.setdefault((st, sids[0]), {"stream": st})
                if c.get("http2.headers.method"):
                    x.update(client_port=int(c["tcp.srcport"]), method=first("http2.headers.method"),
                             target=first("http2.headers.path"))
                if c.get("http2.headers.status"):
                    x["status"] = int(first("http2.headers.status"))
    res = []
    for st, m in h1.items():
        for i, (port, method, target) in enumerate(m["req"]):
            res.append({"stream": st, "client_port": port, "method": method, "target": target,
                        "status": m["resp"][i] if i < len(m["resp"]) else None})
    res += [x for x in h2.values() if "method" in x]
    return res


def cmd_tshark(a):
    entries, _ = read_entries(a.entries)
    entries = [e for e in entries if e.get("protocol") != "tls"]  # checked by cmd_clients
    connects, inside, rest = split(entries, a)
    ts = tshark_exchanges(a.tshark)
    diag("tshark: %d exchanges" % len(ts))
    # The client's connections to the proxy: tshark dissects the CONNECTs, the plain proxied
    # request and, by the CONNECT's target port, h2c inside tunnels (-d tcp.port==8081,http2);
    # HTTP/1 inside a tunnel to 8080 it shows as undissected data (tshark 4.0's http.port table
    # has no HTTP entry): those are compared on the proxy's leg below.
    t_client = collections.Counter((x["client_port"], x["method"], x["target"], x.get("status"))
                                   for x in ts if any(e for e in entries if pod(e, "src") == a.client and
                                                      (e.get("src") or {}).get("port") == x["client_port"]))
    f_client = collections.Counter(((e.get("src") or {}).get("port"), req(e).get("method"), req(e).get("url"), status(e))
                                   for e in entries if pod(e, "src") == a.client and
                                   ("tunnel" not in e or e.get("version") == "2"))
    check(t_client == f_client and t_client, "tshark's exchanges on the client's connections (client port, "
          "method, target, status: CONNECTs, the plain proxied request, h2c inside tunnels) are floe's",
          ["tshark %s" % sorted(t_client.items()), "floe %s" % sorted(f_client.items())])
    # What went through the tunnels, as tshark dissects it where the proxy relays it to the
    # servers (HTTP/1, and h2c with -d tcp.port==PORT,http2), against floe's entries inside.
    t_relayed = collections.Counter((x["method"], x["target"], x.get("status")) for x in ts
                                    if any(e for e in entries if (e.get("src") or {}).get("port") == x["client_port"]
                                           and pod(e, "src") == a.proxy))
    f_inside = collections.Counter((req(e).get("method"), req(e).get("url"), status(e))
                                   for es in inside.values() for e in es)
    f_inside += collections.Counter((req(e).get("method"), path_of(req(e).get("url", "")), status(e))
                                    for e in rest if pod(e, "src") == a.client)
    check(t_relayed == f_inside and t_relayed, "tshark's exchanges on the proxy's connections to the servers "
          "(method, path, status) are floe's entries inside the tunnels (and the plain proxied one)",
          ["tshark %s" % sorted(t_relayed.items()), "floe %s" % sorted(f_inside.items())])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", required=True)
    ap.add_argument("--curl")
    ap.add_argument("--server-log")
    ap.add_argument("--tshark")
    ap.add_argument("--client", required=True, help="the client's pod")
    ap.add_argument("--proxy", required=True, help="the proxy's pod")
    ap.add_argument("--server", required=True, help="the servers' pod")
    ap.add_argument("--proxy-port", type=int, required=True)
    ap.add_argument("--tls-port", type=int, default=0, help="the TLS server's port")
    ap.add_argument("--want", type=int, help="entries floe must have printed")
    ap.add_argument("--since", type=float, help="epoch seconds: no entry time before")
    ap.add_argument("--until", type=float, help="epoch seconds: no entry time after")
    a = ap.parse_args()
    if a.tshark:
        cmd_tshark(a)
    else:
        cmd_clients(a)


if __name__ == "__main__":
    main()
