// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the HTTP/1.x dissector (dissect/http1.c) through the engine's byte-stream
 * interface: pairing (keep-alive, pipelining, interim responses, HEAD/204/304), bodies
 * (Content-Length, chunked with trailers, until close, gzip), upgrades (h2c, websocket,
 * CONNECT), gaps and resynchronisation, connection ends, bounds and hostile input.
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

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/http1.h"
#include "test_stream.h"

/* The fixture is test_stream.h's: flow 1 to port 8080. */
static void fx_open_cfg(struct fx *f, enum tcp_role role, const struct dissect_config *cfg)
{
	fx_open_flow(f, 1, 8080, role, cfg);
}

static void fx_open(struct fx *f)
{
	fx_open_cfg(f, TCP_ROLE_SYN, NULL);
}

static void send_n(struct fx *f, enum tcp_dir dir, const void *p, size_t n)
{
	fx_send(f, dir, p, n);
}

static void gap(struct fx *f, enum tcp_dir dir, uint64_t n)
{
	fx_gap(f, dir, n);
}

static bool http2_linked(void)
{
	unsigned i;

	for (i = 0; dissect_protocol_name(i); i++)
		if (!strcmp(dissect_protocol_name(i), "http2"))
			return true;
	return false;
}

/* ---- detection ---- */

