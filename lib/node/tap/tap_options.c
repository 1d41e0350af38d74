// SPDX-License-Identifier: Apache-2.0
#include "tap/tap.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zstd.h>

#include "config/config.h"
#include "dissect/engine.h"
#include "entry/json_alloc.h"
#include "pods/k8s_config.h"
#include "pods/name_resolver.h"
#include "pods/pod_source.h"
#include "pods/pods_local.h"
#include "script/script_service.h"
#include "floe_record.h"
#include "trigger/trigger.h"

void tap_options_init(struct tap_options *o)
{
	memset(o, 0, sizeof(*o));
	o->compress = true;
	/* zstd's fast level -1: on live.sh's segments as small as level 1's, ~20% less CPU
	 * (docs/storage.md, "Compression levels") */
	o->zstd_level = -1;
	o->tls = true;
	o->servicemesh = true;
	o->tls_unprobe_after = 30;
	o->tls_pcap = true;
	o->history = true;
	o->agent_token = getenv("FLOE_AGENT_TOKEN");
	o->storage_limit = 200ull << 20;
	o->ringbuf_bytes = 32ull << 20;
	o->snaplen = 65535;
	o->segment_seconds = 60;
	o->store_dir = "/var/lib/floe/store";
	o->inventory = getenv("FLOE_INVENTORY") ? getenv("FLOE_INVENTORY") : "/etc/floe/inventory";
	o->netns_dir = "/run/netns";
	o->state_dir = "/run/floe";
	o->proxy_front_port = -1;
	o->proxy_hub_port = -1;
	o->scripting_watch = true;
	o->names_all_nodes = true;
	o->scripting_cpu_ms = 1000;
	o->scripting_memory = 64ull << 20;
}

int parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
	    {"", 0},	 {"b", 0},  {"k", 10},	{"kb", 10},  {"kib", 10}, {"m", 20},  {"mb", 20},
	    {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},	  {"tb", 40}, {"tib", 40},
	};
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*out = (uint64_t)v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

