// SPDX-License-Identifier: Apache-2.0
/*
 * entry_history: compressed, time-indexed segments of entries beside the PCAP store.
 * See entry_history.h for the layout and docs/storage.md ("Entry history").
 */
#include "store/entry_history.h"
#include "entry/entry_json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#define SEG_PREFIX   "entries-"
#define SEG_SUFFIX   ".jsonl.zst"
#define SEG_NAME_MAX 48
/* The index: a zstd skippable frame (magic 0x184D2A5E, 32-byte payload):
 * "FLEH", version 1, min ts, max ts, count (little-endian). */
#define IDX_MAGIC	 0x184D2A5Eu
#define IDX_TAG		 0x48454c46u /* "FLEH" */
#define IDX_BYTES	 40
#define FRAME_MAX	 (256u << 20) /* a decompressed batch larger than this is damage */
#define DEFAULT_QUEUE	 (8u << 20)
#define DEFAULT_BATCH_NS 200000000ull
/* The writer is woken once this much waits (or half the queue, if less): frames of 512 KiB of
 * JSON compress about as well as bigger ones, and the queue's buffer and the writer's, each
 * as big as a frame (doubled), were ~8 MiB of the live tap's peak RSS at 35k entries/s; at
 * 1 MiB the three buffers (queue, batch, compressed frame) held 6 MiB at live.sh's 5-10k
 * entries/s, three times the history's floor in the queues' budget. */
#define WAKE_BYTES (512u << 10)
#define DIR_SLACK	 4096u /* the directory's own growth, as the PCAP store counts it */
/* The compressed frame's buffer, from open to close (the rest grows as batches need) */
#define OUT_MIN (128u << 10)
#define APPEND_TIMED_EVERY 16u /* entry_history_stats.append_ns: a sample of the appends */

struct seg {
	uint64_t seq;
	uint64_t bytes; /* on disk, the index frame included once closed */
	int64_t min, max;
	uint64_t count;
};

struct entry_history {
	struct entry_history_config cfg;
	int store_fd, dirfd;
	mode_t fmode;
	gid_t gid; /* the store directory's group: --store-group's readers */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	/* The queue: lines "<ts> <id> <json>\n" appended to one buffer, which the writer swaps
	 * for its own (batch) and compresses as one frame. A list of one allocation per entry
	 * cost a malloc on the dissection thread and a free on the writer's (another thread's
	 * arena) per entry, and the writer copied the list into one buffer anyway. */
	char *fill;
	size_t fill_cap;
	size_t qbytes;	   /* bytes in fill */
	uint64_t qcount;   /* entries in fill */
	int64_t qmin, qmax; /* their times */
	uint64_t enq_gen, done_gen;
	unsigned syncs;
	bool stop;
	struct entry_history_stats st; /* under lock */
	/* the writer thread's alone */
	struct seg *segs; /* closed, oldest first */
	size_t nsegs, cap;
	int active_fd;
	struct seg active;
	uint64_t active_opened_ns;
	uint64_t next_seq;
	uint64_t total; /* bytes counted: dir slack + foreign + segments (+ IDX of the active) */
	uint64_t last_pcap_check_ns;
	ZSTD_CCtx *cc;
	char *batch, *out;
	size_t batch_cap, out_cap;
	uint64_t appends; /* the appending thread's: calls, for the timing's sample */
	struct queue_budget *budget; /* cfg.budget once joined: fill, batch and out charged */
	int budget_id;
};

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void index_encode(uint8_t b[IDX_BYTES], const struct seg *s)
{
	put_le32(b, IDX_MAGIC);
	put_le32(b + 4, IDX_BYTES - 8);
	put_le32(b + 8, IDX_TAG);
	put_le32(b + 12, 1);
	put_le64(b + 16, (uint64_t)s->min);
	put_le64(b + 24, (uint64_t)s->max);
	put_le64(b + 32, s->count);
}

/* True when b holds an index frame. */
static bool index_decode(const uint8_t b[IDX_BYTES], struct seg *s)
{
	if (get_le32(b) != IDX_MAGIC || get_le32(b + 4) != IDX_BYTES - 8 ||
	    get_le32(b + 8) != IDX_TAG || get_le32(b + 12) != 1)
		return false;
	s->min = (int64_t)get_le64(b + 16);
	s->max = (int64_t)get_le64(b + 24);
	s->count = get_le64(b + 32);
	return true;
}

