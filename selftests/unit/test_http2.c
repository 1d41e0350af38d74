// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the HTTP/2 dissector (dissect/http2.c) through the engine's byte-stream
 * interface, with hand-built frames and header blocks from nghttp2's HPACK deflater (one per
 * direction, as real peers have): every frame type, padding, CONTINUATION, interleaved
 * streams, splits at every byte, h2c upgrade, push, RST_STREAM, GOAWAY, gaps, bounds, gRPC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/grpc.h"
#include "dissect/http2.h"
#include "protocols/schema.h"

#define C2S TCP_DIR_C2S
#define S2C TCP_DIR_S2C

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

enum { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY,
       WINDOW_UPDATE, CONTINUATION };
#define END_STREAM  0x1
#define ACK         0x1
#define END_HEADERS 0x4
#define PADDED      0x8
#define PRIO        0x20

struct fx {
	struct dissect_engine *eng;
	struct conn *c;
	json_t *out; /* entries as JSON, in emission order */
	uint64_t ts;
	nghttp2_hd_deflater *def[2];
	uint8_t buf[2][1 << 20]; /* bytes built and not yet sent, per direction */
	size_t n[2];
};

static void collect(void *ctx, const struct entry *e)
{
	struct fx *f = ctx;

	json_array_append_new(f->out, entry_to_json(e));
}

static struct fx *fx_new_cfg(const struct dissect_config *cfg)
{
	struct tcp_flow_info info = { .id = 1, .family = AF_INET, .role = TCP_ROLE_SYN };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	info.client.port = 40000;
	info.server.port = 50051;
	info.client.addr[10] = info.client.addr[11] = 0xff;
	info.client.addr[12] = 10;
	info.client.addr[15] = 1;
	info.server.addr[10] = info.server.addr[11] = 0xff;
	info.server.addr[12] = 10;
	info.server.addr[15] = 2;
	f->out = json_array();
	f->ts = 1000;
	assert_int_equal(dissect_engine_create(cfg, collect, f, &f->eng), 0);
	f->c = dissect_stream_open(f->eng, &info);
	assert_non_null(f->c);
	assert_int_equal(nghttp2_hd_deflate_new(&f->def[0], 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&f->def[1], 4096), 0);
	return f;
}

static struct fx *fx_new(void)
{
	return fx_new_cfg(NULL);
}

static void fx_close(struct fx *f, enum tcp_close_reason why)
{
	if (f->c)
		dissect_stream_close(f->eng, f->c, why, f->ts);
	f->c = NULL;
}

static void fx_free(struct fx *f)
{
	fx_close(f, TCP_CLOSE_FIN);
	dissect_engine_destroy(f->eng);
	nghttp2_hd_deflate_del(f->def[0]);
	nghttp2_hd_deflate_del(f->def[1]);
	json_decref(f->out);
	free(f);
}

static void put(struct fx *f, int dir, const void *p, size_t n)
{
	assert_true(f->n[dir] + n <= sizeof(f->buf[dir]));
	memcpy(f->buf[dir] + f->n[dir], p, n);
	f->n[dir] += n;
}

static void frame(struct fx *f, int dir, int type, int flags, uint32_t sid, const void *p,
		  size_t n)
{
	uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, (uint8_t)type,
			 (uint8_t)flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
			 (uint8_t)(sid >> 8), (uint8_t)sid };

	put(f, dir, h, 9);
	if (n)
		put(f, dir, p, n);
}

/* A header block from "name", "value", ..., NULL with dir's encoder. */
static size_t block_v(struct fx *f, int dir, uint8_t *out, size_t cap, va_list ap)
{
	nghttp2_nv nv[64];
	size_t k = 0;
	const char *name;
	ssize_t rv;

	while ((name = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);

		assert_true(k < 64);
		nv[k].name = (uint8_t *)name;
		nv[k].namelen = strlen(name);
		nv[k].value = (uint8_t *)value;
		nv[k].valuelen = strlen(value);
		nv[k].flags = NGHTTP2_NV_FLAG_NONE;
		k++;
	}
	rv = nghttp2_hd_deflate_hd(f->def[dir], out, cap, nv, k);
	assert_true(rv >= 0);
	return (size_t)rv;
}

static size_t block(struct fx *f, int dir, uint8_t *out, size_t cap, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, cap);
	n = block_v(f, dir, out, cap, ap);
	va_end(ap);
	return n;
}

/* HEADERS with END_HEADERS (and flags) on sid. */
static void headers(struct fx *f, int dir, uint32_t sid, int flags, ...)
{
	uint8_t b[16384];
	va_list ap;
	size_t n;

	va_start(ap, flags);
	n = block_v(f, dir, b, sizeof(b), ap);
	va_end(ap);
	frame(f, dir, HEADERS, flags | END_HEADERS, sid, b, n);
}

static void data(struct fx *f, int dir, uint32_t sid, int flags, const char *s)
{
	frame(f, dir, DATA, flags, sid, s, strlen(s));
}

static void preface(struct fx *f)
{
	put(f, C2S, PREFACE, 24);
	frame(f, C2S, SETTINGS, 0, 0, NULL, 0);
	frame(f, S2C, SETTINGS, 0, 0, "\x00\x03\x00\x00\x00\x64", 6);
	frame(f, S2C, SETTINGS, ACK, 0, NULL, 0);
	frame(f, C2S, SETTINGS, ACK, 0, NULL, 0);
}

/* Send what was built in dir, in chunks of `chunk` bytes (0: at once). */
static void flush_chunked(struct fx *f, int dir, size_t chunk)
{
	size_t off = 0;

	if (!chunk)
		chunk = f->n[dir];
	while (off < f->n[dir]) {
		size_t k = f->n[dir] - off < chunk ? f->n[dir] - off : chunk;

		dissect_stream_data(f->eng, f->c, dir, f->buf[dir] + off, k, f->ts);
		f->ts += 1000;
		off += k;
	}
	f->n[dir] = 0;
}

static void flush(struct fx *f, int dir)
{
	flush_chunked(f, dir, 0);
}

static void flush_both(struct fx *f)
{
	flush(f, C2S);
	flush(f, S2C);
}

static size_t nout(struct fx *f)
{
	return json_array_size(f->out);
}

/* A value by dotted path ("response.headers.server"; numbers index arrays). */
static json_t *jget(json_t *o, const char *path)
{
	char key[128];
	const char *p = path;

	while (o && *p) {
		size_t k = strcspn(p, ".");

		assert_true(k < sizeof(key));
		memcpy(key, p, k);
		key[k] = 0;
		if (json_is_array(o))
			o = json_array_get(o, strtoul(key, NULL, 10));
		else
			o = json_object_get(o, key);
		p += k;
		if (*p == '.')
			p++;
	}
	return o;
}

static const char *jstr(json_t *o, const char *path)
{
	return json_string_value(jget(o, path));
}

static long long jint(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	assert_non_null(v);
	return json_integer_value(v);
}

static json_t *entry_at(struct fx *f, size_t i)
{
	assert_true(i < nout(f));
	return json_array_get(f->out, i);
}

static json_t *entry_of_stream(struct fx *f, long long sid)
{
	size_t i;

	for (i = 0; i < nout(f); i++)
		if (json_integer_value(json_object_get(json_array_get(f->out, i), "stream_id")) ==
		    sid)
			return json_array_get(f->out, i);
	fail_msg("no entry for stream %lld", sid);
	return NULL;
}

static uint64_t parse_errors(struct fx *f)
{
	struct dissect_stats st;

	dissect_engine_get_stats(f->eng, &st);
	return st.parse_errors;
}

/* A dissector's event counter by names ("http2", "resyncs"). */
static uint64_t counter(struct fx *f, const char *dissector, const char *name)
{
	struct dissect_stats st;
	unsigned p, i;
	const char *pn, *cn;

	dissect_engine_get_stats(f->eng, &st);
	for (p = 0; (pn = dissect_protocol_name(p)); p++) {
		if (strcmp(pn, dissector))
			continue;
		for (i = 0; (cn = dissect_counter_name(p, i)); i++)
			if (!strcmp(cn, name))
				return st.counters[p][i];
	}
	fail_msg("no counter %s.%s", dissector, name);
	return 0;
}

/* The usual GET / exchange on stream sid. */
static void simple_exchange(struct fx *f, uint32_t sid)
{
	headers(f, C2S, sid, END_STREAM, ":method", "GET", ":scheme", "http", ":authority",
		"example.com", ":path", "/a/b?x=1&y=two%20words", "user-agent", "test/1",
		"cookie", "a=1", "cookie", "b=2", NULL);
	headers(f, S2C, sid, 0, ":status", "200", "content-type", "text/plain", "server",
		"unit", "set-cookie", "s=1; Path=/", NULL);
	data(f, S2C, sid, 0, "hello ");
	data(f, S2C, sid, END_STREAM, "world");
}

/* ------------------------------------------------------------------ tests */