static void print_help(FILE *out)
{
	fputs(
	    "Usage: floe tap [POD REGEX] [flags]\n"
	    "\n"
	    "Capture the traffic of the pods of this host whose name matches POD REGEX\n"
	    "(an unanchored extended regular expression; all pods when omitted).\n"
	    "\n"
	    "Flags:\n"
	    "  -n, --namespaces NS,...    namespaces to tap (default: \"default\")\n"
	    "  -A, --allnamespaces        tap all namespaces\n"
	    "      --dryrun               list the pods that match, without tapping them\n"
	    "      --storagelimit SIZE    limit of the PCAP store on disk (default 200MB)\n"
	    "  -d, --debug                debug output\n"
	    "      --store DIR            PCAP store directory (default /var/lib/floe/store;\n"
	    "                             mode 0700, files 0600: only floe's user reads it)\n"
	    "      --store-group GROUP    let GROUP read the store (directory 0750, files 0640)\n"
	    "      --inventory FILE       local mode: pod → namespace inventory\n"
	    "                             (default $FLOE_INVENTORY or /etc/floe/inventory)\n"
	    "      --netns-dir DIR        local mode: named network namespaces (default "
	    "/run/netns)\n"
	    "      --kubeconfig FILE      Kubernetes mode: the API server and credentials of\n"
	    "                             FILE (default: local mode, or in-cluster when run in a\n"
	    "                             pod with a service account; docs/kubernetes.md)\n"
	    "      --k8s                  Kubernetes mode with $KUBECONFIG or ~/.kube/config\n"
	    "      --node NAME            Kubernetes mode: the node whose pods are tapped\n"
	    "                             (default $NODE_NAME, else this host's name)\n"
	    "      --all-nodes            Kubernetes mode: pods of every node (only those wired\n"
	    "                             to this host can be tapped)\n"
	    "      --max-pods N           Kubernetes mode: pods followed at most (default 65536;\n"
	    "                             1.2KB each; past it a pod is said, not followed)\n"
	    "      --chunk-size N         Kubernetes mode: items a LIST page asks for (default\n"
	    "                             500, as kubectl's --chunk-size)\n"
	    "  -l, --selector SEL         Kubernetes mode: only pods whose labels match SEL\n"
	    "                             (kubectl's syntax: app=web,tier!=db,env in (a,b))\n"
	    "      --names-all-nodes[=true|false]  Kubernetes mode, with entries: also watch\n"
	    "                             the other pods (other nodes') for their names\n"
	    "                             (default true)\n"
	    "      --snaplen N            bytes kept of each packet (default 65535)\n"
	    "      --ringbuffer SIZE      kernel ring buffer size (default 32MB)\n"
	    "      --segment-seconds N    close a PCAP segment after N seconds (default 60)\n"
	    "      --no-compress          keep closed segments uncompressed\n"
	    "      --zstd-level N         zstd level of closed segments: 1..22, or -1..-7 for\n"
	    "                             zstd's fast levels (default -1)\n"
	    "  -p, --pcap FILE            replay a capture (pcap/pcapng, Ethernet) into the store\n"
	    "                             and the entry history instead of tapping\n"
	    "      --no-history           keep no entry history (by default every entry is kept\n"
	    "                             in the store's entries/, 1/8 of --storagelimit)\n"
	    "      --duration SECONDS     stop after this long (default: until Ctrl-C)\n"
	    "      --stats-json FILE      write the final counters as JSON\n"
	    "      --entries              print request/response entries as the pods talk\n"
	    "      --json                 the same, one JSON object per line (docs/entries.md)\n"
	    "      --filter QUERY         print only entries matching the KFL query ('http and\n"
	    "                             response.status >= 500'; docs/kfl.md); its pod,\n"
	    "                             namespace, ip and port terms narrow what the kernel\n"
	    "                             records (docs/capture.md, \"Capture scope\")\n"
	    "      --no-capture-scope     record every packet of the tapped pods whatever\n"
	    "                             --filter says\n"
	    "      --body-max SIZE        body bytes kept per message in entries (default 64KiB)\n"
	    "      --queue-memory SIZE    memory of the queues together: packets waiting for\n"
	    "                             the dissection thread, for the store's writer, and\n"
	    "                             entries for the history's (default 16MiB, at least\n"
	    "                             8MiB; each has a floor, the rest is shared; when it\n"
	    "                             is used up a queue does what it does when full,\n"
	    "                             counted; docs/storage.md)\n"
	    "      --no-flow-verdicts     queue every packet whole for dissection, also those\n"
	    "                             of TCP flows no dissector recognised (by default\n"
	    "                             their payload is left out; docs/capture.md)\n"
	    "      --dissect-queue SIZE   packets waiting for the dissection thread, at most,\n"
	    "                             within --queue-memory (default 8MiB; when full, the\n"
	    "                             drain waits while the ring buffer is under half\n"
	    "                             full, then packets are stored but not dissected, and\n"
	    "                             counted)\n"
	    "      --dissect-memory SIZE  memory for dissection state (buffers, partial\n"
	    "                             messages, waiting requests, held segments) of all\n"
	    "                             connections together (default 256MiB, at least 4MiB);\n"
	    "                             past it the least recently active connections are\n"
	    "                             evicted and counted (docs/reassembly.md, \"Memory\")\n"
	    "      --name-history N       names of gone pods and former services kept for the\n"
	    "                             entries captured while they were (default 16384)\n"
	    "      --dns-names N          addresses named by the DNS answers floe sees, kept\n"
	    "                             at most (default 65536; docs/dns-names.md)\n"
	    "      --tls[=true|false]     read the TLS traffic of tapped pods in plaintext "
	    "through\n"
	    "                             uprobes on OpenSSL (default true; docs/tls.md)\n"
	    "      --tls-unprobe-after SECONDS  a TLS library or Go program no tapped process\n"
	    "                             has used for this long is unprobed (default 30)\n"
	    "      --tls-probe-sites cheap|first  where in SSL_read & co the probes sit: where\n"
	    "                             the kernel emulates the instruction (default cheap), or\n"
	    "                             the first instruction (docs/tls.md)\n"
	    "      --tls-pid-probes N     probe a TLS library for each tapped process using it,\n"
	    "                             up to N of them, so other processes on it are not\n"
	    "                             trapped (default 0: for every process; docs/tls.md)\n"
	    "      --tls-attach auto|perf|multi  how the uprobes go on: one uprobe_multi link\n"
	    "                             per program of a file (Linux >= 6.6; detached in one\n"
	    "                             grace period), one perf uprobe per probe point, or\n"
	    "                             (auto, default) multi where the kernel has it and\n"
	    "                             --tls-pid-probes is 0 (docs/tls.md)\n"
	    "      --servicemesh[=true|false]  pods with a sidecar proxy (mTLS): read the\n"
	    "                             sidecar's TLS, not the app<->sidecar loopback hop when\n"
	    "                             that is TLS too, so each request once, with the pods'\n"
	    "                             own endpoints (default true; docs/tls.md)\n"
	    "      --tls-pcap[=true|false] and keep that plaintext in the store as synthetic\n"
	    "                             TCP packets (floe pcap export --tls-plaintext;\n"
	    "                             default true; docs/tls.md)\n"
	    "      --listen HOST:PORT     floe-agent: serve entries, PCAP and statistics to a hub\n"
	    "                             over gRPC (docs/hub.md); needs the entry history\n"
	    "      --agent-token TOKEN    the token a hub must send (default $FLOE_AGENT_TOKEN)\n"
	    "      --metrics HOST:PORT    floe-agent: serve GET /metrics (Prometheus text) there;\n"
	    "                             HOST may be empty (127.0.0.1); needs --agent-token's\n"
	    "                             token as a bearer token when there is one (docs/hub.md)\n"
	    "      --agent-name NAME      the agent's name, on every entry the hub serves\n"
	    "                             (`agent`; default this host's name)\n"
	    "      --proxy-host ADDR      floe tap: the hub's API and UI listen here (default\n"
	    "                             127.0.0.1: this host only; docs/hub.md)\n"
	    "      --proxy-hub-port N     floe tap: the hub's HTTP API (default 8898; 0: any\n"
	    "                             free port, printed)\n"
	    "      --proxy-front-port N   floe tap: the web UI, which serves the API too\n"
	    "                             (default 8899; 0: none, the UI is on the hub port)\n"
	    "      --no-hub               floe tap: do not start the hub\n"
	    "      --no-redact            floe tap: the hub serves authorization and cookie\n"
	    "                             header values as captured (masked by default)\n"
	    "      --redact               floe-agent: mask those values in the entries it serves\n"
	    "                             to hubs, whatever the hub does (docs/hub.md)\n"
	    "      --scripting-source DIR JavaScript scripts (*.js) run beside the tap on its\n"
	    "                             entries (docs/scripting.md)\n"
	    "      --scripting-watch[=true|false]  reload a script when its file changes\n"
	    "                             (default true)\n"
	    "      --scripting-cpu-ms N   CPU time of one script call, at most (default 1000)\n"
	    "      --scripting-memory SIZE  heap of one script, at most (default 64MiB)\n"
	    "      --scripting-metrics FILE  write the scripts' metrics there (Prometheus text)\n"
	    "      --config-path FILE     the configuration file (default ~/.floe/config.yaml,\n"
	    "                             may be absent): a tap: section with any flag by its\n"
	    "                             long name, triggers: (docs/config.md, docs/triggers.md)\n"
	    "  -s, --set KEY=VALUE        set a configuration key: tap.storagelimit=1GB, any\n"
	    "                             tap.FLAG; overrides the file, flags override both\n"
	    "  -h, --help                 this help\n",
	    out);
}

