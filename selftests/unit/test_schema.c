// SPDX-License-Identifier: Apache-2.0
/*
 * The protocol descriptors and their field schema (lib/core/protocols): every descriptor
 * present and consistent, path lookups, the entry check, the checked filter's errors and
 * protocol words, and docs/entries.md's generated tables. Links the core alone.
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

#include "entry/entry.h"
#include "entry/entry_filter.h"
#include "protocols/protocol.h"
#include "protocols/schema.h"

/* What the entries carry today; each must have its descriptor. */
static const char *const known_protocols[] = { "http", "grpc", "graphql", "amqp",
					       "dns",  "kafka", "redis", "tls", NULL };

static void test_descriptors_present(void **state)
{
	size_t n = 0;

	(void)state;
	for (const char *const *k = known_protocols; *k; k++) {
		const struct protocol_desc *p = protocol_find(*k);

		if (!p)
			fail_msg("no descriptor for %s", *k);
		assert_string_equal(p->name, *k);
	}
	for (const struct protocol_desc *const *p = protocols; *p; p++)
		n++;
	assert_int_equal(n, 8);
	assert_null(protocol_find("nope"));
	assert_string_equal(protocol_find("grpc")->parent, "http");
	assert_string_equal(protocol_find("graphql")->parent, "http");
	assert_null(protocol_find("http")->parent);
}

struct seen_paths {
	char paths[512][SCHEMA_PATH_MAX];
	size_t n;
	const char *owner;
};

/* Every full path once per protocol (common fields included), every field well formed. */
static int check_field_decl(const char *path, const struct protocol_field *f, void *ctx)
{
	struct seen_paths *s = ctx;
	bool container = f->type == FIELD_ARRAY || f->type == FIELD_MAP;

	if (!f->meaning || !f->meaning[0] || strchr(f->meaning, '\n'))
		fail_msg("%s: %s needs a one-line meaning", s->owner, path);
	if (f->type <= FIELD_NONE || f->type > FIELD_ANY)
		fail_msg("%s: %s has no type", s->owner, path);
	if (container != (f->elem != FIELD_NONE))
		fail_msg("%s: %s: arrays and maps (only) have an element type", s->owner, path);
	if (f->group && f->type != FIELD_OBJECT && f->elem != FIELD_OBJECT)
		fail_msg("%s: %s: a group describes an object", s->owner, path);
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->paths[i], path))
			fail_msg("%s: %s declared twice", s->owner, path);
	assert_true(s->n < sizeof(s->paths) / sizeof(s->paths[0]));
	snprintf(s->paths[s->n++], SCHEMA_PATH_MAX, "%s", path);
	return 0;
}

static void test_descriptors_consistent(void **state)
{
	static struct seen_paths seen;
	const struct protocol_desc *const *p, *const *q;

	(void)state;
	for (p = protocols; *p; p++) {
		const struct protocol_desc *d = *p, *parent;

		assert_non_null(d->description);
		assert_non_null(d->dissectors);
		assert_non_null(d->dissectors[0]);
		assert_non_null(d->fields);
		/* Its own name is one of its words. */
		assert_non_null(protocol_word(d, d->name));
		for (const struct protocol_word *w = d->words; w->word; w++) {
			const struct protocol_word *found;

			/* Words are unique across protocols: the one found is this one. */
			assert_ptr_equal(protocol_find_word(w->word, &found), d);
			assert_ptr_equal(found, w);
		}
		for (q = protocols; q < p; q++)
			assert_string_not_equal((*q)->name, d->name);
		if (d->parent) {
			parent = protocol_find(d->parent);
			assert_non_null(parent);
			assert_ptr_not_equal(parent, d);
			assert_null(parent->parent); /* one level: what the filter's words assume */
			for (const char *const *w = d->parent_words; w && *w; w++)
				if (!protocol_word(parent, *w))
					fail_msg("%s: parent word %s is not %s's", d->name, *w,
						 parent->name);
		} else {
			assert_null(d->parent_words);
		}
		/* Its fields, its parent's and the common ones together: no path twice. */
		seen.n = 0;
		seen.owner = d->name;
		assert_int_equal(schema_walk(protocol_common_fields, check_field_decl, &seen), 0);
		if (d->parent)
			assert_int_equal(schema_walk(protocol_find(d->parent)->fields,
						     check_field_decl, &seen), 0);
		assert_int_equal(schema_walk(d->fields, check_field_decl, &seen), 0);
	}
}

