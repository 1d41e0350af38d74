// SPDX-License-Identifier: Apache-2.0
/*
 * TLS hello messages and certificates in clear (tls_hello.h). Field layouts: RFC 8446 4.1.2
 * (ClientHello), 4.1.3 (ServerHello, HelloRetryRequest), 4.2 (extensions), RFC 5246 7.4.2
 * (Certificate), RFC 6066 3 (server_name), RFC 7301 (ALPN). MD5 and SHA-256 come from
 * libcrypto, the certificate's DER from its d2i_X509: a well-kept parser rather than another
 * hand-written ASN.1 reader (docs/tls-handshake.md).
 */
#include "dissect/tls_hello.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dissect/byte_reader.h"
#include "dissect/tls_names.h"

enum {
	EXT_SERVER_NAME = 0x0000,
	EXT_SUPPORTED_GROUPS = 0x000a,
	EXT_EC_POINT_FORMATS = 0x000b,
	EXT_SIGNATURE_ALGORITHMS = 0x000d,
	EXT_ALPN = 0x0010,
	EXT_SESSION_TICKET = 0x0023,
	EXT_PRE_SHARED_KEY = 0x0029,
	EXT_EARLY_DATA = 0x002a,
	EXT_SUPPORTED_VERSIONS = 0x002b,
};

/* RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello with this random. */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* Append v to a list of at most TLS_LIST_MAX (GREASE left out and noted). */
static void list_add16(struct tls_client_hello *ch, uint16_t *list, size_t *n, uint16_t v)
{
	if (tls_is_grease(v)) {
		ch->grease = true;
		return;
	}
	if (*n < TLS_LIST_MAX)
		list[(*n)++] = v;
	else
		ch->truncated = true;
}

/* A list of 16-bit values after a length of lenlen bytes. */
static void read_list16(struct byte_reader *r, unsigned lenlen, struct tls_client_hello *ch,
			uint16_t *list, size_t *n)
{
	struct byte_reader l;

	br_sub(r, br_be(r, lenlen), &l);
	if (br_left(&l) % 2)
		br_bad(r, "odd length of a list of 16-bit values");
	while (br_ok(&l) && br_left(&l) >= 2)
		list_add16(ch, list, n, br_u16(&l));
	if (!br_ok(&l) && br_ok(r))
		br_bad(r, "list past its extension");
}

static void client_ext(struct tls_client_hello *ch, uint16_t type, struct byte_reader *x)
{
	struct byte_reader l;

	switch (type) {
	case EXT_SERVER_NAME:
		ch->has_sni = true;
		br_sub(x, br_u16(x), &l);
		while (br_ok(&l) && br_left(&l) >= 3) {
			uint8_t kind = br_u8(&l);
			uint16_t len = br_u16(&l);
			const uint8_t *name = br_bytes(&l, len);

			if (name && kind == 0 && !ch->sni[0]) {
				size_t k = len < sizeof(ch->sni) - 1 ? len : sizeof(ch->sni) - 1;

				for (size_t i = 0; i < k;
				     i++) /* a host name is ASCII (RFC 6066 3) */
					ch->sni[i] =
					    name[i] >= 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
				ch->sni[k] = 0;
			}
		}
		break;
	case EXT_ALPN:
		ch->has_alpn = true;
		br_sub(x, br_u16(x), &l);
		if (br_ok(&l)) {
			ch->alpn = l.p;
			ch->alpn_len = l.n;
		}
		break;
	case EXT_SUPPORTED_VERSIONS:
		ch->has_versions = true;
		read_list16(x, 1, ch, ch->versions, &ch->n_versions);
		break;
	case EXT_SUPPORTED_GROUPS:
		read_list16(x, 2, ch, ch->groups, &ch->n_groups);
		break;
	case EXT_SIGNATURE_ALGORITHMS:
		read_list16(x, 2, ch, ch->sigalgs, &ch->n_sigalgs);
		break;
	case EXT_EC_POINT_FORMATS:
		br_sub(x, br_u8(x), &l);
		while (br_ok(&l) && br_left(&l)) {
			uint8_t v = br_u8(&l);

			if (ch->n_point_formats < TLS_LIST_MAX)
				ch->point_formats[ch->n_point_formats++] = v;
			else
				ch->truncated = true;
		}
		break;
	case EXT_SESSION_TICKET:
		ch->session_ticket = br_left(x) > 0;
		break;
	case EXT_PRE_SHARED_KEY:
		ch->psk = true;
		break;
	case EXT_EARLY_DATA:
		ch->early_data = true;
		break;
	}
}