enum {
	OPT_DRYRUN = 256,
	OPT_TLS,
	OPT_SERVICEMESH,
	OPT_TLS_PCAP,
	OPT_STORAGELIMIT,
	OPT_STORE,
	OPT_INVENTORY,
	OPT_NETNS_DIR,
	OPT_SNAPLEN,
	OPT_RINGBUFFER,
	OPT_SEGMENT_SECONDS,
	OPT_NO_COMPRESS,
	OPT_ZSTD_LEVEL,
	OPT_DURATION,
	OPT_TLS_UNPROBE_AFTER,
	OPT_TLS_PROBE_SITES,
	OPT_TLS_PID_PROBES,
	OPT_TLS_ATTACH,
	OPT_STATS_JSON,
	OPT_STATE_DIR,
	OPT_ENTRIES,
	OPT_JSON,
	OPT_FILTER,
	OPT_BODY_MAX,
	OPT_DISSECT_QUEUE,
	OPT_QUEUE_MEMORY,
	OPT_STORE_GROUP,
	OPT_DISSECT_MEMORY,
	OPT_NAME_HISTORY,
	OPT_DNS_NAMES,
	OPT_KUBECONFIG,
	OPT_K8S,
	OPT_NODE,
	OPT_ALL_NODES,
	OPT_MAX_PODS,
	OPT_CHUNK_SIZE,
	OPT_NO_HISTORY,
	OPT_PCAP,
	OPT_LISTEN,
	OPT_AGENT_TOKEN,
	OPT_METRICS,
	OPT_CONFIG_PATH,
	OPT_PROXY_HOST,
	OPT_PROXY_FRONT_PORT,
	OPT_NO_HUB,
	OPT_NO_REDACT,
	OPT_REDACT,
	OPT_NO_CAPTURE_SCOPE,
	OPT_NO_FLOW_VERDICTS,
	OPT_PROXY_HUB_PORT,
	OPT_AGENT_NAME,
	OPT_SCRIPTING_SOURCE,
	OPT_SCRIPTING_WATCH,
	OPT_SCRIPTING_CPU_MS,
	OPT_SCRIPTING_MEMORY,
	OPT_SCRIPTING_METRICS,
	OPT_NAMES_ALL_NODES,
	OPT_LATER,
};

/* --NAME[=true|false]: no value is true. -1 (said in err) for anything else. */
static int bool_flag(const char *name, const char *val, bool *out, char *err, size_t errlen)
{
	if (!val || !strcmp(val, "true"))
		*out = true;
	else if (!strcmp(val, "false"))
		*out = false;
	else {
		snprintf(err, errlen, "--%s=%s: expected true or false", name, val);
		return -1;
	}
	return 0;
}

/* A size in min..max (a size, then its range, each with its own message). */
static int size_in(const char *name, const char *val, uint64_t min, const char *min_text,
		   uint64_t max, const char *max_text, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_size(val, &v) < 0) {
		snprintf(err, errlen, "--%s: invalid size '%s' (examples: 200MB, 64KiB, 1G)", name,
			 val);
		return -EINVAL;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "--%s: %s is out of range: at least %s, at most %s", name, val,
			 min_text, max_text);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Apply one option by its long name; shared by the flags and by --set tap.NAME=VALUE. */
