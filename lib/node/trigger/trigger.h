/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trigger: actions that fire when an entry matches a KFL query (docs/triggers.md).
 *
 *   triggers:
 *     - name: not-found
 *       query: 'http and response.status == 404'
 *       rate_limit: {max: 10, per: 1s}
 *       dedup: {window: 30s, key: request.path}
 *       actions:
 *         - webhook: http://127.0.0.1:9000/hook
 *         - exec: {command: 'jq .entry.id >> /tmp/ids', timeout: 5s}
 *         - log: true
 *         - snapshot: {before: 5s, after: 2s}
 *         - counter: true
 *
 * A trigger set runs as a tap service (tap.h): one thread follows the agent's live entries with
 * the union of the triggers' queries, matches each trigger's query per entry and queues one job
 * per action; worker threads run the jobs (a webhook's retries are jobs again, due later), so
 * neither a slow action nor a flood of matches ever holds up the capture or the follow. Every
 * outcome is counted: matched, rate-limited, de-duplicated, dropped (queue full), sent, retried,
 * failed.
 */
#ifndef FLOE_TRIGGER_H
#define FLOE_TRIGGER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api/agent_api.h"

struct config;
struct tap_service;
struct trigger_set;

/* Jobs waiting for a worker at most; past it a match's jobs are dropped (counted). */
#define TRIGGER_QUEUE_MAX 4096
#define TRIGGER_WORKERS	  2

/*
 * The triggers of c's `triggers:` list, compiled. *out is NULL when there are none. Errors:
 * -EINVAL with "FILE:LINE: triggers[I].KEY: ..." in err. store_dir: where snapshots are kept
 * (STORE/snapshots/); log: where `log` actions and problems are written.
 */
int trigger_set_new(const struct config *c, const char *store_dir, FILE *log,
		    struct trigger_set **out, char *err, size_t errlen);
void trigger_set_free(struct trigger_set *ts);

/* Triggers a hub may define on one agent at most (trigger_set_replace_api). */
#define TRIGGER_API_MAX 256

/* A set with no trigger yet, for a hub to fill (floe-agent, floe tap's hub). */
int trigger_set_empty(const char *store_dir, FILE *log, struct trigger_set **out);

/* Snapshots of all triggers together are kept within a tenth of storage_limit (at least
 * 1 MiB), the oldest removed past it; without this call there is no such bound. */
void trigger_set_snapshot_limit(struct trigger_set *ts, uint64_t storage_limit);

/* After a snapshot of trigger was written to dir: its oldest removed past keep, then the
 * oldest of any trigger while all hold more than max_bytes (0: no such bound). */
void trigger_snapshots_trim(const char *dir, const char *trigger, long keep, uint64_t max_bytes);

/*
 * A hub's triggers (json: a list of trigger objects, as in the configuration file, in JSON)
 * replace the ones it gave before; the configuration file's stay. All or none: -EINVAL with
 * "KEY: problem" in err (a name the file has is refused; so are exec and log to a file, which
 * would let an API caller run commands or write files on the node). The follow restarts with
 * the new union of queries. version: the hub's name for the set (trigger_set_list_json).
 */
int trigger_set_replace_api(struct trigger_set *ts, const char *version, const char *json,
			    char *err, size_t errlen);

/* {"version": V, "triggers": [{...definition, "source": "config"|"api", "counters": {...}}]}
 * (malloc'ed; NULL on ENOMEM). */
char *trigger_set_list_json(struct trigger_set *ts);

/* STORE/snapshots/ as [{"name", "trigger", "entry_id", "size", "mtime_ns"}] (malloc'ed). */
char *trigger_set_snapshots_json(struct trigger_set *ts);

/* One snapshot's bytes to fn; the name is checked (snapshot_name.h) before anything is
 * opened: -EINVAL, -ENOENT. */
int trigger_set_snapshot_read(struct trigger_set *ts, const char *name, agent_bytes_fn fn,
			      void *arg, char *err, size_t errlen);

/* inner with the triggers' calls of agent_api (triggers_set, triggers_list, snapshots,
 * snapshot) answered by ts: what floe-agent serves to a hub. out->ops->destroy frees the
 * wrapper, not inner. */
int trigger_set_agent_api(struct trigger_set *ts, const struct agent_api *inner,
			  struct agent_api *out);

/* The tap service that runs ts (start/stop/finish/stats_json; ts must outlive the tap). */
void trigger_set_service(struct trigger_set *ts, struct tap_service *svc);

/* The union of the triggers' queries: what the follow asks the agent for. */
const char *trigger_set_filter(const struct trigger_set *ts);

/*
 * One entry through every trigger, as the follow thread does: matching, de-dup, rate limit
 * and the jobs queued. Returns how many triggers matched. Usable without the service's
 * threads (tests, the benchmark); jobs then wait in the queue (and are dropped when full).
 */
int trigger_set_offer(struct trigger_set *ts, const struct agent_entry *e);

/* The counters as a JSON object text (malloc'ed; NULL on ENOMEM). */
char *trigger_set_stats_json(struct trigger_set *ts);

#endif /* FLOE_TRIGGER_H */
