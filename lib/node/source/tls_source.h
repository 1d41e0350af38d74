/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_source: the stream byte source of TLS plaintext (docs/tls.md). Loads bpf/tls.bpf.c,
 * finds the processes of tapped network namespaces, the OpenSSL libraries (libssl.so*) they
 * map (/proc/PID/maps) and the Go programs with crypto/tls they run (/proc/PID/exe, through
 * go_elf.h), probes each library or program file for each of those processes (for every
 * process past cfg.pid_probes_max of them), and turns the
 * ring's records into ordered stream chunks per connection (tls_record.h) for the sink.
 *
 * New processes: the kernel reports each exec in a tapped namespace; the process's maps are
 * read again a few times after it (its loader maps libraries after the exec). A libssl* file
 * mapped executable by a tapped process (dlopen, any time) is reported too, and its maps read
 * again at once. A library or program no tapped process uses any more is unprobed (after a
 * sweep of the tapped namespaces' processes confirms it), and probed again when one does.
 *
 *   tls_source_new(&cfg, &src, &ts, err, len);  loads the programs
 *   byte_source_start(&src, loop, &sink, ...);  the ring and timers on the loop
 *   tls_source_netns_add(ts, inode, pod, ns);   a tapped pod: its processes are scanned
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

/* --tls-attach: how the uprobes are attached (docs/tls.md, "How probes are attached"). */
enum tls_attach {
	TLS_ATTACH_AUTO,  /* uprobe_multi links where the kernel has them and pid_probes_max is 0 */
	TLS_ATTACH_PERF,  /* one perf-event uprobe per probe point */
	TLS_ATTACH_MULTI, /* uprobe_multi links, or tls_source_new fails */
};

struct tls_source_config {
	uint64_t ringbuf_bytes; /* the TLS ring; 0: TLS_SOURCE_DEFAULT_RING */
	FILE *log;		/* libraries hooked, and every library or process that was not */
	const char *proc;	/* NULL: /proc (tests may point elsewhere) */
	/* --servicemesh: connections between two loopback addresses (an app and its sidecar in
	 * one pod) are not read; the sidecar's own TLS connection is (docs/tls.md). */
	bool skip_loopback_hops;
	/* A file without a user for this long is unprobed (0: at the next sweep); a program run
	 * again and again (a short client) keeps its probes from one run to the next. */
	uint64_t unprobe_after_ns;
	/* Probe each function at its first instruction and its return by a uretprobe, as
	 * before probe_site.h chose cheaper places (FLOE_TLS_PROBE_SITES=first: for comparing
	 * the two, docs/tls.md). */
	bool probe_first_insn;
	/* --tls-pid-probes: a file is probed for each tapped process that uses it (the kernel
	 * traps no other process on it), up to this many processes; past it, for every process
	 * that maps it. 0: always for every process (docs/tls.md, "Which processes pay"). */
	unsigned pid_probes_max;
	/* Probes per process (pid_probes_max) are always perf uprobes: their fork and exec
	 * semantics are the perf events' (docs/tls.md). */
	enum tls_attach attach;
};

/* The blind list (tls_source_blind_json) holds at most this many items; the rest is counted. */
#define TLS_SOURCE_BLIND_MAX 64

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
	uint64_t mmaps;		   /* libssl* files mapped executable there (dlopen), reported */
	uint64_t mesh_hops;	   /* calls not read: loopback hops inside a pod (--servicemesh) */
	uint64_t go_morestack; /* Go Write/Read entries seen twice (the stack grew): once read */
	uint64_t probes;       /* uprobes attached now (all library and program files) */
	uint64_t attach_multi; /* 1: as uprobe_multi links (one per program of a file), 0: perf */
	uint64_t attaches;     /* files' probe sets attached (each file for all, or per process) */
	uint64_t attach_us;    /* microseconds those attaches took, in all */
	/* Of the places those probes sit in, per probed function (entry, each return site):
	 * those whose instruction the kernel emulates when the probe fires, and those it
	 * single-steps (a second trap, costly on some VMs; probe_site.h) */
	uint64_t probe_sites_emulated;
	uint64_t probe_sites_stepped;
	uint64_t probe_pids;	  /* processes with probes of their own now */
	uint64_t wide_files;	  /* files probed for every process (over pid_probes_max) */
	uint64_t libs_unhooked;	  /* files unprobed: no tapped process used them any more */
	uint64_t blind;		  /* (process, library) pairs floe is blind to now */
	uint64_t write_unsent;	  /* bytes of Go Writes taken at entry but not written */
	uint64_t hold_timeouts;	  /* Go Writes whose count came too late (taken as is) */
	uint64_t files_seen;	  /* program files remembered as looked at (bounded) */
	uint64_t dlopen_probe_us; /* the last libssl probed after a dlopen: microseconds from
				   * the kernel's mmap to its probes in place */
	uint64_t dlopen_wake_us;  /* of which until floe handled the mmap's event */
};

int tls_source_new(const struct tls_source_config *cfg, struct byte_source *out,
		   struct tls_source **ts, char *err, size_t errlen);

/* Tap the processes of a network namespace (its inode number), the pod's; pod and namespace
 * name it in messages and in the blind list. */
int tls_source_netns_add(struct tls_source *ts, uint32_t netns_inode, const char *pod,
			 const char *namespace);
void tls_source_netns_del(struct tls_source *ts, uint32_t netns_inode);

/* On the loop's thread, as everything above. */
void tls_source_get_stats(struct tls_source *ts, struct tls_source_stats *out);

/*
 * Where floe is blind now: a JSON array (malloc'd, NULL when out of memory) of
 * {"pod","namespace","pid","process","library","reason"}, one per live process of a tapped pod
 * and TLS library or Go program of it that could not be probed, TLS_SOURCE_BLIND_MAX at most
 * (stats.blind counts them all).
 */
char *tls_source_blind_json(struct tls_source *ts);

#endif /* FLOE_SOURCE_TLS_SOURCE_H */