static void test_detect(void **state)
{
	static const struct {
		enum tcp_dir dir;
		const char *s;
		enum detect_result want;
	} cases[] = {
		{ TCP_DIR_C2S, "GET / HTTP/1.1\r\n", DETECT_YES },
		{ TCP_DIR_C2S, "GET /", DETECT_MAYBE },
		{ TCP_DIR_C2S, "GE", DETECT_MAYBE },
		{ TCP_DIR_C2S, "GET", DETECT_MAYBE },
		{ TCP_DIR_C2S, "", DETECT_MAYBE },
		{ TCP_DIR_C2S, "GET / HTTP/1.", DETECT_MAYBE },
		{ TCP_DIR_C2S, "POST /a?b=c HTTP/1.0\n", DETECT_YES },
		{ TCP_DIR_C2S, "PROPFIND /dav HTTP/1.1\r\n", DETECT_YES },
		{ TCP_DIR_C2S, "M-SEARCH * HTTP/1.1\r\n", DETECT_YES },
		{ TCP_DIR_C2S, "CONNECT example.com:443 HTTP/1.1\r\n", DETECT_YES },
		{ TCP_DIR_C2S, "GET http://example.com/ HTTP/1.1\r\n", DETECT_YES },
		{ TCP_DIR_C2S, "GET /0123456789012345678901234567890123456789", DETECT_YES },
		{ TCP_DIR_C2S, "get / HTTP/1.1\r\n", DETECT_NO },
		{ TCP_DIR_C2S, "FETCH / HTTP/1.1\r\n", DETECT_NO },
		{ TCP_DIR_C2S, "GET  / HTTP/1.1\r\n", DETECT_NO },
		{ TCP_DIR_C2S, "GET / HTTP/2.0\r\n", DETECT_NO },
		{ TCP_DIR_C2S, "GET / HTTP/1.1x", DETECT_NO },
		{ TCP_DIR_C2S, "GET /\x01 HTTP/1.1\r\n", DETECT_NO },
		{ TCP_DIR_C2S, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", DETECT_NO },
		{ TCP_DIR_C2S, "\x16\x03\x01\x02\x00\x01", DETECT_NO },
		{ TCP_DIR_S2C, "HTTP/1.1 200 OK\r\n", DETECT_YES },
		{ TCP_DIR_S2C, "HTTP/1.0 404", DETECT_YES },
		{ TCP_DIR_S2C, "HTTP/1.1 2", DETECT_MAYBE },
		{ TCP_DIR_S2C, "HTT", DETECT_MAYBE },
		{ TCP_DIR_S2C, "HTTP/1.2 200 OK", DETECT_NO },
		{ TCP_DIR_S2C, "HTTP/2 200", DETECT_NO },
		{ TCP_DIR_S2C, "HTTP/1.1 2x0", DETECT_NO },
		{ TCP_DIR_S2C, "GET / HTTP/1.1\r\n", DETECT_NO },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum detect_result r = dissector_http1.detect(
			cases[i].dir, (const uint8_t *)cases[i].s, strlen(cases[i].s));

		if (r != cases[i].want)
			fail_msg("detect(%s) = %d, want %d", cases[i].s, r, cases[i].want);
	}
	assert_string_equal(dissector_http1.name, "http1");
}

/* ---- one exchange, fields, and every split ---- */

#define REQ1                                                                                       \
	"POST /api/items?id=7&q=a+b HTTP/1.1\r\n"                                                  \
	"Host: example.com\r\n"                                                                    \
	"Cookie: sid=abc; theme=dark\r\n"                                                          \
	"Content-Type: application/json\r\n"                                                       \
	"Content-Length: 13\r\n"                                                                   \
	"\r\n"                                                                                     \
	"{\"name\":\"x\"}\n"
#define RESP1                                                                                      \
	"HTTP/1.1 201 Created\r\n"                                                                 \
	"Content-Type: text/plain\r\n"                                                             \
	"Set-Cookie: a=1; Path=/\r\n"                                                              \
	"X-Multi: one\r\n"                                                                         \
	"X-Multi: two\r\n"                                                                         \
	"Content-Length: 5\r\n"                                                                    \
	"\r\n"                                                                                     \
	"done\n"

static void check_exchange1(struct fx *f, size_t i)
{
	assert_str(f, i, "protocol", "http");
	assert_str(f, i, "version", "1.1");
	assert_str(f, i, "request.method", "POST");
	assert_str(f, i, "request.url", "/api/items?id=7&q=a+b");
	assert_str(f, i, "request.path", "/api/items");
	assert_str(f, i, "request.query", "id=7&q=a+b");
	assert_str(f, i, "request.query_params.q", "a b");
	assert_str(f, i, "request.version", "1.1");
	assert_str(f, i, "request.headers.host", "example.com");
	assert_str(f, i, "request.cookies.theme", "dark");
	assert_str(f, i, "request.content_type", "application/json");
	assert_str(f, i, "request.body.text", "{\"name\":\"x\"}\n");
	assert_int_equal(iget(f, i, "request.body.size"), 13);
	assert_int_equal(iget(f, i, "response.status"), 201);
	assert_str(f, i, "response.status_text", "Created");
	assert_str(f, i, "response.version", "1.1");
	assert_str(f, i, "response.headers.x-multi", "one, two");
	assert_str(f, i, "response.cookies.a", "1");
	assert_str(f, i, "response.content_type", "text/plain");
	assert_str(f, i, "response.body.text", "done\n");
	assert_int_equal(iget(f, i, "request_size"), strlen(REQ1));
	assert_int_equal(iget(f, i, "response_size"), strlen(RESP1));
	assert_false(has(f, i, "missing"));
}

static void test_exchange_fields(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, REQ1);
	assert_int_equal(n_entries(&f), 0);
	s2c(&f, RESP1);
	assert_int_equal(n_entries(&f), 1);
	check_exchange1(&f, 0);
	assert_str(&f, 0, "request_time", "1970-01-01T00:00:00.000001000Z");
	assert_str(&f, 0, "response_time", "1970-01-01T00:00:00.000002000Z");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* The exchange cut into two segments at every pair of positions, and byte by byte. */
static void test_every_split(void **state)
{
	const char *rq = REQ1, *rs = RESP1;
	size_t nq = strlen(rq), ns = strlen(rs), i, j;

	(void)state;
	for (i = 1; i < nq; i++) {
		for (j = 1; j < ns; j += (i % 7) + 1) {
			struct fx f;

			fx_open(&f);
			send_n(&f, TCP_DIR_C2S, rq, i);
			send_n(&f, TCP_DIR_C2S, rq + i, nq - i);
			send_n(&f, TCP_DIR_S2C, rs, j);
			assert_int_equal(n_entries(&f), 0);
			send_n(&f, TCP_DIR_S2C, rs + j, ns - j);
			assert_int_equal(n_entries(&f), 1);
			check_exchange1(&f, 0);
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
		assert_int_equal(n_entries(&f), 1);
		check_exchange1(&f, 0);
		assert_str(&f, 0, "request_time", "1970-01-01T00:00:00.000001000Z");
		fx_free(&f);
	}
}

/*
 * Entries reach the sink without a jansson tree when nothing needs one: a GET's, a form POST's
 * (the GraphQL check has no reason to read its body); a JSON body is read by that check,
 * through the tree.
 */
static void test_no_tree(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(f.with_tree, 0);
	c2s(&f, "POST /form HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
		"Content-Length: 3\r\n\r\na=1");
	s2c(&f, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(f.with_tree, 0);
	assert_str(&f, 1, "request.body.text", "a=1");
	c2s(&f, "POST /j HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
	s2c(&f, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(n_entries(&f), 3);
	assert_int_equal(f.with_tree, 1);
	assert_str(&f, 2, "request.body.text", "{}");
	fx_free(&f);
}

/* ---- pairing ---- */

static void test_keepalive_and_pipelining(void **state)
{
	struct fx f;
	char buf[256];
	int i;

	(void)state;
	fx_open(&f);
	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "GET /k%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		c2s(&f, buf);
		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nk%d", i);
		s2c(&f, buf);
	}
	/* Pipelined: all requests in one segment, all responses in one. */
	c2s(&f, "GET /p0 HTTP/1.1\r\n\r\nGET /p1 HTTP/1.1\r\n\r\nHEAD /p2 HTTP/1.1\r\n\r\n"
		"GET /p3 HTTP/1.1\r\n\r\n");
	assert_int_equal(n_entries(&f), 3);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\np0"
		"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\np1"
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\np3\r\n0\r\n\r\n");
	assert_int_equal(n_entries(&f), 7);
	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "/k%d", i);
		assert_str(&f, i, "request.url", buf);
		assert_str(&f, i, "response.body.text", buf + 1);
	}
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "/p%d", i);
		assert_str(&f, 3 + i, "request.url", buf);
		if (i != 2)
			assert_str(&f, 3 + i, "response.body.text", buf + 1);
	}
	assert_int_equal(iget(&f, 4, "response.status"), 404);
	assert_false(has(&f, 5, "response.body"));
	assert_str(&f, 5, "response.headers.content-length", "1000");
	assert_str(&f, 0, "id", "1-1");
	assert_str(&f, 6, "id", "1-7");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	assert_int_equal(f.with_tree, 0); /* all their fields are in the compact part */
	fx_free(&f);
}

