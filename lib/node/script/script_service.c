// SPDX-License-Identifier: Apache-2.0
/* The scripting service beside a tap (script_service.h, docs/scripting.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "client/curl_dl.h"
#include "net/packet.h"

#include "script/script_child.h"
#include "script/script_service.h"
#include "tap/tap.h"
#include "trigger/webhook.h"

#define SOURCE_MAX	  (1u << 20) /* bytes of one script file */
#define ACTIONS_MAX	  1024	     /* webhooks and snapshots waiting */
#define METRICS_MAX	  4096	     /* distinct metric series of all scripts */

struct script_service;

struct script {
	struct script_service *svc;
	char name[NAME_MAX + 1]; /* the file's name, "a.js" */
	pthread_mutex_t lock;	 /* the runner: one call at a time */
	struct script_child child;
	char *source;
	size_t source_len;
	char *filter;
	bool on_entry, on_packet;
	struct script_job jobs[SCRIPT_JOBS_MAX];
	size_t n_jobs;
	atomic_bool disabled;
	unsigned failures; /* in a row */
	/* Counters: atomic, so the metrics file is written without the script's lock (taken
	 * around calls that may take svc->lock: the order is s->lock, then svc->lock). */
	atomic_ullong calls, errors, restarts, entries, jobs_run;
	struct agent_follow follow;
	pthread_t follow_thr, job_thr;
	bool follow_started, job_started;
	pthread_mutex_t stop_lock; /* with stop_cond: wakes the job thread to stop */
	pthread_cond_t stop_cond;
	bool stop;
	struct script *next;
};

struct action {
	enum { ACT_WEBHOOK, ACT_SNAPSHOT } type;
	char script[NAME_MAX + 1];
	char *url, *body, *query;
	int64_t t0_ns; /* snapshot: when it was asked for (Unix ns) */
	double before, after;
	int64_t due_ms; /* CLOCK_MONOTONIC */
	int attempt;	/* webhook: attempts that failed so far */
	struct action *next;
};

struct metric {
	char script[NAME_MAX + 1];
	char *name, *labels; /* labels: the Prometheus text inside {}, without script */
	double value;
};

struct script_service {
	struct script_options o;
	char runner[PATH_MAX];
	struct agent_api api;
	pthread_mutex_t lock; /* scripts list, metrics, counters below */
	struct script *scripts;
	struct metric metrics[METRICS_MAX];
	size_t n_metrics;
	uint64_t metrics_dropped, webhooks_sent, webhooks_retried, webhooks_failed, snapshots,
	    actions_dropped;
	uint64_t loaded_ok, load_failures;
	bool metrics_dirty;
	/* the action thread */
	pthread_t act_thr;
	pthread_mutex_t act_lock;
	pthread_cond_t act_cond;
	struct action *actions;
	size_t n_actions;
	bool act_stop;
	/* the watch thread */
	pthread_t watch_thr;
	bool watch_started;
	int inotify_fd;
	int stop_pipe[2];
	atomic_uint snapshot_seq;
	/* onPacket: one thread hands the queue's packets to the scripts that have it; scripts
	 * are freed (script_refresh) only under scripts_rw's write lock. Lock order:
	 * scripts_rw, then a script's lock, then svc->lock. */
	pthread_rwlock_t scripts_rw;
	pthread_t packet_thr;
	bool packet_started;
	atomic_bool packet_stop;
};

/* ---- onPacket's queue ---- */

struct packet_meta {
	uint64_t ts_ns;
	uint32_t wire_len, cap_len, payload_len;
	uint16_t sport, dport;
	uint8_t family, proto, tcp_flags, l4;
	uint8_t src[16], dst[16];
};

struct script_packets {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct packet_meta *ring;
	size_t cap, head, count;
	atomic_bool active; /* a loaded script has onPacket: the hook queues */
	atomic_ullong queued, dropped, undecoded;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(struct script_service *svc, const char *script, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct script_service *svc, const char *script, const char *fmt, ...)
{
	char line[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one fprintf: stdio's lock keeps lines of different threads apart */
	fprintf(svc->o.log, "floe: script %s: %s\n", script, line);
	fflush(svc->o.log);
}

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, int64_t until_ms)
{
	struct timespec dl = {until_ms / 1000, (until_ms % 1000) * 1000000};

	pthread_cond_timedwait(c, m, &dl);
}

static void cond_init_mono(pthread_cond_t *c);

struct script_packets *script_packets_new(size_t cap)
{
	struct script_packets *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ring = calloc(cap, sizeof(*q->ring));
	if (!q->ring) {
		free(q);
		return NULL;
	}
	q->cap = cap;
	pthread_mutex_init(&q->lock, NULL);
	cond_init_mono(&q->cond);
	return q;
}

void script_packets_free(struct script_packets *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->ring);
	free(q);
}

