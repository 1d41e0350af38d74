// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: pcap_store (rotating zstd PCAP store) on real files in a temporary directory.
 * Packets are regenerated from their index, so every byte, length and nanosecond timestamp
 * read back is checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcap/pcap.h>
#include <zstd.h>

#include "store/pcap_store.h"

#define BASE_TS	  1795000000123456789ull /* 2026-11-18, with nanoseconds */
#define MAX_FRAME 1600

/* ---- helpers ---- */

static char base_dir[64];
static char mounted_dir[128]; /* a tmpfs to detach even when a test fails */
static int dir_counter;

static void new_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/d%d", base_dir, ++dir_counter);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t pkt_ts(uint32_t i)
{
	return BASE_TS + (uint64_t)i * 1000003ull + (i % 7);
}

static uint32_t frame_len(uint32_t i)
{
	return 60 + (i * 37u) % 1400u;
}

/* Original length: every third packet was "cut" by the snaplen. */
static uint32_t wire_len(uint32_t i)
{
	return frame_len(i) + (i % 3 == 0 ? 100 : 0);
}

static uint16_t dst_port(uint32_t i)
{
	return (uint16_t)(1000 + (i & 1));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4 + UDP; the payload starts with i (big endian) then noise that zstd cannot
 * shrink much, so that sizes on disk stay close to what is written. */
static void build_frame(uint8_t *f, uint32_t i)
{
	uint32_t len = frame_len(i), wl = wire_len(i), x = i * 2654435761u + 1;
	uint32_t sum = 0;

	memset(f, 0, 42);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	f[14] = 0x45;
	put16(f + 16, (uint16_t)(wl - 14));
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	for (int k = 14; k < 34; k += 2)
		sum += (uint32_t)(f[k] << 8 | f[k + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(f + 24, (uint16_t)~sum);
	put16(f + 34, 40000);
	put16(f + 36, dst_port(i));
	put16(f + 38, (uint16_t)(wl - 34));
	f[42] = (uint8_t)(i >> 24);
	f[43] = (uint8_t)(i >> 16);
	f[44] = (uint8_t)(i >> 8);
	f[45] = (uint8_t)i;
	for (uint32_t k = 46; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		f[k] = (uint8_t)x;
	}
}

static uint32_t frame_index(const uint8_t *f)
{
	return (uint32_t)f[42] << 24 | (uint32_t)f[43] << 16 | (uint32_t)f[44] << 8 | f[45];
}

static void write_range(struct pcap_store *s, uint32_t from, uint32_t to)
{
	uint8_t f[MAX_FRAME];

	for (uint32_t i = from; i < to; i++) {
		build_frame(f, i);
		assert_int_equal(pcap_store_write(s, pkt_ts(i), frame_len(i), wire_len(i), f), 0);
	}
}

static struct pcap_store *open_store(const char *dir, uint64_t limit, uint64_t seg_bytes, int level)
{
	struct pcap_store_config c = {
	    .dir = dir,
	    .limit_bytes = limit,
	    .segment_bytes = seg_bytes,
	    .snaplen = 65535,
	    .zstd_level = level,
	};
	struct pcap_store *s = NULL;
	char err[256] = "";
	int ret = pcap_store_open(&c, &s, err, sizeof(err));

	if (ret)
		fail_msg("pcap_store_open(%s): %d %s", dir, ret, err);
	return s;
}

struct readback {
	uint64_t n;
	uint32_t first, last;
	bool in_order;
};

/* Read a PCAP back with libpcap; every packet must be exactly the one written. */
static void read_back(const char *path, struct readback *rb, bool contiguous)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint8_t f[MAX_FRAME];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
	int rc;

	if (!p)
		fail_msg("%s: %s", path, eb);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	assert_int_equal(pcap_get_tstamp_precision(p), PCAP_TSTAMP_PRECISION_NANO);
	memset(rb, 0, sizeof(*rb));
	rb->in_order = true;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		uint32_t i;

		assert_true(h->caplen >= 46);
		i = frame_index(d);
		build_frame(f, i);
		assert_int_equal(h->caplen, frame_len(i));
		assert_int_equal(h->len, wire_len(i));
		assert_memory_equal(d, f, h->caplen);
		assert_int_equal((uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
				 pkt_ts(i));
		if (rb->n) {
			if (i <= rb->last || (contiguous && i != rb->last + 1))
				rb->in_order = false;
		} else {
			rb->first = i;
		}
		rb->last = i;
		rb->n++;
	}
	assert_int_equal(rc, PCAP_ERROR_BREAK);
	pcap_close(p);
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t sl = strlen(suffix);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l >= sl && !strcmp(de->d_name + l - sl, suffix) && de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Segment file names of dir, sorted. */
static int list_names(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "floe-", 5))
			continue;
		v = realloc(v, sizeof(*v) * (size_t)(n + 1));
		assert_non_null(v);
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static void free_names(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static unsigned long long name_seq(const char *name)
{
	return strtoull(name + 5, NULL, 10);
}

/* What `du -sb --apparent-size dir` reports: the directory itself plus every entry. */
/* The path of the store's only segment file. */
static void only_segment(const char *dir, char *path, size_t len)
{
	char **names;
	int nn = list_names(dir, &names);

	assert_int_equal(nn, 1);
	snprintf(path, len, "%s/%s", dir, names[0]);
	free_names(names, nn);
}

static uint64_t apparent_size(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	uint64_t sum = 0;

	if (!d)
		return 0;
	if (fstat(dirfd(d), &sb) == 0)
		sum += (uint64_t)sb.st_size;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			sum += (uint64_t)sb.st_size;
	}
	closedir(d);
	return sum;
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool have_cmd(const char *cmd)
{
	char sh[256];

	snprintf(sh, sizeof(sh), "command -v %s >/dev/null 2>&1", cmd);
	return system(sh) == 0;
}

/* tshark reads the file without a word on stderr (its warning about running as root aside). */
static void check_tshark(const char *path)
{
	char cmd[512], errpath[256], line[512];
	FILE *f;
	int rc;

	if (!have_cmd("tshark"))
		return;
	snprintf(errpath, sizeof(errpath), "%s/tshark.err", base_dir);
	snprintf(cmd, sizeof(cmd), "tshark -r '%s' -q >/dev/null 2>'%s'", path, errpath);
	rc = system(cmd);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	f = fopen(errpath, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Running as user \"root\"", 22))
			continue;
		fail_msg("tshark on %s: %s", path, line);
	}
	fclose(f);
	unlink(errpath);
}

/* ---- tests ---- */

/* Export the store and check it holds packets 0..n-1 in order, each once (and that tshark
 * reads it, if asked); returns the segments exported. */
static uint64_t check_exported(const char *dir, uint32_t n, bool tshark)
{
	struct pcap_export_stats es;
	struct readback rb;
	char out[160], err[256];

	snprintf(out, sizeof(out), "%s/out.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_in, n);
	assert_int_equal(es.packets_out, n);
	assert_int_equal(es.truncated_segments, 0);
	assert_int_equal(es.corrupt_segments, 0);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, n);
	assert_int_equal(rb.first, 0);
	assert_int_equal(rb.last, n - 1);
	assert_true(rb.in_order);
	if (tshark)
		check_tshark(out);
	unlink(out);
	return es.segments;
}

/* A batched store in a new directory (dir). */
static struct pcap_store *open_batched(char *dir, size_t dirlen, uint64_t limit,
				       uint64_t queue_bytes)
{
	struct pcap_store_config c = {
	    .limit_bytes = limit, .snaplen = 65535, .batched = true, .queue_bytes = queue_bytes};
	struct pcap_store *s = NULL;
	char err[256];

	new_dir(dir, dirlen);
	c.dir = dir;
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), 0);
	return s;
}

