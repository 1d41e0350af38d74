// SPDX-License-Identifier: Apache-2.0
/*
 * pod_netns (lib/node/pods): pods' network namespaces found from their IPs, on real
 * namespaces. The test runs in a network namespace of its own (unshare(2)), the "node": a
 * bridge with the pods' subnet (10.242.9.0/24) and the host ends of the pods' veths enslaved
 * to it, as the bridge CNI wires pods. Checks:
 *   - a pod's IP gives its namespace's inode and its veth's host end;
 *   - apply: a route to the bridge or no route gives the veth; a route to another veth stays;
 *   - an IP held by two namespaces joined to the node names neither; one held by a namespace
 *     without a veth to the node (a veth pair inside it) names nothing;
 *   - a namespace kept alive by a process only (its name removed) is found through /proc;
 *   - a pod made after the first scan: apply with a pod event leaves a bridge-routed pod
 *     without interface until the scan it asked for ends, then done() is called, the pod is
 *     stale and resolves to its veth.
 * Needs root (skipped otherwise). Named namespaces floe-pn-<pid>-* are deleted at exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_shell.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/evloop.h"
#include "pods/pod_netns.h"

#define MS 1000000ull

static int pid;
static pid_t sleeper; /* keeps the unnamed namespace alive */

static void ns_name(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "floe-pn-%d-%s", pid, suffix);
}

static void cleanup(void)
{
	static const char *const pods[] = {"a", "b", "c1", "c2", "d", "e", "late"};
	char name[64], path[PATH_MAX];

	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		sleeper = 0;
	}
	for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
		ns_name(name, sizeof(name), pods[i]);
		snprintf(path, sizeof(path), "/run/netns/%s", name);
		umount2(path, MNT_DETACH);
		unlink(path);
	}
}

/* A pod: namespace NAME, eth0 with IP/24, its host end hN (up, on the bridge when bridged). */
static void make_pod(const char *suffix, const char *ip, bool bridged)
{
	char name[64];

	ns_name(name, sizeof(name), suffix);
	assert_int_equal(sh("ip netns add %s && ip link add h%s-%d type veth peer name eth0 netns "
			    "%s && ip -n %s addr add %s/24 dev eth0 && ip -n %s link set eth0 up "
			    "&& ip link set h%s-%d up",
			    name, suffix, pid % 100000, name, name, ip, name, suffix, pid % 100000),
			 0);
	if (bridged)
		assert_int_equal(sh("ip link set h%s-%d master pnbr0", suffix, pid % 100000), 0);
}

static int host_index(const char *suffix)
{
	char ifname[IF_NAMESIZE];

	snprintf(ifname, sizeof(ifname), "h%s-%d", suffix, pid % 100000);
	return (int)if_nametoindex(ifname);
}

static uint32_t ns_inode(const char *suffix)
{
	char name[64], path[PATH_MAX];
	struct stat st;

	ns_name(name, sizeof(name), suffix);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (stat(path, &st) < 0)
		return 0;
	return (uint32_t)st.st_ino;
}

static struct floe_pod pod_of(const char *ip, int route_ifindex)
{
	struct floe_pod p;

	memset(&p, 0, sizeof(p));
	p.n_addrs = 1;
	p.addrs[0].family = AF_INET;
	p.addrs[0].prefixlen = 32;
	assert_int_equal(inet_pton(AF_INET, ip, p.addrs[0].addr), 1);
	p.host_ifindex = route_ifindex;
	if (route_ifindex > 0)
		assert_non_null(if_indextoname((unsigned int)route_ifindex, p.host_ifname));
	return p;
}

struct done_count {
	int n;
	struct evloop *loop;
};

static void on_done(void *ctx)
{
	struct done_count *d = ctx;

	d->n++;
	evloop_stop(d->loop);
}

static void on_guard(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	*(int *)ctx = 1;
	evloop_stop(l);
}

