/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_server.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "api/snapshot_name.h"
#include "entry/entry_filter.h"
#include "entry/entry_json.h"
#include "hub_auth.h"
#include "hub_metrics.h"
#include "hub_pcap.h"
#include "api/agent_api_redact.h"
#include "hub_query.h"
#include "hub_servicemap.h"
#include "hub_static.h"
#include "hub_stream.h"
#include "hub_triggers.h"
#include "hub_ui_api.h"

_Static_assert(HUB_STREAM_PRE >= LWS_PRE, "stream messages need the library's header room");

#define API	    "/api/v1"
#define ARG_MAX_LEN 32768 /* the longest query parameter taken (a KFL text) */

/* One request (an HTTP transaction) or one WebSocket stream. */
struct conn {
	struct hub_server *s;
	struct lws *wsi; /* service thread only; NULL once the client is gone */
	int refs;	 /* under s->lock: the client side, a worker */
	int want_write;	 /* under s->lock: ask for a writable callback at the next wake */
	int ready;	 /* under s->lock: the response is complete */
	int listed;	 /* in s->conns */
	struct conn *prev, *next;
	enum hub_route route;
	int64_t t0;
	/* the request */
	enum { M_GET, M_POST, M_DELETE } method;
	struct entry_json_buf req; /* a POST's body */
	char *id, *q, *after_id;
	int64_t since, until, after_ts;
	size_t limit;
	/* the response: body or a spooled file */
	int status;
	const char *ctype;
	const char *disposition;
	struct entry_json_buf body;
	int fd;
	uint64_t len, off;
	int headers_sent;
	/* a stream */
	struct hub_stream *st;
};

struct pss {
	struct conn *c;
};

struct hub_server {
	struct agent_api *agents;
	size_t n;
	struct hub_server_opts opts;
	char *host, *token, *spool_dir, *ui_dir;
	char *
	    token_proto; /* "floe.bearer." + base64url(token): how a browser's WebSocket sends it */
	int front_port;	 /* 0: none */
	struct lws_context *ctx;
	int port;
	pthread_t service;
	atomic_int stop;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int workers;	/* threads (request workers, stream pumps) still running */
	int ctx_closed; /* under lock: the context is going: nobody may wake it */
	struct conn *conns;
	struct hub_metrics metrics;
	struct hub_triggers *triggers;
};

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ------------------------------------------------------------------ connections */

static void conn_free(struct conn *c)
{
	free(c->id);
	free(c->q);
	free(c->after_id);
	entry_json_buf_free(&c->req);
	entry_json_buf_free(&c->body);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static struct conn *conn_new(struct hub_server *s, struct lws *wsi)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->wsi = wsi;
	c->fd = -1;
	c->refs = 1;
	c->t0 = mono_ns();
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	c->listed = 1;
	pthread_mutex_unlock(&s->lock);
	return c;
}

/* Under s->lock. */
static void conn_unref_locked(struct conn *c)
{
	if (--c->refs == 0)
		conn_free(c);
}

/* Service thread: the client side lets go of c (closed, or its transaction is over). */
static void conn_detach(struct conn *c)
{
	struct hub_server *s = c->s;
	struct hub_stream *st = NULL;
	pthread_mutex_lock(&s->lock);
	c->wsi = NULL;
	if (c->listed) {
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->listed = 0;
	}
	st = c->st;
	c->st = NULL;
	conn_unref_locked(c);
	pthread_mutex_unlock(&s->lock);
	if (st)
		hub_stream_close(st);
}

/* ------------------------------------------------------------------ responses */

static void respond_json(struct conn *c, int status, json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	c->status = t ? status : 500;
	c->ctype = "application/json";
	c->body.len = 0;
	if (!t || entry_json_append_raw(&c->body, t, strlen(t)) ||
	    entry_json_append_raw(&c->body, "\n", 1)) {
		c->status = 500;
		c->body.len = 0;
		entry_json_append_raw(&c->body, "{\"error\":\"out of memory\"}\n", 26);
	}
	free(t);
	c->len = c->body.len;
}

static void respond_error(struct conn *c, int status, const char *msg)
{
	respond_json(c, status, json_pack("{s:s}", "error", msg));
}

/* Service thread: the response is set; write it when the socket allows. */
static void respond_now(struct conn *c)
{
	pthread_mutex_lock(&c->s->lock);
	c->ready = 1;
	pthread_mutex_unlock(&c->s->lock);
	lws_callback_on_writable(c->wsi);
}

static int write_headers(struct conn *c, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
					   *end = buf + sizeof(buf) - 1;
	if (lws_add_http_common_headers(wsi, (unsigned int)c->status, c->ctype, c->len, &p, end))
		return -1;
	static const char nostore[] = "no-store";
	if (lws_add_http_header_by_name(
		wsi, (const unsigned char *)"cache-control:", (const unsigned char *)nostore,
		sizeof(nostore) - 1, &p, end))
		return -1;
	if (c->status == 401 &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
					(const unsigned char *)"Bearer", 6, &p, end))
		return -1;
	if (c->disposition &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-disposition:",
					(const unsigned char *)c->disposition,
					(int)strlen(c->disposition), &p, end))
		return -1;
	return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* Service thread, on HTTP_WRITEABLE: headers, then the body a chunk at a time. Returns what
 * the callback returns (-1: close). */
