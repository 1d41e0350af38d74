// SPDX-License-Identifier: Apache-2.0
/*
 * AMQP 0-9-1 dissector. The frame layer, content assembly, pairing and entries are here;
 * method arguments, content header properties and field tables are decoded by librabbitmq
 * (amqp_decode_method, amqp_decode_properties), which floe only hands payloads it has
 * bounded first: librabbitmq recurses into nested tables without a limit (a ~1 MB frame of
 * nested tables overflows the stack) and allocates ~40-600 bytes per table value, so floe
 * walks every table before (depth AMQP_TABLE_DEPTH_MAX, AMQP_TABLE_VALUES_MAX values) and
 * decodes frames up to AMQP_DECODE_MAX only. See docs/amqp.md.
 *
 * Per connection: up to AMQP_CHANNELS_MAX channels, each with the synchronous requests of
 * either side waiting for their reply (FIFO), the deliveries waiting for the consumer's
 * settlement and the publishes waiting for the broker's confirm (both by tag), and per sender
 * the content (header + body frames) being assembled.
 */
#include "dissect/amqp.h"
#include "entry/hash.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "dissect/byte_reader.h"
#include "dissect/framing.h"
#include "dissect/http_common.h"
#include "dissect/pending.h"

#define FRAME_METHOD	1
#define FRAME_HEADER	2
#define FRAME_BODY	3
#define FRAME_HEARTBEAT 8
#define FRAME_END	0xce
#define FRAME_HEAD_LEN	7u /* type, channel, size */
#define FRAME_OVERHEAD	8u /* head and frame end */
/* A frame: type, channel, a 4-byte size, the payload, the frame-end octet (AMQP 0-9-1 4.2.3). */
static const struct lp_format amqp_frame_format = {
    .hdr_len = FRAME_HEAD_LEN, .len_off = 3, .len_size = 4, .trailer_len = 1};
/* class, weight, body size, property flags */
#define CONTENT_HEAD_LEN 14u

#define M(cls, meth)  (((uint32_t)(cls) << 16) | (uint32_t)(meth))
#define CLASS_OF(id)  ((unsigned)((id) >> 16))
#define METHOD_OF(id) ((unsigned)((id)&0xffff))

/* Methods this file treats specially (the others go by the tables below). */
#define CONNECTION_START    M(10, 10)
#define CONNECTION_START_OK M(10, 11)
#define CONNECTION_TUNE	    M(10, 30)
#define CONNECTION_TUNE_OK  M(10, 31)
#define CONNECTION_CLOSE    M(10, 50)
#define CONNECTION_CLOSE_OK M(10, 51)
#define CHANNEL_OPEN	    M(20, 10)
#define CHANNEL_CLOSE	    M(20, 40)
#define CHANNEL_CLOSE_OK    M(20, 41)
#define BASIC_CONSUME	    M(60, 20)
#define BASIC_CONSUME_OK    M(60, 21)
#define BASIC_CANCEL	    M(60, 30)
#define BASIC_CANCEL_OK	    M(60, 31)
#define BASIC_PUBLISH	    M(60, 40)
#define BASIC_RETURN	    M(60, 50)
#define BASIC_DELIVER	    M(60, 60)
#define BASIC_GET	    M(60, 70)
#define BASIC_GET_OK	    M(60, 71)
#define BASIC_GET_EMPTY	    M(60, 72)
#define BASIC_ACK	    M(60, 80)
#define BASIC_REJECT	    M(60, 90)
#define BASIC_NACK	    M(60, 120)
#define CONFIRM_SELECT	    M(85, 10)
#define CONFIRM_SELECT_OK   M(85, 11)

/* dissector_amqp.counters, in this order. */
enum {
	CNT_HEARTBEATS,
	CNT_METHOD_FRAMES,
	CNT_HEADER_FRAMES,
	CNT_BODY_FRAMES,
	CNT_FRAME_ERRORS,
	CNT_DECODE_ERRORS,
	CNT_ORPHAN_FRAMES,
	CNT_CHANNELS_EVICTED,
	CNT_RESYNCS, /* times the framing was lost (gap, frame error) and searched for anew */
};

static const char *const amqp_counters[] = {
    "heartbeats",    "method_frames", "header_frames",	  "body_frames", "frame_errors",
    "decode_errors", "orphan_frames", "channels_evicted", "resyncs",	   NULL,
};

enum item_kind {
	K_SYNC = 0, /* a synchronous request and its reply */
	K_ASYNC,    /* a method without a reply */
	K_PUBLISH,
	K_DELIVER,
	K_RETURN,
	K_GET,	  /* a Basic.Get answered by Get-Ok, waiting for its settlement */
	K_SETTLE, /* an ack/nack/reject whose delivery (or publish) is unknown */
};

/* One entry in the making. */
struct item {
	struct pending_link link;
	struct entry *e;
	json_t *req, *resp; /* borrowed: e->fields holds them */
	uint32_t method;    /* the request's method */
	uint64_t tag;	    /* delivery tag (deliveries, gets) or publish sequence (confirms) */
	uint64_t order;	    /* arrival order, for eviction */
	size_t body_kept;   /* body bytes the entry holds (bounds held items) */
	enum item_kind kind;
	enum tcp_dir sender; /* who sent the request */
	uint16_t channel;
	bool no_wait;
	bool no_ack; /* Basic.Get with no-ack */
	bool reply_gap; /* a sync request whose reply may have been in a gap of the replier's bytes */
};

/* A content (header and body frames) being assembled for the method that announced it. */
struct content {
	struct item *it; /* NULL: none in progress */
	json_t *target;	 /* the request or response object that gets properties and body */
	bool header_seen;
	bool properties_undecoded;
	uint64_t body_size, got, gap_bytes;
	struct http_body body;
	char encoding[64]; /* content_encoding, for http_body_to_json */
};

struct consumer {
	uint64_t hash; /* of the consumer tag */
	bool used, no_ack;
};

struct chan {
	uint16_t id;
	uint64_t last_use;
	struct pending_queue sync[2];  /* synchronous requests by their sender, waiting for the reply */
	struct pending_queue held;     /* server's deliveries and get-oks waiting for the consumer */
	struct pending_queue confirms; /* client's publishes waiting for the broker's ack/nack */
	uint64_t held_gone;   /* delivery tags up to this were given up (their acks are dropped) */
	uint64_t confirms_gone;
	bool confirm_mode;
	uint64_t publish_seq;
	/* A gap in the client's bytes may have held publishes: the count from seq_at_gap on is
	 * too low by an unknown number, found from the broker's next ack past it. */
	bool seq_uncertain;
	uint64_t seq_at_gap;
	struct consumer consumers[AMQP_CONSUMERS_MAX];
	struct content content[2]; /* by sender */
};

enum rx_state {
	RX_FRAME = 0, /* at a frame boundary */
	RX_BODY,      /* in a body frame's payload */
	RX_SKIP,      /* in a payload that is not kept */
	RX_END,	      /* the frame-end octet is next */
	RX_RESYNC,    /* lost: looking for the next frame */
};

/* One direction's frame reader. */
struct rx {
	enum rx_state state;
	bool started;
	uint16_t channel;
	uint8_t type;
	uint64_t left; /* payload bytes of the current frame still to come */
	uint32_t size;
	/* Resynchronised, and no method frame since: a body frame for no content is more likely
	 * a false start than a frame (its payload, unchecked, could hide what follows). */
	bool unproven;
};

struct amqp {
	struct conn *c;
	struct chan *ch[AMQP_CHANNELS_MAX];
	struct rx rx[2];   /* by the engine's direction */
	unsigned held;	   /* items in all channels' held and confirms lists */
	size_t held_bytes; /* their kept body bytes */
	uint64_t order, clock;
	uint32_t frame_max; /* negotiated (Tune-Ok, else Tune); 0: unknown */
	char version[8];
	bool guessed_side; /* the engine guessed the client from ports (mid-stream) */
	bool side_known;
	bool swapped; /* the engine's client is the AMQP server */
	amqp_pool_t pool;
};

/* ---- small helpers ---- */

static uint64_t hash_bytes(const void *p, size_t n)
{
	return fnv1a64(FNV1A64_INIT, p, n);
}

static enum tcp_dir side_of(const struct amqp *st, enum tcp_dir edir)
{
	return st->swapped ? (enum tcp_dir) !edir : edir;
}

static json_t *u64_json(uint64_t v)
{
	if (v > (uint64_t)INT64_MAX) {
		char s[24];

		snprintf(s, sizeof(s), "%" PRIu64, v);
		return json_string(s);
	}
	return json_integer((json_int_t)v);
}

static json_t *real_json(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

static void set_int(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, u64_json(v));
}

/* A string argument, cut at max bytes (--body-max). */
static void set_bytes_text(json_t *o, const char *key, amqp_bytes_t b, size_t max)
{
	entry_set_text(o, key, b.bytes, b.len < max ? b.len : max);
}

static void set_flag(json_t *flags, const char *key, amqp_boolean_t v)
{
	json_object_set_new(flags, key, json_boolean(v));
}

/* ---- names ---- */

