/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_proto: an entry's JSON text (as `floe read --json` prints it) to the protobuf messages
 * of proto/floe.proto and back, without loss: JSON -> Entry -> JSON gives the same bytes.
 * The agent's side of the transport packs with it, the hub's side unpacks; both link the core.
 *
 * Why a Value tree and not the JSON text in a bytes field: other readers of the proto (any
 * language's gRPC) get typed values; the envelope fields beside it (ids, endpoints, status)
 * let a reader route and list without walking the tree.
 *
 * Lossless because: objects are ordered field lists (keys kept in order; a key written twice
 * keeps its last value, as jansson reads it: floe never writes one twice), integers are int64 and
 * reals double (the JSON is printed with the shortest text that reads back as the same double, so
 * printing again gives the same text), strings are carried as bytes on the C side (U+0000
 * survives).
 *
 * Unpacking takes hostile input (the other end of a socket): nesting is bounded before
 * protobuf-c recurses, strings must be valid UTF-8, reals finite, every value set.
 */
#ifndef FLOE_API_ENTRY_PROTO_H
#define FLOE_API_ENTRY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "api/agent_api.h"
#include "entry/entry_json.h"
#include "proto/floe.pb-c.h"

/* Deeper JSON than this is refused both ways (floe's entries nest a dozen levels at most). */
#define ENTRY_PROTO_MAX_DEPTH 200

/*
 * What packing keeps from one message to the next: the packed bytes of the last call (out, len
 * bytes) and the memory of the message tree. Zero it to start; entry_proto_packer_free() at
 * the end. One per thread.
 */
struct proto_arena;
struct entry_proto_packer {
	uint8_t *out;
	size_t len, cap;
	struct proto_arena *arena;
};

void entry_proto_packer_free(struct entry_proto_packer *pk);

/*
 * Pack e (its json must be one JSON object) as an Entry message into pk->out. 0, -EINVAL (not
 * a JSON object, too deep: err says why) or -ENOMEM.
 */
int entry_proto_pack(struct entry_proto_packer *pk, const struct agent_entry *e, char *err,
		     size_t errlen);

/* Any JSON text (a whole value) as a packed Value message, the same way: the stats object. */
int value_proto_pack_json(struct entry_proto_packer *pk, const char *json, size_t len, char *err,
			  size_t errlen);

/*
 * Check that a Value (and so an Entry holding one) nests no deeper than ENTRY_PROTO_MAX_DEPTH,
 * reading the wire bytes without recursion. Entry, FollowMessage, StatsReply and EntryBatch are
 * walked by what they hold. 0 or -EINVAL.
 */
enum proto_root {
	PROTO_ROOT_VALUE,
	PROTO_ROOT_ENTRY,
	PROTO_ROOT_FOLLOW,
	PROTO_ROOT_STATS,
	PROTO_ROOT_BATCH,
};
int proto_depth_check(enum proto_root root, const uint8_t *buf, size_t len);

/*
 * The JSON text of v, appended to b: entry_json.h's compact form. bytes values come out as
 * base64 strings. 0, -EINVAL (not set, invalid UTF-8, a real that is not finite, too deep:
 * err says why) or -ENOMEM; b->len unchanged on error.
 */
int value_proto_to_json(const Floe__V1__Value *v, struct entry_json_buf *b, char *err,
			size_t errlen);

/*
 * An unpacked Entry as agent_entry: e->json points into b (valid until b changes), e->id into
 * m. 0, -EINVAL (no id, no value, the value not an object, ...) or -ENOMEM.
 */
int entry_proto_to_agent_entry(const Floe__V1__Entry *m, struct entry_json_buf *b,
			       struct agent_entry *e, char *err, size_t errlen);

/*
 * Unpack an Entry message from wire bytes (the depth checked first) and convert it as above.
 * The message is returned in *m to be freed with floe__v1__entry__free_unpacked(*m, NULL)
 * once e is no longer used. 0, -EINVAL or -ENOMEM.
 */
int entry_proto_unpack(const uint8_t *buf, size_t len, Floe__V1__Entry **m,
		       struct entry_json_buf *b, struct agent_entry *e, char *err, size_t errlen);

#endif /* FLOE_API_ENTRY_PROTO_H */