static bool parse_seg_name(const char *n, uint64_t *seq)
{
	size_t pl = strlen(SEG_PREFIX), sl = strlen(SEG_SUFFIX), len = strlen(n);
	uint64_t v = 0;

	if (len != pl + 10 + sl || strncmp(n, SEG_PREFIX, pl) || strcmp(n + pl + 10, SEG_SUFFIX))
		return false;
	for (size_t i = pl; i < pl + 10; i++) {
		if (n[i] < '0' || n[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(n[i] - '0');
	}
	*seq = v;
	return true;
}

static void seg_name(char buf[SEG_NAME_MAX], uint64_t seq)
{
	snprintf(buf, SEG_NAME_MAX, SEG_PREFIX "%010llu" SEG_SUFFIX, (unsigned long long)seq);
}

/* ---- parsing (readers, recovery, fuzzing) ---- */

struct parse_state {
	int64_t since, until;
	entry_history_fn fn;
	void *arg;
	uint64_t count; /* lines seen, in range or not */
	int64_t min, max;
	size_t good_end; /* end of the last whole, valid frame */
	bool stopped;
};

/* One decompressed batch: lines "<ts> <id> <json>\n". 0, 1 (fn stopped) or -1 (damage). */
static int parse_lines(struct parse_state *ps, const char *p, size_t n, const char **why)
{
	const char *end;

	if (!n)
		return 0; /* an empty frame (p may be NULL: nothing was allocated for it) */
	end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q = p, *id;
		bool neg = false;
		uint64_t v = 0;
		int64_t ts;
		size_t idlen;

		if (!nl) {
			*why = "a line without its end";
			return -1;
		}
		if (q < nl && *q == '-') {
			neg = true;
			q++;
		}
		if (q == nl || *q < '0' || *q > '9') {
			*why = "a line without its timestamp";
			return -1;
		}
		while (q < nl && *q >= '0' && *q <= '9') {
			if (v > (UINT64_MAX - 9) / 10) {
				*why = "a timestamp out of range";
				return -1;
			}
			v = v * 10 + (uint64_t)(*q++ - '0');
		}
		if (v > (uint64_t)INT64_MAX || q == nl || *q++ != ' ') {
			*why = "a bad timestamp";
			return -1;
		}
		ts = neg ? -(int64_t)v : (int64_t)v;
		id = q;
		while (q < nl && *q != ' ' && (unsigned char)*q > ' ')
			q++;
		idlen = (size_t)(q - id);
		/* an id is printable: a NUL or a control byte in it is damage, not an id */
		if (!idlen || idlen > ENTRY_HISTORY_ID_MAX || q == nl || *q != ' ' || q[1] != '{' ||
		    nl[-1] != '}') {
			*why = "a line that is not <ts> <id> <JSON object>";
			return -1;
		}
		q++;
		ps->count++;
		if (ps->count == 1 || ts < ps->min)
			ps->min = ts;
		if (ps->count == 1 || ts > ps->max)
			ps->max = ts;
		if (!ps->stopped && ps->fn && (!ps->since || ts >= ps->since) &&
		    (!ps->until || ts < ps->until)) {
			char idbuf[ENTRY_HISTORY_ID_MAX + 1];

			memcpy(idbuf, id, idlen);
			idbuf[idlen] = 0;
			if (ps->fn(idbuf, ts, q, (size_t)(nl - q), ps->arg))
				ps->stopped = true;
		}
		p = nl + 1;
	}
	return 0;
}

static int parse_frames(const uint8_t *p, size_t len, int tail_ok, struct parse_state *ps,
			size_t *damage_at, const char **why)
{
	ZSTD_DCtx *dc = NULL;
	char *buf = NULL;
	size_t off = 0, cap = 0, end = len;
	struct seg idx;
	bool has_idx = len >= IDX_BYTES && index_decode(p + len - IDX_BYTES, &idx);
	int ret = 0;

	if (has_idx)
		end -= IDX_BYTES;
	ps->good_end = 0;
	while (off < end && !ps->stopped) {
		size_t fsz = ZSTD_findFrameCompressedSize(p + off, end - off), got;
		unsigned long long csz;

		if (ZSTD_isError(fsz)) {
			if (tail_ok && !has_idx &&
			    ZSTD_getErrorCode(fsz) == ZSTD_error_srcSize_wrong)
				break; /* the frame being written */
			*why = "a bad zstd frame";
			ret = -1;
			break;
		}
		if ((get_le32(p + off) & 0xFFFFFFF0u) == 0x184D2A50u) { /* skippable */
			off += fsz;
			ps->good_end = off;
			continue;
		}
		csz = ZSTD_getFrameContentSize(p + off, fsz);
		if (csz == ZSTD_CONTENTSIZE_UNKNOWN || csz == ZSTD_CONTENTSIZE_ERROR ||
		    csz > FRAME_MAX) {
			*why = "a zstd frame without a usable size";
			ret = -1;
			break;
		}
		if (!dc && !(dc = ZSTD_createDCtx())) {
			*why = "out of memory";
			ret = -1;
			break;
		}
		if (csz > cap) {
			char *nb = realloc(buf, (size_t)csz ? (size_t)csz : 1);

			if (!nb) {
				*why = "out of memory";
				ret = -1;
				break;
			}
			buf = nb;
			cap = (size_t)csz;
		}
		got = ZSTD_decompressDCtx(dc, buf, (size_t)csz, p + off, fsz);
		if (ZSTD_isError(got) || got != csz) {
			*why = "a zstd frame that does not decompress (checksum)";
			ret = -1;
			break;
		}
		if (parse_lines(ps, buf, got, why) < 0) {
			ret = -1;
			break;
		}
		off += fsz;
		ps->good_end = off;
	}
	if (!ret && !ps->stopped && has_idx && off == end &&
	    (idx.count != ps->count || (idx.count && (idx.min != ps->min || idx.max != ps->max)))) {
		*why = "an index that does not match the entries";
		ret = -1;
	}
	*damage_at = off;
	ZSTD_freeDCtx(dc);
	free(buf);
	return ret;
}

int entry_history_parse_segment(const uint8_t *p, size_t len, int tail_ok, int64_t since_ns,
				int64_t until_ns, entry_history_fn fn, void *arg, char *err,
				size_t errlen)
{
	struct parse_state ps = {.since = since_ns, .until = until_ns, .fn = fn, .arg = arg};
	const char *why = "";
	size_t at = 0;

	if (parse_frames(p, len, tail_ok, &ps, &at, &why) < 0) {
		snprintf(err, errlen, "damaged at byte %zu: %s", at, why);
		return -EBADMSG;
	}
	return ps.stopped ? 1 : 0;
}

/* ---- reading a directory ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segments' numbers in dirfd, sorted; *n = 0 when none. -errno. */
static int list_segments(int dirfd, uint64_t **out, size_t *n)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	uint64_t *v = NULL, seq;
	size_t cap = 0;

	*n = 0;
	if (!d) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	while ((de = readdir(d))) {
		if (!parse_seg_name(de->d_name, &seq))
			continue;
		if (*n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = seq;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_u64);
	*out = v;
	return 0;
}

/* Map a segment read-only. 0 (with *p NULL for an empty file), -errno. */
static int map_segment(int fd, const uint8_t **p, size_t *len)
{
	struct stat sb;
	void *m;

	*p = NULL;
	*len = 0;
	if (fstat(fd, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	if (!sb.st_size)
		return 0;
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	*p = m;
	*len = (size_t)sb.st_size;
	return 0;
}

struct count_arg {
	entry_history_fn fn;
	void *arg;
	uint64_t n;
};

static int count_fn(const char *id, int64_t ts, const char *json, size_t len, void *arg)
{
	struct count_arg *c = arg;

	c->n++;
	return c->fn(id, ts, json, len, c->arg);
}

int entry_history_read(const char *store_dir, int64_t since_ns, int64_t until_ns,
		       entry_history_fn fn, void *arg, struct entry_history_read_stats *st,
		       char *err, size_t errlen)
{
	struct entry_history_read_stats s = {};
	struct count_arg ca = {.fn = fn, .arg = arg};
	char path[4096], first[4400] = "";
	uint64_t *segs = NULL;
	size_t n = 0;
	int dirfd, ret;

	snprintf(path, sizeof(path), "%s/%s", store_dir, ENTRY_HISTORY_DIR);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT) { /* a store without history: no entries */
			if (st)
				*st = s;
			return 0;
		}
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = list_segments(dirfd, &segs, &n);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		close(dirfd);
		return ret;
	}
	s.segments = n;
	for (size_t i = 0; i < n && !ret; i++) {
		char name[SEG_NAME_MAX], why[160];
		const uint8_t *p;
		size_t len;
		struct seg idx;
		int fd, r;

		seg_name(name, segs[i]);
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* evicted since the listing */
		r = map_segment(fd, &p, &len);
		close(fd);
		if (r < 0) {
			snprintf(err, errlen, "%s/%s: %s", path, name, strerror(-r));
			ret = r;
			break;
		}
		if (len >= IDX_BYTES && index_decode(p + len - IDX_BYTES, &idx) &&
		    ((until_ns && idx.min >= until_ns) || (since_ns && idx.max < since_ns) ||
		     !idx.count)) {
			munmap((void *)p, len);
			continue;
		}
		s.segments_read++;
		r = p ? entry_history_parse_segment(p, len, i == n - 1, since_ns, until_ns,
						    count_fn, &ca, why, sizeof(why))
		      : 0;
		if (p)
			munmap((void *)p, len);
		if (r == -EBADMSG) {
			if (!s.damaged_segments++)
				snprintf(first, sizeof(first), "%s/%s: %s", path, name, why);
		} else if (r > 0) {
			break; /* fn stopped */
		}
	}
	free(segs);
	close(dirfd);
	s.entries = ca.n;
	if (st)
		*st = s;
	if (!ret && s.damaged_segments) {
		if (s.damaged_segments > 1)
			snprintf(err, errlen, "%s (and %llu more damaged segments)", first,
				 (unsigned long long)(s.damaged_segments - 1));
		else
			snprintf(err, errlen, "%s", first);
		return -EBADMSG;
	}
	return ret;
}

/* ---- the writer ---- */

static void set_errno(struct entry_history *h, int e)
{
	pthread_mutex_lock(&h->lock);
	h->st.last_errno = e;
	pthread_mutex_unlock(&h->lock);
}

static int seg_push(struct entry_history *h, const struct seg *s)
{
	if (h->nsegs == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 16;
		struct seg *nv = realloc(h->segs, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		h->segs = nv;
		h->cap = nc;
	}
	h->segs[h->nsegs++] = *s;
	return 0;
}

/* Delete closed segment i (the count goes down after the file is gone). */
static void evict(struct entry_history *h, size_t i)
{
	char name[SEG_NAME_MAX];
	struct seg s = h->segs[i];

	seg_name(name, s.seq);
	if (unlinkat(h->dirfd, name, 0) && errno != ENOENT) {
		set_errno(h, errno);
		return;
	}
	memmove(h->segs + i, h->segs + i + 1, (h->nsegs - i - 1) * sizeof(*h->segs));
	h->nsegs--;
	h->total -= s.bytes;
	pthread_mutex_lock(&h->lock);
	h->st.segments_evicted++;
	h->st.entries_evicted += s.count;
	h->st.bytes = h->total;
	pthread_mutex_unlock(&h->lock);
}

/* Close the active segment with its index (its bytes were reserved when it opened). */
static void close_active(struct entry_history *h)
{
	uint8_t b[IDX_BYTES];
	ssize_t w;

	if (h->active_fd < 0)
		return;
	index_encode(b, &h->active);
	w = pwrite(h->active_fd, b, IDX_BYTES, (off_t)h->active.bytes);
	if (w != IDX_BYTES) {
		/* A segment without its index is read in full, and indexed at the next open. */
		set_errno(h, w < 0 ? errno : EIO);
		h->total -= IDX_BYTES;
	} else {
		h->active.bytes += IDX_BYTES;
	}
	close(h->active_fd);
	h->active_fd = -1;
	if (seg_push(h, &h->active) < 0) {
		/* Not tracked: its bytes stay counted so the limit still holds. */
		set_errno(h, ENOMEM);
	}
}

static int open_active(struct entry_history *h)
{
	char name[SEG_NAME_MAX];
	int fd;

	seg_name(name, h->next_seq);
	fd = openat(h->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, h->fmode) || fchown(fd, (uid_t)-1, h->gid)) {
		int e = errno;

		close(fd);
		unlinkat(h->dirfd, name, 0);
		return -e;
	}
	h->active_fd = fd;
	h->active = (struct seg){.seq = h->next_seq++};
	h->active_opened_ns = now_ns(CLOCK_MONOTONIC);
	h->total += IDX_BYTES; /* reserved for the index written at close */
	return 0;
}

/* Make room for n more bytes: the oldest segments go first. false when it cannot fit. */
static bool reserve(struct entry_history *h, uint64_t n)
{
	while (h->total + n > h->cfg.limit_bytes) {
		if (h->nsegs) {
			evict(h, 0);
			continue;
		}
		if (h->active_fd >= 0 && h->active.count) {
			close_active(h);
			continue;
		}
		return false;
	}
	return true;
}

/* A buffer's capacity set to nc (larger), charged to the budget: -ENOBUFS when it refuses. */
static int resize_charged(struct entry_history *h, char **p, size_t *cap, size_t nc)
{
	char *np;

	if (!queue_budget_charge(h->budget, h->budget_id, nc - *cap))
		return -ENOBUFS;
	np = realloc(*p, nc);
	if (!np) {
		queue_budget_release(h->budget, h->budget_id, nc - *cap);
		return -ENOMEM;
	}
	*p = np;
	*cap = nc;
	return 0;
}

/* The queue's buffer grown to need: doubled, or (the budget refusing the double) to what is
 * needed in 64 KiB steps. */
static int grow(struct entry_history *h, char **p, size_t *cap, size_t need)
{
	size_t nc = *cap ? *cap : 65536;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	if (resize_charged(h, p, cap, nc) == 0)
		return 0;
	return resize_charged(h, p, cap, (need + 65535) & ~(size_t)65535);
}

static void count_dropped(struct entry_history *h, uint64_t count, int err)
{
	pthread_mutex_lock(&h->lock);
	h->st.entries_dropped += count;
	h->st.last_errno = err;
	pthread_mutex_unlock(&h->lock);
}

/* The compressed frame's buffer back to OUT_MIN (write_batch's slices need it). */
static void shrink_out(struct entry_history *h)
{
	char *p = realloc(h->out, OUT_MIN);

	if (!p)
		return;
	queue_budget_release(h->budget, h->budget_id, h->out_cap - OUT_MIN);
	h->out = p;
	h->out_cap = OUT_MIN;
}

/* The compressed frame's buffer grown to need (64 KiB steps). */
static int grow_exact(struct entry_history *h, char **p, size_t *cap, size_t need)
{
	return need <= *cap ? 0 : resize_charged(h, p, cap, (need + 65535) & ~(size_t)65535);
}

/* A buffer back to the system, its capacity to the budget. */
static void drop_buffer(struct entry_history *h, char **p, size_t *cap)
{
	free(*p);
	*p = NULL;
	queue_budget_release(h->budget, h->budget_id, *cap);
	*cap = 0;
}

/* Write the count entries (len bytes at data, times within min..max) as one zstd frame; h->out
 * holds ZSTD_compressBound(len). */
static void write_frame(struct entry_history *h, const char *data, size_t len, uint64_t count,
			int64_t min, int64_t max)
{
	size_t clen;
	int err = 0;

	clen = ZSTD_compress2(h->cc, h->out, h->out_cap, data, len);
	if (ZSTD_isError(clen)) {
		err = EIO;
		goto lost;
	}
	if (h->active_fd >= 0 && h->active.count &&
	    h->active.bytes + clen + IDX_BYTES > h->cfg.segment_bytes)
		close_active(h);
	if (h->active_fd < 0) {
		if (!reserve(h, IDX_BYTES)) {
			err = EFBIG;
			goto lost;
		}
		int r = open_active(h);

		if (r < 0) {
			err = -r;
			goto lost;
		}
	}
	if (!reserve(h, clen)) {
		err = EFBIG;
		goto lost;
	}
	if (h->active_fd < 0) { /* reserve closed it to evict it */
		if (!reserve(h, IDX_BYTES) || open_active(h) < 0 || !reserve(h, clen)) {
			err = EFBIG;
			goto lost;
		}
	}
	h->total += clen;
	for (size_t done = 0; done < clen;) {
		ssize_t w = pwrite(h->active_fd, h->out + done, clen - done,
				   (off_t)(h->active.bytes + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			/* Cut back to the last whole frame: readers never see a partial one
			 * except while it is being written. */
			if (ftruncate(h->active_fd, (off_t)h->active.bytes))
				err = errno;
			h->total -= clen;
			goto lost;
		}
		done += (size_t)w;
	}
	h->active.bytes += clen;
	if (!h->active.count || min < h->active.min)
		h->active.min = min;
	if (!h->active.count || max > h->active.max)
		h->active.max = max;
	h->active.count += count;
	pthread_mutex_lock(&h->lock);
	h->st.entries_written += count;
	h->st.raw_bytes += len;
	h->st.bytes = h->total;
	pthread_mutex_unlock(&h->lock);
	return;
lost:
	pthread_mutex_lock(&h->lock);
	h->st.entries_dropped += count;
	h->st.last_errno = err;
	h->st.bytes = h->total;
	pthread_mutex_unlock(&h->lock);
}

/*
 * Write the count entries (len bytes, times min..max) of h->batch: one zstd frame, or, when the
 * queues' budget refuses a compressed frame's buffer that big, several frames of whole lines
 * that fit the buffer held (OUT_MIN at least, charged at open within the floor): a batch the
 * queue accepted is not lost for want of memory to compress it. Only a line longer than that
 * buffer can compress into is then dropped (counted).
 */
static void write_batch(struct entry_history *h, size_t len, uint64_t count, int64_t min,
			int64_t max)
{
	size_t slice, off = 0;
	int err;

	if (!count)
		return;
	/* the frame's bound, not the next power of two: this buffer is reused batch after batch */
	err = grow_exact(h, &h->out, &h->out_cap, ZSTD_compressBound(len));
	if (!err) {
		write_frame(h, h->batch, len, count, min, max);
		return;
	}
	for (slice = h->out_cap; slice && ZSTD_compressBound(slice) > h->out_cap;)
		slice -= slice / 64 + 64 < slice ? slice / 64 + 64 : slice;
	while (off < len) {
		const char *p = h->batch + off, *nl;
		size_t n = len - off < slice ? len - off : slice;
		uint64_t lines = 0;

		nl = n < len - off ? memrchr(p, '\n', n) : p + n - 1;
		if (!nl) { /* one line longer than a frame the buffer holds */
			nl = memchr(p, '\n', len - off);
			off += (size_t)(nl - p) + 1;
			count_dropped(h, 1, -err);
			continue;
		}
		n = (size_t)(nl - p) + 1;
		for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + n - q))); q++)
			lines++;
		write_frame(h, p, n, lines, min, max);
		off += n;
	}
}

