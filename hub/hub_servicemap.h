/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_servicemap: GET /api/v1/servicemap (docs/hub.md): the entries a KFL query matches in a
 * time window, over every agent's history, folded into a graph as they stream past: nodes
 * (pods, services, else names or addresses, keyed by namespace) and one edge per client,
 * server and protocol with its request count, rate, error count and rate, and p50/p99 latency.
 *
 * Memory is bounded whatever the window holds: entries are never kept, only the graph (at
 * most max_nodes nodes and max_edges edges; entries that would need more are counted in
 * "dropped") and the latencies the percentiles need (at most max_samples in all; an edge
 * whose latencies did not all fit says how many its percentiles are over).
 */
#ifndef FLOE_HUB_SERVICEMAP_H
#define FLOE_HUB_SERVICEMAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/agent_api.h"
#include "hub_query.h"

struct hub_map_limits {
	size_t max_nodes;   /* 0 = 2048 */
	size_t max_edges;   /* 0 = 4096 */
	size_t max_samples; /* latencies kept for the percentiles, all edges; 0 = 1,000,000 */
};

struct hub_map;

/* An empty graph. NULL when out of memory. */
struct hub_map *hub_map_new(const struct hub_map_limits *lim);

/*
 * Fold one entry (its JSON text, as agents give it) in. Safe from several threads at once.
 * 0, -EINVAL (not a JSON object: counted in "unreadable", nothing else changes) or -ENOMEM.
 */
int hub_map_add(struct hub_map *m, const char *json, size_t len);

/*
 * The graph as the route answers it, rates over window_s seconds:
 * {"window_s", "entries", "dropped", "unreadable", "nodes":[{"id","name","namespace","kind"}],
 *  "edges":[{"source","target","protocol","requests","errors","rate","error_rate","p50_ms",
 *  "p99_ms","latency_samples"}]}, nodes by id, edges by (source, target, protocol).
 * NULL when out of memory.
 */
json_t *hub_map_json(struct hub_map *m, double window_s);

void hub_map_free(struct hub_map *m);

/*
 * The route's work: ask every agent (in parallel) for the entries matching filter in
 * [since_ns, until_ns), bodies left out, and fold them into one graph. Agents that fail are
 * listed in errs. Each agent is asked a page (10,000 entries) at a time, so that neither side
 * holds a whole window. 0 and *out, or -ENOMEM.
 */
int hub_servicemap(struct agent_api *agents, size_t n, const char *filter, int64_t since_ns,
		   int64_t until_ns, const struct hub_map_limits *lim, json_t **out,
		   struct hub_errors *errs);

#endif /* FLOE_HUB_SERVICEMAP_H */
