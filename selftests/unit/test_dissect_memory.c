// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the engine's memory budget (engine.h, "Memory") holds whatever the peer sends,
 * with the real dissectors reporting what their state holds (dissector.h, mem()). For each
 * protocol, many connections each send the start of something the dissector keeps while it
 * waits for the rest (a Redis bulk string, a Kafka request, an AMQP content body, an HTTP/2
 * header block that never ends or many streams with bodies, DNS queries never answered),
 * in pieces, through the engine with the smallest budget. Checked: the first connection's
 * holding is charged (so the dissector's mem() counts it), the charged total is within the
 * budget after every packet, connections are evicted and counted, their pending entries come
 * out with missing_reason "memory_budget", and everything is credited back at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/redis.h"

#define CONNS 48u
#define PIECE (16u * 1024u)

struct sink {
	size_t entries, memory_budget; /* entries, and those missing_reason memory_budget */
};

static void collect(void *ctx, const struct entry *e)
{
	struct sink *s = ctx;

	s->entries++;
	if (e->missing_reason == ENTRY_REASON_MEMORY)
		s->memory_budget++;
}

/* What one connection sends: its first bytes, then `pieces` pieces of what it keeps. */
struct hostile {
	const char *name;
	uint16_t port;
	const uint8_t *start;
	size_t start_len;
	/* Piece k of the connection (into buf, at most sizeof a piece buffer); its length. */
	size_t (*piece)(unsigned k, uint8_t *buf);
	unsigned pieces;
	size_t held;	    /* the first connection is charged at least this much */
	bool pending_entry; /* an evicted connection emits an entry (cut by the budget) */
};

/* One TCP segment of connection i (client 10.0.x.y:40000 -> 10.1.0.1:port). */
static void tcp_seg(struct dissect_engine *e, unsigned i, uint16_t port, bool from_client,
		    uint8_t flags, uint32_t seq, const uint8_t *p, size_t n, uint64_t ts)
{
	struct packet pk = { .ts_ns = ts, .family = AF_INET, .l4_proto = 6,
			     .flags = PACKET_F_L4, .tcp_flags = flags, .seq = seq,
			     .payload = p ? p : (const uint8_t *)"", .payload_caplen = (uint32_t)n,
			     .payload_wirelen = (uint32_t)n };
	uint8_t cli[16] = { 0 }, srv[16] = { 0 };

	cli[10] = cli[11] = srv[10] = srv[11] = 0xff;
	cli[12] = 10, cli[14] = (uint8_t)(i >> 8), cli[15] = (uint8_t)(i + 1);
	srv[12] = 10, srv[13] = 1, srv[15] = 1;
	memcpy(from_client ? pk.src : pk.dst, cli, 16);
	memcpy(from_client ? pk.dst : pk.src, srv, 16);
	pk.sport = from_client ? 40000 : port;
	pk.dport = from_client ? port : 40000;
	assert_int_equal(dissect_engine_packet(e, &pk), 0);
}

static void check_budget(struct dissect_engine *e, const char *what, unsigned conn)
{
	struct dissect_stats st;

	dissect_engine_get_stats(e, &st);
	if (st.mem_bytes > st.mem_limit)
		fail_msg("%s: connection %u: %llu bytes charged over the budget of %llu", what,
			 conn, (unsigned long long)st.mem_bytes, (unsigned long long)st.mem_limit);
}

static void run_hostile(const struct hostile *h)
{
	struct dissect_config cfg = { .memory_budget = DISSECT_MIN_MEMORY, .body_max = 1u << 20 };
	static uint8_t buf[2 * PIECE];
	struct sink s = { 0 };
	struct dissect_stats st;
	struct dissect_engine *e;
	uint64_t ts = 1;
	unsigned i, k;

	assert_int_equal(dissect_engine_create(&cfg, collect, &s, &e), 0);
	for (i = 0; i < CONNS; i++) {
		uint32_t seq = 101;

		tcp_seg(e, i, h->port, true, TCP_F_SYN, 100, NULL, 0, ts++);
		tcp_seg(e, i, h->port, false, TCP_F_SYN | TCP_F_ACK, 500, NULL, 0, ts++);
		tcp_seg(e, i, h->port, true, TCP_F_ACK, seq, h->start, h->start_len, ts++);
		seq += (uint32_t)h->start_len;
		check_budget(e, h->name, i);
		for (k = 0; k < h->pieces; k++) {
			size_t n = h->piece(k, buf);

			assert_true(n <= sizeof(buf));
			tcp_seg(e, i, h->port, true, TCP_F_ACK, seq, buf, n, ts++);
			seq += (uint32_t)n;
			check_budget(e, h->name, i);
		}
		if (i == 0) {
			dissect_engine_get_stats(e, &st);
			if (st.mem_bytes < h->held)
				fail_msg("%s: the first connection is charged %llu bytes, "
					 "less than the %zu it holds", h->name,
					 (unsigned long long)st.mem_bytes, h->held);
			assert_int_equal(st.mem_evictions, 0);
		}
	}
	dissect_engine_get_stats(e, &st);
	print_message("%s: %u connections, %llu evicted (%llu bytes given back), peak %llu of "
		      "%llu, %zu entries (%zu cut by the budget)\n", h->name, CONNS,
		      (unsigned long long)st.mem_evictions,
		      (unsigned long long)st.mem_evicted_bytes, (unsigned long long)st.mem_peak,
		      (unsigned long long)st.mem_limit, s.entries, s.memory_budget);
	/* Each connection holds at least `held`: at most budget / held of them fit at once. */
	assert_true(st.mem_evictions >= CONNS - DISSECT_MIN_MEMORY / h->held);
	assert_true(st.mem_evicted_bytes >= st.mem_evictions * (h->held / 2));
	if (h->pending_entry)
		assert_true(s.memory_budget >= st.mem_evictions);
	else
		assert_int_equal(s.memory_budget, 0);
	/* Every connection was recognised (as the protocol meant). */
	for (k = 0, i = 0; i < DISSECT_MAX_PROTOCOLS; i++) {
		const char *name = dissect_protocol_name(i);

		if (st.conns_by_protocol[i])
			assert_true(name && !strncmp(h->name, name, strlen(name)));
		k += (unsigned)st.conns_by_protocol[i];
	}
	assert_int_equal(k, CONNS);
	dissect_engine_finish(e);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_bytes, 0);
	dissect_engine_destroy(e);
}

