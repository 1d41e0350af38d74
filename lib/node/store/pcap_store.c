// SPDX-License-Identifier: Apache-2.0
/*
 * pcap_store: the rotating, size-limited PCAP store of a tap (see pcap_store.h and
 * docs/storage.md).
 *
 * Three parties share a store:
 *   - the producer (pcap_store_write) copies packets into a bounded queue of chunks (qmu);
 *   - the writer thread writes chunks (PCAP records as queued) into the active segment;
 *   - the compressor thread turns closed segments into .pcap.zst.
 * Everything that changes what is on disk (create, grow, rename, unlink) and the byte
 * accounting that bounds it is serialised by mu. Bytes are counted before they are written
 * and uncounted after they are removed, so store_bytes is an upper bound of the directory's
 * apparent size at every instant.
 *
 * That is not enough for an observer such as du, which lists the directory and then stats
 * one file after the other: it may count a segment just before it is evicted and the active
 * segment just after it grew into the freed room. So freed bytes "cool" for COOL_NS before
 * they may be used again; any scan shorter than that sees at most the limit.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_writeSkippableFrame (exported since zstd 1.5.0) */
#include "store/pcap_store.h"
#include "store/tls_pcap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define PCAP_FILE_HDR 24u     /* struct pcap_file_header on disk */
#define PCAP_REC_HDR  16u     /* struct pcap_sf_pkthdr on disk (32-bit seconds) */
#define MAX_SNAPLEN   262144u /* libpcap's MAXIMUM_SNAPLEN: larger caplens are rejected */
#define CHUNK_BYTES   (1u << 20)
#define QUEUE_DEFAULT (16ull << 20)
/* Batched: the writer takes a chunk still being filled once this much waits in it, or this
 * long after its first packet (a flush or close at once). Woken at every ring drain, it
 * wrote a few KiB per write() and switched context as often (2-3k times in a live.sh run). */
#define WRITE_BATCH_BYTES (256u << 10)
#define WRITE_DELAY_NS	  (100ull * 1000000ull)
/*
 * A chunk beyond the two a store keeps stays mapped this long once written, for the next burst:
 * each drain of a fast flow fills a dozen 1 MiB chunks at once (256 records of up to 64 KiB),
 * and unmapping them once written made every burst fault in and zero fresh pages, about a
 * third of the drain's CPU under iperf3 (docs/bench.md, "Spare chunks kept"). They go back at
 * once when another queue of the budget is refused (it may need the bytes).
 */
#define CHUNK_LINGER_NS (250ull * 1000000ull)
#define SEG_MIN	      (64ull << 10)
#define SEG_MAX	      (256ull << 20)
#define SEG_FLOOR     (4ull << 10)
#define MIN_USABLE    (16ull << 10)
#define DIR_SLACK     4096u /* a directory grows by at most one block per new entry */
#define COOL_NS	      (20ull * 1000000ull)
#define COOL_SLOTS    64
/* Compression stops, and the segment stays a .pcap, when the first PROBE bytes shrink by less
 * than 1/PROBE_GAIN (encrypted or random payloads): writing a second copy of the same size
 * would only cost I/O and CPU. */
#define COMP_PROBE_BYTES (8u << 20)
#define COMP_PROBE_GAIN	 16u
#define COMP_NOT_WORTH	 1 /* compress_segment's return: keep the .pcap, no error */
#define COMP_KEEP_BEHIND (1u << 20) /* mapped input kept behind zstd's position */
#define RBUF_BYTES    (256u << 10)
#define NAME_MAX_LEN  64
#define BASE_MAX_LEN  48
#define LOCK_NAME     ".lock"
#define PROBE_NAME    "floe-probe.tmp"

/*
 * Every .pcap.zst ends in a zstd skippable frame holding the segment's packet count, so a
 * reopened store knows how many packets an eviction drops without decompressing anything.
 * Decoders (zstd -d, zstd -t, ZSTD_decompressStream) skip it.
 */
#define TRAILER_VARIANT 6u
#define TRAILER_PAYLOAD 16u
#define TRAILER_BYTES	(8u + TRAILER_PAYLOAD)
static const unsigned char trailer_tag[4] = {'F', 'L', 'O', 'E'};

/*
 * Where a recycled segment's new records end, while the old segment's bytes still follow
 * (see wfile_write): a record header no PCAP reader accepts (caplen 0xffffffff, far above any
 * snaplen), so that libpcap stops there instead of reading the old bytes as records. The
 * store's readers (export, reopen) take it for the end of the segment.
 */
static const unsigned char end_mark[PCAP_REC_HDR] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						     0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						     'F',  'L',	 'O',  'E'};

enum seg_state {
	SEG_ACTIVE,	 /* being written by the writer thread */
	SEG_CLOSED,	 /* complete .pcap, waiting for (or excluded from) compression */
	SEG_COMPRESSING, /* .pcap plus a growing .pcap.zst.tmp */
	SEG_COMPRESSED,	 /* .pcap.zst */
};

struct segment {
	struct segment *next; /* list ordered oldest first (by seq) */
	uint64_t seq;
	char base[BASE_MAX_LEN]; /* file name without extension */
	enum seg_state state;
	uint64_t bytes;	    /* counted size of the .pcap (or of the .pcap.zst once compressed) */
	uint64_t tmp_bytes; /* counted size of the .pcap.zst.tmp being written */
	uint64_t packets;   /* packets committed to the file */
	bool keep_raw;	    /* not a usable PCAP or compression failed: leave it uncompressed */
	bool busy;	    /* the compressor holds a pointer: an evictor must not free it */
	bool evicted;
};

/*
 * Queued packet: a PCAP record as it goes to the file (host byte order, as libpcap writes it),
 * no padding: a run of queued records is written to the segment as it is, with one write().
 */
struct rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_nsec;
	uint32_t cap_len;
	uint32_t pkt_len;
};
_Static_assert(sizeof(struct rec_hdr) == PCAP_REC_HDR, "a queued record is a PCAP record");

struct chunk {
	struct chunk *next;
	size_t used;
	uint64_t packets;
	uint64_t first_ns; /* CLOCK_MONOTONIC when its first packet was queued */
	uint64_t idle_ns;  /* CLOCK_MONOTONIC when it went on the free list */
	unsigned char data[];
};

/* The active segment's file: write errors are exact (see wfile_write). */
struct wfile {
	int fd;
	uint64_t off;	/* bytes that reached the file */
	uint64_t stale; /* recycled file: the old segment's bytes lie in [off, stale) */
	int err;	/* first write error; later writes are dropped */
};

struct pcap_store {
	char *dir;
	int dirfd;
	int lockfd;
	mode_t dir_mode;  /* 0700, or 0750 with a group */
	mode_t file_mode; /* 0600, or 0640 with a group */
	gid_t gid;	  /* the group that may read the store, if has_group */
	bool has_group;
	uint64_t limit;
	uint64_t seg_bytes;
	uint64_t seg_ns;
	uint32_t snaplen;
	int level;

	pthread_mutex_t mu; /* segments, accounting, stats */
	pthread_cond_t comp_cv;
	struct segment *head, *tail;
	uint64_t store_bytes; /* counted: segments + foreign files + dir_acc */
	uint64_t dir_acc;     /* the directory's own size plus DIR_SLACK */
	uint64_t foreign;     /* files in dir that are not segments: counted, never evicted */
	uint64_t cool_bytes;  /* freed less than COOL_NS ago: not usable yet */
	struct {
		uint64_t until, bytes;
	} cool[COOL_SLOTS]; /* FIFO of frees, oldest at cool_head */
	unsigned cool_head, cool_n;
	pthread_cond_t cool_cv; /* timed waits for cooling bytes (CLOCK_MONOTONIC) */
	uint64_t headroom;	/* evict ahead to keep this free, so writers rarely wait */
	unsigned unlinking;	/* unlink_unlocked calls under way (their bytes still counted) */
	uint64_t next_seq;
	struct pcap_store_stats st;
	uint64_t lost_reported; /* st.packets_lost when flush/close last returned */
	int lost_errno;		/* errno of the last packet loss (last_errno may be newer) */
	bool comp_stop;

	pthread_mutex_t qmu; /* the queue */
	pthread_cond_t data_cv, space_cv, done_cv;
	struct chunk *q_head, *q_tail, *q_free;
	size_t chunk_size;
	unsigned chunks_alloc, chunks_max;
	uint64_t q_in, q_done;
	uint64_t q_waits, q_wait_ns; /* the producer found the queue full; time it waited */
	bool q_producer_waiting;     /* the producer waits for a chunk */
	struct queue_budget *budget; /* config.budget: every chunk charged to it */
	int budget_id;
	uint64_t budget_refused_seen; /* queue_budget_refused_others when spares were last kept */
	size_t chunk_bytes;          /* a chunk's mapping: header and data, whole pages */
	unsigned q_flushes; /* pcap_store_flush calls waiting: the writer takes every chunk */
	bool w_stop, w_waiting;
	bool batched; /* config.batched: the producer kicks the writer after each batch */
	void (*before_write)(void *ctx); /* config.before_write (tests) */
	void *before_write_ctx;

	/* Writer thread only. */
	struct segment *active;
	struct wfile wf;
	const unsigned char *run; /* records taken for the active segment, not written yet */
	size_t run_len;
	uint64_t w_start_ns; /* CLOCK_MONOTONIC at creation, for segment_seconds */
	uint64_t w_size;     /* bytes in the active file once buffered data is out */
	uint64_t w_good;     /* bytes known to be on disk (last commit) */
	uint64_t w_pkts;     /* packets in the active segment, committed or not */
	uint64_t w_pend;     /* packets written since the last commit */