/* Resolve path for entries of protocol name: its type, or FIELD_NONE when unknown. */
static enum field_type type_of(const char *name, const char *path)
{
	char buf[SCHEMA_PATH_MAX];
	const char *comps[SCHEMA_DEPTH_MAX];
	int n = schema_split(path, buf, sizeof(buf), comps, SCHEMA_DEPTH_MAX);
	struct field_ref ref;

	assert_true(n > 0);
	return schema_resolve_protocol(protocol_find(name), comps, n, &ref) ? ref.type : FIELD_NONE;
}

static void test_schema_lookups(void **state)
{
	static const struct {
		const char *protocol, *path;
		enum field_type want;
	} cases[] = {
		{ "http", "request.method", FIELD_STRING },
		{ "http", "response.status", FIELD_INTEGER },
		{ "http", "request.headers", FIELD_MAP },
		{ "http", "request.headers.content-type", FIELD_STRING },
		{ "http", "request.body.size", FIELD_BYTES },
		{ "http", "interim.0.status", FIELD_INTEGER },
		{ "http", "interim.[].time", FIELD_TIMESTAMP },
		{ "http", "interim.x.status", FIELD_NONE }, /* not an index */
		{ "http", "grpc.status", FIELD_NONE },      /* a child's field */
		{ "http", "request.pathh", FIELD_NONE },
		{ "http", "request.method.x", FIELD_NONE }, /* below a string */
		{ "grpc", "grpc.status", FIELD_INTEGER },
		{ "grpc", "request.method", FIELD_STRING }, /* the parent's */
		{ "grpc", "grpc.request_messages.0.fields.2.value", FIELD_ANY },
		{ "graphql", "graphql.errors.0", FIELD_STRING },
		{ "graphql", "graphql.variables.a.b.c", FIELD_ANY },
		{ "dns", "request.questions.0.name", FIELD_STRING },
		{ "dns", "response.answers.3.data.exchange", FIELD_ANY },
		{ "dns", "response.edns.udp_size", FIELD_INTEGER },
		{ "dns", "response.counts.answers", FIELD_INTEGER },
		{ "dns", "request.method", FIELD_NONE },
		{ "kafka", "request.topics.0", FIELD_STRING },
		{ "kafka", "request.api_key", FIELD_INTEGER },
		{ "kafka", "response.api_key", FIELD_NONE },  /* request only */
		{ "kafka", "response.topics", FIELD_ARRAY },  /* the shared group */
		{ "kafka", "response.body.topics.0.partitions", FIELD_ANY },
		{ "redis", "push.keys", FIELD_ARRAY },
		{ "redis", "transaction.commands.0.keys.1", FIELD_STRING },
		{ "amqp", "request.flags.durable", FIELD_BOOLEAN },
		{ "amqp", "request.properties.headers.x", FIELD_ANY },
		{ "amqp", "ack.time", FIELD_TIMESTAMP },
		{ "amqp", "src.pod", FIELD_STRING },          /* common */
		{ "amqp", "elapsed_ms", FIELD_DURATION_MS },
		{ "amqp", "request_time", FIELD_TIMESTAMP },
	};
	char buf[16];
	const char *comps[4];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum field_type got = type_of(cases[i].protocol, cases[i].path);

		if (got != cases[i].want)
			fail_msg("%s %s: %s, want %s", cases[i].protocol, cases[i].path,
				 field_type_name(got), field_type_name(cases[i].want));
	}
	assert_int_equal(schema_split("a..b", buf, sizeof(buf), comps, 4), -1);
	assert_int_equal(schema_split(".a", buf, sizeof(buf), comps, 4), -1);
	assert_int_equal(schema_split("a.b.c.d.e", buf, sizeof(buf), comps, 4), -1);
	assert_int_equal(schema_split("a.b", buf, 3, comps, 4), -1);
	assert_int_equal(schema_split("a.b", buf, sizeof(buf), comps, 4), 2);
	assert_string_equal(comps[1], "b");
}

