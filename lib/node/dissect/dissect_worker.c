// SPDX-License-Identifier: Apache-2.0
#include "dissect/dissect_worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "entry/json_alloc.h"
#include "net/packet.h"

/*
 * The queue is one byte ring: records [struct rec | frame], 8-byte aligned, written at head
 * by the producer and read in place at tail by the worker. Positions grow without wrapping
 * (uint64_t); pos % size is the offset. A record never straddles the end: when it would, the
 * producer writes a WRAP marker and starts again at offset 0.
 */
#define REC_WRAP 0xffffffffu
/* A record's linktype for a stream chunk: struct stream_rec then the chunk's bytes. */
#define REC_STREAM (-1)
/* In a frame record's linktype: its payload was cut for a flow verdict (headers only). */
#define REC_CUT (1 << 30)

/* A byte_stream_chunk as queued: its pointers replaced by what they point at. */
struct stream_rec {
	uint64_t cookie, offset;
	uint8_t client_addr[16], server_addr[16];
	uint16_t client_port, server_port;
	uint32_t flags, pid;
	uint8_t from_client;
	char process[BYTE_STREAM_PROCESS_MAX];
	uint8_t pad[3];
};

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
	uint8_t *buf;        /* mapped (page-aligned, untouched pages not resident) */
	size_t size;
	size_t map_len;      /* size rounded up to pages */
	size_t page;         /* the system's page size */
	/* The producer's: the ring's pages from 0 to here may be resident (records reached
	 * them); all of it charged to cfg.budget (member budget_id) when there is one. Whole
	 * pages; records and wrap markers are written only below it. */
	size_t charged_end;
	int budget_id;
	/* The producer's: the last try_push was refused by the budget with the worker's tail
	 * here; wait_room then waits for the tail to move (room at the ring's start). */
	bool budget_blocked;
	uint64_t blocked_tail;
	/* The producer's last load of tail (see tail_fresh). */
	uint64_t tail_seen;
	/*
	 * Single producer, single consumer, no lock on the way of a frame: the producer writes a
	 * record and publishes head (release); the worker reads up to head (acquire), dissects in
	 * place and publishes tail (release). The mutex and the condition variables are only for
	 * sleeping: a side that goes to sleep sets its flag under the lock, then looks again; the
	 * other side, after publishing, takes the lock to signal only when that flag is set.
	 */
	_Atomic uint64_t head, tail;
	atomic_bool worker_asleep, producer_asleep;
	pthread_mutex_t lock;
	pthread_cond_t more; /* head moved, tick or stop: for the worker */
	pthread_cond_t room; /* tail moved: for a producer waiting for room */
	bool stop;           /* under lock */
	bool tick_wanted;    /* under lock: dissect_worker_tick() was called */
	struct dissect_worker_stats st; /* the producer's (its undecoded unused: the next one) */
	/* the worker's count of undecoded frames, for dissect_worker_get_stats on the producer's
	 * thread (one writer: a relaxed load and store, no read-modify-write) */
	_Atomic uint64_t undecoded;
	/*
	 * Flow verdicts (cfg.verdict_slots; flow_verdict.h). The worker's: the ring it writes,
	 * its own copy of which keys it has given (to count late cut packets), the index of the
	 * record being dissected (records are numbered as the producer counts pushed) and its
	 * counters (one writer each: relaxed loads and stores). The producer's: the table, the
	 * newest packet time pushed.
	 */
	struct flow_verdict_ring *vring;
	uint64_t *vmirror;
	uint64_t rec_done;
	_Atomic uint64_t v_sets, v_clears, v_late;
	struct flow_verdict_table vtable;
	uint64_t last_ts;
};

