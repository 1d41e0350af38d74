/* SPDX-License-Identifier: Apache-2.0 */
/* hub_stream with batches (?batch=N): every message popped is a JSON array of 1 to N messages,
 * at most HUB_STREAM_BATCH_BYTES unless it holds one; history and live entries each come once
 * across them, the history in time order; a lone live entry is not kept waiting for its batch
 * to fill. Without batch, single messages (no array), as before. Over in-memory agents; run
 * under the sanitizers too (unit-san), where the joining of messages is checked for bounds. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/agent_api_mem.h"
#include "hub_stream.h"

#define N_AGENTS 2
#define HISTORY	 40
#define BIG	 (600 * 1024) /* two of these cannot share a batch */

struct client {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int woken, done;
};

static void on_wake(void *arg)
{
	struct client *c = arg;
	pthread_mutex_lock(&c->mu);
	c->woken = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void on_done(void *arg)
{
	struct client *c = arg;
	pthread_mutex_lock(&c->mu);
	c->done = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Wait up to ms for a wake; 1 if there was one (and clear it). */
static int wait_wake(struct client *c, int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->woken && pthread_cond_timedwait(&c->cv, &c->mu, &t) != ETIMEDOUT)
		;
	int w = c->woken;
	c->woken = 0;
	pthread_mutex_unlock(&c->mu);
	return w;
}

static void add(struct agent_api *a, int k, int64_t ts, size_t body)
{
	char id[32], *json;
	snprintf(id, sizeof(id), "e%03d", k);
	char *pad = calloc(1, body + 1);
	assert_non_null(pad);
	memset(pad, 'x', body);
	assert_true(
	    asprintf(&json,
		     "{\"protocol\":\"http\",\"request\":{\"method\":\"GET\",\"path\":\"/%d\"},"
		     "\"response\":{\"status\":200,\"body\":{\"text\":\"%s\"}}}",
		     k, pad) > 0);
	assert_int_equal(agent_api_mem_add(a, id, ts, json), 0);
	free(json);
	free(pad);
}

struct seen {
	char ids[HISTORY + 8][8];
	size_t n;
	int live_at; /* entries before the live message; -1 until then */
	size_t messages, max_batch;
};

/* Everything waiting: each message checked and taken apart into s. */
static void drain(struct hub_stream *st, size_t batch, struct seen *s)
{
	size_t len;
	int more = 1;
	while (more) {
		char *m = hub_stream_pop(st, &len, &more);
		if (!m)
			break;
		json_error_t err;
		json_t *j = json_loadb(m, len, 0, &err);
		assert_non_null(j);
		json_t *items = j;
		if (batch) {
			assert_true(json_is_array(j));
			size_t k = json_array_size(j);
			assert_true(k >= 1 && k <= batch);
			assert_true(k == 1 || len <= HUB_STREAM_BATCH_BYTES);
			if (k > s->max_batch)
				s->max_batch = k;
		} else {
			assert_true(json_is_object(j));
			items = json_pack("[O]", j);
		}
		size_t i;
		json_t *x;
		json_array_foreach(items, i, x)
		{
			const char *type = json_string_value(json_object_get(x, "type"));
			assert_non_null(type);
			if (!strcmp(type, "live")) {
				s->live_at = (int)s->n;
			} else if (!strcmp(type, "entry")) {
				const char *id = json_string_value(
				    json_object_get(json_object_get(x, "entry"), "id"));
				assert_non_null(id);
				assert_true(s->n < sizeof(s->ids) / sizeof(s->ids[0]));
				snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
			}
		}
		if (items != j)
			json_decref(items);
		json_decref(j);
		s->messages++;
		hub_stream_msg_free(m);
	}
}

static void run(size_t batch)
{
	struct agent_api agents[N_AGENTS];
	for (int i = 0; i < N_AGENTS; i++) {
		struct agent_api_mem_opts o = {.name = i ? "b" : "a", .unchecked_filters = true};
		assert_int_equal(agent_api_mem_new(&o, &agents[i]), 0);
	}
	/* History: entries in turn, a day old; two big ones next to each other. */
	int64_t day_ago = (int64_t)(time(NULL) - 86400) * 1000000000;
	for (int k = 0; k < HISTORY; k++)
		add(&agents[k % N_AGENTS], k, day_ago + k * 1000, k == 10 || k == 11 ? BIG : 10);

	struct hub_metrics metrics;
	memset(&metrics, 0, sizeof(metrics));
	struct client c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct hub_stream_cfg cfg = {.agents = agents,
				     .n = N_AGENTS,
				     .queue_cap = 16,
				     .hold_ns = -1,
				     .history_page = 7,
				     .batch = batch,
				     .batch_ns = 30 * 1000000,
				     .metrics = &metrics,
				     .wake = on_wake,
				     .done = on_done,
				     .arg = &c};
	struct hub_stream *st;
	assert_int_equal(hub_stream_start(&cfg, &st), 0);
	struct seen s = {.live_at = -1};
	for (int tries = 0; s.live_at < 0 && tries < 500; tries++) {
		wait_wake(&c, 20);
		drain(st, batch, &s);
	}
	assert_int_equal(s.live_at, HISTORY);
	for (int k = 0; k < HISTORY; k++) {
		char want[8];
		snprintf(want, sizeof(want), "e%03d", k);
		assert_string_equal(s.ids[k], want); /* in time order, each once */
	}
	if (batch > 1)
		assert_true(s.max_batch > 1); /* batches do join messages */

	/* Live: one entry alone goes within batch_ns, not when a batch would be full. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	add(&agents[0], HISTORY, day_ago + 86400LL * 1000000000, 10);
	for (int tries = 0; s.n == HISTORY && tries < 250; tries++) {
		wait_wake(&c, 20);
		drain(st, batch, &s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(s.n, HISTORY + 1);
	assert_string_equal(s.ids[HISTORY], "e040");
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 3000);

	hub_stream_close(st);
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		pthread_cond_wait(&c.cv, &c.mu);
	pthread_mutex_unlock(&c.mu);
	for (int i = 0; i < N_AGENTS; i++)
		agents[i].ops->destroy(agents[i].self);
}

static void test_batched(void **state)
{
	(void)state;
	run(5);
}

static void test_batch_of_one(void **state)
{
	(void)state;
	run(1);
}

static void test_unbatched(void **state)
{
	(void)state;
	run(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batched),
	    cmocka_unit_test(test_batch_of_one),
	    cmocka_unit_test(test_unbatched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
