// SPDX-License-Identifier: Apache-2.0
/*
 * The Prometheus text writer (lib/core/api/metrics_text.c): escaping of label values and HELP
 * text, number formatting, one family at a time, and the floe_agent_* families made of agents'
 * stats objects (what hub and agent /metrics both serve). The integration test
 * (test_metrics.sh) parses the live output with prometheus_client; here every line is exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "api/metrics_text.h"

static char *text_of(struct entry_json_buf *b)
{
	assert_int_equal(entry_json_append_raw(b, "", 1), 0); /* NUL */
	return b->p;
}

static void test_escaping(void **state)
{
	struct entry_json_buf b = {0};

	assert_int_equal(
	    metrics_family(&b, "floe_x_total", "counter", "Back\\slash and\nline \"q\""), 0);
	assert_int_equal(metrics_sample(&b, "floe_x_total",
					(const char *const[]){"agent", "a\\b\"c\nd", "empty", "",
							      "skipped", NULL, "z", "é", NULL},
					3),
			 0);
	assert_string_equal(text_of(&b),
			    "# HELP floe_x_total Back\\\\slash and\\nline \"q\"\n"
			    "# TYPE floe_x_total counter\n"
			    "floe_x_total{agent=\"a\\\\b\\\"c\\nd\",empty=\"\",z=\"é\"} 3\n");
	entry_json_buf_free(&b);
}

static void test_values(void **state)
{
	struct entry_json_buf b = {0};

	metrics_sample(&b, "a", NULL, 0);
	metrics_sample(&b, "b", NULL, 12345678901234.0);
	metrics_sample(&b, "c", NULL, 0.25);
	metrics_sample(&b, "d", NULL, NAN);
	metrics_sample(&b, "e", NULL, INFINITY);
	metrics_sample(&b, "f", NULL, -INFINITY);
	metrics_sample(&b, "g", NULL, -2);
	metrics_family(&b, "h", "gauge", NULL);
	assert_string_equal(text_of(&b), "a 0\nb 12345678901234\nc 0.25\nd NaN\ne +Inf\nf -Inf\n"
					 "g -2\n# TYPE h gauge\n");
	entry_json_buf_free(&b);
}

static void test_name_sanitize(void **state)
{
	char n[] = "1floe-x.y:z_ok9";

	metrics_name_sanitize(n);
	assert_string_equal(n, "_floe_x_y:z_ok9");
}