static void test_chunked_trailers(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Checksum: 99\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Server-Timing\r\n\r\n"
		"5\r\nhello\r\n");
	s2c(&f, "6\r\n world\r\n0\r\nServer-Timing: db;dur=53\r\nX-Two: 2\r\n\r\n");
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.body.text", "abcdefg");
	assert_int_equal(iget(&f, 0, "request.body.size"), 7);
	assert_str(&f, 0, "request.trailers.x-checksum", "99");
	assert_str(&f, 0, "response.body.text", "hello world");
	assert_str(&f, 0, "response.trailers.server-timing", "db;dur=53");
	assert_str(&f, 0, "response.trailers.x-two", "2");
	assert_false(has(&f, 0, "response.headers.x-two"));
	/* Wire sizes include the chunk framing. */
	assert_int_equal(iget(&f, 0, "response_size"),
			 strlen("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: "
				"Server-Timing\r\n\r\n5\r\nhello\r\n") +
				 strlen("6\r\n world\r\n0\r\nServer-Timing: db;dur=53\r\nX-Two: "
					"2\r\n\r\n"));
	fx_free(&f);
}

static void test_100_continue(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	s2c(&f, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(n_entries(&f), 0);
	c2s(&f, "data");
	s2c(&f, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
	assert_int_equal(n_entries(&f), 0);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "interim.0.status"), 100);
	assert_str(&f, 0, "interim.0.status_text", "Continue");
	assert_str(&f, 0, "interim.0.time", "1970-01-01T00:00:00.000002000Z");
	assert_int_equal(iget(&f, 0, "interim.1.status"), 102);
	assert_str(&f, 0, "interim.2.headers.link", "</s.css>");
	assert_int_equal(iget(&f, 0, "response.status"), 200);
	assert_str(&f, 0, "request.body.text", "data");
	/* The response time is the final response's. */
	assert_str(&f, 0, "response_time", "1970-01-01T00:00:00.000005000Z");
	fx_free(&f);
}

/* HEAD, 204 and 304 have no body whatever their headers say; the next message follows. */
static void test_bodyless(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "HEAD /h HTTP/1.1\r\n\r\nDELETE /d HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\n"
		"GET /last HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n");
	s2c(&f, "HTTP/1.1 204 No Content\r\n\r\n");
	s2c(&f, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast");
	assert_int_equal(n_entries(&f), 4);
	assert_int_equal(iget(&f, 0, "response.status"), 200);
	assert_int_equal(iget(&f, 1, "response.status"), 204);
	assert_int_equal(iget(&f, 2, "response.status"), 304);
	assert_str(&f, 3, "request.url", "/last");
	assert_str(&f, 3, "response.body.text", "last");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

static void test_until_close(void **state)
{
	struct fx f;

	(void)state;
	/* HTTP/1.0 without a length: the body ends with the connection (FIN). */
	fx_open(&f);
	c2s(&f, "GET /old HTTP/1.0\r\n\r\n");
	s2c(&f, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ");
	gap(&f, TCP_DIR_S2C, 10);
	s2c(&f, "part three");
	assert_int_equal(n_entries(&f), 0);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "version", "1.0");
	assert_false(has(&f, 0, "missing"));
	assert_str(&f, 0, "response.body.text", "part one, part three");
	assert_int_equal(iget(&f, 0, "response.body.gap_bytes"), 10);
	fx_free(&f);

	/* Reset before the end: the response is incomplete. */
	fx_open(&f);
	c2s(&f, "GET /old HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\n\r\nsome");
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "incomplete", "response");
	assert_str(&f, 0, "missing_reason", "connection_reset");
	assert_int_equal(iget(&f, 0, "response.status"), 200);
	fx_free(&f);
}

