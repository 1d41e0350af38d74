// SPDX-License-Identifier: Apache-2.0
/*
 * Apache Kafka dissector. See docs/kafka.md for the behaviour and the fields, kafka_schema.c
 * for what is known of each API.
 *
 * Framing: every message is a 4-byte length and that many bytes. A message is decoded at
 * once when it is whole in what the engine hands over; otherwise its bytes are copied as
 * they come (up to the decode bound; the rest is only counted), so that a 100 MiB produce
 * request never sits whole in memory.
 *
 * Who speaks first: after a SYN the connection's client sends the requests. A connection
 * picked up mid-stream has its roles guessed from the ports, which is often wrong for Kafka
 * (two high ports): there the first direction whose bytes start like a request is the
 * requests' direction, and the entries' src/dst are set from that.
 *
 * Pairing: requests wait in a FIFO; a response takes the request with its correlation id.
 * Brokers answer in order, so the requests queued before it will not be answered (their
 * responses were lost): they are emitted with the response missing.
 */
#include "dissect/kafka.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "dissect/byte_reader.h"
#include "dissect/framing.h"
#include "dissect/http_common.h"
#include "dissect/kafka_schema.h"
#include "dissect/pending.h"

/* A request's version may be this much above the highest floe knows and still be taken. */
#define VERSION_SLACK 3
/* A shorter client id is not enough on its own to take bytes for a request. */
#define CLIENT_ID_SHORT 4
/* Shown string values are cut to this many bytes. */
#define STRING_SHOW_MAX 4096u
/* Responses are recognised without their request only up to this size (detection). */
#define DETECT_RESPONSE_MAX 4096u
/* A candidate request start is given this many bytes to prove itself while resynchronising. */
#define RESYNC_WAIT_MAX 64u
/* zstd windows larger than 2^this are refused (a frame could otherwise ask for 2 GiB). */
#define ZSTD_WINDOW_LOG_MAX 23
/* Nested legacy message sets (a compressed wrapper inside a compressed wrapper) are not
 * decompressed below this depth. */
#define LEGACY_DEPTH_MAX 1

static const char *const counter_names[] = {
    [KAFKA_C_OVERSIZED] = "oversized_messages",
    [KAFKA_C_SKIPPED_BYTES] = "skipped_bytes",
    [KAFKA_C_RESYNC_BYTES] = "resync_bytes",
    [KAFKA_C_MALFORMED] = "malformed_messages",
    [KAFKA_C_DECOMPRESSED] = "decompressed_batches",
    [KAFKA_C_DECOMPRESS_FAILED] = "decompress_failures",
    [KAFKA_C_RESYNCS] = "resyncs",
    NULL,
};

/* ---- reading ---- */

/*
 * A string (wide: bytes) length, -1 for null: int16 (int32) in classic versions, an unsigned
 * varint of length + 1 in flexible ones.
 */
static int64_t rd_len(struct byte_reader *r, bool flex, bool wide)
{
	int64_t v;

	if (flex)
		return (int64_t)(uint32_t)br_uvarint(r, 32) - 1;
	v = wide ? (int32_t)br_u32(r) : (int16_t)br_u16(r);
	if (v < -1)
		br_bad(r, "negative length");
	return v;
}

/* An array's element count, -1 for null. */
static int64_t rd_count(struct byte_reader *r, bool flex)
{
	int64_t v;

	if (flex)
		return (int64_t)(uint32_t)br_uvarint(r, 32) - 1;
	v = (int32_t)br_u32(r);
	if (v < -1)
		br_bad(r, "negative array count");
	return v;
}

/* ---- decoding context ---- */

struct kd {
	int version;
	bool flex;
	bool json;	       /* build JSON (detection only checks that the bytes decode) */
	unsigned elements;     /* array elements still shown */
	size_t value_budget;   /* key, value and bytes still kept */
	size_t inflate_budget; /* decompressed bytes still allowed */
	size_t body_max;
	json_t *topics, *topic_ids;
	uint64_t partitions, records, batches;
	bool has_error, unknown_error;
	int first_error;
	uint64_t error_count;
	uint64_t decompressed, decompress_failed;
	ZSTD_DCtx **zstd; /* the connection's zstd context, kept between batches; or NULL */
};

static void kd_init(struct kd *kd, int version, bool flex, bool json, size_t body_max)
{
	memset(kd, 0, sizeof(*kd));
	kd->version = version;
	kd->flex = flex;
	kd->json = json;
	kd->elements = KAFKA_ELEMENTS_MAX;
	kd->value_budget = body_max;
	kd->body_max = body_max;
	kd->inflate_budget = KAFKA_DECOMPRESS_MAX;
}

static void kd_free(struct kd *kd)
{
	json_decref(kd->topics);
	json_decref(kd->topic_ids);
}

static void set_new(json_t *o, const char *key, json_t *v)
{
	if (o && v)
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

static void set_int(json_t *o, const char *key, int64_t v)
{
	if (o)
		json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void set_count(json_t *o, const char *key, uint64_t v)
{
	set_int(o, key, v > LLONG_MAX ? LLONG_MAX : (int64_t)v);
}

/* Add s to a summary list if it is not there yet (bounded). */
static void summary_add(json_t **list, json_t *s)
{
	size_t i;

	if (!s)
		return;
	if (!*list)
		*list = json_array();
	if (!*list || json_array_size(*list) >= KAFKA_TOPICS_MAX) {
		json_decref(s);
		return;
	}
	for (i = 0; i < json_array_size(*list); i++) {
		if (json_equal(json_array_get(*list, i), s)) {
			json_decref(s);
			return;
		}
	}
	json_array_append_new(*list, s);
}

/* A UUID as Kafka prints it (Uuid.toString()): URL-safe base64 without padding. */
static json_t *uuid_json(const uint8_t *u)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char out[23];
	unsigned i, o = 0;

	for (i = 0; i < 16; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16;

		if (i + 1 < 16)
			v |= (uint32_t)u[i + 1] << 8;
		if (i + 2 < 16)
			v |= u[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (i + 1 < 16)
			out[o++] = tab[v >> 6 & 63];
		if (i + 2 < 16)
			out[o++] = tab[v & 63];
	}
	out[o] = 0;
	return json_string(out);
}

/* Bytes shown as an object {"size", "truncated", "text" | "base64"}, bounded by the budget. */
static json_t *value_json(struct kd *kd, const uint8_t *p, size_t n)
{
	size_t kept = n < kd->value_budget ? n : kd->value_budget;
	struct http_body b = {.buf = (uint8_t *)p, .len = kept, .max = kept, .size = n};

	if (!kd->json)
		return NULL;
	kd->value_budget -= kept;
	return http_body_to_json(&b, NULL);
}

static json_t *text_json(const uint8_t *p, size_t n)
{
	return entry_json_text(p, n < STRING_SHOW_MAX ? n : STRING_SHOW_MAX);
}

/* "error_code" -> "error_name" (the key the name of an error code goes under). */
static void name_key(const char *code_key, const char *suffix, char *out, size_t size)
{
	size_t n = strlen(code_key);

	if (n > 5 && !strcmp(code_key + n - 5, "_code"))
		n -= 5;
	snprintf(out, size, "%.*s%s", (int)n, code_key, suffix);
}

static void note_error(struct kd *kd, int code)
{
	if (!kafka_error_name(code))
		kd->unknown_error = true;
	if (code && !kd->error_count++)
		kd->first_error = code;
	kd->has_error = true;
}

/* ---- records ---- */

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78): the checksum of magic-2 batches. */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static const char *codec_name(unsigned codec)
{
	return codec < 5 ? codec_names[codec] : "unknown";
}

struct outbuf {
	uint8_t *p;
	size_t len, cap, max;
	bool cut; /* the output reached max before the input ended */
};

static int outbuf_reserve(struct outbuf *o, size_t want)
{
	size_t cap = o->cap ? o->cap : 4096;
	uint8_t *np;

	if (want > o->max)
		want = o->max;
	if (want <= o->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	if (cap > o->max)
		cap = o->max;
	np = realloc(o->p, cap);
	if (!np)
		return -ENOMEM;
	o->p = np;
	o->cap = cap;
	return 0;
}

static const char *inflate_gzip(const uint8_t *p, size_t n, struct outbuf *o)
{
	z_stream zs = {0};
	const char *err = NULL;
	int rc = Z_OK;

	if (inflateInit2(&zs, MAX_WBITS + 32) != Z_OK)
		return "out of memory";
	zs.next_in = (Bytef *)p;
	zs.avail_in = n > UINT_MAX ? UINT_MAX : (unsigned)n;
	while (rc != Z_STREAM_END) {
		if (o->len == o->max) {
			o->cut = true;
			break;
		}
		if (outbuf_reserve(o, o->len + 65536)) {
			err = "out of memory";
			break;
		}
		zs.next_out = o->p + o->len;
		zs.avail_out = (unsigned)(o->cap - o->len);
		rc = inflate(&zs, Z_NO_FLUSH);
		o->len = o->cap - zs.avail_out;
		if (rc == Z_BUF_ERROR && !zs.avail_in) {
			err = "gzip data ends early";
			break;
		}
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			err = zs.msg ? zs.msg : "gzip data error";
			break;
		}
	}
	inflateEnd(&zs);
	return err;
}

/* cache: a context to reuse (created on first use, the caller frees it), or NULL. */
static const char *inflate_zstd(const uint8_t *p, size_t n, struct outbuf *o, ZSTD_DCtx **cache)
{
	ZSTD_DCtx *dc = cache && *cache ? *cache : ZSTD_createDCtx();
	ZSTD_inBuffer in = {p, n, 0};
	const char *err = NULL;
	size_t rc = 1;

	if (!dc)
		return "out of memory";
	if (cache && *cache)
		ZSTD_DCtx_reset(dc, ZSTD_reset_session_only);
	else
		ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
	if (cache)
		*cache = dc;
	while (rc) {
		ZSTD_outBuffer out;

		if (o->len == o->max) {
			o->cut = true;
			break;
		}
		if (outbuf_reserve(o, o->len + 65536)) {
			err = "out of memory";
			break;
		}
		out = (ZSTD_outBuffer){o->p, o->cap, o->len};
		rc = ZSTD_decompressStream(dc, &out, &in);
		o->len = out.pos;
		if (ZSTD_isError(rc)) {
			err = ZSTD_getErrorName(rc);
			break;
		}
		if (rc && in.pos == in.size && out.pos < out.size) {
			err = "zstd data ends early";
			break;
		}
	}
	if (!cache)
		ZSTD_freeDCtx(dc);
	return err;
}

static const char *inflate_lz4(const uint8_t *p, size_t n, struct outbuf *o)
{
	LZ4F_dctx *dc;
	const char *err = NULL;
	size_t pos = 0, rc = 1;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&dc, LZ4F_VERSION)))
		return "out of memory";
	while (rc) {
		size_t dst, src = n - pos;

		if (o->len == o->max) {
			o->cut = true;
			break;
		}
		if (outbuf_reserve(o, o->len + 65536)) {
			err = "out of memory";
			break;
		}
		dst = o->cap - o->len;
		rc = LZ4F_decompress(dc, o->p + o->len, &dst, p + pos, &src, NULL);
		if (LZ4F_isError(rc)) {
			err = LZ4F_getErrorName(rc);
			break;
		}
		o->len += dst;
		pos += src;
		if (rc && pos == n && !dst) {
			err = "lz4 data ends early";
			break;
		}
	}
	LZ4F_freeDecompressionContext(dc);
	return err;
}

