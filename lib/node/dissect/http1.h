/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http1: the HTTP/1.0 and HTTP/1.1 dissector (docs/http1.md).
 *
 * One entry per request/response exchange; responses are matched to requests in order
 * (pipelining), interim 1xx responses are kept on the entry, and gaps or malformed bytes make
 * the direction resynchronise at the next message start.
 *
 * Upgrade to h2c: when a "101 Switching Protocols" answers a request with "Upgrade: h2c", the
 * connection is switched to the "http2" dissector with conn_switch(c, "http2", e), where the
 * handover e is the struct entry * of the upgrade request. Ownership of e passes to http2,
 * which completes it with the response of stream 1 and emits it. e carries protocol "http",
 * version "1.1", the request's timestamps and size, fields "request", "upgrade": "h2c" and
 * "interim": [the 101 response]; "response" and the response timestamps are not set.
 */
#ifndef FLOE_DISSECT_HTTP1_H
#define FLOE_DISSECT_HTTP1_H

#include "dissect/dissector.h"

/* A message head (start line and header fields) longer than this is a parse error. */
#define HTTP1_HEAD_MAX (64u * 1024u)
/* Requests waiting for their response; more evict the oldest (counted as a parse error). */
#define HTTP1_PENDING_MAX 64u
/* Interim (1xx) responses kept per exchange; more are only counted. */
#define HTTP1_INTERIM_MAX 16u
/* The longest request line looked at when resynchronising. */
#define HTTP1_LINE_MAX (16u * 1024u)

extern const struct dissector dissector_http1;

#endif /* FLOE_DISSECT_HTTP1_H */
