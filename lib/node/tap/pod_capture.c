// SPDX-License-Identifier: Apache-2.0
#include "tap/pod_capture.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int real_attach(void *ctx, int ifindex, char *err, size_t errlen)
{
	return capture_attach(ctx, ifindex, err, errlen);
}

static void real_detach(void *ctx, int ifindex)
{
	capture_detach(ctx, ifindex);
}

static int real_target_set(void *ctx, int family, const uint8_t *addr, uint32_t target_id,
			   uint32_t flags)
{
	return capture_target_add(ctx, family, addr, target_id, flags);
}

static int real_target_del(void *ctx, int family, const uint8_t *addr)
{
	return capture_target_del(ctx, family, addr);
}

static int real_sync(void *ctx)
{
	return capture_sync_hooks(ctx);
}

struct pod_capture_ops capture_pod_ops_for(struct capture *c)
{
	return (struct pod_capture_ops){
	    .ctx = c,
	    .attach = real_attach,
	    .detach = real_detach,
	    .target_set = real_target_set,
	    .target_del = real_target_del,
	    .sync = real_sync,
	};
}

int pod_capture_start(const struct pod_capture_ops *ops, const struct floe_pod *p,
		      uint32_t target_id, char *err, size_t errlen)
{
	size_t a;
	int ret;

	/*
	 * Hooks first, while the pod is no target: they record none of its traffic with
	 * untapped peers yet, whichever of the two is attached first. Its traffic with tapped
	 * pods is recorded meanwhile at the peers' hooks (to them at their egress, since the
	 * pod is not marked local; from them at their ingress).
	 */
	ret = ops->attach(ops->ctx, p->host_ifindex, err, errlen);
	if (ret < 0)
		return ret;
	/*
	 * A packet to a tapped peer that passed the pod's veth just before its ingress hook
	 * existed is recorded only at the peer's egress, and only while the pod is not marked
	 * local: wait until every such packet is through before marking it.
	 */
	if (p->n_addrs) {
		ret = ops->sync(ops->ctx);
		if (ret < 0) {
			snprintf(err, errlen, "cannot wait for packets in flight: %s",
				 strerror(-ret));
			ops->detach(ops->ctx, p->host_ifindex);
			return ret;
		}
	}
	/* Both directions of each address start here, at one map update. */
	for (a = 0; a < p->n_addrs; a++) {
		ret = ops->target_set(ops->ctx, p->addrs[a].family, p->addrs[a].addr, target_id,
				      FLOE_TARGET_LOCAL);
		if (ret < 0) {
			snprintf(err, errlen, "cannot add address: %s", strerror(-ret));
			while (a-- > 0)
				ops->target_del(ops->ctx, p->addrs[a].family, p->addrs[a].addr);
			ops->detach(ops->ctx, p->host_ifindex);
			return ret;
		}
	}
	return 0;
}

int pod_capture_readdress(const struct pod_capture_ops *ops, const struct floe_pod *old,
			  const struct floe_pod *p, uint32_t target_id, char *err,
			  size_t errlen)
{
	bool fresh = false;
	int ret, first = 0;
	size_t a;

	for (a = 0; a < p->n_addrs; a++)
		fresh |= !floe_pod_has_addr(old, &p->addrs[a]);
	if (fresh) {
		first = ops->sync(ops->ctx);
		if (first < 0) {
			snprintf(err, errlen, "cannot wait for packets in flight: %s",
				 strerror(-first));
			return first;
		}
	}
	for (a = 0; a < p->n_addrs; a++) {
		ret = ops->target_set(ops->ctx, p->addrs[a].family, p->addrs[a].addr, target_id,
				      FLOE_TARGET_LOCAL);
		if (ret < 0 && !first) {
			snprintf(err, errlen, "cannot add address: %s", strerror(-ret));
			first = ret;
		}
	}
	for (a = 0; a < old->n_addrs; a++)
		if (!floe_pod_has_addr(p, &old->addrs[a]))
			ops->target_del(ops->ctx, old->addrs[a].family, old->addrs[a].addr);
	return first;
}

void pod_capture_stop(const struct pod_capture_ops *ops, const struct floe_pod *p)
{
	/*
	 * The mirror: out of `targets` first, both directions of each address at once; its
	 * traffic with tapped pods is then recorded at their hooks (from the pod at their
	 * egress, no longer skipped there), so the hooks can go.
	 */
	for (size_t a = 0; a < p->n_addrs; a++)
		ops->target_del(ops->ctx, p->addrs[a].family, p->addrs[a].addr);
	ops->detach(ops->ctx, p->host_ifindex);
}
