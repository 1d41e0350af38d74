// SPDX-License-Identifier: Apache-2.0
/* Triggers: KFL matches → actions (trigger.h, docs/triggers.md). */
#include "trigger/trigger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <limits.h>

#include <jansson.h>

#include "api/snapshot_name.h"
#include "client/curl_dl.h"
#include "config/config.h"
#include "entry/entry_filter.h"
#include "entry/hash.h"
#include "tap/tap.h"
#include "trigger/webhook.h"

extern char **environ;

#define NS		    1000000000LL
#define DEFAULT_TIMEOUT_NS  WEBHOOK_TIMEOUT_NS
#define DEFAULT_RETRIES	    WEBHOOK_RETRIES
#define DEFAULT_BACKOFF_NS  WEBHOOK_BACKOFF_NS
#define DEFAULT_SNAPSHOT_NS (5 * NS)
/* Snapshots kept per trigger: a flood of matches must not fill the disk. */
#define DEFAULT_SNAPSHOT_KEEP 100
/* At the tap's end: how long queued jobs (and retries falling due) still run. */
#define FINISH_GRACE_NS (15 * NS)
/* De-dup memory per trigger: keys hashed into this many slots (a collision forgets). */
#define DEDUP_SLOTS 4096
/* Snapshots of all triggers together: at most this share of --storagelimit (and of this
 * floor when the limit is small), the oldest removed past it. */
#define SNAPSHOT_SHARE	   10
#define SNAPSHOT_BYTES_MIN (1ull << 20)

enum action_type { ACT_WEBHOOK, ACT_EXEC, ACT_LOG, ACT_SNAPSHOT, ACT_COUNTER };
static const char *const action_names[] = {"webhook", "exec", "log", "snapshot", "counter"};

struct action {
	enum action_type type;
	char *url, *body, *command, *file;
	char **headers; /* webhook: "Name: value", n_headers of them */
	size_t n_headers;
	long long timeout_ns, backoff_ns, before_ns, after_ns;
	int retries;
	long keep; /* snapshot: files of this trigger kept, the oldest removed past it */
	atomic_ullong sent, retried, failed, dropped;
};

struct dedup_slot {
	uint64_t hash;
	long long until_ns;
};

struct trigger {
	atomic_int refs; /* the set's, and one per job of the trigger still queued or running */
	bool api;	 /* defined by a hub (trigger_set_replace_api), not the config file */
	json_t *def;	 /* the definition as given (for listing) */
	char *query;
	char *name;
	struct entry_filter *filter;
	struct action *actions;
	size_t n_actions;
	/* rate limit: at most rate_max firings per rate_per_ns window (0: none) */
	uint64_t rate_max, window_count;
	long long rate_per_ns, window_start;
	/* de-dup: the same key (entry field, default the entry id) within dedup_ns fires once */
	long long dedup_ns;
	char *dedup_key;
	struct dedup_slot *dedup;
	atomic_ullong matched, fired, rate_limited, deduplicated;
};

struct job {
	struct job *next;
	struct trigger *t;
	struct action *a;
	long long due_ns;
	int attempt;
	int64_t ts_ns;
	char id[128];
	size_t len;
	char json[]; /* the entry */
};

struct trigger_set {
	/* the triggers: config's first, then a hub's; the array is replaced under set_lock
	 * (written by trigger_set_replace_api, read per entry by the follow thread) */
	pthread_rwlock_t set_lock;
	struct trigger **v;
	size_t n;
	char version[128]; /* the hub's name for its set ("" before it gave one) */
	/* the union of the queries (NULL with no trigger): the follow's filter; under
	 * follow_lock, which also guards restarting the follow when it changes */
	char *filter;
	pthread_mutex_t follow_lock;
	pthread_cond_t follow_cond;
	/* broadcast when a follow starts (on_follow_started) or ends: follow_live sleeps on it */
	pthread_cond_t live_cond;
	bool stopping, following;
	/* follow_restart's count, the count the running follow was started for, and the count
	 * of the last follow that ended in an error: a set is live once the running follow is
	 * the current one and says it has started (follow_live), or the current one failed */
	uint64_t follow_gen, follow_gen_running, follow_gen_failed;
	uint64_t lost_before; /* entries lost by the follows that ended */
	uint64_t snap_bytes_max; /* all snapshots together; 0: no bound */
	char *store_dir;
	FILE *log;
	pthread_mutex_t log_lock;
	pthread_mutex_t snap_lock; /* the snapshots' directory: trimmed by one worker at a time */
	struct agent_api api;
	/* the follow */
	pthread_t follow_thread;
	struct agent_follow follow;
	atomic_llong last_entry_ns;
	/* running: written under follow_lock (set_running), which follow_is_live reads it under;
	 * finished: the service's own thread only */
	bool running, finished;
	/* the jobs */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t queued;
	bool draining;
	long long drain_deadline_ns;
	pthread_t workers[TRIGGER_WORKERS];
	size_t n_workers;
	atomic_ullong queue_dropped, delivered_seq;
};

static void service_stop(struct trigger_set *ts);

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

/* ---- configuration ---- */

struct cparse {
	const struct config *c;
	char *err;
	size_t errlen;
	/* a hub's triggers (JSON, one line): messages name the key within the trigger, not a
	 * line; actions that act on the node itself (exec, log to a file) are refused */
	bool api;
};

static int cerr(struct cparse *p, const struct config_node *n, const char *path, const char *msg)
{
	char where[320];
	const char *dot;

	if (p->api) {
		/* "triggers[3].actions[0].webhook" -> "actions[0].webhook" */
		dot = strchr(path, '.');
		snprintf(p->err, p->errlen, "%s: %s", dot ? dot + 1 : "trigger", msg);
		return -EINVAL;
	}
	snprintf(p->err, p->errlen, "%s: %s: %s", config_where(p->c, n, where, sizeof(where)), path,
		 msg);
	return -EINVAL;
}

static int scalar(struct cparse *p, const struct config_node *n, const char *path, const char **out)
{
	if (!n || n->type != CONFIG_SCALAR || !*n->value)
		return cerr(p, n, path, "expected a value");
	*out = n->value;
	return 0;
}

static int duration(struct cparse *p, const struct config_node *n, const char *path, long long *out)
{
	if (!n || n->type != CONFIG_SCALAR || config_duration(n->value, out))
		return cerr(p, n, path, "expected a duration (5s, 200ms, 1m)");
	return 0;
}

static int count(struct cparse *p, const struct config_node *n, const char *path, long min,
		 long max, long *out)
{
	char *end;
	long v;

	if (!n || n->type != CONFIG_SCALAR)
		return cerr(p, n, path, "expected a number");
	errno = 0;
	v = strtol(n->value, &end, 10);
	if (errno || end == n->value || *end || v < min || v > max) {
		char msg[96];

		snprintf(msg, sizeof(msg), "expected a whole number %ld..%ld", min, max);
		return cerr(p, n, path, msg);
	}
	*out = v;
	return 0;
}

/* Keys of map n other than those allowed: an error naming the first. */
static int only_keys(struct cparse *p, const struct config_node *n, const char *path,
		     const char *const *allowed)
{
	char sub[1024], msg[300];

	for (size_t i = 0; i < n->n_kids; i++) {
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			ok |= !strcmp(*a, n->kids[i]->key);
		if (ok)
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, n->kids[i]->key);
		snprintf(msg, sizeof(msg), "unknown key '%s'", n->kids[i]->key);
		return cerr(p, n->kids[i], sub, msg);
	}
	return 0;
}

/* The member key of action map v ("ACT.KEY" in messages): a duration into *out, left as it is
 * when absent. */
static int member_duration(struct cparse *p, const struct config_node *v, const char *path,
			   const char *key, long long *out)
{
	const struct config_node *o = config_get(v, key);
	char sub[400];

	if (!o)
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s.%s", path, v->key, key);
	return duration(p, o, sub, out);
}

/* The same for a text, strdup'ed into *out; required: absent is an error. */
static int member_text(struct cparse *p, const struct config_node *v, const char *path,
		       const char *key, bool required, char **out)
{
	const struct config_node *o = config_get(v, key);
	char sub[400];
	const char *s = NULL;
	int ret;

	if (!o && !required)
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s.%s", path, v->key, key);
	if ((ret = scalar(p, o ? o : v, sub, &s)))
		return ret;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_headers(struct cparse *p, const struct config_node *v, const char *path,
			 struct action *a)
{
	const struct config_node *o = config_get(v, "headers");
	char sub[400];

	if (!o)
		return 0;
	snprintf(sub, sizeof(sub), "%s.webhook.headers", path);
	if (o->type != CONFIG_MAP)
		return cerr(p, o, sub, "expected NAME: VALUE lines");
	a->headers = calloc(o->n_kids ? o->n_kids : 1, sizeof(*a->headers));
	if (!a->headers)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_kids; i++) {
		char *h = NULL;

		if (o->kids[i]->type != CONFIG_SCALAR || strpbrk(o->kids[i]->value, "\r\n") ||
		    strpbrk(o->kids[i]->key, ": \r\n"))
			return cerr(p, o->kids[i], sub,
				    "expected a header name and a one-line value");
		if (asprintf(&h, "%s: %s", o->kids[i]->key, o->kids[i]->value) < 0)
			return -ENOMEM;
		a->headers[a->n_headers++] = h;
	}
	return 0;
}

