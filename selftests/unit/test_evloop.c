// SPDX-License-Identifier: Apache-2.0
/*
 * evloop (lib/core/loop): fd readiness, one-shot and periodic timers, their order, sources
 * and timers removed from inside callbacks, and SIGINT-style stop through the signalfd.
 * Links the core alone (CORE_TESTS): the loop needs nothing beyond libc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop/evloop.h"

#define MS 1000000ull

/* A guard: no test may hang; when it fires the test fails. */
static void on_guard(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	*(int *)ctx = 1;
	evloop_stop(l);
}

static struct evloop_timer *guard(struct evloop *l, int *fired)
{
	struct evloop_timer *t;

	*fired = 0;
	assert_int_equal(evloop_add_timer(l, 2000 * MS, 0, on_guard, fired, &t), 0);
	return t;
}

/* ------------------------------------------------------------ fds */

struct pipe_ctx {
	int reads;
	char got[16];
	unsigned int events;
};

static void on_pipe(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct pipe_ctx *p = ctx;
	ssize_t n = read(fd, p->got, sizeof(p->got) - 1);

	p->events = events;
	if (n > 0)
		p->got[n] = '\0';
	p->reads++;
	evloop_stop(l);
}

static void test_fd_readiness(void **state)
{
	struct evloop *l;
	struct evloop_fd *src;
	struct pipe_ctx p = {};
	int fds[2], fired;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(evloop_new(&l), 0);
	assert_int_equal(evloop_add_fd(l, fds[0], EVLOOP_IN, on_pipe, &p, &src), 0);
	guard(l, &fired);
	assert_int_equal(write(fds[1], "hello", 5), 5);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(p.reads, 1);
	assert_string_equal(p.got, "hello");
	assert_true(p.events & EVLOOP_IN);

	/* the writer closes: hang-up is reported */
	close(fds[1]);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(p.reads, 2);
	assert_true(p.events & EVLOOP_ERR);

	/* a removed fd is not watched: only the guard ends the run */
	evloop_del_fd(l, src);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 1);
	assert_int_equal(p.reads, 2);
	evloop_free(l);
	close(fds[0]);
}

/* ------------------------------------------------------------ timers */

struct tick_ctx {
	int runs, stop_after;
	uint64_t at[16];
	int *order, *n_order, id;
};

static void on_tick(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct tick_ctx *c = ctx;

	if (c->runs < 16)
		c->at[c->runs] = evloop_now_ns();
	c->runs++;
	if (c->order)
		c->order[(*c->n_order)++] = c->id;
	if (c->stop_after && c->runs == c->stop_after)
		evloop_stop(l);
}

static void test_timer_one_shot_and_periodic(void **state)
{
	struct evloop *l;
	struct evloop_timer *once, *every;
	struct tick_ctx a = {}, b = {.stop_after = 5};
	uint64_t start;
	int fired;

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	guard(l, &fired);
	start = evloop_now_ns();
	assert_int_equal(evloop_add_timer(l, 15 * MS, 0, on_tick, &a, &once), 0);
	assert_int_equal(evloop_add_timer(l, 10 * MS, 10 * MS, on_tick, &b, &every), 0);
	assert_true(evloop_timer_armed(once));
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	/* the periodic one ran 5 times, at 10, 20, ... 50 ms, never early */
	assert_int_equal(b.runs, 5);
	for (int i = 0; i < 5; i++)
		assert_true(b.at[i] >= start + (uint64_t)(i + 1) * 10 * MS);
	assert_true(b.at[4] - start < 1000 * MS);
	/* the one-shot ran once, not before its time, and is disarmed but still there */
	assert_int_equal(a.runs, 1);
	assert_true(a.at[0] >= start + 15 * MS);
	assert_false(evloop_timer_armed(once));
	assert_true(evloop_timer_armed(every));

	/* re-armed, it runs again; disarmed, the periodic one does not */
	evloop_timer_set(l, every, 0, 0);
	evloop_timer_set(l, once, 5 * MS, 0);
	a.stop_after = 2;
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(a.runs, 2);
	assert_int_equal(b.runs, 5);
	evloop_free(l); /* frees both timers and the guard */
}

static void test_timer_order(void **state)
{
	struct evloop *l;
	int order[8], n = 0, fired;
	struct tick_ctx c30 = {.order = order, .n_order = &n, .id = 30},
			c10 = {.order = order, .n_order = &n, .id = 10},
			c20 = {.order = order, .n_order = &n, .id = 20, .stop_after = 0},
			last = {.order = order, .n_order = &n, .id = 99, .stop_after = 1};
	struct timespec pause = {.tv_nsec = 60 * MS};

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	guard(l, &fired);
	assert_int_equal(evloop_add_timer(l, 30 * MS, 0, on_tick, &c30, NULL), 0);
	assert_int_equal(evloop_add_timer(l, 10 * MS, 0, on_tick, &c10, NULL), 0);
	assert_int_equal(evloop_add_timer(l, 20 * MS, 0, on_tick, &c20, NULL), 0);
	assert_int_equal(evloop_add_timer(l, 40 * MS, 0, on_tick, &last, NULL), 0);
	/* all four are overdue by the time the loop runs: still in deadline order */
	nanosleep(&pause, NULL);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(n, 4);
	assert_int_equal(order[0], 10);
	assert_int_equal(order[1], 20);
	assert_int_equal(order[2], 30);
	assert_int_equal(order[3], 99);
	evloop_free(l);
}

