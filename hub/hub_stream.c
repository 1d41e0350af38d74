/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hub_query.h"
#include "entry/hash.h"

/*
 * Live entries older than this before the stream started are not checked against the history
 * (an entry is live once it completes; one that took longer than this to complete and was
 * also in the history would be sent twice). Bounds the ids kept.
 */
#define DEDUP_WINDOW_NS (120LL * 1000000000)

struct msg {
	char *buf; /* HUB_STREAM_PRE bytes, then the text */
	size_t len;
};

struct held {
	int64_t ts_ns;
	char *id;
	struct msg m;
	int64_t arrived; /* CLOCK_MONOTONIC ns */
};

/* Ids the history sent (open addressing; strings owned). */
struct idset {
	char **slot;
	size_t cap, n;
};

struct follower {
	struct hub_stream *st;
	size_t i;
	pthread_t th;
	int started;
	struct agent_follow f;
	uint64_t lost_seen; /* f.lost already counted */
	int64_t wm;	    /* latest ts_ns this agent sent live */
	int has_wm;
};

struct hub_stream {
	struct hub_stream_cfg cfg;
	char *filter;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the client side and the pump */
	int closed;
	/* the client's queue (ring) */
	struct msg *q;
	size_t qhead, qn;
	int signalled;	 /* the client side was woken and has not emptied the queue since */
	int64_t q_since; /* CLOCK_MONOTONIC ns: when the queue last became non-empty */
	/* live entries waiting to be released in order, sorted by (ts_ns, id) */
	struct held *live;
	size_t live_n;
	uint64_t lost_pending, lost_total;
	struct idset seen;
	struct follower *fol;
	pthread_t pump;
};

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int idset_has(const struct idset *s, const char *id)
{
	if (!s->cap)
		return 0;
	for (size_t i = fnv1a64_str(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i])
			return 0;
		if (!strcmp(s->slot[i], id))
			return 1;
	}
}

