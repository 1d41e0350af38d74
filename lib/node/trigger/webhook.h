/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook: one HTTP POST and the retry schedule, shared by the triggers' webhook action
 * (trigger.h) and the scripts' webhook() helper (script/script_service.h), so both send and
 * retry the same way (docs/triggers.md, docs/scripting.md).
 */
#ifndef FLOE_WEBHOOK_H
#define FLOE_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#define WEBHOOK_TIMEOUT_NS  (5 * 1000000000LL) /* per attempt */
#define WEBHOOK_RETRIES	    3		       /* after the first attempt */
#define WEBHOOK_BACKOFF_NS  (1000000000LL / 2)  /* before the first retry, doubled after */
#define WEBHOOK_BACKOFF_MAX (60 * 1000000000LL)

/*
 * POST body (len bytes) to url (http:// or https:// only) with the n_headers headers
 * ("Name: value"), within timeout_ns. true when the receiver answered 2xx; else false with why
 * ("Couldn't connect to server", "HTTP status 503", "libcurl cannot be loaded: ..."). Blocking.
 * libcurl is loaded for the call (client/curl_dl.h) unless the caller holds it already: a
 * caller with more to send holds it (curl_dl_get) until its queue is empty.
 */
bool webhook_post(const char *url, const char *body, size_t len, const char *const *headers,
		  size_t n_headers, long long timeout_ns, char *why, size_t wlen);

/* The wait before the retry that follows attempt (0: the first attempt failed): backoff_ns
 * doubled per attempt, at most WEBHOOK_BACKOFF_MAX. */
long long webhook_backoff(long long backoff_ns, int attempt);

#endif /* FLOE_WEBHOOK_H */
