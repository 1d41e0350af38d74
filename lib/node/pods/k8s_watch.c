// SPDX-License-Identifier: Apache-2.0
/* Pods, watch events, lists and Status objects from the API server. See k8s_watch.h. */
#include "pods/k8s_watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void k8s_lines_init(struct k8s_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max;
}

void k8s_lines_reset(struct k8s_lines *l)
{
	l->len = 0;
}

void k8s_lines_free(struct k8s_lines *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

static int keep(struct k8s_lines *l, const char *data, size_t len)
{
	if (l->len + len > l->max)
		return -EMSGSIZE;
	if (l->len + len > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *nb;

		while (cap < l->len + len)
			cap *= 2;
		if (cap > l->max)
			cap = l->max;
		nb = realloc(l->buf, cap);
		if (!nb)
			return -ENOMEM;
		l->buf = nb;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, data, len);
	l->len += len;
	return 0;
}

int k8s_lines_feed(struct k8s_lines *l, const char *data, size_t len, k8s_line_fn fn, void *ctx)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t part = nl ? (size_t)(nl - data) : len;
		int ret;

		if (!nl)
			return keep(l, data, len);
		if (l->len) {
			/* The line began in an earlier chunk: complete it in the buffer. */
			ret = keep(l, data, part);
			if (ret)
				return ret;
			ret = fn(ctx, l->buf, l->len);
			l->len = 0;
		} else {
			/* Whole in this chunk: no copy. */
			ret = part > l->max ? -EMSGSIZE : part ? fn(ctx, data, part) : 0;
		}
		if (ret)
			return ret;
		data += part + 1;
		len -= part + 1;
	}
	return 0;
}

/* ------------------------------------------------------------ objects */

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static int copy_str(char *dst, size_t cap, const char *src, const char *what, char *err,
		    size_t errlen)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		snprintf(err, errlen, "%s is longer than %zu characters", what, cap - 1);
		return -EINVAL;
	}
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

static int add_ip(struct floe_pod *p, const char *ip)
{
	struct floe_pod_addr *a;

	if (!ip || p->n_addrs == FLOE_POD_MAX_ADDRS)
		return 0;
	a = &p->addrs[p->n_addrs];
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, a->addr) == 1) {
		a->family = AF_INET;
		a->prefixlen = 32;
	} else if (inet_pton(AF_INET6, ip, a->addr) == 1) {
		a->family = AF_INET6;
		a->prefixlen = 128;
	} else {
		return -EINVAL;
	}
	/* podIP repeats podIPs[0]: once is enough. */
	for (size_t i = 0; i < p->n_addrs; i++)
		if (p->addrs[i].family == a->family && !memcmp(p->addrs[i].addr, a->addr, 16))
			return 0;
	p->n_addrs++;
	return 0;
}

int k8s_pod_from_json(const void *obj_, struct k8s_pod *out, char *err, size_t errlen)
{
	const json_t *obj = obj_, *meta = json_object_get(obj, "metadata"),
		     *spec = json_object_get(obj, "spec"), *status = json_object_get(obj, "status"),
		     *ips = json_object_get(status, "podIPs"), *v;
	const char *name = json_string_value(json_object_get(meta, "name")),
		   *ns = json_string_value(json_object_get(meta, "namespace"));
	struct floe_pod *p = &out->pod;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj) || !name || !ns || !*name || !*ns) {
		snprintf(err, errlen, "not a pod (no metadata.name and metadata.namespace)");
		return -EINVAL;
	}
	if (strlen(ns) + 1 + strlen(name) > FLOE_POD_NAME_MAX) {
		snprintf(err, errlen, "pod %s/%.40s...: namespace/name longer than %d characters",
			 ns, name, FLOE_POD_NAME_MAX);
		return -EINVAL;
	}
	/* Lengths checked above: namespace, '/', name and the NUL fit. */
	memcpy(p->name, ns, strlen(ns));
	p->name[strlen(ns)] = '/';
	memcpy(p->name + strlen(ns) + 1, name, strlen(name) + 1);
	if (copy_str(p->namespace, FLOE_NAMESPACE_MAX + 1, ns, "metadata.namespace", err, errlen) ||
	    copy_str(p->node, sizeof(p->node), json_string_value(json_object_get(spec, "nodeName")),
		     "spec.nodeName", err, errlen) ||
	    copy_str(out->resource_version, sizeof(out->resource_version),
		     json_string_value(json_object_get(meta, "resourceVersion")),
		     "metadata.resourceVersion", err, errlen))
		return -EINVAL;
	p->host_network = json_is_true(json_object_get(spec, "hostNetwork"));
	snprintf(out->phase, sizeof(out->phase), "%s",
		 json_string_value(json_object_get(status, "phase")) ?: "");
	json_array_foreach(ips, i, v)
	{
		const char *ip = json_string_value(json_object_get(v, "ip"));

		if (add_ip(p, ip) < 0) {
			snprintf(err, errlen,
				 "pod %s: status.podIPs[%zu] \"%.64s\" is not an IP address",
				 p->name, i, ip);
			return -EINVAL;
		}
	}
	if (add_ip(p, str_at(status, "podIP", NULL)) < 0) {
		snprintf(err, errlen, "pod %s: status.podIP is not an IP address", p->name);
		return -EINVAL;
	}
	out->active = !strcmp(out->phase, "Running") && p->n_addrs &&
		      !json_object_get(meta, "deletionTimestamp");
	return 0;
}

