// SPDX-License-Identifier: Apache-2.0
/*
 * The userspace half of the TLS uprobe records (source/tls_record.h) and what the engine makes
 * of them: record checks, connections oriented by role or ports, offsets and gaps across a
 * call's chunks, closes, /proc/PID/maps lines, and HTTP/1.1 plaintext through tls_streams and
 * dissect_engine_stream into an entry with "tls", "pid" and "process".
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

#include "dissect/engine.h"
#include "entry/entry_json.h"
#include "protocols/schema.h"
#include "source/tls_record.h"
#include "test_json_path.h"

/* A data record with its bytes, as the kernel writes it (size rounded up to 8). */
struct rec_buf {
	struct floe_tls_record r;
	uint8_t data[FLOE_TLS_MAX_DATA + 8];
};

static void mk_rec(struct rec_buf *b, uint32_t pid, uint64_t conn, uint8_t dir, uint8_t role,
		   const void *p, uint32_t cap, uint32_t data_len, uint32_t call_off)
{
	memset(b, 0, sizeof(*b));
	b->r.hdr.type = FLOE_RECORD_TLS_DATA;
	b->r.hdr.size = (uint32_t)(sizeof(b->r) + ((cap + 7u) & ~7u));
	b->r.hdr.ts_ns = 1000;
	b->r.conn = conn;
	b->r.pid = pid;
	b->r.tid = pid;
	b->r.data_len = data_len;
	b->r.call_off = call_off;
	b->r.cap_len = cap;
	b->r.dir = dir;
	b->r.role = role;
	b->r.family = 2;
	/* the process's own view: 10.0.0.2:443 local (a server), 10.0.0.1:40000 remote */
	b->r.local_addr[10] = b->r.local_addr[11] = 0xff;
	b->r.local_addr[12] = 10;
	b->r.local_addr[15] = 2;
	b->r.remote_addr[10] = b->r.remote_addr[11] = 0xff;
	b->r.remote_addr[12] = 10;
	b->r.remote_addr[15] = 1;
	b->r.local_port = 443;
	b->r.remote_port = 40000;
	memcpy(b->r.comm, "nginx", 5);
	if (p)
		memcpy(b->data, p, cap);
}

static void test_check(void **state)
{
	static struct rec_buf b;
	struct floe_tls_event ev = {.hdr = {.type = FLOE_RECORD_TLS_EVENT, .size = sizeof(ev)},
				    .kind = FLOE_TLS_EV_CLOSE};
	struct tls_record_view v;

	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, FLOE_TLS_ROLE_SERVER, "hello", 5, 5, 0);
	assert_int_equal(tls_record_check(&b, b.r.hdr.size, &v), TLS_RECORD_OK);
	assert_int_equal(v.type, FLOE_RECORD_TLS_DATA);
	assert_ptr_equal(v.bytes, b.data);
	assert_memory_equal(v.bytes, "hello", 5);
	/* the ring's length and the header's size disagree */
	assert_int_equal(tls_record_check(&b, b.r.hdr.size + 8, &v), TLS_RECORD_BAD_SIZE);
	assert_int_equal(tls_record_check(&b, 8, &v), TLS_RECORD_BAD_SIZE);
	/* cap_len past the record */
	b.r.cap_len = 9;
	b.r.data_len = 9;
	assert_int_equal(tls_record_check(&b, b.r.hdr.size, &v), TLS_RECORD_BAD_SIZE);
	/* a chunk past the call's length */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, 0, "hello", 5, 5, 1);
	assert_int_equal(tls_record_check(&b, b.r.hdr.size, &v), TLS_RECORD_BAD_SIZE);
	/* empty, or an unknown direction */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, 0, "", 0, 5, 0);
	assert_int_equal(tls_record_check(&b, b.r.hdr.size, &v), TLS_RECORD_BAD_SIZE);
	mk_rec(&b, 7, 0x1000, 2, 0, "hello", 5, 5, 0);
	assert_int_equal(tls_record_check(&b, b.r.hdr.size, &v), TLS_RECORD_BAD_SIZE);
	/* more than one record's worth */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, 0, NULL, FLOE_TLS_MAX_DATA, 100000, 0);
	assert_int_equal(tls_record_check(&b, b.r.hdr.size, &v), TLS_RECORD_OK);
	b.r.cap_len = FLOE_TLS_MAX_DATA + 8;
	b.r.hdr.size = sizeof(b);
	assert_int_equal(tls_record_check(&b, sizeof(b), &v), TLS_RECORD_BAD_SIZE);
	/* events */
	assert_int_equal(tls_record_check(&ev, sizeof(ev), &v), TLS_RECORD_OK);
	assert_ptr_equal(v.event, &ev);
	ev.hdr.size = 20;
	assert_int_equal(tls_record_check(&ev, 20, &v), TLS_RECORD_BAD_SIZE);
	ev.hdr.type = 9;
	ev.hdr.size = sizeof(ev);
	assert_int_equal(tls_record_check(&ev, sizeof(ev), &v), TLS_RECORD_BAD_TYPE);
	ev.hdr.type = FLOE_RECORD_PACKET; /* never in the TLS ring */
	assert_int_equal(tls_record_check(&ev, sizeof(ev), &v), TLS_RECORD_BAD_TYPE);
}

