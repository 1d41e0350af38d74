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

int k8s_watch_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err,
			  size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(line, len, 0, &jerr), *obj;
	const char *type;
	int ret = -EBADMSG;
	size_t i;

	memset(ev, 0, offsetof(struct k8s_event, pod));
	ev->resource_version[0] = ev->message[0] = '\0';
	ev->code = 0;
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
	ev->type = event_types[i].type;
	switch (ev->type) {
	case K8S_ERROR:
		status_of(obj, &ev->code, ev->message, sizeof(ev->message));
		ret = 0;
		break;
	case K8S_BOOKMARK:
		ret = copy_str(ev->resource_version, sizeof(ev->resource_version),
			       str_at(obj, "metadata", "resourceVersion"),
			       "bookmark resourceVersion", err, errlen);
		if (!ret && !ev->resource_version[0]) {
			snprintf(err, errlen, "watch event: a bookmark without a resourceVersion");
			ret = -EBADMSG;
		} else if (ret) {
			ret = -EBADMSG;
		}
		break;
	default:
		ret = k8s_pod_from_json(obj, &ev->pod, err, errlen);
		if (!ret)
			memcpy(ev->resource_version, ev->pod.resource_version,
			       sizeof(ev->resource_version));
	}
out:
	json_decref(root);
	return ret;
}

int k8s_pod_list_parse(const char *body, size_t len, k8s_pod_fn fn, void *ctx,
		       char rv[K8S_RV_MAX + 1], char cont[K8S_CONTINUE_MAX + 1], size_t *skipped,
		       char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr), *items, *item;
	struct k8s_pod *pod;
	int ret = -EINVAL;
	size_t i;

	if (!root) {
		snprintf(err, errlen, "list of pods: not JSON: %s (line %d)", jerr.text, jerr.line);
		return -EINVAL;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items) && !json_is_null(items)) {
		snprintf(err, errlen, "list of pods: no items");
		goto out;
	}
	if (copy_str(rv, K8S_RV_MAX + 1, str_at(root, "metadata", "resourceVersion"),
		     "the list's resourceVersion", err, errlen) ||
	    copy_str(cont, K8S_CONTINUE_MAX + 1, str_at(root, "metadata", "continue"),
		     "the list's continue token", err, errlen))
		goto out;
	pod = malloc(sizeof(*pod));
	if (!pod) {
		ret = -ENOMEM;
		goto out;
	}
	json_array_foreach(items, i, item)
	{
		char msg[256];

		if (k8s_pod_from_json(item, pod, msg, sizeof(msg)) < 0) {
			if (!(*skipped)++)
				snprintf(err, errlen, "%s", msg);
			continue;
		}
		fn(ctx, pod);
	}
	free(pod);
	ret = 0;
out:
	json_decref(root);
	return ret;
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
