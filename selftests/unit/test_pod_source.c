// SPDX-License-Identifier: Apache-2.0
/*
 * pod_source (lib/node/pods): the event diff of two pod lists, and the local source on an
 * event loop: a pod (named netns + veth) made by the test is reported as added without
 * waiting for the safety-net rescan (set to ten minutes here), an address set later inside
 * it and an inventory edit as changes, and its deletion as removed.
 *
 * Runs in a network namespace of its own (unshare(2)), so the host ends of the veths live
 * and die with the process; the named namespace (floe-ps-<pid>-p) is deleted at exit.
 * Other tests may make named namespaces at the same time: only ours are asserted on.
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
#include <unistd.h>

#include "loop/evloop.h"
#include "pods/pod_source.h"

#define MS 1000000ull

static char pod_name[64]; /* floe-ps-<pid>-p */
static char tmpdir[64];	  /* the inventory's directory; "" when none */
static char host_if[16];  /* fps<pid> */

static void cleanup(void)
{
	char path[PATH_MAX];

	if (!pod_name[0])
		return;
	/* What `ip netns del` does: lazy unmount, then remove the file. */
	snprintf(path, sizeof(path), "/run/netns/%s", pod_name);
	umount2(path, MNT_DETACH);
	unlink(path);
	if (tmpdir[0]) {
		snprintf(path, sizeof(path), "%s/inventory", tmpdir);
		unlink(path);
		rmdir(tmpdir);
		tmpdir[0] = '\0';
	}
}

static void write_inventory(const char *path, const char *ns)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "%s %s\n", pod_name, ns);
	assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------ events, recorded */

#define MAX_EVENTS 32

struct recorded {
	enum pod_event_kind kind;
	char name[FLOE_POD_NAME_MAX + 1];
	struct floe_pod pod;
	bool had_old;
	uint64_t at;
};

struct recorder {
	struct recorded ev[MAX_EVENTS];
	size_t n;
	const char *only;     /* record only this pod; NULL: every pod */
	struct evloop *loop;  /* stop it when an event of kind want comes */
	int want;
	size_t want_addrs;    /* ... and the pod has this many addresses */
	int errors;
};

static void record(void *ctx, enum pod_event_kind kind, const struct floe_pod *pod,
		   const struct floe_pod *old)
{
	struct recorder *r = ctx;
	struct recorded *e;

	if (r->only && strcmp(pod->name, r->only))
		return;
	assert_true(r->n < MAX_EVENTS);
	e = &r->ev[r->n++];
	e->kind = kind;
	snprintf(e->name, sizeof(e->name), "%s", pod->name);
	e->pod = *pod;
	e->had_old = old != NULL;
	e->at = evloop_now_ns();
	/* an old state comes with changes, and only with them */
	assert_int_equal(old != NULL, kind == POD_CHANGED);
	if (old)
		assert_string_equal(old->name, pod->name);
	if (r->loop && (int)kind == r->want && pod->n_addrs == r->want_addrs)
		evloop_stop(r->loop);
}

static void record_error(void *ctx, int err, const char *msg)
{
	struct recorder *r = ctx;

	fprintf(stderr, "pod source error: %s\n", msg);
	r->errors++;
}

/* ------------------------------------------------------------ pod_list_diff */

static struct floe_pod mk_pod(const char *name, int ifindex, const char *ip4)
{
	struct floe_pod p = {.host_ifindex = ifindex};

	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.namespace, sizeof(p.namespace), "default");
	if (ip4) {
		p.addrs[0].family = AF_INET;
		p.addrs[0].prefixlen = 24;
		assert_int_equal(inet_pton(AF_INET, ip4, p.addrs[0].addr), 1);
		p.n_addrs = 1;
	}
	return p;
}

static void test_diff(void **state)
{
	struct floe_pod before[] = {mk_pod("a", 1, "10.0.0.1"), mk_pod("b", 2, NULL),
				    mk_pod("c", 3, "10.0.0.3"), mk_pod("e", 5, "10.0.0.5")};
	struct floe_pod after[] = {mk_pod("b", 2, "10.0.0.2"), mk_pod("c", 3, "10.0.0.3"),
				   mk_pod("d", 4, "10.0.0.4"), mk_pod("e", 6, "10.0.0.5")};
	struct floe_pod_list old = {before, 4}, new = {after, 4}, none = {NULL, 0};
	struct recorder r = {};
	struct pod_sink sink = {.event = record, .ctx = &r};

	(void)state;
	pod_list_diff(&old, &new, &sink);
	/* a went, b got its address, c is the same, d came, e moved to another veth */
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ev[0].kind, POD_REMOVED);
	assert_string_equal(r.ev[0].name, "a");
	assert_int_equal(r.ev[1].kind, POD_CHANGED);
	assert_string_equal(r.ev[1].name, "b");
	assert_int_equal(r.ev[1].pod.n_addrs, 1);
	assert_int_equal(r.ev[2].kind, POD_ADDED);
	assert_string_equal(r.ev[2].name, "d");
	assert_int_equal(r.ev[3].kind, POD_CHANGED);
	assert_string_equal(r.ev[3].name, "e");
	assert_int_equal(r.ev[3].pod.host_ifindex, 6);

	/* from nothing: all added; to nothing: all removed; same: nothing */
	r.n = 0;
	pod_list_diff(&none, &new, &sink);
	assert_int_equal(r.n, 4);
	for (size_t i = 0; i < r.n; i++)
		assert_int_equal(r.ev[i].kind, POD_ADDED);
	r.n = 0;
	pod_list_diff(&new, &none, &sink);
	assert_int_equal(r.n, 4);
	for (size_t i = 0; i < r.n; i++)
		assert_int_equal(r.ev[i].kind, POD_REMOVED);
	r.n = 0;
	pod_list_diff(&new, &new, &sink);
	assert_int_equal(r.n, 0);

	/* what counts as a change: the namespace (inventory), not nothing */
	struct floe_pod x = mk_pod("x", 1, "10.0.0.9"), y = x;

	assert_false(floe_pod_changed(&x, &y));
	snprintf(y.namespace, sizeof(y.namespace), "shop");
	assert_true(floe_pod_changed(&x, &y));
	y = x;
	y.addrs[0].prefixlen = 16;
	assert_true(floe_pod_changed(&x, &y));
}

