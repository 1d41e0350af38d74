// SPDX-License-Identifier: Apache-2.0
/*
 * queue_budget: one memory budget for the tap's queues (--queue-memory). The budget alone
 * (floors reserved, the pool shared, refusals counted, everything given back), under threads
 * that charge and release at random, and with the three real queues on it: the dissection ring
 * with its consumer held, the PCAP store and the entry history, pushed until the budget
 * refuses. The oracle for "never above the budget" is the budget's own peak, taken under its
 * lock at every charge, and each queue's own count of what it held back (dropped, waited).
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dissect/dissect_worker.h"
#include "queue/queue_budget.h"
#include "store/entry_history.h"
#include "store/pcap_store.h"
#include "test_gate.h"

#define MIB (1ull << 20)

static void test_floors_and_pool(void **state)
{
	struct queue_budget b;
	struct queue_budget_stats st;
	int a, c;

	(void)state;
	queue_budget_init(&b, 10 * MIB);
	a = queue_budget_join(&b, "a", 2 * MIB);
	c = queue_budget_join(&b, "c", 3 * MIB);
	assert_true(a >= 0 && c >= 0);
	assert_int_equal(queue_budget_join(&b, "too big", 6 * MIB), -ENOSPC);
	/* a takes its floor and the whole pool (5 MiB) */
	assert_true(queue_budget_charge(&b, a, 7 * MIB));
	assert_false(queue_budget_charge(&b, a, 1));
	/* c still has its floor, not a byte more */
	assert_true(queue_budget_charge(&b, c, 3 * MIB));
	assert_false(queue_budget_charge(&b, c, 4096));
	queue_budget_get_stats(&b, &st);
	assert_int_equal(st.used, 10 * MIB);
	assert_int_equal(st.peak, 10 * MIB);
	assert_int_equal(st.m[a].refused, 1);
	assert_int_equal(st.m[c].refused, 1);
	/* a gives back what it borrowed: c may borrow it */
	queue_budget_release(&b, a, 5 * MIB);
	assert_true(queue_budget_charge(&b, c, 5 * MIB));
	assert_false(queue_budget_charge(&b, a, 1));
	/* within a's floor again after c gives back */
	queue_budget_release(&b, c, 8 * MIB);
	queue_budget_release(&b, a, 2 * MIB);
	queue_budget_get_stats(&b, &st);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.peak, 10 * MIB);
	/* NULL grants everything */
	assert_true(queue_budget_charge(NULL, 0, 1ull << 40));
	queue_budget_destroy(&b);
}

struct racer {
	struct queue_budget *b;
	int id;
	unsigned seed;
};

/* Charges and releases of random sizes; gives everything back at the end. */
static void *race(void *arg)
{
	struct racer *r = arg;
	uint64_t held = 0;

	for (int i = 0; i < 200000; i++) {
		uint64_t n = (uint64_t)(rand_r(&r->seed) % 65536) + 1;

		if (rand_r(&r->seed) % 2 && held >= n) {
			queue_budget_release(r->b, r->id, n);
			held -= n;
		} else if (queue_budget_charge(r->b, r->id, n)) {
			held += n;
		}
	}
	queue_budget_release(r->b, r->id, held);
	return NULL;
}

