// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the Kafka dissector (dissect/kafka.c, kafka_schema.c) through the engine's
 * byte-stream interface: detection (and not taking other protocols' bytes), headers of every
 * kind, bodies in classic and flexible versions (compact types, tagged fields), record batches
 * (uncompressed, gzip, snappy, lz4, zstd, control batches) and legacy message sets, pairing by
 * correlation id, acks=0, responses without requests, unknown keys and versions, streaming of
 * large messages, gaps, connection ends, roles guessed wrong, bounds and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/kafka.h"
#include "dissect/kafka_schema.h"
#include "entry/entry_filter.h"
#include "test_json_path.h"

/* ---- byte builder ---- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void b_put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_be(struct buf *b, uint64_t v, unsigned k)
{
	uint8_t t[8];
	unsigned i;

	for (i = 0; i < k; i++)
		t[i] = (uint8_t)(v >> (8 * (k - 1 - i)));
	b_put(b, t, k);
}

#define b_i8(b, v)  b_be(b, (uint8_t)(v), 1)
#define b_i16(b, v) b_be(b, (uint16_t)(v), 2)
#define b_i32(b, v) b_be(b, (uint32_t)(v), 4)
#define b_i64(b, v) b_be(b, (uint64_t)(v), 8)

static void b_uvar(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		if (v)
			c |= 0x80;
		b_put(b, &c, 1);
	} while (v);
}

static void b_var(struct buf *b, int64_t v)
{
	b_uvar(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* string: int16 length (-1 null) */
static void b_str(struct buf *b, const char *s)
{
	if (!s) {
		b_i16(b, -1);
		return;
	}
	b_i16(b, strlen(s));
	b_put(b, s, strlen(s));
}

/* compact string: uvarint length + 1 (0 null) */
static void b_cstr(struct buf *b, const char *s)
{
	if (!s) {
		b_uvar(b, 0);
		return;
	}
	b_uvar(b, strlen(s) + 1);
	b_put(b, s, strlen(s));
}

static void b_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A message: 4-byte length, then body. Frees body. */
static void b_frame(struct buf *out, struct buf *body)
{
	b_i32(out, body->n);
	b_put(out, body->p, body->n);
	b_free(body);
}

static void req_header(struct buf *b, int key, int ver, int32_t corr, const char *client, bool flex)
{
	b_i16(b, key);
	b_i16(b, ver);
	b_i32(b, corr);
	b_str(b, client);
	if (flex)
		b_uvar(b, 0); /* no tagged fields */
}

static void resp_header(struct buf *b, int32_t corr, bool flex)
{
	b_i32(b, corr);
	if (flex)
		b_uvar(b, 0);
}

/* One v2 record. */
static void record(struct buf *recs, int off_delta, const char *key, const char *value,
		   const char *hkey, const char *hvalue)
{
	struct buf r = {0};

	b_i8(&r, 0);
	b_var(&r, off_delta * 10); /* timestamp delta */
	b_var(&r, off_delta);
	if (key) {
		b_var(&r, strlen(key));
		b_put(&r, key, strlen(key));
	} else {
		b_var(&r, -1);
	}
	if (value) {
		b_var(&r, strlen(value));
		b_put(&r, value, strlen(value));
	} else {
		b_var(&r, -1);
	}
	b_var(&r, hkey ? 1 : 0);
	if (hkey) {
		b_var(&r, strlen(hkey));
		b_put(&r, hkey, strlen(hkey));
		b_var(&r, strlen(hvalue));
		b_put(&r, hvalue, strlen(hvalue));
	}
	b_var(recs, r.n);
	b_put(recs, r.p, r.n);
	b_free(&r);
}

/* A magic-2 batch around already encoded (and possibly compressed) records. */
static void batch_v2(struct buf *out, int64_t base, int16_t attr, int32_t count,
		     const struct buf *payload)
{
	b_i64(out, base);
	b_i32(out, 49 + payload->n); /* bytes after the length field */
	b_i32(out, 0);		     /* partition leader epoch */
	b_i8(out, 2);
	b_i32(out, 0x12345678); /* crc: not checked */
	b_i16(out, attr);
	b_i32(out, count - 1);
	b_i64(out, 1700000000000LL);
	b_i64(out, 1700000000000LL + 10 * (count - 1));
	b_i64(out, 42); /* producer id */
	b_i16(out, 3);
	b_i32(out, 7);
	b_i32(out, count);
	b_put(out, payload->p, payload->n);
}

/* ---- fixture ---- */

struct fx {
	struct dissect_engine *eng;
	struct conn *c;
	json_t *out;
	uint64_t ts;
};

static void collect(void *ctx, const struct entry *e)
{
	struct fx *f = ctx;
	char line[1024];

	json_array_append_new(f->out, entry_to_json(e));
	/* The text form must never fail on a Kafka entry. */
	assert_true(entry_format_line(e, line, sizeof(line)) > 0);
}

static void fx_open_cfg(struct fx *f, enum tcp_role role, const struct dissect_config *cfg)
{
	struct tcp_flow_info info = {.id = 1, .family = AF_INET, .role = role};

	memset(f, 0, sizeof(*f));
	info.client.port = 40000;
	info.server.port = 9092;
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
}

static void fx_open(struct fx *f)
{
	fx_open_cfg(f, TCP_ROLE_SYN, NULL);
}

static void send_n(struct fx *f, enum tcp_dir dir, const void *p, size_t n)
{
	dissect_stream_data(f->eng, f->c, dir, p, n, f->ts);
	f->ts += 1000;
}

static void send_buf(struct fx *f, enum tcp_dir dir, struct buf *b)
{
	send_n(f, dir, b->p, b->n);
	b_free(b);
}

static void fx_close(struct fx *f, enum tcp_close_reason why)
{
	if (f->c)
		dissect_stream_close(f->eng, f->c, why, f->ts);
	f->c = NULL;
}

static struct dissect_stats fx_stats(struct fx *f)
{
	struct dissect_stats st;

	dissect_engine_get_stats(f->eng, &st);
	return st;
}

static uint64_t fx_counter(struct fx *f, const char *name)
{
	struct dissect_stats st = fx_stats(f);
	unsigned p, i;

	for (p = 0; dissect_protocol_name(p); p++) {
		if (strcmp(dissect_protocol_name(p), "kafka"))
			continue;
		for (i = 0; dissect_counter_name(p, i); i++)
			if (!strcmp(dissect_counter_name(p, i), name))
				return st.counters[p][i];
	}
	fail_msg("no kafka counter %s", name);
	return 0;
}

static void fx_free(struct fx *f)
{
	fx_close(f, TCP_CLOSE_FIN);
	dissect_engine_destroy(f->eng);
	json_decref(f->out);
}

static size_t n_entries(struct fx *f)
{
	return json_array_size(f->out);
}

static json_t *eget(struct fx *f, size_t i, const char *path)
{
	return jget(json_array_get(f->out, i), path);
}

static long long iget(struct fx *f, size_t i, const char *path)
{
	json_t *v = eget(f, i, path);

	if (!json_is_integer(v))
		fail_msg("entry %zu %s: not an integer", i, path);
	return json_integer_value(v);
}

#define assert_str(f, i, path, want)                                                               \
	do {                                                                                       \
		const char *got_ = json_string_value(eget(f, i, path));                            \
		if (!got_ || strcmp(got_, want))                                                   \
			fail_msg("entry %zu %s: got \"%s\", want \"%s\"", (size_t)(i), path,       \
				 got_ ? got_ : "(none)", want);                                    \
	} while (0)

#define assert_absent(f, i, path)                                                                  \
	do {                                                                                       \
		if (eget(f, i, path))                                                              \
			fail_msg("entry %zu %s: present, want absent", (size_t)(i), path);         \
	} while (0)

/* ---- message makers ---- */

/* ApiVersions v0 request as librdkafka sends it (four trailing bytes). */
static void api_versions_v0_req(struct buf *out, int32_t corr)
{
	struct buf m = {0};

	req_header(&m, 18, 0, corr, "rdkafka", false);
	b_i32(&m, 0);
	b_frame(out, &m);
}

static void api_versions_v0_resp(struct buf *out, int32_t corr, int err)
{
	struct buf m = {0};

	resp_header(&m, corr, false);
	b_i16(&m, err);
	b_i32(&m, 3);
	b_i16(&m, 0), b_i16(&m, 0), b_i16(&m, 11);
	b_i16(&m, 1), b_i16(&m, 0), b_i16(&m, 17);
	b_i16(&m, 18), b_i16(&m, 0), b_i16(&m, 4);
	b_frame(out, &m);
}

/* Metadata v1 request for the topics (NULL: all topics). */
static void metadata_v1_req(struct buf *out, int32_t corr, const char *topic)
{
	struct buf m = {0};

	req_header(&m, 3, 1, corr, "client-1", false);
	if (topic) {
		b_i32(&m, 1);
		b_str(&m, topic);
	} else {
		b_i32(&m, -1);
	}
	b_frame(out, &m);
}

/* Metadata v1 response: one broker, one topic with two partitions. */
static void metadata_v1_resp(struct buf *out, int32_t corr, const char *topic, int err)
{
	struct buf m = {0};
	int p;

	resp_header(&m, corr, false);
	b_i32(&m, 1);
	b_i32(&m, 1), b_str(&m, "broker-1"), b_i32(&m, 9092), b_str(&m, NULL);
	b_i32(&m, 1); /* controller */
	b_i32(&m, 1);
	b_i16(&m, err), b_str(&m, topic), b_i8(&m, 0);
	b_i32(&m, 2);
	for (p = 0; p < 2; p++) {
		b_i16(&m, 0), b_i32(&m, p), b_i32(&m, 1);
		b_i32(&m, 1), b_i32(&m, 1);
		b_i32(&m, 1), b_i32(&m, 1);
	}
	b_frame(out, &m);
}

/* Produce v9 (flexible) request with one batch of the given records payload. */
static void produce_v9_req(struct buf *out, int32_t corr, int acks, const char *topic, int16_t attr,
			   int32_t count, const struct buf *payload)
{
	struct buf m = {0}, batch = {0};

	batch_v2(&batch, 0, attr, count, payload);
	req_header(&m, 0, 9, corr, "producer-1", true);
	b_cstr(&m, NULL); /* transactional id */
	b_i16(&m, acks);
	b_i32(&m, 1500);
	b_uvar(&m, 2); /* one topic */
	b_cstr(&m, topic);
	b_uvar(&m, 2); /* one partition */
	b_i32(&m, 0);
	b_uvar(&m, batch.n + 1);
	b_put(&m, batch.p, batch.n);
	b_uvar(&m, 0); /* partition tags */
	b_uvar(&m, 0); /* topic tags */
	b_uvar(&m, 0); /* request tags */
	b_frame(out, &m);
	b_free(&batch);
}

static void produce_v9_resp(struct buf *out, int32_t corr, const char *topic, int err)
{
	struct buf m = {0};

	resp_header(&m, corr, true);
	b_uvar(&m, 2);
	b_cstr(&m, topic);
	b_uvar(&m, 2);
	b_i32(&m, 0), b_i16(&m, err), b_i64(&m, 100), b_i64(&m, -1), b_i64(&m, 0);
	b_uvar(&m, 1);	  /* record errors: empty */
	b_cstr(&m, NULL); /* error message */
	b_uvar(&m, 0);
	b_uvar(&m, 0);
	b_i32(&m, 0); /* throttle */
	b_uvar(&m, 0);
	b_frame(out, &m);
}

static void three_records(struct buf *recs)
{
	record(recs, 0, "k0", "hello", "trace", "abc");
	record(recs, 1, NULL, "world", NULL, NULL);
	record(recs, 2, "k2", NULL, NULL, NULL);
}

/* ---- detection ---- */

static enum detect_result detect(const void *p, size_t n)
{
	return dissector_kafka.detect(TCP_DIR_C2S, p, n);
}

static void test_detect_kafka(void **state)
{
	struct buf b = {0}, recs = {0};

	(void)state;
	api_versions_v0_req(&b, 1);
	assert_int_equal(detect(b.p, b.n), DETECT_YES);
	assert_int_equal(detect(b.p, 3), DETECT_MAYBE);
	assert_int_equal(detect(b.p, 9), DETECT_MAYBE);
	/* The header and a part of the client id are enough to say yes... */
	assert_int_equal(detect(b.p, 16), DETECT_MAYBE);
	b_free(&b);
	metadata_v1_req(&b, 7, "orders");
	assert_int_equal(detect(b.p, b.n), DETECT_YES);
	b_free(&b);
	three_records(&recs);
	produce_v9_req(&b, 3, -1, "orders", 0, 3, &recs);
	assert_int_equal(detect(b.p, b.n), DETECT_YES);
	assert_int_equal(detect(b.p, 40), DETECT_YES); /* long enough a client id prefix */
	b_free(&b);
	/* A response alone (capture started mid-connection), in either direction. */
	api_versions_v0_resp(&b, 5, 0);
	assert_int_equal(detect(b.p, b.n), DETECT_YES);
	assert_int_equal(dissector_kafka.detect(TCP_DIR_S2C, b.p, b.n), DETECT_YES);
	b_free(&b);
	metadata_v1_resp(&b, 5, "orders", 0);
	assert_int_equal(dissector_kafka.detect(TCP_DIR_S2C, b.p, b.n), DETECT_YES);
	b_free(&b);
	b_free(&recs);
}

static void test_detect_others(void **state)
{
	static const struct {
		const char *what;
		const char *p;
		size_t n;
	} cases[] = {
#define C(w, s) {w, s, sizeof(s) - 1}
	    C("HTTP/1 request", "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
	    C("HTTP/1 response", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	    C("HTTP/2 preface",
	      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
	    C("Redis RESP", "*1\r\n$4\r\nPING\r\n"),
	    C("Redis inline", "PING\r\n"),
	    C("Redis reply", "+PONG\r\n"),
	    C("AMQP header", "AMQP\x00\x00\x09\x01"),
	    C("AMQP frame", "\x01\x00\x00\x00\x00\x00\x1c\x00\x0a\x00\x0b\x00\x00\x00\x00\x00\x00"
			    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xce"),
	    C("DNS over TCP query (RD)", "\x00\x1d\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
					 "\x07"
					 "example\x03"
					 "com\x00\x00\x01\x00\x01"),
	    C("DNS over TCP query (no RD, EDNS)",
	      "\x00\x28\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\x07"
	      "example\x03"
	      "com\x00\x00"
	      "\x01\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"),
	    C("DNS over TCP query (no RD)", "\x00\x1d\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00"
					    "\x00\x07"
					    "example\x03"
					    "com\x00\x00\x01\x00\x01"),
	    C("DNS over TCP response", "\x00\x2d\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
				       "\x07"
				       "example\x03"
				       "com\x00\x00\x01\x00\x01\xc0\x0c\x00\x01"
				       "\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22"),
	    C("TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	    C("PostgreSQL startup", "\x00\x00\x00\x29\x00\x03\x00\x00user\x00postgres\x00database"
				    "\x00postgres\x00\x00"),
	    C("PostgreSQL SSLRequest", "\x00\x00\x00\x08\x04\xd2\x16\x2f"),
	    C("ZooKeeper connect",
	      "\x00\x00\x00\x2c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x75\x30"
	      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00"
	      "\x00\x00\x00\x00\x00\x00\x00\x00"),
	    C("MySQL greeting", "\x4a\x00\x00\x00\x0a"
				"8.0.36\x00\x08\x00\x00\x00"),
	    C("SSH banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
	    C("Thrift framed", "\x00\x00\x00\x15\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x00"
			       "\x01\x00\x00"),
#undef C
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum detect_result c =
		    dissector_kafka.detect(TCP_DIR_C2S, (const uint8_t *)cases[i].p, cases[i].n);
		enum detect_result s =
		    dissector_kafka.detect(TCP_DIR_S2C, (const uint8_t *)cases[i].p, cases[i].n);

		if (c != DETECT_NO || s != DETECT_NO)
			fail_msg("%s: kafka detect says %d/%d, want NO", cases[i].what, c, s);
	}
}

/* Through the engine: an HTTP/1 connection is http, a Kafka one kafka. */
static void test_detect_engine(void **state)
{
	struct fx f;
	struct buf b = {0};
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	fx_open(&f);
	send_n(&f, TCP_DIR_C2S, get, sizeof(get) - 1);
	send_n(&f, TCP_DIR_S2C, "HTTP/1.1 204 No Content\r\n\r\n", 27);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "protocol", "http");
	fx_free(&f);
	fx_open(&f);
	api_versions_v0_req(&b, 9);
	send_buf(&f, TCP_DIR_C2S, &b);
	api_versions_v0_resp(&b, 9, 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "protocol", "kafka");
	fx_free(&f);
}

/* ---- headers and bodies ---- */

static void test_api_versions_v0(void **state)
{
	struct fx f;
	struct buf b = {0};

	(void)state;
	fx_open(&f);
	api_versions_v0_req(&b, 129);
	send_buf(&f, TCP_DIR_C2S, &b);
	assert_int_equal(n_entries(&f), 0);
	api_versions_v0_resp(&b, 129, 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "protocol", "kafka");
	assert_str(&f, 0, "version", "0");
	assert_int_equal(iget(&f, 0, "request.api_key"), 18);
	assert_str(&f, 0, "request.api_name", "ApiVersions");
	assert_int_equal(iget(&f, 0, "request.api_version"), 0);
	assert_int_equal(iget(&f, 0, "request.correlation_id"), 129);
	assert_str(&f, 0, "request.client_id", "rdkafka");
	assert_int_equal(iget(&f, 0, "request.trailing_bytes"), 4);
	assert_int_equal(iget(&f, 0, "request_size"), 25);
	assert_int_equal(iget(&f, 0, "response.correlation_id"), 129);
	assert_int_equal(iget(&f, 0, "response.body.api_keys.2.api_key"), 18);
	assert_str(&f, 0, "response.body.api_keys.2.api_name", "ApiVersions");
	assert_int_equal(iget(&f, 0, "response.body.api_keys.1.max_version"), 17);
	assert_str(&f, 0, "response.error_name", "NONE");
	assert_int_equal(iget(&f, 0, "response.error_count"), 0);
	assert_absent(&f, 0, "missing");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* ApiVersions v3: flexible request (header v2), response always with header v0. */
static void test_api_versions_v3(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0};

	(void)state;
	fx_open(&f);
	req_header(&m, 18, 3, 2, "adminclient-1", true);
	b_cstr(&m, "apache-kafka-java");
	b_cstr(&m, "3.6.0");
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 2, false); /* no tagged fields in the header */
	b_i16(&m, 0);
	b_uvar(&m, 2);
	b_i16(&m, 0), b_i16(&m, 0), b_i16(&m, 9), b_uvar(&m, 0);
	b_i32(&m, 0);  /* throttle */
	b_uvar(&m, 2); /* tagged: finalized features epoch (1) and zk_migration_ready (3) */
	b_uvar(&m, 1), b_uvar(&m, 8), b_i64(&m, 77);
	b_uvar(&m, 3), b_uvar(&m, 1), b_i8(&m, 1);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.body.client_software_name", "apache-kafka-java");
	assert_str(&f, 0, "request.body.client_software_version", "3.6.0");
	assert_int_equal(iget(&f, 0, "response.body.api_keys.0.max_version"), 9);
	assert_int_equal(iget(&f, 0, "response.body.finalized_features_epoch"), 77);
	assert_true(json_is_true(eget(&f, 0, "response.body.zk_migration_ready")));
	assert_absent(&f, 0, "response.malformed");
	fx_free(&f);
}

/* A broker that does not support the version answers UNSUPPORTED_VERSION in version 0. */
static void test_api_versions_fallback(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0};

	(void)state;
	fx_open(&f);
	req_header(&m, 18, 4, 1, "c", true);
	b_cstr(&m, "x"), b_cstr(&m, "1"), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	api_versions_v0_resp(&b, 1, 35);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "response.decoded_as_version"), 0);
	assert_str(&f, 0, "response.error_name", "UNSUPPORTED_VERSION");
	assert_int_equal(iget(&f, 0, "response.body.api_keys.0.max_version"), 11);
	assert_absent(&f, 0, "response.malformed");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

static void test_metadata_null_topics_and_errors(void **state)
{
	struct fx f;
	struct buf b = {0};

	(void)state;
	fx_open(&f);
	metadata_v1_req(&b, 1, NULL);
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 1, "orders", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	metadata_v1_req(&b, 2, "missing-topic");
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 2, "missing-topic", 3);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 2);
	/* null array (all topics): left out; the response lists them */
	assert_absent(&f, 0, "request.body.topics");
	assert_str(&f, 0, "response.topics.0", "orders");
	assert_int_equal(iget(&f, 0, "response.partition_count"), 2);
	assert_str(&f, 0, "response.body.brokers.0.host", "broker-1");
	assert_absent(&f, 0, "response.body.brokers.0.rack");
	assert_int_equal(iget(&f, 0, "response.body.topics.0.partitions.1.partition_index"), 1);
	assert_str(&f, 1, "request.topics.0", "missing-topic");
	assert_int_equal(iget(&f, 1, "response.error_code"), 3);
	assert_str(&f, 1, "response.error_name", "UNKNOWN_TOPIC_OR_PARTITION");
	assert_str(&f, 1, "response.body.topics.0.error_name", "UNKNOWN_TOPIC_OR_PARTITION");
	assert_int_equal(iget(&f, 1, "response.error_count"), 1);
	fx_free(&f);
}

