// SPDX-License-Identifier: Apache-2.0
/*
 * entry_proto: JSON -> protobuf -> JSON gives the same bytes, for every entry `floe read
 * --json` prints over the shared captures (FLOE_CAPTURES, default ../shared/captures; skipped
 * when absent; the floe binary is $BUILD/floe); hostile messages are refused, not crashed on.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/entry_proto.h"

/* Pack one JSON entry, unpack it, and return the JSON text that comes back in *b. */
static int round_trip(const char *json, size_t len, struct entry_json_buf *b, char *err,
		      size_t errlen)
{
	struct agent_entry in = {.id = "n1-1",
				 .ts_ns = 1234567890123456789ll,
				 .json = json,
				 .json_len = len},
			   out;
	struct entry_proto_packer pk = {0};
	Floe__V1__Entry *m;
	int rc;

	b->len = 0;
	rc = entry_proto_pack(&pk, &in, err, errlen);
	if (!rc) {
		rc = entry_proto_unpack(pk.out, pk.len, &m, b, &out, err, errlen);
		if (!rc) {
			assert_string_equal(out.id, "n1-1");
			assert_true(out.ts_ns == in.ts_ns);
			assert_ptr_equal(out.json, b->p);
			assert_int_equal(out.json_len, b->len);
			floe__v1__entry__free_unpacked(m, NULL);
		}
	}
	entry_proto_packer_free(&pk);
	return rc;
}

static void test_values(void **state)
{
	static const char *const cases[] = {
	    "{}",
	    "{\"a\":null,\"b\":true,\"c\":false,\"d\":-9223372036854775808,\"e\":0.25}",
	    "{\"z\":1,\"a\":2,\"m\":3}", /* order kept */
	    "{\"s\":\"nul \\u0000 inside, \\\"quoted\\\", \\n, \\u001F, \xc3\xa9\xe4\xb8\xad\"}",
	    "{\"key\":[[],{},[1,2.5,-0.0,1e+300,\"x\"]]}",
	    "{\"r\":4.94065645841247e-324,\"q\":1.7976931348623157e+308,\"t\":0.1}",
	};
	struct entry_json_buf b = {0};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(round_trip(cases[i], strlen(cases[i]), &b, err, sizeof(err)), 0);
		if (b.len != strlen(cases[i]) || memcmp(b.p, cases[i], b.len))
			fail_msg("case %zu: %.*s != %s", i, (int)b.len, b.p, cases[i]);
	}
	/* Not an object: refused on the way in. */
	assert_int_equal(round_trip("[1]", 3, &b, err, sizeof(err)), -EINVAL);
	assert_int_equal(round_trip("{", 1, &b, err, sizeof(err)), -EINVAL);
	entry_json_buf_free(&b);
}

/* The envelope's typed fields, from the JSON. */
static void test_envelope(void **state)
{
	const char *j =
	    "{\"id\":\"x\",\"protocol\":\"grpc\",\"elapsed_ms\":1.5,"
	    "\"src\":{\"ip\":\"10.0.0.1\",\"port\":4000,\"pod\":\"a\",\"namespace\":\"n\"},"
	    "\"dst\":{\"ip\":\"::1\",\"port\":50051},\"response\":{\"status\":200},"
	    "\"grpc\":{\"status_name\":\"NOT_FOUND\"}}";
	struct agent_entry in = {.id = "x", .ts_ns = 7, .json = j, .json_len = strlen(j)};
	struct entry_proto_packer pk = {0};
	Floe__V1__Entry *m;
	char err[128];

	(void)state;
	assert_int_equal(entry_proto_pack(&pk, &in, err, sizeof(err)), 0);
	m = floe__v1__entry__unpack(NULL, pk.len, pk.out);
	assert_non_null(m);
	assert_string_equal(m->protocol, "grpc");
	assert_string_equal(m->src->ip, "10.0.0.1");
	assert_int_equal(m->src->port, 4000);
	assert_string_equal(m->src->pod, "a");
	assert_string_equal(m->src->namespace_, "n");
	assert_string_equal(m->dst->ip, "::1");
	assert_string_equal(m->dst->pod, "");
	assert_true(m->elapsed_ms == 1.5);
	assert_string_equal(m->status, "NOT_FOUND");
	floe__v1__entry__free_unpacked(m, NULL);
	entry_proto_packer_free(&pk);
}

static uint8_t *pack_value(const Floe__V1__Value *v, size_t *n)
{
	uint8_t *p;

	*n = floe__v1__value__get_packed_size(v);
	p = malloc(*n + 1);
	assert_non_null(p);
	floe__v1__value__pack(v, p);
	return p;
}

static int value_bytes_to_json(const uint8_t *p, size_t n, struct entry_json_buf *b)
{
	Floe__V1__Value *v;
	char err[128];
	int rc;

	if (proto_depth_check(PROTO_ROOT_VALUE, p, n))
		return -EINVAL;
	v = floe__v1__value__unpack(NULL, n, p);
	if (!v)
		return -EINVAL;
	rc = value_proto_to_json(v, b, err, sizeof(err));
	floe__v1__value__free_unpacked(v, NULL);
	return rc;
}

/* v packed and converted back: rc as expected. */
static void check_value(const Floe__V1__Value *v, int rc, struct entry_json_buf *b)
{
	size_t n;
	uint8_t *p = pack_value(v, &n);

	assert_int_equal(value_bytes_to_json(p, n, b), rc);
	free(p);
}

