/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry_history: the entries a tap completed, kept on disk beside its PCAP segments, so that
 * whoever queries the agent (agent_api, issue 16) reads them back by time range.
 *
 * Layout: <store dir>/entries/entries-<seq, 10 digits>.jsonl.zst. A segment is a series of
 * complete zstd frames, one per batch the writer thread wrote, each holding lines
 *
 *     <ts_ns> <id> <entry JSON, compact, as `floe read --json` prints it>\n
 *
 * (`zstd -dc entries-*.zst | cut -d' ' -f3-` is JSON Lines). A closed segment ends with a
 * 40-byte zstd skippable frame: its time index (smallest and largest ts_ns, entry count), so
 * a query for [since, until) opens only the segments whose range meets it. `zstd -d` skips
 * that frame. The newest segment (being written) has no index yet and is always read; a
 * segment left without one by a crash gets it when the next writer opens the directory
 * (a cut last frame is removed first).
 *
 * Size: the files of entries/ and the directory itself never exceed limit_bytes (counted
 * before writing, as the PCAP store counts). The oldest segments go first; a closed segment
 * also goes as soon as every entry in it is older than the oldest PCAP segment of the store
 * (its packets are gone), so entries never outlive their packets by more than a segment.
 *
 * Threading: entry_history_append() is called from one thread (the dissection thread); it
 * copies into a bounded queue and never waits: when the queue is full the entry is dropped
 * and counted. A writer thread compresses and writes. Readers (entry_history_read) work on
 * the directory alone, from any process, while a writer runs.
 */
#ifndef FLOE_ENTRY_HISTORY_H
#define FLOE_ENTRY_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/queue_budget.h"

#define ENTRY_HISTORY_DIR    "entries"
#define ENTRY_HISTORY_ID_MAX 63 /* longest id kept (bytes) */

struct entry_history;

struct entry_history_config {
	const char *store_dir;	  /* the PCAP store's directory (exists, private) */
	uint64_t limit_bytes;	  /* files of entries/ plus the directory itself */
	uint64_t segment_bytes;	  /* 0: limit / 8 within [16 KiB, 64 MiB] */
	uint32_t segment_seconds; /* close the segment after this age; 0: only by size */
	size_t queue_bytes;	  /* entries waiting for the writer; 0: 8 MiB */
	int zstd_level;		  /* 0: 3 */
	uint64_t batch_ns;	  /* longest an entry waits in the queue; 0: 200 ms */
	/* Keep entries older than the store's oldest PCAP segment (a replayed capture: its
	 * times are in the past); only the limit evicts. */
	bool keep_older_than_packets;
	/* Optional: the queues' shared memory budget (--queue-memory). The history joins it
	 * with a floor of ENTRY_HISTORY_BUDGET_FLOOR and charges its buffers' capacities (the
	 * queue's, the batch being written, the compressed frame); an entry whose copy the budget
	 * refuses is dropped and counted, as at queue_bytes. */
	struct queue_budget *budget;
};

#define ENTRY_HISTORY_BUDGET_FLOOR (2u << 20)

struct entry_history_stats {
	uint64_t entries_written;
	uint64_t entries_dropped; /* the queue was full, or the write failed */
	uint64_t entries_evicted; /* in segments deleted for the limit or with their packets */
	uint64_t segments_evicted;
	uint64_t segments_recovered; /* left without an index by a crash, indexed at open */
	uint64_t bytes;		     /* entries/ now, as counted */
	uint64_t raw_bytes;	     /* text written before compression */
	uint64_t append_ns;	     /* time spent in entry_history_append, in all (estimated:
				      * one call in 16 is timed) */
	int last_errno;
};

/*
 * Open (creating <store_dir>/entries with the store directory's mode and group) and start the
 * writer. Segments of earlier runs are kept and counted; numbering continues. -errno with a
 * message in err.
 */
int entry_history_open(const struct entry_history_config *cfg, struct entry_history **out,
		       char *err, size_t errlen);

/* Queue one entry (copied). 0, -ENOBUFS (queue full: dropped, counted) or -EINVAL. */
int entry_history_append(struct entry_history *h, const char *id, int64_t ts_ns, const char *json,
			 size_t json_len);

/* Wait until everything queued before the call is in the files (readers see it). */
void entry_history_sync(struct entry_history *h);

void entry_history_get_stats(struct entry_history *h, struct entry_history_stats *st);

/* Write what is queued, close the segment with its index, stop the writer, free. */
void entry_history_close(struct entry_history *h);

/* One entry read back; json is not NUL-terminated. Return non-zero to stop. */
typedef int (*entry_history_fn)(const char *id, int64_t ts_ns, const char *json, size_t json_len,
				void *arg);

struct entry_history_read_stats {
	uint64_t segments;	   /* segments in the directory */
	uint64_t segments_read;	   /* opened (their index met the range, or they had none) */
	uint64_t entries;	   /* entries delivered */
	uint64_t damaged_segments; /* read up to the damage, the rest skipped */
};

/*
 * Every entry with since_ns <= ts < until_ns (0: no bound), segment by segment, oldest
 * segment first (within a segment, in the order written: not sorted by ts). A damaged
 * segment (bad zstd frame, bad line, an index that does not match) is read up to the damage
 * and the rest of it skipped; the others are read in full; the return is then -EBADMSG with
 * err naming the first damaged file. A cut last frame of the newest segment (being written)
 * is not damage. Works on a directory a writer is using. st may be NULL.
 */
int entry_history_read(const char *store_dir, int64_t since_ns, int64_t until_ns,
		       entry_history_fn fn, void *arg, struct entry_history_read_stats *st,
		       char *err, size_t errlen);

/*
 * Parse one segment's bytes (data frames, optionally its index frame at the end) and call fn
 * per entry: 0, or -EBADMSG with err saying where. With tail_ok a cut last frame is no error.
 * For the fuzz target and the reader.
 */
int entry_history_parse_segment(const uint8_t *p, size_t len, int tail_ok, int64_t since_ns,
				int64_t until_ns, entry_history_fn fn, void *arg, char *err,
				size_t errlen);

#endif /* FLOE_ENTRY_HISTORY_H */
