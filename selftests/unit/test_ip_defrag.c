// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of net/ip_defrag.c: TCP segments and UDP datagrams put back together from IPv4
 * and IPv6 fragments (in order, out of order, overlapping, lost), the bounds, and the whole
 * path through the dissection engine: an HTTP/1 request whose segment was fragmented becomes
 * one entry with the body the client sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "dissect/engine.h"
#include "net/ip_defrag.h"
#include "net/packet.h"

#define DLT_RAW_IP 12 /* a frame starts with the IP header */

/* Client 10.0.0.1 / fd00::1 port 40000, server 10.0.0.2 / fd00::2 port 80. */
#define CPORT 40000
#define SPORT 80

/* The L4 bytes of a TCP segment (20-byte header + 12 bytes of options) or a UDP datagram. */
static size_t l4_bytes(uint8_t *out, uint8_t proto, bool c2s, uint8_t tcp_flags, uint32_t seq,
		       uint32_t ack, const uint8_t *pl, size_t n)
{
	uint16_t sp = c2s ? CPORT : SPORT, dp = c2s ? SPORT : CPORT;
	size_t h = proto == IPPROTO_TCP ? 32 : 8;

	memset(out, 0, h);
	out[0] = sp >> 8, out[1] = sp & 0xff, out[2] = dp >> 8, out[3] = dp & 0xff;
	if (proto == IPPROTO_TCP) {
		out[4] = seq >> 24, out[5] = seq >> 16, out[6] = seq >> 8, out[7] = (uint8_t)seq;
		out[8] = ack >> 24, out[9] = ack >> 16, out[10] = ack >> 8, out[11] = (uint8_t)ack;
		out[12] = 8 << 4; /* data offset: 32 bytes */
		out[13] = tcp_flags;
		out[14] = 0xff, out[15] = 0xff;
		out[20] = 1, out[21] = 1, out[22] = 8, out[23] = 10; /* NOP NOP timestamps */
	} else {
		out[4] = (uint8_t)((8 + n) >> 8), out[5] = (uint8_t)(8 + n);
	}
	if (n)
		memcpy(out + h, pl, n);
	return h + n;
}

/* Fragment i (data bytes [i*frag_len, ...)) of l4 as a raw IP frame; 0 past the last. */
static size_t ip_frame(uint8_t *f, bool v6, bool c2s, uint8_t proto, uint32_t id,
		       const uint8_t *l4, size_t l4len, size_t frag_len, size_t i)
{
	size_t off = i * frag_len, len, h;
	bool more, whole = frag_len >= l4len;

	if (off >= l4len)
		return 0;
	len = l4len - off < frag_len ? l4len - off : frag_len;
	more = off + len < l4len;
	if (!v6) {
		memset(f, 0, 20);
		f[0] = 0x45;
		f[2] = (uint8_t)((20 + len) >> 8), f[3] = (uint8_t)(20 + len);
		f[4] = (uint8_t)(id >> 8), f[5] = (uint8_t)id;
		f[6] = (uint8_t)((more ? 0x20 : 0) | (off / 8) >> 8), f[7] = (uint8_t)(off / 8);
		f[8] = 64, f[9] = proto;
		f[12] = 10, f[15] = c2s ? 1 : 2;
		f[16] = 10, f[19] = c2s ? 2 : 1;
		h = 20;
	} else {
		h = whole ? 40 : 48;
		memset(f, 0, h);
		f[0] = 0x60;
		f[4] = (uint8_t)((h - 40 + len) >> 8), f[5] = (uint8_t)(h - 40 + len);
		f[6] = whole ? proto : 44, f[7] = 64;
		f[8] = 0xfd, f[23] = c2s ? 1 : 2;
		f[24] = 0xfd, f[39] = c2s ? 2 : 1;
		if (!whole) {
			f[40] = proto;
			f[42] = (uint8_t)(off >> 8), f[43] = (uint8_t)((off & 0xf8) | (more ? 1 : 0));
			f[44] = (uint8_t)(id >> 24), f[45] = (uint8_t)(id >> 16);
			f[46] = (uint8_t)(id >> 8), f[47] = (uint8_t)id;
		}
	}
	memcpy(f + h, l4 + off, len);
	return h + len;
}

