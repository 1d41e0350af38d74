// SPDX-License-Identifier: Apache-2.0
/*
 * Benchmark of the triggers' per-entry cost (lib/node/trigger), as the follow thread pays it:
 *   follow   the union filter of every trigger over the entry's JSON (what the agent's follow
 *            does before handing an entry over)
 *   offer    trigger_set_offer on the tree the follow parsed (lent, agent_entry.tree): each
 *            trigger's query matched, de-dup and rate limit, jobs queued (the actions here are
 *            counters: no queue, no I/O); measured as follow-and-offer minus follow
 *   total_parsing_twice  the follow as it was before the tree was lent: the union filter,
 *            then trigger_set_offer parsing the text again
 * for 1 and for N triggers (default 100) over the entries of a file (one JSON entry per line,
 * as `floe read --json` prints them), looped for at least --seconds. Prints one line per case:
 *   triggers=N follow_us=X offer_us=Y total_us=Z entries_per_s=R matched_per_entry=M
 *   total_parsing_twice_us=P
 * usage: trigger_bench ENTRIES.jsonl [N] [SECONDS]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config/config.h"
#include "entry/entry_filter.h"
#include "trigger/trigger.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* N queries of the kinds users write: status classes, paths, methods, DNS, Redis, sizes. */
static char *triggers_yaml(int n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	fputs("triggers:\n", m);
	for (int i = 0; i < n; i++) {
		fprintf(m, "  - name: t%d\n    query: '", i);
		switch (i % 8) {
		case 0:
			fprintf(m, "http and response.status == %d", 400 + i % 100);
			break;
		case 1:
			fprintf(m, "http and request.path.startsWith(\"/p%d\")", i);
			break;
		case 2:
			fprintf(m, "http and request.method == \"DELETE\" and elapsed_ms > %d", i);
			break;
		case 3:
			fprintf(m, "dns and response.rcode == \"NXDOMAIN\"");
			break;
		case 4:
			fprintf(m, "redis and request.command == \"FLUSHALL\"");
			break;
		case 5:
			fprintf(m, "response_size > %d", 100000 + i);
			break;
		case 6:
			fprintf(m, "http and request.headers[\"user-agent\"].contains(\"bot%d\")",
				i);
			break;
		default:
			fprintf(m, "http and response.status >= 500");
			break;
		}
		fputs("'\n    actions: [{counter: true}]\n", m);
	}
	fclose(m);
	return text;
}

/* Rounds of follow-alone and follow-and-offer, alternating (see run). */
#define BENCH_ROUNDS 5

struct entries {
	char **line;
	size_t *len, n;
};

/*
 * The follow over the entries for secs: each parsed and matched against the union u, and with
 * ts the matching ones offered to it, the tree lent (lend) or not. Seconds per entry; *matched
 * (if given): the triggers matched per entry.
 */
static double follow_round(const struct entries *es, const struct entry_filter *u,
			   struct trigger_set *ts, bool lend, double secs, double *matched)
{
	unsigned long long done = 0, m = 0;
	double t0 = now_s();

	while (now_s() - t0 < secs)
		for (size_t i = 0; i < es->n; i++, done++) {
			json_t *j = json_loadb(es->line[i], es->len[i], 0, NULL);
			struct agent_entry e = {.id = "bench",
						.ts_ns = 1,
						.json = es->line[i],
						.json_len = es->len[i],
						.tree = lend ? j : NULL};

			if (j && entry_filter_match(u, j) && ts)
				m += (unsigned long long)trigger_set_offer(ts, &e);
			json_decref(j);
		}
	if (matched)
		*matched = (double)m / (double)done;
	return (now_s() - t0) / (double)done;
}

static int run(const struct entries *es, int n, double secs)
{
	char *yaml = triggers_yaml(n), err[512];
	struct config *c = NULL;
	struct trigger_set *ts = NULL;
	struct entry_filter *u = NULL;
	double follow_s, offer_s, total_s, reparse_s, matched = 0;

	if (config_parse("bench", yaml, strlen(yaml), &c, err, sizeof(err)) ||
	    trigger_set_new(c, "/nonexistent", stderr, &ts, err, sizeof(err)) ||
	    entry_filter_compile_checked(trigger_set_filter(ts), &u, err, sizeof(err))) {
		fprintf(stderr, "trigger_bench: %s\n", err);
		return 1;
	}
	/* The follow alone, the follow as it runs (the union filter, then the trigger set on the
	 * same tree, lent with the entry: agent_entry.tree) and as it ran before (the trigger set
	 * parsing the text again), in alternating rounds, each one's fastest kept: offer is the
	 * first two's difference, which the machine's other load would otherwise swamp. */
	follow_s = total_s = reparse_s = 1e9;
	for (int round = 0; round < BENCH_ROUNDS; round++) {
		double f = follow_round(es, u, NULL, false, secs / BENCH_ROUNDS, NULL);
		double t = follow_round(es, u, ts, true, secs / BENCH_ROUNDS, &matched);
		double r = follow_round(es, u, ts, false, secs / BENCH_ROUNDS, NULL);

		follow_s = f < follow_s ? f : follow_s;
		total_s = t < total_s ? t : total_s;
		reparse_s = r < reparse_s ? r : reparse_s;
	}
	offer_s = total_s - follow_s;
	printf("triggers=%d follow_us=%.2f offer_us=%.2f total_us=%.2f entries_per_s=%.0f "
	       "matched_per_entry=%.3f total_parsing_twice_us=%.2f\n",
	       n, follow_s * 1e6, offer_s * 1e6, total_s * 1e6, 1.0 / total_s,
	       matched, reparse_s * 1e6);
	entry_filter_free(u);
	trigger_set_free(ts);
	config_free(c);
	free(yaml);
	return 0;
}

int main(int argc, char **argv)
{
	struct entries es = {0};
	size_t cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t l;
	FILE *f;
	int n = argc > 2 ? atoi(argv[2]) : 100;
	double secs = argc > 3 ? atof(argv[3]) : 2.0;

	if (argc < 2 || !(f = fopen(argv[1], "r"))) {
		fprintf(stderr, "usage: trigger_bench ENTRIES.jsonl [N] [SECONDS]\n");
		return 2;
	}
	while ((l = getline(&line, &lcap, f)) > 0) {
		if (es.n == cap) {
			cap = cap ? cap * 2 : 1024;
			es.line = realloc(es.line, cap * sizeof(*es.line));
			es.len = realloc(es.len, cap * sizeof(*es.len));
			if (!es.line || !es.len)
				return 1;
		}
		es.line[es.n] = strndup(line, (size_t)l);
		es.len[es.n++] = (size_t)l;
	}
	free(line);
	fclose(f);
	if (!es.n) {
		fprintf(stderr, "trigger_bench: no entries in %s\n", argv[1]);
		return 1;
	}
	/* 1 trigger, then N: what one costs and what N cost */
	if (run(&es, 1, secs) || (n != 1 && run(&es, n, secs)))
		return 1;
	for (size_t i = 0; i < es.n; i++)
		free(es.line[i]);
	free(es.line);
	free(es.len);
	return 0;
}