static int apply(struct tap_options *o, int opt, const char *name, const char *val, char *err,
		 size_t errlen)
{
	uint64_t n;
	char *end;

	switch (opt) {
	case OPT_STORAGELIMIT:
		/* the smallest store that holds an active segment and one being compressed */
		return size_in(name, val, 64u << 10, "64KiB", UINT64_MAX, "any", &o->storage_limit,
			       err, errlen);
	case OPT_RINGBUFFER:
		return size_in(name, val, 1, "1", 1ull << 31, "2GiB", &o->ringbuf_bytes, err,
			       errlen);
	case OPT_SNAPLEN:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n < 64 || n > FLOE_MAX_SNAPLEN) {
			snprintf(err, errlen, "--snaplen: expected 64..%u, got '%s'",
				 FLOE_MAX_SNAPLEN, val);
			return -EINVAL;
		}
		o->snaplen = (uint32_t)n;
		return 0;
	case OPT_SEGMENT_SECONDS:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n > 86400) {
			snprintf(err, errlen, "--segment-seconds: expected 0..86400, got '%s'",
				 val);
			return -EINVAL;
		}
		o->segment_seconds = (uint32_t)n;
		return 0;
	case OPT_ZSTD_LEVEL: {
		/* zstd takes fast levels down to -131072; -1..-7 is the range measured on live.sh's
		 * segments (docs/storage.md). 0 would be zstd's "default" (3): say the level. */
		long v = strtol(val, &end, 10);

		if (*val == '\0' || *end || v < -7 || v > ZSTD_maxCLevel() || v == 0) {
			snprintf(err, errlen, "--zstd-level: expected 1..%d or -1..-7, got '%s'",
				 ZSTD_maxCLevel(), val);
			return -EINVAL;
		}
		o->zstd_level = (int)v;
		return 0;
	}
	case OPT_DURATION:
		/* 0 would stop at once (it meant "no limit" before: that is leaving it out) */
		o->duration = strtod(val, &end);
		if (*val == '\0' || *end || !isfinite(o->duration) || o->duration <= 0) {
			snprintf(err, errlen,
				 "--duration: expected seconds greater than 0, got '%s' (leave it "
				 "out to run until stopped)",
				 val);
			return -EINVAL;
		}
		return 0;
	case OPT_TLS_UNPROBE_AFTER:
		o->tls_unprobe_after = strtod(val, &end);
		if (*val == '\0' || *end || !isfinite(o->tls_unprobe_after) ||
		    o->tls_unprobe_after < 0 || o->tls_unprobe_after > 86400) {
			snprintf(err, errlen,
				 "--tls-unprobe-after: expected seconds from 0 to 86400, got '%s'",
				 val);
			return -EINVAL;
		}
		return 0;
	case OPT_TLS_PROBE_SITES:
		if (strcmp(val, "cheap") && strcmp(val, "first")) {
			snprintf(err, errlen, "--tls-probe-sites: expected cheap or first, got '%s'",
				 val);
			return -EINVAL;
		}
		o->tls_probe_first_insn = !strcmp(val, "first");
		return 0;
	case OPT_TLS_ATTACH:
		if (!strcmp(val, "auto"))
			o->tls_attach = TLS_ATTACH_AUTO;
		else if (!strcmp(val, "perf"))
			o->tls_attach = TLS_ATTACH_PERF;
		else if (!strcmp(val, "multi"))
			o->tls_attach = TLS_ATTACH_MULTI;
		else {
			snprintf(err, errlen,
				 "--tls-attach: expected auto, perf or multi, got '%s'", val);
			return -EINVAL;
		}
		return 0;
	case OPT_TLS_PID_PROBES: {
		unsigned long n = strtoul(val, &end, 10);

		if (*val == '\0' || *val == '-' || *end || n > 4096) {
			snprintf(err, errlen,
				 "--tls-pid-probes: expected 0 to 4096 processes, got '%s'", val);
			return -EINVAL;
		}
		o->tls_pid_probes = (unsigned)n;
		return 0;
	}
	case OPT_STORE:
		o->store_dir = val;
		return 0;
	case OPT_STORE_GROUP:
		o->store_group = *val ? val : NULL;
		return 0;
	case OPT_INVENTORY:
		/* Named on purpose, it must be there: only the default may be missing
		 * (docs/local-mode.md, "The inventory file"). */
		if (access(val, R_OK) < 0) {
			snprintf(err, errlen, "--inventory: cannot read '%s': %s", val,
				 strerror(errno));
			return -EINVAL;
		}
		o->inventory = val;
		return 0;
	case OPT_NETNS_DIR:
		o->netns_dir = val;
		return 0;
	case OPT_KUBECONFIG:
		if (access(val, R_OK) < 0) {
			snprintf(err, errlen, "--kubeconfig: cannot read '%s': %s", val,
				 strerror(errno));
			return -EINVAL;
		}
		o->kubeconfig = val;
		return 0;
	case OPT_NODE:
		if (!*val || strlen(val) > FLOE_NODE_NAME_MAX) {
			snprintf(err, errlen, "--node: expected a node name (1 to %d characters)",
				 FLOE_NODE_NAME_MAX);
			return -EINVAL;
		}
		o->node = val;
		return 0;
	case OPT_STATE_DIR:
		o->state_dir = val;
		return 0;
	case OPT_STATS_JSON:
		o->stats_json = val;
		return 0;
	case OPT_FILTER:
		o->filter = val;
		return 0;
	case OPT_BODY_MAX:
		return size_in(name, val, 0, "0", 1ull << 30, "1GiB", &o->body_max, err, errlen);
	case OPT_DISSECT_QUEUE:
		return size_in(name, val, 64u << 10, "64KiB", 4ull << 30, "4GiB", &o->dissect_queue,
			       err, errlen);
	case OPT_QUEUE_MEMORY:
		return size_in(name, val, 8u << 20, "8MiB", 1ull << 40, "1TiB", &o->queue_memory,
			       err, errlen);
	case OPT_DISSECT_MEMORY:
		return size_in(name, val, DISSECT_MIN_MEMORY, "4MiB", 1ull << 40, "1TiB",
			       &o->dissect_memory, err, errlen);
	case OPT_AGENT_NAME:
		/* A name for entries and URLs: letters, digits, '.', '_', '-' (a host name's). */
		if (!*val || strlen(val) > 63 || strspn(val, "abcdefghijklmnopqrstuvwxyz"
							 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							 "0123456789._-") != strlen(val)) {
			snprintf(err, errlen,
				 "--agent-name: expected 1 to 63 letters, digits, '.', '_' or '-', "
				 "got '%s'",
				 val);
			return -EINVAL;
		}
		o->agent_name = val;
		return 0;
	case OPT_PROXY_HOST:
		if (!*val) {
			snprintf(err, errlen, "--proxy-host: expected an address");
			return -EINVAL;
		}
		o->proxy_host = val;
		return 0;
	case OPT_PROXY_FRONT_PORT:
	case OPT_PROXY_HUB_PORT:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n > 65535) {
			snprintf(err, errlen, "--%s: expected 0..65535 (0: %s), got '%s'", name,
				 opt == OPT_PROXY_HUB_PORT ? "any free port" : "none", val);
			return -EINVAL;
		}
		if (opt == OPT_PROXY_HUB_PORT)
			o->proxy_hub_port = (int)n;
		else
			o->proxy_front_port = (int)n;
		return 0;
	case OPT_SCRIPTING_SOURCE:
		o->scripting_source = val;
		return 0;
	case OPT_SCRIPTING_METRICS:
		o->scripting_metrics = val;
		return 0;
	case OPT_SCRIPTING_MEMORY:
		return size_in(name, val, 1u << 20, "1MiB", 4ull << 30, "4GiB",
			       &o->scripting_memory, err, errlen);
	case OPT_SCRIPTING_CPU_MS:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n < 1 || n > 600000) {
			snprintf(err, errlen, "--scripting-cpu-ms: expected 1..600000, got '%s'",
				 val);
			return -EINVAL;
		}
		o->scripting_cpu_ms = (uint32_t)n;
		return 0;
	case OPT_NAME_HISTORY:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n < 1 || n > 100000000) {
			snprintf(err, errlen, "--name-history: expected 1..100000000, got '%s'",
				 val);
			return -EINVAL;
		}
		o->name_history = (size_t)n;
		return 0;
	case OPT_DNS_NAMES:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n < 1 || n > NAME_RESOLVER_DNS_MAX) {
			snprintf(err, errlen, "--dns-names: expected 1..%u, got '%s'",
				 NAME_RESOLVER_DNS_MAX, val);
			return -EINVAL;
		}
		o->dns_names = (size_t)n;
		return 0;
	case OPT_MAX_PODS:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n < 1 || n > K8S_PODS_MAX_LIMIT) {
			snprintf(err, errlen, "--max-pods: expected 1..%u, got '%s'",
				 K8S_PODS_MAX_LIMIT, val);
			return -EINVAL;
		}
		o->pods_max = (size_t)n;
		return 0;
	case OPT_CHUNK_SIZE:
		n = strtoull(val, &end, 10);
		if (*val == '\0' || *end || n < 1 || n > K8S_PAGE_LIMIT_MAX) {
			snprintf(err, errlen, "--chunk-size: expected 1..%u, got '%s'",
				 K8S_PAGE_LIMIT_MAX, val);
			return -EINVAL;
		}
		o->page_limit = (size_t)n;
		return 0;
	}
	snprintf(err, errlen, "unknown option '%s'", name);
	return -EINVAL;
}