/* One writer: a relaxed load and store, no read-modify-write. */
static void count_own(_Atomic uint64_t *n)
{
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void dissect_stream_rec(struct dissect_worker *w, const struct rec *r)
{
	const struct stream_rec *sr = (const struct stream_rec *)(r + 1);
	struct byte_stream_chunk c = {
	    .cookie = sr->cookie,
	    .client_port = sr->client_port,
	    .server_port = sr->server_port,
	    .from_client = sr->from_client,
	    .flags = sr->flags,
	    .offset = sr->offset,
	    .data = (const uint8_t *)(sr + 1),
	    .len = r->cap_len - sizeof(*sr),
	    .ts_ns = r->ts_ns,
	    .pid = sr->pid,
	    .process = sr->process[0] ? sr->process : NULL,
	};

	memcpy(c.client_addr, sr->client_addr, 16);
	memcpy(c.server_addr, sr->server_addr, 16);
	dissect_engine_stream(w->eng, &c);
}

static void wake_producer(struct dissect_worker *w)
{
	if (atomic_load(&w->producer_asleep)) {
		pthread_mutex_lock(&w->lock);
		pthread_cond_signal(&w->room);
		pthread_mutex_unlock(&w->lock);
	}
}

/* ---- flow verdicts (flow_verdict.h) ---- */

static uint64_t packet_key(const struct packet *p)
{
	return flow_verdict_key(p->src, p->sport, p->dst, p->dport);
}

/* The engine's verdict, on the worker thread, while record rec_done is dissected. */
static void on_verdict(void *ctx, const struct tcp_flow_info *info, bool undissected)
{
	struct dissect_worker *w = ctx;
	uint64_t key = flow_verdict_key(info->client.addr, info->client.port, info->server.addr,
					info->server.port);
	uint64_t *m = &w->vmirror[key & w->vtable.mask];

	if (undissected) {
		*m = key;
		count_own(&w->v_sets);
	} else {
		if (*m == key)
			*m = 0;
		count_own(&w->v_clears);
	}
	flow_verdict_ring_put(w->vring, key, undissected, w->rec_done);
}

/* A cut packet whose flow the worker no longer holds as given up came too late. */
static void check_cut(struct dissect_worker *w, const struct packet *p)
{
	uint64_t key = packet_key(p);

	if (w->vmirror[key & w->vtable.mask] != key)
		count_own(&w->v_late);
}

/*
 * The producer: the length to queue of a frame about to be record w->st.pushed, cap_len or
 * its headers only (a TCP segment of a flow with a verdict).
 */
static uint32_t verdict_cap(struct dissect_worker *w, int linktype, const uint8_t *frame,
			    uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns)
{
	struct packet p;
	uint32_t hdr;

	if (ts_ns > w->last_ts)
		w->last_ts = ts_ns;
	flow_verdict_table_update(&w->vtable, w->vring, w->last_ts);
	if (packet_decode(linktype, frame, cap_len, wire_len, ts_ns, &p) ||
	    p.l4_proto != IPPROTO_TCP || !(p.flags & PACKET_F_L4) ||
	    (p.flags & (PACKET_F_FRAGMENT | PACKET_F_L4_SNAPPED)))
		return cap_len;
	if (!flow_verdict_table_cut(&w->vtable, packet_key(&p), p.tcp_flags & TCP_F_SYN,
				    w->st.pushed, ts_ns) ||
	    !p.payload_caplen)
		return cap_len;
	hdr = (uint32_t)(p.payload - frame);
	return hdr < cap_len ? hdr : cap_len;
}

/*
 * The worker publishes tail at least every this many bytes of records within a range (an
 * eighth of the ring if that is less), not only at the range's end: a producer waiting for
 * room gets it as the records are dissected. Published once per range, a backlog that had
 * filled the ring (8 MiB: thousands of entries' frames) freed nothing until the last of it
 * was dissected, while the drain waited out its budget and then skipped frames.
 */
#define PUBLISH_STEP (64u << 10)

static void dissect_range(struct dissect_worker *w, uint64_t from, uint64_t to)
{
	uint64_t step = w->size / 8 < PUBLISH_STEP ? w->size / 8 : PUBLISH_STEP;
	uint64_t published = from;

	while (from < to) {
		size_t off = from % w->size;
		const struct rec *r = (const struct rec *)(w->buf + off);
		struct packet p;

		if (from - published >= step) {
			atomic_store(&w->tail, from); /* seq_cst: see worker_main */
			wake_producer(w);
			published = from;
		}
		if (r->len == REC_WRAP) {
			from += w->size - off;
			continue;
		}
		if (r->linktype == REC_STREAM) {
			dissect_stream_rec(w, r);
			w->rec_done++;
			from += r->len;
			continue;
		}
		if (packet_decode(r->linktype & ~REC_CUT, (const uint8_t *)(r + 1), r->cap_len,
				  r->wire_len, r->ts_ns, &p) == 0) {
			if (r->linktype & REC_CUT)
				check_cut(w, &p);
			dissect_engine_packet(w->eng, &p);
		} else {
			count_own(&w->undecoded);
		}
		w->rec_done++;
		from += r->len;
	}
}

static void tick(struct dissect_worker *w)
{
	dissect_engine_expire(w->eng, now_ns(CLOCK_REALTIME));
	if (w->cfg.tick)
		w->cfg.tick(w->cfg.tick_ctx);
}

/* Under w->lock: nothing to do now. */
static bool idle_locked(struct dissect_worker *w, uint64_t tail)
{
	return !w->stop && !w->tick_wanted && atomic_load(&w->head) == tail;
}

static void *worker_main(void *arg)
{
	struct dissect_worker *w = arg;
	uint64_t next_tick = now_ns(CLOCK_MONOTONIC) + w->cfg.tick_ns;
	uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);

	for (;;) {
		uint64_t head = atomic_load_explicit(&w->head, memory_order_acquire);
		bool stop, tick_now;

		if (head == tail) {
			pthread_mutex_lock(&w->lock);
			atomic_store(&w->worker_asleep, true); /* then look again: see the header */
			while (idle_locked(w, tail)) {
				if (w->cfg.tick_on_request) {
					pthread_cond_wait(&w->more, &w->lock);
				} else if (now_ns(CLOCK_MONOTONIC) < next_tick) {
					/* The condition variable uses CLOCK_MONOTONIC (see start). */
					struct timespec until = {
					    .tv_sec = (time_t)(next_tick / 1000000000u),
					    .tv_nsec = (long)(next_tick % 1000000000u)};

					pthread_cond_timedwait(&w->more, &w->lock, &until);
				} else {
					break;
				}
			}
			atomic_store(&w->worker_asleep, false);
			pthread_mutex_unlock(&w->lock);
			head = atomic_load_explicit(&w->head, memory_order_acquire);
		}
		pthread_mutex_lock(&w->lock);
		stop = w->stop;
		tick_now = w->tick_wanted;
		w->tick_wanted = false;
		pthread_mutex_unlock(&w->lock);
		/* Frames published before a tick or stop was asked for come before it. */
		if (tick_now || stop)
			head = atomic_load_explicit(&w->head, memory_order_acquire);
		dissect_range(w, tail, head);
		tail = head;
		atomic_store(&w->tail, tail); /* seq_cst: before the look at producer_asleep */
		wake_producer(w);
		if (tick_now) {
			tick(w);
		} else if (!w->cfg.tick_on_request && now_ns(CLOCK_MONOTONIC) >= next_tick) {
			tick(w);
			next_tick = now_ns(CLOCK_MONOTONIC) + w->cfg.tick_ns;
		}
		if (stop && atomic_load_explicit(&w->head, memory_order_acquire) == tail)
			break;
	}
	dissect_engine_finish(w->eng);
	if (w->cfg.tick)
		w->cfg.tick(w->cfg.tick_ctx);
	json_alloc_release(); /* this thread's cache of jansson blocks, if installed */
	return NULL;
}