static void test_produce_v9_records(void **state)
{
	struct fx f;
	struct buf b = {0}, recs = {0};
	char line[512];
	struct entry *e;

	(void)state;
	fx_open(&f);
	three_records(&recs);
	produce_v9_req(&b, 6, -1, "orders", 0, 3, &recs);
	send_buf(&f, TCP_DIR_C2S, &b);
	produce_v9_resp(&b, 6, "orders", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.api_name", "Produce");
	assert_str(&f, 0, "request.client_id", "producer-1");
	assert_absent(&f, 0, "request.body.transactional_id");
	assert_int_equal(iget(&f, 0, "request.body.acks"), -1);
	assert_str(&f, 0, "request.topics.0", "orders");
	assert_int_equal(iget(&f, 0, "request.partition_count"), 1);
	assert_int_equal(iget(&f, 0, "request.record_count"), 3);
	assert_int_equal(iget(&f, 0, "request.batch_count"), 1);
#define B "request.body.topic_data.0.partition_data.0.records.batches.0."
	assert_int_equal(iget(&f, 0, B "magic"), 2);
	assert_str(&f, 0, B "compression", "none");
	assert_int_equal(iget(&f, 0, B "producer_id"), 42);
	assert_false(json_is_true(eget(&f, 0, B "crc_valid"))); /* the builder writes a dummy */
	assert_int_equal(iget(&f, 0, B "record_count"), 3);
	assert_str(&f, 0, B "records.0.key.text", "k0");
	assert_str(&f, 0, B "records.0.value.text", "hello");
	assert_str(&f, 0, B "records.0.headers.0.key", "trace");
	assert_str(&f, 0, B "records.0.headers.0.value.text", "abc");
	assert_int_equal(iget(&f, 0, B "records.1.offset"), 1);
	assert_int_equal(iget(&f, 0, B "records.1.timestamp"), 1700000000010LL);
	assert_absent(&f, 0, B "records.1.key");   /* null key */
	assert_absent(&f, 0, B "records.2.value"); /* tombstone */
	assert_absent(&f, 0, B "records_error");
#undef B
	assert_int_equal(iget(&f, 0, "response.body.responses.0.partition_responses.0.base_offset"),
			 100);
	assert_str(&f, 0, "response.error_name", "NONE");
	e = entry_new();
	e->protocol = "kafka";
	json_object_set(entry_fields_rw(e), "request", eget(&f, 0, "request"));
	json_object_set(entry_fields_rw(e), "response", eget(&f, 0, "response"));
	entry_format_line(e, line, sizeof(line));
	assert_non_null(strstr(line, "Produce v9 #6 orders records=3 -> NONE"));
	entry_free(e);
	b_free(&recs);
	fx_free(&f);
}

static void test_produce_acks0(void **state)
{
	struct fx f;
	struct buf b = {0}, recs = {0};

	(void)state;
	fx_open(&f);
	three_records(&recs);
	produce_v9_req(&b, 1, 0, "fire-and-forget", 0, 3, &recs);
	send_buf(&f, TCP_DIR_C2S, &b);
	/* Emitted at once: the broker will not answer. */
	assert_int_equal(n_entries(&f), 1);
	assert_true(json_is_true(eget(&f, 0, "request.no_response")));
	assert_absent(&f, 0, "missing");
	assert_absent(&f, 0, "response");
	/* The next request's response pairs with it, not with the acks=0 one. */
	metadata_v1_req(&b, 2, "t");
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 2, "t", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 2);
	assert_absent(&f, 1, "missing");
	b_free(&recs);
	fx_free(&f);
}