static const char *snappy_block(const uint8_t *p, size_t n, struct outbuf *o)
{
	size_t ulen;

	if (snappy_uncompressed_length((const char *)p, n, &ulen) != SNAPPY_OK)
		return "snappy data error";
	if (ulen > o->max - o->len) {
		o->cut = true; /* a block decompresses whole or not at all */
		return NULL;
	}
	if (!ulen) /* nothing to write (o->p may still be NULL): only check the block */
		return snappy_validate_compressed_buffer((const char *)p, n) == SNAPPY_OK
			   ? NULL
			   : "snappy data error";
	if (outbuf_reserve(o, o->len + ulen))
		return "out of memory";
	if (snappy_uncompress((const char *)p, n, (char *)o->p + o->len, &ulen) != SNAPPY_OK)
		return "snappy data error";
	o->len += ulen;
	return NULL;
}

/* Snappy as Kafka's Java clients write it (xerial framing: magic, then length-prefixed
 * blocks), or a single raw block as librdkafka may. */
static const char *inflate_snappy(const uint8_t *p, size_t n, struct outbuf *o)
{
	static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
	size_t off = 16;

	if (n < 16 || memcmp(p, magic, sizeof(magic)))
		return snappy_block(p, n, o);
	while (off < n && !o->cut) {
		uint32_t blen;
		const char *err;

		if (n - off < 4)
			return "snappy framing ends early";
		blen = (uint32_t)be32_at(p + off);
		off += 4;
		if (blen > n - off)
			return "snappy framing ends early";
		err = snappy_block(p + off, blen, o);
		if (err)
			return err;
		off += blen;
	}
	return NULL;
}

/* Decompress p..p+n with the codec into o (at most o->max bytes). NULL or why not. */
static const char *decompress(unsigned codec, const uint8_t *p, size_t n, struct outbuf *o,
			      ZSTD_DCtx **zstd)
{
	switch (codec) {
	case 1:
		return inflate_gzip(p, n, o);
	case 2:
		return inflate_snappy(p, n, o);
	case 3:
		return inflate_lz4(p, n, o);
	case 4:
		return inflate_zstd(p, n, o, zstd);
	}
	return "unknown compression codec";
}

/*
 * Decompress a batch's payload within the message's budget. Returns the bytes (the caller
 * frees them) or NULL, with "decompressed_size" or "decompress_error" set on obj.
 */
static uint8_t *batch_decompress(struct kd *kd, unsigned codec, const uint8_t *p, size_t n,
				 size_t *out_len, json_t *obj)
{
	struct outbuf o = {.max = kd->inflate_budget};
	const char *err;

	*out_len = 0;
	if (!o.max) {
		set_new(obj, "decompress_error",
			json_string("decompression bound reached for this message"));
		return NULL;
	}
	err = decompress(codec, p, n, &o, kd->zstd);
	if (err) {
		kd->decompress_failed++;
		set_new(obj, "decompress_error", json_string(err));
		free(o.p);
		return NULL;
	}
	kd->decompressed++;
	kd->inflate_budget -= o.len;
	set_count(obj, "decompressed_size", o.len);
	if (o.cut)
		set_new(obj, "decompressed_truncated", json_true());
	*out_len = o.len;
	if (!o.p)
		o.p = malloc(1);
	return o.p;
}

/* One record of a v2 batch. */
static void decode_record(struct kd *kd, struct byte_reader *r, int64_t base_offset, int64_t base_ts,
			  bool control, json_t *rec)
{
	int64_t ts_delta, key_len, value_len, nh, i;
	int32_t off_delta;
	const uint8_t *key = NULL, *value;
	json_t *headers = NULL;

	br_u8(r); /* attributes: unused by the format */
	ts_delta = br_zigzag64(r);
	off_delta = br_zigzag32(r);
	key_len = br_zigzag32(r);
	if (key_len < -1)
		br_bad(r, "negative record key length");
	if (key_len > 0)
		key = br_bytes(r, (size_t)key_len);
	if (r->st)
		return;
	set_int(rec, "offset", base_offset + off_delta);
	set_int(rec, "timestamp", base_ts + ts_delta);
	if (key_len >= 0 && rec)
		set_new(rec, "key",
			value_json(kd, key ? key : (const uint8_t *)"", (size_t)key_len));
	if (control && key_len >= 4) {
		int type = (int)be16_at(key + 2);

		set_new(rec, "control_type",
			json_string(type == 0	? "abort"
				    : type == 1 ? "commit"
						: "unknown"));
	}
	value_len = br_zigzag32(r);
	if (value_len < -1)
		br_bad(r, "negative record value length");
	if (value_len >= 0) {
		value = value_len ? br_bytes(r, (size_t)value_len) : (const uint8_t *)"";
		if (!value)
			return;
		if (rec)
			set_new(rec, "value", value_json(kd, value, (size_t)value_len));
	}
	nh = br_zigzag32(r);
	if (nh < 0 || (uint64_t)nh > br_left(r) / 2) {
		br_bad(r, "bad record header count");
		return;
	}
	if (nh && rec)
		headers = json_array();
	for (i = 0; i < nh && !r->st; i++) {
		int64_t hk = br_zigzag32(r), hv;
		const uint8_t *k, *v = NULL;

		if (hk < 0) {
			br_bad(r, "negative record header key length");
			break;
		}
		k = br_bytes(r, (size_t)hk);
		hv = br_zigzag32(r);
		if (hv < -1)
			br_bad(r, "negative record header value length");
		if (hv > 0)
			v = br_bytes(r, (size_t)hv);
		if (r->st)
			break;
		if (headers) {
			json_t *h = json_object();

			set_new(h, "key", text_json(k ? k : (const uint8_t *)"", (size_t)hk));
			if (hv >= 0)
				set_new(h, "value",
					value_json(kd, v ? v : (const uint8_t *)"", (size_t)hv));
			json_array_append_new(headers, h);
		}
	}
	set_new(rec, "headers", headers);
}

/* The records of a v2 batch (p: after the 61-byte header, decompressed when it was). */
static void decode_batch_records(struct kd *kd, const uint8_t *p, size_t n, int32_t count,
				 int64_t base_offset, int64_t base_ts, bool control, json_t *batch)
{
	json_t *list = kd->json ? json_array() : NULL;
	struct byte_reader r;
	int32_t i;
	uint64_t omitted = 0;

	br_init(&r, p, n);
	for (i = 0; i < count && !r.st; i++) {
		int32_t len = br_zigzag32(&r);
		struct byte_reader sub;
		json_t *rec = NULL;

		if (r.st)
			break;
		if (len < 0 || (size_t)len > br_left(&r)) {
			br_bad(&r,
			       len < 0 ? "negative record length" : "record runs past its batch");
			break;
		}
		br_init(&sub, r.p + r.off, (size_t)len);
		r.off += (size_t)len;
		if (list && kd->elements) {
			rec = json_object();
			kd->elements--;
		} else {
			omitted++;
		}
		decode_record(kd, &sub, base_offset, base_ts, control, rec);
		if (!sub.st && sub.off != sub.n)
			br_bad(&sub, "bytes after the record's fields");
		if (sub.st) {
			json_decref(rec);
			r.st = BR_BAD;
			r.why = sub.st == BR_SHORT ? "record shorter than its fields" : sub.why;
			break;
		}
		if (rec)
			json_array_append_new(list, rec);
	}
	if (!r.st && i == count && r.off != n)
		br_bad(&r, "bytes after the batch's records");
	set_new(batch, "records", list);
	if (omitted)
		set_count(batch, "records_omitted", omitted);
	if (r.st)
		set_new(batch, "records_error", json_string(r.why ? r.why : "records cut short"));
}

