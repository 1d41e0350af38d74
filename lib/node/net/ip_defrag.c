// SPDX-License-Identifier: Apache-2.0
#include "net/ip_defrag.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct frag {
	bool used, first_seen, cut;
	uint8_t family, l4_proto;
	uint8_t src[16], dst[16];
	uint32_t id;
	uint64_t ts_first, ts_last;
	uint8_t *buf;                       /* IP_DEFRAG_BYTES, from the L4 header on */
	uint8_t have[IP_DEFRAG_BYTES / 64]; /* which 8-byte blocks came */
	uint32_t total;                     /* L4 bytes in all; 0 until the last fragment */
	uint32_t end;                       /* after the highest byte that came */
	uint32_t l4_hdr_len;                /* the first fragment's TCP or UDP header */
	struct packet first; /* the first fragment's addresses, ports, TCP fields (not its frame) */
};

struct ip_defrag {
	ip_defrag_fn fn;
	void *ctx;
	struct frag slots[IP_DEFRAG_SLOTS];
	unsigned used;
	struct ip_defrag_stats st;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

struct ip_defrag *ip_defrag_new(ip_defrag_fn fn, void *ctx)
{
	struct ip_defrag *d = calloc(1, sizeof(*d));

	if (d) {
		d->fn = fn;
		d->ctx = ctx;
	}
	return d;
}

void ip_defrag_free(struct ip_defrag *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < IP_DEFRAG_SLOTS; i++)
		free(d->slots[i].buf);
	free(d);
}

unsigned ip_defrag_pending(const struct ip_defrag *d)
{
	return d->used;
}

void ip_defrag_get_stats(const struct ip_defrag *d, struct ip_defrag_stats *out)
{
	*out = d->st;
}

/*
 * Where fragment p belongs: its id, the offset of its data in the datagram, whether more
 * follow, and its data (the first fragment's starts with the L4 header). False when the
 * headers needed are not in the captured bytes.
 */
static bool frag_info(const struct packet *p, uint32_t *id, uint32_t *off, bool *more,
		      const uint8_t **data, uint32_t *cap, uint32_t *wire)
{
	const uint8_t *ip;
	uint32_t have = p->caplen > p->l3_offset ? p->caplen - p->l3_offset : 0;

	if (!p->frame)
		return false;
	ip = p->frame + p->l3_offset;
	if (p->family == AF_INET) {
		if (have < 20)
			return false;
		*id = be16(ip + 4);
		*more = be16(ip + 6) & 0x2000;
		*off = (uint32_t)(be16(ip + 6) & 0x1fff) * 8;
	} else {
		uint32_t pos = 40;
		uint8_t nh;

		if (have < 40)
			return false;
		nh = ip[6];
		for (;;) { /* to the fragment header */
			uint32_t len;

			if (pos + 8 > have)
				return false;
			if (nh == 44)
				break;
			if (nh == 0 || nh == 43 || nh == 60)
				len = ((uint32_t)ip[pos + 1] + 1) * 8;
			else if (nh == 51)
				len = ((uint32_t)ip[pos + 1] + 2) * 4;
			else
				return false;
			nh = ip[pos];
			pos += len;
		}
		*id = (uint32_t)be16(ip + pos + 4) << 16 | be16(ip + pos + 6);
		*more = be16(ip + pos + 2) & 1;
		*off = be16(ip + pos + 2) & 0xfff8;
	}
	if (p->flags & PACKET_F_L4) { /* the first: from the L4 header on */
		*data = p->frame + p->l4_offset;
		*cap = (uint32_t)(p->payload + p->payload_caplen - *data);
		*wire = (uint32_t)(p->payload - *data) + p->payload_wirelen;
	} else {
		*data = p->payload;
		*cap = p->payload_caplen;
		*wire = p->payload_wirelen;
	}
	return true;
}

static void frag_free(struct ip_defrag *d, struct frag *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
	d->used--;
}

static bool frag_block(const struct frag *f, uint32_t byte)
{
	return f->have[byte / 64] >> (byte / 8 % 8) & 1;
}

/* Give up on f: the first fragment's bytes and what follows them without a hole go to the
 * callback as a datagram cut short; nothing when the first fragment is missing. */
static void frag_give_up(struct ip_defrag *d, struct frag *f)
{
	uint32_t len = 0;

	if (f->first_seen) {
		while (len < f->end && frag_block(f, len))
			len += 8;
		if (len > f->end)
			len = f->end;
	}
	d->st.given_up++;
	if (f->first_seen && len >= f->l4_hdr_len) {
		struct packet p = f->first;

		p.payload = f->buf + f->l4_hdr_len;
		p.payload_caplen = len - f->l4_hdr_len;
		/* more was sent than came: the length is at least one byte more */
		p.payload_wirelen =
		    f->total > len ? f->total - f->l4_hdr_len : len - f->l4_hdr_len + 1;
		p.ts_ns = f->ts_last;
		d->fn(d->ctx, &p, f->ts_first, false);
	}
	frag_free(d, f);
}

