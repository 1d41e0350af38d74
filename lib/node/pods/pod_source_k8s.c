// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes pod source: LIST the node's pods (paginated), then WATCH from the list's
 * resourceVersion with bookmarks; 410 Gone relists (pod_list_diff gives the events); a watch
 * that ends or fails is reopened, with backoff when it fails. HTTP is libcurl's multi interface
 * driven by the caller's evloop: curl tells which sockets to watch (CURLMOPT_SOCKETFUNCTION)
 * and when to call it back (CURLMOPT_TIMERFUNCTION); there is no thread and no polling. The
 * first LIST, in start(), is synchronous: start() reports the pods before it returns.
 *
 * A pod's host interface is the one the host routes its IP to (RTM_GETROUTE): a CNI plugin
 * that wires a veth per pod adds that route (docs/kubernetes.md, "The host interface"); when
 * the route gives a bridge (a bridge CNI) or none, the veth whose peer holds the IP in the
 * pod's network namespace (pod_netns.h), which also gives TLS the pod's namespace.
 */
#include "pods/pod_source.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/curl_dl.h"
#include "pods/k8s_config.h"
#include "pods/k8s_watch.h"
#include "pods/pod_netns.h"

#define MS 1000000ull
/* A LIST page (or an error body) larger than this fails the list: at the page size used, a
 * page of pods is a few MiB. */
#define K8S_BODY_MAX	(64u << 20)
#define LIST_PAGE_LIMIT 500 /* items a LIST page asks for (--chunk-size changes it) */
/* The API server ends a watch after this; floe reopens it (and so re-reads a rotated token). */
#define WATCH_TIMEOUT_S 290
#define BACKOFF_MIN_NS	(250 * MS)
#define BACKOFF_MAX_NS	(30000 * MS)
/* Credentials refused (401): tried again this often at most, so that a token written to the
 * token file later is taken within seconds. */
#define AUTH_BACKOFF_MAX_NS (5000 * MS)
/* A list restarted this many times in a row (its continue token expired each time) fails. */
#define LIST_RESTARTS_MAX 5
/* Pods whose IP has no route to a host interface yet are looked at again this long after the
 * host's routes or links change (rtnetlink events; a burst is one look), and this often in any
 * case (events lost). Not a fixed fast period: with --all-nodes most pods never get a route
 * here, and looking up 10,000 of them twice a second cost a tenth of a CPU. */
#define RESOLVE_SETTLE_NS (20 * MS)
#define RESOLVE_RETRY_NS  (10000 * MS)

enum req_kind { REQ_NONE, REQ_LIST, REQ_WATCH };

struct svc_table {
	struct k8s_svc *v;
	size_t n, cap;
};

static void svc_table_free(struct svc_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		k8s_svc_free(&t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static const char *const res_names[] = {
    [K8S_RES_PODS] = "pods",
    [K8S_RES_SERVICES] = "services",
    [K8S_RES_ENDPOINTSLICES] = "endpointslices",
    [K8S_RES_NODES] = "nodes",
    [K8S_RES_POD_NAMES] = "pods (names)",
};
static const char *const res_paths[] = {
    [K8S_RES_PODS] = "/api/v1/pods",
    [K8S_RES_SERVICES] = "/api/v1/services",
    [K8S_RES_ENDPOINTSLICES] = "/apis/discovery.k8s.io/v1/endpointslices",
    [K8S_RES_NODES] = "/api/v1/nodes",
    [K8S_RES_POD_NAMES] = "/api/v1/pods",
};

/* Why a transfer was cut short by floe (its write callback returning 0). */
enum abort_reason {
	ABORT_NONE,
	ABORT_RELIST,
	ABORT_BAD_STREAM,
	ABORT_BODY_TOO_LARGE,
	ABORT_AUTH, /* an ERROR event with code 401 */
};

struct curl_sock {
	struct evloop_fd *src;
	unsigned int events;
};

struct k8s_source {
	enum k8s_resource res; /* pods; or services, endpointslices, nodes, pods (their names) */
	/* The pods' source owns the sources of Services, EndpointSlices, Nodes and other nodes'
	 * pods (when asked). */
	struct k8s_source *children[4];
	struct k8s_config api;
	char *node;	/* pods: the node's (NULL: every node); pod names: NULL */
	char *selector; /* pods: labelSelector (NULL: none) */
	/* A selector set at run time, until its first list is read: the one before it (NULL:
	 * none), back in force when the API server refuses the new one (400). */
	char *selector_prev;
	bool selector_pending;
	struct evloop *loop;
	struct pod_sink sink;
	struct floe_pod_list pods; /* as last reported, sorted by name */
	size_t pods_cap;
	size_t pods_max; /* pods followed at most (--max-pods) */
	size_t page_limit; /* a LIST page's limit */
	struct mnl_socket *nl;
	unsigned int nl_seq;
	struct mnl_socket *nl_events; /* route and link changes: pods without a route looked at */
	struct evloop_fd *nl_events_src;
	struct pod_netns *netns; /* the pods' network namespaces; NULL: not found */

	const struct curl_dl *curl; /* libcurl, held while the source lives */
	CURLM *multi;
	CURL *req; /* the request in flight, NULL: none */
	enum req_kind kind;
	struct curl_slist *headers;
	long status;
	enum abort_reason abort;
	char abort_msg[400];
	struct k8s_lines lines; /* the watch stream */
	char *body;		/* a LIST page, or a failed request's Status */
	size_t body_len, body_cap;

	/* a LIST in progress (pages) */
	struct floe_pod_list building;
	size_t building_cap, skipped, over_max; /* items not parsed; pods past pods_max */
	char cont[K8S_CONTINUE_MAX + 1];
	char rv[K8S_RV_MAX + 1]; /* where the next watch starts ("": list first) */

	/* Services or EndpointSlices: as last reported, and a LIST being built; sorted by key */
	struct svc_table svcs, svcs_building;

	struct evloop_timer *curl_timer, *retry_timer, *resolve_timer;
	uint64_t backoff_ns;
	uint64_t req_start_ns; /* when the request in flight began */
	bool report_next_ok;   /* an error was reported: say when it works again */
	/* 401: the token sent last (a hash: the token itself is not kept), whether the request
	 * was already retried at once with a changed token, whether the refusal was said */
	uint64_t token_hash;
	bool auth_retried, auth_said, auth_failing;
};

static void report(struct k8s_source *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct k8s_source *s, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->report_next_ok = true;
	if (s->sink.error)
		s->sink.error(s->sink.ctx, err, msg);
}

/* ------------------------------------------------------------ the host interface */

struct route_reply {
	int oif;
	unsigned char type;
	bool gateway;
};

static int route_attr(const struct nlattr *attr, void *data)
{
	struct route_reply *r = data;

	if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_get_payload_len(attr) >= 4)
		r->oif = (int)mnl_attr_get_u32(attr);
	else if (mnl_attr_get_type(attr) == RTA_GATEWAY || mnl_attr_get_type(attr) == RTA_VIA)
		r->gateway = true;
	return MNL_CB_OK;
}

static int route_msg(const struct nlmsghdr *nlh, void *data)
{
	struct route_reply *r = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	r->type = rtm->rtm_type;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr, r);
	return MNL_CB_OK;
}