/* ---- the defragmenter alone ---- */

struct got {
	unsigned n;
	struct packet p;
	uint8_t payload[70000];
	uint64_t ts_first;
	bool whole;
};

static void on_datagram(void *ctx, const struct packet *p, uint64_t ts_first, bool whole)
{
	struct got *g = ctx;

	g->n++;
	g->p = *p;
	memcpy(g->payload, p->payload, p->payload_caplen);
	g->ts_first = ts_first;
	g->whole = whole;
}

static enum ip_defrag_result add(struct ip_defrag *d, const uint8_t *f, size_t n, uint64_t ts)
{
	struct packet p;

	assert_int_equal(packet_decode(DLT_RAW_IP, f, (uint32_t)n, (uint32_t)n, ts, &p), 0);
	assert_true(p.flags & PACKET_F_FRAGMENT);
	return ip_defrag_add(d, &p);
}

static void test_tcp_segment_out_of_order(void **state)
{
	uint8_t *pl = malloc(3000), *l4 = malloc(4000), *f = malloc(4000);
	struct got *g = calloc(1, sizeof(*g));
	struct ip_defrag_stats st;

	(void)state;
	for (int i = 0; i < 3000; i++)
		pl[i] = (uint8_t)(i * 7);
	for (int v6 = 0; v6 < 2; v6++) {
		struct ip_defrag *d = ip_defrag_new(on_datagram, g);
		size_t l4len = l4_bytes(l4, IPPROTO_TCP, true, 0x18, 1001, 2002, pl, 3000);
		static const int order[] = {2, 0, 1};

		g->n = 0;
		for (int k = 0; k < 3; k++) {
			size_t n = ip_frame(f, v6, true, IPPROTO_TCP, 0x4242, l4, l4len, 1232,
					    (size_t)order[k]);

			assert_int_equal(add(d, f, n, 100 + (uint64_t)k), IP_DEFRAG_HELD);
			assert_int_equal(g->n, k == 2 ? 1 : 0);
		}
		assert_true(g->whole);
		assert_int_equal(g->p.l4_proto, IPPROTO_TCP);
		assert_int_equal(g->p.flags, PACKET_F_L4);
		assert_int_equal(g->p.sport, CPORT);
		assert_int_equal(g->p.dport, SPORT);
		assert_int_equal(g->p.seq, 1001);
		assert_int_equal(g->p.ack, 2002);
		assert_int_equal(g->p.payload_caplen, 3000);
		assert_int_equal(g->p.payload_wirelen, 3000);
		assert_memory_equal(g->payload, pl, 3000);
		assert_int_equal(g->ts_first, 100); /* the first fragment to arrive */
		assert_int_equal(g->p.ts_ns, 102);
		assert_int_equal(ip_defrag_pending(d), 0);
		ip_defrag_get_stats(d, &st);
		assert_int_equal(st.fragments, 3);
		assert_int_equal(st.reassembled, 1);
		ip_defrag_free(d);
	}
	free(pl), free(l4), free(f), free(g);
}

/* Same id and addresses, other protocol: two datagrams, not one. A lost middle fragment: the
 * datagram is given up at the end, cut after the hole. Overlaps: the later copy wins. */
