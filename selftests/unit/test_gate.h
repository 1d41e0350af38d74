/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gate that holds a dissect_worker in its tick (cfg.tick = gate_tick): the worker takes no
 * frame until gate_open(), so a full queue or a held consumer is certain, not a race. Included
 * by test_dissect_worker.c and test_queue_budget.c.
 */
#ifndef FLOE_TEST_GATE_H
#define FLOE_TEST_GATE_H

#include <pthread.h>
#include <stdbool.h>

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool in_tick, open;
	unsigned asked; /* may_wait() calls (test_dissect_worker's gate_may_wait) */
	bool answer;	/* what may_wait() says */
};

static inline void gate_tick(void *ctx)
{
	struct gate *g = ctx;

	pthread_mutex_lock(&g->lock);
	g->in_tick = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static inline void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->lock);
}

/* Until the worker is held in the gate (after dissect_worker_tick). */
static inline void gate_wait_held(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->in_tick)
		pthread_cond_wait(&g->cv, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

#endif /* FLOE_TEST_GATE_H */