static const struct {
	const char *name;
	enum k8s_event_type type;
} event_types[] = {{"ADDED", K8S_ADDED},
		   {"MODIFIED", K8S_MODIFIED},
		   {"DELETED", K8S_DELETED},
		   {"BOOKMARK", K8S_BOOKMARK},
		   {"ERROR", K8S_ERROR}};

static void status_of(const json_t *st, int *code, char *message, size_t msglen)
{
	*code = (int)json_integer_value(json_object_get(st, "code"));
	snprintf(message, msglen, "%s", json_string_value(json_object_get(st, "message")) ?: "");
}

typedef int (*obj_fn)(const json_t *obj, void *out, char *err, size_t errlen);

/* The envelope of one event line: type, resourceVersion, the ERROR's Status; fn parses the
 * object of ADDED/MODIFIED/DELETED into out. Returns as k8s_watch_event_parse. */
static int event_parse(const char *line, size_t len, enum k8s_event_type *etype,
		       char rv[K8S_RV_MAX + 1], int *code, char *message, size_t msglen, obj_fn fn,
		       void *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(line, len, 0, &jerr), *obj;
	const char *type;
	int ret = -EBADMSG;
	size_t i;

	rv[0] = message[0] = '\0';
	*code = 0;
	*etype = K8S_ERROR;
	if (!root) {
		snprintf(err, errlen, "watch event: not JSON: %s (column %d)", jerr.text,
			 jerr.column);
		return -EBADMSG;
	}
	type = json_string_value(json_object_get(root, "type"));
	obj = json_object_get(root, "object");
	if (!type || !json_is_object(obj)) {
		snprintf(err, errlen, "watch event: no type and object");
		goto out;
	}
	for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (!strcmp(type, event_types[i].name))
			break;
	if (i == sizeof(event_types) / sizeof(event_types[0])) {
		snprintf(err, errlen, "watch event: unknown type \"%.32s\"", type);
		goto out;
	}
	*etype = event_types[i].type;
	switch (*etype) {
	case K8S_ERROR:
		status_of(obj, code, message, msglen);
		ret = 0;
		break;
	case K8S_BOOKMARK:
		ret = copy_str(rv, K8S_RV_MAX + 1, str_at(obj, "metadata", "resourceVersion"),
			       "bookmark resourceVersion", err, errlen);
		if (!ret && !rv[0]) {
			snprintf(err, errlen, "watch event: a bookmark without a resourceVersion");
			ret = -EBADMSG;
		} else if (ret) {
			ret = -EBADMSG;
		}
		break;
	default:
		ret = fn(obj, out, err, errlen);
		if (!ret)
			ret =
			    copy_str(rv, K8S_RV_MAX + 1, str_at(obj, "metadata", "resourceVersion"),
				     "metadata.resourceVersion", err, errlen);
	}
out:
	json_decref(root);
	return ret;
}

static int pod_obj(const json_t *obj, void *out, char *err, size_t errlen)
{
	return k8s_pod_from_json(obj, out, err, errlen);
}

