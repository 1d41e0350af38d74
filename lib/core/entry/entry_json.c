// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int append_string(struct entry_json_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson writes \u000B */
	size_t i = 0, run;

	/* Worst case every byte becomes \u00XX: reserve once, then write without checks. */
	if (n > ((size_t)-1 - 2) / 6 || reserve(b, n * 6 + 2))
		return -ENOMEM;
	b->p[b->len++] = '"';
	while (i < n) {
		run = i;
		/* Eight bytes at a time while none of them needs an escape (bit tricks for "has a
		 * byte below 0x20 / equal to '"' / equal to '\\'", each exact for the word). */
		while (n - run >= 8) {
			uint64_t x;

			memcpy(&x, s + run, 8);
			if (has_less(x, 0x20) | has_zero(x ^ (ONES * '"')) | has_zero(x ^ (ONES * '\\')))
				break;
			run += 8;
		}
		while (run < n && !needs_escape((unsigned char)s[run]))
			run++;
		memcpy(b->p + b->len, s + i, run - i);
		b->len += run - i;
		if (run == n)
			break;
		unsigned char c = (unsigned char)s[run];
		char *o = b->p + b->len;

		o[0] = '\\';
		switch (c) {
		case '"': o[1] = '"'; b->len += 2; break;
		case '\\': o[1] = '\\'; b->len += 2; break;
		case '\b': o[1] = 'b'; b->len += 2; break;
		case '\f': o[1] = 'f'; b->len += 2; break;
		case '\n': o[1] = 'n'; b->len += 2; break;
		case '\r': o[1] = 'r'; b->len += 2; break;
		case '\t': o[1] = 't'; b->len += 2; break;
		default:
			memcpy(o + 1, "u00", 3);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			b->len += 6;
		}
		i = run + 1;
	}
	b->p[b->len++] = '"';
	return 0;
}

static int append_real(struct entry_json_buf *b, double v)
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
	char num[24];
	int n;

	if (depth > ENTRY_JSON_MAX_DEPTH)
		return -ENOMEM;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		int first = 1;

		if (entry_json_append_raw(b, "{", 1))
			return -ENOMEM;
		json_object_foreach((json_t *)j, k, v) {
			if ((!first && entry_json_append_raw(b, ",", 1)) ||
			    append_string(b, k, strlen(k)) || entry_json_append_raw(b, ":", 1) ||
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
		return append_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return entry_json_append_raw(b, num, (size_t)n);
	case JSON_REAL:
		return append_real(b, json_real_value(j));
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
