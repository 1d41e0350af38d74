// SPDX-License-Identifier: Apache-2.0
/*
 * DNS dissector: pairing of queries and responses over UDP and TCP, entries, detection and
 * resynchronisation. The wire format is dns_message.c's. See dns.h and docs/dns.md.
 */
#include "dissect/dns.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/byte_reader.h"
#include "dissect/dns_message.h"
#include "dissect/framing.h"
#include "dissect/pending.h"

/* Bytes of a TCP stream's start that decide detection (the engine looks at 64 at most). */
#define DNS_TCP_DETECT_ENOUGH 48u

struct query {
	struct pending_link link;
	struct entry *e;
	uint64_t qhash;
	bool has_q;
	uint16_t id, qtype;
	enum tcp_dir dir; /* who sent it */
	uint64_t ts;
	unsigned retransmits;
};

struct answered {
	uint64_t qhash;
	uint16_t id;
	bool used;
};

struct dns {
	struct conn *c;
	bool udp;
	struct dns_limits lim;
	struct pending_queue pending; /* queries waiting for responses, in order of arrival */
	bool resync[2];	 /* TCP: look for a message start after a gap */
	bool gapped[2];	 /* TCP: bytes of this direction were lost at some point */
	uint64_t gap_ts; /* TCP: last gap in the responses' direction */
	struct answered answered[DNS_ANSWERED_REMEMBERED];
	unsigned answered_next;
	/* TCP zone transfer in progress: its entry collects the response messages */
	struct entry *xfr;
	uint16_t xfr_id;
	enum tcp_dir xfr_dir; /* the responses' direction */
	uint16_t xfr_qtype;
	uint32_t xfr_serial;  /* of the first SOA */
	uint64_t xfr_records; /* answer records so far */
};

static const char *const dns_counters[] = {
    "malformed_messages",
    "retransmitted_queries",
    "duplicate_responses",
    "truncated_responses",
    "pending_evicted",
    "zone_transfer_messages",
    "resyncs",
    NULL,
};

/* Opcodes seen in practice on a first message: QUERY, STATUS, NOTIFY, UPDATE. */
static bool opcode_plausible(unsigned op)
{
	return op == 0 || op == 2 || op == 4 || op == 5;
}

/* ---- detection ---- */

/*
 * Does a DNS-over-TCP message start at p: a 2-byte length, a header fitting the direction
 * (C2S: a query, S2C: a response) and one question with a printable uncompressed name and a
 * known class? YES once that checked out, or once `enough` bytes were consistent.
 */
static enum detect_result tcp_message_start(enum tcp_dir dir, const uint8_t *p, size_t n,
					    size_t enough)
{
	struct dns_header h;
	size_t len, end, off, min_records;
	unsigned cls;
	int i;

	if (n < 2)
		return DETECT_MAYBE;
	len = be16_at(p);
	if (len < DNS_HEADER_LEN + 5) /* a header and the shortest question */
		return DETECT_NO;
	if (n < 2 + DNS_HEADER_LEN)
		return DETECT_MAYBE;
	dns_header_read(p + 2, &h);
	if (h.qr != (dir == TCP_DIR_S2C) || !opcode_plausible(h.opcode) ||
	    h.count[DNS_SECTION_QUESTION] != 1)
		return DETECT_NO;
	if (!h.qr &&
	    (h.rcode || h.count[DNS_SECTION_ADDITIONAL] > 2 ||
	     (h.opcode == 0 && (h.count[DNS_SECTION_ANSWER] || h.count[DNS_SECTION_AUTHORITY]))))
		return DETECT_NO;
	/* every record takes at least 11 bytes */
	for (min_records = 0, i = 1; i < 4; i++)
		min_records += h.count[i];
	if (5 + min_records * 11 > len - DNS_HEADER_LEN)
		return DETECT_NO;
	end = 2 + len;
	off = 2 + DNS_HEADER_LEN;
	for (;;) {
		size_t l, k;

		if (off >= n || off >= end)
			return off >= end ? DETECT_NO : (n >= enough ? DETECT_YES : DETECT_MAYBE);
		l = p[off];
		if (!l)
			break;
		if (l > DNS_LABEL_MAX || off + 1 + l >= end)
			return DETECT_NO;
		for (k = 1; k <= l && off + k < n; k++)
			if (p[off + k] <= 0x20 || p[off + k] >= 0x7f)
				return DETECT_NO;
		off += 1 + l;
		if (off - (2 + DNS_HEADER_LEN) > DNS_NAME_WIRE_MAX)
			return DETECT_NO;
	}
	if (off + 5 > end)
		return DETECT_NO;
	if (off + 5 > n)
		return n >= enough ? DETECT_YES : DETECT_MAYBE;
	cls = be16_at(p + off + 3);
	if (!be16_at(p + off + 1) || !(cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255))
		return DETECT_NO;
	return DETECT_YES;
}

