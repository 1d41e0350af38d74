// SPDX-License-Identifier: Apache-2.0
#include "dissect/flow_verdict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 8 bytes of an address, unaligned. */
static uint64_t word_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/*
 * Asked for every TCP packet the drain queues: four 8-byte words and the ports through a
 * multiply-xorshift mix (fnv1a byte by byte over the 36 bytes cost more than the lookup).
 */
uint64_t flow_verdict_key(const uint8_t a[16], uint16_t ap, const uint8_t b[16], uint16_t bp)
{
	int cmp = memcmp(a, b, 16);
	uint64_t h;

	/* the smaller endpoint first: both directions give one key */
	if (cmp > 0 || (cmp == 0 && ap > bp)) {
		const uint8_t *t = a;
		uint16_t tp = ap;

		a = b;
		b = t;
		ap = bp;
		bp = tp;
	}
	h = mix64(word_at(a) ^ 0x9e3779b97f4a7c15ull);
	h = mix64(h ^ word_at(a + 8));
	h = mix64(h ^ word_at(b));
	h = mix64(h ^ word_at(b + 8) ^ ((uint64_t)ap << 16 | bp));
	return h ? h : 1;
}

void flow_verdict_ring_put(struct flow_verdict_ring *r, uint64_t key, bool set, uint64_t rec)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct flow_verdict_msg *m;

	if (head - atomic_load_explicit(&r->tail, memory_order_acquire) >= FLOW_VERDICT_RING_MSGS) {
		if (set)
			r->lost_sets++;
		else
			atomic_store_explicit(&r->flush, true, memory_order_release);
		return;
	}
	m = &r->m[head % FLOW_VERDICT_RING_MSGS];
	m->key = key;
	m->rec = rec;
	m->set = set;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

int flow_verdict_table_init(struct flow_verdict_table *t, uint32_t slots, uint64_t idle_ns)
{
	uint32_t n = 1;

	if (!slots)
		slots = FLOW_VERDICT_DEFAULT_SLOTS;
	while (n < slots && n < (1u << 30))
		n <<= 1;
	memset(t, 0, sizeof(*t));
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = n - 1;
	t->idle_ns = idle_ns;
	return 0;
}

void flow_verdict_table_free(struct flow_verdict_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

static struct flow_verdict_slot *slot_of(struct flow_verdict_table *t, uint64_t key)
{
	return &t->slots[key & t->mask];
}

void flow_verdict_table_update(struct flow_verdict_table *t, struct flow_verdict_ring *r,
			       uint64_t now_ts)
{
	/* The flag first: a set whose clear did not fit was published before the flag, so it
	 * is within this head and wiped below with the rest. */
	bool flush = atomic_load_explicit(&r->flush, memory_order_acquire) &&
		     atomic_exchange_explicit(&r->flush, false, memory_order_acq_rel);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail == head && !flush)
		return; /* the common case: one load of a line the other side rarely writes */
	for (; tail != head; tail++) {
		const struct flow_verdict_msg *m = &r->m[tail % FLOW_VERDICT_RING_MSGS];
		struct flow_verdict_slot *s = slot_of(t, m->key);

		if (!m->set) {
			if (s->key == m->key)
				s->key = 0;
		} else if (s->syn_rec > m->rec) {
			t->refused++; /* a SYN was queued after the record that decided it */
		} else {
			s->key = m->key; /* a collision forgets the older verdict: it goes whole */
			s->last_ts = now_ts;
		}
	}
	atomic_store_explicit(&r->tail, tail, memory_order_release);
	if (flush) {
		for (uint32_t i = 0; i <= t->mask; i++)
			t->slots[i].key = 0;
		t->flushes++;
	}
}

bool flow_verdict_table_cut(struct flow_verdict_table *t, uint64_t key, bool syn, uint64_t rec,
			    uint64_t ts)
{
	struct flow_verdict_slot *s = slot_of(t, key);

	if (syn) {
		s->syn_rec = rec + 1;
		if (s->key == key)
			s->key = 0;
		return false;
	}
	if (s->key != key)
		return false;
	if (t->idle_ns && ts > s->last_ts && ts - s->last_ts >= t->idle_ns) {
		s->key = 0; /* the connection may have expired: let the flow be seen again */
		t->expired++;
		return false;
	}
	if (ts > s->last_ts)
		s->last_ts = ts;
	return true;
}
