#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for DNS: `floe read FILE --json` against tshark on the DNS captures.

For every capture under <captures>/dns (see SOURCES.md there) tshark dissects the file once
(-T json, every DNS message of every frame, TCP reassembled) and floe once; every DNS message
tshark shows must be one half of a floe entry (the request of the query's sender, the
response of the responder), found by transport, sender and receiver address and port, id
and QR bit, with the same fields:

  header     opcode, flags (tc rd z cd; aa ra ad where tshark shows them), rcode, the four
             section counts
  questions  name, type, class
  records    answers, authority, additional (OPT apart): name, type, class, TTL and the data
             of A, AAAA, CNAME, NS, PTR, MX, TXT, SOA, SRV, DS, DNSKEY, RRSIG, NSEC, NSEC3,
             TSIG, CAA
  EDNS       UDP size, extended rcode, version, DO, option codes, and client subnet, cookie,
             TCP keepalive and padding contents
  UDP        the message's time (the frame's, or the first fragment's for a datagram
             reassembled from IP fragments) and size (UDP payload)

and floe must have no message tshark does not show. Pairing is checked too: a response
tshark links to its query (dns.response_to) must be in the same floe entry as that query;
a response tshark calls unsolicited must be an entry missing its request. A query sent
again (UDP retransmission) is one floe message with request.retransmissions; a response
to a query already answered is counted by floe (dns.duplicate_responses), not shown.

Known tshark 4.0 differences where floe is right are listed in EXPECTED below, each with
its reason, printed as "# expected difference" and not failing.

