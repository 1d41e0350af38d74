/* SPDX-License-Identifier: Apache-2.0 */
/*
 * amqp: the AMQP 0-9-1 dissector (docs/amqp.md; fields in docs/entries.md).
 *
 * Frames (type, channel, size, frame end 0xCE) are read here; method arguments, content
 * header properties and field tables are decoded by librabbitmq (rabbitmq-c), after floe has
 * bounded what it gives it (frame size, table nesting and entry count). Content (header and
 * body frames) is assembled per channel and direction, body frames are streamed, never
 * buffered whole.
 *
 * Entries: a synchronous method and its reply (Queue.Declare / Queue.Declare-Ok, ...);
 * Basic.Publish with its content (and the broker's Basic.Ack/Nack when publisher confirms
 * are on); Basic.Deliver and Basic.Get with their content, and the consumer's
 * Basic.Ack/Nack/Reject attached by delivery tag; Basic.Return; every other method on its
 * own. Heartbeats and frames are counted (dissector counters), not shown.
 */
#ifndef FLOE_DISSECT_AMQP_H
#define FLOE_DISSECT_AMQP_H

#include <stddef.h>

#include <jansson.h>

#include "dissect/dissector.h"

/* Channels tracked per connection; past that the least recently used one is dropped. */
#define AMQP_CHANNELS_MAX 64u
/* Synchronous requests waiting for their reply, per channel and sender. */
#define AMQP_SYNC_PENDING_MAX 16u
/* Deliveries waiting for the consumer's ack plus publishes waiting for the broker's confirm,
 * per connection, and the body bytes they keep; past either the oldest is emitted without its
 * response. (A consumer's prefetch window is often hundreds of messages.) */
#define AMQP_HELD_MAX	    1024u
#define AMQP_HELD_BYTES_MAX (4u << 20)
/* Consumers (consumer tag -> no_ack) remembered per channel. */
#define AMQP_CONSUMERS_MAX 16u
/* Method and content header frames are decoded up to this payload size (AMQP's default
 * frame_max); larger ones are skipped and reported undecoded. */
#define AMQP_DECODE_MAX (128u * 1024u)
/* Field tables handed to librabbitmq: nesting depth and values in all (it has no bound). */
#define AMQP_TABLE_DEPTH_MAX  16u
#define AMQP_TABLE_VALUES_MAX 4096u
/* Largest frame believed while frame_max is not known (picked up mid-stream, or 0 = none). */
#define AMQP_FRAME_GUESS_MAX (1u << 20)

extern const struct dissector dissector_amqp;

#endif /* FLOE_DISSECT_AMQP_H */
