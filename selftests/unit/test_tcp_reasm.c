// SPDX-License-Identifier: Apache-2.0
/* Unit tests: net/tcp_reasm.c with hand-built segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "net/packet.h"
#include "net/tcp_reasm.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define OVH TCP_REASM_SEGMENT_OVERHEAD

/* ------------------------------------------------------------------ harness */

struct rflow {
	struct tcp_flow_info info;
	char out[2][8192]; /* data, and "[N]" for a gap of N bytes */
	size_t n[2];
	unsigned gaps[2];
	enum tcp_gap_cause last_cause[2];
	unsigned close_calls;
	enum tcp_close_reason reason;
	unsigned fins[2];     /* fin() calls per direction */
	size_t fin_at[2];     /* out[dir] bytes when it came: after everything before the FIN */
	/* expect mode: compare delivered bytes with a known stream */
	const uint8_t *expect[2];
	uint64_t expect_len[2];
	uint64_t pos[2];
	uint64_t gap_total[2];
};

struct harness {
	struct tcp_reasm *r;
	struct tcp_reasm_config cfg;
	struct rflow f[32];
	unsigned nflows;
	uint64_t now;
	const uint8_t *expect[2]; /* given to every new flow */
	uint64_t expect_len[2];
};

static void out_add(struct rflow *f, unsigned dir, const char *s, size_t n)
{
	assert_true(f->n[dir] + n < sizeof(f->out[dir]));
	memcpy(f->out[dir] + f->n[dir], s, n);
	f->n[dir] += n;
	f->out[dir][f->n[dir]] = '\0';
}

static void *cb_open(void *ctx, const struct tcp_flow_info *info)
{
	struct harness *h = ctx;
	struct rflow *f;

	assert_true(h->nflows < sizeof(h->f) / sizeof(h->f[0]));
	f = &h->f[h->nflows++];
	memset(f, 0, sizeof(*f));
	f->info = *info;
	for (int d = 0; d < 2; d++) {
		f->expect[d] = h->expect[d];
		f->expect_len[d] = h->expect_len[d];
	}
	return f;
}

static void cb_data(void *ctx, void *user, enum tcp_dir dir, const uint8_t *bytes, uint32_t len,
		    uint64_t ts)
{
	struct rflow *f = user;

	assert_int_equal(f->close_calls, 0);
	assert_true(len > 0);
	if (f->expect[dir]) {
		assert_true(f->pos[dir] + len <= f->expect_len[dir]);
		assert_memory_equal(bytes, f->expect[dir] + f->pos[dir], len);
		f->pos[dir] += len;
		return;
	}
	out_add(f, dir, (const char *)bytes, len);
}

static void cb_gap(void *ctx, void *user, enum tcp_dir dir, uint32_t missing,
		   enum tcp_gap_cause cause, uint64_t ts)
{
	struct rflow *f = user;
	char m[32];
	int n = snprintf(m, sizeof(m), "[%u]", missing);

	assert_int_equal(f->close_calls, 0);
	assert_true(missing > 0);
	f->gaps[dir]++;
	f->last_cause[dir] = cause;
	f->gap_total[dir] += missing;
	if (f->expect[dir]) {
		f->pos[dir] += missing;
		return;
	}
	out_add(f, dir, m, (size_t)n);
}

static void cb_close(void *ctx, void *user, enum tcp_close_reason reason, uint64_t ts)
{
	struct rflow *f = user;

	assert_int_equal(f->close_calls, 0);
	f->close_calls++;
	f->reason = reason;
}

static void cb_fin(void *ctx, void *user, enum tcp_dir dir, uint64_t ts)
{
	struct rflow *f = user;

	assert_int_equal(f->close_calls, 0);
	f->fins[dir]++;
	f->fin_at[dir] = f->n[dir];
}

static struct harness *hnew(const struct tcp_reasm_config *cfg)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct tcp_reasm_callbacks cb = {cb_open, cb_data, cb_gap, cb_close, cb_fin};

	assert_non_null(h);
	assert_int_equal(tcp_reasm_create(cfg, &cb, h, &h->r), 0);
	tcp_reasm_get_config(h->r, &h->cfg);
	h->now = 1000 * SEC;
	return h;
}

static void check_bounds(struct harness *h)
{
	struct tcp_reasm_stats st;

	tcp_reasm_get_stats(h->r, &st);
	assert_true(st.buffered_bytes <= h->cfg.max_total_buffered_bytes);
	assert_true(st.buffered_bytes_peak <= h->cfg.max_total_buffered_bytes);
	assert_true(st.buffered_dir_peak <= h->cfg.max_buffered_bytes_per_direction);
	assert_true(st.flows_active + st.flows_time_wait <= h->cfg.max_flows);
}

static void hfree(struct harness *h)
{
	struct tcp_reasm_stats st;

	tcp_reasm_finish(h->r);
	tcp_reasm_get_stats(h->r, &st);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.flows_time_wait, 0);
	assert_int_equal(st.buffered_bytes, 0);
	for (unsigned i = 0; i < h->nflows; i++)
		assert_int_equal(h->f[i].close_calls, 1);
	tcp_reasm_destroy(h->r);
	free(h);
}

struct sp {
	uint16_t cport; /* client port; 0: 40000 */
	uint16_t sport; /* server port; 0: 80 */
	bool s2c;       /* sent by the server */
	uint32_t seq, ack;
	uint8_t fl;
	const char *d;  /* payload (text) */
	uint32_t len;   /* payload length when d holds binary data; 0: strlen(d) */
	uint32_t snap;  /* payload bytes not captured (at the end) */
	uint64_t ts;    /* 0: 1 ms after the previous packet */
};