struct problems {
	char text[8][160];
	size_t n;
};

static void collect(const char *path, const char *problem, void *ctx)
{
	struct problems *p = ctx;

	if (p->n < 8)
		snprintf(p->text[p->n], sizeof(p->text[0]), "%s: %s", path, problem);
	p->n++;
}

static json_t *http_entry(void)
{
	struct entry *e = entry_new();
	json_t *j;

	assert_non_null(e);
	e->protocol = "http";
	snprintf(e->version, sizeof(e->version), "1.1");
	e->request_ts_ns = 1000000000;
	e->response_ts_ns = 1002000000;
	e->src.names = entry_names_new("client", NULL);
	assert_int_equal(json_object_set_new(entry_fields_rw(e), "request",
					      json_pack("{s:s, s:{s:s}, s:{s:i, s:b}}", "method",
							"GET", "headers", "host", "a", "body",
							"size", 3, "truncated", 0)),
			 0);
	assert_int_equal(json_object_set_new(entry_fields_rw(e), "response",
					      json_pack("{s:i, s:[{s:i, s:s}]}", "status", 200,
							"interim_unknown", "status", 100, "x", "y")),
			 0);
	j = entry_to_json(e);
	entry_free(e);
	assert_non_null(j);
	return j;
}

static void test_check_entry(void **state)
{
	struct problems p = { .n = 0 };
	json_t *j = http_entry();

	(void)state;
	/* response.interim_unknown is not declared (interim is top-level): one problem. */
	assert_int_equal(schema_check_entry(j, collect, &p), 1);
	assert_string_equal(p.text[0], "response.interim_unknown: not in the schema");
	json_object_del(json_object_get(j, "response"), "interim_unknown");
	p.n = 0;
	assert_int_equal(schema_check_entry(j, collect, &p), 0);

	/* Wrong JSON types, an undeclared member, a child's field on the parent. */
	json_object_set_new(json_object_get(j, "response"), "status", json_string("200"));
	json_object_set_new(json_object_get(json_object_get(j, "request"), "headers"), "n",
			    json_integer(1));
	json_object_set_new(j, "interim", json_pack("[{s:s}]", "status", "100"));
	json_object_set_new(j, "grpc", json_object());
	json_object_set_new(j, "elapsed_ms", json_string("2"));
	assert_int_equal(schema_check_entry(j, collect, &p), 5);
	assert_string_equal(p.text[0], "elapsed_ms: a JSON string where the schema says duration_ms");
	assert_string_equal(p.text[1], "request.headers.n: a JSON integer where the schema says "
				       "string");
	assert_string_equal(p.text[2], "response.status: a JSON string where the schema says integer");
	assert_string_equal(p.text[3], "interim[].status: a JSON string where the schema says "
				       "integer");
	assert_string_equal(p.text[4], "grpc: not in the schema");
	/* The same entry as gRPC: the grpc object is its own (but empty is fine). */
	json_object_set_new(j, "protocol", json_string("grpc"));
	p.n = 0;
	assert_int_equal(schema_check_entry(j, collect, &p), 4);
	json_object_set_new(j, "protocol", json_string("gopher"));
	p.n = 0;
	assert_int_equal(schema_check_entry(j, collect, &p), 1);
	assert_string_equal(p.text[0], "protocol: not a protocol the schema knows");
	json_decref(j);
}