/* "AMQP_BASIC_GET_OK_METHOD" -> "Basic.Get-Ok"; "60.999" when librabbitmq has no name. */
static void method_name(uint32_t id, char *out, size_t size)
{
	const char *n = amqp_method_name(id);
	size_t o = 0, i;
	bool word_start = true, dot = false;

	if (id == M(10, 70) || id == M(10, 71)) /* newer than librabbitmq 0.11 */
		n = id == M(10, 70) ? "AMQP_CONNECTION_UPDATE_SECRET_METHOD"
				    : "AMQP_CONNECTION_UPDATE_SECRET_OK_METHOD";
	if (!n || strncmp(n, "AMQP_", 5) || strlen(n) < 13) {
		snprintf(out, size, "%u.%u", CLASS_OF(id), METHOD_OF(id));
		return;
	}
	n += 5;
	for (i = 0; n[i] && o + 1 < size; i++) {
		char ch = n[i];

		if (!strcmp(n + i, "_METHOD"))
			break;
		if (ch == '_') {
			out[o++] = dot ? '-' : '.';
			dot = true;
			word_start = true;
			continue;
		}
		out[o++] = word_start ? ch : (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		word_start = false;
	}
	out[o] = 0;
}

/* "PRECONDITION_FAILED" for 406; NULL when the code has no name. */
static const char *reply_name(unsigned code)
{
	const char *n;

	if (code < 200)
		return NULL;
	n = amqp_constant_name((int)code);
	if (!n || strncmp(n, "AMQP_", 5))
		return NULL;
	return n + 5;
}

/* ---- bounds for librabbitmq: field tables are walked before it sees them ---- */

static int table_walk(const uint8_t *p, size_t end, size_t *off, unsigned depth, unsigned *values);

static int value_walk(const uint8_t *p, size_t end, size_t *off, unsigned depth, unsigned *values)
{
	uint64_t w;

	if (++*values > AMQP_TABLE_VALUES_MAX || *off >= end)
		return -1;
	switch (p[(*off)++]) {
	case 't':
	case 'b':
	case 'B':
		w = 1;
		break;
	case 's':
	case 'u':
		w = 2;
		break;
	case 'I':
	case 'i':
	case 'f':
		w = 4;
		break;
	case 'l':
	case 'L':
	case 'd':
	case 'T':
		w = 8;
		break;
	case 'D':
		w = 5;
		break;
	case 'V':
		w = 0;
		break;
	case 'S':
	case 'x':
		if (end - *off < 4)
			return -1;
		w = 4 + (uint64_t)be32_at(p + *off);
		break;
	case 'F':
		return table_walk(p, end, off, depth + 1, values);
	case 'A': {
		size_t aend;

		if (depth + 1 > AMQP_TABLE_DEPTH_MAX || end - *off < 4)
			return -1;
		w = be32_at(p + *off);
		*off += 4;
		if (w > end - *off)
			return -1;
		aend = *off + (size_t)w;
		while (*off < aend)
			if (value_walk(p, aend, off, depth + 1, values))
				return -1;
		return 0;
	}
	default:
		return -1;
	}
	if (w > end - *off)
		return -1;
	*off += (size_t)w;
	return 0;
}

static int table_walk(const uint8_t *p, size_t end, size_t *off, unsigned depth, unsigned *values)
{
	size_t tend;
	uint32_t len;

	if (depth > AMQP_TABLE_DEPTH_MAX || end - *off < 4)
		return -1;
	len = be32_at(p + *off);
	*off += 4;
	if (len > end - *off)
		return -1;
	tend = *off + len;
	while (*off < tend) {
		uint8_t klen = p[(*off)++];

		if (klen > tend - *off)
			return -1;
		*off += klen;
		if (value_walk(p, tend, off, depth, values))
			return -1;
	}
	return 0;
}

/*
 * The arguments before the (only) field table of the methods that carry one: '1' an octet
 * (or a packed bit group), '2' a short, 's' a short string, 'T' the table.
 */
static const char *table_layout(uint32_t id)
{
	switch (id) {
	case CONNECTION_START:
		return "11T";
	case CONNECTION_START_OK:
		return "T";
	case M(40, 10): /* Exchange.Declare */
	case BASIC_CONSUME:
		return "2ss1T";
	case M(40, 30): /* Exchange.Bind */
	case M(40, 40): /* Exchange.Unbind */
	case M(50, 20): /* Queue.Bind */
		return "2sss1T";
	case M(50, 10): /* Queue.Declare */
		return "2s1T";
	case M(50, 50): /* Queue.Unbind */
		return "2sssT";
	default:
		return NULL;
	}
}

/* May librabbitmq decode these method arguments? (Its tables are bounded.) */
static bool args_bounded(uint32_t id, const uint8_t *p, size_t n)
{
	const char *l = table_layout(id);
	size_t off = 0;
	unsigned values = 0;

	for (; l && *l; l++) {
		switch (*l) {
		case '1':
		case '2':
			if (n - off < (size_t)(*l - '0'))
				return false;
			off += (size_t)(*l - '0');
			break;
		case 's':
			if (n - off < 1 || p[off] > n - off - 1)
				return false;
			off += 1u + p[off];
			break;
		case 'T':
			return table_walk(p, n, &off, 0, &values) == 0;
		}
	}
	return true;
}

/* The same for Basic content properties (p at the property flags). */
static bool properties_bounded(const uint8_t *p, size_t n)
{
	size_t off = 2;
	unsigned values = 0, i;
	uint16_t flags;

	if (n < 2)
		return false;
	flags = be16_at(p);
	/* Basic has 14 properties: no continuation word (librabbitmq would shift past 32 bits). */
	if (flags & 1)
		return false;
	if (!(flags & AMQP_BASIC_HEADERS_FLAG))
		return true;
	for (i = 0; i < 2; i++) {
		if (!(flags &
		      (i ? AMQP_BASIC_CONTENT_ENCODING_FLAG : AMQP_BASIC_CONTENT_TYPE_FLAG)))
			continue;
		if (n - off < 1 || p[off] > n - off - 1)
			return false;
		off += 1u + p[off];
	}
	return table_walk(p, n, &off, 0, &values) == 0;
}

/* ---- librabbitmq values to JSON ---- */

static json_t *table_json(const amqp_table_t *t, size_t max);

static json_t *field_json(const amqp_field_value_t *v, size_t max)
{
	switch (v->kind) {
	case AMQP_FIELD_KIND_BOOLEAN:
		return json_boolean(v->value.boolean);
	case AMQP_FIELD_KIND_I8:
		return json_integer(v->value.i8);
	case AMQP_FIELD_KIND_U8:
		return json_integer(v->value.u8);
	case AMQP_FIELD_KIND_I16:
		return json_integer(v->value.i16);
	case AMQP_FIELD_KIND_U16:
		return json_integer(v->value.u16);
	case AMQP_FIELD_KIND_I32:
		return json_integer(v->value.i32);
	case AMQP_FIELD_KIND_U32:
		return json_integer(v->value.u32);
	case AMQP_FIELD_KIND_I64:
		return json_integer(v->value.i64);
	case AMQP_FIELD_KIND_U64:
	case AMQP_FIELD_KIND_TIMESTAMP:
		return u64_json(v->value.u64);
	case AMQP_FIELD_KIND_F32:
		return real_json(v->value.f32);
	case AMQP_FIELD_KIND_F64:
		return real_json(v->value.f64);
	case AMQP_FIELD_KIND_DECIMAL:
		return real_json((double)v->value.decimal.value /
				 pow(10.0, (double)v->value.decimal.decimals));
	case AMQP_FIELD_KIND_UTF8:
		return entry_json_text(v->value.bytes.bytes,
				       v->value.bytes.len < max ? v->value.bytes.len : max);
	case AMQP_FIELD_KIND_BYTES:
		return entry_json_base64(v->value.bytes.bytes,
					 v->value.bytes.len < max ? v->value.bytes.len : max);
	case AMQP_FIELD_KIND_ARRAY: {
		json_t *a = json_array();
		int i;

		for (i = 0; a && i < v->value.array.num_entries; i++)
			json_array_append_new(a, field_json(&v->value.array.entries[i], max));
		return a;
	}
	case AMQP_FIELD_KIND_TABLE:
		return table_json(&v->value.table, max);
	default: /* VOID */
		return json_null();
	}
}

static json_t *table_json(const amqp_table_t *t, size_t max)
{
	json_t *o = json_object();
	int i;

	for (i = 0; o && i < t->num_entries; i++) {
		const amqp_table_entry_t *te = &t->entries[i];
		json_t *k = entry_json_text(te->key.bytes, te->key.len);

		if (k)
			json_object_set_new(o, json_string_value(k), field_json(&te->value, max));
		json_decref(k);
	}
	return o;
}

static void set_table(json_t *o, const char *key, const amqp_table_t *t, size_t max)
{
	json_object_set_new(o, key, table_json(t, max));
}

/* The user name of a SASL PLAIN ("\0user\0password") or AMQPLAIN (LOGIN) response; never
 * the password. */
static void set_sasl_user(json_t *o, amqp_bytes_t mech, amqp_bytes_t resp)
{
	const uint8_t *p = resp.bytes;
	size_t n = resp.len, i, off = 0;

	if (mech.len == 5 && !memcmp(mech.bytes, "PLAIN", 5)) {
		const uint8_t *a = memchr(p, 0, n), *b;

		if (!a)
			return;
		a++;
		b = memchr(a, 0, n - (size_t)(a - p));
		if (b)
			entry_set_text(o, "user", a, (size_t)(b - a));
		return;
	}
	if (!(mech.len == 8 && !memcmp(mech.bytes, "AMQPLAIN", 8)))
		return;
	/* A field table without its length: key, 'S', long string; LOGIN is the user. */
	for (i = 0; i < 4 && off < n; i++) {
		uint8_t klen = p[off];
		size_t koff = off + 1;
		uint32_t vlen;

		if (klen + 6u > n - off || p[koff + klen] != 'S')
			return;
		vlen = be32_at(p + koff + klen + 1);
		off = koff + klen + 5;
		if (vlen > n - off)
			return;
		if (klen == 5 && !memcmp(p + koff, "LOGIN", 5)) {
			entry_set_text(o, "user", p + off, vlen);
			return;
		}
		off += vlen;
	}
}

static void set_close(json_t *o, uint16_t code, amqp_bytes_t text, uint16_t cls, uint16_t meth,
		      size_t max)
{
	const char *rn = reply_name(code);
	char name[64];

	json_object_set_new(o, "reply_code", json_integer(code));
	if (rn)
		json_object_set_new(o, "reply_name", json_string(rn));
	set_bytes_text(o, "reply_text", text, max);
	json_object_set_new(o, "class_id", json_integer(cls));
	json_object_set_new(o, "method_id", json_integer(meth));
	if (cls) {
		method_name(M(cls, meth), name, sizeof(name));
		json_object_set_new(o, "failed_method", json_string(name));
	}
}

/* The decoded arguments of method id onto o (flags into a "flags" object). */
static void args_json(json_t *o, uint32_t id, const void *d, size_t max)
{
	json_t *f = json_object();

	switch (id) {
	case CONNECTION_START: {
		const amqp_connection_start_t *m = d;

		json_object_set_new(o, "version_major", json_integer(m->version_major));
		json_object_set_new(o, "version_minor", json_integer(m->version_minor));
		set_table(o, "server_properties", &m->server_properties, max);
		set_bytes_text(o, "mechanisms", m->mechanisms, max);
		set_bytes_text(o, "locales", m->locales, max);
		break;
	}
	case CONNECTION_START_OK: {
		const amqp_connection_start_ok_t *m = d;

		set_table(o, "client_properties", &m->client_properties, max);
		set_bytes_text(o, "mechanism", m->mechanism, max);
		set_sasl_user(o, m->mechanism, m->response);
		json_object_set_new(o, "response_size", json_integer((json_int_t)m->response.len));
		set_bytes_text(o, "locale", m->locale, max);
		break;
	}
	case M(10, 20): /* Connection.Secure */
		json_object_set_new(
		    o, "challenge_size",
		    json_integer((json_int_t)((const amqp_connection_secure_t *)d)->challenge.len));
		break;
	case M(10, 21):
		json_object_set_new(
		    o, "response_size",
		    json_integer(
			(json_int_t)((const amqp_connection_secure_ok_t *)d)->response.len));
		break;
	case CONNECTION_TUNE:
	case CONNECTION_TUNE_OK: {
		/* Tune and Tune-Ok have the same layout. */
		const amqp_connection_tune_t *m = d;

		json_object_set_new(o, "channel_max", json_integer(m->channel_max));
		json_object_set_new(o, "frame_max", json_integer(m->frame_max));
		json_object_set_new(o, "heartbeat", json_integer(m->heartbeat));
		break;
	}
	case M(10, 40): {
		const amqp_connection_open_t *m = d;

		set_bytes_text(o, "virtual_host", m->virtual_host, max);
		break;
	}
	case CONNECTION_CLOSE: {
		const amqp_connection_close_t *m = d;

		set_close(o, m->reply_code, m->reply_text, m->class_id, m->method_id, max);
		break;
	}
	case M(10, 60):
		set_bytes_text(o, "reason", ((const amqp_connection_blocked_t *)d)->reason, max);
		break;
	case M(20, 20):
	case M(20, 21):
		set_flag(f, "active", ((const amqp_channel_flow_t *)d)->active);
		break;
	case CHANNEL_CLOSE: {
		const amqp_channel_close_t *m = d;

		set_close(o, m->reply_code, m->reply_text, m->class_id, m->method_id, max);
		break;
	}
	case M(30, 10): {
		const amqp_access_request_t *m = d;

		set_bytes_text(o, "realm", m->realm, max);
		set_flag(f, "exclusive", m->exclusive);
		set_flag(f, "passive", m->passive);
		set_flag(f, "active", m->active);
		set_flag(f, "write", m->write);
		set_flag(f, "read", m->read);
		break;
	}
	case M(40, 10): {
		const amqp_exchange_declare_t *m = d;

		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "type", m->type, max);
		set_flag(f, "passive", m->passive);
		set_flag(f, "durable", m->durable);
		set_flag(f, "auto_delete", m->auto_delete);
		set_flag(f, "internal", m->internal);
		set_flag(f, "no_wait", m->nowait);
		set_table(o, "arguments", &m->arguments, max);
		break;
	}
	case M(40, 20): {
		const amqp_exchange_delete_t *m = d;

		set_bytes_text(o, "exchange", m->exchange, max);
		set_flag(f, "if_unused", m->if_unused);
		set_flag(f, "no_wait", m->nowait);
		break;
	}
	case M(40, 30):
	case M(40, 40): {
		/* Bind and Unbind have the same layout. */
		const amqp_exchange_bind_t *m = d;

		set_bytes_text(o, "destination", m->destination, max);
		set_bytes_text(o, "source", m->source, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		set_flag(f, "no_wait", m->nowait);
		set_table(o, "arguments", &m->arguments, max);
		break;
	}
	case M(50, 10): {
		const amqp_queue_declare_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_flag(f, "passive", m->passive);
		set_flag(f, "durable", m->durable);
		set_flag(f, "exclusive", m->exclusive);
		set_flag(f, "auto_delete", m->auto_delete);
		set_flag(f, "no_wait", m->nowait);
		set_table(o, "arguments", &m->arguments, max);
		break;
	}
	case M(50, 11): {
		const amqp_queue_declare_ok_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		json_object_set_new(o, "message_count", json_integer(m->message_count));
		json_object_set_new(o, "consumer_count", json_integer(m->consumer_count));
		break;
	}
	case M(50, 20): {
		const amqp_queue_bind_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		set_flag(f, "no_wait", m->nowait);
		set_table(o, "arguments", &m->arguments, max);
		break;
	}
	case M(50, 30): {
		const amqp_queue_purge_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_flag(f, "no_wait", m->nowait);
		break;
	}
	case M(50, 31):
	case M(50, 41):
		/* Purge-Ok and Delete-Ok: a message count. */
		json_object_set_new(
		    o, "message_count",
		    json_integer(((const amqp_queue_purge_ok_t *)d)->message_count));
		break;
	case M(50, 40): {
		const amqp_queue_delete_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_flag(f, "if_unused", m->if_unused);
		set_flag(f, "if_empty", m->if_empty);
		set_flag(f, "no_wait", m->nowait);
		break;
	}
	case M(50, 50): {
		const amqp_queue_unbind_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		set_table(o, "arguments", &m->arguments, max);
		break;
	}
	case M(60, 10): {
		const amqp_basic_qos_t *m = d;

		json_object_set_new(o, "prefetch_size", json_integer(m->prefetch_size));
		json_object_set_new(o, "prefetch_count", json_integer(m->prefetch_count));
		set_flag(f, "global", m->global);
		break;
	}
	case BASIC_CONSUME: {
		const amqp_basic_consume_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_bytes_text(o, "consumer_tag", m->consumer_tag, max);
		set_flag(f, "no_local", m->no_local);
		set_flag(f, "no_ack", m->no_ack);
		set_flag(f, "exclusive", m->exclusive);
		set_flag(f, "no_wait", m->nowait);
		set_table(o, "arguments", &m->arguments, max);
		break;
	}
	case BASIC_CONSUME_OK:
	case BASIC_CANCEL_OK:
		set_bytes_text(o, "consumer_tag",
			       ((const amqp_basic_consume_ok_t *)d)->consumer_tag, max);
		break;
	case BASIC_CANCEL: {
		const amqp_basic_cancel_t *m = d;

		set_bytes_text(o, "consumer_tag", m->consumer_tag, max);
		set_flag(f, "no_wait", m->nowait);
		break;
	}
	case BASIC_PUBLISH: {
		const amqp_basic_publish_t *m = d;

		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		set_flag(f, "mandatory", m->mandatory);
		set_flag(f, "immediate", m->immediate);
		break;
	}
	case BASIC_RETURN: {
		const amqp_basic_return_t *m = d;
		const char *rn = reply_name(m->reply_code);

		json_object_set_new(o, "reply_code", json_integer(m->reply_code));
		if (rn)
			json_object_set_new(o, "reply_name", json_string(rn));
		set_bytes_text(o, "reply_text", m->reply_text, max);
		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		break;
	}
	case BASIC_DELIVER: {
		const amqp_basic_deliver_t *m = d;

		set_bytes_text(o, "consumer_tag", m->consumer_tag, max);
		set_int(o, "delivery_tag", m->delivery_tag);
		set_flag(f, "redelivered", m->redelivered);
		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		break;
	}
	case BASIC_GET: {
		const amqp_basic_get_t *m = d;

		set_bytes_text(o, "queue", m->queue, max);
		set_flag(f, "no_ack", m->no_ack);
		break;
	}
	case BASIC_GET_OK: {
		const amqp_basic_get_ok_t *m = d;

		set_int(o, "delivery_tag", m->delivery_tag);
		set_flag(f, "redelivered", m->redelivered);
		set_bytes_text(o, "exchange", m->exchange, max);
		set_bytes_text(o, "routing_key", m->routing_key, max);
		json_object_set_new(o, "message_count", json_integer(m->message_count));
		break;
	}
	case BASIC_ACK: {
		const amqp_basic_ack_t *m = d;

		set_int(o, "delivery_tag", m->delivery_tag);
		set_flag(f, "multiple", m->multiple);
		break;
	}
	case BASIC_REJECT: {
		const amqp_basic_reject_t *m = d;

		set_int(o, "delivery_tag", m->delivery_tag);
		set_flag(f, "requeue", m->requeue);
		break;
	}
	case M(60, 100):
	case M(60, 110):
		set_flag(f, "requeue", ((const amqp_basic_recover_t *)d)->requeue);
		break;
	case BASIC_NACK: {
		const amqp_basic_nack_t *m = d;

		set_int(o, "delivery_tag", m->delivery_tag);
		set_flag(f, "multiple", m->multiple);
		set_flag(f, "requeue", m->requeue);
		break;
	}
	case CONFIRM_SELECT:
		set_flag(f, "no_wait", ((const amqp_confirm_select_t *)d)->nowait);
		break;
	default:
		break;
	}
	if (f && json_object_size(f))
		json_object_set(o, "flags", f);
	json_decref(f);
}

static void pool_done(struct amqp *st)
{
	/* Keep a few pages for the next frame; give back what a large one needed. */
	if (st->pool.pages.num_blocks > 4)
		empty_amqp_pool(&st->pool);
	else
		recycle_amqp_pool(&st->pool);
}

/* The method of a method frame payload (p, n >= 4) as JSON: method, channel, arguments. */
static json_t *method_json(struct amqp *st, uint32_t id, uint16_t channel, enum tcp_dir sender,
			   const uint8_t *p, size_t n, bool whole)
{
	json_t *o = json_object();
	char name[64];
	void *dec = NULL;

	if (!o)
		return NULL;
	method_name(id, name, sizeof(name));
	json_object_set_new(o, "method", json_string(name));
	json_object_set_new(o, "channel", json_integer(channel));
	json_object_set_new(o, "sender", json_string(sender == TCP_DIR_C2S ? "client" : "server"));
	if (!whole) {
		json_object_set_new(o, "decode_error", json_string("frame too large to decode"));
		conn_counter_add(st->c, CNT_DECODE_ERRORS, 1);
		return o;
	}
	if (!amqp_method_name(id)) {
		if (id != M(10, 70) && id != M(10, 71))
			json_object_set_new(o, "decode_error", json_string("unknown method"));
		return o;
	}
	if (!args_bounded(id, p + 4, n - 4)) {
		json_object_set_new(o, "decode_error",
				    json_string("malformed or too deep field table"));
		conn_counter_add(st->c, CNT_DECODE_ERRORS, 1);
		return o;
	}
	if (amqp_decode_method(id, &st->pool, (amqp_bytes_t){n - 4, (void *)(p + 4)}, &dec) ||
	    !dec) {
		json_object_set_new(o, "decode_error", json_string("malformed arguments"));
		conn_counter_add(st->c, CNT_DECODE_ERRORS, 1);
	} else {
		args_json(o, id, dec, conn_body_max(st->c));
	}
	pool_done(st);
	return o;
}

/* Basic content properties (p at the property flags) onto target.properties. */
static void properties_json(struct amqp *st, struct content *ct, const uint8_t *p, size_t n)
{
	amqp_basic_properties_t *pr = NULL;
	size_t max = conn_body_max(st->c);
	json_t *o;

	if (!properties_bounded(p, n) ||
	    amqp_decode_properties(AMQP_BASIC_CLASS, &st->pool, (amqp_bytes_t){n, (void *)p},
				   (void **)&pr) ||
	    !pr) {
		ct->properties_undecoded = true;
		conn_counter_add(st->c, CNT_DECODE_ERRORS, 1);
		pool_done(st);
		return;
	}
	o = json_object();
	if (!o) {
		pool_done(st);
		return;
	}
	if (pr->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
		set_bytes_text(o, "content_type", pr->content_type, max);
	if (pr->_flags & AMQP_BASIC_CONTENT_ENCODING_FLAG) {
		size_t l = pr->content_encoding.len;

		set_bytes_text(o, "content_encoding", pr->content_encoding, max);
		if (l < sizeof(ct->encoding) && !memchr(pr->content_encoding.bytes, 0, l)) {
			memcpy(ct->encoding, pr->content_encoding.bytes, l);
			ct->encoding[l] = 0;
		}
	}
	if (pr->_flags & AMQP_BASIC_HEADERS_FLAG)
		set_table(o, "headers", &pr->headers, max);
	if (pr->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
		json_object_set_new(o, "delivery_mode", json_integer(pr->delivery_mode));
	if (pr->_flags & AMQP_BASIC_PRIORITY_FLAG)
		json_object_set_new(o, "priority", json_integer(pr->priority));
	if (pr->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)
		set_bytes_text(o, "correlation_id", pr->correlation_id, max);
	if (pr->_flags & AMQP_BASIC_REPLY_TO_FLAG)
		set_bytes_text(o, "reply_to", pr->reply_to, max);
	if (pr->_flags & AMQP_BASIC_EXPIRATION_FLAG)
		set_bytes_text(o, "expiration", pr->expiration, max);
	if (pr->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
		set_bytes_text(o, "message_id", pr->message_id, max);
	if (pr->_flags & AMQP_BASIC_TIMESTAMP_FLAG)
		set_int(o, "timestamp", pr->timestamp);
	if (pr->_flags & AMQP_BASIC_TYPE_FLAG)
		set_bytes_text(o, "type", pr->type, max);
	if (pr->_flags & AMQP_BASIC_USER_ID_FLAG)
		set_bytes_text(o, "user_id", pr->user_id, max);
	if (pr->_flags & AMQP_BASIC_APP_ID_FLAG)
		set_bytes_text(o, "app_id", pr->app_id, max);
	if (pr->_flags & AMQP_BASIC_CLUSTER_ID_FLAG)
		set_bytes_text(o, "cluster_id", pr->cluster_id, max);
	json_object_set_new(ct->target, "properties", o);
	pool_done(st);
}

/* ---- items and entries ---- */

static void item_free(struct item *it)
{
	if (!it)
		return;
	entry_free(it->e);
	free(it);
}

static struct item *item_new(struct amqp *st, enum item_kind kind, enum tcp_dir sender,
			     uint16_t channel, uint32_t method, json_t *req, uint64_t ts,
			     uint64_t ts_end, uint64_t wire)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it || !(it->e = conn_entry_new(st->c))) {
		free(it);
		json_decref(req);
		return NULL;
	}
	it->kind = kind;
	it->sender = sender;
	it->channel = channel;
	it->method = method;
	it->order = ++st->order;
	it->e->protocol = "amqp";
	if (req) {
		json_object_set_new(entry_fields_rw(it->e), "request", req);
		it->req = req;
		it->e->request_ts_ns = ts;
		it->e->request_end_ns = ts_end;
		it->e->request_size = wire;
	}
	return it;
}

static void item_response(struct item *it, json_t *resp, uint64_t ts, uint64_t ts_end,
			  uint64_t wire)
{
	if (!resp)
		return;
	json_object_set(entry_fields_rw(it->e), "response", resp);
	it->resp = resp;
	it->e->response_ts_ns = ts;
	it->e->response_end_ns = ts_end;
	it->e->response_size = wire;
}

static void item_emit(struct amqp *st, struct item *it, enum entry_missing missing,
		      enum entry_missing_reason why)
{
	struct entry *e = it->e;

	it->e = NULL;
	free(it);
	if (!e)
		return;
	memcpy(e->version, st->version, sizeof(e->version));
	e->missing = missing;
	e->missing_reason = missing == ENTRY_COMPLETE ? ENTRY_REASON_NONE : why;
	if (st->swapped) {
		struct entry_endpoint t = e->src;

		e->src = e->dst;
		e->dst = t;
	}
	conn_emit(st->c, e);
}

static struct item *item_of(struct pending_link *l)
{
	return l ? pending_entry(l, struct item, link) : NULL;
}

static void fifo_push(struct pending_queue *q, struct item *it)
{
	pending_push(q, &it->link); /* unbounded: the callers bound what they queue */
}

static struct item *fifo_pop(struct pending_queue *q)
{
	return item_of(pending_pop(q));
}

/* Take it out of q (it must be there; prev is its predecessor or NULL). */
static void fifo_unlink(struct pending_queue *q, struct item *prev, struct item *it)
{
	pending_unlink(q, prev ? &prev->link : NULL, &it->link);
}

/* ---- channels ---- */

static void content_cut(struct amqp *st, struct chan *ch, enum tcp_dir sender,
			enum entry_missing_reason why);
static void held_taken(struct amqp *st, const struct item *it);

/* Every item of the channel out, with what it misses and why (the channel ended). */
static void chan_flush(struct amqp *st, struct chan *ch, enum entry_missing_reason why)
{
	struct item *it;
	int d;

	for (d = 0; d < 2; d++) {
		if (ch->content[d].it)
			content_cut(st, ch, (enum tcp_dir)d, why);
		while ((it = fifo_pop(&ch->sync[d])))
			item_emit(st, it, ENTRY_MISSING_RESPONSE,
				  it->reply_gap ? ENTRY_REASON_GAP : why);
	}
	while ((it = fifo_pop(&ch->held))) {
		held_taken(st, it);
		item_emit(st, it, it->kind == K_GET ? ENTRY_COMPLETE : ENTRY_MISSING_RESPONSE, why);
	}
	while ((it = fifo_pop(&ch->confirms))) {
		held_taken(st, it);
		item_emit(st, it, ENTRY_MISSING_RESPONSE, why);
	}
}

/* The channel starts over (opened again, closed, or evicted). */
static void chan_reset(struct amqp *st, struct chan *ch, enum entry_missing_reason why)
{
	size_t max = conn_body_max(st->c);
	uint16_t id = ch->id;
	int d;

	chan_flush(st, ch, why);
	for (d = 0; d < 2; d++)
		http_body_reset(&ch->content[d].body);
	memset(ch, 0, sizeof(*ch));
	ch->id = id;
	ch->last_use = ++st->clock;
	for (d = 0; d < 2; d++)
		http_body_init(&ch->content[d].body, max);
}

static void chan_free(struct amqp *st, unsigned i, enum entry_missing_reason why)
{
	struct chan *ch = st->ch[i];

	if (!ch)
		return;
	chan_reset(st, ch, why);
	http_body_reset(&ch->content[0].body);
	http_body_reset(&ch->content[1].body);
	free(ch);
	st->ch[i] = NULL;
}

static struct chan *chan_find(struct amqp *st, uint16_t id)
{
	unsigned i;

	for (i = 0; i < AMQP_CHANNELS_MAX; i++)
		if (st->ch[i] && st->ch[i]->id == id) {
			st->ch[i]->last_use = ++st->clock;
			return st->ch[i];
		}
	return NULL;
}

/* The channel's state, created when new; the least recently used one makes room. */
static struct chan *chan_get(struct amqp *st, uint16_t id)
{
	struct chan *ch = chan_find(st, id);
	unsigned i, slot = AMQP_CHANNELS_MAX, lru = 0;

	if (ch)
		return ch;
	for (i = 0; i < AMQP_CHANNELS_MAX; i++) {
		if (!st->ch[i]) {
			slot = i;
			break;
		}
		if (st->ch[i]->last_use < st->ch[lru]->last_use)
			lru = i;
	}
	if (slot == AMQP_CHANNELS_MAX) {
		conn_counter_add(st->c, CNT_CHANNELS_EVICTED, 1);
		chan_free(st, lru, ENTRY_REASON_TOO_MANY_PENDING);
		slot = lru;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->id = id;
	ch->last_use = ++st->clock;
	http_body_init(&ch->content[0].body, conn_body_max(st->c));
	http_body_init(&ch->content[1].body, conn_body_max(st->c));
	st->ch[slot] = ch;
	return ch;
}

/* ---- held items: deliveries waiting for acks, publishes waiting for confirms ---- */

static void held_taken(struct amqp *st, const struct item *it)
{
	st->held--;
	st->held_bytes -= it->body_kept;
}

/* Make room under AMQP_HELD_MAX / AMQP_HELD_BYTES_MAX: the oldest held item goes out without
 * its response. */
static void held_evict(struct amqp *st)
{
	struct chan *best_ch = NULL;
	struct pending_queue *best_q = NULL;
	unsigned i;

	for (i = 0; i < AMQP_CHANNELS_MAX; i++) {
		struct chan *ch = st->ch[i];
		struct pending_queue *qs[2];
		int k;

		if (!ch)
			continue;
		qs[0] = &ch->held;
		qs[1] = &ch->confirms;
		for (k = 0; k < 2; k++)
			if (qs[k]->head && (!best_q || item_of(qs[k]->head)->order <
							     item_of(best_q->head)->order)) {
				best_q = qs[k];
				best_ch = ch;
			}
	}
	if (best_q) {
		struct item *it = fifo_pop(best_q);
		uint64_t *gone =
		    best_q == &best_ch->held ? &best_ch->held_gone : &best_ch->confirms_gone;

		held_taken(st, it);
		if (it->tag > *gone)
			*gone = it->tag;
		item_emit(st, it, it->kind == K_GET ? ENTRY_COMPLETE : ENTRY_MISSING_RESPONSE,
			  ENTRY_REASON_TOO_MANY_PENDING);
	}
}

static void held_push(struct amqp *st, struct pending_queue *q, struct item *it)
{
	while (st->held &&
	       (st->held >= AMQP_HELD_MAX || st->held_bytes + it->body_kept > AMQP_HELD_BYTES_MAX))
		held_evict(st);
	fifo_push(q, it);
	st->held++;
	st->held_bytes += it->body_kept;
}

/* ---- content ---- */

static void content_start(struct amqp *st, struct chan *ch, enum tcp_dir sender, struct item *it,
			  json_t *target)
{
	struct content *ct = &ch->content[sender];

	(void)st;
	http_body_reset(&ct->body);
	ct->it = it;
	ct->target = target;
	ct->header_seen = ct->properties_undecoded = false;
	ct->body_size = ct->got = ct->gap_bytes = 0;
	ct->encoding[0] = 0;
}

/* The body object onto the content's target. */
/* AMQP's content_encoding is a MIME encoding ("utf-8", "binary", "gzip"): only the
 * compressions are decoded for display, as HTTP bodies are. */
static bool is_compression(const char *enc)
{
	return !strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip") ||
	       !strcasecmp(enc, "deflate");
}

static void content_body_json(struct content *ct, bool cut)
{
	json_t *b =
	    http_body_to_json(&ct->body, is_compression(ct->encoding) ? ct->encoding : NULL);

	if (!b)
		return;
	if (ct->gap_bytes) {
		json_object_set_new(b, "gap_bytes", json_integer((json_int_t)ct->gap_bytes));
		json_object_set_new(b, "truncated", json_true());
	}
	if (cut) {
		json_object_set_new(b, "truncated", json_true());
		if (ct->header_seen)
			json_object_set_new(b, "expected_size", u64_json(ct->body_size));
	}
	json_object_set_new(ct->target, "body", b);
}

static struct consumer *consumer_find(struct chan *ch, uint64_t hash)
{
	unsigned i;

	for (i = 0; i < AMQP_CONSUMERS_MAX; i++)
		if (ch->consumers[i].used && ch->consumers[i].hash == hash)
			return &ch->consumers[i];
	return NULL;
}

static uint64_t tag_hash(const json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "consumer_tag"));

	return t ? hash_bytes(t, strlen(t)) : 0;
}

static void consumer_add(struct chan *ch, uint64_t hash, bool no_ack)
{
	struct consumer *c = consumer_find(ch, hash);
	unsigned i;

	if (!c) {
		for (i = 0; i < AMQP_CONSUMERS_MAX && ch->consumers[i].used; i++)
			;
		/* Full: the first one is forgotten (its deliveries are then held for acks). */
		c = &ch->consumers[i < AMQP_CONSUMERS_MAX ? i : 0];
	}
	c->used = true;
	c->hash = hash;
	c->no_ack = no_ack;
}

static bool flag_of(const json_t *o, const char *name)
{
	return json_is_true(json_object_get(json_object_get(o, "flags"), name));
}

static void content_done(struct amqp *st, struct chan *ch, enum tcp_dir sender)
{
	struct content *ct = &ch->content[sender];
	struct item *it = ct->it;
	struct consumer *cons;

	ct->it = NULL;
	content_body_json(ct, false);
	it->body_kept = ct->body.len;
	http_body_reset(&ct->body);
	switch (it->kind) {
	case K_PUBLISH:
		if (it->tag) {
			held_push(st, &ch->confirms, it);
			return;
		}
		break;
	case K_DELIVER:
		cons = consumer_find(ch, tag_hash(it->req));
		/* Unknown consumer (picked up mid-stream): assume acks will come. */
		if (!cons || !cons->no_ack) {
			held_push(st, &ch->held, it);
			return;
		}
		break;
	case K_GET:
		if (!it->no_ack) {
			held_push(st, &ch->held, it);
			return;
		}
		break;
	default:
		break;
	}
	item_emit(st, it, ENTRY_COMPLETE, ENTRY_REASON_NONE);
}

/* The content in progress cannot complete: what came is shown, its half marked missing. */
static void content_cut(struct amqp *st, struct chan *ch, enum tcp_dir sender,
			enum entry_missing_reason why)
{
	struct content *ct = &ch->content[sender];
	struct item *it = ct->it;

	if (!it)
		return;
	ct->it = NULL;
	content_body_json(ct, true);
	http_body_reset(&ct->body);
	item_emit(st, it, ct->target == it->resp ? ENTRY_MISSING_RESPONSE : ENTRY_MISSING_REQUEST,
		  why);
}

/* ---- methods ---- */

/* Synchronous requests: the methods that expect a reply (unless no-wait is set). */
static bool is_sync_request(uint32_t id)
{
	switch (id) {
	case M(10, 10):
	case M(10, 20):
	case M(10, 30):
	case M(10, 40):
	case M(10, 50):
	case M(10, 70):
	case M(20, 10):
	case M(20, 20):
	case M(20, 40):
	case M(30, 10):
	case M(40, 10):
	case M(40, 20):
	case M(40, 30):
	case M(40, 40):
	case M(50, 10):
	case M(50, 20):
	case M(50, 30):
	case M(50, 40):
	case M(50, 50):
	case M(60, 10):
	case M(60, 20):
	case M(60, 30):
	case M(60, 70):
	case M(60, 110):
	case M(85, 10):
	case M(90, 10):
	case M(90, 20):
	case M(90, 30):
		return true;
	default:
		return false;
	}
}

/* Is rep the reply to request req? */
static bool is_reply(uint32_t req, uint32_t rep)
{
	if (req == M(40, 40))
		return rep == M(40, 51);
	if (req == BASIC_GET)
		return rep == BASIC_GET_OK || rep == BASIC_GET_EMPTY;
	return is_sync_request(req) && rep == req + 1;
}

static bool is_any_reply(uint32_t id)
{
	if (id == M(40, 51) || id == BASIC_GET_OK || id == BASIC_GET_EMPTY)
		return true;
	if (id == M(40, 41)) /* not a method: Exchange.Unbind-Ok is 40.51 */
		return false;
	return (METHOD_OF(id) & 1) && is_sync_request(id - 1);
}

/* 1: only clients send the method, 2: only servers, 0: both or unknown. */
static int method_side(uint32_t id)
{
	switch (id) {
	case CONNECTION_CLOSE:
	case CONNECTION_CLOSE_OK:
	case M(20, 20):
	case M(20, 21):
	case CHANNEL_CLOSE:
	case CHANNEL_CLOSE_OK:
	case BASIC_CANCEL:
	case BASIC_CANCEL_OK:
	case BASIC_ACK:
	case BASIC_NACK:
		return 0;
	case CONNECTION_START:
	case M(10, 20):
	case CONNECTION_TUNE:
	case M(10, 60):
	case M(10, 61):
	case M(10, 71):
	case BASIC_RETURN:
	case BASIC_DELIVER:
		return 2;
	case CONNECTION_START_OK:
	case M(10, 21):
	case CONNECTION_TUNE_OK:
	case BASIC_PUBLISH:
	case BASIC_REJECT:
	case M(60, 100):
		return 1;
	default:
		if (!amqp_method_name(id) && id != M(10, 70))
			return 0;
		if (is_sync_request(id))
			return 1;
		return is_any_reply(id) ? 2 : 0;
	}
}

/* Mid-stream, the engine guessed the client from the ports: the first one-sided method
 * tells who is who. */
static void learn_side(struct amqp *st, enum tcp_dir edir, uint32_t id)
{
	int s;

	if (st->side_known || !st->guessed_side)
		return;
	s = method_side(id);
	if (!s)
		return;
	st->side_known = true;
	st->swapped = (s == 1) != (edir == TCP_DIR_C2S);
}

/*
 * Channel.Close or Connection.Close from one side: the other side's pending requests on
 * the channel will not be answered. The one that failed (by class and method id, else the
 * oldest) gets the close as its response; the others go out without one.
 */
static void close_fails_pending(struct amqp *st, struct chan *ch, enum tcp_dir waiting,
				json_t *close, uint32_t failed, uint64_t ts, uint64_t ts_end,
				uint64_t wire, bool *used)
{
	struct item *it, *prev = NULL, *next;

	for (it = item_of(ch->sync[waiting].head); it; it = next) {
		next = item_of(it->link.next);
		if (it->method == CHANNEL_CLOSE || it->method == CONNECTION_CLOSE) {
			prev = it;
			continue;
		}
		fifo_unlink(&ch->sync[waiting], prev, it);
		if (!*used && (!failed || it->method == failed)) {
			/* A copy: the close is also the request of its own entry. */
			json_t *copy = json_deep_copy(close);

			*used = true;
			item_response(it, copy, ts, ts_end, wire);
			json_decref(copy);
			item_emit(st, it, ENTRY_COMPLETE, ENTRY_REASON_NONE);
		} else {
			item_emit(st, it, ENTRY_MISSING_RESPONSE, ENTRY_REASON_CLOSED);
		}
	}
}

/* Side effects of a completed request/reply pair (or a lone reply). */
static void pair_effects(struct amqp *st, struct chan *ch, const json_t *req, uint32_t rep_id,
			 const json_t *rep)
{
	switch (rep_id) {
	case CONNECTION_TUNE_OK: {
		json_int_t fm = json_integer_value(json_object_get(rep, "frame_max"));

		if (fm > 0)
			st->frame_max = (uint32_t)fm;
		break;
	}
	case BASIC_CONSUME_OK:
		consumer_add(ch, tag_hash(rep), req && flag_of(req, "no_ack"));
		break;
	case BASIC_CANCEL_OK: {
		struct consumer *c = consumer_find(ch, tag_hash(rep));

		if (c)
			c->used = false;
		break;
	}
	case CONFIRM_SELECT_OK:
		ch->confirm_mode = true;
		break;
	default:
		break;
	}
}

/* The reply rep (from sender) to the other side's pending request on ch. */
static void on_reply(struct amqp *st, struct chan *ch, enum tcp_dir sender, uint32_t id,
		     json_t *rep, uint64_t ts, uint64_t ts_end, uint64_t wire)
{
	struct pending_queue *q = &ch->sync[!sender];
	struct item *it, *prev = NULL;
	bool lone = false;
	unsigned i;

	struct item *gapped = NULL, *gapped_prev = NULL;

	/* A request sent after a gap that may have held the replies before it comes first. */
	for (it = item_of(q->head); it; prev = it, it = item_of(it->link.next)) {
		if (!is_reply(it->method, id))
			continue;
		if (!it->reply_gap)
			break;
		if (!gapped) {
			gapped = it;
			gapped_prev = prev;
		}
	}
	if (!it && gapped) {
		it = gapped;
		prev = gapped_prev;
	}
	if (it) {
		struct item *old, *before = NULL, *next;

		fifo_unlink(q, prev, it);
		/* A channel's sync requests are answered in order: those before this one whose
		 * reply a gap may have carried did lose it. */
		for (old = item_of(q->head); old && old->order < it->order; old = next) {
			next = item_of(old->link.next);
			if (!old->reply_gap) {
				before = old;
				continue;
			}
			fifo_unlink(q, before, old);
			item_emit(st, old, ENTRY_MISSING_RESPONSE, ENTRY_REASON_GAP);
		}
	} else {
		/* Its request came before the capture, or was lost. */
		lone = true;
		it = item_new(st, K_SYNC, (enum tcp_dir) !sender, ch->id, 0, NULL, 0, 0, 0);
		if (!it) {
			json_decref(rep);
			return;
		}
	}
	item_response(it, rep, ts, ts_end, wire);
	json_decref(rep);
	pair_effects(st, ch, it->req, id, it->resp);
	if (id == BASIC_GET_OK) {
		it->kind = K_GET;
		it->tag = (uint64_t)json_integer_value(json_object_get(it->resp, "delivery_tag"));
		content_start(st, ch, sender, it, it->resp);
		return;
	}
	item_emit(st, it, lone ? ENTRY_MISSING_REQUEST : ENTRY_COMPLETE, ENTRY_REASON_GAP);
	if (id == CHANNEL_CLOSE_OK)
		chan_reset(st, ch, ENTRY_REASON_CLOSED);
	if (id == CONNECTION_CLOSE_OK)
		for (i = 0; i < AMQP_CHANNELS_MAX; i++)
			if (st->ch[i])
				chan_reset(st, st->ch[i], ENTRY_REASON_CLOSED);
}

/*
 * The broker acked a sequence number past the publishes counted: as many were lost in a gap
 * of the client's bytes. Those counted since the gap move up by that many.
 */
static void renumber(struct item *it, uint64_t from, uint64_t shift)
{
	if (it && it->kind == K_PUBLISH && it->tag > from) {
		it->tag += shift;
		set_int(it->req, "publish_seq", it->tag);
	}
}

static void publish_seq_shift(struct chan *ch, uint64_t shift)
{
	struct item *it;

	for (it = item_of(ch->confirms.head); it; it = item_of(it->link.next))
		renumber(it, ch->seq_at_gap, shift);
	renumber(ch->content[TCP_DIR_C2S].it, ch->seq_at_gap, shift);
	ch->publish_seq += shift;
	ch->seq_uncertain = false;
}

/* Basic.Ack / Nack / Reject: settles deliveries (from the client) or confirms publishes
 * (from the server), by delivery tag. */
static void on_settle(struct amqp *st, struct chan *ch, enum tcp_dir sender, uint32_t id, json_t *m,
		      uint64_t ts, uint64_t ts_end, uint64_t wire)
{
	bool from_client = sender == TCP_DIR_C2S;
	struct pending_queue *q = from_client ? &ch->held : &ch->confirms;
	uint64_t gone = from_client ? ch->held_gone : ch->confirms_gone;
	json_t *tagj = json_object_get(m, "delivery_tag");
	uint64_t tag = (uint64_t)json_integer_value(tagj);
	bool multiple = flag_of(m, "multiple") && id != BASIC_REJECT;
	struct item *it, *prev = NULL, *next;
	unsigned matched = 0;

	if (!from_client && ch->seq_uncertain && tag > ch->publish_seq)
		publish_seq_shift(ch, tag - ch->publish_seq);
	for (it = item_of(q->head); it && json_is_integer(tagj); it = next) {
		next = item_of(it->link.next);
		if (!(multiple ? (tag == 0 || it->tag <= tag) : it->tag == tag)) {
			prev = it;
			continue;
		}
		fifo_unlink(q, prev, it);
		held_taken(st, it);
		matched++;
		if (it->kind == K_GET) {
			/* The Get's response is the Get-Ok: the settlement goes beside it. */
			json_t *ack = json_deep_copy(m);

			if (ack) {
				char t[64];

				entry_format_time(ts, t);
				json_object_set_new(ack, "time", json_string(t));
				json_object_set_new(entry_fields_rw(it->e), "ack", ack);
			}
		} else {
			item_response(it, m, ts, ts_end, wire);
		}
		item_emit(st, it, ENTRY_COMPLETE, ENTRY_REASON_NONE);
	}
	if (matched || (json_is_integer(tagj) && tag && tag <= gone)) {
		json_decref(m);
		return;
	}
	/* Nothing it settles is known: an entry of its own, the delivery missing. */
	it = item_new(st, K_SETTLE, (enum tcp_dir) !sender, ch->id, 0, NULL, 0, 0, 0);
	if (it) {
		item_response(it, m, ts, ts_end, wire);
		item_emit(st, it, ENTRY_MISSING_REQUEST, ENTRY_REASON_GAP);
	}
	json_decref(m);
}

/* A whole method frame from sender (payload p, n >= 4; whole: the arguments are there). */
static void on_method(struct amqp *st, enum tcp_dir edir, uint16_t channel, const uint8_t *p,
		      size_t n, bool whole, uint64_t ts, uint64_t ts_end, uint64_t wire)
{
	uint32_t id = M(be16_at(p), be16_at(p + 2));
	enum tcp_dir sender;
	struct chan *ch;
	struct item *it;
	json_t *m;

	conn_counter_add(st->c, CNT_METHOD_FRAMES, 1);
	learn_side(st, edir, id);
	sender = side_of(st, edir);
	ch = chan_get(st, channel);
	m = method_json(st, id, channel, sender, p, n, whole);
	if (!ch || !m) {
		json_decref(m);
		return;
	}
	if (ch->content[sender].it) {
		/* A method where content frames were due: the content ends here. */
		conn_counter_add(st->c, CNT_FRAME_ERRORS, 1);
		conn_count_parse_error(st->c);
		content_cut(st, ch, sender, ENTRY_REASON_PARSE_ERROR);
	}
	if (is_any_reply(id)) {
		on_reply(st, ch, sender, id, m, ts, ts_end, wire);
		return;
	}
	if (id == CHANNEL_CLOSE || id == CONNECTION_CLOSE) {
		uint32_t failed = 0;
		bool used = false;
		json_int_t cls = json_integer_value(json_object_get(m, "class_id"));
		json_int_t meth = json_integer_value(json_object_get(m, "method_id"));
		unsigned i;

		if (cls)
			failed = M(cls, meth);
		if (id == CHANNEL_CLOSE) {
			close_fails_pending(st, ch, (enum tcp_dir) !sender, m, failed, ts, ts_end,
					    wire, &used);
		} else {
			/* The failing request is usually on channel 0 or the one it names. */
			close_fails_pending(st, ch, (enum tcp_dir) !sender, m, failed, ts, ts_end,
					    wire, &used);
			for (i = 0; i < AMQP_CHANNELS_MAX; i++)
				if (st->ch[i] && st->ch[i] != ch)
					close_fails_pending(st, st->ch[i], (enum tcp_dir) !sender,
							    m, failed, ts, ts_end, wire, &used);
		}
	}
	if (id == CHANNEL_OPEN)
		chan_reset(st, ch, ENTRY_REASON_CLOSED);
	switch (id) {
	case BASIC_ACK:
	case BASIC_NACK:
	case BASIC_REJECT:
		on_settle(st, ch, sender, id, m, ts, ts_end, wire);
		return;
	case BASIC_PUBLISH:
	case BASIC_DELIVER:
	case BASIC_RETURN:
		it = item_new(st,
			      id == BASIC_PUBLISH   ? K_PUBLISH
			      : id == BASIC_DELIVER ? K_DELIVER
						    : K_RETURN,
			      sender, channel, id, m, ts, ts_end, wire);
		if (!it)
			return;
		if (id == BASIC_PUBLISH && ch->confirm_mode) {
			it->tag = ++ch->publish_seq;
			set_int(it->req, "publish_seq", it->tag);
		}
		if (id == BASIC_DELIVER)
			it->tag = (uint64_t)json_integer_value(json_object_get(m, "delivery_tag"));
		content_start(st, ch, sender, it, it->req);
		return;
	default:
		break;
	}
	it = item_new(st, is_sync_request(id) ? K_SYNC : K_ASYNC, sender, channel, id, m, ts,
		      ts_end, wire);
	if (!it)
		return;
	it->no_wait = flag_of(m, "no_wait");
	it->no_ack = flag_of(m, "no_ack");
	if (id == CONNECTION_TUNE) {
		json_int_t fm = json_integer_value(json_object_get(m, "frame_max"));

		if (fm > 0 && !st->frame_max)
			st->frame_max = (uint32_t)fm;
	}
	/* Publishes are numbered from the Confirm.Select on, not from its Ok (which a gap may
	 * take; a broker that refuses closes the channel, which starts it over). */
	if (id == CONFIRM_SELECT)
		ch->confirm_mode = true;
	if (it->kind == K_ASYNC || it->no_wait) {
		if (id == BASIC_CONSUME)
			consumer_add(ch, tag_hash(m), it->no_ack);
		if (id == CONFIRM_SELECT)
			ch->confirm_mode = true;
		if (id == BASIC_CANCEL) {
			struct consumer *c = consumer_find(ch, tag_hash(m));

			if (c)
				c->used = false;
		}
		item_emit(st, it, ENTRY_COMPLETE, ENTRY_REASON_NONE);
		return;
	}
	if (ch->sync[sender].n >= AMQP_SYNC_PENDING_MAX) {
		conn_count_parse_error(st->c);
		item_emit(st, fifo_pop(&ch->sync[sender]), ENTRY_MISSING_RESPONSE,
			  ENTRY_REASON_TOO_MANY_PENDING);
	}
	fifo_push(&ch->sync[sender], it);
}

/* A content header frame (payload p, n >= CONTENT_HEAD_LEN; whole: the properties too). */
static void on_header(struct amqp *st, enum tcp_dir edir, uint16_t channel, const uint8_t *p,
		      size_t n, bool whole, uint64_t ts_end, uint64_t wire)
{
	enum tcp_dir sender = side_of(st, edir);
	struct chan *ch = chan_find(st, channel);
	struct content *ct = ch ? &ch->content[sender] : NULL;

	conn_counter_add(st->c, CNT_HEADER_FRAMES, 1);
	if (!ct || !ct->it || ct->header_seen) {
		conn_counter_add(st->c, CNT_ORPHAN_FRAMES, 1);
		return;
	}
	ct->header_seen = true;
	ct->body_size = be64_at(p + 4);
	if (ct->target == ct->it->resp) {
		ct->it->e->response_size += wire;
		ct->it->e->response_end_ns = ts_end;
	} else {
		ct->it->e->request_size += wire;
		ct->it->e->request_end_ns = ts_end;
	}
	if (be16_at(p) != AMQP_BASIC_CLASS) {
		ct->properties_undecoded = true;
		conn_counter_add(st->c, CNT_DECODE_ERRORS, 1);
	} else if (whole) {
		properties_json(st, ct, p + 12, n - 12);
	} else {
		ct->properties_undecoded = true;
		conn_counter_add(st->c, CNT_DECODE_ERRORS, 1);
	}
	if (ct->properties_undecoded)
		json_object_set_new(
		    ct->target, "properties_error",
		    json_string(whole ? "malformed properties" : "frame too large to decode"));
	if (!ct->body_size)
		content_done(st, ch, sender);
}

/* ---- frames ---- */

static uint64_t frame_limit(const struct amqp *st)
{
	/* The spec's smallest frame_max is 4096; 0 means no limit. */
	if (st->frame_max >= 4096)
		return st->frame_max - FRAME_OVERHEAD;
	return AMQP_FRAME_GUESS_MAX;
}

/*
 * Does a frame start at p? YES: a whole method (known class and method), content header
 * (class Basic) or heartbeat frame with its frame end where its size says; MAYBE: it could,
 * more bytes will tell; NO otherwise. Body frames are never taken (they carry no structure).
 */
static enum detect_result frame_start(const uint8_t *p, size_t n, uint64_t limit)
{
	uint32_t size;

	if (n < 1)
		return DETECT_MAYBE;
	if (p[0] != FRAME_METHOD && p[0] != FRAME_HEADER && p[0] != FRAME_HEARTBEAT)
		return DETECT_NO;
	if (n < FRAME_HEAD_LEN)
		return DETECT_MAYBE;
	size = be32_at(p + 3);
	if (p[0] == FRAME_HEARTBEAT) {
		if (size || be16_at(p + 1))
			return DETECT_NO;
	} else if (size > limit || size > AMQP_DECODE_MAX) {
		return DETECT_NO;
	}
	if (p[0] == FRAME_METHOD) {
		if (size < 4)
			return DETECT_NO;
		if (n < FRAME_HEAD_LEN + 4)
			return DETECT_MAYBE;
		if (!amqp_method_name(M(be16_at(p + 7), be16_at(p + 9))))
			return DETECT_NO;
	} else if (p[0] == FRAME_HEADER) {
		if (size < CONTENT_HEAD_LEN)
			return DETECT_NO;
		if (n < FRAME_HEAD_LEN + 4)
			return DETECT_MAYBE;
		if (be16_at(p + 7) != AMQP_BASIC_CLASS || be16_at(p + 9) != 0)
			return DETECT_NO;
	}
	if (n < FRAME_OVERHEAD + (size_t)size)
		return DETECT_MAYBE;
	return p[FRAME_HEAD_LEN + size] == FRAME_END ? DETECT_YES : DETECT_NO;
}

static const uint8_t proto_header[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};

/*
 * Detection: the client's protocol header "AMQP\0\0\x09\x01"; mid-stream, a whole frame
 * that checks out (a method, content header or heartbeat frame; or a body frame followed by
 * one), in either direction.
 */
static enum detect_result amqp_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	enum detect_result r;
	size_t off = 0;
	int hops;

	if (n && p[0] == 'A') {
		size_t k = n < sizeof(proto_header) ? n : sizeof(proto_header);

		if (dir != TCP_DIR_C2S || memcmp(p, proto_header, k))
			return DETECT_NO;
		return k == sizeof(proto_header) ? DETECT_YES : DETECT_MAYBE;
	}
	/* A body frame proves nothing alone: the frames after it must. */
	for (hops = 0; hops < 4; hops++) {
		uint32_t size;

		if (n - off >= 1 && p[off] != FRAME_BODY)
			break;
		if (n - off < FRAME_HEAD_LEN)
			return DETECT_MAYBE;
		size = be32_at(p + off + 3);
		if (size > AMQP_FRAME_GUESS_MAX)
			return DETECT_NO;
		if (n - off < FRAME_OVERHEAD + (size_t)size)
			return DETECT_MAYBE;
		if (p[off + FRAME_HEAD_LEN + size] != FRAME_END)
			return DETECT_NO;
		off += FRAME_OVERHEAD + size;
		if (off == n)
			return DETECT_MAYBE;
	}
	r = frame_start(p + off, n - off, AMQP_FRAME_GUESS_MAX);
	/* A method frame cut by the end of the segment: known class and method and a sane
	 * size are evidence enough. */
	if (r == DETECT_MAYBE && n - off >= FRAME_HEAD_LEN + 4 && p[off] == FRAME_METHOD)
		return DETECT_YES;
	return r;
}