static const struct option long_opts[] = {
    {"namespaces", required_argument, NULL, 'n'},
    {"allnamespaces", no_argument, NULL, 'A'},
    {"dryrun", no_argument, NULL, OPT_DRYRUN},
    {"storagelimit", required_argument, NULL, OPT_STORAGELIMIT},
    {"debug", no_argument, NULL, 'd'},
    {"store", required_argument, NULL, OPT_STORE},
    {"store-group", required_argument, NULL, OPT_STORE_GROUP},
    {"inventory", required_argument, NULL, OPT_INVENTORY},
    {"netns-dir", required_argument, NULL, OPT_NETNS_DIR},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"k8s", no_argument, NULL, OPT_K8S},
    {"node", required_argument, NULL, OPT_NODE},
    {"all-nodes", no_argument, NULL, OPT_ALL_NODES},
    {"max-pods", required_argument, NULL, OPT_MAX_PODS},
    {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"snaplen", required_argument, NULL, OPT_SNAPLEN},
    {"ringbuffer", required_argument, NULL, OPT_RINGBUFFER},
    {"segment-seconds", required_argument, NULL, OPT_SEGMENT_SECONDS},
    {"no-compress", no_argument, NULL, OPT_NO_COMPRESS},
    {"zstd-level", required_argument, NULL, OPT_ZSTD_LEVEL},
    {"no-history", no_argument, NULL, OPT_NO_HISTORY},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"tls-unprobe-after", required_argument, NULL, OPT_TLS_UNPROBE_AFTER},
    {"tls-probe-sites", required_argument, NULL, OPT_TLS_PROBE_SITES},
    {"tls-pid-probes", required_argument, NULL, OPT_TLS_PID_PROBES},
    {"tls-attach", required_argument, NULL, OPT_TLS_ATTACH},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"entries", no_argument, NULL, OPT_ENTRIES},
    {"json", no_argument, NULL, OPT_JSON},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"body-max", required_argument, NULL, OPT_BODY_MAX},
    {"dissect-queue", required_argument, NULL, OPT_DISSECT_QUEUE},
    {"queue-memory", required_argument, NULL, OPT_QUEUE_MEMORY},
    {"dissect-memory", required_argument, NULL, OPT_DISSECT_MEMORY},
    {"name-history", required_argument, NULL, OPT_NAME_HISTORY},
    {"dns-names", required_argument, NULL, OPT_DNS_NAMES},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"agent-token", required_argument, NULL, OPT_AGENT_TOKEN},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"proxy-host", required_argument, NULL, OPT_PROXY_HOST},
    {"proxy-front-port", required_argument, NULL, OPT_PROXY_FRONT_PORT},
    {"no-hub", no_argument, NULL, OPT_NO_HUB},
    {"no-redact", no_argument, NULL, OPT_NO_REDACT},
    {"redact", no_argument, NULL, OPT_REDACT},
    {"no-capture-scope", no_argument, NULL, OPT_NO_CAPTURE_SCOPE},
    {"no-flow-verdicts", no_argument, NULL, OPT_NO_FLOW_VERDICTS},
    {"scripting-source", required_argument, NULL, OPT_SCRIPTING_SOURCE},
    {"scripting-watch", optional_argument, NULL, OPT_SCRIPTING_WATCH},
    {"selector", required_argument, NULL, 'l'},
    {"names-all-nodes", optional_argument, NULL, OPT_NAMES_ALL_NODES},
    {"scripting-cpu-ms", required_argument, NULL, OPT_SCRIPTING_CPU_MS},
    {"scripting-memory", required_argument, NULL, OPT_SCRIPTING_MEMORY},
    {"scripting-metrics", required_argument, NULL, OPT_SCRIPTING_METRICS},
    {"set", required_argument, NULL, 's'},
    {"help", no_argument, NULL, 'h'},
    /* The seed's flags that later releases bring: recognised, refused clearly. */
    {"pcap", required_argument, NULL, OPT_PCAP},
    {"proxy-hub-port", required_argument, NULL, OPT_PROXY_HUB_PORT},
    {"agent-name", required_argument, NULL, OPT_AGENT_NAME},
    {"tls", optional_argument, NULL, OPT_TLS},
    {"servicemesh", optional_argument, NULL, OPT_SERVICEMESH},
    {"tls-pcap", optional_argument, NULL, OPT_TLS_PCAP},
    {"config-path", required_argument, NULL, OPT_CONFIG_PATH},
    {NULL, 0, NULL, 0},
};

