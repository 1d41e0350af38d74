// SPDX-License-Identifier: Apache-2.0
/*
 * The cost of one script hook per entry (docs/scripting.md, "Cost"): the scripting service
 * over an in-memory agent (lib/core/api/agent_api_mem.h) and the real runner
 * (build/floe-script); N entries of a real HTTP entry's size are published at once and the
 * time until the script has seen the last one is taken. Not pass/fail.
 *
 * Usage: build/bench_script [N] (FLOE_SCRIPT_RUNNER or build/floe-script beside this binary)
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/agent_api_mem.h"
#include "script/script_child.h"
#include "script/script_service.h"

/* an HTTP/1.1 entry as `floe read --json` prints it (~1 KB) */
static const char ENTRY[] =
    "{\"protocol\":\"http\",\"version\":\"1.1\",\"request_time\":\"2026-12-06T10:00:00.250Z\","
    "\"response_time\":\"2026-12-06T10:00:00.251Z\",\"elapsed_ms\":0.81,"
    "\"src\":{\"ip\":\"10.213.1.11\",\"port\":40312,\"pod\":\"front-7f9\",\"namespace\":\"shop\"},"
    "\"dst\":{\"ip\":\"10.213.1.12\",\"port\":8080,\"pod\":\"api-5d2\",\"namespace\":\"shop\"},"
    "\"request_size\":143,\"response_size\":612,"
    "\"request\":{\"method\":\"GET\",\"url\":\"/api/v1/items?page=2\",\"path\":\"/api/v1/items\","
    "\"headers\":{\"Host\":\"api:8080\",\"User-Agent\":\"curl/7.88.1\",\"Accept\":\"*/*\"}},"
    "\"response\":{\"status\":%d,\"reason\":\"OK\",\"headers\":{\"Content-Type\":"
    "\"application/json\",\"Content-Length\":\"480\",\"Date\":\"Sun, 06 Dec 2026 10:00:00 GMT\"},"
    "\"body\":{\"size\":480,\"truncated\":false,\"text\":\"{\\\"items\\\":[1,2,3,4,5,6,7,8,9,10,11,"
    "12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40],"
    "\\\"page\\\":2,\\\"next\\\":\\\"/api/v1/items?page=3\\\",\\\"note\\\":\\\"a body of some "
    "size, as services send them: a list, a cursor and a few words of text to make it "
    "realistic\\\"}\"}}}";

static double cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of the last round: floe's side (this process, producer included), the runner */
static double cpu_floe, cpu_runner;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One round: the script in dir, n entries; returns seconds until "DONE" was logged. */
static double round_of(const char *runner, const char *name, const char *src, int n)
{
	char dir[] = "/tmp/floe-bench-script-XXXXXX", path[PATH_MAX], line[256];
	struct agent_api_mem_opts mo = {.follow_queue = (size_t)n + 16};
	struct script_options o = {
	    .watch = false, .cpu_ms = 1000, .memory = 64u << 20, .runner = runner};
	struct script_service *svc;
	struct agent_api api;
	int pfd[2];
	FILE *f;
	double t0, t = -1;
	char err[512], id[32], js[sizeof(ENTRY) + 16];

	if (!mkdtemp(dir) || pipe(pfd) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fprintf(f, "var N = %d, n = 0;\n%s\n", n, src);
	fclose(f);
	o.source = dir;
	o.log = fdopen(pfd[1], "w");
	agent_api_mem_new(&mo, &api);
	if (script_service_start(&o, &api, &svc, err, sizeof(err))) {
		fprintf(stderr, "bench_script: %s\n", err);
		exit(1);
	}
	f = fdopen(pfd[0], "r");
	if (!fgets(line, sizeof(line), f) || !strstr(line, "loaded")) { /* the "loaded" line */
		fprintf(stderr, "bench_script: %s", line);
		exit(1);
	}
	while (agent_api_mem_followers(&api) < 1)
		usleep(1000);
	t0 = now_s();
	cpu_floe = cpu_s(RUSAGE_SELF);
	cpu_runner = cpu_s(RUSAGE_CHILDREN);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "b-%d", i);
		snprintf(js, sizeof(js), ENTRY, i % 50 ? 200 : 503);
		agent_api_mem_add(&api, id, 1000 + i, js);
	}
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "DONE")) {
			t = now_s() - t0;
			break;
		}
	if (agent_api_mem_lost(&api))
		fprintf(stderr, "bench_script: %llu entries lost\n",
			(unsigned long long)agent_api_mem_lost(&api));
	cpu_floe = cpu_s(RUSAGE_SELF) - cpu_floe;
	script_service_stop(svc); /* reaps the runner: its CPU time is counted */
	cpu_runner = cpu_s(RUSAGE_CHILDREN) - cpu_runner;
	api.ops->destroy(api.self);
	fclose(o.log);
	fclose(f);
	unlink(path);
	rmdir(dir);
	return t;
}

/*
 * The hook's own cost: n calls of onEntry straight through script_child_call, as the service
 * makes them (frame out, the runner's decode and call, its answer checked), without the
 * agent's queue in front. Returns wall seconds; cpu_floe, cpu_runner as in round_of.
 */
