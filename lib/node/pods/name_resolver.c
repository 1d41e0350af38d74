// SPDX-License-Identifier: Apache-2.0
/*
 * Names of addresses over time. See name_resolver.h.
 *
 * A chained hash table of addresses (16-byte keys; 40 lines here rather than a dependency:
 * glibc's hsearch cannot delete, and no hash table is linked in yet), each with its spans
 * newest first. Closed spans are also on one list in the order they closed, so that the
 * oldest is the one forgotten when the history is full. DNS names hang off the same address
 * slots, newest answer first (at most NAME_RESOLVER_DNS_PER_ADDR each), and on a list of their
 * own in the order they were answered (the oldest is forgotten when there are dns_max).
 */
#include "pods/name_resolver.h"
#include "entry/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define OPEN UINT64_MAX

struct addr_slot;

struct span {
	struct span *older;		    /* the address's previous span */
	struct span *fifo_prev, *fifo_next; /* closed spans, in the order they closed */
	struct addr_slot *slot;
	uint64_t from, to; /* to: OPEN while the address is this now */
	struct entry_names *names;
};

/* An address in a service's endpoints (or its cluster IP), counted. */
struct svc_ref {
	char *ns, *name, *pod, *node; /* one allocation, at ns */
	unsigned count;
};

/* The name one DNS answer gave an address, from the answer's time. */
struct dns_name {
	struct dns_name *fifo_prev, *fifo_next; /* in the order answered */
	struct dns_name *older;			/* the address's answer before (by time) */
	struct addr_slot *slot;
	uint64_t from;		   /* the answer's time */
	uint64_t until;		   /* answer time + TTL (clamped): the name holds before it */
	struct entry_names *names; /* the name alone, for an address with no other names */
};

struct addr_slot {
	struct addr_slot *next; /* hash chain */
	struct dns_name *dns;	/* newest answer first; NULL: no DNS answer named it */
	uint8_t addr[16];
	struct span *spans;	  /* newest first */
	struct entry_names *pod;  /* from the pod source: pod, namespace, node; NULL: none */
	struct entry_names *node; /* a Node's own address: the node; NULL: none */
	struct svc_ref *refs;	  /* sorted by namespace, name */
	size_t n_refs;
};

struct name_resolver {
	pthread_mutex_t lock;
	struct addr_slot **buckets;
	size_t n_buckets, n_addrs;
	struct span *oldest, *newest; /* closed spans */
	size_t history_max, spans_open, spans_closed, bytes;
	uint64_t forgotten;
	struct dns_name *dns_oldest, *dns_newest;
	size_t dns_max, n_dns; /* n_dns: records (an address may have several) */
	size_t n_dns_addrs;    /* addresses with at least one */
	uint64_t dns_learned, dns_evicted, dns_answers, dns_ignored;
};

