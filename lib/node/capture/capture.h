/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture: the kernel side of a tap, seen from userspace. Loads bpf/capture.bpf.c (CO-RE,
 * through its skeleton), fills the targets map, attaches the TC programs to pod veths
 * (through tc_hooks) and drains the ring buffer.
 */
#ifndef FLOE_CAPTURE_H
#define FLOE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "floe_record.h"
#include "capture/tc_hooks.h"

struct capture;

struct capture_config {
	uint32_t snaplen;       /* bytes per packet kept, 1..FLOE_MAX_SNAPLEN */
	uint64_t ringbuf_bytes; /* ring buffer size; rounded up to a power of two pages */
	const char *state_dir;  /* for tc_hooks; normally /run/floe */
};

/* Called for each packet record: the record, then cap_len bytes of frame. Return 0 to go on. */
typedef int (*capture_record_fn)(void *ctx, const struct floe_pkt_record *rec,
				 const uint8_t *frame);

/* What the drain did with the records the ring gave it. */
struct capture_stats {
	uint64_t records;  /* records that held up and were handed on */
	uint64_t bad_type; /* unknown record type: skipped */
	uint64_t bad_size; /* header size not the ring's, or lengths that do not fit: skipped */
};

/* Load and verify the programs; clean stale hooks of a crashed run. */
int capture_open(const struct capture_config *cfg, capture_record_fn fn, void *ctx,
		 struct capture **out, struct tc_hooks_cleanup_stats *cleaned, char *err,
		 size_t errlen);

/* Targets: addresses (AF_INET: 4 bytes, AF_INET6: 16 bytes) mapped to a target id. */
int capture_target_add(struct capture *c, int family, const uint8_t *addr, uint32_t target_id,
		       uint32_t flags);
int capture_target_del(struct capture *c, int family, const uint8_t *addr);

int capture_attach(struct capture *c, int ifindex, char *err, size_t errlen);
void capture_detach(struct capture *c, int ifindex);

/*
 * Return once every packet that is in the kernel's receive and forwarding path now has
 * passed all the hooks it will pass (an RCU grace period; a few ms). After attaching a
 * pod's hooks, before marking it FLOE_TARGET_LOCAL (tap/pod_capture.h). 0 or -errno.
 */
int capture_sync_hooks(struct capture *c);

/*
 * Reading the ring buffer from an event loop: capture_ring_fd() is readable when the kernel
 * forced a wakeup (records submitted without one do not make it readable: drain on a timer
 * too); capture_drain() consumes every record there is now, without waiting, through the
 * record function. Returns records consumed or a negative errno.
 */
int capture_ring_fd(struct capture *c);
int capture_drain(struct capture *c);

/* Replace the record function given to capture_open (e.g. by a byte source that wraps c).
 * While it is NULL, capture_drain leaves the records in the ring. */
void capture_set_record_fn(struct capture *c, capture_record_fn fn, void *ctx);

/* Userspace's side of the counting: records handed on, and records refused. */
void capture_get_stats(const struct capture *c, struct capture_stats *out);

/*
 * Check one ring-buffer record (data and size as the ring gave them) and dispatch it by type:
 * a packet record goes to fn. A record whose header or lengths do not hold up is counted in st
 * and skipped, never passed on. Returns fn's result, 0 for a skipped record. capture_drain
 * drains through this; tests feed it crafted records.
 */
int capture_record_dispatch(const void *data, size_t size, capture_record_fn fn, void *ctx,
			    struct capture_stats *st);

/* Write one address of a target into a `targets` map (capture_target_add does this on the
 * loaded program's map; tests use it on a skeleton of their own). */
struct bpf_map;
int capture_targets_map_add(struct bpf_map *targets, int family, const uint8_t *addr,
			    uint32_t target_id, uint32_t flags);

/* out[0..n) = the sums over CPUs of a per-CPU array of n __u64 counters (any program's). */
int capture_percpu_sum(const struct bpf_map *counters, uint64_t *out, uint32_t n);

/* Sum of the per-CPU counters. */
int capture_counters(struct capture *c, uint64_t out[FLOE_CNT_MAX]);

/* The same sum, read from a `counters` map (of a skeleton of the tests' own, say). */
int capture_counters_map_read(const struct bpf_map *counters, uint64_t out[FLOE_CNT_MAX]);

/* Bytes the kernel has written into the ring and the drain not yet consumed (reserved
 * records not yet submitted included); UINT64_MAX if this cannot be known. */
uint64_t capture_ring_pending(const struct capture *c);

/* The ring buffer size in effect. */
uint64_t capture_ringbuf_bytes(const struct capture *c);

/* The program's capture scope maps (capture_scope.h). */
struct capture_scope_maps;
void capture_scope_maps_of(struct capture *c, struct capture_scope_maps *out);

/* Detach every hook and free the programs. */
void capture_close(struct capture *c);

#endif /* FLOE_CAPTURE_H */
