/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_names: the names TLS entries show for the numbers on the wire: cipher suites (IANA's
 * names, generated from the registry: tls_ciphers.c, iana/gen_tls_ciphers.py), alert
 * descriptions (RFC 8446 6, IANA "TLS Alerts") and protocol versions.
 */
#ifndef FLOE_DISSECT_TLS_NAMES_H
#define FLOE_DISSECT_TLS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_name {
	uint16_t code;
	const char *name;
};

/* Sorted by code (tls_ciphers.c, generated). */
extern const struct tls_name tls_cipher_names[];
extern const size_t tls_cipher_names_count;

/* The IANA name of a cipher suite ("TLS_AES_128_GCM_SHA256"), or NULL when unassigned. */
const char *tls_cipher_name(uint16_t code);

/* An alert description's name ("handshake_failure"), or NULL for an unknown code. */
const char *tls_alert_name(uint8_t code);

/* A protocol version as entries show it: "1.3", "1.2", "1.1", "1.0", "ssl3"; NULL otherwise. */
const char *tls_version_name(uint16_t v);

/* A GREASE value (RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA), which fingerprints leave out. */
static inline bool tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

#endif /* FLOE_DISSECT_TLS_NAMES_H */
