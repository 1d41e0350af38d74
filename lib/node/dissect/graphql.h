/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graphql: recognise GraphQL requests inside HTTP entries (HTTP/1.x and HTTP/2 alike) and
 * add their operation. GraphQL has no wire format of its own: it is an HTTP POST with a JSON
 * body {"query": ..., "operationName": ..., "variables": ...} (or a GET with ?query=, or a
 * body of type application/graphql), usually to a path ending in /graphql.
 *
 * A request is GraphQL when its query text starts like a GraphQL document (an operation
 * keyword, "fragment" or "{"), so an unrelated JSON body with a "query" key is not taken.
 * The entry's protocol becomes "graphql" (version stays the HTTP version) and a "graphql"
 * object is added: {"operation_type", "operation_name", "query", "variables", "batch_size",
 * "error_count", "errors"} (docs/entries.md).
 */
#ifndef FLOE_DISSECT_GRAPHQL_H
#define FLOE_DISSECT_GRAPHQL_H

#include <stddef.h>

#include "entry/entry.h"

/* Annotate e if its request is GraphQL; returns 1 if it was, 0 if not, -ENOMEM. */
int graphql_annotate(struct entry *e);

/*
 * The operation in a GraphQL document: its type ("query", "mutation", "subscription") and
 * name (may be empty) for the operation called `want` (NULL or "": the first one). Returns 0,
 * or -1 when the text is not a GraphQL document or has no such operation.
 */
int graphql_operation(const char *doc, size_t len, const char *want, const char **type,
		      char *name, size_t name_size);

#endif /* FLOE_DISSECT_GRAPHQL_H */
