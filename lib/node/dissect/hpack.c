// SPDX-License-Identifier: Apache-2.0
/*
 * An HPACK decoder that tolerates an unknown dynamic table (hpack.h, docs/http2.md "HPACK").
 *
 * Facts from RFC 7541: the static table (Appendix A), the Huffman code (Appendix B: a
 * canonical code, so the code lengths fix it; below as the count of codes per length and
 * the symbols in code order), the integer (5.1) and string (5.2) representations, the
 * field representations (6.1-6.3) and the table's size accounting and eviction (4).
 */
#include "dissect/hpack.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hpack_entry {
	size_t name_len, value_len;
	bool name_known;
	uint8_t bytes[]; /* name then value */
};

/* Lengths kept with the strings: a static entry is looked up for most fields. */
#define S(n, v) {n, v, sizeof(n) - 1, sizeof(v) - 1}
static const struct {
	const char *name, *value;
	uint8_t name_len, value_len;
} static_table[HPACK_STATIC_ENTRIES] = {
    S(":authority", ""),
    S(":method", "GET"),
    S(":method", "POST"),
    S(":path", "/"),
    S(":path", "/index.html"),
    S(":scheme", "http"),
    S(":scheme", "https"),
    S(":status", "200"),
    S(":status", "204"),
    S(":status", "206"),
    S(":status", "304"),
    S(":status", "400"),
    S(":status", "404"),
    S(":status", "500"),
    S("accept-charset", ""),
    S("accept-encoding", "gzip, deflate"),
    S("accept-language", ""),
    S("accept-ranges", ""),
    S("accept", ""),
    S("access-control-allow-origin", ""),
    S("age", ""),
    S("allow", ""),
    S("authorization", ""),
    S("cache-control", ""),
    S("content-disposition", ""),
    S("content-encoding", ""),
    S("content-language", ""),
    S("content-length", ""),
    S("content-location", ""),
    S("content-range", ""),
    S("content-type", ""),
    S("cookie", ""),
    S("date", ""),
    S("etag", ""),
    S("expect", ""),
    S("expires", ""),
    S("from", ""),
    S("host", ""),
    S("if-match", ""),
    S("if-modified-since", ""),
    S("if-none-match", ""),
    S("if-range", ""),
    S("if-unmodified-since", ""),
    S("last-modified", ""),
    S("link", ""),
    S("location", ""),
    S("max-forwards", ""),
    S("proxy-authenticate", ""),
    S("proxy-authorization", ""),
    S("range", ""),
    S("referer", ""),
    S("refresh", ""),
    S("retry-after", ""),
    S("server", ""),
    S("set-cookie", ""),
    S("strict-transport-security", ""),
    S("transfer-encoding", ""),
    S("user-agent", ""),
    S("vary", ""),
    S("via", ""),
    S("www-authenticate", ""),
};
#undef S

/* ---- Huffman ---- */

#define HUFF_MAX_LEN 30
#define HUFF_EOS     256

/* How many codes have each length 0..30 (Appendix B's "len" column, counted). */
static const uint16_t huff_count[HUFF_MAX_LEN + 1] = {
    0, 0, 0, 0, 0, 10, 26, 32, 6,  0, 5,  3,  2,  6, 2, 3,
    0, 0, 0, 3, 8, 13, 26, 29, 12, 4, 15, 19, 29, 0, 4,
};

/* The symbols (256: EOS) in code order: by length, then by value. */
static const uint16_t huff_symbols[257] = {
    48,	 49,  50,  97,	99,  101, 105, 111, 115, 116, 32,  37,	45,  46,  47,  51,  52,	 53,  54,
    55,	 56,  57,  61,	65,  95,  98,  100, 102, 103, 104, 108, 109, 110, 112, 114, 117, 58,  66,
    67,	 68,  69,  70,	71,  72,  73,  74,  75,	 76,  77,  78,	79,  80,  81,  82,  83,	 84,  85,
    86,	 87,  89,  106, 107, 113, 118, 119, 120, 121, 122, 38,	42,  44,  59,  88,  90,	 33,  34,
    40,	 41,  63,  39,	43,  124, 35,  62,  0,	 36,  64,  91,	93,  126, 94,  125, 60,	 96,  123,
    92,	 195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161, 167, 172, 176, 177, 179, 209,
    216, 217, 227, 229, 230, 129, 132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169, 170, 173,
    178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232, 233, 1,   135, 137, 138, 139, 140, 141,
    143, 147, 149, 150, 151, 152, 155, 157, 158, 165, 166, 168, 174, 175, 180, 182, 183, 188, 191,
    197, 231, 239, 9,	142, 144, 145, 148, 159, 171, 206, 215, 225, 236, 237, 199, 207, 234, 235,
    192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255, 203, 204, 211, 212,
    214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252, 253, 254, 2,   3,	 4,   5,
    6,	 7,   8,   11,	12,  14,  15,  16,  17,	 18,  19,  20,	21,  23,  24,  25,  26,	 27,  28,
    29,	 30,  31,  127, 220, 249, 10,  13,  22,	 256,
};

