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
#include "dissect/http2.h"
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
		/* The CONNECT, and the TLS handshake inside (its ClientHello cut: the record
		 * claims 508 bytes) as the tls dissector sees it (dissect/tls.h). */
		assert_int_equal(n_entries(&f), 2);
		assert_str(&f, 0, "request.url", "db.test:443");
		assert_str(&f, 0, "tunnel_kind", "tls");
		assert_str(&f, 1, "protocol", "tls");
		assert_str(&f, 1, "incomplete", "request");
		assert_inside(&f, 1, 0, "db.test:443");
		assert_int_equal(fx_stats(&f).tunnels_tls, 1);
		assert_int_equal(fx_stats(&f).tunnels, 1);
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
	assert_int_equal(fx_stats(&f).tunnels, 1); /* opened for the handshake, which never came */
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

/* ---- HTTP/2 CONNECT (RFC 9113 8.5) and extended CONNECT (RFC 8441) ---- */

/* Bytes one DATA frame carries (its source), and whether it ends the stream. */
struct chunk {
	const void *p;
	size_t n;
	bool end;
};

static ssize_t chunk_read(nghttp2_session *s, int32_t sid, uint8_t *out, size_t len,
			  uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	const struct chunk *ck = src->ptr;

	(void)s;
	(void)sid;
	(void)ud;
	assert_true(ck->n <= len);
	memcpy(out, ck->p, ck->n);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (!ck->end)
		*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	return (ssize_t)ck->n;
}

/* One DATA frame of n bytes on sid (ck must live until the next pump). */
static void h2_data(nghttp2_session *s, int32_t sid, struct chunk *ck, const void *p, size_t n,
		    bool end)
{
	nghttp2_data_provider dp = { .source.ptr = ck, .read_callback = chunk_read };

	ck->p = p;
	ck->n = n;
	ck->end = end;
	assert_int_equal(nghttp2_submit_data(s, end ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE,
					     sid, &dp), 0);
}

/*
 * The proxy's side: a CONNECT is answered with connect_status (2xx: a head without
 * END_STREAM, the tunnel stays open; else with END_STREAM; 0: not at once). The test then plays the target's
 * bytes with h2_data on the server session.
 */
static int connect_status;

static int h2_proxy_frame(nghttp2_session *s, const nghttp2_frame *fr, void *ud)
{
	char st[4];
	nghttp2_nv resp[] = { { (uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE } };

	(void)ud;
	if (fr->hd.type != NGHTTP2_HEADERS || fr->headers.cat != NGHTTP2_HCAT_REQUEST ||
	    !connect_status)
		return 0; /* 0: the test answers */
	snprintf(st, sizeof(st), "%d", connect_status);
	if (connect_status >= 200 && connect_status < 300)
		assert_int_equal(nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, fr->hd.stream_id, NULL,
							resp, 1, NULL), 0);
	else
		assert_int_equal(nghttp2_submit_headers(s, NGHTTP2_FLAG_END_STREAM,
							fr->hd.stream_id, NULL, resp, 1, NULL), 0);
	return 0;
}

