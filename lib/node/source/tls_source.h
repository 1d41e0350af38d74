/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_source: the stream byte source of TLS plaintext (docs/tls.md). Loads bpf/tls.bpf.c,
 * finds the processes of tapped network namespaces, the OpenSSL libraries (libssl.so*) they
 * map (/proc/PID/maps) and the Go programs with crypto/tls they run (/proc/PID/exe, through
 * go_elf.h), probes each library or program file once for every process, and turns the
 * ring's records into ordered stream chunks per connection (tls_record.h) for the sink.
 *
 * New processes: the kernel reports each exec in a tapped namespace; the process's maps are
 * read again a few times after it (its loader maps libraries after the exec). A library it
 * maps later (dlopen) is not seen until the next exec or namespace added (docs/tls.md).
 *
 *   tls_source_new(&cfg, &src, &ts, err, len);  loads the programs
 *   byte_source_start(&src, loop, &sink, ...);  the ring and timers on the loop
 *   tls_source_netns_add(ts, inode, name);      a tapped pod: its processes are scanned
 *   tls_source_netns_del(ts, inode);
 *   byte_source_free(&src);                     probes removed, programs freed
 */
#ifndef FLOE_SOURCE_TLS_SOURCE_H
#define FLOE_SOURCE_TLS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "source/byte_source.h"

struct tls_source;

struct tls_source_config {
	uint64_t ringbuf_bytes; /* the TLS ring; 0: TLS_SOURCE_DEFAULT_RING */
	FILE *log;		/* libraries hooked, and every library or process that was not */
	const char *proc;	/* NULL: /proc (tests may point elsewhere) */
};

#define TLS_SOURCE_DEFAULT_RING (8u << 20)

struct tls_source_stats {
	uint64_t calls;		   /* SSL_read/write calls that returned data (kernel) */
	uint64_t records;	   /* data records the kernel put in the ring */
	uint64_t bytes;		   /* plaintext bytes in them */
	uint64_t cut;		   /* plaintext bytes past a call's chunks, not recorded */
	uint64_t ringbuf_full;	   /* records lost: the TLS ring was full */
	uint64_t read_failed;	   /* plaintext bytes that could not be read from the process */
	uint64_t no_socket;	   /* records without a 5-tuple */
	uint64_t bad_records;	   /* ring records refused by tls_record_check (always 0) */
	uint64_t conns;		   /* connections read in plaintext */
	uint64_t libs_hooked;	   /* library files and Go programs probed */
	uint64_t libs_failed;	   /* library files and Go programs that could not be probed */
	uint64_t processes;	   /* processes of tapped namespaces seen */
	uint64_t processes_tls;	   /* of those, mapping a hooked TLS library */
	uint64_t processes_failed; /* mapping a TLS library that could not be probed */
	uint64_t execs;		   /* execs in tapped namespaces reported by the kernel */
};

int tls_source_new(const struct tls_source_config *cfg, struct byte_source *out,
		   struct tls_source **ts, char *err, size_t errlen);

/* Tap the processes of a network namespace (its inode number); name is for messages. */
int tls_source_netns_add(struct tls_source *ts, uint32_t netns_inode, const char *name);
void tls_source_netns_del(struct tls_source *ts, uint32_t netns_inode);

void tls_source_get_stats(struct tls_source *ts, struct tls_source_stats *out);

#endif /* FLOE_SOURCE_TLS_SOURCE_H */