/* A magic-2 record batch of `total` bytes at p (n of them here). */
static void decode_batch_v2(struct kd *kd, const uint8_t *p, size_t n, size_t total, bool whole,
			    json_t *batch)
{
	int64_t base_offset = (int64_t)be64_at(p), base_ts;
	int16_t attr;
	int32_t count;
	unsigned codec;
	bool control;

	if (total < 61) {
		set_int(batch, "magic", 2);
		set_new(batch, "error", json_string("batch length shorter than its header"));
		return;
	}
	if (n < 61) {
		set_new(batch, "partial", json_true());
		return;
	}
	attr = (int16_t)be16_at(p + 21);
	codec = attr & 7;
	control = attr & 0x20;
	base_ts = (int64_t)be64_at(p + 27);
	count = (int32_t)be32_at(p + 57);
	set_int(batch, "base_offset", base_offset);
	set_int(batch, "batch_length", (int32_t)be32_at(p + 8));
	set_int(batch, "partition_leader_epoch", (int32_t)be32_at(p + 12));
	set_int(batch, "magic", 2);
	set_int(batch, "crc", (uint32_t)be32_at(p + 17));
	set_int(batch, "attributes", attr);
	set_new(batch, "compression", json_string(codec_name(codec)));
	set_new(batch, "timestamp_type",
		json_string(attr & 0x08 ? "log_append_time" : "create_time"));
	if (attr & 0x10)
		set_new(batch, "transactional", json_true());
	if (control)
		set_new(batch, "control", json_true());
	set_int(batch, "last_offset_delta", (int32_t)be32_at(p + 23));
	set_int(batch, "base_timestamp", base_ts);
	set_int(batch, "max_timestamp", (int64_t)be64_at(p + 35));
	set_int(batch, "producer_id", (int64_t)be64_at(p + 43));
	set_int(batch, "producer_epoch", (int16_t)be16_at(p + 51));
	set_int(batch, "base_sequence", (int32_t)be32_at(p + 53));
	set_int(batch, "record_count", count);
	if (count > 0 && whole)
		kd->records += (uint64_t)count;
	if (n < total) {
		/* Not all here: cut by floe's bound or a gap (whole on the wire: counted), or at
		 * the end of a fetch response by the broker's size limit (not counted: the client
		 * does not get those records from this response). */
		set_new(batch, "partial", json_true());
		return;
	}
	/* The checksum covers the attributes to the batch's end. */
	if (kd->json)
		set_new(batch, "crc_valid",
			json_boolean(crc32c(p + 21, total - 21) == (uint32_t)be32_at(p + 17)));
	if (count < 0) {
		set_new(batch, "records_error", json_string("negative record count"));
		return;
	}
	if (codec == 0) {
		decode_batch_records(kd, p + 61, total - 61, count, base_offset, base_ts, control,
				     batch);
	} else if (codec <= 4 && kd->json) {
		size_t len;
		uint8_t *raw = batch_decompress(kd, codec, p + 61, total - 61, &len, batch);

		if (raw)
			decode_batch_records(kd, raw, len, count, base_offset, base_ts, control,
					     batch);
		free(raw);
	}
}

static void decode_message_set(struct kd *kd, const uint8_t *p, size_t n, uint64_t declared,
			       json_t *obj, unsigned depth);

/* A legacy message (magic 0 or 1) of `total` bytes at p (n of them here). */
static void decode_legacy(struct kd *kd, const uint8_t *p, size_t n, size_t total, json_t *msg,
			  unsigned depth)
{
	int magic = p[16];
	size_t head = magic == 1 ? 26 : 18; /* where the key length is */
	struct byte_reader r;
	int64_t klen, vlen;
	const uint8_t *key = NULL, *value = NULL;
	unsigned codec;

	set_int(msg, "offset", (int64_t)be64_at(p));
	set_int(msg, "message_size", (int32_t)be32_at(p + 8));
	set_int(msg, "magic", magic);
	if (n < total || total < head + 8) {
		set_new(msg, "partial", json_true());
		return;
	}
	codec = p[17] & 7;
	set_int(msg, "crc", (uint32_t)be32_at(p + 12));
	/* CRC-32 (zlib's) from the magic byte to the message's end. */
	if (kd->json)
		set_new(msg, "crc_valid",
			json_boolean(crc32(0, p + 16, (uInt)(total - 16)) == be32_at(p + 12)));
	set_int(msg, "attributes", p[17]);
	set_new(msg, "compression", json_string(codec_name(codec)));
	if (magic == 1)
		set_int(msg, "timestamp", (int64_t)be64_at(p + 18));
	br_init(&r, p + head, total - head);
	klen = rd_len(&r, false, true);
	if (klen > 0)
		key = br_bytes(&r, (size_t)klen);
	vlen = rd_len(&r, false, true);
	if (vlen > 0)
		value = br_bytes(&r, (size_t)vlen);
	if (r.st || r.off != r.n) {
		set_new(msg, "error", json_string("message fields do not fit its size"));
		return;
	}
	if (codec == 0) {
		kd->records++;
		if (!msg)
			return;
		if (klen >= 0)
			set_new(msg, "key",
				value_json(kd, key ? key : (const uint8_t *)"", (size_t)klen));
		if (vlen >= 0)
			set_new(msg, "value",
				value_json(kd, value ? value : (const uint8_t *)"", (size_t)vlen));
		return;
	}
	/* A wrapper: its value is a compressed message set. */
	if (!kd->json)
		return;
	if (depth >= LEGACY_DEPTH_MAX || vlen <= 0) {
		set_new(msg, "decompress_error", json_string("nested compressed message set"));
		return;
	}
	{
		size_t len;
		uint8_t *raw = batch_decompress(kd, codec, value, (size_t)vlen, &len, msg);
		json_t *inner = kd->json ? json_object() : NULL;

		if (raw) {
			decode_message_set(kd, raw, len, len, inner, depth + 1);
			set_new(msg, "messages", json_incref(json_object_get(inner, "batches")));
		}
		json_decref(inner);
		free(raw);
	}
}

/*
 * Record batches or legacy messages, one after the other; sets "batches" on obj. n bytes are
 * here of the `declared` the records field has on the wire.
 */
static void decode_message_set(struct kd *kd, const uint8_t *p, size_t n, uint64_t declared,
			       json_t *obj, unsigned depth)
{
	json_t *list = kd->json ? json_array() : NULL;
	size_t off = 0;
	uint64_t omitted = 0;

	while (off < n) {
		size_t left = n - off, total;
		int64_t blen;
		json_t *b = NULL;

		if (left < 17) {
			set_new(obj, "partial_batch", json_true());
			break;
		}
		blen = (int32_t)be32_at(p + off + 8);
		if (blen < 0) {
			set_new(obj, "error", json_string("negative batch length"));
			break;
		}
		total = 12 + (size_t)blen;
		if (list && kd->elements) {
			b = json_object();
			kd->elements--;
		} else {
			omitted++;
		}
		kd->batches++;
		if (p[off + 16] == 2) {
			decode_batch_v2(kd, p + off, left, total, off + total <= declared, b);
		} else if (p[off + 16] <= 1) {
			decode_legacy(kd, p + off, left, total, b, depth);
		} else {
			set_int(b, "magic", p[off + 16]);
			set_new(b, "error", json_string("unknown magic"));
			if (b)
				json_array_append_new(list, b);
			break;
		}
		if (b)
			json_array_append_new(list, b);
		if (total > left) {
			set_new(obj, "partial_batch", json_true());
			break;
		}
		off += total;
	}
	set_new(obj, "batches", list);
	if (omitted)
		set_count(obj, "batches_omitted", omitted);
}

/* ---- schema-driven decoding ---- */

static bool in_version(const struct kafka_field *f, int v)
{
	return v >= f->vmin && (f->vmax == KAFKA_VMAX || v <= f->vmax);
}

static void decode_struct(struct kd *kd, struct byte_reader *r, const struct kafka_field *fields,
			  json_t *obj);
static bool body_fits(const struct kafka_field *fields, int version, bool flex, const uint8_t *p,
		      size_t n, bool trailing_ok);
static void consumer_protocol(struct kd *kd, uint8_t role, const uint8_t *p, size_t n, json_t *v);

