/* SPDX-License-Identifier: Apache-2.0 */
/*
 * framing: the one helper for length-prefixed frames, shared by the dissectors whose messages
 * say their own length up front: DNS over TCP (2-byte length), gRPC messages (flag + 4-byte
 * length), AMQP frames (type, channel, 4-byte size, then the frame-end octet), Kafka (4-byte
 * length), ...
 *
 * A format names where the length is; two ways to use it:
 *   lp_whole()        over bytes the engine buffers: is a whole frame here, and how long is it?
 *                     (a dissector returns 0 from parse() until it is)
 *   struct lp_stream  across calls, for frames that may be larger than what is kept: the header
 *                     is gathered, then the body is handed on piece by piece as it arrives
 *   lp_resync()       after the framing was lost (a capture gap, bytes that were not a frame):
 *                     where does the next frame start?
 */
#ifndef FLOE_DISSECT_FRAMING_H
#define FLOE_DISSECT_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dissect/dissector.h"

#define LP_HDR_MAX 16u

struct lp_format {
	uint8_t hdr_len;     /* bytes before the body, the length field included (<= LP_HDR_MAX) */
	uint8_t len_off;     /* where the big-endian body length is in the header */
	uint8_t len_size;    /* its size: 1, 2, 3 or 4 bytes */
	uint8_t trailer_len; /* bytes after the body that belong to the frame (AMQP's frame-end) */
	uint64_t max_len;    /* a longer body is an error (0: no bound) */
};

enum lp_result {
	LP_MORE = 0, /* not all there yet */
	LP_WHOLE,    /* a whole frame: *frame_len bytes (header, body, trailer) */
	LP_TOO_LONG, /* the header declares a body longer than max_len */
};

/* The body length a header declares (hdr holds at least f->hdr_len bytes). */
uint64_t lp_body_len(const struct lp_format *f, const uint8_t *hdr);

/*
 * Is a whole frame at the start of (p, n)? *body_len is set as soon as the header is there
 * (also for LP_TOO_LONG), *frame_len on LP_WHOLE.
 */
enum lp_result lp_whole(const struct lp_format *f, const uint8_t *p, size_t n, uint64_t *body_len,
			uint64_t *frame_len);

/* A frame being received across calls. Zero it (or lp_stream_reset()) to start. */
struct lp_stream {
	uint8_t hdr[LP_HDR_MAX];
	uint8_t hdr_got; /* header bytes gathered; 0 between frames */
	bool in_body;	 /* the header is complete: len is known, got counts the body */
	uint64_t len, got;
};

/* What one lp_stream_next() call did (flags). */
enum lp_event {
	LP_HEADER = 1, /* the header became complete: s->hdr, s->len (max_len already checked) */
	LP_BODY = 2,   /* the bytes consumed are body bytes (got counts them) */
	LP_END = 4,    /* the frame's body (and trailer) ended: the next bytes start a new frame */
	LP_ERROR = 8,  /* the header declares a body over max_len: nothing consumed; resync */
};

/*
 * Consume a prefix of (p, n) — header bytes or body bytes, never both — and say what
 * happened in *events. Returns the bytes consumed (0 only with LP_ERROR or n == 0). An empty
 * body ends with the call that completes its header (LP_HEADER | LP_END). A format with a
 * trailer counts it as body bytes (in len).
 */
size_t lp_stream_next(struct lp_stream *s, const struct lp_format *f, const uint8_t *p, size_t n,
		      unsigned *events);

static inline void lp_stream_reset(struct lp_stream *s)
{
	s->hdr_got = 0;
	s->in_body = false;
	s->len = s->got = 0;
}

/* Is a frame begun and not ended (header bytes gathered or body owed)? */
static inline bool lp_stream_mid_frame(const struct lp_stream *s)
{
	return s->hdr_got > 0;
}

/*
 * Does a frame start at p (n bytes from there to what is buffered)? DETECT_YES, DETECT_NO, or
 * DETECT_MAYBE when more bytes would tell. A good check is strict: a length alone matches
 * anywhere in a stream once in a few hundred bytes; the length and a fixed trailer (AMQP's
 * frame end), known type or key codes, or an id the other side is waiting for (Kafka's
 * correlation ids, DNS ids) do not.
 */
typedef enum detect_result (*lp_frame_check)(const uint8_t *p, size_t n, void *arg);

/*
 * Looking for the next frame start in (p, n), the bytes after a lost boundary: returns how
 * many bytes to skip before it, and *found when check() said YES there. A MAYBE stops the
 * scan there (the caller keeps those bytes and asks again with more) while fewer than
 * wait_max bytes follow it; past that it is passed over as NO (SIZE_MAX: always wait, for
 * checks whose MAYBE is bounded by a frame size limit). A proven start (YES) within
 * LP_RESYNC_LOOKAHEAD bytes after a waiting candidate is taken instead of it. Returns n
 * (nothing found, nothing to keep) or less.
 */
#define LP_RESYNC_LOOKAHEAD 4096u
size_t lp_resync(const uint8_t *p, size_t n, lp_frame_check check, void *arg, size_t wait_max,
		 bool *found);

#endif /* FLOE_DISSECT_FRAMING_H */
