// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the HPACK decoder (dissect/hpack.c). Oracles: the examples of RFC 7541
 * Appendix C (byte strings and the fields they decode to), and nghttp2's HPACK deflater
 * (blocks it encodes, Huffman strings of every byte value included, must decode to the
 * fields it was given). Then what nghttp2 cannot do: a table whose start was not seen
 * (unknown references with their index), its rebuilding from literals with incremental
 * indexing, size updates, eviction, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "dissect/hpack.h"

#define MAXF 128

/* The fields of a block as "name: value" lines; unknown parts as "?<index>". */
struct got {
	char line[MAXF][600];
	unsigned n;
};

static int collect(void *ctx, const struct hpack_field *f)
{
	struct got *g = ctx;
	char name[256], value[256];

	assert_true(g->n < MAXF);
	if (f->name)
		snprintf(name, sizeof(name), "%.*s", (int)f->name_len, (const char *)f->name);
	else
		snprintf(name, sizeof(name), "?%u", f->index);
	if (f->value)
		snprintf(value, sizeof(value), "%.*s", (int)f->value_len, (const char *)f->value);
	else
		snprintf(value, sizeof(value), "?%u", f->index);
	snprintf(g->line[g->n++], sizeof(g->line[0]), "%s: %s", name, value);
	return 0;
}

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	unsigned v;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* Decode hex with t; check the fields ("name: value", ..., NULL) and the error. */
static void expect(struct hpack_table *t, const char *hex, enum hpack_error err, ...)
{
	uint8_t b[1024];
	size_t n = unhex(hex, b);
	struct hpack_result res;
	struct got g = {.n = 0};
	const char *want;
	unsigned i = 0;
	va_list ap;

	assert_int_equal(hpack_decode(t, b, n, false, collect, &g, &res), 0);
	assert_int_equal(res.error, err);
	va_start(ap, err);
	while ((want = va_arg(ap, const char *))) {
		assert_true(i < g.n);
		assert_string_equal(g.line[i], want);
		i++;
	}
	va_end(ap);
	assert_int_equal(g.n, i);
}

/* RFC 7541 C.4: requests with Huffman coding, one table across the three. */
static void test_rfc_examples(void **state)
{
	struct hpack_table t;

	(void)state;
	hpack_init(&t, true, 1u << 20);
	expect(&t, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", HPACK_OK, ":method: GET",
	       ":scheme: http", ":path: /", ":authority: www.example.com", NULL);
	assert_int_equal(hpack_known(&t), 1);
	assert_int_equal(t.size, 57);
	expect(&t, "8286 84be 5886 a8eb 1064 9cbf", HPACK_OK, ":method: GET", ":scheme: http",
	       ":path: /", ":authority: www.example.com", "cache-control: no-cache", NULL);
	assert_int_equal(t.size, 110);
	expect(&t, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", HPACK_OK,
	       ":method: GET", ":scheme: https", ":path: /index.html",
	       ":authority: www.example.com", "custom-key: custom-value", NULL);
	assert_int_equal(hpack_known(&t), 3);
	assert_int_equal(t.size, 164);
	hpack_free(&t);
}

/* RFC 7541 C.3: the same without Huffman, and C.1's integer examples through an index. */
static void test_rfc_examples_plain(void **state)
{
	struct hpack_table t;

	(void)state;
	hpack_init(&t, true, 1u << 20);
	expect(&t, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", HPACK_OK, ":method: GET",
	       ":scheme: http", ":path: /", ":authority: www.example.com", NULL);
	expect(&t, "8286 84be 5808 6e6f 2d63 6163 6865", HPACK_OK, ":method: GET", ":scheme: http",
	       ":path: /", ":authority: www.example.com", "cache-control: no-cache", NULL);
	hpack_free(&t);
}