/* Fetch v13: topics by id; the response's records; topic ids in the summary. */
static void test_fetch_v13_topic_ids(void **state)
{
	static const uint8_t id[16] = {0xc4, 0xa4, 0xc0, 0xdf, 0x71, 0x5f, 0x41, 0xb7,
				       0x9c, 0xa4, 0x95, 0xc6, 0x27, 0x44, 0xd5, 0x6c};
	struct fx f;
	struct buf b = {0}, m = {0}, recs = {0}, batch = {0};

	(void)state;
	fx_open(&f);
	req_header(&m, 1, 13, 11, "consumer-1", true);
	b_i32(&m, -1), b_i32(&m, 500), b_i32(&m, 1), b_i32(&m, 52428800), b_i8(&m, 0);
	b_i32(&m, 0), b_i32(&m, -1);
	b_uvar(&m, 2);
	b_put(&m, id, 16);
	b_uvar(&m, 2);
	b_i32(&m, 3), b_i32(&m, 5), b_i64(&m, 100), b_i32(&m, -1), b_i64(&m, -1);
	b_i32(&m, 1048576), b_uvar(&m, 0);
	b_uvar(&m, 0);
	b_uvar(&m, 1); /* forgotten: empty */
	b_cstr(&m, "");
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	record(&recs, 0, "a", "1", NULL, NULL);
	record(&recs, 1, "b", "2", NULL, NULL);
	batch_v2(&batch, 100, 0, 2, &recs);
	resp_header(&m, 11, true);
	b_i32(&m, 0), b_i16(&m, 0), b_i32(&m, 0);
	b_uvar(&m, 2);
	b_put(&m, id, 16);
	b_uvar(&m, 2);
	b_i32(&m, 3), b_i16(&m, 0), b_i64(&m, 102), b_i64(&m, 102), b_i64(&m, 0);
	b_uvar(&m, 0); /* aborted transactions: null */
	b_i32(&m, -1); /* preferred read replica */
	b_uvar(&m, batch.n + 1);
	b_put(&m, batch.p, batch.n);
	b_uvar(&m, 1); /* tagged: current leader (1) */
	b_uvar(&m, 1), b_uvar(&m, 9), b_i32(&m, 4), b_i32(&m, 12), b_uvar(&m, 0);
	b_uvar(&m, 0);
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.body.topics.0.topic_id", "xKTA33FfQbecpJXGJ0TVbA");
	assert_str(&f, 0, "request.topic_ids.0", "xKTA33FfQbecpJXGJ0TVbA");
	assert_absent(&f, 0, "request.topics");
	assert_int_equal(iget(&f, 0, "request.body.topics.0.partitions.0.partition"), 3);
	assert_int_equal(iget(&f, 0, "request.body.topics.0.partitions.0.fetch_offset"), 100);
	assert_str(&f, 0, "response.topic_ids.0", "xKTA33FfQbecpJXGJ0TVbA");
	assert_int_equal(iget(&f, 0, "response.record_count"), 2);
	assert_int_equal(
	    iget(&f, 0, "response.body.responses.0.partitions.0.current_leader.leader_id"), 4);
	assert_absent(&f, 0, "response.body.responses.0.partitions.0.aborted_transactions");
	assert_str(&f, 0,
		   "response.body.responses.0.partitions.0.records.batches.0.records.1.key.text",
		   "b");
	assert_int_equal(
	    iget(&f, 0,
		 "response.body.responses.0.partitions.0.records.batches.0.records.1.offset"),
	    101);
	assert_absent(&f, 0, "response.malformed");
	b_free(&recs);
	b_free(&batch);
	fx_free(&f);
}