int k8s_watch_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err,
			  size_t errlen)
{
	memset(ev, 0, offsetof(struct k8s_event, pod));
	return event_parse(line, len, &ev->type, ev->resource_version, &ev->code, ev->message,
			   sizeof(ev->message), pod_obj, &ev->pod, err, errlen);
}

/* A LIST body: fn for each item (bad items counted in *skipped, the first one's reason left
 * in err), the list's resourceVersion and continue token. */
static int list_parse(const char *body, size_t len, const char *what,
		      int (*fn)(const json_t *item, void *ctx, char *err, size_t errlen), void *ctx,
		      char rv[K8S_RV_MAX + 1], char cont[K8S_CONTINUE_MAX + 1], size_t *skipped,
		      char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr), *items, *item;
	int ret = -EINVAL;
	size_t i;

	if (!root) {
		snprintf(err, errlen, "list of %s: not JSON: %s (line %d)", what, jerr.text,
			 jerr.line);
		return -EINVAL;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items) && !json_is_null(items)) {
		snprintf(err, errlen, "list of %s: no items", what);
		goto out;
	}
	if (copy_str(rv, K8S_RV_MAX + 1, str_at(root, "metadata", "resourceVersion"),
		     "the list's resourceVersion", err, errlen) ||
	    copy_str(cont, K8S_CONTINUE_MAX + 1, str_at(root, "metadata", "continue"),
		     "the list's continue token", err, errlen))
		goto out;
	ret = 0;
	json_array_foreach(items, i, item)
	{
		char msg[256];
		int r = fn(item, ctx, msg, sizeof(msg));

		if (r == -ENOMEM) {
			ret = r;
			break;
		}
		if (r < 0 && !(*skipped)++)
			snprintf(err, errlen, "%s", msg);
	}
out:
	json_decref(root);
	return ret;
}

struct pod_item_ctx {
	k8s_pod_fn fn;
	void *ctx;
	struct k8s_pod pod;
};

static int pod_item(const json_t *item, void *ctx, char *err, size_t errlen)
{
	struct pod_item_ctx *c = ctx;
	int ret = k8s_pod_from_json(item, &c->pod, err, errlen);

	if (!ret)
		c->fn(c->ctx, &c->pod);
	return ret;
}

int k8s_pod_list_parse(const char *body, size_t len, k8s_pod_fn fn, void *ctx,
		       char rv[K8S_RV_MAX + 1], char cont[K8S_CONTINUE_MAX + 1], size_t *skipped,
		       char *err, size_t errlen)
{
	struct pod_item_ctx *c = malloc(sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	ret = list_parse(body, len, "pods", pod_item, c, rv, cont, skipped, err, errlen);
	free(c);
	return ret;
}

/* ------------------------------------------------------------ Services, EndpointSlices */

void k8s_svc_free(struct k8s_svc *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->addrs[i].pod);
		free(v->addrs[i].node);
	}
	free(v->addrs);
	v->addrs = NULL;
	v->n = 0;
}

static int svc_add(struct k8s_svc *v, size_t *cap, const char *ip, const char *pod,
		   const char *node, char *err, size_t errlen)
{
	struct k8s_svc_addr a = {0};

	if (inet_pton(AF_INET, ip, a.addr) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, a.addr) == 1) {
		a.family = AF_INET6;
	} else {
		snprintf(err, errlen, "%s: \"%.64s\" is not an IP address", v->key, ip);
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++)
		if (v->addrs[i].family == a.family && !memcmp(v->addrs[i].addr, a.addr, 16))
			return 0; /* once is enough */
	if (v->n == K8S_SVC_ADDRS_MAX) {
		snprintf(err, errlen, "%s: more than %d addresses", v->key, K8S_SVC_ADDRS_MAX);
		return -EINVAL;
	}
	if (v->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct k8s_svc_addr *na = realloc(v->addrs, ncap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		v->addrs = na;
		*cap = ncap;
	}
	a.pod = strdup(pod ? pod : "");
	a.node = strdup(node ? node : "");
	if (!a.pod || !a.node) {
		free(a.pod);
		free(a.node);
		return -ENOMEM;
	}
	v->addrs[v->n++] = a;
	return 0;
}