static void test_gzip_body(void **state)
{
	static const char text[] = "compressed hello hello hello hello";
	unsigned char z[256];
	char head[256];
	z_stream zs = { 0 };
	struct fx f;
	size_t zn;

	(void)state;
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)text;
	zs.avail_in = strlen(text);
	zs.next_out = z;
	zs.avail_out = sizeof(z);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	zn = sizeof(z) - zs.avail_out;
	deflateEnd(&zs);
	fx_open(&f);
	c2s(&f, "GET /z HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
	s2c(&f, head);
	send_n(&f, TCP_DIR_S2C, z, zn);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "response.body.text", text);
	assert_str(&f, 0, "response.body.encoding", "gzip");
	assert_int_equal(iget(&f, 0, "response.body.size"), zn);
	fx_free(&f);
}

/* ---- upgrades ---- */

static void test_h2c_upgrade(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
	s2c(&f, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
	if (!http2_linked()) {
		/* No http2 dissector: the entry ends with the 101. */
		assert_int_equal(n_entries(&f), 1);
		assert_str(&f, 0, "upgrade", "h2c");
		assert_int_equal(iget(&f, 0, "response.status"), 101);
		assert_false(has(&f, 0, "interim"));
		c2s(&f, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
		assert_int_equal(fx_stats(&f).parse_errors, 0);
		fx_free(&f);
		return;
	}
	/* The entry went to http2 with the connection, which completes and emits it. */
	assert_int_equal(n_entries(&f), 0);
	fx_close(&f, TCP_CLOSE_END_OF_INPUT);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.url", "/up");
	assert_str(&f, 0, "upgrade", "h2c");
	assert_int_equal(iget(&f, 0, "interim.0.status"), 101);
	fx_free(&f);
}

static void test_websocket_and_connect(void **state)
{
	static const uint8_t frames[] = { 0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3,
					  'l' ^ 4, 'o' ^ 1, 0x88, 0x00, 0, 0xff };
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	s2c(&f, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	assert_int_equal(n_entries(&f), 1);
	send_n(&f, TCP_DIR_C2S, frames, sizeof(frames));
	send_n(&f, TCP_DIR_S2C, frames, sizeof(frames));
	gap(&f, TCP_DIR_S2C, 100);
	c2s(&f, "GET /not-http-any-more HTTP/1.1\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "upgrade", "websocket");
	assert_int_equal(iget(&f, 0, "response.status"), 101);
	assert_false(has(&f, 0, "missing"));
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);

	/* A declined upgrade stays HTTP/1. */
	fx_open(&f);
	c2s(&f, "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	s2c(&f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	c2s(&f, "GET /next HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(n_entries(&f), 2);
	assert_false(has(&f, 0, "upgrade"));
	assert_str(&f, 1, "request.url", "/next");
	fx_free(&f);

	/* CONNECT: a 2xx makes a tunnel (its bytes are not HTTP/1 of this connection; what
	 * they are is test_tunnel's). */
	fx_open(&f);
	c2s(&f, "CONNECT db.example:443 HTTP/1.1\r\nHost: db.example:443\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 Connection Established\r\n\r\n");
	send_n(&f, TCP_DIR_C2S, "\x16\x03\x01\x00\x05\x01" "ello", 10);
	send_n(&f, TCP_DIR_S2C, "\x16\x03\x03\x00\x02hi", 7);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.method", "CONNECT");
	assert_str(&f, 0, "request.url", "db.example:443");
	assert_str(&f, 0, "tunnel_kind", "tls");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* ---- gaps ---- */

#define RESP_K(body) "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" body

static void send_requests(struct fx *f, int from, int to)
{
	char buf[64];
	int i;

	for (i = from; i < to; i++) {
		snprintf(buf, sizeof(buf), "GET /r%d HTTP/1.1\r\n\r\n", i);
		c2s(f, buf);
	}
}

static void check_pairs(struct fx *f, size_t first, size_t n)
{
	size_t i;

	for (i = first; i < first + n; i++) {
		const char *url = sget(f, i, "request.url");
		const char *body = sget(f, i, "response.body.text");

		if (!url || !body || strcmp(url + 1, body))
			fail_msg("entry %zu: %s answered by %s", i, url ? url : "-", body ? body : "-");
	}
}

/* A whole response lost: its request is the one missing a response, no shift. */
static void test_gap_whole_response(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	send_requests(&f, 0, 1);
	gap(&f, TCP_DIR_S2C, strlen(RESP_K("r0")));
	send_requests(&f, 1, 2);
	s2c(&f, RESP_K("r1"));
	send_requests(&f, 2, 4);
	s2c(&f, RESP_K("r2") RESP_K("r3"));
	assert_int_equal(n_entries(&f), 4);
	assert_str(&f, 0, "request.url", "/r0");
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "capture_gap");
	check_pairs(&f, 1, 3);
	fx_free(&f);

	/* The same with the head lost and the body arriving (as in the real capture). */
	fx_open(&f);
	send_requests(&f, 0, 1);
	gap(&f, TCP_DIR_S2C, strlen(RESP_K("")));
	s2c(&f, "r0");
	send_requests(&f, 1, 3);
	s2c(&f, RESP_K("r1"));
	s2c(&f, RESP_K("r2"));
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "missing", "response");
	check_pairs(&f, 1, 2);
	fx_free(&f);
}

/* Gaps inside bodies of known length are skipped; elsewhere the message is cut. */
static void test_gap_in_body_and_head(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	send_requests(&f, 0, 3);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nr0");
	gap(&f, TCP_DIR_S2C, 6);
	s2c(&f, "xx" RESP_K("r1"));
	/* Cut in the head of r2's response, then its rest and a stray line. */
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Le");
	gap(&f, TCP_DIR_S2C, 3);
	s2c(&f, "th: 2\r\n\r\nr2\r\n");
	assert_int_equal(n_entries(&f), 3);
	assert_false(has(&f, 0, "missing"));
	assert_int_equal(iget(&f, 0, "response.body.gap_bytes"), 6);
	assert_int_equal(iget(&f, 0, "response.body.size"), 4);
	assert_int_equal(iget(&f, 0, "response_size"),
			 strlen("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n") + 10);
	check_pairs(&f, 1, 1);
	assert_str(&f, 2, "incomplete", "response");
	assert_str(&f, 2, "request.url", "/r2");
	assert_int_equal(iget(&f, 2, "response.status"), 200);
	assert_false(has(&f, 2, "response.headers.content-le"));
	/* A gap that ends a body and eats the next response's head. */
	send_requests(&f, 3, 6);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nr3");
	gap(&f, TCP_DIR_S2C, 2 + 10);
	s2c(&f, "Length: 2\r\n\r\nr4" RESP_K("r5"));
	assert_int_equal(n_entries(&f), 6);
	assert_false(has(&f, 3, "missing"));
	assert_str(&f, 4, "missing", "response");
	check_pairs(&f, 5, 1);
	/* Chunked: a gap larger than the chunk cuts the message. */
	send_requests(&f, 6, 8);
	s2c(&f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nr");
	gap(&f, TCP_DIR_S2C, 20);
	s2c(&f, "junk\r\n0\r\n\r\n" RESP_K("r7"));
	assert_int_equal(n_entries(&f), 8);
	assert_str(&f, 6, "incomplete", "response");
	assert_int_equal(iget(&f, 6, "response.status"), 200);
	check_pairs(&f, 7, 1);
	/* Chunked: a gap inside a chunk's data is skipped. */
	send_requests(&f, 8, 9);
	s2c(&f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nr8");
	gap(&f, TCP_DIR_S2C, 2);
	s2c(&f, "zz\r\n0\r\n\r\n");
	assert_int_equal(n_entries(&f), 9);
	assert_false(has(&f, 8, "missing"));
	assert_int_equal(iget(&f, 8, "response.body.gap_bytes"), 2);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

static void test_gap_requests(void **state)
{
	struct fx f;

	(void)state;
	/* A request lost before its response: the response gets a placeholder. */
	fx_open(&f);
	send_requests(&f, 0, 1);
	s2c(&f, RESP_K("r0"));
	gap(&f, TCP_DIR_C2S, 20);
	s2c(&f, RESP_K("r1"));
	send_requests(&f, 2, 3);
	s2c(&f, RESP_K("r2"));
	assert_int_equal(n_entries(&f), 3);
	check_pairs(&f, 0, 1);
	assert_str(&f, 1, "missing", "request");
	assert_str(&f, 1, "missing_reason", "capture_gap");
	assert_str(&f, 1, "response.body.text", "r1");
	check_pairs(&f, 2, 1);
	fx_free(&f);

	/*
	 * The reassembler delivers a packet's data before the gap its acknowledgement proves:
	 * the response of a lost request can come before the gap. No shift either.
	 */
	fx_open(&f);
	send_requests(&f, 0, 1);
	s2c(&f, RESP_K("r0"));
	s2c(&f, RESP_K("r1"));
	gap(&f, TCP_DIR_C2S, 20);
	send_requests(&f, 2, 3);
	s2c(&f, RESP_K("r2"));
	assert_int_equal(n_entries(&f), 3);
	check_pairs(&f, 0, 1);
	assert_str(&f, 1, "missing", "request");
	check_pairs(&f, 2, 1);
	fx_free(&f);

	/* A request cut in its head; its response still pairs with it. */
	fx_open(&f);
	c2s(&f, "GET /r0 HTTP/1.1\r\nHo");
	gap(&f, TCP_DIR_C2S, 5);
	c2s(&f, "xx\r\n\r\nGET /r1 HTTP/1.1\r\n\r\n");
	s2c(&f, RESP_K("r0") RESP_K("r1"));
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "incomplete", "request");
	assert_str(&f, 0, "request.url", "/r0");
	assert_false(has(&f, 0, "request.headers.ho"));
	assert_str(&f, 0, "response.body.text", "r0");
	check_pairs(&f, 1, 1);
	/* A request body gap (Content-Length) is skipped. */
	c2s(&f, "POST /r2 HTTP/1.1\r\nContent-Length: 6\r\n\r\nab");
	gap(&f, TCP_DIR_C2S, 2);
	c2s(&f, "ef");
	s2c(&f, RESP_K("r2"));
	assert_int_equal(n_entries(&f), 3);
	assert_false(has(&f, 2, "missing"));
	assert_int_equal(iget(&f, 2, "request.body.gap_bytes"), 2);
	check_pairs(&f, 2, 1);
	fx_free(&f);
}

/* ---- connection ends ---- */

static void test_close_reasons(void **state)
{
	static const struct {
		enum tcp_close_reason why;
		const char *reason;
	} cases[] = {
		{ TCP_CLOSE_FIN, "connection_closed" },
		{ TCP_CLOSE_RST, "connection_reset" },
		{ TCP_CLOSE_IDLE_TIMEOUT, "timeout" },
		{ TCP_CLOSE_EVICTED, "timeout" },
		{ TCP_CLOSE_END_OF_INPUT, "end_of_capture" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;

		fx_open(&f);
		send_requests(&f, 0, 3);
		s2c(&f, RESP_K("r0") "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nr1");
		c2s(&f, "POST /r3 HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
		fx_close(&f, cases[i].why);
		assert_int_equal(n_entries(&f), 4);
		check_pairs(&f, 0, 1);
		assert_str(&f, 1, "incomplete", "response");
		assert_str(&f, 1, "missing_reason", cases[i].reason);
		assert_int_equal(iget(&f, 1, "response.status"), 200);
		assert_true(json_is_true(jget(json_array_get(f.out, 1), "response.body.truncated")));
		assert_str(&f, 2, "request.url", "/r2");
		assert_str(&f, 2, "missing_reason", cases[i].reason);
		assert_str(&f, 3, "request.url", "/r3");
		assert_str(&f, 3, "missing", "response");
		fx_free(&f);
	}
}

/* Picked up mid-stream: the first bytes are the middle of messages. */
static void test_midstream(void **state)
{
	struct fx f;

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_PORT, NULL);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr0");
	c2s(&f, "tail of a body\r\nGET /r1 HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr1");
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "missing", "request");
	assert_int_equal(iget(&f, 0, "response.status"), 200);
	assert_str(&f, 0, "version", "1.1");
	check_pairs(&f, 1, 1);
	fx_free(&f);
}

/* ---- bounds and hostile input ---- */

static void test_malformed_resync(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	send_requests(&f, 0, 1);
	c2s(&f, "GARBAGE\x01\x02 line\r\n");
	send_requests(&f, 1, 2);
	s2c(&f, RESP_K("r0"));
	s2c(&f, "HTTP/1.1 abc\r\n\r\nnot http at all\n");
	s2c(&f, RESP_K("r1"));
	assert_int_equal(n_entries(&f), 2);
	check_pairs(&f, 0, 2);
	assert_true(fx_stats(&f).parse_errors >= 2);
	fx_free(&f);

	/* Bad Content-Length: the response is cut as a parse error. */
	fx_open(&f);
	send_requests(&f, 0, 2);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n" RESP_K("r1"));
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "incomplete", "response");
	assert_str(&f, 0, "missing_reason", "parse_error");
	check_pairs(&f, 1, 1);
	fx_free(&f);
}

static void test_head_too_long(void **state)
{
	size_t n = HTTP1_HEAD_MAX + 100, i;
	char *big = malloc(n + 64);
	struct fx f;

	(void)state;
	assert_non_null(big);
	strcpy(big, "GET /big HTTP/1.1\r\n");
	for (i = strlen(big); i < n; i += 20)
		memcpy(big + i, "X-Filler: 01234567\r\n", 20);
	big[i] = 0;
	fx_open(&f);
	c2s(&f, big);
	c2s(&f, "\r\nGET /r1 HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n");
	s2c(&f, RESP_K("r1"));
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "incomplete", "request");
	assert_str(&f, 0, "missing_reason", "parse_error");
	assert_int_equal(iget(&f, 0, "response.status"), 431);
	check_pairs(&f, 1, 1);
	assert_true(fx_stats(&f).parse_errors >= 1);
	fx_free(&f);
	free(big);
}

/* Endless interim responses and trailers are bounded. */
static void test_interim_and_trailer_bounds(void **state)
{
	struct fx f;
	size_t i;

	(void)state;
	fx_open(&f);
	c2s(&f, "GET /i HTTP/1.1\r\n\r\n");
	for (i = 0; i < HTTP1_INTERIM_MAX + 5; i++)
		s2c(&f, "HTTP/1.1 102 Processing\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n");
	for (i = 0; i < HTTP1_HEAD_MAX / 10; i++)
		s2c(&f, "X-Trailer: 12345678\r\n");
	s2c(&f, "\r\n");
	c2s(&f, "GET /r1 HTTP/1.1\r\n\r\n");
	s2c(&f, RESP_K("r1"));
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(json_array_size(jget(json_array_get(f.out, 0), "interim")),
			 HTTP1_INTERIM_MAX);
	assert_int_equal(iget(&f, 0, "interim_dropped"), 5);
	assert_str(&f, 0, "incomplete", "response");
	assert_str(&f, 0, "missing_reason", "parse_error");
	check_pairs(&f, 1, 1);
	fx_free(&f);
}

/* More requests waiting than the bound: the oldest are given up, pairing stays right. */
static void test_pending_bound(void **state)
{
	unsigned over = 6, total = HTTP1_PENDING_MAX + over, i;
	struct fx f;
	char buf[80];

	(void)state;
	fx_open(&f);
	send_requests(&f, 0, (int)total);
	assert_int_equal(n_entries(&f), over);
	for (i = 0; i < total; i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nr%u",
			 i < 10 ? 2 : 3, i);
		s2c(&f, buf);
	}
	assert_int_equal(n_entries(&f), total + over);
	for (i = 0; i < over; i++) {
		assert_str(&f, i, "missing", "response");
		assert_str(&f, over + i, "missing", "request");
	}
	check_pairs(&f, 2 * over, total - over);
	assert_int_equal(fx_stats(&f).parse_errors, over);
	fx_free(&f);
}

static void test_body_max(void **state)
{
	struct dissect_config cfg = { .body_max = 4 };
	struct fx f;

	(void)state;
	fx_open_cfg(&f, TCP_ROLE_SYN, &cfg);
	c2s(&f, "GET /b HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "response.body.size"), 10);
	assert_str(&f, 0, "response.body.text", "0123");
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "response.body.truncated")));
	fx_free(&f);
}

