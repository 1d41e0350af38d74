// SPDX-License-Identifier: Apache-2.0
/*
 * DNS message parser: wire form to JSON. See dns_message.h for the contract and docs/dns.md
 * for the fields and why this is not libldns.
 */
#include "dissect/dns_message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dissect/byte_reader.h"
#include "entry/entry.h"
#include "entry/hash.h"

/* ---- numbers and names ---- */

struct num_name {
	uint16_t num;
	const char *name;
};

/* IANA "Resource Record (RR) TYPEs" (mnemonics as registered). */
static const struct num_name types[] = {
    {1, "A"},		{2, "NS"},	{3, "MD"},	   {4, "MF"},	     {5, "CNAME"},
    {6, "SOA"},		{7, "MB"},	{8, "MG"},	   {9, "MR"},	     {10, "NULL"},
    {11, "WKS"},	{12, "PTR"},	{13, "HINFO"},	   {14, "MINFO"},    {15, "MX"},
    {16, "TXT"},	{17, "RP"},	{18, "AFSDB"},	   {19, "X25"},	     {20, "ISDN"},
    {21, "RT"},		{22, "NSAP"},	{23, "NSAP-PTR"},  {24, "SIG"},	     {25, "KEY"},
    {26, "PX"},		{27, "GPOS"},	{28, "AAAA"},	   {29, "LOC"},	     {30, "NXT"},
    {31, "EID"},	{32, "NIMLOC"}, {33, "SRV"},	   {34, "ATMA"},     {35, "NAPTR"},
    {36, "KX"},		{37, "CERT"},	{38, "A6"},	   {39, "DNAME"},    {40, "SINK"},
    {41, "OPT"},	{42, "APL"},	{43, "DS"},	   {44, "SSHFP"},    {45, "IPSECKEY"},
    {46, "RRSIG"},	{47, "NSEC"},	{48, "DNSKEY"},	   {49, "DHCID"},    {50, "NSEC3"},
    {51, "NSEC3PARAM"}, {52, "TLSA"},	{53, "SMIMEA"},	   {55, "HIP"},	     {56, "NINFO"},
    {57, "RKEY"},	{58, "TALINK"}, {59, "CDS"},	   {60, "CDNSKEY"},  {61, "OPENPGPKEY"},
    {62, "CSYNC"},	{63, "ZONEMD"}, {64, "SVCB"},	   {65, "HTTPS"},    {66, "DSYNC"},
    {99, "SPF"},	{100, "UINFO"}, {101, "UID"},	   {102, "GID"},     {103, "UNSPEC"},
    {104, "NID"},	{105, "L32"},	{106, "L64"},	   {107, "LP"},	     {108, "EUI48"},
    {109, "EUI64"},	{249, "TKEY"},	{250, "TSIG"},	   {251, "IXFR"},    {252, "AXFR"},
    {253, "MAILB"},	{254, "MAILA"}, {255, "ANY"},	   {256, "URI"},     {257, "CAA"},
    {258, "AVC"},	{259, "DOA"},	{260, "AMTRELAY"}, {261, "RESINFO"}, {262, "WALLET"},
    {32768, "TA"},	{32769, "DLV"},
};

