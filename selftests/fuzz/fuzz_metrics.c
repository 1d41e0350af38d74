// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for lib/core/api/metrics_text.c: an agent's stats object (what a hub gets
 * from any agent over the network) turned into the floe_agent_* families. The input's first
 * line is the agent's name, the rest the stats JSON. Besides memory safety, every line of the
 * output must be a valid line of the text format 0.0.4: a comment, or a metric name, label
 * pairs with their values escaped (no raw newline or quote can end one early), and a value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/metrics_text.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* One sample line [p, end): name{k="v",...} value */
static void check_sample(const char *p, const char *end)
{
	CHECK(p < end && name_start(*p));
	while (p < end && name_char(*p))
		p++;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			CHECK(name_start(*p));
			while (p < end && name_char(*p))
				p++;
			CHECK(p + 1 < end && p[0] == '=' && p[1] == '"');
			p += 2;
			while (p < end && *p != '"') {
				if (*p == '\\') {
					CHECK(p + 1 < end &&
					      (p[1] == '\\' || p[1] == '"' || p[1] == 'n'));
					p++;
				}
				p++;
			}
			CHECK(p < end);
			p++; /* the closing quote */
			CHECK(p < end && (*p == ',' || *p == '}'));
			if (*p == ',')
				p++;
		}
		CHECK(p < end);
		p++;
	}
	CHECK(p < end && *p == ' ');
	p++;
	CHECK(p < end);
	for (; p < end; p++)
		CHECK(*p != ' ' && *p != '"' && *p != '{');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t name_len = nl ? (size_t)(nl - (const char *)data) : 0;
	char name[80];
	json_t *j, *stats[2];
	const char *names[2];
	struct entry_json_buf b = {0};

	if (name_len >= sizeof(name))
		name_len = sizeof(name) - 1;
	memcpy(name, data, name_len);
	name[name_len] = 0;
	j = json_loadb((const char *)data + (nl ? name_len + 1 : 0), size - (nl ? name_len + 1 : 0),
		       JSON_DISABLE_EOF_CHECK, NULL);
	stats[0] = j;
	stats[1] = NULL; /* an agent that did not answer */
	names[0] = strlen(name) == name_len ? name : "agent";
	names[1] = "down";
	if (metrics_agent_stats(&b, 2, names, stats) == 0 && b.len) {
		const char *p = b.p, *end = b.p + b.len;

		CHECK(end[-1] == '\n');
		while (p < end) {
			const char *e = memchr(p, '\n', (size_t)(end - p));

			CHECK(e);
			if (*p == '#')
				CHECK(!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7));
			else
				check_sample(p, e);
			p = e + 1;
		}
	}
	entry_json_buf_free(&b);
	json_decref(j);
	return 0;
}
