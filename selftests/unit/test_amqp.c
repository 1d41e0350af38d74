// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the AMQP 0-9-1 dissector (dissect/amqp.c) through the engine's byte-stream
 * interface: detection (and not stealing other protocols), the handshake, synchronous pairs,
 * publish/deliver/get with content across frames and segments, publisher confirms, consumer
 * acks, errors (Channel.Close, Connection.Close), interleaved channels, heartbeats and frame
 * counters, mid-stream pickup, gaps, connection ends, bounds and hostile input.
 *
 * Frames are built with librabbitmq's encoders (amqp_encode_method/properties), hostile
 * ones by hand.
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

#include <amqp.h>
#include <amqp_framing.h>

#include "dissect/amqp.h"
#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "test_json_path.h"

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
	/* The text form must be printable for every entry. */
	assert_true(entry_format_line(e, line, sizeof(line)) > 0);
}

static void fx_open_cfg(struct fx *f, enum tcp_role role, const struct dissect_config *cfg)
{
	struct tcp_flow_info info = {.id = 1, .family = AF_INET, .role = role};

	memset(f, 0, sizeof(*f));
	info.client.port = 40000;
	info.server.port = 5672;
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

static const char *sget(struct fx *f, size_t i, const char *path)
{
	return json_string_value(jget(json_array_get(f->out, i), path));
}

static long long iget(struct fx *f, size_t i, const char *path)
{
	json_t *v = jget(json_array_get(f->out, i), path);

	if (!json_is_integer(v))
		fail_msg("entry %zu %s: not an integer", i, path);
	return json_integer_value(v);
}

static bool has(struct fx *f, size_t i, const char *path)
{
	return jget(json_array_get(f->out, i), path) != NULL;
}

static bool is_true(struct fx *f, size_t i, const char *path)
{
	return json_is_true(jget(json_array_get(f->out, i), path));
}

#define assert_str(f, i, path, want)                                                               \
	do {                                                                                       \
		const char *got_ = sget(f, i, path);                                               \
		if (!got_ || strcmp(got_, want))                                                   \
			fail_msg("entry %zu %s: got \"%s\", want \"%s\"", (size_t)(i), path,       \
				 got_ ? got_ : "(none)", want);                                    \
	} while (0)

/* The index of the amqp dissector (for its counters). */
static unsigned amqp_index(void)
{
	unsigned i;

	for (i = 0; dissect_protocol_name(i); i++)
		if (!strcmp(dissect_protocol_name(i), "amqp"))
			return i;
	fail_msg("amqp is not registered");
	return 0;
}

static uint64_t counter(struct fx *f, const char *name)
{
	struct dissect_stats st = fx_stats(f);
	unsigned p = amqp_index(), i;

	for (i = 0; dissect_counter_name(p, i); i++)
		if (!strcmp(dissect_counter_name(p, i), name))
			return st.counters[p][i];
	fail_msg("no counter %s", name);
	return 0;
}

/* ---- frame builders ---- */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p = put16(p, (uint16_t)(v >> 16));
	return put16(p, (uint16_t)v);
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	p = put32(p, (uint32_t)(v >> 32));
	return put32(p, (uint32_t)v);
}

/* A frame with payload (p, n). */
static size_t frame_raw(uint8_t *out, uint8_t type, uint16_t ch, const void *p, size_t n)
{
	out[0] = type;
	put16(out + 1, ch);
	put32(out + 3, (uint32_t)n);
	if (n)
		memcpy(out + 7, p, n);
	out[7 + n] = 0xce;
	return n + 8;
}

static size_t frame_method(uint8_t *out, uint16_t ch, amqp_method_number_t id, void *m)
{
	static uint8_t pl[1 << 17];
	int k;

	put32(pl, id);
	k = amqp_encode_method(id, m, (amqp_bytes_t){sizeof(pl) - 4, pl + 4});
	assert_true(k >= 0);
	return frame_raw(out, 1, ch, pl, (size_t)k + 4);
}

static size_t frame_header(uint8_t *out, uint16_t ch, uint64_t body_size,
			   amqp_basic_properties_t *props)
{
	static uint8_t pl[1 << 17];
	amqp_basic_properties_t none = {0};
	int k;

	put16(pl, AMQP_BASIC_CLASS);
	put16(pl + 2, 0);
	put64(pl + 4, body_size);
	k = amqp_encode_properties(AMQP_BASIC_CLASS, props ? props : &none,
				   (amqp_bytes_t){sizeof(pl) - 12, pl + 12});
	assert_true(k >= 0);
	return frame_raw(out, 2, ch, pl, (size_t)k + 12);
}

/* A stream being built up. */
struct buf {
	uint8_t *p;
	size_t n;
};

static void buf_reserve(struct buf *b, size_t more)
{
	b->p = realloc(b->p, b->n + more);
	assert_non_null(b->p);
}

static void add_method(struct buf *b, uint16_t ch, amqp_method_number_t id, void *m)
{
	buf_reserve(b, 1 << 17);
	b->n += frame_method(b->p + b->n, ch, id, m);
}

static void add_header(struct buf *b, uint16_t ch, uint64_t size, amqp_basic_properties_t *pr)
{
	buf_reserve(b, 1 << 17);
	b->n += frame_header(b->p + b->n, ch, size, pr);
}

static void add_raw(struct buf *b, uint8_t type, uint16_t ch, const void *p, size_t n)
{
	buf_reserve(b, n + 8);
	b->n += frame_raw(b->p + b->n, type, ch, p, n);
}

