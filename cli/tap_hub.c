// SPDX-License-Identifier: Apache-2.0
/* The hub of `floe tap`, in-process over the tap's agent_api (tap_hub.h; docs/hub.md). */
#include "tap_hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/agent_api_redact.h"
#include "hub_server.h"
#include "hub_static.h"
#include "trigger/trigger.h"

static int hub_start(const struct agent_api *api, void *ctx, char *err, size_t errlen)
{
	struct tap_hub *h = ctx;
	const char *host = h->o->proxy_host ? h->o->proxy_host : "127.0.0.1";
	int port = h->o->proxy_hub_port < 0 ? TAP_HUB_DEFAULT_PORT : h->o->proxy_hub_port;
	int front = h->o->proxy_front_port < 0 ? TAP_HUB_DEFAULT_FRONT_PORT : h->o->proxy_front_port;
	struct hub_server_opts opts = {.host = host,
				       .port = port,
				       /* the same port twice is one listener */
				       .front_port = front == port ? 0 : front,
				       .token = h->token,
				       .ui_dir = h->ui_dir[0] ? h->ui_dir : NULL};
	const char *lb = strchr(host, ':') ? "[" : "", *rb = *lb ? "]" : "";
	char e[512];

	(void)err;
	(void)errlen;
	h->api = *api;
	h->tapi.ops = NULL;
	/* POST /api/v1/triggers defines triggers on this tap (trigger.h) */
	if (h->triggers && trigger_set_agent_api(h->triggers, api, &h->tapi) == 0)
		h->api = h->tapi;
	/* The tap keeps its api: the wrapper (masking header values) is the hub's. */
	if (!h->o->no_redact && agent_api_redact_wrap(h->api, 0, &h->api)) {
		fprintf(stderr, "floe: warning: hub not started (out of memory)\n");
		return 0;
	}
	h->wrapped = !h->o->no_redact;
	if (hub_server_start(&h->api, 1, &opts, &h->srv, e, sizeof(e))) {
		/* Capture matters more than its viewer: say why and go on without it. */
		h->srv = NULL;
		if (h->wrapped)
			h->api.ops->destroy(h->api.self);
		h->wrapped = 0;
		if (h->tapi.ops)
			h->tapi.ops->destroy(h->tapi.self);
		h->tapi.ops = NULL;
		fprintf(stderr,
			"floe: warning: hub not started (%s); capture goes on without it "
			"(--proxy-hub-port PORT for another port, --no-hub to leave it off)\n",
			e);
		return 0;
	}
	if (!opts.ui_dir)
		fprintf(stderr, "floe: the web UI's files are not built (make deps; make): the hub "
				"serves its API only\n");
	fprintf(stderr, "floe: hub API at http://%s%s%s:%d/%s\n", lb, host, rb,
		hub_server_port(h->srv), h->token && *h->token ? " (token required)" : "");
	/* The API's port serves the UI too: a front port that cannot be bound is said, and the
	 * UI is still there. */
	if (opts.front_port && !hub_server_front_port(h->srv))
		fprintf(stderr,
			"floe: warning: web UI port %d not bound (in use, or not an address of "
			"this host); the UI is at http://%s%s%s:%d/\n",
			opts.front_port, lb, host, rb, hub_server_port(h->srv));
	else
		fprintf(stderr, "floe: web UI at http://%s%s%s:%d/\n", lb, host, rb,
			opts.front_port ? hub_server_front_port(h->srv) : hub_server_port(h->srv));
	return 0;
}

static void hub_stop(void *ctx)
{
	struct tap_hub *h = ctx;

	hub_server_stop(h->srv);
	h->srv = NULL;
	if (h->wrapped)
		h->api.ops->destroy(h->api.self);
	h->wrapped = 0;
	if (h->tapi.ops)
		h->tapi.ops->destroy(h->tapi.self);
	h->tapi.ops = NULL;
}

int tap_hub_add(struct tap_options *o, struct tap_hub *h)
{
	struct tap_service svc = {
	    .name = "hub", .start = hub_start, .stop = hub_stop, .ctx = h, .serves = true};

	memset(h, 0, sizeof(*h));
	h->o = o;
	h->token = getenv("FLOE_HUB_TOKEN");
	if (o->no_hub)
		return 0;
	{
		/* The UI beside this binary (build/ui), or an install's ../share/floe/ui. */
		char exe[4096];
		ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (l > 0) {
			exe[l] = '\0';
			if (hub_static_default_dir(exe, h->ui_dir, sizeof(h->ui_dir)))
				h->ui_dir[0] = '\0';
		}
	}
	return tap_options_add_service(o, &svc);
}
