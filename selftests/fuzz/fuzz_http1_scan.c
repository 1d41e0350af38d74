// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/http1_scan.c, against http_parser as the oracle: whatever
 * head the scanner takes (H1_SCAN_OK), http_parser must read the same way, since http1.c
 * gives every other message to http_parser and a taken one must not read differently.
 *
 * Input: byte 0 bit 0 picks a request (0) or a response head; the rest is the head's bytes.
 * Checked, when the scan takes it: http_parser accepts the same bytes without error and
 * completes the head exactly at head_len; the same method, status, version, target or
 * reason phrase (its on_url / on_status spans joined), the same header fields in order (its
 * spans joined; values with trailing SP/HT removed, as http1.c does), the same Content-Length
 * and chunked flag, and no upgrade. When the scan answers H1_SCAN_MORE, http_parser must not
 * have completed a head within the bytes either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "dissect/http1_scan.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define ORACLE_MAX 8192

struct oracle {
	char line[ORACLE_MAX];
	size_t line_len;
	struct {
		char name[ORACLE_MAX], value[ORACLE_MAX];
		size_t nlen, vlen;
	} f[H1_SCAN_FIELDS_MAX + 1];
	unsigned n; /* fields begun */
	bool in_value, complete, overflow;
};

static struct oracle *of(http_parser *hp)
{
	return hp->data;
}

static void add(char *dst, size_t *len, const char *at, size_t n, bool *overflow)
{
	if (*len + n > ORACLE_MAX) {
		*overflow = true;
		return;
	}
	memcpy(dst + *len, at, n);
	*len += n;
}

static int on_line(http_parser *hp, const char *at, size_t n)
{
	add(of(hp)->line, &of(hp)->line_len, at, n, &of(hp)->overflow);
	return 0;
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
	struct oracle *o = of(hp);

	if (o->in_value || !o->n) {
		if (o->n == H1_SCAN_FIELDS_MAX + 1) {
			o->overflow = true;
			return 0;
		}
		o->n++;
		o->in_value = false;
	}
	add(o->f[o->n - 1].name, &o->f[o->n - 1].nlen, at, n, &o->overflow);
	return 0;
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
	struct oracle *o = of(hp);

	o->in_value = true;
	if (o->n && o->n <= H1_SCAN_FIELDS_MAX + 1)
		add(o->f[o->n - 1].value, &o->f[o->n - 1].vlen, at, n, &o->overflow);
	return 0;
}

static int on_headers_complete(http_parser *hp)
{
	of(hp)->complete = true;
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_line,
	.on_status = on_line,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct h1_scan s;
	static struct oracle o;
	http_parser hp;
	enum h1_scan_result r;
	bool request;
	size_t k;

	if (size < 1)
		return 0;
	request = !(data[0] & 1);
	data++;
	size--;
	/* A head's first byte: http1.c skips CR and LF before a message. */
	if (size && (data[0] == '\r' || data[0] == '\n'))
		return 0;
	r = h1_scan_head(data, size, request, &s);
	memset(&o, 0, sizeof(o));
	http_parser_init(&hp, request ? HTTP_REQUEST : HTTP_RESPONSE);
	hp.data = &o;
	k = http_parser_execute(&hp, &settings, (const char *)data, size);
	if (r == H1_SCAN_MORE)
		CHECK(!o.complete);
	if (r != H1_SCAN_OK)
		return 0;
	CHECK(o.complete && HTTP_PARSER_ERRNO(&hp) == HPE_PAUSED);
	CHECK(k + 1 == s.head_len); /* paused on the empty line's LF */
	if (o.overflow)
		return 0;
	CHECK(hp.http_major == s.major && hp.http_minor == s.minor);
	CHECK(!hp.upgrade);
	if (request)
		CHECK(hp.method == s.method);
	else
		CHECK(hp.status_code == s.status);
	CHECK(o.line_len == s.line.len && !memcmp(o.line, data + s.line.off, s.line.len));
	CHECK(o.n == s.n_fields);
	for (unsigned i = 0; i < s.n_fields; i++) {
		size_t vlen = o.f[i].vlen;

		while (vlen && (o.f[i].value[vlen - 1] == ' ' || o.f[i].value[vlen - 1] == '\t'))
			vlen--;
		CHECK(o.f[i].nlen == s.fields[i].name.len &&
		      !memcmp(o.f[i].name, data + s.fields[i].name.off, o.f[i].nlen));
		CHECK(vlen == s.fields[i].value.len &&
		      !memcmp(o.f[i].value, data + s.fields[i].value.off, vlen));
	}
	CHECK(hp.content_length == s.content_length || (s.chunked && hp.content_length == 0));
	CHECK(!!(hp.flags & F_CHUNKED) == s.chunked);
	return 0;
}
