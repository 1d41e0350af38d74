/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_filter: the filter API of `floe read -f`, `floe tap --filter` and entry_output, kept
 * for its callers; the language is KFL (kfl/kfl.h, docs/kfl.md), which accepts everything the
 * earlier filter did:
 *
 *   http and response.status >= 500
 *   request.method == POST and request.headers.content-type contains json
 *   request.path.startsWith("/api") and response.status in [500, 502, 503]
 *   not grpc and (response.status == 404 or missing) and elapsed_ms > 250ms
 *
 * An entry_filter is a struct kfl (entry_filter_query() gives it to KFL's other functions).
 */
#ifndef FLOE_ENTRY_FILTER_H
#define FLOE_ENTRY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct entry_filter;

/*
 * Compile text. Returns 0 and *out, or -EINVAL with a message in err ("column 12:
 * expected a value after '==', found end of query"), or -ENOMEM. Fields are not looked up:
 * for entries outside the schema (tests, tools).
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
/* The same on the entry itself, without its tree where the query's fields allow
 * (entry_kfl.h); *tree: the tree when the match built it (the caller's), else NULL. */
struct entry;
bool entry_filter_match_entry(const struct entry_filter *f, const struct entry *e, json_t **tree);
void entry_filter_free(struct entry_filter *f);

/* The compiled query (for kfl_match with another accessor, kfl_time_bounds, ...). */
struct kfl;
const struct kfl *entry_filter_query(const struct entry_filter *f);

#endif /* FLOE_ENTRY_FILTER_H */
