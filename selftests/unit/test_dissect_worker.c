// SPDX-License-Identifier: Apache-2.0
/*
 * dissect_worker: frames pushed through the queue to the dissection thread give the same
 * entries as `floe read` of the same capture (read_file_run, the synchronous path); a queue
 * too small drops whole frames, counted, never corrupts them; stop drains what is queued;
 * push_wait waits for room while it may (nothing lost) and drops, counted, when it may not;
 * stop is bounded when asked to be, even with the thread blocked in a write nobody reads.
 * Captures: ../shared/captures (FLOE_CAPTURES), skipped when absent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "dissect/dissect_worker.h"
#include "source/byte_source.h"
#include "entry/entry_json.h"
#include "tap/read_file.h"
#include "test_gate.h"
#include "test_sink.h"

static const char *captures_dir(void)
{
	const char *d = getenv("FLOE_CAPTURES");

	return d && *d ? d : "../shared/captures";
}

/* Push every frame of path through a worker with a queue of queue_bytes. */
static void run_worker(const char *path, size_t queue_bytes, struct sink *s,
		       struct dissect_worker_stats *ws, unsigned *frames)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
	/* No expiry by the wall clock during the test: the captures' times are years old. */
	struct dissect_worker_config wc = {.queue_bytes = queue_bytes, .tick_ns = 3600e9};
	struct dissect_config dc = {0};
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct pcap_pkthdr *h;
	const u_char *d;

	assert_non_null(p);
	dc.tcp.expire_on_packets = true;
	assert_int_equal(dissect_engine_create(&dc, collect, s, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	*frames = 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;

		dissect_worker_push(w, pcap_datalink(p), d, h->caplen, h->len, ts);
		(*frames)++;
	}
	dissect_worker_stop(w, ws);
	dissect_engine_destroy(eng);
	pcap_close(p);
}

static void same_as_read(const char *rel)
{
	char path[1024], err[256];
	struct sink want = {0}, got = {0};
	struct read_file_stats rs;
	struct dissect_worker_stats ws;
	unsigned frames;

	snprintf(path, sizeof(path), "%s/%s", captures_dir(), rel);
	if (access(path, R_OK)) {
		print_message("skipped: %s not found\n", path);
		skip(); /* counted as skipped, not passed */
	}
	assert_int_equal(read_file_run(path, NULL, collect, &want, &rs, err, sizeof(err)), 0);
	run_worker(path, 0, &got, &ws, &frames);
	assert_true(want.n > 0);
	assert_int_equal(ws.pushed, frames);
	assert_int_equal(ws.dropped, 0);
	assert_int_equal(got.n, want.n);
	assert_int_equal(got.text.len, want.text.len);
	assert_memory_equal(got.text.p, want.text.p, want.text.len);
	entry_json_buf_free(&want.text);
	entry_json_buf_free(&got.text);
}

static void test_same_entries_as_read(void **state)
{
	(void)state;
	same_as_read("http1/pipelined-requests.pcap");
	same_as_read("http2/dns_over_https_POST.pcap");
	same_as_read("grpc/bidi-streaming.pcapng");
}

static void test_small_queue_drops_whole_frames(void **state)
{
	char path[1024];
	struct sink got = {0};
	struct dissect_worker_stats ws;
	unsigned frames;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", captures_dir(), "redis/pubsub-resp3.pcap");
	if (access(path, R_OK)) {
		print_message("skipped: %s not found\n", path);
		skip(); /* counted as skipped, not passed */
	}
	/* 4 KiB: most of this capture's frames (up to 64 KB) cannot even fit. */
	run_worker(path, 4096, &got, &ws, &frames);
	assert_true(ws.dropped > 0);
	assert_int_equal(ws.pushed + ws.dropped, frames);
	assert_true(ws.queue_peak <= 4096);
	/* What was dissected was whole frames: nothing undecodable. */
	assert_int_equal(ws.undecoded, 0);
	entry_json_buf_free(&got.text);
}

