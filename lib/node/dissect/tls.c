// SPDX-License-Identifier: Apache-2.0
/*
 * The TLS handshake dissector: records, handshake messages in clear, the handshake's state,
 * its entry. The messages' fields are tls_hello.c's. See tls.h and docs/tls-handshake.md.
 */
#include "dissect/tls.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/byte_reader.h"
#include "dissect/framing.h"
#include "dissect/tls_hello.h"
#include "dissect/tls_names.h"

#define REC_HDR 5u
#define REC_MAX (16384u + 2048u) /* RFC 8446 5.2: the largest record body */
#define HS_HDR	4u

enum content_type {
	CT_CHANGE_CIPHER_SPEC = 20,
	CT_ALERT = 21,
	CT_HANDSHAKE = 22,
	CT_APPLICATION_DATA = 23,
	CT_HEARTBEAT = 24,
};

enum hs_type {
	HS_CLIENT_HELLO = 1,
	HS_SERVER_HELLO = 2,
	HS_NEW_SESSION_TICKET = 4,
	HS_CERTIFICATE = 11,
	HS_CERTIFICATE_REQUEST = 13,
	HS_SERVER_HELLO_DONE = 14,
};

/* One direction. */
struct side {
	uint8_t type;  /* the current record's content type */
	uint32_t left; /* its body bytes still to come; 0: a record header is next */
	bool resync;   /* the framing was lost in a gap: look for a record header */
	bool ccs;      /* it sent ChangeCipherSpec */
	bool finished; /* TLS 1.2: its Finished came (the handshake record after its CCS) */
	uint64_t finished_ts;
	bool hs_lost;	  /* handshake bytes were lost: its messages are not followed any more */
	bool alert_clear; /* the current alert record is in clear (2 bytes: level, description) */
	uint8_t alert[2], alert_got;
	/* the handshake message being gathered: its header, then up to TLS_HS_KEEP body bytes */
	uint8_t hs_hdr[HS_HDR], hs_hdr_got;
	uint8_t *hs;
	size_t hs_cap, hs_len;	/* kept body bytes */
	size_t hs_need, hs_got; /* the body's length, and bytes of it seen (kept or not) */
	uint64_t hs_ts;
	uint64_t bytes; /* record bytes while the handshake ran (the entry's sizes) */
};

struct tls {
	struct conn *c;
	struct side s[2];
	struct entry *e; /* from the handshake's first record until it is emitted */
	json_t *req, *resp, *alerts;
	bool client_hello, server_hello, hello_retry, tls13, full_handshake, failed, emitted;
	bool gapped, malformed;
	uint16_t version;
	size_t json_bytes; /* estimate of what req/resp/alerts hold (mem()) */
};

static const char *const tls_counters[] = {
    "handshakes", "malformed", "resyncs", "messages_cut", "encrypted_alerts", NULL,
};

/* ---- detection ---- */

/*
 * The first bytes of a direction: a handshake record (type 22, version 3.x, a plausible
 * length) whose first message is the ClientHello (client) or the ServerHello (server: the
 * capture began after the ClientHello), with a plausible length and legacy version 3.x.
 */
static enum detect_result tls_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	size_t len;

	if ((n >= 1 && p[0] != CT_HANDSHAKE) || (n >= 2 && p[1] != 3) || (n >= 3 && p[2] > 4))
		return DETECT_NO;
	if (n < REC_HDR)
		return DETECT_MAYBE;
	len = be16_at(p + 3);
	if (len < HS_HDR || len > REC_MAX)
		return DETECT_NO;
	if (n < REC_HDR + 1)
		return DETECT_MAYBE;
	if (p[5] != (dir == TCP_DIR_C2S ? HS_CLIENT_HELLO : HS_SERVER_HELLO))
		return DETECT_NO;
	if (n < REC_HDR + HS_HDR)
		return DETECT_MAYBE;
	len = be24_at(p + 6);
	if (len < 38 || len > 0xffffu) /* a ServerHello's fixed fields; a 64 KiB hello */
		return DETECT_NO;
	if (n < REC_HDR + HS_HDR + 2)
		return DETECT_MAYBE;
	return p[9] == 3 && p[10] <= 4 ? DETECT_YES : DETECT_NO;
}

static bool record_header_ok(const uint8_t *p)
{
	size_t len = be16_at(p + 3);

	return p[0] >= CT_CHANGE_CIPHER_SPEC && p[0] <= CT_HEARTBEAT && p[1] == 3 && p[2] <= 4 &&
	       len <= REC_MAX && (len > 0 || p[0] == CT_APPLICATION_DATA);
}