static int parse_action(struct cparse *p, const struct config_node *n, const char *path,
			struct action *a)
{
	static const char *const webhook_keys[] = {"url",     "timeout", "retries", "backoff",
						   "headers", "body",	 NULL};
	static const char *const exec_keys[] = {"command", "timeout", NULL};
	static const char *const snap_keys[] = {"before", "after", "keep", NULL};
	static const char *const log_keys[] = {"file", NULL};
	const struct config_node *v, *o;
	char sub[320];
	long l;
	bool b;
	int ret;

	if (n->type != CONFIG_MAP || n->n_kids != 1)
		return cerr(p, n, path,
			    "an action is one key: webhook, exec, log, snapshot or counter");
	v = n->kids[0];
	snprintf(sub, sizeof(sub), "%s.%s", path, v->key);
	a->type = (enum action_type) - 1;
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (!strcmp(v->key, action_names[i]))
			a->type = (enum action_type)i;
	a->timeout_ns = DEFAULT_TIMEOUT_NS;
	a->retries = DEFAULT_RETRIES;
	a->backoff_ns = DEFAULT_BACKOFF_NS;
	a->before_ns = a->after_ns = DEFAULT_SNAPSHOT_NS;
	a->keep = DEFAULT_SNAPSHOT_KEEP;
	if (p->api && a->type == ACT_EXEC)
		return cerr(p, v, sub,
			    "exec is for the configuration file only (through the hub it would run "
			    "commands on every node)");
	/* the short forms: a scalar for the one thing the action needs */
	if (v->type == CONFIG_SCALAR && (a->type == ACT_WEBHOOK || a->type == ACT_EXEC)) {
		char **dst = a->type == ACT_WEBHOOK ? &a->url : &a->command;

		if (!(*dst = strdup(v->value)))
			return -ENOMEM;
		goto check;
	}
	switch (a->type) {
	case ACT_WEBHOOK:
		if (v->type != CONFIG_MAP)
			return cerr(p, v, sub, "expected a URL or {url: URL, ...}");
		if ((ret = only_keys(p, v, sub, webhook_keys)) ||
		    (ret = member_text(p, v, path, "url", true, &a->url)) ||
		    (ret = member_duration(p, v, path, "timeout", &a->timeout_ns)) ||
		    (ret = member_duration(p, v, path, "backoff", &a->backoff_ns)) ||
		    (ret = member_text(p, v, path, "body", false, &a->body)) ||
		    (ret = parse_headers(p, v, path, a)))
			return ret;
		if ((o = config_get(v, "retries"))) {
			snprintf(sub, sizeof(sub), "%s.webhook.retries", path);
			if ((ret = count(p, o, sub, 0, 100, &l)))
				return ret;
			a->retries = (int)l;
		}
		break;
	case ACT_EXEC:
		if (v->type != CONFIG_MAP)
			return cerr(p, v, sub, "expected a command or {command: CMD, timeout: 5s}");
		if ((ret = only_keys(p, v, sub, exec_keys)) ||
		    (ret = member_text(p, v, path, "command", true, &a->command)) ||
		    (ret = member_duration(p, v, path, "timeout", &a->timeout_ns)))
			return ret;
		break;
	case ACT_LOG:
		if (v->type == CONFIG_SCALAR && !config_bool(v, &b)) {
			if (!b)
				return cerr(p, v, sub, "false: leave the action out instead");
			break;
		}
		if (v->type == CONFIG_SCALAR) {
			if (!(a->file = strdup(v->value)))
				return -ENOMEM;
			break;
		}
		if (v->type != CONFIG_MAP)
			return cerr(p, v, sub, "expected true, a file or {file: FILE}");
		if ((ret = only_keys(p, v, sub, log_keys)) ||
		    (ret = member_text(p, v, path, "file", true, &a->file)))
			return ret;
		break;
	case ACT_SNAPSHOT:
		if (v->type == CONFIG_SCALAR && !config_bool(v, &b) && b)
			break;
		if (v->type != CONFIG_MAP)
			return cerr(p, v, sub, "expected true or {before: 5s, after: 5s}");
		if ((ret = only_keys(p, v, sub, snap_keys)) ||
		    (ret = member_duration(p, v, path, "before", &a->before_ns)) ||
		    (ret = member_duration(p, v, path, "after", &a->after_ns)))
			return ret;
		if ((o = config_get(v, "keep"))) {
			snprintf(sub, sizeof(sub), "%s.snapshot.keep", path);
			if ((ret = count(p, o, sub, 1, 1000000, &a->keep)))
				return ret;
		}
		break;
	case ACT_COUNTER:
		if (config_bool(v, &b) || !b)
			return cerr(p, v, sub, "expected true");
		break;
	default: {
		char msg[300];

		snprintf(msg, sizeof(msg),
			 "unknown action '%s' (webhook, exec, log, snapshot, counter)", v->key);
		return cerr(p, v, sub, msg);
	}
	}
check:
	if (p->api && a->type == ACT_LOG && a->file)
		return cerr(p, v, sub,
			    "log to a file is for the configuration file only (log: true writes to "
			    "the agent's log)");
	if (a->type == ACT_WEBHOOK && strncmp(a->url, "http://", 7) &&
	    strncmp(a->url, "https://", 8))
		return cerr(p, v, sub, "expected an http:// or https:// URL");
	return 0;
}

static int parse_trigger(struct cparse *p, const struct config_node *n, size_t idx,
			 struct trigger *t, struct trigger *const *others, size_t n_others)
{
	static const char *const keys[] = {"name", "query", "actions", "rate_limit", "dedup", NULL};
	const struct config_node *o, *acts;
	char path[64], sub[256], ferr[512];
	const char *s = NULL;
	int ret;

	snprintf(path, sizeof(path), "triggers[%zu]", idx);
	if (n->type != CONFIG_MAP)
		return cerr(p, n, path, "expected {name: NAME, query: KFL, actions: [...]}");
	if ((ret = only_keys(p, n, path, keys)))
		return ret;
	snprintf(sub, sizeof(sub), "%s.name", path);
	if ((ret = scalar(p, config_get(n, "name"), sub, &s)))
		return ret;
	if (!trigger_name_ok(s))
		return cerr(p, config_get(n, "name"), sub,
			    "a name is 1 to 64 of A-Z a-z 0-9 - _ . (no '.' first, "
			    "last or twice)");
	for (size_t i = 0; i < n_others; i++)
		if (!strcmp(others[i]->name, s))
			return cerr(p, config_get(n, "name"), sub,
				    others[i]->api || !p->api
					? "two triggers have this name"
					: "the configuration file has a trigger of this name");
	if (!(t->name = strdup(s)))
		return -ENOMEM;
	snprintf(sub, sizeof(sub), "%s.query", path);
	if ((ret = scalar(p, config_get(n, "query"), sub, &s)))
		return ret;
	if (entry_filter_compile_checked(s, &t->filter, ferr, sizeof(ferr)))
		return cerr(p, config_get(n, "query"), sub, ferr);
	if (!(t->query = strdup(s)))
		return -ENOMEM;
	snprintf(sub, sizeof(sub), "%s.actions", path);
	acts = config_get(n, "actions");
	if (!acts || acts->type != CONFIG_SEQ || !acts->n_kids)
		return cerr(p, acts ? acts : n, sub, "expected a list of actions");
	t->actions = calloc(acts->n_kids, sizeof(*t->actions));
	if (!t->actions)
		return -ENOMEM;
	for (size_t i = 0; i < acts->n_kids; i++) {
		snprintf(sub, sizeof(sub), "%s.actions[%zu]", path, i);
		t->n_actions = i + 1;
		if ((ret = parse_action(p, acts->kids[i], sub, &t->actions[i])))
			return ret;
	}
	if ((o = config_get(n, "rate_limit"))) {
		static const char *const rkeys[] = {"max", "per", NULL};
		long max;

		snprintf(sub, sizeof(sub), "%s.rate_limit", path);
		if (o->type != CONFIG_MAP || !config_get(o, "max"))
			return cerr(p, o, sub, "expected {max: N, per: DURATION}");
		if ((ret = only_keys(p, o, sub, rkeys)))
			return ret;
		snprintf(sub, sizeof(sub), "%s.rate_limit.max", path);
		if ((ret = count(p, config_get(o, "max"), sub, 1, 1000000000, &max)))
			return ret;
		t->rate_max = (uint64_t)max;
		t->rate_per_ns = NS;
		snprintf(sub, sizeof(sub), "%s.rate_limit.per", path);
		if (config_get(o, "per") &&
		    (ret = duration(p, config_get(o, "per"), sub, &t->rate_per_ns)))
			return ret;
		if (t->rate_per_ns <= 0)
			return cerr(p, config_get(o, "per"), sub, "expected more than 0");
	}
	if ((o = config_get(n, "dedup"))) {
		static const char *const dkeys[] = {"window", "key", NULL};

		snprintf(sub, sizeof(sub), "%s.dedup", path);
		if (o->type == CONFIG_SCALAR) {
			if ((ret = duration(p, o, sub, &t->dedup_ns)))
				return ret;
		} else if (o->type == CONFIG_MAP) {
			if ((ret = only_keys(p, o, sub, dkeys)))
				return ret;
			snprintf(sub, sizeof(sub), "%s.dedup.window", path);
			if ((ret = duration(p, config_get(o, "window"), sub, &t->dedup_ns)))
				return ret;
			if (config_get(o, "key")) {
				snprintf(sub, sizeof(sub), "%s.dedup.key", path);
				if ((ret = scalar(p, config_get(o, "key"), sub, &s)))
					return ret;
				if (!(t->dedup_key = strdup(s)))
					return -ENOMEM;
			}
		} else {
			return cerr(p, o, sub, "expected a duration or {window: 30s, key: FIELD}");
		}
		t->dedup = calloc(DEDUP_SLOTS, sizeof(*t->dedup));
		if (!t->dedup)
			return -ENOMEM;
	}
	return 0;
}

