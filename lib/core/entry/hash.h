/* FNV-1a, the one non-cryptographic hash of user space (the BPF side keeps its own).
 * Used for hash-table slots, dedup keys and version tags: cheap, byte-order
 * independent, and stable across runs, so values may be printed or compared. It is
 * not keyed; tables fed by remote input mix a seed into the start value. */
#ifndef FLOE_ENTRY_HASH_H
#define FLOE_ENTRY_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT  0xcbf29ce484222325ull
#define FNV1A64_PRIME 0x100000001b3ull

/* Continues hash h over n bytes at p; start with FNV1A64_INIT (or a seeded value). */
static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV1A64_PRIME;
	return h;
}

/* One byte; for values built on the fly (lowercased names, big-endian fields). */
static inline uint64_t fnv1a64_byte(uint64_t h, unsigned char b)
{
	return (h ^ b) * FNV1A64_PRIME;
}

/* A NUL-terminated string from the start value. */
static inline uint64_t fnv1a64_str(const char *s)
{
	uint64_t h = FNV1A64_INIT;

	for (; *s; s++)
		h = fnv1a64_byte(h, (unsigned char)*s);
	return h;
}

/* The 32-bit variant, for small tables keyed by short names. */
static inline uint32_t fnv1a32(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#endif
