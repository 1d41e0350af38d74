// SPDX-License-Identifier: Apache-2.0
/*
 * agent_api_mem (lib/core/api): the in-memory agent the transport and hub tests stand on must
 * itself keep agent_api.h's promises — merge order whatever the insertion order, time bounds,
 * the resume cursor, limits, filters, bodies left out, get, follow (and its loss count), PCAP
 * of the matching entries in time order, and an unreachable agent. Links the core alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/agent_api_mem.h"

struct seen {
	char ids[64][16];
	char json[64][512];
	size_t n;
	size_t stop_after; /* 0: never */
};

static int collect(const struct agent_entry *e, void *arg)
{
	struct seen *s = arg;

	size_t n = s->n;

	if (n < 64) {
		snprintf(s->ids[n], sizeof(s->ids[0]), "%s", e->id);
		snprintf(s->json[n], sizeof(s->json[0]), "%.*s", (int)e->json_len, e->json);
	}
	__atomic_store_n(&s->n, n + 1, __ATOMIC_RELEASE);
	return s->stop_after && n + 1 == s->stop_after;
}

/* Six entries added out of order; ids say their merge position: e1 < e2 < ... (e3/e4 tie on ts). */
static void fill(struct agent_api *api)
{
	static const struct {
		const char *id;
		int64_t ts;
		const char *json;
	} rows[] = {
	    {"e5", 500,
	     "{\"protocol\":\"http\",\"request\":{\"method\":\"POST\"},\"response\":{\"status\":"
	     "500}}"},
	    {"e1", 100,
	     "{\"protocol\":\"http\",\"request\":{\"method\":\"GET\",\"body\":{\"size\":2,\"text\":"
	     "\"hi\"}},\"response\":{\"status\":200}}"},
	    {"e4", 300, "{\"protocol\":\"redis\",\"request\":{\"command\":\"GET\"}}"},
	    {"e3", 300,
	     "{\"protocol\":\"http\",\"request\":{\"method\":\"GET\"},\"response\":{\"status\":404}"
	     "}"},
	    {"e6", 600, "{\"protocol\":\"dns\"}"},
	    {"e2", 200,
	     "{\"protocol\":\"http\",\"request\":{\"method\":\"GET\"},\"response\":{\"status\":200}"
	     "}"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(agent_api_mem_add(api, rows[i].id, rows[i].ts, rows[i].json), 0);
}

static void run_query(struct agent_api *api, const struct agent_query *q, struct seen *s,
		      int expect)
{
	char err[256] = "";

	memset(s, 0, sizeof(*s));
	assert_int_equal(api->ops->query(api->self, q, collect, s, err, sizeof(err)), expect);
}

static void test_order_bounds_cursor_filter(void **state)
{
	struct agent_api api;
	struct agent_query q = {0};
	struct seen s;
	char err[256];

	(void)state;
	assert_int_equal(agent_api_mem_new(&(struct agent_api_mem_opts){.name = "n1"}, &api), 0);
	fill(&api);
	assert_int_equal(agent_api_mem_add(&api, "e1", 1, "{}"), -EINVAL); /* id taken */
	assert_int_equal(agent_api_mem_add(&api, "x", 1, "[1]"), -EINVAL); /* not an object */

	run_query(&api, &q, &s, 0);
	assert_int_equal(s.n, 6);
	for (size_t i = 0; i < 6; i++) {
		char want[8];

		snprintf(want, sizeof(want), "e%zu", i + 1);
		assert_string_equal(s.ids[i], want);
	}
	assert_non_null(strstr(s.json[0], "\"id\":\"e1\""));

	q.since_ns = 200, q.until_ns = 500; /* [200, 500) */
	run_query(&api, &q, &s, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], "e2");
	assert_string_equal(s.ids[2], "e4");

	/* The cursor resumes strictly after (300, e3): a tie on ts is split by id. */
	q = (struct agent_query){.after_ts_ns = 300, .after_id = "e3", .limit = 2};
	run_query(&api, &q, &s, 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], "e4");
	assert_string_equal(s.ids[1], "e5");

	q = (struct agent_query){.filter = "http and response.status >= 400"};
	run_query(&api, &q, &s, 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], "e3");
	assert_string_equal(s.ids[1], "e5");

	q = (struct agent_query){.filter = "response.status >="};
	memset(err, 0, sizeof(err));
	assert_int_equal(api.ops->query(api.self, &q, collect, &s, err, sizeof(err)), -EINVAL);
	assert_true(err[0] != '\0');

	/* The callback stops the walk early without an error. */
	q = (struct agent_query){0};
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(api.ops->query(api.self, &q, collect, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	api.ops->destroy(api.self);
}

static void test_bodies_and_get(void **state)
{
	struct agent_api api;
	struct agent_query q = {.until_ns = 101};
	struct seen s;
	char err[256];

	(void)state;
	assert_int_equal(agent_api_mem_new(NULL, &api), 0);
	fill(&api);
	run_query(&api, &q, &s, 0);
	assert_int_equal(s.n, 1);
	assert_null(strstr(s.json[0], "\"text\""));
	assert_non_null(strstr(s.json[0], "\"size\":2"));
	q.with_bodies = 1;
	run_query(&api, &q, &s, 0);
	assert_non_null(strstr(s.json[0], "\"text\":\"hi\""));

	memset(&s, 0, sizeof(s));
	assert_int_equal(api.ops->get(api.self, "e1", collect, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.json[0], "\"text\":\"hi\""));
	assert_int_equal(api.ops->get(api.self, "nope", collect, &s, err, sizeof(err)), -ENOENT);
	api.ops->destroy(api.self);
}

struct follow_run {
	struct agent_api *api;
	struct agent_follow f;
	struct seen s;
	int ret;
	int started;
};

static void *follow_thread(void *arg)
{
	struct follow_run *r = arg;
	char err[256];

	r->ret = r->api->ops->follow(r->api->self, "http", &r->f, collect, &r->s, err, sizeof(err));
	return NULL;
}

static void wait_followers(struct agent_api *api, size_t n)
{
	for (int i = 0; i < 1000 && agent_api_mem_followers(api) != n; i++)
		usleep(2000);
	assert_int_equal(agent_api_mem_followers(api), n);
}

static size_t seen_count(struct seen *s)
{
	return __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
}

static void wait_seen(struct seen *s, size_t n)
{
	for (int i = 0; i < 1000 && seen_count(s) < n; i++)
		usleep(2000);
}

static void test_follow_and_down(void **state)
{
	struct agent_api api;
	struct follow_run r = {.api = &api};
	pthread_t th;
	struct agent_info info;
	struct seen s;
	struct agent_query q = {0};

	(void)state;
	assert_int_equal(agent_api_mem_new(NULL, &api), 0);
	fill(&api); /* before the follower: not delivered */
	assert_int_equal(pthread_create(&th, NULL, follow_thread, &r), 0);
	wait_followers(&api, 1);
	assert_int_equal(agent_api_mem_add(&api, "h7", 700, "{\"protocol\":\"redis\"}"), 0);
	assert_int_equal(agent_api_mem_add(&api, "h8", 800, "{\"protocol\":\"http\"}"), 0);
	wait_seen(&r.s, 1);
	assert_int_equal(seen_count(&r.s), 1); /* the redis entry filtered out */
	assert_string_equal(r.s.ids[0], "h8");
	r.f.stop = 1;
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(agent_api_mem_followers(&api), 0);

	/* An agent going down ends a follow with an error, and every call fails until it is back.
	 */
	memset(&r, 0, sizeof(r));
	r.api = &api;
	assert_int_equal(pthread_create(&th, NULL, follow_thread, &r), 0);
	wait_followers(&api, 1);
	agent_api_mem_set_down(&api, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.ret, -ECONNREFUSED);
	api.ops->info(api.self, &info);
	assert_int_equal(info.connected, 0);
	assert_true(info.error[0] != '\0');
	run_query(&api, &q, &s, -ECONNREFUSED);
	agent_api_mem_set_down(&api, false);
	api.ops->info(api.self, &info);
	assert_int_equal(info.connected, 1);
	run_query(&api, &q, &s, 0);
	assert_int_equal(s.n, 8);
	api.ops->destroy(api.self);
}

/* A callback held at its first entry, so that the test knows exactly what piles up behind it. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int entered, open;
};

static struct gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static int gated(const struct agent_entry *e, void *arg)
{
	struct seen *s = arg;

	pthread_mutex_lock(&the_gate.lock);
	the_gate.entered = 1;
	pthread_cond_broadcast(&the_gate.cond);
	while (!the_gate.open)
		pthread_cond_wait(&the_gate.cond, &the_gate.lock);
	pthread_mutex_unlock(&the_gate.lock);
	(void)e;
	s->n++;
	return 1; /* stop after the first */
}

