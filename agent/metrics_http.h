/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_http: floe-agent's GET /metrics (--metrics HOST:PORT), the Prometheus text
 * exposition of the agent's statistics (api/metrics_text.h: the same floe_agent_* families a
 * hub serves for it). libwebsockets' HTTP server on a thread of its own, as the hub's API;
 * each scrape asks the agent's stats call, so it costs nothing between scrapes.
 */
#ifndef FLOE_AGENT_METRICS_HTTP_H
#define FLOE_AGENT_METRICS_HTTP_H

#include <stddef.h>

#include "api/agent_api.h"

struct metrics_http;

/*
 * Listen on hostport ("HOST:PORT"; an empty HOST is 127.0.0.1, "[::1]:PORT" for IPv6; port 0:
 * any free one) and serve api's statistics. token: when non-NULL and non-empty, every request
 * needs "Authorization: Bearer TOKEN" (401 otherwise). The api must outlive the server.
 */
int metrics_http_start(const char *hostport, struct agent_api api, const char *token,
		       struct metrics_http **out, char *err, size_t errlen);
int metrics_http_port(const struct metrics_http *m);
void metrics_http_stop(struct metrics_http *m);

#endif /* FLOE_AGENT_METRICS_HTTP_H */