static const uint8_t ADDR_C[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
static const uint8_t ADDR_S[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};

static int feed(struct harness *h, struct sp s)
{
	struct packet p;
	uint16_t cport = s.cport ? s.cport : 40000, sport = s.sport ? s.sport : 80;
	uint32_t len = s.len ? s.len : (s.d ? (uint32_t)strlen(s.d) : 0);
	int rc;

	memset(&p, 0, sizeof(p));
	h->now = s.ts ? s.ts : h->now + MS;
	p.ts_ns = h->now;
	p.family = AF_INET;
	p.l4_proto = IPPROTO_TCP;
	p.flags = PACKET_F_L4;
	memcpy(p.src, s.s2c ? ADDR_S : ADDR_C, 16);
	memcpy(p.dst, s.s2c ? ADDR_C : ADDR_S, 16);
	p.sport = s.s2c ? sport : cport;
	p.dport = s.s2c ? cport : sport;
	p.seq = s.seq;
	p.ack = s.ack;
	p.tcp_flags = s.fl;
	p.payload = (const uint8_t *)(s.d ? s.d : "");
	p.payload_wirelen = len;
	p.payload_caplen = len - s.snap;
	rc = tcp_reasm_packet(h->r, &p);
	check_bounds(h);
	return rc;
}

#define TX(h, ...) feed((h), (struct sp){__VA_ARGS__})

#define CI 1000u /* client ISN */
#define SI 5000u /* server ISN */
#define C(n) (CI + 1u + (uint32_t)(n))
#define S(n) (SI + 1u + (uint32_t)(n))

static void handshake_isn(struct harness *h, uint16_t cport, uint32_t ci, uint32_t si)
{
	assert_int_equal(TX(h, .cport = cport, .seq = ci, .fl = TCP_F_SYN), TCP_USED);
	assert_int_equal(TX(h, .cport = cport, .s2c = true, .seq = si, .ack = ci + 1,
			    .fl = TCP_F_SYN | TCP_F_ACK),
			 TCP_USED);
	assert_int_equal(TX(h, .cport = cport, .seq = ci + 1, .ack = si + 1, .fl = TCP_F_ACK),
			 TCP_USED);
}

static void handshake(struct harness *h)
{
	handshake_isn(h, 0, CI, SI);
}

static struct tcp_reasm_stats stats(struct harness *h)
{
	struct tcp_reasm_stats st;

	tcp_reasm_get_stats(h->r, &st);
	return st;
}

#define A (TCP_F_ACK)
#define AP (TCP_F_ACK | TCP_F_PSH)
#define AF (TCP_F_ACK | TCP_F_FIN)

/* ------------------------------------------------------------------ tests */

static void test_in_order(void **state)
{
	struct harness *h = hnew(NULL);
	struct tcp_reasm_stats st;
	struct rflow *f = &h->f[0];

	(void)state;
	handshake(h);
	assert_int_equal(h->nflows, 1);
	assert_int_equal(f->info.role, TCP_ROLE_SYN);
	assert_int_equal(f->info.client.port, 40000);
	assert_int_equal(f->info.server.port, 80);
	assert_memory_equal(f->info.client.addr, ADDR_C, 16);
	assert_int_equal(f->info.family, AF_INET);
	assert_int_equal(f->info.id, 1);

	TX(h, .seq = C(0), .ack = S(0), .fl = AP, .d = "hello ");
	TX(h, .seq = C(6), .ack = S(0), .fl = AP, .d = "world");
	TX(h, .s2c = true, .seq = S(0), .ack = C(11), .fl = AP, .d = "HTTP");
	TX(h, .seq = C(11), .ack = S(4), .fl = AF);
	assert_int_equal(f->close_calls, 0);
	TX(h, .s2c = true, .seq = S(4), .ack = C(12), .fl = AF);
	assert_int_equal(f->close_calls, 1);
	assert_int_equal(f->reason, TCP_CLOSE_FIN);
	assert_string_equal(f->out[0], "hello world");
	assert_string_equal(f->out[1], "HTTP");
	/* the last ACK hits the remembered closed flow */
	assert_int_equal(TX(h, .seq = C(12), .ack = S(5), .fl = A), TCP_IGNORE_AFTER_CLOSE);
	st = stats(h);
	assert_int_equal(st.flows_opened, 1);
	assert_int_equal(st.flows_closed[TCP_CLOSE_FIN], 1);
	assert_int_equal(st.bytes_delivered, 15);
	assert_int_equal(st.packets_ignored[TCP_IGNORE_AFTER_CLOSE], 1);
	assert_int_equal(st.flows_time_wait, 1);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.packets, 9);
	hfree(h);
}

static void test_out_of_order(void **state)
{
	struct harness *h = hnew(NULL);
	struct tcp_reasm_stats st;
	struct rflow *f = &h->f[0];

	(void)state;
	handshake(h);
	TX(h, .seq = C(6), .ack = S(0), .fl = AP, .d = "ghi");
	assert_int_equal(f->n[0], 0);
	st = stats(h);
	assert_int_equal(st.buffered_bytes, OVH + 3);
	TX(h, .seq = C(0), .ack = S(0), .fl = AP, .d = "abc");
	assert_string_equal(f->out[0], "abc");
	TX(h, .seq = C(3), .ack = S(0), .fl = AP, .d = "def");
	assert_string_equal(f->out[0], "abcdefghi");
	st = stats(h);
	assert_int_equal(st.segments_out_of_order, 1);
	assert_int_equal(st.buffered_bytes, 0);
	assert_int_equal(st.buffered_bytes_peak, OVH + 3);
	/* several held segments inserted in every position */
	TX(h, .seq = C(18), .ack = S(0), .fl = AP, .d = "stu");
	TX(h, .seq = C(12), .ack = S(0), .fl = AP, .d = "mno");
	TX(h, .seq = C(21), .ack = S(0), .fl = AP, .d = "vwx");
	TX(h, .seq = C(15), .ack = S(0), .fl = AP, .d = "pqr");
	assert_string_equal(f->out[0], "abcdefghi");
	TX(h, .seq = C(9), .ack = S(0), .fl = AP, .d = "jkl");
	assert_string_equal(f->out[0], "abcdefghijklmnopqrstuvwx");
	assert_int_equal(stats(h).buffered_bytes, 0);
	assert_int_equal(f->gaps[0], 0);
	hfree(h);
}

static void test_duplicate(void **state)
{
	struct harness *h = hnew(NULL);
	struct tcp_reasm_stats st;
	struct rflow *f = &h->f[0];

	(void)state;
	handshake(h);
	TX(h, .seq = C(0), .ack = S(0), .fl = AP, .d = "abc");
	TX(h, .seq = C(0), .ack = S(0), .fl = AP, .d = "abc");
	TX(h, .seq = C(6), .ack = S(0), .fl = AP, .d = "ghi");
	TX(h, .seq = C(6), .ack = S(0), .fl = AP, .d = "ghi");
	TX(h, .seq = C(3), .ack = S(0), .fl = AP, .d = "def");
	TX(h, .seq = C(3), .ack = S(0), .fl = AP, .d = "def");
	assert_string_equal(f->out[0], "abcdefghi");
	st = stats(h);
	assert_int_equal(st.segments_retransmitted, 2);
	assert_int_equal(st.bytes_retransmitted, 6);
	assert_int_equal(st.bytes_overlap, 3); /* the held copy of "ghi" */
	assert_int_equal(st.bytes_overlap_conflict, 0);
	assert_int_equal(st.bytes_delivered, 9);
	/* a retransmitted SYN is a copy too, not a new connection */
	TX(h, .seq = CI, .fl = TCP_F_SYN);
	assert_int_equal(h->nflows, 1);
	assert_int_equal(stats(h).port_reuse, 0);
	hfree(h);
}

