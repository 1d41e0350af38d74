/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_stream: one WebSocket client's stream (GET /api/v1/stream): history, then live entries
 * of every agent merged, as JSON text messages (docs/hub.md says their shapes):
 *   {"type":"entry","entry":{...}}       an entry as `floe read --json` prints it
 *   {"type":"live"}                       history is over; what follows is live
 *   {"type":"lost","lost":N,"total":T}    N entries were lost since the last such message (this
 *                                         client was slow: at the hub or at an agent)
 *   {"type":"agent","agent":NAME,"error":MSG}  an agent failed; its live part is retried
 * With batch >= 1 (the client asked `?batch=N`), every WebSocket message is instead a JSON array
 * of up to N of these, in the same order: one message (one task in a browser) for many entries.
 *
 * Threads: a pump (history pages, then the live merge) and one follow() per agent. History is
 * not lossy: the pump waits for room in the client's queue (the agents' history queries wait
 * with it). Live entries never wait: follow() callbacks only append to a bounded buffer, and
 * what does not fit is counted as lost. Live entries are held up to hold_ns to be released in
 * time order across agents (earlier when every agent has sent a later one), and those the
 * history already gave are dropped, not sent twice. Batching never changes what is queued or
 * lost: messages are joined when the client side pops them, and the client side is only woken
 * once a batch is full, batch_ns has passed since the first message waited, or a history page
 * or a notice ends (so a batch waits at most batch_ns, or the end of a page).
 */
#ifndef FLOE_HUB_STREAM_H
#define FLOE_HUB_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "api/agent_api.h"
#include "hub_metrics.h"

/* Bytes reserved before each message (the WebSocket library's header room). */
#define HUB_STREAM_PRE 16
/* A batch stops growing at this many bytes of text (one message larger still goes alone). */
#define HUB_STREAM_BATCH_BYTES (1024 * 1024)
/* The largest batch a client may ask for, and the longest wait (ms). */
#define HUB_STREAM_BATCH_MAX	4096
#define HUB_STREAM_BATCH_MS_MAX 1000

struct hub_stream;

struct hub_stream_cfg {
	struct agent_api *agents;
	size_t n;
	const char *filter;  /* copied */
	int64_t since_ns;    /* history from here; 0 = all */
	size_t queue_cap;    /* messages waiting for the client, and live entries held, each */
	int64_t hold_ns;     /* < 0: none */
	size_t history_page; /* entries asked per history query; 0 = 512 */
	size_t batch;	     /* messages joined into one JSON array; 0: one each, no array */
	int64_t batch_ns;    /* with batch: longest a message waits for its batch to fill */
	struct hub_metrics *metrics;
	/* Called (any thread) when the queue becomes non-empty. */
	void (*wake)(void *arg);
	/* Called by the pump thread as its last act, once everything is freed or about to be. */
	void (*done)(void *arg);
	void *arg;
};

/* Start the pump and the follow threads. 0, or a negative errno. */
int hub_stream_start(const struct hub_stream_cfg *cfg, struct hub_stream **out);

/*
 * The next message for the client, or NULL (*len 0) when none waits. The message is malloc'ed
 * with HUB_STREAM_PRE bytes of room before it; free it with hub_stream_msg_free(). *more is
 * set when another waits. With batch it is the array of up to batch waiting messages.
 */
char *hub_stream_pop(struct hub_stream *st, size_t *len, int *more);
void hub_stream_msg_free(char *msg);

/*
 * The client is gone (or the server stops): the threads end soon after and free the stream;
 * st must not be used after this call.
 */
void hub_stream_close(struct hub_stream *st);

#endif /* FLOE_HUB_STREAM_H */
