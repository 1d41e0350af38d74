/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap: one tap session, shared by `floe tap` (local mode, in-process) and `floe-agent`.
 * Resolves the scope to pods, loads and attaches the capture programs, drains records into
 * the PCAP store, follows pods that come and go, and reports what it captured and dropped.
 */
#ifndef FLOE_TAP_H
#define FLOE_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api/agent_api.h"

struct tap_options {
	const char *pod_regex;  /* POD REGEX, may be NULL */
	const char *namespaces; /* -n, comma-separated, may be NULL */
	bool all_namespaces;    /* -A */
	bool dryrun;
	bool debug;
	bool compress;           /* zstd for closed segments */
	bool history;            /* keep every entry in the store (default; --no-history) */
	uint64_t storage_limit;  /* bytes */
	uint64_t ringbuf_bytes;
	uint32_t snaplen;
	uint32_t segment_seconds;
	double duration;         /* seconds; 0: until SIGINT/SIGTERM */
	const char *store_dir;
	const char *store_group; /* --store-group: may read the store; NULL: owner only */
	const char *inventory;
	const char *netns_dir;
	/* Kubernetes mode (docs/kubernetes.md): --kubeconfig, or --k8s's $KUBECONFIG or
	 * ~/.kube/config; NULL: in-cluster when this runs in a pod with a service account, else
	 * local mode. */
	const char *kubeconfig;
	const char *node; /* --node; NULL: $NODE_NAME, else this host's name */
	bool all_nodes;   /* --all-nodes: pods of every node */
	char kubeconfig_default[4096]; /* --k8s: the path kubeconfig points at */
	const char *state_dir;
	const char *stats_json;  /* may be NULL */
	const char *pcap_file;   /* --pcap: replay this capture instead of tapping (replay.h) */
	/* Entries, live: dissect the tapped traffic and print entries to out. */
	bool entries;            /* --entries (text) or --json */
	bool entries_json;       /* --json */
	const char *filter;      /* --filter: only matching entries are printed */
	uint64_t body_max;       /* --body-max; 0: default */
	uint64_t dissect_queue;  /* --dissect-queue: bytes of packets waiting; 0: default */
	uint64_t dissect_memory; /* --dissect-memory: the engine's memory budget; 0: default */
	/* --name-history: names of gone pods and former services kept for entries (spans,
	 * name_resolver.h); 0: NAME_RESOLVER_HISTORY_DEFAULT */
	size_t name_history;
	bool tls;                /* --tls (default): TLS plaintext through uprobes (docs/tls.md) */
	/* The agent's API (entry history, live entries, PCAP, stats) while the tap runs: called
	 * once it is ready and once before it goes (the gRPC transport serves it). */
	void (*agent_started)(const struct agent_api *api, void *ctx);
	void (*agent_stopping)(const struct agent_api *api, void *ctx);
	void *agent_ctx;
	/* --listen HOST:PORT: serve the agent's API to a hub (floe-agent: agent/main.c, gRPC);
	 * --agent-token (default $FLOE_AGENT_TOKEN): the token a hub must send */
	const char *listen;
	const char *agent_token;
};

/* Defaults for every field. */
void tap_options_init(struct tap_options *o);

/*
 * Parse `tap` arguments (argv[0] is the command name). Returns 0, 1 when help was printed
 * to out, or -EINVAL with a message in err (unknown flag, bad value).
 */
int tap_options_parse(int argc, char **argv, struct tap_options *o, FILE *out, char *err,
		      size_t errlen);

/* "200MB", "64KiB", "1G", "4096" → bytes (K/M/G/T, with or without "iB"/"B", all binary). */
int parse_size(const char *s, uint64_t *out);

/* Run until SIGINT/SIGTERM or the duration. Returns a process exit code. The pod table of
 * --dryrun goes to out, progress and the summary to log. */
int tap_run(const struct tap_options *o, FILE *out, FILE *log);

/* A new run id: 16 random hex digits (entry ids start with it; docs/entries.md). */
void tap_new_run_id(char out[24]);

/* Parse argv and run: the whole of `floe tap` and `floe-agent`. prog prefixes messages. */
int tap_main(const char *prog, int argc, char **argv);

#endif /* FLOE_TAP_H */