void script_packets_hook(void *ctx, int linktype, const uint8_t *data, uint32_t cap_len,
			 uint32_t wire_len, uint64_t ts_ns)
{
	struct script_packets *q = ctx;
	struct packet p;
	struct packet_meta m;

	if (!atomic_load_explicit(&q->active, memory_order_relaxed))
		return;
	if (packet_decode(linktype, data, cap_len, wire_len, ts_ns, &p) < 0) {
		atomic_fetch_add(&q->undecoded, 1);
		return;
	}
	m = (struct packet_meta){.ts_ns = ts_ns,
				 .wire_len = wire_len,
				 .cap_len = cap_len,
				 .payload_len = p.payload_wirelen,
				 .sport = p.sport,
				 .dport = p.dport,
				 .family = p.family,
				 .proto = p.l4_proto,
				 .tcp_flags = p.tcp_flags,
				 .l4 = (p.flags & PACKET_F_L4) != 0};
	memcpy(m.src, p.src, 16);
	memcpy(m.dst, p.dst, 16);
	pthread_mutex_lock(&q->lock);
	if (q->count == q->cap) {
		pthread_mutex_unlock(&q->lock);
		atomic_fetch_add(&q->dropped, 1);
		return;
	}
	q->ring[(q->head + q->count++) % q->cap] = m;
	if (q->count == 1)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	atomic_fetch_add(&q->queued, 1);
}

/* ---- metrics ---- */

/* The labels object as Prometheus text: k="v",... (values escaped). */
static char *labels_text(json_t *labels)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *k;
	json_t *v;
	bool first = true;

	if (!f)
		return NULL;
	json_object_foreach(labels, k, v)
	{
		fprintf(f, "%s%s=\"", first ? "" : ",", k);
		for (const char *p = json_string_value(v); p && *p; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', f);
			if (*p == '\n')
				fputs("\\n", f);
			else
				fputc(*p, f);
		}
		fputc('"', f);
		first = false;
	}
	fclose(f);
	return out;
}

static void metric_set(struct script_service *svc, const char *script, const struct script_msg *m)
{
	char *labels = m->labels ? labels_text(m->labels) : strdup("");
	size_t i;

	if (!labels)
		return;
	pthread_mutex_lock(&svc->lock);
	for (i = 0; i < svc->n_metrics; i++) {
		struct metric *x = &svc->metrics[i];

		if (!strcmp(x->script, script) && !strcmp(x->name, m->name) &&
		    !strcmp(x->labels, labels))
			break;
	}
	if (i < svc->n_metrics) {
		svc->metrics[i].value = m->value;
		free(labels);
	} else if (i < METRICS_MAX && (svc->metrics[i].name = strdup(m->name))) {
		snprintf(svc->metrics[i].script, sizeof(svc->metrics[i].script), "%s", script);
		svc->metrics[i].labels = labels;
		svc->metrics[i].value = m->value;
		svc->n_metrics++;
	} else {
		svc->metrics_dropped++;
		free(labels);
	}
	svc->metrics_dirty = true;
	pthread_mutex_unlock(&svc->lock);
}

