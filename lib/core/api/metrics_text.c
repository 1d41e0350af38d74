/* SPDX-License-Identifier: Apache-2.0 */
#include "api/metrics_text.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

static int raw(struct entry_json_buf *o, const char *s)
{
	return entry_json_append_raw(o, s, strlen(s));
}

/* Text with backslash and newline escaped; quotes too in a label value (not in HELP). */
static int escaped(struct entry_json_buf *o, const char *s, bool quote)
{
	const char *run = s;
	int rc = 0;

	for (; *s; s++) {
		const char *esc = *s == '\\'	       ? "\\\\"
				  : *s == '\n'	       ? "\\n"
				  : quote && *s == '"' ? "\\\""
						       : NULL;
		if (!esc)
			continue;
		rc |= entry_json_append_raw(o, run, (size_t)(s - run));
		rc |= raw(o, esc);
		run = s + 1;
	}
	rc |= entry_json_append_raw(o, run, (size_t)(s - run));
	return rc;
}

int metrics_label_value(struct entry_json_buf *o, const char *s)
{
	return escaped(o, s, true) ? -ENOMEM : 0;
}

int metrics_family(struct entry_json_buf *o, const char *name, const char *type, const char *help)
{
	int rc = 0;

	if (help) {
		rc |= raw(o, "# HELP ");
		rc |= raw(o, name);
		rc |= raw(o, " ");
		rc |= escaped(o, help, false);
		rc |= raw(o, "\n");
	}
	rc |= raw(o, "# TYPE ");
	rc |= raw(o, name);
	rc |= raw(o, " ");
	rc |= raw(o, type);
	rc |= raw(o, "\n");
	return rc ? -ENOMEM : 0;
}

static void format_value(double v, char *out, size_t len)
{
	if (isnan(v))
		snprintf(out, len, "NaN");
	else if (isinf(v))
		snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact */
		snprintf(out, len, "%.0f", v);
	else
		snprintf(out, len, "%.17g", v);
}

int metrics_sample(struct entry_json_buf *o, const char *name, const char *const *labels,
		   double value)
{
	char v[64];
	bool any = false;
	int rc = raw(o, name);

	for (size_t i = 0; labels && labels[i]; i += 2) {
		if (!labels[i + 1])
			continue;
		rc |= raw(o, any ? "," : "{");
		rc |= raw(o, labels[i]);
		rc |= raw(o, "=\"");
		rc |= escaped(o, labels[i + 1], true);
		rc |= raw(o, "\"");
		any = true;
	}
	if (any)
		rc |= raw(o, "}");
	format_value(value, v, sizeof(v));
	rc |= raw(o, " ");
	rc |= raw(o, v);
	rc |= raw(o, "\n");
	return rc ? -ENOMEM : 0;
}

