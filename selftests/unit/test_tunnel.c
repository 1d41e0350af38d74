// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: tunnels (dissect/tunnel.c, the CONNECT hand-off in dissect/http1.c and the
 * engine's inner connections) through the engine's byte-stream interface. A CONNECT answered
 * with 2xx, then inside: HTTP/1 exchanges, h2c with prior knowledge made by two real nghttp2
 * sessions (client and server talking to each other), a TLS ClientHello, a server that speaks
 * first, nothing; refused CONNECTs (the connection stays HTTP/1); bytes the client sent before
 * the answer; gaps and ends inside; nesting and its bound. Every entry is checked against the
 * schema.
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
#include <nghttp2/nghttp2.h>

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/tunnel.h"
#include "test_stream.h"

#define C2S TCP_DIR_C2S
#define S2C TCP_DIR_S2C

#define CONNECT_REQ "CONNECT backend.test:8080 HTTP/1.1\r\nHost: backend.test:8080\r\n\r\n"
#define CONNECT_OK "HTTP/1.1 200 Connection established\r\n\r\n"

static void fx_open_cfg(struct fx *f, const struct dissect_config *cfg)
{
	fx_open_flow(f, 7, 3128, TCP_ROLE_SYN, cfg);
}

static void fx_open(struct fx *f)
{
	fx_open_cfg(f, NULL);
}

/* Entry i came through the tunnel opened by entry `outer` to authority. */
static void assert_inside(struct fx *f, size_t i, size_t outer, const char *authority)
{
	assert_str(f, i, "tunnel.id", sget(f, outer, "id"));
	assert_str(f, i, "tunnel.authority", authority);
	assert_int_equal(iget(f, i, "flow_id"), iget(f, outer, "flow_id"));
	assert_str(f, i, "src.ip", sget(f, outer, "src.ip"));
	assert_str(f, i, "dst.ip", sget(f, outer, "dst.ip"));
}

/* ---- HTTP/1 inside ---- */

static void test_http1_inside(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, "GET http://other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	/* Not emitted yet: the tunnel's kind comes with its first bytes. */
	assert_int_equal(n_entries(&f), 1);
	c2s(&f, "GET /a HTTP/1.1\r\nHost: backend.test\r\n\r\n");
	assert_int_equal(n_entries(&f), 2);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	c2s(&f, "POST /b HTTP/1.1\r\nHost: backend.test\r\nContent-Length: 3\r\n\r\nabc");
	s2c(&f, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
	/* A request that is never answered: missing its response when the carrier closes. */
	c2s(&f, "GET /c HTTP/1.1\r\nHost: backend.test\r\n\r\n");
	assert_int_equal(n_entries(&f), 4);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 5);

	/* Before the CONNECT: an ordinary proxied request, not in a tunnel. */
	assert_str(&f, 0, "id", "7-1");
	assert_str(&f, 0, "request.url", "http://other.test/");
	assert_false(has(&f, 0, "tunnel"));
	assert_false(has(&f, 0, "tunnel_kind"));
	/* The CONNECT: numbered before what came through it. */
	assert_str(&f, 1, "id", "7-2");
	assert_str(&f, 1, "request.method", "CONNECT");
	assert_str(&f, 1, "request.url", "backend.test:8080");
	assert_int_equal(iget(&f, 1, "response.status"), 200);
	assert_str(&f, 1, "tunnel_kind", "cleartext");
	assert_false(has(&f, 1, "tunnel"));
	assert_false(has(&f, 1, "missing"));
	/* Inside. */
	assert_str(&f, 2, "id", "7-3");
	assert_str(&f, 2, "request.url", "/a");
	assert_int_equal(iget(&f, 2, "response.status"), 200);
	assert_str(&f, 2, "response.body.text", "hello");
	assert_inside(&f, 2, 1, "backend.test:8080");
	assert_str(&f, 3, "id", "7-4");
	assert_str(&f, 3, "request.method", "POST");
	assert_str(&f, 3, "request.body.text", "abc");
	assert_int_equal(iget(&f, 3, "response.status"), 201);
	assert_str(&f, 3, "response.body.text", "hi");
	assert_inside(&f, 3, 1, "backend.test:8080");
	assert_str(&f, 4, "id", "7-5");
	assert_str(&f, 4, "request.url", "/c");
	assert_str(&f, 4, "missing", "response");
	assert_str(&f, 4, "missing_reason", "connection_closed");
	assert_inside(&f, 4, 1, "backend.test:8080");
	/* The text line says where the far end is. */
	assert_non_null(strstr(line_of(&f, 2), " in tunnel 7-2 to backend.test:8080 GET /a -> 200"));
	assert_null(strstr(line_of(&f, 1), " in tunnel"));
	assert_int_equal(iget(&f, 2, "request_size"),
			 (long long)strlen("GET /a HTTP/1.1\r\nHost: backend.test\r\n\r\n"));

	assert_int_equal(fx_stats(&f).tunnels, 1);
	assert_int_equal(fx_stats(&f).tunnels_tls, 0);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	assert_int_equal(fx_stats(&f).conns_unknown, 0);
	assert_int_equal(fx_stats(&f).entries, 5);
	fx_free(&f);
}