static void test_stop_without_frames(void **state)
{
	struct dissect_worker_config wc = {0};
	struct dissect_config dc = {0};
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct dissect_worker_stats ws;
	struct sink s = {0};

	(void)state;
	assert_int_equal(dissect_engine_create(&dc, collect, &s, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, 0);
	assert_int_equal(ws.dropped, 0);
	assert_int_equal(s.n, 0);
	dissect_engine_destroy(eng);
	dissect_worker_stop(NULL, NULL); /* a no-op */
}

/* tick_on_request: no tick by the worker's own clock, one per dissect_worker_tick(). */
struct ticks {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned n;
};

static void count_tick(void *ctx)
{
	struct ticks *t = ctx;

	pthread_mutex_lock(&t->lock);
	t->n++;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->lock);
}

/* Wait up to ms for at least want ticks; returns the count. */
static unsigned wait_ticks(struct ticks *t, unsigned want, unsigned ms)
{
	struct timespec until;
	unsigned n;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&t->lock);
	while (t->n < want && pthread_cond_timedwait(&t->cv, &t->lock, &until) == 0)
		;
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void test_tick_on_request(void **state)
{
	struct ticks t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	/* tick_ns short: were it used, the worker would tick by itself at once */
	struct dissect_worker_config wc = {
	    .tick_ns = 1000000, .tick_on_request = true, .tick = count_tick, .tick_ctx = &t};
	struct dissect_config dc = {0};
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct sink s = {0};

	(void)state;
	assert_int_equal(dissect_engine_create(&dc, collect, &s, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	assert_int_equal(wait_ticks(&t, 1, 300), 0);
	dissect_worker_tick(w);
	assert_int_equal(wait_ticks(&t, 1, 2000), 1);
	dissect_worker_tick(w);
	assert_int_equal(wait_ticks(&t, 2, 2000), 2);
	assert_int_equal(wait_ticks(&t, 3, 100), 2); /* nothing more by itself */
	dissect_worker_stop(w, NULL);
	assert_int_equal(t.n, 3); /* stop ticks once more, after finishing the engine */
	dissect_engine_destroy(eng);
}

/*
 * push_wait: the worker is held in a tick (a gate) until the producer finds the queue full and
 * asks may_wait(); then the gate opens. So the full queue is certain, not a race.
 */
static bool gate_may_wait(void *ctx)
{
	struct gate *g = ctx;

	g->asked++;
	gate_open(g);
	return g->answer;
}

/* Start a worker with queue_bytes and hold it in the gate. */
static struct dissect_worker *gated_worker(struct gate *g, size_t queue_bytes, struct sink *s,
					   struct dissect_engine **eng)
{
	struct dissect_worker_config wc = {.queue_bytes = queue_bytes,
					   .tick_on_request = true,
					   .tick = gate_tick,
					   .tick_ctx = g};
	struct dissect_config dc = {0};
	struct dissect_worker *w;

	dc.tcp.expire_on_packets = true;
	assert_int_equal(dissect_engine_create(&dc, collect, s, eng), 0);
	assert_int_equal(dissect_worker_start(&wc, *eng, &w), 0);
	dissect_worker_tick(w);
	gate_wait_held(g);
	return w;
}

/* A queue far smaller than the capture, and a producer that may wait: every frame is
 * dissected, the entries are those of `floe read`, nothing is dropped. */
static void test_push_wait_loses_nothing(void **state)
{
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
			 .answer = true};
	char path[1024], err[256], eb[PCAP_ERRBUF_SIZE];
	struct sink want = {0}, got = {0};
	struct read_file_stats rs;
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned frames = 0;
	pcap_t *p;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", captures_dir(), "http1/pipelined-requests.pcap");
	if (access(path, R_OK)) {
		print_message("skipped: %s not found\n", path);
		skip(); /* counted as skipped, not passed */
	}
	assert_int_equal(read_file_run(path, NULL, collect, &want, &rs, err, sizeof(err)), 0);
	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
	assert_non_null(p);
	w = gated_worker(&g, 8192, &got, &eng);
	while (pcap_next_ex(p, &h, &d) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;

		assert_int_equal(dissect_worker_push_wait(w, pcap_datalink(p), d, h->caplen, h->len,
							  ts, gate_may_wait, &g),
				 0);
		frames++;
	}
	gate_open(&g); /* in case the queue never filled: then the assertions below fail */
	dissect_worker_stop(w, &ws);
	assert_true(g.asked >= 1);
	assert_true(ws.waits >= 1);
	assert_int_equal(ws.dropped, 0);
	assert_int_equal(ws.pushed, frames);
	assert_true(ws.queue_peak <= 8192);
	assert_int_equal(got.n, want.n);
	assert_int_equal(got.text.len, want.text.len);
	assert_memory_equal(got.text.p, want.text.p, want.text.len);
	dissect_engine_destroy(eng);
	pcap_close(p);
	entry_json_buf_free(&want.text);
	entry_json_buf_free(&got.text);
}

/* A tick that holds the worker: the n-th tick returns once allowed >= n. */
struct tick_turns {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned ticks, allowed;
};

static void turn_tick(void *ctx)
{
	struct tick_turns *t = ctx;

	pthread_mutex_lock(&t->lock);
	t->ticks++;
	pthread_cond_broadcast(&t->cv);
	while (t->allowed < t->ticks)
		pthread_cond_wait(&t->cv, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

/* Let the held tick go, ask for the next one and wait until the worker is held in it: every
 * frame queued before is dissected and its tail published by then. */
static void turn_next(struct dissect_worker *w, struct tick_turns *t)
{
	pthread_mutex_lock(&t->lock);
	t->allowed = t->ticks;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->lock);
	dissect_worker_tick(w);
	pthread_mutex_lock(&t->lock);
	while (t->ticks <= t->allowed)
		pthread_cond_wait(&t->cv, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

/*
 * queue_peak is the true deepest queue, though the producer reads the worker's tail only when
 * its older view of it says the queue may be deeper than the peak: a first backlog of 40
 * frames, dissected, then one of 10 (the old view of tail would make it 50).
 */
static void test_queue_peak_exact(void **state)
{
	struct tick_turns t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct dissect_worker_config wc = {
	    .queue_bytes = 64 << 10, .tick_on_request = true, .tick = turn_tick, .tick_ctx = &t};
	struct dissect_config dc = {0};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct sink got = {0};
	uint8_t frame[100] = {0};
	uint64_t rec;

	(void)state;
	assert_int_equal(dissect_engine_create(&dc, collect, &got, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	turn_next(w, &t); /* held in tick 1 */
	assert_int_equal(dissect_worker_push(w, 1, frame, sizeof(frame), sizeof(frame), 1), 0);
	dissect_worker_get_stats(w, &ws);
	rec = ws.queue_peak; /* one record */
	assert_true(rec >= sizeof(frame));
	for (int i = 1; i < 40; i++)
		assert_int_equal(dissect_worker_push(w, 1, frame, sizeof(frame), sizeof(frame), 1),
				 0);
	dissect_worker_get_stats(w, &ws);
	assert_int_equal(ws.queue_peak, 40 * rec);
	turn_next(w, &t); /* the 40 dissected, held in tick 2 */
	for (int i = 0; i < 10; i++)
		assert_int_equal(dissect_worker_push(w, 1, frame, sizeof(frame), sizeof(frame), 1),
				 0);
	dissect_worker_get_stats(w, &ws);
	assert_int_equal(ws.queue_peak, 40 * rec);
	pthread_mutex_lock(&t.lock);
	t.allowed = UINT32_MAX;
	pthread_cond_broadcast(&t.cv);
	pthread_mutex_unlock(&t.lock);
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, 50);
	assert_int_equal(ws.dropped, 0);
	dissect_engine_destroy(eng);
	entry_json_buf_free(&got.text);
}

/* may_wait says no: the frame is dropped at once and counted; a frame that can never fit is
 * dropped without asking. */
static void test_push_wait_gives_up(void **state)
{
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
			 .answer = false};
	static uint8_t frame[1000], big[8192];
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct sink s = {0};
	unsigned pushed = 0;
	int ret;

	(void)state;
	w = gated_worker(&g, 4096, &s, &eng);
	assert_int_equal(dissect_worker_push_wait(w, 1, big, sizeof(big), sizeof(big), 1,
						  gate_may_wait, &g),
			 -ENOBUFS);
	assert_int_equal(g.asked, 0); /* never fits: nobody is asked to wait */
	/* The gate stays shut until may_wait is asked: the queue fills for sure. */
	while ((ret = dissect_worker_push_wait(w, 1, frame, sizeof(frame), sizeof(frame), 1,
					       gate_may_wait, &g)) == 0)
		pushed++;
	assert_int_equal(ret, -ENOBUFS);
	assert_int_equal(g.asked, 1);
	assert_true(pushed >= 1 && pushed <= 4);
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, pushed);
	assert_int_equal(ws.dropped, 2);
	assert_int_equal(ws.waits, 0); /* asked, told no: no wait */
	/* The frames that went in were dissected (as undecodable bytes: they are zeros). */
	assert_int_equal(ws.undecoded, pushed);
	dissect_engine_destroy(eng);
}

static bool always(void *ctx)
{
	(void)ctx;
	return true;
}

/* An engine with its worker (wc), entries to s. */
static struct dissect_worker *start_worker(const struct dissect_worker_config *wc, struct sink *s,
					   struct dissect_engine **eng)
{
	struct dissect_config dc = {0};
	struct dissect_worker *w;

	assert_int_equal(dissect_engine_create(&dc, collect, s, eng), 0);
	assert_int_equal(dissect_worker_start(wc, *eng, &w), 0);
	return w;
}

/* Many frames of varied sizes through a queue that holds a few: producer and worker keep
 * overtaking each other (wraps, sleeps, wake-ups); every frame arrives once, whole. */
static void test_push_wait_stress(void **state)
{
	struct dissect_worker_config wc = {.queue_bytes = 4096, .tick_on_request = true};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	static uint8_t zeros[700];
	struct sink s = {0};
	const unsigned n = 100000;

	struct dissect_worker *w = start_worker(&wc, &s, &eng);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		/* 1..700 bytes of zeros: undecodable, so each frame is counted once as such */
		uint32_t len = 1 + (i * 7919u) % sizeof(zeros);

		assert_int_equal(dissect_worker_push_wait(w, 1, zeros, len, len, i, always, NULL), 0);
	}
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, n);
	assert_int_equal(ws.dropped, 0);
	assert_int_equal(ws.undecoded, n);
	assert_true(ws.queue_peak <= 4096);
	assert_int_equal(s.n, 0);
	dissect_engine_destroy(eng);
}

/* Batched as the tap runs it: a kick after every batch of 1..64 pushes; a batch larger than
 * the queue must wake the sleeping worker itself (else push_wait would wait for ever). */
static void test_batched_stress(void **state)
{
	struct dissect_worker_config wc = {
	    .queue_bytes = 4096, .tick_on_request = true, .batched = true};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	static uint8_t zeros[700];
	struct sink s = {0};
	const unsigned n = 100000;

	struct dissect_worker *w = start_worker(&wc, &s, &eng);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = 1 + (i * 7919u) % sizeof(zeros);

		assert_int_equal(dissect_worker_push_wait(w, 1, zeros, len, len, i, always, NULL), 0);
		if (i % (1 + i % 64) == 0)
			dissect_worker_kick(w);
	}
	dissect_worker_kick(w);
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, n);
	assert_int_equal(ws.dropped, 0);
	assert_int_equal(ws.undecoded, n);
	assert_int_equal(s.n, 0);
	dissect_engine_destroy(eng);
}

