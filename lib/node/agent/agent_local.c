// SPDX-License-Identifier: Apache-2.0
/*
 * agent_local: struct agent_api over this node's entry history, live entries and PCAP store.
 */
#include "agent/agent_local.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "api/metrics_text.h"
#include "entry/entry.h"
#include "entry/entry_filter.h"
#include "entry/entry_json.h"
#include "net/packet.h"
#include "store/entry_history.h"
#include "store/pcap_store.h"
#include "store/tls_pcap.h"

#ifndef FLOE_VERSION
#define FLOE_VERSION "dev"
#endif

#define DEFAULT_FOLLOW_QUEUE 4096u
#define PCAP_CHUNK	     (64u << 10)
/* More distinct connections than this: the export is not narrowed by a BPF filter (its
 * text would grow without bound); every packet is then matched here. */
#define BPF_TUPLES_MAX 128u

/* One live entry, shared by the queues of every subscriber. */
struct live {
	atomic_uint refs;
	int64_t ts;
	size_t len;
	char id[ENTRY_HISTORY_ID_MAX + 1];
	char json[];
};

struct sub {
	struct sub *next;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct live **ring;
	size_t cap, head, count;
	uint64_t lost;
};

struct agent_local {
	struct agent_local_config cfg;
	char store_dir[4096];
	char name[64], node[64];
	pthread_rwlock_t subs_lock;
	struct sub *subs;
	/* cfg.store until agent_local_detach_store: read-locked while a pcap call syncs it */
	pthread_rwlock_t store_lock;
	struct pcap_store *store;
	/* time each query and get call took, to the last entry handed to the caller (stats:
	 * "query_latency"); any thread */
	struct metrics_latency lat_query, lat_get;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void live_unref(struct live *l)
{
	if (l && atomic_fetch_sub(&l->refs, 1) == 1)
		free(l);
}

static int compile(const char *text, struct entry_filter **f, char *err, size_t errlen)
{
	*f = NULL;
	if (!text || !*text)
		return 0;
	return entry_filter_compile_checked(text, f, err, errlen);
}

/* ---- query ---- */

struct hit {
	int64_t ts;
	char id[ENTRY_HISTORY_ID_MAX + 1];
	char *json;
	size_t len;
};

struct collect {
	const char *agent_name; /* the `agent` of the entries, for the filter */
	const struct agent_query *q;
	struct entry_filter *filter;
	struct hit *v;
	size_t n, cap, keep; /* keep: the limit (0: all) */
	struct entry_json_buf buf;
	int err;
	/* pcap: the matching entries' JSON trees are kept for their addresses */
	bool keep_trees;
	json_t **trees;
};

/*
 * Does the filter match j, with the agent's name as its `agent` (docs/entries.md)? The hub
 * writes the name into the entries it serves; the stored and live entries do not hold it, so
 * that they stay what `floe tap --json` printed. j is left as it was.
 */
static bool filter_match(const char *agent_name, const struct entry_filter *f, json_t *j)
{
	bool added = false, m;

	if (agent_name[0] && !json_object_get(j, "agent"))
		added = json_object_set_new(j, "agent", json_string(agent_name)) == 0;
	m = entry_filter_match(f, j);
	if (added)
		json_object_del(j, "agent");
	return m;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void hits_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].json);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
	entry_json_buf_free(&c->buf);
}

/* Sorted, and cut to the limit: memory stays within twice the limit. */
static void hits_trim(struct collect *c)
{
	if (c->n > 1) /* qsort's base may not be NULL, and nothing hit leaves v NULL */
		qsort(c->v, c->n, sizeof(*c->v), hit_cmp);
	if (!c->keep)
		return;
	for (size_t i = c->keep; i < c->n; i++)
		free(c->v[i].json);
	if (c->n > c->keep)
		c->n = c->keep;
}

static void strip_body(json_t *o, const char *half)
{
	json_t *h = json_object_get(o, half);

	if (json_is_object(h))
		json_object_del(h, "body");
}