static size_t filler(unsigned k, uint8_t *buf)
{
	(void)k;
	memset(buf, 'x', PIECE);
	return PIECE;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- Redis: SET key <a 4 MiB bulk string>, in pieces ---- */

static void test_redis_bulk(void **state)
{
	static const char start[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$4194304\r\n";
	struct hostile h = { .name = "redis", .port = 6379, .start = (const uint8_t *)start,
			     .start_len = sizeof(start) - 1, .piece = filler, .pieces = 80,
			     .held = 512u << 10, .pending_entry = true };

	(void)state;
	run_hostile(&h);
}

/*
 * One connection pipelines 200 DEL commands of 64 keys of 1 KiB, never answered: what the
 * waiting commands keep of keys counts toward REDIS_PENDING_BYTES_MAX (4 MiB) as arguments
 * do, so the connection holds about 2 x 4 MiB of it rather than 2 x 12.8 MiB.
 */
static void test_redis_keys_bounded(void **state)
{
	struct dissect_config cfg = { .body_max = 1u << 20 };
	static uint8_t cmd[70000];
	struct sink s = { 0 };
	struct dissect_stats st;
	struct dissect_engine *e;
	uint64_t ts = 1;
	uint32_t seq = 101;
	unsigned i, k;
	size_t n;

	(void)state;
	assert_int_equal(dissect_engine_create(&cfg, collect, &s, &e), 0);
	tcp_seg(e, 0, 6379, true, TCP_F_SYN, 100, NULL, 0, ts++);
	tcp_seg(e, 0, 6379, false, TCP_F_SYN | TCP_F_ACK, 500, NULL, 0, ts++);
	for (i = 0; i < 200; i++) {
		n = (size_t)sprintf((char *)cmd, "*65\r\n$3\r\nDEL\r\n");
		for (k = 0; k < 64; k++) {
			n += (size_t)sprintf((char *)cmd + n, "$1024\r\n%04u:%04u:", i, k);
			memset(cmd + n, 'k', 1024 - 10);
			n += 1024 - 10;
			memcpy(cmd + n, "\r\n", 2);
			n += 2;
		}
		assert_true(n <= sizeof(cmd));
		tcp_seg(e, 0, 6379, true, TCP_F_ACK, seq, cmd, n, ts++);
		seq += (uint32_t)n;
	}
	dissect_engine_get_stats(e, &st);
	print_message("redis: 200 commands of 64 KiB of keys waiting: %llu bytes charged\n",
		      (unsigned long long)st.mem_bytes);
	assert_true(st.mem_bytes > 2 * REDIS_PENDING_BYTES_MAX);
	assert_true(st.mem_bytes < 2 * REDIS_PENDING_BYTES_MAX + (2u << 20));
	dissect_engine_finish(e);
	assert_int_equal(s.entries, 200);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_bytes, 0);
	dissect_engine_destroy(e);
}

/* ---- Kafka: a Produce request of 8 MiB, in pieces ---- */

static void test_kafka_frame(void **state)
{
	/*
	 * length, api key 0 (Produce), version 3, correlation id 1, client id "producer"; no
	 * transactional id, acks 1, timeout 30 s, one topic "t" with one partition (0) whose
	 * records (the rest of the request) follow.
	 */
	static uint8_t start[] = { 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1,
				   0, 8, 'p', 'r', 'o', 'd', 'u', 'c', 'e', 'r',
				   0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, 't',
				   0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct hostile h = { .name = "kafka", .port = 9092, .start = start,
			     .start_len = sizeof(start), .piece = filler, .pieces = 80,
			     .held = 1u << 20, .pending_entry = true };

	(void)state;
	put32(start, 8u << 20);
	put32(start + sizeof(start) - 4, (8u << 20) - (uint32_t)(sizeof(start) - 4));
	run_hostile(&h);
}

/* ---- AMQP: Basic.Publish with a 4 MiB content body, in body frames ---- */

static size_t amqp_body_frame(unsigned k, uint8_t *buf)
{
	(void)k;
	buf[0] = 3, buf[1] = 0, buf[2] = 1; /* body frame, channel 1 */
	put32(buf + 3, PIECE);
	memset(buf + 7, 'x', PIECE);
	buf[7 + PIECE] = 0xce;
	return 8 + PIECE;
}

static void test_amqp_body(void **state)
{
	static const uint8_t start[] = {
		'A', 'M', 'Q', 'P', 0, 0, 9, 1,
		/* method frame, channel 1: Basic.Publish (60, 40), exchange "", routing key "q" */
		1, 0, 1, 0, 0, 0, 10, 0, 60, 0, 40, 0, 0, 0, 1, 'q', 0, 0xce,
		/* content header, channel 1: class 60, weight 0, body size 4 MiB, no properties */
		2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0xce,
	};
	struct hostile h = { .name = "amqp", .port = 5672, .start = start,
			     .start_len = sizeof(start), .piece = amqp_body_frame, .pieces = 80,
			     .held = 512u << 10, .pending_entry = true };

	(void)state;
	run_hostile(&h);
}

/* ---- HTTP/2 ---- */

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

static size_t h2_frame(uint8_t *p, uint8_t type, uint8_t flags, uint32_t sid, size_t len)
{
	p[0] = (uint8_t)(len >> 16), p[1] = (uint8_t)(len >> 8), p[2] = (uint8_t)len;
	p[3] = type, p[4] = flags;
	put32(p + 5, sid);
	return 9;
}

/* CONTINUATION frames of stream 1 that never end the block (literal fields, never indexed). */
static size_t h2_continuation(unsigned k, uint8_t *buf)
{
	size_t n = h2_frame(buf, 9, 0, 1, PIECE);

	(void)k;
	memset(buf + n, 0x10, PIECE);
	return n + PIECE;
}

static void test_http2_continuation(void **state)
{
	static uint8_t start[sizeof(H2_PREFACE) - 1 + 9 + 9 + 4];
	struct hostile h = { .name = "http2 endless CONTINUATION", .port = 8080, .start = start,
			     .start_len = sizeof(start), .piece = h2_continuation, .pieces = 40,
			     .held = 200u << 10, .pending_entry = false };
	size_t n = sizeof(H2_PREFACE) - 1;

	(void)state;
	memcpy(start, H2_PREFACE, n);
	n += h2_frame(start + n, 4, 0, 0, 0);	       /* SETTINGS */
	n += h2_frame(start + n, 1, 0, 1, 4);	       /* HEADERS, stream 1, no END_HEADERS */
	memcpy(start + n, "\x82\x86\x84\x10", 4);      /* GET http / and a literal begun */
	run_hostile(&h);
}

/* Per piece a new stream: HEADERS (GET http /) and a DATA frame, the stream left open. */
static size_t h2_stream_with_body(unsigned k, uint8_t *buf)
{
	size_t n = h2_frame(buf, 1, 0x04, 2 * k + 1, 3);

	memcpy(buf + n, "\x82\x86\x84", 3);
	n += 3;
	n += h2_frame(buf + n, 0, 0, 2 * k + 1, PIECE);
	memset(buf + n, 'x', PIECE);
	return n + PIECE;
}

static void test_http2_streams(void **state)
{
	static uint8_t start[sizeof(H2_PREFACE) - 1 + 9];
	struct hostile h = { .name = "http2 open streams with bodies", .port = 8080,
			     .start = start, .start_len = sizeof(start),
			     .piece = h2_stream_with_body, .pieces = 40, .held = 40 * PIECE,
			     .pending_entry = true };
	size_t n = sizeof(H2_PREFACE) - 1;

	(void)state;
	memcpy(start, H2_PREFACE, n);
	h2_frame(start + n, 4, 0, 0, 0); /* SETTINGS */
	run_hostile(&h);
}

/*
 * What a connection is charged comes back down when its holdings go: an HTTP/2 connection
 * whose 40 streams each carried a 16 KiB request body and were answered is charged what it
 * was before them (the incremental counts of body allocations and gRPC state do not drift).
 */
static void test_http2_credited_per_stream(void **state)
{
	struct dissect_config cfg = { .body_max = 1u << 20 };
	static uint8_t buf[2 * PIECE];
	struct sink s = { 0 };
	struct dissect_stats st;
	struct dissect_engine *e;
	uint64_t ts = 1, idle;
	uint32_t cseq = 101, sseq = 501;
	unsigned k;
	size_t n;

	(void)state;
	assert_int_equal(dissect_engine_create(&cfg, collect, &s, &e), 0);
	tcp_seg(e, 0, 8080, true, TCP_F_SYN, 100, NULL, 0, ts++);
	tcp_seg(e, 0, 8080, false, TCP_F_SYN | TCP_F_ACK, 500, NULL, 0, ts++);
	n = sizeof(H2_PREFACE) - 1;
	memcpy(buf, H2_PREFACE, n);
	n += h2_frame(buf + n, 4, 0, 0, 0);
	tcp_seg(e, 0, 8080, true, TCP_F_ACK, cseq, buf, n, ts++);
	cseq += (uint32_t)n;
	n = h2_frame(buf, 4, 0, 0, 0);
	tcp_seg(e, 0, 8080, false, TCP_F_ACK, sseq, buf, n, ts++);
	sseq += (uint32_t)n;
	dissect_engine_get_stats(e, &st);
	idle = st.mem_bytes;
	for (k = 0; k < 40; k++) {
		n = h2_stream_with_body(k, buf);
		buf[n - PIECE - 9 + 4] = 0x01; /* the DATA frame ends the request */
		tcp_seg(e, 0, 8080, true, TCP_F_ACK, cseq, buf, n, ts++);
		cseq += (uint32_t)n;
		if (k == 0) {
			dissect_engine_get_stats(e, &st);
			assert_true(st.mem_bytes >= idle + PIECE);
		}
		n = h2_frame(buf, 1, 0x05, 2 * k + 1, 1); /* :status 200, END_STREAM */
		buf[n++] = 0x88;
		tcp_seg(e, 0, 8080, false, TCP_F_ACK, sseq, buf, n, ts++);
		sseq += (uint32_t)n;
	}
	assert_int_equal(s.entries, 40);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_bytes, idle);
	dissect_engine_finish(e);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_bytes, 0);
	dissect_engine_destroy(e);
}