/* After a gap: does a record start at p? Two headers in a row, where the bytes allow. */
static enum detect_result record_start_check(const uint8_t *p, size_t n, void *arg)
{
	size_t next;

	(void)arg;
	if (n < REC_HDR)
		return DETECT_MAYBE;
	if (!record_header_ok(p))
		return DETECT_NO;
	next = REC_HDR + be16_at(p + 3);
	if (n < next + REC_HDR)
		return DETECT_MAYBE;
	return record_header_ok(p + next) ? DETECT_YES : DETECT_NO;
}

/* ---- the entry ---- */

static struct entry *entry_of(struct tls *st)
{
	if (!st->e && !st->emitted) {
		st->e = conn_entry_new(st->c);
		if (st->e)
			st->e->protocol = "tls";
	}
	return st->e;
}

static json_t *resp_of(struct tls *st)
{
	if (!st->resp)
		st->resp = json_object();
	return st->resp;
}

/* The handshake ended (done), failed, or the connection ended first (why != NONE). */
static void emit(struct tls *st, bool done, enum entry_missing_reason why, uint64_t ts)
{
	struct entry *e = st->e;
	const char *v;

	if (!e)
		return;
	st->e = NULL;
	st->emitted = true;
	if (st->req)
		json_object_set_new(entry_fields_rw(e), "request", st->req);
	if (st->resp)
		json_object_set_new(entry_fields_rw(e), "response", st->resp);
	if (st->alerts)
		json_object_set_new(entry_fields_rw(e), "alerts", st->alerts);
	st->req = st->resp = st->alerts = NULL;
	st->json_bytes = 0;
	if (st->server_hello && (v = tls_version_name(st->version)))
		snprintf(e->version, sizeof(e->version), "%s", v);
	json_object_set_new(entry_fields_rw(e), "established", json_boolean(done));
	if (done) {
		e->response_end_ns = ts;
		if (e->request_ts_ns && ts >= e->request_ts_ns)
			json_object_set_new(entry_fields_rw(e), "handshake_ms",
					    json_real((double)(ts - e->request_ts_ns) / 1e6));
	}
	e->request_size = st->s[TCP_DIR_C2S].bytes;
	e->response_size = st->s[TCP_DIR_S2C].bytes;
	if (!e->request_ts_ns)
		e->missing = ENTRY_MISSING_REQUEST;
	else if (!st->client_hello)
		e->missing = ENTRY_INCOMPLETE_REQUEST;
	else if (!e->response_ts_ns)
		e->missing = ENTRY_MISSING_RESPONSE;
	else if (!done && !st->failed)
		e->missing = ENTRY_INCOMPLETE_RESPONSE;
	/* Handshake messages lost in a gap: what they said is not in the entry. */
	else if (st->s[TCP_DIR_C2S].hs_lost)
		e->missing = ENTRY_INCOMPLETE_REQUEST;
	else if (st->s[TCP_DIR_S2C].hs_lost)
		e->missing = ENTRY_INCOMPLETE_RESPONSE;
	/* A ServerHello without its ClientHello and no loss: the capture began between them. */
	if (e->missing == ENTRY_MISSING_REQUEST && !st->gapped)
		e->missing_reason = ENTRY_REASON_UNSOLICITED;
	else if (e->missing)
		e->missing_reason = st->gapped	    ? ENTRY_REASON_GAP
				    : st->malformed ? ENTRY_REASON_PARSE_ERROR
				    : why	    ? why
						    : ENTRY_REASON_CLOSED;
	conn_counter_add(st->c, TLS_COUNTER_HANDSHAKES, 1);
	conn_emit(st->c, e);
}

/* TLS 1.2: both sides' Finished came. */
static void check_done(struct tls *st)
{
	const struct side *c = &st->s[TCP_DIR_C2S], *s = &st->s[TCP_DIR_S2C];

	if (!st->tls13 && st->server_hello && c->finished && s->finished)
		emit(st, true, ENTRY_REASON_NONE,
		     c->finished_ts > s->finished_ts ? c->finished_ts : s->finished_ts);
}

static void set_json(struct tls *st, json_t *obj, const char *key, json_t *v, size_t weight)
{
	if (obj && v) {
		json_object_set_new(obj, key, v);
		st->json_bytes += weight;
	} else {
		json_decref(v);
	}
}

/* ---- handshake messages ---- */

