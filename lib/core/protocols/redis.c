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
	const json_t *req = json_object_get(entry_fields(e), "request");
	const json_t *resp = json_object_get(entry_fields(e), "response");
	const json_t *push = json_object_get(entry_fields(e), "push");
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

static const struct protocol_field redis_tx_command_fields[] = {
	FIELD("command", STRING, "the queued command's name"),
	FIELD_OF("keys", ARRAY, STRING, "its keys"),
	FIELD_END,
};

static const struct field_group redis_tx_command_group = { "Queued command",
							   redis_tx_command_fields };

static const struct protocol_field redis_fields[] = {
	FIELD("request", OBJECT, "the command"),
	FIELD("request.command", STRING,
	      "the command name upper-cased; a container command with its subcommand: `GET`, "
	      "`CLIENT SETINFO`, `CONFIG GET`, `XINFO STREAM` (absent for a malformed command)"),
	FIELD_OF("request.args", ARRAY, STRING,
		 "the arguments after the name (and subcommand), as text (invalid UTF-8 as U+FFFD); "
		 "passwords (`AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH`, `CONFIG SET "
		 "requirepass`/`masterauth`, `ACL SETUSER >pass`) are `\"(redacted)\"`"),
	FIELD("request.arg_count", INTEGER,
	      "the number of arguments on the wire (all of them, also when `args` was cut)"),
	FIELD("request.args_truncated", BOOLEAN,
	      "`true` when `args` does not hold all of them whole (more than 64, or more than "
	      "`--body-max` bytes in total, or a capture gap inside one)"),
	FIELD_OF("request.keys", ARRAY, STRING,
		 "the key arguments, by command (`MSET k1 v1 k2 v2` → `[\"k1\",\"k2\"]`, `EVAL "
		 "script 2 a b` → `[\"a\",\"b\"]`, `XREAD ... STREAMS s1 s2 0 0` → "
		 "`[\"s1\",\"s2\"]`); absent for commands without keys or unknown ones"),
	FIELD("request.keys_truncated", BOOLEAN, "more than 64 keys, or a key longer than 1 KiB"),
	FIELD("request.inline", BOOLEAN, "`true` for an inline command (a plain text line)"),
	FIELD("request.db", INTEGER,
	      "the database the command ran in (0, or what the last `SELECT` chose); absent when "
	      "not known (a connection picked up mid-stream, before a `SELECT`)"),
	FIELD("request.gap_bytes", BYTES, "bytes of an argument lost in a capture gap"),
	FIELD("response", OBJECT, "the reply (or an unasked message from the server)"),
	FIELD("response.type", STRING,
	      "`simple_string`, `error`, `integer`, `bulk_string`, `null`, `array`, `map`, `set`, "
	      "`push`, `double`, `boolean`, `big_number`, `bulk_error`, `verbatim_string` (RESP2's "
	      "null bulk string and null array are `null`)"),
	{ .path = "response.value", .type = FIELD_ANY,
	  .meaning = "the reply as JSON: strings, numbers, `true`/`false`, `null`, arrays (arrays, "
		     "sets, pushes), objects (maps; keys that are not strings by their JSON text); an "
		     "error inside an aggregate is `{\"error\": \"...\"}`; a verbatim string without "
		     "its format; a big number as a string; a double `inf`/`-inf`/`nan` as a string. "
		     "Absent for errors" },
	FIELD("response.value_base64", STRING,
	      "a top-level bulk string that is not UTF-8 text, in base64 (of the kept bytes)"),
	FIELD("response.length", INTEGER,
	      "bytes of a bulk string, verbatim string or bulk error; elements of an array, set or "
	      "push; pairs of a map (all of them, also when the value was cut)"),
	FIELD("response.truncated", BOOLEAN,
	      "not all of the value was kept: strings past `--body-max` bytes in total, more than "
	      "1024 values, nesting deeper than 16 (shown as `null`), or a capture gap"),
	FIELD("response.error", STRING, "an error reply's text: `WRONGTYPE Operation against a key "
					"holding the wrong kind of value`"),
	FIELD("response.error_code", STRING, "its first word when upper case: `ERR`, `WRONGTYPE`, "
					     "`NOAUTH`, `WRONGPASS`, `MOVED`, `EXECABORT`, ..."),
	FIELD("response.format", STRING, "a verbatim string's format: `txt`, `mkd`"),
	FIELD_OF("response.attributes", MAP, ANY, "RESP3 attributes sent before the reply"),
	FIELD("response.replies", INTEGER,
	      "subscription commands (`SUBSCRIBE a b`, ...): the number of confirmations; "
	      "`response.value` is then the list of them "
	      "(`[[\"subscribe\",\"a\",1],[\"subscribe\",\"b\",2]]`) and `response.type` theirs "
	      "(`array` in RESP2, `push` in RESP3)"),
	FIELD("response.gap_bytes", BYTES, "bytes of the reply lost in a capture gap"),
	FIELD("no_reply", BOOLEAN, "the client asked for no reply (`CLIENT REPLY OFF`/`SKIP`): the "
				   "entry has no response and nothing is missing"),
	FIELD("transaction", OBJECT, "on the `EXEC` or `DISCARD` entry after a `MULTI`"),
	FIELD_ARRAY_GROUP("transaction.commands", redis_tx_command_group,
			  "the queued commands (at most 64); `response.value[i]` of an `EXEC` is "
			  "the reply to `commands[i]`"),
	FIELD("transaction.command_count", INTEGER, "how many commands were queued"),
	FIELD("transaction.commands_truncated", BOOLEAN, "`true` past 64 queued commands"),
	FIELD("transaction.outcome", STRING,
	      "`executed` (EXEC ran them), `aborted` (EXEC answered null after a `WATCH`ed key "
	      "changed, or `EXECABORT`), `discarded`"),
	FIELD("push", OBJECT, "a message the server sent unasked (the entry has no request)"),
	FIELD("push.kind", STRING,
	      "`message`, `pmessage`, `smessage` (pub/sub), `invalidate` (client-side caching), "
	      "`subscribe`/`unsubscribe`/... (a confirmation no command waits for), `monitor` (a "
	      "MONITOR line), or another RESP3 push kind"),
	FIELD("push.channel", STRING, "pub/sub: the channel"),
	FIELD("push.pattern", STRING, "`pmessage`: the pattern"),
	{ .path = "push.message", .type = FIELD_ANY, .meaning = "pub/sub: the payload; `monitor`: the "
								 "line" },
	FIELD("push.count", INTEGER, "a confirmation's subscription count"),
	{ .path = "push.keys", .type = FIELD_ARRAY, .elem = FIELD_STRING, .nullable = true,
	  .meaning = "`invalidate`: the keys (`null`: all of them, after a flush)" },
	FIELD_END,
};

static const char *const redis_dissectors[] = { "redis", NULL };
static const struct protocol_word redis_words[] = { { "redis", NULL }, { NULL, NULL } };

const struct protocol_desc protocol_redis = {
	.name = "redis",
	.description = "Redis (RESP2 and RESP3): commands and their replies, pushes, transactions",
	.dissectors = redis_dissectors,
	.words = redis_words,
	.fields = redis_fields,
	.summary = redis_summary,
};
