// SPDX-License-Identifier: Apache-2.0
#include "queue/queue_budget.h"

#include <errno.h>
#include <string.h>

void queue_budget_init(struct queue_budget *b, uint64_t total)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->total = total;
	b->pool = total;
}

void queue_budget_destroy(struct queue_budget *b)
{
	if (b)
		pthread_mutex_destroy(&b->lock);
}

int queue_budget_join(struct queue_budget *b, const char *name, uint64_t floor)
{
	int id;

	pthread_mutex_lock(&b->lock);
	if (b->members == QUEUE_BUDGET_MEMBERS) {
		pthread_mutex_unlock(&b->lock);
		return -E2BIG;
	}
	/* Members join before any charge: the pool is still whole, nothing is borrowed. */
	if (floor > b->pool - b->borrowed) {
		pthread_mutex_unlock(&b->lock);
		return -ENOSPC;
	}
	id = (int)b->members++;
	b->m[id] = (struct queue_budget_member_stats){.name = name, .floor = floor};
	b->pool -= floor;
	pthread_mutex_unlock(&b->lock);
	return id;
}

/* What a member holding used bytes borrows from the pool. */
static uint64_t borrowed_at(const struct queue_budget_member_stats *m, uint64_t used)
{
	return used > m->floor ? used - m->floor : 0;
}

bool queue_budget_charge(struct queue_budget *b, int id, uint64_t bytes)
{
	struct queue_budget_member_stats *m;
	uint64_t more;

	if (!b || !bytes)
		return true;
	pthread_mutex_lock(&b->lock);
	m = &b->m[id];
	more = borrowed_at(m, m->used + bytes) - borrowed_at(m, m->used);
	if (more > b->pool - b->borrowed) {
		m->refused++;
		pthread_mutex_unlock(&b->lock);
		return false;
	}
	b->borrowed += more;
	m->used += bytes;
	if (m->used > m->peak)
		m->peak = m->used;
	b->used += bytes;
	if (b->used > b->peak)
		b->peak = b->used;
	pthread_mutex_unlock(&b->lock);
	return true;
}

void queue_budget_release(struct queue_budget *b, int id, uint64_t bytes)
{
	struct queue_budget_member_stats *m;

	if (!b || !bytes)
		return;
	pthread_mutex_lock(&b->lock);
	m = &b->m[id];
	if (bytes > m->used) /* a member's bug: never let the sums go below zero */
		bytes = m->used;
	b->borrowed -= borrowed_at(m, m->used) - borrowed_at(m, m->used - bytes);
	m->used -= bytes;
	b->used -= bytes;
	pthread_mutex_unlock(&b->lock);
}

void queue_budget_get_stats(struct queue_budget *b, struct queue_budget_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	st->total = b->total;
	st->used = b->used;
	st->peak = b->peak;
	st->members = b->members;
	memcpy(st->m, b->m, sizeof(st->m));
	pthread_mutex_unlock(&b->lock);
}

uint64_t queue_budget_refused_others(struct queue_budget *b, int id)
{
	uint64_t n = 0;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < b->members; i++)
		if ((int)i != id)
			n += b->m[i].refused;
	pthread_mutex_unlock(&b->lock);
	return n;
}
