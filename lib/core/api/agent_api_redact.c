// SPDX-License-Identifier: Apache-2.0
/* Entries masked (credentials) or named (their agent) on their way out of an agent_api
 * (agent_api_redact.h). */
#include "api/agent_api_redact.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

static const char *const sensitive[] = {"authorization", "proxy-authorization", "cookie",
					"set-cookie"};

static int is_sensitive(const char *name)
{
	for (size_t i = 0; i < sizeof(sensitive) / sizeof(sensitive[0]); i++)
		if (!strcasecmp(name, sensitive[i]))
			return 1;
	return 0;
}

/* Mask the sensitive values of one headers object (a value may be a list of them); every
 * value when all (the cookies parsed from those headers). */
static int mask_headers(json_t *headers, int all)
{
	const char *name;
	json_t *v;
	int n = 0;

	if (!json_is_object(headers))
		return 0;
	json_object_foreach(headers, name, v)
	{
		if (!all && !is_sensitive(name))
			continue;
		if (json_is_array(v)) {
			size_t i;
			json_t *x;

			json_array_foreach(v, i, x) if (json_is_string(x))
			{
				json_string_set(x, AGENT_API_REDACTED);
				n++;
			}
		} else if (json_is_string(v)) {
			json_string_set(v, AGENT_API_REDACTED);
			n++;
		}
	}
	return n;
}

/* The raw text can hold a sensitive name only if it has one of these (any case): most
 * entries are left untouched without being parsed. */
static int may_have(const char *json, size_t len)
{
	return memmem(json, len, "uthorization", 12) || memmem(json, len, "UTHORIZATION", 12) ||
	       memmem(json, len, "ookie", 5) || memmem(json, len, "OOKIE", 5) ||
	       memmem(json, len, "\\u", 2); /* escaped names: parse to be sure */
}

int agent_api_redact_entry(const char *json, size_t len, struct entry_json_buf *out)
{
	json_error_t je;
	json_t *j;
	int n = 0, rc;

	if (!may_have(json, len))
		return 0;
	j = json_loadb(json, len, JSON_ALLOW_NUL, &je);
	if (!j)
		return -EINVAL;
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++) {
		json_t *m = json_object_get(j, i ? "response" : "request");

		n += mask_headers(json_object_get(m, "headers"), 0);
		n += mask_headers(json_object_get(m, "cookies"), 1);
	}
	rc = 0;
	if (n) {
		out->len = 0;
		rc = entry_json_append(out, j) ? -ENOMEM : 1;
	}
	json_decref(j);
	return rc;
}

/* ---- the wrapper ---- */

int agent_api_name_entry(const char *json, size_t len, const char *name, struct entry_json_buf *out)
{
	out->len = 0;
	while (len && (json[len - 1] == '\n' || json[len - 1] == '\r' || json[len - 1] == ' '))
		len--;
	if (len < 2 || json[0] != '{' || json[len - 1] != '}')
		return -EINVAL;
	/* "{}" gets no comma: the name is then the first member. */
	if (entry_json_append_raw(out, json, len - 1) ||
	    entry_json_append_key(out, "agent", 5, out->len == 1) ||
	    entry_json_append_string(out, name, strlen(name)) || entry_json_append_raw(out, "}", 1))
		return -ENOMEM;
	return 0;
}

/* The two wrappers: masking (agent_api_redact_wrap), naming (agent_api_name_wrap). */
struct redact {
	struct agent_api inner;
	int own;
	int mask;     /* 1: mask sensitive values (agent_api_redact_wrap); 0: name */
	size_t index; /* the agent's place: its name when it gives none */
	/* The name, learnt from info() once the agent has given an entry (info() of a remote
	 * agent is a call over the network: not one per entry, and none to an agent that is
	 * down). */
	pthread_mutex_t mu;
	char agent[64];
};

struct pass {
	struct redact *r;
	agent_entry_fn fn;
	void *arg;
	struct entry_json_buf b;
	char agent[64]; /* "" until the first entry */
};

static void pass_init(struct pass *p, struct redact *r, agent_entry_fn fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->r = r;
	p->fn = fn;
	p->arg = arg;
}

/* The agent's name into p->agent: the one learnt, else info()'s, else "agent<index>". */
static void pass_name(struct pass *p)
{
	struct redact *r = p->r;
	struct agent_info info;

	pthread_mutex_lock(&r->mu);
	snprintf(p->agent, sizeof(p->agent), "%s", r->agent);
	pthread_mutex_unlock(&r->mu);
	if (p->agent[0])
		return;
	memset(&info, 0, sizeof(info));
	r->inner.ops->info(r->inner.self, &info);
	if (info.name[0]) {
		pthread_mutex_lock(&r->mu);
		snprintf(r->agent, sizeof(r->agent), "%s", info.name);
		pthread_mutex_unlock(&r->mu);
		snprintf(p->agent, sizeof(p->agent), "%s", info.name);
	} else {
		snprintf(p->agent, sizeof(p->agent), "agent%zu", r->index);
	}
}

/* Each entry masked or named on its way to the caller's callback. An entry that cannot be
 * read is left out rather than served unmasked. */
