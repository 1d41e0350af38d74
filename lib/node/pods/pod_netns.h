/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pod_netns: a Kubernetes pod's network namespace, found from its IP (docs/kubernetes.md, "The
 * host interface"). The API server says a pod's IP, not where its sandbox is; the runtime's
 * namespaces are on this host:
 *
 *   candidates  the files of the runtimes' netns directories (/run/netns, /var/run/netns:
 *               containerd's and CRI-O's cni-* and UUID files, `ip netns`; /run/docker/netns)
 *               and every process's /proc/PID/ns/net, one per namespace (inode)
 *   asked       each one entered with setns(2) in a short-lived thread of its own (never the
 *               loop's): its veth whose peer lives in the caller's namespace and that veth's
 *               addresses (pods_local_probe_netns, as local mode does)
 *   kept        a table address -> (namespace inode, host veth), sorted, replaced whole when a
 *               scan ends; lookups on the loop are a binary search
 *
 * Only namespaces joined to the caller's by a veth count (the wiring of the bridge, ptp,
 * flannel, Calico, Cilium, kindnet and AWS VPC CNIs): an IP held by two such namespaces is
 * ambiguous and names neither. A scan is asked for by pod events (an IP not seen yet, or a pod
 * whose sandbox may be new) and by the source's periodic look; scans run one at a time, at
 * least POD_NETNS_GAP_NS apart, and a finished one calls done() on the loop so that the source
 * can re-resolve the pods whose answer changed (pod_netns_stale).
 *
 *   pod_netns_new(&cfg, &pn, err, len);
 *   pod_netns_start(pn, loop, done, ctx, err, len);  the first scan, synchronously
 *   pod_netns_apply(pn, &pod, pod_event);             after the route lookup (host_ifindex)
 *   pod_netns_request(pn);                            a scan soon
 *   pod_netns_free(pn);
 */
#ifndef FLOE_PODS_POD_NETNS_H
#define FLOE_PODS_POD_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop/evloop.h"
#include "pods/pods_local.h"

/* Namespaces asked at most per scan (the rest are not, and counted). */
#define POD_NETNS_MAX_NAMESPACES 16384
/* Two scans start at least this far apart. */
#define POD_NETNS_GAP_NS (250ull * 1000 * 1000)
/* Addresses waiting for a scan remembered one by one; past it every pod is looked at again. */
#define POD_NETNS_PENDING_MAX 1024

struct pod_netns;

struct pod_netns_config {
	const char *proc;	       /* NULL: /proc */
	const char *const *netns_dirs; /* NULL-terminated; NULL: the runtimes' directories */
	size_t max_namespaces;	       /* 0: POD_NETNS_MAX_NAMESPACES */
	uint64_t gap_ns;	       /* 0: POD_NETNS_GAP_NS */
};

struct pod_netns_stats {
	uint64_t scans;
	uint64_t failed_total;	/* namespaces that could not be asked, every scan */
	uint64_t scan_ns_total; /* time the scans took, all together */
	uint64_t namespaces;   /* last scan: namespaces found (candidates) */
	uint64_t pods;	       /* ... of those joined to this one by a veth */
	uint64_t addresses;    /* ... addresses in the table */
	uint64_t ambiguous;    /* ... addresses held by two namespaces or more */
	uint64_t failed;       /* ... namespaces that could not be asked */
	uint64_t not_asked;    /* ... past max_namespaces */
	uint64_t last_scan_ns; /* how long the last scan took */
	char first_error[256]; /* the last scan's first failure, "" when none */
};

/* What the table says of one address. */
struct pod_netns_hit {
	uint32_t inode;	  /* the namespace's inode number (nsfs) */
	int host_ifindex; /* the host end of its veth, in the caller's namespace */
	char host_ifname[IF_NAMESIZE];
};

int pod_netns_new(const struct pod_netns_config *cfg, struct pod_netns **out, char *err,
		  size_t errlen);

/* The first scan, synchronously (the pods of the first list get their namespaces), then the
 * scans' completions on loop; done(ctx) is called on the loop after each later scan. */
int pod_netns_start(struct pod_netns *pn, struct evloop *loop, void (*done)(void *ctx), void *ctx,
		    char *err, size_t errlen);

/* Waits for a scan in flight (bounded: it asks each namespace once) and frees everything. */
void pod_netns_free(struct pod_netns *pn);

/* A scan soon (at once, or POD_NETNS_GAP_NS after the last one started). */
void pod_netns_request(struct pod_netns *pn);

/* The table's answer for one address: true with hit filled, false when no namespace joined to
 * this one holds it (or two do). */
bool pod_netns_lookup(const struct pod_netns *pn, const struct floe_pod_addr *a,
		      struct pod_netns_hit *hit);

/*
 * p as the host route left it (host_ifindex: the route's device, 0: none): set netns_inode, and
 * take the pod's veth as its host interface when the route gives none or a bridge (a bridge
 * CNI routes the pod subnet to the bridge). pod_event: p comes from the API (added, changed,
 * listed): its addresses are looked for again by a scan soon. While that scan is to come, a
 * pod routed to a bridge whose veth is not known gets no interface (its veth is tapped when
 * the scan finds it, not the bridge first); once no scan is to come, the bridge stays.
 */
void pod_netns_apply(struct pod_netns *pn, struct floe_pod *p, bool pod_event);

/* In done(): whether p (as last resolved) may resolve differently now. */
bool pod_netns_stale(const struct pod_netns *pn, const struct floe_pod *p);

void pod_netns_get_stats(const struct pod_netns *pn, struct pod_netns_stats *out);

#endif /* FLOE_PODS_POD_NETNS_H */
