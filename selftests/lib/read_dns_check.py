#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`floe read`'s DNS names against tshark's view of the same capture (test_read_dns_names.sh).

Usage: read_dns_check.py ENTRIES.json ANSWERS.tsv

ANSWERS.tsv is tshark -T fields -e frame.time_epoch -e dns.qry.name -e dns.a -e dns.resp.ttl
of the DNS responses with A records (comma-separated lists in a field). For every entry of
`floe read --json` (one a line) the expected dst.dns_name is computed from those answers by the
rule docs/dns-names.md gives: only answers seen before the entry ended (an entry is named when it
is made, in the order exchanges end); among them, for the entry's time (its request's, else
its response's), the newest answer at or before it while its TTL (clamped to 60 s .. 1 h) holds,
the newest of those seen at the same time; for a time before every answer, the first one.
Prints checks lines (ok/fail/diag TAB text).
"""
import json
import sys
from datetime import datetime

TTL_MIN, TTL_MAX = 60, 3600


def ts(s):
    if not s:
        return None
    # "2026-12-07T03:50:01.123456000Z": nanoseconds, more than fromisoformat takes
    whole, frac = s.rstrip("Z").split(".")
    t = datetime.fromisoformat(whole + "+00:00").timestamp()
    return round(t) + int(frac.ljust(9, "0")) / 1e9


def main():
    entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    answers = []  # (time, name, addr, ttl) in capture order
    for line in open(sys.argv[2]):
        f = line.rstrip("\n").split("\t")
        if len(f) < 4 or not f[2]:
            continue
        t, qname, addrs, ttls = float(f[0]), f[1].split(",")[0], f[2].split(","), f[3].split(",")
        ttl = min(int(x) for x in ttls if x) if any(ttls) else 0
        for a in addrs:
            answers.append((t, qname, a, max(TTL_MIN, min(TTL_MAX, ttl))))
    print(f"diag\ttshark: {len(answers)} (answer, address) pairs: "
          + "; ".join(f"{a[1]} {a[2]} ttl {a[3]}" for a in answers))

    named = bad = 0
    for e in entries:
        end = ts(e.get("response_time")) or ts(e.get("request_time"))
        at = ts(e.get("request_time")) or ts(e.get("response_time"))
        ip = e["dst"]["ip"]
        # known when the entry was made: answers strictly before its end
        known = [a for a in answers if a[2] == ip and a[0] < end - 1e-7]
        want = None
        before = [a for a in known if a[0] <= at]
        if before:
            newest = max(a[0] for a in before)
            last = [a for a in before if a[0] == newest][-1]
            if at < last[0] + last[3]:
                want = last[1]
        elif known:
            want = min(known, key=lambda a: a[0])[1]
        got = e["dst"].get("dns_name")
        name_ok = got is None or e["dst"].get("name") == got or e["dst"].get("pod")
        if got == want and name_ok:
            named += want is not None
        else:
            bad += 1
            print(f"diag\t{e['id']} {e['protocol']} {e.get('request', {}).get('url', '')} to {ip}: "
                  f"dns_name {got!r} name {e['dst'].get('name')!r}, expected {want!r}")
    print(("ok" if not bad else "fail") +
          f"\tevery entry's dst.dns_name is the name tshark's answers give it at its time "
          f"({len(entries)} entries, {named} named)")
    src_named = [e["id"] for e in entries if e["src"].get("dns_name")]
    print(("ok" if not src_named else "fail") + "\tno client end is named (no answer named it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
