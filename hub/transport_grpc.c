// SPDX-License-Identifier: Apache-2.0
/*
 * floe-hub's transport: the agents named by --agents are gRPC servers (floe-agent --listen);
 * each is presented as a struct agent_api by the rpc client (lib/rpc/rpc_agent.h), which
 * connects lazily and reconnects with backoff.
 */
#include "hub_transport.h"
#include "rpc_agent.h"

static int grpc_connect(const char *address, const char *token, struct agent_api *out, char *err,
			size_t errlen)
{
	struct rpc_opts o = {.token = token};

	return rpc_agent_client_new(address, &o, out, err, errlen);
}

static const struct hub_transport grpc_transport = {
    .name = "grpc",
    .connect = grpc_connect,
};

const struct hub_transport *hub_transport(void)
{
	return &grpc_transport;
}
