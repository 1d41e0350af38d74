// SPDX-License-Identifier: Apache-2.0
/* The hub's triggers: kept in a file, run on the agents (hub_triggers.h). */
#include "hub_triggers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/snapshot_name.h"
#include "entry/entry_filter.h"
#include "entry/hash.h"
#include "hub_query.h"

struct hub_triggers {
	struct agent_api *agents;
	size_t n;
	char *path; /* STATE_DIR/triggers.json, NULL: not kept */
	int sync_ms;
	/* POST and DELETE one at a time: each reads the set, asks the agents, writes it */
	pthread_mutex_t mod_lock;
	/* under lock: the set, its version, its generation (a change counts it up) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *defs;
	char version[24];
	unsigned long gen;
	bool stop;
	pthread_t sync;
	bool sync_running;
};

/* The counters of a trigger per agent that GET shows (the agents' own names for them). */
static const char *const shown_counters[] = {"matched", "sent",		"retried",
					     "failed",	"rate_limited", "deduplicated"};

static void version_of(const json_t *defs, char out[24])
{
	char *t = json_dumps(defs, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned long long h = fnv1a64_str(t ? t : "");

	free(t);
	snprintf(out, 24, "%016llx", h);
}

/* ---- checking a trigger ---- */

int hub_trigger_check(const json_t *t, char *err, size_t errlen, int *column)
{
	static const char *const keys[] = {"name", "query", "actions", "rate_limit", "dedup"};
	static const char *const kinds[] = {"webhook", "log", "snapshot", "counter"};
	const char *key, *name, *query;
	struct entry_filter *f = NULL;
	json_t *v, *acts;
	char ferr[512];
	size_t i;

	*column = 0;
	if (!json_is_object(t)) {
		snprintf(err, errlen, "expected a trigger: {\"name\": ..., \"query\": ..., "
				      "\"actions\": [...]}");
		return -EINVAL;
	}
	json_object_foreach((json_t *)t, key, v) {
		bool known = false;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			known |= !strcmp(key, keys[i]);
		if (!known) {
			snprintf(err, errlen,
				 "unknown key '%.100s' (name, query, actions, rate_limit, dedup)",
				 key);
			return -EINVAL;
		}
	}
	name = json_string_value(json_object_get(t, "name"));
	if (!name || !trigger_name_ok(name)) {
		snprintf(err, errlen, "name: a name is 1 to 64 of A-Z a-z 0-9 - _ . (no '.' first, last "
				      "or twice)");
		return -EINVAL;
	}
	query = json_string_value(json_object_get(t, "query"));
	if (!query || !*query) {
		snprintf(err, errlen, "query: expected a KFL query");
		return -EINVAL;
	}
	if (entry_filter_compile_checked(query, &f, ferr, sizeof(ferr))) {
		snprintf(err, errlen, "query: %s", ferr);
		*column = hub_error_column(ferr);
		return -EINVAL;
	}
	entry_filter_free(f);
	acts = json_object_get(t, "actions");
	if (!json_is_array(acts) || !json_array_size(acts)) {
		snprintf(err, errlen, "actions: expected a list of actions");
		return -EINVAL;
	}
	json_array_foreach(acts, i, v) {
		const char *kind = NULL;
		json_t *val = NULL;
		bool known = false;

		if (json_is_object(v) && json_object_size(v) == 1)
			json_object_foreach(v, kind, val) break;
		if (!kind) {
			snprintf(err, errlen,
				 "actions[%zu]: an action is one key: webhook, log, snapshot or "
				 "counter",
				 i);
			return -EINVAL;
		}
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			known |= !strcmp(kind, kinds[k]);
		if (!strcmp(kind, "exec")) {
			snprintf(err, errlen,
				 "actions[%zu].exec: exec is for the configuration file only "
				 "(through the hub it would run commands on every node)",
				 i);
			return -EINVAL;
		}
		if (!known) {
			snprintf(err, errlen,
				 "actions[%zu].%.64s: unknown action '%.64s' (webhook, log, snapshot, "
				 "counter)",
				 i, kind, kind);
			return -EINVAL;
		}
		if (!strcmp(kind, "log") && !json_is_true(val)) {
			snprintf(err, errlen,
				 "actions[%zu].log: through the hub only log: true (to the agent's "
				 "log); log to a file is for the configuration file",
				 i);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- the file ---- */

static int load(struct hub_triggers *h, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc, *list, *t;
	char why[600];
	int column;
	size_t i;

	if (access(h->path, F_OK) && errno == ENOENT)
		return 0;
	doc = json_load_file(h->path, 0, &je);
	list = json_object_get(doc, "triggers");
	if (!json_is_array(list)) {
		snprintf(err, errlen, "%s: not a {\"triggers\": [...]} file: %s", h->path,
			 doc ? "no triggers list" : je.text);
		json_decref(doc);
		return -EINVAL;
	}
	json_array_foreach(list, i, t) {
		if (hub_trigger_check(t, why, sizeof(why), &column)) {
			snprintf(err, errlen, "%s: triggers[%zu]: %s", h->path, i, why);
			json_decref(doc);
			return -EINVAL;
		}
	}
	json_decref(h->defs);
	h->defs = json_incref(list);
	json_decref(doc);
	return 0;
}

/* Written to a temporary file and renamed over the old one: a crash leaves one or the other. */
static int save(const struct hub_triggers *h, json_t *defs, char *err, size_t errlen)
{
	json_t *doc = json_pack("{s:O}", "triggers", defs);
	char tmp[4200];
	int fd, rc = 0;

	if (!h->path)
		return 0;
	/* the directory (and its parent: $HOME/.floe/hub) made when a trigger is first kept */
	snprintf(tmp, sizeof(tmp), "%s", h->path);
	for (char *sl = strchr(tmp + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		mkdir(tmp, 0700);
		*sl = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !doc || json_dumpfd(doc, fd, JSON_INDENT(2)) || write(fd, "\n", 1) != 1 ||
	    fsync(fd))
		rc = -errno ? -errno : -EIO;
	if (fd >= 0 && close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, h->path))
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "%s: %s", h->path, strerror(-rc));
		unlink(tmp);
	}
	json_decref(doc);
	return rc;
}

/* ---- asking the agents ---- */

struct ask {
	struct hub_triggers *h;
	json_t **lists; /* triggers_list's answer per agent, NULL when it failed */
	const char *version, *json;
	int *rc;
	char (*err)[512];
};

static void list_one(size_t i, void *arg)
{
	struct ask *a = arg;
	struct agent_api *ag = &a->h->agents[i];
	char *j = NULL;

	a->lists[i] = NULL;
	a->err[i][0] = '\0';
	a->rc[i] = ag->ops->triggers_list
		       ? ag->ops->triggers_list(ag->self, &j, a->err[i], sizeof(a->err[i]))
		       : -ENOTSUP;
	if (!a->rc[i])
		a->lists[i] = json_loads(j, 0, NULL);
	free(j);
}

static void set_one(size_t i, void *arg)
{
	struct ask *a = arg;
	struct agent_api *ag = &a->h->agents[i];

	a->err[i][0] = '\0';
	a->rc[i] = ag->ops->triggers_set ? ag->ops->triggers_set(ag->self, a->version, a->json,
								 a->err[i], sizeof(a->err[i]))
					 : -ENOTSUP;
}

static int ask_init(struct ask *a, struct hub_triggers *h)
{
	size_t n = h->n ? h->n : 1;

	memset(a, 0, sizeof(*a));
	a->h = h;
	a->lists = calloc(n, sizeof(*a->lists));
	a->rc = calloc(n, sizeof(*a->rc));
	a->err = calloc(n, sizeof(*a->err));
	return a->lists && a->rc && a->err ? 0 : -ENOMEM;
}

static void ask_free(struct ask *a)
{
	for (size_t i = 0; a->lists && i < a->h->n; i++)
		json_decref(a->lists[i]);
	free(a->lists);
	free(a->rc);
	free(a->err);
}

/* The agent's answer holds the hub's current set: version v, or no API trigger when the hub has
 * none (an agent that never had any says version ""). */
static bool in_sync(const json_t *list, const char *v, size_t n_defs)
{
	const char *have = json_string_value(json_object_get(list, "version"));
	json_t *t;
	size_t i;

	if (have && !strcmp(have, v))
		return true;
	if (n_defs)
		return false;
	json_array_foreach(json_object_get(list, "triggers"), i, t) {
		const char *src = json_string_value(json_object_get(t, "source"));

		if (src && !strcmp(src, "api"))
			return false;
	}
	return true;
}

static void *sync_main(void *arg)
{
	struct hub_triggers *h = arg;
	struct ask a;

	if (ask_init(&a, h))
		return NULL;
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct timespec dl;
		char version[24];
		unsigned long gen = h->gen;
		size_t n_defs = json_array_size(h->defs);
		char *json = json_dumps(h->defs, JSON_COMPACT);

		snprintf(version, sizeof(version), "%s", h->version);
		pthread_mutex_unlock(&h->lock);
		hub_fanout(h->n, list_one, &a);
		for (size_t i = 0; json && i < h->n; i++) {
			char err[512];

			/* A hub that never had a trigger (none in its state, none defined since:
			 * a second hub over the same agents, for its UI) leaves the agents' sets
			 * alone: pushing its empty set would remove another hub's triggers. */
			if (!n_defs && !gen)
				continue;
			if (!a.lists[i] || in_sync(a.lists[i], version, n_defs))
				continue;
			/* A set changed since is sent by its own request, not the old one. Under
			 * mod_lock, which a POST or DELETE holds from its push to its commit: without
			 * it the old set could land after the new one was pushed and before it was
			 * committed, and the agent went without the new trigger until the next round. */
			pthread_mutex_lock(&h->mod_lock);
			pthread_mutex_lock(&h->lock);
			bool current = gen == h->gen;
			pthread_mutex_unlock(&h->lock);
			if (current && h->agents[i].ops->triggers_set)
				h->agents[i].ops->triggers_set(h->agents[i].self, version, json, err,
							       sizeof(err));
			pthread_mutex_unlock(&h->mod_lock);
		}
		for (size_t i = 0; i < h->n; i++) {
			json_decref(a.lists[i]);
			a.lists[i] = NULL;
		}
		free(json);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += h->sync_ms / 1000;
		dl.tv_nsec += (long)(h->sync_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&h->lock);
		if (!h->stop)
			pthread_cond_timedwait(&h->cond, &h->lock, &dl);
	}
	pthread_mutex_unlock(&h->lock);
	ask_free(&a);
	return NULL;
}

int hub_triggers_new(struct agent_api *agents, size_t n, const char *state_dir, int sync_ms,
		     struct hub_triggers **out, char *err, size_t errlen)
{
	struct hub_triggers *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->agents = agents;
	h->n = n;
	h->sync_ms = sync_ms > 0 ? sync_ms : 1000;
	h->defs = json_array();
	pthread_mutex_init(&h->mod_lock, NULL);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (state_dir) {
		if (asprintf(&h->path, "%s/triggers.json", state_dir) < 0) {
			h->path = NULL;
			hub_triggers_free(h);
			return -ENOMEM;
		}
		if ((rc = load(h, err, errlen))) {
			hub_triggers_free(h);
			return rc;
		}
	}
	version_of(h->defs, h->version);
	if (pthread_create(&h->sync, NULL, sync_main, h)) {
		snprintf(err, errlen, "cannot start a thread");
		hub_triggers_free(h);
		return -EAGAIN;
	}
	h->sync_running = true;
	*out = h;
	return 0;
}

void hub_triggers_free(struct hub_triggers *h)
{
	if (!h)
		return;
	if (h->sync_running) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->sync, NULL);
	}
	json_decref(h->defs);
	free(h->path);
	pthread_mutex_destroy(&h->mod_lock);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}

