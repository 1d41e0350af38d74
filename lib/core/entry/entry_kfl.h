/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_kfl: KFL queries (kfl/kfl.h) matched against a struct entry as it is, without its JSON
 * tree. `floe read -f` and `floe tap --filter` built every entry's tree (entry_to_json: about
 * thirty allocations for the common members, and an HTTP/1 entry's compact heads turned into
 * a hundred more) only to read two or three values of it.
 *
 * The accessor answers a path from, in the tree's order of precedence: the protocol fields
 * already in the tree (e->fields), the compact part's getter (entry_compact_ops.get), the
 * common members (entry_common_get). Where one of them cannot give a value exactly as the tree
 * holds it (ENTRY_VALUE_OTHER: an array, a name that is not UTF-8, a header repeated and not
 * joined yet), the whole tree is built once (entry_to_json; the entry's compact part becomes
 * its tree, as entry_fields() does) and that value and every later one come from it, through
 * kfl_json_accessor: the answers are the tree's in either case (test_entry_kfl and
 * fuzz_entry_kfl hold the two paths to the same results).
 */
#ifndef FLOE_ENTRY_KFL_H
#define FLOE_ENTRY_KFL_H

#include <stdbool.h>

#include <jansson.h>

#include "entry/entry.h"
#include "kfl/kfl.h"

/*
 * Does e match q (NULL: everything)? *tree (may be NULL) is set to the entry's JSON tree when
 * the match had to build it (the caller's reference, for its output: the tree's text is the
 * entry's), else NULL. e is used by the calling thread only (the tree, when built, changes
 * its compact part into its fields).
 */
bool entry_kfl_match(const struct kfl *q, const struct entry *e, json_t **tree);

#endif /* FLOE_ENTRY_KFL_H */
