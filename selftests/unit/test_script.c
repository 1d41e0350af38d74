// SPDX-License-Identifier: Apache-2.0
/*
 * Scripts (lib/node/script, runner/floe_script.c): the frames and the checks of the runner's
 * messages; the real runner (build/floe-script, $FLOE_SCRIPT_RUNNER) loading scripts, calling
 * hooks and helpers, keeping state, reporting errors with file and line, held to its CPU and
 * memory limits and to its sandbox (seccomp, no other fds); and the service over an in-memory
 * agent: onEntry gets exactly the entries its KFL pre-filter passes, jobs run on schedule,
 * a failing script is disabled, a changed file reloaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/agent_api_mem.h"
#include "script/script_child.h"
#include "script/script_proto.h"
#include "script/script_service.h"

static char runner[PATH_MAX + 16];

static void find_runner(void)
{
	const char *env = getenv("FLOE_SCRIPT_RUNNER");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (env && *env) {
		snprintf(runner, sizeof(runner), "%s", env);
		return;
	}
	/* build/tests/test_script → build/floe-script */
	self[n > 0 ? n : 0] = '\0';
	*strrchr(self, '/') = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(runner, sizeof(runner), "%s/floe-script", self);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- protocol ---- */

static int parse(const char *js, struct script_msg *m)
{
	char err[256];

	return script_msg_parse(js, strlen(js), m, err, sizeof(err));
}

static void test_parse_good(void **state)
{
	struct script_msg m;

	assert_int_equal(parse("{\"t\":\"ready\",\"filter\":\"http\",\"onEntry\":true,"
			       "\"onPacket\":false,\"jobs\":[{\"name\":\"j\",\"every_ms\":500}]}",
			       &m),
			 0);
	assert_int_equal(m.type, SCRIPT_MSG_READY);
	assert_string_equal(m.filter, "http");
	assert_true(m.on_entry);
	assert_false(m.on_packet);
	assert_int_equal(m.n_jobs, 1);
	assert_string_equal(m.jobs[0].name, "j");
	assert_int_equal(m.jobs[0].every_ms, 500);
	script_msg_free(&m);

	assert_int_equal(parse("{\"t\":\"metric\",\"name\":\"x_total\",\"value\":2.5,"
			       "\"labels\":{\"code\":\"500\"}}",
			       &m),
			 0);
	assert_string_equal(m.name, "x_total");
	assert_true(m.value == 2.5);
	script_msg_free(&m);

	assert_int_equal(parse("{\"t\":\"error\",\"error\":\"a.js:3: boom\",\"line\":3}", &m), 0);
	assert_int_equal(m.line, 3);
	assert_string_equal(m.text, "a.js:3: boom");
	script_msg_free(&m);

	assert_int_equal(parse("{\"t\":\"webhook\",\"url\":\"http://h/x\",\"body\":\"{}\"}", &m),
			 0);
	script_msg_free(&m);
	assert_int_equal(
	    parse("{\"t\":\"snapshot\",\"query\":\"http\",\"before\":5,\"after\":1}", &m), 0);
	assert_true(m.before == 5 && m.after == 1);
	script_msg_free(&m);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"t\":\"nope\"}",
	    "{\"t\":1}",
	    "{\"t\":\"log\"}",
	    "{\"t\":\"log\",\"text\":\"a\\u0000b\"}",
	    "{\"t\":\"log\",\"t\":\"done\",\"text\":\"x\"}",
	    "{\"t\":\"metric\",\"name\":\"1bad\",\"value\":1}",
	    "{\"t\":\"metric\",\"name\":\"ok\",\"value\":\"1\"}",
	    "{\"t\":\"metric\",\"name\":\"ok\",\"value\":1,\"labels\":{\"a-b\":\"x\"}}",
	    "{\"t\":\"metric\",\"name\":\"ok\",\"value\":1,\"labels\":{\"a\":1}}",
	    "{\"t\":\"webhook\",\"url\":\"file:///etc/passwd\",\"body\":\"\"}",
	    "{\"t\":\"snapshot\",\"query\":\"http\",\"before\":-1,\"after\":1}",
	    "{\"t\":\"snapshot\",\"query\":\"http\",\"before\":1,\"after\":99999}",
	    "{\"t\":\"ready\",\"jobs\":[{\"name\":\"j\",\"every_ms\":1}]}",
	    "{\"t\":\"ready\",\"jobs\":[{\"name\":\"\",\"every_ms\":100}]}",
	    "{\"t\":\"ready\",\"jobs\":{}}",
	    "{\"t\":\"ready\",\"filter\":5}",
	};
	struct script_msg m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i], &m);

		if (ret == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_null(m.root);
	}
}