static void decode_int(struct kd *kd, struct byte_reader *r, const struct kafka_field *f, json_t *obj)
{
	char key[96];
	int64_t v;

	switch (f->type) {
	case KAFKA_T_INT8:
		v = (int8_t)br_u8(r);
		break;
	case KAFKA_T_INT16:
		v = (int16_t)br_u16(r);
		break;
	case KAFKA_T_INT32:
		v = (int32_t)br_u32(r);
		break;
	default:
		v = (int64_t)br_u64(r);
		break;
	}
	if (r->st)
		return;
	set_int(obj, f->name, v);
	switch (f->role) {
	case KAFKA_R_ERROR: {
		const char *name = kafka_error_name((int)v);

		note_error(kd, (int)v);
		name_key(f->name, "_name", key, sizeof(key));
		if (name)
			set_new(obj, key, json_string(name));
		break;
	}
	case KAFKA_R_API_KEY: {
		const struct kafka_api *api = kafka_api_get((int)v);

		if (api)
			set_new(obj, "api_name", json_string(api->name));
		break;
	}
	case KAFKA_R_PARTITION:
		kd->partitions++;
		break;
	}
}

static void decode_array(struct kd *kd, struct byte_reader *r, const struct kafka_field *f, json_t *obj)
{
	int64_t count = rd_count(r, kd->flex), i;
	size_t min = f->type == KAFKA_T_ARRAY_INT32 ? 4 : f->type == KAFKA_T_ARRAY_INT64 ? 8 : 1;
	json_t *list = NULL;
	uint64_t omitted = 0;
	char key[96];

	if (r->st || count < 0)
		return; /* null: left out */
	if ((!r->cut || r->declared) && (uint64_t)count > br_left_declared(r) / min) {
		br_bad(r, "array count larger than the bytes left");
		return;
	}
	if (obj)
		list = json_array();
	if (f->role == KAFKA_R_PARTITION)
		kd->partitions += (uint64_t)count;
	for (i = 0; i < count && !r->st; i++) {
		size_t before = r->off;
		bool show = list && kd->elements;
		json_t *el = NULL;

		switch (f->type) {
		case KAFKA_T_ARRAY: {
			json_t *o = show ? json_object() : NULL;

			decode_struct(kd, r, f->fields, o);
			el = o;
			break;
		}
		case KAFKA_T_ARRAY_INT32: {
			int32_t v = (int32_t)br_u32(r);

			el = show ? json_integer(v) : NULL;
			break;
		}
		case KAFKA_T_ARRAY_INT64: {
			int64_t v = (int64_t)br_u64(r);

			el = show ? json_integer(v) : NULL;
			break;
		}
		default: { /* array of strings */
			int64_t len = rd_len(r, kd->flex, false);
			const uint8_t *s = len > 0 ? br_bytes(r, (size_t)len) : NULL;

			if (r->st || len < 0)
				break;
			if (f->role == KAFKA_R_TOPIC && kd->json)
				summary_add(&kd->topics, text_json(s, (size_t)len));
			el = show ? text_json(s ? s : (const uint8_t *)"", (size_t)len) : NULL;
			break;
		}
		}
		if (r->off == before && !r->st)
			br_bad(r, "empty array element");
		if (el) {
			/* Also when cut inside it: what was decoded of it is shown. */
			kd->elements--;
			json_array_append_new(list, el);
		} else if (!r->st) {
			omitted++;
		}
	}
	if (list)
		set_new(obj, f->name, list);
	if (omitted) {
		name_key(f->name, "_omitted", key, sizeof(key));
		set_count(obj, key, omitted);
	}
}

static void decode_field(struct kd *kd, struct byte_reader *r, const struct kafka_field *f, json_t *obj)
{
	switch (f->type) {
	case KAFKA_T_BOOL: {
		int8_t v = (int8_t)br_u8(r);

		if (!r->st && obj)
			json_object_set_new(obj, f->name, json_boolean(v));
		break;
	}
	case KAFKA_T_INT8:
	case KAFKA_T_INT16:
	case KAFKA_T_INT32:
	case KAFKA_T_INT64:
		decode_int(kd, r, f, obj);
		break;
	case KAFKA_T_UUID: {
		const uint8_t *u = br_bytes(r, 16);
		static const uint8_t zero[16];

		if (!u)
			break;
		if (obj)
			set_new(obj, f->name, uuid_json(u));
		if (f->role == KAFKA_R_TOPIC_ID && kd->json && memcmp(u, zero, 16))
			summary_add(&kd->topic_ids, uuid_json(u));
		break;
	}
	case KAFKA_T_STRING: {
		int64_t len = rd_len(r, kd->flex, false);
		const uint8_t *s = len > 0 ? br_bytes(r, (size_t)len) : NULL;

		if (r->st || len < 0)
			break; /* null: left out */
		if (!s)
			s = (const uint8_t *)"";
		if (obj)
			set_new(obj, f->name, text_json(s, (size_t)len));
		if (f->role == KAFKA_R_TOPIC && kd->json)
			summary_add(&kd->topics, text_json(s, (size_t)len));
		break;
	}
	case KAFKA_T_BYTES:
	case KAFKA_T_RECORDS: {
		int64_t len = rd_len(r, kd->flex, true);
		size_t here;
		json_t *o;

		if (r->st || len < 0)
			break;
		if (r->declared && (uint64_t)len > br_left_declared(r)) {
			br_bad(r, "bytes past the message's declared end");
			break;
		}
		here = (uint64_t)len < br_left(r) ? (size_t)len : br_left(r);
		if (!r->cut && here < (uint64_t)len) {
			r->st = BR_SHORT;
			break;
		}
		if (f->type == KAFKA_T_BYTES) {
			json_t *v = obj ? value_json(kd, r->p + r->off, here) : NULL;

			if (f->role == KAFKA_R_SUBSCRIPTION || f->role == KAFKA_R_ASSIGNMENT)
				consumer_protocol(kd, f->role, r->p + r->off, here, v);
			set_new(obj, f->name, v);
		} else {
			o = kd->json ? json_object() : NULL;
			set_count(o, "size", (uint64_t)len);
			decode_message_set(kd, r->p + r->off, here, (uint64_t)len, o, 0);
			if (obj)
				set_new(obj, f->name, o);
			else
				json_decref(o);
		}
		r->off += here;
		if (here < (uint64_t)len)
			r->st = BR_SHORT;
		break;
	}
	case KAFKA_T_STRUCT: {
		json_t *o = obj ? json_object() : NULL;

		decode_struct(kd, r, f->fields, o);
		set_new(obj, f->name, o);
		break;
	}
	default:
		decode_array(kd, r, f, obj);
		break;
	}
}

/*
 * Group members' metadata and assignments are opaque to the group protocol; for consumer
 * groups (and Kafka Streams) they hold the consumer protocol: decoded into "consumer_protocol"
 * on v when the bytes fit it exactly (other protocol types, Connect's say, do not).
 */
static void consumer_protocol(struct kd *kd, uint8_t role, const uint8_t *p, size_t n, json_t *v)
{
	const struct kafka_field *fields =
	    role == KAFKA_R_SUBSCRIPTION ? kafka_consumer_subscription : kafka_consumer_assignment;
	int version, saved_version = kd->version;
	bool saved_flex = kd->flex;
	json_t *o;
	struct byte_reader r;

	if (n < 2)
		return;
	version = (int16_t)be16_at(p);
	/* A later version adds fields at the end: the known ones are read, the rest left. */
	if (version < 0 ||
	    !body_fits(fields,
		       version > KAFKA_CONSUMER_PROTOCOL_MAX ? KAFKA_CONSUMER_PROTOCOL_MAX
							     : version,
		       false, p + 2, n - 2, version > KAFKA_CONSUMER_PROTOCOL_MAX))
		return;
	o = v ? json_object() : NULL;
	set_int(o, "version", version);
	kd->version = version > KAFKA_CONSUMER_PROTOCOL_MAX ? KAFKA_CONSUMER_PROTOCOL_MAX : version;
	kd->flex = false;
	br_init(&r, p + 2, n - 2);
	decode_struct(kd, &r, fields, o);
	kd->version = saved_version;
	kd->flex = saved_flex;
	set_new(v, "consumer_protocol", o);
}

/* The tagged-fields section that ends a struct in flexible versions. */
static void decode_tagged(struct kd *kd, struct byte_reader *r, const struct kafka_field *fields,
			  json_t *obj)
{
	uint32_t n = (uint32_t)br_uvarint(r, 32), i;
	json_t *unknown = NULL;

	if (!r->st && n > br_left(r) / 2 && !r->cut) {
		br_bad(r, "tagged field count larger than the bytes left");
		return;
	}
	for (i = 0; i < n && !r->st; i++) {
		uint32_t tag = (uint32_t)br_uvarint(r, 32), size = (uint32_t)br_uvarint(r, 32);
		const struct kafka_field *f;
		struct byte_reader sub;

		if (!br_need(r, size))
			break;
		for (f = fields; f->type != KAFKA_T_END; f++)
			if (f->tag >= 0 && (uint32_t)f->tag == tag && in_version(f, kd->version))
				break;
		if (f->type == KAFKA_T_END) {
			if (obj && !unknown)
				unknown = json_array();
			if (unknown)
				json_array_append_new(unknown, json_integer(tag));
			r->off += size;
			continue;
		}
		br_init(&sub, r->p + r->off, size);
		decode_field(kd, &sub, f, obj);
		if (!sub.st && sub.off != sub.n)
			br_bad(&sub, "tagged field longer than its value");
		if (sub.st) {
			r->st = BR_BAD;
			r->why =
			    sub.st == BR_SHORT ? "tagged field shorter than its value" : sub.why;
			r->bad_at = r->off + sub.off;
			break;
		}
		r->off += size;
	}
	set_new(obj, "unknown_tags", unknown);
}