static void *gated_follow(void *arg)
{
	struct follow_run *r = arg;
	char err[256];

	r->ret = r->api->ops->follow(r->api->self, NULL, &r->f, gated, &r->s, err, sizeof(err));
	return NULL;
}

static void test_follow_lost_counted(void **state)
{
	struct agent_api api;
	struct follow_run r = {.api = &api};
	pthread_t th;
	char name[16];

	(void)state;
	assert_int_equal(agent_api_mem_new(&(struct agent_api_mem_opts){.follow_queue = 4}, &api),
			 0);
	assert_int_equal(pthread_create(&th, NULL, gated_follow, &r), 0);
	wait_followers(&api, 1);
	assert_int_equal(agent_api_mem_add(&api, "first", 1, "{\"protocol\":\"http\"}"), 0);
	pthread_mutex_lock(&the_gate.lock);
	while (!the_gate.entered)
		pthread_cond_wait(&the_gate.cond, &the_gate.lock);
	pthread_mutex_unlock(&the_gate.lock);
	/* The follower sits in its callback: 4 of these 10 fit its queue, 6 are lost. */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		assert_int_equal(agent_api_mem_add(&api, name, 10 + i, "{\"protocol\":\"http\"}"),
				 0);
	}
	pthread_mutex_lock(&the_gate.lock);
	the_gate.open = 1;
	pthread_cond_broadcast(&the_gate.cond);
	pthread_mutex_unlock(&the_gate.lock);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.s.n, 1);
	assert_int_equal(r.f.lost, 6);
	assert_int_equal(agent_api_mem_lost(&api), 6);
	api.ops->destroy(api.self);
}

