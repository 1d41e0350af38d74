/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock_offset: ring records carry bpf_ktime_get_ns() (CLOCK_MONOTONIC); what is stored and
 * shown is CLOCK_REALTIME. The offset between them, read with the monotonic clock on both
 * sides of the real one; sources re-read it now and then (the wall clock may be stepped).
 */
#ifndef FLOE_SOURCE_CLOCK_OFFSET_H
#define FLOE_SOURCE_CLOCK_OFFSET_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_offset_now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns. */
static inline int64_t clock_offset_mono_to_real(void)
{
	int64_t m1 = clock_offset_now_ns(CLOCK_MONOTONIC), r = clock_offset_now_ns(CLOCK_REALTIME);
	int64_t m2 = clock_offset_now_ns(CLOCK_MONOTONIC);

	return r - (m1 + (m2 - m1) / 2);
}

#endif /* FLOE_SOURCE_CLOCK_OFFSET_H */
