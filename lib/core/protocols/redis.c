// SPDX-License-Identifier: Apache-2.0
/* Redis (RESP2/RESP3): the protocol's descriptor (protocol.h); its dissector is lib/node/dissect/redis.c. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* Redis: "SET user:1 bob -> OK", "GET k -> \"v\"", "push message news \"hi\"". */
static size_t redis_summary(const struct entry *e, char *out, size_t size)
{
	const json_t *req = json_object_get(e->fields, "request");
	const json_t *resp = json_object_get(e->fields, "response");
	const json_t *push = json_object_get(e->fields, "push");
	const json_t *v = json_object_get(resp, "value"), *a;
	const char *type = entry_field_str(resp, "type", NULL);
	size_t off = 0, i;
	char *dump;

	out[0] = 0;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (off < size)                                                                    \
			off += snprintf(out + off, size - off, __VA_ARGS__);                       \
	} while (0)
	if (push) {
		ADD("push %.40s", entry_field_str(push, "kind", NULL) ?: "-");
		if (entry_field_str(push, "channel", NULL))
			ADD(" %.80s", entry_field_str(push, "channel", NULL));
		if (entry_field_str(push, "message", NULL))
			ADD(" \"%.100s\"", entry_field_str(push, "message", NULL));
		return off;
	}
	if (entry_field_str(req, "command", NULL)) {
		ADD("%.60s", entry_field_str(req, "command", NULL));
		json_array_foreach(json_object_get(req, "args"), i, a) {
			if (i == 4) {
				ADD(" ...");
				break;
			}
			ADD(" %.40s", json_string_value(a) ?: "");
		}
	}
	if (!type)
		return off;
	ADD(" -> ");
	if (json_object_get(resp, "replies"))
		ADD("%s(%lld)", type, (long long)json_integer_value(json_object_get(resp, "replies")));
	else if (entry_field_str(resp, "error", NULL))
		ADD("(error) %.100s", entry_field_str(resp, "error", NULL));
	else if (json_is_null(v))
		ADD("(nil)");
	else if (json_is_string(v) && strcmp(type, "simple_string") && strcmp(type, "big_number"))
		ADD("\"%.100s\"", json_string_value(v));
	else if (json_is_array(v) || json_is_object(v))
		ADD("%s(%lld)", type, (long long)json_integer_value(json_object_get(resp, "length")));
	else if ((dump = json_dumps(v, JSON_ENCODE_ANY))) {
		ADD("%.100s", json_is_string(v) ? json_string_value(v) : dump);
		free(dump);
	}
#undef ADD
	return off;
}
const struct protocol_desc protocol_redis = {
    .name = "redis",
    .summary = redis_summary,
};
