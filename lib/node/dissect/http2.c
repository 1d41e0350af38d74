// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/2 dissector (http2.h, docs/http2.md). Facts from RFC 9113 (framing, streams,
 * errors) and RFC 7541 (HPACK, decoded by hpack.c).
 *
 * Each direction is read as a sequence of frames with a small state machine: the 9-byte
 * frame header (the only thing left to the engine's buffer), a fixed prefix of the payload
 * (pad length, priority, promised stream, control frame fields; at most PRE_MAX bytes),
 * the variable part (DATA bytes, header block fragments), then padding. Everything after
 * the frame header is consumed as it arrives, so no frame needs to be buffered whole; a
 * header block's fragments are gathered (bounded) and decoded at its end by hpack.c, which
 * tolerates dynamic-table entries it never saw.
 *
 * A direction whose frame boundaries are not known (picked up mid-connection, or after a
 * gap that cut a frame header) is "out of sync": bytes are skipped until a chain of
 * plausible frame headers starts (frame_chain), then reading goes on from there.
 */
#include "dissect/http2.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/byte_reader.h"
#include "dissect/grpc.h"
#include "dissect/hpack.h"
#include "dissect/http1_fields.h"
#include "dissect/http_common.h"
#include "dissect/tunnel.h"

#define PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24u
#define FRAME_HDR   9u
#define PRE_MAX     96u /* SETTINGS: the first 16 settings of a frame are looked at */
#define BUCKETS     64u
/* SETTINGS_MAX_FRAME_SIZE's initial value: frames longer than the receiver allowed are not
 * taken for frames when looking for frame boundaries. */
#define MAX_FRAME_DEFAULT 16384u
/* Chained frame headers that make frames believable without ending at the end of the
 * bytes at hand (frame_chain). */
#define CHAIN_FRAMES 3u
/* Unknown header references listed per half (the rest are counted). */
#define UNKNOWN_LISTED 64u
/* Ranges of stream ids whose requests may have been lost (mid-connection start, gaps). */
#define LOST_RANGES 8u
/* Stream ids remembered that carried only PRIORITY so far. */
#define PRIORITY_IDS 64u

enum frame_type {
	F_DATA = 0,
	F_HEADERS,
	F_PRIORITY,
	F_RST_STREAM,
	F_SETTINGS,
	F_PUSH_PROMISE,
	F_PING,
	F_GOAWAY,
	F_WINDOW_UPDATE,
	F_CONTINUATION,
};

#define FL_END_STREAM  0x01
#define FL_ACK         0x01
#define FL_END_HEADERS 0x04
#define FL_PADDED      0x08
#define FL_PRIORITY    0x20

#define SETTINGS_HEADER_TABLE_SIZE 1
#define SETTINGS_MAX_FRAME_SIZE    5

/* One direction of a stream: the request (TCP_DIR_C2S) or the response. */
struct half {
	struct h1_head *hd; /* its first head, later blocks as trailers (http1_fields.h) */
	struct http_body body;
	struct grpc_messages *grpc;
	uint64_t ts, end_ts, size;
	uint64_t lost;         /* DATA bytes lost in capture gaps */
	json_t *unknown;       /* header fields that refer to dynamic-table entries never seen */
	bool head, ended, headers_truncated, headers_partial;
};

struct stream {
	uint32_t id;
	uint32_t assoc;            /* pushed: the stream the PUSH_PROMISE came on */
	struct stream *hnext;      /* hash chain */
	struct stream *older, *newer;
	struct entry *handover;    /* h2c: the HTTP/1.1 upgrade request's entry */
	char *path;                /* :path (gRPC service and method) */
	json_t *interim;           /* 1xx responses, as HTTP/1 entries list them */
	struct half h[2];
	bool grpc, pushed, rst, goaway;
	bool gap_hit;              /* open while bytes of the connection were lost */
	bool lost_request;         /* created from a response whose request was not seen */
	size_t kept;               /* its share of h2.kept */
	uint32_t rst_error;
	enum tcp_dir rst_by;
	/* An accepted CONNECT (see "tunnels"): its entry is out, its DATA goes to tun (NULL:
	 * not dissected) until the stream ends. */
	bool tunnel;
	struct tunnel *tun;
};

/* The header block being received in one direction. */
struct block {
	bool active;
	bool first;       /* no fragment byte seen yet */
	bool end_stream;
	bool truncated;
	bool cut;         /* bytes of the block were lost: decoded up to there */
	bool partial;     /* fields refer to dynamic-table entries never seen, or were lost */
	bool hpack_error; /* the block did not decode (malformed, or misread framing) */
	uint8_t type;     /* F_HEADERS or F_PUSH_PROMISE */
	uint32_t sid, promised;
	uint64_t ts;
	uint64_t frame_bytes; /* payload bytes of its frames */
	uint8_t *frag;        /* the fragments gathered (at most HTTP2_HEADER_BLOCK_MAX) */
	size_t frag_len, frag_cap;
	size_t kept;
	struct h1_head *hd; /* its fields (request or response head: known at its end) */
	json_t *unknown;
};

struct dir {
	struct hpack_table hp; /* the dynamic table of this direction's encoder */
	uint32_t max_frame; /* the largest frame the receiver allowed (its SETTINGS) */
	bool started;       /* the first bytes (or a gap) came: the table's state is decided */
	bool synced;        /* frame boundaries are known */
	bool lossy;         /* bytes of this direction were lost (or came before the capture) */
	bool preface;       /* C2S: the connection preface is behind us */
	/* the frame being read */
	bool in_frame, pre_done, skip;
	uint8_t type, flags;
	uint32_t len, sid, pos, pre_len, body_end;
	uint64_t ts;
	uint8_t pre[PRE_MAX];
	struct block blk;
};

struct h2 {
	struct dir d[2];
	struct stream *bucket[BUCKETS];
	struct stream *oldest, *newest;
	unsigned nstreams;
	uint32_t max_sid[2]; /* highest stream opened by the client (odd) and by push (even) */
	size_t body_max;
	bool response_bodies; /* conn_response_bodies(): otherwise response bytes are only counted */
	size_t kept;         /* decoded header and body bytes held (HTTP2_CONN_KEPT_MAX) */
	size_t grpc_held;    /* what the streams' gRPC states hold (grpc_messages_mem) */
	size_t body_cap;     /* bytes the streams' bodies have allocated (their held_sum) */
	/* client stream ids in (lo, hi) whose requests were not seen (hi 0: no bound yet) */
	uint32_t lost_lo[LOST_RANGES], lost_hi[LOST_RANGES];
	unsigned nlost;
	uint32_t prio_ids[PRIORITY_IDS]; /* streams that carried only PRIORITY so far */
	unsigned nprio;
	struct http2_conn_stats st;
	unsigned ntunnels;   /* streams with an open tun (HTTP2_MAX_TUNNELS) */
	uint64_t now;        /* the newest timestamp seen (a tunnel's end) */
};

const char *http2_error_name(uint32_t code)
{
	static const char *const names[] = {
		"NO_ERROR",         "PROTOCOL_ERROR",      "INTERNAL_ERROR",
		"FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",  "STREAM_CLOSED",
		"FRAME_SIZE_ERROR", "REFUSED_STREAM",      "CANCEL",
		"COMPRESSION_ERROR", "CONNECT_ERROR",      "ENHANCE_YOUR_CALM",
		"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : NULL;
}

/* The standard reason phrase (RFC 9110 15): HTTP/2 carries none. */
static const char *status_text(int code)
{
	switch (code) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 511: return "Network Authentication Required";
	}
	return "";
}

/* ---- detection and frame boundaries ---- */

/*
 * Could p (9 bytes) be a frame header a peer sent? Only the rules a sender must follow
 * (RFC 9113 4.1, 6.x): a known type, no undefined flag, the stream id's reserved bit clear,
 * stream 0 exactly for the connection frames, the fixed lengths of PRIORITY, RST_STREAM,
 * PING, WINDOW_UPDATE and SETTINGS, and no more than the receiver allowed. Extension
 * frame types are not taken: boundaries are looked for where they are sure.
 */
static bool frame_header_plausible(const uint8_t *p, uint32_t max_frame)
{
	uint32_t len = be24_at(p), sid = be32_at(p + 5);
	uint8_t type = p[3], fl = p[4];

	if (len > max_frame || (sid & 0x80000000u))
		return false;
	switch (type) {
	case F_DATA:
		return sid && !(fl & ~(FL_END_STREAM | FL_PADDED)) &&
		       len >= (fl & FL_PADDED ? 1u : 0u);
	case F_HEADERS:
		return sid && !(fl & ~(FL_END_STREAM | FL_END_HEADERS | FL_PADDED | FL_PRIORITY)) &&
		       len >= (fl & FL_PADDED ? 1u : 0u) + (fl & FL_PRIORITY ? 5u : 0u);
	case F_PRIORITY:
		return sid && !fl && len == 5;
	case F_RST_STREAM:
		return sid && !fl && len == 4;
	case F_SETTINGS:
		return !sid && !(fl & ~FL_ACK) && (fl & FL_ACK ? len == 0 : len % 6 == 0);
	case F_PUSH_PROMISE:
		return sid && !(fl & ~(FL_END_HEADERS | FL_PADDED)) &&
		       len >= 4u + (fl & FL_PADDED ? 1u : 0u);
	case F_PING:
		return !sid && !(fl & ~FL_ACK) && len == 8;
	case F_GOAWAY:
		return !sid && !fl && len >= 8;
	case F_WINDOW_UPDATE:
		return !fl && len == 4;
	case F_CONTINUATION:
		return sid && !(fl & ~FL_END_HEADERS);
	}
	return false;
}

enum chain { CHAIN_NO, CHAIN_MORE, CHAIN_YES };

/*
 * Do frames start at p? Follows frame headers from p: CHAIN_YES when every header is
 * plausible and the frames end exactly at p + n (senders write whole frames, so bytes at
 * hand often end with one), or CHAIN_FRAMES plausible headers follow each other (the last
 * frame may go on past n); CHAIN_MORE when all seen so far are plausible but the bytes end
 * before that is decided; CHAIN_NO otherwise.
 * Frames continuing a header block must be CONTINUATIONs of its stream (6.10).
 */
static enum chain frame_chain(const uint8_t *p, size_t n, uint32_t max_frame)
{
	size_t off = 0;
	unsigned whole = 0, headers = 0;
	uint32_t block_sid = 0;

	while (off + FRAME_HDR <= n) {
		const uint8_t *h = p + off;
		uint8_t type = h[3];
		uint32_t sid = be32_at(h + 5);

		if (!frame_header_plausible(h, max_frame))
			return CHAIN_NO;
		if (block_sid ? type != F_CONTINUATION || sid != block_sid : type == F_CONTINUATION && whole)
			return CHAIN_NO;
		if (type == F_HEADERS || type == F_PUSH_PROMISE || type == F_CONTINUATION)
			block_sid = h[4] & FL_END_HEADERS ? 0 : sid;
		if (++headers >= CHAIN_FRAMES)
			return CHAIN_YES;
		off += FRAME_HDR + be24_at(h);
		if (off > n)
			return CHAIN_MORE;
		whole++;
		if (off == n)
			return CHAIN_YES;
	}
	return CHAIN_MORE;
}

static enum detect_result h2_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	if (!n)
		return DETECT_MAYBE;
	if (dir == TCP_DIR_C2S && !memcmp(p, PREFACE, n < PREFACE_LEN ? n : PREFACE_LEN))
		return n >= PREFACE_LEN ? DETECT_YES : DETECT_MAYBE;
	/*
	 * Frames: a server's first SETTINGS (RFC 9113 3.4), or either side picked up in the
	 * middle of a connection, recognised by the structure of its frames. Their lengths
	 * are at most 16 KiB here, so the first byte is 0: text protocols, TLS, AMQP never
	 * start so; a chain of exact lengths and types is required of the binary ones.
	 */
	if (p[0] != 0)
		return DETECT_NO;
	switch (frame_chain(p, n, MAX_FRAME_DEFAULT)) {
	case CHAIN_YES:
		return DETECT_YES;
	case CHAIN_MORE:
		return DETECT_MAYBE;
	default:
		return DETECT_NO;
	}
}

