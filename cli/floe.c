// SPDX-License-Identifier: Apache-2.0
/*
 * floe: the command users type. Local mode runs the tap in this process; Kubernetes mode
 * (deploying manifests/ and talking to the hub) comes with its own issue.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "agent/history_cmd.h"
#include "dissect/engine.h"
#include "entry/entry_filter.h"
#include "entry/entry_output.h"
#include "entry/json_alloc.h"
#include "pods/name_resolver.h"
#include "protocols/schema.h"
#include "store/pcap_store.h"
#include "tap/read_file.h"
#include "tap/tap.h"

#include "hub_client.h"
#include "tap_hub.h"

#define FLOE_VERSION "0.1.0"

/* stdout buffer of `floe read` when it is not a terminal. */
#define READ_STDOUT_BUF (256u << 10)
/* Bytes of JSON entries gathered per write(2). */
#define READ_JSON_BATCH (256u << 10)
/* Pipe size asked for when stdout is a pipe (the unprivileged maximum by default). */
#define READ_PIPE_SIZE (1 << 20)

static void usage(FILE *out)
{
	fputs("Usage: floe COMMAND [flags]\n"
	      "\n"
	      "Commands:\n"
	      "  tap [POD REGEX] [flags]    capture the traffic of this host's pods into the PCAP "
	      "store\n"
	      "  read FILE [-f FILTER]      print the request/response entries of a pcap/pcapng "
	      "file\n"
	      "  pcap export -o FILE        write the PCAP store as one PCAP file\n"
	      "  history [-q FILTER]        the entries the store kept (time range, cursor, PCAP)\n"
	      "  stream [--hub URL] [-q KFL] a hub's entries: history, then live (floe-hub)\n"
	      "  schema [--json]            print the entry fields of every protocol\n"
	      "  config [tap flags]         print the effective configuration (--config-path,\n"
	      "                             --set, flags; docs/config.md)\n"
	      "  version                    print the version\n"
	      "\n"
	      "Run 'floe COMMAND --help' for a command's flags.\n",
	      out);
}

static void pcap_export_usage(FILE *out)
{
	fputs("Usage: floe pcap export -o FILE [--store DIR] [-f FILTER] [--tls-plaintext] [--force]\n"
	      "       floe pcap export -o FILE --hub URL [-q KFL] [--since T] [--until T] [--token T]\n"
	      "\n"
	      "Write every segment of the PCAP store, oldest first, as one PCAP file\n"
	      "(nanosecond timestamps) that Wireshark and tshark open. FILE is created with\n"
	      "mode 0600: it holds captured traffic.\n"
	      "\n"
	      "Flags:\n"
	      "  -o, --output FILE   where to write; '-' for standard output\n"
	      "      --force         replace FILE if it exists (a symlink is replaced, not\n"
	      "                      followed)\n"
	      "      --store DIR     the store (default /var/lib/floe/store)\n"
	      "  -f, --filter EXPR   keep only packets matching a tcpdump-style filter\n"
	      "      --tls-plaintext the TLS plaintext floe read through uprobes instead of the\n"
	      "                      captured packets: synthetic TCP segments with the real\n"
	      "                      endpoints, marked by their MAC addresses 02:66:6c:6f:65:0X\n"
	      "                      (docs/tls.md); the captured ones keep the ciphertext\n"
	      "      --hub URL       from a hub (floe-hub, e.g. http://127.0.0.1:8898): the packets\n"
	      "                      of the connections behind the entries -q matches, all nodes\n"
	      "                      (for a \"tls\": true entry, its plaintext's synthetic packets)\n"
	      "  -q, --query KFL     with --hub: which entries (docs/kfl.md); --since/--until bound\n"
	      "                      them (RFC 3339 or Unix ns); --token: the hub's token\n"
	      "  -h, --help          this help\n",
	      out);
}