static int on_entry(const struct agent_entry *e, void *arg)
{
	struct pass *p = arg;
	struct agent_entry m = *e;
	int r;

	m.tree = NULL; /* of the entry before it was masked or named */
	if (p->r->mask) {
		r = agent_api_redact_entry(e->json, e->json_len, &p->b);
	} else {
		if (!p->agent[0])
			pass_name(p);
		r = agent_api_name_entry(e->json, e->json_len, p->agent, &p->b);
		if (r == 0)
			r = 1; /* the named entry is in the buffer */
	}

	if (r < 0)
		return r == -ENOMEM ? 1 : 0;
	if (r == 1) {
		m.json = p->b.p;
		m.json_len = p->b.len;
	}
	return p->fn(&m, p->arg);
}

static int r_query(void *self, const struct agent_query *q, agent_entry_fn fn, void *arg, char *err,
		   size_t errlen)
{
	struct redact *r = self;
	struct pass p;
	int rc;

	pass_init(&p, r, fn, arg);
	rc = r->inner.ops->query(r->inner.self, q, on_entry, &p, err, errlen);

	entry_json_buf_free(&p.b);
	return rc;
}

static int r_get(void *self, const char *id, agent_entry_fn fn, void *arg, char *err, size_t errlen)
{
	struct redact *r = self;
	struct pass p;
	int rc;

	pass_init(&p, r, fn, arg);
	rc = r->inner.ops->get(r->inner.self, id, on_entry, &p, err, errlen);

	entry_json_buf_free(&p.b);
	return rc;
}

static int r_follow(void *self, const char *filter, struct agent_follow *f, agent_entry_fn fn,
		    void *arg, char *err, size_t errlen)
{
	struct redact *r = self;
	struct pass p;
	int rc;

	pass_init(&p, r, fn, arg);
	rc = r->inner.ops->follow(r->inner.self, filter, f, on_entry, &p, err, errlen);

	entry_json_buf_free(&p.b);
	return rc;
}

static int r_pcap(void *self, const struct agent_query *q, agent_bytes_fn fn, void *arg, char *err,
		  size_t errlen)
{
	struct redact *r = self;

	return r->inner.ops->pcap(r->inner.self, q, fn, arg, err, errlen);
}

static int r_stats(void *self, char **json_out, char *err, size_t errlen)
{
	struct redact *r = self;

	return r->inner.ops->stats(r->inner.self, json_out, err, errlen);
}

static void r_info(void *self, struct agent_info *out)
{
	struct redact *r = self;

	r->inner.ops->info(r->inner.self, out);
}

static void r_destroy(void *self)
{
	struct redact *r = self;

	if (r->own)
		r->inner.ops->destroy(r->inner.self);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* The triggers' calls carry no entry: passed on as they are (NULL stays NULL: -ENOTSUP). */
static int r_triggers_set(void *self, const char *version, const char *json, char *err,
			  size_t errlen)
{
	struct redact *r = self;

	if (!r->inner.ops->triggers_set)
		return snprintf(err, errlen, "this agent runs no triggers"), -ENOTSUP;
	return r->inner.ops->triggers_set(r->inner.self, version, json, err, errlen);
}

static int r_triggers_list(void *self, char **json_out, char *err, size_t errlen)
{
	struct redact *r = self;

	if (!r->inner.ops->triggers_list)
		return snprintf(err, errlen, "this agent runs no triggers"), -ENOTSUP;
	return r->inner.ops->triggers_list(r->inner.self, json_out, err, errlen);
}

static int r_snapshots(void *self, char **json_out, char *err, size_t errlen)
{
	struct redact *r = self;

	if (!r->inner.ops->snapshots)
		return snprintf(err, errlen, "this agent runs no triggers"), -ENOTSUP;
	return r->inner.ops->snapshots(r->inner.self, json_out, err, errlen);
}

static int r_snapshot(void *self, const char *name, agent_bytes_fn fn, void *arg, char *err,
		      size_t errlen)
{
	struct redact *r = self;

	if (!r->inner.ops->snapshot)
		return snprintf(err, errlen, "this agent runs no triggers"), -ENOTSUP;
	return r->inner.ops->snapshot(r->inner.self, name, fn, arg, err, errlen);
}

static const struct agent_api_ops redact_ops = {
    .query = r_query,
    .get = r_get,
    .follow = r_follow,
    .pcap = r_pcap,
    .stats = r_stats,
    .info = r_info,
    .destroy = r_destroy,
    .triggers_set = r_triggers_set,
    .triggers_list = r_triggers_list,
    .snapshots = r_snapshots,
    .snapshot = r_snapshot,
};

/* A wrapper over inner: masking (mask 1) or naming (mask 0, the agent's index). */
static int wrap(struct agent_api inner, int own, int mask, size_t index, struct agent_api *out)
{
	struct redact *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->inner = inner;
	r->own = own;
	r->mask = mask;
	r->index = index;
	pthread_mutex_init(&r->mu, NULL);
	out->ops = &redact_ops;
	out->self = r;
	return 0;
}

int agent_api_redact_wrap(struct agent_api inner, int own, struct agent_api *out)
{
	return wrap(inner, own, 1, 0, out);
}

int agent_api_name_wrap(struct agent_api inner, size_t index, struct agent_api *out)
{
	return wrap(inner, 0, 0, index, out);
}