static void trigger_free_one(struct trigger *t)
{
	for (size_t i = 0; i < t->n_actions; i++) {
		struct action *a = &t->actions[i];

		free(a->url);
		free(a->body);
		free(a->command);
		free(a->file);
		for (size_t k = 0; k < a->n_headers; k++)
			free(a->headers[k]);
		free(a->headers);
	}
	free(t->actions);
	entry_filter_free(t->filter);
	free(t->name);
	free(t->query);
	free(t->dedup_key);
	free(t->dedup);
	json_decref(t->def);
	free(t);
}

/* A trigger lives while the set holds it or a job of it is queued or running: a hub may
 * replace its triggers while their webhooks are being retried. */
static void trigger_unref(struct trigger *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		trigger_free_one(t);
}

static void job_free(struct job *j)
{
	trigger_unref(j->t);
	free(j);
}

void trigger_set_free(struct trigger_set *ts)
{
	if (!ts)
		return;
	if (ts->running)
		service_stop(ts);
	while (ts->head) {
		struct job *j = ts->head;

		ts->head = j->next;
		job_free(j);
	}
	for (size_t i = 0; i < ts->n; i++)
		trigger_unref(ts->v[i]);
	free(ts->v);
	free(ts->filter);
	free(ts->store_dir);
	pthread_mutex_destroy(&ts->lock);
	pthread_cond_destroy(&ts->cond);
	pthread_mutex_destroy(&ts->log_lock);
	pthread_mutex_destroy(&ts->snap_lock);
	pthread_mutex_destroy(&ts->follow_lock);
	pthread_cond_destroy(&ts->follow_cond);
	pthread_cond_destroy(&ts->live_cond);
	pthread_rwlock_destroy(&ts->set_lock);
	free(ts);
}

/* A config node as JSON: maps and lists as such, unquoted scalars that read as a whole
 * number or a boolean as those, the rest as strings (what GET /api/v1/triggers shows). */
static json_t *node_json(const struct config_node *n)
{
	json_t *o;
	bool b;

	switch (n->type) {
	case CONFIG_MAP:
		o = json_object();
		for (size_t i = 0; i < n->n_kids; i++)
			json_object_set_new(o, n->kids[i]->key, node_json(n->kids[i]));
		return o;
	case CONFIG_SEQ:
		o = json_array();
		for (size_t i = 0; i < n->n_kids; i++)
			json_array_append_new(o, node_json(n->kids[i]));
		return o;
	case CONFIG_SCALAR:
		break;
	}
	if (!n->quoted) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(n->value, &end, 10);
		if (*n->value && !*end && !errno)
			return json_integer(v);
		if (!config_bool(n, &b))
			return json_boolean(b);
	}
	return json_string(n->value);
}

/* The union of the triggers' queries, "(q1) or (q2) ...": what the follow asks the agent
 * for (each trigger then matches its own per entry). NULL with no trigger. Under set_lock. */
static char *union_filter(struct trigger *const *v, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m;

	if (!n || !(m = open_memstream(&out, &len)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(m, "%s(%s)", i ? " or " : "", v[i]->query);
	if (fclose(m)) {
		free(out);
		return NULL;
	}
	return out;
}

static struct trigger_set *set_alloc(const char *store_dir, FILE *log)
{
	struct trigger_set *ts = calloc(1, sizeof(*ts));
	pthread_condattr_t ca;

	if (!ts)
		return NULL;
	pthread_mutex_init(&ts->lock, NULL);
	pthread_mutex_init(&ts->log_lock, NULL);
	pthread_mutex_init(&ts->snap_lock, NULL);
	pthread_mutex_init(&ts->follow_lock, NULL);
	pthread_cond_init(&ts->follow_cond, NULL);
	pthread_rwlock_init(&ts->set_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ts->cond, &ca);
	pthread_cond_init(&ts->live_cond, &ca);
	pthread_condattr_destroy(&ca);
	ts->log = log;
	ts->store_dir = strdup(store_dir ? store_dir : ".");
	/* libcurl is loaded at the first POST (worker_main, client/curl_dl.h). */
	if (!ts->store_dir) {
		trigger_set_free(ts);
		return NULL;
	}
	return ts;
}

/* The triggers of list (a sequence of maps) compiled into *out (n_out of them), names checked
 * against others too. On an error what was compiled is freed. */
static int parse_list(struct cparse *p, const struct config_node *list, struct trigger *const *others,
		      size_t n_others, struct trigger ***out, size_t *n_out)
{
	struct trigger **v = calloc(list->n_kids + n_others + 1, sizeof(*v));
	size_t n = 0;
	int ret = 0;

	if (!v)
		return -ENOMEM;
	if (n_others)
		memcpy(v, others, n_others * sizeof(*v));
	for (size_t i = 0; i < list->n_kids && !ret; i++) {
		struct trigger *t = calloc(1, sizeof(*t));

		if (!t) {
			ret = -ENOMEM;
			break;
		}
		atomic_init(&t->refs, 1);
		t->api = p->api;
		ret = parse_trigger(p, list->kids[i], i, t, v, n_others + n);
		if (!ret && !p->api && !(t->def = node_json(list->kids[i])))
			ret = -ENOMEM;
		v[n_others + n++] = t;
	}
	if (ret) {
		for (size_t i = 0; i < n; i++)
			trigger_unref(v[n_others + i]);
		free(v);
		return ret;
	}
	memmove(v, v + n_others, n * sizeof(*v));
	*out = v;
	*n_out = n;
	return 0;
}

int trigger_set_new(const struct config *c, const char *store_dir, FILE *log,
		    struct trigger_set **out, char *err, size_t errlen)
{
	const struct config_node *list = config_get(c->root, "triggers");
	struct cparse p = {.c = c, .err = err, .errlen = errlen};
	struct trigger_set *ts;
	int ret;

	*out = NULL;
	if (!list)
		return 0;
	if (list->type != CONFIG_SEQ)
		return cerr(&p, list, "triggers", "expected a list of {name, query, actions}");
	if (!list->n_kids)
		return 0;
	if (!(ts = set_alloc(store_dir, log))) {
		snprintf(err, errlen, "triggers: out of memory");
		return -EINVAL;
	}
	ret = parse_list(&p, list, NULL, 0, &ts->v, &ts->n);
	if (!ret && !(ts->filter = union_filter(ts->v, ts->n)))
		ret = -ENOMEM;
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "triggers: out of memory");
		trigger_set_free(ts);
		return -EINVAL;
	}
	*out = ts;
	return 0;
}

int trigger_set_empty(const char *store_dir, FILE *log, struct trigger_set **out)
{
	*out = set_alloc(store_dir, log);
	return *out ? 0 : -ENOMEM;
}

