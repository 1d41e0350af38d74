// SPDX-License-Identifier: Apache-2.0
/* Unit tests: entry JSON and text, the entry filter, GraphQL recognition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dissect/graphql.h"
#include "entry/entry.h"
#include "entry/entry_output.h"
#include "entry/entry_filter.h"

static struct entry *sample_entry(void)
{
	struct entry *e = entry_new();
	json_t *req = json_object(), *resp = json_object(), *hdr = json_object();

	assert_non_null(e);
	strcpy(e->id, "7-2");
	e->protocol = "http";
	strcpy(e->version, "1.1");
	e->flow_id = 7;
	e->src.family = AF_INET;
	e->src.addr[10] = e->src.addr[11] = 0xff;
	inet_pton(AF_INET, "10.0.0.1", e->src.addr + 12);
	e->src.port = 40000;
	e->src.names = entry_names_new("client-7f9", "shop");
	e->dst.family = AF_INET6;
	inet_pton(AF_INET6, "fd00::2", e->dst.addr);
	e->dst.port = 8080;
	e->request_ts_ns = 1700000000123456789ull;
	e->response_ts_ns = 1700000000125456789ull;
	e->request_size = 120;
	e->response_size = 3400;
	json_object_set_new(req, "method", json_string("POST"));
	json_object_set_new(req, "url", json_string("/api/v1/items?x=1"));
	json_object_set_new(hdr, "content-type", json_string("application/json"));
	json_object_set_new(req, "headers", hdr);
	json_object_set_new(resp, "status", json_integer(503));
	json_object_set_new(resp, "status_text", json_string("Service Unavailable"));
	json_object_set_new(entry_fields_rw(e), "request", req);
	json_object_set_new(entry_fields_rw(e), "response", resp);
	return e;
}

static void test_entry_json(void **state)
{
	struct entry *e = sample_entry();
	json_t *j = entry_to_json(e);

	(void)state;
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "7-2");
	assert_string_equal(json_string_value(json_object_get(j, "protocol")), "http");
	assert_string_equal(json_string_value(json_object_get(j, "version")), "1.1");
	assert_string_equal(json_string_value(json_object_get(j, "request_time")),
			    "2023-11-14T22:13:20.123456789Z");
	assert_true(json_real_value(json_object_get(j, "elapsed_ms")) > 1.999 &&
		    json_real_value(json_object_get(j, "elapsed_ms")) < 2.001);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "src"), "ip")), "10.0.0.1");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "src"), "pod")), "client-7f9");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "dst"), "ip")), "fd00::2");
	assert_null(json_object_get(json_object_get(j, "dst"), "pod"));
	assert_int_equal(json_integer_value(json_object_get(j, "response_size")), 3400);
	assert_null(json_object_get(j, "missing"));
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "response"), "status")), 503);
	json_decref(j);

	e->missing = ENTRY_MISSING_RESPONSE;
	e->missing_reason = ENTRY_REASON_GAP;
	e->response_ts_ns = 0;
	j = entry_to_json(e);
	assert_string_equal(json_string_value(json_object_get(j, "missing")), "response");
	assert_string_equal(json_string_value(json_object_get(j, "missing_reason")),
			    "capture_gap");
	assert_null(json_object_get(j, "elapsed_ms"));
	assert_null(json_object_get(j, "response_time"));
	json_decref(j);
	entry_free(e);
}

static void test_entry_line(void **state)
{
	struct entry *e = sample_entry();
	char line[512];

	(void)state;
	entry_format_line(e, line, sizeof(line));
	assert_non_null(strstr(line, "7-2 2023-11-14T22:13:20.123456789Z http/1.1"));
	assert_non_null(strstr(line, "client-7f9@10.0.0.1:40000 -> fd00::2:8080"));
	assert_non_null(strstr(line, "POST /api/v1/items?x=1 -> 503"));
	entry_free(e);
}

static void test_entry_text_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ "plain", 5, "plain" },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "a\xff" "b", 3, "a\xef\xbf\xbd" "b" },
		{ "nul\0x", 5, "nul\xef\xbf\xbdx" },
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },       /* overlong '/' */
		{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80" },       /* emoji */
		{ "\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd" },       /* cut sequence */
		{ "", 0, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = entry_json_text((const uint8_t *)cases[i].in, cases[i].n);

		assert_non_null(j);
		assert_string_equal(json_string_value(j), cases[i].out);
		json_decref(j);
	}
}

