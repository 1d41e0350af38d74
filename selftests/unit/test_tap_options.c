// SPDX-License-Identifier: Apache-2.0
/* Unit tests: `floe tap` flags and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "tap/tap.h"

static void test_parse_size(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(parse_size("200MB", &v), 0);
	assert_int_equal(v, 200ull << 20);
	assert_int_equal(parse_size("64KiB", &v), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(parse_size("1g", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("12 MiB", &v), 0);
	assert_int_equal(v, 12ull << 20);
	assert_int_not_equal(parse_size("", &v), 0);
	assert_int_not_equal(parse_size("MB", &v), 0);
	assert_int_not_equal(parse_size("-5MB", &v), 0);
	assert_int_not_equal(parse_size("5XB", &v), 0);
	assert_int_not_equal(parse_size("99999999999999999999", &v), 0);
	assert_int_not_equal(parse_size("99999999999TB", &v), 0);
}

static int parse(struct tap_options *o, char *err, size_t errlen, int argc, ...)
{
	char *argv[32];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	tap_options_init(o);
	return tap_options_parse(argc, argv, o, stdout, err, errlen);
}

static void test_flags(void **state)
{
	struct tap_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), 7, "tap", "^web-", "-n", "shop,pay", "--dryrun",
			       "--storagelimit", "10MB"),
			 0);
	assert_string_equal(o.pod_regex, "^web-");
	assert_string_equal(o.namespaces, "shop,pay");
	assert_true(o.dryrun);
	assert_false(o.all_namespaces);
	assert_int_equal(o.storage_limit, 10ull << 20);

	/* Flags after the regex, -A, -d and --set. */
	assert_int_equal(parse(&o, err, sizeof(err), 6, "tap", "-A", "db", "-d", "--set",
			       "tap.snaplen=256"),
			 0);
	assert_true(o.all_namespaces);
	assert_true(o.debug);
	assert_string_equal(o.pod_regex, "db");
	assert_int_equal(o.snaplen, 256);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-s", "tap.ringbuffer=1MB"), 0);
	assert_int_equal(o.ringbuf_bytes, 1ull << 20);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--dissect-queue", "8MiB"), 0);
	assert_int_equal(o.dissect_queue, 8ull << 20);
	assert_int_equal(o.queue_memory, 0); /* QUEUE_BUDGET_DEFAULT */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--queue-memory", "24MiB"), 0);
	assert_int_equal(o.queue_memory, 24ull << 20);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-s", "tap.queue-memory=32MiB"), 0);
	assert_int_equal(o.queue_memory, 32ull << 20);
	assert_int_equal(o.dissect_memory, 0); /* the engine's default */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--dissect-memory", "16MiB"), 0);
	assert_int_equal(o.dissect_memory, 16ull << 20);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-s", "tap.dissect-memory=1G"), 0);
	assert_int_equal(o.dissect_memory, 1ull << 30);
	assert_int_equal(o.name_history, 0); /* the resolver's default */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--name-history", "100"), 0);
	assert_int_equal(o.name_history, 100);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-s", "tap.name-history=7"), 0);
	assert_int_equal(o.name_history, 7);

	/* The store is private unless a group is given, by flag or by --set. */
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_null(o.store_group);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--store-group", "floe-readers"), 0);
	assert_string_equal(o.store_group, "floe-readers");
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.store-group=adm"), 0);
	assert_string_equal(o.store_group, "adm");
}

/* --zstd-level: zstd's fast level -1 by default; 1..max or -1..-7; 0 and the rest refused. */
static void test_zstd_level(void **state)
{
	struct tap_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_int_equal(o.zstd_level, -1);
	assert_true(o.compress);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--zstd-level", "3"), 0);
	assert_int_equal(o.zstd_level, 3);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--zstd-level", "-7"), 0);
	assert_int_equal(o.zstd_level, -7);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.zstd-level=-3"), 0);
	assert_int_equal(o.zstd_level, -3);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--zstd-level", "19"), 0);
	assert_int_equal(o.zstd_level, 19);
	const char *bad[] = {"0", "-8", "23", "", "1x", "fast"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--zstd-level", bad[i]),
				 -EINVAL);
		assert_non_null(strstr(err, "--zstd-level: expected 1.."));
	}
}

