// SPDX-License-Identifier: Apache-2.0
#include "api/agent_api_mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "entry/entry_filter.h"
#include "entry/hash.h"

struct mem_packet {
	int64_t ts_ns;
	size_t len;
	unsigned char *frame;
};

/* Entries are immutable once added and freed only with the agent: callers may hold pointers. */
struct mem_entry {
	char *id;
	int64_t ts_ns;
	json_t *obj;
	char *json; /* obj as compact text, in full */
	struct mem_packet *packets;
	size_t npackets, cap_packets;
};

struct mem_follower {
	struct mem_follower *next;
	struct mem_entry **ring;
	size_t head, count, cap;
	struct agent_follow *f;
};

struct mem_agent {
	pthread_mutex_t lock;
	pthread_cond_t added;
	struct agent_api_mem_opts opts;
	char name[64];
	struct mem_entry **entries; /* in merge order */
	size_t n, cap;
	/* The same entries by id (open addressing, at most half full): a linear search made
	 * adding N entries O(N^2), too slow for the UI's load test (5,000 a second). */
	struct mem_entry **by_id;
	size_t id_cap;
	struct mem_follower *followers;
	uint64_t lost;
	bool down;
};

static int mem_cmp_key(int64_t ts_a, const char *id_a, int64_t ts_b, const char *id_b)
{
	if (ts_a != ts_b)
		return ts_a < ts_b ? -1 : 1;
	return strcmp(id_a, id_b);
}

/* Index of the first entry after (ts, id) in merge order; with id NULL, the first at ts or later.
 */
static size_t mem_lower_bound(const struct mem_agent *a, int64_t ts, const char *id)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mem_entry *e = a->entries[mid];
		int c = id ? mem_cmp_key(e->ts_ns, e->id, ts, id) : (e->ts_ns < ts ? -1 : 1);

		if (c <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t mem_id_hash(const char *s)
{
	return (size_t)fnv1a64_str(s);
}

static struct mem_entry *mem_find(const struct mem_agent *a, const char *id)
{
	if (!a->id_cap)
		return NULL;
	for (size_t i = mem_id_hash(id) & (a->id_cap - 1);; i = (i + 1) & (a->id_cap - 1)) {
		if (!a->by_id[i])
			return NULL;
		if (strcmp(a->by_id[i]->id, id) == 0)
			return a->by_id[i];
	}
}

/* Under the lock; e's id is not there yet. 0 or -ENOMEM. */
static int mem_index(struct mem_agent *a, struct mem_entry *e)
{
	if ((a->n + 1) * 2 > a->id_cap) {
		size_t cap = a->id_cap ? a->id_cap * 2 : 128;
		struct mem_entry **v = calloc(cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < a->id_cap; i++) {
			if (!a->by_id[i])
				continue;
			size_t j = mem_id_hash(a->by_id[i]->id) & (cap - 1);

			while (v[j])
				j = (j + 1) & (cap - 1);
			v[j] = a->by_id[i];
		}
		free(a->by_id);
		a->by_id = v;
		a->id_cap = cap;
	}
	size_t i = mem_id_hash(e->id) & (a->id_cap - 1);

	while (a->by_id[i])
		i = (i + 1) & (a->id_cap - 1);
	a->by_id[i] = e;
	return 0;
}

static int mem_refused(const struct mem_agent *a, char *err, size_t errlen)
{
	snprintf(err, errlen, "agent %s: connection refused", a->name);
	return -ECONNREFUSED;
}

void agent_entry_strip_bodies(json_t *entry)
{
	const char *key;
	json_t *v;

	if (json_is_array(entry)) {
		size_t i;

		json_array_foreach(entry, i, v) agent_entry_strip_bodies(v);
		return;
	}
	if (!json_is_object(entry))
		return;
	json_object_foreach(entry, key, v)
	{
		if (strcmp(key, "body") == 0 && json_is_object(v)) {
			json_object_del(v, "text");
			json_object_del(v, "base64");
		} else {
			agent_entry_strip_bodies(v);
		}
	}
}

static int mem_emit(const struct mem_entry *e, bool with_bodies, agent_entry_fn fn, void *arg)
{
	struct agent_entry out = {.id = e->id, .ts_ns = e->ts_ns};
	json_t *copy;
	char *text;
	int stop;

	if (with_bodies) {
		out.json = e->json;
		out.json_len = strlen(e->json);
		return fn(&out, arg);
	}
	copy = json_deep_copy(e->obj);
	if (!copy)
		return -ENOMEM;
	agent_entry_strip_bodies(copy);
	text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(copy);
	if (!text)
		return -ENOMEM;
	out.json = text;
	out.json_len = strlen(text);
	stop = fn(&out, arg);
	free(text);
	return stop;
}

static int mem_compile(const struct mem_agent *a, const char *text, struct entry_filter **out,
		       char *err, size_t errlen)
{
	int ret;

	*out = NULL;
	if (!text || !*text)
		return 0;
	if (a->opts.unchecked_filters)
		ret = entry_filter_compile(text, out, err, errlen);
	else
		ret = entry_filter_compile_checked(text, out, err, errlen);
	return ret;
}

/* The entries matching q, in merge order, copied under the lock (they live as long as a). */
static int mem_select(struct mem_agent *a, const struct agent_query *q, struct mem_entry ***out,
		      size_t *nout, char *err, size_t errlen)
{
	struct entry_filter *filter;
	struct mem_entry **sel = NULL;
	size_t n = 0, i;
	int ret = mem_compile(a, q->filter, &filter, err, errlen);

	if (ret)
		return ret;
	pthread_mutex_lock(&a->lock);
	if (a->down) {
		pthread_mutex_unlock(&a->lock);
		entry_filter_free(filter);
		return mem_refused(a, err, errlen);
	}
	i = q->after_id ? mem_lower_bound(a, q->after_ts_ns, q->after_id) : 0;
	if (q->since_ns) {
		size_t s = mem_lower_bound(a, q->since_ns, NULL);

		if (s > i)
			i = s;
	}
	sel = calloc(a->n - i + 1, sizeof(*sel));
	if (!sel) {
		pthread_mutex_unlock(&a->lock);
		entry_filter_free(filter);
		return -ENOMEM;
	}
	for (; i < a->n; i++) {
		struct mem_entry *e = a->entries[i];

		if (q->until_ns && e->ts_ns >= q->until_ns)
			break;
		if (q->limit && n == q->limit)
			break;
		if (filter && !entry_filter_match(filter, e->obj))
			continue;
		sel[n++] = e;
	}
	pthread_mutex_unlock(&a->lock);
	entry_filter_free(filter);
	*out = sel;
	*nout = n;
	return 0;
}

static int mem_query(void *self, const struct agent_query *q, agent_entry_fn fn, void *arg,
		     char *err, size_t errlen)
{
	struct mem_entry **sel;
	size_t n;
	int ret = mem_select(self, q, &sel, &n, err, errlen);

	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		ret = mem_emit(sel[i], q->with_bodies, fn, arg);
		if (ret) {
			ret = ret < 0 ? ret : 0;
			break;
		}
	}
	free(sel);
	return ret;
}

