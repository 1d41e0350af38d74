#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the Redis entries floe printed (`floe tap --json`) against what the clients of
selftests/integration/test_entries_redis.sh sent and got, and against the server's MONITOR
output. Prints TAB-separated lines that selftests/lib/entries.sh (`checks`) turns into
assertions: ok<TAB>DESC, fail<TAB>DESC, diag<TAB>TEXT.
"""
import argparse
import collections
import json
import re
import shlex
import sys

CONTAINERS = {"ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY",
              "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO"}
BODY_MAX = 64 * 1024


def out(kind, desc):
    lines = str(desc).replace("\t", " ").split("\n")
    print("%s\t%s" % (kind, lines[0]))
    for line in lines[1:]:
        print("diag\t%s" % line)
    sys.stdout.flush()


def check(cond, desc, problems=()):
    out("ok" if cond else "fail", desc)
    if not cond:
        for p in list(problems)[:30]:
            out("diag", "  " + str(p)[:400])
    return cond


def short(v):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) < 200 else s[:180] + "..."


def words_of(line):
    return shlex.split(line)


def cmd_words(words):
    """(command as floe names it, its args)"""
    cmd = words[0].upper()
    if cmd in CONTAINERS and len(words) > 1:
        return cmd + " " + words[1].upper(), words[2:]
    return cmd, words[1:]


ERROR_TOKEN = re.compile(r'error:("(?:[^"\\]|\\.)*")')


def cli_json(line):
    """A line of redis-cli --json (errors are printed as error:"..." tokens)."""
    return json.loads(ERROR_TOKEN.sub(r'{"error": \1}', line))


def same(cli, fl):
    """redis-cli's --json view of a reply against floe's value (redis-cli turns some RESP2
    arrays into maps or pairs, and numbers it knows into numbers)."""
    if isinstance(cli, dict) and "error" in cli and len(cli) == 1:
        return fl == cli
    if cli is None or fl is None:
        return cli is None and fl is None
    if isinstance(cli, dict):
        if isinstance(fl, list) and len(fl) == 2 * len(cli):
            fl = {str(fl[i]): fl[i + 1] for i in range(0, len(fl), 2)}
        return isinstance(fl, dict) and set(cli) == set(fl) and all(same(cli[k], fl[k]) for k in cli)
    if isinstance(cli, list):
        if not isinstance(fl, list):
            return False
        if len(cli) != len(fl) and all(isinstance(x, list) and len(x) == 2 for x in cli):
            cli = [y for x in cli for y in x]
        return len(cli) == len(fl) and all(same(a, b) for a, b in zip(cli, fl))
    if isinstance(cli, bool) or isinstance(fl, bool):
        return cli == fl
    if isinstance(cli, (int, float)):
        try:
            return float(fl) == float(cli)
        except (TypeError, ValueError):
            return False
    if isinstance(fl, (int, float)):
        try:
            return float(cli) == float(fl)
        except ValueError:
            return False
    return cli == fl


def reply_of(e):
    r = e.get("response") or {}
    if r.get("type") in ("error", "bulk_error"):
        return {"error": r.get("error")}
    return r.get("value")


def by_flow(entries):
    flows = collections.OrderedDict()
    for i, e in enumerate(entries):
        flows.setdefault(e["flow_id"], []).append((i, e))
    return {k: [e for _, e in sorted(v, key=lambda p: (p[1].get("request_time") or
                                                       p[1].get("response_time") or "", p[0]))]
            for k, v in flows.items()}


def find_flow(flows, pred):
    for fid, es in flows.items():
        if any(pred(e) for e in es):
            return fid, es
    return None, []


def check_session(flows, cmds_file, out_file, marker, resp3):
    lines = [l for l in open(cmds_file).read().splitlines() if l.strip()]
    replies = [l for l in open(out_file).read().splitlines() if l.strip()]
    fid, es = find_flow(flows, lambda e: (e.get("request") or {}).get("args") == [marker])
    tag = "RESP3" if resp3 else "RESP2"
    if not check(fid is not None, "%s session: floe has the connection (ECHO %s)" % (tag, marker)):
        return
    reqs = [e for e in es if "request" in e]
    # redis-cli's own first commands (HELLO, COMMAND DOCS for its hints), then the file's.
    first = next((i for i, e in enumerate(reqs) if e["request"].get("args") == [marker]), 0)
    pre = [e["request"].get("command") for e in reqs[:first]]
    hello = [e for e in reqs[:first] if e["request"].get("command") == "HELLO"]
    check(set(pre) <= {"HELLO", "COMMAND DOCS"} and
          (not resp3 or (hello and hello[0]["request"]["args"] == ["3"] and
                         hello[0]["response"]["type"] == "map")),
          "%s session: before the file's commands only redis-cli's own %s" % (
              tag, "HELLO 3 (a map reply)" if resp3 else "ones"), [short(pre)])
    reqs = reqs[first:]
    problems = []
    if len(reqs) != len(lines):
        problems.append("%d commands sent, %d entries" % (len(lines), len(reqs)))
    for n, (line, e, rl) in enumerate(zip(lines, reqs, replies), 1):
        cmd, args = cmd_words(words_of(line))
        req = e["request"]
        if req.get("command") != cmd or req.get("args") != args:
            problems.append("command %d: sent %s %s, floe %s %s" % (n, cmd, short(args),
                                                                 req.get("command"),
                                                                 short(req.get("args"))))
        if req.get("arg_count") != len(args):
            problems.append("command %d: arg_count %s" % (n, req.get("arg_count")))
        want = cli_json(rl)
        if not same(want, reply_of(e)):
            problems.append("command %d (%s): redis-cli got %s, floe %s (%s)" % (
                n, line, short(want), short(reply_of(e)), e["response"].get("type")))
        if e.get("missing") or e.get("request_size", 0) <= 0 or e.get("response_size", 0) <= 0:
            problems.append("command %d: missing %s, sizes %s/%s" % (
                n, e.get("missing"), e.get("request_size"), e.get("response_size")))
        if e.get("version") != ("3" if resp3 else "2"):
            problems.append("command %d: version %s" % (n, e.get("version")))
    check(not problems, "%s session: %d commands, each entry's command, args and reply as "
          "redis-cli sent and printed them" % (tag, len(lines)), problems)
    by_cmd = {(e["request"].get("command"), tuple(e["request"].get("args", []))): e for e in reqs}
    if not resp3:
        keys = {("SET", ("user:1", "bob")): ["user:1"],
                ("MSET", ("k1", "v1", "k2", "two words")): ["k1", "k2"],
                ("EVAL", ("return redis.call('GET', KEYS[1])", "1", "user:1")): ["user:1"],
                ("EXISTS", ("k1", "k2", "nokey")): ["k1", "k2", "nokey"],
                ("LRANGE", ("list", "0", "-1")): ["list"]}
        check(all(by_cmd.get(k, {}).get("request", {}).get("keys") == v for k, v in keys.items()),
              "RESP2 session: request.keys by command (SET, MSET, EVAL numkeys, EXISTS, LRANGE)",
              [short([k, by_cmd.get(k, {}).get("request", {}).get("keys")]) for k in keys])
        ex = by_cmd.get(("EXEC", ()), {})
        t = ex.get("transaction") or {}
        check(t.get("command_count") == 3 and t.get("outcome") == "executed" and
              [c.get("command") for c in t.get("commands", [])] == ["SET", "INCR", "LPOP"],
              "RESP2 session: the EXEC entry lists the 3 queued commands, outcome executed",
              [short(t)])
        dbs = [(e["request"]["command"], e["request"].get("db")) for e in reqs]
        want = [2 if e["request"]["args"] in (["indb2", "x"], ["0"]) else 0 for e in reqs]
        check([db for _, db in dbs] == want,
              "RESP2 session: request.db 0, then 2 after SELECT 2 (until SELECT 0 ran)",
              [short(dbs)])
        err = by_cmd.get(("LPOP", ("user:1",)), {}).get("response", {})
        check(err.get("type") == "error" and err.get("error_code") == "WRONGTYPE",
              "RESP2 session: a WRONGTYPE error reply with its code", [short(err)])
    else:
        types = {("HGETALL", ("h",)): "map", ("SMEMBERS", ("set",)): "set",
                 ("GET", ("nokey",)): "null", ("CONFIG GET", ("maxmemory",)): "map"}
        check(all(by_cmd.get(k, {}).get("response", {}).get("type") == v for k, v in types.items()),
              "RESP3 session: map, set and null reply types",
              [short([k, by_cmd.get(k, {}).get("response", {}).get("type")]) for k in types])


def check_subscribers(flows, sub_log, psub_log):
    def logged(path, kinds):
        got = []
        for line in open(path).read().splitlines():
            if line.startswith("["):
                v = json.loads(line)
                if v[0] in kinds:
                    got.append(v)
        return got

    for path, cmd, resp3, kinds in ((sub_log, "SUBSCRIBE", False, ("message",)),
                                    (psub_log, "PSUBSCRIBE", True, ("pmessage",))):
        fid, es = find_flow(flows, lambda e: (e.get("request") or {}).get("command") == cmd)
        if not check(fid is not None, "%s: floe has the subscriber's connection" % cmd):
            continue
        sub = [e for e in es if (e.get("request") or {}).get("command") == cmd][0]
        want_conf = logged(path, ("subscribe", "psubscribe"))
        r = sub.get("response") or {}
        check(r.get("replies") == len(want_conf) and r.get("value") == want_conf and
              r.get("type") == ("push" if resp3 else "array"),
              "%s: one entry with the %d confirmations redis-cli printed (%s)" % (
                  cmd, len(want_conf), "RESP3 push" if resp3 else "RESP2 array"), [short(r)])
        pushes = [e for e in es if "push" in e]
        want = logged(path, kinds)
        got = [e["response"]["value"] for e in pushes]
        check(got == want and all(not e.get("missing") and "request" not in e for e in pushes),
              "%s: the %d messages redis-cli printed are entries without a request (push %s)" % (
                  cmd, len(want), "/".join(kinds)), ["redis-cli %s" % short(want),
                                                    "floe %s" % short(got)])
        check(all(e["push"].get("channel") == v[-2] and e["push"].get("message") == v[-1]
                  for e, v in zip(pushes, want)),
              "%s: push.channel and push.message" % cmd, [short(e["push"]) for e in pushes])


MON_ANY = re.compile(r'^\d+\.\d+ \[')  # also "[0 lua]": what a script ran
MON_LINE = re.compile(r'^\d+\.\d+ \[\d+ ([0-9.]+):(\d+)\] (.*)$')
MON_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')


def mon_unescape(s):
    out, i = bytearray(), 0
    b = s.encode("latin-1", "surrogateescape") if False else s.encode()
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\" and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b"x":
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b"}.get(n, n)
            i += 2
            continue
        out += c
        i += 1
    return out.decode("utf-8", "replace")


def check_monitor(entries, flows, mon_log, client_ip):
    lines = [l for l in open(mon_log, encoding="utf-8", errors="replace").read().split("\n")
             if MON_ANY.match(l)]
    fid, es = find_flow(flows, lambda e: (e.get("request") or {}).get("command") == "MONITOR")
    if not check(fid is not None, "MONITOR: floe has the monitor's connection"):
        return
    pushes = [e["push"]["message"] for e in es if e.get("push", {}).get("kind") == "monitor"]
    # A line longer than --body-max is kept as a prefix.
    kept = [l[:len(p)] if len(l) > len(p) and len(p) >= BODY_MAX - 4 else l
            for l, p in zip(sorted(lines), sorted(pushes))]
    lines = sorted(lines)
    check(sorted(pushes) == sorted(kept),
          "MONITOR: the %d lines redis-cli printed are the monitor's push entries" % len(lines),
          ["lines %d, pushes %d" % (len(lines), len(pushes))] +
          [short(x) for x in list((collections.Counter(lines) - collections.Counter(pushes)))[:5]])
    # Every command the server ran (MONITOR's lines) is an entry: same client port, command
    # and arguments (a prefix of them where floe kept only a prefix).
    floe_by_port = collections.defaultdict(list)
    for e in entries:
        req = e.get("request")
        if req and req.get("command"):
            floe_by_port[e["src"]["port"]].append(e)
    problems, n = [], 0
    for line in lines:
        m = MON_LINE.match(line)
        if not m or m.group(1) != client_ip:
            continue
        n += 1
        words = [mon_unescape(a) for a in MON_ARG.findall(m.group(3))]
        cmd, args = cmd_words(words)
        cands = floe_by_port.get(int(m.group(2)), [])
        for i, e in enumerate(cands):
            req = e["request"]
            fa = req.get("args", [])
            if req["command"] != cmd or req.get("arg_count") != len(args):
                continue
            if fa == args or (req.get("args_truncated") and
                              all(b == "(redacted)" or a.startswith(b) for a, b in zip(args, fa))):
                del cands[i]
                break
        else:
            problems.append("port %s: %s %s not in floe's entries" % (m.group(2), cmd,
                                                                     short(args)[:150]))
    check(not problems and n > 8000,
          "MONITOR: every one of the %d commands the server ran is a floe entry (same client "
          "port, command, arguments)" % n, problems)


def main():
    ap = argparse.ArgumentParser()
    for a in ("entries", "session2", "out2", "session3", "out3", "sub", "psub", "monitor", "big",
              "client", "server", "client-pod", "server-pod"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--bench-n", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    entries, bad = [], []
    for n, line in enumerate(open(a.entries, encoding="utf-8"), 1):
        try:
            entries.append(json.loads(line))
        except ValueError as err:
            bad.append("line %d: %s" % (n, err))
    check(not bad and entries, "%d entries, all valid JSON" % len(entries), bad)
    check(all(e.get("protocol") == "redis" for e in entries), "every entry is redis",
          [short(e) for e in entries if e.get("protocol") != "redis"][:5])
    check(all(e["src"].get("ip") == a.client and e["dst"].get("ip") == a.server and
              e["dst"].get("port") == a.port and e["src"].get("pod") == a.client_pod and
              e["dst"].get("pod") == a.server_pod for e in entries),
          "every entry: client pod a -> server pod b:%d" % a.port)
    missing = [e for e in entries if e.get("missing")]
    check(not missing, "no entry is missing a half", [short(e) for e in missing[:10]])
    flows = by_flow(entries)
    check_session(flows, a.session2, a.out2, "session-resp2", False)
    check_session(flows, a.session3, a.out3, "session-resp3", True)
    check_subscribers(flows, a.sub, a.psub)

    big = open(a.big, "rb").read()
    sets = [e for e in entries if (e.get("request") or {}).get("command") == "SET" and
            (e["request"].get("args") or [None])[0] == "bigvalue"]
    gets = [e for e in entries if (e.get("request") or {}).get("command") == "GET" and
            (e["request"].get("args") or [None])[0] == "bigvalue"]
    hdr = len("*3\r\n$3\r\nSET\r\n$8\r\nbigvalue\r\n$%d\r\n" % len(big))
    s = sets[0] if sets else {}
    check(len(sets) == 1 and s.get("request_size") == hdr + len(big) + 2 and
          s["request"].get("args_truncated") and
          big.decode().startswith(s["request"]["args"][1]) and
          len(s["request"]["args"][1]) == BODY_MAX - len("bigvalue") and
          s["response"].get("value") == "OK",
          "SET of %d bytes: one entry, request_size = the whole command, the value kept to "
          "--body-max" % len(big), [short({k: s.get(k) for k in ("request_size", "response")})])
    g = gets[0] if gets else {}
    r = g.get("response", {})
    check(len(gets) == 1 and r.get("length") == len(big) and r.get("truncated") and
          g.get("response_size") == len("$%d\r\n" % len(big)) + len(big) + 2 and
          r.get("value") == big[:BODY_MAX].decode(),
          "GET of %d bytes: response.length, response_size, the first 64 KiB of the value" %
          len(big), [short({"length": r.get("length"), "size": g.get("response_size")})])

    counts = collections.Counter()
    batch = collections.Counter()
    for e in entries:
        req = e.get("request") or {}
        key = (req.get("command"), (req.get("args") or [None])[0])
        counts[key] += 1
        if key[1] in ("key:__rand_int__", "counter:__rand_int__", "mylist"):
            batch[(e["flow_id"], e.get("request_time"))] += 1
    want = {("SET", "key:__rand_int__"): "simple_string", ("GET", "key:__rand_int__"): "bulk_string",
            ("INCR", "counter:__rand_int__"): "integer", ("LPUSH", "mylist"): "integer"}
    check(all(counts[k] == a.bench_n for k in want),
          "redis-benchmark -P 16: %d entries each for SET, GET, INCR, LPUSH" % a.bench_n,
          ["%s %d" % (k, counts[k]) for k in want])
    wrong = [e for e in entries
             if ((e.get("request") or {}).get("command"), ((e.get("request") or {}).get("args")
                                                            or [None])[0]) in want and
             e.get("response", {}).get("type") != want[(e["request"]["command"],
                                                         e["request"]["args"][0])]]
    check(not wrong, "redis-benchmark: every reply has the type of its command",
          [short(e) for e in wrong[:5]])
    check(max(batch.values() or [0]) >= 16,
          "redis-benchmark: pipelined (up to %d commands in one segment)" %
          max(batch.values() or [0]))
    check_monitor(entries, flows, a.monitor, a.client)


if __name__ == "__main__":
    main()