Output: TAP lines "ok N - ..." / "not ok N - ..." with "# " diagnostics, and a last line
"N passed, N failed". Usage: oracle_dns.py [--floe PATH] [--captures DIR] [-v]
Only the Python standard library (run with /usr/bin/python3).
"""

import argparse
import base64
import calendar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")

TYPES = {
    "A": 1, "NS": 2, "MD": 3, "MF": 4, "CNAME": 5, "SOA": 6, "MB": 7, "MG": 8, "MR": 9,
    "NULL": 10, "WKS": 11, "PTR": 12, "HINFO": 13, "MINFO": 14, "MX": 15, "TXT": 16,
    "RP": 17, "AFSDB": 18, "SIG": 24, "KEY": 25, "AAAA": 28, "LOC": 29, "NXT": 30,
    "SRV": 33, "NAPTR": 35, "KX": 36, "CERT": 37, "A6": 38, "DNAME": 39, "OPT": 41,
    "APL": 42, "DS": 43, "SSHFP": 44, "IPSECKEY": 45, "RRSIG": 46, "NSEC": 47,
    "DNSKEY": 48, "DHCID": 49, "NSEC3": 50, "NSEC3PARAM": 51, "TLSA": 52, "SMIMEA": 53,
    "HIP": 55, "CDS": 59, "CDNSKEY": 60, "OPENPGPKEY": 61, "CSYNC": 62, "ZONEMD": 63,
    "SVCB": 64, "HTTPS": 65, "SPF": 99, "TKEY": 249, "TSIG": 250, "IXFR": 251,
    "AXFR": 252, "MAILB": 253, "MAILA": 254, "ANY": 255, "URI": 256, "CAA": 257,
    "TA": 32768, "DLV": 32769,
}
CLASSES = {"IN": 1, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
OPCODES = {"QUERY": 0, "IQUERY": 1, "STATUS": 2, "NOTIFY": 4, "UPDATE": 5, "DSO": 6}
SECTIONS = (("Answers", "answers"), ("Authoritative nameservers", "authority"),
            ("Additional records", "additional"))

# (capture glob, field path regex, reason): differences where floe is right.
EXPECTED = [
    ("*", r"edns\.options\[\d+\]\.chain",
     "tshark 4.0 shows the CHAIN option's trust point without its dots (label bytes run "
     "together, e.g. 'fooexamplecom'); floe decodes the wire-format name (foo.example.com)"),
]


# TAP output and address normalising are the HTTP oracle's (selftests/oracle/oracle.py).
sys.path.insert(0, HERE)
from oracle import Tap, norm_ip  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import pcap_cut  # noqa: E402  (capture gaps made at run time)


# --------------------------------------------------------------------------- tshark side
class Dup(list):
    """Values of a key that occurs more than once in one tshark JSON object."""


def pairs_hook(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            if isinstance(d[k], Dup):
                d[k].append(v)
            else:
                d[k] = Dup([d[k], v])
        else:
            d[k] = v
    return d


def as_list(v):
    if v is None:
        return []
    return list(v) if isinstance(v, Dup) else [v]


def one(v):
    """A field that should occur once (tshark repeats some): the first value."""
    return v[0] if isinstance(v, Dup) else v


def tname(name):
    """tshark writes the root as <Root>."""
    return "." if name == "<Root>" else name


def colon_hex(s):
    return (s or "").replace(":", "").lower()


def tshark_time(s):
    """'Jun  4, 2016 17:35:40.000000000 UTC' -> YYYYMMDDHHMMSS"""
    m = re.match(r"(\w+)\s+(\d+), (\d+) (\d+):(\d+):(\d+)", s or "")
    if not m:
        return s
    t = time.strptime("%s %s %s %s:%s:%s" % m.groups(), "%b %d %Y %H:%M:%S")
    return time.strftime("%Y%m%d%H%M%S", t)


def tshark_record(r):
    """One record of tshark's JSON as floe's shape (without data)."""
    rec = {"name": tname(r.get("dns.resp.name")), "type": int(one(r.get("dns.resp.type"), )),
           "tshark": r}
    if "dns.resp.class" in r:
        rec["class"] = int(one(r["dns.resp.class"]), 16)
    if "dns.resp.ttl" in r:
        rec["ttl"] = int(one(r["dns.resp.ttl"]))
    return rec


def tshark_messages(path):
    """Every DNS message tshark shows, in frame order."""
    out = subprocess.run(["tshark", "-r", path, "-T", "json", "-Y", "dns", "-J",
                          "frame ip ipv6 udp tcp dns"], capture_output=True, check=True).stdout
    pkts = json.loads(out.decode("utf-8", "replace"), object_pairs_hook=pairs_hook)
    times = {}  # frame -> time, for datagrams reassembled from IP fragments
    for line in subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.number",
                                "-e", "frame.time_epoch"], capture_output=True,
                               check=True).stdout.decode().splitlines():
        n, _, t = line.partition("\t")
        times[int(n)] = int(t.replace(".", ""))
    msgs = []
    for pkt in pkts:
        ly = pkt["_source"]["layers"]
        fr = ly["frame"]
        ip = ly.get("ip") or ly.get("ipv6")
        if isinstance(ip, Dup):
            ip = ip[-1]
        v6 = "ipv6" in ly and "ip" not in ly
        src = norm_ip(ip["ipv6.src" if v6 else "ip.src"])
        dst = norm_ip(ip["ipv6.dst" if v6 else "ip.dst"])
        if "udp" in ly:
            l4, tr = ly["udp"], "udp"
        else:
            l4, tr = ly["tcp"], "tcp"
        sport, dport = int(one(l4[tr + ".srcport"])), int(one(l4[tr + ".dstport"]))
        # A datagram reassembled from IP fragments: floe's time is its first fragment's.
        frags = as_list((ip.get("ip.fragments_tree") or {}).get("ip.fragment"))
        t_ns = times[int(frags[0])] if frags else int(fr["frame.time_epoch"].replace(".", ""))
        for d in as_list(ly.get("dns")):
            ft = d.get("dns.flags_tree", {})
            m = {
                "frame": int(fr["frame.number"]),
                "time_ns": t_ns,
                "transport": tr, "src": (src, sport), "dst": (dst, dport),
                "id": int(d["dns.id"], 16), "qr": ft.get("dns.flags.response") == "1",
                "flags": ft, "counts": [int(d.get(k, "0")) for k in (
                    "dns.count.queries", "dns.count.answers", "dns.count.auth_rr",
                    "dns.count.add_rr")],
                "questions": [], "response_to": d.get("dns.response_to"),
                "unsolicited": "dns.unsolicited" in d, "sections": {}, "opt": None,
            }
            if tr == "udp":
                m["size"] = int(one(l4["udp.length"])) - 8
            for q in as_list(d.get("Queries")):
                for _k, qs in q.items():
                    for qq in as_list(qs):
                        m["questions"].append({"name": tname(qq.get("dns.qry.name")),
                                               "type": int(qq["dns.qry.type"]),
                                               "class": int(qq["dns.qry.class"], 16)})
            for tkey, fkey in SECTIONS:
                recs = []
                for sec in as_list(d.get(tkey)):
                    for _k, rs in sec.items():
                        for r in as_list(rs):
                            if not isinstance(r, dict) or "dns.resp.type" not in r:
                                continue
                            rec = tshark_record(r)
                            if fkey == "additional" and rec["type"] == 41 and m["opt"] is None:
                                m["opt"] = r
                                continue
                            recs.append(rec)
                m["sections"][fkey] = recs
            msgs.append(m)
    return msgs


# --------------------------------------------------------------------------- floe side
def rfc3339_ns(s):
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$", s or "")
    if not m:
        return None
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) * 10**9 + \
        int(m.group(2))


def floe_read(floe, path):
    p = subprocess.run([floe, "read", "--json", path], capture_output=True)
    if p.returncode:
        raise RuntimeError("floe read exit %d: %s" % (p.returncode, p.stderr.decode()[-500:]))
    entries = [json.loads(line) for line in p.stdout.decode().split("\n") if line.strip()]
    counters = dict((k, int(v)) for k, v in re.findall(r"dns\.(\w+) (\d+)", p.stderr.decode()))
    return entries, counters


def floe_messages(entries):
    msgs = []
    for e in entries:
        if e.get("protocol") != "dns":
            continue
        for half, snd, rcv in (("request", "src", "dst"), ("response", "dst", "src")):
            m = e.get(half)
            if not m:
                continue
            msgs.append({"entry": e, "half": half, "msg": m, "transport": e.get("transport"),
                         "src": (norm_ip(e[snd]["ip"]), e[snd]["port"]),
                         "dst": (norm_ip(e[rcv]["ip"]), e[rcv]["port"]),
                         "time_ns": rfc3339_ns(e.get(half + "_time")),
                         "size": e.get(half + "_size"), "used": 0})
    return msgs


def fnum(name, table):
    if name is None:
        return None
    if name in table:
        return table[name]
    m = re.match(r"^(?:TYPE|CLASS|OPCODE)(\d+)$", name)
    return int(m.group(1)) if m else name


# --------------------------------------------------------------------------- comparison
def b64hex(s):
    try:
        return base64.b64decode(s or "").hex()
    except ValueError:
        return s


def data_diffs(rtype, t, f, where, diffs):
    """tshark record fields t vs floe's data f, by type."""
    def cmp(field, tv, fv):
        if tv != fv:
            diffs.append((where + "." + field, tv, fv))

    g = lambda k: one(t.get(k))
    if rtype == 1:
        cmp("data", g("dns.a"), f)
    elif rtype == 28:
        cmp("data", norm_ip(g("dns.aaaa") or ""), norm_ip(f or ""))
    elif rtype in (2, 5, 12):
        cmp("data", g({2: "dns.ns", 5: "dns.cname", 12: "dns.ptr.domain_name"}[rtype]), f)
    elif rtype == 15:
        cmp("data.preference", int(g("dns.mx.preference")), (f or {}).get("preference"))
        cmp("data.exchange", g("dns.mx.mail_exchange"), (f or {}).get("exchange"))
    elif rtype == 16:
        cmp("data", as_list(t.get("dns.txt")), f)
    elif rtype == 6:
        f = f or {}
        for tk, fk in (("mname", "mname"), ("rname", "rname"), ("serial_number", "serial"),
                       ("refresh_interval", "refresh"), ("retry_interval", "retry"),
                       ("expire_limit", "expire"), ("minimum_ttl", "minimum")):
            tv = g("dns.soa." + tk)
            cmp("data." + fk, tv if fk in ("mname", "rname") else int(tv), f.get(fk))
    elif rtype == 33:
        f = f or {}
        for k in ("priority", "weight", "port"):
            cmp("data." + k, int(g("dns.srv." + k)), f.get(k))
        cmp("data.target", g("dns.srv.target"), f.get("target"))
    elif rtype == 43:
        f = f or {}
        cmp("data.key_tag", int(g("dns.ds.key_id"), 0), f.get("key_tag"))
        cmp("data.algorithm", int(g("dns.ds.algorithm")), f.get("algorithm"))
        cmp("data.digest_type", int(g("dns.ds.digest_type")), f.get("digest_type"))
        cmp("data.digest", colon_hex(g("dns.ds.digest")), f.get("digest"))
    elif rtype == 48:
        f = f or {}
        cmp("data.flags", int(g("dns.dnskey.flags"), 16), f.get("flags"))
        cmp("data.protocol", int(g("dns.dnskey.protocol")), f.get("protocol"))
        cmp("data.algorithm", int(g("dns.dnskey.algorithm")), f.get("algorithm"))
        cmp("data.key_tag", int(g("dns.dnskey.key_id")), f.get("key_tag"))
        cmp("data.public_key", colon_hex(g("dns.dnskey.public_key")),
            b64hex(f.get("public_key")))
    elif rtype == 46:
        f = f or {}
        cmp("data.type_covered", int(g("dns.rrsig.type_covered")),
            fnum(f.get("type_covered"), TYPES))
        for tk, fk in (("algorithm", "algorithm"), ("labels", "labels"),
                       ("original_ttl", "original_ttl"), ("key_tag", "key_tag")):
            cmp("data." + fk, int(g("dns.rrsig." + tk)), f.get(fk))
        cmp("data.signer", g("dns.rrsig.signers_name"), f.get("signer"))
        cmp("data.expiration", tshark_time(g("dns.rrsig.signature_expiration")),
            f.get("expiration"))
        cmp("data.inception", tshark_time(g("dns.rrsig.signature_inception")),
            f.get("inception"))
        cmp("data.signature", colon_hex(g("dns.rrsig.signature")), b64hex(f.get("signature")))
    elif rtype == 47:
        cmp("data.next", g("dns.nsec.next_domain_name"), (f or {}).get("next"))
    elif rtype == 50:
        f = f or {}
        cmp("data.hash_algorithm", int(g("dns.nsec3.algo")), f.get("hash_algorithm"))
        cmp("data.flags", int(g("dns.nsec3.flags")), f.get("flags"))
        cmp("data.iterations", int(g("dns.nsec3.iterations")), f.get("iterations"))
        cmp("data.salt", colon_hex(g("dns.nsec3.salt_value")), f.get("salt"))
        cmp("data.next_hashed", g("dns.nsec3.hash_value"), f.get("next_hashed"))
    elif rtype == 250:
        f = f or {}
        cmp("data.algorithm", g("dns.tsig.algorithm_name"), f.get("algorithm"))
        for k in ("fudge", "mac_size", "original_id"):
            cmp("data." + k, int(g("dns.tsig." + k)), f.get(k))
        cmp("data.error", int(g("dns.tsig.error")),
            0 if f.get("error") == "NOERROR" else f.get("error"))
    elif rtype == 257:
        f = f or {}
        if "dns.caa.tag" in t:
            cmp("data.tag", g("dns.caa.tag"), f.get("tag"))
            cmp("data.value", g("dns.caa.value"), f.get("value"))