/* --k8s: the first file of $KUBECONFIG (a list, as kubectl has it), else ~/.kube/config. */
static int default_kubeconfig(struct tap_options *o, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char *path = o->kubeconfig_default;
	size_t size = sizeof(o->kubeconfig_default);

	if (env && *env)
		snprintf(path, size, "%.*s", (int)strcspn(env, ":"), env);
	else
		snprintf(path, size, "%s/.kube/config", home && *home ? home : "/root");
	if (access(path, R_OK) < 0) {
		snprintf(err, errlen, "--k8s: cannot read the kubeconfig %s%s: %s", path,
			 env && *env ? " ($KUBECONFIG)" : "", strerror(errno));
		return -EINVAL;
	}
	o->kubeconfig = path;
	return 0;
}

static int apply_set(struct tap_options *o, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;

	if (!eq || strncmp(kv, "tap.", 4) != 0) {
		snprintf(err, errlen, "--set: expected tap.KEY=VALUE, got '%s'", kv);
		return -EINVAL;
	}
	for (const struct option *lo = long_opts; lo->name; lo++) {
		if (lo->has_arg != required_argument || lo->val < OPT_DRYRUN ||
		    lo->val == OPT_LATER)
			continue;
		if (strlen(lo->name) == klen - 4 && strncmp(kv + 4, lo->name, klen - 4) == 0)
			return apply(o, lo->val, lo->name, eq + 1, err, errlen);
	}
	snprintf(err, errlen, "--set: unknown key '%.*s'", (int)klen, kv);
	return -EINVAL;
}

