/* SPDX-License-Identifier: Apache-2.0 */
#include "tls_pcap.h"
#include "entry/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096u
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define WINDOW 65535u
/* A written connection's endpoints stay claimed this long after its end: the other end's
 * records (nginx's, after curl's SSL_free) are still coming. */
#define LINGER_NS 10000000000ull

/* A connection being written, by its endpoints. Direction 0 is client -> server. */
struct sconn {
	struct sconn *next;
	struct sconn *fnext;   /* the list of ended connections, oldest first */
	uint64_t owner; /* the cookie of the source connection written (the other end's are not) */
	uint32_t pid;	/* the owner's process */
	uint64_t ended_ns; /* 0: open; else when it ended (FINs written), lingering */
	uint8_t addr[2][16]; /* client, server */
	uint16_t port[2];
	bool v4;
	uint32_t base[2];    /* sequence number of the direction's offset 0 */
	uint64_t end[2];     /* the direction's offset past its last byte so far */
	uint16_t ip_id[2];
};

struct tls_pcap {
	struct sconn *buckets[BUCKETS];
	struct sconn *ended, **ended_tail; /* ended connections in the order they ended */
	size_t n, max;
	tls_pcap_emit_fn emit;
	void *ctx;
	struct tls_pcap_stats st;
	uint8_t frame[TLS_PCAP_FRAME_MAX];
};

int tls_pcap_new(size_t max_conns, tls_pcap_emit_fn emit, void *ctx, struct tls_pcap **out)
{
	struct tls_pcap *tp = calloc(1, sizeof(*tp));

	*out = tp;
	if (!tp)
		return -ENOMEM;
	tp->max = max_conns ? max_conns : 65536;
	tp->ended_tail = &tp->ended;
	tp->emit = emit;
	tp->ctx = ctx;
	return 0;
}

static void forget_ended(struct tls_pcap *tp, struct sconn *s);
static void forget_oldest_ended(struct tls_pcap *tp);

void tls_pcap_free(struct tls_pcap *tp)
{
	if (!tp)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		while (tp->buckets[b]) {
			struct sconn *s = tp->buckets[b];

			tp->buckets[b] = s->next;
			free(s);
		}
	free(tp);
}

void tls_pcap_get_stats(const struct tls_pcap *tp, struct tls_pcap_stats *out)
{
	*out = tp->st;
}

bool tls_pcap_is_synthetic(const uint8_t *frame, size_t len)
{
	return len >= 14 && !memcmp(frame, TLS_PCAP_MAC_PREFIX, 5) &&
	       !memcmp(frame + 6, TLS_PCAP_MAC_PREFIX, 5);
}

static bool is_v4mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, prefix, sizeof(prefix));
}

static struct sconn **slot(struct tls_pcap *tp, const struct byte_stream_chunk *c)
{
	uint64_t h = FNV1A64_INIT;
	struct sconn **pp;

	h = fnv1a64(h, c->client_addr, 16);
	h = fnv1a64(h, c->server_addr, 16);
	h = fnv1a64(h, &c->client_port, 2);
	h = fnv1a64(h, &c->server_port, 2);
	for (pp = &tp->buckets[h % BUCKETS]; *pp; pp = &(*pp)->next) {
		const struct sconn *s = *pp;

		if (s->port[0] == c->client_port && s->port[1] == c->server_port &&
		    !memcmp(s->addr[0], c->client_addr, 16) && !memcmp(s->addr[1], c->server_addr, 16))
			break;
	}
	return pp;
}