	pthread_t writer, compressor;
	bool writer_started, compressor_started;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Give a file of the store the store's group and mode. Needed after every creation: the umask
 * may have taken bits away (a group's read bit), and it is how an older store's 0644 files
 * become private.
 */
static int store_own_file(const struct pcap_store *s, int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	if (s->has_group && sb.st_gid != s->gid && fchown(fd, (uid_t)-1, s->gid) < 0)
		return -errno;
	if ((sb.st_mode & 07777) != s->file_mode && fchmod(fd, s->file_mode) < 0)
		return -errno;
	return 0;
}

/*
 * Create name in the store directory: never through a symlink, never an existing file
 * (O_EXCL: nothing is truncated). stale: a leftover of that name (a temporary file of an
 * earlier run) is removed first; unlinkat removes a symlink itself, not what it points to.
 * Returns the descriptor or -errno.
 */
static int store_create(const struct pcap_store *s, const char *name, int flags, bool stale)
{
	int fd, err;

	if (stale && unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	fd =
	    openat(s->dirfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, s->file_mode);
	if (fd < 0)
		return -errno;
	err = store_own_file(s, fd);
	if (err) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return err;
	}
	return fd;
}

/* A file left by an earlier run (a segment) gets the store's group and mode. */
static int store_own_name(const struct pcap_store *s, const char *name)
{
	int fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = store_own_file(s, fd);
	close(fd);
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t rec_size(uint32_t cap_len)
{
	return sizeof(struct rec_hdr) + cap_len;
}

static void seg_name(char *buf, const struct segment *g, const char *suffix)
{
	snprintf(buf, NAME_MAX_LEN, "%s%s", g->base, suffix);
}

/*
 * "floe-<seq>-<YYYYMMDDTHHMMSSZ>.pcap" or ".pcap.zst". The sequence number is zero-padded to
 * ten digits so that lexical order is age order.
 */
static bool parse_seg_name(const char *name, uint64_t *seq, size_t *base_len, bool *zst)
{
	static const char pat[] = "dddddddddTddddddZ";
	const char *p = name;
	uint64_t v = 0;
	int nd = 0;

	if (strncmp(p, "floe-", 5) != 0)
		return false;
	p += 5;
	while (*p >= '0' && *p <= '9') {
		if (++nd > 19)
			return false;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (!nd || *p++ != '-')
		return false;
	/* pat[0] stands for the '-' just consumed; the stamp is 8 digits, 'T', 6 digits, 'Z' */
	for (size_t i = 1; i < sizeof(pat) - 1; i++, p++) {
		if (pat[i] == 'd' ? !(*p >= '0' && *p <= '9') : *p != pat[i])
			return false;
	}
	if ((size_t)(p - name) >= BASE_MAX_LEN)
		return false;
	if (strcmp(p, ".pcap") == 0)
		*zst = false;
	else if (strcmp(p, ".pcap.zst") == 0)
		*zst = true;
	else
		return false;
	*seq = v;
	*base_len = (size_t)(p - name);
	return true;
}

static bool is_store_tmp(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, "floe-", 5) == 0 && n > 4 && strcmp(name + n - 4, ".tmp") == 0;
}

/* ---- accounting and eviction (mu held) ---- */

static void note_peak(struct pcap_store *s)
{
	uint64_t cur = s->store_bytes > DIR_SLACK ? s->store_bytes - DIR_SLACK : 0;

	if (cur > s->st.store_bytes_peak)
		s->st.store_bytes_peak = cur;
}

/* Bytes that were on disk are gone: usable again after COOL_NS. */
static void release_locked(struct pcap_store *s, uint64_t n)
{
	uint64_t until = mono_ns() + COOL_NS;
	unsigned i;

	if (!n)
		return;
	s->store_bytes -= n;
	s->cool_bytes += n;
	if (s->cool_n == COOL_SLOTS) {
		/* Merge into the newest entry: a later expiry only errs on the safe side. */
		i = (s->cool_head + s->cool_n - 1) % COOL_SLOTS;
		s->cool[i].bytes += n;
		s->cool[i].until = until;
		return;
	}
	i = (s->cool_head + s->cool_n++) % COOL_SLOTS;
	s->cool[i].until = until;
	s->cool[i].bytes = n;
}

static void cool_expire_locked(struct pcap_store *s)
{
	uint64_t now = mono_ns();

	while (s->cool_n && s->cool[s->cool_head].until <= now) {
		s->cool_bytes -= s->cool[s->cool_head].bytes;
		s->cool_head = (s->cool_head + 1) % COOL_SLOTS;
		s->cool_n--;
	}
}

/*
 * Re-read the directory's own size after entries were added or removed: du counts it.
 * Growth between a create and this call is covered by DIR_SLACK, which every create is
 * preceded by (reserve_locked keeps store_bytes within the limit, slack included).
 */
static void dir_update_locked(struct pcap_store *s)
{
	struct stat sb;
	uint64_t acc;

	if (fstat(s->dirfd, &sb) < 0)
		return;
	acc = (uint64_t)sb.st_size + DIR_SLACK;
	s->store_bytes = s->store_bytes - s->dir_acc + acc;
	s->dir_acc = acc;
	note_peak(s);
}

static void list_append(struct pcap_store *s, struct segment *g)
{
	g->next = NULL;
	if (s->tail)
		s->tail->next = g;
	else
		s->head = g;
	s->tail = g;
}

static void list_remove(struct pcap_store *s, struct segment *g)
{
	struct segment **pp = &s->head, *prev = NULL;

	while (*pp && *pp != g) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = g->next;
	if (s->tail == g)
		s->tail = prev;
	g->next = NULL;
}

static void unlink_seg(struct pcap_store *s, const struct segment *g, const char *suffix)
{
	char name[NAME_MAX_LEN];

	seg_name(name, g, suffix);
	unlinkat(s->dirfd, name, 0);
}

/*
 * Delete files whose n bytes are counted, then uncount them (the count never drops below the
 * disk), with mu dropped meanwhile: unlinking a segment frees its page cache, milliseconds for
 * tens of MiB, and the writer must not wait for that on mu, least of all behind the compressor
 * at idle priority (docs/bench.md, "Evicted segments written over"). The files are off the
 * list already: nobody else touches them. While they go, reserve_locked waits rather than give
 * up for want of something to evict (unlinking). Returns with mu held.
 */
static void unlink_unlocked(struct pcap_store *s, const char *a, const char *b, uint64_t n)
{
	s->unlinking++;
	pthread_mutex_unlock(&s->mu);
	unlinkat(s->dirfd, a, 0);
	if (b)
		unlinkat(s->dirfd, b, 0);
	pthread_mutex_lock(&s->mu);
	s->unlinking--;
	release_locked(s, n);
	dir_update_locked(s);
	pthread_cond_broadcast(&s->cool_cv);
}

/* Take a segment off the list and delete its files (mu is dropped meanwhile). */
static void evict_locked(struct pcap_store *s, struct segment *g)
{
	char a[NAME_MAX_LEN], b[NAME_MAX_LEN];
	bool two = g->state == SEG_COMPRESSING;
	uint64_t n = g->bytes + g->tmp_bytes;

	seg_name(a, g, g->state == SEG_COMPRESSED ? ".pcap.zst" : ".pcap");
	if (two)
		seg_name(b, g, ".pcap.zst.tmp");
	g->bytes = g->tmp_bytes = 0;
	s->st.segments_evicted++;
	s->st.packets_evicted += g->packets;
	list_remove(s, g);
	g->evicted = true;
	if (!g->busy)
		free(g);
	unlink_unlocked(s, a, two ? b : NULL, n);
}

/* The oldest segment that is not being written: the active one is always the newest. */
static struct segment *oldest_evictable(struct pcap_store *s)
{
	struct segment *g = s->head;

	while (g && g->state == SEG_ACTIVE)
		g = g->next;
	return g;
}

/*
 * Count n more bytes (into *acct as well), evicting the oldest segments until they fit, and
 * waiting for freed bytes to cool if that is all that is missing.
 * self: the segment the compressor works on; if it has to go, -ECANCELED.
 * -EAGAIN: only the active segment is left and it holds packets (close it, then retry);
 * -EFBIG: n does not fit even in an empty store: nothing but an active segment without
 * packets (its file header) is left. A transient state never leads there: bytes that are
 * cooling only make it wait, and a segment being compressed is evicted like any other.
 */
static int reserve_locked(struct pcap_store *s, uint64_t n, uint64_t *acct, struct segment *self,
			  bool active_closable)
{
	for (;;) {
		struct segment *v;
		bool needed;

		if (self && self->evicted)
			return -ECANCELED;
		cool_expire_locked(s);
		needed = s->store_bytes + n > s->limit;
		v = oldest_evictable(s);
		/*
		 * Evict when the room is needed, and also a little ahead (headroom), so that
		 * the freed bytes have cooled when the writer gets there; a compression in
		 * progress is only cut short when the room is really needed.
		 */
		if (v && (needed || (s->store_bytes + n + s->headroom > s->limit &&
				     v->state != SEG_COMPRESSING))) {
			evict_locked(s, v);
			continue;
		}
		if (needed && s->unlinking) {
			/* Bytes on their way out (unlink_unlocked): wait for them. */
			pthread_cond_wait(&s->cool_cv, &s->mu);
			continue;
		}
		if (needed)
			return active_closable ? -EAGAIN : -EFBIG;
		if (s->store_bytes + s->cool_bytes + n > s->limit) {
			uint64_t until = s->cool[s->cool_head].until;
			struct timespec ts = {.tv_sec = (time_t)(until / 1000000000ull),
					      .tv_nsec = (long)(until % 1000000000ull)};

			pthread_cond_timedwait(&s->cool_cv, &s->mu, &ts);
			continue;
		}
		break;
	}
	s->store_bytes += n;
	if (acct)
		*acct += n;
	note_peak(s);
	return 0;
}

/*
 * The writer got ENOSPC: free disk space by evicting the oldest segment, as the limit would.
 * Records the error even though a retry may succeed. False if nothing is left to evict.
 */
static bool evict_for_space(struct pcap_store *s)
{
	struct segment *v;

	pthread_mutex_lock(&s->mu);
	s->st.last_errno = ENOSPC;
	v = oldest_evictable(s);
	if (v)
		evict_locked(s, v);
	pthread_mutex_unlock(&s->mu);
	return v != NULL;
}

static void count_lost(struct pcap_store *s, uint64_t n, int err)
{
	pthread_mutex_lock(&s->mu);
	s->st.packets_lost += n;
	s->st.last_errno = err;
	s->lost_errno = err;
	pthread_mutex_unlock(&s->mu);
}

/* ---- the active segment (writer thread) ---- */

/*
 * n bytes at offset off. After a failure everything is dropped: the commit that sees w->err
 * cuts the file back to its last good size.
 */
static void wfile_pwrite(struct wfile *w, const void *p, size_t n, uint64_t off)
{
	const char *buf = p;
	size_t done = 0;

	while (!w->err && done < n) {
		ssize_t r = pwrite(w->fd, buf + done, n - done, (off_t)(off + done));

		if (r < 0) {
			if (errno != EINTR)
				w->err = errno;
			continue;
		}
		if (r == 0) {
			w->err = EIO;
			continue;
		}
		done += (size_t)r;
	}
}

/*
 * Append n bytes (whole records, or the file header of a new file).
 *
 * In a recycled file (active_recycle) the old segment's bytes follow what was written, behind
 * an end mark. A reader must never take them for records, even while this call runs: the
 * page cache is copied page by page, and the file is already longer than the new records.
 * So the records go in behind the mark first (with a new mark after them while old bytes
 * remain beyond), and the first record's header replaces the mark last. A reader that finds
 * that header also finds everything after it up to the new mark; one that reads the old mark
 * stops there. Three calls per commit (a commit is a chunk of up to 1 MiB).
 */
static void wfile_write(struct wfile *w, const void *p, size_t n)
{
	const unsigned char *buf = p;

	if (w->off < w->stale && n >= PCAP_REC_HDR) {
		if (w->off + n + PCAP_REC_HDR <= w->stale)
			wfile_pwrite(w, end_mark, PCAP_REC_HDR, w->off + n);
		wfile_pwrite(w, buf + PCAP_REC_HDR, n - PCAP_REC_HDR, w->off + PCAP_REC_HDR);
		wfile_pwrite(w, buf, PCAP_REC_HDR, w->off);
	} else {
		wfile_pwrite(w, buf, n, w->off);
	}
	if (!w->err)
		w->off += n;
}

static void wfile_close(struct wfile *w)
{
	close(w->fd);
	w->fd = -1;
}

/* Hand the records taken since the last call to the file. */
static void run_flush(struct pcap_store *s)
{
	if (s->run_len)
		wfile_write(&s->wf, s->run, s->run_len);
	s->run_len = 0;
}

/* The PCAP file header, as libpcap writes it: nanosecond magic, host byte order. */
static void file_header(unsigned char out[PCAP_FILE_HDR], uint32_t snaplen)
{
	uint32_t magic = 0xa1b23c4du, zone = 0, sigfigs = 0, linktype = DLT_EN10MB;
	uint16_t major = 2, minor = 4;

	memcpy(out, &magic, 4);
	memcpy(out + 4, &major, 2);
	memcpy(out + 6, &minor, 2);
	memcpy(out + 8, &zone, 4);
	memcpy(out + 12, &sigfigs, 4);
	memcpy(out + 16, &snaplen, 4);
	memcpy(out + 20, &linktype, 4);
}

/*
 * The oldest segment, if the active one about to open should take over its file: a plain .pcap
 * nobody reads (not being compressed), which the limit would evict while the new segment grows
 * (the store is within a segment and the headroom of the limit).
 */
static struct segment *recycle_victim_locked(struct pcap_store *s)
{
	struct segment *v = oldest_evictable(s);

	if (!v || v->state != SEG_CLOSED || v->busy || v->bytes < PCAP_FILE_HDR + PCAP_REC_HDR)
		return NULL;
	if (s->store_bytes + s->cool_bytes + s->seg_bytes + s->headroom <= s->limit)
		return NULL;
	return v;
}

/*
 * Evict v by giving its file to the new active segment g (named name): the file header and an
 * end mark are written over its start, then it is renamed. Writing over pages the page cache
 * holds costs no page allocation, no block reservation and no freeing: under iperf3 the
 * writer spent most of its CPU in unlink freeing evicted segments' pages (docs/bench.md).
 * The file keeps its size until the new segment outgrows it or closes (active_close cuts it),
 * so its bytes stay counted, now as g's, and none is freed: nothing cools.
 * Returns the open file, or -errno: v is then evicted as usual, and the caller creates a file.
 */
static int active_recycle_locked(struct pcap_store *s, struct segment *v, struct segment *g,
				 const char *name)
{
	unsigned char head[PCAP_FILE_HDR + PCAP_REC_HDR];
	char old[NAME_MAX_LEN];
	struct stat sb;
	int fd, err = 0;

	seg_name(old, v, ".pcap");
	fd = openat(s->dirfd, old, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		err = -errno;
	/* The count must be the file's size, or the limit would not hold. */
	else if (fstat(fd, &sb) < 0)
		err = -errno;
	else if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != v->bytes)
		err = -ESTALE;
	if (!err) {
		file_header(head, s->snaplen);
		memcpy(head + PCAP_FILE_HDR, end_mark, PCAP_REC_HDR);
		if (pwrite(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head))
			err = -EIO;
		else if (renameat2(s->dirfd, old, s->dirfd, name, RENAME_NOREPLACE) < 0)
			err = -errno;
	}
	if (err) {
		if (fd >= 0)
			close(fd);
		evict_locked(s, v);
		return err;
	}
	g->bytes = v->bytes;
	s->st.segments_evicted++;
	s->st.segments_recycled++;
	s->st.packets_evicted += v->packets;
	list_remove(s, v);
	free(v); /* not busy: only a compressing segment is */
	return fd;
}

static int active_open(struct pcap_store *s)
{
	struct segment *g = calloc(1, sizeof(*g));
	char stamp[32], name[NAME_MAX_LEN];
	unsigned char hdr[PCAP_FILE_HDR];
	struct segment *v;
	struct timespec now;
	struct tm tm;
	int fd = -1, err = 0;
	bool recycled = false;

	if (!g)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);

	pthread_mutex_lock(&s->mu);
	g->seq = s->next_seq;
	snprintf(g->base, sizeof(g->base), "floe-%010" PRIu64 "-%s", g->seq, stamp);
	seg_name(name, g, ".pcap");
	v = recycle_victim_locked(s);
	if (v) {
		fd = active_recycle_locked(s, v, g, name);
		recycled = fd >= 0;
	}
	if (!recycled) {
		/* The file header is counted before it is written. */
		err = reserve_locked(s, PCAP_FILE_HDR, &g->bytes, NULL, false);
		if (!err) {
			fd = store_create(s, name, O_WRONLY, false);
			if (fd < 0) {
				err = fd;
				s->store_bytes -= g->bytes;
			}
		}
	}
	if (!err) {
		s->next_seq++;
		g->state = SEG_ACTIVE;
		list_append(s, g);
		dir_update_locked(s);
	}
	pthread_mutex_unlock(&s->mu);
	if (err) {
		free(g);
		return err;
	}

	s->run_len = 0;
	if (recycled) {
		/* Recycled: the header is in place, the old bytes behind an end mark. */
		s->wf = (struct wfile){.fd = fd, .off = PCAP_FILE_HDR, .stale = g->bytes};
	} else {
		s->wf = (struct wfile){.fd = fd};
		/* A failure here shows at the first commit, like any other write's. */
		file_header(hdr, s->snaplen);
		wfile_write(&s->wf, hdr, sizeof(hdr));
	}
	s->active = g;
	s->w_start_ns = mono_ns();
	s->w_size = PCAP_FILE_HDR;
	s->w_good = 0;
	s->w_pkts = 0;
	s->w_pend = 0;
	return 0;
}

/*
 * The active segment is done; disk_bytes is its final size. Keep it for the compressor if it
 * holds packets, else delete it (a header alone is not worth a file).
 */
static void active_retire(struct pcap_store *s, uint64_t disk_bytes)
{
	struct segment *g = s->active;

	pthread_mutex_lock(&s->mu);
	if (g->bytes > disk_bytes) {
		release_locked(s, g->bytes - disk_bytes); /* may have been on disk, then cut */
		g->bytes = disk_bytes;
	}
	if (!g->packets) {
		unlink_seg(s, g, ".pcap");
		release_locked(s, g->bytes);
		list_remove(s, g);
		dir_update_locked(s);
		free(g);
	} else {
		g->state = SEG_CLOSED;
		s->st.segments_closed++;
		pthread_cond_signal(&s->comp_cv);
	}
	pthread_mutex_unlock(&s->mu);
	s->active = NULL;
}

/*
 * Write the records taken since the last commit. On failure the file is cut back to the last
 * commit, so it stays a readable PCAP, and the segment is retired; *lost gets the packets
 * since that commit.
 */
static int active_commit(struct pcap_store *s, uint64_t *lost)
{
	uint64_t disk;
	struct stat sb;
	int err;

	*lost = 0;
	run_flush(s);
	if (!s->wf.err) {
		pthread_mutex_lock(&s->mu);
		s->active->packets += s->w_pend;
		s->st.packets_written += s->w_pend;
		s->st.bytes_written += s->wf.off - s->w_good;
		pthread_mutex_unlock(&s->mu);
		s->w_good = s->wf.off;
		s->w_pend = 0;
		return 0;
	}
	err = s->wf.err;
	*lost = s->w_pend;
	disk = s->w_good;
	if (ftruncate(s->wf.fd, (off_t)s->w_good) < 0)
		disk = fstat(s->wf.fd, &sb) == 0 ? (uint64_t)sb.st_size : s->active->bytes;
	wfile_close(&s->wf);
	s->w_pend = 0;
	active_retire(s, disk);
	return -err;
}

static int active_close(struct pcap_store *s, uint64_t *lost)
{
	uint64_t disk;
	struct stat sb;
	int err = active_commit(s, lost);

	if (err)
		return err;
	disk = s->w_good;
	/* A recycled file: cut the old segment's bytes that remain behind the records. */
	if (s->wf.stale > disk && ftruncate(s->wf.fd, (off_t)disk) < 0)
		disk = fstat(s->wf.fd, &sb) == 0 ? (uint64_t)sb.st_size : s->active->bytes;
	wfile_close(&s->wf);
	active_retire(s, disk);
	return 0;
}

/* A record that would not fit in an otherwise empty store: evicting for it is pointless. */
static bool never_fits(struct pcap_store *s, uint64_t fsz)
{
	bool ret;

	pthread_mutex_lock(&s->mu);
	ret = s->foreign + s->dir_acc + PCAP_FILE_HDR + fsz > s->limit;
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static bool age_due(const struct pcap_store *s)
{
	return s->seg_ns && mono_ns() - s->w_start_ns >= s->seg_ns;
}

/*
 * The packets since the last commit did not all reach the disk. On a full disk free the
 * oldest segment and write them again (each retry evicts one segment, and a failed segment
 * without committed packets is deleted, so this ends); otherwise count them lost.
 * True: retry from *pend.
 */
static bool commit_failed(struct pcap_store *s, int err, uint64_t lost, size_t *off, size_t *pend)
{
	if (err == -ENOSPC && evict_for_space(s)) {
		*off = *pend;
		return true;
	}
	count_lost(s, lost, -err);
	*pend = *off;
	return false;
}

/* A chunk back to the system and its bytes to the budget. */
static void chunk_free(struct pcap_store *s, struct chunk *c)
{
	munmap(c, s->chunk_bytes);
	s->chunks_alloc--;
	queue_budget_release(s->budget, s->budget_id, s->chunk_bytes);
}

/*
 * Spare chunks beyond the two a store keeps: unmapped once idle for CHUNK_LINGER_NS, or at once
 * when another member of the budget was refused since the last look (qmu held). Never while the
 * producer waits for one. Returns when the next one is due to go (UINT64_MAX: none).
 */
static uint64_t trim_spares(struct pcap_store *s, uint64_t now)
{
	struct chunk **pp = &s->q_free, *c;
	uint64_t next = UINT64_MAX;
	bool all = false;

	if (!s->budget || s->chunks_alloc <= 2 || s->q_producer_waiting)
		return UINT64_MAX;
	uint64_t refused = queue_budget_refused_others(s->budget, s->budget_id);

	if (refused != s->budget_refused_seen) {
		s->budget_refused_seen = refused;
		all = true;
	}
	while ((c = *pp) && s->chunks_alloc > 2) {
		if (all || now - c->idle_ns >= CHUNK_LINGER_NS) {
			*pp = c->next;
			chunk_free(s, c);
			continue;
		}
		if (c->idle_ns + CHUNK_LINGER_NS < next)
			next = c->idle_ns + CHUNK_LINGER_NS;
		pp = &c->next;
	}
	return s->chunks_alloc > 2 ? next : UINT64_MAX;
}

static void write_chunk(struct pcap_store *s, const struct chunk *c)
{
	size_t off = 0, pend = 0; /* pend: first record not committed yet */
	uint64_t lost;
	int err;

	for (;;) {
		while (off < c->used) {
			struct rec_hdr h;
			uint64_t fsz;
			bool rotate;

			memcpy(&h, c->data + off, sizeof(h)); /* records are not aligned */
			fsz = PCAP_REC_HDR + (uint64_t)h.cap_len;
			rotate = s->active && s->w_pkts > 0 &&
				 (s->w_size + fsz > s->seg_bytes || age_due(s));

			err = 0;
			if (never_fits(s, fsz)) {
				rotate = false;
				err = -EFBIG;
			} else if (!rotate) {
				if (!s->active)
					err = active_open(s);
				/* Counted already: a recycled file's old size. */
				if (!err && s->w_size + fsz > s->active->bytes) {
					pthread_mutex_lock(&s->mu);
					err = reserve_locked(s, s->w_size + fsz - s->active->bytes,
							     &s->active->bytes, NULL,
							     s->w_pkts > 0);
					pthread_mutex_unlock(&s->mu);
				}
				/* Only the active segment is left: close it so that it can go. */
				rotate = err == -EAGAIN;
			}
			if (rotate) {
				err = active_close(s, &lost);
				if (err) {
					commit_failed(s, err, lost, &off, &pend);
					continue;
				}
				pend = off;
				continue;
			}
			if (err) {
				/* This record cannot be stored. Settle the pending ones first, so a
				 * retry never writes a record twice. */
				if (s->active && s->w_pend > 0) {
					int cerr = active_commit(s, &lost);

					if (cerr) {
						if (commit_failed(s, cerr, lost, &off, &pend))
							continue;
					} else {
						pend = off;
					}
				}
				if (err == -ENOSPC && evict_for_space(s))
					continue;
				count_lost(s, 1, -err);
				off += rec_size(h.cap_len);
				pend = off;
				continue;
			}
			/* The record joins the run written at the next commit (the end of the
			 * chunk at the latest); every path that skips a record commits first. */
			if (s->run_len && s->run + s->run_len != c->data + off)
				run_flush(s);
			if (!s->run_len)
				s->run = c->data + off;
			s->run_len += (size_t)fsz;
			s->w_size += fsz;
			s->w_pkts++;
			s->w_pend++;
			off += rec_size(h.cap_len);
		}
		/* One commit per chunk: readers of the active segment see whole batches. */
		if (!s->active)
			break;
		err = active_commit(s, &lost);
		if (!err || !commit_failed(s, err, lost, &off, &pend))
			break;
	}
}

/*
 * Under qmu: 0 when the writer takes chunk c (the queue's head) now, else when it will
 * (CLOCK_MONOTONIC): a batched store's last chunk, still being filled, waits until
 * WRITE_BATCH_BYTES are in it or WRITE_DELAY_NS after its first packet.
 */
static uint64_t chunk_due(const struct pcap_store *s, const struct chunk *c)
{
	uint64_t due;

	if (!s->batched || s->w_stop || s->q_flushes || c != s->q_tail ||
	    c->used >= WRITE_BATCH_BYTES)
		return 0;
	due = c->first_ns + WRITE_DELAY_NS;
	return mono_ns() >= due ? 0 : due;
}

static void *writer_main(void *arg)
{
	struct pcap_store *s = arg;
	uint64_t lost;
	int err;

	pthread_mutex_lock(&s->qmu);
	for (;;) {
		struct chunk *c = s->q_head;
		uint64_t due = c ? chunk_due(s, c) : UINT64_MAX;

		if (!c && s->w_stop)
			break;
		if (due) {
			if (s->active && s->w_pkts > 0 && s->seg_ns) {
				uint64_t deadline = s->w_start_ns + s->seg_ns;

				if (mono_ns() >= deadline) {
					/* Close an aged segment even when no packet comes. */
					pthread_mutex_unlock(&s->qmu);
					err = active_close(s, &lost);
					if (err)
						count_lost(s, lost, -err);
					pthread_mutex_lock(&s->qmu);
					continue;
				}
				if (deadline < due)
					due = deadline;
			}
			uint64_t spare_due = trim_spares(s, mono_ns());

			if (spare_due < due)
				due = spare_due;
			s->w_waiting = true;
			if (due == UINT64_MAX) {
				pthread_cond_wait(&s->data_cv, &s->qmu);
			} else {
				struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull),
						      .tv_nsec = (long)(due % 1000000000ull)};

				pthread_cond_timedwait(&s->data_cv, &s->qmu, &ts);
			}
			s->w_waiting = false;
			continue;
		}
		s->q_head = c->next;
		if (!s->q_head)
			s->q_tail = NULL;
		pthread_mutex_unlock(&s->qmu);

		if (s->before_write)
			s->before_write(s->before_write_ctx);
		write_chunk(s, c);

		pthread_mutex_lock(&s->qmu);
		s->q_done += c->packets;
		/* Chunks beyond two were borrowed from the queues' budget for a backlog: they go
		 * back once idle for CHUNK_LINGER_NS, or at once when another queue is short
		 * (trim_spares), never while the producer waits for one. */
		c->used = 0;
		c->packets = 0;
		c->idle_ns = mono_ns();
		c->next = s->q_free;
		s->q_free = c;
		trim_spares(s, c->idle_ns);
		pthread_cond_signal(&s->space_cv);
		pthread_cond_broadcast(&s->done_cv);
	}
	pthread_mutex_unlock(&s->qmu);
	if (s->active) {
		err = active_close(s, &lost);
		if (err)
			count_lost(s, lost, -err);
	}
	return NULL;
}

/* ---- compression (compressor thread) ---- */

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * Count, then write compressed bytes into the .zst.tmp. On a full disk the compression is
 * given up (the .pcap stays): evicting packets to make room for an optional step would be
 * a poor trade, and the writer needs that room more.
 */
static int comp_emit(struct pcap_store *s, struct segment *g, int fd, const void *buf, size_t n)
{
	const char *p = buf;
	int err;

	if (!n)
		return 0;
	pthread_mutex_lock(&s->mu);
	err = reserve_locked(s, n, &g->tmp_bytes, g, false);
	pthread_mutex_unlock(&s->mu);
	if (err)
		return err;
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		return w < 0 ? -errno : -EIO;
	}
	return 0;
}

