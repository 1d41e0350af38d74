// SPDX-License-Identifier: Apache-2.0
/*
 * read_file: plain classic pcap files are read by floe's own record reader, everything else
 * through libpcap. The oracle is the other path: the same bytes gzip-compressed go through zlib and
 * libpcap alone, and must give the same packets, counters and entries (JSON text) as the plain
 * file. Variants exercise the hand-over to libpcap: big-endian, nanosecond timestamps, a
 * snapshot length smaller than the packets (libpcap cuts them), a file cut inside a record and
 * inside a record header; a record length no capture can hold is a corrupt record, with its
 * offset. The source is a capture of the shared set (FLOE_CAPTURES), skipped when it is absent.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "entry/entry.h"
#include "entry/entry_json.h"
#include "tap/read_file.h"
#include "test_captures.h"

#define SOURCE "http1/1000-requests-one-dropped-response.pcap.gz"

struct bytes {
	uint8_t *p;
	size_t len;
};

static void sink(void *ctx, const struct entry *e)
{
	struct entry_json_buf *b = ctx;

	assert_int_equal(entry_json_append_entry(b, e), 0);
	assert_int_equal(entry_json_append_raw(b, "\n", 1), 0);
}

static struct bytes load_source(void)
{
	char path[1024];
	struct bytes s = {0};
	uint8_t chunk[65536];
	gzFile gz;
	int n;

	snprintf(path, sizeof(path), "%s/%s", captures_dir(), SOURCE);
	gz = gzopen(path, "rb");
	if (!gz)
		return s;
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0) {
		s.p = realloc(s.p, s.len + (size_t)n);
		assert_non_null(s.p);
		memcpy(s.p + s.len, chunk, (size_t)n);
		s.len += (size_t)n;
	}
	gzclose(gz);
	return s;
}

static void put32(uint8_t *p, uint32_t v, bool big)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(big ? v >> (24 - 8 * i) : v >> (8 * i));
}

static uint32_t get32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The source (little-endian, microseconds) rewritten: big-endian and/or nanoseconds. */
static struct bytes rewrite(const struct bytes *s, bool big, bool nano)
{
	struct bytes o = {malloc(s->len), s->len};
	size_t off = 24;

	assert_non_null(o.p);
	memcpy(o.p, s->p, s->len);
	put32(o.p, nano ? 0xa1b23c4d : 0xa1b2c3d4, big);
	o.p[4] = big ? 0 : 2, o.p[5] = big ? 2 : 0, o.p[6] = big ? 0 : 4, o.p[7] = big ? 4 : 0;
	for (int i = 8; i < 24; i += 4)
		put32(o.p + i, get32le(s->p + i), big);
	while (off + 16 <= s->len) {
		uint32_t cap = get32le(s->p + off + 8);

		put32(o.p + off, get32le(s->p + off), big);
		put32(o.p + off + 4, get32le(s->p + off + 4) * (nano ? 1000 : 1), big);
		put32(o.p + off + 8, cap, big);
		put32(o.p + off + 12, get32le(s->p + off + 12), big);
		off += 16 + cap;
	}
	return o;
}

