// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the Redis dissector (dissect/redis.c) through the engine's byte-stream
 * interface: detection (and not stealing other protocols), commands (arrays and inline),
 * keys and redaction, every RESP2/RESP3 reply type, pipelining, MULTI/EXEC, pub/sub (RESP2
 * arrays and RESP3 pushes), MONITOR, CLIENT REPLY, large bulk strings streamed in pieces,
 * gaps, resynchronisation, connection ends, bounds and hostile input.
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

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/redis.h"
#include "entry/entry_filter.h"
#include "test_json_path.h"

struct fx {
	struct dissect_engine *eng;
	struct conn *c;
	json_t *out; /* entries as JSON, in emission order */
	char lines[64][512];
	unsigned nlines;
	uint64_t ts;
};

static void collect(void *ctx, const struct entry *e)
{
	struct fx *f = ctx;

	json_array_append_new(f->out, entry_to_json(e));
	if (f->nlines < 64)
		entry_format_line(e, f->lines[f->nlines++], sizeof(f->lines[0]));
}

static void fx_open_cfg(struct fx *f, enum tcp_role role, const struct dissect_config *cfg)
{
	struct tcp_flow_info info = {.id = 1, .family = AF_INET, .role = role};

	memset(f, 0, sizeof(*f));
	info.client.port = 40000;
	info.server.port = 6379;
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

static void c2s(struct fx *f, const char *s)
{
	send_n(f, TCP_DIR_C2S, s, strlen(s));
}

static void s2c(struct fx *f, const char *s)
{
	send_n(f, TCP_DIR_S2C, s, strlen(s));
}

/* A command as a RESP array of bulk strings. */
static void cmd(struct fx *f, int n, ...)
{
	char buf[8192];
	size_t off;
	va_list ap;
	int i;

	off = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *a = va_arg(ap, const char *);

		off +=
		    (size_t)snprintf(buf + off, sizeof(buf) - off, "$%zu\r\n%s\r\n", strlen(a), a);
	}
	va_end(ap);
	assert_true(off < sizeof(buf));
	send_n(f, TCP_DIR_C2S, buf, off);
}