/* Lost: the content in progress from this direction's sender is cut, and requests waiting
 * for its replies give up (the replies may have been in the hole). */
static void lose_sync(struct amqp *st, enum tcp_dir edir, enum entry_missing_reason why)
{
	enum tcp_dir sender = side_of(st, edir);
	unsigned i;

	if (st->rx[edir].state != RX_RESYNC)
		conn_counter_add(st->c, CNT_RESYNCS, 1);
	st->rx[edir].state = RX_RESYNC;
	for (i = 0; i < AMQP_CHANNELS_MAX; i++) {
		struct chan *ch = st->ch[i];
		struct item *it;

		if (!ch)
			continue;
		content_cut(st, ch, sender, why);
		if (sender == TCP_DIR_C2S && ch->confirm_mode && !ch->seq_uncertain) {
			ch->seq_uncertain = true;
			ch->seq_at_gap = ch->publish_seq;
		}
		/* The other side's requests waiting for this side's replies: a reply may have been
		 * in what was lost, or may still come (they are matched by method, on_reply()). */
		for (it = item_of(ch->sync[!sender].head); it; it = item_of(it->link.next))
			it->reply_gap = true;
	}
}

static void frame_error(struct amqp *st, enum tcp_dir edir)
{
	conn_counter_add(st->c, CNT_FRAME_ERRORS, 1);
	conn_count_parse_error(st->c);
	lose_sync(st, edir, ENTRY_REASON_PARSE_ERROR);
}