/* ---- the routes ---- */

static json_t *error_body(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_body(const char *fmt, ...)
{
	char msg[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", msg);
}

static json_t *find(json_t *defs, const char *name, size_t *at)
{
	json_t *t;
	size_t i;

	json_array_foreach(defs, i, t) {
		const char *tn = json_string_value(json_object_get(t, "name"));

		if (tn && !strcmp(tn, name)) {
			if (at)
				*at = i;
			return t;
		}
	}
	return NULL;
}

/* The agents that have a configuration-file trigger of this name, as "a, b" in buf; 0: none. */
static size_t config_owners(const struct ask *a, char (*names)[64], const char *name,
			    char *buf, size_t size)
{
	size_t found = 0, off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->h->n; i++) {
		json_t *t = a->lists[i] ? find(json_object_get(a->lists[i], "triggers"), name, NULL)
					: NULL;
		const char *src = json_string_value(json_object_get(t, "source"));

		if (!src || strcmp(src, "config"))
			continue;
		if (off < size)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", found ? ", " : "",
						names[i]);
		found++;
	}
	return found;
}

/* The trigger as GET shows it, from a definition: the definition's keys, source, agents. */
static json_t *shown(const json_t *def, const char *source)
{
	json_t *o = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *)def, key, v) {
		if (strcmp(key, "source") && strcmp(key, "counters"))
			json_object_set(o, key, v);
	}
	json_object_set_new(o, "source", json_string(source));
	json_object_set_new(o, "agents", json_object());
	return o;
}

