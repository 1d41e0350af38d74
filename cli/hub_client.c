// SPDX-License-Identifier: Apache-2.0
#include "hub_client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "client/curl_dl.h"

#define HUB_DEFAULT "http://127.0.0.1:8898"

/* "http://host:port" (or ws://, no path) into host and port. */
static int hub_split(const char *hub, char *host, size_t hostlen, int *port, char *err,
		     size_t errlen)
{
	const char *p = hub, *colon;
	size_t n;

	if (!strncmp(p, "http://", 7) || !strncmp(p, "ws://", 5))
		p = strchr(p, '/') + 2;
	else if (strstr(p, "://")) {
		snprintf(err, errlen, "--hub %s: only http:// (or ws://) hubs are supported", hub);
		return -EINVAL;
	}
	colon = strrchr(p, ':');
	n = colon ? (size_t)(colon - p) : strcspn(p, "/");
	if (!n || n >= hostlen) {
		snprintf(err, errlen, "--hub %s: expected http://HOST:PORT", hub);
		return -EINVAL;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	*port = colon ? atoi(colon + 1) : 80;
	if (*port <= 0 || *port > 65535) {
		snprintf(err, errlen, "--hub %s: bad port", hub);
		return -EINVAL;
	}
	return 0;
}

/* s with every byte but RFC 3986's unreserved ones percent-encoded, as curl_easy_escape does
 * (done here so that `floe stream` never loads libcurl); malloc'ed. */
static char *percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* path?q=..&since=..&until=.. with every value percent-encoded; malloc'ed. */
static char *hub_path(const char *route, const struct hub_request *r)
{
	const char *names[] = {"q", "since", "until"};
	const char *vals[] = {r->query, r->since, r->until};
	size_t cap = strlen(route) + 1;
	char *out, *enc[3] = {NULL, NULL, NULL};
	int first = 1;

	for (int i = 0; i < 3; i++) {
		if (vals[i] && *vals[i]) {
			enc[i] = percent_encode(vals[i]);
			if (!enc[i])
				goto fail;
			cap += strlen(enc[i]) + 8;
		}
	}
	out = malloc(cap);
	if (!out)
		goto fail;
	strcpy(out, route);
	for (int i = 0; i < 3; i++) {
		if (!enc[i])
			continue;
		strcat(out, first ? "?" : "&");
		strcat(out, names[i]);
		strcat(out, "=");
		strcat(out, enc[i]);
		first = 0;
		free(enc[i]);
	}
	return out;
fail:
	for (int i = 0; i < 3; i++)
		free(enc[i]);
	return NULL;
}

/* ---------------------------------------------------------------- PCAP export (libcurl) */

struct pcap_dl {
	const struct curl_dl *cu;
	CURL *c;
	int fd;
	long status;
	char errbody[1024];
	size_t errlen;
	int write_errno;
};

static size_t pcap_dl_write(char *p, size_t size, size_t n, void *arg)
{
	struct pcap_dl *d = arg;
	size_t len = size * n, off = 0;

	if (!d->status)
		curl_dl_info_long(d->cu, d->c, CURLINFO_RESPONSE_CODE, &d->status);
	if (d->status != 200) { /* the hub's error, kept for the message */
		size_t k = sizeof(d->errbody) - 1 - d->errlen;

		k = len < k ? len : k;
		memcpy(d->errbody + d->errlen, p, k);
		d->errlen += k;
		d->errbody[d->errlen] = '\0';
		return len;
	}
	while (off < len) {
		ssize_t w = write(d->fd, p + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			d->write_errno = errno;
			return 0; /* curl stops: CURLE_WRITE_ERROR */
		}
		off += (size_t)w;
	}
	return len;
}

/* The message of a hub's {"error": ...} body, else the body itself. */
static void hub_error_text(const char *body, long status, char *err, size_t errlen)
{
	json_t *o = json_loads(body, 0, NULL);
	const char *msg = json_string_value(json_object_get(o, "error"));

	snprintf(err, errlen, "the hub answered %ld: %s", status, msg ? msg : body);
	json_decref(o);
}

int hub_pcap_export(const struct hub_request *r, const char *out, int replace, char *err,
		    size_t errlen)
{
	struct pcap_dl d = {.fd = -1};
	char *path = NULL, *url = NULL;
	const char *hub = r->hub ? r->hub : HUB_DEFAULT;
	struct curl_slist *hdrs = NULL;
	int created = 0, ret = 0;
	CURLcode cc;

	d.cu = curl_dl_get(err, errlen);
	if (!d.cu)
		return -ENOTSUP;
	d.c = d.cu->easy_init();
	if (!d.c || !(path = hub_path("/api/v1/pcap", r)) ||
	    asprintf(&url, "%s%s", hub, path) < 0) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		url = NULL;
		goto out;
	}
	if (!strcmp(out, "-")) {
		d.fd = STDOUT_FILENO;
	} else {
		/* Never through a planted symlink; an existing file only when asked. */
		d.fd = open(
		    out, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL),
		    0600);
		if (d.fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s%s", out, strerror(errno),
				 errno == EEXIST ? " (give --force to replace it)" : "");
			goto out;
		}
		created = 1;
	}
	if (r->token && *r->token) {
		char h[1024];

		snprintf(h, sizeof(h), "Authorization: Bearer %s", r->token);
		hdrs = d.cu->slist_append(NULL, h);
	}
	curl_dl_set_ptr(d.cu, d.c, CURLOPT_URL, url);
	curl_dl_set_ptr(d.cu, d.c, CURLOPT_HTTPHEADER, hdrs);
	curl_dl_set_write(d.cu, d.c, pcap_dl_write);
	curl_dl_set_ptr(d.cu, d.c, CURLOPT_WRITEDATA, &d);
	curl_dl_set_long(d.cu, d.c, CURLOPT_NOSIGNAL, 1L);
	cc = d.cu->easy_perform(d.c);
	if (!d.status)
		curl_dl_info_long(d.cu, d.c, CURLINFO_RESPONSE_CODE, &d.status);
	if (d.write_errno) {
		ret = -d.write_errno;
		snprintf(err, errlen, "%s: %s", out, strerror(d.write_errno));
	} else if (cc != CURLE_OK) {
		ret = -EIO;
		snprintf(err, errlen, "%s: %s", hub, d.cu->easy_strerror(cc));
	} else if (d.status != 200) {
		ret = d.status == 400 ? -EINVAL : -EIO;
		hub_error_text(d.errbody, d.status, err, errlen);
	}
