// SPDX-License-Identifier: Apache-2.0
#include "entry/entry.h"
#include "entry/entry_json.h"
#include "entry/json_alloc.h"
#include "protocols/protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif


/* One entry per request: its block comes from the small-block cache (json_alloc.h). */
struct entry *entry_new(void)
{
	struct entry *e = json_alloc_zalloc(sizeof(*e));

	if (!e)
		return NULL;
	e->protocol = "unknown";
	return e;
}

void entry_free(struct entry *e)
{
	if (!e)
		return;
	entry_names_unref(e->src.names);
	entry_names_unref(e->dst.names);
	if (e->compact)
		e->compact_ops->free(e->compact);
	json_decref(e->fields);
	json_alloc_free(e);
}

json_t *entry_fields_rw(struct entry *e)
{
	if (!e->fields)
		e->fields = json_object();
	return e->fields;
}

void entry_set_compact(struct entry *e, const struct entry_compact_ops *ops, void *c)
{
	e->compact_ops = ops;
	e->compact = c;
}

/*
 * The tree of the compact part: its own to_tree, or what its writer wrote read back by
 * jansson (then the two cannot disagree: compact parts hold no reals, the only values whose
 * text jansson would not give back as it was).
 */
json_t *entry_fields(const struct entry *ce)
{
	struct entry *e = (struct entry *)ce;
	struct entry_json_buf b = {0};
	json_t *obj = NULL, *v;
	const char *k;

	if (!e->compact)
		return entry_fields_rw(e);
	if (e->compact_ops->to_tree) {
		obj = json_object();
		if (obj && e->compact_ops->to_tree(e->compact, obj)) {
			json_decref(obj);
			obj = NULL;
		}
	} else if (!entry_json_append_raw(&b, "{", 1) &&
		   !e->compact_ops->write_json(e->compact, &b, true) &&
		   !entry_json_append_raw(&b, "}", 1)) {
		obj = json_loadb(b.p, b.len, JSON_ALLOW_NUL, NULL);
	}
	entry_json_buf_free(&b);
	if (!obj)
		return e->fields; /* ENOMEM: the compact part stays, for the writer */
	json_object_foreach(e->fields, k, v)
		json_object_set(obj, k, v);
	json_decref(e->fields);
	e->fields = obj;
	e->compact_ops->free(e->compact);
	e->compact = NULL;
	e->compact_ops = NULL;
	return obj;
}

void entry_field_get(const struct entry *e, const char *const *path, size_t depth,
		     struct entry_value *out)
{
	const json_t *v = e->fields;

	memset(out, 0, sizeof(*out));
	if (!depth || (e->compact && e->compact_ops->get(e->compact, path, depth, out)))
		return;
	for (size_t i = 0; i < depth && v; i++)
		v = json_object_get(v, path[i]);
	if (!v)
		return;
	if (json_is_string(v)) {
		out->type = ENTRY_VALUE_STRING;
		out->s = json_string_value(v);
		out->len = json_string_length(v);
	} else if (json_is_integer(v)) {
		out->type = ENTRY_VALUE_INT;
		out->i = (long long)json_integer_value(v);
	} else {
		out->type = ENTRY_VALUE_OTHER;
	}
}

struct entry_names {
	atomic_uint refs;
	/* all in the same allocation, after the struct */
	const char *pod, *namespace, *service, *node, *dns;
};

struct entry_names *entry_names_new_k8s(const struct entry_names_init *in)
{
	const char *src[5] = {in->pod, in->ns, in->service, in->node, in->dns};
	size_t len[5], total = 0;
	struct entry_names *n;
	const char **dst[5];
	char *text;

	for (int i = 0; i < 5; i++) {
		len[i] = strnlen(src[i] ? src[i] : "", ENTRY_NAME_MAX - 1);
		total += len[i] + 1;
	}
	n = malloc(sizeof(*n) + total);
	if (!n)
		return NULL;
	dst[0] = &n->pod;
	dst[1] = &n->namespace;
	dst[2] = &n->service;
	dst[3] = &n->node;
	dst[4] = &n->dns;
	text = (char *)(n + 1);
	for (int i = 0; i < 5; i++) {
		memcpy(text, src[i] ? src[i] : "", len[i]);
		text[len[i]] = 0;
		*dst[i] = text;
		text += len[i] + 1;
	}
	atomic_init(&n->refs, 1);
	return n;
}

