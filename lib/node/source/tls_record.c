// SPDX-License-Identifier: Apache-2.0
#include "source/tls_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int tls_record_check(const void *data, size_t size, struct tls_record_view *out)
{
	const struct floe_record_hdr *h = data;

	memset(out, 0, sizeof(*out));
	if (size < sizeof(*h) || h->size != size)
		return TLS_RECORD_BAD_SIZE;
	switch (h->type) {
	case FLOE_RECORD_TLS_DATA: {
		const struct floe_tls_record *r = data;

		/* cap_len within the record and within the call; the chunk within the call. */
		if (size < sizeof(*r) || r->cap_len > size - sizeof(*r) ||
		    r->cap_len > FLOE_TLS_MAX_DATA || r->call_off > r->data_len ||
		    r->cap_len > r->data_len - r->call_off || !r->cap_len ||
		    r->dir > FLOE_TLS_WRITE)
			return TLS_RECORD_BAD_SIZE;
		out->data = r;
		out->bytes = (const uint8_t *)(r + 1);
		break;
	}
	case FLOE_RECORD_TLS_EVENT:
		if (size < sizeof(struct floe_tls_event))
			return TLS_RECORD_BAD_SIZE;
		out->event = data;
		break;
	default:
		return TLS_RECORD_BAD_TYPE;
	}
	out->type = h->type;
	return TLS_RECORD_OK;
}

/* ---- connections ---- */

#define BUCKETS 4096u

/* A record copied out of the ring while its connection waits for a Go Write's count. */
struct held {
	struct held *next;
	uint64_t ts_ns;
	struct floe_tls_record r; /* then r.cap_len bytes */
};

struct tstream {
	uint32_t pid;
	uint64_t conn;
	uint64_t cookie;
	uint8_t client_addr[16], server_addr[16];
	uint16_t client_port, server_port;
	bool local_is_client, midstream;
	/* per direction (0: from the client): where the current call starts, its length, the
	 * offset of the next byte expected */
	uint64_t base[2], call_len[2], next[2];
	bool any[2];
	bool announced; /* its first chunk (BYTE_STREAM_OPEN) went to the sink */
	/* Held back behind a pending Go Write (oldest first), since hold_since_ns */
	struct held *hq, *hq_tail;
	uint64_t held_bytes, hold_since_ns;
	struct tstream *hnext, *lprev, *lnext; /* hash chain; LRU list, oldest first */
	struct tstream *wprev, *wnext;	       /* the list of connections that hold records */
};

struct tls_streams {
	struct tstream *buckets[BUCKETS];
	struct tstream *oldest, *newest;
	struct tstream *holding;
	uint32_t n;
	uint64_t next_cookie;
	struct tls_streams_stats st;
};

