// SPDX-License-Identifier: Apache-2.0
/* Unit tests: HTTP headers, cookies, url split and bodies (lib/node/dissect/http_common.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <zlib.h>

#include "dissect/http_common.h"

#define FFFD	     "\xef\xbf\xbd" /* U+FFFD, the replacement of an invalid byte */
#define ADD(h, n, v) assert_int_equal(http_headers_add(h, n, strlen(n), v, strlen(v)), 0)

/* The object as compact JSON with sorted keys, for whole-object comparisons. */
static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	assert_non_null(s);
	return s;
}

static void assert_json(const json_t *j, const char *want)
{
	char *s = dump(j);

	if (strcmp(s, want))
		fail_msg("got  %s\nwant %s", s, want);
	free(s);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- headers ---- */

static void test_headers_join_and_case(void **state)
{
	json_t *h = json_object();

	(void)state;
	ADD(h, "Content-Type", "text/html");
	ADD(h, "Accept", "a/b");
	ADD(h, "ACCEPT", "c/d");
	ADD(h, "accept", " \t");
	ADD(h, "X-Pad", "\t  padded value \t ");
	ADD(h, "Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
	ADD(h, "set-cookie", "b=2");
	ADD(h, "Cookie", "x=1");
	ADD(h, "cookie", "y=2");
	assert_json(h, "{\"accept\":\"a/b, c/d, \",\"content-type\":\"text/html\","
		       "\"cookie\":\"x=1; y=2\","
		       "\"set-cookie\":\"a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT\\nb=2\","
		       "\"x-pad\":\"padded value\"}");
	assert_string_equal(http_headers_get(h, "content-type"), "text/html");
	assert_string_equal(http_headers_get(h, "accept"), "a/b, c/d, ");
	assert_null(http_headers_get(h, "Content-Type")); /* callers pass lower case */
	assert_null(http_headers_get(h, "x-missing"));
	assert_null(http_headers_get(NULL, "x"));
	json_decref(h);
}

static void test_headers_binary(void **state)
{
	json_t *h = json_object();
	const char name[] = {'X', '-', (char)0xff, 'A'};
	const char value[] = {'o',	  'k', (char)0xc3, (char)0xa9, (char)0xe2,
			      (char)0x82, 0,   (char)0x80, 'z'};
	char *s;

	(void)state;
	assert_int_equal(http_headers_add(h, name, sizeof(name), value, sizeof(value)), 0);
	/* é kept; the cut 3-byte sequence and the lone continuation byte: one U+FFFD each */
	assert_json(h, "{\"x-" FFFD "a\":\"ok\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\\u0000"
		       "\xef\xbf\xbdz\"}");
	/* Overlong, surrogate and above-U+10FFFF forms are invalid too: one U+FFFD a byte. */
	assert_int_equal(http_headers_add(h, "o", 1, "\xc0\xaf\xed\xa0\x80", 5), 0);
	assert_string_equal(http_headers_get(h, "o"),
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_int_equal(http_headers_add(h, "p", 1, "\xf4\x90\x80\x80\xf0\x9f\x98\x80", 8), 0);
	assert_string_equal(http_headers_get(h, "p"),
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xf0\x9f\x98\x80");
	/* A NUL in a name: U+FFFD in the key (jansson can neither load nor find it otherwise). */
	assert_int_equal(http_headers_add(h, "a\0b", 3, "v", 1), 0);
	assert_string_equal(http_headers_get(h, "a" FFFD "b"), "v");
	assert_int_equal(http_headers_add(h, NULL, 0, NULL, 0), 0);
	assert_string_equal(http_headers_get(h, ""), "");
	s = dump(h); /* dumps only valid JSON */
	json_error_t err;
	json_t *back = json_loads(s, JSON_ALLOW_NUL, &err);
	assert_non_null(back);
	json_decref(back);
	free(s);
	json_decref(h);
}

/* ---- cookies ---- */

static void test_cookies_request(void **state)
{
	json_t *c = json_object();

	(void)state;
	assert_int_equal(http_cookies_from_request(c, " a=1;b=2 ;  c = 3 ;d=;e=\"quoted v\";"
						      "noeq; =x; f=a=b;a=dup;g=\"\";h=\";\t"),
			 0);
	assert_json(c, "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"\",\"e\":\"quoted v\","
		       "\"f\":\"a=b\",\"g\":\"\",\"h\":\"\\\"\"}");
	json_decref(c);

	c = json_object();
	assert_int_equal(http_cookies_from_request(c, ""), 0);
	assert_int_equal(http_cookies_from_request(c, NULL), 0);
	assert_int_equal(http_cookies_from_request(c, ";;; ;"), 0);
	assert_json(c, "{}");
	/* Non-UTF-8 names and values are made valid. */
	assert_int_equal(http_cookies_from_request(c, "n\xff=v\xfe"), 0);
	assert_json(c, "{\"n\xef\xbf\xbd\":\"v\xef\xbf\xbd\"}");
	json_decref(c);
}

static void test_cookies_from_headers(void **state)
{
	json_t *h = json_object(), *c = json_object();

	(void)state;
	/* HTTP/2 splits cookie into fields: joined they parse as one header. */
	ADD(h, "cookie", "a=1");
	ADD(h, "cookie", "b=2");
	assert_int_equal(http_cookies_from_request(c, http_headers_get(h, "cookie")), 0);
	assert_json(c, "{\"a\":\"1\",\"b\":\"2\"}");
	json_decref(c);

	c = json_object();
	ADD(h, "set-cookie", "sid=abc; Path=/; HttpOnly; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
	ADD(h, "set-cookie", " theme = \"dark\" ;Secure");
	ADD(h, "set-cookie", "broken");
	ADD(h, "set-cookie", "sid=new");
	ADD(h, "set-cookie", "");
	ADD(h, "set-cookie", "empty=");
	assert_int_equal(http_cookies_from_set_cookie(c, http_headers_get(h, "set-cookie")), 0);
	/* A later line replaces an earlier one of the same name. */
	assert_json(c, "{\"empty\":\"\",\"sid\":\"new\",\"theme\":\"dark\"}");
	json_decref(c);

	c = json_object();
	assert_int_equal(http_cookies_from_set_cookie(c, "a=1\r\nb=2;x\n\n"), 0);
	assert_int_equal(http_cookies_from_set_cookie(c, NULL), 0);
	assert_json(c, "{\"a\":\"1\",\"b\":\"2\"}");
	json_decref(c);
	json_decref(h);
}

/* ---- url ---- */

static void split(const char *url, const char *want)
{
	json_t *r = json_object();

	assert_int_equal(http_url_split(r, url, strlen(url)), 0);
	assert_json(r, want);
	json_decref(r);
}

static void test_url_forms(void **state)
{
	(void)state;
	split("/", "{\"path\":\"/\",\"query\":\"\",\"query_params\":{},\"url\":\"/\"}");
	split("*", "{\"path\":\"*\",\"query\":\"\",\"query_params\":{},\"url\":\"*\"}");
	split("/a/b%20c", "{\"path\":\"/a/b%20c\",\"query\":\"\",\"query_params\":{},"
			  "\"url\":\"/a/b%20c\"}");
	split("/p?", "{\"path\":\"/p\",\"query\":\"\",\"query_params\":{},\"url\":\"/p?\"}");
	split(
	    "/p?a=1&b=2&a=3",
	    "{\"path\":\"/p\",\"query\":\"a=1&b=2&a=3\",\"query_params\":{\"a\":\"1\",\"b\":\"2\"},"
	    "\"url\":\"/p?a=1&b=2&a=3\"}");
	split("/p?q#frag", "{\"path\":\"/p\",\"query\":\"q\",\"query_params\":{\"q\":\"\"},"
			   "\"url\":\"/p?q#frag\"}");
	split("/p#f?x=1", "{\"path\":\"/p\",\"query\":\"\",\"query_params\":{},"
			  "\"url\":\"/p#f?x=1\"}");
	split("http://h/p?q", "{\"path\":\"/p\",\"query\":\"q\",\"query_params\":{\"q\":\"\"},"
			      "\"url\":\"http://h/p?q\"}");
	split("https://h:8443?x=1",
	      "{\"path\":\"/\",\"query\":\"x=1\",\"query_params\":{\"x\":\"1\"},"
	      "\"url\":\"https://h:8443?x=1\"}");
	split("HTTP://user@h", "{\"path\":\"/\",\"query\":\"\",\"query_params\":{},"
			       "\"url\":\"HTTP://user@h\"}");
	/* authority-form (CONNECT) and odd targets are paths as they are */
	split("example.com:443", "{\"path\":\"example.com:443\",\"query\":\"\",\"query_params\":{},"
				 "\"url\":\"example.com:443\"}");
	split("", "{\"path\":\"\",\"query\":\"\",\"query_params\":{},\"url\":\"\"}");
	split("/x?://y", "{\"path\":\"/x\",\"query\":\"://y\",\"query_params\":{\"://y\":\"\"},"
			 "\"url\":\"/x?://y\"}");

	json_t *r = json_object();

	assert_int_equal(http_url_split(r, NULL, 0), 0);
	assert_string_equal(str(r, "url"), "");
	/* only n bytes count */
	assert_int_equal(http_url_split(r, "/a?b=1XYZ", 6), 0);
	assert_json(r, "{\"path\":\"/a\",\"query\":\"b=1\",\"query_params\":{\"b\":\"1\"},"
		       "\"url\":\"/a?b=1\"}");
	json_decref(r);
}

static void test_url_decoding(void **state)
{
	json_t *r = json_object(), *qp;
	const char *u = "/s?q=a+b%20c%2B&%41%62=%e2%82%ac&bad=%zz%4&pct=100%&nul=x%00y"
			"&bin=%ff%C3%A9&&=empty&flag&e=&sp+ace=1&x=1=2";

	(void)state;
	assert_int_equal(http_url_split(r, u, strlen(u)), 0);
	qp = json_object_get(r, "query_params");
	assert_string_equal(str(qp, "q"), "a b c+");
	assert_string_equal(str(qp, "Ab"), "\xe2\x82\xac");
	assert_string_equal(str(qp, "bad"), "%zz%4");
	assert_string_equal(str(qp, "pct"), "100%");
	assert_int_equal(json_string_length(json_object_get(qp, "nul")), 3);
	assert_memory_equal(str(qp, "nul"), "x\0y", 3);
	assert_string_equal(str(qp, "bin"), "\xef\xbf\xbd\xc3\xa9");
	assert_string_equal(str(qp, ""), "empty");
	assert_string_equal(str(qp, "flag"), "");
	assert_string_equal(str(qp, "e"), "");
	assert_string_equal(str(qp, "sp ace"), "1");
	assert_string_equal(str(qp, "x"), "1=2");
	assert_int_equal(json_object_size(qp), 11);
	/* path is not decoded, query is as sent */
	assert_string_equal(str(r, "path"), "/s");
	assert_string_equal(str(r, "query"), u + 3);
	json_decref(r);

	/* A decoded NUL in a name is U+FFFD; a decoded name repeats: first value kept. */
	r = json_object();
	u = "/?a%00b=1&a%00b=2&%61=1&a=2";
	assert_int_equal(http_url_split(r, u, strlen(u)), 0);
	qp = json_object_get(r, "query_params");
	assert_string_equal(json_string_value(json_object_get(qp, "a" FFFD "b")), "1");
	assert_string_equal(str(qp, "a"), "1");
	/* raw non-UTF-8 in the url */
	assert_int_equal(http_url_split(r, "/\xff?k=\xfe", 7), 0);
	assert_string_equal(str(r, "url"), "/\xef\xbf\xbd?k=\xef\xbf\xbd");
	assert_string_equal(str(r, "path"), "/\xef\xbf\xbd");
	assert_string_equal(str(json_object_get(r, "query_params"), "k"), "\xef\xbf\xbd");
	json_decref(r);
}

/* ---- bodies ---- */

enum wrap { GZIP = 16 + 15, ZLIB = 15, RAW = -15 };

/* Compress p with zlib in the given wrapping; *out is malloc'd. */
static size_t compress_buf(const uint8_t *p, size_t n, enum wrap w, uint8_t **out)
{
	z_stream zs;
	size_t cap = compressBound(n) + 64;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, (int)w, 9, Z_DEFAULT_STRATEGY), Z_OK);
	*out = malloc(cap);
	assert_non_null(*out);
	zs.next_in = (Bytef *)p;
	zs.avail_in = (uInt)n;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	deflateEnd(&zs);
	return cap - zs.avail_out;
}

static json_t *body_json(const uint8_t *p, size_t n, size_t max, const char *ce)
{
	struct http_body b;
	json_t *j;

	http_body_init(&b, max);
	/* in pieces, as it streams */
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 1000 ? n - off : 1000;

		assert_int_equal(http_body_append(&b, p + off, k), 0);
		off += k;
	}
	assert_int_equal(b.size, n);
	assert_int_equal(b.len, n < max ? n : max);
	j = http_body_to_json(&b, ce);
	assert_non_null(j);
	http_body_reset(&b);
	assert_null(b.buf);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.size, 0);
	assert_int_equal(b.max, max);
	return j;
}

static void test_body_plain(void **state)
{
	json_t *j;
	const uint8_t bin[] = {'a', 0, 'b', 0xff};

	(void)state;
	j = body_json((const uint8_t *)"hello \xc3\xa9", 8, 64, NULL);
	assert_json(j, "{\"size\":8,\"text\":\"hello \xc3\xa9\",\"truncated\":false}");
	json_decref(j);
	j = body_json((const uint8_t *)"", 0, 64, "gzip");
	assert_json(j, "{\"encoding\":\"gzip\",\"size\":0,\"text\":\"\",\"truncated\":false}");
	json_decref(j);
	j = body_json((const uint8_t *)"0123456789", 10, 4, "identity");
	assert_json(j, "{\"size\":10,\"text\":\"0123\",\"truncated\":true}");
	json_decref(j);
	/* NUL and invalid UTF-8 → base64 (with both paddings) */
	j = body_json(bin, 4, 64, NULL);
	assert_json(j, "{\"base64\":\"YQBi/w==\",\"size\":4,\"truncated\":false}");
	json_decref(j);
	j = body_json(bin, 2, 64, NULL);
	assert_json(j, "{\"base64\":\"YQA=\",\"size\":2,\"truncated\":false}");
	json_decref(j);
	j = body_json((const uint8_t *)"\xff\xfe\xfd", 3, 64, "");
	assert_json(j, "{\"base64\":\"//79\",\"size\":3,\"truncated\":false}");
	json_decref(j);
	/* a UTF-8 sequence cut by the bound is not text */
	j = body_json((const uint8_t *)"ab\xc3\xa9", 4, 3, NULL);
	assert_json(j, "{\"base64\":\"YWLD\",\"size\":4,\"truncated\":true}");
	json_decref(j);
	/* other encodings are shown as they are */
	j = body_json((const uint8_t *)"xyz", 3, 64, "br");
	assert_json(j, "{\"encoding\":\"br\",\"size\":3,\"text\":\"xyz\",\"truncated\":false}");
	json_decref(j);
	j = body_json((const uint8_t *)"xyz", 3, 64, "deflate, gzip");
	assert_json(j, "{\"encoding\":\"deflate, gzip\",\"size\":3,\"text\":\"xyz\","
		       "\"truncated\":false}");
	json_decref(j);
}

static void test_body_append_bounds(void **state)
{
	struct http_body b;
	uint8_t big[10000];
	json_t *j;

	(void)state;
	memset(big, 'x', sizeof(big));
	http_body_init(&b, 0);
	assert_int_equal(http_body_append(&b, big, sizeof(big)), 0);
	assert_int_equal(http_body_append(&b, NULL, 0), 0);
	assert_null(b.buf);
	assert_int_equal(b.size, sizeof(big));
	j = http_body_to_json(&b, "gzip");
	assert_json(j, "{\"encoding\":\"gzip\",\"size\":10000,\"text\":\"\",\"truncated\":true}");
	json_decref(j);
	http_body_reset(&b);

	http_body_init(&b, 5000);
	for (int i = 0; i < 7; i++)
		assert_int_equal(http_body_append(&b, big, 3000), 0);
	assert_int_equal(b.len, 5000);
	assert_int_equal(b.size, 21000);
	http_body_reset(&b);
	http_body_reset(&b); /* twice is fine */
	assert_int_equal(b.max, 5000);
	assert_int_equal(http_body_append(&b, big, 10), 0);
	assert_int_equal(b.len, 10);
	http_body_reset(&b);
}

/* Pieces that fit go into the room already there: no realloc per piece (the buffer used to be
 * resized to twice the body at every piece, shrinking a fresh 4 KiB one to 2 x 100 bytes). */
static void test_body_append_grows_by_doubling(void **state)
{
	struct http_body b;
	uint8_t piece[100];
	size_t held = 0;

	(void)state;
	memset(piece, 'y', sizeof(piece));
	http_body_init(&b, 1 << 20);
	b.held_sum = &held;
	assert_int_equal(http_body_append(&b, piece, sizeof(piece)), 0);
	assert_int_equal(b.cap, 4096);
	for (int i = 1; i < 40; i++) {
		uint8_t *before = b.buf;

		assert_int_equal(http_body_append(&b, piece, sizeof(piece)), 0);
		assert_int_equal(b.cap, 4096);
		assert_ptr_equal(b.buf, before);
	}
	assert_int_equal(http_body_append(&b, piece, sizeof(piece)), 0); /* 4,100 bytes */
	assert_int_equal(b.cap, 8192);
	assert_int_equal(held, 8192);
	assert_int_equal(b.len, 4100);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.buf[i], 'y');
	http_body_reset(&b);
	assert_int_equal(held, 0);
}