static void test_overlap(void **state)
{
	struct harness *h = hnew(NULL);
	struct tcp_reasm_stats st;
	struct rflow *f = &h->f[0];

	(void)state;
	handshake(h);
	TX(h, .seq = C(10), .fl = AP, .d = "KLMNOPQRST");
	TX(h, .seq = C(5), .fl = AP, .d = "fghijXXXXX"); /* 10..15 already held, differs */
	st = stats(h);
	assert_int_equal(st.bytes_overlap, 5);
	assert_int_equal(st.bytes_overlap_conflict, 5);
	TX(h, .seq = C(0), .fl = AP, .d = "abcde");
	assert_string_equal(f->out[0], "abcdefghijKLMNOPQRST");
	/* in order, partly old */
	TX(h, .seq = C(15), .fl = AP, .d = "YYYYYuvwxy");
	assert_string_equal(f->out[0], "abcdefghijKLMNOPQRSTuvwxy");
	assert_int_equal(stats(h).bytes_overlap, 10);
	/* an in-order segment spanning held data: the held copy wins */
	TX(h, .seq = C(30), .fl = AP, .d = "12345");
	TX(h, .seq = C(25), .fl = AP, .d = "zzzzzXXXXXabcde");
	assert_string_equal(f->out[0], "abcdefghijKLMNOPQRSTuvwxyzzzzz12345abcde");
	/* a segment covering two held ones and the holes around them */
	TX(h, .seq = C(42), .fl = AP, .d = "22");
	TX(h, .seq = C(46), .fl = AP, .d = "44");
	TX(h, .seq = C(41), .fl = AP, .d = "1XX34X"); /* holds 41 and 44..46 */
	assert_int_equal(stats(h).bytes_overlap_conflict, 5 + 3);
	TX(h, .seq = C(40), .fl = AP, .d = "0");
	assert_string_equal(f->out[0] + 40, "01223444");
	assert_int_equal(stats(h).buffered_bytes, 0);
	assert_int_equal(f->gaps[0], 0);
	hfree(h);
}

static void test_wraparound(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	const uint32_t ci = 0xfffffff8u;

	(void)state;
	handshake_isn(h, 0, ci, 0xfffffffeu);
	/* 16 bytes crossing 2^32 in four segments, out of order */
	TX(h, .seq = ci + 1 + 8, .ack = 0xffffffffu, .fl = AP, .d = "IJKL");
	TX(h, .seq = ci + 1 + 0, .ack = 0xffffffffu, .fl = AP, .d = "ABCD");
	TX(h, .seq = ci + 1 + 12, .ack = 0xffffffffu, .fl = AP, .d = "MNOP");
	assert_string_equal(f->out[0], "ABCD");
	TX(h, .seq = ci + 1 + 4, .ack = 0xffffffffu, .fl = AP, .d = "EFGH");
	assert_string_equal(f->out[0], "ABCDEFGHIJKLMNOP");
	/* server data across the wrap too (ISN 0xfffffffe: data at 0xffffffff) */
	TX(h, .s2c = true, .seq = 0xffffffffu, .ack = ci + 17, .fl = AP, .d = "xy");
	TX(h, .s2c = true, .seq = 1, .ack = ci + 17, .fl = AP, .d = "z");
	assert_string_equal(f->out[1], "xyz");
	/* a hole past the wrap, proven lost by an ACK */
	TX(h, .seq = ci + 1 + 24, .ack = 2, .fl = AP, .d = "YZ");
	TX(h, .s2c = true, .seq = 2, .ack = ci + 1 + 26, .fl = A);
	assert_string_equal(f->out[0], "ABCDEFGHIJKLMNOP[8]YZ");
	assert_int_equal(f->last_cause[0], TCP_GAP_ACKED);
	hfree(h);
}

static void test_midstream(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	/* first packet seen: a server response, no handshake */
	TX(h, .s2c = true, .seq = 7000, .ack = 3000, .fl = AP, .d = "response1");
	assert_int_equal(h->nflows, 1);
	assert_int_equal(f->info.role, TCP_ROLE_PORT);
	assert_int_equal(f->info.client.port, 40000);
	assert_int_equal(f->info.server.port, 80);
	assert_memory_equal(f->info.server.addr, ADDR_S, 16);
	/* the client's pure ACK does not start its stream; its first data does */
	TX(h, .seq = 2990, .ack = 7009, .fl = A);
	TX(h, .seq = 3000, .ack = 7009, .fl = AP, .d = "req2");
	/* older server data (before the pick-up point) is not delivered */
	TX(h, .s2c = true, .seq = 6990, .ack = 3004, .fl = AP, .d = "0123456789");
	TX(h, .s2c = true, .seq = 7009, .ack = 3004, .fl = AP, .d = "more");
	assert_string_equal(f->out[0], "req2");
	assert_string_equal(f->out[1], "response1more");
	st = stats(h);
	assert_int_equal(st.bytes_retransmitted, 10);
	assert_int_equal(f->gaps[0] + f->gaps[1], 0);
	hfree(h);
}

static void test_roles(void **state)
{
	struct harness *h = hnew(NULL);

	(void)state;
	/* SYN-ACK first: its receiver is the client */
	TX(h, .cport = 41000, .s2c = true, .seq = 1, .ack = 2, .fl = TCP_F_SYN | TCP_F_ACK);
	assert_int_equal(h->f[0].info.role, TCP_ROLE_SYNACK);
	assert_int_equal(h->f[0].info.client.port, 41000);
	/* well-known port against a high one, first packet from the server */
	TX(h, .cport = 50000, .sport = 443, .s2c = true, .seq = 1, .fl = AP, .d = "x");
	assert_int_equal(h->f[1].info.role, TCP_ROLE_PORT);
	assert_int_equal(h->f[1].info.client.port, 50000);
	assert_int_equal(h->f[1].info.server.port, 443);
	assert_string_equal(h->f[1].out[1], "x");
	/* two high ports: the higher one is taken for the client (a guess) */
	TX(h, .cport = 33000, .sport = 8080, .s2c = false, .seq = 1, .fl = AP, .d = "y");
	assert_int_equal(h->f[2].info.client.port, 33000);
	assert_string_equal(h->f[2].out[0], "y");
	TX(h, .cport = 41000, .sport = 50051, .s2c = false, .seq = 1, .fl = AP, .d = "z");
	assert_int_equal(h->f[3].info.role, TCP_ROLE_PORT);
	assert_int_equal(h->f[3].info.client.port, 50051); /* guessed wrong, as documented */
	assert_string_equal(h->f[3].out[1], "z");
	/* equal ports: the first sender */
	TX(h, .cport = 5000, .sport = 5000, .s2c = true, .seq = 1, .fl = AP, .d = "w");
	assert_int_equal(h->f[4].info.role, TCP_ROLE_FIRST_SENDER);
	assert_memory_equal(h->f[4].info.client.addr, ADDR_S, 16);
	assert_string_equal(h->f[4].out[0], "w");
	/* both ports low: the higher one */
	TX(h, .cport = 22, .sport = 443, .s2c = true, .seq = 1, .fl = AP, .d = "v");
	assert_int_equal(h->f[5].info.client.port, 443);
	hfree(h);
}

