// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <sys/platform/x86.h>
#define ESC_AVX2 1 /* the build targets plain x86-64: AVX2 when the CPU has it, asked at run time */
#endif

/* jansson before 2.14 has no key lengths: measured then. */
#ifndef json_object_keylen_foreach
#define json_object_keylen_foreach(object, key, key_len, value)                                   \
	json_object_foreach(object, key, value) if ((key_len = strlen(key)), 0) {} else
#endif

/* Nesting deeper than this is not built by floe; refuse rather than recurse without end. */
#define ENTRY_JSON_MAX_DEPTH 256

/* entry_json_reserve()'s growth, out of line: the room is nearly always there. */
__attribute__((noinline)) int entry_json_grow(struct entry_json_buf *b, size_t more)
{
	size_t cap;
	char *p;

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

/*
 * What each byte becomes inside a JSON string, as jansson writes it: itself, a two-character
 * escape, or \u00XX (upper-case hex, as jansson writes \u000B). Written eight bytes at a time
 * from the table and the output advanced by the length: no branch per byte (the writer
 * reserves 8 bytes of slack for the last store).
 */
struct esc_seq {
	char s[8];
	unsigned char len;
};

#define ESC_PLAIN(c)	[c] = {{(char)(c)}, 1}
#define ESC_SHORT(c, e) [c] = {{'\\', e}, 2}
#define ESC_U(c)                                                                                   \
	[c] = {{'\\', 'u', '0', '0', "0123456789ABCDEF"[(c) >> 4], "0123456789ABCDEF"[(c)&15]}, 6}
#define ESC_U4(c)  ESC_U(c), ESC_U((c) + 1), ESC_U((c) + 2), ESC_U((c) + 3)
#define ESC_P4(c)  ESC_PLAIN(c), ESC_PLAIN((c) + 1), ESC_PLAIN((c) + 2), ESC_PLAIN((c) + 3)
#define ESC_P16(c) ESC_P4(c), ESC_P4((c) + 4), ESC_P4((c) + 8), ESC_P4((c) + 12)
#define ESC_P64(c) ESC_P16(c), ESC_P16((c) + 16), ESC_P16((c) + 32), ESC_P16((c) + 48)

/* In byte order, each byte once (no overriding designators). */
/* clang-format off */
static const struct esc_seq esc_table[256] = {
	ESC_U4(0x00), ESC_U4(0x04),
	ESC_SHORT(0x08, 'b'), ESC_SHORT(0x09, 't'), ESC_SHORT(0x0a, 'n'), ESC_U(0x0b),
	ESC_SHORT(0x0c, 'f'), ESC_SHORT(0x0d, 'r'), ESC_U(0x0e), ESC_U(0x0f),
	ESC_U4(0x10), ESC_U4(0x14), ESC_U4(0x18), ESC_U4(0x1c),
	ESC_PLAIN(0x20), ESC_PLAIN(0x21), ESC_SHORT('"', '"'),
	ESC_P16(0x23), ESC_P16(0x33), ESC_P16(0x43), ESC_P4(0x53), ESC_P4(0x57), ESC_PLAIN(0x5b),
	ESC_SHORT('\\', '\\'),
	ESC_P64(0x5d), ESC_P64(0x9d), ESC_P16(0xdd), ESC_P16(0xed),
	ESC_PLAIN(0xfd), ESC_PLAIN(0xfe), ESC_PLAIN(0xff),
};
/* clang-format on */

/* Bytes of slack beyond the exact worst case: the table's whole 8-byte store. */
#define ESC_SLACK 8

static inline char *put_byte(char *o, unsigned char c)
{
	memcpy(o, esc_table[c].s, 8);
	return o + esc_table[c].len;
}

/* Room for a string of n bytes and `extra` more bytes: the worst case (every byte \u00XX),
 * so that the string is written without checks. */
static inline int reserve_string(struct entry_json_buf *b, size_t n, size_t extra)
{
	if (n > ((size_t)-1 - 64) / 6)
		return -ENOMEM;
	n = n * 6 + 2 + ESC_SLACK + extra;
	return b->cap - b->len < n ? entry_json_reserve(b, n) : 0;
}

/* The string from its byte i on, and its closing quote; NULL as write_string_x() says. */
static inline __attribute__((always_inline)) char *write_tail(char *o, const char *s, size_t n,
							      size_t i, bool ascii)
{
	const unsigned char *u = (const unsigned char *)s;

	/* Eight bytes at a time (the tail of the blocks above, or everything without SSE2), exact
	 * bit tests for "a byte below 0x20 / equal to '"' / equal to '\\'"; a word that has one
	 * goes by the table. */
	while (n - i >= 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
		if (ascii && ((x & HIGHS) || has_zero(x)))
			return NULL;
		if (has_less(x, 0x20) | has_zero(x ^ (ONES * '"')) | has_zero(x ^ (ONES * '\\'))) {
			for (size_t k = 0; k < 8; k++)
				o = put_byte(o, u[i + k]);
		} else {
			memcpy(o, &x, 8);
			o += 8;
		}
		i += 8;
	}
	/* Short strings (most keys and header values) and the tail: by the table. */
	for (; i < n; i++) {
		if (ascii && (!u[i] || u[i] >= 0x80))
			return NULL;
		o = put_byte(o, u[i]);
	}
	*o++ = '"';
	return o;
}

#ifdef ESC_AVX2
/* Strings from this long (bodies, long values) go 32 bytes at a time when the CPU can. */
#define ESC_AVX2_MIN 64

/*
 * For each mask of the bytes of an 8-byte group that are '"' or '\\': the byte shuffle that
 * writes the group with a backslash (byte 8 of the shuffle's source) before each of them, its
 * 8 + popcount(mask) bytes first. JSON bodies are full of quotes: a block of them is written
 * in four shuffles, not one table store and a copy per quote. Filled before main() (read-only
 * afterwards, no lock): the table is 4 KiB of arithmetic, clearer computed than written out.
 */
static uint8_t esc_expand[256][16] __attribute__((aligned(16)));

__attribute__((constructor)) static void esc_expand_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		unsigned o = 0;

		for (unsigned j = 0; j < 8; j++) {
			if (m >> j & 1)
				esc_expand[m][o++] = 8;
			esc_expand[m][o++] = (uint8_t)j;
		}
		while (o < 16)
			esc_expand[m][o++] = 0x80; /* past the group: zero, overwritten later */
	}
}

