// SPDX-License-Identifier: Apache-2.0
/* The snapshot file name check (snapshot_name.h). */
#include "api/snapshot_name.h"

#include <stdio.h>
#include <string.h>

#define TRIGGER_NAME_MAX 64
#define ENTRY_ID_MAX	 100

static int word_char(char c)
{
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
	       c == '-' || c == '_';
}

int trigger_name_ok(const char *s)
{
	size_t n = strlen(s);

	/* '.' never first, last nor twice in a row: the name is part of a file name
	 * (TRIGGER.ENTRY-ID.pcap), which then holds no ".." */
	if (!n || n > TRIGGER_NAME_MAX || *s == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return 0;
	for (; *s; s++)
		if (!word_char(*s) && *s != '.')
			return 0;
	return 1;
}

int snapshot_name_parse(const char *name, char *trigger, size_t tlen, char *entry_id,
			size_t elen)
{
	size_t n = strlen(name), id_start, tn;
	char t[TRIGGER_NAME_MAX + 1];

	/* shortest: "a.b.pcap" */
	if (n < 8 || n > TRIGGER_NAME_MAX + ENTRY_ID_MAX + 6 || strcmp(name + n - 5, ".pcap"))
		return 0;
	/* the entry id runs back from ".pcap" to the last '.' before it */
	id_start = n - 5;
	while (id_start > 0 && name[id_start - 1] != '.') {
		if (!word_char(name[id_start - 1]))
			return 0;
		id_start--;
	}
	if (id_start < 2 || id_start == n - 5 || n - 5 - id_start > ENTRY_ID_MAX)
		return 0;
	tn = id_start - 1;
	if (tn > TRIGGER_NAME_MAX)
		return 0;
	memcpy(t, name, tn);
	t[tn] = '\0';
	if (!trigger_name_ok(t))
		return 0;
	if (trigger)
		snprintf(trigger, tlen, "%s", t);
	if (entry_id)
		snprintf(entry_id, elen, "%.*s", (int)(n - 5 - id_start), name + id_start);
	return 1;
}
