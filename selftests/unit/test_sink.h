/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A dissection sink that keeps every entry's JSON, one per line, to compare two runs byte for
 * byte. Included by test_dissect_worker.c and test_flow_verdict.c (after cmocka.h).
 */
#ifndef FLOE_TEST_SINK_H
#define FLOE_TEST_SINK_H

#include "entry/entry_json.h"

struct sink {
	struct entry_json_buf text; /* every entry's JSON, one per line */
	unsigned n;
};

static inline void collect(void *ctx, const struct entry *e)
{
	struct sink *s = ctx;
	json_t *j = entry_to_json(e);

	assert_non_null(j);
	assert_int_equal(entry_json_append(&s->text, j), 0);
	assert_int_equal(entry_json_append_raw(&s->text, "\n", 1), 0);
	json_decref(j);
	s->n++;
}

#endif /* FLOE_TEST_SINK_H */
