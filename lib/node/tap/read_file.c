// SPDX-License-Identifier: Apache-2.0
#include "tap/read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcap/pcap.h>
#include <zlib.h>

#include "net/packet.h"

/* stdio buffer of a plain capture file. */
#define READ_FILE_BUF (1u << 20)

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
	cookie_io_functions_t io = { .read = gz_read, .close = gz_close };
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

int read_file_run(const char *path, const struct dissect_config *cfg, dissect_sink_fn sink,
		  void *ctx, struct read_file_stats *stats, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct dissect_config c = {};
	struct dissect_engine *eng;
	struct pcap_pkthdr *h;
	const u_char *data;
	int dlt, rc, tsprec, derr = 0;
	char *fbuf = NULL;
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
			snprintf(err, errlen, "%s: corrupt compressed data (not a valid gzip stream)",
				 path);
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
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct packet p;
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull +
			      (uint64_t)h->ts.tv_usec * (tsprec == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000);

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
		/* A file cut in the middle of a record: keep what was read. */
		stats->truncated = 1;
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
	return 0;
}
