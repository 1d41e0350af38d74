// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for source/tls_record.c and the engine's stream connections
 * (dissect_engine_stream): what the TLS ring hands the agent.
 *
 * Input: a run of ring records, each a 2-byte little-endian length then that many bytes (the
 * record as the ring would give it, header included); a length of 0 is an operation instead:
 * the next byte's low bits close pid (byte & 3) through tls_streams_close_pid. Each record
 * goes through tls_record_check; accepted data records go through tls_streams to the engine,
 * close events to tls_streams_close. Checked: a refused record is never used (nothing of it
 * reaches the sink: the sink checks every chunk's bounds and flags), every chunk's bytes lie
 * in the record, and at the end every connection closed and every byte charged was credited.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "entry/entry_json.h"
#include "fuzz_common.h"
#include "source/tls_record.h"

struct fz {
	struct dissect_engine *eng;
	const uint8_t *rec;
	size_t rec_len;
};

static void on_entry(void *ctx, const struct entry *e)
{
	fuzz_check_any_entry(e, entry_to_json(e));
}

static void on_chunk(void *ctx, const struct byte_stream_chunk *c)
{
	struct fz *z = ctx;

	if (c->len && (c->data < z->rec || c->data + c->len > z->rec + z->rec_len))
		abort();
	if (!(c->flags & BYTE_STREAM_TLS) || c->from_client > 1)
		abort();
	dissect_engine_stream(z->eng, c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = {0};
	struct byte_sink sink = {.stream = on_chunk, .ctx = &z};
	struct tls_streams *ts;
	size_t off = 0;
	/* aligned copies: the ring gives 8-byte aligned records */
	static uint64_t buf[(65536 + 7) / 8];

	if (dissect_engine_create(NULL, on_entry, NULL, &z.eng))
		return 0;
	if (tls_streams_new(&ts)) {
		dissect_engine_destroy(z.eng);
		return 0;
	}
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
		struct tls_record_view v;

		off += 2;
		if (n == 0) {
			if (off < size)
				tls_streams_close_pid(ts, data[off++] & 3, 0, &sink);
			continue;
		}
		if (n > size - off)
			n = size - off;
		memcpy(buf, data + off, n);
		off += n;
		z.rec = (const uint8_t *)buf;
		z.rec_len = n;
		if (tls_record_check(buf, n, &v) != TLS_RECORD_OK)
			continue;
		if (v.data)
			tls_streams_data(ts, v.data, v.bytes, 1000, &sink);
		else if (v.event->kind == FLOE_TLS_EV_CLOSE)
			tls_streams_close(ts, v.event->pid, v.event->conn, 1000, &sink);
	}
	/* What is still open closes at the engine's finish. */
	tls_streams_free(ts);
	dissect_engine_finish(z.eng);
	fuzz_check_memory(z.eng, true);
	dissect_engine_destroy(z.eng);
	return 0;
}