/* A 32-byte block at s whose escapes (mask, at least one) are all '"' or '\\' (no control
 * byte): four 8-byte groups, each one shuffle and a 16-byte store at o; returns the end. */
__attribute__((target("avx2,popcnt"))) static inline char *write_quoted_block(char *o,
									       const char *s,
									       unsigned mask)
{
	const __m128i bs = _mm_set1_epi8('\\');

	for (unsigned g = 0; g < 4; g++) {
		unsigned m8 = (mask >> (8 * g)) & 0xff;
		__m128i in = _mm_unpacklo_epi64(
		    _mm_loadl_epi64((const __m128i *)(const void *)(s + 8 * g)), bs);

		_mm_storeu_si128((__m128i *)(void *)o,
				 _mm_shuffle_epi8(in, _mm_load_si128((const __m128i *)(const void *)
								     esc_expand[m8])));
		o += 8 + __builtin_popcount(m8);
	}
	return o;
}

/* write_string_x() with 32-byte blocks, each block's escapes taken from its one mask: on text
 * with a newline every few dozen bytes the 16-byte loop's restart at every escape (a new
 * block, its compares and a mispredicted branch) was most of its time. Each store fits the
 * reservation (32 bytes at the output's end while 64 input bytes are left: 6 * 64 bytes of
 * room). */