/* What a sink was given. */
struct got {
	struct byte_stream_chunk c[16];
	char data[16][64];
	char process[16][16];
	int n;
};

static void got_stream(void *ctx, const struct byte_stream_chunk *c)
{
	struct got *g = ctx;

	assert_true(g->n < 16);
	g->c[g->n] = *c;
	memcpy(g->data[g->n], c->data ? (const char *)c->data : "", c->len < 63 ? c->len : 63);
	if (c->process)
		snprintf(g->process[g->n], 16, "%s", c->process);
	g->n++;
}

static void test_orientation(void **state)
{
	static struct rec_buf b;
	struct got g = {};
	struct byte_sink sink = {.stream = got_stream, .ctx = &g};
	struct tls_streams *ts;

	assert_int_equal(tls_streams_new(&ts), 0);
	/* a server reads the request: from the client, the client is the remote end */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, FLOE_TLS_ROLE_SERVER, "GET", 3, 3, 0);
	tls_streams_data(ts, &b.r, b.data, 5, &sink);
	assert_int_equal(g.n, 1);
	assert_true(g.c[0].from_client);
	assert_int_equal(g.c[0].flags, BYTE_STREAM_OPEN | BYTE_STREAM_TLS);
	assert_int_equal(g.c[0].client_port, 40000);
	assert_int_equal(g.c[0].server_port, 443);
	assert_int_equal(g.c[0].client_addr[15], 1);
	assert_int_equal(g.c[0].pid, 7);
	assert_string_equal(g.process[0], "nginx");
	assert_int_equal(g.c[0].ts_ns, 5);
	/* its answer: to the client, same connection */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_SERVER, "200", 3, 3, 0);
	tls_streams_data(ts, &b.r, b.data, 6, &sink);
	assert_false(g.c[1].from_client);
	assert_int_equal(g.c[1].cookie, g.c[0].cookie);
	assert_int_equal(g.c[1].flags, BYTE_STREAM_TLS);
	/* same SSL * in another process: another connection */
	mk_rec(&b, 8, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "GET", 3, 3, 0);
	tls_streams_data(ts, &b.r, b.data, 7, &sink);
	assert_int_not_equal(g.c[2].cookie, g.c[0].cookie);
	assert_true(g.c[2].from_client);	   /* a client writes: from the client */
	assert_int_equal(g.c[2].client_port, 443); /* the local end, whatever its port */
	/* role unknown (a connection older than the probes): by ports, and mid-stream */
	mk_rec(&b, 9, 0x2000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_UNKNOWN, "xyz", 3, 3, 0);
	tls_streams_data(ts, &b.r, b.data, 8, &sink);
	assert_int_equal(g.c[3].flags, BYTE_STREAM_OPEN | BYTE_STREAM_TLS | BYTE_STREAM_MIDSTREAM);
	assert_int_equal(g.c[3].server_port, 443);
	assert_false(
	    g.c[3].from_client); /* local 443 is the server: its write goes to the client */
	tls_streams_free(ts);
}

