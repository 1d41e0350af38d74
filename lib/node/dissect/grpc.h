/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc: what gRPC adds on top of an HTTP/2 stream (docs/http2.md): the length-prefixed
 * message framing of DATA (1 byte compressed flag, 4 bytes big-endian length, the message),
 * per-message compression (grpc-encoding gzip/deflate), the status from the trailers, and a
 * schema-less decoding of the protobuf wire format.
 *
 * Everything is bounded: bytes kept per message, messages decoded per direction, fields
 * produced per direction, nesting depth, decompressed size.
 */
#ifndef FLOE_DISSECT_GRPC_H
#define FLOE_DISSECT_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dissect/framing.h"

/* Messages decoded and kept per direction of a call; the rest are only counted. */
#define GRPC_MAX_MESSAGES 64u
/* Protobuf fields produced per direction of a call (all messages together). */
#define GRPC_FIELD_BUDGET 4096u
/* A compressed message inflates to at most this many bytes for decoding. */
#define GRPC_DECOMPRESS_MAX (1u << 20)
/* After a gap, a DATA frame that starts with a flag of 0 or 1 and a length up to this is
 * taken for a message's start. */
#define GRPC_RESYNC_MAX (16u << 20)
/* Nesting of messages and groups decoded; deeper length-delimited values stay bytes. */
#define PROTOBUF_MAX_DEPTH 16u

/* ---- protobuf wire format ---- */

/*
 * Do the bytes parse completely as one protobuf message (fields, well-formed varints,
 * lengths inside the buffer, groups closed)? Nested length-delimited values are not looked
 * into. Groups nest at most PROTOBUF_MAX_DEPTH deep.
 */
bool protobuf_valid(const uint8_t *p, size_t n);

/*
 * Decode a message into *out: a JSON array of {"field": number, "wire_type": "varint" |
 * "i64" | "len" | "i32" | "group", "value": ...}. Length-delimited values are decoded as a
 * nested message when they parse as one (and do not read as plain text), else as a UTF-8
 * string, else as base64; "type" says which ("message", "string", "bytes"). *budget is the
 * number of fields still allowed; when it runs out the array ends early and *truncated is set.
 * Returns 0, -EINVAL when the bytes are not a message (nothing is produced), or -ENOMEM.
 */
int protobuf_decode(const uint8_t *p, size_t n, size_t *budget, bool *truncated, json_t **out);

/* ---- gRPC messages of one direction of a call ---- */

struct grpc_messages {
	struct lp_stream frame; /* the current message: its 5-byte prefix, length, bytes seen */
	bool compressed;
	uint8_t *buf;     /* its bytes kept (at most keep_max) */
	size_t buf_len, buf_cap, keep_max;
	uint64_t count;   /* messages completed */
	uint64_t bytes;   /* DATA bytes fed */
	size_t budget;    /* protobuf fields still allowed */
	bool broken;      /* bytes were lost: framing is unknown until a DATA frame starts one */
	bool frame_start; /* the next bytes fed start a DATA frame */
	bool resyncing;   /* the current prefix is being tried after a gap */
	uint64_t msg_lost;/* bytes of the current message lost in a gap */
	uint64_t resyncs; /* messages found again after gaps */
	json_t *list;     /* array of decoded messages (at most GRPC_MAX_MESSAGES) */
	uint64_t decoded; /* message bytes decoded into list (after decompression) */
	/* The memory budget (dissector.h, mem()): what this state holds as grpc_messages_mem()
	 * last counted it, and the owner's total (NULL: none) that its changes are added to. */
	size_t held;
	size_t *held_sum;
	size_t held_max; /* with held_sum: no message is kept while *held_sum is past it */
};

/* keep_max: bytes of one message kept for decoding (bigger ones are only measured). */
void grpc_messages_init(struct grpc_messages *g, size_t keep_max);
/*
 * DATA bytes of the call in this direction. encoding: the direction's grpc-encoding header
 * (NULL: identity). Returns 0 or -ENOMEM (counting goes on).
 */
int grpc_messages_feed(struct grpc_messages *g, const uint8_t *p, size_t n, const char *encoding);
/*
 * n bytes of the direction were lost. Inside a message whose length is known, that message
 * is listed incomplete and the next is read as usual; a gap that cuts a prefix or spans
 * messages stops decoding until a DATA frame begins with a plausible prefix (gRPC peers
 * start a message with a frame; grpc_messages_data_frame says where frames start).
 */
void grpc_messages_lost(struct grpc_messages *g, uint64_t n);
/* The next bytes fed begin a DATA frame's payload. */
void grpc_messages_data_frame(struct grpc_messages *g);
/*
 * The direction ended (or the call is being emitted): a message cut short is listed with
 * "incomplete": true. Idempotent.
 */
void grpc_messages_finish(struct grpc_messages *g);
void grpc_messages_free(struct grpc_messages *g);
/*
 * Bytes g holds: its message buffer exactly, the list estimated (GRPC_MESSAGE_JSON_BYTES per
 * message, GRPC_FIELD_JSON_BYTES per protobuf field, twice the bytes decoded). Kept in g->held
 * and, with g->held_sum set, in *held_sum by every call that changes it (feed, lost, finish,
 * free), so the owner's total is O(1) to read.
 */
#define GRPC_MESSAGE_JSON_BYTES 192u
#define GRPC_FIELD_JSON_BYTES	128u
size_t grpc_messages_mem(const struct grpc_messages *g);

/* ---- the call ---- */


/*
 * The "grpc" object of an entry. path: the request's :path (NULL if unknown); headers and
 * trailers: header objects as built by http_headers_add (any may be NULL); req/resp: the
 * messages (may be NULL). The status comes from the trailers, or from the response headers
 * of a trailers-only response. NULL on ENOMEM.
 */
json_t *grpc_call_json(const char *path, const json_t *req_headers, const json_t *resp_headers,
		       const json_t *resp_trailers, struct grpc_messages *req,
		       struct grpc_messages *resp);

#endif /* FLOE_DISSECT_GRPC_H */