static int idset_add(struct idset *s, const char *id)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		char **slot = calloc(cap, sizeof(*slot));
		if (!slot)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slot[i])
				continue;
			size_t j = fnv1a64_str(s->slot[i]) & (cap - 1);
			while (slot[j])
				j = (j + 1) & (cap - 1);
			slot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	size_t i = fnv1a64_str(id) & (s->cap - 1);
	for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (!strcmp(s->slot[i], id))
			return 0;
	if (!(s->slot[i] = strdup(id)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static void idset_free(struct idset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
}

/* A message of the parts' concatenation. */
static int msg_make(struct msg *m, const char *a, const char *b, size_t blen, const char *c)
{
	size_t al = strlen(a), cl = strlen(c);
	m->len = al + blen + cl;
	m->buf = malloc(HUB_STREAM_PRE + m->len + 1);
	if (!m->buf)
		return -ENOMEM;
	char *p = m->buf + HUB_STREAM_PRE;
	memcpy(p, a, al);
	memcpy(p + al, b, blen);
	memcpy(p + al + blen, c, cl);
	p[m->len] = 0;
	return 0;
}

static int msg_entry(struct msg *m, const char *json, size_t len)
{
	while (len && (json[len - 1] == '\n' || json[len - 1] == '\r'))
		len--;
	return msg_make(m, "{\"type\":\"entry\",\"entry\":", json, len, "}");
}

static int msg_json(struct msg *m, json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!t)
		return -ENOMEM;
	int rc = msg_make(m, "", t, strlen(t), "");
	free(t);
	return rc;
}

void hub_stream_msg_free(char *msg)
{
	if (msg)
		free(msg - HUB_STREAM_PRE);
}

/* Under mu. 0, or -ENOSPC when the queue is full (m is then still the caller's). */
static int q_push(struct hub_stream *st, struct msg *m)
{
	if (st->qn == st->cfg.queue_cap)
		return -ENOSPC;
	if (st->qn == 0)
		st->q_since = mono_ns();
	st->q[(st->qhead + st->qn) % st->cfg.queue_cap] = *m;
	st->qn++;
	m->buf = NULL;
	return 0;
}

/*
 * Under mu: whether the client side must be woken now (the caller does it, after unlocking).
 * Unbatched, as soon as a message waits. Batched, once a batch is full, the first waiting
 * message has waited batch_ns, or force (a history page or a notice is complete): a woken
 * client side pops until the queue is empty, so it is woken once per drain.
 */
static int wake_due(struct hub_stream *st, int64_t now, int force)
{
	if (!st->qn || st->signalled)
		return 0;
	if (st->cfg.batch && !force && st->qn < st->cfg.batch &&
	    now < st->q_since + st->cfg.batch_ns)
		return 0;
	st->signalled = 1;
	return 1;
}

/* Wake the client side if a batch (or, with force, anything) waits. */
static void kick(struct hub_stream *st, int force)
{
	pthread_mutex_lock(&st->mu);
	int wake = wake_due(st, mono_ns(), force);
	pthread_mutex_unlock(&st->mu);
	if (wake)
		st->cfg.wake(st->cfg.arg);
}

/* Queue m, waiting for room (history and notices: not lossy). 0, or -EPIPE once closed. */
static int push_wait(struct hub_stream *st, struct msg *m, int force)
{
	int wake = 0, rc;
	pthread_mutex_lock(&st->mu);
	while (!st->closed && q_push(st, m))
		pthread_cond_wait(&st->cv, &st->mu);
	rc = st->closed ? -EPIPE : 0;
	if (!rc)
		wake = wake_due(st, mono_ns(), force);
	pthread_mutex_unlock(&st->mu);
	if (wake)
		st->cfg.wake(st->cfg.arg);
	free(m->buf);
	m->buf = NULL;
	return rc;
}

/* Under mu, qn > 0: the waiting messages joined as one JSON array ("[m1,m2,...]"), up to
 * cfg.batch of them and HUB_STREAM_BATCH_BYTES (at least one), taken off the queue. NULL
 * when there is no memory for it (the queue is then as it was). */
static char *q_pop_batch(struct hub_stream *st, size_t *len)
{
	size_t cap = st->cfg.queue_cap, k = 0, bytes = 2;
	while (k < st->qn && k < st->cfg.batch) {
		size_t l = st->q[(st->qhead + k) % cap].len + (k ? 1 : 0);
		if (k && bytes + l > HUB_STREAM_BATCH_BYTES)
			break;
		bytes += l;
		k++;
	}
	char *buf = malloc(HUB_STREAM_PRE + bytes + 1);
	if (!buf)
		return NULL;
	char *p = buf + HUB_STREAM_PRE;
	*p++ = '[';
	for (size_t i = 0; i < k; i++) {
		struct msg *m = &st->q[(st->qhead + i) % cap];
		if (i)
			*p++ = ',';
		memcpy(p, m->buf + HUB_STREAM_PRE, m->len);
		p += m->len;
		free(m->buf);
		m->buf = NULL;
	}
	*p++ = ']';
	*p = 0;
	st->qhead = (st->qhead + k) % cap;
	st->qn -= k;
	*len = bytes;
	return buf + HUB_STREAM_PRE;
}

char *hub_stream_pop(struct hub_stream *st, size_t *len, int *more)
{
	char *out = NULL;
	*len = 0;
	pthread_mutex_lock(&st->mu);
	if (st->qn && st->cfg.batch) {
		out = q_pop_batch(st, len);
		pthread_cond_broadcast(&st->cv);
	} else if (st->qn) {
		struct msg *m = &st->q[st->qhead];
		out = m->buf + HUB_STREAM_PRE;
		*len = m->len;
		st->qhead = (st->qhead + 1) % st->cfg.queue_cap;
		st->qn--;
		pthread_cond_broadcast(&st->cv);
	}
	*more = out && st->qn > 0;
	/* Emptied (or no memory to batch): the next message, or the pump's retry, wakes again. */
	if (!*more)
		st->signalled = 0;
	pthread_mutex_unlock(&st->mu);
	return out;
}

static const char *agent_name(struct hub_stream *st, size_t i, struct agent_info *info)
{
	memset(info, 0, sizeof(*info));
	st->cfg.agents[i].ops->info(st->cfg.agents[i].self, info);
	if (!info->name[0])
		snprintf(info->name, sizeof(info->name), "agent%zu", i);
	return info->name;
}

static int msg_agent_error(struct hub_stream *st, size_t i, const char *err, struct msg *m)
{
	struct agent_info info;
	return msg_json(m, json_pack("{s:s, s:s, s:s}", "type", "agent", "agent",
				     agent_name(st, i, &info), "error", err));
}

static void held_free(struct held *h)
{
	free(h->id);
	free(h->m.buf);
}

static int live_cb(const struct agent_entry *e, void *arg)
{
	struct follower *fo = arg;
	struct hub_stream *st = fo->st;
	struct held h = {.ts_ns = e->ts_ns, .arrived = mono_ns()};
	h.id = strdup(e->id ? e->id : "");
	if (!h.id || msg_entry(&h.m, e->json, e->json_len)) {
		/* No memory for it: lost like any entry that cannot be kept. */
		free(h.id);
		h.id = NULL;
	}
	pthread_mutex_lock(&st->mu);
	if (st->closed) {
		pthread_mutex_unlock(&st->mu);
		held_free(&h);
		return 1;
	}
	if (!fo->has_wm || e->ts_ns > fo->wm)
		fo->wm = e->ts_ns;
	fo->has_wm = 1;
	if (!h.id || st->live_n == st->cfg.queue_cap) {
		st->lost_pending++;
		st->lost_total++;
		atomic_fetch_add(&st->cfg.metrics->stream_lost, 1);
		pthread_mutex_unlock(&st->mu);
		held_free(&h);
		return 0;
	}
	/* Sorted insert: after every entry that comes before or at it. */
	size_t lo = 0, hi = st->live_n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (hub_order_cmp(st->live[mid].ts_ns, st->live[mid].id, h.ts_ns, h.id) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&st->live[lo + 1], &st->live[lo], (st->live_n - lo) * sizeof(h));
	st->live[lo] = h;
	st->live_n++;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/* Wait up to ns on cv; under mu. */
static void cv_wait_ns(struct hub_stream *st, int64_t ns)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	int64_t at = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + (ns > 0 ? ns : 0);
	t.tv_sec = at / 1000000000;
	t.tv_nsec = at % 1000000000;
	pthread_cond_timedwait(&st->cv, &st->mu, &t);
}

static void *follow_thread(void *arg)
{
	struct follower *fo = arg;
	struct hub_stream *st = fo->st;
	struct agent_api *a = &st->cfg.agents[fo->i];
	int64_t backoff = 500000000;
	for (;;) {
		char err[256] = "";
		int rc = a->ops->follow(a->self, st->filter, &fo->f, live_cb, fo, err, sizeof(err));
		pthread_mutex_lock(&st->mu);
		int closed = st->closed;
		pthread_mutex_unlock(&st->mu);
		if (closed)
			break;
		struct msg m = {0};
		if (!msg_agent_error(st, fo->i,
				     rc ? (err[0] ? err : strerror(-rc)) : "live entries ended",
				     &m)) {
			pthread_mutex_lock(&st->mu);
			/* A full queue means a slow client: the notice is not kept waiting. */
			q_push(st, &m);
			int wake = wake_due(st, mono_ns(), 1);
			pthread_mutex_unlock(&st->mu);
			free(m.buf);
			if (wake)
				st->cfg.wake(st->cfg.arg);
		}
		/* Retry with backoff until the agent answers again or the client goes. */
		pthread_mutex_lock(&st->mu);
		if (!st->closed)
			cv_wait_ns(st, backoff);
		closed = st->closed;
		pthread_mutex_unlock(&st->mu);
		if (closed)
			break;
		backoff = backoff * 2 > 5000000000LL ? 5000000000LL : backoff * 2;
	}
	return NULL;
}

static void stream_free(struct hub_stream *st)
{
	for (size_t i = 0; i < st->qn; i++)
		free(st->q[(st->qhead + i) % st->cfg.queue_cap].buf);
	for (size_t i = 0; i < st->live_n; i++)
		held_free(&st->live[i]);
	idset_free(&st->seen);
	free(st->q);
	free(st->live);
	free(st->fol);
	free(st->filter);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st);
}

