// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the TLS handshake dissector (dissect/tls.c, dissect/tls_hello.c) through the
 * engine's byte-stream interface. Hellos are built byte by byte here; the certificate is made
 * by libcrypto in the test. Covered: detection (and not taking HTTP/1, HTTP/2, other bytes),
 * TLS 1.3 and 1.2 handshakes to their end, certificates in clear, GREASE, JA3 and JA4 (the
 * JA4 specification's published example), a ClientHello fragmented across records and every
 * record across segments, HelloRetryRequest, resumption (1.2 abbreviated, 1.3 PSK), a fatal
 * alert, a capture that begins at the ServerHello, gaps inside and across records, the
 * connection's end before the handshake's, bytes that are not records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dissect/dissector.h"
#include "dissect/engine.h"
#include "dissect/tls.h"
#include "dissect/tls_hello.h"
#include "dissect/tls_names.h"
#include "test_stream.h"

#define C2S TCP_DIR_C2S
#define S2C TCP_DIR_S2C

/* ---- building messages ---- */

struct buf {
	uint8_t b[16384];
	size_t n;
};

static void put8(struct buf *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct buf *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put24(struct buf *m, unsigned v)
{
	put8(m, v >> 16);
	put16(m, v & 0xffff);
}

static void putn(struct buf *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

/* Fill in a 2- or 3-byte length at `at` for everything after it. */
static void patch_len(struct buf *m, size_t at, unsigned size)
{
	size_t len = m->n - at - size;

	if (size == 3)
		m->b[at++] = (uint8_t)(len >> 16);
	m->b[at] = (uint8_t)(len >> 8);
	m->b[at + 1] = (uint8_t)len;
}

static size_t begin(struct buf *m, unsigned size)
{
	size_t at = m->n;

	while (size--)
		put8(m, 0);
	return at;
}

static void ext_begin(struct buf *m, unsigned type, size_t *at)
{
	put16(m, type);
	*at = begin(m, 2);
}

struct hello_opts {
	const uint16_t *ciphers;
	size_t n_ciphers;
	const uint16_t *exts; /* extension types in order; the known ones get contents */
	size_t n_exts;
	const char *sni;
	const char *alpn[4];
	const uint16_t *versions;
	size_t n_versions;
	const uint16_t *sigalgs;
	size_t n_sigalgs;
	uint8_t session_id_len;
	bool ticket;
};

/* A ClientHello handshake message (header included). */
static void client_hello(struct buf *m, const struct hello_opts *o)
{
	size_t hs, exts, at, at2, i;

	m->n = 0;
	put8(m, 1);
	hs = begin(m, 3);
	put16(m, 0x0303);
	for (i = 0; i < 32; i++)
		put8(m, i);
	put8(m, o->session_id_len);
	for (i = 0; i < o->session_id_len; i++)
		put8(m, 0xa0 + i);
	put16(m, (unsigned)(2 * o->n_ciphers));
	for (i = 0; i < o->n_ciphers; i++)
		put16(m, o->ciphers[i]);
	put8(m, 1);
	put8(m, 0);
	exts = begin(m, 2);
	for (i = 0; i < o->n_exts; i++) {
		uint16_t t = o->exts[i];

		ext_begin(m, t, &at);
		switch (t) {
		case 0x0000:
			at2 = begin(m, 2);
			put8(m, 0);
			put16(m, (unsigned)strlen(o->sni));
			putn(m, o->sni, strlen(o->sni));
			patch_len(m, at2, 2);
			break;
		case 0x0010:
			at2 = begin(m, 2);
			for (size_t k = 0; k < 4 && o->alpn[k]; k++) {
				put8(m, (unsigned)strlen(o->alpn[k]));
				putn(m, o->alpn[k], strlen(o->alpn[k]));
			}
			patch_len(m, at2, 2);
			break;
		case 0x002b:
			put8(m, (unsigned)(2 * o->n_versions));
			for (size_t k = 0; k < o->n_versions; k++)
				put16(m, o->versions[k]);
			break;
		case 0x000d:
			put16(m, (unsigned)(2 * o->n_sigalgs));
			for (size_t k = 0; k < o->n_sigalgs; k++)
				put16(m, o->sigalgs[k]);
			break;
		case 0x000a:
			put16(m, 6);
			put16(m, 0x1a1a); /* GREASE */
			put16(m, 0x001d);
			put16(m, 0x0017);
			break;
		case 0x000b:
			put8(m, 1);
			put8(m, 0);
			break;
		case 0x0023:
			if (o->ticket)
				putn(m, "ticket-bytes", 12);
			break;
		default:
			if (tls_is_grease(t))
				put8(m, 0);
			break;
		}
		patch_len(m, at, 2);
	}
	patch_len(m, exts, 2);
	patch_len(m, hs, 3);
}

struct server_opts {
	uint16_t version; /* supported_versions, or 0 */
	uint16_t cipher;
	const char *alpn;
	bool hrr, psk;
	uint8_t session_id_len;
};

static void server_hello(struct buf *m, const struct server_opts *o)
{
	static const uint8_t hrr[32] = {
	    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	    0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
	};
	size_t hs, exts, at, at2, i;

	put8(m, 2);
	hs = begin(m, 3);
	put16(m, 0x0303);
	if (o->hrr)
		putn(m, hrr, 32);
	else
		for (i = 0; i < 32; i++)
			put8(m, 0x40 + i);
	put8(m, o->session_id_len);
	for (i = 0; i < o->session_id_len; i++)
		put8(m, 0xa0 + i);
	put16(m, o->cipher);
	put8(m, 0);
	exts = begin(m, 2);
	if (o->version) {
		ext_begin(m, 0x002b, &at);
		put16(m, o->version);
		patch_len(m, at, 2);
	}
	if (o->alpn) {
		ext_begin(m, 0x0010, &at);
		at2 = begin(m, 2);
		put8(m, (unsigned)strlen(o->alpn));
		putn(m, o->alpn, strlen(o->alpn));
		patch_len(m, at2, 2);
		patch_len(m, at, 2);
	}
	if (o->psk) {
		ext_begin(m, 0x0029, &at);
		put16(m, 0);
		patch_len(m, at, 2);
	}
	patch_len(m, exts, 2);
	patch_len(m, hs, 3);
}

/* A handshake message of its own (type, body of n bytes of v). */
static void hs_msg(struct buf *m, unsigned type, size_t n, uint8_t v)
{
	put8(m, type);
	put24(m, (unsigned)n);
	while (n--)
		put8(m, v);
}

/* Records of `type` carrying (p, n), at most `max` body bytes each. */
static void records(struct buf *out, unsigned type, const uint8_t *p, size_t n, size_t max)
{
	do {
		size_t k = n < max ? n : max;

		put8(out, type);
		put16(out, 0x0303);
		put16(out, (unsigned)k);
		putn(out, p, k);
		p += k;
		n -= k;
	} while (n);
}

static void send_records(struct fx *f, enum tcp_dir dir, unsigned type, const struct buf *m)
{
	struct buf r = {.n = 0};

	records(&r, type, m->b, m->n, 16384);
	fx_send(f, dir, r.b, r.n);
}

static void send_ccs(struct fx *f, enum tcp_dir dir)
{
	static const uint8_t ccs[] = {20, 3, 3, 0, 1, 1};

	fx_send(f, dir, ccs, sizeof(ccs));
}

/* An encrypted record of type (application data, or TLS 1.2's Finished as handshake). */
static void send_encrypted(struct fx *f, enum tcp_dir dir, unsigned type, size_t n)
{
	struct buf r = {.n = 0}, body = {.n = 0};

	for (size_t i = 0; i < n; i++)
		put8(&body, (unsigned)(i * 37 + 11));
	records(&r, type, body.b, body.n, 16384);
	fx_send(f, dir, r.b, r.n);
}

/* The JA4 specification's example (JA4.md): its ciphers and extensions in their original
 * order, with GREASE values a browser would add. */
static const uint16_t spec_ciphers[] = {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
					0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
					0x009c, 0x009d, 0x002f, 0x0035};
static const uint16_t spec_exts[] = {0x2a2a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469,
				     0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
				     0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x3a3a};
static const uint16_t spec_sigalgs[] = {0x0403, 0x0804, 0x0401, 0x0503,
					0x0805, 0x0501, 0x0806, 0x0601};
static const uint16_t v13[] = {0x5a5a, 0x0304, 0x0303};

static const struct hello_opts spec_hello = {
    .ciphers = spec_ciphers,
    .n_ciphers = sizeof(spec_ciphers) / 2,
    .exts = spec_exts,
    .n_exts = sizeof(spec_exts) / 2,
    .sni = "www.example.test",
    .alpn = {"h2", "http/1.1"},
    .versions = v13,
    .n_versions = 3,
    .sigalgs = spec_sigalgs,
    .n_sigalgs = 8,
    .session_id_len = 32,
};

static void fx_open_tls(struct fx *f)
{
	fx_open_flow(f, 3, 443, TCP_ROLE_SYN, NULL);
}

/* ---- fingerprints ---- */

static void test_ja4_spec_example(void **state)
{
	struct tls_client_hello ch;
	struct buf m;
	const char *why = NULL;
	char ja4[40], raw[2048], ja3[4096], md5[33];

	(void)state;
	client_hello(&m, &spec_hello);
	assert_int_equal(tls_client_hello_parse(m.b + 4, m.n - 4, &ch, &why), 0);
	assert_true(ch.grease);
	assert_int_equal(ch.n_ciphers, 15);
	assert_int_equal(ch.n_exts, 16);
	tls_ja4(&ch, ja4, raw, sizeof(raw));
	assert_string_equal(ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	assert_string_equal(raw,
			    "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,"
			    "c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,"
			    "002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601");
	/* JA4.md: the same extensions without signature algorithms hash to 6d807ffa2a79. */
	ch.n_sigalgs = 0;
	tls_ja4(&ch, ja4, NULL, 0);
	assert_string_equal(ja4, "t13d1516h2_8daaf6152771_6d807ffa2a79");
	/* No ciphers, no extensions: zeros instead of hashes; no SNI: "i"; no ALPN: "00". */
	ch.n_ciphers = ch.n_exts = 0;
	ch.has_sni = false;
	ch.alpn = NULL;
	tls_ja4(&ch, ja4, NULL, 0);
	assert_string_equal(ja4, "t13i000000_000000000000_000000000000");
	/* JA3: decimal, GREASE left out, and its MD5. */
	assert_int_equal(tls_client_hello_parse(m.b + 4, m.n - 4, &ch, &why), 0);
	tls_ja3(&ch, ja3, sizeof(ja3), md5);
	assert_string_equal(ja3,
			    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-"
			    "49172-156-157-47-53,27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-"
			    "10-21,29-23,0");
	assert_int_equal(strlen(md5), 32);
}

/* JA4.md's ALPN rules: alphanumeric first and last characters, else the hex form's. */
static void test_ja4_alpn(void **state)
{
	static const struct {
		const uint8_t *v;
		size_t n;
		const char *want;
	} cases[] = {
	    {(const uint8_t *)"\x02h2", 3, "h2"},
	    {(const uint8_t *)"\x08http/1.1", 9, "h1"},
	    {(const uint8_t *)"\x01h", 2, "hh"},
	    {(const uint8_t *)"\x01\xab", 2, "ab"},
	    {(const uint8_t *)"\x02\xab\xcd", 3, "ad"},
	    {(const uint8_t *)"\x02\x30\xab", 3, "3b"},
	    {(const uint8_t *)"\x04\x30\x31\xab\xcd", 5, "3d"},
	    {(const uint8_t *)"\x04\x30\xab\xcd\x31", 5, "01"},
	    {(const uint8_t *)"\x00\x02h2", 4, "00"}, /* an empty first value */
	};
	struct tls_client_hello ch;
	char ja4[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ch, 0, sizeof(ch));
		ch.legacy_version = 0x0303;
		ch.has_alpn = true;
		ch.alpn = cases[i].v;
		ch.alpn_len = cases[i].n;
		tls_ja4(&ch, ja4, NULL, 0);
		if (strncmp(ja4 + 8, cases[i].want, 2))
			fail_msg("case %zu: %s, want ALPN part %s", i, ja4, cases[i].want);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tls_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
	assert_string_equal(tls_cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	assert_string_equal(tls_cipher_name(0x0000), "TLS_NULL_WITH_NULL_NULL");
	assert_string_equal(tls_cipher_name(0xd005), "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256");
	assert_null(tls_cipher_name(0x0a0a));
	assert_null(tls_cipher_name(0xffff));
	for (size_t i = 1; i < tls_cipher_names_count; i++)
		assert_true(tls_cipher_names[i - 1].code < tls_cipher_names[i].code);
	assert_string_equal(tls_alert_name(40), "handshake_failure");
	assert_string_equal(tls_alert_name(0), "close_notify");
	assert_null(tls_alert_name(255));
	assert_true(tls_is_grease(0xfafa));
	assert_false(tls_is_grease(0x0a1a));
}

/* ---- detection ---- */

static void test_detect(void **state)
{
	struct buf m, r = {.n = 0};
	size_t i;

	(void)state;
	client_hello(&m, &spec_hello);
	records(&r, 22, m.b, m.n, 16384);
	for (i = 0; i < 11; i++)
		assert_int_equal(dissector_tls.detect(C2S, r.b, i), DETECT_MAYBE);
	assert_int_equal(dissector_tls.detect(C2S, r.b, r.n), DETECT_YES);
	assert_int_equal(dissector_tls.detect(S2C, r.b, r.n), DETECT_NO);
	assert_int_equal(dissector_tls.detect(C2S, (const uint8_t *)"GET / HTTP/1.1\r\n", 16),
			 DETECT_NO);
	assert_int_equal(dissector_tls.detect(C2S, (const uint8_t *)"PRI * HTTP/2.0\r\n", 16),
			 DETECT_NO);
	/* application data, an alert, SSL 2, a record too long */
	assert_int_equal(dissector_tls.detect(C2S, (const uint8_t *)"\x17\x03\x03\x00\x20", 5),
			 DETECT_NO);
	assert_int_equal(dissector_tls.detect(C2S, (const uint8_t *)"\x15\x03\x03\x00\x02", 5),
			 DETECT_NO);
	assert_int_equal(dissector_tls.detect(C2S, (const uint8_t *)"\x80\x2e\x01\x03\x01", 5),
			 DETECT_NO);
	assert_int_equal(dissector_tls.detect(C2S, (const uint8_t *)"\x16\x03\x01\x48\x01\x01", 6),
			 DETECT_NO);
	/* a ServerHello first: the capture began after the ClientHello */
	m.n = 0;
	server_hello(&m, &(struct server_opts){.cipher = 0xc02f});
	r.n = 0;
	records(&r, 22, m.b, m.n, 16384);
	assert_int_equal(dissector_tls.detect(S2C, r.b, r.n), DETECT_YES);
	assert_int_equal(dissector_tls.detect(C2S, r.b, r.n), DETECT_NO);
}

/* ---- handshakes through the engine ---- */

/* TLS 1.3's ServerHello (its ALPN choice is in the encrypted EncryptedExtensions), a CCS
 * for middleboxes, the encrypted rest of the server's flight. */
static void tls13_server_flight(struct fx *f, bool psk)
{
	struct buf m = {.n = 0};

	server_hello(&m,
		     &(struct server_opts){
			 .version = 0x0304, .cipher = 0x1301, .psk = psk, .session_id_len = 32});
	send_records(f, S2C, 22, &m);
	send_ccs(f, S2C);
	send_encrypted(f, S2C, 23, 900); /* EncryptedExtensions, Certificate, ..., Finished */
}

static void test_tls13(void **state)
{
	struct buf m;
	struct fx f;

	(void)state;
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	tls13_server_flight(&f, false);
	assert_int_equal(n_entries(&f), 0);
	send_ccs(&f, C2S);
	send_encrypted(&f, C2S, 23, 53); /* the client's Finished ends the handshake */
	assert_int_equal(n_entries(&f), 1);
	send_encrypted(&f, C2S, 23, 300); /* requests and responses: nothing more */
	send_encrypted(&f, S2C, 23, 3000);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "protocol", "tls");
	assert_str(&f, 0, "version", "1.3");
	assert_str(&f, 0, "request.sni", "www.example.test");
	assert_str(&f, 0, "request.alpn.0", "h2");
	assert_str(&f, 0, "request.alpn.1", "http/1.1");
	assert_str(&f, 0, "request.versions.0", "1.3");
	assert_str(&f, 0, "request.versions.1", "1.2");
	assert_int_equal(json_array_size(jget(json_array_get(f.out, 0), "request.versions")), 2);
	assert_str(&f, 0, "request.cipher_suites.0", "TLS_AES_128_GCM_SHA256");
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "request.grease")));
	assert_str(&f, 0, "request.ja4", "t13d1516h2_8daaf6152771_e5627efa2ab1");
	assert_str(&f, 0, "response.version", "1.3");
	assert_str(&f, 0, "response.cipher", "TLS_AES_128_GCM_SHA256");
	assert_false(has(&f, 0, "response.alpn"));
	assert_true(json_is_false(jget(json_array_get(f.out, 0), "response.resumed")));
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "established")));
	assert_false(has(&f, 0, "missing"));
	assert_false(has(&f, 0, "response.certificate")); /* encrypted in TLS 1.3 */
	assert_true(has(&f, 0, "handshake_ms"));
	assert_true(strstr(line_of(&f, 0), "www.example.test [h2,http/1.1] -> 1.3 "
					   "TLS_AES_128_GCM_SHA256") != NULL);
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	assert_int_equal(fx_counter(&f, "tls", "handshakes"), 1);
	fx_free(&f);
}