/* A Node: its name and its IP addresses (Hostname and DNS names are not addresses). */
static int node_from_json(const json_t *obj, struct k8s_svc *out, char *err, size_t errlen)
{
	const char *name =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	const json_t *a;
	size_t cap = 0, i;

	if (!json_is_object(obj) || !name || !*name) {
		snprintf(err, errlen, "not a Node (no metadata.name)");
		return -EINVAL;
	}
	if (strlen(name) > FLOE_NODE_NAME_MAX) {
		snprintf(err, errlen, "node %.40s...: name longer than %d characters", name,
			 FLOE_NODE_NAME_MAX);
		return -EINVAL;
	}
	memcpy(out->key, name, strlen(name) + 1);
	json_array_foreach(json_object_get(json_object_get(obj, "status"), "addresses"), i, a)
	{
		const char *type = json_string_value(json_object_get(a, "type")),
			   *ip = json_string_value(json_object_get(a, "address"));
		int ret;

		if (!type || !ip || (strcmp(type, "InternalIP") && strcmp(type, "ExternalIP")))
			continue;
		ret = svc_add(out, &cap, ip, NULL, name, err, errlen);
		if (ret) {
			k8s_svc_free(out);
			return ret;
		}
	}
	return 0;
}

/* A pod, as the names of its addresses. */
static int pod_names_from_json(const json_t *obj, struct k8s_svc *out, char *err, size_t errlen)
{
	struct k8s_pod *kp = malloc(sizeof(*kp));
	const struct floe_pod *p;
	size_t cap = 0;
	int ret;

	if (!kp)
		return -ENOMEM;
	ret = k8s_pod_from_json(obj, kp, err, errlen);
	if (ret)
		goto out;
	p = &kp->pod;
	/* Both fit: the pod's name and namespace have the same bounds as these. */
	memcpy(out->key, p->name, strlen(p->name) + 1);
	memcpy(out->ns, p->namespace, strlen(p->namespace) + 1);
	for (size_t i = 0; kp->active && !p->host_network && i < p->n_addrs && !ret; i++) {
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(p->addrs[i].family, p->addrs[i].addr, ip, sizeof(ip));
		ret = svc_add(out, &cap, ip, floe_pod_short_name(p), p->node, err, errlen);
	}
	if (ret)
		k8s_svc_free(out);
out:
	free(kp);
	return ret;
}

