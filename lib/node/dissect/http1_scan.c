// SPDX-License-Identifier: Apache-2.0
/*
 * http1_scan: see http1_scan.h. What is taken is a strict subset of what http_parser 2.9
 * accepts (non-strict build), read as it reads it: the target and reason phrase as its
 * on_url / on_status spans, field names as on_header_field gives them, values from the first
 * byte that is not SP/HT to CR (http1.c trims the end, as it did), Content-Length and
 * "chunked" as its flags say. fuzz_http1_scan holds the two to that.
 */
#include "dissect/http1_scan.h"

#include <string.h>
#include <strings.h>

#include <http_parser.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static const char *const scan_methods[] = {
#define XX(num, name, string) #string,
	HTTP_METHOD_MAP(XX)
#undef XX
};

#define N_SCAN_METHODS (sizeof(scan_methods) / sizeof(scan_methods[0]))

int h1_method_of(const uint8_t *p, size_t n)
{
	for (size_t m = 0; m < N_SCAN_METHODS; m++)
		if (strlen(scan_methods[m]) == n && !memcmp(scan_methods[m], p, n))
			return (int)m;
	return -1;
}

bool h1_method_prefix(const uint8_t *p, size_t n)
{
	for (size_t m = 0; m < N_SCAN_METHODS; m++)
		if (strlen(scan_methods[m]) >= n && !memcmp(scan_methods[m], p, n))
			return true;
	return false;
}

/* Byte classes: a field name's (RFC 9110 token), a value's or reason phrase's, a target's. */
enum {
	C_TOKEN = 1,
	C_TEXT = 2,
	C_TARGET = 4,
};

/* cls[c]: C_TOKEN for RFC 9110 tchar, C_TEXT for HT, 0x20-0x7e and >= 0x80, C_TARGET for
 * 0x21-0x7e and >= 0x80 (http_parser's URL bytes in non-strict mode, without HT and FF). */
static const uint8_t cls[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 0x30 */
	6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0x80 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0x90 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0xa0 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0xb0 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0xc0 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0xd0 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0xe0 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 0xf0 */
};

/* The first byte at or after i that is not C_TEXT, or CR (n: none before n). Values and
 * reason phrases are most of a head's bytes: 16 at a time where SSE2 is (HT, allowed but
 * a control byte, is stepped over one at a time). */
static size_t text_end(const uint8_t *p, size_t i, size_t n)
{
#if defined(__SSE2__)
	const __m128i ctl = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);

	while (n - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		/* a control byte is one min(byte, 0x1f) leaves as it is */
		unsigned mask = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x), _mm_cmpeq_epi8(x, del)));

		if (!mask) {
			i += 16;
			continue;
		}
		i += (unsigned)__builtin_ctz(mask);
		if (p[i] != '\t')
			return i;
		i++;
	}
#endif
	while (i < n && p[i] != '\r' && (cls[p[i]] & C_TEXT))
		i++;
	return i;
}

/* The first byte at or after i that is not a letter, a digit or '-' (n - i >= 16 bytes are
 * read): most of a field name, sixteen at a time, the rest of tchar being rare in names. */
static size_t alnum_dash_end(const uint8_t *p, size_t i, size_t n)
{
#if defined(__SSE2__)
	/* signed compares: bytes >= 0x80 are below every bound, so never taken */
	const __m128i lo_a = _mm_set1_epi8('a' - 1), hi_z = _mm_set1_epi8('z' + 1),
		      lo_0 = _mm_set1_epi8('0' - 1), hi_9 = _mm_set1_epi8('9' + 1),
		      dash = _mm_set1_epi8('-'), case_bit = _mm_set1_epi8(0x20);

	while (n - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i l = _mm_or_si128(x, case_bit); /* A-Z to a-z; no other byte lands there */
		__m128i ok = _mm_or_si128(
		    _mm_and_si128(_mm_cmpgt_epi8(l, lo_a), _mm_cmpgt_epi8(hi_z, l)),
		    _mm_or_si128(_mm_and_si128(_mm_cmpgt_epi8(x, lo_0), _mm_cmpgt_epi8(hi_9, x)),
				 _mm_cmpeq_epi8(x, dash)));
		unsigned bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;

		if (bad)
			return i + (unsigned)__builtin_ctz(bad);
		i += 16;
	}
#endif
	(void)p;
	(void)n;
	return i;
}

