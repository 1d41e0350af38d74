// SPDX-License-Identifier: Apache-2.0
/*
 * tcp_reasm: TCP flow table and per-direction reassembly. See tcp_reasm.h and
 * docs/reassembly.md.
 *
 * Layout:
 *   - flows live in a chained hash table (bucket array fixed at creation, power of two >=
 *     max_flows) and in one of two LRU lists: open flows, and closed flows remembered for
 *     time_wait_ns ("time-wait"). Both lists are ordered by last use, most recent first.
 *   - each flow has two halves (one per direction). A half holds its stream position
 *     (next_seq), handshake/FIN state and a sorted singly-linked list of held out-of-order
 *     segments that never overlap each other and all start after next_seq.
 *   - halves holding data are also on a "buffering" list, most recently buffering first,
 *     so the global buffer limit can give up the oldest holes of the stalest streams.
 *
 * Sequence arithmetic is modulo 2^32 through sdiff(); every offset used is kept within
 * 2^30 of next_seq (WINDOW_MAX), so comparisons never flip sign.
 */
#include "net/tcp_reasm.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#define WINDOW_MAX        (1 << 30)
#define MAX_FLOWS_LIMIT   (1u << 24)

struct seg {
	struct seg *next;
	uint64_t ts_ns;
	uint32_t seq;
	uint32_t len;
	bool lost; /* bytes known missing (snapped tail): no data stored */
	uint8_t data[];
};

struct flow;

struct half {
	struct flow *flow;
	struct seg *head, *tail;
	struct half *bprev, *bnext; /* buffering list */
	uint64_t buffered;          /* accounted bytes held */
	uint32_t isn;               /* sequence number of the SYN (syn_seen) */
	uint32_t next_seq;          /* next byte to deliver (synced) */
	uint32_t fin_seq;           /* sequence number of the FIN (fin_seen) */
	uint8_t dir;
	bool syn_seen, synced, fin_seen, done, buffering;
};

struct flow {
	struct flow *hnext;
	struct flow *lprev, *lnext;
	void *user;
	uint64_t id;
	uint64_t last_ts;
	uint32_t hash;
	uint8_t family;
	bool closed;            /* remembered after FIN/RST close (time-wait list) */
	uint8_t addr[2][16];    /* [TCP_DIR_C2S] client, [TCP_DIR_S2C] server */
	uint16_t port[2];
	struct half h[2];       /* [dir]: the bytes sent in direction dir */
};

struct lru {
	struct flow *head, *tail;
};

struct tcp_reasm {
	struct tcp_reasm_config cfg;
	struct tcp_reasm_callbacks cb;
	void *ctx;
	struct flow **buckets;
	uint32_t mask;
	struct lru open, tw;
	struct half *bhead, *btail;
	uint64_t next_id;
	struct tcp_reasm_stats st;
};

/* ------------------------------------------------------------------ names */

const char *tcp_close_reason_str(enum tcp_close_reason reason)
{
	switch (reason) {
	case TCP_CLOSE_FIN:
		return "fin";
	case TCP_CLOSE_RST:
		return "rst";
	case TCP_CLOSE_IDLE_TIMEOUT:
		return "idle-timeout";
	case TCP_CLOSE_EVICTED:
		return "evicted";
	case TCP_CLOSE_END_OF_INPUT:
		return "end-of-input";
	case TCP_CLOSE_PORT_REUSE:
		return "port-reuse";
	case TCP_CLOSE_MEMORY:
		return "memory";
	default:
		return "unknown";
	}
}

const char *tcp_gap_cause_str(enum tcp_gap_cause cause)
{
	switch (cause) {
	case TCP_GAP_ACKED:
		return "acked";
	case TCP_GAP_BUFFER:
		return "buffer";
	case TCP_GAP_SNAPPED:
		return "snapped";
	case TCP_GAP_CLOSE:
		return "close";
	default:
		return "unknown";
	}
}

const char *tcp_ignore_str(enum tcp_ignore reason)
{
	switch (reason) {
	case TCP_USED:
		return "used";
	case TCP_IGNORE_NOT_TCP:
		return "not-tcp";
	case TCP_IGNORE_FRAGMENT:
		return "fragment";
	case TCP_IGNORE_RST_NO_FLOW:
		return "rst-no-flow";
	case TCP_IGNORE_AFTER_CLOSE:
		return "after-close";
	case TCP_IGNORE_OUT_OF_WINDOW:
		return "out-of-window";
	case TCP_IGNORE_NO_MEMORY:
		return "no-memory";
	default:
		return "unknown";
	}
}