static int compress_segment(struct pcap_store *s, struct segment *g, ZSTD_CCtx *cc, void *obuf,
			    size_t osz)
{
	char name[NAME_MAX_LEN];
	unsigned char pl[TRAILER_PAYLOAD], fr[TRAILER_BYTES];
	struct stat sb;
	int in, out = -1, err = 0;
	bool probed = false;
	void *map = NULL;
	ZSTD_inBuffer ib;
	size_t n, left, unmapped = 0;

	seg_name(name, g, ".pcap");
	in = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &sb) < 0) {
		err = -errno;
		goto done;
	}
	seg_name(name, g, ".pcap.zst.tmp");
	pthread_mutex_lock(&s->mu);
	/* Within the limit before the directory gains an entry (see dir_update_locked). */
	err = reserve_locked(s, 0, NULL, g, false);
	if (!err) {
		out = store_create(s, name, O_WRONLY, true);
		if (out < 0)
			err = out;
		else
			dir_update_locked(s);
	}
	pthread_mutex_unlock(&s->mu);
	if (err)
		goto done;

	ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, s->level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	/* The frame header then holds the content size (ZSTD_getFrameContentSize). */
	ZSTD_CCtx_setPledgedSrcSize(cc, (unsigned long long)sb.st_size);
	/*
	 * The closed segment is mapped and given to zstd whole (stable input): no read() copy
	 * into a buffer and no copy into zstd's window, which cost more than compressing itself.
	 * A closed segment never changes; if it is evicted meanwhile, the mapping keeps the
	 * data and comp_emit says -ECANCELED.
	 */
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, in, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		err = -errno;
		goto done;
	}
	madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_stableInBuffer, 1);
	ib = (ZSTD_inBuffer){map, (size_t)sb.st_size, 0};
	do {
		ZSTD_outBuffer ob = {obuf, osz, 0};

		if (!probed && ib.pos >= COMP_PROBE_BYTES) {
			/* What zstd has compressed so far against what that became (its window
			 * may hold input not compressed yet). */
			ZSTD_frameProgression fp = ZSTD_getFrameProgression(cc);

			probed = true;
			if (fp.produced > fp.consumed - fp.consumed / COMP_PROBE_GAIN) {
				err = COMP_NOT_WORTH;
				goto done;
			}
		}
		left = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
		if (ZSTD_isError(left)) {
			err = -EIO;
			goto done;
		}
		err = comp_emit(s, g, out, obuf, ob.pos);
		if (err)
			goto done;
		/* Unmap what zstd is done with, so that the process does not hold the whole
		 * segment resident (at level 1 its window reaches back 512 KiB, less than
		 * COMP_KEEP_BEHIND; a page it would touch again is simply mapped again). */
		if (ib.pos > unmapped + 2 * COMP_KEEP_BEHIND) {
			size_t page = (size_t)sysconf(_SC_PAGESIZE);
			size_t to = (ib.pos - COMP_KEEP_BEHIND) & ~(page - 1);

			madvise((char *)map + unmapped, to - unmapped, MADV_DONTNEED);
			unmapped = to;
		}
	} while (left != 0);
	memcpy(pl, trailer_tag, 4);
	put_le32(pl + 4, 1);
	put_le64(pl + 8, g->packets);
	n = ZSTD_writeSkippableFrame(fr, sizeof(fr), pl, sizeof(pl), TRAILER_VARIANT);
	if (ZSTD_isError(n)) {
		err = -EIO;
		goto done;
	}
	err = comp_emit(s, g, out, fr, n);
	/* Durable before the .pcap goes away. */
	if (!err && fdatasync(out) < 0)
		err = -errno;