/* The verdicts' memory, and the engine's verdicts to on_verdict. */
static int verdict_start(struct dissect_worker *w)
{
	size_t ring = (sizeof(*w->vring) + 63) & ~(size_t)63;

	if (flow_verdict_table_init(&w->vtable, w->cfg.verdict_slots, w->cfg.verdict_idle_ns))
		return -ENOMEM;
	w->vring = aligned_alloc(64, ring);
	w->vmirror = calloc((size_t)w->vtable.mask + 1, sizeof(*w->vmirror));
	if (!w->vring || !w->vmirror) {
		free(w->vring);
		free(w->vmirror);
		flow_verdict_table_free(&w->vtable);
		return -ENOMEM;
	}
	memset(w->vring, 0, ring);
	dissect_engine_set_verdict(w->eng, on_verdict, w);
	return 0;
}

static void verdict_free(struct dissect_worker *w)
{
	if (!w->vring)
		return;
	dissect_engine_set_verdict(w->eng, NULL, NULL); /* the engine outlives the worker */
	free(w->vring);
	free(w->vmirror);
	flow_verdict_table_free(&w->vtable);
	w->vring = NULL;
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
	w->page = (size_t)sysconf(_SC_PAGESIZE);
	if (w->size < 4096)
		w->size = 4096;
	w->eng = eng;
	w->map_len = (w->size + w->page - 1) & ~(w->page - 1);
	if (w->cfg.budget) {
		ret = queue_budget_join(w->cfg.budget, "dissection",
					w->map_len < DISSECT_WORKER_BUDGET_FLOOR
					    ? w->map_len
					    : DISSECT_WORKER_BUDGET_FLOOR);
		if (ret < 0) {
			free(w);
			return ret;
		}
		w->budget_id = ret;
	}
	/* Mapped, not malloc'ed: the heap may hand back pages already resident, and the ring's
	 * resident part is what the budget is charged for. */
	w->buf = mmap(NULL, w->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->buf == MAP_FAILED) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->more, &ca);
	pthread_cond_init(&w->room, &ca);
	pthread_condattr_destroy(&ca);
	if (w->cfg.verdict_slots && verdict_start(w)) {
		pthread_cond_destroy(&w->more);
		pthread_cond_destroy(&w->room);
		pthread_mutex_destroy(&w->lock);
		munmap(w->buf, w->map_len);
		free(w);
		return -ENOMEM;
	}
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (!ret)
		pthread_setname_np(w->thread, "floe-dissect"); /* for top -H, perf */
	if (ret) {
		pthread_cond_destroy(&w->more);
		pthread_cond_destroy(&w->room);
		pthread_mutex_destroy(&w->lock);
		munmap(w->buf, w->map_len);
		verdict_free(w);
		free(w);
		return -ret;
	}
	*out = w;
	return 0;
}

