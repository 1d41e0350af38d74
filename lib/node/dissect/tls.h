/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls: the TLS handshake as floe sees it without keys. One entry (protocol "tls") per
 * handshake with what is in clear: the ClientHello (SNI, ALPN offered, versions offered,
 * cipher suites, JA3/JA4), the ServerHello (version, cipher suite and ALPN chosen,
 * resumption, HelloRetryRequest), the certificates while they are in clear (TLS 1.2 and
 * older), alerts in clear, and the handshake's duration. docs/tls-handshake.md has the
 * behaviour and docs/entries.md the fields.
 *
 * Records (RFC 8446 5.1) are followed in both directions; their bodies are never buffered
 * whole: handshake bytes in clear are gathered per message (at most TLS_HS_KEEP bytes of
 * one, the rest counted), everything else is skipped as it comes. A side's handshake records
 * after its ChangeCipherSpec are encrypted (TLS 1.2: its Finished); TLS 1.3 encrypts its
 * records under the application_data type. The handshake is over when TLS 1.3's client sends
 * its first encrypted record after the ServerHello (its Finished), or when both sides of
 * TLS 1.2 have sent their Finished; the entry is emitted then (or at a fatal alert in clear,
 * or when the connection ends first: incomplete). What follows is skipped without parsing.
 */
#ifndef FLOE_DISSECT_TLS_H
#define FLOE_DISSECT_TLS_H

#include "dissect/dissector.h"

#define TLS_HS_KEEP    (64u * 1024u) /* bytes of one handshake message kept for parsing */
#define TLS_ALERTS_MAX 8u	     /* alerts shown per entry; more are counted */

/* Indexes of dissector_tls.counters */
enum tls_counter {
	TLS_COUNTER_HANDSHAKES = 0,   /* entries made */
	TLS_COUNTER_MALFORMED,	      /* hello or record headers that did not parse */
	TLS_COUNTER_RESYNCS,	      /* gaps that lost the record framing */
	TLS_COUNTER_MESSAGES_CUT,     /* handshake messages longer than TLS_HS_KEEP */
	TLS_COUNTER_ENCRYPTED_ALERTS, /* alert records we could not read */
};

extern const struct dissector dissector_tls;

#endif /* FLOE_DISSECT_TLS_H */
