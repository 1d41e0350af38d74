// SPDX-License-Identifier: Apache-2.0
/* AMQP 0-9-1: the protocol's descriptor (protocol.h); its dissector is lib/node/dissect/amqp.c. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* ---- the text summary ---- */

static int put(char *buf, size_t size, int off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *buf, size_t size, int off, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (off < 0 || (size_t)off >= size)
		return off;
	va_start(ap, fmt);
	k = vsnprintf(buf + off, size - (size_t)off, fmt, ap);
	va_end(ap);
	if (k < 0)
		return off;
	return (size_t)(off + k) >= size ? (int)size - 1 : off + k;
}

/* "Basic.Publish ch=1 x=orders rk=new tag=3 120 B" for a request or response object. */
static int summary_of(const json_t *o, char *buf, size_t size, int off)
{
	static const struct {
		const char *key, *label;
	} args[] = {
	    {"exchange", "x"},	       {"routing_key", "rk"},  {"queue", "q"},
	    {"source", "src"},	       {"destination", "dst"}, {"consumer_tag", "ctag"},
	    {"virtual_host", "vhost"},
	};
	const char *m = json_string_value(json_object_get(o, "method"));
	const json_t *v, *body;
	unsigned i;

	off = put(buf, size, off, "%s", m ? m : "-");
	v = json_object_get(o, "channel");
	if (json_integer_value(v))
		off = put(buf, size, off, " ch=%lld", (long long)json_integer_value(v));
	for (i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		const char *s = json_string_value(json_object_get(o, args[i].key));

		if (s)
			off = put(buf, size, off, " %s=%.80s", args[i].label, s);
	}
	v = json_object_get(o, "delivery_tag");
	if (json_is_integer(v))
		off = put(buf, size, off, " tag=%lld", (long long)json_integer_value(v));
	v = json_object_get(o, "reply_code");
	if (json_is_integer(v)) {
		const char *rn = json_string_value(json_object_get(o, "reply_name"));
		const char *rt = json_string_value(json_object_get(o, "reply_text"));

		off = put(buf, size, off, " %lld", (long long)json_integer_value(v));
		if (rn)
			off = put(buf, size, off, " %s", rn);
		if (rt && *rt)
			off = put(buf, size, off, " \"%.100s\"", rt);
	}
	body = json_object_get(o, "body");
	if (body)
		off = put(buf, size, off, " %lld B",
			  (long long)json_integer_value(json_object_get(body, "size")));
	return off;
}

static size_t amqp_summary(const struct entry *e, char *buf, size_t size)
{
	const json_t *fields = e->fields;
	const json_t *req = json_object_get(fields, "request");
	const json_t *resp = json_object_get(fields, "response");
	const json_t *ack = json_object_get(fields, "ack");
	int off = 0;

	if (!size)
		return 0;
	buf[0] = 0;
	if (req)
		off = summary_of(req, buf, size, off);
	if (resp)
		off = summary_of(resp, buf, size, put(buf, size, off, "%s", req ? " -> " : "-> "));
	if (ack)
		off = put(buf, size, off, " [%s]",
			  json_string_value(json_object_get(ack, "method")) ?: "-");
	return off;
}
const struct protocol_desc protocol_amqp = {
    .name = "amqp",
    .summary = amqp_summary,
};