static void test_gap_acked(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	handshake(h);
	TX(h, .seq = C(0), .fl = AP, .d = "abc");
	TX(h, .seq = C(6), .fl = AP, .d = "ghi"); /* 3..6 missing */
	assert_string_equal(f->out[0], "abc");
	/* the server acknowledges up to 9: the hole cannot come any more */
	TX(h, .s2c = true, .seq = S(0), .ack = C(9), .fl = A);
	assert_string_equal(f->out[0], "abc[3]ghi");
	assert_int_equal(f->last_cause[0], TCP_GAP_ACKED);
	/* acknowledged bytes that were never seen, nothing held after them */
	TX(h, .s2c = true, .seq = S(0), .ack = C(20), .fl = A);
	assert_string_equal(f->out[0], "abc[3]ghi[11]");
	/* a late copy of lost bytes is not delivered; new data continues */
	TX(h, .seq = C(9), .fl = AP, .d = "jk");
	TX(h, .seq = C(20), .fl = AP, .d = "uv");
	assert_string_equal(f->out[0], "abc[3]ghi[11]uv");
	/* an ACK behind the stream or absurdly far ahead changes nothing */
	TX(h, .s2c = true, .seq = S(0), .ack = C(5), .fl = A);
	TX(h, .s2c = true, .seq = S(0), .ack = C(0) + 0x80000000u, .fl = A);
	/* an ACK number without the ACK flag is not an acknowledgement */
	TX(h, .seq = C(30), .fl = AP, .d = "xx");
	TX(h, .s2c = true, .seq = S(0), .ack = C(40), .fl = TCP_F_PSH, .d = "r");
	assert_string_equal(f->out[0], "abc[3]ghi[11]uv");
	st = stats(h);
	assert_int_equal(st.gaps[TCP_GAP_ACKED], 2);
	assert_int_equal(st.gap_bytes[TCP_GAP_ACKED], 14);
	assert_int_equal(st.bytes_retransmitted, 2);
	hfree(h);
	/* hfree flushed the held "xx" after an 8-byte close gap */
}

static void test_gap_buffer_limit(void **state)
{
	struct tcp_reasm_config cfg = {.max_buffered_bytes_per_direction = 2 * (OVH + 10)};
	struct harness *h = hnew(&cfg);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	handshake(h);
	TX(h, .seq = C(10), .fl = AP, .d = "0123456789");
	TX(h, .seq = C(20), .fl = AP, .d = "ABCDEFGHIJ");
	assert_int_equal(stats(h).buffered_bytes, 2 * (OVH + 10));
	assert_int_equal(f->n[0], 0);
	/* no room for a third: the hole 0..10 is given up */
	TX(h, .seq = C(30), .fl = AP, .d = "abcdefghij");
	assert_string_equal(f->out[0], "[10]0123456789ABCDEFGHIJabcdefghij");
	assert_int_equal(f->last_cause[0], TCP_GAP_BUFFER);
	assert_int_equal(stats(h).buffered_bytes, 0);
	/* a piece that fills part of the hole while the buffer is full: kept */
	TX(h, .seq = C(50), .fl = AP, .d = "5555555555");
	TX(h, .seq = C(60), .fl = AP, .d = "6666666666");
	TX(h, .seq = C(45), .fl = AP, .d = "44444"); /* no room: give up 40..45 */
	assert_string_equal(f->out[0] + 34, "[5]4444455555555556666666666");
	/* one segment larger than the whole per-direction limit */
	{
		char big[301];

		memset(big, 'B', 300);
		big[300] = '\0';
		TX(h, .seq = C(80), .fl = AP, .d = big);
		assert_int_equal(f->n[0], 34 + 28 + 4 + 300);
	}
	st = stats(h);
	assert_int_equal(st.gaps[TCP_GAP_BUFFER], 3);
	assert_int_equal(st.gap_bytes[TCP_GAP_BUFFER], 10 + 5 + 10);
	assert_int_equal(st.bytes_dropped, 0);
	assert_true(st.buffered_dir_peak <= cfg.max_buffered_bytes_per_direction);
	hfree(h);
}

static void test_total_limit(void **state)
{
	struct tcp_reasm_config cfg = {.max_total_buffered_bytes = 3 * (OVH + 10)};
	struct harness *h = hnew(&cfg);
	struct tcp_reasm_stats st;

	(void)state;
	handshake_isn(h, 40001, CI, SI);
	handshake_isn(h, 40002, CI, SI);
	handshake_isn(h, 40003, CI, SI);
	TX(h, .cport = 40001, .seq = C(10), .fl = AP, .d = "1111111111");
	TX(h, .cport = 40002, .seq = C(10), .fl = AP, .d = "2222222222");
	TX(h, .cport = 40003, .seq = C(10), .fl = AP, .d = "3333333333");
	assert_int_equal(stats(h).buffered_bytes, 3 * (OVH + 10));
	/* flow 3 needs more: the stalest buffering stream (flow 1) gives up its hole */
	TX(h, .cport = 40003, .seq = C(20), .fl = AP, .d = "4444444444");
	assert_string_equal(h->f[0].out[0], "[10]1111111111");
	assert_int_equal(h->f[0].last_cause[0], TCP_GAP_BUFFER);
	assert_int_equal(h->f[1].n[0], 0);
	assert_int_equal(h->f[2].n[0], 0);
	/* flow 1 needs room: the stalest buffering stream is now flow 2 */
	TX(h, .cport = 40001, .seq = C(30), .fl = AP, .d = "5555555555");
	assert_string_equal(h->f[1].out[0], "[10]2222222222");
	st = stats(h);
	assert_int_equal(st.gaps[TCP_GAP_BUFFER], 2);
	assert_true(st.buffered_bytes <= cfg.max_total_buffered_bytes);
	/* when only this stream holds data, it gives up its own oldest hole */
	hfree(h);

	cfg.max_total_buffered_bytes = OVH + 10;
	h = hnew(&cfg);
	handshake(h);
	TX(h, .seq = C(10), .fl = AP, .d = "1111111111");
	TX(h, .seq = C(30), .fl = AP, .d = "3333333333");
	assert_string_equal(h->f[0].out[0], "[10]1111111111");
	hfree(h);
}

