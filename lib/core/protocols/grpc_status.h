/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC status codes (grpc/doc/statuscodes.md): their names, shared by the dissector's
 * "grpc.status_name" and the hub transport's error messages. */
#ifndef FLOE_GRPC_STATUS_H
#define FLOE_GRPC_STATUS_H

/* "NOT_FOUND" for 5; NULL for a code outside 0..16. */
const char *grpc_status_name(long code);

#endif /* FLOE_GRPC_STATUS_H */