/* ---- compression ---- */

static void compress_payload(int codec, const struct buf *in, struct buf *out)
{
	memset(out, 0, sizeof(*out));
	switch (codec) {
	case 1: {
		z_stream zs = {0};

		assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
				 Z_OK);
		out->cap = deflateBound(&zs, in->n) + 64;
		out->p = malloc(out->cap);
		zs.next_in = in->p;
		zs.avail_in = in->n;
		zs.next_out = out->p;
		zs.avail_out = out->cap;
		assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
		out->n = zs.total_out;
		deflateEnd(&zs);
		break;
	}
	case 2: { /* xerial framing, as the Java client writes it */
		static const uint8_t magic[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
						  0,	0,   0,	  1,   0,   0,	 0,   1};
		size_t len = snappy_max_compressed_length(in->n);
		char *tmp = malloc(len);

		assert_int_equal(snappy_compress((const char *)in->p, in->n, tmp, &len), SNAPPY_OK);
		b_put(out, magic, sizeof(magic));
		b_i32(out, len);
		b_put(out, tmp, len);
		free(tmp);
		break;
	}
	case 3: {
		size_t cap = LZ4F_compressFrameBound(in->n, NULL);

		out->p = malloc(cap);
		out->cap = cap;
		out->n = LZ4F_compressFrame(out->p, cap, in->p, in->n, NULL);
		assert_false(LZ4F_isError(out->n));
		break;
	}
	case 4: {
		size_t cap = ZSTD_compressBound(in->n);

		out->p = malloc(cap);
		out->cap = cap;
		out->n = ZSTD_compress(out->p, cap, in->p, in->n, 3);
		assert_false(ZSTD_isError(out->n));
		break;
	}
	}
}

static void test_compressed_batches(void **state)
{
	static const char *const names[] = {"", "gzip", "snappy", "lz4", "zstd"};
	int codec;

	(void)state;
	for (codec = 1; codec <= 4; codec++) {
		struct fx f;
		struct buf b = {0}, recs = {0}, z;
		char path[160];

		fx_open(&f);
		three_records(&recs);
		compress_payload(codec, &recs, &z);
		produce_v9_req(&b, 1, 1, "zipped", (int16_t)codec, 3, &z);
		send_buf(&f, TCP_DIR_C2S, &b);
		produce_v9_resp(&b, 1, "zipped", 0);
		send_buf(&f, TCP_DIR_S2C, &b);
		assert_int_equal(n_entries(&f), 1);
#define B "request.body.topic_data.0.partition_data.0.records.batches.0."
		assert_str(&f, 0, B "compression", names[codec]);
		assert_int_equal(iget(&f, 0, B "decompressed_size"), recs.n);
		assert_str(&f, 0, B "records.0.value.text", "hello");
		assert_str(&f, 0, B "records.2.key.text", "k2");
		assert_absent(&f, 0, B "decompress_error");
#undef B
		assert_int_equal(iget(&f, 0, "request.record_count"), 3);
		snprintf(path, sizeof(path), "codec %s", names[codec]);
		if (fx_counter(&f, "decompressed_batches") != 1)
			fail_msg("%s: decompressed_batches != 1", path);
		b_free(&recs);
		b_free(&z);
		fx_free(&f);
	}
}

/* A compression bomb: 64 MiB of zeros gzip'd is decompressed only up to the bound. */
static void test_compression_bomb(void **state)
{
	struct fx f;
	struct buf b = {0}, z = {0}, recs = {0};
	size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, 1 << 20);
	z_stream zs = {0};
	size_t i;

	(void)state;
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.cap = 1 << 20;
	z.p = malloc(z.cap);
	zs.next_out = z.p;
	zs.avail_out = z.cap;
	for (i = 0; i < big >> 20; i++) {
		zs.next_in = zeros;
		zs.avail_in = 1 << 20;
		assert_int_equal(deflate(&zs, i + 1 == big >> 20 ? Z_FINISH : Z_NO_FLUSH),
				 i + 1 == big >> 20 ? Z_STREAM_END : Z_OK);
	}
	z.n = zs.total_out;
	deflateEnd(&zs);
	free(zeros);
	fx_open(&f);
	produce_v9_req(&b, 1, 1, "bomb", 1, 1000000, &z);
	send_buf(&f, TCP_DIR_C2S, &b);
	produce_v9_resp(&b, 1, "bomb", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
#define B "request.body.topic_data.0.partition_data.0.records.batches.0."
	assert_true(iget(&f, 0, B "decompressed_size") <= KAFKA_DECOMPRESS_MAX);
	assert_true(json_is_true(eget(&f, 0, B "decompressed_truncated")));
	assert_non_null(eget(&f, 0, B "records_error"));
#undef B
	b_free(&z);
	b_free(&recs);
	fx_free(&f);
}

/* A transaction's commit marker: a control batch. */
static void test_control_batch(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0}, recs = {0}, batch = {0}, r = {0};

	(void)state;
	fx_open(&f);
	b_i8(&r, 0), b_var(&r, 0), b_var(&r, 0);
	b_var(&r, 4), b_i16(&r, 0), b_i16(&r, 1); /* key: version 0, type 1 = commit */
	b_var(&r, 6), b_i16(&r, 0), b_i32(&r, 5);
	b_var(&r, 0);
	b_var(&recs, r.n);
	b_put(&recs, r.p, r.n);
	batch_v2(&batch, 7, 0x30, 1, &recs); /* transactional + control */
	metadata_v1_req(&b, 1, "t");
	send_buf(&f, TCP_DIR_C2S, &b);
	/* Use a Fetch v4 response to carry it. */
	fx_free(&f);
	fx_open(&f);
	req_header(&m, 1, 4, 1, "c", false);
	b_i32(&m, -1), b_i32(&m, 100), b_i32(&m, 1), b_i32(&m, 1000), b_i8(&m, 1);
	b_i32(&m, 1), b_str(&m, "t"), b_i32(&m, 1), b_i32(&m, 0), b_i64(&m, 7), b_i32(&m, 1000);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 1, false);
	b_i32(&m, 0);
	b_i32(&m, 1), b_str(&m, "t"), b_i32(&m, 1);
	b_i32(&m, 0), b_i16(&m, 0), b_i64(&m, 8), b_i64(&m, 8);
	b_i32(&m, 1), b_i64(&m, 42), b_i64(&m, 5); /* one aborted transaction */
	b_i32(&m, batch.n);
	b_put(&m, batch.p, batch.n);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
