/* SPDX-License-Identifier: Apache-2.0 */
/* floe-hub: the HTTP/WebSocket API over every agent's entries and PCAP (docs/hub.md). */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/agent_api_redact.h"
#include "hub_server.h"
#include "hub_static.h"
#include "hub_transport.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: floe-hub --agents HOST:PORT,... [--proxy-host ADDR] [--proxy-hub-port PORT]\n"
	    "                [--token TOKEN] [--agent-token TOKEN] [--ws-queue N] [--spool-dir DIR]\n"
	    "                [--no-redact] [--proxy-front-port PORT] [--ui-dir DIR]\n"
	    "  --agents LIST          the agents to query (their gRPC addresses: floe-agent --listen)\n"
	    "  --agent-token TOKEN    the token the agents require (default $FLOE_AGENT_TOKEN)\n"
	    "  --proxy-host ADDR      address the API listens on (default 127.0.0.1)\n"
	    "  --proxy-hub-port PORT  its port (default 8898)\n"
	    "  --token TOKEN          require 'Authorization: Bearer TOKEN' on every route\n"
	    "                         (default: $FLOE_HUB_TOKEN; none when unset)\n"
	    "  --ws-queue N           messages a WebSocket client may have waiting (default 4096)\n"
	    "  --spool-dir DIR        where PCAP exports are merged (default $TMPDIR or /tmp)\n"
	    "  --no-redact            serve authorization and cookie header values as captured\n"
	    "                         (masked by default)\n"
	    "  --proxy-front-port PORT  the web UI's port, which serves the API too (default\n"
	    "                         8899; 0: none; the UI is on the API port as well)\n"
	    "  --ui-dir DIR           the web UI's files (default: ui/ beside this binary, or\n"
	    "                         ../share/floe/ui)\n"
	    "  --state-dir DIR        where the hub keeps the triggers defined through it\n"
	    "                         (default $HOME/.floe/hub)\n");
}

static int parse_port(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > 65535)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Where the web UI is, or why it is not there (a busy front port is not fatal: the API's
 * port serves the UI as well). */
static void hub_ui_announce(const struct hub_server_opts *o, struct hub_server *srv)
{
	int fp = hub_server_front_port(srv);
	if (!o->ui_dir)
		fprintf(stderr, "floe-hub: no web UI (no ui/ beside the binary; --ui-dir DIR)\n");
	else if (fp || !o->front_port || o->front_port == hub_server_port(srv))
		fprintf(stderr, "floe-hub: web UI on http://%s:%d/\n", o->host,
			fp ? fp : hub_server_port(srv));
	else
		fprintf(stderr, "floe-hub: web UI on http://%s:%d/ (front port %d not bound)\n",
			o->host, hub_server_port(srv), o->front_port);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"agents", required_argument, NULL, 'a'},
	    {"proxy-host", required_argument, NULL, 'H'},
	    {"proxy-hub-port", required_argument, NULL, 'p'},
	    {"token", required_argument, NULL, 't'},
	    {"agent-token", required_argument, NULL, 'A'},
	    {"ws-queue", required_argument, NULL, 'q'},
	    {"spool-dir", required_argument, NULL, 's'},
	    {"no-redact", no_argument, NULL, 'R'},
	    {"proxy-front-port", required_argument, NULL, 'f'},
	    {"ui-dir", required_argument, NULL, 'u'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct hub_server_opts opts = {.host = "127.0.0.1", .port = 8898, .front_port = 8899};
	char ui_dir[PATH_MAX];
	const char *agents_arg = NULL;
	int redact = 1;
	const char *agent_token = getenv("FLOE_AGENT_TOKEN");
	opts.token = getenv("FLOE_HUB_TOKEN");
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			agents_arg = optarg;
			break;
		case 'H':
			opts.host = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &opts.port)) {
				fprintf(stderr, "floe-hub: --proxy-hub-port: '%s' is not a port\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			opts.token = optarg;
			break;
		case 'A':
			agent_token = optarg;
			break;
		case 'q': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v < 16 || v > 1000000) {
				fprintf(stderr, "floe-hub: --ws-queue: 16 to 1000000\n");
				return 2;
			}
			opts.ws_queue = v;
			break;
		}
		case 's':
			opts.spool_dir = optarg;
			break;
		case 'R':
			redact = 0;
			break;
		case 'f':
			if (strcmp(optarg, "0") && parse_port(optarg, &opts.front_port)) {
				fprintf(stderr,
					"floe-hub: --proxy-front-port: '%s' is not a port\n",
					optarg);
				return 2;
			}
			if (!strcmp(optarg, "0"))
				opts.front_port = 0;
			break;
		case 'u':
			opts.ui_dir = optarg;
			break;
		case 'S':
			opts.state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "floe-hub: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!agents_arg || !*agents_arg) {
		fprintf(stderr, "floe-hub: --agents HOST:PORT,... is required\n");
		return 2;
	}
	if (!opts.ui_dir) {
		char exe[PATH_MAX];
		ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (l > 0) {
			exe[l] = '\0';
			if (!hub_static_default_dir(exe, ui_dir, sizeof(ui_dir)))
				opts.ui_dir = ui_dir;
		}
	}
	char state_dir[PATH_MAX];
	if (!opts.state_dir && getenv("HOME") && *getenv("HOME")) {
		snprintf(state_dir, sizeof(state_dir), "%s/.floe/hub", getenv("HOME"));
		opts.state_dir = state_dir;
	}
	const struct hub_transport *tr = hub_transport();
	if (!tr) {
		fprintf(stderr,
			"floe-hub: --agents needs the gRPC transport, which this build does "
			"not link yet (issue 16)\n");
		return 1;
	}

	size_t n = 1;
	for (const char *p = agents_arg; *p; p++)
		n += *p == ',';
	struct agent_api *agents = calloc(n, sizeof(*agents));
	char *list = strdup(agents_arg);
	if (!agents || !list) {
		fprintf(stderr, "floe-hub: out of memory\n");
		return 1;
	}
	size_t got = 0;
	int rc = 0;
	char err[512];
	for (char *save = NULL, *a = strtok_r(list, ",", &save); a;
	     a = strtok_r(NULL, ",", &save)) {
		if (tr->connect(a, agent_token, &agents[got], err, sizeof(err))) {
			fprintf(stderr, "floe-hub: agent %s: %s\n", a, err);
			rc = 1;
			break;
		}
		/* The hub masks sensitive header values unless told not to (agent_api_redact.h). */
		if (redact && agent_api_redact_wrap(agents[got], 1, &agents[got])) {
			fprintf(stderr, "floe-hub: out of memory\n");
			agents[got].ops->destroy(agents[got].self);
			rc = 1;
			break;
		}
		got++;
	}

	/* Signals are taken synchronously: the server's threads never see them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct hub_server *srv = NULL;
	if (!rc && hub_server_start(agents, got, &opts, &srv, err, sizeof(err))) {
		fprintf(stderr, "floe-hub: %s\n", err);
		rc = 1;
	}
	if (!rc) {
		fprintf(stderr, "floe-hub: %zu agent(s), API on http://%s:%d/api/v1/\n", got,
			opts.host, hub_server_port(srv));
		hub_ui_announce(&opts, srv);
		int sig;
		sigwait(&set, &sig);
		hub_server_stop(srv);
	}
	for (size_t i = 0; i < got; i++)
		agents[i].ops->destroy(agents[i].self);
	free(agents);
	free(list);
	return rc;
}
