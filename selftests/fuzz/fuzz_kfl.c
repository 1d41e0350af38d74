// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for KFL (lib/core/kfl): the parser, the schema check, the evaluator and
 * what a query implies (time bounds, capture scope). The first byte picks a sample entry and
 * whether fields are checked against the schema; the rest is the query. Besides memory
 * safety it checks properties every query must have:
 *   - an error says "column N: " with N within the text (plus one, for its end);
 *   - not (Q) matches exactly when Q does not; (Q) and (Q), (Q) or (Q) exactly when Q does;
 *   - an entry that matches lies within the query's time bounds, and its ports within the
 *     port terms of its capture scope, and some clause of its kernel pushdown (kfl_pushdown:
 *     an over-approximation) holds for the entry's endpoints.
 */
#include <stdint.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfl/kfl.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static const char *const samples[] = {
	"{\"id\":\"7-2\",\"protocol\":\"http\",\"version\":\"1.1\","
	"\"request_time\":\"2026-12-06T10:00:00.250000000Z\","
	"\"response_time\":\"2026-12-06T10:00:00.500500000Z\",\"elapsed_ms\":250.5,"
	"\"src\":{\"ip\":\"10.0.0.1\",\"port\":40000,\"pod\":\"client-7f9\",\"namespace\":\"shop\"},"
	"\"dst\":{\"ip\":\"fd00::2\",\"port\":8080,\"pod\":\"api\",\"namespace\":\"shop\"},"
	"\"request_size\":120,\"response_size\":1500000,"
	"\"request\":{\"method\":\"POST\",\"path\":\"/api/v1/items\",\"url\":\"/api/v1/items?x=1\","
	"\"headers\":{\"content-type\":\"application/json\",\"x-empty\":\"\"}},"
	"\"response\":{\"status\":503,\"headers\":{\"Set-Cookie\":\"a=b\"},"
	"\"body\":{\"truncated\":false,\"size\":0,\"text\":\"{}\"}},\"pushed\":false}",
	"{\"id\":\"1-1\",\"protocol\":\"dns\",\"version\":\"\",\"transport\":\"udp\","
	"\"response_time\":\"2026-12-06T09:00:00Z\",\"missing\":\"request\","
	"\"src\":{\"ip\":\"10.0.0.53\",\"port\":53},\"dst\":{\"ip\":\"10.0.0.2\",\"port\":5353},"
	"\"response\":{\"rcode\":\"NXDOMAIN\",\"rcode_value\":3,\"questions\":[{\"name\":"
	"\"a.example\",\"type\":\"A\"},{\"name\":\"b.example\",\"type\":\"AAAA\"}],"
	"\"answers\":[]}}",
	"{\"id\":\"3-9\",\"protocol\":\"kafka\",\"version\":\"7\",\"flow_id\":3,"
	"\"request_time\":\"2026-12-06T10:30:00.000000001Z\",\"elapsed_ms\":0.5,"
	"\"src\":{\"ip\":\"10.1.0.1\",\"port\":39000,\"pod\":\"producer\",\"namespace\":\"kafka\"},"
	"\"dst\":{\"ip\":\"10.1.0.2\",\"port\":9092,\"pod\":\"broker-0\",\"namespace\":\"kafka\"},"
	"\"request\":{\"api_name\":\"Produce\",\"topics\":[\"orders\",\"payments\"],"
	"\"body\":{\"acks\":-1,\"x\":[1,2.5,null,true,\"s\"]}},\"response\":{\"error_code\":0}}",
};

/* Compile text (NULL: it did not compile; the error is checked). */
static struct kfl *compile(const char *text, unsigned flags)
{
	struct kfl_options o = { .flags = flags, .now_ns = 1796551200LL * 1000000000 };
	struct kfl *q = NULL;
	char err[256];
	size_t chars = 0;
	long col;

