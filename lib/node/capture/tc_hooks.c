// SPDX-License-Identifier: Apache-2.0
#include "capture/tc_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/*
 * An interface floe hooked, or hooked before and still holds the clsact qdisc of: a qdisc floe
 * created stays until the tap ends (tc_hooks_close), also when its filters go. Removing a
 * clsact qdisc drops the packets in flight on the interface (the device is deactivated while
 * the qdiscs are swapped: a pod's TCP then waits 0.2 s to 1 s for its retransmission), so it
 * is done once, at the end, not each time a pod leaves the scope while it still runs (marked
 * for deletion during its grace period, a label that no longer matches).
 */
struct tc_hook_entry {
	int ifindex;
	char ifname[IF_NAMESIZE];
	bool created_qdisc;
	bool attached; /* floe's filters are on it now */
};

struct tc_hooks {
	int lock_fd;
	char state_path[256];
	char lock_path[256];
	struct tc_hook_entry *entries;
	size_t n, cap;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, int e)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, strerror(e));
}

/* Is the filter at (ifindex, point) with floe's handle/prio one of floe's programs? */
static bool is_floe_filter(int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLOE_TC_HANDLE, .priority = FLOE_TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	bool ours = false;
	int fd;

	if (bpf_tc_query(&hook, &opts) < 0)
		return false;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		ours = strncmp(info.name, FLOE_TC_PROG_PREFIX, strlen(FLOE_TC_PROG_PREFIX)) == 0;
	close(fd);
	return ours;
}

static unsigned detach_point(int ifindex, enum bpf_tc_attach_point point, bool check_owner)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLOE_TC_HANDLE, .priority = FLOE_TC_PRIO);

	if (check_owner && !is_floe_filter(ifindex, point))
		return 0;
	return bpf_tc_detach(&hook, &opts) == 0 ? 1 : 0;
}

static void destroy_qdisc(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	bpf_tc_hook_destroy(&hook);
}

