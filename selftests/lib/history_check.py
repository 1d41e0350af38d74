#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of `floe history` against what `floe tap --json` printed (test_history.sh).

Prints TAB-separated lines for entries.sh's `checks`: ok/fail/diag.

  history_check.py live LIVE.json FLOE STORE
      every entry printed live is in the history exactly once, byte for byte; the history is
      in merge order (ts, then id); time ranges and the resume cursor partition it exactly;
      --get and --no-bodies; a filter's result equals the same condition evaluated here.
  history_check.py pcap FLOE STORE FILTER PYEXPR OUT.pcap
      the PCAP of FILTER's entries holds exactly their TCP connections (tshark's view).
"""
import calendar
import json
import subprocess
import sys


def out(kind, desc):
    print("%s\t%s" % (kind, desc.replace("\t", " ").replace("\n", " | ")))


def check(cond, desc, detail=None):
    out("ok" if cond else "fail", desc)
    if not cond and detail:
        out("diag", str(detail)[:1500])
    return cond


def ts_of(e):
    """The merge key in ns from the RFC 3339 text (request_time, else response_time)."""
    t = e.get("request_time") or e.get("response_time")
    date, frac = t[:-1].split(".") if "." in t else (t[:-1], "0")
    secs = calendar.timegm((int(date[0:4]), int(date[5:7]), int(date[8:10]),
                            int(date[11:13]), int(date[14:16]), int(date[17:19])))
    return secs * 10**9 + int((frac + "000000000")[:9])


def history(floe, store, *args, stderr=False):
    p = subprocess.run([floe, "history", "--store", store] + list(args),
                       capture_output=True, text=True)
    if p.returncode != 0:
        out("diag", "floe history %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    lines = [l for l in p.stdout.split("\n") if l]
    return (lines, p.stderr, p.returncode) if stderr else lines


def live(live_path, floe, store):
    printed = [l for l in open(live_path).read().split("\n") if l]
    allh, err, rc = history(floe, store, stderr=True)
    check(rc == 0 and not err.strip(), "floe history exits 0 without a message", err)
    ids = [json.loads(l)["id"] for l in allh]
    check(len(ids) == len(set(ids)), "every id is in the history once (%d entries)" % len(ids))
    missing = set(printed) - set(allh)
    check(not missing and len(printed) > 0,
          "every entry floe tap --json printed (%d) is in the history, byte for byte" % len(printed),
          "missing: %s" % list(missing)[:3])
    pids = set(json.loads(l)["id"] for l in printed)
    extra = [i for i in ids if i not in pids]
    check(not extra, "the history holds no entry the tap did not print", extra[:5])
    prefixes = set(i.split("-")[0] for i in ids)
    check(all(len(p) == 16 for p in prefixes) and len(prefixes) >= 1,
          "ids carry a 16-hex-digit run id (%s)" % " ".join(sorted(prefixes)))
    keys = [(ts_of(json.loads(l)), json.loads(l)["id"]) for l in allh]
    check(keys == sorted(keys), "the history comes in merge order (ts, then id)")

    # time ranges: [0, T) and [T, end) split it exactly, at three boundaries
    n = len(allh)
    for k in (1, n // 3, n // 2, n - 1):
        t = keys[k][0]
        lo = history(floe, store, "--until", str(t))
        hi = history(floe, store, "--since", str(t))
        check(lo + hi == allh and all(ts_of(json.loads(l)) < t for l in lo)
              and all(ts_of(json.loads(l)) >= t for l in hi),
              "--until %d / --since %d partition the history (%d + %d)" % (t, t, len(lo), len(hi)))
    # an RFC 3339 bound means the same as its nanoseconds
    e = json.loads(allh[n // 2])
    t_text = e.get("request_time") or e.get("response_time")
    check(history(floe, store, "--since", t_text) == history(floe, store, "--since", str(ts_of(e))),
          "--since %s (RFC 3339) equals --since %d" % (t_text, ts_of(e)))
    # a window in the middle
    a, b = keys[n // 4][0], keys[3 * n // 4][0]
    mid = history(floe, store, "--since", str(a), "--until", str(b))
    want = [l for l in allh if a <= ts_of(json.loads(l)) < b]
    check(mid == want, "--since/--until window: %d entries, exactly the ones in it" % len(mid))

    # the cursor: pages of 7 joined give the whole history, in order
    pages, after, rounds = [], None, 0
    while rounds < 1000:
        rounds += 1
        args = ["--limit", "7"] + (["--after", after] if after else [])
        page, err, rc = history(floe, store, *args, stderr=True)
        pages += page
        nxt = [l for l in err.split("\n") if l.startswith("next: ")]
        if len(page) < 7 or not nxt:
            break
        after = nxt[0][6:]
    check(pages == allh, "--limit 7 with the --after cursor pages through it exactly (%d pages)" % rounds)

    # --get
    e = json.loads(allh[n // 3])
    got = history(floe, store, "--get", e["id"])
    check(got == [allh[n // 3]], "--get %s gives that entry in full" % e["id"])
    _, err, rc = history(floe, store, "--get", "0000000000000000-1-1", stderr=True)
    check(rc == 1 and "no entry" in err, "--get of an unknown id fails clearly", err)

    # --no-bodies: the same entries without request/response bodies
    nb = history(floe, store, "--no-bodies")
    def strip(l):
        j = json.loads(l)
        for h in ("request", "response"):
            if isinstance(j.get(h), dict):
                j[h].pop("body", None)
        return j
    had = sum(1 for l in allh if '"body":' in l)
    check(len(nb) == n and all(json.loads(x) == strip(y) for x, y in zip(nb, allh))
          and had > 0 and not any('"body":' in l for l in nb),
          "--no-bodies: the same %d entries, bodies left out (%d had one)" % (n, had))

    # a filter equals the same condition evaluated here
    for q, f in (('response.status == 404', lambda j: (j.get("response") or {}).get("status") == 404),
                 ('request.path == "/status"', lambda j: (j.get("request") or {}).get("path") == "/status"),
                 ('response.status >= 300 or request.method == "POST"',
                  lambda j: ((j.get("response") or {}).get("status") or 0) >= 300
                  or (j.get("request") or {}).get("method") == "POST")):
        got = history(floe, store, "-q", q)
        want = [l for l in allh if f(json.loads(l))]
        check(got == want and len(want) > 0, "-q '%s': %d entries, the ones it selects" % (q, len(got)),
              "got %d want %d" % (len(got), len(want)))
        page = history(floe, store, "-q", q, "--limit", "2")
        check(page == want[:2], "-q '%s' --limit 2: its first two" % q)


def pcap(floe, store, q, pyexpr, path):
    allh = [json.loads(l) for l in history(floe, store)]
    sel = [e for e in allh if eval(pyexpr, {}, {"e": e})]
    p = subprocess.run([floe, "history", "--store", store, "-q", q, "--pcap", path],
                       capture_output=True, text=True)
    check(p.returncode == 0, "floe history -q '%s' --pcap exits 0" % q, p.stderr)
    t = subprocess.run(["tshark", "-r", path, "-q", "-z", "conv,tcp"], capture_output=True, text=True)
    err = "\n".join(l for l in t.stderr.split("\n") if l and not l.startswith("Running as user"))
    check(t.returncode == 0 and not err, "tshark opens the PCAP without warnings", err)
    convs = set()
    for l in t.stdout.split("\n"):
        f = l.split()
        if len(f) > 3 and f[1] == "<->":
            a, b = f[0].rsplit(":", 1), f[2].rsplit(":", 1)
            convs.add(frozenset([(a[0], int(a[1])), (b[0], int(b[1]))]))
    want = set(frozenset([(e["src"]["ip"], e["src"]["port"]), (e["dst"]["ip"], e["dst"]["port"])])
               for e in sel)
    check(len(want) > 0 and convs == want,
          "the PCAP holds exactly the %d connections of the %d matching entries" % (len(want), len(sel)),
          "extra %s missing %s" % (list(convs - want)[:3], list(want - convs)[:3]))
    # every connection whole: its SYN and its FIN are there
    t = subprocess.run(["tshark", "-r", path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                        "-T", "fields", "-e", "tcp.stream"], capture_output=True, text=True)
    syns = len([l for l in t.stdout.split("\n") if l])
    check(syns == len(want), "each connection from its SYN (%d SYNs)" % syns)


if __name__ == "__main__":
    if sys.argv[1] == "live":
        live(*sys.argv[2:5])
    elif sys.argv[1] == "pcap":
        pcap(*sys.argv[2:7])
