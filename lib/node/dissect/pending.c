// SPDX-License-Identifier: Apache-2.0
#include "dissect/pending.h"

struct pending_link *pending_pop(struct pending_queue *q)
{
	struct pending_link *l = q->head;

	if (!l)
		return NULL;
	q->head = l->next;
	if (!q->head)
		q->tail = NULL;
	l->next = NULL;
	q->n--;
	q->weight -= l->weight;
	return l;
}

struct pending_link *pending_push(struct pending_queue *q, struct pending_link *l)
{
	struct pending_link *old = NULL;

	if (pending_full(q)) {
		old = pending_pop(q);
		q->evicted++;
	}
	l->next = NULL;
	if (q->tail)
		q->tail->next = l;
	else
		q->head = l;
	q->tail = l;
	q->n++;
	q->weight += l->weight;
	return old;
}

struct pending_link *pending_find(const struct pending_queue *q,
				  bool (*match)(const struct pending_link *l, const void *key),
				  const void *key)
{
	for (struct pending_link *l = q->head; l; l = l->next)
		if (match(l, key))
			return l;
	return NULL;
}

void pending_unlink(struct pending_queue *q, struct pending_link *prev, struct pending_link *l)
{
	if (prev)
		prev->next = l->next;
	else
		q->head = l->next;
	if (q->tail == l)
		q->tail = prev;
	l->next = NULL;
	q->n--;
	q->weight -= l->weight;
}

void pending_remove(struct pending_queue *q, struct pending_link *l)
{
	struct pending_link *prev = NULL, *at;

	for (at = q->head; at && at != l; at = at->next)
		prev = at;
	if (at)
		pending_unlink(q, prev, l);
}
