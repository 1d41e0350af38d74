// SPDX-License-Identifier: Apache-2.0
#include "tap/read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <zlib.h>

#include "net/packet.h"
#include "pods/dns_answer.h"
#include "pods/name_resolver.h"

/* stdio buffer of a plain capture file. */
#define READ_FILE_BUF (256u << 10)

/*
 * Classic pcap files read by their records into one reused buffer. Through stdio the bytes were
 * copied twice (page cache -> stdio buffer -> libpcap's), a fifth of `floe read` on small
 * messages. A mapping of the file copied nothing but cost a page fault per 16 pages and, to keep
 * the resident set small, an munmap per MiB read: a fifth of the text output of large HTTP/2
 * responses (capture (b), docs/bench.md "HTTP/2 offline read with margin"). One read() per
 * buffer copies each byte once, the kernel's fastest copy, into memory that stays in cache
 * for the dissectors reading it right after. Only for the plain records libpcap passes on
 * unchanged: format 2.4, a link type without a pseudo-header libpcap would rewrite, caplen
 * within the snapshot length. At the first other record libpcap takes over from there (the
 * FILE is positioned at it). A record's bytes are valid until the next one is asked for, as
 * with libpcap.
 */
struct records {
	uint8_t *buf;    /* RECORDS_BUF bytes */
	size_t buf_off;  /* file offset of buf[0] */
	size_t buf_len;  /* bytes in buf */
	int fd;
	size_t size;     /* of the file when opened */
	size_t off;      /* next record */
	uint64_t bad_timestamps;
	uint32_t snap;
	bool swap, nano;
};

#define RECORDS_MAX_SNAP 262144u /* libpcap's MAXIMUM_SNAPLEN */
/* Room for the largest record after what is left of the one before: half of a 1 MiB L2. */
#define RECORDS_BUF	 (RECORDS_MAX_SNAP + 16 + (256u << 10))

static uint32_t get32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/* 0 when f (a plain file, header read by libpcap) is read by records_next(). */
static int records_open(FILE *f, int dlt, struct records *m)
{
	uint8_t hdr[24];
	struct stat sb;
	uint16_t major, minor;
	uint32_t magic;
	int fd = fileno(f);

	memset(m, 0, sizeof(*m));
	if (dlt != DLT_EN10MB && dlt != DLT_RAW && dlt != DLT_IPV4 && dlt != DLT_IPV6)
		return -1;
	if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size < 24 ||
	    (uint64_t)sb.st_size > SIZE_MAX || pread(fd, hdr, 24, 0) != 24)
		return -1;
	memcpy(&magic, hdr, 4);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		m->swap = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		m->swap = true;
	else
		return -1; /* pcapng */
	m->nano = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
	/* version 2.4: major and minor, 16 bits each */
	memcpy(&major, hdr + 4, 2);
	memcpy(&minor, hdr + 6, 2);
	if (m->swap) {
		major = __builtin_bswap16(major);
		minor = __builtin_bswap16(minor);
	}
	if (major != 2 || minor != 4)
		return -1;
	m->snap = get32(hdr + 16, m->swap);
	if (!m->snap || m->snap > RECORDS_MAX_SNAP)
		m->snap = RECORDS_MAX_SNAP;
	m->buf = malloc(RECORDS_BUF);
	if (!m->buf)
		return -1;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	m->fd = fd;
	m->size = (size_t)sb.st_size;
	m->off = 24;
	m->buf_off = 24;
	return 0;
}

/* At least need bytes at m->off in the buffer (fewer only at the file's end or an error). */
static size_t records_fill(struct records *m, size_t need)
{
	size_t have = m->buf_off + m->buf_len - m->off;
	ssize_t got;

	if (have >= need)
		return have;
	memmove(m->buf, m->buf + (m->off - m->buf_off), have);
	m->buf_off = m->off;
	m->buf_len = have;
	while (m->buf_len < need) {
		got = pread(m->fd, m->buf + m->buf_len, RECORDS_BUF - m->buf_len,
			    (off_t)(m->buf_off + m->buf_len));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* the end, or an error libpcap meets again and reports */
		m->buf_len += (size_t)got;
	}
	return m->buf_len;
}