def edns_diffs(opt, edns, diffs):
    if opt is None and edns is None:
        return
    if opt is None or edns is None:
        diffs.append(("edns", "present" if opt else "absent", "present" if edns else "absent"))
        return
    z = opt.get("dns.resp.z_tree", {})
    for field, tv, fv in (
            ("edns.udp_size", int(opt.get("dns.rr.udp_payload_size", -1)), edns.get("udp_size")),
            ("edns.extended_rcode", int(opt.get("dns.resp.ext_rcode", "0"), 16),
             edns.get("extended_rcode")),
            ("edns.version", int(opt.get("dns.resp.edns0_version", -1)), edns.get("version")),
            ("edns.do", z.get("dns.resp.z.do") == "1", edns.get("do"))):
        if tv != fv:
            diffs.append((field, tv, fv))
    topts = as_list(opt.get("dns.opt"))
    fopts = edns.get("options", [])
    if [int(one(o.get("dns.opt.code"))) for o in topts] != [o.get("code") for o in fopts]:
        diffs.append(("edns.options.code", [o.get("dns.opt.code") for o in topts],
                      [o.get("code") for o in fopts]))
        return
    for i, (t, f) in enumerate(zip(topts, fopts)):
        w = "edns.options[%d]" % i
        code = f.get("code")
        checks = [("length", int(one(t.get("dns.opt.len"))), f.get("length"))]
        if code == 8 and "dns.opt.client.family" in t:
            addr = t.get("dns.opt.client.addr4") or t.get("dns.opt.client.addr6")
            checks += [("family", int(t["dns.opt.client.family"]), f.get("family")),
                       ("source_prefix", int(t["dns.opt.client.netmask"]), f.get("source_prefix")),
                       ("scope_prefix", int(t["dns.opt.client.scope"]), f.get("scope_prefix")),
                       ("address", norm_ip(addr) if addr else None,
                        norm_ip(f["address"]) if f.get("address") else None)]
        elif code == 10:
            checks += [("client", colon_hex(t.get("dns.opt.cookie.client")), f.get("client")),
                       ("server", colon_hex(t.get("dns.opt.cookie.server")),
                        f.get("server", ""))]
        elif code == 11 and "dns.opt.edns_tcp_keepalive.timeout" in t:
            checks += [("timeout", int(t["dns.opt.edns_tcp_keepalive.timeout"]),
                        f.get("timeout"))]
        elif code == 13 and "dns.opt.chain.fqdn" in t:
            checks += [("chain", t["dns.opt.chain.fqdn"], f.get("trust_point"))]
        for field, tv, fv in checks:
            if tv != fv:
                diffs.append((w + "." + field, tv, fv))