out:
	if (d.fd >= 0 && d.fd != STDOUT_FILENO && close(d.fd) && !ret) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
	}
	if (ret && created)
		unlink(out); /* nothing half-written is left behind */
	d.cu->slist_free_all(hdrs);
	free(url);
	free(path);
	if (d.c)
		d.cu->easy_cleanup(d.c);
	curl_dl_put(d.cu);
	return ret;
}

/* ---------------------------------------------------------------- stream (libwebsockets) */

enum { STREAM_BATCH = 512, STREAM_BATCH_MS = 50 };

struct stream_state {
	const char *token;
	char *msg; /* the message being reassembled from fragments */
	size_t len, cap;
	int done, failed;
	char err[512];
	unsigned long long entries, lost;
};

static volatile sig_atomic_t stream_stop;

static void on_stream_signal(int sig)
{
	(void)sig;
	stream_stop = 1;
}

/* One stream message: an entry goes to stdout as one line; the rest are said on stderr. */
static void stream_one(struct stream_state *s, const json_t *o)
{
	const char *type = json_string_value(json_object_get(o, "type"));

	if (type && !strcmp(type, "entry")) {
		char *line =
		    json_dumps(json_object_get(o, "entry"), JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (line && puts(line) == EOF)
			s->done = 1; /* the reader went away (floe stream | head) */
		free(line);
		s->entries++;
	} else if (type && !strcmp(type, "lost")) {
		json_int_t n = json_integer_value(json_object_get(o, "lost"));

		s->lost += (unsigned long long)n;
		fprintf(stderr, "floe stream: %lld entries lost (this client was slow)\n",
			(long long)n);
	} else if (type && !strcmp(type, "live")) {
		fprintf(stderr, "floe stream: history done; live entries follow\n");
	} else if (type && !strcmp(type, "agent")) {
		fprintf(stderr, "floe stream: agent %s: %s\n",
			json_string_value(json_object_get(o, "agent")) ?: "?",
			json_string_value(json_object_get(o, "error")) ?: "?");
	}
}

/* One whole WebSocket message: a batch (an array, as asked for) or a single message from
 * a hub that predates batches. Flushed once per WebSocket message, not once per entry. */
static void stream_message(struct stream_state *s)
{
	json_t *o = json_loadb(s->msg, s->len, JSON_ALLOW_NUL, NULL);
	size_t i;
	json_t *m;

	if (json_is_array(o)) {
		json_array_foreach(o, i, m)
		{
			if (s->done)
				break;
			stream_one(s, m);
		}
	} else {
		stream_one(s, o);
	}
	if (fflush(stdout) == EOF)
		s->done = 1;
	json_decref(o);
}

static int stream_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct stream_state *s = lws_context_user(lws_get_context(wsi));

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (s->token && *s->token) {
			unsigned char **p = in, *end = *p + len;
			char v[1024];

			snprintf(v, sizeof(v), "Bearer %s", s->token);
			if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
							 (unsigned char *)v, (int)strlen(v), p,
							 end))
				return -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (s->len + len + 1 > s->cap) {
			size_t cap = (s->len + len + 1) * 2;
			char *m = realloc(s->msg, cap);

			if (!m)
				return -1;
			s->msg = m;
			s->cap = cap;
		}
		memcpy(s->msg + s->len, in, len);
		s->len += len;
		if (lws_is_final_fragment(wsi)) {
			stream_message(s);
			s->len = 0;
		}
		if (s->done)
			return -1;
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* in: 2 bytes of close code, then the reason (a bad query's message). */
		if (len >= 2) {
			unsigned code = ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1];

			if (code != 1000) {
				snprintf(s->err, sizeof(s->err),
					 "the hub closed the stream (%u): %.*s", code,
					 (int)(len - 2), (char *)in + 2);
				s->failed = 1;
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(s->err, sizeof(s->err), "cannot open the stream: %s",
			 in ? (char *)in : "connection failed");
		s->failed = 1;
		s->done = 1;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		s->done = 1;
		break;
	default:
		break;
	}
	return 0;
}