static int http_writeable(struct conn *c, struct lws *wsi)
{
	pthread_mutex_lock(&c->s->lock);
	int ready = c->ready;
	pthread_mutex_unlock(&c->s->lock);
	if (!ready)
		return 0;
	if (!c->headers_sent) {
		if (c->status >= 400)
			atomic_fetch_add(&c->s->metrics.errors[c->route], 1);
		if (write_headers(c, wsi))
			return -1;
		c->headers_sent = 1;
		if (c->len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	enum { CHUNK = 32768 };
	unsigned char buf[LWS_PRE + CHUNK];
	size_t n = c->len - c->off < CHUNK ? (size_t)(c->len - c->off) : CHUNK;
	if (n) {
		if (c->fd >= 0) {
			ssize_t r = pread(c->fd, buf + LWS_PRE, n, (off_t)c->off);
			if (r != (ssize_t)n)
				return -1; /* the spool file cannot fail us short: give up the
					      connection */
		} else {
			memcpy(buf + LWS_PRE, c->body.p + c->off, n);
		}
		int last = c->off + n == c->len;
		if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)n)
			return -1;
		c->off += n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	/* Done: let the connection serve the next request (keep-alive) or close. */
	struct pss *pss = lws_wsi_user(wsi);
	if (pss && pss->c == c)
		pss->c = NULL;
	conn_detach(c);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ------------------------------------------------------------------ routes (workers) */

static void agent_names(struct hub_server *s, char (*names)[64], int *connected)
{
	for (size_t i = 0; i < s->n; i++) {
		struct agent_info info;
		memset(&info, 0, sizeof(info));
		s->agents[i].ops->info(s->agents[i].self, &info);
		if (info.name[0])
			snprintf(names[i], 64, "%s", info.name);
		else
			snprintf(names[i], 64, "agent%zu", i);
		if (connected)
			connected[i] = info.connected;
	}
}

static json_t *errors_json(struct hub_server *s, const struct hub_errors *errs)
{
	char(*names)[64] = calloc(s->n ? s->n : 1, 64);
	json_t *a = json_array();
	if (names)
		agent_names(s, names, NULL);
	for (size_t i = 0; i < errs->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "agent",
						   names ? names[errs->v[i].agent] : "?", "error",
						   errs->v[i].msg));
	free(names);
	return a;
}

/* Every agent failed: a filter they refuse is the client's error, anything else ours. */
static void respond_all_failed(struct conn *c, const struct hub_errors *errs)
{
	int bad = 1;
	for (size_t i = 0; i < errs->n; i++)
		if (errs->v[i].code != -EINVAL)
			bad = 0;
	if (bad && errs->n) {
		json_t *j = json_pack("{s:s}", "error", errs->v[0].msg);
		int col = hub_error_column(errs->v[0].msg);
		if (col)
			json_object_set_new(j, "column", json_integer(col));
		respond_json(c, 400, j);
		return;
	}
	respond_json(c, 502,
		     json_pack("{s:s, s:o}", "error", "no agent answered", "agents",
			       errors_json(c->s, errs)));
}

static void do_entries(struct conn *c)
{
	struct hub_server *s = c->s;
	struct agent_query q = {.filter = c->q,
				.since_ns = c->since,
				.until_ns = c->until,
				.limit =
				    c->limit + 1, /* one more says whether there is a next page */
				.after_ts_ns = c->after_ts,
				.after_id = c->after_id};
	struct hub_entries ents;
	struct hub_errors errs;
	if (hub_query_entries(s->agents, s->n, &q, &ents, &errs)) {
		respond_error(c, 500, "out of memory");
		return;
	}
	if (s->n && errs.n == s->n) {
		respond_all_failed(c, &errs);
		goto out;
	}
	size_t n = ents.n > c->limit ? c->limit : ents.n;
	struct entry_json_buf *b = &c->body;
	int rc = entry_json_append_raw(b, "{\"entries\":[", 12);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc |= entry_json_append_raw(b, ",", 1);
		rc |= entry_json_append_raw(b, ents.v[i].json, ents.v[i].json_len);
	}
	rc |= entry_json_append_raw(b, "],\"next\":", 9);
	if (ents.n > c->limit && n) {
		char cur[600];
		int cl = hub_cursor_encode(ents.v[n - 1].ts_ns, ents.v[n - 1].id, cur, sizeof(cur));
		rc |= cl < 0 ? -ENOSPC : entry_json_append_string(b, cur, (size_t)cl);
	} else {
		rc |= entry_json_append_raw(b, "null", 4);
	}
	if (errs.n) {
		/* Some agents did not answer: what they hold is missing from this page. */
		json_t *ej = errors_json(s, &errs);
		char *t = json_dumps(ej, JSON_COMPACT);
		json_decref(ej);
		rc |= !t || entry_json_append_raw(b, ",\"errors\":", 10) ||
		      entry_json_append_raw(b, t, strlen(t));
		free(t);
	}
	rc |= entry_json_append_raw(b, "}\n", 2);
	if (rc) {
		respond_error(c, 500, "out of memory");
		goto out;
	}
	c->status = 200;
	c->ctype = "application/json";
	c->len = b->len;
	atomic_fetch_add(&s->metrics.entries[HUB_ROUTE_ENTRIES], n);
out:
	hub_entries_free(&ents);
	hub_errors_free(&errs);
}

struct get_part {
	struct hub_server *s;
	const char *id;
	struct hub_entries *found; /* per agent */
	int *rc;
	char (*err)[256];
};

static int collect_entry(const struct agent_entry *e, void *arg)
{
	return hub_entries_add(arg, e, 0) ? -1 : 1;
}

static void get_one(size_t i, void *arg)
{
	struct get_part *g = arg;
	struct agent_api *a = &g->s->agents[i];
	g->err[i][0] = 0;
	g->rc[i] = a->ops->get(a->self, g->id, collect_entry, &g->found[i], g->err[i], 256);
}

static void do_entry(struct conn *c)
{
	struct hub_server *s = c->s;
	size_t n = s->n ? s->n : 1;
	struct hub_entries *found = calloc(n, sizeof(*found));
	int *rc = calloc(n, sizeof(*rc));
	char(*err)[256] = calloc(n, 256);
	if (!found || !rc || !err) {
		respond_error(c, 500, "out of memory");
		goto out;
	}
	struct get_part g = {.s = s, .id = c->id, .found = found, .rc = rc, .err = err};
	hub_fanout(s->n, get_one, &g);
	size_t failed = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!rc[i] && found[i].n) {
			c->status = 200;
			c->ctype = "application/json";
			if (entry_json_append_raw(&c->body, found[i].v[0].json,
						  found[i].v[0].json_len) ||
			    entry_json_append_raw(&c->body, "\n", 1)) {
				respond_error(c, 500, "out of memory");
				goto out;
			}
			c->len = c->body.len;
			atomic_fetch_add(&s->metrics.entries[HUB_ROUTE_ENTRY], 1);
			goto out;
		}
		if (rc[i] && rc[i] != -ENOENT)
			failed++;
	}
	if (!failed) {
		respond_json(
		    c, 404,
		    json_pack("{s:s, s:s}", "error", "no agent has this entry", "id", c->id));
	} else {
		struct hub_errors errs = {.v = calloc(failed, sizeof(*errs.v))};
		for (size_t i = 0; errs.v && i < s->n; i++)
			if (rc[i] && rc[i] != -ENOENT) {
				errs.v[errs.n].agent = i;
				errs.v[errs.n].code = rc[i];
				snprintf(errs.v[errs.n].msg, sizeof(errs.v[0].msg), "%s",
					 err[i][0] ? err[i] : strerror(-rc[i]));
				errs.n++;
			}
		/* Not found where asked, and some agents could not be asked: not a 404. */
		respond_json(c, 502,
			     json_pack("{s:s, s:o}", "error",
				       "not found on the agents that answered", "agents",
				       errors_json(s, &errs)));
		hub_errors_free(&errs);
	}
