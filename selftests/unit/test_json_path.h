/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jget(): a value of a JSON tree by dotted path ("response.headers.content-type",
 * "interim.0.status": a number indexes an array), or NULL. One copy for the unit tests that
 * look into entries.
 */
#ifndef FLOE_TEST_JSON_PATH_H
#define FLOE_TEST_JSON_PATH_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static json_t *__attribute__((unused)) jget(json_t *o, const char *path)
{
	char key[128];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		if (json_is_array(o))
			o = json_array_get(o, strtoul(key, NULL, 10));
		else
			o = json_object_get(o, key);
		path += n + (dot ? 1 : 0);
	}
	return o;
}

#endif /* FLOE_TEST_JSON_PATH_H */