int tls_streams_new(struct tls_streams **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static struct tstream **slot(struct tls_streams *ts, uint32_t pid, uint64_t conn)
{
	uint64_t h = (conn ^ ((uint64_t)pid << 40)) * 0x9e3779b97f4a7c15ull;
	struct tstream **pp = &ts->buckets[(h >> 32) % BUCKETS];

	while (*pp && ((*pp)->pid != pid || (*pp)->conn != conn))
		pp = &(*pp)->hnext;
	return pp;
}

static void lru_unlink(struct tls_streams *ts, struct tstream *s)
{
	if (s->lprev)
		s->lprev->lnext = s->lnext;
	else
		ts->oldest = s->lnext;
	if (s->lnext)
		s->lnext->lprev = s->lprev;
	else
		ts->newest = s->lprev;
	s->lprev = s->lnext = NULL;
}

static void lru_append(struct tls_streams *ts, struct tstream *s)
{
	s->lprev = ts->newest;
	s->lnext = NULL;
	if (ts->newest)
		ts->newest->lnext = s;
	else
		ts->oldest = s;
	ts->newest = s;
}

/* One chunk of s to the sink: its offset in the direction's stream, a gap before it. */
static void deliver(struct tls_streams *ts, struct tstream *s, const struct floe_tls_record *r,
		    const uint8_t *bytes, uint64_t ts_ns, const struct byte_sink *sink)
{
	struct byte_stream_chunk c = {.flags = BYTE_STREAM_TLS,
				      .data = bytes,
				      .len = r->cap_len,
				      .ts_ns = ts_ns,
				      .pid = r->pid};
	char comm[sizeof(r->comm) + 1];
	unsigned d;

	if (!s->announced) {
		s->announced = true;
		c.flags |= BYTE_STREAM_OPEN | (s->midstream ? BYTE_STREAM_MIDSTREAM : 0);
	}
	c.from_client = (r->dir == FLOE_TLS_WRITE) == s->local_is_client;
	d = c.from_client ? 0 : 1;
	/* A new call starts where the previous one ended, all of it, chunks lost or not. */
	if (r->call_off == 0) {
		s->base[d] += s->call_len[d];
		s->call_len[d] = r->data_len;
	}
	c.offset = s->base[d] + r->call_off;
	if (c.offset != s->next[d]) {
		c.flags |= BYTE_STREAM_GAP;
		ts->st.gaps++;
	}
	s->next[d] = c.offset + r->cap_len;
	s->any[d] = true;
	c.cookie = s->cookie;
	memcpy(c.client_addr, s->client_addr, 16);
	memcpy(c.server_addr, s->server_addr, 16);
	c.client_port = s->client_port;
	c.server_port = s->server_port;
	memcpy(comm, r->comm, sizeof(r->comm));
	comm[sizeof(r->comm)] = 0;
	c.process = comm;
	if (sink && sink->stream)
		sink->stream(sink->ctx, &c);
}

static void holding_unlink(struct tls_streams *ts, struct tstream *s)
{
	if (s->wprev)
		s->wprev->wnext = s->wnext;
	else if (ts->holding == s)
		ts->holding = s->wnext;
	if (s->wnext)
		s->wnext->wprev = s->wprev;
	s->wprev = s->wnext = NULL;
}

static bool is_pending(const struct floe_tls_record *r)
{
	return (r->flags & FLOE_TLS_F_PENDING) && r->dir == FLOE_TLS_WRITE;
}

/*
 * Deliver what s holds, oldest first, up to the next pending Write (all of it when all is
 * true: the connection ends, or nothing is held back any more). A pending Write at the head
 * is delivered as taken when all is true (its count never came).
 */
static void release(struct tls_streams *ts, struct tstream *s, bool all, uint64_t now_ns,
		    const struct byte_sink *sink)
{
	while (s->hq && (all || !is_pending(&s->hq->r))) {
		struct held *h = s->hq;

		s->hq = h->next;
		s->held_bytes -= h->r.cap_len;
		h->r.flags &= (__u8)~FLOE_TLS_F_PENDING;
		deliver(ts, s, &h->r, (const uint8_t *)(&h->r + 1), h->ts_ns, sink);
		free(h);
	}
	if (!s->hq) {
		s->hq_tail = NULL;
		s->held_bytes = 0;
		holding_unlink(ts, s);
	} else {
		s->hold_since_ns = now_ns;
	}
}

/* The Write at the head of s's queue: taken as is (its count did not come in time). */
static void release_head_write(struct tls_streams *ts, struct tstream *s, uint64_t now_ns,
			       const struct byte_sink *sink)
{
	struct held *h = s->hq;

	for (; h && is_pending(&h->r); h = h->next) {
		h->r.flags &= (__u8)~FLOE_TLS_F_PENDING;
		if (h->next && h->next->r.call_off == 0)
			break;
	}
	release(ts, s, false, now_ns, sink);
}

/* Unlink *pp and tell the sink its end. */
static void end(struct tls_streams *ts, struct tstream **pp, uint64_t ts_ns,
		const struct byte_sink *sink)
{
	struct tstream *s = *pp;
	struct byte_stream_chunk c = {
	    .cookie = s->cookie,
	    .client_port = s->client_port,
	    .server_port = s->server_port,
	    .flags = BYTE_STREAM_CLOSE | BYTE_STREAM_TLS,
	    .offset = s->next[0],
	    .from_client = 1,
	    .ts_ns = ts_ns,
	    .pid = s->pid,
	};

	/* What waited for a Write's count goes first, as it was taken. */
	release(ts, s, true, ts_ns, sink);
	c.offset = s->next[0];
	memcpy(c.client_addr, s->client_addr, 16);
	memcpy(c.server_addr, s->server_addr, 16);
	*pp = s->hnext;
	lru_unlink(ts, s);
	ts->n--;
	/* A connection whose only bytes were a Write that wrote nothing was never opened. */
	if (sink && sink->stream && s->announced)
		sink->stream(sink->ctx, &c);
	free(s);
}

/* A port below 1024 against one at or above is the server's; else the lower one is (the other
 * is then most likely ephemeral). */
static bool local_is_server_by_ports(uint16_t local, uint16_t remote)
{
	if ((local < 1024) != (remote < 1024))
		return local < 1024;
	return local < remote;
}

static struct tstream *open_stream(struct tls_streams *ts, const struct floe_tls_record *r,
				   uint64_t ts_ns, const struct byte_sink *sink)
{
	struct tstream *s;

	if (ts->n >= TLS_STREAMS_MAX) {
		struct tstream *o = ts->oldest;

		ts->st.evicted++;
		end(ts, slot(ts, o->pid, o->conn), ts_ns, sink);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->pid = r->pid;
	s->conn = r->conn;
	s->cookie = ++ts->next_cookie;
	if (r->role == FLOE_TLS_ROLE_CLIENT)
		s->local_is_client = true;
	else if (r->role == FLOE_TLS_ROLE_SERVER)
		s->local_is_client = false;
	else
		s->local_is_client = !local_is_server_by_ports(r->local_port, r->remote_port);
	/* Without the role, the connection's start was not seen (it predates the probes). */
	s->midstream = r->role == FLOE_TLS_ROLE_UNKNOWN;
	if (s->local_is_client) {
		memcpy(s->client_addr, r->local_addr, 16);
		memcpy(s->server_addr, r->remote_addr, 16);
		s->client_port = r->local_port;
		s->server_port = r->remote_port;
	} else {
		memcpy(s->client_addr, r->remote_addr, 16);
		memcpy(s->server_addr, r->local_addr, 16);
		s->client_port = r->remote_port;
		s->server_port = r->local_port;
	}
	ts->n++;
	ts->st.conns++;
	lru_append(ts, s);
	return s;
}

/* A copy of the record r (and its bytes) at the end of s's queue. */
static int hold(struct tls_streams *ts, struct tstream *s, const struct floe_tls_record *r,
		const uint8_t *bytes, uint64_t ts_ns)
{
	struct held *h = malloc(sizeof(*h) + r->cap_len);

	if (!h)
		return -ENOMEM;
	h->next = NULL;
	h->ts_ns = ts_ns;
	h->r = *r;
	memcpy(&h->r + 1, bytes, r->cap_len);
	if (!s->hq) {
		s->hq = h;
		s->hold_since_ns = ts_ns;
		s->wprev = NULL;
		s->wnext = ts->holding;
		if (ts->holding)
			ts->holding->wprev = s;
		ts->holding = s;
	} else {
		s->hq_tail->next = h;
	}
	s->hq_tail = h;
	s->held_bytes += r->cap_len;
	ts->st.held++;
	return 0;
}

void tls_streams_data(struct tls_streams *ts, const struct floe_tls_record *r, const uint8_t *bytes,
		      uint64_t ts_ns, const struct byte_sink *sink)
{
	struct tstream **pp = slot(ts, r->pid, r->conn), *s = *pp;

	if (!s) {
		s = open_stream(ts, r, ts_ns, sink);
		if (!s)
			return;
		/* open_stream may have evicted: the slot is looked up again */
		pp = slot(ts, r->pid, r->conn);
		s->hnext = *pp;
		*pp = s;
	} else {
		lru_unlink(ts, s);
		lru_append(ts, s);
	}
	/* Behind a pending Write, or one itself: held until its count comes (in order). */
	if (s->hq || is_pending(r)) {
		if (hold(ts, s, r, bytes, ts_ns) == 0) {
			if (s->held_bytes > TLS_HOLD_MAX_BYTES) {
				ts->st.hold_overflows++;
				release_head_write(ts, s, ts_ns, sink);
			}
			return;
		}
		/* Out of memory: delivered now, out of order rather than lost. */
		release(ts, s, true, ts_ns, sink);
	}
	deliver(ts, s, r, bytes, ts_ns, sink);
}

void tls_streams_write_done(struct tls_streams *ts, uint32_t pid, uint64_t conn, uint64_t n,
			    uint64_t ts_ns, const struct byte_sink *sink)
{
	struct tstream *s = *slot(ts, pid, conn);
	struct held **pp, *h;
	uint64_t len;
	bool first = true;

	if (!s || !s->hq || !is_pending(&s->hq->r)) {
		ts->st.stray_write_done++;
		return;
	}
	/* The head is the first pending Write's first chunk; its chunks follow one another. */
	len = s->hq->r.data_len;
	if (n > len)
		n = len;
	if (n < len)
		ts->st.write_unsent += len - n;
	pp = &s->hq;
	while ((h = *pp) && is_pending(&h->r) && (first || h->r.call_off != 0)) {
		first = false;
		h->r.flags &= (__u8)~FLOE_TLS_F_PENDING;
		if (h->r.call_off >= n) {
			/* Not written: dropped, so the stream's next call starts where this
			 * one's written bytes end. */
			*pp = h->next;
			if (s->hq_tail == h)
				s->hq_tail = NULL;
			s->held_bytes -= h->r.cap_len;
			free(h);
			continue;
		}
		h->r.data_len = (__u32)n;
		if (h->r.cap_len > n - h->r.call_off)
			h->r.cap_len = (__u32)(n - h->r.call_off);
		pp = &h->next;
	}
	/* The tail may have been dropped: found again. */
	s->hq_tail = NULL;
	for (h = s->hq; h; h = h->next)
		s->hq_tail = h;
	release(ts, s, false, ts_ns, sink);
}

void tls_streams_expire(struct tls_streams *ts, uint64_t now_ns, const struct byte_sink *sink)
{
	struct tstream *s = ts->holding, *next;

	for (; s; s = next) {
		next = s->wnext;
		if (now_ns - s->hold_since_ns < TLS_HOLD_NS || now_ns < s->hold_since_ns)
			continue;
		ts->st.hold_timeouts++;
		release_head_write(ts, s, now_ns, sink);
		/* release may have unlinked s, not next */
	}
}

void tls_streams_close(struct tls_streams *ts, uint32_t pid, uint64_t conn, uint64_t ts_ns,
		       const struct byte_sink *sink)
{
	struct tstream **pp = slot(ts, pid, conn);

	if (!*pp)
		return;
	ts->st.closed++;
	end(ts, pp, ts_ns, sink);
}

void tls_streams_close_pid(struct tls_streams *ts, uint32_t pid, uint64_t ts_ns,
			   const struct byte_sink *sink)
{
	struct tstream *s = ts->oldest, *next;

	for (; s; s = next) {
		next = s->lnext;
		if (s->pid == pid)
			tls_streams_close(ts, pid, s->conn, ts_ns, sink);
	}
}

void tls_streams_free(struct tls_streams *ts)
{
	if (!ts)
		return;
	while (ts->oldest) {
		struct tstream *s = ts->oldest;

		end(ts, slot(ts, s->pid, s->conn), 0, NULL);
	}
	free(ts);
}

void tls_streams_get_stats(const struct tls_streams *ts, struct tls_streams_stats *out)
{
	*out = ts->st;
}

int tls_maps_line_libssl(const char *line, char *path, size_t pathlen)
{
	const char *p = strchr(line, '/'), *base, *end;
	size_t n;

	if (!p)
		return 0;
	end = p + strcspn(p, "\n");
	n = (size_t)(end - p);
	/* " (deleted)": the file was replaced (a package upgrade); its inode is not the path's. */
	if (n >= 10 && !memcmp(end - 10, " (deleted)", 10))
		return 0;
	base = p;
	for (const char *q = p; q < end; q++)
		if (*q == '/')
			base = q + 1;
	if ((size_t)(end - base) < 9 || memcmp(base, "libssl.so", 9))
		return 0;
	if (n + 1 > pathlen)
		return 0;
	memcpy(path, p, n);
	path[n] = 0;
	return 1;
}