static void add_bytes(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

/* Body bytes in frames of at most per bytes. */
static void add_body(struct buf *b, uint16_t ch, const void *p, size_t n, size_t per)
{
	size_t off = 0;

	while (off < n) {
		size_t k = n - off < per ? n - off : per;

		add_raw(b, 3, ch, (const uint8_t *)p + off, k);
		off += k;
	}
}

static void flush(struct fx *f, enum tcp_dir dir, struct buf *b)
{
	if (b->n)
		send_n(f, dir, b->p, b->n);
	b->n = 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}

static amqp_bytes_t B(const char *s)
{
	return amqp_cstring_bytes(s);
}

static const uint8_t proto_hdr[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};

/* The client's header and the handshake up to Open-Ok, as two streams. */
static void handshake(struct fx *f)
{
	struct buf c = {0}, s = {0};
	amqp_table_entry_t caps[1] = {
	    {B("publisher_confirms"), {AMQP_FIELD_KIND_BOOLEAN, {.boolean = 1}}}};
	amqp_table_entry_t sp[2] = {
	    {B("product"), {AMQP_FIELD_KIND_UTF8, {.bytes = {8, "RabbitMQ"}}}},
	    {B("capabilities"), {AMQP_FIELD_KIND_TABLE, {.table = {1, caps}}}},
	};
	amqp_connection_start_t start = {0, 9, {2, sp}, B("PLAIN AMQPLAIN"), B("en_US")};
	amqp_connection_start_ok_t start_ok = {
	    {0, NULL}, B("PLAIN"), {13, "\0guest\0s3cret"}, B("en_US")};
	amqp_connection_tune_t tune = {2047, 131072, 60};
	amqp_connection_tune_ok_t tune_ok = {2047, 131072, 60};
	amqp_connection_open_t open = {B("/prod"), B(""), 0};
	amqp_connection_open_ok_t open_ok = {B("")};

	add_bytes(&c, proto_hdr, sizeof(proto_hdr));
	flush(f, TCP_DIR_C2S, &c);
	add_method(&s, 0, AMQP_CONNECTION_START_METHOD, &start);
	flush(f, TCP_DIR_S2C, &s);
	add_method(&c, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
	flush(f, TCP_DIR_C2S, &c);
	add_method(&s, 0, AMQP_CONNECTION_TUNE_METHOD, &tune);
	flush(f, TCP_DIR_S2C, &s);
	add_method(&c, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok);
	add_method(&c, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
	flush(f, TCP_DIR_C2S, &c);
	add_method(&s, 0, AMQP_CONNECTION_OPEN_OK_METHOD, &open_ok);
	flush(f, TCP_DIR_S2C, &s);
	buf_free(&c);
	buf_free(&s);
}

static void channel_open(struct fx *f, uint16_t ch)
{
	struct buf b = {0};
	amqp_channel_open_t o = {B("")};
	amqp_channel_open_ok_t ok = {B("")};

	add_method(&b, ch, AMQP_CHANNEL_OPEN_METHOD, &o);
	flush(f, TCP_DIR_C2S, &b);
	add_method(&b, ch, AMQP_CHANNEL_OPEN_OK_METHOD, &ok);
	flush(f, TCP_DIR_S2C, &b);
	buf_free(&b);
}

/* Index of the first entry whose request (else response) method is m, from `from` on. */
static size_t find(struct fx *f, const char *m, size_t from)
{
	size_t i;

	for (i = from; i < n_entries(f); i++) {
		const char *rm = sget(f, i, "request.method");

		if (!rm)
			rm = sget(f, i, "response.method");
		if (rm && !strcmp(rm, m))
			return i;
	}
	fail_msg("no entry %s from %zu", m, from);
	return 0;
}

/* ---- detection ---- */

static void test_detect(void **state)
{
	static const uint8_t method_frame[] = {1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xce};
	static const uint8_t heartbeat[] = {8, 0, 0, 0, 0, 0, 0, 0xce};
	static const uint8_t body_only[] = {3, 0, 1, 0, 0, 0, 2, 'h', 'i', 0xce};
	static const uint8_t body_then_method[] = {3, 0, 1, 0, 0, 0, 2,	 'h', 'i', 0xce, 1,   0,
						   1, 0, 0, 0, 5, 0, 20, 0,   10,  0,	 0xce};
	static const uint8_t method_cut[] = {1, 0, 1, 0, 0, 0, 40, 0, 60, 0, 40, 0, 0};
	static const uint8_t bad_end[] = {1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xcd};
	static const uint8_t unknown_method[] = {1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 99, 0, 0xce};
	static const uint8_t kafka[] = {0, 0, 0, 0x2a, 0, 0x12, 0, 3, 0, 0, 0, 1};
	static const uint8_t dns_tcp[] = {0, 0x1d, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0};
	static const uint8_t dns_tcp_long[] = {1, 0x1d, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0};
	static const uint8_t tls[] = {0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3};
	static const uint8_t amqp10[] = {'A', 'M', 'Q', 'P', 0, 1, 0, 0};
	static const struct {
		enum tcp_dir dir;
		const void *p;
		size_t n;
		enum detect_result want;
	} cases[] = {
	    {TCP_DIR_C2S, proto_hdr, 8, DETECT_YES},
	    {TCP_DIR_C2S, proto_hdr, 3, DETECT_MAYBE},
	    {TCP_DIR_C2S, "", 0, DETECT_MAYBE},
	    {TCP_DIR_S2C, proto_hdr, 8, DETECT_NO},
	    {TCP_DIR_C2S, amqp10, 8, DETECT_NO},
	    {TCP_DIR_C2S, method_frame, sizeof(method_frame), DETECT_YES},
	    {TCP_DIR_S2C, method_frame, sizeof(method_frame), DETECT_YES},
	    {TCP_DIR_C2S, method_frame, 5, DETECT_MAYBE},
	    {TCP_DIR_S2C, heartbeat, sizeof(heartbeat), DETECT_YES},
	    {TCP_DIR_C2S, body_only, sizeof(body_only), DETECT_MAYBE},
	    {TCP_DIR_C2S, body_then_method, sizeof(body_then_method), DETECT_YES},
	    {TCP_DIR_C2S, method_cut, sizeof(method_cut), DETECT_YES},
	    {TCP_DIR_C2S, bad_end, sizeof(bad_end), DETECT_NO},
	    {TCP_DIR_C2S, unknown_method, sizeof(unknown_method), DETECT_NO},
	    /* Other protocols' first bytes. */
	    {TCP_DIR_C2S, "GET / HTTP/1.1\r\n", 16, DETECT_NO},
	    {TCP_DIR_S2C, "HTTP/1.1 200 OK\r\n", 17, DETECT_NO},
	    {TCP_DIR_C2S, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, DETECT_NO},
	    {TCP_DIR_S2C, "\0\0\x12\x04\0\0\0\0\0", 9, DETECT_NO}, /* HTTP/2 SETTINGS */
	    {TCP_DIR_C2S, "*1\r\n$4\r\nPING\r\n", 14, DETECT_NO},
	    {TCP_DIR_S2C, "+PONG\r\n", 7, DETECT_NO},
	    {TCP_DIR_C2S, "PING\r\n", 6, DETECT_NO},
	    {TCP_DIR_C2S, kafka, sizeof(kafka), DETECT_NO},
	    {TCP_DIR_C2S, dns_tcp, sizeof(dns_tcp), DETECT_NO},
	    {TCP_DIR_C2S, dns_tcp_long, sizeof(dns_tcp_long), DETECT_NO},
	    {TCP_DIR_C2S, tls, sizeof(tls), DETECT_NO},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum detect_result r = dissector_amqp.detect(cases[i].dir, cases[i].p, cases[i].n);

		if (r != cases[i].want)
			fail_msg("case %zu: detect = %d, want %d", i, r, cases[i].want);
	}
	assert_string_equal(dissector_amqp.name, "amqp");
}

/* ---- the handshake ---- */

static void test_handshake(void **state)
{
	struct fx f;
	char line[1024];
	char *all;

	(void)state;
	fx_open(&f);
	handshake(&f);
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "protocol", "amqp");
	assert_str(&f, 0, "version", "0-9-1");
	assert_str(&f, 0, "request.method", "Connection.Start");
	assert_str(&f, 0, "request.sender", "server");
	assert_int_equal(iget(&f, 0, "request.channel"), 0);
	assert_int_equal(iget(&f, 0, "request.version_minor"), 9);
	assert_str(&f, 0, "request.server_properties.product", "RabbitMQ");
	assert_true(is_true(&f, 0, "request.server_properties.capabilities.publisher_confirms"));
	assert_str(&f, 0, "request.mechanisms", "PLAIN AMQPLAIN");
	assert_str(&f, 0, "response.method", "Connection.Start-Ok");
	assert_str(&f, 0, "response.sender", "client");
	assert_str(&f, 0, "response.mechanism", "PLAIN");
	assert_str(&f, 0, "response.user", "guest");
	assert_int_equal(iget(&f, 0, "response.response_size"), 13);
	/* The password is nowhere. */
	all = json_dumps(f.out, 0);
	assert_null(strstr(all, "s3cret"));
	free(all);
	/* src/dst are the client and the server whoever sent the request. */
	assert_str(&f, 0, "src.ip", "10.0.0.1");
	assert_int_equal(iget(&f, 0, "dst.port"), 5672);
	assert_str(&f, 1, "request.method", "Connection.Tune");
	assert_int_equal(iget(&f, 1, "response.frame_max"), 131072);
	assert_int_equal(iget(&f, 1, "response.heartbeat"), 60);
	assert_str(&f, 2, "request.method", "Connection.Open");
	assert_str(&f, 2, "request.virtual_host", "/prod");
	assert_str(&f, 2, "request.sender", "client");
	assert_str(&f, 2, "response.method", "Connection.Open-Ok");
	assert_int_equal(iget(&f, 2, "request_size"), 8 + 4 + 1 + 5 + 1 + 1);
	assert_true(has(&f, 2, "elapsed_ms"));
	assert_false(has(&f, 2, "missing"));
	assert_int_equal(counter(&f, "method_frames"), 6);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	{
		struct entry e = {0};

		e.protocol = "amqp";
		memcpy(e.version, "0-9-1", 6);
		e.fields = json_array_get(f.out, 2);
		entry_format_line(&e, line, sizeof(line));
		assert_non_null(strstr(line, "amqp/0-9-1"));
		assert_non_null(strstr(line, "Connection.Open vhost=/prod -> Connection.Open-Ok"));
	}
	fx_free(&f);
}

/* ---- synchronous pairs with flags and field tables ---- */

static void test_declare_bind_consume(void **state)
{
	struct fx f;
	struct buf c = {0}, s = {0};
	amqp_field_value_t arr[3] = {
	    {AMQP_FIELD_KIND_I32, {.i32 = -5}},
	    {AMQP_FIELD_KIND_UTF8, {.bytes = {2, "ab"}}},
	    {AMQP_FIELD_KIND_VOID, {0}},
	};
	amqp_table_entry_t inner[1] = {{B("deep"), {AMQP_FIELD_KIND_U64, {.u64 = 1ull << 40}}}};
	amqp_table_entry_t args[7] = {
	    {B("x-max-length"), {AMQP_FIELD_KIND_I64, {.i64 = 1000}}},
	    {B("x-queue-type"), {AMQP_FIELD_KIND_UTF8, {.bytes = {7, "classic"}}}},
	    {B("list"), {AMQP_FIELD_KIND_ARRAY, {.array = {3, arr}}}},
	    {B("nested"), {AMQP_FIELD_KIND_TABLE, {.table = {1, inner}}}},
	    {B("ratio"), {AMQP_FIELD_KIND_F64, {.f64 = 0.5}}},
	    {B("raw"), {AMQP_FIELD_KIND_BYTES, {.bytes = {3, "\x01\x02\x03"}}}},
	    {B("dec"), {AMQP_FIELD_KIND_DECIMAL, {.decimal = {2, 12345}}}},
	};
	amqp_queue_declare_t qd = {0, B("jobs"), 0, 1, 0, 0, 0, {7, args}};
	amqp_queue_declare_ok_t qdok = {B("jobs"), 3, 1};
	amqp_exchange_declare_t ed = {0, B("orders"), B("topic"), 0, 1, 0, 0, 0, {0, NULL}};
	amqp_exchange_declare_ok_t edok = {0};
	amqp_queue_bind_t qb = {0, B("jobs"), B("orders"), B("order.*"), 0, {0, NULL}};
	amqp_queue_bind_ok_t qbok = {0};
	amqp_basic_qos_t qos = {0, 10, 0};
	amqp_basic_qos_ok_t qosok = {0};
	amqp_basic_consume_t bc = {0, B("jobs"), B(""), 0, 0, 1, 0, {0, NULL}};
	amqp_basic_consume_ok_t bcok = {B("amq.ctag-1")};
	amqp_queue_declare_t nowait = {0, B("fire"), 0, 0, 0, 1, 1, {0, NULL}};
	size_t i;

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	add_method(&c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd);
	add_method(&c, 1, AMQP_QUEUE_DECLARE_METHOD, &nowait);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &qdok);
	flush(&f, TCP_DIR_S2C, &s);
	add_method(&c, 1, AMQP_EXCHANGE_DECLARE_METHOD, &ed);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_EXCHANGE_DECLARE_OK_METHOD, &edok);
	flush(&f, TCP_DIR_S2C, &s);
	add_method(&c, 1, AMQP_QUEUE_BIND_METHOD, &qb);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_QUEUE_BIND_OK_METHOD, &qbok);
	flush(&f, TCP_DIR_S2C, &s);
	add_method(&c, 1, AMQP_BASIC_QOS_METHOD, &qos);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_BASIC_QOS_OK_METHOD, &qosok);
	flush(&f, TCP_DIR_S2C, &s);
	add_method(&c, 1, AMQP_BASIC_CONSUME_METHOD, &bc);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_BASIC_CONSUME_OK_METHOD, &bcok);
	flush(&f, TCP_DIR_S2C, &s);

	/* The no-wait declare needs no answer: it is out at once, complete. */
	i = find(&f, "Queue.Declare", 4);
	assert_str(&f, i, "request.queue", "fire");
	assert_true(is_true(&f, i, "request.flags.no_wait"));
	assert_false(has(&f, i, "response"));
	assert_false(has(&f, i, "missing"));
	i = find(&f, "Queue.Declare", i + 1);
	assert_str(&f, i, "request.queue", "jobs");
	assert_int_equal(iget(&f, i, "request.channel"), 1);
	assert_true(is_true(&f, i, "request.flags.durable"));
	assert_false(is_true(&f, i, "request.flags.exclusive"));
	assert_int_equal(iget(&f, i, "request.arguments.x-max-length"), 1000);
	assert_str(&f, i, "request.arguments.x-queue-type", "classic");
	assert_int_equal(iget(&f, i, "request.arguments.list.0"), -5);
	assert_str(&f, i, "request.arguments.list.1", "ab");
	assert_true(json_is_null(jget(json_array_get(f.out, i), "request.arguments.list.2")));
	assert_int_equal(iget(&f, i, "request.arguments.nested.deep"), 1ll << 40);
	assert_true(json_real_value(jget(json_array_get(f.out, i), "request.arguments.ratio")) ==
		    0.5);
	assert_str(&f, i, "request.arguments.raw", "AQID");
	assert_true(json_real_value(jget(json_array_get(f.out, i), "request.arguments.dec")) ==
		    123.45);
	assert_str(&f, i, "response.method", "Queue.Declare-Ok");
	assert_int_equal(iget(&f, i, "response.message_count"), 3);
	assert_int_equal(iget(&f, i, "response.consumer_count"), 1);
	i = find(&f, "Exchange.Declare", 0);
	assert_str(&f, i, "request.exchange", "orders");
	assert_str(&f, i, "request.type", "topic");
	assert_str(&f, i, "response.method", "Exchange.Declare-Ok");
	i = find(&f, "Queue.Bind", 0);
	assert_str(&f, i, "request.exchange", "orders");
	assert_str(&f, i, "request.routing_key", "order.*");
	assert_str(&f, i, "response.method", "Queue.Bind-Ok");
	i = find(&f, "Basic.Qos", 0);
	assert_int_equal(iget(&f, i, "request.prefetch_count"), 10);
	i = find(&f, "Basic.Consume", 0);
	assert_true(is_true(&f, i, "request.flags.exclusive"));
	assert_str(&f, i, "response.consumer_tag", "amq.ctag-1");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	buf_free(&c);
	buf_free(&s);
	fx_free(&f);
}

