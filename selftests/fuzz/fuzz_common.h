/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every fuzz target checks of an entry made by a dissector other than the one it aims
 * at: each target runs the whole engine, so a fuzzed input may well be recognised as another
 * protocol (an input without the HTTP/2 preface can look like Kafka). Such an entry must
 * still be well-formed; the target's own checks are for its protocol's entries.
 */
#ifndef FLOE_FUZZ_COMMON_H
#define FLOE_FUZZ_COMMON_H

#include <stdlib.h>

#include <jansson.h>

#include "entry/entry.h"

/* Checks o (entry_to_json(e)) and releases it. */
static inline void fuzz_check_any_entry(const struct entry *e, json_t *o)
{
	char line[1024], *s;

	if (!json_is_integer(json_object_get(o, "request_size")) ||
	    !json_is_integer(json_object_get(o, "response_size")) ||
	    entry_format_line(e, line, sizeof(line)) <= 0 || !e->protocol[0])
		__builtin_trap();
	s = json_dumps(o, JSON_COMPACT);
	if (!s)
		__builtin_trap();
	free(s);
	json_decref(o);
}

#endif /* FLOE_FUZZ_COMMON_H */
