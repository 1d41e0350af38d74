/* SPDX-License-Identifier: Apache-2.0 */
/*
 * byte_reader: the one bounded reader of binary protocol fields, shared by the dissectors
 * (Kafka, AMQP, DNS, gRPC's protobuf, ...). Every read checks the bytes left first; the first
 * failure sticks (later reads return 0 / NULL and change nothing), so a decoder can read a
 * run of fields and test the status once.
 *
 *   BR_SHORT  the bytes ended inside a field: on a cut message (a capture's snap length, a
 *             body bounded for memory) this is expected, on a whole one it is malformed
 *   BR_BAD    a value is impossible (varint overflow, negative length, ...): br_bad() says
 *             why and where, for the entry's malformed_reason/offset
 *
 * Header-only (static inline): the readers sit in every dissector's innermost loops.
 */
#ifndef FLOE_DISSECT_BYTE_READER_H
#define FLOE_DISSECT_BYTE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum br_status {
	BR_OK = 0,
	BR_SHORT, /* the bytes ended inside a field */
	BR_BAD,	  /* a value is impossible */
};

struct byte_reader {
	const uint8_t *p;
	size_t n, off;
	bool cut; /* p holds only a prefix of the message (set by the caller): short is expected */
	size_t declared; /* when cut and known (else 0): the message's length from p; a field
			  * that would end past it is impossible (BAD), not short */
	enum br_status st;
	const char *why; /* BR_BAD: what was wrong (a static string) */
	size_t bad_at;	 /* BR_BAD: offset of the field */
};

static inline void br_init(struct byte_reader *r, const uint8_t *p, size_t n)
{
	*r = (struct byte_reader){.p = p, .n = n};
}

/* A reader over the next k bytes of r (which skips them); short when they are not there. */
static inline void br_sub(struct byte_reader *r, size_t k, struct byte_reader *sub);

static inline size_t br_left(const struct byte_reader *r)
{
	return r->n - r->off;
}

/* Bytes left to the message's declared end (those here when it is not known). */
static inline size_t br_left_declared(const struct byte_reader *r)
{
	return r->declared > r->off ? r->declared - r->off : br_left(r);
}

static inline bool br_ok(const struct byte_reader *r)
{
	return r->st == BR_OK;
}

/* Mark r malformed at its current offset (the first reason is kept). */
static inline void br_bad(struct byte_reader *r, const char *why)
{
	if (r->st)
		return;
	r->st = BR_BAD;
	r->why = why;
	r->bad_at = r->off;
}

/* Are k more bytes there? If not, r becomes short (unless it already failed). */
static inline bool br_need(struct byte_reader *r, size_t k)
{
	if (r->st)
		return false;
	if (br_left(r) < k) {
		if (r->declared && k > br_left_declared(r))
			br_bad(r, "field past the message's declared end");
		else
			r->st = BR_SHORT;
		return false;
	}
	return true;
}

/* Big-endian numbers of a buffer the caller has checked (no reader). */
static inline uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be24_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64_at(const uint8_t *p)
{
	return (uint64_t)be32_at(p) << 32 | be32_at(p + 4);
}

static inline uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint64_t le64_at(const uint8_t *p)
{
	return (uint64_t)le32_at(p + 4) << 32 | le32_at(p);
}

/* A big-endian unsigned number of k bytes (1..8); 0 when r fails. */
static inline uint64_t br_be(struct byte_reader *r, unsigned k)
{
	uint64_t v = 0;
	const uint8_t *p;

	if (!br_need(r, k))
		return 0;
	p = r->p + r->off;
	r->off += k;
	while (k--)
		v = v << 8 | *p++;
	return v;
}

static inline uint8_t br_u8(struct byte_reader *r)
{
	return (uint8_t)br_be(r, 1);
}

static inline uint16_t br_u16(struct byte_reader *r)
{
	return (uint16_t)br_be(r, 2);
}

static inline uint32_t br_u32(struct byte_reader *r)
{
	return (uint32_t)br_be(r, 4);
}

static inline uint64_t br_u64(struct byte_reader *r)
{
	return br_be(r, 8);
}

/* Little-endian fixed32 / fixed64 (protobuf's I32 and I64). */
static inline uint32_t br_le32(struct byte_reader *r)
{
	if (!br_need(r, 4))
		return 0;
	r->off += 4;
	return le32_at(r->p + r->off - 4);
}

static inline uint64_t br_le64(struct byte_reader *r)
{
	if (!br_need(r, 8))
		return 0;
	r->off += 8;
	return le64_at(r->p + r->off - 8);
}

/*
 * An unsigned LEB128 varint of at most `bits` bits (32: 5 bytes, 64: 10 bytes), as protobuf
 * and Kafka's flexible versions write it. More bits than that is BR_BAD "varint overflow".
 */
static inline uint64_t br_uvarint(struct byte_reader *r, unsigned bits)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		uint8_t b;

		if (!br_need(r, 1))
			return 0;
		b = r->p[r->off++];
		if (shift >= bits || (shift + 7 > bits && (b & 0x7f) >> (bits - shift))) {
			br_bad(r, "varint overflow");
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
		shift += 7;
	}
}

/* Zigzag-encoded signed varints (protobuf sint32/sint64, Kafka record fields). */
static inline int32_t br_zigzag32(struct byte_reader *r)
{
	uint32_t u = (uint32_t)br_uvarint(r, 32);

	return (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
}

static inline int64_t br_zigzag64(struct byte_reader *r)
{
	uint64_t u = br_uvarint(r, 64);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* The next k bytes, consumed (NULL when they are not all there). */
static inline const uint8_t *br_bytes(struct byte_reader *r, size_t k)
{
	if (!br_need(r, k))
		return NULL;
	r->off += k;
	return r->p + r->off - k;
}

static inline bool br_skip(struct byte_reader *r, size_t k)
{
	return br_bytes(r, k) != NULL;
}

static inline void br_sub(struct byte_reader *r, size_t k, struct byte_reader *sub)
{
	const uint8_t *p = br_bytes(r, k);

	br_init(sub, p ? p : r->p + r->off, p ? k : 0);
	if (!p)
		sub->st = BR_SHORT;
}

#endif /* FLOE_DISSECT_BYTE_READER_H */