static void decode_struct(struct kd *kd, struct byte_reader *r, const struct kafka_field *fields,
			  json_t *obj)
{
	const struct kafka_field *f;

	for (f = fields; f->type != KAFKA_T_END && !r->st; f++)
		if (f->tag < 0 && in_version(f, kd->version))
			decode_field(kd, r, f, obj);
	if (kd->flex && !r->st)
		decode_tagged(kd, r, fields, obj);
}

/* Skip a tagged-fields section (message headers). */
static void skip_tagged(struct byte_reader *r)
{
	uint32_t n = (uint32_t)br_uvarint(r, 32), i;

	for (i = 0; i < n && !r->st; i++) {
		br_uvarint(r, 32); /* the tag */
		br_bytes(r, (uint32_t)br_uvarint(r, 32));
	}
}

/* ---- headers ---- */

struct khdr {
	int api_key, api_version;
	int32_t correlation_id;
	int64_t client_id_len; /* -1: null */
	const uint8_t *client_id;
	const struct kafka_api *api; /* NULL: unknown key */
	bool flex;		     /* flexible version (known API only) */
	size_t len;		     /* header bytes after the length prefix */
};

static bool api_flexible(const struct kafka_api *api, int version)
{
	return api && api->flexible_min >= 0 && version >= api->flexible_min;
}

/* Request header v0/v1/v2 from the bytes after the length prefix. */
static enum br_status request_header(const uint8_t *p, size_t n, bool cut, struct khdr *h)
{
	struct byte_reader r;

	memset(h, 0, sizeof(*h));
	br_init(&r, p, n);
	r.cut = cut;
	h->api_key = (int16_t)br_u16(&r);
	h->api_version = (int16_t)br_u16(&r);
	h->api = kafka_api_get(h->api_key);
	h->flex = api_flexible(h->api, h->api_version);
	h->correlation_id = (int32_t)br_u32(&r);
	h->client_id_len = -1;
	if (r.st)
		return r.st;
	if (!(h->api_key == 7 && h->api_version == 0)) { /* ControlledShutdown v0: header v0 */
		h->client_id_len = rd_len(&r, false, false);
		if (h->client_id_len > 0)
			h->client_id = br_bytes(&r, (size_t)h->client_id_len);
	}
	if (h->flex)
		skip_tagged(&r);
	h->len = r.off;
	return r.st;
}

static bool printable(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/*
 * Decode a body only to see that it fits (detection): known error codes, and its exact length
 * unless trailing bytes are allowed (brokers ignore them, and old librdkafka sends four after
 * an ApiVersions v0 request).
 */
static bool body_fits(const struct kafka_field *fields, int version, bool flex, const uint8_t *p,
		      size_t n, bool trailing_ok)
{
	struct kd kd;
	struct byte_reader r;
	bool ok;

	kd_init(&kd, version, flex, false, 0);
	br_init(&r, p, n);
	decode_struct(&kd, &r, fields, NULL);
	ok = !r.st && (r.off == n || trailing_ok) && !kd.unknown_error;
	kd_free(&kd);
	return ok;
}

/*
 * Do p..p+n start like a Kafka request? YES when the header is plausible (known API key,
 * version, printable client id) and, when the whole message is here and its body has a
 * table, the body decodes to exactly its end.
 */
static enum detect_result request_check(const uint8_t *p, size_t n)
{
	struct khdr h;
	uint32_t len;
	enum br_status st;
	size_t avail;

	if (n < 4)
		return DETECT_MAYBE;
	len = (uint32_t)be32_at(p);
	if (len < 10 || len > KAFKA_REQUEST_MAX)
		return DETECT_NO;
	if (n < 8)
		return n >= 6 && be16_at(p + 4) > KAFKA_API_KEY_MAX ? DETECT_NO : DETECT_MAYBE;
	avail = n - 4 < len ? n - 4 : len;
	st = request_header(p + 4, avail, avail < len, &h);
	if (!h.api || h.api_version < 0 || h.api_version > h.api->max_version + VERSION_SLACK ||
	    (h.api_key == 7 && h.api_version == 0))
		return DETECT_NO;
	if (avail >= 8 && h.correlation_id < 0)
		return DETECT_NO;
	if (avail < 10)
		return DETECT_MAYBE;
	if (h.client_id_len < -1 || h.client_id_len > (int64_t)len - 10)
		return DETECT_NO;
	if (h.client_id_len > 0) {
		size_t have =
		    avail - 10 < (size_t)h.client_id_len ? avail - 10 : (size_t)h.client_id_len;

		if (!printable(p + 14, have))
			return DETECT_NO;
		if (have < (size_t)h.client_id_len && have < 16)
			return DETECT_MAYBE;
	}
	if (avail < len) {
		/* Without a client id of a few characters, only a whole message that decodes is
		 * taken (a DNS query over TCP can pass for a Produce request with a 1-byte id). */
		return h.client_id_len >= CLIENT_ID_SHORT ? DETECT_YES : DETECT_NO;
	}
	if (st)
		return DETECT_NO;
	if (h.api->request && h.api_version <= h.api->max_version)
		return body_fits(h.api->request, h.api_version, h.flex, p + 4 + h.len, len - h.len,
				 h.client_id_len >= CLIENT_ID_SHORT)
			   ? DETECT_YES
			   : DETECT_NO;
	return h.client_id_len >= CLIENT_ID_SHORT ? DETECT_YES : DETECT_NO;
}

/* Do p..p+n hold exactly whole messages (length-prefixed, correlation id >= 0)? */
static bool response_chain(const uint8_t *p, size_t n)
{
	size_t off = 0;
	unsigned frames = 0;

	while (n - off >= 8) {
		uint32_t len = (uint32_t)be32_at(p + off);

		if (len < 4 || len > KAFKA_RESPONSE_MAX || (int32_t)be32_at(p + off + 4) < 0)
			return false;
		if (len > n - off - 4)
			return false;
		off += 4 + (size_t)len;
		frames++;
	}
	return frames && off == n;
}

/* Does a response body (after the correlation id) decode as some API's response? */
static bool response_fits_some_api(const uint8_t *p, size_t n)
{
	int key, v;

	for (key = 0; key <= KAFKA_API_KEY_MAX; key++) {
		const struct kafka_api *api = kafka_api_get(key);

		if (!api || !api->response)
			continue;
		for (v = 0; v <= api->max_version; v++) {
			bool flex = api_flexible(api, v);
			struct byte_reader r;

			br_init(&r, p, n);
			if (flex && key != 18)
				skip_tagged(&r);
			if (r.st)
				continue;
			if (body_fits(api->response, v, flex, p + r.off, n - r.off, false))
				return true;
		}
	}
	return false;
}

/* Responses are only recognised alone when they are whole, small and fit a known API. */
static enum detect_result response_check(const uint8_t *p, size_t n)
{
	uint32_t len;

	if (n < 4)
		return DETECT_MAYBE;
	len = (uint32_t)be32_at(p);
	if (len < 12 || len > DETECT_RESPONSE_MAX)
		return DETECT_NO;
	if (n < 8)
		return DETECT_MAYBE;
	if ((int32_t)be32_at(p + 4) < 0)
		return DETECT_NO;
	/* A response seen first is taken only whole: waiting for more would hold other
	 * protocols' first bytes (PostgreSQL's startup message looks like a short frame). */
	if (n - 4 < len || !response_chain(p, n))
		return DETECT_NO;
	return response_fits_some_api(p + 8, len - 4) ? DETECT_YES : DETECT_NO;
}

static enum detect_result kafka_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	enum detect_result r = request_check(p, n), s;

	(void)dir; /* roles guessed from ports may be swapped: both shapes are looked for */
	if (r == DETECT_YES)
		return r;
	s = response_check(p, n);
	if (s == DETECT_YES)
		return s;
	return r == DETECT_MAYBE || s == DETECT_MAYBE ? DETECT_MAYBE : DETECT_NO;
}

/* ---- connection state ---- */

struct kreq {
	struct pending_link link; /* weight: the record bytes its entry keeps */
	struct entry *e;
	int32_t correlation_id;
	int api_key, api_version;
};

/* A message being received in one direction. */
struct kdir {
	bool in_msg;
	bool resync;  /* look for the next message start */
	bool frozen;  /* a gap cut the message: no more bytes are kept */
	bool tentative; /* a response taken at a resync, not all in the bytes that had it: a
			 * proven response start inside it means it was none */
	uint32_t len; /* declared length */
	uint64_t got; /* bytes of it received (after the length prefix) */
	uint64_t gap_bytes;
	uint64_t skipped; /* received past the decode bound, not kept */
	uint64_t ts_first;
	uint8_t *buf; /* the kept prefix */
	size_t buf_len, buf_cap;
};

