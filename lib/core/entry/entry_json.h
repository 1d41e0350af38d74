/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_json: compact JSON text of a jansson tree, appended to a reusable buffer.
 *
 * Why not json_dumpf(): it writes through a callback per token and escapes strings byte by
 * byte; on entries with 64 KiB bodies that was over half of `floe read --json`. The trees
 * floe builds hold only valid UTF-8 (jansson checks it, entry_json_text() replaces what is
 * not), so strings need only '"', '\\' and control characters escaped: plain runs are copied
 * 16 and 8 bytes at a time, everything else byte by byte from one table (docs/bench.md, "The
 * string escaper"). The output is what json_dumps(JSON_COMPACT) prints, except reals: the
 * shortest of %.15g/%.16g/%.17g that reads back as the same double (elapsed_ms 0.25, not
 * 0.25000000000000001).
 */
#ifndef FLOE_ENTRY_ENTRY_JSON_H
#define FLOE_ENTRY_ENTRY_JSON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

struct entry_json_buf {
	char *p;
	size_t len, cap;
};

/*
 * The few appends below are inline: an entry makes some forty of them, most with a literal
 * key, and inlined a constant length makes the copy two moves (the call, its prologue and
 * the length's dispatch were most of writing a key).
 */

/* Grow b to room for more bytes at b->len (doubling from 4096). 0 or -ENOMEM. */
int entry_json_grow(struct entry_json_buf *b, size_t more);

/* Room for more bytes at b->len. 0 or -ENOMEM. */
static inline int entry_json_reserve(struct entry_json_buf *b, size_t more)
{
	return b->cap - b->len >= more ? 0 : entry_json_grow(b, more);
}

/* memcpy of n bytes, those up to 16 (keys, most header values, punctuation) by two
 * overlapping fixed-size copies: the library call's dispatch was about half of a key. */
static inline void entry_json_copy_short(char *o, const char *s, size_t n)
{
	uint64_t a, z;
	uint32_t a4, z4;

	if (n >= 8 && n <= 16) {
		memcpy(&a, s, 8);
		memcpy(&z, s + n - 8, 8);
		memcpy(o, &a, 8);
		memcpy(o + n - 8, &z, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(&a4, s, 4);
		memcpy(&z4, s + n - 4, 4);
		memcpy(o, &a4, 4);
		memcpy(o + n - 4, &z4, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			o[i] = s[i];
	} else {
		memcpy(o, s, n);
	}
}

/* Append raw bytes. 0 or -ENOMEM. */
static inline int entry_json_append_raw(struct entry_json_buf *b, const char *s, size_t n)
{
	if (entry_json_reserve(b, n))
		return -ENOMEM;
	entry_json_copy_short(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* A string literal, raw (floe's own punctuation and keys: nothing to escape). */
#define ENTRY_JSON_LIT(b, lit) entry_json_append_raw((b), "" lit, sizeof(lit) - 1)

/* Append the compact JSON text of j (no newline). 0, or -ENOMEM (len is then unchanged). */
int entry_json_append(struct entry_json_buf *b, const json_t *j);

/* Append one value as entry_json_append() writes it: a string of n bytes (valid UTF-8, as
 * jansson keeps them), an integer, a real. 0 or -ENOMEM. */
int entry_json_append_string(struct entry_json_buf *b, const char *s, size_t n);
/* The same when every byte is ASCII and none is NUL (s is then the valid UTF-8 text that
 * entry_utf8_prefix() without NUL takes whole); else 1 and b unchanged: a body is checked and
 * written in one pass. 0, 1, or -ENOMEM. */
int entry_json_append_ascii(struct entry_json_buf *b, const char *s, size_t n);
int entry_json_append_int(struct entry_json_buf *b, long long v);
/* An object member's key as entry_json_append() writes it: ["," unless first] "key": (k: n
 * bytes of valid UTF-8). 0 or -ENOMEM. */
int entry_json_append_key(struct entry_json_buf *b, const char *k, size_t n, int first);
/*
 * Is p..p+n printable ASCII without '"' and '\\'? Such text is valid UTF-8 without NUL (what
 * the tree keeps as it is) and JSON has it between quotes unchanged: one check spares the
 * UTF-8 check and the escaper. Nearly every header field, name and id is such text.
 */
bool entry_json_plain(const char *p, size_t n);
/* The same two for text the caller knows is entry_json_plain(): copied between quotes. 0 or
 * -ENOMEM. */
static inline int entry_json_append_plain(struct entry_json_buf *b, const char *s, size_t n)
{
	char *o;

	if (entry_json_reserve(b, n + 2))
		return -ENOMEM;
	o = b->p + b->len;
	*o++ = '"';
	entry_json_copy_short(o, s, n);
	o[n] = '"';
	b->len += n + 2;
	return 0;
}
static inline int entry_json_append_plain_key(struct entry_json_buf *b, const char *k, size_t n,
					      int first)
{
	char *o;

	if (entry_json_reserve(b, n + 4))
		return -ENOMEM;
	o = b->p + b->len;
	if (!first)
		*o++ = ',';
	*o++ = '"';
	entry_json_copy_short(o, k, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->len = (size_t)(o - b->p);
	return 0;
}
/* Both at once: the member ,"k":"v" (no comma when first), one reservation. */
int entry_json_append_plain_member(struct entry_json_buf *b, const char *k, size_t kn,
				   const char *v, size_t vn, int first);

/* The digits of v as "%lld" prints them, written at the end of s; returns where they start. */
#define ENTRY_INT_CHARS 24
char *entry_int_digits(long long v, char s[ENTRY_INT_CHARS]);
int entry_json_append_real(struct entry_json_buf *b, double v);

void entry_json_buf_free(struct entry_json_buf *b);

#endif /* FLOE_ENTRY_ENTRY_JSON_H */
