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

/* The capture program forces a wakeup of the ring's consumer at most once per this many ns per
 * CPU while the backlog is above its wakeup_bytes (capture.bpf.c, last_wake). */
#define FLOE_WAKE_GAP_NS 1000000ULL

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
	FLOE_CNT_OUT_OF_SCOPE, /* targeted packets no clause of the capture scope holds for */
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
 * The capture scope (docs/capture.md, "Capture scope"): a query's pushdown (kfl.h,
 * kfl_pushdown) as maps the TC program checks after the targets. Up to 32 terms, each a bit;
 * `scope_values` maps an address, a port or a tapped pod's address to the bits of the terms
 * it satisfies; a packet satisfies a term when either endpoint does. It is recorded when every
 * term of some clause holds. Off (`enabled` 0) records every targeted packet.
 */
#define FLOE_SCOPE_CLAUSES_MAX 8

enum floe_scope_kind {
	FLOE_SCOPE_ADDR = 1, /* value: the address (as struct floe_addr) */
	FLOE_SCOPE_PORT = 2, /* value[0..1]: the port, network order */
	FLOE_SCOPE_POD = 3,  /* value: the address of a tapped pod; bits of its pod/namespace terms */
};

struct floe_scope_key {
	__u32 kind; /* enum floe_scope_kind */
	__u32 reserved;
	__u8 value[16];
};

struct floe_scope_config {
	__u32 enabled;
	__u32 nclauses;
	/* Bumped by userspace after each change of the scope's maps (capture_scope.c): a verdict
	 * in scope_cache made under another generation is not used. */
	__u32 generation;
	/* Bits held by a packet without ports (not TCP, UDP or SCTP, a later IP fragment, an
	 * IPv6 extension header): its port terms cannot be ruled out. */
	__u32 port_terms;
	/* Bits held by an endpoint the FLOE_SCOPE_POD entries do not name: a peer that is not a
	 * tapped pod has a name the program does not know. */
	__u32 pod_terms;
	__u32 clauses[FLOE_SCOPE_CLAUSES_MAX]; /* bit i: term i must hold */
};

/*
 * scope_cache (an LRU hash): a flow's verdict, so that a packet costs one lookup instead of up
 * to six (two addresses, two ports, two pods). The verdict depends only on the two endpoints
 * (address and port, when the packet has ports) and both directions give the same one: the
 * key holds the lower endpoint first (in a fixed order: the address as two 64-bit words in
 * the machine's byte order, then the port as a 16-bit number read the same way).
 */
struct floe_scope_flow {
	__u8 addr_lo[16];
	__u8 addr_hi[16];
	__be16 port_lo; /* network order; 0 without ports */
	__be16 port_hi;
	__u8 proto;	/* IPv4 protocol, IPv6 next header */
	__u8 has_ports; /* 0: not TCP, UDP or SCTP, a later fragment, an extension header */
	__u16 reserved;
};

struct floe_scope_verdict {
	__u32 generation; /* floe_scope_config.generation it was made under */
	__u32 in_scope;	  /* 1: recorded, 0: out of scope */
};

/*
 * Every ring-buffer record starts with this header. `type` says which layout follows,
 * `size` is the whole record as reserved in the ring (header included), so the consumer can
 * check it against the length the ring reports before trusting anything else in it.
 */