static double direct_of(const char *runner, const char *src, int n)
{
	static const struct script_limits lim = {.cpu_ms = 1000, .memory = 64u << 20};
	char full[4096], js[sizeof(ENTRY) + 16], err[512];
	struct script_child c;
	struct script_msg ready;
	double t0, r0;

	snprintf(full, sizeof(full), "var N = %d, n = 0;\n%s\n", n, src);
	if (script_child_start(runner, &lim, "bench.js", full, strlen(full), &c, &ready, err,
			       sizeof(err)) != SCRIPT_CALL_OK) {
		fprintf(stderr, "bench_script: %s\n", err);
		return -1;
	}
	script_msg_free(&ready);
	snprintf(js, sizeof(js), ENTRY, 200);
	/* the id first, as the agent's entries have it */
	memmove(js + 12, js + 1, strlen(js));
	memcpy(js, "{\"id\":\"b-1\",", 12);
	t0 = now_s();
	cpu_floe = cpu_s(RUSAGE_SELF);
	r0 = cpu_s(RUSAGE_CHILDREN);
	for (int i = 0; i < n; i++)
		if (script_child_call(&c, &lim, "{\"t\":\"entry\",\"entry\":", js, strlen(js), "}",
				      NULL, NULL, err, sizeof(err)) != SCRIPT_CALL_OK) {
			fprintf(stderr, "bench_script: %s\n", err);
			break;
		}
	t0 = now_s() - t0;
	cpu_floe = cpu_s(RUSAGE_SELF) - cpu_floe;
	script_child_stop(&c);
	cpu_runner = cpu_s(RUSAGE_CHILDREN) - r0;
	return t0;
}

/* CPU seconds of publishing n entries to an in-memory agent with nobody following: the
 * producer's share of cpu_floe, taken off it. */
static double producer_cpu(int n)
{
	struct agent_api_mem_opts mo = {.follow_queue = (size_t)n + 16};
	struct agent_api api;
	char id[32], js[sizeof(ENTRY) + 16];
	double c0;

	agent_api_mem_new(&mo, &api);
	c0 = cpu_s(RUSAGE_SELF);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "b-%d", i);
		snprintf(js, sizeof(js), ENTRY, i % 50 ? 200 : 503);
		agent_api_mem_add(&api, id, 1000 + i, js);
	}
	c0 = cpu_s(RUSAGE_SELF) - c0;
	api.ops->destroy(api.self);
	return c0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *what, *src;
	} cases[] = {
	    {"empty onEntry", "function onEntry(e) { if (++n == N) log('DONE'); }"},
	    {"typical: fields, state, a metric per 5xx",
	     "var by = {};\nfunction onEntry(e) {\n"
	     "  var k = e.src.namespace + '/' + e.request.method + ' ' + e.request.path;\n"
	     "  by[k] = (by[k] || 0) + 1;\n"
	     "  if (e.response.status >= 500) metric('bench_5xx', by[k], {path: e.request.path});\n"
	     "  if (++n == N) log('DONE');\n}"},
	    {"kfl() helper per entry",
	     "function onEntry(e) { kfl('http and response.status >= 500', e);"
	     " if (++n == N) log('DONE'); }"},
	};
	char runner[PATH_MAX + 16], self[PATH_MAX];
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (getenv("FLOE_SCRIPT_RUNNER")) {
		snprintf(runner, sizeof(runner), "%s", getenv("FLOE_SCRIPT_RUNNER"));
	} else {
		self[len > 0 ? len : 0] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(runner, sizeof(runner), "%s/floe-script", self);
	}
	printf("== the hook alone: %d calls of onEntry with an entry of %zu bytes (frame out, the "
	       "runner's JSON decode and call, its answer)\n",
	       n, sizeof(ENTRY));
	printf("%-44s %10s %12s %12s %12s\n", "hook", "us/entry", "entries/s", "cpu floe us",
	       "cpu runner us");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double t = direct_of(runner, cases[i].src, n);

		if (t < 0)
			continue;
		printf("%-44s %10.1f %12.0f %12.1f %12.1f\n", cases[i].what, t * 1e6 / n, n / t,
		       cpu_floe * 1e6 / n, cpu_runner * 1e6 / n);
	}
	n = n < 5000 ? n : 5000; /* the in-memory agent's insert is O(entries) */
	double producer = producer_cpu(n);

	printf("== end to end: %d entries published to an in-memory agent, followed by the "
	       "service (wall: bounded by the publisher)\n",
	       n);
	printf("%-44s %10s %12s %12s %12s\n", "hook", "us/entry", "entries/s", "cpu floe us",
	       "cpu runner us");
	printf("(the in-memory agent's own cost of publishing, %.1f us/entry, is taken off "
	       "\"cpu floe\")\n",
	       producer * 1e6 / n);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double t = round_of(runner, "bench.js", cases[i].src, n);

		cpu_floe -= producer;

		if (t < 0) {
			printf("%-44s %10s\n", cases[i].what, "-");
			continue;
		}
		printf("%-44s %10.1f %12.0f %12.1f %12.1f\n", cases[i].what, t * 1e6 / n, n / t,
		       cpu_floe * 1e6 / n, cpu_runner * 1e6 / n);
	}
	return 0;
}