/* A periodic timer whose callback overran several periods runs once at once, then on its
 * phase: not in a burst of the missed runs. */
static void on_slow(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct tick_ctx *c = ctx;
	struct timespec pause = {.tv_nsec = 120 * MS};

	on_tick(l, t, ctx);
	if (c->runs == 1)
		nanosleep(&pause, NULL);
}

static void test_timer_falls_behind(void **state)
{
	struct evloop *l;
	struct tick_ctx c = {.stop_after = 3};
	int fired;

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	guard(l, &fired);
	assert_int_equal(evloop_add_timer(l, 50 * MS, 50 * MS, on_slow, &c, NULL), 0);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	/* run 1 at ~50 ms overran to ~170 ms: run 2 (overdue) comes at once, run 3 on the phase
	 * at 200 ms; a burst of the missed runs would have come microseconds apart */
	assert_true(c.at[1] - c.at[0] >= 120 * MS);
	assert_true(c.at[2] - c.at[1] >= 10 * MS);
	assert_true(c.at[2] - c.at[0] <= 1000 * MS);
	evloop_free(l);
}

/* ------------------------------------------------------------ removal from callbacks */

struct pair {
	struct evloop_fd *src[2];
	int fd[2];
	int calls[2];
};

static void on_pair(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct pair *p = ctx;
	int me = fd == p->fd[0] ? 0 : 1;

	p->calls[me]++;
	/* whichever runs first removes the other and itself */
	evloop_del_fd(l, p->src[!me]);
	evloop_del_fd(l, p->src[me]);
	p->src[0] = p->src[1] = NULL;
}

static void on_delete_other(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct evloop_timer **other = ctx;

	evloop_del_timer(l, *other);
	*other = NULL;
	evloop_del_timer(l, t); /* and itself */
}

static void test_remove_inside_callback(void **state)
{
	struct evloop *l;
	struct pair p = {};
	int a[2], b[2], fired;
	struct evloop_timer *first, *second;
	struct tick_ctx c2 = {}, end = {.stop_after = 1};
	struct timespec pause = {.tv_nsec = 30 * MS};

	(void)state;
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	p.fd[0] = a[0];
	p.fd[1] = b[0];
	assert_int_equal(evloop_new(&l), 0);
	guard(l, &fired);
	assert_int_equal(evloop_add_fd(l, a[0], EVLOOP_IN, on_pair, &p, &p.src[0]), 0);
	assert_int_equal(evloop_add_fd(l, b[0], EVLOOP_IN, on_pair, &p, &p.src[1]), 0);
	/* both readable before the loop waits: both are in the same epoll batch */
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "y", 1), 1);

	/* two timers due in the same pass: the first deletes the second and itself */
	assert_int_equal(evloop_add_timer(l, 5 * MS, 0, on_delete_other, &second, &first), 0);
	assert_int_equal(evloop_add_timer(l, 6 * MS, 10 * MS, on_tick, &c2, &second), 0);
	assert_int_equal(evloop_add_timer(l, 50 * MS, 0, on_tick, &end, NULL), 0);
	nanosleep(&pause, NULL);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	assert_null(second);
	assert_int_equal(c2.runs, 0);
	assert_int_equal(end.runs, 1);
	evloop_free(l);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
}

/* ------------------------------------------------------------ signals */

static void on_sig(struct evloop *l, int signo, void *ctx)
{
	*(int *)ctx = signo;
	evloop_stop(l);
}

static void test_signal_stops(void **state)
{
	struct evloop *l;
	struct evloop_fd *sig;
	int got = 0, fired;
	const int sigs[] = {SIGUSR1, SIGUSR2};
	sigset_t mask;

	(void)state;
	assert_int_equal(evloop_new(&l), 0);
	guard(l, &fired);
	assert_int_equal(evloop_add_signals(l, sigs, 2, on_sig, &got, &sig), 0);
	/* blocked now: raising it leaves it pending for the signalfd, the process lives on */
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	assert_true(sigismember(&mask, SIGUSR2));
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(evloop_run(l), 0);
	assert_int_equal(fired, 0);
	assert_int_equal(got, SIGUSR2);

	/* a second one that nobody read is swallowed at removal, and the mask is restored */
	assert_int_equal(raise(SIGUSR1), 0);
	evloop_del_fd(l, sig);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGUSR1));
	assert_false(sigismember(&mask, SIGUSR2));
	evloop_free(l);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fd_readiness),
	    cmocka_unit_test(test_timer_one_shot_and_periodic),
	    cmocka_unit_test(test_timer_order),
	    cmocka_unit_test(test_timer_falls_behind),
	    cmocka_unit_test(test_remove_inside_callback),
	    cmocka_unit_test(test_signal_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
