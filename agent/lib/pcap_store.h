/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap_store: the rotating PCAP store of a tap.
 *
 * Packets are appended to an active segment through libpcap (nanosecond timestamps,
 * LINKTYPE_ETHERNET). A segment is closed when it reaches its size or age; closed segments
 * are compressed with zstd by a background thread. The total size of the store directory
 * (active segment, segments being compressed and their partial output included) never
 * exceeds the configured limit: the oldest segments are deleted first.
 *
 * Threading: pcap_store_write() is called by one producer thread (the ring-buffer drain).
 * It only copies into a bounded in-memory queue; a writer thread owned by the store does the
 * file I/O, so the drain never waits on the disk unless the queue is full (then it blocks,
 * which lets the kernel ring buffer absorb and count the overload).
 */
#ifndef FLOE_PCAP_STORE_H
#define FLOE_PCAP_STORE_H

#include <stddef.h>
#include <stdint.h>

struct pcap_store;

struct pcap_store_config {
	const char *dir;           /* created if missing */
	uint64_t limit_bytes;      /* hard limit on the directory's total size */
	uint64_t segment_bytes;    /* 0: derived from the limit (limit / 8, within [64 KiB, 256 MiB]) */
	uint32_t segment_seconds;  /* close the active segment after this age; 0: never by age */
	uint32_t snaplen;          /* written into the PCAP file header */
	uint64_t queue_bytes;      /* in-memory queue between producer and writer; 0: 16 MiB */
	int zstd_level;            /* 0: do not compress closed segments; else zstd level (1..19) */
};

struct pcap_store_stats {
	uint64_t packets_written;     /* packets written to segments */
	uint64_t bytes_written;       /* PCAP bytes written (uncompressed) */
	uint64_t packets_lost;        /* packets that could not be written (I/O error, disk full) */
	uint64_t segments_closed;
	uint64_t segments_compressed;
	uint64_t segments_evicted;    /* deleted to respect the limit */
	uint64_t packets_evicted;     /* packets in evicted segments */
	uint64_t store_bytes;         /* current size of the store on disk (apparent size) */
	uint64_t store_bytes_peak;    /* the largest size the store reached since open */
	int last_errno;               /* 0, or the last I/O error seen */
};

/*
 * Open (or create) a store. Segments left by an earlier run are kept, counted toward the
 * limit and compressed if they were left uncompressed; partial temporary files are removed.
 * Returns 0 or a negative errno; on error a message is written to err.
 */
int pcap_store_open(const struct pcap_store_config *cfg, struct pcap_store **out, char *err,
		    size_t errlen);

/* Append one packet. ts_ns is wall-clock time (CLOCK_REALTIME) in nanoseconds. */
int pcap_store_write(struct pcap_store *s, uint64_t ts_ns, uint32_t cap_len, uint32_t pkt_len,
		     const void *data);

/* Make everything queued so far visible in the active segment file. */
int pcap_store_flush(struct pcap_store *s);

void pcap_store_get_stats(struct pcap_store *s, struct pcap_store_stats *st);

/* Flush, close the active segment, finish compression, free. Returns 0 or negative errno. */
int pcap_store_close(struct pcap_store *s);

struct pcap_export_stats {
	uint64_t segments;
	uint64_t packets_in;
	uint64_t packets_out;     /* after the filter */
	uint64_t truncated_segments; /* segments whose last record was cut (e.g. the active one) */
};

/*
 * Write the whole store, oldest first, as one PCAP file (nanosecond timestamps) that tshark
 * and Wireshark read without warnings. bpf_filter (tcpdump syntax) may be NULL.
 * out_path "-" writes to stdout. Returns 0 or negative errno with a message in err.
 */
int pcap_store_export(const char *dir, const char *out_path, const char *bpf_filter,
		      struct pcap_export_stats *st, char *err, size_t errlen);

#endif /* FLOE_PCAP_STORE_H */
