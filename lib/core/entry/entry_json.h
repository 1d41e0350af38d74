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

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct entry_json_buf {
	char *p;
	size_t len, cap;
};

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
int entry_json_append_plain(struct entry_json_buf *b, const char *s, size_t n);
int entry_json_append_plain_key(struct entry_json_buf *b, const char *k, size_t n, int first);
/* Both at once: the member ,"k":"v" (no comma when first), one reservation. */
int entry_json_append_plain_member(struct entry_json_buf *b, const char *k, size_t kn,
				   const char *v, size_t vn, int first);

/* The digits of v as "%lld" prints them, written at the end of s; returns where they start. */
#define ENTRY_INT_CHARS 24
char *entry_int_digits(long long v, char s[ENTRY_INT_CHARS]);
int entry_json_append_real(struct entry_json_buf *b, double v);

/* Append raw bytes. 0 or -ENOMEM. */
int entry_json_append_raw(struct entry_json_buf *b, const char *s, size_t n);

void entry_json_buf_free(struct entry_json_buf *b);

#endif /* FLOE_ENTRY_ENTRY_JSON_H */