/* A client and a proxy, HTTP/2 sessions of nghttp2, their SETTINGS exchanged through floe. */
static void h2_proxy_open(struct fx *f, struct h2peer *cl, struct h2peer *sv,
			  const nghttp2_settings_entry *sset, size_t nsset)
{
	nghttp2_session_callbacks *cb;

	memset(cl, 0, sizeof(*cl));
	memset(sv, 0, sizeof(*sv));
	connect_status = 200;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_proxy_frame);
	assert_int_equal(nghttp2_session_server_new(&sv->s, cb, sv), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_client_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_client_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_client_close);
	assert_int_equal(nghttp2_session_client_new(&cl->s, cb, cl), 0);
	nghttp2_session_callbacks_del(cb);
	fx_open(f);
	assert_int_equal(nghttp2_submit_settings(cl->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	assert_int_equal(nghttp2_submit_settings(sv->s, NGHTTP2_FLAG_NONE, sset, nsset), 0);
	h2_pump(f, cl, sv);
}

static int32_t h2_connect(struct h2peer *cl, const char *authority)
{
	nghttp2_nv req[] = {
		NV(":method", "CONNECT"),
		{ (uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
		  NGHTTP2_NV_FLAG_NONE },
	};
	int32_t sid = nghttp2_submit_headers(cl->s, NGHTTP2_FLAG_NONE, -1, NULL, req, 2, NULL);

	assert_true(sid > 0);
	return sid;
}

static void h2_peers_free(struct h2peer *cl, struct h2peer *sv)
{
	nghttp2_session_del(cl->s);
	nghttp2_session_del(sv->s);
}

#define INNER_REQ "GET /in HTTP/1.1\r\nHost: backend.test\r\n\r\n"
#define INNER_RESP "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

/* An HTTP/1 exchange through an HTTP/2 CONNECT, beside an ordinary stream. */
static void test_h2_connect_http1(void **state)
{
	static const nghttp2_nv get[] = { NV(":method", "GET"), NV(":scheme", "http"),
					  NV(":authority", "proxy.test"), NV(":path", "/plain") };
	static struct h2peer cl, sv;
	struct chunk c1, c2, c3, c4;
	struct fx f;
	int32_t sid, gsid;

	(void)state;
	h2_proxy_open(&f, &cl, &sv, NULL, 0);
	connect_status = 404; /* the ordinary GET */
	gsid = nghttp2_submit_request(cl.s, NULL, get, 4, NULL, NULL);
	assert_true(gsid > 0);
	h2_pump(&f, &cl, &sv);
	connect_status = 200;
	sid = h2_connect(&cl, "backend.test:80");
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.status, 200); /* the client's own view: the tunnel is open */
	/* the CONNECT's entry waits for the tunnel's first bytes */
	assert_int_equal(n_entries(&f), 1);
	h2_data(cl.s, sid, &c1, INNER_REQ, strlen(INNER_REQ), false);
	h2_pump(&f, &cl, &sv);
	h2_data(sv.s, sid, &c2, INNER_RESP, strlen(INNER_RESP), false);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.body_len, strlen(INNER_RESP));
	assert_memory_equal(cl.body, INNER_RESP, cl.body_len);
	/* both ends close the stream: the tunnel ends */
	h2_data(cl.s, sid, &c3, "", 0, true);
	h2_data(sv.s, sid, &c4, "", 0, true);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.responses, 2);
	assert_int_equal(n_entries(&f), 3);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 3);

	assert_int_equal(iget(&f, 0, "stream_id"), gsid);
	assert_int_equal(iget(&f, 0, "response.status"), 404);
	assert_false(has(&f, 0, "tunnel_kind"));
	assert_str(&f, 1, "version", "2");
	assert_int_equal(iget(&f, 1, "stream_id"), sid);
	assert_str(&f, 1, "request.method", "CONNECT");
	assert_str(&f, 1, "request.authority", "backend.test:80");
	assert_str(&f, 1, "request.url", "backend.test:80");
	assert_int_equal(iget(&f, 1, "response.status"), 200);
	assert_str(&f, 1, "tunnel_kind", "cleartext");
	assert_false(has(&f, 1, "missing"));
	assert_false(has(&f, 1, "tunnel"));
	assert_str(&f, 2, "version", "1.1");
	assert_str(&f, 2, "request.url", "/in");
	assert_int_equal(iget(&f, 2, "response.status"), 200);
	assert_str(&f, 2, "response.body.text", "hello");
	assert_false(has(&f, 2, "missing"));
	assert_int_equal(iget(&f, 2, "request_size"), (long long)strlen(INNER_REQ));
	assert_inside(&f, 2, 1, "backend.test:80");
	assert_int_equal(fx_stats(&f).tunnels, 1);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	assert_int_equal(fx_counter(&f, "http2", "tunnels"), 1);
	assert_int_equal(fx_counter(&f, "http2", "tunnels_refused"), 0);
	fx_free(&f);
	h2_peers_free(&cl, &sv);
}