struct entry_names *entry_names_new(const char *pod, const char *ns)
{
	return entry_names_new_k8s(&(struct entry_names_init){.pod = pod, .ns = ns});
}

struct entry_names *entry_names_ref(struct entry_names *n)
{
	if (n)
		atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
	return n;
}

void entry_names_unref(struct entry_names *n)
{
	/* acq_rel: the thread that frees sees every write made before the other drops. */
	if (n && atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1)
		free(n);
}

const char *entry_names_pod(const struct entry_names *n)
{
	return n ? n->pod : "";
}

const char *entry_names_namespace(const struct entry_names *n)
{
	return n ? n->namespace : "";
}

const char *entry_names_service(const struct entry_names *n)
{
	return n ? n->service : "";
}

const char *entry_names_node(const struct entry_names *n)
{
	return n ? n->node : "";
}

const char *entry_names_dns(const struct entry_names *n)
{
	return n ? n->dns : "";
}

struct entry_names *entry_names_with_dns(const struct entry_names *n, const char *dns)
{
	return entry_names_new_k8s(&(struct entry_names_init){
	    .pod = entry_names_pod(n),
	    .ns = entry_names_namespace(n),
	    .service = entry_names_service(n),
	    .node = entry_names_node(n),
	    .dns = dns});
}

bool entry_names_equal(const struct entry_names *a, const struct entry_names *b)
{
	return !strcmp(entry_names_pod(a), entry_names_pod(b)) &&
	       !strcmp(entry_names_namespace(a), entry_names_namespace(b)) &&
	       !strcmp(entry_names_service(a), entry_names_service(b)) &&
	       !strcmp(entry_names_node(a), entry_names_node(b)) &&
	       !strcmp(entry_names_dns(a), entry_names_dns(b));
}

/* The endpoint's display name: its pod, else its service, else its node (an address of the node
 * itself: a pod's node is only shown with the pod), else the name a DNS answer gave it, else its
 * address (ip). The API server's names come first: they say what the address is, a DNS name
 * only what some client called it. */
static const char *endpoint_display_name(const struct entry_endpoint *ep, const char *ip)
{
	if (entry_names_pod(ep->names)[0])
		return entry_names_pod(ep->names);
	if (entry_names_service(ep->names)[0])
		return entry_names_service(ep->names);
	if (entry_names_node(ep->names)[0])
		return entry_names_node(ep->names);
	if (entry_names_dns(ep->names)[0])
		return entry_names_dns(ep->names);
	return ip;
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
	case ENTRY_REASON_MEMORY:
		return "memory_budget";
	case ENTRY_REASON_UNSOLICITED:
		return "unsolicited";
	}
	return "?";
}

/* Two decimal digits of v (0..99) at o. */
static char *put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

void entry_format_time(uint64_t ts_ns, char out[64])
{
	/* The civil date of a day count (the proleptic Gregorian calendar in eras of 400 years,
	 * days from 1970-01-01); by hand because gmtime_r and snprintf were a twentieth of an
	 * entry's cost. The text is what "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ" of gmtime_r's
	 * fields printed: uint64_t nanoseconds end in the year 2554. */
	uint64_t secs = ts_ns / 1000000000ull, days = secs / 86400, era, doe, yoe, doy, mp, y;
	unsigned sod = (unsigned)(secs % 86400), ns = (unsigned)(ts_ns % 1000000000ull), m, d, i;
	char *o = out;

	days += 719468; /* from 0000-03-01 */
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	if (m <= 2)
		y++;
	o = put2(o, (unsigned)(y / 100));
	o = put2(o, (unsigned)(y % 100));
	*o++ = '-';
	o = put2(o, m);
	*o++ = '-';
	o = put2(o, d);
	*o++ = 'T';
	o = put2(o, sod / 3600);
	*o++ = ':';
	o = put2(o, sod / 60 % 60);
	*o++ = ':';
	o = put2(o, sod % 60);
	*o++ = '.';
	for (i = 9; i-- > 0; ns /= 10)
		o[i] = (char)('0' + ns % 10);
	o += 9;
	*o++ = 'Z';
	*o = 0;
}