static void unref(struct hub_stream *st)
{
	pthread_mutex_lock(&st->mu);
	int last = --st->refs == 0;
	pthread_mutex_unlock(&st->mu);
	if (last)
		stream_free(st);
}

/* History, page by page, in merge order. 0, or -EPIPE when the client went. */
static int send_history(struct hub_stream *st, int64_t follow_start)
{
	size_t page = st->cfg.history_page ? st->cfg.history_page : 512;
	/* In full, as follow() gives live entries: one shape for the whole stream. */
	struct agent_query q = {
	    .filter = st->filter, .since_ns = st->cfg.since_ns, .limit = page, .with_bodies = 1};
	char *after = NULL;
	int rc = 0;
	unsigned char *reported = calloc(st->cfg.n ? st->cfg.n : 1, 1);
	for (;;) {
		struct hub_entries ents;
		struct hub_errors errs;
		q.after_id = after;
		rc = hub_query_entries(st->cfg.agents, st->cfg.n, &q, &ents, &errs);
		if (rc)
			break;
		for (size_t i = 0; i < errs.n && !rc; i++) {
			struct msg m = {0};
			if (reported && reported[errs.v[i].agent])
				continue;
			if (reported)
				reported[errs.v[i].agent] = 1;
			if (!msg_agent_error(st, errs.v[i].agent, errs.v[i].msg, &m))
				rc = push_wait(st, &m, 0);
		}
		for (size_t i = 0; i < ents.n && !rc; i++) {
			struct hub_entry *e = &ents.v[i];
			struct msg m;
			if (e->ts_ns >= follow_start - DEDUP_WINDOW_NS) {
				pthread_mutex_lock(&st->mu);
				idset_add(&st->seen, e->id);
				pthread_mutex_unlock(&st->mu);
			}
			if (msg_entry(&m, e->json, e->json_len)) {
				rc = -ENOMEM;
				break;
			}
			rc = push_wait(st, &m, 0);
			if (!rc)
				atomic_fetch_add(&st->cfg.metrics->entries[HUB_ROUTE_STREAM], 1);
		}
		int last_page = ents.n < page;
		if (!last_page) {
			free(after);
			after = strdup(ents.v[ents.n - 1].id);
			q.after_ts_ns = ents.v[ents.n - 1].ts_ns;
			if (!after)
				rc = -ENOMEM;
		}
		hub_entries_free(&ents);
		hub_errors_free(&errs);
		if (rc || last_page)
			break;
		/* The next page is a round of agent queries: what waits goes now. */
		kick(st, 1);
	}
	free(after);
	free(reported);
	return rc;
}

