// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the entry-side parsers: the entry filter (compile and match), the
 * GraphQL document scanner and annotation, and the UTF-8 sanitiser of entry text. The first
 * byte picks the parser. Besides memory safety it checks that sanitised text is what jansson
 * accepts as a string (valid UTF-8) and that a filter that compiled matches without error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/graphql.h"
#include "entry/entry.h"
#include "entry/entry_filter.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static json_t *sample(void)
{
	return json_loads("{\"id\":\"1-1\",\"protocol\":\"http\",\"version\":\"1.1\","
			  "\"src\":{\"ip\":\"10.0.0.1\",\"port\":4000,\"pod\":\"a\"},"
			  "\"request\":{\"method\":\"GET\",\"url\":\"/x?y=1\",\"headers\":"
			  "{\"host\":\"b\"}},\"response\":{\"status\":200},\"list\":[1,\"two\"]}",
			  0, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, err[256], name[64];
	const char *type;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	switch (data[0] % 4) {
	case 0: {
		struct entry_filter *f = NULL;
		json_t *j = sample();

		if (entry_filter_compile(text, &f, err, sizeof(err)) == 0) {
			entry_filter_match(f, j);
			entry_filter_free(f);
		} else {
			CHECK(strstr(err, "column ") == err);
		}
		/* The same text against the schema: every error names its column. */
		if (entry_filter_compile_checked(text, &f, err, sizeof(err)) == 0) {
			entry_filter_match(f, j);
			entry_filter_free(f);
		} else {
			CHECK(strstr(err, "column ") == err);
		}
		json_decref(j);
		break;
	}
	case 1:
		graphql_operation((const char *)data + 1, size - 1, NULL, &type, name, sizeof(name));
		graphql_operation((const char *)data + 1, size - 1, "A", &type, name, sizeof(name));
		break;
	case 2: {
		struct entry *e = entry_new();
		json_t *req = json_object(), *body = json_object();

		json_object_set_new(body, "text", entry_json_text(data + 1, size - 1));
		json_object_set_new(req, "body", body);
		json_object_set_new(req, "content_type", json_string("application/json"));
		json_object_set_new(entry_fields_rw(e), "request", req);
		graphql_annotate(e);
		entry_free(e);
		break;
	}
	case 3: {
		json_t *s = entry_json_text(data + 1, size - 1);
		char *dump;

		CHECK(s);
		dump = json_dumps(s, JSON_ENCODE_ANY);
		CHECK(dump); /* jansson refuses invalid UTF-8 */
		free(dump);
		json_decref(s);
		break;
	}
	}
	free(text);
	return 0;
}
