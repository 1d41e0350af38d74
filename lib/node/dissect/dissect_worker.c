// SPDX-License-Identifier: Apache-2.0
#include "dissect/dissect_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/packet.h"

/*
 * The queue is one byte ring: records [struct rec | frame], 8-byte aligned, written at head
 * by the producer and read in place at tail by the worker. Positions grow without wrapping
 * (uint64_t); pos % size is the offset. A record never straddles the end: when it would, the
 * producer writes a WRAP marker and starts again at offset 0.
 */
#define REC_WRAP 0xffffffffu

struct rec {
	uint32_t len; /* whole record, header included, rounded up to 8; or REC_WRAP */
	int32_t linktype;
	uint32_t cap_len, wire_len;
	uint64_t ts_ns;
};

struct dissect_worker {
	struct dissect_worker_config cfg;
	struct dissect_engine *eng;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more; /* head moved, or stop */
	uint8_t *buf;
	size_t size;
	uint64_t head, tail; /* under lock */
	bool stop;           /* under lock */
	bool tick_wanted;    /* under lock: dissect_worker_tick() was called */
	struct dissect_worker_stats st; /* pushed/dropped/queue_peak under lock; undecoded: worker */
};

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void dissect_range(struct dissect_worker *w, uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t off = from % w->size;
		const struct rec *r = (const struct rec *)(w->buf + off);
		struct packet p;

		if (r->len == REC_WRAP) {
			from += w->size - off;
			continue;
		}
		if (packet_decode(r->linktype, (const uint8_t *)(r + 1), r->cap_len, r->wire_len,
				  r->ts_ns, &p) == 0)
			dissect_engine_packet(w->eng, &p);
		else
			w->st.undecoded++;
		from += r->len;
	}
}

static void tick(struct dissect_worker *w)
{
	dissect_engine_expire(w->eng, now_ns(CLOCK_REALTIME));
	if (w->cfg.tick)
		w->cfg.tick(w->cfg.tick_ctx);
}

static void *worker_main(void *arg)
{
	struct dissect_worker *w = arg;
	uint64_t next_tick = now_ns(CLOCK_MONOTONIC) + w->cfg.tick_ns;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		uint64_t head = w->head, tail = w->tail;
		bool stop = w->stop, tick_now = w->tick_wanted;

		if (head == tail && !stop && !tick_now && w->cfg.tick_on_request) {
			pthread_cond_wait(&w->more, &w->lock);
			continue;
		}
		if (head == tail && !stop && !tick_now && now_ns(CLOCK_MONOTONIC) < next_tick) {
			/* The condition variable uses CLOCK_MONOTONIC (see start). */
			struct timespec until = {.tv_sec = (time_t)(next_tick / 1000000000u),
						 .tv_nsec = (long)(next_tick % 1000000000u)};

			pthread_cond_timedwait(&w->more, &w->lock, &until);
			continue;
		}
		w->tick_wanted = false;
		pthread_mutex_unlock(&w->lock);
		dissect_range(w, tail, head);
		if (tick_now) {
			tick(w);
		} else if (!w->cfg.tick_on_request && now_ns(CLOCK_MONOTONIC) >= next_tick) {
			tick(w);
			next_tick = now_ns(CLOCK_MONOTONIC) + w->cfg.tick_ns;
		}
		pthread_mutex_lock(&w->lock);
		w->tail = head;
		if (stop && w->head == head)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	dissect_engine_finish(w->eng);
	if (w->cfg.tick)
		w->cfg.tick(w->cfg.tick_ctx);
	return NULL;
}

int dissect_worker_start(const struct dissect_worker_config *cfg, struct dissect_engine *eng,
			 struct dissect_worker **out)
{
	struct dissect_worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int ret;

	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	if (!w->cfg.queue_bytes)
		w->cfg.queue_bytes = DISSECT_WORKER_DEFAULT_QUEUE;
	if (!w->cfg.tick_ns)
		w->cfg.tick_ns = 1000000000u;
	/* Room for at least one largest record; 8-byte aligned. */
	w->size = (w->cfg.queue_bytes + 7) & ~(size_t)7;
	if (w->size < 4096)
		w->size = 4096;
	w->eng = eng;
	w->buf = malloc(w->size);
	if (!w->buf) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->more, &ca);
	pthread_condattr_destroy(&ca);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret) {
		pthread_cond_destroy(&w->more);
		pthread_mutex_destroy(&w->lock);
		free(w->buf);
		free(w);
		return -ret;
	}
	*out = w;
	return 0;
}

int dissect_worker_push(struct dissect_worker *w, int linktype, const uint8_t *frame,
			uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns)
{
	size_t len = (sizeof(struct rec) + cap_len + 7) & ~(size_t)7;
	size_t off, room_end;
	uint64_t need;
	struct rec *r;

	pthread_mutex_lock(&w->lock);
	off = w->head % w->size;
	room_end = w->size - off;
	need = len <= room_end ? len : room_end + len; /* a wrap skips the end */
	if (len > w->size || w->size - (w->head - w->tail) < need) {
		w->st.dropped++;
		pthread_mutex_unlock(&w->lock);
		return -ENOBUFS;
	}
	if (len > room_end) {
		((struct rec *)(w->buf + off))->len = REC_WRAP;
		w->head += room_end;
		off = 0;
	}
	r = (struct rec *)(w->buf + off);
	r->len = (uint32_t)len;
	r->linktype = linktype;
	r->cap_len = cap_len;
	r->wire_len = wire_len;
	r->ts_ns = ts_ns;
	memcpy(r + 1, frame, cap_len);
	w->head += len;
	w->st.pushed++;
	if (w->head - w->tail > w->st.queue_peak)
		w->st.queue_peak = w->head - w->tail;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void dissect_worker_tick(struct dissect_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->tick_wanted = true;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
}

void dissect_worker_stop(struct dissect_worker *w, struct dissect_worker_stats *stats)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	if (stats)
		*stats = w->st;
	pthread_cond_destroy(&w->more);
	pthread_mutex_destroy(&w->lock);
	free(w->buf);
	free(w);
}
