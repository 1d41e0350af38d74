/* SPDX-License-Identifier: Apache-2.0 */
/* hub_servicemap: the graph folded from entries: nodes by namespace and name, one edge per
 * client, server and protocol, each protocol's error rule, percentiles over the latencies,
 * and the bounds (nodes, edges, latency samples) with what went past them counted. The
 * expected numbers are worked out by hand in the comments. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/agent_api_mem.h"
#include "hub_servicemap.h"

static void add(struct hub_map *m, const char *json)
{
	assert_int_equal(hub_map_add(m, json, strlen(json)), 0);
}

static json_t *edge(json_t *g, const char *src, const char *dst, const char *proto)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(g, "edges"), i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "source")), src) &&
		    !strcmp(json_string_value(json_object_get(e, "target")), dst) &&
		    !strcmp(json_string_value(json_object_get(e, "protocol")), proto))
			return e;
	}
	fail_msg("no edge %s -> %s %s", src, dst, proto);
	return NULL;
}

static long long ival(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static double dval(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

#define EP(ns, pod) "{\"namespace\":\"" ns "\",\"pod\":\"" pod "\",\"ip\":\"10.0.0.1\"}"

static void test_fold(void **state)
{
	struct hub_map *m = hub_map_new(NULL);
	assert_non_null(m);
	char buf[512];
	/* 10 HTTP a → b, elapsed 1..10 ms, statuses 200 except two (404, 503): errors 2. */
	for (int i = 1; i <= 10; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"protocol\":\"http\",\"elapsed_ms\":%d,\"src\":" EP("front", "a")
			 ",\"dst\":" EP("back", "b") ",\"response\":{\"status\":%d}}",
			 11 - i, i == 3 ? 404 : i == 7 ? 503 : 200);
		add(m, buf);
	}
	/* gRPC a → b: OK, NOT_FOUND, and one reset without a status (its HTTP status is 200):
	 * errors 2 of 3. */
	add(m, "{\"protocol\":\"grpc\",\"elapsed_ms\":2,\"src\":" EP("front", "a") ",\"dst\":" EP(
		   "back", "b") ",\"grpc\":{\"status\":0},\"response\":{\"status\":200}}");
	add(m, "{\"protocol\":\"grpc\",\"elapsed_ms\":4,\"src\":" EP("front", "a") ",\"dst\":" EP(
		   "back", "b") ",\"grpc\":{\"status\":5},\"response\":{\"status\":200}}");
	add(m, "{\"protocol\":\"grpc\",\"src\":" EP("front", "a") ",\"dst\":" EP(
		   "back", "b") ",\"grpc\":{},\"rst_error\":\"CANCEL\",\"missing\":\"response\","
			    "\"response\":{\"status\":200}}");
	/* Redis to a service, DNS to an address, one of each an error. */
	add(m, "{\"protocol\":\"redis\",\"elapsed_ms\":0.5,\"src\":" EP(
		   "front", "a") ",\"dst\":{\"namespace\":\"back\",\"service\":\"cache\"},"
				 "\"response\":{\"type\":\"error\"}}");
	add(m, "{\"protocol\":\"redis\",\"elapsed_ms\":1.5,\"src\":" EP(
		   "front", "a") ",\"dst\":{\"namespace\":\"back\",\"service\":\"cache\"},"
				 "\"response\":{\"type\":\"status\"}}");
	add(m, "{\"protocol\":\"dns\",\"src\":" EP(
		   "front", "a") ",\"dst\":{\"ip\":\"10.9.9.9\"},\"response\":{\"rcode\":\"NXDOMAIN\"}}");
	add(m, "{\"protocol\":\"dns\",\"src\":" EP(
		   "front", "a") ",\"dst\":{\"ip\":\"10.9.9.9\"},\"response\":{\"rcode\":\"NOERROR\"}}");
	/* Not an entry: counted, nothing else. */
	assert_int_equal(hub_map_add(m, "[1,2]", 5), -EINVAL);
	assert_int_equal(hub_map_add(m, "{nope", 5), -EINVAL);

	json_t *g = hub_map_json(m, 60.0);
	assert_non_null(g);
	assert_int_equal(ival(g, "entries"), 17);
	assert_int_equal(ival(g, "unreadable"), 2);
	assert_int_equal(ival(g, "dropped"), 0);
	/* Nodes sorted by id: "/10.9.9.9", "back/b", "back/cache", "front/a". */
	json_t *nodes = json_object_get(g, "nodes");
	assert_int_equal(json_array_size(nodes), 4);
	static const char *const ids[] = {"/10.9.9.9", "back/b", "back/cache", "front/a"};
	static const char *const kinds[] = {"ip", "pod", "service", "pod"};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, i), "id")),
				    ids[i]);
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(nodes, i), "kind")), kinds[i]);
	}
	json_t *h = edge(g, "front/a", "back/b", "http");
	assert_int_equal(ival(h, "requests"), 10);
	assert_int_equal(ival(h, "errors"), 2);
	assert_true(dval(h, "rate") == 10 / 60.0);
	assert_true(dval(h, "error_rate") == 0.2);
	/* sorted 1..10: p50 = v[floor(0.5 * 10)] = v[5] = 6; p99 = v[floor(9.9)] = v[9] = 10 */
	assert_true(dval(h, "p50_ms") == 6);
	assert_true(dval(h, "p99_ms") == 10);
	assert_int_equal(ival(h, "latency_samples"), 10);
	json_t *gr = edge(g, "front/a", "back/b", "grpc");
	assert_int_equal(ival(gr, "requests"), 3);
	assert_int_equal(ival(gr, "errors"), 2);
	assert_int_equal(ival(gr, "latency_samples"), 2); /* the reset one has no elapsed time */
	/* sorted {2, 4}: p50 = v[1] = 4 */
	assert_true(dval(gr, "p50_ms") == 4);
	json_t *r = edge(g, "front/a", "back/cache", "redis");
	assert_int_equal(ival(r, "errors"), 1);
	json_t *d = edge(g, "front/a", "/10.9.9.9", "dns");
	assert_int_equal(ival(d, "errors"), 1);
	assert_true(json_is_null(json_object_get(d, "p50_ms"))); /* no latencies */
	assert_int_equal(json_array_size(json_object_get(g, "edges")), 4);
	/* Edges in (source, target, protocol) order: all from front/a; targets "/10.9.9.9",
	 * "back/b" (grpc before http), "back/cache". */
	static const char *const order[] = {"dns", "grpc", "http", "redis"};
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(json_object_get(g, "edges"), i), "protocol")),
				    order[i]);
	json_decref(g);
	hub_map_free(m);
}