/* The route this host takes to a: 0 with r filled, or -errno (-ENETUNREACH: none). */
static int route_get(struct k8s_source *s, const struct floe_pod_addr *a, struct route_reply *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	ssize_t n;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++s->nl_seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)a->family;
	rtm->rtm_dst_len = a->family == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, a->family == AF_INET ? 4 : 16, a->addr);
	memset(r, 0, sizeof(*r));
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, s->nl_seq, mnl_socket_get_portid(s->nl), route_msg, r) < 0)
		return -errno;
	return 0;
}

/*
 * Fill the pod's host interface: the device a direct (gateway-less) unicast route to one of
 * its IPs leaves by. An IP that is the host's own (RTN_LOCAL) or reached through a gateway or
 * a tunnel's next hop is not a pod wired to this host: host_ifindex stays 0.
 */
static void route_host_if(struct k8s_source *s, struct floe_pod *p)
{
	p->host_ifindex = 0;
	p->host_ifname[0] = '\0';
	if (p->host_network || !s->nl)
		return;
	for (size_t i = 0; i < p->n_addrs; i++) {
		struct route_reply r;

		if (route_get(s, &p->addrs[i], &r) < 0 || r.type != RTN_UNICAST || r.gateway ||
		    r.oif <= 0 || !if_indextoname((unsigned int)r.oif, p->host_ifname))
			continue;
		p->host_ifindex = r.oif;
		return;
	}
	p->host_ifname[0] = '\0';
}

/* The route's interface, or the pod's veth (pod_netns_apply); pod_event: p is from the API. */
static void resolve_host_if(struct k8s_source *s, struct floe_pod *p, bool pod_event)
{
	route_host_if(s, p);
	pod_netns_apply(s->netns, p, pod_event);
}

/* ------------------------------------------------------------ the pod list */

/* Room for one more pod in l: the table doubles as it fills, up to max pods (-ENOSPC). */
static int list_reserve(struct floe_pod_list *l, size_t *cap, size_t max)
{
	struct floe_pod *np;
	size_t ncap;

	if (l->n < *cap)
		return 0;
	if (l->n >= max)
		return -ENOSPC;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap > max)
		ncap = max;
	np = realloc(l->pods, ncap * sizeof(*np));
	if (!np)
		return -ENOMEM;
	l->pods = np;
	*cap = ncap;
	return 0;
}

/* Index of the element whose name (a string at name_off in each element of size bytes) is
 * name, in an array sorted by it; or where it goes (*found false). */
static size_t sorted_find(const void *base, size_t n, size_t size, size_t name_off,
			  const char *name, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp((const char *)base + mid * size + name_off, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static size_t list_find(const struct floe_pod_list *l, const char *name, bool *found)
{
	return sorted_find(l->pods, l->n, sizeof(*l->pods), offsetof(struct floe_pod, name), name,
			   found);
}

/* A watch event: bring the reported list in line with the pod, reporting the change. */
static void apply_pod(struct k8s_source *s, const struct k8s_pod *kp, bool deleted)
{
	struct floe_pod_list *l = &s->pods;
	bool found;
	size_t i = list_find(l, kp->pod.name, &found);

	if (deleted || !kp->active) {
		if (found) {
			struct floe_pod gone = l->pods[i];

			memmove(&l->pods[i], &l->pods[i + 1], (l->n - i - 1) * sizeof(*l->pods));
			l->n--;
			s->sink.event(s->sink.ctx, POD_REMOVED, &gone, NULL);
		}
		return;
	}
	struct floe_pod now = kp->pod;

	resolve_host_if(s, &now, true);
	if (found) {
		struct floe_pod old = l->pods[i];

		if (!floe_pod_changed(&old, &now))
			return;
		l->pods[i] = now;
		s->sink.event(s->sink.ctx, POD_CHANGED, &now, &old);
		return;
	}
	if (list_reserve(l, &s->pods_cap, s->pods_max) < 0) {
		report(s, -ENOSPC,
		       "kubernetes: more than %zu pods (--max-pods): pod %s is not followed",
		       s->pods_max, now.name);
		return;
	}
	memmove(&l->pods[i + 1], &l->pods[i], (l->n - i) * sizeof(*l->pods));
	l->pods[i] = now;
	l->n++;
	s->sink.event(s->sink.ctx, POD_ADDED, &now, NULL);
}

static void on_list_item(void *ctx, const struct k8s_pod *kp)
{
	struct k8s_source *s = ctx;

	if (!kp->active)
		return;
	if (list_reserve(&s->building, &s->building_cap, s->pods_max) < 0) {
		s->over_max++;
		return;
	}
	s->building.pods[s->building.n] = kp->pod;
	/* The first list (no watch yet) follows a scan made just before it: no scan more. */
	resolve_host_if(s, &s->building.pods[s->building.n], s->multi != NULL);
	s->building.n++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct floe_pod *)a)->name, ((const struct floe_pod *)b)->name);
}

/* A whole list read: say what of it is not followed (why: the first bad item's reason). */
static void list_report_skipped(struct k8s_source *s, const char *why)
{
	if (s->skipped)
		report(s, -EINVAL, "kubernetes: %zu %s not followed (%s)", s->skipped,
		       res_names[s->res], why);
	if (s->over_max)
		report(s, -ENOSPC, "kubernetes: %zu pods past --max-pods %zu not followed",
		       s->over_max, s->pods_max);
}

/* The last page arrived: the new list replaces the reported one, with its events. */
static void list_done(struct k8s_source *s)
{
	qsort(s->building.pods, s->building.n, sizeof(*s->building.pods), by_name);
	pod_list_diff(&s->pods, &s->building, &s->sink);
	free(s->pods.pods);
	s->pods = s->building;
	s->pods_cap = s->building_cap;
	memset(&s->building, 0, sizeof(s->building));
	s->building_cap = 0;
}

static void list_reset(struct k8s_source *s)
{
	svc_table_free(&s->svcs_building);
	free(s->building.pods);
	memset(&s->building, 0, sizeof(s->building));
	s->building_cap = 0;
	s->skipped = s->over_max = 0;
	s->cont[0] = '\0';
}

/* ------------------------------------------------------------ Services and EndpointSlices */

static size_t svc_find(const struct svc_table *t, const char *key, bool *found)
{
	return sorted_find(t->v, t->n, sizeof(*t->v), offsetof(struct k8s_svc, key), key, found);
}

