/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drain_pace: the cadence of draining a ring buffer whose records are submitted without a
 * wakeup each (a wakeup costs the writer microseconds; DESIGN.md): drain every min_ns while
 * records come, doubling the gap up to max_ns while the ring stays empty, back to min_ns at
 * once when a drain found records or the ring's fd woke the loop (the kernel forces a wakeup
 * when a backlog builds up). Shared by the packet source and the TLS source.
 */
#ifndef FLOE_SOURCE_DRAIN_PACE_H
#define FLOE_SOURCE_DRAIN_PACE_H

#include <stdint.h>

/* The gap before the next drain, after one that found n records (woken: by the ring's fd). */
static inline uint64_t drain_pace_next(uint64_t gap_ns, int n, int woken, uint64_t min_ns,
				       uint64_t max_ns)
{
	if (n > 0 || woken)
		return min_ns;
	return gap_ns < max_ns ? gap_ns * 2 : gap_ns;
}

#endif /* FLOE_SOURCE_DRAIN_PACE_H */