int tls_client_hello_parse(const uint8_t *p, size_t n, struct tls_client_hello *ch,
			   const char **why)
{
	struct byte_reader r, l;

	memset(ch, 0, sizeof(*ch));
	br_init(&r, p, n);
	ch->legacy_version = br_u16(&r);
	br_skip(&r, 32); /* random */
	ch->session_id_len = br_u8(&r);
	if (ch->session_id_len > 32)
		br_bad(&r, "session id longer than 32 bytes");
	else if (br_need(&r, ch->session_id_len))
		memcpy(ch->session_id, br_bytes(&r, ch->session_id_len), ch->session_id_len);
	br_sub(&r, br_u16(&r), &l);
	if (br_left(&l) % 2)
		br_bad(&r, "odd length of the cipher suites");
	while (br_ok(&l) && br_left(&l) >= 2)
		list_add16(ch, ch->ciphers, &ch->n_ciphers, br_u16(&l));
	br_skip(&r, br_u8(&r)); /* compression methods */
	if (br_ok(&r) && br_left(&r)) {
		struct byte_reader exts;

		br_sub(&r, br_u16(&r), &exts);
		while (br_ok(&r) && br_ok(&exts) && br_left(&exts)) {
			uint16_t type = br_u16(&exts);
			struct byte_reader x;

			br_sub(&exts, br_u16(&exts), &x);
			if (!br_ok(&exts))
				break;
			list_add16(ch, ch->exts, &ch->n_exts, type);
			client_ext(ch, type, &x);
			if (!br_ok(&x) && br_ok(&r))
				br_bad(&r, "malformed extension");
		}
		if (!br_ok(&exts) && br_ok(&r))
			br_bad(&r, "extensions past the message");
	}
	if (br_ok(&r))
		return 0;
	*why = r.st == BR_SHORT ? "ClientHello shorter than its fields" : r.why;
	return -EBADMSG;
}

/* ---- fingerprints ---- */

static void hex_digest(const EVP_MD *md, const char *s, char *out, size_t hex_len)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t i;

	if (!EVP_Digest(s, strlen(s), d, &len, md, NULL))
		len = 0;
	for (i = 0; i < hex_len && i / 2 < len; i++)
		out[i] = "0123456789abcdef"[i % 2 ? d[i / 2] & 15 : d[i / 2] >> 4];
	out[i] = 0;
}

/* snprintf-like appending that never overflows (the result is cut). */
struct sbuf {
	char *p;
	size_t size, len;
};

static void sb_printf(struct sbuf *b, const char *fmt, unsigned v)
{
	int k;

	if (b->len >= b->size)
		return;
	k = snprintf(b->p + b->len, b->size - b->len, fmt, v);
	if (k > 0)
		b->len = b->len + (size_t)k < b->size ? b->len + (size_t)k : b->size - 1;
}

static void sb_list16(struct sbuf *b, const uint16_t *v, size_t n, const char *fmt, char sep)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_printf(b, "%c", (unsigned)sep);
		sb_printf(b, fmt, v[i]);
	}
}

void tls_ja3(const struct tls_client_hello *ch, char *str, size_t size, char md5[33])
{
	struct sbuf b = {str, size, 0};

	str[0] = 0;
	sb_printf(&b, "%u,", ch->legacy_version);
	sb_list16(&b, ch->ciphers, ch->n_ciphers, "%u", '-');
	sb_printf(&b, ",", 0);
	sb_list16(&b, ch->exts, ch->n_exts, "%u", '-');
	sb_printf(&b, ",", 0);
	sb_list16(&b, ch->groups, ch->n_groups, "%u", '-');
	sb_printf(&b, ",", 0);
	for (size_t i = 0; i < ch->n_point_formats; i++)
		sb_printf(&b, i ? "-%u" : "%u", ch->point_formats[i]);
	hex_digest(EVP_md5(), str, md5, 32);
}