/* nghttp2's deflater as the encoder: every byte value, Huffman where it is shorter. */
static void test_against_nghttp2(void **state)
{
	nghttp2_hd_deflater *def;
	struct hpack_table t;
	uint8_t out[16384], vals[8][300];
	unsigned round, i, k;

	(void)state;
	assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
	hpack_init(&t, true, 1u << 20);
	srand(7);
	for (round = 0; round < 200; round++) {
		nghttp2_nv nv[8];
		struct hpack_result res;
		struct got g = {.n = 0};
		unsigned nfields = 1 + round % 8;
		ssize_t rv;

		for (i = 0; i < nfields; i++) {
			size_t len = (size_t)(rand() % 200);
			static const char *names[] = {"x-a",	"user-agent", "x-random",
						      "cookie", ":path",      "content-type",
						      "x-b",	"accept"};

			for (k = 0; k < len; k++) {
				/* text mostly (Huffman shortens it), every byte value now and then
				 */
				vals[i][k] = rand() % 4 ? (uint8_t)('a' + rand() % 26)
							: (uint8_t)(round + k);
				if (!vals[i][k] || vals[i][k] == '\n' || vals[i][k] == '\r')
					vals[i][k] =
					    'z'; /* 256 values are tested in test_huffman */
			}
			vals[i][len] = 0;
			/* repeat values so that indexed references happen */
			if (round % 3 == 0 && len > 20)
				len = 20, vals[i][20] = 0;
			nv[i].name = (uint8_t *)names[(round + i) % 8];
			nv[i].namelen = strlen(names[(round + i) % 8]);
			nv[i].value = vals[i];
			nv[i].valuelen = len;
			nv[i].flags = NGHTTP2_NV_FLAG_NONE;
		}
		rv = nghttp2_hd_deflate_hd(def, out, sizeof(out), nv, nfields);
		assert_true(rv > 0);
		assert_int_equal(hpack_decode(&t, out, (size_t)rv, false, collect, &g, &res), 0);
		assert_int_equal(res.error, HPACK_OK);
		assert_int_equal(res.unknown_refs, 0);
		assert_int_equal(g.n, nfields);
		for (i = 0; i < nfields; i++) {
			char want[512];

			snprintf(want, sizeof(want), "%.*s: %.*s", (int)nv[i].namelen,
				 (const char *)nv[i].name, (int)nv[i].valuelen,
				 (const char *)nv[i].value);
			assert_string_equal(g.line[i], want);
		}
	}
	nghttp2_hd_deflate_del(def);
	hpack_free(&t);
}

struct value_cap {
	uint8_t v[128];
	size_t n;
};

static int capture_value(void *ctx, const struct hpack_field *f)
{
	struct value_cap *c = ctx;

	assert_non_null(f->value);
	assert_true(f->value_len <= sizeof(c->v));
	memcpy(c->v, f->value, f->value_len);
	c->n = f->value_len;
	return 0;
}

/*
 * Every byte value through nghttp2's Huffman encoder (nghttp2_hd_huff_encode is internal;
 * the deflater Huffman-codes a value when that is shorter, which 60 'a's (5 bits each)
 * around any one symbol make sure of).
 */
static void test_huffman(void **state)
{
	static const uint8_t www[] = {0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a,
				      0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff};
	nghttp2_hd_deflater *def;
	struct hpack_table t;
	uint8_t out[4096], val[64], dec[64];
	unsigned sym;
	long n;

	(void)state;
	n = hpack_huffman_decode(www, sizeof(www), dec, sizeof(dec));
	assert_int_equal(n, 15);
	assert_memory_equal(dec, "www.example.com", 15);
	/* padding longer than 7 bits, or not all ones, or EOS inside: errors */
	assert_int_equal(hpack_huffman_decode((const uint8_t *)"\xff\xff", 2, dec, 64), -1);
	assert_int_equal(hpack_huffman_decode((const uint8_t *)"\x00", 1, dec, 64), -1);
	assert_int_equal(hpack_huffman_decode((const uint8_t *)"\xff\xff\xff\xff", 4, dec, 64), -1);
	/* '0' is 00000 (5 bits) + 111 padding */
	assert_int_equal(hpack_huffman_decode((const uint8_t *)"\x07", 1, dec, 64), 1);
	assert_int_equal(dec[0], '0');
	assert_int_equal(hpack_huffman_decode(NULL, 0, dec, 64), 0);
	/* the output bound is kept */
	assert_int_equal(hpack_huffman_decode(www, sizeof(www), dec, 10), -1);

	assert_int_equal(nghttp2_hd_deflate_new(&def, 0), 0); /* no indexing: every value sent */
	hpack_init(&t, true, 1u << 20);
	for (sym = 0; sym < 256; sym++) {
		nghttp2_nv nv = {(uint8_t *)"x-sym", val, 5, sizeof(val), NGHTTP2_NV_FLAG_NONE};
		struct hpack_result res;
		struct value_cap cap = {.n = 0};
		ssize_t rv;

		memset(val, 'a', sizeof(val));
		val[30] = (uint8_t)sym;
		rv = nghttp2_hd_deflate_hd(def, out, sizeof(out), &nv, 1);
		assert_true(rv > 0);
		assert_int_equal(
		    hpack_decode(&t, out, (size_t)rv, false, capture_value, &cap, &res), 0);
		assert_int_equal(res.error, HPACK_OK);
		assert_int_equal(res.fields, 1);
		assert_int_equal(cap.n, sizeof(val));
		assert_memory_equal(cap.v, val, sizeof(val));
		assert_true((size_t)rv < sizeof(val)); /* it was Huffman-coded (shorter) */
	}
	nghttp2_hd_deflate_del(def);
	hpack_free(&t);
}