/* The current content of this direction's sender on rx's channel, if a body may go to it. */
static struct content *body_target(struct amqp *st, enum tcp_dir edir, uint16_t channel,
				   uint32_t size)
{
	struct chan *ch = chan_find(st, channel);
	struct content *ct = ch ? &ch->content[side_of(st, edir)] : NULL;

	if (!ct || !ct->it || !ct->header_seen || size > ct->body_size - ct->got)
		return NULL;
	return ct;
}

static void body_bytes(struct amqp *st, enum tcp_dir edir, const uint8_t *p, size_t n,
		       uint64_t ts_end)
{
	struct rx *rx = &st->rx[edir];
	struct content *ct = body_target(st, edir, rx->channel, 0);

	if (!ct)
		return;
	http_body_append(&ct->body, p, n);
	ct->got += n;
	if (ct->target == ct->it->resp)
		ct->it->e->response_end_ns = ts_end;
	else
		ct->it->e->request_end_ns = ts_end;
}

/* The body frame of rx ended (its frame end checked): count it; the content may be done. */
static void body_frame_done(struct amqp *st, enum tcp_dir edir)
{
	struct rx *rx = &st->rx[edir];
	struct chan *ch = chan_find(st, rx->channel);
	enum tcp_dir sender = side_of(st, edir);
	struct content *ct = ch ? &ch->content[sender] : NULL;

	if (!ct || !ct->it)
		return;
	if (ct->target == ct->it->resp)
		ct->it->e->response_size += FRAME_OVERHEAD + (uint64_t)rx->size;
	else
		ct->it->e->request_size += FRAME_OVERHEAD + (uint64_t)rx->size;
	if (ct->header_seen && ct->got >= ct->body_size)
		content_done(st, ch, sender);
}