/* Write the metrics file (tmp + rename: a reader never sees half of it). Under svc->lock. */
static void metrics_write(struct script_service *svc)
{
	char tmp[PATH_MAX];
	FILE *f;

	svc->metrics_dirty = false;
	if (!svc->o.metrics_file)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", svc->o.metrics_file);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "# floe scripting (docs/scripting.md)\n");
	for (struct script *s = svc->scripts; s; s = s->next) {
		fprintf(f, "floe_script_calls_total{script=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->calls);
		fprintf(f, "floe_script_errors_total{script=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->errors);
		fprintf(f, "floe_script_restarts_total{script=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->restarts);
		fprintf(f, "floe_script_entries_total{script=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->entries);
		fprintf(f, "floe_script_jobs_total{script=\"%s\"} %llu\n", s->name,
			(unsigned long long)s->jobs_run);
		/* the follow call's count: a plain field it updates (agent_api.h) */
		fprintf(f, "floe_script_entries_lost_total{script=\"%s\"} %llu\n", s->name,
			(unsigned long long)*(volatile uint64_t *)&s->follow.lost);
		fprintf(f, "floe_script_disabled{script=\"%s\"} %d\n", s->name,
			(int)atomic_load(&s->disabled));
	}
	fprintf(f, "floe_script_loads_total %llu\n", (unsigned long long)svc->loaded_ok);
	fprintf(f, "floe_script_load_failures_total %llu\n",
		(unsigned long long)svc->load_failures);
	fprintf(f, "floe_script_webhooks_sent_total %llu\n",
		(unsigned long long)svc->webhooks_sent);
	fprintf(f, "floe_script_webhooks_failed_total %llu\n",
		(unsigned long long)svc->webhooks_failed);
	fprintf(f, "floe_script_webhooks_retried_total %llu\n",
		(unsigned long long)svc->webhooks_retried);
	fprintf(f, "floe_script_snapshots_total %llu\n", (unsigned long long)svc->snapshots);
	fprintf(f, "floe_script_actions_dropped_total %llu\n",
		(unsigned long long)svc->actions_dropped);
	fprintf(f, "floe_script_metrics_dropped_total %llu\n",
		(unsigned long long)svc->metrics_dropped);
	if (svc->o.packets) {
		fprintf(f, "floe_script_packets_total %llu\n",
			(unsigned long long)atomic_load(&svc->o.packets->queued));
		fprintf(f, "floe_script_packets_dropped_total %llu\n",
			(unsigned long long)atomic_load(&svc->o.packets->dropped));
		fprintf(f, "floe_script_packets_undecoded_total %llu\n",
			(unsigned long long)atomic_load(&svc->o.packets->undecoded));
	}
	for (size_t i = 0; i < svc->n_metrics; i++) {
		const struct metric *m = &svc->metrics[i];

		fprintf(f, "%s{script=\"%s\"%s%s} %.17g\n", m->name, m->script,
			*m->labels ? "," : "", m->labels, m->value);
	}
	if (fclose(f) == 0)
		rename(tmp, svc->o.metrics_file);
}

/* ---- actions: webhooks and snapshots, off the scripts' threads ---- */

static void action_free(struct action *a)
{
	free(a->url);
	free(a->body);
	free(a->query);
	free(a);
}

static void action_add(struct script_service *svc, struct action *a)
{
	struct action **pp;

	pthread_mutex_lock(&svc->act_lock);
	if (svc->n_actions >= ACTIONS_MAX || svc->act_stop) {
		pthread_mutex_unlock(&svc->act_lock);
		pthread_mutex_lock(&svc->lock);
		svc->actions_dropped++;
		pthread_mutex_unlock(&svc->lock);
		say(svc, a->script, "%s dropped: %d actions waiting",
		    a->type == ACT_WEBHOOK ? "webhook" : "snapshot", ACTIONS_MAX);
		action_free(a);
		return;
	}
	/* in due order */
	for (pp = &svc->actions; *pp && (*pp)->due_ms <= a->due_ms; pp = &(*pp)->next)
		;
	a->next = *pp;
	*pp = a;
	svc->n_actions++;
	pthread_cond_signal(&svc->act_cond);
	pthread_mutex_unlock(&svc->act_lock);
}

/* One attempt; a failure is retried as the triggers' webhooks are (trigger/webhook.h: 3 retries,
 * 0.5 s doubled), by queueing the action again. true: a (still owns a) retry queued. */
static bool do_webhook(struct script_service *svc, struct action *a)
{
	const char *type = (a->body[0] == '{' || a->body[0] == '[')
			       ? "Content-Type: application/json"
			       : "Content-Type: text/plain; charset=utf-8";
	char why[256] = "";
	bool ok = webhook_post(a->url, a->body, strlen(a->body), &type, 1, WEBHOOK_TIMEOUT_NS, why,
			       sizeof(why));
	/* past the service's stop action_add drops (and counts) the retry */
	bool retry = !ok && a->attempt < WEBHOOK_RETRIES;

	pthread_mutex_lock(&svc->lock);
	if (ok)
		svc->webhooks_sent++;
	else if (retry)
		svc->webhooks_retried++;
	else
		svc->webhooks_failed++;
	svc->metrics_dirty = true;
	pthread_mutex_unlock(&svc->lock);
	if (retry) {
		a->due_ms = mono_ms() + webhook_backoff(WEBHOOK_BACKOFF_NS, a->attempt) / 1000000;
		a->attempt++;
		action_add(svc, a);
		return true;
	}
	if (!ok)
		say(svc, a->script, "webhook %s: %s", a->url, why[0] ? why : "out of memory");
	return false;
}

static int write_chunk(const void *buf, size_t len, void *arg)
{
	return fwrite(buf, 1, len, arg) == len ? 0 : -EIO;
}

static void do_snapshot(struct script_service *svc, struct action *a)
{
	struct agent_query q = {
	    .filter = a->query,
	    .since_ns = a->t0_ns - (int64_t)(a->before * 1e9),
	    .until_ns = a->t0_ns + (int64_t)(a->after * 1e9) + 1,
	};
	char path[PATH_MAX], tmp[PATH_MAX + 8], err[256] = "";
	unsigned seq = atomic_fetch_add(&svc->snapshot_seq, 1);
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%.*s-%lld-%u.pcap", svc->o.snapshot_dir,
		 (int)(strlen(a->script) - 3), a->script, (long long)(a->t0_ns / 1000000000), seq);
	snprintf(tmp, sizeof(tmp), "%s.part", path);
	mkdir(svc->o.snapshot_dir, 0700);
	f = fopen(tmp, "w");
	if (!f) {
		say(svc, a->script, "snapshot: %s: %s", tmp, strerror(errno));
		return;
	}
	ret = svc->api.ops->pcap(svc->api.self, &q, write_chunk, f, err, sizeof(err));
	if (fclose(f) || ret) {
		say(svc, a->script, "snapshot '%s': %s", a->query, err[0] ? err : strerror(-ret));
		unlink(tmp);
		return;
	}
	rename(tmp, path);
	pthread_mutex_lock(&svc->lock);
	svc->snapshots++;
	svc->metrics_dirty = true;
	pthread_mutex_unlock(&svc->lock);
	say(svc, a->script, "snapshot written: %s", path);
}

static void *action_thread(void *arg)
{
	struct script_service *svc = arg;
	int64_t next_metrics = 0;
	/* libcurl, held from a webhook until no action is queued (trigger.c's worker_main) */
	const struct curl_dl *curl = NULL;

	pthread_mutex_lock(&svc->act_lock);
	while (!svc->act_stop || svc->actions) {
		struct action *a = svc->actions;
		int64_t now = mono_ms();

		if (!a && curl) {
			pthread_mutex_unlock(&svc->act_lock);
			curl_dl_put(curl);
			curl = NULL;
			pthread_mutex_lock(&svc->act_lock);
			continue;
		}
		/* at stop, what is due runs; what would wait is dropped */
		if (a && (a->due_ms <= now || svc->act_stop)) {
			svc->actions = a->next;
			svc->n_actions--;
			pthread_mutex_unlock(&svc->act_lock);
			if (a->type == ACT_WEBHOOK) {
				/* NULL: webhook_post says why */
				if (!curl)
					curl = curl_dl_get(NULL, 0);
				if (!do_webhook(svc, a))
					action_free(a);
			} else {
				if (a->due_ms <= now)
					do_snapshot(svc, a);
				action_free(a);
			}
			pthread_mutex_lock(&svc->act_lock);
			continue;
		}
		if (now >= next_metrics) {
			pthread_mutex_unlock(&svc->act_lock);
			pthread_mutex_lock(&svc->lock);
			if (svc->metrics_dirty)
				metrics_write(svc);
			pthread_mutex_unlock(&svc->lock);
			pthread_mutex_lock(&svc->act_lock);
			next_metrics = now + 200;
			continue;
		}
		timed_wait(&svc->act_cond, &svc->act_lock,
			   a && a->due_ms < next_metrics ? a->due_ms : next_metrics);
	}
	pthread_mutex_unlock(&svc->act_lock);
	curl_dl_put(curl);
	return NULL;
}

/* ---- one script ---- */

/* A helper message of a running call (script_helper_fn). */
static void on_helper(const struct script_msg *m, void *arg)
{
	struct script *s = arg;
	struct script_service *svc = s->svc;
	struct action *a;

	switch (m->type) {
	case SCRIPT_MSG_LOG:
		/* whole, however long (an entry as JSON): not through say()'s buffer */
		fprintf(svc->o.log, "floe: script %s: %s\n", s->name, m->text);
		fflush(svc->o.log);
		return;
	case SCRIPT_MSG_METRIC:
		metric_set(svc, s->name, m);
		return;
	case SCRIPT_MSG_WEBHOOK:
	case SCRIPT_MSG_SNAPSHOT:
		if (m->type == SCRIPT_MSG_SNAPSHOT && !svc->o.snapshot_dir) {
			say(svc, s->name, "snapshot: no store to keep it in");
			return;
		}
		a = calloc(1, sizeof(*a));
		if (!a)
			return;
		snprintf(a->script, sizeof(a->script), "%s", s->name);
		if (m->type == SCRIPT_MSG_WEBHOOK) {
			a->type = ACT_WEBHOOK;
			a->url = strdup(m->url);
			a->body = strdup(m->body);
			a->due_ms = 0;
		} else {
			a->type = ACT_SNAPSHOT;
			a->query = strdup(m->query);
			a->before = m->before;
			a->after = m->after;
			a->t0_ns = unix_ns();
			/* the packets after now must be in the store first */
			a->due_ms = mono_ms() + (int64_t)(m->after * 1000) + 1000;
		}
		if ((a->type == ACT_WEBHOOK && (!a->url || !a->body)) ||
		    (a->type == ACT_SNAPSHOT && !a->query)) {
			action_free(a);
			return;
		}
		action_add(svc, a);
		return;
	default:
		return;
	}
}

/* Start the runner and load the source. Under s->lock. */
static int script_load(struct script *s, char *err, size_t errlen)
{
	struct script_limits lim = {s->svc->o.cpu_ms, s->svc->o.memory};
	struct script_msg ready;
	enum script_call_result r =
	    script_child_start(s->svc->runner, &lim, s->name, s->source, s->source_len, &s->child,
			       &ready, err, errlen);

	if (r != SCRIPT_CALL_OK)
		return -1;
	free(s->filter);
	s->filter = ready.filter && *ready.filter ? strdup(ready.filter) : NULL;
	s->on_entry = ready.on_entry;
	s->on_packet = ready.on_packet;
	s->n_jobs = ready.n_jobs;
	memcpy(s->jobs, ready.jobs, sizeof(ready.jobs[0]) * ready.n_jobs);
	script_msg_free(&ready);
	return 0;
}

/*
 * One call of a hook. Under s->lock. A runner that went is started again (the script's
 * state starts afresh); SCRIPT_MAX_FAILURES failures in a row disable the script.
 */
static void script_call(struct script *s, const char *head, const char *buf, size_t len,
			const char *tail)
{
	struct script_limits lim = {s->svc->o.cpu_ms, s->svc->o.memory};
	enum script_call_result r;
	char err[1024] = "";

	if (s->disabled)
		return;
	if (s->child.pid <= 0) {
		s->restarts++;
		if (script_load(s, err, sizeof(err)))
			goto failed;
	}
	s->calls++;
	r = script_child_call(&s->child, &lim, head, buf, len, tail, on_helper, s, err,
			      sizeof(err));
	if (r == SCRIPT_CALL_OK) {
		s->failures = 0;
		return;
	}
failed:
	s->errors++;
	s->failures++;
	say(s->svc, s->name, "%s%s", err,
	    s->child.pid <= 0 ? " (restarting on the next call)" : "");
	if (s->failures >= SCRIPT_MAX_FAILURES) {
		s->disabled = true;
		script_child_stop(&s->child);
		say(s->svc, s->name,
		    "disabled after %u failures in a row (change the file to reload it)",
		    s->failures);
	}
	pthread_mutex_lock(&s->svc->lock);
	s->svc->metrics_dirty = true;
	pthread_mutex_unlock(&s->svc->lock);
}

static int on_entry(const struct agent_entry *e, void *arg)
{
	struct script *s = arg;
	bool stop;

	pthread_mutex_lock(&s->lock);
	s->entries++;
	script_call(s, "{\"t\":\"entry\",\"entry\":", e->json, e->json_len, "}");
	stop = s->disabled;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void *follow_thread(void *arg)
{
	struct script *s = arg;
	char err[512] = "";
	int ret = s->svc->api.ops->follow(s->svc->api.self, s->filter, &s->follow, on_entry, s, err,
					  sizeof(err));

	if (ret < 0)
		say(s->svc, s->name, "filter '%s': %s", s->filter ? s->filter : "", err);
	return NULL;
}

static void *job_thread(void *arg)
{
	struct script *s = arg;
	int64_t due[SCRIPT_JOBS_MAX], start = mono_ms();

	for (size_t i = 0; i < s->n_jobs; i++)
		due[i] = start + (int64_t)s->jobs[i].every_ms;
	pthread_mutex_lock(&s->stop_lock);
	while (!s->stop) {
		int64_t now = mono_ms(), next = INT64_MAX;

		for (size_t i = 0; i < s->n_jobs; i++) {
			char frame[64];
			bool disabled;

			if (due[i] > now) {
				next = due[i] < next ? due[i] : next;
				continue;
			}
			/* the next run keeps to the schedule; runs missed while late are skipped */
			while (due[i] <= now)
				due[i] += (int64_t)s->jobs[i].every_ms;
			next = due[i] < next ? due[i] : next;
			pthread_mutex_unlock(&s->stop_lock);
			snprintf(frame, sizeof(frame), "{\"t\":\"job\",\"index\":%zu}", i);
			pthread_mutex_lock(&s->lock);
			s->jobs_run++;
			script_call(s, NULL, frame, strlen(frame), NULL);
			disabled = s->disabled;
			pthread_mutex_unlock(&s->lock);
			pthread_mutex_lock(&s->stop_lock);
			if (disabled)
				goto out;
			now = mono_ms();
		}
		if (!s->stop && next != INT64_MAX)
			timed_wait(&s->stop_cond, &s->stop_lock, next);
	}
out:
	pthread_mutex_unlock(&s->stop_lock);
	return NULL;
}

static void script_free(struct script *s)
{
	script_child_stop(&s->child);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_cond_destroy(&s->stop_cond);
	free(s->source);
	free(s->filter);
	free(s);
}

static void script_halt(struct script *s)
{
	s->follow.stop = 1;
	pthread_mutex_lock(&s->stop_lock);
	s->stop = true;
	pthread_cond_signal(&s->stop_cond);
	pthread_mutex_unlock(&s->stop_lock);
	if (s->follow_started)
		pthread_join(s->follow_thr, NULL);
	if (s->job_started)
		pthread_join(s->job_thr, NULL);
	s->follow_started = s->job_started = false;
}

static bool is_script_name(const char *name)
{
	size_t n = strlen(name);

	return n > 3 && name[0] != '.' && !strcmp(name + n - 3, ".js");
}

/* Read, load and start NAME. A script that does not load is reported and kept disabled, so
 * that its file's next change reloads it. NULL only when out of memory. */
static struct script *script_open(struct script_service *svc, const char *name)
{
	struct script *s = calloc(1, sizeof(*s));
	char path[PATH_MAX], err[1024] = "";
	struct stat st;
	FILE *f;

	if (!s)
		return NULL;
	s->svc = svc;
	s->child.fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->stop_lock, NULL);
	cond_init_mono(&s->stop_cond);
	snprintf(path, sizeof(path), "%s/%s", svc->o.source, name);
	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > SOURCE_MAX) {
		snprintf(err, sizeof(err), "%.900s: %s", path,
			 !f ? strerror(errno) : "not a regular file of at most 1 MiB");
	} else {
		s->source = malloc((size_t)st.st_size + 1);
		s->source_len = s->source ? fread(s->source, 1, (size_t)st.st_size, f) : 0;
		if (s->source)
			s->source[s->source_len] = '\0';
		else
			snprintf(err, sizeof(err), "out of memory");
	}
	if (f)
		fclose(f);
	if (!err[0])
		script_load(s, err, sizeof(err));
	pthread_mutex_lock(&svc->lock);
	if (err[0])
		svc->load_failures++;
	else
		svc->loaded_ok++;
	svc->metrics_dirty = true;
	pthread_mutex_unlock(&svc->lock);
	if (err[0]) {
		say(svc, name, "not loaded: %s", err);
		s->disabled = true;
		return s;
	}
	say(svc, name, "loaded (%s%s%zu job%s%s%s)", s->on_entry ? "onEntry, " : "",
	    s->on_packet ? "onPacket, " : "", s->n_jobs, s->n_jobs == 1 ? "" : "s",
	    s->filter ? ", filter " : "", s->filter ? s->filter : "");
	if (s->on_packet && !svc->o.packets)
		say(svc, name, "onPacket is not fed here (no packet path): ignored");
	if (s->on_entry)
		s->follow_started = pthread_create(&s->follow_thr, NULL, follow_thread, s) == 0;
	if (s->n_jobs)
		s->job_started = pthread_create(&s->job_thr, NULL, job_thread, s) == 0;
	return s;
}

/* (Re)load NAME after its file changed, or drop it when gone. */
static void script_refresh(struct script_service *svc, const char *name)
{
	struct script **pp, *old = NULL, *s;
	char path[PATH_MAX];

	pthread_rwlock_wrlock(&svc->scripts_rw);
	pthread_mutex_lock(&svc->lock);
	for (pp = &svc->scripts; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name)) {
			old = *pp;
			*pp = old->next;
			break;
		}
	pthread_mutex_unlock(&svc->lock);
	if (old) {
		script_halt(old);
		script_free(old);
	}
	snprintf(path, sizeof(path), "%s/%s", svc->o.source, name);
	if (access(path, F_OK) < 0) {
		if (old)
			say(svc, name, "removed");
		pthread_rwlock_unlock(&svc->scripts_rw);
		return;
	}
	s = script_open(svc, name);
	if (s) {
		pthread_mutex_lock(&svc->lock);
		s->next = svc->scripts;
		svc->scripts = s;
		svc->metrics_dirty = true;
		pthread_mutex_unlock(&svc->lock);
	}
	pthread_rwlock_unlock(&svc->scripts_rw);
}

/* A packet's metadata as the JSON onPacket gets. */
static int packet_json(const struct packet_meta *m, char *buf, size_t len)
{
	static const char *const names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], flags[64] = "";
	bool v4 = m->family == AF_INET;
	size_t fl = 0;

	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? m->src + 12 : m->src, src, sizeof(src));
	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? m->dst + 12 : m->dst, dst, sizeof(dst));
	for (int i = 0; m->proto == IPPROTO_TCP && m->l4 && i < 8; i++)
		if (m->tcp_flags & (1u << i))
			fl += (size_t)snprintf(flags + fl, sizeof(flags) - fl, "%s\"%s\"",
					       fl ? "," : "", names[i]);
	return snprintf(buf, len,
			"{\"ts_ns\":%llu,\"family\":\"%s\",\"protocol\":\"%s\","
			"\"src\":{\"ip\":\"%s\",\"port\":%u},\"dst\":{\"ip\":\"%s\",\"port\":%u},"
			"\"size\":%u,\"captured\":%u,\"payload_size\":%u,\"flags\":[%s]}",
			(unsigned long long)m->ts_ns, v4 ? "ipv4" : "ipv6",
			m->proto == IPPROTO_TCP	  ? "tcp"
			: m->proto == IPPROTO_UDP ? "udp"
						  : "other",
			src, m->l4 ? m->sport : 0, dst, m->l4 ? m->dport : 0, m->wire_len,
			m->cap_len, m->payload_len, flags);
}

