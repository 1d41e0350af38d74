/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_servicemap.h"
#include "entry/hash.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct map_node {
	char *id; /* "namespace/name" */
	char *name, *ns;
	const char *kind; /* "pod", "service", "name", "ip", "unknown" */
};

struct map_edge {
	char *key; /* source \x1f target \x1f protocol */
	size_t src, dst; /* node indexes */
	char *protocol;
	uint64_t requests, errors;
	uint64_t timed; /* requests with an elapsed time */
	double *lat;	/* the kept latencies (ms) */
	size_t nlat, caplat;
};

/* Open addressing over indexes into the node or edge array; slot value 0 = empty. */
struct index {
	size_t *slot; /* index + 1 */
	size_t cap;   /* a power of two, at least twice the most entries it holds */
};

struct hub_map {
	pthread_mutex_t lock;
	struct hub_map_limits lim;
	struct map_node *nodes;
	size_t nnodes;
	struct map_edge *edges;
	size_t nedges;
	struct index node_ix, edge_ix;
	size_t samples; /* latencies kept, all edges */
	uint64_t entries, dropped, unreadable;
};

static int index_init(struct index *ix, size_t max)
{
	ix->cap = 16;
	while (ix->cap < 2 * max)
		ix->cap *= 2;
	ix->slot = calloc(ix->cap, sizeof(*ix->slot));
	return ix->slot ? 0 : -ENOMEM;
}

/* The slot where key is, or the empty one where it would go. key_at(i) names item i's key. */
static size_t *index_find(struct index *ix, const char *key, const char *(*key_at)(void *, size_t),
			  void *items)
{
	size_t i = fnv1a64_str(key) & (ix->cap - 1);
	while (ix->slot[i] && strcmp(key_at(items, ix->slot[i] - 1), key))
		i = (i + 1) & (ix->cap - 1);
	return &ix->slot[i];
}

static const char *node_key(void *items, size_t i)
{
	return ((struct map_node *)items)[i].id;
}

static const char *edge_key(void *items, size_t i)
{
	return ((struct map_edge *)items)[i].key;
}

struct hub_map *hub_map_new(const struct hub_map_limits *lim)
{
	struct hub_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	if (lim)
		m->lim = *lim;
	if (!m->lim.max_nodes)
		m->lim.max_nodes = 2048;
	if (!m->lim.max_edges)
		m->lim.max_edges = 4096;
	if (!m->lim.max_samples)
		m->lim.max_samples = 1000000;
	m->nodes = calloc(m->lim.max_nodes, sizeof(*m->nodes));
	m->edges = calloc(m->lim.max_edges, sizeof(*m->edges));
	if (!m->nodes || !m->edges || index_init(&m->node_ix, m->lim.max_nodes) ||
	    index_init(&m->edge_ix, m->lim.max_edges)) {
		hub_map_free(m);
		return NULL;
	}
	return m;
}

void hub_map_free(struct hub_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nnodes; i++) {
		free(m->nodes[i].id);
		free(m->nodes[i].name);
		free(m->nodes[i].ns);
	}
	for (size_t i = 0; i < m->nedges; i++) {
		free(m->edges[i].key);
		free(m->edges[i].protocol);
		free(m->edges[i].lat);
	}
	free(m->nodes);
	free(m->edges);
	free(m->node_ix.slot);
	free(m->edge_ix.slot);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ------------------------------------------------------------------ one entry */