static int mem_get(void *self, const char *id, agent_entry_fn fn, void *arg, char *err,
		   size_t errlen)
{
	struct mem_agent *a = self;
	struct mem_entry *e;
	int ret;

	pthread_mutex_lock(&a->lock);
	if (a->down) {
		pthread_mutex_unlock(&a->lock);
		return mem_refused(a, err, errlen);
	}
	e = mem_find(a, id);
	pthread_mutex_unlock(&a->lock);
	if (!e) {
		snprintf(err, errlen, "agent %s: no entry %s", a->name, id);
		return -ENOENT;
	}
	ret = mem_emit(e, true, fn, arg);
	return ret < 0 ? ret : 0;
}

static void mem_unlink_follower(struct mem_agent *a, struct mem_follower *fo)
{
	for (struct mem_follower **p = &a->followers; *p; p = &(*p)->next) {
		if (*p == fo) {
			*p = fo->next;
			return;
		}
	}
}

static int mem_follow(void *self, const char *filter_text, struct agent_follow *f,
		      agent_entry_fn fn, void *arg, char *err, size_t errlen)
{
	struct mem_agent *a = self;
	struct mem_follower fo = {.f = f, .cap = a->opts.follow_queue};
	struct entry_filter *filter;
	int ret = mem_compile(a, filter_text, &filter, err, errlen);

	if (ret)
		return ret;
	fo.ring = calloc(fo.cap, sizeof(*fo.ring));
	if (!fo.ring) {
		entry_filter_free(filter);
		return -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	if (a->down) {
		pthread_mutex_unlock(&a->lock);
		free(fo.ring);
		entry_filter_free(filter);
		return mem_refused(a, err, errlen);
	}
	fo.next = a->followers;
	a->followers = &fo;
	agent_follow_started(f); /* entries added from now on reach this follower */
	while (!f->stop && !a->down) {
		struct mem_entry *e;
		struct timespec until;

		if (!fo.count) {
			/* The stop flag has no fd to wake us: look at it every 20 ms. */
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 20 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->added, &a->lock, &until);
			continue;
		}
		e = fo.ring[fo.head];
		fo.head = (fo.head + 1) % fo.cap;
		fo.count--;
		pthread_mutex_unlock(&a->lock);
		ret = 0;
		if (!filter || entry_filter_match(filter, e->obj))
			ret = mem_emit(e, true, fn, arg);
		pthread_mutex_lock(&a->lock);
		if (ret) {
			ret = ret < 0 ? ret : 0;
			break;
		}
	}
	if (a->down && !f->stop && !ret)
		ret = mem_refused(a, err, errlen);
	mem_unlink_follower(a, &fo);
	pthread_mutex_unlock(&a->lock);
	free(fo.ring);
	entry_filter_free(filter);
	return ret;
}