/* Hands each queued packet to every script with onPacket, one script after the other; keeps
 * the queue switched on only while there is such a script. */
static void *packet_thread(void *arg)
{
	struct script_service *svc = arg;
	struct script_packets *q = svc->o.packets;

	while (!atomic_load(&svc->packet_stop)) {
		struct packet_meta batch[64];
		size_t n = 0;
		bool any = false;

		pthread_rwlock_rdlock(&svc->scripts_rw);
		for (struct script *s = svc->scripts; s; s = s->next)
			any |= s->on_packet && !atomic_load(&s->disabled);
		atomic_store(&q->active, any);

		pthread_mutex_lock(&q->lock);
		if (!q->count) /* the stop flag and the scripts: looked at again every 100 ms */
			timed_wait(&q->cond, &q->lock, mono_ms() + 100);
		while (q->count && n < 64) {
			batch[n++] = q->ring[q->head];
			q->head = (q->head + 1) % q->cap;
			q->count--;
		}
		pthread_mutex_unlock(&q->lock);
		for (size_t i = 0; i < n; i++) {
			char js[512];
			int len = packet_json(&batch[i], js, sizeof(js));

			for (struct script *s = svc->scripts; s; s = s->next) {
				if (!s->on_packet || atomic_load(&s->disabled))
					continue;
				pthread_mutex_lock(&s->lock);
				script_call(s, "{\"t\":\"packet\",\"meta\":", js, (size_t)len, "}");
				pthread_mutex_unlock(&s->lock);
			}
		}
		pthread_rwlock_unlock(&svc->scripts_rw);
	}
	atomic_store(&q->active, false);
	return NULL;
}

