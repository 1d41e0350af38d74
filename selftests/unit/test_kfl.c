// SPDX-License-Identifier: Apache-2.0
/*
 * KFL (lib/core/kfl): grammar and precedence, every operator, helper, unit, in-list, regular
 * expressions, header names, list elements, presence, times, error messages with their
 * columns, the earlier filter's syntax, the time bounds and capture scope a query implies,
 * and matching through an accessor that is not jansson. Links the core alone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "kfl/kfl.h"
#include "protocols/protocol.h"

#define SEC 1000000000LL
/* 2026-12-06T10:00:00Z */
#define T0 (1796551200LL * SEC)

static const char sample_text[] =
    "{\"id\":\"7-2\",\"protocol\":\"http\",\"version\":\"1.1\","
    "\"request_time\":\"2026-12-06T10:00:00.250000000Z\","
    "\"response_time\":\"2026-12-06T10:00:00.500500000Z\",\"elapsed_ms\":250.5,"
    "\"src\":{\"ip\":\"10.0.0.1\",\"port\":40000,\"pod\":\"client-7f9\",\"namespace\":\"shop\"},"
    "\"dst\":{\"ip\":\"fd00::2\",\"port\":8080,\"pod\":\"api-5c\",\"namespace\":\"shop\"},"
    "\"request_size\":120,\"response_size\":1500000,"
    "\"request\":{\"method\":\"POST\",\"url\":\"/api/v1/items?x=1\",\"path\":\"/api/v1/items\","
    "\"headers\":{\"content-type\":\"application/json\",\"x-empty\":\"\"},"
    "\"topics\":[\"orders\",\"payments\"],"
    "\"questions\":[{\"name\":\"a.example\",\"type\":\"A\"},"
    "{\"name\":\"b.example\",\"type\":\"AAAA\"}]},"
    "\"response\":{\"status\":503,\"status_text\":\"Service Unavailable\","
    "\"headers\":{\"Mixed-Case\":\"yes\"},\"body\":{\"truncated\":false,\"size\":0}},"
    "\"pushed\":false,\"zero\":0,\"nul\":null,\"t\":true,\"f\":false}";

static json_t *sample(void)
{
	json_t *j = json_loads(sample_text, 0, NULL);

	assert_non_null(j);
	return j;
}