static void test_frames(void **state)
{
	int sv[2];
	char *buf;
	size_t len;
	unsigned char big[4] = {0x7f, 0xff, 0xff, 0xff};

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(script_frame_write(sv[0], "{\"a\":", "[1,2]", 5, "}"), 0);
	assert_int_equal(script_frame_read(sv[1], 1000, &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_string_equal(buf, "{\"a\":[1,2]}");
	free(buf);
	/* nothing there: the timeout holds */
	{
		int64_t t0 = mono_ms();

		assert_int_equal(script_frame_read(sv[1], 100, &buf, &len), -ETIMEDOUT);
		assert_true(mono_ms() - t0 >= 90 && mono_ms() - t0 < 1000);
	}
	/* a length over the maximum is refused before any allocation */
	assert_int_equal(write(sv[0], big, 4), 4);
	assert_int_equal(script_frame_read(sv[1], 1000, &buf, &len), -EMSGSIZE);
	/* half a frame, then the peer goes */
	assert_int_equal(write(sv[0], "\0\0\0\x10{\"t\"", 8), 8);
	close(sv[0]);
	assert_int_equal(script_frame_read(sv[1], 1000, &buf, &len), -EPIPE);
	close(sv[1]);
}

/* ---- the runner ---- */

struct seen {
	char text[64][512];
	size_t n, metrics, webhooks;
};

static void collect(const struct script_msg *m, void *arg)
{
	struct seen *s = arg;

	if (m->type == SCRIPT_MSG_LOG && s->n < 64)
		snprintf(s->text[s->n++], sizeof(s->text[0]), "%s", m->text);
	if (m->type == SCRIPT_MSG_METRIC)
		s->metrics++;
	if (m->type == SCRIPT_MSG_WEBHOOK)
		s->webhooks++;
}

/* The call's result, and its error text when it is not the one expected. */
#define EXPECT(call, want)                                                                         \
	do {                                                                                       \
		err[0] = '\0';                                                                     \
		enum script_call_result r_ = (call);                                               \
		if (r_ != (want))                                                                  \
			fail_msg("%s: %d, not %d: %s", #call, r_, (want), err);                    \
	} while (0)

static const struct script_limits lim = {.cpu_ms = 300, .memory = 8u << 20};

static enum script_call_result start(const char *src, struct script_child *c,
				     struct script_msg *ready, char *err, size_t errlen)
{
	return script_child_start(runner, &lim, "t.js", src, strlen(src), c, ready, err, errlen);
}

static enum script_call_result call_entry(struct script_child *c, const char *entry, struct seen *s,
					  char *err, size_t errlen)
{
	return script_child_call(c, &lim, "{\"t\":\"entry\",\"entry\":", entry, strlen(entry), "}",
				 collect, s, err, errlen);
}

#define ENTRY_500                                                                                  \
	"{\"id\":\"r-1\",\"protocol\":\"http\",\"request\":{\"method\":\"GET\",\"path\":\"/a\"},"  \
	"\"response\":{\"status\":503}}"
#define ENTRY_200                                                                                  \
	"{\"id\":\"r-2\",\"protocol\":\"http\",\"request\":{\"method\":\"GET\",\"path\":\"/b\"},"  \
	"\"response\":{\"status\":200}}"

static void test_runner_hooks(void **state)
{
	const char *src =
	    "var filter = 'http and response.status >= 500';\n"
	    "var n = 0;\n"
	    "var jobs = [{name: 'tick', every: '250ms', run: function () {"
	    " log('tick', n); }}];\n"
	    "function onEntry(e) { n++; state.last = e.id;\n"
	    "  log('entry', e.id, e.response.status, n, kfl('response.status >= 500', e));\n"
	    "  metric('x_total', n, {path: e.request.path});\n"
	    "  webhook('http://127.0.0.1:9/x', {id: e.id}); }\n";
	struct script_child c;
	struct script_msg ready;
	struct seen s = {0};
	char err[512];

	EXPECT(start(src, &c, &ready, err, sizeof(err)), SCRIPT_CALL_OK);
	assert_string_equal(ready.filter, "http and response.status >= 500");
	assert_true(ready.on_entry);
	assert_false(ready.on_packet);
	assert_int_equal(ready.n_jobs, 1);
	assert_int_equal(ready.jobs[0].every_ms, 250);
	script_msg_free(&ready);

	EXPECT(call_entry(&c, ENTRY_500, &s, err, sizeof(err)), SCRIPT_CALL_OK);
	EXPECT(call_entry(&c, ENTRY_200, &s, err, sizeof(err)), SCRIPT_CALL_OK);
	assert_int_equal(s.n, 2);
	/* state survives between calls; kfl() evaluates KFL on the entry */
	assert_string_equal(s.text[0], "entry r-1 503 1 true");
	assert_string_equal(s.text[1], "entry r-2 200 2 false");
	assert_int_equal(s.metrics, 2);
	assert_int_equal(s.webhooks, 2);
	EXPECT(script_child_call(&c, &lim, NULL, "{\"t\":\"job\",\"index\":0}", 21, NULL, collect,
				 &s, err, sizeof(err)),
	       SCRIPT_CALL_OK);
	assert_string_equal(s.text[2], "tick 2");
	script_child_stop(&c);
}

static void test_runner_errors(void **state)
{
	struct script_child c;
	struct script_msg ready;
	struct seen s = {0};
	char err[512];

	/* a syntax error: file and line */
	EXPECT(start("var a = 1;\nvar b = ;\n", &c, &ready, err, sizeof(err)), SCRIPT_CALL_ERROR);
	assert_non_null(strstr(err, "t.js:2: SyntaxError"));
	assert_int_equal(c.pid, 0);

	/* a throw in a hook: reported with its line, the runner lives on */
	EXPECT(start("function onEntry(e) {\n  if (e.id == 'r-1')\n"
		     "    throw new Error('no ' + e.id);\n  log('ok');\n}\n",
		     &c, &ready, err, sizeof(err)),
	       SCRIPT_CALL_OK);
	script_msg_free(&ready);
	EXPECT(call_entry(&c, ENTRY_500, &s, err, sizeof(err)), SCRIPT_CALL_ERROR);
	assert_string_equal(err, "t.js:3: Error: no r-1");
	EXPECT(call_entry(&c, ENTRY_200, &s, err, sizeof(err)), SCRIPT_CALL_OK);
	assert_int_equal(s.n, 1);
	/* a bad KFL query in kfl() is the script's error */
	script_child_stop(&c);
	EXPECT(start("function onEntry(e) { kfl('response.status >=', e); }", &c, &ready, err,
		     sizeof(err)),
	       SCRIPT_CALL_OK);
	script_msg_free(&ready);
	EXPECT(call_entry(&c, ENTRY_500, &s, err, sizeof(err)), SCRIPT_CALL_ERROR);
	assert_non_null(strstr(err, "SyntaxError: kfl: column"));
	script_child_stop(&c);
	/* a bad jobs declaration */
	EXPECT(start("var jobs = [{name: 'x', every: '1ms', run: function(){}}];", &c, &ready, err,
		     sizeof(err)),
	       SCRIPT_CALL_ERROR);
	assert_non_null(strstr(err, "jobs:"));
}

/* Ended by its CPU limit, or, on a starved machine where 300 ms of CPU take longer than the
 * wall-time watchdog (4 x 300 ms + 2 s), by that. */
static void at_limit(const char *err)
{
	if (!strstr(err, "CPU time limit of 300 ms") && !strstr(err, "no answer within 3200 ms"))
		fail_msg("not stopped at a limit: %s", err);
}

static void test_runner_limits(void **state)
{
	struct script_child c;
	struct script_msg ready;
	struct seen s = {0};
	char err[512];
	int64_t t0;

	/* CPU: while (true) {} ends at the limit (SIGXCPU), well before the wall-time watchdog */
	EXPECT(start("function onEntry(e) { if (e.id == 'r-1') while (true) {} }", &c, &ready, err,
		     sizeof(err)),
	       SCRIPT_CALL_OK);
	script_msg_free(&ready);
	t0 = mono_ms();
	EXPECT(call_entry(&c, ENTRY_500, &s, err, sizeof(err)), SCRIPT_CALL_DIED);
	assert_true(mono_ms() - t0 >= lim.cpu_ms - 10);
	at_limit(err);
	assert_int_equal(c.pid, 0);

	/* the same at load time */
	EXPECT(start("for (;;) {}", &c, &ready, err, sizeof(err)), SCRIPT_CALL_DIED);
	at_limit(err);

	/* memory: the heap budget stops an allocation loop with an error the script sees */
	{
		static const struct script_limits small = {.cpu_ms = 20000, .memory = 2u << 20};
		const char *src =
		    "var keep = [];\nfunction onEntry(e) {\n"
		    "  for (var i = 0; ; i++) keep.push(new Array(1000).join('x') + i);\n}\n";

		EXPECT(script_child_start(runner, &small, "t.js", src, strlen(src), &c, &ready, err,
					  sizeof(err)),
		       SCRIPT_CALL_OK);
		script_msg_free(&ready);
		EXPECT(script_child_call(&c, &small, "{\"t\":\"entry\",\"entry\":", "{}", 2, "}",
					 collect, &s, err, sizeof(err)),
		       SCRIPT_CALL_ERROR);
		assert_string_equal(err, "t.js:3: Error: alloc failed");
		/* the runner lives on: the next call runs */
		EXPECT(script_child_call(&c, &small, "{\"t\":\"entry\",\"entry\":", "{}", 2, "}",
					 collect, &s, err, sizeof(err)),
		       SCRIPT_CALL_ERROR);
		script_child_stop(&c);
	}

	/* Near its budget Duktape collects garbage on every allocation: a loop of small objects
	 * then crawls, and the CPU limit ends it (or Duktape gives up: a fatal error) */
	EXPECT(start("var keep = [];\nfunction onEntry(e) {\n"
		     "  for (var i = 0; ; i++) keep.push({a: i, b: [i]});\n}\n",
		     &c, &ready, err, sizeof(err)),
	       SCRIPT_CALL_OK);
	script_msg_free(&ready);
	EXPECT(call_entry(&c, ENTRY_500, &s, err, sizeof(err)), SCRIPT_CALL_DIED);
	if (!strstr(err, "CPU time limit") && !strstr(err, "runner killed") &&
	    !strstr(err, "fatal error in the JavaScript engine"))
		fail_msg("%s", err);
}

/* The runner's /proc status: seccomp filter on, no new privileges, only fds 0-3. */
static void test_runner_sandbox(void **state)
{
	struct script_child c;
	struct script_msg ready;
	char path[64], line[256], err[512];
	FILE *f;
	bool seccomp = false, nnp = false;
	DIR *d;
	struct dirent *de;
	int fds = 0;

	EXPECT(start("var x = 1;", &c, &ready, err, sizeof(err)), SCRIPT_CALL_OK);
	script_msg_free(&ready);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)c.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Seccomp:", 8))
			seccomp = atoi(line + 8) == 2;
		if (!strncmp(line, "NoNewPrivs:", 11))
			nnp = atoi(line + 11) == 1;
	}
	fclose(f);
	assert_true(seccomp);
	assert_true(nnp);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)c.pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			assert_true(atoi(de->d_name) <= 3);
			fds++;
		}
	closedir(d);
	assert_int_equal(fds, 4);
	script_child_stop(&c);
}