/*
 * The time of the oldest PCAP segment of the store (from its name: floe-<seq>-<UTC
 * YYYYMMDDTHHMMSSZ>.pcap...), in ns; 0 when there is none. Entries older than that have lost
 * their packets.
 */
static uint64_t oldest_pcap_ns(int store_fd)
{
	int fd = openat(store_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char best[64] = "";
	struct tm tm = {};

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;

		/* floe-0000000042-20261123T101500Z.pcap: lexical order is age order */
		if (strncmp(n, "floe-", 5) || strlen(n) < 32 || n[15] != '-' ||
		    strncmp(n + 32, ".pcap", 5))
			continue;
		if (!best[0] || strncmp(n, best, 32) < 0)
			snprintf(best, sizeof(best), "%.32s", n);
	}
	closedir(d);
	if (!best[0] || !strptime(best + 16, "%Y%m%dT%H%M%SZ", &tm))
		return 0;
	return (uint64_t)timegm(&tm) * 1000000000ull;
}

static void housekeeping(struct entry_history *h)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	if (h->active_fd >= 0 && h->cfg.segment_seconds && h->active.count &&
	    now - h->active_opened_ns >= (uint64_t)h->cfg.segment_seconds * 1000000000ull)
		close_active(h);
	if (!h->cfg.keep_older_than_packets && now - h->last_pcap_check_ns >= 1000000000ull) {
		uint64_t oldest = oldest_pcap_ns(h->store_fd);

		h->last_pcap_check_ns = now;
		/* Whole seconds in the name: an entry of that second may still have its packets. */
		for (size_t i = 0; oldest && i < h->nsegs;) {
			if (h->segs[i].max < (int64_t)oldest)
				evict(h, i);
			else
				i++;
		}
	}
}

