// SPDX-License-Identifier: Apache-2.0
#include "loop/evloop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define EVLOOP_BATCH 64

struct evloop_fd {
	struct evloop *loop;
	int fd;
	evloop_fd_fn fn;
	void *ctx;
	bool dead;		    /* removed while the loop was dispatching: freed after */
	struct evloop_fd *next;	    /* every live source, or the dead list */
	struct evloop_fd **pprev;   /* in the live list */
	/* a signal source: owns its signalfd and the mask to restore */
	bool is_signal;
	evloop_signal_fn sig_fn;
	void *sig_ctx;
	sigset_t old_mask;
};

struct evloop_timer {
	uint64_t due, period;
	bool armed;
	evloop_timer_fn fn;
	void *ctx;
	struct evloop_timer *next_armed; /* sorted by due; equal dues in arming order */
	struct evloop_timer *next_all, **pprev_all;
};

struct evloop {
	int epfd, tfd;
	bool stop;
	int dispatching;
	uint64_t tfd_due; /* what the timerfd is armed for; 0: disarmed */
	struct evloop_fd *fds, *dead;
	struct evloop_timer *armed, *timers;
	char tfd_marker; /* epoll data for the timerfd */
};

uint64_t evloop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int evloop_new(struct evloop **out)
{
	struct evloop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = {.events = EPOLLIN};
	int ret;

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.ptr = &l->tfd_marker;
	if (l->epfd < 0 || l->tfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd, &ev) < 0) {
		ret = -errno;
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->tfd >= 0)
			close(l->tfd);
		free(l);
		return ret;
	}
	*out = l;
	return 0;
}

static uint32_t to_epoll(unsigned int events)
{
	return (events & EVLOOP_IN ? EPOLLIN : 0) | (events & EVLOOP_OUT ? EPOLLOUT : 0);
}

static unsigned int from_epoll(uint32_t ev)
{
	return (ev & EPOLLIN ? EVLOOP_IN : 0) | (ev & EPOLLOUT ? EVLOOP_OUT : 0) |
	       (ev & (EPOLLERR | EPOLLHUP) ? EVLOOP_ERR : 0);
}

int evloop_add_fd(struct evloop *l, int fd, unsigned int events, evloop_fd_fn fn, void *ctx,
		  struct evloop_fd **out)
{
	struct evloop_fd *src = calloc(1, sizeof(*src));
	struct epoll_event ev = {.events = to_epoll(events)};

	if (!src)
		return -ENOMEM;
	src->loop = l;
	src->fd = fd;
	src->fn = fn;
	src->ctx = ctx;
	ev.data.ptr = src;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;

		free(src);
		return ret;
	}
	src->next = l->fds;
	if (l->fds)
		l->fds->pprev = &src->next;
	src->pprev = &l->fds;
	l->fds = src;
	if (out)
		*out = src;
	return 0;
}

