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
	const json_t *req = json_object_get(e->fields, "request");
	const json_t *resp = json_object_get(e->fields, "response");
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
const struct protocol_desc protocol_kafka = {
    .name = "kafka",
    .summary = kafka_summary,
};