static void test_keys_loss_overlap(void **state)
{
	uint8_t pl[600], l4a[700], l4b[700], f[800];
	struct got *g = calloc(1, sizeof(*g));
	struct ip_defrag *d = ip_defrag_new(on_datagram, g);
	struct ip_defrag_stats st;
	size_t la, lb, n;

	(void)state;
	memset(pl, 'x', sizeof(pl));
	la = l4_bytes(l4a, IPPROTO_TCP, true, 0x18, 1, 1, pl, sizeof(pl));
	lb = l4_bytes(l4b, IPPROTO_UDP, true, 0, 0, 0, pl, sizeof(pl));
	for (size_t i = 0; i < 3; i++) {
		n = ip_frame(f, false, true, IPPROTO_TCP, 7, l4a, la, 216, i);
		add(d, f, n, 10);
		if (i < 2) { /* the UDP datagram's last fragment is kept back */
			n = ip_frame(f, false, true, IPPROTO_UDP, 7, l4b, lb, 216, i);
			add(d, f, n, 10);
		}
	}
	assert_int_equal(g->n, 1);
	assert_int_equal(g->p.l4_proto, IPPROTO_TCP);
	assert_int_equal(ip_defrag_pending(d), 1);
	n = ip_frame(f, false, true, IPPROTO_UDP, 7, l4b, lb, 216, 2);
	add(d, f, n, 11);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->p.l4_proto, IPPROTO_UDP);
	assert_int_equal(g->p.payload_caplen, sizeof(pl));

	/* overlap: fragment 1 again with other bytes, then 0 and 2 */
	memset(pl + 200, 'y', 100);
	la = l4_bytes(l4a, IPPROTO_TCP, true, 0x18, 1, 1, pl, sizeof(pl));
	n = ip_frame(f, true, true, IPPROTO_TCP, 9, l4a, la, 216, 1);
	f[48 + 100] = 'z'; /* the first copy is wrong at one byte */
	add(d, f, n, 20);
	n = ip_frame(f, true, true, IPPROTO_TCP, 9, l4a, la, 216, 1);
	add(d, f, n, 21);
	n = ip_frame(f, true, true, IPPROTO_TCP, 9, l4a, la, 216, 0);
	add(d, f, n, 22);
	n = ip_frame(f, true, true, IPPROTO_TCP, 9, l4a, la, 216, 2);
	add(d, f, n, 23);
	assert_int_equal(g->n, 3);
	assert_memory_equal(g->payload, pl, sizeof(pl));

	/* a lost middle fragment */
	n = ip_frame(f, false, true, IPPROTO_TCP, 11, l4a, la, 216, 0);
	add(d, f, n, 30);
	n = ip_frame(f, false, true, IPPROTO_TCP, 11, l4a, la, 216, 2);
	add(d, f, n, 31);
	assert_int_equal(g->n, 3);
	ip_defrag_expire(d, 30 + IP_DEFRAG_TIMEOUT_NS - 1, false); /* not yet */
	assert_int_equal(g->n, 3);
	ip_defrag_expire(d, 30 + IP_DEFRAG_TIMEOUT_NS, false);
	assert_int_equal(g->n, 4);
	assert_false(g->whole);
	assert_int_equal(g->p.payload_caplen, 216 - 32); /* the first fragment's data */
	assert_int_equal(g->p.payload_wirelen, sizeof(pl));
	ip_defrag_get_stats(d, &st);
	assert_int_equal(st.reassembled, 3);
	assert_int_equal(st.given_up, 1);
	assert_int_equal(ip_defrag_pending(d), 0);
	ip_defrag_free(d);
	free(g);
}

/* More datagrams at once than slots: the oldest is given up, memory stays bounded. */
static void test_slots_bounded(void **state)
{
	uint8_t pl[400], l4[500], f[600];
	struct got *g = calloc(1, sizeof(*g));
	struct ip_defrag *d = ip_defrag_new(on_datagram, g);
	struct ip_defrag_stats st;
	size_t l4len = l4_bytes(l4, IPPROTO_UDP, true, 0, 0, 0, pl, sizeof(pl)), n;

	(void)state;
	memset(pl, 'a', sizeof(pl));
	for (uint32_t id = 0; id < IP_DEFRAG_SLOTS + 5; id++) {
		n = ip_frame(f, false, true, IPPROTO_UDP, id, l4, l4len, 200, 0);
		add(d, f, n, 1000 + id);
	}
	assert_int_equal(ip_defrag_pending(d), IP_DEFRAG_SLOTS);
	ip_defrag_get_stats(d, &st);
	assert_int_equal(st.given_up, 5);
	assert_int_equal(g->n, 5); /* each given up datagram's first 192 bytes */
	assert_int_equal(g->p.payload_caplen, 192);
	ip_defrag_expire(d, 0, true);
	assert_int_equal(ip_defrag_pending(d), 0);
	ip_defrag_free(d);
	free(g);
}