/* The server answered the client's protocol header with its own (a version it prefers). */
static void on_protocol_refused(struct amqp *st, const uint8_t *p, uint64_t ts)
{
	char v[16];
	struct item *it;
	json_t *req = json_object(), *resp = json_object();

	snprintf(v, sizeof(v), "%u-%u-%u", p[5], p[6], p[7]);
	if (!req || !resp) {
		json_decref(req);
		json_decref(resp);
		return;
	}
	json_object_set_new(req, "method", json_string("Protocol-Header"));
	json_object_set_new(req, "sender", json_string("client"));
	json_object_set_new(req, "protocol_version", json_string(st->version));
	json_object_set_new(resp, "method", json_string("Protocol-Header"));
	json_object_set_new(resp, "sender", json_string("server"));
	json_object_set_new(resp, "protocol_version", json_string(v));
	it = item_new(st, K_ASYNC, TCP_DIR_C2S, 0, 0, req, 0, 0, 0);
	if (!it) {
		json_decref(resp);
		return;
	}
	item_response(it, resp, ts, ts, sizeof(proto_header));
	json_decref(resp);
	item_emit(st, it, ENTRY_COMPLETE, ENTRY_REASON_NONE);
}

/*
 * One step at a frame boundary: the protocol header or one frame (method, header and
 * heartbeat frames whole; the head of body frames and of frames too large to decode).
 * Returns bytes consumed (0: more are needed).
 */
