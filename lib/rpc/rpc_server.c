// SPDX-License-Identifier: Apache-2.0
/*
 * The server side: any struct agent_api on HOST:PORT.
 *
 * One completion queue and one thread polling it; every call gets its own worker thread,
 * because agent_api's operations block (a query walks the store, a follow waits for entries)
 * and report through callbacks. The worker starts one batch at a time and waits for it (the
 * poller wakes it): so a stream has at most one message in flight, and a slow reader holds the
 * implementation in its callback instead of making the server buffer (HTTP/2 flow control
 * reaches back to the implementation). A call's RECV_CLOSE_ON_SERVER completes when the client
 * cancels or its deadline passes: the poller then sets the follow's stop flag, and the next
 * callback of a query returns non-zero.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/support/time.h>

#include "api/entry_proto.h"
#include "rpc_common.h"

enum method {
	M_QUERY,
	M_GET,
	M_FOLLOW,
	M_PCAP,
	M_STATS,
	M_INFO,
	M_SET_TRIGGERS,
	M_LIST_TRIGGERS,
	M_LIST_SNAPSHOTS,
	M_GET_SNAPSHOT,
	M_COUNT
};
static const char *const method_names[M_COUNT] = {
    RPC_METHOD_QUERY,	      RPC_METHOD_GET,		 RPC_METHOD_FOLLOW,
    RPC_METHOD_PCAP,	      RPC_METHOD_STATS,		 RPC_METHOD_INFO,
    RPC_METHOD_SET_TRIGGERS,  RPC_METHOD_LIST_TRIGGERS, RPC_METHOD_LIST_SNAPSHOTS,
    RPC_METHOD_GET_SNAPSHOT,
};

enum tag_kind { TAG_REQUEST, TAG_BATCH, TAG_CLOSE, TAG_REJECT, TAG_SHUTDOWN };

struct scall;

struct tag {
	enum tag_kind kind;
	struct scall *c;
};

struct rpc_agent_server {
	grpc_server *server;
	grpc_completion_queue *cq;
	pthread_t poller;
	void *methods[M_COUNT];
	struct agent_api api;
	struct rpc_conf conf;
	char *auth; /* "Bearer TOKEN", NULL when no token is asked for */
	int port;
	struct tag shutdown_tag;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* under mu */
	int stopping, shutdown_done, active, rejecting;
};

struct scall {
	struct rpc_agent_server *s;
	enum method method;
	struct tag req_tag, batch_tag, close_tag;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	int close_cancelled; /* RECV_CLOSE_ON_SERVER's answer */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* under mu */
	int batch_done, batch_ok, close_done;
	/* read by callbacks without the lock: set once, by the poller */
	volatile int cancelled;
	struct agent_follow follow;
	/* the worker's own */
	int md_sent;
	uint64_t lost_sent;
	int cb_rc;
	struct entry_proto_packer pk;
	struct {
		uint8_t *p;
		size_t len, cap;
		unsigned n;
		int64_t first_ms;
	} batch; /* Query: the EntryBatch being gathered */
	char err[256];
};

static void request_call(struct rpc_agent_server *s, enum method m);

static struct scall *scall_new(struct rpc_agent_server *s, enum method m)
{
	struct scall *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->method = m;
	c->req_tag = (struct tag){TAG_REQUEST, c};
	c->batch_tag = (struct tag){TAG_BATCH, c};
	c->close_tag = (struct tag){TAG_CLOSE, c};
	grpc_metadata_array_init(&c->md);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}

static void scall_free(struct scall *c)
{
	if (c->call)
		grpc_call_unref(c->call);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	grpc_metadata_array_destroy(&c->md);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	entry_proto_packer_free(&c->pk);
	free(c->batch.p);
	free(c);
}

/* Start ops and wait for them: 0, or -ECANCELED when the call is gone. */
static int batch(struct scall *c, const grpc_op *ops, size_t n)
{
	int ok;

	pthread_mutex_lock(&c->mu);
	c->batch_done = 0;
	pthread_mutex_unlock(&c->mu);
	if (grpc_call_start_batch(c->call, ops, n, &c->batch_tag, NULL) != GRPC_CALL_OK)
		return -ECANCELED;
	pthread_mutex_lock(&c->mu);
	while (!c->batch_done)
		pthread_cond_wait(&c->cond, &c->mu);
	ok = c->batch_ok;
	pthread_mutex_unlock(&c->mu);
	return ok ? 0 : -ECANCELED;
}

