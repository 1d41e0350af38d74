// SPDX-License-Identifier: Apache-2.0
#include "pods/pod_source.h"

#include <string.h>

static bool addr_equal(const struct floe_pod_addr *a, const struct floe_pod_addr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

bool floe_pod_changed(const struct floe_pod *a, const struct floe_pod *b)
{
	if (a->host_ifindex != b->host_ifindex || a->host_network != b->host_network ||
	    strcmp(a->node, b->node) || a->n_addrs != b->n_addrs ||
	    strcmp(a->namespace, b->namespace) || strcmp(a->host_ifname, b->host_ifname) ||
	    strcmp(a->pod_ifname, b->pod_ifname) || a->netns_inode != b->netns_inode)
		return true;
	for (size_t i = 0; i < a->n_addrs; i++)
		if (!addr_equal(&a->addrs[i], &b->addrs[i]))
			return true;
	return false;
}

void pod_list_diff(const struct floe_pod_list *old, const struct floe_pod_list *new,
		   const struct pod_sink *sink)
{
	size_t i = 0, j = 0;

	/* Both sorted by name: one merge walk. */
	while (i < old->n || j < new->n) {
		int cmp = i == old->n	? 1
			  : j == new->n ? -1
					: strcmp(old->pods[i].name, new->pods[j].name);

		if (cmp < 0) {
			sink->event(sink->ctx, POD_REMOVED, &old->pods[i++], NULL);
		} else if (cmp > 0) {
			sink->event(sink->ctx, POD_ADDED, &new->pods[j++], NULL);
		} else {
			if (floe_pod_changed(&old->pods[i], &new->pods[j]))
				sink->event(sink->ctx, POD_CHANGED, &new->pods[j], &old->pods[i]);
			i++;
			j++;
		}
	}
}
