/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_text: the Prometheus text exposition format (version 0.0.4), written in one place for
 * the hub's GET /metrics (hub/hub_metrics.c) and the agent's (floe-agent --metrics).
 *
 *   metrics_family(o, "floe_x_total", "counter", "What it counts.");   # HELP and # TYPE
 *   metrics_sample(o, "floe_x_total", (const char *[]){"agent", a, NULL}, 3);
 *
 * Label values are escaped as the format says (\\, \" and \n); HELP text likewise (\\ and
 * \n). Names are the caller's and must already be [a-zA-Z_:][a-zA-Z0-9_:]*
 * (metrics_name_sanitize makes one so). Every sample of a family follows its HELP/TYPE lines,
 * and no family appears twice: callers write one family at a time.
 *
 * Also here: the query-latency histogram both ends keep (atomic, any thread) and its JSON form
 * in an agent's stats, and metrics_agent_stats(), which turns agents' stats JSON objects into
 * the floe_agent_* families (docs/hub.md, "Metrics") for either endpoint.
 */
#ifndef FLOE_METRICS_TEXT_H
#define FLOE_METRICS_TEXT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "entry/entry_json.h"

/* "# HELP name help\n# TYPE name type\n" (no HELP line when help is NULL). 0 or -ENOMEM. */
int metrics_family(struct entry_json_buf *o, const char *name, const char *type, const char *help);

/*
 * One sample line: name{k1="v1",...} value. labels: key, value, key, value, ..., NULL (or
 * NULL for none); a NULL value leaves that label out. Values print as integers when they are
 * whole, else with 17 significant digits; NaN and infinities as the format spells them.
 */
int metrics_sample(struct entry_json_buf *o, const char *name, const char *const *labels,
		   double value);

/* Append a label value escaped (without the quotes). */
int metrics_label_value(struct entry_json_buf *o, const char *s);

/* Replace every character a metric name cannot hold by '_' (a leading digit too). */
void metrics_name_sanitize(char *name);

/* ---- query latency ---- */

#define METRICS_LATENCY_BUCKETS 12 /* upper bounds below; +Inf is implied */
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

struct metrics_latency {
	atomic_ullong bucket[METRICS_LATENCY_BUCKETS + 1]; /* not cumulative; last: +Inf */
	atomic_ullong sum_ns;
};

void metrics_latency_observe(struct metrics_latency *l, int64_t ns);

/* {"count":N,"sum_s":S,"buckets":{"0.001":C,...,"+Inf":N}} (cumulative counts) into o. */
int metrics_latency_json(const struct metrics_latency *l, struct entry_json_buf *o);

/*
 * A histogram family's samples from that JSON form: name_bucket{labels...,le}, name_sum,
 * name_count. labels as for metrics_sample (at most 8 pairs). The caller wrote the family.
 */
int metrics_histogram_json(struct entry_json_buf *o, const char *name, const char *const *labels,
			   const json_t *hist);

/*
 * The floe_agent_* families of n agents: stats[i] is agent i's stats object (NULL: it did not
 * answer; left out), named[i] its name (the agent label). Packets by stage and drops by cause,
 * entries by protocol, parse errors by protocol and cause, dissector events, ring buffer and
 * store gauges, query latency histograms, triggers; then every other number of the stats as a
 * gauge floe_agent_<key> (nested keys joined by '_').
 */
int metrics_agent_stats(struct entry_json_buf *o, size_t n, const char *const *names,
			json_t *const *stats);

#endif /* FLOE_METRICS_TEXT_H */