static void test_filter_schema_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "request.pathh == \"/x\"",
		  "column 1: unknown field 'request.pathh' (did you mean 'request.path'?)" },
		{ "http and response.statuss >= 500",
		  "column 10: unknown field 'response.statuss' (did you mean 'response.status'?)" },
		{ "htpp", "column 1: unknown field 'htpp' (did you mean 'http'?)" },
		{ "not zzzzzzzzzzzz", "column 5: unknown field 'zzzzzzzzzzzz' (`floe schema` lists" },
		{ "request.method > \"A\"",
		  "column 1: '>' orders numbers and timestamps, and 'request.method' is a string" },
		{ "dns and (response.rcode_value contains 3)",
		  "column 10: 'contains' matches text, and 'response.rcode_value' is an integer" },
		{ "elapsed_ms ~ 1", "column 1: '~' matches text, and 'elapsed_ms' is a duration_ms" },
		{ "response.status == abc",
		  "column 1: 'response.status' is an integer, and \"abc\" is not a number" },
		{ "  version == 2",
		  "column 3: 'version' is a string, compared with the number 2 (quote it: \"2\")" },
		{ "pushed == yes", "column 1: 'pushed' is a boolean: compare it with true or false" },
		{ "request.headers == x",
		  "column 1: 'request.headers' is a map of string: compare one of its fields" },
		{ "redis and request.keys contains k",
		  "column 11: 'request.keys' is an array of string: compare one of its elements" },
		{ "dns and request.questions.x.name == a", "column 9: unknown field" },
		{ "dns and request.questions.0 ~ x",
		  "column 9: 'request.questions.0' is an object: compare one of its fields" },
		{ "request.flags.durable >= true",
		  "column 1: '>=' orders numbers and timestamps, and 'request.flags.durable' is a "
		  "boolean" },
		{ "request..path", "column 1: 'request..path' is not a field path" },
	};
	struct entry_filter *f = NULL;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(entry_filter_compile_checked(bad[i].text, &f, err, sizeof(err)),
				 -EINVAL);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg)))
			fail_msg("'%s': got '%s', want '%s'", bad[i].text, err, bad[i].msg);
		/* The unchecked compile takes every one of them. */
		assert_int_equal(entry_filter_compile(bad[i].text, &f, err, sizeof(err)), 0);
		entry_filter_free(f);
	}
	/* Syntax errors keep their column. */
	assert_int_equal(entry_filter_compile_checked("http and", &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "column 9: expected a field"));
}

/* Filters of the docs and tests: every one compiles against the schema. */
static void test_filter_schema_accepts(void **state)
{
	static const char *const good[] = {
		"http and response.status >= 500",
		"request.method == \"POST\"",
		"request.path contains \"/api\"",
		"request.url ~ \"^/v[12]/\"",
		"missing",
		"not grpc and (response.status == 404 or missing == \"response\")",
		"grpc and grpc.status != 0",
		"graphql and (graphql.error_count > 0 or graphql.operation_type == \"subscription\")",
		"dns and response.rcode == \"NXDOMAIN\"",
		"request.name ~ \"\\\\.svc\\\\.cluster\\\\.local$\"",
		"dns and missing == \"response\"",
		"transport == \"tcp\"",
		"redis and request.command == GET and response.value == bob",
		"protocol == redis and version == \"2\"",
		"kafka and request.api_name == \"Metadata\"",
		"request.topics.0 == \"t\"",
		"request.headers.content-type == \"application/json\"",
		"src.pod == client-7f9 and src.namespace == shop",
		"src.port > 30000",
		"elapsed_ms > 2.5 and request_time >= \"2026-11-23\"",
		"response.answers.0.data == \"93.184.216.34\"",
		"request.flags.durable == true",
		"response.status == \"404\"",
		"amqp and request.body.text contains hello",
	};
	struct entry_filter *f = NULL;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (entry_filter_compile_checked(good[i], &f, err, sizeof(err)))
			fail_msg("'%s': %s", good[i], err);
		entry_filter_free(f);
	}
}

static bool selects(const char *filter, const char *protocol, const char *version)
{
	json_t *e = json_pack("{s:s, s:s}", "protocol", protocol, "version", version);
	struct entry_filter *f = NULL;
	char err[256];
	bool m;

	assert_int_equal(entry_filter_compile_checked(filter, &f, err, sizeof(err)), 0);
	m = entry_filter_match(f, e);
	entry_filter_free(f);
	json_decref(e);
	return m;
}