/* Under mu: whether the earliest held entry may go (its hold is over, or every agent has sent
 * a later one, so nothing earlier can still come from them in order). */
static int releasable(struct hub_stream *st, int64_t now, int64_t *wait_ns)
{
	struct held *h = &st->live[0];
	if (st->cfg.hold_ns < 0 || now >= h->arrived + st->cfg.hold_ns)
		return 1;
	size_t i;
	for (i = 0; i < st->cfg.n; i++)
		if (!st->fol[i].has_wm || st->fol[i].wm <= h->ts_ns)
			break;
	if (i == st->cfg.n)
		return 1;
	*wait_ns = h->arrived + st->cfg.hold_ns - now;
	return 0;
}

static void live_loop(struct hub_stream *st)
{
	pthread_mutex_lock(&st->mu);
	while (!st->closed) {
		int wake = 0;
		int64_t wait_ns = 1000000000; /* agents' own lost counters are read this often */
		for (size_t i = 0; i < st->cfg.n; i++) {
			uint64_t l = st->fol[i].f.lost;
			if (l > st->fol[i].lost_seen) {
				st->lost_pending += l - st->fol[i].lost_seen;
				st->lost_total += l - st->fol[i].lost_seen;
				atomic_fetch_add(&st->cfg.metrics->stream_lost,
						 l - st->fol[i].lost_seen);
				st->fol[i].lost_seen = l;
			}
		}
		if (st->lost_pending && st->qn < st->cfg.queue_cap) {
			struct msg m = {0};
			json_t *j = json_pack("{s:s, s:I, s:I}", "type", "lost", "lost",
					      (json_int_t)st->lost_pending, "total",
					      (json_int_t)st->lost_total);
			if (!msg_json(&m, j) && !q_push(st, &m))
				st->lost_pending = 0;
			free(m.buf); /* NULL once queued */
		}
		int64_t now = mono_ns();
		while (st->live_n && st->qn < st->cfg.queue_cap && releasable(st, now, &wait_ns)) {
			struct held h = st->live[0];
			memmove(&st->live[0], &st->live[1], (st->live_n - 1) * sizeof(h));
			st->live_n--;
			if (idset_has(&st->seen, h.id)) {
				held_free(&h);
				continue;
			}
			q_push(st, &h.m);
			atomic_fetch_add(&st->cfg.metrics->entries[HUB_ROUTE_STREAM], 1);
			held_free(&h);
		}
		wake = wake_due(st, now, 0);
		/* A batch not yet full: wake the client side when its first message's wait ends. */
		if (!wake && st->cfg.batch && st->qn && !st->signalled &&
		    st->q_since + st->cfg.batch_ns - now < wait_ns)
			wait_ns = st->q_since + st->cfg.batch_ns - now;
		if (wake) {
			pthread_mutex_unlock(&st->mu);
			st->cfg.wake(st->cfg.arg);
			pthread_mutex_lock(&st->mu);
			continue;
		}
		cv_wait_ns(st, wait_ns);
	}
	pthread_mutex_unlock(&st->mu);
}