static const char *table_name(const struct num_name *t, size_t n, unsigned v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) { /* sorted by number */
		size_t mid = (lo + hi) / 2;

		if (t[mid].num == v)
			return t[mid].name;
		if (t[mid].num < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *dns_type_name(uint16_t type, char buf[16])
{
	const char *s = table_name(types, sizeof(types) / sizeof(types[0]), type);

	if (s)
		return s;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

const char *dns_class_name(uint16_t cls, char buf[16])
{
	switch (cls) {
	case 1:
		return "IN";
	case 3:
		return "CH";
	case 4:
		return "HS";
	case 254:
		return "NONE";
	case 255:
		return "ANY";
	}
	snprintf(buf, 16, "CLASS%u", cls);
	return buf;
}

/* RFC 6895 and the IANA DNS RCODEs registry (16 is BADVERS in OPT, BADSIG in TSIG). */
const char *dns_rcode_name(unsigned rcode, char buf[16])
{
	static const char *const names[] = {
	    "NOERROR",	"FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",   "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",  "DSOTYPENI",
	    NULL,	NULL,	   NULL,       NULL,	   "BADVERS",  "BADKEY",
	    "BADTIME",	"BADMODE", "BADNAME",  "BADALG",   "BADTRUNC", "BADCOOKIE",
	};

	if (rcode < sizeof(names) / sizeof(names[0]) && names[rcode])
		return names[rcode];
	snprintf(buf, 16, "RCODE%u", rcode);
	return buf;
}

const char *dns_opcode_name(unsigned opcode, char buf[16])
{
	static const char *const names[] = {"QUERY",  "IQUERY", "STATUS", NULL,
					    "NOTIFY", "UPDATE", "DSO"};

	if (opcode < sizeof(names) / sizeof(names[0]) && names[opcode])
		return names[opcode];
	snprintf(buf, 16, "OPCODE%u", opcode);
	return buf;
}

static const struct num_name edns_options[] = {
    {1, "llq"},
    {2, "update_lease"},
    {3, "nsid"},
    {5, "dau"},
    {6, "dhu"},
    {7, "n3u"},
    {8, "client_subnet"},
    {9, "expire"},
    {10, "cookie"},
    {11, "tcp_keepalive"},
    {12, "padding"},
    {13, "chain"},
    {14, "key_tag"},
    {15, "extended_error"},
    {16, "client_tag"},
    {17, "server_tag"},
    {18, "report_channel"},
    {19, "zoneversion"},
    {20292, "umbrella_ident"},
    {26946, "device_id"},
};

/* RFC 8914 extended DNS error codes. */
static const char *const ede_names[] = {
    "Other Error",
    "Unsupported DNSKEY Algorithm",
    "Unsupported DS Digest Type",
    "Stale Answer",
    "Forged Answer",
    "DNSSEC Indeterminate",
    "DNSSEC Bogus",
    "Signature Expired",
    "Signature Not Yet Valid",
    "DNSKEY Missing",
    "RRSIGs Missing",
    "No Zone Key Bit Set",
    "NSEC Missing",
    "Cached Error",
    "Not Ready",
    "Blocked",
    "Censored",
    "Filtered",
    "Prohibited",
    "Stale NXDomain Answer",
    "Not Authoritative",
    "Not Supported",
    "No Reachable Authority",
    "Network Error",
    "Invalid Data",
    "Signature Expired before Valid",
    "Too Early",
    "Unsupported NSEC3 Iterations Value",
    "Unable to conform to policy",
    "Synthesized",
    "Invalid Query Type",
};

/* ---- header ---- */

void dns_header_read(const uint8_t *p, struct dns_header *h)
{
	int i;

	h->id = be16_at(p);
	h->qr = p[2] & 0x80;
	h->opcode = (p[2] >> 3) & 0xf;
	h->aa = p[2] & 0x04;
	h->tc = p[2] & 0x02;
	h->rd = p[2] & 0x01;
	h->ra = p[3] & 0x80;
	h->z = p[3] & 0x40;
	h->ad = p[3] & 0x20;
	h->cd = p[3] & 0x10;
	h->rcode = p[3] & 0xf;
	for (i = 0; i < 4; i++)
		h->count[i] = be16_at(p + 4 + 2 * i);
}

/* ---- names ---- */

static const char E_NAME_END[] = "name runs past the end of the message";
static const char E_NAME_LONG[] = "name longer than 255 bytes";
static const char E_POINTER[] = "compression pointer does not point backwards (loop or "
				"forward pointer)";
static const char E_HOPS[] = "too many compression pointers in one name";
/* A length byte of 64..191 is a label over 63 bytes, or the unused label types 01/10. */
static const char E_LABEL[] = "label longer than 63 bytes (label type 01 or 10)";

static size_t put_label(char *out, size_t o, const uint8_t *l, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t b = l[i];

		if (b == '.' || b == '\\') {
			out[o++] = '\\';
			out[o++] = (char)b;
		} else if (b > 0x20 && b < 0x7f) {
			out[o++] = (char)b;
		} else { /* like dig: \DDD, so the text is ASCII */
			out[o++] = '\\';
			out[o++] = (char)('0' + b / 100);
			out[o++] = (char)('0' + b / 10 % 10);
			out[o++] = (char)('0' + b % 10);
		}
	}
	return o;
}

const char *dns_name_read(const uint8_t *p, size_t n, size_t off, size_t *next,
			  char text[DNS_NAME_TEXT_MAX], size_t *text_len)
{
	size_t pos = off, seg_start = off, wire = 0, o = 0;
	unsigned hops = 0;
	bool jumped = false;

	for (;;) {
		uint8_t len;

		if (pos >= n)
			return E_NAME_END;
		len = p[pos];
		if ((len & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= n)
				return E_NAME_END;
			target = (size_t)(len & 0x3f) << 8 | p[pos + 1];
			/* Strictly before the segment being read: every hop goes back, so no
			 * loop is possible; the hop bound is a second fence. */
			if (target >= seg_start)
				return E_POINTER;
			if (++hops > DNS_POINTER_HOPS_MAX)
				return E_HOPS;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = seg_start = target;
			continue;
		}
		if (len > DNS_LABEL_MAX)
			return E_LABEL;
		wire += (size_t)len + 1;
		if (wire > DNS_NAME_WIRE_MAX)
			return E_NAME_LONG;
		if (!len)
			break;
		if (pos + 1 + len > n)
			return E_NAME_END;
		if (o)
			text[o++] = '.';
		o = put_label(text, o, p + pos + 1, len);
		pos += 1 + (size_t)len;
	}
	if (!jumped)
		*next = pos + 1;
	if (!o)
		text[o++] = '.';
	text[o] = 0;
	if (text_len)
		*text_len = o;
	return NULL;
}

uint64_t dns_question_hash(const char *name, size_t len, uint16_t type, uint16_t cls)
{
	uint64_t h = FNV1A64_INIT;

	for (size_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)name[i];

		if (b >= 'A' && b <= 'Z')
			b += 32;
		h = fnv1a64_byte(h, b); /* names compare case-insensitively */
	}
	h = fnv1a64_byte(h, type >> 8);
	h = fnv1a64_byte(h, type & 0xff);
	h = fnv1a64_byte(h, cls >> 8);
	return fnv1a64_byte(h, cls & 0xff);
}

/* ---- the parse ---- */

struct parse {
	const uint8_t *p;
	size_t n;
	const struct dns_limits *lim;
	struct dns_summary *sum;
	json_t *msg; /* NULL: walk only */
	bool nomem;
};

/*
 * Reader over one record's rdata: [br.off, br.n) of the message (br.p is the whole message,
 * for compressed names). br failing means the rdata did not fit the type's layout.
 */
struct rd {
	struct parse *ps;
	struct byte_reader br;
	bool truncated; /* a value was cut at value_max */
};

static struct rd rd_at(struct parse *ps, size_t off, size_t end)
{
	struct rd r = {.ps = ps};

	br_init(&r.br, ps->p, end);
	r.br.off = off;
	return r;
}

static void jset(struct parse *ps, json_t *o, const char *k, json_t *v)
{
	if (!v || json_object_set_new(o, k, v))
		ps->nomem = true;
}

static void jappend(struct parse *ps, json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v))
		ps->nomem = true;
}