/* ---- DNS over TCP: queries never answered ---- */

static size_t dns_queries(unsigned k, uint8_t *buf)
{
	static const uint8_t q[] = { 0, 29, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
				     3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
				     0, 0, 1, 0, 1 };
	size_t n = 0;
	unsigned j;

	for (j = 0; j < 16; j++) {
		uint16_t id = (uint16_t)(k * 16 + j + 1);

		memcpy(buf + n, q, sizeof(q));
		buf[n + 2] = (uint8_t)(id >> 8), buf[n + 3] = (uint8_t)id;
		n += sizeof(q);
	}
	return n;
}

static void test_dns_tcp_queries(void **state)
{
	struct hostile h = { .name = "dns over tcp", .port = 53, .start = (const uint8_t *)"",
			     .piece = dns_queries, .pieces = 16, .held = 200u << 10,
			     .pending_entry = true };

	(void)state;
	run_hostile(&h);
}

/* ---- DNS over UDP: conversations of queries never answered ---- */

static void udp_datagram(struct dissect_engine *e, unsigned i, const uint8_t *p, size_t n,
			 uint64_t ts)
{
	struct packet pk = { .ts_ns = ts, .family = AF_INET, .l4_proto = 17,
			     .flags = PACKET_F_L4, .payload = p, .payload_caplen = (uint32_t)n,
			     .payload_wirelen = (uint32_t)n, .sport = (uint16_t)(20000 + i),
			     .dport = 53 };

	pk.src[10] = pk.src[11] = pk.dst[10] = pk.dst[11] = 0xff;
	pk.src[12] = 10, pk.src[14] = (uint8_t)(i >> 8), pk.src[15] = (uint8_t)(i + 1);
	pk.dst[12] = 10, pk.dst[13] = 1, pk.dst[15] = 53;
	assert_int_equal(dissect_engine_packet(e, &pk), 0);
}

