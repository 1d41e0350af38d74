// SPDX-License-Identifier: Apache-2.0
/*
 * flow_verdict: the drain's table takes the dissection thread's verdicts in order, refuses
 * one decided before a later SYN on its slot, forgets one at a SYN, after idleness, at its
 * clear and when a clear did not fit the ring; keys are the same both ways.
 * dissect_worker with verdicts: a TCP flow no dissector recognised has its later packets
 * queued with headers only, while entries (an HTTP flow beside it, the same pair reused after
 * FIN with a new SYN) are exactly those of a run without verdicts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/dlt.h>

#include "dissect/dissect_worker.h"
#include "dissect/flow_verdict.h"
#include "entry/entry_json.h"
#include "test_sink.h"

static const uint8_t A[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
static const uint8_t B[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};

static void test_key_both_ways(void **state)
{
	(void)state;
	assert_int_equal(flow_verdict_key(A, 40000, B, 5201), flow_verdict_key(B, 5201, A, 40000));
	assert_int_not_equal(flow_verdict_key(A, 40000, B, 5201),
			     flow_verdict_key(A, 40001, B, 5201));
	assert_int_not_equal(flow_verdict_key(A, 40000, B, 5201), 0);
}

static struct flow_verdict_ring *ring_new(void)
{
	struct flow_verdict_ring *r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);

	assert_non_null(r);
	memset(r, 0, sizeof(*r));
	return r;
}

static void test_table(void **state)
{
	struct flow_verdict_ring *r = ring_new();
	struct flow_verdict_table t;
	uint64_t k = flow_verdict_key(A, 40000, B, 5201);
	uint64_t other = flow_verdict_key(A, 40001, B, 5201);

	(void)state;
	assert_int_equal(flow_verdict_table_init(&t, 100, 1000), 0);
	assert_int_equal(t.mask, 127);
	assert_false(flow_verdict_table_cut(&t, k, false, 0, 10));
	/* the SYN is record 0, the verdict decided at record 5: applied */
	assert_false(flow_verdict_table_cut(&t, k, true, 0, 10));
	flow_verdict_ring_put(r, k, true, 5);
	flow_verdict_table_update(&t, r, 20);
	assert_true(flow_verdict_table_cut(&t, k, false, 30, 30));
	assert_false(flow_verdict_table_cut(&t, other, false, 31, 31));
	/* a SYN (port reuse) clears it at once and goes whole */
	assert_false(flow_verdict_table_cut(&t, k, true, 40, 40));
	assert_false(flow_verdict_table_cut(&t, k, false, 41, 41));
	/* a verdict decided (record 35) before that SYN (record 40) comes late: refused */
	flow_verdict_ring_put(r, k, true, 35);
	flow_verdict_table_update(&t, r, 42);
	assert_int_equal(t.refused, 1);
	assert_false(flow_verdict_table_cut(&t, k, false, 43, 43));
	/* one decided after it holds, until its clear */
	flow_verdict_ring_put(r, k, true, 45);
	flow_verdict_table_update(&t, r, 44);
	assert_true(flow_verdict_table_cut(&t, k, false, 46, 46));
	flow_verdict_ring_put(r, k, false, 50);
	flow_verdict_table_update(&t, r, 47);
	assert_false(flow_verdict_table_cut(&t, k, false, 48, 48));
	/* idle for idle_ns: given up at the next packet */
	flow_verdict_ring_put(r, k, true, 60);
	flow_verdict_table_update(&t, r, 100);
	assert_true(flow_verdict_table_cut(&t, k, false, 61, 900));
	assert_true(flow_verdict_table_cut(&t, k, false, 62, 1899));
	assert_false(flow_verdict_table_cut(&t, k, false, 63, 2899));
	assert_int_equal(t.expired, 1);
	assert_false(flow_verdict_table_cut(&t, k, false, 64, 2900));
	flow_verdict_table_free(&t);
	free(r);
}

