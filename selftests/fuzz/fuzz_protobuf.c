// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the schema-less protobuf decoder and the gRPC message framing
 * (dissect/grpc.c).
 *
 * Input: byte 0 picks a field budget (its value * 16) and how the rest is cut for the
 * framing (chunks of byte 0 % 7 + 1 bytes) and its grpc-encoding (bits 6-7: identity,
 * gzip, deflate, snappy); the rest is one protobuf message, and the same bytes are fed as a
 * gRPC DATA stream.
 *
 * Checked: protobuf_decode succeeds exactly when protobuf_valid says the bytes are a message
 * (or fails for memory), never produces more fields than the budget, and its output
 * serialises; the framing counts every byte and keeps at most GRPC_MAX_MESSAGES messages.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/grpc.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* Fields in a decoded array, nested ones included. */
static size_t count_fields(const json_t *arr)
{
	size_t i, n = json_array_size(arr), total = n;

	for (i = 0; i < n; i++) {
		const json_t *v = json_object_get(json_array_get(arr, i), "value");

		if (json_is_array(v))
			total += count_fields(v);
	}
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const encodings[] = { NULL, "gzip", "deflate", "snappy" };
	struct grpc_messages g;
	size_t budget, start, chunk, i;
	bool trunc = false, valid;
	json_t *out = NULL, *call;
	char *s;
	int rc;

	if (size < 1)
		return 0;
	budget = (size_t)data[0] * 16;
	start = budget;
	valid = protobuf_valid(data + 1, size - 1);
	rc = protobuf_decode(data + 1, size - 1, &budget, &trunc, &out);
	CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	CHECK(rc != -EINVAL || !valid);
	CHECK(rc != 0 || valid);
	if (out) {
		CHECK(count_fields(out) == start - budget);
		s = json_dumps(out, JSON_COMPACT);
		CHECK(s);
		free(s);
		json_decref(out);
	}

	grpc_messages_init(&g, 256);
	chunk = data[0] % 7 + 1;
	for (i = 1; i < size; i += chunk)
		grpc_messages_feed(&g, data + i, size - i < chunk ? size - i : chunk,
				   encodings[data[0] >> 6]);
	CHECK(g.bytes == size - 1);
	call = grpc_call_json("/svc.S/M", NULL, NULL, NULL, &g, NULL);
	if (call) {
		CHECK(json_array_size(json_object_get(call, "request_messages")) <=
		      GRPC_MAX_MESSAGES);
		s = json_dumps(call, JSON_COMPACT);
		CHECK(s);
		free(s);
		json_decref(call);
	}
	grpc_messages_free(&g);
	return 0;
}