/* Go Writes taken at entry (pending): the connection's records wait for the count; a short
 * count cuts the Write, 0 drops it, a count that never comes releases it as taken. */
static void test_pending_writes(void **state)
{
	static struct rec_buf b;
	struct got g = {};
	struct byte_sink sink = {.stream = got_stream, .ctx = &g};
	struct tls_streams *ts;
	struct tls_streams_stats st;

	assert_int_equal(tls_streams_new(&ts), 0);
	/* a client's request Write, pending; the response is read (another goroutine) before
	 * the Write returns: held behind it */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "GET /a", 6, 6, 0);
	b.r.flags = FLOE_TLS_F_PENDING;
	tls_streams_data(ts, &b.r, b.data, 1, &sink);
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, FLOE_TLS_ROLE_CLIENT, "200 a", 5, 5, 0);
	tls_streams_data(ts, &b.r, b.data, 2, &sink);
	assert_int_equal(g.n, 0);
	/* a count for another connection changes nothing */
	tls_streams_write_done(ts, 7, 0x2000, 6, 3, &sink);
	assert_int_equal(g.n, 0);
	/* all 6 written: the request, then the response, in that order */
	tls_streams_write_done(ts, 7, 0x1000, 6, 3, &sink);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.data[0], "GET /a");
	assert_true(g.c[0].from_client);
	assert_int_equal(g.c[0].flags, BYTE_STREAM_OPEN | BYTE_STREAM_TLS);
	assert_int_equal(g.c[0].ts_ns, 1);
	assert_string_equal(g.data[1], "200 a");
	assert_false(g.c[1].from_client);

	/* a Write of 10 that wrote 4 (the peer closed): 4 bytes, the next call at 6 + 4 */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "GET /bbbbb", 10, 10, 0);
	b.r.flags = FLOE_TLS_F_PENDING;
	tls_streams_data(ts, &b.r, b.data, 4, &sink);
	tls_streams_write_done(ts, 7, 0x1000, 4, 5, &sink);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.c[2].len, 4);
	assert_int_equal(g.c[2].offset, 6);
	/* a failed Write (0 written): nothing of it; the next one starts at 10, no gap */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "lost!", 5, 5, 0);
	b.r.flags = FLOE_TLS_F_PENDING;
	tls_streams_data(ts, &b.r, b.data, 6, &sink);
	tls_streams_write_done(ts, 7, 0x1000, 0, 7, &sink);
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "next", 4, 4, 0);
	tls_streams_data(ts, &b.r, b.data, 8, &sink);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.data[3], "next");
	assert_int_equal(g.c[3].offset, 10);
	assert_false(g.c[3].flags & BYTE_STREAM_GAP);

	/* a count that never comes: released as taken after TLS_HOLD_NS, then what followed */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "slow", 4, 4, 0);
	b.r.flags = FLOE_TLS_F_PENDING;
	tls_streams_data(ts, &b.r, b.data, 100, &sink);
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, FLOE_TLS_ROLE_CLIENT, "late", 4, 4, 0);
	tls_streams_data(ts, &b.r, b.data, 101, &sink);
	tls_streams_expire(ts, 100 + TLS_HOLD_NS - 1, &sink);
	assert_int_equal(g.n, 4);
	tls_streams_expire(ts, 100 + TLS_HOLD_NS, &sink);
	assert_int_equal(g.n, 6);
	assert_string_equal(g.data[4], "slow");
	assert_string_equal(g.data[5], "late");
	/* its count, late: nothing more */
	tls_streams_write_done(ts, 7, 0x1000, 4, 200 + TLS_HOLD_NS, &sink);
	assert_int_equal(g.n, 6);

	/* a connection whose only Write wrote nothing: never opened, no close chunk */
	mk_rec(&b, 9, 0x3000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "x", 1, 1, 0);
	b.r.flags = FLOE_TLS_F_PENDING;
	tls_streams_data(ts, &b.r, b.data, 300, &sink);
	tls_streams_write_done(ts, 9, 0x3000, 0, 301, &sink);
	tls_streams_close(ts, 9, 0x3000, 302, &sink);
	assert_int_equal(g.n, 6);
	/* held records go out before the close */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "bye", 3, 3, 0);
	b.r.flags = FLOE_TLS_F_PENDING;
	tls_streams_data(ts, &b.r, b.data, 400, &sink);
	tls_streams_close(ts, 7, 0x1000, 401, &sink);
	assert_int_equal(g.n, 8);
	assert_string_equal(g.data[6], "bye");
	assert_int_equal(g.c[7].flags, BYTE_STREAM_CLOSE | BYTE_STREAM_TLS);
	tls_streams_get_stats(ts, &st);
	assert_int_equal(st.write_unsent, 6 + 5 + 1);
	assert_int_equal(st.hold_timeouts, 1);
	assert_int_equal(st.stray_write_done, 2);
	tls_streams_free(ts);
}

