/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/metrics_text.h"

_Static_assert(HUB_LATENCY_BUCKETS == METRICS_LATENCY_BUCKETS, "one set of latency buckets");

static const char *const route_names[HUB_ROUTE_N] = {
    [HUB_ROUTE_ENTRIES] = "entries",	   [HUB_ROUTE_ENTRY] = "entry",
    [HUB_ROUTE_STREAM] = "stream",	   [HUB_ROUTE_PCAP] = "pcap",
    [HUB_ROUTE_AGENTS] = "agents",	   [HUB_ROUTE_STATS] = "stats",
    [HUB_ROUTE_METRICS] = "metrics",	   [HUB_ROUTE_SCHEMA] = "schema",
    [HUB_ROUTE_VALIDATE] = "validate",	   [HUB_ROUTE_UI] = "ui",
    [HUB_ROUTE_SERVICEMAP] = "servicemap", [HUB_ROUTE_OTHER] = "other",
    [HUB_ROUTE_TRIGGERS] = "triggers",	   [HUB_ROUTE_SNAPSHOTS] = "snapshots",
};

const char *hub_route_name(enum hub_route r)
{
	return r < HUB_ROUTE_N ? route_names[r] : "other";
}

void hub_metrics_latency(struct hub_metrics *m, enum hub_route r, int64_t ns)
{
	int b = 0;
	while (b < HUB_LATENCY_BUCKETS && (double)ns / 1e9 > metrics_latency_bounds[b])
		b++;
	atomic_fetch_add(&m->latency_bucket[r][b], 1);
	atomic_fetch_add(&m->latency_sum_ns[r], (unsigned long long)(ns < 0 ? 0 : ns));
}

int hub_metrics_text(const struct hub_metrics *m, size_t agents, size_t connected,
		     const char *const *agent_names, const char *const *stats_json,
		     struct entry_json_buf *o)
{
	int rc = 0;

	rc |= metrics_family(o, "floe_hub_requests_total", "counter",
			     "HTTP requests answered, by route.");
	for (int r = 0; r < HUB_ROUTE_N; r++)
		rc |= metrics_sample(o, "floe_hub_requests_total",
				     (const char *[]){"route", route_names[r], NULL},
				     (double)m->requests[r]);
	rc |= metrics_family(o, "floe_hub_request_errors_total", "counter",
			     "Requests answered with a 4xx or 5xx status, by route.");
	for (int r = 0; r < HUB_ROUTE_N; r++)
		rc |= metrics_sample(o, "floe_hub_request_errors_total",
				     (const char *[]){"route", route_names[r], NULL},
				     (double)m->errors[r]);
	rc |= metrics_family(o, "floe_hub_entries_served_total", "counter",
			     "Entries sent to clients, by route.");
	for (int r = HUB_ROUTE_ENTRIES; r <= HUB_ROUTE_STREAM; r++)
		rc |= metrics_sample(o, "floe_hub_entries_served_total",
				     (const char *[]){"route", route_names[r], NULL},
				     (double)m->entries[r]);
	rc |= metrics_family(o, "floe_hub_stream_lost_total", "counter",
			     "Entries WebSocket clients lost for being slow (at the hub or at an "
			     "agent).");
	rc |= metrics_sample(o, "floe_hub_stream_lost_total", NULL, (double)m->stream_lost);
	rc |= metrics_family(o, "floe_hub_streams_open", "gauge", "WebSocket streams open.");
	rc |= metrics_sample(o, "floe_hub_streams_open", NULL, (double)m->streams_open);
	rc |= metrics_family(o, "floe_hub_pcap_packets_total", "counter",
			     "Packets sent in merged PCAP files.");
	rc |= metrics_sample(o, "floe_hub_pcap_packets_total", NULL, (double)m->pcap_packets);
	rc |= metrics_family(o, "floe_hub_query_seconds", "histogram",
			     "Time to answer a query (fan-out, merge, response ready), by route.");
	for (int r = HUB_ROUTE_ENTRIES; r <= HUB_ROUTE_PCAP; r++) {
		unsigned long long cum = 0;
		char le[32];

		if (r == HUB_ROUTE_STREAM)
			continue; /* a stream has no end to time */
		for (int b = 0; b <= HUB_LATENCY_BUCKETS; b++) {
			cum += m->latency_bucket[r][b];
			if (b < HUB_LATENCY_BUCKETS)
				snprintf(le, sizeof(le), "%g", metrics_latency_bounds[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			rc |= metrics_sample(
			    o, "floe_hub_query_seconds_bucket",
			    (const char *[]){"route", route_names[r], "le", le, NULL}, (double)cum);
		}
		rc |= metrics_sample(o, "floe_hub_query_seconds_sum",
				     (const char *[]){"route", route_names[r], NULL},
				     (double)m->latency_sum_ns[r] / 1e9);
		rc |= metrics_sample(o, "floe_hub_query_seconds_count",
				     (const char *[]){"route", route_names[r], NULL}, (double)cum);
	}
	rc |= metrics_family(o, "floe_hub_agents", "gauge", "Agents the hub knows.");
	rc |= metrics_sample(o, "floe_hub_agents", NULL, (double)agents);
	rc |= metrics_family(o, "floe_hub_agents_connected", "gauge",
			     "Agents whose last call reached them.");
	rc |= metrics_sample(o, "floe_hub_agents_connected", NULL, (double)connected);

	json_t **parsed = calloc(agents ? agents : 1, sizeof(*parsed));
	if (!parsed)
		return -ENOMEM;
	for (size_t i = 0; i < agents; i++)
		parsed[i] = stats_json[i] ? json_loads(stats_json[i], 0, NULL) : NULL;
	rc |= metrics_agent_stats(o, agents, agent_names, parsed);
	for (size_t i = 0; i < agents; i++)
		json_decref(parsed[i]);
	free(parsed);
	return rc ? -ENOMEM : 0;
}
