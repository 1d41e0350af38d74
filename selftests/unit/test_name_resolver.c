// SPDX-License-Identifier: Apache-2.0
/*
 * The name resolver (lib/node/pods/name_resolver.c): an address's pod, namespace, service and
 * node over time. A pod that has gone still names what was captured while it lived; an IP
 * reused by another pod names each entry by its time; services from EndpointSlices (counted
 * references, the endpoint's pod for a pod floe does not follow) and cluster IPs; the history
 * bound forgets the oldest closed span first; memory returns when everything goes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pods/name_resolver.h"

static void ip(const char *s, uint8_t key[16])
{
	uint8_t a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		name_resolver_key(AF_INET, a, key);
	else
		assert_int_equal(inet_pton(AF_INET6, s, key), 1);
}

/* "pod ns service node" at (addr, ts), "-" when unknown. */
static const char *at(struct name_resolver *r, const char *addr, uint64_t ts)
{
	static char buf[1024];
	uint8_t key[16];
	struct entry_names *n;

	ip(addr, key);
	n = name_resolver_lookup(r, key, ts);
	if (!n)
		return "-";
	snprintf(buf, sizeof(buf), "%s %s %s %s", entry_names_pod(n), entry_names_namespace(n),
		 entry_names_service(n), entry_names_node(n));
	entry_names_unref(n);
	return buf;
}

static void set_pod(struct name_resolver *r, const char *addr, const char *pod, uint64_t ts)
{
	uint8_t key[16];

	ip(addr, key);
	assert_int_equal(name_resolver_set_pod(r, key, pod, "shop", "node-1", ts), 0);
}

static int svc(struct name_resolver *r, bool add, const char *addr, const char *name,
	       const char *pod, uint64_t ts)
{
	uint8_t key[16];

	ip(addr, key);
	return add ? name_resolver_service_add(r, key, "shop", name, pod, pod ? "node-2" : NULL, ts)
		   : name_resolver_service_del(r, key, "shop", name, pod, pod ? "node-2" : NULL,
					       ts);
}

/* A pod's IP: before, while and after it lived; then the IP reused by another pod. */
static void test_pod_over_time(void **state)
{
	struct name_resolver *r = name_resolver_new(0, 0);

	assert_string_equal(at(r, "10.0.0.1", 50), "-");
	set_pod(r, "10.0.0.1", "web-1", 100);
	assert_string_equal(at(r, "10.0.0.1", 150), "web-1 shop  node-1");
	/* traffic a moment before floe learned of the pod: the first name known */
	assert_string_equal(at(r, "10.0.0.1", 50), "web-1 shop  node-1");
	set_pod(r, "10.0.0.1", NULL, 200); /* gone */
	assert_string_equal(at(r, "10.0.0.1", 199), "web-1 shop  node-1");
	/* after it went, before anything took its IP: still the pod (its last packets) */
	assert_string_equal(at(r, "10.0.0.1", 250), "web-1 shop  node-1");
	set_pod(r, "10.0.0.1", "web-2", 300);
	assert_string_equal(at(r, "10.0.0.1", 150), "web-1 shop  node-1");
	assert_string_equal(at(r, "10.0.0.1", 300), "web-2 shop  node-1");
	assert_string_equal(at(r, "10.0.0.1", 1000), "web-2 shop  node-1");
	assert_string_equal(at(r, "10.0.0.2", 150), "-");

	struct name_resolver_stats st;

	name_resolver_get_stats(r, &st);
	assert_int_equal(st.addrs, 1);
	assert_int_equal(st.spans_open, 1);
	assert_int_equal(st.spans_closed, 1);
	/* the same pod reported again (a change floe does not name): no new span */
	set_pod(r, "10.0.0.1", "web-2", 400);
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.spans_open + st.spans_closed, 2);
	name_resolver_free(r);
	(void)state;
}

/* Services: an endpoint's service joins the pod's names; the pod of another node comes from
 * the slice; cluster IPs; counted references; the first service by name. */
