/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_pcap: the plaintext floe reads from TLS libraries (byte_stream_chunk, see
 * source/byte_source.h) turned into synthetic Ethernet/IP/TCP frames, so that a PCAP of it
 * shows the decrypted conversation in Wireshark.
 *
 * Each connection gets the real endpoints (client -> server as the source oriented them), a
 * three-way handshake when its start was seen (not for one picked up mid-stream), segments of
 * at most one MSS (1460 bytes over IPv4, 1440 over IPv6) whose sequence numbers are the
 * stream offsets (so a gap in the stream is a gap in the sequence space), acknowledgements of
 * what the other direction sent so far, valid IP and TCP checksums, and FINs at its end. The
 * frames' time is the record's.
 *
 * Marking: both MAC addresses of a synthetic frame are TLS_PCAP_MAC_PREFIX + one byte (01 on
 * the client's side, 02 on the server's): "floe" in ASCII behind the locally administered bit,
 * which veth devices' random addresses would have to match in 80 bits at once. That is what
 * tls_pcap_is_synthetic() tests, what export uses to keep them apart from the captured frames,
 * and what a Wireshark user filters on (eth.src == 02:66:6c:6f:65:01). See docs/tls.md.
 *
 * One connection, one stream: when both ends of a connection are read (curl and nginx, both
 * on OpenSSL), the two sources carry the same 5-tuple; only the first one seen is written,
 * the other is counted (dup_skipped), or Wireshark would see every segment twice.
 *
 * Memory: one small state per connection being written, at most max_conns (a new one past it
 * is not written, counted table_full). Single-threaded: the caller serialises the calls.
 */
#ifndef FLOE_STORE_TLS_PCAP_H
#define FLOE_STORE_TLS_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/byte_source.h"

#define TLS_PCAP_MAC_PREFIX "\x02\x66\x6c\x6f\x65" /* 02:66:6c:6f:65 ("floe") */
#define TLS_PCAP_MSS_V4 1460u
#define TLS_PCAP_MSS_V6 1440u
#define TLS_PCAP_FRAME_MAX (14u + 40u + 20u + TLS_PCAP_MSS_V4) /* the longest frame made */

/* Called for each synthetic frame, in order; ts_ns is CLOCK_REALTIME. */
typedef void (*tls_pcap_emit_fn)(void *ctx, uint64_t ts_ns, const uint8_t *frame, size_t len);

struct tls_pcap_stats {
	uint64_t conns;	       /* connections written */
	uint64_t frames;       /* frames emitted (handshakes and FINs included) */
	uint64_t bytes;	       /* plaintext bytes in them */
	uint64_t dup_skipped;  /* chunks of a connection's other end, already written */
	uint64_t no_endpoints; /* chunks without endpoints (the socket was not seen) */
	uint64_t table_full;   /* chunks of connections not written: max_conns reached */
};

struct tls_pcap;

/* max_conns: connections written at once (0: 65536). Returns 0 or -ENOMEM. */
int tls_pcap_new(size_t max_conns, tls_pcap_emit_fn emit, void *ctx, struct tls_pcap **out);
void tls_pcap_free(struct tls_pcap *tp);

/* One chunk of plaintext (or a connection's end, BYTE_STREAM_CLOSE): its frames to emit. */
void tls_pcap_chunk(struct tls_pcap *tp, const struct byte_stream_chunk *c);

void tls_pcap_get_stats(const struct tls_pcap *tp, struct tls_pcap_stats *out);

/* Whether an Ethernet frame of len bytes is one tls_pcap made (both MACs carry the mark). */
bool tls_pcap_is_synthetic(const uint8_t *frame, size_t len);

#endif /* FLOE_STORE_TLS_PCAP_H */
