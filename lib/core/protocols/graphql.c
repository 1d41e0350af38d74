// SPDX-License-Identifier: Apache-2.0
/*
 * GraphQL: the protocol's descriptor (protocol.h). GraphQL rides on HTTP/1.x and HTTP/2: the
 * engine passes every HTTP entry to lib/node/dissect/graphql.c, which adds the "graphql"
 * object to a GraphQL request; the HTTP fields stay.
 */
#include <stdio.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* The parent's (HTTP) summary, then " query GetUser". */
static size_t graphql_summary(const struct entry *e, char *out, size_t size)
{
	const json_t *gql = json_object_get(entry_fields(e), "graphql");
	size_t off = protocol_find("http")->summary(e, out, size);

	if (off < size && gql)
		off += snprintf(out + off, size - off, " %s %s",
				entry_field_str(gql, "operation_type", NULL) ?: "-",
				entry_field_str(gql, "operation_name", NULL) ?: "-");
	return off;
}

static const struct protocol_field graphql_fields[] = {
	FIELD("graphql", OBJECT, "the operation"),
	FIELD("graphql.operation_type", STRING, "`query`, `mutation` or `subscription`"),
	FIELD("graphql.operation_name", STRING, "`operationName`, or the name in the document (`\"\"` "
						"for an anonymous operation)"),
	FIELD("graphql.query", STRING, "the document text"),
	{ .path = "graphql.variables", .type = FIELD_ANY, .meaning = "the variables object, as sent" },
	FIELD("graphql.batch_size", INTEGER, "for a batched request (a JSON array), how many "
					     "operations; the entry describes the first"),
	{ .path = "graphql.persisted_query", .type = FIELD_ANY,
	  .meaning = "the `extensions.persistedQuery` of an automatic persisted query sent without "
		     "its text" },
	FIELD("graphql.error_count", INTEGER, "from a JSON response: how many `errors`"),
	FIELD_OF("graphql.errors", ARRAY, STRING, "the first five error messages"),
	FIELD_END,
};

static const char *const graphql_dissectors[] = { "http1", "http2", NULL };
static const struct protocol_word graphql_words[] = { { "graphql", NULL }, { NULL, NULL } };
static const char *const graphql_parent_words[] = { "http", "http1", "http2", NULL };

const struct protocol_desc protocol_graphql = {
	.name = "graphql",
	.description = "GraphQL operations over HTTP (JSON bodies, `?query=`, application/graphql)",
	.dissectors = graphql_dissectors,
	.parent = "http",
	.words = graphql_words,
	.parent_words = graphql_parent_words,
	.fields = graphql_fields,
	.summary = graphql_summary,
};