static const char *str_at(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

static double num_at(const json_t *o, const char *key, int *has)
{
	const json_t *v = json_object_get(o, key);
	*has = json_is_number(v);
	return *has ? json_number_value(v) : 0;
}

/*
 * Whether an entry is an error, protocol by protocol (the UI's list marks the same):
 * HTTP (and GraphQL) status >= 400 (GraphQL also with errors in its answer), gRPC status != 0
 * or none (reset, cut short: never the HTTP status), Redis error replies, DNS rcode other than
 * NOERROR, Kafka error_code > 0, AMQP reply_code >= 300, and any entry missing a half.
 */
static int entry_is_error(const json_t *e, const char *protocol)
{
	const json_t *rs = json_object_get(e, "response");
	int has;
	if (str_at(e, "missing"))
		return 1;
	if (!strcmp(protocol, "grpc")) {
		const json_t *g = json_object_get(e, "grpc");
		double st = num_at(g, "status", &has);
		return !has || st != 0; /* no grpc-status: the call did not complete */
	}
	if (!strcmp(protocol, "graphql"))
		return num_at(rs, "status", &has) >= 400 ||
		       num_at(json_object_get(e, "graphql"), "error_count", &has) > 0;
	if (!strcmp(protocol, "redis")) {
		const char *t = str_at(rs, "type");
		return t && !strcmp(t, "error");
	}
	if (!strcmp(protocol, "dns")) {
		const char *rc = str_at(rs, "rcode");
		return rc && strcmp(rc, "NOERROR");
	}
	if (!strcmp(protocol, "kafka"))
		return num_at(rs, "error_code", &has) > 0;
	if (!strcmp(protocol, "amqp"))
		return num_at(rs, "reply_code", &has) >= 300;
	if (!strcmp(protocol, "tls"))
		return 0;
	return num_at(rs, "status", &has) >= 400;
}

/* Under m->lock. The index of ep's node, made when new; -1 when the table is full. */
static long node_of(struct hub_map *m, const json_t *ep, int *nomem)
{
	const char *kind = "unknown", *name = "?";
	static const char *const kinds[] = {"pod", "service", "name", "ip"};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (str_at(ep, kinds[k])) {
			kind = kinds[k];
			name = str_at(ep, kinds[k]);
			break;
		}
	const char *ns = str_at(ep, "namespace");
	if (!ns)
		ns = "";
	size_t idlen = strlen(ns) + 1 + strlen(name) + 1;
	char *id = malloc(idlen);
	if (!id) {
		*nomem = 1;
		return -1;
	}
	snprintf(id, idlen, "%s/%s", ns, name);
	size_t *slot = index_find(&m->node_ix, id, node_key, m->nodes);
	if (*slot) {
		free(id);
		return (long)(*slot - 1);
	}
	if (m->nnodes == m->lim.max_nodes) {
		free(id);
		return -1;
	}
	struct map_node *n = &m->nodes[m->nnodes];
	n->id = id;
	n->name = strdup(name);
	n->ns = strdup(ns);
	n->kind = kind;
	if (!n->name || !n->ns) {
		free(n->name);
		free(n->ns);
		free(id);
		memset(n, 0, sizeof(*n));
		*nomem = 1;
		return -1;
	}
	*slot = ++m->nnodes;
	return (long)(m->nnodes - 1);
}

/* Under m->lock. The edge src → dst for protocol, made when new; NULL when full. */
static struct map_edge *edge_of(struct hub_map *m, size_t src, size_t dst, const char *protocol,
				int *nomem)
{
	size_t klen = strlen(m->nodes[src].id) + strlen(m->nodes[dst].id) + strlen(protocol) + 3;
	char *key = malloc(klen);
	if (!key) {
		*nomem = 1;
		return NULL;
	}
	snprintf(key, klen, "%s\x1f%s\x1f%s", m->nodes[src].id, m->nodes[dst].id, protocol);
	size_t *slot = index_find(&m->edge_ix, key, edge_key, m->edges);
	if (*slot) {
		free(key);
		return &m->edges[*slot - 1];
	}
	if (m->nedges == m->lim.max_edges) {
		free(key);
		return NULL;
	}
	struct map_edge *e = &m->edges[m->nedges];
	e->key = key;
	e->src = src;
	e->dst = dst;
	e->protocol = strdup(protocol);
	if (!e->protocol) {
		free(key);
		memset(e, 0, sizeof(*e));
		*nomem = 1;
		return NULL;
	}
	*slot = ++m->nedges;
	return e;
}

/* Under m->lock. */
static int keep_latency(struct hub_map *m, struct map_edge *e, double ms)
{
	if (m->samples >= m->lim.max_samples)
		return 0; /* the budget is spent: this edge's percentiles are over fewer */
	if (e->nlat == e->caplat) {
		size_t cap = e->caplat ? e->caplat * 2 : 16;
		double *v = realloc(e->lat, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		e->lat = v;
		e->caplat = cap;
	}
	e->lat[e->nlat++] = ms;
	m->samples++;
	return 0;
}

int hub_map_add(struct hub_map *m, const char *json, size_t len)
{
	json_t *e = json_loadb(json, len, 0, NULL);
	if (!json_is_object(e)) {
		json_decref(e);
		pthread_mutex_lock(&m->lock);
		m->unreadable++;
		pthread_mutex_unlock(&m->lock);
		return -EINVAL;
	}
	const char *protocol = str_at(e, "protocol");
	if (!protocol)
		protocol = "unknown";
	int err = entry_is_error(e, protocol), has_ms;
	double ms = num_at(e, "elapsed_ms", &has_ms);
	int nomem = 0, rc = 0;
	pthread_mutex_lock(&m->lock);
	m->entries++;
	long src = node_of(m, json_object_get(e, "src"), &nomem);
	long dst = src < 0 ? -1 : node_of(m, json_object_get(e, "dst"), &nomem);
	struct map_edge *ed =
	    dst < 0 ? NULL : edge_of(m, (size_t)src, (size_t)dst, protocol, &nomem);
	if (ed) {
		ed->requests++;
		ed->errors += err != 0;
		if (has_ms && isfinite(ms)) {
			ed->timed++;
			rc = keep_latency(m, ed, ms);
		}
	} else {
		m->dropped++;
	}
	pthread_mutex_unlock(&m->lock);
	json_decref(e);
	return nomem ? -ENOMEM : rc;
}

/* ------------------------------------------------------------------ the answer */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct map_node *)a)->id, ((const struct map_node *)b)->id);
}

