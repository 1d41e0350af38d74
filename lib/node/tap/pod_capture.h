/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pod_capture: the order in which one pod's capture starts and stops (its host veth's TC
 * hooks and its addresses in the `targets` map), so that traffic running while it happens is
 * recorded consistently (docs/capture.md, "Starting and stopping a pod's capture"):
 *
 *   - both directions of a conversation with an untapped peer start (and stop) at one
 *     instant, the map update of the pod's address: a request recorded always has its
 *     response recorded. The two hooks cannot be attached at one instant (two netlink
 *     calls); with the address already a target, a request recorded at the ingress hook
 *     could have its response pass the egress hook before that one was attached;
 *   - between two tapped pods nothing is lost: the pod is marked local (its packets skipped
 *     at its tapped peers' egress) only after its ingress hook records them and after every
 *     packet that passed the veth before that hook existed has left the kernel's path.
 *
 * The steps go through an ops table: capture_pod_ops_for() gives the real one;
 * selftests/bpf/test_bpf_capture.c gives one that looks at the kernel programs' decisions
 * after each step.
 */
#ifndef FLOE_POD_CAPTURE_H
#define FLOE_POD_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "pods/pods_local.h"

struct pod_capture_ops {
	void *ctx;
	/* both TC hooks of the interface (in whatever order) */
	int (*attach)(void *ctx, int ifindex, char *err, size_t errlen);
	void (*detach)(void *ctx, int ifindex);
	/* one address's entry in `targets`, set (added or changed) or deleted */
	int (*target_set)(void *ctx, int family, const uint8_t *addr, uint32_t target_id,
			  uint32_t flags);
	int (*target_del)(void *ctx, int family, const uint8_t *addr);
	/* return once every packet that is in the kernel's receive path now has passed all
	 * the hooks it will pass (capture_sync_hooks) */
	int (*sync)(void *ctx);
};

/* The ops of a loaded capture. */
struct pod_capture_ops capture_pod_ops_for(struct capture *c);

/*
 * Start capturing pod p (its host_ifindex and addresses) as target_id: hooks, a sync, then
 * the addresses marked FLOE_TARGET_LOCAL. On failure nothing of it is left and err says why.
 */
int pod_capture_start(const struct pod_capture_ops *ops, const struct floe_pod *p,
		      uint32_t target_id, char *err, size_t errlen);

/*
 * A started pod's addresses changed, its veth did not: new ones are marked local (after a
 * sync, as at the start: its hooks may be only just attached), then old ones go. Returns
 * the first failure (err says which address); the others are still done.
 */
int pod_capture_readdress(const struct pod_capture_ops *ops, const struct floe_pod *old,
			  const struct floe_pod *p, uint32_t target_id, char *err,
			  size_t errlen);

/* Stop: the addresses out of `targets` first, then the hooks. */
void pod_capture_stop(const struct pod_capture_ops *ops, const struct floe_pod *p);

#endif /* FLOE_POD_CAPTURE_H */