out:
	for (size_t i = 0; found && i < s->n; i++)
		hub_entries_free(&found[i]);
	free(found);
	free(rc);
	free(err);
}

static int spool_open(struct hub_server *s)
{
	const char *dir = s->spool_dir;
	if (!dir)
		dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* File systems without O_TMPFILE: a named file, unlinked at once. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/floe-hub-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

struct pcap_part {
	struct hub_server *s;
	const struct agent_query *q;
	FILE **f;
	int *rc;
	char (*err)[256];
};

static int spool_bytes(const void *buf, size_t len, void *arg)
{
	return fwrite(buf, 1, len, arg) == len ? 0 : -1;
}

static void pcap_one(size_t i, void *arg)
{
	struct pcap_part *p = arg;
	struct agent_api *a = &p->s->agents[i];
	p->err[i][0] = 0;
	p->rc[i] = a->ops->pcap(a->self, p->q, spool_bytes, p->f[i], p->err[i], 256);
	if (!p->rc[i] && (fflush(p->f[i]) || ferror(p->f[i]))) {
		p->rc[i] = -EIO;
		snprintf(p->err[i], 256, "spooling its PCAP: %s", strerror(errno));
	}
}

static void do_pcap(struct conn *c)
{
	struct hub_server *s = c->s;
	size_t n = s->n ? s->n : 1;
	FILE **f = calloc(n, sizeof(*f));
	int *rc = calloc(n, sizeof(*rc));
	char(*err)[256] = calloc(n, 256);
	char(*names)[64] = calloc(n, 64);
	const char **np = calloc(n, sizeof(*np));
	struct agent_query q = {.filter = c->q, .since_ns = c->since, .until_ns = c->until};
	FILE *out = NULL;
	if (!f || !rc || !err || !names || !np) {
		respond_error(c, 500, "out of memory");
		goto out;
	}
	agent_names(s, names, NULL);
	for (size_t i = 0; i < s->n; i++) {
		int fd = spool_open(s);
		np[i] = names[i];
		if (fd < 0 || !(f[i] = fdopen(fd, "w+"))) {
			if (fd >= 0)
				close(fd);
			respond_error(c, 500, "cannot create a spool file (--spool-dir)");
			goto out;
		}
	}
	struct pcap_part p = {.s = s, .q = &q, .f = f, .rc = rc, .err = err};
	hub_fanout(s->n, pcap_one, &p);
	struct hub_errors errs = {.v = calloc(n, sizeof(*errs.v))};
	for (size_t i = 0; errs.v && i < s->n; i++) {
		rewind(f[i]);
		if (rc[i]) {
			errs.v[errs.n].agent = i;
			errs.v[errs.n].code = rc[i];
			snprintf(errs.v[errs.n].msg, sizeof(errs.v[0].msg), "%s",
				 err[i][0] ? err[i] : strerror(-rc[i]));
			errs.n++;
			/* What a failed agent gave is not merged: it may end inside a record. */
			fclose(f[i]);
			f[i] = fopen("/dev/null", "r");
		}
	}
	if (!errs.v || (s->n && errs.n == s->n)) {
		if (errs.v)
			respond_all_failed(c, &errs);
		else
			respond_error(c, 500, "out of memory");
		hub_errors_free(&errs);
		goto out;
	}
	int ofd = spool_open(s);
	out = ofd >= 0 ? fdopen(ofd, "w+") : NULL;
	if (!out) {
		if (ofd >= 0)
			close(ofd);
		hub_errors_free(&errs);
		respond_error(c, 500, "cannot create a spool file (--spool-dir)");
		goto out;
	}
	uint64_t packets = 0;
	char merr[300];
	int mrc = hub_pcap_merge(f, np, s->n, out, &packets, merr, sizeof(merr));
	if (mrc) {
		respond_error(c, mrc == -EPROTO ? 502 : 500, merr);
		hub_errors_free(&errs);
		goto out;
	}
	/* Agents that failed are left out (their part is missing); a client sees them in
	 * /api/v1/agents. The file itself stays valid. */
	hub_errors_free(&errs);
	c->fd = dup(fileno(out));
	c->len = (uint64_t)ftello(out);
	c->status = c->fd >= 0 ? 200 : 500;
	c->ctype = "application/vnd.tcpdump.pcap";
	c->disposition = "attachment; filename=\"floe.pcap\"";
	atomic_fetch_add(&s->metrics.pcap_packets, packets);
out:
	for (size_t i = 0; f && i < s->n; i++)
		if (f[i])
			fclose(f[i]);
	if (out)
		fclose(out);
	free(f);
	free(rc);
	free(err);
	free(names);
	free(np);
}

/* One JSON answer per agent, in parallel: stats, or (snapshots) the snapshots' list. */
struct stats_part {
	struct hub_server *s;
	char **json;
	int *rc;
	char (*err)[256];
	int snapshots;
};

static void stats_one(size_t i, void *arg)
{
	struct stats_part *p = arg;
	struct agent_api *a = &p->s->agents[i];
	p->err[i][0] = 0;
	p->json[i] = NULL;
	if (!p->snapshots)
		p->rc[i] = a->ops->stats(a->self, &p->json[i], p->err[i], 256);
	else
		p->rc[i] = a->ops->snapshots
			       ? a->ops->snapshots(a->self, &p->json[i], p->err[i], 256)
			       : -ENOTSUP;
}

/* Every agent's JSON answer (stats, or the snapshots' list), its names and whether it is
 * connected, into p's arrays (freed by fanout_free). -ENOMEM with nothing asked. */
static int fanout_json(struct hub_server *s, int snapshots, struct stats_part *p,
		       char (**names)[64], int **connected)
{
	size_t n = s->n ? s->n : 1;
	*p = (struct stats_part){.s = s,
				 .json = calloc(n, sizeof(char *)),
				 .rc = calloc(n, sizeof(int)),
				 .err = calloc(n, 256),
				 .snapshots = snapshots};
	*names = calloc(n, 64);
	*connected = calloc(n, sizeof(int));
	if (!p->json || !p->rc || !p->err || !*names || !*connected)
		return -ENOMEM;
	hub_fanout(s->n, stats_one, p);
	agent_names(s, *names, *connected);
	return 0;
}

static void fanout_free(struct stats_part *p, char (*names)[64], int *connected)
{
	for (size_t i = 0; p->json && i < p->s->n; i++)
		free(p->json[i]);
	free(p->json);
	free(p->rc);
	free(p->err);
	free(names);
	free(connected);
}

/* /agents: each agent's identity and state, and where its TLS reading is blind
 * ("tls_blind" from its stats, docs/tls.md) when it says (an agent that does not answer, or
 * has no TLS source, has none). */
static void do_agents(struct conn *c)
{
	struct hub_server *s = c->s;
	struct stats_part p;
	char(*names)[64];
	int *connected;
	json_t *a = json_array();

	if (fanout_json(s, 0, &p, &names, &connected) || !a) {
		respond_error(c, 500, "out of memory");
		json_decref(a);
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct agent_info in;
		memset(&in, 0, sizeof(in));
		s->agents[i].ops->info(s->agents[i].self, &in);
		if (!in.name[0])
			snprintf(in.name, sizeof(in.name), "agent%zu", i);
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:s?}", "name", in.name, "node",
			      in.node, "address", in.address, "version", in.version, "connected",
			      in.connected, "last_seen_ns", (json_int_t)in.last_seen_ns, "error",
			      in.error[0] ? in.error : NULL);
		json_t *st = p.rc[i] || !p.json[i] ? NULL : json_loads(p.json[i], 0, NULL);
		json_t *blind = json_object_get(st, "tls_blind");

		if (o && json_is_array(blind))
			json_object_set(o, "tls_blind", blind);
		json_decref(st);
		json_array_append_new(a, o);
	}
	respond_json(c, 200, json_pack("{s:o}", "agents", a));