/* The next record: 1, or 0 at the end or at a record for libpcap (m->off is where it starts). */
static int records_next(struct records *m, const uint8_t **data, uint32_t *caplen, uint32_t *len,
			uint64_t *ts)
{
	const uint8_t *r;
	uint32_t cap, frac;

	if (m->size - m->off < 16 || records_fill(m, 16) < 16)
		return 0;
	r = m->buf + (m->off - m->buf_off);
	cap = get32(r + 8, m->swap);
	if (cap > m->snap || cap > m->size - m->off - 16)
		return 0;
	if (records_fill(m, 16 + (size_t)cap) < 16 + (size_t)cap)
		return 0;
	r = m->buf + (m->off - m->buf_off);
	frac = get32(r + 4, m->swap);
	if (frac >= (m->nano ? 1000000000u : 1000000u)) {
		m->bad_timestamps++; /* read as libpcap's records are: see read_file_ts() */
		frac = 0;
	}
	*ts = (uint64_t)get32(r, m->swap) * 1000000000ull + (uint64_t)frac * (m->nano ? 1 : 1000);
	*caplen = cap;
	*len = get32(r + 12, m->swap);
	*data = r + 16;
	m->off += 16 + (size_t)cap;
	return 1;
}

static void records_close(struct records *m)
{
	free(m->buf);
	m->buf = NULL;
}

/* stdio over zlib: libpcap reads a FILE *, and gzread reads plain files as they are too. */
static ssize_t gz_read(void *cookie, char *buf, size_t size)
{
	int n = gzread(cookie, buf, size > (1u << 30) ? (1u << 30) : (unsigned)size);

	if (n < 0) {
		errno = EIO; /* zlib leaves errno alone for corrupt data */
		return -1;
	}
	return n;
}

static int gz_close(void *cookie)
{
	return gzclose(cookie) == Z_OK ? 0 : -1;
}

/* Only telling where the decompressed data is (ftello), for the offset of a corrupt record. */
static int gz_seek(void *cookie, off64_t *off, int whence)
{
	z_off_t pos;

	if (whence != SEEK_CUR || *off != 0) {
		errno = ESPIPE;
		return -1;
	}
	pos = gztell(cookie);
	if (pos < 0) {
		errno = ESPIPE;
		return -1;
	}
	*off = pos;
	return 0;
}

/* A plain file as it is, through a big stdio buffer: zlib's transparent reading and the stdio
 * cookie added two copies of every byte (a tenth of `floe read` on big captures). NULL when the
 * file starts like gzip (or cannot be read here: the gzip path reports why). */
static FILE *open_plain(const char *path, char **buf)
{
	unsigned char magic[2];
	FILE *f;

	if (!strcmp(path, "-"))
		return NULL;
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	/* glibc ignores setvbuf's size without a buffer: the buffer is ours (freed after fclose) */
	*buf = malloc(READ_FILE_BUF);
	if (!*buf || (fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) ||
	    fseek(f, 0, SEEK_SET) || setvbuf(f, *buf, _IOFBF, READ_FILE_BUF)) {
		fclose(f);
		free(*buf);
		*buf = NULL;
		return NULL;
	}
	return f;
}

/* *buf: the stdio buffer of a plain file, to be freed after the FILE is closed (or NULL). */
static FILE *open_maybe_gzip(const char *path, char **buf)
{
	cookie_io_functions_t io = {.read = gz_read, .seek = gz_seek, .close = gz_close};
	gzFile gz;
	FILE *f = open_plain(path, buf);

	if (f)
		return f;
	gz = strcmp(path, "-") ? gzopen(path, "rb") : gzdopen(dup(0), "rb");
	if (!gz)
		return NULL;
	gzbuffer(gz, 256u << 10);
	f = fopencookie(gz, "r", io);
	if (!f)
		gzclose(gz);
	return f;
}

