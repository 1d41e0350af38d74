/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const double bucket_s[HUB_LATENCY_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
						     0.1,   0.25,   0.5,   1,	 2.5,	10};

static const char *const route_names[HUB_ROUTE_N] = {
    [HUB_ROUTE_ENTRIES] = "entries",   [HUB_ROUTE_ENTRY] = "entry",
    [HUB_ROUTE_STREAM] = "stream",     [HUB_ROUTE_PCAP] = "pcap",
    [HUB_ROUTE_AGENTS] = "agents",     [HUB_ROUTE_STATS] = "stats",
    [HUB_ROUTE_METRICS] = "metrics",   [HUB_ROUTE_SCHEMA] = "schema",
    [HUB_ROUTE_VALIDATE] = "validate", [HUB_ROUTE_UI] = "ui",
    [HUB_ROUTE_SERVICEMAP] = "servicemap", [HUB_ROUTE_OTHER] = "other",
    [HUB_ROUTE_TRIGGERS] = "triggers",     [HUB_ROUTE_SNAPSHOTS] = "snapshots",
};

const char *hub_route_name(enum hub_route r)
{
	return r < HUB_ROUTE_N ? route_names[r] : "other";
}

void hub_metrics_latency(struct hub_metrics *m, enum hub_route r, int64_t ns)
{
	int b = 0;
	while (b < HUB_LATENCY_BUCKETS && (double)ns / 1e9 > bucket_s[b])
		b++;
	atomic_fetch_add(&m->latency_bucket[r][b], 1);
	atomic_fetch_add(&m->latency_sum_ns[r], (unsigned long long)(ns < 0 ? 0 : ns));
}

static int put(struct entry_json_buf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int put(struct entry_json_buf *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return entry_json_append_raw(o, line,
				     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A label value with \, " and newlines escaped (the exposition format's rule). */
static void label_value(const char *s, char *out, size_t outlen)
{
	size_t j = 0;
	for (; *s && j + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[j++] = '\\';
			out[j++] = *s;
		} else if (*s == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
		} else {
			out[j++] = *s;
		}
	}
	out[j] = 0;
}

struct sample {
	char name[160];
	size_t agent;
	double value;
};

struct samples {
	struct sample *v;
	size_t n, cap;
};

/* Metric names are [a-zA-Z0-9_:]; anything else in a stats key becomes '_'. */
static void flatten(const json_t *j, const char *prefix, size_t agent, struct samples *s)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)j, key, v)
	{
		char name[160];
		int n = snprintf(name, sizeof(name), "%s_%s", prefix, key);
		if (n < 0 || (size_t)n >= sizeof(name))
			continue;
		for (char *p = name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_'))
				*p = '_';
		if (json_is_object(v)) {
			/* the triggers' counters are series labelled by trigger (trigger_series) */
			if (strcmp(name, "floe_agent_triggers_triggers"))
				flatten(v, name, agent, s);
			continue;
		}
		if (!json_is_number(v) && !json_is_boolean(v))
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct sample *nv = realloc(s->v, cap * sizeof(*nv));
			if (!nv)
				return;
			s->v = nv;
			s->cap = cap;
		}
		struct sample *x = &s->v[s->n++];
		snprintf(x->name, sizeof(x->name), "%s", name);
		x->agent = agent;
		x->value = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
	}
}

static int sample_cmp(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->agent < y->agent ? -1 : x->agent > y->agent;
}

/*
 * The triggers of every agent's stats ("triggers": {"triggers": {NAME: {matched, ...,
 * actions: {KIND: {sent, ...}}}}}, lib/node/trigger) as series with the trigger's name as a
 * label, never in the metric's name: one family at a time, as the text format wants them.
 */
static int trigger_series(struct entry_json_buf *o, size_t agents,
			  const char *const *agent_names, json_t *const *stats)
{
	static const char *const per_trigger[] = {"matched", "fired", "rate_limited",
						  "deduplicated"};
	static const char *const outcomes[] = {"sent", "retried", "failed", "dropped"};
	int rc = 0;

	for (size_t f = 0; f <= sizeof(per_trigger) / sizeof(per_trigger[0]); f++) {
		bool action = f == sizeof(per_trigger) / sizeof(per_trigger[0]);
		bool header = false;

		for (size_t i = 0; i < agents; i++) {
			json_t *all = json_object_get(json_object_get(stats[i], "triggers"),
						      "triggers"),
			       *t;
			const char *tn;
			char av[192], tv[192];

			label_value(agent_names[i], av, sizeof(av));
			json_object_foreach(all, tn, t) {
				if (!header) {
					if (action)
						rc |= put(o, "# HELP floe_trigger_actions_total "
							     "Trigger actions by outcome.\n"
							     "# TYPE floe_trigger_actions_total "
							     "counter\n");
					else
						rc |= put(o, "# TYPE floe_trigger_%s_total counter\n",
							  per_trigger[f]);
					header = true;
				}
				label_value(tn, tv, sizeof(tv));
				if (!action) {
					rc |= put(o, "floe_trigger_%s_total{agent=\"%s\",trigger=\"%s\"} "
						     "%lld\n",
						  per_trigger[f], av, tv,
						  (long long)json_integer_value(
						      json_object_get(t, per_trigger[f])));
					continue;
				}
				const char *an;
				json_t *a;
				json_object_foreach(json_object_get(t, "actions"), an, a) {
					char anv[96];

					label_value(an, anv, sizeof(anv));
					for (size_t k = 0; k < 4; k++)
						rc |= put(o,
							  "floe_trigger_actions_total{agent=\"%s\","
							  "trigger=\"%s\",action=\"%s\",outcome="
							  "\"%s\"} %lld\n",
							  av, tv, anv, outcomes[k],
							  (long long)json_integer_value(
							      json_object_get(a, outcomes[k])));
				}
			}
		}
	}
	return rc;
}