static int collect_fn(const char *id, int64_t ts, const char *json, size_t len, void *arg)
{
	struct collect *c = arg;
	const struct agent_query *q = c->q;
	json_t *j = NULL;
	const char *out = json;
	size_t outlen = len;
	struct hit *h;

	if (q->after_id &&
	    (ts < q->after_ts_ns || (ts == q->after_ts_ns && strcmp(id, q->after_id) <= 0)))
		return 0;
	/* A full set that this one cannot enter: skip it before parsing. */
	if (c->keep && c->n >= c->keep && c->v[c->keep - 1].ts < ts && c->n == c->keep)
		return 0;
	if (c->filter || !q->with_bodies) {
		j = json_loadb(json, len, 0, NULL);
		if (!j)
			return 0; /* the reader checked the line's shape; jansson refuses it */
		if (c->filter && !filter_match(c->agent_name, c->filter, j)) {
			json_decref(j);
			return 0;
		}
		if (!q->with_bodies) {
			strip_body(j, "request");
			strip_body(j, "response");
			c->buf.len = 0;
			if (entry_json_append(&c->buf, j)) {
				json_decref(j);
				c->err = -ENOMEM;
				return 1;
			}
			out = c->buf.p;
			outlen = c->buf.len;
		}
		json_decref(j);
	}
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct hit *nv = realloc(c->v, nc * sizeof(*nv));

		if (!nv) {
			c->err = -ENOMEM;
			return 1;
		}
		c->v = nv;
		c->cap = nc;
	}
	h = &c->v[c->n];
	h->json = malloc(outlen ? outlen : 1);
	if (!h->json) {
		c->err = -ENOMEM;
		return 1;
	}
	memcpy(h->json, out, outlen);
	h->len = outlen;
	h->ts = ts;
	snprintf(h->id, sizeof(h->id), "%s", id);
	c->n++;
	if (c->keep && c->n >= 2 * c->keep)
		hits_trim(c);
	return 0;
}

/*
 * The matching entries of q, sorted and cut to its limit, in c (hits_free after). 0, or
 * -errno; -EBADMSG when a damaged segment was skipped (the rest is in c).
 */
static int run_query(struct agent_local *a, const struct agent_query *q, struct collect *c,
		     char *err, size_t errlen)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->agent_name = a->name;
	c->q = q;
	c->keep = q->limit;
	ret = compile(q->filter, &c->filter, err, errlen);
	if (ret)
		return ret;
	if (a->cfg.history)
		entry_history_sync(a->cfg.history);
	ret = entry_history_read(a->store_dir, q->since_ns, q->until_ns, collect_fn, c, NULL, err,
				 errlen);
	entry_filter_free(c->filter);
	c->filter = NULL;
	if (c->err) {
		snprintf(err, errlen, "out of memory");
		hits_free(c);
		return c->err;
	}
	hits_trim(c);
	return ret;
}

static int emit_hits(struct collect *c, agent_entry_fn fn, void *arg)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_entry e = {.id = c->v[i].id,
					.ts_ns = c->v[i].ts,
					.json = c->v[i].json,
					.json_len = c->v[i].len};

		if (fn(&e, arg))
			break;
	}
	return 0;
}

static int op_query(void *self, const struct agent_query *q, agent_entry_fn fn, void *arg,
		    char *err, size_t errlen)
{
	struct agent_local *a = self;
	int64_t t0 = mono_ns();
	struct collect c;
	int ret = run_query(self, q, &c, err, errlen);

	if (ret && ret != -EBADMSG)
		goto out;
	emit_hits(&c, fn, arg);
	hits_free(&c);
out:
	metrics_latency_observe(&a->lat_query, mono_ns() - t0);
	return ret;
}

/* ---- get ---- */

struct get_ctx {
	const char *id;
	char *json;
	size_t len;
	int64_t ts;
	bool found;
};

static int get_fn(const char *id, int64_t ts, const char *json, size_t len, void *arg)
{
	struct get_ctx *g = arg;

	if (strcmp(id, g->id))
		return 0;
	g->json = malloc(len ? len : 1);
	if (g->json) {
		memcpy(g->json, json, len);
		g->len = len;
		g->ts = ts;
		g->found = true;
	}
	return 1;
}

static int get_entry(struct agent_local *a, const char *id, agent_entry_fn fn, void *arg,
		     char *err, size_t errlen);

static int op_get(void *self, const char *id, agent_entry_fn fn, void *arg, char *err,
		  size_t errlen)
{
	struct agent_local *a = self;
	int64_t t0 = mono_ns();
	int ret = get_entry(a, id, fn, arg, err, errlen);

	metrics_latency_observe(&a->lat_get, mono_ns() - t0);
	return ret;
}