static void client_message(struct tls *st, uint8_t type, const uint8_t *p, size_t n, bool cut,
			   uint64_t ts)
{
	struct entry *e = entry_of(st);
	struct tls_client_hello *ch;
	const char *why = "message longer than floe keeps";

	if (!e)
		return;
	switch (type) {
	case HS_CLIENT_HELLO:
		if (st->client_hello) /* the second one, after a HelloRetryRequest */
			return;
		st->client_hello = true;
		e->request_end_ns = ts;
		ch = malloc(sizeof(*ch));
		if (!ch)
			return;
		if (!cut && !tls_client_hello_parse(p, n, ch, &why)) {
			json_decref(st->req);
			st->req = tls_client_hello_json(ch);
			st->json_bytes += 1024 + 48 * ch->n_ciphers;
		} else {
			conn_counter_add(st->c, TLS_COUNTER_MALFORMED, 1);
			conn_count_parse_error(st->c);
			json_decref(st->req);
			st->req = json_pack("{s:s}", "error", why);
		}
		free(ch);
		break;
	case HS_CERTIFICATE: /* the client's own, asked for by the server (TLS 1.2) */
		if (!st->req)
			st->req = json_object();
		set_json(st, st->req, "certificate", tls_certificate_json(p, n, cut), 1024);
		break;
	}
}

static void server_hello(struct tls *st, const uint8_t *p, size_t n, bool cut, uint64_t ts)
{
	struct tls_server_hello sh;
	const char *why = "message longer than floe keeps", *name;
	json_t *r = resp_of(st);
	char hex[8];

	if (!st->e->response_ts_ns)
		st->e->response_ts_ns = ts;
	if (cut || tls_server_hello_parse(p, n, &sh, &why)) {
		conn_counter_add(st->c, TLS_COUNTER_MALFORMED, 1);
		conn_count_parse_error(st->c);
		set_json(st, r, "error", json_string(why), 64);
		return;
	}
	if (sh.version == 0x0304)
		st->tls13 = true;
	if (sh.hello_retry) {
		st->hello_retry = true;
		set_json(st, r, "hello_retry", json_true(), 32);
		return;
	}
	if (st->server_hello)
		return;
	st->server_hello = true;
	st->version = sh.version;
	name = tls_version_name(sh.version);
	snprintf(hex, sizeof(hex), "0x%04x", sh.version);
	set_json(st, r, "version", json_string(name ? name : hex), 32);
	name = tls_cipher_name(sh.cipher);
	snprintf(hex, sizeof(hex), "0x%04x", sh.cipher);
	set_json(st, r, "cipher", json_string(name ? name : hex), 64);
	if (sh.alpn)
		set_json(st, r, "alpn", tls_alpn_string(sh.alpn, sh.alpn_len), 64);
	/* TLS 1.3 resumes with a PSK; TLS 1.2's answer comes with the server's next messages
	 * (ServerHelloDone: a full handshake; ChangeCipherSpec without it: resumed). */
	if (st->tls13)
		set_json(st, r, "resumed", json_boolean(sh.psk), 32);
}

static void server_message(struct tls *st, uint8_t type, const uint8_t *p, size_t n, bool cut,
			   uint64_t ts)
{
	if (!entry_of(st))
		return;
	switch (type) {
	case HS_SERVER_HELLO:
		server_hello(st, p, n, cut, ts);
		break;
	case HS_CERTIFICATE:
		if (!st->tls13)
			set_json(st, resp_of(st), "certificate", tls_certificate_json(p, n, cut),
				 1024);
		break;
	case HS_CERTIFICATE_REQUEST:
		set_json(st, resp_of(st), "client_certificate_requested", json_true(), 32);
		break;
	case HS_SERVER_HELLO_DONE:
		st->full_handshake = true;
		if (!st->tls13)
			set_json(st, resp_of(st), "resumed", json_false(), 32);
		break;
	case HS_NEW_SESSION_TICKET:
		set_json(st, resp_of(st), "new_session_ticket", json_true(), 32);
		break;
	}
}

