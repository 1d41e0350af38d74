/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub-fixture: floe-hub's server over in-memory agents (lib/core/api/agent_api_mem.h), for the
 * hub's tests (selftests/integration/test_hub_api.sh) and its benchmark. The clients are real
 * (curl, a WebSocket client, tshark on the PCAP); only the agents are stand-ins.
 *
 *   hub-fixture --agents N [--entries FILE.jsonl] [--pcap FILE] [--synthetic M] [--token T]
 *               [--ws-queue Q] [--follow-queue F] [--hold-ms H] [--host ADDR]
 *
 * Entries of FILE (`floe read --json` lines) and M synthetic ones go to the agents in turn
 * (entry i to agent i % N, named nodeK; ids become "nodeK-<id>"). Packets of --pcap go to the
 * entries in turn (packet j to entry j % entries). Prints "port P", then reads commands:
 *   emit COUNT [SPACING_US]   COUNT new synthetic entries, now-stamped, agents in turn
 *   followers                 prints the follow() calls running on all agents
 *   lost                      prints the entries the agents' followers lost
 *   down I / up I             agent I refuses calls / answers again
 *   quit
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/agent_api_mem.h"
#include "hub_pcap.h"
#include "hub_query.h"
#include "hub_server.h"

struct fixture {
	struct agent_api *agents;
	size_t n;
	char (*ids)[160]; /* every entry's id, in the order added */
	size_t nids, capids;
	size_t next; /* entries added so far (picks the agent) */
	uint64_t synth;
};

static int die(const char *what)
{
	fprintf(stderr, "hub-fixture: %s\n", what);
	exit(1);
}

static void add_entry(struct fixture *fx, json_t *j, const char *orig_id, int64_t ts)
{
	size_t a = fx->next++ % fx->n;
	struct agent_info info;
	fx->agents[a].ops->info(fx->agents[a].self, &info);
	if (fx->nids == fx->capids) {
		fx->capids = fx->capids ? fx->capids * 2 : 1024;
		fx->ids = realloc(fx->ids, fx->capids * sizeof(*fx->ids));
		if (!fx->ids)
			die("out of memory");
	}
	char *id = fx->ids[fx->nids++];
	snprintf(id, 160, "%s-%s", info.name, orig_id);
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text || agent_api_mem_add(&fx->agents[a], id, ts, text))
		die("cannot add an entry");
	free(text);
}

/* Synthetic entries: pairs share a timestamp (ties across agents are broken by id). */
static void add_synthetic(struct fixture *fx, int64_t ts)
{
	static const char *const methods[] = {"GET", "POST", "PUT"};
	static const int status[] = {200, 404, 500, 201};
	uint64_t k = fx->synth++;
	char tbuf[64], path[64], oid[32];
	time_t sec = (time_t)(ts / 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t l = strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tbuf + l, sizeof(tbuf) - l, ".%09lldZ", (long long)(ts % 1000000000));
	snprintf(path, sizeof(path), "/p/%llu", (unsigned long long)k);
	snprintf(oid, sizeof(oid), "s%llu", (unsigned long long)k);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:f, s:{s:s, s:s, s:s}, s:{s:i}, s:{s:i, s:s}}",
			      "id", oid, "protocol", "http", "version", "1.1", "request_time", tbuf,
			      "elapsed_ms", (double)(k % 7), "request", "method", methods[k % 3],
			      "path", path, "url", path, "response", "status", status[k % 4], "src",
			      "port", (int)(40000 + k % 1000), "ip", "10.0.0.1");
	json_t *body = json_pack("{s:i, s:s}", "size", 4, "text", "body");
	json_object_set_new(json_object_get(j, "response"), "body", body);
	add_entry(fx, j, oid, ts);
	json_decref(j);
}

static void load_entries(struct fixture *fx, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open --entries");
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		if (!json_is_object(j))
			die("--entries: a line that is not a JSON object");
		const char *t = json_string_value(json_object_get(j, "request_time"));
		if (!t)
			t = json_string_value(json_object_get(j, "response_time"));
		const char *id = json_string_value(json_object_get(j, "id"));
		int64_t ts = 0;
		char err[300];
		if (!t || !id || hub_parse_time(t, &ts, err, sizeof(err)))
			die("--entries: an entry without id or time");
		add_entry(fx, j, id, ts);
		json_decref(j);
	}
	free(line);
	fclose(f);
}

