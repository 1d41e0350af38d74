/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared captures (../shared/captures, or FLOE_CAPTURES) for unit tests that run over all
 * of them: where they are and which files are captures. Included by test_read_file.c and
 * test_tcp_reasm_captures.c.
 */
#ifndef FLOE_TEST_CAPTURES_H
#define FLOE_TEST_CAPTURES_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *captures_dir(void)
{
	const char *d = getenv("FLOE_CAPTURES");

	return d && *d ? d : "../shared/captures";
}

/* A capture by its name's ending. */
static bool is_capture(const char *name)
{
	static const char *const ext[] = {".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap"};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);

		if (n > e && !strcmp(name + n - e, ext[i]))
			return true;
	}
	return false;
}

#endif /* FLOE_TEST_CAPTURES_H */