static int cmp16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static const char *ja4_version(const struct tls_client_hello *ch)
{
	uint16_t v = ch->legacy_version;

	if (ch->n_versions) {
		v = 0;
		for (size_t i = 0; i < ch->n_versions; i++)
			if (ch->versions[i] > v)
				v = ch->versions[i];
	}
	switch (v) {
	case 0x0304:
		return "13";
	case 0x0303:
		return "12";
	case 0x0302:
		return "11";
	case 0x0301:
		return "10";
	case 0x0300:
		return "s3";
	case 0x0002:
		return "s2";
	case 0xfeff:
		return "d1";
	case 0xfefd:
		return "d2";
	case 0xfefc:
		return "d3";
	}
	return "00";
}

static bool alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* JA4's ALPN part: the first protocol's first and last characters (JA4.md). */
static void ja4_alpn(const struct tls_client_hello *ch, char out[3])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t first, last;
	size_t len;

	out[0] = out[1] = '0';
	out[2] = 0;
	if (!ch->alpn || ch->alpn_len < 2 || !ch->alpn[0] || ch->alpn[0] > ch->alpn_len - 1)
		return;
	len = ch->alpn[0];
	first = ch->alpn[1];
	last = ch->alpn[len];
	if (alnum(first) && alnum(last)) {
		out[0] = (char)first;
		out[1] = (char)last;
	} else {
		out[0] = hex[first >> 4];
		out[1] = hex[last & 15];
	}
}

void tls_ja4(const struct tls_client_hello *ch, char ja4[40], char *raw, size_t raw_size)
{
	uint16_t ciphers[TLS_LIST_MAX], exts[TLS_LIST_MAX];
	size_t nc = ch->n_ciphers, ne = 0, i;
	char a[16], alpn[3], hb[13], hc[13];
	/* The longest list: TLS_LIST_MAX values of 5 characters, two lists and the sigalgs. */
	char lb[3 * TLS_LIST_MAX * 5 + 64], lc[3 * TLS_LIST_MAX * 5 + 64];
	struct sbuf b = {lb, sizeof(lb), 0}, c = {lc, sizeof(lc), 0};

	memcpy(ciphers, ch->ciphers, nc * sizeof(ciphers[0]));
	for (i = 0; i < ch->n_exts; i++)
		if (ch->exts[i] != EXT_SERVER_NAME && ch->exts[i] != EXT_ALPN)
			exts[ne++] = ch->exts[i];
	qsort(ciphers, nc, sizeof(ciphers[0]), cmp16);
	qsort(exts, ne, sizeof(exts[0]), cmp16);
	ja4_alpn(ch, alpn);
	snprintf(a, sizeof(a), "t%s%c%02zu%02zu%s", ja4_version(ch), ch->has_sni ? 'd' : 'i',
		 nc > 99 ? 99 : nc, ch->n_exts > 99 ? 99 : ch->n_exts, alpn);
	lb[0] = lc[0] = 0;
	sb_list16(&b, ciphers, nc, "%04x", ',');
	sb_list16(&c, exts, ne, "%04x", ',');
	if (ch->n_sigalgs) {
		sb_printf(&c, "_", 0);
		sb_list16(&c, ch->sigalgs, ch->n_sigalgs, "%04x", ',');
	}
	if (nc)
		hex_digest(EVP_sha256(), lb, hb, 12);
	else
		strcpy(hb, "000000000000");
	if (ne)
		hex_digest(EVP_sha256(), lc, hc, 12);
	else
		strcpy(hc, "000000000000");
	snprintf(ja4, 40, "%s_%s_%s", a, hb, hc);
	if (raw_size)
		snprintf(raw, raw_size, "%s_%s_%s", a, lb, lc);
}

/* ---- JSON ---- */

json_t *tls_alpn_string(const uint8_t *p, size_t n)
{
	char buf[4 * 255 + 1];
	size_t k = 0;

	for (size_t i = 0; i < n && i < 255; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			buf[k++] = (char)p[i];
		else
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "\\x%02x", p[i]);
	}
	buf[k] = 0;
	return json_string(buf);
}

