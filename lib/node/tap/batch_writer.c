// SPDX-License-Identifier: Apache-2.0
/*
 * batch_writer: batches written to a stream on a thread of their own (batch_writer.h).
 */
#include "tap/batch_writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPARES 2 /* emptied buffers kept for the producer: it swaps one per batch */

struct slot {
	struct entry_json_buf b;
	uint64_t entries;
};

struct batch_writer {
	struct batch_writer_config cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more; /* a batch or the stop: for the writer */
	int fd;		     /* cfg.out's */
	pthread_cond_t room; /* a batch written (or the failure): for submit */
	/* under lock */
	struct slot *slots; /* cfg.queue_batches, a ring from first; the one being written stays
			     * in it until written (the queue's bound includes it) */
	unsigned first, count;
	struct entry_json_buf spare[SPARES];
	unsigned nspare;
	bool stop;
	struct batch_writer_stats st;
	_Atomic uint64_t deadline_ns; /* 0: none */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ull),
				 .tv_nsec = (long)(ns % 1000000000ull)};
}

/* Under lock: the first failure, told once (the callback runs without the lock). */
static void fail_locked(struct batch_writer *w, int err)
{
	if (w->st.err)
		return;
	w->st.err = err ? err : EIO;
	pthread_cond_broadcast(&w->room); /* a waiting submit returns the failure */
	if (w->cfg.failed) {
		pthread_mutex_unlock(&w->lock);
		w->cfg.failed(w->cfg.ctx, err ? err : EIO);
		pthread_mutex_lock(&w->lock);
	}
}

/* Under lock: an emptied buffer back to the spares, or to the system. */
static void recycle_locked(struct batch_writer *w, struct entry_json_buf *b)
{
	if (w->nspare < SPARES && b->p) {
		b->len = 0;
		w->spare[w->nspare++] = *b;
	} else {
		entry_json_buf_free(b);
	}
	*b = (struct entry_json_buf){0};
}

/* 0 or the errno of a failed write (EINTR: interrupted; other signals are blocked in the
 * tap's threads, so an interruption is the deadline's). */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0)
			return errno;
		if (k == 0)
			return EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void *writer_main(void *arg)
{
	struct batch_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->count && !w->stop)
			pthread_cond_wait(&w->more, &w->lock);
		if (w->count) {
			struct slot *s = &w->slots[w->first];
			bool ok = true;
			int e = 0;

			if (!w->st.err) {
				/* The slot is the writer's until popped: submit fills others.
				 * write(2), not stdio: one call per batch (fwrite wrote a batch's
				 * tail apart), and an entry counted as written is the kernel's. */
				pthread_mutex_unlock(&w->lock);
				e = write_all(w->fd, s->b.p, s->b.len);
				ok = !e;
				pthread_mutex_lock(&w->lock);
			} else {
				ok = false;
			}
			if (ok) {
				w->st.batches++;
				w->st.entries += s->entries;
			} else {
				w->st.unwritten += s->entries;
			}
			recycle_locked(w, &s->b);
			w->first = (w->first + 1) % w->cfg.queue_batches;
			w->count--;
			pthread_cond_broadcast(&w->room);
			if (!ok)
				fail_locked(w, e);
			continue;
		}
		if (w->stop)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int batch_writer_start(const struct batch_writer_config *cfg, struct batch_writer **out)
{
	struct batch_writer *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int ret;

	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	/* What stdio holds goes first: from here the stream's bytes are the writer's. */
	if (fflush(cfg->out) == EOF) {
		ret = errno ? -errno : -EIO;
		free(w);
		return ret;
	}
	w->fd = fileno(cfg->out);
	if (!w->cfg.queue_batches)
		w->cfg.queue_batches = BATCH_WRITER_DEFAULT_BATCHES;
	w->slots = calloc(w->cfg.queue_batches, sizeof(*w->slots));
	if (!w->slots) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->more, &ca);
	pthread_cond_init(&w->room, &ca);
	pthread_condattr_destroy(&ca);
	ret = pthread_create(&w->thread, NULL, writer_main, w);
	if (ret) {
		pthread_cond_destroy(&w->more);
		pthread_cond_destroy(&w->room);
		pthread_mutex_destroy(&w->lock);
		free(w->slots);
		free(w);
		return -ret;
	}
	pthread_setname_np(w->thread, "floe-output"); /* for top -H, perf, live.sh's notes */
	*out = w;
	return 0;
}

/* Under lock, waiting for the writer: past the deadline, interrupt its write. */
static void wait_writer_locked(struct batch_writer *w)
{
	uint64_t dl = atomic_load(&w->deadline_ns), now = now_ns();
	struct timespec until = ts_of(now + BATCH_WRITER_INTERRUPT_NS);

	if (dl && now >= dl && w->cfg.interrupt_signo) {
		pthread_kill(w->thread, w->cfg.interrupt_signo);
		w->st.interrupts++;
	}
	pthread_cond_timedwait(&w->room, &w->lock, &until);
}

int batch_writer_submit(struct batch_writer *w, struct entry_json_buf *b, uint64_t entries)
{
	struct slot *s;

	if (!b->len)
		return 0;
	pthread_mutex_lock(&w->lock);
	if (w->count == w->cfg.queue_batches && !w->st.err)
		w->st.waits++;
	while (w->count == w->cfg.queue_batches && !w->st.err)
		wait_writer_locked(w);
	if (w->st.err) {
		int err = w->st.err;

		w->st.unwritten += entries;
		b->len = 0;
		pthread_mutex_unlock(&w->lock);
		return -err;
	}
	s = &w->slots[(w->first + w->count) % w->cfg.queue_batches];
	s->b = *b;
	s->entries = entries;
	w->count++;
	*b = w->nspare ? w->spare[--w->nspare] : (struct entry_json_buf){0};
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void batch_writer_set_deadline(struct batch_writer *w, uint64_t monotonic_ns)
{
	atomic_store(&w->deadline_ns, monotonic_ns ? monotonic_ns : 1);
}

void batch_writer_stop(struct batch_writer *w, struct batch_writer_stats *stats)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	if (!atomic_load(&w->deadline_ns) || !w->cfg.interrupt_signo) {
		pthread_join(w->thread, NULL);
	} else {
		uint64_t dl = atomic_load(&w->deadline_ns);
		struct timespec until = ts_of(dl > now_ns() ? dl : now_ns());

		while (pthread_clockjoin_np(w->thread, NULL, CLOCK_MONOTONIC, &until) ==
		       ETIMEDOUT) {
			pthread_kill(w->thread, w->cfg.interrupt_signo);
			pthread_mutex_lock(&w->lock);
			w->st.interrupts++;
			pthread_mutex_unlock(&w->lock);
			until = ts_of(now_ns() + BATCH_WRITER_INTERRUPT_NS);
		}
	}
	if (stats)
		*stats = w->st;
	for (unsigned i = 0; i < w->nspare; i++)
		entry_json_buf_free(&w->spare[i]);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->room);
	pthread_mutex_destroy(&w->lock);
	free(w->slots);
	free(w);
}
