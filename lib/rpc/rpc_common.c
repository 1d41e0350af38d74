// SPDX-License-Identifier: Apache-2.0
#include "rpc_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src || !*src)
		return 0;
	return (*dst = strdup(src)) ? 0 : -ENOMEM;
}

static int or_default(int v, int def)
{
	return v > 0 ? v : def;
}

int rpc_conf_init(struct rpc_conf *c, const struct rpc_opts *o, char *err, size_t errlen)
{
	static const struct rpc_opts none;
	int tls;

	memset(c, 0, sizeof(*c));
	o = o ? o : &none;
	if (dup_opt(&c->token, o->token) || dup_opt(&c->tls_ca, o->tls_ca) ||
	    dup_opt(&c->tls_cert, o->tls_cert) || dup_opt(&c->tls_key, o->tls_key) ||
	    dup_opt(&c->tls_server_name, o->tls_server_name)) {
		rpc_conf_free(c);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	tls = !!c->tls_ca + !!c->tls_cert + !!c->tls_key;
	if (tls != 0 && tls != 3) {
		rpc_conf_free(c);
		snprintf(err, errlen, "TLS needs a CA, a certificate and its key (all three)");
		return -EINVAL;
	}
	c->keepalive_ms = or_default(o->keepalive_ms, 10000);
	c->keepalive_timeout_ms = or_default(o->keepalive_timeout_ms, 5000);
	c->call_timeout_ms = or_default(o->call_timeout_ms, 30000);
	c->info_timeout_ms = or_default(o->info_timeout_ms, 2000);
	c->backoff_initial_ms = or_default(o->backoff_initial_ms, 250);
	c->backoff_max_ms = or_default(o->backoff_max_ms, 5000);
	if (c->backoff_max_ms < c->backoff_initial_ms)
		c->backoff_max_ms = c->backoff_initial_ms;
	c->max_calls = or_default(o->max_calls, 64);
	return 0;
}

void rpc_conf_free(struct rpc_conf *c)
{
	free(c->token);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_server_name);
	memset(c, 0, sizeof(*c));
}

int rpc_conf_tls(const struct rpc_conf *c)
{
	return c->tls_ca != NULL;
}

static void int_arg(grpc_arg *a, const char *key, int v)
{
	a->type = GRPC_ARG_INTEGER;
	a->key = (char *)key;
	a->value.integer = v;
}

void rpc_args_fill(struct rpc_args *a, const struct rpc_conf *c, int server)
{
	size_t n = 0;

	int_arg(&a->a[n++], GRPC_ARG_KEEPALIVE_TIME_MS, c->keepalive_ms);
	int_arg(&a->a[n++], GRPC_ARG_KEEPALIVE_TIMEOUT_MS, c->keepalive_timeout_ms);
	/* Pings on idle connections too: a hub following a quiet agent must notice it is gone. */
	int_arg(&a->a[n++], GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	int_arg(&a->a[n++], GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	int_arg(&a->a[n++], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, RPC_MAX_MESSAGE);
	if (server) {
		/* A second agent on a port in use is an error, not a silent share of it. */
		int_arg(&a->a[n++], GRPC_ARG_ALLOW_REUSEPORT, 0);
		int_arg(&a->a[n++], GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, RPC_WRITE_BUFFER);
		/* The peer pings every keepalive_ms: not abuse (the default floor is 5 minutes). */
		int_arg(&a->a[n++], GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
			c->keepalive_ms / 2);
	} else {
		int_arg(&a->a[n++], GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, c->backoff_initial_ms);
		int_arg(&a->a[n++], GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, c->backoff_initial_ms);
		int_arg(&a->a[n++], GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, c->backoff_max_ms);
	}
	a->args.num_args = n;
	a->args.args = a->a;
}

/* The text of a PEM file, malloc'ed, NULL with err. */
static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *p = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			char *q = realloc(p, cap + 65536);

			if (!q || cap > (1u << 24)) {
				free(q ? q : p);
				fclose(f);
				snprintf(err, errlen, "%s: too large or out of memory", path);
				return NULL;
			}
			p = q;
			cap += 65536;
		}
		n = fread(p + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	fclose(f);
	p[len] = 0;
	return p;
}

int rpc_pems_read(const struct rpc_conf *c, struct rpc_pems *p, char *err, size_t errlen)
{
	char *cert = NULL, *key = NULL;

	memset(p, 0, sizeof(*p));
	if (!(p->ca = read_file(c->tls_ca, err, errlen)) ||
	    !(cert = read_file(c->tls_cert, err, errlen)) ||
	    !(key = read_file(c->tls_key, err, errlen))) {
		free(cert);
		rpc_pems_free(p);
		return -EINVAL;
	}
	p->pair.cert_chain = cert;
	p->pair.private_key = key;
	return 0;
}

void rpc_pems_free(struct rpc_pems *p)
{
	free(p->ca);
	free((char *)p->pair.cert_chain);
	free((char *)p->pair.private_key);
	memset(p, 0, sizeof(*p));
}

grpc_byte_buffer *rpc_bytes(const void *p, size_t n)
{
	grpc_slice s = grpc_slice_from_copied_buffer(p, n);
	grpc_byte_buffer *b = grpc_raw_byte_buffer_create(&s, 1);

	grpc_slice_unref(s);
	return b;
}

grpc_byte_buffer *rpc_pack(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	grpc_slice s = grpc_slice_malloc(n);
	grpc_byte_buffer *b;

	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	b = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return b;
}

grpc_slice rpc_slice(grpc_byte_buffer *b)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;

	if (!grpc_byte_buffer_reader_init(&r, b))
		return grpc_empty_slice();
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	return s;
}

grpc_status_code rpc_status_of_errno(int rc)
{
	switch (-rc) {
	case 0:
		return GRPC_STATUS_OK;
	case ENOENT:
		return GRPC_STATUS_NOT_FOUND;
	case EINVAL:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case ENOMEM:
	case ENOBUFS:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case ETIMEDOUT:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case ECANCELED:
		return GRPC_STATUS_CANCELLED;
	case EACCES:
	case EPERM:
		return GRPC_STATUS_PERMISSION_DENIED;
	case ENOSYS:
	case ENOTSUP:
		return GRPC_STATUS_UNIMPLEMENTED;
	case EAGAIN:
	case EBUSY:
	case ENOTCONN:
		return GRPC_STATUS_UNAVAILABLE;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

int rpc_errno_of_status(grpc_status_code s)
{
	switch (s) {
	case GRPC_STATUS_OK:
		return 0;
	case GRPC_STATUS_NOT_FOUND:
		return -ENOENT;
	case GRPC_STATUS_INVALID_ARGUMENT:
	case GRPC_STATUS_OUT_OF_RANGE:
	case GRPC_STATUS_FAILED_PRECONDITION:
		return -EINVAL;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return -ENOBUFS;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case GRPC_STATUS_CANCELLED:
		return -ECANCELED;
	case GRPC_STATUS_UNAUTHENTICATED:
	case GRPC_STATUS_PERMISSION_DENIED:
		return -EACCES;
	case GRPC_STATUS_UNIMPLEMENTED:
		return -ENOSYS;
	case GRPC_STATUS_UNAVAILABLE:
		return -ENOTCONN;
	default:
		return -EPROTO;
	}
}

gpr_timespec rpc_deadline_ms(int ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}
