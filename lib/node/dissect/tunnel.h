/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel: the bytes inside an accepted CONNECT, dissected as what they are.
 *
 * After a CONNECT is answered with 2xx, the rest of the carrier (an HTTP/1.1 connection; an
 * HTTP/2 stream's DATA) is another byte stream: the carrier's dissector hands every byte of it,
 * both directions, in stream order, to a tunnel:
 *
 *   t = tunnel_open(c, connect_entry, authority);   the carrier's dissector gives up the entry
 *   tunnel_data(t, dir, p, n, ts) ...   tunnel_gap(t, dir, missing, ts) ...
 *   tunnel_close(t, why, ts);                        frees t
 *
 * The tunnel looks at the client's first bytes. A TLS ClientHello record (RFC 8446 5.1, 4.1.2:
 * content type 22, legacy version 3.x, handshake type 1) makes it a TLS tunnel: counted
 * (dissect_stats.tunnels_tls); floe does not decrypt, but its handshake goes to an inner
 * connection like any other bytes, where the tls dissector makes its entry (dissect/tls.h).
 * Anything else (or the server speaking first) goes to a fresh inner connection (conn_inner_open,
 * dissector.h): protocol detection runs on it as on a new connection, so HTTP/1, h2c with prior
 * knowledge, Redis, ... inside a tunnel are recognised by content; their entries carry "tunnel":
 * {"id": <the CONNECT entry's id>, "authority": <its target>}. Tunnels nest (a CONNECT inside a
 * tunnel opens another) down to DISSECT_MAX_TUNNEL_DEPTH.
 *
 * The CONNECT entry itself is emitted once the tunnel's kind is known (its first bytes, a gap,
 * or its end) with "tunnel_kind": "tls", "cleartext", "empty" (ended before a byte went
 * through) or "not_dissected" (nested too deep, or no memory); its id is given at
 * tunnel_open(), so it is numbered before the entries from inside.
 *
 * Carriers: HTTP/1.1 (http1.c: the rest of the connection after the 2xx) and HTTP/2 (http2.c,
 * "tunnels": per CONNECT stream, from its 2xx response HEADERS, each DATA frame's payload in
 * its direction, closed with the stream). Several tunnels on one connection are independent;
 * each holds an inner connection with buffers up to max_buffer_per_dir per direction, so a
 * carrier bounds how many it opens (HTTP/1: one at a time; HTTP/2: HTTP2_MAX_TUNNELS), as
 * the nesting depth bounds them.
 */
#ifndef FLOE_DISSECT_TUNNEL_H
#define FLOE_DISSECT_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "dissect/dissector.h"

struct tunnel;

/*
 * A tunnel carried by c for the accepted CONNECT whose entry is outer (taken: the tunnel emits
 * it). authority: the CONNECT's target (HTTP/1 request-target, HTTP/2 :authority), or NULL.
 * NULL on ENOMEM, after outer was emitted as it is.
 */
struct tunnel *tunnel_open(struct conn *c, struct entry *outer, const char *authority);

/* The next n bytes of dir inside the tunnel; ts: when the first of them came. */
void tunnel_data(struct tunnel *t, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t ts);

/* missing bytes of dir inside the tunnel were lost. */
void tunnel_gap(struct tunnel *t, enum tcp_dir dir, uint64_t missing, uint64_t ts);

/* The tunnel ended (the carrier closed, why): what is pending inside is emitted; t is freed. */
void tunnel_close(struct tunnel *t, enum conn_end why, uint64_t ts);

/* Whether the first bytes of a client's stream are a TLS ClientHello record: 1 yes, 0 no,
 * -1 too few bytes to tell. */
int tunnel_tls_client_hello(const uint8_t *p, size_t n);

#endif /* FLOE_DISSECT_TUNNEL_H */