static void test_snapped(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	handshake(h);
	TX(h, .seq = C(0), .fl = AP, .d = "abcdefgh", .snap = 3);
	assert_string_equal(f->out[0], "abcde[3]");
	assert_int_equal(f->last_cause[0], TCP_GAP_SNAPPED);
	TX(h, .seq = C(8), .fl = AP, .d = "ij");
	/* held out of order, snapped: its lost tail is delivered as a gap in its turn */
	TX(h, .seq = C(20), .fl = AP, .d = "KLMNOPQRST", .snap = 5);
	assert_int_equal(stats(h).buffered_bytes, OVH + 5 + OVH);
	TX(h, .seq = C(10), .fl = AP, .d = "0123456789");
	assert_string_equal(f->out[0], "abcde[3]ij0123456789KLMNO[5]");
	/* nothing captured at all (TCP options cut) */
	TX(h, .seq = C(30), .fl = AP, .d = "zzzz", .snap = 4);
	assert_string_equal(f->out[0], "abcde[3]ij0123456789KLMNO[5][4]");
	st = stats(h);
	assert_int_equal(st.gaps[TCP_GAP_SNAPPED], 3);
	assert_int_equal(st.gap_bytes[TCP_GAP_SNAPPED], 12);
	hfree(h);
}

static void test_fin(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	/* FIN ahead of a hole waits for it */
	handshake(h);
	TX(h, .seq = C(0), .fl = AP, .d = "abc");
	TX(h, .seq = C(6), .fl = AF, .d = "ghi"); /* FIN at 9, hole 3..6 */
	assert_int_equal(f->fins[0], 0); /* not reached: the hole is before it */
	TX(h, .s2c = true, .seq = S(0), .ack = C(3), .fl = AF);
	assert_int_equal(f->fins[1], 1); /* the server's side ended, the flow goes on */
	assert_int_equal(f->close_calls, 0);
	/* the server's ACK of the FIN proves the hole lost: both sides done */
	TX(h, .s2c = true, .seq = S(1), .ack = C(10), .fl = A);
	assert_string_equal(f->out[0], "abc[3]ghi");
	assert_int_equal(f->fins[0], 1);
	assert_int_equal(f->fin_at[0], strlen("abc[3]ghi"));
	assert_int_equal(f->close_calls, 1);
	assert_int_equal(f->reason, TCP_CLOSE_FIN);
	hfree(h);

	/* data past the FIN is dropped; a copy before it is a retransmission */
	h = hnew(NULL);
	f = &h->f[0];
	handshake(h);
	TX(h, .seq = C(0), .fl = AF, .d = "abc"); /* FIN at 3 */
	TX(h, .seq = C(2), .fl = AP, .d = "cdef");
	TX(h, .seq = C(4), .fl = AP, .d = "ef");
	TX(h, .seq = C(0), .fl = AP, .d = "ab");
	assert_string_equal(f->out[0], "abc");
	st = stats(h);
	assert_int_equal(st.bytes_dropped, 4 + 2); /* segments reaching past the FIN */
	assert_int_equal(st.bytes_retransmitted, 2);
	/* a FIN known after later data was held: held bytes beyond it are dropped */
	TX(h, .s2c = true, .seq = S(20), .fl = AP, .d = "0123456789");
	TX(h, .s2c = true, .seq = S(3), .fl = AF, .d = "def"); /* FIN at S(6) */
	assert_int_equal(stats(h).buffered_bytes, OVH + 3);
	assert_int_equal(stats(h).bytes_dropped, 6 + 10);
	TX(h, .s2c = true, .seq = S(0), .fl = AP, .d = "abc");
	assert_string_equal(f->out[1], "abcdef");
	assert_int_equal(f->close_calls, 1);
	hfree(h);

	/* one FIN, then silence: closed as FIN by the idle timeout */
	h = hnew(&(struct tcp_reasm_config){.idle_timeout_ns = SEC});
	f = &h->f[0];
	handshake(h);
	TX(h, .seq = C(0), .fl = AF, .d = "bye");
	assert_int_equal(tcp_reasm_expire(h->r, h->now + SEC / 2), 0);
	assert_int_equal(tcp_reasm_expire(h->r, h->now + SEC), 1);
	assert_int_equal(f->reason, TCP_CLOSE_FIN);
	assert_int_equal(stats(h).flows_time_wait, 0);
	hfree(h);
}

static void test_rst(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	assert_int_equal(TX(h, .seq = 5, .fl = TCP_F_RST), TCP_IGNORE_RST_NO_FLOW);
	assert_int_equal(h->nflows, 0);
	handshake(h);
	TX(h, .seq = C(0), .fl = AP, .d = "abc");
	TX(h, .seq = C(5), .fl = AP, .d = "fg");
	assert_int_equal(TX(h, .s2c = true, .seq = S(0), .fl = TCP_F_RST | TCP_F_ACK), TCP_USED);
	assert_int_equal(f->close_calls, 1);
	assert_int_equal(f->reason, TCP_CLOSE_RST);
	assert_string_equal(f->out[0], "abc[2]fg"); /* held data flushed first */
	assert_int_equal(f->last_cause[0], TCP_GAP_CLOSE);
	assert_int_equal(TX(h, .seq = C(7), .fl = AP, .d = "late"), TCP_IGNORE_AFTER_CLOSE);
	assert_int_equal(TX(h, .s2c = true, .seq = S(0), .fl = TCP_F_RST), TCP_IGNORE_AFTER_CLOSE);
	st = stats(h);
	assert_int_equal(st.flows_closed[TCP_CLOSE_RST], 1);
	assert_int_equal(st.packets_ignored[TCP_IGNORE_RST_NO_FLOW], 1);
	assert_int_equal(st.packets_ignored[TCP_IGNORE_AFTER_CLOSE], 2);
	assert_int_equal(st.bytes_dropped, 4);
	assert_int_equal(h->nflows, 1);
	hfree(h);
}

/* tcp_reasm_evict_lru(): the least recently used open flow goes (held data flushed as a gap),
 * is forgotten, and its next packet opens a new flow; with no open flow, nothing happens. */
