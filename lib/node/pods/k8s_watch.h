/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_watch: what the API server sends about pods, parsed (jansson): a watch stream's lines
 * (one JSON event object per line, split incrementally out of the chunked body), the pages of
 * a LIST, and the Status object of a failed request. No I/O here: pod_source_k8s.c does that.
 */
#ifndef FLOE_PODS_K8S_WATCH_H
#define FLOE_PODS_K8S_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pods/pods_local.h"

/* A watch event line longer than this ends the watch (-EMSGSIZE; the source relists): a pod
 * object is a few KiB, the API server's own limit on an object is 1.5 MiB. */
#define K8S_LINE_MAX (2u << 20)
/* resourceVersion and continue tokens: opaque strings, bounded here. */
#define K8S_RV_MAX	 64
#define K8S_CONTINUE_MAX 1024

/* Bytes in, whole lines out: the partial last line is kept (at most max bytes) until its '\n'. */
struct k8s_lines {
	char *buf;
	size_t len, cap, max;
};

typedef int (*k8s_line_fn)(void *ctx, const char *line, size_t len);

void k8s_lines_init(struct k8s_lines *l, size_t max);
/* Calls fn for each complete line (without its '\n'; empty lines are skipped). Returns 0, the
 * first non-zero return of fn, -EMSGSIZE when a line exceeds max, or -ENOMEM. */
int k8s_lines_feed(struct k8s_lines *l, const char *data, size_t len, k8s_line_fn fn, void *ctx);
void k8s_lines_reset(struct k8s_lines *l); /* drop a partial line (a new stream) */
void k8s_lines_free(struct k8s_lines *l);

/* A pod as the API has it, reduced to what floe uses. */
struct k8s_pod {
	/* name "namespace/name", namespace, node, addrs (status.podIPs), host_network; the host
	 * interface is not known here (host_ifindex 0). */
	struct floe_pod pod;
	/* Running with an IP and not being deleted: what floe taps. Pending, Succeeded, Failed,
	 * Unknown or a deletionTimestamp: not. */
	bool active;
	char phase[16];
	char resource_version[K8S_RV_MAX + 1];
};

enum k8s_event_type { K8S_ADDED, K8S_MODIFIED, K8S_DELETED, K8S_BOOKMARK, K8S_ERROR };

struct k8s_event {
	enum k8s_event_type type;
	/* ADDED/MODIFIED/DELETED: the pod (its resourceVersion in pod.resource_version);
	 * BOOKMARK: resource_version; ERROR: code (410: the resourceVersion is too old) and
	 * message. */
	struct k8s_pod pod;
	char resource_version[K8S_RV_MAX + 1];
	int code;
	char message[256];
};

/* One event line. Returns 0, -EINVAL for a well-formed event about a pod floe cannot take (the
 * stream goes on), or -EBADMSG (not JSON, not an event) with a message in err. */
int k8s_watch_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err,
			  size_t errlen);

/* A pod object (a json_t *, void here so that callers need not include jansson). */
int k8s_pod_from_json(const void *obj, struct k8s_pod *out, char *err, size_t errlen);

typedef void (*k8s_pod_fn)(void *ctx, const struct k8s_pod *pod);

/* A page of GET /api/v1/pods: fn for each item that parses (bad items are counted in *skipped
 * and the first one's reason left in err), the list's resourceVersion and continue token
 * ("" on the last page). Returns 0 or -EINVAL when the body is not a PodList. */
int k8s_pod_list_parse(const char *body, size_t len, k8s_pod_fn fn, void *ctx,
		       char rv[K8S_RV_MAX + 1], char cont[K8S_CONTINUE_MAX + 1], size_t *skipped,
		       char *err, size_t errlen);

/* ------------------------------------------------------------ Services, EndpointSlices */

/* K8S_RES_POD_NAMES: pods again, reduced to the names of their addresses (a k8s_svc, below):
 * the pods of other nodes, which floe does not tap but whose addresses entries name. */
enum k8s_resource {
	K8S_RES_PODS,
	K8S_RES_SERVICES,
	K8S_RES_ENDPOINTSLICES,
	K8S_RES_NODES,
	K8S_RES_POD_NAMES,
};

/* The API's limit on endpoints in one EndpointSlice is 1000; a Service has 2 cluster IPs. */
#define K8S_SVC_ADDRS_MAX 1000

struct k8s_svc_addr {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	char *pod, *node; /* an endpoint's targetRef (a Pod) and nodeName; "" when not given */
};

/*
 * A Service (its cluster IPs) or an EndpointSlice (its endpoints' addresses), reduced to
 * what names addresses: key "namespace/name" of the object, the service's namespace and name
 * (an EndpointSlice's kubernetes.io/service-name label; "" for a slice no Service owns, which
 * then has no address), the addresses (allocated: k8s_svc_free).
 * A Node the same way: key its name, ns and service "", its status.addresses of type
 * InternalIP and ExternalIP, each with node = its name (a node's own addresses).
 * A pod (K8S_RES_POD_NAMES) the same way: key "namespace/name", ns, service "", its IPs each
 * with pod = its name and node = spec.nodeName, while it is active (struct k8s_pod); none
 * when it is not, or on the host's network (its IP is the node's).
 */
struct k8s_svc {
	char key[FLOE_POD_NAME_MAX + 1];
	char ns[FLOE_NAMESPACE_MAX + 1];
	char service[FLOE_POD_NAME_MAX + 1];
	size_t n;
	struct k8s_svc_addr *addrs;
};

void k8s_svc_free(struct k8s_svc *v);

/* A Service or EndpointSlice object (json_t *): 0, -EINVAL (with err) or -ENOMEM. Headless
 * Services and FQDN slices parse, with no address. */
int k8s_svc_from_json(const void *obj, enum k8s_resource res, struct k8s_svc *out, char *err,
		      size_t errlen);

struct k8s_svc_event {
	enum k8s_event_type type;
	struct k8s_svc svc; /* ADDED/MODIFIED/DELETED (k8s_svc_free it) */
	char resource_version[K8S_RV_MAX + 1];
	int code;
	char message[256];
};

/* One event line of a watch of Services or EndpointSlices: as k8s_watch_event_parse. */
int k8s_svc_event_parse(const char *line, size_t len, enum k8s_resource res,
			struct k8s_svc_event *ev, char *err, size_t errlen);

/* fn takes the object's addresses (it frees them, or keeps them); returns 0 or -ENOMEM. */
typedef int (*k8s_svc_fn)(void *ctx, struct k8s_svc *v);

/* A page of a LIST of Services or EndpointSlices: as k8s_pod_list_parse. */
int k8s_svc_list_parse(const char *body, size_t len, enum k8s_resource res, k8s_svc_fn fn,
		       void *ctx, char rv[K8S_RV_MAX + 1], char cont[K8S_CONTINUE_MAX + 1],
		       size_t *skipped, char *err, size_t errlen);

/* A Status object (the body of a failed request): 0 with its code and message, or -EINVAL. */
int k8s_status_parse(const char *body, size_t len, int *code, char *message, size_t msglen);

#endif /* FLOE_PODS_K8S_WATCH_H */