static void signal_source_release(struct evloop_fd *src)
{
	struct signalfd_siginfo si;

	/* Signals that came after the last dispatch are consumed here rather than delivered,
	 * with their default action, the moment the mask is restored. */
	while (read(src->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	close(src->fd);
	pthread_sigmask(SIG_SETMASK, &src->old_mask, NULL);
}

void evloop_del_fd(struct evloop *l, struct evloop_fd *src)
{
	if (!src || src->dead)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	if (src->is_signal)
		signal_source_release(src);
	*src->pprev = src->next;
	if (src->next)
		src->next->pprev = src->pprev;
	src->dead = true;
	if (l->dispatching) {
		/* Its readiness may still be in the batch being dispatched. */
		src->next = l->dead;
		l->dead = src;
	} else {
		free(src);
	}
}

static void signal_ready(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct evloop_fd *src = ctx;
	struct signalfd_siginfo si;

	while (!src->dead && read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		src->sig_fn(l, (int)si.ssi_signo, src->sig_ctx);
}

int evloop_add_signals(struct evloop *l, const int *sigs, size_t n, evloop_signal_fn fn,
		       void *ctx, struct evloop_fd **out)
{
	struct evloop_fd *src;
	sigset_t set, old;
	int fd, ret;

	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		if (sigaddset(&set, sigs[i]) < 0)
			return -EINVAL;
	ret = pthread_sigmask(SIG_BLOCK, &set, &old);
	if (ret)
		return -ret;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return ret;
	}
	ret = evloop_add_fd(l, fd, EVLOOP_IN, signal_ready, NULL, &src);
	if (ret < 0) {
		close(fd);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return ret;
	}
	src->ctx = src;
	src->is_signal = true;
	src->sig_fn = fn;
	src->sig_ctx = ctx;
	src->old_mask = old;
	if (out)
		*out = src;
	return 0;
}

static void timer_unlink_armed(struct evloop *l, struct evloop_timer *t)
{
	struct evloop_timer **pp;

	if (!t->armed)
		return;
	for (pp = &l->armed; *pp; pp = &(*pp)->next_armed) {
		if (*pp == t) {
			*pp = t->next_armed;
			break;
		}
	}
	t->next_armed = NULL;
	t->armed = false;
}

static void timer_insert(struct evloop *l, struct evloop_timer *t, uint64_t due)
{
	struct evloop_timer **pp = &l->armed;

	t->due = due;
	t->armed = true;
	while (*pp && (*pp)->due <= due)
		pp = &(*pp)->next_armed;
	t->next_armed = *pp;
	*pp = t;
}

void evloop_timer_set(struct evloop *l, struct evloop_timer *t, uint64_t delay_ns,
		      uint64_t period_ns)
{
	timer_unlink_armed(l, t);
	t->period = period_ns;
	if (delay_ns == 0 && period_ns == 0)
		return;
	timer_insert(l, t, evloop_now_ns() + delay_ns);
}

int evloop_timer_armed(const struct evloop_timer *t)
{
	return t->armed;
}

int evloop_add_timer(struct evloop *l, uint64_t delay_ns, uint64_t period_ns, evloop_timer_fn fn,
		     void *ctx, struct evloop_timer **out)
{
	struct evloop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ctx = ctx;
	t->next_all = l->timers;
	if (l->timers)
		l->timers->pprev_all = &t->next_all;
	t->pprev_all = &l->timers;
	l->timers = t;
	evloop_timer_set(l, t, delay_ns, period_ns);
	if (out)
		*out = t;
	return 0;
}

void evloop_del_timer(struct evloop *l, struct evloop_timer *t)
{
	if (!t)
		return;
	timer_unlink_armed(l, t);
	*t->pprev_all = t->next_all;
	if (t->next_all)
		t->next_all->pprev_all = t->pprev_all;
	free(t);
}

/* Run the timers due by now, earliest first. Nothing is held across a callback, so a callback
 * may delete any timer; a timer it arms for now or later runs in a later pass. */
static void run_timers(struct evloop *l)
{
	uint64_t now = evloop_now_ns();

	while (!l->stop && l->armed && l->armed->due <= now) {
		struct evloop_timer *t = l->armed;

		l->armed = t->next_armed;
		t->next_armed = NULL;
		t->armed = false;
		if (t->period) {
			uint64_t next = t->due + t->period;

			if (next <= now) /* fell behind: skip the missed runs, keep the phase */
				next += ((now - next) / t->period + 1) * t->period;
			timer_insert(l, t, next);
		}
		t->fn(l, t, t->ctx);
	}
}

static int arm_timerfd(struct evloop *l)
{
	uint64_t due = l->armed ? l->armed->due : 0;
	struct itimerspec its = {};

	if (due == l->tfd_due)
		return 0;
	its.it_value.tv_sec = (time_t)(due / 1000000000u);
	its.it_value.tv_nsec = (long)(due % 1000000000u); /* all zero: disarm */
	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	l->tfd_due = due;
	return 0;
}

static void free_dead(struct evloop *l)
{
	while (l->dead) {
		struct evloop_fd *src = l->dead;

		l->dead = src->next;
		free(src);
	}
}

int evloop_run(struct evloop *l)
{
	struct epoll_event evs[EVLOOP_BATCH];
	int ret = 0;

	l->stop = false;
	while (!l->stop) {
		int n;

		ret = arm_timerfd(l);
		if (ret < 0)
			break;
		n = epoll_wait(l->epfd, evs, EVLOOP_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		l->dispatching++;
		for (int i = 0; i < n && !l->stop; i++) {
			struct evloop_fd *src = evs[i].data.ptr;

			if (evs[i].data.ptr == &l->tfd_marker) {
				uint64_t expirations;

				/* Due timers run below, after the fds, whatever woke us. */
				/* A one-shot timerfd is disarmed once it expired. EAGAIN:
				 * it was re-armed meanwhile, and is re-armed below anyway. */
				if (read(l->tfd, &expirations, sizeof(expirations)) > 0)
					l->tfd_due = 0;
				continue;
			}
			if (!src->dead)
				src->fn(l, src->fd, from_epoll(evs[i].events), src->ctx);
		}
		run_timers(l);
		l->dispatching--;
		free_dead(l);
	}
	return ret;
}

void evloop_stop(struct evloop *l)
{
	l->stop = true;
}

void evloop_free(struct evloop *l)
{
	if (!l)
		return;
	while (l->fds)
		evloop_del_fd(l, l->fds);
	free_dead(l);
	while (l->timers)
		evloop_del_timer(l, l->timers);
	close(l->tfd);
	close(l->epfd);
	free(l);
}