/* The words come from the descriptors: versions, and children by their parent words. */
static void test_filter_words(void **state)
{
	static const struct {
		const char *word, *protocol, *version;
		bool want;
	} cases[] = {
		{ "http", "http", "1.1", true },     { "http1", "http", "1.0", true },
		{ "http2", "http", "1.1", false },   { "http2", "http", "2", true },
		{ "http", "grpc", "2", true },       { "http2", "grpc", "2", false },
		{ "grpc", "grpc", "2", true },       { "grpc", "http", "2", false },
		{ "http", "graphql", "1.1", true },  { "http1", "graphql", "1.1", true },
		{ "http2", "graphql", "1.1", false }, { "http2", "graphql", "2", true },
		{ "graphql", "graphql", "2", true }, { "http2", "redis", "2", false },
		{ "redis", "redis", "3", true },     { "http", "redis", "2", false },
		{ "dns", "dns", "", true },          { "kafka", "amqp", "0-9-1", false },
		{ "amqp", "amqp", "0-9-1", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (selects(cases[i].word, cases[i].protocol, cases[i].version) != cases[i].want)
			fail_msg("%s on %s/%s: want %d", cases[i].word, cases[i].protocol,
				 cases[i].version, cases[i].want);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &n, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* docs/entries.md's field tables are what the schema generates (floe schema --update-doc). */
static void test_docs_tables(void **state)
{
	const char *path = getenv("FLOE_DOCS_ENTRIES") ?: "docs/entries.md";
	char *doc = read_all(path), *updated, err[256], marker[64];

	(void)state;
	if (!doc) {
		print_message("%s not found (run from the repository root)\n", path);
		skip();
	}
	updated = schema_doc_update(doc, err, sizeof(err));
	if (!updated)
		fail_msg("%s: %s", path, err);
	if (strcmp(doc, updated))
		fail_msg("%s differs from the schema: run `build/floe schema --update-doc %s`", path,
			 path);
	assert_non_null(strstr(doc, "<!-- schema:common -->"));
	for (const struct protocol_desc *const *p = protocols; *p; p++) {
		snprintf(marker, sizeof(marker), "<!-- schema:%s -->", (*p)->name);
		if (!strstr(doc, marker))
			fail_msg("%s has no %s block", path, marker);
	}
	free(updated);
	free(doc);
}

static void test_doc_update(void **state)
{
	char err[256], *out;

	(void)state;
	out = schema_doc_update("a\n<!-- schema:grpc -->\nold\n<!-- /schema -->\nb\n", err,
				sizeof(err));
	assert_non_null(out);
	assert_non_null(strstr(out, "a\n<!-- schema:grpc -->\n| field | type | meaning |\n"));
	assert_non_null(strstr(out, "| `grpc.status` | integer | grpc-status |\n"));
	assert_non_null(strstr(out, "Protobuf field: the fields of each element of `fields`"));
	assert_null(strstr(out, "old"));
	assert_non_null(strstr(out, "|\n\n<!-- /schema -->\nb\n"));
	free(out);
	assert_null(schema_doc_update("<!-- schema:gopher -->\n<!-- /schema -->\n", err,
				      sizeof(err)));
	assert_non_null(strstr(err, "no such section"));
	assert_null(schema_doc_update("<!-- schema:dns -->\nx\n", err, sizeof(err)));
	assert_non_null(strstr(err, "without"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors_present),
		cmocka_unit_test(test_descriptors_consistent),
		cmocka_unit_test(test_schema_lookups),
		cmocka_unit_test(test_check_entry),
		cmocka_unit_test(test_filter_schema_errors),
		cmocka_unit_test(test_filter_schema_accepts),
		cmocka_unit_test(test_filter_words),
		cmocka_unit_test(test_doc_update),
		cmocka_unit_test(test_docs_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