static void test_roundtrip(void **state)
{
	char dir[128];
	struct pcap_store_stats st;
	char err[256];
	const uint32_t n = 3000;

	(void)state;
	/* Batched (no kick at all here): full chunks and the flush wake the writer. */
	for (int round = 0; round < 4; round++) {
		int level = round % 2 ? 3 : 0;
		struct pcap_store_config c = {0};
		struct pcap_store *s = NULL;

		new_dir(dir, sizeof(dir));
		c.dir = dir;
		c.limit_bytes = 64ull << 20;
		c.snaplen = 65535;
		c.zstd_level = level;
		c.batched = round >= 2;
		c.queue_bytes = 64 << 10; /* small: the producer has to wait for the writer */
		assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), 0);
		write_range(s, 0, n);
		assert_int_equal(pcap_store_flush(s), 0);
		pcap_store_get_stats(s, &st);
		assert_int_equal(st.packets_written, n);
		assert_int_equal(st.packets_lost, 0);
		assert_int_equal(st.last_errno, 0);
		assert_true(st.store_bytes >= st.bytes_written);
		/* At most one wait per chunk the producer started; a wait takes some time. */
		assert_true(st.producer_waits <= st.bytes_written / (32 << 10) + 1);
		assert_int_equal(st.producer_waits == 0, st.producer_wait_ns == 0);
		assert_int_equal(pcap_store_close(s), 0);
		assert_int_equal(count_files(dir, level ? ".pcap.zst" : ".pcap"), 1);
		assert_int_equal(count_files(dir, ".tmp"), 0);

		assert_int_equal(check_exported(dir, n, true), 1);
		rm_rf(dir);
	}
}

/* Batched: what a batch queued reaches the file once it is kicked, without a flush. */
static void test_batched_kick(void **state)
{
	struct pcap_store_stats st;
	char dir[128];
	struct pcap_store *s = open_batched(dir, sizeof(dir), 64ull << 20, 0);

	(void)state;
	for (uint32_t batch = 0; batch < 3; batch++) {
		write_range(s, batch * 10, batch * 10 + 10);
		pcap_store_kick(s);
		/* Up to 10 s for the writer: the machine may be busy. */
		for (int i = 0; i < 10000; i++) {
			pcap_store_get_stats(s, &st);
			if (st.packets_written == batch * 10 + 10)
				break;
			usleep(1000);
		}
		assert_int_equal(st.packets_written, batch * 10 + 10);
	}
	assert_int_equal(pcap_store_close(s), 0);
	rm_rf(dir);
}

/* pcap_store_sync from a thread that is not the producer's (the agent's PCAP call). */
static void *sync_thread(void *arg)
{
	pcap_store_sync(arg);
	return NULL;
}

static void sync_elsewhere(struct pcap_store *s)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, sync_thread, s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/*
 * Batched, no kick: a sync from another thread has the writer take the chunk the producer is
 * still filling (not due for 100 ms), and the next sync what was appended after it (each
 * record once).
 */
static void test_sync_parts_of_filled_chunk(void **state)
{
	struct pcap_store_stats st;
	char dir[128];
	struct pcap_store *s = open_batched(dir, sizeof(dir), 64ull << 20, 0);

	(void)state;
	for (uint32_t part = 0; part < 4; part++) {
		/* 25 small packets: a few KiB, far from a chunk's end or WRITE_BATCH_BYTES. */
		write_range(s, part * 25, part * 25 + 25);
		sync_elsewhere(s);
		pcap_store_get_stats(s, &st);
		assert_int_equal(st.packets_written, part * 25 + 25);
	}
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(check_exported(dir, 100, false), 1);
	rm_rf(dir);
}

struct flusher {
	struct pcap_store *s;
	_Atomic uint32_t written; /* packets pcap_store_write returned for */
	_Atomic bool stop;
	uint32_t syncs, behind; /* a sync that did not cover what was written before it */
};

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct pcap_store_stats st;

	while (!atomic_load(&f->stop)) {
		uint32_t before = atomic_load(&f->written);

		pcap_store_sync(f->s);
		pcap_store_get_stats(f->s, &st);
		if (st.packets_written < before)
			f->behind++;
		f->syncs++;
		usleep(200);
	}
	return NULL;
}

/*
 * The producer writes batches (kicked) through a small queue while another thread syncs
 * without pause: every sync covers what was written before it, and the file holds every
 * packet once, in order (a sync makes the writer take the chunk being filled at once).
 */
static void test_concurrent_sync_exact(void **state)
{
	struct flusher f = {0};
	struct pcap_store_stats st;
	char dir[128];
	struct pcap_store *s = open_batched(dir, sizeof(dir), 256ull << 20, 256 << 10);
	const uint32_t n = 60000;
	uint8_t frame[MAX_FRAME];
	pthread_t t;

	(void)state;
	f.s = s;
	assert_int_equal(pthread_create(&t, NULL, flusher_main, &f), 0);
	for (uint32_t i = 0; i < n; i++) {
		build_frame(frame, i);
		assert_int_equal(pcap_store_write(s, pkt_ts(i), frame_len(i), wire_len(i), frame),
				 0);
		atomic_store(&f.written, i + 1);
		if (i % 64 == 63)
			pcap_store_kick(s);
	}
	atomic_store(&f.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(f.syncs > 0);
	assert_int_equal(f.behind, 0);
	assert_int_equal(pcap_store_flush(s), 0);
	pcap_store_get_stats(s, &st);
	assert_int_equal(st.packets_written, n);
	assert_int_equal(st.packets_lost, 0);
	assert_int_equal(pcap_store_close(s), 0);
	check_exported(dir, n, false);
	rm_rf(dir);
}

static void rotation_compression(int level)
{
	char dir[128], path[256], out[160], err[256], **names;
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct pcap_store *s;
	struct readback rb;
	const uint32_t n = 2000; /* ~1.5 MB of PCAP: more than 20 segments of 64 KiB */
	int nn;

	new_dir(dir, sizeof(dir));
	s = open_store(dir, 64ull << 20, 64 << 10, level);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_close(s), 0);

	nn = list_names(dir, &names);
	assert_true(nn >= 20);
	for (int i = 0; i < nn; i++) {
		size_t len, pcap_len;
		unsigned long long fcs;
		uint8_t *z, *raw;

		/* Only compressed segments are left; lexical order is sequence order. */
		assert_non_null(strstr(names[i], ".pcap.zst"));
		assert_int_equal(strlen(names[i]),
				 strlen("floe-0000000001-20261123T101500Z.pcap.zst"));
		if (i)
			assert_int_equal(name_seq(names[i]), name_seq(names[i - 1]) + 1);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		z = read_file(path, &len);
		fcs = ZSTD_getFrameContentSize(z, len);
		assert_true(fcs != ZSTD_CONTENTSIZE_ERROR && fcs != ZSTD_CONTENTSIZE_UNKNOWN);
		assert_true(fcs > 24 && fcs <= (64 << 10) + 2000);
		raw = malloc(fcs);
		assert_non_null(raw);
		/* Decompresses whole (data frame, checksum, then our skippable trailer). */
		pcap_len = ZSTD_decompress(raw, fcs, z, len);
		assert_false(ZSTD_isError(pcap_len));
		assert_int_equal(pcap_len, fcs);
		assert_memory_equal(raw, "\x4d\x3c\xb2\xa1",
				    4); /* nanosecond PCAP, little endian */
		free(raw);
		free(z);
	}
	if (have_cmd("zstd")) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "zstd -q -t '%s'/*.zst", dir);
		assert_int_equal(system(cmd), 0);
	}
	free_names(names, nn);

	snprintf(out, sizeof(out), "%s/rot.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.segments, (uint64_t)nn);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, n);
	assert_true(rb.in_order);
	check_tshark(out);
	unlink(out);
	rm_rf(dir);
	(void)st;
}

static void test_rotation_compression(void **state)
{
	(void)state;
	rotation_compression(3);
	/* zstd's fast levels (the live tap's default) write standard frames as well */
	rotation_compression(-1);
	rotation_compression(-5);
}