/* ---- content ---- */

static char big[300000];

static void props_full(amqp_basic_properties_t *p, amqp_table_entry_t *hdr)
{
	memset(p, 0, sizeof(*p));
	p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG |
		    AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
		    AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
		    AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_PRIORITY_FLAG |
		    AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG |
		    AMQP_BASIC_CONTENT_ENCODING_FLAG;
	p->content_type = B("text/plain");
	p->content_encoding = B("utf-8");
	hdr[0] =
	    (amqp_table_entry_t){B("trace-id"), {AMQP_FIELD_KIND_UTF8, {.bytes = {4, "t-42"}}}};
	hdr[1] = (amqp_table_entry_t){B("retry"), {AMQP_FIELD_KIND_I32, {.i32 = 2}}};
	p->headers = (amqp_table_t){2, hdr};
	p->delivery_mode = 2;
	p->priority = 5;
	p->correlation_id = B("corr-1");
	p->reply_to = B("amq.rabbitmq.reply-to");
	p->expiration = B("60000");
	p->message_id = B("m-1");
	p->timestamp = 1700000000;
	p->type = B("order");
	p->user_id = B("guest");
	p->app_id = B("shop");
}

/* Publish a body of n bytes on ch in frames of `per`, fed in segments of `seg` bytes. */
static void publish(struct fx *f, uint16_t ch, const char *rk, const void *body, size_t n,
		    size_t per, size_t seg)
{
	struct buf c = {0};
	amqp_basic_publish_t pub = {0, B("orders"), B(rk), 1, 0};
	amqp_basic_properties_t pr;
	amqp_table_entry_t hdr[2];
	size_t off;

	props_full(&pr, hdr);
	add_method(&c, ch, AMQP_BASIC_PUBLISH_METHOD, &pub);
	add_header(&c, ch, n, &pr);
	add_body(&c, ch, body, n, per);
	for (off = 0; off < c.n; off += seg)
		send_n(f, TCP_DIR_C2S, c.p + off, c.n - off < seg ? c.n - off : seg);
	buf_free(&c);
}

