/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch_writer: a thread that writes batches of bytes (the live tap's --json entries) to a
 * stream's file descriptor, in the order they were handed over, so that the thread making them
 * (the dissection thread) does not pay for write(2): copying the entries into the page cache
 * was a fifth of that thread at the live bench's rates (docs/bench.md, branch history).
 *
 *   batch_writer_start(&cfg, &w);            flushes cfg.out's stdio buffer, starts the thread
 *   batch_writer_submit(w, &buf, entries);   the bytes go to the thread, buf comes back empty
 *   batch_writer_stop(w, &stats);            write the rest, join (bounded)
 *
 * Each batch is one write(2) (a loop for short writes) to fileno(cfg.out), not stdio: while the
 * writer runs nothing else writes to that stream. A batch counted as written is the kernel's.
 *
 * Bounded: at most cfg.queue_batches batches wait; submit then waits for the thread
 * (the stream's reader sets the pace, as when the producer wrote itself). Past a deadline
 * (batch_writer_set_deadline, cfg.interrupt_signo) a write the stream's reader does not take
 * is interrupted, so that a reader that stopped reading cannot hold the tap's exit.
 *
 * The first failed write is told through cfg.failed (on the writer's thread); from there
 * nothing more is written, and the entries of that batch and of every later one are counted
 * as unwritten.
 */
#ifndef FLOE_TAP_BATCH_WRITER_H
#define FLOE_TAP_BATCH_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "entry/entry_json.h"

#define BATCH_WRITER_DEFAULT_BATCHES 8u
/* A waiting submit or stop interrupts the writer this often once past the deadline. */
#define BATCH_WRITER_INTERRUPT_NS 100000000u

struct batch_writer_config {
	FILE *out;
	unsigned queue_batches; /* 0: BATCH_WRITER_DEFAULT_BATCHES */
	void (*failed)(void *ctx, int err); /* optional; err EINTR: interrupted at the deadline */
	void *ctx;
	/* The signal that interrupts a blocked write (a handler without SA_RESTART installed
	 * by the caller); 0: a blocked write is waited for. */
	int interrupt_signo;
};

struct batch_writer_stats {
	uint64_t batches, entries; /* written */
	uint64_t unwritten;	   /* entries handed over but not written (a failure) */
	uint64_t waits;		   /* submits that found the queue full */
	uint64_t interrupts;	   /* signals sent to the writer past the deadline */
	int err;		   /* the first failure, 0: none */
};

struct batch_writer;

/* Flush cfg.out (stdio), start the thread ("floe-output"). 0 or -errno. */
int batch_writer_start(const struct batch_writer_config *cfg, struct batch_writer **out);

/*
 * Hand over b's bytes (entries entries; b->len 0: nothing to do) to be written after those
 * handed over before. b comes back empty (a spare buffer of the writer, or none). Waits
 * while the queue is full. 0, or the failure's -errno once a write failed (b's entries are
 * then counted as unwritten, b emptied).
 */
int batch_writer_submit(struct batch_writer *w, struct entry_json_buf *b, uint64_t entries);

/* From this CLOCK_MONOTONIC time on, a write that does not finish is interrupted. */
void batch_writer_set_deadline(struct batch_writer *w, uint64_t monotonic_ns);

/* Write what is queued, stop the thread (bounded by the deadline if one was set),
 * free. stats may be NULL. */
void batch_writer_stop(struct batch_writer *w, struct batch_writer_stats *stats);

#endif /* FLOE_TAP_BATCH_WRITER_H */