/* A self-signed certificate made here, as DER. */
static size_t make_cert_serial(uint8_t *out, size_t size, long serial)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_EXTENSION *san;
	unsigned char *p = out;
	int len;

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	ASN1_TIME_set_string(X509_getm_notBefore(x), "20260101000000Z");
	ASN1_TIME_set_string(X509_getm_notAfter(x), "20270315120000Z");
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Floe Test", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"www.example.test", -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				  "DNS:www.example.test,DNS:api.example.test,IP:10.0.0.2");
	assert_non_null(san);
	X509_add_ext(x, san, -1);
	X509_EXTENSION_free(san);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	len = i2d_X509(x, NULL);
	assert_true(len > 0 && (size_t)len <= size);
	i2d_X509(x, &p);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	return (size_t)len;
}

static size_t make_cert(uint8_t *out, size_t size)
{
	return make_cert_serial(out, size, 0x1234abcd);
}

/* The certificate reader alone: a serial whose first byte is below 0x10 (no padding shown),
 * an empty list (a client without a certificate), a DER that does not parse, a cut list. */
static void test_certificate(void **state)
{
	uint8_t der[4096], msg[4200];
	size_t n = make_cert_serial(der, sizeof(der), 0x0abc);
	json_t *o;

	(void)state;
	msg[0] = 0;
	msg[1] = (uint8_t)((n + 3) >> 8);
	msg[2] = (uint8_t)(n + 3);
	msg[3] = 0;
	msg[4] = (uint8_t)(n >> 8);
	msg[5] = (uint8_t)n;
	memcpy(msg + 6, der, n);
	o = tls_certificate_json(msg, n + 6, false);
	assert_string_equal(json_string_value(json_object_get(o, "serial")), "abc");
	assert_int_equal(json_integer_value(json_object_get(o, "chain_length")), 1);
	json_decref(o);
	o = tls_certificate_json((const uint8_t *)"\0\0\0", 3, false);
	assert_int_equal(json_integer_value(json_object_get(o, "chain_length")), 0);
	assert_null(json_object_get(o, "error"));
	json_decref(o);
	msg[10] ^= 0xff; /* inside the DER's header */
	o = tls_certificate_json(msg, n + 6, false);
	assert_non_null(json_object_get(o, "error"));
	json_decref(o);
	o = tls_certificate_json(msg, 100, true);
	assert_non_null(json_object_get(o, "error"));
	json_decref(o);
}

