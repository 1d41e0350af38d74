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

/*
 * The same, aiming at batches of about `batch` records while records come: each drain wakes
 * the consumers of its batch (the store's writer, the dissection thread), and in a guest a
 * wake-up and the switches it causes cost tens of microseconds, as much as a few dozen packets'
 * own work. So a drain that found fewer than batch / 2 records doubles the gap (up to
 * active_max_ns), one that found batch or more halves it (down to min_ns); the ring's fd (a
 * backlog of a quarter of the ring) still brings min_ns back at once, and an empty ring backs
 * off to max_ns as drain_pace_next does.
 */
static inline uint64_t drain_pace_next_batch(uint64_t gap_ns, int n, int woken, uint64_t min_ns,
					     uint64_t active_max_ns, uint64_t max_ns, int batch)
{
	if (woken)
		return min_ns;
	if (n <= 0)
		return gap_ns < max_ns ? gap_ns * 2 : gap_ns;
	if (gap_ns > active_max_ns) /* the first records after idle */
		return active_max_ns;
	if (n >= batch)
		return gap_ns / 2 > min_ns ? gap_ns / 2 : min_ns;
	if (n < batch / 2)
		return gap_ns * 2 < active_max_ns ? gap_ns * 2 : active_max_ns;
	return gap_ns;
}

#endif /* FLOE_SOURCE_DRAIN_PACE_H */
