/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one record layout shared by the kernel programs (bpf/NAME.bpf.c) and userspace
 * (lib/node/capture/). The kernel side includes vmlinux.h before this header; userspace
 * includes <linux/types.h>. Every struct is free of implicit padding, and the checks at the end
 * make both compilers prove it.
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

/*
 * Every ring-buffer record starts with this header. `type` says which layout follows,
 * `size` is the whole record as reserved in the ring (header included), so the consumer can
 * check it against the length the ring reports before trusting anything else in it.
 */
enum floe_record_type {
	/* 0 is never a type: a zeroed record is not mistaken for one. */
	FLOE_RECORD_PACKET = 1, /* struct floe_pkt_record, then cap_len bytes of frame */
	/*
	 * Reserved for the TLS capture (a later issue), in this order:
	 *   2  FLOE_RECORD_TLS_DATA   plaintext read or written through a TLS library
	 *   3  FLOE_RECORD_TLS_CONN   a TLS connection's events (open, close, 5-tuple)
	 */
};

struct floe_record_hdr {
	__u32 type;  /* enum floe_record_type */
	__u32 size;  /* bytes of the whole record, this header included */
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/* Packet record flags. */
#define FLOE_REC_IPV6 0x1u

/*
 * One captured packet in the ring buffer: this struct, then cap_len bytes of the frame
 * starting at the Ethernet header (no flexible array member, so the kernel can embed the
 * struct in a reservation). The kernel reserves records in size classes: hdr.size is
 * sizeof(struct floe_pkt_record) + the class, and cap_len says how much of the class is frame.
 */
struct floe_pkt_record {
	struct floe_record_hdr hdr; /* type FLOE_RECORD_PACKET */
	__u32 ifindex;              /* host-side interface the hook runs on */
	__u32 pkt_len;              /* length of the whole frame (skb->len) */
	__u32 cap_len;              /* bytes that follow, min(pkt_len, snap length) */
	__u32 src_target;           /* target id of the source address, 0 if none */
	__u32 dst_target;           /* target id of the destination address, 0 if none */
	__u8 dir;                   /* enum floe_dir */
	__u8 flags;                 /* FLOE_REC_* */
	__u16 reserved;
};

/*
 * Layout checks, evaluated by both compilers (clang -target bpf for the kernel programs, the
 * host compiler for userspace): the same sizes and offsets on both sides, and no implicit
 * padding (each struct's size is the sum of its members, each member where the previous one
 * ends). Frames follow the packet record at an 8-byte boundary.
 */
#define FLOE_FIELD_END(type, member) (__builtin_offsetof(type, member) + sizeof(((type *)0)->member))

_Static_assert(sizeof(struct floe_record_hdr) == 16, "record header is 16 bytes");
_Static_assert(__builtin_offsetof(struct floe_record_hdr, type) == 0, "hdr.type at 0");
_Static_assert(__builtin_offsetof(struct floe_record_hdr, size) == 4, "hdr.size at 4");
_Static_assert(__builtin_offsetof(struct floe_record_hdr, ts_ns) == 8, "hdr.ts_ns at 8");
_Static_assert(FLOE_FIELD_END(struct floe_record_hdr, ts_ns) == sizeof(struct floe_record_hdr),
	       "no padding after hdr.ts_ns");

_Static_assert(sizeof(struct floe_pkt_record) == 40, "packet record is 40 bytes");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, hdr) == 0, "header first");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, ifindex) == 16, "ifindex at 16");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, pkt_len) == 20, "pkt_len at 20");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, cap_len) == 24, "cap_len at 24");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, src_target) == 28, "src_target at 28");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, dst_target) == 32, "dst_target at 32");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, dir) == 36, "dir at 36");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, flags) == 37, "flags at 37");
_Static_assert(__builtin_offsetof(struct floe_pkt_record, reserved) == 38, "reserved at 38");
_Static_assert(FLOE_FIELD_END(struct floe_pkt_record, reserved) == sizeof(struct floe_pkt_record),
	       "no padding at the end of the packet record");
_Static_assert(sizeof(struct floe_pkt_record) % 8 == 0, "frames start 8-byte aligned");

_Static_assert(sizeof(struct floe_addr) == 16, "map key is 16 bytes");
_Static_assert(sizeof(struct floe_target) == 8, "map value is 8 bytes");

#endif /* FLOE_RECORD_H */