static void test_offsets_gaps_close(void **state)
{
	static struct rec_buf b;
	struct got g = {};
	struct byte_sink sink = {.stream = got_stream, .ctx = &g};
	struct tls_streams *ts;
	struct tls_streams_stats st;
	uint64_t cookie;

	assert_int_equal(tls_streams_new(&ts), 0);
	/* a call of 40000 bytes: chunks at 0 and 16384 come, the one at 32768 was lost */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, NULL, FLOE_TLS_MAX_DATA, 40000,
	       0);
	tls_streams_data(ts, &b.r, b.data, 1, &sink);
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, NULL, FLOE_TLS_MAX_DATA, 40000,
	       FLOE_TLS_MAX_DATA);
	tls_streams_data(ts, &b.r, b.data, 2, &sink);
	/* the next call starts after all 40000 */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "next", 4, 4, 0);
	tls_streams_data(ts, &b.r, b.data, 3, &sink);
	/* the other direction counts from 0 */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_READ, FLOE_TLS_ROLE_CLIENT, "resp", 4, 4, 0);
	tls_streams_data(ts, &b.r, b.data, 4, &sink);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.c[0].offset, 0);
	assert_int_equal(g.c[1].offset, FLOE_TLS_MAX_DATA);
	assert_false(g.c[1].flags & BYTE_STREAM_GAP);
	assert_int_equal(g.c[2].offset, 40000);
	assert_true(g.c[2].flags & BYTE_STREAM_GAP);
	assert_string_equal(g.data[2], "next");
	assert_int_equal(g.c[3].offset, 0);
	assert_false(g.c[3].from_client);
	cookie = g.c[0].cookie;
	/* SSL_free: a close chunk; a second one, or one of an unknown SSL *, gives nothing */
	tls_streams_close(ts, 7, 0x1000, 9, &sink);
	tls_streams_close(ts, 7, 0x1000, 9, &sink);
	tls_streams_close(ts, 7, 0x5000, 9, &sink);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.c[4].flags, BYTE_STREAM_CLOSE | BYTE_STREAM_TLS);
	assert_int_equal(g.c[4].cookie, cookie);
	assert_int_equal(g.c[4].len, 0);
	/* the same SSL * again: a new connection */
	mk_rec(&b, 7, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "again", 5, 5, 0);
	tls_streams_data(ts, &b.r, b.data, 10, &sink);
	assert_int_not_equal(g.c[5].cookie, cookie);
	assert_true(g.c[5].flags & BYTE_STREAM_OPEN);
	/* the process exits: each of its connections closes, others stay */
	mk_rec(&b, 8, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_CLIENT, "other", 5, 5, 0);
	tls_streams_data(ts, &b.r, b.data, 11, &sink);
	tls_streams_close_pid(ts, 7, 12, &sink);
	assert_int_equal(g.n, 8);
	assert_int_equal(g.c[7].flags, BYTE_STREAM_CLOSE | BYTE_STREAM_TLS);
	assert_int_equal(g.c[7].cookie, g.c[5].cookie);
	tls_streams_get_stats(ts, &st);
	assert_int_equal(st.conns, 3);
	assert_int_equal(st.closed, 2);
	assert_int_equal(st.gaps, 1);
	tls_streams_free(ts);
}