static void endpoint_ip(const struct entry_endpoint *ep, char *buf, size_t size)
{
	if (ep->family == AF_INET && size >= INET_ADDRSTRLEN) {
		/* inet_ntop's text, without its sprintf (two per entry were 2% of it). */
		for (int i = 0; i < 4; i++) {
			unsigned v = ep->addr[12 + i];

			if (v >= 100)
				*buf++ = (char)('0' + v / 100);
			if (v >= 10)
				*buf++ = (char)('0' + v / 10 % 10);
			*buf++ = (char)('0' + v % 10);
			*buf++ = i < 3 ? '.' : 0;
		}
	} else if (ep->family == AF_INET)
		inet_ntop(AF_INET, ep->addr + 12, buf, size);
	else
		inet_ntop(AF_INET6, ep->addr, buf, size);
}

static json_t *endpoint_json(const struct entry_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];
	json_t *o = json_object();
	const char *v;

	if (!o)
		return NULL;
	endpoint_ip(ep, ip, sizeof(ip));
	json_object_set_new(o, "ip", json_string(ip));
	json_object_set_new(o, "port", json_integer(ep->port));
	if ((v = entry_names_pod(ep->names))[0])
		json_object_set_new(o, "pod", entry_json_text((const uint8_t *)v, strlen(v)));
	if ((v = entry_names_namespace(ep->names))[0])
		json_object_set_new(o, "namespace", entry_json_text((const uint8_t *)v, strlen(v)));
	if ((v = entry_names_service(ep->names))[0])
		json_object_set_new(o, "service", entry_json_text((const uint8_t *)v, strlen(v)));
	if ((v = entry_names_node(ep->names))[0])
		json_object_set_new(o, "node", entry_json_text((const uint8_t *)v, strlen(v)));
	if ((v = entry_names_dns(ep->names))[0])
		json_object_set_new(o, "dns_name", entry_json_text((const uint8_t *)v, strlen(v)));
	v = endpoint_display_name(ep, ip);
	json_object_set_new(o, "name", entry_json_text((const uint8_t *)v, strlen(v)));
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
	json_object_foreach(entry_fields(e), k, v)
		json_object_set(o, k, v);
	return o;
}

/* ---- the common members one at a time (KFL without the tree) ---- */

static void value_str(struct entry_value *out, const char *s, size_t n)
{
	out->type = ENTRY_VALUE_STRING;
	out->s = s;
	out->len = n;
}

/* A string json_string() keeps (valid UTF-8) as it is; absent otherwise, as the tree has it. */
static void value_json_string(struct entry_value *out, const char *s)
{
	size_t n = strlen(s);

	if (entry_utf8_prefix((const uint8_t *)s, n, false) == n)
		value_str(out, s, n);
}

/* A string copied to out's room; OTHER (the tree's) without room. */
static void value_copy(struct entry_value *out, const char *s)
{
	size_t n = strlen(s);

	if (!out->tmp || n >= out->tmp_size) {
		out->type = ENTRY_VALUE_OTHER;
		return;
	}
	memcpy(out->tmp, s, n + 1);
	value_str(out, out->tmp, n);
}

/* A name entry_json_text() would give as it is (else OTHER: the tree replaces bad bytes). */
static void value_name(struct entry_value *out, const char *s)
{
	size_t n = strlen(s);

	if (!n)
		return;
	if (entry_utf8_prefix((const uint8_t *)s, n, false) == n)
		value_str(out, s, n);
	else
		out->type = ENTRY_VALUE_OTHER;
}

static void value_int(struct entry_value *out, long long i)
{
	out->type = ENTRY_VALUE_INT;
	out->i = i;
}

