/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_record: the userspace half of the TLS ring records (bpf/floe_record.h,
 * FLOE_RECORD_TLS_DATA and FLOE_RECORD_TLS_EVENT) without BPF: checking a record the ring
 * gave, and turning data records into ordered stream chunks per connection (struct
 * tls_streams). tls_source.c drives them from the ring; the unit tests feed crafted records.
 */
#ifndef FLOE_SOURCE_TLS_RECORD_H
#define FLOE_SOURCE_TLS_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "floe_record.h"
#include "source/byte_source.h"

/* What the check found in a record. */
struct tls_record_view {
	uint32_t type;			    /* FLOE_RECORD_TLS_DATA or FLOE_RECORD_TLS_EVENT */
	const struct floe_tls_record *data; /* TLS_DATA: the record ... */
	const uint8_t *bytes;		    /* ... and its cap_len bytes of plaintext */
	const struct floe_tls_event *event; /* TLS_EVENT */
};

enum tls_record_error {
	TLS_RECORD_OK = 0,
	TLS_RECORD_BAD_TYPE = -1, /* unknown type */
	TLS_RECORD_BAD_SIZE = -2, /* size not the ring's, or lengths that do not fit */
};

/* Check one ring record (data and size as the ring gave them). Returns TLS_RECORD_OK with
 * out filled, or a tls_record_error; nothing of a refused record is to be used. */
int tls_record_check(const void *data, size_t size, struct tls_record_view *out);

/*
 * The connections of data records, by (pid, SSL *). Each gets a cookie (1, 2, ... never
 * reused, so an SSL * freed and reused is another connection), its endpoints oriented
 * client -> server (the role the library was put in; when unknown, by ports, and the
 * connection is marked mid-stream), and per direction the offset of its next byte: a call's
 * chunks sit at the call's start + call_off, so chunks lost in the ring or cut past the last
 * one show as a jump (a gap) in the next chunk's offset.
 */
struct tls_streams;

#define TLS_STREAMS_MAX 65536u /* connections at once; past it the least recent is closed */

/*
 * A Go (*Conn).Write is taken at its entry (FLOE_TLS_F_PENDING): its count comes when it
 * returns (tls_streams_write_done). Until then the connection's records, both directions, are
 * held back in arrival order (a response read on another goroutine stays behind the request
 * that caused it); then the Write is cut to what it wrote (a failed Write to nothing) and
 * what was held goes on. A count that does not come within TLS_HOLD_NS (a Write blocked on a
 * peer that does not read, a goroutine gone), or more than TLS_HOLD_MAX_BYTES held, releases
 * the Write as taken.
 */
#define TLS_HOLD_NS	   1000000000ull
#define TLS_HOLD_MAX_BYTES (1u << 20)

struct tls_streams_stats {
	uint64_t conns;		   /* connections opened */
	uint64_t closed;	   /* closed by SSL_free or the process's exit */
	uint64_t evicted;	   /* closed because the table was full */
	uint64_t gaps;		   /* chunks after a jump */
	uint64_t held;		   /* records held back behind a pending Write */
	uint64_t write_unsent;	   /* bytes of Writes taken at entry that were not written */
	uint64_t hold_timeouts;	   /* pending Writes released as taken: no count in time */
	uint64_t hold_overflows;   /* pending Writes released as taken: too much held */
	uint64_t stray_write_done; /* counts without a pending Write (its records were lost) */
};

int tls_streams_new(struct tls_streams **out);
void tls_streams_free(struct tls_streams *ts);

/* A data record: one chunk to sink->stream (the connection's first with BYTE_STREAM_OPEN).
 * ts_real_ns is the record's time as CLOCK_REALTIME. */
void tls_streams_data(struct tls_streams *ts, const struct floe_tls_record *r, const uint8_t *bytes,
		      uint64_t ts_real_ns, const struct byte_sink *sink);

/* A pending Write of (pid, conn) returned n (the next pending one in arrival order). */
void tls_streams_write_done(struct tls_streams *ts, uint32_t pid, uint64_t conn, uint64_t n,
			    uint64_t ts_real_ns, const struct byte_sink *sink);

/* Release the pending Writes whose count is TLS_HOLD_NS late (now_real_ns: CLOCK_REALTIME). */
void tls_streams_expire(struct tls_streams *ts, uint64_t now_real_ns, const struct byte_sink *sink);

/* The connection (pid, conn) ended: a BYTE_STREAM_CLOSE chunk if it was open. */
void tls_streams_close(struct tls_streams *ts, uint32_t pid, uint64_t conn, uint64_t ts_real_ns,
		       const struct byte_sink *sink);

/* Every connection of pid ended (the process is gone). */
void tls_streams_close_pid(struct tls_streams *ts, uint32_t pid, uint64_t ts_real_ns,
			   const struct byte_sink *sink);

void tls_streams_get_stats(const struct tls_streams *ts, struct tls_streams_stats *out);

/*
 * One line of /proc/PID/maps: when it maps a TLS library this slice probes (OpenSSL's
 * libssl.so*, any version and directory), its path is copied to path (NUL-terminated) and 1
 * returned; 0 otherwise (also for a path that does not fit).
 */
int tls_maps_line_libssl(const char *line, char *path, size_t pathlen);

#endif /* FLOE_SOURCE_TLS_RECORD_H */