static void write_file(const char *path, const struct bytes *b, bool gz)
{
	if (gz) {
		gzFile g = gzopen(path, "wb1");

		assert_non_null(g);
		assert_int_equal(gzwrite(g, b->p, (unsigned)b->len), (int)b->len);
		assert_int_equal(gzclose(g), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
		assert_int_equal(fclose(f), 0);
	}
}

/*
 * s with a large record of a type no dissector reads (an Ethernet frame of the experimental
 * type 0x88b5, zeros) after every eighth of its own, of lengths spread up to the snapshot
 * length of 256 KiB (the header says so): the plain reader's buffer is refilled with records
 * cut at every kind of place, header and data, the largest ones included.
 */
static struct bytes padded(const struct bytes *s)
{
	size_t off = 24, k = 0, room = s->len;
	struct bytes o = {NULL, 24};

	for (size_t r = 24; r + 16 <= s->len; r += 16 + get32le(s->p + r + 8))
		room += (16 + 262144) / 8 + 1; /* a filler of at most 256 KiB after every eighth */
	o.p = malloc(room);
	assert_non_null(o.p);
	memcpy(o.p, s->p, 24);
	put32(o.p + 16, 262144, false);
	while (off + 16 <= s->len) {
		size_t rec = 16 + get32le(s->p + off + 8);
		uint32_t fill;

		assert_true(off + rec <= s->len && o.len + rec <= room);
		memcpy(o.p + o.len, s->p + off, rec);
		o.len += rec;
		off += rec;
		if (++k % 8)
			continue;
		fill = k % 64 == 0 ? 262144u : (uint32_t)(14 + (k * 7919u) % 70000u);
		memcpy(o.p + o.len, s->p + off - rec, 8); /* the time of the record before */
		put32(o.p + o.len + 8, fill, false);
		put32(o.p + o.len + 12, fill, false);
		memset(o.p + o.len + 16, 0, fill);
		o.p[o.len + 16 + 12] = 0x88, o.p[o.len + 16 + 13] = 0xb5;
		o.len += 16 + fill;
	}
	return o;
}

/* b read as a plain file and as gzip: same result; returns the packets read. */
static uint64_t same_both_ways(const struct bytes *b)
{
	char plain[] = "/tmp/floe-test-read-XXXXXX", gz[64];
	struct entry_json_buf out[2] = {{0}, {0}};
	struct read_file_stats st[2];
	char err[256];
	int fd = mkstemp(plain);

	assert_true(fd >= 0);
	close(fd);
	snprintf(gz, sizeof(gz), "%s.gz", plain);
	write_file(plain, b, false);
	write_file(gz, b, true);
	assert_int_equal(read_file_run(plain, NULL, sink, &out[0], &st[0], err, sizeof(err)), 0);
	assert_int_equal(read_file_run(gz, NULL, sink, &out[1], &st[1], err, sizeof(err)), 0);
	unlink(plain);
	unlink(gz);
	assert_int_equal(st[0].packets, st[1].packets);
	assert_int_equal(st[0].bytes, st[1].bytes);
	assert_int_equal(st[0].decode_errors, st[1].decode_errors);
	assert_int_equal(st[0].truncated, st[1].truncated);
	assert_int_equal(st[0].bad_timestamps, st[1].bad_timestamps);
	assert_int_equal(st[0].dissect.entries, st[1].dissect.entries);
	assert_int_equal(st[0].dissect.gap_bytes, st[1].dissect.gap_bytes);
	assert_int_equal(out[0].len, out[1].len);
	assert_memory_equal(out[0].p, out[1].p, out[0].len);
	entry_json_buf_free(&out[0]);
	entry_json_buf_free(&out[1]);
	return st[0].packets;
}

static void test_records_same_as_libpcap(void **state)
{
	struct bytes s = load_source(), v;
	uint64_t all;

	(void)state;
	if (!s.p)
		skip();
	all = same_both_ways(&s);
	assert_true(all > 4000);
	for (int k = 1; k < 4; k++) {
		v = rewrite(&s, k & 1, k & 2);
		assert_int_equal(same_both_ways(&v), all);
		free(v.p);
	}
	/* Records across the plain reader's buffer refills: the same entries, one more packet
	 * for each filler. */
	v = padded(&s);
	assert_true(v.len > 4 * s.len);
	assert_true(same_both_ways(&v) > all);
	free(v.p);
	/* A snapshot length below the packets': libpcap's way from the first big one on. */
	v = rewrite(&s, false, false);
	put32(v.p + 16, 200, false);
	assert_int_equal(same_both_ways(&v), all);
	/* Cut inside a record, then inside a record header. */
	v.len = s.len / 2 + 7;
	memcpy(v.p, s.p, v.len);
	assert_true(same_both_ways(&v) < all);
	for (size_t off = 24; off + 16 <= s.len; off += 16 + get32le(s.p + off + 8))
		if (off > s.len / 3) {
			v.len = off + 9;
			break;
		}
	assert_true(same_both_ways(&v) < all);
	free(v.p);
	free(s.p);
}

/* Read b (as path, gzip-compressed if gz): the return, stats, entries and message. */
static int read_bytes(const struct bytes *b, bool gz, struct read_file_stats *st,
		      struct entry_json_buf *out, char *err, size_t errlen)
{
	char path[] = "/tmp/floe-test-read-XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	close(fd);
	write_file(path, b, gz);
	rc = read_file_run(path, NULL, sink, out, st, err, errlen);
	unlink(path);
	return rc;
}

/*
 * A record length no capture can hold (2 GiB) is a corrupt record, not a truncated file:
 * -EBADMSG with its offset (in the decompressed data for gzip), after the records before it
 * were dissected: the same entries as the file cut cleanly before it. A file cut inside a
 * record is still truncated, not an error.
 */
static void test_corrupt_record(void **state)
{
	struct bytes s = load_source(), bad, clean;
	struct entry_json_buf out = {0}, want = {0};
	struct read_file_stats st, st_clean;
	char err[512], expect[128];
	size_t off = 24;

	(void)state;
	if (!s.p)
		skip();
	while (off + 16 <= s.len && off < s.len / 3)
		off += 16 + get32le(s.p + off + 8);
	bad = (struct bytes){malloc(s.len), s.len};
	assert_non_null(bad.p);
	memcpy(bad.p, s.p, s.len);
	put32(bad.p + off + 8, 0x80000000u, false);
	clean = (struct bytes){s.p, off};
	assert_int_equal(read_bytes(&clean, false, &st_clean, &want, err, sizeof(err)), 0);
	assert_int_equal(st_clean.truncated, 0);
	for (int gz = 0; gz < 2; gz++) {
		out.len = 0;
		assert_int_equal(read_bytes(&bad, gz, &st, &out, err, sizeof(err)), -EBADMSG);
		snprintf(expect, sizeof(expect), ": corrupt record at offset %zu%s: ", off,
			 gz ? " of the decompressed data" : "");
		assert_non_null(strstr(err, expect));
		assert_null(strstr(err, "truncated"));
		assert_int_equal(st.corrupt, 1);
		assert_int_equal(st.truncated, 0);
		assert_int_equal(st.packets, st_clean.packets);
		assert_int_equal(out.len, want.len);
		assert_memory_equal(out.p, want.p, want.len);
	}
	/* Cut inside the record instead: truncated, read up to it, no error. */
	clean.len = off + 16 + 5;
	out.len = 0;
	assert_int_equal(read_bytes(&clean, false, &st, &out, err, sizeof(err)), 0);
	assert_int_equal(st.truncated, 1);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(st.packets, st_clean.packets);
	entry_json_buf_free(&out);
	entry_json_buf_free(&want);
	free(bad.p);
	free(s.p);
}

/*
 * Timestamps past 2038 (the format's seconds are unsigned; libpcap reads them signed) and
 * fractions of a second out of range (damage) read alike both ways: the first as the year they
 * say, the second with the fraction as 0, counted. Found by fuzz_read_file.
 */
static void test_damaged_timestamps(void **state)
{
	struct bytes s = load_source(), v;
	struct entry_json_buf out = {0};
	struct read_file_stats st;
	uint64_t bad = 0;
	char err[256], year[16];
	time_t first = 0;
	struct tm tm;
	size_t off = 24;
	int k = 0;

	(void)state;
	if (!s.p)
		skip();
	v = rewrite(&s, false, false);
	for (; off + 16 <= v.len; off += 16 + get32le(v.p + off + 8), k++) {
		uint32_t sec = get32le(v.p + off) + 800000000u; /* 2023 -> 2048 */

		put32(v.p + off, sec, false);
		if (!first)
			first = (time_t)sec;
		if (k % 7 == 3) {
			put32(v.p + off + 4, 0xf0000000u, false);
			bad++;
		}
	}
	assert_true(same_both_ways(&v) > 4000);
	assert_int_equal(read_bytes(&v, false, &st, &out, err, sizeof(err)), 0);
	assert_int_equal(st.bad_timestamps, bad);
	gmtime_r(&first, &tm);
	assert_true(tm.tm_year + 1900 > 2038);
	snprintf(year, sizeof(year), "\"%d-", tm.tm_year + 1900);
	assert_non_null(memmem(out.p, out.len, year, strlen(year)));
	entry_json_buf_free(&out);
	free(v.p);
	free(s.p);
}

/* ---- the two JSON writers on every shared capture ---- */

struct writers {
	size_t entries, compared_fields;
};

/*
 * entry_json_append_entry() (the direct writer: common members by hand, no tree for them)
 * against the tree of entry_to_json() written by entry_json_append(); and, for HTTP entries
 * (no reals among their fields), the fields' text against jansson's own compact dump, so the
 * string escaper is checked on every header, URL and body of the set.
 */
static void writers_sink(void *ctx, const struct entry *e)
{
	struct writers *w = ctx;
	struct entry_json_buf direct = {0}, tree = {0}, fields = {0};
	json_t *j;

	/* The direct writer first: entry_to_json() turns a compact part (HTTP/1's) into the
	 * tree, which the direct writer would then write. */
	assert_int_equal(entry_json_append_entry(&direct, e), 0);
	j = entry_to_json(e);
	assert_non_null(j);
	assert_int_equal(entry_json_append(&tree, j), 0);
	assert_int_equal(direct.len, tree.len);
	assert_memory_equal(direct.p, tree.p, tree.len);
	if (!strcmp(e->protocol, "http")) {
		char *want = json_dumps(entry_fields(e), JSON_COMPACT);

		assert_non_null(want);
		assert_int_equal(entry_json_append(&fields, entry_fields(e)), 0);
		assert_int_equal(fields.len, strlen(want));
		assert_memory_equal(fields.p, want, fields.len);
		free(want);
		w->compared_fields++;
	}
	w->entries++;
	json_decref(j);
	entry_json_buf_free(&direct);
	entry_json_buf_free(&tree);
	entry_json_buf_free(&fields);
}

/* Every capture under dir (one level of protocol folders, as the shared set has). */
static void writers_dir(const char *dir, struct writers *w, size_t *files)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024], err[256];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct read_file_stats st;
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &sb))
			continue;
		if (S_ISDIR(sb.st_mode)) {
			writers_dir(path, w, files);
			continue;
		}
		if (!is_capture(de->d_name))
			continue;
		/* A capture the reader refuses (corrupt on purpose) still gave its entries. */
		(void)read_file_run(path, NULL, writers_sink, w, &st, err, sizeof(err));
		(*files)++;
	}
	closedir(d);
}

static void test_writers_same_on_shared_captures(void **state)
{
	struct writers w = {0};
	size_t files = 0;

	writers_dir(captures_dir(), &w, &files);
	if (!files)
		skip();
	print_message("writers: %zu captures, %zu entries, %zu with HTTP fields against jansson\n",
		      files, w.entries, w.compared_fields);
	assert_true(w.entries > 0);
	assert_true(w.compared_fields > 0);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_records_same_as_libpcap),
	    cmocka_unit_test(test_corrupt_record),
	    cmocka_unit_test(test_damaged_timestamps),
	    cmocka_unit_test(test_writers_same_on_shared_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