static void test_detect(void **state)
{
	const struct dissector *d = &dissector_http2;
	static const uint8_t settings[15] = { 0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100 };
	static const uint8_t settings_ack[9] = { 0, 0, 0, 4, 1, 0, 0, 0, 0 };
	static const uint8_t headers_frame[9] = { 0, 0, 6, 1, 4, 0, 0, 0, 1 };
	/* mid-connection: WINDOW_UPDATE then HEADERS(2 bytes) then DATA(3 bytes), exactly */
	static const uint8_t mid[] = { 0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0,
				       0, 0, 2, 1, 4, 0, 0, 0, 5, 0x82, 0x84,
				       0, 0, 3, 0, 1, 0, 0, 0, 5, 'a', 'b', 'c' };
	/* other protocols' first bytes */
	static const uint8_t kafka[] = { 0, 0, 0, 0x1d, 0, 3, 0, 9, 0, 0, 0, 1, 0, 7, 'r', 'd',
					 'k', 'a', 'f', 'k', 'a', 0, 0, 0, 1, 0, 4, 't', 'e',
					 's', 't', 1, 0 };
	static const uint8_t amqp[] = { 1, 0, 1, 0, 0, 0, 4, 0, 10, 0, 40, 0xce };
	static const uint8_t dns_tcp[] = { 0, 29, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7,
					   'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm',
					   0, 0, 1, 0, 1 };
	static const uint8_t tls[] = { 0x16, 3, 1, 0, 0x40, 1, 0, 0, 0x3c, 3, 3 };

	(void)state;
	assert_string_equal(d->name, "http2");
	assert_int_equal(d->detect(C2S, (const uint8_t *)PREFACE, 24), DETECT_YES);
	assert_int_equal(d->detect(C2S, (const uint8_t *)PREFACE "\0\0", 26), DETECT_YES);
	assert_int_equal(d->detect(C2S, (const uint8_t *)"PRI * HT", 8), DETECT_MAYBE);
	assert_int_equal(d->detect(C2S, (const uint8_t *)"PRI * HTTP/1.1\r\n", 16), DETECT_NO);
	assert_int_equal(d->detect(C2S, (const uint8_t *)"GET / HTTP/1.1\r\n", 16), DETECT_NO);
	assert_int_equal(d->detect(S2C, settings, 15), DETECT_YES);
	assert_int_equal(d->detect(S2C, settings, 9), DETECT_MAYBE); /* its payload is owed */
	assert_int_equal(d->detect(S2C, settings, 4), DETECT_MAYBE);
	/* a whole frame and nothing else: a connection picked up in the middle */
	assert_int_equal(d->detect(S2C, settings_ack, 9), DETECT_YES);
	assert_int_equal(d->detect(S2C, headers_frame, 9), DETECT_MAYBE);
	assert_int_equal(d->detect(S2C, mid, sizeof(mid)), DETECT_YES);
	assert_int_equal(d->detect(C2S, mid, sizeof(mid)), DETECT_YES);
	/* three chained headers are enough, two with a third cut short are not yet */
	assert_int_equal(d->detect(C2S, mid, sizeof(mid) - 1), DETECT_YES);
	assert_int_equal(d->detect(C2S, mid, 13 + 11 + 5), DETECT_MAYBE);
	/* a fourth header after the frames: taken (three chained), or not if impossible */
	{
		uint8_t more[sizeof(mid) + 9];

		memcpy(more, mid, sizeof(mid));
		memset(more + sizeof(mid), 0xff, 9);
		assert_int_equal(d->detect(C2S, more, sizeof(more)), DETECT_YES); /* 3 frames */
		more[3] = 0x0b; /* an extension type: not taken for a boundary */
		assert_int_equal(d->detect(C2S, more, sizeof(more)), DETECT_NO);
	}
	assert_int_equal(d->detect(S2C, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17), DETECT_NO);
	/* a length that is not a whole number of settings */
	assert_int_equal(d->detect(S2C, (const uint8_t *)"\0\0\7\4\0\0\0\0\0", 9), DETECT_NO);
	/* PING on a stream, DATA on stream 0, undefined flags, the reserved bit */
	assert_int_equal(d->detect(S2C, (const uint8_t *)"\0\0\10\6\0\0\0\0\1" "12345678", 17),
			 DETECT_NO);
	assert_int_equal(d->detect(S2C, (const uint8_t *)"\0\0\1\0\0\0\0\0\0x", 10), DETECT_NO);
	assert_int_equal(d->detect(S2C, (const uint8_t *)"\0\0\1\0\2\0\0\0\1x", 10), DETECT_NO);
	assert_int_equal(d->detect(S2C, (const uint8_t *)"\0\0\1\0\0\x80\0\0\1x", 10), DETECT_NO);
	/* other protocols are not taken */
	assert_int_equal(d->detect(C2S, kafka, sizeof(kafka)), DETECT_NO);
	assert_int_equal(d->detect(C2S, amqp, sizeof(amqp)), DETECT_NO);
	assert_int_equal(d->detect(C2S, tls, sizeof(tls)), DETECT_NO);
	assert_int_equal(d->detect(C2S, (const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14), DETECT_NO);
	assert_int_equal(d->detect(C2S, dns_tcp, sizeof(dns_tcp)) == DETECT_YES, 0);
}

static void test_exchange_fields(void **state)
{
	struct fx *f = fx_new();
	json_t *e;

	(void)state;
	preface(f);
	simple_exchange(f, 1);
	flush(f, C2S);
	uint64_t t_req = f->ts - 1000;

	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_string_equal(jstr(e, "protocol"), "http");
	assert_string_equal(jstr(e, "version"), "2");
	assert_int_equal(jint(e, "stream_id"), 1);
	assert_null(jget(e, "missing"));
	assert_string_equal(jstr(e, "request.method"), "GET");
	assert_string_equal(jstr(e, "request.url"), "/a/b?x=1&y=two%20words");
	assert_string_equal(jstr(e, "request.path"), "/a/b");
	assert_string_equal(jstr(e, "request.query"), "x=1&y=two%20words");
	assert_string_equal(jstr(e, "request.query_params.y"), "two words");
	assert_string_equal(jstr(e, "request.authority"), "example.com");
	assert_string_equal(jstr(e, "request.scheme"), "http");
	assert_string_equal(jstr(e, "request.version"), "2");
	assert_string_equal(jstr(e, "request.headers.user-agent"), "test/1");
	/* split cookie fields rejoin with "; " (RFC 9113 8.2.3) */
	assert_string_equal(jstr(e, "request.headers.cookie"), "a=1; b=2");
	assert_string_equal(jstr(e, "request.cookies.b"), "2");
	assert_null(jget(e, "request.headers.:method"));
	assert_int_equal(jint(e, "response.status"), 200);
	assert_string_equal(jstr(e, "response.status_text"), "OK");
	assert_string_equal(jstr(e, "response.version"), "2");
	assert_string_equal(jstr(e, "response.content_type"), "text/plain");
	assert_string_equal(jstr(e, "response.cookies.s"), "1");
	assert_string_equal(jstr(e, "response.body.text"), "hello world");
	assert_int_equal(jint(e, "response.body.size"), 11);
	assert_int_equal(jint(e, "request.body.size"), 0);
	assert_true(jint(e, "request_size") > 0);
	/* HEADERS payload + 6 + 5 DATA bytes */
	assert_true(jint(e, "response_size") > 11);
	assert_non_null(jget(e, "request_time"));
	assert_non_null(jget(e, "response_time"));
	assert_true(t_req > 0);
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

static void test_timestamps_and_sizes(void **state)
{
	struct dissect_engine *eng;
	struct fx *f = fx_new();
	uint8_t b[256];
	size_t n;

	(void)state;
	(void)eng;
	preface(f);
	flush_both(f);
	n = block(f, C2S, b, sizeof(b), ":method", "POST", ":scheme", "http", ":path", "/p",
		  ":authority", "h", NULL);
	frame(f, C2S, HEADERS, END_HEADERS, 3, b, n);
	f->ts = 5000000;
	flush(f, C2S); /* request starts at 5 ms */
	data(f, C2S, 3, END_STREAM, "abc");
	f->ts = 6000000;
	flush(f, C2S); /* ends at 6 ms */
	headers(f, S2C, 3, 0, ":status", "204", NULL);
	f->ts = 9000000;
	flush(f, S2C);
	frame(f, S2C, DATA, END_STREAM, 3, NULL, 0);
	f->ts = 9500000;
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	json_t *e = entry_at(f, 0);

	assert_int_equal(jint(e, "request_size"), (long long)n + 3);
	assert_string_equal(jstr(e, "request.body.text"), "abc");
	assert_string_equal(jstr(e, "response.status_text"), "No Content");
	/* elapsed = response HEADERS - request HEADERS */
	assert_true(json_real_value(jget(e, "elapsed_ms")) > 3.99 &&
		    json_real_value(jget(e, "elapsed_ms")) < 4.01);
	fx_free(f);
}

/* Same exchange, bytes sent in chunks of every size: same entry. */
static void test_every_chunk_size(void **state)
{
	struct fx *ref = fx_new();
	json_t *want;
	size_t total[2], k;

	(void)state;
	preface(ref);
	simple_exchange(ref, 1);
	total[0] = ref->n[0];
	total[1] = ref->n[1];
	flush_both(ref);
	assert_int_equal(nout(ref), 1);
	want = json_deep_copy(entry_at(ref, 0));
	json_object_del(want, "request_time");
	json_object_del(want, "response_time");
	json_object_del(want, "elapsed_ms");
	for (k = 1; k <= (total[0] > total[1] ? total[0] : total[1]); k++) {
		struct fx *f = fx_new();
		json_t *got;

		preface(f);
		simple_exchange(f, 1);
		flush_chunked(f, C2S, k);
		flush_chunked(f, S2C, k);
		assert_int_equal(nout(f), 1);
		got = json_deep_copy(entry_at(f, 0));
		json_object_del(got, "request_time");
		json_object_del(got, "response_time");
		json_object_del(got, "elapsed_ms");
		if (!json_equal(got, want)) {
			char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);

			fail_msg("chunk %zu:\n%s\n%s", k, a, b);
		}
		assert_int_equal(parse_errors(f), 0);
		json_decref(got);
		fx_free(f);
	}
	json_decref(want);
	fx_free(ref);
}

/* One split point anywhere in each direction (two segments). */
static void test_every_split_point(void **state)
{
	struct fx *tmp = fx_new();
	size_t total[2], i, dir;

	(void)state;
	preface(tmp);
	simple_exchange(tmp, 1);
	total[0] = tmp->n[0];
	total[1] = tmp->n[1];
	fx_free(tmp);
	for (dir = 0; dir < 2; dir++) {
		for (i = 1; i < total[dir]; i++) {
			struct fx *f = fx_new();

			preface(f);
			simple_exchange(f, 1);
			flush(f, !dir);
			dissect_stream_data(f->eng, f->c, dir, f->buf[dir], i, f->ts++);
			dissect_stream_data(f->eng, f->c, dir, f->buf[dir] + i, total[dir] - i,
					    f->ts++);
			f->n[dir] = 0;
			assert_int_equal(nout(f), 1);
			assert_string_equal(jstr(entry_at(f, 0), "response.body.text"),
					    "hello world");
			assert_string_equal(jstr(entry_at(f, 0), "request.path"), "/a/b");
			fx_free(f);
		}
	}
}

static void test_control_frames_and_unknown_types(void **state)
{
	struct fx *f = fx_new();
	static const uint8_t ping[8] = "pingpong";
	static const uint8_t goaway_ok[8] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };

	(void)state;
	preface(f);
	frame(f, C2S, PING, 0, 0, ping, 8);
	frame(f, S2C, PING, ACK, 0, ping, 8);
	frame(f, C2S, WINDOW_UPDATE, 0, 0, "\x00\x01\x00\x00", 4);
	frame(f, C2S, PRIORITY, 0, 3, "\x00\x00\x00\x00\x10", 5);
	frame(f, C2S, 0x42, 0xff, 0, "extension payload", 17); /* unknown type: skipped */
	frame(f, S2C, 0xfa, 0, 1, "x", 1);
	frame(f, C2S, 0x0a, 0, 0, "\x00\x04host", 6); /* ALTSVC: not ours */
	simple_exchange(f, 1);
	frame(f, S2C, WINDOW_UPDATE, 0, 1, "\x00\x00\x10\x00", 4);
	/* graceful GOAWAY (last = 2^31-1) cancels nothing */
	frame(f, S2C, GOAWAY, 0, 0, goaway_ok, 8);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	assert_null(jget(entry_at(f, 0), "missing"));
	assert_string_equal(jstr(entry_at(f, 0), "response.body.text"), "hello world");
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

static void test_padding_and_priority(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[512], p[1024];
	size_t n;

	(void)state;
	preface(f);
	/* HEADERS: PADDED + PRIORITY: pad length, 5 priority bytes, block, 7 bytes padding */
	n = block(f, C2S, b, sizeof(b), ":method", "GET", ":scheme", "https", ":path", "/pad",
		  ":authority", "x", NULL);
	p[0] = 7;
	memcpy(p + 1, "\x80\x00\x00\x00\xff", 5);
	memcpy(p + 6, b, n);
	memset(p + 6 + n, 0, 7);
	frame(f, C2S, HEADERS, END_HEADERS | END_STREAM | PADDED | PRIO, 1, p, 6 + n + 7);
	headers(f, S2C, 1, 0, ":status", "200", NULL);
	/* DATA padded with 200 bytes, and one that is only padding */
	p[0] = 200;
	memcpy(p + 1, "body", 4);
	memset(p + 5, 0, 200);
	frame(f, S2C, DATA, PADDED, 1, p, 205);
	p[0] = 0;
	frame(f, S2C, DATA, PADDED, 1, p, 1);
	p[0] = 3;
	memcpy(p + 1, "!\0\0\0", 4);
	frame(f, S2C, DATA, PADDED | END_STREAM, 1, p, 5);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	assert_string_equal(jstr(entry_at(f, 0), "request.path"), "/pad");
	assert_string_equal(jstr(entry_at(f, 0), "response.body.text"), "body!");
	assert_int_equal(jint(entry_at(f, 0), "response.body.size"), 5);
	/* sizes count whole payloads, padding included */
	assert_int_equal(jint(entry_at(f, 0), "request_size"), 6 + n + 7);
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

static void test_padding_too_long(void **state)
{
	struct fx *f = fx_new();
	uint8_t p[8] = { 9, 'a', 'b' };

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/",
		NULL);
	headers(f, S2C, 1, 0, ":status", "200", NULL);
	frame(f, S2C, DATA, PADDED, 1, p, 3); /* pad length 9 > payload */
	data(f, S2C, 1, END_STREAM, "ok");
	flush_both(f);
	/* a malformed DATA frame is skipped and counted; the stream goes on */
	assert_int_equal(nout(f), 1);
	assert_string_equal(jstr(entry_at(f, 0), "response.body.text"), "ok");
	assert_int_equal(parse_errors(f), 1);
	fx_free(f);
}

static void test_continuation(void **state)
{
	struct fx *f = fx_new();
	char big[3000];
	uint8_t b[16384];
	size_t n;

	(void)state;
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	preface(f);
	n = block(f, C2S, b, sizeof(b), ":method", "GET", ":scheme", "http", ":path", "/cont",
		  ":authority", "x", "x-big", big, "x-after", "1", NULL);
	assert_true(n > 1100);
	/* HEADERS + 3 CONTINUATION, split inside a header value */
	frame(f, C2S, HEADERS, END_STREAM, 1, b, 10);
	frame(f, C2S, CONTINUATION, 0, 1, b + 10, 1000);
	frame(f, C2S, CONTINUATION, 0, 1, NULL, 0);
	frame(f, C2S, CONTINUATION, END_HEADERS, 1, b + 1010, n - 1010);
	headers(f, S2C, 1, END_STREAM, ":status", "304", NULL);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	assert_string_equal(jstr(entry_at(f, 0), "request.path"), "/cont");
	assert_string_equal(jstr(entry_at(f, 0), "request.headers.x-big"), big);
	assert_string_equal(jstr(entry_at(f, 0), "request.headers.x-after"), "1");
	assert_int_equal(jint(entry_at(f, 0), "request_size"), n);
	assert_int_equal(jint(entry_at(f, 0), "response.status"), 304);
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

static void count_problem(const char *path, const char *problem, void *ctx)
{
	print_message("schema: %s: %s\n", path, problem);
	(*(size_t *)ctx)++;
}

/*
 * Decoded headers past the 64 KiB bound: the rest are dropped, the half says
 * headers_truncated, and the entry still fits the schema (which declares the flag on
 * request and response, where the dissector sets it).
 */
static void test_headers_truncated(void **state)
{
	static uint8_t b[200000];
	struct fx *f = fx_new();
	char big[4001];
	size_t n, off, problems = 0;

	(void)state;
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	preface(f);
	n = block(f, C2S, b, sizeof(b), ":method", "GET", ":scheme", "http", ":path", "/many",
		  ":authority", "x", "x-h01", big, "x-h02", big, "x-h03", big, "x-h04", big,
		  "x-h05", big, "x-h06", big, "x-h07", big, "x-h08", big, "x-h09", big, "x-h10",
		  big, "x-h11", big, "x-h12", big, "x-h13", big, "x-h14", big, "x-h15", big,
		  "x-h16", big, "x-h17", big, "x-h18", big, "x-h19", big, "x-h20", big, NULL);
	assert_true(n > 65536);
	/* HEADERS then CONTINUATIONs of at most 16 KiB (the default frame size) */
	frame(f, C2S, HEADERS, END_STREAM, 1, b, 16384);
	for (off = 16384; off < n; off += 16384) {
		size_t len = n - off < 16384 ? n - off : 16384;

		frame(f, C2S, CONTINUATION, off + len == n ? END_HEADERS : 0, 1, b + off, len);
	}
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	assert_string_equal(jstr(entry_at(f, 0), "request.path"), "/many");
	assert_true(json_is_true(jget(entry_at(f, 0), "request.headers_truncated")));
	assert_non_null(jget(entry_at(f, 0), "request.headers.x-h01"));
	assert_null(jget(entry_at(f, 0), "request.headers.x-h20"));
	assert_null(jget(entry_at(f, 0), "response.headers_truncated"));
	assert_int_equal(jint(entry_at(f, 0), "response.status"), 200);
	assert_int_equal(schema_check_entry(entry_at(f, 0), count_problem, &problems), 0);
	assert_int_equal(problems, 0);
	fx_free(f);
}

static void test_continuation_interrupted(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[512];
	size_t n;
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/first",
		NULL);
	flush(f, C2S);
	n = block(f, C2S, b, sizeof(b), ":method", "GET", ":scheme", "http", ":path", "/x",
		  NULL);
	frame(f, C2S, HEADERS, 0, 3, b, 4);
	frame(f, C2S, PING, 0, 0, "12345678", 8); /* not allowed inside a header block */
	frame(f, C2S, CONTINUATION, END_HEADERS, 3, b + 4, n - 4);
	flush(f, C2S);
	/* the block is cut where the PING came (decoded up to there), the stray CONTINUATION
	 * is skipped: two protocol errors, and the connection goes on */
	assert_int_equal(parse_errors(f), 2);
	assert_int_equal(nout(f), 0);
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	headers(f, S2C, 3, END_STREAM, ":status", "404", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 2);
	e = entry_of_stream(f, 1);
	assert_string_equal(jstr(e, "request.path"), "/first");
	assert_int_equal(jint(e, "response.status"), 200);
	assert_null(jget(e, "missing"));
	e = entry_of_stream(f, 3);
	assert_string_equal(jstr(e, "request.method"), "GET"); /* in the first 4 bytes */
	assert_true(json_is_true(jget(e, "request.headers_partial")));
	assert_int_equal(jint(e, "response.status"), 404);
	fx_free(f);
}

static void test_interleaved_streams(void **state)
{
	struct fx *f = fx_new();
	uint32_t sid;
	char path[32], body[32];

	(void)state;
	preface(f);
	for (sid = 1; sid <= 9; sid += 2) {
		snprintf(path, sizeof(path), "/s%u", sid);
		headers(f, C2S, sid, 0, ":method", "POST", ":scheme", "http", ":path", path,
			":authority", "h", "content-type", "text/plain", NULL);
	}
	/* request bodies interleaved, in two rounds */
	for (sid = 9; sid >= 1 && sid <= 9; sid -= 2) {
		snprintf(body, sizeof(body), "req%u-", sid);
		data(f, C2S, sid, 0, body);
	}
	for (sid = 1; sid <= 9; sid += 2) {
		snprintf(body, sizeof(body), "end%u", sid);
		data(f, C2S, sid, END_STREAM, body);
	}
	/* responses in another order, DATA interleaved */
	for (sid = 9; sid >= 1 && sid <= 9; sid -= 2)
		headers(f, S2C, sid, 0, ":status", sid == 5 ? "404" : "200", NULL);
	for (sid = 1; sid <= 9; sid += 2) {
		snprintf(body, sizeof(body), "resp%u", sid);
		data(f, S2C, sid, 0, body);
	}
	for (sid = 3; sid <= 9; sid += 2)
		frame(f, S2C, DATA, END_STREAM, sid, NULL, 0);
	frame(f, S2C, DATA, END_STREAM, 1, NULL, 0);
	flush_both(f);
	assert_int_equal(nout(f), 5);
	/* emitted as they complete: 3, 5, 7, 9, then 1 */
	assert_int_equal(jint(entry_at(f, 0), "stream_id"), 3);
	assert_int_equal(jint(entry_at(f, 4), "stream_id"), 1);
	for (sid = 1; sid <= 9; sid += 2) {
		json_t *e = entry_of_stream(f, sid);
		char want[32];

		snprintf(path, sizeof(path), "/s%u", sid);
		assert_string_equal(jstr(e, "request.path"), path);
		snprintf(want, sizeof(want), "req%u-end%u", sid, sid);
		assert_string_equal(jstr(e, "request.body.text"), want);
		snprintf(want, sizeof(want), "resp%u", sid);
		assert_string_equal(jstr(e, "response.body.text"), want);
		assert_int_equal(jint(e, "response.status"), sid == 5 ? 404 : 200);
	}
	fx_free(f);
}

static void test_trailers_and_informational(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	preface(f);
	headers(f, C2S, 1, 0, ":method", "PUT", ":scheme", "http", ":path", "/up", "expect",
		"100-continue", NULL);
	headers(f, S2C, 1, 0, ":status", "100", NULL);
	data(f, C2S, 1, 0, "data");
	headers(f, C2S, 1, END_STREAM, "x-checksum", "abc", NULL);
	headers(f, S2C, 1, 0, ":status", "201", "x-h", "1", NULL);
	data(f, S2C, 1, 0, "made");
	headers(f, S2C, 1, END_STREAM, "x-t1", "a", NULL);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	json_t *e = entry_at(f, 0);

	assert_string_equal(jstr(e, "request.trailers.x-checksum"), "abc");
	assert_int_equal(jint(e, "response.status"), 201);
	assert_int_equal(jint(e, "interim.0.status"), 100);
	assert_string_equal(jstr(e, "interim.0.status_text"), "Continue");
	assert_string_equal(jstr(e, "response.headers.x-h"), "1");
	assert_string_equal(jstr(e, "response.trailers.x-t1"), "a");
	assert_null(jget(e, "response.headers.x-t1"));
	assert_string_equal(jstr(e, "response.body.text"), "made");
	fx_free(f);
}

static void test_hpack_dynamic_table(void **state)
{
	struct fx *f = fx_new();
	uint32_t sid;
	char v[64];

	(void)state;
	preface(f);
	/* repeated fields are sent as dynamic table indices; the table grows past 4096 */
	frame(f, S2C, SETTINGS, 0, 0, "\x00\x01\x00\x01\x00\x00", 6); /* table 65536 */
	frame(f, C2S, SETTINGS, 0, 0, "\x00\x01\x00\x00\x80\x00", 6); /* table 32768 */
	flush_both(f);
	/* encoders take up the new sizes (they announce it in the next block) */
	assert_int_equal(nghttp2_hd_deflate_change_table_size(f->def[C2S], 65536), 0);
	assert_int_equal(nghttp2_hd_deflate_change_table_size(f->def[S2C], 32768), 0);
	for (sid = 1; sid < 200; sid += 2) {
		snprintf(v, sizeof(v), "value-%u-%0*d", sid, 40, 0);
		headers(f, C2S, sid, END_STREAM, ":method", "GET", ":scheme", "http", ":path",
			"/same", ":authority", "example.com", "x-unique", v, "user-agent",
			"agent/1.0", NULL);
		headers(f, S2C, sid, END_STREAM, ":status", "200", "x-echo", v, "server", "s",
			NULL);
	}
	flush_both(f);
	assert_int_equal(nout(f), 100);
	for (sid = 1; sid < 200; sid += 2) {
		json_t *e = entry_of_stream(f, sid);

		snprintf(v, sizeof(v), "value-%u-%0*d", sid, 40, 0);
		assert_string_equal(jstr(e, "request.headers.x-unique"), v);
		assert_string_equal(jstr(e, "response.headers.x-echo"), v);
		assert_string_equal(jstr(e, "request.authority"), "example.com");
	}
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

static void test_hpack_error(void **state)
{
	struct fx *f = fx_new();
	/* a dynamic index past a table that is known to be short (191) */
	static const uint8_t bad[] = { 0x82, 0xff, 0x40 };
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/ok",
		"x-seen", "before", NULL);
	frame(f, C2S, HEADERS, END_HEADERS | END_STREAM, 3, bad, sizeof(bad));
	/* the encoder's table is unknown after the error: x-seen is a reference now */
	headers(f, C2S, 5, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/ok",
		"x-seen", "before", "x-new", "after", NULL);
	headers(f, C2S, 7, END_STREAM, "x-new", "after", NULL);
	flush(f, C2S);
	assert_int_equal(parse_errors(f), 1);
	assert_int_equal(nout(f), 0);
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	headers(f, S2C, 3, END_STREAM, ":status", "400", NULL);
	headers(f, S2C, 5, END_STREAM, ":status", "200", NULL);
	headers(f, S2C, 7, END_STREAM, ":status", "200", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 4);
	e = entry_of_stream(f, 1);
	assert_string_equal(jstr(e, "request.headers.x-seen"), "before");
	assert_null(jget(e, "request.headers_partial"));
	e = entry_of_stream(f, 3);
	assert_string_equal(jstr(e, "request.method"), "GET");
	assert_true(json_is_true(jget(e, "request.headers_partial")));
	e = entry_of_stream(f, 5);
	assert_true(json_is_true(jget(e, "request.headers_partial")));
	assert_null(jget(e, "request.headers.x-seen"));
	assert_non_null(jget(e, "request.unknown_headers.0.index"));
	assert_string_equal(jstr(e, "request.headers.x-new"), "after"); /* a new literal */
	e = entry_of_stream(f, 7);
	/* x-new was indexed in stream 5's block: known again */
	assert_string_equal(jstr(e, "request.headers.x-new"), "after");
	assert_null(jget(e, "request.headers_partial"));
	fx_free(f);
}

static void test_rst_stream(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/slow",
		NULL);
	headers(f, S2C, 1, 0, ":status", "200", NULL);
	data(f, S2C, 1, 0, "part");
	flush_both(f);
	frame(f, C2S, RST_STREAM, 0, 1, "\x00\x00\x00\x08", 4); /* CANCEL */
	flush(f, C2S);
	data(f, S2C, 1, END_STREAM, "late"); /* in flight: ignored */
	flush(f, S2C);
	headers(f, C2S, 3, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/r",
		NULL);
	headers(f, S2C, 3, END_STREAM, ":status", "200", NULL);
	frame(f, S2C, RST_STREAM, 0, 3, "\x00\x00\x00\x00", 4); /* after the end: complete */
	headers(f, C2S, 5, 0, ":method", "POST", ":scheme", "http", ":path", "/big", NULL);
	frame(f, S2C, RST_STREAM, 0, 5, "\x00\x00\x00\x07", 4); /* REFUSED_STREAM */
	flush(f, C2S);
	flush(f, S2C);
	assert_int_equal(nout(f), 3);
	json_t *e = entry_of_stream(f, 1);

	assert_string_equal(jstr(e, "incomplete"), "response");
	assert_string_equal(jstr(e, "missing_reason"), "stream_reset");
	assert_string_equal(jstr(e, "rst_error"), "CANCEL");
	assert_string_equal(jstr(e, "rst_by"), "client");
	assert_string_equal(jstr(e, "response.body.text"), "part");
	e = entry_of_stream(f, 3);
	assert_null(jget(e, "missing"));
	assert_null(jget(e, "incomplete"));
	e = entry_of_stream(f, 5);
	assert_string_equal(jstr(e, "rst_error"), "REFUSED_STREAM");
	assert_string_equal(jstr(e, "rst_by"), "server");
	assert_string_equal(jstr(e, "missing"), "response");
	fx_free(f);
}