static size_t rec_len(uint32_t cap_len)
{
	return (sizeof(struct rec) + cap_len + 7) & ~(size_t)7;
}

/* Bytes the next record takes at head (a wrap skips the end), or 0 if it can never fit. */
static uint64_t need_at(const struct dissect_worker *w, uint64_t head, size_t len)
{
	size_t room_end = w->size - head % w->size;

	if (len > w->size)
		return 0;
	return len <= room_end ? len : room_end + len;
}

/*
 * The producer loads tail again: the worker writes it as it goes, so each load missed the
 * cache (try_push, with two per record, was 1.4% of the live tap's CPU). Tail only grows:
 * room or a short queue seen with an older value is there, so the shared line is read only
 * when tail_seen says no.
 */
static uint64_t tail_fresh(struct dissect_worker *w)
{
	w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire);
	return w->tail_seen;
}

static bool has_room(struct dissect_worker *w, uint64_t head, size_t len)
{
	uint64_t need = need_at(w, head, len);

	if (!need)
		return false;
	return w->size - (head - w->tail_seen) >= need || w->size - (head - tail_fresh(w)) >= need;
}

/* Room for a record of len at the ring's start, the end from head skipped (a wrap). */
static bool has_room_wrapped(struct dissect_worker *w, uint64_t head, size_t len)
{
	uint64_t tail = atomic_load(&w->tail);

	return w->size - (head - tail) >= (w->size - head % w->size) + len;
}

/* Bytes past a record that stay writable within charged_end: a wrap marker after it. */
#define REC_TAIL 8u

/*
 * The ring's pages up to end (rounded up to a page) charged, if they are not yet: false when
 * the budget refuses them (counted there). Without a budget, only the bookkeeping.
 */
static bool charge_to(struct dissect_worker *w, size_t end)
{
	size_t to;

	if (end <= w->charged_end)
		return true;
	to = (end + w->page - 1) & ~(w->page - 1);
	if (to > w->map_len)
		to = w->map_len;
	if (!queue_budget_charge(w->cfg.budget, w->budget_id, to - w->charged_end))
		return false;
	w->charged_end = to;
	return true;
}