done:
	if (map)
		munmap(map, (size_t)sb.st_size);
	if (out >= 0)
		close(out);
	close(in);
	return err;
}

static void compress_finish_locked(struct pcap_store *s, struct segment *g, int err)
{
	char from[NAME_MAX_LEN], to[NAME_MAX_LEN];

	if (g->evicted) /* the evictor removed the files and uncounted them */
		return;
	if (!err) {
		seg_name(from, g, ".pcap.zst.tmp");
		seg_name(to, g, ".pcap.zst");
		if (renameat(s->dirfd, from, s->dirfd, to) < 0)
			err = -errno;
	}
	if (err) {
		/* Keep the .pcap as it is; drop the partial output. */
		unlink_seg(s, g, ".pcap.zst.tmp");
		release_locked(s, g->tmp_bytes);
		g->tmp_bytes = 0;
		g->state = SEG_CLOSED;
		g->keep_raw = true;
		if (err == COMP_NOT_WORTH)
			s->st.segments_incompressible++;
		else
			s->st.last_errno = -err;
	} else {
		uint64_t raw = g->bytes;

		seg_name(from, g, ".pcap");
		g->bytes = g->tmp_bytes;
		g->tmp_bytes = 0;
		g->state = SEG_COMPRESSED;
		s->st.segments_compressed++;
		unlink_unlocked(s, from, NULL, raw);
		return;
	}
	dir_update_locked(s);
}