/* ---- streams ---- */

static struct stream *stream_find(struct h2 *h, uint32_t id)
{
	struct stream *s;

	for (s = h->bucket[id % BUCKETS]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static void half_free(struct half *hf)
{
	h1_head_free(hf->hd);
	json_decref(hf->unknown);
	http_body_reset(&hf->body);
	if (hf->grpc) {
		grpc_messages_free(hf->grpc);
		free(hf->grpc);
	}
}

static void stream_unlink(struct h2 *h, struct stream *s)
{
	struct stream **pp = &h->bucket[s->id % BUCKETS];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	if (s->older)
		s->older->newer = s->newer;
	else
		h->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		h->newest = s->older;
	h->nstreams--;
}

static void stream_free(struct h2 *h, struct stream *s)
{
	/* a tunnel still open here: the connection goes without close() (h2_free) */
	tunnel_close(s->tun, CONN_END_END_OF_INPUT, h->now);
	h->kept -= s->kept;
	half_free(&s->h[0]);
	half_free(&s->h[1]);
	entry_free(s->handover);
	json_decref(s->interim);
	free(s->path);
	free(s);
}

/*
 * The stream's entry (NULL on ENOMEM). why: the reason given to a missing half (RST_STREAM
 * and GOAWAY override it with ENTRY_REASON_STREAM_RESET; a stream that bytes were lost from
 * says ENTRY_REASON_GAP).
 */
static struct entry *stream_entry(struct conn *c, struct stream *s, enum entry_missing_reason why,
				  bool tunnel)
{
	struct half *rq = &s->h[0], *rs = &s->h[1];
	struct entry *e = s->handover;
	json_t *f, *g = NULL;

	s->handover = NULL;
	if (!e)
		e = conn_entry_new(c);
	if (!e)
		return NULL;
	e->protocol = s->grpc ? "grpc" : "http";
	memcpy(e->version, "2", 2);
	e->stream_id = s->id;
	if (s->grpc) {
		/* before the heads go to the entry: gRPC reads their fields */
		json_t *rqh = rq->hd ? h1_head_fields_tree(rq->hd, false) : NULL;
		json_t *rsh = rs->hd ? h1_head_fields_tree(rs->hd, false) : NULL;
		json_t *rst = rs->hd && h1_head_fields(rs->hd, true)
				  ? h1_head_fields_tree(rs->hd, true)
				  : NULL;

		g = grpc_call_json(s->path, rqh, rsh, rst, rq->grpc, rs->grpc);
		json_decref(rqh);
		json_decref(rsh);
		json_decref(rst);
	}
	if (rq->hd) {
		/* Without response bodies (text output) an empty request body is not shown either:
		 * nothing reads it (GraphQL finds nothing in an empty body). A tunnel's bytes
		 * are no bodies. */
		bool body =
		    !tunnel && (rq->body.size || rq->lost || s->grpc || conn_response_bodies(c));

		h1_head_end_h2(rq->hd, body ? &rq->body : NULL, s->grpc, rq->lost,
			       rq->headers_truncated, rq->headers_partial, rq->unknown);
		rq->unknown = NULL;
		h1_entry_set(e, false, rq->hd); /* ENOMEM: the half is left out */
		rq->hd = NULL;
		e->request_ts_ns = rq->ts;
		e->request_end_ns = rq->end_ts;
		e->request_size = rq->size;
	} else if (json_object_get(e->fields, "request")) {
		/* h2c: the upgrade request came over HTTP/1.1 and keeps its own fields */
		if (!json_object_get(e->fields, "upgrade"))
			json_object_set_new(entry_fields_rw(e), "upgrade", json_string("h2c"));
	}
	if (rs->hd) {
		h1_head_end_h2(
		    rs->hd, !tunnel && (s->grpc || conn_response_bodies(c)) ? &rs->body : NULL,
		    s->grpc, rs->lost, rs->headers_truncated, rs->headers_partial, rs->unknown);
		rs->unknown = NULL;
		h1_entry_set(e, true, rs->hd);
		rs->hd = NULL;
	}
	/* the members after the heads (with a compact part, e->fields holds only those); the
	 * object is made only when one of them is there */
	f = s->interim || s->pushed || s->rst || s->goaway || g ? entry_fields_rw(e) : e->fields;
	if (rs->ts) {
		e->response_ts_ns = rs->ts;
		e->response_end_ns = rs->end_ts;
		e->response_size = rs->size;
	}
	if (s->interim) {
		/* h2c: the 101 is already there */
		json_t *have = json_object_get(f, "interim");

		if (json_is_array(have))
			json_array_extend(have, s->interim);
		else
			json_object_set(f, "interim", s->interim);
	}
	if (s->pushed) {
		json_object_set_new(f, "pushed", json_true());
		if (s->assoc) /* 0: its PUSH_PROMISE was lost */
			json_object_set_new(f, "promised_on_stream", json_integer(s->assoc));
	}
	if (s->rst) {
		const char *name = http2_error_name(s->rst_error);
		char buf[16];

		if (!name) {
			snprintf(buf, sizeof(buf), "0x%x", s->rst_error);
			name = buf;
		}
		json_object_set_new(f, "rst_error", json_string(name));
		json_object_set_new(f, "rst_by",
				    json_string(s->rst_by == TCP_DIR_C2S ? "client" : "server"));
	}
	if (s->goaway)
		json_object_set_new(f, "goaway", json_true());
	if (g)
		json_object_set_new(f, "grpc", g);
	if (!rq->head)
		e->missing = ENTRY_MISSING_REQUEST;
	else if (!rs->ended || !rs->head) /* a response whose head a gap took is missing */
		e->missing = rs->head ? ENTRY_INCOMPLETE_RESPONSE : ENTRY_MISSING_RESPONSE;
	if (!e->missing && s->gap_hit && !rq->ended)
		e->missing = ENTRY_INCOMPLETE_REQUEST; /* its end was lost, the response came */
	if (e->missing != ENTRY_COMPLETE)
		e->missing_reason = s->rst || s->goaway		   ? ENTRY_REASON_STREAM_RESET
				    : s->gap_hit || s->lost_request ? ENTRY_REASON_GAP
								    : why;
	return e;
}

static void tunnel_stream_end(struct h2 *h, struct stream *s, enum entry_missing_reason why);

/* Emit the stream's entry and forget the stream (a tunnel's stream: end the tunnel). */
static void stream_emit(struct h2 *h, struct conn *c, struct stream *s,
			enum entry_missing_reason why)
{
	struct entry *e;

	stream_unlink(h, s);
	if (s->tunnel) {
		/* its entry went out at the 2xx: the tunnel ends with the stream */
		tunnel_stream_end(h, s, why);
		stream_free(h, s);
		return;
	}
	e = stream_entry(c, s, why, false);
	stream_free(h, s);
	if (e)
		conn_emit(c, e);
}

static void half_init(struct h2 *h, struct half *hf)
{
	http_body_init(&hf->body, h->body_max);
	hf->body.held_sum = &h->body_cap;
}

/* A tracked stream for id; the oldest is emitted incomplete when the table is full. */
static struct stream *stream_new(struct h2 *h, struct conn *c, uint32_t id)
{
	struct stream *s;

	if (h->nstreams >= HTTP2_MAX_STREAMS && h->oldest) {
		h->st.streams_evicted++;
		stream_emit(h, c, h->oldest, ENTRY_REASON_TIMEOUT);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	half_init(h, &s->h[0]);
	half_init(h, &s->h[1]);
	s->hnext = h->bucket[id % BUCKETS];
	h->bucket[id % BUCKETS] = s;
	s->older = h->newest;
	if (h->newest)
		h->newest->newer = s;
	else
		h->oldest = s;
	h->newest = s;
	h->nstreams++;
	if (h->max_sid[id & 1 ? 0 : 1] < id)
		h->max_sid[id & 1 ? 0 : 1] = id;
	return s;
}

static void emit_all(struct h2 *h, struct conn *c, enum entry_missing_reason why)
{
	while (h->oldest)
		stream_emit(h, c, h->oldest, why);
}

static void protocol_error(struct h2 *h, struct conn *c)
{
	h->st.protocol_errors++;
	conn_count_parse_error(c);
}

/* Client stream ids above lo may have had their requests lost (until the next one seen). */
static void lost_range_open(struct h2 *h, uint32_t lo)
{
	unsigned i;

	if (h->nlost && !h->lost_hi[h->nlost - 1]) {
		/* still open: the lower bound stands */
		return;
	}
	if (h->nlost == LOST_RANGES) {
		/* merge the two oldest: a wider range only admits more late responses */
		h->lost_hi[0] = h->lost_hi[1];
		for (i = 1; i + 1 < LOST_RANGES; i++) {
			h->lost_lo[i] = h->lost_lo[i + 1];
			h->lost_hi[i] = h->lost_hi[i + 1];
		}
		h->nlost--;
	}
	h->lost_lo[h->nlost] = lo;
	h->lost_hi[h->nlost] = 0;
	h->nlost++;
}

static bool in_lost_range(const struct h2 *h, uint32_t sid)
{
	unsigned i;

	for (i = 0; i < h->nlost; i++)
		if (sid > h->lost_lo[i] && (!h->lost_hi[i] || sid < h->lost_hi[i]))
			return true;
	return false;
}

/* A request was seen on sid: an open range of lost ids ends below it. */
static void lost_range_close(struct h2 *h, uint32_t sid)
{
	if (h->nlost && !h->lost_hi[h->nlost - 1] && sid > h->lost_lo[h->nlost - 1])
		h->lost_hi[h->nlost - 1] = sid;
}

/* ---- gRPC ---- */

static bool is_grpc_type(const char *ct)
{
	/* application/grpc, application/grpc+proto, application/grpc;charset=... */
	return ct && !strncasecmp(ct, "application/grpc", 16) &&
	       (ct[16] == '\0' || ct[16] == '+' || ct[16] == ';');
}

static void make_grpc(struct h2 *h, struct stream *s)
{
	int i;

	if (s->grpc)
		return;
	s->grpc = true;
	for (i = 0; i < 2; i++) {
		struct half *hf = &s->h[i];

		/* the messages show the body; only its size is counted */
		http_body_reset(&hf->body);
		http_body_init(&hf->body, 0);
		hf->grpc = malloc(sizeof(*hf->grpc));
		if (hf->grpc) {
			grpc_messages_init(hf->grpc, h->body_max);
			hf->grpc->held_sum = &h->grpc_held;
			hf->grpc->held_max = HTTP2_CONN_KEPT_MAX;
		}
	}
}

/* ---- heads ---- */

static void apply_request(struct h2 *h, struct stream *s, struct block *b)
{
	struct half *hf = &s->h[0];
	const char *path, *ct;

	if (!b->hd)
		return;
	hf->hd = b->hd;
	b->hd = NULL;
	hf->head = true;
	hf->headers_truncated = b->truncated;
	h1_head_finish_h2(hf->hd, -1, NULL);
	path = h1_head_pseudo(hf->hd, H1_PS_PATH, NULL);
	if (path) {
		free(s->path);
		s->path = strdup(path);
	}
	ct = h1_head_get(hf->hd, "content-type");
	if (is_grpc_type(ct))
		make_grpc(h, s);
}

static void apply_response(struct h2 *h, struct stream *s, struct block *b, int status)
{
	struct half *hf = &s->h[1];
	const char *ct;

	if (!b->hd)
		return;
	hf->hd = b->hd;
	b->hd = NULL;
	hf->head = true;
	hf->headers_truncated = b->truncated;
	h1_head_finish_h2(hf->hd, status, status >= 0 ? status_text(status) : "");
	ct = h1_head_get(hf->hd, "content-type");
	/* the request was not seen (capture started later): the response tells */
	if (!s->h[0].head && is_grpc_type(ct))
		make_grpc(h, s);
}

/* A 1xx head: {"status", "status_text", "version", "headers", "time"} as HTTP/1 has it. */
static void add_interim(struct stream *s, struct block *b, int status)
{
	json_t *o = json_object();
	char t[64];

	if (!o)
		return;
	if (!s->interim)
		s->interim = json_array();
	if (!s->interim || json_array_append_new(s->interim, o))
		return;
	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "status_text", json_string(status_text(status)));
	json_object_set_new(o, "version", json_string("2"));
	if (b->hd)
		json_object_set_new(o, "headers", h1_head_fields_tree(b->hd, false));
	entry_format_time(b->ts, t);
	json_object_set_new(o, "time", json_string(t));
}

/* A later head of a direction: trailers (merged when there are several). A half without
 * a head of its own (h2c: the upgrade request) keeps none. */
static void add_trailers(struct half *hf, struct block *b)
{
	if (b->hd && hf->hd)
		h1_head_add_trailers(hf->hd, b->hd);
}

static bool is_connect(const struct stream *s);

static void half_end(struct h2 *h, struct conn *c, struct stream *s, enum tcp_dir dir,
		     uint64_t ts)
{
	struct half *hf = &s->h[dir];

	hf->ended = true;
	hf->end_ts = ts;
	if (hf->grpc)
		grpc_messages_finish(hf->grpc);
	/*
	 * The response ended and the request's end may never come: its head was not seen
	 * though the client's bytes were (they come in time order), or bytes of the
	 * connection were lost while the stream was open. A CONNECT refused (not 2xx) is over
	 * when its answer is: its client has no body to end.
	 */
	if ((s->h[0].ended && s->h[1].ended) ||
	    (dir == TCP_DIR_S2C &&
	     ((!s->h[0].head && h->d[TCP_DIR_C2S].started) || s->gap_hit ||
	      (!s->tunnel && is_connect(s)))))
		stream_emit(h, c, s, ENTRY_REASON_NONE);
}

/* Parse a 3-digit :status; -1 when absent or malformed. */
static int parse_status(const char *v)
{
	if (!v || strlen(v) != 3 || v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9' ||
	    v[2] < '0' || v[2] > '9')
		return -1;
	return (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
}

/* What a block could not decode goes to the half it belongs to. */
static void half_take_partial(struct half *hf, struct block *b)
{
	size_t i;

	if (b->partial)
		hf->headers_partial = true;
	if (!b->unknown)
		return;
	if (!hf->unknown) {
		hf->unknown = b->unknown;
		b->unknown = NULL;
		return;
	}
	for (i = 0; i < json_array_size(b->unknown) && json_array_size(hf->unknown) <
		    UNKNOWN_LISTED; i++)
		json_array_append(hf->unknown, json_array_get(b->unknown, i));
}

static void prio_forget(struct h2 *h, uint32_t sid)
{
	unsigned i;

	for (i = 0; i < h->nprio; i++) {
		if (h->prio_ids[i] == sid) {
			h->prio_ids[i] = h->prio_ids[--h->nprio];
			return;
		}
	}
}

/*
 * ---- tunnels (CONNECT, RFC 9113 8.5; extended CONNECT, RFC 8441) ----
 *
 * A CONNECT stream answered with 2xx carries a byte stream in its DATA frames (tunnel.h).
 * Its entry is emitted at the answer (by the tunnel, once it knows what it carries), the
 * stream stays tracked until it ends, and the payload of each DATA frame (without padding)
 * goes to the tunnel in its direction; bytes lost inside a DATA frame go as a gap. The
 * stream's end (END_STREAM both ways, RST_STREAM, GOAWAY, eviction, the connection's end)
 * closes the tunnel. An extended CONNECT (:protocol, e.g. websocket) carries that protocol,
 * not a new connection: it is counted and reported, its bytes are not dissected. At most
 * HTTP2_MAX_TUNNELS are open per connection: beyond, the CONNECT's entry says not_dissected
 * and the refusal is counted.
 */

static bool is_connect(const struct stream *s)
{
	const char *m = s->h[0].hd ? h1_head_pseudo(s->h[0].hd, H1_PS_METHOD, NULL) : NULL;

	return s->h[0].head && m && !strcmp(m, "CONNECT");
}

/* The CONNECT on s was answered 2xx (the response's head is applied). */
static void tunnel_stream_start(struct h2 *h, struct conn *c, struct stream *s)
{
	struct half *rq = &s->h[0];
	struct http_body early = rq->body;
	uint64_t early_lost = rq->lost;
	bool extended = h1_head_pseudo(rq->hd, H1_PS_PROTOCOL, NULL) != NULL;
	const char *a = h1_head_pseudo(rq->hd, H1_PS_AUTHORITY, NULL);
	/* a copy: the head goes to the entry */
	char *authority = a ? strdup(a) : NULL;
	struct entry *e;

	/* DATA the client sent before the answer is the tunnel's first bytes, not a body. */
	http_body_init(&rq->body, 0);
	rq->lost = 0;
	h->kept -= early.len;
	s->kept -= early.len;
	s->tunnel = true;
	/* the answer came: the bytes that follow are the tunnel's, not bodies */
	e = stream_entry(c, s, ENTRY_REASON_NONE, true);
	if (e) {
		e->missing = ENTRY_COMPLETE;
		e->missing_reason = ENTRY_REASON_NONE;
	}
	if (e && (extended || h->ntunnels >= HTTP2_MAX_TUNNELS)) {
		if (extended)
			h->st.tunnels_extended++;
		else
			h->st.tunnels_refused++;
		json_object_set_new(entry_fields_rw(e), "tunnel_kind", json_string("not_dissected"));
		conn_emit(c, e);
	} else if (e) {
		h->st.tunnels++;
		s->tun = tunnel_open(c, e, authority);
		if (s->tun)
			h->ntunnels++;
	}
	if (s->tun && early.len)
		tunnel_data(s->tun, TCP_DIR_C2S, early.buf, early.len, rq->ts);
	if (s->tun && early.size + early_lost > early.len)
		tunnel_gap(s->tun, TCP_DIR_C2S, early.size + early_lost - early.len, h->now);
	http_body_reset(&early);
	free(authority);
}

/* DATA payload bytes of a tunnel's stream. */
static void tunnel_stream_data(struct stream *s, enum tcp_dir dir, const uint8_t *p, size_t n,
			       uint64_t ts)
{
	if (s->tun && !s->h[dir].ended)
		tunnel_data(s->tun, dir, p, n, ts);
}

static void tunnel_stream_gap(struct stream *s, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	if (s->tun && !s->h[dir].ended)
		tunnel_gap(s->tun, dir, missing, ts);
}

/*
 * dir lost its framing in a gap of `missing` bytes: how much of it was each tunnel's is not
 * known, so every open tunnel is told of a gap that large (its inner dissection resyncs).
 */
static void tunnels_lost(struct h2 *h, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct stream *s;

	for (s = h->oldest; s; s = s->newer)
		tunnel_stream_gap(s, dir, missing, ts);
}

/* The tunnel's stream ended (stream_emit): why, as the carrier's end of the inner one. */
static void tunnel_stream_end(struct h2 *h, struct stream *s, enum entry_missing_reason why)
{
	enum conn_end end;

	if (!s->tun)
		return;
	switch (why) {
	case ENTRY_REASON_TIMEOUT:
		end = CONN_END_TIMEOUT;
		break;
	case ENTRY_REASON_END_OF_INPUT:
		end = CONN_END_END_OF_INPUT;
		break;
	case ENTRY_REASON_MEMORY:
		end = CONN_END_MEMORY;
		break;
	case ENTRY_REASON_RESET:
	case ENTRY_REASON_STREAM_RESET:
		end = CONN_END_RST;
		break;
	default:
		end = CONN_END_FIN;
		break;
	}
	if (s->rst || s->goaway)
		end = CONN_END_RST;
	tunnel_close(s->tun, end, h->now);
	s->tun = NULL;
	h->ntunnels--;
}

/* ---- end of tunnels ---- */

static void headers_done(struct h2 *h, struct conn *c, enum tcp_dir dir, struct block *b,
			 uint64_t ts_end)
{
	struct stream *s = stream_find(h, b->sid);
	struct half *hf;

	if (!s) {
		/*
		 * A new stream: the client opens odd ones in increasing order; a response on a
		 * stream above every request seen, or in a range of ids whose requests were lost
		 * (before the capture, in a gap), is one whose request was not seen. Anything
		 * else is a stream already emitted (or evicted). A block that did not decode
		 * opens nothing: after a resynchronisation it may not be a block at all.
		 */
		bool odd = b->sid & 1, late, lost_push;

		late = dir == TCP_DIR_S2C && in_lost_range(h, b->sid);
		/* a response on an even stream not seen before: its PUSH_PROMISE was lost */
		lost_push = dir == TCP_DIR_S2C && !odd && b->sid > h->max_sid[1] &&
			    h->d[TCP_DIR_S2C].lossy;
		if ((!odd && !lost_push) || (odd && b->sid <= h->max_sid[0] && !late) ||
		    (b->hpack_error && dir == TCP_DIR_S2C)) {
			h->st.orphan_frames++;
			return;
		}
		s = stream_new(h, c, b->sid);
		if (!s)
			return;
		prio_forget(h, b->sid);
		if (dir == TCP_DIR_C2S)
			lost_range_close(h, b->sid);
		else
			s->lost_request = true;
		s->pushed = !odd;
	}
	hf = &s->h[dir];
	s->kept += b->kept;
	b->kept = 0;
	hf->size += b->frame_bytes;
	hf->end_ts = ts_end;
	if (b->cut)
		s->gap_hit = true;
	half_take_partial(hf, b);
	if (dir == TCP_DIR_C2S) {
		if (!hf->ts)
			hf->ts = b->ts;
		if (!hf->head)
			apply_request(h, s, b);
		else
			add_trailers(hf, b);
	} else {
		int status = parse_status(b->hd ? h1_head_pseudo(b->hd, H1_PS_STATUS, NULL) : NULL);

		if (status >= 100 && status < 200) {
			add_interim(s, b, status);
		} else if (!hf->head) {
			/* response_time is the final response's, as for HTTP/1 */
			hf->ts = b->ts;
			apply_response(h, s, b, status);
			if (status >= 200 && status < 300 && is_connect(s))
				tunnel_stream_start(h, c, s);
		} else {
			add_trailers(hf, b);
		}
	}
	if (b->end_stream)
		half_end(h, c, s, dir, ts_end);
}

static void promise_done(struct h2 *h, struct conn *c, enum tcp_dir dir, struct block *b,
			 uint64_t ts_end)
{
	struct stream *s;
	struct half *hf;

	h->st.pushes++;
	/* only servers push, on even streams never used before (RFC 9113 6.6, 5.1.1) */
	if (dir != TCP_DIR_S2C || !b->promised || (b->promised & 1) ||
	    b->promised <= h->max_sid[1] || stream_find(h, b->promised)) {
		protocol_error(h, c);
		return;
	}
	s = stream_new(h, c, b->promised);
	if (!s)
		return;
	s->pushed = true;
	s->assoc = b->sid;
	s->kept += b->kept;
	b->kept = 0;
	hf = &s->h[0];
	hf->ts = b->ts;
	hf->end_ts = ts_end;
	hf->size = b->frame_bytes;
	half_take_partial(hf, b);
	apply_request(h, s, b);
	hf->head = true;
	hf->ended = true; /* a promised request has no body */
}

static void block_reset(struct h2 *h, struct block *b)
{
	h->kept -= b->kept; /* what no stream took over */
	h1_head_free(b->hd);
	json_decref(b->unknown);
	free(b->frag);
	memset(b, 0, sizeof(*b));
}

/* A field that refers to a dynamic-table entry never seen: listed with its index. */
static void block_unknown(struct h2 *h, struct block *b, const struct hpack_field *f)
{
	size_t cost = (f->name ? f->name_len : 0) + (f->value ? f->value_len : 0) + 32;
	json_t *o;

	b->partial = true;
	h->st.unknown_header_refs++;
	if (!b->unknown)
		b->unknown = json_array();
	if (!b->unknown || json_array_size(b->unknown) >= UNKNOWN_LISTED ||
	    b->kept + cost > HTTP2_HEADERS_KEPT_MAX || h->kept + cost > HTTP2_CONN_KEPT_MAX)
		return;
	o = json_object();
	if (!o || json_array_append_new(b->unknown, o))
		return;
	b->kept += cost;
	h->kept += cost;
	json_object_set_new(o, "index", json_integer(f->index));
	if (f->name)
		json_object_set_new(o, "name", entry_json_text(f->name, f->name_len));
	if (f->value)
		json_object_set_new(o, "value", entry_json_text(f->value, f->value_len));
}

struct field_ctx {
	struct h2 *h;
	struct block *b;
};

/* One decoded header field of the block (hpack_decode's callback). */
static int block_field(void *ctx, const struct hpack_field *f)
{
	struct field_ctx *x = ctx;
	struct h2 *h = x->h;
	struct block *b = x->b;
	size_t cost;
	/* in the order of enum h1_pseudo */
#define K(n) {n, sizeof(n) - 1}
	static const struct {
		const char *name;
		size_t len;
	} known[H1_PS_N] = {K(":method"), K(":path"),	  K(":authority"),
			    K(":scheme"), K(":protocol"), K(":status")};
#undef K
	unsigned i;

	if (!f->name || !f->value) {
		block_unknown(h, b, f);
		return 0;
	}
	cost = f->name_len + f->value_len + 32;
	if (b->truncated || b->kept + cost > HTTP2_HEADERS_KEPT_MAX ||
	    h->kept + cost > HTTP2_CONN_KEPT_MAX) {
		b->truncated = true;
		return 0;
	}
	b->kept += cost;
	h->kept += cost;
	if (f->name_len && f->name[0] == ':') {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (known[i].len == f->name_len &&
			    !memcmp(known[i].name, f->name, f->name_len)) {
				/* a repeated pseudo-header is malformed: the first one counts */
				if (b->hd)
					h1_head_set_pseudo(b->hd, (enum h1_pseudo)i, f->value,
							   f->value_len);
				return 0;
			}
		}
		return 0; /* unknown pseudo-headers are malformed (RFC 9113 8.3); not kept */
	}
	if (b->hd)
		h1_head_add_field(b->hd, false, (const char *)f->name, f->name_len,
				  (const char *)f->value, f->value_len);
	return 0;
}

/* Gather fragment bytes of dir's header block (decoded whole at its end). */
static void block_feed(struct h2 *h, struct conn *c, enum tcp_dir dir, const uint8_t *p,
		       size_t n)
{
	struct block *b = &h->d[dir].blk;

	if (b->cut || !n)
		return;
	if (b->frag_len + n > HTTP2_HEADER_BLOCK_MAX) {
		/* a CONTINUATION flood: decoded as far as kept */
		protocol_error(h, c);
		b->cut = true;
		return;
	}
	if (b->frag_len + n > b->frag_cap) {
		size_t cap = b->frag_cap ? b->frag_cap : 512;
		uint8_t *nb;

		while (cap < b->frag_len + n)
			cap *= 2;
		if (cap > HTTP2_HEADER_BLOCK_MAX)
			cap = HTTP2_HEADER_BLOCK_MAX;
		nb = realloc(b->frag, cap);
		if (!nb) {
			b->cut = true;
			return;
		}
		b->frag = nb;
		b->frag_cap = cap;
	}
	memcpy(b->frag + b->frag_len, p, n);
	b->frag_len += n;
}

static void headers_done(struct h2 *h, struct conn *c, enum tcp_dir dir, struct block *b,
			 uint64_t ts_end);
static void promise_done(struct h2 *h, struct conn *c, enum tcp_dir dir, struct block *b,
			 uint64_t ts_end);

/* The block ended (END_HEADERS, or cut short): decode it and give it to its stream. */
static void block_end(struct h2 *h, struct conn *c, enum tcp_dir dir, uint64_t ts)
{
	struct dir *d = &h->d[dir];
	struct block *b = &d->blk;
	struct field_ctx x = { h, b };
	struct hpack_result res;

	if (!b->active)
		return;
	b->active = false;
	hpack_decode(&d->hp, b->frag, b->frag_len, b->cut, block_field, &x, &res);
	if (res.error) {
		/* decoded up to the error; the table is unknown from here (hpack.c) */
		b->partial = true;
		b->hpack_error = true;
		protocol_error(h, c);
	}
	if (b->cut)
		b->partial = true;
	if (b->type == F_PUSH_PROMISE)
		promise_done(h, c, dir, b, ts);
	else
		headers_done(h, c, dir, b, ts);
	block_reset(h, b);
}

static void block_start(struct h2 *h, struct dir *d)
{
	struct block *b = &d->blk;

	block_reset(h, b);
	b->active = true;
	b->type = d->type;
	b->sid = d->sid;
	b->end_stream = d->type == F_HEADERS && (d->flags & FL_END_STREAM);
	b->ts = d->ts;
	/* a PUSH_PROMISE carries a request */
	b->hd = h1_head_new_h2(d->type == F_PUSH_PROMISE || d == &h->d[TCP_DIR_C2S]);
}

/*
 * dir's frame boundaries are lost (a gap that cut a frame header or spanned frames): the
 * block being received is finished as cut, the encoder's table is unknown (the lost bytes
 * may have held header blocks), streams open now are marked, and bytes are skipped until
 * frames are found again (h2_parse).
 */
static void lose_sync(struct h2 *h, struct conn *c, enum tcp_dir dir, uint64_t ts)
{
	struct dir *d = &h->d[dir];
	struct stream *s;

	if (d->blk.active) {
		d->blk.cut = true;
		block_end(h, c, dir, ts);
	}
	d->in_frame = false;
	d->synced = false;
	hpack_lost(&d->hp);
	for (s = h->oldest; s; s = s->newer)
		s->gap_hit = true;
	if (dir == TCP_DIR_C2S)
		lost_range_open(h, h->max_sid[0]);
}

/* ---- frames ---- */

static void on_rst(struct h2 *h, struct conn *c, enum tcp_dir dir, uint32_t sid,
		   uint32_t code)
{
	struct stream *s = stream_find(h, sid);

	h->st.rst_streams++;
	if (!s) {
		h->st.orphan_frames++;
		return;
	}
	s->rst = true;
	s->rst_error = code;
	s->rst_by = dir;
	stream_emit(h, c, s, ENTRY_REASON_STREAM_RESET);
}

static void on_goaway(struct h2 *h, struct conn *c, enum tcp_dir dir, uint32_t last,
		      uint32_t code)
{
	struct stream *s, *next;
	/* the sender refuses streams its peer opened above last */
	uint32_t peer_parity = dir == TCP_DIR_S2C ? 1 : 0;

	h->st.goaways++;
	h->st.goaway_last_stream = last;
	h->st.goaway_error = code;
	for (s = h->oldest; s; s = next) {
		next = s->newer;
		if ((s->id & 1) == peer_parity && s->id > last) {
			s->goaway = true;
			stream_emit(h, c, s, ENTRY_REASON_STREAM_RESET);
		}
	}
}

/* A stream id that so far carried only PRIORITY (browsers' priority tree: RFC 9113 5.3). */
static void on_priority(struct h2 *h, uint32_t sid)
{
	unsigned i;

	if (stream_find(h, sid) || !(sid & 1) || sid <= h->max_sid[0])
		return;
	for (i = 0; i < h->nprio; i++)
		if (h->prio_ids[i] == sid)
			return;
	if (h->nprio < PRIORITY_IDS)
		h->prio_ids[h->nprio++] = sid;
	else
		h->st.priority_only_streams++; /* not remembered: counted now */
}

static void on_settings(struct h2 *h, enum tcp_dir dir)
{
	struct dir *d = &h->d[dir];
	uint32_t i;

	h->st.settings++;
	if (d->flags & FL_ACK)
		return;
	for (i = 0; i + 6 <= d->pre_len; i += 6) {
		unsigned id = (unsigned)d->pre[i] << 8 | d->pre[i + 1];
		uint32_t v = be32_at(d->pre + i + 2);

		/* the sender allows the other direction frames this long (looking for frame
		 * boundaries takes none longer); the header table size needs nothing: the
		 * encoder announces the size it uses with an update (hpack.c) */
		if (id == SETTINGS_MAX_FRAME_SIZE && v >= MAX_FRAME_DEFAULT && v < (1u << 24))
			h->d[!dir].max_frame = v;
	}
}

static bool is_block_type(uint8_t t)
{
	return t == F_HEADERS || t == F_PUSH_PROMISE || t == F_CONTINUATION;
}

/* The frame header is read (p: its 9 bytes). */
static void frame_start(struct h2 *h, struct conn *c, enum tcp_dir dir, const uint8_t *p,
			uint64_t ts)
{
	struct dir *d = &h->d[dir];
	uint32_t pre = 0;
	struct stream *s;

	d->len = be24_at(p);
	d->type = p[3];
	d->flags = p[4];
	d->sid = be32_at(p + 5) & 0x7fffffff;
	d->pos = 0;
	d->pre_done = false;
	d->skip = false;
	d->ts = ts;
	d->in_frame = true;
	d->body_end = d->len;
	h->st.frames[dir]++;
	/*
	 * A header block continues with CONTINUATION frames of its stream only (6.10): a peer
	 * that breaks that (or framing misread) ends the block as cut; a CONTINUATION of no
	 * block is skipped.
	 */
	if (d->blk.active && (d->type != F_CONTINUATION || d->sid != d->blk.sid)) {
		protocol_error(h, c);
		d->blk.cut = true;
		block_end(h, c, dir, ts);
	} else if (!d->blk.active && d->type == F_CONTINUATION) {
		protocol_error(h, c);
		d->skip = true;
	}
	switch (d->type) {
	case F_DATA:
		pre = d->flags & FL_PADDED ? 1 : 0;
		break;
	case F_HEADERS:
		pre = (d->flags & FL_PADDED ? 1 : 0) + (d->flags & FL_PRIORITY ? 5 : 0);
		break;
	case F_PUSH_PROMISE:
		pre = (d->flags & FL_PADDED ? 1 : 0) + 4;
		break;
	case F_CONTINUATION:
		break;
	case F_PRIORITY:
		pre = 5;
		break;
	case F_RST_STREAM:
	case F_WINDOW_UPDATE:
		pre = 4;
		break;
	case F_PING:
	case F_GOAWAY:
		pre = 8;
		break;
	case F_SETTINGS:
		if (d->len % 6) {
			protocol_error(h, c);
			d->skip = true;
			break;
		}
		pre = d->len < PRE_MAX ? d->len : PRE_MAX;
		break;
	default:
		h->st.unknown_frames++; /* extensions: skipped (RFC 9113 5.5) */
		d->skip = true;
		break;
	}
	if ((is_block_type(d->type) && !d->sid) || d->len < pre) {
		protocol_error(h, c);
		d->skip = true;
	}
	if (d->skip)
		pre = 0;
	d->pre_len = pre;
	if ((d->type == F_HEADERS || d->type == F_PUSH_PROMISE) && !d->skip)
		block_start(h, d);
	if (is_block_type(d->type) && !d->skip)
		d->blk.frame_bytes += d->len;
	if (d->type == F_DATA && !d->skip && (s = stream_find(h, d->sid))) {
		s->h[dir].size += d->len;
		if (!s->h[dir].ts)
			s->h[dir].ts = ts;
		if (s->h[dir].grpc)
			grpc_messages_data_frame(s->h[dir].grpc);
	}
}

/* The fixed prefix of the payload is in d->pre. */
static void frame_prefix(struct h2 *h, struct conn *c, enum tcp_dir dir)
{
	struct dir *d = &h->d[dir];
	uint32_t pad = 0, off = 0;

	if (d->skip)
		return;
	if ((d->type == F_DATA || d->type == F_HEADERS || d->type == F_PUSH_PROMISE) &&
	    (d->flags & FL_PADDED)) {
		pad = d->pre[0];
		off = 1;
		if (pad > d->len - d->pre_len) {
			protocol_error(h, c);
			if (d->type != F_DATA)
				d->blk.cut = true; /* ended as cut at the frame's end */
			d->skip = true;
			return;
		}
		d->body_end = d->len - pad;
	}
	switch (d->type) {
	case F_HEADERS:
		if (d->flags & FL_PRIORITY)
			h->st.priorities++;
		break;
	case F_PUSH_PROMISE:
		d->blk.promised = be32_at(d->pre + off) & 0x7fffffff;
		break;
	case F_PRIORITY:
		h->st.priorities++;
		on_priority(h, d->sid);
		break;
	case F_RST_STREAM:
		if (!d->sid) {
			protocol_error(h, c);
			break;
		}
		on_rst(h, c, dir, d->sid, be32_at(d->pre));
		break;
	case F_SETTINGS:
		on_settings(h, dir);
		break;
	case F_PING:
		h->st.pings++;
		break;
	case F_GOAWAY:
		on_goaway(h, c, dir, be32_at(d->pre) & 0x7fffffff, be32_at(d->pre + 4));
		break;
	case F_WINDOW_UPDATE:
		h->st.window_updates++;
		break;
	}
}

/* Keep body bytes within the body bound and the connection's bound. */
static void body_append(struct h2 *h, struct stream *s, struct half *hf, const uint8_t *p,
			size_t n)
{
	size_t before = hf->body.len, room = HTTP2_CONN_KEPT_MAX - h->kept;

	if (hf == &s->h[1] && !h->response_bodies)
		room = 0; /* never shown: counted, not kept */
	if (hf->body.max - hf->body.len > room)
		hf->body.max = hf->body.len + room; /* keeps no more from here on */
	http_body_append(&hf->body, p, n);
	h->kept += hf->body.len - before;
	s->kept += hf->body.len - before;
}

static const char *half_grpc_encoding(struct half *hf)
{
	return hf->hd ? h1_head_get(hf->hd, "grpc-encoding") : NULL;
}

/* Variable payload bytes (between prefix and padding). */
static void frame_body(struct h2 *h, struct conn *c, enum tcp_dir dir, const uint8_t *p,
		       size_t n, uint64_t ts)
{
	struct dir *d = &h->d[dir];
	struct stream *s;
	struct half *hf;

	if (d->skip)
		return;
	switch (d->type) {
	case F_DATA:
		s = stream_find(h, d->sid);
		if (!s) {
			return;
		}
		hf = &s->h[dir];
		if (s->tunnel) {
			tunnel_stream_data(s, dir, p, n, ts);
			return;
		}
		if (hf->ended)
			return;
		body_append(h, s, hf, p, n);
		if (hf->grpc)
			grpc_messages_feed(hf->grpc, p, n, half_grpc_encoding(hf));
		break;
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		block_feed(h, c, dir, p, n);
		break;
	}
}

/* The frame's last byte is in (timestamp ts). */
static void frame_end(struct h2 *h, struct conn *c, enum tcp_dir dir, uint64_t ts)
{
	struct dir *d = &h->d[dir];
	struct stream *s;
	struct block *b = &d->blk;

	d->in_frame = false;
	switch (d->type) {
	case F_DATA:
		s = stream_find(h, d->sid);
		if (!s) {
			h->st.orphan_frames++;
			break;
		}
		if (s->h[dir].ended)
			break;
		s->h[dir].end_ts = ts;
		if (d->flags & FL_END_STREAM)
			half_end(h, c, s, dir, ts);
		break;
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		/* an active block at a frame's end is this frame's (frame_start) */
		if ((d->flags & FL_END_HEADERS) && b->active)
			block_end(h, c, dir, ts);
		break;
	}
}

/* Consume payload bytes of the current frame (p[0] came at ts); returns how many were used. */
static size_t frame_step(struct h2 *h, struct conn *c, enum tcp_dir dir, const uint8_t *p,
			 size_t n, uint64_t ts, uint64_t ts_last)
{
	struct dir *d = &h->d[dir];
	size_t used = 0, take;

	if (!d->pre_done) {
		take = d->pre_len - d->pos < n ? d->pre_len - d->pos : n;
		memcpy(d->pre + d->pos, p, take);
		d->pos += take;
		used += take;
		if (d->pos < d->pre_len)
			return used;
		d->pre_done = true;
		frame_prefix(h, c, dir);
	}
	if (d->pos < d->body_end && used < n) {
		take = d->body_end - d->pos < n - used ? d->body_end - d->pos : n - used;
		frame_body(h, c, dir, p + used, take, used ? ts_last : ts);
		d->pos += take;
		used += take;
	}
	if (d->pos >= d->body_end && d->pos < d->len && used < n) {
		take = d->len - d->pos < n - used ? d->len - d->pos : n - used;
		d->pos += take;
		used += take;
	}
	if (d->pos == d->len)
		frame_end(h, c, dir, ts_last);
	return used;
}

/*
 * The first bytes of a direction decide whether its start is seen: the client's preface,
 * or a server's first SETTINGS. Else the connection was picked up in the middle: the
 * encoder's table is unknown and frame boundaries are looked for.
 */
static void dir_start(struct h2 *h, enum tcp_dir dir, const uint8_t *p, size_t n)
{
	struct dir *d = &h->d[dir];
	bool start;

	d->started = true;
	if (dir == TCP_DIR_C2S)
		start = n >= PREFACE_LEN && !memcmp(p, PREFACE, PREFACE_LEN);
	else
		start = n >= FRAME_HDR && p[3] == F_SETTINGS && !(p[4] & FL_ACK) &&
			frame_header_plausible(p, MAX_FRAME_DEFAULT);
	hpack_free(&d->hp);
	hpack_init(&d->hp, start, HTTP2_TABLE_SIZE_MAX);
	d->synced = start;
	d->lossy = !start;
	if (dir == TCP_DIR_C2S && !start)
		lost_range_open(h, 0);
}

/*
 * Out of sync: how many bytes to skip before frames start. *wait: no chain is sure yet;
 * the bytes from there are kept for more to come. A sure chain anywhere is preferred to an
 * undecided earlier one: a false candidate that claims a long frame would else hold up
 * the search for that long.
 */
static size_t find_frames(const struct dir *d, const uint8_t *p, size_t n, bool *wait)
{
	size_t i, undecided = n;

	*wait = false;
	for (i = 0; i + FRAME_HDR <= n; i++) {
		enum chain r;

		if (p[i] != 0 && d->max_frame <= 0xffff)
			continue; /* a length this side allows starts with 0 */
		r = frame_chain(p + i, n - i, d->max_frame);
		if (r == CHAIN_YES)
			return i;
		if (r == CHAIN_MORE && undecided == n)
			undecided = i;
	}
	*wait = true;
	if (undecided < n)
		return undecided;
	/* the last bytes may begin a frame header: keep them */
	return n >= FRAME_HDR ? n - FRAME_HDR + 1 : 0;
}

static size_t h2_parse(void *st, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
		       uint64_t ts, uint64_t ts_last)
{
	struct h2 *h = st;
	struct dir *d = &h->d[dir];
	size_t off = 0;

	h->now = ts_last;
	if (!d->started) {
		if (dir == TCP_DIR_C2S && n < PREFACE_LEN && !memcmp(p, PREFACE, n))
			return 0;
		if (dir == TCP_DIR_S2C && n < FRAME_HDR)
			return 0;
		dir_start(h, dir, p, n);
	}
	if (dir == TCP_DIR_C2S && !d->preface) {
		if (n >= PREFACE_LEN && !memcmp(p, PREFACE, PREFACE_LEN))
			off = PREFACE_LEN;
		else if (n < PREFACE_LEN && !memcmp(p, PREFACE, n))
			return 0;
		/* else: picked up after the preface; frames follow */
		d->preface = true;
	}
	for (;;) {
		if (!d->synced) {
			bool wait;
			size_t skip = find_frames(d, p + off, n - off, &wait);

			h->st.skipped_bytes += skip;
			off += skip;
			if (wait)
				break;
			d->synced = true;
			h->st.resyncs++;
		}
		if (!d->in_frame) {
			if (n - off < FRAME_HDR)
				break;
			/* Only p[0] may be older than the newest packet (engine buffering). */
			frame_start(h, c, dir, p + off, off ? ts_last : ts);
			off += FRAME_HDR;
		}
		off += frame_step(h, c, dir, p + off, n - off, off ? ts_last : ts, ts_last);
		if (d->in_frame)
			break; /* everything was used; the frame goes on in the next bytes */
	}
	return off;
}

static void h2_gap(void *st, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct h2 *h = st;
	struct dir *d = &h->d[dir];
	uint64_t lo, hi, body;
	struct stream *s;

	d->lossy = true;
	h->now = ts;
	if (!d->started) {
		/* lost before anything was seen: the connection is picked up after them */
		d->started = true;
		hpack_init(&d->hp, false, HTTP2_TABLE_SIZE_MAX);
		d->preface = true;
		if (dir == TCP_DIR_C2S)
			lost_range_open(h, 0);
		return;
	}
	if (!d->synced)
		return; /* still looking for frames: the next bytes are searched as well */
	/*
	 * Bytes lost inside the current frame's payload: the length says where the next frame
	 * starts, so framing stays; what the gap cut is marked. Anything longer lost the frame
	 * boundaries.
	 */
	if (!d->in_frame || missing > d->len - d->pos) {
		tunnels_lost(h, dir, missing, ts);
		lose_sync(h, c, dir, ts);
		return;
	}
	if (!d->pre_done) {
		/* the fixed prefix is cut: the frame is skipped (a header block is cut) */
		if (d->blk.active)
			d->blk.cut = true;
		d->pre_done = true;
		d->skip = true;
		d->body_end = d->len;
	}
	lo = d->pos;
	hi = d->pos + missing;
	if (hi > d->body_end)
		hi = d->body_end;
	body = hi > lo ? hi - lo : 0;
	if (body && !d->skip && d->type == F_DATA && (s = stream_find(h, d->sid))) {
		struct half *hf = &s->h[dir];

		if (s->tunnel) {
			tunnel_stream_gap(s, dir, body, ts);
			body = 0;
		}
		hf->lost += body;
		hf->body.size += body;
		hf->body.max = hf->body.len; /* keep no bytes after a hole */
		if (hf->grpc)
			grpc_messages_lost(hf->grpc, body);
	} else if (body && is_block_type(d->type) && d->blk.active) {
		d->blk.cut = true; /* decoded up to the gap; the table is unknown after it */
	}
	d->pos += (uint32_t)missing;
	if (d->pos == d->len)
		frame_end(h, c, dir, ts);
}

/* dissector_http2.counters, in this order. */
enum { CNT_SETTINGS, CNT_PINGS, CNT_WINDOW_UPDATES, CNT_PRIORITIES, CNT_GOAWAYS,
       CNT_STREAMS_EVICTED, CNT_ORPHAN_FRAMES, CNT_UNKNOWN_FRAMES, CNT_RESYNCS,
       CNT_UNKNOWN_HEADER_REFS, CNT_PRIORITY_ONLY_STREAMS, CNT_TUNNELS, CNT_TUNNELS_REFUSED,
       CNT_EXTENDED_CONNECTS };
static const char *const h2_counters[] = {
	"settings", "pings", "window_updates", "priorities", "goaways", "streams_evicted",
	"orphan_frames", "unknown_frames", "resyncs", "unknown_header_refs",
	"priority_only_streams", "tunnels", "tunnels_refused", "extended_connects", NULL,
};

static void h2_close(void *st, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct h2 *h = st;

	(void)ts;
	emit_all(h, c, conn_end_reason(why));
	h->st.priority_only_streams += h->nprio;
	h->nprio = 0;
	conn_counter_add(c, CNT_SETTINGS, h->st.settings);
	conn_counter_add(c, CNT_PINGS, h->st.pings);
	conn_counter_add(c, CNT_WINDOW_UPDATES, h->st.window_updates);
	conn_counter_add(c, CNT_PRIORITIES, h->st.priorities);
	conn_counter_add(c, CNT_GOAWAYS, h->st.goaways);
	conn_counter_add(c, CNT_STREAMS_EVICTED, h->st.streams_evicted);
	conn_counter_add(c, CNT_ORPHAN_FRAMES, h->st.orphan_frames);
	conn_counter_add(c, CNT_UNKNOWN_FRAMES, h->st.unknown_frames);
	conn_counter_add(c, CNT_RESYNCS, h->st.resyncs);
	conn_counter_add(c, CNT_UNKNOWN_HEADER_REFS, h->st.unknown_header_refs);
	conn_counter_add(c, CNT_PRIORITY_ONLY_STREAMS, h->st.priority_only_streams);
	conn_counter_add(c, CNT_TUNNELS, h->st.tunnels);
	conn_counter_add(c, CNT_TUNNELS_REFUSED, h->st.tunnels_refused);
	conn_counter_add(c, CNT_EXTENDED_CONNECTS, h->st.tunnels_extended);
}

static void h2_free(void *st)
{
	struct h2 *h = st;
	int i;

	if (!h)
		return;
	while (h->oldest) {
		struct stream *s = h->oldest;

		stream_unlink(h, s);
		stream_free(h, s);
	}
	for (i = 0; i < 2; i++) {
		block_reset(h, &h->d[i].blk);
		hpack_free(&h->d[i].hp);
	}
	free(h);
}

/* h2c: stream 1 carries the response to the upgrade request handed over. */
static void adopt_upgrade(struct h2 *h, struct conn *c, struct entry *e)
{
	const json_t *req = json_object_get(e->fields, "request");
	const json_t *hdrs = json_object_get(req, "headers");
	const char *url = json_string_value(json_object_get(req, "url"));
	const char *ct = http_headers_get(hdrs, "content-type");
	struct stream *s = stream_new(h, c, 1);

	if (!s) {
		entry_free(e);
		return;
	}
	s->handover = e;
	s->h[0].head = true;
	s->h[0].ended = true;
	if (url)
		s->path = strdup(url);
	if (is_grpc_type(ct))
		make_grpc(h, s);
}

static void *h2_open(struct conn *c, void *handover)
{
	struct h2 *h = calloc(1, sizeof(*h));
	int i;

	if (!h) {
		entry_free(handover);
		return NULL;
	}
	h->body_max = conn_body_max(c);
	h->response_bodies = conn_response_bodies(c);
	for (i = 0; i < 2; i++) {
		/* decided by the direction's first bytes (dir_start) */
		hpack_init(&h->d[i].hp, false, HTTP2_TABLE_SIZE_MAX);
		h->d[i].max_frame = MAX_FRAME_DEFAULT;
	}
	if (handover)
		adopt_upgrade(h, c, handover);
	return h;
}

/*
 * For the engine's memory budget (dissector.h, mem()). Exact for the body buffers, the
 * header block fragments, the HPACK tables and gRPC's message buffers; the rest is estimated
 * (walking every stream's heads per packet would cost more than it tells): H2_STREAM_BYTES
 * per stream (its struct, entry and fixed members) and the decoded bytes kept (h->kept:
 * header fields as HPACK sizes them, i.e. with 32 bytes each, and body bytes) twice more,
 * which covers a head's arena (the bytes and their NULs) and its field array.
 */
#define H2_STREAM_BYTES (sizeof(struct stream) + sizeof(struct entry) + 512u)

static size_t h2_mem(const void *st)
{
	const struct h2 *h = st;
	size_t n = sizeof(*h) + h->nstreams * H2_STREAM_BYTES + 2 * h->kept + h->body_cap +
		   h->grpc_held;
	int i;

	for (i = 0; i < 2; i++)
		n += h->d[i].blk.frag_cap + hpack_table_mem(&h->d[i].hp);
	return n;
}

void http2_get_conn_stats(const void *st, struct http2_conn_stats *out)
{
	const struct h2 *h = st;

	*out = h->st;
}

const struct dissector dissector_http2 = {
	.name = "http2",
	.protocol = "http", /* its descriptor: lib/core/protocols/http.c (gRPC: grpc.c) */
	.detect = h2_detect,
	.open = h2_open,
	.parse = h2_parse,
	.gap = h2_gap,
	.close = h2_close,
	.free = h2_free,
	.counters = h2_counters,
	.mem = h2_mem,
};
