// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what the Kubernetes pod source parses (lib/node/pods):
 *   - a watch stream (first byte 0x00, or anything but 0x01/0x02): the bytes after the first two
 *     are cut at the offset the second byte gives and fed to k8s_lines in two chunks, each line
 *     to k8s_watch_event_parse; and the whole input as one LIST page (k8s_pod_list_parse);
 *   - a kubeconfig (first byte 0x01): k8s_config_parse;
 *   - base64 (first byte 0x02): k8s_base64_decode.
 * Besides memory safety (ASan/UBSan), it checks what a successful parse promises: a pod's name
 * is "namespace/name" within FLOE_POD_NAME_MAX, its short name non-empty, at most
 * FLOE_POD_MAX_ADDRS addresses of a known family, active only with an address; a kubeconfig has
 * a server; base64 never writes past len / 4 * 3.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pods/k8s_config.h"
#include "pods/k8s_watch.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check_pod(const struct k8s_pod *kp)
{
	const struct floe_pod *p = &kp->pod;
	size_t nl = strlen(p->namespace);

	CHECK(strlen(p->name) <= FLOE_POD_NAME_MAX);
	CHECK(nl && !strncmp(p->name, p->namespace, nl) && p->name[nl] == '/');
	CHECK(*floe_pod_short_name(p));
	CHECK(p->n_addrs <= FLOE_POD_MAX_ADDRS);
	for (size_t i = 0; i < p->n_addrs; i++)
		CHECK(p->addrs[i].family == AF_INET || p->addrs[i].family == AF_INET6);
	CHECK(!kp->active || p->n_addrs);
	CHECK(p->host_ifindex == 0);
}

static int on_line(void *ctx, const char *line, size_t len)
{
	struct k8s_event *ev = ctx;
	char err[256];
	int ret = k8s_watch_event_parse(line, len, ev, err, sizeof(err));

	CHECK(ret == 0 || ret == -EINVAL || ret == -EBADMSG);
	CHECK(ret == 0 || err[0]);
	if (ret == 0 && ev->type != K8S_ERROR && ev->type != K8S_BOOKMARK)
		check_pod(&ev->pod);
	if (ret == 0 && ev->type == K8S_BOOKMARK)
		CHECK(ev->resource_version[0]);
	return 0;
}

static void on_item(void *ctx, const struct k8s_pod *p)
{
	check_pod(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *text = (const char *)data + 2;
	size_t len = size - 2;
	char err[256];

	if (data[0] == 1) {
		struct k8s_config c;

		if (k8s_config_parse(text, len, "fuzz", "/d", &c, err, sizeof(err)) == 0) {
			CHECK(c.server && c.origin && c.context);
			k8s_config_free(&c);
		} else {
			CHECK(!c.server && err[0]);
		}
	} else if (data[0] == 2) {
		unsigned char *out = malloc(len / 4 * 3 + 1);
		long n = k8s_base64_decode(text, len, out);

		CHECK(n == -EINVAL || (n >= 0 && (size_t)n <= len / 4 * 3));
		free(out);
	} else {
		struct k8s_event *ev = malloc(sizeof(*ev));
		struct k8s_lines l;
		size_t cut = data[1] < len ? data[1] : len, skipped = 0;
		char rv[K8S_RV_MAX + 1], cont[K8S_CONTINUE_MAX + 1];

		/* A small line bound, so that the bound is reached too. */
		k8s_lines_init(&l, 4096);
		if (k8s_lines_feed(&l, text, cut, on_line, ev) == 0)
			k8s_lines_feed(&l, text + cut, len - cut, on_line, ev);
		CHECK(l.len <= 4096 && l.cap <= 4096);
		k8s_lines_free(&l);
		free(ev);
		k8s_pod_list_parse(text, len, on_item, NULL, rv, cont, &skipped, err, sizeof(err));
	}
	return 0;
}