/* What a hostile peer may send: each refused with -EINVAL. */
static void test_hostile(void **state)
{
	struct entry_json_buf b = {0};
	Floe__V1__Value v = FLOE__V1__VALUE__INIT, inner = FLOE__V1__VALUE__INIT;
	Floe__V1__ValueList l = FLOE__V1__VALUE_LIST__INIT;
	Floe__V1__Value *items[1] = {&inner};
	uint8_t *deep;
	size_t i;

	(void)state;
	/* not set */
	check_value(&v, -EINVAL, &b);
	/* invalid UTF-8 */
	v.kind_case = FLOE__V1__VALUE__KIND_STRING_VALUE;
	v.string_value.data = (uint8_t *)"\xff\xfe";
	v.string_value.len = 2;
	check_value(&v, -EINVAL, &b);
	/* NaN */
	v.kind_case = FLOE__V1__VALUE__KIND_DOUBLE_VALUE;
	v.double_value = NAN;
	check_value(&v, -EINVAL, &b);
	/* a list holding an unset value */
	v.kind_case = FLOE__V1__VALUE__KIND_LIST_VALUE;
	v.list_value = &l;
	l.n_values = 1;
	l.values = items;
	check_value(&v, -EINVAL, &b);
	/* bytes: base64 */
	v.kind_case = FLOE__V1__VALUE__KIND_BYTES_VALUE;
	v.bytes_value.data = (uint8_t *)"\x00\x01\xff";
	v.bytes_value.len = 3;
	check_value(&v, 0, &b);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "\"AAH/\"", 6);
	assert_int_equal(b.len, 6); /* failures above left b as it was */
	/* Nesting a million lists deep (2 bytes each level): refused before protobuf-c recurses.
	 * Built from the inside out: a Value whose field 7 is a ValueList whose field 1 is ... */
	deep = malloc(16 << 20);
	assert_non_null(deep);
	{
		/* Each level: Value{7: List{1: <inner>}}; lengths grow, so write back to front. */
		size_t end = 16 << 20, pos = end, inner_len = 0;
		uint8_t tmp[12];

		for (i = 0; i < 200000; i++) {
			size_t len = inner_len, t = 0;

			/* List: tag 0x0a, len(inner) */
			do {
				tmp[t++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
				len >>= 7;
			} while (len);
			pos -= t;
			memcpy(deep + pos, tmp, t);
			deep[--pos] = 0x0a;
			inner_len = end - pos;
			len = inner_len;
			t = 0;
			do {
				tmp[t++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
				len >>= 7;
			} while (len);
			pos -= t;
			memcpy(deep + pos, tmp, t);
			deep[--pos] = 0x3a; /* field 7, wire type 2 */
			inner_len = end - pos;
		}
		assert_int_equal(proto_depth_check(PROTO_ROOT_VALUE, deep + pos, end - pos),
				 -EINVAL);
	}
	free(deep);
	/* As deep as the bound both ways, and one deeper refused when packing. */
	{
		char json[2 * (ENTRY_PROTO_MAX_DEPTH + 2)];
		struct entry_proto_packer pk = {0};
		size_t d;
		char err[128];

		for (d = ENTRY_PROTO_MAX_DEPTH + 1; d <= ENTRY_PROTO_MAX_DEPTH + 2; d++) {
			memset(json, '[', d);
			memset(json + d, ']', d);
			b.len = 0;
			if (d == ENTRY_PROTO_MAX_DEPTH + 1) {
				assert_int_equal(
				    value_proto_pack_json(&pk, json, 2 * d, err, sizeof(err)), 0);
				assert_int_equal(value_bytes_to_json(pk.out, pk.len, &b), 0);
				assert_int_equal(b.len, 2 * d);
			} else {
				assert_int_not_equal(
				    value_proto_pack_json(&pk, json, 2 * d, err, sizeof(err)), 0);
			}
		}
		entry_proto_packer_free(&pk);
		b.len = 6;
	}
	/* truncated and garbage wire bytes */
	assert_int_equal(proto_depth_check(PROTO_ROOT_ENTRY, (const uint8_t *)"\x42\x05\x3a", 3),
			 -EINVAL);
	assert_int_equal(proto_depth_check(PROTO_ROOT_ENTRY, (const uint8_t *)"\x0b", 1), -EINVAL);
	entry_json_buf_free(&b);
}

/* ---- every entry of every shared capture ---- */

static struct {
	size_t files, entries, bytes, failed;
	char first_failure[512];
} rt;

static int one_capture(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *build = getenv("BUILD");
	struct entry_json_buf b = {0};
	char cmd[4096], err[256], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	(void)st;
	(void)ftw;
	if (flag != FTW_F || (!strstr(path, ".pcap") && !strstr(path, ".pcapng")))
		return 0;
	snprintf(cmd, sizeof(cmd), "'%s/floe' read --json '%s' 2>/dev/null",
		 build && *build ? build : "build", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	rt.files++;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		rt.entries++;
		rt.bytes += (size_t)n;
		if (round_trip(line, (size_t)n, &b, err, sizeof(err)) || b.len != (size_t)n ||
		    memcmp(b.p, line, (size_t)n)) {
			if (!rt.failed++)
				snprintf(rt.first_failure, sizeof(rt.first_failure),
					 "%s entry %zu: %s", path, rt.entries, err);
		}
	}
	free(line);
	pclose(f);
	entry_json_buf_free(&b);
	return 0;
}

static void test_captures_round_trip(void **state)
{
	const char *d = getenv("FLOE_CAPTURES");

	(void)state;
	d = d && *d ? d : "../shared/captures";
	if (nftw(d, one_capture, 16, FTW_PHYS) || !rt.files)
		skip();
	print_message("%zu captures, %zu entries, %zu bytes of JSON: %zu not identical\n", rt.files,
		      rt.entries, rt.bytes, rt.failed);
	if (rt.failed)
		fail_msg("%s", rt.first_failure);
	assert_true(rt.entries > 1000); /* the set holds thousands: a broken floe read fails */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_captures_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