int hub_triggers_get(struct hub_triggers *h, char (*names)[64], const char *name, json_t **body)
{
	json_t *out = json_array(), *defs, *t;
	struct ask a;
	size_t i;

	if (ask_init(&a, h)) {
		*body = error_body("out of memory");
		return 500;
	}
	pthread_mutex_lock(&h->lock);
	defs = json_deep_copy(h->defs);
	pthread_mutex_unlock(&h->lock);
	/* the hub's own first, in its order; then the configuration files' as agents name them */
	json_array_foreach(defs, i, t) json_array_append_new(out, shown(t, "api"));
	hub_fanout(h->n, list_one, &a);
	for (size_t g = 0; g < h->n; g++) {
		json_array_foreach(json_object_get(a.lists[g], "triggers"), i, t) {
			const char *tn = json_string_value(json_object_get(t, "name"));
			const char *src = json_string_value(json_object_get(t, "source"));
			json_t *mine, *counters = json_object_get(t, "counters"), *c;

			if (!tn || !src)
				continue;
			mine = find(out, tn, NULL);
			/* an API trigger the hub no longer has: that agent is not in sync yet */
			if (!mine && !strcmp(src, "api"))
				continue;
			if (!mine) {
				mine = shown(t, "config");
				json_array_append_new(out, mine);
			}
			c = json_object();
			for (size_t k = 0; k < sizeof(shown_counters) / sizeof(shown_counters[0]);
			     k++) {
				json_t *num = json_object_get(counters, shown_counters[k]);

				json_object_set_new(c, shown_counters[k],
						    json_integer(json_integer_value(num)));
			}
			json_object_set_new(json_object_get(mine, "agents"), names[g], c);
		}
	}
	ask_free(&a);
	json_decref(defs);
	if (!name) {
		*body = json_pack("{s:o}", "triggers", out);
		return 200;
	}
	t = find(out, name, NULL);
	*body = t ? json_incref(t) : error_body("no trigger named '%.100s'", name);
	json_decref(out);
	return t ? 200 : 404;
}

