// SPDX-License-Identifier: Apache-2.0
/* Unit tests: `floe tap` flags and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "tap/tap.h"

static void test_parse_size(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(parse_size("200MB", &v), 0);
	assert_int_equal(v, 200ull << 20);
	assert_int_equal(parse_size("64KiB", &v), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(parse_size("1g", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("12 MiB", &v), 0);
	assert_int_equal(v, 12ull << 20);
	assert_int_not_equal(parse_size("", &v), 0);
	assert_int_not_equal(parse_size("MB", &v), 0);
	assert_int_not_equal(parse_size("-5MB", &v), 0);
	assert_int_not_equal(parse_size("5XB", &v), 0);
	assert_int_not_equal(parse_size("99999999999999999999", &v), 0);
	assert_int_not_equal(parse_size("99999999999TB", &v), 0);
}

static int parse(struct tap_options *o, char *err, size_t errlen, int argc, ...)
{
	char *argv[32];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	tap_options_init(o);
	return tap_options_parse(argc, argv, o, stdout, err, errlen);
}

static void test_flags(void **state)
{
	struct tap_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), 7, "tap", "^web-", "-n", "shop,pay", "--dryrun",
			       "--storagelimit", "10MB"),
			 0);
	assert_string_equal(o.pod_regex, "^web-");
	assert_string_equal(o.namespaces, "shop,pay");
	assert_true(o.dryrun);
	assert_false(o.all_namespaces);
	assert_int_equal(o.storage_limit, 10ull << 20);

	/* Flags after the regex, -A, -d and --set. */
	assert_int_equal(parse(&o, err, sizeof(err), 6, "tap", "-A", "db", "-d", "--set",
			       "tap.snaplen=256"),
			 0);
	assert_true(o.all_namespaces);
	assert_true(o.debug);
	assert_string_equal(o.pod_regex, "db");
	assert_int_equal(o.snaplen, 256);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-s", "tap.ringbuffer=1MB"), 0);
	assert_int_equal(o.ringbuf_bytes, 1ull << 20);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--dissect-queue", "8MiB"), 0);
	assert_int_equal(o.dissect_queue, 8ull << 20);

	/* The store is private unless a group is given, by flag or by --set. */
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_null(o.store_group);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--store-group", "floe-readers"), 0);
	assert_string_equal(o.store_group, "floe-readers");
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.store-group=adm"), 0);
	assert_string_equal(o.store_group, "adm");
}

static void test_bad_flags(void **state)
{
	struct tap_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--bogus"), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--storagelimit"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--storagelimit", "lots"), -EINVAL);
	assert_non_null(strstr(err, "invalid size"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--snaplen", "10"), -EINVAL);
	/* A queue smaller than one large packet would dissect nothing. */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--dissect-queue", "1KiB"), -EINVAL);
	assert_non_null(strstr(err, "--dissect-queue"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--tls"), -EINVAL);
	assert_non_null(strstr(err, "not available yet"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-p", "x.tar.gz"), -EINVAL);
	assert_non_null(strstr(err, "not available yet"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "a", "b"), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.nope=1"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "snaplen=1"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_bad_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