/* One message (taken: destroyed here), with the initial metadata before the first. */
static int send_buffer(struct scall *c, grpc_byte_buffer *bb)
{
	grpc_op ops[2];
	size_t n = 0;
	int rc;

	if (!bb)
		return -ENOMEM;
	memset(ops, 0, sizeof(ops));
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->md_sent = 1;
	}
	ops[n].op = GRPC_OP_SEND_MESSAGE;
	/* History and PCAP go out in the transport's write buffer (bounded by
	 * GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE): one write per message was the stream's cost. Live
	 * entries are written at once (nothing behind them would push them out). */
	if (c->method != M_FOLLOW)
		ops[n].flags = GRPC_WRITE_BUFFER_HINT;
	ops[n++].data.send_message.send_message = bb;
	rc = batch(c, ops, n);
	grpc_byte_buffer_destroy(bb);
	return rc;
}

static int send_md(struct scall *c)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_INITIAL_METADATA;
	c->md_sent = 1;
	return batch(c, &op, 1);
}

/* The call's end: status, message, and the errno as trailing metadata. */
static void send_status(struct scall *c, grpc_status_code code, int rc, const char *msg)
{
	grpc_op ops[2];
	grpc_metadata trailer;
	char num[16];
	grpc_slice details = grpc_slice_from_copied_string(msg ? msg : "");
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	memset(&trailer, 0, sizeof(trailer));
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->md_sent = 1;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n].data.send_status_from_server.status_details = &details;
	if (rc < 0) {
		snprintf(num, sizeof(num), "%d", -rc);
		trailer.key = grpc_slice_from_static_string(RPC_ERRNO_KEY);
		trailer.value = grpc_slice_from_copied_string(num);
		ops[n].data.send_status_from_server.trailing_metadata_count = 1;
		ops[n].data.send_status_from_server.trailing_metadata = &trailer;
	}
	n++;
	batch(c, ops, n);
	grpc_slice_unref(details);
	if (rc < 0)
		grpc_slice_unref(trailer.value);
}

/* ---- the operations ---- */