static void test_goaway(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/one",
		NULL);
	headers(f, C2S, 3, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/two",
		NULL);
	headers(f, C2S, 5, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/three",
		NULL);
	flush(f, C2S);
	/* the server processed up to stream 1: 3 and 5 were not */
	frame(f, S2C, GOAWAY, 0, 0, "\x00\x00\x00\x01\x00\x00\x00\x0b" "calm down", 17);
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 3);
	assert_string_equal(jstr(entry_of_stream(f, 3), "missing_reason"), "stream_reset");
	assert_true(json_is_true(jget(entry_of_stream(f, 5), "goaway")));
	assert_null(jget(entry_of_stream(f, 1), "missing"));
	assert_int_equal(jint(entry_of_stream(f, 1), "response.status"), 200);
	fx_free(f);
}

static void test_server_push(void **state)
{
	struct fx *f = fx_new();
	uint8_t b[512], p[600];
	size_t n;

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/",
		":authority", "h", NULL);
	n = block(f, S2C, b, sizeof(b), ":method", "GET", ":scheme", "http", ":path",
		  "/style.css", ":authority", "h", NULL);
	memcpy(p, "\x00\x00\x00\x02", 4);
	memcpy(p + 4, b, n);
	frame(f, S2C, PUSH_PROMISE, END_HEADERS, 1, p, 4 + n);
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "text/html", NULL);
	headers(f, S2C, 2, 0, ":status", "200", "content-type", "text/css", NULL);
	data(f, S2C, 2, END_STREAM, "body{}");
	data(f, S2C, 1, END_STREAM, "<html/>");
	flush_both(f);
	assert_int_equal(nout(f), 2);
	json_t *e = entry_of_stream(f, 2);

	assert_true(json_is_true(jget(e, "pushed")));
	assert_int_equal(jint(e, "promised_on_stream"), 1);
	assert_string_equal(jstr(e, "request.path"), "/style.css");
	assert_string_equal(jstr(e, "response.body.text"), "body{}");
	assert_int_equal(jint(e, "request_size"), 4 + n);
	assert_null(jget(e, "missing"));
	assert_string_equal(jstr(entry_of_stream(f, 1), "response.body.text"), "<html/>");
	assert_null(jget(entry_of_stream(f, 1), "pushed"));
	fx_free(f);
}

