#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The AMQP client of selftests/integration/test_entries_amqp.sh (Debian's python3-pika) and
the checker that compares floe's entries with what this client logged.

  amqp_peer.py client HOST PORT LOG [--messages N] [--big BYTES]
      One connection to a RabbitMQ broker: declares, binds, publishes with properties and
      bodies (one larger than frame_max, one binary), consumes them with acks (batched
      multiple acks, one nack with requeue and its redelivery), basic_get with ack, reject and
      nack and an empty get, a publisher-confirm channel with a mandatory publish to an
      unroutable key (Basic.Return), a channel error (406 from an inequivalent
      Queue.Declare), a transaction, purge, unbind, deletes, heartbeats, and closes.
      Every AMQP method exchange it makes is one JSON line in LOG, in the field names of
      floe's entries (docs/entries.md, AMQP).

  amqp_peer.py load HOST PORT [--messages N] [--seconds S]
      Many messages of mixed sizes for the benchmark capture (selftests/bench/gen_amqp.sh).

  amqp_peer.py check --entries F --log LOG --client-pod P --server-pod P --port N
                     [--since T --until T]
      TAB-separated ok/fail/diag lines (selftests/lib/entries.sh `checks`): every logged
      exchange is exactly one floe entry with the same methods and arguments, and floe has
      no other entry.