/* TLS through an HTTP/2 CONNECT: recognised, not dissected; DATA sent before the answer. */
static void test_h2_connect_tls(void **state)
{
	static const uint8_t server_hello[] = { 0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00 };
	static struct h2peer cl, sv;
	struct chunk c1, c2, c3;
	struct fx f;
	int32_t sid;

	(void)state;
	h2_proxy_open(&f, &cl, &sv, NULL, 0);
	connect_status = 0; /* no answer yet */
	sid = h2_connect(&cl, "db.test:443");
	h2_pump(&f, &cl, &sv);
	/* The client does not wait (RFC 9113 8.5 allows DATA at once): its first three bytes
	 * come before the answer, the rest after. */
	h2_data(cl.s, sid, &c1, client_hello, 3, false);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.status, 0);
	assert_int_equal(nghttp2_submit_headers(sv.s, NGHTTP2_FLAG_NONE, sid, NULL,
						(nghttp2_nv[]){ NV(":status", "200") }, 1, NULL), 0);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.status, 200);
	h2_data(cl.s, sid, &c2, client_hello + 3, sizeof(client_hello) - 3, false);
	h2_data(sv.s, sid, &c3, server_hello, sizeof(server_hello), false);
	h2_pump(&f, &cl, &sv);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "request.authority", "db.test:443");
	assert_str(&f, 0, "tunnel_kind", "tls");
	assert_false(has(&f, 0, "request.body"));
	assert_str(&f, 1, "protocol", "tls");
	assert_str(&f, 1, "tunnel.authority", "db.test:443");
	assert_int_equal(fx_stats(&f).tunnels_tls, 1);
	assert_int_equal(fx_stats(&f).tunnels, 1);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
	h2_peers_free(&cl, &sv);
}

/*
 * Several tunnels on one connection, interleaved, one refused (407), one reset by the client
 * in the middle of an exchange; and the bound on tunnels per connection.
 */
static void test_h2_connect_several(void **state)
{
	static const char *const targets[] = { "a.test:80", "b.test:80", "c.test:80" };
	static const char *const reqs[] = { "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n",
					    "GET /b HTTP/1.1\r\nHost: b.test\r\n\r\n",
					    "GET /c HTTP/1.1\r\nHost: c.test\r\n\r\n" };
	static const char *const resps[] = { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
					     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb" };
	static struct h2peer cl, sv;
	struct chunk ck[8];
	struct fx f;
	int32_t sid[3], refused;
	size_t i, j;

	(void)state;
	h2_proxy_open(&f, &cl, &sv, NULL, 0);
	for (i = 0; i < 3; i++)
		sid[i] = h2_connect(&cl, targets[i]);
	h2_pump(&f, &cl, &sv);
	connect_status = 407;
	refused = h2_connect(&cl, "denied.test:80");
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.status, 407);
	/* The requests inside go out in reverse order, the answers of a and b come. */
	for (i = 0; i < 3; i++)
		h2_data(cl.s, sid[2 - i], &ck[i], reqs[2 - i], strlen(reqs[2 - i]), false);
	h2_pump(&f, &cl, &sv);
	for (i = 0; i < 2; i++)
		h2_data(sv.s, sid[i], &ck[3 + i], resps[i], strlen(resps[i]), false);
	h2_pump(&f, &cl, &sv);
	/* c's client gives up: RST_STREAM CANCEL before its answer. */
	assert_int_equal(nghttp2_submit_rst_stream(cl.s, NGHTTP2_FLAG_NONE, sid[2],
						   NGHTTP2_CANCEL), 0);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(nghttp2_session_get_stream_user_data(cl.s, sid[2]), NULL);
	fx_close(&f, TCP_CLOSE_END_OF_INPUT);

	/* 407 (over with its answer), then the three CONNECTs (emitted at their first bytes:
	 * c, b, a), then what was inside */
	assert_int_equal(n_entries(&f), 7);
	assert_int_equal(iget(&f, 0, "stream_id"), refused);
	assert_int_equal(iget(&f, 0, "response.status"), 407);
	assert_false(has(&f, 0, "tunnel_kind"));
	assert_false(has(&f, 0, "missing"));
	for (i = 0; i < 3; i++) {
		size_t outer = 0, inner = 0;

		for (j = 1; j < n_entries(&f); j++) {
			if (has(&f, j, "tunnel_kind") &&
			    !strcmp(sget(&f, j, "request.authority"), targets[i]))
				outer = j;
			if (has(&f, j, "tunnel") && !strcmp(sget(&f, j, "tunnel.authority"),
							       targets[i]))
				inner = j;
		}
		assert_true(outer && inner && outer < inner);
		assert_int_equal(iget(&f, outer, "stream_id"), sid[i]);
		assert_str(&f, outer, "tunnel_kind", "cleartext");
		assert_false(has(&f, outer, "missing"));
		assert_inside(&f, inner, outer, targets[i]);
		assert_str(&f, inner, "request.url", i == 0 ? "/a" : i == 1 ? "/b" : "/c");
		if (i < 2) {
			assert_str(&f, inner, "response.body.text", i == 0 ? "a" : "b");
			assert_false(has(&f, inner, "missing"));
		} else {
			/* the stream's reset ended the tunnel: the carrier of c was reset */
			assert_str(&f, inner, "missing", "response");
			assert_str(&f, inner, "missing_reason", "connection_reset");
		}
	}
	assert_int_equal(fx_stats(&f).tunnels, 3);
	assert_int_equal(fx_counter(&f, "http2", "tunnels"), 3);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
	h2_peers_free(&cl, &sv);
}

