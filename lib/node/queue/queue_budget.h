/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue_budget: one memory budget shared by the tap's queues (the dissection ring, the PCAP
 * store's chunks, the entry history's buffers), so that backlogs that peak together stay
 * within one bound (--queue-memory; docs/storage.md, "One budget for the queues").
 *
 * Each member joins with a floor: bytes reserved for it alone, taken from the total when it
 * joins. The rest of the total (the pool) is shared: a member may hold more than its floor by
 * borrowing from the pool, first come first served, and gives the bytes back to the pool when
 * it releases them. The invariant, kept under one mutex:
 *
 *     borrowed_i = max(0, used_i - floor_i),  sum(borrowed_i) <= pool = total - sum(floor_i)
 *
 * hence sum(used_i) <= sum(floor_i) + pool = total at every instant. A charge that would break
 * it is refused (and counted for that member): the member then does what it does at its own
 * bound (waits, or drops and counts). Members charge what they hold resident (chunks
 * allocated, buffer capacities, the ring's touched pages), in steps, not per record.
 *
 * A NULL budget grants everything (queues used without one keep only their own bounds).
 */
#ifndef FLOE_QUEUE_QUEUE_BUDGET_H
#define FLOE_QUEUE_QUEUE_BUDGET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define QUEUE_BUDGET_MEMBERS 4
#define QUEUE_BUDGET_DEFAULT (16ull << 20) /* --queue-memory's default */

struct queue_budget_member_stats {
	const char *name;
	uint64_t floor;   /* reserved for this member */
	uint64_t used;    /* held now */
	uint64_t peak;    /* most held at once */
	uint64_t refused; /* charges the budget refused (the member was at its own bound's
			     behaviour from there: waited or dropped, and counted that) */
};

struct queue_budget_stats {
	uint64_t total;
	uint64_t used; /* all members now */
	uint64_t peak; /* most held by all members at once: never above total */
	unsigned members;
	struct queue_budget_member_stats m[QUEUE_BUDGET_MEMBERS];
};

struct queue_budget {
	pthread_mutex_t lock;
	uint64_t total, pool, borrowed, used, peak;
	unsigned members;
	struct queue_budget_member_stats m[QUEUE_BUDGET_MEMBERS];
};

void queue_budget_init(struct queue_budget *b, uint64_t total);
void queue_budget_destroy(struct queue_budget *b);

/*
 * Join with a floor (reserved from what no other member reserved yet). Returns the member's id
 * (>= 0), or -ENOSPC when the floor does not fit in what is not reserved yet, -E2BIG
 * when there are QUEUE_BUDGET_MEMBERS already. name is kept by pointer (a literal).
 */
int queue_budget_join(struct queue_budget *b, const char *name, uint64_t floor);

/* Take bytes for member id: true, or false (nothing taken, counted as refused). b may be
 * NULL: always true. Any thread. */
bool queue_budget_charge(struct queue_budget *b, int id, uint64_t bytes);

/* Give back bytes member id charged before. b may be NULL. Any thread. */
void queue_budget_release(struct queue_budget *b, int id, uint64_t bytes);

void queue_budget_get_stats(struct queue_budget *b, struct queue_budget_stats *st);
/* Charges refused to the members other than id, all time (0 for a NULL budget): a member that
 * keeps spare bytes while nobody else is short can watch it to give them back when someone is. */
uint64_t queue_budget_refused_others(struct queue_budget *b, int id);

#endif /* FLOE_QUEUE_QUEUE_BUDGET_H */