/* A member of endpoint_json(). */
static void endpoint_get(const struct entry_endpoint *ep, const char *k, struct entry_value *out)
{
	char ip[INET6_ADDRSTRLEN];

	if (!strcmp(k, "port")) {
		value_int(out, ep->port);
	} else if (!strcmp(k, "pod")) {
		value_name(out, entry_names_pod(ep->names));
	} else if (!strcmp(k, "namespace")) {
		value_name(out, entry_names_namespace(ep->names));
	} else if (!strcmp(k, "service")) {
		value_name(out, entry_names_service(ep->names));
	} else if (!strcmp(k, "node")) {
		value_name(out, entry_names_node(ep->names));
	} else if (!strcmp(k, "dns_name")) {
		value_name(out, entry_names_dns(ep->names));
	} else if (!strcmp(k, "ip") || !strcmp(k, "name")) {
		const char *v;

		endpoint_ip(ep, ip, sizeof(ip));
		v = k[0] == 'i' ? ip : endpoint_display_name(ep, ip);
		if (v == ip)
			value_copy(out, ip);
		else
			value_name(out, v);
	}
}

bool entry_common_get(const struct entry *e, const char *const *path, size_t depth,
		      struct entry_value *out)
{
	const char *k = path[0];

	out->type = ENTRY_VALUE_ABSENT;
	if (!depth)
		return false;
	if (!strcmp(k, "src") || !strcmp(k, "dst")) {
		if (depth == 1)
			out->type = ENTRY_VALUE_OBJECT;
		else if (depth == 2)
			endpoint_get(k[0] == 's' ? &e->src : &e->dst, path[1], out);
		return true;
	}
	if (!strcmp(k, "id") || !strcmp(k, "protocol") || !strcmp(k, "version")) {
		if (depth == 1)
			value_json_string(out, k[0] == 'i' ? e->id : k[0] == 'p' ? e->protocol
										  : e->version);
		return true;
	}
	if (!strcmp(k, "request_time") || !strcmp(k, "response_time")) {
		uint64_t ts = k[2] == 'q' ? e->request_ts_ns : e->response_ts_ns;
		char t[64];

		if (depth == 1 && ts) {
			entry_format_time(ts, t);
			value_copy(out, t);
		}
		return true;
	}
	if (!strcmp(k, "elapsed_ms")) {
		if (depth == 1 && e->request_ts_ns && e->response_ts_ns &&
		    e->response_ts_ns >= e->request_ts_ns) {
			out->type = ENTRY_VALUE_REAL;
			out->r = (double)(e->response_ts_ns - e->request_ts_ns) / 1e6;
		}
		return true;
	}
	if (!strcmp(k, "flow_id") || !strcmp(k, "request_size") || !strcmp(k, "response_size")) {
		if (depth == 1)
			value_int(out, (json_int_t)(k[0] == 'f'    ? e->flow_id
						    : k[2] == 'q' ? e->request_size
								  : e->response_size));
		return true;
	}
	if (!strcmp(k, "stream_id")) {
		if (depth == 1 && e->stream_id)
			value_int(out, e->stream_id);
		return true;
	}
	if (!strcmp(k, "missing") || !strcmp(k, "incomplete") || !strcmp(k, "missing_reason")) {
		bool partial = entry_is_partial(e->missing);

		if (depth == 1 && e->missing != ENTRY_COMPLETE) {
			if (!strcmp(k, "missing_reason"))
				value_json_string(out, entry_missing_reason_str(e->missing_reason));
			else if ((k[0] == 'i') == partial)
				value_json_string(out, entry_missing_str(e->missing));
		}
		return true;
	}
	return false;
}

/* The keys entry_to_json() sets before the protocol fields. */
static const char *const entry_common_keys[] = {
	"id", "protocol", "version", "request_time", "response_time", "elapsed_ms", "src", "dst",
	"flow_id", "stream_id", "request_size", "response_size", "incomplete", "missing",
	"missing_reason",
};

/* ,"key": (no comma before the first key of an object), key escaped as needed. */
static int put_field_key(struct entry_json_buf *b, const char *key, bool first)
{
	return entry_json_append_key(b, key, strlen(key), first);
}

/* The same for floe's own keys (literals, nothing to escape): copied. */
static int put_key(struct entry_json_buf *b, const char *key, bool first)
{
	return entry_json_append_plain_key(b, key, strlen(key), first);
}