/* Arbitrary bytes in both directions, with gaps: no crash, bounded, counted. */
static void test_hostile(void **state)
{
	static const char *const chunks[] = {
		"GET / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"\0\0\0\0\r\n\r\n",
		"HTTP/1.1 999 \xff\xfe\r\nX: \x80\x81\r\n\r\n",
		"GET /\xc3\x28 HTTP/1.1\r\nH\xc3\xa9: v\r\n\r\n",
	};
	unsigned seed = 12345, round;
	struct fx f;

	(void)state;
	fx_open(&f);
	for (round = 0; round < 2000; round++) {
		uint8_t buf[97];
		size_t n = 0, i;
		unsigned r;

		seed = seed * 1103515245u + 12345u;
		r = seed >> 16;
		if (r % 5 == 0) {
			const char *s = chunks[r % (sizeof(chunks) / sizeof(chunks[0]))];

			send_n(&f, r & 1 ? TCP_DIR_S2C : TCP_DIR_C2S, s, strlen(s) ? strlen(s) : 8);
			continue;
		}
		if (r % 11 == 0) {
			gap(&f, r & 2 ? TCP_DIR_S2C : TCP_DIR_C2S, r % 300);
			continue;
		}
		n = 1 + r % sizeof(buf);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = "GET HTTP/1.1 200\r\n:ab0"[(seed >> 16) % 22];
		}
		send_n(&f, r & 4 ? TCP_DIR_S2C : TCP_DIR_C2S, buf, n);
	}
	fx_close(&f, TCP_CLOSE_RST);
	fx_free(&f);
}

