/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis: the Redis dissector, RESP2 and RESP3 (docs/redis.md).
 *
 * One entry per command and its reply, matched in order (pipelining); entries without a
 * request for what the server sends unasked: pub/sub messages, RESP3 pushes (client-side
 * caching invalidations), MONITOR lines. MULTI/EXEC: the EXEC entry lists the queued
 * commands. Subscription commands (SUBSCRIBE, ...) keep all their confirmations.
 *
 * RESP is parsed incrementally by hand (no library buffers whole values): a bulk string of
 * any size streams through; what is kept of values is bounded (conn_body_max(), the bounds
 * below) and the rest counted. A gap or malformed bytes make the direction resynchronise at
 * the next line that starts like a RESP message.
 */
#ifndef FLOE_DISSECT_REDIS_H
#define FLOE_DISSECT_REDIS_H

#include "dissect/dissector.h"

/* A header line, simple string, error or inline command longer than this is a parse error
 * (Redis refuses inline requests over 64 KiB too). */
#define REDIS_LINE_MAX (64u * 1024u)
/* Aggregates nested deeper than this are a parse error. */
#define REDIS_PARSE_DEPTH_MAX 64u
/* Nesting kept in response.value; deeper aggregates are shown as null (truncated). */
#define REDIS_VALUE_DEPTH_MAX 16u
/* Values (scalars and aggregates) kept per reply; the rest are counted, not kept. */
#define REDIS_VALUE_ELEMENTS_MAX 1024u
/* Arguments kept per command (request.args), and keys (request.keys). */
#define REDIS_ARGS_MAX 64u
#define REDIS_KEYS_MAX 64u
/* Bytes kept of one key name. */
#define REDIS_KEY_BYTES_MAX 1024u
/* Commands waiting for their reply per connection; more evict the oldest. */
#define REDIS_PENDING_MAX 4096u
/* Argument and key bytes held by all waiting commands of a connection; past it, args and
 * keys are cut. */
#define REDIS_PENDING_BYTES_MAX (4u << 20)
/* Queued commands listed on an EXEC/DISCARD entry. */
#define REDIS_TX_MAX 64u
/* Aggregate lengths and bulk lengths above these are malformed. */
#define REDIS_COUNT_LIMIT  ((int64_t)1 << 31)
#define REDIS_LENGTH_LIMIT ((int64_t)1 << 40)

/* The dissector's event counters (dissector_redis.counters), in this order. */
enum redis_counter {
	REDIS_CTR_REQUEST_ERRORS = 0, /* malformed client bytes */
	REDIS_CTR_REPLY_ERRORS,	      /* malformed server bytes */
	REDIS_CTR_RESYNC_BYTES,	      /* bytes skipped to find the next message */
	REDIS_CTR_EMPTY_INLINE,	      /* blank inline lines (Redis ignores them) */
	REDIS_CTR_EVICTED,	      /* commands given up over REDIS_PENDING_MAX */
	REDIS_CTR_REPLICATION_BYTES,  /* bytes of a replication stream, not dissected */
	REDIS_CTR__COUNT,
};

extern const struct dissector dissector_redis;


#endif /* FLOE_DISSECT_REDIS_H */