static void *watch_thread(void *arg)
{
	struct script_service *svc = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd p[2] = {{svc->inotify_fd, POLLIN, 0}, {svc->stop_pipe[0], POLLIN, 0}};
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[1].revents)
			return NULL;
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(svc->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)q;

			if (ev->len && is_script_name(ev->name))
				script_refresh(svc, ev->name);
			q += sizeof(*ev) + ev->len;
		}
	}
}

static void service_free(struct script_service *svc)
{
	if (svc->inotify_fd >= 0)
		close(svc->inotify_fd);
	if (svc->stop_pipe[0] >= 0) {
		close(svc->stop_pipe[0]);
		close(svc->stop_pipe[1]);
	}
	for (size_t i = 0; i < svc->n_metrics; i++) {
		free(svc->metrics[i].name);
		free(svc->metrics[i].labels);
	}
	pthread_mutex_destroy(&svc->lock);
	pthread_mutex_destroy(&svc->act_lock);
	pthread_rwlock_destroy(&svc->scripts_rw);
	pthread_cond_destroy(&svc->act_cond);
	free(svc);
}

int script_service_start(const struct script_options *o, const struct agent_api *api,
			 struct script_service **out, char *err, size_t errlen)
{
	struct script_service *svc = calloc(1, sizeof(*svc));
	struct dirent **names = NULL;
	int n;

