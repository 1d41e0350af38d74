/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flow_verdict: the dissection thread tells the drain which TCP flows it will never dissect,
 * so that the drain stops copying their payload into the dissection queue (docs/capture.md,
 * "Flow verdicts").
 *
 * A verdict is given for a connection the engine gave up on (dissect_engine_verdict_fn: no
 * dissector recognised it after its detection tries; such a connection stays unrecognised
 * until it closes, whatever it says later) and taken back when that connection closes. While
 * a flow has a verdict, the drain queues its packets with their headers only (payload cut, as
 * a snap length would): the reassembler still sees every segment's sequence numbers, flags
 * and times, so FIN/RST, idle expiry, port reuse and the flow table behave as with whole
 * packets, and the connection, unrecognised, ignores the bytes it is not given.
 *
 * Two halves, so that the drain's side takes no lock and no shared cache line per packet:
 *   - struct flow_verdict_ring: single producer (the dissection thread), single consumer
 *     (the drain): messages {key, set or clear, record index}. When it is full, a clear is
 *     never lost: the ring's `flush` flag makes the drain forget every verdict instead.
 *   - struct flow_verdict_table: the drain's own, direct-mapped by key, plain memory. It
 *     takes the messages in order and is asked once per TCP packet.
 *
 * Staleness (the drain runs ahead of the dissection thread). A verdict is decided at record
 * index k of the queue; the drain applies it later, at record n > k. A SYN (or SYN-ACK) the
 * drain queued in between may start a new connection on the same pair (port reuse): the
 * table remembers, per slot, the index of the last SYN queued there and refuses a verdict
 * decided before it; a SYN itself always clears its flow's verdict and goes whole. A flow
 * idle for idle_ns loses its verdict at its next packet (the reassembler may have expired
 * the connection and pick the flow up again mid-stream). Other closes (a connection evicted
 * for memory or by a full flow table, then speaking again without SYN) are undone by the
 * clear message; packets the drain cut before it arrived are counted by the dissection
 * thread as `late`.
 *
 * Keys are a 64-bit hash of the pair in a fixed order (both directions meet); two different
 * pairs with the same key are taken as one (a chance of 2^-64 per pair of flows).
 */
#ifndef FLOE_DISSECT_FLOW_VERDICT_H
#define FLOE_DISSECT_FLOW_VERDICT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOW_VERDICT_DEFAULT_SLOTS 16384u /* table slots (power of two); 24 B each */
#define FLOW_VERDICT_RING_MSGS	   4096u  /* messages waiting for the drain, at most */

/* The key of a TCP pair, either order; never 0. */
uint64_t flow_verdict_key(const uint8_t a[16], uint16_t ap, const uint8_t b[16], uint16_t bp);

struct flow_verdict_msg {
	uint64_t key;
	uint64_t rec; /* the queue record at which it was decided (dissect_worker's index) */
	uint32_t set; /* 1: never dissected from here; 0: taken back */
	uint32_t pad;
};

struct flow_verdict_ring {
	struct flow_verdict_msg m[FLOW_VERDICT_RING_MSGS];
	/* each side's own line: the drain looks at head once per packet */
	_Alignas(64) _Atomic uint64_t head; /* the dissection thread's */
	atomic_bool flush;  /* a clear did not fit: the drain forgets every verdict */
	uint64_t lost_sets; /* the dissection thread's: sets that did not fit (no harm) */
	_Alignas(64) _Atomic uint64_t tail; /* the drain's */
};

/* The dissection thread: queue a message; a clear that does not fit raises flush. */
void flow_verdict_ring_put(struct flow_verdict_ring *r, uint64_t key, bool set, uint64_t rec);

struct flow_verdict_slot {
	uint64_t key;	  /* 0: no verdict */
	uint64_t syn_rec; /* index + 1 of the last SYN queued for a key of this slot; 0: none */
	uint64_t last_ts; /* the verdict's flow's last packet (ns) */
};

struct flow_verdict_table {
	struct flow_verdict_slot *slots;
	uint32_t mask;
	uint64_t idle_ns;
	uint64_t refused; /* verdicts decided before a later SYN on their slot */
	uint64_t expired; /* verdicts dropped at a packet after idle_ns */
	uint64_t flushes; /* times every verdict was forgotten (the ring's flush) */
};

/* slots rounded up to a power of two (0: default); idle_ns 0: never by time. */
int flow_verdict_table_init(struct flow_verdict_table *t, uint32_t slots, uint64_t idle_ns);
void flow_verdict_table_free(struct flow_verdict_table *t);

/* The drain: take what the ring holds. now_ts: the newest packet time queued (ns). */
void flow_verdict_table_update(struct flow_verdict_table *t, struct flow_verdict_ring *r,
			       uint64_t now_ts);

/*
 * The drain, per TCP packet about to be queued as record rec: whether its payload is to be
 * cut. A SYN clears its flow's verdict (and refuses older ones on its slot).
 */
bool flow_verdict_table_cut(struct flow_verdict_table *t, uint64_t key, bool syn, uint64_t rec,
			    uint64_t ts);

#endif /* FLOE_DISSECT_FLOW_VERDICT_H */
