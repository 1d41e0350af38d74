// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the dissection engine (detection by content, buffering of unconsumed bytes,
 * buffer bound, gaps, dissector switching, entry ids, pod names, the memory budget and its
 * evictions), with two toy line
 * protocols in place of the real dissectors:
 *   "toy":  the client sends "REQ <word>\n", the server "RSP <word>\n"; "SWITCH\n" from the
 *           server hands the connection to "toy2" with the pending request as handover.
 *   "toy2": every byte the server sends completes the handed-over request.
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

struct toy {
	struct entry *pending;
	unsigned gaps;
	uint64_t gap_bytes;
};

static enum detect_result toy_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	const char *want = dir == TCP_DIR_C2S ? "REQ " : "RSP ";

	if (memcmp(p, want, n < 4 ? n : 4))
		return DETECT_NO;
	return n < 4 ? DETECT_MAYBE : DETECT_YES;
}

static void *toy_open(struct conn *c, void *handover)
{
	struct toy *t = calloc(1, sizeof(*t));

	(void)c;
	if (t)
		t->pending = handover;
	return t;
}

static size_t toy_parse(void *st, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			uint64_t ts, uint64_t ts_last)
{
	struct toy *t = st;
	const uint8_t *nl = memchr(p, '\n', n);
	size_t len;

	(void)ts_last;
	if (!nl)
		return 0; /* need the whole line */
	len = nl - p + 1;
	if (dir == TCP_DIR_C2S) {
		if (t->pending) {
			t->pending->missing = ENTRY_MISSING_RESPONSE;
			conn_emit(c, t->pending);
		}
		t->pending = conn_entry_new(c);
		t->pending->protocol = "toy";
		t->pending->request_ts_ns = ts;
		entry_set_text(entry_fields_rw(t->pending), "req", p, len - 1);
		return len;
	}
	if (len == 7 && !memcmp(p, "SWITCH\n", 7)) {
		assert_int_equal(conn_switch(c, "toy2", t->pending), 0);
		t->pending = NULL;
		return len;
	}
	if (t->pending) {
		t->pending->response_ts_ns = ts;
		entry_set_text(entry_fields_rw(t->pending), "rsp", p, len - 1);
		conn_emit(c, t->pending);
		t->pending = NULL;
	}
	return len;
}

static void toy_gap(void *st, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct toy *t = st;

	(void)c, (void)dir, (void)ts;
	t->gaps++;
	t->gap_bytes += missing;
}

static void toy_close(void *st, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct toy *t = st;

	(void)ts;
	if (t->pending) {
		t->pending->missing = ENTRY_MISSING_RESPONSE;
		t->pending->missing_reason = conn_end_reason(why);
		conn_emit(c, t->pending);
		t->pending = NULL;
	}
}

static void toy_free(void *st)
{
	struct toy *t = st;

	entry_free(t->pending);
	free(t);
}

static size_t toy2_parse(void *st, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			 uint64_t ts, uint64_t ts_last)
{
	struct toy *t = st;

	(void)ts_last;
	if (dir == TCP_DIR_S2C && t->pending) {
		t->pending->protocol = "toy2";
		t->pending->response_ts_ns = ts;
		entry_set_text(entry_fields_rw(t->pending), "rsp", p, n);
		conn_emit(c, t->pending);
		t->pending = NULL;
	}
	return n;
}

static enum detect_result never(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	(void)dir, (void)p, (void)n;
	return DETECT_NO;
}

static const struct dissector toy = {
	.name = "toy", .detect = toy_detect, .open = toy_open, .parse = toy_parse,
	.gap = toy_gap, .close = toy_close, .free = toy_free,
};
static const struct dissector toy2 = {
	.name = "toy2", .detect = never, .open = toy_open, .parse = toy2_parse,
	.gap = toy_gap, .close = toy_close, .free = toy_free,
};

struct sink {
	json_t *entries; /* array of entry JSON */
};

static void collect(void *ctx, const struct entry *e)
{
	struct sink *s = ctx;

	json_array_append_new(s->entries, entry_to_json(e));
}

static struct entry_names *names(void *ctx, const uint8_t addr[16], uint64_t ts_ns)
{
	(void)ctx;
	if (addr[15] != 1)
		return NULL;
	return entry_names_new("client-pod", "team-a");
}

static const struct dissector *saved[3];

static int setup(void **state)
{
	(void)state;
	memcpy(saved, dissectors, sizeof(saved));
	dissectors[0] = &toy;
	dissectors[1] = &toy2;
	dissectors[2] = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	memcpy(dissectors, saved, sizeof(saved));
	return 0;
}

