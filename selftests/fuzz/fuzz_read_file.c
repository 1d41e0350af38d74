// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for `floe read`'s file reader (lib/node/tap/read_file.c): the input is a
 * capture file, whatever its bytes.
 *
 * read_file reads a plain classic PCAP through its own record reader and hands the rest
 * (pcapng, other versions, anything after a record it will not read) to libpcap; a gzip file
 * goes through libpcap alone. That gives an oracle for the hand-written walker: the same bytes,
 * read once plain and once gzip-compressed, must give the same result — the same return value,
 * packets, bytes, decode errors, truncation, corruption and the same entries (count and a hash of
 * their text lines). Besides memory safety, every failure must say why.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>

#include "entry/entry.h"
#include "entry/hash.h"
#include "tap/read_file.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

struct seen {
	uint64_t entries;
	uint64_t hash; /* FNV-1a over every entry's text line, in order */
};

static void on_entry(void *ctx, const struct entry *e)
{
	struct seen *s = ctx;
	char line[2048];
	int n = entry_format_line(e, line, sizeof(line));

	CHECK(n > 0);
	s->entries++;
	s->hash = fnv1a64(s->hash, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line));
}

/* A memfd holding buf, and its path; -1 when the kernel refuses. */
static int memfd_with(const void *buf, size_t len, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz_read_file", 0);

	if (fd < 0)
		return -1;
	if (len && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

/* buf compressed as one gzip member into *out (malloc'ed). */
static int gzip_bytes(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream z = {0};
	size_t cap = compressBound(len) + 64;
	int rc;

	*out = malloc(cap);
	if (!*out)
		return -1;
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(*out);
		return -1;
	}
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		return -1;
	}
	return 0;
}

static int read_one(const uint8_t *buf, size_t len, struct read_file_stats *st, struct seen *s,
		    char *err, size_t errlen)
{
	char path[64];
	int fd = memfd_with(buf, len, path, sizeof(path));
	int rc;

	CHECK(fd >= 0);
	memset(s, 0, sizeof(*s));
	s->hash = FNV1A64_INIT;
	err[0] = '\0';
	rc = read_file_run(path, NULL, on_entry, s, st, err, errlen);
	close(fd);
	if (rc)
		CHECK(rc < 0 && err[0] != '\0');
	CHECK(!(st->corrupt && rc != -EBADMSG));
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct read_file_stats plain, packed;
	struct seen sp, sz;
	char err[512];
	uint8_t *gz;
	size_t gzlen;
	int rp, rz;

	if (size > (1u << 20))
		return 0;
	rp = read_one(data, size, &plain, &sp, err, sizeof(err));
	CHECK(plain.bytes <= size);
	CHECK(plain.packets <= size / 16 + 1);
	if (gzip_bytes(data, size, &gz, &gzlen))
		return 0;
	rz = read_one(gz, gzlen, &packed, &sz, err, sizeof(err));
	free(gz);
	/*
	 * An empty file is "empty" plain but a gzip of nothing is a header libpcap cannot read
	 * either way: both must fail. Otherwise the two readings agree in everything.
	 */
	CHECK((rp == 0) == (rz == 0));
	CHECK(rp == rz || size == 0);
	CHECK(plain.packets == packed.packets);
	CHECK(plain.bytes == packed.bytes);
	CHECK(plain.decode_errors == packed.decode_errors);
	CHECK(plain.truncated == packed.truncated);
	CHECK(plain.corrupt == packed.corrupt);
	CHECK(plain.bad_timestamps == packed.bad_timestamps);
	CHECK(sp.entries == sz.entries);
	CHECK(sp.hash == sz.hash);
	return 0;
}
