/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_api_mem: an agent held in memory, behind the same `struct agent_api` as a real one.
 *
 * For tests of whatever sits on the other side of the interface (the gRPC transport, the hub):
 * entries and their packets are added by the test; query/get/follow/pcap/stats/info behave as
 * agent_api.h says, so a test can compare "through the wire" with "called directly". It can
 * also be made unreachable (every call fails with -ECONNREFUSED, info says so) to test how the
 * caller reports a lost agent.
 *
 * Entries are kept in merge order (ts_ns, then id) whatever order they are added in; follow()
 * delivers entries added after it started, in the order they were added.
 */
#ifndef FLOE_AGENT_API_MEM_H
#define FLOE_AGENT_API_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/agent_api.h"

struct agent_api_mem_opts {
	const char *name;	/* info().name and .node; default "mem" */
	size_t follow_queue;	/* entries a follower may fall behind before losing; default 1024 */
	bool unchecked_filters; /* filters not checked against the schema (synthetic entries) */
};

/* Returns 0 and *out (destroy through out->ops->destroy), or -ENOMEM. */
int agent_api_mem_new(const struct agent_api_mem_opts *opts, struct agent_api *out);

/*
 * Add one entry: json is one JSON object (copied; its "id" is set to id). Wakes followers.
 * -EINVAL when json does not parse as an object or id is taken, -ENOMEM.
 */
int agent_api_mem_add(struct agent_api *api, const char *id, int64_t ts_ns, const char *json);

/* Attach one Ethernet frame to entry id; pcap() writes the frames of matching entries. */
int agent_api_mem_add_packet(struct agent_api *api, const char *id, int64_t ts_ns,
			     const void *frame, size_t len);

/* Make every call fail with -ECONNREFUSED (down = true), or answer again. */
void agent_api_mem_set_down(struct agent_api *api, bool down);

/* Entries followers lost so far (all followers together). */
uint64_t agent_api_mem_lost(struct agent_api *api);

/* Followers registered now: a test waits for its follower before adding what it must see. */
size_t agent_api_mem_followers(struct agent_api *api);

/*
 * Remove the bodies' contents ("text", "base64" of every object under a "body" key) from an
 * entry: what a listing without bodies (agent_query.with_bodies = 0) shows. Sizes stay.
 */
struct json_t;
void agent_entry_strip_bodies(struct json_t *entry);

#endif /* FLOE_AGENT_API_MEM_H */