/*
 * Behind the writer, the compressor takes the newest closed segment first: the oldest is the
 * next one the limit evicts, and while it is being compressed the evictor makes no room ahead
 * of the writer. Segments left uncompressed by a run at level 0 are compressed when the store
 * is reopened at level -1; each .zst is written and fdatasync'ed in turn, so their mtimes give
 * the order they were compressed in.
 */
/* A new store in dir of packets 0..n written at level, in 64 KiB segments, closed. */
static void store_of_segments(char *dir, size_t len, int level, uint32_t n)
{
	struct pcap_store *s;

	new_dir(dir, len);
	s = open_store(dir, 64ull << 20, 64 << 10, level);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_close(s), 0);
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	return a->tv_nsec < b->tv_nsec ? -1 : a->tv_nsec > b->tv_nsec;
}

static void test_compress_newest_first(void **state)
{
	char dir[128], path[256], **names;
	struct timespec prev = {0}, oldest = {0};
	struct pcap_store *s;
	int nn;

	(void)state;
	store_of_segments(dir, sizeof(dir), 0, 2000);
	assert_true(count_files(dir, ".pcap") >= 20);
	s = open_store(dir, 64ull << 20, 64 << 10, -1);
	assert_int_equal(pcap_store_close(s), 0);

	nn = list_names(dir, &names); /* lexical order is sequence order */
	assert_true(nn >= 20);
	for (int i = 0; i < nn; i++) {
		struct stat sb;

		assert_non_null(strstr(names[i], ".pcap.zst"));
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(stat(path, &sb), 0);
		/* this (newer) segment was compressed before the one ahead of it, or in the
		 * same clock tick */
		if (i)
			assert_true(ts_cmp(&sb.st_mtim, &prev) <= 0);
		else
			oldest = sb.st_mtim;
		prev = sb.st_mtim;
	}
	/* ~20 fdatasyncs apart: the newest one's tick is not the oldest one's */
	assert_true(ts_cmp(&prev, &oldest) < 0);
	free_names(names, nn);
	rm_rf(dir);
}

/* The thread id of this process's thread named name, or -1. */
static pid_t thread_named(const char *name)
{
	char path[300], comm[64];
	struct dirent *d;
	pid_t tid = -1;
	DIR *dir = opendir("/proc/self/task");

	assert_non_null(dir);
	while (tid < 0 && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = 0;
			if (!strcmp(comm, name))
				tid = (pid_t)atoi(d->d_name);
		}
		fclose(f);
	}
	closedir(dir);
	return tid;
}

/*
 * The compressor runs at SCHED_IDLE (it must not take the cores from the capture), closed
 * segments still all end compressed at close, and a level outside zstd's range is refused.
 */
static void test_compressor_idle(void **state)
{
	char dir[128], err[256];
	struct pcap_store_config c = {.snaplen = 65535, .limit_bytes = 64ull << 20};
	struct pcap_store_stats st;
	struct pcap_store *s = NULL;
	pid_t tid = -1;

	(void)state;
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 64ull << 20, 64 << 10, -1);
	/* the thread sets its policy itself, first thing */
	for (int i = 0; i < 200; i++) {
		tid = thread_named("floe-zstd");
		if (tid > 0 && sched_getscheduler(tid) == SCHED_IDLE)
			break;
		usleep(5000);
	}
	assert_true(tid > 0);
	assert_int_equal(sched_getscheduler(tid), SCHED_IDLE);
	write_range(s, 0, 1000);
	assert_int_equal(pcap_store_close_stats(s, &st), 0);
	assert_int_equal(st.compressor_idle_errno, 0);
	assert_true(st.segments_closed >= 10);
	assert_int_equal(st.segments_compressed, st.segments_closed);
	assert_int_equal(count_files(dir, ".pcap.zst"), (int)st.segments_closed);
	rm_rf(dir);

	c.dir = dir;
	c.zstd_level = ZSTD_minCLevel() - 1;
	s = NULL;
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "zstd level"));
	c.zstd_level = ZSTD_maxCLevel() + 1;
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	rm_rf(dir);
}

static void test_rotation_by_age(void **state)
{
	char dir[128], err[256];
	struct pcap_store_config c = {0};
	struct pcap_store_stats st;
	struct pcap_store *s = NULL;

	(void)state;
	new_dir(dir, sizeof(dir));
	c.dir = dir;
	c.limit_bytes = 16ull << 20;
	c.segment_seconds = 1;
	c.snaplen = 65535;
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), 0);
	write_range(s, 0, 10);
	assert_int_equal(pcap_store_flush(s), 0);
	/* No more packets: the writer still closes the segment once it is a second old. */
	for (int i = 0; i < 40; i++) {
		pcap_store_get_stats(s, &st);
		if (st.segments_closed)
			break;
		usleep(50000);
	}
	assert_int_equal(st.segments_closed, 1);
	write_range(s, 10, 20);
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(count_files(dir, ".pcap"), 2);
	rm_rf(dir);
}

struct sampler {
	const char *dir;
	bool stop; /* __atomic */
	uint64_t max, samples;
};

static void *sample_main(void *arg)
{
	struct sampler *sp = arg;

	while (!__atomic_load_n(&sp->stop, __ATOMIC_RELAXED)) {
		uint64_t v = apparent_size(sp->dir);

		if (v > sp->max)
			sp->max = v;
		sp->samples++;
		usleep(1000);
	}
	return NULL;
}

static void test_limit(void **state)
{
	const uint64_t limit = 256 << 10;
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct readback rb;

	(void)state;
	for (int level = 0; level <= 3; level += 3) {
		struct sampler sp = {0};
		struct pcap_store *s;
		pthread_t th;
		uint64_t bytes = 0;
		uint32_t i = 0;

		new_dir(dir, sizeof(dir));
		s = open_store(dir, limit, 0, level);
		sp.dir = dir;
		assert_int_equal(pthread_create(&th, NULL, sample_main, &sp), 0);
		/* 5 MiB in bursts, so that the sampler sees the store at many moments. */
		while (bytes < (5ull << 20)) {
			uint32_t end = i + 40;

			for (uint32_t k = i; k < end; k++)
				bytes += frame_len(k);
			write_range(s, i, end);
			i = end;
			if (i % 400 == 0) {
				assert_int_equal(pcap_store_flush(s), 0);
				usleep(2000);
			}
		}
		assert_int_equal(pcap_store_close(s), 0);
		__atomic_store_n(&sp.stop, true, __ATOMIC_RELAXED);
		pthread_join(th, NULL);

		print_message("limit %llu level %d: %llu samples, max %llu bytes\n",
			      (unsigned long long)limit, level, (unsigned long long)sp.samples,
			      (unsigned long long)sp.max);
		assert_true(sp.samples > 10);
		assert_true(sp.max <= limit);
		assert_true(apparent_size(dir) <= limit);

		snprintf(out, sizeof(out), "%s/limit.pcap", base_dir);
		assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
		read_back(out, &rb, true);
		unlink(out);
		/* Reopening adopts the segments within the same limit. */
		{
			struct pcap_store *s2 = open_store(dir, limit, 0, level);

			pcap_store_get_stats(s2, &st);
			assert_true(st.store_bytes <= limit);
			assert_int_equal(pcap_store_close(s2), 0);
		}
		assert_int_equal(rb.last, i - 1); /* the newest packets are the ones kept */
		assert_true(rb.in_order);
		assert_true(rb.n > 0 && rb.n < i);
		rm_rf(dir);
	}
}