static void test_bad_flags(void **state)
{
	struct tap_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--bogus"), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--storagelimit"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--storagelimit", "lots"), -EINVAL);
	assert_non_null(strstr(err, "invalid size"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--snaplen", "10"), -EINVAL);
	/* A queue smaller than one large packet would dissect nothing. */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--dissect-queue", "1KiB"), -EINVAL);
	assert_non_null(strstr(err, "--dissect-queue"));
	/* Less than the queues' floors together. */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--queue-memory", "4MiB"), -EINVAL);
	assert_non_null(strstr(err, "--queue-memory"));
	/* Less than one busy connection's own bounds. */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--dissect-memory", "1MiB"), -EINVAL);
	assert_non_null(strstr(err, "--dissect-memory"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--name-history", "0"), -EINVAL);
	assert_non_null(strstr(err, "--name-history: expected 1..100000000"));
	/* --servicemesh: true by default, =false turns it off, nothing else (docs/tls.md). */
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_true(o.servicemesh);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--servicemesh=false"), 0);
	assert_false(o.servicemesh);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--servicemesh"), 0);
	assert_true(o.servicemesh);
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_true(o.tls_unprobe_after == 30);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-unprobe-after", "0.2"), 0);
	assert_true(o.tls_unprobe_after == 0.2);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-unprobe-after", "-1"), -EINVAL);
	assert_non_null(strstr(err, "--tls-unprobe-after: expected seconds from 0 to 86400"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--servicemesh=no"), -EINVAL);
	assert_non_null(strstr(err, "--servicemesh=no: expected true or false"));
	/* --tls takes true or false, nothing else (docs/tls.md). */
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--tls=yes"), -EINVAL);
	assert_non_null(strstr(err, "expected true or false"));
	/* -p/--pcap replays a capture (tap/replay.h); --no-history turns the history off */
	assert_int_equal(parse(&o, err, sizeof(err), 4, "tap", "-p", "x.pcap", "--no-history"), 0);
	assert_string_equal(o.pcap_file, "x.pcap");
	assert_false(o.history);
	/* The hub of floe tap: off, its address and port (0: any free one); a port is 0..65535 */
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "a"), 0);
	assert_false(o.no_hub);
	assert_null(o.proxy_host);
	assert_int_equal(o.proxy_front_port, -1);
	assert_int_equal(parse(&o, err, sizeof(err), 6, "tap", "--proxy-host", "0.0.0.0",
			       "--proxy-front-port", "0", "--no-hub"),
			 0);
	assert_string_equal(o.proxy_host, "0.0.0.0");
	assert_int_equal(o.proxy_front_port, 0);
	assert_true(o.no_hub);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--proxy-front-port", "65536"),
			 -EINVAL);
	assert_non_null(strstr(err, "--proxy-front-port: expected 0..65535 (0: none)"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--proxy-front-port", "x"), -EINVAL);
	assert_int_equal(o.proxy_hub_port, -1);
	assert_int_equal(parse(&o, err, sizeof(err), 5, "tap", "--proxy-hub-port", "18898",
			       "--proxy-front-port", "18899"),
			 0);
	assert_int_equal(o.proxy_hub_port, 18898);
	assert_int_equal(o.proxy_front_port, 18899);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--proxy-hub-port", "0"), 0);
	assert_int_equal(o.proxy_hub_port, 0);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--proxy-hub-port", "70000"),
			 -EINVAL);
	assert_non_null(strstr(err, "--proxy-hub-port: expected 0..65535 (0: any free port)"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--proxy-hub-port", ""), -EINVAL);
	/* --no-capture-scope: --filter's pushdown stays out of the kernel */
	assert_false(o.no_capture_scope);
	assert_int_equal(parse(&o, err, sizeof(err), 4, "tap", "--filter", "dst.port == 80",
			       "--no-capture-scope"),
			 0);
	assert_true(o.no_capture_scope);
	assert_string_equal(o.filter, "dst.port == 80");
	/* --agent-name: a host name's characters */
	assert_null(o.agent_name);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--agent-name", "node-a.1_x"), 0);
	assert_string_equal(o.agent_name, "node-a.1_x");
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--agent-name", "a b"), -EINVAL);
	assert_non_null(strstr(err, "--agent-name: expected 1 to 63 letters"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--agent-name", ""), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "a", "b"), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.nope=1"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "snaplen=1"), -EINVAL);
}

/* Values that parse but make no sense: each a clear error that says what is accepted. */
/* --tls is on by default; --tls=false turns it off, --tls and --tls=true on. */
static void test_tls_flag(void **state)
{
	struct tap_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_true(o.tls);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--tls=false"), 0);
	assert_false(o.tls);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--tls"), 0);
	assert_true(o.tls);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls=false", "--tls=true"), 0);
	assert_true(o.tls);
	/* --tls-pcap: the plaintext into the store too, on by default, the same values */
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_true(o.tls_pcap);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--tls-pcap=false"), 0);
	assert_false(o.tls_pcap);
	assert_true(o.tls);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-pcap=false", "--tls-pcap"), 0);
	assert_true(o.tls_pcap);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--tls-pcap=no"), -EINVAL);
	assert_non_null(strstr(err, "--tls-pcap=no: expected true or false"));
	/* --tls-attach: auto (default), perf, multi */
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	assert_int_equal(o.tls_attach, TLS_ATTACH_AUTO);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-attach", "perf"), 0);
	assert_int_equal(o.tls_attach, TLS_ATTACH_PERF);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-attach", "multi"), 0);
	assert_int_equal(o.tls_attach, TLS_ATTACH_MULTI);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-attach", "auto"), 0);
	assert_int_equal(o.tls_attach, TLS_ATTACH_AUTO);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--tls-attach", "kprobe"), -EINVAL);
	assert_non_null(strstr(err, "--tls-attach: expected auto, perf or multi"));
}

static void test_checked_values(void **state)
{
	struct tap_options o;
	char err[256], path[] = "/tmp/floe-test-inventory-XXXXXX";
	int fd;

	(void)state;
	/* A size under the minimum says the minimum, not just "invalid". */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--storagelimit", "1KB"), -EINVAL);
	assert_non_null(strstr(err, "--storagelimit: 1KB is out of range: at least 64KiB"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--storagelimit", "64KiB"), 0);
	assert_int_equal(o.storage_limit, 64u << 10);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.storagelimit=63KiB"),
			 -EINVAL);
	assert_non_null(strstr(err, "at least 64KiB"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--ringbuffer", "4GiB"), -EINVAL);
	assert_non_null(strstr(err, "at most 2GiB"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--body-max", "2GiB"), -EINVAL);
	assert_non_null(strstr(err, "at most 1GiB"));

	/* --duration 0 used to mean "no limit" silently; it is an error now, as is any value
	 * that is not a positive finite number of seconds. */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--duration", "0"), -EINVAL);
	assert_non_null(strstr(err, "--duration: expected seconds greater than 0, got '0'"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set", "tap.duration=0"),
			 -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--duration", "-1"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--duration", "inf"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--duration", "nan"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--duration", "2x"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--duration", "0.5"), 0);
	assert_true(o.duration == 0.5);

	/* -A and -n contradict each other, in either order. */
	assert_int_equal(parse(&o, err, sizeof(err), 4, "tap", "-A", "-n", "shop"), -EINVAL);
	assert_non_null(strstr(err, "-A (every namespace) and -n shop exclude each other"));
	assert_int_equal(parse(&o, err, sizeof(err), 4, "tap", "--namespaces", "shop", "-A"),
			 -EINVAL);

	/* An inventory named on the command line must exist; the default may be missing. */
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--inventory",
			       "/nonexistent/floe-inventory"),
			 -EINVAL);
	assert_non_null(
	    strstr(err, "--inventory: cannot read '/nonexistent/floe-inventory': No such file"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--set",
			       "tap.inventory=/nonexistent/floe-inventory"),
			 -EINVAL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--inventory", path), 0);
	assert_string_equal(o.inventory, path);
	unlink(path);
	setenv("FLOE_INVENTORY", "/nonexistent/floe-inventory", 1);
	assert_int_equal(parse(&o, err, sizeof(err), 1, "tap"), 0);
	unsetenv("FLOE_INVENTORY");
}

/* Kubernetes mode's flags: --kubeconfig must be readable, --k8s finds $KUBECONFIG (the first of
 * a list), --node and --all-nodes exclude each other and need Kubernetes mode, as --max-pods,
 * -l and --chunk-size do. */
static void test_k8s_flags(void **state)
{
	char dir[] = "/tmp/floe-topt.XXXXXX", kc[64], env[160];
	struct tap_options o;
	char err[256];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(kc, sizeof(kc), "%s/config", dir);
	f = fopen(kc, "w");
	fputs("current-context: x\n", f);
	fclose(f);
	unsetenv("KUBERNETES_SERVICE_HOST");

	assert_int_equal(parse(&o, err, sizeof(err), 5, "tap", "--kubeconfig", kc, "--node", "n1"),
			 0);
	assert_string_equal(o.kubeconfig, kc);
	assert_string_equal(o.node, "n1");
	assert_int_equal(parse(&o, err, sizeof(err), 4, "tap", "--kubeconfig", kc, "--all-nodes"),
			 0);
	assert_true(o.all_nodes);
	assert_null(o.node);

	snprintf(env, sizeof(env), "%s:/nonexistent/other", kc);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--k8s"), 0);
	assert_string_equal(o.kubeconfig, kc);
	setenv("KUBECONFIG", "/nonexistent/floe-kubeconfig", 1);
	assert_int_equal(parse(&o, err, sizeof(err), 2, "tap", "--k8s"), -EINVAL);
	assert_non_null(strstr(err, "--k8s: cannot read the kubeconfig /nonexistent/floe-kubeconfig "
				    "($KUBECONFIG)"));
	unsetenv("KUBECONFIG");

	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--kubeconfig", "/nonexistent/kc"),
			 -EINVAL);
	assert_non_null(strstr(err, "--kubeconfig: cannot read '/nonexistent/kc'"));
	assert_int_equal(parse(&o, err, sizeof(err), 6, "tap", "--kubeconfig", kc, "--node", "n1",
			       "--all-nodes"),
			 -EINVAL);
	assert_non_null(strstr(err, "exclude each other"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--node", "n1"), -EINVAL);
	assert_non_null(strstr(err, "--node is for Kubernetes mode"));
	assert_int_equal(parse(&o, err, sizeof(err), 5, "tap", "--kubeconfig", kc, "--node", ""),
			 -EINVAL);
	/* the pod table's bound */
	assert_int_equal(
	    parse(&o, err, sizeof(err), 5, "tap", "--kubeconfig", kc, "--max-pods", "20000"), 0);
	assert_int_equal(o.pods_max, 20000);
	assert_int_equal(
	    parse(&o, err, sizeof(err), 5, "tap", "--kubeconfig", kc, "--max-pods", "0"), -EINVAL);
	assert_non_null(strstr(err, "--max-pods: expected 1..1048576, got '0'"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "--max-pods", "10"), -EINVAL);
	assert_non_null(strstr(err, "--max-pods is for Kubernetes mode"));
	/* a label selector (the API server checks its syntax), the page size, the names watch */
	assert_int_equal(parse(&o, err, sizeof(err), 7, "tap", "--kubeconfig", kc, "-l",
			       "app=web,tier!=db", "--chunk-size", "2"),
			 0);
	assert_string_equal(o.selector, "app=web,tier!=db");
	assert_int_equal(o.page_limit, 2);
	assert_true(o.names_all_nodes);
	assert_int_equal(parse(&o, err, sizeof(err), 5, "tap", "--kubeconfig", kc,
			       "--selector=app in (a,b)", "--names-all-nodes=false"),
			 0);
	assert_string_equal(o.selector, "app in (a,b)");
	assert_false(o.names_all_nodes);
	assert_int_equal(
	    parse(&o, err, sizeof(err), 5, "tap", "--kubeconfig", kc, "--chunk-size", "10001"),
	    -EINVAL);
	assert_non_null(strstr(err, "--chunk-size: expected 1..10000, got '10001'"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "tap", "-l", "app=web"), -EINVAL);
	assert_non_null(strstr(err, "-l/--selector is for Kubernetes mode"));
	unlink(kc);
	rmdir(dir);
}

/* The configuration file read again while floe runs (tap_options_reread): its scope keys as
 * they are now, the command line still winning; a file that no longer parses is an error. */
static void test_reread(void **state)
{
	char dir[] = "/tmp/floe-topt.XXXXXX", path[64], kc[64], err[256], **av = NULL;
	char *argv[] = {"tap", "--config-path", path, "--kubeconfig", kc, "web", NULL};
	struct tap_options o;
	int ac = 0;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/floe.yaml", dir);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	f = fopen(kc, "w");
	fputs("current-context: x\n", f);
	fclose(f);
	f = fopen(path, "w");
	fputs("tap:\n  namespaces: [shop]\n  selector: app=web\n", f);
	fclose(f);
	assert_int_equal(tap_options_reread(6, argv, &o, &ac, &av, err, sizeof(err)), 0);
	assert_string_equal(o.namespaces, "shop");
	assert_string_equal(o.selector, "app=web");
	assert_string_equal(o.pod_regex, "web");
	config_argv_free(ac, av);
	f = fopen(path, "w");
	fputs("tap:\n  allnamespaces: true\n  selector: \"app in (a,b)\"\n", f);
	fclose(f);
	assert_int_equal(tap_options_reread(6, argv, &o, &ac, &av, err, sizeof(err)), 0);
	assert_null(o.namespaces);
	assert_true(o.all_namespaces);
	assert_string_equal(o.selector, "app in (a,b)");
	config_argv_free(ac, av);
	/* the command line's -l wins over the file's */
	{
		char *argv2[] = {"tap", "--config-path", path, "--kubeconfig", kc, "-l", "x=y", NULL};

		assert_int_equal(tap_options_reread(7, argv2, &o, &ac, &av, err, sizeof(err)), 0);
		assert_string_equal(o.selector, "x=y");
		config_argv_free(ac, av);
	}
	f = fopen(path, "w");
	fputs("tap:\n  namespaces: [shop\n", f);
	fclose(f);
	assert_int_equal(tap_options_reread(6, argv, &o, &ac, &av, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "floe.yaml"));
	config_argv_free(ac, av);
	unlink(path);
	unlink(kc);
	rmdir(dir);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reread),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_zstd_level),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_checked_values),
		cmocka_unit_test(test_tls_flag),
		cmocka_unit_test(test_k8s_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
