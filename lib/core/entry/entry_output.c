// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_OUTPUT_BUF_KEEP (1u << 20)

void entry_output_sink(void *ctx, const struct entry *e)
{
	entry_output_sink_json(ctx, e, NULL, 0);
}

void entry_output_sink_json(struct entry_output *o, const struct entry *e, const char *json,
			    size_t len)
{
	json_t *j = NULL;
	char line[1024 + 1]; /* the line and its newline */
	int bad;

	/* The JSON tree is built only when the filter needs it (entry_kfl.h): text reads e, and
	 * JSON is written from e directly, or from the tree the filter built. */
	if (o->filter) {
		bool m = entry_filter_match_entry(o->filter, e, &j);

		o->filter_trees += j != NULL;
		if (!m) {
			o->filtered_out++;
			json_decref(j);
			return;
		}
	}
	if (o->json) {
		size_t start = o->batch ? o->buf.len : 0;

		o->buf.len = start;
		/* The tree's text is the direct writer's (test_entry_json): either will do. */
		bad = (json ? entry_json_append_raw(&o->buf, json, len)
		       : j  ? entry_json_append(&o->buf, j)
			    : entry_json_append_entry(&o->buf, e)) ||
		      entry_json_append_raw(&o->buf, "\n", 1);
		if (bad) {
			o->buf.len = start;
		} else if (o->batch) {
			o->batched++;
			if (o->buf.len >= o->batch)
				entry_output_flush(o);
		} else {
			bad = fwrite(o->buf.p, 1, o->buf.len, o->out) != o->buf.len;
			o->buf.len = 0; /* written: a later flush has nothing of it to write again */
			/* One body-sized entry should not keep its buffer for the rest of the run. */
			if (o->buf.cap > ENTRY_OUTPUT_BUF_KEEP)
				entry_json_buf_free(&o->buf);
		}
	} else {
		size_t n;

		entry_format_line(e, line, sizeof(line) - 1);
		n = strlen(line);
		line[n++] = '\n';
		bad = fwrite(line, 1, n, o->out) != n;
	}
	if (bad)
		o->errors++;
	else
		o->printed++;
	json_decref(j);
}

int entry_output_flush(struct entry_output *o)
{
	int rc = 0;

	if (o->buf.len && fwrite(o->buf.p, 1, o->buf.len, o->out) != o->buf.len) {
		/* counted as printed when they were gathered */
		o->errors += o->batched;
		o->printed -= o->batched;
		rc = -EIO;
	}
	o->buf.len = 0;
	o->batched = 0;
	if (o->buf.cap > ENTRY_OUTPUT_BUF_KEEP)
		entry_json_buf_free(&o->buf);
	return rc;
}

void entry_output_free(struct entry_output *o)
{
	entry_json_buf_free(&o->buf);
}
