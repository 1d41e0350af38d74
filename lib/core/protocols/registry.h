/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registration of every protocol, one line each: PROTO(name) for its descriptor
 * (lib/core/protocols/<name>.c defines protocol_<name>), then DISSECTOR(d) for each dissector
 * that produces its entries (lib/node/dissect/<d>.c defines dissector_<d>), if it has its own.
 *
 * The core expands the PROTO column (protocols.c), the node side the DISSECTOR column
 * (dissect/registry.c), so the core never names a dissector. Line order is the order in
 * which the engine asks the dissectors whether a connection is theirs: HTTP/2 comes first, as
 * its preface starts with "PRI * HTTP/2.0", which HTTP/1 could take for a request line.
 */
#ifndef FLOE_PROTOCOLS_REGISTRY_H
#define FLOE_PROTOCOLS_REGISTRY_H

/* clang-format off */
#define FLOE_PROTOCOLS(PROTO, DISSECTOR)                      \
	PROTO(http) DISSECTOR(http2) DISSECTOR(http1)          \
	PROTO(grpc)                                            \
	PROTO(graphql)                                         \
	PROTO(amqp) DISSECTOR(amqp)                            \
	PROTO(redis) DISSECTOR(redis)                          \
	PROTO(tls) DISSECTOR(tls)                              \
	PROTO(kafka) DISSECTOR(kafka)                          \
	PROTO(dns) DISSECTOR(dns)
/* clang-format on */

#define FLOE_REGISTRY_NONE(name)

#endif /* FLOE_PROTOCOLS_REGISTRY_H */
