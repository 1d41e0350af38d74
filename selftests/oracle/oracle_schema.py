#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The field schema against what the dissectors emit: `floe read --json` over every shared
capture (<captures>/<protocol>/..., see SOURCES.md there), each entry checked by
`floe schema --check`: every path of every entry (array elements as `[]`) must be a field
of the entry's protocol (common, its own or its parent's) and hold the JSON type the schema
declares (docs/entries.md, "Field schema").

One "ok"/"not ok" line per capture, with the number of entries checked; before them, a
check that `floe schema --check` does fail on an entry with an undeclared field and one with
a wrong type (so the capture lines cannot pass vacuously). Without the captures, the
capture part is one "ok N - ... # SKIP" line, counted as skipped (run.sh), not as passed.

Output is TAP-like: "ok N - ..." / "not ok N - ...", "#" diagnostics, and the last line
"N passed, N failed[, N skipped]". Exit status 1 when anything failed.

Usage: oracle_schema.py [--floe PATH] [--captures DIR]
Only the Python standard library is used (run with /usr/bin/python3).
"""

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE_EXT = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")


class Tap:
    def __init__(self):
        self.n = self.passed = self.failed = self.skipped = 0

    def result(self, ok, what, diag=""):
        self.n += 1
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, what))
        for line in ([] if ok else diag.splitlines()[:30]):
            print("# " + line)

    def skip(self, what, why):
        self.n += 1
        self.skipped += 1
        print("ok %d - %s # SKIP %s" % (self.n, what, why))

    def end(self):
        # ", N skipped" only when there were: run.sh before it counted skips read two numbers.
        print("%d passed, %d failed%s" % (self.passed, self.failed,
                                          ", %d skipped" % self.skipped if self.skipped else ""))
        return 1 if self.failed else 0


def check(floe, text):
    """floe schema --check on JSON lines: (exit status, problems printed, entries checked)."""
    p = subprocess.run([floe, "schema", "--check"], input=text, capture_output=True,
                       text=True)
    m = re.search(r"(\d+) entries checked", p.stderr)
    return p.returncode, p.stdout, int(m.group(1)) if m else -1


def self_test(tap, floe):
    good = {"id": "1-1", "protocol": "redis", "version": "2", "flow_id": 1,
            "src": {"ip": "10.0.0.1", "port": 1}, "dst": {"ip": "10.0.0.2", "port": 6379},
            "request_size": 14, "response_size": 5,
            "request": {"command": "GET", "args": ["k"], "arg_count": 1, "keys": ["k"]},
            "response": {"type": "bulk_string", "value": "v", "length": 1}}
    rc, out, n = check(floe, json.dumps(good) + "\n")
    tap.result(rc == 0 and n == 1 and not out, "schema --check passes a well-formed entry",
               out)
    bad_field = dict(good, request=dict(good["request"], keyz=["k"]))
    bad_type = dict(good, request=dict(good["request"], arg_count="1"))
    rc, out, n = check(floe, json.dumps(bad_field) + "\n" + json.dumps(bad_type) + "\n")
    want = ["entry 1-1: request.keyz: not in the schema",
            "entry 1-1: request.arg_count: a JSON string where the schema says integer"]
    tap.result(rc == 1 and n == 2 and out.splitlines() == want,
               "schema --check reports an undeclared field and a wrong type", out)


def captures(top):
    for proto in sorted(os.listdir(top)):
        d = os.path.join(top, proto)
        if not os.path.isdir(d):
            continue
        for dirpath, _, files in sorted(os.walk(d)):
            for f in sorted(files):
                if f.endswith(CAPTURE_EXT):
                    yield os.path.join(dirpath, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get(
        "FLOE_CAPTURES", os.path.join(os.path.dirname(ROOT), "shared", "captures")))
    args = ap.parse_args()
    tap = Tap()
    self_test(tap, args.floe)
    caps = list(captures(args.captures)) if os.path.isdir(args.captures) else []
    if not caps:
        tap.skip("every capture against the schema", "no captures in %s" % args.captures)
        return tap.end()
    total = 0
    for cap in caps:
        name = os.path.relpath(cap, args.captures)
        r = subprocess.run([args.floe, "read", "--json", "-q", cap], capture_output=True,
                           text=True)
        if r.returncode != 0:
            tap.result(False, "%s: floe read failed (exit %d)" % (name, r.returncode),
                       r.stderr)
            continue
        rc, out, n = check(args.floe, r.stdout)
        total += max(n, 0)
        tap.result(rc == 0 and n == r.stdout.count("\n"),
                   "%s: %d entries, every field in the schema with its type" % (name, n), out)
    tap.result(total > 0, "the captures gave entries to check (%d)" % total)
    return tap.end()


if __name__ == "__main__":
    sys.exit(main())