/*
 * elapsed_ms as entry_json_append_real() prints the double ns / 1e6: for 100 <= ns < 10^15 the
 * exact decimal (at most 15 digits, so %.15g of the nearest double gives it back, and it reads
 * back as that double), trailing zeros dropped, ".0" when it is whole; printf otherwise.
 */
static int put_elapsed_ms(struct entry_json_buf *b, uint64_t ns)
{
	char s[40], *o = s + 20, *end;
	uint64_t whole = ns / 1000000, frac = ns % 1000000;
	int i;

	if (ns < 100 || ns >= 1000000000000000ull)
		return entry_json_append_real(b, (double)ns / 1e6);
	/* the fraction first, right to left from s + 20, then the whole part before it */
	end = o;
	if (frac) {
		*o++ = '.';
		for (i = 5; i >= 0; i--, frac /= 10)
			o[i] = (char)('0' + frac % 10);
		o += 6;
		while (o[-1] == '0')
			o--;
	} else {
		memcpy(o, ".0", 2);
		o += 2;
	}
	do {
		*--end = (char)('0' + whole % 10);
		whole /= 10;
	} while (whole);
	return entry_json_append_raw(b, end, (size_t)(o - end));
}

/* A string member as json_string() keeps it: left out when it is not valid UTF-8. */
static int put_str(struct entry_json_buf *b, const char *key, const char *v, bool first)
{
	size_t n = strlen(v);

	if (entry_json_plain(v, n))
		return put_key(b, key, first) || entry_json_append_plain(b, v, n);
	if (entry_utf8_prefix((const uint8_t *)v, n, false) != n)
		return 0;
	return put_key(b, key, first) || entry_json_append_string(b, v, n);
}

static int put_int(struct entry_json_buf *b, const char *key, long long v)
{
	return put_key(b, key, false) || entry_json_append_int(b, v);
}

/* A string floe made itself, ASCII with nothing to escape (a time, an address): copied. */
static int put_plain(struct entry_json_buf *b, const char *key, const char *v, bool first)
{
	size_t n = strlen(v);
	char t[72];

	if (n > sizeof(t) - 2)
		return put_str(b, key, v, first);
	t[0] = '"';
	memcpy(t + 1, v, n);
	t[n + 1] = '"';
	return put_key(b, key, first) || entry_json_append_raw(b, t, n + 2);
}

static int put_time(struct entry_json_buf *b, const char *key, uint64_t ts)
{
	char t[64];

	if (!ts)
		return 0;
	entry_format_time(ts, t);
	return put_plain(b, key, t, false);
}

/* What entry_json_text() makes of v, written: valid UTF-8 (names nearly always are) as it is,
 * without the string object; anything else through it. */
static int put_text(struct entry_json_buf *b, const char *key, const char *v, size_t size)
{
	size_t n = strnlen(v, size);
	json_t *j;
	int rc;

	if (entry_json_plain(v, n))
		return put_key(b, key, false) || entry_json_append_plain(b, v, n);
	if (entry_utf8_prefix((const uint8_t *)v, n, false) == n)
		return put_key(b, key, false) || entry_json_append_string(b, v, n);
	j = entry_json_text((const uint8_t *)v, n);
	if (!j)
		return -ENOMEM;
	rc = put_key(b, key, false) || entry_json_append(b, j);
	json_decref(j);
	return rc;
}