/* A whole body is kept in an allocation of its size (counted in held_sum), cut at max; a byte
 * more after it grows the buffer as http_body_append() does. */
static void test_body_append_whole(void **state)
{
	static const struct {
		size_t max, n, keep;
	} cases[] = {
	    {1 << 20, 357, 357}, {100, 600, 100}, {0, 600, 0}, {1 << 20, 0, 0},
	};
	uint8_t piece[600];

	(void)state;
	memset(piece, 'z', sizeof(piece));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t held = 0, keep = cases[c].keep;
		struct http_body b;

		http_body_init(&b, cases[c].max);
		b.held_sum = &held;
		assert_int_equal(http_body_append_whole(&b, piece, cases[c].n), 0);
		assert_int_equal(b.size, cases[c].n);
		assert_int_equal(b.len, keep);
		assert_int_equal(b.cap, keep);
		assert_int_equal(held, keep);
		if (keep && keep < cases[c].max) {
			assert_int_equal(http_body_append(&b, piece, 1), 0);
			assert_int_equal(b.cap, 2 * keep);
			assert_int_equal(held, 2 * keep);
		}
		for (size_t k = 0; k < b.len; k++)
			assert_int_equal(b.buf[k], 'z');
		http_body_reset(&b);
		assert_int_equal(held, 0);
	}
}

