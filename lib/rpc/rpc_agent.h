/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_agent: struct agent_api (api/agent_api.h) carried over gRPC (proto/floe.proto), both
 * ways. The one module that knows gRPC: the hub and the agent see only struct agent_api.
 *
 *   server: rpc_agent_server_start() exposes any agent_api on HOST:PORT;
 *   client: rpc_agent_client_new() returns an agent_api whose calls go to a remote server.
 *
 * Built on gRPC's C core (grpc/grpc.h, completion queues) and protobuf-c; docs/hub-transport.md
 * says why and gives the figures. Links the core and nothing of the node side.
 */
#ifndef FLOE_RPC_AGENT_H
#define FLOE_RPC_AGENT_H

#include <stddef.h>

#include "api/agent_api.h"

/* Both ends. Zero fields take the defaults named here. */
struct rpc_opts {
	/*
	 * Shared token: the client sends it ("authorization: Bearer TOKEN"), the server refuses a
	 * call without it (gRPC UNAUTHENTICATED, -EACCES at the client). NULL or "": none.
	 * Without TLS it crosses the network in clear text: use it on trusted links or with TLS.
	 */
	const char *token;
	/*
	 * Mutual TLS (PEM files): the server presents cert/key and requires a client certificate
	 * signed by ca; the client presents cert/key and checks the server's against ca. All three
	 * or none. `floe-certs.sh` (selftests/lib/) makes a CA and both pairs.
	 */
	const char *tls_ca, *tls_cert, *tls_key;
	/* Client: the name the server's certificate must carry (default: the address' host). */
	const char *tls_server_name;
	int keepalive_ms;	  /* HTTP/2 ping interval on an idle connection (10000) */
	int keepalive_timeout_ms; /* a ping unanswered this long closes the connection (5000) */
	/* Client only. */
	/*
	 * Deadline of get and stats (30000); query and pcap streams may run longer and fail
	 * when no message came for this long instead.
	 */
	int call_timeout_ms;
	int info_timeout_ms;	/* deadline of info (2000) */
	int backoff_initial_ms; /* reconnect backoff: first wait (250) */
	int backoff_max_ms;	/* reconnect backoff: longest wait (5000) */
	/* Server only. */
	int max_calls; /* calls served at once; more are refused RESOURCE_EXHAUSTED (64) */
};

struct rpc_agent_server;

/*
 * Serve api on listen ("127.0.0.1:8897", "[::]:8897"; port 0 picks one, see
 * rpc_agent_server_port()) until rpc_agent_server_stop(). Each call runs on its own thread
 * and calls api's operation there, so api must allow calls from several threads (as
 * agent_api.h requires). api stays the caller's (not destroyed here). 0, or -errno with err.
 *
 * This is the entry point for floe-agent / floe tap: `--listen HOST:PORT` is
 * rpc_agent_server_start(HOST:PORT, <the local agent_api>, &opts, &srv, ...) after the tap
 * started, rpc_agent_server_stop(srv) before it stops.
 */
int rpc_agent_server_start(const char *listen, struct agent_api api, const struct rpc_opts *opts,
			   struct rpc_agent_server **out, char *err, size_t errlen);
/* The port the server listens on. */
int rpc_agent_server_port(const struct rpc_agent_server *s);
/* Cancel every call (a follower's stop flag is set), wait for them to return, free s. */
void rpc_agent_server_stop(struct rpc_agent_server *s);

/*
 * An agent_api for the agent at address ("host:port"). Connecting is lazy: this does not
 * fail when the agent is down; calls then fail with -ENOTCONN (err says why) and info()
 * reports connected = 0 with the error. The connection is kept up with keepalive pings and
 * re-established with exponential backoff; a follow() in progress resumes by itself once the
 * agent answers again (entries completed meanwhile are not replayed: query() has them).
 * Errors: the server's errno when it sent one (-ENOENT for get() of an unknown id, ...),
 * -ETIMEDOUT past the deadline, -EACCES for a refused token or certificate.
 * 0, or -errno with err (bad options, TLS files unreadable).
 */
int rpc_agent_client_new(const char *address, const struct rpc_opts *opts, struct agent_api *out,
			 char *err, size_t errlen);

#endif /* FLOE_RPC_AGENT_H */