static json_t *version_json(uint16_t v)
{
	const char *name = tls_version_name(v);
	char hex[8];

	if (name)
		return json_string(name);
	snprintf(hex, sizeof(hex), "0x%04x", v);
	return json_string(hex);
}

json_t *tls_client_hello_json(const struct tls_client_hello *ch)
{
	json_t *o = json_object(), *a;
	char ja3[TLS_LIST_MAX * 4 * 6 + 64], md5[33], ja4[40], ja4r[3 * TLS_LIST_MAX * 5 + 96];
	size_t i;

	if (!o)
		return NULL;
	if (ch->has_sni)
		json_object_set_new(o, "sni", json_string(ch->sni));
	if (ch->has_alpn) {
		a = json_array();
		for (i = 0; a && ch->alpn && i + 1 <= ch->alpn_len;) {
			size_t len = ch->alpn[i];

			if (i + 1 + len > ch->alpn_len || json_array_size(a) >= TLS_ALPN_MAX)
				break;
			json_array_append_new(a, tls_alpn_string(ch->alpn + i + 1, len));
			i += 1 + len;
		}
		json_object_set_new(o, "alpn", a);
	}
	if (ch->has_versions) {
		a = json_array();
		for (i = 0; a && i < ch->n_versions; i++)
			json_array_append_new(a, version_json(ch->versions[i]));
		json_object_set_new(o, "versions", a);
	}
	json_object_set_new(o, "legacy_version", version_json(ch->legacy_version));
	a = json_array();
	for (i = 0; a && i < ch->n_ciphers; i++) {
		const char *name = tls_cipher_name(ch->ciphers[i]);
		char hex[8];

		snprintf(hex, sizeof(hex), "0x%04x", ch->ciphers[i]);
		json_array_append_new(a, json_string(name ? name : hex));
	}
	json_object_set_new(o, "cipher_suites", a);
	if (ch->grease)
		json_object_set_new(o, "grease", json_true());
	if (ch->session_ticket)
		json_object_set_new(o, "session_ticket", json_true());
	if (ch->psk)
		json_object_set_new(o, "psk", json_true());
	if (ch->early_data)
		json_object_set_new(o, "early_data", json_true());
	tls_ja3(ch, ja3, sizeof(ja3), md5);
	tls_ja4(ch, ja4, ja4r, sizeof(ja4r));
	json_object_set_new(o, "ja3", json_string(ja3));
	json_object_set_new(o, "ja3_hash", json_string(md5));
	json_object_set_new(o, "ja4", json_string(ja4));
	json_object_set_new(o, "ja4_r", json_string(ja4r));
	if (ch->truncated)
		json_object_set_new(o, "fingerprint_truncated", json_true());
	return o;
}

int tls_server_hello_parse(const uint8_t *p, size_t n, struct tls_server_hello *sh,
			   const char **why)
{
	struct byte_reader r;
	const uint8_t *random;

	memset(sh, 0, sizeof(*sh));
	br_init(&r, p, n);
	sh->legacy_version = sh->version = br_u16(&r);
	random = br_bytes(&r, 32);
	sh->hello_retry = random && !memcmp(random, hrr_random, 32);
	sh->session_id_len = br_u8(&r);
	if (sh->session_id_len > 32)
		br_bad(&r, "session id longer than 32 bytes");
	else if (br_need(&r, sh->session_id_len))
		memcpy(sh->session_id, br_bytes(&r, sh->session_id_len), sh->session_id_len);
	sh->cipher = br_u16(&r);
	br_u8(&r); /* compression method */
	if (br_ok(&r) && br_left(&r)) {
		struct byte_reader exts;

		br_sub(&r, br_u16(&r), &exts);
		while (br_ok(&r) && br_ok(&exts) && br_left(&exts)) {
			uint16_t type = br_u16(&exts);
			struct byte_reader x, l;

			br_sub(&exts, br_u16(&exts), &x);
			if (type == EXT_SUPPORTED_VERSIONS && br_left(&x) == 2)
				sh->version = br_u16(&x);
			else if (type == EXT_PRE_SHARED_KEY)
				sh->psk = true;
			else if (type == EXT_ALPN) {
				br_sub(&x, br_u16(&x), &l);
				if (br_ok(&l) && br_left(&l) >= 1 && l.p[0] + 1u <= l.n) {
					sh->alpn = l.p + 1;
					sh->alpn_len = l.p[0];
				}
			}
		}
		if (!br_ok(&exts) && br_ok(&r))
			br_bad(&r, "extensions past the message");
	}
	if (br_ok(&r))
		return 0;
	*why = r.st == BR_SHORT ? "ServerHello shorter than its fields" : r.why;
	return -EBADMSG;
}