static void gap(struct fx *f, enum tcp_dir dir, uint64_t n)
{
	dissect_stream_gap(f->eng, f->c, dir, n, f->ts);
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

static uint64_t counter(struct fx *f, enum redis_counter idx)
{
	struct dissect_stats st;
	unsigned p;

	dissect_engine_get_stats(f->eng, &st);
	for (p = 0; dissect_protocol_name(p); p++)
		if (!strcmp(dissect_protocol_name(p), "redis"))
			return st.counters[p][idx];
	fail_msg("redis is not registered");
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

static json_t *get(struct fx *f, size_t i, const char *path)
{
	return jget(json_array_get(f->out, i), path);
}

static const char *sget(struct fx *f, size_t i, const char *path)
{
	return json_string_value(get(f, i, path));
}

static long long iget(struct fx *f, size_t i, const char *path)
{
	json_t *v = get(f, i, path);

	if (!json_is_integer(v))
		fail_msg("entry %zu %s: not an integer", i, path);
	return json_integer_value(v);
}

static bool has(struct fx *f, size_t i, const char *path)
{
	return get(f, i, path) != NULL;
}

#define assert_str(f, i, path, want)                                                               \
	do {                                                                                       \
		const char *got_ = sget(f, i, path);                                               \
		if (!got_ || strcmp(got_, want))                                                   \
			fail_msg("entry %zu %s: got \"%s\", want \"%s\"", (size_t)(i), path,       \
				 got_ ? got_ : "(none)", want);                                    \
	} while (0)

/* The JSON text of a value, compact and sorted, compared with want. */
#define assert_json(f, i, path, want)                                                              \
	do {                                                                                       \
		char *got_ =                                                                       \
		    json_dumps(get(f, i, path), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);  \
		if (!got_ || strcmp(got_, want))                                                   \
			fail_msg("entry %zu %s: got %s, want %s", (size_t)(i), path,               \
				 got_ ? got_ : "(none)", want);                                    \
		free(got_);                                                                        \
	} while (0)

/* ---- detection ---- */

static void test_detect(void **state)
{
	static const struct {
		enum tcp_dir dir;
		const char *s;
		size_t n; /* 0: strlen */
		enum detect_result want;
	} cases[] = {
	    {TCP_DIR_C2S, "*1\r\n$4\r\nPING\r\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "*2\r\n$3\r\n", 0, DETECT_MAYBE},
	    {TCP_DIR_C2S, "*2", 0, DETECT_MAYBE},
	    {TCP_DIR_C2S, "", 0, DETECT_MAYBE},
	    {TCP_DIR_C2S, "PING\r\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "ping\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "set test 1\r\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "SET k", 0, DETECT_MAYBE},
	    {TCP_DIR_C2S, "*0\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "*2\r\n:1\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "*1\r\n$4\r\n\x01\x02\x03\x04\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "FOO bar\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "PING\x01\r\n", 0, DETECT_NO},
	    /* Other protocols' first bytes. */
	    {TCP_DIR_C2S, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "GET /index.html HTTP/1.0\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "POST /api HTTP/1.1\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, DETECT_NO},
	    {TCP_DIR_C2S, "AMQP\x00\x00\x09\x01", 8, DETECT_NO},
	    {TCP_DIR_C2S, "\x00\x00\x00\x1f\x00\x12\x00\x03\x00\x00\x00\x01\x00\x07rdkafka", 21,
	     DETECT_NO},
	    {TCP_DIR_C2S, "\x00\x1c\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 14,
	     DETECT_NO},
	    {TCP_DIR_C2S, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, DETECT_NO},
	    {TCP_DIR_C2S, "SSH-2.0-OpenSSH_9.2\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "+OK\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "+PONG\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "-ERR unknown command\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, ":1000\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "$5\r\nhello\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "$5\r\nhello!!", 0, DETECT_NO},
	    {TCP_DIR_S2C, "$-1\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "*2\r\n$1\r\na\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "*2\r\nxx", 0, DETECT_NO},
	    {TCP_DIR_S2C, "%7\r\n$6\r\nserver\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, ">3\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "_\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "#t\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, ",3.14\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "+OK", 0, DETECT_MAYBE},
	    {TCP_DIR_S2C, "+OK POP3 server ready\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "* OK IMAP4rev1 ready\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "HTTP/1.1 200 OK\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "220 smtp.example.com ESMTP\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, ":irc.example.net NOTICE * :hi\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "\x01\x00\x00\x00\x00\x01\xf4\x00\x0a", 9, DETECT_NO},
	    {TCP_DIR_S2C, "\x00\x00\x04\x04\x00\x00\x00\x00\x00", 9, DETECT_NO},
	    {TCP_DIR_S2C, ":12x\r\n", 0, DETECT_NO},
	    /* Picked up mid-message: a strong message start further on. */
	    {TCP_DIR_C2S, "lue\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "lue\r\nGET k\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "xyz\r\n$3\r\nabc\r\n", 0, DETECT_YES},
	    {TCP_DIR_S2C, "xyz\r\n$3\r\nabcd\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "xyz\r\n+OK\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "xyz\r\n*2\r\n", 0, DETECT_NO},
	    {TCP_DIR_S2C, "xyz\r\n*2\r\n:1\r\n", 0, DETECT_YES},
	    {TCP_DIR_C2S, "<html>\r\n<p>*1</p>\r\n", 0, DETECT_NO},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);
		enum detect_result r =
		    dissector_redis.detect(cases[i].dir, (const uint8_t *)cases[i].s, n);

		if (r != cases[i].want)
			fail_msg("case %zu detect(%.20s) = %d, want %d", i, cases[i].s, r,
				 cases[i].want);
	}
	assert_string_equal(dissector_redis.name, "redis");
}

/* The engine picks redis for Redis bytes, http1 for HTTP; redis sits after http1. */
static void test_registry(void **state)
{
	unsigned i, http1 = 99, redis = 99;

	(void)state;
	for (i = 0; dissect_protocol_name(i); i++) {
		if (!strcmp(dissect_protocol_name(i), "http1"))
			http1 = i;
		if (!strcmp(dissect_protocol_name(i), "redis"))
			redis = i;
	}
	assert_true(redis != 99);
	assert_true(http1 < redis);
	assert_string_equal(dissect_counter_name(redis, REDIS_CTR_REQUEST_ERRORS),
			    "request_errors");
	assert_string_equal(dissect_counter_name(redis, REDIS_CTR_REPLICATION_BYTES),
			    "replication_bytes");
	assert_null(dissect_counter_name(redis, REDIS_CTR__COUNT));
}

/* ---- one command, its fields and every split ---- */

#define REQ_SET	 "*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$3\r\nbob\r\n"
#define REQ_GET	 "*2\r\n$3\r\nget\r\n$6\r\nuser:1\r\n"
#define RESP_GET "$3\r\nbob\r\n"

static void check_set_get(struct fx *f)
{
	assert_int_equal(n_entries(f), 2);
	assert_str(f, 0, "protocol", "redis");
	assert_str(f, 0, "version", "2");
	assert_str(f, 0, "request.command", "SET");
	assert_json(f, 0, "request.args", "[\"user:1\",\"bob\"]");
	assert_json(f, 0, "request.keys", "[\"user:1\"]");
	assert_int_equal(iget(f, 0, "request.arg_count"), 2);
	assert_str(f, 0, "response.type", "simple_string");
	assert_str(f, 0, "response.value", "OK");
	assert_int_equal(iget(f, 0, "request_size"), strlen(REQ_SET));
	assert_int_equal(iget(f, 0, "response_size"), 5);
	assert_str(f, 1, "request.command", "GET");
	assert_str(f, 1, "response.type", "bulk_string");
	assert_str(f, 1, "response.value", "bob");
	assert_int_equal(iget(f, 1, "response.length"), 3);
	assert_int_equal(iget(f, 1, "request_size"), strlen(REQ_GET));
	assert_int_equal(iget(f, 1, "request.db"), 0);
	assert_int_equal(iget(f, 1, "response_size"), strlen(RESP_GET));
	assert_false(has(f, 0, "missing"));
	assert_false(has(f, 1, "missing"));
	assert_false(has(f, 1, "response.truncated"));
}

static void test_set_get(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, REQ_SET);
	assert_int_equal(n_entries(&f), 0);
	s2c(&f, "+OK\r\n");
	c2s(&f, REQ_GET);
	s2c(&f, RESP_GET);
	check_set_get(&f);
	assert_str(&f, 0, "request_time", "1970-01-01T00:00:00.000001000Z");
	assert_str(&f, 0, "response_time", "1970-01-01T00:00:00.000002000Z");
	assert_str(&f, 1, "request_time", "1970-01-01T00:00:00.000003000Z");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	assert_non_null(strstr(f.lines[0], "SET user:1 bob -> OK"));
	assert_non_null(strstr(f.lines[1], "GET user:1 -> \"bob\""));
	fx_free(&f);
}

static void test_every_split(void **state)
{
	const char *rq = REQ_SET REQ_GET, *rs = "+OK\r\n" RESP_GET;
	size_t nq = strlen(rq), ns = strlen(rs), i, j;

	(void)state;
	for (i = 1; i < nq; i++) {
		for (j = 1; j < ns; j++) {
			struct fx f;

			fx_open(&f);
			send_n(&f, TCP_DIR_C2S, rq, i);
			send_n(&f, TCP_DIR_C2S, rq + i, nq - i);
			send_n(&f, TCP_DIR_S2C, rs, j);
			send_n(&f, TCP_DIR_S2C, rs + j, ns - j);
			check_set_get(&f);
			assert_int_equal(fx_stats(&f).parse_errors, 0);
			fx_free(&f);
		}
	}
	{
		struct fx f;

		fx_open(&f);
		for (i = 0; i < nq; i++)
			send_n(&f, TCP_DIR_C2S, rq + i, 1);
		for (i = 0; i < ns; i++)
			send_n(&f, TCP_DIR_S2C, rs + i, 1);
		check_set_get(&f);
		fx_free(&f);
	}
}

/* ---- inline commands ---- */

static void test_inline(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "set \"a key\" 'it\\'s' \r\nget \"a\\x41\\n\"\n\r\nPING\r\n");
	s2c(&f, "+OK\r\n$-1\r\n+PONG\r\n");
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "request.command", "SET");
	assert_json(&f, 0, "request.args", "[\"a key\",\"it's\"]");
	assert_json(&f, 0, "request.keys", "[\"a key\"]");
	assert_json(&f, 0, "request.inline", "true");
	assert_json(&f, 1, "request.args", "[\"aA\\n\"]");
	assert_str(&f, 1, "response.type", "null");
	assert_json(&f, 1, "response.value", "null");
	assert_str(&f, 2, "request.command", "PING");
	assert_str(&f, 2, "response.value", "PONG");
	/* The blank line got no reply and no entry. */
	assert_int_equal(counter(&f, REDIS_CTR_EMPTY_INLINE), 1);
	assert_int_equal(iget(&f, 0, "request_size"), strlen("set \"a key\" 'it\\'s' \r\n"));
	/* Unbalanced quotes: Redis answers with an error. */
	c2s(&f, "set \"oops\r\n");
	s2c(&f, "-ERR Protocol error: unbalanced quotes in request\r\n");
	assert_int_equal(n_entries(&f), 4);
	assert_false(has(&f, 3, "request.command"));
	assert_str(&f, 3, "response.error_code", "ERR");
	fx_free(&f);
}

/* ---- keys, multi-word commands, bounds, redaction ---- */

static void test_keys(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 5, "MSET", "k1", "v1", "k2", "v2");
	cmd(&f, 6, "EVAL", "return 1", "2", "ka", "kb", "arg");
	cmd(&f, 6, "XREAD", "COUNT", "2", "STREAMS", "s1", "0-0");
	cmd(&f, 6, "ZUNIONSTORE", "dst", "2", "z1", "z2", "WEIGHTS");
	cmd(&f, 3, "MEMORY", "usage", "mk");
	cmd(&f, 3, "client", "setinfo", "lib-name");
	cmd(&f, 4, "SORT", "list", "STORE", "out");
	cmd(&f, 8, "MIGRATE", "h", "1", "", "0", "5000", "KEYS", "m1");
	cmd(&f, 3, "BLPOP", "l1", "0");
	cmd(&f, 3, "JSON.GET", "doc", "$");
	cmd(&f, 2, "NOSUCHCMD", "x");
	cmd(&f, 3, "XINFO", "STREAM", "xs");
	s2c(&f, "+OK\r\n:1\r\n*-1\r\n:0\r\n:72\r\n+OK\r\n:0\r\n+NOKEY\r\n*-1\r\n$-1\r\n"
		"-ERR unknown command 'NOSUCHCMD'\r\n-ERR no such key\r\n");
	assert_int_equal(n_entries(&f), 12);
	assert_json(&f, 0, "request.keys", "[\"k1\",\"k2\"]");
	assert_json(&f, 1, "request.keys", "[\"ka\",\"kb\"]");
	assert_json(&f, 2, "request.keys", "[\"s1\"]");
	assert_json(&f, 3, "request.keys", "[\"dst\",\"z1\",\"z2\"]");
	assert_str(&f, 4, "request.command", "MEMORY USAGE");
	assert_json(&f, 4, "request.args", "[\"mk\"]");
	assert_json(&f, 4, "request.keys", "[\"mk\"]");
	assert_str(&f, 5, "request.command", "CLIENT SETINFO");
	assert_false(has(&f, 5, "request.keys"));
	assert_json(&f, 6, "request.keys", "[\"list\",\"out\"]");
	assert_json(&f, 7, "request.keys", "[\"m1\"]");
	assert_json(&f, 8, "request.keys", "[\"l1\"]");
	assert_json(&f, 9, "request.keys", "[\"doc\"]");
	assert_str(&f, 10, "request.command", "NOSUCHCMD");
	assert_false(has(&f, 10, "request.keys"));
	assert_str(&f, 10, "response.error_code", "ERR");
	assert_str(&f, 10, "response.type", "error");
	assert_str(&f, 10, "response.error", "ERR unknown command 'NOSUCHCMD'");
	assert_false(has(&f, 10, "response.value"));
	assert_str(&f, 11, "request.command", "XINFO STREAM");
	assert_json(&f, 11, "request.keys", "[\"xs\"]");
	fx_free(&f);
}

static void test_redaction(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 2, "AUTH", "s3cret1");
	cmd(&f, 3, "AUTH", "user", "s3cret2");
	cmd(&f, 5, "HELLO", "3", "AUTH", "default", "s3cret3");
	cmd(&f, 6, "CONFIG", "SET", "maxmemory", "10mb", "requirepass", "s3cret4");
	cmd(&f, 5, "ACL", "SETUSER", "bob", "on", ">s3cret5");
	cmd(&f, 10, "MIGRATE", "h", "1", "", "0", "5000", "AUTH", "s3cret6", "KEYS", "k");
	c2s(&f, "AUTH s3cret7\r\n");
	s2c(&f, "+OK\r\n+OK\r\n%0\r\n+OK\r\n+OK\r\n+NOKEY\r\n+OK\r\n");
	assert_int_equal(n_entries(&f), 7);
	assert_json(&f, 0, "request.args", "[\"(redacted)\"]");
	assert_json(&f, 1, "request.args", "[\"user\",\"(redacted)\"]");
	assert_json(&f, 2, "request.args", "[\"3\",\"AUTH\",\"default\",\"(redacted)\"]");
	assert_json(&f, 3, "request.args",
		    "[\"maxmemory\",\"10mb\",\"requirepass\",\"(redacted)\"]");
	assert_json(&f, 4, "request.args", "[\"bob\",\"on\",\"(redacted)\"]");
	assert_json(&f, 5, "request.args",
		    "[\"h\",\"1\",\"\",\"0\",\"5000\",\"AUTH\",\"(redacted)\",\"KEYS\",\"k\"]");
	assert_json(&f, 6, "request.args", "[\"(redacted)\"]");
	for (size_t i = 0; i < n_entries(&f); i++) {
		char *s = json_dumps(json_array_get(f.out, i), 0);

		assert_null(strstr(s, "s3cret"));
		free(s);
	}
	for (unsigned i = 0; i < f.nlines; i++)
		assert_null(strstr(f.lines[i], "s3cret"));
	fx_free(&f);
}

