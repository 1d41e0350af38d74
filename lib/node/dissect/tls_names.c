// SPDX-License-Identifier: Apache-2.0
/* Names of TLS numbers (tls_names.h). */
#include "dissect/tls_names.h"

#include <stdlib.h>

static int cmp_code(const void *key, const void *elem)
{
	uint16_t k = *(const uint16_t *)key, c = ((const struct tls_name *)elem)->code;

	return k < c ? -1 : k > c;
}

const char *tls_cipher_name(uint16_t code)
{
	const struct tls_name *n =
	    bsearch(&code, tls_cipher_names, tls_cipher_names_count, sizeof(*n), cmp_code);

	return n ? n->name : NULL;
}

/* RFC 8446 6 and the IANA "TLS Alerts" registry; codes reserved for older versions keep their
 * old names (without the registry's "_RESERVED"), as the peers that send them mean those. */
static const struct tls_name alert_names[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
    {121, "ech_required"},
};

const char *tls_alert_name(uint8_t code)
{
	for (size_t i = 0; i < sizeof(alert_names) / sizeof(alert_names[0]); i++)
		if (alert_names[i].code == code)
			return alert_names[i].name;
	return NULL;
}

const char *tls_version_name(uint16_t v)
{
	switch (v) {
	case 0x0304:
		return "1.3";
	case 0x0303:
		return "1.2";
	case 0x0302:
		return "1.1";
	case 0x0301:
		return "1.0";
	case 0x0300:
		return "ssl3";
	}
	return NULL;
}
