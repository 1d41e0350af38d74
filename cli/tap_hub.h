/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap_hub: the hub of `floe tap` (local mode), in-process. A tap_service (tap/tap.h) that serves
 * the hub's HTTP API (hub/hub_server.h) over the tap's own agent_api on --proxy-host and
 * --proxy-hub-port, and the web UI (with the API) on --proxy-front-port, as floe-hub does. The
 * hub never stops capture: a port it cannot bind is a warning.
 */
#ifndef FLOE_TAP_HUB_H
#define FLOE_TAP_HUB_H

#include "tap/tap.h"

#define TAP_HUB_DEFAULT_PORT 8898       /* --proxy-hub-port: the API */
#define TAP_HUB_DEFAULT_FRONT_PORT 8899 /* --proxy-front-port: the UI (and the API) */

struct hub_server;

struct tap_hub {
	const struct tap_options *o;
	const char *token;    /* $FLOE_HUB_TOKEN: every route needs it when set */
	struct agent_api api; /* the tap's, or the masking wrapper over it (wrapped) */
	int wrapped;
	/* the tap's triggers (set by the caller after tap_hub_add; NULL: none): the hub's
	 * trigger routes reach them through tapi, the tap's api with the triggers' calls */
	struct trigger_set *triggers;
	struct agent_api tapi;
	struct hub_server *srv; /* NULL when it is not serving */
	char ui_dir[4096];      /* the web UI's files (hub_static_default_dir); "" when absent */
};

/*
 * Add the hub to o's services unless --no-hub (h must outlive the tap run). 0, or -1 when o has
 * no room for another service.
 */
int tap_hub_add(struct tap_options *o, struct tap_hub *h);

#endif /* FLOE_TAP_HUB_H */