/* ------------------------------------------------------------ the local source */

static void on_guard(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	*(int *)ctx = 1;
	evloop_stop(l);
}

/* Run the loop until the recorder stops it (0) or secs pass (1). */
static int run_until(struct evloop *l, struct recorder *r, int kind, size_t addrs, double secs)
{
	struct evloop_timer *guard;
	int fired = 0;

	r->want = kind;
	r->want_addrs = addrs;
	assert_int_equal(evloop_add_timer(l, (uint64_t)(secs * 1e9), 0, on_guard, &fired, &guard),
			 0);
	assert_int_equal(evloop_run(l), 0);
	evloop_del_timer(l, guard);
	return fired;
}

static const struct recorded *last_of(const struct recorder *r, enum pod_event_kind kind)
{
	for (size_t i = r->n; i-- > 0;)
		if (r->ev[i].kind == kind)
			return &r->ev[i];
	return NULL;
}

static void test_local_source_events(void **state)
{
	char inventory[128];
	struct pod_source_local_config cfg = {
	    .netns_dir = "/run/netns", .inventory = inventory, .rescan_ns = 600ull * 1000 * MS};
	struct recorder r = {.only = pod_name};
	struct pod_sink sink = {.event = record, .error = record_error, .ctx = &r};
	struct pod_source src;
	struct evloop *l;
	const struct recorded *e;
	char err[512] = "";
	uint64_t made;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/floe-ps-inv.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(inventory, sizeof(inventory), "%s/inventory", tmpdir);
	write_inventory(inventory, "shop");
	assert_int_equal(evloop_new(&l), 0);
	r.loop = l;
	assert_int_equal(pod_source_local_new(&cfg, &src), 0);
	if (pod_source_start(&src, l, &sink, err, sizeof(err)))
		fail_msg("start: %s", err);
	assert_int_equal(r.n, 0); /* not made yet */

	/* a pod appears: reported long before the ten-minute rescan */
	assert_int_equal(sh("ip netns add %s && ip link add %s type veth peer name eth0 netns %s && "
			    "ip -n %s addr add 10.244.9.2/24 dev eth0 && ip -n %s link set eth0 up "
			    "&& ip link set %s up",
			    pod_name, host_if, pod_name, pod_name, pod_name, host_if),
		     0);
	made = evloop_now_ns();
	assert_int_equal(run_until(l, &r, POD_ADDED, 1, 5), 0);
	e = last_of(&r, POD_ADDED);
	assert_non_null(e);
	assert_true(e->at - made < 2000 * MS);
	assert_int_equal(e->pod.host_ifindex, (int)if_nametoindex(host_if));
	assert_string_equal(e->pod.host_ifname, host_if);
	assert_string_equal(e->pod.namespace, "shop");
	assert_int_equal(e->pod.addrs[0].family, AF_INET);

	/* an address set inside the pod, where no event of ours says so: caught by the
	 * rescans that follow an event, as a change */
	assert_int_equal(sh("ip -n %s addr add 10.244.9.3/24 dev eth0", pod_name), 0);
	assert_int_equal(run_until(l, &r, POD_CHANGED, 2, 5), 0);
	e = last_of(&r, POD_CHANGED);
	assert_non_null(e);
	assert_true(e->had_old);
	assert_int_equal(e->pod.n_addrs, 2);

	/* the inventory moves the pod to another namespace: a change, noticed at once (the
	 * settle rescans of the address change are over by now: wait them out first) */
	assert_int_equal(run_until(l, &r, -1, 0, 3.5), 1);
	made = evloop_now_ns();
	write_inventory(inventory, "other");
	assert_int_equal(run_until(l, &r, POD_CHANGED, 2, 5), 0);
	e = last_of(&r, POD_CHANGED);
	assert_non_null(e);
	assert_string_equal(e->pod.namespace, "other");
	assert_true(e->at - made < 1000 * MS);

	/* the pod is deleted: reported as removed, as it was last */
	made = evloop_now_ns();
	assert_int_equal(sh("ip netns del %s", pod_name), 0);
	assert_int_equal(run_until(l, &r, POD_REMOVED, 2, 5), 0);
	e = last_of(&r, POD_REMOVED);
	assert_non_null(e);
	assert_true(e->at - made < 2000 * MS);
	assert_string_equal(e->name, pod_name);

	/* exactly one added and one removed over the run; no error */
	size_t added = 0, removed = 0;

	for (size_t i = 0; i < r.n; i++) {
		added += r.ev[i].kind == POD_ADDED;
		removed += r.ev[i].kind == POD_REMOVED;
	}
	assert_int_equal(added, 1);
	assert_int_equal(removed, 1);
	assert_int_equal(r.errors, 0);
	pod_source_free(&src);
	evloop_free(l);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_local_source_events),
	};

	snprintf(pod_name, sizeof(pod_name), "floe-ps-%d-p", (int)getpid());
	snprintf(host_if, sizeof(host_if), "fps%d", (int)(getpid() % 10000000));
	atexit(cleanup);
	signal(SIGINT, exit_on_signal);
	signal(SIGTERM, exit_on_signal);
	signal(SIGHUP, exit_on_signal);
	/* Our own netns: the host end of the veth lives (and dies) with this process. */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
