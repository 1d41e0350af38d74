// SPDX-License-Identifier: Apache-2.0
/* entry_json: compact JSON text of jansson trees, checked against jansson's own dump. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdio.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/platform/x86.h>
#endif

#include <cmocka.h>

#include "entry/entry.h"
#include "entry/entry_json.h"
#include "entry/json_alloc.h"

/* The writer's text must read back as j, and equal jansson's compact dump byte for byte. */
static void check_same_as_jansson(const json_t *j)
{
	struct entry_json_buf b = {0};
	char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_error_t err;
	json_t *back;

	assert_non_null(want);
	assert_int_equal(entry_json_append(&b, j), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	back = json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	assert_non_null(back);
	assert_true(json_equal(back, (json_t *)j));
	json_decref(back);
	free(want);
	entry_json_buf_free(&b);
}

static void test_scalars_and_nesting(void **state)
{
	json_t *j = json_pack("{s:s, s:i, s:I, s:b, s:b, s:n, s:[i, s, {s:[]}, {}], s:{s:{s:s}}}",
			      "id", "3-1", "port", 8080, "big", (json_int_t)-9007199254740993LL,
			      "t", 1, "f", 0, "nothing", "arr", 1, "two", "x", "empty", "obj",
			      "a", "b", "c");

	assert_non_null(j);
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

/* A plain member in one call is what the key and the value in two calls give, and jansson's
 * dump of the same object (keys and values of several lengths, empty ones too). */
static void test_plain_member(void **state)
{
	static const char *const kv[][2] = {
	    {"server", "nginx/1.22.1"}, {"", ""}, {"etag", "W/6b16e8cb-165"}, {"k", ""},
	    {"content-type", "application/json; charset=utf-8"}, {"a b", "x{y}z[0]"},
	};
	struct entry_json_buf b = {0};
	json_t *o = json_object();
	char *want;

	(void)state;
	assert_int_equal(entry_json_append_raw(&b, "{", 1), 0);
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		assert_int_equal(entry_json_append_plain_member(&b, kv[i][0], strlen(kv[i][0]),
								kv[i][1], strlen(kv[i][1]), !i),
				 0);
		json_object_set_new(o, kv[i][0], json_string(kv[i][1]));
	}
	assert_int_equal(entry_json_append_raw(&b, "}", 1), 0);
	want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(want);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	free(want);
	json_decref(o);
	entry_json_buf_free(&b);
}

static void test_string_escapes(void **state)
{
	/* Every control character, quote, backslash, slash, DEL and multi-byte UTF-8. */
	char s[64];
	size_t n = 0;
	json_t *j;

	for (int c = 1; c < 0x20; c++)
		s[n++] = (char)c;
	static const char rest[] = "\"\\/\x7f" "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

	memcpy(s + n, rest, sizeof(rest) - 1);
	n += sizeof(rest) - 1;
	j = json_object();
	json_object_set_new(j, "text", json_stringn(s, n));
	json_object_set_new(j, "nul", json_stringn("a\0b", 3));
	json_object_set_new(j, "key \"quoted\"\n", json_string("v"));
	json_object_set_new(j, "", json_string(""));
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

static void test_insertion_order(void **state)
{
	json_t *j = json_object();
	char k[8];

	/* Many keys: past the hash table's first resize, order must stay insertion order. */
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "k%d", (i * 37) % 200);
		json_object_set_new(j, k, json_integer(i));
	}
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

static void check_real(double v, const char *want)
{
	struct entry_json_buf b = {0};
	json_t *j = json_real(v);

	assert_int_equal(entry_json_append(&b, j), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	assert_true(strtod(want, NULL) == v);
	json_decref(j);
	entry_json_buf_free(&b);
}

static void test_reals_shortest(void **state)
{
	check_real(0.568, "0.568");
	check_real(0.1 + 0.2, "0.30000000000000004");
	check_real(1.0, "1.0");
	check_real(-250.0, "-250.0");
	check_real(1e300, "1e+300");
	check_real(5e-324, "4.94065645841247e-324");
	check_real(123456.789, "123456.789");
	(void)state;
}

static void test_appends_and_depth(void **state)
{
	struct entry_json_buf b = {0};
	json_t *deep = json_array(), *cur = deep;

	/* Appending keeps what is there; a failed append leaves it unchanged. */
	assert_int_equal(entry_json_append_raw(&b, "x", 1), 0);
	for (int i = 0; i < 300; i++) {
		json_t *next = json_array();

		json_array_append_new(cur, next);
		cur = next;
	}
	assert_int_not_equal(entry_json_append(&b, deep), 0);
	assert_int_equal(b.len, 1);
	assert_int_not_equal(entry_json_append(&b, NULL), 0);
	assert_int_equal(b.len, 1);
	json_decref(deep);
	entry_json_buf_free(&b);
	assert_null(b.p);
	(void)state;
}

static void test_large_string(void **state)
{
	size_t n = 300000;
	char *s = malloc(n);
	json_t *j;

	for (size_t i = 0; i < n; i++)
		s[i] = (char)(i % 7 == 0 ? '\n' : 'a' + i % 26);
	j = json_stringn(s, n);
	check_same_as_jansson(j);
	json_decref(j);
	free(s);
	(void)state;
}

/* Deterministic pseudo-random numbers (xorshift64), the same in every run. */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Escapes at every offset of strings of every length up to 200, around the 16- and 64-byte
 * blocks the writer scans, mixed with text that needs none; jansson's dump is the oracle. */
static void test_escapes_at_every_offset(void **state)
{
	static const char *const pieces[] = { "a", "\n", "\"", "\\", "\x01", "\x1f", " ", "\x7f",
					      "\xc3\xa9", "~", "\t", "0123456789abcdef" };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char s[120 * 16]; /* the most pieces, each at most 16 bytes */

	for (size_t len = 0; len <= 200; len++) {
		for (size_t at = 0; at <= len; at++) {
			json_t *j = json_array();

			memset(s, 'x', len);
			if (at < len)
				s[at] = at % 2 ? '\n' : '"';
			json_array_append_new(j, json_stringn(s, len));
			check_same_as_jansson(j);
			json_decref(j);
		}
	}
	for (int round = 0; round < 2000; round++) {
		size_t n = 0, pieces_n = next_rand(&seed) % 120;
		json_t *j = json_object();

		for (size_t i = 0; i < pieces_n; i++) {
			const char *p = pieces[next_rand(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];

			memcpy(s + n, p, strlen(p));
			n += strlen(p);
		}
		json_object_set_new(j, "s", json_stringn(s, n));
		check_same_as_jansson(j);
		json_decref(j);
	}
	(void)state;
}

/* Every ASCII byte (the escape table's entries, NUL included) at every offset of keys and
 * values of every length up to 40: through the sixteen-byte blocks, the eight-byte words and
 * the per-byte table; jansson's dump is the oracle. */
static void test_every_byte_every_offset(void **state)
{
	char s[48], key[48];

	for (unsigned c = 0; c < 0x80; c++)
		for (size_t len = 1; len <= 40; len++)
			for (size_t at = 0; at < len; at += 3) {
				json_t *j = json_object();

				memset(s, 'k', len);
				s[at] = (char)c;
				s[len - 1 - at] = (char)(c == '"' ? '\\' : c); /* a second escape */
				/* a key with NUL would not read back: NUL in values only */
				memcpy(key, s, len);
				if (!c)
					key[at] = key[len - 1 - at] = '0';
				json_object_setn_new_nocheck(j, key, len, json_stringn(s, len));
				check_same_as_jansson(j);
				json_decref(j);
			}
	(void)state;
}

/* entry_int_digits() prints what "%lld" prints: every value near zero (one to six digits,
 * both signs), each power of ten and its neighbours, and random values of every size. */
static void check_int_digits(long long v)
{
	char want[32], s[ENTRY_INT_CHARS], *d = entry_int_digits(v, s);
	int n = snprintf(want, sizeof(want), "%lld", v);

	assert_int_equal((size_t)(s + sizeof(s) - d), (size_t)n);
	assert_memory_equal(d, want, (size_t)n);
}

static void test_int_digits(void **state)
{
	uint64_t seed = 0x2545f4914f6cdd1dull;
	long long p = 1;

	for (long long v = -200000; v <= 200000; v++)
		check_int_digits(v);
	for (int k = 0; k <= 18; k++) {
		for (long long d = -1; d <= 1; d++) {
			check_int_digits(p + d);
			check_int_digits(-p - d);
		}
		if (k < 18) /* 10^18 is the last power of ten a long long holds */
			p *= 10;
	}
	check_int_digits(LLONG_MAX);
	check_int_digits(LLONG_MIN);
	for (int i = 0; i < 100000; i++) {
		/* below 2^63: negated without overflow */
		long long v = (long long)(next_rand(&seed) >> (1 + next_rand(&seed) % 63));

		check_int_digits(i % 2 ? -v : v);
	}
	(void)state;
}

static void test_integer_limits(void **state)
{
	json_t *j = json_pack("[I, I, I, I, I]", (json_int_t)0, (json_int_t)-1,
			      (json_int_t)9223372036854775807LL, (json_int_t)(-9223372036854775807LL - 1),
			      (json_int_t)1000000000000LL);

	assert_non_null(j);
	check_same_as_jansson(j);
	json_decref(j);
	(void)state;
}

/* The hand-written time text against gmtime_r and the snprintf format it replaced. */
static void test_format_time_matches_gmtime(void **state)
{
	static const uint64_t fixed[] = {
		0, 999999999, 951782400000000000ull /* 2000-02-29 */, 4107542400000000001ull
		/* 2100-03-01 */, 1700000000123456789ull, 946684799999999999ull,
		18446744073709551615ull,
	};
	uint64_t seed = 42;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 20000; i++) {
		uint64_t ts = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : next_rand(&seed);
		time_t secs = (time_t)(ts / 1000000000ull);
		char got[64], want[64];
		struct tm tm;

		assert_non_null(gmtime_r(&secs, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (unsigned)(ts % 1000000000ull));
		entry_format_time(ts, got);
		assert_string_equal(got, want);
	}
	(void)state;
}

static struct entry *direct_sample(void)
{
	struct entry *e = entry_new();
	json_t *req = json_object(), *hdr = json_object();

	assert_non_null(e);
	strcpy(e->id, "12-3");
	e->protocol = "http";
	strcpy(e->version, "2");
	e->flow_id = 12;
	e->stream_id = 5;
	e->src.family = AF_INET;
	e->src.addr[10] = e->src.addr[11] = 0xff;
	inet_pton(AF_INET, "10.200.3.4", e->src.addr + 12);
	e->src.port = 40000;
	e->src.names = entry_names_new("client\xff-7f9", "shop");
	e->dst.family = AF_INET6;
	inet_pton(AF_INET6, "fd00::2", e->dst.addr);
	e->dst.port = 8080;
	e->request_ts_ns = 1700000000123456789ull;
	e->response_ts_ns = 1700000000125456789ull;
	e->request_size = 120;
	e->response_size = 3400;
	json_object_set_new(req, "method", json_string("GET"));
	json_object_set_new(hdr, "x-a", json_string("line\nbreak \"q\""));
	json_object_set_new(req, "headers", hdr);
	json_object_set_new(entry_fields_rw(e), "request", req);
	json_object_set_new(entry_fields_rw(e), "grpc", json_pack("{s:i, s:f}", "status", 0, "ratio", 0.25));
	return e;
}

/* entry_json_append_entry() writes what the tree of entry_to_json() dumps, in every shape of
 * entry: complete, missing, incomplete, without times, with a key of the tree's own, with a
 * version that is not UTF-8 (left out, as json_string() leaves it). */
static void test_entry_direct_same_as_tree(void **state)
{
	for (int shape = 0; shape < 10; shape++) {
		struct entry *e = direct_sample();
		struct entry_json_buf direct = {0}, tree = {0};
		json_t *j;

		switch (shape) {
		case 1:
			e->missing = ENTRY_MISSING_RESPONSE;
			e->missing_reason = ENTRY_REASON_GAP;
			e->response_ts_ns = 0;
			break;
		case 2:
			e->missing = ENTRY_INCOMPLETE_REQUEST;
			e->missing_reason = ENTRY_REASON_END_OF_INPUT;
			e->stream_id = 0;
			break;
		case 3:
			e->request_ts_ns = e->response_ts_ns + 1; /* no elapsed_ms */
			entry_names_unref(e->src.names);
			e->src.names = entry_names_new("", "shop"); /* a namespace without a pod */
			break;
		case 4:
			json_object_set_new(entry_fields_rw(e), "version", json_string("from the fields"));
			break;
		case 5:
			strcpy(e->version, "\xc3");
			break;
		case 6:
			e->flow_id = (uint64_t)-1;
			e->request_ts_ns = 0;
			break;
		case 7: /* names that are not UTF-8 (U+FFFD) or need escapes */
			entry_names_unref(e->dst.names);
			e->dst.names = entry_names_new("pod-\xff\xfe", "ns\"\\\n");
			break;
		case 8: /* a DNS name alone: it is the name */
			entry_names_unref(e->dst.names);
			e->dst.names = entry_names_new_k8s(
			    &(struct entry_names_init){.dns = "api.partner.example"});
			break;
		case 9: /* a DNS name beside a pod's names (escaped as dig would: ASCII) */
			entry_names_unref(e->dst.names);
			e->dst.names = entry_names_new_k8s(&(struct entry_names_init){
			    .pod = "web-1", .ns = "shop", .dns = "we\\b.shop\\032x.local"});
			break;
		}
		j = entry_to_json(e);
		if (shape == 8) {
			json_t *dst = json_object_get(j, "dst");

			assert_string_equal(json_string_value(json_object_get(dst, "dns_name")),
					    "api.partner.example");
			assert_string_equal(json_string_value(json_object_get(dst, "name")),
					    "api.partner.example");
		} else if (shape == 9) {
			json_t *dst = json_object_get(j, "dst");

			assert_string_equal(json_string_value(json_object_get(dst, "dns_name")),
					    "we\\b.shop\\032x.local");
			assert_string_equal(json_string_value(json_object_get(dst, "name")), "web-1");
		} else {
			assert_null(json_object_get(json_object_get(j, "dst"), "dns_name"));
		}
		assert_non_null(j);
		assert_int_equal(entry_json_append(&tree, j), 0);
		assert_int_equal(entry_json_append_entry(&direct, e), 0);
		assert_int_equal(direct.len, tree.len);
		assert_memory_equal(direct.p, tree.p, tree.len);
		json_decref(j);
		entry_json_buf_free(&direct);
		entry_json_buf_free(&tree);
		entry_free(e);
	}
	(void)state;
}

/* The same entry written to b: directly, and as the dump of its tree. */
static void write_both(struct entry *e, struct entry_json_buf *direct, struct entry_json_buf *tree)
{
	json_t *j;

	assert_int_equal(entry_json_append_entry(direct, e), 0);
	j = entry_to_json(e);
	assert_non_null(j);
	assert_int_equal(entry_json_append(tree, j), 0);
	json_decref(j);
}

/* An entry without protocol fields has no tree (fields NULL) until one is added; writing it,
 * filtering it and looking up its fields make none, and it is written as an entry with an
 * empty tree is. */
static void test_entry_without_tree(void **state)
{
	struct entry *e = entry_new(), *with = entry_new();
	struct entry_json_buf direct = {0}, tree = {0}, direct_with = {0}, tree_with = {0};
	struct entry_value v;
	json_t *f;

	assert_non_null(e);
	assert_non_null(with);
	assert_null(e->fields);
	for (struct entry *x = e; x; x = x == e ? with : NULL) {
		strcpy(x->id, "4-1");
		x->protocol = "http";
		strcpy(x->version, "1.1");
		x->flow_id = 4;
		x->src.family = x->dst.family = AF_INET;
		x->src.addr[10] = x->src.addr[11] = x->dst.addr[10] = x->dst.addr[11] = 0xff;
		x->src.addr[15] = 1;
		x->dst.addr[15] = 2;
		x->request_ts_ns = 1700000000000000000ull;
		x->missing = ENTRY_MISSING_RESPONSE;
		x->missing_reason = ENTRY_REASON_TIMEOUT;
	}
	entry_field_get(e, (const char *[]){"request", "method"}, 2, &v);
	assert_int_equal(v.type, ENTRY_VALUE_ABSENT);
	assert_int_equal(entry_json_append_entry(&direct, e), 0);
	assert_null(e->fields); /* neither the lookup nor the writer made it */
	entry_json_buf_free(&direct);
	direct = (struct entry_json_buf){0};

	f = entry_fields_rw(with);
	assert_non_null(f);
	assert_ptr_equal(entry_fields_rw(with), f);
	assert_ptr_equal(entry_fields(with), f);
	assert_int_equal(json_object_size(f), 0);
	write_both(e, &direct, &tree);
	write_both(with, &direct_with, &tree_with);
	assert_int_equal(direct.len, tree.len);
	assert_memory_equal(direct.p, tree.p, tree.len);
	assert_int_equal(direct.len, direct_with.len);
	assert_memory_equal(direct.p, direct_with.p, direct.len);
	assert_int_equal(tree.len, tree_with.len);
	assert_memory_equal(tree.p, tree_with.p, tree.len);
	assert_null(memmem(direct.p, direct.len, "\"request\"", 9));

	/* A member added later is written as one added to a tree made at once. */
	assert_int_equal(json_object_set_new(entry_fields_rw(e), "tls", json_true()), 0);
	assert_int_equal(json_object_set_new(f, "tls", json_true()), 0);
	entry_json_buf_free(&direct);
	entry_json_buf_free(&direct_with);
	direct = direct_with = (struct entry_json_buf){0};
	assert_int_equal(entry_json_append_entry(&direct, e), 0);
	assert_int_equal(entry_json_append_entry(&direct_with, with), 0);
	assert_int_equal(direct.len, direct_with.len);
	assert_memory_equal(direct.p, direct_with.p, direct.len);
	assert_non_null(memmem(direct.p, direct.len, ",\"tls\":true}", 12));
	entry_json_buf_free(&direct);
	entry_json_buf_free(&tree);
	entry_json_buf_free(&direct_with);
	entry_json_buf_free(&tree_with);
	entry_free(e);
	entry_free(with);
	(void)state;
}

/* A zeroed block from the cache is zeroed also when it is a freed one handed out again. */
static void test_json_alloc_zalloc(void **state)
{
	for (size_t n = 1; n <= JSON_ALLOC_SMALL + 16; n += 7) {
		uint8_t *p = json_alloc_malloc(n), *q;

		assert_non_null(p);
		memset(p, 0xee, n);
		json_alloc_free(p);
		q = json_alloc_zalloc(n);
		assert_non_null(q);
#if defined(__GLIBC__)
		if (n <= JSON_ALLOC_SMALL)
			assert_ptr_equal(p, q); /* the same block, dirty before */
#endif
		for (size_t i = 0; i < n; i++)
			assert_int_equal(q[i], 0);
		json_alloc_free(q);
	}
	(void)state;
}

struct other_thread {
	pthread_barrier_t freed, checked;
	void *block;
};

static void *free_on_other_thread(void *arg)
{
	struct other_thread *o = arg;

	json_alloc_free(o->block);
	pthread_barrier_wait(&o->freed);
	pthread_barrier_wait(&o->checked);
	json_alloc_release(); /* back to malloc: nothing leaks when the thread ends */
	return NULL;
}

/* The cache is per thread (floe tap's dissection thread and main thread use jansson at once):
 * a block freed on another thread is that thread's to hand out, not this one's. */
static void test_json_alloc_per_thread(void **state)
{
	struct other_thread o = {.block = json_alloc_malloc(40)};
	pthread_t t;
	void *b;

	(void)state;
	assert_non_null(o.block);
	pthread_barrier_init(&o.freed, NULL, 2);
	pthread_barrier_init(&o.checked, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, free_on_other_thread, &o), 0);
	pthread_barrier_wait(&o.freed);
	b = json_alloc_malloc(33); /* same size class: a shared cache would return o.block */
	assert_non_null(b);
	assert_ptr_not_equal(b, o.block);
	pthread_barrier_wait(&o.checked);
	assert_int_equal(pthread_join(t, NULL), 0);
	json_alloc_free(b);
	json_alloc_release();
	pthread_barrier_destroy(&o.freed);
	pthread_barrier_destroy(&o.checked);
}

/* The block cache hands freed small blocks out again, passes big ones to malloc, and its
 * blocks stay malloc's: free() takes them, and it takes blocks malloc() made. */
static void test_json_alloc_cache(void **state)
{
	void *a = json_alloc_malloc(40), *b, *big, *m;

	assert_non_null(a);
	memset(a, 1, 40);
	json_alloc_free(a);
	b = json_alloc_malloc(33); /* the same malloc size class as 40 */
#if defined(__GLIBC__)
	assert_ptr_equal(a, b);
#endif
	memset(b, 2, 33);
	free(b);
	big = json_alloc_malloc(JSON_ALLOC_SMALL * 4);
	assert_non_null(big);
	memset(big, 3, JSON_ALLOC_SMALL * 4);
	json_alloc_free(big);
	m = malloc(100);
	assert_non_null(m);
	json_alloc_free(m);
	json_alloc_free(NULL);
	for (size_t n = 0; n <= JSON_ALLOC_SMALL + 16; n++) {
		uint8_t *p = json_alloc_malloc(n);

		assert_non_null(p);
		memset(p, 0xab, n);
		json_alloc_free(p);
		p = json_alloc_malloc(n);
		memset(p, 0xcd, n);
		json_alloc_free(p);
	}
	(void)state;
}

/* With the cache installed, jansson's trees and their dumps behave as before. */
static void test_json_alloc_with_jansson(void **state)
{
	json_alloc_install();
	for (int round = 0; round < 200; round++) {
		json_t *j = json_pack("{s:s, s:i, s:[s, s], s:{s:s}}", "id", "1-1", "n", round, "a",
				      "x", "y", "o", "k", "v");
		char *dump;

		assert_non_null(j);
		dump = json_dumps(j, JSON_COMPACT);
		assert_non_null(dump);
		assert_non_null(strstr(dump, "\"id\":\"1-1\""));
		free(dump); /* as the Redis code frees its dumps */
		check_same_as_jansson(j);
		json_decref(j);
	}
	json_set_alloc_funcs(malloc, free);
	(void)state;
}

/* entry_utf8_prefix() (64, 16 and 8 bytes at a time, then byte by byte) against a walk of
 * entry_utf8_seq_len(), with a NUL, a bad byte or a multi-byte character at every offset. */
static void test_utf8_prefix_blocks(void **state)
{
	static const char *const odd[] = { "", "\x00", "\xff", "\xc3\xa9", "\xe2\x82", "\x80" };
	uint8_t s[220];

	for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
		size_t ol = k == 1 ? 1 : strlen(odd[k]);

		for (size_t len = 0; len + ol <= 200; len += 3) {
			for (size_t at = 0; at <= len; at += 1 + len / 40) {
				size_t n = len + ol, want = 0;

				memset(s, 'a', n);
				memcpy(s + at, odd[k], ol);
				for (int nul = 0; nul < 2; nul++) {
					want = 0;
					while (want < n) {
						size_t l = entry_utf8_seq_len(s + want, n - want);

						if (!l || (!nul && !s[want]))
							break;
						want += l;
					}
					assert_int_equal(entry_utf8_prefix(s, n, nul), want);
				}
			}
		}
	}
	(void)state;
}

/* entry_json_plain against jansson: text is plain when jansson takes it (valid UTF-8) and
 * writes it, ASCII only, between quotes unchanged; DEL is refused besides (jansson keeps it).
 * Every byte value at every place of strings around the 16-byte blocks and their overlap. */
static void test_json_plain_as_jansson(void **state)
{
	static const size_t lens[] = {0,  1,  2,  7,  8,  15, 16, 17, 18, 23,
				      31, 32, 33, 40, 47, 48, 49, 63, 64, 65};
	char s[80], want[200];

	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t n = lens[li];

		for (size_t at = 0; at < (n ? n : 1); at++) {
			for (int c = 0; c < 256; c++) {
				json_t *j;
				char *out;
				bool plain;

				memset(s, 'a', n);
				if (n)
					s[at] = (char)c;
				j = json_stringn(s, n);
				out = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
				snprintf(want, sizeof(want), "\"%.*s\"", (int)n, s);
				plain = out && !strcmp(out, want) && memchr(s, 0x7f, n) == NULL &&
					strlen(out) == n + 2;
				assert_int_equal(entry_json_plain(s, n), plain);
				free(out);
				json_decref(j);
				if (!n)
					break;
			}
		}
	}
	(void)state;
}

