/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_name: the one check of a snapshot's file name, TRIGGER.ENTRY-ID.pcap
 * (docs/triggers.md). The hub checks a name before it asks an agent for the file, and the agent
 * checks it again before it opens anything in STORE/snapshots/: a name that passes is a plain
 * file name (no '/', no "..", no leading '.', no control bytes), so it cannot reach outside
 * that directory.
 */
#ifndef FLOE_SNAPSHOT_NAME_H
#define FLOE_SNAPSHOT_NAME_H

#include <stddef.h>

/* A trigger's name: 1-64 of A-Z a-z 0-9 - _ . , no '.' first, last or twice in a row. */
int trigger_name_ok(const char *name);

/*
 * 1 when name is TRIGGER.ENTRY-ID.pcap with a good trigger name and an entry id of 1-100 of
 * A-Z a-z 0-9 - _ (no '.'); the parts are copied into trigger and entry_id when not NULL
 * (their sizes: 65 and 101 bytes at least). 0 otherwise.
 */
int snapshot_name_parse(const char *name, char *trigger, size_t tlen, char *entry_id,
			size_t elen);

#endif /* FLOE_SNAPSHOT_NAME_H */