/* ServerHello, Certificate (this certificate and a second one), ServerKeyExchange,
 * ServerHelloDone: a TLS 1.2 server's first flight. */
static void tls12_server_flight(struct buf *m, const char *alpn)
{
	uint8_t der[4096];
	size_t n = make_cert(der, sizeof(der)), at, c;

	m->n = 0;
	server_hello(m, &(struct server_opts){.cipher = 0xc02f, .alpn = alpn});
	put8(m, 11);
	at = begin(m, 3);
	c = begin(m, 3);
	put24(m, (unsigned)n);
	putn(m, der, n);
	put24(m, (unsigned)n);
	putn(m, der, n);
	patch_len(m, c, 3);
	patch_len(m, at, 3);
	hs_msg(m, 12, 100, 0x55);
	hs_msg(m, 14, 0, 0);
}

static void tls12_check(struct fx *f, size_t i)
{
	assert_str(f, i, "version", "1.2");
	assert_str(f, i, "response.cipher", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	assert_str(f, i, "response.alpn", "http/1.1");
	assert_str(f, i, "response.certificate.subject", "CN=www.example.test,O=Floe Test");
	assert_str(f, i, "response.certificate.issuer", "CN=www.example.test,O=Floe Test");
	assert_str(f, i, "response.certificate.not_before", "2026-01-01T00:00:00.000000000Z");
	assert_str(f, i, "response.certificate.not_after", "2027-03-15T12:00:00.000000000Z");
	assert_str(f, i, "response.certificate.serial", "1234abcd");
	assert_str(f, i, "response.certificate.san.1", "api.example.test");
	assert_str(f, i, "response.certificate.san.2", "10.0.0.2");
	assert_int_equal(iget(f, i, "response.certificate.chain_length"), 2);
	assert_true(json_is_false(jget(json_array_get(f->out, i), "response.resumed")));
	assert_true(json_is_true(jget(json_array_get(f->out, i), "established")));
}

/* The client's second flight and both Finished messages of a full TLS 1.2 handshake. */
static void tls12_finish(struct fx *f)
{
	struct buf m = {.n = 0};

	hs_msg(&m, 16, 66, 0x04); /* ClientKeyExchange */
	send_records(f, C2S, 22, &m);
	send_ccs(f, C2S);
	send_encrypted(f, C2S, 22, 40); /* Finished */
	m.n = 0;
	hs_msg(&m, 4, 200, 0x77); /* NewSessionTicket */
	send_records(f, S2C, 22, &m);
	send_ccs(f, S2C);
	assert_int_equal(n_entries(f), 0);
	send_encrypted(f, S2C, 22, 40);
}

static const uint16_t tls12_ciphers[] = {0xc02f, 0xc030, 0x009e, 0x00ff};
static const uint16_t tls12_exts[] = {0x0000, 0x000b, 0x000a, 0x0023, 0x000d, 0x0010};
static const struct hello_opts tls12_hello = {
    .ciphers = tls12_ciphers,
    .n_ciphers = 4,
    .exts = tls12_exts,
    .n_exts = 6,
    .sni = "www.example.test",
    .alpn = {"http/1.1"},
    .sigalgs = spec_sigalgs,
    .n_sigalgs = 2,
};

static void test_tls12_certificate(void **state)
{
	struct buf m, flight;
	struct fx f;

	(void)state;
	fx_open_tls(&f);
	client_hello(&m, &tls12_hello);
	send_records(&f, C2S, 22, &m);
	tls12_server_flight(&flight, "http/1.1");
	send_records(&f, S2C, 22, &flight);
	tls12_finish(&f);
	assert_int_equal(n_entries(&f), 1);
	tls12_check(&f, 0);
	assert_false(has(&f, 0, "request.versions"));
	/* GREASE only among the groups: noted, left out of JA3 */
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "request.grease")));
	/* Expected values computed apart (Python's hashlib over the strings written out). */
	assert_str(&f, 0, "request.ja3", "771,49199-49200-158-255,0-11-10-35-13-16,29-23,0");
	assert_str(&f, 0, "request.ja3_hash", "f9078b86df3413eb1405eff68df8a70b");
	assert_str(&f, 0, "request.ja4", "t12d0406h1_9c0314f64b5a_76614379002b");
	assert_str(&f, 0, "request.cipher_suites.3", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
	fx_free(&f);
}

