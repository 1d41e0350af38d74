/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap_store: the rotating PCAP store of a tap.
 *
 * Packets are appended to an active segment as PCAP records (nanosecond timestamps,
 * LINKTYPE_ETHERNET). A segment is closed when it reaches its size or age; closed segments
 * are compressed with zstd by a background thread (unless their first 8 MiB do not shrink by
 * 1/16: those stay .pcap). The total size of the store directory
 * (active segment, segments being compressed and their partial output included) never
 * exceeds the configured limit: the oldest segments are deleted first.
 *
 * Layout of dir: floe-<seq, 10 digits>-<UTC creation, YYYYMMDDTHHMMSSZ>.pcap (active or not
 * yet compressed), .pcap.zst (compressed), .pcap.zst.tmp (compression in progress), .lock
 * (flock: one store per directory). Lexical order of the names is age order. The limit
 * counts what `du -sb --apparent-size dir` counts: every file in dir and the directory itself;
 * keep the directory dedicated to the store. See docs/storage.md.
 *
 * The oldest plain .pcap, when the limit is about to evict it, may become the next segment's
 * file (renamed and written over in place: no page freed and allocated again). Until the new
 * records pass its old end they are followed by an end mark (a record header with caplen
 * 0xffffffff then "FLOE") and the old bytes; the close cuts the file to its records. Export and
 * reopening stop at the mark.
 *
 * Permissions: captured traffic is secret. The directory must belong to the effective user and
 * must not be writable by group or others (pcap_store_open refuses it otherwise); it is made
 * 0700 and its files 0600, or 0750/0640 with the configured group, whatever the umask. Every
 * file is created relative to the directory, with O_EXCL and O_NOFOLLOW: no symlink is
 * followed and no file is opened with O_TRUNC.
 *
 * Threading: pcap_store_write() is called by one producer thread (the ring-buffer drain).
 * It only copies into a bounded in-memory queue; a writer thread owned by the store does the
 * file I/O, so the drain never waits on the disk unless the queue is full (then it blocks,
 * which lets the kernel ring buffer absorb and count the overload).
 */
#ifndef FLOE_PCAP_STORE_H
#define FLOE_PCAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/queue_budget.h"

struct pcap_store;

struct pcap_store_config {
	const char *dir;           /* created if missing (with its parents); not a symlink */
	const char *group;         /* NULL: only the owner reads the store; else a group name
				      (or number) that may read it: 0750 directory, 0640 files */
	uint64_t limit_bytes;      /* hard limit on the directory's total size (at least the
				      directory's own size + 20 KiB) */
	uint64_t segment_bytes;    /* 0: derived from the limit (limit / 8, within [64 KiB, 256 MiB]);
				      at most half of the room the limit leaves, so that the active
				      segment and one being compressed fit together */
	uint32_t segment_seconds;  /* close the active segment after this age; 0: never by age */
	uint32_t snaplen;          /* written into the PCAP file header; 0 or > 262144: 262144.
				      Longer packets are cut to it */
	uint64_t queue_bytes;      /* in-memory queue between producer and writer; 0: 16 MiB */
	int zstd_level;            /* 0: do not compress closed segments; else zstd level
				      (ZSTD_minCLevel()..ZSTD_maxCLevel(); negative: zstd's fast
				      levels, standard frames). The compressor runs at SCHED_IDLE */
	bool batched;              /* the producer calls pcap_store_kick() after each batch of
				      writes: the writer is woken once per batch (or when a queue
				      chunk fills), not once per packet */
	/* Optional: the queues' shared memory budget (--queue-memory). The store joins it
	 * with a floor of two chunks and charges every chunk it maps; a chunk the budget refuses
	 * is waited for as at queue_bytes (the writer frees one: producer_waits). Chunks beyond
	 * two stay mapped for the next burst once written, and go back to the system (and the
	 * budget) after a quarter of a second idle, or at the writer's next pass once another
	 * member of the budget was refused; never while the producer waits for one. */
	struct queue_budget *budget;
	/* Tests: called on the writer thread before it writes each queued chunk (no lock held),
	 * so that a test can hold the writer and let the producer run ahead of it. NULL: none. */
	void (*before_write)(void *ctx);
	void *before_write_ctx;
};

struct pcap_store_stats {
	uint64_t packets_written;     /* packets written to segments */
	uint64_t bytes_written;       /* PCAP bytes written (uncompressed) */
	uint64_t packets_lost;        /* packets that could not be written (I/O error, disk full,
					 a packet larger than the limit allows) */
	uint64_t segments_closed;
	uint64_t segments_compressed;
	uint64_t segments_incompressible; /* left uncompressed: their first 8 MiB did not shrink
					     by 1/16 (encrypted or random payloads) */
	uint64_t segments_evicted;    /* deleted to respect the limit */
	uint64_t segments_recycled;   /* of those, plain .pcap files the next segment was written
					 over in place (counted in segments_evicted too) */
	uint64_t packets_evicted;     /* packets in evicted segments (a .pcap.zst carries its count
					 in a trailing zstd skippable frame; 0 if it has none) */
	uint64_t store_bytes;         /* current size of the store on disk (apparent size), counted
					 before bytes are written: never below what du reports */
	uint64_t store_bytes_peak;    /* the largest size the store reached since open */
	uint64_t producer_waits;      /* pcap_store_write found the queue full (the writer behind) */
	uint64_t producer_wait_ns;    /* and waited this long in all */
	int last_errno;               /* 0, or the last I/O error seen */
	int compressor_idle_errno;    /* 0, or why the compressor does not run at SCHED_IDLE */
};