/* More tunnels open at once than HTTP2_MAX_TUNNELS: the rest are reported, not dissected. */
static void test_h2_connect_bound(void **state)
{
	static struct h2peer cl, sv;
	static struct chunk ck[HTTP2_MAX_TUNNELS + 2];
	char authority[HTTP2_MAX_TUNNELS + 2][32];
	struct fx f;
	size_t i, refused = 0, inside = 0;

	(void)state;
	h2_proxy_open(&f, &cl, &sv, NULL, 0);
	for (i = 0; i < HTTP2_MAX_TUNNELS + 2; i++) {
		int32_t sid;

		snprintf(authority[i], sizeof(authority[i]), "t%zu.test:80", i);
		sid = h2_connect(&cl, authority[i]);
		h2_pump(&f, &cl, &sv);
		h2_data(cl.s, sid, &ck[i], INNER_REQ, strlen(INNER_REQ), false);
		h2_pump(&f, &cl, &sv);
	}
	fx_close(&f, TCP_CLOSE_FIN);
	for (i = 0; i < n_entries(&f); i++) {
		if (has(&f, i, "tunnel"))
			inside++;
		else if (!strcmp(sget(&f, i, "tunnel_kind"), "not_dissected"))
			refused++;
		else
			assert_str(&f, i, "tunnel_kind", "cleartext");
	}
	assert_int_equal(refused, 2);
	assert_int_equal(inside, HTTP2_MAX_TUNNELS);
	assert_int_equal(n_entries(&f), 2 * HTTP2_MAX_TUNNELS + 2);
	assert_int_equal(fx_counter(&f, "http2", "tunnels_refused"), 2);
	assert_int_equal(fx_stats(&f).tunnels, HTTP2_MAX_TUNNELS);
	fx_free(&f);
	h2_peers_free(&cl, &sv);
}