static size_t frame_step(struct amqp *st, enum tcp_dir edir, const uint8_t *p, size_t n,
			 uint64_t ts, uint64_t ts_end)
{
	struct rx *rx = &st->rx[edir];
	uint32_t size;
	uint16_t channel;
	uint8_t type;
	bool whole;

	if (!rx->started && p[0] == 'A') {
		if (n < sizeof(proto_header))
			return 0;
		if (!memcmp(p, proto_header, 4)) {
			rx->started = true;
			if (side_of(st, edir) == TCP_DIR_C2S || !st->rx[!edir].started) {
				char v[16];

				snprintf(v, sizeof(v), "%u-%u-%u", p[5], p[6], p[7]);
				v[sizeof(st->version) - 1] = 0;
				memcpy(st->version, v, sizeof(st->version));
				if (st->guessed_side && !st->side_known) {
					st->side_known = true;
					st->swapped = edir != TCP_DIR_C2S;
				}
			} else {
				on_protocol_refused(st, p, ts);
			}
			return sizeof(proto_header);
		}
	}
	rx->started = true;
	if (n < FRAME_HEAD_LEN)
		return 0;
	type = p[0];
	channel = be16_at(p + 1);
	size = be32_at(p + 3);
	if ((type != FRAME_METHOD && type != FRAME_HEADER && type != FRAME_BODY &&
	     type != FRAME_HEARTBEAT) ||
	    size > frame_limit(st) || (type == FRAME_HEARTBEAT && size) ||
	    (type == FRAME_METHOD && size < 4) ||
	    (type == FRAME_HEADER && size < CONTENT_HEAD_LEN)) {
		frame_error(st, edir);
		return 1;
	}
	rx->type = type;
	rx->channel = channel;
	rx->size = size;
	if (type == FRAME_BODY) {
		struct content *ct = body_target(st, edir, channel, size);

		if (!ct && rx->unproven) {
			frame_error(st, edir);
			return 1;
		}
		conn_counter_add(st->c, CNT_BODY_FRAMES, 1);
		if (!ct)
			conn_counter_add(st->c, CNT_ORPHAN_FRAMES, 1);
		rx->left = size;
		rx->state = ct ? RX_BODY : RX_SKIP;
		if (!size)
			rx->state = RX_END;
		return FRAME_HEAD_LEN;
	}
	whole = size <= AMQP_DECODE_MAX;
	if (whole) {
		uint64_t len, total;

		if (lp_whole(&amqp_frame_format, p, n, &len, &total) != LP_WHOLE)
			return 0;
		if (p[FRAME_HEAD_LEN + size] != FRAME_END) {
			frame_error(st, edir);
			return 1;
		}
	} else if (n < FRAME_HEAD_LEN + CONTENT_HEAD_LEN) {
		return 0;
	}
	switch (type) {
	case FRAME_HEARTBEAT:
		conn_counter_add(st->c, CNT_HEARTBEATS, 1);
		break;
	case FRAME_METHOD:
		rx->unproven = false;
		on_method(st, edir, channel, p + FRAME_HEAD_LEN, whole ? size : 4, whole, ts,
			  ts_end, FRAME_OVERHEAD + (uint64_t)size);
		break;
	case FRAME_HEADER:
		on_header(st, edir, channel, p + FRAME_HEAD_LEN, whole ? size : CONTENT_HEAD_LEN,
			  whole, ts_end, FRAME_OVERHEAD + (uint64_t)size);
		break;
	}
	if (whole)
		return FRAME_OVERHEAD + size;
	/* Too large to decode: the rest of the payload is skipped. */
	rx->left = size - CONTENT_HEAD_LEN;
	rx->state = RX_SKIP;
	return FRAME_HEAD_LEN + CONTENT_HEAD_LEN;
}