static void check_publish(struct fx *f, size_t i, size_t n, size_t per)
{
	size_t frames = (n + per - 1) / per;

	if (!frames)
		frames = 1;
	assert_str(f, i, "request.method", "Basic.Publish");
	assert_str(f, i, "request.exchange", "orders");
	assert_true(is_true(f, i, "request.flags.mandatory"));
	assert_false(is_true(f, i, "request.flags.immediate"));
	assert_str(f, i, "request.properties.content_type", "text/plain");
	assert_str(f, i, "request.properties.content_encoding", "utf-8");
	assert_str(f, i, "request.properties.headers.trace-id", "t-42");
	assert_int_equal(iget(f, i, "request.properties.headers.retry"), 2);
	assert_int_equal(iget(f, i, "request.properties.delivery_mode"), 2);
	assert_int_equal(iget(f, i, "request.properties.priority"), 5);
	assert_str(f, i, "request.properties.correlation_id", "corr-1");
	assert_str(f, i, "request.properties.reply_to", "amq.rabbitmq.reply-to");
	assert_str(f, i, "request.properties.expiration", "60000");
	assert_str(f, i, "request.properties.message_id", "m-1");
	assert_int_equal(iget(f, i, "request.properties.timestamp"), 1700000000);
	assert_str(f, i, "request.properties.type", "order");
	assert_str(f, i, "request.properties.user_id", "guest");
	assert_str(f, i, "request.properties.app_id", "shop");
	assert_int_equal(iget(f, i, "request.body.size"), n);
	/* Method frame + header frame + body frames, each with 8 bytes of framing. */
	assert_true((size_t)iget(f, i, "request_size") >= n + frames * 8 + 16);
	assert_false(has(f, i, "response"));
	assert_false(has(f, i, "missing"));
}

static void test_publish_frames_and_segments(void **state)
{
	static const size_t sizes[] = {0, 1, 100, 4096, 131064, 250000};
	static const size_t pers[] = {131064, 4096, 1000};
	static const size_t segs[] = {1, 7, 1448, 65536, 1 << 20};
	size_t a, b, c;

	(void)state;
	for (a = 0; a < sizeof(big); a++)
		big[a] = (char)('a' + a % 26);
	for (a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
		for (b = 0; b < sizeof(pers) / sizeof(pers[0]); b++)
			for (c = 0; c < sizeof(segs) / sizeof(segs[0]); c++) {
				struct fx f;

				if (segs[c] == 1 && sizes[a] > 4096)
					continue; /* slow, and covered by 7 */
				fx_open(&f);
				handshake(&f);
				channel_open(&f, 1);
				publish(&f, 1, "new", big, sizes[a], pers[b], segs[c]);
				assert_int_equal(n_entries(&f), 5);
				check_publish(&f, 4, sizes[a], pers[b]);
				if (sizes[a] <= 64 * 1024) {
					const char *t = sget(&f, 4, "request.body.text");

					assert_non_null(t);
					assert_int_equal(strlen(t), sizes[a]);
					assert_memory_equal(t, big, sizes[a]);
					assert_false(is_true(&f, 4, "request.body.truncated"));
				} else {
					/* --body-max (64 KiB by default) keeps the start only. */
					assert_true(is_true(&f, 4, "request.body.truncated"));
					assert_int_equal(strlen(sget(&f, 4, "request.body.text")),
							 64 * 1024);
				}
				assert_int_equal(fx_stats(&f).parse_errors, 0);
				fx_free(&f);
			}
}

static void test_body_max_and_binary(void **state)
{
	struct dissect_config cfg = {.body_max = 10};
	struct fx f;
	uint8_t bin[40];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(0x80 + i);
	fx_open_cfg(&f, TCP_ROLE_SYN, &cfg);
	handshake(&f);
	channel_open(&f, 1);
	publish(&f, 1, "bin", bin, sizeof(bin), 16, 1000);
	assert_int_equal(iget(&f, 4, "request.body.size"), 40);
	assert_true(is_true(&f, 4, "request.body.truncated"));
	assert_str(&f, 4, "request.body.base64", "gIGCg4SFhoeIiQ==");
	fx_free(&f);
}

/* Two channels' contents, frame by frame interleaved, in one segment. */
static void test_interleaved_channels(void **state)
{
	struct fx f;
	struct buf c = {0};
	amqp_basic_publish_t p1 = {0, B("ex"), B("one"), 0, 0};
	amqp_basic_publish_t p2 = {0, B("ex"), B("two"), 0, 0};

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	channel_open(&f, 2);
	add_method(&c, 1, AMQP_BASIC_PUBLISH_METHOD, &p1);
	add_method(&c, 2, AMQP_BASIC_PUBLISH_METHOD, &p2);
	add_header(&c, 2, 6, NULL);
	add_header(&c, 1, 6, NULL);
	add_raw(&c, 3, 1, "AAA", 3);
	add_raw(&c, 3, 2, "bbb", 3);
	add_raw(&c, 8, 0, NULL, 0); /* a heartbeat in between */
	add_raw(&c, 3, 2, "BBB", 3);
	add_raw(&c, 3, 1, "aaa", 3);
	flush(&f, TCP_DIR_C2S, &c);
	assert_int_equal(n_entries(&f), 7);
	assert_str(&f, 5, "request.routing_key", "two");
	assert_str(&f, 5, "request.body.text", "bbbBBB");
	assert_int_equal(iget(&f, 5, "request.channel"), 2);
	assert_str(&f, 6, "request.routing_key", "one");
	assert_str(&f, 6, "request.body.text", "AAAaaa");
	assert_int_equal(counter(&f, "heartbeats"), 1);
	assert_int_equal(counter(&f, "header_frames"), 2);
	assert_int_equal(counter(&f, "body_frames"), 4);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	buf_free(&c);
	fx_free(&f);
}

/* ---- publisher confirms ---- */

static void test_confirms(void **state)
{
	struct fx f;
	struct buf s = {0}, c = {0};
	amqp_confirm_select_t sel = {0};
	amqp_confirm_select_ok_t selok = {0};
	amqp_basic_ack_t ack = {2, 1};
	amqp_basic_nack_t nack = {3, 0, 0};
	amqp_basic_ack_t ack_late = {1, 0};
	int i;

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	add_method(&c, 1, AMQP_CONFIRM_SELECT_METHOD, &sel);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_CONFIRM_SELECT_OK_METHOD, &selok);
	flush(&f, TCP_DIR_S2C, &s);
	assert_str(&f, 4, "request.method", "Confirm.Select");
	assert_str(&f, 4, "response.method", "Confirm.Select-Ok");
	for (i = 0; i < 3; i++)
		publish(&f, 1, "c", "x", 1, 100, 1000);
	/* Held until the broker confirms. */
	assert_int_equal(n_entries(&f), 5);
	add_method(&s, 1, AMQP_BASIC_ACK_METHOD, &ack);
	flush(&f, TCP_DIR_S2C, &s);
	assert_int_equal(n_entries(&f), 7);
	for (i = 5; i < 7; i++) {
		assert_str(&f, i, "request.method", "Basic.Publish");
		assert_int_equal(iget(&f, i, "request.publish_seq"), i - 4);
		assert_str(&f, i, "response.method", "Basic.Ack");
		assert_str(&f, i, "response.sender", "server");
		assert_int_equal(iget(&f, i, "response.delivery_tag"), 2);
		assert_true(is_true(&f, i, "response.flags.multiple"));
		assert_false(has(&f, i, "missing"));
	}
	add_method(&s, 1, AMQP_BASIC_NACK_METHOD, &nack);
	flush(&f, TCP_DIR_S2C, &s);
	assert_int_equal(n_entries(&f), 8);
	assert_int_equal(iget(&f, 7, "request.publish_seq"), 3);
	assert_str(&f, 7, "response.method", "Basic.Nack");
	/* An ack for something never seen is an entry of its own, missing its request. */
	ack_late.delivery_tag = 99;
	add_method(&s, 1, AMQP_BASIC_ACK_METHOD, &ack_late);
	flush(&f, TCP_DIR_S2C, &s);
	assert_int_equal(n_entries(&f), 9);
	assert_str(&f, 8, "response.method", "Basic.Ack");
	assert_str(&f, 8, "missing", "request");
	buf_free(&s);
	buf_free(&c);
	fx_free(&f);
}

