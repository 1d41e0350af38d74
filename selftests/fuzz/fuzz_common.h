/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every fuzz target checks of an entry made by a dissector other than the one it aims
 * at: each target runs the whole engine, so a fuzzed input may well be recognised as another
 * protocol (an input without the HTTP/2 preface can look like Kafka). Such an entry must
 * still be well-formed; the target's own checks are for its protocol's entries.
 */
#ifndef FLOE_FUZZ_COMMON_H
#define FLOE_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdlib.h>

#include <jansson.h>

#include "dissect/engine.h"
#include "entry/entry.h"

/*
 * A connection 10.0.0.1:40000 -> :server_port (IPv4, stream id, role as the reassembler would
 * decide) whose first n bytes, first, go in direction dir: what makes detection pick the
 * target's dissector before the fuzzed bytes come. NULL on ENOMEM.
 */
static inline struct conn *fuzz_open_conn(struct dissect_engine *eng, enum tcp_role role,
					  uint64_t id, uint16_t server_port, enum tcp_dir dir,
					  const void *first, size_t n)
{
	struct tcp_flow_info info = {.id = id, .family = AF_INET, .role = role};
	struct conn *c;

	info.client.port = 40000;
	info.server.port = server_port;
	c = dissect_stream_open(eng, &info);
	if (c)
		dissect_stream_data(eng, c, dir, first, n, 1);
	return c;
}

/*
 * The memory budget's accounting (dissector.h, mem()): while connections are open, what is
 * charged stays plausible (a dissector's incremental count that went below zero shows as a
 * huge charge); once all are closed, every byte charged was credited back.
 */
static inline void fuzz_check_memory(struct dissect_engine *eng, bool all_closed)
{
	struct dissect_stats st;

	dissect_engine_get_stats(eng, &st);
	if (st.mem_bytes > (1ull << 36) || (all_closed && st.mem_bytes != 0))
		abort();
}

/* Checks o (entry_to_json(e)) and releases it. */
static inline void fuzz_check_any_entry(const struct entry *e, json_t *o)
{
	char line[1024], *s;

	if (!json_is_integer(json_object_get(o, "request_size")) ||
	    !json_is_integer(json_object_get(o, "response_size")) ||
	    entry_format_line(e, line, sizeof(line)) <= 0 || !e->protocol[0])
		__builtin_trap();
	s = json_dumps(o, JSON_COMPACT);
	if (!s)
		__builtin_trap();
	free(s);
	json_decref(o);
}

#endif /* FLOE_FUZZ_COMMON_H */