struct kafka_st {
	struct conn *c;
	struct kdir d[2];
	int req_dir; /* the direction requests go, or -1 until known */
	struct pending_queue pending; /* requests in order; weight: record bytes kept */
	ZSTD_DCtx *zstd;		    /* reused by every zstd batch of the connection */
	enum entry_missing_reason lost_why; /* why responses skipped over were lost */
	size_t decode_max;
	size_t body_max;
};

/* One framed message. */
struct kmsg {
	const uint8_t *p; /* the kept bytes after the length prefix */
	size_t n;
	uint32_t len; /* declared length */
	bool cut;     /* n < len */
	bool ended;   /* the connection ended inside it */
	uint64_t gap_bytes, skipped;
	uint64_t ts_first, ts_end;
};

static void count(struct kafka_st *st, enum kafka_counter idx, uint64_t n)
{
	if (n)
		conn_counter_add(st->c, idx, n);
}

/* ---- entries ---- */

static void emit(struct kafka_st *st, struct entry *e)
{
	e->protocol = "kafka";
	conn_emit(st->c, e);
}

static struct entry *new_entry(struct kafka_st *st)
{
	struct entry *e = conn_entry_new(st->c);

	if (!e)
		return NULL;
	e->protocol = "kafka";
	if (st->req_dir == TCP_DIR_S2C) {
		/* The peer the engine took for the server sends the requests. */
		struct entry_endpoint t = e->src;

		e->src = e->dst;
		e->dst = t;
	}
	return e;
}

static void response_lost(struct kafka_st *st, struct kreq *q, enum entry_missing_reason why)
{
	q->e->missing = ENTRY_MISSING_RESPONSE;
	q->e->missing_reason = why;
	emit(st, q->e);
	free(q);
}

static bool kreq_is(const struct pending_link *l, const void *corr)
{
	return pending_entry(l, struct kreq, link)->correlation_id == *(const int32_t *)corr;
}

static struct kreq *pending_take(struct kafka_st *st, int32_t corr)
{
	struct pending_link *l = pending_find(&st->pending, kreq_is, &corr);

	if (!l)
		return NULL;
	/* Brokers answer in order: the requests before it lost their responses. */
	while (st->pending.head != l)
		response_lost(st, pending_entry(pending_pop(&st->pending), struct kreq, link),
			      st->lost_why);
	pending_pop(&st->pending);
	return pending_entry(l, struct kreq, link);
}

static void pending_add(struct kafka_st *st, struct kreq *q)
{
	struct pending_link *old = pending_push(&st->pending, &q->link);

	if (old) {
		conn_count_parse_error(st->c);
		response_lost(st, pending_entry(old, struct kreq, link),
			      ENTRY_REASON_TOO_MANY_PENDING);
	}
}

/* Size, truncation and gap facts of a message on its JSON object. */
static void msg_facts(json_t *o, const struct kmsg *m, size_t header_len)
{
	set_count(o, "body_size", m->len > header_len ? m->len - header_len : 0);
	if (m->cut)
		set_new(o, "truncated", json_true());
	if (m->skipped)
		set_count(o, "skipped_bytes", m->skipped);
	if (m->gap_bytes)
		set_count(o, "gap_bytes", m->gap_bytes);
}

/*
 * Decode a body with its table; sets "body", the summaries and any "malformed" on o. Keeps
 * at most `budget` bytes of record keys and values (and bytes fields); returns how many.
 */
static size_t decode_body(struct kafka_st *st, const struct kafka_field *fields, int version,
			  bool flex, const uint8_t *p, size_t n, bool cut, size_t at, json_t *o,
			  bool response, size_t budget)
{
	struct kd kd;
	struct byte_reader r;
	json_t *body = json_object();

	kd_init(&kd, version, flex, true, budget);
	kd.zstd = &st->zstd;
	br_init(&r, p, n);
	r.cut = cut;
	decode_struct(&kd, &r, fields, body);
	set_new(o, "body", body);
	if (!r.st && r.off != n && !cut)
		set_count(o, "trailing_bytes", n - r.off); /* brokers ignore them too */
	if (r.st == BR_BAD || (r.st == BR_SHORT && !cut)) {
		set_new(o, "malformed",
			json_string(r.st == BR_BAD ? r.why : "the body ends inside a field"));
		set_count(o, "malformed_offset", at + (r.st == BR_BAD ? r.bad_at : r.off));
		count(st, KAFKA_C_MALFORMED, 1);
		conn_count_parse_error(st->c);
	} else if (r.st == BR_SHORT) {
		set_new(o, "truncated", json_true());
	}
	if (kd.topics)
		json_object_set(o, "topics", kd.topics);
	if (kd.topic_ids)
		json_object_set(o, "topic_ids", kd.topic_ids);
	if (kd.partitions)
		set_count(o, "partition_count", kd.partitions);
	if (kd.batches) {
		set_count(o, "batch_count", kd.batches);
		set_count(o, "record_count", kd.records);
	}
	if (response && kd.has_error) {
		const char *name = kafka_error_name(kd.first_error);

		set_int(o, "error_code", kd.first_error);
		if (name)
			set_new(o, "error_name", json_string(name));
		set_count(o, "error_count", kd.error_count);
	}
	count(st, KAFKA_C_DECOMPRESSED, kd.decompressed);
	count(st, KAFKA_C_DECOMPRESS_FAILED, kd.decompress_failed);
	kd_free(&kd);
	return budget - kd.value_budget;
}

static bool acks_zero(const json_t *req)
{
	const json_t *acks = json_object_get(json_object_get(req, "body"), "acks");

	return acks && json_integer_value(acks) == 0;
}

static void handle_request(struct kafka_st *st, const struct kmsg *m,
			   enum entry_missing_reason ended)
{
	struct khdr h;
	enum br_status hs = request_header(m->p, m->n, m->cut, &h);
	struct entry *e;
	json_t *o;
	struct kreq *q;
	size_t values = 0, budget = st->body_max;

	if (st->pending.weight >= KAFKA_PENDING_VALUES_MAX)
		budget = 0;
	else if (budget > KAFKA_PENDING_VALUES_MAX - st->pending.weight)
		budget = KAFKA_PENDING_VALUES_MAX - st->pending.weight;
	if (hs && m->n < 8) {
		/* Not even the correlation id: nothing to pair or show. */
		conn_count_parse_error(st->c);
		return;
	}
	e = new_entry(st);
	o = json_object();
	if (!e || !o) {
		entry_free(e);
		json_decref(o);
		return;
	}
	snprintf(e->version, sizeof(e->version), "%d", h.api_version);
	e->request_ts_ns = m->ts_first;
	e->request_end_ns = m->ts_end;
	e->request_size = 4 + (uint64_t)m->len;
	set_int(o, "api_key", h.api_key);
	if (h.api)
		set_new(o, "api_name", json_string(h.api->name));
	set_int(o, "api_version", h.api_version);
	set_int(o, "correlation_id", h.correlation_id);
	if (!hs && h.client_id_len >= 0)
		set_new(o, "client_id",
			text_json(h.client_id ? h.client_id : (const uint8_t *)"",
				  (size_t)h.client_id_len));
	msg_facts(o, m, hs ? m->n : h.len);
	if (hs == BR_BAD || (hs == BR_SHORT && !m->cut)) {
		set_new(o, "malformed", json_string("the request header does not decode"));
		count(st, KAFKA_C_MALFORMED, 1);
		conn_count_parse_error(st->c);
	} else if (hs == BR_SHORT) {
		set_new(o, "body_undecoded", json_string("truncated"));
	} else if (!h.api) {
		set_new(o, "body_undecoded", json_string("unknown_api_key"));
	} else if (h.api_version > h.api->max_version) {
		set_new(o, "body_undecoded", json_string("unsupported_version"));
	} else if (!h.api->request) {
		set_new(o, "body_undecoded", json_string("api_not_decoded"));
	} else {
		values = decode_body(st, h.api->request, h.api_version, h.flex, m->p + h.len,
				     m->n - h.len, m->cut, h.len, o, false, budget);
	}
	json_object_set_new(entry_fields_rw(e), "request", o);
	if (h.api_key == 0 && acks_zero(o)) {
		/* acks=0: the broker never answers. */
		json_object_set_new(o, "no_response", json_true());
		emit(st, e);
		return;
	}
	if (m->ended) {
		e->missing = ENTRY_MISSING_RESPONSE;
		e->missing_reason = ended;
		emit(st, e);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		emit(st, e);
		return;
	}
	q->e = e;
	q->correlation_id = h.correlation_id;
	q->api_key = h.api_key;
	q->api_version = h.api_version;
	q->link.weight = values;
	pending_add(st, q);
}

static void handle_response(struct kafka_st *st, const struct kmsg *m,
			    enum entry_missing_reason ended)
{
	struct kreq *q;
	struct entry *e;
	json_t *o;
	struct byte_reader r;
	int32_t corr;