struct bytes {
	unsigned char buf[4096];
	size_t n;
};

static int collect_bytes(const void *b, size_t len, void *arg)
{
	struct bytes *o = arg;

	assert_true(o->n + len <= sizeof(o->buf));
	memcpy(o->buf + o->n, b, len);
	o->n += len;
	return 0;
}

static void test_pcap(void **state)
{
	struct agent_api api;
	struct agent_query q = {.filter = "http and response.status == 200"};
	struct bytes out = {0};
	unsigned char frame[60];
	uint32_t magic, sec, nsec, len;
	char err[256];

	(void)state;
	assert_int_equal(agent_api_mem_new(NULL, &api), 0);
	fill(&api);
	memset(frame, 0xab, sizeof(frame));
	/* e2's packet is earlier than e1's second one: the file is in packet time order. */
	assert_int_equal(agent_api_mem_add_packet(&api, "e1", 3000000000LL, frame, 60), 0);
	assert_int_equal(agent_api_mem_add_packet(&api, "e1", 1000000005LL, frame, 54), 0);
	assert_int_equal(agent_api_mem_add_packet(&api, "e2", 2000000000LL, frame, 42), 0);
	assert_int_equal(agent_api_mem_add_packet(&api, "e3", 2500000000LL, frame, 42), 0);
	assert_int_equal(agent_api_mem_add_packet(&api, "zz", 1, frame, 42), -ENOENT);
	assert_int_equal(api.ops->pcap(api.self, &q, collect_bytes, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 24 + 3 * 16 + 60 + 54 + 42);
	memcpy(&magic, out.buf, 4);
	assert_int_equal(magic, 0xa1b23c4d);
	memcpy(&sec, out.buf + 24, 4);
	memcpy(&nsec, out.buf + 28, 4);
	memcpy(&len, out.buf + 32, 4);
	assert_int_equal(sec, 1);
	assert_int_equal(nsec, 5);
	assert_int_equal(len, 54);
	memcpy(&sec, out.buf + 24 + 16 + 54, 4);
	assert_int_equal(sec, 2);
	api.ops->destroy(api.self);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_bounds_cursor_filter),
	    cmocka_unit_test(test_bodies_and_get),
	    cmocka_unit_test(test_follow_and_down),
	    cmocka_unit_test(test_follow_lost_counted),
	    cmocka_unit_test(test_pcap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