/* The table's start was not seen: references to it are unknown, with their index. */
/*
 * The table-driven Huffman decoder against nghttp2's inflater on random strings: each is
 * sent as a Huffman-coded value (a literal without indexing) to a fresh inflater, whose
 * value or error must be ours. Random bytes are mostly invalid (padding, EOS); strings that
 * nghttp2's deflater coded are valid and must decode to what was coded.
 */
static long nghttp2_huffman(const uint8_t *h, size_t n, uint8_t *out, size_t out_max)
{
	uint8_t blk[160] = {0x00, 0x01, 'x', (uint8_t)(0x80 | n)};
	nghttp2_hd_inflater *inf;
	nghttp2_nv nv;
	int flags = 0;
	long got = -1;
	ssize_t rv;

	assert_true(n < 127);
	memcpy(blk + 4, h, n);
	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, blk, 4 + n, 1);
	if (rv >= 0 && (flags & NGHTTP2_HD_INFLATE_EMIT) && nv.valuelen <= out_max) {
		memcpy(out, nv.value, nv.valuelen);
		got = (long)nv.valuelen;
	}
	nghttp2_hd_inflate_del(inf);
	return got;
}

static void test_huffman_random(void **state)
{
	uint8_t in[126], a[256], b[256], out[4096];
	unsigned seed = 13, valid = 0;
	nghttp2_hd_deflater *def;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(in));
		long x, y;

		for (size_t i = 0; i < n; i++)
			in[i] =
			    (uint8_t)(round & 1 ? rand_r(&seed) : 0xf0 | (rand_r(&seed) & 0x0f));
		x = hpack_huffman_decode(in, n, a, sizeof(a));
		y = nghttp2_huffman(in, n, b, sizeof(b));
		assert_int_equal(x, y);
		if (x > 0)
			assert_memory_equal(a, b, (size_t)x);
	}
	/* valid strings: values the deflater Huffman-codes (mostly printable text) */
	assert_int_equal(nghttp2_hd_deflate_new(&def, 0), 0);
	for (int round = 0; round < 5000; round++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 100), hl;
		nghttp2_nv nv = {(uint8_t *)"x", in, 1, n, NGHTTP2_NV_FLAG_NO_INDEX};
		ssize_t rv;

		for (size_t i = 0; i < n; i++)
			in[i] =
			    (uint8_t)(rand_r(&seed) % 8 ? 'a' + rand_r(&seed) % 26 : rand_r(&seed));
		rv = nghttp2_hd_deflate_hd(def, out, sizeof(out), &nv, 1);
		assert_true(rv > 3);
		/* 0x10 never-indexed, name "x" (3 bytes), then the value's string */
		if (!(out[3] & 0x80) || (out[3] & 0x7f) == 0x7f)
			continue; /* sent as it is, or a long length prefix */
		hl = out[3] & 0x7f;
		assert_int_equal(hpack_huffman_decode(out + 4, hl, a, sizeof(a)), (long)n);
		assert_memory_equal(a, in, n);
		valid++;
	}
	nghttp2_hd_deflate_del(def);
	assert_true(valid > 1000);
}

static void test_unknown_table(void **state)
{
	struct hpack_table t;

	(void)state;
	hpack_init(&t, false, 1u << 20);
	/* :method GET (static), index 62 (dynamic, unknown), literal with indexed name 63 */
	expect(&t, "82 be 7f00 0161", HPACK_OK, ":method: GET", "?62: ?62", "?63: a", NULL);
	/* that literal was not indexed (0x7f00 is 6.2.1 with index 63: it was!) */
	assert_int_equal(hpack_known(&t), 1);
	/* now 62 is the entry just added (unknown name, value "a"); 63 is what was 62 */
	expect(&t, "be bf", HPACK_OK, "?62: a", "?63: ?63", NULL);
	/* a new literal with a new name: fully known, and indices shift by one */
	expect(&t, "40 0678 2d74 6573 74 0131", HPACK_OK, "x-test: 1", NULL);
	expect(&t, "be bf c0 c1", HPACK_OK, "x-test: 1", "?63: a", "?64: ?64", "?65: ?65", NULL);
	/* literals without indexing and never indexed insert nothing */
	expect(&t, "00 0178 0179 10 0178 017a", HPACK_OK, "x: y", "x: z", NULL);
	assert_int_equal(hpack_known(&t), 2);
	/* a size update to 0 empties everything: the table is fully known from here */
	expect(&t, "20", HPACK_OK, NULL);
	assert_int_equal(hpack_known(&t), 0);
	expect(&t, "be", HPACK_ERR_INDEX, NULL);
	/* an error makes the table unknown again (what the block did after it is lost) */
	expect(&t, "3f e1 1f", HPACK_OK, NULL); /* size update to 4096 */
	expect(&t, "be", HPACK_OK, "?62: ?62", NULL);
	hpack_free(&t);
}