/*
 * A record's time in ns, read the way the mapped walker reads classic records. libpcap reads the
 * seconds as a signed 32-bit number where the format says unsigned: a time past 2038 is not one
 * before 1970. A fraction of a second out of range (damage: libpcap gives it sign-extended and
 * scaled) counts as a bad timestamp and reads as 0, in both readers alike.
 */
static uint64_t read_file_ts(const struct pcap_pkthdr *h, int tsprec, uint64_t *bad)
{
	uint64_t sec = h->ts.tv_sec < 0 ? (uint32_t)h->ts.tv_sec : (uint64_t)h->ts.tv_sec;
	int64_t frac = h->ts.tv_usec;

	if (frac < 0 || frac >= (tsprec == PCAP_TSTAMP_PRECISION_NANO ? 1000000000 : 1000000)) {
		(*bad)++;
		frac = 0;
	}
	return sec * 1000000000ull +
	       (uint64_t)frac * (tsprec == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000);
}

int read_file_run(const char *path, const struct dissect_config *cfg, dissect_sink_fn sink,
		  void *ctx, struct read_file_stats *stats, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct dissect_config c = {};
	struct dissect_engine *eng;
	struct pcap_pkthdr *h;
	const u_char *data;
	int dlt, rc, tsprec, derr = 0;
	char *fbuf = NULL, corrupt[PCAP_ERRBUF_SIZE + 128] = "";
	off_t rec_off = -1;
	size_t seek_off = 0;
	int seek_errno = 0;
	struct records rd;
	pcap_t *pc;
	FILE *f;

	memset(stats, 0, sizeof(*stats));
	f = open_maybe_gzip(path, &fbuf);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		return -(errno ? errno : ENOMEM);
	}
	pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!pc) {
		struct stat sb;

		fclose(f);
		free(fbuf);
		if (strcmp(path, "-") && !stat(path, &sb) && S_ISDIR(sb.st_mode))
			snprintf(err, errlen, "%s: is a directory", path);
		else if (strcmp(path, "-") && !stat(path, &sb) && sb.st_size == 0)
			snprintf(err, errlen, "%s: empty file", path);
		else if (strstr(perr, "Input/output error"))
			snprintf(err, errlen,
				 "%s: corrupt compressed data (not a valid gzip stream)", path);
		else if (strstr(perr, "truncated dump file"))
			snprintf(err, errlen, "%s: file too short for a capture header (%s)", path,
				 perr);
		else
			snprintf(err, errlen, "%s: not a pcap or pcapng capture (%s)", path, perr);
		return -EINVAL;
	}
	tsprec = pcap_get_tstamp_precision(pc);
	dlt = pcap_datalink(pc);
	if (cfg)
		c = *cfg;
	c.tcp.expire_on_packets = true;
	rc = dissect_engine_create(&c, sink, ctx, &eng);
	if (rc) {
		pcap_close(pc);
		free(fbuf);
		snprintf(err, errlen, "cannot create the dissection engine: %s", strerror(-rc));
		return rc;
	}
	rc = 1;
	if (fbuf && !records_open(f, dlt, &rd)) {
		const uint8_t *pkt;
		uint32_t caplen, len;
		uint64_t ts;

		while (records_next(&rd, &pkt, &caplen, &len, &ts)) {
			struct packet p;

			stats->packets++;
			stats->bytes += caplen;
			derr = packet_decode(dlt, pkt, caplen, len, ts, &p);
			if (derr == PACKET_ERR_DLT)
				break;
			if (derr) {
				stats->decode_errors++;
				continue;
			}
			dissect_engine_packet(eng, &p);
		}
		/* The rest (nothing, or records libpcap reads its own way) from libpcap. */
		if (derr == PACKET_ERR_DLT || rd.off == rd.size)
			rc = PCAP_ERROR_BREAK;
		else if (fseeko(f, (off_t)rd.off, SEEK_SET)) {
			seek_errno = errno; /* an I/O error, said below (not a corrupt record) */
			rc = PCAP_ERROR_BREAK;
		}
		seek_off = rd.off;
		stats->bad_timestamps += rd.bad_timestamps;
		records_close(&rd);
	}
	/* Where each record starts (libpcap reads it through f): for a corrupt one's message. */
	while (rc == 1 && ((rec_off = ftello(f)), (rc = pcap_next_ex(pc, &h, &data)) == 1)) {
		struct packet p;
		uint64_t ts = read_file_ts(h, tsprec, &stats->bad_timestamps);

		stats->packets++;
		stats->bytes += h->caplen;
		derr = packet_decode(dlt, data, h->caplen, h->len, ts, &p);
		if (derr == PACKET_ERR_DLT)
			break;
		if (derr) {
			stats->decode_errors++;
			continue;
		}
		dissect_engine_packet(eng, &p);
	}
	if (rc == PCAP_ERROR) {
		const char *why = pcap_geterr(pc);

		/*
		 * A file cut in the middle of a record (libpcap: "truncated dump file", "truncated
		 * pcapng dump file") is what a crash or a copy of a live file leaves: keep what was
		 * read and say so. Anything else is damage no capture could hold (a record length
		 * past any snapshot length, a broken block, corrupt compressed data): what came
		 * before it is dissected too, then it is an error.
		 */
		if (strstr(why, "truncated"))
			stats->truncated = 1;
		else if (rec_off >= 0)
			snprintf(corrupt, sizeof(corrupt), "corrupt record at offset %lld%s: %s",
				 (long long)rec_off, fbuf ? "" : " of the decompressed data", why);
		else
			snprintf(corrupt, sizeof(corrupt), "corrupt record after packet %llu: %s",
				 (unsigned long long)stats->packets, why);
	}
	dissect_engine_finish(eng);
	dissect_engine_get_stats(eng, &stats->dissect);
	dissect_engine_get_tcp_stats(eng, &stats->tcp);
	dissect_engine_destroy(eng);
	pcap_close(pc);
	free(fbuf);
	if (derr == PACKET_ERR_DLT) {
		snprintf(err, errlen, "%s: link type %d (%s) is not supported", path, dlt,
			 pcap_datalink_val_to_name(dlt) ?: "?");
		return -ENOTSUP;
	}
	if (seek_errno) {
		snprintf(err, errlen, "%s: cannot seek to offset %zu: %s", path, seek_off,
			 strerror(seek_errno));
		return -seek_errno;
	}
	if (corrupt[0]) {
		stats->corrupt = 1;
		snprintf(err, errlen, "%s: %s", path, corrupt);
		return -EBADMSG;
	}
	return 0;
}

