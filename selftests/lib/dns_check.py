#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compares the DNS entries floe printed (`floe tap --json`) with dig's own output, for
selftests/integration/test_entries_dns.sh. Prints TAB-separated lines for entries.sh's
`checks`: ok<TAB>DESC, fail<TAB>DESC, diag<TAB>TEXT.

The dig log holds blocks "DIG <tag> <args>" ... "END <tag>" with dig's full output; a block
has one answer per ";; ->>HEADER<<-" (several with +keepopen), or, for AXFR, the records.
Every answer dig printed must be exactly one floe entry (same id and question) with dig's
status, flags, section counts, every answer/authority/additional record in dig's
presentation form, EDNS of the response; the query's EDNS options must be what dig sent;
transport, pods and namespaces must be right; +keepopen queries share one TCP connection; the
AXFR is one entry with all its records; the query sent to the dead port is missing its
response (timeout); and floe has no other entry.
"""
import argparse
import json
import re
import sys


def out(kind, desc):
    for i, line in enumerate(str(desc).replace("\t", " ").split("\n")):
        print("%s\t%s" % (kind if i == 0 else "diag", line))
    sys.stdout.flush()


def check(cond, desc, problems=()):
    out("ok" if cond else "fail", desc)
    if not cond:
        for p in list(problems)[:30]:
            out("diag", "  " + p)
    return cond


# ------------------------------------------------------------------ dig's output
def parse_record(line):
    """'web.test.floe.  300 IN A 10.213.4.50' -> (name, ttl, class, type, data)"""
    parts = line.split(None, 4)
    if len(parts) < 5 or not parts[1].isdigit():
        return None
    return (parts[0], int(parts[1]), parts[2], parts[3], " ".join(parts[4].split()))


def parse_dig(path):
    blocks, cur = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("DIG "):
                tag, _, args = line[4:].partition(" ")
                cur = {"tag": tag, "args": args, "answers": [], "xfr": None, "lines": []}
                blocks.append(cur)
                continue
            if line.startswith("END ") or cur is None:
                continue
            cur["lines"].append(line)
    for b in blocks:
        ans, section = None, None
        for line in b["lines"]:
            m = re.match(r";; ->>HEADER<<- opcode: (\w+), status: (\w+), id: (\d+)", line)
            if m:
                ans = {"opcode": m.group(1), "status": m.group(2), "id": int(m.group(3)),
                       "flags": [], "counts": {}, "question": None, "edns": None,
                       "answer": [], "authority": [], "additional": [], "server": None}
                b["answers"].append(ans)
                section = None
                continue
            m = re.match(r";; XFR size: (\d+) records \(messages (\d+)", line)
            if m:
                b["xfr"]["size"] = int(m.group(1))
                b["xfr"]["messages"] = int(m.group(2))
                continue
            m = re.match(r";; SERVER: .*\((UDP|TCP)\)", line)
            if m:
                if ans is not None:
                    ans["server"] = m.group(1).lower()
                if b["xfr"] is not None:
                    b["xfr"]["server"] = m.group(1).lower()
                continue
            if ans is None and "AXFR" in b["args"]:
                rec = parse_record(line) if not line.startswith(";") else None
                if rec:
                    b["xfr"] = b["xfr"] or {"records": []}
                    b["xfr"]["records"].append(rec)
                continue
            if ans is None:
                continue
            m = re.match(r";; flags:([^;]*); QUERY: (\d+), ANSWER: (\d+), AUTHORITY: (\d+), "
                         r"ADDITIONAL: (\d+)", line)
            if m:
                ans["flags"] = m.group(1).split()
                ans["counts"] = dict(zip(("questions", "answers", "authority", "additional"),
                                         map(int, m.group(2, 3, 4, 5))))
                continue
            m = re.match(r"; EDNS: version: (\d+), flags:([^;]*); udp: (\d+)", line)
            if m:
                ans["edns"] = {"version": int(m.group(1)), "flags": m.group(2).split(),
                               "udp": int(m.group(3))}
                continue
            m = re.match(r";; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if m:
                section = m.group(1).lower()
                continue
            if not line.strip():
                section = None
                continue
            if section == "question" and line.startswith(";"):
                p = line[1:].split()
                ans["question"] = (p[0], p[-1])
            elif section in ("answer", "authority", "additional"):
                rec = parse_record(line)
                if rec:
                    ans[section].append(rec)
    return blocks


# ------------------------------------------------------------------ floe's side
def fqdn(n):
    return n if n.endswith(".") else n + "."


def txt_quote(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def present(rec):
    """A floe record as dig prints it."""
    t, d = rec.get("type"), rec.get("data")
    if t in ("A", "AAAA"):
        data = d
    elif t in ("CNAME", "NS", "PTR", "DNAME"):
        data = fqdn(d)
    elif t == "MX":
        data = "%d %s" % (d["preference"], fqdn(d["exchange"]))
    elif t == "SRV":
        data = "%d %d %d %s" % (d["priority"], d["weight"], d["port"], fqdn(d["target"]))
    elif t == "TXT":
        data = " ".join(txt_quote(s) for s in d)
    elif t == "SOA":
        data = "%s %s %d %d %d %d %d" % (fqdn(d["mname"]), fqdn(d["rname"]), d["serial"],
                                         d["refresh"], d["retry"], d["expire"], d["minimum"])
    elif t == "CAA":
        data = "%d %s %s" % (d["flags"], d["tag"], txt_quote(d["value"]))
    else:
        data = json.dumps(d)
    return (fqdn(rec.get("name", "")), rec.get("ttl"), rec.get("class"), t, data)


FLAG_NAMES = ("qr", "aa", "tc", "rd", "ra", "ad", "cd")


def compare_answer(e, a, problems, where):
    req, resp = e.get("request") or {}, e.get("response") or {}

    def cmp(field, got, want):
        if got != want:
            problems.append("%s: %s: floe %s, dig %s" % (where, field, json.dumps(got),
                                                       json.dumps(want)))

    cmp("missing", e.get("missing"), None)
    cmp("response.id", resp.get("id"), a["id"])
    cmp("response.opcode", resp.get("opcode"), a["opcode"])
    cmp("response.rcode", resp.get("rcode"), a["status"])
    cmp("response.flags", sorted(k for k in FLAG_NAMES if resp.get("flags", {}).get(k)),
        sorted(a["flags"]))
    cmp("response.counts", resp.get("counts"), a["counts"])
    cmp("transport", e.get("transport"), a["server"])
    for sec, key in (("answer", "answers"), ("authority", "authority"),
                     ("additional", "additional")):
        cmp("response." + key, [present(r) for r in resp.get(key, [])], a[sec])
    if a["edns"]:
        ed = resp.get("edns") or {}
        cmp("response.edns.udp_size", ed.get("udp_size"), a["edns"]["udp"])
        cmp("response.edns.version", ed.get("version"), a["edns"]["version"])
        cmp("response.edns.do", ed.get("do"), "do" in a["edns"]["flags"])
    else:
        cmp("response.edns", resp.get("edns"), None)
    if a["question"]:
        cmp("request.name", fqdn(req.get("name", "")), a["question"][0])
        cmp("request.type", req.get("type"), a["question"][1])


def compare_query_edns(e, args, problems, where):
    """What dig put into its query: EDNS with a cookie unless told not to, ECS, NSID."""
    ed = (e.get("request") or {}).get("edns")
    if "+noedns" in args:
        if ed is not None:
            problems.append("%s: request.edns present though dig sent +noedns" % where)
        return
    if not ed:
        problems.append("%s: request.edns missing" % where)
        return
    codes = [o.get("code") for o in ed.get("options", [])]
    if ("+nocookie" in args) == (10 in codes):
        problems.append("%s: request cookie option: floe codes %s, dig args %s" % (
            where, codes, args))
    m = re.search(r"\+subnet=([\d.]+)/(\d+)", args)
    if m:
        ecs = [o for o in ed.get("options", []) if o.get("code") == 8]
        if not ecs or ecs[0].get("address") != m.group(1) or \
                ecs[0].get("source_prefix") != int(m.group(2)):
            problems.append("%s: client subnet: floe %s, dig %s/%s" % (
                where, json.dumps(ecs), m.group(1), m.group(2)))
    if "+nsid" in args and 3 not in codes:
        problems.append("%s: NSID option not in floe's request (codes %s)" % (where, codes))
    if ed.get("udp_size") != 1232:
        problems.append("%s: request.edns.udp_size %s, dig sends 1232" % (
            where, ed.get("udp_size")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", required=True)
    ap.add_argument("--dig", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--client-ns", required=True)
    ap.add_argument("--server-pod", required=True)
    ap.add_argument("--server-ns", required=True)
    ap.add_argument("--dnsmasq-log")
    ap.add_argument("--dead-port", type=int, required=True)
    args = ap.parse_args()

    entries = []
    with open(args.entries, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entries.append(json.loads(line))
    blocks = parse_dig(args.dig)
    dns = [e for e in entries if e.get("protocol") == "dns"]
    check(len(dns) == len(entries), "every entry is DNS (%d entries)" % len(entries),
          ["%s %s" % (e.get("id"), e.get("protocol")) for e in entries
           if e.get("protocol") != "dns"])
    ids = [e.get("id") for e in entries]
    check(len(set(ids)) == len(ids), "entry ids are unique")

    used = set()
    problems, pod_problems = [], []
    n_answers = 0

    def find(pred):
        for i, e in enumerate(dns):
            if i not in used and pred(e):
                used.add(i)
                return e
        return None

    keepopen_flows = []
    for b in blocks:
        if b["tag"] == "unanswered":
            continue
        if b["xfr"] is not None:
            x = b["xfr"]
            e = find(lambda e: (e.get("request") or {}).get("type") == "AXFR")
            where = "dig %s" % b["tag"]
            if not e:
                problems.append("%s: no entry for the AXFR" % where)
                continue
            resp = e.get("response") or {}
            if [present(r) for r in resp.get("answers", [])] != x["records"]:
                problems.append("%s: records: floe %s, dig %s" % (
                    where, [present(r) for r in resp.get("answers", [])], x["records"]))
            if resp.get("counts", {}).get("answers") != x.get("size"):
                problems.append("%s: answer count %s, dig XFR size %s" % (
                    where, resp.get("counts", {}).get("answers"), x.get("size")))
            if resp.get("messages") != x.get("messages"):
                problems.append("%s: messages %s, dig %s" % (where, resp.get("messages"),
                                                              x.get("messages")))
            if e.get("transport") != "tcp" or e.get("missing"):
                problems.append("%s: transport %s, missing %s" % (
                    where, e.get("transport"), e.get("missing")))
            n_answers += 1
            continue
        for a in b["answers"]:
            n_answers += 1
            where = "dig %s id %d %s" % (b["tag"], a["id"], a["question"])
            qname = a["question"][0] if a["question"] else None
            e = find(lambda e: (e.get("request") or {}).get("id") == a["id"] and
                     fqdn((e.get("request") or {}).get("name", "")) == qname)
            if not e:
                problems.append("%s: no floe entry" % where)
                continue
            compare_answer(e, a, problems, where)
            compare_query_edns(e, b["args"], problems, where)
            if b["tag"] == "keepopen":
                keepopen_flows.append(e.get("flow_id"))
            for side, pod, ns in (("src", args.client, args.client_ns),
                                  ("dst", args.server_pod, args.server_ns)):
                ep = e.get(side, {})
                if ep.get("pod") != pod or ep.get("namespace") != ns:
                    pod_problems.append("%s: %s is %s/%s, want %s/%s" % (
                        where, side, ep.get("namespace"), ep.get("pod"), ns, pod))
            if e.get("dst", {}).get("port") != 53:
                problems.append("%s: dst port %s" % (where, e.get("dst", {}).get("port")))
    check(not problems, "each of dig's %d answers is one entry with dig's id, status, flags, "
          "counts, records, EDNS and transport" % n_answers, problems)
    check(not pod_problems, "src/dst are the client and server pods with their namespaces",
          pod_problems)
    check(len(keepopen_flows) == 4 and len(set(keepopen_flows)) == 1,
          "dig +tcp +keepopen: 4 queries on one TCP connection (flow ids %s)" % keepopen_flows)

    # The query to the port where nothing listens: dig tried twice (from two ports).
    lost = [e for i, e in enumerate(dns) if i not in used and
            e.get("dst", {}).get("port") == args.dead_port]
    for e in lost:
        used.add(dns.index(e))
    check(len(lost) == 2 and all(
        e.get("missing") == "response" and e.get("missing_reason") == "timeout" and
        (e.get("request") or {}).get("id") == 4242 and
        (e.get("request") or {}).get("name") == "lost.test.floe" and
        e.get("transport") == "udp" and "response" not in e for e in lost),
          "the unanswered query (dig +tries=2) is 2 entries missing their response after "
          "the UDP idle timeout",
          [json.dumps({k: e.get(k) for k in ("id", "missing", "missing_reason", "src")})
           for e in lost])
    rest = [e for i, e in enumerate(dns) if i not in used]
    check(not rest, "floe has no entry dig did not cause",
          ["%s %s %s" % (e.get("id"), (e.get("request") or {}).get("name"),
                         e.get("missing")) for e in rest])
    if args.dnsmasq_log:
        with open(args.dnsmasq_log, encoding="utf-8", errors="replace") as f:
            seen = len(re.findall(r"(?:query|auth)\[\w+\] \S+ from 10\.213\.4\.11|"
                                  r"(?:query|auth)\[\w+\] \S+ from fd00:f10e::4:11", f.read()))
        check(seen == n_answers, "dnsmasq logged %d queries, dig got %d answers" % (
            seen, n_answers))


if __name__ == "__main__":
    main()
