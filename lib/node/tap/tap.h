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
#include <getopt.h>
#include <stdio.h>

#include "api/agent_api.h"
#include "source/tls_source.h"

struct config;
struct trigger_set;

/*
 * A service started beside the tap once its agent_api (entry history, live entries, PCAP,
 * stats) is ready, and stopped before the API goes: the gRPC transport of floe-agent, the
 * in-process hub of `floe tap`, triggers, scripts. Each runs on its own threads and reads
 * entries only through the API (follow with a KFL filter), so a slow or failing service never
 * holds up capture. start returns 0, or -1 with a message in err: the tap then stops (exit 1).
 */
struct tap_service {
	const char *name; /* in messages: "floe: NAME: ERR" */
	int (*start)(const struct agent_api *api, void *ctx, char *err, size_t errlen);
	void (*stop)(void *ctx); /* only after a start that returned 0 */
	void *ctx;
	/* Optional, after the tap's last entry and before its statistics are written (the
	 * service still runs): finish pending work, print summary lines to log. */
	void (*finish)(void *ctx, FILE *log);
	/* Optional: the service's statistics, a JSON object text (malloc'ed, or NULL), placed
	 * under stats_key in --stats-json and in the agent's stats call. */
	char *(*stats_json)(void *ctx);
	const char *stats_key;
	/* Others reach the tap's data through it while it runs (a hub, a listener): `floe tap
	 * --pcap` keeps serving the replayed capture until stopped only when one of these runs. */
	bool serves;
};

#define TAP_SERVICES_MAX 8

/*
 * A packet observer (the scripts' onPacket, docs/scripting.md): called on the capture's drain
 * thread for every frame, after it went to the store. It must not block nor take long: copy
 * what it needs into a bounded queue and count what does not fit.
 */
struct tap_packet_hook {
	void (*fn)(void *ctx, int linktype, const uint8_t *data, uint32_t cap_len,
		   uint32_t wire_len, uint64_t ts_ns);
	void *ctx;
};

struct tap_options {
	const char *pod_regex;  /* POD REGEX, may be NULL */
	const char *namespaces; /* -n, comma-separated, may be NULL */
	bool all_namespaces;    /* -A */
	bool dryrun;
	bool debug;
	bool compress;           /* zstd for closed segments */
	int zstd_level;          /* their zstd level (--zstd-level; negative: zstd's fast levels) */
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
	size_t pods_max;  /* --max-pods; 0: K8S_PODS_MAX_DEFAULT */
	const char *selector; /* -l/--selector: a label selector (the API server's syntax) */
	/* --names-all-nodes (default true): with entries, the pods the tap does not follow are
	 * watched for their names (pod_source_k8s_config.names_all_nodes) */
	bool names_all_nodes;
	size_t page_limit; /* --chunk-size: items a LIST page asks for; 0: 500 */
	/* The configuration file read (tap_config_parse; NULL: none) and the command line it was
	 * merged with: the tap reads the file again when it changes, for its scope (POD REGEX,
	 * -n, -A, -l), which applies at run time (docs/kubernetes.md, "Changing the scope"). */
	const char *config_file;
	int argc0;
	char **argv0;
	char kubeconfig_default[4096]; /* --k8s: the path kubeconfig points at */
	const char *state_dir;
	const char *stats_json;  /* may be NULL */
	const char *pcap_file;   /* --pcap: replay this capture instead of tapping (replay.h) */
	/* Entries, live: dissect the tapped traffic and print entries to out. */
	bool entries;            /* --entries (text) or --json */
	bool entries_json;       /* --json */
	const char *filter;      /* --filter: only matching entries are printed */
	/* --no-capture-scope: --filter's pushdown is not loaded into the kernel (every packet
	 * of the tapped pods is recorded) */
	bool no_capture_scope;
	/* --no-flow-verdicts: packets of TCP flows no dissector recognised are still queued
	 * whole for dissection (dissect/flow_verdict.h) */
	bool no_flow_verdicts;
	uint64_t body_max;       /* --body-max; 0: default */
	uint64_t dissect_queue;  /* --dissect-queue: bytes of packets waiting; 0: default */
	/* --queue-memory: one budget for the dissection queue, the store's chunks and the
	 * history's buffers together; 0: QUEUE_BUDGET_DEFAULT */
	uint64_t queue_memory;
	uint64_t dissect_memory; /* --dissect-memory: the engine's memory budget; 0: default */
	/* --name-history: names of gone pods and former services kept for entries (spans,
	 * name_resolver.h); 0: NAME_RESOLVER_HISTORY_DEFAULT */
	size_t name_history;
	/* --dns-names: addresses named by DNS answers kept (name_resolver.h); 0:
	 * NAME_RESOLVER_DNS_DEFAULT */
	size_t dns_names;
	bool tls;                /* --tls (default): TLS plaintext through uprobes (docs/tls.md) */
	/* --servicemesh (default): loopback TLS hops inside a pod (app <-> sidecar) not read */
	bool servicemesh;
	/* --tls-unprobe-after: seconds a probed file may go without a user before its probes go */
	double tls_unprobe_after;
	/* --tls-probe-sites first: probes on the functions' first instructions (tls_source.h) */
	bool tls_probe_first_insn;
	/* --tls-pid-probes: processes a TLS file is probed for one by one (0: for all at once) */
	unsigned tls_pid_probes;
	/* --tls-attach: perf uprobes or uprobe_multi links (auto: the latter where they work) */
	enum tls_attach tls_attach;
	bool tls_pcap;           /* --tls-pcap (default): and into the store as synthetic packets */
	/* Services over the agent's API while the tap runs, started in this order once it is
	 * ready and stopped in reverse before it goes (tap_options_add_service). */
	struct tap_service services[TAP_SERVICES_MAX];
	size_t n_services;
	/* --listen HOST:PORT: serve the agent's API to a hub (floe-agent: agent/main.c, gRPC);
	 * --agent-token (default $FLOE_AGENT_TOKEN): the token a hub must send */
	const char *listen;
	const char *agent_token;
	/* --metrics HOST:PORT: floe-agent serves GET /metrics there (agent/metrics_http.c) */
	const char *metrics;
	/* --agent-name: the name the agent gives itself (info, each entry's `agent`); NULL: this
	 * host's name */
	const char *agent_name;
	/* The hub in-process (`floe tap` only; docs/hub.md, "floe tap serves the hub"): the API
	 * on --proxy-host (NULL: 127.0.0.1) and --proxy-hub-port (-1: not given, 8898; 0: any
	 * free port), the UI (and the API) on --proxy-front-port (-1: not given, 8899; 0: none);
	 * --no-hub turns it off. floe-agent refuses the --proxy-* flags. */
	const char *proxy_host;
	int proxy_hub_port;
	int proxy_front_port;
	bool no_hub;
	bool no_redact; /* --no-redact: the hub serves authorization/cookie values as captured */
	bool redact;    /* --redact: floe-agent masks them in what it serves to hubs */
	/* Scripts (docs/scripting.md, lib/node/script): --scripting-source DIR of *.js,
	 * --scripting-watch (default true), --scripting-cpu-ms (CPU time per call, default
	 * 1000), --scripting-memory (heap per script, default 64MiB), --scripting-metrics FILE */
	const char *scripting_source;
	bool scripting_watch;
	uint32_t scripting_cpu_ms;
	uint64_t scripting_memory;
	const char *scripting_metrics;
	struct tap_packet_hook packet_hook; /* fn NULL: none */
};