/* ---- the fast path (http1_scan.h) against http_parser ---- */

/* A step of a scenario: bytes of one direction (dir 2: a gap of `gap` bytes of dir & 1). */
struct step {
	int dir;
	const char *s;
	uint64_t gap;
};

/* The entries without their times: a message sent byte by byte has other times. */
static void strip_times(json_t *v)
{
	static const char *const keys[] = {"request_time", "response_time", "elapsed_ms", "time"};
	json_t *m;
	const char *k;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			strip_times(m);
		return;
	}
	if (!json_is_object(v))
		return;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_del(v, keys[i]);
	json_object_foreach(v, k, m)
		strip_times(m);
}

/* The scenario's entries (and parse errors) with each step sent in pieces of at most `piece`
 * bytes (0: whole), as one JSON text. */
static char *run_steps(const struct step *st, size_t n, size_t piece, bool close_fin)
{
	struct dissect_stats ds;
	struct fx f;
	char *s, *out;

	fx_open(&f);
	for (size_t i = 0; i < n; i++) {
		enum tcp_dir dir = st[i].dir & 1 ? TCP_DIR_S2C : TCP_DIR_C2S;
		size_t len = strlen(st[i].s), off = 0;

		if (st[i].dir & 2) {
			gap(&f, dir, st[i].gap);
			continue;
		}
		while (off < len) {
			size_t k = piece && len - off > piece ? piece : len - off;

			send_n(&f, dir, st[i].s + off, k);
			off += k;
		}
	}
	fx_close(&f, close_fin ? TCP_CLOSE_FIN : TCP_CLOSE_RST);
	ds = fx_stats(&f);
	strip_times(f.out);
	s = json_dumps(f.out, JSON_COMPACT);
	assert_non_null(s);
	assert_true(asprintf(&out, "%s parse_errors=%llu", s,
			     (unsigned long long)ds.parse_errors) > 0);
	free(s);
	fx_free(&f);
	return out;
}