/* A worker that keeps up: the queue is empty at every push, so the ring starts again at its
 * start once a quarter in, and only that part of it is ever written (resident). */
static void test_empty_queue_restarts(void **state)
{
	struct ticks t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct dissect_worker_config wc = {
	    .queue_bytes = 65536, .tick_on_request = true, .tick = count_tick, .tick_ctx = &t};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	static uint8_t zeros[700];
	struct sink s = {0};
	const unsigned n = 2000; /* 1.4 MB through a 64 KiB ring: twenty turns */

	struct dissect_worker *w = start_worker(&wc, &s, &eng);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(dissect_worker_push(w, 1, zeros, sizeof(zeros), sizeof(zeros), i),
				 0);
		/* A tick comes after the frames pushed before it was asked for, and after the
		 * worker has given their bytes back: the queue is empty again. */
		dissect_worker_tick(w);
		assert_int_equal(wait_ticks(&t, i + 1, 10000), i + 1);
	}
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, n);
	assert_int_equal(ws.undecoded, n); /* zeros: each taken once, as undecodable */
	assert_int_equal(ws.dropped, 0);
	/* the record that crossed a quarter, and no further (its header 24 bytes, 8-aligned) */
	assert_true(ws.queue_touched <= 65536 / 4 + 728);
	assert_true(ws.queue_touched >= 65536 / 4);
	dissect_engine_destroy(eng);
}