static void test_arg_bounds(void **state)
{
	struct dissect_config cfg = {.body_max = 16};
	char buf[32];
	struct fx f;
	int i;

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_SYN, &cfg);
	{
		/* 100 keys, more than REDIS_ARGS_MAX and REDIS_KEYS_MAX. */
		char req[8192];
		size_t off = (size_t)snprintf(req, sizeof(req), "*101\r\n$3\r\nDEL\r\n");

		for (i = 0; i < 100; i++) {
			snprintf(buf, sizeof(buf), "k%d", i);
			off += (size_t)snprintf(req + off, sizeof(req) - off, "$%zu\r\n%s\r\n",
						strlen(buf), buf);
		}
		send_n(&f, TCP_DIR_C2S, req, off);
	}
	cmd(&f, 3, "SET", "k", "a value longer than sixteen bytes");
	s2c(&f, ":100\r\n+OK\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(iget(&f, 0, "request.arg_count"), 100);
	assert_json(&f, 0, "request.args_truncated", "true");
	assert_json(&f, 0, "request.keys_truncated", "true");
	assert_int_equal(json_array_size(get(&f, 0, "request.keys")), REDIS_KEYS_MAX);
	assert_true(json_array_size(get(&f, 0, "request.args")) <= REDIS_ARGS_MAX);
	/* --body-max bytes of arguments per command ("k" took one). */
	assert_json(&f, 1, "request.args", "[\"k\",\"a value longer \"]");
	assert_json(&f, 1, "request.args_truncated", "true");
	fx_free(&f);
}