/*
 * UDP conversations hold their waiting queries too; with no TCP connection to evict, the
 * least recently active conversations go.
 */
static void test_dns_udp_queries(void **state)
{
	struct dissect_config cfg = { .memory_budget = DISSECT_MIN_MEMORY };
	uint8_t buf[2 * PIECE];
	struct sink s = { 0 };
	struct dissect_stats st;
	struct dissect_engine *e;
	uint64_t ts = 1;
	unsigned i, k;

	(void)state;
	assert_int_equal(dissect_engine_create(&cfg, collect, &s, &e), 0);
	for (i = 0; i < CONNS; i++) {
		for (k = 0; k < 16; k++) {
			size_t n = dns_queries(k, buf), off;

			/* each query of the piece its own datagram (without the TCP length) */
			for (off = 0; off < n; off += 31) {
				udp_datagram(e, i, buf + off + 2, 29, ts++);
				check_budget(e, "dns over udp", i);
			}
		}
		if (i == 0) {
			dissect_engine_get_stats(e, &st);
			assert_true(st.mem_bytes >= 200u << 10);
		}
	}
	dissect_engine_get_stats(e, &st);
	print_message("dns over udp: %u conversations, %llu evicted (%llu bytes given back), "
		      "%zu entries (%zu cut by the budget)\n", CONNS,
		      (unsigned long long)st.mem_evictions,
		      (unsigned long long)st.mem_evicted_bytes, s.entries, s.memory_budget);
	assert_true(st.mem_evictions >= CONNS - DISSECT_MIN_MEMORY / (200u << 10));
	assert_true(s.memory_budget >= st.mem_evictions);
	dissect_engine_finish(e);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_bytes, 0);
	dissect_engine_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redis_bulk),
		cmocka_unit_test(test_redis_keys_bounded),
		cmocka_unit_test(test_kafka_frame),
		cmocka_unit_test(test_amqp_body),
		cmocka_unit_test(test_http2_continuation),
		cmocka_unit_test(test_http2_streams),
		cmocka_unit_test(test_http2_credited_per_stream),
		cmocka_unit_test(test_dns_tcp_queries),
		cmocka_unit_test(test_dns_udp_queries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
