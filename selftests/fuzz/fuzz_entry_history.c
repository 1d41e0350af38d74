// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for store/entry_history.c's segment reader: the input is one segment file
 * (zstd frames of "<ts> <id> <JSON>" lines, optionally ending in the 40-byte index frame).
 * Byte 0's low bit says whether a cut last frame is allowed (the segment being written); the
 * rest is the segment. Bytes 1..16 also give a time range to read (two little-endian int64).
 *
 * Checked: no crash or sanitizer report; every entry handed out has an id of 1..63 bytes
 * without spaces, a timestamp within the range, and JSON text that starts with '{', ends with
 * '}' and holds no newline; an error comes with a message saying where.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/entry_history.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct range {
	int64_t since, until;
};

static int check_entry(const char *id, int64_t ts, const char *json, size_t len, void *arg)
{
	const struct range *r = arg;
	size_t idlen = strlen(id);

	CHECK(idlen >= 1 && idlen <= ENTRY_HISTORY_ID_MAX && !strchr(id, ' '));
	CHECK(!r->since || ts >= r->since);
	CHECK(!r->until || ts < r->until);
	CHECK(len >= 2 && json[0] == '{' && json[len - 1] == '}' && !memchr(json, '\n', len));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct range r = {};
	char err[256] = "";
	int ret;

	if (size < 1)
		return 0;
	if (size >= 17 && (data[0] & 2)) {
		memcpy(&r.since, data + 1, 8);
		memcpy(&r.until, data + 9, 8);
		if (r.since < 0)
			r.since = 0;
		if (r.until < 0)
			r.until = 0;
		ret = entry_history_parse_segment(data + 17, size - 17, data[0] & 1, r.since,
						  r.until, check_entry, &r, err, sizeof(err));
	} else {
		ret = entry_history_parse_segment(data + 1, size - 1, data[0] & 1, 0, 0,
						  check_entry, &r, err, sizeof(err));
	}
	CHECK(ret == 0 || (ret == -EBADMSG && !strncmp(err, "damaged at byte ", 16)));
	return 0;
}
