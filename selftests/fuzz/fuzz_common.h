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

/*
 * A stream script, the fuzzed input of the stream targets: data[0] is the target's own option
 * byte; then, repeatedly, an op byte h and a length byte n: h bit 0 the direction (server to
 * client when set), bits 1-2 the operation: 3 a gap of n * 7 + (h >> 3) bytes, 2 close (RST when
 * n is odd, else FIN) and open the next connection, else n bytes of data from the input (fewer at
 * its end). A target opens its connections with open(id) (what makes detection pick its
 * dissector) and may put bytes of its own before each data op (before_data, with h and the
 * data's length). After the script, the last
 * connection is closed the way data's last byte says, and the memory accounting is checked
 * while open and once everything is closed.
 */
struct fuzz_stream_ops {
	struct conn *(*open)(struct dissect_engine *eng, uint64_t id, void *arg);
	void (*before_data)(struct dissect_engine *eng, struct conn *c, enum tcp_dir dir, uint8_t h,
			    size_t len, uint64_t ts, void *arg);
	void *arg;
};

static inline void fuzz_play_stream(struct dissect_engine *eng, const uint8_t *data, size_t size,
				    const struct fuzz_stream_ops *ops)
{
	uint64_t ts = 10, id = 1;
	struct conn *c = ops->open(eng, id, ops->arg);
	size_t i;

	for (i = 1; i + 2 <= size && c;) {
		uint8_t h = data[i], n = data[i + 1];
		enum tcp_dir dir = h & 1 ? TCP_DIR_S2C : TCP_DIR_C2S;
		unsigned op = (h >> 1) & 3;

		i += 2;
		ts += 1000;
		if (op == 3) {
			dissect_stream_gap(eng, c, dir, (uint64_t)n * 7 + (h >> 3), ts);
		} else if (op == 2) {
			dissect_stream_close(eng, c, n & 1 ? TCP_CLOSE_RST : TCP_CLOSE_FIN, ts);
			c = ops->open(eng, ++id, ops->arg);
		} else {
			size_t len = n < size - i ? n : size - i;

			if (ops->before_data)
				ops->before_data(eng, c, dir, h, len, ts, ops->arg);
			dissect_stream_data(eng, c, dir, data + i, len, ts);
			i += len;
		}
	}
	fuzz_check_memory(eng, false);
	if (c)
		dissect_stream_close(
		    eng, c, (enum tcp_close_reason)(data[size - 1] % TCP_CLOSE__COUNT), ts + 1);
	fuzz_check_memory(eng, true);
}

#endif /* FLOE_FUZZ_COMMON_H */