static enum detect_result dns_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	return tcp_message_start(dir, p, n, DNS_TCP_DETECT_ENOUGH);
}

/*
 * A datagram is DNS when all of it parses as one message with one question (a response may
 * have none and answers instead: mDNS announcements), nothing left over.
 */
static enum detect_result dns_detect_datagram(const uint8_t *p, size_t n, bool *sender_is_client)
{
	struct dns_summary sum;
	struct dns_header h;

	if (n < DNS_HEADER_LEN + 5)
		return DETECT_NO;
	dns_header_read(p, &h);
	if (!opcode_plausible(h.opcode) || (!h.qr && h.rcode))
		return DETECT_NO;
	if (h.count[DNS_SECTION_QUESTION] != 1 &&
	    !(h.qr && !h.count[DNS_SECTION_QUESTION] && h.count[DNS_SECTION_ANSWER]))
		return DETECT_NO;
	if (dns_message_parse(p, n, NULL, &sum, NULL) || sum.end != n)
		return DETECT_NO;
	*sender_is_client = !h.qr;
	return DETECT_YES;
}

/* ---- entries ---- */

static void swap_ends(struct entry *e)
{
	struct entry_endpoint t = e->src;

	e->src = e->dst;
	e->dst = t;
}

/* A new entry whose src is the sender of the query: the side opposite `dir` when not_dir. */
static struct entry *entry_for(struct dns *st, enum tcp_dir query_dir)
{
	struct entry *e = conn_entry_new(st->c);

	if (!e)
		return NULL;
	e->protocol = "dns";
	if (query_dir == TCP_DIR_S2C)
		swap_ends(e);
	json_object_set_new(entry_fields_rw(e), "transport", json_string(st->udp ? "udp" : "tcp"));
	return e;
}

static void set_half(struct entry *e, const char *key, json_t *msg, uint64_t wire, uint64_t ts,
		     uint64_t ts_end)
{
	if (msg)
		json_object_set_new(entry_fields_rw(e), key, msg);
	if (!strcmp(key, "request")) {
		e->request_ts_ns = ts;
		e->request_end_ns = ts_end;
		e->request_size = wire;
	} else {
		e->response_ts_ns = ts;
		e->response_end_ns = ts_end;
		e->response_size = wire;
	}
}

static struct query *query_of(struct pending_link *l)
{
	return l ? pending_entry(l, struct query, link) : NULL;
}

static void note_retransmits(struct query *q)
{
	json_t *req = json_object_get(q->e->fields, "request");

	if (q->retransmits && req)
		json_object_set_new(req, "retransmissions", json_integer(q->retransmits));
}

/* Emit q's entry without a response (why), and free q. */
static void query_lost(struct dns *st, struct query *q, enum entry_missing_reason why)
{
	struct entry *e = q->e;

	pending_remove(&st->pending, &q->link);
	note_retransmits(q);
	e->missing = ENTRY_MISSING_RESPONSE;
	e->missing_reason = why;
	free(q);
	conn_emit(st->c, e);
}

static void expire_queries(struct dns *st, uint64_t now)
{
	struct query *q;

	while ((q = query_of(st->pending.head)) && now > q->ts && now - q->ts > DNS_QUERY_TIMEOUT_NS)
		query_lost(st, q, ENTRY_REASON_TIMEOUT);
}

static void remember_answered(struct dns *st, uint16_t id, uint64_t qhash)
{
	struct answered *a = &st->answered[st->answered_next++ % DNS_ANSWERED_REMEMBERED];

	a->id = id;
	a->qhash = qhash;
	a->used = true;
}