/* Everyone stops: the pump's waits end, each follow() call is told to return. */
static void mark_closed(struct hub_stream *st)
{
	pthread_mutex_lock(&st->mu);
	st->closed = 1;
	for (size_t i = 0; i < st->cfg.n; i++)
		st->fol[i].f.stop = 1;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static void *pump_thread(void *arg)
{
	struct hub_stream *st = arg;
	int64_t follow_start = real_ns();
	for (size_t i = 0; i < st->cfg.n; i++)
		if (pthread_create(&st->fol[i].th, NULL, follow_thread, &st->fol[i]) == 0)
			st->fol[i].started = 1;
	if (send_history(st, follow_start) == 0) {
		struct msg m;
		if (!msg_make(&m, "{\"type\":\"live\"}", "", 0, "") && push_wait(st, &m, 1) == 0)
			live_loop(st);
	}
	/* Closed (or failed): make sure the followers stop, then wait for them. */
	mark_closed(st);
	for (size_t i = 0; i < st->cfg.n; i++)
		if (st->fol[i].started)
			pthread_join(st->fol[i].th, NULL);
	void (*done)(void *) = st->cfg.done;
	void *done_arg = st->cfg.arg;
	atomic_fetch_sub(&st->cfg.metrics->streams_open, 1);
	unref(st);
	done(done_arg);
	return NULL;
}

int hub_stream_start(const struct hub_stream_cfg *cfg, struct hub_stream **out)
{
	struct hub_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *cfg;
	if (!st->cfg.queue_cap)
		st->cfg.queue_cap = 4096;
	/* A full queue must wake the client side, or a waiting history push would wait forever. */
	if (st->cfg.batch > st->cfg.queue_cap)
		st->cfg.batch = st->cfg.queue_cap;
	if (st->cfg.batch_ns < 0)
		st->cfg.batch_ns = 0;
	st->filter = strdup(cfg->filter ? cfg->filter : "");
	st->q = calloc(st->cfg.queue_cap, sizeof(*st->q));
	st->live = calloc(st->cfg.queue_cap, sizeof(*st->live));
	st->fol = calloc(cfg->n ? cfg->n : 1, sizeof(*st->fol));
	if (!st->filter || !st->q || !st->live || !st->fol) {
		free(st->filter);
		free(st->q);
		free(st->live);
		free(st->fol);
		free(st);
		return -ENOMEM;
	}
	st->cfg.filter = st->filter;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	for (size_t i = 0; i < cfg->n; i++) {
		st->fol[i].st = st;
		st->fol[i].i = i;
	}
	st->refs = 2;
	atomic_fetch_add(&st->cfg.metrics->streams_open, 1);
	if (pthread_create(&st->pump, NULL, pump_thread, st)) {
		atomic_fetch_sub(&st->cfg.metrics->streams_open, 1);
		stream_free(st);
		return -EAGAIN;
	}
	pthread_detach(st->pump);
	*out = st;
	return 0;
}

void hub_stream_close(struct hub_stream *st)
{
	mark_closed(st);
	unref(st);
}