/* ---- names from the capture's DNS answers ---- */

static struct entry_names *read_names_lookup(void *ctx, const uint8_t addr[16], uint64_t ts_ns)
{
	return name_resolver_lookup(ctx, addr, ts_ns);
}

int read_names_init(struct read_names *n, size_t dns_max, dissect_sink_fn sink, void *ctx,
		    struct dissect_config *cfg)
{
	memset(n, 0, sizeof(*n));
	n->resolver = name_resolver_new(0, dns_max);
	n->answer = malloc(sizeof(*n->answer));
	if (!n->resolver || !n->answer) {
		read_names_free(n);
		return -ENOMEM;
	}
	n->sink = sink;
	n->ctx = ctx;
	cfg->names = read_names_lookup;
	cfg->names_ctx = n->resolver;
	return 0;
}

void read_names_sink(void *ctx, const struct entry *e)
{
	struct read_names *n = ctx;

	/* Entries come in the order their exchanges end: an answer names what comes after it
	 * (and, by its time, connections opened a moment before it). */
	if (dns_answer_names(e, n->answer))
		name_resolver_learn_dns(n->resolver, n->answer, e->response_ts_ns); /* ENOMEM:
										       unnamed */
	if (n->sink)
		n->sink(n->ctx, e);
}

void read_names_free(struct read_names *n)
{
	if (n->resolver)
		name_resolver_free(n->resolver);
	free(n->answer);
	memset(n, 0, sizeof(*n));
}