void trigger_set_snapshot_limit(struct trigger_set *ts, uint64_t storage_limit)
{
	uint64_t share = storage_limit / SNAPSHOT_SHARE;

	ts->snap_bytes_max = share > SNAPSHOT_BYTES_MIN ? share : SNAPSHOT_BYTES_MIN;
}

/* The follow's filter changed: the running follow stops and follow_main starts the next. */
static void follow_restart(struct trigger_set *ts, char *filter)
{
	pthread_mutex_lock(&ts->follow_lock);
	free(ts->filter);
	ts->filter = filter;
	ts->follow_gen++;
	ts->follow.stop = 1;
	pthread_cond_broadcast(&ts->follow_cond);
	pthread_mutex_unlock(&ts->follow_lock);
}

/*
 * Wait until the follow for the current set is subscribed, so that a set replaced, or listed,
 * through the API is one whose triggers see every entry that completes afterwards: a hub that
 * says a trigger is on an agent, and a user who then sends a request, must not lose that
 * request to the moment the follow restarts. The follow thread broadcasts live_cond when a
 * follow starts or ends; with no follow thread (the service not started) there is nothing to
 * wait for, and a follow that fails to start ends the wait at once (it is retried in a second,
 * and its error logged). FOLLOW_LIVE_WAIT_MS bounds a start that neither succeeds nor fails
 * (a remote agent that is away: the call waits for it to come back).
 */
#define FOLLOW_LIVE_WAIT_MS 3000
static bool follow_is_live(const struct trigger_set *ts)
{
	return !ts->filter || ts->stopping || !ts->running ||
	       ts->follow_gen_failed == ts->follow_gen ||
	       (ts->following && ts->follow_gen_running == ts->follow_gen && ts->follow.started);
}

static void follow_live(struct trigger_set *ts)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += FOLLOW_LIVE_WAIT_MS / 1000;
	dl.tv_nsec += (FOLLOW_LIVE_WAIT_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ts->follow_lock);
	while (!follow_is_live(ts))
		if (pthread_cond_timedwait(&ts->live_cond, &ts->follow_lock, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ts->follow_lock);
}

/* agent_follow.on_started: the follow's thread says the subscription is in place. */
static void on_follow_started(struct agent_follow *f)
{
	struct trigger_set *ts =
	    (struct trigger_set *)((char *)f - offsetof(struct trigger_set, follow));

	pthread_mutex_lock(&ts->follow_lock);
	pthread_cond_broadcast(&ts->live_cond);
	pthread_mutex_unlock(&ts->follow_lock);
}

int trigger_set_replace_api(struct trigger_set *ts, const char *version, const char *json,
			    char *err, size_t errlen)
{
	json_t *list = json_loads(json ? json : "[]", 0, NULL), *wrap;
	struct cparse p = {.err = err, .errlen = errlen, .api = true};
	struct trigger **mine = NULL, **config_v, **v, **old;
	size_t n_mine = 0, n_config = 0, n_old;
	struct config *c = NULL;
	char *yaml, *filter;
	int ret;

	if (!json_is_array(list) || json_array_size(list) > TRIGGER_API_MAX) {
		snprintf(err, errlen, "expected a list of at most %d triggers", TRIGGER_API_MAX);
		json_decref(list);
		return -EINVAL;
	}
	/* JSON is YAML: the configuration file's parser reads it (one line, so messages name
	 * keys, not lines), ASCII-escaped and spaced so no YAML reading differs from JSON's */
	wrap = json_pack("{s:O}", "triggers", list);
	yaml = wrap ? json_dumps(wrap, JSON_ENSURE_ASCII) : NULL;
	json_decref(wrap);
	ret = yaml ? config_parse("hub", yaml, strlen(yaml), &c, err, errlen) : -ENOMEM;
	free(yaml);
	if (!ret) {
		const struct config_node *l = config_get(c->root, "triggers");

		pthread_rwlock_rdlock(&ts->set_lock);
		config_v = calloc(ts->n + 1, sizeof(*config_v));
		for (size_t i = 0; config_v && i < ts->n; i++)
			if (!ts->v[i]->api)
				config_v[n_config++] = ts->v[i];
		pthread_rwlock_unlock(&ts->set_lock);
		p.c = c;
		ret = !config_v ? -ENOMEM
		      : l && l->type == CONFIG_SEQ
			  ? parse_list(&p, l, config_v, n_config, &mine, &n_mine)
			  : -EINVAL;
		free(config_v);
	}
	config_free(c);
	for (size_t i = 0; !ret && i < n_mine; i++)
		mine[i]->def = json_deep_copy(json_array_get(list, i));
	json_decref(list);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		return ret == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	/* the swap: the config's triggers kept (with their counters), the hub's replaced */
	pthread_rwlock_wrlock(&ts->set_lock);
	v = calloc(ts->n + n_mine + 1, sizeof(*v));
	if (!v) {
		pthread_rwlock_unlock(&ts->set_lock);
		for (size_t i = 0; i < n_mine; i++)
			trigger_unref(mine[i]);
		free(mine);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	old = ts->v;
	n_old = ts->n;
	ts->n = 0;
	for (size_t i = 0; i < n_old; i++)
		if (!old[i]->api)
			v[ts->n++] = old[i];
	if (n_mine)
		memcpy(v + ts->n, mine, n_mine * sizeof(*v));
	ts->n += n_mine;
	ts->v = v;
	snprintf(ts->version, sizeof(ts->version), "%s", version ? version : "");
	filter = union_filter(ts->v, ts->n);
	/* under set_lock: two replacements at once leave the follow with the last set's filter */
	follow_restart(ts, filter);
	pthread_rwlock_unlock(&ts->set_lock);
	for (size_t i = 0; i < n_old; i++)
		if (old[i]->api)
			trigger_unref(old[i]);
	free(old);
	free(mine);
	follow_live(ts);
	return 0;
}

const char *trigger_set_filter(const struct trigger_set *ts)
{
	return ts->filter;
}

/* ---- matching ---- */

/* 0 marks a free slot, so a key's hash is never 0. */
static uint64_t key_hash(const char *s)
{
	return fnv1a64_str(s) | 1;
}

/* The value at a dotted path of the entry ("request.path"), as text for de-dup keys. */
static char *field_text(const json_t *entry, const char *path)
{
	const json_t *v = entry;
	const char *p = path;

	while (v && *p) {
		size_t n = strcspn(p, ".");
		char key[128];

		snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) ? n : sizeof(key) - 1), p);
		v = json_object_get(v, key);
		p += n;
		if (*p == '.')
			p++;
	}
	if (!v)
		return NULL;
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static bool dedup_hit(struct trigger *t, const json_t *entry, const struct agent_entry *e,
		      long long now)
{
	char *k = t->dedup_key ? field_text(entry, t->dedup_key) : NULL;
	uint64_t h = k ? key_hash(k) : key_hash(e->id);
	struct dedup_slot *s = &t->dedup[h % DEDUP_SLOTS];

	free(k);
	if (s->hash == h && s->until_ns > now)
		return true;
	s->hash = h;
	s->until_ns = now + t->dedup_ns;
	return false;
}

static bool rate_limited(struct trigger *t, long long now)
{
	if (!t->rate_max)
		return false;
	if (now - t->window_start >= t->rate_per_ns) {
		t->window_start = now;
		t->window_count = 0;
	}
	if (t->window_count >= t->rate_max)
		return true;
	t->window_count++;
	return false;
}

/* Append a job for the workers. bounded: a new job, refused (-1) when the queue is full or the
 * set is draining; a retry (already counted in the queue's bound once) always goes in. */
static int queue_push(struct trigger_set *ts, struct job *j, bool bounded)
{
	pthread_mutex_lock(&ts->lock);
	if (bounded && (ts->queued >= TRIGGER_QUEUE_MAX || ts->draining)) {
		pthread_mutex_unlock(&ts->lock);
		return -1;
	}
	j->next = NULL;
	if (ts->tail)
		ts->tail->next = j;
	else
		ts->head = j;
	ts->tail = j;
	ts->queued++;
	pthread_cond_signal(&ts->cond);
	pthread_mutex_unlock(&ts->lock);
	return 0;
}

