// SPDX-License-Identifier: Apache-2.0
/*
 * Every dissector names its protocol descriptor (struct dissector.protocol), and every
 * descriptor lists the dissectors that produce its entries: the two directions agree. And
 * GraphQL entries, which no shared capture holds, fit the schema (oracle_schema.py checks
 * the other protocols on the captures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dissect/dissector.h"
#include "dissect/graphql.h"
#include "protocols/protocol.h"
#include "protocols/registry.h"
#include "protocols/schema.h"

static bool lists(const char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (!strcmp(*names, name))
			return true;
	return false;
}

static void test_dissectors_have_descriptors(void **state)
{
	size_t n = 0;

	(void)state;
	for (const struct dissector *const *d = dissectors; *d; d++, n++) {
		const struct protocol_desc *p;

		if (!(*d)->protocol)
			fail_msg("dissector %s names no protocol descriptor", (*d)->name);
		p = protocol_find((*d)->protocol);
		if (!p)
			fail_msg("dissector %s: no descriptor '%s'", (*d)->name, (*d)->protocol);
		if (!lists(p->dissectors, (*d)->name))
			fail_msg("descriptor %s does not list dissector %s", p->name, (*d)->name);
	}
	/* Every DISSECTOR() line of the registry is in the detection list, and nothing else. */
#define COUNT_ONE(name) +1
	assert_int_equal(n, 0 FLOE_PROTOCOLS(FLOE_REGISTRY_NONE, COUNT_ONE));
#undef COUNT_ONE
}

static void test_descriptors_name_real_dissectors(void **state)
{
	(void)state;
	for (const struct protocol_desc *const *p = protocols; *p; p++)
		for (const char *const *name = (*p)->dissectors; *name; name++) {
			bool found = false;

			for (const struct dissector *const *d = dissectors; *d; d++)
				found |= !strcmp((*d)->name, *name);
			if (!found)
				fail_msg("descriptor %s: no dissector '%s'", (*p)->name, *name);
		}
}

static void print_problem(const char *path, const char *problem, void *ctx)
{
	print_error("%s: %s: %s\n", (const char *)ctx, path, problem);
}

/* An HTTP entry with this request body and response body, annotated as GraphQL. */
static void check_graphql(const char *ct, const char *query_params, const char *body,
			  const char *response)
{
	struct entry *e = entry_new();
	json_t *req, *j;

	assert_non_null(e);
	e->protocol = "http";
	snprintf(e->version, sizeof(e->version), "1.1");
	req = json_pack("{s:s, s:s, s:s, s:{s:i, s:b, s:s}, s:o}", "method", "POST", "url",
			"/graphql", "content_type", ct, "body", "size", (int)strlen(body),
			"truncated", 0, "text", body, "query_params",
			json_loads(query_params, 0, NULL));
	assert_non_null(req);
	json_object_set_new(entry_fields_rw(e), "request", req);
	json_object_set_new(entry_fields_rw(e), "response",
			    json_pack("{s:i, s:{s:i, s:b, s:s}}", "status", 200, "body", "size",
				      (int)strlen(response), "truncated", 0, "text", response));
	assert_int_equal(graphql_annotate(e), 1);
	j = entry_to_json(e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "protocol")), "graphql");
	assert_int_equal(schema_check_entry(j, print_problem, (void *)body), 0);
	json_decref(j);
	entry_free(e);
}

static void test_graphql_entries_fit_schema(void **state)
{
	(void)state;
	check_graphql("application/json", "{}",
		      "{\"query\":\"query Q($id: ID) { user(id: $id) { name } }\","
		      "\"operationName\":\"Q\",\"variables\":{\"id\":\"7\"}}",
		      "{\"errors\":[{\"message\":\"no\"},{\"message\":\"way\"}]}");
	check_graphql("application/json", "{}",
		      "[{\"query\":\"mutation { a }\"},{\"query\":\"{ b }\"}]", "{\"data\":{}}");
	check_graphql("application/json", "{}",
		      "{\"operationName\":\"P\",\"extensions\":{\"persistedQuery\":"
		      "{\"version\":1,\"sha256Hash\":\"ab\"}}}",
		      "{}");
	check_graphql("application/graphql", "{}", "subscription S { ticks }", "");
	check_graphql("text/plain", "{\"query\":\"{ c }\",\"variables\":\"{oops\"}", "-", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dissectors_have_descriptors),
		cmocka_unit_test(test_descriptors_name_real_dissectors),
		cmocka_unit_test(test_graphql_entries_fit_schema),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