/* The 2xx and the first bytes inside in one chunk; inside bytes split at every position. */
static void test_http1_inside_splits(void **state)
{
	static const char s2c_all[] = CONNECT_OK "HTTP/1.1 204 No Content\r\n\r\n";
	static const char req[] = "GET /split HTTP/1.1\r\nHost: b\r\n\r\n";
	size_t cut;

	(void)state;
	for (cut = 1; cut < sizeof(req) - 1; cut++) {
		struct fx f;

		fx_open(&f);
		c2s(&f, CONNECT_REQ);
		s2c(&f, CONNECT_OK);
		fx_send(&f, C2S, req, cut);
		fx_send(&f, C2S, req + cut, sizeof(req) - 1 - cut);
		s2c(&f, "HTTP/1.1 204 No Content\r\n\r\n");
		fx_close(&f, TCP_CLOSE_FIN);
		if (n_entries(&f) != 2)
			fail_msg("cut %zu: %zu entries", cut, n_entries(&f));
		assert_str(&f, 0, "tunnel_kind", "cleartext");
		assert_str(&f, 1, "request.url", "/split");
		assert_int_equal(iget(&f, 1, "response.status"), 204);
		assert_inside(&f, 1, 0, "backend.test:8080");
		assert_int_equal(fx_stats(&f).parse_errors, 0);
		fx_free(&f);
	}
	/* A server speaking first (the 2xx and a banner in one chunk) is not TLS either. */
	{
		struct fx f;

		fx_open(&f);
		c2s(&f, CONNECT_REQ);
		fx_send(&f, S2C, s2c_all, sizeof(s2c_all) - 1);
		fx_close(&f, TCP_CLOSE_FIN);
		assert_int_equal(n_entries(&f), 2);
		assert_str(&f, 0, "tunnel_kind", "cleartext");
		/* A response without a request, from inside. */
		assert_int_equal(iget(&f, 1, "response.status"), 204);
		assert_str(&f, 1, "missing", "request");
		assert_inside(&f, 1, 0, "backend.test:8080");
		fx_free(&f);
	}
}

/* The client sent its first bytes before the 2xx came: they are held, then go inside. */
static void test_client_first(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f);
	c2s(&f, CONNECT_REQ "GET /early HTTP/1.1\r\nHost: b\r\n\r\n");
	assert_int_equal(n_entries(&f), 0);
	s2c(&f, CONNECT_OK);
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "request.method", "CONNECT");
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	assert_str(&f, 1, "request.url", "/early");
	assert_int_equal(iget(&f, 1, "response.status"), 200);
	assert_inside(&f, 1, 0, "backend.test:8080");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* ---- h2c inside: a real nghttp2 client and server ---- */

struct h2peer {
	nghttp2_session *s;
	uint8_t buf[1 << 16];
	size_t n;
	int responses;  /* client: responses whose stream closed */
	int status;     /* client: the last :status */
	char body[64];  /* client: the last response body */
	size_t body_len;
};

static ssize_t h2_send(nghttp2_session *s, const uint8_t *p, size_t n, int flags, void *ud)
{
	struct h2peer *h = ud;

	(void)s;
	(void)flags;
	assert_true(h->n + n <= sizeof(h->buf));
	memcpy(h->buf + h->n, p, n);
	h->n += n;
	return (ssize_t)n;
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t sid, uint8_t *out, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	const char *body = src->ptr;
	size_t n = strlen(body);

	(void)s;
	(void)sid;
	(void)ud;
	assert_true(n <= len);
	memcpy(out, body, n);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v)                                                                           \
	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

