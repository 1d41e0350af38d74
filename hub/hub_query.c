/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_query.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hub_order_cmp(int64_t ats, const char *aid, int64_t bts, const char *bid)
{
	if (ats != bts)
		return ats < bts ? -1 : 1;
	int c = strcmp(aid ? aid : "", bid ? bid : "");
	return c < 0 ? -1 : c > 0;
}

int hub_entries_add(struct hub_entries *out, const struct agent_entry *e, size_t agent)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 64;
		struct hub_entry *v = realloc(out->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->v = v;
		out->cap = cap;
	}
	struct hub_entry *h = &out->v[out->n];
	size_t len = e->json_len;
	/* One trailing newline, as a line-oriented producer may leave, is not part of the value. */
	while (len && (e->json[len - 1] == '\n' || e->json[len - 1] == '\r'))
		len--;
	h->id = strdup(e->id ? e->id : "");
	h->json = malloc(len + 1);
	if (!h->id || !h->json) {
		free(h->id);
		free(h->json);
		return -ENOMEM;
	}
	memcpy(h->json, e->json, len);
	h->json[len] = 0;
	h->json_len = len;
	h->ts_ns = e->ts_ns;
	h->agent = agent;
	out->n++;
	return 0;
}

void hub_entries_free(struct hub_entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].id);
		free(e->v[i].json);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

void hub_errors_free(struct hub_errors *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static int entry_cmp(const void *a, const void *b)
{
	const struct hub_entry *x = a, *y = b;
	return hub_order_cmp(x->ts_ns, x->id, y->ts_ns, y->id);
}

void hub_entries_sort(struct hub_entries *e)
{
	if (e->n > 1)
		qsort(e->v, e->n, sizeof(e->v[0]), entry_cmp);
}

struct fan_run {
	void (*fn)(size_t i, void *arg);
	void *arg;
	size_t i;
	pthread_t th;
	int started;
};

static void *fan_thread(void *arg)
{
	struct fan_run *r = arg;
	r->fn(r->i, r->arg);
	return NULL;
}

void hub_fanout(size_t n, void (*fn)(size_t i, void *arg), void *arg)
{
	struct fan_run *runs = calloc(n ? n : 1, sizeof(*runs));
	for (size_t i = 0; i < n; i++) {
		/* The last one runs here: one agent (the common local case) needs no thread, and
		 * without memory for the bookkeeping every call runs here, one after the other. */
		if (runs && i + 1 < n) {
			runs[i] = (struct fan_run){.fn = fn, .arg = arg, .i = i};
			if (pthread_create(&runs[i].th, NULL, fan_thread, &runs[i]) == 0) {
				runs[i].started = 1;
				continue;
			}
		}
		fn(i, arg);
	}
	for (size_t i = 0; runs && i < n; i++)
		if (runs[i].started)
			pthread_join(runs[i].th, NULL);
	free(runs);
}

struct fan_part {
	struct hub_entries got;
	int rc;
	char err[256];
};

struct fan_query {
	struct agent_api *agents;
	const struct agent_query *q;
	struct fan_part *parts;
};

struct collect {
	struct hub_entries *got;
	size_t agent;
};

static int collect_one(const struct agent_entry *e, void *arg)
{
	struct collect *c = arg;
	return hub_entries_add(c->got, e, c->agent) ? -1 : 0;
}

static void query_one(size_t i, void *arg)
{
	struct fan_query *f = arg;
	struct fan_part *p = &f->parts[i];
	struct collect c = {.got = &p->got, .agent = i};
	p->err[0] = 0;
	p->rc = f->agents[i].ops->query(f->agents[i].self, f->q, collect_one, &c, p->err,
					sizeof(p->err));
}

int hub_query_entries(struct agent_api *agents, size_t n, const struct agent_query *q,
		      struct hub_entries *out, struct hub_errors *errs)
{
	memset(out, 0, sizeof(*out));
	memset(errs, 0, sizeof(*errs));
	struct fan_part *parts = calloc(n ? n : 1, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	struct fan_query fq = {.agents = agents, .q = q, .parts = parts};
	hub_fanout(n, query_one, &fq);
	int rc = 0;
	size_t total = 0, nerr = 0;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].rc)
			nerr++;
		else
			total += parts[i].got.n;
	}
	if (nerr) {
		errs->v = calloc(nerr, sizeof(*errs->v));
		if (!errs->v)
			rc = -ENOMEM;
	}
	if (!rc && total) {
		out->v = malloc(total * sizeof(*out->v));
		if (!out->v)
			rc = -ENOMEM;
		else
			out->cap = total;
	}
	for (size_t i = 0; i < n; i++) {
		struct fan_part *p = &parts[i];
		if (!rc && p->rc) {
			struct hub_agent_error *e = &errs->v[errs->n++];
			e->agent = i;
			e->code = p->rc;
			snprintf(e->msg, sizeof(e->msg), "%s",
				 p->err[0] ? p->err : strerror(-p->rc));
		}
		if (!rc && !p->rc && p->got.n) {
			memcpy(out->v + out->n, p->got.v, p->got.n * sizeof(*p->got.v));
			out->n += p->got.n;
			free(p->got.v);
		} else {
			hub_entries_free(&p->got);
		}
	}
	free(parts);
	if (rc) {
		hub_entries_free(out);
		hub_errors_free(errs);
		return rc;
	}
	hub_entries_sort(out);
	if (q->limit && out->n > q->limit) {
		for (size_t i = q->limit; i < out->n; i++) {
			free(out->v[i].id);
			free(out->v[i].json);
		}
		out->n = q->limit;
	}
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* n digits at s as a number; -1 when they are not all digits. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int hub_parse_time(const char *s, int64_t *out, char *err, size_t errlen)
{
	if (all_digits(s)) {
		if (strlen(s) > 19) {
			snprintf(err, errlen, "'%s': Unix nanoseconds past 2262", s);
			return -EINVAL;
		}
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno) {
			snprintf(err, errlen, "'%s': Unix nanoseconds past 2262", s);
			return -EINVAL;
		}
		*out = v;
		return 0;
	}
	/* RFC 3339: YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM). */
	size_t len = strlen(s);
	int y, mo, d, h, mi, sec;
	if (len < 20 || (y = digits(s, 4)) < 0 || s[4] != '-' || (mo = digits(s + 5, 2)) < 0 ||
	    s[7] != '-' || (d = digits(s + 8, 2)) < 0 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || (h = digits(s + 11, 2)) < 0 ||
	    s[13] != ':' || (mi = digits(s + 14, 2)) < 0 || s[16] != ':' ||
	    (sec = digits(s + 17, 2)) < 0)
		goto bad;
	if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		goto bad;
	const char *p = s + 19;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int nd = 0;
		int64_t scale = 100000000;
		while (*p >= '0' && *p <= '9') {
			if (nd < 9) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
			nd++;
			p++;
		}
		if (!nd)
			goto bad;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = digits(p + 1, 2), om;
		if (oh < 0 || p[3] != ':' || (om = digits(p + 4, 2)) < 0 || oh > 23 || om > 59)
			goto bad;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		goto bad;
	}
	if (*p)
		goto bad;
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = sec};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		goto bad;
	*out = ((int64_t)t - off) * 1000000000LL + frac;
	return 0;
