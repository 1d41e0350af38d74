// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: gRPC message framing and schema-less protobuf decoding (dissect/grpc.c):
 * every wire type, nested messages, strings versus bytes, groups, hostile input (long
 * varints, huge lengths, deep nesting), field budget, framing split at every byte, status.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dissect/grpc.h"
#include "dissect/http_common.h"
#include "protocols/grpc_status.h"

static json_t *decode_ok(const uint8_t *p, size_t n)
{
	size_t budget = 100000;
	bool trunc = false;
	json_t *out = NULL;

	assert_true(protobuf_valid(p, n));
	assert_int_equal(protobuf_decode(p, n, &budget, &trunc, &out), 0);
	assert_non_null(out);
	assert_false(trunc);
	return out;
}

static void decode_bad(const uint8_t *p, size_t n)
{
	size_t budget = 100000;
	bool trunc = false;
	json_t *out = (json_t *)1;

	assert_false(protobuf_valid(p, n));
	assert_int_equal(protobuf_decode(p, n, &budget, &trunc, &out), -EINVAL);
	assert_null(out);
}

static json_t *field(json_t *arr, size_t i)
{
	json_t *f = json_array_get(arr, i);

	assert_non_null(f);
	return f;
}

static const char *fstr(json_t *f, const char *key)
{
	return json_string_value(json_object_get(f, key));
}

