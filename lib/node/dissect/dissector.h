/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dissector: the interface between the engine (dissect/engine.c: TCP reassembly, protocol
 * detection, buffering, entry ids, output) and one application protocol (http1.c, http2.c,
 * ...).
 *
 * Per TCP connection the engine buffers the first bytes of each direction and asks every
 * dissector's detect() until one says DETECT_YES. It then open()s that dissector and feeds
 * it the connection's bytes, in stream order, per direction, through parse(). A dissector
 * builds entries (conn_entry_new), emits them (conn_emit) and may hand the connection over to
 * another dissector (conn_switch: HTTP/1.1 Upgrade to h2c).
 *
 * Buffering: parse() returns how many bytes of (p, n) it consumed. Unconsumed bytes stay in
 * the engine's per-direction buffer and come again, followed by new ones, on the next call.
 * A dissector that needs a whole frame returns 0 until it has one. The buffer is bounded
 * (dissect_config.max_buffer_per_dir): when it is full and parse() consumes nothing, the
 * engine drops the buffered bytes, counts a parse error and calls gap() as if they were lost.
 *
 * Time: ts is the timestamp of the packet that carried the first unconsumed byte (p[0]);
 * ts_last that of the packet that carried p[n-1].
 *
 * UDP (engine.h, "UDP conversations"): a dissector with detect_datagram handles UDP too. The
 * engine keeps one struct conn per conversation (address/port pair), asks detect_datagram()
 * about its first datagrams, orients the conversation by the answer (client = the side the
 * dissector says), and then gives every datagram whole to parse(): (p, n) is one datagram as
 * captured, ts == ts_last its timestamp, and whatever parse() does not consume is dropped
 * (nothing is buffered between datagrams). There are no gaps; conn_transport() says which
 * transport a connection is. close() and free() are called as for TCP: when the conversation
 * goes idle or is evicted (CONN_END_TIMEOUT) and at the end of input (CONN_END_END_OF_INPUT).
 * conn_switch() is not available on UDP conversations.
 */
#ifndef FLOE_DISSECT_DISSECTOR_H
#define FLOE_DISSECT_DISSECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "entry/entry.h"
#include "net/tcp_reasm.h"

struct conn;

enum detect_result {
	DETECT_NO = 0,   /* not this protocol */
	DETECT_MAYBE,    /* too few bytes to tell: ask again with more */
	DETECT_YES,
};

/* Why a connection ended (close()). */
enum conn_end {
	CONN_END_FIN = 0,
	CONN_END_RST,
	CONN_END_TIMEOUT,     /* idle timeout or evicted */
	CONN_END_END_OF_INPUT,
	CONN_END_SWITCHED,    /* conn_switch() handed the connection to another dissector */
	CONN_END_MEMORY,      /* evicted to keep the engine under its memory budget */
};

struct dissector {
	const char *name; /* "http1", "http2", ... (for stats and --protocol options) */

	/*
	 * The name of the protocol descriptor (lib/core/protocols/, protocols/protocol.h) of
	 * the entries it produces: their "protocol", summary, filter words and field schema.
	 * The descriptor lists this dissector in its dissectors[]; test_dissector_protocols
	 * checks both directions.
	 */
	const char *protocol;

	/*
	 * Does this direction's first bytes look like the protocol? p/n: the first n bytes of
	 * direction dir (TCP_DIR_C2S: from the client as the reassembler decided it).
	 */
	enum detect_result (*detect)(enum tcp_dir dir, const uint8_t *p, size_t n);

	/*
	 * Per-connection state, or NULL on ENOMEM. handover is NULL, or what the previous
	 * dissector passed to conn_switch() (defined between the two).
	 */
	void *(*open)(struct conn *c, void *handover);

	/* Consume a prefix of the next bytes of dir; return its length (0..n). */
	size_t (*parse)(void *st, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			uint64_t ts, uint64_t ts_last);

	/*
	 * `missing` bytes of dir were lost (a capture gap), or were dropped by the engine. The
	 * next parse() of dir starts after them: resynchronise at the next message boundary
	 * where the protocol allows, and emit what the gap cut as incomplete.
	 */
	void (*gap)(void *st, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts);

	/*
	 * The connection ended: emit every pending entry (incomplete ones marked with what is
	 * missing and why). Not called after conn_switch() succeeded.
	 */
	void (*close)(void *st, struct conn *c, enum conn_end why, uint64_t ts);

	void (*free)(void *st);

	/*
	 * Names of the dissector's event counters ("heartbeats", "settings_frames", ...), NULL-
	 * terminated, at most DISSECT_MAX_COUNTERS; NULL when it has none. conn_counter_add()
	 * counts by index into this list; the totals are in dissect_stats.counters.
	 */
	const char *const *counters;

