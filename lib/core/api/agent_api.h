/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_api: what one agent offers to whoever queries it, whatever carries the calls.
 *
 * Three parties speak it (issue 16):
 *   - the agent's local implementation (its entry history and live entries, its PCAP store,
 *     its statistics), in floe-agent / floe tap;
 *   - the gRPC transport: a server that exposes any `struct agent_api` to the network, and a
 *     client that presents a remote agent as a `struct agent_api` again;
 *   - the hub, which holds one `struct agent_api` per agent, fans a query out to all of them and
 *     merges the answers in time order.
 * Tests plug in-memory implementations in any of those places.
 *
 * Entries cross the interface as the JSON text `floe read --json` prints (one object), with the
 * two values the merge needs beside it. Calls are blocking and may be made from several threads
 * at once on the same agent. Errors are negative errno values with a message in err.
 */
#ifndef FLOE_AGENT_API_H
#define FLOE_AGENT_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct agent_entry {
	const char *id;	  /* unique across agents and agent restarts (the agent assigns it) */
	int64_t ts_ns;	  /* Unix ns: the merge key (then id); KFL's `timestamp`: the request's
			     time, else the response's (docs/kfl.md) */
	const char *json; /* the entry as `floe read --json` prints it (with its "id") */
	size_t json_len;
	/* Optional: json parsed, when the implementation parsed it anyway (agent_local's follow,
	 * to match its filter), lent for the call, so that the callee does not parse it again;
	 * NULL: parse json. Whoever changes json (redaction) sets it to NULL. */
	const json_t *tree;
};

/* Called per entry; return 0 to go on, non-zero to stop early (the call then returns 0). */
typedef int (*agent_entry_fn)(const struct agent_entry *e, void *arg);
/* Called per chunk of a byte stream (PCAP: the first chunk starts with the file header). */
typedef int (*agent_bytes_fn)(const void *buf, size_t len, void *arg);

struct agent_query {
	const char *filter;   /* KFL text; NULL or "" = every entry */
	int64_t since_ns;     /* inclusive; 0 = from the oldest */
	int64_t until_ns;     /* exclusive; 0 = no bound */
	size_t limit;	      /* at most this many entries; 0 = no bound */
	int64_t after_ts_ns;  /* resume strictly after (after_ts_ns, after_id) in merge order */
	const char *after_id; /* NULL = from the start */
	int with_bodies;      /* 0: bodies left out of the JSON (listing); 1: entries in full */
};

/* Live subscription state, shared by the caller and the implementation. */
struct agent_follow {
	volatile int stop; /* set by the caller (any thread): the call returns soon after */
	/* set to 1 by the implementation once every entry completing from then on reaches fn
	 * (the subscription is in place); the caller clears it before the call */
	volatile int started;
	uint64_t
	    lost; /* entries this subscriber lost because it was slow (implementation counts) */
	/* Optional, set by the caller: called on the follow's thread each time started is set
	 * (agent_follow_started), so a caller that waits for the start sleeps on its own
	 * condition instead of polling started. It must not block. */
	void (*on_started)(struct agent_follow *f);
};

/* The implementation's side of started: the subscription is in place. */
static inline void agent_follow_started(struct agent_follow *f)
{
	f->started = 1;
	if (f->on_started)
		f->on_started(f);
}

struct agent_info {
	char name[64];	   /* agent's name (default: the node's host name) */
	char node[64];	   /* Kubernetes node or host name */
	char address[128]; /* how the caller reaches it ("10.0.0.2:8897"), "" for in-process */
	char version[32];
	int connected; /* 1 when the last call reached the agent */
	int64_t last_seen_ns;
	char error[256]; /* why it is not connected, "" when it is */
};

struct agent_api_ops {
	/* History: the entries matching q, in merge order (ts_ns, then id), at most q->limit. */
	int (*query)(void *self, const struct agent_query *q, agent_entry_fn fn, void *arg,
		     char *err, size_t errlen);
	/* One entry by id, in full; -ENOENT when this agent does not have it. */
	int (*get)(void *self, const char *id, agent_entry_fn fn, void *arg, char *err,
		   size_t errlen);
	/*
	 * Live: entries matching filter as they complete, until fn returns non-zero or f->stop
	 * is set. Never blocks the agent's capture or dissection: a slow caller loses entries,
	 * counted in f->lost.
	 */
	int (*follow)(void *self, const char *filter, struct agent_follow *f, agent_entry_fn fn,
		      void *arg, char *err, size_t errlen);
	/* One PCAP file of the packets of the connections behind the entries matching q. */
	int (*pcap)(void *self, const struct agent_query *q, agent_bytes_fn fn, void *arg,
		    char *err, size_t errlen);
	/* Health and capture statistics: a JSON object text, malloc'ed into *json_out. */
	int (*stats)(void *self, char **json_out, char *err, size_t errlen);
	void (*info)(void *self, struct agent_info *out);
	void (*destroy)(void *self);
	/*
	 * Triggers a hub defines (docs/triggers.md), and the snapshots triggers write. Optional:
	 * NULL when the agent runs no triggers (callers answer -ENOTSUP). JSON texts as
	 * proto/floe.proto's TriggersReply and SnapshotsReply describe them.
	 *
	 * triggers_set: json is a list of trigger objects replacing the ones a hub set before
	 * (all or none: -EINVAL with the first problem in err); version is the hub's name for it.
	 */
	int (*triggers_set)(void *self, const char *version, const char *json, char *err,
			    size_t errlen);
	/* {"version": V, "triggers": [...]}: every trigger with its counters, malloc'ed. */
	int (*triggers_list)(void *self, char **json_out, char *err, size_t errlen);
	/* [{"name", "trigger", "entry_id", "size", "mtime_ns"}], malloc'ed. */
	int (*snapshots)(void *self, char **json_out, char *err, size_t errlen);
	/* One snapshot's PCAP by its name (snapshot_name.h checks it): -ENOENT, -EINVAL. */
	int (*snapshot)(void *self, const char *name, agent_bytes_fn fn, void *arg, char *err,
			size_t errlen);
};

struct agent_api {
	const struct agent_api_ops *ops;
	void *self;
};

#endif /* FLOE_AGENT_API_H */
