// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the dissectors' toolkit: the bounded byte reader, the pending queue and the
 * length-prefixed framing helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dissect/byte_reader.h"
#include "dissect/framing.h"
#include "dissect/pending.h"

static void test_reader_numbers(void **state)
{
	static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
				    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	struct byte_reader r;

	(void)state;
	br_init(&r, b, sizeof(b));
	assert_int_equal(br_u8(&r), 0x01);
	assert_int_equal(br_u16(&r), 0x0203);
	assert_int_equal(br_u32(&r), 0x04050607);
	assert_true(br_u64(&r) == 0x08090a0b0c0d0e0fULL);
	assert_true(br_ok(&r));
	assert_int_equal(br_left(&r), 0);
	assert_int_equal(be24_at(b), 0x010203);
	br_init(&r, b, sizeof(b));
	assert_int_equal(br_le32(&r), 0x04030201);
	assert_true(br_le64(&r) == 0x0c0b0a0908070605ULL);
}

/* The first failure sticks: later reads give 0 and do not move. */
static void test_reader_short_sticks(void **state)
{
	static const uint8_t b[] = {0xaa, 0xbb, 0xcc};
	struct byte_reader r;

	(void)state;
	br_init(&r, b, sizeof(b));
	assert_int_equal(br_u16(&r), 0xaabb);
	assert_int_equal(br_u16(&r), 0); /* one byte left */
	assert_int_equal(r.st, BR_SHORT);
	assert_int_equal(r.off, 2);
	assert_int_equal(br_u8(&r), 0); /* the byte is there, but r failed */
	assert_null(br_bytes(&r, 1));
	assert_int_equal(r.off, 2);
}

static void test_reader_varints(void **state)
{
	/* 300 = ac 02; zigzag(-1) = 1; zigzag(-64) = 127 (7f); uint64 max = ff x9 01 */
	static const uint8_t b[] = {0xac, 0x02, 0x01, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
				    0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t over32[] = {0xff, 0xff, 0xff, 0xff, 0x1f}; /* 35 bits */
	static const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					   0x80, 0x80, 0x80, 0x80, 0x01};
	struct byte_reader r;

	(void)state;
	br_init(&r, b, sizeof(b));
	assert_int_equal(br_uvarint(&r, 32), 300);
	assert_int_equal(br_zigzag32(&r), -1);
	assert_int_equal(br_zigzag64(&r), -64);
	assert_true(br_uvarint(&r, 64) == UINT64_MAX);
	assert_true(br_ok(&r));

	br_init(&r, over32, sizeof(over32));
	assert_int_equal(br_uvarint(&r, 32), 0);
	assert_int_equal(r.st, BR_BAD);
	assert_string_equal(r.why, "varint overflow");
	assert_int_equal(r.bad_at, 5);

	br_init(&r, too_long, sizeof(too_long));
	br_uvarint(&r, 64);
	assert_int_equal(r.st, BR_BAD);

	br_init(&r, b, 1); /* 0xac: continues past the end */
	br_uvarint(&r, 32);
	assert_int_equal(r.st, BR_SHORT);
}

static void test_reader_sub_and_bad(void **state)
{
	static const uint8_t b[] = {0x00, 0x02, 'h', 'i', 0x07};
	struct byte_reader r, sub;

	(void)state;
	br_init(&r, b, sizeof(b));
	br_sub(&r, br_u16(&r), &sub);
	assert_int_equal(sub.n, 2);
	assert_memory_equal(br_bytes(&sub, 2), "hi", 2);
	assert_int_equal(br_u8(&r), 7);
	br_bad(&r, "first");
	br_bad(&r, "second");
	assert_string_equal(r.why, "first");
	assert_int_equal(r.bad_at, 5);

	br_init(&r, b, sizeof(b));
	br_skip(&r, 4);
	br_sub(&r, 2, &sub); /* one byte left */
	assert_int_equal(r.st, BR_SHORT);
	assert_int_equal(sub.st, BR_SHORT);
	assert_int_equal(sub.n, 0);
}

struct req {
	int id;
	struct pending_link link;
};

static bool req_is(const struct pending_link *l, const void *id)
{
	return pending_entry(l, struct req, link)->id == *(const int *)id;
}