	/*
	 * UDP: does this datagram (whole, as captured) look like the protocol? On DETECT_YES set
	 * *sender_is_client: true when the datagram's sender is the client (DNS: a query), false
	 * when it is the server (a response seen first). NULL: the dissector does not do UDP.
	 * DETECT_MAYBE counts as NO (the next datagrams are asked again, a few times).
	 */
	enum detect_result (*detect_datagram)(const uint8_t *p, size_t n, bool *sender_is_client);

	/*
	 * Bytes the connection's state holds now (its struct, buffers, pending requests), for
	 * the engine's memory budget (engine.h, "Memory"); O(1), called after every parse() and
	 * gap(). NULL: the state's struct size as open() reported nothing else is charged
	 * (DISSECT_STATE_BYTES).
	 */
	size_t (*mem)(const void *st);
};

/* ---- what the engine offers dissectors ---- */

const struct tcp_flow_info *conn_info(const struct conn *c);

/* IPPROTO_TCP, or IPPROTO_UDP for a UDP conversation (datagrams: see the header comment). */
int conn_transport(const struct conn *c);

/*
 * Did dir's FIN come, after all of dir's bytes (delivered or reported as gaps)? For close():
 * a connection that ends at the end of the capture or by a timeout may have ended its
 * sender's side before (HTTP/1: a body delimited by the server's close is then complete).
 */
bool conn_fin_seen(const struct conn *c, enum tcp_dir dir);

/* Bounds from the engine's configuration. */
size_t conn_body_max(const struct conn *c);
/* Whether entries show HTTP response bodies (dissect_config.no_response_bodies). */
bool conn_response_bodies(const struct conn *c);

/*
 * A new entry with src/dst/flow id filled from the connection (src = client). NULL on
 * ENOMEM (counted). The caller owns it until conn_emit() or entry_free().
 */
struct entry *conn_entry_new(struct conn *c);

/*
 * Give e its id now ("<flow id>-<n>", the connection's next number) rather than when it is
 * emitted: a tunnel's entries refer to the CONNECT's before it is emitted. conn_emit() keeps
 * an id already given.
 */
void conn_entry_id(struct conn *c, struct entry *e);

/*
 * Give an entry to the engine: it assigns the id, adds pod names, applies the GraphQL
 * annotation to HTTP entries, filters and outputs it, and frees it.
 */
void conn_emit(struct conn *c, struct entry *e);

/*
 * From now on the connection's bytes go to dissector d, opened with handover. Call it from
 * parse(); the bytes after the consumed prefix that parse() returns, and everything after,
 * go to d. The current dissector's state is freed by the engine after parse() returns
 * (close() is not called). Returns 0, or -ENOENT when no dissector of that name exists.
 */
int conn_switch(struct conn *c, const char *dissector_name, void *handover);

/* What an entry left pending when the connection ended is missing for (close()). */
enum entry_missing_reason conn_end_reason(enum conn_end why);

/* Count a protocol error (malformed bytes skipped, resynchronisation). */
void conn_count_parse_error(struct conn *c);

/* Add n to the dissector's counter number idx (an index into its counters[]). */
void conn_counter_add(struct conn *c, unsigned idx, uint64_t n);

/*
 * Tunnels (dissect/tunnel.h wraps these; dissectors use that). conn_inner_open(): a new
 * connection whose bytes are carried inside c's (after an accepted CONNECT): same endpoints
 * and flow id as c, protocol detection from its first byte as on a new connection, entries
 * numbered with c's and carrying a copy of ref as their "tunnel" member (ref is taken, also
 * on failure). NULL when tunnels are nested deeper than DISSECT_MAX_TUNNEL_DEPTH or on
 * ENOMEM. Its bytes, gaps and end come from the carrier's dissector through the other
 * three; conn_inner_close() closes and frees it (it must come before c is closed).
 */
struct conn *conn_inner_open(struct conn *c, json_t *ref);
void conn_inner_data(struct conn *inner, enum tcp_dir dir, const uint8_t *p, size_t n,
		     uint64_t ts);
void conn_inner_gap(struct conn *inner, enum tcp_dir dir, uint64_t missing, uint64_t ts);
void conn_inner_close(struct conn *inner, enum conn_end why, uint64_t ts);
/* A tunnel carried TLS (dissect_stats.tunnels_tls). */
void conn_count_tunnel_tls(struct conn *c);

/* The engine's dissectors, in detection order; NULL-terminated. */
extern const struct dissector *dissectors[];

#endif /* FLOE_DISSECT_DISSECTOR_H */