/* mkdir -p */
static int mkdir_parents(const char *path)
{
	char buf[256];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int write_state(struct tc_hooks *h)
{
	char tmp[sizeof(h->state_path) + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", h->state_path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (size_t i = 0; i < h->n; i++)
		fprintf(f, "%d %s %d\n", h->entries[i].ifindex, h->entries[i].ifname,
			h->entries[i].created_qdisc ? 1 : 0);
	if (fclose(f) != 0)
		return -errno;
	return rename(tmp, h->state_path) == 0 ? 0 : -errno;
}

/* Qdiscs a crashed run created: remove them (and floe's filters on them) if the interface is
 * still the same one. */
static void cleanup_from_state(const char *state_path, struct tc_hooks_cleanup_stats *st)
{
	char name[IF_NAMESIZE + 1], now[IF_NAMESIZE];
	int ifindex, created;
	FILE *f = fopen(state_path, "r");

	if (!f)
		return;
	while (fscanf(f, "%d %16s %d", &ifindex, name, &created) == 3) {
		if (!created || !if_indextoname(ifindex, now) || strcmp(now, name) != 0)
			continue;
		st->filters_removed += detach_point(ifindex, BPF_TC_INGRESS, true);
		st->filters_removed += detach_point(ifindex, BPF_TC_EGRESS, true);
		destroy_qdisc(ifindex);
		st->qdiscs_removed++;
	}
	fclose(f);
	unlink(state_path);
}

int tc_hooks_open(const char *state_dir, struct tc_hooks **out,
		  struct tc_hooks_cleanup_stats *cleaned, char *err, size_t errlen)
{
	struct tc_hooks_cleanup_stats st = {};
	struct if_nameindex *ifs;
	struct tc_hooks *h;
	struct stat ns;

	if (stat("/proc/self/ns/net", &ns) < 0) {
		set_err(err, errlen, "%s: %s", "/proc/self/ns/net", errno);
		return -errno;
	}
	if (mkdir_parents(state_dir) < 0) {
		set_err(err, errlen, "cannot create %s: %s", state_dir, errno);
		return -errno;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->state_path, sizeof(h->state_path), "%s/tc-hooks.%lu", state_dir,
		 (unsigned long)ns.st_ino);
	snprintf(h->lock_path, sizeof(h->lock_path), "%s/tap.%lu.lock", state_dir,
		 (unsigned long)ns.st_ino);
	h->lock_fd = open(h->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (h->lock_fd < 0) {
		int e = errno;

		set_err(err, errlen, "cannot open %s: %s", h->lock_path, e);
		free(h);
		return -e;
	}
	if (flock(h->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno == EWOULDBLOCK ? EBUSY : errno;

		if (err && errlen)
			snprintf(err, errlen,
				 "another floe tap is running in this network namespace (lock %s)",
				 h->lock_path);
		close(h->lock_fd);
		free(h);
		return -e;
	}

	/* We hold the lock: whatever floe hooks exist now belong to a run that is gone. */
	cleanup_from_state(h->state_path, &st);
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
		st.filters_removed += detach_point(i->if_index, BPF_TC_INGRESS, true);
		st.filters_removed += detach_point(i->if_index, BPF_TC_EGRESS, true);
	}
	if (ifs)
		if_freenameindex(ifs);
	if (cleaned)
		*cleaned = st;
	*out = h;
	return 0;
}

int tc_hooks_attach(struct tc_hooks *h, int ifindex, int ingress_fd, int egress_fd, char *err,
		    size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	struct tc_hook_entry *e = NULL;
	char name[IF_NAMESIZE];
	bool created;
	int ret;

	if (!if_indextoname(ifindex, name))
		snprintf(name, sizeof(name), "if%d", ifindex);
	for (size_t i = 0; i < h->n && !e; i++)
		if (h->entries[i].ifindex == ifindex)
			e = &h->entries[i];
	if (e && strcmp(e->ifname, name)) {
		/* the interface it was went, and its index came back with another one */
		*e = h->entries[--h->n];
		e = NULL;
	}
	if (!e && h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		void *p = realloc(h->entries, cap * sizeof(*h->entries));

		if (!p)
			return -ENOMEM;
		h->entries = p;
		h->cap = cap;
	}
	ret = bpf_tc_hook_create(&hook);
	if (ret < 0 && ret != -EEXIST) {
		char name[IF_NAMESIZE] = "?";

		if_indextoname(ifindex, name);
		set_err(err, errlen, "cannot create clsact qdisc on %s: %s", name, -ret);
		return ret;
	}
	created = ret == 0;
	if (!e) {
		e = &h->entries[h->n++];
		e->ifindex = ifindex;
		memcpy(e->ifname, name, sizeof(name));
		e->created_qdisc = false;
	}
	e->created_qdisc |= created;
	e->attached = true;
	/* Record the qdisc before attaching, so a crash in between is still cleaned up. */
	write_state(h);

	for (int dir = 0; dir < 2; dir++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLOE_TC_HANDLE,
				    .priority = FLOE_TC_PRIO, .flags = BPF_TC_F_REPLACE);

		hook.attach_point = dir == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS;
		opts.prog_fd = dir == 0 ? ingress_fd : egress_fd;
		ret = bpf_tc_attach(&hook, &opts);
		if (ret < 0) {
			set_err(err, errlen, "cannot attach TC program to %s: %s", e->ifname, -ret);
			tc_hooks_detach(h, ifindex);
			return ret;
		}
	}
	return 0;
}

/* The interface is still the one hooked (not gone, its index not another's). */
static bool entry_alive(const struct tc_hook_entry *e)
{
	char now[IF_NAMESIZE];

	return if_indextoname(e->ifindex, now) && !strcmp(now, e->ifname);
}

void tc_hooks_detach(struct tc_hooks *h, int ifindex)
{
	bool changed = false;

	for (size_t i = 0; i < h->n;) {
		struct tc_hook_entry *e = &h->entries[i];

		if (e->ifindex == ifindex && e->attached) {
			detach_point(ifindex, BPF_TC_INGRESS, false);
			detach_point(ifindex, BPF_TC_EGRESS, false);
			e->attached = false;
			changed = true;
		}
		/* Unhooked interfaces are kept for their qdisc while they exist: the list stays
		 * as long as the interfaces floe hooks and has hooked that are still there. */
		if (!e->attached && (!e->created_qdisc || !entry_alive(e))) {
			*e = h->entries[--h->n];
			changed = true;
			continue;
		}
		i++;
	}
	if (changed)
		write_state(h);
}

size_t tc_hooks_count(const struct tc_hooks *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		n += h->entries[i].attached;
	return n;
}

void tc_hooks_close(struct tc_hooks *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		struct tc_hook_entry *e = &h->entries[i];

		if (e->attached) {
			detach_point(e->ifindex, BPF_TC_INGRESS, false);
			detach_point(e->ifindex, BPF_TC_EGRESS, false);
		}
		if (e->created_qdisc && entry_alive(e))
			destroy_qdisc(e->ifindex);
	}
	h->n = 0;
	unlink(h->state_path);
	close(h->lock_fd);
	free(h->entries);
	free(h);
}