static int cmd_pcap_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"store", required_argument, NULL, 's'},
	    {"filter", required_argument, NULL, 'f'},
	    {"force", no_argument, NULL, 'F'},
	    {"tls-plaintext", no_argument, NULL, 'P'},
	    {"hub", required_argument, NULL, 'H'},
	    {"query", required_argument, NULL, 'q'},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {"token", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *store = "/var/lib/floe/store", *filter = NULL;
	struct hub_request hr = {.token = getenv("FLOE_HUB_TOKEN")};
	struct pcap_export_stats st = {};
	unsigned flags = 0;
	char err[512];
	int opt, ret;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:f:q:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'H':
			hr.hub = optarg;
			break;
		case 'q':
			hr.query = optarg;
			break;
		case 'S':
			hr.since = optarg;
			break;
		case 'U':
			hr.until = optarg;
			break;
		case 't':
			hr.token = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'f':
			filter = optarg;
			break;
		case 'F':
			flags |= PCAP_EXPORT_REPLACE;
			break;
		case 'P':
			flags |= PCAP_EXPORT_TLS_PLAINTEXT;
			break;
		case 'h':
			pcap_export_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "floe pcap export: option '%s' needs a value\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "floe pcap export: unknown flag '%s'\n", argv[optind - 1]);
			return 2;
		}
	}
	if (!out || optind < argc) {
		fprintf(stderr, "floe pcap export: %s\n",
			!out ? "-o FILE is required" : "unexpected argument");
		pcap_export_usage(stderr);
		return 2;
	}
	if (hr.hub || hr.query || hr.since || hr.until) {
		/* From a hub: the packets behind the entries a KFL query matches, every node's. */
		if (filter) {
			fprintf(stderr, "floe pcap export: -f is for a store; with --hub use -q KFL\n");
			return 2;
		}
		if (flags & PCAP_EXPORT_TLS_PLAINTEXT) {
			fprintf(stderr, "floe pcap export: --tls-plaintext is for a store; a hub gives "
					"the plaintext of the \"tls\": true entries -q matches\n");
			return 2;
		}
		ret = hub_pcap_export(&hr, out, !!(flags & PCAP_EXPORT_REPLACE), err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "floe pcap export: %s\n", err);
			return 1;
		}
		fprintf(stderr, "floe: exported the hub's PCAP to %s\n", out);
		return 0;
	}
	ret = pcap_store_export(store, out, flags, filter, &st, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "floe pcap export: %s%s\n", err,
			ret == -EEXIST ? " (give --force to replace it)" : "");
		return 1;
	}
	fprintf(stderr, "floe: exported %llu of %llu packets from %llu segments to %s\n",
		(unsigned long long)st.packets_out, (unsigned long long)st.packets_in,
		(unsigned long long)st.segments, out);
	if (st.truncated_segments)
		fprintf(stderr,
			"floe: %llu segment(s) ended in a partial packet (still being written?)\n",
			(unsigned long long)st.truncated_segments);
	return 0;
}

static void read_usage(FILE *out)
{
	fputs("Usage: floe read FILE [-f QUERY] [--json] [flags]\n"
	      "\n"
	      "Dissect a pcap or pcapng file (gzip-compressed too; '-' for standard input) and\n"
	      "print one line, or one JSON object, per request/response entry. Protocols are\n"
	      "recognised by content, on any port. Entry fields: docs/entries.md.\n"
	      "\n"
	      "Flags:\n"
	      "  -f, --filter QUERY    only entries matching the KFL query (docs/kfl.md), e.g.\n"
	      "                        'http and response.status >= 400', 'grpc',\n"
	      "                        'request.path.startsWith(\"/api\") and elapsed_ms > 250ms',\n"
	      "                        'response.status in [500, 502, 503]',\n"
	      "                        'request.headers[\"content-type\"].contains(\"json\")',\n"
	      "                        'src.namespace == shop and timestamp > now - 5m';\n"
	      "                        fields as in docs/entries.md (`floe schema`)\n"
	      "  -j, --json            one JSON object per line instead of text\n"
	      "      --body-max SIZE   body bytes kept per message (default 64KiB)\n"
	      "      --max-flows N     TCP connections tracked at once (default 65536)\n"
	      "      --dissect-memory SIZE  memory for dissection state, all connections\n"
	      "                        together (default 256MiB, at least 4MiB); past it the\n"
	      "                        least recently active connections are evicted (counted)\n"
	      "      --dns-names N     addresses named by the capture's DNS answers, kept at\n"
	      "                        most (default 65536; docs/dns-names.md)\n"
	      "  -q, --quiet           no summary on standard error\n"
	      "  -h, --help            this help\n"
	      "\n"
	      "Exit status: 0 when the file was read to its end, also when it ends in the middle\n"
	      "of a record (a capture cut short: a warning says so); 1 when it cannot be read, at\n"
	      "a corrupt record (after the entries before it), or when entries cannot be written;\n"
	      "2 for a bad flag or filter.\n",
	      out);
}

