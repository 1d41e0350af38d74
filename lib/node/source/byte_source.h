/* SPDX-License-Identifier: Apache-2.0 */
/*
 * byte_source: where the bytes to dissect come from, behind one interface (a struct of
 * function pointers per backend). A source registers its own file descriptors and timers
 * with the caller's event loop and hands what it reads to a sink (the tap: the PCAP store
 * and the dissection engine). Two kinds of sources deliver two kinds of bytes:
 *
 *   packet sources  whole frames as captured on the wire, to sink->frame: the TC ring
 *                   buffer (packet_source.c). Frames of one connection may be out of order,
 *                   duplicated or missing; the dissection engine reassembles TCP itself.
 *   stream sources  (next: TLS plaintext from uprobes on SSL_read/SSL_write) application
 *                   bytes already in order per connection, to sink->stream, as described by
 *                   struct byte_stream_chunk below. There is no wire frame and nothing to
 *                   reassemble; the engine feeds the bytes straight to the connection's
 *                   dissector, keyed by the connection.
 *
 * Adding a source: a constructor that fills a struct byte_source (ops + impl); start()
 * registers with the loop; drain() delivers whatever is still pending without waiting (the
 * tap calls it at exit, after the hooks are gone, so nothing recorded is left behind);
 * free() removes it from the loop.
 */
#ifndef FLOE_SOURCE_BYTE_SOURCE_H
#define FLOE_SOURCE_BYTE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "loop/evloop.h"

/* A frame from a packet source. Valid only during the call. */
struct byte_frame {
	int linktype;	   /* DLT_* (packet_decode's linktype) */
	const uint8_t *data; /* cap_len bytes */
	uint32_t cap_len, wire_len;
	uint64_t ts_ns;	   /* CLOCK_REALTIME */
};

/*
 * What a stream source delivers: a run of application bytes of one connection, in order.
 * Connections are named by their endpoints as the socket sees them (so entries get the same
 * addresses as from packets) plus a cookie that keeps apart two connections that reused the
 * same endpoints (e.g. the kernel's socket cookie). Offsets count bytes per direction from
 * the connection's first byte seen, so a gap (bytes the source could not read: a lost
 * event, a buffer too small) shows as a jump, with BYTE_STREAM_GAP on the chunk after it.
 * The first chunk of a connection carries BYTE_STREAM_OPEN, the last BYTE_STREAM_CLOSE
 * (possibly with len 0). Valid only during the call.
 */
enum byte_stream_flags {
	BYTE_STREAM_OPEN = 1u << 0,
	BYTE_STREAM_CLOSE = 1u << 1,
	BYTE_STREAM_GAP = 1u << 2,
	BYTE_STREAM_TLS = 1u << 3, /* plaintext of a TLS connection (entries say "tls": true) */
	/* With OPEN: the connection began before the source saw it (its first bytes may be
	 * missing), as a TCP flow picked up without its SYN. */
	BYTE_STREAM_MIDSTREAM = 1u << 4,
};

#define BYTE_STREAM_PROCESS_MAX 16 /* process names are cut to 15 bytes (task comm) */

struct byte_stream_chunk {
	uint64_t cookie;	      /* connection identity, with the endpoints */
	uint8_t client_addr[16];      /* IPv4 as ::ffff:a.b.c.d */
	uint8_t server_addr[16];
	uint16_t client_port, server_port;
	uint8_t from_client;	      /* direction of these bytes */
	uint32_t flags;		      /* enum byte_stream_flags */
	uint64_t offset;	      /* of data[0] in this direction */
	const uint8_t *data;
	size_t len;
	uint64_t ts_ns;	     /* CLOCK_REALTIME */
	uint32_t pid;	     /* process that read or wrote them, 0 if unknown */
	const char *process; /* its name, NULL if unknown */
};

struct byte_sink {
	void (*frame)(void *ctx, const struct byte_frame *f);
	void (*stream)(void *ctx, const struct byte_stream_chunk *c); /* NULL: no stream sources */
	/* The source failed for good (e.g. the ring buffer cannot be read); what says how. */
	void (*error)(void *ctx, int err, const char *what);
	/* Optional: the end of one drain's frames, so a sink wakes its consumers once per batch
	 * rather than once per frame. */
	void (*batch_end)(void *ctx);
	void *ctx;
};

struct byte_source_ops {
	const char *name; /* "tc-ring", "tls-uprobes" */
	int (*start)(void *impl, struct evloop *loop, const struct byte_sink *sink, char *err,
		     size_t errlen);
	/* Deliver what is pending now without waiting. Returns items delivered or -errno. */
	int (*drain)(void *impl);
	void (*free)(void *impl);
};

struct byte_source {
	const struct byte_source_ops *ops;
	void *impl;
};

static inline int byte_source_start(struct byte_source *s, struct evloop *loop,
				    const struct byte_sink *sink, char *err, size_t errlen)
{
	return s->ops->start(s->impl, loop, sink, err, errlen);
}

static inline int byte_source_drain(struct byte_source *s)
{
	return s->ops->drain(s->impl);
}

static inline void byte_source_free(struct byte_source *s)
{
	if (s->ops)
		s->ops->free(s->impl);
	s->ops = NULL;
	s->impl = NULL;
}

#endif /* FLOE_SOURCE_BYTE_SOURCE_H */