static void enqueue(struct trigger_set *ts, struct trigger *t, const struct agent_entry *e,
		    long long now)
{
	for (size_t i = 0; i < t->n_actions; i++) {
		struct action *a = &t->actions[i];
		struct job *j;

		if (a->type == ACT_COUNTER) {
			a->sent++; /* counted here: nothing to run */
			continue;
		}
		j = malloc(sizeof(*j) + e->json_len + 1);
		if (!j) {
			a->dropped++;
			ts->queue_dropped++;
			continue;
		}
		memset(j, 0, sizeof(*j));
		j->t = t;
		atomic_fetch_add(&t->refs, 1);
		j->a = a;
		j->ts_ns = e->ts_ns;
		j->due_ns = now;
		if (a->type == ACT_SNAPSHOT)
			/* the packets after the match must be in the store (and the entries of
			 * the connection in the history) before the export */
			j->due_ns = now + a->after_ns + NS / 2;
		snprintf(j->id, sizeof(j->id), "%s", e->id);
		j->len = e->json_len;
		memcpy(j->json, e->json, e->json_len);
		j->json[e->json_len] = '\0';
		if (queue_push(ts, j, true) < 0) {
			a->dropped++;
			ts->queue_dropped++;
			job_free(j);
		}
	}
}

/*
 * The entry comes as JSON text (struct agent_entry) from the agent's follow (agent_api): its
 * ring holds copies of the text made on the capture thread, and the struct entry is gone by
 * the time this thread runs. So entry_kfl (KFL over a struct entry) has nothing to work on
 * here: the text is parsed once and every trigger's query, dedup key and action read that
 * tree (the hub's triggers run here too: the hub hands them to the agents). Once means once
 * in all: the local agent's follow parsed it already to match the union of the queries, and
 * lends its tree (e->tree); only an entry without one is parsed here.
 */
int trigger_set_offer(struct trigger_set *ts, const struct agent_entry *e)
{
	json_t *own = e->tree ? NULL : json_loadb(e->json, e->json_len, 0, NULL);
	const json_t *j = e->tree ? e->tree : own;
	long long now = now_ns();
	int matched = 0;

	if (!j)
		return 0;
	pthread_rwlock_rdlock(&ts->set_lock);
	for (size_t i = 0; i < ts->n; i++) {
		struct trigger *t = ts->v[i];

		if (!entry_filter_match(t->filter, j))
			continue;
		matched++;
		t->matched++;
		if (t->dedup && dedup_hit(t, j, e, now)) {
			t->deduplicated++;
			continue;
		}
		if (rate_limited(t, now)) {
			t->rate_limited++;
			continue;
		}
		t->fired++;
		enqueue(ts, t, e, now);
	}
	pthread_rwlock_unlock(&ts->set_lock);
	json_decref(own);
	return matched;
}

/* ---- actions ---- */

/* "TRIGGER.ENTRYID": the same for every attempt of one delivery, so a receiver can de-dup. */
static void delivery_id(const struct job *j, char *out, size_t size)
{
	snprintf(out, size, "%s.%s", j->t->name, j->id);
}

/* {"trigger": NAME, "delivery_id": ID, "entry": ENTRY} */
static char *envelope(const struct job *j)
{
	char did[256], *out = NULL;
	char *name = json_dumps(json_string(j->t->name), JSON_ENCODE_ANY);
	json_t *ds;
	char *d;

	delivery_id(j, did, sizeof(did));
	ds = json_string(did);
	d = json_dumps(ds, JSON_ENCODE_ANY);
	json_decref(ds);
	if (name && d &&
	    asprintf(&out, "{\"trigger\":%s,\"delivery_id\":%s,\"entry\":%.*s}", name, d,
		     (int)j->len, j->json) < 0)
		out = NULL;
	free(name);
	free(d);
	return out;
}

/* A body template: {{trigger}}, {{delivery_id}}, {{entry}} (JSON), {{entry.FIELD.PATH}} (a
 * string's characters JSON-escaped without quotes, so it fits inside a JSON string). */
static char *render(const struct job *j, const char *tmpl)
{
	char *out = NULL, did[256];
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	json_t *entry = json_loadb(j->json, j->len, 0, NULL);

	if (!m) {
		json_decref(entry);
		return NULL;
	}
	delivery_id(j, did, sizeof(did));
	for (const char *p = tmpl; *p;) {
		const char *open = strstr(p, "{{"), *close = open ? strstr(open + 2, "}}") : NULL;
		char name[256], *v = NULL;

		if (!open || !close) {
			fputs(p, m);
			break;
		}
		fwrite(p, 1, (size_t)(open - p), m);
		snprintf(name, sizeof(name), "%.*s", (int)(close - open - 2), open + 2);
		if (!strcmp(name, "trigger"))
			v = strdup(j->t->name);
		else if (!strcmp(name, "delivery_id"))
			v = strdup(did);
		else if (!strcmp(name, "entry"))
			fwrite(j->json, 1, j->len, m);
		else if (!strncmp(name, "entry.", 6) && entry)
			v = field_text(entry, name + 6);
		if (v) {
			json_t *s = json_string(v);
			char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;

			if (q && strlen(q) >= 2)
				fwrite(q + 1, 1, strlen(q) - 2, m);
			free(q);
			json_decref(s);
			free(v);
		}
		p = close + 2;
	}
	fclose(m);
	json_decref(entry);
	return out;
}

/* One POST of the delivery; true when the receiver answered 2xx. */
static bool webhook_deliver(const struct job *j, char *why, size_t wlen)
{
	const struct action *a = j->a;
	char *body = a->body ? render(j, a->body) : envelope(j);
	const char **h = calloc(a->n_headers + 2, sizeof(*h));
	char did[256], hdr[320];
	bool ok;

	if (!body || !h) {
		free(body);
		free(h);
		snprintf(why, wlen, "out of memory");
		return false;
	}
	delivery_id(j, did, sizeof(did));
	snprintf(hdr, sizeof(hdr), "X-Floe-Delivery-Id: %s", did);
	h[0] = "Content-Type: application/json";
	h[1] = hdr;
	for (size_t i = 0; i < a->n_headers; i++)
		h[2 + i] = a->headers[i];
	ok =
	    webhook_post(a->url, body, strlen(body), h, a->n_headers + 2, a->timeout_ns, why, wlen);
	free(h);
	free(body);
	return ok;
}

/* The command under /bin/sh with the entry on stdin, killed (its process group) at the
 * timeout. true when it exited 0. */
static bool run_exec(struct trigger_set *ts, const struct job *j, char *why, size_t wlen)
{
	long long deadline = now_ns() + j->a->timeout_ns;
	char did[256], *e1 = NULL, *e2 = NULL, **envp;
	size_t ne = 0, off = 0;
	int fds[2], status = 0;
	bool exited = false;
	pid_t pid;

	delivery_id(j, did, sizeof(did));
	while (environ[ne])
		ne++;
	envp = calloc(ne + 3, sizeof(*envp));
	if (!envp || asprintf(&e1, "FLOE_TRIGGER=%s", j->t->name) < 0 ||
	    asprintf(&e2, "FLOE_DELIVERY_ID=%s", did) < 0) {
		free(envp);
		snprintf(why, wlen, "out of memory");
		return false;
	}
	memcpy(envp, environ, ne * sizeof(*envp));
	envp[ne] = e1;
	envp[ne + 1] = e2;
	if (pipe2(fds, O_CLOEXEC)) {
		snprintf(why, wlen, "pipe: %s", strerror(errno));
		free(envp), free(e1), free(e2);
		return false;
	}
	pid = fork();
	if (pid == 0) {
		/* the child: only async-signal-safe calls until exec */
		sigset_t none;

		/* the tap blocks its stop signals (a signalfd) and this thread SIGPIPE: the
		 * command gets the defaults */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		dup2(fds[0], 0);
		dup2(2, 1); /* never into the tap's stdout (its entries) */
		syscall(SYS_close_range, 3, ~0u, 0);
		execve("/bin/sh", (char *const[]){"sh", "-c", j->a->command, NULL}, envp);
		_exit(127);
	}
	close(fds[0]);
	free(envp), free(e1), free(e2);
	if (pid < 0) {
		close(fds[1]);
		snprintf(why, wlen, "fork: %s", strerror(errno));
		return false;
	}
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	/* SIGPIPE is blocked on this thread: a command that does not read gives EPIPE */
	while (off < j->len && now_ns() < deadline) {
		struct pollfd pf = {.fd = fds[1], .events = POLLOUT};
		ssize_t n;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = write(fds[1], j->json + off, j->len - off);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
	}
	if (off == j->len)
		(void)!write(fds[1], "\n", 1);
	close(fds[1]);
	{
		/* consume a SIGPIPE left pending by the write (blocked here) */
		sigset_t pipe_set;
		struct timespec zero = {0, 0};

		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	while (!exited) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			exited = true;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (now_ns() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(why, wlen, "killed after %.1f s (timeout)",
				 (double)j->a->timeout_ns / 1e9);
			return false;
		}
		usleep(5000);
	}
	if (!exited) {
		snprintf(why, wlen, "waitpid: %s", strerror(errno));
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFEXITED(status))
		snprintf(why, wlen, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(why, wlen, "killed by signal %d", WTERMSIG(status));
	return false;
}

static bool run_log(struct trigger_set *ts, const struct job *j, char *why, size_t wlen)
{
	char *line = envelope(j);
	bool ok = line != NULL;

	if (!line) {
		snprintf(why, wlen, "out of memory");
		return false;
	}
	pthread_mutex_lock(&ts->log_lock);
	if (j->a->file) {
		FILE *f = fopen(j->a->file, "a");

		if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f)) {
			snprintf(why, wlen, "%s: %s", j->a->file, strerror(errno));
			ok = false;
		}
	} else {
		fprintf(ts->log, "floe: trigger %s: %s\n", j->t->name, line);
		fflush(ts->log);
	}
	pthread_mutex_unlock(&ts->log_lock);
	free(line);
	return ok;
}