/* After a lost boundary: does a method, header or heartbeat frame start at p? */
static enum detect_result resync_check(const uint8_t *p, size_t n, void *arg)
{
	return frame_start(p, n, *(const uint64_t *)arg);
}

static size_t resync_step(struct amqp *st, enum tcp_dir edir, const uint8_t *p, size_t n)
{
	uint64_t limit = frame_limit(st);
	bool found;
	/* frame_start() waits at most for a whole frame of at most AMQP_DECODE_MAX bytes. */
	size_t k = lp_resync(p, n, resync_check, &limit, SIZE_MAX, &found);

	if (found) {
		st->rx[edir].state = RX_FRAME;
		st->rx[edir].unproven = true;
	}
	return k;
}

static size_t amqp_parse(void *vst, struct conn *c, enum tcp_dir edir, const uint8_t *p, size_t n,
			 uint64_t ts, uint64_t ts_last)
{
	struct amqp *st = vst;
	struct rx *rx = &st->rx[edir];
	size_t off = 0;

	st->c = c;
	while (off < n) {
		uint64_t t0 = off ? ts_last : ts;
		size_t k = 0, take;

		switch (rx->state) {
		case RX_RESYNC:
			k = resync_step(st, edir, p + off, n - off);
			if (!k && rx->state == RX_RESYNC)
				return off; /* a frame may start here: more bytes will tell */
			break;
		case RX_FRAME:
			k = frame_step(st, edir, p + off, n - off, t0, ts_last);
			if (!k)
				return off;
			break;
		case RX_BODY:
		case RX_SKIP:
			take = rx->left < n - off ? (size_t)rx->left : n - off;
			if (rx->state == RX_BODY)
				body_bytes(st, edir, p + off, take, ts_last);
			rx->left -= take;
			k = take;
			if (!rx->left)
				rx->state = RX_END;
			break;
		case RX_END:
			if (p[off] != FRAME_END) {
				frame_error(st, edir);
				break;
			}
			k = 1;
			rx->state = RX_FRAME;
			if (rx->type == FRAME_BODY)
				body_frame_done(st, edir);
			break;
		}
		off += k;
	}
	return off;
}