static void test_evict_lru(void **state)
{
	struct harness *h = hnew(NULL);

	(void)state;
	assert_false(tcp_reasm_evict_lru(h->r, h->now));
	handshake_isn(h, 40001, CI, SI);
	handshake_isn(h, 40002, CI, SI);
	TX(h, .cport = 40001, .seq = C(0), .fl = AP, .d = "a");
	TX(h, .cport = 40001, .seq = C(5), .fl = AP, .d = "held");
	assert_int_equal(tcp_reasm_buffered_bytes(h->r), TCP_REASM_SEGMENT_OVERHEAD + 4);
	TX(h, .cport = 40002, .seq = C(0), .fl = AP, .d = "b"); /* flow 1 is now the LRU one */
	assert_true(tcp_reasm_evict_lru(h->r, h->now));
	assert_int_equal(h->f[0].close_calls, 1);
	assert_int_equal(h->f[0].reason, TCP_CLOSE_MEMORY);
	assert_string_equal(h->f[0].out[0], "a[4]held");
	assert_int_equal(h->f[1].close_calls, 0);
	assert_int_equal(tcp_reasm_buffered_bytes(h->r), 0);
	assert_int_equal(stats(h).flows_closed[TCP_CLOSE_MEMORY], 1);
	assert_int_equal(stats(h).flows_time_wait, 0);
	assert_string_equal(tcp_close_reason_str(TCP_CLOSE_MEMORY), "memory");
	/* forgotten, not remembered: it speaks again, it is picked up again */
	TX(h, .cport = 40001, .seq = C(9), .fl = AP, .d = "again");
	assert_int_equal(h->nflows, 3);
	assert_string_equal(h->f[2].out[0], "again");
	assert_true(tcp_reasm_evict_lru(h->r, h->now));
	assert_int_equal(h->f[1].reason, TCP_CLOSE_MEMORY);
	assert_true(tcp_reasm_flow_bytes() > 0);
	hfree(h);
}

static void test_idle_and_time_wait(void **state)
{
	struct tcp_reasm_config cfg = {.idle_timeout_ns = 10 * SEC, .time_wait_ns = 2 * SEC};
	struct harness *h = hnew(&cfg);
	uint64_t t0;

	(void)state;
	handshake_isn(h, 40001, CI, SI);
	t0 = h->now;
	handshake_isn(h, 40002, CI, SI);
	TX(h, .cport = 40002, .seq = C(0), .fl = AP, .d = "x", .ts = t0 + 5 * SEC);
	assert_int_equal(tcp_reasm_expire(h->r, t0 + 10 * SEC - 1), 0);
	assert_int_equal(tcp_reasm_expire(h->r, t0 + 10 * SEC), 1);
	assert_int_equal(h->f[0].reason, TCP_CLOSE_IDLE_TIMEOUT);
	assert_int_equal(h->f[1].close_calls, 0);
	/* a clock behind the flows' does nothing */
	assert_int_equal(tcp_reasm_expire(h->r, 0), 0);
	/* FIN/RST-closed flows are remembered for time_wait_ns, then forgotten */
	TX(h, .cport = 40002, .s2c = true, .seq = S(0), .fl = TCP_F_RST);
	assert_int_equal(stats(h).flows_time_wait, 1);
	tcp_reasm_expire(h->r, h->now + 2 * SEC);
	assert_int_equal(stats(h).flows_time_wait, 0);
	/* a late packet after that opens a new (mid-stream) flow */
	TX(h, .cport = 40002, .seq = C(1), .fl = AP, .d = "y");
	assert_int_equal(h->nflows, 3);
	assert_string_equal(h->f[2].out[0], "y");
	hfree(h);

	/* expiry driven by packet timestamps */
	cfg.expire_on_packets = true;
	h = hnew(&cfg);
	handshake_isn(h, 40001, CI, SI);
	t0 = h->now;
	TX(h, .cport = 40005, .seq = 1, .fl = AP, .d = "z", .ts = t0 + 11 * SEC);
	assert_int_equal(h->f[0].close_calls, 1);
	assert_int_equal(h->f[0].reason, TCP_CLOSE_IDLE_TIMEOUT);
	assert_int_equal(stats(h).flows_closed[TCP_CLOSE_IDLE_TIMEOUT], 1);
	hfree(h);
}

static void test_eviction(void **state)
{
	struct tcp_reasm_config cfg = {.max_flows = 2};
	struct harness *h = hnew(&cfg);
	struct tcp_reasm_stats st;

	(void)state;
	handshake_isn(h, 40001, CI, SI);
	handshake_isn(h, 40002, CI, SI);
	TX(h, .cport = 40001, .seq = C(0), .fl = AP, .d = "a"); /* 40002 is now the LRU */
	TX(h, .cport = 40002, .seq = C(3), .fl = AP, .d = "held");
	TX(h, .cport = 40001, .seq = C(1), .fl = AP, .d = "b");
	handshake_isn(h, 40003, CI, SI);
	assert_int_equal(h->f[1].close_calls, 1);
	assert_int_equal(h->f[1].reason, TCP_CLOSE_EVICTED);
	assert_string_equal(h->f[1].out[0], "[3]held");
	assert_int_equal(h->f[0].close_calls, 0);
	/* a remembered closed flow goes first, without a close call */
	TX(h, .cport = 40001, .seq = C(2), .fl = TCP_F_RST);
	handshake_isn(h, 40004, CI, SI);
	assert_int_equal(h->f[2].close_calls, 0);
	st = stats(h);
	assert_int_equal(st.time_wait_evicted, 1);
	assert_int_equal(st.flows_closed[TCP_CLOSE_EVICTED], 1);
	assert_int_equal(st.flows_active, 2);
	assert_int_equal(st.flows_peak, 2);
	hfree(h);
}

static void test_port_reuse(void **state)
{
	struct harness *h = hnew(NULL);
	struct tcp_reasm_stats st;

	(void)state;
	handshake(h);
	TX(h, .seq = C(0), .fl = AP, .d = "first");
	/* a new SYN with another ISN while the flow is open */
	TX(h, .seq = 9000, .fl = TCP_F_SYN);
	assert_int_equal(h->f[0].close_calls, 1);
	assert_int_equal(h->f[0].reason, TCP_CLOSE_PORT_REUSE);
	assert_int_equal(h->nflows, 2);
	assert_int_equal(h->f[1].info.role, TCP_ROLE_SYN);
	TX(h, .s2c = true, .seq = 7000, .ack = 9001, .fl = TCP_F_SYN | TCP_F_ACK);
	TX(h, .seq = 9001, .ack = 7001, .fl = AP, .d = "second");
	TX(h, .seq = 9007, .ack = 7001, .fl = AF);
	TX(h, .s2c = true, .seq = 7001, .ack = 9008, .fl = AF);
	assert_int_equal(h->f[1].reason, TCP_CLOSE_FIN);
	assert_string_equal(h->f[1].out[0], "second");
	/* the same SYN again (a copy) is ignored; a SYN with a new ISN starts a third flow */
	assert_int_equal(TX(h, .seq = 9000, .fl = TCP_F_SYN), TCP_IGNORE_AFTER_CLOSE);
	assert_int_equal(TX(h, .seq = 12000, .fl = TCP_F_SYN), TCP_USED);
	assert_int_equal(h->nflows, 3);
	assert_int_equal(h->f[1].close_calls, 1);
	/* a SYN on a flow picked up mid-stream is a new connection too */
	TX(h, .cport = 40009, .seq = 100, .fl = AP, .d = "mid");
	TX(h, .cport = 40009, .seq = 50, .fl = TCP_F_SYN);
	assert_int_equal(h->f[3].reason, TCP_CLOSE_PORT_REUSE);
	assert_int_equal(h->nflows, 5);
	st = stats(h);
	assert_int_equal(st.port_reuse, 3);
	assert_int_equal(st.flows_closed[TCP_CLOSE_PORT_REUSE], 2);
	hfree(h);
}