/*
 * The compressor runs at idle priority (SCHED_IDLE): compression can wait, while the ring's
 * drain, the writer and the dissection on the same cores cannot (under capture.sh its CPU per
 * run halved; the packets lost with zstd did not change: docs/bench.md). Starved, closed
 * segments stay .pcap, counted at their raw size against the limit and evicted like any
 * other; they are compressed once the cores are free, or at close, which puts the thread back
 * to normal priority.
 * 0, or the error of pthread_setschedparam (the thread then runs at the priority it has).
 */
static int compressor_set_idle(pthread_t t, bool idle)
{
	struct sched_param sp = {.sched_priority = 0};

	return -pthread_setschedparam(t, idle ? SCHED_IDLE : SCHED_OTHER, &sp);
}

static void *compressor_main(void *arg)
{
	struct pcap_store *s = arg;
	size_t osz = ZSTD_CStreamOutSize();
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	void *obuf = malloc(osz);
	int err = compressor_set_idle(pthread_self(), true);

	pthread_mutex_lock(&s->mu);
	s->st.compressor_idle_errno = -err;
	for (;;) {
		struct segment *g = NULL;

		/*
		 * The newest closed segment first. Behind the writer, the oldest is the next the
		 * limit evicts: compressing it would be wasted, and while it is compressed the
		 * evictor does not make room ahead of the writer (reserve_locked), which then
		 * waits for freed bytes to cool (capture.sh lost 43% of the packets, docs/bench.md).
		 */
		for (struct segment *v = s->head; v; v = v->next)
			if (v->state == SEG_CLOSED && !v->keep_raw)
				g = v;
		if (!g) {
			if (s->comp_stop)
				break;
			pthread_cond_wait(&s->comp_cv, &s->mu);
			continue;
		}
		if (!cc || !obuf) {
			g->keep_raw = true;
			s->st.last_errno = ENOMEM;
			continue;
		}
		g->state = SEG_COMPRESSING;
		g->busy = true;
		pthread_mutex_unlock(&s->mu);
		err = compress_segment(s, g, cc, obuf, osz);
		pthread_mutex_lock(&s->mu);
		compress_finish_locked(s, g, err);
		g->busy = false;
		if (g->evicted)
			free(g);
	}
	pthread_mutex_unlock(&s->mu);
	ZSTD_freeCCtx(cc);
	free(obuf);
	return NULL;
}

/* ---- the directory: listing, reopening ---- */

struct seg_entry {
	uint64_t seq;
	char base[BASE_MAX_LEN];
	bool pcap, zst;
	uint64_t pcap_size, zst_size;
};

struct seg_list {
	struct seg_entry *v;
	size_t n, cap;
};

static int seg_entry_cmp(const void *a, const void *b)
{
	const struct seg_entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Segments of dfd, oldest first, a .pcap and a .pcap.zst of one sequence number merged.
 * With cleanup (open), leftover temporary files are deleted and *foreign gets the size of
 * every other entry, since du counts it too.
 */
static int list_segments(int dfd, struct seg_list *out, bool cleanup, uint64_t *foreign)
{
	struct seg_list l = {0};
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		uint64_t seq;
		size_t blen, i;
		bool zst;
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (cleanup && is_store_tmp(de->d_name)) {
			if (unlinkat(dfd, de->d_name, 0) < 0) {
				err = -errno;
				break;
			}
			continue;
		}
		if (!S_ISREG(sb.st_mode) || !parse_seg_name(de->d_name, &seq, &blen, &zst)) {
			if (foreign)
				*foreign += (uint64_t)sb.st_size;
			continue;
		}
		for (i = 0; i < l.n && l.v[i].seq != seq; i++)
			;
		if (i == l.n) {
			if (l.n == l.cap) {
				size_t cap = l.cap ? l.cap * 2 : 64;
				struct seg_entry *v = realloc(l.v, cap * sizeof(*v));

				if (!v) {
					err = -ENOMEM;
					break;
				}
				l.v = v;
				l.cap = cap;
			}
			memset(&l.v[i], 0, sizeof(l.v[i]));
			l.v[i].seq = seq;
			memcpy(l.v[i].base, de->d_name, blen);
			l.v[i].base[blen] = 0;
			l.n++;
		}
		if (zst) {
			l.v[i].zst = true;
			l.v[i].zst_size = (uint64_t)sb.st_size;
		} else {
			l.v[i].pcap = true;
			l.v[i].pcap_size = (uint64_t)sb.st_size;
		}
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	if (err) {
		free(l.v);
		return err;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), seg_entry_cmp);
	*out = l;
	return 0;
}

/* The records of a recycled segment end at off (see wfile_write). */
static bool end_mark_at(int fd, uint64_t off)
{
	unsigned char b[PCAP_REC_HDR];

	return pread(fd, b, sizeof(b), (off_t)off) == (ssize_t)sizeof(b) &&
	       memcmp(b, end_mark, sizeof(b)) == 0;
}

/*
 * A .pcap left by an earlier run: count its packets and cut a partial last record (the
 * writer was stopped in the middle of it) so that it compresses into a clean segment.
 * Returns false if it is not a PCAP libpcap can open.
 */
static bool recover_pcap(int dfd, const char *name, uint64_t *packets, uint64_t *size)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	off_t good = PCAP_FILE_HDR;
	FILE *fp;
	pcap_t *p;
	int fd, rc;

	*packets = 0;
	fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	fp = fdopen(fd, "rb");
	if (!fp) {
		close(fd);
		return false;
	}
	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!p) {
		fclose(fp);
		return false;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		(*packets)++;
		good = ftello(fp);
	}
	/* A cut last record, or a recycled file's old bytes behind an end mark. */
	if (rc == PCAP_ERROR && ((feof(fp) && !ferror(fp)) || end_mark_at(fd, (uint64_t)good)) &&
	    (uint64_t)good < *size && ftruncate(fd, good) == 0)
		*size = (uint64_t)good;
	pcap_close(p);
	return true;
}

static bool read_trailer(int dfd, const char *name, uint64_t size, uint64_t *packets)
{
	unsigned char fr[TRAILER_BYTES], pl[TRAILER_PAYLOAD];
	unsigned variant = 0;
	bool ok = false;
	size_t n;
	int fd;

	*packets = 0;
	if (size < TRAILER_BYTES)
		return false;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, fr, sizeof(fr), (off_t)(size - TRAILER_BYTES)) == (ssize_t)sizeof(fr) &&
	    ZSTD_isSkippableFrame(fr, sizeof(fr))) {
		n = ZSTD_readSkippableFrame(pl, sizeof(pl), &variant, fr, sizeof(fr));
		if (!ZSTD_isError(n) && n == sizeof(pl) && variant == TRAILER_VARIANT &&
		    !memcmp(pl, trailer_tag, 4)) {
			*packets = get_le64(pl + 8);
			ok = true;
		}
	}
	close(fd);
	return ok;
}

/* Segments of an earlier run join the store as closed (or compressed) segments. */
static int adopt_segments(struct pcap_store *s, uint64_t *foreign, char *err, size_t errlen)
{
	struct seg_list l;
	char name[NAME_MAX_LEN];
	int ret = list_segments(s->dirfd, &l, true, foreign);

	if (ret) {
		errf(err, errlen, "cannot read the store directory %s: %s", s->dir, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct seg_entry *e = &l.v[i];
		struct segment *g;

		if (e->seq >= s->next_seq)
			s->next_seq = e->seq + 1;
		g = calloc(1, sizeof(*g));
		if (!g) {
			ret = -ENOMEM;
			errf(err, errlen, "out of memory");
			break;
		}
		g->seq = e->seq;
		memcpy(g->base, e->base, sizeof(g->base));
		if (e->pcap && e->zst) {
			/* Stopped between the rename and the unlink: the .pcap is certain. */
			seg_name(name, g, ".pcap.zst");
			unlinkat(s->dirfd, name, 0);
			e->zst = false;
		}
		if (e->pcap) {
			seg_name(name, g, ".pcap");
			g->bytes = e->pcap_size;
			g->state = SEG_CLOSED;
			if (e->pcap_size < PCAP_FILE_HDR) {
				unlinkat(s->dirfd, name, 0); /* created, never written */
				free(g);
				continue;
			}
			if (!recover_pcap(s->dirfd, name, &g->packets, &g->bytes))
				g->keep_raw = true; /* not ours to fix; export reports it */
			if (!g->keep_raw && !g->packets) {
				unlinkat(s->dirfd, name, 0);
				free(g);
				continue;
			}
		} else {
			seg_name(name, g, ".pcap.zst");
			g->bytes = e->zst_size;
			g->state = SEG_COMPRESSED;
			read_trailer(s->dirfd, name, e->zst_size, &g->packets);
		}
		/* Kept: private like a new one (an older floe wrote 0644). */
		ret = store_own_name(s, name);
		if (ret) {
			errf(err, errlen, "cannot set the mode of %s/%s to %04o: %s", s->dir, name,
			     (unsigned)s->file_mode, strerror(-ret));
			free(g);
			break;
		}
		list_append(s, g);
		s->store_bytes += g->bytes;
	}
	free(l.v);
	return ret;
}

/* Parents are ordinary directories (0755); the store itself is private from the start. */
static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		*q = '/';
	}
	if (!err && mkdir(p, 0700) < 0 && errno != EEXIST)
		err = -errno;
	free(p);
	return err;
}