struct snap_out {
	FILE *f;
	size_t bytes;
};

static int snap_write(const void *buf, size_t len, void *arg)
{
	struct snap_out *o = arg;

	o->bytes += len;
	return fwrite(buf, 1, len, o->f) == len ? 0 : -1;
}

/* Remove the oldest snapshots of trigger in dir until keep are left, then the oldest of any
 * trigger until all of them hold at most max_bytes (0: no such bound). Called with the set's
 * snap_lock held, after a snapshot was written: two workers never trim at once. */
void trigger_snapshots_trim(const char *dir, const char *trigger, long keep, uint64_t max_bytes)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, NULL);
	struct old {
		char name[NAME_MAX + 1];
		struct timespec mtime;
		uint64_t size;
		bool mine;
	} *v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
	long nv = 0, nmine = 0;
	uint64_t total = 0;
	char trig[80];

	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		char path[4200 + NAME_MAX + 2];
		struct stat st;

		if (v && snapshot_name_parse(nm, trig, sizeof(trig), NULL, 0)) {
			snprintf(path, sizeof(path), "%s/%s", dir, nm);
			if (!lstat(path, &st) && S_ISREG(st.st_mode)) {
				snprintf(v[nv].name, sizeof(v[nv].name), "%s", nm);
				v[nv].mtime = st.st_mtim;
				v[nv].size = (uint64_t)st.st_size;
				v[nv].mine = !strcmp(trig, trigger);
				nmine += v[nv].mine;
				total += v[nv++].size;
			}
		}
		free(names[i]);
	}
	free(names);
	while (v && nv && (nmine > keep || (max_bytes && total > max_bytes))) {
		bool mine_only = nmine > keep;
		long oldest = -1;
		char path[4200 + NAME_MAX + 2];

		for (long i = 0; i < nv; i++) {
			if (mine_only && !v[i].mine)
				continue;
			if (oldest < 0 || v[i].mtime.tv_sec < v[oldest].mtime.tv_sec ||
			    (v[i].mtime.tv_sec == v[oldest].mtime.tv_sec &&
			     v[i].mtime.tv_nsec < v[oldest].mtime.tv_nsec))
				oldest = i;
		}
		if (oldest < 0)
			break;
		snprintf(path, sizeof(path), "%s/%s", dir, v[oldest].name);
		unlink(path);
		nmine -= v[oldest].mine;
		total -= v[oldest].size;
		v[oldest] = v[--nv];
	}
	free(v);
}

/* The connection of the entry (its four-tuple) from before to after its time: the agent's
 * pcap call over the entries of that connection in that window. */
