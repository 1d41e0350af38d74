// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: dissect/http1_scan.c, the fast path's head scanner. What it takes, read as
 * http_parser reads it; what it declines (hostile and odd heads go to http_parser); what it
 * calls incomplete (every prefix of a taken head). fuzz_http1_scan holds it to http_parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <http_parser.h>

#include "dissect/http1_scan.h"

static struct h1_scan scan;

static enum h1_scan_result scan_str(const char *s, bool request)
{
	return h1_scan_head((const uint8_t *)s, strlen(s), request, &scan);
}

static void assert_span(const char *s, struct h1_span sp, const char *want)
{
	assert_int_equal(sp.len, strlen(want));
	assert_memory_equal(s + sp.off, want, sp.len);
}

static void test_request(void **state)
{
	static const char h[] = "POST /a/b?x=1&y=%20#f HTTP/1.1\r\nHost: example.com\r\n"
				"X-Ws:  \t padded \t \r\nX-Empty:\r\ncontent-LENGTH: 12  \r\n"
				"X-High: \xc3\xa9\xff\r\n\r\nbody";

	(void)state;
	assert_int_equal(scan_str(h, true), H1_SCAN_OK);
	assert_int_equal(scan.method, HTTP_POST);
	assert_int_equal(scan.major, 1);
	assert_int_equal(scan.minor, 1);
	assert_span(h, scan.line, "/a/b?x=1&y=%20#f");
	assert_int_equal(scan.n_fields, 5);
	assert_span(h, scan.fields[0].name, "Host");
	assert_span(h, scan.fields[0].value, "example.com");
	assert_span(h, scan.fields[1].value, "padded");
	assert_span(h, scan.fields[2].name, "X-Empty");
	assert_span(h, scan.fields[2].value, "");
	assert_span(h, scan.fields[4].value, "\xc3\xa9\xff");
	assert_true(scan.content_length == 12);
	assert_false(scan.chunked);
	assert_int_equal(scan.head_len, strlen(h) - 4);
}

static void test_response(void **state)
{
	static const char ok[] = "HTTP/1.0 404  Not \tFound\r\nTransfer-Encoding: CHUNKED\r\n\r\n";
	static const char bare[] = "HTTP/1.1 204\r\n\r\n";
	static const char empty_reason[] = "HTTP/1.1 200 \r\n\r\n";

	(void)state;
	assert_int_equal(scan_str(ok, false), H1_SCAN_OK);
	assert_int_equal(scan.status, 404);
	assert_int_equal(scan.minor, 0);
	assert_span(ok, scan.line, " Not \tFound"); /* as http_parser's on_status gives it */
	assert_true(scan.chunked);
	assert_true(scan.content_length == UINT64_MAX);
	assert_int_equal(scan_str(bare, false), H1_SCAN_OK);
	assert_int_equal(scan.status, 204);
	assert_int_equal(scan.line.len, 0);
	assert_int_equal(scan.n_fields, 0);
	assert_int_equal(scan_str(empty_reason, false), H1_SCAN_OK);
	assert_int_equal(scan.line.len, 0);
}

/* Every proper prefix of a taken head is incomplete, never taken or declined. */
static void test_prefixes_incomplete(void **state)
{
	static const char *const heads[] = {
		"GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nA: \t\r\n\r\n",
		"M-SEARCH /\xff HTTP/1.0\r\n\r\n",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		const char *h = heads[k];
		bool req = h[0] != 'H';

		assert_int_equal(scan_str(h, req), H1_SCAN_OK);
		for (size_t n = 0; n < strlen(h); n++)
			assert_int_equal(h1_scan_head((const uint8_t *)h, n, req, &scan),
					 H1_SCAN_MORE);
	}
}

/* Hostile or merely unusual: all of them are http_parser's to judge. */
static void test_declined(void **state)
{
	static const char *const reqs[] = {
		"GET / HTTP/1.1\nHost: h\n\n",                       /* bare LF */
		"GET / HTTP/1.1\r\nHost: h\n\r\n",                   /* bare LF after a value */
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",              /* obs-fold */
		"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",             /* obs-fold (HT) */
		"GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",               /* control byte */
		"GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n",               /* DEL */
		"GET / HTTP/1.1\r\nX: a\rz\r\n\r\n",                 /* CR without LF */
		"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",             /* space in a name */
		"GET / HTTP/1.1\r\nName : v\r\n\r\n",                /* space before the colon */
		"GET / HTTP/1.1\r\n: v\r\n\r\n",                     /* empty name */
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nH\xc3\xa9: v\r\n\r\n",            /* non-token name */
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\t\r\n\r\n",     /* http_parser: an error */
		"GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", /* 19 digits */
		"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
		"CONNECT h:443 HTTP/1.1\r\n\r\n",
		"GET http://h/ HTTP/1.1\r\n\r\n",                    /* absolute form */
		"OPTIONS * HTTP/1.1\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",                           /* two spaces */
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"GET /a\tb HTTP/1.1\r\n\r\n",                         /* http_parser allows HT */
		"GET /\r\n\r\n",                                      /* HTTP/0.9 */
		"get / HTTP/1.1\r\n\r\n",
		"GETX / HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		/* names that go on past a name http_parser treats specially: its flags follow
		 * the prefix (the first clears its chunked flag; fuzz_http1_scan found it) */
		"POST /u HTTP/1.0\r\nTransfer-Encoding: chunked\r\nTransfer-EncodingG: x\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-LengthX: 5\r\n\r\n",
		"GET / HTTP/1.1\r\nConnectionX: close\r\n\r\n",
		"GET / HTTP/1.1\r\nProxy-Connection-X: close\r\n\r\n",
		"GET / HTTP/1.1\r\nUpgrades: h2c\r\n\r\n",
	};
	static const char *const resps[] = {
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 600 High\r\n\r\n",
		"HTTP/1.1 20 Short\r\n\r\n",
		"HTTP/1.1 2000 Long\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\n\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
	};

	static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		if (scan_str(reqs[i], true) != H1_SCAN_DECLINE)
			fail_msg("request %zu taken or incomplete: %s", i, reqs[i]);
	assert_int_equal(h1_scan_head((const uint8_t *)nul, sizeof(nul) - 1, true, &scan),
			 H1_SCAN_DECLINE);
	for (size_t i = 0; i < sizeof(resps) / sizeof(resps[0]); i++)
		if (scan_str(resps[i], false) != H1_SCAN_DECLINE)
			fail_msg("response %zu taken or incomplete: %s", i, resps[i]);
}