/* The group that may read the store: a name, or a number that names no group. */
static int resolve_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	size_t len = 4096;
	char *buf = NULL, *end;
	unsigned long n;
	int ret;

	do { /* a group with many members needs a larger buffer (ERANGE) */
		char *b = realloc(buf, len);

		if (!b) {
			free(buf);
			return -ENOMEM;
		}
		buf = b;
		ret = getgrnam_r(name, &gr, buf, len, &res);
		len *= 2;
	} while (ret == ERANGE && len <= (1u << 24));
	if (ret == 0 && res)
		*gid = res->gr_gid;
	free(buf);
	if (ret == 0 && res)
		return 0;
	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && !errno && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	return ret ? -ret : -EINVAL;
}

/*
 * The store directory, opened once (s->dirfd), must be ours and written by nobody else:
 * otherwise someone else could read what it captured, or plant files and symlinks in it. Read
 * access for group and others is taken away (an older floe made it 0755); with a group, the
 * group gets read access.
 */
static int store_dir_check(struct pcap_store *s, char *err, size_t errlen)
{
	struct stat sb;
	mode_t want;
	int ret;

	if (fstat(s->dirfd, &sb) < 0) {
		ret = -errno;
		errf(err, errlen, "cannot stat the store directory %s: %s", s->dir, strerror(-ret));
		return ret;
	}
	if (sb.st_uid != geteuid()) {
		errf(err, errlen,
		     "the store directory %s belongs to uid %u, not to uid %u that floe runs as: "
		     "captured traffic is private to its writer (chown %u %s, or give another "
		     "--store)",
		     s->dir, (unsigned)sb.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), s->dir);
		return -EPERM;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		errf(
		    err, errlen,
		    "the store directory %s has mode %04o: %s may write to it, and so plant "
		    "files or symlinks among the captures (chmod go-w %s, or give another --store)",
		    s->dir, (unsigned)(sb.st_mode & 07777),
		    sb.st_mode & S_IWOTH ? "every user" : "its group", s->dir);
		return -EPERM;
	}
	if (s->has_group && sb.st_gid != s->gid && fchown(s->dirfd, (uid_t)-1, s->gid) < 0) {
		ret = -errno;
		errf(err, errlen, "cannot give the store directory %s to group %u: %s", s->dir,
		     (unsigned)s->gid, strerror(-ret));
		return ret;
	}
	/* The owner's bits stay (a read-only store stays one); setgid, sticky too. */
	want = (sb.st_mode & 07700) | (s->dir_mode & 0077);
	if ((sb.st_mode & 07777) != want && fchmod(s->dirfd, want) < 0) {
		ret = -errno;
		errf(err, errlen, "cannot set the mode of the store directory %s to %04o: %s",
		     s->dir, (unsigned)want, strerror(-ret));
		return ret;
	}
	return 0;
}

static void store_free(struct pcap_store *s)
{
	struct segment *g, *gn;
	struct chunk *c, *cn;

	for (g = s->head; g; g = gn) {
		gn = g->next;
		free(g);
	}
	for (c = s->q_head; c; c = cn) {
		cn = c->next;
		chunk_free(s, c);
	}
	for (c = s->q_free; c; c = cn) {
		cn = c->next;
		chunk_free(s, c);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->comp_cv);
	pthread_cond_destroy(&s->data_cv);
	pthread_cond_destroy(&s->space_cv);
	pthread_cond_destroy(&s->done_cv);
	pthread_cond_destroy(&s->cool_cv);
	free(s->dir);
	free(s);
}

/* Threads of the store take no signals: the caller's handlers run on its own threads. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

int pcap_store_open(const struct pcap_store_config *cfg, struct pcap_store **out, char *err,
		    size_t errlen)
{
	struct pcap_store *s;
	pthread_condattr_t ca;
	uint64_t foreign = 0, usable, q;
	int ret, fd;

	if (out)
		*out = NULL;
	if (!cfg || !out || !cfg->dir || !*cfg->dir) {
		errf(err, errlen, "pcap store: no directory given");
		return -EINVAL;
	}
	if (cfg->zstd_level < ZSTD_minCLevel() || cfg->zstd_level > ZSTD_maxCLevel()) {
		errf(err, errlen, "pcap store: zstd level %d is not within %d..%d", cfg->zstd_level,
		     ZSTD_minCLevel(), ZSTD_maxCLevel());
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->dirfd = s->lockfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->comp_cv, NULL);
	pthread_cond_init(&s->space_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	/* Segment age is measured on CLOCK_MONOTONIC: wall-clock jumps do not rotate. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->data_cv, &ca);
	pthread_cond_init(&s->cool_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->dir = strdup(cfg->dir);
	s->limit = cfg->limit_bytes;
	s->snaplen = cfg->snaplen && cfg->snaplen < MAX_SNAPLEN ? cfg->snaplen : MAX_SNAPLEN;
	s->seg_ns = (uint64_t)cfg->segment_seconds * 1000000000ull;
	s->level = cfg->zstd_level;
	s->batched = cfg->batched;
	s->before_write = cfg->before_write;
	s->before_write_ctx = cfg->before_write_ctx;
	s->next_seq = 1;
	if (!s->dir) {
		ret = -ENOMEM;
		errf(err, errlen, "out of memory");
		goto fail;
	}

	s->dir_mode = 0700;
	s->file_mode = 0600;
	if (cfg->group) {
		ret = resolve_group(cfg->group, &s->gid);
		if (ret) {
			errf(err, errlen, "store group '%s': %s", cfg->group,
			     ret == -EINVAL ? "no such group" : strerror(-ret));
			ret = -EINVAL;
			goto fail;
		}
		s->has_group = true;
		s->dir_mode = 0750;
		s->file_mode = 0640;
	}
	ret = mkdir_p(s->dir);
	if (ret) {
		errf(err, errlen, "cannot create the store directory %s: %s", s->dir,
		     strerror(-ret));
		goto fail;
	}
	/* Opened once: every file below is reached through dirfd, never through the path. */
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0) {
		struct stat sb;

		ret = -errno;
		/* O_DIRECTORY with O_NOFOLLOW says ENOTDIR for a symlink. */
		if (ret == -ENOTDIR && lstat(s->dir, &sb) == 0 && S_ISLNK(sb.st_mode))
			ret = -ELOOP;
		errf(err, errlen, "cannot open the store directory %s: %s", s->dir,
		     ret == -ELOOP ? "it is a symbolic link (give the directory it points to)"
				   : strerror(-ret));
		goto fail;
	}
	ret = store_dir_check(s, err, errlen);
	if (ret)
		goto fail;
	/* The lock file is kept from run to run: opened without O_TRUNC, never through a
	 * symlink, and it must be a regular file. */
	s->lockfd = openat(s->dirfd, LOCK_NAME,
			   O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, s->file_mode);
	if (s->lockfd < 0) {
		ret = -errno;
		errf(err, errlen, "cannot write in the store directory %s: %s", s->dir,
		     ret == -ELOOP ? LOCK_NAME " is a symbolic link" : strerror(-ret));
		goto fail;
	}
	ret = store_own_file(s, s->lockfd);
	if (ret) {
		errf(err, errlen, "cannot use %s/%s as the store's lock: %s", s->dir, LOCK_NAME,
		     ret == -EINVAL ? "not a regular file" : strerror(-ret));
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		errf(err, errlen, "the store %s is in use by another process (lock %s/%s)%s%s",
		     s->dir, s->dir, LOCK_NAME, ret == -EBUSY ? "" : ": ",
		     ret == -EBUSY ? "" : strerror(-ret));
		goto fail;
	}
	/* An existing .lock proves nothing: check that new files can be created. */
	fd = store_create(s, PROBE_NAME, O_WRONLY, true);
	if (fd < 0) {
		ret = fd;
		errf(err, errlen, "cannot write in the store directory %s: %s", s->dir,
		     strerror(-ret));
		goto fail;
	}
	close(fd);
	unlinkat(s->dirfd, PROBE_NAME, 0);

	ret = adopt_segments(s, &foreign, err, errlen);
	if (ret)
		goto fail;
	s->store_bytes += foreign;
	s->foreign = foreign;
	dir_update_locked(s);
	if (s->limit < foreign + s->dir_acc + MIN_USABLE) {
		ret = -EINVAL;
		errf(err, errlen,
		     "storage limit %" PRIu64
		     " bytes is too small for %s: the directory itself and "
		     "files that are not segments take %" PRIu64 " bytes, and at least %llu more "
		     "are needed",
		     s->limit, s->dir, foreign + s->dir_acc - DIR_SLACK, MIN_USABLE);
		goto fail;
	}
	usable = s->limit - foreign - s->dir_acc;
	if (cfg->segment_bytes) {
		s->seg_bytes = cfg->segment_bytes;
	} else {
		s->seg_bytes = s->limit / 8;
		s->seg_bytes = s->seg_bytes < SEG_MIN ? SEG_MIN : s->seg_bytes;
		s->seg_bytes = s->seg_bytes > SEG_MAX ? SEG_MAX : s->seg_bytes;
	}
	/* Room for the active segment and one being compressed, or eviction would thrash. */
	if (s->seg_bytes > usable / 2)
		s->seg_bytes = usable / 2;
	if (s->seg_bytes < SEG_FLOOR)
		s->seg_bytes = SEG_FLOOR;
	s->headroom = s->seg_bytes / 2;

	/* Segments of an earlier run may exceed a smaller limit: oldest go first. */
	pthread_mutex_lock(&s->mu);
	while (s->store_bytes > s->limit && s->head)
		evict_locked(s, s->head);
	/* Nothing of this store was on disk before: no need to let those bytes cool. */
	s->cool_bytes = 0;
	s->cool_n = 0;
	pthread_mutex_unlock(&s->mu);

	q = cfg->queue_bytes ? cfg->queue_bytes : QUEUE_DEFAULT;
	s->chunk_size = CHUNK_BYTES;
	if (q / s->chunk_size < 2)
		s->chunk_size = (size_t)(q / 2);
	if (s->chunk_size < rec_size(s->snaplen))
		s->chunk_size = rec_size(s->snaplen); /* a chunk holds the largest packet */
	s->chunks_max = (unsigned)(q / s->chunk_size);
	if (s->chunks_max < 2)
		s->chunks_max = 2;
	s->chunk_bytes = (sizeof(struct chunk) + s->chunk_size + (size_t)sysconf(_SC_PAGESIZE) - 1) &
			 ~((size_t)sysconf(_SC_PAGESIZE) - 1);
	if (cfg->budget) {
		ret = queue_budget_join(cfg->budget, "store", 2 * (uint64_t)s->chunk_bytes);
		if (ret < 0) {
			errf(err, errlen,
			     "the queues' memory budget has no room left for the store's two "
			     "chunks (%zu bytes): give it more (--queue-memory)",
			     2 * s->chunk_bytes);
			goto fail;
		}
		s->budget = cfg->budget;
		s->budget_id = ret;
	}

	ret = start_thread(&s->writer, writer_main, s);
	if (!ret)
		pthread_setname_np(s->writer, "floe-store"); /* for top -H, perf */
	if (ret) {
		errf(err, errlen, "cannot start the writer thread: %s", strerror(-ret));
		goto fail;
	}
	s->writer_started = true;
	if (s->level != 0) {
		ret = start_thread(&s->compressor, compressor_main, s);
		if (!ret)
			pthread_setname_np(s->compressor, "floe-zstd");
		if (ret) {
			errf(err, errlen, "cannot start the compressor thread: %s", strerror(-ret));
			pcap_store_close(s);
			return ret;
		}
		s->compressor_started = true;
	}
	*out = s;
	return 0;
