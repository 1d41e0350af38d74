// SPDX-License-Identifier: Apache-2.0
/*
 * The dissection engine: glue between the reassembler, protocol detection and dissectors.
 * See engine.h and dissector.h for the contracts.
 */
#include "dissect/engine.h"
#include "entry/hash.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissector.h"
#include "dissect/graphql.h"
#include "dissect/http_common.h"
#include "net/ip_defrag.h"
#include "protocols/protocol.h"

/* Detection attempts per direction: mid-stream pick-up retries at each new chunk. */
#define DETECT_MAX_ATTEMPTS 16u

struct dir_buf {
	uint8_t *p;
	size_t len, cap;
	uint64_t ts_first, ts_last; /* packets of the first and last unconsumed byte */
	size_t last_chunk;          /* bytes of the last append (for ts_first after consuming) */
	uint64_t dropped;           /* bytes dropped before a dissector took over (report as gap) */
	unsigned attempts;          /* detection attempts that all said no */
	bool no;                    /* every dissector said no to the current buffer */
};

struct conn {
	struct dissect_engine *eng;
	struct tcp_flow_info info;
	const struct dissector *d;
	unsigned d_index;
	void *st;
	struct dir_buf b[2];
	uint32_t entry_seq;
	bool unknown; /* no dissector recognised it: bytes are ignored */
	bool fin[2];  /* [dir]: dir's FIN was reached (net/tcp_reasm.h, fin()) */
	bool in_parse;
	bool refeeding; /* feed() is offering the other direction's held bytes again */
	const struct dissector *switch_to;
	unsigned switch_index;
	void *switch_handover;
	int transport; /* IPPROTO_TCP or IPPROTO_UDP */
	/* Inside a tunnel (conn_inner_open): the connection carrying it, how deep, and what the
	 * entries found here say of it ("tunnel"). */
	struct conn *outer;
	unsigned depth;
	json_t *tunnel_ref;
	/* UDP conversations only: hash chain, LRU list (oldest first), detection attempts */
	struct conn *hnext, *lprev, *lnext;
	uint64_t last_ts;
	uint32_t udp_bucket;
	unsigned udp_attempts;
	size_t mem; /* bytes charged to the engine's budget (conn_mem_sync) */
	/* A stream source's connection (dissect_engine_stream): what its entries say of it. */
	bool tls, stream;
	uint32_t pid;
	char process[BYTE_STREAM_PROCESS_MAX];
};

/* A stream source's connection: its cookie and where each direction is. */
struct stream_ent {
	uint64_t cookie;
	struct conn *c;
	uint64_t next_off[2];
	struct stream_ent *next;
};

#define STREAM_BUCKETS 1024u

/*
 * The endpoints of TLS connections read in plaintext (dissect_engine_stream), so that entries
 * the packet path makes of the same connection's ciphertext (a handshake entry, garbage) are
 * dropped: the plaintext entries are the connection's. Direct-mapped by hash: a collision
 * forgets the older connection (its ciphertext entry, if any, then comes out). Kept after the
 * stream closes: the packets' own close (FIN) is usually dissected after SSL_free.
 */
#define PLAINTEXT_SLOTS 16384u

struct tuple {
	uint8_t a[16], b[16];
	uint16_t ap, bp;
};

/* The UDP conversation table (engine.h, "UDP conversations"). */
struct udp_table {
	struct conn **buckets; /* allocated at the first UDP packet */
	uint32_t mask;
	uint32_t count;
	struct conn *oldest, *newest;
};

struct dissect_engine {
	struct dissect_config cfg;
	dissect_sink_fn sink;
	void *ctx;
	struct tcp_reasm *reasm;
	struct dissect_stats st;
	uint64_t last_flow_id; /* TCP flows and UDP conversations share the numbering */
	struct udp_table udp;
	struct ip_defrag *defrag; /* made at the first IP fragment */
	uint64_t mem_used; /* the connections' charges; the reassembler's held bytes come on top */
	size_t tcp_flow_bytes; /* what the reassembler's record of one flow takes */
	struct stream_ent *streams[STREAM_BUCKETS]; /* dissect_engine_stream's connections */
	uint32_t n_streams;
	struct tuple *plaintext; /* PLAINTEXT_SLOTS, made at the first TLS stream */
	dissect_verdict_fn verdict; /* dissect_engine_set_verdict */
	void *verdict_ctx;
};

void dissect_engine_set_verdict(struct dissect_engine *e, dissect_verdict_fn fn, void *ctx)
{
	e->verdict = fn;
	e->verdict_ctx = ctx;
}

/* A connection whose unrecognised state a verdict may stand for: the packet path's own. */
static bool conn_verdict_kind(const struct conn *c)
{
	return c->eng->verdict && !c->outer && !c->stream && c->transport == IPPROTO_TCP;
}

static unsigned dissector_count(void)
{
	unsigned n = 0;

	while (dissectors[n])
		n++;
	return n;
}

const char *dissect_protocol_name(unsigned index)
{
	unsigned n = dissector_count();

	return index < n ? dissectors[index]->name : NULL;
}

static unsigned entry_protocol_count(void)
{
	unsigned n = 0;

	while (protocols[n] && n + 1 < DISSECT_MAX_ENTRY_PROTOCOLS)
		n++;
	return n;
}

const char *dissect_entry_protocol_name(unsigned index)
{
	unsigned n = entry_protocol_count();

	if (index < n)
		return protocols[index]->name;
	return index == n ? "other" : NULL;
}

/* The entries_by_protocol slot of an entry's protocol. Descriptors' names are the static
 * strings dissectors put in entries, so a pointer compare almost always decides. */
static unsigned entry_protocol_slot(const char *name)
{
	unsigned n = entry_protocol_count(), i;

	for (i = 0; i < n; i++)
		if (protocols[i]->name == name)
			return i;
	for (i = 0; i < n; i++)
		if (!strcmp(protocols[i]->name, name))
			return i;
	return n;
}

