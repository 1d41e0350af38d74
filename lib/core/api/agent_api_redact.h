/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_api_redact: wrappers around an agent_api that rewrite the entries it gives.
 *
 * Redaction: sensitive header values masked (docs/hub.md, "Redaction"). The values of
 * authorization, proxy-authorization, cookie and set-cookie in request.headers and
 * response.headers become "[REDACTED]", and so do the values of request.cookies and
 * response.cookies (parsed from those headers). The names stay, so a reader sees what was
 * sent. On by default in floe-hub and floe tap's hub (--no-redact turns it off), and in
 * floe-agent with --redact around what its --listen serves. Packets (/api/v1/pcap) are not
 * rewritten. It lives in the core, beside the API it wraps, so that floe-agent takes it
 * without the hub's library.
 *
 * Naming: each entry with its agent's name, for the hub.
 */
#ifndef FLOE_AGENT_API_REDACT_H
#define FLOE_AGENT_API_REDACT_H

#include <stddef.h>

#include "api/agent_api.h"
#include "entry/entry_json.h"

#define AGENT_API_REDACTED "[REDACTED]"

/*
 * One entry's JSON text (untrusted). 0: nothing to mask (use json as it is); 1: out holds the
 * masked entry, printed as floe prints entries (out->len = 0 first); -EINVAL when it is not a
 * JSON object, -ENOMEM.
 */
int agent_api_redact_entry(const char *json, size_t len, struct entry_json_buf *out);

/*
 * An agent_api over inner whose query, get and follow give masked entries; pcap, stats and
 * info pass through. own: destroying it destroys inner too. 0 or -ENOMEM.
 */
int agent_api_redact_wrap(struct agent_api inner, int own, struct agent_api *out);

/*
 * An agent_api over inner (not owned) whose query, get and follow give each entry with its
 * agent's name as its last member, `"agent": NAME` (docs/entries.md): inner's info() name,
 * else "agent<index>" as /api/v1/agents says. The agents keep no name in their entries (a
 * filter on `agent` is matched by the agent with its own name); the hub names what it serves
 * through this. 0 or -ENOMEM.
 */
int agent_api_name_wrap(struct agent_api inner, size_t index, struct agent_api *out);

/* One entry's JSON object text with `"agent": name` appended into out (out->len = 0 first).
 * 0, -EINVAL when it does not end an object, -ENOMEM. */
int agent_api_name_entry(const char *json, size_t len, const char *name,
			 struct entry_json_buf *out);

#endif /* FLOE_AGENT_API_REDACT_H */
