/* SPDX-License-Identifier: Apache-2.0 */
/* rpc_common: what the transport's server and client share (not an interface of its own). */
#ifndef FLOE_RPC_COMMON_H
#define FLOE_RPC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc_agent.h"

#define RPC_METHOD_QUERY  "/floe.v1.Agent/Query"
#define RPC_METHOD_GET	  "/floe.v1.Agent/Get"
#define RPC_METHOD_FOLLOW "/floe.v1.Agent/Follow"
#define RPC_METHOD_PCAP	  "/floe.v1.Agent/Pcap"
#define RPC_METHOD_STATS  "/floe.v1.Agent/Stats"
#define RPC_METHOD_INFO	  "/floe.v1.Agent/Info"
#define RPC_METHOD_SET_TRIGGERS	  "/floe.v1.Agent/SetTriggers"
#define RPC_METHOD_LIST_TRIGGERS  "/floe.v1.Agent/ListTriggers"
#define RPC_METHOD_LIST_SNAPSHOTS "/floe.v1.Agent/ListSnapshots"
#define RPC_METHOD_GET_SNAPSHOT	  "/floe.v1.Agent/GetSnapshot"

/* Trailing metadata with the server's errno: the client returns the same -errno. */
#define RPC_ERRNO_KEY "floe-errno"
/* Largest message either side accepts: an entry in full with its bodies fits many times. */
#define RPC_MAX_MESSAGE (64 << 20)
/* Bytes of buffered messages per stream the server's transport holds before writing. */
#define RPC_WRITE_BUFFER (256 << 10)
/* Query's EntryBatch: sent when it holds this many bytes or entries, or its first entry waited
 * this long for the batch to fill. */
#define RPC_BATCH_BYTES	  (64 << 10)
#define RPC_BATCH_ENTRIES 256
#define RPC_BATCH_MS	  50
/* PCAP bytes per message. */
#define RPC_PCAP_CHUNK (256 << 10)

/* Options with defaults filled in; the strings are copies owned by it. */
struct rpc_conf {
	char *token, *tls_ca, *tls_cert, *tls_key, *tls_server_name;
	int keepalive_ms, keepalive_timeout_ms, call_timeout_ms, info_timeout_ms;
	int backoff_initial_ms, backoff_max_ms, max_calls;
};

int rpc_conf_init(struct rpc_conf *c, const struct rpc_opts *o, char *err, size_t errlen);
void rpc_conf_free(struct rpc_conf *c);
int rpc_conf_tls(const struct rpc_conf *c);

/* The channel arguments of both ends: keepalive, message size, (client) backoff. */
struct rpc_args {
	grpc_arg a[12];
	grpc_channel_args args;
};
void rpc_args_fill(struct rpc_args *a, const struct rpc_conf *c, int server);

/* The TLS files of c read (CA, and the certificate and key as gRPC's pair). */
struct rpc_pems {
	char *ca;
	grpc_ssl_pem_key_cert_pair pair;
};
int rpc_pems_read(const struct rpc_conf *c, struct rpc_pems *p, char *err, size_t errlen);
void rpc_pems_free(struct rpc_pems *p);

/* A message as a byte buffer (a copy); NULL on ENOMEM. */
grpc_byte_buffer *rpc_pack(const ProtobufCMessage *m);
grpc_byte_buffer *rpc_bytes(const void *p, size_t n);
/* The whole payload of b as one slice (unref it). */
grpc_slice rpc_slice(grpc_byte_buffer *b);

/* A negative errno as a gRPC status, and back. */
grpc_status_code rpc_status_of_errno(int rc);
int rpc_errno_of_status(grpc_status_code s);

gpr_timespec rpc_deadline_ms(int ms);

#endif /* FLOE_RPC_COMMON_H */