#define P "response.body.responses.0.partitions.0."
	assert_true(json_is_true(eget(&f, 0, P "records.batches.0.control")));
	assert_true(json_is_true(eget(&f, 0, P "records.batches.0.transactional")));
	assert_str(&f, 0, P "records.batches.0.records.0.control_type", "commit");
	assert_int_equal(iget(&f, 0, P "aborted_transactions.0.producer_id"), 42);
	assert_int_equal(iget(&f, 0, P "last_stable_offset"), 8);
#undef P
	b_free(&recs);
	b_free(&batch);
	b_free(&r);
	fx_free(&f);
}

/* Legacy message sets: magic 1 as in 00-produce-v2.pcap, and a gzip'd magic-0 wrapper. */
static void test_legacy_message_sets(void **state)
{
	static const uint8_t v2_produce[] = {
	    0x00, 0x00, 0x00, 0x75, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x10,
	    'c',  'o',	'n',  's',  'o',  'l',	'e',  '-',  'p',  'r',	'o',  'd',  'u',  'c',
	    'e',  'r',	0x00, 0x01, 0x00, 0x00, 0x05, 0xdc, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06,
	    't',  'o',	'p',  'i',  'c',  '2',	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x31, 0xdf, 0xa8, 0xca, 0x66, 0x01, 0x00, 0x00, 0x00, 0x01, 0x58, 0x74, 0x1c,
	    0xd9, 0x09, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x1b, 'M',  'e',  's',  's',
	    'a',  'g',	'e',  ' ',  'w',  'i',	't',  'h',  'o',  'u',	't',  ' ',  'c',  'o',
	    'm',  'p',	'r',  'e',  's',  's',	'i',  'o',  'n',
	};
	struct fx f;
	struct buf b = {0}, m = {0}, inner = {0}, z, outer = {0};
	int i;

	(void)state;
	fx_open(&f);
	send_n(&f, TCP_DIR_C2S, v2_produce, sizeof(v2_produce));
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
#define B "request.body.topic_data.0.partition_data.0.records.batches.0."
	assert_int_equal(iget(&f, 0, B "magic"), 1);
	assert_int_equal(iget(&f, 0, B "timestamp"), 1479416797449LL);
	assert_true(json_is_true(eget(&f, 0, B "crc_valid")));
	assert_absent(&f, 0, B "key");
	assert_str(&f, 0, B "value.text", "Message without compression");
	assert_int_equal(iget(&f, 0, "request.record_count"), 1);
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "connection_closed");
	fx_free(&f);

	/* magic 0, gzip: a wrapper whose value is a message set of two messages */
	for (i = 0; i < 2; i++) {
		struct buf msg = {0};

		b_i32(&msg, 0); /* crc */
		b_i8(&msg, 0), b_i8(&msg, 0);
		b_i32(&msg, -1); /* key */
		b_i32(&msg, 3);
		b_put(&msg, i ? "two" : "one", 3);
		b_i64(&inner, i);
		b_i32(&inner, msg.n);
		b_put(&inner, msg.p, msg.n);
		b_free(&msg);
	}
	compress_payload(1, &inner, &z);
	b_i64(&outer, 1);
	b_i32(&outer, 4 + 1 + 1 + 4 + 4 + z.n);
	b_i32(&outer, 0);
	b_i8(&outer, 0), b_i8(&outer, 1);
	b_i32(&outer, -1);
	b_i32(&outer, z.n);
	b_put(&outer, z.p, z.n);
	fx_open(&f);
	req_header(&m, 0, 0, 5, "old", false);
	b_i16(&m, 1), b_i32(&m, 1000);
	b_i32(&m, 1), b_str(&m, "legacy"), b_i32(&m, 1), b_i32(&m, 0);
	b_i32(&m, outer.n);
	b_put(&m, outer.p, outer.n);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, B "compression", "gzip");
	assert_str(&f, 0, B "messages.0.value.text", "one");
	assert_str(&f, 0, B "messages.1.value.text", "two");
	assert_int_equal(iget(&f, 0, "request.record_count"), 2);
#undef B
	b_free(&inner);
	b_free(&z);
	b_free(&outer);
	fx_free(&f);
}

/* Group APIs: JoinGroup v7 (flexible), SyncGroup v3, Heartbeat, LeaveGroup v4. */
static void test_group_apis(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0};

	(void)state;
	fx_open(&f);
	req_header(&m, 11, 7, 120, "consumer-g-1", true);
	b_cstr(&m, "g"), b_i32(&m, 45000), b_i32(&m, 300000), b_cstr(&m, ""), b_cstr(&m, NULL);
	b_cstr(&m, "consumer");
	/* a consumer protocol subscription v0: topics ["orders"], user data null */
	b_uvar(&m, 2), b_cstr(&m, "range"), b_uvar(&m, 19);
	b_put(&m, "\x00\x00\x00\x00\x00\x01\x00\x06orders\xff\xff\xff\xff", 18);
	b_uvar(&m, 0);
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 120, true);
	b_i32(&m, 0), b_i16(&m, 79), b_i32(&m, -1), b_cstr(&m, NULL), b_cstr(&m, NULL);
	b_cstr(&m, ""), b_cstr(&m, "consumer-g-1-abc"), b_uvar(&m, 1), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 14, 3, 121, "consumer-g-1", false);
	b_str(&m, "g"), b_i32(&m, 1), b_str(&m, "m"), b_str(&m, NULL);
	b_i32(&m, 1), b_str(&m, "m"), b_i32(&m, 2), b_put(&m, "\x00\x01", 2);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 121, false);
	b_i32(&m, 0), b_i16(&m, 0), b_i32(&m, 2), b_put(&m, "\x00\x01", 2);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 12, 4, 122, "consumer-g-1", true);
	b_cstr(&m, "g"), b_i32(&m, 1), b_cstr(&m, "m"), b_cstr(&m, NULL), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 122, true);
	b_i32(&m, 0), b_i16(&m, 27), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 13, 4, 123, "consumer-g-1", true);
	b_cstr(&m, "g"), b_uvar(&m, 2), b_cstr(&m, "m"), b_cstr(&m, NULL), b_uvar(&m, 0);
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 123, true);
	b_i32(&m, 0), b_i16(&m, 0), b_uvar(&m, 2), b_cstr(&m, "m"), b_cstr(&m, NULL), b_i16(&m, 0);
	b_uvar(&m, 0), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 4);
	assert_str(&f, 0, "request.api_name", "JoinGroup");
	assert_str(&f, 0, "request.body.group_id", "g");
	assert_str(&f, 0, "request.body.protocols.0.name", "range");
	assert_int_equal(iget(&f, 0, "request.body.protocols.0.metadata.size"), 18);
	assert_str(&f, 0, "request.body.protocols.0.metadata.consumer_protocol.topics.0", "orders");
	assert_str(&f, 0, "request.topics.0", "orders");
	/* SyncGroup's two bytes are not a consumer assignment: shown as bytes only */
	assert_absent(&f, 1, "request.body.assignments.0.assignment.consumer_protocol");
	assert_str(&f, 0, "response.error_name", "MEMBER_ID_REQUIRED");
	assert_str(&f, 0, "response.body.member_id", "consumer-g-1-abc");
	assert_str(&f, 1, "request.api_name", "SyncGroup");
	assert_str(&f, 1, "request.body.assignments.0.member_id", "m");
	assert_str(&f, 2, "response.error_name", "REBALANCE_IN_PROGRESS");
	assert_str(&f, 3, "request.body.members.0.member_id", "m");
	assert_int_equal(iget(&f, 3, "response.body.members.0.error_code"), 0);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* Topic administration and offsets: CreateTopics v5, DeleteTopics v6, ListOffsets v1,
 * OffsetFetch v8 (groups), FindCoordinator v4 (batched), InitProducerId v4. */