static void test_h2c_upgrade(void **state)
{
	struct fx *f = fx_new();
	json_t *e;

	(void)state;
	/* HTTP2-Settings: SETTINGS_HEADER_TABLE_SIZE = 8192 (00 01 00 00 20 00), base64url */
	put(f, C2S,
	    "GET /up?q=1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
	    "Upgrade: h2c\r\nHTTP2-Settings: AAEAACAA\r\n\r\n",
	    strlen("GET /up?q=1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		   "Upgrade: h2c\r\nHTTP2-Settings: AAEAACAA\r\n\r\n"));
	flush(f, C2S);
	put(f, S2C, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
	    strlen("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
		   "h2c\r\n\r\n"));
	frame(f, S2C, SETTINGS, 0, 0, NULL, 0);
	assert_int_equal(nghttp2_hd_deflate_change_table_size(f->def[S2C], 8192), 0);
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "text/plain", NULL);
	data(f, S2C, 1, END_STREAM, "upgraded");
	put(f, C2S, PREFACE, 24);
	frame(f, C2S, SETTINGS, 0, 0, NULL, 0);
	headers(f, C2S, 3, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/next",
		NULL);
	headers(f, S2C, 3, END_STREAM, ":status", "404", NULL);
	flush(f, S2C);
	flush(f, C2S);
	flush(f, S2C);
	assert_int_equal(nout(f), 2);
	e = entry_of_stream(f, 1);
	assert_string_equal(jstr(e, "protocol"), "http");
	assert_string_equal(jstr(e, "version"), "2");
	assert_string_equal(jstr(e, "upgrade"), "h2c");
	assert_string_equal(jstr(e, "request.method"), "GET");
	assert_string_equal(jstr(e, "request.url"), "/up?q=1");
	assert_int_equal(jint(e, "response.status"), 200);
	assert_string_equal(jstr(e, "response.body.text"), "upgraded");
	assert_null(jget(e, "missing"));
	assert_non_null(jget(e, "request_time"));
	assert_non_null(jget(e, "response_time"));
	e = entry_of_stream(f, 3);
	assert_string_equal(jstr(e, "request.path"), "/next");
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

static void test_gap_inside_data(void **state)
{
	struct fx *f = fx_new();
	char body[1000];

	(void)state;
	memset(body, 'z', sizeof(body) - 1);
	body[sizeof(body) - 1] = 0;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/g",
		NULL);
	headers(f, S2C, 1, 0, ":status", "200", NULL);
	flush_both(f);
	data(f, S2C, 1, 0, body);
	/* send the frame header and 100 bytes, lose 500, send the rest */
	dissect_stream_data(f->eng, f->c, S2C, f->buf[S2C], 109, f->ts++);
	dissect_stream_gap(f->eng, f->c, S2C, 500, f->ts++);
	dissect_stream_data(f->eng, f->c, S2C, f->buf[S2C] + 609, f->n[S2C] - 609, f->ts++);
	f->n[S2C] = 0;
	data(f, S2C, 1, END_STREAM, "tail");
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	json_t *e = entry_at(f, 0);

	assert_null(jget(e, "missing"));
	assert_int_equal(jint(e, "response.body.size"), 999 + 4);
	assert_int_equal(jint(e, "response.body.gap_bytes"), 500);
	fx_free(f);
}

/* A gap that loses frame boundaries: frames are found again, streams go on. */
static void test_gap_resync(void **state)
{
	struct fx *f = fx_new();
	uint8_t lost[64];
	json_t *e;
	size_t n;

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/a",
		"user-agent", "ua/1", NULL);
	headers(f, C2S, 3, 0, ":method", "POST", ":scheme", "http", ":path", "/b", NULL);
	flush_both(f);
	/* lost: stream 3's last DATA and stream 5's request (with new indexed entries) */
	data(f, C2S, 3, END_STREAM, "body");
	headers(f, C2S, 5, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/lost",
		"x-lost", "1", NULL);
	n = f->n[C2S];
	assert_true(n <= sizeof(lost));
	memcpy(lost, f->buf[C2S], n);
	f->n[C2S] = 0;
	dissect_stream_gap(f->eng, f->c, C2S, n, f->ts++);
	assert_int_equal(nout(f), 0); /* nothing is given up */
	/* after the gap: stream 7 refers to table entries the gap may have shifted */
	headers(f, C2S, 7, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/c",
		"user-agent", "ua/1", NULL);
	flush(f, C2S);
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	headers(f, S2C, 3, END_STREAM, ":status", "201", NULL);
	headers(f, S2C, 5, END_STREAM, ":status", "202", NULL);
	headers(f, S2C, 7, END_STREAM, ":status", "203", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 4);
	e = entry_of_stream(f, 1);
	assert_null(jget(e, "missing"));
	assert_int_equal(jint(e, "response.status"), 200);
	e = entry_of_stream(f, 3); /* its request's end was lost */
	assert_string_equal(jstr(e, "incomplete"), "request");
	assert_string_equal(jstr(e, "missing_reason"), "capture_gap");
	assert_int_equal(jint(e, "response.status"), 201);
	e = entry_of_stream(f, 5); /* its request was lost whole */
	assert_string_equal(jstr(e, "missing"), "request");
	assert_string_equal(jstr(e, "missing_reason"), "capture_gap");
	assert_int_equal(jint(e, "response.status"), 202);
	e = entry_of_stream(f, 7);
	assert_null(jget(e, "missing"));
	assert_string_equal(jstr(e, "request.method"), "GET"); /* static table */
	assert_true(json_is_true(jget(e, "request.headers_partial")));
	assert_int_equal(jint(e, "response.status"), 203);
	fx_close(f, TCP_CLOSE_FIN); /* counters are added when the connection ends */
	assert_int_equal(counter(f, "http2", "resyncs"), 1);
	assert_true(counter(f, "http2", "unknown_header_refs") >= 1);
	fx_free(f);
}

