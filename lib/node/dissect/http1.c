// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.0 and HTTP/1.1 dissector. A message whose head is plain and wholly in the bytes at
 * hand is read by http1_scan.h and framed here (MSG_FAST); any other message is
 * http_parser's (one parser per direction, re-initialised at every message so that a message
 * end is a clean boundary), and so is the rest of a fast message's body when its chunk
 * framing is anything but plain (the parser is primed to the same point). This file does
 * the pairing, the entries, and recovery from gaps and garbage. See docs/http1.md for the
 * behaviour and the fields.
 *
 * Exchanges: an exchange is created when a request starts and queued until its final
 * response ends (FIFO: HTTP/1.1 answers in request order). The response side always works on
 * the queue's head. An exchange is emitted once neither direction's parser refers to it and
 * its response is done or known lost.
 */
#include "dissect/http1.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "dissect/http1_fields.h"
#include "dissect/http1_scan.h"
#include "dissect/http_common.h"
#include "dissect/pending.h"
#include "dissect/tunnel.h"
#include "entry/json_alloc.h"

/* Target bytes after which a consistent request line is taken by detect(): the engine gives
 * up detection after a few dozen bytes, and long URLs must still be recognised. */
#define DETECT_TARGET_ENOUGH 32u

enum half_state {
	HALF_WAIT = 0, /* not seen yet */
	HALF_PARSING,  /* its message is being parsed */
	HALF_DONE,
	HALF_MISSING,  /* lost, cut or malformed: see reason */
};

struct xch {
	struct pending_link link;
	struct entry *e;
	enum half_state req, resp;
	enum entry_missing_reason req_why, resp_why;
	unsigned method;   /* enum http_method of the request, when seen */
	bool method_known;
	bool queued;
	bool orphan;       /* a response without a request */
	bool upgrade;      /* the request asked to leave HTTP/1 (Upgrade or CONNECT) */
	char upgrade_proto[16]; /* lower-cased first token of the request's Upgrade header */
};

struct strbuf {
	char *p;
	size_t len, cap;
};

struct h1;

/* Who reads the message in progress. */
enum msg_mode {
	MSG_NEW = 0, /* none of it yet (or only the CR/LF that may come before it) */
	MSG_FAST,    /* its head was scanned (http1_scan.h); the body is framed here */
	MSG_HP,      /* http_parser: from its first byte, or primed for the rest of its body */
};

/* Where a fast message's body is (the states of http_parser's that MSG_FAST takes). */
enum fast_body {
	FB_LENGTH,     /* Content-Length: body_left to come */
	FB_EOF,        /* until the connection closes */
	FB_CHUNK_SIZE, /* a chunk-size line */
	FB_CHUNK_DATA, /* body_left bytes of a chunk */
	FB_CHUNK_CRLF, /* the two bytes after a chunk's data (any two, as http_parser takes) */
	FB_TRAILER,    /* after the last chunk: trailers or the final CRLF */
};

/* What only http_parser's messages need: the parser and the strings its callbacks collect
 * (start line, the field being read). Made for a direction's first such message, then kept. */
struct msg_parser {
	http_parser hp;
	struct strbuf line, name, value;
};

/* The message being parsed in one direction. */
struct msg {
	struct msg_parser *p; /* NULL until needed (MSG_HP) */
	struct h1 *st;
	struct xch *x;
	struct h1_head *head; /* its fields as they come (http1_fields.h) */
	enum tcp_dir dir;
	enum msg_mode mode;
	enum fast_body fb;
	/* From the head once complete (http_parser's or the scan's): */
	uint16_t status;
	uint8_t method, major, minor;
	bool upgrade;       /* http_parser's upgrade flag (MSG_FAST: never) */
	uint8_t crlf_left;
	bool begun, head_done, done, in_value, trailing, cut;
	bool resync;
	bool line_done;     /* the start line is complete */
	bool gap_feed;      /* bytes given to the parser are zeros standing for a gap */
	bool body_known;    /* body_left says how many body bytes surely follow */
	bool until_close;   /* response body ends with the connection */
	bool is_chunked;
	bool head_made;     /* the head is complete: "request" / "response" can be set */
	uint64_t content_length; /* UINT64_MAX: none */
	uint64_t body_left;
	uint64_t head_bytes, wire, gap_bytes;
	uint64_t trailer_bytes; /* bounded like a head */
	uint64_t ts_first;
	struct http_body body;
};

struct h1 {
	struct conn *c;
	struct msg m[2];
	struct pending_queue pending; /* exchanges waiting for their final response; bounded by
					 enqueue(), which must not evict one being answered */
	struct xch *orphan;      /* response without request, after an interim response */
	struct xch *hold;        /* client bytes wait for the answer to this upgrade request */
	uint64_t owed;           /* responses that belong to requests evicted from the queue */
	unsigned resp_ahead;     /* responses without a request since the last request began */
	uint64_t ts_now;
	bool tunnel;             /* not HTTP/1 any more: consume everything */
	struct tunnel *tun;      /* after an accepted CONNECT: where everything goes */
	bool in_parse;
};

/* ---- detection and resynchronisation ---- */

static bool target_byte(uint8_t b)
{
	return b > 0x20 && b != 0x7f;
}

/*
 * Is p the start of a request line "METHOD SP target SP HTTP/1.x CRLF"? YES once the whole
 * line up to the version checked out, or once `enough` target bytes were consistent.
 */
static enum detect_result request_line(const uint8_t *p, size_t n, size_t enough)
{
	static const char ver[] = " HTTP/1.";
	size_t i = 0, t0, k;