static bool was_answered(const struct dns *st, uint16_t id, uint64_t qhash)
{
	unsigned i;

	for (i = 0; i < DNS_ANSWERED_REMEMBERED; i++)
		if (st->answered[i].used && st->answered[i].id == id &&
		    st->answered[i].qhash == qhash)
			return true;
	return false;
}

static void on_query(struct dns *st, enum tcp_dir dir, const struct dns_summary *sum, json_t *msg,
		     uint64_t wire, uint64_t ts, uint64_t ts_end)
{
	struct query *q, *old;

	if (st->udp && sum->has_question) {
		for (q = query_of(st->pending.head); q; q = query_of(q->link.next)) {
			if (q->id == sum->h.id && q->dir == dir && q->has_q &&
			    q->qhash == sum->qhash) {
				q->retransmits++;
				conn_counter_add(st->c, DNS_COUNTER_RETRANSMITTED, 1);
				json_decref(msg);
				return;
			}
		}
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->e = entry_for(st, dir))) {
		free(q);
		json_decref(msg);
		return;
	}
	q->id = sum->h.id;
	q->has_q = sum->has_question;
	q->qhash = sum->qhash;
	q->qtype = sum->qtype;
	q->dir = dir;
	q->ts = ts;
	set_half(q->e, "request", msg, wire, ts, ts_end);
	q->link.weight = wire; /* for dns_mem() */
	old = query_of(pending_push(&st->pending, &q->link));
	if (old) {
		conn_counter_add(st->c, DNS_COUNTER_PENDING_EVICTED, 1);
		query_lost(st, old, ENTRY_REASON_TOO_MANY_PENDING);
	}
}

static void xfr_emit(struct dns *st, bool complete)
{
	struct entry *e = st->xfr;

	st->xfr = NULL;
	if (!complete)
		json_object_set_new(json_object_get(e->fields, "response"), "transfer_complete",
				    json_false());
	conn_emit(st->c, e);
}

/* Does this response message end the zone transfer (RFC 5936 2.2, RFC 1995 4)? */
static bool xfr_done(struct dns *st, const struct dns_summary *sum, bool first)
{
	if (sum->rcode || sum->error)
		return true;
	if (first && sum->first_answer_soa)
		st->xfr_serial = sum->first_soa_serial;
	st->xfr_records += sum->parsed[DNS_SECTION_ANSWER];
	/* IXFR "up to date": the only record is the SOA */
	if (first && st->xfr_qtype == DNS_TYPE_IXFR && st->xfr_records == 1 &&
	    sum->first_answer_soa)
		return true;
	/* both end with the first SOA again */
	return st->xfr_records > 1 && sum->last_answer_soa &&
	       sum->last_soa_serial == st->xfr_serial;
}

/* Another response message of the zone transfer in progress. */
static void xfr_more(struct dns *st, const struct dns_summary *sum, json_t *msg, uint64_t wire,
		     uint64_t ts_end)
{
	json_t *resp = json_object_get(st->xfr->fields, "response");
	json_t *ans = json_object_get(resp, "answers"), *more = json_object_get(msg, "answers");
	json_t *counts = json_object_get(resp, "counts"), *v;
	size_t max = st->lim.records_max ? st->lim.records_max : DNS_RECORDS_MAX_DEFAULT, i;
	json_int_t hidden = json_integer_value(json_object_get(resp, "records_not_shown"));

	conn_counter_add(st->c, DNS_COUNTER_XFR_MESSAGES, 1);
	if (!ans && more) {
		ans = json_array();
		json_object_set_new(resp, "answers", ans);
	}
	json_array_foreach(more, i, v)
	{
		if (ans && json_array_size(ans) < max)
			json_array_append(ans, v);
		else
			hidden++;
	}
	hidden += json_integer_value(json_object_get(msg, "records_not_shown"));
	if (hidden)
		json_object_set_new(resp, "records_not_shown", json_integer(hidden));
	json_object_set_new(counts, "answers",
			    json_integer(json_integer_value(json_object_get(counts, "answers")) +
					 sum->h.count[DNS_SECTION_ANSWER]));
	json_object_set_new(
	    resp, "messages",
	    json_integer(json_integer_value(json_object_get(resp, "messages")) + 1));
	st->xfr->response_end_ns = ts_end;
	st->xfr->response_size += wire;
	json_decref(msg);
	if (xfr_done(st, sum, false))
		xfr_emit(st, true);
}

