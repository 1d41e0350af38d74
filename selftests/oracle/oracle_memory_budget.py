#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for the dissection memory budget (`floe read --dissect-memory`): captures of
many connections whose HTTP request heads never finish (slow-loris clients), and of many Redis
connections each sending the first 70 KB of a 1 MiB bulk string (SET) and no more (what the
Redis dissector keeps of it is charged through its mem()), with a few normal exchanges among
them, generated at run time (selftests/lib/slow_heads_pcap.py) into a temporary directory.

For each case:
- the budget is needed: without it (default 256 MiB) floe's own summary says dissection held
  more than the budget at its peak;
- with the budget, floe read's peak RSS (GNU time's %M) stays under the budget plus a
  baseline: the RSS of floe read on a capture of the same normal exchanges alone (binary,
  libraries, stdio and JSON buffers), plus 4 MiB for what the accounting does not see
  (glibc's per-chunk headers and the fragmentation that evictions leave; measured 2 MiB at a
  16 MiB budget);
- evictions are counted in the summary, and each evicted connection's unfinished request is
  one entry with missing_reason "memory_budget";
- the normal exchanges are entries, complete, the same as tshark's (HTTP: client port, URI,
  status; Redis: client port, GET's key, the bulk string answered).

Output is TAP-like ("ok N - ...", "# ..." diagnostics, last line "N passed, N failed").
Usage: oracle_memory_budget.py [--floe PATH] [-v]. Standard library only (/usr/bin/python3).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GEN = os.path.join(ROOT, "selftests", "lib", "slow_heads_pcap.py")
TIME = "/usr/bin/time"  # GNU time (Debian's "time" package)
sys.path.insert(0, HERE)
from oracle import Tap  # noqa: E402

MIB = 1 << 20
BUDGET = 16 * MIB
SLACK = 4 * MIB
# (protocol, slow connections, normal exchanges, unfinished header value / bulk string bytes)
CASES = [("http", 10000, 20, 40), ("http", 1000, 20, 30000), ("redis", 1000, 20, 70000)]