static void test_latency(void **state)
{
	struct metrics_latency l;
	struct entry_json_buf b = {0};
	json_t *j;

	memset(&l, 0, sizeof(l));
	metrics_latency_observe(&l, 500000);	    /* 0.5 ms: first bucket */
	metrics_latency_observe(&l, 1000000);	    /* exactly 1 ms: le="0.001" still */
	metrics_latency_observe(&l, 30000000);	    /* 30 ms */
	metrics_latency_observe(&l, 60000000000ll); /* a minute: +Inf only */
	assert_int_equal(metrics_latency_json(&l, &b), 0);
	j = json_loads(text_of(&b), 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 4);
	json_t *bk = json_object_get(j, "buckets");
	assert_int_equal(json_integer_value(json_object_get(bk, "0.001")), 2);
	assert_int_equal(json_integer_value(json_object_get(bk, "0.025")), 2);
	assert_int_equal(json_integer_value(json_object_get(bk, "0.05")), 3);
	assert_int_equal(json_integer_value(json_object_get(bk, "10")), 3);
	assert_int_equal(json_integer_value(json_object_get(bk, "+Inf")), 4);
	assert_true(fabs(json_real_value(json_object_get(j, "sum_s")) - 60.0315) < 1e-9);

	struct entry_json_buf o = {0};
	assert_int_equal(
	    metrics_histogram_json(&o, "h", (const char *const[]){"call", "q", NULL}, j), 0);
	char *t = text_of(&o);
	assert_non_null(strstr(t, "h_bucket{call=\"q\",le=\"0.001\"} 2\n"));
	assert_non_null(strstr(t, "h_bucket{call=\"q\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(t, "h_sum{call=\"q\"} 60.0315"));
	assert_non_null(strstr(t, "h_count{call=\"q\"} 4\n"));
	json_decref(j);
	entry_json_buf_free(&b);
	entry_json_buf_free(&o);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_agent_stats(void **state)
{
	const char *s0 = "{\"seen\":10,\"recorded\":7,\"ringbuf_full\":2,\"store_bytes\":4096,"
			 "\"entries_by_protocol\":{\"http\":5,\"redis\":3},"
			 "\"parse_errors_by_protocol\":{\"http1\":{\"malformed\":1,"
			 "\"buffer_overflow\":0}},"
			 "\"dissector_events\":{\"dns\":{\"truncated\":4}},"
			 "\"query_latency\":{\"get\":{\"buckets\":{\"0.001\":1,\"+Inf\":1},"
			 "\"count\":1,\"sum_s\":0.0005}},"
			 "\"triggers\":{\"triggers\":{\"t\\\"1\":{\"matched\":2,\"fired\":1,"
			 "\"actions\":{\"log\":{\"sent\":1}}}}},"
			 "\"tls_blind\":[\"x\"],\"nested\":{\"a-b\":1}}";
	json_t *st[3] = {json_loads(s0, 0, NULL), NULL, json_loads("{\"seen\":1}", 0, NULL)};
	const char *names[3] = {"n\"0", "down", "n2"};
	struct entry_json_buf b = {0};

	assert_non_null(st[0]);
	assert_int_equal(metrics_agent_stats(&b, 3, names, st), 0);
	char *t = text_of(&b);

	assert_non_null(
	    strstr(t, "floe_agent_packets_total{agent=\"n\\\"0\",stage=\"seen\"} 10\n"));
	assert_non_null(strstr(t, "floe_agent_packets_total{agent=\"n2\",stage=\"seen\"} 1\n"));
	assert_non_null(strstr(
	    t, "floe_agent_packets_dropped_total{agent=\"n\\\"0\",cause=\"ringbuf_full\"} 2\n"));
	assert_non_null(strstr(
	    t, "floe_agent_entries_by_protocol_total{agent=\"n\\\"0\",protocol=\"http\"} 5\n"));
	assert_non_null(strstr(
	    t, "floe_agent_entries_by_protocol_total{agent=\"n\\\"0\",protocol=\"redis\"} 3\n"));
	assert_non_null(strstr(t,
			       "floe_agent_parse_errors_total{agent=\"n\\\"0\",protocol=\"http1\","
			       "cause=\"malformed\"} 1\n"));
	assert_non_null(strstr(t, "floe_agent_dissector_events_total{agent=\"n\\\"0\",protocol="
				  "\"dns\",event=\"truncated\"} 4\n"));
	assert_non_null(
	    strstr(t, "floe_agent_query_seconds_count{agent=\"n\\\"0\",call=\"get\"} 1\n"));
	assert_non_null(
	    strstr(t, "floe_trigger_matched_total{agent=\"n\\\"0\",trigger=\"t\\\"1\"} 2\n"));
	assert_non_null(strstr(t, "floe_trigger_actions_total{agent=\"n\\\"0\",trigger=\"t\\\"1\","
				  "action=\"log\",outcome=\"sent\"} 1\n"));
	/* the rest as gauges; the structured objects and non-numbers are not flattened */
	assert_non_null(strstr(t, "# HELP floe_agent_store_bytes "));
	assert_non_null(strstr(t, "floe_agent_store_bytes{agent=\"n\\\"0\"} 4096\n"));
	assert_non_null(strstr(t, "floe_agent_nested_a_b{agent=\"n\\\"0\"} 1\n"));
	assert_null(strstr(t, "floe_agent_entries_by_protocol_http"));
	assert_null(strstr(t, "floe_agent_query_latency"));
	assert_null(strstr(t, "floe_agent_triggers_triggers"));
	assert_null(strstr(t, "tls_blind"));
	assert_null(strstr(t, "down"));
	/* one TYPE line per family, each before its samples */
	assert_int_equal(count(t, "# TYPE floe_agent_packets_total "), 1);
	assert_int_equal(count(t, "# TYPE floe_agent_seen "), 1);
	assert_true(strstr(t, "# TYPE floe_agent_seen ") < strstr(t, "floe_agent_seen{"));
	json_decref(st[0]);
	json_decref(st[2]);
	entry_json_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping),	  cmocka_unit_test(test_values),
	    cmocka_unit_test(test_name_sanitize), cmocka_unit_test(test_latency),
	    cmocka_unit_test(test_agent_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