/* elapsed_ms written by hand for most values: the tree's real is the oracle. */
static void test_entry_elapsed_same_as_tree(void **state)
{
	static const uint64_t fixed[] = {
		0, 1, 50, 99, 100, 101, 120, 999999, 1000000, 1000001, 1071000, 123456789,
		999999999999999ull, 1000000000000000ull, 1000000000000001ull, 1ull << 53,
		(1ull << 53) + 1, 8000000000000000000ull,
	};
	uint64_t seed = 7;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 3000; i++) {
		uint64_t ns = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : next_rand(&seed);
		struct entry *e = direct_sample();
		struct entry_json_buf direct = {0}, tree = {0};
		json_t *j;

		if (i >= sizeof(fixed) / sizeof(fixed[0]))
			ns >>= next_rand(&seed) % 64; /* every magnitude */
		e->request_ts_ns = 1000;
		e->response_ts_ns = 1000 + ns;
		j = entry_to_json(e);
		assert_int_equal(entry_json_append(&tree, j), 0);
		assert_int_equal(entry_json_append_entry(&direct, e), 0);
		assert_int_equal(direct.len, tree.len);
		assert_memory_equal(direct.p, tree.p, tree.len);
		json_decref(j);
		entry_json_buf_free(&direct);
		entry_json_buf_free(&tree);
		entry_free(e);
	}
	(void)state;
}

