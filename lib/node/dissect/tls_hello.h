/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_hello: what TLS handshake messages say in clear, read into structs and JSON: the
 * ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2) with its JA3 and JA4 fingerprints, the
 * ServerHello (and HelloRetryRequest), and a certificate (RFC 5280, parsed by libcrypto).
 * The dissector (tls.c) finds the messages; these functions only read one message body.
 *
 * JA3: "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats", decimal
 * values joined by '-', GREASE values left out, and its MD5 (what tshark shows as
 * tls.handshake.ja3_full and tls.handshake.ja3). JA4 (FoxIO's specification, JA4.md):
 * "t" + version + "d"/"i" + cipher count + extension count + ALPN's first and last
 * characters, "_", the first 12 hex digits of SHA-256 over the sorted cipher list, "_", the
 * same over the sorted extension list without SNI and ALPN, "_" and the signature algorithms
 * in their order; ja4_r is the same with the lists instead of the hashes.
 */
#ifndef FLOE_DISSECT_TLS_HELLO_H
#define FLOE_DISSECT_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Values of one list kept per ClientHello (ciphers, extensions, ...): more are counted in
 * *_total and make the fingerprints "truncated" (no real client sends that many). */
#define TLS_LIST_MAX 256u
#define TLS_ALPN_MAX 16u /* ALPN protocols shown */
#define TLS_SAN_MAX  32u /* subjectAltName entries shown */

struct tls_client_hello {
	uint16_t legacy_version;
	uint16_t ciphers[TLS_LIST_MAX], exts[TLS_LIST_MAX], groups[TLS_LIST_MAX];
	uint16_t sigalgs[TLS_LIST_MAX], versions[TLS_LIST_MAX];
	uint8_t point_formats[TLS_LIST_MAX];
	size_t n_ciphers, n_exts, n_groups, n_sigalgs, n_versions, n_point_formats;
	bool truncated; /* a list had more than TLS_LIST_MAX values */
	bool grease;	/* GREASE values were offered (RFC 8701) */
	bool has_sni, has_alpn, has_versions;
	char sni[256];
	const uint8_t *alpn; /* the ALPN protocol_name_list body (points into the message) */
	size_t alpn_len;
	uint8_t session_id[32];
	size_t session_id_len;
	bool session_ticket; /* a non-empty session_ticket extension (RFC 5077) */
	bool psk;	     /* pre_shared_key (TLS 1.3 resumption) */
	bool early_data;
};

/* The body of a ClientHello (after the 4-byte handshake header). 0, or -EBADMSG with *why. */
int tls_client_hello_parse(const uint8_t *p, size_t n, struct tls_client_hello *ch,
			   const char **why);

/* Its JA3 string (cut to size - 1) and MD5 as 32 hex digits. */
void tls_ja3(const struct tls_client_hello *ch, char *str, size_t size, char md5[33]);

/* Its JA4 ("t13d1516h2_8daaf6152771_e5627efa2ab1") and JA4_r (cut to size - 1). */
void tls_ja4(const struct tls_client_hello *ch, char ja4[40], char *raw, size_t raw_size);

/* The request object of an entry: sni, alpn, versions, cipher suites, fingerprints, ... */
json_t *tls_client_hello_json(const struct tls_client_hello *ch);

struct tls_server_hello {
	uint16_t legacy_version;
	uint16_t version; /* the chosen one: supported_versions when present, else legacy */
	uint16_t cipher;
	bool hello_retry; /* a HelloRetryRequest (RFC 8446 4.1.3: its fixed random) */
	bool psk;	  /* pre_shared_key accepted (TLS 1.3 resumption) */
	uint8_t session_id[32];
	size_t session_id_len;
	const uint8_t *alpn; /* the chosen protocol (points into the message) */
	size_t alpn_len;
};

int tls_server_hello_parse(const uint8_t *p, size_t n, struct tls_server_hello *sh,
			   const char **why);

/*
 * A Certificate message's body (RFC 5246 7.4.2: TLS 1.2 and older, where it is in clear):
 * the first certificate (the sender's own) as {subject, issuer, not_before, not_after,
 * serial, san, chain_length}; cut: only a prefix of the message is there. NULL on ENOMEM.
 */
json_t *tls_certificate_json(const uint8_t *p, size_t n, bool cut);

/* An ALPN protocol name as a JSON string (bytes outside printable ASCII as \xNN). */
json_t *tls_alpn_string(const uint8_t *p, size_t n);

#endif /* FLOE_DISSECT_TLS_HELLO_H */
