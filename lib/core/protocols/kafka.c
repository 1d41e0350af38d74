// SPDX-License-Identifier: Apache-2.0
/* Kafka: the protocol's descriptor (protocol.h); its dissector is lib/node/dissect/kafka.c. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* Kafka: "Produce v9 #6 orders +1 records=3 -> NONE" (docs/kafka.md). */
static size_t kafka_summary(const struct entry *e, char *out, size_t size)
{
	const json_t *req = json_object_get(entry_fields(e), "request");
	const json_t *resp = json_object_get(entry_fields(e), "response");
	const json_t *topics = json_object_get(req ? req : resp, "topics");
	const json_t *rc = json_object_get(req, "record_count") ?: json_object_get(resp, "record_count");
	const char *err = entry_field_str(resp, "error_name", NULL);
	size_t off = 0;

	if (!req)
		return snprintf(out, size, "response #%lld (request not seen)",
				(long long)json_integer_value(json_object_get(resp, "correlation_id")));
	off += snprintf(out, size, "%s v%lld #%lld", entry_field_str(req, "api_name", NULL) ?: "unknown-api",
			(long long)json_integer_value(json_object_get(req, "api_version")),
			(long long)json_integer_value(json_object_get(req, "correlation_id")));
	if (off < size && json_array_size(topics))
		off += snprintf(out + off, size - off, " %.200s",
				json_string_value(json_array_get(topics, 0)) ?: "");
	if (off < size && json_array_size(topics) > 1)
		off += snprintf(out + off, size - off, " +%zu", json_array_size(topics) - 1);
	if (off < size && rc)
		off += snprintf(out + off, size - off, " records=%lld",
				(long long)json_integer_value(rc));
	if (off < size && resp)
		off += snprintf(out + off, size - off, " -> %s",
				err ?: json_object_get(resp, "body") ? "ok" : "response");
	if (off < size && json_object_get(req, "no_response"))
		off += snprintf(out + off, size - off, " (acks=0, no response)");
	return off < size ? off : size - 1;
}

/* What requests and responses both carry. */
static const struct protocol_field kafka_message_fields[] = {
	FIELD("correlation_id", INTEGER, "pairs the two"),
	{ .path = "body", .type = FIELD_ANY,
	  .meaning = "the decoded body (an object): Kafka's field names in lower_snake_case as the "
		     "protocol guide prints them (`topic_data`, `partition_data`, `records`, "
		     "`throttle_time_ms`, ...); null values left out; every `*error_code` followed by "
		     "its `*error_name`; record batches under `records`; see kafka.md" },
	FIELD_OF("topics", ARRAY, STRING, "the topic names in the message (subscribed and assigned "
					  "ones included), distinct, in order"),
	FIELD_OF("topic_ids", ARRAY, STRING, "the topic ids in the message (Fetch v13+, Metadata "
					     "v10+, ...)"),
	FIELD("partition_count", INTEGER, "topic-partition entries in the message"),
	FIELD("batch_count", INTEGER, "record batches (produced; fetched)"),
	FIELD("record_count", INTEGER, "records (produced; fetched)"),
	FIELD("body_size", BYTES, "bytes after the header"),
	FIELD("body_undecoded", STRING, "why there is no `body`: `api_not_decoded`, "
					"`unknown_api_key`, `unsupported_version`, `no_request` (a "
					"response whose request was not seen), `truncated`"),
	FIELD("truncated", BOOLEAN, "only a prefix was decoded (decode bound, a gap, the "
				    "connection's end)"),
	FIELD("skipped_bytes", BYTES, "bytes past the decode bound, not decoded"),
	FIELD("gap_bytes", BYTES, "bytes of the message lost in the capture"),
	FIELD("malformed", STRING, "what did not decode"),
	FIELD("malformed_offset", INTEGER, "where (offset after the length prefix)"),
	FIELD("trailing_bytes", BYTES, "bytes after the last field (ignored by brokers)"),
	FIELD_END,
};

static const struct field_group kafka_message_group = { "Kafka message",
							kafka_message_fields };

static const struct protocol_field kafka_fields[] = {
	FIELD_GROUP("request", kafka_message_group, "the request"),
	FIELD("request.api_key", INTEGER, "`0` Produce, `1` Fetch, `3` Metadata, ..."),
	FIELD("request.api_name", STRING, "`Produce`, `Fetch`, `Metadata`, ... (absent for a key "
					  "floe does not know)"),
	FIELD("request.api_version", INTEGER, "the version the client chose"),
	FIELD("request.client_id", STRING, "(absent when null)"),
	FIELD("request.no_response", BOOLEAN, "`true` for a Produce with acks=0: the broker never "
					      "answers; the entry is complete without a response"),
	FIELD_GROUP("response", kafka_message_group, "the response"),
	FIELD("response.error_code", INTEGER, "the first non-zero error code in the body (else "
					      "`0`)"),
	FIELD("response.error_name", STRING, "its name (else `NONE`)"),
	FIELD("response.error_count", INTEGER, "non-zero error codes in the body"),
	FIELD("response.decoded_as_version", INTEGER, "`0`: an ApiVersions error answer in version "
						      "0"),
	FIELD_END,
};

static const char *const kafka_dissectors[] = { "kafka", NULL };
static const struct protocol_word kafka_words[] = { { "kafka", NULL }, { NULL, NULL } };

const struct protocol_desc protocol_kafka = {
	.name = "kafka",
	.description = "Apache Kafka: every API key's header, decoded bodies, record batches",
	.dissectors = kafka_dissectors,
	.words = kafka_words,
	.fields = kafka_fields,
	.summary = kafka_summary,
};
