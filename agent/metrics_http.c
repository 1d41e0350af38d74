// SPDX-License-Identifier: Apache-2.0
#include "metrics_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "api/metrics_text.h"
#include "hub_auth.h"
#include "entry/entry_json.h"

struct metrics_http {
	struct agent_api api;
	char *token; /* NULL: none required */
	char host[256];
	int port;
	struct lws_context *ctx;
	pthread_t service;
	atomic_int stop;
	atomic_ullong scrapes; /* floe_agent_metrics_scrapes_total */
};

/* One request's answer, written when the socket allows. */
struct pss {
	struct entry_json_buf body;
	size_t off;
};

static const char content_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* The exposition: the agent's families, then the server's own counter. */
static int render(struct metrics_http *m, struct entry_json_buf *o)
{
	struct agent_info info;
	char err[256], *stats = NULL;
	json_t *j;
	int rc;

	m->api.ops->info(m->api.self, &info);
	rc = m->api.ops->stats(m->api.self, &stats, err, sizeof(err));
	if (rc)
		return rc;
	j = json_loads(stats, 0, NULL);
	free(stats);
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	rc = metrics_agent_stats(o, 1, (const char *const[]){info.name}, (json_t *const[]){j});
	json_decref(j);
	rc |= metrics_family(o, "floe_agent_metrics_scrapes_total", "counter",
			     "Requests for /metrics this agent answered with its metrics.");
	rc |= metrics_sample(o, "floe_agent_metrics_scrapes_total",
			     (const char *const[]){"agent", info.name, NULL},
			     (double)atomic_fetch_add(&m->scrapes, 1) + 1);
	return rc ? -ENOMEM : 0;
}

/* Headers now; the body from HTTP_WRITEABLE. Returns what the callback returns. */
static int respond(struct lws *wsi, struct pss *p, unsigned status, const char *extra_name,
		   const char *extra_value)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *q = start,
					   *end = buf + sizeof(buf) - 1;

	if (lws_add_http_common_headers(wsi, status, content_type, p->body.len, &q, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &q, end))
		return -1;
	if (extra_name && lws_add_http_header_by_name(wsi, (const unsigned char *)extra_name,
						      (const unsigned char *)extra_value,
						      (int)strlen(extra_value), &q, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int text(struct pss *p, const char *s)
{
	p->body.len = 0;
	return entry_json_append_raw(&p->body, s, strlen(s));
}

static int on_http(struct metrics_http *m, struct lws *wsi, struct pss *p, const char *path)
{
	p->body.len = 0;
	p->off = 0;
	if (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) {
		if (text(p, "only GET\n"))
			return -1;
		return respond(wsi, p, 405, "allow:", "GET");
	}
	if (!hub_bearer_ok(wsi, m->token)) {
		if (text(p, "this agent needs its token: Authorization: Bearer TOKEN\n"))
			return -1;
		return respond(wsi, p, 401, "www-authenticate:", "Bearer");
	}
	if (strcmp(path, "/metrics")) {
		if (text(p, "not found: the agent serves /metrics only\n"))
			return -1;
		return respond(wsi, p, 404, NULL, NULL);
	}
	if (render(m, &p->body)) {
		if (text(p, "the agent's statistics are not available\n"))
			return -1;
		return respond(wsi, p, 500, NULL, NULL);
	}
	return respond(wsi, p, 200, NULL, NULL);
}

static int writeable(struct lws *wsi, struct pss *p)
{
	enum { CHUNK = 16384 };
	unsigned char buf[LWS_PRE + CHUNK];
	size_t n = p->body.len - p->off < CHUNK ? p->body.len - p->off : CHUNK;
	int last = p->off + n == p->body.len;

	if (n) {
		memcpy(buf + LWS_PRE, p->body.p + p->off, n);
		if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)n)
			return -1;
		p->off += n;
	}
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	p->body.len = 0;
	p->off = 0;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct metrics_http *m = lws_context_user(lws_get_context(wsi));
	struct pss *p = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return p ? on_http(m, wsi, p, in ? (const char *)in : "/") : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return p ? writeable(wsi, p) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (p) {
			entry_json_buf_free(&p->body);
			p->off = 0;
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *service_thread(void *arg)
{
	struct metrics_http *m = arg;

	while (!atomic_load(&m->stop))
		if (lws_service(m->ctx, 0) < 0)
			break;
	return NULL;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into host (127.0.0.1 when empty) and port. */
static int split_hostport(const char *hp, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(hp, ':');
	const char *h = hp;
	size_t hl;
	char *endp;
	long p;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - hp);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hostlen)
		return -EINVAL;
	p = strtol(colon + 1, &endp, 10);
	if (!colon[1] || *endp || p < 0 || p > 65535)
		return -EINVAL;
	if (hl)
		snprintf(host, hostlen, "%.*s", (int)hl, h);
	else
		snprintf(host, hostlen, "127.0.0.1");
	*port = (int)p;
	return 0;
}

int metrics_http_start(const char *hostport, struct agent_api api, const char *token,
		       struct metrics_http **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct lws_vhost *vh;
	int port;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (split_hostport(hostport, m->host, sizeof(m->host), &port)) {
		snprintf(err, errlen, "expected HOST:PORT");
		free(m);
		return -EINVAL;
	}
	m->api = api;
	if (token && *token && !(m->token = strdup(token))) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = m->host;
	info.protocols = protocols;
	info.user = m;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!strchr(m->host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	m->ctx = lws_create_context(&info);
	vh = m->ctx ? lws_get_vhost_by_name(m->ctx, "default") : NULL;
	m->port = vh ? lws_get_vhost_listen_port(vh) : -1;
	if (!m->ctx || m->port <= 0) {
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address here)",
			 m->host, port);
		if (m->ctx)
			lws_context_destroy(m->ctx);
		free(m->token);
		free(m);
		return -EADDRNOTAVAIL;
	}
	if (pthread_create(&m->service, NULL, service_thread, m)) {
		snprintf(err, errlen, "cannot start the metrics thread");
		lws_context_destroy(m->ctx);
		free(m->token);
		free(m);
		return -EAGAIN;
	}
	*out = m;
	return 0;
}

int metrics_http_port(const struct metrics_http *m)
{
	return m->port;
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, 1);
	lws_cancel_service(m->ctx);
	pthread_join(m->service, NULL);
	lws_context_destroy(m->ctx);
	free(m->token);
	free(m);
}
