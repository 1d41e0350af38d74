/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_metrics: the hub's own counters, and their Prometheus text exposition (GET /metrics).
 * Updated from any thread (atomics); read while serving /metrics.
 */
#ifndef FLOE_HUB_METRICS_H
#define FLOE_HUB_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "entry/entry_json.h"

enum hub_route {
	HUB_ROUTE_ENTRIES,
	HUB_ROUTE_ENTRY,
	HUB_ROUTE_STREAM,
	HUB_ROUTE_PCAP,
	HUB_ROUTE_AGENTS,
	HUB_ROUTE_STATS,
	HUB_ROUTE_METRICS,
	HUB_ROUTE_SCHEMA,
	HUB_ROUTE_VALIDATE,
	HUB_ROUTE_TRIGGERS,  /* /api/v1/triggers and /triggers/{name} (hub_triggers.h) */
	HUB_ROUTE_SNAPSHOTS, /* /api/v1/snapshots and /snapshots/{agent}/{file} */
	HUB_ROUTE_UI, /* the web UI's static files (hub_static.h) */
	HUB_ROUTE_SERVICEMAP,
	HUB_ROUTE_OTHER,
	HUB_ROUTE_N
};

/* Upper bounds (seconds) of the query latency histogram's buckets; +Inf is implied. */
#define HUB_LATENCY_BUCKETS 12

struct hub_metrics {
	atomic_ullong requests[HUB_ROUTE_N];
	atomic_ullong errors[HUB_ROUTE_N];  /* answered with a 4xx or 5xx */
	atomic_ullong entries[HUB_ROUTE_N]; /* entries served */
	atomic_ullong stream_lost;	    /* entries WebSocket clients lost (hub and agents) */
	atomic_ullong pcap_packets;
	atomic_ullong latency_bucket[HUB_ROUTE_N][HUB_LATENCY_BUCKETS + 1];
	atomic_ullong latency_sum_ns[HUB_ROUTE_N];
	atomic_ullong streams_open;
};

const char *hub_route_name(enum hub_route r);
void hub_metrics_latency(struct hub_metrics *m, enum hub_route r, int64_t ns);

/*
 * Append the exposition: the hub's series, then agents_connected / agents, then each agent's
 * statistics (the numbers of its stats JSON, nested keys joined by '_') as
 * floe_agent_<key>{agent="NAME"}. stats_json[i] may be NULL (the agent did not answer).
 */
int hub_metrics_text(const struct hub_metrics *m, size_t agents, size_t connected,
		     const char *const *agent_names, const char *const *stats_json,
		     struct entry_json_buf *out);

#endif /* FLOE_HUB_METRICS_H */