static struct dissect_engine *engine(struct sink *s, size_t max_buffer)
{
	struct dissect_config cfg = { .max_buffer_per_dir = max_buffer, .names = names };
	struct dissect_engine *e;

	s->entries = json_array();
	assert_int_equal(dissect_engine_create(&cfg, collect, s, &e), 0);
	return e;
}

static struct conn *open_conn(struct dissect_engine *e, uint64_t id)
{
	struct tcp_flow_info info = { .id = id, .family = AF_INET6 };

	info.client.addr[15] = 1;
	info.client.port = 40000;
	info.server.addr[15] = 2;
	info.server.port = 9999; /* not a known port: detection is by content */
	return dissect_stream_open(e, &info);
}

static void send_str(struct dissect_engine *e, struct conn *c, enum tcp_dir dir, const char *s,
		     uint64_t ts)
{
	dissect_stream_data(e, c, dir, (const uint8_t *)s, strlen(s), ts);
}

static const char *field(const json_t *entries, size_t i, const char *k)
{
	return json_string_value(json_object_get(json_array_get(entries, i), k));
}

static void test_pairs_split_anywhere(void **state)
{
	const char *req = "REQ alpha\nREQ beta\n", *rsp = "RSP one\nRSP two\n";

	(void)state;
	/* every split of the client bytes into two chunks gives the same two entries */
	for (size_t cut = 1; cut < strlen(req); cut++) {
		struct sink s;
		struct dissect_engine *e = engine(&s, 0);
		struct conn *c = open_conn(e, 5);

		dissect_stream_data(e, c, TCP_DIR_C2S, (const uint8_t *)req, cut, 100);
		dissect_stream_data(e, c, TCP_DIR_C2S, (const uint8_t *)req + cut,
				    strlen(req) - cut, 200);
		send_str(e, c, TCP_DIR_S2C, rsp, 300);
		dissect_stream_close(e, c, TCP_CLOSE_FIN, 400);
		assert_int_equal(json_array_size(s.entries), 2);
		/* the first request completes as missing when the second arrives (toy rule) */
		assert_string_equal(field(s.entries, 0, "req"), "REQ alpha");
		assert_string_equal(field(s.entries, 0, "missing"), "response");
		assert_string_equal(field(s.entries, 1, "req"), "REQ beta");
		assert_string_equal(field(s.entries, 1, "rsp"), "RSP one");
		assert_string_equal(field(s.entries, 0, "id"), "5-1");
		assert_string_equal(field(s.entries, 1, "id"), "5-2");
		assert_string_equal(json_string_value(json_object_get(
					json_object_get(json_array_get(s.entries, 1), "src"), "pod")),
				    "client-pod");
		assert_null(json_object_get(json_object_get(json_array_get(s.entries, 1), "dst"),
					    "pod"));
		json_decref(s.entries);
		dissect_engine_destroy(e);
	}
}

static void test_detection(void **state)
{
	struct dissect_stats st;
	struct sink s;
	struct dissect_engine *e = engine(&s, 0);
	struct conn *c = open_conn(e, 1), *u;

	(void)state;
	/* a prefix too short to decide, then the rest */
	send_str(e, c, TCP_DIR_C2S, "RE", 10);
	send_str(e, c, TCP_DIR_C2S, "Q x\n", 11);
	send_str(e, c, TCP_DIR_S2C, "RSP y\n", 12);
	assert_int_equal(json_array_size(s.entries), 1);
	dissect_stream_close(e, c, TCP_CLOSE_FIN, 13);

	/* mid-stream pick-up: junk first, the protocol at a later chunk */
	c = open_conn(e, 2);
	send_str(e, c, TCP_DIR_C2S, "tail of an earlier message\n", 20);
	send_str(e, c, TCP_DIR_C2S, "REQ late\n", 21);
	send_str(e, c, TCP_DIR_S2C, "RSP ok\n", 22);
	dissect_stream_close(e, c, TCP_CLOSE_FIN, 23);
	assert_int_equal(json_array_size(s.entries), 2);
	assert_string_equal(field(s.entries, 1, "req"), "REQ late");

	/* never recognised: unknown after the attempts, bytes ignored */
	u = open_conn(e, 3);
	for (int i = 0; i < 40; i++)
		send_str(e, u, i % 2 ? TCP_DIR_S2C : TCP_DIR_C2S, "\x16\x03\x01 binary", 30 + i);
	send_str(e, u, TCP_DIR_C2S, "REQ too late\n", 80);
	dissect_stream_close(e, u, TCP_CLOSE_FIN, 81);
	assert_int_equal(json_array_size(s.entries), 2);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.conns, 3);
	assert_int_equal(st.conns_unknown, 1);
	assert_int_equal(st.conns_by_protocol[0], 2);
	assert_int_equal(st.entries, 2);
	json_decref(s.entries);
	dissect_engine_destroy(e);
}