/* By (source, target, protocol): the key's separator (\x1f) sorts before any character of
 * an id, so the keys' byte order is that order. */
static int cmp_edge(const void *a, const void *b)
{
	return strcmp(((const struct map_edge *)a)->key, ((const struct map_edge *)b)->key);
}

/* The value at rank floor(p * n) of sorted v (the last for p = 1): a value that occurred. */
static json_t *percentile(const double *v, size_t n, double p)
{
	if (!n)
		return json_null();
	size_t i = (size_t)floor(p * (double)n);
	return json_real(v[i < n ? i : n - 1]);
}

json_t *hub_map_json(struct hub_map *m, double window_s)
{
	pthread_mutex_lock(&m->lock);
	json_t *nodes = json_array(), *edges = json_array();
	/* Edges name their nodes by id: sort a copy of the node order for the output only. */
	struct map_node *sorted = malloc((m->nnodes ? m->nnodes : 1) * sizeof(*sorted));
	struct map_edge *es = malloc((m->nedges ? m->nedges : 1) * sizeof(*es));
	json_t *out = NULL;
	if (!nodes || !edges || !sorted || !es)
		goto done;
	memcpy(sorted, m->nodes, m->nnodes * sizeof(*sorted));
	qsort(sorted, m->nnodes, sizeof(*sorted), cmp_node);
	memcpy(es, m->edges, m->nedges * sizeof(*es));
	qsort(es, m->nedges, sizeof(*es), cmp_edge);
	int rc = 0;
	for (size_t i = 0; i < m->nnodes; i++)
		rc |= json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s}", "id",
							     sorted[i].id, "name", sorted[i].name,
							     "namespace", sorted[i].ns, "kind",
							     sorted[i].kind));
	for (size_t i = 0; i < m->nedges; i++) {
		struct map_edge *e = &es[i];
		if (e->nlat > 1)
			qsort(e->lat, e->nlat, sizeof(*e->lat), cmp_double);
		rc |= json_array_append_new(
		    edges,
		    json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:o, s:o, s:I}", "source",
			      m->nodes[e->src].id, "target", m->nodes[e->dst].id, "protocol",
			      e->protocol, "requests", (json_int_t)e->requests, "errors",
			      (json_int_t)e->errors, "rate",
			      window_s > 0 ? (double)e->requests / window_s : 0.0, "error_rate",
			      e->requests ? (double)e->errors / (double)e->requests : 0.0,
			      "p50_ms", percentile(e->lat, e->nlat, 0.50), "p99_ms",
			      percentile(e->lat, e->nlat, 0.99), "latency_samples",
			      (json_int_t)e->nlat));
	}
	if (rc)
		goto done;
	out = json_pack("{s:f, s:I, s:I, s:I, s:O, s:O}", "window_s", window_s, "entries",
			(json_int_t)m->entries, "dropped", (json_int_t)m->dropped, "unreadable",
			(json_int_t)m->unreadable, "nodes", nodes, "edges", edges);
