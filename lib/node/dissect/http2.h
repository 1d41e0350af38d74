/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http2: the HTTP/2 dissector (RFC 9113, HPACK RFC 7541), with gRPC (grpc.h). See
 * docs/http2.md.
 *
 * One entry per stream: the request (HEADERS, CONTINUATION, DATA, trailers) and the response
 * on the same stream; a gRPC call (request content-type application/grpc...) becomes a
 * "grpc" entry. Frames are read incrementally, so a frame never has to fit the engine's
 * buffer. Header blocks are decoded by hpack.h, one table per direction, which tolerates
 * dynamic-table entries it never saw (shown as unknown, with their index).
 *
 * Detection: the client's connection preface, a server's first SETTINGS frame, or, for a
 * connection picked up in the middle, a chain of plausible frame headers. h2c upgrade: the
 * HTTP/1 dissector hands over the upgrade request's entry (http1.h); it is completed with
 * stream 1's response.
 * CONNECT (RFC 9113 8.5) answered 2xx: the stream's DATA is a tunnel (tunnel.h), dissected
 * as a new connection; extended CONNECT (RFC 8441, :protocol) is reported, not dissected.
 *
 * Gaps: bytes lost inside a frame are skipped (its length says where the next one starts);
 * a gap that loses frame boundaries makes the direction look for frames again, and a lost
 * header block makes its encoder's table unknown until new entries fill it.
 */
#ifndef FLOE_DISSECT_HTTP2_H
#define FLOE_DISSECT_HTTP2_H

#include <stdint.h>

#include "dissect/dissector.h"

/* Streams tracked per connection; a new one beyond this emits the oldest as incomplete. */
#define HTTP2_MAX_STREAMS 1024u
/* Compressed bytes of one header block (HEADERS/PUSH_PROMISE + CONTINUATION). */
#define HTTP2_HEADER_BLOCK_MAX (256u * 1024u)
/* Decoded header bytes kept per block (name + value + 32, as HPACK counts them). */
#define HTTP2_HEADERS_KEPT_MAX (64u * 1024u)
/*
 * Decoded header and body bytes held per connection (all its streams): past this, headers
 * are marked truncated and bodies keep no more, so 1024 streams cannot each hold body_max.
 */
#define HTTP2_CONN_KEPT_MAX (32u << 20)
/*
 * Tunnels (accepted CONNECT streams, tunnel.h) open at once per connection: each holds an
 * inner connection with its own buffers. Beyond, the CONNECT is reported not dissected.
 */
#define HTTP2_MAX_TUNNELS 16u
/* The largest HPACK dynamic table kept (whatever the encoder's size updates say). */
#define HTTP2_TABLE_SIZE_MAX (1u << 20)

/* What an HTTP/2 connection carried besides streams (not entries). */
struct http2_conn_stats {
	uint64_t frames[2];       /* per direction (TCP_DIR_C2S, TCP_DIR_S2C) */
	uint64_t settings, pings, window_updates, priorities, goaways, rst_streams;
	uint64_t pushes;          /* PUSH_PROMISE */
	uint64_t unknown_frames;  /* frame types skipped */
	uint64_t streams_evicted; /* over HTTP2_MAX_STREAMS */
	uint64_t orphan_frames;   /* DATA/HEADERS on streams not tracked (finished, evicted) */
	uint64_t protocol_errors; /* malformed frames, HPACK errors */
	uint64_t resyncs;         /* frame boundaries found again (mid-connection start, gaps) */
	uint64_t skipped_bytes;   /* bytes skipped while looking for frame boundaries */
	uint64_t unknown_header_refs; /* fields referring to dynamic-table entries never seen */
	uint64_t priority_only_streams; /* stream ids that carried only PRIORITY frames */
	uint64_t tunnels;         /* CONNECT streams answered 2xx whose bytes were dissected */
	uint64_t tunnels_refused; /* ... not dissected: HTTP2_MAX_TUNNELS were open */
	uint64_t tunnels_extended; /* extended CONNECTs (:protocol) answered 2xx: not dissected */
	uint32_t goaway_last_stream;
	uint32_t goaway_error;
};

/* The counters of an http2 connection state (the st that open() returned). */
void http2_get_conn_stats(const void *st, struct http2_conn_stats *out);

/* "NO_ERROR", "PROTOCOL_ERROR", ... for an HTTP/2 error code; NULL when unknown. */
const char *http2_error_name(uint32_t code);

extern const struct dissector dissector_http2;

#endif /* FLOE_DISSECT_HTTP2_H */
