// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_output.h"

#include <stdlib.h>

void entry_output_sink(void *ctx, const struct entry *e)
{
	struct entry_output *o = ctx;
	json_t *j = entry_to_json(e);
	char line[1024];

	if (!j) {
		o->errors++;
		return;
	}
	if (!entry_filter_match(o->filter, j)) {
		o->filtered_out++;
		json_decref(j);
		return;
	}
	if (o->json) {
		if (json_dumpf(j, o->out, JSON_COMPACT) ||
		    fputc('\n', o->out) == EOF)
			o->errors++;
		else
			o->printed++;
	} else {
		entry_format_line(e, line, sizeof(line));
		if (fprintf(o->out, "%s\n", line) < 0)
			o->errors++;
		else
			o->printed++;
	}
	json_decref(j);
}