static void test_bounds(void **state)
{
	/* Two nodes, two edges, three latencies at most. */
	struct hub_map_limits lim = {.max_nodes = 2, .max_edges = 2, .max_samples = 3};
	struct hub_map *m = hub_map_new(&lim);
	assert_non_null(m);
	static const char *const a_b =
	    "{\"protocol\":\"http\",\"elapsed_ms\":1,\"src\":{\"pod\":\"a\"},\"dst\":{\"pod\":\"b\"}}";
	static const char *const b_a =
	    "{\"protocol\":\"http\",\"elapsed_ms\":2,\"src\":{\"pod\":\"b\"},\"dst\":{\"pod\":\"a\"}}";
	static const char *const a_b_dns =
	    "{\"protocol\":\"dns\",\"elapsed_ms\":3,\"src\":{\"pod\":\"a\"},\"dst\":{\"pod\":\"b\"}}";
	static const char *const a_c =
	    "{\"protocol\":\"http\",\"elapsed_ms\":4,\"src\":{\"pod\":\"a\"},\"dst\":{\"pod\":\"c\"}}";
	add(m, a_b);
	add(m, b_a);
	add(m, a_b_dns); /* a third edge: dropped */
	add(m, a_c);	 /* a third node: dropped */
	add(m, a_b);
	add(m, a_b); /* the fourth latency: past the budget, counted but not kept */
	json_t *g = hub_map_json(m, 1.0);
	assert_int_equal(ival(g, "entries"), 6);
	assert_int_equal(ival(g, "dropped"), 2);
	assert_int_equal(json_array_size(json_object_get(g, "nodes")), 2);
	assert_int_equal(json_array_size(json_object_get(g, "edges")), 2);
	json_t *e = edge(g, "/a", "/b", "http");
	assert_int_equal(ival(e, "requests"), 3);
	assert_int_equal(ival(e, "latency_samples"), 2);
	json_decref(g);
	hub_map_free(m);
}

/* Through agents: one holding more than a page (10,000) of entries, some outside the window,
 * and one refusing calls. Every entry in the window is folded exactly once. */
static void test_agents(void **state)
{
	struct agent_api ag[2];
	struct agent_api_mem_opts o1 = {.name = "one"}, o2 = {.name = "two"};
	assert_int_equal(agent_api_mem_new(&o1, &ag[0]), 0);
	assert_int_equal(agent_api_mem_new(&o2, &ag[1]), 0);
	char id[32], json[256];
	/* 50,000 entries in pairs sharing a time (ties broken by id, so pages can end inside a
	 * pair), the pairs 1 µs apart from t = 1,000,000 ns. The window [t + 2 ms, t + 22 ms)
	 * holds the pairs 2,000 .. 21,999: 40,000 entries, four pages of the agent's. */
	for (int i = 0; i < 50000; i++) {
		snprintf(id, sizeof(id), "e%05d", i);
		snprintf(json, sizeof(json),
			 "{\"protocol\":\"http\",\"elapsed_ms\":%d,\"src\":{\"pod\":\"a\"},"
			 "\"dst\":{\"pod\":\"b\"},\"response\":{\"status\":%d}}",
			 i % 100, i % 10 ? 200 : 500);
		assert_int_equal(
		    agent_api_mem_add(&ag[0], id, 1000000 + (int64_t)(i / 2) * 1000, json), 0);
	}
	agent_api_mem_set_down(&ag[1], true);
	json_t *g = NULL;
	struct hub_errors errs;
	assert_int_equal(hub_servicemap(ag, 2, NULL, 1000000 + 2000000, 1000000 + 22000000, NULL,
					&g, &errs),
			 0);
	assert_int_equal(errs.n, 1); /* agent "two" is down */
	assert_int_equal(errs.v[0].agent, 1);
	assert_int_equal(ival(g, "entries"), 40000);
	json_t *e = edge(g, "/a", "/b", "http");
	assert_int_equal(ival(e, "requests"), 40000);
	assert_int_equal(ival(e, "errors"), 4000); /* every tenth */
	assert_true(dval(e, "rate") == 40000 / 0.02);
	json_decref(g);
	hub_errors_free(&errs);
	for (int i = 0; i < 2; i++)
		ag[i].ops->destroy(ag[i].self);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_agents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
