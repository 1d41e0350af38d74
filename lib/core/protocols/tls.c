// SPDX-License-Identifier: Apache-2.0
/* TLS handshakes: the protocol's descriptor (protocol.h); its dissector is lib/node/dissect/tls.c.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* "example.com [h2,http/1.1] -> 1.3 TLS_AES_128_GCM_SHA256 h2", "... alert handshake_failure" */
static size_t tls_summary(const struct entry *e, char *out, size_t size)
{
	const json_t *req = json_object_get(entry_fields(e), "request");
	const json_t *resp = json_object_get(entry_fields(e), "response");
	const json_t *alpn = json_object_get(req, "alpn"), *a, *v;
	struct text_buf b = {out, size, 0};
	size_t i;

	out[0] = 0;
	text_str(&b, entry_field_str(req, "sni", NULL) ?: "-");
	if (json_array_size(alpn)) {
		text_str(&b, " [");
		json_array_foreach(alpn, i, v)
		{
			if (i)
				text_str(&b, ",");
			text_str(&b, json_string_value(v) ?: "");
		}
		text_str(&b, "]");
	}
	if (entry_field_str(resp, "version", NULL)) {
		text_str(&b, " -> ");
		text_str(&b, entry_field_str(resp, "version", NULL));
		text_str(&b, " ");
		text_str(&b, entry_field_str(resp, "cipher", NULL) ?: "-");
		if (entry_field_str(resp, "alpn", NULL)) {
			text_str(&b, " ");
			text_str(&b, entry_field_str(resp, "alpn", NULL));
		}
		if (json_is_true(json_object_get(resp, "resumed")))
			text_str(&b, " resumed");
	}
	json_array_foreach(json_object_get(entry_fields(e), "alerts"), i, a)
	{
		if (!entry_field_str(a, "level", NULL) ||
		    strcmp(entry_field_str(a, "level", NULL), "fatal"))
			continue;
		text_str(&b, " alert ");
		text_str(&b, entry_field_str(a, "description", NULL) ?: "");
		break;
	}
	return b.len;
}

static const struct protocol_field certificate_fields[] = {
    FIELD("subject", STRING,
	  "the subject's distinguished name, RFC 4514 form "
	  "(`CN=example.com,O=Example`)"),
    FIELD("issuer", STRING, "the issuer's, the same way"),
    FIELD("not_before", TIMESTAMP, "start of its validity"),
    FIELD("not_after", TIMESTAMP, "its expiry"),
    FIELD("serial", STRING, "its serial number in hex (lower case)"),
    FIELD_OF("san", ARRAY, STRING, "its subjectAltName DNS names and IP addresses (at most 32)"),
    FIELD("chain_length", INTEGER, "certificates the message carried (this one and its chain)"),
    FIELD("error", STRING,
	  "why the certificate could not be read (its DER did not parse, the "
	  "message was cut)"),
    FIELD_END,
};

static const struct field_group certificate_group = {"Certificate", certificate_fields};

static const struct protocol_field alert_fields[] = {
    FIELD("from", STRING, "`client` or `server`"),
    FIELD("level", STRING, "`warning` or `fatal`"),
    FIELD("description", STRING,
	  "the alert's name (RFC 8446 6): `handshake_failure`, "
	  "`unknown_ca`, `close_notify`, ... (`unknown_N` otherwise)"),
    FIELD("code", INTEGER, "its number"),
    FIELD_END,
};

static const struct field_group alert_group = {"Alert", alert_fields};