static bool rd_need(struct rd *r, size_t k)
{
	return br_need(&r->br, k);
}

#define rd_u8(r)  br_u8(&(r)->br)
#define rd_u16(r) br_u16(&(r)->br)
#define rd_u32(r) br_u32(&(r)->br)

static void rd_int(struct rd *r, json_t *o, const char *k, json_int_t v)
{
	if (br_ok(&r->br))
		jset(r->ps, o, k, json_integer(v));
}

/* A domain name inside the rdata (compression allowed: receivers must accept it). */
static void rd_name(struct rd *r, json_t *o, const char *k)
{
	char text[DNS_NAME_TEXT_MAX];
	size_t next = 0, len;

	if (!br_ok(&r->br))
		return;
	if (dns_name_read(r->ps->p, r->br.n, r->br.off, &next, text, &len) || next > r->br.n) {
		br_bad(&r->br, "rdata layout");
		return;
	}
	r->br.off = next;
	jset(r->ps, o, k, json_stringn(text, len));
}

static json_t *hex_json(struct rd *r, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t max = r->ps->lim->value_max, i;
	char *s;
	json_t *j;

	if (max && n > max) {
		n = max;
		r->truncated = true;
	}
	s = malloc(n * 2 + 1);
	if (!s)
		return NULL;
	for (i = 0; i < n; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	j = json_stringn_nocheck(s, n * 2);
	free(s);
	return j;
}

/* k bytes (or the rest when k == SIZE_MAX) as hex / base64 / text. */
static void rd_bytes(struct rd *r, json_t *o, const char *key, size_t k, char how)
{
	const uint8_t *b;
	size_t max = r->ps->lim->value_max;

	if (k == SIZE_MAX)
		k = !br_ok(&r->br) ? 0 : r->br.n - r->br.off;
	if (!rd_need(r, k))
		return;
	b = r->ps->p + r->br.off;
	r->br.off += k;
	if (how == 'h') {
		jset(r->ps, o, key, hex_json(r, b, k));
		return;
	}
	if (max && k > max) {
		k = max;
		r->truncated = true;
	}
	jset(r->ps, o, key, how == 'b' ? entry_json_base64(b, k) : entry_json_text(b, k));
}

/* <character-string>: a length byte and that many bytes, as text. */
static json_t *rd_charstr(struct rd *r)
{
	size_t len = rd_u8(r), max = r->ps->lim->value_max;
	const uint8_t *b;

	if (!rd_need(r, len))
		return NULL;
	b = r->ps->p + r->br.off;
	r->br.off += len;
	if (max && len > max) {
		len = max;
		r->truncated = true;
	}
	return entry_json_text(b, len);
}

static void rd_charstr_set(struct rd *r, json_t *o, const char *k)
{
	json_t *v = rd_charstr(r);

	if (v)
		jset(r->ps, o, k, v);
}

/* NSEC/NSEC3/CSYNC type bitmap (RFC 4034 4.1.2) as type names. */
static void rd_type_bitmap(struct rd *r, json_t *o, const char *k)
{
	json_t *a = json_array();
	char buf[16];

	if (!a) {
		r->ps->nomem = true;
		return;
	}
	while (br_ok(&r->br) && r->br.off < r->br.n) {
		unsigned win = rd_u8(r), len = rd_u8(r), i, bit;

		if (!len || len > 32 || !rd_need(r, len))
			br_bad(&r->br, "rdata layout");
		if (!br_ok(&r->br))
			break;
		for (i = 0; i < len; i++)
			for (bit = 0; bit < 8; bit++)
				if (r->ps->p[r->br.off + i] & (0x80 >> bit))
					jappend(r->ps, a,
						json_string(dns_type_name(
						    (uint16_t)(win * 256 + i * 8 + bit), buf)));
		r->br.off += len;
	}
	jset(r->ps, o, k, a);
}

static void rd_addr(struct rd *r, json_t *o, const char *k, int family)
{
	char s[INET6_ADDRSTRLEN];
	size_t len = family == AF_INET ? 4 : 16;

	if (!rd_need(r, len))
		return;
	inet_ntop(family, r->ps->p + r->br.off, s, sizeof(s));
	r->br.off += len;
	jset(r->ps, o, k, json_string(s));
}

/* RFC 4034 Appendix B (algorithm 1 has its own rule, in the key's last bytes). */
static unsigned key_tag(const uint8_t *rdata, size_t n)
{
	uint32_t ac = 0;
	size_t i;

	if (n >= 4 && rdata[3] == 1)
		return n >= 3 ? be16_at(rdata + n - 3) : 0;
	for (i = 0; i < n; i++)
		ac += (i & 1) ? rdata[i] : (uint32_t)rdata[i] << 8;
	ac += (ac >> 16) & 0xffff;
	return ac & 0xffff;
}

/* RRSIG times: "YYYYMMDDHHmmSS" UTC (RFC 4034 3.2; serial number arithmetic ignored). */
static json_t *sig_time(uint32_t t)
{
	time_t s = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&s, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return json_string(buf);
}

static void base32hex(struct rd *r, json_t *o, const char *k, size_t len)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	const uint8_t *b;
	char out[340]; /* 255 bytes -> 408 bits -> 82 characters, with room */
	size_t i, o2 = 0;
	unsigned acc = 0, bits = 0;

	if (!rd_need(r, len))
		return;
	b = r->ps->p + r->br.off;
	r->br.off += len;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | b[i];
		bits += 8;
		while (bits >= 5) {
			out[o2++] = digits[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits)
		out[o2++] = digits[(acc << (5 - bits)) & 31];
	jset(r->ps, o, k, json_stringn(out, o2));
}

/* SVCB/HTTPS SvcParams (RFC 9460 14.3.2). */
static void rd_svc_params(struct rd *r, json_t *o)
{
	json_t *params = json_object();
	char key[16];

	if (!params) {
		r->ps->nomem = true;
		return;
	}
	while (br_ok(&r->br) && r->br.off < r->br.n) {
		unsigned k = rd_u16(r), len = rd_u16(r);
		struct rd v;
		json_t *a;

		if (!rd_need(r, len))
			break;
		v = rd_at(r->ps, r->br.off, r->br.off + len);
		r->br.off += len;
		switch (k) {
		case 0: /* mandatory */
			a = json_array();
			while (a && br_ok(&v.br) && v.br.off < v.br.n)
				jappend(r->ps, a, json_integer(rd_u16(&v)));
			jset(r->ps, params, "mandatory", a);
			break;
		case 1: /* alpn */
			a = json_array();
			while (a && br_ok(&v.br) && v.br.off < v.br.n) {
				json_t *s = rd_charstr(&v);

				if (s)
					jappend(r->ps, a, s);
			}
			jset(r->ps, params, "alpn", a);
			break;
		case 2:
			jset(r->ps, params, "no_default_alpn", json_true());
			break;
		case 3:
			rd_int(&v, params, "port", rd_u16(&v));
			break;
		case 4:
		case 6:
			a = json_array();
			while (a && br_ok(&v.br) && v.br.off < v.br.n) {
				json_t *one = json_object();

				if (!one)
					break;
				rd_addr(&v, one, "a", k == 4 ? AF_INET : AF_INET6);
				if (json_object_get(one, "a"))
					jappend(r->ps, a, json_incref(json_object_get(one, "a")));
				json_decref(one);
			}
			jset(r->ps, params, k == 4 ? "ipv4hint" : "ipv6hint", a);
			break;
		case 5:
			rd_bytes(&v, params, "ech", SIZE_MAX, 'b');
			break;
		default:
			snprintf(key, sizeof(key), "key%u", k);
			rd_bytes(&v, params, key, SIZE_MAX, 'h');
			break;
		}
		if (!br_ok(&v.br) || v.br.off != v.br.n)
			br_bad(&r->br, "rdata layout");
		if (v.truncated)
			r->truncated = true;
	}
	jset(r->ps, o, "params", params);
}

/*
 * The typed rdata of one record: a string for the types whose data is one address or name,
 * an object (or an array for TXT) otherwise. !br_ok(&r->br) when it does not fit the layout.
 */
static json_t *rdata_json(struct rd *r, uint16_t type)
{
	size_t start = r->br.off;
	json_t *o, *a;

	switch (type) {
	case 1:	 /* A */
	case 28: /* AAAA */
		if (r->br.n - r->br.off != (type == 1 ? 4u : 16u)) {
			br_bad(&r->br, "rdata layout");
			return NULL;
		}
		o = json_object();
		if (!o)
			return NULL;
		rd_addr(r, o, "a", type == 1 ? AF_INET : AF_INET6);
		a = json_incref(json_object_get(o, "a"));
		json_decref(o);
		return a;
	case 2:
	case 3:
	case 4:
	case 5:
	case 7:
	case 8:
	case 9:
	case 12:
	case 39:
		/* NS MD MF CNAME MB MG MR PTR DNAME: one name */
		o = json_object();
		if (!o)
			return NULL;
		rd_name(r, o, "n");
		a = json_incref(json_object_get(o, "n"));
		json_decref(o);
		return a;
	case 16:
	case 99: /* TXT SPF: strings */
		a = json_array();
		while (a && br_ok(&r->br) && r->br.off < r->br.n) {
			json_t *s = rd_charstr(r);

			if (s)
				jappend(r->ps, a, s);
		}
		return a;
	}
	o = json_object();
	if (!o)
		return NULL;
	switch (type) {
	case 6: /* SOA */
		rd_name(r, o, "mname");
		rd_name(r, o, "rname");
		rd_int(r, o, "serial", rd_u32(r));
		rd_int(r, o, "refresh", rd_u32(r));
		rd_int(r, o, "retry", rd_u32(r));
		rd_int(r, o, "expire", rd_u32(r));
		rd_int(r, o, "minimum", rd_u32(r));
		break;
	case 15:
	case 21:
	case 36: /* MX RT KX */
		rd_int(r, o, "preference", rd_u16(r));
		rd_name(r, o, "exchange");
		break;
	case 18: /* AFSDB */
		rd_int(r, o, "subtype", rd_u16(r));
		rd_name(r, o, "hostname");
		break;
	case 13: /* HINFO */
		rd_charstr_set(r, o, "cpu");
		rd_charstr_set(r, o, "os");
		break;
	case 14:
	case 17: /* MINFO RP */
		rd_name(r, o, type == 14 ? "rmailbx" : "mbox");
		rd_name(r, o, type == 14 ? "emailbx" : "txt");
		break;
	case 33: /* SRV */
		rd_int(r, o, "priority", rd_u16(r));
		rd_int(r, o, "weight", rd_u16(r));
		rd_int(r, o, "port", rd_u16(r));
		rd_name(r, o, "target");
		break;
	case 35: /* NAPTR */
		rd_int(r, o, "order", rd_u16(r));
		rd_int(r, o, "preference", rd_u16(r));
		rd_charstr_set(r, o, "flags");
		rd_charstr_set(r, o, "services");
		rd_charstr_set(r, o, "regexp");
		rd_name(r, o, "replacement");
		break;
	case 43:
	case 59:
	case 32769: /* DS CDS DLV */
		rd_int(r, o, "key_tag", rd_u16(r));
		rd_int(r, o, "algorithm", rd_u8(r));
		rd_int(r, o, "digest_type", rd_u8(r));
		rd_bytes(r, o, "digest", SIZE_MAX, 'h');
		break;
	case 44: /* SSHFP */
		rd_int(r, o, "algorithm", rd_u8(r));
		rd_int(r, o, "fingerprint_type", rd_u8(r));
		rd_bytes(r, o, "fingerprint", SIZE_MAX, 'h');
		break;
	case 24:
	case 46: { /* SIG RRSIG */
		char buf[16];
		unsigned covered = rd_u16(r);

		if (br_ok(&r->br))
			jset(r->ps, o, "type_covered", json_string(dns_type_name(covered, buf)));
		rd_int(r, o, "algorithm", rd_u8(r));
		rd_int(r, o, "labels", rd_u8(r));
		rd_int(r, o, "original_ttl", rd_u32(r));
		if (rd_need(r, 8)) {
			jset(r->ps, o, "expiration", sig_time(rd_u32(r)));
			jset(r->ps, o, "inception", sig_time(rd_u32(r)));
		}
		rd_int(r, o, "key_tag", rd_u16(r));
		rd_name(r, o, "signer");
		rd_bytes(r, o, "signature", SIZE_MAX, 'b');
		break;
	}
	case 47: /* NSEC */
		rd_name(r, o, "next");
		rd_type_bitmap(r, o, "types");
		break;
	case 25:
	case 48:
	case 60: { /* KEY DNSKEY CDNSKEY */
		unsigned flags = rd_u16(r);

		rd_int(r, o, "flags", flags);
		rd_int(r, o, "protocol", rd_u8(r));
		rd_int(r, o, "algorithm", rd_u8(r));
		if (br_ok(&r->br))
			rd_int(r, o, "key_tag", key_tag(r->ps->p + start, r->br.n - start));
		rd_bytes(r, o, "public_key", SIZE_MAX, 'b');
		break;
	}
	case 50:
	case 51: { /* NSEC3 NSEC3PARAM */
		unsigned salt_len;

		rd_int(r, o, "hash_algorithm", rd_u8(r));
		rd_int(r, o, "flags", rd_u8(r));
		rd_int(r, o, "iterations", rd_u16(r));
		salt_len = rd_u8(r);
		if (salt_len)
			rd_bytes(r, o, "salt", salt_len, 'h');
		else if (br_ok(&r->br))
			jset(r->ps, o, "salt", json_string(""));
		if (type == 50) {
			unsigned hlen = rd_u8(r);

			base32hex(r, o, "next_hashed", hlen);
			rd_type_bitmap(r, o, "types");
		}
		break;
	}
	case 52:
	case 53: /* TLSA SMIMEA */
		rd_int(r, o, "usage", rd_u8(r));
		rd_int(r, o, "selector", rd_u8(r));
		rd_int(r, o, "matching_type", rd_u8(r));
		rd_bytes(r, o, "data", SIZE_MAX, 'h');
		break;
	case 257: { /* CAA */
		unsigned flags = rd_u8(r), tlen = rd_u8(r);

		rd_int(r, o, "flags", flags);
		rd_bytes(r, o, "tag", tlen, 't');
		rd_bytes(r, o, "value", SIZE_MAX, 't');
		break;
	}
	case 64:
	case 65: /* SVCB HTTPS */
		rd_int(r, o, "priority", rd_u16(r));
		rd_name(r, o, "target");
		rd_svc_params(r, o);
		break;
	case 256: /* URI */
		rd_int(r, o, "priority", rd_u16(r));
		rd_int(r, o, "weight", rd_u16(r));
		rd_bytes(r, o, "target", SIZE_MAX, 't');
		break;
	case 250: { /* TSIG */
		char buf[16];
		unsigned hi, mac_len, err;
		uint32_t lo;

		rd_name(r, o, "algorithm");
		hi = rd_u16(r);
		lo = rd_u32(r);
		rd_int(r, o, "time_signed", (json_int_t)((uint64_t)hi << 32 | lo));
		rd_int(r, o, "fudge", rd_u16(r));
		mac_len = rd_u16(r);
		rd_int(r, o, "mac_size", mac_len);
		rd_bytes(r, o, "mac", mac_len, 'b');
		rd_int(r, o, "original_id", rd_u16(r));
		err = rd_u16(r);
		if (br_ok(&r->br))
			jset(r->ps, o, "error",
			     json_string(err == 16 ? "BADSIG" : dns_rcode_name(err, buf)));
		rd_bytes(r, o, "other", rd_u16(r), 'h');
		break;
	}
	default: /* RFC 3597: unknown (or not decoded) types as their bytes */
		rd_bytes(r, o, "hex", SIZE_MAX, 'h');
		break;
	}
	return o;
}

static const char E_SHORT[] = "shorter than a DNS header (12 bytes)";
static const char E_RECORD_END[] = "record runs past the end of the message";
static const char E_RDATA_END[] = "rdata length runs past the end of the message";

static void fail(struct parse *ps, const char *why, size_t off)
{
	if (!ps->sum->error) {
		ps->sum->error = why;
		ps->sum->error_offset = off;
	}
}

/* EDNS(0) options (RFC 6891 6.1.2) of an OPT record's rdata [off, end). */
static void edns_options_json(struct parse *ps, json_t *edns, size_t off, size_t end)
{
	json_t *opts = json_array();
	struct rd r = rd_at(ps, off, end);

	if (!opts) {
		ps->nomem = true;
		return;
	}
	while (br_ok(&r.br) && r.br.off < r.br.n) {
		unsigned code = rd_u16(&r), len = rd_u16(&r);
		const char *name =
		    table_name(edns_options, sizeof(edns_options) / sizeof(edns_options[0]), code);
		json_t *o = json_object();
		struct rd v;

		if (!o || !rd_need(&r, len)) {
			json_decref(o);
			if (!o)
				ps->nomem = true;
			break;
		}
		v = rd_at(ps, r.br.off, r.br.off + len);
		r.br.off += len;
		jset(ps, o, "code", json_integer(code));
		if (name)
			jset(ps, o, "name", json_string(name));
		jset(ps, o, "length", json_integer(len));
		switch (code) {
		case 3: /* NSID: bytes, often text */
			rd_bytes(&v, o, "hex", SIZE_MAX, 'h');
			v.br.off = r.br.off - len;
			rd_bytes(&v, o, "text", SIZE_MAX, 't');
			break;
		case 5:
		case 6:
		case 7: { /* DAU DHU N3U: algorithm numbers */
			json_t *a = json_array();

			while (a && v.br.off < v.br.n)
				jappend(ps, a, json_integer(rd_u8(&v)));
			jset(ps, o, "algorithms", a);
			break;
		}
		case 8: { /* client subnet (RFC 7871) */
			unsigned family = rd_u16(&v), source = rd_u8(&v), scope = rd_u8(&v);
			uint8_t addr[16] = {0};
			size_t alen = !br_ok(&v.br) ? 0 : v.br.n - v.br.off;
			char s[INET6_ADDRSTRLEN];

			rd_int(&v, o, "family", family);
			rd_int(&v, o, "source_prefix", source);
			rd_int(&v, o, "scope_prefix", scope);
			if (br_ok(&v.br) && (family == 1 || family == 2) &&
			    alen <= (family == 1 ? 4u : 16u)) {
				memcpy(addr, ps->p + v.br.off, alen);
				inet_ntop(family == 1 ? AF_INET : AF_INET6, addr, s, sizeof(s));
				jset(ps, o, "address", json_string(s));
				v.br.off = v.br.n;
			} else {
				rd_bytes(&v, o, "hex", SIZE_MAX, 'h');
			}
			break;
		}
		case 9: /* EXPIRE: empty in queries */
			if (len == 4)
				rd_int(&v, o, "expire", rd_u32(&v));
			break;
		case 10: /* COOKIE (RFC 7873): client 8 bytes, server 8..32 */
			rd_bytes(&v, o, "client", len < 8 ? len : 8, 'h');
			if (len > 8)
				rd_bytes(&v, o, "server", SIZE_MAX, 'h');
			break;
		case 11: /* TCP keepalive (RFC 7828): 100 ms units */
			if (len == 2)
				rd_int(&v, o, "timeout", rd_u16(&v));
			break;
		case 12: /* padding: its size is all that matters */
			v.br.off = v.br.n;
			break;
		case 13: /* CHAIN: the closest trust point */
			rd_name(&v, o, "trust_point");
			break;
		case 14: { /* key tag */
			json_t *a = json_array();

			while (a && br_ok(&v.br) && v.br.off < v.br.n)
				jappend(ps, a, json_integer(rd_u16(&v)));
			jset(ps, o, "key_tags", a);
			break;
		}
		case 15: { /* extended DNS error (RFC 8914) */
			unsigned info = rd_u16(&v);

			rd_int(&v, o, "info_code", info);
			if (br_ok(&v.br) && info < sizeof(ede_names) / sizeof(ede_names[0]))
				jset(ps, o, "info", json_string(ede_names[info]));
			if (v.br.off < v.br.n)
				rd_bytes(&v, o, "extra_text", SIZE_MAX, 't');
			break;
		}
		default:
			if (len)
				rd_bytes(&v, o, "hex", SIZE_MAX, 'h');
			break;
		}
		if (!br_ok(&v.br) || v.br.off != v.br.n) {
			/* a value that does not fit its option: keep the bytes */
			struct rd raw = rd_at(ps, r.br.off - len, r.br.off);

			jset(ps, o, "malformed", json_true());
			if (!json_object_get(o, "hex"))
				rd_bytes(&raw, o, "hex", SIZE_MAX, 'h');
			ps->sum->malformed_records++;
		}
		jappend(ps, opts, o);
	}
	if (!br_ok(&r.br)) {
		jset(ps, edns, "malformed", json_true());
		ps->sum->malformed_records++;
	}
	jset(ps, edns, "options", opts);
}

/* The OPT pseudo-record: "edns" on the message instead of a record. */
static void edns_json(struct parse *ps, uint16_t cls, uint32_t ttl, size_t off, size_t end)
{
	json_t *edns;

	ps->sum->has_edns = true;
	ps->sum->rcode = (ttl >> 24) << 4 | ps->sum->h.rcode;
	if (!ps->msg)
		return;
	edns = json_object();
	if (!edns) {
		ps->nomem = true;
		return;
	}
	jset(ps, edns, "udp_size", json_integer(cls));
	jset(ps, edns, "extended_rcode", json_integer(ttl >> 24));
	jset(ps, edns, "version", json_integer((ttl >> 16) & 0xff));
	jset(ps, edns, "do", json_boolean(ttl & 0x8000));
	if (ttl & 0x7fff)
		jset(ps, edns, "z", json_integer(ttl & 0x7fff));
	edns_options_json(ps, edns, off, end);
	jset(ps, ps->msg, "edns", edns);
}

/* {name, type, class} of a question or record; NULL on ENOMEM (noted). */
static json_t *record_head(struct parse *ps, const char *name, size_t len, uint16_t type,
			   uint16_t cls)
{
	json_t *o = json_object();
	char buf[16];

	if (!o) {
		ps->nomem = true;
		return NULL;
	}
	jset(ps, o, "name", json_stringn(name, len));
	jset(ps, o, "type", json_string(dns_type_name(type, buf)));
	jset(ps, o, "class", json_string(dns_class_name(cls, buf)));
	return o;
}

enum record_result {
	RECORD_BROKEN = 0, /* the framing broke: the parse stops */
	RECORD_OK,
	RECORD_EDNS, /* the OPT pseudo-record, shown as "edns" */
};

/* One record (or question) at *off of section sec. arr: where the JSON goes (NULL: walk). */
static enum record_result record(struct parse *ps, enum dns_section sec, size_t *off, json_t *arr)
{
	struct dns_summary *sum = ps->sum;
	char name[DNS_NAME_TEXT_MAX];
	size_t next = 0, len, start = *off;
	const char *err = dns_name_read(ps->p, ps->n, *off, &next, name, &len);
	uint16_t type, cls, rdlen;
	uint32_t ttl;
	json_t *o;

	if (err) {
		fail(ps, err, start);
		return RECORD_BROKEN;
	}
	if (next + 4 > ps->n || (sec != DNS_SECTION_QUESTION && next + 10 > ps->n)) {
		fail(ps, E_RECORD_END, start);
		return RECORD_BROKEN;
	}
	type = be16_at(ps->p + next);
	cls = be16_at(ps->p + next + 2);
	if (sec == DNS_SECTION_QUESTION) {
		*off = next + 4;
		if (!sum->has_question) {
			sum->has_question = true;
			memcpy(sum->qname, name, len + 1);
			sum->qtype = type;
			sum->qclass = cls;
			sum->qhash = dns_question_hash(name, len, type, cls);
		}
		if (arr && (o = record_head(ps, name, len, type, cls)))
			jappend(ps, arr, o);
		return RECORD_OK;
	}
	ttl = be32_at(ps->p + next + 4);
	rdlen = be16_at(ps->p + next + 8);
	if (next + 10 + rdlen > ps->n) {
		fail(ps, E_RDATA_END, start);
		return RECORD_BROKEN;
	}
	*off = next + 10 + rdlen;
	if (sec == DNS_SECTION_ANSWER && type == DNS_TYPE_SOA && rdlen >= 20) {
		uint32_t serial = be32_at(ps->p + next + 10 + rdlen - 20);

		if (!sum->parsed[DNS_SECTION_ANSWER]) {
			sum->first_answer_soa = true;
			sum->first_soa_serial = serial;
		}
		sum->last_answer_soa = true;
		sum->last_soa_serial = serial;
	} else if (sec == DNS_SECTION_ANSWER) {
		sum->last_answer_soa = false;
	}
	if (sec == DNS_SECTION_ADDITIONAL && type == DNS_TYPE_OPT && !sum->has_edns) {
		edns_json(ps, cls, ttl, next + 10, next + 10 + rdlen);
		return RECORD_EDNS;
	}
	if (!arr) /* walked for the framing, not shown */
		return RECORD_OK;
	o = record_head(ps, name, len, type, cls);
	if (!o)
		return RECORD_OK;
	jset(ps, o, "ttl", json_integer(ttl));
	{
		struct rd r = rd_at(ps, next + 10, next + 10 + rdlen);
		json_t *data = rdata_json(&r, type);

		if (br_ok(&r.br) && r.br.off != r.br.n)
			br_bad(&r.br, "rdata layout"); /* bytes left over: not this type's layout */
		if (!br_ok(&r.br)) {
			struct rd raw = rd_at(ps, next + 10, next + 10 + rdlen);
			json_t *h = json_object();

			json_decref(data);
			data = h;
			if (h)
				rd_bytes(&raw, h, "hex", SIZE_MAX, 'h');
			jset(ps, o, "malformed", json_true());
			sum->malformed_records++;
			r.truncated = raw.truncated;
		}
		if (r.truncated)
			jset(ps, o, "truncated", json_true());
		if (data)
			jset(ps, o, "data", data);
		else
			ps->nomem = true;
	}
	jappend(ps, arr, o);
	return RECORD_OK;
}

static const char *const section_keys[] = {"questions", "answers", "authority", "additional"};

int dns_message_parse(const uint8_t *p, size_t n, const struct dns_limits *lim,
		      struct dns_summary *sum, json_t **out)
{
	struct dns_limits dflt = {0};
	struct parse ps = {.p = p, .n = n, .sum = sum};
	size_t off = DNS_HEADER_LEN, max;
	unsigned not_shown = 0;
	char buf[16];
	json_t *flags, *counts;
	int sec;

	memset(sum, 0, sizeof(*sum));
	if (out)
		*out = NULL;
	if (n < DNS_HEADER_LEN) {
		sum->error = E_SHORT;
		return -EINVAL;
	}
	ps.lim = lim ? lim : &dflt;
	max = ps.lim->records_max ? ps.lim->records_max : DNS_RECORDS_MAX_DEFAULT;
	dns_header_read(p, &sum->h);
	sum->rcode = sum->h.rcode;
	if (out) {
		ps.msg = json_object();
		flags = json_object();
		counts = json_object();
		if (!ps.msg || !flags || !counts) {
			json_decref(ps.msg);
			json_decref(flags);
			json_decref(counts);
			return -ENOMEM;
		}
		jset(&ps, ps.msg, "id", json_integer(sum->h.id));
		jset(&ps, ps.msg, "opcode", json_string(dns_opcode_name(sum->h.opcode, buf)));
		jset(&ps, flags, "qr", json_boolean(sum->h.qr));
		jset(&ps, flags, "aa", json_boolean(sum->h.aa));
		jset(&ps, flags, "tc", json_boolean(sum->h.tc));
		jset(&ps, flags, "rd", json_boolean(sum->h.rd));
		jset(&ps, flags, "ra", json_boolean(sum->h.ra));
		jset(&ps, flags, "z", json_boolean(sum->h.z));
		jset(&ps, flags, "ad", json_boolean(sum->h.ad));
		jset(&ps, flags, "cd", json_boolean(sum->h.cd));
		jset(&ps, ps.msg, "flags", flags);
		for (sec = 0; sec < 4; sec++)
			jset(&ps, counts, section_keys[sec], json_integer(sum->h.count[sec]));
		jset(&ps, ps.msg, "counts", counts);
	}
	for (sec = 0; sec < 4 && !sum->error; sec++) {
		json_t *arr = NULL;
		unsigned i;

		if (ps.msg && sum->h.count[sec]) {
			arr = json_array();
			if (!arr)
				ps.nomem = true;
		}
		for (i = 0; i < sum->h.count[sec]; i++) {
			json_t *to = arr && json_array_size(arr) < max ? arr : NULL;
			enum record_result rr;

			if (off >= n) {
				fail(&ps, "section counts larger than the message", off);
				break;
			}
			rr = record(&ps, (enum dns_section)sec, &off, to);
			if (rr == RECORD_BROKEN)
				break;
			sum->parsed[sec]++;
			if (arr && !to && rr == RECORD_OK)
				not_shown++;
		}
		if (arr) {
			if (json_array_size(arr))
				jset(&ps, ps.msg, section_keys[sec], arr);
			else
				json_decref(arr);
		}
	}
	sum->end = off;
	if (ps.msg) {
		char rb[16];

		/* The first question, where filters look for it. */
		if (sum->has_question) {
			jset(&ps, ps.msg, "name", json_string(sum->qname));
			jset(&ps, ps.msg, "type", json_string(dns_type_name(sum->qtype, buf)));
		}
		jset(&ps, ps.msg, "rcode", json_string(dns_rcode_name(sum->rcode, rb)));
		jset(&ps, ps.msg, "rcode_value", json_integer(sum->rcode));
		if (not_shown)
			jset(&ps, ps.msg, "records_not_shown", json_integer(not_shown));
		if (sum->malformed_records)
			jset(&ps, ps.msg, "malformed_records",
			     json_integer(sum->malformed_records));
		if (!sum->error && off < n)
			jset(&ps, ps.msg, "trailing_bytes", json_integer((json_int_t)(n - off)));
		if (sum->error) {
			jset(&ps, ps.msg, "error", json_string(sum->error));
			jset(&ps, ps.msg, "error_offset",
			     json_integer((json_int_t)sum->error_offset));
		}
		if (ps.nomem) {
			json_decref(ps.msg);
			return -ENOMEM;
		}
		*out = ps.msg;
	}
	return sum->error ? -EINVAL : 0;
}
