// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of lib/node/pods/pods_local.c: the inventory parser, the tap scope and discovery of
 * real pods (named network namespaces joined by veth pairs, made here with `ip`).
 *
 * The discovery tests run in a network namespace of their own (unshare(2) at start), so the
 * host ends of the veth pairs live there and vanish with the process; the named namespaces
 * (floe-ut-<pid>-*) are deleted by the group teardown and again at exit. Other tests may make
 * named namespaces at the same time: only ours are asserted on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_shell.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pods/pods_local.h"

#define NETNS_DIR "/run/netns"

/* Named netns this test makes: <prefix>-<suffix>. */
static const char *const ns_suffixes[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
static char prefix[64];	 /* floe-ut-<pid> */
static char hprefix[12]; /* fuh<pid>: host-side veth names (pid_max < 10^7) */
static char tmpdir[64];	 /* scratch files; "" when none */
static bool netns_made;

static void ns_name(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s-%s", prefix, suffix);
}

static void host_if(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s%s", hprefix, suffix);
}

/* What `ip netns del` does: lazy unmount, then remove the file. Safe to call twice. */
static void cleanup(void)
{
	char path[PATH_MAX], name[128];

	if (!prefix[0])
		return;
	for (size_t i = 0; i < sizeof(ns_suffixes) / sizeof(ns_suffixes[0]); i++) {
		ns_name(name, sizeof(name), ns_suffixes[i]);
		snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
		umount2(path, MNT_DETACH);
		unlink(path);
	}
	if (tmpdir[0]) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup: %s failed\n", cmd);
		tmpdir[0] = '\0';
	}
	netns_made = false;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static ino_t netns_inode(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

/* ------------------------------------------------------------ inventory */

static void test_dns1123(void **state)
{
	(void)state;
	assert_true(floe_dns1123_label("default", 7));
	assert_true(floe_dns1123_label("kube-system", 11));
	assert_true(floe_dns1123_label("a", 1));
	assert_true(floe_dns1123_label("0x9", 3));
	assert_false(floe_dns1123_label("", 0));
	assert_false(floe_dns1123_label("-a", 2));
	assert_false(floe_dns1123_label("a-", 2));
	assert_false(floe_dns1123_label("Kube", 4));
	assert_false(floe_dns1123_label("a_b", 3));
	assert_false(floe_dns1123_label("a.b", 3));
	char l63[64], l64[65];

	memset(l63, 'x', 63);
	memset(l64, 'x', 64);
	assert_true(floe_dns1123_label(l63, 63));
	assert_false(floe_dns1123_label(l64, 64));
}

static void test_inventory_good(void **state)
{
	static const char text[] = "# pods of this laptop\n"
				   "\n"
				   "web-1   shop\n"
				   "\tdb-1\tshop   # the database\r\n"
				   "   \n"
				   "cache kube-system\n"
				   "#only a comment\n"
				   "* sandbox\n"
				   "z.y_X.1 team-9"; /* no final newline */
	struct inventory inv;
	char err[256] = "";

	(void)state;
	assert_int_equal(inventory_parse(text, strlen(text), "inv.txt", &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 4);
	/* sorted by name */
	assert_string_equal(inv.entries[0].netns, "cache");
	assert_string_equal(inv.entries[1].netns, "db-1");
	assert_string_equal(inv.entries[2].netns, "web-1");
	assert_string_equal(inv.entries[3].netns, "z.y_X.1");
	assert_int_equal(inv.entries[1].line, 4);
	assert_string_equal(inventory_lookup(&inv, "web-1"), "shop");
	assert_string_equal(inventory_lookup(&inv, "db-1"), "shop");
	assert_string_equal(inventory_lookup(&inv, "cache"), "kube-system");
	assert_string_equal(inventory_lookup(&inv, "z.y_X.1"), "team-9");
	assert_string_equal(inventory_lookup(&inv, "unlisted"), "sandbox");
	assert_string_equal(inventory_lookup(&inv, "web"), "sandbox");
	inventory_free(&inv);
	assert_int_equal(inv.n, 0);
	inventory_free(&inv); /* twice is fine */
}

static void test_inventory_empty(void **state)
{
	struct inventory inv;
	char err[128] = "";

	(void)state;
	assert_int_equal(inventory_parse("", 0, NULL, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 0);
	assert_string_equal(inventory_lookup(&inv, "x"), "default");
	inventory_free(&inv);
	assert_int_equal(inventory_parse(NULL, 0, NULL, &inv, err, sizeof(err)), 0);
	inventory_free(&inv);
	assert_int_equal(inventory_parse("# nothing\n\n  \n", 14, NULL, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 0);
	inventory_free(&inv);
	assert_string_equal(inventory_lookup(NULL, "x"), "default");
}

/* The parse must fail with rc and an error that contains want. */
static void expect_bad(const char *text, size_t len, int rc, const char *want)
{
	struct inventory inv;
	char err[512] = "";
	int r = inventory_parse(text, len, "my.inv", &inv, err, sizeof(err));

	if (r != rc || !strstr(err, want))
		fail_msg("input %.*s: rc %d (want %d), err \"%s\" (want \"%s\")", (int)len, text, r,
			 rc, err, want);
	assert_int_equal(inv.n, 0);
	assert_null(inv.entries);
	inventory_free(&inv);
}

#define BAD(text, want) expect_bad(text, sizeof(text) - 1, -EINVAL, want)

static void test_inventory_bad(void **state)
{
	char big[300];

	(void)state;
	BAD("lonely\n", "my.inv:1: missing Kubernetes namespace after \"lonely\"");
	BAD("# c\n\nweb shop extra\n", "my.inv:3: unexpected \"extra\"");
	BAD("web Shop\n", "my.inv:1: namespace \"Shop\" is not a valid DNS-1123 label");
	BAD("a ok\nweb kube_system\n", "my.inv:2: namespace \"kube_system\"");
	BAD("web -ns\n", "my.inv:1: namespace \"-ns\"");
	BAD("web ns-\n", "my.inv:1:");
	BAD("web a.b\n", "my.inv:1:");
	BAD("web xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	    "my.inv:1: namespace");
	BAD("run/netns/web ns\n", "my.inv:1: netns name \"run/netns/web\" contains '/'");
	BAD("x a\n. ns\n", "my.inv:2: \".\" is not a netns name");
	BAD(".. ns\n", "my.inv:1: \"..\" is not a netns name");
	BAD("* a\n* b\n", "my.inv:2: second default line '*', the first is on line 1");
	BAD("*\n", "my.inv:1: missing Kubernetes namespace");
	BAD("web a\ndb b\n\nweb c\n", "my.inv:4: pod \"web\" already listed on line 1");
	/* the duplicate first in the file is reported, not the first in sort order */
	BAD("zz a\naa b\nzz c\naa d\n", "my.inv:3: pod \"zz\" already listed on line 1");
	BAD("web a\nweb\x01 b\n", "my.inv:2: control character 0x01");
	BAD("web a\x7f\n", "my.inv:1: control character 0x7f");
	expect_bad("a b\nw\0b c\n", 10, -EINVAL, "my.inv:2: NUL byte");
	/* netns names up to 254 characters */
	memset(big, 'n', sizeof(big));
	memcpy(big + 255, " ns\n", 5);
	expect_bad(big, 259, -EINVAL, "my.inv:1: netns name \"nnnn");
	{
		struct inventory inv;
		char err[128];

		memcpy(big + 254, " ns\n", 5);
		assert_int_equal(inventory_parse(big, 258, NULL, &inv, err, sizeof(err)), 0);
		assert_int_equal(inv.n, 1);
		assert_int_equal(strlen(inv.entries[0].netns), 254);
		inventory_free(&inv);
	}
	/* default origin, no err buffer */
	{
		struct inventory inv;
		char err[128] = "";

		assert_int_equal(inventory_parse("x\n", 2, NULL, &inv, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "inventory:1:"));
		assert_int_equal(inventory_parse("x\n", 2, NULL, &inv, NULL, 0), -EINVAL);
	}
}

static void test_inventory_limits(void **state)
{
	size_t len = FLOE_INVENTORY_MAX_BYTES + 1;
	char *text = malloc(len);
	struct inventory inv;
	char err[256] = "";

	(void)state;
	assert_non_null(text);
	memset(text, '\n', len);
	assert_int_equal(inventory_parse(text, len, "huge", &inv, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "huge"));
	assert_int_equal(inventory_parse(text, len - 1, "huge", &inv, err, sizeof(err)), 0);
	inventory_free(&inv);

	/* more pod lines than FLOE_INVENTORY_MAX_ENTRIES */
	size_t pos = 0;

	for (unsigned i = 0; i <= FLOE_INVENTORY_MAX_ENTRIES; i++)
		pos += (size_t)sprintf(text + pos, "%x a\n", i);
	assert_true(pos <= FLOE_INVENTORY_MAX_BYTES);
	assert_int_equal(inventory_parse(text, pos, "many", &inv, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "many:65537: more than 65536 pods"));
	free(text);
}

static void test_inventory_load(void **state)
{
	char dir[] = "/tmp/floe-ut-inv-XXXXXX", path[128], err[512] = "";
	struct inventory inv;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(inventory_load(path, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.n, 0);
	assert_string_equal(inventory_lookup(&inv, "p"), "default");
	inventory_free(&inv);
	assert_int_equal(inventory_load(NULL, &inv, err, sizeof(err)), 0);
	inventory_free(&inv);

	assert_int_equal(inventory_load(dir, &inv, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, dir));

	snprintf(path, sizeof(path), "%s/inv", dir);
	assert_int_equal(write_file(path, "p1 ns-one\n* other\n"), 0);
	assert_int_equal(inventory_load(path, &inv, err, sizeof(err)), 0);
	assert_string_equal(inventory_lookup(&inv, "p1"), "ns-one");
	assert_string_equal(inventory_lookup(&inv, "p2"), "other");
	inventory_free(&inv);

	assert_int_equal(write_file(path, "p1 ns-one\n\np2 NS\n"), 0);
	assert_int_equal(inventory_load(path, &inv, err, sizeof(err)), -EINVAL);
	char want[256];

	snprintf(want, sizeof(want), "%s:3: namespace \"NS\"", path);
	assert_non_null(strstr(err, want));
	unlink(path);
	rmdir(dir);
}

/* ------------------------------------------------------------ tap scope */

static struct floe_pod mkpod(const char *name, const char *ns)
{
	struct floe_pod p;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.namespace, sizeof(p.namespace), "%s", ns);
	return p;
}

static void test_scope_default(void **state)
{
	struct tap_scope s;
	char err[256];
	struct floe_pod a = mkpod("web-1", "default"), b = mkpod("web-2", "shop");

	(void)state;
	assert_int_equal(tap_scope_init(&s, NULL, NULL, false, err, sizeof(err)), 0);
	assert_false(s.has_regex);
	assert_true(tap_scope_match(&s, &a));
	assert_false(tap_scope_match(&s, &b));
	tap_scope_free(&s);

	assert_int_equal(tap_scope_init(&s, "", NULL, true, err, sizeof(err)), 0);
	assert_false(s.has_regex);
	assert_true(tap_scope_match(&s, &a));
	assert_true(tap_scope_match(&s, &b));
	tap_scope_free(&s);
	tap_scope_free(&s);
}

static void test_scope_regex(void **state)
{
	struct tap_scope s;
	char err[256];
	struct floe_pod web = mkpod("frontend-web-7f9", "default");
	struct floe_pod db = mkpod("db-0", "default");
	struct floe_pod webx = mkpod("web-1", "shop");

	(void)state;
	/* unanchored search */
	assert_int_equal(tap_scope_init(&s, "web", NULL, false, err, sizeof(err)), 0);
	assert_true(s.has_regex);
	assert_true(tap_scope_match(&s, &web));
	assert_false(tap_scope_match(&s, &db));
	assert_false(tap_scope_match(&s, &webx)); /* namespace shop is not in scope */
	tap_scope_free(&s);

	/* extended syntax, anchors when the user writes them */
	assert_int_equal(tap_scope_init(&s, "^(db|cache)-[0-9]+$", NULL, true, err, sizeof(err)),
			 0);
	assert_true(tap_scope_match(&s, &db));
	assert_false(tap_scope_match(&s, &web));
	tap_scope_free(&s);

	assert_int_equal(tap_scope_init(&s, "^web", NULL, true, err, sizeof(err)), 0);
	assert_false(tap_scope_match(&s, &web));
	assert_true(tap_scope_match(&s, &webx));
	tap_scope_free(&s);
}

static void test_scope_namespaces(void **state)
{
	struct tap_scope s;
	char err[256];
	struct floe_pod d = mkpod("p1", "default"), shop = mkpod("p2", "shop");
	struct floe_pod ks = mkpod("p3", "kube-system");

	(void)state;
	assert_int_equal(tap_scope_init(&s, NULL, " shop , kube-system", false, err, sizeof(err)),
			 0);
	assert_int_equal(s.n_namespaces, 2);
	assert_string_equal(s.namespaces[0], "shop");
	assert_string_equal(s.namespaces[1], "kube-system");
	assert_false(tap_scope_match(&s, &d)); /* default is not implied once -n is given */
	assert_true(tap_scope_match(&s, &shop));
	assert_true(tap_scope_match(&s, &ks));
	tap_scope_free(&s);

	assert_int_equal(tap_scope_init(&s, "p[12]", "shop,default", false, err, sizeof(err)), 0);
	assert_true(tap_scope_match(&s, &d));
	assert_true(tap_scope_match(&s, &shop));
	assert_false(tap_scope_match(&s, &ks));
	tap_scope_free(&s);

	/* -A wins over -n */
	assert_int_equal(tap_scope_init(&s, NULL, "shop", true, err, sizeof(err)), 0);
	assert_true(tap_scope_match(&s, &d));
	assert_true(tap_scope_match(&s, &ks));
	tap_scope_free(&s);
}

static void test_scope_errors(void **state)
{
	struct tap_scope s;
	char err[256] = "";

	(void)state;
	assert_int_equal(tap_scope_init(&s, "web(", NULL, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid pod regex \"web(\": "));
	assert_true(strlen(err) > strlen("invalid pod regex \"web(\": ")); /* regerror text */
	assert_false(s.has_regex);
	tap_scope_free(&s);

	assert_int_equal(tap_scope_init(&s, "[z-a]", NULL, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid pod regex"));

	assert_int_equal(tap_scope_init(&s, "ok", "shop,,db", false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "namespace 2 is empty"));
	assert_false(s.has_regex);
	assert_null(s.namespaces);
	assert_int_equal(tap_scope_init(&s, NULL, "shop, ", false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "namespace 2 is empty"));
	assert_int_equal(tap_scope_init(&s, NULL, "", false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "namespace 1 is empty"));
	assert_int_equal(tap_scope_init(&s, NULL, "shop,Kube_System", false, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "\"Kube_System\" is not a valid namespace name"));
	tap_scope_free(&s);
}

/* ------------------------------------------------------------ discovery */

/*
 * Made here:
 *   a: veth fuh<pid>a <-> eth0, 10.244.1.2/24, fd00:f10e::2/64, fe80::1234/64  pod (team-a)
 *   b: veth fuh<pid>b <-> eth0, 10.244.2.2/24                                  pod
 *   c <-> d: a veth between two named netns, none to us                         not pods
 *   e: only lo                                                                 not a pod
 *   f: a veth pair with both ends inside f                                     not a pod
 *   g: two veths to us: fuh<pid>g1 <-> eth0 (first), fuh<pid>g2 <-> eth1         pod, eth0
 *   h: eth0 <-> d (lower ifindex, peer elsewhere), then fuh<pid>h <-> eth1      pod, eth1
 */
static int group_setup_discover(void **state)
{
	char a[96], b[96], c[96], d[96], e[96], f[96], g[96], hn[96];
	char ha[16], hb[16], hg1[16], hg2[16], hh[16];

	(void)state;
	if (geteuid() != 0)
		return 0; /* the tests skip */
	/* Our own netns: host ends of the veths live (and die) with this process. */
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	ns_name(a, sizeof(a), "a");
	ns_name(b, sizeof(b), "b");
	ns_name(c, sizeof(c), "c");
	ns_name(d, sizeof(d), "d");
	ns_name(e, sizeof(e), "e");
	ns_name(f, sizeof(f), "f");
	ns_name(g, sizeof(g), "g");
	ns_name(hn, sizeof(hn), "h");
	host_if(ha, sizeof(ha), "a");
	host_if(hb, sizeof(hb), "b");
	host_if(hg1, sizeof(hg1), "g1");
	host_if(hg2, sizeof(hg2), "g2");
	host_if(hh, sizeof(hh), "h");
	netns_made = true;
	for (size_t i = 0; i < sizeof(ns_suffixes) / sizeof(ns_suffixes[0]); i++) {
		char n[96];

		ns_name(n, sizeof(n), ns_suffixes[i]);
		if (sh("ip netns add %s", n))
			goto fail;
	}
	if (sh("ip link add %s type veth peer name eth0 netns %s", ha, a) ||
	    sh("ip link set %s up && ip -n %s link set eth0 up && ip -n %s link set lo up", ha, a,
	       a) ||
	    sh("ip -n %s addr add 10.244.1.2/24 dev eth0", a) ||
	    sh("ip -n %s addr add fd00:f10e::2/64 dev eth0 nodad", a) ||
	    sh("ip -n %s addr add fe80::1234/64 dev eth0 nodad", a) ||
	    sh("ip link add %s type veth peer name eth0 netns %s", hb, b) ||
	    sh("ip -n %s addr add 10.244.2.2/24 dev eth0", b) ||
	    sh("ip -n %s link add eth0 type veth peer name eth0 netns %s", c, d) ||
	    sh("ip -n %s addr add 10.244.3.2/24 dev eth0", c) ||
	    sh("ip -n %s addr add 10.244.3.3/24 dev eth0", d) ||
	    sh("ip -n %s link add v0 type veth peer name v1", f) ||
	    sh("ip -n %s addr add 10.244.4.2/24 dev v0", f) ||
	    sh("ip link add %s type veth peer name eth0 netns %s", hg1, g) ||
	    sh("ip link add %s type veth peer name eth1 netns %s", hg2, g) ||
	    sh("ip -n %s addr add 10.244.5.2/24 dev eth0", g) ||
	    sh("ip -n %s addr add 10.244.6.2/24 dev eth1", g) ||
	    sh("ip -n %s link add eth0 type veth peer name ethh netns %s", hn, d) ||
	    sh("ip link add %s type veth peer name eth1 netns %s", hh, hn) ||
	    sh("ip -n %s addr add 10.244.7.2/24 dev eth1", hn))
		goto fail;
	return 0;
fail:
	cleanup();
	return -1;
}

static int group_teardown_discover(void **state)
{
	(void)state;
	cleanup();
	return 0;
}

static const struct floe_pod *find_pod(const struct floe_pod_list *l, const char *suffix)
{
	char name[96];

	ns_name(name, sizeof(name), suffix);
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->pods[i].name, name))
			return &l->pods[i];
	return NULL;
}

static bool has_addr(const struct floe_pod *p, int family, const char *text, int prefixlen)
{
	uint8_t want[16] = {0};

	if (inet_pton(family, text, want) != 1)
		return false;
	for (size_t i = 0; i < p->n_addrs; i++)
		if (p->addrs[i].family == family && p->addrs[i].prefixlen == prefixlen &&
		    !memcmp(p->addrs[i].addr, want, family == AF_INET ? 4 : 16))
			return true;
	return false;
}

static void skip_unless_root(void)
{
	if (geteuid() != 0)
		skip();
}

static const char *make_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/floe-ut-%d-XXXXXX", (int)getpid());
		if (!mkdtemp(tmpdir)) {
			tmpdir[0] = '\0';
			fail_msg("mkdtemp: %s", strerror(errno));
		}
	}
	return tmpdir;
}

static void test_discover_pods(void **state)
{
	struct floe_pod_list l;
	char inv[128], err[512] = "", h[16];
	const struct floe_pod *p;
	ino_t before = netns_inode();

	(void)state;
	skip_unless_root();
	snprintf(inv, sizeof(inv), "%s/inventory", make_tmpdir());
	char text[256];

	snprintf(text, sizeof(text), "# test inventory\n%s-a team-a\nsomebody-else other\n",
		 prefix);
	assert_int_equal(write_file(inv, text), 0);

	int rc = pods_local_discover(NETNS_DIR, inv, &l, err, sizeof(err));

	if (rc)
		fail_msg("pods_local_discover: %d %s", rc, err);
	assert_int_equal(netns_inode(), before); /* back in our netns */

	/* a: both addresses, no link-local, namespace from the inventory */
	p = find_pod(&l, "a");
	assert_non_null(p);
	assert_string_equal(p->namespace, "team-a");
	host_if(h, sizeof(h), "a");
	assert_int_equal(p->host_ifindex, (int)if_nametoindex(h));
	assert_true(p->host_ifindex > 0);
	assert_string_equal(p->host_ifname, h);
	assert_string_equal(p->pod_ifname, "eth0");
	assert_int_equal(p->n_addrs, 2);
	assert_true(has_addr(p, AF_INET, "10.244.1.2", 24));
	assert_true(has_addr(p, AF_INET6, "fd00:f10e::2", 64));
	assert_false(has_addr(p, AF_INET6, "fe80::1234", 64));

	/* b: not in the inventory */
	p = find_pod(&l, "b");
	assert_non_null(p);
	assert_string_equal(p->namespace, "default");
	host_if(h, sizeof(h), "b");
	assert_int_equal(p->host_ifindex, (int)if_nametoindex(h));
	assert_string_equal(p->host_ifname, h);
	assert_int_equal(p->n_addrs, 1);
	assert_true(has_addr(p, AF_INET, "10.244.2.2", 24));

	/* not pods: veth to another netns, no veth, veth inside */
	assert_null(find_pod(&l, "c"));
	assert_null(find_pod(&l, "d"));
	assert_null(find_pod(&l, "e"));
	assert_null(find_pod(&l, "f"));

	/* g: the first of two veths */
	p = find_pod(&l, "g");
	assert_non_null(p);
	host_if(h, sizeof(h), "g1");
	assert_int_equal(p->host_ifindex, (int)if_nametoindex(h));
	assert_string_equal(p->pod_ifname, "eth0");
	assert_int_equal(p->n_addrs, 1);
	assert_true(has_addr(p, AF_INET, "10.244.5.2", 24));

	/* h: the veth whose peer is here, not the first veth */
	p = find_pod(&l, "h");
	assert_non_null(p);
	host_if(h, sizeof(h), "h");
	assert_int_equal(p->host_ifindex, (int)if_nametoindex(h));
	assert_string_equal(p->host_ifname, h);
	assert_string_equal(p->pod_ifname, "eth1");
	assert_int_equal(p->n_addrs, 1);
	assert_true(has_addr(p, AF_INET, "10.244.7.2", 24));

	/* sorted by name */
	for (size_t i = 1; i < l.n; i++)
		assert_true(strcmp(l.pods[i - 1].name, l.pods[i].name) < 0);

	/* and the scope picks them */
	struct tap_scope s;
	char re[96];

	snprintf(re, sizeof(re), "^%s-", prefix);
	assert_int_equal(tap_scope_init(&s, re, NULL, false, err, sizeof(err)), 0);
	size_t in_scope = 0;

	for (size_t i = 0; i < l.n; i++)
		in_scope += tap_scope_match(&s, &l.pods[i]);
	assert_int_equal(in_scope, 3); /* b, g and h; a is in team-a */
	tap_scope_free(&s);
	assert_int_equal(tap_scope_init(&s, re, "team-a", false, err, sizeof(err)), 0);
	in_scope = 0;
	for (size_t i = 0; i < l.n; i++)
		in_scope += tap_scope_match(&s, &l.pods[i]);
	assert_int_equal(in_scope, 1);
	tap_scope_free(&s);

	pods_local_free(&l);
	assert_null(l.pods);
	assert_int_equal(l.n, 0);
	unlink(inv);
}

static void test_discover_inventory_variants(void **state)
{
	struct floe_pod_list l;
	char inv[128], err[512] = "", text[256];
	const struct floe_pod *p;

	(void)state;
	skip_unless_root();
	snprintf(inv, sizeof(inv), "%s/inventory2", make_tmpdir());

	/* missing file: everybody in default */
	assert_int_equal(pods_local_discover(NETNS_DIR, inv, &l, err, sizeof(err)), 0);
	assert_non_null(p = find_pod(&l, "a"));
	assert_string_equal(p->namespace, "default");
	pods_local_free(&l);
	/* no inventory at all */
	assert_int_equal(pods_local_discover(NETNS_DIR, NULL, &l, err, sizeof(err)), 0);
	assert_non_null(p = find_pod(&l, "g"));
	assert_string_equal(p->namespace, "default");
	pods_local_free(&l);

	/* '*' line */
	snprintf(text, sizeof(text), "* team-z\n%s-b team-b\n", prefix);
	assert_int_equal(write_file(inv, text), 0);
	assert_int_equal(pods_local_discover(NETNS_DIR, inv, &l, err, sizeof(err)), 0);
	assert_non_null(p = find_pod(&l, "a"));
	assert_string_equal(p->namespace, "team-z");
	assert_non_null(p = find_pod(&l, "b"));
	assert_string_equal(p->namespace, "team-b");
	pods_local_free(&l);

	/* a bad inventory is an error naming file and line; no list */
	snprintf(text, sizeof(text), "%s-a ok\n\n%s-b Not_OK\n", prefix, prefix);
	assert_int_equal(write_file(inv, text), 0);
	assert_int_equal(pods_local_discover(NETNS_DIR, inv, &l, err, sizeof(err)), -EINVAL);
	char want[192];

	snprintf(want, sizeof(want), "%s:3: namespace \"Not_OK\"", inv);
	if (!strstr(err, want))
		fail_msg("err \"%s\" lacks \"%s\"", err, want);
	assert_null(l.pods);
	assert_int_equal(l.n, 0);
	unlink(inv);
}

static void test_discover_other_dirs(void **state)
{
	struct floe_pod_list l;
	char dir[128], path[256], target[256], err[512] = "", h[16];
	ino_t before = netns_inode();

	(void)state;
	skip_unless_root();
	/* no such directory: no named netns, no pods */
	assert_int_equal(pods_local_discover("/nonexistent/floe-netns", NULL, &l, err, sizeof(err)),
			 0);
	assert_int_equal(l.n, 0);
	pods_local_free(&l);

	/* a directory with a plain file (not a netns), a symlink to pod a's netns file and a
	 * subdirectory: only the symlink is a pod, named after the entry */
	snprintf(dir, sizeof(dir), "%s/netns", make_tmpdir());
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/plain-file", dir);
	assert_int_equal(write_file(path, "not a netns\n"), 0);
	snprintf(path, sizeof(path), "%s/subdir", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/alias-of-a", dir);
	snprintf(target, sizeof(target), NETNS_DIR "/%s-a", prefix);
	assert_int_equal(symlink(target, path), 0);

	int rc = pods_local_discover(dir, NULL, &l, err, sizeof(err));

	if (rc)
		fail_msg("pods_local_discover: %d %s", rc, err);
	assert_int_equal(netns_inode(), before);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.pods[0].name, "alias-of-a");
	host_if(h, sizeof(h), "a");
	assert_int_equal(l.pods[0].host_ifindex, (int)if_nametoindex(h));
	assert_int_equal(l.pods[0].n_addrs, 2);
	pods_local_free(&l);
}

int main(void)
{
	static const struct CMUnitTest parser_tests[] = {
	    cmocka_unit_test(test_dns1123),	     cmocka_unit_test(test_inventory_good),
	    cmocka_unit_test(test_inventory_empty),  cmocka_unit_test(test_inventory_bad),
	    cmocka_unit_test(test_inventory_limits), cmocka_unit_test(test_inventory_load),
	    cmocka_unit_test(test_scope_default),    cmocka_unit_test(test_scope_regex),
	    cmocka_unit_test(test_scope_namespaces), cmocka_unit_test(test_scope_errors),
	};
	static const struct CMUnitTest discover_tests[] = {
	    cmocka_unit_test(test_discover_pods),
	    cmocka_unit_test(test_discover_inventory_variants),
	    cmocka_unit_test(test_discover_other_dirs),
	};
	int failed;

	snprintf(prefix, sizeof(prefix), "floe-ut-%d", (int)getpid());
	snprintf(hprefix, sizeof(hprefix), "fuh%d", (int)(getpid() % 10000000));
	atexit(cleanup);
	signal(SIGINT, exit_on_signal);
	signal(SIGTERM, exit_on_signal);
	signal(SIGHUP, exit_on_signal);

	failed = cmocka_run_group_tests_name("pods_local parsers", parser_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("pods_local discovery", discover_tests,
					      group_setup_discover, group_teardown_discover);
	return failed ? 1 : 0;
}