/*
 * Every scenario gives the same entries whole (heads scanned, bodies framed by http1.c,
 * chunk lines and trailers handed to a primed http_parser) and byte by byte (no head is
 * ever whole: all of it http_parser's, as before the fast path), and in pieces of 23 bytes
 * (both mixed).
 */
static void test_fast_path_as_parser(void **state)
{
	static const struct step s_len[] = {
		{0, "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", 0},
		{0, "\r\nPOST /p HTTP/1.0\r\nContent-Length: 3   \r\nX-Empty:\r\nX-Ws: \t v \t\r\n\r\nabc", 0},
		{1, "HTTP/1.0 201 \r\nContent-Length: 0\r\n\r\n", 0},
	};
	static const struct step s_chunked[] = {
		{0, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n", 0},
		{0, "GET /ext HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", 0},
		{0, "GET /lf HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiXY0\r\n\r\n", 0},
	};
	static const struct step s_nobody[] = {
		{0, "HEAD /h HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
		    "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", 0},
		{0, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 0},
		{1, "HTTP/1.1 100 Continue\r\n\r\n", 0},
		{0, "ok", 0},
		{1, "HTTP/1.1 200 OK\r\nServer: s\r\n\r\nuntil the end", 0},
	};
	static const struct step s_gaps[] = {
		{0, "GET /g1 HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 0},
		{3, "", 8},
		{0, "GET /g2 HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab", 0},
		{3, "", 6},
		{1, "\r\n0\r\n\r\n", 0},
		{0, "GET /g3 HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", 0},
		{3, "", 9},
		{0, "GET /g4 HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\n\r\nabc", 0},
		{3, "", 100},
	};
	static const struct step s_bad[] = {
		{0, "GET /b HTTP/1.1\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0},
		{0, "GET /d HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 0},
		{0, "GET /f HTTP/1.1\r\nA: b\r\n folded\r\nUpgrade: websocket\r\n\r\n", 0},
		{1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
		{0, "GET /v HTTP/1.1\r\nX: a\x01b\r\n\r\nGET /lf HTTP/1.1\nA: b\n\n", 0},
		{1, "HTTP/1.1 200 OK\r\nContent-Length: 1\t\r\n\r\nx", 0},
	};
	static const struct {
		const struct step *st;
		size_t n;
		bool fin;
	} sc[] = {
		{s_len, 4, true},   {s_chunked, 6, true}, {s_nobody, 6, true},
		{s_nobody, 6, false}, {s_gaps, 13, true}, {s_bad, 7, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		char *whole = run_steps(sc[i].st, sc[i].n, 0, sc[i].fin);
		char *bytes = run_steps(sc[i].st, sc[i].n, 1, sc[i].fin);
		char *pieces = run_steps(sc[i].st, sc[i].n, 23, sc[i].fin);

		if (getenv("TEST_VERBOSE"))
			fprintf(stderr, "scenario %zu: %s\n", i, whole);
		assert_string_equal(whole, bytes);
		assert_string_equal(whole, pieces);
		free(whole);
		free(bytes);
		free(pieces);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_exchange_fields),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_no_tree),
		cmocka_unit_test(test_keepalive_and_pipelining),
		cmocka_unit_test(test_chunked_trailers),
		cmocka_unit_test(test_100_continue),
		cmocka_unit_test(test_bodyless),
		cmocka_unit_test(test_until_close),
		cmocka_unit_test(test_gzip_body),
		cmocka_unit_test(test_h2c_upgrade),
		cmocka_unit_test(test_websocket_and_connect),
		cmocka_unit_test(test_gap_whole_response),
		cmocka_unit_test(test_gap_in_body_and_head),
		cmocka_unit_test(test_gap_requests),
		cmocka_unit_test(test_close_reasons),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_malformed_resync),
		cmocka_unit_test(test_head_too_long),
		cmocka_unit_test(test_interim_and_trailer_bounds),
		cmocka_unit_test(test_pending_bound),
		cmocka_unit_test(test_body_max),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_fast_path_as_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
