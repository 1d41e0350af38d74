// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: HTTP/1 heads kept compact (lib/node/dissect/http1_fields.c). Each message is
 * written by h1_head_write() and compared with the jansson tree of the same message built by
 * http_common.h's functions, as http1.c built it before (../fuzz/h1_fields_ref.h), and the
 * entry-level accessors are checked against the tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <zlib.h>

#include "../fuzz/h1_fields_ref.h"

#define F(n, v)	 {n, v, sizeof(n) - 1, sizeof(v) - 1, false}
#define T(n, v)	 {n, v, sizeof(n) - 1, sizeof(v) - 1, true}
#define NF(a)	 (sizeof(a) / sizeof((a)[0]))

static void check(const struct h1_ref_msg *m)
{
	char *why = NULL;

	if (h1_ref_check(m, &why))
		fail_msg("%s", why ? why : "(no text)");
}

static void test_request_heads(void **state)
{
	static const struct h1_ref_field plain[] = {
	    F("Host", "example.com"), F("User-Agent", "wrk"), F("Accept", "*/*"),
	};
	static const struct h1_ref_field repeated[] = {
	    F("Accept", "a/b"), F("ACCEPT", "c/d"), F("accept", " \t"),
	    F("X-Pad", "\t  padded value \t "), F("Cookie", "x=1; y=\"2\"; x=3"),
	    F("cookie", "z=4; bad; =5"), F("Content-Type", "application/json"),
	    F("content-type", "charset=utf-8"),
	};
	static const struct h1_ref_field binary[] = {
	    F("X-\xff\xfe", "v\xc3\x28w"), F("X-Nul", "a\0b"), F("X-\0name", "n"),
	    F("x-\xff\xfe", "second"), F("Empty", ""),
	};
	const char *urls[] = {
	    "/", "/a/b?x=1&y=%41&x=2&z&=v&&w=a+b#frag", "/p#only?not-query",
	    "http://host:80", "http://host:80?q=1", "HTTP://h/p/q?r", "/%zz?%zz=%4", "/?a=%00b&%00=c",
	    "/\xff?\xfe=\xfd", "*", "host:443", "/q?query=%7Bx%7D&operationName=O",
	};

	(void)state;
	for (size_t i = 0; i < NF(urls); i++) {
		struct h1_ref_msg m = {.request = true, .method = "GET", .line = urls[i],
				       .line_len = strlen(urls[i]), .major = 1, .minor = 1,
				       .fields = plain, .nfields = NF(plain)};

		check(&m);
		m.fields = repeated;
		m.nfields = NF(repeated);
		check(&m);
		m.fields = binary;
		m.nfields = NF(binary);
		m.minor = 0;
		check(&m);
	}
}

/* Plain names are lower-cased eight bytes at a time: every byte next to A-Z and a-z at every
 * place of a word and of the tail, repeated names told apart past the first word; non-plain
 * names and values beside them (the byte-wise way). */