/* A deep backlog (the worker held) writes far into the ring; once the worker keeps up again,
 * the first early wrap gives the pages past it back (madvise), and every frame still comes out
 * once. */
static void test_excursion_released(void **state)
{
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
			 .answer = true};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	struct dissect_worker *w;
	static uint8_t zeros[700];
	struct sink s = {0};
	unsigned pushed = 0;

	(void)state;
	w = gated_worker(&g, 65536, &s, &eng);
	/* held: 80 records of 728 bytes, 58 KB of the 64 KiB ring */
	for (; pushed < 80; pushed++)
		assert_int_equal(dissect_worker_push(w, 1, zeros, sizeof(zeros), sizeof(zeros), 1), 0);
	gate_open(&g);
	/* then one at a time, each taken before the next: at most one record waits */
	for (; pushed < 400; pushed++) {
		do {
			dissect_worker_get_stats(w, &ws);
		} while (ws.undecoded < pushed);
		assert_int_equal(dissect_worker_push(w, 1, zeros, sizeof(zeros), sizeof(zeros), 1), 0);
	}
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, pushed);
	assert_int_equal(ws.undecoded, pushed);
	assert_int_equal(ws.dropped, 0);
	assert_true(ws.queue_touched >= 80 * 728);
	/* the excursion's pages past the first early wrap (at 16 KiB and on) */
	assert_true(ws.queue_released >= 65536 - 16384 - 2 * 4096);
	dissect_engine_destroy(eng);
}

