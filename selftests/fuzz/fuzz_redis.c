// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/redis.c, through the engine's byte-stream interface (so
 * detection, the engine's buffering and the close paths are fuzzed too).
 *
 * Input: byte 0 picks the connection's role (from the handshake or mid-stream), a small
 * body bound and a small engine buffer; then records: a header byte h and a length byte n,
 * followed by up to n bytes
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   3: a gap of n * 7 bytes instead of data; 2: close now and reopen
 *   h bit 3      prefix the data with a RESP length header "$<n * 1000>\r\n" or
 *                "*<n>\r\n" (bit 4), so that huge and deep declared lengths come easily
 * Each connection starts with a RESP command ("*1\r\n$4\r\nPING\r\n") so that detection
 * picks redis and the rest reaches the dissector. At the end the connection closes with a
 * reason from the last byte.
 *
 * Checked: no crash or sanitizer report; every entry serialises to JSON with the contract's
 * types (protocol "redis", integer sizes, response.type a string, request.command a string,
 * args an array).
 */
#include <stdint.h>
#include <stdio.h>
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

static void check_entry(void *ctx, const struct entry *e)
{
	json_t *o = entry_to_json(e), *req, *resp, *v;
	char line[1024];
	char *s;

	(void)ctx;
	CHECK(o);
	if (strcmp(e->protocol, "redis")) {
		fuzz_check_any_entry(e, o); /* another dissector took the input */
		return;
	}
	CHECK(json_is_integer(json_object_get(o, "request_size")));
	CHECK(json_is_integer(json_object_get(o, "response_size")));
	req = json_object_get(o, "request");
	resp = json_object_get(o, "response");
	CHECK(req || resp || json_object_get(o, "missing"));
	if (req) {
		v = json_object_get(req, "command");
		CHECK(!v || json_is_string(v));
		CHECK(json_is_array(json_object_get(req, "args")));
		CHECK(json_is_integer(json_object_get(req, "arg_count")));
	}
	if (resp)
		CHECK(json_is_string(json_object_get(resp, "type")));
	CHECK(entry_format_line(e, line, sizeof(line)) > 0);
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(o);
}

static struct conn *open_conn(struct dissect_engine *eng, uint64_t id, void *arg)
{
	static const char hello[] = "*1\r\n$4\r\nPING\r\n";
	enum tcp_role role = *(enum tcp_role *)arg;

	return fuzz_open_conn(eng, role, id, 6379, TCP_DIR_C2S, hello, sizeof(hello) - 1);
}

/* Op bit 3: a RESP array or bulk header of the op's length first (big declared sizes). */
static void resp_header(struct dissect_engine *eng, struct conn *c, enum tcp_dir dir, uint8_t h,
			size_t n, uint64_t ts, void *arg)
{
	char hdr[32];
	int k;

	(void)arg;
	if (!(h & 8))
		return;
	k = h & 16 ? snprintf(hdr, sizeof(hdr), "*%zu\r\n", n)
		   : snprintf(hdr, sizeof(hdr), "$%zu\r\n", n * 1000);
	dissect_stream_data(eng, c, dir, (const uint8_t *)hdr, (size_t)k, ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dissect_config cfg = {0};
	struct dissect_engine *eng;
	enum tcp_role role;

	if (size < 1)
		return 0;
	role = data[0] & 1 ? TCP_ROLE_PORT : TCP_ROLE_SYN;
	cfg.body_max = data[0] & 2 ? 16 : 0;
	cfg.max_buffer_per_dir = data[0] & 4 ? 256 : 0;
	cfg.tcp.max_flows = 4; /* the stream interface does not use the flow table */
	if (dissect_engine_create(&cfg, check_entry, NULL, &eng))
		return 0;
	fuzz_play_stream(
	    eng, data, size,
	    &(struct fuzz_stream_ops){.open = open_conn, .before_data = resp_header, .arg = &role});
	dissect_engine_destroy(eng);
	return 0;
}
