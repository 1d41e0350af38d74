/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_reasm: TCP flow table and per-direction stream reassembly.
 *
 * Feed decoded packets (net/packet.h) with tcp_reasm_packet(); the reassembler calls back
 * with each flow's bytes, in order, once, per direction:
 *
 *   open(ctx, info)                    a flow starts; returns the caller's per-flow pointer
 *   data(ctx, user, dir, bytes, len, ts)  the next in-order bytes of direction dir
 *   gap(ctx, user, dir, missing, cause, ts)  `missing` bytes of dir are lost; the next data()
 *                                      of dir continues right after them
 *   close(ctx, user, reason, ts)       the flow ends; user is not used again
 *   fin(ctx, user, dir, ts)            optional: dir reached its FIN (every byte before it was
 *                                      delivered or given up); the flow may stay open
 *
 * Directions. TCP_DIR_C2S is client to server. The client is learned from the handshake when
 * the first packet seen of the flow is a SYN (its sender is the client) or a SYN-ACK (its
 * receiver is the client). Otherwise (pick-up mid-stream) it is guessed from the ports: a
 * port below 1024 against one at or above 1024 is the server; else the higher port is the
 * client's (ephemeral ports are high); equal ports: the first packet's sender is the client.
 * info->role says which rule decided.
 *
 * Stream semantics, per direction:
 *   - Sequence numbers are compared modulo 2^32 (wraparound is invisible to the caller).
 *   - With a SYN seen, the stream starts after it (data on a SYN, TCP Fast Open, is
 *     delivered). Without one, it starts at the first segment of that direction that carries
 *     data or a FIN; bytes before it are never delivered (and are counted as retransmitted).
 *   - Out-of-order segments are held until the hole before them fills. Each segment's bytes
 *     are delivered once: the first copy seen wins; later copies (retransmissions, overlaps)
 *     are counted and dropped. For held bytes the counter bytes_overlap_conflict says how
 *     many later copies differed; bytes already delivered are not kept, so not compared.
 *   - A hole is declared lost (gap) when
 *       * the peer acknowledges bytes beyond it (TCP_GAP_ACKED): the receiver has them, so
 *         the capture will not see them any more;
 *       * holding the data after it would pass a buffer limit (TCP_GAP_BUFFER): the oldest
 *         hole of the direction is given up (for the global limit: the oldest hole of the
 *         least recently buffering direction first) until the new segment fits;
 *       * a segment was cut by the snap length (TCP_GAP_SNAPPED): its uncaptured tail;
 *       * the flow closes (TCP_GAP_CLOSE): holes before held data or before the FIN.
 *     Received data is never dropped for lack of buffer space: the hole is given up instead.
 *   - Data past a direction's FIN, segments more than 2^30 bytes ahead of the stream, and
 *     packets of a flow already closed are dropped and counted.
 *   - Each data() carries the timestamp of the packet the bytes came in; gap() the
 *     timestamp of the packet (or expiry time) that decided it.
 *
 * Flow life:
 *   - A flow is keyed by its address/port pair (either order). The first TCP packet of an
 *     unknown pair opens it, except a lone RST.
 *   - RST: close(TCP_CLOSE_RST) at once (held data is flushed first, holes as gaps).
 *   - FIN: when both directions have delivered everything up to their FIN,
 *     close(TCP_CLOSE_FIN). A flow with one FIN that then stays idle closes with
 *     TCP_CLOSE_FIN too, one without FIN with TCP_CLOSE_IDLE_TIMEOUT.
 *   - A flow closed by FIN or RST is remembered for time_wait_ns (costs a flow slot, no user
 *     pointer, no buffers) so that late retransmissions and ACKs do not open a new
 *     mid-stream flow; they are ignored (TCP_IGNORE_AFTER_CLOSE).
 *   - Port reuse: a SYN whose sequence number differs from the one recorded for its sender
 *     (or a SYN where none was seen, or a SYN-ACK with a new ISN) starts a new connection on
 *     the same pair: a flow still open is closed with TCP_CLOSE_PORT_REUSE, a remembered
 *     closed one is forgotten; then a new flow opens. stats.port_reuse counts both.
 *   - Table full (max_flows): a remembered closed flow is forgotten first, else the least
 *     recently used open flow is closed with TCP_CLOSE_EVICTED.
 *   - tcp_reasm_evict_lru() (a caller over its memory budget, between packets): the least
 *     recently used open flow is closed with TCP_CLOSE_MEMORY and forgotten, so that its
 *     next packet opens a new mid-stream flow (a connection that speaks again is picked up
 *     again; its held data and the caller's state of it are freed).
 *   - tcp_reasm_finish(): every open flow is flushed and closed with TCP_CLOSE_END_OF_INPUT.
 *
 * Time: timestamps are nanoseconds on any clock, the same for all calls. Packets should come
 * in timestamp order (per source at least); a timestamp older than a flow's last one does
 * not move its clock back. Idle expiry runs in tcp_reasm_expire(now), which the caller calls
 * with its clock (live), or on every packet with the packet's timestamp when
 * cfg.expire_on_packets is set (offline files).
 *
 * Memory is bounded at all times: at most max_flows flows (a fixed-size hash table of
 * buckets allocated at creation, flow records allocated on demand), and held out-of-order
 * data accounted as payload + TCP_REASM_SEGMENT_OVERHEAD bytes per held segment, never above
 * max_buffered_bytes_per_direction per direction nor max_total_buffered_bytes in all.
 * Lookup is O(1) (hash); eviction and expiry O(1) per flow (LRU lists).
 *
 * Not thread-safe: one instance per thread. Callbacks must not call back into the same
 * instance. The library never prints.
 */
#ifndef FLOE_NET_TCP_REASM_H
#define FLOE_NET_TCP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/packet.h"

/* Bytes charged per held out-of-order segment on top of its payload (bookkeeping). */
#define TCP_REASM_SEGMENT_OVERHEAD 64u

/* Defaults used for config fields left 0. */
#define TCP_REASM_DEFAULT_MAX_FLOWS       65536u
#define TCP_REASM_DEFAULT_MAX_DIR_BYTES   (1u << 20)        /* 1 MiB */
#define TCP_REASM_DEFAULT_MAX_TOTAL_BYTES (256ull << 20)    /* 256 MiB */
#define TCP_REASM_DEFAULT_IDLE_NS         (300ull * 1000000000ull) /* 5 min */
#define TCP_REASM_DEFAULT_TIME_WAIT_NS    (10ull * 1000000000ull)  /* 10 s */

struct tcp_reasm_config {
	uint32_t max_flows;                 /* open + remembered closed flows; 0: default */
	uint64_t max_buffered_bytes_per_direction; /* held out-of-order bytes (accounted), 0: default */
	uint64_t max_total_buffered_bytes;  /* same, all flows together; 0: default */
	uint64_t idle_timeout_ns;           /* close a flow without packets for this long; 0: default */
	uint64_t time_wait_ns;              /* remember a FIN/RST-closed flow this long; 0: default */
	uint32_t hash_seed;                 /* mixed into the flow hash */
	bool expire_on_packets;             /* run tcp_reasm_expire(packet ts) on every packet */
};

enum tcp_dir {
	TCP_DIR_C2S = 0, /* client to server */
	TCP_DIR_S2C = 1, /* server to client */
};

/* How the client was decided (see the header comment). */
enum tcp_role {
	TCP_ROLE_SYN = 0,        /* first packet seen was a SYN: its sender */
	TCP_ROLE_SYNACK,         /* first packet seen was a SYN-ACK: its receiver */
	TCP_ROLE_PORT,           /* guessed from the ports */
	TCP_ROLE_FIRST_SENDER,   /* equal ports: the first packet's sender */
};

enum tcp_close_reason {
	TCP_CLOSE_FIN = 0,       /* both FINs delivered, or one FIN and then idle */
	TCP_CLOSE_RST,
	TCP_CLOSE_IDLE_TIMEOUT,
	TCP_CLOSE_EVICTED,       /* table full: least recently used */
	TCP_CLOSE_END_OF_INPUT,  /* tcp_reasm_finish() */
	TCP_CLOSE_PORT_REUSE,    /* a new connection started on the same addresses and ports */
	TCP_CLOSE_MEMORY,        /* tcp_reasm_evict_lru(): the caller's memory budget */
	TCP_CLOSE__COUNT,
};

enum tcp_gap_cause {
	TCP_GAP_ACKED = 0, /* the peer acknowledged bytes the capture never had */
	TCP_GAP_BUFFER,    /* a hole given up to respect a buffer limit */
	TCP_GAP_SNAPPED,   /* the tail of a segment cut by the snap length */
	TCP_GAP_CLOSE,     /* holes left when the flow closed */
	TCP_GAP__COUNT,
};

/* Why tcp_reasm_packet() did not use a packet (its return value; 0 = used). */
enum tcp_ignore {
	TCP_USED = 0,
	TCP_IGNORE_NOT_TCP,        /* not TCP, or no decoded TCP header (later fragment) */
	TCP_IGNORE_FRAGMENT,       /* an IP fragment (not reassembled) */
	TCP_IGNORE_RST_NO_FLOW,    /* RST for a flow not in the table */
	TCP_IGNORE_AFTER_CLOSE,    /* packet of a flow closed by FIN/RST (remembered) */
	TCP_IGNORE_OUT_OF_WINDOW,  /* sequence number more than 2^30 away from the stream */
	TCP_IGNORE_NO_MEMORY,      /* a flow record could not be allocated */
	TCP_IGNORE__COUNT,
};

struct tcp_endpoint {
	uint8_t addr[16]; /* as in struct packet: IPv4 as ::ffff:a.b.c.d */
	uint16_t port;
};

struct tcp_flow_info {
	uint64_t id;              /* 1, 2, ... in order of opening (per instance) */
	uint8_t family;           /* AF_INET or AF_INET6 */
	enum tcp_role role;
	struct tcp_endpoint client, server;
	uint64_t ts_ns;           /* timestamp of the first packet */
};

struct tcp_reasm_callbacks {
	void *(*open)(void *ctx, const struct tcp_flow_info *info);
	void (*data)(void *ctx, void *user, enum tcp_dir dir, const uint8_t *bytes, uint32_t len,
		     uint64_t ts_ns);
	void (*gap)(void *ctx, void *user, enum tcp_dir dir, uint32_t missing,
		    enum tcp_gap_cause cause, uint64_t ts_ns);
	void (*close)(void *ctx, void *user, enum tcp_close_reason reason, uint64_t ts_ns);
	void (*fin)(void *ctx, void *user, enum tcp_dir dir, uint64_t ts_ns); /* may be NULL */
};

struct tcp_reasm_stats {
	uint64_t packets;                 /* packets passed to tcp_reasm_packet() */
	uint64_t packets_ignored[TCP_IGNORE__COUNT]; /* by reason; [0] unused */
	uint64_t flows_opened;
	uint64_t flows_closed[TCP_CLOSE__COUNT]; /* by reason */
	uint64_t flows_active;            /* gauge: open flows */
	uint64_t flows_time_wait;         /* gauge: closed flows remembered */
	uint64_t flows_peak;              /* most flow records held at once */
	uint64_t time_wait_evicted;       /* remembered closed flows forgotten early (table full) */
	uint64_t port_reuse;              /* new connections on a pair still in the table */
	uint64_t bytes_delivered;         /* data() bytes */
	uint64_t segments_out_of_order;   /* segments that arrived ahead of their stream */
	uint64_t segments_retransmitted;  /* segments carrying only bytes seen before */
	uint64_t bytes_retransmitted;     /* their bytes */
	uint64_t bytes_overlap;           /* already-seen bytes inside segments that also
					     carried new ones */
	uint64_t bytes_overlap_conflict;  /* already-held bytes whose later copy differed */
	uint64_t gaps[TCP_GAP__COUNT];    /* gap() calls by cause */
	uint64_t gap_bytes[TCP_GAP__COUNT]; /* bytes reported missing by cause */
	uint64_t bytes_dropped;           /* received bytes neither delivered nor held: after a
					     FIN, out of window, after close, no memory */
	uint64_t alloc_failures;          /* malloc failures (segments or flows) */
	uint64_t buffered_bytes;          /* gauge: accounted held bytes, all flows */
	uint64_t buffered_bytes_peak;     /* largest buffered_bytes seen */
	uint64_t buffered_dir_peak;       /* largest accounted held bytes of one direction */
};

struct tcp_reasm;

/*
 * Create a reassembler. cfg may be NULL (all defaults); cb->open/data/gap/close may each be
 * NULL (not called). Returns 0, -EINVAL (a limit too large: max_flows above 2^26) or -ENOMEM.
 */
int tcp_reasm_create(const struct tcp_reasm_config *cfg, const struct tcp_reasm_callbacks *cb,
		     void *ctx, struct tcp_reasm **out);

/* Free everything without calling back (call tcp_reasm_finish() first to close flows). */
void tcp_reasm_destroy(struct tcp_reasm *r);

/*
 * Process one decoded packet. Non-TCP packets and fragments are counted and ignored.
 * Returns TCP_USED (0) or the enum tcp_ignore reason.
 */
int tcp_reasm_packet(struct tcp_reasm *r, const struct packet *p);

/*
 * Close flows idle for idle_timeout_ns at now_ns (held data is flushed, holes as gaps) and
 * forget closed flows older than time_wait_ns. Returns the number of open flows closed.
 */
unsigned tcp_reasm_expire(struct tcp_reasm *r, uint64_t now_ns);

/*
 * End of input: deliver all held data (holes as TCP_GAP_CLOSE gaps), close every open flow
 * with TCP_CLOSE_END_OF_INPUT and forget closed ones. The instance can be used again.
 */
void tcp_reasm_finish(struct tcp_reasm *r);

/*
 * Close the least recently used open flow with TCP_CLOSE_MEMORY (held data flushed, holes as
 * gaps) and forget it. For a caller over its memory budget; not from inside a callback.
 * Returns false when no flow is open.
 */
bool tcp_reasm_evict_lru(struct tcp_reasm *r, uint64_t ts_ns);

/* Accounted held out-of-order bytes of all flows now (stats.buffered_bytes), in O(1). */
uint64_t tcp_reasm_buffered_bytes(const struct tcp_reasm *r);

/* Bytes one flow record takes (the callers' memory accounting charges it per flow). */
size_t tcp_reasm_flow_bytes(void);

/* A copy of the counters. */
void tcp_reasm_get_stats(const struct tcp_reasm *r, struct tcp_reasm_stats *out);

/* The effective configuration (defaults applied). */
void tcp_reasm_get_config(const struct tcp_reasm *r, struct tcp_reasm_config *out);

const char *tcp_close_reason_str(enum tcp_close_reason reason);
const char *tcp_gap_cause_str(enum tcp_gap_cause cause);
const char *tcp_ignore_str(enum tcp_ignore reason);
const char *tcp_role_str(enum tcp_role role);

#endif /* FLOE_NET_TCP_REASM_H */