static void stream_usage(FILE *out)
{
	fputs("Usage: floe stream [--hub URL] [-q KFL] [--since TIME] [--token TOKEN]\n"
	      "Entries from a hub (floe-hub), one JSON object a line: the history that matches,\n"
	      "then live entries as the agents complete them, until Ctrl-C (docs/hub.md).\n"
	      "  --hub URL        the hub (default " HUB_DEFAULT ")\n"
	      "  -q, --query KFL  only matching entries (docs/kfl.md)\n"
	      "      --since T    history from T (RFC 3339 or Unix ns; default: all)\n"
	      "      --token T    the hub's token (default $FLOE_HUB_TOKEN)\n",
	      out);
}

int hub_stream_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"hub", required_argument, NULL, 'H'},   {"query", required_argument, NULL, 'q'},
	    {"since", required_argument, NULL, 'S'}, {"token", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	static const struct lws_protocols protocols[] = {
	    {"floe-stream", stream_cb, 0, 65536, 0, NULL, 0},
	    {NULL, NULL, 0, 0, 0, NULL, 0},
	};
	struct hub_request r = {.hub = HUB_DEFAULT, .token = getenv("FLOE_HUB_TOKEN")};
	struct stream_state s = {0};
	struct lws_context_creation_info ci;
	struct lws_client_connect_info cc;
	struct lws_context *ctx;
	char host[256], err[512], *path, *batched = NULL;
	int port, opt;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":q:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			r.hub = optarg;
			break;
		case 'q':
			r.query = optarg;
			break;
		case 'S':
			r.since = optarg;
			break;
		case 't':
			r.token = optarg;
			break;
		case 'h':
			stream_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "floe stream: %s '%s'\n",
				opt == ':' ? "option needs a value:" : "unknown flag",
				argv[optind - 1]);
			stream_usage(stderr);
			return 2;
		}
	}
	if (optind < argc || hub_split(r.hub, host, sizeof(host), &port, err, sizeof(err))) {
		fprintf(stderr, "floe stream: %s\n", optind < argc ? "unexpected argument" : err);
		return 2;
	}
	path = hub_path("/api/v1/stream", &r);
	/* Batches: one WebSocket message (and one flush) per up to STREAM_BATCH entries; a live
	 * entry waits at most STREAM_BATCH_MS for company. Output is still one entry a line. */
	if (path && asprintf(&batched, "%s%cbatch=%d&batch_ms=%d", path,
			     strchr(path, '?') ? '&' : '?', STREAM_BATCH, STREAM_BATCH_MS) < 0)
		batched = NULL;
	free(path);
	path = batched;
	if (!path) {
		fprintf(stderr, "floe stream: out of memory\n");
		return 1;
	}
	s.token = r.token;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&ci, 0, sizeof(ci));
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protocols;
	ci.user = &s;
	ctx = lws_create_context(&ci);
	if (!ctx) {
		fprintf(stderr, "floe stream: cannot start the WebSocket client\n");
		free(path);
		return 1;
	}
	memset(&cc, 0, sizeof(cc));
	cc.context = ctx;
	cc.address = host;
	cc.port = port;
	cc.path = path;
	cc.host = host;
	cc.origin = host;
	cc.ietf_version_or_minus_one = -1;
	signal(SIGINT, on_stream_signal);
	signal(SIGTERM, on_stream_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!lws_client_connect_via_info(&cc)) {
		snprintf(s.err, sizeof(s.err), "cannot connect to %s", r.hub);
		s.failed = 1;
		s.done = 1;
	}
	while (!s.done && !stream_stop)
		if (lws_service(ctx, 200) < 0)
			break;
	lws_context_destroy(ctx);
	free(path);
	free(s.msg);
	fprintf(stderr, "floe stream: %llu entries%s%llu lost\n", s.entries, ", ", s.lost);
	if (s.failed) {
		fprintf(stderr, "floe stream: %s\n", s.err);
		return 1;
	}
	return 0;
}