/* Server: answer every request when its headers (and END_STREAM) are in. */
static int h2_server_frame(nghttp2_session *s, const nghttp2_frame *fr, void *ud)
{
	static const nghttp2_nv resp[] = { NV(":status", "200"), NV("content-type", "text/plain") };
	nghttp2_data_provider dp = { .source.ptr = (void *)"inside h2c",
				     .read_callback = h2_read_body };

	(void)ud;
	if (fr->hd.type == NGHTTP2_HEADERS && (fr->hd.flags & NGHTTP2_FLAG_END_STREAM))
		assert_int_equal(nghttp2_submit_response(s, fr->hd.stream_id, resp, 2, &dp), 0);
	return 0;
}

static int h2_client_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
			    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
			    void *ud)
{
	struct h2peer *h = ud;

	(void)s;
	(void)fr;
	(void)flags;
	(void)valuelen;
	if (namelen == 7 && !memcmp(name, ":status", 7))
		h->status = atoi((const char *)value);
	return 0;
}

static int h2_client_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *p,
			  size_t n, void *ud)
{
	struct h2peer *h = ud;

	(void)s;
	(void)flags;
	(void)sid;
	if (h->body_len + n < sizeof(h->body)) {
		memcpy(h->body + h->body_len, p, n);
		h->body_len += n;
	}
	return 0;
}

static int h2_client_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
	struct h2peer *h = ud;

	(void)s;
	(void)sid;
	(void)err;
	h->responses++;
	return 0;
}

/* Deliver what each peer wrote to the other and to floe, until both are quiet. */
static void h2_pump(struct fx *f, struct h2peer *cl, struct h2peer *sv)
{
	int rounds;

	for (rounds = 0; rounds < 32; rounds++) {
		assert_int_equal(nghttp2_session_send(cl->s), 0);
		assert_int_equal(nghttp2_session_send(sv->s), 0);
		if (!cl->n && !sv->n)
			return;
		if (cl->n) {
			fx_send(f, C2S, cl->buf, cl->n);
			assert_int_equal(nghttp2_session_mem_recv(sv->s, cl->buf, cl->n), cl->n);
			cl->n = 0;
		}
		if (sv->n) {
			fx_send(f, S2C, sv->buf, sv->n);
			assert_int_equal(nghttp2_session_mem_recv(cl->s, sv->buf, sv->n), sv->n);
			sv->n = 0;
		}
	}
	fail_msg("the HTTP/2 peers never went quiet");
}

