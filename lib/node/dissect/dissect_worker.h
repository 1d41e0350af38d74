/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dissect_worker: live dissection on a thread of its own, fed through a bounded queue.
 *
 * The tap's ring-buffer drain must never wait for dissection: a slow dissector (large bodies,
 * a slow terminal reading the entries) would make the kernel's ring fill up and lose packets
 * for the PCAP store too. So the drain thread copies each frame into this queue and goes on;
 * when the queue is full the frame is not dissected (counted in `dropped`) but it is still in
 * the PCAP store, where `floe read` can dissect it later.
 *
 *   dissect_worker_start(&cfg, engine, &w);   the worker owns the engine from here on
 *   dissect_worker_push(w, ...);              from one producer thread, never blocks
 *   dissect_worker_stop(w, &stats);           drains the queue, finishes the engine, joins
 *
 * Every second (cfg.tick_ns) the worker expires idle flows (dissect_engine_expire with
 * CLOCK_REALTIME) and calls cfg.tick, e.g. to flush the entries' output. With
 * cfg.tick_on_request the worker has no clock of its own: it sleeps until frames come or
 * dissect_worker_tick() asks for a tick (from the caller's event-loop timer), so an idle
 * worker does not wake up by itself.
 */
#ifndef FLOE_DISSECT_DISSECT_WORKER_H
#define FLOE_DISSECT_DISSECT_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dissect/engine.h"

#define DISSECT_WORKER_DEFAULT_QUEUE (32u << 20) /* 32 MiB of frames waiting */

struct dissect_worker_config {
	size_t queue_bytes; /* frames (and a small header each) waiting; 0: default */
	uint64_t tick_ns;   /* expiry and tick() period; 0: one second */
	bool tick_on_request; /* tick only on dissect_worker_tick(); tick_ns unused */
	void (*tick)(void *ctx); /* optional, on the worker thread */
	void *tick_ctx;
};

struct dissect_worker_stats {
	uint64_t pushed;    /* frames queued */
	uint64_t dropped;   /* frames not dissected: the queue was full */
	uint64_t undecoded; /* frames packet_decode() refused */
	uint64_t queue_peak;/* most bytes waiting at once */
};

struct dissect_worker;

/* Start the thread. The engine belongs to the worker until stop (do not touch it meanwhile). */
int dissect_worker_start(const struct dissect_worker_config *cfg, struct dissect_engine *eng,
			 struct dissect_worker **out);

/*
 * Queue one frame (linktype: a DLT_* value, as for packet_decode). Copies it; returns 0, or
 * -ENOBUFS when the queue is full (the frame is counted as dropped). Single producer.
 */
int dissect_worker_push(struct dissect_worker *w, int linktype, const uint8_t *frame,
			uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns);

/* Ask for a tick (expiry, then cfg.tick) on the worker thread; it comes after the frames
 * queued so far. Never blocks for long. */
void dissect_worker_tick(struct dissect_worker *w);

/*
 * Dissect what is queued, then dissect_engine_finish() (pending entries come out as
 * incomplete), stop the thread and free the worker (not the engine). stats may be NULL.
 */
void dissect_worker_stop(struct dissect_worker *w, struct dissect_worker_stats *stats);

#endif /* FLOE_DISSECT_DISSECT_WORKER_H */
