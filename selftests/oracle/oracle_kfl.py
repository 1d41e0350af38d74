#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Oracle test for KFL, floe's query language (docs/kfl.md): `floe read -f QUERY` on shared
captures against an independent evaluation of the same query, written here in Python from
docs/kfl.md, over the entries of `floe read --json` of the same capture.

For each capture: the documented examples that apply, then random queries built from the
capture's own entries (their fields, values, times and sizes: comparisons, helpers, in-lists,
regular expressions, units, time ranges, presence, [] steps, header names in other cases, protocol
words), combined with and/or/not and parentheses (a fixed seed: the same queries every run).
A query passes when floe prints exactly the entries (by id) the Python evaluation selects,
in the same order; among the queries of a capture some must select entries and some leave
entries out (else they prove little).

Output is TAP-like ("ok N - ...", "# ..." diagnostics, last line "N passed, N failed").
Usage: oracle_kfl.py [--floe PATH] [--captures DIR] [--queries N] [-v]. Standard library only.
"""

import argparse
import calendar
import json
import os
import random
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from oracle import Tap  # noqa: E402

CAPTURES = [
    "http1/1000-requests-one-dropped-response.pcap.gz",
    "http1/docker-http-upgrade.pcap",
    "http1/pipelined-requests.pcap",
    "http2/dns_over_https_POST.pcap",
    "http2/http2-range.pcap",
    "grpc/bidi-streaming.pcapng",
    "dns/dns-edns-ecs.pcap",
    "dns/dns-tcp-multirequest-buffer.pcap",
    "redis/pubsub-resp3.pcap",
    "redis/resp_1_benchmark.pcap",
    "amqp/amqp.pcap",
    "kafka/kafka.pcapng",
]

# Examples of docs/kfl.md that any capture can answer.
EXAMPLES = [
    "http and response.status >= 400",
    "not grpc && (response.status == 404 || response.status == 503)",
    "request.path.startsWith(\"/\") and request.method in [\"GET\", \"HEAD\"]",
    "request.headers[\"Content-Type\"].contains(\"json\") or elapsed_ms > 1.5s",
    "elapsed_ms > 250ms or response_size > 1KB",
    "response_size > 1KiB and response_size < 1MB",
    "dns and response.rcode == \"NXDOMAIN\"",
    "dns and request.questions[].type in [A, AAAA]",
    "kafka and request.topics[] ~ \"^[a-z]\"",
    "redis and request.command in [GET, SET]",
    "amqp and request.method.startsWith(\"Basic.\")",
    "exists(response) and not exists(missing)",
    "missing or incomplete",
    "timestamp >= \"2000-01-01\" and timestamp < now",
    "tls or http2 or grpc",
]

# ---------------------------------------------------------------- the language, in Python

WORD_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:*")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
UNITS = {
    "ns": ("duration", 1e-6), "us": ("duration", 1e-3), "\u00b5s": ("duration", 1e-3),
    "ms": ("duration", 1), "s": ("duration", 1e3), "m": ("duration", 60e3),
    "min": ("duration", 60e3), "h": ("duration", 3600e3), "d": ("duration", 86400e3),
    "B": ("size", 1), "kB": ("size", 1e3), "KB": ("size", 1e3), "MB": ("size", 1e6),
    "GB": ("size", 1e9), "TB": ("size", 1e12), "KiB": ("size", 1024.0),
    "MiB": ("size", 1024.0 ** 2), "GiB": ("size", 1024.0 ** 3), "TiB": ("size", 1024.0 ** 4),
}
RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
                     r"(?:([Zz])|([+-])(\d\d):(\d\d))?)?$")
HELPERS = {"startsWith": "prefix", "endsWith": "suffix", "contains": "contains",
           "matches": "regex"}


def parse_time(text):
    """RFC 3339 as docs/kfl.md describes it, in ns; None when it is not one."""
    m = RFC3339.match(text)
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    h = int(m.group(4) or 0)
    mi = int(m.group(5) or 0)
    s = int(m.group(6) or 0)
    if m.group(4) is not None and m.group(6) is None and m.group(7) is not None:
        return None
    if not (1678 <= y <= 2261 and 1 <= mo <= 12 and h <= 23 and mi <= 59 and s <= 60):
        return None
    mdays = [31, 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28, 31, 30, 31,
             30, 31, 31, 30, 31, 30, 31]
    if not 1 <= d <= mdays[mo - 1]:
        return None
    frac = ((m.group(7) or "") + "000000000")[:9]
    off = 0
    if m.group(9):
        off = (int(m.group(10)) * 60 + int(m.group(11))) * 60 * (-1 if m.group(9) == "-" else 1)
    secs = calendar.timegm((y, mo, d, 0, 0, 0)) + h * 3600 + mi * 60 + s - off
    return secs * 1000000000 + int(frac)


class Lit:
    def __init__(self, text, quoted):
        self.text, self.quoted = text, quoted
        self.num = None
        self.time = None
        m = NUMBER.match(text)
        if m and m.end() == len(text):
            self.num = float(text)
        elif m and not quoted and text[m.end():] in UNITS:
            self.num = float(text[:m.end()]) * UNITS[text[m.end():]][1]
        if self.num is None:
            self.time = parse_time(text)


class ParseError(Exception):
    pass


class Parser:
    def __init__(self, text, now_ns):
        self.s, self.p, self.now = text, 0, now_ns

    def ws(self):
        while self.p < len(self.s) and self.s[self.p].isspace():
            self.p += 1

    def peek(self, kw):
        self.ws()
        if not self.s.startswith(kw, self.p):
            return False
        end = self.p + len(kw)
        return not (kw[0].isalpha() and end < len(self.s) and self.s[end] in WORD_CHARS)

    def take(self, kw):
        if self.peek(kw):
            self.p += len(kw)
            return True
        return False

    def word(self):
        b = self.p
        while self.p < len(self.s) and self.s[self.p] in WORD_CHARS:
            self.p += 1
        return self.s[b:self.p]

    def string(self):
        q = self.s[self.p]
        self.p += 1
        out = []
        while self.p < len(self.s) and self.s[self.p] != q:
            if self.s[self.p] == "\\" and self.p + 1 < len(self.s):
                self.p += 1
            out.append(self.s[self.p])
            self.p += 1
        if self.p >= len(self.s):
            raise ParseError("unterminated string")
        self.p += 1
        return "".join(out)

    def parse(self):
        n = self.or_()
        self.ws()
        if self.p != len(self.s):
            raise ParseError("trailing text at %d" % self.p)
        return n

    def or_(self):
        kids = [self.and_()]
        while self.take("or") or self.take("||"):
            kids.append(self.and_())
        return kids[0] if len(kids) == 1 else ("or", kids)

    def and_(self):
        kids = [self.unary()]
        while self.take("and") or self.take("&&"):
            kids.append(self.unary())
        return kids[0] if len(kids) == 1 else ("and", kids)

    def unary(self):
        if self.take("not") or self.take("!"):
            return ("not", self.unary())
        if self.take("("):
            n = self.or_()
            if not self.take(")"):
                raise ParseError("expected )")
            return n
        return self.term()

    def path(self):
        steps = []  # (key, dotted) or None for "some element"
        for i, k in enumerate(self.word().split(".")):
            steps.append(None if k == "*" else (k, True))
        while self.p < len(self.s) and self.s[self.p] == "[":
            self.p += 1
            self.ws()
            c = self.s[self.p]
            if c in "]*":
                self.p += c == "*"
                steps.append(None)
            elif c in "\"'":
                steps.append((self.string(), False))
            else:
                d = self.p
                while self.s[self.p].isdigit():
                    self.p += 1
                steps.append((self.s[d:self.p], True))
            self.ws()
            self.p += 1  # ]
            if self.p < len(self.s) and self.s[self.p] == ".":
                steps += [(k, True) for k in self.word()[1:].split(".")]
        return steps

    def lit(self):
        self.ws()
        if self.s[self.p] in "\"'":
            return Lit(self.string(), True)
        w = self.word()
        m = re.match(r"^now(?:([+-])(.*))?$", w)
        if m:
            sign, dur = m.group(1), m.group(2)
            if sign is None:
                save = self.p
                self.ws()
                if self.p < len(self.s) and self.s[self.p] in "+-":
                    sign = self.s[self.p]
                    self.p += 1
                    self.ws()
                    dur = self.word()
                else:
                    self.p = save
            if sign is None or re.match(r"^(\d+\.?\d*)(ns|us|ms|s|m|min|h|d)$", dur or ""):
                lit = Lit("now", False)
                lit.num = None
                delta = 0
                if sign:
                    n = NUMBER.match(dur)
                    delta = int(float(dur[:n.end()]) * UNITS[dur[n.end():]][1] * 1e6)
                lit.time = self.now + (-delta if sign == "-" else delta)
                return lit
        if not w:
            raise ParseError("expected a value at %d" % self.p)
        return Lit(w, False)

    def term(self):
        self.ws()
        if re.match(r"exists\s*\(", self.s[self.p:]):
            self.take("exists")
            self.take("(")
            self.ws()
            steps = self.path()
            self.take(")")
            return ("exists", steps)
        steps = self.path()
        save = self.p
        self.ws()
        last = steps[-1]
        if (self.p < len(self.s) and self.s[self.p] == "(" and len(steps) > 1 and last
                and last[1] and last[0] in HELPERS):
            self.p += 1
            lit = self.lit()
            self.take(")")
            return ("cmp", steps[:-1], HELPERS[last[0]], lit)
        self.p = save
        if self.take("in"):
            self.take("[")
            lits = []
            if not self.take("]"):
                while True:
                    lits.append(self.lit())
                    if self.take("]"):
                        break
                    if not self.take(","):
                        raise ParseError("expected , or ] at %d" % self.p)
            return ("in", steps, lits)
        for sym, op in (("==", "eq"), ("!=", "ne"), ("<=", "le"), (">=", "ge"), ("<", "lt"),
                        (">", "gt"), ("~", "regex"), ("=", "eq"), ("contains", "contains")):
            if self.take(sym):
                return ("cmp", steps, op, self.lit())
        if len(steps) == 1 and steps[0] and steps[0][1]:
            return ("word", steps[0][0])
        return ("truthy", steps)


class Evaluator:
    def __init__(self, schema):
        self.words = {}   # word -> (protocol, version prefix or None)
        self.children = {}  # protocol -> (parent, [parent words])
        for p in schema["protocols"]:
            for w in p.get("words") or []:
                self.words[w["word"]] = (p["name"], w.get("version"))
            if p.get("parent"):
                self.children[p["name"]] = (p["parent"], p.get("parent_words") or [])

    def word(self, w, e):
        proto, ver = e.get("protocol"), e.get("version")
        if w not in self.words:
            if w == "tls":
                return proto == "tls" or e.get("tls") is True
            return self.truthy(self.walk(e, [(w, True)]))
        owner, prefix = self.words[w]
        if not isinstance(proto, str):
            return False
        if proto != owner:
            parent, pwords = self.children.get(proto, (None, []))
            if parent != owner or w not in pwords:
                return False
        return prefix is None or (isinstance(ver, str) and ver.startswith(prefix))

    @staticmethod
    def values(v, steps, prev=None):
        """Every value the steps lead to: a list ([] for "some element" of nothing); a path
        that leads nowhere gives [MISSING]."""
        if not steps:
            return [v]
        st = steps[0]
        if st is None:
            if isinstance(v, list):
                elems = v
            elif isinstance(v, dict):
                elems = list(v.values())
            else:
                return []
            out = []
            for x in elems:
                out += Evaluator.values(x, steps[1:])
            return out
        key, dotted = st
        nxt = MISSING
        if isinstance(v, dict):
            if key in v:
                nxt = v[key]
            elif prev in ("headers", "trailers"):
                for k, x in v.items():
                    if k.lower() == key.lower():
                        nxt = x
                        break
        elif isinstance(v, list) and dotted and key.isdigit() and len(key) < 16:
            i = int(key)
            nxt = v[i] if i < len(v) else MISSING
        return Evaluator.values(nxt, steps[1:], key)

    def walk(self, e, steps):
        if len(steps) == 1 and steps[0] == ("timestamp", True):
            t = e.get("request_time")
            return [t if t is not None else e.get("response_time", MISSING)]
        return self.values(e, steps)

    @staticmethod
    def truthy(vals):
        """Some value is present and not false, null, 0 or "" (objects and arrays are)."""
        for v in vals:
            if v is MISSING or v is None:
                continue
            if isinstance(v, (dict, list)) or bool(v):
                return True
        return False

    @staticmethod
    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return "%g" % v
        if isinstance(v, str):
            return v
        return None

    @staticmethod
    def order(a, b, op):
        return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b,
                "ge": a >= b}[op]

    def compare(self, v, op, lit):
        if v is MISSING or v is None:
            return op == "ne"
        textop = op in ("contains", "regex", "prefix", "suffix")
        if (isinstance(v, (int, float)) and not isinstance(v, bool) and lit.num is not None
                and not textop):
            return self.order(float(v), lit.num, op)
        if lit.time is not None and isinstance(v, str) and not textop:
            t = parse_time(v)
            if t is not None:
                return self.order(t, lit.time, op)
        s = self.text(v)
        if s is None:
            return op == "ne"
        if op == "contains":
            return lit.text in s
        if op == "prefix":
            return s.startswith(lit.text)
        if op == "suffix":
            return s.endswith(lit.text)
        if op == "regex":
            return re.search(lit.text, s) is not None
        a, b = s.encode(), lit.text.encode()
        return self.order(a, b, op)

    def eval(self, n, e):
        k = n[0]
        if k == "and":
            return all(self.eval(x, e) for x in n[1])
        if k == "or":
            return any(self.eval(x, e) for x in n[1])
        if k == "not":
            return not self.eval(n[1], e)
        if k == "word":
            return self.word(n[1], e)
        vals = self.walk(e, n[1])
        if k == "truthy":
            return self.truthy(vals)
        if k == "exists":
            return any(v is not MISSING and v is not None for v in vals)
        if k == "cmp":
            return any(self.compare(v, n[2], n[3]) for v in vals)
        if k == "in":
            return any(self.compare(v, "eq", lit) for v in vals for lit in n[2])
        raise ValueError(k)


class _Missing:
    pass


MISSING = _Missing()

# ---------------------------------------------------------------- random queries


def num(v):
    """A number as a query writes it (no "e+": '+' does not belong to a word)."""
    if isinstance(v, int):
        return str(v)
    return ("%.17g" % v).replace("e+", "e")


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def leaves(v, path, out, depth=0):
    """(path, value, in a headers map) of the scalars of an entry, bodies left out."""
    if depth > 6:
        return
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("body", "text", "base64", "value") or not re.match(r"^[\w-]+$", k):
                continue
            leaves(x, path + [k], out, depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v[:3]):
            leaves(x, path + [str(i)], out, depth + 1)
    elif v is not None:
        out.append((path, v))


def gen_atom(rng, entries, words, times):
    e = rng.choice(entries)
    found = []
    leaves(e, [], found)
    kind = rng.random()
    if kind < 0.08:
        return rng.choice(words)
    if kind < 0.14 and times:
        t = rng.choice(times)
        op = rng.choice([">=", "<", ">", "<="])
        return "timestamp %s %s" % (op, quote(t))
    path, v = rng.choice(found)
    # a path written in one of the ways KFL takes
    text = ".".join(path)
    if len(path) >= 2 and path[-2] in ("headers", "trailers") and rng.random() < 0.5:
        key = path[-1].upper() if rng.random() < 0.5 else path[-1].title()
        text = ".".join(path[:-1]) + "[" + quote(key) + "]"
    elif any(p.isdigit() for p in path) and rng.random() < 0.5:
        i = max(j for j, p in enumerate(path) if p.isdigit())
        head, rest = ".".join(path[:i]), ".".join(path[i + 1:])
        step = "[]" if rng.random() < 0.5 else "[%s]" % path[i]
        text = head + step + ("." + rest if rest else "")
    if rng.random() < 0.1:
        return "exists(%s)" % text if rng.random() < 0.5 else text
    if isinstance(v, bool):
        return "%s %s %s" % (text, rng.choice(["==", "!="]), "true" if v else "false")
    if isinstance(v, (int, float)):
        name = path[-1]
        if name == "elapsed_ms" and rng.random() < 0.5:
            return "%s %s %sus" % (text, rng.choice([">", "<=", ">="]), num(v * 1000))
        if name in ("request_size", "response_size") and rng.random() < 0.5:
            unit, scale = rng.choice([("KB", 1e3), ("KiB", 1024.0), ("B", 1)])
            return "%s %s %s%s" % (text, rng.choice([">", "<", ">="]), num(v / scale), unit)
        if rng.random() < 0.3:
            others = [v, v + 1, 0, 7]
            return "%s in [%s]" % (text, ", ".join(num(x) for x in rng.sample(others, 2)))
        op = rng.choice(["==", "!=", "<", "<=", ">", ">="])
        return "%s %s %s" % (text, op, num(v + rng.choice([0, 0, 1, -1])))
    s = str(v)
    if "\x00" in s or len(s) > 200:
        return "%s != %s" % (text, quote("x"))
    if (path[-1].endswith("_time") or path[-1] == "time") and parse_time(s) is not None:
        return "%s %s %s" % (text, rng.choice([">=", "<", "==", ">"]), quote(s))
    r = rng.random()
    if r < 0.25:
        return "%s %s %s" % (text, rng.choice(["==", "!="]), quote(s))
    if r < 0.4:
        return "%s in [%s, %s]" % (text, quote(s), quote("zz"))
    cut = s[: rng.randint(0, len(s))]
    if r < 0.55:
        return "%s.startsWith(%s)" % (text, quote(cut))
    if r < 0.65:
        return "%s.endsWith(%s)" % (text, quote(s[len(cut):]))
    if r < 0.8:
        sub = s[len(cut) // 2: len(cut) // 2 + 4]
        if rng.random() < 0.5:
            return "%s.contains(%s)" % (text, quote(sub))
        return "%s contains %s" % (text, quote(sub))
    alnum = re.match(r"^[A-Za-z0-9]*", s).group(0)[:5]
    return "%s ~ %s" % (text, quote("^" + alnum if rng.random() < 0.5 else alnum + "[a-z0-9]*"))


def gen_query(rng, entries, words, times, depth=0):
    r = rng.random()
    if depth >= 2 or r < 0.4:
        a = gen_atom(rng, entries, words, times)
        return ("not " + a) if rng.random() < 0.15 and not a.startswith("exists") else a
    op = rng.choice([" and ", " or ", " && ", " || "])
    parts = [gen_query(rng, entries, words, times, depth + 1) for _ in range(rng.randint(2, 3))]
    q = op.join("(%s)" % p if " " in p else p for p in parts)
    return ("!(%s)" % q) if rng.random() < 0.15 else q


# ---------------------------------------------------------------- the test


def floe_ids(floe, cap, query):
    r = subprocess.run([floe, "read", "-q", "--json", "-f", query, cap], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return [json.loads(line)["id"] for line in r.stdout.split("\n") if line.strip()], None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--floe", default=os.path.join(ROOT, "build", "floe"))
    ap.add_argument("--captures", default=os.environ.get(
        "FLOE_CAPTURES", os.path.join(os.path.dirname(ROOT), "shared", "captures")))
    ap.add_argument("--queries", type=int, default=12, help="random queries per capture")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    tap = Tap()
    schema = json.loads(subprocess.run([args.floe, "schema", "--json"], check=True,
                                       capture_output=True, text=True).stdout)
    ev = Evaluator(schema)
    words = sorted(ev.words) + ["tls"]
    rng = random.Random(16)
    total_queries = 0
    for rel in CAPTURES:
        cap = os.path.join(args.captures, rel)
        if not os.path.exists(cap):
            tap.result(True, "%s" % rel, skip="not in %s" % args.captures)
            continue
        out = subprocess.run([args.floe, "read", "-q", "--json", cap], capture_output=True,
                             text=True)
        entries = [json.loads(line) for line in out.stdout.split("\n") if line.strip()]
        if out.returncode != 0 or not entries:
            tap.result(False, "%s: floe read --json gave entries" % rel, out.stderr)
            continue
        times = [t for t in (e.get("request_time") or e.get("response_time")
                             for e in entries) if t]
        queries = EXAMPLES + [gen_query(rng, entries, words, times)
                              for _ in range(args.queries)]
        bad, some, none, everything = [], 0, 0, 0
        for q in queries:
            # now: the Python side uses this moment; queries with now compare with times
            # of captures taken years ago, so a second's difference changes nothing.
            try:
                want = [e["id"] for e in entries
                        if ev.eval(Parser(q, time.time_ns()).parse(), e)]
            except (ParseError, IndexError, KeyError, re.error) as x:
                bad.append("%s: the Python side cannot evaluate it (%r)" % (q, x))
                continue
            got, err = floe_ids(args.floe, cap, q)
            if got is None:
                bad.append("%s: floe refused it: %s" % (q, err))
            elif got != want:
                bad.append("%s: floe %d entries, Python %d; only floe: %s; only Python: %s"
                           % (q, len(got), len(want), sorted(set(got) - set(want))[:5],
                              sorted(set(want) - set(got))[:5]))
            if want and len(want) < len(entries):
                some += 1
            elif not want:
                none += 1
            else:
                everything += 1
            if args.v:
                tap.diag("%s -> %d of %d" % (q, len(want), len(entries)))
        total_queries += len(queries)
        desc = ("%s: %d queries, floe read -f selects exactly the entries the Python "
                "evaluation does (%d entries; %d queries select some, %d none, %d all)"
                % (rel, len(queries), len(entries), some, none, everything))
        # Some query selected an entry and some query left one out: the answers were not
        # all the same.
        tap.result(not bad and some + everything > 0 and some + none > 0, desc)
        for b in bad[:10]:
            tap.diag(b)
    tap.result(total_queries > 0, "queries were run (%d)" % total_queries)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