/*
 * The same handshake with the ClientHello in records of 7 bytes and the server's flight in
 * records of 100, every byte its own segment: the same entry.
 */
static void test_fragmented(void **state)
{
	struct buf m, flight, r;
	size_t sizes[] = {7, 100, 1000};

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		struct fx f;
		size_t i;

		fx_open_tls(&f);
		client_hello(&m, &tls12_hello);
		r.n = 0;
		records(&r, 22, m.b, m.n, sizes[k]);
		for (i = 0; i < r.n; i++)
			fx_send(&f, C2S, r.b + i, 1);
		tls12_server_flight(&flight, "http/1.1");
		r.n = 0;
		records(&r, 22, flight.b, flight.n, sizes[2 - k]);
		for (i = 0; i < r.n; i += 3)
			fx_send(&f, S2C, r.b + i, r.n - i < 3 ? r.n - i : 3);
		tls12_finish(&f);
		assert_int_equal(n_entries(&f), 1);
		tls12_check(&f, 0);
		assert_str(&f, 0, "request.sni", "www.example.test");
		assert_int_equal(fx_stats(&f).parse_errors, 0);
		fx_free(&f);
	}
}

static void test_tls12_resumed(void **state)
{
	struct buf m;
	struct fx f;

	(void)state;
	fx_open_tls(&f);
	client_hello(&m, &(struct hello_opts){.ciphers = tls12_ciphers,
					      .n_ciphers = 4,
					      .exts = tls12_exts,
					      .n_exts = 6,
					      .sni = "a.test",
					      .session_id_len = 32,
					      .ticket = true});
	send_records(&f, C2S, 22, &m);
	m.n = 0;
	server_hello(&m, &(struct server_opts){.cipher = 0xc02f, .session_id_len = 32});
	send_records(&f, S2C, 22, &m);
	send_ccs(&f, S2C);
	send_encrypted(&f, S2C, 22, 40);
	send_ccs(&f, C2S);
	send_encrypted(&f, C2S, 22, 40);
	assert_int_equal(n_entries(&f), 1);
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "response.resumed")));
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "request.session_ticket")));
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "established")));
	assert_true(strstr(line_of(&f, 0), " resumed") != NULL);
	fx_free(&f);
}

