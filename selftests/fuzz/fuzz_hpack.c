// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the HPACK decoder (dissect/hpack.c).
 *
 * Input: byte 0 picks the table's start (bit 0: known, else unknown as for a connection
 * picked up mid-way) and its bound (bits 1-3: 2^(8 + v) bytes); then blocks, each a 16-bit
 * big-endian length and its bytes, decoded in turn with the same table; bit 7 of the
 * length's first byte marks a block cut by a gap.
 *
 * Checked: no crash or sanitizer report; the known entries' sizes stay within the table
 * size; every field reported has a name and value or an index past the static table; the
 * Huffman decoder never writes past its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/hpack.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static int check_field(void *ctx, const struct hpack_field *f)
{
	(void)ctx;
	if (!f->name || !f->value)
		CHECK(f->index > HPACK_STATIC_ENTRIES);
	CHECK(!f->name_len || f->name);
	CHECK(!f->value_len || f->value);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hpack_table t;
	struct hpack_result res;
	size_t i = 1;
	uint8_t out[64];

	if (size < 1)
		return 0;
	hpack_init(&t, data[0] & 1, (size_t)1 << (8 + ((data[0] >> 1) & 7)));
	while (i + 2 <= size) {
		size_t n = (size_t)(data[i] & 0x7f) << 8 | data[i + 1];
		int cut = data[i] & 0x80;

		i += 2;
		if (n > size - i)
			n = size - i;
		hpack_decode(&t, data + i, n, cut, check_field, NULL, &res);
		CHECK(t.size <= t.max_size || !t.count);
		CHECK(res.unknown_refs <= res.fields);
		i += n;
	}
	/* the Huffman decoder alone, with a small output bound */
	CHECK(hpack_huffman_decode(data, size, out, sizeof(out)) <= (long)sizeof(out));
	hpack_free(&t);
	return 0;
}