static void test_buffer_bound_and_gap(void **state)
{
	char big[300];
	struct dissect_stats st;
	struct sink s;
	struct dissect_engine *e = engine(&s, 128);
	struct conn *c = open_conn(e, 1);

	(void)state;
	send_str(e, c, TCP_DIR_C2S, "REQ a\n", 1);
	/* a line longer than the buffer bound: dropped, counted, reported as a gap */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "RSP ", 4);
	send_str(e, c, TCP_DIR_S2C, big, 2);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.buffer_overflows, 1);
	assert_int_equal(st.parse_errors, 1);
	/* the engine recovers: the rest of the dropped line ("\n") completes the pending
	 * request with an empty response, and the next line parses */
	send_str(e, c, TCP_DIR_S2C, "\nRSP b\n", 3);
	assert_int_equal(json_array_size(s.entries), 1);
	assert_string_equal(field(s.entries, 0, "rsp"), "");
	dissect_stream_gap(e, c, TCP_DIR_S2C, 1000, 4);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.gap_bytes, 1000);
	dissect_stream_close(e, c, TCP_CLOSE_RST, 5);
	json_decref(s.entries);
	dissect_engine_destroy(e);
}

static void test_switch(void **state)
{
	struct dissect_stats st;
	struct sink s;
	struct dissect_engine *e = engine(&s, 0);
	struct conn *c = open_conn(e, 9);

	(void)state;
	send_str(e, c, TCP_DIR_C2S, "REQ upgrade\n", 1);
	/* the switch and the new protocol's first bytes in one chunk */
	send_str(e, c, TCP_DIR_S2C, "SWITCH\nraw bytes of the new protocol", 2);
	assert_int_equal(json_array_size(s.entries), 1);
	assert_string_equal(field(s.entries, 0, "protocol"), "toy2");
	assert_string_equal(field(s.entries, 0, "req"), "REQ upgrade");
	assert_string_equal(field(s.entries, 0, "rsp"), "raw bytes of the new protocol");
	dissect_stream_close(e, c, TCP_CLOSE_FIN, 3);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.conns_by_protocol[0], 1);
	assert_int_equal(st.conns_by_protocol[1], 1);
	json_decref(s.entries);
	dissect_engine_destroy(e);
}

static void test_close_and_destroy(void **state)
{
	struct sink s;
	struct dissect_engine *e = engine(&s, 0);
	struct conn *c = open_conn(e, 4);

	(void)state;
	send_str(e, c, TCP_DIR_C2S, "REQ unanswered\n", 1);
	dissect_stream_close(e, c, TCP_CLOSE_FIN, 2);
	assert_int_equal(json_array_size(s.entries), 1);
	assert_string_equal(field(s.entries, 0, "missing"), "response");
	assert_string_equal(field(s.entries, 0, "missing_reason"), "connection_closed");
	json_decref(s.entries);
	dissect_engine_destroy(e);
}

/* One TCP segment of flow i (client ::1 with i in bytes 13-14, port 40000; server ::2:9999). */
static void tcp_seg(struct dissect_engine *e, unsigned i, bool from_client, uint8_t flags,
		    uint32_t seq, const uint8_t *p, size_t n, uint64_t ts)
{
	struct packet pk = { .ts_ns = ts, .family = AF_INET6, .l4_proto = 6,
			     .flags = PACKET_F_L4, .tcp_flags = flags, .seq = seq,
			     .payload = p ? p : (const uint8_t *)"", .payload_caplen = (uint32_t)n,
			     .payload_wirelen = (uint32_t)n };
	uint8_t cli[16] = { 0 }, srv[16] = { 0 };

	cli[15] = 1, cli[14] = i & 0xff, cli[13] = (uint8_t)(i >> 8);
	srv[15] = 2;
	memcpy(from_client ? pk.src : pk.dst, cli, 16);
	memcpy(from_client ? pk.dst : pk.src, srv, 16);
	pk.sport = from_client ? 40000 : 9999;
	pk.dport = from_client ? 9999 : 40000;
	assert_int_equal(dissect_engine_packet(e, &pk), 0);
}

/*
 * The budget: 600 connections each leave a 12 KB response line unfinished (the engine buffers
 * it: the toy parser wants whole lines), 7 MiB in all against a 4 MiB budget. After every
 * packet the charged total is within the budget; the connections evicted are the least
 * recently active (the oldest here), their pending requests come out with missing_reason
 * "memory_budget"; a connection active since then still completes its entry; held
 * out-of-order bytes are charged; everything is credited back at the end.
 */