/* ---- replies of every type ---- */

static void test_reply_types(void **state)
{
	static const struct {
		const char *reply, *type, *value; /* value: JSON text */
	} cases[] = {
	    {"+OK\r\n", "simple_string", "\"OK\""},
	    {":-42\r\n", "integer", "-42"},
	    {"$0\r\n\r\n", "bulk_string", "\"\""},
	    {"$-1\r\n", "null", "null"},
	    {"*-1\r\n", "null", "null"},
	    {"_\r\n", "null", "null"},
	    {",3.25\r\n", "double", "3.25"},
	    {",inf\r\n", "double", "\"inf\""},
	    {",-inf\r\n", "double", "\"-inf\""},
	    {"#t\r\n", "boolean", "true"},
	    {"#f\r\n", "boolean", "false"},
	    {"(3492890328409238509324850943850943825024385\r\n", "big_number",
	     "\"3492890328409238509324850943850943825024385\""},
	    {"=15\r\ntxt:Some string\r\n", "verbatim_string", "\"Some string\""},
	    {"*0\r\n", "array", "[]"},
	    {"*3\r\n:1\r\n$1\r\na\r\n*1\r\n#t\r\n", "array", "[1,\"a\",[true]]"},
	    {"~2\r\n+x\r\n+y\r\n", "set", "[\"x\",\"y\"]"},
	    {"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n%1\r\n+c\r\n_\r\n", "map",
	     "{\"a\":1,\"b\":{\"c\":null}}"},
	    {"%2\r\n:1\r\n+one\r\n*1\r\n:2\r\n+two\r\n", "map", "{\"1\":\"one\",\"[2]\":\"two\"}"},
	    {"*2\r\n-ERR inner\r\n!5\r\nERR x\r\n", "array",
	     "[{\"error\":\"ERR inner\"},{\"error\":\"ERR x\"}]"},
	    {"|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n", "bulk_string", "\"hi\""},
	    {"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", "array", "[1,2]"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;

		fx_open(&f);
		cmd(&f, 1, "X");
		s2c(&f, cases[i].reply);
		if (n_entries(&f) != 1)
			fail_msg("case %zu (%s): %zu entries", i, cases[i].reply, n_entries(&f));
		assert_str(&f, 0, "response.type", cases[i].type);
		assert_json(&f, 0, "response.value", cases[i].value);
		assert_int_equal(iget(&f, 0, "response_size"), strlen(cases[i].reply));
		assert_int_equal(fx_stats(&f).parse_errors, 0);
		fx_free(&f);
	}
	{
		struct fx f;

		fx_open(&f);
		cmd(&f, 1, "X");
		s2c(&f, "|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n");
		assert_json(&f, 0, "response.attributes", "{\"ttl\":3}");
		assert_str(&f, 0, "version", "3");
		cmd(&f, 1, "Y");
		s2c(&f, "!21\r\nSYNTAX invalid syntax\r\n");
		assert_str(&f, 1, "response.type", "bulk_error");
		assert_str(&f, 1, "response.error", "SYNTAX invalid syntax");
		assert_str(&f, 1, "response.error_code", "SYNTAX");
		cmd(&f, 1, "Z");
		s2c(&f, "=15\r\nmkd:Some string\r\n");
		assert_str(&f, 2, "response.format", "mkd");
		assert_int_equal(iget(&f, 2, "response.length"), 15);
		cmd(&f, 1, "W");
		send_n(&f, TCP_DIR_S2C, "$4\r\n\xff\xfe\x00\x01\r\n", 10);
		assert_str(&f, 3, "response.value_base64", "//4AAQ==");
		assert_str(&f, 3, "response.value", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x01");
		fx_free(&f);
	}
}

/* HELLO 3 switches the connection to RESP3; HELLO 2 back. */
static void test_hello(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 2, "HELLO", "3");
	s2c(&f,
	    "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n");
	cmd(&f, 2, "GET", "k");
	s2c(&f, "_\r\n");
	cmd(&f, 2, "HELLO", "2");
	s2c(&f,
	    "*6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n$7\r\nmodules\r\n*0\r\n");
	cmd(&f, 2, "GET", "k");
	s2c(&f, "$-1\r\n");
	assert_int_equal(n_entries(&f), 4);
	assert_str(&f, 0, "version", "3");
	assert_int_equal(iget(&f, 0, "response.value.proto"), 3);
	assert_str(&f, 1, "version", "3");
	assert_str(&f, 2, "version", "2");
	assert_str(&f, 3, "version", "2");
	fx_free(&f);
}

/* ---- pipelining ---- */

static void test_pipelining(void **state)
{
	static char req[64 * 1024], resp[16 * 1024];
	size_t nq = 0, ns = 0;
	struct fx f;
	char want[32];
	int i;

	(void)state;
	for (i = 0; i < 500; i++) {
		nq += (size_t)snprintf(req + nq, sizeof(req) - nq,
				       "*3\r\n$3\r\nSET\r\n$%d\r\nKey%d\r\n$%d\r\nValue%d\r\n",
				       i < 10	 ? 4
				       : i < 100 ? 5
						 : 6,
				       i,
				       i < 10	 ? 6
				       : i < 100 ? 7
						 : 8,
				       i);
		ns += (size_t)snprintf(resp + ns, sizeof(resp) - ns, i % 7 ? "+OK\r\n" : ":%d\r\n",
				       i);
	}
	fx_open(&f);
	/* Segments cut anywhere: 1000 bytes each, requests all before the replies. */
	for (i = 0; (size_t)i < nq; i += 1000)
		send_n(&f, TCP_DIR_C2S, req + i, nq - (size_t)i < 1000 ? nq - (size_t)i : 1000);
	assert_int_equal(n_entries(&f), 0);
	send_n(&f, TCP_DIR_S2C, resp, ns);
	assert_int_equal(n_entries(&f), 500);
	for (i = 0; i < 500; i++) {
		snprintf(want, sizeof(want), "Key%d", i);
		assert_str(&f, (size_t)i, "request.keys.0", want);
		if (i % 7)
			assert_str(&f, (size_t)i, "response.value", "OK");
		else
			assert_int_equal(iget(&f, (size_t)i, "response.value"), i);
	}
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* ---- MULTI/EXEC ---- */

static void test_transaction(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 1, "MULTI");
	cmd(&f, 3, "SET", "a", "1");
	cmd(&f, 2, "INCR", "a");
	cmd(&f, 2, "LPOP", "a");
	cmd(&f, 1, "EXEC");
	s2c(&f, "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
		"*3\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of "
		"value\r\n");
	assert_int_equal(n_entries(&f), 5);
	assert_str(&f, 1, "response.value", "QUEUED");
	assert_str(&f, 4, "request.command", "EXEC");
	assert_int_equal(iget(&f, 4, "transaction.command_count"), 3);
	assert_json(
	    &f, 4, "transaction.commands",
	    "[{\"command\":\"SET\",\"keys\":[\"a\"]},{\"command\":\"INCR\",\"keys\":[\"a\"]},"
	    "{\"command\":\"LPOP\",\"keys\":[\"a\"]}]");
	assert_str(&f, 4, "transaction.outcome", "executed");
	assert_json(&f, 4, "response.value",
		    "[\"OK\",2,{\"error\":\"WRONGTYPE Operation against a key holding the wrong "
		    "kind of value\"}]");
	/* WATCH failed: EXEC answers null. */
	cmd(&f, 2, "WATCH", "a");
	cmd(&f, 1, "MULTI");
	cmd(&f, 2, "INCR", "a");
	cmd(&f, 1, "EXEC");
	s2c(&f, "+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n");
	assert_int_equal(n_entries(&f), 9);
	assert_str(&f, 8, "transaction.outcome", "aborted");
	assert_int_equal(iget(&f, 8, "transaction.command_count"), 1);
	cmd(&f, 1, "MULTI");
	cmd(&f, 2, "GET", "x");
	cmd(&f, 1, "DISCARD");
	s2c(&f, "+OK\r\n+QUEUED\r\n+OK\r\n");
	assert_str(&f, 11, "transaction.outcome", "discarded");
	/* No MULTI seen: no transaction field. */
	cmd(&f, 1, "EXEC");
	s2c(&f, "-ERR EXEC without MULTI\r\n");
	assert_false(has(&f, 12, "transaction"));
	fx_free(&f);
}

/* ---- pub/sub ---- */

static void test_pubsub_resp2(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 3, "SUBSCRIBE", "news", "sport");
	s2c(&f, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
	assert_int_equal(n_entries(&f), 0);
	s2c(&f, "*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n");
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.command", "SUBSCRIBE");
	assert_int_equal(iget(&f, 0, "response.replies"), 2);
	assert_json(&f, 0, "response.value",
		    "[[\"subscribe\",\"news\",1],[\"subscribe\",\"sport\",2]]");
	assert_int_equal(iget(&f, 0, "response_size"),
			 strlen("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n") +
			     strlen("*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"));
	s2c(&f, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
	cmd(&f, 2, "PSUBSCRIBE", "s*");
	s2c(&f, "*3\r\n$10\r\npsubscribe\r\n$2\r\ns*\r\n:3\r\n"
		"*4\r\n$8\r\npmessage\r\n$2\r\ns*\r\n$5\r\nsport\r\n$4\r\ngoal\r\n");
	/* PING in subscribed mode is answered by an array. */
	cmd(&f, 1, "PING");
	s2c(&f,
	    "*3\r\n$7\r\nmessage\r\n$5\r\nsport\r\n$3\r\nend\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
	cmd(&f, 1, "UNSUBSCRIBE");
	s2c(&f, "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:2\r\n");
	assert_int_equal(n_entries(&f), 6);
	s2c(&f, "*3\r\n$11\r\nunsubscribe\r\n$5\r\nsport\r\n:1\r\n");
	assert_int_equal(n_entries(&f), 7);
	/* A message is an entry without a request, and without missing. */
	assert_str(&f, 1, "push.kind", "message");
	assert_str(&f, 1, "push.channel", "news");
	assert_str(&f, 1, "push.message", "hello");
	assert_false(has(&f, 1, "request"));
	assert_false(has(&f, 1, "missing"));
	assert_false(has(&f, 1, "request_time"));
	assert_str(&f, 1, "response.type", "array");
	assert_str(&f, 2, "request.command", "PSUBSCRIBE");
	assert_str(&f, 3, "push.kind", "pmessage");
	assert_str(&f, 3, "push.pattern", "s*");
	assert_str(&f, 3, "push.channel", "sport");
	assert_str(&f, 3, "push.message", "goal");
	assert_str(&f, 4, "push.message", "end");
	assert_str(&f, 5, "request.command", "PING");
	assert_json(&f, 5, "response.value", "[\"pong\",\"\"]");
	assert_str(&f, 6, "request.command", "UNSUBSCRIBE");
	assert_int_equal(iget(&f, 6, "response.replies"), 2);
	assert_non_null(strstr(f.lines[1], "push message news \"hello\""));
	/* Not subscribed any more: a message-like array is an ordinary reply. */
	cmd(&f, 1, "PUNSUBSCRIBE");
	s2c(&f, "*3\r\n$12\r\npunsubscribe\r\n$2\r\ns*\r\n:0\r\n");
	assert_int_equal(n_entries(&f), 8);
	assert_int_equal(iget(&f, 7, "response.replies"), 1);
	cmd(&f, 4, "LRANGE", "l", "0", "-1");
	s2c(&f, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n");
	assert_str(&f, 8, "request.command", "LRANGE");
	assert_false(has(&f, 8, "push"));
	fx_free(&f);
}

static void test_pubsub_resp3_and_invalidate(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 2, "HELLO", "3");
	s2c(&f, "%1\r\n$5\r\nproto\r\n:3\r\n");
	cmd(&f, 2, "SUBSCRIBE", "c");
	s2c(&f, ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
	cmd(&f, 2, "GET", "k");
	/* A push arrives between a command and its reply. */
	s2c(&f, ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n$1\r\nv\r\n");
	cmd(&f, 3, "CLIENT", "TRACKING", "on");
	s2c(&f,
	    "+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n");
	assert_int_equal(n_entries(&f), 7);
	assert_str(&f, 1, "request.command", "SUBSCRIBE");
	assert_str(&f, 1, "response.type", "push");
	assert_str(&f, 2, "push.kind", "message");
	assert_str(&f, 2, "push.message", "hi");
	assert_str(&f, 2, "response.type", "push");
	assert_str(&f, 3, "request.command", "GET");
	assert_str(&f, 3, "response.value", "v");
	assert_str(&f, 4, "request.command", "CLIENT TRACKING");
	assert_str(&f, 5, "push.kind", "invalidate");
	assert_json(&f, 5, "push.keys", "[\"k\"]");
	assert_json(&f, 6, "push.keys", "null");
	assert_str(&f, 6, "version", "3");
	fx_free(&f);
}

/* A subscriber picked up mid-stream: messages without any command seen. */
static void test_pubsub_midstream(void **state)
{
	struct fx f;

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_PORT, NULL);
	/* The tail of a message: its last element looks like a reply of its own (an entry
	 * without a request, as nothing tells otherwise); then whole messages. */
	s2c(&f, "message\r\n$1\r\nx\r\n");
	s2c(&f, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\na\r\n");
	cmd(&f, 1, "PING");
	s2c(&f, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nb\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
	assert_int_equal(n_entries(&f), 4);
	assert_str(&f, 0, "response.value", "x");
	assert_str(&f, 0, "missing", "request");
	assert_str(&f, 1, "push.message", "a");
	assert_str(&f, 2, "push.message", "b");
	assert_str(&f, 3, "request.command", "PING");
	fx_free(&f);
}

static void test_monitor(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 1, "MONITOR");
	s2c(&f, "+OK\r\n+1700000000.123456 [0 10.0.0.1:5000] \"SET\" \"k\" \"v\"\r\n");
	cmd(&f, 1, "RESET");
	s2c(&f, "+1700000000.223456 [0 10.0.0.1:5000] \"GET\" \"k\"\r\n+RESET\r\n");
	cmd(&f, 1, "PING");
	s2c(&f, "+PONG\r\n");
	assert_int_equal(n_entries(&f), 5);
	assert_str(&f, 0, "request.command", "MONITOR");
	assert_str(&f, 1, "push.kind", "monitor");
	assert_str(&f, 1, "push.message",
		   "1700000000.123456 [0 10.0.0.1:5000] \"SET\" \"k\" \"v\"");
	assert_str(&f, 2, "push.kind", "monitor");
	assert_str(&f, 3, "request.command", "RESET");
	assert_str(&f, 3, "response.value", "RESET");
	assert_str(&f, 4, "response.value", "PONG");
	fx_free(&f);

	/* A line longer than REDIS_LINE_MAX (MONITOR shows whole arguments), in pieces. */
	{
		enum { LEN = 200000 };
		char *line = malloc(LEN + 16);
		size_t i;

		assert_non_null(line);
		fx_open(&f);
		cmd(&f, 1, "MONITOR");
		s2c(&f, "+OK\r\n");
		i = (size_t)snprintf(line, LEN, "+1700000000.1 [0 1.2.3.4:5] \"SET\" \"k\" \"");
		memset(line + i, 'x', LEN - i);
		memcpy(line + LEN, "\"\r\n+1700", 8);
		for (i = 0; i < LEN + 8; i += 1000)
			send_n(&f, TCP_DIR_S2C, line + i, LEN + 8 - i < 1000 ? LEN + 8 - i : 1000);
		s2c(&f, "000000.2 [0 1.2.3.4:5] \"PING\"\r\n");
		assert_int_equal(n_entries(&f), 3);
		assert_str(&f, 1, "push.kind", "monitor");
		assert_int_equal(strlen(sget(&f, 1, "push.message")), 64 * 1024);
		assert_json(&f, 1, "response.truncated", "true");
		assert_int_equal(iget(&f, 1, "response_size"), LEN + 3);
		assert_str(&f, 2, "push.message", "1700000000.2 [0 1.2.3.4:5] \"PING\"");
		assert_int_equal(fx_stats(&f).parse_errors, 0);
		fx_free(&f);
		free(line);
	}
}

static void test_client_reply(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 3, "CLIENT", "REPLY", "OFF");
	cmd(&f, 3, "SET", "a", "1");
	cmd(&f, 3, "CLIENT", "REPLY", "ON");
	s2c(&f, "+OK\r\n");
	cmd(&f, 3, "CLIENT", "REPLY", "SKIP");
	cmd(&f, 2, "INCR", "a");
	cmd(&f, 2, "GET", "a");
	s2c(&f, "$1\r\n2\r\n");
	assert_int_equal(n_entries(&f), 6);
	assert_json(&f, 0, "no_reply", "true");
	assert_json(&f, 1, "no_reply", "true");
	assert_str(&f, 2, "request.command", "CLIENT REPLY");
	assert_str(&f, 2, "response.value", "OK");
	assert_json(&f, 3, "no_reply", "true");
	assert_json(&f, 4, "no_reply", "true");
	assert_str(&f, 5, "response.value", "2");
	for (size_t i = 0; i < 6; i++)
		assert_false(has(&f, i, "missing"));
	fx_free(&f);
}

/* ---- large values ---- */

static void test_large_bulk_streamed(void **state)
{
	enum { SIZE = 5 * 1024 * 1024, SEG = 1448 };
	struct dissect_config cfg = {.max_buffer_per_dir = 64 * 1024};
	char *big = malloc(SIZE), hdr[64];
	struct fx f;
	size_t i, n;

	(void)state;
	assert_non_null(big);
	for (i = 0; i < SIZE; i++)
		big[i] = (char)('a' + i % 26);
	fx_open_cfg(&f, TCP_ROLE_SYN, &cfg);
	/* SET big <5 MiB> in 1448-byte segments through a 64 KiB engine buffer. */
	n = (size_t)snprintf(hdr, sizeof(hdr), "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n", SIZE);
	send_n(&f, TCP_DIR_C2S, hdr, n);
	for (i = 0; i < SIZE; i += SEG)
		send_n(&f, TCP_DIR_C2S, big + i, SIZE - i < SEG ? SIZE - i : SEG);
	c2s(&f, "\r\n");
	s2c(&f, "+OK\r\n");
	cmd(&f, 2, "GET", "big");
	n = (size_t)snprintf(hdr, sizeof(hdr), "$%d\r\n", SIZE);
	send_n(&f, TCP_DIR_S2C, hdr, n);
	for (i = 0; i < SIZE; i += SEG)
		send_n(&f, TCP_DIR_S2C, big + i, SIZE - i < SEG ? SIZE - i : SEG);
	s2c(&f, "\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(iget(&f, 0, "request_size"), strlen("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n") +
							  strlen("$5242880\r\n") + SIZE + 2);
	assert_json(&f, 0, "request.args_truncated", "true");
	assert_int_equal(strlen(sget(&f, 0, "request.args.1")), 64 * 1024 - 3);
	assert_int_equal(iget(&f, 1, "response.length"), SIZE);
	assert_int_equal(iget(&f, 1, "response_size"), n + SIZE + 2);
	assert_json(&f, 1, "response.truncated", "true");
	assert_int_equal(strlen(sget(&f, 1, "response.value")), 64 * 1024);
	assert_int_equal(memcmp(sget(&f, 1, "response.value"), big, 64 * 1024), 0);
	assert_int_equal(fx_stats(&f).buffer_overflows, 0);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
	free(big);
}

/* Elements and nesting kept are bounded; what is parsed is not. */
static void test_value_bounds(void **state)
{
	static char buf[64 * 1024];
	size_t off = 0;
	struct fx f;
	int i;

	(void)state;
	fx_open(&f);
	cmd(&f, 4, "LRANGE", "l", "0", "-1");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "*3000\r\n");
	for (i = 0; i < 3000; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ":%d\r\n", i);
	send_n(&f, TCP_DIR_S2C, buf, off);
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "response.length"), 3000);
	assert_json(&f, 0, "response.truncated", "true");
	assert_int_equal(json_array_size(get(&f, 0, "response.value")),
			 REDIS_VALUE_ELEMENTS_MAX - 1);
	/* 20 levels: kept down to REDIS_VALUE_DEPTH_MAX, null below. */
	cmd(&f, 1, "DEEP");
	off = 0;
	for (i = 0; i < 20; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "*1\r\n");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, ":7\r\n");
	send_n(&f, TCP_DIR_S2C, buf, off);
	assert_int_equal(n_entries(&f), 2);
	assert_json(&f, 1, "response.truncated", "true");
	{
		json_t *v = get(&f, 1, "response.value");
		int depth = 0;

		while (json_is_array(v)) {
			v = json_array_get(v, 0);
			depth++;
		}
		assert_int_equal(depth, REDIS_VALUE_DEPTH_MAX);
		assert_true(json_is_null(v));
	}
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* ---- gaps, resynchronisation, mid-stream, ends ---- */

static void test_midstream(void **state)
{
	struct fx f;

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_PORT, NULL);
	/* The tail of a request, then a whole one (detection finds it). */
	c2s(&f, "lue\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
	/* The first reply began before the GET was sent... it cannot be GET's. */
	dissect_stream_data(f.eng, f.c, TCP_DIR_S2C, (const uint8_t *)":1\r\n", 4, 500);
	s2c(&f, "$1\r\nv\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "missing", "request");
	assert_str(&f, 0, "missing_reason", "capture_gap");
	assert_int_equal(iget(&f, 0, "response.value"), 1);
	assert_str(&f, 1, "request.command", "GET");
	assert_str(&f, 1, "response.value", "v");
	assert_false(has(&f, 1, "missing"));
	/* The database is not known mid-stream, until a SELECT. */
	assert_false(has(&f, 1, "request.db"));
	cmd(&f, 2, "SELECT", "3");
	cmd(&f, 2, "GET", "k");
	s2c(&f, "+OK\r\n$-1\r\n");
	assert_false(has(&f, 2, "request.db"));
	assert_int_equal(iget(&f, 3, "request.db"), 3);
	fx_free(&f);
}

static void test_gaps(void **state)
{
	struct fx f;

	(void)state;
	/* A gap inside a bulk payload is skipped; the message goes on. */
	fx_open(&f);
	c2s(&f, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc");
	gap(&f, TCP_DIR_C2S, 4);
	c2s(&f, "hij\r\n");
	s2c(&f, "+OK\r\n");
	cmd(&f, 2, "GET", "k");
	s2c(&f, "$10\r\nabc");
	gap(&f, TCP_DIR_S2C, 5);
	s2c(&f, "ij\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_json(&f, 0, "request.args", "[\"k\",\"abc\"]");
	assert_int_equal(iget(&f, 0, "request.gap_bytes"), 4);
	assert_json(&f, 0, "request.args_truncated", "true");
	assert_int_equal(iget(&f, 0, "request_size"),
			 strlen("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n") + 12);
	assert_int_equal(iget(&f, 1, "response.gap_bytes"), 5);
	assert_json(&f, 1, "response.truncated", "true");
	assert_str(&f, 1, "response.value", "abc");
	assert_false(has(&f, 1, "missing"));
	fx_free(&f);

	/* Client gap across messages: the cut command and the lost ones. */
	fx_open(&f);
	cmd(&f, 2, "GET", "a");
	c2s(&f, "*2\r\n$3\r\nGET\r\n$1");
	gap(&f, TCP_DIR_C2S, 100);
	c2s(&f, "k\r\n*2\r\n$3\r\nGET\r\n$1\r\nz\r\n");
	s2c(&f, "$1\r\nA\r\n$1\r\nB\r\n");
	/* Replies to the lost commands come before the command after the gap was sent?
	 * They came after, so the next one pairs with it. */
	s2c(&f, "$1\r\nZ\r\n");
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "response.value", "A");
	assert_str(&f, 1, "request.command", "GET");
	assert_str(&f, 1, "missing", "request");
	assert_str(&f, 1, "missing_reason", "capture_gap");
	assert_str(&f, 1, "response.value", "B");
	assert_str(&f, 2, "request.keys.0", "z");
	assert_str(&f, 2, "response.value", "Z");
	fx_free(&f);

	/* Server gap at a boundary: the oldest command's reply was lost. */
	fx_open(&f);
	cmd(&f, 2, "GET", "a");
	cmd(&f, 2, "GET", "b");
	gap(&f, TCP_DIR_S2C, 7);
	s2c(&f, "$1\r\nB\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "request.keys.0", "a");
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "capture_gap");
	assert_str(&f, 1, "response.value", "B");
	fx_free(&f);

	/* Pipelined: a hole at a boundary held as many replies as its size says. */
	fx_open(&f);
	{
		char keys[10][2] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
		int i;

		for (i = 0; i < 10; i++)
			cmd(&f, 2, "GET", keys[i]);
		s2c(&f, "$1\r\n0\r\n$1\r\n1\r\n");
		gap(&f, TCP_DIR_S2C, 21);
		s2c(&f, "$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n");
		/* Then half a reply and a hole: the cut one and one more. */
		s2c(&f, "$1\r\n");
		gap(&f, TCP_DIR_S2C, 7);
		assert_int_equal(n_entries(&f), 10);
		for (i = 0; i < 10; i++) {
			assert_str(&f, (size_t)i, "request.keys.0", keys[i]);
			if (i < 2 || (i >= 5 && i < 9))
				assert_str(&f, (size_t)i, "response.value", keys[i]);
			else
				assert_str(&f, (size_t)i, "missing", "response");
		}
	}
	fx_free(&f);

	/* Server gap in the middle of an array: the reply is cut, the next one resyncs. */
	fx_open(&f);
	cmd(&f, 4, "LRANGE", "l", "0", "-1");
	cmd(&f, 2, "GET", "b");
	s2c(&f, "*3\r\n$1\r\na\r\n");
	gap(&f, TCP_DIR_S2C, 14);
	s2c(&f, "1\r\nc\r\n$1\r\nB\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "missing", "response");
	assert_json(&f, 0, "response.value", "[\"a\"]");
	assert_json(&f, 0, "response.truncated", "true");
	assert_str(&f, 1, "response.value", "B");
	fx_free(&f);
}

static void test_garbage_resync(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 1, "PING");
	s2c(&f, "+PONG\r\n");
	c2s(&f, "*2\r\n:x\r\n\x01\x02garbage\r\n*1\r\n$4\r\nPING\r\n");
	s2c(&f, "-ERR Protocol error: expected '$', got ':'\r\n");
	s2c(&f, "?what\r\n+PONG\r\n");
	assert_true(fx_stats(&f).parse_errors >= 2);
	assert_true(counter(&f, REDIS_CTR_REQUEST_ERRORS) >= 1);
	assert_true(counter(&f, REDIS_CTR_REPLY_ERRORS) >= 1);
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 1, "response.error_code", "ERR");
	assert_str(&f, 2, "request.command", "PING");
	assert_str(&f, 2, "response.value", "PONG");
	fx_free(&f);
}

static void test_close(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 2, "GET", "a");
	cmd(&f, 2, "BLPOP", "q");
	c2s(&f, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva");
	s2c(&f, "$1\r\nA\r\n*2\r\n$1\r\nq\r\n");
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "response.value", "A");
	assert_str(&f, 1, "request.command", "BLPOP");
	assert_str(&f, 1, "missing", "response");
	assert_str(&f, 1, "missing_reason", "connection_reset");
	assert_json(&f, 1, "response.value", "[\"q\"]");
	assert_str(&f, 2, "request.command", "SET");
	assert_str(&f, 2, "missing", "request");
	assert_str(&f, 2, "missing_reason", "connection_reset");
	fx_free(&f);

	fx_open(&f);
	cmd(&f, 2, "GET", "a");
	fx_close(&f, TCP_CLOSE_END_OF_INPUT);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "end_of_capture");
	assert_non_null(strstr(f.lines[0], "[missing response: end_of_capture]"));
	fx_free(&f);
}