	if (kfl_compile(text, &o, &q, err, sizeof(err)) == 0)
		return q;
	CHECK(!strncmp(err, "column ", 7));
	col = strtol(err + 7, NULL, 10);
	for (const char *p = text; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	CHECK(col >= 1 && (size_t)col <= chars + 1);
	return NULL;
}

/* The same entry through a wrapped query: what it must give when it compiles. */
static void check_wrapped(const char *fmt, const char *text, unsigned flags, const json_t *e,
			  bool want)
{
	size_t n = 2 * strlen(text) + 32;
	char *w = malloc(n);
	struct kfl *q;

	if (!w)
		return;
	snprintf(w, n, fmt, text, text);
	q = compile(w, flags);
	if (q) {
		CHECK(kfl_match_json(q, e) == want);
		kfl_free(q);
	}
	free(w);
}

struct scope_check {
	const json_t *entry;
};

static int port_in_scope(const struct kfl_scope_term *t, void *arg)
{
	const struct scope_check *sc = arg;
	json_t *port;
	bool in = false;

	if (t->attr != KFL_PORT || !t->ints)
		return 0;
	port = json_object_get(json_object_get(sc->entry, t->side == KFL_SRC ? "src" : "dst"),
			       "port");
	for (size_t i = 0; i < t->count; i++)
		in |= json_integer_value(port) == t->ints[i];
	CHECK(in);
	return 0;
}

/* Does either endpoint of e have one of t's values, as the kernel compares them? */
static bool term_holds(const struct kfl_scope_term *t, const json_t *e)
{
	static const char *const attrs[] = {
	    [KFL_POD] = "pod", [KFL_NAMESPACE] = "namespace", [KFL_IP] = "ip", [KFL_PORT] = "port"};

	for (int side = 0; side < 2; side++) {
		json_t *v = json_object_get(json_object_get(e, side ? "dst" : "src"), attrs[t->attr]);
		uint8_t a[16], b[16];

		for (size_t i = 0; v && i < t->count; i++) {
			if (t->attr == KFL_PORT && json_is_integer(v) &&
			    json_integer_value(v) == t->ints[i])
				return true;
			if (t->attr == KFL_IP && json_is_string(v)) {
				int fa = strchr(json_string_value(v), ':') ? AF_INET6 : AF_INET;
				int fb = strchr(t->values[i], ':') ? AF_INET6 : AF_INET;

				if (fa == fb && inet_pton(fa, json_string_value(v), a) == 1 &&
				    inet_pton(fb, t->values[i], b) == 1 &&
				    !memcmp(a, b, fa == AF_INET ? 4 : 16))
					return true;
			}
			if ((t->attr == KFL_POD || t->attr == KFL_NAMESPACE) && json_is_string(v) &&
			    !strcmp(json_string_value(v), t->values[i]))
				return true;
		}
	}
	return false;
}

/* The pushdown is an over-approximation: an entry the query matches satisfies some clause. */
static void check_pushdown(const struct kfl *q, const json_t *e)
{
	struct kfl_pushdown p;
	bool some = false;

	kfl_pushdown(q, &p);
	if (p.all)
		return;
	CHECK(p.nclauses >= 1 && p.nclauses <= KFL_PUSHDOWN_CLAUSES_MAX);
	for (size_t c = 0; c < p.nclauses && !some; c++) {
		bool all = true;

		for (size_t i = 0; i < p.nterms && all; i++)
			if (p.clauses[c] & (1u << i))
				all = term_holds(&p.terms[i], e);
		some = all;
	}
	CHECK(some);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;
	json_t *e;
	char *text;
	struct kfl *q;

	if (size < 1)
		return 0;
	flags = data[0] & 1 ? KFL_CHECK_SCHEMA : 0;
	e = json_loads(samples[(data[0] >> 1) % 3], 0, NULL);
	text = malloc(size);
	if (!e || !text) {
		json_decref(e);
		free(text);
		return 0;
	}
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	q = compile(text, flags);
	if (q) {
		bool m = kfl_match_json(q, e);
		struct scope_check sc = { e };
		int64_t since, until, ts;
		json_t *t;

		check_wrapped("not (%s)%.0s", text, flags, e, !m);
		check_wrapped("(%s) and (%s)", text, flags, e, m);
		check_wrapped("(%s) or (%s)", text, flags, e, m);
		kfl_time_bounds(q, &since, &until);
		t = json_object_get(e, "request_time");
		if (!t)
			t = json_object_get(e, "response_time");
		if (m && kfl_parse_time(json_string_value(t), &ts) == 0) {
			CHECK(ts >= since);
			CHECK(!until || ts < until);
		}
		if (m) {
			kfl_capture_scope(q, port_in_scope, &sc);
			check_pushdown(q, e);
		}
		kfl_free(q);
	}
	free(text);
	json_decref(e);
	return 0;
}