static bool run_snapshot(struct trigger_set *ts, const struct job *j, char *why, size_t wlen)
{
	json_t *e = json_loadb(j->json, j->len, 0, NULL);
	json_t *src = json_object_get(e, "src"), *dst = json_object_get(e, "dst");
	const char *sip = json_string_value(json_object_get(src, "ip"));
	const char *dip = json_string_value(json_object_get(dst, "ip"));
	json_t *sp = json_object_get(src, "port"), *dp = json_object_get(dst, "port");
	char *filter = NULL, dir[4200], path[4400], tmp[4410], err[512];
	struct agent_query q = {0};
	struct snap_out o = {0};
	bool ok = false;
	int ret;

	if (!sip || !dip || !json_is_integer(sp) || !json_is_integer(dp) || strpbrk(sip, "\"\\") ||
	    strpbrk(dip, "\"\\")) {
		snprintf(why, wlen, "the entry has no addresses and ports");
		json_decref(e);
		return false;
	}
	if (asprintf(&filter,
		     "src.ip == \"%s\" and src.port == %lld and dst.ip == \"%s\" and "
		     "dst.port == %lld",
		     sip, (long long)json_integer_value(sp), dip,
		     (long long)json_integer_value(dp)) < 0)
		filter = NULL;
	json_decref(e);
	if (!filter) {
		snprintf(why, wlen, "out of memory");
		return false;
	}
	snprintf(dir, sizeof(dir), "%s/snapshots", ts->store_dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(why, wlen, "%.300s: %s", dir, strerror(errno));
		free(filter);
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s.%s.pcap", dir, j->t->name, j->id);
	snprintf(tmp, sizeof(tmp), "%s.part", path);
	o.f = fopen(tmp, "w");
	if (!o.f) {
		snprintf(why, wlen, "%.300s: %s", tmp, strerror(errno));
		free(filter);
		return false;
	}
	fchmod(fileno(o.f), 0600);
	q.filter = filter;
	q.since_ns = j->ts_ns - j->a->before_ns;
	q.until_ns = j->ts_ns + j->a->after_ns + 1;
	q.with_bodies = 1;
	ret = ts->api.ops->pcap(ts->api.self, &q, snap_write, &o, err, sizeof(err));
	if (fclose(o.f) || ret < 0)
		snprintf(why, wlen, "pcap: %.400s", ret < 0 ? err : strerror(errno));
	else if (rename(tmp, path))
		snprintf(why, wlen, "%.300s: %s", path, strerror(errno));
	else
		ok = true;
	if (ok) {
		pthread_mutex_lock(&ts->snap_lock);
		trigger_snapshots_trim(dir, j->t->name, j->a->keep, ts->snap_bytes_max);
		pthread_mutex_unlock(&ts->snap_lock);
	}
	if (!ok)
		unlink(tmp);
	free(filter);
	return ok;
}

static void run_job(struct trigger_set *ts, struct job *j)
{
	char why[512] = "";
	bool ok = false;

	switch (j->a->type) {
	case ACT_WEBHOOK:
		ok = webhook_deliver(j, why, sizeof(why));
		break;
	case ACT_EXEC:
		ok = run_exec(ts, j, why, sizeof(why));
		break;
	case ACT_LOG:
		ok = run_log(ts, j, why, sizeof(why));
		break;
	case ACT_SNAPSHOT:
		ok = ts->api.ops ? run_snapshot(ts, j, why, sizeof(why)) : false;
		if (!ts->api.ops)
			snprintf(why, sizeof(why), "no agent API");
		break;
	case ACT_COUNTER:
		ok = true;
		break;
	}
	if (ok) {
		j->a->sent++;
		job_free(j);
		return;
	}
	if (j->a->type == ACT_WEBHOOK && j->attempt < j->a->retries) {
		/* again later: backoff doubling per attempt, capped */
		long long wait = webhook_backoff(j->a->backoff_ns, j->attempt);

		j->a->retried++;
		j->attempt++;
		j->due_ns = now_ns() + wait;
		queue_push(ts, j, false);
		return;
	}
	j->a->failed++;
	pthread_mutex_lock(&ts->log_lock);
	fprintf(ts->log, "floe: trigger %s: %s for entry %s failed: %s\n", j->t->name,
		action_names[j->a->type], j->id, why);
	fflush(ts->log);
	pthread_mutex_unlock(&ts->log_lock);
	job_free(j);
}

/* The first job that is due (unlinked), or NULL with *next_due the earliest due time. */
static struct job *take_due(struct trigger_set *ts, long long now, long long *next_due)
{
	struct job *prev = NULL;

	*next_due = now + NS / 10;
	for (struct job *j = ts->head; j; prev = j, j = j->next) {
		if (j->due_ns > now) {
			if (j->due_ns < *next_due)
				*next_due = j->due_ns;
			continue;
		}
		if (prev)
			prev->next = j->next;
		else
			ts->head = j->next;
		if (ts->tail == j)
			ts->tail = prev;
		ts->queued--;
		j->next = NULL;
		return j;
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct trigger_set *ts = arg;
	/* libcurl, held from a webhook job until the queue is empty: a burst and its retries
	 * load it once, and an idle tap does not keep it resident. */
	const struct curl_dl *curl = NULL;
	sigset_t pipe_set;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	pthread_mutex_lock(&ts->lock);
	for (;;) {
		long long now = now_ns(), next_due;
		struct job *j;

		if (ts->draining && (!ts->head || now >= ts->drain_deadline_ns))
			break;
		j = take_due(ts, now, &next_due);
		if (!j && curl && !ts->head) {
			pthread_mutex_unlock(&ts->lock);
			curl_dl_put(curl);
			curl = NULL;
			pthread_mutex_lock(&ts->lock);
			continue;
		}
		if (!j) {
			struct timespec dl = {.tv_sec = next_due / NS, .tv_nsec = next_due % NS};

			pthread_cond_timedwait(&ts->cond, &ts->lock, &dl);
			continue;
		}
		pthread_mutex_unlock(&ts->lock);
		if (j->a->type == ACT_WEBHOOK && !curl)
			curl = curl_dl_get(NULL, 0); /* NULL: webhook_post says why */
		run_job(ts, j);
		pthread_mutex_lock(&ts->lock);
	}
	pthread_cond_broadcast(&ts->cond);
	pthread_mutex_unlock(&ts->lock);
	curl_dl_put(curl);
	return NULL;
}

/* ---- the service ---- */

static int on_entry(const struct agent_entry *e, void *arg)
{
	struct trigger_set *ts = arg;

	ts->last_entry_ns = now_ns();
	trigger_set_offer(ts, e);
	return 0;
}

/*
 * Follows the live entries with the union of the queries; when a hub changes the triggers
 * (follow_restart) the follow is stopped and started again with the new union, and with no
 * trigger at all there is no follow. A replacement (and a listing) returns once the new
 * follow is subscribed (follow_live); entries that complete in the moment between two follows
 * are seen by neither, so only those of triggers kept from the old set can be missed.
 */
static void *follow_main(void *arg)
{
	struct trigger_set *ts = arg;
	char err[512];

	pthread_mutex_lock(&ts->follow_lock);
	for (;;) {
		char *filter;
		int rc;

		while (!ts->stopping && !ts->filter)
			pthread_cond_wait(&ts->follow_cond, &ts->follow_lock);
		if (ts->stopping)
			break;
		filter = strdup(ts->filter);
		ts->follow.stop = 0;
		ts->follow.started = 0;
		ts->follow.lost = 0;
		ts->follow.on_started = on_follow_started;
		ts->follow_gen_running = ts->follow_gen;
		ts->following = true;
		pthread_mutex_unlock(&ts->follow_lock);
		err[0] = '\0';
		rc = filter ? ts->api.ops->follow(ts->api.self, filter, &ts->follow, on_entry, ts,
						  err, sizeof(err))
			    : -ENOMEM;
		free(filter);
		pthread_mutex_lock(&ts->follow_lock);
		ts->following = false;
		ts->lost_before += ts->follow.lost;
		ts->follow.lost = 0;
		if (rc < 0 && !ts->follow.stop && !ts->stopping) {
			struct timespec dl;

			ts->follow_gen_failed = ts->follow_gen_running;
			pthread_cond_broadcast(&ts->live_cond);
			pthread_mutex_lock(&ts->log_lock);
			fprintf(ts->log, "floe: triggers: following the entries: %s\n",
				err[0] ? err : strerror(-rc));
			pthread_mutex_unlock(&ts->log_lock);
			/* not in a tight loop: again in a second, or when the triggers change */
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec++;
			pthread_cond_timedwait(&ts->follow_cond, &ts->follow_lock, &dl);
		}
	}
	pthread_mutex_unlock(&ts->follow_lock);
	return NULL;
}

static uint64_t follow_lost(struct trigger_set *ts)
{
	uint64_t n;

	pthread_mutex_lock(&ts->follow_lock);
	n = ts->lost_before + (ts->following ? ts->follow.lost : 0);
	pthread_mutex_unlock(&ts->follow_lock);
	return n;
}

/* running and stopping are read under follow_lock by API threads (follow_is_live): written
 * under it too. */
static void set_running(struct trigger_set *ts, bool running, bool stopping)
{
	pthread_mutex_lock(&ts->follow_lock);
	ts->running = running;
	ts->stopping = stopping;
	pthread_mutex_unlock(&ts->follow_lock);
}

static int svc_start(const struct agent_api *api, void *ctx, char *err, size_t errlen)
{
	struct trigger_set *ts = ctx;

	ts->api = *api;
	ts->follow.stop = 0;
	set_running(ts, false, false);
	ts->last_entry_ns = now_ns();
	for (ts->n_workers = 0; ts->n_workers < TRIGGER_WORKERS; ts->n_workers++)
		if (pthread_create(&ts->workers[ts->n_workers], NULL, worker_main, ts))
			break;
	if (!ts->n_workers || pthread_create(&ts->follow_thread, NULL, follow_main, ts)) {
		snprintf(err, errlen, "cannot start threads");
		ts->follow.stop = 1;
		set_running(ts, false, true);
		/* no follow thread: stop must not join it */
		pthread_mutex_lock(&ts->lock);
		ts->draining = true;
		ts->drain_deadline_ns = 0;
		pthread_cond_broadcast(&ts->cond);
		pthread_mutex_unlock(&ts->lock);
		for (size_t i = 0; i < ts->n_workers; i++)
			pthread_join(ts->workers[i], NULL);
		return -1;
	}
	set_running(ts, true, false);
	return 0;
}

/* Stop following (once the entries published at the tap's end had a moment to arrive), let
 * the workers run what is queued until the grace deadline, then count what is left. */
static void quiesce(struct trigger_set *ts)
{
	long long end = now_ns() + 2 * NS;

	if (!ts->running || ts->finished)
		return;
	while (now_ns() < end && now_ns() - ts->last_entry_ns < NS / 4)
		usleep(20000);
	pthread_mutex_lock(&ts->follow_lock);
	ts->stopping = true;
	ts->follow.stop = 1;
	pthread_cond_broadcast(&ts->follow_cond);
	pthread_cond_broadcast(&ts->live_cond);
	pthread_mutex_unlock(&ts->follow_lock);
	pthread_join(ts->follow_thread, NULL);
	pthread_mutex_lock(&ts->lock);
	ts->draining = true;
	ts->drain_deadline_ns = now_ns() + FINISH_GRACE_NS;
	pthread_cond_broadcast(&ts->cond);
	pthread_mutex_unlock(&ts->lock);
	for (size_t i = 0; i < ts->n_workers; i++)
		pthread_join(ts->workers[i], NULL);
	while (ts->head) {
		struct job *j = ts->head;

		ts->head = j->next;
		j->a->dropped++;
		ts->queue_dropped++;
		job_free(j);
	}
	ts->tail = NULL;
	ts->queued = 0;
	ts->finished = true;
}

static void service_stop(struct trigger_set *ts)
{
	quiesce(ts);
	set_running(ts, false, ts->stopping);
}

static void svc_stop(void *ctx)
{
	service_stop(ctx);
}

static void svc_finish(void *ctx, FILE *log)
{
	struct trigger_set *ts = ctx;
	uint64_t lost;

	quiesce(ts);
	pthread_rwlock_rdlock(&ts->set_lock);
	for (size_t i = 0; i < ts->n; i++) {
		struct trigger *t = ts->v[i];
		unsigned long long sent = 0, retried = 0, failed = 0, dropped = 0;

		for (size_t k = 0; k < t->n_actions; k++) {
			sent += t->actions[k].sent;
			retried += t->actions[k].retried;
			failed += t->actions[k].failed;
			dropped += t->actions[k].dropped;
		}
		fprintf(log,
			"  trigger %-24s %llu matched, %llu rate-limited, %llu de-duplicated; "
			"actions: %llu sent, %llu retried, %llu failed, %llu dropped\n",
			t->name, (unsigned long long)t->matched,
			(unsigned long long)t->rate_limited, (unsigned long long)t->deduplicated,
			sent, retried, failed, dropped);
	}
	pthread_rwlock_unlock(&ts->set_lock);
	if ((lost = follow_lost(ts)))
		fprintf(log, "  triggers: %llu entries lost by the follow (it was behind)\n",
			(unsigned long long)lost);
}

/* One trigger's counters: {matched, fired, rate_limited, deduplicated, sent, retried, failed,
 * dropped, actions: {webhook: {sent, retried, failed, dropped}, webhook_2: ..., ...}}. */
static json_t *trigger_counters(const struct trigger *t)
{
	json_t *to = json_object(), *acts = json_object();
	json_int_t sum[4] = {0};

	for (size_t k = 0; k < t->n_actions; k++) {
		const struct action *a = &t->actions[k];
		json_int_t v[4] = {(json_int_t)a->sent, (json_int_t)a->retried,
				   (json_int_t)a->failed, (json_int_t)a->dropped};
		size_t same = 0;
		char key[32];

		for (size_t m = 0; m < k; m++)
			same += t->actions[m].type == a->type;
		/* the first webhook is "webhook", a second one "webhook_2" */
		if (same)
			snprintf(key, sizeof(key), "%s_%zu", action_names[a->type], same + 1);
		else
			snprintf(key, sizeof(key), "%s", action_names[a->type]);
		for (int m = 0; m < 4; m++)
			sum[m] += v[m];
		json_object_set_new(acts, key,
				    json_pack("{s:I,s:I,s:I,s:I}", "sent", v[0], "retried", v[1],
					      "failed", v[2], "dropped", v[3]));
	}
	json_object_set_new(to, "matched", json_integer((json_int_t)t->matched));
	json_object_set_new(to, "fired", json_integer((json_int_t)t->fired));
	json_object_set_new(to, "rate_limited", json_integer((json_int_t)t->rate_limited));
	json_object_set_new(to, "deduplicated", json_integer((json_int_t)t->deduplicated));
	json_object_set_new(to, "sent", json_integer(sum[0]));
	json_object_set_new(to, "retried", json_integer(sum[1]));
	json_object_set_new(to, "failed", json_integer(sum[2]));
	json_object_set_new(to, "dropped", json_integer(sum[3]));
	json_object_set_new(to, "actions", acts);
	return to;
}

/*
 * Objects keyed by name all the way down (no arrays): the hub's /metrics turns each trigger's
 * counters into series labelled by trigger, action and outcome (hub/hub_metrics.c).
 */
char *trigger_set_stats_json(struct trigger_set *ts)
{
	json_t *o = json_object(), *all = json_object();
	char *out;

	json_object_set_new(o, "follow_lost", json_integer((json_int_t)follow_lost(ts)));
	json_object_set_new(o, "queue_dropped", json_integer((json_int_t)ts->queue_dropped));
	pthread_rwlock_rdlock(&ts->set_lock);
	for (size_t i = 0; i < ts->n; i++)
		json_object_set_new(all, ts->v[i]->name, trigger_counters(ts->v[i]));
	pthread_rwlock_unlock(&ts->set_lock);
	json_object_set_new(o, "triggers", all);
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}

char *trigger_set_list_json(struct trigger_set *ts)
{
	json_t *list = json_array(), *o;
	char *out;

	follow_live(ts); /* what is listed is live (see follow_live) */
	pthread_rwlock_rdlock(&ts->set_lock);
	for (size_t i = 0; i < ts->n; i++) {
		struct trigger *t = ts->v[i];
		json_t *d = json_is_object(t->def) ? json_deep_copy(t->def) : json_object();

		json_object_set_new(d, "source", json_string(t->api ? "api" : "config"));
		json_object_set_new(d, "counters", trigger_counters(t));
		json_array_append_new(list, d);
	}
	o = json_pack("{s:s, s:o}", "version", ts->version, "triggers", list);
	pthread_rwlock_unlock(&ts->set_lock);
	out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return out;
}

/* ---- snapshots, as the hub lists and serves them ---- */

char *trigger_set_snapshots_json(struct trigger_set *ts)
{
	char dir[4200], path[4200 + NAME_MAX + 2], trig[80], id[128];
	struct dirent **names = NULL;
	json_t *list = json_array();
	int n;
	char *out;

	snprintf(dir, sizeof(dir), "%s/snapshots", ts->store_dir);
	n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		struct stat st;

		if (snapshot_name_parse(names[i]->d_name, trig, sizeof(trig), id, sizeof(id))) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if (!lstat(path, &st) && S_ISREG(st.st_mode))
				json_array_append_new(
				    list, json_pack("{s:s, s:s, s:s, s:I, s:I}", "name",
						    names[i]->d_name, "trigger", trig, "entry_id", id,
						    "size", (json_int_t)st.st_size, "mtime_ns",
						    (json_int_t)st.st_mtim.tv_sec * NS +
							st.st_mtim.tv_nsec));
		}
		free(names[i]);
	}
	free(names);
	out = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return out;
}