static void read_summary(const char *path, const struct read_file_stats *st,
			 const struct entry_output *o)
{
	unsigned i;

	fprintf(stderr, "floe read: %s: %llu packets, %llu entries (%llu printed, %llu incomplete)",
		path, (unsigned long long)st->packets, (unsigned long long)st->dissect.entries,
		(unsigned long long)o->printed,
		(unsigned long long)st->dissect.entries_incomplete);
	fprintf(stderr, "; %llu connections:", (unsigned long long)st->dissect.conns);
	for (i = 0; dissect_protocol_name(i) && i < DISSECT_MAX_PROTOCOLS; i++)
		if (st->dissect.conns_by_protocol[i])
			fprintf(stderr, " %s %llu", dissect_protocol_name(i),
				(unsigned long long)st->dissect.conns_by_protocol[i]);
	fprintf(stderr, " unrecognised %llu", (unsigned long long)st->dissect.conns_unknown);
	if (st->dissect.udp_conversations)
		fprintf(stderr, " (%llu UDP conversations, %llu datagrams)",
			(unsigned long long)st->dissect.udp_conversations,
			(unsigned long long)st->dissect.udp_datagrams);
	if (st->dissect.tunnels || st->dissect.tunnels_tls)
		fprintf(stderr, " (%llu CONNECT tunnels dissected, %llu TLS)",
			(unsigned long long)st->dissect.tunnels,
			(unsigned long long)st->dissect.tunnels_tls);
	for (i = 0; dissect_protocol_name(i) && i < DISSECT_MAX_PROTOCOLS; i++) {
		unsigned k;

		for (k = 0; dissect_counter_name(i, k); k++)
			if (st->dissect.counters[i][k])
				fprintf(stderr, "%s %s.%s %llu", k ? "," : ";",
					dissect_protocol_name(i), dissect_counter_name(i, k),
					(unsigned long long)st->dissect.counters[i][k]);
	}
	fprintf(stderr, "; %llu parse errors, %llu gaps (%llu bytes)",
		(unsigned long long)st->dissect.parse_errors,
		(unsigned long long)st->dissect.gaps, (unsigned long long)st->dissect.gap_bytes);
	if (st->dissect.ip_fragments)
		fprintf(stderr, ", %llu IP fragments (%llu datagrams reassembled, %llu given up)",
			(unsigned long long)st->dissect.ip_fragments,
			(unsigned long long)st->dissect.ip_reassembled,
			(unsigned long long)st->dissect.ip_fragments_given_up);
	if (st->decode_errors)
		fprintf(stderr, ", %llu non-IP/undecodable frames",
			(unsigned long long)st->decode_errors);
	fprintf(stderr, "; dissection memory peak %llu of %llu bytes, %llu connections evicted "
			"(%llu bytes)",
		(unsigned long long)st->dissect.mem_peak, (unsigned long long)st->dissect.mem_limit,
		(unsigned long long)st->dissect.mem_evictions,
		(unsigned long long)st->dissect.mem_evicted_bytes);
	fputc('\n', stderr);
}