/* Send defs (version v) to every agent; the first agent's refusal (-EINVAL) into err. */
static int push(struct hub_triggers *h, char (*names)[64], json_t *defs, const char *v,
		char *err, size_t errlen)
{
	char *json = json_dumps(defs, JSON_COMPACT);
	struct ask a;
	int rc = 0;

	if (!json || ask_init(&a, h)) {
		free(json);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a.version = v;
	a.json = json;
	hub_fanout(h->n, set_one, &a);
	for (size_t i = 0; i < h->n && !rc; i++)
		if (a.rc[i] == -EINVAL) {
			snprintf(err, errlen, "agent %s refused it: %s", names[i], a.err[i]);
			rc = -EINVAL;
		}
	ask_free(&a);
	free(json);
	return rc;
}

/* The new set in place: file first (a hub restart must find what the agents were given). */
static int commit(struct hub_triggers *h, json_t *defs, const char *v, char *err, size_t errlen)
{
	int rc = save(h, defs, err, errlen);

	if (rc)
		return rc;
	pthread_mutex_lock(&h->lock);
	json_decref(h->defs);
	h->defs = json_incref(defs);
	snprintf(h->version, sizeof(h->version), "%s", v);
	h->gen++;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int hub_triggers_post(struct hub_triggers *h, char (*names)[64], const char *req, size_t len,
		      json_t **body)
{
	json_error_t je;
	json_t *t = json_loadb(req, len, 0, &je), *defs = NULL;
	char err[800], owners[300], v[24];
	struct ask a = {0};
	int column, status;
	const char *name;

	if (!t) {
		*body = error_body("the body is not JSON: %s (line %d, column %d)", je.text, je.line,
				   je.column);
		return 400;
	}
	if (hub_trigger_check(t, err, sizeof(err), &column)) {
		*body = json_pack("{s:s}", "error", err);
		if (column)
			json_object_set_new(*body, "column", json_integer(column));
		json_decref(t);
		return 400;
	}
	name = json_string_value(json_object_get(t, "name"));
	pthread_mutex_lock(&h->mod_lock);
	pthread_mutex_lock(&h->lock);
	defs = json_deep_copy(h->defs);
	pthread_mutex_unlock(&h->lock);
	if (find(defs, name, NULL)) {
		*body = error_body("a trigger named '%s' exists: DELETE it first", name);
		status = 409;
		goto out;
	}
	if (ask_init(&a, h)) {
		*body = error_body("out of memory");
		status = 500;
		goto out;
	}
	hub_fanout(h->n, list_one, &a);
	if (config_owners(&a, names, name, owners, sizeof(owners))) {
		*body = error_body("a trigger named '%s' is in the configuration file of %s",
				   name, owners);
		status = 409;
		goto out;
	}
	json_array_append(defs, t);
	version_of(defs, v);
	if (push(h, names, defs, v, err, sizeof(err)) == -EINVAL) {
		/* agents that took it get the set before this again from the sync */
		*body = json_pack("{s:s}", "error", err);
		status = 400;
		goto out;
	}
	if (commit(h, defs, v, err, sizeof(err))) {
		*body = error_body("keeping the triggers: %s", err);
		status = 500;
		goto out;
	}
	*body = json_pack("{s:O, s:s}", "trigger", t, "version", v);
	status = 201;
out:
	if (a.h)
		ask_free(&a);
	pthread_mutex_unlock(&h->mod_lock);
	json_decref(defs);
	json_decref(t);
	return status;
}

int hub_triggers_delete(struct hub_triggers *h, char (*names)[64], const char *name,
			json_t **body)
{
	json_t *defs;
	char err[800], owners[300], v[24];
	struct ask a = {0};
	size_t at;
	int status;

	pthread_mutex_lock(&h->mod_lock);
	pthread_mutex_lock(&h->lock);
	defs = json_deep_copy(h->defs);
	pthread_mutex_unlock(&h->lock);
	if (find(defs, name, &at)) {
		json_array_remove(defs, at);
		version_of(defs, v);
		/* an agent that cannot be reached now is brought in line by the sync */
		push(h, names, defs, v, err, sizeof(err));
		if (commit(h, defs, v, err, sizeof(err))) {
			*body = error_body("keeping the triggers: %s", err);
			status = 500;
		} else {
			*body = json_pack("{s:s, s:s}", "deleted", name, "version", v);
			status = 200;
		}
	} else if (ask_init(&a, h)) {
		*body = error_body("out of memory");
		status = 500;
	} else {
		hub_fanout(h->n, list_one, &a);
		if (config_owners(&a, names, name, owners, sizeof(owners))) {
			*body = error_body("trigger '%s' is from the configuration file of %s: it "
					   "can only be removed there",
					   name, owners);
			status = 409;
		} else {
			*body = error_body("no trigger named '%.100s'", name);
			status = 404;
		}
	}
	if (a.h)
		ask_free(&a);
	pthread_mutex_unlock(&h->mod_lock);
	json_decref(defs);
	return status;
}