static void test_pending_bounded(void **state)
{
	struct req r[5];
	struct pending_queue q;
	struct pending_link *old;
	int i;

	(void)state;
	pending_init(&q, 3);
	for (i = 0; i < 5; i++) {
		r[i].id = i;
		r[i].link.weight = 10 + (uint64_t)i;
		old = pending_push(&q, &r[i].link);
		if (i < 3)
			assert_null(old);
		else /* the oldest goes out, in order */
			assert_ptr_equal(old, &r[i - 3].link);
	}
	assert_int_equal(q.n, 3);
	assert_int_equal(q.evicted, 2);
	assert_int_equal(q.weight, 12 + 13 + 14);
	assert_true(pending_full(&q));
	assert_ptr_equal(pending_entry(pending_pop(&q), struct req, link), &r[2]);
	assert_int_equal(q.weight, 13 + 14);
	assert_false(pending_full(&q));
}

static void test_pending_find_remove(void **state)
{
	struct req r[4];
	struct pending_queue q;
	int want = 2, absent = 9;

	(void)state;
	pending_init(&q, 0); /* unbounded */
	for (int i = 0; i < 4; i++) {
		r[i].id = i;
		r[i].link.weight = 1;
		assert_null(pending_push(&q, &r[i].link));
	}
	assert_ptr_equal(pending_find(&q, req_is, &want), &r[2].link);
	assert_null(pending_find(&q, req_is, &absent));
	pending_remove(&q, &r[3].link); /* the tail */
	assert_ptr_equal(q.tail, &r[2].link);
	pending_unlink(&q, &r[0].link, &r[1].link); /* the middle, by predecessor */
	assert_ptr_equal(q.head->next, &r[2].link);
	pending_remove(&q, &r[3].link); /* no longer there: nothing changes */
	assert_int_equal(q.n, 2);
	assert_int_equal(q.weight, 2);
	assert_ptr_equal(pending_pop(&q), &r[0].link);
	assert_ptr_equal(pending_pop(&q), &r[2].link);
	assert_null(pending_pop(&q));
	assert_true(pending_empty(&q));
	assert_null(q.tail);
	assert_int_equal(q.weight, 0);
}

/* AMQP-like: 7-byte header with the size at 3, one trailer byte; bodies up to 16 bytes. */
static const struct lp_format fmt = {
    .hdr_len = 7, .len_off = 3, .len_size = 4, .trailer_len = 1, .max_len = 16};

static void test_lp_whole(void **state)
{
	static const uint8_t f[] = {1, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 0xce, 9};
	static const uint8_t big[] = {1, 0, 0, 0, 0, 0, 17};
	uint64_t len = 0, total = 0;

	(void)state;
	assert_int_equal(lp_whole(&fmt, f, 6, &len, &total), LP_MORE); /* header cut */
	assert_int_equal(lp_whole(&fmt, f, 10, &len, &total), LP_MORE); /* trailer missing */
	assert_int_equal(len, 3);
	assert_int_equal(lp_whole(&fmt, f, sizeof(f), &len, &total), LP_WHOLE);
	assert_int_equal(total, 11);
	assert_int_equal(lp_whole(&fmt, big, sizeof(big), &len, &total), LP_TOO_LONG);
	assert_int_equal(len, 17);
}

/* A frame fed one byte at a time gives the same events as fed whole; then the next frame. */
static void test_lp_stream(void **state)
{
	static const uint8_t two[] = {1, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 0xce,
				      2, 0, 0, 0, 0, 0, 0, 0xce};
	static const uint8_t big[] = {1, 0, 0, 0, 0, 0, 17};
	for (size_t step = 1; step <= sizeof(two); step++) {
		struct lp_stream s = {};
		size_t off = 0, body = 0, headers = 0, ends = 0;
		uint8_t got[8];

		while (off < sizeof(two)) {
			size_t n = sizeof(two) - off < step ? sizeof(two) - off : step;
			unsigned ev;
			size_t used = lp_stream_next(&s, &fmt, two + off, n, &ev);

			assert_true(used > 0 && used <= n);
			if (ev & LP_HEADER)
				headers++;
			if (ev & LP_BODY) {
				assert_true(body + used <= sizeof(got));
				memcpy(got + body, two + off, used);
				body += used;
			}
			if (ev & LP_END) {
				ends++;
				assert_false(lp_stream_mid_frame(&s));
			}
			off += used;
		}
		assert_int_equal(headers, 2);
		assert_int_equal(ends, 2);
		assert_int_equal(body, 5); /* "abc" + end, then the empty body's end octet */
		assert_memory_equal(got, "abc\xce\xce", 5);
	}
	{
		struct lp_stream s = {};
		unsigned ev;

		assert_int_equal(lp_stream_next(&s, &fmt, big, 4, &ev), 4);
		assert_int_equal(ev, 0);
		assert_true(lp_stream_mid_frame(&s));
		/* The length is over max_len: nothing consumed, the caller resyncs. */
		assert_int_equal(lp_stream_next(&s, &fmt, big + 4, 3, &ev), 0);
		assert_int_equal(ev, LP_ERROR);
		lp_stream_reset(&s);
		assert_false(lp_stream_mid_frame(&s));
	}
}