/* A response whose HEADERS a gap took, its DATA seen: missing its response head. */
static void test_gap_takes_response_head(void **state)
{
	struct fx *f = fx_new();
	json_t *e;
	size_t n;

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/a", NULL);
	flush_both(f);
	headers(f, S2C, 1, 0, ":status", "200", NULL);
	n = f->n[S2C];
	f->n[S2C] = 0;
	dissect_stream_gap(f->eng, f->c, S2C, n, f->ts++); /* at a frame boundary: resync */
	data(f, S2C, 1, END_STREAM, "body");
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_string_equal(jstr(e, "missing"), "response");
	assert_string_equal(jstr(e, "missing_reason"), "capture_gap");
	assert_string_equal(jstr(e, "request.path"), "/a");
	fx_free(f);
}

/* A gap inside a header block (its frame's length known): the block is cut, framing stays. */
static void test_gap_in_header_block(void **state)
{
	struct fx *f = fx_new();
	json_t *e;
	size_t start;

	(void)state;
	preface(f);
	flush_both(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path",
		"/a-long-path-to-cut", "x-one", "1", "x-two", "2", NULL);
	start = 9 + 4; /* frame header and the first fields */
	dissect_stream_data(f->eng, f->c, C2S, f->buf[C2S], start, f->ts++);
	dissect_stream_gap(f->eng, f->c, C2S, 5, f->ts++);
	dissect_stream_data(f->eng, f->c, C2S, f->buf[C2S] + start + 5, f->n[C2S] - start - 5,
			    f->ts++);
	f->n[C2S] = 0;
	headers(f, C2S, 3, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/b",
		NULL);
	flush(f, C2S);
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	headers(f, S2C, 3, END_STREAM, ":status", "200", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 2);
	e = entry_of_stream(f, 1);
	assert_true(json_is_true(jget(e, "request.headers_partial")));
	assert_string_equal(jstr(e, "request.method"), "GET");
	assert_int_equal(jint(e, "response.status"), 200);
	e = entry_of_stream(f, 3);
	assert_string_equal(jstr(e, "request.method"), "GET");
	assert_string_equal(jstr(e, "request.path"), "/b"); /* a literal: known */
	fx_close(f, TCP_CLOSE_FIN);
	assert_int_equal(counter(f, "http2", "resyncs"), 0);
	fx_free(f);
}

