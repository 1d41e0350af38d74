/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `floe history`: the local agent_api (agent/agent_local.h) on a store directory from the
 * command line: the entries of a time range matching a filter, resumable with a cursor, one
 * entry by id, or the PCAP of the matching entries' connections (docs/hub.md).
 */
#ifndef FLOE_HISTORY_CMD_H
#define FLOE_HISTORY_CMD_H

#include <stdint.h>

/* argv[0] is the command name. Returns a process exit code (0, 1: failed, 2: usage). */
int history_main(const char *prog, int argc, char **argv);

/* "1796000000123456789" (Unix ns) or RFC 3339 "2026-12-06T16:50:00.123456789Z" (also
 * "+01:00" offsets, and fewer digits of the fraction). 0, or -EINVAL. */
int history_parse_time(const char *s, int64_t *out);

#endif /* FLOE_HISTORY_CMD_H */