/* v goes in at i (the table takes its addresses). */
static int svc_insert(struct svc_table *t, size_t i, struct k8s_svc *v)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct k8s_svc *nv = realloc(t->v, cap * sizeof(*nv));

		if (!nv) {
			k8s_svc_free(v);
			return -ENOMEM;
		}
		t->v = nv;
		t->cap = cap;
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = *v;
	t->n++;
	return 0;
}

/* Each address of v, up or down, to the sink (a Node's to its node event). */
static void svc_report(struct k8s_source *s, const struct k8s_svc *v, bool up)
{
	void (*fn)(void *, bool, const struct floe_service_addr *) =
	    s->res == K8S_RES_NODES ? s->sink.node : s->sink.service;

	if (!fn)
		return;
	for (size_t i = 0; i < v->n; i++) {
		struct floe_service_addr a = {.family = v->addrs[i].family,
					      .ns = v->ns,
					      .service = v->service,
					      .pod = v->addrs[i].pod,
					      .node = v->addrs[i].node};

		memcpy(a.addr, v->addrs[i].addr, 16);
		fn(s->sink.ctx, up, &a);
	}
}

/* A watch event: v (NULL: deleted) replaces the object of that key. The new addresses are
 * reported before the old ones go, so that one in both never has no service in between. */
static void apply_svc(struct k8s_source *s, struct k8s_svc *v, const char *key)
{
	bool found;
	size_t i = svc_find(&s->svcs, key, &found);

	if (!found) {
		if (!v)
			return;
		if (s->res == K8S_RES_POD_NAMES && s->svcs.n >= s->pods_max) {
			report(s, -ENOSPC,
			       "kubernetes: more than %zu pods of other nodes (--max-pods): pod %s "
			       "is not named",
			       s->pods_max, key);
			k8s_svc_free(v);
			return;
		}
		if (svc_insert(&s->svcs, i, v) < 0) {
			report(s, -ENOMEM, "kubernetes: %s %s: out of memory", res_names[s->res],
			       key);
			return;
		}
		svc_report(s, &s->svcs.v[i], true);
		return;
	}
	if (v)
		svc_report(s, v, true);
	svc_report(s, &s->svcs.v[i], false);
	k8s_svc_free(&s->svcs.v[i]);
	if (v) {
		s->svcs.v[i] = *v;
		return;
	}
	memmove(&s->svcs.v[i], &s->svcs.v[i + 1], (s->svcs.n - i - 1) * sizeof(*s->svcs.v));
	s->svcs.n--;
}

static int on_svc_list_item(void *ctx, struct k8s_svc *v)
{
	struct k8s_source *s = ctx;
	bool found;
	size_t i = svc_find(&s->svcs_building, v->key, &found);

	if (found) { /* the API does not list an object twice; keep the first */
		k8s_svc_free(v);
		return 0;
	}
	if (s->res == K8S_RES_POD_NAMES && s->svcs_building.n >= s->pods_max) {
		s->over_max++;
		k8s_svc_free(v);
		return 0;
	}
	return svc_insert(&s->svcs_building, i, v);
}

/* The last page arrived: the new table replaces the reported one; every address of the new
 * one up, then every address of the old one down (the sink counts references). */
static void svc_list_done(struct k8s_source *s)
{
	for (size_t i = 0; i < s->svcs_building.n; i++)
		svc_report(s, &s->svcs_building.v[i], true);
	for (size_t i = 0; i < s->svcs.n; i++)
		svc_report(s, &s->svcs.v[i], false);
	svc_table_free(&s->svcs);
	s->svcs = s->svcs_building;
	memset(&s->svcs_building, 0, sizeof(s->svcs_building));
}

/* ------------------------------------------------------------ any resource */

static int list_page_parse(struct k8s_source *s, char *err, size_t errlen)
{
	if (s->res == K8S_RES_PODS)
		return k8s_pod_list_parse(s->body, s->body_len, on_list_item, s, s->rv, s->cont,
					  &s->skipped, err, errlen);
	return k8s_svc_list_parse(s->body, s->body_len, s->res, on_svc_list_item, s, s->rv, s->cont,
				  &s->skipped, err, errlen);
}

static void any_list_done(struct k8s_source *s)
{
	if (s->res == K8S_RES_PODS)
		list_done(s);
	else
		svc_list_done(s);
}

/* ------------------------------------------------------------ requests */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx);

static char *request_url(struct k8s_source *s, CURL *h, enum req_kind kind)
{
	char *sel = NULL, *cont = NULL, *url = NULL;
	int n;

	if (s->node && s->res == K8S_RES_PODS) {
		char *esc = s->curl->easy_escape(h, s->node, 0);
		char *lsel = s->selector ? s->curl->easy_escape(h, s->selector, 0) : NULL;

		n = esc && (lsel || !s->selector)
			? asprintf(&sel, "&fieldSelector=spec.nodeName%%3D%s%s%s", esc,
				   lsel ? "&labelSelector=" : "", lsel ? lsel : "")
			: -1;
		s->curl->free(esc);
		s->curl->free(lsel);
		if (n < 0)
			return NULL;
	} else if (s->selector) {
		char *lsel = s->curl->easy_escape(h, s->selector, 0);

		n = lsel ? asprintf(&sel, "&labelSelector=%s", lsel) : -1;
		s->curl->free(lsel);
		if (n < 0)
			return NULL;
	}
	if (kind == REQ_LIST && s->cont[0]) {
		char *esc = s->curl->easy_escape(h, s->cont, 0);

		n = esc ? asprintf(&cont, "&continue=%s", esc) : -1;
		s->curl->free(esc);
		if (n < 0) {
			free(sel);
			return NULL;
		}
	}
	if (kind == REQ_LIST)
		n = asprintf(&url, "%s%s?limit=%d%s%s", s->api.server, res_paths[s->res],
			     (int)s->page_limit, cont ? cont : "", sel ? sel : "");
	else
		n = asprintf(&url,
			     "%s%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s"
			     "&timeoutSeconds=%d%s",
			     s->api.server, res_paths[s->res], s->rv, WATCH_TIMEOUT_S,
			     sel ? sel : "");
	free(sel);
	free(cont);
	return n < 0 ? NULL : url;
}

static int set_blob(const struct curl_dl *cu, CURL *h, const struct k8s_blob *b,
		    CURLoption path_opt, CURLoption blob_opt)
{
	struct curl_blob blob = {.data = b->data, .len = b->len, .flags = CURL_BLOB_COPY};

	if (b->data)
		return curl_dl_set_blob(cu, h, blob_opt, &blob) == CURLE_OK ? 0 : -ENOTSUP;
	if (b->path)
		return curl_dl_set_ptr(cu, h, path_opt, b->path) == CURLE_OK ? 0 : -ENOTSUP;
	return 0;
}

/* FNV-1a of the token (0: none): tells a token file that changed from one that did not. */
static uint64_t token_hash(const char *token)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (!token)
		return 0;
	for (const char *c = token; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
	return h;
}