fail:
	store_free(s);
	return ret;
}

/* A chunk for the producer: a recycled one, a new one within the budget, or NULL. */
static struct chunk *chunk_get(struct pcap_store *s, bool *nomem)
{
	struct chunk *c = s->q_free;

	*nomem = false;
	if (c) {
		s->q_free = c->next;
		return c;
	}
	if (s->chunks_alloc >= s->chunks_max ||
	    !queue_budget_charge(s->budget, s->budget_id, s->chunk_bytes))
		return NULL;
	/* Mapped: freed, it goes back to the system (the heap may keep it). */
	c = mmap(NULL, s->chunk_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) {
		queue_budget_release(s->budget, s->budget_id, s->chunk_bytes);
		*nomem = true;
		return NULL;
	}
	s->chunks_alloc++;
	return c;
}

int pcap_store_write(struct pcap_store *s, uint64_t ts_ns, uint32_t cap_len, uint32_t pkt_len,
		     const void *data)
{
	struct rec_hdr h;
	struct chunk *c;
	size_t need;
	bool nomem, first = false;

	if (!s || (!data && cap_len))
		return -EINVAL;
	if (cap_len > s->snaplen)
		cap_len = s->snaplen; /* a PCAP record never holds more than the snaplen */
	if (pkt_len < cap_len)
		pkt_len = cap_len;
	need = rec_size(cap_len);
	h = (struct rec_hdr){.ts_sec = (uint32_t)(ts_ns / 1000000000ull),
			     .ts_nsec = (uint32_t)(ts_ns % 1000000000ull),
			     .cap_len = cap_len,
			     .pkt_len = pkt_len};

	pthread_mutex_lock(&s->qmu);
	c = s->q_tail;
	if (!c || s->chunk_size - c->used < need) {
		/* Full queue: block until the writer frees a chunk (back-pressure, not loss). */
		uint64_t t0 = 0;

		while (!(c = chunk_get(s, &nomem))) {
			if (nomem) {
				pthread_mutex_unlock(&s->qmu);
				count_lost(s, 1, ENOMEM);
				return -ENOMEM;
			}
			if (!t0) {
				t0 = mono_ns();
				s->q_waits++;
			}
			s->q_producer_waiting = true;
			pthread_cond_wait(&s->space_cv, &s->qmu);
			s->q_producer_waiting = false;
		}
		if (t0)
			s->q_wait_ns += mono_ns() - t0;
		c->next = NULL;
		c->used = 0;
		c->packets = 0;
		if (s->q_tail)
			s->q_tail->next = c;
		else
			s->q_head = c;
		s->q_tail = c;
	}
	if (!c->used) {
		/* The writer, asleep with nothing queued, learns when this chunk is due. */
		c->first_ns = mono_ns();
		first = true;
	}
	memcpy(c->data + c->used, &h, sizeof(h));
	if (cap_len)
		memcpy(c->data + c->used + sizeof(h), data, cap_len);
	c->used += need;
	c->packets++;
	s->q_in++;
	/* Batched: a full chunk (one behind the tail) wakes the writer, and a chunk's first
	 * packet (for its deadline); the rest waits for the batch's kick. A wake per packet cost
	 * a futex call and a write() of one packet each. */
	if (s->w_waiting && (!s->batched || first || s->q_head != s->q_tail))
		pthread_cond_signal(&s->data_cv);
	pthread_mutex_unlock(&s->qmu);
	return 0;
}

void pcap_store_kick(struct pcap_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->qmu);
	if (s->w_waiting && s->q_head && !chunk_due(s, s->q_head))
		pthread_cond_signal(&s->data_cv);
	pthread_mutex_unlock(&s->qmu);
}

/*
 * Losses that no flush or close has reported yet: -errno of the last one, or 0. Each loss is
 * reported once. Comparing with the count at the start of the call instead would miss a loss
 * that the writer counted before the call (it works behind the producer's back): the packet
 * was queued, then lost, then flush was called, and nobody would ever report it.
 */
static int take_lost(struct pcap_store *s)
{
	int ret = 0;

	pthread_mutex_lock(&s->mu);
	if (s->st.packets_lost != s->lost_reported) {
		ret = -(s->lost_errno ? s->lost_errno : EIO);
		s->lost_reported = s->st.packets_lost;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

/* Waits until the writer has taken everything queued before the call. */
static void wait_written(struct pcap_store *s)
{
	uint64_t target;

	pthread_mutex_lock(&s->qmu);
	target = s->q_in;
	s->q_flushes++; /* the writer takes the last chunk at once */
	if (s->w_waiting && s->q_head) /* a batch not kicked yet */
		pthread_cond_signal(&s->data_cv);
	while (s->q_done < target)
		pthread_cond_wait(&s->done_cv, &s->qmu);
	s->q_flushes--;
	pthread_mutex_unlock(&s->qmu);
}

int pcap_store_flush(struct pcap_store *s)
{
	if (!s)
		return -EINVAL;
	wait_written(s);
	return take_lost(s);
}

void pcap_store_sync(struct pcap_store *s)
{
	if (s)
		wait_written(s);
}

void pcap_store_get_stats(struct pcap_store *s, struct pcap_store_stats *st)
{
	if (!s || !st)
		return;
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	st->store_bytes = s->store_bytes > DIR_SLACK ? s->store_bytes - DIR_SLACK : 0;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&s->qmu);
	st->producer_waits = s->q_waits;
	st->producer_wait_ns = s->q_wait_ns;
	pthread_mutex_unlock(&s->qmu);
}

int pcap_store_close(struct pcap_store *s)
{
	return pcap_store_close_stats(s, NULL);
}

int pcap_store_close_stats(struct pcap_store *s, struct pcap_store_stats *final)
{
	int ret;

	if (!s)
		return 0;
	if (s->writer_started) {
		/* The writer drains the queue and closes the active segment before it exits. */
		pthread_mutex_lock(&s->qmu);
		s->w_stop = true;
		pthread_cond_signal(&s->data_cv);
		pthread_mutex_unlock(&s->qmu);
		pthread_join(s->writer, NULL);
	}
	if (s->compressor_started) {
		/* ...then every closed segment is compressed, at normal priority: a close must
		 * not wait for idle cores (unprivileged, the thread may stay idle: EPERM). */
		compressor_set_idle(s->compressor, false);
		pthread_mutex_lock(&s->mu);
		s->comp_stop = true;
		pthread_cond_broadcast(&s->comp_cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->compressor, NULL);
	}
	ret = take_lost(s);
	if (final)
		pcap_store_get_stats(s, final);
	store_free(s);
	return ret;
}

/* ---- export ---- */

/* A .pcap.zst as a FILE*: libpcap reads the decompressed stream. */
struct zreader {
	int fd;
	ZSTD_DStream *ds;
	unsigned char *ibuf;
	size_t isz;
	ZSTD_inBuffer in;
	bool eof;
	bool in_frame; /* a frame has started and not ended: EOF now means a cut file */
	char err[96];
};

static ssize_t zr_read(void *cookie, char *buf, size_t n)
{
	struct zreader *z = cookie;
	ZSTD_outBuffer out = {buf, n, 0};

	if (z->err[0]) {
		errno = EBADMSG;
		return -1;
	}
	for (;;) {
		size_t before, ret;

		if (z->in.pos == z->in.size && !z->eof) {
			ssize_t r = read(z->fd, z->ibuf, z->isz);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				snprintf(z->err, sizeof(z->err), "%s", strerror(errno));
				return -1;
			}
			if (r == 0)
				z->eof = true;
			z->in = (ZSTD_inBuffer){z->ibuf, (size_t)r, 0};
		}
		before = z->in.pos;
		ret = ZSTD_decompressStream(z->ds, &out, &z->in);
		if (ZSTD_isError(ret)) {
			snprintf(z->err, sizeof(z->err), "zstd: %s", ZSTD_getErrorName(ret));
			errno = EBADMSG;
			return -1;
		}
		if (ret == 0)
			z->in_frame = false;
		else if (z->in.pos != before || out.pos)
			z->in_frame = true;
		if (out.pos)
			return (ssize_t)out.pos;
		if (z->eof && z->in.pos == z->in.size) {
			if (z->in_frame) {
				snprintf(z->err, sizeof(z->err),
					 "zstd: the file ends inside a frame");
				errno = EBADMSG;
				return -1;
			}
			return 0;
		}
	}
}

static int zr_close(void *cookie)
{
	struct zreader *z = cookie;

	close(z->fd);
	ZSTD_freeDStream(z->ds);
	free(z->ibuf);
	free(z);
	return 0;
}

static const cookie_io_functions_t zr_io = {
    .read = zr_read,
    .close = zr_close,
};