const char *dissect_counter_name(unsigned proto, unsigned idx)
{
	const char *const *names;
	unsigned i;

	if (proto >= dissector_count() || proto >= DISSECT_MAX_PROTOCOLS ||
	    idx >= DISSECT_MAX_COUNTERS)
		return NULL;
	names = dissectors[proto]->counters;
	if (!names)
		return NULL;
	for (i = 0; i < idx; i++)
		if (!names[i])
			return NULL;
	return names[idx];
}

/* ---- what dissectors call ---- */

const struct tcp_flow_info *conn_info(const struct conn *c)
{
	return &c->info;
}

int conn_transport(const struct conn *c)
{
	return c->transport;
}

bool conn_fin_seen(const struct conn *c, enum tcp_dir dir)
{
	return c->fin[dir];
}

size_t conn_body_max(const struct conn *c)
{
	return c->eng->cfg.body_max;
}

bool conn_response_bodies(const struct conn *c)
{
	return !c->eng->cfg.no_response_bodies;
}

enum entry_missing_reason conn_end_reason(enum conn_end why)
{
	switch (why) {
	case CONN_END_RST:
		return ENTRY_REASON_RESET;
	case CONN_END_TIMEOUT:
		return ENTRY_REASON_TIMEOUT;
	case CONN_END_END_OF_INPUT:
		return ENTRY_REASON_END_OF_INPUT;
	case CONN_END_MEMORY:
		return ENTRY_REASON_MEMORY;
	case CONN_END_FIN:
	case CONN_END_SWITCHED:
		break;
	}
	return ENTRY_REASON_CLOSED;
}

void conn_count_parse_error(struct conn *c)
{
	c->eng->st.parse_errors++;
	if (c->d_index < DISSECT_MAX_PROTOCOLS)
		c->eng->st.parse_malformed[c->d_index]++;
}

void conn_counter_add(struct conn *c, unsigned idx, uint64_t n)
{
	if (c->d_index < DISSECT_MAX_PROTOCOLS && idx < DISSECT_MAX_COUNTERS)
		c->eng->st.counters[c->d_index][idx] += n;
}

static void endpoint_from(struct entry_endpoint *ep, const struct tcp_endpoint *t, uint8_t family)
{
	memcpy(ep->addr, t->addr, 16);
	ep->port = t->port;
	ep->family = family;
}

struct entry *conn_entry_new(struct conn *c)
{
	struct entry *e = entry_new();

	if (!e) {
		c->eng->st.alloc_failures++;
		return NULL;
	}
	e->flow_id = c->info.id;
	endpoint_from(&e->src, &c->info.client, c->info.family);
	endpoint_from(&e->dst, &c->info.server, c->info.family);
	return e;
}

/* "[<prefix>-]<flow id>-<n>", as "%s-%" PRIu64 "-%" PRIu32 prints it (snprintf was 2% of
 * floe read). */
