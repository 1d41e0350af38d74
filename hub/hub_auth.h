/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_auth: the bearer-token check of the HTTP servers built on libwebsockets (the hub's API,
 * floe-agent's /metrics): one place for the comparison that must not leak the token.
 */
#ifndef FLOE_HUB_AUTH_H
#define FLOE_HUB_AUTH_H

#include <stddef.h>

struct lws;

/* want == got[0..gl), in constant time in want's bytes (no early exit on a difference). */
int hub_same_secret(const char *want, const char *got, size_t gl);

/* 1 when token is NULL (none required) or the request says "Authorization: Bearer TOKEN". */
int hub_bearer_ok(struct lws *wsi, const char *token);

#endif /* FLOE_HUB_AUTH_H */