/*
 * The decoding tables, made once from the two above: per length, the first code and the index
 * of its symbol (canonical order), and for every byte value the code of at most 8 bits it
 * starts with (len 0: a longer one). The common characters of paths and header values have
 * codes of 5 to 8 bits, so most symbols are one look-up instead of a walk bit by bit (the
 * walk was a tenth of `floe read` on HTTP/2, docs/bench.md).
 */
#define HUFF_PEEK 8
static struct {
	uint32_t first[HUFF_MAX_LEN + 1];
	uint16_t index[HUFF_MAX_LEN + 1];
	struct {
		uint16_t sym;
		uint8_t len;
	} peek[1u << HUFF_PEEK];
} huff;
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

static void huff_build(void)
{
	uint32_t first = 0;
	unsigned index = 0;

	for (unsigned len = 1; len <= HUFF_MAX_LEN; len++) {
		huff.first[len] = first;
		huff.index[len] = (uint16_t)index;
		for (unsigned k = 0; len <= HUFF_PEEK && k < huff_count[len]; k++) {
			/* every byte whose top len bits are this code */
			unsigned lo = (first + k) << (HUFF_PEEK - len),
				 span = 1u << (HUFF_PEEK - len);

			for (unsigned v = lo; v < lo + span; v++) {
				huff.peek[v].sym = huff_symbols[index + k];
				huff.peek[v].len = (uint8_t)len;
			}
		}
		index += huff_count[len];
		first = (first + huff_count[len]) << 1;
	}
}

long hpack_huffman_decode(const uint8_t *p, size_t n, uint8_t *out, size_t out_max)
{
	/* acc: the next nbits bits, most significant first */
	uint64_t acc = 0;
	unsigned nbits = 0, len;
	size_t o = 0, i = 0;

	pthread_once(&huff_once, huff_build);
	for (;;) {
		unsigned sym = HUFF_EOS + 1;

		while (nbits <= 56 && i < n) {
			acc |= (uint64_t)p[i++] << (56 - nbits);
			nbits += 8;
		}
		if (!nbits)
			break;
		len = nbits >= HUFF_PEEK ? huff.peek[acc >> (64 - HUFF_PEEK)].len : 0;
		if (len) {
			sym = huff.peek[acc >> (64 - HUFF_PEEK)].sym;
		} else {
			/* a longer code (or the end): canonical, length by length */
			for (len = 1; len <= HUFF_MAX_LEN && len <= nbits; len++) {
				uint32_t code = (uint32_t)(acc >> (64 - len));

				if (code - huff.first[len] < huff_count[len]) {
					sym =
					    huff_symbols[huff.index[len] + code - huff.first[len]];
					break;
				}
			}
		}
		if (sym > HUFF_EOS) {
			/* no whole code left: the rest must be the most significant bits of EOS
			 * (all ones), under a byte */
			if (i < n || nbits > 7 || acc >> (64 - nbits) != (1u << nbits) - 1)
				return -1;
			break;
		}
		if (sym == HUFF_EOS || o == out_max)
			return -1;
		out[o++] = (uint8_t)sym;
		acc <<= len;
		nbits -= len;
	}
	return (long)o;
}

/* ---- the dynamic table ---- */

#define ENTRY_OVERHEAD	    32u
#define HPACK_DEFAULT_TABLE 4096u

static size_t entry_size(const struct hpack_entry *e)
{
	/* an unknown name counts nothing: floe's table then seems smaller than the encoder's,
	 * and keeps entries longer, which is harmless (indices count from the newest) */
	return (e->name_known ? e->name_len : 0) + e->value_len + ENTRY_OVERHEAD;
}

static struct hpack_entry *entry_at(const struct hpack_table *t, size_t k)
{
	/* k = 0: the newest */
	return t->ring[(t->head + t->count - 1 - k) % t->cap];
}

static void evict_oldest(struct hpack_table *t)
{
	struct hpack_entry *e = t->ring[t->head];

	t->size -= entry_size(e);
	free(e);
	t->ring[t->head] = NULL;
	t->head = (t->head + 1) % t->cap;
	t->count--;
}

/* Evict down to max_size; when the size is exact and not even one more entry would fit
 * beside the known ones, the unknown older ones are gone too (RFC 7541 4.4). */
static void evict_to(struct hpack_table *t, size_t max)
{
	while (t->count && t->size > max)
		evict_oldest(t);
	if (t->max_exact && t->size + ENTRY_OVERHEAD > max)
		t->tail_unknown = false;
}