/* Same run as test_limit, checking the counters of the store that did the work. */
static void test_limit_counters(void **state)
{
	const uint64_t limit = 256 << 10;
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct pcap_store *s;
	const uint32_t n = 7000; /* ~5 MiB */

	(void)state;
	new_dir(dir, sizeof(dir));
	s = open_store(dir, limit, 0, 3);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_flush(s), 0);
	pcap_store_get_stats(s, &st);
	assert_true(st.store_bytes_peak <= limit);
	assert_true(st.store_bytes <= limit);
	/* Close compresses what is left, and the room that takes may evict the oldest segment:
	 * only the counters close gives are final. */
	assert_int_equal(pcap_store_close_stats(s, &st), 0);
	assert_true(st.store_bytes_peak <= limit);
	assert_int_equal(st.packets_written, n);
	assert_int_equal(st.packets_lost, 0);
	assert_true(st.segments_evicted > 0);
	assert_true(st.packets_evicted > 0);
	assert_true(st.bytes_written > 5ull << 20);

	snprintf(out, sizeof(out), "%s/limitc.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	/* Every packet written is either exported or counted evicted. */
	assert_int_equal(es.packets_out, n - st.packets_evicted);
	assert_true(es.packets_out > 0);
	unlink(out);
	rm_rf(dir);
}

/*
 * The last segments are compressed while the store closes; with incompressible packets and the
 * store at its limit, the room a .zst.tmp needs evicts the oldest segment then. The counters of
 * pcap_store_close_stats include that eviction (floe tap's --stats-json once did not: its
 * export held one packet fewer than written - evicted).
 */
static void test_close_evicts_counted(void **state)
{
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store_stats before, st;
	static uint8_t f[40000];
	uint64_t seed = 88172645463325252ull;
	bool evicted_at_close = false;

	(void)state;
	for (int round = 0; round < 16 && !evicted_at_close; round++) {
		struct pcap_store *s;
		/*
		 * The compressor takes the newest segment first (~40 KiB of random payload):
		 * its .zst.tmp needs an eviction only if the writer left less room than that.
		 * The writer leaves between its headroom (32 KiB) and headroom + one segment
		 * free, at a point fixed by the limit: the rounds move the limit 4 KiB at a
		 * time across that range.
		 */
		const uint64_t limit = (1u << 20) + (uint64_t)round * 4096;
		const uint32_t n = 200;

		new_dir(dir, sizeof(dir));
		s = open_store(dir, limit, 64 << 10, 1);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = i % 3 ? 120 : 40000;

			build_frame(f, i); /* headers; the payload after them is random */
			for (uint32_t k = 64; k < len; k++) { /* xorshift: incompressible */
				seed ^= seed << 13;
				seed ^= seed >> 7;
				seed ^= seed << 17;
				f[k] = (uint8_t)seed;
			}
			assert_int_equal(pcap_store_write(s, pkt_ts(i), len, len, f), 0);
		}
		assert_int_equal(pcap_store_flush(s), 0);
		pcap_store_get_stats(s, &before);
		assert_int_equal(pcap_store_close_stats(s, &st), 0);
		assert_int_equal(st.packets_written, n);
		assert_int_equal(st.packets_lost, 0);
		assert_true(st.packets_evicted >= before.packets_evicted);
		evicted_at_close = st.segments_evicted > before.segments_evicted;

		snprintf(out, sizeof(out), "%s/closeev.pcap", base_dir);
		assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
		assert_int_equal(es.packets_out, n - st.packets_evicted);
		unlink(out);
		rm_rf(dir);
	}
	/* The case this test is for happened at least once. */
	assert_true(evicted_at_close);
}

static void test_limit_exact_accounting(void **state)
{
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store_stats st, fin;
	struct pcap_store *s;
	struct readback rb;
	const uint32_t n = 5000;

	(void)state;
	/* Without compression only the writer evicts: after a flush the counters are final,
	 * and every packet written is either exported or counted evicted. */
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 512 << 10, 0, 0);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_flush(s), 0);
	pcap_store_get_stats(s, &st);
	/* What the store counts is what is on disk (the counted directory slack aside), a
	 * recycled active segment's old bytes included... */
	assert_true(apparent_size(dir) <= st.store_bytes);
	assert_true(apparent_size(dir) + 4096 >= st.store_bytes);
	assert_int_equal(pcap_store_close_stats(s, &fin), 0);
	assert_int_equal(st.packets_written, n);
	assert_int_equal(st.packets_lost, 0);
	assert_true(st.segments_evicted > 0);
	assert_true(st.store_bytes <= st.store_bytes_peak);
	assert_true(st.store_bytes_peak <= 512 << 10);
	/* ...and after the close, which cuts them. */
	assert_true(apparent_size(dir) <= fin.store_bytes);
	assert_true(apparent_size(dir) + 4096 >= fin.store_bytes);

	snprintf(out, sizeof(out), "%s/exact.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_out, n - st.packets_evicted);
	read_back(out, &rb, true);
	assert_int_equal(rb.first, st.packets_evicted);
	assert_int_equal(rb.last, n - 1);
	unlink(out);
	rm_rf(dir);
}

/* Bytes of segment files written since index from..to of write_range (records, no header). */
static uint64_t records_bytes(uint32_t from, uint32_t to)
{
	uint64_t b = 0;

	for (uint32_t i = from; i <= to; i++)
		b += 16 + frame_len(i);
	return b;
}

/*
 * Evicted plain segments are written over by the next segment (recycled). A live export sees
 * exactly the new records (the old bytes behind them are never read as records), and once
 * closed every file holds exactly its records: the old segment's tail is cut.
 */
static void test_recycle_written_over(void **state)
{
	char dir[128], path[256], out[160], err[256], **names;
	struct pcap_export_stats es;
	struct pcap_store_stats st, fin;
	struct pcap_store *s;
	struct readback rb;
	uint64_t kept = 0;
	struct stat sb;
	const uint32_t n = 6000;
	int nn;

	(void)state;
	new_dir(dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/recycled.pcap", base_dir);
	s = open_store(dir, 512 << 10, 0, 0);
	for (uint32_t i = 0; i < n; i += 500) {
		write_range(s, i, i + 500);
		assert_int_equal(pcap_store_flush(s), 0);
		/* Live, at every step: the newest records, in order, nothing else. */
		assert_int_equal(
		    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)), 0);
		assert_int_equal(es.corrupt_segments, 0);
		pcap_store_get_stats(s, &st);
		assert_int_equal(es.packets_out, i + 500 - st.packets_evicted);
		read_back(out, &rb, true);
		assert_true(rb.in_order);
		assert_int_equal(rb.first, st.packets_evicted);
		assert_int_equal(rb.last, i + 499);
		assert_true(apparent_size(dir) <= st.store_bytes);
		assert_true(st.store_bytes_peak <= 512 << 10);
	}
	assert_true(st.segments_recycled > 0);
	assert_true(st.segments_recycled <= st.segments_evicted);
	assert_int_equal(pcap_store_close_stats(s, &fin), 0);
	assert_int_equal(fin.packets_written, n);
	assert_int_equal(fin.packets_lost, 0);
	assert_true(apparent_size(dir) <= fin.store_bytes);
	assert_true(apparent_size(dir) + 4096 >= fin.store_bytes);

	/* Each file: the file header and its records, to the byte; read to a clean end. */
	nn = list_names(dir, &names);
	assert_true(nn > 1);
	for (int k = 0; k < nn; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
		read_back(path, &rb, true);
		assert_true(rb.in_order);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal((uint64_t)sb.st_size, 24 + records_bytes(rb.first, rb.last));
		kept += rb.n;
	}
	free_names(names, nn);
	assert_int_equal(kept, n - fin.packets_evicted);
	unlink(out);
	rm_rf(dir);
}

/*
 * A recycled segment left by a killed writer: its records, the end mark (a record header with
 * caplen 0xffffffff and "FLOE", docs/storage.md), then the old segment's bytes, which are valid
 * records themselves. Export stops at the mark; reopening cuts the file there.
 */