__attribute__((target("avx2,popcnt"))) static char *write_string_avx2(char *o, const char *s, size_t n,
								bool ascii)
{
	const unsigned char *u = (const unsigned char *)s;
	const __m256i ctl = _mm256_set1_epi8(0x1f), quote = _mm256_set1_epi8('"'),
		      bslash = _mm256_set1_epi8('\\');
	size_t i = 0;

	*o++ = '"';
	/* Each block's escapes in turn from its mask: the plain bytes before one are copied as
	 * 32 (reading at most 63 past the block's start: n - i >= 64), the escape written over
	 * the copy's end. A block without control bytes reads only itself: taken down to the
	 * string's last 32 bytes. */
	while (n - i >= 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
		__m256i c = _mm256_cmpeq_epi8(_mm256_min_epu8(x, ctl), x);
		__m256i m = _mm256_or_si256(c, _mm256_or_si256(_mm256_cmpeq_epi8(x, quote),
							       _mm256_cmpeq_epi8(x, bslash)));
		unsigned mask, k, from = 0;

		/* ascii: a byte with its high bit set, or NUL, anywhere in the block ends it all
		 * (checked once per block, not at each escape: the output is dropped anyway) */
		if (ascii && (_mm256_movemask_epi8(x) |
			      _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_setzero_si256()))))
			return NULL;
		mask = (unsigned)_mm256_movemask_epi8(m);
		/* no control byte: plain (stored whole) or only quotes and backslashes, the
		 * shuffles (output <= 64 bytes while the reservation has 6 * 32 left) */
		if (!_mm256_movemask_epi8(c)) {
			if (mask) {
				o = write_quoted_block(o, s + i, mask);
			} else {
				_mm256_storeu_si256((__m256i *)(void *)o, x);
				o += 32;
			}
			i += 32;
			continue;
		}
		if (n - i < 64)
			break;
		_mm256_storeu_si256((__m256i *)(void *)o, x);
		while (mask) {
			k = (unsigned)__builtin_ctz(mask);
			mask &= mask - 1;
			if (from) /* the first run is in the store above */
				_mm256_storeu_si256((__m256i *)(void *)o,
						    _mm256_loadu_si256((const __m256i *)(const void *)(s + i + from)));
			o += k - from;
			o = put_byte(o, u[i + k]);
			from = k + 1;
		}
		if (from && from < 32)
			_mm256_storeu_si256((__m256i *)(void *)o,
					    _mm256_loadu_si256((const __m256i *)(const void *)(s + i + from)));
		o += 32 - from;
		i += 32;
	}
	return write_tail(o, s, n, i, ascii);
}
#endif

/*
 * The quoted, escaped string at o (room reserved by reserve_string); returns its end. ascii:
 * NULL instead as soon as a byte is not ASCII or is NUL (what entry_utf8_prefix() without NUL
 * would stop at first), so that a body is checked and written in one pass.
 */
static inline __attribute__((always_inline)) char *write_string_x(char *o, const char *s, size_t n,
								  bool ascii)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

#ifdef ESC_AVX2
	/* glibc's view of the CPU: GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 turns it off (the unit
	 * test holds both paths to jansson that way) */
	if (n >= ESC_AVX2_MIN && CPU_FEATURE_ACTIVE(AVX2))
		return write_string_avx2(o, s, n, ascii);
#endif
	*o++ = '"';
#if defined(__SSE2__)
	{
		/* Runs of plain bytes sixteen at a time: each block is stored whole and the output
		 * advanced to its first escape, which fits the reservation (output <= 6 * input + 1
		 * while 16 input bytes are left). A control byte is one min(byte, 0x1f) leaves as
		 * it is. */
		const __m128i ctl = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'),
			      bslash = _mm_set1_epi8('\\');

		while (n - i >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			__m128i m = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x),
						 _mm_or_si128(_mm_cmpeq_epi8(x, quote),
							      _mm_cmpeq_epi8(x, bslash)));
			unsigned mask, k;

			/* ascii: a byte with its high bit set stops the run like an escape */
			mask = (unsigned)_mm_movemask_epi8(ascii ? _mm_or_si128(m, x) : m);
			_mm_storeu_si128((__m128i *)(void *)o, x);
			if (!mask) {
				o += 16;
				i += 16;
				continue;
			}
			k = (unsigned)__builtin_ctz(mask);
			if (ascii && (!u[i + k] || u[i + k] >= 0x80))
				return NULL;
			o = put_byte(o + k, u[i + k]);
			i += k + 1;
		}
	}
#endif
	return write_tail(o, s, n, i, ascii);
}

static char *write_string(char *o, const char *s, size_t n)
{
	return write_string_x(o, s, n, false);
}

int entry_json_append_ascii(struct entry_json_buf *b, const char *s, size_t n)
{
	char *o;

	if (reserve_string(b, n, 0))
		return -ENOMEM;
	o = write_string_x(b->p + b->len, s, n, true);
	if (!o)
		return 1;
	b->len = (size_t)(o - b->p);
	return 0;
}

int entry_json_append_string(struct entry_json_buf *b, const char *s, size_t n)
{
	if (reserve_string(b, n, 0))
		return -ENOMEM;
	b->len = (size_t)(write_string(b->p + b->len, s, n) - b->p);
	return 0;
}