static void amqp_gap(void *vst, struct conn *c, enum tcp_dir edir, uint64_t missing, uint64_t ts)
{
	struct amqp *st = vst;
	struct rx *rx = &st->rx[edir];

	(void)ts;
	st->c = c;
	if (!missing)
		return;
	rx->started = true;
	/* Inside a body frame the hole is only body bytes: the frames stay in step. */
	if ((rx->state == RX_BODY || rx->state == RX_SKIP) && missing <= rx->left) {
		if (rx->state == RX_BODY) {
			struct content *ct = body_target(st, edir, rx->channel, 0);

			if (ct) {
				ct->gap_bytes += missing;
				ct->got += missing;
				ct->body.size += missing;
			}
		}
		rx->left -= missing;
		if (!rx->left)
			rx->state = RX_END;
		return;
	}
	if (rx->state == RX_RESYNC)
		return;
	lose_sync(st, edir, ENTRY_REASON_GAP);
}

static void amqp_close(void *vst, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct amqp *st = vst;
	enum entry_missing_reason r = conn_end_reason(why);
	unsigned i;

	(void)ts;
	st->c = c;
	for (i = 0; i < AMQP_CHANNELS_MAX; i++)
		if (st->ch[i])
			chan_flush(st, st->ch[i], r);
}

static void *amqp_open(struct conn *c, void *handover)
{
	struct amqp *st = calloc(1, sizeof(*st));
	const struct tcp_flow_info *info = conn_info(c);

	(void)handover;
	if (!st)
		return NULL;
	st->c = c;
	snprintf(st->version, sizeof(st->version), "0-9-1");
	st->guessed_side = info->role != TCP_ROLE_SYN && info->role != TCP_ROLE_SYNACK;
	init_amqp_pool(&st->pool, 4096);
	return st;
}

static void amqp_free(void *vst)
{
	struct amqp *st = vst;
	unsigned i;
	int d;

	if (!st)
		return;
	for (i = 0; i < AMQP_CHANNELS_MAX; i++) {
		struct chan *ch = st->ch[i];
		struct item *it;

		if (!ch)
			continue;
		for (d = 0; d < 2; d++) {
			/* An item whose content is in progress is on no list. */
			item_free(ch->content[d].it);
			http_body_reset(&ch->content[d].body);
			while ((it = fifo_pop(&ch->sync[d])))
				item_free(it);
		}
		while ((it = fifo_pop(&ch->held)))
			item_free(it);
		while ((it = fifo_pop(&ch->confirms)))
			item_free(it);
		free(ch);
	}
	empty_amqp_pool(&st->pool);
	free(st);
}

/*
 * For the engine's memory budget (dissector.h, mem()). Exact for the structs, the content
 * bodies being assembled and librabbitmq's pool pages; each item's entry is estimated as
 * AMQP_ITEM_BYTES, and the bodies that held items keep (held_bytes) twice (the JSON text or
 * base64 and the object around it). A walk of the channel slots (AMQP_CHANNELS_MAX).
 */
#define AMQP_ITEM_BYTES (sizeof(struct item) + sizeof(struct entry) + 1536u)

static size_t amqp_mem(const void *vst)
{
	const struct amqp *st = vst;
	size_t n = sizeof(*st) + st->pool.pages.num_blocks * st->pool.pagesize +
		   2 * st->held_bytes;
	unsigned i;
	int d;

	for (i = 0; i < AMQP_CHANNELS_MAX; i++) {
		const struct chan *ch = st->ch[i];
		size_t items;

		if (!ch)
			continue;
		items = ch->held.n + ch->confirms.n;
		for (d = 0; d < 2; d++) {
			items += ch->sync[d].n + (ch->content[d].it != NULL);
			n += ch->content[d].body.cap;
		}
		n += sizeof(*ch) + items * AMQP_ITEM_BYTES;
	}
	return n;
}


const struct dissector dissector_amqp = {
    .name = "amqp",
    .protocol = "amqp", /* its descriptor: lib/core/protocols/amqp.c */
    .detect = amqp_detect,
    .open = amqp_open,
    .parse = amqp_parse,
    .gap = amqp_gap,
    .close = amqp_close,
    .free = amqp_free,
    .counters = amqp_counters,
    .mem = amqp_mem,
};
