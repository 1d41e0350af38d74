// SPDX-License-Identifier: Apache-2.0
#include "entry/entry.h"
#include "protocols/protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>


struct entry *entry_new(void)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->fields = json_object();
	if (!e->fields) {
		free(e);
		return NULL;
	}
	e->protocol = "unknown";
	return e;
}

void entry_free(struct entry *e)
{
	if (!e)
		return;
	json_decref(e->fields);
	free(e);
}

const char *entry_missing_str(enum entry_missing m)
{
	switch (m) {
	case ENTRY_COMPLETE:
		return "none";
	case ENTRY_MISSING_RESPONSE:
	case ENTRY_INCOMPLETE_RESPONSE:
		return "response";
	case ENTRY_MISSING_REQUEST:
	case ENTRY_INCOMPLETE_REQUEST:
		return "request";
	}
	return "?";
}

bool entry_is_partial(enum entry_missing m)
{
	return m == ENTRY_INCOMPLETE_RESPONSE || m == ENTRY_INCOMPLETE_REQUEST;
}

const char *entry_missing_reason_str(enum entry_missing_reason r)
{
	switch (r) {
	case ENTRY_REASON_NONE:
		return "none";
	case ENTRY_REASON_GAP:
		return "capture_gap";
	case ENTRY_REASON_RESET:
		return "connection_reset";
	case ENTRY_REASON_CLOSED:
		return "connection_closed";
	case ENTRY_REASON_TIMEOUT:
		return "timeout";
	case ENTRY_REASON_END_OF_INPUT:
		return "end_of_capture";
	case ENTRY_REASON_STREAM_RESET:
		return "stream_reset";
	case ENTRY_REASON_PARSE_ERROR:
		return "parse_error";
	case ENTRY_REASON_TOO_MANY_PENDING:
		return "too_many_pending";
	}
	return "?";
}

void entry_format_time(uint64_t ts_ns, char out[64])
{
	time_t s = (time_t)(ts_ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ts_ns % 1000000000ull));
}

static void endpoint_ip(const struct entry_endpoint *ep, char *buf, size_t size)
{
	if (ep->family == AF_INET)
		inet_ntop(AF_INET, ep->addr + 12, buf, size);
	else
		inet_ntop(AF_INET6, ep->addr, buf, size);
}

static json_t *endpoint_json(const struct entry_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];
	json_t *o = json_object();

	if (!o)
		return NULL;
	endpoint_ip(ep, ip, sizeof(ip));
	json_object_set_new(o, "ip", json_string(ip));
	json_object_set_new(o, "port", json_integer(ep->port));
	if (ep->pod[0])
		json_object_set_new(o, "pod", entry_json_text((const uint8_t *)ep->pod,
							      strnlen(ep->pod, sizeof(ep->pod))));
	if (ep->namespace[0])
		json_object_set_new(o, "namespace",
				    entry_json_text((const uint8_t *)ep->namespace,
						    strnlen(ep->namespace, sizeof(ep->namespace))));
	return o;
}

static void set_time(json_t *o, const char *key, uint64_t ts)
{
	char buf[64];

	if (!ts)
		return;
	entry_format_time(ts, buf);
	json_object_set_new(o, key, json_string(buf));
}

json_t *entry_to_json(const struct entry *e)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(e->id));
	json_object_set_new(o, "protocol", json_string(e->protocol));
	json_object_set_new(o, "version", json_string(e->version));
	set_time(o, "request_time", e->request_ts_ns);
	set_time(o, "response_time", e->response_ts_ns);
	if (e->request_ts_ns && e->response_ts_ns && e->response_ts_ns >= e->request_ts_ns)
		json_object_set_new(o, "elapsed_ms",
				    json_real((double)(e->response_ts_ns - e->request_ts_ns) / 1e6));
	json_object_set_new(o, "src", endpoint_json(&e->src));
	json_object_set_new(o, "dst", endpoint_json(&e->dst));
	json_object_set_new(o, "flow_id", json_integer((json_int_t)e->flow_id));
	if (e->stream_id)
		json_object_set_new(o, "stream_id", json_integer(e->stream_id));
	json_object_set_new(o, "request_size", json_integer((json_int_t)e->request_size));
	json_object_set_new(o, "response_size", json_integer((json_int_t)e->response_size));
	if (e->missing != ENTRY_COMPLETE) {
		json_object_set_new(o, entry_is_partial(e->missing) ? "incomplete" : "missing",
				    json_string(entry_missing_str(e->missing)));
		json_object_set_new(o, "missing_reason",
				    json_string(entry_missing_reason_str(e->missing_reason)));
	}
	json_object_foreach(e->fields, k, v)
		json_object_set(o, k, v);
	return o;
}

