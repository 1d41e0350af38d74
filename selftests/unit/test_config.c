// SPDX-License-Identifier: Apache-2.0
/* Unit tests: the configuration file, --set and their precedence (lib/node/config), and the
 * triggers' configuration and matching (lib/node/trigger) without a tap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "api/agent_api_mem.h"
#include "config/config.h"
#include "tap/tap.h"
#include "trigger/trigger.h"

static char tmpdir[] = "/tmp/floe-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* The last run's argument vector: o's strings point into it until the next run. */
static char **last_av;
static int last_ac;

/* config_argv then tap_options_parse, as tap_config_parse does (without triggers). */
static int run(struct tap_options *o, char *err, size_t errlen, int argc, ...)
{
	char *argv[32], **av = NULL;
	struct config *c = NULL;
	va_list ap;
	int ac = 0, ret;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	tap_options_init(o);
	config_argv_free(last_ac, last_av);
	last_av = NULL;
	last_ac = 0;
	ret = config_argv(argc, argv, "/nonexistent/config.yaml", tap_flags(), tap_option_check, &c,
			  &ac, &av, err, errlen);
	if (ret)
		return ret;
	ret = tap_options_parse(ac, av, o, stdout, err, errlen);
	last_av = av;
	last_ac = ac;
	config_free(c);
	return ret;
}

static void test_precedence(void **state)
{
	const char *p = write_file("c.yaml", "tap:\n"
					     "  storagelimit: 1GB\n"
					     "  snaplen: 1500\n"
					     "  segment-seconds: 30\n"
					     "  namespaces: [shop, pay]\n"
					     "  no-compress: true\n"
					     "  dryrun: false\n");
	struct tap_options o;
	char err[512];

	(void)state;
	/* the file alone */
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), 0);
	assert_int_equal(o.storage_limit, 1ull << 30);
	assert_int_equal(o.snaplen, 1500);
	assert_int_equal(o.segment_seconds, 30);
	assert_string_equal(o.namespaces, "shop,pay");
	assert_false(o.compress);
	assert_false(o.dryrun);
	/* --set over the file, a flag over both, whatever their order on the line */
	assert_int_equal(run(&o, err, sizeof(err), 7, "tap", "--snaplen", "3000", "--set",
			     "tap.snaplen=2000", "--config-path", p),
			 0);
	assert_int_equal(o.snaplen, 3000);
	assert_int_equal(run(&o, err, sizeof(err), 5, "tap", "-s", "tap.snaplen=2000",
			     "--config-path="
			     "/dev/null",
			     "--set=tap.storagelimit=2GB"),
			 0);
	assert_int_equal(o.snaplen, 2000);
	assert_int_equal(o.storage_limit, 2ull << 30);
	assert_int_equal(
	    run(&o, err, sizeof(err), 4, "tap", "--config-path", p, "-sstap.segment-seconds=7"),
	    -EINVAL); /* -s then "stap...": not a tap key */
	assert_int_equal(
	    run(&o, err, sizeof(err), 4, "tap", "--config-path", p, "-stap.segment-seconds=7"), 0);
	assert_int_equal(o.segment_seconds, 7);
	assert_int_equal(o.storage_limit, 1ull << 30);
	/* a list given by --set as a comma value */
	assert_int_equal(run(&o, err, sizeof(err), 5, "tap", "--config-path", p, "--set",
			     "tap.namespaces=a,b,c"),
			 0);
	assert_string_equal(o.namespaces, "a,b,c");
	/* the default file may be absent; a named one may not */
	assert_int_equal(run(&o, err, sizeof(err), 1, "tap"), 0);
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", "/nonexistent/x"),
			 -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/x"));
}