	if (m->n < 4) {
		conn_count_parse_error(st->c);
		return;
	}
	corr = (int32_t)be32_at(m->p);
	q = pending_take(st, corr);
	o = json_object();
	if (!o)
		goto out;
	set_int(o, "correlation_id", corr);
	if (!q) {
		/* Its request was never seen (capture started later, or it was lost). */
		e = new_entry(st);
		if (!e) {
			json_decref(o);
			return;
		}
		msg_facts(o, m, 4);
		set_new(o, "body_undecoded", json_string("no_request"));
		e->missing = ENTRY_MISSING_REQUEST;
		e->missing_reason = ENTRY_REASON_GAP;
	} else {
		int key = q->api_key, version = q->api_version;
		const struct kafka_api *api = kafka_api_get(key);
		bool flex = api_flexible(api, version);

		e = q->e;
		free(q);
		q = NULL;
		br_init(&r, m->p, m->n);
		r.cut = m->cut;
		br_u32(&r); /* the correlation id, read above */
		/* Response header v1 has tagged fields, except ApiVersions' (always v0). */
		if (flex && key != 18)
			skip_tagged(&r);
		msg_facts(o, m, r.st ? m->n : r.off);
		if (r.st) {
			set_new(o, "body_undecoded", json_string("truncated"));
		} else if (!api) {
			set_new(o, "body_undecoded", json_string("unknown_api_key"));
		} else if (version > api->max_version) {
			set_new(o, "body_undecoded", json_string("unsupported_version"));
		} else if (!api->response) {
			set_new(o, "body_undecoded", json_string("api_not_decoded"));
		} else if (key == 18 && version > 0 && m->n >= 6 && be16_at(m->p + 4) == 35 &&
			   !m->cut &&
			   body_fits(api->response, 0, false, m->p + 4, m->n - 4, false)) {
			/* A broker that does not support the ApiVersions version asked for
			 * answers UNSUPPORTED_VERSION in version 0. */
			decode_body(st, api->response, 0, false, m->p + 4, m->n - 4, false, 4, o,
				    true, st->body_max);
			set_int(o, "decoded_as_version", 0);
		} else {
			decode_body(st, api->response, version, flex, m->p + r.off, m->n - r.off,
				    m->cut, r.off, o, true, st->body_max);
		}
		if (m->ended) {
			e->missing = ENTRY_MISSING_RESPONSE;
			e->missing_reason = ended;
		}
	}
	e->response_ts_ns = m->ts_first;
	e->response_end_ns = m->ts_end;
	e->response_size = 4 + (uint64_t)m->len;
	json_object_set_new(entry_fields_rw(e), "response", o);
	emit(st, e);
	return;
out:
	if (q)
		response_lost(st, q, ENTRY_REASON_PARSE_ERROR);
}

static void handle_message(struct kafka_st *st, enum tcp_dir dir, const struct kmsg *m,
			   enum entry_missing_reason ended)
{
	if (m->skipped) {
		count(st, KAFKA_C_OVERSIZED, 1);
		count(st, KAFKA_C_SKIPPED_BYTES, m->skipped);
	}
	if ((int)dir == st->req_dir)
		handle_request(st, m, ended);
	else
		handle_response(st, m, ended);
}

/* ---- framing ---- */

static void dir_reset(struct kdir *d)
{
	d->in_msg = false;
	d->frozen = false;
	d->tentative = false;
	d->len = 0;
	d->got = 0;
	d->gap_bytes = 0;
	d->skipped = 0;
	d->buf_len = 0;
	if (d->buf_cap > (64u << 10)) {
		free(d->buf);
		d->buf = NULL;
		d->buf_cap = 0;
	}
}

/* The streamed message of dir is complete (or cut for good: ended). */
static void finish_streamed(struct kafka_st *st, enum tcp_dir dir, uint64_t ts_end, bool ended,
			    enum entry_missing_reason why)
{
	struct kdir *d = &st->d[dir];
	struct kmsg m = {
	    .p = d->buf,
	    .n = d->buf_len,
	    .len = d->len,
	    .cut = d->buf_len < d->len,
	    .ended = ended,
	    .gap_bytes = d->gap_bytes,
	    .skipped = d->skipped,
	    .ts_first = d->ts_first,
	    .ts_end = ts_end,
	};

	handle_message(st, dir, &m, why);
	dir_reset(d);
}

static size_t stream_msg(struct kafka_st *st, enum tcp_dir dir, const uint8_t *p, size_t n,
			 uint64_t ts_last)
{
	struct kdir *d = &st->d[dir];
	uint64_t want = d->len - d->got;
	size_t take = n < want ? n : (size_t)want;

	if (!d->frozen && d->buf_len < st->decode_max) {
		size_t keep = st->decode_max - d->buf_len;

		if (keep > take)
			keep = take;
		if (d->buf_len + keep > d->buf_cap) {
			size_t cap = d->buf_cap ? d->buf_cap : 4096;
			uint8_t *nb;

			while (cap < d->buf_len + keep)
				cap *= 2;
			nb = realloc(d->buf, cap);
			if (!nb) {
				d->frozen = true; /* counted as a truncated message */
				keep = 0;
			} else {
				d->buf = nb;
				d->buf_cap = cap;
			}
		}
		if (keep) {
			memcpy(d->buf + d->buf_len, p, keep);
			d->buf_len += keep;
		}
		if (!d->frozen)
			d->skipped += take - keep;
	} else if (!d->frozen) {
		d->skipped += take;
	}
	d->got += take;
	if (d->got == d->len)
		finish_streamed(st, dir, ts_last, false, ENTRY_REASON_NONE);
	return take;
}

/* After a lost boundary in the requests' direction: does a request start at p? */
static enum detect_result resync_request_check(const uint8_t *p, size_t n, void *arg)
{
	(void)arg;
	return request_check(p, n);
}

/*
 * Could the response of declared length len at p (n bytes here, from its length prefix) answer
 * q? What is here of it must decode as q's API and version: to the end of the message when
 * it is all here, else up to where the bytes stop. Bytes inside a message cut by a gap often
 * pass for a length and a pending correlation id (a record batch's leader epoch 0 and magic 2
 * read as correlation id 2), and a false start's length would swallow the real responses
 * after it.
 */
static bool response_fits_request(const struct kreq *q, const uint8_t *p, size_t n, uint32_t len)
{
	const struct kafka_api *api = kafka_api_get(q->api_key);
	size_t avail = n - 4 < len ? n - 4 : len;
	bool cut = avail < len, flex, ok;
	struct byte_reader r;
	struct kd kd;

	/* Nothing to check against; ApiVersions may be answered in version 0. */
	if (!api || !api->response || q->api_version > api->max_version || q->api_key == 18)
		return true;
	flex = api_flexible(api, q->api_version);
	br_init(&r, p + 4, avail);
	r.cut = cut;
	r.declared = cut ? len : 0;
	br_u32(&r); /* the correlation id */
	if (flex)
		skip_tagged(&r);
	if (r.st)
		return r.st == BR_SHORT && cut;
	kd_init(&kd, q->api_version, flex, false, 0);
	decode_struct(&kd, &r, api->response, NULL);
	ok = !kd.unknown_error && (r.st == BR_SHORT ? cut : !r.st && r.off == avail);
	kd_free(&kd);
	return ok;
}

/* The pending request a response starting at p (8 bytes here) with a plausible length would
 * answer, or NULL. */
static const struct kreq *response_request(const struct kafka_st *st, const uint8_t *p)
{
	uint32_t len = (uint32_t)be32_at(p);
	int32_t corr = (int32_t)be32_at(p + 4);
	const struct pending_link *l;

	if (len < 4 || len > KAFKA_RESPONSE_MAX)
		return NULL;
	l = pending_find(&st->pending, kreq_is, &corr);
	return l ? pending_entry(l, struct kreq, link) : NULL;
}

/* In the responses' direction: a plausible length, the correlation id of a pending request,
 * and what is here of the body decodes as that request's response. */
static enum detect_result resync_response_check(const uint8_t *p, size_t n, void *arg)
{
	const struct kreq *q;

	if (n < 8)
		return DETECT_MAYBE;
	q = response_request(arg, p);
	return q && response_fits_request(q, p, n, (uint32_t)be32_at(p)) ? DETECT_YES : DETECT_NO;
}

/* A response that proves itself: all here, answering a pending request whose API's responses
 * floe decodes, and its body decodes to exactly its end as that request's response. */
static bool response_proven(const struct kafka_st *st, const uint8_t *p, size_t n)
{
	const struct kafka_api *api;
	const struct kreq *q;

	if (n < 8 || (uint64_t)be32_at(p) + 4 > n || !(q = response_request(st, p)))
		return false;
	api = kafka_api_get(q->api_key);
	return api && api->response && q->api_version <= api->max_version && q->api_key != 18 &&
	       response_fits_request(q, p, n, (uint32_t)be32_at(p));
}

/* Inside a tentative response: the offset of the first proven response start in p..p+n, or n. */
static size_t tentative_disproved(const struct kafka_st *st, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i++)
		if (response_proven(st, p + i, n - i))
			return i;
	return n;
}

/* Looking for a message start in dir. Returns bytes to skip; *found when one starts there. */
static size_t resync_scan(struct kafka_st *st, enum tcp_dir dir, const uint8_t *p, size_t n,
			  bool *found)
{
	if ((int)dir == st->req_dir)
		return lp_resync(p, n, resync_request_check, NULL, RESYNC_WAIT_MAX, found);
	/* Responses to requests not seen (lost too) are known only as whole messages up to the
	 * end of what is here. */
	if (n >= 8 && response_chain(p, n)) {
		*found = true;
		return 0;
	}
	return lp_resync(p, n, resync_response_check, st, RESYNC_WAIT_MAX, found);
}