def run_floe(floe, args):
    """Run floe under /usr/bin/time (its own small fork: the peak RSS is floe's alone, not
    this Python process's, which a child's ru_maxrss would inherit across exec); return
    (stdout, stderr, peak RSS in bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as rss:
        p = subprocess.run([TIME, "-f", "%M", "-o", rss.name, floe] + args, stdout=out,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError("floe %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                          p.stderr))
        out.seek(0)
        return out.read().decode(), p.stderr, int(open(rss.name).read().split()[-1]) * 1024


def summary_mem(stderr):
    m = re.search(r"dissection memory peak (\d+) of (\d+) bytes, (\d+) connections evicted",
                  stderr)
    if not m:
        raise RuntimeError("no dissection memory in floe's summary: %s" % stderr)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def tshark_exchanges(path):
    out = subprocess.run(["tshark", "-r", path, "-Y", "http.response", "-T", "fields",
                          "-e", "tcp.dstport", "-e", "http.response_for.uri",
                          "-e", "http.response.code"], check=True, capture_output=True,
                         text=True).stdout
    got = set()
    for line in out.splitlines():
        port, uri, code = line.split("\t")
        got.add((int(port), re.sub(r"^https?://[^/]*", "", uri), int(code)))
    return got


def tshark_redis_exchanges(path):
    """(client port, GET's key, bulk string answered) of each exchange tshark sees."""
    def values(flt, port_field):
        out = subprocess.run(["tshark", "-r", path, "-Y", flt, "-T", "fields", "-e", port_field,
                              "-e", "resp.bulk_string.value"], check=True,
                             capture_output=True, text=True).stdout
        got = {}
        for line in out.splitlines():
            port, vals = line.split("\t")
            got[int(port)] = [bytes.fromhex(v).decode() for v in vals.split(",") if v]
        return got
    reqs = values("tcp.dstport == 6379 && resp.array", "tcp.srcport")
    resps = values("tcp.srcport == 6379 && resp.bulk_string", "tcp.dstport")
    return {(port, reqs[port][1], resps[port][0]) for port in resps
            if port in reqs and len(reqs[port]) == 2 and reqs[port][0] == "GET"}


def is_slow(proto, e):
    req = e.get("request") or {}
    if proto == "redis":
        return (req.get("keys") or [""])[0].startswith("slow:")
    return req.get("path", "").startswith("/slow/")


def normal_done(proto, e):
    """(client port, path or key, status or value) of a complete normal exchange, or None."""
    req, resp = e.get("request") or {}, e.get("response") or {}
    if e.get("missing"):
        return None
    if proto == "redis":
        keys = req.get("keys") or [""]
        return (e["src"]["port"], keys[0], resp.get("value")) if keys[0].startswith("ok:") \
            else None
    if req.get("path", "").startswith("/ok/"):
        return (e["src"]["port"], req["path"], resp.get("status"))
    return None


def check_case(tap, floe, tmp, proto, slow, normal, pad, verbose):
    name = "%s: %d slow %s, %d normal exchanges" % (
        proto, slow, "heads of %d bytes" % (pad + 60) if proto == "http" else
        "SETs of %d bytes of 1 MiB" % pad, normal)
    pcap = os.path.join(tmp, "slow-%s-%d-%d.pcap" % (proto, slow, pad))
    base_pcap = os.path.join(tmp, "normal-%s-%d.pcap" % (proto, normal))
    truth = json.loads(subprocess.run([sys.executable, GEN, pcap, "--slow", str(slow),
                                       "--normal", str(normal), "--pad", str(pad),
                                       "--proto", proto],
                                      check=True, capture_output=True, text=True).stdout)
    subprocess.run([sys.executable, GEN, base_pcap, "--slow", "0", "--normal", str(normal),
                    "--proto", proto], check=True, capture_output=True)
    _, _, base_rss = run_floe(floe, ["read", "--json", base_pcap])
    _, err_default, rss_default = run_floe(floe, ["read", "--json", pcap])
    peak_default, _, _ = summary_mem(err_default)
    tap.result(peak_default > BUDGET,
               "%s: without a budget dissection holds %.1f MiB (> %d MiB): the budget is "
               "needed" % (name, peak_default / MIB, BUDGET // MIB))
    out, err, rss = run_floe(floe, ["read", "--json", "--dissect-memory", str(BUDGET), pcap])
    peak, limit, evictions = summary_mem(err)
    if verbose:
        tap.diag(err.strip())
    tap.diag("%s: peak RSS %.1f MiB with --dissect-memory %d MiB, %.1f MiB without; "
             "baseline %.1f MiB" % (name, rss / MIB, BUDGET // MIB, rss_default / MIB,
                                   base_rss / MIB))
    tap.result(limit == BUDGET and rss <= base_rss + BUDGET + SLACK,
               "%s: peak RSS %.1f MiB <= baseline %.1f + budget %d + %d MiB" %
               (name, rss / MIB, base_rss / MIB, BUDGET // MIB, SLACK // MIB))
    entries = [json.loads(line) for line in out.split("\n") if line.strip()]
    evicted = [e for e in entries if e.get("missing_reason") == "memory_budget"]
    slow_evicted = [e for e in evicted if e["src"]["ip"].startswith("10.1.")
                    and is_slow(proto, e)]
    tap.result(evictions > 0 and len(evicted) == evictions and
               len(slow_evicted) == len(evicted),
               "%s: %d evictions counted, %d entries with missing_reason memory_budget, all "
               "slow connections" % (name, evictions, len(evicted)))
    floe_ok = {normal_done(proto, e) for e in entries} - {None}
    shark = tshark_redis_exchanges(pcap) if proto == "redis" else tshark_exchanges(pcap)
    want = set(truth["normal_paths"])
    tap.result(floe_ok == shark and {p for _, p, _ in shark} == want,
               "%s: the %d normal exchanges are complete entries, as tshark sees them" %
               (name, normal))
    if floe_ok != shark:
        tap.diag("floe only: %s" % sorted(floe_ok - shark)[:5])
        tap.diag("tshark only: %s" % sorted(shark - floe_ok)[:5])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    tap = Tap()
    if not shutil.which("tshark"):
        tap.result(True, "memory budget against tshark", skip="tshark is not installed")
    elif not os.access(TIME, os.X_OK):
        tap.result(True, "memory budget: peak RSS", skip="%s is not installed" % TIME)
    elif not os.access(args.floe, os.X_OK):
        tap.result(False, "floe binary %s exists (make build/floe)" % args.floe)
    else:
        with tempfile.TemporaryDirectory(prefix="floe-membudget-") as tmp:
            for proto, slow, normal, pad in CASES:
                try:
                    check_case(tap, args.floe, tmp, proto, slow, normal, pad, args.verbose)
                except (RuntimeError, ValueError, KeyError, IndexError,
                        subprocess.CalledProcessError) as err:
                    tap.result(False, "%s: %d slow connections: %s" % (proto, slow, err))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
