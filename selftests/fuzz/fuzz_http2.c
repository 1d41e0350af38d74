// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/http2.c (and gRPC framing), through the engine's byte-stream
 * interface.
 *
 * Input: byte 0 picks the configuration:
 *   bit 0   a 4 KiB engine buffer (frames bigger than it must stream through)
 *   bit 1   a 16-byte body bound (gRPC messages bigger than it are measured only)
 *   bit 2   no connection preface is sent first (detection on the server's SETTINGS, or
 *           a connection picked up mid-way)
 *   bit 6   start anywhere: byte 1 (C2S) and byte 2 (S2C) are how many of each direction's
 *           first data bytes are not delivered, so the seeds' real connections begin at
 *           any offset, inside frames and header blocks (the frame-boundary search, the
 *           unknown HPACK table and its rebuilding)
 *   bit 7   every gap record also drops the next record's first byte (gaps that end
 *           inside frame headers)
 * then records: a header byte h and a 16-bit big-endian length n, followed by n bytes
 *   h bit 0      direction (0: client to server)
 *   h bit 1      a gap of n bytes instead of data
 * Unless bit 2 is set the client's stream starts with the HTTP/2 preface, so the rest
 * reaches the dissector. At the end the connection closes with a reason from byte 0.
 * Seeds (selftests/fuzz/corpus/fuzz_http2) are real HTTP/2 and gRPC connections in this
 * format.
 *
 * Checked: no crash or sanitizer report; every entry serialises to JSON with the contract's
 * types: protocol http or grpc, version "2", a stream id, integer sizes and status; entries
 * from inside a CONNECT stream's tunnel (any protocol) name the tunnel's id. The heads kept
 * as bytes (http1_fields.h) are held to their tree both ways: the JSON written without the
 * tree is the text of the tree (entry_to_json), and KFL queries matched on the entry as it is
 * (entry_kfl_match: the compact part's getter) give what they give on that text's tree.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "entry/entry_json.h"
#include "entry/entry_kfl.h"
#include "fuzz_common.h"
#include "kfl/kfl.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* Queries over HTTP/2 and gRPC members; those the getter cannot answer (the tree is built
 * then, for the entry's remaining queries) come last. */
static const char *const queries[] = {
    "request.method == \"GET\"",
    "request.method == POST or request.method == CONNECT",
    "request.path.startsWith(\"/\")",
    "request.url contains \"?\"",
    "request.query == \"\"",
    "exists(request.url) or exists(request.path)",
    "request.authority contains \".\"",
    "request.scheme == \"http\"",
    "exists(request.protocol)",
    "request.version == \"2\"",
    "response.status >= 200 and response.status < 300",
    "exists(response.status)",
    "response.status_text == \"OK\"",
    "response.version == \"2\"",
    "request.headers[\"user-agent\"] contains \"a\"",
    "exists(request.headers[\"content-type\"])",
    "response.headers[\"content-type\"] contains \"grpc\"",
    "exists(response.trailers)",
    "exists(request.trailers)",
    "response.trailers[\"grpc-status\"] == \"0\"",
    "request.content_type contains \"json\"",
    "exists(response.content_type)",
    "response.body.size > 3",
    "response.body.truncated",
    "request.body.text == \"\"",
    "exists(request.body.text)",
    "response.body.gap_bytes > 0",
    "request.headers_partial or response.headers_partial",
    "request.headers_truncated or response.headers_truncated",
    "exists(request.unknown_headers)",
    "exists(request.query_params.a)",
    "exists(request.cookies) or exists(response.cookies)",
    "request.nothing or response.status.deeper",
    "protocol == grpc or protocol == http",
    "stream_id > 1 and version == \"2\"",
    "missing or incomplete",
    "pushed or rst_error == CANCEL",
    "grpc.status == 0",
    "request.query_params.a == \"b\"",
    "request.headers[] == \"x\"",
};

/* The written text against the tree, and queries both ways (see the header comment). */
static void check_compact(const struct entry *e)
{
	struct entry_json_buf w = {0}, t = {0};
	json_t *o, *parsed;

	CHECK(!entry_json_append_entry(&w, e));
	parsed = json_loadb(w.p, w.len, JSON_ALLOW_NUL, NULL);
	CHECK(parsed);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct kfl *q = NULL;
		json_t *tree = NULL;
		char err[128];

		CHECK(!kfl_compile(queries[i], NULL, &q, err, sizeof(err)));
		CHECK(entry_kfl_match(q, e, &tree) == kfl_match_json(q, parsed));
		json_decref(tree);
		kfl_free(q);
	}
	o = entry_to_json(e);
	CHECK(o && !entry_json_append(&t, o));
	CHECK(t.len == w.len && !memcmp(t.p, w.p, w.len));
	json_decref(parsed);
	json_decref(o);
	entry_json_buf_free(&w);
	entry_json_buf_free(&t);
}

