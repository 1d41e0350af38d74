/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pending: the one queue of requests waiting for their responses, shared by the dissectors
 * that pair in order or by id (HTTP/1 pipelining, Redis, Kafka, AMQP sync methods, DNS).
 *
 * Intrusive: a dissector embeds a struct pending_link in its request and gets the request
 * back with pending_entry(). The queue owns nothing: what leaves it (taken, evicted, flushed)
 * goes back to the caller, which emits or frees it. Bounded: at most `max` links; pushing
 * onto a full queue first takes the oldest out and returns it as evicted (counted), so a
 * peer that never answers costs a bounded amount of memory and every eviction is visible.
 * Each link also carries a weight (bytes, values kept, ...) the queue sums, for dissectors
 * that bound what their requests hold as well as how many there are.
 */
#ifndef FLOE_DISSECT_PENDING_H
#define FLOE_DISSECT_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pending_link {
	struct pending_link *next;
	uint64_t weight; /* set before pending_push(); summed in pending_queue.weight */
};

struct pending_queue {
	struct pending_link *head, *tail; /* oldest first */
	size_t n, max;			  /* max 0: unbounded (the caller bounds it) */
	uint64_t weight;		  /* sum of the links' weights */
	uint64_t evicted;		  /* links pending_push() pushed out */
};

/* The struct of type `type` that holds link `l` in its member `member`. */
#define pending_entry(l, type, member) ((type *)((char *)(l) - offsetof(type, member)))

static inline void pending_init(struct pending_queue *q, size_t max)
{
	*q = (struct pending_queue){.max = max};
}

static inline bool pending_empty(const struct pending_queue *q)
{
	return q->head == NULL;
}

static inline bool pending_full(const struct pending_queue *q)
{
	return q->max && q->n >= q->max;
}

/*
 * Append l. When the queue already holds max links, the oldest is taken out first and
 * returned (q->evicted counts it); otherwise NULL.
 */
struct pending_link *pending_push(struct pending_queue *q, struct pending_link *l);

/* Take out the oldest link (NULL when empty). */
struct pending_link *pending_pop(struct pending_queue *q);

/* The first link, oldest first, for which match(l, key) is true; NULL if none. */
struct pending_link *pending_find(const struct pending_queue *q,
				  bool (*match)(const struct pending_link *l, const void *key),
				  const void *key);

/* Take l out wherever it is (it must be in q; found by walking from the head). */
void pending_remove(struct pending_queue *q, struct pending_link *l);

/* Take l out in O(1) when its predecessor is known (prev NULL: l is the head). */
void pending_unlink(struct pending_queue *q, struct pending_link *prev, struct pending_link *l);

/* Every link, oldest first: for (l = q->head; l; l = l->next). A loop that removes the link it
 * visits reads l->next first. */

#endif /* FLOE_DISSECT_PENDING_H */