enum floe_record_type {
	/* 0 is never a type: a zeroed record is not mistaken for one. */
	FLOE_RECORD_PACKET = 1,	   /* struct floe_pkt_record, then cap_len bytes of frame */
	FLOE_RECORD_TLS_DATA = 2,  /* struct floe_tls_record, then cap_len bytes of plaintext */
	FLOE_RECORD_TLS_EVENT = 3, /* struct floe_tls_event: a connection's end, an exec */
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
_Static_assert(sizeof(struct floe_scope_key) == 24, "scope key is 24 bytes");
_Static_assert(__builtin_offsetof(struct floe_scope_key, value) == 8, "scope value at 8");
_Static_assert(sizeof(struct floe_scope_config) == 20 + 4 * FLOE_SCOPE_CLAUSES_MAX,
	       "scope config without padding");
_Static_assert(sizeof(struct floe_scope_flow) == 40, "scope flow key is 40 bytes");
_Static_assert(__builtin_offsetof(struct floe_scope_flow, port_lo) == 32, "port_lo at 32");
_Static_assert(FLOE_FIELD_END(struct floe_scope_flow, reserved) == sizeof(struct floe_scope_flow),
	       "no padding at the end of the scope flow key");
_Static_assert(sizeof(struct floe_scope_verdict) == 8, "scope verdict is 8 bytes");

/* ---- TLS plaintext through uprobes (bpf/tls.bpf.c, lib/node/source/tls_source.c) ---- */

/* Plaintext bytes one record carries; a call that read or wrote more is split into up to
 * FLOE_TLS_MAX_CHUNKS records, and what is past that is cut (counted, a gap in the stream). */
#define FLOE_TLS_MAX_DATA   16384u
#define FLOE_TLS_MAX_CHUNKS 4u

enum floe_tls_dir {
	FLOE_TLS_READ = 0,  /* SSL_read / SSL_read_ex: bytes the process received */
	FLOE_TLS_WRITE = 1, /* SSL_write / SSL_write_ex: bytes the process sent */
};

/* Which end of the TLS connection the process is (SSL_set_connect_state/accept_state). */
enum floe_tls_role {
	FLOE_TLS_ROLE_UNKNOWN = 0,
	FLOE_TLS_ROLE_CLIENT = 1,
	FLOE_TLS_ROLE_SERVER = 2,
};

/* Per-CPU counters of the TLS programs, indexed by this enum in their `tls_counters` map. */
enum floe_tls_counter {
	FLOE_TLS_CNT_CALLS = 0,	   /* SSL_read/write calls of tapped processes that returned data */
	FLOE_TLS_CNT_RECORDS,	   /* data records committed to the ring */
	FLOE_TLS_CNT_BYTES,	   /* plaintext bytes in those records */
	FLOE_TLS_CNT_CUT,	   /* plaintext bytes not recorded (past the chunks of a call) */
	FLOE_TLS_CNT_RINGBUF_FULL, /* records lost because the ring was full */
	FLOE_TLS_CNT_READ_FAILED,  /* plaintext that could not be read from the process */
	FLOE_TLS_CNT_NO_SOCKET,	   /* records without a 5-tuple (no socket syscall seen yet) */
	FLOE_TLS_CNT_EVENTS,	   /* event records committed (closes, execs) */
	FLOE_TLS_CNT_MESH_HOP,	   /* calls not recorded: an in-pod loopback hop (--servicemesh) */
	FLOE_TLS_CNT_GO_MORESTACK, /* Go Write/Read entry passes skipped: bound for morestack,
				    * which enters the function again */
	FLOE_TLS_CNT_MAX,
};

/*
 * One run of plaintext a TLS library call read or wrote: this struct, then cap_len bytes.
 * A call of data_len bytes becomes one record per FLOE_TLS_MAX_DATA bytes (call_off says
 * where this one starts), up to FLOE_TLS_MAX_CHUNKS; bytes past those are cut. The socket's
 * endpoints are the ones the kernel's struct sock has for the fd the library did its I/O on
 * (family 0: not known yet). hdr.size is sizeof(struct floe_tls_record) + cap_len rounded up
 * to 8.
 */
struct floe_tls_record {
	struct floe_record_hdr hdr; /* type FLOE_RECORD_TLS_DATA */
	__u64 conn;		    /* the connection object (SSL *, Go *tls.Conn) in pid */
	__u32 pid;		    /* thread group id */
	__u32 tid;
	__u32 netns;	/* network namespace inode of the process */
	__u32 data_len; /* bytes the call returned (all chunks together) */
	__u32 call_off; /* offset of this chunk in the call's bytes */
	__u32 cap_len;	/* plaintext bytes that follow */
	__u8 dir;	/* enum floe_tls_dir */
	__u8 role;	/* enum floe_tls_role */
	__u8 family;	/* AF_INET, AF_INET6, 0: no socket found */
	__u8 flags;	/* FLOE_TLS_F_* */
	__u16 local_port; /* host order */
	__u16 remote_port;
	__u8 local_addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u8 remote_addr[16];
	char comm[16]; /* the thread's name (task->comm) */
};

/* floe_tls_record.flags */
enum floe_tls_flags {
	/* A Go (*Conn).Write taken at its entry: how much of it was written comes later, in a
	 * FLOE_TLS_EV_WRITE_DONE event of the same connection (docs/tls.md, "Go"). */
	FLOE_TLS_F_PENDING = 1,
};

/*
 * The attach cookie of the Go Write and Read entry probes, past the field offsets of its low
 * four bytes: how the probe tells a pass bound for runtime.morestack, which enters the
 * function again (bpf/tls.bpf.c, go_to_morestack; set by tls_source.c from the code).
 */
enum floe_go_entry {
	FLOE_GO_ENTRY_NONE = 0,  /* the stack check not recognised: no test */
	FLOE_GO_ENTRY_JBE = 1,   /* on the check's jbe: the flags of its cmp */
	FLOE_GO_ENTRY_FIRST = 2, /* on the first instruction: the check done by the probe */
};
#define FLOE_GO_COOKIE_MODE     32 /* bits 32-39: enum floe_go_entry */
#define FLOE_GO_COOKIE_GUARD    40 /* bits 40-47: the guard's offset in g (g.stackguard0) */
#define FLOE_GO_COOKIE_SP_BELOW 48 /* bits 48-63: what the check takes off rsp */

enum floe_tls_event_kind {
	FLOE_TLS_EV_CLOSE = 1, /* SSL_free of a connection that carried data */
	FLOE_TLS_EV_EXEC = 2,  /* a process of a tapped network namespace ran execve */
	FLOE_TLS_EV_EXIT = 3,  /* a process (its last thread) of a tapped namespace ended */
	FLOE_TLS_EV_MMAP = 4,  /* a process of a tapped namespace maps a libssl* file executable
				* (dlopen, or its loader at start) */
	FLOE_TLS_EV_WRITE_DONE = 5, /* a Go (*Conn).Write returned: value = bytes written */
	FLOE_TLS_EV_FORK = 6,	    /* a process of a tapped namespace forked: value = the child's
				     * pid (its probes are per process: docs/tls.md) */
};

struct floe_tls_event {
	struct floe_record_hdr hdr; /* type FLOE_RECORD_TLS_EVENT */
	__u64 conn;		    /* FLOE_TLS_EV_CLOSE: SSL * or *tls.Conn; 0 otherwise */
	__u32 pid;
	__u32 tid;
	__u32 netns;
	__u32 kind; /* enum floe_tls_event_kind */
	char comm[16];
	__u64 value; /* FLOE_TLS_EV_WRITE_DONE: the count Write returned; FLOE_TLS_EV_FORK: the
		      * child's pid; 0 otherwise */
};

_Static_assert(sizeof(struct floe_tls_record) == 104, "TLS data record is 104 bytes");
_Static_assert(__builtin_offsetof(struct floe_tls_record, hdr) == 0, "header first");
_Static_assert(__builtin_offsetof(struct floe_tls_record, conn) == 16, "conn at 16");
_Static_assert(__builtin_offsetof(struct floe_tls_record, pid) == 24, "pid at 24");
_Static_assert(__builtin_offsetof(struct floe_tls_record, tid) == 28, "tid at 28");
_Static_assert(__builtin_offsetof(struct floe_tls_record, netns) == 32, "netns at 32");
_Static_assert(__builtin_offsetof(struct floe_tls_record, data_len) == 36, "data_len at 36");
_Static_assert(__builtin_offsetof(struct floe_tls_record, call_off) == 40, "call_off at 40");
_Static_assert(__builtin_offsetof(struct floe_tls_record, cap_len) == 44, "cap_len at 44");
_Static_assert(__builtin_offsetof(struct floe_tls_record, dir) == 48, "dir at 48");
_Static_assert(__builtin_offsetof(struct floe_tls_record, role) == 49, "role at 49");
_Static_assert(__builtin_offsetof(struct floe_tls_record, family) == 50, "family at 50");
_Static_assert(__builtin_offsetof(struct floe_tls_record, flags) == 51, "flags at 51");
_Static_assert(__builtin_offsetof(struct floe_tls_record, local_port) == 52, "local_port at 52");
_Static_assert(__builtin_offsetof(struct floe_tls_record, remote_port) == 54, "remote_port at 54");
_Static_assert(__builtin_offsetof(struct floe_tls_record, local_addr) == 56, "local_addr at 56");
_Static_assert(__builtin_offsetof(struct floe_tls_record, remote_addr) == 72, "remote_addr at 72");
_Static_assert(__builtin_offsetof(struct floe_tls_record, comm) == 88, "comm at 88");
_Static_assert(FLOE_FIELD_END(struct floe_tls_record, comm) == sizeof(struct floe_tls_record),
	       "no padding at the end of the TLS data record");
_Static_assert(sizeof(struct floe_tls_record) % 8 == 0, "plaintext starts 8-byte aligned");

_Static_assert(sizeof(struct floe_tls_event) == 64, "TLS event record is 64 bytes");
_Static_assert(__builtin_offsetof(struct floe_tls_event, conn) == 16, "conn at 16");
_Static_assert(__builtin_offsetof(struct floe_tls_event, pid) == 24, "pid at 24");
_Static_assert(__builtin_offsetof(struct floe_tls_event, tid) == 28, "tid at 28");
_Static_assert(__builtin_offsetof(struct floe_tls_event, netns) == 32, "netns at 32");
_Static_assert(__builtin_offsetof(struct floe_tls_event, kind) == 36, "kind at 36");
_Static_assert(__builtin_offsetof(struct floe_tls_event, comm) == 40, "comm at 40");
_Static_assert(__builtin_offsetof(struct floe_tls_event, value) == 56, "value at 56");
_Static_assert(FLOE_FIELD_END(struct floe_tls_event, value) == sizeof(struct floe_tls_event),
	       "no padding at the end of the TLS event record");

#endif /* FLOE_RECORD_H */