void ip_defrag_expire(struct ip_defrag *d, uint64_t now_ns, bool all)
{
	for (unsigned i = 0; d->used && i < IP_DEFRAG_SLOTS; i++)
		if (d->slots[i].used &&
		    (all || d->slots[i].ts_first + IP_DEFRAG_TIMEOUT_NS <= now_ns))
			frag_give_up(d, &d->slots[i]);
}

/* The slot of fragment p's datagram (a new one, the oldest given up when all are taken). */
static struct frag *frag_slot(struct ip_defrag *d, const struct packet *p, uint32_t id)
{
	struct frag *f, *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < IP_DEFRAG_SLOTS; i++) {
		f = &d->slots[i];
		if (!f->used) {
			free_slot = free_slot ? free_slot : f;
			continue;
		}
		if (f->id == id && f->family == p->family && f->l4_proto == p->l4_proto &&
		    !memcmp(f->src, p->src, 16) && !memcmp(f->dst, p->dst, 16))
			return f;
		if (!oldest || f->ts_first < oldest->ts_first)
			oldest = f;
	}
	if (!free_slot) {
		frag_give_up(d, oldest);
		free_slot = oldest;
	}
	f = free_slot;
	f->buf = malloc(IP_DEFRAG_BYTES);
	if (!f->buf)
		return NULL;
	f->used = true;
	d->used++;
	f->family = p->family;
	f->l4_proto = p->l4_proto;
	memcpy(f->src, p->src, 16);
	memcpy(f->dst, p->dst, 16);
	f->id = id;
	f->ts_first = p->ts_ns;
	return f;
}

/* Every byte up to the last fragment came: the datagram goes out whole. */
static void frag_complete(struct ip_defrag *d, struct frag *f)
{
	struct packet q = f->first;
	uint32_t len = f->total;

	/* UDP says its own length: bytes after it (padding) are not payload. */
	if (f->l4_proto == IPPROTO_UDP) {
		uint32_t ulen = be16(f->buf + 4);

		if (ulen >= 8 && ulen < len)
			len = ulen;
	}
	q.payload = f->buf + f->l4_hdr_len;
	q.payload_caplen = q.payload_wirelen = len - f->l4_hdr_len;
	q.ts_ns = f->ts_last;
	d->st.reassembled++;
	d->fn(d->ctx, &q, f->ts_first, true);
	frag_free(d, f);
}

enum ip_defrag_result ip_defrag_add(struct ip_defrag *d, const struct packet *p)
{
	uint32_t id, off, cap, wire, b, end_block;
	const uint8_t *data;
	struct frag *f;
	bool more;

	if (!(p->flags & PACKET_F_FRAGMENT) ||
	    (p->l4_proto != IPPROTO_TCP && p->l4_proto != IPPROTO_UDP))
		return IP_DEFRAG_NOT_TCP_UDP;
	d->st.fragments++;
	if (!frag_info(p, &id, &off, &more, &data, &cap, &wire)) {
		d->st.unreadable++;
		return IP_DEFRAG_UNREADABLE;
	}
	f = frag_slot(d, p, id);
	if (!f) {
		d->st.alloc_failures++;
		return IP_DEFRAG_NO_MEMORY;
	}
	if (p->ts_ns > f->ts_last)
		f->ts_last = p->ts_ns;
	if (cap > wire)
		cap = wire;
	if (cap < wire || off + wire > IP_DEFRAG_BYTES)
		f->cut = true; /* snapped, or beyond any datagram: it cannot complete */
	if (off < IP_DEFRAG_BYTES) {
		if (cap > IP_DEFRAG_BYTES - off)
			cap = IP_DEFRAG_BYTES - off;
		memcpy(f->buf + off, data, cap);
		/* whole blocks; a last fragment's partial block counts when it came whole */
		end_block = (off + cap + (!more && cap == wire ? 7 : 0)) / 8;
		for (b = off / 8; b < end_block; b++)
			f->have[b / 8] |= (uint8_t)(1u << (b % 8));
		if (off + cap > f->end)
			f->end = off + cap;
	}
	if (p->flags & PACKET_F_L4) {
		f->first_seen = true;
		f->first = *p;
		f->first.frame = NULL;
		f->first.flags = PACKET_F_L4;
		f->l4_hdr_len = (uint32_t)(p->payload - data);
	}
	if (!more)
		f->total = off + wire;
	if (f->total && f->first_seen && !f->cut && f->total >= f->l4_hdr_len) {
		for (b = 0; b < f->total; b += 8)
			if (!frag_block(f, b))
				return IP_DEFRAG_HELD;
		frag_complete(d, f);
	}
	return IP_DEFRAG_HELD;
}
