/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http1_scan: an HTTP/1 message head read in one pass once all of it is in, for http1.c's
 * fast path.
 *
 * Why: http_parser (the library http1.c used for every byte) calls back per span and walks
 * the head byte by byte through its state machine; under live.sh it was ~16 % of the
 * dissection thread's instructions (docs/bench.md). Most heads are plain and arrive whole in
 * one segment. This scanner takes exactly those: a head it is sure http_parser (2.9,
 * non-strict, as floe uses it) would accept and read the same way. Anything else, whatever
 * the reason, is H1_SCAN_DECLINE, and http1.c gives the message to http_parser as before, so
 * that odd, split and hostile heads keep their former reading byte for byte.
 *
 * Taken: "METHOD SP /target SP HTTP/1.x CRLF" (METHOD one of http_parser's, not CONNECT;
 * the target origin-form, bytes 0x21-0x7e or >= 0x80) or "HTTP/1.x SP NNN [SP reason] CRLF"
 * (status 100-599, not 101; reason bytes HT, 0x20-0x7e, >= 0x80); then header lines
 * "token:" OWS value CRLF (value bytes HT, 0x20-0x7e, >= 0x80) and CRLF. Declined also:
 * bare LF, obs-fold, an Upgrade field, a Content-Length that is not 1-18 digits (trailing
 * spaces allowed, as http_parser does) or comes twice, Transfer-Encoding other than exactly
 * "chunked" or twice or with a Content-Length, more than H1_SCAN_FIELDS_MAX fields.
 */
#ifndef FLOE_DISSECT_HTTP1_SCAN_H
#define FLOE_DISSECT_HTTP1_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H1_SCAN_FIELDS_MAX 64u

enum h1_scan_result {
	H1_SCAN_OK,      /* a plain head, read into struct h1_scan */
	H1_SCAN_MORE,    /* no end of head within the bytes given (not a judgement) */
	H1_SCAN_DECLINE, /* not plain: leave it to http_parser */
};

/* A span of the scanned bytes. */
struct h1_span {
	uint32_t off, len;
};

struct h1_scan_field {
	struct h1_span name, value; /* value without leading or trailing SP/HT */
};

struct h1_scan {
	unsigned method;         /* enum http_method (requests) */
	unsigned status;         /* responses */
	unsigned major, minor;
	struct h1_span line;     /* the target (requests) or reason phrase (responses, may be empty) */
	uint64_t content_length; /* UINT64_MAX when absent */
	bool chunked;
	size_t head_len;         /* bytes up to and including the empty line */
	unsigned n_fields;
	struct h1_scan_field fields[H1_SCAN_FIELDS_MAX];
};

/* The method p..p+n names (enum http_method: one of http_parser's), or -1. */
int h1_method_of(const uint8_t *p, size_t n);
/* Does p..p+n begin a method name (or is it one)? */
bool h1_method_prefix(const uint8_t *p, size_t n);

/* Scan the head at p (its first byte the message's first, not CR or LF). */
enum h1_scan_result h1_scan_head(const uint8_t *p, size_t n, bool request, struct h1_scan *s);

#endif /* FLOE_DISSECT_HTTP1_SCAN_H */
