// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: KFL matched against entries as they are (lib/core/entry/entry_kfl.c). Every
 * query of ../fuzz/entry_kfl_ref.h over a set of HTTP/1 entries gives what it gives on the
 * entry's JSON tree; the queries `floe read -f` is usually given read the compact heads
 * without building that tree, and `floe read`'s output (entry_output) writes the same text
 * with the filter as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../fuzz/entry_kfl_ref.h"
#include "entry/entry_filter.h"
#include "entry/entry_output.h"

#define F(n, v)                                                                                    \
	{                                                                                          \
		n, v, sizeof(n) - 1, sizeof(v) - 1, false                                          \
	}
#define T(n, v)                                                                                    \
	{                                                                                          \
		n, v, sizeof(n) - 1, sizeof(v) - 1, true                                           \
	}
#define NF(a) (sizeof(a) / sizeof((a)[0]))

static const struct h1_ref_field req_fields[] = {
    F("Host", "api.shop"),    F("User-Agent", "wrk"),	   F("Accept", "*/*"),
    F("accept", "text/html"), F("Cookie", "sid=abc; x=1"), F("Content-Type", "application/json"),
};
static const struct h1_ref_field resp_fields[] = {
    F("Content-Type", "text/plain"),
    F("Server", "nginx"),
    F("Set-Cookie", "a=b"),
    T("X-Trailer", "t1"),
    T("x-trailer", "t2"),
};
static const struct h1_ref_field odd_fields[] = {
    F("X-\xff", "v\xc3\x28"),
    F("X-Nul", "a\0b"),
    F("Host", "api.shop"),
};

/* The entries: plain GET and its answer, odd bytes, a request alone, a tree member. */
static void entries(struct ek_ref_entry *out, struct h1_ref_msg *msgs, size_t *n)
{
	static const char *const urls[] = {
	    "/api.json?a=1&b=%41", "/abc", "http://host:80", "/\xff?q=\xfe", "/a/b.json#x",
	};
	static const char *const reasons[] = {"OK", "Not Found", "\xff bad", ""};
	size_t k = 0, m = 0;

	for (size_t i = 0; i < NF(urls); i++) {
		struct h1_ref_msg *rq = &msgs[m++], *rs = &msgs[m++];

		*rq = (struct h1_ref_msg){.request = true,
					  .method = i == 2 ? "HEAD" : "GET",
					  .line = urls[i],
					  .line_len = strlen(urls[i]),
					  .major = 1,
					  .minor = 1,
					  .fields = i == 3 ? odd_fields : req_fields,
					  .nfields = i == 3 ? NF(odd_fields) : NF(req_fields),
					  .body = i == 1,
					  .body_bytes = (const uint8_t *)"{\"x\":1}",
					  .body_len = 7,
					  .body_size = 7,
					  .body_max = 65536};
		*rs = (struct h1_ref_msg){.request = false,
					  .status = i == 1 ? 404 : 200 + 100 * (i == 4),
					  .line = reasons[i % NF(reasons)],
					  .line_len = strlen(reasons[i % NF(reasons)]),
					  .major = 1,
					  .minor = (unsigned)(i != 2),
					  .fields = resp_fields,
					  .nfields = NF(resp_fields),
					  .body = true,
					  .body_bytes = (const uint8_t *)(i ? "api.shop" : ""),
					  .body_len = i ? 8 : 0,
					  .body_size = i ? 8 : 0,
					  .body_max = 65536,
					  .gap_bytes = i == 4 ? 5 : 0,
					  .cut = i == 2};
		out[k++] = (struct ek_ref_entry){.req = rq,
						 .resp = rs,
						 .req_ts = 1800000000000000000ull + i,
						 .resp_ts = 1800000000000000000ull + 1500000 * i,
						 .sport = 80,
						 .dport = 8080,
						 .last_octet = 2,
						 .pod = i % 2 ? "api.shop" : NULL};
	}
	out[k++] = (struct ek_ref_entry){.req = &msgs[0],
					 .req_ts = 1,
					 .sport = 40000,
					 .dport = 80,
					 .last_octet = 9,
					 .missing = ENTRY_MISSING_RESPONSE};
	out[k++] = (struct ek_ref_entry){.req = &msgs[2],
					 .resp = &msgs[3],
					 .req_ts = 5,
					 .resp_ts = 4,
					 .sport = 1,
					 .dport = 2,
					 .last_octet = 2,
					 .missing = ENTRY_INCOMPLETE_RESPONSE,
					 .tree_member = true};
	*n = k;
}