int hub_metrics_text(const struct hub_metrics *m, size_t agents, size_t connected,
		     const char *const *agent_names, const char *const *stats_json,
		     struct entry_json_buf *o)
{
	int rc = 0;
	rc |= put(o, "# HELP floe_hub_requests_total HTTP requests answered, by route.\n"
		     "# TYPE floe_hub_requests_total counter\n");
	for (int r = 0; r < HUB_ROUTE_N; r++)
		rc |= put(o, "floe_hub_requests_total{route=\"%s\"} %llu\n", route_names[r],
			  (unsigned long long)m->requests[r]);
	rc |= put(o, "# HELP floe_hub_request_errors_total Requests answered with a 4xx or 5xx "
		     "status, by route.\n# TYPE floe_hub_request_errors_total counter\n");
	for (int r = 0; r < HUB_ROUTE_N; r++)
		rc |= put(o, "floe_hub_request_errors_total{route=\"%s\"} %llu\n", route_names[r],
			  (unsigned long long)m->errors[r]);
	rc |= put(o, "# HELP floe_hub_entries_served_total Entries sent to clients, by route.\n"
		     "# TYPE floe_hub_entries_served_total counter\n");
	for (int r = HUB_ROUTE_ENTRIES; r <= HUB_ROUTE_STREAM; r++)
		rc |= put(o, "floe_hub_entries_served_total{route=\"%s\"} %llu\n", route_names[r],
			  (unsigned long long)m->entries[r]);
	rc |= put(o,
		  "# HELP floe_hub_stream_lost_total Entries WebSocket clients lost for being slow "
		  "(at the hub or at an agent).\n# TYPE floe_hub_stream_lost_total counter\n"
		  "floe_hub_stream_lost_total %llu\n",
		  (unsigned long long)m->stream_lost);
	rc |= put(o,
		  "# HELP floe_hub_streams_open WebSocket streams open.\n"
		  "# TYPE floe_hub_streams_open gauge\nfloe_hub_streams_open %llu\n",
		  (unsigned long long)m->streams_open);
	rc |= put(o,
		  "# HELP floe_hub_pcap_packets_total Packets sent in merged PCAP files.\n"
		  "# TYPE floe_hub_pcap_packets_total counter\nfloe_hub_pcap_packets_total %llu\n",
		  (unsigned long long)m->pcap_packets);
	rc |= put(o, "# HELP floe_hub_query_seconds Time to answer a query (fan-out, merge, "
		     "response ready), by route.\n# TYPE floe_hub_query_seconds histogram\n");
	for (int r = HUB_ROUTE_ENTRIES; r <= HUB_ROUTE_PCAP; r++) {
		if (r == HUB_ROUTE_STREAM)
			continue; /* a stream has no end to time */
		unsigned long long cum = 0;
		for (int b = 0; b <= HUB_LATENCY_BUCKETS; b++) {
			cum += m->latency_bucket[r][b];
			if (b < HUB_LATENCY_BUCKETS)
				rc |= put(
				    o,
				    "floe_hub_query_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
				    route_names[r], bucket_s[b], cum);
			else
				rc |= put(o,
					  "floe_hub_query_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
					  "%llu\n",
					  route_names[r], cum);
		}
		rc |= put(o, "floe_hub_query_seconds_sum{route=\"%s\"} %.9f\n", route_names[r],
			  (double)m->latency_sum_ns[r] / 1e9);
		rc |= put(o, "floe_hub_query_seconds_count{route=\"%s\"} %llu\n", route_names[r],
			  cum);
	}
	rc |= put(o,
		  "# HELP floe_hub_agents Agents the hub knows.\n# TYPE floe_hub_agents gauge\n"
		  "floe_hub_agents %zu\n"
		  "# HELP floe_hub_agents_connected Agents whose last call reached them.\n"
		  "# TYPE floe_hub_agents_connected gauge\nfloe_hub_agents_connected %zu\n",
		  agents, connected);

	struct samples s = {0};
	json_t **parsed = calloc(agents ? agents : 1, sizeof(*parsed));
	if (!parsed)
		return -ENOMEM;
	for (size_t i = 0; i < agents; i++) {
		if (!stats_json[i])
			continue;
		json_t *j = json_loads(stats_json[i], 0, NULL);
		if (json_is_object(j))
			flatten(j, "floe_agent", i, &s);
		parsed[i] = j;
	}
	rc |= trigger_series(o, agents, agent_names, parsed);
	for (size_t i = 0; i < agents; i++)
		json_decref(parsed[i]);
	free(parsed);
	if (s.n)
		qsort(s.v, s.n, sizeof(s.v[0]), sample_cmp);
	for (size_t i = 0; i < s.n; i++) {
		if (i == 0 || strcmp(s.v[i].name, s.v[i - 1].name))
			rc |= put(o, "# TYPE %s gauge\n", s.v[i].name);
		char lv[192];
		label_value(agent_names[s.v[i].agent], lv, sizeof(lv));
		rc |= put(o, "%s{agent=\"%s\"} %.17g\n", s.v[i].name, lv, s.v[i].value);
	}
	free(s.v);
	return rc ? -ENOMEM : 0;
}
