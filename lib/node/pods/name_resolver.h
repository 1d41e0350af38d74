/* SPDX-License-Identifier: Apache-2.0 */
/*
 * name_resolver: an address's names (pod, namespace, service, node) over time, for entries.
 *
 * The tap tells it what each address is from a moment on (a pod source's events, a Service's
 * cluster IP, an EndpointSlice's endpoint); the dissection thread asks what an address was at
 * the time of an entry's request. Each address keeps spans [from, to) of the names it had: a
 * pod that has gone still names the entries captured while it lived, and an IP reused by a
 * new pod names the new pod's entries with the new name. Thread-safe (one mutex): written on
 * the loop's thread, read on the dissection thread.
 *
 * Memory is bounded: the spans of addresses as they are now (one per address known) plus at
 * most history_max closed spans (a pod gone, a service changed); past that the oldest closed
 * span is forgotten (counted).
 *
 * Which span answers a lookup at time ts: the last one that began at or before ts (an entry
 * after a pod went, before anything else took its IP, still gets the pod); for a ts before the
 * first span, the first (a name learned a moment after the traffic began).
 *
 * Names from DNS answers (name_resolver_set_dns) are kept apart from the spans: per address a
 * history of answers (at most NAME_RESOLVER_DNS_PER_ADDR, the oldest by time goes first), each
 * naming the address from its time until its TTL (clamped to [NAME_RESOLVER_DNS_TTL_MIN_S,
 * NAME_RESOLVER_DNS_TTL_MAX_S]) runs out or a newer answer comes; a time before the first
 * answer gets the first. The same name answered again while it holds extends its record. At
 * most dns_max records, past that the least recently answered is forgotten (counted). A lookup
 * adds the name valid at its time to the span's names.
 */
#ifndef FLOE_PODS_NAME_RESOLVER_H
#define FLOE_PODS_NAME_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "entry/entry.h"
#include "pods/dns_answer.h"

#define NAME_RESOLVER_HISTORY_DEFAULT 16384
#define NAME_RESOLVER_DNS_DEFAULT     65536 /* names from DNS answers kept, at most */
#define NAME_RESOLVER_DNS_MAX	      10000000 /* the most --dns-names takes (2.3 GB at most) */
#define NAME_RESOLVER_DNS_PER_ADDR    8	    /* of those, for one address */
/* A DNS name outlives its answer's TTL up to this: clients keep connections (and reuse an
 * address they resolved) well past a TTL of a few seconds, as Kubernetes' 5 s and 30 s are. */
#define NAME_RESOLVER_DNS_TTL_MIN_S 60u
/* ... and is dropped after this even when the TTL is longer: an address that moved to a name
 * whose answer floe did not see would otherwise keep the old name for days. */
#define NAME_RESOLVER_DNS_TTL_MAX_S 3600u

struct name_resolver;

struct name_resolver_stats {
	size_t addrs;		  /* addresses known */
	size_t spans_open;	  /* spans of addresses as they are now */
	size_t spans_closed;	  /* closed spans kept (at most history_max) */
	uint64_t spans_forgotten; /* closed spans dropped for the bound */
	size_t bytes;		  /* memory held (approximately: allocations' sizes) */
	size_t dns_names;	  /* addresses with a name from a DNS answer (expired included) */
	size_t dns_records;	  /* their names over time (at most dns_max) */
	uint64_t dns_learned;	  /* names set by name_resolver_set_dns */
	uint64_t dns_evicted;	  /* DNS names dropped for the bound before their time was up */
	uint64_t dns_answers;	  /* answers that named addresses (name_resolver_learn_dns) */
	uint64_t dns_ignored;	  /* records of answers that named nothing (dns_answer.h) */
};

/*
 * history_max: closed spans kept (0: NAME_RESOLVER_HISTORY_DEFAULT); dns_max: addresses named
 * by DNS answers kept (0: NAME_RESOLVER_DNS_DEFAULT). NULL on ENOMEM.
 */
struct name_resolver *name_resolver_new(size_t history_max, size_t dns_max);
void name_resolver_free(struct name_resolver *r);

/*
 * From ts on, addr (16 bytes, IPv4 as ::ffff:a.b.c.d) is pod (with its namespace and node) or,
 * with pod NULL, no pod. Returns 0 or -ENOMEM.
 */
int name_resolver_set_pod(struct name_resolver *r, const uint8_t addr[16], const char *pod,
			  const char *ns, const char *node, uint64_t ts_ns);

/*
 * From ts on, addr is (node) or no longer is (NULL) an address of that node (a Node's
 * InternalIP or ExternalIP): its names when no pod or service names it. Returns 0 or -ENOMEM.
 */
int name_resolver_set_node(struct name_resolver *r, const uint8_t addr[16], const char *node,
			   uint64_t ts_ns);

/*
 * From ts on, addr backs (add) or no longer backs (del) service ns/name; pod and node (may be
 * NULL) name the endpoint's pod when the pod source does not know it (a pod of another node,
 * from the EndpointSlice's targetRef). References are counted: an address in two slices of
 * the same service is added twice and stays until deleted twice. Returns 0, -ENOMEM, or
 * -ENOENT for a del of what was not added.
 */
int name_resolver_service_add(struct name_resolver *r, const uint8_t addr[16], const char *ns,
			      const char *name, const char *pod, const char *node, uint64_t ts_ns);
int name_resolver_service_del(struct name_resolver *r, const uint8_t addr[16], const char *ns,
			      const char *name, const char *pod, const char *node, uint64_t ts_ns);

/*
 * A DNS answer seen at ts said addr is name (its TTL ttl_s): from then on, until the TTL
 * (clamped) has passed, lookups give name as the address's DNS name; it replaces the name an
 * earlier answer gave (the most recent wins). name is a presentation-form name of at most
 * ENTRY_NAME_MAX - 1 bytes (-EINVAL otherwise). Returns 0, -EINVAL or -ENOMEM.
 */
int name_resolver_set_dns(struct name_resolver *r, const uint8_t addr[16], const char *name,
			  uint64_t ts_ns, uint32_t ttl_s);

/*
 * What a DNS answer seen at ts names (dns_answer_names()): each address gets the name
 * (name_resolver_set_dns), counted. Returns 0 or the first error (the other addresses are
 * still named).
 */
int name_resolver_learn_dns(struct name_resolver *r, const struct dns_answer *a, uint64_t ts_ns);

/* The names addr had at ts: a new reference (entry_names_unref it), NULL when none. */
struct entry_names *name_resolver_lookup(struct name_resolver *r, const uint8_t addr[16],
					 uint64_t ts_ns);

void name_resolver_get_stats(struct name_resolver *r, struct name_resolver_stats *st);

/* A 4- or 16-byte address (family AF_INET or AF_INET6) as the resolver keys it. */
void name_resolver_key(int family, const uint8_t *addr, uint8_t out[16]);

#endif /* FLOE_PODS_NAME_RESOLVER_H */