bad:
	snprintf(err, errlen,
		 "'%s' is not a time: RFC 3339 (2026-12-06T16:46:30.5Z) or Unix nanoseconds", s);
	return -EINVAL;
}

int hub_cursor_encode(int64_t ts_ns, const char *id, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(out, outlen, "%lld.", (long long)ts_ns);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	size_t pos = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (pos + 2 >= outlen)
			return -ENOSPC;
		out[pos++] = hex[*p >> 4];
		out[pos++] = hex[*p & 15];
	}
	out[pos] = 0;
	return (int)pos;
}

/* Cursors are only ever what hub_cursor_encode() wrote: lower-case hex. */
static int hexval(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p = c ? strchr(digits, c) : NULL;
	return p ? (int)(p - digits) : -1;
}

int hub_cursor_decode(const char *s, int64_t *ts, char **id)
{
	const char *dot = strchr(s, '.');
	if (!dot || dot == s || dot - s > 19)
		return -EINVAL;
	long long v = 0;
	for (const char *p = s; p < dot; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (INT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	size_t hl = strlen(dot + 1);
	if (hl == 0 || hl % 2)
		return -EINVAL;
	char *o = malloc(hl / 2 + 1);
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < hl / 2; i++) {
		int a = hexval(dot[1 + 2 * i]), b = hexval(dot[2 + 2 * i]);
		if (a < 0 || b < 0 || (a == 0 && b == 0)) {
			free(o);
			return -EINVAL;
		}
		o[i] = (char)(a << 4 | b);
	}
	o[hl / 2] = 0;
	*ts = v;
	*id = o;
	return 0;
}

int hub_error_column(const char *msg)
{
	static const char *const prefixes[] = {"column ", "position "};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t l = strlen(prefixes[i]);
		if (strncmp(msg, prefixes[i], l) == 0) {
			int c = 0;
			const char *p = msg + l;
			while (*p >= '0' && *p <= '9' && c < 1000000)
				c = c * 10 + (*p++ - '0');
			return *p == ':' ? c : 0;
		}
	}
	return 0;
}