static int pcap_put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4); /* host order: the magic number tells readers which */
	return 4;
}

struct pcap_rec {
	const struct mem_packet *pkt;
};

static int pcap_rec_cmp(const void *x, const void *y)
{
	const struct mem_packet *a = ((const struct pcap_rec *)x)->pkt;
	const struct mem_packet *b = ((const struct pcap_rec *)y)->pkt;

	return a->ts_ns < b->ts_ns ? -1 : a->ts_ns > b->ts_ns;
}

static int mem_pcap(void *self, const struct agent_query *q, agent_bytes_fn fn, void *arg,
		    char *err, size_t errlen)
{
	struct agent_query all = *q;
	struct mem_entry **sel;
	struct pcap_rec *recs;
	unsigned char hdr[24], rh[16];
	size_t n, nrec = 0, k = 0;
	int ret;

	all.limit = 0; /* the packets of every matching entry */
	ret = mem_select(self, &all, &sel, &n, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++)
		nrec += sel[i]->npackets;
	recs = calloc(nrec + 1, sizeof(*recs));
	if (!recs) {
		free(sel);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < sel[i]->npackets; j++)
			recs[k++].pkt = &sel[i]->packets[j];
	qsort(recs, nrec, sizeof(*recs), pcap_rec_cmp);

	/* Nanosecond PCAP, Ethernet, fields in host order (the magic number tells readers). */
	{
		const uint16_t version[2] = {2, 4};
		const uint32_t rest[4] = {0, 0, 262144, 1}; /* zone, sigfigs, snaplen, link */

		pcap_put32(hdr, 0xa1b23c4d);
		memcpy(hdr + 4, version, sizeof(version));
		memcpy(hdr + 8, rest, sizeof(rest));
	}
	ret = fn(hdr, sizeof(hdr), arg);
	for (size_t i = 0; !ret && i < nrec; i++) {
		const struct mem_packet *p = recs[i].pkt;

		pcap_put32(rh, (uint32_t)(p->ts_ns / 1000000000));
		pcap_put32(rh + 4, (uint32_t)(p->ts_ns % 1000000000));
		pcap_put32(rh + 8, (uint32_t)p->len);
		pcap_put32(rh + 12, (uint32_t)p->len);
		ret = fn(rh, sizeof(rh), arg);
		if (!ret)
			ret = fn(p->frame, p->len, arg);
	}
	free(recs);
	free(sel);
	return ret < 0 ? ret : 0;
}

static int mem_stats(void *self, char **json_out, char *err, size_t errlen)
{
	struct mem_agent *a = self;
	json_t *o;

	pthread_mutex_lock(&a->lock);
	if (a->down) {
		pthread_mutex_unlock(&a->lock);
		return mem_refused(a, err, errlen);
	}
	o = json_pack("{s:s, s:I, s:I}", "agent", a->name, "entries", (json_int_t)a->n,
		      "follow_lost", (json_int_t)a->lost);
	pthread_mutex_unlock(&a->lock);
	if (!o)
		return -ENOMEM;
	*json_out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return *json_out ? 0 : -ENOMEM;
}