"""
import argparse
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BODY_MAX = 64 * 1024
EXCHANGE = "floe.orders"
QUEUE = "floe.jobs"


# ------------------------------------------------------------------ client
class Log:
    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8")

    def __call__(self, ev, **kw):
        kw["ev"] = ev
        self.f.write(json.dumps(kw, sort_keys=True) + "\n")
        self.f.flush()


def digest(body):
    return {"body_len": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_prefix_sha256": hashlib.sha256(body[:BODY_MAX]).hexdigest()}


def props_json(p):
    """pika BasicProperties as floe shows them (only the ones set)."""
    out = {}
    for k in ("content_type", "content_encoding", "headers", "delivery_mode", "priority",
              "correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type",
              "user_id", "app_id", "cluster_id"):
        v = getattr(p, k, None)
        if v is not None:
            out[k] = v
    return out


def client(a):
    import pika

    log = Log(a.log)
    params = pika.ConnectionParameters(a.host, a.port, credentials=pika.PlainCredentials("guest", "guest"),
                                       heartbeat=2, blocked_connection_timeout=10,
                                       socket_timeout=10)
    conn = pika.BlockingConnection(params)
    lport = None
    try:
        lport = conn._impl._transport._sock.getsockname()[1]
    except AttributeError:
        pass
    p = conn._impl.params
    log("connect", local_port=lport, virtual_host="/", user="guest", frame_max=p.frame_max,
        channel_max=p.channel_max, heartbeat=p.heartbeat)

    def sync(ch, method, reply, args=None, flags=None, reply_args=None):
        log("sync", channel=ch.channel_number, method=method, reply=reply, args=args or {},
            flags=flags or {}, reply_args=reply_args or {})

    ch = conn.channel()
    log("channel_open", channel=ch.channel_number)
    ch.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    sync(ch, "Exchange.Declare", "Exchange.Declare-Ok", {"exchange": EXCHANGE, "type": "topic"},
         {"durable": True, "passive": False, "auto_delete": False, "internal": False, "no_wait": False})
    qargs = {"x-max-length": 1000, "x-message-ttl": 600000}
    r = ch.queue_declare(QUEUE, arguments=qargs)
    sync(ch, "Queue.Declare", "Queue.Declare-Ok", {"queue": QUEUE, "arguments": qargs},
         {"durable": False, "exclusive": False, "no_wait": False},
         {"queue": r.method.queue, "message_count": r.method.message_count,
          "consumer_count": r.method.consumer_count})
    ch.queue_bind(QUEUE, EXCHANGE, routing_key="order.*")
    sync(ch, "Queue.Bind", "Queue.Bind-Ok", {"queue": QUEUE, "exchange": EXCHANGE, "routing_key": "order.*"})
    ch.basic_qos(prefetch_count=50)
    sync(ch, "Basic.Qos", "Basic.Qos-Ok", {"prefetch_count": 50, "prefetch_size": 0}, {"global": False})
    # Heartbeats flow while nothing else does.
    conn.sleep(3)
    log("heartbeat_wait", seconds=3)

    # Publishes: properties, JSON bodies, one larger than frame_max, one binary.
    bodies = []
    for i in range(a.messages):
        body = json.dumps({"order": i, "item": "caf\u00e9 %d" % i, "qty": i * 3}).encode()
        props = pika.BasicProperties(
            content_type="application/json", content_encoding="utf-8", delivery_mode=2,
            priority=i % 10, correlation_id="corr-%d" % i, reply_to="amq.rabbitmq.reply-to.x",
            message_id="msg-%d" % i, timestamp=1700000000 + i, type="order.created",
            user_id="guest", app_id="floe-test", expiration="600000",
            headers={"i": i, "trace": "t-%d" % i, "big": 1 << 40, "ok": i % 2 == 0,
                     "nested": {"list": [1, "two", True, None]}})
        bodies.append(("order.%d" % i, body, props))
    bodies.append(("order.big", (b"0123456789abcdef" * ((a.big + 15) // 16))[:a.big],
                   pika.BasicProperties(content_type="text/plain")))
    bodies.append(("order.bin", bytes(range(256)) * 3, pika.BasicProperties(content_type="application/octet-stream")))
    for rk, body, props in bodies:
        ch.basic_publish(EXCHANGE, rk, body, properties=props)
        log("publish", channel=ch.channel_number, exchange=EXCHANGE, routing_key=rk, mandatory=False,
            properties=props_json(props), **digest(body))

    # Consume them: acks in batches (multiple), one nack with requeue and its redelivery.
    state = {"got": 0, "unacked": [], "nacked": False, "pending": []}
    want = len(bodies) + 1

    def settle_batch(channel, upto):
        channel.basic_ack(upto, multiple=True)
        for d in state["unacked"]:
            d["settle"] = {"method": "Basic.Ack", "delivery_tag": upto, "multiple": True}
            log("deliver", **d)
        state["unacked"] = []

    def on_message(channel, method, props, body):
        state["got"] += 1
        d = dict(channel=channel.channel_number, consumer_tag=method.consumer_tag,
                 delivery_tag=method.delivery_tag, redelivered=method.redelivered,
                 exchange=method.exchange, routing_key=method.routing_key,
                 properties=props_json(props), **digest(body))
        if method.routing_key == "order.3" and not state["nacked"]:
            if state["unacked"]:
                settle_batch(channel, state["unacked"][-1]["delivery_tag"])
            state["nacked"] = True
            channel.basic_nack(method.delivery_tag, multiple=False, requeue=True)
            d["settle"] = {"method": "Basic.Nack", "delivery_tag": method.delivery_tag,
                           "multiple": False, "requeue": True}
            log("deliver", **d)
            return
        state["unacked"].append(d)
        if len(state["unacked"]) >= 4 or state["got"] == want:
            settle_batch(channel, method.delivery_tag)

    tag = ch.basic_consume(QUEUE, on_message, auto_ack=False, consumer_tag="floe-consumer")
    sync(ch, "Basic.Consume", "Basic.Consume-Ok", {"queue": QUEUE, "consumer_tag": tag},
         {"no_ack": False, "exclusive": False, "no_local": False, "no_wait": False},
         {"consumer_tag": tag})
    deadline = time.time() + 20
    while state["got"] < want and time.time() < deadline:
        conn.process_data_events(time_limit=0.2)
    if state["unacked"]:
        settle_batch(ch, state["unacked"][-1]["delivery_tag"])
    ch.basic_cancel(tag)
    sync(ch, "Basic.Cancel", "Basic.Cancel-Ok", {"consumer_tag": tag}, {"no_wait": False},
         {"consumer_tag": tag})

    # basic_get: settled by ack, reject and nack; then an empty queue.
    for i in range(3):
        body = ("get-%d" % i).encode()
        ch.basic_publish(EXCHANGE, "order.get%d" % i, body)
        log("publish", channel=ch.channel_number, exchange=EXCHANGE, routing_key="order.get%d" % i,
            mandatory=False, properties={}, **digest(body))
    for i, how in enumerate(("Basic.Ack", "Basic.Reject", "Basic.Nack")):
        m, props, body = ch.basic_get(QUEUE, auto_ack=False)
        if m is None:
            log("error", what="basic_get %d found the queue empty" % i)
            continue
        if how == "Basic.Ack":
            ch.basic_ack(m.delivery_tag)
            settle = {"method": how, "delivery_tag": m.delivery_tag, "multiple": False}
        elif how == "Basic.Reject":
            ch.basic_reject(m.delivery_tag, requeue=False)
            settle = {"method": how, "delivery_tag": m.delivery_tag, "requeue": False}
        else:
            ch.basic_nack(m.delivery_tag, multiple=False, requeue=False)
            settle = {"method": how, "delivery_tag": m.delivery_tag, "multiple": False, "requeue": False}
        log("get", channel=ch.channel_number, queue=QUEUE, no_ack=False, reply="Basic.Get-Ok",
            delivery_tag=m.delivery_tag, redelivered=m.redelivered, exchange=m.exchange,
            routing_key=m.routing_key, message_count=m.message_count, settle=settle,
            properties=props_json(props), **digest(body))
    m, props, body = ch.basic_get(QUEUE, auto_ack=True)
    log("get", channel=ch.channel_number, queue=QUEUE, no_ack=True,
        reply="Basic.Get-Empty" if m is None else "Basic.Get-Ok")

    # Publisher confirms, and a mandatory publish nobody can route (Basic.Return).
    ch2 = conn.channel()
    log("channel_open", channel=ch2.channel_number)
    ch2.confirm_delivery()
    sync(ch2, "Confirm.Select", "Confirm.Select-Ok", {}, {"no_wait": False})
    for i in range(5):
        body = ("confirmed %d" % i).encode()
        ch2.basic_publish(EXCHANGE, "confirm.%d" % i, body)
        log("publish", channel=ch2.channel_number, exchange=EXCHANGE, routing_key="confirm.%d" % i,
            mandatory=False, properties={}, confirm="Basic.Ack", publish_seq=i + 1, **digest(body))
    body = b"nobody wants this"
    returned = False
    try:
        ch2.basic_publish(EXCHANGE, "nowhere", body, mandatory=True)
    except pika.exceptions.UnroutableError as ex:
        returned = True
        for msg in ex.messages:
            log("return", channel=ch2.channel_number, reply_code=msg.method.reply_code,
                reply_text=msg.method.reply_text, exchange=msg.method.exchange,
                routing_key=msg.method.routing_key, **digest(msg.body))
    log("publish", channel=ch2.channel_number, exchange=EXCHANGE, routing_key="nowhere", mandatory=True,
        properties={}, confirm="Basic.Ack", publish_seq=6, returned=returned, **digest(body))

    # A channel error: the queue exists with other arguments.
    ch3 = conn.channel()
    log("channel_open", channel=ch3.channel_number)
    try:
        ch3.queue_declare(QUEUE, arguments={"x-max-length": 5})
        log("error", what="the inequivalent queue_declare succeeded")
    except pika.exceptions.ChannelClosedByBroker as ex:
        log("channel_error", channel=ch3.channel_number, method="Queue.Declare",
            args={"queue": QUEUE, "arguments": {"x-max-length": 5}}, reply_code=ex.reply_code,
            reply_text=ex.reply_text, class_id=50, method_id=10)

    # A transaction, then purge, unbind and deletes.
    ch4 = conn.channel()
    log("channel_open", channel=ch4.channel_number)
    ch4.tx_select()
    sync(ch4, "Tx.Select", "Tx.Select-Ok")
    body = b"in a transaction"
    ch4.basic_publish(EXCHANGE, "order.tx", body)
    log("publish", channel=ch4.channel_number, exchange=EXCHANGE, routing_key="order.tx", mandatory=False,
        properties={}, **digest(body))
    ch4.tx_commit()
    sync(ch4, "Tx.Commit", "Tx.Commit-Ok")
    r = ch.queue_purge(QUEUE)
    sync(ch, "Queue.Purge", "Queue.Purge-Ok", {"queue": QUEUE}, {"no_wait": False},
         {"message_count": r.method.message_count})
    ch.queue_unbind(QUEUE, EXCHANGE, routing_key="order.*")
    sync(ch, "Queue.Unbind", "Queue.Unbind-Ok", {"queue": QUEUE, "exchange": EXCHANGE, "routing_key": "order.*"})
    r = ch.queue_delete(QUEUE)
    sync(ch, "Queue.Delete", "Queue.Delete-Ok", {"queue": QUEUE}, {"if_unused": False, "if_empty": False},
         {"message_count": r.method.message_count})
    ch.exchange_delete(EXCHANGE)
    sync(ch, "Exchange.Delete", "Exchange.Delete-Ok", {"exchange": EXCHANGE}, {"if_unused": False})
    for c in (ch, ch2, ch4):
        c.close(reply_code=200, reply_text="done with channel %d" % c.channel_number)
        log("channel_close", channel=c.channel_number, reply_code=200,
            reply_text="done with channel %d" % c.channel_number)
    conn.close(reply_code=200, reply_text="bye")
    log("connection_close", reply_code=200, reply_text="bye")
    return 0


# ------------------------------------------------------------------ load (benchmark capture)
def load(a):
    """Many messages for the benchmark capture: a publisher connection (plain publishes, and
    every tenth on a publisher-confirm channel) and a consumer connection (manual acks,
    multiple every 50; a basic_get every 1000 messages), bodies of mixed sizes."""
    import pika

    creds = pika.PlainCredentials("guest", "guest")
    params = pika.ConnectionParameters(a.host, a.port, credentials=creds, heartbeat=0)
    pub, sub = pika.BlockingConnection(params), pika.BlockingConnection(params)
    pch, cch, sch = pub.channel(), pub.channel(), sub.channel()
    cch.confirm_delivery()
    pch.exchange_declare("bench", exchange_type="direct")
    pch.queue_declare("bench.q", arguments={"x-max-length": 1000000})
    pch.queue_bind("bench.q", "bench", routing_key="work")
    sch.basic_qos(prefetch_count=500)
    state = {"delivered": 0, "unacked": 0, "gets": 0}

    def on_message(channel, method, props, body):
        state["delivered"] += 1
        state["unacked"] += 1
        if state["unacked"] >= 50:
            channel.basic_ack(method.delivery_tag, multiple=True)
            state["unacked"] = 0
    sch.basic_consume("bench.q", on_message, auto_ack=False)
    small = json.dumps({"event": "order.created", "id": 0, "items": [1, 2, 3], "note": "x" * 120}).encode()
    medium = bytes(range(256)) * 4
    large = (b"large payload " * 800)[:10240]
    huge = b"h" * 200000
    deadline = time.time() + a.seconds
    published = confirmed = 0
    for i in range(a.messages):
        if time.time() > deadline:
            break
        r = i % 100
        body = huge if i % 1000 == 999 else large if r < 2 else medium if r < 30 else small
        props = pika.BasicProperties(content_type="application/json", delivery_mode=1,
                                     message_id="m-%d" % i, headers={"seq": i, "src": "bench"})
        if i % 10 == 5:
            cch.basic_publish("bench", "work", body, properties=props)
            confirmed += 1
        else:
            pch.basic_publish("bench", "work", body, properties=props)
        published += 1
        if i % 200 == 199:
            sub.process_data_events(time_limit=0)
            pub.process_data_events(time_limit=0)
        if i % 1000 == 500:
            m, _, _ = pch.basic_get("bench.q", auto_ack=False)
            if m is not None:
                pch.basic_ack(m.delivery_tag)
                state["gets"] += 1
    while state["delivered"] + state["gets"] < published and time.time() < deadline + 30:
        sub.process_data_events(time_limit=0.2)
    sch.basic_ack(0, multiple=True)
    for c in (pch, cch, sch):
        c.close()
    pub.close()
    sub.close()
    print(json.dumps(dict(published=published, confirmed=confirmed, **state)))
    return 0


# ------------------------------------------------------------------ checker
def cmd_check(a):
    import entries_check as ec

    entries = [e for e in ec.load_entries(a) if e.get("protocol") == "amqp"]
    events = ec.read_jsonl(a.log)
    errors = [e for e in events if e["ev"] == "error"]
    ec.check(not errors, "the AMQP client did all it meant to", [e["what"] for e in errors])
    conn = next((e for e in events if e["ev"] == "connect"), None)
    if not ec.check(conn is not None, "the AMQP client connected"):
        return 0

    used = set()
    problems = []

    def find(desc, pred):
        """The first unused entry for which pred(e) gives no problem; else the problems of the
        nearest one."""
        best = None
        for i, e in enumerate(entries):
            if i in used:
                continue
            p = pred(e)
            if not p:
                used.add(i)
                return e
            if best is None or len(p) < len(best[1]):
                best = (e, p)
        problems.append("%s: no entry%s" % (desc, (": nearest %s: %s" % (best[0].get("id"), "; ".join(best[1][:6])))
                                              if best else ""))
        return None

    def same(got, want, where, p):
        if got != want:
            p.append("%s %s, want %s" % (where, json.dumps(got)[:120], json.dumps(want)[:120]))

    def half(e, which, method, channel, args=None, flags=None, sender=None):
        h = e.get(which) or {}
        p = []
        same(h.get("method"), method, which + ".method", p)
        if p:
            return p
        same(h.get("channel"), channel, which + ".channel", p)
        if sender:
            same(h.get("sender"), sender, which + ".sender", p)
        for k, v in (args or {}).items():
            same(h.get(k), v, "%s.%s" % (which, k), p)
        for k, v in (flags or {}).items():
            same((h.get("flags") or {}).get(k), v, "%s.flags.%s" % (which, k), p)
        return p

    def content(e, which, ev):
        h = e.get(which) or {}
        p = []
        b = h.get("body") or {}
        same(b.get("size"), ev["body_len"], which + ".body.size", p)
        kept = ec.body_bytes(b)
        if kept is None:
            p.append("%s.body: nothing kept" % which)
        elif b.get("truncated"):
            if len(kept) != BODY_MAX or hashlib.sha256(kept).hexdigest() != ev["body_prefix_sha256"]:
                p.append("%s.body: the %d bytes kept are not the body's first %d" % (which, len(kept), BODY_MAX))
        elif hashlib.sha256(kept).hexdigest() != ev["body_sha256"]:
            p.append("%s.body: sha256 differs (%d bytes kept)" % (which, len(kept)))
        props = h.get("properties") or {}
        for k, v in (ev.get("properties") or {}).items():
            same(props.get(k), v, "%s.properties.%s" % (which, k), p)
        for k in props:
            if k not in (ev.get("properties") or {}):
                p.append("%s.properties.%s %s not set by the client" % (which, k, json.dumps(props[k])[:60]))
        return p

    def complete(e, p):
        if e.get("missing"):
            p.append("missing %s (%s)" % (e["missing"], e.get("missing_reason")))
        return p

    n_expected = 0
    for ev in events:
        kind = ev["ev"]
        if kind == "connect":
            for req, rep, args, rargs in (
                    ("Connection.Start", "Connection.Start-Ok", {"version_major": 0, "version_minor": 9},
                     {"mechanism": "PLAIN", "user": ev["user"]}),
                    ("Connection.Tune", "Connection.Tune-Ok", {},
                     {"frame_max": ev["frame_max"], "heartbeat": ev["heartbeat"], "channel_max": ev["channel_max"]}),
                    ("Connection.Open", "Connection.Open-Ok", {"virtual_host": ev["virtual_host"]}, {})):
                n_expected += 1
                who = "server" if req != "Connection.Open" else "client"
                find(req, lambda e, req=req, rep=rep, args=args, rargs=rargs, who=who: complete(
                    e, half(e, "request", req, 0, args, sender=who) + half(e, "response", rep, 0, rargs)))
        elif kind == "channel_open":
            n_expected += 1
            find("Channel.Open %d" % ev["channel"], lambda e, ev=ev: complete(
                e, half(e, "request", "Channel.Open", ev["channel"], sender="client")
                + half(e, "response", "Channel.Open-Ok", ev["channel"])))
        elif kind == "sync":
            n_expected += 1
            find("%s ch %d" % (ev["method"], ev["channel"]), lambda e, ev=ev: complete(
                e, half(e, "request", ev["method"], ev["channel"], ev["args"], ev["flags"], "client")
                + half(e, "response", ev["reply"], ev["channel"], ev["reply_args"], sender="server")))
        elif kind == "publish":
            n_expected += 1

            def pred(e, ev=ev):
                p = half(e, "request", "Basic.Publish", ev["channel"],
                         {"exchange": ev["exchange"], "routing_key": ev["routing_key"]},
                         {"mandatory": ev["mandatory"]}, "client")
                if p:
                    return p
                p += content(e, "request", ev)
                if ev.get("confirm"):
                    same((e.get("request") or {}).get("publish_seq"), ev["publish_seq"], "request.publish_seq", p)
                    p += half(e, "response", ev["confirm"], ev["channel"], sender="server")
                elif "response" in e:
                    p.append("a response %s without publisher confirms" % e["response"].get("method"))
                return complete(e, p)
            find("Basic.Publish ch %d rk %s" % (ev["channel"], ev["routing_key"]), pred)
        elif kind == "deliver":
            n_expected += 1
            s = ev["settle"]

            def pred(e, ev=ev, s=s):
                p = half(e, "request", "Basic.Deliver", ev["channel"],
                         {"consumer_tag": ev["consumer_tag"], "delivery_tag": ev["delivery_tag"],
                          "exchange": ev["exchange"], "routing_key": ev["routing_key"]},
                         {"redelivered": ev["redelivered"]}, "server")
                if p:
                    return p
                p += content(e, "request", ev)
                flags = {k: s[k] for k in ("multiple", "requeue") if k in s}
                p += half(e, "response", s["method"], ev["channel"], {"delivery_tag": s["delivery_tag"]},
                          flags, "client")
                return complete(e, p)
            find("Basic.Deliver tag %d" % ev["delivery_tag"], pred)
        elif kind == "get":
            n_expected += 1

            def pred(e, ev=ev):
                p = half(e, "request", "Basic.Get", ev["channel"], {"queue": ev["queue"]},
                         {"no_ack": ev["no_ack"]}, "client")
                if p:
                    return p
                if ev["reply"] == "Basic.Get-Empty":
                    return complete(e, p + half(e, "response", "Basic.Get-Empty", ev["channel"]))
                p += half(e, "response", "Basic.Get-Ok", ev["channel"],
                          {"delivery_tag": ev["delivery_tag"], "exchange": ev["exchange"],
                           "routing_key": ev["routing_key"], "message_count": ev["message_count"]},
                          {"redelivered": ev["redelivered"]}, "server")
                p += content(e, "response", ev)
                s = ev["settle"]
                ack = e.get("ack") or {}
                same(ack.get("method"), s["method"], "ack.method", p)
                same(ack.get("delivery_tag"), s["delivery_tag"], "ack.delivery_tag", p)
                for k in ("multiple", "requeue"):
                    if k in s:
                        same((ack.get("flags") or {}).get(k), s[k], "ack.flags." + k, p)
                return complete(e, p)
            find("Basic.Get %s" % ev.get("delivery_tag"), pred)
        elif kind == "return":
            n_expected += 1
            find("Basic.Return", lambda e, ev=ev: complete(
                e, half(e, "request", "Basic.Return", ev["channel"],
                        {"reply_code": ev["reply_code"], "reply_text": ev["reply_text"],
                         "exchange": ev["exchange"], "routing_key": ev["routing_key"]}, sender="server")
                + content(e, "request", dict(ev, properties={}))))
        elif kind == "channel_error":
            n_expected += 2
            close = {"reply_code": ev["reply_code"], "reply_text": ev["reply_text"],
                     "class_id": ev["class_id"], "method_id": ev["method_id"]}
            find("%s failing with %d" % (ev["method"], ev["reply_code"]), lambda e, ev=ev, close=close: complete(
                e, half(e, "request", ev["method"], ev["channel"], ev["args"], sender="client")
                + half(e, "response", "Channel.Close", ev["channel"],
                       dict(close, reply_name="PRECONDITION_FAILED", failed_method=ev["method"]), sender="server")))
            find("Channel.Close %d from the server" % ev["reply_code"], lambda e, ev=ev, close=close: complete(
                e, half(e, "request", "Channel.Close", ev["channel"], close, sender="server")
                + half(e, "response", "Channel.Close-Ok", ev["channel"], sender="client")))
        elif kind == "channel_close":
            n_expected += 1
            find("Channel.Close %d from the client" % ev["channel"], lambda e, ev=ev: complete(
                e, half(e, "request", "Channel.Close", ev["channel"],
                        {"reply_code": ev["reply_code"], "reply_text": ev["reply_text"]}, sender="client")
                + half(e, "response", "Channel.Close-Ok", ev["channel"], sender="server")))
        elif kind == "connection_close":
            n_expected += 1
            find("Connection.Close", lambda e, ev=ev: complete(
                e, half(e, "request", "Connection.Close", 0,
                        {"reply_code": ev["reply_code"], "reply_text": ev["reply_text"]}, sender="client")
                + half(e, "response", "Connection.Close-Ok", 0, sender="server")))
    ec.check_problems(problems, "each of the %d AMQP exchanges the client logged is one floe entry with "
                      "its methods, arguments, properties and body" % n_expected)
    extra = [ec.short(e) + " " + json.dumps({k: (e.get(k) or {}).get("method") for k in ("request", "response")})
             for i, e in enumerate(entries) if i not in used]
    ec.check_problems(extra, "floe has no AMQP entry the client did not make (%d entries)" % len(entries))
    ends = []
    for e in entries:
        if conn.get("local_port") is not None and e["src"].get("port") != conn["local_port"]:
            ends.append("%s: src.port %s, want the client's %s" % (e.get("id"), e["src"].get("port"), conn["local_port"]))
        ends += ["%s: %s" % (e.get("id"), x) for x in ec.endpoint_problems(e, "src", a.client_pod, None)
                 + ec.endpoint_problems(e, "dst", a.server_pod, None, port=a.port)]
    ec.check_problems(ends, "every AMQP entry: src is the client pod, dst the broker pod and port")
    n_deliver = sum(1 for ev in events if ev["ev"] == "deliver")
    ec.check(any(ev["ev"] == "deliver" and ev["redelivered"] for ev in events)
             and any(ev["ev"] == "deliver" and ev["body_len"] > conn["frame_max"] for ev in events),
             "the client saw a redelivery and a body larger than frame_max (%d deliveries)" % n_deliver)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("client")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("log")
    c.add_argument("--messages", type=int, default=20)
    c.add_argument("--big", type=int, default=300000)
    ld = sub.add_parser("load")
    ld.add_argument("host")
    ld.add_argument("port", type=int)
    ld.add_argument("--messages", type=int, default=40000)
    ld.add_argument("--seconds", type=int, default=180)
    k = sub.add_parser("check")
    k.add_argument("--entries", required=True)
    k.add_argument("--log", required=True)
    k.add_argument("--client-pod", required=True)
    k.add_argument("--server-pod", required=True)
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--since", type=float)
    k.add_argument("--until", type=float)
    a = ap.parse_args()
    return {"client": client, "load": load, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