static void *writer_main(void *arg)
{
	struct entry_history *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct timespec dl;
		uint64_t gen, count;
		int64_t min, max;
		size_t len;
		char *p;

		if (!h->stop && !h->syncs) {
			uint64_t d = now_ns(CLOCK_MONOTONIC) + h->cfg.batch_ns;

			dl.tv_sec = (time_t)(d / 1000000000ull);
			dl.tv_nsec = (long)(d % 1000000000ull);
			pthread_cond_timedwait(&h->wake, &h->lock, &dl);
		}
		/* the queue's buffer becomes the batch; the batch's, emptied, the queue's */
		p = h->batch;
		h->batch = h->fill;
		h->fill = p;
		len = h->batch_cap;
		h->batch_cap = h->fill_cap;
		h->fill_cap = len;
		len = h->qbytes;
		count = h->qcount;
		min = h->qmin;
		max = h->qmax;
		h->qbytes = 0;
		h->qcount = 0;
		gen = h->enq_gen;
		pthread_mutex_unlock(&h->lock);
		write_batch(h, len, count, min, max);
		/* A buffer a backlog grew goes back to the system once written: the two buffers
		 * swap, so each kept the pages of the largest backlog it ever held, resident for
		 * the rest of the run (2-6 MB each at the live tap's peaks; docs/bench.md). The
		 * queue's next buffer grows again from 64 KiB as appends need it. */
		if (h->batch_cap > 2 * WAKE_BYTES)
			drop_buffer(h, &h->batch, &h->batch_cap);
		if (h->out_cap > 2 * WAKE_BYTES) /* the compressed frame's back to OUT_MIN */
			shrink_out(h);
		housekeeping(h);
		pthread_mutex_lock(&h->lock);
		h->done_gen = gen;
		pthread_cond_broadcast(&h->done);
		if (h->stop && !h->qcount)
			break;
	}
	pthread_mutex_unlock(&h->lock);
	close_active(h);
	return NULL;
}