/* ---- consumers: deliveries, acks, gets ---- */

static void deliver(struct fx *f, uint16_t ch, const char *ctag, uint64_t tag, const char *body)
{
	struct buf s = {0};
	amqp_basic_deliver_t d = {B(ctag), tag, 0, B("orders"), B("order.new")};
	amqp_basic_properties_t pr = {0};

	pr._flags = AMQP_BASIC_CONTENT_TYPE_FLAG;
	pr.content_type = B("application/json");
	add_method(&s, ch, AMQP_BASIC_DELIVER_METHOD, &d);
	add_header(&s, ch, strlen(body), &pr);
	add_body(&s, ch, body, strlen(body), 1000);
	flush(f, TCP_DIR_S2C, &s);
	buf_free(&s);
}

static void consume(struct fx *f, uint16_t ch, const char *ctag, bool no_ack)
{
	struct buf b = {0};
	amqp_basic_consume_t bc = {0, B("jobs"), B(""), 0, no_ack, 0, 0, {0, NULL}};
	amqp_basic_consume_ok_t ok = {B(ctag)};

	add_method(&b, ch, AMQP_BASIC_CONSUME_METHOD, &bc);
	flush(f, TCP_DIR_C2S, &b);
	add_method(&b, ch, AMQP_BASIC_CONSUME_OK_METHOD, &ok);
	flush(f, TCP_DIR_S2C, &b);
	buf_free(&b);
}

static void test_deliver_and_acks(void **state)
{
	struct fx f;
	struct buf c = {0};
	amqp_basic_ack_t ack = {2, 1};
	amqp_basic_reject_t rej = {3, 1};
	amqp_basic_nack_t nack = {4, 0, 0};
	size_t i;

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	channel_open(&f, 2);
	consume(&f, 1, "manual", false);
	consume(&f, 2, "auto", true);
	assert_int_equal(n_entries(&f), 7);
	/* An auto-ack consumer's deliveries have no response to wait for. */
	deliver(&f, 2, "auto", 1, "{\"a\":1}");
	assert_int_equal(n_entries(&f), 8);
	assert_str(&f, 7, "request.method", "Basic.Deliver");
	assert_str(&f, 7, "request.sender", "server");
	assert_str(&f, 7, "request.consumer_tag", "auto");
	assert_str(&f, 7, "request.body.text", "{\"a\":1}");
	assert_str(&f, 7, "request.properties.content_type", "application/json");
	assert_false(has(&f, 7, "missing"));
	/* A manual consumer's wait for their settlement. */
	for (i = 1; i <= 4; i++)
		deliver(&f, 1, "manual", i, "job");
	assert_int_equal(n_entries(&f), 8);
	add_method(&c, 1, AMQP_BASIC_ACK_METHOD, &ack);
	flush(&f, TCP_DIR_C2S, &c);
	assert_int_equal(n_entries(&f), 10);
	for (i = 8; i < 10; i++) {
		assert_int_equal(iget(&f, i, "request.delivery_tag"), i - 7);
		assert_str(&f, i, "request.routing_key", "order.new");
		assert_str(&f, i, "response.method", "Basic.Ack");
		assert_str(&f, i, "response.sender", "client");
		assert_true(has(&f, i, "elapsed_ms"));
	}
	add_method(&c, 1, AMQP_BASIC_REJECT_METHOD, &rej);
	add_method(&c, 1, AMQP_BASIC_NACK_METHOD, &nack);
	flush(&f, TCP_DIR_C2S, &c);
	assert_int_equal(n_entries(&f), 12);
	assert_str(&f, 10, "response.method", "Basic.Reject");
	assert_true(is_true(&f, 10, "response.flags.requeue"));
	assert_str(&f, 11, "response.method", "Basic.Nack");
	assert_int_equal(iget(&f, 11, "request.delivery_tag"), 4);
	/* One left unacked: out at the end, missing its response. */
	deliver(&f, 1, "manual", 5, "last");
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 13);
	assert_str(&f, 12, "missing", "response");
	assert_str(&f, 12, "missing_reason", "connection_reset");
	buf_free(&c);
	fx_free(&f);
}

