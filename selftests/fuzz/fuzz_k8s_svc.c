// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what names services and nodes (lib/node/pods): Services,
 * EndpointSlices and Nodes from the API server, and the name resolver they feed.
 *   - the first byte's low two bits: Services (0, 3), EndpointSlices (1) or Nodes (2);
 *   - the rest, one event a line: each to k8s_svc_event_parse; the whole as one LIST page
 *     (k8s_svc_list_parse).
 * Every parsed object's addresses are added to a name resolver (with a history of 4 spans)
 * and looked up, then deleted. Besides memory safety (ASan/UBSan), it checks what a parse
 * promises (key "namespace/name", known families, at most K8S_SVC_ADDRS_MAX addresses, pod
 * and node strings; a Node's key its name, its addresses its own) and what the resolver promises:
 * every add is taken back by its del, and then no address has names now (no open span).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pods/k8s_watch.h"
#include "pods/name_resolver.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

struct run {
	enum k8s_resource res;
	struct name_resolver *r;
	uint64_t ts;
};

/* A Node: named by its name alone (no namespace, service or pod), its addresses the node's. */
static void feed_node(struct run *run, const struct k8s_svc *v)
{
	CHECK(v->key[0] && !v->ns[0] && !v->service[0] && v->n <= K8S_SVC_ADDRS_MAX);
	for (size_t i = 0; i < v->n; i++) {
		uint8_t key[16];
		struct entry_names *n;

		CHECK(v->addrs[i].family == AF_INET || v->addrs[i].family == AF_INET6);
		CHECK(!v->addrs[i].pod[0] && !strcmp(v->addrs[i].node, v->key));
		name_resolver_key(v->addrs[i].family, v->addrs[i].addr, key);
		if (name_resolver_set_node(run->r, key, v->key, run->ts) < 0)
			continue; /* ENOMEM */
		n = name_resolver_lookup(run->r, key, run->ts);
		/* a service fed before may name the address; else the node does */
		CHECK(n && (entry_names_service(n)[0] || !strcmp(entry_names_node(n), v->key)));
		entry_names_unref(n);
		CHECK(name_resolver_set_node(run->r, key, NULL, run->ts + 1) == 0);
	}
	run->ts += 2;
}

static void feed(struct run *run, const struct k8s_svc *v)
{
	bool added[K8S_SVC_ADDRS_MAX] = {0};

	if (run->res == K8S_RES_NODES) {
		feed_node(run, v);
		return;
	}
	/* "namespace/name", both non-empty (a namespace may hold a '/' here: the API's never does) */
	CHECK(v->ns[0] && !strncmp(v->key, v->ns, strlen(v->ns)) && v->key[strlen(v->ns)] == '/' &&
	      v->key[strlen(v->ns) + 1]);
	CHECK(v->n <= K8S_SVC_ADDRS_MAX);
	CHECK(v->n == 0 || v->service[0] || run->res == K8S_RES_POD_NAMES);
	for (size_t i = 0; i < v->n; i++) {
		uint8_t key[16];
		struct entry_names *n;

		CHECK(v->addrs[i].family == AF_INET || v->addrs[i].family == AF_INET6);
		CHECK(v->addrs[i].pod && v->addrs[i].node);
		CHECK(run->res == K8S_RES_ENDPOINTSLICES || run->res == K8S_RES_POD_NAMES ||
		      !v->addrs[i].pod[0]);
		CHECK(run->res != K8S_RES_POD_NAMES || v->addrs[i].pod[0]);
		name_resolver_key(v->addrs[i].family, v->addrs[i].addr, key);
		if (name_resolver_service_add(run->r, key, v->ns, v->service, v->addrs[i].pod,
					      v->addrs[i].node, run->ts) < 0)
			continue; /* ENOMEM */
		added[i] = true;
		n = name_resolver_lookup(run->r, key, run->ts);
		CHECK(n && (entry_names_service(n)[0] || entry_names_pod(n)[0]));
		entry_names_unref(n);
	}
	run->ts++;
	for (size_t i = 0; i < v->n; i++) {
		uint8_t key[16];

		if (!added[i])
			continue;
		name_resolver_key(v->addrs[i].family, v->addrs[i].addr, key);
		CHECK(name_resolver_service_del(run->r, key, v->ns, v->service, v->addrs[i].pod,
						v->addrs[i].node, run->ts) == 0);
	}
	run->ts++;
}

static int on_item(void *ctx, struct k8s_svc *v)
{
	feed(ctx, v);
	k8s_svc_free(v);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const enum k8s_resource res[] = {K8S_RES_SERVICES, K8S_RES_ENDPOINTSLICES,
						K8S_RES_NODES, K8S_RES_POD_NAMES};
	struct run run = {.res = res[data[0] & 3], .r = name_resolver_new(4, 4), .ts = 1};
	const char *text = (const char *)data + 1, *p = text, *end = text + size - 1;
	char rv[K8S_RV_MAX + 1], cont[K8S_CONTINUE_MAX + 1], err[256];
	struct k8s_svc_event *ev = malloc(sizeof(*ev));
	struct name_resolver_stats st;
	size_t skipped = 0;

	if (!run.r || !ev)
		goto out;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int ret = k8s_svc_event_parse(p, len, run.res, ev, err, sizeof(err));

		CHECK(ret == 0 || ret == -EINVAL || ret == -EBADMSG || ret == -ENOMEM);
		CHECK(ret == 0 || ret == -ENOMEM || err[0]);
		if (ret == 0 && ev->type != K8S_ERROR && ev->type != K8S_BOOKMARK)
			feed(&run, &ev->svc);
		if (ret == 0 && ev->type == K8S_BOOKMARK)
			CHECK(ev->resource_version[0]);
		k8s_svc_free(&ev->svc);
		p += len + 1;
	}
	k8s_svc_list_parse(text, size - 1, run.res, on_item, &run, rv, cont, &skipped, err,
			   sizeof(err));
	name_resolver_get_stats(run.r, &st);
	CHECK(st.spans_open == 0);
	CHECK(st.spans_closed <= 4);
out:
	free(ev);
	name_resolver_free(run.r);
	return 0;
}