def message_diffs(t, fm):
    """Differences between tshark message t and floe message fm (list of (field, t, f))."""
    f = fm["msg"]
    diffs = []
    ft = t["flags"]
    fl = f.get("flags", {})

    def cmp(field, tv, fv):
        if tv != fv:
            diffs.append((field, tv, fv))

    cmp("opcode", int(ft.get("dns.flags.opcode", -1)), fnum(f.get("opcode"), OPCODES))
    for tk, fk in (("truncated", "tc"), ("recdesired", "rd"), ("z", "z"),
                   ("checkdisable", "cd"), ("authoritative", "aa"), ("recavail", "ra"),
                   ("authenticated", "ad")):
        if "dns.flags." + tk in ft:
            cmp("flags." + fk, ft["dns.flags." + tk] == "1", fl.get(fk))
    if "dns.flags.rcode" in ft:
        cmp("rcode", int(ft["dns.flags.rcode"]), f.get("rcode_value", -1) & 0xf)
    c = f.get("counts", {})
    cmp("counts", t["counts"], [c.get(k) for k in ("questions", "answers", "authority",
                                                   "additional")])
    fq = [{"name": q.get("name"), "type": fnum(q.get("type"), TYPES),
           "class": fnum(q.get("class"), CLASSES)} for q in f.get("questions", [])]
    cmp("questions", t["questions"], fq)
    for _tk, fk in SECTIONS:
        trs, frs = t["sections"].get(fk, []), f.get(fk, [])
        if len(trs) != len(frs):
            diffs.append((fk + ".length", len(trs), len(frs)))
        for i, (tr, fr) in enumerate(zip(trs, frs)):
            w = "%s[%d]" % (fk, i)
            cmp(w + ".name", tr["name"], fr.get("name"))
            cmp(w + ".type", tr["type"], fnum(fr.get("type"), TYPES))
            if "class" in tr:
                cmp(w + ".class", tr["class"], fnum(fr.get("class"), CLASSES))
            if "ttl" in tr:
                cmp(w + ".ttl", tr["ttl"], fr.get("ttl"))
            data_diffs(tr["type"], tr["tshark"], fr.get("data"), w, diffs)
    edns_diffs(t["opt"], f.get("edns"), diffs)
    if t["transport"] == "udp":
        cmp("time", t["time_ns"], fm["time_ns"])
        cmp("size", t["size"], fm["size"])
    return diffs