const struct option *tap_flags(void)
{
	return long_opts;
}

int tap_option_check(const char *name, const char *val, char *err, size_t errlen)
{
	struct tap_options scratch;

	for (const struct option *lo = long_opts; lo->name; lo++) {
		if (strcmp(lo->name, name))
			continue;
		if ((lo->val == OPT_TLS || lo->val == OPT_SERVICEMESH || lo->val == OPT_TLS_PCAP) &&
		    strcmp(val, "true") &&
		    strcmp(val, "false")) {
			snprintf(err, errlen, "expected true or false, got '%s'", val);
			return -EINVAL;
		}
		if ((lo->val == OPT_LISTEN || lo->val == OPT_METRICS) && !strchr(val, ':')) {
			snprintf(err, errlen, "expected HOST:PORT, got '%s'", val);
			return -EINVAL;
		}
		/* the flags apply() knows: the same check as on the command line */
		if (lo->has_arg != required_argument || lo->val < OPT_DRYRUN ||
		    lo->val == OPT_LISTEN || lo->val == OPT_AGENT_TOKEN || lo->val == OPT_PCAP ||
		    lo->val == OPT_METRICS ||
		    lo->val >= OPT_CONFIG_PATH || lo->val == OPT_TLS || lo->val == OPT_SERVICEMESH ||
		    lo->val == OPT_TLS_PCAP)
			return 0;
		tap_options_init(&scratch);
		return apply(&scratch, lo->val, lo->name, val, err, errlen);
	}
	snprintf(err, errlen, "unknown flag --%s", name);
	return -EINVAL;
}