/* The text line, written by hand since it replaced snprintf: exact text, the URL cut at 300
 * bytes, and snprintf's truncation (size - 1 bytes and a NUL, the full length returned). */
static void test_entry_line_text(void **state)
{
	struct entry *e = direct_sample();
	json_t *req = json_object_get(e->fields, "request"), *resp = json_object();
	char line[1024], small[20], url[400];
	const char *want = "12-3 2023-11-14T22:13:20.123456789Z grpc/2 client\xff-7f9@10.200.3.4:40000 "
			   "-> fd00::2:8080 GET /x -> 204 grpc-status 0 [incomplete request: "
			   "end_of_capture]";
	int n;

	/* The sample has a "grpc" member: a gRPC entry's summary adds its status to HTTP's. */
	e->protocol = "grpc";
	json_object_set_new(req, "url", json_string("/x"));
	json_object_set_new(resp, "status", json_integer(204));
	json_object_set_new(entry_fields_rw(e), "response", resp);
	e->missing = ENTRY_INCOMPLETE_REQUEST;
	e->missing_reason = ENTRY_REASON_END_OF_INPUT;
	n = entry_format_line(e, line, sizeof(line));
	assert_string_equal(line, want);
	assert_int_equal(n, (int)strlen(want));
	n = entry_format_line(e, small, sizeof(small));
	assert_int_equal(n, (int)strlen(want));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, want, sizeof(small) - 1);
	assert_int_equal(entry_format_line(e, small, 0), (int)strlen(want));

	memset(url, 'u', sizeof(url) - 1);
	url[0] = '/';
	url[sizeof(url) - 1] = 0;
	json_object_set_new(req, "url", json_string(url));
	json_object_del(e->fields, "grpc");
	e->missing = ENTRY_COMPLETE;
	e->dst.family = AF_INET;
	memset(e->dst.addr, 0, sizeof(e->dst.addr));
	e->dst.addr[10] = e->dst.addr[11] = 0xff;
	e->dst.addr[12] = 192, e->dst.addr[13] = 0, e->dst.addr[14] = 20, e->dst.addr[15] = 255;
	e->dst.names = entry_names_new("srv", NULL);
	entry_names_unref(e->src.names);
	e->src.names = NULL;
	n = entry_format_line(e, line, sizeof(line));
	assert_non_null(strstr(line, " 10.200.3.4:40000 -> srv@192.0.20.255:8080 GET /u"));
	assert_int_equal(strstr(line, " -> 204") - strstr(line, "GET /"), 4 + 300);
	assert_int_equal(n, (int)strlen(line));
	/* a node's own address: named by the node (no pod, no service) */
	entry_names_unref(e->dst.names);
	e->dst.names = entry_names_new_k8s(&(struct entry_names_init){.node = "node-1"});
	entry_format_line(e, line, sizeof(line));
	assert_non_null(strstr(line, " -> node-1@192.0.20.255:8080 GET /u"));
	/* an address a DNS answer named: by that name; a node's own name comes first */
	entry_names_unref(e->dst.names);
	e->dst.names = entry_names_new_k8s(&(struct entry_names_init){.dns = "db.example.com"});
	entry_format_line(e, line, sizeof(line));
	assert_non_null(strstr(line, " -> db.example.com@192.0.20.255:8080 GET /u"));
	entry_names_unref(e->dst.names);
	e->dst.names =
	    entry_names_new_k8s(&(struct entry_names_init){.node = "node-1", .dns = "db.example.com"});
	entry_format_line(e, line, sizeof(line));
	assert_non_null(strstr(line, " -> node-1@192.0.20.255:8080 GET /u"));
	entry_free(e);
	(void)state;
}

