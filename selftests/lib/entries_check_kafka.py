#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compares the Kafka entries floe printed (`floe tap --json`) with what the real client
(kcat, i.e. librdkafka, run with `-d protocol`) and the scripted broker (kafka_peer.py, its
JSON log) say happened. Prints the TAB-separated lines selftests/lib/entries.sh (`checks`)
turns into assertions (ok / fail / diag / skip).

- librdkafka's own log: every "Sent XRequest (vN, B bytes @ 0, CorrId C)" of one client
  thread is, in order, the requests of exactly one connection floe saw: same API, version,
  correlation id, and B == request_size; every "Received XResponse (vN, B bytes, CorrId C)"
  is that entry's response (B + 8 == response_size: librdkafka counts neither the length
  prefix nor the correlation id); a request it got no answer to (acks=0) has none.
  kcat exits without waiting for its background requests (metadata refresh, heartbeat,
  long-poll fetch): "Sent" means written to the socket, and closing a socket with unread
  data resets it and drops what the kernel had not sent yet (Nagle). So a thread's trailing
  requests that librdkafka got no answer to may be absent from the wire: the connection's
  requests must be the thread's up to at least its last answered one.
- the peer's log: every request it read is one floe entry (client port, correlation id) with
  the same api key, version, client id, sizes, topics, record counts (produced; fetched) and
  first error code; nothing floe has is missing from it, except a connection's trailing
  requests that arrived after the client had reset it (the peer cannot read those).
- a response is missing only where the client left: the peer could not send it
  (send_failed) or never read the request, librdkafka received none, and every later
  request of that connection is missing its response too.
- what was produced: every message (topic, key, value, headers) is among the records floe
  decoded from Produce requests (compressed ones included) and, for the topics consumed,
  among those of Fetch responses; a value beyond --body-max is kept cut with its full size.

usage: entries_check_kafka.py --entries F --kcat LOG --peer LOG --produced F --client POD
       --client-ns NS --server-pod POD --server-ns NS --port N [--since T --until T]
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import entries_check as ec  # noqa: E402

LINE_RE = re.compile(r"^%\d\|([\d.]+)\|(SEND|RECV)\|[^|]*\| \[thrd:([^\]]+)\]: [^:]*(?::\d+)?[^ ]*: "
                     r"(Sent|Received) (\w+?)(Request|Response) \(v(\d+), (\d+) bytes[^,]*, "
                     r"CorrId (\d+)")
NAMES = {"ApiVersion": "ApiVersions"}


def parse_kcat(path):
    """{(tag, thread): [dict(name, v, corr, sent bytes, recv bytes or None)]} in send order."""
    threads = {}
    tag = None
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("KCAT "):
            tag = line.split()[1]
            continue
        m = LINE_RE.search(line)
        if not m or tag is None:
            continue
        ts, _, thr, what, name, _, v, nbytes, corr = m.groups()
        name = NAMES.get(name, name)
        lst = threads.setdefault((tag, thr), [])
        if what == "Sent":
            lst.append({"name": name, "v": int(v), "corr": int(corr), "sent": int(nbytes),
                        "recv": None, "ts": float(ts)})
        else:
            for r in reversed(lst):
                if r["corr"] == int(corr) and r["name"] == name:
                    r["recv"] = int(nbytes)
                    break
    return threads


