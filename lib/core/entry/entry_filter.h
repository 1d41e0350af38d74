/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_filter: the minimal entry filter of `floe read -f` and `floe tap --filter`, until the
 * query language (KFL) comes with its own issue. KFL will keep this syntax working.
 *
 *   http                       a protocol word (protocols/protocol.h: each descriptor's
 *                              words): protocol == "http" and its children gRPC and GraphQL;
 *                              http1 / http2 by version, grpc, graphql, amqp, ...
 *   request.method == "POST"   a field (dotted path in the entry JSON, docs/entries.md)
 *   response.status >= 400     == != < <= > >=; numbers compare as numbers
 *   request.path contains "/api"   substring;  ~ "regex"  POSIX extended regex
 *   missing                    a bare field: true when present and not false/null/0/""
 *   not grpc and (response.status == 404 or missing)
 *
 * Keywords and/or/not also as &&, ||, !. Strings in double quotes (\" and \\ escapes) or bare
 * words without spaces.
 */
#ifndef FLOE_ENTRY_FILTER_H
#define FLOE_ENTRY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct entry_filter;

/*
 * Compile text. Returns 0 and *out, or -EINVAL with a message in err ("position 12:
 * expected a value after '=='"), or -ENOMEM. Fields are not looked up: for entries outside
 * the schema (tests, tools).
 */
int entry_filter_compile(const char *text, struct entry_filter **out, char *err, size_t errlen);

/*
 * The same, and every field resolves against the schema (protocols/schema.h) of some
 * protocol: an unknown field, or a comparison no declaration of the field allows, is an
 * error at the field's column: "column 1: unknown field 'request.pathh' (did you mean
 * 'request.path'?)", "column 1: 'request.method' is a string, compared with the number 5
 * (quote it: "5")", "'<' orders numbers and timestamps, ...", "'contains' matches text, ...".
 * What floe read -f and floe tap --filter use.
 */
int entry_filter_compile_checked(const char *text, struct entry_filter **out, char *err,
				 size_t errlen);
bool entry_filter_match(const struct entry_filter *f, const json_t *entry);
void entry_filter_free(struct entry_filter *f);

#endif /* FLOE_ENTRY_FILTER_H */
