/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hpack: an HPACK decoder (RFC 7541) that tolerates a dynamic table it has not seen whole,
 * for HTTP/2 connections picked up in the middle or after a capture gap (docs/http2.md,
 * "HPACK").
 *
 * One struct hpack_table per direction (each encoder has its own table). Its entries are
 * known from the newest down to `known` of them; when the table's start was not seen (or
 * bytes of a header block were lost), older entries exist that floe never saw: a reference
 * to one is reported as unknown, with its index, never guessed. Literals with incremental
 * indexing insert new known entries, so the table fills again from the newest end; an entry
 * whose name came from an unknown reference keeps its value and an unknown name.
 *
 * A header block is decoded whole (the caller gathers its fragments); a block cut by a gap
 * is decoded up to the last whole representation and then makes the table unknown.
 */
#ifndef FLOE_DISSECT_HPACK_H
#define FLOE_DISSECT_HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The static table's size (RFC 7541 Appendix A); dynamic indices start after it. */
#define HPACK_STATIC_ENTRIES 61u
/* The table size assumed for an encoder whose size was never seen (a larger guess only
 * keeps entries longer, which is harmless: indices count from the newest). */
#define HPACK_ASSUMED_TABLE 65536u

struct hpack_entry;

struct hpack_table {
	struct hpack_entry *
	    *ring; /* newest at ring[(head + cap - 1) % cap], oldest at ring[head] */
	size_t cap, count, head;
	size_t size;	   /* RFC 7541 4.1 sizes of the known entries (unknown names count 0) */
	size_t max_size;   /* the encoder's table size, as far as floe knows */
	size_t limit;	   /* the largest size an update may set (the bound of memory) */
	bool max_exact;	   /* max_size came from the start of the connection or an update */
	bool tail_unknown; /* entries older than the known ones may exist */
};

/* One decoded header field. A NULL name or value is unknown (index says which entry). */
struct hpack_field {
	const uint8_t *name, *value;
	size_t name_len, value_len;
	uint32_t index; /* the unknown entry referred to (0 when both are known) */
};

/* Called per field in block order; a non-zero return stops decoding (returned as is). */
typedef int (*hpack_field_fn)(void *ctx, const struct hpack_field *f);

enum hpack_error {
	HPACK_OK = 0,
	HPACK_ERR_INTEGER,     /* an integer longer than 32 bits */
	HPACK_ERR_HUFFMAN,     /* a Huffman string with EOS, or bad padding */
	HPACK_ERR_INDEX,       /* index 0, or past a table that is fully known */
	HPACK_ERR_SIZE_UPDATE, /* a size update after a field, or above the limit */
	HPACK_ERR_TRUNCATED,   /* the block ends inside a representation */
	HPACK_ERR_NOMEM,
};

struct hpack_result {
	enum hpack_error error;
	unsigned fields;       /* fields reported */
	unsigned unknown_refs; /* fields with an unknown name or value */
};

/*
 * known: the connection's start was seen (the table is empty and its size the default
 * 4096); else the table is unknown with an assumed size. limit: the largest size updates
 * may set (floe's memory bound).
 */
void hpack_init(struct hpack_table *t, bool known, size_t limit);
void hpack_free(struct hpack_table *t);
/* Bytes the table holds (its entries and ring), for the memory budget. */
size_t hpack_table_mem(const struct hpack_table *t);

/*
 * Decode one whole header block (p, n). cut: bytes of the block were lost after these, so
 * a representation that the end cuts is not an error (the table becomes unknown). Returns
 * the callback's non-zero value, or 0; res says what happened. Any error makes the table
 * unknown from there on (what the rest of the block inserted is not known).
 */
int hpack_decode(struct hpack_table *t, const uint8_t *p, size_t n, bool cut, hpack_field_fn fn,
		 void *ctx, struct hpack_result *res);

/* Bytes of this encoder's header blocks were lost: no entry's index is known any more. */
void hpack_lost(struct hpack_table *t);

/* How many of the newest dynamic entries are known. */
static inline size_t hpack_known(const struct hpack_table *t)
{
	return t->count;
}

/*
 * Huffman-decode (p, n) (RFC 7541 5.2, Appendix B) into out (at most out_max bytes: a
 * Huffman string decodes to at most 8/5 of its length). Returns the length, or -1.
 */
long hpack_huffman_decode(const uint8_t *p, size_t n, uint8_t *out, size_t out_max);

#endif /* FLOE_DISSECT_HPACK_H */