static void test_ring_full(void **state)
{
	struct flow_verdict_ring *r = ring_new();
	struct flow_verdict_table t;
	uint64_t k = flow_verdict_key(A, 40000, B, 5201);
	unsigned i;

	(void)state;
	assert_int_equal(flow_verdict_table_init(&t, 0, 0), 0);
	assert_int_equal(t.mask + 1, FLOW_VERDICT_DEFAULT_SLOTS);
	flow_verdict_ring_put(r, k, true, 1);
	for (i = 1; i < FLOW_VERDICT_RING_MSGS; i++)
		flow_verdict_ring_put(r, flow_verdict_key(A, (uint16_t)i, B, 80), true, 1);
	/* full: a set is lost (no harm), a clear raises flush */
	flow_verdict_ring_put(r, flow_verdict_key(A, 1, B, 81), true, 2);
	assert_int_equal(r->lost_sets, 1);
	flow_verdict_ring_put(r, k, false, 3);
	assert_true(atomic_load(&r->flush));
	flow_verdict_table_update(&t, r, 10);
	assert_int_equal(t.flushes, 1);
	assert_false(flow_verdict_table_cut(&t, k, false, 4, 11));
	assert_false(atomic_load(&r->flush));
	/* the ring is usable again */
	flow_verdict_ring_put(r, k, true, 5);
	flow_verdict_table_update(&t, r, 12);
	assert_true(flow_verdict_table_cut(&t, k, false, 6, 13));
	flow_verdict_table_free(&t);
	free(r);
}

/* ---- through a worker ---- */

struct flow {
	uint8_t ip[2][4]; /* [0] client, [1] server */
	uint16_t port[2];
	uint32_t seq[2];
};

struct run {
	struct dissect_worker *w;
	uint64_t ts;
	unsigned frames;
};

static bool never(void *ctx)
{
	return false;
}

/* One Ethernet/IPv4/TCP frame of f from side `from`, its sequence numbers advanced. */
static void send_seg(struct run *r, struct flow *f, int from, uint8_t flags, const void *data,
		     uint16_t len)
{
	uint8_t fr[14 + 20 + 20 + 1500];
	uint8_t *ip = fr + 14, *tcp = ip + 20;
	uint16_t tot = (uint16_t)(40 + len);
	uint32_t seq = f->seq[from], ack = f->seq[!from];

	assert_true(len <= 1500);
	memset(fr, 0, 54);
	fr[12] = 0x08; /* IPv4 */
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, f->ip[from], 4);
	memcpy(ip + 16, f->ip[!from], 4);
	tcp[0] = (uint8_t)(f->port[from] >> 8);
	tcp[1] = (uint8_t)f->port[from];
	tcp[2] = (uint8_t)(f->port[!from] >> 8);
	tcp[3] = (uint8_t)f->port[!from];
	tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
	tcp[8] = (uint8_t)(ack >> 24), tcp[9] = (uint8_t)(ack >> 16);
	tcp[10] = (uint8_t)(ack >> 8), tcp[11] = (uint8_t)ack;
	tcp[12] = 5 << 4;
	tcp[13] = (flags & 0x02) && !from ? flags : (uint8_t)(flags | 0x10); /* ACK but a SYN */
	tcp[14] = 0xff;
	if (len)
		memcpy(tcp + 20, data, len);
	f->seq[from] += len + ((flags & 0x03) ? 1 : 0); /* SYN and FIN take one */
	r->ts += 1000000;
	assert_int_equal(dissect_worker_push_wait(r->w, DLT_EN10MB, fr, 54u + len, 54u + len, r->ts,
						  never, NULL),
			 0);
	r->frames++;
}

static void handshake(struct run *r, struct flow *f)
{
	send_seg(r, f, 0, 0x02, NULL, 0);
	send_seg(r, f, 1, 0x02, NULL, 0);
	send_seg(r, f, 0, 0x10, NULL, 0);
}

static void http_exchange(struct run *r, struct flow *f, unsigned i)
{
	char req[64];
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	snprintf(req, sizeof(req), "GET /item/%u HTTP/1.1\r\nHost: h\r\n\r\n", i);
	send_seg(r, f, 0, 0x18, req, (uint16_t)strlen(req));
	send_seg(r, f, 1, 0x18, resp, sizeof(resp) - 1);
}

static void bulk(struct run *r, struct flow *f, unsigned n, uint32_t *rnd)
{
	uint8_t b[1400];
	unsigned i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(b); j++) {
			*rnd = *rnd * 1103515245u + 12345u;
			b[j] = (uint8_t)(*rnd >> 16);
		}
		send_seg(r, f, 0, 0x10, b, sizeof(b));
	}
}