/* A tick that writes into a pipe nobody reads, as the tap's entries to a stuck reader. */
struct stuck_writer {
	int wfd;
	bool interrupted; /* a write returned EINTR */
};

static void write_until_blocked(void *ctx)
{
	struct stuck_writer *sw = ctx;
	static const char chunk[4096];

	/* Fills the pipe, then blocks in write(2) until a signal interrupts it. */
	for (;;) {
		if (write(sw->wfd, chunk, sizeof(chunk)) < 0) {
			sw->interrupted = errno == EINTR;
			return;
		}
	}
}

/* A sink that holds the worker in its hold_at-th entry until released. */
struct held_sink {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned n, hold_at;
	bool held, released;
};

static void held_collect(void *ctx, const struct entry *e)
{
	struct held_sink *h = ctx;

	(void)e;
	pthread_mutex_lock(&h->lock);
	if (++h->n == h->hold_at) {
		h->held = true;
		pthread_cond_broadcast(&h->cv);
		while (!h->released)
			pthread_cond_wait(&h->cv, &h->lock);
	}
	pthread_mutex_unlock(&h->lock);
}

/* One HTTP/1.1 chunk of connection 1 (10.0.0.1:40000 -> 10.0.0.2:80), queued without waiting. */
static int push_http(struct dissect_worker *w, bool from_client, uint64_t *offset,
		     const char *text, bool open)
{
	struct byte_stream_chunk c = {.cookie = 1,
				      .client_port = 40000,
				      .server_port = 80,
				      .from_client = from_client,
				      .flags = open ? BYTE_STREAM_OPEN : 0,
				      .offset = *offset,
				      .data = (const uint8_t *)text,
				      .len = strlen(text),
				      .ts_ns = 1000000000u};
	static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	int ret;

	memcpy(c.client_addr, v4, 12);
	memcpy(c.server_addr, v4, 12);
	memcpy(c.client_addr + 12, (uint8_t[]){10, 0, 0, 1}, 4);
	memcpy(c.server_addr + 12, (uint8_t[]){10, 0, 0, 2}, 4);
	ret = dissect_worker_push_stream(w, &c, NULL, NULL);
	if (!ret)
		*offset += c.len;
	return ret;
}