/* One's complement sum of n bytes (RFC 1071), to be folded. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* One segment of direction d (0: client -> server): built in tp->frame and emitted. */
static void segment(struct tls_pcap *tp, struct sconn *s, int d, uint8_t flags, uint32_t seq,
		    uint32_t ack, const uint8_t *data, size_t len, uint64_t ts_ns)
{
	uint8_t *f = tp->frame, *tcp;
	const uint8_t *src = s->addr[d], *dst = s->addr[!d];
	size_t ip_len = s->v4 ? 20 : 40, tcp_len = 20 + len;
	uint32_t sum;

	/* Ethernet: the receiver's mark, then the sender's; 01 is the client's side. */
	memcpy(f, TLS_PCAP_MAC_PREFIX, 5);
	f[5] = d ? 1 : 2;
	memcpy(f + 6, TLS_PCAP_MAC_PREFIX, 5);
	f[11] = d ? 2 : 1;
	put16(f + 12, s->v4 ? 0x0800 : 0x86dd);
	tcp = f + 14 + ip_len;
	if (s->v4) {
		uint8_t *ip = f + 14;

		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(ip_len + tcp_len));
		put16(ip + 4, s->ip_id[d]++);
		put16(ip + 6, 0x4000); /* don't fragment */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, src + 12, 4);
		memcpy(ip + 16, dst + 12, 4);
		put16(ip + 10, fold(sum16(0, ip, 20)));
		sum = sum16(0, ip + 12, 8);
	} else {
		uint8_t *ip = f + 14;

		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)tcp_len);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		sum = sum16(0, ip + 8, 32);
	}
	sum += 6 + (uint32_t)tcp_len; /* the pseudo-header's protocol and length */
	memset(tcp, 0, 20);
	put16(tcp, s->port[d]);
	put16(tcp + 2, s->port[!d]);
	put32(tcp + 4, seq);
	put32(tcp + 8, (flags & TCP_ACK) ? ack : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, WINDOW);
	if (len)
		memcpy(tcp + 20, data, len);
	put16(tcp + 16, fold(sum16(sum, tcp, tcp_len)));
	tp->st.frames++;
	tp->st.bytes += len;
	tp->emit(tp->ctx, ts_ns, f, 14 + ip_len + tcp_len);
}

static uint32_t next_seq(const struct sconn *s, int d)
{
	return s->base[d] + (uint32_t)s->end[d];
}

/* A first sequence number per connection and direction that differs between connections. */
static uint32_t isn(uint64_t cookie, int d)
{
	uint64_t h = (cookie * 2 + (uint64_t)d + 1) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32);
}

static struct sconn *open_conn(struct tls_pcap *tp, struct sconn **pp,
			       const struct byte_stream_chunk *c)
{
	struct sconn *s;

	if (tp->n >= tp->max && tp->ended) {
		forget_oldest_ended(tp);
		pp = slot(tp, c); /* the chain may have changed */
	}
	if (tp->n >= tp->max) {
		tp->st.table_full++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		tp->st.table_full++;
		return NULL;
	}
	s->owner = c->cookie;
	s->pid = c->pid;
	memcpy(s->addr[0], c->client_addr, 16);
	memcpy(s->addr[1], c->server_addr, 16);
	s->port[0] = c->client_port;
	s->port[1] = c->server_port;
	s->v4 = is_v4mapped(c->client_addr) && is_v4mapped(c->server_addr);
	for (int d = 0; d < 2; d++) {
		s->base[d] = isn(c->cookie, d);
		s->ip_id[d] = (uint16_t)s->base[d];
	}
	*pp = s;
	tp->n++;
	tp->st.conns++;
	if (!(c->flags & BYTE_STREAM_MIDSTREAM)) {
		/* Its start was seen: the handshake, so Wireshark numbers from it. */
		segment(tp, s, 0, TCP_SYN, s->base[0], 0, NULL, 0, c->ts_ns);
		segment(tp, s, 1, TCP_SYN | TCP_ACK, s->base[1], s->base[0] + 1, NULL, 0, c->ts_ns);
		s->base[0]++;
		s->base[1]++;
		segment(tp, s, 0, TCP_ACK, s->base[0], s->base[1], NULL, 0, c->ts_ns);
	}
	return s;
}