/* Does half ("request") list an unknown header whose value is v? */
static bool has_unknown_value(json_t *e, const char *half, const char *v)
{
	json_t *list = json_object_get(json_object_get(e, half), "unknown_headers");
	size_t i;

	for (i = 0; i < json_array_size(list); i++) {
		const char *s = json_string_value(json_object_get(json_array_get(list, i), "value"));

		if (s && !strcmp(s, v))
			return true;
	}
	return false;
}

/*
 * Mid-connection: an exchange of 12 streams, its first bytes dropped at every offset in
 * both directions. Every stream whose HEADERS came whole is an entry with its status;
 * the header that stays in the table is unknown (with its index) until a request inserts
 * it again; a header first sent after the cut is known.
 */
static void test_mid_connection_every_offset(void **state)
{
	struct fx *tmp = fx_new();
	size_t total[2], cut, dir;
	size_t starts[2][16]; /* where each stream's HEADERS starts, per direction */
	uint32_t sid;
	char v[32];

	(void)state;
	preface(tmp);
	flush_both(tmp); /* the preface is not part of what is cut */
	tmp->n[0] = tmp->n[1] = 0;
	for (sid = 1; sid <= 23; sid += 2) {
		snprintf(v, sizeof(v), "%u", sid);
		starts[0][sid / 2] = tmp->n[C2S];
		starts[1][sid / 2] = tmp->n[S2C];
		if (sid < 13)
			headers(tmp, C2S, sid, END_STREAM, ":method", "GET", ":scheme", "http",
				":path", "/p", "user-agent", "ua/1", "x-id", v, NULL);
		else
			headers(tmp, C2S, sid, END_STREAM, ":method", "GET", ":scheme", "http",
				":path", "/p", "user-agent", "ua/1", "x-late", "yes", "x-id", v,
				NULL);
		headers(tmp, S2C, sid, 0, ":status", sid % 3 ? "200" : "404", "server", "s",
			NULL);
		data(tmp, S2C, sid, END_STREAM, "payload");
	}
	total[0] = tmp->n[0];
	total[1] = tmp->n[1];
	for (dir = 0; dir < 2; dir++) {
		for (cut = 1; cut < total[dir]; cut++) {
			struct fx *f = fx_new_cfg(&(struct dissect_config){ 0 });
			size_t k, first = 0, i;

			/* the same bytes again (same encoders), without the preface */
			memcpy(f->buf[0], tmp->buf[0], total[0]);
			memcpy(f->buf[1], tmp->buf[1], total[1]);
			for (k = 0; k < 12; k++) {
				size_t hdr_start = starts[dir][k];

				if (hdr_start < cut)
					first = k + 1;
			}
			/* mid-stream: the tcp flow was picked up without its SYN */
			for (k = 0; k < 12; k++) {
				size_t e_c = k + 1 < 12 ? starts[0][k + 1] : total[0];
				size_t e_s = k + 1 < 12 ? starts[1][k + 1] : total[1];
				size_t b_c = starts[0][k], b_s = starts[1][k];

				if (dir == C2S && b_c < cut)
					b_c = cut < e_c ? cut : e_c;
				if (dir == S2C && b_s < cut)
					b_s = cut < e_s ? cut : e_s;
				if (e_c > b_c)
					dissect_stream_data(f->eng, f->c, C2S, f->buf[0] + b_c,
							    e_c - b_c, f->ts++);
				if (e_s > b_s)
					dissect_stream_data(f->eng, f->c, S2C, f->buf[1] + b_s,
							    e_s - b_s, f->ts++);
			}
			fx_close(f, TCP_CLOSE_END_OF_INPUT);
			/* streams first..11 came whole in the cut direction */
			for (k = first; k < 12; k++) {
				json_t *e = entry_of_stream(f, (long long)(2 * k + 1));

				assert_non_null(e);
				assert_int_equal(jint(e, "response.status"),
						 (2 * k + 1) % 3 ? 200 : 404);
				if (dir == S2C)
					continue;
				/* x-id's name comes from a table entry sent before the cut: the
				 * value is known, the name is not */
				snprintf(v, sizeof(v), "%zu", 2 * k + 1);
				assert_true(has_unknown_value(e, "request", v));
				assert_null(jget(e, "request.headers.x-id"));
				assert_string_equal(jstr(e, "request.method"), "GET");
				/* user-agent was indexed before the cut: unknown, never guessed */
				assert_null(jget(e, "request.headers.user-agent"));
				assert_true(json_is_true(jget(e, "request.headers_partial")));
				assert_true(jint(e, "request.unknown_headers.0.index") > 61);
				/* x-late: first sent (and inserted) by stream 13; known when that
				 * came whole */
				if (2 * k + 1 >= 13 && first <= 6)
					assert_string_equal(jstr(e, "request.headers.x-late"),
							    "yes");
			}
			for (i = 0; i < nout(f); i++) {
				json_t *e = entry_at(f, i);

				assert_true(jint(e, "stream_id") % 2 == 1);
				assert_true(jint(e, "stream_id") <= 23);
			}
			fx_free(f);
		}
	}
	fx_free(tmp);
}

/* Streams that carried only PRIORITY frames are counted (Firefox's priority tree). */
static void test_priority_only_streams(void **state)
{
	struct fx *f = fx_new();
	static const uint8_t prio[5] = { 0, 0, 0, 0, 200 };

	(void)state;
	preface(f);
	frame(f, C2S, PRIORITY, 0, 3, prio, 5);
	frame(f, C2S, PRIORITY, 0, 5, prio, 5);
	frame(f, C2S, PRIORITY, 0, 5, prio, 5);
	headers(f, C2S, 7, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/", NULL);
	headers(f, S2C, 7, END_STREAM, ":status", "200", NULL);
	flush_both(f);
	fx_close(f, TCP_CLOSE_FIN);
	assert_int_equal(nout(f), 1);
	assert_int_equal(counter(f, "http2", "priority_only_streams"), 2);
	fx_free(f);
}

static void test_close_reasons(void **state)
{
	static const struct {
		enum tcp_close_reason why;
		const char *reason;
	} cases[] = {
		{ TCP_CLOSE_FIN, "connection_closed" },
		{ TCP_CLOSE_RST, "connection_reset" },
		{ TCP_CLOSE_IDLE_TIMEOUT, "timeout" },
		{ TCP_CLOSE_END_OF_INPUT, "end_of_capture" },
	};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *f = fx_new();

		preface(f);
		headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path",
			"/a", NULL);
		/* a response seen without its request (capture started after it) */
		headers(f, S2C, 7, 0, ":status", "200", NULL);
		flush_both(f);
		fx_close(f, cases[i].why);
		assert_int_equal(nout(f), 2);
		assert_string_equal(jstr(entry_of_stream(f, 1), "missing"), "response");
		assert_string_equal(jstr(entry_of_stream(f, 1), "missing_reason"),
				    cases[i].reason);
		assert_string_equal(jstr(entry_of_stream(f, 7), "missing"), "request");
		fx_free(f);
	}
}

/* A DATA frame far bigger than the engine's buffer is consumed as it comes. */
static void test_big_frames_small_buffer(void **state)
{
	struct dissect_config cfg = { .max_buffer_per_dir = 4096, .body_max = 1000 };
	struct fx *f = fx_new_cfg(&cfg);
	static uint8_t big[300000];

	(void)state;
	memset(big, 'q', sizeof(big));
	preface(f);
	headers(f, C2S, 1, 0, ":method", "POST", ":scheme", "http", ":path", "/upload", NULL);
	frame(f, C2S, DATA, END_STREAM, 1, big, sizeof(big));
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	flush_chunked(f, C2S, 1460);
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	assert_int_equal(jint(entry_at(f, 0), "request.body.size"), sizeof(big));
	assert_true(json_is_true(jget(entry_at(f, 0), "request.body.truncated")));
	assert_int_equal(parse_errors(f), 0);
	fx_free(f);
}

