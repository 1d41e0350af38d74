/* SPDX-License-Identifier: Apache-2.0 */
/* The hub's merges and parameters (hub/hub_query.c, hub/hub_pcap.c) without the server. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/agent_api_mem.h"
#include "hub_pcap.h"
#include "hub_query.h"
#include "api/agent_api_redact.h"
#include "hub_triggers.h"
#include "api/snapshot_name.h"

static void test_parse_time(void **state)
{
	int64_t t;
	char err[200];
	assert_int_equal(hub_parse_time("1700000000123456789", &t, err, sizeof(err)), 0);
	assert_true(t == 1700000000123456789LL);
	assert_int_equal(hub_parse_time("1970-01-01T00:00:01Z", &t, err, sizeof(err)), 0);
	assert_true(t == 1000000000LL);
	assert_int_equal(hub_parse_time("2023-11-14T22:13:20.5Z", &t, err, sizeof(err)), 0);
	assert_true(t == 1700000000500000000LL);
	/* The same instant with an offset, and nanoseconds past the ninth digit dropped. */
	assert_int_equal(
	    hub_parse_time("2023-11-14T23:13:20.5000000009+01:00", &t, err, sizeof(err)), 0);
	assert_true(t == 1700000000500000000LL);
	assert_int_equal(hub_parse_time("2023-11-14t21:13:20-01:00", &t, err, sizeof(err)), 0);
	assert_true(t == 1700000000000000000LL);
	static const char *const bad[] = {"",
					  "yesterday",
					  "2023-11-14",
					  "2023-11-14T22:13:20",
					  "2023-13-14T22:13:20Z",
					  "2023-11-14T22:13:20.Z",
					  "2023-11-14T22:13:20+1:00",
					  "2023-11-14T22:13:20Zjunk",
					  "99999999999999999999",
					  "-5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hub_parse_time(bad[i], &t, err, sizeof(err)), -EINVAL);
}

static void test_cursor(void **state)
{
	char c[128], *id;
	int64_t ts;
	assert_true(hub_cursor_encode(42, "node1-7-3", c, sizeof(c)) > 0);
	assert_int_equal(hub_cursor_decode(c, &ts, &id), 0);
	assert_true(ts == 42);
	assert_string_equal(id, "node1-7-3");
	free(id);
	assert_int_equal(hub_cursor_encode(42, "x", c, 4), -ENOSPC);
	static const char *const bad[] = {"",	     "42",	".6162",
					  "42.",     "42.616",	"42.zz",
					  "4a.6162", "42.0061", "99999999999999999999.61"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hub_cursor_decode(bad[i], &ts, &id), -EINVAL);
	assert_int_equal(hub_error_column("column 12: unknown field"), 12);
	assert_int_equal(hub_error_column("position 3: expected a value"), 3);
	assert_int_equal(hub_error_column("no column here"), 0);
}

/* Three in-memory agents; entry k on agent k % 3 at ts 1000 * (k / 2): pairs tie. */
static void make_agents(struct agent_api *a, size_t n, size_t entries)
{
	for (size_t i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%zu", i);
		struct agent_api_mem_opts o = {.name = name, .unchecked_filters = true};
		assert_int_equal(agent_api_mem_new(&o, &a[i]), 0);
	}
	for (size_t k = 0; k < entries; k++) {
		char id[32], json[96];
		snprintf(id, sizeof(id), "n%zu-%03zu", k % n, k);
		snprintf(json, sizeof(json), "{\"protocol\":\"http\",\"k\":%zu}", k);
		assert_int_equal(agent_api_mem_add(&a[k % n], id, (int64_t)(k / 2) * 1000, json),
				 0);
	}
}

static void test_query_merge(void **state)
{
	struct agent_api a[3];
	make_agents(a, 3, 60);
	struct agent_query q = {.limit = 25};
	struct hub_entries e;
	struct hub_errors errs;
	/* Pages of 25 through the cursor: every entry once, in (ts, id) order. */
	int seen[60] = {0};
	int64_t last_ts = -1;
	char last_id[64] = "";
	size_t total = 0;
	for (int page = 0; page < 4; page++) {
		assert_int_equal(hub_query_entries(a, 3, &q, &e, &errs), 0);
		assert_int_equal(errs.n, 0);
		for (size_t i = 0; i < e.n; i++) {
			assert_true(hub_order_cmp(last_ts, last_id, e.v[i].ts_ns, e.v[i].id) < 0);
			last_ts = e.v[i].ts_ns;
			snprintf(last_id, sizeof(last_id), "%s", e.v[i].id);
			seen[atoi(strchr(e.v[i].id, '-') + 1)]++;
			total++;
		}
		q.after_ts_ns = last_ts;
		q.after_id = last_id;
		hub_entries_free(&e);
	}
	assert_int_equal(total, 60);
	for (int k = 0; k < 60; k++)
		assert_int_equal(seen[k], 1);

	/* An agent down: its part is missing, and said so. */
	agent_api_mem_set_down(&a[1], true);
	struct agent_query all = {0};
	assert_int_equal(hub_query_entries(a, 3, &all, &e, &errs), 0);
	assert_int_equal(e.n, 40);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].agent, 1);
	assert_int_equal(errs.v[0].code, -ECONNREFUSED);
	hub_entries_free(&e);
	hub_errors_free(&errs);
	for (int i = 0; i < 3; i++)
		a[i].ops->destroy(a[i].self);
}

