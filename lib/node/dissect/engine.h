/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine: packets in, entries out. Owns the TCP reassembler (net/tcp_reasm.h), detects each
 * connection's protocol by content (not by port), runs the dissectors (dissector.h) and hands
 * finished entries to a sink.
 *
 *   dissect_engine_create(cfg, sink, ctx, &e);
 *   for each packet: packet_decode(...); dissect_engine_packet(e, &pkt);
 *   live: dissect_engine_expire(e, now) now and then; offline: cfg.tcp.expire_on_packets
 *   dissect_engine_finish(e);          pending entries are emitted as incomplete
 *   dissect_engine_destroy(e);
 *
 * The stream functions feed a connection's bytes directly, without packets; tests use them,
 * and later sources of plaintext (TLS uprobes) will too.
 *
 * UDP conversations. UDP packets (not IP fragments after the first) go to a bounded table of
 * conversations keyed by their address/port pair (either order), each with a struct conn, so
 * that dissectors use the same entry API as on TCP (dissector.h, "UDP"). A conversation opens
 * at its first datagram, oriented by ports like a TCP flow picked up mid-stream (a port below
 * 1024 against one at or above is the server; else the higher port is the client; equal
 * ports: the first sender) until a dissector's detect_datagram() says who the client is. Up
 * to DISSECT_UDP_DETECT_DATAGRAMS datagrams are offered for detection; after that the
 * conversation is unrecognised (counted in conns_unknown) and its datagrams are only counted.
 * It closes when idle for cfg.udp_idle_timeout_ns (dissect_engine_expire(), or every packet
 * with cfg.tcp.expire_on_packets) or evicted, least recently used first, when the table is
 * full (cfg.udp_max_conversations) — both CONN_END_TIMEOUT — and at dissect_engine_finish()
 * (CONN_END_END_OF_INPUT). Datagrams cut by the snap length are given to the dissector as
 * far as captured (counted in udp_datagrams_cut). Flow ids are shared with TCP: 1, 2, ... in
 * order of the first packet, whatever the transport.
 *
 * IP fragments (IPv4 and IPv6) of TCP segments and UDP datagrams are put back together first
 * (net/ip_defrag.h: bounded slots, timeout, given-up datagrams dissected as far as they came
 * without a hole); the whole segment goes to TCP reassembly, the whole datagram to its UDP
 * conversation with the time of its first fragment as ts and of its last as ts_last.
 *
 * Memory: one budget, cfg.memory_budget (`--dissect-memory`), for what dissection holds across
 * all connections: each open connection's records (the engine's and the reassembler's), its
 * unconsumed bytes (max_buffer_per_dir per direction at most), its dissector's state as the
 * dissector's mem() reports it (every dissector but the toy ones of tests has one: partial
 * messages, kept bodies, waiting requests; docs/reassembly.md lists what each counts; one
 * without is charged a nominal DISSECT_STATE_BYTES), and the reassembler's held out-of-order
 * bytes. Charges and credits go through one point per connection (after each of its events);
 * after each packet, while the total is over the budget, the least recently active TCP
 * connection (when none is left: UDP conversation) is evicted: closed (its pending entries
 * come out incomplete, missing_reason "memory_budget") and forgotten, so that if it speaks
 * again it is picked up again mid-stream. Evictions and their bytes are counted
 * (dissect_stats.mem_*). The budget holds between packets; within one it may be passed by
 * what that packet adds. Not charged: the UDP conversation table (bounded by
 * udp_max_conversations) and flows remembered after FIN/RST (bounded by
 * tcp.max_flows). Each connection also stays within its own bounds (max_buffer_per_dir, the
 * dissectors' pending and body_max limits). Not thread-safe.
 */
#ifndef FLOE_DISSECT_ENGINE_H
#define FLOE_DISSECT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry/entry.h"
#include "net/packet.h"
#include "net/tcp_reasm.h"
#include "source/byte_source.h"

#define DISSECT_DEFAULT_MAX_BUFFER_PER_DIR (1u << 20) /* 1 MiB */
#define DISSECT_DEFAULT_DETECT_BYTES       64u        /* give up detection after this many */
#define DISSECT_MAX_PROTOCOLS 8u /* dissectors[] entries the stats have room for */
#define DISSECT_MAX_COUNTERS  16u /* event counters per dissector */
/* entries_by_protocol[] slots: the core's protocols (protocols/protocol.h) in their order,
 * then one for an entry whose protocol is none of them */
#define DISSECT_MAX_ENTRY_PROTOCOLS 16u
#define DISSECT_DEFAULT_UDP_MAX_CONVERSATIONS 65536u
#define DISSECT_DEFAULT_UDP_IDLE_NS  (30ull * 1000000000ull) /* 30 s, like conntrack's UDP */
#define DISSECT_UDP_DETECT_DATAGRAMS 8u /* datagrams offered for detection per conversation */
#define DISSECT_DEFAULT_MEMORY (256ull << 20) /* memory_budget: 256 MiB */
#define DISSECT_MIN_MEMORY     (4ull << 20)   /* less could not hold one busy connection */
#define DISSECT_STATE_BYTES    1024u /* charged for a dissector's state without mem() */
#define DISSECT_MAX_TUNNEL_DEPTH 4u /* tunnels inside tunnels dissected (dissect/tunnel.h) */

/* The sink borrows the entry; the engine frees it when the sink returns. */
typedef void (*dissect_sink_fn)(void *ctx, const struct entry *e);

/* The names an address had at ts_ns (the entry's request time, else its response's): a new
 * reference (entry.h), or NULL when unknown. */
typedef struct entry_names *(*dissect_names_fn)(void *ctx, const uint8_t addr[16],
						 uint64_t ts_ns);

struct dissect_config {
	struct tcp_reasm_config tcp;
	size_t max_buffer_per_dir; /* unconsumed bytes held per direction; 0: default */
	size_t body_max;           /* body bytes kept per message; 0: HTTP_BODY_DEFAULT_MAX */
	/* HTTP response bodies are left out of the entries (kept bytes are still counted): floe
	 * read's text output never shows them, and they were a fifth of its time. Request bodies
	 * stay (GraphQL is recognised from them). */
	bool no_response_bodies;
	size_t detect_bytes;       /* bytes looked at before a flow is "unknown"; 0: default */
	uint32_t udp_max_conversations; /* UDP conversations tracked at once; 0: default */
	uint64_t udp_idle_timeout_ns;   /* close a UDP conversation idle this long; 0: default */
	uint64_t memory_budget;    /* bytes, all connections together (see Memory); 0: default;
				    * at least DISSECT_MIN_MEMORY */
	dissect_names_fn names;    /* optional */
	void *names_ctx;
	/* Entry ids become "<id_prefix>-<flow id>-<n>" (NULL or "": "<flow id>-<n>"): a tap's run
	 * id, so that ids stay unique across agents and restarts. At most 24 bytes; the string
	 * must outlive the engine. */
	const char *id_prefix;
};

struct dissect_stats {
	uint64_t conns;              /* connections seen (TCP connections and UDP conversations) */
	uint64_t conns_by_protocol[DISSECT_MAX_PROTOCOLS]; /* index in dissectors[]; see
							    * dissect_protocol_name() */
	uint64_t conns_unknown;      /* no dissector recognised them */
	uint64_t entries;            /* entries emitted */
	uint64_t entries_incomplete; /* of those, with a missing half */
	uint64_t parse_errors;       /* conn_count_parse_error() and buffer overflows */
	uint64_t buffer_overflows;   /* buffers dropped because a dissector consumed nothing */
	/* Entries emitted by their protocol (dissect_entry_protocol_name(), incomplete ones
	 * included), and parse errors by dissector (index in dissectors[]) and cause: a
	 * dissector's conn_count_parse_error() ("malformed"), a buffer dropped unconsumed
	 * ("buffer_overflow"). Their sums are entries, parse_errors and buffer_overflows. */
	uint64_t entries_by_protocol[DISSECT_MAX_ENTRY_PROTOCOLS];
	uint64_t parse_malformed[DISSECT_MAX_PROTOCOLS];
	uint64_t parse_overflows[DISSECT_MAX_PROTOCOLS];
	uint64_t gaps;               /* gaps passed to dissectors */
	uint64_t gap_bytes;
	uint64_t alloc_failures;
	uint64_t udp_conversations;  /* UDP conversations opened (also counted in conns) */
	uint64_t udp_datagrams;      /* UDP datagrams seen (with a UDP header) */
	uint64_t udp_evicted;        /* conversations closed early because the table was full */
	uint64_t udp_datagrams_cut;  /* datagrams dissected as far as captured (snap length, lost
				      * fragments) */
	uint64_t ip_fragments;       /* IP fragments of TCP segments and UDP datagrams seen */
	uint64_t ip_reassembled;     /* segments and datagrams put together from fragments */
	uint64_t ip_fragments_given_up; /* datagrams whose fragments never all came */
	uint64_t ip_fragments_unreadable; /* fragments whose IP headers were cut (dropped) */
	/* The memory budget (see Memory): limit, charged bytes now and at most, evictions. */
	uint64_t mem_limit;
	uint64_t mem_bytes;          /* gauge */
	uint64_t mem_peak;           /* largest mem_bytes seen (may pass the limit within a
				      * packet, see Memory) */
	uint64_t mem_evictions;      /* connections closed to get back under the limit */
	uint64_t mem_evicted_bytes;  /* bytes those evictions gave back */
	uint64_t tunnels;            /* tunnels dissected (dissect/tunnel.h); each inner
				      * connection is also counted in conns */
	uint64_t tunnels_tls;        /* tunnels that carried TLS (recognised, not decrypted) */
	uint64_t streams;	    /* stream-source connections opened (also in conns) */
	uint64_t streams_dropped;   /* chunks of streams past DISSECT_MAX_STREAMS, not dissected */
	uint64_t entries_ciphertext_dropped; /* packet-path entries of connections read in
					      * plaintext (dissect_engine_stream) */
	/* Each dissector's own event counters; see dissect_counter_name(). */
	uint64_t counters[DISSECT_MAX_PROTOCOLS][DISSECT_MAX_COUNTERS];
};

struct dissect_engine;
struct conn;

int dissect_engine_create(const struct dissect_config *cfg, dissect_sink_fn sink, void *ctx,
			  struct dissect_engine **out);
void dissect_engine_destroy(struct dissect_engine *e);

/*
 * One decoded packet. TCP goes to the reassembler (returns tcp_reasm_packet()'s value); UDP
 * to its conversation, or IP fragment reassembly (returns 0, or TCP_IGNORE_FRAGMENT for a
 * fragment whose headers were not captured); other packets are ignored (TCP_IGNORE_NOT_TCP).
 */
int dissect_engine_packet(struct dissect_engine *e, const struct packet *p);
/* Close TCP flows and UDP conversations idle at now_ns (see the config's timeouts). */
void dissect_engine_expire(struct dissect_engine *e, uint64_t now_ns);
/* End of input: every connection and conversation is closed, pending entries emitted as
 * incomplete. */
void dissect_engine_finish(struct dissect_engine *e);

/*
 * Process-wide malloc policy for dissecting processes; call once from main(). Dissection
 * frees body-sized buffers all the time, and glibc gives the heap top back to the kernel
 * whenever more than 128 KiB is free there, to take it again for the next message: that
 * was most of `floe read`'s time on a capture of large bodies. Up to 64 MiB of freed heap
 * is kept instead (RSS stays bounded by what the limits allow at once).
 */
void dissect_malloc_policy(void);

void dissect_engine_get_stats(const struct dissect_engine *e, struct dissect_stats *out);
void dissect_engine_get_tcp_stats(const struct dissect_engine *e, struct tcp_reasm_stats *out);
const char *dissect_protocol_name(unsigned index); /* NULL past the end */
/* Name of slot index of dissect_stats.entries_by_protocol: a protocol's entry.protocol,
 * "other" for the slot after them; NULL past that. */
const char *dissect_entry_protocol_name(unsigned index);
/* Name of counter idx of dissector proto (dissect_stats.counters); NULL past the end. */
const char *dissect_counter_name(unsigned proto, unsigned idx);

/*
 * Flow verdicts (dissect/flow_verdict.h): fn(ctx, info, true) when a TCP connection of the
 * packet path (not a tunnel's, not a stream source's) is given up as unrecognised (it stays so
 * until it closes: its bytes are ignored), fn(ctx, info, false) when that connection closes.
 * Called on the engine's thread, within dissect_engine_packet/expire/finish. NULL: none.
 */
typedef void (*dissect_verdict_fn)(void *ctx, const struct tcp_flow_info *info, bool undissected);
void dissect_engine_set_verdict(struct dissect_engine *e, dissect_verdict_fn fn, void *ctx);

/* ---- byte streams without packets ---- */
struct conn *dissect_stream_open(struct dissect_engine *e, const struct tcp_flow_info *info);
void dissect_stream_data(struct dissect_engine *e, struct conn *c, enum tcp_dir dir,
			 const uint8_t *p, size_t n, uint64_t ts_ns);
void dissect_stream_gap(struct dissect_engine *e, struct conn *c, enum tcp_dir dir,
			uint64_t missing, uint64_t ts_ns);
/* Closes and frees c. */
void dissect_stream_close(struct dissect_engine *e, struct conn *c, enum tcp_close_reason why,
			  uint64_t ts_ns);

/*
 * One chunk of a stream source (source/byte_source.h): the engine keeps the source's
 * connections by cookie, opens one at its first chunk (oriented as the chunk says; a
 * BYTE_STREAM_MIDSTREAM one is dissected as a TCP flow picked up mid-stream), turns a jump in a
 * direction's offset into a gap, and closes it at BYTE_STREAM_CLOSE or at finish. Entries of a
 * BYTE_STREAM_TLS connection carry "tls": true, and "pid"/"process" when the chunk had them;
 * entries the packet path makes of a connection with the same endpoints (its ciphertext) are
 * dropped from then on (entries_ciphertext_dropped).
 * At most DISSECT_MAX_STREAMS are open at once; chunks of more are dropped (streams_dropped).
 */
#define DISSECT_MAX_STREAMS 16384u
void dissect_engine_stream(struct dissect_engine *e, const struct byte_stream_chunk *ch);

#endif /* FLOE_DISSECT_ENGINE_H */