/* Bodies of many open streams together stay within the connection's bound. */
static void test_connection_memory_bound(void **state)
{
	struct dissect_config cfg = { .body_max = 1u << 20 };
	struct fx *f = fx_new_cfg(&cfg);
	static uint8_t chunk[512 * 1024];
	uint32_t i, n = (HTTP2_CONN_KEPT_MAX / sizeof(chunk)) + 8;

	(void)state;
	memset(chunk, 'm', sizeof(chunk));
	preface(f);
	flush_both(f);
	for (i = 0; i < n; i++) {
		headers(f, C2S, 2 * i + 1, 0, ":method", "POST", ":scheme", "http", ":path",
			"/m", NULL);
		frame(f, C2S, DATA, 0, 2 * i + 1, chunk, sizeof(chunk));
		flush(f, C2S);
	}
	fx_close(f, TCP_CLOSE_END_OF_INPUT);
	assert_int_equal(nout(f), n);
	assert_false(json_is_true(jget(entry_at(f, 0), "request.body.truncated")));
	assert_true(json_is_true(jget(entry_at(f, n - 1), "request.body.truncated")));
	assert_int_equal(jint(entry_at(f, n - 1), "request.body.size"), sizeof(chunk));
	fx_free(f);
}

static void test_header_block_bound(void **state)
{
	struct fx *f = fx_new();
	static uint8_t junk[16384];
	uint8_t b[256];
	size_t n, i;

	(void)state;
	preface(f);
	n = block(f, C2S, b, sizeof(b), ":method", "GET", ":scheme", "http", ":path", "/", NULL);
	frame(f, C2S, HEADERS, 0, 1, b, n);
	/* a CONTINUATION flood of literal bytes that never ends the block */
	memset(junk, 0, sizeof(junk));
	for (i = 0; i < 20; i++)
		frame(f, C2S, CONTINUATION, 0, 1, junk, sizeof(junk));
	flush(f, C2S);
	assert_true(parse_errors(f) >= 1);
	fx_free(f);
}

static void test_stream_eviction(void **state)
{
	struct fx *f = fx_new();
	uint32_t i;

	(void)state;
	preface(f);
	flush_both(f);
	for (i = 0; i < HTTP2_MAX_STREAMS + 5; i++) {
		headers(f, C2S, 2 * i + 1, END_STREAM, ":method", "GET", ":scheme", "http",
			":path", "/", NULL);
		flush(f, C2S);
	}
	assert_int_equal(nout(f), 5);
	assert_int_equal(jint(entry_at(f, 0), "stream_id"), 1);
	assert_string_equal(jstr(entry_at(f, 0), "missing_reason"), "timeout");
	/* the response of an evicted stream is not turned into a new entry */
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 5);
	fx_free(f);
}

static void test_frame_header_hostile(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "GET", ":scheme", "http", ":path", "/", NULL);
	frame(f, C2S, SETTINGS, 0, 0, "\x00\x01\x00", 3); /* not a multiple of 6 */
	frame(f, C2S, RST_STREAM, 0, 1, "\x00\x00", 2);   /* too short */
	frame(f, C2S, PING, 0, 0, "1234", 4);             /* too short */
	flush(f, C2S);
	assert_int_equal(parse_errors(f), 3);
	headers(f, S2C, 1, END_STREAM, ":status", "200", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	assert_null(jget(entry_at(f, 0), "missing"));
	/* HEADERS on stream 0 is a connection error */
	headers(f, C2S, 0, END_STREAM, ":method", "GET", NULL);
	flush(f, C2S);
	assert_int_equal(parse_errors(f), 4);
	fx_free(f);
}

/* ---- gRPC ---- */

static void grpc_msg(struct fx *f, int dir, uint32_t sid, int flags, int compressed,
		     const uint8_t *m, size_t n)
{
	uint8_t b[4096];

	assert_true(n + 5 <= sizeof(b));
	b[0] = (uint8_t)compressed;
	b[1] = (uint8_t)(n >> 24);
	b[2] = (uint8_t)(n >> 16);
	b[3] = (uint8_t)(n >> 8);
	b[4] = (uint8_t)n;
	memcpy(b + 5, m, n);
	frame(f, dir, DATA, flags, sid, b, n + 5);
}

static void test_grpc_unary(void **state)
{
	struct fx *f = fx_new();
	/* field 1 = "world"; field 2 = 150 */
	static const uint8_t req[] = { 0x0a, 5, 'w', 'o', 'r', 'l', 'd', 0x10, 0x96, 0x01 };
	/* field 1 = "Hello world"; field 3 = { field 1 = 7 } */
	static const uint8_t resp[] = { 0x0a, 11, 'H', 'e', 'l', 'l', 'o', ' ', 'w', 'o',
					'r',  'l', 'd', 0x1a, 2, 0x08, 7 };
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, 0, ":method", "POST", ":scheme", "http", ":path",
		"/helloworld.Greeter/SayHello", ":authority", "localhost:50051", "content-type",
		"application/grpc", "te", "trailers", NULL);
	grpc_msg(f, C2S, 1, END_STREAM, 0, req, sizeof(req));
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "application/grpc", NULL);
	grpc_msg(f, S2C, 1, 0, 0, resp, sizeof(resp));
	headers(f, S2C, 1, END_STREAM, "grpc-status", "0", "grpc-message", "", NULL);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_string_equal(jstr(e, "protocol"), "grpc");
	assert_string_equal(jstr(e, "version"), "2");
	assert_string_equal(jstr(e, "request.path"), "/helloworld.Greeter/SayHello");
	assert_string_equal(jstr(e, "grpc.service"), "helloworld.Greeter");
	assert_string_equal(jstr(e, "grpc.method"), "SayHello");
	assert_int_equal(jint(e, "grpc.status"), 0);
	assert_string_equal(jstr(e, "grpc.status_name"), "OK");
	assert_int_equal(jint(e, "grpc.request_count"), 1);
	assert_int_equal(jint(e, "grpc.response_count"), 1);
	assert_int_equal(jint(e, "grpc.request_messages.0.size"), sizeof(req));
	assert_false(json_is_true(jget(e, "grpc.request_messages.0.compressed")));
	assert_string_equal(jstr(e, "grpc.request_messages.0.fields.0.value"), "world");
	assert_int_equal(jint(e, "grpc.request_messages.0.fields.1.value"), 150);
	assert_string_equal(jstr(e, "grpc.response_messages.0.fields.0.value"), "Hello world");
	assert_string_equal(jstr(e, "grpc.response_messages.0.fields.1.type"), "message");
	assert_int_equal(jint(e, "grpc.response_messages.0.fields.1.value.0.value"), 7);
	assert_string_equal(jstr(e, "response.trailers.grpc-status"), "0");
	assert_int_equal(jint(e, "request.body.size"), sizeof(req) + 5);
	assert_null(jget(e, "request.body.base64"));
	fx_free(f);
}

static void test_grpc_streaming_split_messages(void **state)
{
	struct fx *f = fx_new();
	uint8_t all[4096], m[8];
	size_t n = 0, i, cut;
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, 0, ":method", "POST", ":scheme", "http", ":path", "/pkg.S/Chat",
		"content-type", "application/grpc+proto", NULL);
	/* 100 messages {1: i} in one byte stream, cut into DATA frames at odd places */
	for (i = 0; i < 100; i++) {
		m[0] = 0x08;
		m[1] = (uint8_t)i;
		all[n++] = 0;
		all[n++] = 0;
		all[n++] = 0;
		all[n++] = 0;
		all[n++] = 2;
		memcpy(all + n, m, 2);
		n += 2;
	}
	for (i = 0; i < n; i += cut) {
		cut = 1 + (i % 13);
		if (cut > n - i)
			cut = n - i;
		frame(f, C2S, DATA, 0, 1, all + i, cut);
	}
	frame(f, C2S, DATA, END_STREAM, 1, NULL, 0);
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "application/grpc", NULL);
	for (i = 0; i < 3; i++) {
		m[0] = 0x08;
		m[1] = (uint8_t)(i + 40);
		grpc_msg(f, S2C, 1, 0, 0, m, 2);
	}
	headers(f, S2C, 1, END_STREAM, "grpc-status", "0", NULL);
	flush_chunked(f, C2S, 7);
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_int_equal(jint(e, "grpc.request_count"), 100);
	assert_int_equal(json_array_size(jget(e, "grpc.request_messages")), GRPC_MAX_MESSAGES);
	assert_int_equal(jint(e, "grpc.request_messages.63.fields.0.value"), 63);
	assert_int_equal(jint(e, "grpc.response_count"), 3);
	assert_int_equal(jint(e, "grpc.response_messages.2.fields.0.value"), 42);
	fx_free(f);
}