	if (!svc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	svc->o = *o;
	if (!svc->o.log)
		svc->o.log = stderr;
	svc->api = *api;
	svc->inotify_fd = svc->stop_pipe[0] = svc->stop_pipe[1] = -1;
	if (o->runner)
		snprintf(svc->runner, sizeof(svc->runner), "%s", o->runner);
	else
		script_runner_path(svc->runner, sizeof(svc->runner));
	pthread_mutex_init(&svc->lock, NULL);
	pthread_mutex_init(&svc->act_lock, NULL);
	pthread_rwlock_init(&svc->scripts_rw, NULL);
	cond_init_mono(&svc->act_cond);
	if (access(svc->runner, X_OK) < 0) {
		snprintf(err, errlen, "the script runner %s: %s", svc->runner, strerror(errno));
		goto fail;
	}
	if (o->watch) {
		svc->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (svc->inotify_fd < 0 || pipe2(svc->stop_pipe, O_CLOEXEC) < 0 ||
		    inotify_add_watch(svc->inotify_fd, o->source,
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) <
			0) {
			snprintf(err, errlen, "watching %s: %s", o->source, strerror(errno));
			goto fail;
		}
	}
	n = scandir(o->source, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", o->source, strerror(errno));
		goto fail;
	}
	if (pthread_create(&svc->act_thr, NULL, action_thread, svc)) {
		snprintf(err, errlen, "cannot start a thread");
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		if (is_script_name(names[i]->d_name))
			script_refresh(svc, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	if (o->watch)
		svc->watch_started = pthread_create(&svc->watch_thr, NULL, watch_thread, svc) == 0;
	if (o->packets)
		svc->packet_started =
		    pthread_create(&svc->packet_thr, NULL, packet_thread, svc) == 0;
	*out = svc;
	return 0;
fail:
	service_free(svc);
	return -1;
}

void script_service_stop(struct script_service *svc)
{
	if (!svc)
		return;
	if (svc->watch_started) {
		(void)!write(svc->stop_pipe[1], "x", 1);
		pthread_join(svc->watch_thr, NULL);
	}
	if (svc->packet_started) {
		atomic_store(&svc->packet_stop, true);
		pthread_join(svc->packet_thr, NULL);
	}
	for (struct script *s = svc->scripts; s; s = s->next)
		script_halt(s);
	pthread_mutex_lock(&svc->act_lock);
	svc->act_stop = true;
	pthread_cond_signal(&svc->act_cond);
	pthread_mutex_unlock(&svc->act_lock);
	pthread_join(svc->act_thr, NULL);
	pthread_mutex_lock(&svc->lock);
	metrics_write(svc);
	pthread_mutex_unlock(&svc->lock);
	while (svc->scripts) {
		struct script *s = svc->scripts;

		svc->scripts = s->next;
		script_free(s);
	}
	service_free(svc);
}

/* ---- the tap's service ---- */

struct tap_scripting {
	struct script_options so;
	char snapshots[PATH_MAX];
	struct script_packets *packets;
	struct script_service *svc;
};

static int tap_start(const struct agent_api *api, void *ctx, char *err, size_t errlen)
{
	struct tap_scripting *t = ctx;

	t->so.packets = t->packets;
	return script_service_start(&t->so, api, &t->svc, err, errlen);
}

static void tap_stop(void *ctx)
{
	struct tap_scripting *t = ctx;

	script_service_stop(t->svc);
	t->svc = NULL;
}

int script_tap_service_add(struct tap_options *o, char *err, size_t errlen)
{
	/* lives as long as the process: the tap's options hold it */
	static struct tap_scripting t;
	struct tap_service svc = {
	    .name = "--scripting-source", .start = tap_start, .stop = tap_stop, .ctx = &t};

	if (!o->scripting_source)
		return 0;
	/* the tap's agent API, which scripts read entries through, comes with the history */
	if (!o->history) {
		snprintf(err, errlen,
			 "--scripting-source needs the entry history: leave out "
			 "--no-history");
		return -1;
	}
	snprintf(t.snapshots, sizeof(t.snapshots), "%s/snapshots", o->store_dir);
	t.so = (struct script_options){
	    .source = o->scripting_source,
	    .watch = o->scripting_watch,
	    .cpu_ms = o->scripting_cpu_ms,
	    .memory = o->scripting_memory,
	    .metrics_file = o->scripting_metrics,
	    .snapshot_dir = t.snapshots,
	    .log = stderr,
	};
	/* onPacket's queue: the tap's drain thread fills it (4096 packets waiting at most) */
	t.packets = script_packets_new(4096);
	if (t.packets)
		o->packet_hook = (struct tap_packet_hook){script_packets_hook, t.packets};
	if (tap_options_add_service(o, &svc)) {
		snprintf(err, errlen, "--scripting-source: too many services");
		return -1;
	}
	return 0;
}
