// SPDX-License-Identifier: Apache-2.0
/*
 * floe: the command users type. Local mode runs the tap in this process; Kubernetes mode
 * (deploying manifests/ and talking to the hub) comes with its own issue.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pcap_store.h"
#include "tap.h"

#define FLOE_VERSION "0.1.0"

static void usage(FILE *out)
{
	fputs("Usage: floe COMMAND [flags]\n"
	      "\n"
	      "Commands:\n"
	      "  tap [POD REGEX] [flags]    capture the traffic of this host's pods into the PCAP "
	      "store\n"
	      "  pcap export -o FILE        write the PCAP store as one PCAP file\n"
	      "  version                    print the version\n"
	      "\n"
	      "Run 'floe COMMAND --help' for a command's flags.\n",
	      out);
}

static void pcap_export_usage(FILE *out)
{
	fputs("Usage: floe pcap export -o FILE [--store DIR] [-f FILTER]\n"
	      "\n"
	      "Write every segment of the PCAP store, oldest first, as one PCAP file\n"
	      "(nanosecond timestamps) that Wireshark and tshark open.\n"
	      "\n"
	      "Flags:\n"
	      "  -o, --output FILE   where to write; '-' for standard output\n"
	      "      --store DIR     the store (default /var/lib/floe/store)\n"
	      "  -f, --filter EXPR   keep only packets matching a tcpdump-style filter\n"
	      "  -h, --help          this help\n",
	      out);
}

static int cmd_pcap_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"store", required_argument, NULL, 's'},
	    {"filter", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *store = "/var/lib/floe/store", *filter = NULL;
	struct pcap_export_stats st = {};
	char err[512];
	int opt;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 's':
			store = optarg;
			break;
		case 'f':
			filter = optarg;
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
	if (pcap_store_export(store, out, filter, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "floe pcap export: %s\n", err);
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

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "tap"))
		return tap_main("floe tap", argc - 1, argv + 1);
	if (!strcmp(argv[1], "pcap") && argc >= 3 && !strcmp(argv[2], "export"))
		return cmd_pcap_export(argc - 2, argv + 2);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("floe %s\n", FLOE_VERSION);
		return 0;
	}
	fprintf(stderr, "floe: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
