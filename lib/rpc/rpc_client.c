// SPDX-License-Identifier: Apache-2.0
/*
 * The client side: a remote agent as a struct agent_api.
 *
 * Calls block the caller's thread, as agent_api's do: each call has its own completion queue
 * and plucks its own events, one at a time, so a slow callback leaves the next message unread
 * and HTTP/2 flow control stops the server (nothing piles up here). Waits are cut into short
 * slices so that a follower's stop flag is seen within RPC_STOP_POLL_MS. One channel per
 * agent: gRPC reconnects it with exponential backoff; follow() starts its stream again
 * (wait-for-ready) until stopped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "api/entry_proto.h"
#include "protocols/grpc_status.h"
#include "rpc_common.h"

#define RPC_STOP_POLL_MS 50

struct cli {
	grpc_channel *ch;
	struct rpc_conf conf;
	char address[128];
	char *auth;
	pthread_mutex_t mu;
	/* under mu */
	int connected, ever;
	int64_t last_seen_ns;
	char error[256];
	char name[64], node[64], version[32];
};

struct ccall {
	struct cli *cl;
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_metadata_array initial, trailing;
	grpc_status_code status;
	grpc_slice details;
	grpc_byte_buffer *recv;
	int answered; /* the server's headers came */
	int idle_ms;  /* streams: cancel when nothing came for this long (0: no such limit) */
	int timed_out;
	char t_send, t_md, t_recv, t_status; /* their addresses are the tags */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_state(struct cli *cl, int connected, const char *error)
{
	pthread_mutex_lock(&cl->mu);
	cl->connected = connected;
	if (connected) {
		cl->ever = 1;
		cl->last_seen_ns = now_ns();
		cl->error[0] = 0;
	} else {
		snprintf(cl->error, sizeof(cl->error), "%s", error);
	}
	pthread_mutex_unlock(&cl->mu);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for tag; when stop is set (before or meanwhile), or nothing came for the call's idle
 * limit, cancel the call (the tag then completes). Returns the event's success, 0 once stopped.
 *
 * stop is looked at before every wait, not only when a wait times out: a stream whose messages
 * come at least every RPC_STOP_POLL_MS (a busy follow) completes every wait at once, and a stop
 * seen only on a timeout would never be seen (test_restart's hang: the follow kept receiving).
 */
static int wait_tag(struct ccall *c, void *tag, volatile int *stop)
{
	int64_t until = c->idle_ms ? mono_ms() + c->idle_ms : 0;
	int cancelled = 0, slices = stop || until;

	for (;;) {
		grpc_event ev;

		if (!cancelled && stop && *stop) {
			grpc_call_cancel(c->call, NULL);
			cancelled = 1;
		}
		ev = grpc_completion_queue_pluck(c->cq, tag,
						 slices ? rpc_deadline_ms(RPC_STOP_POLL_MS)
							: gpr_inf_future(GPR_CLOCK_REALTIME),
						 NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			return cancelled ? 0 : ev.success;
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return 0;
		if (cancelled)
			continue;
		if (until && mono_ms() >= until) {
			c->timed_out = 1;
			grpc_call_cancel(c->call, NULL);
			cancelled = 1;
		} else if (stop && *stop) {
			grpc_call_cancel(c->call, NULL);
			cancelled = 1;
		}
	}
}

static int start_batch(struct ccall *c, const grpc_op *ops, size_t n, void *tag)
{
	return grpc_call_start_batch(c->call, ops, n, tag, NULL) == GRPC_CALL_OK ? 0 : -EPROTO;
}

/*
 * Start method with request req: headers (the token, wait-for-ready when asked), the request,
 * half-close, and the status op that completes at the end. Then wait for the server's headers.
 */
static int call_start(struct cli *cl, struct ccall *c, const char *method,
		      const ProtobufCMessage *req, gpr_timespec deadline, int idle_ms,
		      int wait_ready, volatile int *stop)
{
	grpc_metadata md;
	grpc_op ops[3];
	grpc_byte_buffer *bb;
	int rc;

	memset(c, 0, sizeof(*c));
	c->cl = cl;
	c->idle_ms = idle_ms;
	grpc_metadata_array_init(&c->initial);
	grpc_metadata_array_init(&c->trailing);
	c->details = grpc_empty_slice();
	c->status = GRPC_STATUS_UNKNOWN;
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	c->call =
	    grpc_channel_create_call(cl->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
				     grpc_slice_from_static_string(method), NULL, deadline, NULL);
	if (!c->call)
		return -ENOMEM;
	memset(ops, 0, sizeof(ops));
	memset(&md, 0, sizeof(md));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (cl->auth) {
		md.key = grpc_slice_from_static_string("authorization");
		md.value = grpc_slice_from_static_string(cl->auth);
		ops[0].data.send_initial_metadata.count = 1;
		ops[0].data.send_initial_metadata.metadata = &md;
	}
	if (wait_ready)
		ops[0].flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY;
	if (!(bb = rpc_pack(req)))
		return -ENOMEM;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	rc = start_batch(c, ops, 3, &c->t_send);
	if (!rc) {
		grpc_op st;

		memset(&st, 0, sizeof(st));
		st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
		st.data.recv_status_on_client.trailing_metadata = &c->trailing;
		st.data.recv_status_on_client.status = &c->status;
		st.data.recv_status_on_client.status_details = &c->details;
		if ((rc = start_batch(c, &st, 1, &c->t_status)))
			return rc;
		wait_tag(c, &c->t_send, stop); /* a failure shows in the status */
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[0].data.recv_initial_metadata.recv_initial_metadata = &c->initial;
		if (!start_batch(c, ops, 1, &c->t_md) && wait_tag(c, &c->t_md, stop)) {
			c->answered = 1;
			set_state(cl, 1, NULL);
		}
	}
	grpc_byte_buffer_destroy(bb);
	return rc;
}

/* The next message: 1 (in *s, to unref), 0 at the stream's end or when the call failed. */
static int call_next(struct ccall *c, grpc_slice *s, volatile int *stop)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv;
	c->recv = NULL;
	if (start_batch(c, &op, 1, &c->t_recv) || !wait_tag(c, &c->t_recv, stop) || !c->recv) {
		/* a message that came as the call was stopped is dropped */
		grpc_byte_buffer_destroy(c->recv);
		c->recv = NULL;
		return 0;
	}
	*s = rpc_slice(c->recv);
	grpc_byte_buffer_destroy(c->recv);
	c->recv = NULL;
	return 1;
}

/* The server's errno from the trailing metadata, 0 when it sent none. */
static int trailer_errno(const grpc_metadata_array *t)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (!grpc_slice_str_cmp(t->metadata[i].key, RPC_ERRNO_KEY)) {
			char num[16];
			size_t n = GRPC_SLICE_LENGTH(t->metadata[i].value);
			int v;

			if (n >= sizeof(num))
				return 0;
			memcpy(num, GRPC_SLICE_START_PTR(t->metadata[i].value), n);
			num[n] = 0;
			v = atoi(num);
			return v > 0 && v < 4096 ? -v : 0;
		}
	return 0;
}

/*
 * End the call (cancelled first when cancel): its status as 0 or -errno with err, then free
 * it. A transport failure marks the agent disconnected.
 */
static int call_finish(struct ccall *c, int cancel, char *err, size_t errlen)
{
	struct cli *cl = c->cl;
	int rc = 0;

	if (c->call) {
		if (cancel)
			grpc_call_cancel(c->call, NULL);
		c->idle_ms = 0;
		wait_tag(c, &c->t_status, NULL);
		if (c->timed_out) {
			snprintf(err, errlen, "agent %s: nothing came for %d ms (deadline)",
				 cl->address, cl->conf.call_timeout_ms);
			rc = -ETIMEDOUT;
		} else if (c->status != GRPC_STATUS_OK) {
			char *d = grpc_slice_to_c_string(c->details);

			rc = trailer_errno(&c->trailing);
			if (!rc)
				rc = rpc_errno_of_status(c->status);
			snprintf(err, errlen, "agent %s: %s (%s)", cl->address,
				 d && *d ? d : "failed", grpc_status_name(c->status) ?: "UNKNOWN");
			gpr_free(d);
			if (!c->answered && (c->status == GRPC_STATUS_UNAVAILABLE ||
					     c->status == GRPC_STATUS_DEADLINE_EXCEEDED))
				set_state(cl, 0, err);
		}
		grpc_call_unref(c->call);
	}
	grpc_metadata_array_destroy(&c->initial);
	grpc_metadata_array_destroy(&c->trailing);
	grpc_slice_unref(c->details);
	grpc_completion_queue_shutdown(c->cq);
	grpc_completion_queue_destroy(c->cq);
	return rc;
}

static int proto_error(char *err, size_t errlen, const struct cli *cl, const char *what)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", err);
	snprintf(err, errlen, "agent %s: %s: %s", cl->address, what, why);
	return -EPROTO;
}

/* ---- the operations ---- */

static void request_of(const struct agent_query *q, Floe__V1__QueryRequest *r)
{
	floe__v1__query_request__init(r);
	r->filter = (char *)(q->filter ? q->filter : "");
	r->since_ns = q->since_ns;
	r->until_ns = q->until_ns;
	r->limit = q->limit;
	r->after_ts_ns = q->after_ts_ns;
	r->after_id = (char *)(q->after_id ? q->after_id : "");
	r->with_bodies = !!q->with_bodies;
}

/* Each entry of m (an Entry, or an EntryBatch when batch) to fn; 1 when fn said stop, -errno. */
static int deliver(const grpc_slice *s, int batch, struct entry_json_buf *b, agent_entry_fn fn,
		   void *arg, char *err, size_t errlen)
{
	const uint8_t *p = GRPC_SLICE_START_PTR(*s);
	size_t len = GRPC_SLICE_LENGTH(*s), i;
	Floe__V1__EntryBatch *m;
	struct agent_entry e;
	int rc = 0;

	if (!batch) {
		Floe__V1__Entry *one;

		b->len = 0;
		if ((rc = entry_proto_unpack(p, len, &one, b, &e, err, errlen)))
			return rc;
		rc = fn(&e, arg) != 0;
		floe__v1__entry__free_unpacked(one, NULL);
		return rc;
	}
	if (proto_depth_check(PROTO_ROOT_BATCH, p, len) ||
	    !(m = floe__v1__entry_batch__unpack(NULL, len, p))) {
		snprintf(err, errlen, "not an EntryBatch message, or nested too deep");
		return -EINVAL;
	}
	for (i = 0; i < m->n_entries && !rc; i++) {
		b->len = 0;
		rc = entry_proto_to_agent_entry(m->entries[i], b, &e, err, errlen);
		if (!rc)
			rc = fn(&e, arg) != 0;
	}
	floe__v1__entry_batch__free_unpacked(m, NULL);
	return rc;
}

/* A stream of entries (query: EntryBatch messages, get: Entry messages) to fn. */
static int entry_stream(struct cli *cl, const char *method, const ProtobufCMessage *req,
			agent_entry_fn fn, void *arg, char *err, size_t errlen)
{
	int batch = !strcmp(method, RPC_METHOD_QUERY);
	struct entry_json_buf b = {0};
	struct ccall c;
	grpc_slice s;
	int rc, stopped = 0, bad = 0;

	/* History streams may be long: their limit is a time without a message, not a total. */
	rc = batch ? call_start(cl, &c, method, req, gpr_inf_future(GPR_CLOCK_REALTIME),
				cl->conf.call_timeout_ms, 0, NULL)
		   : call_start(cl, &c, method, req, rpc_deadline_ms(cl->conf.call_timeout_ms), 0,
				0, NULL);
	while (!rc && !stopped && !bad && call_next(&c, &s, NULL)) {
		int r = deliver(&s, batch, &b, fn, arg, err, errlen);

		stopped = r > 0;
		bad = r < 0;
		grpc_slice_unref(s);
	}
	entry_json_buf_free(&b);
	if (bad) {
		call_finish(&c, 1, NULL, 0);
		return proto_error(err, errlen, cl, "a bad entry");
	}
	rc = call_finish(&c, stopped, err, errlen) ?: rc;
	return stopped ? 0 : rc;
}

static int c_query(void *self, const struct agent_query *q, agent_entry_fn fn, void *arg, char *err,
		   size_t errlen)
{
	Floe__V1__QueryRequest r;

	request_of(q, &r);
	return entry_stream(self, RPC_METHOD_QUERY, &r.base, fn, arg, err, errlen);
}

static int c_get(void *self, const char *id, agent_entry_fn fn, void *arg, char *err, size_t errlen)
{
	Floe__V1__GetRequest r = FLOE__V1__GET_REQUEST__INIT;

	r.id = (char *)id;
	return entry_stream(self, RPC_METHOD_GET, &r.base, fn, arg, err, errlen);
}

/* A stream of PcapChunk messages (Pcap, GetSnapshot) to fn. */
static int pcap_stream(struct cli *cl, const char *method, const ProtobufCMessage *req,
		       agent_bytes_fn fn, void *arg, char *err, size_t errlen)
{
	struct ccall c;
	grpc_slice s;
	int rc, stopped = 0, bad = 0;

	rc = call_start(cl, &c, method, req, gpr_inf_future(GPR_CLOCK_REALTIME),
			cl->conf.call_timeout_ms, 0, NULL);
	while (!rc && !stopped && !bad && call_next(&c, &s, NULL)) {
		Floe__V1__PcapChunk *m = floe__v1__pcap_chunk__unpack(NULL, GRPC_SLICE_LENGTH(s),
								      GRPC_SLICE_START_PTR(s));

		if (!m)
			bad = 1;
		else {
			stopped = m->data.len && fn(m->data.data, m->data.len, arg) != 0;
			floe__v1__pcap_chunk__free_unpacked(m, NULL);
		}
		grpc_slice_unref(s);
	}
	if (bad) {
		call_finish(&c, 1, NULL, 0);
		snprintf(err, errlen, "not a PcapChunk message");
		return proto_error(err, errlen, cl, "a bad PCAP chunk");
	}
	rc = call_finish(&c, stopped, err, errlen) ?: rc;
	return stopped ? 0 : rc;
}

static int c_pcap(void *self, const struct agent_query *q, agent_bytes_fn fn, void *arg, char *err,
		  size_t errlen)
{
	Floe__V1__QueryRequest r;

	request_of(q, &r);
	return pcap_stream(self, RPC_METHOD_PCAP, &r.base, fn, arg, err, errlen);
}

static int c_snapshot(void *self, const char *name, agent_bytes_fn fn, void *arg, char *err,
		      size_t errlen)
{
	Floe__V1__GetSnapshotRequest r = FLOE__V1__GET_SNAPSHOT_REQUEST__INIT;

	r.name = (char *)name;
	return pcap_stream(self, RPC_METHOD_GET_SNAPSHOT, &r.base, fn, arg, err, errlen);
}

/* A call answered by one JSON value as field 1 of its reply (StatsReply, TriggersReply,
 * SnapshotsReply: the same wire form), into *json_out. what: the answer, for messages. */
static int json_call(struct cli *cl, const char *method, const ProtobufCMessage *req,
		     const char *what, char **json_out, char *err, size_t errlen)
{
	struct entry_json_buf b = {0};
	struct ccall c;
	grpc_slice s;
	int rc, got = 0, bad = 0;

	*json_out = NULL;
	rc = call_start(cl, &c, method, req, rpc_deadline_ms(cl->conf.call_timeout_ms), 0, 0,
			NULL);
	if (!rc && call_next(&c, &s, NULL)) {
		Floe__V1__StatsReply *m = NULL;

		if (proto_depth_check(PROTO_ROOT_STATS, GRPC_SLICE_START_PTR(s),
				      GRPC_SLICE_LENGTH(s)) ||
		    !(m = floe__v1__stats_reply__unpack(NULL, GRPC_SLICE_LENGTH(s),
							GRPC_SLICE_START_PTR(s)))) {
			snprintf(err, errlen, "not a %s message", what);
			bad = 1;
		} else if (value_proto_to_json(m->stats, &b, err, errlen) ||
			   entry_json_append_raw(&b, "", 1)) {
			bad = 1;
		} else {
			got = 1;
		}
		if (m)
			floe__v1__stats_reply__free_unpacked(m, NULL);
		grpc_slice_unref(s);
	}
	if (bad) {
		call_finish(&c, 1, NULL, 0);
		entry_json_buf_free(&b);
		return proto_error(err, errlen, cl, what);
	}
	rc = call_finish(&c, 0, err, errlen) ?: rc;
	if (!rc && !got) {
		snprintf(err, errlen, "agent %s: no %s in the answer", cl->address, what);
		rc = -EPROTO;
	}
	if (rc)
		entry_json_buf_free(&b);
	else
		*json_out = b.p; /* NUL-terminated above */
	return rc;
}

static int c_stats(void *self, char **json_out, char *err, size_t errlen)
{
	Floe__V1__StatsRequest r = FLOE__V1__STATS_REQUEST__INIT;

	return json_call(self, RPC_METHOD_STATS, &r.base, "statistics", json_out, err, errlen);
}

static int c_triggers_set(void *self, const char *version, const char *json, char *err,
			  size_t errlen)
{
	Floe__V1__SetTriggersRequest r = FLOE__V1__SET_TRIGGERS_REQUEST__INIT;
	struct entry_proto_packer pk = {0};
	char *answer = NULL;
	int rc;

	/* the list as a Value: packed, then read back as protobuf-c's message */
	rc = value_proto_pack_json(&pk, json, strlen(json), err, errlen);
	if (!rc && !(r.triggers = floe__v1__value__unpack(NULL, pk.len, pk.out))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	r.version = (char *)(version ? version : "");
	if (!rc)
		rc = json_call(self, RPC_METHOD_SET_TRIGGERS, &r.base, "TriggersReply", &answer,
			       err, errlen);
	if (r.triggers)
		floe__v1__value__free_unpacked(r.triggers, NULL);
	entry_proto_packer_free(&pk);
	free(answer);
	return rc;
}

static int c_triggers_list(void *self, char **json_out, char *err, size_t errlen)
{
	Floe__V1__ListTriggersRequest r = FLOE__V1__LIST_TRIGGERS_REQUEST__INIT;

	return json_call(self, RPC_METHOD_LIST_TRIGGERS, &r.base, "TriggersReply", json_out, err,
			 errlen);
}

static int c_snapshots(void *self, char **json_out, char *err, size_t errlen)
{
	Floe__V1__ListSnapshotsRequest r = FLOE__V1__LIST_SNAPSHOTS_REQUEST__INIT;

	return json_call(self, RPC_METHOD_LIST_SNAPSHOTS, &r.base, "SnapshotsReply", json_out, err,
			 errlen);
}

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static void c_info(void *self, struct agent_info *out)
{
	struct cli *cl = self;
	Floe__V1__InfoRequest r = FLOE__V1__INFO_REQUEST__INIT;
	char err[256] = "";
	struct ccall c;
	grpc_slice s;
	int rc;

	rc = call_start(cl, &c, RPC_METHOD_INFO, &r.base, rpc_deadline_ms(cl->conf.info_timeout_ms),
			0, 0, NULL);
	if (!rc && call_next(&c, &s, NULL)) {
		Floe__V1__InfoReply *m = floe__v1__info_reply__unpack(NULL, GRPC_SLICE_LENGTH(s),
								      GRPC_SLICE_START_PTR(s));

		if (m) {
			pthread_mutex_lock(&cl->mu);
			copy_str(cl->name, sizeof(cl->name), m->name);
			copy_str(cl->node, sizeof(cl->node), m->node);
			copy_str(cl->version, sizeof(cl->version), m->version);
			pthread_mutex_unlock(&cl->mu);
			floe__v1__info_reply__free_unpacked(m, NULL);
		}
		grpc_slice_unref(s);
	}
	rc = call_finish(&c, 0, err, sizeof(err)) ?: rc;
	if (rc && c.answered) /* it answered, but refused (a wrong token): not usable either */
		set_state(cl, 0, err);
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&cl->mu);
	copy_str(out->name, sizeof(out->name), cl->name);
	copy_str(out->node, sizeof(out->node), cl->node);
	copy_str(out->version, sizeof(out->version), cl->version);
	copy_str(out->address, sizeof(out->address), cl->address);
	out->connected = cl->connected;
	out->last_seen_ns = cl->last_seen_ns;
	copy_str(out->error, sizeof(out->error), cl->connected ? "" : cl->error);
	pthread_mutex_unlock(&cl->mu);
}

/* Errors that another try will not cure. */
static int permanent(int rc)
{
	return rc == -EACCES || rc == -EINVAL || rc == -ENOSYS || rc == -ENOENT || rc == -EPROTO;
}

static void sleep_ms_or_stop(int ms, volatile int *stop)
{
	struct timespec ts = {0, RPC_STOP_POLL_MS * 1000000L};

	for (; ms > 0 && !*stop; ms -= RPC_STOP_POLL_MS)
		nanosleep(&ts, NULL);
}

static int c_follow(void *self, const char *filter, struct agent_follow *f, agent_entry_fn fn,
		    void *arg, char *err, size_t errlen)
{
	struct cli *cl = self;
	Floe__V1__FollowRequest r = FLOE__V1__FOLLOW_REQUEST__INIT;
	struct entry_json_buf b = {0};
	int backoff = cl->conf.backoff_initial_ms, rc = 0;
	uint64_t lost_before = f->lost; /* the server counts per subscription */

	r.filter = (char *)(filter ? filter : "");
	while (!f->stop) {
		struct ccall c;
		grpc_slice s;
		int stopped = 0, bad = 0;

		/* Wait-for-ready: while the agent is away the call waits for the channel to
		 * reconnect (gRPC's backoff) instead of failing at once. */
		rc = call_start(cl, &c, RPC_METHOD_FOLLOW, &r.base,
				gpr_inf_future(GPR_CLOCK_REALTIME), 0, 1, &f->stop);
		/* as near as a client can tell: the agent subscribes when it gets the call */
		if (!rc)
			agent_follow_started(f);
		if (c.answered)
			backoff = cl->conf.backoff_initial_ms;
		while (!rc && !stopped && !bad && !f->stop && call_next(&c, &s, &f->stop)) {
			Floe__V1__FollowMessage *m = NULL;
			struct agent_entry e;

			if (proto_depth_check(PROTO_ROOT_FOLLOW, GRPC_SLICE_START_PTR(s),
					      GRPC_SLICE_LENGTH(s)) ||
			    !(m = floe__v1__follow_message__unpack(NULL, GRPC_SLICE_LENGTH(s),
								   GRPC_SLICE_START_PTR(s)))) {
				snprintf(err, errlen, "not a FollowMessage");
				bad = 1;
			} else if (m->kind_case == FLOE__V1__FOLLOW_MESSAGE__KIND_LOST) {
				f->lost = lost_before + m->lost;
			} else if (m->kind_case != FLOE__V1__FOLLOW_MESSAGE__KIND_ENTRY) {
				snprintf(err, errlen, "a FollowMessage without an entry");
				bad = 1;
			} else {
				b.len = 0;
				if (entry_proto_to_agent_entry(m->entry, &b, &e, err, errlen))
					bad = 1;
				else
					stopped = fn(&e, arg) != 0;
			}
			if (m)
				floe__v1__follow_message__free_unpacked(m, NULL);
			grpc_slice_unref(s);
		}
		lost_before = f->lost;
		if (bad) {
			call_finish(&c, 1, NULL, 0);
			rc = proto_error(err, errlen, cl, "a bad follow message");
			break;
		}
		rc = call_finish(&c, stopped || f->stop, err, errlen) ?: rc;
		if (stopped || f->stop) {
			rc = 0;
			break;
		}
		if (permanent(rc))
			break;
		/* The stream broke (the agent went away or restarted): again, after a pause. */
		if (!rc)
			snprintf(err, errlen, "agent %s: the stream ended", cl->address);
		set_state(cl, 0, err);
		sleep_ms_or_stop(backoff, &f->stop);
		backoff =
		    backoff * 2 < cl->conf.backoff_max_ms ? backoff * 2 : cl->conf.backoff_max_ms;
		rc = 0;
	}
	entry_json_buf_free(&b);
	return rc;
}

static void c_destroy(void *self)
{
	struct cli *cl = self;

	grpc_channel_destroy(cl->ch);
	pthread_mutex_destroy(&cl->mu);
	free(cl->auth);
	rpc_conf_free(&cl->conf);
	free(cl);
	grpc_shutdown();
}

static const struct agent_api_ops client_ops = {
    .query = c_query,
    .get = c_get,
    .follow = c_follow,
    .pcap = c_pcap,
    .stats = c_stats,
    .info = c_info,
    .destroy = c_destroy,
    .triggers_set = c_triggers_set,
    .triggers_list = c_triggers_list,
    .snapshots = c_snapshots,
    .snapshot = c_snapshot,
};

static grpc_channel_credentials *client_creds(const struct rpc_conf *conf, char *err, size_t errlen)
{
	grpc_channel_credentials *cr = NULL;
	struct rpc_pems pems;

	if (!rpc_conf_tls(conf))
		return grpc_insecure_credentials_create();
	if (!rpc_pems_read(conf, &pems, err, errlen)) {
		cr = grpc_ssl_credentials_create(pems.ca, &pems.pair, NULL, NULL);
		if (!cr)
			snprintf(err, errlen, "TLS: the certificate or key is not usable");
	}
	rpc_pems_free(&pems);
	return cr;
}

int rpc_agent_client_new(const char *address, const struct rpc_opts *opts, struct agent_api *out,
			 char *err, size_t errlen)
{
	struct cli *cl = calloc(1, sizeof(*cl));
	grpc_channel_credentials *creds;
	struct rpc_args args;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cl)
		return -ENOMEM;
	if (!address || !*address || strlen(address) >= sizeof(cl->address)) {
		free(cl);
		snprintf(err, errlen, "agent address: HOST:PORT, at most %zu characters",
			 sizeof(cl->address) - 1);
		return -EINVAL;
	}
	if ((rc = rpc_conf_init(&cl->conf, opts, err, errlen))) {
		free(cl);
		return rc;
	}
	if ((cl->conf.token && asprintf(&cl->auth, "Bearer %s", cl->conf.token) < 0) ||
	    !(creds = client_creds(&cl->conf, err, errlen))) {
		free(cl->auth);
		rpc_conf_free(&cl->conf);
		free(cl);
		return -EINVAL;
	}
	snprintf(cl->address, sizeof(cl->address), "%s", address);
	snprintf(cl->error, sizeof(cl->error), "not connected yet");
	pthread_mutex_init(&cl->mu, NULL);
	grpc_init();
	rpc_args_fill(&args, &cl->conf, 0);
	if (cl->conf.tls_server_name) {
		grpc_arg *a = &args.a[args.args.num_args++];

		a->type = GRPC_ARG_STRING;
		a->key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		a->value.string = cl->conf.tls_server_name;
	}
	cl->ch = grpc_channel_create(address, creds, &args.args);
	grpc_channel_credentials_release(creds);
	out->ops = &client_ops;
	out->self = cl;
	return 0;
}