static void test_tls13_psk_and_hrr(void **state)
{
	struct buf m;
	struct fx f;

	(void)state;
	/* PSK accepted: resumed. */
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	tls13_server_flight(&f, true);
	send_encrypted(&f, C2S, 23, 53);
	assert_int_equal(n_entries(&f), 1);
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "response.resumed")));
	assert_false(has(&f, 0, "response.alpn"));
	fx_free(&f);

	/* HelloRetryRequest, the client's CCS and second ClientHello, then the real answer. */
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	m.n = 0;
	server_hello(&m, &(struct server_opts){.version = 0x0304, .cipher = 0x1302, .hrr = true});
	send_records(&f, S2C, 22, &m);
	send_ccs(&f, S2C);
	send_ccs(&f, C2S);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	assert_int_equal(n_entries(&f), 0);
	m.n = 0;
	server_hello(&m, &(struct server_opts){.version = 0x0304, .cipher = 0x1302});
	send_records(&f, S2C, 22, &m);
	send_encrypted(&f, S2C, 23, 700);
	send_encrypted(&f, C2S, 23, 53);
	assert_int_equal(n_entries(&f), 1);
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "response.hello_retry")));
	assert_str(&f, 0, "response.cipher", "TLS_AES_256_GCM_SHA384");
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "established")));
	assert_int_equal(fx_stats(&f).parse_errors, 0);
	fx_free(&f);
}

