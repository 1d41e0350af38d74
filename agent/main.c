// SPDX-License-Identifier: Apache-2.0
/*
 * floe-agent: the per-node daemon. It runs one tap session with the same flags as `floe tap`,
 * and with --listen HOST:PORT serves the tap's agent_api (entry history, live entries, PCAP,
 * statistics) to a hub over gRPC (lib/rpc; docs/hub.md).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "dissect/engine.h"
#include "entry/json_alloc.h"
#include "rpc_agent.h"
#include "tap/tap.h"

struct serve {
	const struct tap_options *o;
	struct rpc_agent_server *srv;
	int failed;
};

/* The tap's API is ready: serve it until the tap stops. When it cannot listen, the tap is
 * stopped the way a user would stop it (SIGTERM: hooks removed, store closed) and the agent
 * exits 1. */
static void agent_started(const struct agent_api *api, void *ctx)
{
	struct serve *s = ctx;
	struct rpc_opts ro = {.token = s->o->agent_token};
	char err[512];

	if (rpc_agent_server_start(s->o->listen, *api, &ro, &s->srv, err, sizeof(err))) {
		fprintf(stderr, "floe-agent: --listen %s: %s\n", s->o->listen, err);
		s->failed = 1;
		raise(SIGTERM);
		return;
	}
	fprintf(stderr, "floe-agent: serving the hub on %s (port %d)%s\n", s->o->listen,
		rpc_agent_server_port(s->srv), ro.token && *ro.token ? ", token required" : "");
}

static void agent_stopping(const struct agent_api *api, void *ctx)
{
	struct serve *s = ctx;

	(void)api;
	if (s->srv)
		rpc_agent_server_stop(s->srv);
	s->srv = NULL;
}

int main(int argc, char **argv)
{
	struct tap_options o;
	struct serve s = {.o = &o};
	char err[512];
	int ret;

	dissect_malloc_policy();
	json_alloc_install();
	tap_options_init(&o);
	ret = tap_options_parse(argc, argv, &o, stdout, err, sizeof(err));
	if (ret == 1)
		return 0;
	if (ret < 0) {
		fprintf(stderr, "floe-agent: %s\n", err);
		return 2;
	}
	if (o.listen) {
		o.agent_started = agent_started;
		o.agent_stopping = agent_stopping;
		o.agent_ctx = &s;
	}
	ret = tap_run(&o, stdout, stderr);
	return ret ? ret : s.failed;
}