const char *tcp_role_str(enum tcp_role role)
{
	switch (role) {
	case TCP_ROLE_SYN:
		return "syn";
	case TCP_ROLE_SYNACK:
		return "syn-ack";
	case TCP_ROLE_PORT:
		return "port";
	case TCP_ROLE_FIRST_SENDER:
		return "first-sender";
	default:
		return "unknown";
	}
}

/* ------------------------------------------------------------------ helpers */

static inline int32_t sdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline uint32_t seg_end(const struct seg *s)
{
	return s->seq + s->len;
}

static inline uint64_t charge_of(uint32_t len, bool lost)
{
	return TCP_REASM_SEGMENT_OVERHEAD + (lost ? 0 : (uint64_t)len);
}

static void lru_unlink(struct lru *l, struct flow *f)
{
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		l->tail = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void lru_push(struct lru *l, struct flow *f)
{
	f->lprev = NULL;
	f->lnext = l->head;
	if (l->head)
		l->head->lprev = f;
	else
		l->tail = f;
	l->head = f;
}

static void blist_unlink(struct tcp_reasm *r, struct half *h)
{
	if (!h->buffering)
		return;
	if (h->bprev)
		h->bprev->bnext = h->bnext;
	else
		r->bhead = h->bnext;
	if (h->bnext)
		h->bnext->bprev = h->bprev;
	else
		r->btail = h->bprev;
	h->bprev = h->bnext = NULL;
	h->buffering = false;
}

static void blist_touch(struct tcp_reasm *r, struct half *h)
{
	blist_unlink(r, h);
	h->bprev = NULL;
	h->bnext = r->bhead;
	if (r->bhead)
		r->bhead->bprev = h;
	else
		r->btail = h;
	r->bhead = h;
	h->buffering = true;
}

static void account(struct tcp_reasm *r, struct half *h, uint64_t add, uint64_t sub)
{
	h->buffered = h->buffered + add - sub;
	r->st.buffered_bytes = r->st.buffered_bytes + add - sub;
	if (r->st.buffered_bytes > r->st.buffered_bytes_peak)
		r->st.buffered_bytes_peak = r->st.buffered_bytes;
	if (h->buffered > r->st.buffered_dir_peak)
		r->st.buffered_dir_peak = h->buffered;
	if (h->buffered == 0)
		blist_unlink(r, h);
}

/* Unlink and free the head segment of h. */
static void pop_head(struct tcp_reasm *r, struct half *h)
{
	struct seg *s = h->head;

	h->head = s->next;
	if (!h->head)
		h->tail = NULL;
	account(r, h, 0, charge_of(s->len, s->lost));
	free(s);
}

/* ------------------------------------------------------------------ emit */

static void emit_data(struct tcp_reasm *r, struct half *h, const uint8_t *data, uint32_t len,
		      uint64_t ts)
{
	if (!len)
		return;
	r->st.bytes_delivered += len;
	if (r->cb.data)
		r->cb.data(r->ctx, h->flow->user, (enum tcp_dir)h->dir, data, len, ts);
}

static void emit_gap(struct tcp_reasm *r, struct half *h, uint32_t len, enum tcp_gap_cause cause,
		     uint64_t ts)
{
	if (!len)
		return;
	r->st.gaps[cause]++;
	r->st.gap_bytes[cause] += len;
	if (r->cb.gap)
		r->cb.gap(r->ctx, h->flow->user, (enum tcp_dir)h->dir, len, cause, ts);
}

/* ------------------------------------------------------------------ stream */

/* The FIN is reached when everything before it was delivered or given up. */
static void try_fin(struct tcp_reasm *r, struct half *h)
{
	if (!h->fin_seen || h->done || h->next_seq != h->fin_seq)
		return;
	while (h->head) { /* nothing is held past the FIN (trimmed when it was seen) */
		r->st.bytes_dropped += h->head->len;
		pop_head(r, h);
	}
	h->done = true;
	h->next_seq = h->fin_seq + 1;
	if (r->cb.fin)
		r->cb.fin(r->ctx, h->flow->user, (enum tcp_dir)h->dir, h->flow->last_ts);
}

/* Deliver held segments that have become in order. */
static void drain(struct tcp_reasm *r, struct half *h)
{
	struct seg *s;

	while ((s = h->head) && sdiff(s->seq, h->next_seq) <= 0) {
		uint32_t covered = (uint32_t)sdiff(h->next_seq, s->seq);

		if (covered < s->len) {
			uint32_t n = s->len - covered;

			if (s->lost)
				emit_gap(r, h, n, TCP_GAP_SNAPPED, s->ts_ns);
			else
				emit_data(r, h, s->data + covered, n, s->ts_ns);
			h->next_seq += n;
			r->st.bytes_overlap += covered;
		} else {
			r->st.bytes_overlap += s->len;
		}
		pop_head(r, h);
	}
	try_fin(r, h);
}

/* Give up the stream up to `upto` (after next_seq): gap, then deliver what follows. */
static void give_up(struct tcp_reasm *r, struct half *h, uint32_t upto, enum tcp_gap_cause cause,
		    uint64_t ts)
{
	if (sdiff(upto, h->next_seq) <= 0)
		return;
	emit_gap(r, h, upto - h->next_seq, cause, ts);
	h->next_seq = upto;
	drain(r, h);
}

/* Close: every hole before held data or before the FIN becomes a gap. */
static void half_flush(struct tcp_reasm *r, struct half *h, uint64_t ts)
{
	if (!h->synced)
		return;
	while (h->head)
		give_up(r, h, h->head->seq, TCP_GAP_CLOSE, ts);
	if (h->fin_seen && !h->done)
		give_up(r, h, h->fin_seq, TCP_GAP_CLOSE, ts);
}

/* The FIN's position is known: drop held bytes at or past it. */
static void trim_beyond_fin(struct tcp_reasm *r, struct half *h)
{
	struct seg **pp = &h->head, *s;

	h->tail = NULL;
	while ((s = *pp)) {
		if (sdiff(s->seq, h->fin_seq) >= 0) {
			*pp = s->next;
			r->st.bytes_dropped += s->len;
			account(r, h, 0, charge_of(s->len, s->lost));
			free(s);
			continue;
		}
		if (sdiff(seg_end(s), h->fin_seq) > 0) {
			uint32_t cut = seg_end(s) - h->fin_seq;

			r->st.bytes_dropped += cut;
			if (!s->lost)
				account(r, h, 0, cut);
			s->len -= cut;
		}
		h->tail = s;
		pp = &s->next;
	}
}

/* Accounted bytes that holding [seq, seq+len) would add (the parts no held segment covers). */
static uint64_t need_for(const struct half *h, uint32_t seq, uint32_t len, bool lost)
{
	uint32_t cur = seq, end = seq + len;
	uint64_t need = 0;
	const struct seg *s = h->head;

	if (h->tail && sdiff(seq, seg_end(h->tail)) >= 0)
		return charge_of(len, lost);
	for (; s && sdiff(cur, end) < 0; s = s->next) {
		if (sdiff(seg_end(s), cur) <= 0)
			continue;
		if (sdiff(s->seq, end) >= 0)
			break;
		if (sdiff(s->seq, cur) > 0)
			need += charge_of(s->seq - cur, lost);
		cur = seg_end(s);
	}
	if (sdiff(cur, end) < 0)
		need += charge_of(end - cur, lost);
	return need;
}

static uint64_t count_diff(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	uint64_t d = 0;

	for (uint32_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

/* Hold [seq, seq+len) (after next_seq); parts already held are overlaps. Fits: checked. */
static void hold(struct tcp_reasm *r, struct half *h, uint32_t seq, uint32_t len,
		 const uint8_t *data, uint64_t ts)
{
	uint32_t cur = seq, end = seq + len;
	struct seg **pp = &h->head;

	if (h->tail && sdiff(seq, seg_end(h->tail)) >= 0)
		pp = &h->tail->next;
	while (sdiff(cur, end) < 0) {
		struct seg *s = *pp, *n;
		uint32_t stop;

		if (!s || sdiff(s->seq, cur) > 0) {
			stop = (s && sdiff(s->seq, end) < 0) ? s->seq : end;
			n = malloc(sizeof(*n) + (data ? (size_t)(stop - cur) : 0));
			if (!n) {
				r->st.alloc_failures++;
				r->st.bytes_dropped += stop - cur;
				cur = stop;
				continue;
			}
			n->ts_ns = ts;
			n->seq = cur;
			n->len = stop - cur;
			n->lost = !data;
			if (data)
				memcpy(n->data, data + (cur - seq), n->len);
			n->next = s;
			*pp = n;
			if (!s)
				h->tail = n;
			pp = &n->next;
			account(r, h, charge_of(n->len, n->lost), 0);
			blist_touch(r, h);
			cur = stop;
			continue;
		}
		if (sdiff(seg_end(s), cur) > 0) {
			stop = sdiff(seg_end(s), end) < 0 ? seg_end(s) : end;
			r->st.bytes_overlap += stop - cur;
			if (data && !s->lost)
				r->st.bytes_overlap_conflict +=
					count_diff(s->data + (cur - s->seq), data + (cur - seq), stop - cur);
			cur = stop;
		}
		pp = &s->next;
	}
}

static bool fits(const struct tcp_reasm *r, const struct half *h, uint64_t need)
{
	return h->buffered + need <= r->cfg.max_buffered_bytes_per_direction &&
	       r->st.buffered_bytes + need <= r->cfg.max_total_buffered_bytes;
}

/*
 * Out-of-order piece [seq, seq+len) of h. Returns true when it is held (or covered, or
 * dropped for lack of memory); false when a hole was given up to make room, so the caller
 * must look at the piece again (it may be in order now).
 */
static bool hold_or_make_room(struct tcp_reasm *r, struct half *h, uint32_t seq, uint32_t len,
			      const uint8_t *data, uint64_t ts)
{
	uint64_t need = need_for(h, seq, len, !data);
	struct half *v;

	if (fits(r, h, need)) {
		hold(r, h, seq, len, data, ts);
		return true;
	}
	if (h->buffered + need > r->cfg.max_buffered_bytes_per_direction || !r->btail ||
	    (r->btail == h && !h->bprev)) {
		/* Own oldest hole: up to the first held segment or to this piece. */
		uint32_t upto = seq;

		if (h->head && sdiff(h->head->seq, upto) < 0)
			upto = h->head->seq;
		give_up(r, h, upto, TCP_GAP_BUFFER, ts);
		return false;
	}
	/* Global limit, other streams hold data: the stalest one gives up its oldest hole. */
	v = r->btail == h ? h->bprev : r->btail;
	give_up(r, v, v->head->seq, TCP_GAP_BUFFER, ts);
	return false;
}

/* [seq, seq+len) of h, data or (NULL) known lost. *ooo: set when held out of order. */
static void piece(struct tcp_reasm *r, struct half *h, uint32_t seq, uint32_t len,
		  const uint8_t *data, uint64_t ts, bool *ooo)
{
	while (len > 0 && !h->done) {
		int32_t off = sdiff(seq, h->next_seq);

		if (off < 0) {
			uint32_t k = (uint32_t)(-(int64_t)off);

			if (k > len)
				k = len;
			r->st.bytes_overlap += k;
			seq += k;
			len -= k;
			if (data)
				data += k;
			continue;
		}
		if (off == 0) {
			uint32_t n = len;

			if (h->head && sdiff(h->head->seq, seq + len) < 0)
				n = h->head->seq - seq;
			if (data)
				emit_data(r, h, data, n, ts);
			else
				emit_gap(r, h, n, TCP_GAP_SNAPPED, ts);
			h->next_seq += n;
			seq += n;
			len -= n;
			if (data)
				data += n;
			drain(r, h);
			continue;
		}
		if (!*ooo) {
			*ooo = true;
			r->st.segments_out_of_order++;
		}
		if (hold_or_make_room(r, h, seq, len, data, ts))
			return;
	}
}

/* The peer acknowledged up to ack: holes of h before it are lost to the capture. */
static void ack_proof(struct tcp_reasm *r, struct half *h, uint32_t ack, uint64_t ts)
{
	uint32_t limit = ack;
	int32_t d;

	if (!h->synced || h->done)
		return;
	d = sdiff(ack, h->next_seq);
	if (d <= 0 || d > WINDOW_MAX)
		return;
	if (h->fin_seen && sdiff(limit, h->fin_seq) > 0)
		limit = h->fin_seq;
	while (!h->done && sdiff(limit, h->next_seq) > 0) {
		uint32_t upto = limit;

		if (h->head && sdiff(h->head->seq, upto) < 0)
			upto = h->head->seq;
		give_up(r, h, upto, TCP_GAP_ACKED, ts);
	}
	try_fin(r, h);
}

/* One TCP segment of flow f in direction dir. Returns TCP_USED or an ignore reason. */
static int segment(struct tcp_reasm *r, struct flow *f, unsigned dir, const struct packet *p)
{
	struct half *h = &f->h[dir];
	uint8_t fl = p->tcp_flags;
	uint32_t seq = p->seq;
	uint32_t wlen = p->payload_wirelen;
	uint32_t clen = p->payload_caplen < wlen ? p->payload_caplen : wlen;
	bool fin = fl & TCP_F_FIN;
	bool acked = false;

	if (fl & TCP_F_SYN) {
		if (!h->syn_seen) {
			h->syn_seen = true;
			h->isn = seq;
		}
		seq += 1;
		if (!h->synced) {
			h->synced = true;
			h->next_seq = seq;
		}
	}
	if (!h->synced) {
		if (wlen == 0 && !fin)
			goto ack;
		h->synced = true;
		h->next_seq = seq;
	}
	if (wlen == 0 && !fin)
		goto ack;
	if (wlen >= WINDOW_MAX) {
		r->st.bytes_dropped += wlen;
		return TCP_IGNORE_OUT_OF_WINDOW;
	}
	if (h->done) {
		if (wlen) {
			/* next_seq is FIN + 1: bytes before the FIN were seen, later ones are not
			 * part of the stream. */
			if (sdiff(seq + wlen, h->next_seq - 1) <= 0) {
				r->st.segments_retransmitted++;
				r->st.bytes_retransmitted += wlen;
			} else {
				r->st.bytes_dropped += wlen;
			}
		}
		goto ack;
	}
	{
		int32_t off = sdiff(seq, h->next_seq);

		if (off >= WINDOW_MAX || off <= -WINDOW_MAX) {
			r->st.bytes_dropped += wlen;
			return TCP_IGNORE_OUT_OF_WINDOW;
		}
	}
	/* The other direction's bytes this segment acknowledges were sent before it: give up
	 * their holes (and deliver what waited behind them) before this segment's own bytes, so
	 * that a request held behind a hole reaches the caller before its response does. */
	if (fl & TCP_F_ACK) {
		ack_proof(r, &f->h[dir ^ 1u], p->ack, p->ts_ns);
		acked = true;
	}
	if (fin && !h->fin_seen) {
		h->fin_seen = true;
		h->fin_seq = seq + wlen;
		trim_beyond_fin(r, h);
	}
	if (h->fin_seen && wlen && sdiff(seq + wlen, h->fin_seq) > 0) {
		uint32_t cut = sdiff(seq, h->fin_seq) >= 0 ? wlen : seq + wlen - h->fin_seq;

		r->st.bytes_dropped += cut;
		wlen -= cut;
		if (clen > wlen)
			clen = wlen;
	}
	if (wlen) {
		if (sdiff(seq + wlen, h->next_seq) <= 0) {
			r->st.segments_retransmitted++;
			r->st.bytes_retransmitted += wlen;
		} else {
			bool ooo = false;

			piece(r, h, seq, clen, p->payload, p->ts_ns, &ooo);
			if (wlen > clen)
				piece(r, h, seq + clen, wlen - clen, NULL, p->ts_ns, &ooo);
		}
	}
	try_fin(r, h);
ack:
	if ((fl & TCP_F_ACK) && !acked)
		ack_proof(r, &f->h[dir ^ 1u], p->ack, p->ts_ns);
	return TCP_USED;
}

/* ------------------------------------------------------------------ flow table */

static inline uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	return h;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Symmetric in the two endpoints. */
static uint32_t flow_hash(const struct tcp_reasm *r, uint8_t family, const uint8_t *a,
			  uint16_t ap, const uint8_t *b, uint16_t bp)
{
	int c = memcmp(a, b, 16);
	uint64_t h = 0xcbf29ce484222325ull ^ r->cfg.hash_seed;

	if (c > 0 || (c == 0 && ap > bp)) {
		const uint8_t *t = a;
		uint16_t tp = ap;

		a = b;
		ap = bp;
		b = t;
		bp = tp;
	}
	h = mix64(h, family);
	h = mix64(h, rd64(a));
	h = mix64(h, rd64(a + 8));
	h = mix64(h, rd64(b));
	h = mix64(h, rd64(b + 8));
	h = mix64(h, (uint64_t)ap << 16 | bp);
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static struct flow *lookup(struct tcp_reasm *r, const struct packet *p, uint32_t hash,
			   unsigned *dir)
{
	for (struct flow *f = r->buckets[hash & r->mask]; f; f = f->hnext) {
		if (f->hash != hash || f->family != p->family)
			continue;
		if (f->port[0] == p->sport && f->port[1] == p->dport &&
		    !memcmp(f->addr[0], p->src, 16) && !memcmp(f->addr[1], p->dst, 16)) {
			*dir = TCP_DIR_C2S;
			return f;
		}
		if (f->port[1] == p->sport && f->port[0] == p->dport &&
		    !memcmp(f->addr[1], p->src, 16) && !memcmp(f->addr[0], p->dst, 16)) {
			*dir = TCP_DIR_S2C;
			return f;
		}
	}
	return NULL;
}

static void hash_unlink(struct tcp_reasm *r, struct flow *f)
{
	struct flow **pp = &r->buckets[f->hash & r->mask];

	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	f->hnext = NULL;
}

static void free_segs(struct tcp_reasm *r, struct half *h)
{
	while (h->head)
		pop_head(r, h);
	blist_unlink(r, h);
}

/* Remove a remembered closed flow. */
static void forget(struct tcp_reasm *r, struct flow *f)
{
	lru_unlink(&r->tw, f);
	r->st.flows_time_wait--;
	hash_unlink(r, f);
	free(f);
}

/* Flush, call close, then remember (time-wait) or free the flow. */
static void close_flow(struct tcp_reasm *r, struct flow *f, enum tcp_close_reason reason,
		       uint64_t ts, bool remember)
{
	half_flush(r, &f->h[0], ts);
	half_flush(r, &f->h[1], ts);
	r->st.flows_closed[reason]++;
	if (r->cb.close)
		r->cb.close(r->ctx, f->user, reason, ts);
	f->user = NULL;
	free_segs(r, &f->h[0]);
	free_segs(r, &f->h[1]);
	lru_unlink(&r->open, f);
	r->st.flows_active--;
	if (remember) {
		f->closed = true;
		lru_push(&r->tw, f);
		r->st.flows_time_wait++;
	} else {
		hash_unlink(r, f);
		free(f);
	}
}

static void evict_one(struct tcp_reasm *r, uint64_t ts)
{
	if (r->tw.tail) {
		r->st.time_wait_evicted++;
		forget(r, r->tw.tail);
	} else if (r->open.tail) {
		close_flow(r, r->open.tail, TCP_CLOSE_EVICTED, ts, false);
	}
}

static struct flow *flow_new(struct tcp_reasm *r, const struct packet *p, uint32_t hash)
{
	struct tcp_flow_info info;
	uint8_t fl = p->tcp_flags;
	bool src_is_client;
	struct flow *f;

	while (r->st.flows_active + r->st.flows_time_wait >= r->cfg.max_flows)
		evict_one(r, p->ts_ns);
	f = calloc(1, sizeof(*f));
	if (!f) {
		r->st.alloc_failures++;
		return NULL;
	}
	memset(&info, 0, sizeof(info));
	if ((fl & TCP_F_SYN) && !(fl & TCP_F_ACK)) {
		info.role = TCP_ROLE_SYN;
		src_is_client = true;
	} else if ((fl & TCP_F_SYN) && (fl & TCP_F_ACK)) {
		info.role = TCP_ROLE_SYNACK;
		src_is_client = false;
	} else if (p->sport < 1024 && p->dport >= 1024) {
		info.role = TCP_ROLE_PORT;
		src_is_client = false;
	} else if (p->dport < 1024 && p->sport >= 1024) {
		info.role = TCP_ROLE_PORT;
		src_is_client = true;
	} else if (p->sport != p->dport) {
		info.role = TCP_ROLE_PORT;
		src_is_client = p->sport > p->dport;
	} else {
		info.role = TCP_ROLE_FIRST_SENDER;
		src_is_client = true;
	}
	f->family = p->family;
	f->hash = hash;
	f->last_ts = p->ts_ns;
	f->id = ++r->next_id;
	memcpy(f->addr[src_is_client ? 0 : 1], p->src, 16);
	memcpy(f->addr[src_is_client ? 1 : 0], p->dst, 16);
	f->port[src_is_client ? 0 : 1] = p->sport;
	f->port[src_is_client ? 1 : 0] = p->dport;
	for (unsigned d = 0; d < 2; d++) {
		f->h[d].flow = f;
		f->h[d].dir = (uint8_t)d;
	}
	f->hnext = r->buckets[hash & r->mask];
	r->buckets[hash & r->mask] = f;
	lru_push(&r->open, f);
	r->st.flows_active++;
	r->st.flows_opened++;
	if (r->st.flows_active + r->st.flows_time_wait > r->st.flows_peak)
		r->st.flows_peak = r->st.flows_active + r->st.flows_time_wait;

	info.id = f->id;
	info.family = f->family;
	info.ts_ns = p->ts_ns;
	memcpy(info.client.addr, f->addr[0], 16);
	memcpy(info.server.addr, f->addr[1], 16);
	info.client.port = f->port[0];
	info.server.port = f->port[1];
	if (r->cb.open)
		f->user = r->cb.open(r->ctx, &info);
	return f;
}

/* A SYN on a known pair: a new connection rather than a copy of the old handshake? */
static bool new_connection(const struct flow *f, unsigned dir, const struct packet *p)
{
	const struct half *h = &f->h[dir];

	if (h->syn_seen)
		return h->isn != p->seq;
	if (f->closed)
		return true;
	/* The SYN-ACK completing a handshake whose SYN was seen. */
	if ((p->tcp_flags & TCP_F_ACK) && dir == TCP_DIR_S2C && !h->synced &&
	    f->h[TCP_DIR_C2S].syn_seen)
		return false;
	return true;
}

/* ------------------------------------------------------------------ API */

int tcp_reasm_create(const struct tcp_reasm_config *cfg, const struct tcp_reasm_callbacks *cb,
		     void *ctx, struct tcp_reasm **out)
{
	struct tcp_reasm *r;
	uint32_t n = 16;

	if (!out)
		return -EINVAL;
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (cfg)
		r->cfg = *cfg;
	if (!r->cfg.max_flows)
		r->cfg.max_flows = TCP_REASM_DEFAULT_MAX_FLOWS;
	if (!r->cfg.max_buffered_bytes_per_direction)
		r->cfg.max_buffered_bytes_per_direction = TCP_REASM_DEFAULT_MAX_DIR_BYTES;
	if (!r->cfg.max_total_buffered_bytes)
		r->cfg.max_total_buffered_bytes = TCP_REASM_DEFAULT_MAX_TOTAL_BYTES;
	if (!r->cfg.idle_timeout_ns)
		r->cfg.idle_timeout_ns = TCP_REASM_DEFAULT_IDLE_NS;
	if (!r->cfg.time_wait_ns)
		r->cfg.time_wait_ns = TCP_REASM_DEFAULT_TIME_WAIT_NS;
	if (r->cfg.max_flows > MAX_FLOWS_LIMIT) {
		free(r);
		return -EINVAL;
	}
	while (n < r->cfg.max_flows)
		n <<= 1;
	r->buckets = calloc(n, sizeof(*r->buckets));
	if (!r->buckets) {
		free(r);
		return -ENOMEM;
	}
	r->mask = n - 1;
	if (cb)
		r->cb = *cb;
	r->ctx = ctx;
	*out = r;
	return 0;
}

void tcp_reasm_destroy(struct tcp_reasm *r)
{
	struct flow *f;

	if (!r)
		return;
	while ((f = r->open.head)) {
		free_segs(r, &f->h[0]);
		free_segs(r, &f->h[1]);
		lru_unlink(&r->open, f);
		free(f);
	}
	while ((f = r->tw.head)) {
		lru_unlink(&r->tw, f);
		free(f);
	}
	free(r->buckets);
	free(r);
}

int tcp_reasm_packet(struct tcp_reasm *r, const struct packet *p)
{
	uint32_t hash;
	unsigned dir = TCP_DIR_C2S;
	struct flow *f;
	int ret;

	r->st.packets++;
	if (p->flags & PACKET_F_FRAGMENT) {
		r->st.packets_ignored[TCP_IGNORE_FRAGMENT]++;
		return TCP_IGNORE_FRAGMENT;
	}
	if (p->l4_proto != IPPROTO_TCP || !(p->flags & PACKET_F_L4)) {
		r->st.packets_ignored[TCP_IGNORE_NOT_TCP]++;
		return TCP_IGNORE_NOT_TCP;
	}
	if (r->cfg.expire_on_packets)
		tcp_reasm_expire(r, p->ts_ns);

	hash = flow_hash(r, p->family, p->src, p->sport, p->dst, p->dport);
	f = lookup(r, p, hash, &dir);
	if (f && (p->tcp_flags & TCP_F_SYN) && new_connection(f, dir, p)) {
		r->st.port_reuse++;
		if (f->closed)
			forget(r, f);
		else
			close_flow(r, f, TCP_CLOSE_PORT_REUSE, p->ts_ns, false);
		f = NULL;
	}
	if (f && f->closed) {
		r->st.packets_ignored[TCP_IGNORE_AFTER_CLOSE]++;
		r->st.bytes_dropped += p->payload_wirelen;
		if (p->ts_ns > f->last_ts)
			f->last_ts = p->ts_ns;
		lru_unlink(&r->tw, f);
		lru_push(&r->tw, f);
		return TCP_IGNORE_AFTER_CLOSE;
	}
	if (!f) {
		if (p->tcp_flags & TCP_F_RST) {
			r->st.packets_ignored[TCP_IGNORE_RST_NO_FLOW]++;
			return TCP_IGNORE_RST_NO_FLOW;
		}
		f = flow_new(r, p, hash);
		if (!f) {
			r->st.packets_ignored[TCP_IGNORE_NO_MEMORY]++;
			r->st.bytes_dropped += p->payload_wirelen;
			return TCP_IGNORE_NO_MEMORY;
		}
		dir = (f->port[0] == p->sport && !memcmp(f->addr[0], p->src, 16)) ? TCP_DIR_C2S
										    : TCP_DIR_S2C;
	}
	if (p->ts_ns > f->last_ts)
		f->last_ts = p->ts_ns;
	lru_unlink(&r->open, f);
	lru_push(&r->open, f);

	if (p->tcp_flags & TCP_F_RST) {
		close_flow(r, f, TCP_CLOSE_RST, p->ts_ns, true);
		return TCP_USED;
	}
	ret = segment(r, f, dir, p);
	if (ret != TCP_USED)
		r->st.packets_ignored[ret]++;
	if (f->h[0].done && f->h[1].done)
		close_flow(r, f, TCP_CLOSE_FIN, p->ts_ns, true);
	return ret;
}

unsigned tcp_reasm_expire(struct tcp_reasm *r, uint64_t now_ns)
{
	unsigned n = 0;
	struct flow *f;

	while ((f = r->open.tail) && now_ns >= f->last_ts &&
	       now_ns - f->last_ts >= r->cfg.idle_timeout_ns) {
		bool fin = f->h[0].fin_seen || f->h[1].fin_seen;

		close_flow(r, f, fin ? TCP_CLOSE_FIN : TCP_CLOSE_IDLE_TIMEOUT, now_ns, false);
		n++;
	}
	while ((f = r->tw.tail) && now_ns >= f->last_ts &&
	       now_ns - f->last_ts >= r->cfg.time_wait_ns)
		forget(r, f);
	return n;
}

void tcp_reasm_finish(struct tcp_reasm *r)
{
	struct flow *f;

	while ((f = r->open.tail))
		close_flow(r, f, TCP_CLOSE_END_OF_INPUT, f->last_ts, false);
	while ((f = r->tw.tail))
		forget(r, f);
}

bool tcp_reasm_evict_lru(struct tcp_reasm *r, uint64_t ts_ns)
{
	if (!r->open.tail)
		return false;
	close_flow(r, r->open.tail, TCP_CLOSE_MEMORY, ts_ns, false);
	return true;
}

uint64_t tcp_reasm_buffered_bytes(const struct tcp_reasm *r)
{
	return r->st.buffered_bytes;
}

size_t tcp_reasm_flow_bytes(void)
{
	return sizeof(struct flow);
}

void tcp_reasm_get_stats(const struct tcp_reasm *r, struct tcp_reasm_stats *out)
{
	*out = r->st;
}

void tcp_reasm_get_config(const struct tcp_reasm *r, struct tcp_reasm_config *out)
{
	*out = r->cfg;
}