static int put_endpoint(struct entry_json_buf *b, const char *key, const struct entry_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];
	const char *pod = entry_names_pod(ep->names), *ns = entry_names_namespace(ep->names),
		   *svc = entry_names_service(ep->names), *node = entry_names_node(ep->names),
		   *dns = entry_names_dns(ep->names), *name;
	size_t ip_len;

	/* The address's text is plain (digits, dots, hex, colons): written without checks, and
	 * again as the name when there is no other. */
	endpoint_ip(ep, ip, sizeof(ip));
	ip_len = strlen(ip);
	name = endpoint_display_name(ep, ip);
	return put_key(b, key, false) || entry_json_append_raw(b, "{\"ip\":", 6) ||
	       entry_json_append_plain(b, ip, ip_len) || put_int(b, "port", ep->port) ||
	       (pod[0] && put_text(b, "pod", pod, ENTRY_NAME_MAX)) ||
	       (ns[0] && put_text(b, "namespace", ns, ENTRY_NAME_MAX)) ||
	       (svc[0] && put_text(b, "service", svc, ENTRY_NAME_MAX)) ||
	       (node[0] && put_text(b, "node", node, ENTRY_NAME_MAX)) ||
	       (dns[0] && put_text(b, "dns_name", dns, ENTRY_NAME_MAX)) ||
	       (name == ip ? entry_json_append_plain_member(b, "name", 4, ip, ip_len, false)
			   : put_text(b, "name", name, ENTRY_NAME_MAX)) ||
	       entry_json_append_raw(b, "}", 1);
}

/* The common members, in entry_to_json()'s order: 0, -ENOMEM, or 1 when the first three were
 * all left out (never: the engine sets the id), for the tree to write them. */
static int put_common(struct entry_json_buf *b, const struct entry *e)
{
	size_t start = b->len;

	if (put_str(b, "id", e->id, true) ||
	    put_str(b, "protocol", e->protocol, b->len == start) ||
	    put_str(b, "version", e->version, b->len == start))
		return -ENOMEM;
	if (b->len == start)
		return 1;
	if (put_time(b, "request_time", e->request_ts_ns) ||
	    put_time(b, "response_time", e->response_ts_ns))
		return -ENOMEM;
	if (e->request_ts_ns && e->response_ts_ns && e->response_ts_ns >= e->request_ts_ns &&
	    (put_key(b, "elapsed_ms", false) ||
	     put_elapsed_ms(b, e->response_ts_ns - e->request_ts_ns)))
		return -ENOMEM;
	if (put_endpoint(b, "src", &e->src) || put_endpoint(b, "dst", &e->dst) ||
	    put_int(b, "flow_id", (json_int_t)e->flow_id) ||
	    (e->stream_id && put_int(b, "stream_id", e->stream_id)) ||
	    put_int(b, "request_size", (json_int_t)e->request_size) ||
	    put_int(b, "response_size", (json_int_t)e->response_size))
		return -ENOMEM;
	if (e->missing != ENTRY_COMPLETE &&
	    (put_str(b, entry_is_partial(e->missing) ? "incomplete" : "missing",
		     entry_missing_str(e->missing), false) ||
	     put_str(b, "missing_reason", entry_missing_reason_str(e->missing_reason), false)))
		return -ENOMEM;
	return 0;
}

int entry_json_append_entry(struct entry_json_buf *b, const struct entry *e)
{
	size_t len = b->len, i;
	const char *k;
	json_t *v, *j;
	int rc;

	/* A protocol field named like a common one replaces it in place: the tree does that. */
	json_object_foreach(e->fields, k, v)
		for (i = 0; i < sizeof(entry_common_keys) / sizeof(entry_common_keys[0]); i++)
			if (!strcmp(k, entry_common_keys[i]))
				goto tree;
	if (entry_json_append_raw(b, "{", 1))
		goto fail;
	rc = put_common(b, e);
	if (rc < 0)
		goto fail;
	if (rc) {
		b->len = len;
		goto tree;
	}
	if (e->compact && e->compact_ops->write_json(e->compact, b, false))
		goto fail;
	json_object_foreach(e->fields, k, v)
		if (put_field_key(b, k, false) || entry_json_append(b, v))
			goto fail;
	if (entry_json_append_raw(b, "}", 1))
		goto fail;
	return 0;
tree:
	j = entry_to_json(e);
	rc = entry_json_append(b, j);
	json_decref(j);
	return rc;
fail:
	b->len = len;
	return -ENOMEM;
}

