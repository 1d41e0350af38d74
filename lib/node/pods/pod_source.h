/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pod_source: where the tap learns which pods exist, behind one interface (a struct of
 * function pointers, one implementation per backend, as curl's lib/vtls does for TLS):
 *
 *   local       network namespaces in /run/netns joined by veth pairs, plus the inventory file
 *               (pod_source_local.c; pods_local.h has the discovery itself)
 *   kubernetes  list + watch of this node's pods on the API server over HTTPS
 *               (pod_source_k8s.c; k8s_config.h reads kubeconfigs, k8s_watch.h parses)
 *
 * A source registers the file descriptors and timers it needs with the caller's event loop
 * itself (evloop_add_fd/evloop_add_timer): an inotify fd and a rescan timer for the local
 * source, the watch's socket for Kubernetes. The loop does not know which source it runs.
 * What a source reports is events on its sink: a pod appeared, changed (addresses, host
 * interface, Kubernetes namespace) or went. Pods are identified by name (for the local
 * source, the netns name; for Kubernetes, namespace/name). The tap turns events into kernel
 * map updates, hook attach/detach and entry names.
 *
 * Adding a source: write pod_source_NAME.c with a constructor that fills a struct pod_source
 * (ops + impl); start() makes the first full list and reports each pod as POD_ADDED before
 * it returns (so the caller can print what it taps), then registers its fds and timers;
 * free() removes them from the loop. A source that gets whole lists (a rescan, a Kubernetes
 * LIST after a watch expired) can hand them to pod_list_diff() for the events.
 */
#ifndef FLOE_PODS_POD_SOURCE_H
#define FLOE_PODS_POD_SOURCE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loop/evloop.h"
#include "pods/pod_netns.h"
#include "pods/pods_local.h"

/* An address of a service (struct pod_sink's service event). */
struct floe_service_addr {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	const char *ns, *service;
	const char *pod, *node; /* "" when not known */
};

enum pod_event_kind {
	POD_ADDED,
	POD_CHANGED, /* same name; addresses, host interface or namespace differ */
	POD_REMOVED,
};

struct pod_sink {
	/* pod: as it is now (POD_REMOVED: as it was last). old: the previous state for
	 * POD_CHANGED, else NULL. Both valid only during the call. */
	void (*event)(void *ctx, enum pod_event_kind kind, const struct floe_pod *pod,
		      const struct floe_pod *old);
	/* A background update failed (the pods stay as last reported); msg says why. */
	void (*error)(void *ctx, int err, const char *msg);
	/* Optional (Kubernetes, with names): from now on a backs (up) or no longer backs service
	 * a->ns/a->service: a Service's cluster IP, or an endpoint of its EndpointSlices (then
	 * with the endpoint's pod and node when the slice names them). Valid during the call. */
	void (*service)(void *ctx, bool up, const struct floe_service_addr *a);
	/* Optional (Kubernetes, with names): from now on a is (up) or no longer is an address of
	 * node a->node (a Node's InternalIP or ExternalIP; ns, service and pod ""). */
	void (*node)(void *ctx, bool up, const struct floe_service_addr *a);
	void *ctx;
};

struct pod_source_ops {
	const char *name; /* "local", "kubernetes" */
	/* First full list (a POD_ADDED per pod, before returning), then watch through loop.
	 * Returns 0 or a negative errno with a message in err. */
	int (*start)(void *impl, struct evloop *loop, const struct pod_sink *sink, char *err,
		     size_t errlen);
	/* Remove its fds and timers from the loop and free impl. No event after this. */
	void (*free)(void *impl);
	/* fn for each pod as last reported (the tap's scope changed: it looks at them again). */
	void (*each)(void *impl, void (*fn)(void *ctx, const struct floe_pod *p), void *ctx);
	/* Optional (Kubernetes): from now on only the pods the label selector sel (NULL or "":
	 * every pod) selects; the source lists again and reports the differences as events.
	 * Returns 0 or a negative errno with a message. */
	int (*set_selector)(void *impl, const char *sel, char *err, size_t errlen);
	/* Optional (Kubernetes): the scans of the pods' network namespaces so far (pod_netns.h);
	 * false when the source does not scan them. On the loop's thread. */
	bool (*netns_stats)(void *impl, struct pod_netns_stats *out);
};

struct pod_source {
	const struct pod_source_ops *ops;
	void *impl;
};

static inline int pod_source_start(struct pod_source *s, struct evloop *loop,
				   const struct pod_sink *sink, char *err, size_t errlen)
{
	return s->ops->start(s->impl, loop, sink, err, errlen);
}

static inline void pod_source_each(struct pod_source *s,
				   void (*fn)(void *ctx, const struct floe_pod *p), void *ctx)
{
	s->ops->each(s->impl, fn, ctx);
}

static inline int pod_source_set_selector(struct pod_source *s, const char *sel, char *err,
					  size_t errlen)
{
	if (!s->ops->set_selector) {
		snprintf(err, errlen, "a label selector is for Kubernetes mode");
		return -ENOTSUP;
	}
	return s->ops->set_selector(s->impl, sel, err, errlen);
}

static inline bool pod_source_netns_stats(const struct pod_source *s, struct pod_netns_stats *out)
{
	return s->ops && s->ops->netns_stats && s->ops->netns_stats(s->impl, out);
}

static inline void pod_source_free(struct pod_source *s)
{
	if (s->ops)
		s->ops->free(s->impl);
	s->ops = NULL;
	s->impl = NULL;
}

/* True when a and b (same name) differ in what the tap uses. */
bool floe_pod_changed(const struct floe_pod *a, const struct floe_pod *b);

/* Events that turn old into new (both sorted by name, as pods_local_discover gives them). */
void pod_list_diff(const struct floe_pod_list *old, const struct floe_pod_list *new,
		   const struct pod_sink *sink);

/* ------------------------------------------------------------ the local source */

#define POD_SOURCE_LOCAL_RESCAN_NS (5ull * 1000000000ull)

struct pod_source_local_config {
	const char *netns_dir; /* NULL: /run/netns */
	const char *inventory; /* may be NULL */
	uint64_t rescan_ns;    /* safety-net rescan period; 0: POD_SOURCE_LOCAL_RESCAN_NS */
};

/*
 * The local source. Between its slow safety-net rescans it rescans when something happens:
 * inotify on the netns directory (a namespace made or deleted) and on the inventory file (an
 * edit), rtnetlink link events in the caller's netns (a veth end arriving, going, coming up):
 * a short while after the event
 * (events come in bursts) and a few times more over the next seconds, because a pod's
 * address is set inside its namespace, where this netns sees no event.
 * Runs discovery on the loop's thread (it enters each netns with setns(2) and comes back).
 */
int pod_source_local_new(const struct pod_source_local_config *cfg, struct pod_source *out);

/* ------------------------------------------------------------ the Kubernetes source */

struct pod_source_k8s_config {
	const char *kubeconfig; /* NULL: in-cluster (the pod's service account) */
	const char *sa_dir;	/* in-cluster: NULL is K8S_SA_DIR */
	const char *node;	/* spec.nodeName of the pods; NULL: every node */
	/* Also list and watch Services and EndpointSlices (every namespace) and Nodes, reported
	 * through the sink's service and node events: their names for entries. */
	bool services;
	/* Pods followed at most (0: K8S_PODS_MAX_DEFAULT); the table grows as pods come. */
	size_t pods_max;
	/* A label selector (kubectl's syntax, evaluated by the API server: labelSelector): only
	 * the pods it selects are reported. NULL or "": every pod. */
	const char *selector;
	/* With services: also watch every node's pods (unless node is NULL and there is no
	 * selector: the pod watch has them all), reported as service events with service "" and
	 * the pod and node: the names of the pods the pod watch leaves out, for entries. */
	bool names_all_nodes;
	/* Items a LIST page asks for (0: 500); at most K8S_PAGE_LIMIT_MAX. */
	size_t page_limit;
};

#define K8S_PAGE_LIMIT_MAX 10000

/* --all-nodes on a big cluster: about 1.2 KB a pod followed (twice that during a relist). */
#define K8S_PODS_MAX_DEFAULT 65536
#define K8S_PODS_MAX_LIMIT   (1u << 20)

/*
 * The Kubernetes source (docs/kubernetes.md): reads the kubeconfig (or the service account)
 * now, so that a bad one is said before anything starts; start() lists the pods, then watches
 * them through the loop. Pods are reported while Running with an IP and not being deleted;
 * name is "namespace/name"; the host interface is the host's route to the pod's IP (0 when
 * there is none, and for host-network pods). Returns 0 or a negative errno with a message.
 */
int pod_source_k8s_new(const struct pod_source_k8s_config *cfg, struct pod_source *out, char *err,
		       size_t errlen);

#endif /* FLOE_PODS_POD_SOURCE_H */