void hpack_init(struct hpack_table *t, bool known, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit;
	if (known) {
		t->max_size = HPACK_DEFAULT_TABLE < limit ? HPACK_DEFAULT_TABLE : limit;
		t->max_exact = true;
	} else {
		t->max_size = HPACK_ASSUMED_TABLE < limit ? HPACK_ASSUMED_TABLE : limit;
		t->tail_unknown = true;
	}
}

static void table_clear(struct hpack_table *t)
{
	while (t->count)
		evict_oldest(t);
}

size_t hpack_table_mem(const struct hpack_table *t)
{
	/* An entry's allocation (struct, name, value, NUL) is within the 32 octets of overhead
	 * that t->size counts for it (RFC 7541 4.1). */
	return t->size + t->cap * sizeof(*t->ring);
}

void hpack_free(struct hpack_table *t)
{
	if (t->ring)
		table_clear(t);
	free(t->ring);
	t->ring = NULL;
	t->cap = 0;
}

void hpack_lost(struct hpack_table *t)
{
	table_clear(t);
	t->tail_unknown = true;
}

static int table_insert(struct hpack_table *t, const uint8_t *name, size_t name_len,
			const uint8_t *value, size_t value_len)
{
	struct hpack_entry *e;
	size_t sz = (name ? name_len : 0) + value_len + ENTRY_OVERHEAD;

	/* An entry larger than the table empties it and is not added (4.4). */
	if (sz > t->max_size) {
		table_clear(t);
		if (t->max_exact)
			t->tail_unknown = false;
		return 0;
	}
	/* Copied before evicting: the name may be an entry that the insertion evicts (4.4). */
	e = malloc(sizeof(*e) + (name ? name_len : 0) + value_len + 1);
	if (!e)
		return -1;
	e->name_known = name != NULL;
	e->name_len = name ? name_len : 0;
	e->value_len = value_len;
	if (name)
		memcpy(e->bytes, name, name_len);
	memcpy(e->bytes + e->name_len, value, value_len);
	evict_to(t, t->max_size - sz);
	if (t->count == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16, i;
		struct hpack_entry **nr = malloc(ncap * sizeof(*nr));

		if (!nr) {
			free(e);
			return -1;
		}
		for (i = 0; i < t->count; i++)
			nr[i] = t->ring[(t->head + i) % t->cap];
		free(t->ring);
		t->ring = nr;
		t->cap = ncap;
		t->head = 0;
	}
	t->ring[(t->head + t->count) % t->cap] = e;
	t->count++;
	t->size += sz;
	return 0;
}

/*
 * The field at index (1-based, static then dynamic). Returns 0 and fills name/value (NULL
 * when unknown), or -1 for an index that cannot be (0, or past a fully known table).
 */
static int lookup(const struct hpack_table *t, uint32_t index, struct hpack_field *f)
{
	f->name = f->value = NULL;
	f->name_len = f->value_len = 0;
	f->index = 0;
	if (!index)
		return -1;
	if (index <= HPACK_STATIC_ENTRIES) {
		f->name = (const uint8_t *)static_table[index - 1].name;
		f->name_len = static_table[index - 1].name_len;
		f->value = (const uint8_t *)static_table[index - 1].value;
		f->value_len = static_table[index - 1].value_len;
		return 0;
	}
	index -= HPACK_STATIC_ENTRIES;
	if (index <= t->count) {
		const struct hpack_entry *e = entry_at(t, index - 1);

		if (e->name_known) {
			f->name = e->bytes;
			f->name_len = e->name_len;
		} else {
			f->index = index + HPACK_STATIC_ENTRIES;
		}
		f->value = e->bytes + e->name_len;
		f->value_len = e->value_len;
		return 0;
	}
	if (!t->tail_unknown)
		return -1;
	f->index = index + HPACK_STATIC_ENTRIES;
	return 0;
}

/* ---- representations ---- */

struct reader {
	const uint8_t *p;
	size_t n, off;
};