const char *entry_field_str(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

void text_put(struct text_buf *b, const char *s, size_t n)
{
	if (b->len + 1 < b->size) {
		size_t room = b->size - 1 - b->len;

		memcpy(b->p + b->len, s, n < room ? n : room);
	}
	b->len += n;
	if (b->size)
		b->p[b->len < b->size ? b->len : b->size - 1] = 0;
}

void text_str(struct text_buf *b, const char *s)
{
	text_put(b, s, strlen(s));
}

void text_int(struct text_buf *b, long long v)
{
	char s[ENTRY_INT_CHARS], *o = entry_int_digits(v, s);

	text_put(b, o, (size_t)(s + sizeof(s) - o));
}

/* " in tunnel <id> to <authority>" for an entry from inside a CONNECT tunnel: src and dst are
 * the client and the proxy, the far end is the tunnel's. */
static void tunnel_note(struct text_buf *b, const struct entry *e)
{
	struct entry_value idv, tov;
	const char *id, *to;

	entry_field_get(e, (const char *[]){"tunnel", "id"}, 2, &idv);
	entry_field_get(e, (const char *[]){"tunnel", "authority"}, 2, &tov);
	id = idv.type == ENTRY_VALUE_STRING ? idv.s : NULL;
	to = tov.type == ENTRY_VALUE_STRING ? tov.s : NULL;
	if (!id)
		return;
	text_put(b, " in tunnel ", 11);
	text_str(b, id);
	if (to && to[0]) {
		text_put(b, " to ", 4);
		text_str(b, to);
	}
}

int entry_format_line(const struct entry *e, char *buf, size_t size)
{
	char t[64], sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], summary[512];
	const struct protocol_desc *pd = protocol_find(e->protocol);
	struct text_buf sb = {summary, sizeof(summary), 0}, lb = {buf, size, 0};

	/* A protocol the core does not know (a test's toy) gets the HTTP form. */
	if (!pd || !pd->summary)
		pd = protocol_find("http");
	summary[0] = 0;
	/* Room is left for the missing/incomplete note. */
	sb.len = pd->summary(e, summary, sizeof(summary) - 64);
	if (sb.len >= sizeof(summary) - 64)
		sb.len = strlen(summary);
	if (sb.len < sizeof(summary) && e->missing != ENTRY_COMPLETE) {
		text_put(&sb, " [", 2);
		text_str(&sb, entry_is_partial(e->missing) ? "incomplete" : "missing");
		text_put(&sb, " ", 1);
		text_str(&sb, entry_missing_str(e->missing));
		text_put(&sb, ": ", 2);
		text_str(&sb, entry_missing_reason_str(e->missing_reason));
		text_put(&sb, "]", 1);
	}
	entry_format_time(e->request_ts_ns ? e->request_ts_ns : e->response_ts_ns, t);
	endpoint_ip(&e->src, sip, sizeof(sip));
	endpoint_ip(&e->dst, dip, sizeof(dip));
	/* "%s %s %s%s%s %s%s%s:%u -> %s%s%s:%u%s%s" */
	if (size)
		buf[0] = 0;
	text_str(&lb, e->id);
	text_put(&lb, " ", 1);
	text_str(&lb, t);
	text_put(&lb, " ", 1);
	text_str(&lb, e->protocol);
	if (e->version[0]) {
		text_put(&lb, "/", 1);
		text_str(&lb, e->version);
	}
	text_put(&lb, " ", 1);
	if (endpoint_display_name(&e->src, sip) != sip) {
		text_str(&lb, endpoint_display_name(&e->src, sip));
		text_put(&lb, "@", 1);
	}
	text_str(&lb, sip);
	text_put(&lb, ":", 1);
	text_int(&lb, e->src.port);
	text_put(&lb, " -> ", 4);
	if (endpoint_display_name(&e->dst, dip) != dip) {
		text_str(&lb, endpoint_display_name(&e->dst, dip));
		text_put(&lb, "@", 1);
	}
	text_str(&lb, dip);
	text_put(&lb, ":", 1);
	text_int(&lb, e->dst.port);
	tunnel_note(&lb, e);
	if (summary[0]) {
		text_put(&lb, " ", 1);
		text_str(&lb, summary);
	}
	return (int)lb.len;
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
#if defined(__SSE2__)
		/* 64 ASCII bytes at a time (bodies), then sixteen: no high bit set, and (unless
		 * allowed) no zero; the first block with either is looked at more closely. */
		while (n - i >= 64) {
			const __m128i *q = (const __m128i *)(const void *)(p + i);
			__m128i a = _mm_loadu_si128(q), b = _mm_loadu_si128(q + 1),
				c = _mm_loadu_si128(q + 2), d = _mm_loadu_si128(q + 3);
			unsigned stop = (unsigned)_mm_movemask_epi8(
			    _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)));

			if (!allow_nul)
				stop |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
				    _mm_min_epu8(_mm_min_epu8(a, b), _mm_min_epu8(c, d)),
				    _mm_setzero_si128()));
			if (stop)
				break;
			i += 64;
		}
		while (n - i >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			unsigned stop = (unsigned)_mm_movemask_epi8(v);

			if (!allow_nul)
				stop |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
			if (stop) {
				i += (size_t)__builtin_ctz(stop);
				break;
			}
			i += 16;
		}