static void test_fatal_alert(void **state)
{
	static const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
	struct buf m;
	struct fx f;

	(void)state;
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	fx_send(&f, S2C, alert, 4); /* the alert across two segments */
	fx_send(&f, S2C, alert + 4, sizeof(alert) - 4);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "response.alert", "handshake_failure");
	assert_str(&f, 0, "alerts.0.from", "server");
	assert_str(&f, 0, "alerts.0.level", "fatal");
	assert_str(&f, 0, "alerts.0.description", "handshake_failure");
	assert_int_equal(iget(&f, 0, "alerts.0.code"), 40);
	assert_true(json_is_false(jget(json_array_get(f.out, 0), "established")));
	assert_false(has(&f, 0, "missing"));
	assert_true(strstr(line_of(&f, 0), "alert handshake_failure") != NULL);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	fx_free(&f);
}

/* The capture begins at the ServerHello; and a connection that ends mid-handshake. */
static void test_partial(void **state)
{
	struct buf m;
	struct fx f;

	(void)state;
	fx_open_flow(&f, 4, 443, TCP_ROLE_PORT, NULL);
	tls13_server_flight(&f, false);
	send_encrypted(&f, C2S, 23, 53);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing", "request");
	assert_str(&f, 0, "missing_reason", "unsolicited");
	assert_str(&f, 0, "response.version", "1.3");
	fx_free(&f);

	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	fx_close(&f, TCP_CLOSE_RST);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "connection_reset");
	assert_str(&f, 0, "request.sni", "www.example.test");
	assert_true(json_is_false(jget(json_array_get(f.out, 0), "established")));
	fx_free(&f);

	/* A ClientHello cut by the end of the capture. */
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	{
		struct buf r = {.n = 0};

		records(&r, 22, m.b, m.n, 16384);
		fx_send(&f, C2S, r.b, r.n / 2);
	}
	fx_close(&f, TCP_CLOSE_END_OF_INPUT);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "incomplete", "request");
	assert_str(&f, 0, "missing_reason", "end_of_capture");
	fx_free(&f);
}