def records(msg):
    """(topic, key, value object, headers) of every record decoded in a Produce request or a
    Fetch response body."""
    out = []
    body = (msg or {}).get("body") or {}
    for t in body.get("topic_data", []) + body.get("responses", []):
        topic = t.get("name") or t.get("topic")
        for p in t.get("partition_data", []) + t.get("partitions", []):
            recs = p.get("records") or {}
            for b in recs.get("batches", []):
                for r in b.get("records", []):
                    out.append((topic, ec.body_bytes(r.get("key")), r.get("value"),
                                {h.get("key"): (ec.body_bytes(h.get("value")) or b"").decode()
                                 for h in r.get("headers", [])}))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", required=True)
    ap.add_argument("--kcat", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--produced", required=True)
    ap.add_argument("--consumed", default="", help="topics consumed (comma-separated)")
    ap.add_argument("--client", required=True)
    ap.add_argument("--client-ns")
    ap.add_argument("--server-pod", required=True)
    ap.add_argument("--server-ns")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--since", type=float)
    ap.add_argument("--until", type=float)
    a = ap.parse_args()
    entries = ec.load_entries(a)

    # Every entry: Kafka, the right pods, request and response fields of the contract.
    p = []
    for e in entries:
        if e.get("protocol") != "kafka":
            p.append("%s: protocol %r" % (e.get("id"), e.get("protocol")))
        p += ["%s: %s" % (e.get("id"), x) for x in
              ec.endpoint_problems(e, "src", a.client, a.client_ns)
              + ec.endpoint_problems(e, "dst", a.server_pod, a.server_ns, None, a.port)]
        if e.get("missing") and e.get("missing") != "response":
            p.append("%s: missing %s (%s)" % (e.get("id"), e.get("missing"), e.get("missing_reason")))
        r = e.get("request") or {}
        if r.get("malformed") or (e.get("response") or {}).get("malformed"):
            p.append("%s: malformed: %s" % (e.get("id"), r.get("malformed") or e["response"]["malformed"]))
        if "body" not in r:
            p.append("%s: request body not decoded (%s)" % (e.get("id"), r.get("body_undecoded")))
    ec.check_problems(p, "every entry is Kafka, client pod -> broker pod, has its request, decoded "
                      "(%d entries)" % len(entries))

    by_flow = {}
    for e in entries:
        by_flow.setdefault(e["flow_id"], []).append(e)
    for fl in by_flow.values():
        fl.sort(key=lambda e: (e.get("request") or {}).get("correlation_id", -1))

    # librdkafka's log against the entries, connection by connection.
    threads = parse_kcat(a.kcat)
    peer = ec.read_jsonl(a.peer)
    # (client port, correlation id) -> response size of every answer the peer wrote.
    peer_sent = {(int(x["client"].rsplit(":", 1)[1]), x["correlation_id"]): x.get("response_size")
                 for x in peer if not x.get("send_failed") and not x.get("no_response")}
    used_flows = set()
    unanswered = set()  # (flow_id, correlation id): librdkafka sent it and received no answer
    n_sent = n_recv = n_unsent = 0
    p = []
    for (tag, thr), sent in sorted(threads.items()):
        want = [(s["name"], s["v"], s["corr"]) for s in sent]
        answered = max([i + 1 for i, s in enumerate(sent) if s["recv"] is not None] or [1])
        # The connection with these requests (all of them, or all up to at least the last
        # answered one: see above); of several, the one with the most of them, then the one
        # with librdkafka's sizes, then the one that started closest to the thread's first
        # request (kcat runs one after the other, and each run's connections look alike).
        match, best = None, None
        # librdkafka does not log every request at this debug level (a group coordinator's
        # Heartbeat was seen on the wire, and by the peer's log below, but not in the thread's
        # log): compare a connection's entries whose correlation ids the log has.
        logged = {s["corr"] for s in sent}
        for fid, fl_all in by_flow.items():
            fl = [e for e in fl_all if (e.get("request") or {}).get("correlation_id") in logged]
            got = [((e.get("request") or {}).get("api_name"), (e.get("request") or {}).get("api_version"),
                    (e.get("request") or {}).get("correlation_id")) for e in fl]
            if fid in used_flows or not answered <= len(got) <= len(want) or got != want[:len(got)]:
                continue
            sizes = sum(1 for s, e in zip(sent, fl) if e.get("request_size") != s["sent"])
            dt = abs((ec.parse_time(fl[0].get("request_time")) or 0) - sent[0]["ts"])
            if best is None or (-len(got), sizes, dt) < best:
                match, best = fid, (-len(got), sizes, dt)
        if match is not None:
            fl_all = by_flow[match]
            skipped = [e for e in fl_all if (e.get("request") or {}).get("correlation_id") not in logged]
            if skipped:
                ec.diag("%s thread %s: %d request(s) on the wire but not in librdkafka's log: %s" % (
                    tag, thr, len(skipped), [(e.get("request") or {}).get("api_name") for e in skipped]))
            matched_fl = [e for e in fl_all if e not in skipped]
        if match is None:
            p.append("%s thread %s: no connection has its %d requests %s" % (tag, thr, len(want), want[:8]))
            # What the connections not taken yet hold: the diagnosis of a mismatch.
            for fid, fl in sorted(by_flow.items()):
                if fid not in used_flows:
                    p.append("  flow %s: %s" % (fid, [((e.get("request") or {}).get("api_name"),
                                                     (e.get("request") or {}).get("api_version"),
                                                     (e.get("request") or {}).get("correlation_id"),
                                                     e.get("missing")) for e in fl][:10]))
            continue
        used_flows.add(match)
        if len(sent) > len(matched_fl):
            n_unsent += len(sent) - len(matched_fl)
            ec.diag("%s thread %s: its last %d request(s) %s, never answered, did not reach the wire "
                    "(kcat exited)" % (tag, thr, len(sent) - len(matched_fl), want[len(matched_fl):]))
        for s, e in zip(sent, matched_fl):
            if s["recv"] is None:
                unanswered.add((match, s["corr"]))
            n_sent += 1
            if e.get("request_size") != s["sent"]:
                p.append("%s %s %s #%d: request_size %r, librdkafka sent %d bytes" % (
                    tag, thr, s["name"], s["corr"], e.get("request_size"), s["sent"]))
            resp = e.get("response")
            if s["recv"] is None:
                # kcat -e may exit with requests in flight (a long-poll fetch, a metadata
                # refresh): the broker's answers are on the wire, librdkafka never read them.
                # Only the requests after its last logged answer may be such.
                in_flight = all(t["recv"] is None for t in sent[sent.index(s):])
                if resp is not None and not in_flight:
                    # librdkafka drops, without a "Received" line, the answer to a request
                    # it has already given up on (a Heartbeat when the consumer leaves its
                    # group: "Response for unknown CorrId", logged only under -d broker).
                    # Such an answer is on the wire all the same: the peer wrote it, and
                    # floe's size must be the peer's.
                    psize = peer_sent.get((e["src"]["port"], s["corr"]), "absent")
                    if psize != e.get("response_size"):
                        p.append("%s %s #%d: floe has a response (%r bytes) librdkafka never received "
                                 "and the peer did not write (%r)" % (tag, s["name"], s["corr"],
                                                                      e.get("response_size"), psize))
                    else:
                        ec.diag("%s %s #%d: answered on the wire (the peer wrote %d bytes), dropped "
                                "unlogged by librdkafka" % (tag, s["name"], s["corr"], psize))
                continue
            n_recv += 1
            if not resp or resp.get("correlation_id") != s["corr"]:
                p.append("%s %s #%d: response %r" % (tag, s["name"], s["corr"], resp and resp.get("correlation_id")))
            elif e.get("response_size") != s["recv"] + 8:
                p.append("%s %s #%d: response_size %r, librdkafka received %d (+8)" % (
                    tag, s["name"], s["corr"], e.get("response_size"), s["recv"]))
    ec.check_problems(p, "librdkafka's debug log: %d client connections, %d requests and %d responses "
                      "= floe's entries (API, version, correlation id, sizes; %d unanswered at exit "
                      "never reached the wire)" % (len(threads), n_sent, n_recv, n_unsent))
    ec.check(len(used_flows) == len(by_flow), "every connection floe saw is one of librdkafka's (%d of %d)"
             % (len(used_flows), len(by_flow)), ["flows not matched: %s" % sorted(set(by_flow) - used_flows)])

    # The peer's log against the entries, request by request.
    idx = {}
    for e in entries:
        r = e.get("request") or {}
        idx.setdefault((e["src"]["port"], r.get("correlation_id")), []).append(e)
    p = []
    used = set()
    for x in peer:
        port = int(x["client"].rsplit(":", 1)[1])
        got = idx.get((port, x["correlation_id"]), [])
        if len(got) != 1:
            p.append("peer %s %s #%d: %d floe entries" % (x["client"], x["api_name"], x["correlation_id"], len(got)))
            continue
        e = got[0]
        used.add(id(e))
        r, s = e.get("request") or {}, e.get("response") or {}
        q = []
        for k in ("api_key", "api_version", "client_id"):
            if r.get(k) != x.get(k):
                q.append("request.%s %r, peer %r" % (k, r.get(k), x.get(k)))
        if e.get("request_size") != x["request_size"]:
            q.append("request_size %r, peer %r" % (e.get("request_size"), x["request_size"]))
        if x.get("send_failed"):
            if e.get("response") or e.get("missing") != "response":
                q.append("the client left before the peer answered: floe response %r, missing %r" % (
                    bool(e.get("response")), e.get("missing")))
        elif x.get("no_response"):
            if e.get("response") or not r.get("no_response"):
                q.append("peer sent no response (acks=0): floe response %r, no_response %r" % (
                    bool(e.get("response")), r.get("no_response")))
        elif e.get("response_size") != x.get("response_size"):
            q.append("response_size %r, peer %r" % (e.get("response_size"), x.get("response_size")))
        topics = set(r.get("topics", [])) | set(s.get("topics", []))
        if x.get("topics") and set(x["topics"]) - topics:
            q.append("topics %r, peer %r" % (sorted(topics), x["topics"]))
        if x["api_key"] == 0 and r.get("record_count") != x.get("records"):
            q.append("request.record_count %r, peer stored %r" % (r.get("record_count"), x.get("records")))
        if x["api_key"] == 1 and s.get("record_count", 0) != x.get("records"):
            q.append("response.record_count %r, peer sent %r" % (s.get("record_count"), x.get("records")))
        if not x.get("no_response") and not x.get("send_failed") and s.get("error_code", 0) != x.get("error", 0):
            q.append("response.error_code %r, peer %r" % (s.get("error_code"), x.get("error")))
        if x.get("group") and (r.get("body") or {}).get("group_id", x["group"]) != x["group"] \
                and (r.get("body") or {}).get("key", x["group"]) != x["group"]:
            q.append("group %r, peer %r" % ((r.get("body") or {}).get("group_id"), x["group"]))
        if q:
            p.append("peer %s %s v%d #%d:\n      " % (x["client"], x["api_name"], x["api_version"],
                                                     x["correlation_id"]) + "\n      ".join(q))
    ec.check_problems(p, "the peer's log: %d requests = floe's entries (api, version, client id, sizes, "
                      "topics, records produced and fetched, errors, groups)" % len(peer))
    # A missing response: the client left (the peer could not answer, or never read the
    # request because the client had reset the connection), librdkafka received no answer,
    # and so is every later request of the connection.
    failed = set((int(x["client"].rsplit(":", 1)[1]), x["correlation_id"]) for x in peer if x.get("send_failed"))
    p, extra, n_left = [], [], 0
    for fl in by_flow.values():
        for i, e in enumerate(fl):
            r = e.get("request") or {}
            key = (e["flow_id"], r.get("correlation_id"))
            if e.get("missing") == "response":
                why = []
                if id(e) in used and (e["src"]["port"], r.get("correlation_id")) not in failed:
                    why.append("the peer answered it")
                if key not in unanswered:
                    why.append("librdkafka's log has no unanswered request for it")
                if any(not x.get("missing") for x in fl[i + 1:]):
                    why.append("a later request of the connection has its response")
                if why:
                    p.append("%s: missing response (%s): %s" % (e.get("id"), e.get("missing_reason"), "; ".join(why)))
                n_left += 1
            if id(e) not in used and (e.get("missing") != "response" or e.get("missing_reason") != "connection_reset"):
                extra.append(ec.short(e))
    ec.check_problems(p, "entries missing their response (%d) are requests the client left unanswered "
                      "when it exited, each the last of its connection" % n_left)
    ec.check_problems(extra, "no entry beyond the peer's requests, but for requests the client reset "
                      "before the peer read them")

    # Every record batch librdkafka wrote (and the peer handed back) has a valid checksum.
    crcs = []

    def visit(o):
        if isinstance(o, dict):
            if "crc_valid" in o:
                crcs.append(o["crc_valid"])
            for v in o.values():
                visit(v)
        elif isinstance(o, list):
            for v in o:
                visit(v)
    for e in entries:
        visit(e.get("request"))
        visit(e.get("response"))
    ec.check(crcs and all(crcs), "every whole record batch floe decoded has a valid CRC-32C (%d of %d)"
             % (sum(1 for c in crcs if c), len(crcs)))

    # What was produced, as floe decoded it.
    produced = json.load(open(a.produced))
    prod = [rec for e in entries if (e.get("request") or {}).get("api_key") == 0 for rec in records(e["request"])]
    fetched = [rec for e in entries if (e.get("request") or {}).get("api_key") == 1 for rec in records(e.get("response"))]
    consumed = set(t for t in a.consumed.split(",") if t)

    def found(pool, m):
        for topic, key, value, headers in pool:
            if topic != m["topic"] or (key or b"").decode() != (m.get("key") or ""):
                continue
            if value.get("size") != len(m["value"].encode()):
                continue
            kept = ec.body_bytes(value) or b""
            if not m["value"].encode().startswith(kept):
                continue
            if value.get("truncated") != m.get("truncated", False):
                continue
            if any(headers.get(k) != v for k, v in m.get("headers", {}).items()):
                continue
            return True
        return False
    p = []
    for m in produced:
        desc = "%s %s=%s%s" % (m["topic"], m.get("key"), m["value"][:20], "..." if len(m["value"]) > 20 else "")
        if m.get("in_produce", True) and not found(prod, m):
            p.append("not among the Produce requests' records: " + desc)
        if m["topic"] in consumed and m.get("in_fetch", True) and not found(fetched, m):
            p.append("not among the Fetch responses' records: " + desc)
    ec.check_problems(p, "every produced message (%d) is a decoded record of a Produce request, and of a "
                      "Fetch response where its topic was consumed (key, value, headers, compression "
                      "undone)" % len(produced))
    return 0


if __name__ == "__main__":
    sys.exit(main())