static void test_pending_bound(void **state)
{
	struct fx f;
	unsigned i;

	(void)state;
	fx_open(&f);
	for (i = 0; i < REDIS_PENDING_MAX + 2; i++)
		cmd(&f, 1, "PING");
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "missing_reason", "too_many_pending");
	assert_int_equal(counter(&f, REDIS_CTR_EVICTED), 2);
	s2c(&f, "+PONG\r\n+PONG\r\n+PONG\r\n");
	assert_int_equal(n_entries(&f), 5);
	assert_str(&f, 2, "missing", "request");
	assert_str(&f, 2, "missing_reason", "too_many_pending");
	assert_str(&f, 4, "request.command", "PING");
	assert_false(has(&f, 4, "missing"));
	fx_free(&f);
}

static void test_replication(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	cmd(&f, 3, "PSYNC", "?", "-1");
	s2c(&f,
	    "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\r\n$5\r\nREDIS*3\r\n$3\r\nSET");
	c2s(&f, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n");
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.command", "PSYNC");
	assert_true(counter(&f, REDIS_CTR_REPLICATION_BYTES) > 0);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* Hostile declared lengths cost nothing; nesting is bounded. */
static void test_hostile(void **state)
{
	static char buf[4096];
	struct fx f;
	size_t off = 0;
	int i;

	(void)state;
	fx_open(&f);
	c2s(&f, "*2147483647\r\n$1099511627775\r\nxx");
	c2s(&f, "*1\r\n$99999999999999999999\r\n");
	s2c(&f, "*2147483647\r\n$1099511627775\r\nabc");
	s2c(&f, "%99999999999999999999\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	fx_free(&f);

	fx_open(&f);
	cmd(&f, 1, "X");
	for (i = 0; i < 100; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "*1\r\n");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, ":1\r\n");
	send_n(&f, TCP_DIR_S2C, buf, off);
	assert_true(counter(&f, REDIS_CTR_REPLY_ERRORS) >= 1);
	fx_free(&f);
}

/* The filter's protocol words: "redis" finds redis entries; RESP2's version "2" is not
 * HTTP/2's. */
static void test_filter_words(void **state)
{
	static const struct {
		const char *filter;
		bool want;
	} cases[] = {
	    {"redis", true},
	    {"http2", false},
	    {"http1", false},
	    {"http", false},
	    {"redis and request.command == GET and response.value == bob", true},
	    {"protocol == redis and version == 2", true},
	};
	struct fx f;
	size_t i;

	(void)state;
	fx_open(&f);
	c2s(&f, REQ_GET);
	s2c(&f, RESP_GET);
	assert_int_equal(n_entries(&f), 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct entry_filter *flt;
		char err[128];

		assert_int_equal(entry_filter_compile(cases[i].filter, &flt, err, sizeof(err)), 0);
		if (entry_filter_match(flt, json_array_get(f.out, 0)) != cases[i].want)
			fail_msg("filter %s: want %d", cases[i].filter, cases[i].want);
		entry_filter_free(flt);
	}
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_set_get),
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_inline),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_redaction),
	    cmocka_unit_test(test_arg_bounds),
	    cmocka_unit_test(test_reply_types),
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_pipelining),
	    cmocka_unit_test(test_transaction),
	    cmocka_unit_test(test_pubsub_resp2),
	    cmocka_unit_test(test_pubsub_resp3_and_invalidate),
	    cmocka_unit_test(test_pubsub_midstream),
	    cmocka_unit_test(test_monitor),
	    cmocka_unit_test(test_client_reply),
	    cmocka_unit_test(test_large_bulk_streamed),
	    cmocka_unit_test(test_value_bounds),
	    cmocka_unit_test(test_midstream),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_garbage_resync),
	    cmocka_unit_test(test_close),
	    cmocka_unit_test(test_pending_bound),
	    cmocka_unit_test(test_replication),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_filter_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