/* Size updates and eviction with a table whose start was not seen. */
static void test_size_updates(void **state)
{
	struct hpack_table t;

	(void)state;
	hpack_init(&t, false, 1u << 20);
	/* size 100: an entry "x: 1" is 34 bytes, "x: 20" 35 */
	expect(&t, "3f 45", HPACK_OK, NULL);
	assert_int_equal(t.max_size, 100);
	expect(&t, "40 0178 0131", HPACK_OK, "x: 1", NULL);
	/* 34 known bytes in 100: an unknown entry (>= 32 bytes) may still be there */
	assert_true(t.tail_unknown);
	expect(&t, "be bf", HPACK_OK, "x: 1", "?63: ?63", NULL);
	expect(&t, "40 0178 0232 30", HPACK_OK, "x: 20", NULL);
	/* 69 + 32 > 100: no unknown entry can be left */
	assert_false(t.tail_unknown);
	expect(&t, "40 0178 0133", HPACK_OK, "x: 3", NULL);
	assert_int_equal(hpack_known(&t), 2); /* "x: 1" evicted */
	expect(&t, "be bf", HPACK_OK, "x: 3", "x: 20", NULL);
	expect(&t, "c0", HPACK_ERR_INDEX, NULL);
	/* an update after a field is an error */
	expect(&t, "82 20", HPACK_ERR_SIZE_UPDATE, ":method: GET", NULL);
	/* an entry bigger than the table empties it */
	hpack_free(&t);
	hpack_init(&t, true, 1u << 20);
	expect(&t, "3f 11 40 0178 0131", HPACK_OK, "x: 1", NULL); /* size 48 */
	expect(&t, "40 0178 1161 6161 6161 6161 6161 6161 6161 6161 6161", HPACK_OK,
	       "x: aaaaaaaaaaaaaaaaa", NULL);
	assert_int_equal(hpack_known(&t), 0);
	hpack_free(&t);
}

/* The name of an entry the insertion evicts (RFC 7541 4.4): copied before eviction. */
static void test_insert_evicts_own_name(void **state)
{
	struct hpack_table t;

	(void)state;
	hpack_init(&t, true, 1u << 20);
	expect(&t, "3f 13 40 0678 2d6e 616d 6501 31", HPACK_OK, "x-name: 1", NULL); /* size 50 */
	/* literal with incremental indexing, name from index 62: evicts 62 itself */
	expect(&t, "7e 0132", HPACK_OK, "x-name: 2", NULL);
	expect(&t, "be", HPACK_OK, "x-name: 2", NULL);
	hpack_free(&t);
}

static void test_malformed(void **state)
{
	struct hpack_table t;
	struct hpack_result res;
	uint8_t b[16];
	size_t n;

	(void)state;
	hpack_init(&t, true, 1u << 20);
	expect(&t, "80", HPACK_ERR_INDEX, NULL); /* index 0 */
	hpack_free(&t);
	hpack_init(&t, true, 1u << 20);
	expect(&t, "ff ff ff ff ff 0f", HPACK_ERR_INTEGER, NULL); /* over 32 bits */
	hpack_free(&t);
	hpack_init(&t, true, 1u << 20);
	expect(&t, "40 81 00 0131", HPACK_ERR_HUFFMAN, NULL); /* bad Huffman name */
	hpack_free(&t);
	hpack_init(&t, true, 1u << 20);
	expect(&t, "40 0578 2d", HPACK_ERR_TRUNCATED, NULL); /* string past the end */
	/* cut: the same ending is not an error, but the table is unknown after it */
	hpack_free(&t);
	hpack_init(&t, true, 1u << 20);
	n = unhex("82 40 0578 2d", b);
	hpack_decode(&t, b, n, true, NULL, NULL, &res);
	assert_int_equal(res.error, HPACK_OK);
	assert_int_equal(res.fields, 1);
	assert_true(t.tail_unknown);
	hpack_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_examples),    cmocka_unit_test(test_rfc_examples_plain),
	    cmocka_unit_test(test_against_nghttp2), cmocka_unit_test(test_huffman),
	    cmocka_unit_test(test_huffman_random),  cmocka_unit_test(test_unknown_table),
	    cmocka_unit_test(test_size_updates),    cmocka_unit_test(test_insert_evicts_own_name),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