/* The string's JSON by entry_json_append_ascii() (when s is ASCII without NUL) equals
 * entry_json_append_string()'s, which check_same_as_jansson() holds to jansson. */
static void check_ascii_same(const char *s, size_t n)
{
	struct entry_json_buf a = {0}, b = {0};
	bool ascii = true;

	for (size_t i = 0; i < n; i++)
		ascii = ascii && s[i] && (unsigned char)s[i] < 0x80;
	assert_int_equal(entry_json_append_string(&b, s, n), 0);
	assert_int_equal(entry_json_append_ascii(&a, s, n), ascii ? 0 : 1);
	if (ascii) {
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
	}
	entry_json_buf_free(&a);
	entry_json_buf_free(&b);
}

/* Long strings (the 32-byte blocks) dense with quotes and backslashes, as JSON bodies are:
 * every mask of quoted bytes in every 8-byte group of a block, and every ASCII byte at every
 * offset of such text; jansson's dump is the oracle. */
static void test_quoted_blocks(void **state)
{
	char s[160];

	for (size_t len = 64; len <= 136; len += 24)
		for (size_t g = 0; g + 8 <= len; g += 8)
			for (unsigned m = 0; m < 256; m++) {
				json_t *j = json_array();

				memset(s, 'q', len);
				for (unsigned k = 0; k < 8; k++)
					if (m >> k & 1)
						s[g + k] = (k + m) % 3 ? '"' : '\\';
				json_array_append_new(j, json_stringn(s, len));
				check_same_as_jansson(j);
				check_ascii_same(s, len);
				json_decref(j);
			}
	for (unsigned c = 0; c < 0x80; c++)
		for (size_t len = 64; len <= 100; len += 9)
			for (size_t at = 0; at < len; at++) {
				json_t *j = json_array();

				for (size_t i = 0; i < len; i++)
					s[i] = i % 5 == 0 ? '"' : i % 7 == 0 ? '\\' : 'a' + (char)(i % 26);
				s[at] = (char)c;
				json_array_append_new(j, json_stringn(s, len));
				check_same_as_jansson(j);
				check_ascii_same(s, len);
				json_decref(j);
			}
	(void)state;
}

