// SPDX-License-Identifier: Apache-2.0
/*
 * pod_netns: pods' network namespaces from their IPs; see pod_netns.h and docs/kubernetes.md.
 *
 * A scan runs in a thread of its own: setns(2) changes the namespace of the calling thread
 * only, and the loop must never sit in a pod's namespace (its sockets would be made there) nor
 * wait on a few hundred namespaces. The thread fills a table of its own and says so through an
 * eventfd; the loop swaps the table in. Nothing else is shared while it runs (the
 * configuration is read-only then).
 */
#include "pods/pod_netns.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

struct pn_entry {
	int family;
	uint8_t addr[16];
	uint32_t inode;
	int host_ifindex;
	char host_ifname[IF_NAMESIZE];
	bool ambiguous; /* a second namespace holds the address too */
};

struct pn_table {
	struct pn_entry *v;
	size_t n, cap;
	struct pod_netns_stats st; /* this scan's figures */
};

struct addr_set {
	struct floe_pod_addr v[POD_NETNS_PENDING_MAX];
	size_t n;
	bool overflow; /* more than fit: every address counts as in */
};

struct pod_netns {
	/* configuration (read by the scan thread) */
	char *proc;
	char **dirs;
	size_t n_dirs, max_ns;
	uint64_t gap_ns;
	int self_fd; /* the caller's namespace, to come back to and to compare veth peers with */
	struct stat self_st;

	struct evloop *loop;
	void (*done)(void *ctx);
	void *ctx;
	int efd;
	struct evloop_fd *efd_src;
	struct evloop_timer *timer;

	struct pn_table cur, next; /* next: the scan thread's while it runs */
	pthread_t thread;
	bool running, wanted;
	uint64_t last_start_ns;
	/* addresses asked about since the last scan started; being scanned; that scan's, in done */
	struct addr_set waiting, in_scan, recheck;
	uint64_t scans, failed_total, scan_ns_total; /* every scan's (pod_netns_stats) */
};

/* ------------------------------------------------------------ the scan (its own thread) */

static int entry_cmp(const void *a, const void *b)
{
	const struct pn_entry *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int table_add(struct pn_table *t, const struct pn_entry *e)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct pn_entry *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *e;
	return 0;
}

/* A set of namespace inodes (open addressing; 0 is the empty slot: no nsfs inode is 0). */
struct ino_set {
	uint32_t *slot;
	size_t cap; /* a power of two, at least twice the most it holds */
};

/* true when ino was not in yet (and is now) */
static bool ino_set_add(struct ino_set *s, uint32_t ino)
{
	size_t i = (ino * 2654435761u) & (s->cap - 1);

	while (s->slot[i]) {
		if (s->slot[i] == ino)
			return false;
		i = (i + 1) & (s->cap - 1);
	}
	s->slot[i] = ino;
	return true;
}

struct candidate {
	uint32_t ino;
	char path[96];
};

struct candidates {
	struct candidate *v;
	size_t n, max;
	uint64_t not_asked;
	struct ino_set seen;
};

/* path names a namespace (a file of nsfs, not our own): keep it once per namespace. */
static void candidate_add(const struct pod_netns *pn, struct candidates *c, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || st.st_dev != pn->self_st.st_dev ||
	    st.st_ino == pn->self_st.st_ino || !st.st_ino || st.st_ino > UINT32_MAX)
		return; /* gone, a file no namespace is mounted on, or this namespace */
	if (!ino_set_add(&c->seen, (uint32_t)st.st_ino))
		return;
	if (c->n == c->max) {
		c->not_asked++;
		return;
	}
	c->v[c->n].ino = (uint32_t)st.st_ino;
	snprintf(c->v[c->n].path, sizeof(c->v[c->n].path), "%s", path);
	c->n++;
}

static void candidates_of_dir(const struct pod_netns *pn, struct candidates *c, const char *dir,
			      bool proc)
{
	char path[sizeof(c->v[0].path)];
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return; /* this runtime is not here */
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (proc && !isdigit((unsigned char)de->d_name[0]))
			continue;
		if (snprintf(path, sizeof(path), proc ? "%s/%s/ns/net" : "%s/%s", dir,
			     de->d_name) >= (int)sizeof(path))
			continue;
		candidate_add(pn, c, path);
	}
	closedir(d);
}