int trigger_set_snapshot_read(struct trigger_set *ts, const char *name, agent_bytes_fn fn,
			      void *arg, char *err, size_t errlen)
{
	char path[4200 + NAME_MAX + 2], buf[65536];
	struct stat st;
	ssize_t r;
	int fd, rc = 0;

	if (!snapshot_name_parse(name, NULL, 0, NULL, 0)) {
		snprintf(err, errlen, "'%.200s' is not a snapshot's name (TRIGGER.ENTRY-ID.pcap)",
			 name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/snapshots/%s", ts->store_dir, name);
	/* no symlink followed, a regular file only */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = fd < 0 && errno != ENOENT && errno != ELOOP ? -errno : -ENOENT;
		snprintf(err, errlen, "no snapshot %.200s", name);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (fn(buf, (size_t)r, arg))
			break;
	if (r < 0) {
		rc = -errno;
		snprintf(err, errlen, "%.200s: %s", name, strerror(errno));
	}
	close(fd);
	return rc;
}

/* ---- the agent API with the triggers' calls ---- */

struct with_triggers {
	struct agent_api inner;
	struct trigger_set *ts;
};

static int w_query(void *self, const struct agent_query *q, agent_entry_fn fn, void *arg,
		   char *err, size_t errlen)
{
	struct with_triggers *w = self;

	return w->inner.ops->query(w->inner.self, q, fn, arg, err, errlen);
}

static int w_get(void *self, const char *id, agent_entry_fn fn, void *arg, char *err,
		 size_t errlen)
{
	struct with_triggers *w = self;

	return w->inner.ops->get(w->inner.self, id, fn, arg, err, errlen);
}

static int w_follow(void *self, const char *filter, struct agent_follow *f, agent_entry_fn fn,
		    void *arg, char *err, size_t errlen)
{
	struct with_triggers *w = self;

	return w->inner.ops->follow(w->inner.self, filter, f, fn, arg, err, errlen);
}

static int w_pcap(void *self, const struct agent_query *q, agent_bytes_fn fn, void *arg,
		  char *err, size_t errlen)
{
	struct with_triggers *w = self;

	return w->inner.ops->pcap(w->inner.self, q, fn, arg, err, errlen);
}

static int w_stats(void *self, char **json_out, char *err, size_t errlen)
{
	struct with_triggers *w = self;

	return w->inner.ops->stats(w->inner.self, json_out, err, errlen);
}

static void w_info(void *self, struct agent_info *out)
{
	struct with_triggers *w = self;

	w->inner.ops->info(w->inner.self, out);
}

static void w_destroy(void *self)
{
	free(self);
}

static int w_triggers_set(void *self, const char *version, const char *json, char *err,
			  size_t errlen)
{
	struct with_triggers *w = self;

	return trigger_set_replace_api(w->ts, version, json, err, errlen);
}

static int json_out_or_enomem(char *j, char **json_out, char *err, size_t errlen)
{
	*json_out = j;
	if (j)
		return 0;
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int w_triggers_list(void *self, char **json_out, char *err, size_t errlen)
{
	struct with_triggers *w = self;

	return json_out_or_enomem(trigger_set_list_json(w->ts), json_out, err, errlen);
}

static int w_snapshots(void *self, char **json_out, char *err, size_t errlen)
{
	struct with_triggers *w = self;

	return json_out_or_enomem(trigger_set_snapshots_json(w->ts), json_out, err, errlen);
}

static int w_snapshot(void *self, const char *name, agent_bytes_fn fn, void *arg, char *err,
		      size_t errlen)
{
	struct with_triggers *w = self;

	return trigger_set_snapshot_read(w->ts, name, fn, arg, err, errlen);
}

static const struct agent_api_ops with_triggers_ops = {
    .query = w_query,
    .get = w_get,
    .follow = w_follow,
    .pcap = w_pcap,
    .stats = w_stats,
    .info = w_info,
    .destroy = w_destroy,
    .triggers_set = w_triggers_set,
    .triggers_list = w_triggers_list,
    .snapshots = w_snapshots,
    .snapshot = w_snapshot,
};

int trigger_set_agent_api(struct trigger_set *ts, const struct agent_api *inner,
			  struct agent_api *out)
{
	struct with_triggers *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->inner = *inner;
	w->ts = ts;
	out->ops = &with_triggers_ops;
	out->self = w;
	return 0;
}

static char *svc_stats(void *ctx)
{
	return trigger_set_stats_json(ctx);
}

void trigger_set_service(struct trigger_set *ts, struct tap_service *svc)
{
	memset(svc, 0, sizeof(*svc));
	svc->name = "triggers";
	svc->start = svc_start;
	svc->stop = svc_stop;
	svc->finish = svc_finish;
	svc->stats_json = svc_stats;
	svc->stats_key = "triggers";
	svc->ctx = ts;
}