static void test_h2c_inside(void **state)
{
	static const nghttp2_nv req[][4] = {
		{ NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "backend.test:8080"),
		  NV(":path", "/one") },
		{ NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "backend.test:8080"),
		  NV(":path", "/two") },
	};
	static struct h2peer cl, sv;
	nghttp2_session_callbacks *cb;
	struct fx f;
	size_t i;

	(void)state;
	memset(&cl, 0, sizeof(cl));
	memset(&sv, 0, sizeof(sv));
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_server_frame);
	assert_int_equal(nghttp2_session_server_new(&sv.s, cb, &sv), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_client_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_client_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_client_close);
	assert_int_equal(nghttp2_session_client_new(&cl.s, cb, &cl), 0);
	nghttp2_session_callbacks_del(cb);

	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	/* The client's preface, SETTINGS and two requests; the server's SETTINGS and answers. */
	assert_int_equal(nghttp2_submit_settings(cl.s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	assert_int_equal(nghttp2_submit_settings(sv.s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	for (i = 0; i < 2; i++)
		assert_true(nghttp2_submit_request(cl.s, NULL, req[i], 4, NULL, NULL) > 0);
	h2_pump(&f, &cl, &sv);
	/* The client's own view: both answered. */
	assert_int_equal(cl.responses, 2);
	assert_int_equal(cl.status, 200);
	fx_close(&f, TCP_CLOSE_FIN);

	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "request.method", "CONNECT");
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	for (i = 1; i < 3; i++) {
		assert_str(&f, i, "version", "2");
		assert_str(&f, i, "request.path", i == 1 ? "/one" : "/two");
		assert_str(&f, i, "request.authority", "backend.test:8080");
		assert_int_equal(iget(&f, i, "stream_id"), (long long)(2 * i - 1));
		assert_int_equal(iget(&f, i, "response.status"), 200);
		assert_str(&f, i, "response.body.text", "inside h2c");
		assert_false(has(&f, i, "missing"));
		assert_inside(&f, i, 0, "backend.test:8080");
	}
	assert_int_equal(fx_stats(&f).tunnels, 1);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	/* The carrier is http1, what it carried http2: both counted. */
	assert_int_equal(fx_stats(&f).conns, 2);
	fx_free(&f);
	nghttp2_session_del(cl.s);
	nghttp2_session_del(sv.s);
}

/* ---- TLS inside ---- */

/* The first bytes of a real TLS 1.3 ClientHello record (RFC 8446 4.1.2), cut short. */
static const uint8_t client_hello[] = {
	0x16, 0x03, 0x01, 0x02, 0x00,             /* handshake record, 512 bytes */
	0x01, 0x00, 0x01, 0xfc,                   /* ClientHello, 508 bytes */
	0x03, 0x03,                               /* legacy_version */
	0x5a, 0x1b, 0x7c, 0x33, 0x00, 0x11, 0x22, 0x33, /* random ... */
};

static void test_tls_inside(void **state)
{
	static const uint8_t server_hello[] = { 0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00 };
	size_t cut;

	(void)state;
	/* Whole, and split after every byte of the record header. */
	for (cut = 0; cut <= 6; cut++) {
		struct fx f;

		fx_open(&f);
		c2s(&f, "CONNECT db.test:443 HTTP/1.1\r\nHost: db.test:443\r\n\r\n");
		s2c(&f, "HTTP/1.1 200 Connection Established\r\nProxy-Agent: x\r\n\r\n");
		if (cut)
			fx_send(&f, C2S, client_hello, cut);
		fx_send(&f, C2S, client_hello + cut, sizeof(client_hello) - cut);
		fx_send(&f, S2C, server_hello, sizeof(server_hello));
		/* Encrypted application data that happens to look like HTTP/1 is not parsed. */
		c2s(&f, "GET /not-really HTTP/1.1\r\n\r\n");
		fx_close(&f, TCP_CLOSE_FIN);
		assert_int_equal(n_entries(&f), 1);
		assert_str(&f, 0, "request.url", "db.test:443");
		assert_str(&f, 0, "tunnel_kind", "tls");
		assert_int_equal(fx_stats(&f).tunnels_tls, 1);
		assert_int_equal(fx_stats(&f).tunnels, 0);
		assert_int_equal(fx_stats(&f).parse_errors, 0);
		assert_int_equal(fx_stats(&f).conns_unknown, 0);
		fx_free(&f);
	}
}

/* What is and is not a ClientHello's start. */
static void test_tls_recognition(void **state)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02 };
	static const uint8_t sslv4[] = { 0x16, 0x03, 0x05, 0x00, 0x40, 0x01 };
	static const uint8_t big[] = { 0x16, 0x03, 0x01, 0x48, 0x01, 0x01 };
	static const uint8_t tiny[] = { 0x16, 0x03, 0x01, 0x00, 0x03, 0x01 };
	static const uint8_t server[] = { 0x16, 0x03, 0x03, 0x00, 0x40, 0x02 };

	(void)state;
	assert_int_equal(tunnel_tls_client_hello(client_hello, sizeof(client_hello)), 1);
	assert_int_equal(tunnel_tls_client_hello(client_hello, 6), 1);
	assert_int_equal(tunnel_tls_client_hello(client_hello, 5), -1);
	assert_int_equal(tunnel_tls_client_hello(client_hello, 1), -1);
	assert_int_equal(tunnel_tls_client_hello(client_hello, 0), -1);
	assert_int_equal(tunnel_tls_client_hello(alert, sizeof(alert)), 0);
	assert_int_equal(tunnel_tls_client_hello(alert, 1), 0);
	assert_int_equal(tunnel_tls_client_hello(sslv4, sizeof(sslv4)), 0);
	assert_int_equal(tunnel_tls_client_hello(sslv4, 3), 0);
	assert_int_equal(tunnel_tls_client_hello(big, sizeof(big)), 0);
	assert_int_equal(tunnel_tls_client_hello(tiny, sizeof(tiny)), 0);
	assert_int_equal(tunnel_tls_client_hello(server, sizeof(server)), 0);
	assert_int_equal(tunnel_tls_client_hello((const uint8_t *)"GET / ", 6), 0);
	assert_int_equal(tunnel_tls_client_hello((const uint8_t *)"PRI * ", 6), 0);
}