static void test_tfo(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];

	(void)state;
	TX(h, .seq = CI, .fl = TCP_F_SYN, .d = "tfo-data");
	assert_string_equal(f->out[0], "tfo-data");
	TX(h, .s2c = true, .seq = SI, .ack = C(8), .fl = TCP_F_SYN | TCP_F_ACK, .d = "hi");
	TX(h, .seq = CI, .fl = TCP_F_SYN, .d = "tfo-data"); /* copy */
	TX(h, .seq = C(8), .ack = S(2), .fl = AP, .d = "!");
	assert_string_equal(f->out[0], "tfo-data!");
	assert_string_equal(f->out[1], "hi");
	assert_int_equal(h->nflows, 1);
	hfree(h);
}

static void test_finish(void **state)
{
	struct harness *h = hnew(NULL);
	struct rflow *f = &h->f[0];
	struct tcp_reasm_stats st;

	(void)state;
	handshake(h);
	TX(h, .seq = C(0), .fl = AP, .d = "abc");
	TX(h, .seq = C(10), .fl = AP, .d = "kl");
	TX(h, .seq = C(5), .fl = AP, .d = "fgh");
	TX(h, .s2c = true, .seq = S(4), .fl = AF, .d = "EF");
	tcp_reasm_finish(h->r);
	assert_string_equal(f->out[0], "abc[2]fgh[2]kl");
	assert_string_equal(f->out[1], "[4]EF");
	assert_int_equal(f->reason, TCP_CLOSE_END_OF_INPUT);
	st = stats(h);
	assert_int_equal(st.gaps[TCP_GAP_CLOSE], 3);
	assert_int_equal(st.gap_bytes[TCP_GAP_CLOSE], 8);
	assert_int_equal(st.flows_closed[TCP_CLOSE_END_OF_INPUT], 1);
	assert_int_equal(st.buffered_bytes, 0);
	/* the instance can be used again */
	handshake_isn(h, 40100, CI, SI);
	assert_int_equal(h->nflows, 2);
	hfree(h);
}

static void test_ignored(void **state)
{
	struct harness *h = hnew(NULL);
	struct packet p;
	struct tcp_reasm_stats st;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.l4_proto = IPPROTO_UDP;
	p.flags = PACKET_F_L4;
	p.payload = (const uint8_t *)"";
	assert_int_equal(tcp_reasm_packet(h->r, &p), TCP_IGNORE_NOT_TCP);
	p.l4_proto = IPPROTO_TCP;
	p.flags = PACKET_F_FRAGMENT;
	assert_int_equal(tcp_reasm_packet(h->r, &p), TCP_IGNORE_FRAGMENT);
	p.flags = 0;
	assert_int_equal(tcp_reasm_packet(h->r, &p), TCP_IGNORE_NOT_TCP);
	handshake(h);
	assert_int_equal(TX(h, .seq = C(0) + 0x40000000u, .fl = AP, .d = "far"),
			 TCP_IGNORE_OUT_OF_WINDOW);
	assert_int_equal(TX(h, .seq = C(0) - 0x40000000u, .fl = AP, .d = "far"),
			 TCP_IGNORE_OUT_OF_WINDOW);
	assert_int_equal(TX(h, .seq = C(0), .fl = AP, .d = "near"), TCP_USED);
	st = stats(h);
	assert_int_equal(st.packets_ignored[TCP_IGNORE_NOT_TCP], 2);
	assert_int_equal(st.packets_ignored[TCP_IGNORE_FRAGMENT], 1);
	assert_int_equal(st.packets_ignored[TCP_IGNORE_OUT_OF_WINDOW], 2);
	assert_int_equal(st.bytes_dropped, 6);
	assert_string_equal(h->f[0].out[0], "near");
	hfree(h);
}

static void test_ipv6_flow(void **state)
{
	struct harness *h = hnew(NULL);
	struct packet p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.family = AF_INET6;
	p.l4_proto = IPPROTO_TCP;
	p.flags = PACKET_F_L4;
	p.src[15] = 1;
	p.dst[15] = 2;
	p.sport = 50000;
	p.dport = 443;
	p.seq = 10;
	p.tcp_flags = AP;
	p.payload = (const uint8_t *)"v6";
	p.payload_caplen = p.payload_wirelen = 2;
	assert_int_equal(tcp_reasm_packet(h->r, &p), TCP_USED);
	/* same ports and address bytes, other family: another flow */
	p.family = AF_INET;
	assert_int_equal(tcp_reasm_packet(h->r, &p), TCP_USED);
	assert_int_equal(h->nflows, 2);
	assert_int_equal(h->f[0].info.family, AF_INET6);
	assert_string_equal(h->f[0].out[0], "v6");
	assert_string_equal(h->f[1].out[0], "v6");
	hfree(h);
}

static void test_names_and_config(void **state)
{
	struct tcp_reasm *r;
	struct tcp_reasm_config cfg;

	(void)state;
	for (int i = 0; i < TCP_CLOSE__COUNT; i++)
		assert_string_not_equal(tcp_close_reason_str(i), "unknown");
	for (int i = 0; i < TCP_GAP__COUNT; i++)
		assert_string_not_equal(tcp_gap_cause_str(i), "unknown");
	for (int i = 0; i < TCP_IGNORE__COUNT; i++)
		assert_string_not_equal(tcp_ignore_str(i), "unknown");
	for (int i = TCP_ROLE_SYN; i <= TCP_ROLE_FIRST_SENDER; i++)
		assert_string_not_equal(tcp_role_str(i), "unknown");
	assert_string_equal(tcp_close_reason_str(TCP_CLOSE__COUNT), "unknown");

	assert_int_equal(tcp_reasm_create(NULL, NULL, NULL, &r), 0);
	tcp_reasm_get_config(r, &cfg);
	assert_int_equal(cfg.max_flows, TCP_REASM_DEFAULT_MAX_FLOWS);
	assert_int_equal(cfg.max_buffered_bytes_per_direction, TCP_REASM_DEFAULT_MAX_DIR_BYTES);
	assert_int_equal(cfg.max_total_buffered_bytes, TCP_REASM_DEFAULT_MAX_TOTAL_BYTES);
	assert_int_equal(cfg.idle_timeout_ns, TCP_REASM_DEFAULT_IDLE_NS);
	assert_int_equal(cfg.time_wait_ns, TCP_REASM_DEFAULT_TIME_WAIT_NS);
	tcp_reasm_destroy(r);
	cfg.max_flows = (1u << 24) + 1;
	assert_int_equal(tcp_reasm_create(&cfg, NULL, NULL, &r), -22);
	assert_null(r);
	tcp_reasm_destroy(NULL);
}

