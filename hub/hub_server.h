/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_server: floe-hub's HTTP/WebSocket API over a set of agents (docs/hub.md).
 *
 * The server owns one libwebsockets context and its service thread. Agent calls block (they may
 * cross the network), so they never run on that thread: each request is answered by a worker
 * thread that asks every agent, merges, and hands a finished response (a memory buffer or a
 * spooled file) back to the service thread, which writes it as the socket allows. A WebSocket
 * stream has its own threads: one pumping history and then merged live entries into a bounded
 * per-client queue, and one follow() per agent that never waits (a full queue drops and counts).
 *
 * The caller keeps ownership of the agents; they must outlive the server.
 */
#ifndef FLOE_HUB_SERVER_H
#define FLOE_HUB_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api/agent_api.h"

struct hub_server;

struct hub_server_opts {
	const char *host;      /* address to bind; NULL = "127.0.0.1" */
	int port;	       /* 0 = any free port (hub_server_port() says which) */
	const char *token;     /* when set, every route needs "Authorization: Bearer TOKEN" */
	size_t ws_queue;       /* messages a WebSocket client may have waiting; 0 = 4096 */
	int64_t live_hold_ns;  /* how long live entries wait to be put in time order; 0 = 200 ms,
				  < 0 = none */
	size_t max_limit;      /* largest ?limit= of /api/v1/entries; 0 = 10000 */
	const char *spool_dir; /* where /api/v1/pcap spools its parts; NULL = $TMPDIR or /tmp */
	int max_workers;       /* requests answered at once (more get 503); 0 = 64 */
	const char *ui_dir;    /* the web UI's files (hub_static.h), served at the other paths;
				  NULL = none (404) */
	const char *state_dir; /* where the hub's triggers are kept (hub_triggers.h); NULL: not
				  kept across restarts */
	int trigger_sync_ms;   /* how often agents are checked for the hub's triggers; 0: 1000 */
	int front_port;	       /* a second port serving the same (the UI's, --proxy-front-port);
				  0 = none; not fatal when it cannot be bound:
				  hub_server_front_port() says 0 then */
};

/*
 * Start serving agents[0..n-1]. Returns 0 and *out, or a negative errno with a message in err
 * (the address cannot be bound, ...).
 */
int hub_server_start(struct agent_api *agents, size_t n, const struct hub_server_opts *opts,
		     struct hub_server **out, char *err, size_t errlen);

/* The TCP port it listens on. */
int hub_server_port(const struct hub_server *s);

/* The front port it also listens on; 0 when none was asked for or it could not be bound. */
int hub_server_front_port(const struct hub_server *s);

/*
 * Stop: no new requests, every stream told to end (their follow() calls get stop), workers
 * joined, the context destroyed. NULL is fine.
 */
void hub_server_stop(struct hub_server *s);

#endif /* FLOE_HUB_SERVER_H */