static bool match_opts(const char *text, const json_t *e, unsigned flags, int64_t now)
{
	struct kfl_options o = {.flags = flags, .now_ns = now};
	struct kfl *q = NULL;
	char err[256];
	bool m;

	if (kfl_compile(text, &o, &q, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
	m = kfl_match_json(q, e);
	kfl_free(q);
	return m;
}

/* Unchecked (any field) and checked (the schema's fields) matches. */
static bool m(const char *text, const json_t *e)
{
	return match_opts(text, e, 0, T0);
}

static bool mc(const char *text, const json_t *e)
{
	return match_opts(text, e, KFL_CHECK_SCHEMA, T0);
}

struct expect {
	const char *text;
	bool want;
};

static void check_all(const struct expect *c, size_t n, bool checked)
{
	json_t *e = sample();

	for (size_t i = 0; i < n; i++)
		if ((checked ? mc(c[i].text, e) : m(c[i].text, e)) != c[i].want)
			fail_msg("'%s': want %s", c[i].text, c[i].want ? "a match" : "no match");
	json_decref(e);
}

#define CHECK_ALL(cases, checked) check_all(cases, sizeof(cases) / sizeof(cases[0]), checked)

/* The error of a query that must not compile. */
static const char *error_of(const char *text, unsigned flags, char *err, size_t size)
{
	struct kfl_options o = {.flags = flags, .now_ns = T0};
	struct kfl *q = NULL;

	if (kfl_compile(text, &o, &q, err, size) != -EINVAL)
		fail_msg("'%s' compiled", text);
	return err;
}

static void test_precedence(void **state)
{
	static const struct expect c[] = {
	    /* not > and > or */
	    {"t or f and f", true},
	    {"(t or f) and f", false},
	    {"f and f or t", true},
	    {"f and (f or t)", false},
	    {"not t and f", false},
	    {"not (t and f)", true},
	    {"not f and t", true},
	    {"not f or f", true},
	    {"not (f or t)", false},
	    {"!t || t && f", false},
	    {"!(t || t) || !f && t", true},
	    {"not not t", true},
	    {"!!t", true},
	    {"t and t and t and f", false},
	    {"f or f or f or t", true},
	    {"((((t))))", true},
	    {"t and (f or (t and not f))", true},
	    /* words end at a non-word character: "nothing" is a field, not "not hing" */
	    {"nothing", false},
	    {"not nothing", true},
	    {"t&&t", true},
	    {"f||t", true},
	};

	(void)state;
	CHECK_ALL(c, false);
}

static void test_operators(void **state)
{
	static const struct expect c[] = {
	    {"response.status == 503", true},
	    {"response.status = 503", true},
	    {"response.status != 503", false},
	    {"response.status < 503", false},
	    {"response.status <= 503", true},
	    {"response.status > 502", true},
	    {"response.status >= 504", false},
	    {"response.status == \"503\"", true},
	    {"elapsed_ms > 250.4", true},
	    {"elapsed_ms < 250.6", true},
	    {"elapsed_ms == 250.5", true},
	    {"src.port >= 4e4", true},
	    {"request.method == POST", true},
	    {"request.method == \"POST\"", true},
	    {"request.method == 'POST'", true},
	    {"request.method != GET", true},
	    {"request.method < \"Q\"", true},
	    {"request.method > \"Q\"", false},
	    {"request.path contains \"/v1/\"", true},
	    {"request.path contains \"/v2/\"", false},
	    {"request.path ~ \"^/api/v[0-9]+/\"", true},
	    {"request.path ~ \"^/v1\"", false},
	    {"response.status ~ \"^5\"", true},
	    {"response.status contains 50", true},
	    {"pushed == false", true},
	    {"pushed == true", false},
	    {"pushed != true", true},
	    {"t == true", true},
	    /* absent or null: unequal to everything */
	    {"request.nothing == 1", false},
	    {"request.nothing != 1", true},
	    {"request.nothing < 1", false},
	    {"nul == 0", false},
	    {"nul != 0", true},
	    /* an object is not a value to compare */
	    {"request == x", false},
	    {"request != x", true},
	};

	(void)state;
	CHECK_ALL(c, false);
}

static void test_helpers(void **state)
{
	static const struct expect c[] = {
	    {"request.path.startsWith(\"/api\")", true},
	    {"request.path.startsWith(\"/v1\")", false},
	    {"request.path.endsWith(\"/items\")", true},
	    {"request.path.endsWith(\"/item\")", false},
	    {"request.path.endsWith(\"/api/v1/items/more\")", false},
	    {"request.path.contains(\"v1\")", true},
	    {"request.path.contains(\"v2\")", false},
	    {"request.path.matches(\"^/api/v[12]/\")", true},
	    {"request.path.matches(\"items$\")", true},
	    {"request.path.matches(\"^items\")", false},
	    {"request.path.startsWith ( '/api' )", true},
	    {"request.url.startsWith(\"\")", true},
	    {"response.status.startsWith(\"50\")", true},
	    {"request.nothing.startsWith(\"\")", false},
	    {"not request.path.startsWith(\"/x\")", true},
	    {"request.headers[\"content-type\"].contains(\"json\")", true},
	    {"request.topics[].startsWith(\"pay\")", true},
	    {"request.topics[].endsWith(\"xyz\")", false},
	};

	(void)state;
	CHECK_ALL(c, false);
}

static void test_units(void **state)
{
	static const struct expect c[] = {
	    {"elapsed_ms > 250ms", true},	 {"elapsed_ms > 251ms", false},
	    {"elapsed_ms > 0.25s", true},	 {"elapsed_ms < 0.251s", true},
	    {"elapsed_ms > 1.5s", false},	 {"elapsed_ms < 1m", true},
	    {"elapsed_ms < 1min", true},	 {"elapsed_ms < 1h", true},
	    {"elapsed_ms < 1d", true},		 {"elapsed_ms > 250000us", true},
	    {"elapsed_ms > 250600000ns", false}, {"elapsed_ms > 250400000ns", true},
	    {"response_size > 1MB", true},	 {"response_size > 1.5MB", false},
	    {"response_size == 1.5MB", true},	 {"response_size > 1MiB", true},
	    {"response_size < 1.5MiB", true},	 {"response_size == 1500KB", true},
	    {"response_size == 1500kB", true},	 {"response_size > 1464KiB", true},
	    {"response_size < 1465KiB", true},	 {"response_size < 1GB", true},
	    {"response_size < 1GiB", true},	 {"response_size == 1500000B", true},
	    {"request_size < 1KB", true},	 {"response_size in [1MB, 1.5MB]", true},
	};

	(void)state;
	CHECK_ALL(c, false);
	CHECK_ALL(c, true);
}

static void test_in_lists(void **state)
{
	static const struct expect c[] = {
	    {"response.status in [500, 502, 503]", true},
	    {"response.status in [500,502]", false},
	    {"response.status in [\"503\"]", true},
	    {"request.method in [\"GET\", \"HEAD\"]", false},
	    {"request.method in [GET, HEAD, POST]", true},
	    {"request.method in ['POST']", true},
	    {"request.method in []", false},
	    {"not request.method in [GET]", true},
	    {"src.namespace in [shop, default] and dst.port in [80, 8080]", true},
	    {"request.nothing in [1]", false},
	    {"request.topics[] in [payments]", true},
	    {"request.topics[] in [refunds]", false},
	};

	(void)state;
	CHECK_ALL(c, false);
}

static void test_paths(void **state)
{
	static const struct expect c[] = {
	    /* header names in any case: dotted or indexed */
	    {"request.headers[\"content-type\"] == \"application/json\"", true},
	    {"request.headers[\"Content-Type\"] == \"application/json\"", true},
	    {"request.headers['CONTENT-TYPE'] contains json", true},
	    {"request.headers.Content-Type == \"application/json\"", true},
	    {"request.headers.content-type == \"application/json\"", true},
	    {"response.headers[\"mixed-case\"] == yes", true},
	    {"response.headers[\"Mixed-Case\"] == yes", true},
	    {"request.headers[\"accept\"] == x", false},
	    {"request.headers[\"accept\"] != x", true},
	    {"request.headers[\"x-empty\"] == \"\"", true},
	    /* other maps are case-sensitive */
	    {"request.Method == POST", false},
	    /* list elements: by index (dotted or in brackets), or some element */
	    {"request.topics.0 == orders", true},
	    {"request.topics[1] == payments", true},
	    {"request.topics[ 1 ] == payments", true},
	    {"request.topics[2] == payments", false},
	    {"request.topics[] == payments", true},
	    {"request.topics[*] == payments", true},
	    {"request.topics[] == refunds", false},
	    {"request.topics[] != orders", true},
	    {"request.questions[].name == \"b.example\"", true},
	    {"request.questions[1].type == AAAA", true},
	    {"request.questions.1.type == AAAA", true},
	    {"request.questions[].type == MX", false},
	    {"request.headers[] == \"application/json\"", true},
	    {"request.headers.* == \"application/json\"", true},
	    /* some element of nothing is nothing */
	    {"request.nothing[] != x", false},
	    {"request.nothing[0] != x", true},
	};

	(void)state;
	CHECK_ALL(c, false);
}

static void test_presence(void **state)
{
	static const struct expect c[] = {
	    {"exists(request.method)", true},
	    {"exists( request.headers[\"Content-Type\"] )", true},
	    {"exists(request.nothing)", false},
	    {"exists(nul)", false},
	    {"exists(zero)", true},
	    {"exists(pushed)", true},
	    {"exists(request.topics[])", true},
	    {"not exists(request.nothing)", true},
	    /* a bare field: present and not false/null/0/"" */
	    {"zero", false},
	    {"pushed", false},
	    {"t", true},
	    {"request.headers.x-empty", false},
	    {"request", true},
	    {"request.topics", true},
	    /* "exists" alone is a field */
	    {"exists", false},
	};

	(void)state;
	CHECK_ALL(c, false);
}

static void test_times(void **state)
{
	static const struct expect c[] = {
	    {"timestamp >= \"2026-12-06T10:00:00Z\"", true},
	    {"timestamp >= \"2026-12-06T10:00:00.25Z\"", true},
	    {"timestamp > \"2026-12-06T10:00:00.25Z\"", false},
	    {"timestamp == \"2026-12-06T10:00:00.250Z\"", true},
	    {"timestamp == \"2026-12-06T11:00:00.250+01:00\"", true},
	    {"timestamp < \"2026-12-06T05:00:01-05:00\"", true},
	    {"timestamp >= 2026-12-06T10:00:00Z", true},
	    {"timestamp < \"2026-12-07\"", true},
	    {"timestamp >= \"2026-12-06\"", true},
	    {"timestamp > \"2026-12-06 10:00:01\"", false},
	    {"request_time >= \"2026-11-23\"", true},
	    {"request_time < \"2026-12-06T10:00:00.250000001Z\"", true},
	    {"response_time > \"2026-12-06T10:00:00.5Z\"", true},
	    {"response_time > \"2026-12-06T10:00:00.5005Z\"", false},
	    /* now is T0 here */
	    {"timestamp > now", true},
	    {"timestamp > now + 1s", false},
	    {"timestamp > now - 5m", true},
	    {"timestamp > now-5m and timestamp < now+1h", true},
	    {"timestamp < now - 1d", false},
	    {"timestamp in [\"2026-12-06T10:00:00.25Z\", \"2026-01-01\"]", true},
	    /* as text with the text helpers */
	    {"timestamp.startsWith(\"2026-12-06T10\")", true},
	    {"request_time contains \"T10:00\"", true},
	};
	json_t *e =
	    json_pack("{s:s, s:s}", "protocol", "dns", "response_time", "2026-12-06T09:00:00Z");
	int64_t ns;

	(void)state;
	CHECK_ALL(c, false);
	CHECK_ALL(c, true);
	/* timestamp: request_time, else response_time */
	assert_true(m("timestamp < \"2026-12-06T09:30:00Z\"", e));
	assert_false(m("request_time < \"2026-12-06T09:30:00Z\"", e));
	json_decref(e);

	assert_int_equal(kfl_parse_time("2026-12-06T10:00:00Z", &ns), 0);
	assert_true(ns == T0);
	assert_int_equal(kfl_parse_time("2026-12-06T10:00:00.123456789123Z", &ns), 0);
	assert_true(ns == T0 + 123456789);
	assert_int_equal(kfl_parse_time("2000-02-29T23:59:59z", &ns), 0);
	assert_true(ns == 951868799LL * SEC);
	assert_int_equal(kfl_parse_time("1970-01-01", &ns), 0);
	assert_true(ns == 0);
	assert_int_equal(kfl_parse_time("1678-01-01T00:00:00Z", &ns), 0);
	assert_true(ns == -9214560000LL * SEC);
	assert_int_equal(kfl_parse_time("1796551200000000000", &ns), 0);
	assert_true(ns == T0);
	static const char *const bad[] = {
	    "",
	    "2026-13-01",
	    "2026-02-30",
	    "2026-12-06T24:00:00Z",
	    "2026-12-06T10",
	    "2026-12-06T10:00:00.Z",
	    "2026-12-06T10:00Z+",
	    "2026-12-6",
	    "99999999999999999999",
	    "1677-01-01",
	    "2262-05-01",
	    "2026-12-06T10:00:00+1:00",
	    "now",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kfl_parse_time(bad[i], &ns) != -EINVAL)
			fail_msg("'%s' parsed", bad[i]);

	char buf[40];

	kfl_format_time(T0 + 5, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-06T10:00:00.000000005Z");
	kfl_format_time(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
}

/* Every descriptor's words select its entries; tls is reserved and accepted. */
static void test_words(void **state)
{
	json_t *tls = json_pack("{s:s}", "protocol", "tls"), *flag = json_pack("{s:b}", "tls", 1),
	       *http = json_pack("{s:s, s:s}", "protocol", "http", "version", "1.1");

	(void)state;
	for (const struct protocol_desc *const *p = protocols; *p; p++) {
		for (const struct protocol_word *w = (*p)->words; w && w->word; w++) {
			json_t *e = json_pack("{s:s, s:s}", "protocol", (*p)->name, "version",
					      w->version ? w->version : "1");

			if (!mc(w->word, e))
				fail_msg("'%s' does not select a %s entry", w->word, (*p)->name);
			if (strcmp((*p)->name, "tls") && mc(w->word, tls))
				fail_msg("'%s' selects a tls entry", w->word);
			json_decref(e);
		}
	}
	assert_true(mc("tls", tls));
	assert_true(mc("tls", flag));
	assert_false(mc("tls", http));
	assert_true(mc("http and not tls", http));
	json_decref(tls);
	json_decref(flag);
	json_decref(http);
}

/* What the earlier filter accepted still means what it meant (docs and tests of issue 9). */
static void test_old_syntax(void **state)
{
	static const struct expect c[] = {
	    {"http", true},
	    {"http1", true},
	    {"http2", false},
	    {"grpc", false},
	    {"request.method == \"POST\"", true},
	    {"request.method == POST", true},
	    {"response.status >= 500", true},
	    {"response.status == 503 and http", true},
	    {"response.status < 500 or request.url contains \"/api/\"", true},
	    {"not grpc && (response.status == 404 || response.status == 503)", true},
	    {"request.headers.content-type == \"application/json\"", true},
	    {"request.url ~ \"^/api/v[0-9]+/\"", true},
	    {"src.pod == client-7f9 and src.namespace == shop", true},
	    {"missing", false},
	    {"not missing", true},
	    {"src.port > 30000", true},
	    {"!!http", true},
	    {"not http2 and (response.status == 404 or missing == \"response\")", false},
	    {"elapsed_ms > 2.5 and request_time >= \"2026-11-23\"", true},
	    {"response.status == \"404\"", false},
	    {"request.url ~ \"\\\\?x=1$\"", true},
	};

	(void)state;
	CHECK_ALL(c, false);
	CHECK_ALL(c, true);
}

static void test_errors(void **state)
{
	static const struct {
		const char *text;
		unsigned flags;
		const char *msg; /* the whole message, or its start when it ends in "..." */
	} bad[] = {
	    {"request.method >=", 0, "column 18: expected a value after '>=', found end of query"},
	    {"", 0, "column 1: expected a field or protocol name, found end of query"},
	    {"http and", 0, "column 9: expected a field or protocol name, found end of query"},
	    {"http and or dns", 0, "column 10: expected a field or protocol name, found 'or'"},
	    {"and", 0, "column 1: expected a field or protocol name, found 'and'"},
	    {"(http", 0, "column 6: expected ')', found end of query"},
	    {"(http dns)", 0, "column 7: expected ')', found 'dns'"},
	    {"http)", 0, "column 5: unexpected ')': expected 'and', 'or' or the end of the query"},
	    {"http http", 0,
	     "column 6: unexpected 'http': expected 'and', 'or' or the end of the query"},
	    {"== 5", 0, "column 1: expected a field or protocol name, found '=='"},
	    {"response.status == == 5", 0, "column 20: expected a value after '==', found '=='"},
	    {"response.status in 500", 0, "column 20: expected '[' after 'in', found '500'"},
	    {"response.status in [500 502]", 0,
	     "column 25: expected ',' or ']' in the list, found '502'"},
	    {"response.status in [500,", 0,
	     "column 25: expected a value after ',', found end of query"},
	    {"response.status in [,]", 0, "column 21: expected a value after '[', found ','"},
	    {"request.path.startsWith(\"/a\"", 0,
	     "column 29: expected ')' to close 'startsWith(', found end of query"},
	    {"request.path.startsWith()", 0,
	     "column 25: expected a value after 'startsWith(', found ')'"},
	    {"request.path.beginsWith(\"/a\")", 0,
	     "column 14: expected a helper before '(': startsWith, endsWith, contains or "
	     "matches, found 'beginsWith'"},
	    {"request.headers[content-type]", 0,
	     "column 17: expected a \"key\", an index or * inside '[ ]', found "
	     "'content-type'"},
	    {"request.headers[\"a\"", 0, "column 20: expected ']', found end of query"},
	    {"request.method == \"GET", 0, "column 19: unterminated string: expected a closing \""},
	    {"request.method == 'GET", 0, "column 19: unterminated string: expected a closing '"},
	    {"timestamp > now - 5x", 0,
	     "column 19: expected a duration after 'now -' (30s, 5m, 2h, 1d), found '5x'"},
	    {"timestamp > now +", 0,
	     "column 18: expected a duration after 'now +' (30s, 5m, 2h, 1d), found end of "
	     "query"},
	    {"exists(http", 0, "column 12: expected ')' after the field, found end of query"},
	    {"exists()", 0, "column 8: expected a field after 'exists(', found ')'"},
	    {"request.url ~ \"(\"", 0, "column 15: bad regular expression \"(\": ..."},
	    {"request.path.matches(\"[\")", 0, "column 22: bad regular expression \"[\": ..."},
	    /* columns count characters, not bytes */
	    {"src.pod == \"\xc3\xa9\xc3\xa9\" and", 0,
	     "column 20: expected a field or protocol name, found end of query"},
	    {"src.pod == \"\xc3\xa9\" &&", 0,
	     "column 18: expected a field or protocol name, found end of query"},
	    /* against the schema: at the field's column */
	    {"response.status > 5ms", KFL_CHECK_SCHEMA,
	     "column 1: 'response.status' is an integer, and 5ms is a duration (durations "
	     "compare with duration_ms fields)"},
	    {"elapsed_ms > 1MB", KFL_CHECK_SCHEMA,
	     "column 1: 'elapsed_ms' is a duration_ms, and 1MB is a size (sizes compare with "
	     "bytes fields)"},
	    {"http and response_size > 5s", KFL_CHECK_SCHEMA,
	     "column 10: 'response_size' is bytes, and 5s is a duration (durations compare "
	     "with duration_ms fields)"},
	    {"response_size > lots", KFL_CHECK_SCHEMA,
	     "column 1: 'response_size' is bytes, and \"lots\" is not a number"},
	    {"request.method == 5m", KFL_CHECK_SCHEMA,
	     "column 1: 'request.method' is a string, compared with the duration 5m (quote "
	     "it: \"5m\")"},
	    {"timestamp > 5", KFL_CHECK_SCHEMA,
	     "column 1: 'timestamp' is a timestamp, compared with the number 5 (quote it: "
	     "\"5\")"},
	    {"request_time >= \"yesterday\"", KFL_CHECK_SCHEMA,
	     "column 1: 'request_time' is a timestamp, and \"yesterday\" is not a time (RFC "
	     "3339: ..."},
	    {"timestamp > 10m", KFL_CHECK_SCHEMA,
	     "column 1: 'timestamp' is a timestamp, compared with the duration 10m ..."},
	    {"request.method == now", KFL_CHECK_SCHEMA,
	     "column 1: 'request.method' is a string, and now is a time"},
	    {"elapsed_ms > now", KFL_CHECK_SCHEMA,
	     "column 1: 'elapsed_ms' is a duration_ms, and '2026-12-06T10:00:00.000000000Z' "
	     "is a time"},
	    {"response.status in [500, abc]", KFL_CHECK_SCHEMA,
	     "column 1: 'response.status' is an integer, and \"abc\" is not a number"},
	    {"response.status.startsWith(\"5\")", KFL_CHECK_SCHEMA,
	     "column 1: 'startsWith' matches text, and 'response.status' is an integer"},
	    {"elapsed_ms.matches(\"1\")", KFL_CHECK_SCHEMA,
	     "column 1: '~' matches text, and 'elapsed_ms' is a duration_ms"},
	    {"kafka and request.topics[] == 5", KFL_CHECK_SCHEMA,
	     "column 11: 'request.topics[]' is a string, compared with the number 5 ..."},
	    {"kafka and request.topics == x", KFL_CHECK_SCHEMA,
	     "column 11: 'request.topics' is an array of string: compare one of its elements "
	     "('.0', '[0]' or '[]')"},
	    {"request.headers[\"x\"].y == 1", KFL_CHECK_SCHEMA,
	     "column 1: unknown field 'request.headers.x.y' ..."},
	    {"exists(request.pathh)", KFL_CHECK_SCHEMA,
	     "column 8: unknown field 'request.pathh' (did you mean 'request.path'?)"},
	    {"timestmp > now", KFL_CHECK_SCHEMA,
	     "column 1: unknown field 'timestmp' (did you mean 'timestamp'?)"},
	    {"request.headers[\"\"] == x", KFL_CHECK_SCHEMA,
	     "column 1: 'request.headers.' is not a field path"},
	};
	char err[320];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *msg = bad[i].msg, *dots = strstr(msg, "...");
		size_t n = dots && !dots[3] ? (size_t)(dots - msg) : strlen(msg) + 1;

		error_of(bad[i].text, bad[i].flags, err, sizeof(err));
		if (strncmp(err, msg, n))
			fail_msg("'%s':\n got '%s'\nwant '%s'", bad[i].text, err, msg);
	}
	/* Nesting is bounded (the evaluator recurses): at the first level too deep. */
	char deep[200];

	memset(deep, '(', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = 0;
	error_of(deep, 0, err, sizeof(err));
	assert_string_equal(err, "column 65: nested too deeply (more than 64 levels)");
	/* A message cut to a small buffer stays a string. */
	error_of("http and", 0, err, 12);
	assert_string_equal(err, "column 9: e");
}

static void test_checked_accepts(void **state)
{
	static const char *const good[] = {
	    "http and response.status >= 500 and elapsed_ms > 250ms",
	    "request.path.startsWith(\"/api\") && request.method in [\"GET\", \"HEAD\"]",
	    "request.headers[\"Content-Type\"].contains(\"json\")",
	    "src.namespace == shop and not dst.pod ~ \"^redis-\"",
	    "kafka and request.topics[] == orders",
	    "kafka and request.topics[0] == orders",
	    "dns and request.questions[].name.endsWith(\".svc.cluster.local\")",
	    "response_size > 1MB or request_size >= 64KiB",
	    "timestamp >= \"2026-12-06T10:00:00Z\" and timestamp < now - 5m",
	    "exists(response.headers[\"set-cookie\"])",
	    "redis and response.value == bob",
	    "amqp and request.properties.headers[\"X-Trace\"] == 1",
	    "tls or http2",
	    "request.headers.*.contains(\"gzip\")",
	    "interim[].status == 103",
	};
	struct kfl_options o = {.flags = KFL_CHECK_SCHEMA};
	struct kfl *q;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (kfl_compile(good[i], &o, &q, err, sizeof(err)))
			fail_msg("'%s': %s", good[i], err);
		kfl_free(q);
	}
}

static void bounds(const char *text, int64_t *since, int64_t *until)
{
	struct kfl_options o = {.now_ns = T0};
	struct kfl *q;
	char err[256];

	if (kfl_compile(text, &o, &q, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
	kfl_time_bounds(q, since, until);
	kfl_free(q);
}

static void test_time_bounds(void **state)
{
	static const struct {
		const char *text;
		int64_t since, until;
	} c[] = {
	    {"timestamp >= \"2026-12-06T10:00:00Z\" and timestamp < \"2026-12-06T11:00:00Z\" "
	     "and http",
	     T0, T0 + 3600 * SEC},
	    {"http and timestamp > now - 5m", T0 - 300 * SEC + 1, 0},
	    {"request_time <= \"2026-12-06T10:00:00Z\"", 0, T0 + 1},
	    {"timestamp == \"2026-12-06T10:00:00Z\"", T0, T0 + 1},
	    {"(timestamp >= now - 1h and dns) and (timestamp >= now - 2h and timestamp < now)",
	     T0 - 3600 * SEC, T0},
	    {"timestamp in [\"2026-12-06T10:00:00Z\", \"2026-12-06T09:00:00Z\"]", T0 - 3600 * SEC,
	     T0 + 1},
	    {"http or timestamp > now", 0, 0},
	    {"not timestamp > now", 0, 0},
	    {"timestamp != now", 0, 0},
	    {"response_time > now", 0, 0},
	    {"timestamp > garbage", 0, 0},
	    {"timestamp.startsWith(\"2026\")", 0, 0},
	    {"http", 0, 0},
	    /* before the epoch: no bound that excludes anything; an empty range stays empty */
	    {"timestamp > \"1960-01-01\"", 0, 0},
	    {"timestamp < \"1960-01-01\"", 0, 1},
	    {"timestamp > now and timestamp < now - 1h", T0 + 1, T0 - 3600 * SEC},
	};
	int64_t since, until;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		bounds(c[i].text, &since, &until);
		if (since != c[i].since || until != c[i].until)
			fail_msg("'%s': since %lld until %lld, want %lld %lld", c[i].text,
				 (long long)since, (long long)until, (long long)c[i].since,
				 (long long)c[i].until);
	}
	kfl_time_bounds(NULL, &since, &until);
	assert_true(since == 0 && until == 0);
}

/* Terms as text: "dst.port=80|443(ints)". */
static int collect(const struct kfl_scope_term *t, void *arg)
{
	static const char *const attrs[] = {"pod", "namespace", "ip", "port"};
	char *out = arg;

	sprintf(out + strlen(out), "%s%s.%s=", *out ? " " : "", t->side == KFL_SRC ? "src" : "dst",
		attrs[t->attr]);
	for (size_t i = 0; i < t->count; i++)
		sprintf(out + strlen(out), "%s%s", i ? "|" : "", t->values[i]);
	if (t->ints)
		for (size_t i = 0; i < t->count; i++)
			sprintf(out + strlen(out), "%s%lld", i ? "," : "(", (long long)t->ints[i]);
	if (t->ints && t->count)
		strcat(out, ")");
	return 0;
}

static int stop_at_first(const struct kfl_scope_term *t, void *arg)
{
	(*(int *)arg)++;
	return 7;
}

static void test_pushdown(void **state)
{
	static const struct {
		const char *text, *want;
	} c[] = {
	    /* a single term of each attribute, == and in */
	    {"dst.port == 80", "(port=80)"},
	    {"src.port in [80, 443]", "(port=80,443)"},
	    {"src.ip == 10.0.0.1", "(ip=10.0.0.1)"},
	    {"dst.ip in [\"fd00::2\", \"10.1.2.3\"]", "(ip=fd00::2,10.1.2.3)"},
	    {"dst.pod == web", "(pod=web)"},
	    {"src.namespace == shop", "(namespace=shop)"},
	    /* and: one clause of both; other predicates hold for every packet */
	    {"http and dst.port == 80 and src.pod == web", "(port=80 & pod=web)"},
	    {"dst.port == 80 && response.status >= 500", "(port=80)"},
	    /* or: a clause each; an or with anything unpushable is everything */
	    {"dst.port == 80 or dst.port == 8080", "(port=80) | (port=8080)"},
	    {"dst.port == 80 || src.ip == 10.0.0.1", "(port=80) | (ip=10.0.0.1)"},
	    {"dst.port == 80 or http", "all"},
	    {"dst.port == 80 or request.path == \"/\"", "all"},
	    /* and over or multiplies out */
	    {"(dst.port == 80 or dst.port == 81) and (src.pod == a or src.pod == b)",
	     "(port=80 & pod=a) | (port=80 & pod=b) | (port=81 & pod=a) | (port=81 & pod=b)"},
	    {"dst.namespace == shop and (dst.port == 80 or redis)", "(namespace=shop)"},
	    /* not: De Morgan to the leaves; a negated term is every packet */
	    {"not dst.port == 80", "all"},
	    {"!(dst.port != 80)", "all"},
	    {"not (not dst.port == 80)", "(port=80)"},
	    {"not (dst.port != 80 or src.pod != a)", "all"},
	    {"not (http or not dst.port == 80)", "(port=80)"},
	    {"not (not dst.port == 80 and not src.ip == 10.0.0.9)", "(port=80) | (ip=10.0.0.9)"},
	    {"dst.port == 80 and not src.pod == a", "(port=80)"},
	    /* operators that are not a set of values */
	    {"dst.port != 80", "all"},
	    {"dst.port > 80", "all"},
	    {"dst.port <= 80", "all"},
	    {"dst.pod ~ \"^web\"", "all"},
	    {"dst.pod.startsWith(\"web\")", "all"},
	    {"dst.pod contains web", "all"},
	    {"dst.pod", "all"},
	    /* values the kernel cannot compare, and paths that are not endpoint terms */
	    {"dst.port == 70000", "all"},
	    {"dst.port == web", "all"},
	    {"dst.ip == \"10.0.0\"", "all"},
	    {"dst.port in []", "all"},
	    {"request.src.pod == a", "all"},
	    {"dst.service == api", "all"},
	    {"timestamp > now - 5m", "all"},
	    /* a product wider than the clauses kept: one side of it */
	    {"(dst.port == 1 or dst.port == 2 or dst.port == 3) and "
	     "(src.ip == 10.0.0.1 or src.ip == 10.0.0.2 or src.ip == 10.0.0.3)",
	     "(port=1) | (port=2) | (port=3)"},
	    /* an or wider than the clauses kept: everything */
	    {"dst.port == 1 or dst.port == 2 or dst.port == 3 or dst.port == 4 or dst.port == 5 "
	     "or dst.port == 6 or dst.port == 7 or dst.port == 8 or dst.port == 9",
	     "all"},
	};
	struct kfl_pushdown p;
	struct kfl *q;
	char err[256], out[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (kfl_compile(c[i].text, NULL, &q, err, sizeof(err)))
			fail_msg("'%s': %s", c[i].text, err);
		kfl_pushdown(q, &p);
		kfl_pushdown_text(&p, out, sizeof(out));
		if (strcmp(out, c[i].want))
			fail_msg("'%s': %s, want %s", c[i].text, out, c[i].want);
		kfl_free(q);
	}
	kfl_pushdown(NULL, &p);
	assert_true(p.all);
}

static void test_capture_scope(void **state)
{
	static const struct {
		const char *text;
		int count;
		const char *terms;
	} c[] = {
	    {"http and src.pod == web and dst.port in [80, 443] and dst.namespace == shop", 3,
	     "src.pod=web dst.port=80|443(80,443) dst.namespace=shop"},
	    {"src.ip == 10.0.0.1 and (dst.ip in [\"fd00::2\"] and src.port == 40000)", 3,
	     "src.ip=10.0.0.1 dst.ip=fd00::2 src.port=40000(40000)"},
	    {"dst.pod == api", 1, "dst.pod=api"},
	    {"src.pod == a or dst.pod == a", 0, ""},
	    {"not src.pod == a", 0, ""},
	    {"src.pod != a and src.pod ~ a and src.pod.startsWith(\"a\")", 0, ""},
	    {"src.name == a and src == a and src.pod.x == a and src.pod[] == a", 0, ""},
	    {"request.src.pod == a", 0, ""},
	    {"dst.port in []", 1, "dst.port="},
	};
	struct kfl *q;
	char err[256], out[512];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (kfl_compile(c[i].text, NULL, &q, err, sizeof(err)))
			fail_msg("'%s': %s", c[i].text, err);
		out[0] = 0;
		n = kfl_capture_scope(q, collect, out);
		if (n != c[i].count || strcmp(out, c[i].terms))
			fail_msg("'%s': %d terms '%s', want %d '%s'", c[i].text, n, out, c[i].count,
				 c[i].terms);
		kfl_free(q);
	}
	assert_int_equal(kfl_compile("src.pod == a and dst.pod == b", NULL, &q, err, sizeof(err)),
			 0);
	n = 0;
	assert_int_equal(kfl_capture_scope(q, stop_at_first, &n), 7);
	assert_int_equal(n, 1);
	kfl_free(q);
}

/*
 * An entry held as plain C structs, not JSON: what an agent matching its own records (issue
 * 13) does. The same queries give the same answers as over the JSON of the same entry.
 */
struct tnode {
	const char *key;
	enum kfl_type type;
	int64_t i;
	const char *s;
	const struct tnode *kids;
	size_t n;
};

static void tvalue(const struct tnode *t, struct kfl_value *out)
{
	*out = (struct kfl_value){.ref = t};
	if (!t)
		return;
	out->type = t->type;
	if (t->type == KFL_INT)
		out->u.i = t->i;
	if (t->type == KFL_BOOL)
		out->u.b = t->i;
	if (t->type == KFL_STRING) {
		out->u.str.s = t->s;
		out->u.str.len = strlen(t->s);
	}
}

static void t_root(void *entry, struct kfl_value *out)
{
	tvalue(entry, out);
}

static void t_member(void *entry, const struct kfl_value *obj, const char *key, bool nocase,
		     struct kfl_value *out)
{
	const struct tnode *o = obj->ref, *hit = NULL;

	for (size_t i = 0; i < o->n && !hit; i++)
		if (nocase ? !strcasecmp(o->kids[i].key, key) : !strcmp(o->kids[i].key, key))
			hit = &o->kids[i];
	tvalue(hit, out);
}

static void t_element(void *entry, const struct kfl_value *arr, size_t i, struct kfl_value *out)
{
	const struct tnode *a = arr->ref;

	tvalue(i < a->n ? &a->kids[i] : NULL, out);
}

static bool t_each(void *entry, const struct kfl_value *v,
		   bool (*fn)(const struct kfl_value *elem, void *arg), void *arg)
{
	const struct tnode *c = v->ref;
	struct kfl_value e;

	for (size_t i = 0; i < c->n; i++) {
		tvalue(&c->kids[i], &e);
		if (fn(&e, arg))
			return true;
	}
	return false;
}

static const struct kfl_accessor tnode_accessor = {t_root, t_member, t_element, t_each};

#define TSTR(k, v)                                                                                 \
	{                                                                                          \
		.key = (k), .type = KFL_STRING, .s = (v)                                           \
	}
#define TINT(k, v)                                                                                 \
	{                                                                                          \
		.key = (k), .type = KFL_INT, .i = (v)                                              \
	}
#define TBOOL(k, v)                                                                                \
	{                                                                                          \
		.key = (k), .type = KFL_BOOL, .i = (v)                                             \
	}
#define TOBJ(k, t, arr)                                                                            \
	{                                                                                          \
		.key = (k), .type = (t), .kids = (arr), .n = sizeof(arr) / sizeof((arr)[0])        \
	}

static void test_accessor(void **state)
{
	static const struct tnode headers[] = {TSTR("content-type", "application/json")};
	static const struct tnode topics[] = {TSTR("", "orders"), TSTR("", "payments")};
	static const struct tnode request[] = {
	    TSTR("method", "POST"),
	    TSTR("path", "/api/v1/items"),
	    TOBJ("headers", KFL_OBJECT, headers),
	    TOBJ("topics", KFL_ARRAY, topics),
	};
	static const struct tnode response[] = {TINT("status", 503)};
	static const struct tnode src[] = {TSTR("pod", "client-7f9"), TINT("port", 40000)};
	static const struct tnode fields[] = {
	    TSTR("protocol", "http"),
	    TSTR("version", "1.1"),
	    TSTR("request_time", "2026-12-06T10:00:00.250000000Z"),
	    TINT("response_size", 1500000),
	    TBOOL("pushed", 0),
	    TOBJ("src", KFL_OBJECT, src),
	    TOBJ("request", KFL_OBJECT, request),
	    TOBJ("response", KFL_OBJECT, response),
	};
	static const struct tnode root = TOBJ("", KFL_OBJECT, fields);
	static const char *const queries[] = {
	    "http1 and response.status in [500, 503]",
	    "grpc or http2",
	    "request.headers[\"Content-Type\"].contains(\"json\")",
	    "request.topics[] == payments and request.topics[0] == orders",
	    "request.path.startsWith(\"/api\") and not request.path.endsWith(\"/x\")",
	    "response_size > 1MB and response_size < 1.5MiB",
	    "timestamp > now - 1m and timestamp <= \"2026-12-06T10:00:00.25Z\"",
	    "src.pod ~ \"^client-\" and src.port >= 30000",
	    "exists(request.method) and not exists(request.body) and not pushed",
	    "request.topics[2] != x and request.topics[] != orders",
	};
	json_t *j = sample();
	struct kfl_options o = {.flags = KFL_CHECK_SCHEMA, .now_ns = T0};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct kfl *q;
		bool a, b;

		o.flags = strstr(queries[i], "topics") ? 0 : KFL_CHECK_SCHEMA;
		if (kfl_compile(queries[i], &o, &q, err, sizeof(err)))
			fail_msg("'%s': %s", queries[i], err);
		a = kfl_match(q, &tnode_accessor, (void *)&root);
		b = kfl_match_json(q, j);
		if (a != b)
			fail_msg("'%s': %d through structs, %d through JSON", queries[i], a, b);
		/* every query above matches this entry: a mismatch would not go unnoticed */
		if (!strstr(queries[i], "grpc") && !a)
			fail_msg("'%s' does not match", queries[i]);
		kfl_free(q);
	}
	assert_true(kfl_match(NULL, &tnode_accessor, (void *)&root));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_precedence),	cmocka_unit_test(test_operators),
	    cmocka_unit_test(test_helpers),	cmocka_unit_test(test_units),
	    cmocka_unit_test(test_in_lists),	cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_presence),	cmocka_unit_test(test_times),
	    cmocka_unit_test(test_words),	cmocka_unit_test(test_old_syntax),
	    cmocka_unit_test(test_errors),	cmocka_unit_test(test_checked_accepts),
	    cmocka_unit_test(test_time_bounds), cmocka_unit_test(test_capture_scope),
	    cmocka_unit_test(test_pushdown),	cmocka_unit_test(test_accessor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