out:
	fanout_free(&p, names, connected);
}

static void do_stats(struct conn *c)
{
	struct hub_server *s = c->s;
	size_t n = s->n ? s->n : 1;
	struct stats_part p;
	char(*names)[64];
	int *connected;
	if (fanout_json(s, 0, &p, &names, &connected)) {
		respond_error(c, 500, "out of memory");
		goto out;
	}
	char **js = p.json;
	int *rc = p.rc;
	char(*err)[256] = p.err;
	size_t nconn = 0;
	for (size_t i = 0; i < s->n; i++)
		nconn += connected[i] != 0;
	if (c->route == HUB_ROUTE_METRICS) {
		const char **sj = calloc(n, sizeof(*sj));
		const char **nm = calloc(n, sizeof(*nm));
		for (size_t i = 0; sj && nm && i < s->n; i++) {
			sj[i] = rc[i] ? NULL : js[i];
			nm[i] = names[i];
		}
		if (!sj || !nm || hub_metrics_text(&s->metrics, s->n, nconn, nm, sj, &c->body)) {
			respond_error(c, 500, "out of memory");
		} else {
			c->status = 200;
			c->ctype = "text/plain; version=0.0.4; charset=utf-8";
			c->len = c->body.len;
		}
		free(sj);
		free(nm);
		goto out;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < s->n; i++) {
		json_t *st = rc[i] ? NULL : json_loads(js[i], 0, NULL);
		json_array_append_new(
		    a, json_pack("{s:s, s:b, s:o?, s:s?}", "name", names[i], "connected",
				 connected[i], "stats", st, "error",
				 rc[i] ? (err[i][0] ? err[i] : strerror(-rc[i])) : NULL));
	}
	json_t *hub =
	    json_pack("{s:I, s:I, s:I, s:I, s:I}", "agents", (json_int_t)s->n, "agents_connected",
		      (json_int_t)nconn, "streams_open", (json_int_t)s->metrics.streams_open,
		      "stream_lost", (json_int_t)s->metrics.stream_lost, "entries_served",
		      (json_int_t)(s->metrics.entries[HUB_ROUTE_ENTRIES] +
				   s->metrics.entries[HUB_ROUTE_ENTRY] +
				   s->metrics.entries[HUB_ROUTE_STREAM]));
	respond_json(c, 200, json_pack("{s:o, s:o}", "hub", hub, "agents", a));
out:
	fanout_free(&p, names, connected);
}

/* ---- triggers and snapshots ---- */

static void do_triggers(struct conn *c)
{
	struct hub_server *s = c->s;
	char(*names)[64] = calloc(s->n ? s->n : 1, 64);
	json_t *body = NULL;
	int status;

	if (!names) {
		respond_error(c, 500, "out of memory");
		return;
	}
	agent_names(s, names, NULL);
	if (c->method == M_POST)
		status = hub_triggers_post(s->triggers, names, c->req.p ? c->req.p : "", c->req.len,
					   &body);
	else if (c->method == M_DELETE)
		status = hub_triggers_delete(s->triggers, names, c->id, &body);
	else
		status = hub_triggers_get(s->triggers, names, c->id, &body);
	respond_json(c, status, body);
	free(names);
}

/* Every agent's snapshots, each with its agent's name and its download path. */
static void do_snapshots(struct conn *c)
{
	struct hub_server *s = c->s;
	json_t *all = json_array(), *errs = json_array();
	struct stats_part p;
	char(*names)[64];
	int *connected;

	if (fanout_json(s, 1, &p, &names, &connected)) {
		respond_error(c, 500, "out of memory");
		goto out;
	}
	char **js = p.json;
	int *rc = p.rc;
	char(*err)[256] = p.err;
	for (size_t i = 0; i < s->n; i++) {
		json_t *list = rc[i] ? NULL : json_loads(js[i], 0, NULL), *x;
		size_t k;

		if (rc[i] && rc[i] != -ENOTSUP)
			json_array_append_new(errs,
					      json_pack("{s:s, s:s}", "agent", names[i], "error",
							err[i][0] ? err[i] : strerror(-rc[i])));
		json_array_foreach(list, k, x)
		{
			const char *file = json_string_value(json_object_get(x, "name"));
			char path[512];

			if (!file)
				continue;
			snprintf(path, sizeof(path), API "/snapshots/%s/%s", names[i], file);
			json_object_set_new(x, "agent", json_string(names[i]));
			json_object_set_new(x, "path", json_string(path));
			json_array_append(all, x);
		}
		json_decref(list);
	}
	respond_json(c, 200, json_pack("{s:O, s:O}", "snapshots", all, "errors", errs));
out:
	json_decref(all);
	json_decref(errs);
	fanout_free(&p, names, connected);
}

/* GET /api/v1/snapshots/{agent}/{file}: the agent's file, spooled, then served with its
 * length (as /api/v1/pcap). The name is checked here and again by the agent. */