static void test_recycle_end_mark(void **state)
{
	static const unsigned char mark[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 'F',  'L',  'O',  'E'};
	char dir[128], path[256], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store *s;
	struct readback rb;
	unsigned char *buf;
	size_t len;
	struct stat sb;
	int fd;

	(void)state;
	new_dir(dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/endmark.pcap", base_dir);
	s = open_store(dir, 64ull << 20, 0, 0);
	write_range(s, 0, 300);
	assert_int_equal(pcap_store_close(s), 0);
	only_segment(dir, path, sizeof(path));

	/* Behind the mark: the file's own first 100 records again, whole and valid. */
	buf = read_file(path, &len);
	assert_int_equal(len, 24 + records_bytes(0, 299));
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, mark, sizeof(mark)), (ssize_t)sizeof(mark));
	assert_int_equal(write(fd, buf + 24, records_bytes(0, 99)), (ssize_t)records_bytes(0, 99));
	close(fd);
	free(buf);

	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.corrupt_segments, 0);
	assert_int_equal(es.truncated_segments, 1);
	assert_int_equal(es.packets_out, 300);
	read_back(out, &rb, true);
	assert_int_equal(rb.first, 0);
	assert_int_equal(rb.last, 299);

	/* Reopened: cut at the mark (level 0: it stays a .pcap). */
	s = open_store(dir, 64ull << 20, 0, 0);
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, 24 + records_bytes(0, 299));
	assert_int_equal(
	    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.truncated_segments, 0);
	assert_int_equal(es.packets_out, 300);
	unlink(out);
	rm_rf(dir);
}

static void test_reopen(void **state)
{
	char dir[128], path[256], out[160], err[256], **names;
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct pcap_store *s;
	struct readback rb;
	unsigned long long max1;
	int n1, n2;
	FILE *f;

	(void)state;
	new_dir(dir, sizeof(dir));
	/* First run: uncompressed segments. */
	s = open_store(dir, 64ull << 20, 64 << 10, 0);
	write_range(s, 0, 300);
	assert_int_equal(pcap_store_close(s), 0);
	n1 = list_names(dir, &names);
	assert_true(n1 >= 3);
	max1 = name_seq(names[n1 - 1]);
	/* A crash: the last segment ends in half a record, a compression was interrupted. */
	snprintf(path, sizeof(path), "%s/%s", dir, names[n1 - 1]);
	f = fopen(path, "ab");
	assert_non_null(f);
	fwrite("\x01\x02\x03\x04\x05\x06\x07\x08\x64\x00\x00\x00\x64\x00\x00\x00"
	       "abc",
	       1, 19, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.zst.tmp", dir, names[0]);
	write_file(path, "partial", 7);
	free_names(names, n1);

	/* Second run: compression on. */
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	pcap_store_get_stats(s, &st);
	assert_true(st.store_bytes > 300 * 60); /* old segments count toward the limit */
	write_range(s, 300, 400);
	assert_int_equal(pcap_store_close(s), 0);

	assert_int_equal(count_files(dir, ".tmp"), 0);
	assert_int_equal(count_files(dir, ".pcap"), 0); /* leftovers were compressed */
	n2 = list_names(dir, &names);
	assert_true(n2 > n1);
	/* Numbering continues after the highest sequence number of the first run. */
	assert_int_equal(name_seq(names[n1 - 1]), max1);
	assert_int_equal(name_seq(names[n1]), max1 + 1);
	free_names(names, n2);

	snprintf(out, sizeof(out), "%s/reopen.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.truncated_segments, 0); /* the partial record was cut on open */
	read_back(out, &rb, true);
	assert_int_equal(rb.n, 400);
	assert_int_equal(rb.last, 399);
	assert_true(rb.in_order);

	/* A third open reads the packet counts back from the compressed segments. */
	s = open_store(dir, 64 << 10, 0, 3);
	pcap_store_get_stats(s, &st);
	assert_true(st.segments_evicted > 0);
	assert_true(st.packets_evicted > 0);
	assert_true(st.store_bytes <= 64 << 10);
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(
	    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_out + st.packets_evicted, 400);
	unlink(out);
	rm_rf(dir);
}

static void test_filter(void **state)
{
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store *s;
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	uint64_t n = 0;

	(void)state;
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	write_range(s, 0, 500);
	assert_int_equal(pcap_store_close(s), 0);

	snprintf(out, sizeof(out), "%s/filter.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, "udp dst port 1001", &es, err, sizeof(err)),
			 0);
	assert_int_equal(es.packets_in, 500);
	assert_int_equal(es.packets_out, 250);
	p = pcap_open_offline_with_tstamp_precision(out, PCAP_TSTAMP_PRECISION_NANO, eb);
	assert_non_null(p);
	while (pcap_next_ex(p, &h, &d) == 1) {
		assert_int_equal(frame_index(d) & 1, 1);
		n++;
	}
	pcap_close(p);
	assert_int_equal(n, 250);
	check_tshark(out);
	unlink(out);

	/* A bad filter: an error, and no output left behind. */
	assert_int_equal(pcap_store_export(dir, out, 0, "udp dst port", &es, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "filter"));
	assert_int_equal(access(out, F_OK), -1);
	rm_rf(dir);
}

static void test_truncated(void **state)
{
	char dir[128], path[256], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store *s;
	struct readback rb;
	struct stat sb;

	(void)state;
	new_dir(dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/trunc.pcap", base_dir);

	/* The active segment of a live store exports while it grows. */
	s = open_store(dir, 64ull << 20, 0, 0);
	write_range(s, 0, 200);
	assert_int_equal(pcap_store_flush(s), 0);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_out, 200);
	write_range(s, 200, 300);
	assert_int_equal(pcap_store_close(s), 0);

	/* Cut the last record in the middle, as a reader of the active segment may see it. */
	only_segment(dir, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size - 5), 0);
	assert_int_equal(
	    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.truncated_segments, 1);
	assert_int_equal(es.corrupt_segments, 0);
	assert_int_equal(es.packets_out, 299);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, 299);
	check_tshark(out);

	/* Cut inside the record header too. */
	assert_int_equal(truncate(path, sb.st_size - frame_len(299) - 4), 0);
	assert_int_equal(
	    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.truncated_segments, 1);
	assert_int_equal(es.packets_out, 299);
	unlink(out);
	rm_rf(dir);
}

static uint64_t packets_in_zst(const char *path)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t len;
	void *z = read_file(path, &len);
	unsigned long long fcs = ZSTD_getFrameContentSize(z, len);
	void *raw = malloc(fcs);
	uint64_t n = 0;
	FILE *f;
	pcap_t *p;

	assert_non_null(raw);
	assert_int_equal(ZSTD_decompress(raw, fcs, z, len), fcs);
	f = fmemopen(raw, fcs, "rb");
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, eb);
	assert_non_null(p);
	while (pcap_next_ex(p, &h, &d) == 1)
		n++;
	pcap_close(p);
	free(raw);
	free(z);
	return n;
}

static void test_corrupt_zst(void **state)
{
	char dir[128], bad[256], cut[256], out[160], err[256], **names;
	struct pcap_export_stats es;
	struct pcap_store *s;
	struct readback rb;
	uint64_t k_bad, k_cut;
	size_t len;
	uint8_t *z;
	int nn;

	(void)state;
	store_of_segments(dir, sizeof(dir), 3, 1000);
	nn = list_names(dir, &names);
	assert_true(nn >= 5);
	snprintf(bad, sizeof(bad), "%s/%s", dir, names[1]);
	snprintf(cut, sizeof(cut), "%s/%s", dir, names[3]);
	k_bad = packets_in_zst(bad);
	k_cut = packets_in_zst(cut);

	/* A damaged frame header: the segment cannot be read at all. */
	z = read_file(bad, &len);
	memcpy(z, "JUNK", 4);
	write_file(bad, z, len);
	free(z);
	snprintf(out, sizeof(out), "%s/corrupt.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, names[1]));
	assert_int_equal(es.corrupt_segments, 1);
	assert_int_equal(es.packets_out, 1000 - k_bad);
	/* ...and the rest is a valid PCAP. */
	read_back(out, &rb, false);
	assert_int_equal(rb.n, 1000 - k_bad);
	assert_true(rb.in_order);
	assert_int_equal(rb.last, 999);
	check_tshark(out);

	/* A .zst cut in half: whatever decompressed is kept, the error names the file. */
	z = read_file(cut, &len);
	write_file(cut, z, len / 2);
	free(z);
	assert_int_equal(
	    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)),
	    -EBADMSG);
	assert_int_equal(es.corrupt_segments, 2);
	assert_non_null(strstr(err, "1 more"));
	assert_true(es.packets_out < 1000 - k_bad);
	assert_true(es.packets_out >= 1000 - k_bad - k_cut);
	read_back(out, &rb, false);
	assert_int_equal(rb.n, es.packets_out);
	assert_int_equal(rb.last, 999);

	/* The store itself still opens and evicts around such files. */
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	write_range(s, 1000, 1010);
	assert_int_equal(pcap_store_close(s), 0);
	free_names(names, nn);
	unlink(out);
	rm_rf(dir);
}