static void entry_format_id(char id[64], const char *prefix, uint64_t flow, uint32_t n)
{
	char t[64], *o = t + sizeof(t);
	size_t pl = prefix ? strnlen(prefix, 24) : 0;
	uint64_t v = n;

	*--o = 0;
	do {
		*--o = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	*--o = '-';
	do {
		*--o = (char)('0' + flow % 10);
		flow /= 10;
	} while (flow);
	if (pl) {
		*--o = '-';
		o -= pl;
		memcpy(o, prefix, pl);
	}
	memcpy(id, o, (size_t)(t + sizeof(t) - o));
}

void conn_entry_id(struct conn *c, struct entry *e)
{
	struct conn *root = c;

	if (e->id[0])
		return;
	/* A tunnel's entries are numbered with those of the connection that carries it. */
	while (root->outer)
		root = root->outer;
	entry_format_id(e->id, c->eng->cfg.id_prefix, c->info.id, ++root->entry_seq);
}

/* The tuple of a connection's endpoints in a fixed order (the smaller endpoint first), so that
 * both orientations (a flow picked up mid-stream may be the other way round) meet. */
static uint32_t tuple_of(const struct tcp_flow_info *i, struct tuple *t)
{
	const struct tcp_endpoint *x = &i->client, *y = &i->server;
	int cmp = memcmp(x->addr, y->addr, 16);

	if (cmp > 0 || (cmp == 0 && x->port > y->port)) {
		x = &i->server;
		y = &i->client;
	}
	memset(t, 0, sizeof(*t));
	memcpy(t->a, x->addr, 16);
	memcpy(t->b, y->addr, 16);
	t->ap = x->port;
	t->bp = y->port;
	return (uint32_t)(fnv1a64(FNV1A64_INIT, t, sizeof(*t)) % PLAINTEXT_SLOTS);
}

/* An entry of the packet path whose connection is read in plaintext elsewhere. */
static bool read_in_plaintext(const struct conn *c)
{
	struct tuple t;
	uint32_t slot;

	while (c->outer)
		c = c->outer;
	if (!c->eng->plaintext || c->stream || c->transport != IPPROTO_TCP)
		return false;
	slot = tuple_of(&c->info, &t);
	return !memcmp(&c->eng->plaintext[slot], &t, sizeof(t));
}

/* What a stream source said of the connection (or of the one carrying its tunnel). */
static void conn_emit_stream_fields(const struct conn *c, struct entry *e)
{
	while (c->outer)
		c = c->outer;
	if (!c->tls && !c->pid)
		return;
	if (c->tls)
		json_object_set_new(entry_fields_rw(e), "tls", json_true());
	if (c->pid)
		json_object_set_new(entry_fields_rw(e), "pid", json_integer(c->pid));
	if (c->process[0])
		json_object_set_new(entry_fields_rw(e), "process", json_string(c->process));
}

void conn_emit(struct conn *c, struct entry *e)
{
	struct dissect_engine *eng = c->eng;

	if (!e)
		return;
	if (read_in_plaintext(c)) {
		eng->st.entries_ciphertext_dropped++;
		entry_free(e);
		return;
	}
	conn_entry_id(c, e);
	if (c->tunnel_ref)
		json_object_set_new(entry_fields_rw(e), "tunnel", json_deep_copy(c->tunnel_ref));
	conn_emit_stream_fields(c, e);
	if (eng->cfg.names) {
		uint64_t ts = e->request_ts_ns ? e->request_ts_ns : e->response_ts_ns;

		entry_names_unref(e->src.names);
		entry_names_unref(e->dst.names);
		e->src.names = eng->cfg.names(eng->cfg.names_ctx, e->src.addr, ts);
		e->dst.names = eng->cfg.names(eng->cfg.names_ctx, e->dst.addr, ts);
	}
	if (!strcmp(e->protocol, "http"))
		graphql_annotate(e);
	eng->st.entries++;
	eng->st.entries_by_protocol[entry_protocol_slot(e->protocol)]++;
	if (e->missing != ENTRY_COMPLETE)
		eng->st.entries_incomplete++;
	if (eng->sink)
		eng->sink(eng->ctx, e);
	entry_free(e);
}

int conn_switch(struct conn *c, const char *name, void *handover)
{
	unsigned i;

	if (c->transport == IPPROTO_UDP)
		return -ENOTSUP;
	for (i = 0; dissectors[i]; i++) {
		if (!strcmp(dissectors[i]->name, name)) {
			c->switch_to = dissectors[i];
			c->switch_index = i;
			c->switch_handover = handover;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- memory budget (engine.h, "Memory") ---- */

static uint64_t mem_total(const struct dissect_engine *e)
{
	return e->mem_used + tcp_reasm_buffered_bytes(e->reasm);
}

/* What c holds now: its records, its buffers, its dissector's state. */
static size_t conn_mem(const struct conn *c)
{
	size_t n = sizeof(*c) + c->b[0].cap + c->b[1].cap;

	if (c->transport == IPPROTO_TCP)
		n += c->eng->tcp_flow_bytes;
	if (c->d && c->st)
		n += c->d->mem ? c->d->mem(c->st) : DISSECT_STATE_BYTES;
	return n;
}

/* The one accounting point: charge (or credit) what c's holding changed by since last time. */
static void conn_mem_sync(struct conn *c)
{
	struct dissect_engine *e = c->eng;
	size_t now = conn_mem(c);

	e->mem_used = e->mem_used + now - c->mem;
	c->mem = now;
	if (mem_total(e) > e->st.mem_peak)
		e->st.mem_peak = mem_total(e);
}

static void udp_close(struct dissect_engine *e, struct conn *c, enum conn_end why, uint64_t ts);

/*
 * Between packets: evict the least recently active TCP connections until under the budget,
 * then (none left) the least recently active UDP conversations (DNS: queries waiting).
 */
static void mem_enforce(struct dissect_engine *e, uint64_t ts)
{
	uint64_t before;

	while ((before = mem_total(e)) > e->st.mem_limit) {
		if (tcp_reasm_evict_lru(e->reasm, ts))
			;
		else if (e->udp.oldest)
			udp_close(e, e->udp.oldest, CONN_END_MEMORY, ts);
		else
			break;
		e->st.mem_evictions++;
		if (before > mem_total(e))
			e->st.mem_evicted_bytes += before - mem_total(e);
	}
}

/* ---- buffers ---- */

static int buf_append(struct dir_buf *b, const uint8_t *p, size_t n, uint64_t ts)
{
	if (b->len + n > b->cap) {
		/* On demand: a connection that sent 100 bytes holds 256, not a page. */
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	if (!b->len)
		b->ts_first = ts;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->ts_last = ts;
	b->last_chunk = n;
	return 0;
}

static void buf_consume(struct dir_buf *b, size_t k)
{
	if (!k)
		return;
	if (k >= b->len) {
		b->len = 0;
		b->last_chunk = 0;
		/* An empty buffer is given back: thousands of idle keep-alive connections would
		 * each keep the 4 KiB their first bytes needed (for detection) otherwise. */
		free(b->p);
		b->p = NULL;
		b->cap = 0;
		return;
	}
	memmove(b->p, b->p + k, b->len - k);
	b->len -= k;
	/* The first byte left came with the last chunk only if what is left fits in it. */
	if (b->len <= b->last_chunk)
		b->ts_first = b->ts_last;
	if (b->last_chunk > b->len)
		b->last_chunk = b->len;
}

static void buf_free(struct dir_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- running dissectors ---- */

static void apply_switch(struct conn *c);

/*
 * Give dir's bytes to the dissector: first (p, n) of a new chunk (NULL when only the buffer
 * is to be parsed), without copying when nothing is buffered.
 */
static void feed(struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct dissect_engine *eng = c->eng;
	struct dir_buf *b = &c->b[dir];
	size_t k;

	if (n && !b->len) {
		while (n && c->d) {
			c->in_parse = true;
			k = c->d->parse(c->st, c, dir, p, n, ts, ts);
			c->in_parse = false;
			if (k > n)
				k = n;
			p += k;
			n -= k;
			if (c->switch_to)
				apply_switch(c);
			else if (!k)
				break;
		}
		if (!c->d)
			return;
		if (!n)
			goto other_dir; /* all consumed: bytes held in the other direction may go now */
	}
	if (n && buf_append(b, p, n, ts)) {
		eng->st.alloc_failures++;
		c->d->gap(c->st, c, dir, n, ts);
		return;
	}
	while (b->len && c->d) {
		c->in_parse = true;
		k = c->d->parse(c->st, c, dir, b->p, b->len, b->ts_first, b->ts_last);
		c->in_parse = false;
		if (k > b->len)
			k = b->len;
		buf_consume(b, k);
		if (c->switch_to)
			apply_switch(c);
		else if (!k)
			break;
	}
	if (c->d && b->len > eng->cfg.max_buffer_per_dir) {
		uint64_t lost = b->len;

		eng->st.buffer_overflows++;
		eng->st.parse_errors++;
		if (c->d_index < DISSECT_MAX_PROTOCOLS)
			eng->st.parse_overflows[c->d_index]++;
		buf_consume(b, b->len); /* and give the memory back */
		c->d->gap(c->st, c, dir, lost, b->ts_last);
	}
other_dir:
	/*
	 * Bytes a dissector held in the other direction may be waiting for what this one just
	 * said (HTTP/1 holds the client's bytes after an Upgrade request until the response
	 * decides): offer them again, once.
	 */
	if (c->d && c->b[!dir].len && !c->refeeding) {
		c->refeeding = true;
		feed(c, !dir, NULL, 0, c->b[!dir].ts_last);
		c->refeeding = false;
	}
}

static void apply_switch(struct conn *c)
{
	const struct dissector *d = c->switch_to;
	void *handover = c->switch_handover;

	c->switch_to = NULL;
	c->switch_handover = NULL;
	if (c->d && c->st)
		c->d->free(c->st);
	c->d = d;
	c->d_index = c->switch_index;
	c->st = d->open(c, handover);
	if (!c->st) {
		c->eng->st.alloc_failures++;
		c->d = NULL;
		c->unknown = true;
		return;
	}
	if (c->d_index < DISSECT_MAX_PROTOCOLS)
		c->eng->st.conns_by_protocol[c->d_index]++;
}

/* Open d for the connection; report bytes dropped during detection as gaps. */
static void start_dissector(struct conn *c, unsigned index, uint64_t ts)
{
	int dir;

	c->d = dissectors[index];
	c->d_index = index;
	c->st = c->d->open(c, NULL);
	if (!c->st) {
		c->eng->st.alloc_failures++;
		c->d = NULL;
		c->unknown = true;
		return;
	}
	if (index < DISSECT_MAX_PROTOCOLS)
		c->eng->st.conns_by_protocol[index]++;
	for (dir = 0; dir < 2 && c->d; dir++) {
		if (c->b[dir].dropped) {
			c->eng->st.gaps++;
			c->eng->st.gap_bytes += c->b[dir].dropped;
			c->d->gap(c->st, c, dir, c->b[dir].dropped, ts);
			c->b[dir].dropped = 0;
		}
	}
	/* Both directions' buffered bytes, oldest first, then the other. */
	if (c->b[TCP_DIR_C2S].len && c->b[TCP_DIR_S2C].len &&
	    c->b[TCP_DIR_S2C].ts_first < c->b[TCP_DIR_C2S].ts_first) {
		feed(c, TCP_DIR_S2C, NULL, 0, ts);
		if (c->d)
			feed(c, TCP_DIR_C2S, NULL, 0, ts);
	} else {
		feed(c, TCP_DIR_C2S, NULL, 0, ts);
		if (c->d)
			feed(c, TCP_DIR_S2C, NULL, 0, ts);
	}
}

/* Detection on dir's buffer; returns true when a dissector took the connection. */
static bool detect(struct conn *c, enum tcp_dir dir, uint64_t ts)
{
	struct dir_buf *b = &c->b[dir];
	bool maybe = false;
	unsigned i;

	for (i = 0; dissectors[i]; i++) {
		enum detect_result r = dissectors[i]->detect(dir, b->p, b->len);

		if (r == DETECT_YES) {
			start_dissector(c, i, ts);
			return true;
		}
		if (r == DETECT_MAYBE)
			maybe = true;
	}
	if (maybe && b->len < c->eng->cfg.detect_bytes)
		return false;
	/* Nobody wants these bytes: drop them, try again at the next chunk (mid-stream). */
	b->dropped += b->len;
	buf_consume(b, b->len);
	b->attempts++;
	if (b->attempts >= DETECT_MAX_ATTEMPTS &&
	    (c->b[!dir].attempts >= DETECT_MAX_ATTEMPTS || c->b[!dir].attempts == 0)) {
		c->unknown = true;
		c->eng->st.conns_unknown++;
		buf_free(&c->b[0]);
		buf_free(&c->b[1]);
		if (conn_verdict_kind(c))
			c->eng->verdict(c->eng->verdict_ctx, &c->info, true);
	}
	return false;
}

/* ---- streams ---- */

static struct conn *conn_new(struct dissect_engine *e, const struct tcp_flow_info *info,
			     int transport)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		e->st.alloc_failures++;
		return NULL;
	}
	c->eng = e;
	c->info = *info;
	c->transport = transport;
	e->st.conns++;
	conn_mem_sync(c);
	return c;
}

struct conn *dissect_stream_open(struct dissect_engine *e, const struct tcp_flow_info *info)
{
	return conn_new(e, info, IPPROTO_TCP);
}

void dissect_stream_data(struct dissect_engine *e, struct conn *c, enum tcp_dir dir,
			 const uint8_t *p, size_t n, uint64_t ts_ns)
{
	struct dir_buf *b;

	if (!c || c->unknown || !n)
		return;
	if (c->d) {
		feed(c, dir, p, n, ts_ns);
	} else {
		b = &c->b[dir];
		if (buf_append(b, p, n, ts_ns)) {
			e->st.alloc_failures++;
			b->dropped += n;
		} else {
			detect(c, dir, ts_ns);
		}
	}
	conn_mem_sync(c);
}

void dissect_stream_gap(struct dissect_engine *e, struct conn *c, enum tcp_dir dir,
			uint64_t missing, uint64_t ts_ns)
{
	struct dir_buf *b;

	if (!c || c->unknown)
		return;
	b = &c->b[dir];
	if (!c->d) {
		b->dropped += b->len + missing;
		buf_consume(b, b->len);
		conn_mem_sync(c);
		return;
	}
	/* Bytes held for a message that the gap cuts are lost with it. */
	missing += b->len;
	buf_consume(b, b->len);
	e->st.gaps++;
	e->st.gap_bytes += missing;
	c->d->gap(c->st, c, dir, missing, ts_ns);
	conn_mem_sync(c);
}

static enum conn_end conn_end_of(enum tcp_close_reason why)
{
	switch (why) {
	case TCP_CLOSE_FIN:
		return CONN_END_FIN;
	case TCP_CLOSE_RST:
		return CONN_END_RST;
	case TCP_CLOSE_END_OF_INPUT:
		return CONN_END_END_OF_INPUT;
	case TCP_CLOSE_PORT_REUSE:
		return CONN_END_FIN;
	case TCP_CLOSE_MEMORY:
		return CONN_END_MEMORY;
	default:
		return CONN_END_TIMEOUT;
	}
}

static void conn_close(struct dissect_engine *e, struct conn *c, enum conn_end why,
		       uint64_t ts_ns)
{
	if (c->unknown && conn_verdict_kind(c))
		e->verdict(e->verdict_ctx, &c->info, false);
	if (c->d) {
		c->d->close(c->st, c, why, ts_ns);
		c->d->free(c->st);
	} else if (!c->unknown && (c->b[0].len || c->b[1].len || c->b[0].dropped ||
				   c->b[1].dropped || c->udp_attempts)) {
		e->st.conns_unknown++; /* had bytes, never recognised */
	}
	buf_free(&c->b[0]);
	buf_free(&c->b[1]);
	e->mem_used -= c->mem;
	json_decref(c->tunnel_ref);
	free(c);
}

void dissect_stream_close(struct dissect_engine *e, struct conn *c, enum tcp_close_reason why,
			  uint64_t ts_ns)
{
	if (c)
		conn_close(e, c, conn_end_of(why), ts_ns);
}

/* ---- stream sources' connections, by cookie ---- */

static struct stream_ent **stream_slot(struct dissect_engine *e, uint64_t cookie)
{
	uint64_t h = cookie * 0x9e3779b97f4a7c15ull;
	struct stream_ent **pp = &e->streams[(h >> 32) % STREAM_BUCKETS];

	while (*pp && (*pp)->cookie != cookie)
		pp = &(*pp)->next;
	return pp;
}

static struct stream_ent *stream_open(struct dissect_engine *e, const struct byte_stream_chunk *ch)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct tcp_flow_info info = {.ts_ns = ch->ts_ns};
	struct stream_ent *s;

	if (e->n_streams >= DISSECT_MAX_STREAMS)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		e->st.alloc_failures++;
		return NULL;
	}
	info.id = ++e->last_flow_id;
	info.family = memcmp(ch->client_addr, v4mapped, 12) ? AF_INET6 : AF_INET;
	info.role = ch->flags & BYTE_STREAM_MIDSTREAM ? TCP_ROLE_PORT : TCP_ROLE_SYN;
	memcpy(info.client.addr, ch->client_addr, 16);
	memcpy(info.server.addr, ch->server_addr, 16);
	info.client.port = ch->client_port;
	info.server.port = ch->server_port;
	s->c = conn_new(e, &info, IPPROTO_TCP);
	if (!s->c) {
		free(s);
		return NULL;
	}
	s->c->tls = ch->flags & BYTE_STREAM_TLS;
	s->c->stream = true;
	if (s->c->tls) {
		struct tuple t;

		if (!e->plaintext)
			e->plaintext = calloc(PLAINTEXT_SLOTS, sizeof(*e->plaintext));
		if (e->plaintext)
			e->plaintext[tuple_of(&info, &t)] = t;
	}
	s->c->pid = ch->pid;
	if (ch->process)
		snprintf(s->c->process, sizeof(s->c->process), "%s", ch->process);
	s->cookie = ch->cookie;
	e->n_streams++;
	e->st.streams++;
	return s;
}

static void stream_close(struct dissect_engine *e, struct stream_ent **pp,
			 enum tcp_close_reason why, uint64_t ts_ns)
{
	struct stream_ent *s = *pp;

	*pp = s->next;
	e->n_streams--;
	dissect_stream_close(e, s->c, why, ts_ns);
	free(s);
}

void dissect_engine_stream(struct dissect_engine *e, const struct byte_stream_chunk *ch)
{
	struct stream_ent **pp = stream_slot(e, ch->cookie), *s = *pp;
	enum tcp_dir dir = ch->from_client ? TCP_DIR_C2S : TCP_DIR_S2C;

	if (!s) {
		if (!ch->len)
			return; /* a close (or nothing) of a connection never opened */
		s = stream_open(e, ch);
		if (!s) {
			e->st.streams_dropped++;
			return;
		}
		*pp = s;
	}
	if (ch->len) {
		if (ch->offset > s->next_off[dir])
			dissect_stream_gap(e, s->c, dir, ch->offset - s->next_off[dir], ch->ts_ns);
		if (ch->offset + ch->len > s->next_off[dir]) {
			/* Bytes already given (a repeat) are skipped. */
			uint64_t skip =
			    ch->offset < s->next_off[dir] ? s->next_off[dir] - ch->offset : 0;

			dissect_stream_data(e, s->c, dir, ch->data + skip, ch->len - skip,
					    ch->ts_ns);
			s->next_off[dir] = ch->offset + ch->len;
		}
	}
	if (ch->flags & BYTE_STREAM_CLOSE)
		stream_close(e, pp, TCP_CLOSE_FIN, ch->ts_ns);
}

static void streams_close_all(struct dissect_engine *e, enum tcp_close_reason why)
{
	for (unsigned i = 0; i < STREAM_BUCKETS; i++)
		while (e->streams[i])
			stream_close(e, &e->streams[i], why, 0);
}

/* ---- tunnels: connections carried inside a connection (dissect/tunnel.h) ---- */

struct conn *conn_inner_open(struct conn *outer, json_t *ref)
{
	struct conn *in;

	if (outer->transport != IPPROTO_TCP || outer->depth >= DISSECT_MAX_TUNNEL_DEPTH) {
		json_decref(ref);
		return NULL;
	}
	in = conn_new(outer->eng, &outer->info, IPPROTO_TCP);
	if (!in) {
		json_decref(ref);
		return NULL;
	}
	/* The tunnel's first byte is the first byte its dissector sees: not a mid-stream pick-up. */
	in->info.role = TCP_ROLE_SYN;
	in->outer = outer;
	in->depth = outer->depth + 1;
	in->tunnel_ref = ref;
	outer->eng->st.tunnels++;
	return in;
}

void conn_inner_data(struct conn *in, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	dissect_stream_data(in->eng, in, dir, p, n, ts);
}

void conn_inner_gap(struct conn *in, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	dissect_stream_gap(in->eng, in, dir, missing, ts);
}

void conn_inner_close(struct conn *in, enum conn_end why, uint64_t ts)
{
	conn_close(in->eng, in, why, ts);
}

void conn_count_tunnel_tls(struct conn *c)
{
	c->eng->st.tunnels_tls++;
}

/* ---- UDP conversations ---- */

/* Either endpoint order gives the same hash: the smaller (address, port) goes first. */
static uint32_t udp_hash(const struct dissect_engine *e, const struct packet *p)
{
	const uint8_t *a = p->src, *b = p->dst;
	uint16_t ap = p->sport, bp = p->dport;
	uint64_t h = FNV1A64_INIT ^ e->cfg.tcp.hash_seed;
	int cmp = memcmp(a, b, 16);
	uint8_t ports[4];

	if (cmp > 0 || (!cmp && ap > bp)) {
		const uint8_t *t = a;
		uint16_t tp = ap;

		a = b, ap = bp;
		b = t, bp = tp;
	}
	ports[0] = ap >> 8, ports[1] = ap & 0xff, ports[2] = bp >> 8, ports[3] = bp & 0xff;
	h = fnv1a64(h, a, 16);
	h = fnv1a64(h, b, 16);
	h = fnv1a64(h, ports, 4);
	return (uint32_t)(h ^ (h >> 32));
}

static bool ep_is(const struct tcp_endpoint *ep, const uint8_t addr[16], uint16_t port)
{
	return ep->port == port && !memcmp(ep->addr, addr, 16);
}

static void lru_unlink(struct udp_table *t, struct conn *c)
{
	if (c->lprev)
		c->lprev->lnext = c->lnext;
	else
		t->oldest = c->lnext;
	if (c->lnext)
		c->lnext->lprev = c->lprev;
	else
		t->newest = c->lprev;
	c->lprev = c->lnext = NULL;
}

static void lru_append(struct udp_table *t, struct conn *c)
{
	c->lprev = t->newest;
	c->lnext = NULL;
	if (t->newest)
		t->newest->lnext = c;
	else
		t->oldest = c;
	t->newest = c;
}

static void udp_close(struct dissect_engine *e, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct udp_table *t = &e->udp;
	struct conn **pp;

	for (pp = &t->buckets[c->udp_bucket]; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	lru_unlink(t, c);
	t->count--;
	conn_close(e, c, why, ts);
}

static void udp_expire(struct dissect_engine *e, uint64_t now)
{
	struct conn *c;

	while ((c = e->udp.oldest) && c->last_ts + e->cfg.udp_idle_timeout_ns <= now)
		udp_close(e, c, CONN_END_TIMEOUT, now);
}

static void udp_close_all(struct dissect_engine *e, enum conn_end why, uint64_t ts)
{
	while (e->udp.oldest)
		udp_close(e, e->udp.oldest, why, ts ? ts : e->udp.oldest->last_ts);
}

/* A new conversation for p, oriented by ports (TCP's mid-stream rule) until detection. */
static struct conn *udp_open(struct dissect_engine *e, const struct packet *p, uint32_t bucket)
{
	struct udp_table *t = &e->udp;
	struct tcp_flow_info info = { .family = p->family, .ts_ns = p->ts_ns };
	bool src_is_client;
	struct conn *c;

	if (t->count >= e->cfg.udp_max_conversations && t->oldest) {
		e->st.udp_evicted++;
		udp_close(e, t->oldest, CONN_END_TIMEOUT, p->ts_ns);
	}
	if ((p->sport < 1024) != (p->dport < 1024)) {
		src_is_client = p->dport < 1024;
		info.role = TCP_ROLE_PORT;
	} else if (p->sport != p->dport) {
		src_is_client = p->sport > p->dport;
		info.role = TCP_ROLE_PORT;
	} else {
		src_is_client = true;
		info.role = TCP_ROLE_FIRST_SENDER;
	}
	memcpy(src_is_client ? info.client.addr : info.server.addr, p->src, 16);
	memcpy(src_is_client ? info.server.addr : info.client.addr, p->dst, 16);
	info.client.port = src_is_client ? p->sport : p->dport;
	info.server.port = src_is_client ? p->dport : p->sport;
	info.id = ++e->last_flow_id;
	c = conn_new(e, &info, IPPROTO_UDP);
	if (!c)
		return NULL;
	c->udp_bucket = bucket;
	c->hnext = t->buckets[bucket];
	t->buckets[bucket] = c;
	lru_append(t, c);
	t->count++;
	e->st.udp_conversations++;
	return c;
}

/* Ask the dissectors that do UDP about one datagram; orient and open on a YES. */
static void udp_detect(struct conn *c, enum tcp_dir *dir, const uint8_t *p, size_t n)
{
	struct dissect_engine *e = c->eng;
	unsigned i;

	for (i = 0; dissectors[i]; i++) {
		bool sender_is_client = true;

		if (!dissectors[i]->detect_datagram ||
		    dissectors[i]->detect_datagram(p, n, &sender_is_client) != DETECT_YES)
			continue;
		if (sender_is_client != (*dir == TCP_DIR_C2S)) {
			struct tcp_endpoint t = c->info.client;

			c->info.client = c->info.server;
			c->info.server = t;
			*dir = !*dir;
		}
		c->d = dissectors[i];
		c->d_index = i;
		c->st = c->d->open(c, NULL);
		if (!c->st) {
			e->st.alloc_failures++;
			c->d = NULL;
			c->unknown = true;
			return;
		}
		if (i < DISSECT_MAX_PROTOCOLS)
			e->st.conns_by_protocol[i]++;
		return;
	}
	if (++c->udp_attempts >= DISSECT_UDP_DETECT_DATAGRAMS) {
		c->unknown = true;
		e->st.conns_unknown++;
	}
}

/* One whole datagram (or as much of it as there is) to its conversation. ts_first: when its
 * first byte came (a reassembled datagram's first fragment); p->ts_ns when it was whole. */
static int udp_datagram(struct dissect_engine *e, const struct packet *p, uint64_t ts_first)
{
	struct udp_table *t = &e->udp;
	enum tcp_dir dir;
	uint32_t bucket;
	struct conn *c;

	if (!t->buckets) {
		uint32_t n = 64;

		while (n < e->cfg.udp_max_conversations && n < (1u << 26))
			n <<= 1;
		t->buckets = calloc(n, sizeof(*t->buckets));
		if (!t->buckets) {
			e->st.alloc_failures++;
			return TCP_IGNORE_NO_MEMORY;
		}
		t->mask = n - 1;
	}
	e->st.udp_datagrams++;
	bucket = udp_hash(e, p) & t->mask;
	for (c = t->buckets[bucket]; c; c = c->hnext)
		if ((ep_is(&c->info.client, p->src, p->sport) &&
		     ep_is(&c->info.server, p->dst, p->dport)) ||
		    (ep_is(&c->info.server, p->src, p->sport) &&
		     ep_is(&c->info.client, p->dst, p->dport)))
			break;
	if (!c) {
		c = udp_open(e, p, bucket);
		if (!c)
			return TCP_IGNORE_NO_MEMORY;
	} else {
		lru_unlink(t, c);
		lru_append(t, c);
	}
	if (p->ts_ns > c->last_ts)
		c->last_ts = p->ts_ns;
	if (p->payload_caplen < p->payload_wirelen)
		e->st.udp_datagrams_cut++;
	if (c->unknown || !p->payload_caplen)
		return 0;
	dir = ep_is(&c->info.client, p->src, p->sport) ? TCP_DIR_C2S : TCP_DIR_S2C;
	if (!c->d)
		udp_detect(c, &dir, p->payload, p->payload_caplen);
	if (c->d) {
		c->in_parse = true;
		c->d->parse(c->st, c, dir, p->payload, p->payload_caplen, ts_first, p->ts_ns);
		c->in_parse = false;
	}
	conn_mem_sync(c);
	return 0;
}

/* ---- IP fragments (net/ip_defrag.c) ---- */

/* A TCP segment or UDP datagram put back together from fragments (or given up, cut short). */
static void on_defragmented(void *ctx, const struct packet *p, uint64_t ts_first, bool whole)
{
	struct dissect_engine *e = ctx;

	(void)whole;
	if (p->l4_proto == IPPROTO_UDP)
		udp_datagram(e, p, ts_first);
	else
		tcp_reasm_packet(e->reasm, p);
}

static int fragment_packet(struct dissect_engine *e, const struct packet *p)
{
	if (!e->defrag) {
		e->defrag = ip_defrag_new(on_defragmented, e);
		if (!e->defrag) {
			e->st.alloc_failures++;
			return TCP_IGNORE_NO_MEMORY;
		}
	}
	switch (ip_defrag_add(e->defrag, p)) {
	case IP_DEFRAG_HELD:
		return 0;
	case IP_DEFRAG_NO_MEMORY:
		e->st.alloc_failures++;
		return TCP_IGNORE_NO_MEMORY;
	case IP_DEFRAG_UNREADABLE:
		return TCP_IGNORE_FRAGMENT;
	case IP_DEFRAG_NOT_TCP_UDP:
		break;
	}
	return TCP_IGNORE_NOT_TCP;
}

static void defrag_expire(struct dissect_engine *e, uint64_t now_ns, bool all)
{
	if (e->defrag)
		ip_defrag_expire(e->defrag, now_ns, all);
}

/* ---- the reassembler's callbacks ---- */

static void *on_open(void *ctx, const struct tcp_flow_info *info)
{
	struct dissect_engine *e = ctx;
	struct tcp_flow_info i = *info;

	i.id = ++e->last_flow_id; /* one numbering for TCP and UDP */
	return dissect_stream_open(e, &i);
}

static void on_data(void *ctx, void *user, enum tcp_dir dir, const uint8_t *bytes, uint32_t len,
		    uint64_t ts_ns)
{
	dissect_stream_data(ctx, user, dir, bytes, len, ts_ns);
}

static void on_gap(void *ctx, void *user, enum tcp_dir dir, uint32_t missing,
		   enum tcp_gap_cause cause, uint64_t ts_ns)
{
	(void)cause;
	dissect_stream_gap(ctx, user, dir, missing, ts_ns);
}

static void on_fin(void *ctx, void *user, enum tcp_dir dir, uint64_t ts_ns)
{
	struct conn *c = user;

	(void)ctx, (void)ts_ns;
	if (c)
		c->fin[dir] = true;
}

static void on_close(void *ctx, void *user, enum tcp_close_reason reason, uint64_t ts_ns)
{
	dissect_stream_close(ctx, user, reason, ts_ns);
}

/* ---- engine ---- */

int dissect_engine_create(const struct dissect_config *cfg, dissect_sink_fn sink, void *ctx,
			  struct dissect_engine **out)
{
	static const struct tcp_reasm_callbacks cb = {
		.open = on_open, .data = on_data, .gap = on_gap, .close = on_close,
		.fin = on_fin,
	};
	struct dissect_engine *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	if (cfg)
		e->cfg = *cfg;
	if (!e->cfg.max_buffer_per_dir)
		e->cfg.max_buffer_per_dir = DISSECT_DEFAULT_MAX_BUFFER_PER_DIR;
	if (!e->cfg.body_max)
		e->cfg.body_max = HTTP_BODY_DEFAULT_MAX;
	if (!e->cfg.detect_bytes)
		e->cfg.detect_bytes = DISSECT_DEFAULT_DETECT_BYTES;
	if (!e->cfg.udp_max_conversations)
		e->cfg.udp_max_conversations = DISSECT_DEFAULT_UDP_MAX_CONVERSATIONS;
	if (!e->cfg.udp_idle_timeout_ns)
		e->cfg.udp_idle_timeout_ns = DISSECT_DEFAULT_UDP_IDLE_NS;
	if (!e->cfg.memory_budget)
		e->cfg.memory_budget = DISSECT_DEFAULT_MEMORY;
	if (e->cfg.udp_max_conversations > (1u << 26) ||
	    e->cfg.memory_budget < DISSECT_MIN_MEMORY) {
		free(e);
		return -EINVAL;
	}
	/* Held out-of-order bytes are part of the budget: the reassembler's own total limit
	 * (which gives up holes rather than flows) is no larger. */
	if (!e->cfg.tcp.max_total_buffered_bytes ||
	    e->cfg.tcp.max_total_buffered_bytes > e->cfg.memory_budget)
		e->cfg.tcp.max_total_buffered_bytes = e->cfg.memory_budget;
	e->st.mem_limit = e->cfg.memory_budget;
	e->tcp_flow_bytes = tcp_reasm_flow_bytes();
	e->sink = sink;
	e->ctx = ctx;
	err = tcp_reasm_create(&e->cfg.tcp, &cb, e, &e->reasm);
	if (err) {
		free(e);
		return err;
	}
	*out = e;
	return 0;
}

void dissect_engine_destroy(struct dissect_engine *e)
{
	if (!e)
		return;
	/* Closing flows frees the connections still open; their entries go nowhere. */
	e->sink = NULL;
	streams_close_all(e, TCP_CLOSE_END_OF_INPUT);
	tcp_reasm_finish(e->reasm);
	tcp_reasm_destroy(e->reasm);
	/* Fragments still held are dropped: their entries would go nowhere either. */
	ip_defrag_free(e->defrag);
	if (e->udp.buckets)
		udp_close_all(e, CONN_END_END_OF_INPUT, 0);
	free(e->udp.buckets);
	free(e->plaintext);
	free(e);
}

static int engine_packet(struct dissect_engine *e, const struct packet *p)
{
	if (e->cfg.tcp.expire_on_packets &&
	    (e->udp.oldest || (e->defrag && ip_defrag_pending(e->defrag)))) {
		defrag_expire(e, p->ts_ns, false);
		udp_expire(e, p->ts_ns);
	}
	/* Fragments of TCP and UDP alike are put back together first. */
	if (p->flags & PACKET_F_FRAGMENT)
		return fragment_packet(e, p);
	if (p->l4_proto == IPPROTO_UDP)
		return p->flags & PACKET_F_L4 ? udp_datagram(e, p, p->ts_ns) : TCP_IGNORE_NOT_TCP;
	return tcp_reasm_packet(e->reasm, p);
}

int dissect_engine_packet(struct dissect_engine *e, const struct packet *p)
{
	int ret = engine_packet(e, p);

	/* Here no callback of the reassembler is running: flows may be closed. */
	mem_enforce(e, p->ts_ns);
	return ret;
}

void dissect_engine_expire(struct dissect_engine *e, uint64_t now_ns)
{
	tcp_reasm_expire(e->reasm, now_ns);
	defrag_expire(e, now_ns, false);
	udp_expire(e, now_ns);
}

void dissect_engine_finish(struct dissect_engine *e)
{
	/* Fragments given up first: what they held still reaches its flow before it closes. */
	defrag_expire(e, 0, true);
	streams_close_all(e, TCP_CLOSE_END_OF_INPUT);
	tcp_reasm_finish(e->reasm);
	udp_close_all(e, CONN_END_END_OF_INPUT, 0);
}

void dissect_malloc_policy(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

void dissect_engine_get_stats(const struct dissect_engine *e, struct dissect_stats *out)
{
	*out = e->st;
	out->mem_bytes = mem_total(e);
	if (e->defrag) {
		struct ip_defrag_stats ds;

		ip_defrag_get_stats(e->defrag, &ds);
		out->ip_fragments = ds.fragments;
		out->ip_reassembled = ds.reassembled;
		out->ip_fragments_given_up = ds.given_up;
		out->ip_fragments_unreadable = ds.unreadable;
	}
}

void dissect_engine_get_tcp_stats(const struct dissect_engine *e, struct tcp_reasm_stats *out)
{
	tcp_reasm_get_stats(e->reasm, out);
}