/* A new handle for a request of kind, its TLS and credentials set (the token read now). */
static CURL *request_new(struct k8s_source *s, enum req_kind kind, char *err, size_t errlen)
{
	CURL *h = s->curl->easy_init();
	char *url = NULL, *token = NULL, *auth = NULL;
	struct curl_slist *hdrs = NULL;
	int ret;

	if (!h) {
		snprintf(err, errlen, "kubernetes: cannot make an HTTP request (libcurl)");
		return NULL;
	}
	ret = k8s_config_token(&s->api, &token, err, errlen);
	if (ret < 0)
		goto fail;
	s->token_hash = token_hash(token);
	url = request_url(s, h, kind);
	hdrs = s->curl->slist_append(NULL, "Accept: application/json");
	if (token && asprintf(&auth, "Authorization: Bearer %s", token) >= 0) {
		struct curl_slist *n = s->curl->slist_append(hdrs, auth);

		hdrs = n ? n : hdrs;
		explicit_bzero(auth, strlen(auth));
	}
	if (!url || !hdrs || (token && !auth)) {
		snprintf(err, errlen, "kubernetes: %s", strerror(ENOMEM));
		goto fail;
	}
	curl_dl_set_ptr(s->curl, h, CURLOPT_URL, url);
	curl_dl_set_ptr(s->curl, h, CURLOPT_HTTPHEADER, hdrs);
	curl_dl_set_ptr(s->curl, h, CURLOPT_USERAGENT, "floe");
	curl_dl_set_long(s->curl, h, CURLOPT_NOSIGNAL, 1L);
	curl_dl_set_ptr(s->curl, h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_dl_set_long(s->curl, h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_dl_set_long(s->curl, h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_dl_set_ptr(s->curl, h, CURLOPT_ACCEPT_ENCODING, "");
	/* A LIST page has a minute; a watch as long as the server keeps it, plus a margin. */
	curl_dl_set_long(s->curl, h, CURLOPT_TIMEOUT,
			 kind == REQ_LIST ? 60L : WATCH_TIMEOUT_S + 30L);
	curl_dl_set_write(s->curl, h, on_body);
	curl_dl_set_ptr(s->curl, h, CURLOPT_WRITEDATA, s);
	curl_dl_set_ptr(s->curl, h, CURLOPT_PRIVATE, s);
	if (s->api.insecure) {
		curl_dl_set_long(s->curl, h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_dl_set_long(s->curl, h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (set_blob(s->curl, h, &s->api.ca, CURLOPT_CAINFO, CURLOPT_CAINFO_BLOB) < 0 ||
	    set_blob(s->curl, h, &s->api.cert, CURLOPT_SSLCERT, CURLOPT_SSLCERT_BLOB) < 0 ||
	    set_blob(s->curl, h, &s->api.key, CURLOPT_SSLKEY, CURLOPT_SSLKEY_BLOB) < 0) {
		snprintf(err, errlen, "kubernetes: this libcurl cannot take the TLS settings");
		goto fail;
	}
	s->curl->slist_free_all(s->headers);
	s->headers = hdrs;
	s->kind = kind;
	s->status = 0;
	s->abort = ABORT_NONE;
	s->body_len = 0;
	k8s_lines_reset(&s->lines);
	free(url);
	free(auth);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	return h;
fail:
	s->curl->slist_free_all(hdrs);
	free(url);
	free(auth);
	free(token);
	s->curl->easy_cleanup(h);
	return NULL;
}

static void stream_abort(struct k8s_source *s, enum abort_reason why, const char *msg)
{
	s->abort = why;
	snprintf(s->abort_msg, sizeof(s->abort_msg), "%s", msg);
}

static int on_svc_watch_line(struct k8s_source *s, const char *line, size_t len);
static int watch_error(struct k8s_source *s, int code, const char *message);

static int on_watch_line(void *ctx, const char *line, size_t len)
{
	struct k8s_source *s = ctx;
	struct k8s_event *ev;

	if (s->res != K8S_RES_PODS)
		return on_svc_watch_line(s, line, len);
	ev = malloc(sizeof(*ev));
	char err[256];
	int ret = 0;

	if (!ev)
		return -ENOMEM;
	ret = k8s_watch_event_parse(line, len, ev, err, sizeof(err));
	if (ret == -EINVAL) {
		/* One pod that floe cannot take (a name too long): said, and the stream goes on. */
		report(s, -EINVAL, "kubernetes: watch: %s", err);
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		stream_abort(s, ABORT_BAD_STREAM, err);
		goto out;
	}
	switch (ev->type) {
	case K8S_ERROR:
		ret = watch_error(s, ev->code, ev->message);
		break;
	case K8S_BOOKMARK:
		memcpy(s->rv, ev->resource_version, sizeof(s->rv));
		break;
	default:
		memcpy(s->rv, ev->resource_version, sizeof(s->rv));
		apply_pod(s, &ev->pod, ev->type == K8S_DELETED);
	}
out:
	free(ev);
	return ret;
}

/* What an event's type means for the stream, whatever the resource: 0 (go on), or -EINTR with
 * the abort set (an ERROR: 410 relists, others reopen). */
static int watch_error(struct k8s_source *s, int code, const char *message)
{
	if (code == 410) {
		stream_abort(s, ABORT_RELIST, message);
	} else if (code == 401) {
		stream_abort(s, ABORT_AUTH, message);
	} else {
		char msg[300];

		snprintf(msg, sizeof(msg), "watch error %d: %s", code, message);
		stream_abort(s, ABORT_BAD_STREAM, msg);
	}
	return -EINTR;
}

static int on_svc_watch_line(struct k8s_source *s, const char *line, size_t len)
{
	struct k8s_svc_event *ev = malloc(sizeof(*ev));
	char err[256];
	int ret;

	if (!ev)
		return -ENOMEM;
	ret = k8s_svc_event_parse(line, len, s->res, ev, err, sizeof(err));
	if (ret == -EINVAL) {
		report(s, -EINVAL, "kubernetes: watch of %s: %s", res_names[s->res], err);
		ret = 0;
	} else if (ret == -ENOMEM) {
		stream_abort(s, ABORT_BAD_STREAM, "out of memory");
	} else if (ret < 0) {
		stream_abort(s, ABORT_BAD_STREAM, err);
	} else if (ev->type == K8S_ERROR) {
		ret = watch_error(s, ev->code, ev->message);
	} else {
		memcpy(s->rv, ev->resource_version, sizeof(s->rv));
		if (ev->type == K8S_DELETED)
			apply_svc(s, NULL, ev->svc.key);
		else if (ev->type != K8S_BOOKMARK)
			apply_svc(s, &ev->svc, ev->svc.key);
		else
			k8s_svc_free(&ev->svc);
		if (ev->type == K8S_ADDED || ev->type == K8S_MODIFIED)
			memset(&ev->svc, 0, sizeof(ev->svc)); /* the table took it */
	}
	k8s_svc_free(&ev->svc);
	free(ev);
	return ret;
}

static int body_keep(struct k8s_source *s, const char *data, size_t len)
{
	if (s->body_len + len > K8S_BODY_MAX)
		return -EMSGSIZE;
	if (s->body_len + len > s->body_cap) {
		size_t cap = s->body_cap ? s->body_cap : 64 * 1024;
		char *nb;

		while (cap < s->body_len + len)
			cap *= 2;
		nb = realloc(s->body, cap);
		if (!nb)
			return -ENOMEM;
		s->body = nb;
		s->body_cap = cap;
	}
	memcpy(s->body + s->body_len, data, len);
	s->body_len += len;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct k8s_source *s = ctx;
	size_t len = size * nmemb;
	int ret;

	if (!s->status) {
		curl_dl_info_long(s->curl, s->req, CURLINFO_RESPONSE_CODE, &s->status);
		if (s->status == 200) {
			s->backoff_ns = 0; /* it answers: the next failure starts a new backoff */
			s->auth_retried = s->auth_said = s->auth_failing = false;
		}
		if (s->status == 200 && s->report_next_ok && s->loop && s->sink.error) {
			s->report_next_ok = false;
			s->sink.error(s->sink.ctx, 0, "kubernetes: the API server answers again");
		}
	}
	if (s->kind == REQ_WATCH && s->status == 200) {
		ret = k8s_lines_feed(&s->lines, data, len, on_watch_line, s);
		if (ret == -EMSGSIZE)
			stream_abort(s, ABORT_RELIST, "a watch event longer than the line limit");
		else if (ret == -ENOMEM)
			stream_abort(s, ABORT_BAD_STREAM, "out of memory");
		return ret ? 0 : len;
	}
	if (body_keep(s, data, len) < 0) {
		stream_abort(s, ABORT_BODY_TOO_LARGE, "a list page larger than 64 MiB");
		return 0;
	}
	return len;
}

/* ------------------------------------------------------------ the request cycle on the loop */

static void start_request(struct k8s_source *s, enum req_kind kind);

static void retry_later(struct k8s_source *s)
{
	uint64_t max = s->auth_failing ? AUTH_BACKOFF_MAX_NS : BACKOFF_MAX_NS;

	s->backoff_ns = s->backoff_ns ? s->backoff_ns * 2 : BACKOFF_MIN_NS;
	if (s->backoff_ns > max)
		s->backoff_ns = max;
	evloop_timer_set(s->loop, s->retry_timer, s->backoff_ns, 0);
}

static void on_retry(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct k8s_source *s = ctx;

	start_request(s, s->rv[0] ? REQ_WATCH : REQ_LIST);
}

static void start_request(struct k8s_source *s, enum req_kind kind)
{
	char err[512];
	CURLMcode mc;

	if (kind == REQ_LIST && !s->cont[0])
		list_reset(s);
	s->req = request_new(s, kind, err, sizeof(err));
	if (!s->req) {
		report(s, -EIO, "%s", err);
		retry_later(s);
		return;
	}
	s->req_start_ns = evloop_now_ns();
	mc = s->curl->multi_add_handle(s->multi, s->req);
	if (mc != CURLM_OK) {
		report(s, -EIO, "kubernetes: %s", s->curl->multi_strerror(mc));
		s->curl->easy_cleanup(s->req);
		s->req = NULL;
		retry_later(s);
	}
}

/* What a finished LIST page or a failed request says; returns true when it was a 410. */
static bool failed_status(struct k8s_source *s, const char *what)
{
	char msg[256] = "";
	int code = (int)s->status;

	k8s_status_parse(s->body, s->body_len, &code, msg, sizeof(msg));
	if (code == 410)
		return true;
	report(s, -EIO, "kubernetes: %s: HTTP %ld%s%s", what, s->status, msg[0] ? ": " : "", msg);
	return false;
}

/*
 * The API server refused the credentials (401) of a request of kind: a token revoked or
 * expired. Read the token again: a token file that changed since (rotated) is tried at once;
 * else floe says so, once, and tries again every few seconds (a token written later is taken)
 * while the pods stay tapped as last known.
 */
static void auth_refused(struct k8s_source *s, enum req_kind kind, const char *msg)
{
	char err[256] = "", *token = NULL;
	bool changed;

	if (k8s_config_token(&s->api, &token, err, sizeof(err)) < 0)
		token = NULL;
	changed = token_hash(token) != s->token_hash;
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	s->auth_failing = true;
	if (changed && !s->auth_retried) {
		s->auth_retried = true;
		report(s, 0,
		       "kubernetes: %s of %s: the credentials were refused (HTTP 401): the token "
		       "file changed, trying the new token",
		       kind == REQ_LIST ? "list" : "watch", res_names[s->res]);
		start_request(s, kind);
		return;
	}
	s->auth_retried = false;
	retry_later(s);
	if (s->auth_said)
		return;
	s->auth_said = true;
	report(
	    s, -EACCES,
	    "kubernetes: %s of %s: the API server refuses floe's credentials (HTTP 401%s%s)%s%s%s"
	    "; the pods stay tapped as last known; trying again every %.0f s",
	    kind == REQ_LIST ? "list" : "watch", res_names[s->res], msg[0] ? ": " : "", msg,
	    s->api.token_file ? ": write a valid token to " : "",
	    s->api.token_file ? s->api.token_file : "", err[0] ? err : "",
	    (double)AUTH_BACKOFF_MAX_NS / 1e9);
}

/* The request in flight ended (result: curl's). Decide what comes next. */
static void request_done(struct k8s_source *s, CURLcode result)
{
	enum req_kind kind = s->kind;
	char err[512];

	if (!s->status)
		curl_dl_info_long(s->curl, s->req, CURLINFO_RESPONSE_CODE, &s->status);
	s->curl->multi_remove_handle(s->multi, s->req);
	s->curl->easy_cleanup(s->req);
	s->req = NULL;
	s->kind = REQ_NONE;

	if (s->abort == ABORT_RELIST) {
		report(s, 0, "kubernetes: watch: %s (410 Gone): listing the %s again",
		       s->abort_msg[0] ? s->abort_msg : "resourceVersion expired",
		       res_names[s->res]);
		s->rv[0] = '\0';
		start_request(s, REQ_LIST);
		return;
	}
	if (s->abort == ABORT_AUTH) {
		auth_refused(s, kind, s->abort_msg);
		return;
	}
	if (s->abort != ABORT_NONE) {
		report(s, -EIO, "kubernetes: %s: %s", kind == REQ_LIST ? "list" : "watch",
		       s->abort_msg);
		if (s->abort == ABORT_BAD_STREAM)
			s->rv[0] = '\0'; /* the stream's state is unknown: relist */
		retry_later(s);
		return;
	}
	if (result != CURLE_OK) {
		retry_later(s);
		report(s, -EIO, "kubernetes: %s: %s; trying again in %.2f s",
		       kind == REQ_LIST ? "list" : "watch",
		       result == CURLE_PARTIAL_FILE ? "the connection ended mid-stream"
						    : s->curl->easy_strerror(result),
		       (double)s->backoff_ns / 1e9);
		return;
	}
	if (s->status == 400 && kind == REQ_LIST && s->selector_pending) {
		char msg[256] = "";
		int code;

		k8s_status_parse(s->body, s->body_len, &code, msg, sizeof(msg));
		report(s, -EINVAL,
		       "kubernetes: the label selector \"%s\" is refused by the API server (%s): "
		       "the selector stays \"%s\"",
		       s->selector ? s->selector : "", msg,
		       s->selector_prev ? s->selector_prev : "");
		free(s->selector);
		s->selector = s->selector_prev;
		s->selector_prev = NULL;
		s->selector_pending = false;
		s->rv[0] = s->cont[0] = '\0';
		start_request(s, REQ_LIST);
		return;
	}
	if (s->status == 401) {
		char msg[256] = "";
		int code;

		k8s_status_parse(s->body, s->body_len, &code, msg, sizeof(msg));
		auth_refused(s, kind, msg);
		return;
	}
	if (s->status != 200) {
		char what[64];

		snprintf(what, sizeof(what), "%s of %s", kind == REQ_LIST ? "list" : "watch",
			 res_names[s->res]);
		if (failed_status(s, what)) {
			/* 410: the resourceVersion (watch) or continue token (list) expired. A
			 * list begins again from its first page (the pages read are dropped):
			 * the diff of the whole new list against what was reported gives the
			 * events, so no pod is lost or said twice. */
			report(s, 0, "kubernetes: %s: 410 Gone%s: listing the %s again",
			       kind == REQ_LIST ? "list" : "watch",
			       kind == REQ_LIST && s->cont[0] ? " (the continue token expired)"
							      : "",
			       res_names[s->res]);
			s->rv[0] = '\0';
			s->cont[0] = '\0';
			start_request(s, REQ_LIST);
		} else {
			retry_later(s);
		}
		return;
	}
	s->backoff_ns = 0;
	if (kind == REQ_WATCH) {
		/* It timed out, as asked: reopen from the last rv. One that a server or proxy ends
		 * at once, again and again, is reopened with the backoff instead of in a spin. */
		if (evloop_now_ns() - s->req_start_ns < 1000 * MS)
			retry_later(s);
		else
			start_request(s, REQ_WATCH);
		return;
	}
	err[0] = '\0';
	if (list_page_parse(s, err, sizeof(err)) < 0) {
		report(s, -EIO, "kubernetes: list of %s: %s", res_names[s->res], err);
		s->rv[0] = s->cont[0] = '\0';
		retry_later(s);
		return;
	}
	if (s->cont[0]) {
		start_request(s, REQ_LIST);
		return;
	}
	list_report_skipped(s, err);
	any_list_done(s);
	if (s->selector_pending) {
		free(s->selector_prev);
		s->selector_prev = NULL;
		s->selector_pending = false;
	}
	start_request(s, REQ_WATCH);
}

static void check_done(struct k8s_source *s)
{
	CURLMsg *m;
	int left;

	while ((m = s->curl->multi_info_read(s->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == s->req)
			request_done(s, m->data.result);
}

static void on_sock_ready(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct k8s_source *s = ctx;
	int flags = (events & EVLOOP_IN ? CURL_CSELECT_IN : 0) |
		    (events & EVLOOP_OUT ? CURL_CSELECT_OUT : 0) |
		    (events & EVLOOP_ERR ? CURL_CSELECT_ERR : 0);
	int running;

	s->curl->multi_socket_action(s->multi, fd, flags, &running);
	check_done(s);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct k8s_source *s = userp;
	struct curl_sock *cs = socketp;
	unsigned int events;

	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			evloop_del_fd(s->loop, cs->src);
			free(cs);
			s->curl->multi_assign(s->multi, fd, NULL);
		}
		return 0;
	}
	events = (what & CURL_POLL_IN ? EVLOOP_IN : 0) | (what & CURL_POLL_OUT ? EVLOOP_OUT : 0);
	if (cs && cs->events == events)
		return 0;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return -1;
		s->curl->multi_assign(s->multi, fd, cs);
	} else {
		evloop_del_fd(s->loop, cs->src);
		cs->src = NULL;
	}
	cs->events = events;
	if (evloop_add_fd(s->loop, fd, events, on_sock_ready, s, &cs->src) < 0)
		return -1;
	return 0;
}

static void on_curl_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct k8s_source *s = ctx;
	int running;

	s->curl->multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(s);
}

static int on_curl_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct k8s_source *s = userp;

	if (timeout_ms < 0)
		evloop_timer_set(s->loop, s->curl_timer, 0, 0);
	else /* 0: at once, which for evloop is the shortest delay (0 disarms) */
		evloop_timer_set(s->loop, s->curl_timer, timeout_ms ? (uint64_t)timeout_ms * MS : 1,
				 0);
	return 0;
}

/* Pods whose IP had no route to a host interface: look again (the CNI plugin may be late).
 * The namespaces are scanned again too: a link came or went, or it is the periodic look. */
static void on_resolve(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct k8s_source *s = ctx;

	pod_netns_request(s->netns);
	for (size_t i = 0; i < s->pods.n; i++) {
		struct floe_pod *p = &s->pods.pods[i], now;

		if (p->host_ifindex || p->host_network)
			continue;
		now = *p;
		resolve_host_if(s, &now, false);
		if (now.host_ifindex) {
			struct floe_pod old = *p;

			*p = now;
			s->sink.event(s->sink.ctx, POD_CHANGED, &now, &old);
		}
	}
}

/* A scan of the network namespaces ended: the pods whose answer may differ, resolved again. */
static void on_netns_scan(void *ctx)
{
	struct k8s_source *s = ctx;

	for (size_t i = 0; i < s->pods.n; i++) {
		struct floe_pod *p = &s->pods.pods[i], now;

		if (!pod_netns_stale(s->netns, p))
			continue;
		now = *p;
		resolve_host_if(s, &now, false);
		if (floe_pod_changed(p, &now)) {
			struct floe_pod old = *p;

			*p = now;
			s->sink.event(s->sink.ctx, POD_CHANGED, &now, &old);
		}
	}
}

/* A message through the sink, not report(): it is no failure of the API server. */
static void netns_say(struct k8s_source *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void netns_say(struct k8s_source *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->sink.error)
		s->sink.error(s->sink.ctx, 0, msg);
}

/* The pods' network namespaces (the first scan now); without them, the routes alone. */
static void netns_open(struct k8s_source *s)
{
	struct pod_netns_stats st;
	char err[256];

	if (pod_netns_new(NULL, &s->netns, err, sizeof(err)) < 0 ||
	    pod_netns_start(s->netns, s->loop, on_netns_scan, s, err, sizeof(err)) < 0) {
		netns_say(s,
			  "kubernetes: pods' network namespaces: %s: pods are found by their "
			  "routes only, and their TLS is not read",
			  err);
		pod_netns_free(s->netns);
		s->netns = NULL;
		return;
	}
	pod_netns_get_stats(s->netns, &st);
	if (st.failed)
		netns_say(s,
			  "kubernetes: %llu of %llu network namespaces could not be asked for "
			  "their pods (%s)",
			  (unsigned long long)st.failed, (unsigned long long)st.namespaces,
			  st.first_error);
}

/* Routes or links changed (or events were lost: ENOBUFS): look again soon, once per burst. */
static void on_route_event(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct k8s_source *s = ctx;
	char buf[8192];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
	evloop_timer_set(l, s->resolve_timer, RESOLVE_SETTLE_NS, RESOLVE_RETRY_NS);
}

/* The rtnetlink sockets: one to ask for routes, one subscribed to the groups whose messages
 * say a pod's route may be there now (before the first list: no change in between is lost). */
static int netlink_open(struct k8s_source *s)
{
	s->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	s->nl_events = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!s->nl_events ||
	    mnl_socket_bind(s->nl_events, RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
			    MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------ start: the first list */

/* One LIST page, synchronously (start() reports the pods before it returns). */
static int list_page_sync(struct k8s_source *s, char *err, size_t errlen)
{
	char curl_err[CURL_ERROR_SIZE] = "", msg[256] = "";
	const char *what = res_names[s->res];
	CURLcode rc;
	int code;

	s->req = request_new(s, REQ_LIST, err, errlen);
	if (!s->req)
		return -EIO;
	curl_dl_set_ptr(s->curl, s->req, CURLOPT_ERRORBUFFER, curl_err);
	rc = s->curl->easy_perform(s->req);
	curl_dl_info_long(s->curl, s->req, CURLINFO_RESPONSE_CODE, &s->status);
	s->curl->easy_cleanup(s->req);
	s->req = NULL;
	if (s->abort != ABORT_NONE) {
		snprintf(err, errlen, "kubernetes: list of %s from %s: %s", what, s->api.server,
			 s->abort_msg);
		return -EIO;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "kubernetes: cannot list %s from %s: %s", what, s->api.server,
			 curl_err[0] ? curl_err : s->curl->easy_strerror(rc));
		return -EIO;
	}
	if (s->status != 200) {
		char hint[128] = "";

		code = (int)s->status;
		k8s_status_parse(s->body, s->body_len, &code, msg, sizeof(msg));
		if (code == 410 && s->cont[0]) {
			/* The continue token expired between pages: the caller lists again. */
			snprintf(err, errlen,
				 "kubernetes: list of %s: 410 Gone on a continue token (%s): "
				 "listing again from the first page",
				 what, msg);
			return -EAGAIN;
		}
		if (s->status == 403)
			snprintf(hint, sizeof(hint),
				 " (floe needs list and watch on %s: manifests/rbac.yaml)", what);
		else if (s->status == 401)
			snprintf(hint, sizeof(hint), " (the credentials were refused)");
		snprintf(err, errlen, "kubernetes: cannot list %s from %s (%s): HTTP %ld%s%s%s",
			 what, s->api.server, s->api.origin, s->status, msg[0] ? ": " : "", msg,
			 hint);
		return s->status == 403 || s->status == 401 ? -EACCES : -EIO;
	}
	msg[0] = '\0';
	if (list_page_parse(s, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "kubernetes: list of %s: %s", what, msg);
		return -EIO;
	}
	if (!s->cont[0])
		list_report_skipped(s, msg);
	return 0;
}

/* The first list (synchronous), then the watch on the loop. */
static int source_start(struct k8s_source *s, struct evloop *loop, const struct pod_sink *sink,
			char *err, size_t errlen)
{
	int ret;

	s->loop = loop;
	s->sink = *sink;
	if (s->res == K8S_RES_PODS && (ret = netlink_open(s)) < 0) {
		snprintf(err, errlen, "kubernetes: rtnetlink (for the pods' host interfaces): %s",
			 strerror(-ret));
		return ret;
	}
	if (s->res == K8S_RES_PODS)
		netns_open(s);
	list_reset(s);
	for (int restarts = 0;;) {
		ret = list_page_sync(s, err, errlen);
		if (ret == -EAGAIN && ++restarts <= LIST_RESTARTS_MAX) {
			if (s->sink.error)
				s->sink.error(s->sink.ctx, 0, err);
			list_reset(s);
			continue;
		}
		if (ret < 0)
			return ret == -EAGAIN ? -EIO : ret;
		if (!s->cont[0])
			break;
	}
	any_list_done(s);
	s->report_next_ok = false;

	s->multi = s->curl->multi_init();
	if (!s->multi) {
		snprintf(err, errlen, "kubernetes: libcurl multi interface: out of memory");
		return -ENOMEM;
	}
	curl_dl_multi_set_socket_fn(s->curl, s->multi, on_curl_socket);
	curl_dl_multi_set_ptr(s->curl, s->multi, CURLMOPT_SOCKETDATA, s);
	curl_dl_multi_set_timer_fn(s->curl, s->multi, on_curl_timer_change);
	curl_dl_multi_set_ptr(s->curl, s->multi, CURLMOPT_TIMERDATA, s);
	ret = evloop_add_timer(loop, 0, 0, on_curl_timer, s, &s->curl_timer);
	if (!ret)
		ret = evloop_add_timer(loop, 0, 0, on_retry, s, &s->retry_timer);
	if (!ret && s->res == K8S_RES_PODS)
		ret = evloop_add_timer(loop, RESOLVE_RETRY_NS, RESOLVE_RETRY_NS, on_resolve, s,
				       &s->resolve_timer);
	if (!ret && s->res == K8S_RES_PODS)
		ret = evloop_add_fd(loop, mnl_socket_get_fd(s->nl_events), EVLOOP_IN,
				    on_route_event, s, &s->nl_events_src);
	if (ret < 0) {
		snprintf(err, errlen, "kubernetes: %s", strerror(-ret));
		return ret;
	}
	start_request(s, REQ_WATCH);
	return 0;
}

/* The names first (Services, EndpointSlices, Nodes): the pods listed after them are named from
 * their first entry on. */
static int k8s_start(void *impl, struct evloop *loop, const struct pod_sink *sink, char *err,
		     size_t errlen)
{
	struct k8s_source *s = impl;

	for (size_t i = 0; i < 4; i++) {
		int ret =
		    s->children[i] ? source_start(s->children[i], loop, sink, err, errlen) : 0;

		if (ret < 0)
			return ret;
	}
	return source_start(s, loop, sink, err, errlen);
}

static void k8s_free(void *impl)
{
	struct k8s_source *s = impl;

	if (!s)
		return;
	for (size_t i = 0; i < 4; i++)
		k8s_free(s->children[i]);
	if (s->req) {
		if (s->multi)
			s->curl->multi_remove_handle(s->multi, s->req);
		s->curl->easy_cleanup(s->req);
	}
	if (s->multi)
		s->curl->multi_cleanup(s->multi);
	if (s->loop) {
		evloop_del_timer(s->loop, s->curl_timer);
		evloop_del_timer(s->loop, s->retry_timer);
		evloop_del_timer(s->loop, s->resolve_timer);
		evloop_del_fd(s->loop, s->nl_events_src);
	}
	pod_netns_free(s->netns);
	if (s->nl)
		mnl_socket_close(s->nl);
	if (s->nl_events)
		mnl_socket_close(s->nl_events);
	if (s->curl) /* NULL: libcurl could not be loaded, nothing of its was made */
		s->curl->slist_free_all(s->headers);
	k8s_lines_free(&s->lines);
	list_reset(s);
	svc_table_free(&s->svcs);
	free(s->pods.pods);
	free(s->body);
	free(s->node);
	free(s->selector);
	free(s->selector_prev);
	k8s_config_free(&s->api);
	curl_dl_put(s->curl); /* after every handle and slist of libcurl's is gone */
	free(s);
}

static void k8s_each(void *impl, void (*fn)(void *ctx, const struct floe_pod *p), void *ctx)
{
	struct k8s_source *s = impl;

	for (size_t i = 0; i < s->pods.n; i++)
		fn(ctx, &s->pods.pods[i]);
}

/* A new label selector: the request in flight dropped, the pods listed again with it (the
 * diff against what was reported gives the events). The BPF side is untouched: the tap
 * follows the events as it does any others. */
static bool k8s_netns_stats(void *impl, struct pod_netns_stats *out)
{
	struct k8s_source *s = impl;

	if (!s->netns) /* not opened (yet), or failed: the routes alone */
		return false;
	pod_netns_get_stats(s->netns, out);
	return true;
}

static int k8s_set_selector(void *impl, const char *sel, char *err, size_t errlen)
{
	struct k8s_source *s = impl;
	char *n = NULL;

	if (sel && *sel && !(n = strdup(sel))) {
		snprintf(err, errlen, "kubernetes: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* The selector in force stays the fallback until a list with the new one is read. */
	if (!s->selector_pending) {
		free(s->selector_prev);
		s->selector_prev = s->selector;
	} else {
		free(s->selector);
	}
	s->selector = n;
	s->selector_pending = true;
	if (!s->multi)
		return 0; /* not started: the first list takes it */
	if (s->req) {
		s->curl->multi_remove_handle(s->multi, s->req);
		s->curl->easy_cleanup(s->req);
		s->req = NULL;
		s->kind = REQ_NONE;
	}
	evloop_timer_set(s->loop, s->retry_timer, 0, 0);
	s->backoff_ns = 0;
	s->rv[0] = s->cont[0] = '\0';
	start_request(s, REQ_LIST);
	return 0;
}

static const struct pod_source_ops k8s_ops = {
    .name = "kubernetes",
    .start = k8s_start,
    .free = k8s_free,
    .each = k8s_each,
    .set_selector = k8s_set_selector,
    .netns_stats = k8s_netns_stats,
};

/* A source of res with the configuration of cfg (read now), or NULL with err. */
static struct k8s_source *source_new(const struct pod_source_k8s_config *cfg, enum k8s_resource res,
				     int *retp, char *err, size_t errlen)
{
	struct k8s_source *s = calloc(1, sizeof(*s));
	char why[300];
	int ret;

	if (!s) {
		*retp = -ENOMEM;
		snprintf(err, errlen, "kubernetes: %s", strerror(ENOMEM));
		return NULL;
	}
	s->res = res;
	s->pods_max = cfg->pods_max ? cfg->pods_max : K8S_PODS_MAX_DEFAULT;
	s->page_limit = cfg->page_limit ? cfg->page_limit : LIST_PAGE_LIMIT;
	k8s_lines_init(&s->lines, K8S_LINE_MAX);
	if (cfg->kubeconfig)
		ret = k8s_config_load(cfg->kubeconfig, &s->api, err, errlen);
	else
		ret = k8s_config_in_cluster(cfg->sa_dir, &s->api, err, errlen);
	if (ret == 0 && !(s->curl = curl_dl_get(why, sizeof(why)))) {
		snprintf(err, errlen, "kubernetes: %s", why);
		ret = -ENOTSUP;
	}
	if (ret == 0 && s->api.tls_server_name) {
		snprintf(err, errlen, "%s: tls-server-name is not supported by floe yet",
			 s->api.origin);
		ret = -ENOTSUP;
	}
	/* The pod names watch follows every node's pods: this node's too, so that those a label
	 * selector leaves out (now or after it changes) are still named; the pod source's own
	 * name of an address wins over the watch's (the same name, in practice). */
	if (ret == 0 && cfg->node && res != K8S_RES_POD_NAMES && !(s->node = strdup(cfg->node)))
		ret = -ENOMEM;
	if (ret == 0 && res == K8S_RES_PODS && cfg->selector && *cfg->selector &&
	    !(s->selector = strdup(cfg->selector)))
		ret = -ENOMEM;
	if (ret < 0) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "kubernetes: %s", strerror(ENOMEM));
		k8s_free(s);
		*retp = ret;
		return NULL;
	}
	return s;
}

int pod_source_k8s_new(const struct pod_source_k8s_config *cfg, struct pod_source *out, char *err,
		       size_t errlen)
{
	struct k8s_source *s;
	int ret = 0;

	s = source_new(cfg, K8S_RES_PODS, &ret, err, errlen);
	if (!s)
		return ret;
	if (cfg->services &&
	    (!(s->children[0] = source_new(cfg, K8S_RES_SERVICES, &ret, err, errlen)) ||
	     !(s->children[1] = source_new(cfg, K8S_RES_ENDPOINTSLICES, &ret, err, errlen)) ||
	     !(s->children[2] = source_new(cfg, K8S_RES_NODES, &ret, err, errlen)))) {
		k8s_free(s);
		return ret;
	}
	/* Every pod, for the names of those the pod watch leaves out (other nodes', and the
	 * selector's): not needed when the pod watch has every pod (--all-nodes, no selector). */
	if (cfg->services && cfg->names_all_nodes &&
	    (cfg->node || (cfg->selector && *cfg->selector)) &&
	    !(s->children[3] = source_new(cfg, K8S_RES_POD_NAMES, &ret, err, errlen))) {
		k8s_free(s);
		return ret;
	}
	out->ops = &k8s_ops;
	out->impl = s;
	return 0;
}