static void test_get(void **state)
{
	struct fx f;
	struct buf b = {0};
	amqp_basic_get_t get = {0, B("jobs"), 0};
	amqp_basic_get_t get_noack = {0, B("jobs"), 1};
	amqp_basic_get_ok_t ok = {7, 1, B(""), B("jobs"), 2};
	amqp_basic_get_empty_t empty = {B("")};
	amqp_basic_ack_t ack = {7, 0};

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	add_method(&b, 1, AMQP_BASIC_GET_METHOD, &get);
	flush(&f, TCP_DIR_C2S, &b);
	add_method(&b, 1, AMQP_BASIC_GET_OK_METHOD, &ok);
	add_header(&b, 1, 5, NULL);
	add_raw(&b, 3, 1, "hello", 5);
	flush(&f, TCP_DIR_S2C, &b);
	/* Held for its settlement. */
	assert_int_equal(n_entries(&f), 4);
	add_method(&b, 1, AMQP_BASIC_ACK_METHOD, &ack);
	flush(&f, TCP_DIR_C2S, &b);
	assert_int_equal(n_entries(&f), 5);
	assert_str(&f, 4, "request.method", "Basic.Get");
	assert_str(&f, 4, "request.queue", "jobs");
	assert_str(&f, 4, "response.method", "Basic.Get-Ok");
	assert_int_equal(iget(&f, 4, "response.delivery_tag"), 7);
	assert_true(is_true(&f, 4, "response.flags.redelivered"));
	assert_int_equal(iget(&f, 4, "response.message_count"), 2);
	assert_str(&f, 4, "response.body.text", "hello");
	assert_str(&f, 4, "ack.method", "Basic.Ack");
	assert_true(has(&f, 4, "ack.time"));
	assert_int_equal(iget(&f, 4, "response_size"),
			 (8 + 4 + 8 + 1 + 1 + 5 + 4) + (8 + 14) + (8 + 5));
	add_method(&b, 1, AMQP_BASIC_GET_METHOD, &get_noack);
	flush(&f, TCP_DIR_C2S, &b);
	add_method(&b, 1, AMQP_BASIC_GET_EMPTY_METHOD, &empty);
	flush(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 6);
	assert_str(&f, 5, "response.method", "Basic.Get-Empty");
	assert_true(is_true(&f, 5, "request.flags.no_ack"));
	buf_free(&b);
	fx_free(&f);
}

/* ---- errors ---- */

static void test_channel_close_error(void **state)
{
	struct fx f;
	struct buf b = {0};
	amqp_exchange_declare_t ed = {0, B("x1"), B("topic"), 0, 0, 0, 0, 0, {0, NULL}};
	amqp_channel_close_t cl = {406, B("PRECONDITION_FAILED - inequivalent arg 'type'"), 40, 10};
	amqp_channel_close_ok_t clok = {0};
	size_t i;

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	add_method(&b, 1, AMQP_EXCHANGE_DECLARE_METHOD, &ed);
	flush(&f, TCP_DIR_C2S, &b);
	add_method(&b, 1, AMQP_CHANNEL_CLOSE_METHOD, &cl);
	flush(&f, TCP_DIR_S2C, &b);
	add_method(&b, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &clok);
	flush(&f, TCP_DIR_C2S, &b);
	assert_int_equal(n_entries(&f), 6);
	i = find(&f, "Exchange.Declare", 0);
	assert_str(&f, i, "response.method", "Channel.Close");
	assert_int_equal(iget(&f, i, "response.reply_code"), 406);
	assert_str(&f, i, "response.reply_name", "PRECONDITION_FAILED");
	assert_str(&f, i, "response.failed_method", "Exchange.Declare");
	assert_false(has(&f, i, "missing"));
	i = find(&f, "Channel.Close", 0);
	assert_str(&f, i, "request.sender", "server");
	assert_int_equal(iget(&f, i, "request.class_id"), 40);
	assert_int_equal(iget(&f, i, "request.method_id"), 10);
	assert_str(&f, i, "request.reply_text", "PRECONDITION_FAILED - inequivalent arg 'type'");
	assert_str(&f, i, "response.method", "Channel.Close-Ok");
	/* The response is a copy: the error entry's response has no request fields mixed in. */
	assert_str(&f, find(&f, "Exchange.Declare", 0), "response.sender", "server");
	buf_free(&b);
	fx_free(&f);
}

static void test_connection_close_error(void **state)
{
	struct fx f;
	struct buf c = {0}, s = {0};
	amqp_connection_open_t open = {B("/bad"), B(""), 0};
	amqp_connection_close_t cl = {530, B("NOT_ALLOWED - vhost /bad not found"), 10, 40};

	(void)state;
	fx_open(&f);
	add_bytes(&c, proto_hdr, 8);
	add_method(&c, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 0, AMQP_CONNECTION_CLOSE_METHOD, &cl);
	flush(&f, TCP_DIR_S2C, &s);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "request.method", "Connection.Open");
	assert_str(&f, 0, "response.method", "Connection.Close");
	assert_int_equal(iget(&f, 0, "response.reply_code"), 530);
	assert_str(&f, 0, "response.failed_method", "Connection.Open");
	assert_str(&f, 1, "request.method", "Connection.Close");
	assert_str(&f, 1, "missing", "response");
	assert_str(&f, 1, "missing_reason", "connection_closed");
	buf_free(&c);
	buf_free(&s);
	fx_free(&f);
}

static void test_return_and_async(void **state)
{
	struct fx f;
	struct buf s = {0}, c = {0};
	amqp_basic_return_t r = {312, B("NO_ROUTE"), B("orders"), B("nowhere")};
	amqp_connection_blocked_t bl = {B("low on memory")};
	amqp_basic_recover_async_t rec = {1};

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	publish(&f, 1, "nowhere", "lost", 4, 100, 1000);
	add_method(&s, 1, AMQP_BASIC_RETURN_METHOD, &r);
	add_header(&s, 1, 4, NULL);
	add_raw(&s, 3, 1, "lost", 4);
	add_method(&s, 0, AMQP_CONNECTION_BLOCKED_METHOD, &bl);
	flush(&f, TCP_DIR_S2C, &s);
	add_method(&c, 1, AMQP_BASIC_RECOVER_ASYNC_METHOD, &rec);
	flush(&f, TCP_DIR_C2S, &c);
	assert_int_equal(n_entries(&f), 8);
	assert_str(&f, 5, "request.method", "Basic.Return");
	assert_str(&f, 5, "request.sender", "server");
	assert_int_equal(iget(&f, 5, "request.reply_code"), 312);
	assert_str(&f, 5, "request.reply_name", "NO_ROUTE");
	assert_str(&f, 5, "request.routing_key", "nowhere");
	assert_str(&f, 5, "request.body.text", "lost");
	assert_str(&f, 6, "request.method", "Connection.Blocked");
	assert_str(&f, 6, "request.reason", "low on memory");
	assert_str(&f, 7, "request.method", "Basic.Recover-Async");
	assert_true(is_true(&f, 7, "request.flags.requeue"));
	assert_false(has(&f, 7, "missing"));
	buf_free(&s);
	buf_free(&c);
	fx_free(&f);
}

static void test_protocol_refused(void **state)
{
	struct fx f;
	static const uint8_t hdr091_old[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};

	(void)state;
	fx_open(&f);
	send_n(&f, TCP_DIR_C2S, proto_hdr, 8);
	send_n(&f, TCP_DIR_S2C, hdr091_old, 8);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.method", "Protocol-Header");
	assert_str(&f, 0, "response.protocol_version", "0-9-1");
	fx_free(&f);
}

/* ---- mid-stream, gaps, connection ends ---- */

/* Joined mid-stream (no handshake), and the engine took the server for the client: the
 * first one-sided method sets it right. */