static void test_admin_and_offsets(void **state)
{
	static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct fx f;
	struct buf b = {0}, m = {0};

	(void)state;
	fx_open(&f);
	req_header(&m, 19, 5, 1, "admin", true);
	b_uvar(&m, 2), b_cstr(&m, "new-topic"), b_i32(&m, 3), b_i16(&m, 1), b_uvar(&m, 1);
	b_uvar(&m, 2), b_cstr(&m, "retention.ms"), b_cstr(&m, "1000"), b_uvar(&m, 0), b_uvar(&m, 0);
	b_i32(&m, 30000), b_i8(&m, 0), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 1, true);
	b_i32(&m, 0), b_uvar(&m, 2), b_cstr(&m, "new-topic"), b_i16(&m, 36), b_cstr(&m, "exists");
	b_i32(&m, -1), b_i16(&m, -1), b_uvar(&m, 0);
	b_uvar(&m, 1), b_uvar(&m, 0), b_uvar(&m, 2), b_i16(&m, 29); /* tagged config error */
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 20, 6, 2, "admin", true);
	b_uvar(&m, 2), b_cstr(&m, NULL), b_put(&m, id, 16), b_uvar(&m, 0), b_i32(&m, 1000);
	b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 2, true);
	b_i32(&m, 0), b_uvar(&m, 2), b_cstr(&m, "old"), b_put(&m, id, 16), b_i16(&m, 0);
	b_cstr(&m, NULL), b_uvar(&m, 0), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 2, 1, 3, "c", false);
	b_i32(&m, -1), b_i32(&m, 1), b_str(&m, "t"), b_i32(&m, 1), b_i32(&m, 0), b_i64(&m, -2);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 3, false);
	b_i32(&m, 1), b_str(&m, "t"), b_i32(&m, 1), b_i32(&m, 0), b_i16(&m, 0), b_i64(&m, -1);
	b_i64(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 9, 8, 4, "c", true);
	b_uvar(&m, 2), b_cstr(&m, "g"), b_uvar(&m, 2), b_cstr(&m, "t"), b_uvar(&m, 3), b_i32(&m, 0);
	b_i32(&m, 1), b_uvar(&m, 0), b_uvar(&m, 0), b_i8(&m, 1), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 4, true);
	b_i32(&m, 0), b_uvar(&m, 2), b_cstr(&m, "g"), b_uvar(&m, 2), b_cstr(&m, "t"), b_uvar(&m, 2);
	b_i32(&m, 1), b_i64(&m, 55), b_i32(&m, -1), b_cstr(&m, ""), b_i16(&m, 0), b_uvar(&m, 0);
	b_uvar(&m, 0), b_i16(&m, 0), b_uvar(&m, 0), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 10, 4, 5, "c", true);
	b_i8(&m, 0), b_uvar(&m, 3), b_cstr(&m, "g1"), b_cstr(&m, "g2"), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 5, true);
	b_i32(&m, 0), b_uvar(&m, 2), b_cstr(&m, "g1"), b_i32(&m, 1), b_cstr(&m, "broker-1");
	b_i32(&m, 9092), b_i16(&m, 15), b_cstr(&m, "not yet"), b_uvar(&m, 0), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 5);
	assert_str(&f, 0, "request.body.topics.0.configs.0.name", "retention.ms");
	assert_str(&f, 0, "request.topics.0", "new-topic");
	assert_str(&f, 0, "response.error_name", "TOPIC_ALREADY_EXISTS");
	assert_str(&f, 0, "response.body.topics.0.topic_config_error_name",
		   "TOPIC_AUTHORIZATION_FAILED");
	assert_int_equal(iget(&f, 0, "response.error_count"), 2);
	assert_str(&f, 1, "request.topic_ids.0", "AQIDBAUGBwgJCgsMDQ4PEA");
	assert_str(&f, 1, "response.topics.0", "old");
	assert_int_equal(iget(&f, 2, "request.body.topics.0.partitions.0.timestamp"), -2);
	assert_int_equal(iget(&f, 2, "response.body.topics.0.partitions.0.offset"), 0);
	assert_str(&f, 3, "request.body.groups.0.group_id", "g");
	assert_int_equal(iget(&f, 3, "request.partition_count"), 2);
	assert_int_equal(
	    iget(&f, 3, "response.body.groups.0.topics.0.partitions.0.committed_offset"), 55);
	assert_str(&f, 4, "request.body.coordinator_keys.1", "g2");
	assert_str(&f, 4, "response.error_name", "COORDINATOR_NOT_AVAILABLE");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* ---- pairing ---- */

static void test_pipelined_out_of_order(void **state)
{
	struct fx f;
	struct buf b = {0};
	int i;

	(void)state;
	fx_open(&f);
	for (i = 1; i <= 4; i++)
		metadata_v1_req(&b, i, "t");
	send_buf(&f, TCP_DIR_C2S, &b); /* four requests in one segment */
	metadata_v1_resp(&b, 1, "t", 0);
	metadata_v1_resp(&b, 2, "t", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 2);
	/* The response to 3 never comes (a broker answers in order): 4's response shows it. */
	metadata_v1_resp(&b, 4, "t", 5);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 4);
	assert_int_equal(iget(&f, 2, "request.correlation_id"), 3);
	assert_str(&f, 2, "missing", "response");
	assert_int_equal(iget(&f, 3, "request.correlation_id"), 4);
	assert_int_equal(iget(&f, 3, "response.correlation_id"), 4);
	assert_str(&f, 3, "response.error_name", "LEADER_NOT_AVAILABLE");
	/* A response nobody asked for. */
	metadata_v1_resp(&b, 99, "t", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 5);
	assert_str(&f, 4, "missing", "request");
	assert_str(&f, 4, "response.body_undecoded", "no_request");
	assert_int_equal(iget(&f, 4, "response.body_size"), iget(&f, 4, "response_size") - 8);
	fx_free(&f);
}

static void test_unknown_key_and_version(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0};

	(void)state;
	fx_open(&f);
	api_versions_v0_req(&b, 1); /* detection */
	send_buf(&f, TCP_DIR_C2S, &b);
	api_versions_v0_resp(&b, 1, 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	req_header(&m, 200, 0, 2, "c", false); /* an API key nobody knows */
	b_i32(&m, 12345);
	b_frame(&b, &m);
	req_header(&m, 0, 20, 3, "c", false); /* Produce v20 */
	b_i32(&m, 1);
	b_frame(&b, &m);
	req_header(&m, 15, 5, 4, "c", true); /* DescribeGroups: header only */
	b_uvar(&m, 2), b_cstr(&m, "g"), b_i8(&m, 0), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	resp_header(&m, 2, false);
	b_i32(&m, 0);
	b_frame(&b, &m);
	resp_header(&m, 3, false);
	b_i32(&m, 0);
	b_frame(&b, &m);
	resp_header(&m, 4, true);
	b_i32(&m, 0), b_uvar(&m, 1), b_uvar(&m, 0);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 4);
	assert_int_equal(iget(&f, 1, "request.api_key"), 200);
	assert_absent(&f, 1, "request.api_name");
	assert_str(&f, 1, "request.body_undecoded", "unknown_api_key");
	assert_str(&f, 1, "response.body_undecoded", "unknown_api_key");
	assert_int_equal(iget(&f, 1, "request.body_size"), 4);
	assert_str(&f, 2, "request.body_undecoded", "unsupported_version");
	assert_str(&f, 2, "request.api_name", "Produce");
	assert_str(&f, 3, "request.api_name", "DescribeGroups");
	assert_str(&f, 3, "request.body_undecoded", "api_not_decoded");
	assert_int_equal(iget(&f, 3, "response.body_size"), 6); /* header v1: after its tag byte */
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* Mid-stream, ports say the broker is the client: the first requests decide. */
static void test_roles_guessed_wrong(void **state)
{
	struct fx f;
	struct buf b = {0};

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_PORT, NULL);
	metadata_v1_req(&b, 120, "t");
	send_buf(&f, TCP_DIR_S2C, &b); /* requests from the "server" */
	metadata_v1_resp(&b, 120, "t", 0);
	send_buf(&f, TCP_DIR_C2S, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_absent(&f, 0, "missing");
	assert_int_equal(iget(&f, 0, "src.port"), 9092); /* the requests' sender */
	assert_int_equal(iget(&f, 0, "dst.port"), 40000);
	fx_free(&f);
	/* Picked up in the middle of a message: the rest of it is skipped. */
	fx_open_cfg(&f, TCP_ROLE_PORT, NULL);
	metadata_v1_req(&b, 5, "topic-a");
	send_n(&f, TCP_DIR_C2S, b.p + 7, b.n - 7);
	b_free(&b);
	metadata_v1_resp(&b, 5, "topic-a", 0);
	send_n(&f, TCP_DIR_S2C, b.p, b.n);
	b_free(&b);
	metadata_v1_req(&b, 6, "topic-b");
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 6, "topic-b", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "missing", "request");
	assert_int_equal(iget(&f, 0, "response.correlation_id"), 5);
	assert_int_equal(iget(&f, 1, "request.correlation_id"), 6);
	assert_absent(&f, 1, "missing");
	assert_int_equal(iget(&f, 1, "src.port"), 40000);
	fx_free(&f);
}

