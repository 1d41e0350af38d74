// SPDX-License-Identifier: Apache-2.0
/* The frames and messages between floe and a script's runner (script_proto.h). */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "script/script_proto.h"

static const char *const type_names[] = {
    [SCRIPT_MSG_READY] = "ready",	[SCRIPT_MSG_LOG] = "log",
    [SCRIPT_MSG_WEBHOOK] = "webhook",	[SCRIPT_MSG_METRIC] = "metric",
    [SCRIPT_MSG_SNAPSHOT] = "snapshot", [SCRIPT_MSG_DONE] = "done",
    [SCRIPT_MSG_ERROR] = "error",
};

bool script_metric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SCRIPT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* A member that must be a string when present; *out NULL when absent (and allowed). */
static int str_member(json_t *o, const char *key, bool required, const char **out, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || (json_is_null(v) && !required)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "missing \"%s\"", key);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "\"%s\" is not a string", key);
		return -EINVAL;
	}
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v)) {
		snprintf(err, errlen, "\"%s\" holds a NUL character", key);
		return -EINVAL;
	}
	return 0;
}

static int num_member(json_t *o, const char *key, double lo, double hi, double *out, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v)) {
		snprintf(err, errlen, "\"%s\" is not a number", key);
		return -EINVAL;
	}
	*out = json_number_value(v);
	if (!isfinite(*out) || *out < lo || *out > hi) {
		snprintf(err, errlen, "\"%s\" out of range", key);
		return -EINVAL;
	}
	return 0;
}

static int parse_ready(struct script_msg *m, char *err, size_t errlen)
{
	json_t *jobs = json_object_get(m->root, "jobs");
	json_t *job;
	size_t i;
	int ret = str_member(m->root, "filter", false, &m->filter, err, errlen);

	if (ret)
		return ret;
	m->on_entry = json_is_true(json_object_get(m->root, "onEntry"));
	m->on_packet = json_is_true(json_object_get(m->root, "onPacket"));
	if (!jobs)
		return 0;
	if (!json_is_array(jobs) || json_array_size(jobs) > SCRIPT_JOBS_MAX) {
		snprintf(err, errlen, "\"jobs\": expected an array of at most %d", SCRIPT_JOBS_MAX);
		return -EINVAL;
	}
	json_array_foreach(jobs, i, job)
	{
		const char *name;
		double every;

		if (!json_is_object(job)) {
			snprintf(err, errlen, "job %zu is not an object", i);
			return -EINVAL;
		}
		ret = str_member(job, "name", true, &name, err, errlen);
		if (!ret && (strlen(name) == 0 || strlen(name) >= SCRIPT_NAME_MAX)) {
			snprintf(err, errlen, "job %zu: name of 1..%d characters", i,
				 SCRIPT_NAME_MAX - 1);
			ret = -EINVAL;
		}
		if (!ret)
			ret = num_member(job, "every_ms", 10, 86400000, &every, err, errlen);
		if (ret)
			return ret;
		snprintf(m->jobs[i].name, sizeof(m->jobs[i].name), "%s", name);
		m->jobs[i].every_ms = (uint64_t)every;
	}
	m->n_jobs = json_array_size(jobs);
	return 0;
}