static void test_midstream_and_side(void **state)
{
	struct fx f;
	struct buf b = {0};
	amqp_basic_deliver_t d = {B("c1"), 9, 0, B("ex"), B("rk")};
	amqp_basic_ack_t ack = {9, 0};

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_PORT, NULL);
	/* The tail of a body frame first: dropped by detection, then a gap. */
	add_bytes(&b, "tail of a body", 14);
	add_bytes(&b, "\xce", 1);
	send_n(&f, TCP_DIR_C2S, b.p, b.n);
	b.n = 0;
	/* The engine's client (C2S) is the AMQP server here. */
	add_method(&b, 1, AMQP_BASIC_DELIVER_METHOD, &d);
	add_header(&b, 1, 2, NULL);
	add_raw(&b, 3, 1, "hi", 2);
	flush(&f, TCP_DIR_C2S, &b);
	add_method(&b, 1, AMQP_BASIC_ACK_METHOD, &ack);
	flush(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.method", "Basic.Deliver");
	assert_str(&f, 0, "request.sender", "server");
	assert_str(&f, 0, "response.method", "Basic.Ack");
	/* Swapped: src is the consumer (the engine's server end, port 5672 here). */
	assert_int_equal(iget(&f, 0, "src.port"), 5672);
	assert_int_equal(iget(&f, 0, "dst.port"), 40000);
	buf_free(&b);
	fx_free(&f);
}

static void test_gap_in_body_and_resync(void **state)
{
	struct fx f;
	struct buf c = {0}, s = {0};
	amqp_basic_publish_t pub = {0, B("ex"), B("rk"), 0, 0};
	amqp_queue_declare_t qd = {0, B("q"), 0, 0, 0, 0, 0, {0, NULL}};
	amqp_queue_declare_ok_t qdok = {B("q"), 0, 0};
	size_t i;

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	/* A hole inside a body frame: only body bytes are missing, framing stays in step. */
	add_method(&c, 1, AMQP_BASIC_PUBLISH_METHOD, &pub);
	add_header(&c, 1, 100, NULL);
	add_bytes(&c, "\x03\x00\x01\x00\x00\x00\x64", 7);
	add_bytes(&c, big, 30);
	flush(&f, TCP_DIR_C2S, &c);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_C2S, 40, f.ts);
	add_bytes(&c, big + 70, 30);
	add_bytes(&c, "\xce", 1);
	flush(&f, TCP_DIR_C2S, &c);
	assert_int_equal(n_entries(&f), 5);
	assert_int_equal(iget(&f, 4, "request.body.size"), 100);
	assert_int_equal(iget(&f, 4, "request.body.gap_bytes"), 40);
	assert_true(is_true(&f, 4, "request.body.truncated"));
	assert_false(has(&f, 4, "missing"));
	/*
	 * A hole across frames: the stream resynchronises. The reply the hole began in is lost;
	 * the client sent its next sync request on the channel after it (AMQP 0-9-1 2.3.5.1: one
	 * at a time), so the Declare-Ok after the hole answers the second Declare and the first
	 * is emitted without its reply.
	 */
	add_method(&c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd);
	flush(&f, TCP_DIR_C2S, &c);
	add_method(&s, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &qdok);
	send_n(&f, TCP_DIR_S2C, s.p, 5);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_S2C, 100, f.ts);
	add_method(&c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd);
	flush(&f, TCP_DIR_C2S, &c);
	s.n = 0;
	add_bytes(&s, "garbage\x01\x02", 9);
	add_method(&s, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &qdok);
	flush(&f, TCP_DIR_S2C, &s);
	i = find(&f, "Queue.Declare", 0);
	assert_str(&f, i, "missing", "response");
	assert_str(&f, i, "missing_reason", "capture_gap");
	i = find(&f, "Queue.Declare", i + 1);
	assert_false(has(&f, i, "missing"));
	assert_str(&f, i, "response.method", "Queue.Declare-Ok");
	assert_str(&f, i, "response.queue", "q");
	assert_int_equal(counter(&f, "resyncs"), 1);
	buf_free(&c);
	buf_free(&s);
	fx_free(&f);
}

static void test_close_cuts_content(void **state)
{
	struct fx f;
	struct buf c = {0};
	amqp_basic_publish_t pub = {0, B("ex"), B("rk"), 0, 0};
	amqp_queue_delete_t del = {0, B("q"), 0, 0, 0};

	(void)state;
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	add_method(&c, 1, AMQP_QUEUE_DELETE_METHOD, &del);
	add_method(&c, 1, AMQP_BASIC_PUBLISH_METHOD, &pub);
	add_header(&c, 1, 10, NULL);
	add_raw(&c, 3, 1, "12345", 5);
	flush(&f, TCP_DIR_C2S, &c);
	fx_close(&f, TCP_CLOSE_END_OF_INPUT);
	assert_int_equal(n_entries(&f), 6);
	assert_str(&f, 4, "request.method", "Basic.Publish");
	assert_str(&f, 4, "missing", "request");
	assert_str(&f, 4, "missing_reason", "end_of_capture");
	assert_int_equal(iget(&f, 4, "request.body.size"), 5);
	assert_int_equal(iget(&f, 4, "request.body.expected_size"), 10);
	assert_true(is_true(&f, 4, "request.body.truncated"));
	assert_str(&f, 5, "request.method", "Queue.Delete");
	assert_str(&f, 5, "missing", "response");
	buf_free(&c);
	fx_free(&f);
}

/* ---- bounds and hostile input ---- */

static void test_bounds(void **state)
{
	struct fx f;
	struct buf b = {0};
	amqp_basic_publish_t pub = {0, B("ex"), B("rk"), 0, 0};
	amqp_tx_select_t tx = {0};
	unsigned i;
	size_t k, n;

	(void)state;
	/* Channels past AMQP_CHANNELS_MAX: the least recently used go. */
	fx_open(&f);
	handshake(&f);
	for (i = 1; i <= AMQP_CHANNELS_MAX + 10; i++) {
		add_method(&b, (uint16_t)i, AMQP_BASIC_PUBLISH_METHOD, &pub);
		add_header(&b, (uint16_t)i, 4, NULL);
	}
	flush(&f, TCP_DIR_C2S, &b);
	/* Channel 0 (the handshake's) is the least recently used: it goes first. */
	assert_int_equal(counter(&f, "channels_evicted"), 11);
	assert_int_equal(n_entries(&f), 3 + 10);
	assert_str(&f, 3, "missing", "request");
	assert_str(&f, 3, "missing_reason", "too_many_pending");
	fx_free(&f);

	/* Unacked deliveries past AMQP_HELD_MAX: the oldest go without their ack; a later ack
	 * for them makes no entry. */
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	consume(&f, 1, "m", false);
	for (i = 1; i <= AMQP_HELD_MAX + 5; i++)
		deliver(&f, 1, "m", i, "x");
	n = n_entries(&f);
	assert_int_equal(n, 5 + 5);
	for (k = 5; k < n; k++)
		assert_str(&f, k, "missing_reason", "too_many_pending");
	{
		amqp_basic_ack_t all = {AMQP_HELD_MAX + 5, 1};

		add_method(&b, 1, AMQP_BASIC_ACK_METHOD, &all);
		flush(&f, TCP_DIR_C2S, &b);
	}
	assert_int_equal(n_entries(&f), n + AMQP_HELD_MAX);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), n + AMQP_HELD_MAX);
	fx_free(&f);

	/* Held bodies past AMQP_HELD_BYTES_MAX: 64 KiB each, so far fewer than AMQP_HELD_MAX
	 * wait. */
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	consume(&f, 1, "m", false);
	for (k = 0; k < 64 * 1024; k++)
		big[k] = (char)('a' + k % 26);
	big[64 * 1024] = 0;
	for (i = 1; i <= AMQP_HELD_BYTES_MAX / (64 * 1024) + 3; i++)
		deliver(&f, 1, "m", i, big);
	big[64 * 1024] = 'x';
	assert_int_equal(n_entries(&f), 5 + 3);
	assert_str(&f, 5, "missing_reason", "too_many_pending");
	assert_int_equal(iget(&f, 5, "request.delivery_tag"), 1);
	fx_free(&f);

	/* Synchronous requests past AMQP_SYNC_PENDING_MAX on a channel. */
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	for (i = 0; i < AMQP_SYNC_PENDING_MAX + 3; i++)
		add_method(&b, 1, AMQP_TX_SELECT_METHOD, &tx);
	flush(&f, TCP_DIR_C2S, &b);
	assert_int_equal(n_entries(&f), 4 + 3);
	assert_str(&f, 4, "missing_reason", "too_many_pending");
	fx_free(&f);
	buf_free(&b);
}