void name_resolver_key(int family, const uint8_t *addr, uint8_t out[16])
{
	if (family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

static size_t hash16(const uint8_t a[16])
{
	uint64_t h = fnv1a64(FNV1A64_INIT, a, 16);

	return (size_t)(h ^ (h >> 32));
}

struct name_resolver *name_resolver_new(size_t history_max, size_t dns_max)
{
	struct name_resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->n_buckets = 256;
	r->buckets = calloc(r->n_buckets, sizeof(*r->buckets));
	if (!r->buckets) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->history_max = history_max ? history_max : NAME_RESOLVER_HISTORY_DEFAULT;
	r->dns_max = dns_max ? dns_max : NAME_RESOLVER_DNS_DEFAULT;
	r->bytes = sizeof(*r) + r->n_buckets * sizeof(*r->buckets);
	return r;
}

static size_t names_bytes(const struct entry_names *n)
{
	/* the struct (a count and five pointers) and its five strings */
	return n ? 48 + strlen(entry_names_pod(n)) + strlen(entry_names_namespace(n)) +
		       strlen(entry_names_service(n)) + strlen(entry_names_node(n)) +
		       strlen(entry_names_dns(n)) + 5
		 : 0;
}

static void slot_free(struct addr_slot *s)
{
	for (struct span *sp = s->spans, *older; sp; sp = older) {
		older = sp->older;
		entry_names_unref(sp->names);
		free(sp);
	}
	entry_names_unref(s->pod);
	entry_names_unref(s->node);
	for (struct dns_name *d = s->dns, *older; d; d = older) {
		older = d->older;
		entry_names_unref(d->names);
		free(d);
	}
	for (size_t i = 0; i < s->n_refs; i++)
		free(s->refs[i].ns);
	free(s->refs);
	free(s);
}

void name_resolver_free(struct name_resolver *r)
{
	if (!r)
		return;
	for (size_t b = 0; b < r->n_buckets; b++)
		for (struct addr_slot *s = r->buckets[b], *next; s; s = next) {
			next = s->next;
			slot_free(s);
		}
	free(r->buckets);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct addr_slot **slot_where(struct name_resolver *r, const uint8_t addr[16])
{
	struct addr_slot **pp = &r->buckets[hash16(addr) & (r->n_buckets - 1)];

	while (*pp && memcmp((*pp)->addr, addr, 16))
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct name_resolver *r)
{
	size_t n = r->n_buckets * 2;
	struct addr_slot **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (size_t b = 0; b < r->n_buckets; b++)
		for (struct addr_slot *s = r->buckets[b], *next; s; s = next) {
			size_t h = hash16(s->addr) & (n - 1);

			next = s->next;
			s->next = nb[h];
			nb[h] = s;
		}
	r->bytes += (n - r->n_buckets) * sizeof(*nb);
	free(r->buckets);
	r->buckets = nb;
	r->n_buckets = n;
}

static struct addr_slot *slot_get(struct name_resolver *r, const uint8_t addr[16])
{
	struct addr_slot **pp = slot_where(r, addr), *s = *pp;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->addr, addr, 16);
	*pp = s;
	r->n_addrs++;
	r->bytes += sizeof(*s);
	if (r->n_addrs > r->n_buckets)
		grow(r);
	return s;
}

/* An address with nothing now and no span left goes. */
static void slot_maybe_drop(struct name_resolver *r, struct addr_slot *s)
{
	struct addr_slot **pp;

	if (s->spans || s->pod || s->node || s->n_refs || s->dns)
		return;
	pp = slot_where(r, s->addr);
	*pp = s->next;
	r->n_addrs--;
	r->bytes -= sizeof(*s) + s->n_refs * sizeof(*s->refs);
	free(s->refs);
	free(s);
}

static void fifo_unlink(struct name_resolver *r, struct span *sp)
{
	if (sp->fifo_prev)
		sp->fifo_prev->fifo_next = sp->fifo_next;
	else
		r->oldest = sp->fifo_next;
	if (sp->fifo_next)
		sp->fifo_next->fifo_prev = sp->fifo_prev;
	else
		r->newest = sp->fifo_prev;
}

static void forget_oldest(struct name_resolver *r)
{
	struct span *sp = r->oldest, **pp;
	struct addr_slot *s = sp->slot;

	fifo_unlink(r, sp);
	for (pp = &s->spans; *pp != sp; pp = &(*pp)->older)
		;
	*pp = sp->older;
	r->spans_closed--;
	r->forgotten++;
	r->bytes -= sizeof(*sp) + names_bytes(sp->names);
	entry_names_unref(sp->names);
	free(sp);
	slot_maybe_drop(r, s);
}

/* The names the address has now, from its pod and its services, else its node; NULL when it
 * has none. */
static struct entry_names *names_now(const struct addr_slot *s)
{
	const struct svc_ref *ref = s->n_refs ? &s->refs[0] : NULL, *who = ref;
	struct entry_names_init in = {0};

	if (!s->pod && !ref)
		return s->node ? entry_names_ref(s->node) : NULL;
	/* A reference without a service is a pod of another node named by the pod watch
	 * (service_add with name ""): the first one with a service names the service, and its
	 * pod the pod, else the first reference that names a pod. */
	for (size_t i = 0; i < s->n_refs; i++)
		if (s->refs[i].name[0]) {
			ref = &s->refs[i];
			break;
		}
	if (ref && ref->pod[0])
		who = ref;
	for (size_t i = 0; who && !who->pod[0] && i < s->n_refs; i++)
		if (s->refs[i].pod[0])
			who = &s->refs[i];
	if (s->pod) {
		in.pod = entry_names_pod(s->pod);
		in.ns = entry_names_namespace(s->pod);
		in.node = entry_names_node(s->pod);
	} else {
		in.pod = who->pod;
		in.ns = who->ns;
		in.node = who->node;
	}
	in.service = ref && ref->name[0] ? ref->name : NULL;
	return entry_names_new_k8s(&in);
}

/* The address's state changed at ts: its spans follow. */
static int update(struct name_resolver *r, struct addr_slot *s, uint64_t ts)
{
	struct span *open = s->spans && s->spans->to == OPEN ? s->spans : NULL, *sp;
	struct entry_names *now = names_now(s);

	if ((s->pod || s->n_refs || s->node) && !now)
		return -ENOMEM;
	if (open && now && entry_names_equal(open->names, now)) {
		entry_names_unref(now);
		return 0;
	}
	if (!open && !now)
		return 0;
	if (open && now && open->from >= ts) {
		/* Changed again at the same moment: nothing was named by the former. */
		r->bytes += names_bytes(now) - names_bytes(open->names);
		entry_names_unref(open->names);
		open->names = now;
		return 0;
	}
	if (now) {
		sp = calloc(1, sizeof(*sp));
		if (!sp) {
			entry_names_unref(now);
			return -ENOMEM;
		}
		sp->slot = s;
		sp->from = ts;
		sp->to = OPEN;
		sp->names = now;
		r->bytes += sizeof(*sp) + names_bytes(now);
		r->spans_open++;
	}
	if (open) {
		open->to = ts;
		open->fifo_prev = r->newest;
		if (r->newest)
			r->newest->fifo_next = open;
		else
			r->oldest = open;
		r->newest = open;
		r->spans_open--;
		r->spans_closed++;
	}
	if (now) {
		sp->older = s->spans;
		s->spans = sp;
	}
	while (r->spans_closed > r->history_max)
		forget_oldest(r);
	return 0;
}

/* The address's own names (*field: its pod's, or its node's) are in from ts on (NULL: none). */
static int set_own(struct name_resolver *r, const uint8_t addr[16], size_t field,
		   const struct entry_names_init *in, uint64_t ts_ns)
{
	struct addr_slot *s;
	struct entry_names **f;
	int ret = -ENOMEM;

	pthread_mutex_lock(&r->lock);
	s = in ? slot_get(r, addr) : *slot_where(r, addr);
	if (!s) {
		ret = in ? -ENOMEM : 0;
		goto out;
	}
	f = (struct entry_names **)((char *)s + field);
	r->bytes -= names_bytes(*f);
	entry_names_unref(*f);
	*f = NULL;
	if (in) {
		*f = entry_names_new_k8s(in);
		if (!*f)
			goto out;
		r->bytes += names_bytes(*f);
	}
	ret = update(r, s, ts_ns);
	slot_maybe_drop(r, s);
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int name_resolver_set_pod(struct name_resolver *r, const uint8_t addr[16], const char *pod,
			  const char *ns, const char *node, uint64_t ts_ns)
{
	return set_own(r, addr, offsetof(struct addr_slot, pod),
		       pod ? &(struct entry_names_init){.pod = pod, .ns = ns, .node = node} : NULL,
		       ts_ns);
}

int name_resolver_set_node(struct name_resolver *r, const uint8_t addr[16], const char *node,
			   uint64_t ts_ns)
{
	return set_own(r, addr, offsetof(struct addr_slot, node),
		       node ? &(struct entry_names_init){.node = node} : NULL, ts_ns);
}

static int ref_cmp(const struct svc_ref *x, const char *ns, const char *name, const char *pod,
		   const char *node)
{
	int c = strcmp(x->ns, ns);

	if (!c)
		c = strcmp(x->name, name);
	if (!c)
		c = strcmp(x->pod, pod);
	if (!c)
		c = strcmp(x->node, node);
	return c;
}

/* Where ns/name/pod/node is in s->refs (or goes: *found false). */
static size_t ref_find(const struct addr_slot *s, const char *ns, const char *name, const char *pod,
		       const char *node, bool *found)
{
	size_t i = 0;
	int c = 1;

	while (i < s->n_refs && (c = ref_cmp(&s->refs[i], ns, name, pod, node)) < 0)
		i++;
	*found = i < s->n_refs && c == 0;
	return i;
}

int name_resolver_service_add(struct name_resolver *r, const uint8_t addr[16], const char *ns,
			      const char *name, const char *pod, const char *node, uint64_t ts_ns)
{
	struct addr_slot *s;
	struct svc_ref *refs, *ref;
	size_t i, l[4];
	bool found;
	char *buf;
	int ret = -ENOMEM;

	ns = ns ? ns : "";
	name = name ? name : "";
	pod = pod ? pod : "";
	node = node ? node : "";
	pthread_mutex_lock(&r->lock);
	s = slot_get(r, addr);
	if (!s)
		goto out;
	i = ref_find(s, ns, name, pod, node, &found);
	if (found) {
		s->refs[i].count++;
		ret = 0;
		goto out;
	}
	l[0] = strlen(ns) + 1;
	l[1] = strlen(name) + 1;
	l[2] = strlen(pod) + 1;
	l[3] = strlen(node) + 1;
	buf = malloc(l[0] + l[1] + l[2] + l[3]);
	refs = buf ? realloc(s->refs, (s->n_refs + 1) * sizeof(*refs)) : NULL;
	if (!refs) {
		free(buf);
		slot_maybe_drop(r, s);
		goto out;
	}
	s->refs = refs;
	memmove(&refs[i + 1], &refs[i], (s->n_refs - i) * sizeof(*refs));
	ref = &refs[i];
	ref->ns = memcpy(buf, ns, l[0]);
	ref->name = memcpy(buf + l[0], name, l[1]);
	ref->pod = memcpy(buf + l[0] + l[1], pod, l[2]);
	ref->node = memcpy(buf + l[0] + l[1] + l[2], node, l[3]);
	ref->count = 1;
	s->n_refs++;
	r->bytes += sizeof(*ref) + l[0] + l[1] + l[2] + l[3];
	ret = update(r, s, ts_ns);
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int name_resolver_service_del(struct name_resolver *r, const uint8_t addr[16], const char *ns,
			      const char *name, const char *pod, const char *node, uint64_t ts_ns)
{
	struct addr_slot *s;
	size_t i = 0;
	bool found = false;
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	s = *slot_where(r, addr);
	if (s)
		i = ref_find(s, ns ? ns : "", name ? name : "", pod ? pod : "", node ? node : "",
			     &found);
	if (!found)
		goto out;
	ret = 0;
	if (--s->refs[i].count)
		goto out;
	r->bytes -= sizeof(*s->refs) + strlen(s->refs[i].ns) + strlen(s->refs[i].name) +
		    strlen(s->refs[i].pod) + strlen(s->refs[i].node) + 4;
	free(s->refs[i].ns);
	memmove(&s->refs[i], &s->refs[i + 1], (s->n_refs - i - 1) * sizeof(*s->refs));
	s->n_refs--;
	ret = update(r, s, ts_ns);
	slot_maybe_drop(r, s);
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static void dns_unlink(struct name_resolver *r, struct dns_name *d)
{
	if (d->fifo_prev)
		d->fifo_prev->fifo_next = d->fifo_next;
	else
		r->dns_oldest = d->fifo_next;
	if (d->fifo_next)
		d->fifo_next->fifo_prev = d->fifo_prev;
	else
		r->dns_newest = d->fifo_prev;
	d->fifo_prev = d->fifo_next = NULL;
}

static void dns_append(struct name_resolver *r, struct dns_name *d)
{
	d->fifo_prev = r->dns_newest;
	d->fifo_next = NULL;
	if (r->dns_newest)
		r->dns_newest->fifo_next = d;
	else
		r->dns_oldest = d;
	r->dns_newest = d;
}

/* One of the address's DNS names goes (its slot too, when that was all it had). */
static void dns_drop(struct name_resolver *r, struct dns_name *d)
{
	struct addr_slot *s = d->slot;
	struct dns_name **pp = &s->dns;

	while (*pp != d)
		pp = &(*pp)->older;
	*pp = d->older;
	dns_unlink(r, d);
	r->n_dns--;
	r->n_dns_addrs -= !s->dns;
	r->bytes -= sizeof(*d) + names_bytes(d->names);
	entry_names_unref(d->names);
	free(d);
	slot_maybe_drop(r, s);
}

int name_resolver_set_dns(struct name_resolver *r, const uint8_t addr[16], const char *name,
			  uint64_t ts_ns, uint32_t ttl_s)
{
	uint32_t ttl = ttl_s < NAME_RESOLVER_DNS_TTL_MIN_S   ? NAME_RESOLVER_DNS_TTL_MIN_S
		       : ttl_s > NAME_RESOLVER_DNS_TTL_MAX_S ? NAME_RESOLVER_DNS_TTL_MAX_S
							     : ttl_s;
	uint64_t until = ts_ns > UINT64_MAX - (uint64_t)ttl * 1000000000ull
			     ? UINT64_MAX
			     : ts_ns + (uint64_t)ttl * 1000000000ull;
	struct entry_names *names;
	struct addr_slot *s;
	struct dns_name *d, **pp;
	size_t len = name ? strnlen(name, ENTRY_NAME_MAX) : 0, n;
	int ret = -ENOMEM;

	if (!len || len >= ENTRY_NAME_MAX)
		return -EINVAL;
	names = entry_names_new_k8s(&(struct entry_names_init){.dns = name});
	if (!names)
		return -ENOMEM;
	pthread_mutex_lock(&r->lock);
	s = slot_get(r, addr);
	if (!s)
		goto out;
	d = s->dns;
	if (d && ts_ns >= d->from && ts_ns <= d->until &&
	    !strcmp(entry_names_dns(d->names), name)) {
		/* The same name answered again while it held: it holds longer, one record. */
		if (until > d->until)
			d->until = until;
		dns_unlink(r, d);
		dns_append(r, d);
		r->dns_learned++;
		ret = 0;
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		slot_maybe_drop(r, s);
		goto out;
	}
	d->slot = s;
	d->from = ts_ns;
	d->until = until;
	d->names = names;
	names = NULL;
	/* Newest answer first; at the same time, the one learned last first (it wins). */
	r->n_dns_addrs += !s->dns;
	for (pp = &s->dns; *pp && (*pp)->from > ts_ns; pp = &(*pp)->older)
		;
	d->older = *pp;
	*pp = d;
	r->n_dns++;
	r->bytes += sizeof(*d) + names_bytes(d->names);
	dns_append(r, d);
	r->dns_learned++;
	/* The address's oldest answer goes past its bound, then the oldest answered of all past
	 * dns_max (counted when it still held); d is the newest of both, s keeps d. */
	for (n = 0, pp = &s->dns; *pp; pp = &(*pp)->older)
		n++;
	if (n > NAME_RESOLVER_DNS_PER_ADDR) {
		struct dns_name *last = s->dns;

		while (last->older)
			last = last->older;
		dns_drop(r, last);
		if (last == d) /* older than all it kept: it names nothing */
			d = NULL;
	}
	while (r->n_dns > r->dns_max && r->dns_oldest && r->dns_oldest != d) {
		if (r->dns_oldest->until > ts_ns)
			r->dns_evicted++;
		dns_drop(r, r->dns_oldest);
	}
	ret = 0;
out:
	pthread_mutex_unlock(&r->lock);
	entry_names_unref(names);
	return ret;
}

int name_resolver_learn_dns(struct name_resolver *r, const struct dns_answer *a, uint64_t ts_ns)
{
	int ret = 0, err;

	for (size_t i = 0; i < a->n_addrs; i++)
		if ((err = name_resolver_set_dns(r, a->addrs[i].addr, a->name, ts_ns,
						 a->addrs[i].ttl)) &&
		    !ret)
			ret = err;
	pthread_mutex_lock(&r->lock);
	r->dns_answers += a->n_addrs > 0;
	r->dns_ignored += a->ignored;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

struct entry_names *name_resolver_lookup(struct name_resolver *r, const uint8_t addr[16],
					 uint64_t ts_ns)
{
	struct entry_names *found = NULL, *with;
	const struct dns_name *dns;
	struct addr_slot *s;

	pthread_mutex_lock(&r->lock);
	s = *slot_where(r, addr);
	for (struct span *sp = s ? s->spans : NULL; sp; sp = sp->older)
		if (sp->from <= ts_ns || !sp->older) {
			found = entry_names_ref(sp->names);
			break;
		}
	/* The newest answer at or before ts names the address until its TTL runs out or a newer
	 * answer came; a time before the first answer gets that one (a connection opened before
	 * floe saw the name resolved). */
	dns = NULL;
	for (const struct dns_name *d = s ? s->dns : NULL; d; d = d->older) {
		if (d->from <= ts_ns) {
			dns = ts_ns < d->until ? d : NULL;
			break;
		}
		dns = d; /* the oldest after ts so far */
	}
	if (dns && !found) {
		found = entry_names_ref(dns->names);
	} else if (dns) {
		/* ENOMEM: the entry goes without its DNS name */
		with = entry_names_with_dns(found, entry_names_dns(dns->names));
		if (with) {
			entry_names_unref(found);
			found = with;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

void name_resolver_get_stats(struct name_resolver *r, struct name_resolver_stats *st)
{
	pthread_mutex_lock(&r->lock);
	st->addrs = r->n_addrs;
	st->spans_open = r->spans_open;
	st->spans_closed = r->spans_closed;
	st->spans_forgotten = r->forgotten;
	st->bytes = r->bytes;
	st->dns_names = r->n_dns_addrs;
	st->dns_records = r->n_dns;
	st->dns_learned = r->dns_learned;
	st->dns_evicted = r->dns_evicted;
	st->dns_answers = r->dns_answers;
	st->dns_ignored = r->dns_ignored;
	pthread_mutex_unlock(&r->lock);
}