/* gRPC's prefix: an empty message ends with the call that completes its header. */
static void test_lp_stream_empty(void **state)
{
	static const struct lp_format grpc = {.hdr_len = 5, .len_off = 1, .len_size = 4};
	static const uint8_t msgs[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'x'};
	struct lp_stream s = {};
	unsigned ev;

	(void)state;
	assert_int_equal(lp_stream_next(&s, &grpc, msgs, sizeof(msgs), &ev), 5);
	assert_int_equal(ev, LP_HEADER | LP_END);
	assert_int_equal(s.len, 0);
	assert_int_equal(lp_stream_next(&s, &grpc, msgs + 5, 6, &ev), 5);
	assert_int_equal(ev, LP_HEADER);
	assert_int_equal(s.hdr[0], 1); /* the compressed flag is there for the caller */
	assert_int_equal(lp_stream_next(&s, &grpc, msgs + 10, 1, &ev), 1);
	assert_int_equal(ev, LP_BODY | LP_END);
	assert_int_equal(s.got, 1);
}

/*
 * A toy frame for lp_resync(): 'F', a length byte L, L bytes, then 0xCE. YES when the whole
 * frame and its end octet are there, MAYBE while they are not, NO otherwise.
 */
static enum detect_result toy_check(const uint8_t *p, size_t n, void *arg)
{
	(void)arg;
	if (p[0] != 'F')
		return DETECT_NO;
	if (n < 2 || n < 3u + p[1])
		return DETECT_MAYBE;
	return p[2 + p[1]] == 0xCE ? DETECT_YES : DETECT_NO;
}

static void test_lp_resync(void **state)
{
	/* garbage, a false start (end octet wrong), then a frame */
	static const uint8_t a[] = {1, 2, 'F', 1, 9, 7, 'F', 2, 'x', 'y', 0xCE};
	/* garbage, then a frame whose end is not there yet */
	static const uint8_t b[] = {5, 'F', 3, 'a'};
	/* a candidate announcing 200 bytes, then a whole frame within the lookahead */
	static const uint8_t c[] = {'F', 200, 'F', 0, 0xCE, 1, 2};
	bool found;

	(void)state;
	assert_int_equal(lp_resync(a, sizeof(a), toy_check, NULL, SIZE_MAX, &found), 6);
	assert_true(found);
	assert_int_equal(lp_resync(b, sizeof(b), toy_check, NULL, SIZE_MAX, &found), 1);
	assert_false(found); /* wait at 1 for more bytes */
	/* past wait_max bytes a MAYBE is passed over: nothing here */
	assert_int_equal(lp_resync(b, sizeof(b), toy_check, NULL, 2, &found), sizeof(b));
	assert_false(found);
	assert_int_equal(lp_resync(c, sizeof(c), toy_check, NULL, SIZE_MAX, &found), 2);
	assert_true(found);
	assert_int_equal(lp_resync(a, 0, toy_check, NULL, SIZE_MAX, &found), 0);
	assert_false(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_numbers),   cmocka_unit_test(test_reader_short_sticks),
	    cmocka_unit_test(test_reader_varints),   cmocka_unit_test(test_reader_sub_and_bad),
	    cmocka_unit_test(test_pending_bounded),  cmocka_unit_test(test_pending_find_remove),
	    cmocka_unit_test(test_lp_whole),	     cmocka_unit_test(test_lp_stream),
	    cmocka_unit_test(test_lp_stream_empty), cmocka_unit_test(test_lp_resync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