static int parse_metric(struct script_msg *m, char *err, size_t errlen)
{
	int ret = str_member(m->root, "name", true, &m->name, err, errlen);
	const char *k;
	json_t *v;

	if (!ret && !script_metric_name_ok(m->name)) {
		snprintf(err, errlen, "metric name '%.*s' is not [a-zA-Z_:][a-zA-Z0-9_:]*",
			 SCRIPT_NAME_MAX, m->name);
		ret = -EINVAL;
	}
	if (!ret)
		ret = num_member(m->root, "value", -INFINITY, INFINITY, &m->value, err, errlen);
	if (ret)
		return ret;
	m->labels = json_object_get(m->root, "labels");
	if (!m->labels || json_is_null(m->labels)) {
		m->labels = NULL;
		return 0;
	}
	if (!json_is_object(m->labels) || json_object_size(m->labels) > SCRIPT_LABELS_MAX) {
		snprintf(err, errlen, "labels: expected an object of at most %d strings",
			 SCRIPT_LABELS_MAX);
		return -EINVAL;
	}
	json_object_foreach(m->labels, k, v)
	{
		const char *s;

		if (!script_metric_name_ok(k) || strchr(k, ':')) {
			snprintf(err, errlen, "label name '%.*s' is not [a-zA-Z_][a-zA-Z0-9_]*",
				 SCRIPT_NAME_MAX, k);
			return -EINVAL;
		}
		ret = str_member(m->labels, k, true, &s, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int script_msg_parse(const char *buf, size_t len, struct script_msg *out, char *err, size_t errlen)
{
	json_error_t je;
	const char *t;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	out->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!out->root) {
		snprintf(err, errlen, "bad JSON at %d: %s", je.position, je.text);
		return -EINVAL;
	}
	if (!json_is_object(out->root)) {
		snprintf(err, errlen, "not a JSON object");
		ret = -EINVAL;
		goto bad;
	}
	ret = str_member(out->root, "t", true, &t, err, errlen);
	if (ret)
		goto bad;
	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (!strcmp(t, type_names[i]))
			break;
	if (i == sizeof(type_names) / sizeof(type_names[0])) {
		snprintf(err, errlen, "unknown message type '%.32s'", t);
		ret = -EINVAL;
		goto bad;
	}
	out->type = (enum script_msg_type)i;
	switch (out->type) {
	case SCRIPT_MSG_READY:
		ret = parse_ready(out, err, errlen);
		break;
	case SCRIPT_MSG_LOG:
		ret = str_member(out->root, "text", true, &out->text, err, errlen);
		break;
	case SCRIPT_MSG_WEBHOOK:
		ret = str_member(out->root, "url", true, &out->url, err, errlen);
		if (!ret)
			ret = str_member(out->root, "body", true, &out->body, err, errlen);
		if (!ret && strncmp(out->url, "http://", 7) && strncmp(out->url, "https://", 8)) {
			snprintf(err, errlen, "webhook: the URL must be http:// or https://");
			ret = -EINVAL;
		}
		break;
	case SCRIPT_MSG_METRIC:
		ret = parse_metric(out, err, errlen);
		break;
	case SCRIPT_MSG_SNAPSHOT:
		ret = str_member(out->root, "query", true, &out->query, err, errlen);
		if (!ret)
			ret = num_member(out->root, "before", 0, 3600, &out->before, err, errlen);
		if (!ret)
			ret = num_member(out->root, "after", 0, 3600, &out->after, err, errlen);
		break;
	case SCRIPT_MSG_DONE:
		break;
	case SCRIPT_MSG_ERROR: {
		json_t *line = json_object_get(out->root, "line");

		ret = str_member(out->root, "error", true, &out->text, err, errlen);
		if (!ret && json_is_integer(line) && json_integer_value(line) > 0)
			out->line = json_integer_value(line);
		break;
	}
	}
	if (ret == 0)
		return 0;
bad:
	json_decref(out->root);
	out->root = NULL;
	return ret;
}

void script_msg_free(struct script_msg *m)
{
	json_decref(m->root);
	m->root = NULL;
}

int script_frame_write(int fd, const char *head, const char *buf, size_t len, const char *tail)
{
	size_t hl = head ? strlen(head) : 0, tl = tail ? strlen(tail) : 0;
	size_t total = hl + len + tl;
	unsigned char hdr[4];
	struct iovec iov[4];
	int n = 0;

	if (total > SCRIPT_FRAME_MAX)
		return -EMSGSIZE;
	hdr[0] = (unsigned char)(total >> 24);
	hdr[1] = (unsigned char)(total >> 16);
	hdr[2] = (unsigned char)(total >> 8);
	hdr[3] = (unsigned char)total;
	iov[n++] = (struct iovec){hdr, 4};
	if (hl)
		iov[n++] = (struct iovec){(void *)head, hl};
	if (len)
		iov[n++] = (struct iovec){(void *)buf, len};
	if (tl)
		iov[n++] = (struct iovec){(void *)tail, tl};
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECONNRESET ? -EPIPE : -errno;
		}
		/* skip what was written */
		while (n > 0 && (size_t)w >= iov[0].iov_len) {
			w -= (ssize_t)iov[0].iov_len;
			memmove(iov, iov + 1, sizeof(iov[0]) * (size_t)--n);
		}
		if (n > 0) {
			iov[0].iov_base = (char *)iov[0].iov_base + w;
			iov[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly len bytes by the deadline (ms on CLOCK_MONOTONIC; < 0: none). */
static int read_full(int fd, void *p, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait = -1, r;
		ssize_t n;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait = (int)left;
		}
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(fd, (char *)p + got, len - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

int script_frame_read(int fd, int timeout_ms, char **buf, size_t *len)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	unsigned char hdr[4];
	uint32_t n;
	char *p;
	int ret = read_full(fd, hdr, 4, deadline);

	*buf = NULL;
	*len = 0;
	if (ret)
		return ret;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > SCRIPT_FRAME_MAX)
		return -EMSGSIZE;
	p = malloc((size_t)n + 1);
	if (!p)
		return -ENOMEM;
	ret = read_full(fd, p, n, deadline);
	if (ret) {
		free(p);
		return ret;
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}