static void test_open_errors(void **state)
{
	char dir[128], path[256], err[256];
	struct pcap_store_config c = {0};
	struct pcap_store *s = NULL, *s2 = NULL;
	int ret;

	(void)state;
	/* A directory that cannot be created: its parent is a regular file. */
	snprintf(path, sizeof(path), "%s/plainfile", base_dir);
	write_file(path, "x", 1);
	snprintf(dir, sizeof(dir), "%s/plainfile/store", base_dir);
	c.dir = dir;
	c.limit_bytes = 1 << 20;
	err[0] = 0;
	ret = pcap_store_open(&c, &s, err, sizeof(err));
	assert_true(ret < 0);
	assert_null(s);
	assert_non_null(strstr(err, dir));
	unlink(path);

	/* A directory that cannot be written (root writes anywhere: only checked as a user). */
	if (geteuid() != 0) {
		new_dir(dir, sizeof(dir));
		assert_int_equal(mkdir(dir, 0500), 0);
		ret = pcap_store_open(&c, &s, err, sizeof(err));
		assert_int_equal(ret, -EACCES);
		assert_non_null(strstr(err, "cannot write"));
		chmod(dir, 0700);
		rm_rf(dir);
	}

	/* /proc takes no new directories, even from root. */
	c.dir = "/proc/floe-store-test";
	ret = pcap_store_open(&c, &s, err, sizeof(err));
	assert_true(ret < 0);
	assert_non_null(strstr(err, "/proc/floe-store-test"));

	/* A store in use. */
	new_dir(dir, sizeof(dir));
	c.dir = dir;
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), 0);
	ret = pcap_store_open(&c, &s2, err, sizeof(err));
	assert_int_equal(ret, -EBUSY);
	assert_null(s2);
	assert_non_null(strstr(err, "in use"));
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(pcap_store_open(&c, &s2, err, sizeof(err)), 0);
	assert_int_equal(pcap_store_close(s2), 0);

	/* A limit smaller than the directory itself needs. */
	c.limit_bytes = 8 << 10;
	ret = pcap_store_open(&c, &s, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(err, "too small"));
	rm_rf(dir);

	/* Export of a missing store. */
	snprintf(path, sizeof(path), "%s/x.pcap", base_dir);
	ret = pcap_store_export("/nonexistent/floe", path, 0, NULL, NULL, err, sizeof(err));
	assert_int_equal(ret, -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/floe"));
	assert_int_equal(access(path, F_OK), -1);
}

/* A packet that cannot fit under the limit is counted lost, and the store goes on. */
static void test_oversized(void **state)
{
	char dir[128], out[160], err[256];
	static uint8_t big[65535];
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct pcap_store *s;

	(void)state;
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 64 << 10, 0, 0);
	write_range(s, 0, 10);
	assert_int_equal(pcap_store_write(s, pkt_ts(10), sizeof(big), sizeof(big), big), 0);
	assert_int_equal(pcap_store_flush(s), -EFBIG);
	write_range(s, 11, 20);
	assert_int_equal(pcap_store_flush(s), 0);
	pcap_store_get_stats(s, &st);
	assert_int_equal(st.packets_lost, 1);
	assert_int_equal(st.last_errno, EFBIG);
	assert_int_equal(st.packets_written, 19);
	assert_int_equal(pcap_store_write(s, 0, 10, 10, NULL), -EINVAL);
	assert_int_equal(pcap_store_close(s), 0);
	snprintf(out, sizeof(out), "%s/big.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_out, 19);
	unlink(out);
	rm_rf(dir);
}

/* Wait until the writer has counted n lost packets (it runs behind the producer). */
static void wait_lost(struct pcap_store *s, uint64_t n)
{
	struct pcap_store_stats st;

	for (int i = 0; i < 10000; i++) {
		pcap_store_get_stats(s, &st);
		if (st.packets_lost >= n)
			return;
		usleep(1000);
	}
	fail_msg("the writer did not count %llu lost packets within 10 s", (unsigned long long)n);
}

/*
 * The writer may count a loss before the producer calls pcap_store_flush (or close). That
 * loss must still be reported, once. Waiting for the count before each call forces the
 * interleaving that made test_oversized fail now and then.
 */
static void test_loss_before_flush(void **state)
{
	char dir[128], out[160], err[256];
	static uint8_t big[65535];
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct pcap_store *s;

	(void)state;
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 64 << 10, 0, 0);
	write_range(s, 0, 10);
	assert_int_equal(pcap_store_write(s, pkt_ts(10), sizeof(big), sizeof(big), big), 0);
	wait_lost(s, 1);
	assert_int_equal(pcap_store_flush(s), -EFBIG);
	assert_int_equal(pcap_store_flush(s), 0); /* reported once */
	write_range(s, 11, 20);
	assert_int_equal(pcap_store_write(s, pkt_ts(20), sizeof(big), sizeof(big), big), 0);
	write_range(s, 21, 30);
	wait_lost(s, 2);
	assert_int_equal(pcap_store_flush(s), -EFBIG);
	/* Counted after the last flush and before close: close reports it. */
	assert_int_equal(pcap_store_write(s, pkt_ts(30), sizeof(big), sizeof(big), big), 0);
	wait_lost(s, 3);
	pcap_store_get_stats(s, &st);
	assert_int_equal(st.packets_lost, 3);
	assert_int_equal(st.packets_written, 28);
	assert_int_equal(pcap_store_close(s), -EFBIG);
	snprintf(out, sizeof(out), "%s/lost.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_out, 28);
	unlink(out);
	rm_rf(dir);
}

/*
 * The smallest store rotates every few dozen packets, so a new segment often starts while the
 * previous one is being compressed or its bytes are cooling. That only makes the writer wait
 * or evict: a packet that fits in an empty store is never lost (EFBIG is for the others).
 */
static void test_small_store_no_loss(void **state)
{
	const uint64_t limit = 64 << 10;
	char dir[128];
	struct pcap_store_stats st;
	struct pcap_store *s;
	const uint32_t n = 1000;

	(void)state;
	for (int level = 0; level <= 3; level += 3) {
		new_dir(dir, sizeof(dir));
		s = open_store(dir, limit, 0, level);
		for (uint32_t i = 0; i < n; i += 50) {
			write_range(s, i, i + 50);
			assert_int_equal(pcap_store_flush(s), 0);
			assert_true(apparent_size(dir) <= limit);
		}
		pcap_store_get_stats(s, &st);
		assert_int_equal(pcap_store_close(s), 0);
		assert_int_equal(st.packets_lost, 0);
		assert_int_equal(st.packets_written, n);
		assert_true(st.segments_evicted > 0);
		assert_true(st.store_bytes_peak <= limit);
		assert_true(apparent_size(dir) <= limit);
		rm_rf(dir);
	}
}

/*
 * A full disk: the store sits on a 256 KiB tmpfs while its limit is 8 MiB. Needs root and a
 * private mount namespace (the mount vanishes with the test process); skipped otherwise.
 */
