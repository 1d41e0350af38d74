/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evloop: one thread's event loop. Everything the agent (and later the hub) waits for is
 * a file descriptor in one epoll set: sockets, the BPF ring buffer's epoll fd, inotify,
 * netlink, a signalfd for SIGINT/SIGTERM, and one timerfd that carries every timer. There
 * is no sleeping and no polling: the thread blocks in epoll_wait until an fd is ready or the
 * earliest timer is due. Needs nothing beyond libc (Linux epoll, timerfd, signalfd).
 *
 *   evloop_new(&l);
 *   evloop_add_fd(l, fd, EVLOOP_IN, on_ready, ctx, &src);
 *   evloop_add_timer(l, 1000000, 1000000, on_tick, ctx, &tm);   first in 1 ms, then every 1 ms
 *   evloop_add_signals(l, (int[]){SIGINT, SIGTERM}, 2, on_signal, ctx, &sig);
 *   evloop_run(l);            returns after evloop_stop() (from a callback) or on an error
 *   evloop_free(l);           removes whatever is still registered
 *
 * Rules that callbacks may rely on:
 *  - Timers run in deadline order; timers due at the same instant run in the order they were
 *    armed. Within one wakeup, ready fds are dispatched first, then the due timers.
 *  - A callback may add or remove any source or timer, itself included. A removed fd source
 *    is never called again, even when its readiness came in the same epoll_wait batch.
 *  - A periodic timer that fell behind (a long callback) runs once at once, not once per
 *    missed period, and then keeps its phase.
 *  - evloop_stop() makes evloop_run return once the current callback returns.
 * Not thread-safe: one loop belongs to the thread that runs it.
 */
#ifndef FLOE_CORE_EVLOOP_H
#define FLOE_CORE_EVLOOP_H

#include <stddef.h>
#include <stdint.h>

struct evloop;
struct evloop_fd;
struct evloop_timer;

/* Readiness, as asked for and as reported. EVLOOP_ERR (error or hang-up) is always reported. */
#define EVLOOP_IN  0x1u
#define EVLOOP_OUT 0x2u
#define EVLOOP_ERR 0x4u

typedef void (*evloop_fd_fn)(struct evloop *l, int fd, unsigned int events, void *ctx);
typedef void (*evloop_timer_fn)(struct evloop *l, struct evloop_timer *t, void *ctx);
typedef void (*evloop_signal_fn)(struct evloop *l, int signo, void *ctx);

/* Returns 0 or a negative errno. */
int evloop_new(struct evloop **out);

/* Remove (and free) every source and timer still registered, restore signal masks, free. */
void evloop_free(struct evloop *l);

/* Run until evloop_stop(). Returns 0, or a negative errno when epoll_wait fails. */
int evloop_run(struct evloop *l);
void evloop_stop(struct evloop *l);

/* CLOCK_MONOTONIC in nanoseconds: the clock timers are on. */
uint64_t evloop_now_ns(void);

/*
 * Watch fd (level-triggered) for events (EVLOOP_IN and/or EVLOOP_OUT). The fd stays the
 * caller's: evloop_del_fd does not close it, and the caller must remove it before closing.
 */
int evloop_add_fd(struct evloop *l, int fd, unsigned int events, evloop_fd_fn fn, void *ctx,
		  struct evloop_fd **out);
/* Stop watching and free src. NULL is ignored. */
void evloop_del_fd(struct evloop *l, struct evloop_fd *src);

/*
 * A timer, first due delay_ns from now, then every period_ns (0: one-shot). A one-shot
 * timer stays allocated, disarmed, after it ran: evloop_timer_set re-arms it. delay_ns 0
 * with period_ns 0 creates it disarmed.
 */
int evloop_add_timer(struct evloop *l, uint64_t delay_ns, uint64_t period_ns, evloop_timer_fn fn,
		     void *ctx, struct evloop_timer **out);
/* Re-arm: due delay_ns from now, then every period_ns. delay_ns 0 and period_ns 0: disarm. */
void evloop_timer_set(struct evloop *l, struct evloop_timer *t, uint64_t delay_ns,
		      uint64_t period_ns);
/* True while the timer is due to run. */
int evloop_timer_armed(const struct evloop_timer *t);
/* Disarm and free t. NULL is ignored. */
void evloop_del_timer(struct evloop *l, struct evloop_timer *t);

/*
 * Deliver the signals in sigs (e.g. SIGINT, SIGTERM) to fn through a signalfd. They are
 * blocked in the calling thread from here on (add them before starting other threads, which
 * inherit the mask, or they may take the signal themselves); evloop_del_fd on the returned
 * source restores the previous mask.
 */
int evloop_add_signals(struct evloop *l, const int *sigs, size_t n, evloop_signal_fn fn,
		       void *ctx, struct evloop_fd **out);

#endif /* FLOE_CORE_EVLOOP_H */
