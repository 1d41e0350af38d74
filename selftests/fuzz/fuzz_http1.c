// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/http1.c, through the engine's byte-stream interface.
 *
 * Input: byte 0 picks the connection's role (from the handshake or mid-stream) and a small
 * body bound; then records: a header byte h and a length byte n, followed by up to n bytes
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   3: a gap of n * 7 bytes instead of data; 2: close now and reopen
 *   h bits 3-7   unused
 * The stream starts with an HTTP request so that detection picks http1 and the rest reaches
 * the dissector. At the end the connection closes with a reason from the last byte.
 *
 * Checked: no crash or sanitizer report; every entry serialises to JSON with the contract's
 * types (protocol "http", integer sizes, status an integer when present); the direct JSON
 * writer and the tree's agree, and the fields' text is jansson's (check_writers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "entry/entry_json.h"
#include "fuzz_common.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* floe's two writers agree: the entry written directly equals its tree written; and the
 * protocol fields (HTTP/1 puts no reals in them) equal jansson's own compact dump, the
 * escaping of every header, URL and body byte included. */
static void check_writers(const struct entry *e, const json_t *o, struct entry_json_buf *direct)
{
	struct entry_json_buf tree = {0}, fields = {0};
	char *want;

	CHECK(entry_json_append(&tree, o) == 0);
	CHECK(direct->len == tree.len && !memcmp(direct->p, tree.p, tree.len));
	if (!strcmp(e->protocol, "http")) {
		want = json_dumps(entry_fields(e), JSON_COMPACT);
		CHECK(want);
		CHECK(entry_json_append(&fields, entry_fields(e)) == 0);
		CHECK(fields.len == strlen(want) && !memcmp(fields.p, want, fields.len));
		free(want);
	}
	entry_json_buf_free(&tree);
	entry_json_buf_free(&fields);
}

static void check_entry(void *ctx, const struct entry *e)
{
	struct entry_json_buf direct = {0};
	json_t *o, *st;
	char *s;

	(void)ctx;
	/* Written directly before entry_to_json() turns HTTP/1's compact fields into a tree:
	 * the tree's text is then the check of the compact writer's. */
	CHECK(entry_json_append_entry(&direct, e) == 0);
	o = entry_to_json(e);
	CHECK(o);
	if (strcmp(e->protocol, "http") && strcmp(e->protocol, "graphql") &&
	    strcmp(e->protocol, "grpc")) {
		entry_json_buf_free(&direct);
		fuzz_check_any_entry(e, o); /* another dissector took the input */
		return;
	}
	CHECK(json_is_integer(json_object_get(o, "request_size")));
	st = json_object_get(json_object_get(o, "response"), "status");
	CHECK(!st || json_is_integer(st));
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	check_writers(e, o, &direct);
	entry_json_buf_free(&direct);
	json_decref(o);
}

static struct conn *open_conn(struct dissect_engine *eng, uint64_t id, void *arg)
{
	static const char hello[] = "GET / HTTP/1.1\r\n";
	enum tcp_role role = *(enum tcp_role *)arg;

	return fuzz_open_conn(eng, role, id, 80, TCP_DIR_C2S, hello, sizeof(hello) - 1);
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
	fuzz_play_stream(eng, data, size,
			 &(struct fuzz_stream_ops){.open = open_conn, .arg = &role});
	dissect_engine_destroy(eng);
	return 0;
}