/* ---- streaming, gaps, ends ---- */

/* A 3 MiB produce request in 64 KiB segments: decoded up to the bound, the rest skipped. */
static void test_large_message_streamed(void **state)
{
	struct fx f;
	struct buf b = {0}, recs = {0};
	size_t big = 3u << 20, off;
	char *value = malloc(big + 1);

	(void)state;
	memset(value, 'v', big);
	value[big] = 0;
	record(&recs, 0, "big", value, NULL, NULL);
	free(value);
	fx_open(&f);
	produce_v9_req(&b, 1, 1, "big-topic", 0, 1, &recs);
	for (off = 0; off < b.n; off += 65536)
		send_n(&f, TCP_DIR_C2S, b.p + off, b.n - off < 65536 ? b.n - off : 65536);
	b_free(&b);
	produce_v9_resp(&b, 1, "big-topic", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_true(iget(&f, 0, "request_size") > (long long)big);
	assert_true(json_is_true(eget(&f, 0, "request.truncated")));
	assert_true(iget(&f, 0, "request.skipped_bytes") >
		    (long long)(big - KAFKA_DECODE_MIN - 65536));
	assert_str(&f, 0, "request.topics.0", "big-topic");
	assert_int_equal(iget(&f, 0, "request.record_count"), 1); /* whole on the wire */
	assert_true(json_is_true(
	    eget(&f, 0, "request.body.topic_data.0.partition_data.0.records.batches.0.partial")));
	assert_absent(&f, 0, "request.malformed");
	assert_str(&f, 0, "response.error_name", "NONE");
	assert_int_equal(fx_counter(&f, "oversized_messages"), 1);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	assert_int_equal(fx_stats(&f).buffer_overflows, 0);
	b_free(&recs);
	fx_free(&f);
}

/* Values longer than --body-max are cut; the message still decodes. */
static void test_body_max(void **state)
{
	struct dissect_config cfg = {.body_max = 4};
	struct fx f;
	struct buf b = {0}, recs = {0};

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_SYN, &cfg);
	three_records(&recs);
	produce_v9_req(&b, 1, 1, "t", 0, 3, &recs);
	send_buf(&f, TCP_DIR_C2S, &b);
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 1);
#define B "request.body.topic_data.0.partition_data.0.records.batches.0."
	assert_str(&f, 0, B "records.0.key.text", "k0");
	assert_str(&f, 0, B "records.0.value.text", "he");
	assert_true(json_is_true(eget(&f, 0, B "records.0.value.truncated")));
	assert_int_equal(iget(&f, 0, B "records.0.value.size"), 5);
	assert_str(&f, 0, B "records.1.value.text", "");
#undef B
	assert_str(&f, 0, "missing_reason", "connection_reset");
	b_free(&recs);
	fx_free(&f);
}

static void test_gaps(void **state)
{
	struct fx f;
	struct buf b = {0}, recs = {0};
	size_t half;

	(void)state;
	fx_open(&f);
	/* A hole inside a message: the framing holds, the message is cut. */
	three_records(&recs);
	produce_v9_req(&b, 1, 1, "t", 0, 3, &recs);
	half = b.n / 2;
	send_n(&f, TCP_DIR_C2S, b.p, half);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_C2S, 10, f.ts);
	send_n(&f, TCP_DIR_C2S, b.p + half + 10, b.n - half - 10);
	b_free(&b);
	metadata_v1_req(&b, 2, "after-gap");
	send_buf(&f, TCP_DIR_C2S, &b);
	produce_v9_resp(&b, 1, "t", 0);
	metadata_v1_resp(&b, 2, "after-gap", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(iget(&f, 0, "request.gap_bytes"), 10);
	assert_true(json_is_true(eget(&f, 0, "request.truncated")));
	assert_str(&f, 0, "request.topics.0", "t");
	assert_str(&f, 1, "request.topics.0", "after-gap");
	assert_absent(&f, 1, "missing");
	/* A hole across message boundaries: requests resynchronise at the next one. */
	metadata_v1_req(&b, 3, "lost");
	send_n(&f, TCP_DIR_C2S, b.p, 10);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_C2S, b.n, f.ts);
	b_free(&b);
	send_n(&f, TCP_DIR_C2S, "garbage", 7);
	metadata_v1_req(&b, 4, "found");
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 3, "lost", 0);
	metadata_v1_resp(&b, 4, "found", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	/* 3's request was cut by the hole (shown as cut), 4 paired normally */
	assert_int_equal(iget(&f, n_entries(&f) - 1, "request.correlation_id"), 4);
	assert_absent(&f, n_entries(&f) - 1, "missing");
	/* Responses lost in a hole: the waiting request is emitted when a later answer comes. */
	metadata_v1_req(&b, 5, "x");
	metadata_v1_req(&b, 6, "y");
	send_buf(&f, TCP_DIR_C2S, &b);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_S2C, 200, f.ts);
	send_n(&f, TCP_DIR_S2C, "\x01\x02\x03", 3); /* the tail of 5's response */
	metadata_v1_resp(&b, 6, "y", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(iget(&f, n_entries(&f) - 2, "request.correlation_id"), 5);
	assert_str(&f, n_entries(&f) - 2, "missing", "response");
	assert_str(&f, n_entries(&f) - 2, "missing_reason", "capture_gap");
	assert_int_equal(iget(&f, n_entries(&f) - 1, "response.correlation_id"), 6);
	assert_absent(&f, n_entries(&f) - 1, "missing");
	b_free(&recs);
	fx_free(&f);
}

/*
 * After a hole in the responses, bytes inside the cut message can pass for the start of a
 * pending request's response with a huge length (in a capture: a record batch's leader epoch 0
 * and magic 2 read as correlation id 2). The real responses after it are not swallowed: a
 * response that proves itself (all there, answering a pending request, decoding to its end)
 * ends the false one.
 */
static void test_gap_false_response_start(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0};
	size_t n;

	(void)state;
	fx_open(&f);
	metadata_v1_req(&b, 5, "x");
	metadata_v1_req(&b, 6, "y");
	metadata_v1_req(&b, 7, "z");
	send_buf(&f, TCP_DIR_C2S, &b);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_S2C, 300, f.ts);
	/* The tail of 5's response; in it a false start: 1 MiB, correlation id 5, one broker
	 * whose host name runs past these bytes (a prefix of a Metadata v1 response). */
	b_put(&m, "\x01\x02\x03", 3);
	b_i32(&m, 1 << 20), b_i32(&m, 5);
	b_i32(&m, 1), b_i32(&m, 1), b_i16(&m, 0x4000);
	b_put(&m, "broker-name-cut.", 16);
	send_buf(&f, TCP_DIR_S2C, &m);
	/* 6's response in the next segment, 7's after it in the same one. */
	metadata_v1_resp(&b, 6, "y", 0);
	metadata_v1_resp(&b, 7, "z", 0);
	send_buf(&f, TCP_DIR_S2C, &b);
	fx_close(&f, TCP_CLOSE_FIN);
	n = n_entries(&f);
	assert_int_equal(n, 3);
	assert_int_equal(iget(&f, 0, "request.correlation_id"), 5);
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "capture_gap");
	assert_int_equal(iget(&f, 1, "response.correlation_id"), 6);
	assert_str(&f, 1, "response.topics.0", "y");
	assert_absent(&f, 1, "missing");
	assert_int_equal(iget(&f, 2, "response.correlation_id"), 7);
	assert_absent(&f, 2, "missing");
	assert_true(fx_counter(&f, "resync_bytes") >= 3 + 8 + 10 + 16);
	fx_free(&f);
}

static void test_close_mid_response(void **state)
{
	struct fx f;
	struct buf b = {0};

	(void)state;
	fx_open(&f);
	metadata_v1_req(&b, 1, "t");
	metadata_v1_req(&b, 2, "t");
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 1, "t", 0);
	send_n(&f, TCP_DIR_S2C, b.p, b.n - 5);
	b_free(&b);
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(iget(&f, 0, "response.correlation_id"), 1);
	assert_true(json_is_true(eget(&f, 0, "response.truncated")));
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "connection_reset");
	assert_str(&f, 0, "response.body.brokers.0.host", "broker-1");
	assert_int_equal(iget(&f, 1, "request.correlation_id"), 2);
	assert_str(&f, 1, "missing_reason", "connection_reset");
	fx_free(&f);
}

/* ---- bounds and hostile input ---- */