/* A run of bytes of class k from *i, ended by the byte `end`: its span, and *i at `end`. */
static enum h1_scan_result run_to(const uint8_t *p, size_t n, size_t *i, uint8_t k, uint8_t end,
				  struct h1_span *sp)
{
	size_t j = k == C_TOKEN ? alnum_dash_end(p, *i, n) : *i;

	while (j < n && (cls[p[j]] & k))
		j++;
	if (j == n)
		return H1_SCAN_MORE;
	if (p[j] != end)
		return H1_SCAN_DECLINE;
	sp->off = (uint32_t)*i;
	sp->len = (uint32_t)(j - *i);
	*i = j;
	return H1_SCAN_OK;
}

static bool span_is_n(const uint8_t *p, struct h1_span s, const char *lower, size_t len)
{
	return s.len == len && !strncasecmp((const char *)p + s.off, lower, len);
}

/* Does span s hold the literal `lower`, case aside? Its length a constant: most names are
 * told apart by the length alone, no call made. */
#define span_is(p, s, lower) span_is_n((p), (s), "" lower, sizeof(lower) - 1)

/*
 * A name that begins with one of the names http_parser treats specially but goes on: http_parser
 * matches those names byte by byte and some of its flags follow the prefix, not the whole name
 * ("Transfer-EncodingX: y" after "Transfer-Encoding: chunked" clears its chunked flag: found
 * by fuzz_http1_scan). Such a head is declined, so that http_parser reads it as it always did.
 */
static bool name_extends_special(const uint8_t *p, struct h1_span name)
{
#define SPECIAL(s) {s, sizeof(s) - 1}
	static const struct {
		const char *name;
		uint32_t len;
	} special[] = {SPECIAL("connection"), SPECIAL("proxy-connection"),
		       SPECIAL("content-length"), SPECIAL("transfer-encoding"), SPECIAL("upgrade")};
#undef SPECIAL

	unsigned c = p[name.off] | 0x20;

	/* per field of every head taken: the first byte (c, p, t, u: the names' first letters),
	 * then lengths, then the bytes */
	if (c != 'c' && c != 'p' && c != 't' && c != 'u')
		return false;
	for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++)
		if (name.len > special[k].len &&
		    (p[name.off] | 0x20) == special[k].name[0] &&
		    !strncasecmp((const char *)p + name.off, special[k].name, special[k].len))
			return true;
	return false;
}

/* "HTTP/1.0" or "HTTP/1.1" at p + i (i <= n). */
static enum h1_scan_result version(const uint8_t *p, size_t n, size_t i, struct h1_scan *s)
{
	static const char pre[] = "HTTP/1.";
	size_t avail = n - i, cmp = avail < sizeof(pre) - 1 ? avail : sizeof(pre) - 1;

	if (memcmp(p + i, pre, cmp))
		return H1_SCAN_DECLINE;
	if (avail < sizeof(pre))
		return H1_SCAN_MORE;
	if (p[i + 7] != '0' && p[i + 7] != '1')
		return H1_SCAN_DECLINE;
	s->major = 1;
	s->minor = (unsigned)(p[i + 7] - '0');
	return H1_SCAN_OK;
}

/* CR LF at p + i: OK, MORE, or DECLINE (anything else: bare LF is http_parser's to judge). */
static enum h1_scan_result crlf(const uint8_t *p, size_t n, size_t i)
{
	if (i >= n)
		return H1_SCAN_MORE;
	if (p[i] != '\r')
		return H1_SCAN_DECLINE;
	if (i + 1 >= n)
		return H1_SCAN_MORE;
	return p[i + 1] == '\n' ? H1_SCAN_OK : H1_SCAN_DECLINE;
}