/* The tag and length of field 1 (length-delimited) holding n bytes, written to head[11]. */
static size_t field1_head(uint8_t head[11], size_t n)
{
	size_t h = 0;

	head[h++] = 0x0a;
	do {
		head[h++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
		n >>= 7;
	} while (n);
	return h;
}

/* Packed message bytes as field 1 of an enclosing message (FollowMessage.entry, StatsReply):
 * the tag byte and the length, then the bytes, without unpacking and packing again. */
static grpc_byte_buffer *wrap_field1(const uint8_t *p, size_t n)
{
	uint8_t head[11];
	size_t h = field1_head(head, n);
	grpc_slice s = grpc_slice_malloc(h + n);
	grpc_byte_buffer *bb;

	memcpy(GRPC_SLICE_START_PTR(s), head, h);
	memcpy(GRPC_SLICE_START_PTR(s) + h, p, n);
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

/* Send the EntryBatch gathered so far (nothing when it is empty). */
static int flush_batch(struct scall *c)
{
	int rc;

	if (!c->batch.n)
		return 0;
	rc = send_buffer(c, rpc_bytes(c->batch.p, c->batch.len));
	c->batch.len = 0;
	c->batch.n = 0;
	return rc;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Add the packed entry in c->pk to the batch; send the batch when it is full or old. */
static int batch_entry(struct scall *c)
{
	uint8_t head[11];
	size_t h = field1_head(head, c->pk.len);

	if (c->batch.cap - c->batch.len < h + c->pk.len) {
		size_t cap = c->batch.len + h + c->pk.len + RPC_BATCH_BYTES;
		uint8_t *p = realloc(c->batch.p, cap);

		if (!p)
			return -ENOMEM;
		c->batch.p = p;
		c->batch.cap = cap;
	}
	memcpy(c->batch.p + c->batch.len, head, h);
	memcpy(c->batch.p + c->batch.len + h, c->pk.out, c->pk.len);
	c->batch.len += h + c->pk.len;
	if (!c->batch.n++)
		c->batch.first_ms = mono_ms();
	if (c->batch.len >= RPC_BATCH_BYTES || c->batch.n >= RPC_BATCH_ENTRIES ||
	    mono_ms() - c->batch.first_ms >= RPC_BATCH_MS)
		return flush_batch(c);
	return 0;
}

static int send_entry(struct scall *c, const struct agent_entry *e, int follow)
{
	int rc;

	if (c->cancelled)
		return c->cb_rc = -ECANCELED;
	rc = entry_proto_pack(&c->pk, e, c->err, sizeof(c->err));
	if (rc)
		return c->cb_rc = rc;
	if (c->method == M_QUERY)
		rc = batch_entry(c);
	else
		rc = send_buffer(c, follow ? wrap_field1(c->pk.out, c->pk.len)
					   : rpc_bytes(c->pk.out, c->pk.len));
	return rc ? (c->cb_rc = rc) : 0;
}

static int on_entry(const struct agent_entry *e, void *arg)
{
	return send_entry(arg, e, 0) ? 1 : 0;
}

static int on_follow_entry(const struct agent_entry *e, void *arg)
{
	struct scall *c = arg;
	uint64_t lost = c->follow.lost;

	if (lost != c->lost_sent) {
		Floe__V1__FollowMessage m = FLOE__V1__FOLLOW_MESSAGE__INIT;

		m.kind_case = FLOE__V1__FOLLOW_MESSAGE__KIND_LOST;
		m.lost = lost;
		if (send_buffer(c, rpc_pack(&m.base))) {
			c->cb_rc = -ECANCELED;
			return 1;
		}
		c->lost_sent = lost;
	}
	return send_entry(c, e, 1) ? 1 : 0;
}

static int on_pcap(const void *buf, size_t len, void *arg)
{
	struct scall *c = arg;
	const uint8_t *p = buf;

	while (len) {
		Floe__V1__PcapChunk m = FLOE__V1__PCAP_CHUNK__INIT;
		size_t n = len < RPC_PCAP_CHUNK ? len : RPC_PCAP_CHUNK;

		if (c->cancelled) {
			c->cb_rc = -ECANCELED;
			return 1;
		}
		m.data.data = (uint8_t *)p;
		m.data.len = n;
		if ((c->cb_rc = send_buffer(c, rpc_pack(&m.base))))
			return 1;
		p += n;
		len -= n;
	}
	return 0;
}

static void query_of(const Floe__V1__QueryRequest *r, struct agent_query *q)
{
	memset(q, 0, sizeof(*q));
	q->filter = r->filter;
	q->since_ns = r->since_ns;
	q->until_ns = r->until_ns;
	q->limit = (size_t)r->limit;
	q->after_ts_ns = r->after_ts_ns;
	q->after_id = r->after_id && r->after_id[0] ? r->after_id : NULL;
	q->with_bodies = r->with_bodies;
}

/* Unpack the request (NULL and an error status when it is not one). */
static ProtobufCMessage *request(struct scall *c, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = NULL;

	if (c->payload) {
		grpc_slice s = rpc_slice(c->payload);

		m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s),
					      GRPC_SLICE_START_PTR(s));
		grpc_slice_unref(s);
	}
	if (!m)
		snprintf(c->err, sizeof(c->err), "not a %s message", d->short_name);
	return m;
}

/* The triggers' calls that answer one JSON value (TriggersReply, SnapshotsReply: a Value as
 * field 1, as StatsReply). */
static int serve_json_call(struct scall *c, struct agent_api *api)
{
	const struct agent_api_ops *o = api->ops;
	char *json = NULL;
	int rc;

	if (!o->triggers_set || !o->triggers_list || !o->snapshots) {
		snprintf(c->err, sizeof(c->err), "this agent runs no triggers");
		return -ENOTSUP;
	}
	if (c->method == M_SET_TRIGGERS) {
		Floe__V1__SetTriggersRequest *r = NULL;
		struct entry_json_buf b = {0};
		grpc_slice sl;

		if (!c->payload)
			return -EINVAL;
		/* its Value is field 1, as StatsReply's: the same depth check before
		 * protobuf-c (which recurses) reads it */
		sl = rpc_slice(c->payload);
		if (!proto_depth_check(PROTO_ROOT_STATS, GRPC_SLICE_START_PTR(sl),
				       GRPC_SLICE_LENGTH(sl)))
			r = floe__v1__set_triggers_request__unpack(NULL, GRPC_SLICE_LENGTH(sl),
								   GRPC_SLICE_START_PTR(sl));
		grpc_slice_unref(sl);
		if (!r) {
			snprintf(c->err, sizeof(c->err), "not a SetTriggersRequest message");
			return -EINVAL;
		}
		rc = r->triggers ? value_proto_to_json(r->triggers, &b, c->err, sizeof(c->err))
				 : entry_json_append_raw(&b, "[]", 2);
		if (!rc && !(rc = entry_json_append_raw(&b, "", 1)))
			rc = o->triggers_set(api->self, r->version, b.p, c->err, sizeof(c->err));
		entry_json_buf_free(&b);
		floe__v1__set_triggers_request__free_unpacked(r, NULL);
		if (!rc)
			rc = o->triggers_list(api->self, &json, c->err, sizeof(c->err));
	} else if (c->method == M_LIST_TRIGGERS) {
		rc = o->triggers_list(api->self, &json, c->err, sizeof(c->err));
	} else {
		rc = o->snapshots(api->self, &json, c->err, sizeof(c->err));
	}
	if (!rc) {
		rc = value_proto_pack_json(&c->pk, json, strlen(json), c->err, sizeof(c->err));
		if (!rc)
			rc = send_buffer(c, wrap_field1(c->pk.out, c->pk.len));
	}
	free(json);
	return rc;
}

static int serve(struct scall *c)
{
	struct agent_api *api = &c->s->api;
	ProtobufCMessage *m = NULL;
	struct agent_query q;
	int rc = 0;

	switch (c->method) {
	case M_QUERY:
	case M_PCAP:
		if (!(m = request(c, &floe__v1__query_request__descriptor)))
			return -EINVAL;
		query_of((Floe__V1__QueryRequest *)m, &q);
		if (c->method == M_QUERY) {
			rc = api->ops->query(api->self, &q, on_entry, c, c->err, sizeof(c->err));
			/* What came before an error goes out too, as a direct call gives it. */
			if (!c->cb_rc && (c->cb_rc = flush_batch(c)) && !rc)
				snprintf(c->err, sizeof(c->err), "cancelled");
		} else
			rc = api->ops->pcap(api->self, &q, on_pcap, c, c->err, sizeof(c->err));
		break;
	case M_GET:
		if (!(m = request(c, &floe__v1__get_request__descriptor)))
			return -EINVAL;
		rc = api->ops->get(api->self, ((Floe__V1__GetRequest *)m)->id, on_entry, c, c->err,
				   sizeof(c->err));
		break;
	case M_FOLLOW:
		if (!(m = request(c, &floe__v1__follow_request__descriptor)))
			return -EINVAL;
		rc = api->ops->follow(api->self, ((Floe__V1__FollowRequest *)m)->filter, &c->follow,
				      on_follow_entry, c, c->err, sizeof(c->err));
		break;
	case M_STATS: {
		char *json = NULL;

		rc = api->ops->stats(api->self, &json, c->err, sizeof(c->err));
		if (!rc) {
			rc = value_proto_pack_json(&c->pk, json, strlen(json), c->err,
						   sizeof(c->err));
			if (!rc)
				rc = send_buffer(c, wrap_field1(c->pk.out, c->pk.len));
		}
		free(json);
		break;
	}
	case M_SET_TRIGGERS:
	case M_LIST_TRIGGERS:
	case M_LIST_SNAPSHOTS:
		rc = serve_json_call(c, api);
		break;
	case M_GET_SNAPSHOT:
		if (!api->ops->snapshot) {
			snprintf(c->err, sizeof(c->err), "this agent runs no triggers");
			return -ENOTSUP;
		}
		if (!(m = request(c, &floe__v1__get_snapshot_request__descriptor)))
			return -EINVAL;
		rc = api->ops->snapshot(api->self, ((Floe__V1__GetSnapshotRequest *)m)->name,
					on_pcap, c, c->err, sizeof(c->err));
		break;
	case M_INFO: {
		Floe__V1__InfoReply r = FLOE__V1__INFO_REPLY__INIT;
		struct agent_info info;

		memset(&info, 0, sizeof(info));
		api->ops->info(api->self, &info);
		r.name = info.name;
		r.node = info.node;
		r.version = info.version;
		rc = send_buffer(c, rpc_pack(&r.base));
		break;
	}
	case M_COUNT:
		break;
	}
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	/* A callback's failure (conversion, the call cancelled) is the call's. */
	if (!rc && c->cb_rc)
		rc = c->cb_rc;
	return rc;
}

static int authorized(const struct scall *c)
{
	const char *want = c->s->auth;
	size_t i, n = strlen(want);

	for (i = 0; i < c->md.count; i++) {
		const grpc_metadata *md = &c->md.metadata[i];
		const uint8_t *v = GRPC_SLICE_START_PTR(md->value);
		unsigned diff = 0;
		size_t k;

		if (grpc_slice_str_cmp(md->key, "authorization") ||
		    GRPC_SLICE_LENGTH(md->value) != n)
			continue;
		for (k = 0; k < n; k++) /* every byte compared: no timing of where it differs */
			diff |= (unsigned)(v[k] ^ (uint8_t)want[k]);
		return diff == 0;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct scall *c = arg;
	struct rpc_agent_server *s = c->s;
	grpc_op op;
	int rc;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
		pthread_mutex_lock(&c->mu);
		c->close_done = 1;
		pthread_mutex_unlock(&c->mu);
	}
	if (s->auth && !authorized(c)) {
		snprintf(c->err, sizeof(c->err), "floe agent: wrong or missing token");
		send_status(c, GRPC_STATUS_UNAUTHENTICATED, -EACCES, c->err);
	} else {
		c->err[0] = 0;
		/* Headers at once: the client knows it reached the agent before the first entry. */
		rc = send_md(c);
		if (!rc)
			rc = serve(c);
		send_status(c, rpc_status_of_errno(rc), rc, rc ? c->err : "");
	}
	pthread_mutex_lock(&c->mu);
	while (!c->close_done)
		pthread_cond_wait(&c->cond, &c->mu);
	pthread_mutex_unlock(&c->mu);
	scall_free(c);
	pthread_mutex_lock(&s->mu);
	s->active--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* More calls than max_calls: refused at once, from the poller (no thread for it). */
static void reject(struct scall *c)
{
	static grpc_slice details;
	grpc_op ops[3];

	details = grpc_slice_from_static_string("floe agent: too many calls at once");
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[1].data.send_status_from_server.status = GRPC_STATUS_RESOURCE_EXHAUSTED;
	ops[1].data.send_status_from_server.status_details = &details;
	ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[2].data.recv_close_on_server.cancelled = &c->close_cancelled;
	c->req_tag.kind = TAG_REJECT;
	if (grpc_call_start_batch(c->call, ops, 3, &c->req_tag, NULL) != GRPC_CALL_OK) {
		scall_free(c);
		return;
	}
	c->s->rejecting++;
}

static void on_request(struct scall *c, int success)
{
	struct rpc_agent_server *s = c->s;
	pthread_attr_t attr;
	pthread_t t;
	int start;

	if (!success) { /* the server is shutting down */
		scall_free(c);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (!s->stopping)
		request_call(s, c->method);
	start = s->active < s->conf.max_calls;
	if (start)
		s->active++;
	pthread_mutex_unlock(&s->mu);
	if (start) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		start = !pthread_create(&t, &attr, worker, c);
		pthread_attr_destroy(&attr);
		if (start)
			return;
		pthread_mutex_lock(&s->mu);
		s->active--;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&s->mu);
	reject(c);
	pthread_mutex_unlock(&s->mu);
}

static void *poller(void *arg)
{
	struct rpc_agent_server *s = arg;

	for (;;) {
		grpc_event ev =
		    grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct tag *t = ev.tag;
		struct scall *c;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		c = t->c;
		switch (t->kind) {
		case TAG_SHUTDOWN:
			pthread_mutex_lock(&s->mu);
			s->shutdown_done = 1;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->mu);
			break;
		case TAG_REQUEST:
			on_request(c, ev.success);
			break;
		case TAG_BATCH:
			pthread_mutex_lock(&c->mu);
			c->batch_done = 1;
			c->batch_ok = ev.success;
			pthread_cond_signal(&c->cond);
			pthread_mutex_unlock(&c->mu);
			break;
		case TAG_CLOSE:
			pthread_mutex_lock(&c->mu);
			c->close_done = 1;
			if (c->close_cancelled) {
				c->cancelled = 1;
				c->follow.stop = 1;
			}
			pthread_cond_signal(&c->cond);
			pthread_mutex_unlock(&c->mu);
			break;
		case TAG_REJECT:
			scall_free(c);
			pthread_mutex_lock(&s->mu);
			s->rejecting--;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->mu);
			break;
		}
	}
	return NULL;
}