static void test_disk_full(void **state)
{
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store_stats st;
	struct pcap_store *s;
	struct readback rb;
	const uint32_t n = 3000;

	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		print_message("skipped: needs root and a mount namespace\n");
		skip();
	}
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700"), 0);
	snprintf(mounted_dir, sizeof(mounted_dir), "%s", dir);

	s = open_store(dir, 8ull << 20, 64 << 10, 3);
	write_range(s, 0, n);
	pcap_store_flush(s);
	pcap_store_get_stats(s, &st);
	print_message("disk full: errno %d written %llu lost %llu evicted %llu\n", st.last_errno,
		      (unsigned long long)st.packets_written, (unsigned long long)st.packets_lost,
		      (unsigned long long)st.packets_evicted);
	/* The disk, not the limit, ran out: older segments made room for newer packets. */
	assert_int_equal(st.last_errno, ENOSPC);
	assert_true(st.packets_written > 0);
	assert_true(st.packets_evicted > 0);
	assert_int_equal(st.packets_written + st.packets_lost, n);
	pcap_store_close(s);

	snprintf(out, sizeof(out), "%s/full.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	read_back(out, &rb, false);
	assert_true(rb.in_order);
	assert_true(rb.n > 0);
	assert_int_equal(rb.last, n - 1); /* recovered: the newest packets made it */
	check_tshark(out);
	unlink(out);
	assert_int_equal(umount(dir), 0);
	mounted_dir[0] = 0;
	rmdir(dir);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(base_dir, sizeof(base_dir), "/tmp/floe-pcap-store-XXXXXX");
	return mkdtemp(base_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	if (mounted_dir[0])
		umount2(mounted_dir, MNT_DETACH);
	rm_rf(base_dir);
	return 0;
}

/*
 * A segment whose first 8 MiB do not shrink (build_frame's noise, as encrypted payloads) stays
 * a .pcap: a second copy of the same size is not worth its I/O. A compressible one of the same
 * size is compressed. Neither is an error, and every packet is exported.
 */
static void test_incompressible_stays_raw(void **state)
{
	char dir[128], out[160], err[256];
	struct pcap_export_stats es;
	struct pcap_store *s;
	struct readback rb;
	static uint8_t zeros[1400];
	const uint32_t n = 15000; /* ~11 MB of PCAP: one segment of 10 MiB past the probe */

	(void)state;
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 256ull << 20, 10ull << 20, 1);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(count_files(dir, ".pcap.zst"), 1); /* the last, small segment */
	assert_int_equal(count_files(dir, ".pcap"), 1);
	assert_int_equal(count_files(dir, ".tmp"), 0);
	snprintf(out, sizeof(out), "%s/inc.pcap", base_dir);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, n);
	assert_true(rb.in_order);
	unlink(out);
	rm_rf(dir);

	/* The same sizes, compressible: both segments compressed. */
	new_dir(dir, sizeof(dir));
	s = open_store(dir, 256ull << 20, 10ull << 20, 1);
	for (uint32_t i = 0; i < 8000; i++)
		assert_int_equal(pcap_store_write(s, pkt_ts(i), sizeof(zeros), sizeof(zeros), zeros),
				 0);
	assert_int_equal(pcap_store_close(s), 0);
	assert_int_equal(count_files(dir, ".pcap.zst"), 2);
	assert_int_equal(count_files(dir, ".pcap"), 0);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), 0);
	assert_int_equal(es.packets_out, 8000);
	unlink(out);
	rm_rf(dir);
}

/* ---- permissions: captured traffic is secret ---- */

#define NOBODY 65534u

/* dir has mode dmode, and every file in it fmode (and group gid, unless -1); returns how many
 * files there are. */
static int check_modes(const char *dir, mode_t dmode, mode_t fmode, gid_t gid)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	int n = 0;

	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, dmode);
	if (gid != (gid_t)-1)
		assert_int_equal(sb.st_gid, gid);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		assert_int_equal(fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW), 0);
		assert_true(S_ISREG(sb.st_mode));
		if ((sb.st_mode & 07777) != fmode)
			fail_msg("%s/%s has mode %04o, not %04o", dir, de->d_name,
				 (unsigned)(sb.st_mode & 07777), (unsigned)fmode);
		if (gid != (gid_t)-1)
			assert_int_equal(sb.st_gid, gid);
		n++;
	}
	closedir(d);
	return n;
}

/* What nobody (uid and gid 65534, no other group) manages in a store. */
enum {
	NOBODY_OPENED_SEGMENT = 1, /* open(2) of a segment by its path */
	NOBODY_EXPORTED = 2,	   /* pcap_store_export returned 0 */
	NOBODY_EXPORT_EACCES = 4,  /* ...returned -EACCES */
	NOBODY_SEGMENT_EACCES = 8, /* the open failed with EACCES */
};

/* In a child that is nobody: try the segment, then export the store to out_fd. */
static int try_as_nobody(const char *dir, const char *seg, int out_fd)
{
	pid_t pid;
	int st, r = 0, fd, ret;
	char err[256];

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_not_equal(WEXITSTATUS(st), 255);
		return WEXITSTATUS(st);
	}
	if (dup2(out_fd, STDOUT_FILENO) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0 ||
	    geteuid() != NOBODY)
		_exit(255);
	fd = open(seg, O_RDONLY);
	if (fd >= 0)
		r |= NOBODY_OPENED_SEGMENT;
	else if (errno == EACCES)
		r |= NOBODY_SEGMENT_EACCES;
	ret = pcap_store_export(dir, "-", 0, NULL, NULL, err, sizeof(err));
	if (ret == 0)
		r |= NOBODY_EXPORTED;
	else if (ret == -EACCES && strstr(err, dir))
		r |= NOBODY_EXPORT_EACCES;
	fflush(stdout);
	_exit(r);
}

/* A store's first segment (by path), compressed or not. */
static void first_segment(const char *dir, char *path, size_t len)
{
	char **names;
	int n = list_names(dir, &names);

	assert_true(n > 0);
	snprintf(path, len, "%s/%s", dir, names[0]);
	free_names(names, n);
}

static void file_is(const char *path, const char *content)
{
	size_t len;
	char *b = read_file(path, &len);

	assert_int_equal(len, strlen(content));
	assert_memory_equal(b, content, len);
	free(b);
}

/*
 * A store is 0700 with 0600 files whatever the umask: nobody can read a segment or export
 * (the check fails the other way with the group, below, so it can fail). With a group, the
 * group reads: 0750/0640 even under umask 077, and nobody, a member, exports every packet. A
 * store an older floe left 0755/0644 is made private when it is opened again.
 */
static void test_permissions(void **state)
{
	char top[] = "/tmp/floe-perm-XXXXXX", dir[128], seg[256], out[160], err[256];
	struct pcap_store_config c = {0};
	struct pcap_store *s = NULL;
	struct readback rb;
	mode_t old_umask;
	struct stat sb;
	int fd, r;
	const uint32_t n = 2000;
	DIR *d;
	struct dirent *de;

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: needs root (to act as nobody)\n");
		skip();
	}
	/* Unlike base_dir, nobody may walk through top: only the store's own modes stop it. */
	assert_non_null(mkdtemp(top));
	assert_int_equal(chmod(top, 0755), 0);
	snprintf(out, sizeof(out), "%s/nobody.pcap", top);

	old_umask = umask(0);
	snprintf(dir, sizeof(dir), "%s/sub/store", top);
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_close(s), 0);
	assert_true(check_modes(dir, 0700, 0600, (gid_t)-1) >= 3); /* segments and .lock */
	assert_true(count_files(dir, ".pcap.zst") >= 2);
	first_segment(dir, seg, sizeof(seg));
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	r = try_as_nobody(dir, seg, fd);
	close(fd);
	assert_int_equal(r, NOBODY_SEGMENT_EACCES | NOBODY_EXPORT_EACCES);

	/* An older floe's store: 0755 and 0644. Reopened, it is private. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(seg, 0644), 0);
	snprintf(seg, sizeof(seg), "%s/.lock", dir);
	assert_int_equal(chmod(seg, 0644), 0);
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	assert_int_equal(pcap_store_close(s), 0);
	check_modes(dir, 0700, 0600, (gid_t)-1);

	/* With a group (by number here, by name when the system has one): group reads. */
	umask(077);
	snprintf(dir, sizeof(dir), "%s/group", top);
	c.dir = dir;
	c.group = getgrgid(NOBODY) ? getgrgid(NOBODY)->gr_name : "65534";
	c.limit_bytes = 64ull << 20;
	c.segment_bytes = 64 << 10;
	c.snaplen = 65535;
	c.zstd_level = 3;
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), 0);
	write_range(s, 0, n);
	assert_int_equal(pcap_store_close(s), 0);
	assert_true(check_modes(dir, 0750, 0640, NOBODY) >= 3);
	first_segment(dir, seg, sizeof(seg));
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	r = try_as_nobody(dir, seg, fd);
	close(fd);
	assert_int_equal(r, NOBODY_OPENED_SEGMENT | NOBODY_EXPORTED);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, n);

	/* Group given to an existing private store; the group then taken away again. */
	snprintf(dir, sizeof(dir), "%s/sub/store", top);
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), 0);
	assert_int_equal(pcap_store_close(s), 0);
	check_modes(dir, 0750, 0640, NOBODY);
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	assert_int_equal(pcap_store_close(s), 0);
	check_modes(dir, 0700, 0600, (gid_t)-1);

	c.group = "floe-no-such-group";
	assert_int_equal(pcap_store_open(&c, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "floe-no-such-group"));
	assert_non_null(strstr(err, "no such group"));

	/* An export is 0600 under umask 0, and leaves no temporary file behind. */
	umask(0);
	snprintf(out, sizeof(out), "%s/export.pcap", top);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, NULL, err, sizeof(err)), 0);
	umask(old_umask);
	assert_int_equal(lstat(out, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, n);
	d = opendir(top);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, "floe-export"));
	closedir(d);
	rm_rf(top);
}