static void mem_info(void *self, struct agent_info *out)
{
	struct mem_agent *a = self;
	struct timespec now;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", a->name);
	snprintf(out->node, sizeof(out->node), "%s", a->name);
	snprintf(out->version, sizeof(out->version), "mem");
	pthread_mutex_lock(&a->lock);
	out->connected = !a->down;
	if (a->down)
		snprintf(out->error, sizeof(out->error), "connection refused");
	pthread_mutex_unlock(&a->lock);
	clock_gettime(CLOCK_REALTIME, &now);
	if (out->connected)
		out->last_seen_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void mem_entry_free(struct mem_entry *e)
{
	for (size_t i = 0; i < e->npackets; i++)
		free(e->packets[i].frame);
	free(e->packets);
	json_decref(e->obj);
	free(e->json);
	free(e->id);
	free(e);
}

static void mem_destroy(void *self)
{
	struct mem_agent *a = self;

	for (size_t i = 0; i < a->n; i++)
		mem_entry_free(a->entries[i]);
	free(a->entries);
	free(a->by_id);
	pthread_cond_destroy(&a->added);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static const struct agent_api_ops mem_ops = {
    .query = mem_query,
    .get = mem_get,
    .follow = mem_follow,
    .pcap = mem_pcap,
    .stats = mem_stats,
    .info = mem_info,
    .destroy = mem_destroy,
};

int agent_api_mem_new(const struct agent_api_mem_opts *opts, struct agent_api *out)
{
	struct mem_agent *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	if (opts)
		a->opts = *opts;
	if (!a->opts.follow_queue)
		a->opts.follow_queue = 1024;
	snprintf(a->name, sizeof(a->name), "%s", a->opts.name ? a->opts.name : "mem");
	a->opts.name = a->name;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->added, NULL);
	out->ops = &mem_ops;
	out->self = a;
	return 0;
}

int agent_api_mem_add(struct agent_api *api, const char *id, int64_t ts_ns, const char *json)
{
	struct mem_agent *a = api->self;
	struct mem_entry *e = calloc(1, sizeof(*e));
	size_t at;

	if (!e)
		return -ENOMEM;
	e->obj = json_loads(json, 0, NULL);
	if (!json_is_object(e->obj)) {
		json_decref(e->obj);
		free(e);
		return -EINVAL;
	}
	e->id = strdup(id);
	e->ts_ns = ts_ns;
	if (!e->id || json_object_set_new(e->obj, "id", json_string(id)) ||
	    !(e->json = json_dumps(e->obj, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		mem_entry_free(e);
		return -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	if (mem_find(a, id)) {
		pthread_mutex_unlock(&a->lock);
		mem_entry_free(e);
		return -EINVAL;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct mem_entry **v = realloc(a->entries, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&a->lock);
			mem_entry_free(e);
			return -ENOMEM;
		}
		a->entries = v;
		a->cap = cap;
	}
	if (mem_index(a, e)) {
		pthread_mutex_unlock(&a->lock);
		mem_entry_free(e);
		return -ENOMEM;
	}
	at = mem_lower_bound(a, ts_ns, id);
	memmove(a->entries + at + 1, a->entries + at, (a->n - at) * sizeof(*a->entries));
	a->entries[at] = e;
	a->n++;
	for (struct mem_follower *fo = a->followers; fo; fo = fo->next) {
		if (fo->count == fo->cap) {
			fo->f->lost++;
			a->lost++;
			continue;
		}
		fo->ring[(fo->head + fo->count) % fo->cap] = e;
		fo->count++;
	}
	pthread_cond_broadcast(&a->added);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int agent_api_mem_add_packet(struct agent_api *api, const char *id, int64_t ts_ns,
			     const void *frame, size_t len)
{
	struct mem_agent *a = api->self;
	struct mem_entry *e;
	struct mem_packet *p;
	int ret = 0;

	pthread_mutex_lock(&a->lock);
	e = mem_find(a, id);
	if (!e) {
		ret = -ENOENT;
		goto out;
	}
	if (e->npackets == e->cap_packets) {
		size_t cap = e->cap_packets ? e->cap_packets * 2 : 4;

		p = realloc(e->packets, cap * sizeof(*p));
		if (!p) {
			ret = -ENOMEM;
			goto out;
		}
		e->packets = p;
		e->cap_packets = cap;
	}
	p = &e->packets[e->npackets];
	p->frame = malloc(len ? len : 1);
	if (!p->frame) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(p->frame, frame, len);
	p->len = len;
	p->ts_ns = ts_ns;
	e->npackets++;
out:
	pthread_mutex_unlock(&a->lock);
	return ret;
}

void agent_api_mem_set_down(struct agent_api *api, bool down)
{
	struct mem_agent *a = api->self;

	pthread_mutex_lock(&a->lock);
	a->down = down;
	pthread_cond_broadcast(&a->added);
	pthread_mutex_unlock(&a->lock);
}

uint64_t agent_api_mem_lost(struct agent_api *api)
{
	struct mem_agent *a = api->self;
	uint64_t lost;

	pthread_mutex_lock(&a->lock);
	lost = a->lost;
	pthread_mutex_unlock(&a->lock);
	return lost;
}

size_t agent_api_mem_followers(struct agent_api *api)
{
	struct mem_agent *a = api->self;
	size_t n = 0;

	pthread_mutex_lock(&a->lock);
	for (struct mem_follower *fo = a->followers; fo; fo = fo->next)
		n++;
	pthread_mutex_unlock(&a->lock);
	return n;
}
