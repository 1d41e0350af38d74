#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check a Prometheus text exposition with an independent parser (prometheus_client's).

Usage: metrics_check.py SCRAPE.txt EXPECT.json WHAT

EXPECT.json is a list of [sample name, {label: value}, op, number, description]; op is one of
"==", ">=", ">". Each becomes one line for selftests/lib/entries.sh's `checks`:
ok/fail TAB description. Also checked: the text parses, each family has one TYPE line, and
every sample belongs to a family that declared its type. Without the module (Debian's
python3-prometheus-client) every check is reported skipped, never passed.
"""
import json
import re
import sys


def out(kind, desc, extra=""):
    print(f"{kind}\t{desc}" + (f"\t{extra}" if extra else ""))


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    expect = json.load(open(sys.argv[2], encoding="utf-8"))
    what = sys.argv[3]
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        for e in expect:
            out("skip", f"{what}: {e[4]}", "python3-prometheus-client is not installed")
        out("skip", f"{what}: prometheus_client parses it", "python3-prometheus-client is not installed")
        return 0
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as ex:  # the parser's own error: the text is not valid
        out("fail", f"{what}: prometheus_client parses it")
        out("diag", f"parser: {ex!r}")
        for e in expect:
            out("fail", f"{what}: {e[4]}")
        return 0
    out("ok", f"{what}: prometheus_client parses it ({len(families)} families)")
    types = re.findall(r"^# TYPE (\S+) ", text, re.M)
    dup = sorted({t for t in types if types.count(t) > 1})
    out("ok" if not dup else "fail", f"{what}: one TYPE line per family", )
    if dup:
        out("diag", f"twice: {dup}")
    untyped = sorted({f.name for f in families if f.type == "unknown"})
    out("ok" if not untyped else "fail", f"{what}: every sample has a declared type")
    if untyped:
        out("diag", f"untyped: {untyped[:10]}")

    samples = [s for f in families for s in f.samples]
    for name, labels, op, want, desc in expect:
        got = [s.value for s in samples if s.name == name and s.labels == labels]
        if len(got) != 1:
            out("fail", f"{what}: {desc}")
            out("diag", f"{name}{labels}: {len(got)} samples")
            continue
        v = got[0]
        good = {"==": v == want, ">=": v >= want, ">": v > want}[op]
        out("ok" if good else "fail", f"{what}: {desc}")
        if not good:
            out("diag", f"{name}{labels} = {v}, expected {op} {want}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