/* Defaults for every field. */
void tap_options_init(struct tap_options *o);

/* Append a service (copied); -1 when TAP_SERVICES_MAX are there already. */
int tap_options_add_service(struct tap_options *o, const struct tap_service *svc);

/* Start o's services in order over api. On a failure the ones started are stopped again, the
 * failure is printed to log ("floe: NAME: ERR") and -1 returned; else the count started. */
int tap_services_start(const struct tap_options *o, const struct agent_api *api, FILE *log);

/* Whether one of the first n services serves others (tap_service.serves). */
bool tap_services_serve(const struct tap_options *o, size_t n);

/* Stop the first n services (the count tap_services_start returned) in reverse order. */
void tap_services_stop(const struct tap_options *o, size_t n);

/*
 * Parse `tap` arguments (argv[0] is the command name). Returns 0, 1 when help was printed
 * to out, or -EINVAL with a message in err (unknown flag, bad value).
 */
int tap_options_parse(int argc, char **argv, struct tap_options *o, FILE *out, char *err,
		      size_t errlen);

/* The getopt flags of `floe tap` / `floe-agent` (config files use their long names). */
const struct option *tap_flags(void);

/* One flag's value checked as the command line would (config.h, config_check_fn). */
int tap_option_check(const char *name, const char *val, char *err, size_t errlen);

/* What the configuration file (lib/node/config) adds to a tap: owned until tap_config_free. */
struct tap_config {
	struct config *config;
	int argc; /* the command line with the file's and --set's flags in front */
	char **argv;
	struct trigger_set *triggers; /* NULL: none configured */
};

/*
 * --config-path, --set and the flags into o (precedence: file < --set < flags), and the
 * configured triggers added to o's services. Returns as tap_options_parse does; tc is to be
 * freed with tap_config_free whatever the result, after tap_run.
 */
int tap_config_parse(int argc, char **argv, struct tap_options *o, struct tap_config *tc,
		     FILE *out, char *err, size_t errlen);
void tap_config_free(struct tap_config *tc);

/*
 * The options as the configuration file (read again now) and the command line argc/argv give
 * them, parsed into o (from its defaults); nothing else is made (no trigger, no script). o's
 * strings point into *argv_out: config_argv_free(*argc_out, *argv_out) after use. Returns 0 or
 * -EINVAL with a message in err.
 */
int tap_options_reread(int argc, char **argv, struct tap_options *o, int *argc_out,
		       char ***argv_out, char *err, size_t errlen);

/*
 * tap_config_parse for a command named prog: -1 to go on (tc to be freed by the caller);
 * else the exit code, with tc freed: 0 after --help, 2 after an error said on stderr.
 */
int tap_config_begin(const char *prog, int argc, char **argv, struct tap_options *o,
		     struct tap_config *tc);

/* `floe config [flags]`: the effective configuration as YAML on stdout. */
int config_main(const char *prog, int argc, char **argv);

/* "200MB", "64KiB", "1G", "4096" → bytes (K/M/G/T, with or without "iB"/"B", all binary). */
int parse_size(const char *s, uint64_t *out);

/* Run until SIGINT/SIGTERM or the duration. Returns a process exit code. The pod table of
 * --dryrun goes to out, progress and the summary to log. */
int tap_run(const struct tap_options *o, FILE *out, FILE *log);

/* A new run id: 16 random hex digits (entry ids start with it; docs/entries.md). */
void tap_new_run_id(char out[24]);

#endif /* FLOE_TAP_H */
