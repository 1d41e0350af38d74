// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* jansson before 2.14 has no key lengths: measured then. */
#ifndef json_object_keylen_foreach
#define json_object_keylen_foreach(object, key, key_len, value)                                   \
	json_object_foreach(object, key, value) if ((key_len = strlen(key)), 0) {} else
#endif

/* Nesting deeper than this is not built by floe; refuse rather than recurse without end. */
#define ENTRY_JSON_MAX_DEPTH 256

static int reserve(struct entry_json_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= more)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len < more) {
		if (cap > ((size_t)-1) / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int entry_json_append_raw(struct entry_json_buf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t has_zero(uint64_t x)
{
	return (x - ONES) & ~x & HIGHS;
}

/* Some byte of x is below c (c <= 128). */
static inline uint64_t has_less(uint64_t x, uint64_t c)
{
	return (x - ONES * c) & ~x & HIGHS;
}

/* Bytes that need an escape inside a JSON string. */
static inline int needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* Index of the first byte of s[0..n) that needs an escape, or n. */
static size_t escape_scan(const char *s, size_t n)
{
	size_t i = 0;

#if defined(__SSE2__)
	/* Sixteen bytes at a time: a control byte is one that min(byte, 0x1f) leaves unchanged. */
	const __m128i ctl = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'),
		      bslash = _mm_set1_epi8('\\');

	while (n - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i m = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x),
					 _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
		unsigned mask = (unsigned)_mm_movemask_epi8(m);

		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#endif
	/* Eight bytes at a time while none of them needs an escape (bit tricks for "has a byte
	 * below 0x20 / equal to '"' / equal to '\\'", each exact for the word). */
	while (n - i >= 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
		if (has_less(x, 0x20) | has_zero(x ^ (ONES * '"')) | has_zero(x ^ (ONES * '\\')))
			break;
		i += 8;
	}
	while (i < n && !needs_escape((unsigned char)s[i]))
		i++;
	return i;
}

/* Write the escape of c (a byte escape_scan() stopped at) at o; returns its length. */
static inline size_t put_escape(char *o, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson writes \u000B */
	/* The two-character escapes by byte; 0: \u00XX. */
	static const char short_esc[256] = {
		['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
		['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
	};

	o[0] = '\\';
	if (short_esc[c]) {
		o[1] = short_esc[c];
		return 2;
	}
	memcpy(o + 1, "u00", 3);
	o[4] = hex[c >> 4];
	o[5] = hex[c & 15];
	return 6;
}

int entry_json_append_string(struct entry_json_buf *b, const char *s, size_t n)
{
	size_t i = 0, run;
	char *o;

	/* Worst case every byte becomes \u00XX: reserve once, then write without checks. */
	if (n > ((size_t)-1 - 2) / 6 || reserve(b, n * 6 + 2))
		return -ENOMEM;
	o = b->p + b->len;
	*o++ = '"';
#if defined(__SSE2__)
	{
		/* Text with short lines (bodies, "\n" every few dozen bytes) stops often: each block
		 * of sixteen is stored whole and the output advanced to the first escape in it, which
		 * fits the reservation (output <= 6 * input + 1 while 16 input bytes are left). */
		const __m128i ctl = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'),
			      bslash = _mm_set1_epi8('\\');

		while (n - i >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			__m128i m = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x),
						 _mm_or_si128(_mm_cmpeq_epi8(x, quote),
							      _mm_cmpeq_epi8(x, bslash)));
			unsigned mask = (unsigned)_mm_movemask_epi8(m), k;

			_mm_storeu_si128((__m128i *)(void *)o, x);
			if (!mask) {
				o += 16;
				i += 16;
				continue;
			}
			k = (unsigned)__builtin_ctz(mask);
			o += k;
			o += put_escape(o, (unsigned char)s[i + k]);
			i += k + 1;
		}
	}
#endif
	while (i < n) {
		run = i + escape_scan(s + i, n - i);
		memcpy(o, s + i, run - i);
		o += run - i;
		if (run == n)
			break;
		o += put_escape(o, (unsigned char)s[run]);
		i = run + 1;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

/* What "%lld" prints, without printf's machinery (it was a tenth of an entry's cost). */
char *entry_int_digits(long long v, char s[ENTRY_INT_CHARS])
{
	char *o = s + ENTRY_INT_CHARS;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do {
		*--o = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--o = '-';
	return o;
}

int entry_json_append_int(struct entry_json_buf *b, long long v)
{
	char s[ENTRY_INT_CHARS], *o = entry_int_digits(v, s);

	return entry_json_append_raw(b, o, (size_t)(s + sizeof(s) - o));
}

int entry_json_append_real(struct entry_json_buf *b, double v)
{
	char s[40];
	int prec, n = 0;

	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(s, sizeof(s) - 2, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	/* A real stays a real when read back: "1" would be an integer. */
	if (!strpbrk(s, ".eEn")) {
		s[n++] = '.';
		s[n++] = '0';
	}
	return entry_json_append_raw(b, s, (size_t)n);
}

static int append_value(struct entry_json_buf *b, const json_t *j, int depth)
{
	if (depth > ENTRY_JSON_MAX_DEPTH)
		return -ENOMEM;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		size_t klen;
		json_t *v;
		int first = 1;

		if (entry_json_append_raw(b, "{", 1))
			return -ENOMEM;
		json_object_keylen_foreach((json_t *)j, k, klen, v) {
			if ((!first && entry_json_append_raw(b, ",", 1)) ||
			    entry_json_append_string(b, k, klen) || entry_json_append_raw(b, ":", 1) ||
			    append_value(b, v, depth + 1))
				return -ENOMEM;
			first = 0;
		}
		return entry_json_append_raw(b, "}", 1);
	}
	case JSON_ARRAY: {
		size_t i, cnt = json_array_size(j);

		if (entry_json_append_raw(b, "[", 1))
			return -ENOMEM;
		for (i = 0; i < cnt; i++)
			if ((i && entry_json_append_raw(b, ",", 1)) ||
			    append_value(b, json_array_get(j, i), depth + 1))
				return -ENOMEM;
		return entry_json_append_raw(b, "]", 1);
	}
	case JSON_STRING:
		return entry_json_append_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		return entry_json_append_int(b, json_integer_value(j));
	case JSON_REAL:
		return entry_json_append_real(b, json_real_value(j));
	case JSON_TRUE:
		return entry_json_append_raw(b, "true", 4);
	case JSON_FALSE:
		return entry_json_append_raw(b, "false", 5);
	case JSON_NULL:
		return entry_json_append_raw(b, "null", 4);
	}
	return -ENOMEM;
}

int entry_json_append(struct entry_json_buf *b, const json_t *j)
{
	size_t len = b->len;

	if (!j || append_value(b, j, 0)) {
		b->len = len;
		return -ENOMEM;
	}
	return 0;
}

void entry_json_buf_free(struct entry_json_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