static void test_gaps(void **state)
{
	struct buf m, flight, r;
	struct fx f;

	(void)state;
	/* Inside the server's certificate record: the framing holds, the certificate is lost. */
	fx_open_tls(&f);
	client_hello(&m, &tls12_hello);
	send_records(&f, C2S, 22, &m);
	tls12_server_flight(&flight, "http/1.1");
	r.n = 0;
	records(&r, 22, flight.b, flight.n, 16384);
	fx_send(&f, S2C, r.b, 150);
	fx_gap(&f, S2C, 200);
	fx_send(&f, S2C, r.b + 350, r.n - 350);
	tls12_finish(&f);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "response.cipher", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	assert_false(has(&f, 0, "response.certificate"));
	assert_str(&f, 0, "incomplete", "response");
	assert_str(&f, 0, "missing_reason", "capture_gap");
	assert_true(json_is_true(jget(json_array_get(f.out, 0), "established")));
	fx_free(&f);

	/* Across records in TLS 1.3's encrypted flight: found again, nothing in clear lost. */
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	tls13_server_flight(&f, false);
	send_encrypted(&f, S2C, 23, 100);
	fx_gap(&f, S2C, 1000);
	send_encrypted(&f, S2C, 23, 100);
	send_encrypted(&f, S2C, 23, 100);
	send_encrypted(&f, C2S, 23, 53);
	assert_int_equal(n_entries(&f), 1);
	assert_false(has(&f, 0, "missing"));
	assert_int_equal(fx_counter(&f, "tls", "resyncs"), 1);
	fx_free(&f);

	/* Across the client's records before its Finished: resynchronised on later records. */
	fx_open_tls(&f);
	client_hello(&m, &tls12_hello);
	send_records(&f, C2S, 22, &m);
	send_records(&f, S2C, 22, &flight);
	m.n = 0;
	hs_msg(&m, 16, 66, 0x04);
	send_records(&f, C2S, 22, &m);
	fx_gap(&f, C2S, 10);
	fx_send(&f, C2S, "garbage", 7);
	send_ccs(&f, C2S);
	send_encrypted(&f, C2S, 22, 40);
	send_ccs(&f, S2C);
	send_encrypted(&f, S2C, 22, 40);
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing_reason", "capture_gap");
	fx_free(&f);
}

/* Bytes that stop being records: counted, the entry still comes at the end. */
static void test_not_records(void **state)
{
	struct buf m;
	struct fx f;
	char junk[200];

	(void)state;
	memset(junk, 'x', sizeof(junk));
	fx_open_tls(&f);
	client_hello(&m, &spec_hello);
	send_records(&f, C2S, 22, &m);
	fx_send(&f, C2S, junk, sizeof(junk));
	fx_close(&f, TCP_CLOSE_FIN);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing", "response");
	assert_true(fx_counter(&f, "tls", "malformed") >= 1);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ja4_spec_example),
	    cmocka_unit_test(test_ja4_alpn),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_tls13),
	    cmocka_unit_test(test_certificate),
	    cmocka_unit_test(test_tls12_certificate),
	    cmocka_unit_test(test_fragmented),
	    cmocka_unit_test(test_tls12_resumed),
	    cmocka_unit_test(test_tls13_psk_and_hrr),
	    cmocka_unit_test(test_fatal_alert),
	    cmocka_unit_test(test_partial),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_not_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