static enum h1_scan_result request_line(const uint8_t *p, size_t n, struct h1_scan *s,
					size_t *end)
{
	enum h1_scan_result r;
	size_t i = 0;
	int m;

	while (i < n && i < 16 && ((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-'))
		i++;
	if (i == n)
		return H1_SCAN_MORE;
	if (p[i] != ' ')
		return H1_SCAN_DECLINE;
	m = h1_method_of(p, i);
	if (m < 0 || m == HTTP_CONNECT)
		return H1_SCAN_DECLINE;
	s->method = (unsigned)m;
	if (++i == n)
		return H1_SCAN_MORE;
	if (p[i] != '/')
		return H1_SCAN_DECLINE;
	r = run_to(p, n, &i, C_TARGET, ' ', &s->line);
	if (r != H1_SCAN_OK)
		return r;
	r = version(p, n, i + 1, s);
	if (r != H1_SCAN_OK)
		return r;
	i += 9;
	r = crlf(p, n, i);
	*end = i + 2;
	return r;
}

static enum h1_scan_result status_line(const uint8_t *p, size_t n, struct h1_scan *s,
				       size_t *end)
{
	enum h1_scan_result r = version(p, n, 0, s);
	size_t i = 8;

	if (r != H1_SCAN_OK)
		return r;
	if (n < 13)
		return H1_SCAN_MORE;
	if (p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return H1_SCAN_DECLINE;
	s->status = (unsigned)(p[9] - '0') * 100 + (unsigned)(p[10] - '0') * 10 +
		    (unsigned)(p[11] - '0');
	if (s->status == 101)
		return H1_SCAN_DECLINE; /* a switch: http_parser's upgrade rules decide */
	i = 12;
	s->line.off = 13;
	s->line.len = 0;
	if (p[i] == ' ') {
		i++;
		i = text_end(p, i, n);
		s->line.len = (uint32_t)(i - 13);
	}
	r = crlf(p, n, i);
	*end = i + 2;
	return r;
}

/* Content-Length as http_parser reads it: digits, then only spaces. */
static bool content_length(const uint8_t *p, struct h1_span raw, uint64_t *v)
{
	uint64_t x = 0;
	uint32_t i = 0;

	while (i < raw.len && p[raw.off + i] >= '0' && p[raw.off + i] <= '9' && i < 18)
		x = x * 10 + (uint64_t)(p[raw.off + i++] - '0');
	if (!i)
		return false;
	for (; i < raw.len; i++)
		if (p[raw.off + i] != ' ')
			return false;
	*v = x;
	return true;
}

/* The header lines from i on, and the empty line that ends them. */
static enum h1_scan_result fields(const uint8_t *p, size_t n, size_t i, struct h1_scan *s)
{
	bool te = false;

	for (;;) {
		struct h1_scan_field *f;
		struct h1_span raw;
		enum h1_scan_result r;
		size_t v;

		if (i >= n)
			return H1_SCAN_MORE;
		if (p[i] == '\r') {
			r = crlf(p, n, i);
			if (r == H1_SCAN_OK)
				s->head_len = i + 2;
			return r;
		}
		if (!(cls[p[i]] & C_TOKEN))
			return H1_SCAN_DECLINE; /* obs-fold, bare LF, a bad name */
		if (s->n_fields == H1_SCAN_FIELDS_MAX)
			return H1_SCAN_DECLINE;
		f = &s->fields[s->n_fields];
		r = run_to(p, n, &i, C_TOKEN, ':', &f->name);
		if (r != H1_SCAN_OK)
			return r;
		i++;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		v = i;
		i = text_end(p, i, n);
		r = crlf(p, n, i);
		if (r != H1_SCAN_OK)
			return r;
		raw.off = (uint32_t)v;
		raw.len = (uint32_t)(i - v);
		f->value = raw;
		while (f->value.len &&
		       (p[v + f->value.len - 1] == ' ' || p[v + f->value.len - 1] == '\t'))
			f->value.len--;
		i += 2;
		s->n_fields++;
		if (span_is(p, f->name, "content-length")) {
			if (s->content_length != UINT64_MAX || te ||
			    !content_length(p, raw, &s->content_length))
				return H1_SCAN_DECLINE;
		} else if (span_is(p, f->name, "transfer-encoding")) {
			if (te || s->content_length != UINT64_MAX || !span_is(p, raw, "chunked"))
				return H1_SCAN_DECLINE;
			te = s->chunked = true;
		} else if (span_is(p, f->name, "upgrade") || name_extends_special(p, f->name)) {
			return H1_SCAN_DECLINE;
		}
	}
}

enum h1_scan_result h1_scan_head(const uint8_t *p, size_t n, bool request, struct h1_scan *s)
{
	enum h1_scan_result r;
	size_t i = 0;

	s->method = s->status = 0;
	s->content_length = UINT64_MAX;
	s->chunked = false;
	s->head_len = 0;
	s->n_fields = 0;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	r = request ? request_line(p, n, s, &i) : status_line(p, n, s, &i);
	if (r != H1_SCAN_OK)
		return r;
	return fields(p, n, i, s);
}