static void test_services(void **state)
{
	struct name_resolver *r = name_resolver_new(0, 0);

	set_pod(r, "10.0.0.1", "web-1", 100);
	assert_int_equal(svc(r, true, "10.0.0.1", "web", NULL, 110), 0);
	assert_string_equal(at(r, "10.0.0.1", 105), "web-1 shop  node-1");
	assert_string_equal(at(r, "10.0.0.1", 120), "web-1 shop web node-1");
	/* a pod of another node, known from its EndpointSlice only */
	assert_int_equal(svc(r, true, "10.0.1.7", "web", "web-far", 110), 0);
	assert_string_equal(at(r, "10.0.1.7", 120), "web-far shop web node-2");
	/* a cluster IP */
	assert_int_equal(svc(r, true, "10.96.0.10", "web", NULL, 110), 0);
	assert_string_equal(at(r, "10.96.0.10", 120), " shop web ");
	/* two slices with the same endpoint: it stays until both are gone */
	assert_int_equal(svc(r, true, "10.0.0.1", "web", NULL, 130), 0);
	assert_int_equal(svc(r, false, "10.0.0.1", "web", NULL, 140), 0);
	assert_string_equal(at(r, "10.0.0.1", 150), "web-1 shop web node-1");
	/* a second service: the first by name is shown */
	assert_int_equal(svc(r, true, "10.0.0.1", "api", NULL, 160), 0);
	assert_string_equal(at(r, "10.0.0.1", 170), "web-1 shop api node-1");
	assert_int_equal(svc(r, false, "10.0.0.1", "api", NULL, 180), 0);
	assert_int_equal(svc(r, false, "10.0.0.1", "web", NULL, 190), 0);
	assert_string_equal(at(r, "10.0.0.1", 195), "web-1 shop  node-1");
	assert_string_equal(at(r, "10.0.0.1", 170), "web-1 shop api node-1");
	assert_string_equal(at(r, "10.0.0.1", 150), "web-1 shop web node-1");
	/* a del of what was not added */
	assert_int_equal(svc(r, false, "10.0.0.1", "web", NULL, 200), -ENOENT);
	assert_int_equal(svc(r, false, "10.9.9.9", "web", NULL, 200), -ENOENT);
	/* the pod source's name wins over the slice's */
	set_pod(r, "10.0.1.7", "web-far-local", 210);
	assert_string_equal(at(r, "10.0.1.7", 220), "web-far-local shop web node-1");
	name_resolver_free(r);
	(void)state;
}

/* A pod of another node named by the pod names watch (a reference without a service): its
 * pod, namespace and node; with a service of it as well, both; the service's own pod first. */
static void test_pod_names_refs(void **state)
{
	struct name_resolver *r = name_resolver_new(0, 0);
	uint8_t key[16];

	ip("10.1.2.3", key);
	assert_int_equal(name_resolver_service_add(r, key, "shop", "", "far-1", "node-2", 100), 0);
	assert_string_equal(at(r, "10.1.2.3", 110), "far-1 shop  node-2");
	/* a Service's slice names it as well: the service shows beside the pod */
	assert_int_equal(svc(r, true, "10.1.2.3", "web", NULL, 120), 0);
	assert_string_equal(at(r, "10.1.2.3", 130), "far-1 shop web node-2");
	assert_int_equal(svc(r, false, "10.1.2.3", "web", NULL, 140), 0);
	assert_string_equal(at(r, "10.1.2.3", 150), "far-1 shop  node-2");
	/* the pod goes: its entries keep the name, a later time has none */
	assert_int_equal(name_resolver_service_del(r, key, "shop", "", "far-1", "node-2", 160), 0);
	assert_string_equal(at(r, "10.1.2.3", 150), "far-1 shop  node-2");
	/* its IP given to a pod of yet another node */
	assert_int_equal(name_resolver_service_add(r, key, "shop", "", "far-2", "node-3", 170), 0);
	assert_string_equal(at(r, "10.1.2.3", 180), "far-2 shop  node-3");
	assert_string_equal(at(r, "10.1.2.3", 150), "far-1 shop  node-2");
	name_resolver_free(r);
	(void)state;
}

/* IPv6 is its own key; an IPv4 address is the same whichever form it comes in. */
static void test_families(void **state)
{
	struct name_resolver *r = name_resolver_new(0, 0);
	uint8_t v4[4] = {10, 0, 0, 1}, key[16];

	set_pod(r, "fd00::1", "six", 100);
	assert_string_equal(at(r, "fd00::1", 100), "six shop  node-1");
	assert_string_equal(at(r, "10.0.0.1", 100), "-");
	name_resolver_key(AF_INET, v4, key);
	assert_int_equal(name_resolver_set_pod(r, key, "four", "shop", "", 100), 0);
	assert_string_equal(at(r, "::ffff:10.0.0.1", 100), "four shop  ");
	name_resolver_free(r);
	(void)state;
}