static bool match(const char *filter, const json_t *j)
{
	struct entry_filter *f = NULL;
	char err[256];
	bool m;

	if (entry_filter_compile(filter, &f, err, sizeof(err))) {
		print_error("filter '%s': %s\n", filter, err);
		fail();
	}
	m = entry_filter_match(f, j);
	entry_filter_free(f);
	return m;
}

static void test_filter_match(void **state)
{
	struct entry *e = sample_entry();
	json_t *j = entry_to_json(e);

	(void)state;
	assert_true(match("http", j));
	assert_true(match("http1", j));
	assert_false(match("http2", j));
	assert_false(match("grpc", j));
	assert_true(match("request.method == \"POST\"", j));
	assert_true(match("request.method == POST", j));
	assert_false(match("request.method != POST", j));
	assert_true(match("response.status >= 500", j));
	assert_true(match("response.status == 503 and http", j));
	assert_false(match("response.status < 500", j));
	assert_true(match("response.status < 500 or request.url contains \"/api/\"", j));
	assert_true(match("not grpc && (response.status == 404 || response.status == 503)", j));
	assert_true(match("request.headers.content-type == \"application/json\"", j));
	assert_true(match("request.url ~ \"^/api/v[0-9]+/\"", j));
	assert_false(match("request.url ~ \"^/v1\"", j));
	assert_true(match("src.pod == client-7f9 and src.namespace == shop", j));
	assert_false(match("missing", j));
	assert_true(match("not missing", j));
	assert_true(match("src.port > 30000", j));
	assert_true(match("!!http", j));
	assert_false(match("request.nothing == 1", j));
	assert_true(match("request.nothing != 1", j));
	json_decref(j);
	entry_free(e);
}