/*
 * Open (or create) a store. Segments left by an earlier run are kept, counted toward the
 * limit (the oldest are evicted if they exceed it) and compressed if they were left
 * uncompressed (a partial last record is cut first); numbering continues after the highest
 * sequence number; partial temporary files (floe-*.tmp) are removed.
 * Returns 0 or a negative errno; on error a message is written to err: -EBUSY when another
 * process (or another open store) holds dir/.lock, the errno of mkdir/open when dir cannot
 * be created or written (-ELOOP: dir is a symlink), -EPERM when dir belongs to another user
 * or its group or others may write to it, -EINVAL for a limit too small for the directory or an
 * unknown group. A directory of ours that others may read (an older floe made it 0755) is
 * narrowed to the store's mode, and so are the segments it holds.
 */
int pcap_store_open(const struct pcap_store_config *cfg, struct pcap_store **out, char *err,
		    size_t errlen);

/*
 * Append one packet. ts_ns is wall-clock time (CLOCK_REALTIME) in nanoseconds. Only copies
 * into the queue; blocks while the queue is full. I/O errors surface later in the stats
 * (packets_lost, last_errno) and in the return of pcap_store_flush/close. Returns 0, or
 * -EINVAL / -ENOMEM (the packet is then counted lost).
 */
int pcap_store_write(struct pcap_store *s, uint64_t ts_ns, uint32_t cap_len, uint32_t pkt_len,
		     const void *data);

/*
 * End of a batch of pcap_store_write() calls (config.batched): wake the writer for what they
 * queued. Without it the writer takes them when a chunk fills, at a flush or at close.
 */
void pcap_store_kick(struct pcap_store *s);

/*
 * Make everything queued so far visible in the active segment file (waits for the writer).
 * Returns 0, or -errno of the last loss if packets were lost since the previous flush (or
 * open). Each loss is reported once, by the first flush or close that follows it, even one
 * the writer counted before this call was made.
 */
int pcap_store_flush(struct pcap_store *s);

/*
 * From any thread (a reader's, say): wait until everything queued before the call is in the
 * active segment file, so that a reader opening the store finds the packets of entries already
 * shown (the writer batches for up to 100 ms). Loss reports are left to flush and close.
 */
void pcap_store_sync(struct pcap_store *s);

void pcap_store_get_stats(struct pcap_store *s, struct pcap_store_stats *st);

/*
 * Flush, close the active segment, finish compression, free. Returns 0, or -errno of the
 * last loss if packets were lost since the last flush (or open), while closing included.
 */
int pcap_store_close(struct pcap_store *s);

/*
 * pcap_store_close, and the final stats in *final (if not NULL). Stats taken before the close
 * are not final: closing commits the active segment and compresses the last closed ones, and
 * the room a compression needs may evict the oldest segment (packets_evicted grows).
 */
int pcap_store_close_stats(struct pcap_store *s, struct pcap_store_stats *final);

struct pcap_export_stats {
	uint64_t segments;
	uint64_t packets_in;
	uint64_t packets_out;     /* after the filter */
	uint64_t truncated_segments; /* segments whose last record was cut (e.g. the active one) */
	uint64_t corrupt_segments;   /* segments skipped, wholly or from the damage on */
};

/* pcap_store_export flags */
#define PCAP_EXPORT_REPLACE 1u /* out_path may exist: it is replaced (else -EEXIST) */
/*
 * Which frames. Without either flag: the captured ones only. The store also holds the
 * plaintext of TLS connections read through uprobes, as synthetic frames (store/tls_pcap.h);
 * they carry the same endpoints as the connection's ciphertext, so one file with both would
 * show Wireshark two sequence spaces in one TCP conversation: they are exported apart.
 */
#define PCAP_EXPORT_TLS_PLAINTEXT 2u /* the synthetic TLS plaintext frames only */
#define PCAP_EXPORT_ALL 4u	     /* both kinds (the caller tells them apart) */

/*
 * Write the whole store (the frames flags select), oldest first, as one PCAP file (nanosecond timestamps, snaplen
 * 262144) that tshark and Wireshark read without warnings. bpf_filter (tcpdump syntax) may be
 * NULL. out_path "-" writes to stdout. Works on a live store (no lock is taken).
 *
 * out_path is written as a new file of mode 0600 next to it (O_EXCL, O_NOFOLLOW) and renamed
 * to out_path once complete. An existing out_path is refused with -EEXIST, or, with
 * PCAP_EXPORT_REPLACE, replaced by the rename (a symlink is replaced, not followed; nothing is
 * truncated). An existing FIFO or character device (not through a symlink) is written to.
 *
 * A segment whose last record is cut (the active one, or one cut by a crash) is not an
 * error: its whole records are exported and truncated_segments counts it. A segment that
 * is damaged (bad header, bad zstd frame or checksum, impossible record) is skipped from the
 * damage on, and the export goes on with the next one; the output is then still a complete,
 * valid PCAP of everything readable, but the return is -EBADMSG with err naming the (first)
 * damaged file, so that nothing is lost silently. Other errors (store unreadable, bad
 * filter: -EINVAL, output not writable) return -errno and leave no output file.
 * Returns 0 when every segment was read.
 */
int pcap_store_export(const char *dir, const char *out_path, unsigned flags, const char *bpf_filter,
		      struct pcap_export_stats *st, char *err, size_t errlen);

#endif /* FLOE_PCAP_STORE_H */