/* ---- the service over an in-memory agent ---- */

static char dir[64];

static void write_script(const char *name, const char *src)
{
	char path[PATH_MAX], tmp[PATH_MAX + 4];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static size_t count_in(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Wait (bounded) until the log holds n copies of needle. */
static bool wait_log(FILE *log, char **buf, size_t *len, const char *needle, size_t n)
{
	for (int64_t end = mono_ms() + 5000; mono_ms() < end;) {
		struct timespec ts = {0, 20000000};

		fflush(log);
		if (*buf && count_in(*buf, needle) >= n)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void test_service(void **state)
{
	struct agent_api api;
	struct agent_api_mem_opts mo = {.unchecked_filters = false};
	struct script_service *svc;
	char *logbuf = NULL, err[512], metrics[PATH_MAX], snaps[PATH_MAX], id[32], js[256];
	size_t loglen = 0;
	FILE *log = open_memstream(&logbuf, &loglen);
	struct script_options o = {
	    .watch = true, .cpu_ms = 300, .memory = 8u << 20, .runner = runner, .log = log};

	snprintf(dir, sizeof(dir), "/tmp/floe-test-script-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(metrics, sizeof(metrics), "%s.prom", dir);
	snprintf(snaps, sizeof(snaps), "%s.snaps", dir);
	o.snapshot_dir = snaps;
	o.source = dir;
	o.metrics_file = metrics;
	write_script("errors.js", "var filter = 'http and response.status >= 500';\n"
				  "function onEntry(e) { log('5xx', e.id); }\n");
	write_script("every.js", "var n = 0;\nfunction onEntry(e) { n++; log('seen', e.id, n); }\n"
				 "var jobs = [{name: 'tick', every: 0.1, run: function () {"
				 " log('tick'); }}];\n");
	write_script("broken.js", "function onEntry(e) {\n  throw new Error('bad');\n}\n");
	write_script("syntax.js", "var x = ;\n");
	write_script("notjs.txt", "garbage");
	write_script("snap.js",
		     "var filter = 'http and request.path == \"/snap\"';\n"
		     "function onEntry(e) { snapshot('request.path == \"/snap\"', 60, 0); }\n");
	assert_int_equal(agent_api_mem_new(&mo, &api), 0);
	assert_int_equal(script_service_start(&o, &api, &svc, err, sizeof(err)), 0);
	fflush(log);
	assert_non_null(strstr(logbuf, "script syntax.js: not loaded: syntax.js:1: SyntaxError"));
	/* follow subscriptions are up when the followers count says so */
	for (int64_t end = mono_ms() + 5000; agent_api_mem_followers(&api) < 4 && mono_ms() < end;)
		usleep(10000);
	assert_int_equal(agent_api_mem_followers(&api), 4);

	/* snapshot(): the PCAP of the matching entry's packets, written by floe into the store */
	{
		struct timespec now;
		static const unsigned char frame[60] = {0x02, 0, 0, 0, 0,    1,	   0x02, 0,
							0,    0, 0, 2, 0x08, 0x00, 0x45};
		char path[PATH_MAX + 320];
		DIR *d;
		struct dirent *de;
		bool found = false;

		clock_gettime(CLOCK_REALTIME, &now);
		assert_int_equal(agent_api_mem_add(&api, "snap-1",
						   (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
						   "{\"protocol\":\"http\",\"request\":{\"method\":"
						   "\"GET\",\"path\":\"/snap\"}}"),
				 0);
		assert_int_equal(agent_api_mem_add_packet(
				     &api, "snap-1", (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
				     frame, sizeof(frame)),
				 0);
		assert_true(wait_log(log, &logbuf, &loglen, "script snap.js: snapshot written", 1));
		d = opendir(snaps);
		assert_non_null(d);
		while ((de = readdir(d))) {
			struct stat st;

			if (strncmp(de->d_name, "snap-", 5))
				continue;
			snprintf(path, sizeof(path), "%s/%s", snaps, de->d_name);
			assert_int_equal(stat(path, &st), 0);
			/* the file header, one record header and the frame */
			assert_int_equal(st.st_size, 24 + 16 + (off_t)sizeof(frame));
			found = true;
		}
		closedir(d);
		assert_true(found);
	}

	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "e-%d", i);
		snprintf(js, sizeof(js),
			 "{\"protocol\":\"http\",\"request\":{\"method\":\"GET\",\"path\":\"/\"},"
			 "\"response\":{\"status\":%d}}",
			 i % 3 == 0 ? 500 : 200);
		assert_int_equal(agent_api_mem_add(&api, id, 1000 + i, js), 0);
	}
	assert_true(wait_log(log, &logbuf, &loglen, "script every.js: seen", 11));
	assert_true(wait_log(log, &logbuf, &loglen, "script errors.js: 5xx", 4));
	/* exactly the 5xx ones, in order */
	assert_non_null(strstr(logbuf, "5xx e-0\n"));
	assert_non_null(strstr(logbuf, "5xx e-3\n"));
	assert_non_null(strstr(logbuf, "5xx e-6\n"));
	assert_non_null(strstr(logbuf, "5xx e-9\n"));
	assert_non_null(strstr(logbuf, "seen e-9 11\n")); /* after snap-1 */
	/* jobs: every 100 ms */
	assert_true(wait_log(log, &logbuf, &loglen, "script every.js: tick", 5));
	/* broken.js: five failures in a row, then disabled */
	assert_true(wait_log(log, &logbuf, &loglen, "script broken.js: disabled after 5", 1));
	assert_int_equal(count_in(logbuf, "broken.js:2: Error: bad"), SCRIPT_MAX_FAILURES);

	/* a changed file is reloaded: fixed, the script works again */
	write_script("broken.js", "function onEntry(e) { log('fixed', e.id); }\n");
	assert_true(wait_log(log, &logbuf, &loglen, "script broken.js: loaded", 2));
	for (int64_t end = mono_ms() + 5000; agent_api_mem_followers(&api) < 4 && mono_ms() < end;)
		usleep(10000);
	assert_int_equal(agent_api_mem_add(&api, "e-10", 2000, "{\"protocol\":\"http\"}"), 0);
	assert_true(wait_log(log, &logbuf, &loglen, "fixed e-10", 1));

	script_service_stop(svc);
	api.ops->destroy(api.self);
	fclose(log);
	{
		FILE *f = fopen(metrics, "r");
		char line[512];
		bool calls = false, disabled = false;

		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			calls |=
			    !strcmp(line, "floe_script_entries_total{script=\"every.js\"} 12\n");
			disabled |= !strcmp(line, "floe_script_disabled{script=\"broken.js\"} 0\n");
		}
		fclose(f);
		assert_true(calls);
		assert_true(disabled);
	}
	free(logbuf);
	{
		char cmd[3 * PATH_MAX + 32];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", dir, metrics, snaps);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),	   cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_frames),	   cmocka_unit_test(test_runner_hooks),
	    cmocka_unit_test(test_runner_errors),  cmocka_unit_test(test_runner_limits),
	    cmocka_unit_test(test_runner_sandbox), cmocka_unit_test(test_service),
	};

	find_runner();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
