/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_query: a query fanned out to every agent and the answers merged in time order.
 *
 * Merge order is the agents' own (agent_api.h): ts_ns, then id (byte order). Ids are unique
 * across agents, so the order is total and a cursor, the (ts_ns, id) of the last entry served,
 * resumes exactly: every agent is asked for what comes strictly after it.
 */
#ifndef FLOE_HUB_QUERY_H
#define FLOE_HUB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/agent_api.h"

/* One entry copied out of an agent's callback. */
struct hub_entry {
	int64_t ts_ns;
	char *id;
	char *json;
	size_t json_len;
	size_t agent; /* index of the agent it came from */
};

struct hub_entries {
	struct hub_entry *v;
	size_t n, cap;
};

/* Why an agent's part is missing from an answer. */
struct hub_agent_error {
	size_t agent;
	int code; /* negative errno */
	char msg[256];
};

struct hub_errors {
	struct hub_agent_error *v;
	size_t n;
};

/*
 * Ask agents[0..n-1] for q (in parallel, one thread each), merge, and keep the first q->limit
 * (all when 0). Agents that fail are left out and listed in errs (a bad filter fails on every
 * agent with -EINVAL). Returns 0, or -ENOMEM.
 */
int hub_query_entries(struct agent_api *agents, size_t n, const struct agent_query *q,
		      struct hub_entries *out, struct hub_errors *errs);

/*
 * fn(i, arg) for i in 0..n-1, in parallel (a thread each; the last on the calling thread), and
 * back when all have returned. Agents' calls block, possibly on the network: this keeps a
 * request's time the slowest agent's, not their sum.
 */
void hub_fanout(size_t n, void (*fn)(size_t i, void *arg), void *arg);

/* Sort by (ts_ns, id). */
void hub_entries_sort(struct hub_entries *e);
/* -1, 0, 1 as (ats, aid) comes before, is, comes after (bts, bid). */
int hub_order_cmp(int64_t ats, const char *aid, int64_t bts, const char *bid);
/* Append a copy of e (from agent i). 0 or -ENOMEM. */
int hub_entries_add(struct hub_entries *out, const struct agent_entry *e, size_t agent);
void hub_entries_free(struct hub_entries *e);
void hub_errors_free(struct hub_errors *e);

/*
 * A time parameter: Unix nanoseconds (digits) or RFC 3339 ("2026-12-06T16:46:30Z",
 * "...30.123456789+01:00"). 0, or -EINVAL with why in err.
 */
int hub_parse_time(const char *s, int64_t *out, char *err, size_t errlen);

/*
 * The cursor after (ts_ns, id): "<ts_ns>.<id in hex>", so that it is opaque to URL encoding.
 * Returns the characters written (without the NUL), or -ENOSPC.
 */
int hub_cursor_encode(int64_t ts_ns, const char *id, char *out, size_t outlen);
/* Decode into *ts and a malloc'ed *id. 0, -EINVAL (not a cursor) or -ENOMEM. */
int hub_cursor_decode(const char *s, int64_t *ts, char **id);

/*
 * The column of a filter error message ("column 12: ..."), 0 when it names none. KFL errors
 * (the filter of lib/core) start that way.
 */
int hub_error_column(const char *msg);

#endif /* FLOE_HUB_QUERY_H */
