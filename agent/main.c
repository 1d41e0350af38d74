// SPDX-License-Identifier: Apache-2.0
/*
 * floe-agent: the per-node daemon. It runs one tap session with the same flags as `floe tap`,
 * and with --listen HOST:PORT serves the tap's agent_api (entry history, live entries, PCAP,
 * statistics) to a hub over gRPC (lib/rpc; docs/hub.md), and with --metrics HOST:PORT its
 * statistics to Prometheus (GET /metrics, agent/metrics_http.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "dissect/engine.h"
#include "entry/json_alloc.h"
#include "api/agent_api_redact.h"
#include "metrics_http.h"
#include "rpc_agent.h"
#include "tap/tap.h"
#include "trigger/trigger.h"

struct serve {
	const struct tap_options *o;
	struct trigger_set *triggers; /* NULL: none (--no-history) */
	struct agent_api api;	      /* the tap's, with the triggers' calls when there are any */
	int api_owned;		      /* api is a wrapper of ours: destroyed at the stop */
	struct rpc_agent_server *srv;
};

/* The tap's API is ready: serve it until the tap stops. When it cannot listen, the tap
 * stops (hooks removed, store closed) and the agent exits 1. */
static int serve_start(const struct agent_api *api, void *ctx, char *err, size_t errlen)
{
	struct serve *s = ctx;
	struct rpc_opts ro = {.token = s->o->agent_token};
	char e[512];

	s->api = *api;
	s->api_owned = 0;
	/* a hub defines triggers and reads their snapshots through the same API */
	if (s->triggers) {
		if (trigger_set_agent_api(s->triggers, api, &s->api))
			goto nomem;
		s->api_owned = 1;
	}
	/* --redact: credentials never leave the node (the hub's masking is the hub's choice) */
	if (s->o->redact) {
		if (agent_api_redact_wrap(s->api, s->api_owned, &s->api))
			goto nomem;
		s->api_owned = 1;
	}
	if (rpc_agent_server_start(s->o->listen, s->api, &ro, &s->srv, e, sizeof(e))) {
		snprintf(err, errlen, "%s: %s", s->o->listen, e);
		if (s->api_owned)
			s->api.ops->destroy(s->api.self);
		s->api_owned = 0;
		return -1;
	}
	fprintf(stderr, "floe-agent: serving the hub on %s (port %d)%s%s\n", s->o->listen,
		rpc_agent_server_port(s->srv), ro.token && *ro.token ? ", token required" : "",
		s->o->redact ? ", credentials masked" : "");
	return 0;
nomem:
	if (s->api_owned)
		s->api.ops->destroy(s->api.self);
	s->api_owned = 0;
	snprintf(err, errlen, "out of memory");
	return -1;
}

struct metrics {
	const struct tap_options *o;
	struct metrics_http *srv;
};

/* --metrics: the tap's own API (its stats call), whatever --listen wraps around it. */
static int metrics_start(const struct agent_api *api, void *ctx, char *err, size_t errlen)
{
	struct metrics *m = ctx;
	const char *token = m->o->agent_token;
	char e[256];

	if (metrics_http_start(m->o->metrics, *api, token, &m->srv, e, sizeof(e))) {
		snprintf(err, errlen, "%s: %s", m->o->metrics, e);
		return -1;
	}
	fprintf(stderr, "floe-agent: serving /metrics on %s (port %d)%s\n", m->o->metrics,
		metrics_http_port(m->srv), token && *token ? ", token required" : "");
	return 0;
}

static void metrics_stop(void *ctx)
{
	struct metrics *m = ctx;

	metrics_http_stop(m->srv);
	m->srv = NULL;
}

static void serve_stop(void *ctx)
{
	struct serve *s = ctx;

	if (s->srv)
		rpc_agent_server_stop(s->srv);
	s->srv = NULL;
	if (s->api_owned && s->api.ops)
		s->api.ops->destroy(s->api.self);
	s->api_owned = 0;
	s->api.ops = NULL;
}

int main(int argc, char **argv)
{
	struct tap_options o;
	struct tap_config tc;
	struct serve s = {.o = &o};
	struct metrics m = {.o = &o};
	int ret;

	dissect_malloc_policy();
	json_alloc_install();
	tap_options_init(&o);
	/* --config-path, --set and the configured triggers, as `floe tap` has them */
	ret = tap_config_begin("floe-agent", argc, argv, &o, &tc);
	if (ret >= 0)
		return ret;
	if (o.redact && !o.listen) {
		fprintf(stderr, "floe-agent: --redact masks what --listen serves: give --listen\n");
		return 2;
	}
	if (o.proxy_host || o.proxy_front_port >= 0 || o.proxy_hub_port >= 0) {
		fprintf(stderr,
			"floe-agent: --proxy-host, --proxy-hub-port and --proxy-front-port are "
			"floe tap's (its "
			"hub); floe-hub serves the agents' API\n");
		return 2;
	}
	s.triggers = tc.triggers;
	if (o.listen) {
		struct tap_service svc = {.name = "--listen",
					  .start = serve_start,
					  .stop = serve_stop,
					  .ctx = &s,
					  .serves = true};

		tap_options_add_service(&o, &svc);
	}
	if (o.metrics) {
		struct tap_service svc = {
		    .name = "--metrics", .start = metrics_start, .stop = metrics_stop, .ctx = &m};

		tap_options_add_service(&o, &svc);
	}
	ret = tap_run(&o, stdout, stderr);
	tap_config_free(&tc);
	return ret;
}