	while (i < n && i < 16 && ((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-'))
		i++;
	if (i == n || i == 16)
		return i < 16 && h1_method_prefix(p, i) ? DETECT_MAYBE : DETECT_NO;
	if (p[i] != ' ' || !i || h1_method_of(p, i) < 0)
		return DETECT_NO;
	t0 = ++i;
	if (i < n && !(p[i] == '/' || p[i] == '*' || (p[i] >= 'a' && p[i] <= 'z') ||
		       (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '['))
		return DETECT_NO;
	while (i < n && target_byte(p[i]) && i - t0 <= HTTP1_LINE_MAX)
		i++;
	if (i - t0 > HTTP1_LINE_MAX)
		return DETECT_NO;
	if (i == n)
		return i - t0 >= enough ? DETECT_YES : DETECT_MAYBE;
	if (i == t0 || p[i] != ' ')
		return DETECT_NO;
	for (k = 0; k < sizeof(ver) - 1; k++, i++) {
		if (i == n)
			return i - t0 >= enough ? DETECT_YES : DETECT_MAYBE;
		if (p[i] != (uint8_t)ver[k])
			return DETECT_NO;
	}
	if (i == n)
		return DETECT_MAYBE;
	if (p[i] != '0' && p[i] != '1')
		return DETECT_NO;
	if (++i == n)
		return DETECT_MAYBE;
	return p[i] == '\r' || p[i] == '\n' ? DETECT_YES : DETECT_NO;
}

/* "HTTP/1.x NNN" */
static enum detect_result status_line(const uint8_t *p, size_t n)
{
	static const char pre[] = "HTTP/1.";
	size_t i;

	for (i = 0; i < n && i < 12; i++) {
		uint8_t b = p[i];
		bool ok;

		if (i < 7)
			ok = b == (uint8_t)pre[i];
		else if (i == 7)
			ok = b == '0' || b == '1';
		else if (i == 8)
			ok = b == ' ';
		else
			ok = b >= '0' && b <= '9';
		if (!ok)
			return DETECT_NO;
	}
	return i == 12 ? DETECT_YES : DETECT_MAYBE;
}

static enum detect_result h1_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	if (dir == TCP_DIR_C2S)
		return request_line(p, n, DETECT_TARGET_ENOUGH);
	return status_line(p, n);
}

/*
 * Skip to the next message start. Returns the bytes to consume; *found is set when a message
 * starts right after them (else more bytes are needed, or none was seen). Any position is a
 * candidate, not only line starts: a message follows the previous body without a newline.
 * A whole request line (or "HTTP/1.x NNN") is required, which text in bodies rarely has.
 */
static size_t resync_scan(struct msg *m, const uint8_t *p, size_t n, bool *found)
{
	size_t i;

	*found = false;
	for (i = 0; i < n; i++) {
		enum detect_result r;

		if (m->dir == TCP_DIR_C2S)
			r = p[i] >= 'A' && p[i] <= 'Z' ? request_line(p + i, n - i, SIZE_MAX)
							: DETECT_NO;
		else
			r = p[i] == 'H' ? status_line(p + i, n - i) : DETECT_NO;
		if (r == DETECT_NO)
			continue;
		*found = r == DETECT_YES;
		return i;
	}
	return n;
}

/* ---- small helpers ---- */

/* Head buffers up to this capacity stay with the connection between messages. */
#define HTTP1_KEEP_BUF 1024u

static int sb_add(struct strbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *np;

		if (b->len + n + 1 > HTTP1_HEAD_MAX + 1)
			return -E2BIG;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static void sb_free(struct strbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static const char *sb_str(const struct strbuf *b)
{
	return b->p ? b->p : "";
}

/* Decimal v at o, returns the end (what %u prints). */
static char *put_uint(char *o, unsigned v)
{
	char t[12], *e = t + sizeof(t);

	do {
		*--e = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(o, e, (size_t)(t + sizeof(t) - e));
	return o + (t + sizeof(t) - e);
}

/* "%u.%u" of the version (twice per entry: printf was 1% of floe read). */
static void version_str(unsigned major, unsigned minor, char v[16])
{
	char *o = put_uint(v, major);

	*o++ = '.';
	o = put_uint(o, minor);
	*o = 0;
}

static void entry_version(struct entry *e, const struct msg *m)
{
	char v[16];

	version_str(m->major, m->minor, v);
	v[sizeof(e->version) - 1] = 0;
	memcpy(e->version, v, sizeof(e->version));
}

/* ---- exchanges ---- */

static void xch_free(struct xch *x)
{
	if (!x)
		return;
	entry_free(x->e);
	json_alloc_free(x);
}

static struct xch *xch_of(struct pending_link *l)
{
	return l ? pending_entry(l, struct xch, link) : NULL;
}

/* The oldest exchange waiting for its response (NULL when none). */
static struct xch *first(const struct h1 *st)
{
	return xch_of(st->pending.head);
}

static void unqueue(struct h1 *st, struct xch *x)
{
	if (!x->queued)
		return;
	pending_remove(&st->pending, &x->link);
	x->queued = false;
	if (st->hold == x)
		st->hold = NULL;
}

/* Emit x if nobody parses it any more; it must be out of the queue. */
static void xch_try_emit(struct h1 *st, struct xch *x)
{
	struct entry *e = x->e;
	bool has_req, has_resp;

	if (x->queued || x->req == HALF_PARSING || x->resp == HALF_PARSING ||
	    x->resp == HALF_WAIT || st->m[TCP_DIR_C2S].x == x || st->m[TCP_DIR_S2C].x == x ||
	    st->orphan == x)
		return;
	x->e = NULL;
	if (!e) {
		json_alloc_free(x);
		return;
	}
	has_req = h1_entry_has(e, "request");
	has_resp = h1_entry_has(e, "response");
	/* Nothing of either half was understood: nothing to show (the gap is counted). */
	if (!has_req && !has_resp && !h1_entry_has(e, "interim")) {
		entry_free(e);
		json_alloc_free(x);
		return;
	}
	e->protocol = "http";
	if (x->resp == HALF_MISSING) {
		e->missing = has_resp ? ENTRY_INCOMPLETE_RESPONSE : ENTRY_MISSING_RESPONSE;
		e->missing_reason = x->resp_why;
	} else if (x->req == HALF_MISSING || x->req == HALF_WAIT) {
		e->missing = has_req ? ENTRY_INCOMPLETE_REQUEST : ENTRY_MISSING_REQUEST;
		e->missing_reason = x->req_why;
	}
	json_alloc_free(x);
	conn_emit(st->c, e);
}

static struct xch *xch_new(struct h1 *st)
{
	/* one per request: from the small-block cache (json_alloc.h) */
	struct xch *x = json_alloc_zalloc(sizeof(*x));

	if (!x) {
		return NULL;
	}
	x->e = conn_entry_new(st->c);
	if (!x->e) {
		json_alloc_free(x);
		return NULL;
	}
	x->e->protocol = "http";
	return x;
}

static void response_lost(struct h1 *st, struct xch *x, enum entry_missing_reason why)
{
	unqueue(st, x);
	x->resp = HALF_MISSING;
	x->resp_why = why;
	xch_try_emit(st, x);
}

/* A new exchange at the tail; the oldest waiting one is given up past the bound. */
static struct xch *enqueue(struct h1 *st)
{
	struct xch *x;

	if (st->pending.n >= HTTP1_PENDING_MAX && first(st) && st->m[TCP_DIR_S2C].x != first(st)) {
		/* Its response, if it comes, is the next one: owed keeps the pairing right. */
		conn_count_parse_error(st->c);
		st->owed++;
		response_lost(st, first(st), ENTRY_REASON_TOO_MANY_PENDING);
	}
	x = xch_new(st);
	if (!x)
		return NULL;
	x->queued = true;
	pending_push(&st->pending, &x->link); /* unbounded: the bound is kept above */
	return x;
}

/* ---- message state ---- */

static void msg_reset(struct msg *m)
{
	h1_head_free(m->head);
	m->head = NULL;
	m->head_made = false;
	if (m->p) {
		struct msg_parser *mp = m->p;

		mp->line.len = mp->name.len = mp->value.len = 0;
		/* A long head's buffers are not kept for the next message of a keep-alive
		 * connection. */
		if (mp->line.cap > HTTP1_KEEP_BUF)
			sb_free(&mp->line);
		if (mp->name.cap > HTTP1_KEEP_BUF)
			sb_free(&mp->name);
		if (mp->value.cap > HTTP1_KEEP_BUF)
			sb_free(&mp->value);
	}
	http_body_reset(&m->body);
	m->x = NULL;
	m->begun = m->head_done = m->done = m->in_value = m->trailing = m->cut = false;
	m->line_done = false;
	m->gap_feed = m->body_known = m->until_close = m->is_chunked = false;
	m->body_left = m->head_bytes = m->wire = m->gap_bytes = m->trailer_bytes = 0;
	m->ts_first = 0;
	m->mode = MSG_NEW;
	m->crlf_left = 0;
	m->method = m->status = m->major = m->minor = 0;
	m->content_length = UINT64_MAX;
	m->upgrade = false;
}

/* Hand the message to http_parser from its first byte. 0 or -ENOMEM. */
static int msg_parser_start(struct msg *m)
{
	if (!m->p && !(m->p = calloc(1, sizeof(*m->p))))
		return -ENOMEM;
	http_parser_init(&m->p->hp, m->dir == TCP_DIR_C2S ? HTTP_REQUEST : HTTP_RESPONSE);
	m->p->hp.data = m;
	m->mode = MSG_HP;
	return 0;
}

static void msg_free(struct msg *m)
{
	msg_reset(m);
	if (m->p) {
		sb_free(&m->p->line);
		sb_free(&m->p->name);
		sb_free(&m->p->value);
		free(m->p);
		m->p = NULL;
	}
	http_body_reset(&m->body);
}

/* The message's head, made when its first field (or its end) comes; NULL on ENOMEM. */
static struct h1_head *msg_head(struct msg *m)
{
	if (!m->head)
		m->head = h1_head_new(m->dir == TCP_DIR_C2S);
	return m->head;
}

/* Add the header (or trailer) field collected so far. */
static int flush_field(struct msg *m)
{
	struct strbuf *name = &m->p->name, *value = &m->p->value;
	size_t vlen = value->len;
	int err = 0;

	if (!name->len && !vlen)
		return 0;
	while (vlen && (value->p[vlen - 1] == ' ' || value->p[vlen - 1] == '\t'))
		vlen--;
	if (!msg_head(m))
		err = -ENOMEM;
	else
		err = h1_head_add_field(m->head, m->trailing, sb_str(name), name->len,
					sb_str(value), vlen);
	name->len = value->len = 0;
	m->in_value = false;
	return err;
}

/* The body (and trailers) of a finished or cut message's head. */
static void msg_close_obj(struct msg *m)
{
	bool body;

	if (!m->head_made)
		return;
	body = (m->body.size || m->gap_bytes || m->cut) &&
	       (m->dir == TCP_DIR_C2S || conn_response_bodies(m->st->c));
	/* ENOMEM: the body is left out */
	h1_head_set_body(m->head, body ? &m->body : NULL,
			 h1_head_get(m->head, "content-encoding"), m->gap_bytes, m->cut);
}

/* ---- http_parser callbacks ---- */

static struct msg *msg_of(http_parser *hp)
{
	return hp->data;
}

/* A message starts at ts: its exchange (queued for a request, paired for a response). */
static int msg_begin(struct msg *m, uint64_t ts)
{
	struct h1 *st = m->st;
	struct xch *x;

	m->begun = true;
	m->ts_first = ts;
	if (m->dir == TCP_DIR_C2S) {
		st->resp_ahead = 0;
		x = enqueue(st);
		if (!x)
			return -1;
		x->req = HALF_PARSING;
		x->e->request_ts_ns = m->ts_first;
		m->x = x;
		return 0;
	}
	if (st->orphan) {
		x = st->orphan;
		st->orphan = NULL;
	} else if (st->owed || !first(st)) {
		if (st->owed)
			st->owed--;
		else
			st->resp_ahead++;
		x = xch_new(st);
		if (!x)
			return -1;
		x->orphan = true;
		x->req = HALF_MISSING;
		x->req_why = ENTRY_REASON_GAP;
	} else {
		x = first(st);
	}
	x->resp = HALF_PARSING;
	m->x = x;
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	struct msg *m = msg_of(hp);

	return msg_begin(m, m->st->ts_now);
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	return sb_add(&msg_of(hp)->p->line, at, n) ? -1 : 0;
}

static int on_status(http_parser *hp, const char *at, size_t n)
{
	return sb_add(&msg_of(hp)->p->line, at, n) ? -1 : 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct msg *m = msg_of(hp);

	m->line_done = true;
	if (m->trailing && (m->trailer_bytes += n) > HTTP1_HEAD_MAX)
		return -1;
	if (m->in_value && flush_field(m))
		return -1;
	return sb_add(&m->p->name, at, n) ? -1 : 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct msg *m = msg_of(hp);

	m->in_value = true;
	if (m->trailing && (m->trailer_bytes += n) > HTTP1_HEAD_MAX)
		return -1;
	return sb_add(&m->p->value, at, n) ? -1 : 0;
}

static void copy_upgrade_proto(struct xch *x, const char *v)
{
	size_t i = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	while (v[i] && v[i] != ',' && v[i] != ' ' && v[i] != '/' && i < sizeof(x->upgrade_proto) - 1) {
		x->upgrade_proto[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
		i++;
	}
	x->upgrade_proto[i] = 0;
}

/* The head complete (or cut after its start line): start line, version, headers, cookies,
 * content type. Whether it could be made. */
static bool head_make(struct msg *m, const char *line, size_t len)
{
	bool req = m->dir == TCP_DIR_C2S;

	return msg_head(m) &&
	       !h1_head_finish(m->head, req ? http_method_str(m->method) : NULL, m->status, line,
			       len, m->major, m->minor);
}

/* What http_parser knows of the start line and the framing, for a message it reads. */
static void msg_take_parser(struct msg *m)
{
	const http_parser *hp = &m->p->hp;

	m->method = hp->method;
	m->status = hp->status_code;
	m->major = hp->http_major;
	m->minor = hp->http_minor;
	m->upgrade = hp->upgrade;
	m->content_length = hp->content_length;
	m->is_chunked = hp->flags & F_CHUNKED;
}

/* The head is complete, its fields added and m's start-line members set (line: the target
 * or reason phrase): the entry's half, and the body's framing. -1 (the head could not be
 * made), 0, or 1: no body follows. */
static int head_complete(struct msg *m, const char *line, size_t len)
{
	struct xch *x = m->x;
	unsigned status = m->status;
	bool skip = false;

	if (!msg_head(m))
		return -1;
	m->head_done = true;
	if (m->dir == TCP_DIR_C2S) {
		const char *up;

		m->head_made = head_make(m, line, len);
		up = m->head_made ? h1_head_get(m->head, "upgrade") : NULL;
		x->method = m->method;
		x->method_known = true;
		if (up)
			copy_upgrade_proto(x, up);
		entry_version(x->e, m);
	} else {
		m->head_made = head_make(m, line, len);
		/* The request decides whether a body follows (RFC 9112 6.3). */
		if (x->method_known && x->method == HTTP_HEAD)
			skip = true;
		if (x->method_known && x->method == HTTP_CONNECT && status / 100 == 2)
			skip = true;
		/* Whatever Content-Length says (for 304 it is the representation's). */
		if (status / 100 == 1 || status == 204 || status == 304)
			skip = true;
		if (!skip && !m->is_chunked && m->content_length == UINT64_MAX &&
		    status / 100 != 1 && status != 204 && status != 304 &&
		    m->head_made && !h1_head_get(m->head, "transfer-encoding"))
			m->until_close = true;
	}
	if (!m->head_made)
		return -1;
	if (!skip && !m->is_chunked && m->content_length != UINT64_MAX &&
	    !h1_head_get(m->head, "transfer-encoding")) {
		m->body_known = true;
		m->body_left = m->content_length;
	}
	return skip ? 1 : 0;
}

static int on_headers_complete(http_parser *hp)
{
	struct msg *m = msg_of(hp);

	if (m->in_value || m->p->name.len)
		if (flush_field(m))
			return -1;
	msg_take_parser(m);
	return head_complete(m, sb_str(&m->p->line), m->p->line.len);
}

/* n body bytes (zeros standing for a gap's while gap_feed). */
static void body_take(struct msg *m, const uint8_t *p, size_t n)
{
	/* a length-framed body all in this piece (most small ones) */
	bool whole = m->body_known && !m->is_chunked && !m->body.size && n == m->body_left &&
		     n == m->content_length;

	if (m->body_known)
		m->body_left -= n < m->body_left ? n : m->body_left;
	if (m->gap_feed) {
		m->gap_bytes += n;
		return;
	}
	/* ENOMEM: counted, not kept */
	if (whole)
		http_body_append_whole(&m->body, p, n);
	else
		http_body_append(&m->body, p, n);
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	body_take(msg_of(hp), (const uint8_t *)at, n);
	return 0;
}

static int on_chunk_header(http_parser *hp)
{
	struct msg *m = msg_of(hp);

	if (hp->content_length == 0) {
		m->trailing = true;
		m->body_known = false;
		return 0;
	}
	m->body_known = true;
	m->body_left = hp->content_length;
	return 0;
}

static int on_chunk_complete(http_parser *hp)
{
	struct msg *m = msg_of(hp);

	m->body_known = false;
	m->body_left = 0;
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct msg *m = msg_of(hp);

	if ((m->in_value || m->p->name.len) && flush_field(m))
		return -1;
	m->done = true;
	/* Stop at the message's end: the caller starts the next one with a fresh parser. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
	.on_chunk_complete = on_chunk_complete,
};

/* ---- message ends ---- */

/* The rare members (upgrade, interim responses) go to the entry's tree: entry_fields() turns
 * the compact part into its first members. */
static void set_upgrade(struct xch *x, const char *proto)
{
	json_object_set_new_nocheck(entry_fields(x->e), "upgrade", json_string(proto));
}

static void add_interim(struct xch *x, struct msg *m)
{
	json_t *fields = entry_fields(x->e), *arr = json_object_get(fields, "interim"), *obj;
	char t[64]; /* entry.c writes up to 64 */

	if (!arr) {
		arr = json_array();
		if (!arr || json_object_set_new_nocheck(fields, "interim", arr))
			return;
	}
	if (json_array_size(arr) >= HTTP1_INTERIM_MAX) {
		json_t *n = json_object_get(fields, "interim_dropped");

		json_object_set_new_nocheck(fields, "interim_dropped",
				    json_integer(json_integer_value(n) + 1));
		return;
	}
	if (!m->head_made || !(obj = h1_head_tree(m->head)))
		return;
	entry_format_time(m->ts_first, t);
	json_object_set_new_nocheck(obj, "time", json_string(t));
	json_array_append_new(arr, obj);
}

/* Set the entry's "request" or "response" to the message's head, which it takes. */
static void set_half(struct xch *x, struct msg *m, bool response)
{
	if (!m->head_made)
		return;
	h1_entry_set(x->e, response, m->head); /* ENOMEM: the half is left out */
	m->head = NULL;
	m->head_made = false;
}

/* After a 101: hand the connection to http2 (h2c), or stop parsing it. */
static void switched(struct h1 *st, struct xch *x, struct msg *m, uint64_t ts_end)
{
	const char *up = m->head_made ? h1_head_get(m->head, "upgrade") : NULL;
	char proto[sizeof(x->upgrade_proto)];
	struct xch *rest;

	if (up) {
		struct xch tmp = { 0 };

		copy_upgrade_proto(&tmp, up);
		memcpy(proto, tmp.upgrade_proto, sizeof(proto));
	} else {
		memcpy(proto, x->upgrade_proto, sizeof(proto));
	}
	if (!proto[0])
		snprintf(proto, sizeof(proto), "unknown");
	set_upgrade(x, proto);
	unqueue(st, x);
	/* Exchanges pipelined after the upgrade request will not be answered in HTTP/1. */
	while ((rest = first(st)))
		response_lost(st, rest, ENTRY_REASON_CLOSED);
	st->tunnel = true;
	if (!strcmp(proto, "h2c") && st->in_parse && x->req == HALF_DONE && !x->orphan) {
		struct entry *e = x->e;

		add_interim(x, m);
		if (!conn_switch(st->c, "http2", e)) {
			x->e = NULL;
			json_alloc_free(x);
			return;
		}
		/* No http2 dissector: the entry ends with the 101. */
		json_object_del(entry_fields(e), "interim");
	}
	x->e->response_ts_ns = m->ts_first;
	x->e->response_end_ns = ts_end;
	x->e->response_size = m->wire;
	set_half(x, m, true);
	x->resp = HALF_DONE;
	xch_try_emit(st, x);
}

static void request_done(struct h1 *st, struct msg *m, uint64_t ts_end)
{
	struct xch *x = m->x;

	msg_close_obj(m);
	x->e->request_end_ns = ts_end;
	x->e->request_size = m->wire;
	set_half(x, m, false);
	x->req = HALF_DONE;
	if (m->upgrade)
		x->upgrade = true;
	m->x = NULL;
	/* The client waits for the answer before it speaks another protocol. */
	if (x->upgrade && x->queued)
		st->hold = x;
	xch_try_emit(st, x);
}

static void response_done(struct h1 *st, struct msg *m, uint64_t ts_end)
{
	struct xch *x = m->x;
	unsigned status = m->status;

	msg_close_obj(m);
	m->x = NULL;
	if (status == 101) {
		switched(st, x, m, ts_end);
		return;
	}
	if (status / 100 == 1) {
		add_interim(x, m);
		x->resp = HALF_WAIT;
		if (x->orphan)
			st->orphan = x;
		return;
	}
	x->e->response_ts_ns = m->ts_first;
	x->e->response_end_ns = ts_end;
	x->e->response_size = m->wire;
	set_half(x, m, true);
	x->resp = HALF_DONE;
	if (!x->e->version[0])
		entry_version(x->e, m);
	if (st->hold == x)
		st->hold = NULL;
	if (x->method_known && x->method == HTTP_CONNECT && status / 100 == 2) {
		unqueue(st, x);
		while (first(st))
			response_lost(st, first(st), ENTRY_REASON_CLOSED);
		st->tunnel = true;
		if (x->req == HALF_DONE && !x->orphan && st->m[TCP_DIR_C2S].x != x) {
			json_t *req = json_object_get(entry_fields(x->e), "request");
			struct entry *e = x->e;

			/* The tunnel emits the entry once it knows what it carries. */
			x->e = NULL;
			json_alloc_free(x);
			st->tun = tunnel_open(st->c, e, json_string_value(json_object_get(req, "url")));
			return;
		}
	}
	unqueue(st, x);
	xch_try_emit(st, x);
}

static void msg_done(struct h1 *st, struct msg *m, uint64_t ts_end)
{
	if (m->dir == TCP_DIR_C2S)
		request_done(st, m, ts_end);
	else
		response_done(st, m, ts_end);
	msg_reset(m);
}

/*
 * The message in progress cannot be finished (gap, malformed bytes, connection end): keep
 * what was understood, mark its half missing, and start over at the next message.
 */
static void msg_cut(struct h1 *st, struct msg *m, enum entry_missing_reason why, uint64_t ts)
{
	struct xch *x = m->x;

	if (!m->begun || !x) {
		msg_reset(m);
		return;
	}
	m->cut = true;
	/* A head cut after its start line: what came of it (the field being read is dropped). */
	if (!m->head_made && m->line_done && m->mode == MSG_HP) {
		msg_take_parser(m);
		m->head_made = head_make(m, sb_str(&m->p->line), m->p->line.len);
	}
	msg_close_obj(m);
	m->x = NULL;
	if (m->dir == TCP_DIR_C2S) {
		set_half(x, m, false);
		x->e->request_end_ns = ts;
		x->e->request_size = m->wire;
		x->req = HALF_MISSING;
		x->req_why = why;
		if (x->method_known && !x->e->version[0])
			entry_version(x->e, m);
		xch_try_emit(st, x);
	} else {
		if (m->head_made && m->status / 100 == 1)
			m->head_made = false; /* a cut interim response is not the answer */
		if (m->head_made) {
			set_half(x, m, true);
			x->e->response_ts_ns = m->ts_first;
			x->e->response_size = m->wire;
			x->e->response_end_ns = ts;
		}
		if (x->orphan) {
			x->resp = HALF_MISSING;
			x->resp_why = why;
			xch_try_emit(st, x);
		} else {
			response_lost(st, x, why);
		}
	}
	msg_reset(m);
}

/* ---- the fast path: a plain head scanned whole, its body framed here ---- */

/* Malformed or out of memory: cut the message, skip a byte, look for the next start. */
static size_t msg_fail(struct h1 *st, struct msg *m, size_t k, size_t n, uint64_t ts_last)
{
	conn_count_parse_error(st->c);
	msg_cut(st, m, ENTRY_REASON_PARSE_ERROR, ts_last);
	m->resync = true;
	return k < n ? k + 1 : k;
}

/*
 * A new message at p: its head scanned, its fields added and its framing set (MSG_FAST),
 * or, when the scan declines it or it is not all here, nothing consumed and the message
 * given to http_parser (MSG_HP). CR and LF before a message are consumed as http_parser
 * consumes them (counted in the message's bytes).
 */
static size_t fast_head(struct h1 *st, struct msg *m, const uint8_t *p, size_t n, uint64_t ts,
			uint64_t ts_last)
{
	size_t cap = HTTP1_HEAD_MAX - m->head_bytes, skip = 0, avail;
	struct h1_scan scan;
	int no_body;

	while (skip < n && skip < cap && (p[skip] == '\r' || p[skip] == '\n'))
		skip++;
	if (skip == n && skip < cap) {
		m->wire += skip;
		m->head_bytes += skip;
		return skip;
	}
	avail = (n < cap ? n : cap) - skip;
	if (!avail || h1_scan_head(p + skip, avail, m->dir == TCP_DIR_C2S, &scan) != H1_SCAN_OK)
		return msg_parser_start(m) ? msg_fail(st, m, 0, n, ts_last) : 0;
	m->mode = MSG_FAST;
	m->wire += skip;
	m->head_bytes += skip;
	if (msg_begin(m, ts) || !msg_head(m))
		return msg_fail(st, m, skip, n, ts_last);
	p += skip;
	m->line_done = true;
	m->method = scan.method;
	m->status = scan.status;
	m->major = scan.major;
	m->minor = scan.minor;
	m->content_length = scan.content_length;
	m->is_chunked = scan.chunked;
	for (unsigned i = 0; i < scan.n_fields; i++) {
		const struct h1_scan_field *f = &scan.fields[i];

		if (h1_head_add_token_field(m->head, (const char *)p + f->name.off, f->name.len,
					    (const char *)p + f->value.off, f->value.len))
			return msg_fail(st, m, skip, n, ts_last);
	}
	m->wire += scan.head_len;
	m->head_bytes += scan.head_len;
	no_body = head_complete(m, (const char *)p + scan.line.off, scan.line.len);
	if (no_body < 0)
		return msg_fail(st, m, skip, n, ts_last);
	/* http_parser's framing (its s_headers_done), less what the scan declines. */
	if (no_body || (!m->is_chunked && (m->content_length == 0 ||
					   (m->content_length == UINT64_MAX && !m->until_close)))) {
		m->done = true;
		msg_done(st, m, ts_last);
	} else {
		m->fb = m->is_chunked ? FB_CHUNK_SIZE :
			m->content_length != UINT64_MAX ? FB_LENGTH : FB_EOF;
	}
	return skip + scan.head_len;
}

static const http_parser_settings no_callbacks;

/* Give the rest of a fast message's chunked body to http_parser, put by a head of its own
 * (and a last chunk, for trailers) where the message is: at a chunk-size line. */
static int msg_parser_prime(struct msg *m, bool trailers)
{
	static const char req[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	bool c2s = m->dir == TCP_DIR_C2S;

	if (msg_parser_start(m))
		return -ENOMEM;
	http_parser_execute(&m->p->hp, &no_callbacks, c2s ? req : resp,
			    (c2s ? sizeof(req) : sizeof(resp)) - 1);
	if (trailers)
		http_parser_execute(&m->p->hp, &no_callbacks, "0\r\n", 3);
	return 0;
}

static int hex_digit(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b |= 0x20;
	return b >= 'a' && b <= 'f' ? b - 'a' + 10 : -1;
}

/* A fast message's body. Returns the bytes consumed: up to its end (then it is done), or
 * all, or up to where http_parser takes over (mode MSG_HP: a chunk-size line that is not
 * plain or not all here, trailers). */
static size_t fast_body(struct h1 *st, struct msg *m, const uint8_t *p, size_t n, uint64_t ts_last)
{
	size_t i = 0, take, j;
	uint64_t size;

	while (i < n && m->mode == MSG_FAST) {
		switch (m->fb) {
		case FB_EOF:
			body_take(m, p + i, n - i);
			i = n;
			break;
		case FB_LENGTH:
		case FB_CHUNK_DATA:
			take = n - i < m->body_left ? n - i : (size_t)m->body_left;
			body_take(m, p + i, take);
			i += take;
			if (m->body_left)
				break;
			if (m->fb == FB_LENGTH)
				goto done;
			m->fb = FB_CHUNK_CRLF;
			m->crlf_left = 2;
			break;
		case FB_CHUNK_CRLF:
			take = n - i < m->crlf_left ? n - i : m->crlf_left;
			i += take;
			m->crlf_left -= (unsigned)take;
			if (!m->crlf_left) { /* on_chunk_complete */
				m->body_known = false;
				m->body_left = 0;
				m->fb = FB_CHUNK_SIZE;
			}
			break;
		case FB_CHUNK_SIZE:
			size = 0;
			for (j = i; j < n && j - i < 15 && hex_digit(p[j]) >= 0; j++)
				size = size * 16 + (uint64_t)hex_digit(p[j]);
			if (j == i || j + 1 >= n || p[j] != '\r' || p[j + 1] != '\n') {
				if (msg_parser_prime(m, false))
					goto fail;
				break;
			}
			i = j + 2;
			if (!size) { /* on_chunk_header of the last chunk */
				m->trailing = true;
				m->body_known = false;
				m->fb = FB_TRAILER;
			} else {
				m->body_known = true;
				m->body_left = size;
				m->fb = FB_CHUNK_DATA;
			}
			break;
		case FB_TRAILER:
			if (n - i < 2 || p[i] != '\r' || p[i + 1] != '\n') {
				if (msg_parser_prime(m, true))
					goto fail;
				break;
			}
			i += 2;
			goto done;
		}
	}
	m->wire += i;
	return i;
done:
	m->wire += i;
	m->body_known = false;
	m->body_left = 0;
	m->done = true;
	msg_done(st, m, ts_last);
	return i;
fail:
	m->wire += i;
	return i + msg_fail(st, m, 0, n - i, ts_last);
}

/* A fast message's body bytes lost in a gap: count missing of them (at most body_left). */
static void fast_gap(struct msg *m, uint64_t missing)
{
	m->gap_bytes += missing;
	m->wire += missing;
	m->body_left -= missing;
	if (m->body_left)
		return;
	if (m->fb == FB_LENGTH) {
		m->done = true;
	} else {
		m->fb = FB_CHUNK_CRLF;
		m->crlf_left = 2;
	}
}

/* ---- feeding a parser ---- */

/*
 * Run the parser over (p, n) up to the end of one message. Returns bytes consumed; on
 * malformed input the message is cut and the direction resynchronises.
 */
static size_t parser_run(struct h1 *st, struct msg *m, const uint8_t *p, size_t n,
			 uint64_t ts_last)
{
	size_t len = n, k;
	bool head_before = m->head_done;
	enum http_errno err;

	if (!m->head_done && len > HTTP1_HEAD_MAX - m->head_bytes)
		len = HTTP1_HEAD_MAX - m->head_bytes;
	k = http_parser_execute(&m->p->hp, &settings, (const char *)p, len);
	if (k > len)
		k = len;
	m->wire += k;
	if (!head_before)
		m->head_bytes += k;
	err = HTTP_PARSER_ERRNO(&m->p->hp);
	if (err == HPE_PAUSED && m->done) {
		msg_done(st, m, ts_last);
		return k;
	}
	if (err == HPE_OK && (m->head_done || m->head_bytes < HTTP1_HEAD_MAX))
		return k;
	/* Malformed (or a head too long): skip the offending byte and look for a start. */
	return msg_fail(st, m, k, n, ts_last);
}

/* Run over (p, n) up to the end of one message: fast where it can, else http_parser. */
static size_t msg_run(struct h1 *st, struct msg *m, const uint8_t *p, size_t n, uint64_t ts,
		      uint64_t ts_last)
{
	size_t used = 0;

	st->ts_now = ts;
	if (m->mode == MSG_NEW) {
		used = fast_head(st, m, p, n, ts, ts_last);
		if (m->mode == MSG_NEW)
			return used; /* done, failed, or only CR/LF */
	}
	if (m->mode == MSG_FAST) {
		used += fast_body(st, m, p + used, n - used, ts_last);
		if (m->mode != MSG_HP)
			return used;
	}
	return used + parser_run(st, m, p + used, n - used, ts_last);
}

/* Give the parser `count` zero bytes for body bytes lost in a gap (they are not kept). */
static void feed_gap(struct h1 *st, struct msg *m, uint64_t count, uint64_t ts)
{
	static const uint8_t zeros[16384];

	m->gap_feed = true;
	while (count && !m->done) {
		size_t n = count < sizeof(zeros) ? (size_t)count : sizeof(zeros);
		size_t k;

		st->ts_now = ts;
		k = http_parser_execute(&m->p->hp, &settings, (const char *)zeros, n);
		m->wire += k;
		count -= k;
		if (HTTP_PARSER_ERRNO(&m->p->hp) != HPE_OK || k < n)
			break;
	}
	m->gap_feed = false;
}

/* ---- the dissector ---- */

static void *h1_open(struct conn *c, void *handover)
{
	struct h1 *st = calloc(1, sizeof(*st));
	const struct tcp_flow_info *info = conn_info(c);
	bool mid = info->role != TCP_ROLE_SYN && info->role != TCP_ROLE_SYNACK;
	int d;

	(void)handover;
	if (!st)
		return NULL;
	st->c = c;
	for (d = 0; d < 2; d++) {
		struct msg *m = &st->m[d];

		m->st = st;
		m->dir = d;
		/* Response bodies not shown are counted, not kept. */
		http_body_init(&m->body, d == TCP_DIR_S2C && !conn_response_bodies(c) ?
						 0 : conn_body_max(c));
		msg_reset(m);
		/* Picked up mid-stream: the first bytes may be the middle of a message. */
		m->resync = mid;
	}
	return st;
}

static size_t h1_parse(void *vst, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
		       uint64_t ts, uint64_t ts_last)
{
	struct h1 *st = vst;
	struct msg *m = &st->m[dir];
	size_t k;

	st->c = c;
	if (st->tunnel) {
		if (st->tun)
			tunnel_data(st->tun, dir, p, n, ts);
		return n;
	}
	if (dir == TCP_DIR_C2S && st->hold)
		return 0;
	if (m->resync) {
		bool found;

		k = resync_scan(m, p, n, &found);
		if (!found || k)
			return k;
		m->resync = false;
	}
	st->in_parse = true;
	k = msg_run(st, m, p, n, ts, ts_last);
	st->in_parse = false;
	return k;
}

static void h1_gap(void *vst, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct h1 *st = vst;
	struct msg *m = &st->m[dir];

	st->c = c;
	if (st->tun)
		tunnel_gap(st->tun, dir, missing, ts);
	if (st->tunnel || !missing)
		return;
	if (dir == TCP_DIR_C2S && st->hold)
		st->hold = NULL; /* the held bytes went with the gap */
	if (m->begun && m->head_done && !m->resync) {
		uint64_t skip = 0;

		if (m->body_known)
			skip = missing < m->body_left ? missing : m->body_left;
		else if (m->until_close)
			skip = missing;
		if (skip && m->until_close && !m->body_known) {
			/* The body runs to the connection's end: just count the hole. */
			m->gap_bytes += skip;
			m->wire += skip;
		} else if (skip && m->mode == MSG_FAST) {
			fast_gap(m, skip);
			if (m->done)
				msg_done(st, m, ts);
		} else if (skip) {
			feed_gap(st, m, skip, ts);
			if (m->done && HTTP_PARSER_ERRNO(&m->p->hp) == HPE_PAUSED)
				msg_done(st, m, ts);
		}
		missing -= skip;
		if (!missing && !m->resync)
			return;
	}
	if (m->begun) {
		msg_cut(st, m, ENTRY_REASON_GAP, ts);
		m->resync = true;
		return;
	}
	/* At a message boundary: at least one message start was lost. */
	m->resync = true;
	if (dir == TCP_DIR_C2S) {
		struct xch *x;

		if (st->resp_ahead) {
			/* Its response came already (it was emitted without a request). */
			st->resp_ahead--;
			return;
		}
		x = enqueue(st);
		if (x) {
			x->req = HALF_MISSING;
			x->req_why = ENTRY_REASON_GAP;
		}
	} else if (st->orphan) {
		struct xch *x = st->orphan;

		st->orphan = NULL;
		x->resp = HALF_MISSING;
		x->resp_why = ENTRY_REASON_GAP;
		xch_try_emit(st, x);
	} else if (first(st)) {
		/* The oldest request's response was in the hole. */
		response_lost(st, first(st), ENTRY_REASON_GAP);
	}
}

static void h1_close(void *vst, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct h1 *st = vst;
	enum entry_missing_reason r = conn_end_reason(why);
	struct msg *s2c = &st->m[TCP_DIR_S2C], *c2s = &st->m[TCP_DIR_C2S];

	st->c = c;
	tunnel_close(st->tun, why, ts);
	st->tun = NULL;
	if (s2c->begun && !s2c->resync) {
		if (s2c->until_close && (why == CONN_END_FIN || conn_fin_seen(c, TCP_DIR_S2C))) {
			/* The end of the connection (the server's FIN, whether or not the client's
			 * came before the capture ended) is the end of this body. */
			if (s2c->mode == MSG_FAST)
				s2c->done = true; /* FB_EOF */
			else
				http_parser_execute(&s2c->p->hp, &settings, NULL, 0);
			if (s2c->done)
				msg_done(st, s2c, ts);
		}
		if (s2c->begun)
			msg_cut(st, s2c, r, ts);
	}
	if (c2s->begun)
		msg_cut(st, c2s, r, ts);
	if (st->orphan) {
		struct xch *x = st->orphan;

		st->orphan = NULL;
		x->resp = HALF_MISSING;
		x->resp_why = r;
		xch_try_emit(st, x);
	}
	while (first(st))
		response_lost(st, first(st), r);
}

static void h1_free(void *vst)
{
	struct h1 *st = vst;
	struct xch *x;
	int d;

	if (!st)
		return;
	/* Not reached with a tunnel open (close() comes first, and a tunnel never switches):
	 * kept so that nothing leaks whatever the order. */
	tunnel_close(st->tun, CONN_END_END_OF_INPUT, 0);
	for (d = 0; d < 2; d++) {
		x = st->m[d].x;
		st->m[d].x = NULL;
		if (x && !x->queued && x != st->orphan && x != st->m[!d].x)
			xch_free(x);
		msg_free(&st->m[d]);
	}
	while ((x = xch_of(pending_pop(&st->pending))))
		xch_free(x);
	if (st->orphan && !st->orphan->queued)
		xch_free(st->orphan);
	free(st);
}

/*
 * For the engine's memory budget (dissector.h, mem()). Exact for the byte buffers, the
 * structs and the heads being parsed; estimated for each waiting request's fields:
 * HTTP1_XCH_JSON_BYTES (a short request's head, its arena and field array).
 */
#define HTTP1_XCH_JSON_BYTES 768u
#define HTTP1_XCH_BYTES (sizeof(struct xch) + sizeof(struct entry) + HTTP1_XCH_JSON_BYTES)

static size_t h1_mem(const void *vst)
{
	const struct h1 *st = vst;
	size_t n = sizeof(*st) + st->pending.n * HTTP1_XCH_BYTES;

	for (int d = 0; d < 2; d++) {
		const struct msg *m = &st->m[d];
		size_t body = 2 * m->body.len < m->body.max ? 2 * m->body.len : m->body.max;

		n += body > m->body.len ? body : m->body.len;
		if (m->p)
			n += sizeof(*m->p) + m->p->line.cap + m->p->name.cap + m->p->value.cap;
		n += h1_head_mem(m->head);
	}
	return n;
}

const struct dissector dissector_http1 = {
	.name = "http1",
	.protocol = "http", /* its descriptor: lib/core/protocols/http.c */
	.detect = h1_detect,
	.open = h1_open,
	.parse = h1_parse,
	.gap = h1_gap,
	.close = h1_close,
	.free = h1_free,
	.mem = h1_mem,
};
