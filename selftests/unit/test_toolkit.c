// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the dissectors' toolkit: the bounded byte reader and the pending queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dissect/byte_reader.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_numbers),   cmocka_unit_test(test_reader_short_sticks),
	    cmocka_unit_test(test_reader_varints),   cmocka_unit_test(test_reader_sub_and_bad),
	    cmocka_unit_test(test_pending_bounded),  cmocka_unit_test(test_pending_find_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