static void on_response(struct dns *st, enum tcp_dir dir, const struct dns_summary *sum,
			json_t *msg, uint64_t wire, uint64_t ts, uint64_t ts_end)
{
	struct query *q;
	struct entry *e;

	if (sum->h.tc)
		conn_counter_add(st->c, DNS_COUNTER_TRUNCATED, 1);
	for (q = query_of(st->pending.head); q; q = query_of(q->link.next))
		if (q->id == sum->h.id && q->dir != dir &&
		    (!sum->has_question || !q->has_q || q->qhash == sum->qhash))
			break;
	if (!q && st->xfr && st->xfr_id == sum->h.id && st->xfr_dir == dir) {
		xfr_more(st, sum, msg, wire, ts_end);
		return;
	}
	if (q) {
		pending_remove(&st->pending, &q->link);
		note_retransmits(q);
		e = q->e;
		set_half(e, "response", msg, wire, ts, ts_end);
		if (st->udp && q->has_q)
			remember_answered(st, q->id, q->qhash);
		if (!st->udp && (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_IXFR)) {
			if (st->xfr)
				xfr_emit(st, false); /* a new transfer ends the old one */
			st->xfr = e;
			st->xfr_id = q->id;
			st->xfr_dir = dir;
			st->xfr_qtype = q->qtype;
			st->xfr_serial = 0;
			st->xfr_records = 0;
			json_object_set_new(msg, "messages", json_integer(1));
			free(q);
			if (xfr_done(st, sum, true))
				xfr_emit(st, true);
			return;
		}
		free(q);
		conn_emit(st->c, e);
		return;
	}
	if (st->udp && sum->has_question && was_answered(st, sum->h.id, sum->qhash)) {
		conn_counter_add(st->c, DNS_COUNTER_DUPLICATE_RESP, 1);
		json_decref(msg);
		return;
	}
	/*
	 * A response to a query the capture does not have. Lost in a gap of the queries'
	 * direction (TCP), or never in what was captured: sent unasked (mDNS announcements) or
	 * asked before the capture began; UDP has no gaps to blame.
	 */
	e = entry_for(st, dir == TCP_DIR_S2C ? TCP_DIR_C2S : TCP_DIR_S2C);
	if (!e) {
		json_decref(msg);
		return;
	}
	set_half(e, "response", msg, wire, ts, ts_end);
	e->missing = ENTRY_MISSING_REQUEST;
	if (!st->udp && st->gapped[!dir]) {
		e->missing_reason = ENTRY_REASON_GAP;
	} else {
		e->missing_reason = ENTRY_REASON_UNSOLICITED;
		json_object_set_new(entry_fields_rw(e), "unsolicited", json_true());
	}
	conn_emit(st->c, e);
}

/* One whole message of dir; wire: its bytes on the wire (TCP: with the length). */
static void on_message(struct dns *st, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t wire,
		       uint64_t ts, uint64_t ts_end)
{
	struct dns_summary sum;
	json_t *msg = NULL;
	int rc = dns_message_parse(p, n, &st->lim, &sum, &msg);

	if (rc == -ENOMEM)
		return;
	if (rc) {
		conn_counter_add(st->c, DNS_COUNTER_MALFORMED, 1);
		conn_count_parse_error(st->c);
		if (!msg)
			return; /* not even a header */
	}
	expire_queries(st, ts);
	if (sum.h.qr)
		on_response(st, dir, &sum, msg, wire, ts, ts_end);
	else
		on_query(st, dir, &sum, msg, wire, ts, ts_end);
}

/* ---- the dissector ---- */

static void *dns_open(struct conn *c, void *handover)
{
	struct dns *st = calloc(1, sizeof(*st));

	(void)handover;
	if (!st)
		return NULL;
	st->c = c;
	pending_init(&st->pending, DNS_PENDING_MAX);
	st->udp = conn_transport(c) == IPPROTO_UDP;
	st->lim.value_max = conn_body_max(c);
	return st;
}

