// SPDX-License-Identifier: Apache-2.0
/* entry_json: compact JSON text of jansson trees, checked against jansson's own dump. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "entry/entry_json.h"

/* The writer's text must read back as j, and equal jansson's compact dump byte for byte. */
static void check_same_as_jansson(const json_t *j)
{
	struct entry_json_buf b = {0};
	char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_error_t err;
	json_t *back;

	assert_non_null(want);
	assert_int_equal(entry_json_append(&b, j), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	back = json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	assert_non_null(back);
	assert_true(json_equal(back, (json_t *)j));
	json_decref(back);
	free(want);
	entry_json_buf_free(&b);
}

static void test_scalars_and_nesting(void **state)
{
	json_t *j = json_pack("{s:s, s:i, s:I, s:b, s:b, s:n, s:[i, s, {s:[]}, {}], s:{s:{s:s}}}",
			      "id", "3-1", "port", 8080, "big", (json_int_t)-9007199254740993LL,
			      "t", 1, "f", 0, "nothing", "arr", 1, "two", "x", "empty", "obj",
			      "a", "b", "c");

	assert_non_null(j);
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

static void test_string_escapes(void **state)
{
	/* Every control character, quote, backslash, slash, DEL and multi-byte UTF-8. */
	char s[64];
	size_t n = 0;
	json_t *j;

	for (int c = 1; c < 0x20; c++)
		s[n++] = (char)c;
	static const char rest[] = "\"\\/\x7f" "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

	memcpy(s + n, rest, sizeof(rest) - 1);
	n += sizeof(rest) - 1;
	j = json_object();
	json_object_set_new(j, "text", json_stringn(s, n));
	json_object_set_new(j, "nul", json_stringn("a\0b", 3));
	json_object_set_new(j, "key \"quoted\"\n", json_string("v"));
	json_object_set_new(j, "", json_string(""));
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

static void test_insertion_order(void **state)
{
	json_t *j = json_object();
	char k[8];

	/* Many keys: past the hash table's first resize, order must stay insertion order. */
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "k%d", (i * 37) % 200);
		json_object_set_new(j, k, json_integer(i));
	}
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

static void check_real(double v, const char *want)
{
	struct entry_json_buf b = {0};
	json_t *j = json_real(v);

	assert_int_equal(entry_json_append(&b, j), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	assert_true(strtod(want, NULL) == v);
	json_decref(j);
	entry_json_buf_free(&b);
}

static void test_reals_shortest(void **state)
{
	check_real(0.568, "0.568");
	check_real(0.1 + 0.2, "0.30000000000000004");
	check_real(1.0, "1.0");
	check_real(-250.0, "-250.0");
	check_real(1e300, "1e+300");
	check_real(5e-324, "4.94065645841247e-324");
	check_real(123456.789, "123456.789");
	(void)state;
}

static void test_appends_and_depth(void **state)
{
	struct entry_json_buf b = {0};
	json_t *deep = json_array(), *cur = deep;

	/* Appending keeps what is there; a failed append leaves it unchanged. */
	assert_int_equal(entry_json_append_raw(&b, "x", 1), 0);
	for (int i = 0; i < 300; i++) {
		json_t *next = json_array();

		json_array_append_new(cur, next);
		cur = next;
	}
	assert_int_not_equal(entry_json_append(&b, deep), 0);
	assert_int_equal(b.len, 1);
	assert_int_not_equal(entry_json_append(&b, NULL), 0);
	assert_int_equal(b.len, 1);
	json_decref(deep);
	entry_json_buf_free(&b);
	assert_null(b.p);
	(void)state;
}

static void test_large_string(void **state)
{
	size_t n = 300000;
	char *s = malloc(n);
	json_t *j;

	for (size_t i = 0; i < n; i++)
		s[i] = (char)(i % 7 == 0 ? '\n' : 'a' + i % 26);
	j = json_stringn(s, n);
	check_same_as_jansson(j);
	json_decref(j);
	free(s);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars_and_nesting), cmocka_unit_test(test_string_escapes),
	    cmocka_unit_test(test_insertion_order),     cmocka_unit_test(test_reals_shortest),
	    cmocka_unit_test(test_appends_and_depth),   cmocka_unit_test(test_large_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