/* ---- refused CONNECTs ---- */

static void test_refused(void **state)
{
	struct fx f;

	(void)state;
	/* 407 with a body: the connection stays HTTP/1; the retry with credentials tunnels. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
		"Content-Length: 6\r\n\r\ndenied");
	c2s(&f, "CONNECT backend.test:8080 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n\r\n");
	s2c(&f, CONNECT_OK);
	c2s(&f, "GET /after-auth HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 3);
	assert_int_equal(iget(&f, 0, "response.status"), 407);
	assert_str(&f, 0, "response.body.text", "denied");
	assert_false(has(&f, 0, "tunnel_kind"));
	assert_str(&f, 1, "id", "7-2");
	assert_str(&f, 1, "tunnel_kind", "cleartext");
	assert_str(&f, 2, "request.url", "/after-auth");
	assert_inside(&f, 2, 1, "backend.test:8080");
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);

	/* 403: the client's next bytes, held while the answer was awaited, are HTTP/1 again. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	c2s(&f, "GET /plain HTTP/1.1\r\nHost: proxy\r\n\r\n");
	s2c(&f, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 2);
	assert_int_equal(iget(&f, 0, "response.status"), 403);
	assert_false(has(&f, 0, "tunnel_kind"));
	assert_str(&f, 1, "request.url", "/plain");
	assert_int_equal(iget(&f, 1, "response.status"), 200);
	assert_false(has(&f, 1, "tunnel"));
	assert_int_equal(fx_stats(&f).tunnels, 0);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);

	/* 502 then close: the CONNECT entry alone, nothing inside. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "response.status"), 502);
	assert_false(has(&f, 0, "tunnel_kind"));
	fx_free(&f);
}

/* ---- ends, gaps, bounds ---- */

static void test_empty_and_ends(void **state)
{
	struct fx f;

	(void)state;
	/* Accepted, closed before a byte went through. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "tunnel_kind", "empty");
	assert_false(has(&f, 0, "missing"));
	assert_int_equal(fx_stats(&f).tunnels, 0);
	fx_free(&f);

	/* Three client bytes that cannot start TLS: decided at once. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	c2s(&f, "GET");
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(fx_stats(&f).tunnels, 1);
	fx_free(&f);

	/* Three bytes that may start a ClientHello, then a reset: held, and not dissected. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	fx_send(&f, C2S, client_hello, 3);
	assert_int_equal(n_entries(&f), 0);
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "tunnel_kind", "tls");
	assert_int_equal(fx_stats(&f).tunnels, 0);
	fx_free(&f);

	/* A response cut by the end of the capture inside the tunnel. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	c2s(&f, "GET /slow HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
	fx_close(&f, TCP_CLOSE_END_OF_INPUT);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 1, "incomplete", "response");
	assert_str(&f, 1, "missing_reason", "end_of_capture");
	assert_inside(&f, 1, 0, "backend.test:8080");
	fx_free(&f);
}

static void test_gaps(void **state)
{
	struct fx f;

	(void)state;
	/* A gap in a body inside: skipped there, the next exchange pairs right. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	c2s(&f, "GET /1 HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
	fx_gap(&f, S2C, 8);
	c2s(&f, "GET /2 HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 3);
	assert_int_equal(iget(&f, 1, "response.body.gap_bytes"), 8);
	assert_inside(&f, 1, 0, "backend.test:8080");
	assert_str(&f, 2, "request.url", "/2");
	assert_str(&f, 2, "response.body.text", "z");
	assert_inside(&f, 2, 0, "backend.test:8080");
	assert_int_equal(fx_stats(&f).gaps, 2); /* the carrier's and the tunnel's */
	fx_free(&f);

	/* The tunnel's first bytes lost: detection picks the next request up. */
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	fx_gap(&f, C2S, 30);
	c2s(&f, "GET /after-gap HTTP/1.1\r\nHost: backend.test:8080\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	/* As on any connection whose first client bytes were lost (docs/http1.md, "Gaps"): a
	 * request was lost there, and the next response is taken for its answer. */
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	assert_str(&f, 1, "missing", "request");
	assert_str(&f, 1, "missing_reason", "capture_gap");
	assert_inside(&f, 1, 0, "backend.test:8080");
	assert_str(&f, 2, "request.url", "/after-gap");
	assert_inside(&f, 2, 0, "backend.test:8080");
	fx_free(&f);
}

/* Not HTTP, not TLS inside: counted unrecognised, nothing invented. */
static void test_unknown_inside(void **state)
{
	static const uint8_t noise[] = { 0x00, 0x01, 0x02, 0xfe, 0xff, 0x10, 0x20, 0x30 };
	struct fx f;
	int i;

	(void)state;
	fx_open(&f);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	for (i = 0; i < 40; i++) {
		fx_send(&f, C2S, noise, sizeof(noise));
		fx_send(&f, S2C, noise, sizeof(noise));
	}
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	assert_int_equal(fx_stats(&f).conns_unknown, 1);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

/* CONNECT inside CONNECT: each level refers to the one around it, down to the bound. */
static void test_nested(void **state)
{
	char req[128];
	struct fx f;
	unsigned i, levels = DISSECT_MAX_TUNNEL_DEPTH + 1;

	(void)state;
	fx_open(&f);
	for (i = 0; i < levels; i++) {
		snprintf(req, sizeof(req), "CONNECT hop%u.test:80 HTTP/1.1\r\n\r\n", i);
		c2s(&f, req);
		s2c(&f, CONNECT_OK);
	}
	c2s(&f, "GET /deep HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	/* The CONNECTs; the innermost tunnel is one too deep, its request not dissected. */
	assert_int_equal(n_entries(&f), levels);
	for (i = 0; i < levels; i++) {
		snprintf(req, sizeof(req), "hop%u.test:80", i);
		assert_str(&f, i, "request.url", req);
		snprintf(req, sizeof(req), "7-%u", i + 1);
		assert_str(&f, i, "id", req);
		if (i) {
			snprintf(req, sizeof(req), "hop%u.test:80", i - 1);
			assert_inside(&f, i, i - 1, req);
		} else {
			assert_false(has(&f, i, "tunnel"));
		}
		assert_str(&f, i, "tunnel_kind", i + 1 < levels ? "cleartext" : "not_dissected");
	}
	assert_int_equal(fx_stats(&f).tunnels, DISSECT_MAX_TUNNEL_DEPTH);
	fx_free(&f);
}

/* A small per-direction buffer inside: the inner connection holds to the same bound. */
static void test_inner_buffer_bound(void **state)
{
	struct dissect_config cfg = { .max_buffer_per_dir = 256 };
	char head[600];
	struct fx f;

	(void)state;
	fx_open_cfg(&f, &cfg);
	c2s(&f, CONNECT_REQ);
	s2c(&f, CONNECT_OK);
	/* A request head longer than the bound, sent in pieces the parser cannot finish. */
	memset(head, 'a', sizeof(head));
	memcpy(head, "GET /", 5);
	fx_send(&f, C2S, head, sizeof(head));
	c2s(&f, " HTTP/1.1\r\n\r\n");
	c2s(&f, "GET /next HTTP/1.1\r\n\r\n");
	s2c(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	fx_close(&f, TCP_CLOSE_FIN);
	assert_true(n_entries(&f) >= 2);
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	assert_str(&f, n_entries(&f) - 1, "request.url", "/next");
	assert_inside(&f, n_entries(&f) - 1, 0, "backend.test:8080");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http1_inside),
		cmocka_unit_test(test_http1_inside_splits),
		cmocka_unit_test(test_client_first),
		cmocka_unit_test(test_h2c_inside),
		cmocka_unit_test(test_tls_inside),
		cmocka_unit_test(test_tls_recognition),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_empty_and_ends),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_unknown_inside),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_inner_buffer_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
