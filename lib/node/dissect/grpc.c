// SPDX-License-Identifier: Apache-2.0
/*
 * gRPC message framing and schema-less protobuf decoding (grpc.h, docs/http2.md).
 *
 * Facts used: gRPC over HTTP/2 (PROTOCOL-HTTP2.md in grpc/grpc): Length-Prefixed-Message =
 * Compressed-Flag (1 byte) Message-Length (4 bytes, big endian) Message; status and message
 * in the grpc-status / grpc-message trailers, grpc-message percent-encoded. Protobuf wire
 * format (protobuf.dev "Encoding"): tag = varint (field << 3 | wire type), wire types 0
 * varint, 1 i64, 2 len, 3/4 start/end group (deprecated), 5 i32; varints at most 10 bytes.
 */
#include "dissect/grpc.h"
#include "protocols/grpc_status.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dissect/byte_reader.h"
#include "dissect/http_common.h"
#include "entry/entry.h"

/* ---- protobuf ---- */

static int pb_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
	struct byte_reader r;

	br_init(&r, p, n);
	r.off = *pos;
	*v = br_uvarint(&r, 64);
	if (!br_ok(&r))
		return -1;
	*pos = r.off;
	return 0;
}

/* Read a tag: field number 1..2^29-1 and wire type. */
static int pb_tag(const uint8_t *p, size_t n, size_t *pos, uint32_t *field, unsigned *wt)
{
	uint64_t key;

	if (pb_varint(p, n, pos, &key))
		return -1;
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	*field = (uint32_t)(key >> 3);
	*wt = key & 7;
	return 0;
}

/*
 * Walk the fields from *pos to n, or up to the end of group `group` (0: top level). Groups
 * are walked recursively (bounded by depth); length-delimited values are skipped.
 */
static int pb_scan(const uint8_t *p, size_t n, size_t *pos, uint32_t group, unsigned depth)
{
	while (*pos < n) {
		uint32_t field;
		unsigned wt;
		uint64_t v;

		if (pb_tag(p, n, pos, &field, &wt))
			return -1;
		switch (wt) {
		case 0:
			if (pb_varint(p, n, pos, &v))
				return -1;
			break;
		case 1:
			if (n - *pos < 8)
				return -1;
			*pos += 8;
			break;
		case 2:
			if (pb_varint(p, n, pos, &v) || v > n - *pos)
				return -1;
			*pos += v;
			break;
		case 3:
			if (depth >= PROTOBUF_MAX_DEPTH || pb_scan(p, n, pos, field, depth + 1))
				return -1;
			break;
		case 4:
			return field == group ? 0 : -1;
		case 5:
			if (n - *pos < 4)
				return -1;
			*pos += 4;
			break;
		default:
			return -1;
		}
	}
	return group ? -1 : 0; /* an open group at the end */
}

static bool pb_valid_at(const uint8_t *p, size_t n, unsigned depth)
{
	size_t pos = 0;

	return pb_scan(p, n, &pos, 0, depth) == 0;
}

bool protobuf_valid(const uint8_t *p, size_t n)
{
	return pb_valid_at(p, n, 0);
}