/* An integer with an N-bit prefix (5.1); at most 32 bits. 1: cut by the end, -1: too long. */
static int read_int(struct reader *r, unsigned prefix_bits, uint32_t *out)
{
	uint32_t max = (1u << prefix_bits) - 1, v;
	uint64_t acc;
	unsigned shift = 0;

	if (r->off >= r->n)
		return 1;
	v = r->p[r->off++] & max;
	if (v < max) {
		*out = v;
		return 0;
	}
	acc = v;
	for (;;) {
		uint8_t b;

		if (r->off >= r->n)
			return 1;
		b = r->p[r->off++];
		if (shift > 28)
			return -1;
		acc += (uint64_t)(b & 0x7f) << shift;
		if (acc > UINT32_MAX)
			return -1;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	*out = (uint32_t)acc;
	return 0;
}

/*
 * A string literal (5.2) into (*s, *len): the raw bytes, or Huffman-decoded into a buffer
 * taken from *scratch. 1: cut by the end, -1: malformed, -2: no memory.
 */
static int read_string(struct reader *r, uint8_t **scratch, size_t *scratch_cap, const uint8_t **s,
		       size_t *len)
{
	bool huff;
	uint32_t n;
	int rc;

	if (r->off >= r->n)
		return 1;
	huff = r->p[r->off] & 0x80;
	rc = read_int(r, 7, &n);
	if (rc)
		return rc;
	if (n > r->n - r->off)
		return 1;
	if (!huff) {
		*s = r->p + r->off;
		*len = n;
		r->off += n;
		return 0;
	}
	{
		/* at least 5 bits a symbol: 8n/5 bytes at most */
		size_t need = (size_t)n * 8 / 5 + 1;
		long got;

		if (need > *scratch_cap) {
			uint8_t *nb = realloc(*scratch, need);

			if (!nb)
				return -2;
			*scratch = nb;
			*scratch_cap = need;
		}
		got = hpack_huffman_decode(r->p + r->off, n, *scratch, *scratch_cap);
		if (got < 0)
			return -1;
		*s = *scratch;
		*len = (size_t)got;
		r->off += n;
	}
	return 0;
}

static enum hpack_error read_error(int rc, enum hpack_error malformed)
{
	return rc == 1 ? HPACK_ERR_TRUNCATED : rc == -2 ? HPACK_ERR_NOMEM : malformed;
}

int hpack_decode(struct hpack_table *t, const uint8_t *p, size_t n, bool cut, hpack_field_fn fn,
		 void *ctx, struct hpack_result *res)
{
	struct reader r = {p, n, 0};
	/* a name and a value may both be Huffman-coded: one scratch buffer each */
	uint8_t *scratch[2] = {NULL, NULL};
	size_t scratch_cap[2] = {0, 0};
	bool field_seen = false;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	while (r.off < r.n && !res->error) {
		uint8_t b = r.p[r.off];
		struct hpack_field f;
		uint32_t index;
		bool insert = false;
		int rc;

		if (b & 0x80) { /* indexed field (6.1) */
			rc = read_int(&r, 7, &index);
			if (rc) {
				res->error = read_error(rc, HPACK_ERR_INTEGER);
				break;
			}
			if (lookup(t, index, &f)) {
				res->error = HPACK_ERR_INDEX;
				break;
			}
		} else if ((b & 0xe0) == 0x20) { /* dynamic table size update (6.3) */
			rc = read_int(&r, 5, &index);
			if (rc) {
				res->error = read_error(rc, HPACK_ERR_INTEGER);
				break;
			}
			if (field_seen) {
				res->error = HPACK_ERR_SIZE_UPDATE;
				break;
			}
			/* floe cannot know every SETTINGS: any size up to its bound is taken */
			t->max_size = index < t->limit ? index : t->limit;
			t->max_exact = index <= t->limit;
			evict_to(t, t->max_size);
			continue;
		} else {
			/* literal: with incremental indexing (6.2.1, 6-bit index), without or never
			 * indexed (6.2.2, 6.2.3, 4-bit index) */
			unsigned bits = (b & 0xc0) == 0x40 ? 6 : 4;

			insert = bits == 6;
			rc = read_int(&r, bits, &index);
			if (rc) {
				res->error = read_error(rc, HPACK_ERR_INTEGER);
				break;
			}
			if (index) {
				if (lookup(t, index, &f)) {
					res->error = HPACK_ERR_INDEX;
					break;
				}
				f.value = NULL;
				f.value_len = 0;
			} else {
				rc = read_string(&r, &scratch[0], &scratch_cap[0], &f.name,
						 &f.name_len);
				if (rc) {
					res->error = read_error(rc, HPACK_ERR_HUFFMAN);
					break;
				}
				f.index = 0;
			}
			rc = read_string(&r, &scratch[1], &scratch_cap[1], &f.value, &f.value_len);
			if (rc) {
				res->error = read_error(rc, HPACK_ERR_HUFFMAN);
				break;
			}
			if (f.name)
				f.index =
				    0; /* only the value was taken from an index; it is known */
		}
		field_seen = true;
		res->fields++;
		if (!f.name || !f.value)
			res->unknown_refs++;
		ret = fn ? fn(ctx, &f) : 0;
		/* insert after the callback: the entry may move the ring that f points into */
		if (insert && table_insert(t, f.name, f.name_len, f.value, f.value_len)) {
			res->error = HPACK_ERR_NOMEM;
			break;
		}
		if (ret)
			break;
	}
	if (res->error == HPACK_ERR_TRUNCATED && cut)
		res->error = HPACK_OK;
	if (res->error || cut || ret)
		hpack_lost(t);
	free(scratch[0]);
	free(scratch[1]);
	return ret;
}