/* Ask for the next call of method m (s->mu held or not yet shared). */
static void request_call(struct rpc_agent_server *s, enum method m)
{
	struct scall *c = scall_new(s, m);

	if (!c)
		return; /* that method is not served until a restart: out of memory */
	if (grpc_server_request_registered_call(s->server, s->methods[m], &c->call, &c->deadline,
						&c->md, &c->payload, s->cq, s->cq,
						&c->req_tag) != GRPC_CALL_OK)
		scall_free(c);
}

static grpc_server_credentials *server_creds(const struct rpc_conf *conf, char *err, size_t errlen)
{
	grpc_server_credentials *cr = NULL;
	struct rpc_pems pems;

	if (!rpc_conf_tls(conf))
		return grpc_insecure_server_credentials_create();
	if (!rpc_pems_read(conf, &pems, err, errlen)) {
		cr = grpc_ssl_server_credentials_create_ex(
		    pems.ca, &pems.pair, 1,
		    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
		if (!cr)
			snprintf(err, errlen, "TLS: the certificate or key is not usable");
	}
	rpc_pems_free(&pems);
	return cr;
}

/* The last of a server, its gRPC server destroyed and its queue shut down and drained. */
static void server_free(struct rpc_agent_server *s)
{
	grpc_completion_queue_destroy(s->cq);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s->auth);
	rpc_conf_free(&s->conf);
	free(s);
	grpc_shutdown();
}

