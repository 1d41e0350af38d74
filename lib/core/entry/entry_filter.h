/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_filter: the minimal entry filter of `floe read -f` and `floe tap --filter`, until the
 * query language (KFL) comes with its own issue. KFL will keep this syntax working.
 *
 *   http                       bare protocol name: protocol == "http" (also http2 / http1
 *                              for the version, grpc, graphql)
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
 * expected a value after '=='"), or -ENOMEM.
 */
int entry_filter_compile(const char *text, struct entry_filter **out, char *err, size_t errlen);
bool entry_filter_match(const struct entry_filter *f, const json_t *entry);
void entry_filter_free(struct entry_filter *f);

#endif /* FLOE_ENTRY_FILTER_H */