int k8s_svc_from_json(const void *obj_, enum k8s_resource res, struct k8s_svc *out, char *err,
		      size_t errlen)
{
	const json_t *obj = obj_, *meta = json_object_get(obj, "metadata"), *v, *e;
	const char *name = json_string_value(json_object_get(meta, "name")),
		   *ns = json_string_value(json_object_get(meta, "namespace")), *svc;
	size_t cap = 0, i, j;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (res == K8S_RES_NODES)
		return node_from_json(obj, out, err, errlen);
	if (res == K8S_RES_POD_NAMES)
		return pod_names_from_json(obj, out, err, errlen);
	if (!json_is_object(obj) || !name || !ns || !*name || !*ns) {
		snprintf(err, errlen, "not a %s (no metadata.name and metadata.namespace)",
			 res == K8S_RES_SERVICES ? "Service" : "EndpointSlice");
		return -EINVAL;
	}
	svc = res == K8S_RES_SERVICES
		  ? name
		  : json_string_value(json_object_get(json_object_get(meta, "labels"),
						      "kubernetes.io/service-name"));
	if (strlen(ns) + 1 + strlen(name) > FLOE_POD_NAME_MAX ||
	    strlen(svc ? svc : "") > FLOE_POD_NAME_MAX) {
		snprintf(err, errlen, "%s/%.40s...: name longer than %d characters", ns, name,
			 FLOE_POD_NAME_MAX);
		return -EINVAL;
	}
	/* Lengths checked above: namespace, '/', name and the NUL fit. */
	memcpy(out->key, ns, strlen(ns));
	out->key[strlen(ns)] = '/';
	memcpy(out->key + strlen(ns) + 1, name, strlen(name) + 1);
	if (copy_str(out->ns, sizeof(out->ns), ns, "metadata.namespace", err, errlen))
		return -EINVAL;
	memcpy(out->service, svc ? svc : "", strlen(svc ? svc : "") + 1);
	if (res == K8S_RES_SERVICES) {
		const json_t *spec = json_object_get(obj, "spec"),
			     *ips = json_object_get(spec, "clusterIPs");
		const char *one = json_string_value(json_object_get(spec, "clusterIP"));

		/* Headless ("None") and ExternalName services have no address of their own. */
		json_array_foreach(ips, i, v)
		{
			const char *ip = json_string_value(v);

			if (ip && *ip && strcmp(ip, "None"))
				ret = svc_add(out, &cap, ip, NULL, NULL, err, errlen);
			if (ret)
				goto fail;
		}
		if (one && *one && strcmp(one, "None"))
			ret = svc_add(out, &cap, one, NULL, NULL, err, errlen);
		if (ret)
			goto fail;
		return 0;
	}
	/* A slice that no Service owns, or of FQDN addresses, names nothing. */
	v = json_object_get(obj, "addressType");
	if (!svc || !*svc || !json_is_string(v) ||
	    (strcmp(json_string_value(v), "IPv4") && strcmp(json_string_value(v), "IPv6")))
		return 0;
	json_array_foreach(json_object_get(obj, "endpoints"), i, e)
	{
		const json_t *ref = json_object_get(e, "targetRef");
		const char *kind = json_string_value(json_object_get(ref, "kind")),
			   *pod = json_string_value(json_object_get(ref, "name")),
			   *node = json_string_value(json_object_get(e, "nodeName"));

		if (!kind || strcmp(kind, "Pod") || (pod && strlen(pod) > FLOE_POD_NAME_MAX))
			pod = NULL;
		if (node && strlen(node) > FLOE_NODE_NAME_MAX)
			node = NULL;
		json_array_foreach(json_object_get(e, "addresses"), j, v)
		{
			const char *ip = json_string_value(v);

			ret = ip ? svc_add(out, &cap, ip, pod, node, err, errlen) : 0;
			if (ret)
				goto fail;
		}
	}
	return 0;
fail:
	k8s_svc_free(out);
	return ret;
}

struct svc_obj_ctx {
	enum k8s_resource res;
	struct k8s_svc *out;
};

static int svc_obj(const json_t *obj, void *ctx, char *err, size_t errlen)
{
	struct svc_obj_ctx *c = ctx;

	return k8s_svc_from_json(obj, c->res, c->out, err, errlen);
}

int k8s_svc_event_parse(const char *line, size_t len, enum k8s_resource res,
			struct k8s_svc_event *ev, char *err, size_t errlen)
{
	struct svc_obj_ctx c = {res, &ev->svc};

	memset(ev, 0, sizeof(*ev));
	return event_parse(line, len, &ev->type, ev->resource_version, &ev->code, ev->message,
			   sizeof(ev->message), svc_obj, &c, err, errlen);
}

struct svc_item_ctx {
	enum k8s_resource res;
	k8s_svc_fn fn;
	void *ctx;
};

static int svc_item(const json_t *item, void *ctx, char *err, size_t errlen)
{
	struct svc_item_ctx *c = ctx;
	struct k8s_svc v;
	int ret = k8s_svc_from_json(item, c->res, &v, err, errlen);

	if (!ret)
		ret = c->fn(c->ctx, &v); /* it takes v's addresses */
	return ret;
}

int k8s_svc_list_parse(const char *body, size_t len, enum k8s_resource res, k8s_svc_fn fn,
		       void *ctx, char rv[K8S_RV_MAX + 1], char cont[K8S_CONTINUE_MAX + 1],
		       size_t *skipped, char *err, size_t errlen)
{
	struct svc_item_ctx c = {res, fn, ctx};

	return list_parse(body, len,
			  res == K8S_RES_SERVICES    ? "services"
			  : res == K8S_RES_NODES     ? "nodes"
			  : res == K8S_RES_POD_NAMES ? "pods"
						     : "endpointslices",
			  svc_item, &c, rv, cont, skipped, err, errlen);
}

int k8s_status_parse(const char *body, size_t len, int *code, char *message, size_t msglen)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *kind = json_string_value(json_object_get(root, "kind"));
	int ret = -EINVAL;

	if (kind && !strcmp(kind, "Status")) {
		status_of(root, code, message, msglen);
		ret = 0;
	}
	json_decref(root);
	return ret;
}
