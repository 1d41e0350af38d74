// SPDX-License-Identifier: Apache-2.0
/* The local pod source: pods_local_discover() run when inotify or rtnetlink says something
 * changed, and on a slow timer. See pod_source.h. */
#include "pods/pod_source.h"

#include <errno.h>
#include <libgen.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#define MS 1000000ull

/*
 * After an event: rescan once the burst is over (an `ip netns add` + veth set-up is a handful
 * of events within milliseconds), then again a few times, because the pod's address is set
 * inside its netns after its veth arrived here, and no event of ours says so. Gaps between
 * the rescans, from the last event on.
 */
static const uint64_t settle_gaps_ns[] = {20 * MS, 180 * MS, 800 * MS, 2000 * MS};
#define SETTLE_STEPS (sizeof(settle_gaps_ns) / sizeof(settle_gaps_ns[0]))

struct local_source {
	char *netns_dir, *inventory;
	uint64_t rescan_ns;
	struct evloop *loop;
	struct pod_sink sink;
	struct floe_pod_list pods; /* as last reported, sorted by name */
	int inotify_fd, netlink_fd;
	int netns_wd;		  /* watch on the netns directory; -1: none */
	int inventory_wd;	  /* watch on the inventory's directory; -1: none */
	char *inventory_name;	  /* the inventory's file name in it */
	struct evloop_fd *inotify_src, *netlink_src;
	struct evloop_timer *rescan, *settle;
	size_t settle_step; /* the step the settle timer is armed for */
};

static int rescan(struct local_source *s, char *err, size_t errlen)
{
	struct floe_pod_list now;
	int ret = pods_local_discover(s->netns_dir, s->inventory, &now, err, errlen);

	if (ret < 0)
		return ret;
	pod_list_diff(&s->pods, &now, &s->sink);
	pods_local_free(&s->pods);
	s->pods = now;
	return 0;
}

static void rescan_reporting(struct local_source *s)
{
	char err[512];
	int ret = rescan(s, err, sizeof(err));

	if (ret < 0 && s->sink.error)
		s->sink.error(s->sink.ctx, ret, err);
}

static void on_rescan(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	rescan_reporting(ctx);
}

static void on_settle(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct local_source *s = ctx;

	rescan_reporting(s);
	if (++s->settle_step < SETTLE_STEPS)
		evloop_timer_set(l, t, settle_gaps_ns[s->settle_step], 0);
}

/* Something changed: (re)start the settle schedule, unless its first rescan is pending. */
static void something_changed(struct local_source *s)
{
	if (evloop_timer_armed(s->settle) && s->settle_step == 0)
		return;
	s->settle_step = 0;
	evloop_timer_set(s->loop, s->settle, settle_gaps_ns[0], 0);
}

static void on_inotify(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct local_source *s = ctx;
	bool changed = false;
	ssize_t n;

	/* Anything in the netns directory, and the inventory file among its neighbours (an
	 * editor may write it anew and rename it over the old one). */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			if (ev->wd == s->netns_wd || (ev->wd == s->inventory_wd && ev->len &&
						       !strcmp(ev->name, s->inventory_name)))
				changed = true;
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	if (changed)
		something_changed(s);
}

static void on_netlink(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	char buf[8192];

	/* Link messages, or ENOBUFS when some were lost: either way, rescan. */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
	something_changed(ctx);
}

static int open_inotify(struct local_source *s)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* A directory that does not exist yet is only noticed by the link events and the
	 * safety net: `ip netns add` makes it with the first namespace. */
	s->netns_wd = inotify_add_watch(fd, s->netns_dir,
					IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
					    IN_DELETE_SELF | IN_MOVE_SELF);
	if (s->netns_wd < 0 && errno != ENOENT) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (s->inventory) {
		/* dirname/basename may modify their argument: copies. */
		char *dir = strdup(s->inventory), *base = strdup(s->inventory);

		if (dir && base) {
			s->inventory_name = strdup(basename(base));
			/* Not watchable (no such directory): the safety net still sees it. */
			if (s->inventory_name)
				s->inventory_wd = inotify_add_watch(
				    fd, dirname(dir),
				    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
					IN_MOVED_FROM);
		}
		free(dir);
		free(base);
	}
	s->inotify_fd = fd;
	return 0;
}

static int open_netlink(struct local_source *s)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	s->netlink_fd = fd;
	return 0;
}

static int local_start(void *impl, struct evloop *loop, const struct pod_sink *sink, char *err,
		       size_t errlen)
{
	struct local_source *s = impl;
	int ret;

	s->loop = loop;
	s->sink = *sink;
	ret = rescan(s, err, errlen);
	if (ret < 0)
		return ret;
	ret = open_inotify(s);
	if (ret < 0) {
		snprintf(err, errlen, "inotify on %s: %s", s->netns_dir, strerror(-ret));
		return ret;
	}
	ret = open_netlink(s);
	if (ret < 0) {
		snprintf(err, errlen, "rtnetlink link events: %s", strerror(-ret));
		return ret;
	}
	ret = evloop_add_fd(loop, s->inotify_fd, EVLOOP_IN, on_inotify, s, &s->inotify_src);
	if (!ret)
		ret = evloop_add_fd(loop, s->netlink_fd, EVLOOP_IN, on_netlink, s, &s->netlink_src);
	if (!ret)
		ret = evloop_add_timer(loop, s->rescan_ns, s->rescan_ns, on_rescan, s, &s->rescan);
	if (!ret)
		ret = evloop_add_timer(loop, 0, 0, on_settle, s, &s->settle);
	if (ret < 0)
		snprintf(err, errlen, "pod source: %s", strerror(-ret));
	return ret;
}

static void local_free(void *impl)
{
	struct local_source *s = impl;

	if (!s)
		return;
	if (s->loop) {
		evloop_del_fd(s->loop, s->inotify_src);
		evloop_del_fd(s->loop, s->netlink_src);
		evloop_del_timer(s->loop, s->rescan);
		evloop_del_timer(s->loop, s->settle);
	}
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	if (s->netlink_fd >= 0)
		close(s->netlink_fd);
	pods_local_free(&s->pods);
	free(s->netns_dir);
	free(s->inventory);
	free(s->inventory_name);
	free(s);
}

static void local_each(void *impl, void (*fn)(void *ctx, const struct floe_pod *p), void *ctx)
{
	struct local_source *s = impl;

	for (size_t i = 0; i < s->pods.n; i++)
		fn(ctx, &s->pods.pods[i]);
}

static const struct pod_source_ops local_ops = {
    .name = "local",
    .start = local_start,
    .free = local_free,
    .each = local_each,
};

int pod_source_local_new(const struct pod_source_local_config *cfg, struct pod_source *out)
{
	struct local_source *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->inotify_fd = s->netlink_fd = s->netns_wd = s->inventory_wd = -1;
	s->rescan_ns = cfg->rescan_ns ? cfg->rescan_ns : POD_SOURCE_LOCAL_RESCAN_NS;
	s->netns_dir = strdup(cfg->netns_dir ? cfg->netns_dir : "/run/netns");
	s->inventory = cfg->inventory ? strdup(cfg->inventory) : NULL;
	if (!s->netns_dir || (cfg->inventory && !s->inventory)) {
		local_free(s);
		return -ENOMEM;
	}
	out->ops = &local_ops;
	out->impl = s;
	return 0;
}