/* The framing of dir is lost: look for the next message start. */
static void lose_sync(struct kafka_st *st, enum tcp_dir dir)
{
	if (!st->d[dir].resync)
		count(st, KAFKA_C_RESYNCS, 1);
	st->d[dir].resync = true;
}

/* Every Kafka message: a 4-byte size, then the message (the protocol guide's "Common"). */
static const struct lp_format kafka_message_format = {.hdr_len = 4, .len_off = 0, .len_size = 4};

static size_t start_msg(struct kafka_st *st, enum tcp_dir dir, const uint8_t *p, size_t n,
			uint64_t ts, uint64_t ts_last)
{
	struct kdir *d = &st->d[dir];
	bool req = (int)dir == st->req_dir;
	uint64_t len, total;

	if (n < kafka_message_format.hdr_len)
		return 0;
	len = lp_body_len(&kafka_message_format, p);
	if (req ? (len < 8 || len > KAFKA_REQUEST_MAX) : (len < 4 || len > KAFKA_RESPONSE_MAX)) {
		/* Not a length: the stream is out of step. */
		conn_count_parse_error(st->c);
		lose_sync(st, dir);
		count(st, KAFKA_C_RESYNC_BYTES, 1);
		return 1;
	}
	if (req && n < 12 && n - 4 < len)
		return 0;
	if (req) {
		int key = (int)(int16_t)be16_at(p + 4), ver = (int)(int16_t)be16_at(p + 6);

		if (key < 0 || key > 1000 || ver < 0 || ver > 100) {
			conn_count_parse_error(st->c);
			lose_sync(st, dir);
			count(st, KAFKA_C_RESYNC_BYTES, 1);
			return 1;
		}
	}
	if (len <= st->decode_max &&
	    lp_whole(&kafka_message_format, p, n, &len, &total) == LP_WHOLE) {
		struct kmsg m = {
		    .p = p + 4,
		    .n = (size_t)len,
		    .len = (uint32_t)len,
		    .ts_first = ts,
		    .ts_end = ts_last,
		};

		handle_message(st, dir, &m, ENTRY_REASON_NONE);
		return (size_t)total;
	}
	d->in_msg = true;
	d->len = (uint32_t)len;
	d->got = 0;
	d->buf_len = 0;
	d->gap_bytes = 0;
	d->skipped = 0;
	d->frozen = false;
	d->ts_first = ts;
	return 4 + stream_msg(st, dir, p + 4, n - 4, ts_last);
}

/* Connections picked up mid-stream: which direction carries the requests? */
static size_t classify(struct kafka_st *st, enum tcp_dir dir, const uint8_t *p, size_t n)
{
	enum detect_result r = request_check(p, n);

	/* Some responses read as requests too (a Produce response's topic count and name pass
	 * for a Produce v2 header and client id): bytes that fit both, from the side the ports
	 * say is the server, are taken for responses, as tshark does by port. */
	if (r == DETECT_YES && dir == TCP_DIR_S2C && conn_info(st->c)->role == TCP_ROLE_PORT &&
	    response_check(p, n) == DETECT_YES) {
		st->req_dir = !dir;
		st->d[dir].resync = false;
		return 0;
	}
	if (r == DETECT_YES) {
		st->req_dir = dir;
		st->d[dir].resync = false;
		return 0;
	}
	if (r == DETECT_MAYBE && n < RESYNC_WAIT_MAX)
		return 0;
	if (response_chain(p, n)) {
		st->req_dir = !dir;
		st->d[dir].resync = false;
		return 0;
	}
	/* Neither: the middle of a message. Wait for the next chunk. */
	count(st, KAFKA_C_RESYNC_BYTES, n);
	return n;
}

/* ---- the dissector ---- */

static void *kafka_open(struct conn *c, void *handover)
{
	struct kafka_st *st = calloc(1, sizeof(*st));
	const struct tcp_flow_info *info = conn_info(c);
	bool mid = info->role != TCP_ROLE_SYN && info->role != TCP_ROLE_SYNACK;

	(void)handover;
	if (!st)
		return NULL;
	st->c = c;
	pending_init(&st->pending, KAFKA_PENDING_MAX);
	st->req_dir = mid ? -1 : TCP_DIR_C2S;
	st->d[0].resync = st->d[1].resync = mid;
	st->body_max = conn_body_max(c);
	st->decode_max = KAFKA_DECODE_MIN + st->body_max;
	/* Skipped-over requests lost their answers in a hole, or (with no hole) to bytes that did
	 * not parse; a capture that began mid-conversation counts as a hole. */
	st->lost_why = mid ? ENTRY_REASON_GAP : ENTRY_REASON_PARSE_ERROR;
	return st;
}

static size_t kafka_parse(void *vst, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			  uint64_t ts, uint64_t ts_last)
{
	struct kafka_st *st = vst;
	struct kdir *d = &st->d[dir];

	st->c = c;
	if (d->in_msg && d->tentative) {
		size_t k = tentative_disproved(st, p, n);

		if (k == n)
			return stream_msg(st, dir, p, n, ts_last);
		/* A false start's length was swallowing real responses: drop it (its request
		 * stays pending, lost when a later response is matched), go on at the real one. */
		count(st, KAFKA_C_RESYNC_BYTES, d->got - d->gap_bytes + 4);
		dir_reset(d);
		if (k)
			count(st, KAFKA_C_RESYNC_BYTES, k);
		return k ? k : start_msg(st, dir, p, n, ts, ts_last);
	}
	if (d->in_msg)
		return stream_msg(st, dir, p, n, ts_last);
	if (st->req_dir < 0) {
		size_t k = classify(st, dir, p, n);

		if (k || st->req_dir < 0)
			return k;
	}
	if (d->resync) {
		bool found;
		size_t k = resync_scan(st, dir, p, n, &found);

		if (k) {
			count(st, KAFKA_C_RESYNC_BYTES, k);
			return k;
		}
		if (!found)
			return 0;
		d->resync = false;
		if ((int)dir != st->req_dir) {
			size_t k = start_msg(st, dir, p, n, ts, ts_last);

			d->tentative = d->in_msg;
			return k;
		}
	}
	return start_msg(st, dir, p, n, ts, ts_last);
}

static void kafka_gap(void *vst, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct kafka_st *st = vst;
	struct kdir *d = &st->d[dir];

	st->c = c;
	if (!missing)
		return;
	if ((int)dir != st->req_dir)
		st->lost_why = ENTRY_REASON_GAP;
	if (d->in_msg) {
		uint64_t rest = d->len - d->got;
		uint64_t in = missing < rest ? missing : rest;

		/* Framing survives a hole inside a message: only what follows it is not kept. */
		d->frozen = true;
		d->gap_bytes += in;
		d->got += in;
		missing -= in;
		if (d->got == d->len)
			finish_streamed(st, dir, ts, false, ENTRY_REASON_NONE);
	}
	if (missing)
		lose_sync(st, dir);
}

static void kafka_close(void *vst, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct kafka_st *st = vst;
	enum entry_missing_reason r = conn_end_reason(why);
	int dir;

	st->c = c;
	/* Requests first: a response cut by the end may answer one of them. */
	for (dir = 0; dir < 2; dir++) {
		int dd = st->req_dir == TCP_DIR_S2C ? !dir : dir;

		if (st->d[dd].in_msg)
			finish_streamed(st, dd, ts, true, r);
	}
	while (!pending_empty(&st->pending))
		response_lost(st, pending_entry(pending_pop(&st->pending), struct kreq, link), r);
}

static void kafka_free(void *vst)
{
	struct kafka_st *st = vst;
	struct pending_link *l;

	if (!st)
		return;
	while ((l = pending_pop(&st->pending))) {
		struct kreq *q = pending_entry(l, struct kreq, link);

		entry_free(q->e);
		free(q);
	}
	ZSTD_freeDCtx(st->zstd);
	free(st->d[0].buf);
	free(st->d[1].buf);
	free(st);
}

/*
 * For the engine's memory budget (dissector.h, mem()). Exact for the message buffers and
 * the zstd context; each waiting request's entry is estimated as KAFKA_REQ_BYTES plus twice
 * the record bytes it keeps (its link's weight: jansson's copy and the object around it).
 */
#define KAFKA_REQ_BYTES (sizeof(struct kreq) + sizeof(struct entry) + 2048u)

static size_t kafka_mem(const void *vst)
{
	const struct kafka_st *st = vst;

	return sizeof(*st) + st->d[0].buf_cap + st->d[1].buf_cap +
	       st->pending.n * KAFKA_REQ_BYTES + 2 * st->pending.weight +
	       (st->zstd ? ZSTD_sizeof_DCtx(st->zstd) : 0);
}

const struct dissector dissector_kafka = {
    .name = "kafka",
    .protocol = "kafka", /* its descriptor: lib/core/protocols/kafka.c */
    .detect = kafka_detect,
    .open = kafka_open,
    .parse = kafka_parse,
    .gap = kafka_gap,
    .close = kafka_close,
    .free = kafka_free,
    .counters = counter_names,
    .mem = kafka_mem,
};