/* Bounds: more fields than the scan keeps, a huge value (taken: the caller bounds the
 * head), a head with no end in the bytes given. */
static void test_bounds(void **state)
{
	size_t cap = 200000, o = 0;
	char *h = malloc(cap);

	(void)state;
	assert_non_null(h);
	o += (size_t)sprintf(h + o, "GET / HTTP/1.1\r\n");
	for (unsigned i = 0; i < H1_SCAN_FIELDS_MAX; i++)
		o += (size_t)sprintf(h + o, "X-%u: v\r\n", i);
	memcpy(h + o, "\r\n", 3);
	assert_int_equal(scan_str(h, true), H1_SCAN_OK);
	assert_int_equal(scan.n_fields, H1_SCAN_FIELDS_MAX);
	o += (size_t)sprintf(h + o, "X-last: v\r\n\r\n");
	assert_int_equal(scan_str(h, true), H1_SCAN_DECLINE);

	o = (size_t)sprintf(h, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(h + o, 'a', 150000);
	o += 150000;
	memcpy(h + o, "\r\n\r\n", 5);
	assert_int_equal(scan_str(h, false), H1_SCAN_OK);
	assert_int_equal(scan.fields[0].value.len, 150000);
	assert_int_equal(h1_scan_head((const uint8_t *)h, o, false, &scan), H1_SCAN_MORE);
	free(h);
}

/* The method names are http_parser's own (its HTTP_METHOD_MAP), exactly. */
/* RFC 9110 tchar, written out (the reference for the name scan's blocks and bytes). */
static bool is_tchar(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", (int)c));
}

/* Every byte value at every place of field names of 1 to 40 bytes (the sixteen-byte blocks,
 * their ends and the bytes after them): a name of tchar is taken whole up to ':', any other
 * byte declines the head (':' ends the name early: the rest is then in the value, or the
 * name is empty). */
static void test_name_bytes(void **state)
{
	char h[128];
	struct h1_scan scan;

	(void)state;
	for (unsigned c = 0; c < 256; c++)
		for (size_t len = 1; len <= 40; len++)
			for (size_t at = 0; at < len; at++) {
				size_t o = 0;
				enum h1_scan_result r;

				o += (size_t)sprintf(h, "HTTP/1.1 200 OK\r\n");
				for (size_t k = 0; k < len; k++)
					h[o++] = (char)(k % 3 ? 'a' + k % 26 : k % 2 ? 'Z' : '-');
				h[o - len + at] = (char)c;
				o += (size_t)sprintf(h + o, ": v\r\n\r\n");
				r = h1_scan_head((const uint8_t *)h, o, false, &scan);
				if (is_tchar(c)) {
					assert_int_equal(r, H1_SCAN_OK);
					assert_int_equal(scan.n_fields, 1);
					assert_int_equal(scan.fields[0].name.len, len);
				} else if (c == ':' && at) {
					/* "name:rest: v": the value begins at rest */
					assert_int_equal(r, H1_SCAN_OK);
					assert_int_equal(scan.fields[0].name.len, at);
				} else {
					assert_int_not_equal(r, H1_SCAN_OK);
				}
			}
}

static void test_methods(void **state)
{
	(void)state;
	assert_int_equal(h1_method_of((const uint8_t *)"GET", 3), HTTP_GET);
	assert_int_equal(h1_method_of((const uint8_t *)"M-SEARCH", 8), HTTP_MSEARCH);
	assert_int_equal(h1_method_of((const uint8_t *)"DELETE", 6), HTTP_DELETE);
	assert_int_equal(h1_method_of((const uint8_t *)"GETX", 4), -1);
	assert_int_equal(h1_method_of((const uint8_t *)"GE", 2), -1);
	assert_int_equal(h1_method_of((const uint8_t *)"", 0), -1);
	assert_true(h1_method_prefix((const uint8_t *)"PROPP", 5));
	assert_true(h1_method_prefix((const uint8_t *)"GET", 3));
	assert_true(h1_method_prefix((const uint8_t *)"", 0));
	assert_false(h1_method_prefix((const uint8_t *)"GETX", 4));
	assert_false(h1_method_prefix((const uint8_t *)"X", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_prefixes_incomplete),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_methods),
	    cmocka_unit_test(test_name_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