/*
 * The worker gives room back as it dissects, not only at the end of what it took at once: a
 * full queue taken in one go, the worker held in the middle of it (in an entry's sink), the
 * producer finds room for another record.
 */
static void test_room_within_a_range(void **state)
{
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct held_sink h = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct dissect_worker_config wc = {
	    .queue_bytes = 64 << 10, .tick_on_request = true, .tick = gate_tick, .tick_ctx = &g};
	struct dissect_config dc = {0};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	struct dissect_worker *w;
	static char req[1100];
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint64_t up = 0, down = 0;
	unsigned exchanges = 0, pending = 0;

	(void)state;
	/* ~1.2 KiB of records per exchange: about 50 fill the 64 KiB queue */
	snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: %01000d\r\n\r\n", 0);
	assert_int_equal(dissect_engine_create(&dc, held_collect, &h, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	dissect_worker_tick(w);
	gate_wait_held(&g); /* nothing is dissected until the queue is full */
	for (;;) {
		if (push_http(w, true, &up, req, !exchanges))
			break;
		pending = 1;
		if (push_http(w, false, &down, resp, false))
			break;
		pending = 0;
		exchanges++;
	}
	assert_true(exchanges >= 40);
	/* held at the entry of the exchange half way in: the worker took the whole queue */
	h.hold_at = exchanges / 2;
	gate_open(&g);
	pthread_mutex_lock(&h.lock);
	while (!h.held)
		pthread_cond_wait(&h.cv, &h.lock);
	pthread_mutex_unlock(&h.lock);
	/* the response of a request left pending, or the next request */
	assert_int_equal(pending ? push_http(w, false, &down, resp, false)
				 : push_http(w, true, &up, req, false),
			 0);
	pthread_mutex_lock(&h.lock);
	h.released = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.lock);
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.dropped, 1); /* the push that found the queue full */
	assert_int_equal(h.n, exchanges + 1); /* the last one complete, or incomplete at stop */
	dissect_engine_destroy(eng);
}

static void on_interrupt(int signo)
{
	(void)signo;
}

/* Stop does not hang on a thread blocked writing: past stop_timeout_ns it is interrupted
 * (a handler without SA_RESTART: the write returns EINTR) and stop returns. */
static void test_stop_bounded(void **state)
{
	struct stuck_writer sw = {0};
	struct dissect_worker_config wc = {.tick_on_request = true,
					   .tick = write_until_blocked,
					   .tick_ctx = &sw,
					   .stop_timeout_ns = 200000000u,
					   .interrupt_signo = SIGRTMIN};
	struct sigaction sa = {.sa_handler = on_interrupt}, old;
	struct dissect_config dc = {0};
	struct dissect_worker_stats ws;
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct sink s = {0};
	struct timespec t0, t1;
	int pfd[2];
	double secs;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	sw.wfd = pfd[1];
	assert_int_equal(sigaction(SIGRTMIN, &sa, &old), 0);
	assert_int_equal(dissect_engine_create(&dc, collect, &s, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	/* The stop's last tick is the one that blocks (the pipe is never read). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dissect_worker_stop(w, &ws);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(sw.interrupted);
	assert_true(ws.interrupts >= 1);
	assert_true(secs >= 0.2 && secs < 5);
	dissect_engine_destroy(eng);
	sigaction(SIGRTMIN, &old, NULL);
	close(pfd[0]);
	close(pfd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_entries_as_read),
	    cmocka_unit_test(test_small_queue_drops_whole_frames),
	    cmocka_unit_test(test_stop_without_frames),
	    cmocka_unit_test(test_tick_on_request),
	    cmocka_unit_test(test_push_wait_loses_nothing),
	    cmocka_unit_test(test_queue_peak_exact),
	    cmocka_unit_test(test_push_wait_gives_up),
	    cmocka_unit_test(test_push_wait_stress),
	    cmocka_unit_test(test_batched_stress),
	    cmocka_unit_test(test_empty_queue_restarts),
	    cmocka_unit_test(test_excursion_released),
	    cmocka_unit_test(test_stop_bounded),
	    cmocka_unit_test(test_room_within_a_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