static void wake_worker(struct dissect_worker *w)
{
	/* Head was published with a release store: the fence orders it before the look at
	 * worker_asleep (the worker sets the flag, then looks at head; see the header). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&w->worker_asleep)) {
		pthread_mutex_lock(&w->lock);
		pthread_cond_signal(&w->more);
		pthread_mutex_unlock(&w->lock);
	}
}

/*
 * Whether the record at head goes to the ring's start though it fits where it is: when the
 * queue is short and head a quarter of the way in. The pages in use are then those the deepest
 * backlog needed, not the whole ring (the ring's writes swept all 8 MiB of it into the live
 * tap's resident memory, with backlogs of a few hundred KiB; docs/storage.md). The end skipped
 * is taken as an ordinary wrap takes it (the marker, counted as used until the worker passes
 * it), so the room needed is the wrap's; with at most an eighth of the ring waiting, at least
 * an eighth of it is free at once.
 */
static bool wrap_early(struct dissect_worker *w, uint64_t head, size_t len)
{
	size_t off = head % w->size;
	uint64_t waiting;

	if (off < w->size / 4)
		return false;
	waiting = head - w->tail_seen;
	if (waiting <= w->size / 8 && w->size - waiting >= (w->size - off) + len)
		return true;
	waiting = head - tail_fresh(w);
	return waiting <= w->size / 8 && w->size - waiting >= (w->size - off) + len;
}

/*
 * At an early wrap (the marker just written at off): the ring past the marker's page is free
 * this lap (the worker has passed it in the last one and jumps at the marker; the producer
 * writes there only in the next lap), so the pages a deeper backlog once made resident there
 * go back to the system. Without this, one excursion (a burst at the start, 10,000
 * connections opening) kept the whole ring resident for the rest of the run.
 */
static void release_end(struct dissect_worker *w, size_t off)
{
	size_t keep = (off + REC_TAIL + w->page - 1) & ~(w->page - 1); /* the marker's pages */

	if (keep >= w->charged_end)
		return;
	if (madvise(w->buf + keep, w->charged_end - keep, MADV_DONTNEED) == 0) {
		w->st.queue_released += w->charged_end - keep;
		queue_budget_release(w->cfg.budget, w->budget_id, w->charged_end - keep);
		w->charged_end = keep;
	}
}

static int budget_refused(struct dissect_worker *w)
{
	w->budget_blocked = true;
	w->blocked_tail = atomic_load(&w->tail);
	return -ENOBUFS;
}

/* Queue the record if there is room now; counts nothing but pushed and the peak. */
static int try_push(struct dissect_worker *w, int linktype, const void *head_part,
		    uint32_t head_len, const uint8_t *frame, uint32_t frame_len, uint32_t wire_len,
		    uint64_t ts_ns)
{
	uint32_t cap_len = head_len + frame_len;
	uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
	size_t len = rec_len(cap_len), off = head % w->size;
	struct rec *r;
	bool wrap, early = false;

	w->budget_blocked = false;
	if (!has_room(w, head, len))
		return -ENOBUFS;
	wrap = len > w->size - off;
	if (!wrap && wrap_early(w, head, len))
		wrap = early = true;
	/* The budget refuses the pages this record would reach: go round within the pages
	 * held, when the worker has left room at the start (else the queue is full). */
	if (!wrap && !charge_to(w, off + len + REC_TAIL)) {
		if (!off || !has_room_wrapped(w, head, len))
			return budget_refused(w);
		wrap = true;
	}
	if (wrap) {
		if (!charge_to(w, len + REC_TAIL))
			return budget_refused(w);
		((struct rec *)(w->buf + off))->len = REC_WRAP; /* below charged_end: REC_TAIL */
		if (early)
			release_end(w, off);
		head += w->size - off;
		off = 0;
	}
	r = (struct rec *)(w->buf + off);
	r->len = (uint32_t)len;
	r->linktype = linktype;
	r->cap_len = cap_len;
	r->wire_len = wire_len;
	r->ts_ns = ts_ns;
	if (head_len)
		memcpy(r + 1, head_part, head_len);
	if (frame_len)
		memcpy((uint8_t *)(r + 1) + head_len, frame, frame_len);
	head += len;
	if (off + len > w->st.queue_touched)
		w->st.queue_touched = off + len;
	/* Release: batched, the look at worker_asleep is at the batch's end (wake_worker's
	 * fence); a seq_cst store per record cost a locked instruction each. */
	atomic_store_explicit(&w->head, head, memory_order_release);
	w->st.pushed++;
	/* The depth with tail_seen is at least the true one: only when it beats the peak is
	 * the true one needed. */
	if (head - w->tail_seen > w->st.queue_peak && head - tail_fresh(w) > w->st.queue_peak)
		w->st.queue_peak = head - w->tail_seen;
	if (!w->cfg.batched) /* else dissect_worker_kick() at the batch's end */
		wake_worker(w);
	return 0;
}

/* Wait up to timeout_ns for room for a cap_len frame; true if there is room. */
static bool wait_room(struct dissect_worker *w, uint32_t cap_len, uint64_t timeout_ns)
{
	uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
	uint64_t until_ns = now_ns(CLOCK_MONOTONIC) + timeout_ns;
	struct timespec until = {.tv_sec = (time_t)(until_ns / 1000000000u),
				 .tv_nsec = (long)(until_ns % 1000000000u)};
	size_t len = rec_len(cap_len);
	bool ok;

	if (!need_at(w, head, len))
		return false;
	wake_worker(w); /* batched: it may sleep on a batch not kicked yet */
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->producer_asleep, true); /* then look again: see the header */
	while (!(ok = w->budget_blocked ? atomic_load(&w->tail) != w->blocked_tail
					: has_room(w, head, len)) &&
	       now_ns(CLOCK_MONOTONIC) < until_ns)
		pthread_cond_timedwait(&w->room, &w->lock, &until);
	atomic_store(&w->producer_asleep, false);
	pthread_mutex_unlock(&w->lock);
	return ok;
}