static const struct protocol_field tls_fields[] = {
    FIELD("request", OBJECT, "the ClientHello"),
    FIELD("request.sni", STRING, "the server name the client asked for (SNI)"),
    FIELD_OF("request.alpn", ARRAY, STRING,
	     "the application protocols offered (ALPN), in order: `[\"h2\",\"http/1.1\"]`"),
    FIELD_OF("request.versions", ARRAY, STRING,
	     "the versions offered in supported_versions (`[\"1.3\",\"1.2\"]`); absent when "
	     "the client did not send it (before TLS 1.3)"),
    FIELD("request.legacy_version", STRING,
	  "the hello's own version field (`1.2` from TLS "
	  "1.3 clients)"),
    FIELD_OF("request.cipher_suites", ARRAY, STRING,
	     "the cipher suites offered, IANA names (`0x....` when unassigned), GREASE left out"),
    FIELD("request.grease", BOOLEAN, "`true` when GREASE values (RFC 8701) were offered"),
    FIELD("request.session_ticket", BOOLEAN,
	  "`true`: a session ticket was offered (TLS 1.2 "
	  "resumption)"),
    FIELD("request.psk", BOOLEAN, "`true`: a pre-shared key was offered (TLS 1.3 resumption)"),
    FIELD("request.early_data", BOOLEAN, "`true`: the client announced 0-RTT data"),
    FIELD("request.ja3", STRING,
	  "the JA3 string: version, ciphers, extensions, groups, point "
	  "formats (decimal, GREASE left out)"),
    FIELD("request.ja3_hash", STRING, "its MD5 (what tshark calls `tls.handshake.ja3`)"),
    FIELD("request.ja4", STRING,
	  "the JA4 fingerprint (FoxIO): `t13d1516h2_8daaf6152771_e5627efa2ab1`"),
    FIELD("request.ja4_r", STRING, "JA4 with the sorted lists instead of their hashes"),
    FIELD("request.fingerprint_truncated", BOOLEAN,
	  "`true` when a list had more than 256 values: the fingerprints use the first 256"),
    FIELD_GROUP("request.certificate", certificate_group,
		"the client's certificate, when the server asked for one and it is in clear "
		"(TLS 1.2 and older)"),
    FIELD("request.error", STRING, "why the ClientHello could not be read"),
    FIELD("response", OBJECT, "the ServerHello and the server's messages in clear"),
    FIELD("response.version", STRING, "the version chosen: `1.3`, `1.2`, `1.1`, `1.0`, `ssl3`"),
    FIELD("response.cipher", STRING,
	  "the cipher suite chosen, its IANA name: "
	  "`TLS_AES_128_GCM_SHA256`"),
    FIELD("response.alpn", STRING, "the application protocol chosen (ALPN)"),
    FIELD("response.resumed", BOOLEAN,
	  "a resumed session: TLS 1.3 accepted a pre-shared key; TLS 1.2 went from its "
	  "ServerHello to ChangeCipherSpec (absent when the capture does not tell)"),
    FIELD("response.hello_retry", BOOLEAN,
	  "the server first asked for another ClientHello "
	  "(HelloRetryRequest)"),
    FIELD_GROUP("response.certificate", certificate_group,
		"the server's certificate when it is in clear (TLS 1.2 and older; TLS 1.3 "
		"encrypts it)"),
    FIELD("response.client_certificate_requested", BOOLEAN,
	  "the server asked the client for a certificate (in clear: TLS 1.2)"),
    FIELD("response.new_session_ticket", BOOLEAN, "the server issued a session ticket (TLS 1.2)"),
    FIELD("response.alert", STRING,
	  "the server answered the ClientHello with this fatal alert "
	  "instead of a ServerHello"),
    FIELD("response.error", STRING, "why the ServerHello could not be read"),
    FIELD_ARRAY_GROUP("alerts", alert_group,
		      "alerts sent in clear during the handshake (at "
		      "most 8)"),
    FIELD("established", BOOLEAN,
	  "`true` when the handshake finished (both Finished messages went); `false` when a "
	  "fatal alert or the connection's end came first"),
    FIELD("handshake_ms", DURATION_MS,
	  "from the ClientHello to the handshake's end (TLS 1.3: the client's Finished; TLS "
	  "1.2: the later Finished)"),
    FIELD_END,
};

static const char *const tls_dissectors[] = {"tls", NULL};
static const struct protocol_word tls_words[] = {{"tls", NULL}, {NULL, NULL}};

const struct protocol_desc protocol_tls = {
    .name = "tls",
    .description = "TLS handshakes as seen without keys: SNI, ALPN, versions, cipher suite, "
		   "JA3/JA4, certificates in clear, alerts",
    .dissectors = tls_dissectors,
    .words = tls_words,
    .fields = tls_fields,
    .summary = tls_summary,
};