static int get_entry(struct agent_local *a, const char *id, agent_entry_fn fn, void *arg,
		     char *err, size_t errlen)
{
	struct get_ctx g = {.id = id};
	int ret;

	if (a->cfg.history)
		entry_history_sync(a->cfg.history);
	ret = entry_history_read(a->store_dir, 0, 0, get_fn, &g, NULL, err, errlen);
	if (g.found) {
		struct agent_entry e = {.id = id, .ts_ns = g.ts, .json = g.json, .json_len = g.len};

		fn(&e, arg);
		free(g.json);
		return 0;
	}
	if (ret)
		return ret;
	snprintf(err, errlen, "no entry %s on this agent", id);
	return -ENOENT;
}

/* ---- follow ---- */

void agent_local_entry(struct agent_local *a, struct entry_history *h, struct entry_json_buf *buf,
		       const struct entry *e)
{
	int64_t ts = (int64_t)(e->request_ts_ns ? e->request_ts_ns : e->response_ts_ns);

	if (!a && !h)
		return;
	buf->len = 0;
	if (entry_json_append_entry(buf, e))
		return; /* ENOMEM: this entry is not kept (nothing to count it against) */
	if (h)
		entry_history_append(h, e->id, ts, buf->p, buf->len);
	if (a)
		agent_local_publish(a, e->id, ts, buf->p, buf->len);
}