static void do_snapshot(struct conn *c)
{
	struct hub_server *s = c->s;
	char(*names)[64] = calloc(s->n ? s->n : 1, 64);
	const char *slash = strchr(c->id, '/'), *file = slash ? slash + 1 : "";
	size_t alen = slash ? (size_t)(slash - c->id) : 0, i;
	char err[512] = "";
	struct stat st;
	int fd, rc;

	if (!names) {
		respond_error(c, 500, "out of memory");
		return;
	}
	if (!slash || !snapshot_name_parse(file, NULL, 0, NULL, 0)) {
		respond_error(c, 400, "expected /api/v1/snapshots/AGENT/TRIGGER.ENTRY-ID.pcap");
		free(names);
		return;
	}
	agent_names(s, names, NULL);
	for (i = 0; i < s->n; i++)
		if (strlen(names[i]) == alen && !strncmp(names[i], c->id, alen))
			break;
	if (i == s->n) {
		respond_json(c, 404,
			     json_pack("{s:s, s:s%}", "error", "no such agent", "agent", c->id,
				       (size_t)alen));
		free(names);
		return;
	}
	free(names);
	if (!s->agents[i].ops->snapshot) {
		respond_error(c, 404, "this agent runs no triggers");
		return;
	}
	FILE *f = (fd = spool_open(s)) >= 0 ? fdopen(fd, "w+") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		respond_error(c, 500, "cannot make a spool file");
		return;
	}
	rc = s->agents[i].ops->snapshot(s->agents[i].self, file, spool_bytes, f, err, sizeof(err));
	if (!rc && (fflush(f) || fstat(fileno(f), &st) || (fd = dup(fileno(f))) < 0))
		rc = -errno;
	fclose(f);
	if (rc) {
		respond_error(c,
			      rc == -ENOENT   ? 404
			      : rc == -EINVAL ? 400
					      : 502,
			      err[0] ? err : strerror(-rc));
		return;
	}
	c->fd = fd;
	c->len = (uint64_t)st.st_size;
	c->status = 200;
	c->ctype = "application/vnd.tcpdump.pcap";
	c->disposition = "attachment; filename=\"snapshot.pcap\"";
}

static int64_t realtime_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The service map over [since, until): until defaults to now, since to 15 minutes before it. */
static void do_servicemap(struct conn *c)
{
	struct hub_server *s = c->s;
	int64_t until = c->until ? c->until : realtime_ns();
	int64_t since = c->since ? c->since : until - 900LL * 1000000000;
	if (since >= until) {
		respond_error(c, 400, "since: must come before until");
		return;
	}
	json_t *g = NULL;
	struct hub_errors errs;
	if (hub_servicemap(s->agents, s->n, c->q, since, until, NULL, &g, &errs)) {
		hub_errors_free(&errs);
		respond_error(c, 500, "out of memory");
		return;
	}
	if (s->n && errs.n == s->n) {
		json_decref(g);
		respond_all_failed(c, &errs);
	} else {
		json_object_set_new(g, "since", json_integer(since));
		json_object_set_new(g, "until", json_integer(until));
		if (errs.n) /* some agents did not answer: their entries are missing from it */
			json_object_set_new(g, "errors", errors_json(s, &errs));
		respond_json(c, 200, g);
	}
	hub_errors_free(&errs);
}