/* ------------------------------------------------------------------ property test */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

struct tseg {
	uint32_t off, len, snap;
	bool fin;
};

/*
 * Random streams through random segmentation, reordering within a window, duplicates,
 * re-segmented retransmissions, drops and snapping, against random limits. Checks: every
 * delivered byte is the original byte at its stream position (gaps advance the position),
 * buffered bytes stay within the limits after every packet, and at the end delivered + gap
 * bytes cover the whole stream exactly. Without drops, snapping or tight limits: no gaps.
 */
static void test_random_streams(void **state)
{
	uint64_t gaps[TCP_GAP__COUNT] = {0}, ooo = 0, overlap = 0, retrans = 0, conflict = 0;

	(void)state;
	for (unsigned iter = 0; iter < 300; iter++) {
		struct tcp_reasm_config cfg = {0};
		bool lossy = iter % 2, tight = iter % 3 == 0;
		uint32_t n = 1 + rnd() % 6000, nseg = 0, ci = rnd();
		uint8_t *stream = malloc(n);
		struct tseg *segs = calloc(4 * n + 8, sizeof(*segs));
		struct harness *h;
		struct rflow *f;
		uint8_t *got;
		uint32_t acked;

		for (uint32_t i = 0; i < n; i++)
			stream[i] = (uint8_t)rnd();
		if (tight) {
			cfg.max_buffered_bytes_per_direction = OVH + rnd() % 2000;
			cfg.max_total_buffered_bytes = OVH + rnd() % 3000;
		}
		/* segmentation */
		for (uint32_t off = 0; off < n;) {
			uint32_t len = 1 + rnd() % 300;

			if (len > n - off)
				len = n - off;
			segs[nseg++] = (struct tseg){.off = off, .len = len};
			off += len;
		}
		segs[nseg - 1].fin = true;
		/* copies: exact duplicates and re-segmented overlaps */
		for (uint32_t k = 0, base = nseg; k < base / 3; k++) {
			uint32_t off = rnd() % n, len = 1 + rnd() % 400;

			if (len > n - off)
				len = n - off;
			segs[nseg++] = rnd() % 2 ? segs[rnd() % base]
						 : (struct tseg){.off = off, .len = len};
		}
		/* reorder within a window of 8 */
		for (uint32_t i = 0; i < nseg; i++) {
			uint32_t j = i + rnd() % 8;

			if (j < nseg) {
				struct tseg t = segs[i];

				segs[i] = segs[j];
				segs[j] = t;
			}
		}
		got = calloc(n, 1);
		acked = 0;
		h = hnew(&cfg);
		h->expect[0] = stream;
		h->expect_len[0] = n;
		TX(h, .seq = ci, .fl = TCP_F_SYN);
		f = &h->f[0];
		for (uint32_t i = 0; i < nseg; i++) {
			struct tseg *s = &segs[i];
			uint32_t snap = 0;

			/* the receiver gets every segment, the capture maybe not */
			memset(got + s->off, 1, s->len);
			while (acked < n && got[acked])
				acked++;
			if (lossy && rnd() % 10 == 0)
				continue;
			if (lossy && rnd() % 10 == 0)
				snap = rnd() % s->len;
			TX(h, .seq = ci + 1 + s->off, .fl = AP | (s->fin ? TCP_F_FIN : 0),
			   .d = (const char *)stream + s->off, .len = s->len, .snap = snap);
			if (rnd() % 4 == 0) /* it acknowledges what it has in order */
				TX(h, .s2c = true, .seq = 77, .ack = ci + 1 + acked, .fl = A);
		}
		tcp_reasm_finish(h->r);
		assert_int_equal(f->close_calls, 1);
		if (f->pos[0] < n) {
			/* only possible when the segment with the FIN and everything after the
			 * last delivered byte were dropped */
			assert_true(lossy);
		} else {
			assert_int_equal(f->pos[0], n);
		}
		if (!lossy && !tight)
			assert_int_equal(f->gaps[0], 0);
		{
			struct tcp_reasm_stats st = stats(h);

			for (int c = 0; c < TCP_GAP__COUNT; c++)
				gaps[c] += st.gaps[c];
			ooo += st.segments_out_of_order;
			overlap += st.bytes_overlap;
			retrans += st.bytes_retransmitted;
			conflict += st.bytes_overlap_conflict;
		}
		hfree(h);
		free(stream);
		free(segs);
		free(got);
	}
	/* the mix did exercise every path */
	print_message("  gaps acked %llu buffer %llu snapped %llu close %llu; out-of-order %llu, "
		      "overlap %llu B, retransmitted %llu B\n",
		      (unsigned long long)gaps[0], (unsigned long long)gaps[1],
		      (unsigned long long)gaps[2], (unsigned long long)gaps[3],
		      (unsigned long long)ooo, (unsigned long long)overlap,
		      (unsigned long long)retrans);
	assert_true(gaps[TCP_GAP_ACKED] && gaps[TCP_GAP_BUFFER] && gaps[TCP_GAP_SNAPPED]);
	assert_true(ooo && overlap && retrans);
	assert_int_equal(conflict, 0); /* copies carry the same bytes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_gap_acked),
		cmocka_unit_test(test_gap_buffer_limit),
		cmocka_unit_test(test_total_limit),
		cmocka_unit_test(test_snapped),
		cmocka_unit_test(test_fin),
		cmocka_unit_test(test_rst),
		cmocka_unit_test(test_evict_lru),
		cmocka_unit_test(test_idle_and_time_wait),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_port_reuse),
		cmocka_unit_test(test_tfo),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_ipv6_flow),
		cmocka_unit_test(test_names_and_config),
		cmocka_unit_test(test_random_streams),
	};

	rng_state = 0x5eed;
	return cmocka_run_group_tests_name("tcp_reasm", tests, NULL, NULL);
}