void agent_local_publish(struct agent_local *a, const char *id, int64_t ts_ns, const char *json,
			 size_t json_len)
{
	struct live *l = NULL;

	pthread_rwlock_rdlock(&a->subs_lock);
	for (struct sub *s = a->subs; s; s = s->next) {
		if (!l) {
			l = malloc(sizeof(*l) + json_len);
			if (!l) {
				s->lost++; /* racy only against itself: this thread alone adds */
				continue;
			}
			atomic_init(&l->refs, 1); /* ours, dropped below */
			l->ts = ts_ns;
			l->len = json_len;
			snprintf(l->id, sizeof(l->id), "%s", id);
			memcpy(l->json, json, json_len);
		}
		pthread_mutex_lock(&s->lock);
		if (s->count == s->cap) {
			s->lost++;
		} else {
			atomic_fetch_add(&l->refs, 1);
			s->ring[(s->head + s->count++) % s->cap] = l;
			pthread_cond_signal(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_rwlock_unlock(&a->subs_lock);
	live_unref(l);
}

static int op_follow(void *self, const char *filter, struct agent_follow *f, agent_entry_fn fn,
		     void *arg, char *err, size_t errlen)
{
	struct agent_local *a = self;
	struct entry_filter *flt;
	struct sub *s;
	int ret = compile(filter, &flt, err, errlen);

	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (s) {
		s->cap = a->cfg.follow_queue ? a->cfg.follow_queue : DEFAULT_FOLLOW_QUEUE;
		s->ring = calloc(s->cap, sizeof(*s->ring));
	}
	if (!s || !s->ring) {
		free(s);
		entry_filter_free(flt);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_rwlock_wrlock(&a->subs_lock);
	s->next = a->subs;
	a->subs = s;
	pthread_rwlock_unlock(&a->subs_lock);
	agent_follow_started(f);

	while (!f->stop) {
		struct live *l = NULL;
		bool pass = true;
		json_t *j = NULL;
		int stop = 0;

		pthread_mutex_lock(&s->lock);
		if (!s->count) {
			/* f->stop is a plain flag: look at it again at least every 100 ms */
			struct timespec dl;

			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_nsec += 100000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->cond, &s->lock, &dl);
		}
		if (s->count) {
			l = s->ring[s->head];
			s->head = (s->head + 1) % s->cap;
			s->count--;
		}
		f->lost = s->lost;
		pthread_mutex_unlock(&s->lock);
		if (!l)
			continue;
		if (flt) {
			j = json_loadb(l->json, l->len, 0, NULL);
			pass = j && filter_match(a->name, flt, j);
		}
		if (pass) {
			/* the tree lent along: a trigger set's follow matches each trigger's query
			 * on it instead of parsing the text again */
			struct agent_entry e = {.id = l->id,
						.ts_ns = l->ts,
						.json = l->json,
						.json_len = l->len,
						.tree = j};

			stop = fn(&e, arg);
		}
		json_decref(j);
		live_unref(l);
		if (stop)
			break;
	}

	pthread_rwlock_wrlock(&a->subs_lock);
	for (struct sub **p = &a->subs; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_rwlock_unlock(&a->subs_lock);
	f->lost = s->lost;
	while (s->count) {
		live_unref(s->ring[s->head]);
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->ring);
	free(s);
	entry_filter_free(flt);
	return 0;
}

/* ---- pcap ---- */

/* A connection's packets: both endpoints (the smaller first) and a time window. */
struct conn_window {
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	int64_t lo, hi;
	bool synthetic; /* the connection's TLS plaintext frames (store/tls_pcap.h), else captured */
};

static int endpoint_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
	int c = memcmp(a, b, 16);

	return c ? c : (pa < pb ? -1 : pa > pb);
}

static int window_key_cmp(const struct conn_window *x, const struct conn_window *y)
{
	int c = endpoint_cmp(x->a, x->pa, y->a, y->pa);

	return c ? c : endpoint_cmp(x->b, x->pb, y->b, y->pb);
}

static int window_cmp(const void *p, const void *q)
{
	const struct conn_window *x = p, *y = q;
	int c = window_key_cmp(x, y);

	return c ? c : (x->lo < y->lo ? -1 : x->lo > y->lo);
}

/* "10.0.0.1" / "fd00::2" as struct packet holds it (IPv4 mapped into ::ffff:0:0/96). */
static bool parse_addr(const char *s, uint8_t out[16])
{
	uint8_t v4[4];

	if (s && inet_pton(AF_INET, s, v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		return true;
	}
	return s && inet_pton(AF_INET6, s, out) == 1;
}

static bool endpoint_of(json_t *j, const char *side, uint8_t addr[16], uint16_t *port)
{
	json_t *e = json_object_get(j, side);
	bool ok = parse_addr(json_string_value(json_object_get(e, "ip")), addr) &&
		  json_is_integer(json_object_get(e, "port"));

	if (ok)
		*port = (uint16_t)json_integer_value(json_object_get(e, "port"));
	return ok;
}

/* The window of an entry's connection (ts: its merge key); false when it has no endpoints. */
static bool window_of(const char *json, size_t len, int64_t ts, struct conn_window *x)
{
	json_t *j = json_loadb(json, len, 0, NULL);
	json_t *el = json_object_get(j, "elapsed_ms");
	uint8_t sa[16], da[16];
	uint16_t sp, dp;
	bool ok = endpoint_of(j, "src", sa, &sp) && endpoint_of(j, "dst", da, &dp);

	if (ok) {
		if (endpoint_cmp(sa, sp, da, dp) <= 0) {
			memcpy(x->a, sa, 16), x->pa = sp, memcpy(x->b, da, 16), x->pb = dp;
		} else {
			memcpy(x->a, da, 16), x->pa = dp, memcpy(x->b, sa, 16), x->pb = sp;
		}
		x->lo = ts - AGENT_PCAP_SLACK_NS;
		x->hi = ts + (int64_t)((json_is_number(el) ? json_number_value(el) : 0) * 1e6) +
			AGENT_PCAP_SLACK_NS;
		/* An entry read from TLS plaintext: its packets are the synthetic ones. */
		x->synthetic = json_is_true(json_object_get(j, "tls"));
	}
	json_decref(j);
	return ok;
}

struct pcap_out {
	agent_bytes_fn fn;
	void *arg;
	uint8_t buf[PCAP_CHUNK];
	size_t len;
	bool stopped;
};

static void out_flush(struct pcap_out *o)
{
	if (o->len && !o->stopped && o->fn(o->buf, o->len, o->arg))
		o->stopped = true;
	o->len = 0;
}

static void out_put(struct pcap_out *o, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n && !o->stopped) {
		size_t k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;

		memcpy(o->buf + o->len, b, k);
		o->len += k;
		b += k;
		n -= k;
		if (o->len == sizeof(o->buf))
			out_flush(o);
	}
}

static bool packet_wanted(const struct conn_window *w, size_t n, const struct packet *p,
			  bool synthetic)
{
	struct conn_window k;
	size_t lo = 0, hi = n;

	if (!(p->flags & PACKET_F_L4))
		return false;
	if (endpoint_cmp(p->src, p->sport, p->dst, p->dport) <= 0) {
		memcpy(k.a, p->src, 16), k.pa = p->sport;
		memcpy(k.b, p->dst, 16), k.pb = p->dport;
	} else {
		memcpy(k.a, p->dst, 16), k.pa = p->dport;
		memcpy(k.b, p->src, 16), k.pb = p->sport;
	}
	while (lo < hi) { /* the first window of this connection */
		size_t mid = (lo + hi) / 2;

		if (window_key_cmp(&w[mid], &k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && !window_key_cmp(&w[lo], &k); lo++)
		if (w[lo].synthetic == synthetic && (int64_t)p->ts_ns >= w[lo].lo &&
		    (int64_t)p->ts_ns < w[lo].hi)
			return true;
	return false;
}

/* The BPF text that narrows the export to these connections; NULL: none (too many). */
static char *bpf_text(const struct conn_window *w, size_t n)
{
	char *s = NULL;
	size_t len = 0, distinct = 0;
	FILE *f;

	for (size_t i = 0; i < n; i++)
		if (!i || window_key_cmp(&w[i - 1], &w[i]))
			distinct++;
	if (!distinct || distinct > BPF_TUPLES_MAX)
		return NULL;
	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (size_t i = 0, k = 0; i < n; i++) {
		char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];
		bool v4 = packet_addr_is_v4mapped(w[i].a);

		if (i && !window_key_cmp(&w[i - 1], &w[i]))
			continue;
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? w[i].a + 12 : w[i].a, x, sizeof(x));
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? w[i].b + 12 : w[i].b, y, sizeof(y));
		fprintf(f, "%s(host %s and host %s and port %u and port %u)", k++ ? " or " : "", x,
			y, w[i].pa, w[i].pb);
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * The store exported through a BPF filter of the connections into a private temporary file,
 * then read back packet by packet: kept when it belongs to one of the connections within its
 * time window. One PCAP (nanosecond, Ethernet) goes to fn in chunks.
 */
static int op_pcap(void *self, const struct agent_query *q, agent_bytes_fn fn, void *arg, char *err,
		   size_t errlen)
{
	struct agent_local *a = self;
	struct agent_query all = *q;
	struct collect c;
	struct conn_window *w = NULL;
	size_t n = 0;
	char dir[] = "/tmp/floe-pcap-XXXXXX", path[64], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_export_stats es;
	struct pcap_out *o = NULL;
	char *bpf = NULL;
	pcap_t *p = NULL;
	int ret, export_ret;
	bool made_dir = false;

	all.with_bodies = 1; /* the addresses are all that is read */
	/* The entries a caller has seen were dissected from packets queued to the store before
	 * them; the writer may still hold those (it batches), and the export reads the files. */
	pthread_rwlock_rdlock(&a->store_lock);
	pcap_store_sync(a->store);
	pthread_rwlock_unlock(&a->store_lock);
	ret = run_query(a, &all, &c, err, errlen);
	if (ret && ret != -EBADMSG)
		return ret;
	w = calloc(c.n ? c.n : 1, sizeof(*w));
	if (!w) {
		hits_free(&c);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c.n; i++)
		if (window_of(c.v[i].json, c.v[i].len, c.v[i].ts, &w[n]))
			n++;
	hits_free(&c);
	qsort(w, n, sizeof(*w), window_cmp);
	o = malloc(sizeof(*o));
	if (!o) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->fn = fn;
	o->arg = arg;
	o->len = 0;
	o->stopped = false;
	{
		/* The file header: nanosecond magic, 2.4, snaplen 262144, LINKTYPE_ETHERNET */
		uint32_t h[6] = {0xa1b23c4du, 2u | 4u << 16, 0, 0, 262144u, 1u};

		out_put(o, h, sizeof(h));
	}
	export_ret = 0;
	if (n) {
		if (!mkdtemp(dir)) {
			ret = -errno;
			snprintf(err, errlen, "temporary directory: %s", strerror(errno));
			goto out;
		}
		made_dir = true;
		snprintf(path, sizeof(path), "%s/export.pcap", dir);
		bpf = bpf_text(w, n);
		export_ret = pcap_store_export(a->store_dir, path, PCAP_EXPORT_ALL, bpf, &es, err,
					       errlen);
		if (export_ret && export_ret != -EBADMSG) {
			ret = export_ret;
			goto out;
		}
		p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
		if (!p) {
			ret = -EIO;
			snprintf(err, errlen, "reading the export: %s", ebuf);
			goto out;
		}
		for (;;) {
			struct pcap_pkthdr *ph;
			const u_char *data;
			struct packet pk;
			int r = pcap_next_ex(p, &ph, &data);
			uint64_t ts;

			if (r != 1)
				break;
			ts = (uint64_t)ph->ts.tv_sec * 1000000000ull + (uint64_t)ph->ts.tv_usec;
			if (packet_decode(pcap_datalink(p), data, ph->caplen, ph->len, ts, &pk) ||
			    !packet_wanted(w, n, &pk, tls_pcap_is_synthetic(data, ph->caplen)))
				continue;
			uint32_t rh[4] = {(uint32_t)ph->ts.tv_sec, (uint32_t)ph->ts.tv_usec,
					  ph->caplen, ph->len};

			out_put(o, rh, sizeof(rh));
			out_put(o, data, ph->caplen);
			if (o->stopped)
				break;
		}
	}
	out_flush(o);
	if (!ret && export_ret == -EBADMSG)
		ret = export_ret; /* delivered all that was readable; err names the damage */
out:
	if (p)
		pcap_close(p);
	if (made_dir) {
		unlink(path);
		rmdir(dir);
	}
	free(bpf);
	free(o);
	free(w);
	return ret;
}

/* ---- stats, info ---- */

/* The members the agent adds to the tap's statistics object: "query_latency" (its text, no
 * braces, NUL-terminated in b). */
static int latency_members(struct agent_local *a, struct entry_json_buf *b)
{
	int rc = 0;

	rc |= entry_json_append_raw(b, "\"query_latency\":{\"query\":", 25);
	rc |= metrics_latency_json(&a->lat_query, b);
	rc |= entry_json_append_raw(b, ",\"get\":", 7);
	rc |= metrics_latency_json(&a->lat_get, b);
	rc |= entry_json_append_raw(b, "}", 2); /* with its NUL */
	return rc ? -ENOMEM : 0;
}

static int op_stats(void *self, char **json_out, char *err, size_t errlen)
{
	struct agent_local *a = self;
	struct entry_history_stats hs = {};
	struct entry_json_buf m = {0};
	int ret = latency_members(a, &m);

	*json_out = NULL;
	if (!ret && a->cfg.stats) {
		ret = a->cfg.stats(a->cfg.stats_ctx, m.p, json_out);
	} else if (!ret) {
		if (a->cfg.history)
			entry_history_get_stats(a->cfg.history, &hs);
		if (asprintf(json_out,
			     "{\"history_entries\":%llu,\"history_dropped\":%llu,"
			     "\"history_evicted\":%llu,\"history_bytes\":%llu,%s}",
			     (unsigned long long)hs.entries_written,
			     (unsigned long long)hs.entries_dropped,
			     (unsigned long long)hs.entries_evicted, (unsigned long long)hs.bytes,
			     m.p) < 0) {
			*json_out = NULL;
			ret = -ENOMEM;
		}
	}
	entry_json_buf_free(&m);
	if (ret)
		snprintf(err, errlen, "out of memory");
	return ret;
}

static void op_info(void *self, struct agent_info *out)
{
	struct agent_local *a = self;
	struct timespec ts;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", a->name);
	snprintf(out->node, sizeof(out->node), "%s", a->node);
	snprintf(out->version, sizeof(out->version), "%s", FLOE_VERSION);
	out->connected = 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	out->last_seen_ns = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void op_destroy(void *self)
{
	struct agent_local *a = self;

	if (!a)
		return;
	pthread_rwlock_destroy(&a->subs_lock);
	free(a);
}

static const struct agent_api_ops local_ops = {
    .query = op_query,
    .get = op_get,
    .follow = op_follow,
    .pcap = op_pcap,
    .stats = op_stats,
    .info = op_info,
    .destroy = op_destroy,
};

int agent_local_new(const struct agent_local_config *cfg, struct agent_local **out, char *err,
		    size_t errlen)
{
	struct agent_local *a = calloc(1, sizeof(*a));
	char host[64] = "";

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->cfg = *cfg;
	snprintf(a->store_dir, sizeof(a->store_dir), "%s", cfg->store_dir);
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	snprintf(a->name, sizeof(a->name), "%s", cfg->name ? cfg->name : host);
	snprintf(a->node, sizeof(a->node), "%s", cfg->node ? cfg->node : a->name);
	pthread_rwlock_init(&a->subs_lock, NULL);
	pthread_rwlock_init(&a->store_lock, NULL);
	a->store = cfg->store;
	*out = a;
	return 0;
}

void agent_local_detach_store(struct agent_local *a)
{
	if (!a)
		return;
	pthread_rwlock_wrlock(&a->store_lock);
	a->store = NULL;
	pthread_rwlock_unlock(&a->store_lock);
}

struct agent_api agent_local_api(struct agent_local *a)
{
	return (struct agent_api){.ops = &local_ops, .self = a};
}