/* ---- certificates ---- */

static json_t *name_json(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	json_t *s = NULL;
	char *text;
	long len;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &text);
		s = json_stringn(text, len > 0 ? (size_t)len : 0);
		if (!s) /* not UTF-8 after all */
			s = json_string("(not UTF-8)");
	}
	BIO_free(b);
	return s;
}

static json_t *time_json(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[48];

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return NULL;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.000000000Z", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return json_string(buf);
}

static json_t *serial_json(const ASN1_INTEGER *i)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(i, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	json_t *s = NULL;

	if (hex) {
		char *digits = hex + (*hex == '-'), *h = digits;

		for (char *c = hex; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
		while (h[0] == '0' && h[1]) /* the number, without BN_bn2hex's byte padding */
			h++;
		memmove(digits, h, strlen(h) + 1);
		s = json_string(hex);
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return s;
}

static json_t *san_json(X509 *x)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	json_t *a;
	int i;

	if (!names)
		return NULL;
	a = json_array();
	for (i = 0; a && i < sk_GENERAL_NAME_num(names) && json_array_size(a) < TLS_SAN_MAX; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char ip[INET6_ADDRSTRLEN];

		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;

			json_array_append_new(a, tls_alpn_string(s->data, (size_t)s->length));
		} else if (g->type == GEN_IPADD &&
			   (g->d.iPAddress->length == 4 || g->d.iPAddress->length == 16) &&
			   inet_ntop(g->d.iPAddress->length == 4 ? AF_INET : AF_INET6,
				     g->d.iPAddress->data, ip, sizeof(ip))) {
			json_array_append_new(a, json_string(ip));
		}
	}
	GENERAL_NAMES_free(names);
	return a;
}

json_t *tls_certificate_json(const uint8_t *p, size_t n, bool cut)
{
	struct byte_reader r, list;
	json_t *o = json_object();
	const unsigned char *der;
	size_t chain = 0, first_len = 0;
	const uint8_t *first = NULL;
	X509 *x;

	if (!o)
		return NULL;
	br_init(&r, p, n);
	br_sub(&r, br_be(&r, 3), &list);
	if (cut && list.st == BR_SHORT) /* what is there of the list */
		br_init(&list, p + 3, n >= 3 ? n - 3 : 0);
	while (br_ok(&list) && br_left(&list) >= 3) {
		uint32_t len = (uint32_t)br_be(&list, 3);
		const uint8_t *c = br_bytes(&list, len);

		if (!c)
			break;
		if (!chain++) {
			first = c;
			first_len = len;
		}
	}
	json_object_set_new(o, "chain_length", json_integer((json_int_t)chain));
	if (!first) { /* a client without a certificate answers with an empty list */
		if (!br_ok(&r) || cut)
			json_object_set_new(o, "error", json_string("message cut or malformed"));
		return o;
	}
	der = first;
	x = d2i_X509(NULL, &der, (long)first_len);
	if (!x) {
		json_object_set_new(o, "error", json_string("certificate DER did not parse"));
		return o;
	}
	json_object_set_new(o, "subject", name_json(X509_get_subject_name(x)));
	json_object_set_new(o, "issuer", name_json(X509_get_issuer_name(x)));
	json_object_set_new(o, "not_before", time_json(X509_get0_notBefore(x)));
	json_object_set_new(o, "not_after", time_json(X509_get0_notAfter(x)));
	json_object_set_new(o, "serial", serial_json(X509_get0_serialNumber(x)));
	json_object_set_new(o, "san", san_json(x));
	X509_free(x);
	return o;
}
