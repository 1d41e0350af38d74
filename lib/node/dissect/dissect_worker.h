/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dissect_worker: live dissection on a thread of its own, fed through a bounded queue.
 *
 * The tap's ring-buffer drain copies each frame into this queue and goes on. The queue is a
 * lock-free single-producer single-consumer byte ring: a frame costs the producer a copy and
 * one atomic store; locks are taken only to sleep and to wake a side that sleeps.
 *
 * When the queue is full the drain may wait for room (dissect_worker_push_wait) while the
 * caller says waiting is safe (the tap: while the kernel ring holds less than half its size),
 * so a burst the dissector cannot follow at once is absorbed by the kernel ring instead of
 * being skipped. Past that the frame is not dissected (counted in `dropped`) but it is still
 * in the PCAP store, where `floe read` can dissect it later: dissection never costs the
 * store a packet.
 *
 *   dissect_worker_start(&cfg, engine, &w);   the worker owns the engine from here on
 *   dissect_worker_push(w, ...);              from one producer thread, never blocks
 *   dissect_worker_push_wait(w, ..., fn, c);  the same, waiting for room while fn(c) says so
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
#include "dissect/flow_verdict.h"
#include "queue/queue_budget.h"

#define DISSECT_WORKER_DEFAULT_QUEUE (8u << 20) /* 8 MiB of frames waiting; bursts wait in the ring */
/* push_wait asks may_wait() again after at most this long without room */
#define DISSECT_WORKER_WAIT_SLICE_NS 1000000u
/* stop re-sends cfg.interrupt_signo this often to a thread past its stop_timeout_ns */
#define DISSECT_WORKER_INTERRUPT_NS 100000000u

struct dissect_worker_config {
	size_t queue_bytes; /* frames (and a small header each) waiting; 0: default */
	uint64_t tick_ns;   /* expiry and tick() period; 0: one second */
	bool tick_on_request; /* tick only on dissect_worker_tick(); tick_ns unused */
	/* The producer calls dissect_worker_kick() after each batch of pushes: a sleeping worker
	 * is woken once per batch (or when the queue is full), not at every frame. */
	bool batched;
	void (*tick)(void *ctx); /* optional, on the worker thread */
	void *tick_ctx;
	/*
	 * Stop waits this long for the thread to finish (0: as long as it takes). Past it, the
	 * thread is sent interrupt_signo every DISSECT_WORKER_INTERRUPT_NS until it finishes: a
	 * sink or tick blocked writing to a pipe nobody reads then sees EINTR, if the caller
	 * installed a handler for that signal without SA_RESTART (and stops writing after it).
	 */
	uint64_t stop_timeout_ns;
	int interrupt_signo;
	/*
	 * Optional: the queues' shared memory budget (--queue-memory). The worker joins it with a
	 * floor of DISSECT_WORKER_BUDGET_FLOOR (or the whole ring if smaller) and charges the
	 * ring's pages as records first reach them. When the budget refuses more, the ring goes
	 * round within the pages it holds, as if it were that short: a full queue then means
	 * what it means at queue_bytes (push_wait waits, or the frame is dropped and counted).
	 */
	struct queue_budget *budget;
	/*
	 * Flow verdicts (dissect/flow_verdict.h): with verdict_slots > 0, the engine's verdicts
	 * come back to the producer, and push_wait queues the packets of a TCP flow the engine
	 * gave up on with their headers only (the store, written by the caller, still has them
	 * whole). verdict_idle_ns: a flow idle this long loses its verdict (at most the engine's
	 * TCP idle timeout; 0: never by time). Table memory: 24 bytes a slot on each side.
	 */
	uint32_t verdict_slots;
	uint64_t verdict_idle_ns;
};

#define DISSECT_WORKER_BUDGET_FLOOR (1u << 20)

struct dissect_worker_stats {
	uint64_t pushed;    /* frames queued */
	uint64_t dropped;   /* frames not dissected: the queue was full */
	uint64_t undecoded; /* frames packet_decode() refused */
	uint64_t queue_peak;/* most bytes waiting at once */
	uint64_t queue_touched; /* how far into the ring a record was ever written: its part
				 * that has been resident (a short queue starts again at 0) */
	uint64_t queue_released; /* bytes of the ring's end given back to the system at early
				  * wraps (pages a deeper backlog had made resident) */
	uint64_t waits;     /* push_wait calls that found the queue full and waited for room */
	uint64_t wait_ns;   /* time push_wait spent waiting for room */
	uint64_t interrupts; /* signals stop sent to a thread that did not finish in time */
	uint64_t queue_charged; /* bytes of the ring charged to the budget now (its resident
				 * bound: pages records reached, less those given back) */
	/* Flow verdicts (cfg.verdict_slots): packets queued with headers only and the payload
	 * bytes not copied; verdicts refused (a SYN came after them) or dropped for idleness;
	 * times the producer forgot all of them (a clear did not fit its ring) */
	uint64_t verdict_cut_packets;
	uint64_t verdict_cut_bytes;
	uint64_t verdict_refused;
	uint64_t verdict_expired;
	uint64_t verdict_flushes;
	/* the worker's: verdicts given and taken back; cut packets that reached a flow the
	 * engine no longer held as given up (see flow_verdict.h, "Staleness") */
	uint64_t verdict_sets;
	uint64_t verdict_clears;
	uint64_t verdict_late;
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

/*
 * Queue one frame like dissect_worker_push, but when the queue is full wait for room, in
 * slices of DISSECT_WORKER_WAIT_SLICE_NS, as long as may_wait(ctx) returns true (it is asked
 * before each slice). Returns 0, or -ENOBUFS when may_wait said no or the frame can never fit
 * (counted as dropped). Same producer thread as push.
 */
int dissect_worker_push_wait(struct dissect_worker *w, int linktype, const uint8_t *frame,
			     uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns,
			     bool (*may_wait)(void *ctx), void *ctx);

/*
 * Queue one chunk of a stream source (source/byte_source.h), copied, for
 * dissect_engine_stream() on the worker thread; waits for room like push_wait while
 * may_wait(ctx) says so (NULL: never). Same producer thread as push. Returns 0 or -ENOBUFS
 * (counted as dropped).
 */
int dissect_worker_push_stream(struct dissect_worker *w, const struct byte_stream_chunk *c,
			       bool (*may_wait)(void *ctx), void *ctx);

/* End of a batch of pushes (cfg.batched): wake the worker if it sleeps. Same producer thread. */
void dissect_worker_kick(struct dissect_worker *w);

/* Ask for a tick (expiry, then cfg.tick) on the worker thread; it comes after the frames
 * queued so far. Never blocks for long. */
void dissect_worker_tick(struct dissect_worker *w);

/*
 * The counters so far, on the producer's thread (its own counters; undecoded as the worker last
 * counted; interrupts only at stop). The tap publishes them each second for its stats call.
 */
void dissect_worker_get_stats(const struct dissect_worker *w, struct dissect_worker_stats *st);

/*
 * Dissect what is queued, then dissect_engine_finish() (pending entries come out as
 * incomplete), stop the thread and free the worker (not the engine). stats may be NULL.
 * Bounded by cfg.stop_timeout_ns when that and cfg.interrupt_signo are set (see there).
 */
void dissect_worker_stop(struct dissect_worker *w, struct dissect_worker_stats *stats);

#endif /* FLOE_DISSECT_DISSECT_WORKER_H */
