/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_output: the sink that prints entries (one line of text, or one JSON object per line)
 * after the filter. Used by `floe read` and by the live tap.
 */
#ifndef FLOE_ENTRY_OUTPUT_H
#define FLOE_ENTRY_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "entry/entry.h"
#include "entry/entry_filter.h"
#include "entry/entry_json.h"

struct entry_output {
	FILE *out;
	bool json;
	const struct entry_filter *filter; /* NULL: everything */
	uint64_t printed;
	uint64_t filtered_out;
	uint64_t filter_trees; /* entries whose JSON tree the filter had to build (entry_kfl.h) */
	uint64_t errors; /* entries that could not be formatted (ENOMEM) or written */
	struct entry_json_buf buf; /* JSON text of one entry, reused; entry_output_free() */
	/* JSON: gather this many bytes of entries before one fwrite (0: one per entry); with an
	 * unbuffered stream, a batch goes to write(2) without a copy into stdio's buffer. The
	 * owner calls entry_output_flush() at the end. */
	size_t batch;
	uint64_t batched; /* entries gathered, not yet written */
};

/* A dissect_sink_fn: ctx is a struct entry_output. */
void entry_output_sink(void *ctx, const struct entry *e);

/* The same when e's JSON text (entry_json_append_entry()'s, len bytes) was written already:
 * the live tap writes it for its history first, and writing an entry was most of its cost.
 * json NULL: as entry_output_sink(). */
void entry_output_sink_json(struct entry_output *o, const struct entry *e, const char *json,
			    size_t len);

/* Write what a batch gathered: 0, or -EIO (those entries count as errors). */
int entry_output_flush(struct entry_output *o);

/* Free what the sink kept between entries (not o itself, not o->out). */
void entry_output_free(struct entry_output *o);

#endif /* FLOE_ENTRY_OUTPUT_H */
