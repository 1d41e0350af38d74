#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for the TLS handshake dissector: `floe read FILE --json` against tshark's TLS
and X.509 dissectors on every capture under <captures> that holds a TLS handshake (SOURCES.md;
today http2/http2-16-ssl.pcapng, amqp/amqps.pcapng, http1/http-chunked-ssl.pcapng).

Per TCP connection with a ClientHello or a ServerHello in tshark's view, floe must have exactly
one `tls` entry, with:
- request.sni = tls.handshake.extensions_server_name, request.alpn = the ClientHello's
  tls.handshake.extensions_alpn_str, request.ja3 = tls.handshake.ja3_full and
  request.ja3_hash = tls.handshake.ja3 (tshark's own JA3), request.cipher_suites = the
  ClientHello's tls.handshake.ciphersuite values named by Wireshark's table (`tshark -G
  values`: an independent list from the IANA registry floe's table is generated from);
- response.cipher (named the same way), response.alpn and response.version (supported_version
  when the ServerHello has it, else tls.handshake.version) from the ServerHello;
- each certificate in clear (the server's; the client's when it sent one): chain_length = the
  number of certificates in the message, serial = the first one's x509af.serialNumber (DER's
  leading zero byte left out), not_before/not_after = its two x509af.utcTime values, san =
  its x509ce.dNSName values (when the chain has one certificate: tshark's list is the whole
  message's).
JA4 is not in tshark 4.0: the unit tests check it against the JA4 specification's examples.

Output is TAP-like: "ok N - ..." / "not ok N - ...", "#" diagnostics, and the last line
"N passed, N failed". Exit status 1 when anything failed.

Usage: oracle_tls.py [--floe PATH] [--captures DIR] [-v]
Only the Python standard library is used (run with /usr/bin/python3).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")
sys.path.insert(0, HERE)
from oracle import Tap, norm_ip, q  # noqa: E402

FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
          "tcp.dstport", "tls.handshake.type", "tls.handshake.extensions_server_name",
          "tls.handshake.extensions_alpn_str", "tls.handshake.ja3", "tls.handshake.ja3_full",
          "tls.handshake.ciphersuite", "tls.handshake.version",
          "tls.handshake.extensions.supported_version", "tls.handshake.certificate_length",
          "x509af.serialNumber", "x509af.utcTime", "x509ce.dNSName"]
VERSIONS = {0x0304: "1.3", 0x0303: "1.2", 0x0302: "1.1", 0x0301: "1.0", 0x0300: "ssl3"}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def cipher_names():
    names = {}
    for line in run(["tshark", "-G", "values"]).splitlines():
        p = line.split("\t")
        if len(p) == 4 and p[0] == "V" and p[1] == "tls.handshake.ciphersuite":
            names[int(p[2])] = p[3]
    return names


def name_of(names, code):
    return names.get(code, "0x%04x" % code)


def tshark_messages(path):
    """Per TCP stream: (client, server), and the handshake messages' fields by type."""
    out = run(["tshark", "-r", path, "-Y", "tls.handshake.type", "-T", "fields",
               "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"] +
              sum([["-e", f] for f in FIELDS], []))
    streams = {}
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        src = (norm_ip(v["ip.src"] or v["ipv6.src"]), int(v["tcp.srcport"]))
        dst = (norm_ip(v["ip.dst"] or v["ipv6.dst"]), int(v["tcp.dstport"]))
        s = streams.setdefault(v["tcp.stream"], {"client": None, "msgs": []})
        types = [int(t) for t in v["tls.handshake.type"].split("|") if t]
        if 1 in types:
            s["client"] = (src, dst)
        elif 2 in types and not s["client"]:
            s["client"] = (dst, src)
        s["msgs"].append((src, types, v))
    return streams


def split(v, key):
    return [x for x in v.get(key, "").split("|") if x]


def cert_expect(v):
    """What floe should show of the first certificate of a Certificate message's frame."""
    want = {"chain_length": len(split(v, "tls.handshake.certificate_length"))}
    serials = split(v, "x509af.serialNumber")
    if serials:
        want["serial"] = serials[0].replace(":", "").lower().lstrip("0") or "0"
    times = split(v, "x509af.utcTime")
    if len(times) >= 2:
        def t(s):  # "2015-02-07 11:30:11 (UTC)" -> floe's RFC 3339
            return s.replace(" (UTC)", "").replace(" ", "T") + ".000000000Z"
        want["not_before"], want["not_after"] = t(times[0]), t(times[1])
    if want["chain_length"] == 1:
        want["san"] = split(v, "x509ce.dNSName") or None
    return want


def may_hold_tls(path):
    """A cheap first look: a hello's record and handshake header somewhere in the file (22,
    3, 0..4, two length bytes, 1 or 2). Without one tshark has no handshake to show either;
    reading every capture with tshark took minutes."""
    import gzip
    import re
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    return re.search(rb"\x16\x03[\x00-\x04]..[\x01\x02]", data, re.S) is not None


def check_capture(path, floe, names, tap, verbose):
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    if not may_hold_tls(path):
        return False
    streams = tshark_messages(path)
    if not streams:
        return False
    out = run([floe, "read", path, "--json"])
    entries = [json.loads(x) for x in out.split("\n") if x.strip()]
    tls = {}
    for e in entries:
        if e.get("protocol") == "tls":
            key = ((norm_ip(e["src"]["ip"]), e["src"]["port"]), (norm_ip(e["dst"]["ip"]), e["dst"]["port"]))
            tls.setdefault(key, []).append(e)
    problems, checked = [], 0
    for sid, s in sorted(streams.items()):
        client, server = s["client"]
        mine = tls.pop((client, server), [])
        if len(mine) != 1:
            problems.append("stream %s %s -> %s: %d tls entries, want 1" % (sid, client, server, len(mine)))
            continue
        e = mine[0]
        req, resp = e.get("request", {}), e.get("response", {})
        got, want = {}, {}
        for src, types, v in s["msgs"]:
            from_client = src == client
            codes = [int(c, 16) for c in split(v, "tls.handshake.ciphersuite")]
            if 1 in types:
                want["request.sni"] = v["tls.handshake.extensions_server_name"] or None
                got["request.sni"] = req.get("sni")
                want["request.alpn"] = split(v, "tls.handshake.extensions_alpn_str") or None
                got["request.alpn"] = req.get("alpn")
                want["request.ja3"] = v["tls.handshake.ja3_full"]
                got["request.ja3"] = req.get("ja3")
                want["request.ja3_hash"] = v["tls.handshake.ja3"]
                got["request.ja3_hash"] = req.get("ja3_hash")
                want["request.cipher_suites"] = [name_of(names, c) for c in codes
                                                 if not ((c & 0x0f0f) == 0x0a0a and c >> 8 == c & 0xff)]
                got["request.cipher_suites"] = req.get("cipher_suites")
            if 2 in types:
                sv = split(v, "tls.handshake.extensions.supported_version")
                ver = int(sv[-1], 16) if sv else int(split(v, "tls.handshake.version")[-1], 16)
                want["response.version"] = VERSIONS.get(ver, "0x%04x" % ver)
                got["response.version"] = resp.get("version")
                want["response.cipher"] = name_of(names, codes[-1]) if codes else None
                got["response.cipher"] = resp.get("cipher")
                want["response.alpn"] = (split(v, "tls.handshake.extensions_alpn_str") or [None])[0]
                got["response.alpn"] = resp.get("alpn")
            if 11 in types:
                half = "request" if from_client else "response"
                cert = (req if from_client else resp).get("certificate") or {}
                for k, w in cert_expect(v).items():
                    want["%s.certificate.%s" % (half, k)] = w
                    got["%s.certificate.%s" % (half, k)] = cert.get(k)
        for k in sorted(want):
            if got.get(k) != want[k]:
                problems.append("stream %s (%s): %s is %s, tshark %s" % (sid, e["id"], k, q(got.get(k)), q(want[k])))
        checked += 1
        if verbose:
            tap.diag("%s stream %s: %d fields compared" % (name, sid, len(want)))
    for key, es in tls.items():
        problems += ["a tls entry tshark has no handshake for: %s" % x["id"] for x in es]
    tap.result(not problems, "%s: %d TLS handshakes, fields equal to tshark's" % (name, checked))
    for p in problems[:20]:
        tap.diag("  " + p)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--floe", default=os.path.join(ROOT, os.environ.get("BUILD", "build"), "floe"))
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES",
                                                         os.path.join(ROOT, "..", "shared", "captures")))
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tap = Tap()
    if not shutil.which("tshark") or not os.path.isdir(a.captures):
        tap.result(True, "tls oracle", skip="tshark or the captures are missing")
        return tap.done()
    names = cipher_names()
    found = 0
    for dirpath, _, files in sorted(os.walk(a.captures)):
        for f in sorted(files):
            if f.endswith(CAPTURE_EXT):
                found += check_capture(os.path.join(dirpath, f), a.floe, names, tap, a.v)
    tap.result(found >= 3, "%d captures with TLS handshakes found (SOURCES.md lists 3)" % found)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
