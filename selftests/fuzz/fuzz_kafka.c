// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/kafka.c, through the engine's byte-stream interface.
 *
 * Input: byte 0 picks the connection's role (bit 0: from the handshake or guessed from ports,
 * where the requests may come from either side), a small body bound (bit 1), a small engine
 * buffer (bit 2) and which message opens the stream (bit 3: a request from the client, or a
 * response from the server, as in a capture started mid-connection); then records: a header
 * byte h and a length byte n, followed by up to n bytes
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   3: a gap of n * 7 + (h >> 3) bytes instead of data (any size: what follows
 *                starts anywhere in a message, as after a capture gap); 2: close now and reopen
 *   h bits 3-7   1: the n bytes are preceded by a 4-byte length that frames them (so that
 *                most inputs reach the decoders rather than the resynchronisation)
 * At the end the connection closes with a reason from the last byte.
 *
 * Checked: no crash or sanitizer report; every entry is "kafka", serialises to JSON, and has
 * integer sizes, api key and correlation ids where present.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "fuzz_common.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check_int(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (v && b)
		v = json_object_get(v, b);
	CHECK(!v || json_is_integer(v));
}

static void check_entry(void *ctx, const struct entry *e)
{
	json_t *o = entry_to_json(e);
	char line[512];
	char *s;

	(void)ctx;
	CHECK(o);
	if (strcmp(e->protocol, "kafka")) {
		fuzz_check_any_entry(e, o); /* another dissector took the input */
		return;
	}
	CHECK(json_is_integer(json_object_get(o, "request_size")));
	CHECK(json_object_get(o, "request") || json_object_get(o, "response"));
	check_int(o, "request", "api_key");
	check_int(o, "request", "correlation_id");
	check_int(o, "response", "correlation_id");
	check_int(o, "response", "error_code");
	CHECK(entry_format_line(e, line, sizeof(line)) >= 0);
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(o);
}

/* ApiVersions v0 request and response, as librdkafka sends them: they open the stream. */
static const uint8_t hello_req[] = {0, 0,   0,	 21,  0,   18,	0,   0,	  0, 0, 0, 1, 0,
				    7, 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0, 0, 0, 0};
static const uint8_t hello_resp[] = {0, 0, 0, 28, 0, 0,	 0, 1, 0, 0, 0, 0, 0, 3, 0, 0,
				     0, 0, 0, 9,  0, 18, 0, 0, 0, 3, 0, 3, 0, 0, 0, 10};

struct kafka_fuzz {
	enum tcp_role role;
	bool response_first;
};

static struct conn *open_conn(struct dissect_engine *eng, uint64_t id, void *arg)
{
	const struct kafka_fuzz *k = arg;

	if (k->response_first)
		return fuzz_open_conn(eng, k->role, id, 9092, TCP_DIR_S2C, hello_resp,
				      sizeof(hello_resp));
	return fuzz_open_conn(eng, k->role, id, 9092, TCP_DIR_C2S, hello_req, sizeof(hello_req));
}

/* Op bits 3+ == 1: a 4-byte length prefix of the data's length first (a whole frame). */
static void length_prefix(struct dissect_engine *eng, struct conn *c, enum tcp_dir dir, uint8_t h,
			  size_t len, uint64_t ts, void *arg)
{
	uint8_t be[4] = {0, 0, 0, (uint8_t)len};

	(void)arg;
	if ((h >> 3) == 1)
		dissect_stream_data(eng, c, dir, be, 4, ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dissect_config cfg = {0};
	struct dissect_engine *eng;
	struct kafka_fuzz k;

	if (size < 1)
		return 0;
	k.role = data[0] & 1 ? TCP_ROLE_PORT : TCP_ROLE_SYN;
	cfg.body_max = data[0] & 2 ? 16 : 0;
	cfg.max_buffer_per_dir = data[0] & 4 ? 256 : 0;
	k.response_first = data[0] & 8;
	cfg.tcp.max_flows = 4; /* the stream interface does not use the flow table */
	if (dissect_engine_create(&cfg, check_entry, NULL, &eng))
		return 0;
	fuzz_play_stream(
	    eng, data, size,
	    &(struct fuzz_stream_ops){.open = open_conn, .before_data = length_prefix, .arg = &k});
	dissect_engine_destroy(eng);
	return 0;
}