static int count_named(const struct agent_entry *e, void *arg)
{
	int *n = arg;
	char want[64];

	snprintf(want, sizeof(want), ",\"agent\":\"n1\"}");
	assert_true(e->json_len > strlen(want));
	assert_memory_equal(e->json + e->json_len - strlen(want), want, strlen(want));
	assert_int_equal(e->json[0], '{');
	(*n)++;
	return 0;
}

/* The hub names each entry's agent (docs/entries.md, `agent`). */
static void test_name(void **state)
{
	struct entry_json_buf b = {0};
	struct agent_api a[2], named;
	struct agent_query q = {0};
	char err[256];
	int n = 0;

	(void)state;
	assert_int_equal(agent_api_name_entry("{\"a\":1}\n", 8, "node-a", &b), 0);
	assert_int_equal(b.len, strlen("{\"a\":1,\"agent\":\"node-a\"}"));
	assert_memory_equal(b.p, "{\"a\":1,\"agent\":\"node-a\"}", b.len);
	assert_int_equal(agent_api_name_entry("{}", 2, "x\"y", &b), 0);
	assert_memory_equal(b.p, "{\"agent\":\"x\\\"y\"}", b.len);
	assert_int_equal(agent_api_name_entry("[1]", 3, "x", &b), -EINVAL);
	assert_int_equal(agent_api_name_entry("{", 1, "x", &b), -EINVAL);
	entry_json_buf_free(&b);

	/* Through the wrapper: every entry of agent n1 named n1, the agent's own name. */
	make_agents(a, 2, 10);
	assert_int_equal(agent_api_name_wrap(a[1], 1, &named), 0);
	assert_int_equal(named.ops->query(named.self, &q, count_named, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 5);
	n = 0;
	assert_int_equal(named.ops->get(named.self, "n1-003", count_named, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	named.ops->destroy(named.self); /* not a[1]: the wrapper does not own it */
	for (int i = 0; i < 2; i++)
		a[i].ops->destroy(a[i].self);
}

/* A PCAP file in memory: us or ns timestamps, either byte order, one 1-byte packet per ts. */
static size_t make_pcap(uint8_t *buf, int nsec, int big, uint32_t link, const int64_t *ts, size_t n)
{
	size_t o = 0;
	uint32_t words[6] = {nsec ? 0xa1b23c4d : 0xa1b2c3d4, 0x00040002, 0, 0, 65535, link};
	if (big) /* the version's halves are 16-bit fields each */
		words[1] = 0x00020004;
	for (int i = 0; i < 6; i++)
		for (int b = 0; b < 4; b++)
			buf[o++] = (uint8_t)(words[i] >> (big ? 24 - 8 * b : 8 * b));
	for (size_t k = 0; k < n; k++) {
		uint32_t r[4] = {(uint32_t)(ts[k] / 1000000000),
				 (uint32_t)(ts[k] % 1000000000 / (nsec ? 1 : 1000)), 1, 1};
		for (int i = 0; i < 4; i++)
			for (int b = 0; b < 4; b++)
				buf[o++] = (uint8_t)(r[i] >> (big ? 24 - 8 * b : 8 * b));
		buf[o++] = (uint8_t)k;
	}
	return o;
}

static void test_pcap_merge(void **state)
{
	uint8_t a[512], b[512];
	const int64_t ta[] = {1000000000, 3000000000, 5000001000};
	const int64_t tb[] = {2000000000, 3000000000, 4000000000, 6000000000};
	size_t la = make_pcap(a, 0, 0, 1, ta, 3), lb = make_pcap(b, 1, 1, 1, tb, 4);
	FILE *in[3] = {fmemopen(a, la, "r"), fmemopen(b, lb, "r"), fmemopen(a, 0, "r")};
	char *out = NULL, err[200];
	size_t outlen = 0;
	FILE *o = open_memstream(&out, &outlen);
	uint64_t packets;
	assert_int_equal(hub_pcap_merge(in, NULL, 3, o, &packets, err, sizeof(err)), 0);
	fclose(o);
	assert_int_equal(packets, 7);
	assert_int_equal(outlen, 24 + 7 * 17);
	struct hub_pcap_fmt f;
	assert_int_equal(hub_pcap_parse_header((uint8_t *)out, &f, err, sizeof(err)), 0);
	assert_true(f.nsec && !f.swapped && f.linktype == 1);
	/* Time order; the tie at 3 s goes to the lower agent first. */
	const int64_t want[] = {1000000000, 2000000000, 3000000000, 3000000000,
				4000000000, 5000001000, 6000000000};
	const uint8_t first_byte[] = {0, 0, 1, 1, 2, 2, 3};
	for (int k = 0; k < 7; k++) {
		struct hub_pcap_rec r;
		const uint8_t *p = (uint8_t *)out + 24 + k * 17;
		assert_int_equal(hub_pcap_parse_record(&f, p, &r, err, sizeof(err)), 0);
		assert_true(r.ts_ns == want[k]);
		assert_int_equal(p[16], first_byte[k]);
	}
	free(out);
	for (int i = 0; i < 3; i++)
		fclose(in[i]);

	/* Different link types cannot share one file; a cut record is an error, not a quiet end. */
	lb = make_pcap(b, 1, 0, 113, tb, 1);
	in[0] = fmemopen(a, la, "r");
	in[1] = fmemopen(b, lb, "r");
	o = open_memstream(&out, &outlen);
	assert_int_equal(hub_pcap_merge(in, NULL, 2, o, &packets, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "link type"));
	fclose(o);
	free(out);
	fclose(in[0]);
	fclose(in[1]);
	in[0] = fmemopen(a, la - 1, "r");
	o = open_memstream(&out, &outlen);
	assert_int_equal(hub_pcap_merge(in, NULL, 1, o, &packets, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "cut"));
	fclose(o);
	free(out);
	fclose(in[0]);
	memcpy(b, "\x0a\x0d\x0d\x0a", 4);
	in[0] = fmemopen(b, 24, "r");
	o = open_memstream(&out, &outlen);
	assert_int_equal(hub_pcap_merge(in, NULL, 1, o, &packets, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "pcapng"));
	fclose(o);
	free(out);
	fclose(in[0]);
}

/* Redaction: only the sensitive headers' values, any case, lists too; the rest byte for byte
 * as floe prints it; nothing to mask: 0 (the text is used as it is); not an object: -EINVAL. */
/* The snapshot name check (api/snapshot_name.c): the hub and the agent both apply it before
 * a name comes near a file. */
static void test_snapshot_name(void **state)
{
	char t[80], id[128];

	(void)state;
	assert_true(snapshot_name_parse("nf.7acc9388f748a365-12-3.pcap", t, sizeof(t), id,
					sizeof(id)));
	assert_string_equal(t, "nf");
	assert_string_equal(id, "7acc9388f748a365-12-3");
	assert_true(snapshot_name_parse("a.b.c.x-1.pcap", t, sizeof(t), id, sizeof(id)));
	assert_string_equal(t, "a.b.c");
	assert_string_equal(id, "x-1");
	static const char *const bad[] = {
	    "", ".pcap", "nf.pcap", "..pcap", "...pcap", "nf..x.pcap", "nf.x..pcap", "../x.y.pcap", "nf/../x.y.pcap",
	    "nf.x/y.pcap", ".nf.x.pcap", "a..b.x.pcap", "nf..pcap", "nf.x.pcap.part",
	    "nf.x.PCAP", "nf.x y.pcap", "nf.x\\y.pcap", "nf.x\ny.pcap", "/etc/passwd",
	    "nf.x%2F..pcap", "nf.x.pcap/", "nf x.y.pcap",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (snapshot_name_parse(bad[i], NULL, 0, NULL, 0))
			fail_msg("'%s' passed the check", bad[i]);
	/* the longest trigger name and entry id, and one byte more */
	char name[256];
	snprintf(name, sizeof(name), "%064d.%0100d.pcap", 0, 0);
	assert_true(snapshot_name_parse(name, NULL, 0, NULL, 0));
	snprintf(name, sizeof(name), "%065d.%0100d.pcap", 0, 0);
	assert_false(snapshot_name_parse(name, NULL, 0, NULL, 0));
	snprintf(name, sizeof(name), "%064d.%0101d.pcap", 0, 0);
	assert_false(snapshot_name_parse(name, NULL, 0, NULL, 0));
	assert_true(trigger_name_ok("not-found_2.v1"));
	assert_false(trigger_name_ok(".x"));
	assert_false(trigger_name_ok("a..b"));
	assert_false(trigger_name_ok("a."));
	assert_false(trigger_name_ok("a/b"));
}

/* What the hub checks of a POSTed trigger before any agent sees it. */
static void test_trigger_check(void **state)
{
	static const struct {
		const char *json, *want; /* want: NULL = accepted, else a part of the message */
		int column;
	} cases[] = {
	    {"{\"name\":\"nf\",\"query\":\"http and response.status == 404\","
	     "\"actions\":[{\"webhook\":\"http://127.0.0.1:9/x\"},{\"snapshot\":true},"
	     "{\"counter\":true},{\"log\":true}],\"rate_limit\":{\"max\":5}}",
	     NULL, 0},
	    {"[]", "expected a trigger", 0},
	    {"{\"name\":\"a b\",\"query\":\"http\",\"actions\":[{\"counter\":true}]}",
	     "name:", 0},
	    {"{\"name\":\"a\",\"query\":\"http and response.statu == 1\","
	     "\"actions\":[{\"counter\":true}]}",
	     "query: column 10: unknown field 'response.statu'", 10},
	    {"{\"name\":\"a\",\"query\":\"http\",\"actions\":[]}", "actions:", 0},
	    {"{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"page\":1}]}",
	     "unknown action 'page'", 0},
	    {"{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"exec\":\"id\"}]}",
	     "exec is for the configuration file only", 0},
	    {"{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"log\":\"/etc/x\"}]}",
	     "log to a file is for the configuration file", 0},
	    {"{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"counter\":true,\"log\":true}]}",
	     "an action is one key", 0},
	    {"{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"counter\":true}],\"x\":1}",
	     "unknown key 'x'", 0},
	};
	char err[600];
	int column;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		int rc;

		assert_non_null(j);
		err[0] = '\0';
		rc = hub_trigger_check(j, err, sizeof(err), &column);
		json_decref(j);
		if (!cases[i].want) {
			if (rc)
				fail_msg("%s: refused: %s", cases[i].json, err);
			continue;
		}
		if (rc != -EINVAL || !strstr(err, cases[i].want))
			fail_msg("%s: got %d '%s', want '%s'", cases[i].json, rc, err,
				 cases[i].want);
		assert_int_equal(column, cases[i].column);
	}
}

static void test_redact(void **state)
{
	struct entry_json_buf b = {0};
	const char *e = "{\"id\":\"x\",\"elapsed_ms\":0.523512,\"request\":{\"headers\":{"
			"\"Authorization\":\"Bearer t\",\"accept\":\"*/*\",\"cookie\":[\"a=1\","
			"\"b=2\"]},\"cookies\":{\"a\":\"1\"}},\"response\":{\"headers\":{\"set-cookie\":\"s=1\"},"
			"\"body\":{\"text\":\"authorization: kept\"}}}";
	const char *want = "{\"id\":\"x\",\"elapsed_ms\":0.523512,\"request\":{\"headers\":{"
			   "\"Authorization\":\"[REDACTED]\",\"accept\":\"*/*\",\"cookie\":"
			   "[\"[REDACTED]\",\"[REDACTED]\"]},\"cookies\":{\"a\":\"[REDACTED]\"}},"
			   "\"response\":{\"headers\":{"
			   "\"set-cookie\":\"[REDACTED]\"},\"body\":{\"text\":\"authorization: "
			   "kept\"}}}";
	const char *plain = "{\"id\":\"y\",\"request\":{\"headers\":{\"accept\":\"*/*\"}}}";
	const char *body_only = "{\"id\":\"z\",\"request\":{\"body\":{\"text\":\"Cookie\"}}}";

	(void)state;
	assert_int_equal(agent_api_redact_entry(e, strlen(e), &b), 1);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	assert_int_equal(agent_api_redact_entry(plain, strlen(plain), &b), 0);
	assert_int_equal(agent_api_redact_entry(body_only, strlen(body_only), &b), 0);
	assert_int_equal(agent_api_redact_entry("[\"cookie\"]", 10, &b), -EINVAL);
	assert_int_equal(agent_api_redact_entry("{\"cookie\":", 10, &b), -EINVAL);
	entry_json_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_time),
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test(test_snapshot_name),
	    cmocka_unit_test(test_trigger_check),
	    cmocka_unit_test(test_name),
	    cmocka_unit_test(test_cursor),
	    cmocka_unit_test(test_query_merge),
	    cmocka_unit_test(test_pcap_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
