/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ip_defrag: IP fragments (IPv4 and IPv6) put back together into whole TCP segments and UDP
 * datagrams, before TCP reassembly and UDP conversations see them.
 *
 * Feed every packet that packet_decode() flagged PACKET_F_FRAGMENT. Up to IP_DEFRAG_SLOTS
 * datagrams are put together at once, keyed by family, addresses, L4 protocol and IP id, each
 * in a buffer of IP_DEFRAG_BYTES (the largest datagram). When every byte up to the last
 * fragment came, the datagram goes to the callback as one decoded packet: the first
 * fragment's addresses, ports and TCP header fields, its payload in the defragmenter's buffer
 * (valid during the callback only), ts_ns the last fragment's time, ts_first the first's.
 *
 * A datagram that does not complete within IP_DEFRAG_TIMEOUT_NS, whose slot is needed for a
 * newer one, or that is still open at ip_defrag_expire(all) is given up: what came from its
 * start without a hole goes to the callback as a datagram cut short (payload_caplen <
 * payload_wirelen, `whole` false); nothing when its first fragment never came. Overlapping
 * fragments: the later copy wins. Everything is counted (struct ip_defrag_stats).
 *
 * Memory: at most IP_DEFRAG_SLOTS buffers of IP_DEFRAG_BYTES (4 MiB), allocated as fragments
 * come and freed when their datagram is done. Not thread-safe.
 */
#ifndef FLOE_NET_IP_DEFRAG_H
#define FLOE_NET_IP_DEFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "net/packet.h"

#define IP_DEFRAG_SLOTS 64u		       /* datagrams being put together at once */
#define IP_DEFRAG_BYTES 65536u		       /* the largest datagram (L4 header and payload) */
#define IP_DEFRAG_TIMEOUT_NS (30ull * 1000000000ull) /* like Linux's ipfrag_time */

struct ip_defrag;

struct ip_defrag_stats {
	uint64_t fragments;	 /* fragments of TCP or UDP datagrams fed */
	uint64_t reassembled;	 /* datagrams put back together whole */
	uint64_t given_up;	 /* datagrams whose fragments never all came */
	uint64_t unreadable;	 /* fragments whose IP headers were not all captured */
	uint64_t alloc_failures; /* fragments dropped for want of memory */
};

/*
 * A datagram out of fragments: p as a decoded TCP or UDP packet (flags PACKET_F_L4, frame
 * NULL); whole false when it was given up and is cut short.
 */
typedef void (*ip_defrag_fn)(void *ctx, const struct packet *p, uint64_t ts_first, bool whole);

/* Returns NULL on ENOMEM. */
struct ip_defrag *ip_defrag_new(ip_defrag_fn fn, void *ctx);
/* Frees what is still being put together, without calling back (ip_defrag_expire first). */
void ip_defrag_free(struct ip_defrag *d);

enum ip_defrag_result {
	IP_DEFRAG_HELD = 0,    /* kept (and the datagram delivered if it is now whole) */
	IP_DEFRAG_UNREADABLE,  /* its IP headers were not all captured: dropped, counted */
	IP_DEFRAG_NO_MEMORY,   /* dropped, counted */
	IP_DEFRAG_NOT_TCP_UDP, /* not a fragment of TCP or UDP: not ours */
};

/* One fragment (p->flags has PACKET_F_FRAGMENT; p->frame must be the frame). */
enum ip_defrag_result ip_defrag_add(struct ip_defrag *d, const struct packet *p);

/* Give up datagrams whose first fragment is older than IP_DEFRAG_TIMEOUT_NS before now_ns,
 * or every one when all. */
void ip_defrag_expire(struct ip_defrag *d, uint64_t now_ns, bool all);

/* Datagrams being put together now. */
unsigned ip_defrag_pending(const struct ip_defrag *d);

void ip_defrag_get_stats(const struct ip_defrag *d, struct ip_defrag_stats *out);

#endif /* FLOE_NET_IP_DEFRAG_H */