static void test_errors_name_key_and_line(void **state)
{
	struct tap_options o;
	char err[512];
	const char *p;

	(void)state;
	p = write_file("e1.yaml", "tap:\n  storagelimit: 1GB\n  nosuch: 3\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);
	assert_non_null(strstr(err, "e1.yaml:3"));
	assert_non_null(strstr(err, "tap.nosuch"));

	p = write_file("e2.yaml", "# comment\ntap:\n\n  snaplen: 10\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);
	assert_non_null(strstr(err, "e2.yaml:4"));
	assert_non_null(strstr(err, "tap.snaplen"));

	p = write_file("e3.yaml", "tap:\n  no-compress: maybe\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);
	assert_non_null(strstr(err, "e3.yaml:2: tap.no-compress"));

	p = write_file("e4.yaml", "tapp:\n  snaplen: 100\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);
	assert_non_null(strstr(err, "e4.yaml:1: unknown key 'tapp'"));

	p = write_file("e5.yaml", "tap:\n  snaplen: 100\n  snaplen: 200\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);
	assert_non_null(strstr(err, "e5.yaml:3"));

	p = write_file("e6.yaml", "tap:\n  storagelimit: [1, 2]\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);
	assert_non_null(strstr(err, "e6.yaml:2: tap.storagelimit"));

	p = write_file("e7.yaml", "a: &x 1\nb: *x\n");
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--config-path", p), -EINVAL);

	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--set", "tap.bogus=1"), -EINVAL);
	assert_non_null(strstr(err, "--set: unknown key 'tap.bogus'"));
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--set", "novalue"), -EINVAL);
	assert_int_equal(run(&o, err, sizeof(err), 3, "tap", "--set", "tap.help=1"), -EINVAL);
}

static void test_durations(void **state)
{
	long long ns;

	(void)state;
	assert_int_equal(config_duration("5s", &ns), 0);
	assert_int_equal(ns, 5000000000LL);
	assert_int_equal(config_duration("200ms", &ns), 0);
	assert_int_equal(ns, 200000000LL);
	assert_int_equal(config_duration("1.5m", &ns), 0);
	assert_int_equal(ns, 90000000000LL);
	assert_int_equal(config_duration("3", &ns), 0);
	assert_int_equal(ns, 3000000000LL);
	assert_int_not_equal(config_duration("-1s", &ns), 0);
	assert_int_not_equal(config_duration("5 parsecs", &ns), 0);
	assert_int_not_equal(config_duration("", &ns), 0);
	assert_int_not_equal(config_duration("1e300h", &ns), 0);
}

static void test_print_round_trip(void **state)
{
	const char *p =
	    write_file("r.yaml", "tap:\n  snaplen: 1500\n"
				 "triggers:\n  - name: a\n    query: 'http and "
				 "request.path == \"/x: y\"'\n    actions: [{log: true}]\n"
				 "scripting:\n  source: /from-file\n");
	char *text = NULL, err[512],
	     *argv[] = {"tap", "--snaplen", "2000", "--scripting-source", "/from-flag", NULL};
	size_t len = 0;
	struct config *c = NULL, *back = NULL;
	FILE *m;

	(void)state;
	assert_int_equal(config_load(p, false, &c, err, sizeof(err)), 0);
	m = open_memstream(&text, &len);
	assert_int_equal(config_print(c, 5, argv, tap_flags(), m), 0);
	fclose(m);
	/* the flag wins in the printed configuration, and the output reads back */
	assert_non_null(strstr(text, "snaplen: 2000"));
	/* a flag that maps from a top-level key is printed there, once */
	assert_non_null(strstr(text, "scripting:\n  source: /from-flag\n"));
	assert_null(strstr(text, "scripting-source"));
	assert_null(strstr(text, "/from-file"));
	assert_int_equal(config_parse("printed", text, len, &back, err, sizeof(err)), 0);
	assert_string_equal(config_get(config_get(back->root, "triggers")->kids[0], "query")->value,
			    "http and request.path == \"/x: y\"");
	free(text);
	config_free(c);
	config_free(back);
}

static struct trigger_set *triggers(const char *yaml, char *err, size_t errlen, int *ret)
{
	struct config *c = NULL;
	struct trigger_set *ts = NULL;

	*ret = config_parse("t.yaml", yaml, strlen(yaml), &c, err, errlen);
	if (*ret)
		return NULL;
	*ret = trigger_set_new(c, tmpdir, stderr, &ts, err, errlen);
	config_free(c);
	return ts;
}

static int collect_bytes(const void *buf, size_t len, void *arg)
{
	size_t *n = arg;

	*n += len;
	return 0;
}

/* A hub's triggers on an agent (trigger_set_replace_api), beside the file's; the list the hub
 * reads; the snapshots' listing and reading with the name check. */
static void test_trigger_api(void **state)
{
	char err[512], path[600];
	struct trigger_set *ts;
	json_t *list;
	char *txt;
	size_t got = 0;
	int ret;

	(void)state;
	ts = triggers("triggers:\n"
		      "  - name: cfg\n"
		      "    query: dns\n"
		      "    actions: [{counter: true}]\n",
		      err, sizeof(err), &ret);
	assert_int_equal(ret, 0);
	ret = trigger_set_replace_api(
	    ts, "v1",
	    "[{\"name\":\"nf\",\"query\":\"http and response.status == 404\","
	    "\"actions\":[{\"webhook\":{\"url\":\"http://127.0.0.1:9/x\",\"retries\":2}},"
	    "{\"counter\":true}],\"rate_limit\":{\"max\":3,\"per\":\"1m\"}}]",
	    err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_string_equal(trigger_set_filter(ts), "(dns) or (http and response.status == 404)");
	txt = trigger_set_list_json(ts);
	list = json_loads(txt, 0, NULL);
	free(txt);
	assert_string_equal(json_string_value(json_object_get(list, "version")), "v1");
	assert_int_equal(json_array_size(json_object_get(list, "triggers")), 2);
	json_t *t0 = json_array_get(json_object_get(list, "triggers"), 0);
	json_t *t1 = json_array_get(json_object_get(list, "triggers"), 1);
	assert_string_equal(json_string_value(json_object_get(t0, "source")), "config");
	assert_string_equal(json_string_value(json_object_get(t0, "query")), "dns");
	assert_string_equal(json_string_value(json_object_get(t1, "source")), "api");
	assert_string_equal(json_string_value(json_object_get(t1, "name")), "nf");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t1, "counters"),
							    "matched")),
			 0);
	json_decref(list);

	/* refused, all or none: the set stays as it was */
	static const struct {
		const char *json, *want;
	} bad[] = {
	    {"[{\"name\":\"cfg\",\"query\":\"http\",\"actions\":[{\"counter\":true}]}]",
	     "name: the configuration file has a trigger of this name"},
	    {"[{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"counter\":true}]},"
	     "{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"counter\":true}]}]",
	     "name: two triggers have this name"},
	    {"[{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"exec\":\"id\"}]}]",
	     "actions[0].exec: exec is for the configuration file only"},
	    {"[{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"log\":\"/tmp/x\"}]}]",
	     "actions[0].log: log to a file is for the configuration file only"},
	    {"[{\"name\":\"a\",\"query\":\"http and\",\"actions\":[{\"counter\":true}]}]",
	     "query: column 9"},
	    {"[{\"name\":\"a\",\"query\":\"http\",\"actions\":[{\"webhook\":{\"url\":"
	     "\"http://x\",\"retries\":\"many\"}}]}]",
	     "actions[0].webhook.retries: expected a whole number"},
	    {"{}", "expected a list"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ret = trigger_set_replace_api(ts, "v2", bad[i].json, err, sizeof(err));
		if (ret != -EINVAL || !strstr(err, bad[i].want))
			fail_msg("%s: got %d '%s', want '%s'", bad[i].json, ret, err, bad[i].want);
	}
	assert_string_equal(trigger_set_filter(ts), "(dns) or (http and response.status == 404)");
	/* an empty list takes the hub's away; the file's stays */
	assert_int_equal(trigger_set_replace_api(ts, "v3", "[]", err, sizeof(err)), 0);
	assert_string_equal(trigger_set_filter(ts), "(dns)");

	/* snapshots: only TRIGGER.ENTRY-ID.pcap regular files are listed and read */
	snprintf(path, sizeof(path), "%s/snapshots", tmpdir);
	mkdir(path, 0700);
	write_file("snapshots/nf.abc-1-2.pcap", "0123456789");
	write_file("snapshots/nf.abc-1-3.pcap.part", "x");
	write_file("snapshots/notes.txt", "x");
	write_file("secret", "s3cret");
	snprintf(path, sizeof(path), "%s/snapshots/nf.link-1.pcap", tmpdir);
	assert_int_equal(symlink("../secret", path), 0);
	txt = trigger_set_snapshots_json(ts);
	list = json_loads(txt, 0, NULL);
	free(txt);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "entry_id")),
			    "abc-1-2");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "size")), 10);
	json_decref(list);
	assert_int_equal(trigger_set_snapshot_read(ts, "nf.abc-1-2.pcap", collect_bytes, &got, err,
						   sizeof(err)),
			 0);
	assert_int_equal(got, 10);
	assert_int_equal(
	    trigger_set_snapshot_read(ts, "../secret", collect_bytes, &got, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(trigger_set_snapshot_read(ts, "nf.link-1.pcap", collect_bytes, &got, err,
						   sizeof(err)),
			 -ENOENT);
	assert_int_equal(trigger_set_snapshot_read(ts, "nf.none-1.pcap", collect_bytes, &got, err,
						   sizeof(err)),
			 -ENOENT);
	trigger_set_free(ts);

	/* the bounds: per trigger (keep), then all together (bytes), oldest first */
	{
		static const char *const files[] = {"a.e-1.pcap", "a.e-2.pcap", "a.e-3.pcap",
						    "b.e-4.pcap", "b.e-5.pcap"};
		char dir[100], big[1001];
		struct stat st;

		snprintf(dir, sizeof(dir), "%s/trim", tmpdir);
		mkdir(dir, 0700);
		memset(big, 'x', 1000);
		big[1000] = '\0';
		for (size_t i = 0; i < 5; i++) {
			struct timespec ts[2] = {{.tv_sec = 1000 + (time_t)i}, {.tv_sec = 1000 + (time_t)i}};

			snprintf(path, sizeof(path), "trim/%s", files[i]);
			write_file(path, big);
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			utimensat(AT_FDCWD, path, ts, 0);
		}
		write_file("trim/other.txt", big); /* not a snapshot: never counted nor removed */
		trigger_snapshots_trim(dir, "a", 2, 0); /* a's oldest goes */
		snprintf(path, sizeof(path), "%s/a.e-1.pcap", dir);
		assert_int_equal(stat(path, &st), -1);
		snprintf(path, sizeof(path), "%s/a.e-2.pcap", dir);
		assert_int_equal(stat(path, &st), 0);
		trigger_snapshots_trim(dir, "b", 100, 2500); /* 4000 bytes: the two oldest go */
		for (size_t i = 0; i < 5; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			assert_int_equal(stat(path, &st) == 0, i >= 3);
		}
		snprintf(path, sizeof(path), "%s/other.txt", dir);
		assert_int_equal(stat(path, &st), 0);
	}

	/* a set without configured triggers, for a hub to fill */
	assert_int_equal(trigger_set_empty(tmpdir, stderr, &ts), 0);
	assert_null(trigger_set_filter(ts));
	assert_int_equal(trigger_set_replace_api(
			     ts, "v1",
			     "[{\"name\":\"x\",\"query\":\"dns\",\"actions\":[{\"counter\":true}]}]",
			     err, sizeof(err)),
			 0);
	assert_string_equal(trigger_set_filter(ts), "(dns)");
	trigger_set_free(ts);
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A replace through the API returns once the follow for the new set is subscribed, woken by
 * the follow itself, not after a poll's 3 s bound: at once when there is no follow thread,
 * when the follow is in place, and when it cannot start (the agent refuses). 1.5 s is half
 * of that bound: a wake-up that came from the bound fails. */
static void test_trigger_follow_live(void **state)
{
	static const char *const set1 =
	    "[{\"name\":\"d\",\"query\":\"dns\",\"actions\":[{\"counter\":true}]}]";
	static const char *const set2 =
	    "[{\"name\":\"h\",\"query\":\"http\",\"actions\":[{\"counter\":true}]}]";
	struct agent_api api;
	struct trigger_set *ts;
	struct tap_service svc;
	struct timespec t0;
	char err[512];
	char *txt;

	(void)state;
	/* not started: no follow to wait for */
	assert_int_equal(trigger_set_empty(tmpdir, stderr, &ts), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(trigger_set_replace_api(ts, "v1", set1, err, sizeof(err)), 0);
	free(trigger_set_list_json(ts));
	if (secs_since(&t0) > 1.5)
		fail_msg("replace+list without a follow thread took %.2f s", secs_since(&t0));
	trigger_set_free(ts);

	/* started over an agent: the follow is subscribed when replace returns */
	assert_int_equal(agent_api_mem_new(&(struct agent_api_mem_opts){0}, &api), 0);
	assert_int_equal(trigger_set_empty(tmpdir, stderr, &ts), 0);
	trigger_set_service(ts, &svc);
	assert_int_equal(svc.start(&api, svc.ctx, err, sizeof(err)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(trigger_set_replace_api(ts, "v1", set1, err, sizeof(err)), 0);
	if (secs_since(&t0) > 1.5)
		fail_msg("replace with a follow that starts took %.2f s", secs_since(&t0));
	assert_int_equal(agent_api_mem_followers(&api), 1);
	/* the entry added right after the replace reaches the trigger */
	assert_int_equal(agent_api_mem_add(&api, "e1", 1000,
					   "{\"protocol\":\"dns\",\"ts\":\"x\","
					   "\"request\":{\"name\":\"a.example\"}}"),
			 0);
	for (int i = 0;; i++) {
		txt = trigger_set_list_json(ts);
		if (strstr(txt, "\"matched\":1"))
			break;
		if (i == 1000)
			fail_msg("the entry never matched: %s", txt);
		free(txt);
		usleep(10000);
	}
	free(txt);

	/* the agent refuses: the follow fails to start, replace and list do not wait for it */
	agent_api_mem_set_down(&api, true);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(trigger_set_replace_api(ts, "v2", set2, err, sizeof(err)), 0);
	txt = trigger_set_list_json(ts);
	if (secs_since(&t0) > 1.5)
		fail_msg("replace+list with a failing follow took %.2f s", secs_since(&t0));
	assert_non_null(strstr(txt, "\"v2\""));
	free(txt);
	svc.stop(svc.ctx);
	trigger_set_free(ts);
	api.ops->destroy(api.self);
}

static void test_trigger_config(void **state)
{
	char err[512];
	int ret;
	struct trigger_set *ts;

	(void)state;
	ts = triggers("triggers:\n"
		      "  - name: nf\n"
		      "    query: 'http and response.status == 404'\n"
		      "    actions:\n"
		      "      - webhook: {url: 'http://127.0.0.1:1/x', timeout: 1s, retries: 2,\n"
		      "                  headers: {X-A: b}, body: '{\"t\": \"{{trigger}}\"}'}\n"
		      "      - exec: cat\n"
		      "      - snapshot: {before: 1s, after: 1s}\n"
		      "      - counter: true\n"
		      "  - name: dns\n"
		      "    query: dns\n"
		      "    rate_limit: {max: 3, per: 1m}\n"
		      "    dedup: {window: 1m, key: request.questions}\n"
		      "    actions: [{log: true}]\n",
		      err, sizeof(err), &ret);
	assert_int_equal(ret, 0);
	assert_non_null(ts);
	assert_string_equal(trigger_set_filter(ts), "(http and response.status == 404) or (dns)");
	trigger_set_free(ts);

	struct {
		const char *yaml, *want;
	} bad[] = {
	    {"triggers: {a: 1}\n", "t.yaml:1: triggers: expected a list"},
	    {"triggers:\n  - name: a\n    query: http\n", "t.yaml:2: triggers[0].actions"},
	    {"triggers:\n  - name: a b\n    query: http\n    actions: [{log: true}]\n",
	     "t.yaml:2: triggers[0].name"},
	    {"triggers:\n  - name: a\n    query: 'http and'\n    actions: [{log: true}]\n",
	     "t.yaml:3: triggers[0].query: column 9"},
	    {"triggers:\n  - name: a\n    query: http\n    actions:\n      - webhook: ftp://x\n",
	     "t.yaml:5: triggers[0].actions[0].webhook"},
	    {"triggers:\n  - name: a\n    query: http\n    actions:\n"
	     "      - webhook: {url: 'http://x', timeout: soon}\n",
	     "t.yaml:5: triggers[0].actions[0].webhook.timeout"},
	    {"triggers:\n  - name: a\n    query: http\n    actions: [{log: true}]\n"
	     "    rate_limit: {max: 0}\n",
	     "t.yaml:5: triggers[0].rate_limit.max"},
	    {"triggers:\n  - name: a\n    query: http\n    actions: [{log: true}]\n"
	     "  - name: a\n    query: dns\n    actions: [{log: true}]\n",
	     "t.yaml:5: triggers[1].name: two triggers"},
	    {"triggers:\n  - name: a\n    query: http\n    actions: [{log: true}]\n    when: x\n",
	     "t.yaml:5: triggers[0].when: unknown key"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ts = triggers(bad[i].yaml, err, sizeof(err), &ret);
		assert_null(ts);
		assert_int_equal(ret, -EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].want);
	}
}

static const char *http_entry(char *buf, size_t size, int n, int status, const char *path)
{
	snprintf(
	    buf, size,
	    "{\"id\":\"r-%d\",\"protocol\":\"http\",\"src\":{\"ip\":\"10.0.0.1\",\"port\":4000},"
	    "\"dst\":{\"ip\":\"10.0.0.2\",\"port\":80},\"request\":{\"method\":\"GET\","
	    "\"path\":\"%s\"},\"response\":{\"status\":%d}}",
	    n, path, status);
	return buf;
}

static void offer(struct trigger_set *ts, int n, int status, const char *path, int want)
{
	char buf[512], id[32];
	struct agent_entry e = {.id = id, .ts_ns = 1};

	snprintf(id, sizeof(id), "r-%d", n);
	e.json = http_entry(buf, sizeof(buf), n, status, path);
	e.json_len = strlen(e.json);
	assert_int_equal(trigger_set_offer(ts, &e), want);
}

static long long stat_of(struct trigger_set *ts, const char *trig, const char *key)
{
	char *s = trigger_set_stats_json(ts);
	json_t *j = json_loads(s, 0, NULL);
	long long v = json_integer_value(
	    json_object_get(json_object_get(json_object_get(j, "triggers"), trig), key));

	json_decref(j);
	free(s);
	return v;
}

static void test_trigger_matching(void **state)
{
	char err[512];
	int ret;
	struct trigger_set *ts = triggers("triggers:\n"
					  "  - name: nf\n"
					  "    query: 'http and response.status == 404'\n"
					  "    rate_limit: {max: 3, per: 1h}\n"
					  "    actions: [{counter: true}]\n"
					  "  - name: by-path\n"
					  "    query: 'http'\n"
					  "    dedup: {window: 1h, key: request.path}\n"
					  "    actions: [{counter: true}]\n",
					  err, sizeof(err), &ret);

	(void)state;
	assert_int_equal(ret, 0);
	offer(ts, 1, 404, "/a", 2);
	offer(ts, 2, 200, "/a", 1); /* by-path: /a again, de-duplicated */
	offer(ts, 3, 404, "/b", 2);
	offer(ts, 4, 404, "/c", 2);
	offer(ts, 5, 404, "/a", 2); /* nf: the fourth within the hour, rate-limited */
	assert_int_equal(stat_of(ts, "nf", "matched"), 4);
	assert_int_equal(stat_of(ts, "nf", "fired"), 3);
	assert_int_equal(stat_of(ts, "nf", "rate_limited"), 1);
	assert_int_equal(stat_of(ts, "nf", "sent"), 3);
	assert_int_equal(stat_of(ts, "by-path", "matched"), 5);
	assert_int_equal(stat_of(ts, "by-path", "deduplicated"), 2);
	assert_int_equal(stat_of(ts, "by-path", "sent"), 3);
	{
		/* a tree lent with the entry (agent_local's follow parsed it) is what the
		 * queries read: the text is not parsed again (here it says nothing) */
		char buf[512];
		json_t *tree = json_loads(http_entry(buf, sizeof(buf), 6, 404, "/z"), 0, NULL);
		struct agent_entry e = {.id = "r-6", .ts_ns = 1, .json = "{}", .json_len = 2};

		assert_non_null(tree);
		e.tree = tree;
		assert_int_equal(trigger_set_offer(ts, &e), 2);
		e.tree = NULL;
		assert_int_equal(trigger_set_offer(ts, &e), 0);
		json_decref(tree);
	}
	trigger_set_free(ts);
}

/* Nothing runs the jobs (no service started): the queue fills, then jobs are dropped and
 * counted, and the follow (here: the test) never waits. */
static void test_trigger_queue_bound(void **state)
{
	char err[512];
	int ret;
	struct trigger_set *ts = triggers("triggers:\n"
					  "  - name: all\n"
					  "    query: http\n"
					  "    actions: [{log: true}]\n",
					  err, sizeof(err), &ret);

	(void)state;
	assert_int_equal(ret, 0);
	for (int i = 0; i < TRIGGER_QUEUE_MAX + 5; i++)
		offer(ts, i, 200, "/q", 1);
	assert_int_equal(stat_of(ts, "all", "matched"), TRIGGER_QUEUE_MAX + 5);
	assert_int_equal(stat_of(ts, "all", "dropped"), 5);
	{
		char *st = trigger_set_stats_json(ts);

		assert_non_null(strstr(st, "\"queue_dropped\":5"));
		free(st);
	}
	trigger_set_free(ts); /* frees the queued jobs (ASan: no leak) */
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	config_argv_free(last_ac, last_av);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_errors_name_key_and_line),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_print_round_trip),
	    cmocka_unit_test(test_trigger_config),
	    cmocka_unit_test(test_trigger_api),
	    cmocka_unit_test(test_trigger_follow_live),
	    cmocka_unit_test(test_trigger_matching),
	    cmocka_unit_test(test_trigger_queue_bound),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
