/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_triggers: the triggers a hub defines on its agents (POST/GET/DELETE /api/v1/triggers,
 * docs/triggers.md, docs/hub.md).
 *
 * The hub keeps its set (a JSON list of trigger objects, as in the configuration file) in
 * STATE_DIR/triggers.json and names each version of it by a hash. The triggers run on the
 * agents (agent_api's triggers_set): a change is sent to every agent at once, and a thread
 * asks every agent each second which version it holds and sends the set again to one that
 * holds another (an agent that restarted, or was down when the set changed).
 *
 * Answers are an HTTP status and a JSON body, which hub_server writes.
 */
#ifndef FLOE_HUB_TRIGGERS_H
#define FLOE_HUB_TRIGGERS_H

#include <stddef.h>

#include <jansson.h>

#include "api/agent_api.h"

struct hub_triggers;

/* Largest request body taken (one trigger). */
#define HUB_TRIGGER_BODY_MAX (64 << 10)

/*
 * agents[0..n-1] (they outlive it), names their names as /api/v1/agents gives them.
 * state_dir: where triggers.json is kept (made 0700 when absent); NULL: not kept (a restart of
 * the hub forgets them). sync_ms: how often agents are checked (0: 1000). A file that cannot
 * be read or holds a bad trigger is an error (-EINVAL with the file and why).
 */
int hub_triggers_new(struct agent_api *agents, size_t n, const char *state_dir, int sync_ms,
		     struct hub_triggers **out, char *err, size_t errlen);
void hub_triggers_free(struct hub_triggers *h);

/*
 * The routes: each returns the HTTP status and sets *body (a new reference). names[i] is
 * agent i's name. name: NULL for the list.
 */
int hub_triggers_get(struct hub_triggers *h, char (*names)[64], const char *name,
		     json_t **body);
int hub_triggers_post(struct hub_triggers *h, char (*names)[64], const char *req, size_t len,
		      json_t **body);
int hub_triggers_delete(struct hub_triggers *h, char (*names)[64], const char *name,
			json_t **body);

/*
 * A trigger object checked as far as the hub can without an agent: its keys, name, query
 * (against the schema: the message has the KFL column), actions by kind (exec and log to a
 * file are refused: through the API they would run commands and write files on every node).
 * 0, or -EINVAL with the message in err and, for a query, its column in *column (else 0).
 */
int hub_trigger_check(const json_t *t, char *err, size_t errlen, int *column);

#endif /* FLOE_HUB_TRIGGERS_H */