/* TCP, after a gap: does a message of the direction *arg start at p? */
static enum detect_result message_start_check(const uint8_t *p, size_t n, void *arg)
{
	return tcp_message_start(*(const enum tcp_dir *)arg, p, n, SIZE_MAX);
}

/* DNS over TCP: each message after a 2-byte length (RFC 1035 4.2.2). */
static const struct lp_format dns_tcp_format = {.hdr_len = 2, .len_off = 0, .len_size = 2};

static size_t dns_parse(void *vst, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			uint64_t ts, uint64_t ts_last)
{
	struct dns *st = vst;
	uint64_t len, total;

	st->c = c;
	if (st->udp) {
		on_message(st, dir, p, n, n, ts, ts_last);
		return n;
	}
	if (st->resync[dir]) {
		bool found;
		size_t k = lp_resync(p, n, message_start_check, &dir, SIZE_MAX, &found);

		if (!found || k)
			return k;
		st->resync[dir] = false;
	}
	if (lp_whole(&dns_tcp_format, p, n, &len, &total) != LP_WHOLE)
		return 0;
	if (len < DNS_HEADER_LEN) {
		/* the framing holds; the message is not DNS */
		conn_counter_add(c, DNS_COUNTER_MALFORMED, 1);
		conn_count_parse_error(c);
		return total;
	}
	on_message(st, dir, p + 2, len, total, ts, ts_last);
	return total;
}

static void dns_gap(void *vst, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct dns *st = vst;
	struct query *q;

	st->c = c;
	if (st->udp || !missing)
		return;
	if (!st->resync[dir])
		conn_counter_add(c, DNS_COUNTER_RESYNCS, 1);
	st->resync[dir] = true;
	st->gapped[dir] = true;
	/* Responses lost in the gap are unknown: the queries sent so far may never be answered
	 * for that reason. */
	for (q = query_of(st->pending.head); q; q = query_of(q->link.next))
		if (q->dir != dir)
			st->gap_ts = ts;
	if (st->xfr && st->xfr_dir == dir)
		xfr_emit(st, false);
}

static void dns_close(void *vst, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct dns *st = vst;
	enum entry_missing_reason r = conn_end_reason(why);

	(void)ts;
	st->c = c;
	if (st->xfr)
		xfr_emit(st, false);
	struct query *q;

	while ((q = query_of(st->pending.head)))
		query_lost(st, q, st->gap_ts && q->ts <= st->gap_ts ? ENTRY_REASON_GAP : r);
}

static void dns_free(void *vst)
{
	struct dns *st = vst;
	struct query *q;

	if (!st)
		return;
	while ((q = query_of(pending_pop(&st->pending)))) {
		entry_free(q->e);
		free(q);
	}
	entry_free(st->xfr);
	free(st);
}

/*
 * For the engine's memory budget (dissector.h, mem()): TCP messages wait whole in the
 * engine's buffer (charged there), so what is the dissector's is the waiting queries and a
 * zone transfer's entry. Their JSON is estimated: DNS_JSON_BYTES for an entry's fixed
 * members plus four times a message's wire bytes (names and data as text, hex or base64,
 * and the objects around them); a transfer's collected answers DNS_RECORD_JSON_BYTES each.
 */
#define DNS_JSON_BYTES	       (sizeof(struct entry) + 512u)
#define DNS_RECORD_JSON_BYTES  512u

static size_t dns_mem(const void *vst)
{
	const struct dns *st = vst;
	size_t n = sizeof(*st) + st->pending.n * (sizeof(struct query) + DNS_JSON_BYTES) +
		   4 * st->pending.weight;

	if (st->xfr) {
		json_t *resp = json_object_get(st->xfr->fields, "response");

		n += DNS_JSON_BYTES + 4 * st->xfr->request_size +
		     json_array_size(json_object_get(resp, "answers")) * DNS_RECORD_JSON_BYTES;
	}
	return n;
}

const struct dissector dissector_dns = {
    .name = "dns",
    .protocol = "dns", /* its descriptor: lib/core/protocols/dns.c */
    .detect = dns_detect,
    .open = dns_open,
    .parse = dns_parse,
    .gap = dns_gap,
    .close = dns_close,
    .free = dns_free,
    .counters = dns_counters,
    .mem = dns_mem,
    .detect_datagram = dns_detect_datagram,
};

