/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods_local: pods of this host in local mode (no cluster).
 *
 * A pod is a named network namespace (a file in /run/netns, as `ip netns add` makes) that is
 * joined to the caller's network namespace by a veth pair, the way a CNI plugin wires pods on
 * a Kubernetes node. The pod's addresses are those of its end of the veth; the host-side end
 * is where floe hooks TC. The pod's Kubernetes namespace comes from the inventory file
 * (format in docs/local-mode.md), "default" when the inventory does not name it.
 */
#ifndef FLOE_PODS_LOCAL_H
#define FLOE_PODS_LOCAL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#define FLOE_POD_NAME_MAX  254
#define FLOE_POD_MAX_ADDRS 16

/* Kubernetes node names are DNS-1123 subdomains: at most 253 characters. */
#define FLOE_NODE_NAME_MAX 253
/* Kubernetes namespace names are DNS-1123 labels: at most 63 characters. */
#define FLOE_NAMESPACE_MAX 63
/* Bounds: pods_local_discover fails with -ENOSPC past FLOE_POD_LIST_MAX pods; an inventory is
 * at most FLOE_INVENTORY_MAX_BYTES (-EFBIG) and FLOE_INVENTORY_MAX_ENTRIES pod lines (-ENOSPC). */
#define FLOE_POD_LIST_MAX	   8192
#define FLOE_INVENTORY_MAX_BYTES   (1024 * 1024)
#define FLOE_INVENTORY_MAX_ENTRIES 65536

struct floe_pod_addr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint8_t prefixlen;
};

struct floe_pod {
	/* The identity: the netns name (local mode), "namespace/name" (Kubernetes); see
	 * floe_pod_short_name(). */
	char name[FLOE_POD_NAME_MAX + 1];
	char namespace[FLOE_POD_NAME_MAX + 1]; /* Kubernetes namespace */
	int host_ifindex;		       /* host-side veth, in the caller's netns */
	char host_ifname[IF_NAMESIZE];
	char pod_ifname[IF_NAMESIZE]; /* the pod's end of the veth */
	size_t n_addrs;
	struct floe_pod_addr addrs[FLOE_POD_MAX_ADDRS];
	char node[FLOE_NODE_NAME_MAX + 1]; /* Kubernetes: spec.nodeName; local mode: "" */
	/* Kubernetes: spec.hostNetwork. Not tapped: its traffic is the node's (host_ifindex 0). */
	bool host_network;
	/* Kubernetes: the pod's network namespace (its inode), found from its IP (pod_netns.h);
	 * 0 when not known. TLS picks the pod's processes by it. Local mode: 0. */
	uint32_t netns_inode;
	/* Kubernetes: routed to a bridge, its veth waits for a scan of the namespaces
	 * (host_ifindex 0 meanwhile; not compared by floe_pod_changed: the scan's end changes the
	 * interface). */
	bool netns_pending;
};

/* The pod's own name: name without its "namespace/" (Kubernetes); local names have no '/'. */
static inline const char *floe_pod_short_name(const struct floe_pod *p)
{
	size_t nl = __builtin_strlen(p->namespace);

	if (!__builtin_strncmp(p->name, p->namespace, nl) && p->name[nl] == '/')
		return p->name + nl + 1;
	return p->name;
}

/* Whether p has address a (family and bytes). */
static inline bool floe_pod_has_addr(const struct floe_pod *p, const struct floe_pod_addr *a)
{
	for (size_t i = 0; i < p->n_addrs; i++)
		if (p->addrs[i].family == a->family &&
		    !__builtin_memcmp(p->addrs[i].addr, a->addr, 16))
			return true;
	return false;
}

struct floe_pod_list {
	struct floe_pod *pods;
	size_t n;
};

/*
 * Find the pods of this host. netns_dir is normally "/run/netns"; inventory may be NULL or
 * a path that does not exist (then every pod is in "default"). Named network namespaces that
 * have no veth peer in the caller's namespace are not pods and are skipped.
 * Returns 0 or a negative errno with a message in err. Must be called before the caller
 * starts threads (it enters each netns with setns(2) and comes back).
 */
int pods_local_discover(const char *netns_dir, const char *inventory, struct floe_pod_list *out,
			char *err, size_t errlen);

void pods_local_free(struct floe_pod_list *list);

/*
 * Whether the network namespace behind ns_fd is a pod of the caller's namespace (self_fd):
 * enter it (setns(2): the calling thread only), find its veth whose peer lives in self_fd's
 * namespace (the lowest ifindex when several) and that veth's addresses, and come back.
 * Fills pod's addrs, n_addrs, pod_ifname and host_ifindex (the peer, in the caller's
 * namespace; host_ifname is left to the caller). *is_pod false when there is no such veth
 * (or ns_fd is no namespace). name is for messages. Returns 0 or a negative errno with a
 * message in err.
 */
int pods_local_probe_netns(const char *name, int ns_fd, int self_fd, struct floe_pod *pod,
			   bool *is_pod, char *err, size_t errlen);

/* The kind of the caller's interface ifindex (rtnetlink IFLA_INFO_KIND: "bridge", "veth";
 * "" when it has none). Returns 0 or a negative errno (-ENODEV: no such interface). */
int floe_link_kind(int ifindex, char *kind, size_t kindlen);

/*
 * Inventory: which Kubernetes namespace each pod (netns name) is in. Format (docs/local-mode.md):
 * one `<netns-name> <namespace>` per line, `* <namespace>` sets the namespace of pods not
 * listed (default "default"), `#` starts a comment, blank lines are allowed.
 */
struct inventory_entry {
	char *netns; /* pod (netns) name */
	char namespace[FLOE_NAMESPACE_MAX + 1];
	unsigned int line; /* where it was given */
};

struct inventory {
	struct inventory_entry *entries; /* sorted by netns name, names unique */
	size_t n;
	char default_namespace[FLOE_NAMESPACE_MAX + 1];
};

/*
 * Parse an inventory held in memory (text need not be NUL-terminated). origin names the
 * source in error messages ("<origin>:<line>: ..."); NULL means "inventory".
 * Returns 0 or a negative errno (-EINVAL for a bad line) with a message in err; on error inv
 * is left empty (inventory_free is still safe).
 */
int inventory_parse(const char *text, size_t len, const char *origin, struct inventory *inv,
		    char *err, size_t errlen);
/* Read and parse a file. A file that does not exist gives an empty inventory (all "default"). */
int inventory_load(const char *path, struct inventory *inv, char *err, size_t errlen);
/* The namespace of a pod: its line, else the `*` line, else "default". inv may be NULL. */
const char *inventory_lookup(const struct inventory *inv, const char *netns);
void inventory_free(struct inventory *inv);

/* True when s[0..len) is a DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63). */
bool floe_dns1123_label(const char *s, size_t len);

/* Tap scope, as `floe tap [POD REGEX] [-n NS,...] [-A]` gives it. */
struct tap_scope {
	bool has_regex;
	regex_t pod_regex;   /* POSIX extended, unanchored search in the pod name */
	bool all_namespaces; /* -A */
	char **namespaces;   /* -n, used when !all_namespaces; NULL/0: only "default" */
	size_t n_namespaces;
};

/* Parse regex (may be NULL) and a comma-separated namespace list (may be NULL). */
int tap_scope_init(struct tap_scope *scope, const char *regex, const char *namespaces_csv,
		   bool all_namespaces, char *err, size_t errlen);
bool tap_scope_match(const struct tap_scope *scope, const struct floe_pod *pod);
void tap_scope_free(struct tap_scope *scope);

#endif /* FLOE_PODS_LOCAL_H */