/* entry_json_append_ascii(): the string entry_json_append_string() writes when every byte is
 * ASCII and none is NUL, else 1 with the buffer unchanged; lengths that take the 64-byte, the
 * 16-byte, the 8-byte and the byte-by-byte paths, with escapes, NULs and high bytes anywhere. */
static void test_append_ascii(void **state)
{
	static const unsigned char pick[] = {'a', 'b',	'\n', '"',  '\\', 0x01, 0x7f,
					     ' ', 0x00, 0x80, 0xc3, 0xa9, 0xff};
	struct entry_json_buf a = {0}, b = {0};
	unsigned seed = 7, taken = 0;
	char s[300];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(s));
		/* mostly plain text, a rare byte of another kind */
		unsigned rare = (unsigned)(rand_r(&seed) % 4);
		bool ascii = true;
		int rc;

		for (size_t i = 0; i < n; i++) {
			unsigned r = (unsigned)rand_r(&seed) % 64;
			unsigned char c = r < rare ? pick[rand_r(&seed) % sizeof(pick)]
						   : (unsigned char)('a' + r % 26);

			s[i] = (char)c;
			ascii = ascii && c && c < 0x80;
		}
		a.len = b.len = 0;
		assert_int_equal(entry_json_append_raw(&a, "x", 1), 0);
		rc = entry_json_append_ascii(&a, s, n);
		if (!ascii) {
			assert_int_equal(rc, 1);
			assert_int_equal(a.len, 1);
			continue;
		}
		taken++;
		assert_int_equal(rc, 0);
		assert_int_equal(entry_json_append_raw(&b, "x", 1), 0);
		assert_int_equal(entry_json_append_string(&b, s, n), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
	}
	assert_true(taken > 5000 && taken < 19000);
	entry_json_buf_free(&a);
	entry_json_buf_free(&b);
}