static void test_maps_line(void **state)
{
	char path[256];

	assert_int_equal(tls_maps_line_libssl("7f1c2a400000-7f1c2a45e000 r--p 00000000 fe:01 "
					      "1049 /usr/lib/x86_64-linux-gnu/libssl.so.3\n",
					      path, sizeof(path)),
			 1);
	assert_string_equal(path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
	assert_int_equal(tls_maps_line_libssl("7f-8f r-xp 0 fe:01 12 /opt/ossl/lib/libssl.so.1.1",
					      path, sizeof(path)),
			 1);
	assert_string_equal(path, "/opt/ossl/lib/libssl.so.1.1");
	/* not libssl: libcrypto, a name that only contains it, anonymous, a deleted file */
	assert_int_equal(tls_maps_line_libssl("7f-8f r-xp 0 fe:01 12 /usr/lib/libcrypto.so.3", path,
					      sizeof(path)),
			 0);
	assert_int_equal(tls_maps_line_libssl("7f-8f r-xp 0 fe:01 12 /usr/lib/mylibssl.so.3", path,
					      sizeof(path)),
			 0);
	assert_int_equal(tls_maps_line_libssl("7f-8f rw-p 0 00:00 0 ", path, sizeof(path)), 0);
	assert_int_equal(tls_maps_line_libssl("7f-8f r-xp 0 fe:01 12 /usr/lib/libssl.so.3 "
					      "(deleted)\n",
					      path, sizeof(path)),
			 0);
	/* a path longer than the room */
	assert_int_equal(
	    tls_maps_line_libssl("7f-8f r-xp 0 fe:01 12 /usr/lib/libssl.so.3", path, 8), 0);
}

/* Entries as JSON, checked against the schema. */
static void collect(void *ctx, const struct entry *e)
{
	json_t *o = entry_to_json(e);

	assert_int_equal(schema_check_entry(o, NULL, NULL), 0);
	json_array_append_new(ctx, o);
}

static void to_engine(void *ctx, const struct byte_stream_chunk *c)
{
	dissect_engine_stream(ctx, c);
}

static void test_engine_entry(void **state)
{
	static const char req[] = "GET /tls HTTP/1.1\r\nHost: b\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	static struct rec_buf b;
	json_t *out = json_array(), *e;
	struct dissect_engine *eng;
	struct tls_streams *ts;
	struct byte_sink sink = {.stream = to_engine};
	struct dissect_stats st;

	assert_int_equal(dissect_engine_create(NULL, collect, out, &eng), 0);
	sink.ctx = eng;
	assert_int_equal(tls_streams_new(&ts), 0);
	/* the server's side: reads the request, writes the response in two calls */
	mk_rec(&b, 42, 0x1000, FLOE_TLS_READ, FLOE_TLS_ROLE_SERVER, req, sizeof(req) - 1,
	       sizeof(req) - 1, 0);
	tls_streams_data(ts, &b.r, b.data, 1000000, &sink);
	mk_rec(&b, 42, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_SERVER, resp, 20, sizeof(resp) - 1, 0);
	b.r.cap_len = 20; /* only the first 20 bytes in this chunk ... */
	b.r.data_len = 20;
	tls_streams_data(ts, &b.r, b.data, 2000000, &sink);
	mk_rec(&b, 42, 0x1000, FLOE_TLS_WRITE, FLOE_TLS_ROLE_SERVER, resp + 20, sizeof(resp) - 21,
	       sizeof(resp) - 21, 0);
	tls_streams_data(ts, &b.r, b.data, 3000000, &sink);
	tls_streams_close(ts, 42, 0x1000, 4000000, &sink);
	assert_int_equal(json_array_size(out), 1);
	e = json_array_get(out, 0);
	assert_true(json_is_true(jget(e, "tls")));
	assert_int_equal(json_integer_value(jget(e, "pid")), 42);
	assert_string_equal(json_string_value(jget(e, "process")), "nginx");
	assert_string_equal(json_string_value(jget(e, "protocol")), "http");
	assert_string_equal(json_string_value(jget(e, "request.url")), "/tls");
	assert_int_equal(json_integer_value(jget(e, "response.status")), 200);
	assert_string_equal(json_string_value(jget(e, "response.body.text")), "hello");
	assert_string_equal(json_string_value(jget(e, "src.ip")), "10.0.0.1");
	assert_int_equal(json_integer_value(jget(e, "src.port")), 40000);
	assert_string_equal(json_string_value(jget(e, "dst.ip")), "10.0.0.2");
	assert_int_equal(json_integer_value(jget(e, "dst.port")), 443);
	assert_null(json_object_get(e, "missing"));
	dissect_engine_get_stats(eng, &st);
	assert_int_equal(st.streams, 1);

	/* The same connection seen by the packet path (its ciphertext; here any bytes a
	 * dissector recognises), oriented the other way round as a mid-stream pick-up may be:
	 * its entries are dropped, the plaintext ones are the connection's. */
	{
		struct tcp_flow_info info = {.id = 99, .family = AF_INET, .role = TCP_ROLE_PORT};
		struct conn *c;

		memcpy(info.client.addr, b.r.local_addr, 16); /* 10.0.0.2:443 as "client" */
		info.client.port = 443;
		memcpy(info.server.addr, b.r.remote_addr, 16);
		info.server.port = 40000;
		c = dissect_stream_open(eng, &info);
		assert_non_null(c);
		dissect_stream_data(eng, c, TCP_DIR_C2S, (const uint8_t *)req, sizeof(req) - 1, 5);
		dissect_stream_data(eng, c, TCP_DIR_S2C, (const uint8_t *)resp, sizeof(resp) - 1,
				    6);
		dissect_stream_close(eng, c, TCP_CLOSE_FIN, 7);
		/* another connection's entries are not */
		info.client.port = 444;
		c = dissect_stream_open(eng, &info);
		dissect_stream_data(eng, c, TCP_DIR_C2S, (const uint8_t *)req, sizeof(req) - 1, 8);
		dissect_stream_data(eng, c, TCP_DIR_S2C, (const uint8_t *)resp, sizeof(resp) - 1,
				    9);
		dissect_stream_close(eng, c, TCP_CLOSE_FIN, 10);
	}
	dissect_engine_get_stats(eng, &st);
	assert_int_equal(st.entries_ciphertext_dropped, 1);
	assert_int_equal(json_array_size(out), 2);
	assert_null(json_object_get(json_array_get(out, 1), "tls"));
	tls_streams_free(ts);
	dissect_engine_destroy(eng);
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_orientation),
	    cmocka_unit_test(test_offsets_gaps_close),
	    cmocka_unit_test(test_pending_writes),
	    cmocka_unit_test(test_maps_line),
	    cmocka_unit_test(test_engine_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