static long long fint(json_t *f, const char *key)
{
	json_t *v = json_object_get(f, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_wire_types(void **state)
{
	/* 1: varint 300; 2: i64 1.5 (double); 3: "hi there"; 5: i32 float 2.5; 6: -1 (int64) */
	static const uint8_t m[] = {
		0x08, 0xac, 0x02,
		0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f,
		0x1a, 8, 'h', 'i', ' ', 't', 'h', 'e', 'r', 'e',
		0x2d, 0, 0, 0x20, 0x40,
		0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
	};
	json_t *a = decode_ok(m, sizeof(m));

	(void)state;
	assert_int_equal(json_array_size(a), 5);
	assert_int_equal(fint(field(a, 0), "field"), 1);
	assert_string_equal(fstr(field(a, 0), "wire_type"), "varint");
	assert_int_equal(fint(field(a, 0), "value"), 300);
	assert_string_equal(fstr(field(a, 1), "wire_type"), "i64");
	assert_true(json_real_value(json_object_get(field(a, 1), "double")) == 1.5);
	assert_string_equal(fstr(field(a, 2), "wire_type"), "len");
	assert_string_equal(fstr(field(a, 2), "type"), "string");
	assert_string_equal(fstr(field(a, 2), "value"), "hi there");
	assert_string_equal(fstr(field(a, 3), "wire_type"), "i32");
	assert_int_equal(fint(field(a, 3), "value"), 0x40200000);
	assert_true(json_real_value(json_object_get(field(a, 3), "float")) == 2.5);
	assert_int_equal(fint(field(a, 4), "field"), 6);
	assert_int_equal(fint(field(a, 4), "value"), -1);
	json_decref(a);
}

static void test_nested_and_bytes(void **state)
{
	/* 1: { 1: 150, 2: { 1: "x" } }; 2: bytes ff fe; 3: "" ; 4: "a\x01" (text with a
	 * control character that does not parse as protobuf) */
	static const uint8_t m[] = {
		0x0a, 8, 0x08, 0x96, 0x01, 0x12, 3, 0x0a, 1, 'x',
		0x12, 2, 0xff, 0xfe,
		0x1a, 0,
		0x22, 2, 'a', 0x01,
	};
	json_t *a = decode_ok(m, sizeof(m)), *inner, *inner2;

	(void)state;
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(fstr(field(a, 0), "type"), "message");
	inner = json_object_get(field(a, 0), "value");
	assert_int_equal(fint(field(inner, 0), "value"), 150);
	inner2 = json_object_get(field(inner, 1), "value");
	assert_string_equal(fstr(field(inner2, 0), "value"), "x");
	assert_string_equal(fstr(field(a, 1), "type"), "bytes");
	assert_string_equal(fstr(field(a, 1), "value"), "//4=");
	assert_string_equal(fstr(field(a, 2), "type"), "string");
	assert_string_equal(fstr(field(a, 2), "value"), "");
	assert_string_equal(fstr(field(a, 3), "type"), "string");
	json_decref(a);
}

static void test_text_that_parses_as_protobuf(void **state)
{
	/* "hi" is also field 13 varint 105: plain text wins */
	static const uint8_t m[] = { 0x0a, 2, 'h', 'i' };
	json_t *a = decode_ok(m, sizeof(m));

	(void)state;
	assert_string_equal(fstr(field(a, 0), "type"), "string");
	assert_string_equal(fstr(field(a, 0), "value"), "hi");
	json_decref(a);
}

static void test_groups(void **state)
{
	/* 1: group { 2: 5, 3: group { 4: 1 } } then 5: 7 */
	static const uint8_t m[] = { 0x0b, 0x10, 0x05, 0x1b, 0x20, 0x01, 0x1c, 0x0c, 0x28, 0x07 };
	json_t *a = decode_ok(m, sizeof(m)), *g, *g2;

	(void)state;
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(fstr(field(a, 0), "wire_type"), "group");
	g = json_object_get(field(a, 0), "value");
	assert_int_equal(json_array_size(g), 2);
	assert_int_equal(fint(field(g, 0), "value"), 5);
	g2 = json_object_get(field(g, 1), "value");
	assert_int_equal(fint(field(g2, 0), "field"), 4);
	assert_int_equal(fint(field(a, 1), "value"), 7);
	json_decref(a);
	/* unclosed, mismatched, stray end */
	decode_bad((const uint8_t *)"\x0b\x10\x05", 3);
	decode_bad((const uint8_t *)"\x0b\x14", 2);
	decode_bad((const uint8_t *)"\x0c", 1);
}

static void test_hostile(void **state)
{
	static const uint8_t long_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t overflow10[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
					      0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t huge_len[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a' };
	static const uint8_t short_i64[] = { 0x09, 1, 2, 3 };
	static const uint8_t short_i32[] = { 0x0d, 1, 2 };
	static const uint8_t field0[] = { 0x00, 0x01 };
	static const uint8_t wt6[] = { 0x0e, 0x01 };
	static const uint8_t wt7[] = { 0x0f, 0x01 };
	static const uint8_t cut_varint[] = { 0x08, 0x80 };
	static const uint8_t cut_tag[] = { 0x80 };
	uint8_t deep[400];
	size_t i, n;
	json_t *a, *v;
	unsigned depth;

	(void)state;
	decode_bad(long_varint, sizeof(long_varint));
	decode_bad(overflow10, sizeof(overflow10));
	decode_bad(huge_len, sizeof(huge_len));
	decode_bad(short_i64, sizeof(short_i64));
	decode_bad(short_i32, sizeof(short_i32));
	decode_bad(field0, sizeof(field0));
	decode_bad(wt6, sizeof(wt6));
	decode_bad(wt7, sizeof(wt7));
	decode_bad(cut_varint, sizeof(cut_varint));
	decode_bad(cut_tag, sizeof(cut_tag));
	/* 100 nested messages (field 1, lengths fit one byte): decoded 16 deep, then bytes */
	n = 0;
	for (i = 0; i < 100; i++) {
		deep[n++] = 0x0a;
		deep[n++] = (uint8_t)(2 * (100 - i - 1) + 2);
	}
	deep[n++] = 0x08;
	deep[n++] = 0x01;
	assert_true(n <= sizeof(deep));
	/* lengths above 127 need two bytes: keep the chain short enough for one */
	n = 0;
	for (i = 0; i < 40; i++) {
		deep[n++] = 0x0a;
		deep[n++] = (uint8_t)(2 * (40 - i - 1) + 2);
	}
	deep[n++] = 0x08;
	deep[n++] = 0x01;
	a = decode_ok(deep, n);
	v = a;
	for (depth = 0; depth < 40; depth++) {
		json_t *f = field(v, 0);

		if (strcmp(fstr(f, "type"), "message"))
			break; /* the innermost ones stay a string of their bytes */
		v = json_object_get(f, "value");
	}
	assert_int_equal(depth, PROTOBUF_MAX_DEPTH);
	json_decref(a);
	/* groups nested past the bound: not a message */
	n = 0;
	for (i = 0; i < 40; i++)
		deep[n++] = 0x0b;
	for (i = 0; i < 40; i++)
		deep[n++] = 0x0c;
	decode_bad(deep, n);
}

static void test_budget(void **state)
{
	uint8_t m[2000];
	size_t i, budget = 10;
	bool trunc = false;
	json_t *out;

	(void)state;
	for (i = 0; i < 1000; i++) {
		m[2 * i] = 0x08;
		m[2 * i + 1] = (uint8_t)(i & 0x7f);
	}
	assert_int_equal(protobuf_decode(m, sizeof(m), &budget, &trunc, &out), 0);
	assert_true(trunc);
	assert_int_equal(json_array_size(out), 10);
	assert_int_equal(budget, 0);
	json_decref(out);
}

static void frame_msg(uint8_t *out, size_t *n, int flag, const uint8_t *m, size_t len)
{
	out[(*n)++] = (uint8_t)flag;
	out[(*n)++] = (uint8_t)(len >> 24);
	out[(*n)++] = (uint8_t)(len >> 16);
	out[(*n)++] = (uint8_t)(len >> 8);
	out[(*n)++] = (uint8_t)len;
	if (len)
		memcpy(out + *n, m, len);
	*n += len;
}

static void test_framing_every_split(void **state)
{
	static const uint8_t m1[] = { 0x08, 0x01 }, m2[] = { 0x12, 1, 'z' };
	uint8_t s[64];
	size_t n = 0, i, j;

	(void)state;
	frame_msg(s, &n, 0, m1, sizeof(m1));
	frame_msg(s, &n, 0, NULL, 0);
	frame_msg(s, &n, 0, m2, sizeof(m2));
	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			struct grpc_messages g;

			grpc_messages_init(&g, 1024);
			assert_int_equal(grpc_messages_feed(&g, s, i, NULL), 0);
			assert_int_equal(grpc_messages_feed(&g, s + i, j - i, NULL), 0);
			assert_int_equal(grpc_messages_feed(&g, s + j, n - j, NULL), 0);
			grpc_messages_finish(&g);
			assert_int_equal(g.count, 3);
			assert_int_equal(g.bytes, n);
			assert_int_equal(json_array_size(g.list), 3);
			assert_string_equal(json_string_value(json_object_get(
						    json_array_get(json_object_get(
									   json_array_get(g.list, 2),
									   "fields"),
								   0),
						    "value")),
					    "z");
			grpc_messages_free(&g);
		}
	}
}

static void test_framing_bounds(void **state)
{
	struct grpc_messages g;
	uint8_t s[64];
	static uint8_t big[5000];
	size_t n = 0;

	(void)state;
	/* a message over keep_max: size only */
	grpc_messages_init(&g, 100);
	frame_msg(big, &n, 0, big + 4000, 500);
	assert_int_equal(grpc_messages_feed(&g, big, n, NULL), 0);
	assert_int_equal(g.count, 1);
	assert_true(json_is_true(json_object_get(json_array_get(g.list, 0), "truncated")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(g.list, 0), "size")),
			 500);
	/* a length of 4 GiB - 1 never allocates: it is counted as it streams */
	n = 0;
	s[n++] = 0;
	s[n++] = 0xff;
	s[n++] = 0xff;
	s[n++] = 0xff;
	s[n++] = 0xff;
	memset(s + n, 'x', 20);
	n += 20;
	assert_int_equal(grpc_messages_feed(&g, s, n, NULL), 0);
	assert_true(g.buf_cap <= 256);
	/* lost bytes stop the decoding but not the counting */
	grpc_messages_lost(&g, 10);
	assert_int_equal(grpc_messages_feed(&g, s, n, NULL), 0);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.bytes, 505 + 2 * n + 10);
	grpc_messages_finish(&g);
	grpc_messages_free(&g);
}