static void test_grpc_trailers_only(void **state)
{
	struct fx *f = fx_new();
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, 0, ":method", "POST", ":scheme", "http", ":path", "/a.B/Get",
		"content-type", "application/grpc", NULL);
	grpc_msg(f, C2S, 1, END_STREAM, 0, (const uint8_t *)"", 0);
	headers(f, S2C, 1, END_STREAM, ":status", "200", "content-type", "application/grpc",
		"grpc-status", "5", "grpc-message", "no%20such%20key%3A%20%E2%9C%93", NULL);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_int_equal(jint(e, "grpc.status"), 5);
	assert_string_equal(jstr(e, "grpc.status_name"), "NOT_FOUND");
	assert_string_equal(jstr(e, "grpc.message"), "no such key: \xe2\x9c\x93");
	assert_int_equal(jint(e, "grpc.request_count"), 1);
	assert_int_equal(jint(e, "grpc.request_messages.0.size"), 0);
	assert_int_equal(json_array_size(jget(e, "grpc.request_messages.0.fields")), 0);
	assert_int_equal(jint(e, "grpc.response_count"), 0);
	fx_free(f);
}

static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int wbits)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = z.total_out;
	deflateEnd(&z);
	return n;
}

static void test_grpc_compressed(void **state)
{
	struct fx *f = fx_new();
	static const uint8_t msg[] = { 0x0a, 3, 'a', 'b', 'c', 0x0a, 3, 'a', 'b', 'c' };
	uint8_t z[256];
	size_t zn;
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, 0, ":method", "POST", ":scheme", "http", ":path", "/z.Z/Gz",
		"content-type", "application/grpc", "grpc-encoding", "gzip", NULL);
	zn = gzip_bytes(msg, sizeof(msg), z, sizeof(z), 16 + MAX_WBITS);
	grpc_msg(f, C2S, 1, 0, 1, z, zn);
	grpc_msg(f, C2S, 1, 0, 0, msg, sizeof(msg)); /* per-message flag: this one is plain */
	grpc_msg(f, C2S, 1, END_STREAM, 1, (const uint8_t *)"garbage", 7);
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "application/grpc",
		"grpc-encoding", "snappy", NULL);
	grpc_msg(f, S2C, 1, 0, 1, (const uint8_t *)"\x01\x02\x03", 3);
	headers(f, S2C, 1, END_STREAM, "grpc-status", "0", NULL);
	flush_both(f);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_string_equal(jstr(e, "grpc.encoding"), "gzip");
	assert_true(json_is_true(jget(e, "grpc.request_messages.0.compressed")));
	assert_int_equal(jint(e, "grpc.request_messages.0.size"), zn);
	assert_int_equal(jint(e, "grpc.request_messages.0.decompressed_size"), sizeof(msg));
	assert_string_equal(jstr(e, "grpc.request_messages.0.fields.1.value"), "abc");
	assert_string_equal(jstr(e, "grpc.request_messages.1.fields.0.value"), "abc");
	assert_non_null(jget(e, "grpc.request_messages.2.decode_error"));
	/* an encoding floe does not decode: size only */
	assert_true(json_is_true(jget(e, "grpc.response_messages.0.compressed")));
	assert_int_equal(jint(e, "grpc.response_messages.0.size"), 3);
	assert_null(jget(e, "grpc.response_messages.0.fields"));
	fx_free(f);
}

static void test_grpc_deflate_and_incomplete(void **state)
{
	struct fx *f = fx_new();
	static const uint8_t msg[] = { 0x08, 0x01 };
	uint8_t z[64], part[5 + 10] = { 0, 0, 0, 0, 100 };
	size_t zn;
	json_t *e;

	(void)state;
	preface(f);
	headers(f, C2S, 1, 0, ":method", "POST", ":scheme", "http", ":path", "/d.D/Df",
		"content-type", "application/grpc", "grpc-encoding", "deflate", NULL);
	zn = gzip_bytes(msg, sizeof(msg), z, sizeof(z), MAX_WBITS);
	grpc_msg(f, C2S, 1, END_STREAM, 1, z, zn);
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "application/grpc", NULL);
	frame(f, S2C, DATA, 0, 1, part, sizeof(part)); /* 10 of 100 bytes */
	flush_both(f);
	fx_close(f, TCP_CLOSE_RST);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_int_equal(jint(e, "grpc.request_messages.0.fields.0.value"), 1);
	assert_true(json_is_true(jget(e, "grpc.response_messages.0.incomplete")));
	assert_int_equal(jint(e, "grpc.response_messages.0.received"), 10);
	assert_int_equal(jint(e, "grpc.response_count"), 0);
	assert_string_equal(jstr(e, "incomplete"), "response");
	assert_string_equal(jstr(e, "missing_reason"), "connection_reset");
	fx_free(f);
}

/* gRPC: a gap inside a message loses it alone; one that cuts a prefix, until a frame. */
static void test_grpc_gap_resync(void **state)
{
	struct fx *f = fx_new();
	static const uint8_t m1[] = { 0x08, 0x01 }, m3[] = { 0x08, 0x03 };
	uint8_t big[40];
	json_t *e;
	size_t at;

	(void)state;
	memset(big, 'x', sizeof(big));
	big[0] = 0x0a;
	big[1] = 38; /* field 1, 38 bytes */
	preface(f);
	headers(f, C2S, 1, END_STREAM, ":method", "POST", ":scheme", "http", ":path",
		"/pkg.Svc/Call", "content-type", "application/grpc", NULL);
	headers(f, S2C, 1, 0, ":status", "200", "content-type", "application/grpc", NULL);
	grpc_msg(f, S2C, 1, 0, 0, m1, sizeof(m1));
	flush_both(f);
	/* message 2: 10 of its 40 bytes lost inside it */
	grpc_msg(f, S2C, 1, 0, 0, big, sizeof(big));
	at = 9 + 5 + 10;
	dissect_stream_data(f->eng, f->c, S2C, f->buf[S2C], at, f->ts++);
	dissect_stream_gap(f->eng, f->c, S2C, 10, f->ts++);
	dissect_stream_data(f->eng, f->c, S2C, f->buf[S2C] + at + 10, f->n[S2C] - at - 10,
			    f->ts++);
	f->n[S2C] = 0;
	grpc_msg(f, S2C, 1, 0, 0, m3, sizeof(m3));
	flush(f, S2C);
	/* message 4: its prefix cut (3 bytes lost at the start of the frame's payload) */
	grpc_msg(f, S2C, 1, 0, 0, big, sizeof(big));
	dissect_stream_data(f->eng, f->c, S2C, f->buf[S2C], 9, f->ts++);
	dissect_stream_gap(f->eng, f->c, S2C, 3, f->ts++);
	dissect_stream_data(f->eng, f->c, S2C, f->buf[S2C] + 12, f->n[S2C] - 12, f->ts++);
	f->n[S2C] = 0;
	grpc_msg(f, S2C, 1, 0, 0, m3, sizeof(m3)); /* found again at this frame */
	headers(f, S2C, 1, END_STREAM, "grpc-status", "0", NULL);
	flush(f, S2C);
	assert_int_equal(nout(f), 1);
	e = entry_at(f, 0);
	assert_string_equal(jstr(e, "protocol"), "grpc");
	assert_int_equal(jint(e, "grpc.status"), 0);
	assert_int_equal(jint(e, "grpc.response_messages.0.fields.0.value"), 1);
	assert_true(json_is_true(jget(e, "grpc.response_messages.1.incomplete")));
	assert_int_equal(jint(e, "grpc.response_messages.1.size"), 40);
	assert_int_equal(jint(e, "grpc.response_messages.1.received"), 30);
	assert_int_equal(jint(e, "grpc.response_messages.2.fields.0.value"), 3);
	assert_int_equal(jint(e, "grpc.response_messages.3.fields.0.value"), 3);
	assert_null(jget(e, "grpc.response_messages.4"));
	assert_int_equal(jint(e, "grpc.response_count"), 3);
	assert_int_equal(jint(e, "response.body.gap_bytes"), 13);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_exchange_fields),
		cmocka_unit_test(test_timestamps_and_sizes),
		cmocka_unit_test(test_every_chunk_size),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_control_frames_and_unknown_types),
		cmocka_unit_test(test_padding_and_priority),
		cmocka_unit_test(test_padding_too_long),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_headers_truncated),
		cmocka_unit_test(test_continuation_interrupted),
		cmocka_unit_test(test_interleaved_streams),
		cmocka_unit_test(test_trailers_and_informational),
		cmocka_unit_test(test_hpack_dynamic_table),
		cmocka_unit_test(test_hpack_error),
		cmocka_unit_test(test_rst_stream),
		cmocka_unit_test(test_goaway),
		cmocka_unit_test(test_server_push),
		cmocka_unit_test(test_h2c_upgrade),
		cmocka_unit_test(test_gap_inside_data),
		cmocka_unit_test(test_gap_resync),
		cmocka_unit_test(test_gap_takes_response_head),
		cmocka_unit_test(test_gap_in_header_block),
		cmocka_unit_test(test_mid_connection_every_offset),
		cmocka_unit_test(test_grpc_gap_resync),
		cmocka_unit_test(test_priority_only_streams),
		cmocka_unit_test(test_close_reasons),
		cmocka_unit_test(test_big_frames_small_buffer),
		cmocka_unit_test(test_connection_memory_bound),
		cmocka_unit_test(test_header_block_bound),
		cmocka_unit_test(test_stream_eviction),
		cmocka_unit_test(test_frame_header_hostile),
		cmocka_unit_test(test_grpc_unary),
		cmocka_unit_test(test_grpc_streaming_split_messages),
		cmocka_unit_test(test_grpc_trailers_only),
		cmocka_unit_test(test_grpc_compressed),
		cmocka_unit_test(test_grpc_deflate_and_incomplete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