static void test_threads_never_exceed(void **state)
{
	struct queue_budget b;
	struct queue_budget_stats st;
	struct racer r[4];
	pthread_t th[4];

	(void)state;
	queue_budget_init(&b, 4 * MIB);
	for (int i = 0; i < 4; i++) { /* all join first: a floor is reserved before charges */
		r[i] = (struct racer){.b = &b, .seed = (unsigned)i + 1};
		r[i].id = queue_budget_join(&b, "racer", (uint64_t)(i + 1) * 100000);
		assert_true(r[i].id >= 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	queue_budget_get_stats(&b, &st);
	assert_true(st.peak <= 4 * MIB);
	assert_true(st.peak > 3 * MIB); /* the budget was used up, not avoided */
	assert_int_equal(st.used, 0);
	for (int i = 0; i < 4; i++) {
		assert_true(st.m[i].refused > 0);
		assert_int_equal(st.m[i].used, 0);
	}
	queue_budget_destroy(&b);
}

/* ---- the three queues on one budget ---- */

static void no_entries(void *ctx, const struct entry *e)
{
	(void)ctx;
	(void)e;
}

static char tmp_dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/*
 * An 8 MiB budget (floors: ring 1 MiB, store two chunks, history 2 MiB; ~3 MiB shared). The
 * ring's consumer is held: it takes the pool and is refused, frames dropped and counted as at a
 * full queue. The store then runs on its floor (its producer waits for its writer, nothing is
 * lost) and the history's appends are refused past its floor (dropped, counted). The budget's
 * peak never passes 8 MiB; when all is closed every byte is back.
 */
static void test_three_queues_held_consumer(void **state)
{
	static uint8_t frame[1400];
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct queue_budget b;
	struct queue_budget_stats qs;
	struct dissect_worker_config wc = {
	    .queue_bytes = 8 * MIB, .tick_on_request = true, .tick = gate_tick, .tick_ctx = &g,
	    .budget = &b};
	struct dissect_config dc = {0};
	struct dissect_engine *eng;
	struct dissect_worker *w;
	struct dissect_worker_stats ws;
	struct pcap_store *s;
	struct pcap_store_stats ss;
	struct entry_history *h;
	struct entry_history_stats hs;
	char err[256], json[1024];
	unsigned pushed = 0, refused = 0, appended = 0, dropped = 0;
	int ret;

	(void)state;
	queue_budget_init(&b, 8 * MIB);
	assert_int_equal(dissect_engine_create(&dc, no_entries, NULL, &eng), 0);
	assert_int_equal(dissect_worker_start(&wc, eng, &w), 0);
	dissect_worker_tick(w);
	gate_wait_held(&g);

	struct pcap_store_config sc = {.dir = tmp_dir, .limit_bytes = 256 * MIB, .budget = &b};

	assert_int_equal(pcap_store_open(&sc, &s, err, sizeof(err)), 0);
	struct entry_history_config hc = {.store_dir = tmp_dir,
					  .limit_bytes = 64 * MIB,
					  .batch_ns = 60ull * 1000000000ull,
					  .budget = &b};

	assert_int_equal(entry_history_open(&hc, &h, err, sizeof(err)), 0);

	/* The held ring: 7 MiB of frames, more than its floor and the pool together. */
	for (unsigned i = 0; i < 7 * MIB / sizeof(frame); i++) {
		if (dissect_worker_push(w, 1, frame, sizeof(frame), sizeof(frame), 1) == 0)
			pushed++;
		else
			refused++;
	}
	dissect_worker_get_stats(w, &ws);
	queue_budget_get_stats(&b, &qs);
	assert_true(refused > 0);
	assert_int_equal(ws.dropped, refused); /* counted as at a full queue */
	assert_true(qs.m[0].refused > 0);
	assert_true(ws.queue_charged <= 8 * MIB - qs.m[1].floor - qs.m[2].floor);
	assert_true(ws.queue_charged >= 3 * MIB); /* it did borrow the pool */
	assert_int_equal(ws.queue_charged, qs.m[0].used); /* it charged what it holds */
	assert_true(qs.peak <= 8 * MIB);

	/* The store on its floor: 16 MiB of packets, every one written. */
	for (unsigned i = 0; i < 16 * MIB / sizeof(frame); i++)
		assert_int_equal(pcap_store_write(s, 1, sizeof(frame), sizeof(frame), frame), 0);
	assert_int_equal(pcap_store_flush(s), 0);
	pcap_store_get_stats(s, &ss);
	assert_int_equal(ss.packets_written, 16 * MIB / sizeof(frame));
	queue_budget_get_stats(&b, &qs);
	assert_true(qs.peak <= 8 * MIB);
	assert_true(qs.m[1].peak >= 2 * MIB); /* its chunks were charged: two at least */

	/* The history past its floor: refused appends are dropped and counted. */
	memset(json, 'x', sizeof(json));
	json[0] = '{';
	json[sizeof(json) - 1] = '}';
	for (unsigned i = 0; i < 8192; i++) {
		char id[32];

		snprintf(id, sizeof(id), "e%u", i);
		ret = entry_history_append(h, id, (int64_t)i + 1, json, sizeof(json));
		if (ret == 0)
			appended++;
		else if (ret == -ENOBUFS)
			dropped++;
		else
			fail_msg("append: %d", ret);
	}
	entry_history_sync(h);
	entry_history_get_stats(h, &hs);
	assert_true(dropped > 0);
	assert_int_equal(hs.entries_dropped, dropped);
	assert_int_equal(hs.entries_written, appended);
	queue_budget_get_stats(&b, &qs);
	assert_true(qs.m[2].refused > 0);
	assert_true(qs.m[2].peak >= ENTRY_HISTORY_BUDGET_FLOOR); /* its buffers were charged */
	assert_true(qs.peak <= 8 * MIB);

	/* Let the ring go: its frames are dissected, then everything closes. */
	gate_open(&g);
	dissect_worker_stop(w, &ws);
	assert_int_equal(ws.pushed, pushed);
	dissect_engine_destroy(eng);
	entry_history_close(h);
	assert_int_equal(pcap_store_close(s), 0);
	queue_budget_get_stats(&b, &qs);
	assert_true(qs.peak <= 8 * MIB);
	assert_int_equal(qs.used, 0);
	for (unsigned i = 0; i < qs.members; i++)
		assert_int_equal(qs.m[i].used, 0);
	queue_budget_destroy(&b);
}

/* The store's bytes held in the budget (member id), waiting up to 3 s for them to reach want. */
static uint64_t store_used_until(struct queue_budget *b, unsigned id, uint64_t want)
{
	struct queue_budget_stats qs;

	for (int i = 0; i < 300; i++) {
		queue_budget_get_stats(b, &qs);
		if (qs.m[id].used == want)
			break;
		usleep(10000);
	}
	return qs.m[id].used;
}

/* Six MiB of packets queued while the writer is held in g before its first chunk, so the
 * producer maps chunks beyond the store's two; then the writer goes and writes them all. */
static void burst(struct pcap_store *s, struct gate *g)
{
	static uint8_t frame[1400];

	pthread_mutex_lock(&g->lock);
	g->open = false;
	g->in_tick = false;
	pthread_mutex_unlock(&g->lock);
	for (unsigned i = 0; i < 6 * MIB / sizeof(frame); i++)
		assert_int_equal(pcap_store_write(s, 1, sizeof(frame), sizeof(frame), frame), 0);
	pcap_store_kick(s);
	gate_wait_held(g);
	gate_open(g);
	assert_int_equal(pcap_store_flush(s), 0);
}

/*
 * Spare chunks: after a burst the store keeps the chunks it mapped beyond its two (the next
 * burst reuses them instead of faulting in fresh pages), gives them back once idle for its
 * linger time with no further call, and at the writer's next pass once another member of the
 * budget was refused.
 */
static void test_store_spares_linger(void **state)
{
	struct gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct queue_budget b;
	struct queue_budget_stats qs;
	struct pcap_store *s;
	static uint8_t one[100];
	char err[256];
	int other;

	(void)state;
	queue_budget_init(&b, 32 * MIB);
	other = queue_budget_join(&b, "other", MIB);
	assert_int_equal(other, 0);
	struct pcap_store_config sc = {.dir = tmp_dir,
				       .limit_bytes = 256 * MIB,
				       .batched = true,
				       .budget = &b,
				       .before_write = gate_tick,
				       .before_write_ctx = &g};

	assert_int_equal(pcap_store_open(&sc, &s, err, sizeof(err)), 0);
	queue_budget_get_stats(&b, &qs);
	assert_int_equal(qs.members, 2);
	const uint64_t floor = qs.m[1].floor; /* two chunks */

	/* Kept after the burst, then given back by the writer's own timer. */
	burst(s, &g);
	queue_budget_get_stats(&b, &qs);
	assert_true(qs.m[1].peak >= floor + 4 * MIB); /* the burst mapped more than two */
	assert_true(qs.m[1].used >= floor + 4 * MIB); /* and they are still mapped */
	assert_int_equal(store_used_until(&b, 1, floor), floor);

	/* Kept again; another member refused: the writer's next pass gives them back. */
	burst(s, &g);
	queue_budget_get_stats(&b, &qs);
	assert_true(qs.m[1].used >= floor + 4 * MIB);
	assert_false(queue_budget_charge(&b, other, 64 * MIB));
	assert_int_equal(pcap_store_write(s, 2, sizeof(one), sizeof(one), one), 0);
	assert_int_equal(pcap_store_flush(s), 0); /* the writer passes once */
	queue_budget_get_stats(&b, &qs);
	assert_int_equal(qs.m[1].used, floor);

	assert_int_equal(pcap_store_close(s), 0);
	queue_budget_get_stats(&b, &qs);
	assert_int_equal(qs.m[1].used, 0);
	queue_budget_destroy(&b);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/floe-qb-XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmp_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_floors_and_pool),
	    cmocka_unit_test(test_threads_never_exceed),
	    cmocka_unit_test(test_three_queues_held_consumer),
	    cmocka_unit_test(test_store_spares_linger),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