/* Gather handshake bytes of dir into messages (they may span records, records segments). */
static void hs_feed(struct tls *st, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct side *s = &st->s[dir];

	while (n && !st->emitted) {
		size_t k;

		if (s->hs_hdr_got < HS_HDR) {
			if (!s->hs_hdr_got)
				s->hs_ts = ts;
			s->hs_hdr[s->hs_hdr_got++] = *p++;
			n--;
			if (s->hs_hdr_got < HS_HDR)
				continue;
			s->hs_need = be24_at(s->hs_hdr + 1);
			s->hs_got = s->hs_len = 0;
			k = s->hs_need < TLS_HS_KEEP ? s->hs_need : TLS_HS_KEEP;
			if (k > s->hs_cap) {
				uint8_t *b = realloc(s->hs, k);

				if (b) {
					s->hs = b;
					s->hs_cap = k;
				}
			}
		} else {
			k = s->hs_need - s->hs_got < n ? s->hs_need - s->hs_got : n;
			if (s->hs_len < s->hs_cap) {
				size_t keep = s->hs_cap - s->hs_len < k ? s->hs_cap - s->hs_len : k;

				memcpy(s->hs + s->hs_len, p, keep);
				s->hs_len += keep;
			}
			s->hs_got += k;
			p += k;
			n -= k;
		}
		if (s->hs_hdr_got == HS_HDR && s->hs_got == s->hs_need) {
			bool cut = s->hs_len < s->hs_need;

			if (cut)
				conn_counter_add(st->c, TLS_COUNTER_MESSAGES_CUT, 1);
			s->hs_hdr_got = 0;
			if (dir == TCP_DIR_C2S)
				client_message(st, s->hs_hdr[0], s->hs, s->hs_len, cut, s->hs_ts);
			else
				server_message(st, s->hs_hdr[0], s->hs, s->hs_len, cut, s->hs_ts);
			if (s->hs_cap > 16384) { /* a large message is rare: do not hold on to it */
				free(s->hs);
				s->hs = NULL;
				s->hs_cap = 0;
			}
		}
	}
}

static void on_alert(struct tls *st, enum tcp_dir dir, uint8_t level, uint8_t code, uint64_t ts)
{
	const char *name = tls_alert_name(code);
	char unknown[16];
	json_t *a;

	if (!entry_of(st))
		return;
	snprintf(unknown, sizeof(unknown), "unknown_%u", code);
	if (!st->alerts)
		st->alerts = json_array();
	if (st->alerts && json_array_size(st->alerts) < TLS_ALERTS_MAX) {
		a = json_pack("{s:s, s:s, s:s, s:i}", "from",
			      dir == TCP_DIR_C2S ? "client" : "server", "level",
			      level == 1   ? "warning"
			      : level == 2 ? "fatal"
					   : "unknown",
			      "description", name ? name : unknown, "code", code);
		if (a && !json_array_append_new(st->alerts, a))
			st->json_bytes += 128;
	}
	if (level != 2)
		return;
	/* A fatal alert ends the handshake: the server's may be its only answer. */
	st->failed = true;
	if (dir == TCP_DIR_S2C && !st->server_hello) {
		if (!st->e->response_ts_ns)
			st->e->response_ts_ns = ts;
		set_json(st, resp_of(st), "alert", json_string(name ? name : unknown), 64);
	}
	emit(st, false, ENTRY_REASON_NONE, ts);
}

/* A record header of dir: what its type says before its body comes. */
static void on_record(struct tls *st, enum tcp_dir dir, uint8_t type, size_t len, uint64_t ts)
{
	struct side *s = &st->s[dir];
	/* TLS 1.3 hellos stay in clear after a (compatibility) CCS; TLS 1.2 encrypts after it. */
	bool encrypted = s->ccs && !st->tls13;

	s->bytes += REC_HDR + len;
	switch (type) {
	case CT_CHANGE_CIPHER_SPEC:
		s->ccs = true;
		if (dir == TCP_DIR_S2C && st->server_hello && !st->tls13 && !st->full_handshake)
			set_json(st, resp_of(st), "resumed", json_true(), 32);
		break;
	case CT_HANDSHAKE:
		if (encrypted) {
			if (!s->finished) {
				s->finished = true;
				s->finished_ts = ts;
				check_done(st);
			}
		} else if (entry_of(st) && dir == TCP_DIR_C2S && !st->e->request_ts_ns) {
			st->e->request_ts_ns = ts;
		}
		break;
	case CT_APPLICATION_DATA:
		/* TLS 1.3: the client's first encrypted record after the ServerHello is its
		 * Finished (early data comes before the ServerHello). */
		if (dir == TCP_DIR_C2S && st->tls13 && st->server_hello)
			emit(st, true, ENTRY_REASON_NONE, ts);
		break;
	case CT_ALERT:
		/* In clear an alert is 2 bytes; encrypted it carries a MAC or tag too. */
		s->alert_clear = len == 2 && !encrypted;
		s->alert_got = 0;
		if (!s->alert_clear)
			conn_counter_add(st->c, TLS_COUNTER_ENCRYPTED_ALERTS, 1);
		break;
	}
}