static void test_filter_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "", "expected a field" },
		{ "http and", "expected a field" },
		{ "(http", "expected ')'" },
		{ "http)", "unexpected ')'" },
		{ "request.method ==", "expected a value after '=='" },
		{ "request.url ~ \"(\"", "bad regular expression" },
		{ "request.method == \"GET", "unterminated string" },
		{ "http http", "unexpected 'http'" },
	};
	struct entry_filter *f = NULL;
	char err[256], deep[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(entry_filter_compile(bad[i].text, &f, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].msg)) {
			print_error("'%s': got '%s', want '%s'\n", bad[i].text, err, bad[i].msg);
			fail();
		}
		assert_non_null(strstr(err, "column "));
	}
	memset(deep, '(', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = 0;
	assert_int_equal(entry_filter_compile(deep, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nested too deeply"));
}

static void test_graphql_operation(void **state)
{
	static const struct {
		const char *doc, *want, *type, *name;
	} ok[] = {
		{ "{ user { id } }", NULL, "query", "" },
		{ "query GetUser($id: ID!) { user(id: $id) { name } }", NULL, "query", "GetUser" },
		{ "  # comment\n mutation AddItem { add { id } }", NULL, "mutation", "AddItem" },
		{ "subscription OnEvent { event }", NULL, "subscription", "OnEvent" },
		{ "fragment F on User { name \"}\" }\nquery Q { ...F }", NULL, "query", "Q" },
		{ "query A { a } mutation B { b(s: \"{\") }", "B", "mutation", "B" },
		{ "query A { a } query B { b }", "A", "query", "A" },
		{ "query { a }", NULL, "query", "" },
		{ "query A { x(s: \"\"\"block } \"\"\") }", NULL, "query", "A" },
	};
	static const char *const bad[] = {
		"", "SELECT * FROM users", "type Query { a: Int }", "query A { a }|B",
		"{\"query\": 1}", "query A { a ", "42",
	};
	const char *type;
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = graphql_operation(ok[i].doc, strlen(ok[i].doc), ok[i].want, &type, name,
					   sizeof(name));

		if (rc) {
			print_error("'%s' not recognised\n", ok[i].doc);
			fail();
		}
		assert_string_equal(type, ok[i].type);
		assert_string_equal(name, ok[i].name);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *want = i == 3 ? "B" : NULL;

		if (!graphql_operation(bad[i], strlen(bad[i]), want, &type, name, sizeof(name))) {
			print_error("'%s' taken for GraphQL\n", bad[i]);
			fail();
		}
	}
}

static struct entry *http_entry(const char *method, const char *url, const char *ct,
				const char *body, const char *resp_body)
{
	struct entry *e = entry_new();
	json_t *req = json_object(), *b = json_object(), *q = json_object();
	const char *qs = strchr(url, '?');

	e->protocol = "http";
	json_object_set_new(req, "method", json_string(method));
	json_object_set_new(req, "url", json_string(url));
	if (qs && !strncmp(qs, "?query=", 7))
		json_object_set_new(q, "query", json_string(qs + 7));
	json_object_set_new(req, "query_params", q);
	if (ct)
		json_object_set_new(req, "content_type", json_string(ct));
	if (body) {
		json_object_set_new(b, "text", json_string(body));
		json_object_set_new(req, "body", b);
	} else {
		json_decref(b);
	}
	json_object_set_new(entry_fields_rw(e), "request", req);
	if (resp_body) {
		json_t *resp = json_object(), *rb = json_object();

		json_object_set_new(rb, "text", json_string(resp_body));
		json_object_set_new(resp, "body", rb);
		json_object_set_new(entry_fields_rw(e), "response", resp);
	}
	return e;
}

static void test_graphql_annotate(void **state)
{
	struct entry *e;
	json_t *g;

	(void)state;
	e = http_entry("POST", "/graphql", "application/json",
		       "{\"query\":\"query GetUser($id: ID!) { user(id: $id) { name } }\","
		       "\"operationName\":\"GetUser\",\"variables\":{\"id\":\"42\"}}",
		       "{\"data\":null,\"errors\":[{\"message\":\"not found\"}]}");
	assert_int_equal(graphql_annotate(e), 1);
	assert_string_equal(e->protocol, "graphql");
	g = json_object_get(e->fields, "graphql");
	assert_string_equal(json_string_value(json_object_get(g, "operation_type")), "query");
	assert_string_equal(json_string_value(json_object_get(g, "operation_name")), "GetUser");
	assert_string_equal(json_string_value(json_object_get(json_object_get(g, "variables"),
							      "id")),
			    "42");
	assert_int_equal(json_integer_value(json_object_get(g, "error_count")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(g, "errors"), 0)),
			    "not found");
	entry_free(e);

	/* batched */
	e = http_entry("POST", "/gql", "application/json",
		       "[{\"query\":\"mutation M { m }\"},{\"query\":\"{ a }\"}]", NULL);
	assert_int_equal(graphql_annotate(e), 1);
	g = json_object_get(e->fields, "graphql");
	assert_string_equal(json_string_value(json_object_get(g, "operation_type")), "mutation");
	assert_int_equal(json_integer_value(json_object_get(g, "batch_size")), 2);
	entry_free(e);

	/* application/graphql body and GET ?query= */
	e = http_entry("POST", "/graphql", "application/graphql", "subscription S { s }", NULL);
	assert_int_equal(graphql_annotate(e), 1);
	entry_free(e);
	e = http_entry("GET", "/graphql?query={me{id}}", NULL, NULL, NULL);
	json_object_set_new(json_object_get(json_object_get(e->fields, "request"), "query_params"),
			    "variables", json_string("{\"full\": true}"));
	assert_int_equal(graphql_annotate(e), 1);
	g = json_object_get(e->fields, "graphql");
	assert_true(json_is_true(json_object_get(json_object_get(g, "variables"), "full")));
	entry_free(e);

	/* not GraphQL: JSON with a "query" key that is not a document; other bodies */
	e = http_entry("POST", "/search", "application/json", "{\"query\":\"red shoes\"}", NULL);
	assert_int_equal(graphql_annotate(e), 0);
	assert_string_equal(e->protocol, "http");
	assert_null(json_object_get(e->fields, "graphql"));
	entry_free(e);
	e = http_entry("POST", "/graphql", "application/json", "{\"query\": ", NULL);
	assert_int_equal(graphql_annotate(e), 0);
	entry_free(e);
	e = http_entry("GET", "/", NULL, NULL, NULL);
	assert_int_equal(graphql_annotate(e), 0);
	entry_free(e);
}

