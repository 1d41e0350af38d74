/* SPDX-License-Identifier: Apache-2.0 */
/*
 * packet_source: the TC ring buffer (capture.h) as a byte source of frames.
 *
 * The BPF program submits records without waking the reader (BPF_RB_NO_WAKEUP; a wakeup per
 * packet costs several microseconds in the kernel) and forces a wakeup only when a quarter
 * of the ring is waiting. So the source drains on a timer: every millisecond while records
 * come, backing off (doubling up to PACKET_SOURCE_DRAIN_MAX_NS) while the ring stays empty,
 * back to a millisecond as soon as a drain finds records or the ring's fd (the forced wakeup)
 * fires. An idle tap thus wakes a few times a second, and a burst after idle is noticed
 * within PACKET_SOURCE_DRAIN_MAX_NS, or at once when it fills a quarter of the ring.
 * Kernel timestamps (CLOCK_MONOTONIC) are turned into wall-clock time with an offset re-read
 * every second, so that a clock step shows up in the capture quickly.
 */
#ifndef FLOE_SOURCE_PACKET_SOURCE_H
#define FLOE_SOURCE_PACKET_SOURCE_H

#include "capture/capture.h"
#include "source/byte_source.h"

#define PACKET_SOURCE_DRAIN_MIN_NS 1000000ull  /* 1 ms */
#define PACKET_SOURCE_DRAIN_MAX_NS 64000000ull /* 64 ms */

/* Frames of c (which stays the caller's; free the source before closing it). */
int packet_source_new(struct capture *c, struct byte_source *out);

#endif /* FLOE_SOURCE_PACKET_SOURCE_H */