/* The child run of main(): glibc was told to leave AVX2 out. */
static void test_avx2_off(void **state)
{
	(void)state;
#if defined(__x86_64__)
	assert_false(CPU_FEATURE_ACTIVE(AVX2));
#endif
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars_and_nesting),
	    cmocka_unit_test(test_plain_member),
	    cmocka_unit_test(test_string_escapes),
	    cmocka_unit_test(test_append_ascii),
	    cmocka_unit_test(test_insertion_order),
	    cmocka_unit_test(test_reals_shortest),
	    cmocka_unit_test(test_appends_and_depth),
	    cmocka_unit_test(test_large_string),
	    cmocka_unit_test(test_escapes_at_every_offset),
	    cmocka_unit_test(test_every_byte_every_offset),
	    cmocka_unit_test(test_quoted_blocks),
	    cmocka_unit_test(test_integer_limits),
	    cmocka_unit_test(test_int_digits),
	    cmocka_unit_test(test_format_time_matches_gmtime),
	    cmocka_unit_test(test_entry_direct_same_as_tree),
	    cmocka_unit_test(test_utf8_prefix_blocks),
	    cmocka_unit_test(test_json_plain_as_jansson),
	    cmocka_unit_test(test_entry_line_text),
	    cmocka_unit_test(test_entry_elapsed_same_as_tree),
	    cmocka_unit_test(test_json_alloc_cache),
	    cmocka_unit_test(test_json_alloc_zalloc),
	    cmocka_unit_test(test_entry_without_tree),
	    cmocka_unit_test(test_json_alloc_per_thread),
	    cmocka_unit_test(test_json_alloc_with_jansson),
	};

	/* The strings' tests again on the writer's paths without AVX2: glibc reads its tunables
	 * at start, so the test runs itself once more with AVX2 turned off. */
	const struct CMUnitTest without_avx2[] = {
	    cmocka_unit_test(test_avx2_off),
	    cmocka_unit_test(test_string_escapes),
	    cmocka_unit_test(test_append_ascii),
	    cmocka_unit_test(test_large_string),
	    cmocka_unit_test(test_escapes_at_every_offset),
	    cmocka_unit_test(test_every_byte_every_offset),
	    cmocka_unit_test(test_quoted_blocks),
	    cmocka_unit_test(test_entry_direct_same_as_tree),
	};
	int rc;

	(void)argc;
	if (getenv("FLOE_TEST_WITHOUT_AVX2"))
		return cmocka_run_group_tests_name("without AVX2", without_avx2, NULL, NULL);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
#if defined(__x86_64__)
	if (!rc && CPU_FEATURE_ACTIVE(AVX2)) {
		fflush(NULL);
		setenv("FLOE_TEST_WITHOUT_AVX2", "1", 1);
		setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX2", 1);
		execv("/proc/self/exe", argv);
		perror("execv /proc/self/exe");
		return 1;
	}
#endif
	return rc;
}