static void check_decoded(enum wrap w, const char *ce)
{
	const char *text = "{\"hello\": \"w\xc3\xb6rld\", \"n\": [1,2,3,4,5,6,7,8,9,10,11,12]}";
	uint8_t *z;
	size_t zn = compress_buf((const uint8_t *)text, strlen(text), w, &z);
	json_t *j = body_json(z, zn, HTTP_BODY_DEFAULT_MAX, ce);

	assert_string_equal(str(j, "text"), text);
	assert_string_equal(str(j, "encoding"), ce);
	assert_int_equal(json_integer_value(json_object_get(j, "size")), zn);
	assert_int_equal(json_integer_value(json_object_get(j, "decoded_size")), strlen(text));
	assert_false(json_boolean_value(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "decode_error"));
	json_decref(j);
	free(z);
}

static void test_body_gzip_deflate(void **state)
{
	(void)state;
	check_decoded(GZIP, "gzip");
	check_decoded(GZIP, "x-gzip");
	check_decoded(GZIP, " GZip ");
	check_decoded(GZIP, "identity, gzip");
	check_decoded(ZLIB, "deflate");
	check_decoded(RAW, "deflate");
	check_decoded(RAW, "Deflate");
}

static void test_body_gzip_members_and_binary(void **state)
{
	uint8_t *z1, *z2, *cat, bin[300];
	size_t n1, n2;
	json_t *j;

	(void)state;
	/* Two gzip members one after another decode as one body. */
	n1 = compress_buf((const uint8_t *)"abc", 3, GZIP, &z1);
	n2 = compress_buf((const uint8_t *)"def", 3, GZIP, &z2);
	cat = malloc(n1 + n2);
	assert_non_null(cat);
	memcpy(cat, z1, n1);
	memcpy(cat + n1, z2, n2);
	j = body_json(cat, n1 + n2, 64, "gzip");
	assert_string_equal(str(j, "text"), "abcdef");
	json_decref(j);
	free(z1);
	free(z2);
	free(cat);

	/* Decoded binary → base64 of the decoded bytes. */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	n1 = compress_buf(bin, sizeof(bin), GZIP, &z1);
	j = body_json(z1, n1, 4096, "gzip");
	assert_null(json_object_get(j, "text"));
	assert_int_equal(json_integer_value(json_object_get(j, "decoded_size")), sizeof(bin));
	assert_string_equal(
	    str(j, "base64"),
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1"
	    "Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWpr"
	    "bG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6Ch"
	    "oqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
	    "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwN"
	    "Dg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSor");
	json_decref(j);
	free(z1);
}