void metrics_name_sanitize(char *name)
{
	for (char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (p != name && *p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			*p = '_';
}

/* ---- query latency ---- */

void metrics_latency_observe(struct metrics_latency *l, int64_t ns)
{
	int b = 0;

	if (ns < 0)
		ns = 0;
	while (b < METRICS_LATENCY_BUCKETS && (double)ns / 1e9 > metrics_latency_bounds[b])
		b++;
	atomic_fetch_add_explicit(&l->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->sum_ns, (unsigned long long)ns, memory_order_relaxed);
}

int metrics_latency_json(const struct metrics_latency *l, struct entry_json_buf *o)
{
	unsigned long long c[METRICS_LATENCY_BUCKETS + 1], cum = 0;
	char line[96];
	int rc = 0;

	for (int b = 0; b <= METRICS_LATENCY_BUCKETS; b++)
		c[b] = atomic_load_explicit(&l->bucket[b], memory_order_relaxed);
	rc |= raw(o, "{\"buckets\":{");
	for (int b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
		cum += c[b];
		if (b < METRICS_LATENCY_BUCKETS)
			snprintf(line, sizeof(line), "%s\"%g\":%llu", b ? "," : "",
				 metrics_latency_bounds[b], cum);
		else
			snprintf(line, sizeof(line), ",\"+Inf\":%llu", cum);
		rc |= raw(o, line);
	}
	/* the sum read after the buckets: a call counted between the two reads makes the sum
	 * a little ahead of the count, never behind it */
	snprintf(line, sizeof(line), "},\"count\":%llu,\"sum_s\":%.9f}", cum,
		 (double)atomic_load_explicit(&l->sum_ns, memory_order_relaxed) / 1e9);
	rc |= raw(o, line);
	return rc ? -ENOMEM : 0;
}

#define MAX_LABELS 8

/* labels plus one more pair (k, v) at the end, into out (2 * MAX_LABELS + 3 slots). */
static void labels_plus(const char *const *labels, const char *k, const char *v, const char **out)
{
	size_t n = 0;

	for (size_t i = 0; labels && labels[i] && n < 2 * MAX_LABELS; i += 2) {
		out[n++] = labels[i];
		out[n++] = labels[i + 1];
	}
	out[n++] = k;
	out[n++] = v;
	out[n] = NULL;
}

int metrics_histogram_json(struct entry_json_buf *o, const char *name, const char *const *labels,
			   const json_t *hist)
{
	const char *l[2 * MAX_LABELS + 3];
	char n[160];
	const char *le;
	json_t *v;
	int rc = 0;

	snprintf(n, sizeof(n), "%s_bucket", name);
	json_object_foreach((json_t *)json_object_get(hist, "buckets"), le, v)
	{
		labels_plus(labels, "le", le, l);
		rc |= metrics_sample(o, n, l, json_number_value(v));
	}
	snprintf(n, sizeof(n), "%s_sum", name);
	rc |= metrics_sample(o, n, labels, json_number_value(json_object_get(hist, "sum_s")));
	snprintf(n, sizeof(n), "%s_count", name);
	rc |= metrics_sample(o, n, labels, json_number_value(json_object_get(hist, "count")));
	return rc ? -ENOMEM : 0;
}

/* ---- agents' statistics ---- */

/* A stats key as a label value of a family: {family, help, label, {key, label value}...}. */
struct keyed_family {
	const char *name, *type, *help, *label;
	struct {
		const char *key, *value;
	} keys[6];
};

static const struct keyed_family keyed[] = {
    {"floe_agent_packets_total",
     "counter",
     "Packets by stage: seen at the hooks, of tapped pods (targeted), recorded into the ring, "
     "written to the store.",
     "stage",
     {{"seen", "seen"},
      {"targeted", "targeted"},
      {"recorded", "recorded"},
      {"written", "written"}}},
    {"floe_agent_packets_dropped_total",
     "counter",
     "Packets of tapped pods lost, by cause: the kernel ring buffer was full, the store could "
     "not write them, the drain refused a malformed ring record, the dissection queue was "
     "full (still in the store, not dissected live).",
     "cause",
     {{"ringbuf_full", "ringbuf_full"},
      {"store_lost", "store_write"},
      {"records_bad_type", "bad_record_type"},
      {"records_bad_size", "bad_record_size"},
      {"dissect_queue_dropped", "dissect_queue"}}},
    {"floe_agent_packets_skipped_total",
     "counter",
     "Packets not recorded on purpose: the second copy of a pod-to-pod packet, or outside the "
     "capture scope a query pushed into the kernel.",
     "reason",
     {{"duplicate", "duplicate"}, {"out_of_scope", "out_of_scope"}}},
    {"floe_agent_store_evicted_packets_total",
     "counter",
     "Packets the store deleted to stay within its size limit.",
     NULL,
     {{"packets_evicted", NULL}}},
};

/* Objects of the stats written as labelled families; never flattened into gauges. */
static const char *const structured[] = {"entries_by_protocol", "parse_errors_by_protocol",
					 "dissector_events", "query_latency", NULL};

static bool is_structured(const char *key)
{
	for (size_t i = 0; structured[i]; i++)
		if (!strcmp(structured[i], key))
			return true;
	return false;
}

/* HELP text of gauges the flattening makes that deserve one. */
static const struct {
	const char *name, *help;
} gauge_help[] = {
    {"floe_agent_store_bytes", "Bytes in the PCAP store now."},
    {"floe_agent_ringbuf_bytes", "Size of the kernel ring buffer."},
    {"floe_agent_ringbuf_pending", "Bytes in the kernel ring buffer not yet drained (its fill)."},
    {"floe_agent_pods", "Pods tapped since the start (target ids given)."},
    {"floe_agent_cpu_s", "CPU seconds the agent used, every thread."},
    {"floe_agent_history_entries", "Entries written to the entry history."},
};

struct sample {
	char name[160];
	size_t agent;
	double value;
};

struct samples {
	struct sample *v;
	size_t n, cap;
	int err;
};

static void flatten(const json_t *j, const char *prefix, bool top, size_t agent, struct samples *s)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)j, key, v)
	{
		char name[160];
		int n;

		if (top && is_structured(key))
			continue;
		n = snprintf(name, sizeof(name), "%s_%s", prefix, key);
		if (n < 0 || (size_t)n >= sizeof(name))
			continue;
		metrics_name_sanitize(name);
		if (json_is_object(v)) {
			/* the triggers' counters are series labelled by trigger (trigger_series) */
			if (strcmp(name, "floe_agent_triggers_triggers"))
				flatten(v, name, false, agent, s);
			continue;
		}
		if (!json_is_number(v) && !json_is_boolean(v))
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 128;
			struct sample *nv = realloc(s->v, cap * sizeof(*nv));

			if (!nv) {
				s->err = -ENOMEM;
				return;
			}
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

static int keyed_families(struct entry_json_buf *o, size_t n, const char *const *names,
			  json_t *const *stats)
{
	int rc = 0;

	for (size_t f = 0; f < sizeof(keyed) / sizeof(keyed[0]); f++) {
		const struct keyed_family *k = &keyed[f];

		rc |= metrics_family(o, k->name, k->type, k->help);
		for (size_t i = 0; i < n; i++) {
			if (!stats[i])
				continue;
			for (size_t q = 0; q < 6 && k->keys[q].key; q++) {
				json_t *v = json_object_get(stats[i], k->keys[q].key);
				const char *l[] = {"agent", names[i], k->label, k->keys[q].value,
						   NULL};

				if (json_is_number(v))
					rc |= metrics_sample(o, k->name, l, json_number_value(v));
			}
		}
	}
	return rc;
}

/* stats[i][obj] = {PROTO: N} or {PROTO: {CAUSE: N}}: one counter family. */
static int protocol_family(struct entry_json_buf *o, size_t n, const char *const *names,
			   json_t *const *stats, const char *obj, const char *name,
			   const char *help, const char *inner_label)
{
	int rc = metrics_family(o, name, "counter", help);

	for (size_t i = 0; i < n; i++) {
		const char *proto, *cause;
		json_t *v, *w;

		json_object_foreach(json_object_get(stats[i], obj), proto, v)
		{
			if (json_is_number(v)) {
				const char *l[] = {"agent", names[i], "protocol", proto, NULL};

				rc |= metrics_sample(o, name, l, json_number_value(v));
				continue;
			}
			json_object_foreach(v, cause, w)
			{
				const char *l[] = {"agent",	names[i], "protocol", proto,
						   inner_label, cause,	  NULL};

				if (json_is_number(w))
					rc |= metrics_sample(o, name, l, json_number_value(w));
			}
		}
	}
	return rc;
}

static int latency_family(struct entry_json_buf *o, size_t n, const char *const *names,
			  json_t *const *stats)
{
	int rc = metrics_family(o, "floe_agent_query_seconds", "histogram",
				"Time the agent took to answer a hub's call, by call: query "
				"(entries of a query), get (one entry by id).");

	for (size_t i = 0; i < n; i++) {
		const char *call;
		json_t *h;

		json_object_foreach(json_object_get(stats[i], "query_latency"), call, h)
		{
			const char *l[] = {"agent", names[i], "call", call, NULL};

			rc |= metrics_histogram_json(o, "floe_agent_query_seconds", l, h);
		}
	}
	return rc;
}

/*
 * The triggers of every agent's stats ("triggers": {"triggers": {NAME: {matched, ...,
 * actions: {KIND: {sent, ...}}}}}, lib/node/trigger) as series with the trigger's name as a
 * label, never in the metric's name.
 */
static int trigger_series(struct entry_json_buf *o, size_t n, const char *const *names,
			  json_t *const *stats)
{
	static const char *const per_trigger[] = {
	    "floe_trigger_matched_total", "floe_trigger_fired_total",
	    "floe_trigger_rate_limited_total", "floe_trigger_deduplicated_total"};
	static const char *const keys[] = {"matched", "fired", "rate_limited", "deduplicated"};
	static const char *const outcomes[] = {"sent", "retried", "failed", "dropped"};
	bool any = false;
	int rc = 0;

	for (size_t i = 0; i < n && !any; i++)
		any = json_object_size(
			  json_object_get(json_object_get(stats[i], "triggers"), "triggers")) > 0;
	if (!any)
		return 0;
	for (size_t f = 0; f <= 4; f++) {
		rc |= f < 4 ? metrics_family(o, per_trigger[f], "counter", NULL)
			    : metrics_family(o, "floe_trigger_actions_total", "counter",
					     "Trigger actions by outcome.");
		for (size_t i = 0; i < n; i++) {
			json_t *all = json_object_get(json_object_get(stats[i], "triggers"),
						      "triggers"),
			       *t;
			const char *tn;

			json_object_foreach(all, tn, t)
			{
				if (f < 4) {
					const char *l[] = {"agent", names[i], "trigger", tn, NULL};

					rc |= metrics_sample(o, per_trigger[f], l,
							     (double)json_integer_value(
								 json_object_get(t, keys[f])));
					continue;
				}
				const char *an;
				json_t *a;

				json_object_foreach(json_object_get(t, "actions"), an, a)
				{
					for (size_t k = 0; k < 4; k++) {
						const char *l[] = {
						    "agent", names[i],	"trigger",   tn,  "action",
						    an,	     "outcome", outcomes[k], NULL};

						rc |= metrics_sample(
						    o, "floe_trigger_actions_total", l,
						    (double)json_integer_value(
							json_object_get(a, outcomes[k])));
					}
				}
			}
		}
	}
	return rc;
}

static const char *help_of(const char *name)
{
	for (size_t i = 0; i < sizeof(gauge_help) / sizeof(gauge_help[0]); i++)
		if (!strcmp(gauge_help[i].name, name))
			return gauge_help[i].help;
	return NULL;
}

int metrics_agent_stats(struct entry_json_buf *o, size_t n, const char *const *names,
			json_t *const *stats)
{
	json_t **ok = calloc(n ? n : 1, sizeof(*ok));
	const char **nm = calloc(n ? n : 1, sizeof(*nm));
	struct samples s = {0};
	size_t m = 0;
	int rc = 0;

	if (!ok || !nm) {
		free(ok);
		free(nm);
		return -ENOMEM;
	}
	/* the agents that answered, alone: every loop below may then take them as they are */
	for (size_t i = 0; i < n; i++)
		if (json_is_object(stats[i])) {
			ok[m] = stats[i];
			nm[m++] = names[i];
		}
	rc |= keyed_families(o, m, nm, ok);
	rc |= protocol_family(o, m, nm, ok, "entries_by_protocol", "floe_agent_entries_by_protocol_total",
			      "Entries dissected, by protocol (complete or not).", NULL);
	rc |= protocol_family(o, m, nm, ok, "parse_errors_by_protocol",
			      "floe_agent_parse_errors_total",
			      "Parse errors by dissector and cause: malformed (bytes the "
			      "dissector could not parse), buffer_overflow (a buffer it could not "
			      "consume, dropped).",
			      "cause");
	rc |= protocol_family(o, m, nm, ok, "dissector_events", "floe_agent_dissector_events_total",
			      "Each dissector's own event counters (docs/hub.md lists them).",
			      "event");
	rc |= latency_family(o, m, nm, ok);
	rc |= trigger_series(o, m, nm, ok);

	for (size_t i = 0; i < m; i++)
		flatten(ok[i], "floe_agent", true, i, &s);
	if (s.n)
		qsort(s.v, s.n, sizeof(s.v[0]), sample_cmp);
	for (size_t i = 0; i < s.n; i++) {
		const char *l[] = {"agent", nm[s.v[i].agent], NULL};

		if (i == 0 || strcmp(s.v[i].name, s.v[i - 1].name))
			rc |= metrics_family(o, s.v[i].name, "gauge", help_of(s.v[i].name));
		rc |= metrics_sample(o, s.v[i].name, l, s.v[i].value);
	}
	free(s.v);
	free(ok);
	free(nm);
	return rc || s.err ? -ENOMEM : 0;
}
