// SPDX-License-Identifier: Apache-2.0
/*
 * floe-agent: the per-node daemon. It runs one tap session with the same flags as `floe tap`,
 * and with --listen HOST:PORT serves the tap's agent_api (entry history, live entries, PCAP,
 * statistics) to a hub over gRPC (lib/rpc; docs/hub.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include "dissect/engine.h"
#include "entry/json_alloc.h"
#include "rpc_agent.h"
#include "tap/tap.h"

struct serve {
	const struct tap_options *o;
	struct rpc_agent_server *srv;
};

/* The tap's API is ready: serve it until the tap stops. When it cannot listen, the tap
 * stops (hooks removed, store closed) and the agent exits 1. */
static int serve_start(const struct agent_api *api, void *ctx, char *err, size_t errlen)
{
	struct serve *s = ctx;
	struct rpc_opts ro = {.token = s->o->agent_token};
	char e[512];

	if (rpc_agent_server_start(s->o->listen, *api, &ro, &s->srv, e, sizeof(e))) {
		snprintf(err, errlen, "%s: %s", s->o->listen, e);
		return -1;
	}
	fprintf(stderr, "floe-agent: serving the hub on %s (port %d)%s\n", s->o->listen,
		rpc_agent_server_port(s->srv), ro.token && *ro.token ? ", token required" : "");
	return 0;
}

static void serve_stop(void *ctx)
{
	struct serve *s = ctx;

	if (s->srv)
		rpc_agent_server_stop(s->srv);
	s->srv = NULL;
}

int main(int argc, char **argv)
{
	struct tap_options o;
	struct tap_config tc;
	struct serve s = {.o = &o};
	char err[512];
	int ret;

	dissect_malloc_policy();
	json_alloc_install();
	tap_options_init(&o);
	/* --config-path, --set and the configured triggers, as `floe tap` has them */
	ret = tap_config_parse(argc, argv, &o, &tc, stdout, err, sizeof(err));
	if (ret) {
		if (ret < 0)
			fprintf(stderr, "floe-agent: %s\n", err);
		tap_config_free(&tc);
		return ret < 0 ? 2 : 0;
	}
	if (o.proxy_host || o.proxy_front_port >= 0 || o.proxy_hub_port >= 0) {
		fprintf(stderr,
			"floe-agent: --proxy-host, --proxy-hub-port and --proxy-front-port are "
			"floe tap's (its "
			"hub); floe-hub serves the agents' API\n");
		return 2;
	}
	if (o.listen) {
		struct tap_service svc = {
		    .name = "--listen", .start = serve_start, .stop = serve_stop, .ctx = &s};

		tap_options_add_service(&o, &svc);
	}
	ret = tap_run(&o, stdout, stderr);
	tap_config_free(&tc);
	return ret;
}
