// SPDX-License-Identifier: Apache-2.0
/*
 * `floe history`: the local agent_api on a store directory, from the command line.
 */
#include "agent/history_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_local.h"

static void usage(const char *prog, FILE *out)
{
	fprintf(out,
		"usage: %s [--store DIR] [-q FILTER] [--since T] [--until T] [--limit N]\n"
		"          [--after TS,ID] [--no-bodies] [--get ID] [--pcap FILE] [--stats]\n"
		"The entries a tap kept in the store (docs/hub.md, \"The agent side\"), oldest "
		"first\n(by time, then id), one JSON object per line.\n"
		"  -s, --store DIR    the store (default /var/lib/floe/store)\n"
		"  -q, --query EXPR   only entries matching EXPR (the filter of floe read -f)\n"
		"      --since T      from T on (Unix ns or RFC 3339, 2026-12-06T16:50:00Z)\n"
		"      --until T      before T\n"
		"      --limit N      at most N entries; when N came, the cursor to go on from\n"
		"                     is printed on stderr: \"next: TS,ID\" (give it to --after)\n"
		"      --after TS,ID  resume after that entry (its time in ns, its id)\n"
		"      --no-bodies    leave request and response bodies out\n"
		"      --get ID       the one entry with this id\n"
		"      --pcap FILE    a PCAP of the matching entries' connections instead (- for\n"
		"                     stdout; an existing FILE is refused)\n"
		"      --stats        the history's counters as JSON\n",
		prog);
}

int history_parse_time(const char *s, int64_t *out)
{
	struct tm tm = {};
	const char *p;
	char *end;
	int64_t frac = 0, off = 0;
	int digits = 0;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (!*end && !errno && v >= 0) {
		*out = v;
		return 0;
	}
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*p - '0');
		if (!digits)
			return -EINVAL;
		for (int i = digits < 9 ? digits : 9; i < 9; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[1] && p[2] && p[3] == ':' && p[4] && p[5]) {
		int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');

		off = (int64_t)(h * 3600 + m * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = ((int64_t)timegm(&tm) - off) * 1000000000ll + frac;
	return 0;
}

struct print_ctx {
	size_t n;
	int64_t last_ts;
	char last_id[128];
	bool failed;
};

static int print_entry(const struct agent_entry *e, void *arg)
{
	struct print_ctx *c = arg;

	if (fwrite(e->json, 1, e->json_len, stdout) != e->json_len || putchar('\n') == EOF) {
		c->failed = true;
		return 1;
	}
	c->n++;
	c->last_ts = e->ts_ns;
	snprintf(c->last_id, sizeof(c->last_id), "%s", e->id);
	return 0;
}

static int write_bytes(const void *buf, size_t len, void *arg)
{
	return fwrite(buf, 1, len, arg) != len;
}

int history_main(const char *prog, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, 's'}, {"query", required_argument, NULL, 'q'},
	    {"since", required_argument, NULL, 'S'}, {"until", required_argument, NULL, 'U'},
	    {"limit", required_argument, NULL, 'l'}, {"after", required_argument, NULL, 'a'},
	    {"no-bodies", no_argument, NULL, 'B'},   {"get", required_argument, NULL, 'g'},
	    {"pcap", required_argument, NULL, 'p'},  {"stats", no_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	struct agent_query q = {.with_bodies = 1};
	const char *store = "/var/lib/floe/store", *get = NULL, *pcap = NULL;
	char after_id[128] = "", err[1024] = "";
	bool stats = false;
	struct agent_local *a;
	struct agent_api api;
	struct print_ctx pc = {};
	int opt, ret;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":s:q:h", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 's':
			store = optarg;
			break;
		case 'q':
			q.filter = optarg;
			break;
		case 'S':
		case 'U':
			if (history_parse_time(optarg, opt == 'S' ? &q.since_ns : &q.until_ns)) {
				fprintf(stderr,
					"%s: --%s: '%s' is not a time (Unix ns or RFC 3339)\n",
					prog, opt == 'S' ? "since" : "until", optarg);
				return 2;
			}
			break;
		case 'l':
			errno = 0;
			q.limit = (size_t)strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-') {
				fprintf(stderr, "%s: --limit: '%s' is not a count\n", prog, optarg);
				return 2;
			}
			break;
		case 'a': {
			const char *comma = strchr(optarg, ',');

			errno = 0;
			q.after_ts_ns = strtoll(optarg, &end, 10);
			if (!comma || end != comma || errno || !comma[1] ||
			    strlen(comma + 1) >= sizeof(after_id)) {
				fprintf(stderr,
					"%s: --after: want TS,ID (as \"next:\" printed it)\n",
					prog);
				return 2;
			}
			snprintf(after_id, sizeof(after_id), "%s", comma + 1);
			q.after_id = after_id;
			break;
		}
		case 'B':
			q.with_bodies = 0;
			break;
		case 'g':
			get = optarg;
			break;
		case 'p':
			pcap = optarg;
			break;
		case 'T':
			stats = true;
			break;
		case 'h':
			usage(prog, stdout);
			return 0;
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value\n", prog, argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "%s: unknown flag '%s'\n", prog, argv[optind - 1]);
			usage(prog, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return 2;
	}
	struct agent_local_config cfg = {.store_dir = store};

	ret = agent_local_new(&cfg, &a, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	api = agent_local_api(a);
	if (stats) {
		char *s = NULL;

		ret = api.ops->stats(api.self, &s, err, sizeof(err));
		if (!ret)
			printf("%s\n", s);
		free(s);
	} else if (get) {
		ret = api.ops->get(api.self, get, print_entry, &pc, err, sizeof(err));
	} else if (pcap) {
		FILE *f = stdout;

		if (strcmp(pcap, "-")) {
			int fd =
			    open(pcap, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

			f = fd >= 0 ? fdopen(fd, "w") : NULL;
			if (!f) {
				fprintf(stderr, "%s: %s: %s\n", prog, pcap, strerror(errno));
				if (fd >= 0)
					close(fd);
				api.ops->destroy(api.self);
				return 1;
			}
		}
		ret = api.ops->pcap(api.self, &q, write_bytes, f, err, sizeof(err));
		if ((ferror(f) | (f != stdout ? fclose(f) : fflush(f))) && !ret) {
			ret = -EIO;
			snprintf(err, sizeof(err), "%s: write error", pcap);
		}
	} else {
		ret = api.ops->query(api.self, &q, print_entry, &pc, err, sizeof(err));
		if (q.limit && pc.n == q.limit)
			fprintf(stderr, "next: %lld,%s\n", (long long)pc.last_ts, pc.last_id);
	}
	api.ops->destroy(api.self);
	if (fflush(stdout) || pc.failed) {
		fprintf(stderr, "%s: cannot write the output\n", prog);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	return 0;
}