static void test_utf8_prefix(void **state)
{
	const uint8_t ascii[] = "0123456789abcdefghij";
	const uint8_t nul[] = "0123456789\0bcdefghij";
	/* valid 2-, 3- and 4-byte sequences straddling the eight-byte words, then 0xff */
	const uint8_t mixed[] = "abcdef\xc3\xa9gh\xe2\x82\xacijklm\xf0\x9f\x98\x80z\xff!";
	const uint8_t cut[] = "abcdefg\xe2\x82";
	const uint8_t overlong[] = "abcdefghijk\xc0\x80";

	(void)state;
	assert_int_equal(entry_utf8_prefix(ascii, 20, false), 20);
	assert_int_equal(entry_utf8_prefix(nul, 21, false), 10);
	assert_int_equal(entry_utf8_prefix(nul, 21, true), 21);
	assert_int_equal(entry_utf8_prefix(mixed, sizeof(mixed) - 1, false), sizeof(mixed) - 3);
	assert_int_equal(entry_utf8_prefix(cut, sizeof(cut) - 1, false), 7);
	assert_int_equal(entry_utf8_prefix(overlong, sizeof(overlong) - 1, true), 11);
	assert_int_equal(entry_utf8_prefix(ascii, 0, false), 0);
}

/* The output sink writes each entry once, whether it batches or writes one at a time, and a
 * flush at the end (what `floe read` does) adds nothing already written. */
static void test_output_once(void **state)
{
	static const size_t batches[] = {0, 1, 1 << 20};

	for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		char *text = NULL;
		size_t len = 0, lines = 0;
		FILE *f = open_memstream(&text, &len);
		struct entry_output o = {.out = f, .json = true, .batch = batches[b]};

		assert_non_null(f);
		for (int i = 0; i < 3; i++) {
			struct entry *e = entry_new();

			assert_non_null(e);
			e->protocol = "http";
			snprintf(e->id, sizeof(e->id), "run-1-%d", i);
			entry_output_sink(&o, e);
			entry_free(e);
		}
		assert_int_equal(entry_output_flush(&o), 0);
		assert_int_equal(entry_output_flush(&o), 0);
		assert_int_equal(fclose(f), 0);
		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		assert_int_equal(lines, 3);
		assert_int_equal(o.printed, 3);
		assert_non_null(strstr(text, "\"run-1-0\""));
		assert_non_null(strstr(text, "\"run-1-2\""));
		entry_output_free(&o);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_json),	   cmocka_unit_test(test_entry_line),
		cmocka_unit_test(test_utf8_prefix),
		cmocka_unit_test(test_entry_text_utf8),	   cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_filter_errors),	   cmocka_unit_test(test_graphql_operation),
		cmocka_unit_test(test_graphql_annotate),   cmocka_unit_test(test_output_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