/* A segment left without its index (a crash): cut a partial last frame, add the index. */
static int recover(struct entry_history *h, int fd, struct seg *s)
{
	struct parse_state ps = {};
	const uint8_t *p;
	size_t len, at;
	const char *why;
	uint8_t b[IDX_BYTES];
	int r = map_segment(fd, &p, &len);

	if (r < 0)
		return r;
	if (p)
		parse_frames(p, len, 1, &ps, &at, &why);
	if (p)
		munmap((void *)p, len);
	if (ftruncate(fd, (off_t)ps.good_end))
		return -errno;
	s->count = ps.count;
	s->min = ps.min;
	s->max = ps.max;
	index_encode(b, s);
	if (pwrite(fd, b, IDX_BYTES, (off_t)ps.good_end) != IDX_BYTES)
		return -EIO;
	s->bytes = ps.good_end + IDX_BYTES;
	return 0;
}

/* Take over what earlier runs left: count it, index it, continue the numbering. */
static int scan_existing(struct entry_history *h, char *err, size_t errlen)
{
	uint64_t *v = NULL;
	size_t n = 0;
	int ret = list_segments(h->dirfd, &v, &n);
	int fd = openat(h->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat sb;
	uint64_t dummy;

	if (ret) {
		snprintf(err, errlen, "entries: %s", strerror(-ret));
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
		return ret;
	}
	/* Other files count too: the limit is what du reports. */
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    parse_seg_name(de->d_name, &dummy))
			continue;
		if (!fstatat(h->dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			h->total += (uint64_t)sb.st_size;
	}
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < n; i++) {
		char name[SEG_NAME_MAX];
		struct seg s = {.seq = v[i]};
		uint8_t b[IDX_BYTES];

		seg_name(name, v[i]);
		fd = openat(h->dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb)) {
			ret = -errno;
			snprintf(err, errlen, "entries/%s: %s", name, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		if (sb.st_size >= IDX_BYTES &&
		    pread(fd, b, IDX_BYTES, sb.st_size - IDX_BYTES) == IDX_BYTES &&
		    index_decode(b, &s)) {
			s.bytes = (uint64_t)sb.st_size;
		} else {
			ret = recover(h, fd, &s);
			if (ret) {
				snprintf(err, errlen, "entries/%s: cannot index it: %s", name,
					 strerror(-ret));
				close(fd);
				break;
			}
			h->st.segments_recovered++;
		}
		close(fd);
		h->total += s.bytes;
		ret = seg_push(h, &s);
		if (ret)
			break;
		h->next_seq = v[i] + 1;
	}
	free(v);
	while (!ret && h->total > h->cfg.limit_bytes && h->nsegs)
		evict(h, 0);
	return ret;
}

int entry_history_open(const struct entry_history_config *cfg, struct entry_history **out,
		       char *err, size_t errlen)
{
	struct entry_history *h = calloc(1, sizeof(*h));
	struct stat ssb, sb;
	int ret;

	if (!h) {
		snprintf(err, errlen, "entry history: out of memory");
		return -ENOMEM;
	}
	h->cfg = *cfg;
	h->store_fd = h->dirfd = h->active_fd = -1;
	h->next_seq = 1;
	if (!h->cfg.queue_bytes)
		h->cfg.queue_bytes = DEFAULT_QUEUE;
	if (!h->cfg.batch_ns)
		h->cfg.batch_ns = DEFAULT_BATCH_NS;
	if (!h->cfg.zstd_level)
		h->cfg.zstd_level = 3;
	if (!h->cfg.segment_bytes) {
		h->cfg.segment_bytes = h->cfg.limit_bytes / 8;
		if (h->cfg.segment_bytes < (16u << 10))
			h->cfg.segment_bytes = 16u << 10;
		if (h->cfg.segment_bytes > (64u << 20))
			h->cfg.segment_bytes = 64u << 20;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->done, NULL);
	if (cfg->budget) {
		ret = queue_budget_join(cfg->budget, "history", ENTRY_HISTORY_BUDGET_FLOOR);
		if (ret < 0) {
			snprintf(err, errlen,
				 "entry history: the queues' memory budget has no room left for "
				 "its %u bytes (--queue-memory)",
				 ENTRY_HISTORY_BUDGET_FLOOR);
			goto fail;
		}
		h->budget = cfg->budget;
		h->budget_id = ret;
	}
	ret = grow(h, &h->out, &h->out_cap, OUT_MIN); /* within the floor: granted */
	if (ret < 0) {
		snprintf(err, errlen, "entry history: %s", strerror(-ret));
		goto fail;
	}
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	h->store_fd = open(cfg->store_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (h->store_fd < 0 || fstat(h->store_fd, &ssb)) {
		ret = -errno;
		snprintf(err, errlen, "entry history: %s: %s", cfg->store_dir, strerror(errno));
		goto fail;
	}
	if (mkdirat(h->store_fd, ENTRY_HISTORY_DIR, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "entry history: cannot create %s/%s: %s", cfg->store_dir,
			 ENTRY_HISTORY_DIR, strerror(errno));
		goto fail;
	}
	h->dirfd =
	    openat(h->store_fd, ENTRY_HISTORY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (h->dirfd < 0 || fstat(h->dirfd, &sb)) {
		ret = -errno;
		snprintf(err, errlen, "entry history: %s/%s: %s", cfg->store_dir, ENTRY_HISTORY_DIR,
			 strerror(errno));
		goto fail;
	}
	if (sb.st_uid != geteuid()) {
		ret = -EPERM;
		snprintf(err, errlen, "entry history: %s/%s belongs to another user",
			 cfg->store_dir, ENTRY_HISTORY_DIR);
		goto fail;
	}
	/* The same readers as the PCAP store: its directory's mode and group (0700, or 0750). */
	if ((sb.st_gid != ssb.st_gid && fchown(h->dirfd, (uid_t)-1, ssb.st_gid)) ||
	    fchmod(h->dirfd, ssb.st_mode & 0750)) {
		ret = -errno;
		snprintf(err, errlen, "entry history: %s/%s: %s", cfg->store_dir, ENTRY_HISTORY_DIR,
			 strerror(errno));
		goto fail;
	}
	h->fmode = ssb.st_mode & 0640;
	h->gid = ssb.st_gid;
	h->total = (uint64_t)sb.st_size + DIR_SLACK;
	if (h->total + IDX_BYTES + 1024 > h->cfg.limit_bytes) {
		ret = -EINVAL;
		snprintf(err, errlen, "entry history: a limit of %llu bytes is too small",
			 (unsigned long long)h->cfg.limit_bytes);
		goto fail;
	}
	ret = scan_existing(h, err, errlen);
	if (ret)
		goto fail;
	h->st.bytes = h->total;
	h->cc = ZSTD_createCCtx();
	if (!h->cc ||
	    ZSTD_isError(
		ZSTD_CCtx_setParameter(h->cc, ZSTD_c_compressionLevel, h->cfg.zstd_level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(h->cc, ZSTD_c_checksumFlag, 1))) {
		ret = -ENOMEM;
		snprintf(err, errlen, "entry history: zstd: out of memory");
		goto fail;
	}
	ret = -pthread_create(&h->thread, NULL, writer_main, h);
	if (ret) {
		snprintf(err, errlen, "entry history: writer thread: %s", strerror(-ret));
		goto fail;
	}
	h->thread_started = true;
	pthread_setname_np(h->thread, "floe-history"); /* for top -H, perf, live.sh's notes */
	*out = h;
	return 0;
fail:
	entry_history_close(h);
	return ret;
}

int entry_history_append(struct entry_history *h, const char *id, int64_t ts_ns, const char *json,
			 size_t json_len)
{
	/* One append in APPEND_TIMED_EVERY is timed (its time counts for all of them): two
	 * clock reads per entry were ~15 % of an append. */
	bool timed = h->appends++ % APPEND_TIMED_EVERY == 0;
	uint64_t t0 = timed ? now_ns(CLOCK_MONOTONIC) : 0;
	char digits[ENTRY_INT_CHARS], *dp;
	size_t idlen = strlen(id), dl, len;
	char *q;
	bool wake;

	if (!idlen || idlen > ENTRY_HISTORY_ID_MAX || strchr(id, ' ') || strchr(id, '\n') ||
	    json_len < 2 || json[0] != '{' || json[json_len - 1] != '}' ||
	    memchr(json, '\n', json_len))
		return -EINVAL;
	dp = entry_int_digits(ts_ns, digits); /* "%lld" without printf (~10 % of an append) */
	dl = (size_t)(digits + sizeof(digits) - dp);
	len = dl + 1 + idlen + 1 + json_len + 1;
	/* The copy is made under the lock: the writer takes the lock only to swap buffers. */
	pthread_mutex_lock(&h->lock);
	if (h->qbytes + len > h->cfg.queue_bytes ||
	    grow(h, &h->fill, &h->fill_cap, h->qbytes + len) < 0) {
		h->st.entries_dropped++;
		if (timed)
			h->st.append_ns += (now_ns(CLOCK_MONOTONIC) - t0) * APPEND_TIMED_EVERY;
		pthread_mutex_unlock(&h->lock);
		return -ENOBUFS;
	}
	q = h->fill + h->qbytes;
	memcpy(q, dp, dl);
	q[dl] = ' ';
	memcpy(q + dl + 1, id, idlen);
	q[dl + 1 + idlen] = ' ';
	memcpy(q + dl + 2 + idlen, json, json_len);
	q[len - 1] = '\n';
	h->qbytes += len;
	if (!h->qcount || ts_ns < h->qmin)
		h->qmin = ts_ns;
	if (!h->qcount || ts_ns > h->qmax)
		h->qmax = ts_ns;
	h->qcount++;
	h->enq_gen++;
	/* The writer batches on its own clock; it is woken early only to keep the queue short. */
	wake = h->qbytes > h->cfg.queue_bytes / 2 || h->qbytes > WAKE_BYTES;
	if (timed)
		h->st.append_ns += (now_ns(CLOCK_MONOTONIC) - t0) * APPEND_TIMED_EVERY;
	pthread_mutex_unlock(&h->lock);
	if (wake)
		pthread_cond_signal(&h->wake);
	return 0;
}

void entry_history_sync(struct entry_history *h)
{
	pthread_mutex_lock(&h->lock);
	uint64_t target = h->enq_gen;

	h->syncs++;
	pthread_cond_signal(&h->wake);
	while (h->done_gen < target && h->thread_started)
		pthread_cond_wait(&h->done, &h->lock);
	h->syncs--;
	pthread_mutex_unlock(&h->lock);
}

void entry_history_get_stats(struct entry_history *h, struct entry_history_stats *st)
{
	pthread_mutex_lock(&h->lock);
	*st = h->st;
	pthread_mutex_unlock(&h->lock);
}

void entry_history_close(struct entry_history *h)
{
	if (!h)
		return;
	if (h->thread_started) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	drop_buffer(h, &h->fill, &h->fill_cap);
	if (h->active_fd >= 0)
		close(h->active_fd);
	if (h->dirfd >= 0)
		close(h->dirfd);
	if (h->store_fd >= 0)
		close(h->store_fd);
	ZSTD_freeCCtx(h->cc);
	free(h->segs);
	drop_buffer(h, &h->batch, &h->batch_cap);
	drop_buffer(h, &h->out, &h->out_cap);
	pthread_cond_destroy(&h->wake);
	pthread_cond_destroy(&h->done);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
