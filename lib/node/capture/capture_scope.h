/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_scope: a query's kernel pushdown (kfl.h, kfl_pushdown) loaded into the capture
 * program's scope maps (floe_record.h, struct floe_scope_config), so that the TC program
 * records only packets that can belong to a matching entry (docs/capture.md, "Capture scope").
 * Addresses and ports go in at a load, which replaces the scope the maps held; pod and
 * namespace terms are kept up to date as tapped pods come, change and go (capture_scope_pod_set
 * / _del).
 */
#ifndef FLOE_CAPTURE_SCOPE_H
#define FLOE_CAPTURE_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "kfl/kfl.h"

struct bpf_map;

/* The program's two scope maps (of the tap's capture, or a test's own skeleton). */
struct capture_scope_maps {
	struct bpf_map *values; /* scope_values */
	struct bpf_map *config; /* scope_config */
};

struct capture_scope;

/*
 * Load p into the maps and enable the check, in place of whatever scope they held (a scope_pod
 * set for the old one included: set the pods again for the new). p->all: nothing to narrow,
 * the check is off and *out is NULL. The terms of p point into its query, which must outlive
 * *out. Returns 0, or a negative errno with a message in err.
 */
int capture_scope_load(const struct capture_scope_maps *m, const struct kfl_pushdown *p,
		       struct capture_scope **out, char *err, size_t errlen);

/*
 * A tapped pod's address (AF_INET: 4 bytes, AF_INET6: 16) with its pod name and namespace as
 * entries name them: the bits of the pod and namespace terms it satisfies. Every tapped pod
 * that names its address gets an entry, so that an address without one is an endpoint the
 * program cannot name (all pod terms hold for it). s NULL: nothing to do.
 */
int capture_scope_pod_set(struct capture_scope *s, const char *pod, const char *ns, int family,
			  const uint8_t *addr);
int capture_scope_pod_del(struct capture_scope *s, int family, const uint8_t *addr);

/* The clauses as text ("(port=80 & pod=web) | (ip=10.0.0.1)") for the log. */
void capture_scope_describe(const struct capture_scope *s, char *buf, size_t size);

/* Forget s (the maps are the program's and go with it). */
void capture_scope_free(struct capture_scope *s);

#endif /* FLOE_CAPTURE_SCOPE_H */