int entry_json_append_key(struct entry_json_buf *b, const char *k, size_t n, int first)
{
	char *o;

	if (reserve_string(b, n, 2))
		return -ENOMEM;
	o = b->p + b->len;
	if (!first)
		*o++ = ',';
	o = write_string(o, k, n);
	*o++ = ':';
	b->len = (size_t)(o - b->p);
	return 0;
}

/* Bytes entry_json_plain() lets through, for strings shorter than a vector. */
static const bool plain_byte[256] = {
    [0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

/* Are all eight bytes of x entry_json_plain() ones (0x20-0x7e but '"' and '\\')? Exact: with
 * no high bit set, adding 1 carries out of no byte. */
static inline bool word_plain(uint64_t x)
{
	return !((x & HIGHS) | has_less(x, 0x20) | has_zero(x ^ (ONES * '"')) |
		 has_zero(x ^ (ONES * '\\')) | ((x + ONES) & HIGHS));
}

bool entry_json_plain(const char *p, size_t n)
{
	size_t i = 0;

#if defined(__SSE2__)
	if (n >= 16) {
		const __m128i ctl = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'),
			      bslash = _mm_set1_epi8('\\'), del = _mm_set1_epi8(0x7f);

		/* whole blocks, the last one overlapping the one before it: no byte-wise tail */
		for (;;) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			/* a control byte is one min(byte, 0x1f) leaves as it is; high bit: x itself */
			__m128i m = _mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x),
					 _mm_cmpeq_epi8(x, del)),
			    _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));

			if (_mm_movemask_epi8(_mm_or_si128(m, x)))
				return false;
			if (i + 16 == n)
				return true;
			i = n - i - 16 >= 16 ? i + 16 : n - 16;
		}
	}
#endif
	if (n >= 8) {
		/* 8 to 15 bytes (or all, without SSE2): words, the last one overlapping */
		for (;;) {
			uint64_t x;

			memcpy(&x, p + i, 8);
			if (!word_plain(x))
				return false;
			if (i + 8 == n)
				return true;
			i = n - i - 8 >= 8 ? i + 8 : n - 8;
		}
	}
	if (n >= 4) {
		uint32_t a, z;

		memcpy(&a, p, 4);
		memcpy(&z, p + n - 4, 4);
		return word_plain((uint64_t)a << 32 | z);
	}
	for (; i < n; i++)
		if (!plain_byte[(unsigned char)p[i]])
			return false;
	return true;
}

int entry_json_append_plain_member(struct entry_json_buf *b, const char *k, size_t kn,
				   const char *v, size_t vn, int first)
{
	char *o;

	if (entry_json_reserve(b, kn + vn + 6))
		return -ENOMEM;
	o = b->p + b->len;
	if (!first)
		*o++ = ',';
	*o++ = '"';
	entry_json_copy_short(o, k, kn);
	o += kn;
	memcpy(o, "\":\"", 3);
	o += 3;
	entry_json_copy_short(o, v, vn);
	o += vn;
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

/* One byte of punctuation. */
static inline int append_char(struct entry_json_buf *b, char c)
{
	if (b->cap == b->len && entry_json_reserve(b, 1))
		return -ENOMEM;
	b->p[b->len++] = c;
	return 0;
}

/* What "%lld" prints, without printf's machinery (it was a tenth of an entry's cost). */
char *entry_int_digits(long long v, char s[ENTRY_INT_CHARS])
{
	char *o = s + ENTRY_INT_CHARS;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	/* two digits per division: an entry writes ports, sizes, ids and a status */
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";

	while (u >= 100) {
		o -= 2;
		memcpy(o, pairs + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		o -= 2;
		memcpy(o, pairs + 2 * u, 2);
	} else {
		*--o = (char)('0' + u);
	}
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

		if (append_char(b, '{'))
			return -ENOMEM;
		json_object_keylen_foreach((json_t *)j, k, klen, v) {
			if (entry_json_append_key(b, k, klen, first) ||
			    append_value(b, v, depth + 1))
				return -ENOMEM;
			first = 0;
		}
		return append_char(b, '}');
	}
	case JSON_ARRAY: {
		size_t i, cnt = json_array_size(j);

		if (append_char(b, '['))
			return -ENOMEM;
		for (i = 0; i < cnt; i++)
			if ((i && append_char(b, ',')) ||
			    append_value(b, json_array_get(j, i), depth + 1))
				return -ENOMEM;
		return append_char(b, ']');
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