/* One namespace: its veth to us and that veth's addresses into t. */
static void scan_one(const struct pod_netns *pn, const struct candidate *cand, struct pn_table *t)
{
	struct floe_pod pod;
	char err[200] = "", ifname[IF_NAMESIZE];
	struct stat st;
	bool is_pod = false;
	int fd, rc;

	fd = open(cand->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* its process ended, or it was deleted: nothing to ask */
	/* A /proc/PID whose PID was reused in between is another namespace: not this one. */
	if (fstat(fd, &st) < 0 || st.st_ino != cand->ino) {
		close(fd);
		return;
	}
	memset(&pod, 0, sizeof(pod));
	rc = pods_local_probe_netns(cand->path, fd, pn->self_fd, &pod, &is_pod, err, sizeof(err));
	close(fd);
	if (rc < 0) {
		t->st.failed++;
		if (!t->st.first_error[0])
			snprintf(t->st.first_error, sizeof(t->st.first_error), "%s", err);
		return;
	}
	/* Back in our namespace: the host end is named here. */
	if (!is_pod || !if_indextoname((unsigned int)pod.host_ifindex, ifname))
		return;
	t->st.pods++;
	for (size_t i = 0; i < pod.n_addrs; i++) {
		struct pn_entry e = {.family = pod.addrs[i].family,
				     .inode = cand->ino,
				     .host_ifindex = pod.host_ifindex};

		memcpy(e.addr, pod.addrs[i].addr, sizeof(e.addr));
		memcpy(e.host_ifname, ifname, sizeof(ifname));
		if (table_add(t, &e) < 0) {
			t->st.failed++;
			return;
		}
	}
}

/* Sorted by address; an address of two namespaces or more is kept once, ambiguous. */
static void table_finish(struct pn_table *t)
{
	size_t w = 0;

	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (w && t->v[w - 1].family == t->v[i].family &&
		    !memcmp(t->v[w - 1].addr, t->v[i].addr, 16)) {
			if (t->v[w - 1].inode != t->v[i].inode && !t->v[w - 1].ambiguous) {
				t->v[w - 1].ambiguous = true;
				t->st.ambiguous++;
			}
			continue;
		}
		t->v[w++] = t->v[i];
	}
	t->n = w;
	t->st.addresses = w;
}

static void scan(const struct pod_netns *pn, struct pn_table *t)
{
	struct candidates c = {.max = pn->max_ns};
	uint64_t t0 = evloop_now_ns();

	t->n = 0;
	memset(&t->st, 0, sizeof(t->st));
	for (c.seen.cap = 64; c.seen.cap < 2 * (pn->max_ns + 1); c.seen.cap *= 2)
		;
	c.v = malloc(pn->max_ns * sizeof(*c.v));
	c.seen.slot = calloc(c.seen.cap, sizeof(*c.seen.slot));
	if (!c.v || !c.seen.slot) {
		snprintf(t->st.first_error, sizeof(t->st.first_error), "out of memory");
		t->st.failed++;
		goto out;
	}
	/* The runtimes' files first: a path there outlives the process that made it. */
	for (size_t i = 0; i < pn->n_dirs; i++)
		candidates_of_dir(pn, &c, pn->dirs[i], false);
	candidates_of_dir(pn, &c, pn->proc, true);
	t->st.namespaces = c.n;
	t->st.not_asked = c.not_asked;
	for (size_t i = 0; i < c.n; i++)
		scan_one(pn, &c.v[i], t);
	table_finish(t);
out:
	free(c.v);
	free(c.seen.slot);
	t->st.last_scan_ns = evloop_now_ns() - t0;
}

static void *scan_thread(void *arg)
{
	struct pod_netns *pn = arg;
	uint64_t one = 1;

	scan(pn, &pn->next);
	if (pn->efd >= 0 && write(pn->efd, &one, sizeof(one)) < 0) {
		/* an eventfd counter cannot overflow at one write per scan */
	}
	return NULL;
}

/* ------------------------------------------------------------ addresses waiting */

static bool addr_set_has(const struct addr_set *s, const struct floe_pod_addr *a)
{
	if (s->overflow)
		return true;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == a->family && !memcmp(s->v[i].addr, a->addr, 16))
			return true;
	return false;
}

static void addr_set_add(struct addr_set *s, const struct floe_pod_addr *a)
{
	if (addr_set_has(s, a))
		return;
	if (s->n == POD_NETNS_PENDING_MAX) {
		s->overflow = true;
		return;
	}
	s->v[s->n++] = *a;
}

static void addr_set_clear(struct addr_set *s)
{
	s->n = 0;
	s->overflow = false;
}