/* Run the loop until the next scan ends (or secs). Returns 0 when it ended. */
static int run_until_scan(struct evloop *l, struct done_count *d, double secs)
{
	struct evloop_timer *guard;
	int fired = 0, n = d->n;

	assert_int_equal(evloop_add_timer(l, (uint64_t)(secs * 1e9), 0, on_guard, &fired, &guard),
			 0);
	while (d->n == n && !fired)
		assert_int_equal(evloop_run(l), 0);
	evloop_del_timer(l, guard);
	return d->n > n ? 0 : -1;
}

static void test_pod_netns(void **state)
{
	struct pod_netns *pn;
	struct pod_netns_hit hit;
	struct pod_netns_stats st;
	struct done_count d = {0};
	struct evloop *l;
	struct floe_pod p;
	char err[256] = "", name[64];
	int br;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(sh("ip link add pnbr0 type bridge && ip addr add 10.242.9.1/24 dev pnbr0 "
			    "&& ip link set pnbr0 up"),
			 0);
	br = (int)if_nametoindex("pnbr0");
	make_pod("a", "10.242.9.2", true);
	make_pod("b", "10.242.9.3", false); /* a routing CNI's pod: its own veth, no bridge */
	make_pod("c1", "10.242.9.5", true); /* two namespaces with one IP */
	make_pod("c2", "10.242.9.5", true);
	/* d: the IP on a veth whose peer is in d too: nothing joins d to the node */
	ns_name(name, sizeof(name), "d");
	assert_int_equal(
	    sh("ip netns add %s && ip -n %s link add x0 type veth peer name x1 && ip -n %s "
	       "addr add 10.242.9.7/24 dev x0 && ip -n %s link set x0 up",
	       name, name, name, name),
	    0);
	/* e: alive through a process only (the runtime's name gone, as for docker's pods) */
	make_pod("e", "10.242.9.8", true);
	ns_name(name, sizeof(name), "e");
	sleeper = fork();
	assert_true(sleeper >= 0);
	if (sleeper == 0) {
		execlp("ip", "ip", "netns", "exec", name, "sleep", "60", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* until sleep runs in the namespace */
		char path[64], link[64] = "";
		struct stat st_e;

		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)sleeper);
		if (stat(path, &st_e) == 0 && st_e.st_ino == ns_inode("e") &&
		    readlink(path, link, sizeof(link) - 1) > 0) {
			snprintf(path, sizeof(path), "/proc/%d/comm", (int)sleeper);
			FILE *f = fopen(path, "r");
			char comm[32] = "";

			if (f) {
				if (!fgets(comm, sizeof(comm), f))
					comm[0] = '\0';
				fclose(f);
			}
			if (!strncmp(comm, "sleep", 5))
				break;
		}
		usleep(20000);
	}
	uint32_t e_inode = ns_inode("e");

	assert_int_equal(sh("umount /run/netns/%s && rm /run/netns/%s", name, name), 0);

	assert_int_equal(evloop_new(&l), 0);
	d.loop = l;
	assert_int_equal(pod_netns_new(NULL, &pn, err, sizeof(err)), 0);
	if (pod_netns_start(pn, l, on_done, &d, err, sizeof(err)))
		fail_msg("start: %s", err);
	pod_netns_get_stats(pn, &st);
	fprintf(stderr,
		"first scan: %llu namespaces, %llu joined to this one, %llu addresses, %llu "
		"failed (%s), %.1f ms\n",
		(unsigned long long)st.namespaces, (unsigned long long)st.pods,
		(unsigned long long)st.addresses, (unsigned long long)st.failed,
		st.first_error[0] ? st.first_error : "-", (double)st.last_scan_ns / 1e6);
	assert_int_equal(st.scans, 1);
	assert_true(st.pods >= 5); /* a, b, c1, c2, e; other tests' namespaces are not ours */
	assert_int_equal(st.failed_total, st.failed);
	assert_int_equal(st.scan_ns_total, st.last_scan_ns);
	assert_true(st.last_scan_ns > 0);
	uint64_t first_ns = st.last_scan_ns;

	/* a's IP: its namespace and its veth */
	p = pod_of("10.242.9.2", 0);
	assert_true(pod_netns_lookup(pn, &p.addrs[0], &hit));
	assert_int_equal(hit.inode, ns_inode("a"));
	assert_int_equal(hit.host_ifindex, host_index("a"));
	/* routed to the bridge: the veth instead; no route: the veth */
	p = pod_of("10.242.9.2", br);
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, host_index("a"));
	assert_int_equal(p.netns_inode, ns_inode("a"));
	p = pod_of("10.242.9.2", 0);
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, host_index("a"));
	/* b routed to its own veth: kept, its namespace given */
	p = pod_of("10.242.9.3", host_index("b"));
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, host_index("b"));
	assert_int_equal(p.netns_inode, ns_inode("b"));
	/* a route to a's veth for b's IP (not a bridge): the route stays */
	p = pod_of("10.242.9.3", host_index("a"));
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, host_index("a"));
	/* an IP of two namespaces: neither; no veth to the node: nothing */
	p = pod_of("10.242.9.5", br);
	assert_false(pod_netns_lookup(pn, &p.addrs[0], &hit));
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, br); /* no scan to come: the bridge stays */
	assert_int_equal(p.netns_inode, 0);
	pod_netns_get_stats(pn, &st);
	assert_true(st.ambiguous >= 1);
	p = pod_of("10.242.9.7", 0);
	assert_false(pod_netns_lookup(pn, &p.addrs[0], &hit));
	/* e, through /proc */
	p = pod_of("10.242.9.8", br);
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.netns_inode, e_inode);
	assert_int_equal(p.host_ifindex, host_index("e"));
	/* a host-network pod: nothing */
	p = pod_of("10.242.9.2", 0);
	p.host_network = true;
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, 0);
	assert_int_equal(p.netns_inode, 0);

	/* a pod made after the first scan: no interface until the scan its event asks for */
	make_pod("late", "10.242.9.9", true);
	p = pod_of("10.242.9.9", br);
	pod_netns_apply(pn, &p, true);
	assert_int_equal(p.host_ifindex, 0);
	assert_int_equal(p.netns_inode, 0);
	assert_true(p.netns_pending);
	uint64_t asked = evloop_now_ns();

	assert_int_equal(run_until_scan(l, &d, 10), 0);
	/* the scan is not held back for long (it follows the first by POD_NETNS_GAP_NS) */
	assert_true(evloop_now_ns() - asked < 5000 * MS);
	assert_true(pod_netns_stale(pn, &p));
	p = pod_of("10.242.9.9", br);
	pod_netns_apply(pn, &p, false);
	assert_int_equal(p.host_ifindex, host_index("late"));
	assert_int_equal(p.netns_inode, ns_inode("late"));
	assert_false(p.netns_pending);
	assert_false(pod_netns_stale(pn, &p));
	/* two scans now: the totals are the sums of both */
	pod_netns_get_stats(pn, &st);
	assert_int_equal(st.scans, 2);
	assert_int_equal(st.scan_ns_total, first_ns + st.last_scan_ns);
	/* a's pod is not stale: nothing differs for it */
	p = pod_of("10.242.9.2", br);
	pod_netns_apply(pn, &p, false);
	assert_false(pod_netns_stale(pn, &p));

	/* late's namespace deleted: after a scan, its IP names nothing and its pod is stale */
	ns_name(name, sizeof(name), "late");
	struct floe_pod was = pod_of("10.242.9.9", br);

	pod_netns_apply(pn, &was, false);
	assert_int_equal(sh("ip netns del %s", name), 0);
	for (int i = 0; i < 50; i++) { /* the namespace goes when its last reference does */
		pod_netns_request(pn);
		assert_int_equal(run_until_scan(l, &d, 10), 0);
		if (pod_netns_stale(pn, &was))
			break;
	}
	assert_true(pod_netns_stale(pn, &was));
	p = pod_of("10.242.9.9", 0);
	assert_false(pod_netns_lookup(pn, &p.addrs[0], &hit));

	pod_netns_free(pn);
	evloop_free(l);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_netns),
	};

	pid = (int)getpid();
	atexit(cleanup);
	signal(SIGINT, exit_on_signal);
	signal(SIGTERM, exit_on_signal);
	signal(SIGHUP, exit_on_signal);
	/* Our own netns (the node): the bridge and the host ends live and die with the process. */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