static void *worker(void *arg)
{
	struct conn *c = arg;
	struct hub_server *s = c->s;
	switch (c->route) {
	case HUB_ROUTE_ENTRIES:
		do_entries(c);
		break;
	case HUB_ROUTE_ENTRY:
		do_entry(c);
		break;
	case HUB_ROUTE_PCAP:
		do_pcap(c);
		break;
	case HUB_ROUTE_AGENTS:
		do_agents(c);
		break;
	case HUB_ROUTE_SERVICEMAP:
		do_servicemap(c);
		break;
	case HUB_ROUTE_STATS:
	case HUB_ROUTE_METRICS:
		do_stats(c);
		break;
	case HUB_ROUTE_TRIGGERS:
		do_triggers(c);
		break;
	case HUB_ROUTE_SNAPSHOTS:
		if (c->id)
			do_snapshot(c);
		else
			do_snapshots(c);
		break;
	default:
		respond_error(c, 404, "no such route");
	}
	if (c->route == HUB_ROUTE_ENTRIES || c->route == HUB_ROUTE_ENTRY ||
	    c->route == HUB_ROUTE_PCAP)
		hub_metrics_latency(&s->metrics, c->route, mono_ns() - c->t0);
	pthread_mutex_lock(&s->lock);
	c->ready = 1;
	c->want_write = 1;
	conn_unref_locked(c);
	if (!s->ctx_closed)
		lws_cancel_service(s->ctx);
	s->workers--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ------------------------------------------------------------------ requests (service thread) */

/*
 * The value of query parameter name ("q"), URL-decoded by the library, malloc'ed into *out.
 * 1 found, 0 absent, -E2BIG longer than ARG_MAX_LEN, -ENOMEM.
 */
static int get_arg(struct lws *wsi, const char *name, char **out)
{
	size_t nl = strlen(name);
	*out = NULL;
	for (int i = 0;; i++) {
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len <= 0)
			return 0;
		if (len > ARG_MAX_LEN + 64)
			return -E2BIG;
		char *buf = malloc((size_t)len + 1);
		if (!buf)
			return -ENOMEM;
		if (lws_hdr_copy_fragment(wsi, buf, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
			free(buf);
			return 0;
		}
		if (!strncmp(buf, name, nl) && buf[nl] == '=') {
			memmove(buf, buf + nl + 1, strlen(buf + nl + 1) + 1);
			*out = buf;
			return 1;
		}
		free(buf);
	}
}

static int bad_request(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_request(struct conn *c, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond_error(c, 400, msg);
	return -EINVAL;
}

/* A KFL text the agents will be given: refused here, with its column, when it does not
 * compile against the schema, so that a typo is a 400 rather than N agents' errors. */
static int check_filter(struct conn *c, const char *q)
{
	char err[512];
	struct entry_filter *f = NULL;
	if (!q || !*q)
		return 0;
	if (entry_filter_compile_checked(q, &f, err, sizeof(err)) == 0) {
		entry_filter_free(f);
		return 0;
	}
	json_t *j = json_pack("{s:s, s:s}", "error", err, "query", q);
	int col = hub_error_column(err);
	if (col)
		json_object_set_new(j, "column", json_integer(col));
	respond_json(c, 400, j);
	return -EINVAL;
}

/* Parse the query parameters of the route into c. 0, or -EINVAL with a 400 set. */
/* The number argument name, from lo to hi, else dflt. 0, or -EINVAL (answered 400). */
static int num_arg(struct conn *c, struct lws *wsi, const char *name, size_t lo, size_t hi,
		   size_t dflt, size_t *out)
{
	char *v = NULL, *end;
	*out = dflt;
	if (get_arg(wsi, name, &v) <= 0)
		return 0;
	errno = 0;
	unsigned long long l = strtoull(v, &end, 10);
	if (!*v || *end || errno || *v == '-' || l < lo || l > hi) {
		bad_request(c, "%s: '%.200s' is not a number from %zu to %zu", name, v, lo, hi);
		free(v);
		return -EINVAL;
	}
	free(v);
	*out = (size_t)l;
	return 0;
}

static int parse_params(struct conn *c, struct lws *wsi)
{
	struct hub_server *s = c->s;
	char *v = NULL;
	int rc = get_arg(wsi, "q", &c->q);
	if (rc < 0)
		return bad_request(c, "q: longer than %d bytes", ARG_MAX_LEN);
	if (check_filter(c, c->q))
		return -EINVAL;
	static const char *const times[] = {"since", "until"};
	for (int i = 0; i < 2; i++) {
		char err[300];
		rc = get_arg(wsi, times[i], &v);
		if (rc > 0 && hub_parse_time(v, i ? &c->until : &c->since, err, sizeof(err))) {
			free(v);
			return bad_request(c, "%s: %s", times[i], err);
		}
		free(v);
		v = NULL;
	}
	if (num_arg(c, wsi, "limit", 1, s->opts.max_limit, 100, &c->limit))
		return -EINVAL;
	rc = get_arg(wsi, "cursor", &v);
	if (rc > 0 && *v) {
		int drc = hub_cursor_decode(v, &c->after_ts, &c->after_id);
		if (drc) {
			bad_request(c, "cursor: '%.200s' is not a cursor this hub gave", v);
			free(v);
			return -EINVAL;
		}
	}
	free(v);
	return 0;
}

/*
 * A browser's WebSocket cannot send an Authorization header; it can offer subprotocols. The
 * UI offers "floe" (which the hub selects, so the browser accepts the answer) and
 * "floe.bearer.<token in base64url>": the token is taken from that element of
 * Sec-WebSocket-Protocol.
 */
static int ws_token_ok(struct hub_server *s, struct lws *wsi)
{
	char h[1024];
	if (!s->token_proto || lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_PROTOCOL) <= 0)
		return 0;
	size_t pl = strlen("floe.bearer.");
	for (char *save = NULL, *t = strtok_r(h, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save))
		if (!strncmp(t, "floe.bearer.", pl))
			return hub_same_secret(s->token_proto, t, strlen(t));
	return 0;
}

static int auth_ok(struct hub_server *s, struct lws *wsi)
{
	return hub_bearer_ok(wsi, s->token);
}

static enum hub_route route_of(const char *path, const char **id)
{
	*id = NULL;
	if (!strcmp(path, API "/entries") || !strcmp(path, API "/entries/"))
		return HUB_ROUTE_ENTRIES;
	if (!strncmp(path, API "/entries/", sizeof(API "/entries/") - 1)) {
		*id = path + sizeof(API "/entries/") - 1;
		return HUB_ROUTE_ENTRY;
	}
	if (!strcmp(path, API "/stream"))
		return HUB_ROUTE_STREAM;
	if (!strcmp(path, API "/pcap"))
		return HUB_ROUTE_PCAP;
	if (!strcmp(path, API "/agents"))
		return HUB_ROUTE_AGENTS;
	if (!strcmp(path, API "/stats"))
		return HUB_ROUTE_STATS;
	if (!strcmp(path, "/metrics"))
		return HUB_ROUTE_METRICS;
	if (!strcmp(path, API "/schema"))
		return HUB_ROUTE_SCHEMA;
	if (!strcmp(path, API "/validate"))
		return HUB_ROUTE_VALIDATE;
	if (!strcmp(path, API "/servicemap"))
		return HUB_ROUTE_SERVICEMAP;
	if (!strcmp(path, API "/triggers") || !strcmp(path, API "/triggers/"))
		return HUB_ROUTE_TRIGGERS;
	if (!strncmp(path, API "/triggers/", sizeof(API "/triggers/") - 1)) {
		*id = path + sizeof(API "/triggers/") - 1;
		return HUB_ROUTE_TRIGGERS;
	}
	if (!strcmp(path, API "/snapshots") || !strcmp(path, API "/snapshots/"))
		return HUB_ROUTE_SNAPSHOTS;
	if (!strncmp(path, API "/snapshots/", sizeof(API "/snapshots/") - 1)) {
		*id = path + sizeof(API "/snapshots/") - 1;
		return HUB_ROUTE_SNAPSHOTS;
	}
	/* Everything outside the API is the web UI's (a 404 when it has no such file). */
	if (strncmp(path, "/api/", 5))
		return HUB_ROUTE_UI;
	return HUB_ROUTE_OTHER;
}

static int start_worker(struct conn *c)
{
	struct hub_server *s = c->s;
	pthread_t th;
	pthread_mutex_lock(&s->lock);
	if (s->workers >= s->opts.max_workers) {
		pthread_mutex_unlock(&s->lock);
		respond_error(c, 503, "busy: too many requests at once");
		return -EBUSY;
	}
	c->refs++;
	s->workers++;
	pthread_mutex_unlock(&s->lock);
	if (pthread_create(&th, NULL, worker, c)) {
		pthread_mutex_lock(&s->lock);
		c->refs--;
		s->workers--;
		pthread_mutex_unlock(&s->lock);
		respond_error(c, 503, "busy: cannot start a worker");
		return -EAGAIN;
	}
	pthread_detach(th);
	return 0;
}

static int on_http(struct hub_server *s, struct lws *wsi, struct pss *pss, const char *path)
{
	if (pss->c) { /* a previous transaction left over: it is done with */
		conn_detach(pss->c);
		pss->c = NULL;
	}
	struct conn *c = conn_new(s, wsi);
	if (!c)
		return -1;
	pss->c = c;
	const char *id;
	c->route = route_of(path, &id);
	atomic_fetch_add(&s->metrics.requests[c->route], 1);
	c->method = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)     ? M_POST
		    : lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) ? M_DELETE
								      : M_GET;
	/* POST /triggers and DELETE /triggers/{name}; GET everywhere */
	int method_ok = c->method == M_GET || (c->route == HUB_ROUTE_TRIGGERS &&
					       (c->method == M_POST ? !id || !*id : id && *id));
	if (c->method == M_GET && !lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		method_ok = 0;
	if (!method_ok) {
		respond_error(c, 405,
			      c->route == HUB_ROUTE_TRIGGERS
				  ? "POST /api/v1/triggers, DELETE /api/v1/triggers/NAME, or GET"
				  : "only GET");
	} else if (c->route != HUB_ROUTE_UI && !auth_ok(s, wsi)) {
		/* The UI's files hold no data and a browser cannot send a token for a page load:
		 * they are served without one; the page then asks for it (docs/ui.md). */
		respond_error(c, 401, "a token is required: Authorization: Bearer TOKEN");
	} else if (c->route == HUB_ROUTE_UI) {
		/* The UI's files need no agent: opened here, written from the file. */
		c->status = 200;
		if (!s->ui_dir || hub_static_open(s->ui_dir, path, &c->fd, &c->len, &c->ctype))
			respond_json(
			    c, 404, json_pack("{s:s, s:s}", "error", "no such file", "path", path));
	} else if (c->route == HUB_ROUTE_SCHEMA || c->route == HUB_ROUTE_VALIDATE) {
		/* The schema and a compile: quick, no agent asked, answered here. */
		char *q = NULL;
		if (c->route == HUB_ROUTE_VALIDATE && get_arg(wsi, "q", &q) < 0)
			respond_error(c, 400, "q: too long");
		else
			respond_json(c, 200,
				     c->route == HUB_ROUTE_SCHEMA ? hub_api_schema()
								  : hub_api_validate(q));
		free(q);
	} else if (c->route == HUB_ROUTE_OTHER) {
		respond_json(c, 404,
			     json_pack("{s:s, s:s}", "error", "no such route", "path", path));
	} else if (c->route == HUB_ROUTE_STREAM) {
		respond_error(c, 426, "a WebSocket route: connect with a WebSocket client");
	} else if (c->route == HUB_ROUTE_ENTRY && (!*id || !(c->id = strdup(id)))) {
		respond_error(c, 404, "no entry id");
	} else if (c->route == HUB_ROUTE_TRIGGERS || c->route == HUB_ROUTE_SNAPSHOTS) {
		if (id && *id && !(c->id = strdup(id)))
			respond_error(c, 500, "out of memory");
		else if (c->method == M_POST)
			return 0; /* the body comes: LWS_CALLBACK_HTTP_BODY, then _COMPLETION */
		else if (start_worker(c) == 0)
			return 0;
	} else if (parse_params(c, wsi) == 0) {
		if (start_worker(c) == 0)
			return 0;
	}
	respond_now(c);
	return 0;
}