static void test_memory_budget(void **state)
{
	enum { CONNS = 600, LINE = 12000 };
	struct dissect_config cfg = { .memory_budget = DISSECT_MIN_MEMORY,
				      .max_buffer_per_dir = 64 << 10 };
	static uint8_t rsp[LINE];
	struct dissect_stats st;
	struct dissect_engine *e;
	uint64_t ts = 1, before;
	unsigned i, evicted_ids = 0, max_evicted = 0;
	struct sink s = { .entries = json_array() };

	(void)state;
	memset(rsp, 'x', sizeof(rsp));
	memcpy(rsp, "RSP ", 4);
	cfg.memory_budget = DISSECT_MIN_MEMORY - 1;
	assert_int_equal(dissect_engine_create(&cfg, collect, &s, &e), -EINVAL);
	cfg.memory_budget = DISSECT_MIN_MEMORY;
	assert_int_equal(dissect_engine_create(&cfg, collect, &s, &e), 0);
	for (i = 0; i < CONNS; i++) {
		tcp_seg(e, i, true, TCP_F_SYN, 100, NULL, 0, ts++);
		tcp_seg(e, i, false, TCP_F_SYN | TCP_F_ACK, 500, NULL, 0, ts++);
		tcp_seg(e, i, true, TCP_F_ACK, 101, (const uint8_t *)"REQ a\n", 6, ts++);
		tcp_seg(e, i, false, TCP_F_ACK, 501, rsp, LINE, ts++);
		dissect_engine_get_stats(e, &st);
		assert_true(st.mem_bytes <= st.mem_limit);
		assert_true(st.mem_peak <= st.mem_limit + LINE * 2 + 4096);
		if (i == 0) /* the first connection's line is charged */
			assert_true(st.mem_bytes >= LINE);
		/* Connection 1 stays active: its line goes on now and then. */
		if (i > 1 && i % 50 == 0)
			tcp_seg(e, 1, false, TCP_F_ACK, 501 + LINE + (i / 50 - 1), (const uint8_t *)"y",
				1, ts++);
	}
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_limit, DISSECT_MIN_MEMORY);
	/* 600 x ~16 KiB charged (line buffer) against 4 MiB: most were evicted, each giving
	 * back at least its line. */
	assert_true(st.mem_evictions >= CONNS - DISSECT_MIN_MEMORY / LINE);
	assert_true(st.mem_evicted_bytes >= st.mem_evictions * LINE);
	assert_int_equal(json_array_size(s.entries), st.mem_evictions);
	for (i = 0; i < json_array_size(s.entries); i++) {
		unsigned id = (unsigned)strtoul(field(s.entries, i, "id"), NULL, 10);

		assert_string_equal(field(s.entries, i, "missing"), "response");
		assert_string_equal(field(s.entries, i, "missing_reason"), "memory_budget");
		assert_int_not_equal(id, 2); /* flow 2 is connection 1 */
		evicted_ids++;
		if (id > max_evicted)
			max_evicted = id;
	}
	/* The oldest first: every flow evicted is older than every flow kept (but flow 2). */
	assert_int_equal(max_evicted, evicted_ids + 1);
	/* Connection 1 kept its state: the end of its line completes its entry. */
	tcp_seg(e, 1, false, TCP_F_ACK, 501 + LINE + 11, (const uint8_t *)"\n", 1, ts++);
	assert_int_equal(json_array_size(s.entries), st.mem_evictions + 1);
	assert_string_equal(field(s.entries, st.mem_evictions, "id"), "2-1");
	assert_null(json_object_get(json_array_get(s.entries, st.mem_evictions), "missing"));
	/* Held out-of-order bytes count: a segment 1000 bytes ahead on the newest flow. */
	dissect_engine_get_stats(e, &st);
	before = st.mem_bytes;
	tcp_seg(e, CONNS - 1, true, TCP_F_ACK, 107 + 1000, rsp, 2000, ts++);
	dissect_engine_get_stats(e, &st);
	assert_true(st.mem_bytes >= before + 2000 || st.mem_evictions > 0);
	dissect_engine_finish(e);
	dissect_engine_get_stats(e, &st);
	assert_int_equal(st.mem_bytes, 0);
	json_decref(s.entries);
	dissect_engine_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs_split_anywhere),
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_buffer_bound_and_gap),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_close_and_destroy),
		cmocka_unit_test(test_memory_budget),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