static void load_pcap(struct fixture *fx, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t h[24], rh[16];
	static uint8_t data[HUB_PCAP_MAX_RECORD];
	struct hub_pcap_fmt fmt;
	char err[200];
	if (!f || fread(h, 1, 24, f) != 24 || hub_pcap_parse_header(h, &fmt, err, sizeof(err)))
		die("--pcap: not a PCAP file");
	if (!fx->nids)
		die("--pcap needs entries to attach packets to");
	for (size_t j = 0; fread(rh, 1, 16, f) == 16; j++) {
		struct hub_pcap_rec r;
		if (hub_pcap_parse_record(&fmt, rh, &r, err, sizeof(err)) ||
		    fread(data, 1, r.incl_len, f) != r.incl_len)
			die("--pcap: corrupt");
		const char *id = fx->ids[j % fx->nids];
		/* The agent is the entry's: its name is the id's prefix up to '-'. */
		size_t a = (j % fx->nids) % fx->n;
		if (agent_api_mem_add_packet(&fx->agents[a], id, r.ts_ns, data, r.incl_len))
			die("cannot add a packet");
	}
	fclose(f);
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"agents", required_argument, NULL, 'a'},
	    {"entries", required_argument, NULL, 'e'},
	    {"pcap", required_argument, NULL, 'p'},
	    {"synthetic", required_argument, NULL, 's'},
	    {"token", required_argument, NULL, 't'},
	    {"ws-queue", required_argument, NULL, 'q'},
	    {"follow-queue", required_argument, NULL, 'f'},
	    {"hold-ms", required_argument, NULL, 'H'},
	    {"host", required_argument, NULL, 'h'},
	    {"ui-dir", required_argument, NULL, 'u'},
	    {"front-port", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	struct fixture fx = {.n = 3};
	struct hub_server_opts opts = {0};
	const char *entries = NULL, *pcap = NULL;
	size_t synthetic = 0, follow_queue = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			fx.n = strtoul(optarg, NULL, 10);
			break;
		case 'e':
			entries = optarg;
			break;
		case 'p':
			pcap = optarg;
			break;
		case 's':
			synthetic = strtoul(optarg, NULL, 10);
			break;
		case 't':
			opts.token = optarg;
			break;
		case 'q':
			opts.ws_queue = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			follow_queue = strtoul(optarg, NULL, 10);
			break;
		case 'H':
			opts.live_hold_ns = strtoll(optarg, NULL, 10) * 1000000;
			if (!opts.live_hold_ns)
				opts.live_hold_ns = -1;
			break;
		case 'h':
			opts.host = optarg;
			break;
		case 'u':
			opts.ui_dir = optarg;
			break;
		case 'F':
			opts.front_port = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (fx.n < 1 || fx.n > 64)
		die("--agents: 1 to 64");
	fx.agents = calloc(fx.n, sizeof(*fx.agents));
	for (size_t i = 0; i < fx.n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "node%zu", i);
		struct agent_api_mem_opts mo = {.name = name, .follow_queue = follow_queue};
		if (agent_api_mem_new(&mo, &fx.agents[i]))
			die("cannot make an agent");
	}
	if (entries)
		load_entries(&fx, entries);
	/* Synthetic history: one entry per microsecond, pairs sharing one, a day ago. */
	int64_t base = now_ns() - 86400LL * 1000000000;
	for (size_t i = 0; i < synthetic; i++)
		add_synthetic(&fx, base + (int64_t)(i / 2) * 1000);
	if (pcap)
		load_pcap(&fx, pcap);

	signal(SIGPIPE, SIG_IGN);
	struct hub_server *srv;
	char err[300];
	if (hub_server_start(fx.agents, fx.n, &opts, &srv, err, sizeof(err))) {
		fprintf(stderr, "hub-fixture: %s\n", err);
		return 1;
	}
	printf("port %d\n", hub_server_port(srv));
	if (opts.front_port)
		printf("front %d\n", hub_server_front_port(srv));
	fflush(stdout);

	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long a = 0, b = 0;
		if (sscanf(line, "emit %lu %lu", &a, &b) >= 1) {
			for (unsigned long i = 0; i < a; i++) {
				add_synthetic(&fx, now_ns());
				if (b)
					usleep((useconds_t)b);
			}
			printf("emitted %lu\n", a);
		} else if (!strncmp(line, "followers", 9)) {
			size_t f = 0;
			for (size_t i = 0; i < fx.n; i++)
				f += agent_api_mem_followers(&fx.agents[i]);
			printf("followers %zu\n", f);
		} else if (!strncmp(line, "lost", 4)) {
			uint64_t l = 0;
			for (size_t i = 0; i < fx.n; i++)
				l += agent_api_mem_lost(&fx.agents[i]);
			printf("lost %llu\n", (unsigned long long)l);
		} else if (sscanf(line, "down %lu", &a) == 1 && a < fx.n) {
			agent_api_mem_set_down(&fx.agents[a], true);
			printf("ok\n");
		} else if (sscanf(line, "up %lu", &a) == 1 && a < fx.n) {
			agent_api_mem_set_down(&fx.agents[a], false);
			printf("ok\n");
		} else if (!strncmp(line, "quit", 4)) {
			break;
		} else {
			printf("? %s", line);
		}
		fflush(stdout);
	}
	hub_server_stop(srv);
	for (size_t i = 0; i < fx.n; i++)
		fx.agents[i].ops->destroy(fx.agents[i].self);
	free(fx.agents);
	free(fx.ids);
	return 0;
}