/* The history bound: the oldest closed spans go first; addresses with nothing left go too,
 * and memory returns to what an empty resolver holds. */
static void test_history_bound(void **state)
{
	struct name_resolver *r = name_resolver_new(3, 0);
	struct name_resolver_stats st, empty;
	char addr[32], pod[32];

	name_resolver_get_stats(r, &empty);
	for (int i = 0; i < 5; i++) {
		snprintf(addr, sizeof(addr), "10.0.0.%d", i + 1);
		snprintf(pod, sizeof(pod), "p%d", i);
		set_pod(r, addr, pod, 100 + (uint64_t)i);
		set_pod(r, addr, NULL, 200 + (uint64_t)i);
	}
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.spans_closed, 3);
	assert_int_equal(st.spans_open, 0);
	assert_int_equal(st.spans_forgotten, 2);
	assert_int_equal(st.addrs, 3);
	assert_string_equal(at(r, "10.0.0.1", 150), "-"); /* forgotten */
	assert_string_equal(at(r, "10.0.0.2", 150), "-");
	assert_string_equal(at(r, "10.0.0.3", 150), "p2 shop  node-1");
	assert_string_equal(at(r, "10.0.0.5", 150), "p4 shop  node-1");
	/* many pods come and go on one IP: only the last three are remembered */
	for (int i = 0; i < 100; i++) {
		snprintf(pod, sizeof(pod), "q%d", i);
		set_pod(r, "10.0.1.1", pod, 1000 + 10 * (uint64_t)i);
	}
	set_pod(r, "10.0.1.1", NULL, 5000);
	assert_string_equal(at(r, "10.0.1.1", 1985), "q98 shop  node-1");
	assert_string_equal(at(r, "10.0.1.1", 1500), "q97 shop  node-1"); /* the oldest kept */
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.spans_closed, 3);
	assert_int_equal(st.addrs, 1);
	/* every span forgotten: back to an empty resolver's memory */
	for (int i = 0; i < 3; i++) {
		set_pod(r, "10.0.2.1", "x", 6000 + 2 * (uint64_t)i);
		set_pod(r, "10.0.2.1", NULL, 6001 + 2 * (uint64_t)i);
	}
	for (int i = 0; i < 3; i++) {
		set_pod(r, "10.0.3.1", "y", 7000 + 2 * (uint64_t)i);
		set_pod(r, "10.0.3.1", NULL, 7001 + 2 * (uint64_t)i);
	}
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.addrs, 1);
	assert_int_equal(st.spans_closed, 3);
	name_resolver_free(r);
	(void)state;
}

/* Many addresses: the table grows, every address found; two changes at the same moment leave
 * one span. */
static void test_many(void **state)
{
	struct name_resolver *r = name_resolver_new(0, 0);
	struct name_resolver_stats st;
	char addr[32], pod[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		snprintf(pod, sizeof(pod), "pod-%d", i);
		set_pod(r, addr, pod, 100);
	}
	for (int i = 0; i < 5000; i += 499) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		snprintf(pod, sizeof(pod), "pod-%d shop  node-1", i);
		assert_string_equal(at(r, addr, 100), pod);
	}
	assert_int_equal(svc(r, true, "10.0.0.1", "web", NULL, 200), 0);
	assert_int_equal(svc(r, true, "10.0.0.1", "api", NULL, 200), 0);
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.addrs, 5000);
	assert_int_equal(st.spans_open, 5000);
	assert_int_equal(st.spans_closed, 1); /* pod-1 alone, then the services at 200 */
	assert_string_equal(at(r, "10.0.0.1", 200), "pod-1 shop api node-1");
	print_message("5000 pods: %zu bytes (%.0f per address)\n", st.bytes,
		      (double)st.bytes / 5000);
	name_resolver_free(r);
	(void)state;
}