/* UTF-8 without NUL; *plain: also without control characters other than tab, CR, LF. */
static bool utf8_text(const uint8_t *p, size_t n, bool *plain)
{
	size_t i = 0, l;

	*plain = true;
	while (i < n) {
		if (!p[i])
			return false;
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7f)
			*plain = false;
		l = entry_utf8_seq_len(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

struct pb_ctx {
	size_t *budget;
	bool *truncated;
};

static int pb_decode(const uint8_t *p, size_t n, size_t *pos, uint32_t group, unsigned depth,
		     struct pb_ctx *x, json_t *arr);

/* The "type" and "value" of a length-delimited field. */
static int pb_len_value(const uint8_t *p, size_t n, unsigned depth, struct pb_ctx *x,
			json_t *o)
{
	bool plain, text = utf8_text(p, n, &plain);
	json_t *v;
	int err;

	/*
	 * Text first when it reads as plain text: short strings often happen to parse as
	 * protobuf ("hi" is field 13, varint 105), while real nested messages almost always
	 * hold a byte below 0x20 (a small tag or a length).
	 */
	if (text && plain) {
		if (json_object_set_new(o, "type", json_string("string")) ||
		    json_object_set_new(o, "value", json_stringn((const char *)p, n)))
			return -ENOMEM;
		return 0;
	}
	if (depth + 1 <= PROTOBUF_MAX_DEPTH && pb_valid_at(p, n, depth + 1)) {
		size_t pos = 0;

		v = json_array();
		if (!v || json_object_set_new(o, "type", json_string("message")) ||
		    json_object_set_new(o, "value", v))
			return -ENOMEM;
		err = pb_decode(p, n, &pos, 0, depth + 1, x, v);
		return err;
	}
	if (text) {
		if (json_object_set_new(o, "type", json_string("string")) ||
		    json_object_set_new(o, "value", json_stringn((const char *)p, n)))
			return -ENOMEM;
		return 0;
	}
	if (json_object_set_new(o, "type", json_string("bytes")) ||
	    json_object_set_new(o, "value", entry_json_base64(p, n)))
		return -ENOMEM;
	return 0;
}

static int pb_decode(const uint8_t *p, size_t n, size_t *pos, uint32_t group, unsigned depth,
		     struct pb_ctx *x, json_t *arr)
{
	while (*pos < n) {
		static const char *const names[] = { "varint", "i64", "len", "group", "egroup",
						     "i32" };
		uint32_t field;
		unsigned wt;
		uint64_t v;
		json_t *o;
		int err = 0;

		if (pb_tag(p, n, pos, &field, &wt) || wt > 5)
			return -EINVAL;
		if (wt == 4)
			return field == group ? 0 : -EINVAL;
		if (!*x->budget) {
			*x->truncated = true;
			return 0;
		}
		(*x->budget)--;
		o = json_object();
		if (!o || json_array_append_new(arr, o))
			return -ENOMEM;
		if (json_object_set_new(o, "field", json_integer(field)) ||
		    json_object_set_new(o, "wire_type", json_string(names[wt])))
			return -ENOMEM;
		switch (wt) {
		case 0:
			if (pb_varint(p, n, pos, &v))
				return -EINVAL;
			/* int32/int64 negatives are 64-bit two's complement on the wire */
			err = json_object_set_new(o, "value", json_integer((int64_t)v));
			break;
		case 1: {
			double d;

			if (n - *pos < 8)
				return -EINVAL;
			v = le64_at(p + *pos);
			*pos += 8;
			memcpy(&d, &v, sizeof(d));
			err = json_object_set_new(o, "value", json_integer((int64_t)v));
			if (!err && isfinite(d))
				err = json_object_set_new(o, "double", json_real(d));
			break;
		}
		case 2:
			if (pb_varint(p, n, pos, &v) || v > n - *pos)
				return -EINVAL;
			err = pb_len_value(p + *pos, v, depth, x, o);
			*pos += v;
			break;
		case 3: {
			json_t *g = json_array();

			if (depth >= PROTOBUF_MAX_DEPTH)
				return -EINVAL;
			if (!g || json_object_set_new(o, "value", g))
				return -ENOMEM;
			err = pb_decode(p, n, pos, field, depth + 1, x, g);
			break;
		}
		case 5: {
			float f;
			uint32_t u;

			if (n - *pos < 4)
				return -EINVAL;
			u = le32_at(p + *pos);
			*pos += 4;
			memcpy(&f, &u, sizeof(f));
			err = json_object_set_new(o, "value", json_integer(u));
			if (!err && isfinite(f))
				err = json_object_set_new(o, "float", json_real(f));
			break;
		}
		}
		if (err)
			return err < 0 ? err : -ENOMEM;
		if (!*x->budget && *x->truncated)
			return 0;
	}
	return group ? -EINVAL : 0;
}

int protobuf_decode(const uint8_t *p, size_t n, size_t *budget, bool *truncated, json_t **out)
{
	struct pb_ctx x = { budget, truncated };
	size_t pos = 0;
	json_t *arr;
	int err;

	*out = NULL;
	if (!protobuf_valid(p, n))
		return -EINVAL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	err = pb_decode(p, n, &pos, 0, 0, &x, arr);
	if (err) {
		json_decref(arr);
		return err;
	}
	*out = arr;
	return 0;
}

/* ---- gRPC messages ---- */

void grpc_messages_init(struct grpc_messages *g, size_t keep_max)
{
	memset(g, 0, sizeof(*g));
	g->keep_max = keep_max;
	g->budget = GRPC_FIELD_BUDGET;
}

size_t grpc_messages_mem(const struct grpc_messages *g)
{
	return g->buf_cap + json_array_size(g->list) * GRPC_MESSAGE_JSON_BYTES +
	       (GRPC_FIELD_BUDGET - g->budget) * GRPC_FIELD_JSON_BYTES + 2 * g->decoded;
}

/* Bring g->held and the owner's total up to date. */
static void held_sync(struct grpc_messages *g)
{
	size_t now = grpc_messages_mem(g);

	if (g->held_sum)
		*g->held_sum = *g->held_sum + now - g->held;
	g->held = now;
}

void grpc_messages_free(struct grpc_messages *g)
{
	free(g->buf);
	json_decref(g->list);
	g->buf = NULL;
	g->list = NULL;
	g->buf_cap = 0;
	g->budget = GRPC_FIELD_BUDGET;
	g->decoded = 0;
	held_sync(g);
}

/* Inflate with zlib's window bits wbits, at most GRPC_DECOMPRESS_MAX bytes out. */
static int inflate_msg(const uint8_t *in, size_t n, int wbits, uint8_t **out, size_t *out_len,
		       const char **error)
{
	z_stream z;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	*error = NULL;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wbits) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	do {
		if (z.total_out == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nb;

			if (cap >= GRPC_DECOMPRESS_MAX) {
				*error = "decompressed message too large";
				break;
			}
			if (ncap > GRPC_DECOMPRESS_MAX)
				ncap = GRPC_DECOMPRESS_MAX;
			nb = realloc(buf, ncap);
			if (!nb) {
				inflateEnd(&z);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_MEM_ERROR) {
			inflateEnd(&z);
			free(buf);
			return -ENOMEM;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			*error = "invalid compressed data";
			break;
		}
		if (rc == Z_BUF_ERROR && z.avail_out) {
			*error = "compressed data ends early";
			break;
		}
	} while (1);
	*out_len = z.total_out;
	inflateEnd(&z);
	if (*error) {
		free(buf);
		*out = NULL;
		*out_len = 0;
		return 0;
	}
	*out = buf;
	return 0;
}

static bool enc_is(const char *enc, const char *name)
{
	return enc && !strcasecmp(enc, name);
}

/* Decode a complete message's bytes into o: "fields", or "text"/"base64" when not protobuf. */
static int message_body(struct grpc_messages *g, json_t *o, const uint8_t *p, size_t n)
{
	bool trunc = false, plain;
	json_t *fields;
	int err;

	g->decoded += n;
	err = protobuf_decode(p, n, &g->budget, &trunc, &fields);
	if (err == -ENOMEM)
		return err;
	if (!err) {
		if (json_object_set_new(o, "fields", fields))
			return -ENOMEM;
		if (trunc && json_object_set_new(o, "fields_truncated", json_true()))
			return -ENOMEM;
		return 0;
	}
	/* Not protobuf (application/grpc+json, or another codec). */
	if (utf8_text(p, n, &plain))
		return json_object_set_new(o, "text", json_stringn((const char *)p, n)) ? -ENOMEM
										       : 0;
	return json_object_set_new(o, "base64", entry_json_base64(p, n)) ? -ENOMEM : 0;
}

static int message_done(struct grpc_messages *g, const char *encoding)
{
	json_t *o;
	int err = 0;

	g->count++;
	if (!g->list) {
		g->list = json_array();
		if (!g->list)
			return -ENOMEM;
	}
	if (json_array_size(g->list) >= GRPC_MAX_MESSAGES)
		return 0;
	o = json_object();
	if (!o || json_array_append_new(g->list, o))
		return -ENOMEM;
	if (json_object_set_new(o, "size", json_integer((json_int_t)g->frame.len)) ||
	    json_object_set_new(o, "compressed", json_boolean(g->compressed)))
		return -ENOMEM;
	if (g->frame.len > g->buf_len) { /* bigger than keep_max: measured only */
		return json_object_set_new(o, "truncated", json_true()) ? -ENOMEM : 0;
	}
	if (!g->compressed)
		return message_body(g, o, g->buf, g->buf_len);
	if (enc_is(encoding, "gzip") || enc_is(encoding, "deflate")) {
		const char *error;
		uint8_t *out;
		size_t out_len;

		if (enc_is(encoding, "gzip")) {
			err = inflate_msg(g->buf, g->buf_len, 16 + MAX_WBITS, &out, &out_len,
					  &error);
		} else {
			/* gRPC's deflate is zlib-wrapped; accept raw deflate too */
			err = inflate_msg(g->buf, g->buf_len, MAX_WBITS, &out, &out_len, &error);
			if (!err && error)
				err = inflate_msg(g->buf, g->buf_len, -MAX_WBITS, &out, &out_len,
						  &error);
		}
		if (err)
			return err;
		if (error)
			return json_object_set_new(o, "decode_error", json_string(error)) ? -ENOMEM
											    : 0;
		if (json_object_set_new(o, "decompressed_size", json_integer((json_int_t)out_len)))
			err = -ENOMEM;
		if (!err)
			err = message_body(g, o, out ? out : (const uint8_t *)"", out_len);
		free(out);
		return err;
	}
	/* identity with the flag set is a peer error; other codecs (snappy, zstd) are not
	 * decoded here: the size says what there is. */
	return 0;
}

/* A gRPC message: a compressed flag, a 4-byte length, the message (grpc PROTOCOL-HTTP2.md). */
static const struct lp_format grpc_message_format = {.hdr_len = 5, .len_off = 1, .len_size = 4};

/* Keep (p, n) of the current message when it will be decoded: it fits keep_max and the list. */
static int message_keep(struct grpc_messages *g, const uint8_t *p, size_t n)
{
	uint64_t len = g->frame.len;

	if (!n || len > g->keep_max || (g->list && json_array_size(g->list) >= GRPC_MAX_MESSAGES))
		return 0;
	/* The owner's bound, decided at a message's first bytes: one that would pass it is
	 * only measured (what is kept of a message is less than its length: "truncated"). */
	if (g->held_sum && !g->buf_len && *g->held_sum + len > g->held_max)
		return 0;
	if (g->buf_len + n > g->buf_cap) {
		size_t cap = g->buf_cap ? g->buf_cap : 256;
		uint8_t *nb;

		while (cap < g->buf_len + n)
			cap *= 2;
		if (cap > len)
			cap = len;
		nb = realloc(g->buf, cap);
		if (!nb)
			return -ENOMEM;
		g->buf = nb;
		g->buf_cap = cap;
	}
	memcpy(g->buf + g->buf_len, p, n);
	g->buf_len += n;
	return 0;
}

/* Is the prefix just read believable as a message's (after a resynchronisation)? */
static bool prefix_plausible(const struct grpc_messages *g)
{
	return g->frame.hdr[0] <= 1 && g->frame.len <= GRPC_RESYNC_MAX;
}

/* List the current message as cut: "incomplete", and when its prefix came (sized): its
 * size, flag and the bytes received. */
static void list_incomplete(struct grpc_messages *g, bool sized)
{
	json_t *o;

	if (!g->list)
		g->list = json_array();
	if (!g->list || json_array_size(g->list) >= GRPC_MAX_MESSAGES)
		return;
	o = json_object();
	if (!o || json_array_append_new(g->list, o))
		return;
	if (sized) {
		json_object_set_new(o, "size", json_integer((json_int_t)g->frame.len));
		json_object_set_new(o, "compressed", json_boolean(g->compressed));
		json_object_set_new(o, "received",
				    json_integer((json_int_t)(g->frame.got - g->msg_lost)));
	}
	json_object_set_new(o, "incomplete", json_true());
}

static int messages_feed(struct grpc_messages *g, const uint8_t *p, size_t n,
			 const char *encoding)
{
	int rc = 0;

	g->bytes += n;
	if (g->broken) {
		if (!g->frame_start)
			return 0;
		/* a DATA frame starts: try whether a message starts with it */
		g->broken = false;
		g->resyncing = true;
		lp_stream_reset(&g->frame);
		g->buf_len = 0;
		g->msg_lost = 0;
	}
	g->frame_start = false;
	while (n) {
		unsigned ev;
		size_t used = lp_stream_next(&g->frame, &grpc_message_format, p, n, &ev);

		if (ev & LP_HEADER) {
			if (g->resyncing && !prefix_plausible(g)) {
				/* not a message's start: wait for the next DATA frame */
				g->broken = true;
				g->resyncing = false;
				lp_stream_reset(&g->frame);
				return rc;
			}
			if (g->resyncing)
				g->resyncs++;
			g->resyncing = false;
			g->compressed = g->frame.hdr[0] & 1;
			g->buf_len = 0;
			g->msg_lost = 0;
		}
		if ((ev & LP_BODY) && !g->msg_lost && message_keep(g, p, used))
			rc = -ENOMEM;
		p += used;
		n -= used;
		if (ev & LP_END) {
			if (g->msg_lost)
				list_incomplete(g, true); /* a gap cut it: listed, not decoded */
			else if (message_done(g, encoding))
				rc = -ENOMEM;
			/* a big message's buffer is not kept for the next one */
			if (g->buf_cap > 64u * 1024u) {
				free(g->buf);
				g->buf = NULL;
				g->buf_cap = 0;
			}
			g->buf_len = 0;
			g->msg_lost = 0;
		}
	}
	return rc;
}

int grpc_messages_feed(struct grpc_messages *g, const uint8_t *p, size_t n, const char *encoding)
{
	int rc = messages_feed(g, p, n, encoding);

	held_sync(g);
	return rc;
}

void grpc_messages_data_frame(struct grpc_messages *g)
{
	g->frame_start = true;
}

void grpc_messages_lost(struct grpc_messages *g, uint64_t n)
{
	g->bytes += n;
	g->frame_start = false;
	if (g->broken)
		return;
	if (!g->resyncing && g->frame.in_body && n < g->frame.len - g->frame.got) {
		/* inside a message whose length is known: it is cut, the next one is not */
		g->msg_lost += n;
		g->frame.got += n;
		return;
	}
	if (!g->resyncing && g->frame.in_body && n == g->frame.len - g->frame.got) {
		g->msg_lost += n;
		g->frame.got += n;
		list_incomplete(g, true);
		lp_stream_reset(&g->frame);
		g->buf_len = 0;
		g->msg_lost = 0;
		held_sync(g);
		return;
	}
	/* the gap cut a prefix or spans messages: framing is found again at a DATA frame */
	if (!g->resyncing)
		grpc_messages_finish(g);
	g->broken = true;
	g->resyncing = false;
	lp_stream_reset(&g->frame);
	g->buf_len = 0;
	g->msg_lost = 0;
	held_sync(g);
}

void grpc_messages_finish(struct grpc_messages *g)
{
	if (!lp_stream_mid_frame(&g->frame) || g->broken || g->resyncing)
		return;
	list_incomplete(g, g->frame.in_body);
	lp_stream_reset(&g->frame);
	g->buf_len = 0;
	g->msg_lost = 0;
	held_sync(g);
}

/* ---- the call ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* grpc-message is percent-encoded UTF-8; a malformed escape is kept as it is. */
static json_t *percent_decoded(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	uint8_t *buf = malloc(n + 1);
	json_t *j;

	if (!buf)
		return NULL;
	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			buf[o++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else {
			buf[o++] = (uint8_t)s[i];
		}
	}
	j = entry_json_text(buf, o);
	free(buf);
	return j;
}

/* grpc-status is 1*DIGIT; anything else is not a status. */
static bool parse_status(const char *s, long *code)
{
	long v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return false;
		v = v * 10 + (*s - '0');
	}
	*code = v;
	return true;
}

static int set_messages(json_t *o, const char *list_key, const char *count_key,
			struct grpc_messages *g)
{
	json_t *list;

	if (!g)
		return 0;
	grpc_messages_finish(g);
	list = g->list ? json_incref(g->list) : json_array();
	if (!list || json_object_set_new(o, list_key, list))
		return -ENOMEM;
	return json_object_set_new(o, count_key, json_integer((json_int_t)g->count)) ? -ENOMEM
										     : 0;
}

json_t *grpc_call_json(const char *path, const json_t *req_headers, const json_t *resp_headers,
		       const json_t *resp_trailers, struct grpc_messages *req,
		       struct grpc_messages *resp)
{
	const json_t *src = resp_trailers;
	const char *status, *msg, *enc;
	json_t *o = json_object();
	int rc = 0;
	long code;

	if (!o)
		return NULL;
	/* :path is "/" Service-Name "/" Method-Name; the service may hold dots (package) */
	if (path && path[0] == '/') {
		const char *slash = strrchr(path, '/');

		if (slash > path) {
			rc |= entry_set_text(o, "service", (const uint8_t *)path + 1,
					     (size_t)(slash - path - 1));
			rc |= entry_set_text(o, "method", (const uint8_t *)slash + 1,
					     strlen(slash + 1));
		}
	}
	/* A trailers-only response carries grpc-status in its one HEADERS. */
	status = http_headers_get(src, "grpc-status");
	if (!status) {
		src = resp_headers;
		status = http_headers_get(src, "grpc-status");
	}
	if (parse_status(status, &code)) {
		const char *name = grpc_status_name(code);

		rc |= json_object_set_new(o, "status", json_integer(code));
		if (name)
			rc |= json_object_set_new(o, "status_name", json_string(name));
	}
	msg = http_headers_get(src, "grpc-message");
	if (msg)
		rc |= json_object_set_new(o, "message", percent_decoded(msg));
	enc = http_headers_get(req_headers, "grpc-encoding");
	if (!enc)
		enc = http_headers_get(resp_headers, "grpc-encoding");
	if (enc)
		rc |= entry_set_text(o, "encoding", (const uint8_t *)enc, strlen(enc));
	rc |= set_messages(o, "request_messages", "request_count", req);
	rc |= set_messages(o, "response_messages", "response_count", resp);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}
