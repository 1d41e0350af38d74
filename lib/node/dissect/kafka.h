/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka: the Apache Kafka protocol dissector (docs/kafka.md).
 *
 * One entry per request and its response, matched by correlation id per connection; the
 * response body is decoded with the api key and version of its request. Every API key's
 * header is decoded; the bodies of the APIs with field tables in kafka_schema.c are decoded
 * field by field (flexible versions included), record batches (and legacy message sets) with
 * their records, decompressed when they are gzip, snappy, lz4 or zstd.
 *
 * Messages are framed by their 4-byte length and streamed: up to a bound (KAFKA_DECODE_MIN,
 * or --body-max plus KAFKA_DECODE_MIN when that is larger) a message's bytes are kept and
 * decoded, the rest is counted and skipped.
 */
#ifndef FLOE_DISSECT_KAFKA_H
#define FLOE_DISSECT_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dissect/dissector.h"

/* Largest request accepted as one (Kafka's default socket.request.max.bytes, 100 MiB). */
#define KAFKA_REQUEST_MAX (100u << 20)
/* Largest response accepted (a positive int32: fetch sizes are the client's choice). */
#define KAFKA_RESPONSE_MAX 0x7fffffffu
/* Bytes of a message kept for decoding at least; more are counted and skipped. */
#define KAFKA_DECODE_MIN (1u << 20)
/*
 * Requests waiting for their response; more evict the oldest (missing: too_many_pending).
 * librdkafka keeps up to a million in flight by default; hundreds are common under load.
 */
#define KAFKA_PENDING_MAX 1024u
/* Record keys and values kept by the requests waiting for their response, per connection;
 * past it, further requests show their records' sizes only. */
#define KAFKA_PENDING_VALUES_MAX (16u << 20)
/* Array elements (structs, numbers, records) shown per message; the rest are only counted. */
#define KAFKA_ELEMENTS_MAX 2000u
/* Distinct topic names (and ids) listed in a message's summary. */
#define KAFKA_TOPICS_MAX 64u
/* Decompressed record bytes per message (gzip, snappy, lz4, zstd); more are not decoded. */
#define KAFKA_DECOMPRESS_MAX (4u << 20)

/* The event counters (dissector.counters), by index. */
enum kafka_counter {
	KAFKA_C_OVERSIZED = 0,	   /* messages longer than the decode bound */
	KAFKA_C_SKIPPED_BYTES,	   /* their bytes past the bound, not decoded */
	KAFKA_C_RESYNC_BYTES,	   /* bytes skipped looking for a message start */
	KAFKA_C_MALFORMED,	   /* messages whose body did not decode */
	KAFKA_C_DECOMPRESSED,	   /* compressed batches decoded */
	KAFKA_C_DECOMPRESS_FAILED, /* compressed batches that did not decompress */
	KAFKA_C_RESYNCS,	   /* times the framing was lost (gap, bytes that were not a
				    * length) and the next message start was searched for */
};

extern const struct dissector dissector_kafka;

#endif /* FLOE_DISSECT_KAFKA_H */