/* A Queue.Declare whose arguments nest tables `depth` deep (built by hand). */
static void nested_declare(struct buf *b, unsigned depth)
{
	size_t tsize = (size_t)depth * 6 + 4, n = 4 + 2 + 3 + 1 + tsize, i;
	uint8_t *pl = malloc(n), *p = pl;

	assert_non_null(pl);
	p = put32(p, AMQP_QUEUE_DECLARE_METHOD);
	p = put16(p, 0);
	*p++ = 2;
	memcpy(p, "qq", 2);
	p += 2;
	*p++ = 0;
	for (i = 0; i < depth; i++) {
		p = put32(p, (uint32_t)(tsize - i * 6 - 4));
		*p++ = 0;
		*p++ = 'F';
	}
	p = put32(p, 0);
	assert_int_equal((size_t)(p - pl), n);
	add_raw(b, 1, 1, pl, n);
	free(pl);
}

static void test_hostile(void **state)
{
	struct fx f;
	struct buf b = {0};
	amqp_queue_declare_ok_t ok = {B("qq"), 0, 0};
	uint8_t huge[7] = {1, 0, 1, 0x7f, 0xff, 0xff, 0xff};
	uint8_t props[16];
	size_t i;

	(void)state;
	/* Tables nested past the bound never reach librabbitmq (it would recurse 100000
	 * deep); a shallow nest is decoded. */
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	nested_declare(&b, 20000);
	flush(&f, TCP_DIR_C2S, &b);
	add_method(&b, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &ok);
	flush(&f, TCP_DIR_S2C, &b);
	nested_declare(&b, AMQP_TABLE_DEPTH_MAX);
	flush(&f, TCP_DIR_C2S, &b);
	add_method(&b, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &ok);
	flush(&f, TCP_DIR_S2C, &b);
	assert_int_equal(n_entries(&f), 6);
	assert_str(&f, 4, "request.method", "Queue.Declare");
	assert_true(has(&f, 4, "request.decode_error"));
	assert_str(&f, 4, "response.method", "Queue.Declare-Ok");
	assert_false(has(&f, 5, "request.decode_error"));
	assert_str(&f, 5, "request.queue", "qq");
	assert_true(counter(&f, "decode_errors") >= 1);
	fx_free(&f);

	/* Properties with a continuation flag word; a huge frame size; a bad frame end; an
	 * unknown frame type; a body without a method. None crashes, all are counted, the
	 * stream goes on. */
	fx_open(&f);
	handshake(&f);
	channel_open(&f, 1);
	{
		amqp_basic_publish_t pub = {0, B("ex"), B("rk"), 0, 0};

		add_method(&b, 1, AMQP_BASIC_PUBLISH_METHOD, &pub);
	}
	put16(props, 60);
	put16(props + 2, 0);
	put64(props + 4, 0);
	put16(props + 12, 0xffff);
	put16(props + 14, 0xffff);
	add_raw(&b, 2, 1, props, sizeof(props));
	add_raw(&b, 3, 1, "orphan", 6);
	add_raw(&b, 9, 1, "??", 2);
	{
		amqp_tx_select_t tx = {0};

		add_method(&b, 1, AMQP_TX_SELECT_METHOD, &tx);
		add_bytes(&b, huge, sizeof(huge));
		add_bytes(&b, "\x01\x00\x01\x00\x00\x00\x05\x00\x14\x00\x0a\x00\xcd", 13);
		add_method(&b, 1, AMQP_TX_SELECT_METHOD, &tx);
	}
	flush(&f, TCP_DIR_C2S, &b);
	assert_true(has(&f, 4, "request.properties_error"));
	assert_int_equal(iget(&f, 4, "request.body.size"), 0);
	i = find(&f, "Basic.Publish", 0);
	assert_int_equal(i, 4);
	assert_true(counter(&f, "frame_errors") >= 2);
	assert_true(counter(&f, "orphan_frames") >= 1);
	assert_true(fx_stats(&f).parse_errors >= 2);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_str(&f, n_entries(&f) - 1, "request.method", "Tx.Select");
	fx_free(&f);

	/* A method frame above AMQP_DECODE_MAX (frame_max not known) is skipped, not
	 * buffered, and reported. */
	fx_open(&f);
	send_n(&f, TCP_DIR_C2S, proto_hdr, 8);
	{
		size_t n = AMQP_DECODE_MAX + 1000;
		uint8_t *pl = calloc(1, n);
		amqp_tx_select_t tx = {0};

		put32(pl, AMQP_QUEUE_DECLARE_METHOD);
		add_raw(&b, 1, 1, pl, n);
		free(pl);
		add_method(&b, 1, AMQP_TX_SELECT_METHOD, &tx);
	}
	for (i = 0; i < b.n; i += 1448)
		send_n(&f, TCP_DIR_C2S, b.p + i, b.n - i < 1448 ? b.n - i : 1448);
	b.n = 0;
	fx_close(&f, TCP_CLOSE_FIN);
	i = find(&f, "Queue.Declare", 0);
	assert_str(&f, i, "request.decode_error", "frame too large to decode");
	find(&f, "Tx.Select", 0);
	assert_int_equal(fx_stats(&f).buffer_overflows, 0);
	fx_free(&f);

	/* Garbage after detection: resynchronised, never a crash. */
	fx_open(&f);
	send_n(&f, TCP_DIR_C2S, proto_hdr, 8);
	for (i = 0; i < 5000; i++)
		big[i] = (char)(i * 7919 % 251);
	send_n(&f, TCP_DIR_C2S, big, 5000);
	send_n(&f, TCP_DIR_S2C, big + 100, 4000);
	fx_free(&f);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_handshake),
	    cmocka_unit_test(test_declare_bind_consume),
	    cmocka_unit_test(test_publish_frames_and_segments),
	    cmocka_unit_test(test_body_max_and_binary),
	    cmocka_unit_test(test_interleaved_channels),
	    cmocka_unit_test(test_confirms),
	    cmocka_unit_test(test_deliver_and_acks),
	    cmocka_unit_test(test_get),
	    cmocka_unit_test(test_channel_close_error),
	    cmocka_unit_test(test_connection_close_error),
	    cmocka_unit_test(test_return_and_async),
	    cmocka_unit_test(test_protocol_refused),
	    cmocka_unit_test(test_midstream_and_side),
	    cmocka_unit_test(test_gap_in_body_and_resync),
	    cmocka_unit_test(test_close_cuts_content),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