static bool never_wait(void *ctx)
{
	return false;
}

/* try_push, waiting for room as long as may_wait says so (dissect_worker_push_wait). */
static int push_wait(struct dissect_worker *w, int linktype, const void *head_part,
		     uint32_t head_len, const uint8_t *frame, uint32_t frame_len, uint32_t wire_len,
		     uint64_t ts_ns, bool (*may_wait)(void *ctx), void *ctx)
{
	uint32_t cap_len = head_len + frame_len;
	uint64_t t0 = 0;
	int ret;

	while ((ret = try_push(w, linktype, head_part, head_len, frame, frame_len, wire_len,
			       ts_ns)) == -ENOBUFS) {
		if (!need_at(w, 0, rec_len(cap_len))) { /* never fits: waiting would not help */
			w->st.dropped++;
			break;
		}
		if (!may_wait(ctx)) {
			w->st.dropped++;
			break;
		}
		if (!t0) {
			t0 = now_ns(CLOCK_MONOTONIC);
			w->st.waits++;
		}
		wait_room(w, cap_len, DISSECT_WORKER_WAIT_SLICE_NS);
	}
	if (t0)
		w->st.wait_ns += now_ns(CLOCK_MONOTONIC) - t0;
	return ret;
}

/* A frame's record: cut to its headers when its flow has a verdict (cfg.verdict_slots). */
static int push_frame(struct dissect_worker *w, int linktype, const uint8_t *frame,
		      uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns,
		      bool (*may_wait)(void *ctx), void *ctx)
{
	uint32_t len =
	    w->vring ? verdict_cap(w, linktype, frame, cap_len, wire_len, ts_ns) : cap_len;
	int ret;

	ret = push_wait(w, len < cap_len ? linktype | REC_CUT : linktype, NULL, 0, frame, len,
			wire_len, ts_ns, may_wait, ctx);
	if (!ret && len < cap_len) {
		w->st.verdict_cut_packets++;
		w->st.verdict_cut_bytes += cap_len - len;
	}
	return ret;
}