def check_capture(floe, path, name):
    """Returns (good, summary, problem lines, expected-difference lines)."""
    tmsgs = tshark_messages(path)
    entries, counters = floe_read(floe, path)
    fmsgs = floe_messages(entries)
    by_key = {}
    for fm in fmsgs:
        key = (fm["transport"], fm["src"], fm["dst"], fm["msg"].get("id"),
               fm["msg"].get("flags", {}).get("qr"))
        by_key.setdefault(key, []).append(fm)
    problems, expected = [], []
    of_frame = {}  # (tshark query frame, id) -> floe entry id
    dup_responses = 0
    for t in tmsgs:
        key = (t["transport"], t["src"], t["dst"], t["id"], t["qr"])
        cands = by_key.get(key, [])
        q = t["questions"][0] if t["questions"] else None
        fm = None
        for c in cands:  # the first floe message of that key with the same question
            fq = (c["msg"].get("questions") or [None])[0]
            same_q = q is None or fq is None or (
                q["name"].lower() == fq.get("name", "").lower() and
                q["type"] == fnum(fq.get("type"), TYPES))
            if same_q and not c["used"]:
                fm = c
                break
        where = "frame %d %s %s:%d -> %s:%d id %d %s" % (
            t["frame"], t["transport"], t["src"][0], t["src"][1], t["dst"][0], t["dst"][1],
            t["id"], "response" if t["qr"] else "query")
        if fm is None:
            # a copy of a message floe already has?
            used = [c for c in cands if c["used"]]
            if used and not t["qr"] and used[-1]["msg"].get("retransmissions", 0) >= used[-1]["used"]:
                used[-1]["used"] += 1
                of_frame[(t["frame"], t["id"])] = used[-1]["entry"]["id"]
                continue
            if used and t["qr"]:
                dup_responses += 1
                continue
            problems.append("%s: not in floe's entries" % where)
            continue
        fm["used"] = 1
        of_frame[(t["frame"], t["id"])] = fm["entry"]["id"]
        for field, tv, fv in message_diffs(t, fm):
            why = [r for g, fre, r in EXPECTED if re.search(fre, field)]
            line = "%s: %s: tshark %s, floe %s" % (where, field, json.dumps(tv)[:200],
                                                   json.dumps(fv)[:200])
            (expected if why else problems).append(line + (" (%s)" % why[0] if why else ""))
        # pairing as tshark sees it
        if t["qr"] and t["response_to"]:
            qe = of_frame.get((int(t["response_to"]), t["id"]))
            if qe is not None and qe != fm["entry"]["id"]:
                problems.append("%s: tshark pairs it with the query in frame %s (floe entry "
                                "%s), floe put it in entry %s" % (where, t["response_to"], qe,
                                                                  fm["entry"]["id"]))
        if t["qr"] and t["unsolicited"] and (
                fm["entry"].get("missing") != "request" or
                fm["entry"].get("missing_reason") != "unsolicited" or
                fm["entry"].get("unsolicited") is not True):
            problems.append("%s: tshark: unsolicited; floe entry %s is not missing its "
                            "request as unsolicited (missing %s, reason %s)" % (
                                where, fm["entry"]["id"], fm["entry"].get("missing"),
                                fm["entry"].get("missing_reason")))
        if fm["entry"].get("missing_reason") == "unsolicited" and not t["unsolicited"]:
            problems.append("%s: floe entry %s is unsolicited, tshark pairs it" % (
                where, fm["entry"]["id"]))
    for fm in fmsgs:
        if not fm["used"]:
            problems.append("floe entry %s %s (id %s) is not a message tshark shows" % (
                fm["entry"]["id"], fm["half"], fm["msg"].get("id")))
    if dup_responses != counters.get("duplicate_responses", 0):
        problems.append("copies of answered responses: tshark shows %d, floe counted %d" % (
            dup_responses, counters.get("duplicate_responses", 0)))
    nq = sum(1 for t in tmsgs if not t["qr"])
    summary = "%s: %d DNS messages (%d queries, %d responses; %d over TCP) in %d floe entries" % (
        name, len(tmsgs), nq, len(tmsgs) - nq, sum(1 for t in tmsgs if t["transport"] == "tcp"),
        sum(1 for e in entries if e.get("protocol") == "dns"))
    return not problems, summary, problems, expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get("FLOE_CAPTURES") or
                    os.path.join(os.path.dirname(ROOT), "shared", "captures"))
    ap.add_argument("-v", action="store_true", help="print the expected differences too")
    args = ap.parse_args()
    tap = Tap()
    cdir = os.path.join(args.captures, "dns")
    files = []
    for dp, _dn, fn in os.walk(cdir):
        files += [os.path.join(dp, f) for f in fn if f.endswith(CAPTURE_EXT)]
    files.sort()
    if not shutil.which("tshark"):
        tap.result(True, "DNS captures against tshark", skip="tshark is not installed")
        return tap.done()
    if not files:
        tap.result(True, "DNS captures against tshark", skip="no captures in " + cdir)
        return tap.done()
    if not os.access(args.floe, os.X_OK):
        tap.result(False, "floe binary %s exists (make build/floe)" % args.floe)
        return tap.done()
    cases = [(p, os.path.relpath(p, args.captures)) for p in files]
    # The same captures less their first UDP queries (selftests/lib/pcap_cut.py, at run
    # time): the answers come unsolicited, as when a capture begins after the questions
    # were asked.
    tmp = tempfile.mkdtemp(prefix="floe-oracle-dns-")
    for path, name in list(cases):
        cut = os.path.join(tmp, os.path.basename(path) + ".noqueries.pcap")
        try:
            if pcap_cut.cut_file(path, cut, udp_queries=3):
                cases.append((cut, name + " less its first 3 UDP queries"))
        except ValueError as e:
            tap.result(False, "%s: cut: %s" % (name, e))
    for path, name in cases:
        try:
            good, summary, problems, expected = check_capture(args.floe, path, name)
        except (RuntimeError, subprocess.CalledProcessError, ValueError, KeyError) as e:
            tap.result(False, "%s: %s" % (name, e))
            continue
        tap.result(good, summary)
        for p in problems[:40]:
            tap.diag(p)
        if len(problems) > 40:
            tap.diag("... %d more" % (len(problems) - 40))
        if expected:
            tap.diag("%d expected difference(s)%s" % (len(expected), "" if args.v else
                                                      " (-v lists them); first:"))
            for p in expected if args.v else expected[:1]:
                tap.diag("  expected difference: " + p)
    shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