/* ------------------------------------------------------------------ WebSocket */

struct ws_args {
	char *q;
	int64_t since;
};

static void stream_wake(void *arg)
{
	struct conn *c = arg;
	struct hub_server *s = c->s;
	pthread_mutex_lock(&s->lock);
	c->want_write = 1;
	if (!s->ctx_closed)
		lws_cancel_service(s->ctx);
	pthread_mutex_unlock(&s->lock);
}

static void stream_done(void *arg)
{
	struct conn *c = arg;
	struct hub_server *s = c->s;
	pthread_mutex_lock(&s->lock);
	conn_unref_locked(c);
	s->workers--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

/* Before the upgrade: the route, the token and the query; non-zero refuses the handshake. */
static int ws_filter(struct hub_server *s, struct lws *wsi)
{
	char path[256];
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
		return -1;
	const char *id;
	enum hub_route r = route_of(path, &id);
	atomic_fetch_add(&s->metrics.requests[r == HUB_ROUTE_STREAM ? r : HUB_ROUTE_OTHER], 1);
	if (r != HUB_ROUTE_STREAM || !(auth_ok(s, wsi) || ws_token_ok(s, wsi))) {
		atomic_fetch_add(&s->metrics.errors[r == HUB_ROUTE_STREAM ? r : HUB_ROUTE_OTHER],
				 1);
		return -1;
	}
	return 0;
}

static int ws_established(struct hub_server *s, struct lws *wsi, struct pss *pss)
{
	struct conn *c = conn_new(s, wsi);
	if (!c)
		return -1;
	pss->c = c;
	c->route = HUB_ROUTE_STREAM;
	/* ?batch=N: up to N messages per WebSocket message, as a JSON array, each batch waiting
	 * at most batch_ms (default 50) to fill. Without it one message each, as always. */
	size_t batch = 0, batch_ms = 0;
	if (parse_params(c, wsi) || num_arg(c, wsi, "batch", 1, HUB_STREAM_BATCH_MAX, 0, &batch) ||
	    num_arg(c, wsi, "batch_ms", 0, HUB_STREAM_BATCH_MS_MAX, 50, &batch_ms)) {
		/* Refused: say why in the one message, then close. */
		atomic_fetch_add(&s->metrics.errors[HUB_ROUTE_STREAM], 1);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)c->body.p,
				 c->body.len > 120 ? 120 : c->body.len - 1);
		return -1;
	}
	struct hub_stream_cfg cfg = {.agents = s->agents,
				     .n = s->n,
				     .filter = c->q,
				     .since_ns = c->since,
				     .queue_cap = s->opts.ws_queue,
				     .hold_ns = s->opts.live_hold_ns,
				     .batch = batch,
				     .batch_ns = (int64_t)batch_ms * 1000000,
				     .metrics = &s->metrics,
				     .wake = stream_wake,
				     .done = stream_done,
				     .arg = c};
	pthread_mutex_lock(&s->lock);
	c->refs++;
	s->workers++;
	pthread_mutex_unlock(&s->lock);
	struct hub_stream *st;
	if (hub_stream_start(&cfg, &st)) {
		pthread_mutex_lock(&s->lock);
		c->refs--;
		s->workers--;
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	c->st = st;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int ws_writeable(struct conn *c, struct lws *wsi)
{
	if (!c->st)
		return 0;
	size_t len;
	int more;
	char *m = hub_stream_pop(c->st, &len, &more);
	if (!m)
		return 0;
	int n = lws_write(wsi, (unsigned char *)m, len, LWS_WRITE_TEXT);
	hub_stream_msg_free(m);
	if (n < (int)len)
		return -1;
	if (more)
		lws_callback_on_writable(wsi);
	return 0;
}

/* ------------------------------------------------------------------ the callback */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct hub_server *s = lws_context_user(lws_get_context(wsi));
	struct pss *pss = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(s, wsi, pss, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss && pss->c ? http_writeable(pss->c, wsi) : 0;
	case LWS_CALLBACK_HTTP_BODY:
		/* a POST's body, bounded: past the bound it is answered 413 once complete */
		if (pss && pss->c && pss->c->method == M_POST && pss->c->status != 413) {
			struct conn *c = pss->c;
			if (c->req.len + len > HUB_TRIGGER_BODY_MAX) {
				c->status = 413;
				c->req.len = 0;
			} else if (entry_json_append_raw(&c->req, in, len)) {
				c->status = 413;
			}
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss && pss->c && pss->c->method == M_POST) {
			struct conn *c = pss->c;
			if (c->status == 413) {
				char msg[96];
				snprintf(msg, sizeof(msg), "the body is larger than %d bytes",
					 HUB_TRIGGER_BODY_MAX);
				respond_error(c, 413, msg);
			} else if (start_worker(c) == 0) {
				return 0;
			}
			respond_now(c);
		}
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_CLOSED:
		if (pss && pss->c) {
			conn_detach(pss->c);
			pss->c = NULL;
		}
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(s, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return ws_established(s, wsi, pss);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return pss && pss->c ? ws_writeable(pss->c, wsi) : 0;
	case LWS_CALLBACK_RECEIVE:
		return 0; /* clients have nothing to say; what they send is ignored */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
		/* Workers and streams have something to write: ask for writable callbacks. */
		pthread_mutex_lock(&s->lock);
		for (struct conn *c = s->conns; c; c = c->next)
			if (c->want_write && c->wsi) {
				c->want_write = 0;
				lws_callback_on_writable(c->wsi);
			}
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    /* The WebSocket subprotocol the UI offers beside its token (ws_token_ok). */
    {"floe", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* "floe.bearer." + base64url(token) without padding (RFC 4648 §5): a subprotocol is an HTTP
 * token, which a token's own characters need not be. */
static char *token_subprotocol(const char *token)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(token), pre = strlen("floe.bearer.");
	char *out = malloc(pre + (n + 2) / 3 * 4 + 1), *p;
	if (!out)
		return NULL;
	memcpy(out, "floe.bearer.", pre);
	p = out + pre;
	const unsigned char *t = (const unsigned char *)token;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)t[i] << 16 | (i + 1 < n ? (uint32_t)t[i + 1] << 8 : 0) |
			     (i + 2 < n ? t[i + 2] : 0);
		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		if (i + 1 < n)
			*p++ = b64[v >> 6 & 63];
		if (i + 2 < n)
			*p++ = b64[v & 63];
	}
	*p = 0;
	return out;
}

static void *service_thread(void *arg)
{
	struct hub_server *s = arg;
	while (!atomic_load(&s->stop))
		if (lws_service(s->ctx, 0) < 0)
			break;
	return NULL;
}

int hub_server_start(struct agent_api *agents, size_t n, const struct hub_server_opts *opts,
		     struct hub_server **out, char *err, size_t errlen)
{
	struct hub_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/* What the routes ask: each agent through a wrapper that names its entries. */
	s->agents = calloc(n ? n : 1, sizeof(*s->agents));
	if (!s->agents) {
		free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (agent_api_name_wrap(agents[i], i, &s->agents[i])) {
			for (size_t k = 0; k < i; k++)
				s->agents[k].ops->destroy(s->agents[k].self);
			free(s->agents);
			free(s);
			return -ENOMEM;
		}
	}
	s->n = n;
	s->opts = *opts;
	s->host = strdup(opts->host ? opts->host : "127.0.0.1");
	s->token = opts->token && *opts->token ? strdup(opts->token) : NULL;
	if (s->token)
		s->token_proto = token_subprotocol(s->token);
	s->spool_dir = opts->spool_dir ? strdup(opts->spool_dir) : NULL;
	s->ui_dir = opts->ui_dir ? strdup(opts->ui_dir) : NULL;
	if (!s->opts.ws_queue)
		s->opts.ws_queue = 4096;
	if (!s->opts.live_hold_ns)
		s->opts.live_hold_ns = 200000000;
	if (!s->opts.max_limit)
		s->opts.max_limit = 10000;
	if (!s->opts.max_workers)
		s->opts.max_workers = 64;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	int trc = hub_triggers_new(agents, n, opts->state_dir, opts->trigger_sync_ms, &s->triggers,
				   err, errlen);
	if (trc) {
		hub_server_stop(s);
		return trc;
	}

	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = opts->port;
	info.iface = s->host;
	info.protocols = protocols;
	info.user = s;
	info.max_http_header_data = ARG_MAX_LEN + 16384; /* a short: at most 65535 */
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!strchr(s->host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	s->ctx = lws_create_context(&info);
	struct lws_vhost *vh = s->ctx ? lws_get_vhost_by_name(s->ctx, "default") : NULL;
	s->port = vh ? lws_get_vhost_listen_port(vh) : -1;
	if (!s->ctx || s->port <= 0) {
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address here)",
			 s->host, opts->port);
		if (s->ctx)
			lws_context_destroy(s->ctx);
		s->ctx = NULL;
		hub_server_stop(s);
		return -EADDRNOTAVAIL;
	}
	if (opts->front_port > 0 && opts->front_port != s->port) {
		/* The UI's port: a second vhost on the same context and protocols, so it serves
		 * the same routes (the page's API calls go to its own origin). */
		info.port = opts->front_port;
		info.vhost_name = "front";
		struct lws_vhost *fv = lws_create_vhost(s->ctx, &info);
		s->front_port = fv ? lws_get_vhost_listen_port(fv) : 0;
		if (s->front_port < 0)
			s->front_port = 0;
	}
	if (pthread_create(&s->service, NULL, service_thread, s)) {
		snprintf(err, errlen, "cannot start the service thread");
		lws_context_destroy(s->ctx);
		s->ctx = NULL;
		hub_server_stop(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

int hub_server_port(const struct hub_server *s)
{
	return s->port;
}

int hub_server_front_port(const struct hub_server *s)
{
	return s->front_port;
}

void hub_server_stop(struct hub_server *s)
{
	if (!s)
		return;
	if (s->ctx) {
		atomic_store(&s->stop, 1);
		lws_cancel_service(s->ctx);
		pthread_join(s->service, NULL);
		pthread_mutex_lock(&s->lock);
		s->ctx_closed = 1;
		pthread_mutex_unlock(&s->lock);
		/* Closes every connection: their streams are told to stop. */
		lws_context_destroy(s->ctx);
		s->ctx = NULL;
	}
	pthread_mutex_lock(&s->lock);
	while (s->workers)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	hub_triggers_free(s->triggers);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	for (size_t i = 0; i < s->n; i++)
		s->agents[i].ops->destroy(s->agents[i].self);
	free(s->agents);
	free(s->host);
	free(s->token);
	free(s->token_proto);
	free(s->spool_dir);
	free(s->ui_dir);
	free(s);
}
