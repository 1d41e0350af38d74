/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_transport: how floe-hub reaches the agents named by --agents host:port,...
 *
 * One transport is linked into floe-hub: the gRPC client (issue 16's transport module) fills
 * it; until it is linked, hub_transport() is NULL and floe-hub says so instead of starting
 * with no agents. Tests and `floe tap` give hub_server_start() their agents directly.
 */
#ifndef FLOE_HUB_TRANSPORT_H
#define FLOE_HUB_TRANSPORT_H

#include <stddef.h>

#include "api/agent_api.h"

struct hub_transport {
	const char *name;
	/*
	 * Present the agent at address ("10.0.0.2:8897") as *out. It may connect lazily (an
	 * agent that is down now is reported by info() and retried). token: the shared token
	 * agents require, or NULL. 0, or a negative errno with a message in err.
	 */
	int (*connect)(const char *address, const char *token, struct agent_api *out, char *err,
		       size_t errlen);
};

/* The transport linked into this build, or NULL. */
const struct hub_transport *hub_transport(void);

#endif /* FLOE_HUB_TRANSPORT_H */