static void check_entry(void *ctx, const struct entry *e)
{
	json_t *o, *v;
	char *s;

	(void)ctx;
	check_compact(e);
	o = entry_to_json(e);
	CHECK(o);
	if (json_object_get(o, "tunnel")) {
		/* from inside a CONNECT stream's tunnel: whatever protocol was found there */
		CHECK(json_is_string(json_object_get(json_object_get(o, "tunnel"), "id")));
		fuzz_check_any_entry(e, o);
		return;
	}
	/* Another dissector took the input: an input without the preface that reads as
	 * HTTP/1.x text gives HTTP/1 entries (protocol "http" too). */
	if ((strcmp(e->protocol, "http") && strcmp(e->protocol, "grpc") &&
	     strcmp(e->protocol, "graphql")) ||
	    strcmp(e->version, "2")) {
		fuzz_check_any_entry(e, o);
		return;
	}
	CHECK(!strcmp(e->version, "2"));
	CHECK(e->stream_id);
	CHECK(json_is_integer(json_object_get(o, "request_size")));
	CHECK(json_is_integer(json_object_get(o, "response_size")));
	v = json_object_get(json_object_get(o, "response"), "status");
	CHECK(!v || json_is_integer(v));
	v = json_object_get(json_object_get(o, "grpc"), "status");
	CHECK(!v || json_is_integer(v));
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct tcp_flow_info info = { .id = 1, .family = AF_INET, .role = TCP_ROLE_SYN };
	struct dissect_config cfg = { 0 };
	struct dissect_engine *eng;
	struct conn *c;
	uint64_t ts = 10;
	size_t i = 1, skip[2] = { 0, 0 };
	bool cut_next = false;

	if (size < 1)
		return 0;
	cfg.max_buffer_per_dir = data[0] & 1 ? 4096 : 0;
	cfg.body_max = data[0] & 2 ? 16 : 0;
	cfg.tcp.max_flows = 4; /* the stream interface does not use the flow table */
	if (dissect_engine_create(&cfg, check_entry, NULL, &eng))
		return 0;
	info.client.port = 40000;
	info.server.port = 50051;
	c = dissect_stream_open(eng, &info);
	if (!c) {
		dissect_engine_destroy(eng);
		return 0;
	}
	if (!(data[0] & 4))
		dissect_stream_data(eng, c, TCP_DIR_C2S, (const uint8_t *)preface, 24, ts);
	if ((data[0] & 0x40) && size >= 3) {
		skip[TCP_DIR_C2S] = data[1];
		skip[TCP_DIR_S2C] = data[2];
		i = 3;
	}
	for (; i + 3 <= size;) {
		uint8_t h = data[i];
		size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
		enum tcp_dir dir = h & 1 ? TCP_DIR_S2C : TCP_DIR_C2S;

		i += 3;
		ts += 1000;
		if (h & 2) {
			dissect_stream_gap(eng, c, dir, n, ts);
			cut_next = data[0] & 0x80;
			continue;
		}
		if (n > size - i)
			n = size - i;
		{
			size_t k = skip[dir] < n ? skip[dir] : n;

			if (cut_next && k < n)
				k++;
			cut_next = false;
			skip[dir] -= k < skip[dir] ? k : skip[dir];
			if (n > k)
				dissect_stream_data(eng, c, dir, data + i + k, n - k, ts);
		}
		i += n;
	}
	fuzz_check_memory(eng, false);
	dissect_stream_close(eng, c, (enum tcp_close_reason)((data[0] >> 3) % TCP_CLOSE__COUNT),
			     ts + 1);
	fuzz_check_memory(eng, true);
	dissect_engine_destroy(eng);
	return 0;
}