static void test_pending_bound(void **state)
{
	struct fx f;
	struct buf b = {0};
	int i;

	(void)state;
	fx_open(&f);
	for (i = 0; i < (int)KAFKA_PENDING_MAX + 10; i++)
		metadata_v1_req(&b, i, "t");
	send_buf(&f, TCP_DIR_C2S, &b);
	assert_int_equal(n_entries(&f), 10);
	assert_str(&f, 0, "missing_reason", "too_many_pending");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), KAFKA_PENDING_MAX + 10);
	fx_free(&f);
}

/* Requests waiting for their answers keep at most KAFKA_PENDING_VALUES_MAX of record values. */
static void test_pending_values_bound(void **state)
{
	struct fx f;
	struct buf b = {0}, recs = {0};
	size_t vlen = 60000, i, n = KAFKA_PENDING_VALUES_MAX / 60000 + 5;
	char *value = malloc(vlen + 1);

	(void)state;
	memset(value, 'v', vlen);
	value[vlen] = 0;
	record(&recs, 0, NULL, value, NULL, NULL);
	free(value);
	fx_open(&f);
	for (i = 0; i < n; i++) {
		produce_v9_req(&b, (int32_t)i, 1, "t", 0, 1, &recs);
		send_buf(&f, TCP_DIR_C2S, &b);
	}
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), n);
#define V "request.body.topic_data.0.partition_data.0.records.batches.0.records.0.value."
	assert_int_equal(json_string_length(eget(&f, 0, V "text")), vlen);
	assert_int_equal(json_string_length(eget(&f, n - 1, V "text")), 0);
	assert_int_equal(iget(&f, n - 1, V "size"), vlen);
	assert_true(json_is_true(eget(&f, n - 1, V "truncated")));
#undef V
	b_free(&recs);
	fx_free(&f);
}

static void test_hostile(void **state)
{
	struct fx f;
	struct buf b = {0}, m = {0};

	(void)state;
	fx_open(&f);
	api_versions_v0_req(&b, 1);
	send_buf(&f, TCP_DIR_C2S, &b);
	/* Metadata v1 request claiming two billion topics in 4 bytes */
	req_header(&m, 3, 1, 2, "c", false);
	b_i32(&m, 0x7fffffff);
	b_frame(&b, &m);
	/* Produce v9 whose compact array count varint never ends */
	req_header(&m, 0, 9, 3, "c", true);
	b_cstr(&m, NULL), b_i16(&m, 1), b_i32(&m, 1);
	b_put(&m, "\xff\xff\xff\xff\xff\xff\xff", 7);
	b_frame(&b, &m);
	/* a string length running past the end */
	req_header(&m, 12, 0, 4, "c", false);
	b_i16(&m, 30000);
	b_put(&m, "abc", 3);
	b_frame(&b, &m);
	/* records: a batch length of 2 GiB and a record with a huge header count */
	req_header(&m, 0, 3, 5, "c", false);
	b_str(&m, NULL), b_i16(&m, 1), b_i32(&m, 1), b_i32(&m, 1), b_str(&m, "t"), b_i32(&m, 1);
	b_i32(&m, 0), b_i32(&m, 20), b_i64(&m, 0), b_i32(&m, 0x7fffffff), b_i32(&m, 0);
	b_i32(&m, 0);
	b_frame(&b, &m);
	/* a magic-2 batch whose length is shorter than the batch header, then 60 more bytes */
	req_header(&m, 0, 3, 6, "c", false);
	b_str(&m, NULL), b_i16(&m, 1), b_i32(&m, 1), b_i32(&m, 1), b_str(&m, "t"), b_i32(&m, 1);
	b_i32(&m, 0), b_i32(&m, 77), b_i64(&m, 0), b_i32(&m, 0), b_i32(&m, 0), b_i8(&m, 2);
	for (int k = 0; k < 15; k++)
		b_i32(&m, -1);
	b_frame(&b, &m);
	send_buf(&f, TCP_DIR_C2S, &b);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 6);
	assert_str(&f, 5, "request.body.topic_data.0.partition_data.0.records.batches.0.error",
		   "batch length shorter than its header");
	assert_str(&f, 1, "request.malformed", "array count larger than the bytes left");
	assert_str(&f, 2, "request.malformed", "varint overflow");
	assert_str(&f, 3, "request.malformed", "the body ends inside a field");
	assert_true(json_is_true(
	    eget(&f, 4, "request.body.topic_data.0.partition_data.0.records.batches.0.partial")));
	assert_int_equal(fx_counter(&f, "malformed_messages"), 3);
	fx_free(&f);
	/* A declared length beyond socket.request.max.bytes: not a request; resynchronised. */
	fx_open(&f);
	api_versions_v0_req(&b, 1);
	b_i32(&b, 200 << 20);
	b_i32(&b, 0x00030001);
	api_versions_v0_req(&b, 2);
	send_buf(&f, TCP_DIR_C2S, &b);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(iget(&f, 1, "request.correlation_id"), 2);
	assert_true(fx_stats(&f).parse_errors >= 1);
	assert_true(fx_counter(&f, "resync_bytes") >= 8);
	fx_free(&f);
}

/* Filters: the protocol word, and Kafka's versions are not HTTP's. */
static void test_filter_words(void **state)
{
	static const struct {
		const char *filter;
		bool want;
	} cases[] = {
	    {"kafka", true},
	    {"http", false},
	    {"http1", false},
	    {"http2", false},
	    {"kafka and request.api_name == \"Metadata\"", true},
	    {"response.error_name == \"LEADER_NOT_AVAILABLE\"", true},
	    {"request.topics.0 == \"t\"", true},
	};
	struct fx f;
	struct buf b = {0};
	size_t i;

	(void)state;
	fx_open(&f);
	metadata_v1_req(&b, 1, "t");
	send_buf(&f, TCP_DIR_C2S, &b);
	metadata_v1_resp(&b, 1, "t", 5);
	send_buf(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "version", "1");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct entry_filter *flt;
		char err[128];

		if (entry_filter_compile(cases[i].filter, &flt, err, sizeof(err)))
			fail_msg("%s: %s", cases[i].filter, err);
		if (entry_filter_match(flt, json_array_get(f.out, 0)) != cases[i].want)
			fail_msg("filter %s: want %d", cases[i].filter, cases[i].want);
		entry_filter_free(flt);
	}
	fx_free(&f);
}

static void test_schema_tables(void **state)
{
	int k, named = 0;

	(void)state;
	for (k = 0; k <= KAFKA_API_KEY_MAX; k++) {
		const struct kafka_api *api = kafka_api_get(k);

		if (!api)
			continue;
		named++;
		assert_true(api->flexible_min <= (int)api->max_version);
		assert_true((api->request == NULL) == (api->response == NULL));
	}
	assert_int_equal(named, KAFKA_API_KEY_MAX + 1);
	assert_null(kafka_api_get(-1));
	assert_null(kafka_api_get(KAFKA_API_KEY_MAX + 1));
	assert_string_equal(kafka_api_get(75)->name, "DescribeTopicPartitions");
	assert_string_equal(kafka_error_name(-1), "UNKNOWN_SERVER_ERROR");
	assert_string_equal(kafka_error_name(100), "UNKNOWN_TOPIC_ID");
	assert_null(kafka_error_name(-2));
	assert_null(kafka_error_name(30000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect_kafka),
	    cmocka_unit_test(test_detect_others),
	    cmocka_unit_test(test_detect_engine),
	    cmocka_unit_test(test_api_versions_v0),
	    cmocka_unit_test(test_api_versions_v3),
	    cmocka_unit_test(test_api_versions_fallback),
	    cmocka_unit_test(test_metadata_null_topics_and_errors),
	    cmocka_unit_test(test_produce_v9_records),
	    cmocka_unit_test(test_produce_acks0),
	    cmocka_unit_test(test_fetch_v13_topic_ids),
	    cmocka_unit_test(test_compressed_batches),
	    cmocka_unit_test(test_compression_bomb),
	    cmocka_unit_test(test_control_batch),
	    cmocka_unit_test(test_legacy_message_sets),
	    cmocka_unit_test(test_group_apis),
	    cmocka_unit_test(test_admin_and_offsets),
	    cmocka_unit_test(test_pipelined_out_of_order),
	    cmocka_unit_test(test_unknown_key_and_version),
	    cmocka_unit_test(test_roles_guessed_wrong),
	    cmocka_unit_test(test_large_message_streamed),
	    cmocka_unit_test(test_body_max),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_gap_false_response_start),
	    cmocka_unit_test(test_close_mid_response),
	    cmocka_unit_test(test_pending_bound),
	    cmocka_unit_test(test_pending_values_bound),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_filter_words),
	    cmocka_unit_test(test_schema_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