/* An ended connection is forgotten: its endpoints are free for a new one. */
static void forget_ended(struct tls_pcap *tp, struct sconn *s)
{
	struct sconn **pp, **fp = &tp->ended;
	struct byte_stream_chunk key = {.client_port = s->port[0], .server_port = s->port[1]};

	memcpy(key.client_addr, s->addr[0], 16);
	memcpy(key.server_addr, s->addr[1], 16);
	pp = slot(tp, &key);
	*pp = s->next;
	while (*fp != s) /* the oldest but for a reused tuple: one step */
		fp = &(*fp)->fnext;
	*fp = s->fnext;
	if (tp->ended_tail == &s->fnext)
		tp->ended_tail = fp;
	tp->n--;
	free(s);
}

static void forget_oldest_ended(struct tls_pcap *tp)
{
	forget_ended(tp, tp->ended);
}

static void close_conn(struct tls_pcap *tp, struct sconn *s, uint64_t ts_ns)
{
	uint32_t c = next_seq(s, 0), v = next_seq(s, 1);

	segment(tp, s, 0, TCP_FIN | TCP_ACK, c, v, NULL, 0, ts_ns);
	segment(tp, s, 1, TCP_FIN | TCP_ACK, v, c + 1, NULL, 0, ts_ns);
	segment(tp, s, 0, TCP_ACK, c + 1, v + 1, NULL, 0, ts_ns);
	s->ended_ns = ts_ns ? ts_ns : 1;
	s->fnext = NULL;
	*tp->ended_tail = s;
	tp->ended_tail = &s->fnext;
}

void tls_pcap_chunk(struct tls_pcap *tp, const struct byte_stream_chunk *c)
{
	struct sconn **pp, *s;
	int d = c->from_client ? 0 : 1;
	size_t mss;

	if (!c->client_port && !c->server_port) {
		tp->st.no_endpoints++;
		return;
	}
	while (tp->ended && c->ts_ns > tp->ended->ended_ns + LINGER_NS)
		forget_oldest_ended(tp);
	pp = slot(tp, c);
	s = *pp;
	/* The endpoints of an ended connection taken again by the process that wrote it: a new
	 * connection (the other end's late records come from another process). */
	if (s && s->ended_ns && s->owner != c->cookie && s->pid == c->pid &&
	    (c->flags & BYTE_STREAM_OPEN)) {
		forget_ended(tp, s);
		pp = slot(tp, c);
		s = NULL;
	}
	if (s && s->owner != c->cookie) {
		tp->st.dup_skipped++;
		return;
	}
	if (s && s->ended_ns)
		return; /* the owner's records after its end: nothing more to write */
	if (c->flags & BYTE_STREAM_CLOSE) {
		/* A close may carry bytes in principle; they go before the FINs. */
		if (s && c->len) {
			struct byte_stream_chunk body = *c;

			body.flags &= ~(uint32_t)BYTE_STREAM_CLOSE;
			tls_pcap_chunk(tp, &body);
		}
		if (s)
			close_conn(tp, s, c->ts_ns);
		return;
	}
	if (!s && !(s = open_conn(tp, pp, c)))
		return;
	if (!c->len)
		return;
	mss = s->v4 ? TLS_PCAP_MSS_V4 : TLS_PCAP_MSS_V6;
	/* The offset is the sequence number: a gap in the stream stays a gap on the wire. */
	for (size_t off = 0; off < c->len; off += mss) {
		size_t n = c->len - off < mss ? c->len - off : mss;
		bool last = off + n == c->len;

		segment(tp, s, d, TCP_ACK | (last ? TCP_PSH : 0),
			s->base[d] + (uint32_t)(c->offset + off), next_seq(s, !d), c->data + off, n,
			c->ts_ns);
	}
	if (c->offset + c->len > s->end[d])
		s->end[d] = c->offset + c->len;
	/* The receiver's acknowledgement: the bytes were read, and in-flight data stays
	 * below the window (Wireshark flags a full window otherwise). */
	segment(tp, s, !d, TCP_ACK, next_seq(s, !d), next_seq(s, d), NULL, 0, c->ts_ns);
}
