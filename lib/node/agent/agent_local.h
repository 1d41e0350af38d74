/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_local: the agent side of `struct agent_api` (api/agent_api.h) over this node's store:
 * the entry history (store/entry_history.h), live entries handed in by the tap, the PCAP
 * segments (store/pcap_store.h) and the tap's statistics. The gRPC transport serves it to the
 * hub; `floe history` uses it on a store directory without a running tap.
 *
 *   agent_local_new(&cfg, &a);          a tap: cfg.history is its writer
 *   agent_local_publish(a, id, ts, json, len);   per completed entry, dissection thread
 *   struct agent_api api = agent_local_api(a);   ...api.ops->destroy(api.self) frees a
 *
 * docs/hub.md ("The agent side") says what each call does and its limits.
 */
#ifndef FLOE_AGENT_LOCAL_H
#define FLOE_AGENT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/agent_api.h"

struct entry_history;
struct pcap_store;

/* Seconds of packets kept around an entry's own time span when its connection's packets are
 * picked for agent_api pcap (the handshake before the request, the close after). */
#define AGENT_PCAP_SLACK_NS 30000000000ll

struct agent_local_config {
	const char *store_dir;	       /* the PCAP store (and entries/ in it) */
	struct entry_history *history; /* a running writer (synced before queries), or NULL */
	struct pcap_store *store;      /* the running store of store_dir (synced before a pcap
					  export; see agent_local_detach_store), or NULL */
	const char *name;	       /* NULL: this host's name */
	const char *node;	       /* NULL: name */
	/* The tap's statistics object (its --stats-json keys) into *json_out (malloc'ed), with
	 * members (the agent's own: `"key":value,...`, no braces) as its last members; NULL: the
	 * history's own counters. Returns 0 or -ENOMEM. */
	int (*stats)(void *ctx, const char *members, char **json_out);
	void *stats_ctx;
	size_t follow_queue; /* entries waiting per live subscriber; 0: 4096 */
};

struct agent_local;

int agent_local_new(const struct agent_local_config *cfg, struct agent_local **out, char *err,
		    size_t errlen);

/* Before the store given in the config is closed: waits for a pcap call syncing it, and
 * later calls read the files as they are. */
void agent_local_detach_store(struct agent_local *a);

/* The interface over a (destroy through it frees a). */
struct agent_api agent_local_api(struct agent_local *a);

/*
 * One completed entry, from the dissection thread: copied into each live subscriber's queue,
 * or counted lost for a subscriber whose queue is full. Never waits for a subscriber.
 */
void agent_local_publish(struct agent_local *a, const char *id, int64_t ts_ns, const char *json,
			 size_t json_len);

struct entry;
struct entry_json_buf;

/*
 * One completed entry (the dissection sink's): its JSON made once in buf (reused), then kept
 * in the history h and offered to a's live subscribers (either may be NULL). Its ts is the
 * merge key: the request's first byte, else the response's.
 */
void agent_local_entry(struct agent_local *a, struct entry_history *h, struct entry_json_buf *buf,
		       const struct entry *e);

#endif /* FLOE_AGENT_LOCAL_H */
