// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_output.h"

#include <stdlib.h>

void entry_output_sink(void *ctx, const struct entry *e)
{
	struct entry_output *o = ctx;
	json_t *j = NULL;
	char line[1024];
	int bad;

	/* The JSON tree is built only when it is printed or filtered: text alone reads e. */
	if (o->json || o->filter) {
		j = entry_to_json(e);
		if (!j) {
			o->errors++;
			return;
		}
		if (!entry_filter_match(o->filter, j)) {
			o->filtered_out++;
			json_decref(j);
			return;
		}
	}
	if (o->json) {
		bad = json_dumpf(j, o->out, JSON_COMPACT) || fputc('\n', o->out) == EOF;
	} else {
		entry_format_line(e, line, sizeof(line));
		bad = fprintf(o->out, "%s\n", line) < 0;
	}
	if (bad)
		o->errors++;
	else
		o->printed++;
	json_decref(j);
}
