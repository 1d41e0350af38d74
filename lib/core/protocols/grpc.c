// SPDX-License-Identifier: Apache-2.0
/*
 * gRPC: the protocol's descriptor (protocol.h). gRPC rides on HTTP/2: the http2 dissector
 * (lib/node/dissect/http2.c) hands a stream whose content-type is application/grpc to
 * lib/node/dissect/grpc.c, which adds the "grpc" object; the HTTP fields stay.
 */
#include <stdio.h>

#include "entry/entry.h"
#include "protocols/grpc_status.h"
#include "protocols/protocol.h"

/* The parent's (HTTP) summary, then " grpc-status 5". */
static size_t grpc_summary(const struct entry *e, char *out, size_t size)
{
	const json_t *status = json_object_get(json_object_get(entry_fields(e), "grpc"), "status");
	size_t off = protocol_find("http")->summary(e, out, size);

	if (off < size && status)
		off += snprintf(out + off, size - off, " grpc-status %lld",
				(long long)json_integer_value(status));
	return off;
}

static const struct protocol_field grpc_field_fields[] = {
	FIELD("field", INTEGER, "the field number"),
	FIELD("wire_type", STRING, "`varint`, `i64`, `len`, `i32`, ..."),
	FIELD("type", STRING, "how a `len` value was taken: `string`, `message`, `bytes`"),
	{ .path = "value", .type = FIELD_ANY,
	  .meaning = "the value: an integer, text, base64 bytes, or a nested message's fields" },
	FIELD("double", REAL, "an `i64` value read as a double"),
	FIELD("float", REAL, "an `i32` value read as a float"),
	FIELD_END,
};

static const struct field_group grpc_field_group = { "Protobuf field",
						     grpc_field_fields };

static const struct protocol_field grpc_message_fields[] = {
	FIELD("size", BYTES, "the message's length on the wire"),
	FIELD("compressed", BOOLEAN, "the message's compressed flag"),
	FIELD("truncated", BOOLEAN, "not all of the message was kept"),
	FIELD("incomplete", BOOLEAN, "the stream ended inside the message, or a capture gap cut it"),
	FIELD("received", BYTES, "bytes of an incomplete message that came (gaps not counted)"),
	FIELD("decompressed_size", BYTES, "its size after decompression"),
	FIELD("decode_error", STRING, "why it was not decompressed"),
	FIELD_ARRAY_GROUP("fields", grpc_field_group, "protobuf decoded without a schema"),
	FIELD("fields_truncated", BOOLEAN, "more fields than floe shows"),
	FIELD("text", STRING, "a message that is not protobuf, as text"),
	FIELD("base64", STRING, "a message that is not protobuf, in base64"),
	FIELD_END,
};

static const struct field_group grpc_message_group = { "gRPC message", grpc_message_fields };

static const struct protocol_field grpc_fields[] = {
	FIELD("grpc", OBJECT, "the call"),
	FIELD("grpc.service", STRING, "the service (with its package): `helloworld.Greeter`"),
	FIELD("grpc.method", STRING, "the method: `SayHello`"),
	FIELD("grpc.status", INTEGER, "grpc-status"),
	FIELD("grpc.status_name", STRING, "`OK`, `NOT_FOUND`, ..."),
	FIELD("grpc.message", STRING, "grpc-message, percent-decoded"),
	FIELD("grpc.encoding", STRING, "grpc-encoding"),
	FIELD("grpc.request_count", INTEGER, "messages the client sent"),
	FIELD("grpc.response_count", INTEGER, "messages the server sent"),
	FIELD_ARRAY_GROUP("grpc.request_messages", grpc_message_group, "the client's messages"),
	FIELD_ARRAY_GROUP("grpc.response_messages", grpc_message_group, "the server's messages"),
	FIELD_END,
};

static const char *const grpc_dissectors[] = { "http2", NULL };
static const struct protocol_word grpc_words[] = { { "grpc", NULL }, { NULL, NULL } };
/* `http` selects gRPC calls; `http2` does not (it means plain HTTP/2 traffic). */
static const char *const grpc_parent_words[] = { "http", NULL };

const struct protocol_desc protocol_grpc = {
	.name = "grpc",
	.description = "gRPC calls over HTTP/2 (messages decoded as protobuf without a schema)",
	.dissectors = grpc_dissectors,
	.parent = "http",
	.words = grpc_words,
	.parent_words = grpc_parent_words,
	.fields = grpc_fields,
	.summary = grpc_summary,
};

const char *grpc_status_name(long code)
{
	static const char *const names[] = {
		"OK",
		"CANCELLED",
		"UNKNOWN",
		"INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED",
		"NOT_FOUND",
		"ALREADY_EXISTS",
		"PERMISSION_DENIED",
		"RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION",
		"ABORTED",
		"OUT_OF_RANGE",
		"UNIMPLEMENTED",
		"INTERNAL",
		"UNAVAILABLE",
		"DATA_LOSS",
		"UNAUTHENTICATED",
	};

	if (code < 0 || code >= (long)(sizeof(names) / sizeof(names[0])))
		return NULL;
	return names[code];
}