/* ---- through the engine: HTTP over a fragmented TCP segment ---- */

struct sink {
	json_t *entries;
};

static void collect(void *ctx, const struct entry *e)
{
	struct sink *s = ctx;

	json_array_append_new(s->entries, entry_to_json(e));
}

static void feed(struct dissect_engine *e, const uint8_t *f, size_t n, uint64_t ts)
{
	struct packet p;

	assert_int_equal(packet_decode(DLT_RAW_IP, f, (uint32_t)n, (uint32_t)n, ts, &p), 0);
	dissect_engine_packet(e, &p);
}

static void segment(struct dissect_engine *e, bool v6, bool c2s, uint8_t flags, uint32_t seq,
		    uint32_t ack, const void *pl, size_t n, size_t frag_len, uint64_t *ts)
{
	uint8_t l4[8192], f[8192];
	size_t l4len = l4_bytes(l4, IPPROTO_TCP, c2s, flags, seq, ack, pl, n), fl;

	for (size_t i = 0; (fl = ip_frame(f, v6, c2s, IPPROTO_TCP, (uint32_t)seq, l4, l4len,
					  frag_len, i)); i++)
		feed(e, f, fl, (*ts)++ * 1000);
}

static void test_http_over_fragments(void **state)
{
	char req[4096], resp[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
	const size_t body = 3000;

	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		struct sink s = {.entries = json_array()};
		struct dissect_engine *e;
		struct dissect_stats st;
		uint64_t ts = 1;
		size_t rl = (size_t)snprintf(req, sizeof(req),
					     "POST /upload HTTP/1.1\r\nHost: x\r\n"
					     "Content-Length: %zu\r\n\r\n",
					     body);
		const json_t *en;

		memset(req + rl, 'b', body);
		assert_int_equal(dissect_engine_create(NULL, collect, &s, &e), 0);
		segment(e, v6, true, 0x02, 100, 0, NULL, 0, 2000, &ts);
		segment(e, v6, false, 0x12, 500, 101, NULL, 0, 2000, &ts);
		segment(e, v6, true, 0x10, 101, 501, NULL, 0, 2000, &ts);
		/* the request in one segment, cut into IP fragments of 1024 bytes */
		segment(e, v6, true, 0x18, 101, 501, req, rl + body, 1024, &ts);
		segment(e, v6, false, 0x18, 501, (uint32_t)(101 + rl + body), resp,
			sizeof(resp) - 1, 2000, &ts);
		dissect_engine_finish(e);
		dissect_engine_get_stats(e, &st);
		assert_int_equal(st.ip_fragments, 4);
		assert_int_equal(st.ip_reassembled, 1);
		assert_int_equal(json_array_size(s.entries), 1);
		en = json_array_get(s.entries, 0);
		assert_string_equal(json_string_value(json_object_get(
					json_object_get(en, "request"), "method")),
				    "POST");
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(en, "response"), "status")),
				 201);
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(json_object_get(en, "request"), "body"),
				     "size")),
				 body);
		assert_null(json_object_get(en, "missing"));
		dissect_engine_destroy(e);
		json_decref(s.entries);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp_segment_out_of_order),
	    cmocka_unit_test(test_keys_loss_overlap),
	    cmocka_unit_test(test_slots_bounded),
	    cmocka_unit_test(test_http_over_fragments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