static void test_name_case(void **state)
{
	static const struct h1_ref_field names[] = {
	    F("@AZ[`az{", "1"), F("X@AZ[`az{~", "2"), F("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "3"),
	    F("X-Forwarded-For", "a"), F("x-forwarded-FOR", "b"), F("X-Forwarded-Fos", "c"),
	    F("A", "d"), F("Z", "e"), F("^_~|", "f"), F("X-\"Q\"", "g"), F("X-Value", "q\"v"),
	    F("abcdefgH", "h"), F("ABCDEFGH", "i"), F("abcdefghI", "j"),
	    /* four to seven bytes: two overlapping words of four */
	    F("ABCD", "k"), F("@Z[A`", "l"), F("aBcDeF", "m"), F("ZZZZZZZ", "n"), F("Ab{", "o"),
	};
	struct h1_ref_msg m = {.request = false, .status = 200, .line = "OK", .line_len = 2,
			       .major = 1, .minor = 1, .fields = names, .nfields = NF(names)};

	(void)state;
	check(&m);
}

static void test_many_fields_and_params(void **state)
{
	static struct h1_ref_field many[600];
	static char names[600][16], url[8192];
	size_t o = 0;

	(void)state;
	/* Past the linear scan: the hash index finds the repeated names. */
	for (size_t i = 0; i < NF(many); i++) {
		snprintf(names[i], sizeof(names[i]), "X-%zu", i % 150);
		many[i] = (struct h1_ref_field){names[i], "v", strlen(names[i]), 1, i % 7 == 3};
	}
	o += (size_t)snprintf(url + o, sizeof(url) - o, "/many?");
	for (size_t i = 0; i < 300; i++)
		o += (size_t)snprintf(url + o, sizeof(url) - o, "p%zu=%zu&", i % 40, i);
	{
		struct h1_ref_msg m = {.request = true, .method = "POST", .line = url, .line_len = o,
				       .major = 1, .minor = 1, .fields = many, .nfields = NF(many)};

		check(&m);
		/* just under and at the number of pairs written without a tree */
		m.line = "/?a=1&b=2&a=3&c&d=%41%42&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&"
			 "p=1&q=1&r=1&s=1&t=1&u=1&v=1&w=1&x=1&y=1&z=1&A=1&B=1&C=1&D=1&E=1";
		m.line_len = strlen(m.line);
		check(&m);
		m.line = "/?a=1&b=2&a=3&c&d=%41%42&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&"
			 "p=1&q=1&r=1&s=1&t=1&u=1&v=1&w=1&x=1&y=1&z=1&A=1&B=1&C=1&D=1&E=1&F=1";
		m.line_len = strlen(m.line);
		check(&m);
	}
}

static void test_responses_and_bodies(void **state)
{
	static const struct h1_ref_field hdrs[] = {
	    F("Content-Type", "text/html"), F("Set-Cookie", "a=1; Path=/"),
	    F("set-cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
	    F("Set-Cookie", "a=3"), T("X-Checksum", "abc"), T("x-checksum", "def"),
	};
	static const struct h1_ref_field gz[] = {F("Content-Encoding", "gzip")};
	static const struct h1_ref_field br[] = {F("Content-Encoding", "br")};
	static const struct h1_ref_field id[] = {F("Content-Encoding", "identity")};
	const char *reasons[] = {"OK", "", "Not \xff Found", "a\0b"};
	uint8_t zbuf[256];
	uLongf zlen = sizeof(zbuf);
	static const uint8_t bin[] = {0, 1, 2, 0xff, 0xfe, 'a'};

	(void)state;
	assert_int_equal(compress2(zbuf, &zlen, (const uint8_t *)"hello hello", 11, 6), Z_OK);
	for (size_t i = 0; i < NF(reasons); i++) {
		struct h1_ref_msg m = {.status = 200 + (unsigned)i, .line = reasons[i],
				       .line_len = i == 3 ? 3 : strlen(reasons[i]), .major = 1,
				       .minor = 1, .fields = hdrs, .nfields = NF(hdrs)};

		check(&m);
		m.body = true;
		m.body_max = 65536;
		m.body_bytes = (const uint8_t *)"<p>hi</p>";
		m.body_len = m.body_size = 9;
		check(&m);
		m.body_bytes = bin; /* not text: base64 */
		m.body_len = m.body_size = sizeof(bin);
		check(&m);
		m.body_max = 2; /* kept in part */
		check(&m);
		m.gap_bytes = 100;
		check(&m);
		m.cut = true;
		m.gap_bytes = 0;
		check(&m);
		m.body_len = m.body_size = 0; /* an empty body (cut before it) */
		check(&m);
		/* encodings: decoded (its own object), named only, ignored */
		m.cut = false;
		m.body_max = 65536;
		m.fields = gz;
		m.nfields = 1;
		m.body_bytes = zbuf;
		m.body_len = m.body_size = zlen;
		check(&m);
		m.gap_bytes = 3;
		check(&m);
		m.fields = br;
		check(&m);
		m.fields = id;
		m.gap_bytes = 0;
		check(&m);
	}
}

/* The entry's fields: written directly, read by entry_field_get() without a tree, and turned
 * into the tree by entry_fields() with later members after them. */
static void test_entry_compact(void **state)
{
	static const struct h1_ref_field rq[] = {
	    F("Content-Type", "application/graphql"), F("Host", "h"),
	};
	struct h1_ref_msg req = {.request = true, .method = "POST", .line = "/g?query=%7Bq%7D&x=1",
				 .major = 1, .minor = 1, .fields = rq, .nfields = NF(rq),
				 .body = true, .body_max = 100};
	struct h1_ref_msg resp = {.status = 404, .line = "Not Found", .line_len = 9, .major = 1,
				  .minor = 1};
	struct entry *e = entry_new();
	struct entry_json_buf direct = {0}, tree = {0};
	struct entry_value v;
	json_t *j;

	(void)state;
	req.line_len = strlen(req.line);
	assert_non_null(e);
	e->protocol = "http";
	snprintf(e->id, sizeof(e->id), "t-1");
	/* the response first (it can end before its request) */
	assert_int_equal(h1_entry_set(e, true, h1_ref_head(&resp)), 0);
	assert_int_equal(h1_entry_set(e, false, h1_ref_head(&req)), 0);
	assert_non_null(e->compact);
	assert_int_equal(json_object_size(e->fields), 0);
	json_object_set_new(entry_fields_rw(e), "tls", json_true()); /* what the engine adds */
	entry_field_get(e, (const char *[]){"request", "method"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_STRING);
	assert_string_equal(v.s, "POST");
	entry_field_get(e, (const char *[]){"request", "url"}, 2, &v);
	assert_string_equal(v.s, "/g?query=%7Bq%7D&x=1");
	entry_field_get(e, (const char *[]){"response", "status"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_INT);
	assert_int_equal(v.i, 404);
	entry_field_get(e, (const char *[]){"request", "content_type"}, 2, &v);
	assert_string_equal(v.s, "application/graphql");
	entry_field_get(e, (const char *[]){"response", "content_type"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_ABSENT);
	entry_field_get(e, (const char *[]){"request", "body", "text"}, 3, &v);
	assert_int_equal(v.type, ENTRY_VALUE_STRING); /* empty */
	assert_string_equal(v.s, "");
	entry_field_get(e, (const char *[]){"response", "body"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_ABSENT);
	entry_field_get(e, (const char *[]){"request", "query_params", "query"}, 3, &v);
	assert_int_not_equal(v.type, ENTRY_VALUE_ABSENT);
	entry_field_get(e, (const char *[]){"request", "query_params", "que"}, 3, &v);
	assert_int_equal(v.type, ENTRY_VALUE_ABSENT);
	entry_field_get(e, (const char *[]){"tls"}, 1, &v);
	assert_int_equal(v.type, ENTRY_VALUE_OTHER);
	assert_true(h1_entry_has(e, "request"));
	assert_false(h1_entry_has(e, "interim"));

	assert_int_equal(entry_json_append_entry(&direct, e), 0);
	assert_non_null(strstr(direct.p, "\"response\":{\"status\":404"));
	assert_non_null(strstr(direct.p, "},\"request\":{\"method\":\"POST\""));
	assert_non_null(strstr(direct.p, "},\"tls\":true}"));
	j = entry_to_json(e); /* builds the tree: same text, in the same order */
	assert_null(e->compact);
	assert_int_equal(entry_json_append(&tree, j), 0);
	assert_int_equal(direct.len, tree.len);
	assert_memory_equal(direct.p, tree.p, tree.len);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(entry_fields(e), "response"), "status")), 404);
	/* set after the tree was built: into the tree */
	assert_int_equal(h1_entry_set(e, true, h1_ref_head(&resp)), 0);
	assert_null(e->compact);
	json_decref(j);
	entry_json_buf_free(&direct);
	entry_json_buf_free(&tree);
	entry_free(e);
}

/* An HTTP/2 head's text, checked against its tree's text and, when want, the text the former
 * http2.c tree gave for it. */
static void check_h2(struct h1_head *h, const char *want)
{
	struct entry_json_buf w = {0}, t = {0};
	json_t *tree = h1_head_tree(h);

	assert_non_null(tree);
	assert_int_equal(h1_head_write(h, &w), 0);
	assert_int_equal(entry_json_append(&t, tree), 0);
	assert_int_equal(w.len, t.len);
	assert_memory_equal(w.p, t.p, w.len);
	if (want) {
		assert_int_equal(w.len, strlen(want));
		assert_memory_equal(w.p, want, w.len);
	}
	json_decref(tree);
	entry_json_buf_free(&w);
	entry_json_buf_free(&t);
}

static void ps(struct h1_head *h, enum h1_pseudo w, const char *v)
{
	assert_int_equal(h1_head_set_pseudo(h, w, (const uint8_t *)v, strlen(v)), 0);
}

static void field(struct h1_head *h, const char *n, const char *v)
{
	assert_int_equal(h1_head_add_field(h, false, n, strlen(n), v, strlen(v)), 0);
}

/* Every name a head has is found, with its joined value, and no other: heads of 1 to 40
 * fields (past the hashed index's start), names of random lengths and letters (many share
 * the 64 bits of names a list keeps), some repeated, looked up after each field is added. */
static void test_names_found(void **state)
{
	enum { MAXF = 40, PROBES = 400 };
	char names[MAXF][24], vals[MAXF][8 * MAXF], probe[24];
	unsigned seed = 11;

	(void)state;
	for (unsigned nf = 1; nf <= MAXF; nf++) {
		struct h1_head *h = h1_head_new(true);
		unsigned distinct = 0;

		for (unsigned i = 0; i < nf; i++) {
			unsigned k;
			char v[8];

			/* a third of the fields repeat an earlier name */
			if (distinct && rand_r(&seed) % 3 == 0) {
				k = (unsigned)rand_r(&seed) % distinct;
			} else {
				size_t len = 1 + (size_t)rand_r(&seed) % 20;

				k = distinct;
				for (size_t c = 0; c < len; c++)
					names[k][c] = (char)('a' + rand_r(&seed) % 4);
				names[k][len] = 0;
				for (unsigned j = 0; j < distinct; j++)
					if (!strcmp(names[j], names[k]))
						k = j;
				if (k == distinct)
					vals[distinct++][0] = 0;
			}
			snprintf(v, sizeof(v), "v%u", i);
			if (vals[k][0])
				strcat(vals[k], ", ");
			strcat(vals[k], v);
			field(h, names[k], v);
			for (unsigned j = 0; j < distinct; j++) {
				const char *got = h1_head_get(h, names[j]);

				assert_non_null(got);
				assert_string_equal(got, vals[j]);
			}
		}
		for (unsigned p = 0; p < PROBES; p++) {
			size_t len = 1 + (size_t)rand_r(&seed) % 20;
			bool known = false;

			for (size_t c = 0; c < len; c++)
				probe[c] = (char)('a' + rand_r(&seed) % 4);
			probe[len] = 0;
			for (unsigned j = 0; j < distinct; j++)
				known = known || !strcmp(names[j], probe);
			if (known)
				continue;
			assert_null(h1_head_get(h, probe));
		}
		h1_head_free(h);
	}
}

/* Content types written as they are only when plain: with a quote, a backslash, a control
 * byte, a byte that is not UTF-8, a NUL, repeated (joined), or plain; checked against the
 * tree in a request and a response. */
static void test_content_types(void **state)
{
	static const struct h1_ref_field types[][2] = {
	    {F("Content-Type", "text/plain"), F("X-A", "1")},
	    {F("Content-Type", "multipart/form-data; boundary=\"b\""), F("X-A", "1")},
	    {F("Content-Type", "a\\b"), F("X-A", "1")},
	    {F("Content-Type", "a\tb"), F("X-A", "1")},
	    {F("Content-Type", "text/\xff"), F("X-A", "1")},
	    {F("Content-Type", "text\0html"), F("X-A", "1")},
	    {F("Content-Type", "text/html"), F("content-type", "x")},
	    {F("Content-Type", "text/html"), F("content-type", "\"x\"")},
	};

	(void)state;
	for (size_t i = 0; i < NF(types); i++) {
		struct h1_ref_msg rq = {.request = true, .method = "GET", .line = "/a?b=c",
					.line_len = 6, .major = 1, .minor = 1,
					.fields = types[i], .nfields = 2};
		struct h1_ref_msg rs = {.status = 200, .line = "OK", .line_len = 2, .major = 1,
					.minor = 0, .fields = types[i], .nfields = 2};

		check(&rq);
		check(&rs);
	}
}

/* A value read (joined) while the head is still growing, then another field of that name. */
static void test_join_then_add(void **state)
{
	struct h1_head *h = h1_head_new(true);

	(void)state;
	field(h, "Accept", "a");
	field(h, "accept", "b");
	assert_string_equal(h1_head_get(h, "accept"), "a, b");
	field(h, "ACCEPT", "c");
	assert_string_equal(h1_head_get(h, "accept"), "a, b, c");
	assert_string_equal(h1_head_get(h, "accept"), "a, b, c");
	h1_head_free(h);
}

static void test_h2_heads(void **state)
{
	struct h1_head *rq = h1_head_new_h2(true), *rs = h1_head_new_h2(false);
	struct h1_head *tr = h1_head_new_h2(false), *c = h1_head_new_h2(true);
	struct http_body body;
	struct entry *e = entry_new();
	struct entry_value v;

	(void)state;
	/* a request: pseudo-headers first-wins, a split cookie, a query */
	ps(rq, H1_PS_METHOD, "GET");
	ps(rq, H1_PS_METHOD, "POST");
	ps(rq, H1_PS_PATH, "/a?b=1#f");
	ps(rq, H1_PS_AUTHORITY, "x.y");
	ps(rq, H1_PS_SCHEME, "http");
	field(rq, "User-Agent", "ua");
	field(rq, "cookie", "a=1");
	field(rq, "cookie", "b=2");
	assert_int_equal(h1_head_finish_h2(rq, -1, NULL), 0);
	assert_string_equal(h1_head_pseudo(rq, H1_PS_METHOD, NULL), "GET");
	assert_int_equal(h1_head_end_h2(rq, NULL, false, 0, false, false, NULL), 0);
	check_h2(rq,
		 "{\"method\":\"GET\",\"url\":\"/a?b=1#f\",\"path\":\"/a\",\"query\":\"b=1\","
		 "\"query_params\":{\"b\":\"1\"},\"authority\":\"x.y\",\"scheme\":\"http\","
		 "\"version\":\"2\",\"headers\":{\"user-agent\":\"ua\",\"cookie\":\"a=1; b=2\"},"
		 "\"cookies\":{\"a\":\"1\",\"b\":\"2\"}}");
	/* a response without :status, an empty later block, fields HPACK could not decode */
	field(rs, "grpc-status", "0");
	assert_int_equal(h1_head_finish_h2(rs, -1, ""), 0);
	assert_int_equal(h1_head_add_trailers(rs, tr), 0);
	assert_int_equal(
	    h1_head_end_h2(rs, NULL, false, 0, true, true, json_pack("[{s:i}]", "index", 70)), 0);
	check_h2(rs, "{\"version\":\"2\",\"headers\":{\"grpc-status\":\"0\"},\"trailers\":{},"
		     "\"headers_truncated\":true,\"headers_partial\":true,"
		     "\"unknown_headers\":[{\"index\":70}]}");
	/* CONNECT: the target is :authority; a body with a gap */
	ps(c, H1_PS_METHOD, "CONNECT");
	ps(c, H1_PS_AUTHORITY, "h:443");
	assert_int_equal(h1_head_finish_h2(c, -1, NULL), 0);
	http_body_init(&body, 4);
	assert_int_equal(http_body_append(&body, (const uint8_t *)"abcdef", 6), 0);
	assert_int_equal(h1_head_end_h2(c, &body, false, 9, false, false, NULL), 0);
	check_h2(c, NULL);
	/* the entry's getter: what the tree has, without it */
	assert_int_equal(h1_entry_set(e, false, rq), 0);
	assert_int_equal(h1_entry_set(e, true, rs), 0);
	entry_field_get(e, (const char *[]){"request", "authority"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_STRING);
	assert_string_equal(v.s, "x.y");
	entry_field_get(e, (const char *[]){"response", "status"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_ABSENT);
	entry_field_get(e, (const char *[]){"response", "headers_partial"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_BOOL);
	entry_field_get(e, (const char *[]){"response", "trailers"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_OBJECT);
	entry_field_get(e, (const char *[]){"request", "protocol"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_ABSENT);
	h1_head_free(tr);
	h1_head_free(c);
	entry_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_heads),
	    cmocka_unit_test(test_name_case),
	    cmocka_unit_test(test_many_fields_and_params),
	    cmocka_unit_test(test_responses_and_bodies),
	    cmocka_unit_test(test_entry_compact),
	    cmocka_unit_test(test_h2_heads),
	    cmocka_unit_test(test_join_then_add),
	    cmocka_unit_test(test_names_found),
	    cmocka_unit_test(test_content_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
