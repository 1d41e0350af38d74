// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the protobuf -> JSON side of lib/core/api/entry_proto (what a client
 * does with messages off the wire, from a peer that may be hostile). The first byte picks the
 * message: Entry, FollowMessage, StatsReply or a bare Value. Besides memory safety (nesting,
 * lengths, unset values) it checks that whatever converts is valid JSON that jansson reads,
 * and that packing that JSON again and converting it back gives the same text (the round trip
 * the transport relies on is stable).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/entry_proto.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* The JSON text j must read back and survive JSON -> Value -> JSON unchanged. */
static void check_json(const char *j, size_t n, int entry)
{
	json_t *v = json_loadb(j, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
	struct entry_json_buf b = {0};
	struct entry_proto_packer pk = {0};
	char err[256];

	CHECK(v);
	/* jansson keeps one value per key: a message with a key twice reads back shorter. */
	if (json_is_object(v) || json_is_array(v)) {
		struct entry_json_buf d = {0};

		CHECK(entry_json_append(&d, v) == 0);
		if (d.len != n || memcmp(d.p, j, n)) {
			entry_json_buf_free(&d);
			json_decref(v);
			return;
		}
		entry_json_buf_free(&d);
	}
	json_decref(v);
	if (entry) {
		struct agent_entry in = {.id = "x", .ts_ns = 1, .json = j, .json_len = n}, e;
		Floe__V1__Entry *m;

		CHECK(entry_proto_pack(&pk, &in, err, sizeof(err)) == 0);
		CHECK(entry_proto_unpack(pk.out, pk.len, &m, &b, &e, err, sizeof(err)) == 0);
		CHECK(e.json_len == n && !memcmp(e.json, j, n));
		floe__v1__entry__free_unpacked(m, NULL);
	} else {
		Floe__V1__Value *m;

		CHECK(value_proto_pack_json(&pk, j, n, err, sizeof(err)) == 0);
		CHECK(proto_depth_check(PROTO_ROOT_VALUE, pk.out, pk.len) == 0);
		CHECK((m = floe__v1__value__unpack(NULL, pk.len, pk.out)));
		CHECK(value_proto_to_json(m, &b, err, sizeof(err)) == 0);
		CHECK(b.len == n && !memcmp(b.p, j, n));
		floe__v1__value__free_unpacked(m, NULL);
	}
	entry_proto_packer_free(&pk);
	entry_json_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entry_json_buf b = {0};
	char err[256];

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: {
		Floe__V1__Entry *m;
		struct agent_entry e;

		if (!entry_proto_unpack(data + 1, size - 1, &m, &b, &e, err, sizeof(err))) {
			CHECK(e.id && e.id[0] && e.json == b.p && e.json_len == b.len);
			check_json(e.json, e.json_len, 1);
			floe__v1__entry__free_unpacked(m, NULL);
		}
		break;
	}
	case 1: {
		Floe__V1__FollowMessage *m;

		if (proto_depth_check(PROTO_ROOT_FOLLOW, data + 1, size - 1))
			break;
		m = floe__v1__follow_message__unpack(NULL, size - 1, data + 1);
		if (!m)
			break;
		if (m->kind_case == FLOE__V1__FOLLOW_MESSAGE__KIND_ENTRY) {
			struct agent_entry e;

			if (!entry_proto_to_agent_entry(m->entry, &b, &e, err, sizeof(err)))
				check_json(e.json, e.json_len, 1);
		}
		floe__v1__follow_message__free_unpacked(m, NULL);
		break;
	}
	case 2:
	case 3: {
		int stats = data[0] % 4 == 2;
		ProtobufCMessage *m;
		const Floe__V1__Value *v;

		if (proto_depth_check(stats ? PROTO_ROOT_STATS : PROTO_ROOT_VALUE, data + 1,
				      size - 1))
			break;
		m = protobuf_c_message_unpack(stats ? &floe__v1__stats_reply__descriptor
						    : &floe__v1__value__descriptor,
					      NULL, size - 1, data + 1);
		if (!m)
			break;
		v = stats ? ((Floe__V1__StatsReply *)m)->stats : (Floe__V1__Value *)m;
		if (!value_proto_to_json(v, &b, err, sizeof(err)))
			check_json(b.p, b.len, 0);
		protobuf_c_message_free_unpacked(m, NULL);
		break;
	}
	}
	entry_json_buf_free(&b);
	return 0;
}