int rpc_agent_server_start(const char *listen, struct agent_api api, const struct rpc_opts *opts,
			   struct rpc_agent_server **out, char *err, size_t errlen)
{
	struct rpc_agent_server *s = calloc(1, sizeof(*s));
	grpc_server_credentials *creds;
	struct rpc_args args;
	int rc, i;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	if ((rc = rpc_conf_init(&s->conf, opts, err, errlen))) {
		free(s);
		return rc;
	}
	if (s->conf.token && asprintf(&s->auth, "Bearer %s", s->conf.token) < 0) {
		rpc_conf_free(&s->conf);
		free(s);
		return -ENOMEM;
	}
	if (!(creds = server_creds(&s->conf, err, errlen))) {
		free(s->auth);
		rpc_conf_free(&s->conf);
		free(s);
		return -EINVAL;
	}
	grpc_init();
	s->api = api;
	s->shutdown_tag = (struct tag){TAG_SHUTDOWN, NULL};
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	rpc_args_fill(&args, &s->conf, 1);
	s->server = grpc_server_create(&args.args, NULL);
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	for (i = 0; i < M_COUNT; i++)
		s->methods[i] = grpc_server_register_method(
		    s->server, method_names[i], NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	s->port = grpc_server_add_http2_port(s->server, listen, creds);
	grpc_server_credentials_release(creds);
	if (s->port <= 0) {
		snprintf(err, errlen, "cannot listen on %s (address in use, or not HOST:PORT)",
			 listen);
		grpc_server_destroy(s->server);
		grpc_completion_queue_shutdown(s->cq);
		server_free(s);
		return -EADDRNOTAVAIL;
	}
	grpc_server_start(s->server);
	for (i = 0; i < M_COUNT; i++)
		request_call(s, i);
	if (pthread_create(&s->poller, NULL, poller, s)) {
		snprintf(err, errlen, "cannot start a thread");
		s->poller = 0;
		rpc_agent_server_stop(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

int rpc_agent_server_port(const struct rpc_agent_server *s)
{
	return s->port;
}

void rpc_agent_server_stop(struct rpc_agent_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_mutex_unlock(&s->mu);
	grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
	grpc_server_cancel_all_calls(s->server);
	if (s->poller) {
		pthread_mutex_lock(&s->mu);
		while (!s->shutdown_done || s->active || s->rejecting)
			pthread_cond_wait(&s->cond, &s->mu);
		pthread_mutex_unlock(&s->mu);
	}
	grpc_server_destroy(s->server);
	grpc_completion_queue_shutdown(s->cq);
	if (s->poller)
		pthread_join(s->poller, NULL);
	else /* never started: drain here (only the requests for calls are pending) */
		for (;;) {
			grpc_event ev = grpc_completion_queue_next(
			    s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
			struct tag *t = ev.tag;

			if (ev.type == GRPC_QUEUE_SHUTDOWN)
				break;
			if (ev.type == GRPC_OP_COMPLETE && t->kind == TAG_REQUEST)
				scall_free(t->c);
		}
	server_free(s);
}