int tap_options_parse(int argc, char **argv, struct tap_options *o, FILE *out, char *err,
		      size_t errlen)
{
	int opt, idx = 0, ret;
	bool k8s = false;

	optind = 0; /* full re-initialisation of getopt: parse may be called more than once */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:Ads:p:l:h", long_opts, &idx)) != -1) {
		switch (opt) {
		case 'n':
			o->namespaces = optarg;
			break;
		case 'A':
			o->all_namespaces = true;
			break;
		case 'd':
			o->debug = true;
			break;
		case OPT_ENTRIES:
			o->entries = true;
			break;
		case OPT_JSON:
			o->entries = o->entries_json = true;
			break;
		case 'h':
			print_help(out);
			return 1;
		case 's':
			ret = apply_set(o, optarg, err, errlen);
			if (ret < 0)
				return ret;
			break;
		case OPT_DRYRUN:
			o->dryrun = true;
			break;
		case OPT_NO_COMPRESS:
			o->compress = false;
			break;
		case OPT_NO_HISTORY:
			o->history = false;
			break;
		case OPT_NO_HUB:
			o->no_hub = true;
			break;
		case OPT_REDACT:
			o->redact = true;
			break;
		case OPT_NO_REDACT:
			o->no_redact = true;
			break;
		case OPT_NO_CAPTURE_SCOPE:
			o->no_capture_scope = true;
			break;
		case OPT_NO_FLOW_VERDICTS:
			o->no_flow_verdicts = true;
			break;
		case 'p':
		case OPT_PCAP:
			o->pcap_file = optarg;
			break;
		case OPT_K8S:
			k8s = true;
			break;
		case OPT_LISTEN:
			if (!strchr(optarg, ':')) {
				snprintf(err, errlen, "--listen %s: expected HOST:PORT", optarg);
				return -EINVAL;
			}
			o->listen = optarg;
			break;
		case OPT_AGENT_TOKEN:
			o->agent_token = optarg;
			break;
		case OPT_METRICS:
			if (!strchr(optarg, ':')) {
				snprintf(err, errlen, "--metrics %s: expected HOST:PORT", optarg);
				return -EINVAL;
			}
			o->metrics = optarg;
			break;
		case OPT_TLS:
			if (bool_flag("tls", optarg, &o->tls, err, errlen))
				return -EINVAL;
			break;
		case OPT_SERVICEMESH:
			if (bool_flag("servicemesh", optarg, &o->servicemesh, err, errlen))
				return -EINVAL;
			break;
		case OPT_TLS_PCAP:
			if (bool_flag("tls-pcap", optarg, &o->tls_pcap, err, errlen))
				return -EINVAL;
			break;
		case OPT_ALL_NODES:
			o->all_nodes = true;
			break;
		case OPT_CONFIG_PATH:
			break; /* read before parsing: config_argv, tap_main */
		case OPT_SCRIPTING_WATCH:
			if (bool_flag("scripting-watch", optarg, &o->scripting_watch, err, errlen))
				return -EINVAL;
			break;
		case OPT_NAMES_ALL_NODES:
			if (bool_flag("names-all-nodes", optarg, &o->names_all_nodes, err, errlen))
				return -EINVAL;
			break;
		case 'l':
			o->selector = optarg;
			break;
		case OPT_LATER:
			snprintf(err, errlen, "--%s: not available yet in this release of floe",
				 long_opts[idx].name);
			return -EINVAL;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		case '?':
			snprintf(err, errlen, "unknown flag '%s' (see 'floe tap --help')",
				 argv[optind - 1]);
			return -EINVAL;
		default:
			ret = apply(o, opt, long_opts[idx].name, optarg, err, errlen);
			if (ret < 0)
				return ret;
		}
	}
	if (o->all_namespaces && o->namespaces) {
		snprintf(err, errlen, "-A (every namespace) and -n %s exclude each other: give one",
			 o->namespaces);
		return -EINVAL;
	}
	if (o->node && o->all_nodes) {
		snprintf(err, errlen, "--node %s and --all-nodes exclude each other: give one",
			 o->node);
		return -EINVAL;
	}
	if (k8s && !o->kubeconfig) {
		ret = default_kubeconfig(o, err, errlen);
		if (ret < 0)
			return ret;
	}
	if ((o->node || o->all_nodes || o->pods_max || o->selector || o->page_limit) &&
	    !o->kubeconfig && !k8s_in_cluster_available(NULL)) {
		snprintf(err, errlen, "%s is for Kubernetes mode: give --kubeconfig FILE or --k8s",
			 o->node	? "--node"
			 : o->all_nodes ? "--all-nodes"
			 : o->pods_max	? "--max-pods"
			 : o->selector	? "-l/--selector"
					: "--chunk-size");
		return -EINVAL;
	}
	/* GNU getopt moved the positional arguments to the end: one pod regex at most. */
	if (optind < argc)
		o->pod_regex = argv[optind++];
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s': give one POD REGEX", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int tap_config_parse(int argc, char **argv, struct tap_options *o, struct tap_config *tc, FILE *out,
		     char *err, size_t errlen)
{
	char def[4096];
	int ret;

	memset(tc, 0, sizeof(*tc));
	ret = config_argv(argc, argv, config_default_path(def, sizeof(def)), long_opts,
			  tap_option_check, &tc->config, &tc->argc, &tc->argv, err, errlen);
	if (ret < 0)
		return ret;
	ret = tap_options_parse(tc->argc, tc->argv, o, out, err, errlen);
	if (ret)
		return ret;
	o->config_file = tc->config ? tc->config->path : NULL;
	o->argc0 = argc;
	o->argv0 = argv;
	ret = trigger_set_new(tc->config, o->store_dir, stderr, &tc->triggers, err, errlen);
	if (ret < 0)
		return ret;
	if (tc->triggers && !o->history) {
		/* they follow the agent's live entries, which the entry history serves */
		snprintf(err, errlen, "triggers need the entry history: leave out --no-history");
		return -EINVAL;
	}
	/* With the history, a set even without configured triggers: a hub may define some
	 * (trigger_set_agent_api); it follows nothing until it has one. */
	if (!tc->triggers && o->history && !o->dryrun &&
	    trigger_set_empty(o->store_dir, stderr, &tc->triggers)) {
		snprintf(err, errlen, "triggers: out of memory");
		return -EINVAL;
	}
	if (tc->triggers)
		trigger_set_snapshot_limit(tc->triggers, o->storage_limit);
	if (tc->triggers) {
		struct tap_service svc;

		trigger_set_service(tc->triggers, &svc);
		if (tap_options_add_service(o, &svc) < 0) {
			snprintf(err, errlen, "too many services");
			return -EINVAL;
		}
	}
	if (script_tap_service_add(o, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

int tap_options_reread(int argc, char **argv, struct tap_options *o, int *argc_out,
		       char ***argv_out, char *err, size_t errlen)
{
	char def[4096];
	struct config *c = NULL;
	int ret;

	tap_options_init(o);
	*argc_out = 0;
	*argv_out = NULL;
	ret = config_argv(argc, argv, config_default_path(def, sizeof(def)), long_opts,
			  tap_option_check, &c, argc_out, argv_out, err, errlen);
	config_free(c);
	if (ret < 0)
		return ret;
	ret = tap_options_parse(*argc_out, *argv_out, o, stderr, err, errlen);
	return ret ? -EINVAL : 0;
}

void tap_config_free(struct tap_config *tc)
{
	trigger_set_free(tc->triggers);
	config_argv_free(tc->argc, tc->argv);
	config_free(tc->config);
	memset(tc, 0, sizeof(*tc));
}

int tap_config_begin(const char *prog, int argc, char **argv, struct tap_options *o,
		     struct tap_config *tc)
{
	char err[512];
	int ret = tap_config_parse(argc, argv, o, tc, stdout, err, sizeof(err));

	if (ret == 0)
		return -1;
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", prog, err);
	tap_config_free(tc);
	return ret < 0 ? 2 : 0;
}

int config_main(const char *prog, int argc, char **argv)
{
	struct tap_options o;
	struct tap_config tc;
	int ret;

	tap_options_init(&o);
	ret = tap_config_begin(prog, argc, argv, &o, &tc);
	if (ret >= 0)
		return ret;
	ret = config_print(tc.config, tc.argc, tc.argv, long_opts, stdout);
	tap_config_free(&tc);
	return ret ? 1 : 0;
}