/* fd is taken over. */
static FILE *zr_open(int fd, struct zreader **zp)
{
	struct zreader *z = calloc(1, sizeof(*z));
	FILE *fp = NULL;

	if (z) {
		z->fd = fd;
		z->isz = ZSTD_DStreamInSize();
		z->ibuf = malloc(z->isz);
		z->ds = ZSTD_createDStream();
		if (z->ibuf && z->ds && !ZSTD_isError(ZSTD_initDStream(z->ds)))
			fp = fopencookie(z, "r", zr_io);
	}
	if (!fp) {
		if (z) {
			ZSTD_freeDStream(z->ds);
			free(z->ibuf);
			free(z);
		}
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	setvbuf(fp, NULL, _IOFBF, RBUF_BYTES);
	*zp = z;
	return fp;
}

struct export_ctx {
	pcap_dumper_t *d;
	unsigned flags;		  /* which frames: PCAP_EXPORT_TLS_PLAINTEXT / _ALL */
	struct bpf_program *prog;
	struct pcap_export_stats *st;
	char *err;
	size_t errlen;
};

static void export_corrupt(struct export_ctx *x, const char *name, const char *why)
{
	if (!x->st->corrupt_segments++)
		errf(x->err, x->errlen, "corrupt segment %s: %s", name, why);
}

/* Open the segment as a file of PCAP records: the .pcap if it is still there, else the .zst. */
static FILE *open_segment(int dfd, const struct seg_entry *e, char *name, struct zreader **zp,
			  uint64_t *size)
{
	struct stat sb;
	int fd = -1;

	*zp = NULL;
	if (e->pcap) {
		snprintf(name, NAME_MAX_LEN, "%s.pcap", e->base);
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			FILE *fp = fstat(fd, &sb) == 0 ? fdopen(fd, "rb") : NULL;

			if (!fp) {
				close(fd);
				return NULL;
			}
			*size = (uint64_t)sb.st_size;
			setvbuf(fp, NULL, _IOFBF, RBUF_BYTES);
			return fp;
		}
		if (errno != ENOENT)
			return NULL;
	}
	/* Listed as .pcap but compressed since: the .zst has appeared meanwhile. */
	snprintf(name, NAME_MAX_LEN, "%s.pcap.zst", e->base);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	*size = UINT64_MAX;
	return zr_open(fd, zp);
}

static void export_segment(int dfd, const struct seg_entry *e, struct export_ctx *x)
{
	char name[NAME_MAX_LEN], eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	struct zreader *z;
	uint64_t size = 0, end = PCAP_FILE_HDR; /* end: of the records read */
	FILE *fp;
	pcap_t *p;
	int rc;

	fp = open_segment(dfd, e, name, &z, &size);
	if (!fp) {
		if (errno != ENOENT) /* ENOENT: evicted while we were exporting */
			export_corrupt(x, name, strerror(errno));
		return;
	}
	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!p) {
		if (!z && size < PCAP_FILE_HDR)
			x->st->truncated_segments++; /* just created: header not flushed yet */
		else
			export_corrupt(x, name, z && z->err[0] ? z->err : eb);
		fclose(fp);
		return;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(eb, sizeof(eb), "link type %d, expected Ethernet", pcap_datalink(p));
		export_corrupt(x, name, eb);
		pcap_close(p);
		return;
	}
	x->st->segments++;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		end += PCAP_REC_HDR + (uint64_t)h->caplen;
		x->st->packets_in++;
		if (!(x->flags & PCAP_EXPORT_ALL) &&
		    tls_pcap_is_synthetic(data, h->caplen) != !!(x->flags & PCAP_EXPORT_TLS_PLAINTEXT))
			continue;
		if (x->prog && !pcap_offline_filter(x->prog, h, data))
			continue;
		pcap_dump((u_char *)x->d, h, data);
		x->st->packets_out++;
	}
	if (rc == PCAP_ERROR) {
		/* EOF in the middle of a record: the segment is being written (or was cut). */
		if (z && z->err[0])
			export_corrupt(x, name, z->err);
		else if ((feof(fp) && !ferror(fp)) || (!z && end_mark_at(fileno(fp), end)))
			x->st->truncated_segments++; /* being written, or recycled (wfile_write) */
		else
			export_corrupt(x, name, pcap_geterr(p));
	}
	pcap_close(p);
}

/*
 * Where an export goes. A named FIFO or character device is written as it is. Anything else
 * gets a new file next to out_path (tmp: created 0600 with O_EXCL and O_NOFOLLOW) that
 * export_out_publish renames to out_path once complete: no symlink is followed, nothing
 * existing is truncated, and an export that fails leaves what was there.
 */
struct export_out {
	int pdfd;	  /* out_path's directory; -1 when writing to stdout, a FIFO or a device */
	const char *base; /* out_path's last component */
	char tmp[40];
};

static int export_out_open(struct export_out *o, const char *path, unsigned flags, char *err,
			   size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *pdir = NULL;
	struct stat sb;
	int fd = -1, ret;

	o->pdfd = -1;
	o->tmp[0] = 0;
	o->base = slash ? slash + 1 : path;
	if (!*o->base) {
		errf(err, errlen, "cannot create %s: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	pdir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!pdir) {
		errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->pdfd = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(pdir);
	if (o->pdfd < 0) {
		ret = -errno;
		goto fail;
	}
	if (fstatat(o->pdfd, o->base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)) {
			fd = openat(o->pdfd, o->base, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
			ret = fd < 0 ? -errno : 0;
			close(o->pdfd);
			o->pdfd = -1;
			if (ret)
				goto fail;
			return fd;
		}
		if (S_ISDIR(sb.st_mode)) {
			ret = -EISDIR;
			goto fail;
		}
		if (!(flags & PCAP_EXPORT_REPLACE)) {
			errf(err, errlen, "%s exists (%s): not replaced", path,
			     S_ISLNK(sb.st_mode) ? "a symbolic link" : "a file");
			ret = -EEXIST;
			goto out;
		}
	} else if (errno != ENOENT) {
		ret = -errno;
		goto fail;
	}
	for (int i = 0; i < 16 && fd < 0; i++) {
		uint64_t r = 0;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint64_t)mono_ns() * 0x9e3779b97f4a7c15ull + (uint64_t)i;
		snprintf(o->tmp, sizeof(o->tmp), ".floe-export-%016" PRIx64 ".tmp", r);
		fd = openat(o->pdfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		ret = -errno;
		o->tmp[0] = 0;
		goto fail;
	}
	return fd;
fail:
	errf(err, errlen, "cannot create %s: %s", path, strerror(-ret));
out:
	if (o->pdfd >= 0)
		close(o->pdfd);
	o->pdfd = -1;
	return ret;
}

/* The complete output takes out_path's name (never replacing it without REPLACE). */
static int export_out_publish(struct export_out *o, unsigned flags)
{
	if (o->pdfd < 0)
		return 0;
	if (flags & PCAP_EXPORT_REPLACE) {
		if (renameat(o->pdfd, o->tmp, o->pdfd, o->base) < 0)
			return -errno;
	} else if (renameat2(o->pdfd, o->tmp, o->pdfd, o->base, RENAME_NOREPLACE) < 0) {
		/* Not every file system knows RENAME_NOREPLACE; link(2) never replaces. */
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		if (linkat(o->pdfd, o->tmp, o->pdfd, o->base, 0) < 0)
			return -errno;
		unlinkat(o->pdfd, o->tmp, 0);
	}
	o->tmp[0] = 0;
	return 0;
}

static void export_out_close(struct export_out *o)
{
	if (o->pdfd < 0)
		return;
	if (o->tmp[0])
		unlinkat(o->pdfd, o->tmp, 0);
	close(o->pdfd);
	o->pdfd = -1;
}

int pcap_store_export(const char *dir, const char *out_path, unsigned flags, const char *bpf_filter,
		      struct pcap_export_stats *st, char *err, size_t errlen)
{
	struct pcap_export_stats local;
	struct bpf_program prog;
	struct seg_list l = {0};
	struct export_ctx x = {.err = err, .errlen = errlen, .flags = flags};
	struct export_out o = {.pdfd = -1};
	pcap_t *fdead = NULL, *odead = NULL;
	bool have_prog = false;
	FILE *fp = NULL;
	int dfd = -1, ret = 0, fd;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	x.st = st;
	if (err && errlen)
		err[0] = 0;
	if (!dir || !out_path) {
		errf(err, errlen, "pcap export: no store directory or output given");
		return -EINVAL;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		errf(err, errlen, "cannot open the store %s: %s", dir, strerror(-ret));
		return ret;
	}
	ret = list_segments(dfd, &l, false, NULL);
	if (ret) {
		errf(err, errlen, "cannot read the store %s: %s", dir, strerror(-ret));
		goto out;
	}
	if (bpf_filter && *bpf_filter) {
		fdead = pcap_open_dead(DLT_EN10MB, (int)MAX_SNAPLEN);
		if (!fdead) {
			ret = -ENOMEM;
			errf(err, errlen, "out of memory");
			goto out;
		}
		if (pcap_compile(fdead, &prog, bpf_filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			ret = -EINVAL;
			errf(err, errlen, "bad filter '%s': %s", bpf_filter, pcap_geterr(fdead));
			goto out;
		}
		have_prog = true;
		x.prog = &prog;
	}

	if (strcmp(out_path, "-") == 0) {
		/* libpcap closes the FILE it writes to: give it a copy of stdout. */
		fflush(stdout);
		fd = dup(STDOUT_FILENO);
		if (fd < 0) {
			ret = -errno;
			errf(err, errlen, "cannot write to standard output: %s", strerror(-ret));
			goto out;
		}
	} else {
		fd = export_out_open(&o, out_path, flags, err, errlen);
		if (fd < 0) {
			ret = fd;
			goto out;
		}
	}
	fp = fdopen(fd, "wb");
	if (!fp) {
		ret = -errno;
		errf(err, errlen, "cannot write %s: %s", out_path, strerror(-ret));
		close(fd);
		goto out;
	}
	/* The largest snaplen libpcap accepts: any segment's records fit. */
	odead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)MAX_SNAPLEN,
						     PCAP_TSTAMP_PRECISION_NANO);
	x.d = odead ? pcap_dump_fopen(odead, fp) : NULL;
	if (!x.d) {
		ret = -ENOMEM;
		errf(err, errlen, "cannot write %s: %s", out_path,
		     odead ? pcap_geterr(odead) : "out of memory");
		fclose(fp);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		export_segment(dfd, &l.v[i], &x);

	errno = 0;
	if (pcap_dump_flush(x.d) < 0 || ferror(pcap_dump_file(x.d))) {
		ret = errno ? -errno : -EIO;
		errf(err, errlen, "cannot write %s: %s", out_path, strerror(-ret));
		pcap_dump_close(x.d);
		goto out;
	}
	pcap_dump_close(x.d);
	/* Complete, corrupt segments or not (they were skipped, and are reported below). */
	ret = export_out_publish(&o, flags);
	if (ret) {
		errf(err, errlen, "cannot create %s: %s", out_path, strerror(-ret));
		goto out;
	}
	if (st->corrupt_segments) {
		ret = -EBADMSG;
		if (st->corrupt_segments > 1 && err && errlen) {
			size_t n = strlen(err);

			snprintf(err + n, errlen - n, " (and %" PRIu64 " more corrupt segments)",
				 st->corrupt_segments - 1);
		}
	}
out:
	export_out_close(&o);
	if (have_prog)
		pcap_freecode(&prog);
	if (fdead)
		pcap_close(fdead);
	if (odead)
		pcap_close(odead);
	free(l.v);
	close(dfd);
	return ret;
}