/* A node's own address: named by the node when no pod or service names it; over time. */
static void test_nodes(void **state)
{
	struct name_resolver *r = name_resolver_new(0, 0);
	struct name_resolver_stats st;
	uint8_t key[16];

	ip("10.0.0.4", key);
	assert_int_equal(name_resolver_set_node(r, key, "node-1", 100), 0);
	assert_string_equal(at(r, "10.0.0.4", 110), "   node-1");
	/* a host-network pod's endpoint in a slice: the service names it while it is there */
	assert_int_equal(svc(r, true, "10.0.0.4", "dns", "dns-1", 120), 0);
	assert_string_equal(at(r, "10.0.0.4", 125), "dns-1 shop dns node-2");
	assert_int_equal(svc(r, false, "10.0.0.4", "dns", "dns-1", 130), 0);
	assert_string_equal(at(r, "10.0.0.4", 135), "   node-1");
	assert_int_equal(name_resolver_set_node(r, key, NULL, 140), 0);
	assert_string_equal(at(r, "10.0.0.4", 105), "   node-1"); /* its old entries */
	assert_string_equal(at(r, "10.0.0.4", 150), "   node-1"); /* the last span, as a pod's */
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.spans_open, 0);
	assert_int_equal(name_resolver_set_node(r, key, NULL, 160), 0); /* twice: nothing */
	name_resolver_free(r);
	(void)state;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * The benchmark's cluster (selftests/bench/k8s_names.sh): 10,000 pods, 2,000 services with a
 * cluster IP each and 5 endpoints (the pods), as the Kubernetes source reports them; then the
 * cost of a lookup (the dissection thread's, one per entry end) over those addresses, half
 * of them misses. The figures go to docs/bench.md; the bound only tells a hash from a scan of
 * 12,000 addresses (about 100 us) on a loaded machine.
 */
static void test_cluster_scale(void **state)
{
	enum { PODS = 10000, SVCS = 2000, LOOKUPS = 1000000 };
	struct name_resolver *r = name_resolver_new(0, 0);
	struct name_resolver_stats st;
	static uint8_t keys[2 * (PODS + SVCS)][16];
	char addr[32], name[32], want[96];
	size_t found = 0;
	uint64_t t0, t1;

	for (int i = 0; i < PODS; i++) {
		snprintf(addr, sizeof(addr), "10.60.%d.%d", i / 250, i % 250 + 1);
		snprintf(name, sizeof(name), "pod-%d", i);
		set_pod(r, addr, name, 100);
		ip(addr, keys[2 * i]);
		snprintf(addr, sizeof(addr), "10.61.%d.%d", i / 250, i % 250 + 1); /* a miss */
		ip(addr, keys[2 * i + 1]);
	}
	for (int s = 0; s < SVCS; s++) {
		snprintf(addr, sizeof(addr), "10.96.%d.%d", s / 250, s % 250 + 1);
		snprintf(name, sizeof(name), "svc-%d", s);
		assert_int_equal(svc(r, true, addr, name, NULL, 200), 0);
		ip(addr, keys[2 * (PODS + s)]);
		snprintf(addr, sizeof(addr), "10.97.%d.%d", s / 250, s % 250 + 1);
		ip(addr, keys[2 * (PODS + s) + 1]);
		for (int e = 0; e < PODS / SVCS; e++) {
			int i = s * (PODS / SVCS) + e;

			snprintf(addr, sizeof(addr), "10.60.%d.%d", i / 250, i % 250 + 1);
			assert_int_equal(svc(r, true, addr, name, NULL, 200), 0);
		}
	}
	snprintf(want, sizeof(want), "pod-%d shop svc-%d node-1", 7777, 7777 / (PODS / SVCS));
	assert_string_equal(at(r, "10.60.31.28", 300), want);
	assert_string_equal(at(r, "10.96.7.1", 300), " shop svc-1750 ");
	name_resolver_get_stats(r, &st);
	assert_int_equal(st.addrs, PODS + SVCS);
	t0 = mono_ns();
	for (size_t k = 0; k < LOOKUPS; k++) {
		struct entry_names *n =
		    name_resolver_lookup(r, keys[(k * 7919) % (2 * (PODS + SVCS))], 300);

		found += n != NULL;
		entry_names_unref(n);
	}
	t1 = mono_ns();
	assert_int_equal(found, LOOKUPS / 2);
	print_message("%d pods, %d services x %d endpoints: %zu addresses, %zu bytes (%.0f per "
		      "address); %.0f ns a lookup (%d, half misses)\n",
		      PODS, SVCS, PODS / SVCS, st.addrs, st.bytes, (double)st.bytes / st.addrs,
		      (double)(t1 - t0) / LOOKUPS, LOOKUPS);
	assert_true((t1 - t0) / LOOKUPS < 20000);
	name_resolver_free(r);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_over_time), cmocka_unit_test(test_services),
	    cmocka_unit_test(test_families),	  cmocka_unit_test(test_history_bound),
	    cmocka_unit_test(test_many),	  cmocka_unit_test(test_cluster_scale),
	    cmocka_unit_test(test_nodes),	  cmocka_unit_test(test_pod_names_refs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
