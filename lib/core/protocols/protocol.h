/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol: what the core knows of each application protocol, without its dissector. One
 * descriptor per protocol, in its own file (lib/core/protocols/<name>.c); the dissector that
 * produces its entries lives on the node side (lib/node/dissect/) and refers to it by name.
 *
 * The core (and so the hub, which never links a dissector) needs: the name entries carry in
 * "protocol", the one-line text summary, and later the filter words, the parent protocol and
 * the typed field schema.
 */
#ifndef FLOE_PROTOCOLS_PROTOCOL_H
#define FLOE_PROTOCOLS_PROTOCOL_H

#include <stddef.h>

struct entry;

/*
 * A protocol's summary in entry_format_line(): writes at most size bytes to out
 * (NUL-terminated), returns the length it wanted (snprintf-like).
 */
typedef size_t (*protocol_summary_fn)(const struct entry *e, char *out, size_t size);

struct protocol_desc {
	const char *name;	     /* entry.protocol: "http", "redis", ... */
	protocol_summary_fn summary; /* NULL: the HTTP form (method url -> status) */
};

/* Every protocol the core knows, NULL-terminated (lib/core/protocols/protocols.c). */
extern const struct protocol_desc *const protocols[];

/* The descriptor whose name is name, or NULL. */
const struct protocol_desc *protocol_find(const char *name);

#endif /* FLOE_PROTOCOLS_PROTOCOL_H */