const char *entry_field_str(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

int entry_format_line(const struct entry *e, char *buf, size_t size)
{
	char t[64], sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], summary[512];
	const struct protocol_desc *pd = protocol_find(e->protocol);
	size_t off = 0;

	/* A protocol the core does not know (a test's toy) gets the HTTP form. */
	if (!pd || !pd->summary)
		pd = protocol_find("http");
	summary[0] = 0;
	/* Room is left for the missing/incomplete note. */
	off = pd->summary(e, summary, sizeof(summary) - 64);
	if (off >= sizeof(summary) - 64)
		off = strlen(summary);
	if (off < sizeof(summary) && e->missing != ENTRY_COMPLETE)
		snprintf(summary + off, sizeof(summary) - off, " [%s %s: %s]",
			 entry_is_partial(e->missing) ? "incomplete" : "missing",
			 entry_missing_str(e->missing),
			 entry_missing_reason_str(e->missing_reason));
	entry_format_time(e->request_ts_ns ? e->request_ts_ns : e->response_ts_ns, t);
	endpoint_ip(&e->src, sip, sizeof(sip));
	endpoint_ip(&e->dst, dip, sizeof(dip));
	return snprintf(buf, size, "%s %s %s%s%s %s%s%s:%u -> %s%s%s:%u%s%s", e->id, t, e->protocol,
			e->version[0] ? "/" : "", e->version, e->src.pod[0] ? e->src.pod : "",
			e->src.pod[0] ? "@" : "",
			sip, e->src.port, e->dst.pod[0] ? e->dst.pod : "",
			e->dst.pod[0] ? "@" : "", dip, e->dst.port, summary[0] ? " " : "", summary);
}

size_t entry_utf8_seq_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t entry_utf8_prefix(const uint8_t *p, size_t n, bool allow_nul)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0, l;
	uint64_t x;

	while (i < n) {
		/* ASCII words: no high bit set, and (unless allowed) no zero byte. */
		while (n - i >= 8) {
			memcpy(&x, p + i, 8);
			if ((x & highs) || (!allow_nul && ((x - ones) & ~x & highs)))
				break;
			i += 8;
		}
		if (i == n)
			break;
		if (p[i] < 0x80) {
			if (!p[i] && !allow_nul)
				break;
			i++;
			continue;
		}
		l = entry_utf8_seq_len(p + i, n - i);
		if (!l)
			break;
		i += l;
	}
	return i;
}

json_t *entry_json_text(const uint8_t *p, size_t n)
{
	size_t i = 0, o = 0, l;
	char *buf;
	json_t *j;

	if (!p)
		n = 0;
	/* Fast path: valid UTF-8 without NUL (jansson keeps NUL via stringn, but it is awkward
	 * for consumers; it is replaced too). */
	i = entry_utf8_prefix(p, n, false);
	/* Checked here: jansson's own UTF-8 check would read the bytes a second time. */
	if (i == n)
		return json_stringn_nocheck((const char *)p, n);
	buf = malloc(n * 3 + 1);
	if (!buf)
		return NULL;
	memcpy(buf, p, i);
	o = i;
	while (i < n) {
		l = entry_utf8_seq_len(p + i, n - i);
		if (!l || !p[i]) {
			memcpy(buf + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, p + i, l);
		o += l;
		i += l;
	}
	j = json_stringn_nocheck(buf, o);
	free(buf);
	return j;
}

int entry_set_text(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	json_t *v = entry_json_text(p, n);

	if (!v || json_object_set_new(obj, key, v))
		return -ENOMEM;
	return 0;
}

json_t *entry_json_base64(const uint8_t *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	char *out = malloc((n + 2) / 3 * 4 + 1);
	json_t *s;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	s = json_stringn_nocheck(out, o);
	free(out);
	return s;
}
