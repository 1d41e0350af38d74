/* SPDX-License-Identifier: Apache-2.0 */
/*
 * packet_source: the TC ring buffer (capture.h) as a byte source of frames.
 *
 * The BPF program submits records without waking the reader (BPF_RB_NO_WAKEUP; a wakeup per
 * packet costs several microseconds in the kernel) and forces a wakeup only when a quarter
 * of the ring is waiting. So the source drains on a timer: while records come, every
 * PACKET_SOURCE_DRAIN_MIN_NS to PACKET_SOURCE_DRAIN_ACTIVE_NS, the gap doubled while drains find
 * fewer than PACKET_SOURCE_DRAIN_BATCH / 2 records and halved while they find more than
 * PACKET_SOURCE_DRAIN_BATCH (each drain wakes the store's writer and the dissection thread: at
 * a few thousand packets a second a drain per millisecond spent more in wake-ups than in the
 * packets); backing off (doubling up to PACKET_SOURCE_DRAIN_MAX_NS) while the ring stays empty,
 * and back to PACKET_SOURCE_DRAIN_MIN_NS as soon as the ring's fd (the forced wakeup) fires.
 * An idle tap thus wakes a few times a second, and a burst after idle is noticed within
 * PACKET_SOURCE_DRAIN_MAX_NS, or at once when it fills a quarter of the ring.
 * Kernel timestamps (CLOCK_MONOTONIC) are turned into wall-clock time with an offset re-read
 * every second, so that a clock step shows up in the capture quickly.
 */
#ifndef FLOE_SOURCE_PACKET_SOURCE_H
#define FLOE_SOURCE_PACKET_SOURCE_H

#include "capture/capture.h"
#include "source/byte_source.h"

#define PACKET_SOURCE_DRAIN_MIN_NS 1000000ull  /* 1 ms */
#define PACKET_SOURCE_DRAIN_MAX_NS 64000000ull /* 64 ms */
#define PACKET_SOURCE_DRAIN_ACTIVE_NS 8000000ull /* 8 ms: the longest gap while records come */
#define PACKET_SOURCE_DRAIN_BATCH 256	       /* records per drain aimed at */

/* Frames of c (which stays the caller's; free the source before closing it). */
int packet_source_new(struct capture *c, struct byte_source *out);

#endif /* FLOE_SOURCE_PACKET_SOURCE_H */
