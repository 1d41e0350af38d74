/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay: `floe tap --pcap FILE`: a capture file through the agent's path (PCAP store, entry
 * history, agent_api) instead of the kernel's hooks. See docs/hub.md.
 */
#ifndef FLOE_TAP_REPLAY_H
#define FLOE_TAP_REPLAY_H

#include <stdbool.h>
#include <stdio.h>

#include "tap/tap.h"

struct pcap_store;
struct entry_history;
struct agent_local;
struct queue_budget;

/* What the tap and the replay keep their packets and entries in. */
struct tap_stores {
	struct pcap_store *store;
	struct entry_history *history; /* NULL with --no-history */
	struct agent_local *agent;     /* the agent_api over them; NULL with --no-history */
};

/*
 * Open the PCAP store and (unless --no-history) the entry history and the agent over them,
 * splitting --storagelimit between them (docs/storage.md, "Entry history"). stats: the
 * agent's stats call (NULL: the history's counters). budget: the queues' shared memory budget
 * (--queue-memory) the store and the history join, or NULL. On error what was opened is in s (the
 * caller closes it) and err says why.
 */
int tap_stores_open(const struct tap_options *o, bool replay, struct queue_budget *budget,
		    int (*stats)(void *, const char *, char **), void *stats_ctx,
		    struct tap_stores *s, char *err, size_t errlen);

/*
 * Copy o->pcap_file's packets (pcap or pcapng, Ethernet, not compressed) into the store and
 * its entries into the history (and to out with --json/--entries). With o->agent_started set,
 * serve the agent_api afterwards until SIGINT/SIGTERM or o->duration. Returns an exit code.
 */
int tap_replay(const struct tap_options *o, FILE *out, FILE *log);

#endif /* FLOE_TAP_REPLAY_H */
