// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for lib/node/dissect/http_common.c. The first byte picks:
 *   0: headers and cookies (name/value pairs split by NUL bytes, then both cookie parsers),
 *   1: http_url_split,
 *   2: http_body_to_json of the bytes under a content-encoding taken from the input,
 *   3: the same bytes gzip/deflate compressed here: the decoded body must be the input.
 * Besides memory safety, it checks that every object dumps as JSON jansson loads again,
 * and what a body object promises (bounds, text vs base64).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "dissect/http_common.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* Dumps and loads again: the output is valid JSON of valid UTF-8. */
static void check_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_error_t err;
	json_t *back;

	CHECK(s);
	back = json_loads(s, JSON_ALLOW_NUL, &err);
	CHECK(back);
	CHECK(json_equal(back, j));
	json_decref(back);
	free(s);
}

static void fuzz_headers(const uint8_t *d, size_t n)
{
	json_t *h = json_object(), *c = json_object(), *sc = json_object();
	const char *p = (const char *)d, *end = p + n;
	const char *k, *v;
	json_t *val;

	CHECK(h && c && sc);
	while (p < end) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		const char *ne = nul ? nul : end, *vs = nul ? nul + 1 : end;
		const char *vnul = memchr(vs, 0, (size_t)(end - vs));
		const char *ve = vnul ? vnul : end;

		CHECK(http_headers_add(h, p, (size_t)(ne - p), vs, (size_t)(ve - vs)) == 0);
		p = vnul ? vnul + 1 : end;
	}
	check_json(h);
	/* Every header's value through both cookie parsers. */
	json_object_foreach(h, k, val)
	{
		v = json_string_value(val);
		CHECK(v);
		CHECK(http_headers_get(h, k) == v);
		CHECK(http_cookies_from_request(c, v) == 0);
		CHECK(http_cookies_from_set_cookie(sc, v) == 0);
	}
	check_json(c);
	check_json(sc);
	json_decref(h);
	json_decref(c);
	json_decref(sc);
}

static void fuzz_url(const uint8_t *d, size_t n)
{
	json_t *r = json_object();
	const char *path, *query;

	CHECK(r);
	CHECK(http_url_split(r, (const char *)d, n) == 0);
	check_json(r);
	path = json_string_value(json_object_get(r, "path"));
	query = json_string_value(json_object_get(r, "query"));
	CHECK(path && query && json_is_object(json_object_get(r, "query_params")));
	CHECK(json_string_length(json_object_get(r, "path")) <= 3 * n + 1);
	CHECK(!memchr(query, '#', json_string_length(json_object_get(r, "query"))));
	/* Without a query, there are no parameters. */
	if (!json_string_length(json_object_get(r, "query")))
		CHECK(json_object_size(json_object_get(r, "query_params")) == 0);
	json_decref(r);
}

static void check_body(const json_t *j, const struct http_body *b)
{
	const json_t *text = json_object_get(j, "text"), *b64 = json_object_get(j, "base64");
	const json_t *ds = json_object_get(j, "decoded_size");

	check_json(j);
	CHECK(json_integer_value(json_object_get(j, "size")) == (json_int_t)b->size);
	CHECK(json_is_boolean(json_object_get(j, "truncated")));
	CHECK(!!text != !!b64);
	if (text)
		CHECK(!memchr(json_string_value(text), 0, json_string_length(text)));
	if (ds) {
		CHECK(json_integer_value(ds) <= (json_int_t)b->max);
		CHECK(!json_object_get(j, "decode_error"));
	}
	if (b->size > b->len)
		CHECK(json_is_true(json_object_get(j, "truncated")));
}

static const char *const codings[] = {
    NULL, "",	      "gzip",  "x-gzip",   "deflate",
    "br", "identity", "GZIP ", "gzip, br", "identity,deflate",
};

static void fuzz_body(const uint8_t *d, size_t n)
{
	struct http_body b;
	const char *ce;
	size_t max;
	json_t *j;

	if (n < 2)
		return;
	ce = codings[d[0] % (sizeof(codings) / sizeof(codings[0]))];
	max = (size_t)d[1] * 64; /* 0 .. 16 KiB: small bounds meet the edges */
	http_body_init(&b, max);
	/* In two pieces, as a body streams in. */
	CHECK(http_body_append(&b, d + 2, (n - 2) / 2) == 0);
	CHECK(http_body_append(&b, d + 2 + (n - 2) / 2, n - 2 - (n - 2) / 2) == 0);
	j = http_body_to_json(&b, ce);
	CHECK(j);
	check_body(j, &b);
	json_decref(j);
	http_body_reset(&b);
	CHECK(!b.buf && !b.len && !b.size && b.max == max);
}

/* Base64 decoding of the encoder's output, to compare with the original. */
static size_t unbase64(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *tab =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *q = strchr(tab, s[i]);

		CHECK(q && s[i]);
		acc = acc << 6 | (uint32_t)(q - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

static void fuzz_roundtrip(const uint8_t *d, size_t n)
{
	static const int wbits[] = {16 + 15, 15, -15};
	static const char *const names[] = {"gzip", "deflate", "deflate"};
	struct http_body b;
	z_stream zs;
	uint8_t *z, *back;
	size_t zn, cap, max, want, got;
	const json_t *text, *b64;
	json_t *j;
	int w;

	if (n < 2)
		return;
	w = d[0] % 3;
	max = 1024 + (size_t)d[1] * 64;
	d += 2;
	n -= 2;
	cap = compressBound(n) + 64;
	z = malloc(cap);
	CHECK(z);
	memset(&zs, 0, sizeof(zs));
	CHECK(deflateInit2(&zs, 6, Z_DEFLATED, wbits[w], 8, Z_DEFAULT_STRATEGY) == Z_OK);
	zs.next_in = (Bytef *)d;
	zs.avail_in = (uInt)n;
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	zn = cap - zs.avail_out;
	deflateEnd(&zs);

	http_body_init(&b, max);
	CHECK(http_body_append(&b, z, zn) == 0);
	j = http_body_to_json(&b, names[w]);
	CHECK(j);
	check_body(j, &b);
	text = json_object_get(j, "text");
	b64 = json_object_get(j, "base64");
	if (zn <= max) {
		/* All kept: it decodes, to the input up to max bytes. */
		want = n < max ? n : max;
		CHECK(!json_object_get(j, "decode_error"));
		CHECK(json_integer_value(json_object_get(j, "decoded_size")) == (json_int_t)want);
		CHECK(json_is_true(json_object_get(j, "truncated")) == (n > max));
		if (text) {
			CHECK(json_string_length(text) == want);
			CHECK(!memcmp(json_string_value(text), d, want));
		} else {
			back = malloc(want + 3);
			CHECK(back);
			got = unbase64(json_string_value(b64), json_string_length(b64), back);
			CHECK(got == want && !memcmp(back, d, want));
			free(back);
		}
	}
	json_decref(j);
	http_body_reset(&b);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_headers(data + 1, size - 1);
		break;
	case 1:
		fuzz_url(data + 1, size - 1);
		break;
	case 2:
		fuzz_body(data + 1, size - 1);
		break;
	default:
		fuzz_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