static int cmd_read(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"body-max", required_argument, NULL, 'b'},
	    {"max-flows", required_argument, NULL, 'm'},
	    {"dissect-memory", required_argument, NULL, 'M'},
	    {"dns-names", required_argument, NULL, 'D'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct entry_output o = {.out = stdout};
	struct dissect_config cfg = {};
	struct entry_filter *filter = NULL;
	struct read_file_stats st;
	struct read_names names;
	struct stat out_st;
	/* stdout's buffer (glibc ignores setvbuf's size without one); static: stdout is flushed
	 * at exit, after this function. */
	static char stdout_buf[READ_STDOUT_BUF];
	const char *ftext = NULL;
	bool quiet = false;
	size_t dns_names = 0; /* NAME_RESOLVER_DNS_DEFAULT */
	char err[512];
	uint64_t v;
	int opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":f:jqh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			ftext = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'b':
			if (parse_size(optarg, &v) || v > (1ull << 30)) {
				fprintf(stderr, "floe read: --body-max: bad size '%s' (0..1GiB)\n",
					optarg);
				return 2;
			}
			cfg.body_max = v ? v : 1; /* 0 would mean the default */
			break;
		case 'm':
			if (parse_size(optarg, &v) || !v || v > (1u << 26)) {
				fprintf(stderr, "floe read: --max-flows: bad count '%s'\n", optarg);
				return 2;
			}
			cfg.tcp.max_flows = v;
			break;
		case 'M':
			if (parse_size(optarg, &v) || v < DISSECT_MIN_MEMORY || v > (1ull << 40)) {
				fprintf(stderr,
					"floe read: --dissect-memory: bad size '%s' (4MiB..1TiB)\n",
					optarg);
				return 2;
			}
			cfg.memory_budget = v;
			break;
		case 'D':
			if (parse_size(optarg, &v) || !v || v > NAME_RESOLVER_DNS_MAX) {
				fprintf(stderr, "floe read: --dns-names: bad count '%s' (1..%u)\n",
					optarg, NAME_RESOLVER_DNS_MAX);
				return 2;
			}
			dns_names = (size_t)v;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			read_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "floe read: option '%s' needs a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "floe read: unknown flag '%s'\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "floe read: %s\n",
			optind >= argc ? "a capture FILE is required" : "only one FILE, please");
		read_usage(stderr);
		return 2;
	}
	/* Text without a filter reads no response body: they are not made. */
	cfg.no_response_bodies = !o.json && !ftext;
	/* Single-threaded from here to the end: jansson's small blocks are recycled. */
	json_alloc_install();
	if (ftext) {
		rc = entry_filter_compile_checked(ftext, &filter, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "floe read: bad filter: %s\n", err);
			return 2;
		}
		o.filter = filter;
	}
	/* stdio's buffer for a pipe is one page: a write(2) and a wake-up of the reader per 4 KiB
	 * of output were a third of `floe read --json | ...`. A terminal keeps its line buffer. */
	if (!isatty(STDOUT_FILENO) && o.json) {
		/* JSON goes out in batches of entries, straight to write(2) (stdio would copy
		 * each batch into its buffer first). */
		setvbuf(stdout, NULL, _IONBF, 0);
		o.batch = READ_JSON_BATCH;
	} else if (!isatty(STDOUT_FILENO)) {
		setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
	}
	/* A pipe holds 64 KiB: floe and its reader then take turns every 64 KiB (tens of thousands
	 * of context switches per GB of JSON). A bigger one, if allowed; failure changes nothing. */
	if (!fstat(STDOUT_FILENO, &out_st) && S_ISFIFO(out_st.st_mode))
		fcntl(STDOUT_FILENO, F_SETPIPE_SZ, READ_PIPE_SIZE);
	/* the capture's own DNS answers name the addresses of what comes after them */
	if (read_names_init(&names, dns_names, entry_output_sink, &o, &cfg)) {
		fprintf(stderr, "floe read: out of memory\n");
		entry_filter_free(filter);
		return 1;
	}
	rc = read_file_run(argv[optind], &cfg, read_names_sink, &names, &st, err, sizeof(err));
	read_names_free(&names);
	entry_output_flush(&o);
	entry_filter_free(filter);
	entry_output_free(&o);
	if (fflush(stdout) == EOF)
		o.errors++;
	/* A corrupt record: what came before it was read and printed; the summary says how much. */
	if (!quiet && (!rc || rc == -EBADMSG))
		read_summary(argv[optind], &st, &o);
	/* A warning, -q or not: the exit status (0) does not say it. */
	if (st.truncated)
		fprintf(stderr, "floe read: %s: the file ends in the middle of a packet record "
				"(truncated capture); everything before it was read\n",
			argv[optind]);
	if (st.bad_timestamps)
		fprintf(stderr, "floe read: %s: %llu packet records have a fraction of a second out "
				"of range (damaged timestamps); they were read with the fraction as 0\n",
			argv[optind], (unsigned long long)st.bad_timestamps);
	if (rc) {
		fprintf(stderr, "floe read: %s\n", err);
		return 1;
	}
	if (o.errors) {
		fprintf(stderr, "floe read: %llu entries could not be written\n",
			(unsigned long long)o.errors);
		return 1;
	}
	return 0;
}

static void schema_usage(FILE *out)
{
	fputs("Usage: floe schema [--json | --markdown SECTION | --update-doc FILE | --check]\n"
	      "\n"
	      "The entry fields of every protocol, with their types (docs/entries.md).\n"
	      "\n"
	      "Flags:\n"
	      "  -j, --json             as one JSON object\n"
	      "      --markdown SECTION the docs table of SECTION (common or a protocol)\n"
	      "      --update-doc FILE  regenerate FILE's '<!-- schema:SECTION -->' blocks\n"
	      "      --check            read entries (JSON lines, floe read --json) on standard\n"
	      "                         input; print every field the schema does not declare or\n"
	      "                         whose type differs; exit 1 if there was one\n"
	      "  -h, --help             this help\n",
	      out);
}

static void schema_problem(const char *path, const char *problem, void *ctx)
{
	printf("entry %s: %s: %s\n", (const char *)ctx, path, problem);
}

/* floe schema --check: every entry on stdin against the schema. */
static int schema_check_stdin(void)
{
	unsigned long long entries = 0, bad = 0;
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, stdin) > 0) {
		json_t *e = json_loads(line, 0, NULL);
		const char *id = json_string_value(json_object_get(e, "id"));

		if (!e) {
			printf("not a JSON entry: %.60s\n", line);
			bad++;
			continue;
		}
		entries++;
		bad += schema_check_entry(e, schema_problem, (void *)(id ? id : "?")) ? 1 : 0;
		json_decref(e);
	}
	free(line);
	fprintf(stderr, "floe schema: %llu entries checked, %llu with fields outside the schema\n",
		entries, bad);
	return bad ? 1 : 0;
}

