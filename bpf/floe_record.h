/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one record layout shared by the kernel programs (bpf/NAME.bpf.c) and userspace
 * (agent/). The kernel side includes vmlinux.h before this header; userspace includes
 * <linux/types.h>. Keep every struct free of implicit padding: both compilers must agree.
 */
#ifndef FLOE_RECORD_H
#define FLOE_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest number of packet bytes a record carries (the scratch buffer's size). */
#define FLOE_MAX_SNAPLEN 65536u

/* Direction as seen from the pod: the host-side veth's TC ingress sees what the pod sends. */
enum floe_dir {
	FLOE_DIR_FROM_POD = 0,
	FLOE_DIR_TO_POD = 1,
};

/* Per-CPU counters, indexed by this enum in the `counters` map. */
enum floe_counter {
	FLOE_CNT_SEEN = 0,     /* packets that reached a floe TC hook */
	FLOE_CNT_TARGETED,     /* packets whose source or destination is a tapped pod */
	FLOE_CNT_RECORDED,     /* records committed to the ring buffer */
	FLOE_CNT_RINGBUF_FULL, /* targeted packets lost because the ring buffer was full */
	FLOE_CNT_DUPLICATE,    /* pod-to-pod packets already handled at the sender's hook */
	FLOE_CNT_MAX,
};

/* Target flags (value of the `targets` map). */
#define FLOE_TARGET_LOCAL 0x1u /* the pod lives on this host and its veth is hooked */

/* Key of the `targets` map: an IP address, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
struct floe_addr {
	__u8 bytes[16];
};

struct floe_target {
	__u32 target_id; /* 1-based id of the tapped pod; 0 is never used */
	__u32 flags;     /* FLOE_TARGET_* */
};

/* Record flags. */
#define FLOE_REC_IPV6 0x1u

/*
 * One captured packet in the ring buffer: this header, then cap_len bytes of the frame
 * starting at the Ethernet header (no flexible array member, so the kernel can embed the
 * header in its staging buffer).
 */
struct floe_pkt_record {
	__u64 ts_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;    /* host-side interface the hook runs on */
	__u32 pkt_len;    /* length of the whole frame (skb->len) */
	__u32 cap_len;    /* bytes that follow, min(pkt_len, snap length) */
	__u32 src_target; /* target id of the source address, 0 if none */
	__u32 dst_target; /* target id of the destination address, 0 if none */
	__u8 dir;         /* enum floe_dir */
	__u8 flags;       /* FLOE_REC_* */
	__u16 reserved;
};

#endif /* FLOE_RECORD_H */