int dissect_worker_push(struct dissect_worker *w, int linktype, const uint8_t *frame,
			uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns)
{
	return push_frame(w, linktype, frame, cap_len, wire_len, ts_ns, never_wait, NULL);
}

int dissect_worker_push_wait(struct dissect_worker *w, int linktype, const uint8_t *frame,
			     uint32_t cap_len, uint32_t wire_len, uint64_t ts_ns,
			     bool (*may_wait)(void *ctx), void *ctx)
{
	return push_frame(w, linktype, frame, cap_len, wire_len, ts_ns, may_wait, ctx);
}

int dissect_worker_push_stream(struct dissect_worker *w, const struct byte_stream_chunk *c,
			       bool (*may_wait)(void *ctx), void *ctx)
{
	struct stream_rec sr = {
	    .cookie = c->cookie,
	    .offset = c->offset,
	    .client_port = c->client_port,
	    .server_port = c->server_port,
	    .flags = c->flags,
	    .pid = c->pid,
	    .from_client = c->from_client,
	};

	if (c->len > UINT32_MAX - sizeof(sr) - 64)
		return -EMSGSIZE;
	memcpy(sr.client_addr, c->client_addr, 16);
	memcpy(sr.server_addr, c->server_addr, 16);
	if (c->process)
		snprintf(sr.process, sizeof(sr.process), "%s", c->process);
	return push_wait(w, REC_STREAM, &sr, sizeof(sr), c->data, (uint32_t)c->len,
			 (uint32_t)c->len, c->ts_ns, may_wait ? may_wait : never_wait, ctx);
}

void dissect_worker_kick(struct dissect_worker *w)
{
	wake_worker(w);
}

void dissect_worker_tick(struct dissect_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->tick_wanted = true;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
}

/* CLOCK_MONOTONIC in ns from now, for pthread_clockjoin_np (a clock jump changes nothing). */
static struct timespec monotonic_after(uint64_t ns)
{
	uint64_t t = now_ns(CLOCK_MONOTONIC) + ns;

	return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
				 .tv_nsec = (long)(t % 1000000000u)};
}

/*
 * Join the thread; past cfg.stop_timeout_ns, interrupt whatever it is blocked in (its output,
 * a pipe nobody reads) until it finishes, so that stopping never hangs on a stuck reader.
 */
static void join_bounded(struct dissect_worker *w)
{
	struct timespec until;

	if (!w->cfg.stop_timeout_ns || !w->cfg.interrupt_signo) {
		pthread_join(w->thread, NULL);
		return;
	}
	until = monotonic_after(w->cfg.stop_timeout_ns);
	while (pthread_clockjoin_np(w->thread, NULL, CLOCK_MONOTONIC, &until) == ETIMEDOUT) {
		pthread_kill(w->thread, w->cfg.interrupt_signo);
		w->st.interrupts++;
		until = monotonic_after(DISSECT_WORKER_INTERRUPT_NS);
	}
}

void dissect_worker_get_stats(const struct dissect_worker *w, struct dissect_worker_stats *st)
{
	*st = w->st;
	st->queue_charged = w->charged_end;
	st->undecoded = atomic_load_explicit(&w->undecoded, memory_order_relaxed);
	st->verdict_refused = w->vtable.refused;
	st->verdict_expired = w->vtable.expired;
	st->verdict_flushes = w->vtable.flushes;
	st->verdict_sets = atomic_load_explicit(&w->v_sets, memory_order_relaxed);
	st->verdict_clears = atomic_load_explicit(&w->v_clears, memory_order_relaxed);
	st->verdict_late = atomic_load_explicit(&w->v_late, memory_order_relaxed);
}

void dissect_worker_stop(struct dissect_worker *w, struct dissect_worker_stats *stats)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	join_bounded(w);
	if (stats)
		dissect_worker_get_stats(w, stats);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->room);
	pthread_mutex_destroy(&w->lock);
	munmap(w->buf, w->map_len);
	queue_budget_release(w->cfg.budget, w->budget_id, w->charged_end);
	verdict_free(w);
	free(w);
}