static int schema_update_doc(const char *file)
{
	char err[256], *doc = NULL, *out;
	size_t n = 0;
	FILE *f = fopen(file, "r");
	int rc = 1;

	if (!f || getdelim(&doc, &n, 0, f) < 0) {
		fprintf(stderr, "floe schema: %s: cannot read\n", file);
		goto out;
	}
	fclose(f);
	f = NULL;
	out = schema_doc_update(doc, err, sizeof(err));
	if (!out) {
		fprintf(stderr, "floe schema: %s: %s\n", file, err);
		goto out;
	}
	f = fopen(file, "w");
	if (f && fputs(out, f) != EOF && !fclose(f))
		rc = 0;
	else
		fprintf(stderr, "floe schema: %s: cannot write\n", file);
	f = NULL;
	free(out);
out:
	if (f)
		fclose(f);
	free(doc);
	return rc;
}

static int cmd_schema(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"markdown", required_argument, NULL, 'm'},
	    {"update-doc", required_argument, NULL, 'u'},
	    {"check", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *markdown = NULL, *doc = NULL;
	bool as_json = false, check = false;
	json_t *j;
	int opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			as_json = true;
			break;
		case 'm':
			markdown = optarg;
			break;
		case 'u':
			doc = optarg;
			break;
		case 'c':
			check = true;
			break;
		case 'h':
			schema_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "floe schema: bad flag '%s'\n", argv[optind - 1]);
			schema_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		schema_usage(stderr);
		return 2;
	}
	if (check)
		return schema_check_stdin();
	if (doc)
		return schema_update_doc(doc);
	if (markdown) {
		rc = schema_markdown(stdout, markdown);
		if (rc == -ENOENT)
			fprintf(stderr, "floe schema: no section '%s'\n", markdown);
		return rc ? 1 : 0;
	}
	if (!as_json)
		return schema_print_text(stdout) ? 1 : 0;
	j = schema_to_json();
	rc = j ? json_dumpf(j, stdout, JSON_INDENT(1)) : -1;
	json_decref(j);
	putchar('\n');
	return rc ? 1 : 0;
}

/* floe tap: a tap session and, beside it, the hub over its agent_api (tap_hub.h). */
static int cmd_tap(int argc, char **argv)
{
	struct tap_options o;
	struct tap_config tc;
	struct tap_hub hub;
	int ret;

	/* Before any jansson call: the entries' trees recycle their small blocks (per thread). */
	json_alloc_install();
	tap_options_init(&o);
	/* The configuration file, --set, then the flags (docs/config.md); triggers join o's
	 * services. */
	ret = tap_config_begin("floe tap", argc, argv, &o, &tc);
	if (ret >= 0)
		return ret;
	if (o.listen) {
		fprintf(stderr, "floe tap: --listen: this program does not serve a hub; floe-agent "
				"does\n");
		tap_config_free(&tc);
		return 2;
	}
	if (o.metrics) {
		fprintf(stderr, "floe tap: --metrics is floe-agent's; floe tap's hub serves "
				"/metrics on its own port\n");
		tap_config_free(&tc);
		return 2;
	}
	if (!o.history && !o.no_hub && !o.dryrun)
		fprintf(stderr, "floe: the hub serves the entry history: not started with "
				"--no-history\n");
	if (tap_hub_add(&o, &hub) < 0) {
		fprintf(stderr, "floe tap: too many services\n");
		tap_config_free(&tc);
		return 1;
	}
	hub.triggers = tc.triggers;
	ret = tap_run(&o, stdout, stderr);
	tap_config_free(&tc);
	return ret;
}

int main(int argc, char **argv)
{
	dissect_malloc_policy();
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "tap"))
		return cmd_tap(argc - 1, argv + 1);
	if (!strcmp(argv[1], "config"))
		return config_main("floe config", argc - 1, argv + 1);
	if (!strcmp(argv[1], "read"))
		return cmd_read(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pcap") && argc >= 3 && !strcmp(argv[2], "export"))
		return cmd_pcap_export(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stream"))
		return hub_stream_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "history"))
		return history_main("floe history", argc - 1, argv + 1);
	if (!strcmp(argv[1], "schema"))
		return cmd_schema(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("floe %s\n", FLOE_VERSION);
		return 0;
	}
	fprintf(stderr, "floe: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