/* Bytes lost inside a DATA frame of a tunnel: a gap inside, the next exchange pairs right. */
static void test_h2_connect_gap(void **state)
{
	static const char resp1[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcdefghij";
	static struct h2peer cl, sv;
	struct chunk c1, c2, c3, c4;
	struct fx f;
	int32_t sid;
	size_t cut;

	(void)state;
	h2_proxy_open(&f, &cl, &sv, NULL, 0);
	sid = h2_connect(&cl, "backend.test:80");
	h2_pump(&f, &cl, &sv);
	h2_data(cl.s, sid, &c1, "GET /1 HTTP/1.1\r\n\r\n", 19, false);
	h2_pump(&f, &cl, &sv);
	/* the server's DATA frame reaches the client whole, floe misses 8 body bytes of it */
	h2_data(sv.s, sid, &c2, resp1, strlen(resp1), false);
	assert_int_equal(nghttp2_session_send(sv.s), 0);
	assert_int_equal(sv.n, 9 + strlen(resp1));
	cut = sv.n - 8;
	fx_send(&f, S2C, sv.buf, cut);
	fx_gap(&f, S2C, 8);
	assert_int_equal(nghttp2_session_mem_recv(cl.s, sv.buf, sv.n), sv.n);
	sv.n = 0;
	h2_pump(&f, &cl, &sv);
	h2_data(cl.s, sid, &c3, "GET /2 HTTP/1.1\r\n\r\n", 19, false);
	h2_pump(&f, &cl, &sv);
	h2_data(sv.s, sid, &c4, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz", 39, false);
	h2_pump(&f, &cl, &sv);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "tunnel_kind", "cleartext");
	assert_str(&f, 1, "request.url", "/1");
	assert_int_equal(iget(&f, 1, "response.body.gap_bytes"), 8);
	assert_inside(&f, 1, 0, "backend.test:80");
	assert_str(&f, 2, "request.url", "/2");
	assert_str(&f, 2, "response.body.text", "z");
	assert_false(has(&f, 2, "missing"));
	assert_inside(&f, 2, 0, "backend.test:80");
	assert_int_equal(fx_stats(&f).gaps, 2); /* the carrier's and the tunnel's */
	fx_free(&f);
	h2_peers_free(&cl, &sv);
}

/* Extended CONNECT for WebSocket (RFC 8441): reported and counted, its frames not dissected. */
static void test_h2_extended_connect(void **state)
{
	static const nghttp2_settings_entry enable = { NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1 };
	static const nghttp2_nv req[] = { NV(":method", "CONNECT"), NV(":protocol", "websocket"),
					  NV(":scheme", "http"), NV(":path", "/chat"),
					  NV(":authority", "ws.test"),
					  NV("sec-websocket-version", "13") };
	/* a masked text frame "hello" (RFC 6455 5.2) and the server's unmasked echo */
	static const uint8_t ws_c[] = { 0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3,
					 'l' ^ 4, 'o' ^ 1 };
	static const uint8_t ws_s[] = { 0x81, 0x05, 'h', 'e', 'l', 'l', 'o' };
	static struct h2peer cl, sv;
	struct chunk c1, c2, c3, c4;
	struct fx f;
	int32_t sid;

	(void)state;
	h2_proxy_open(&f, &cl, &sv, &enable, 1);
	assert_int_equal(nghttp2_session_get_remote_settings(
				 cl.s, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 1);
	sid = nghttp2_submit_headers(cl.s, NGHTTP2_FLAG_NONE, -1, NULL, req, 6, NULL);
	assert_true(sid > 0);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.status, 200);
	h2_data(cl.s, sid, &c1, ws_c, sizeof(ws_c), false);
	h2_data(sv.s, sid, &c2, ws_s, sizeof(ws_s), false);
	h2_pump(&f, &cl, &sv);
	h2_data(cl.s, sid, &c3, "", 0, true);
	h2_data(sv.s, sid, &c4, "", 0, true);
	h2_pump(&f, &cl, &sv);
	assert_int_equal(cl.responses, 1);
	assert_int_equal(cl.body_len, sizeof(ws_s));
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.method", "CONNECT");
	assert_str(&f, 0, "request.protocol", "websocket");
	assert_str(&f, 0, "request.path", "/chat");
	assert_int_equal(iget(&f, 0, "response.status"), 200);
	assert_str(&f, 0, "tunnel_kind", "not_dissected");
	assert_false(has(&f, 0, "missing"));
	assert_false(has(&f, 0, "response.body"));
	assert_int_equal(fx_counter(&f, "http2", "extended_connects"), 1);
	assert_int_equal(fx_stats(&f).tunnels, 0);
	assert_int_equal(fx_stats(&f).conns_unknown, 0);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
	h2_peers_free(&cl, &sv);
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
		cmocka_unit_test(test_h2_connect_http1),
		cmocka_unit_test(test_h2_connect_tls),
		cmocka_unit_test(test_h2_connect_several),
		cmocka_unit_test(test_h2_connect_bound),
		cmocka_unit_test(test_h2_connect_gap),
		cmocka_unit_test(test_h2_extended_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
