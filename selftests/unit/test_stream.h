/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture of unit tests that feed a dissector through the engine's byte-stream interface
 * (dissect_stream_*): one connection 10.0.0.1:40000 -> 10.0.0.2:<port>, its entries collected
 * as JSON in emission order (each one checked against the schema on the way), and lookups by
 * dotted path. Included by test_tunnel.c; the older dissector tests carry copies of it.
 */
#ifndef FLOE_TEST_STREAM_H
#define FLOE_TEST_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "protocols/schema.h"
#include "test_json_path.h"

struct fx {
	struct dissect_engine *eng;
	struct conn *c;
	json_t *out;   /* entries as JSON, in emission order */
	json_t *lines; /* and as text lines (entry_format_line) */
	uint64_t ts;
	unsigned with_tree; /* entries that came with a fields tree (e->fields) */
};

static void fx_schema_problem(const char *path, const char *problem, void *ctx)
{
	print_error("schema: %s: %s (%s)\n", path, problem, (const char *)ctx);
}

/* TEST_VERBOSE=1 prints every entry. */
static void fx_collect(void *ctx, const struct entry *e)
{
	struct fx *f = ctx;
	json_t *o;
	char *s;
	char line[1024];

	if (e->fields) /* before entry_to_json(), which makes it */
		f->with_tree++;
	o = entry_to_json(e);
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	assert_true(entry_format_line(e, line, sizeof(line)) > 0);
	json_array_append_new(f->lines, json_string(line));
	assert_int_equal(schema_check_entry(o, fx_schema_problem, s), 0);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "entry: %s\n", s);
	free(s);
	json_array_append_new(f->out, o);
}

/* A connection of flow id `id` to port server_port, its role as the reassembler would say. */
static void __attribute__((unused))
fx_open_flow(struct fx *f, uint64_t id, uint16_t server_port, enum tcp_role role,
	     const struct dissect_config *cfg)
{
	struct tcp_flow_info info = { .id = id, .family = AF_INET, .role = role };

	memset(f, 0, sizeof(*f));
	info.client.port = 40000;
	info.server.port = server_port;
	info.client.addr[10] = info.client.addr[11] = 0xff;
	info.client.addr[12] = 10;
	info.client.addr[15] = 1;
	info.server.addr[10] = info.server.addr[11] = 0xff;
	info.server.addr[12] = 10;
	info.server.addr[15] = 2;
	f->out = json_array();
	f->lines = json_array();
	f->ts = 1000;
	assert_int_equal(dissect_engine_create(cfg, fx_collect, f, &f->eng), 0);
	f->c = dissect_stream_open(f->eng, &info);
	assert_non_null(f->c);
}

/* n bytes of dir; every call is a packet 1 µs after the previous. */
static void fx_send(struct fx *f, enum tcp_dir dir, const void *p, size_t n)
{
	dissect_stream_data(f->eng, f->c, dir, p, n, f->ts);
	f->ts += 1000;
}

static void __attribute__((unused)) c2s(struct fx *f, const char *s)
{
	fx_send(f, TCP_DIR_C2S, s, strlen(s));
}

static void __attribute__((unused)) s2c(struct fx *f, const char *s)
{
	fx_send(f, TCP_DIR_S2C, s, strlen(s));
}

static void __attribute__((unused)) fx_gap(struct fx *f, enum tcp_dir dir, uint64_t n)
{
	dissect_stream_gap(f->eng, f->c, dir, n, f->ts);
	f->ts += 1000;
}

static void fx_close(struct fx *f, enum tcp_close_reason why)
{
	if (f->c)
		dissect_stream_close(f->eng, f->c, why, f->ts);
	f->c = NULL;
}

static struct dissect_stats __attribute__((unused)) fx_stats(struct fx *f)
{
	struct dissect_stats st;

	dissect_engine_get_stats(f->eng, &st);
	return st;
}

/* The value of a dissector's event counter (dissector.h, counters). */
static uint64_t __attribute__((unused))
fx_counter(struct fx *f, const char *dissector, const char *name)
{
	struct dissect_stats st = fx_stats(f);
	unsigned p, i;
	const char *pn, *cn;

	for (p = 0; (pn = dissect_protocol_name(p)); p++) {
		if (strcmp(pn, dissector))
			continue;
		for (i = 0; (cn = dissect_counter_name(p, i)); i++)
			if (!strcmp(cn, name))
				return st.counters[p][i];
	}
	fail_msg("no counter %s.%s", dissector, name);
	return 0;
}

static void __attribute__((unused)) fx_free(struct fx *f)
{
	fx_close(f, TCP_CLOSE_FIN);
	dissect_engine_destroy(f->eng);
	json_decref(f->out);
	json_decref(f->lines);
}

static size_t __attribute__((unused)) n_entries(struct fx *f)
{
	return json_array_size(f->out);
}

/* The text line of entry i. */
static __attribute__((unused)) const char *line_of(struct fx *f, size_t i)
{
	return json_string_value(json_array_get(f->lines, i));
}

static const char *sget(struct fx *f, size_t i, const char *path)
{
	return json_string_value(jget(json_array_get(f->out, i), path));
}

static long long __attribute__((unused)) iget(struct fx *f, size_t i, const char *path)
{
	json_t *v = jget(json_array_get(f->out, i), path);

	if (!json_is_integer(v))
		fail_msg("entry %zu: %s is not an integer", i, path);
	return json_integer_value(v);
}

static bool __attribute__((unused)) has(struct fx *f, size_t i, const char *path)
{
	return jget(json_array_get(f->out, i), path) != NULL;
}

#define assert_str(f, i, path, want)                                                       \
	do {                                                                               \
		const char *got_ = sget(f, i, path);                                       \
		if (!got_ || strcmp(got_, want))                                           \
			fail_msg("entry %zu: %s is \"%s\", want \"%s\"", (size_t)(i), path, \
				 got_ ? got_ : "(none)", want);                            \
	} while (0)

#endif /* FLOE_TEST_STREAM_H */
