// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the configuration file (lib/node/config: libyaml into floe's tree) and
 * what reads it: the tap flags it becomes (config_argv's conversion, through a file) and the
 * triggers' section (lib/node/trigger). Besides memory safety it checks that:
 *   - an error names the file ("fuzz.yaml:LINE: ...");
 *   - what `floe config` prints of an accepted file parses again (the printer quotes what
 *     must be quoted).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tap/tap.h"
#include "trigger/trigger.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL, *back = NULL;
	struct trigger_set *ts = NULL;
	char err[1024], *text = NULL, *argv[] = {"tap", NULL};
	size_t len = 0;
	FILE *m;
	int ret;

	if (size > 1 << 16)
		return 0;
	ret = config_parse("fuzz.yaml", (const char *)data, size, &c, err, sizeof(err));
	if (ret) {
		CHECK(ret == -EINVAL || ret == -ENOMEM);
		if (ret == -EINVAL)
			CHECK(!strncmp(err, "fuzz.yaml:", 10));
		return 0;
	}
	m = open_memstream(&text, &len);
	CHECK(m);
	CHECK(config_print(c, 1, argv, tap_flags(), m) == 0);
	fclose(m);
	ret = config_parse("printed", text, len, &back, err, sizeof(err));
	if (ret)
		fprintf(stderr, "printed text does not parse: %s\n---\n%s\n---\n", err, text);
	CHECK(ret == 0);
	config_free(back);
	free(text);
	/* the triggers of the file (compiled, not started) */
	if (trigger_set_new(c, "/nonexistent", stderr, &ts, err, sizeof(err)) == 0)
		trigger_set_free(ts);
	config_set(c, "tap.snaplen=100", err, sizeof(err));
	config_set(c, "a.b.c=d", err, sizeof(err));
	config_free(c);
	return 0;
}