/* Wait (bounded) until the worker has given n verdicts. */
static void wait_sets(struct dissect_worker *w, uint64_t n)
{
	struct dissect_worker_stats ws;
	int i;

	for (i = 0; i < 5000; i++) {
		dissect_worker_kick(w);
		dissect_worker_get_stats(w, &ws);
		if (ws.verdict_sets >= n)
			return;
		usleep(1000);
	}
	fail_msg("no verdict after 5 s");
}

/*
 * A bulk flow of random bytes (no dissector wants them) beside an HTTP flow, then the bulk
 * flow sends something HTTP-like (it stays unrecognised), closes, and its pair is reused by a
 * new connection (SYN) that speaks HTTP.
 */
static void run_scenario(uint32_t slots, struct sink *s, struct dissect_worker_stats *ws)
{
	struct dissect_worker_config wc = {
	    .tick_ns = 3600e9, .verdict_slots = slots, .verdict_idle_ns = 60e9};
	struct dissect_config dc = {0};
	struct dissect_engine *eng;
	struct run r = {.ts = 1700000000000000000ull};
	struct flow bulkf = {{{10, 0, 0, 1}, {10, 0, 0, 2}}, {40000, 5201}, {1000, 900000}};
	struct flow web = {{{10, 0, 0, 3}, {10, 0, 0, 2}}, {40001, 80}, {5000, 700000}};
	static const char looks_http[] = "GET /not-dissected HTTP/1.1\r\nHost: h\r\n\r\n";
	uint32_t rnd = 7;
	unsigned i;

	dc.tcp.expire_on_packets = true;
	assert_int_equal(dissect_engine_create(&dc, collect, s, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &r.w), 0);
	handshake(&r, &bulkf);
	handshake(&r, &web);
	bulk(&r, &bulkf, 20, &rnd); /* detection gives up within these */
	if (slots)
		wait_sets(r.w, 1);
	for (i = 0; i < 5; i++) {
		bulk(&r, &bulkf, 6, &rnd);
		http_exchange(&r, &web, i);
	}
	send_seg(&r, &bulkf, 0, 0x18, looks_http, sizeof(looks_http) - 1);
	send_seg(&r, &bulkf, 0, 0x11, NULL, 0);
	send_seg(&r, &bulkf, 1, 0x11, NULL, 0);
	send_seg(&r, &bulkf, 0, 0x10, NULL, 0);
	/* the same pair again: a new connection */
	bulkf.seq[0] += 777777;
	bulkf.seq[1] += 555555;
	handshake(&r, &bulkf);
	http_exchange(&r, &bulkf, 100);
	http_exchange(&r, &web, 5);
	dissect_worker_stop(r.w, ws);
	dissect_engine_destroy(eng);
}

static void test_worker_same_entries(void **state)
{
	struct sink off = {0}, on = {0};
	struct dissect_worker_stats wsoff, wson;

	(void)state;
	run_scenario(0, &off, &wsoff);
	run_scenario(1024, &on, &wson);
	assert_int_equal(off.n, 7); /* 6 on the web flow, 1 on the reused pair */
	assert_int_equal(on.n, off.n);
	assert_int_equal(on.text.len, off.text.len);
	assert_memory_equal(on.text.p, off.text.p, off.text.len);
	assert_int_equal(wsoff.verdict_cut_packets, 0);
	/* the 30 bulk segments after the verdict and the HTTP-like one: headers only; and those
	 * of the first 20 the producer pushed after the verdict came (it is decided at the 16th) */
	assert_in_range(wson.verdict_cut_packets, 31, 35);
	assert_int_equal(wson.verdict_cut_bytes, (wson.verdict_cut_packets - 1) * 1400 + 40);
	assert_int_equal(wson.verdict_sets, 1);
	assert_int_equal(wson.verdict_clears, 1);
	assert_int_equal(wson.verdict_late, 0);
	assert_int_equal(wson.undecoded, 0);
	entry_json_buf_free(&off.text);
	entry_json_buf_free(&on.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_both_ways),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_ring_full),
	    cmocka_unit_test(test_worker_same_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