done:
	pthread_mutex_unlock(&m->lock);
	json_decref(nodes);
	json_decref(edges);
	free(sorted);
	free(es);
	return out;
}

/* ------------------------------------------------------------------ the route */

struct map_fan {
	struct agent_api *agents;
	const struct agent_query *q;
	struct hub_map *m;
	int *rc;
	char (*err)[256];
};

/* Entries asked of an agent at once: an agent sorts what a query matches before answering, so
 * the map pages through its history rather than have it hold a whole window. */
#define MAP_PAGE 10000

struct map_page {
	struct hub_map *m;
	size_t n;	 /* entries in this page */
	int64_t last_ts; /* the page's last entry: where the next one starts */
	char *last_id;
	int nomem;
};

static int fold_entry(const struct agent_entry *e, void *arg)
{
	struct map_page *p = arg;
	/* An entry that is not JSON is counted and skipped; only memory stops the query. */
	if (hub_map_add(p->m, e->json, e->json_len) == -ENOMEM)
		goto nomem;
	char *id = strdup(e->id ? e->id : "");
	if (!id)
		goto nomem;
	free(p->last_id);
	p->last_id = id;
	p->last_ts = e->ts_ns;
	p->n++;
	return 0;
nomem:
	p->nomem = 1;
	return -1;
}

static void map_one(size_t i, void *arg)
{
	struct map_fan *f = arg;
	struct agent_api *a = &f->agents[i];
	struct agent_query q = *f->q;
	struct map_page p = {.m = f->m};
	q.limit = MAP_PAGE;
	f->err[i][0] = 0;
	for (;;) {
		p.n = 0;
		f->rc[i] = a->ops->query(a->self, &q, fold_entry, &p, f->err[i], 256);
		if (!f->rc[i] && p.nomem) {
			f->rc[i] = -ENOMEM;
			snprintf(f->err[i], 256, "out of memory");
		}
		if (f->rc[i] || p.n < MAP_PAGE)
			break;
		q.after_ts_ns = p.last_ts;
		q.after_id = p.last_id;
	}
	free(p.last_id);
}

int hub_servicemap(struct agent_api *agents, size_t n, const char *filter, int64_t since_ns,
		   int64_t until_ns, const struct hub_map_limits *lim, json_t **out,
		   struct hub_errors *errs)
{
	size_t nn = n ? n : 1;
	struct agent_query q = {.filter = filter, .since_ns = since_ns, .until_ns = until_ns};
	struct hub_map *m = hub_map_new(lim);
	int *rc = calloc(nn, sizeof(*rc));
	char(*err)[256] = calloc(nn, 256);
	int ret = -ENOMEM;
	memset(errs, 0, sizeof(*errs));
	*out = NULL;
	errs->v = calloc(nn, sizeof(*errs->v));
	if (!m || !rc || !err || !errs->v)
		goto done;
	struct map_fan f = {.agents = agents, .q = &q, .m = m, .rc = rc, .err = err};
	hub_fanout(n, map_one, &f);
	for (size_t i = 0; i < n; i++)
		if (rc[i]) {
			struct hub_agent_error *e = &errs->v[errs->n++];
			e->agent = i;
			e->code = rc[i];
			snprintf(e->msg, sizeof(e->msg), "%s", err[i][0] ? err[i] : strerror(-rc[i]));
		}
	*out = hub_map_json(m, (double)(until_ns - since_ns) / 1e9);
	ret = *out ? 0 : -ENOMEM;
done:
	hub_map_free(m);
	free(rc);
	free(err);
	return ret;
}