#endif
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

char *entry_text_sanitize(const uint8_t *p, size_t n, bool allow_nul, size_t *out_n)
{
	size_t i, o, l;
	char *buf;

	if (!p)
		n = 0;
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	buf = malloc(n * 3 + 1);
	if (!buf)
		return NULL;
	i = entry_utf8_prefix(p, n, allow_nul);
	if (i)
		memcpy(buf, p, i);
	o = i;
	while (i < n) {
		l = entry_utf8_seq_len(p + i, n - i);
		if (!l || (!p[i] && !allow_nul)) {
			memcpy(buf + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, p + i, l);
		o += l;
		i += l;
	}
	buf[o] = 0;
	*out_n = o;
	return buf;
}

json_t *entry_json_text(const uint8_t *p, size_t n)
{
	size_t o;
	char *buf;
	json_t *j;

	if (!p)
		n = 0;
	/* Fast path: valid UTF-8 without NUL (jansson keeps NUL via stringn, but it is awkward
	 * for consumers; it is replaced too). Checked here: jansson's own UTF-8 check would read
	 * the bytes a second time. */
	if (entry_utf8_prefix(p, n, false) == n)
		return json_stringn_nocheck((const char *)p, n);
	buf = entry_text_sanitize(p, n, false, &o);
	if (!buf)
		return NULL;
	j = json_stringn_nocheck(buf, o);
	free(buf);
	return j;
}

int entry_json_append_text(struct entry_json_buf *b, const uint8_t *p, size_t n, bool allow_nul)
{
	size_t o;
	char *buf;
	int rc;

	if (!p)
		n = 0;
	if (entry_utf8_prefix(p, n, allow_nul) == n)
		return entry_json_append_string(b, (const char *)p, n);
	buf = entry_text_sanitize(p, n, allow_nul, &o);
	if (!buf)
		return -ENOMEM;
	rc = entry_json_append_string(b, buf, o);
	free(buf);
	return rc;
}

int entry_set_text(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	json_t *v = entry_json_text(p, n);

	if (!v || json_object_set_new(obj, key, v))
		return -ENOMEM;
	return 0;
}

/* The base64 text (RFC 4648, padded) of p..p+n at out, which has room for it. */
static size_t base64_encode(const uint8_t *p, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

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
	return o;
}

json_t *entry_json_base64(const uint8_t *p, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1);
	json_t *s;

	if (!out)
		return NULL;
	s = json_stringn_nocheck(out, base64_encode(p, n, out));
	free(out);
	return s;
}

int entry_json_append_base64(struct entry_json_buf *b, const uint8_t *p, size_t n)
{
	size_t len = b->len, o;
	char *out;

	/* The quotes around it, and nothing to escape inside. */
	if (entry_json_append_raw(b, "\"", 1))
		return -ENOMEM;
	out = malloc((n + 2) / 3 * 4 + 1);
	if (!out) {
		b->len = len;
		return -ENOMEM;
	}
	o = base64_encode(p, n, out);
	if (entry_json_append_raw(b, out, o) || entry_json_append_raw(b, "\"", 1)) {
		free(out);
		b->len = len;
		return -ENOMEM;
	}
	free(out);
	return 0;
}
