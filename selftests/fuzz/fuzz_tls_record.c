// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for source/tls_record.c and the engine's stream connections
 * (dissect_engine_stream): what the TLS ring hands the agent.
 *
 * Input: a run of ring records, each a 2-byte little-endian length then that many bytes (the
 * record as the ring would give it, header included); a length of 0 is an operation instead:
 * the next byte's low bits close pid (byte & 3) through tls_streams_close_pid, or with its high
 * bit set, release the Go Writes held too long (tls_streams_expire, later each time). Each
 * record goes through tls_record_check; accepted data records go through tls_streams to the
 * engine, close events to tls_streams_close, Write counts to tls_streams_write_done. Checked:
 * a refused record is never used (nothing of it reaches the sink: the sink checks every
 * chunk's bounds and flags), a chunk is never longer than a record's bytes (a chunk of the
 * current record lies in it; held chunks are copies, checked by the sanitizer), and at the
 * end every connection closed and every byte charged was credited.
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

	if (c->len > FLOE_TLS_MAX_DATA || (c->len && !c->data))
		abort();
	if (c->len && c->data >= z->rec && c->data < z->rec + z->rec_len &&
	    c->data + c->len > z->rec + z->rec_len)
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
	uint64_t now = 1000;
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
			if (off < size && (data[off] & 0x80)) {
				now += (uint64_t)(data[off++] & 0x7f) * (TLS_HOLD_NS / 64);
				tls_streams_expire(ts, now, &sink);
			} else if (off < size) {
				tls_streams_close_pid(ts, data[off++] & 3, now, &sink);
			}
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
			tls_streams_data(ts, v.data, v.bytes, now, &sink);
		else if (v.event->kind == FLOE_TLS_EV_CLOSE)
			tls_streams_close(ts, v.event->pid, v.event->conn, now, &sink);
		else if (v.event->kind == FLOE_TLS_EV_WRITE_DONE)
			tls_streams_write_done(ts, v.event->pid, v.event->conn, v.event->value, now,
					       &sink);
	}
	/* What is still open closes at the engine's finish. */
	tls_streams_free(ts);
	dissect_engine_finish(z.eng);
	fuzz_check_memory(z.eng, true);
	dissect_engine_destroy(z.eng);
	return 0;
}