/* Body bytes of dir's current record. */
static void on_body(struct tls *st, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct side *s = &st->s[dir];

	if (s->type == CT_HANDSHAKE && !(s->ccs && !st->tls13) && !s->hs_lost) {
		hs_feed(st, dir, p, n, ts);
	} else if (s->type == CT_ALERT && s->alert_clear) {
		while (n-- && s->alert_got < 2)
			s->alert[s->alert_got++] = *p++;
		if (s->alert_got == 2) {
			s->alert_clear = false;
			on_alert(st, dir, s->alert[0], s->alert[1], ts);
		}
	}
}

/* ---- the dissector ---- */

/* Can dir still send handshake messages in clear? Not after its CCS in TLS 1.2, nor after
 * the ServerHello in TLS 1.3 (the rest of the handshake is encrypted). */
static bool clear_expected(const struct tls *st, enum tcp_dir dir)
{
	return !(st->s[dir].ccs && !st->tls13) && !(st->tls13 && st->server_hello);
}

static void *tls_open(struct conn *c, void *handover)
{
	struct tls *st = calloc(1, sizeof(*st));

	(void)handover;
	if (st)
		st->c = c;
	return st;
}

static size_t tls_parse(void *vst, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			uint64_t ts, uint64_t ts_last)
{
	struct tls *st = vst;
	struct side *s = &st->s[dir];
	size_t used = 0;

	(void)ts_last;
	st->c = c;
	while (used < n && !st->emitted) {
		const uint8_t *q = p + used;
		size_t k = n - used, take;

		if (s->resync) {
			bool found;
			size_t skip = lp_resync(q, k, record_start_check, NULL, SIZE_MAX, &found);

			used += skip;
			if (!found)
				break;
			s->resync = false;
			continue;
		}
		if (!s->left) {
			if (k < REC_HDR)
				break;
			if (!record_header_ok(q)) {
				/* Not a record where one should start: not TLS any more, or lost.
				 */
				conn_counter_add(c, TLS_COUNTER_MALFORMED, 1);
				conn_count_parse_error(c);
				s->resync = true;
				if (clear_expected(st, dir)) {
					s->hs_lost = true;
					st->malformed = true;
				}
				continue;
			}
			s->type = q[0];
			s->left = be16_at(q + 3);
			used += REC_HDR;
			on_record(st, dir, s->type, s->left, ts);
			continue;
		}
		take = k < s->left ? k : s->left;
		on_body(st, dir, q, take, ts);
		used += take;
		s->left -= (uint32_t)take;
	}
	/* After the handshake every byte is skipped: the rest is encrypted. */
	return st->emitted ? n : used;
}

static void tls_gap(void *vst, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct tls *st = vst;
	struct side *s = &st->s[dir];

	(void)ts;
	st->c = c;
	if (st->emitted || !missing || s->resync)
		return;
	if (missing <= s->left) {
		/* Inside the current record: what it held is lost, the framing is not. */
		s->left -= (uint32_t)missing;
		if (s->type == CT_HANDSHAKE && clear_expected(st, dir)) {
			s->hs_lost = true;
			st->gapped = true;
		}
		s->alert_clear = false;
		return;
	}
	s->left = 0;
	s->resync = true;
	if (clear_expected(st, dir)) {
		s->hs_lost = true;
		st->gapped = true;
	}
	conn_counter_add(c, TLS_COUNTER_RESYNCS, 1);
}

static void tls_close(void *vst, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct tls *st = vst;

	st->c = c;
	emit(st, false, conn_end_reason(why), ts);
}

static void tls_free(void *vst)
{
	struct tls *st = vst;

	if (!st)
		return;
	entry_free(st->e);
	json_decref(st->req);
	json_decref(st->resp);
	json_decref(st->alerts);
	free(st->s[0].hs);
	free(st->s[1].hs);
	free(st);
}

/*
 * For the engine's memory budget: the struct, the message buffers (TLS_HS_KEEP at most per
 * direction) and, until it is emitted, the entry and an estimate of its JSON (set_json's
 * weights: about 1 KiB per hello and certificate plus the cipher names).
 */
static size_t tls_mem(const void *vst)
{
	const struct tls *st = vst;

	return sizeof(*st) + st->s[0].hs_cap + st->s[1].hs_cap +
	       (st->e ? sizeof(struct entry) + 256 + st->json_bytes : 0);
}

const struct dissector dissector_tls = {
    .name = "tls",
    .protocol = "tls", /* its descriptor: lib/core/protocols/tls.c */
    .detect = tls_detect,
    .open = tls_open,
    .parse = tls_parse,
    .gap = tls_gap,
    .close = tls_close,
    .free = tls_free,
    .counters = tls_counters,
    .mem = tls_mem,
};