static void test_body_truncation(void **state)
{
	char text[20000];
	uint8_t *z;
	size_t zn;
	json_t *j;

	(void)state;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + (i * 7 + i / 13) % 26);

	/* Decoded output exactly max: not truncated. */
	zn = compress_buf((const uint8_t *)text, sizeof(text), GZIP, &z);
	j = body_json(z, zn, sizeof(text), "gzip");
	assert_false(json_boolean_value(json_object_get(j, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(j, "decoded_size")), sizeof(text));
	json_decref(j);
	assert_true(zn < sizeof(text) - 1);

	/* Decoded output one past max: truncated, stops at max. */
	j = body_json(z, zn, sizeof(text) - 1, "gzip");
	assert_true(json_boolean_value(json_object_get(j, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(j, "decoded_size")), sizeof(text) - 1);
	assert_memory_equal(str(j, "text"), text, sizeof(text) - 1);
	assert_null(json_object_get(j, "decode_error"));
	json_decref(j);

	/* The compressed body cut by the bound: what decodes is shown, no error. */
	j = body_json(z, zn, zn / 2, "gzip");
	assert_true(json_boolean_value(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "decode_error"));
	assert_true(json_integer_value(json_object_get(j, "decoded_size")) > 0);
	assert_true(json_integer_value(json_object_get(j, "decoded_size")) <
		    (json_int_t)sizeof(text));
	assert_memory_equal(str(j, "text"), text,
			    (size_t)json_integer_value(json_object_get(j, "decoded_size")));
	json_decref(j);

	/* The same bytes when the body really ends there (a stream flushed but never finished,
	 * as some servers send): what decodes is shown, marked incomplete, no error. */
	j = body_json(z, zn / 2, HTTP_BODY_DEFAULT_MAX, "gzip");
	assert_false(json_boolean_value(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "decode_error"));
	assert_true(json_is_true(json_object_get(j, "decode_incomplete")));
	assert_true(json_integer_value(json_object_get(j, "decoded_size")) > 0);
	json_decref(j);

	/* Ending before any output: an error, raw kept. */
	j = body_json(z, 4, HTTP_BODY_DEFAULT_MAX, "gzip");
	assert_non_null(str(j, "decode_error"));
	assert_null(json_object_get(j, "decoded_size"));
	assert_non_null(str(j, "base64"));
	json_decref(j);
	free(z);
}

static void test_body_bomb(void **state)
{
	size_t n = 1u << 20;
	uint8_t *zeros = calloc(1, n), *z;
	size_t zn;
	json_t *j;

	(void)state;
	assert_non_null(zeros);
	zn = compress_buf(zeros, n, GZIP, &z);
	assert_true(zn < 2048);
	j = body_json(z, zn, HTTP_BODY_DEFAULT_MAX, "gzip");
	assert_true(json_boolean_value(json_object_get(j, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(j, "size")), zn);
	assert_int_equal(json_integer_value(json_object_get(j, "decoded_size")),
			 HTTP_BODY_DEFAULT_MAX);
	/* zeros are not text */
	assert_int_equal(json_string_length(json_object_get(j, "base64")),
			 (HTTP_BODY_DEFAULT_MAX + 2) / 3 * 4);
	json_decref(j);
	free(z);

	zn = compress_buf(zeros, n, ZLIB, &z);
	j = body_json(z, zn, 1000, "deflate");
	assert_true(json_boolean_value(json_object_get(j, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(j, "decoded_size")), 1000);
	json_decref(j);
	free(z);
	free(zeros);
}

static void test_body_invalid(void **state)
{
	const char *junk = "this is not gzip at all";
	uint8_t *z;
	size_t zn;
	json_t *j;

	(void)state;
	j = body_json((const uint8_t *)junk, strlen(junk), 64, "gzip");
	assert_string_equal(str(j, "text"), junk);
	assert_string_equal(str(j, "encoding"), "gzip");
	assert_non_null(str(j, "decode_error"));
	assert_null(json_object_get(j, "decoded_size"));
	assert_false(json_boolean_value(json_object_get(j, "truncated")));
	json_decref(j);

	j = body_json((const uint8_t *)"\xff\xff\xff\xff", 4, 64, "deflate");
	assert_non_null(str(j, "decode_error"));
	assert_string_equal(str(j, "base64"), "/////w==");
	json_decref(j);

	/* A corrupted gzip trailer (CRC) is an error. */
	zn = compress_buf((const uint8_t *)"hello hello hello", 17, GZIP, &z);
	z[zn - 8] ^= 0xff;
	j = body_json(z, zn, 64, "gzip");
	assert_non_null(str(j, "decode_error"));
	assert_non_null(str(j, "base64"));
	json_decref(j);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers_join_and_case),
	    cmocka_unit_test(test_headers_binary),
	    cmocka_unit_test(test_cookies_request),
	    cmocka_unit_test(test_cookies_from_headers),
	    cmocka_unit_test(test_url_forms),
	    cmocka_unit_test(test_url_decoding),
	    cmocka_unit_test(test_body_plain),
	    cmocka_unit_test(test_body_append_bounds),
	    cmocka_unit_test(test_body_append_grows_by_doubling),
	    cmocka_unit_test(test_body_append_whole),
	    cmocka_unit_test(test_body_gzip_deflate),
	    cmocka_unit_test(test_body_gzip_members_and_binary),
	    cmocka_unit_test(test_body_truncation),
	    cmocka_unit_test(test_body_bomb),
	    cmocka_unit_test(test_body_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