static void test_not_protobuf(void **state)
{
	struct grpc_messages g;
	uint8_t s[64];
	size_t n = 0;

	(void)state;
	grpc_messages_init(&g, 1024);
	frame_msg(s, &n, 0, (const uint8_t *)"{\"a\": 1}", 8); /* grpc+json */
	frame_msg(s, &n, 0, (const uint8_t *)"\x0f\xff", 2);
	assert_int_equal(grpc_messages_feed(&g, s, n, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(g.list, 0), "text")),
			    "{\"a\": 1}");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(g.list, 1), "base64")), "D/8=");
	grpc_messages_free(&g);
}

static void test_status_and_call(void **state)
{
	json_t *rq = json_object(), *rs = json_object(), *tr = json_object(), *o;

	(void)state;
	assert_string_equal(grpc_status_name(0), "OK");
	assert_string_equal(grpc_status_name(16), "UNAUTHENTICATED");
	assert_null(grpc_status_name(17));
	assert_null(grpc_status_name(-1));
	http_headers_add(rq, "grpc-encoding", 13, "identity", 8);
	http_headers_add(tr, "grpc-status", 11, "14", 2);
	http_headers_add(tr, "grpc-message", 12, "bad%zz%4", 8);
	o = grpc_call_json("/a.b.C/D", rq, rs, tr, NULL, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "service")), "a.b.C");
	assert_string_equal(json_string_value(json_object_get(o, "method")), "D");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 14);
	assert_string_equal(json_string_value(json_object_get(o, "status_name")), "UNAVAILABLE");
	/* malformed escapes stay as they are */
	assert_string_equal(json_string_value(json_object_get(o, "message")), "bad%zz%4");
	assert_string_equal(json_string_value(json_object_get(o, "encoding")), "identity");
	json_decref(o);
	/* a status that is not a number is left out */
	json_object_clear(tr);
	http_headers_add(tr, "grpc-status", 11, "x1", 2);
	o = grpc_call_json("nopath", NULL, NULL, tr, NULL, NULL);
	assert_null(json_object_get(o, "status"));
	assert_null(json_object_get(o, "service"));
	json_decref(o);
	json_decref(rq);
	json_decref(rs);
	json_decref(tr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_types),
		cmocka_unit_test(test_nested_and_bytes),
		cmocka_unit_test(test_text_that_parses_as_protobuf),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_framing_every_split),
		cmocka_unit_test(test_framing_bounds),
		cmocka_unit_test(test_not_protobuf),
		cmocka_unit_test(test_status_and_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