static bool pod_in_set(const struct addr_set *s, const struct floe_pod *p)
{
	for (size_t i = 0; i < p->n_addrs; i++)
		if (addr_set_has(s, &p->addrs[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------ on the loop */

static void scan_start(struct pod_netns *pn)
{
	pn->wanted = false;
	pn->in_scan = pn->waiting;
	addr_set_clear(&pn->waiting);
	pn->last_start_ns = evloop_now_ns();
	pn->running = true;
	if (pthread_create(&pn->thread, NULL, scan_thread, pn) != 0) {
		/* No thread now (memory, limits): the addresses wait for the next try. */
		pn->running = false;
		pn->waiting = pn->in_scan;
		addr_set_clear(&pn->in_scan);
		pn->wanted = true;
		evloop_timer_set(pn->loop, pn->timer, pn->gap_ns, 0);
	}
}

static void kick(struct pod_netns *pn)
{
	uint64_t now = evloop_now_ns(), due = pn->last_start_ns + pn->gap_ns;

	if (!pn->wanted || pn->running || !pn->loop)
		return;
	if (!pn->last_start_ns || now >= due)
		scan_start(pn);
	else if (!evloop_timer_armed(pn->timer))
		evloop_timer_set(pn->loop, pn->timer, due - now, 0);
}

static void on_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	kick(ctx);
}

static void table_swap(struct pod_netns *pn)
{
	struct pn_table old = pn->cur;

	pn->cur = pn->next;
	pn->next = old;
	pn->next.n = 0;
	pn->scans++;
	pn->failed_total += pn->cur.st.failed;
	pn->scan_ns_total += pn->cur.st.last_scan_ns;
}

static void on_scan_done(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct pod_netns *pn = ctx;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 || !pn->running)
		return;
	pthread_join(pn->thread, NULL);
	pn->running = false;
	table_swap(pn);
	pn->recheck = pn->in_scan;
	addr_set_clear(&pn->in_scan);
	if (pn->done)
		pn->done(pn->ctx);
	addr_set_clear(&pn->recheck);
	kick(pn);
}

void pod_netns_request(struct pod_netns *pn)
{
	if (!pn)
		return;
	pn->wanted = true;
	kick(pn);
}

static bool hit_of(const struct pn_table *t, const struct floe_pod_addr *a,
		   struct pod_netns_hit *hit)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pn_entry *e = &t->v[mid];
		int c = e->family != a->family ? (e->family < a->family ? -1 : 1)
					       : memcmp(e->addr, a->addr, 16);

		if (c == 0) {
			if (e->ambiguous)
				return false;
			hit->inode = e->inode;
			hit->host_ifindex = e->host_ifindex;
			memcpy(hit->host_ifname, e->host_ifname, sizeof(hit->host_ifname));
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool pod_netns_lookup(const struct pod_netns *pn, const struct floe_pod_addr *a,
		      struct pod_netns_hit *hit)
{
	return pn && hit_of(&pn->cur, a, hit);
}

/* The pod's namespace: its first address the table knows. */
static bool pod_hit(const struct pod_netns *pn, const struct floe_pod *p, struct pod_netns_hit *hit)
{
	for (size_t i = 0; i < p->n_addrs; i++)
		if (pod_netns_lookup(pn, &p->addrs[i], hit))
			return true;
	return false;
}

/* A bridge (or Open vSwitch) device: what a bridge CNI routes its pods' subnet to. */
static bool is_bridge(int ifindex)
{
	char kind[32];

	return floe_link_kind(ifindex, kind, sizeof(kind)) == 0 &&
	       (!strcmp(kind, "bridge") || !strcmp(kind, "openvswitch"));
}

void pod_netns_apply(struct pod_netns *pn, struct floe_pod *p, bool pod_event)
{
	struct pod_netns_hit hit;
	bool found;

	p->netns_inode = 0;
	p->netns_pending = false;
	if (!pn || p->host_network)
		return;
	found = pod_hit(pn, p, &hit);
	if (pod_event) {
		/* A new pod, or one whose sandbox may be new: the table may be older than it. */
		for (size_t i = 0; i < p->n_addrs; i++)
			addr_set_add(&pn->waiting, &p->addrs[i]);
		pod_netns_request(pn);
	}
	if (found)
		p->netns_inode = hit.inode;
	if (found && p->host_ifindex == hit.host_ifindex)
		return;
	if (p->host_ifindex > 0 && !is_bridge(p->host_ifindex))
		return; /* a routing CNI's veth (or a device of another kind): the route's */
	if (found) {
		p->host_ifindex = hit.host_ifindex;
		memcpy(p->host_ifname, hit.host_ifname, sizeof(p->host_ifname));
		return;
	}
	/* Routed to a bridge, its veth not known yet: nothing until the coming scan says. */
	if (p->host_ifindex > 0 && (pod_in_set(&pn->waiting, p) || pod_in_set(&pn->in_scan, p))) {
		p->host_ifindex = 0;
		p->host_ifname[0] = '\0';
		p->netns_pending = true;
	}
}

bool pod_netns_stale(const struct pod_netns *pn, const struct floe_pod *p)
{
	struct pod_netns_hit hit;
	bool found;

	if (!pn || p->host_network)
		return false;
	found = pod_hit(pn, p, &hit);
	if ((found ? hit.inode : 0) != p->netns_inode)
		return true;
	if (found && p->host_ifindex != hit.host_ifindex)
		return true;
	return pod_in_set(&pn->recheck, p);
}

void pod_netns_get_stats(const struct pod_netns *pn, struct pod_netns_stats *out)
{
	*out = pn->cur.st;
	out->scans = pn->scans;
	out->failed_total = pn->failed_total;
	out->scan_ns_total = pn->scan_ns_total;
}

/* ------------------------------------------------------------ life */

static const char *const default_dirs[] = {"/run/netns", "/var/run/netns", "/run/docker/netns",
					   NULL};

int pod_netns_new(const struct pod_netns_config *cfg, struct pod_netns **out, char *err,
		  size_t errlen)
{
	const char *const *dirs = cfg && cfg->netns_dirs ? cfg->netns_dirs : default_dirs;
	struct pod_netns *pn = calloc(1, sizeof(*pn));
	size_t n = 0;

	*out = NULL;
	if (!pn)
		goto nomem;
	pn->efd = -1;
	pn->self_fd = -1;
	pn->max_ns = cfg && cfg->max_namespaces ? cfg->max_namespaces : POD_NETNS_MAX_NAMESPACES;
	pn->gap_ns = cfg && cfg->gap_ns ? cfg->gap_ns : POD_NETNS_GAP_NS;
	pn->proc = strdup(cfg && cfg->proc ? cfg->proc : "/proc");
	while (dirs[n])
		n++;
	pn->dirs = calloc(n ? n : 1, sizeof(*pn->dirs));
	if (!pn->proc || !pn->dirs)
		goto nomem;
	for (pn->n_dirs = 0; pn->n_dirs < n; pn->n_dirs++)
		if (!(pn->dirs[pn->n_dirs] = strdup(dirs[pn->n_dirs])))
			goto nomem;
	/* The calling thread's namespace (setns is per thread); the scan threads start in it. */
	pn->self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (pn->self_fd < 0 || fstat(pn->self_fd, &pn->self_st) < 0) {
		int e = errno;

		snprintf(err, errlen, "this network namespace (/proc/thread-self/ns/net): %s",
			 strerror(e));
		pod_netns_free(pn);
		return -e;
	}
	*out = pn;
	return 0;
nomem:
	snprintf(err, errlen, "%s", strerror(ENOMEM));
	pod_netns_free(pn);
	return -ENOMEM;
}

int pod_netns_start(struct pod_netns *pn, struct evloop *loop, void (*done)(void *ctx), void *ctx,
		    char *err, size_t errlen)
{
	int ret;

	/* The first scan in a thread too (setns), waited for: start() reports the pods with it. */
	pn->last_start_ns = evloop_now_ns();
	if (pthread_create(&pn->thread, NULL, scan_thread, pn) != 0) {
		snprintf(err, errlen, "a thread for the scan of network namespaces: %s",
			 strerror(EAGAIN));
		return -EAGAIN;
	}
	pthread_join(pn->thread, NULL);
	table_swap(pn);

	pn->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pn->efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-ret));
		return ret;
	}
	ret = evloop_add_fd(loop, pn->efd, EVLOOP_IN, on_scan_done, pn, &pn->efd_src);
	if (!ret)
		ret = evloop_add_timer(loop, 0, 0, on_timer, pn, &pn->timer);
	if (ret < 0) {
		snprintf(err, errlen, "%s", strerror(-ret));
		return ret;
	}
	pn->loop = loop;
	pn->done = done;
	pn->ctx = ctx;
	return 0;
}

void pod_netns_free(struct pod_netns *pn)
{
	if (!pn)
		return;
	if (pn->running)
		pthread_join(pn->thread, NULL);
	if (pn->loop) {
		evloop_del_fd(pn->loop, pn->efd_src);
		evloop_del_timer(pn->loop, pn->timer);
	}
	if (pn->efd >= 0)
		close(pn->efd);
	if (pn->self_fd >= 0)
		close(pn->self_fd);
	for (size_t i = 0; pn->dirs && i < pn->n_dirs; i++)
		free(pn->dirs[i]);
	free(pn->dirs);
	free(pn->proc);
	free(pn->cur.v);
	free(pn->next.v);
	free(pn);
}