static void test_same_as_tree(void **state)
{
	struct ek_ref_entry es[16];
	struct h1_ref_msg msgs[16];
	static const char *const names[] = {"host", "Host", "accept", "x-trailer",
					    "a",    "sid",  "nope"};
	static const char *const values[] = {"api.shop", "/abc", "*/*, text/html", "t1, t2", "1",
					     "abc",	 ""};
	size_t n, checked = 0, matched = 0;

	(void)state;
	entries(es, msgs, &n);
	for (size_t i = 0; i < n; i++)
		for (size_t q = 0; q < EK_REF_NQUERIES; q++)
			for (size_t v = 0; v < NF(names); v++) {
				char text[512];
				bool built, m;
				int rc;

				ek_ref_query(q, names[v], values[v], es[i].last_octet, text,
					     sizeof(text));
				rc = ek_ref_check(&es[i], text, &built, &m);
				if (rc < 0)
					fail_msg("query does not compile: %s", text);
				if (rc)
					fail_msg("entry %zu: '%s': %s on the entry, %s on its tree",
						 i, text, m ? "match" : "no match",
						 m ? "no match" : "match");
				checked++;
				matched += m;
			}
	/* the queries are not all of one answer */
	assert_true(matched > checked / 10 && matched < checked - checked / 10);
}

/* What `floe read -f` is given most: answered without the tree. */
static void test_no_tree(void **state)
{
	static const char *const fast[] = {
	    "http and response.status >= 500",
	    "request.method in [GET, HEAD] and request.path.startsWith(\"/api\")",
	    "request.headers[\"User-Agent\"] ~ \"wrk\" and exists(request.headers.host)",
	    "request.headers.accept == \"*/*, text/html\"",
	    "response.headers[\"content-type\"].contains(\"text\") and not response.body.truncated",
	    "request.url contains \"?\" and request.query == \"a=1&b=%41\"",
	    "response.status_text == OK and response.version == \"1.1\"",
	    "src.ip == \"10.0.0.1\" and dst.port == 8080 and elapsed_ms < 250ms",
	    "timestamp > now - 5m or request_size > 10",
	    "src.namespace == shop or src.name == \"10.0.0.1\"",
	    "missing or incomplete or not exists(request.trailers)",
	    "response.body.size > 1 and request.body.text == \"\"",
	    "exists(request.query_params.zz)",
	    "response.trailers[\"X-Trailer\"] == \"t1, t2\"",
	};
	static const char *const slow[] = {
	    "request.headers[] == \"wrk\"", /* every header: the tree's */
	    "request.cookies.sid == abc",
	    "request.query_params.a == \"1\"",
	};
	struct ek_ref_entry es[16];
	struct h1_ref_msg msgs[16];
	size_t n;

	(void)state;
	entries(es, msgs, &n);
	for (size_t i = 0; i < NF(fast); i++) {
		bool built = true, m;

		assert_int_equal(ek_ref_check(&es[0], fast[i], &built, &m), 0);
		if (built)
			fail_msg("'%s' built the tree", fast[i]);
	}
	for (size_t i = 0; i < NF(slow); i++) {
		bool built = false, m;

		assert_int_equal(ek_ref_check(&es[0], slow[i], &built, &m), 0);
		assert_true(m);
		if (!built)
			fail_msg("'%s' was expected to need the tree", slow[i]);
	}
}

/* entry_output with a filter: the text without the filter's tree is the text with it. */
static void test_output(void **state)
{
	struct ek_ref_entry es[16];
	struct h1_ref_msg msgs[16];
	struct entry_filter *f = NULL, *g = NULL;
	char err[256], *a = NULL, *b = NULL;
	size_t n, alen = 0, blen = 0;
	FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
	struct entry_output oa = {.out = fa, .json = true}, ob = {.out = fb, .json = true};

	(void)state;
	entries(es, msgs, &n);
	assert_int_equal(
	    entry_filter_compile_checked("http and response.status < 400", &f, err, sizeof(err)),
	    0);
	assert_int_equal(entry_filter_compile_checked("http and (response.status < 400 or "
						      "request.headers[] == \"never\")",
						      &g, err, sizeof(err)),
			 0);
	oa.filter = f;
	ob.filter = g;
	for (size_t i = 0; i < n; i++) {
		struct entry *e = ek_ref_make(&es[i]);

		entry_output_sink(&oa, e);
		entry_free(e);
		e = ek_ref_make(&es[i]);
		entry_output_sink(&ob, e);
		entry_free(e);
	}
	fclose(fa);
	fclose(fb);
	assert_int_equal(oa.printed, ob.printed);
	assert_true(oa.printed > 0 && oa.filtered_out > 0);
	assert_int_equal(oa.filter_trees, 0);
	assert_true(ob.filter_trees > oa.filter_trees);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	entry_output_free(&oa);
	entry_output_free(&ob);
	entry_filter_free(f);
	entry_filter_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_as_tree),
	    cmocka_unit_test(test_no_tree),
	    cmocka_unit_test(test_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