/* Open a store expected to be refused: returns the error; nothing was created in dir. */
static int open_refused(const char *dir, char *err, size_t errlen)
{
	struct pcap_store_config c = {.dir = dir, .limit_bytes = 1 << 20, .snaplen = 65535};
	struct pcap_store *s = NULL;
	int ret;

	err[0] = 0;
	ret = pcap_store_open(&c, &s, err, errlen);
	assert_true(ret < 0);
	assert_null(s);
	assert_non_null(strstr(err, dir));
	return ret;
}

/*
 * A store directory others may write to (they could plant files and symlinks), that another
 * user owns, or that is a symlink is refused with a message naming the path, the mode and the
 * fix; the store creates nothing in it.
 */
static void test_refused_dirs(void **state)
{
	char dir[128], link[160], err[512];
	static const mode_t writable[] = {0777, 01777, 0770, 0720, 0702};

	(void)state;
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	for (size_t i = 0; i < sizeof(writable) / sizeof(writable[0]); i++) {
		char mode[8];

		assert_int_equal(chmod(dir, writable[i]), 0);
		assert_int_equal(open_refused(dir, err, sizeof(err)), -EPERM);
		snprintf(mode, sizeof(mode), "%04o", (unsigned)writable[i]);
		assert_non_null(strstr(err, mode));
		assert_non_null(strstr(err, writable[i] & 2 ? "every user" : "its group"));
		assert_non_null(strstr(err, "chmod go-w"));
		assert_int_equal(count_files(dir, ""), 0);
	}
	assert_int_equal(chmod(dir, 0700), 0);

	if (geteuid() == 0) {
		assert_int_equal(chown(dir, NOBODY, NOBODY), 0);
		assert_int_equal(open_refused(dir, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "belongs to uid 65534"));
		assert_non_null(strstr(err, "chown"));
		assert_int_equal(count_files(dir, ""), 0);
		assert_int_equal(chown(dir, 0, 0), 0);
	}

	snprintf(link, sizeof(link), "%s.link", dir);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(open_refused(link, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	unlink(link);
	rm_rf(dir);
}

/*
 * Symlinks planted under the names floe creates (the probe, a compression's temporary file,
 * the lock, an export's output) never lead floe to write, truncate or chmod what they point
 * to; the victim keeps its content and mode.
 */
static void test_planted_symlinks(void **state)
{
	static const char precious[] = "precious, not a capture\n";
	char dir[128], victim[160], link[256], out[160], err[256], **names;
	struct pcap_export_stats es;
	struct pcap_store *s;
	struct readback rb;
	struct stat sb;
	int nn;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", base_dir);
	write_file(victim, precious, strlen(precious));
	assert_int_equal(chmod(victim, 0644), 0);
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);

	/* The probe's name. */
	snprintf(link, sizeof(link), "%s/floe-probe.tmp", dir);
	assert_int_equal(symlink(victim, link), 0);
	s = open_store(dir, 64ull << 20, 64 << 10, 0);
	write_range(s, 0, 500);
	assert_int_equal(pcap_store_close(s), 0);
	file_is(victim, precious);
	assert_int_equal(lstat(link, &sb), -1);

	/* A compression's temporary output, next to an uncompressed segment. */
	nn = list_names(dir, &names);
	assert_true(nn >= 2);
	snprintf(link, sizeof(link), "%s/%s.zst.tmp", dir, names[0]);
	free_names(names, nn);
	assert_int_equal(symlink(victim, link), 0);
	s = open_store(dir, 64ull << 20, 64 << 10, 3);
	assert_int_equal(pcap_store_close(s), 0);
	file_is(victim, precious);
	assert_int_equal(count_files(dir, ".pcap"), 0);
	check_modes(dir, 0700, 0600, (gid_t)-1); /* no symlink left either */

	/* The lock: refused, not followed. */
	snprintf(link, sizeof(link), "%s/.lock", dir);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(open_refused(dir, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	file_is(victim, precious);
	assert_int_equal(stat(victim, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	assert_int_equal(unlink(link), 0);

	/* An export's output: refused unless replaced, and then the link is replaced. */
	snprintf(out, sizeof(out), "%s/out.pcap", base_dir);
	assert_int_equal(symlink(victim, out), 0);
	assert_int_equal(pcap_store_export(dir, out, 0, NULL, &es, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, out));
	assert_int_equal(lstat(out, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	assert_int_equal(
	    pcap_store_export(dir, out, PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)), 0);
	file_is(victim, precious);
	assert_int_equal(lstat(out, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	read_back(out, &rb, true);
	assert_int_equal(rb.n, 500);

	/* An existing file is kept as it is without REPLACE. */
	assert_int_equal(pcap_store_export(dir, victim, 0, NULL, &es, err, sizeof(err)), -EEXIST);
	file_is(victim, precious);
	/* A character device is written to, not replaced. */
	assert_int_equal(
	    pcap_store_export(dir, "/dev/null", PCAP_EXPORT_REPLACE, NULL, &es, err, sizeof(err)),
	    0);
	assert_int_equal(es.packets_out, 500);
	assert_int_equal(lstat("/dev/null", &sb), 0);
	assert_true(S_ISCHR(sb.st_mode));
	unlink(out);
	unlink(victim);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_rotation_compression),
	    cmocka_unit_test(test_rotation_by_age),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_limit_counters),
	    cmocka_unit_test(test_close_evicts_counted),
	    cmocka_unit_test(test_limit_exact_accounting),
	    cmocka_unit_test(test_recycle_written_over),
	    cmocka_unit_test(test_recycle_end_mark),
	    cmocka_unit_test(test_reopen),
	    cmocka_unit_test(test_filter),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_corrupt_zst),
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_loss_before_flush),
	    cmocka_unit_test(test_small_store_no_loss),
	    cmocka_unit_test(test_disk_full),
	    cmocka_unit_test(test_incompressible_stays_raw),
	    cmocka_unit_test(test_permissions),
	    cmocka_unit_test(test_refused_dirs),
	    cmocka_unit_test(test_planted_symlinks),
	    cmocka_unit_test(test_batched_kick),
	    cmocka_unit_test(test_compressor_idle),
	    cmocka_unit_test(test_compress_newest_first),
	    cmocka_unit_test(test_sync_parts_of_filled_chunk),
	    cmocka_unit_test(test_concurrent_sync_exact),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
