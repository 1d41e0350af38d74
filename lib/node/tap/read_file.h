/* SPDX-License-Identifier: Apache-2.0 */
/*
 * read_file: `floe read`: a pcap or pcapng file (gzip-compressed too) through the dissection
 * engine, entries to a sink. Packets are decoded with net/packet.h; flows expire on packet
 * time (offline), and every flow still open at the end is closed as "end_of_capture".
 */
#ifndef FLOE_READ_FILE_H
#define FLOE_READ_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "dissect/engine.h"

struct read_file_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t decode_errors; /* frames that are not IP/TCP/UDP we can decode (ARP, ...) */
	uint64_t truncated;	/* the file ended in the middle of a record */
	uint64_t corrupt;	/* reading stopped at a corrupt record (-EBADMSG) */
	uint64_t
	    bad_timestamps; /* records whose fraction of a second was out of range: read as 0 */
	struct dissect_stats dissect;
	struct tcp_reasm_stats tcp;
};

/*
 * Read path ("-" for standard input) and dissect it; entries go to sink(ctx, e). cfg may be
 * NULL. Returns 0, or -errno with a message in err (cannot open, not a capture, unsupported
 * link type; -EBADMSG for a corrupt record, "corrupt record at offset N: why", after the
 * records before it were dissected and their entries given to sink). A capture cut short is
 * not an error: what it holds is dissected, and stats.truncated says so.
 */
int read_file_run(const char *path, const struct dissect_config *cfg, dissect_sink_fn sink,
		  void *ctx, struct read_file_stats *stats, char *err, size_t errlen);

/*
 * Names from the capture's own DNS answers (docs/dns-names.md, "floe read"): a sink in front of
 * another. Every entry goes through dns_answer_names(); what an answer names goes to a name
 * resolver (pods/name_resolver.h: a bounded history per address), which names the ends of the
 * entries made after it at their own times (cfg's names callback). The capture's times are the
 * names' times: an answer's TTL runs in capture time.
 *
 *   read_names_init(&n, 0, entry_output_sink, &out, &cfg);   sets cfg.names, cfg.names_ctx
 *   read_file_run(path, &cfg, read_names_sink, &n, ...);
 *   read_names_free(&n);
 */
struct name_resolver;
struct dns_answer;

struct read_names {
	struct name_resolver *resolver;
	struct dns_answer *answer; /* scratch, one entry's */
	dissect_sink_fn sink;
	void *ctx;
};

/* dns_max: names kept at most (0: NAME_RESOLVER_DNS_DEFAULT). 0 or -ENOMEM. */
int read_names_init(struct read_names *n, size_t dns_max, dissect_sink_fn sink, void *ctx,
		    struct dissect_config *cfg);
void read_names_sink(void *ctx, const struct entry *e);
void read_names_free(struct read_names *n);

#endif /* FLOE_READ_FILE_H */
