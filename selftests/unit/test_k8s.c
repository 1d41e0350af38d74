// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes pod source's parsers (lib/node/pods/k8s_watch.c, k8s_config.c): the watch
 * stream's line splitter fed in every split of a stream, watch events (pods, bookmarks, 410
 * errors, bad lines), pods (active or not, host network, podIPs), a LIST page, Status bodies,
 * Services and EndpointSlices (cluster IPs; endpoints with their pod and node; a LIST page),
 * kubeconfigs (files and inline data, token files re-read, refused exec plugins, errors that
 * say where) and base64. The objects are shaped as the API server sends them (test_k8s_tap.sh
 * checks the real one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pods/k8s_config.h"
#include "pods/k8s_watch.h"

/* ------------------------------------------------------------ lines */

struct lines_seen {
	char text[4096];
	int n;
};

static int collect_line(void *ctx, const char *line, size_t len)
{
	struct lines_seen *s = ctx;
	size_t at = strlen(s->text);

	snprintf(s->text + at, sizeof(s->text) - at, "[%.*s]", (int)len, line);
	s->n++;
	return 0;
}

static void test_lines_every_split(void **state)
{
	const char stream[] = "{\"a\":1}\n\n{\"b\":22}\n{\"c\":333}\npartial";

	/* Every way of cutting the stream in two gives the same lines. */
	for (size_t cut = 0; cut <= sizeof(stream) - 1; cut++) {
		struct k8s_lines l;
		struct lines_seen seen = {.text = ""};

		k8s_lines_init(&l, 64);
		assert_int_equal(k8s_lines_feed(&l, stream, cut, collect_line, &seen), 0);
		assert_int_equal(
		    k8s_lines_feed(&l, stream + cut, sizeof(stream) - 1 - cut, collect_line, &seen),
		    0);
		assert_string_equal(seen.text, "[{\"a\":1}][{\"b\":22}][{\"c\":333}]");
		assert_int_equal(l.len, strlen("partial"));
		k8s_lines_free(&l);
	}
	/* Byte by byte. */
	struct k8s_lines l;
	struct lines_seen seen = {.text = ""};

	k8s_lines_init(&l, 64);
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		assert_int_equal(k8s_lines_feed(&l, stream + i, 1, collect_line, &seen), 0);
	assert_int_equal(seen.n, 3);
	k8s_lines_free(&l);
}

static int stop_at_second(void *ctx, const char *line, size_t len)
{
	return ++*(int *)ctx == 2 ? -EINTR : 0;
}

static void test_lines_bounds(void **state)
{
	struct k8s_lines l;
	struct lines_seen seen = {.text = ""};
	int calls = 0;

	k8s_lines_init(&l, 8);
	/* A line of exactly max bytes passes, whole or in pieces; one more byte does not. */
	assert_int_equal(k8s_lines_feed(&l, "12345678\n", 9, collect_line, &seen), 0);
	assert_int_equal(k8s_lines_feed(&l, "1234", 4, collect_line, &seen), 0);
	assert_int_equal(k8s_lines_feed(&l, "5678\n", 5, collect_line, &seen), 0);
	assert_string_equal(seen.text, "[12345678][12345678]");
	assert_int_equal(k8s_lines_feed(&l, "123456789\n", 10, collect_line, &seen), -EMSGSIZE);
	k8s_lines_reset(&l);
	assert_int_equal(k8s_lines_feed(&l, "12345", 5, collect_line, &seen), 0);
	assert_int_equal(k8s_lines_feed(&l, "6789", 4, collect_line, &seen), -EMSGSIZE);
	assert_true(l.cap <= 8);
	/* The callback's own error stops the feed. */
	k8s_lines_reset(&l);
	assert_int_equal(k8s_lines_feed(&l, "a\nb\nc\n", 6, stop_at_second, &calls), -EINTR);
	assert_int_equal(calls, 2);
	k8s_lines_free(&l);
}

/* ------------------------------------------------------------ events and pods */

#define POD(ns, name, rv, extra_meta, spec, status)                                                \
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name                   \
	"\",\"namespace\":\"" ns "\",\"resourceVersion\":\"" rv "\"" extra_meta                    \
	"},\"spec\":{" spec "},\"status\":{" status "}}"

static const char running_pod[] =
    POD("shop", "web-1", "1234", ",\"labels\":{\"app\":\"web\"}",
	"\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"web\"}]",
	"\"phase\":\"Running\",\"podIP\":\"10.1.2.3\",\"podIPs\":[{\"ip\":\"10.1.2.3\"},"
	"{\"ip\":\"fd00::3\"}]");

static void test_event_pod(void **state)
{
	struct k8s_event ev;
	char err[256], line[2048];
	const struct floe_pod *p = &ev.pod.pod;
	uint8_t v4[4], v6[16];

	snprintf(line, sizeof(line), "{\"type\":\"ADDED\",\"object\":%s}", running_pod);
	assert_int_equal(k8s_watch_event_parse(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.type, K8S_ADDED);
	assert_string_equal(ev.resource_version, "1234");
	assert_string_equal(p->name, "shop/web-1");
	assert_string_equal(floe_pod_short_name(p), "web-1");
	assert_string_equal(p->namespace, "shop");
	assert_string_equal(p->node, "node-a");
	assert_true(ev.pod.active);
	assert_false(p->host_network);
	assert_int_equal(p->host_ifindex, 0);
	/* podIPs, both families; podIP (the same as podIPs[0]) not twice. */
	assert_int_equal(p->n_addrs, 2);
	inet_pton(AF_INET, "10.1.2.3", v4);
	inet_pton(AF_INET6, "fd00::3", v6);
	assert_int_equal(p->addrs[0].family, AF_INET);
	assert_memory_equal(p->addrs[0].addr, v4, 4);
	assert_int_equal(p->addrs[0].prefixlen, 32);
	assert_int_equal(p->addrs[1].family, AF_INET6);
	assert_memory_equal(p->addrs[1].addr, v6, 16);

	snprintf(line, sizeof(line), "{\"type\":\"DELETED\",\"object\":%s}", running_pod);
	assert_int_equal(k8s_watch_event_parse(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.type, K8S_DELETED);
}

static void test_pod_activity(void **state)
{
	static const struct {
		const char *json;
		bool active, host_network;
	} cases[] = {
	    {POD("a", "p", "1", "", "", "\"phase\":\"Pending\""), false, false},
	    {POD("a", "p", "1", "", "", "\"phase\":\"Running\""), false, false}, /* no IP yet */
	    {POD("a", "p", "1", "", "", "\"phase\":\"Running\",\"podIP\":\"10.0.0.1\""), true,
	     false},
	    {POD("a", "p", "1", "", "", "\"phase\":\"Succeeded\",\"podIP\":\"10.0.0.1\""), false,
	     false},
	    {POD("a", "p", "1", "", "", "\"phase\":\"Failed\",\"podIP\":\"10.0.0.1\""), false,
	     false},
	    {POD("a", "p", "1", ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"", "",
		 "\"phase\":\"Running\",\"podIP\":\"10.0.0.1\""),
	     false, false},
	    {POD("a", "p", "1", "", "\"hostNetwork\":true",
		 "\"phase\":\"Running\",\"podIP\":\"192.168.1.5\""),
	     true, true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_event ev;
		char err[256], line[1024];

		snprintf(line, sizeof(line), "{\"type\":\"MODIFIED\",\"object\":%s}",
			 cases[i].json);
		assert_int_equal(k8s_watch_event_parse(line, strlen(line), &ev, err, sizeof(err)),
				 0);
		assert_int_equal(ev.pod.active, cases[i].active);
		assert_int_equal(ev.pod.pod.host_network, cases[i].host_network);
	}
}

static void test_event_bookmark_error_bad(void **state)
{
	static const char bookmark[] = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\","
				       "\"metadata\":{\"resourceVersion\":\"9876\"}}}";
	static const char gone[] =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (99)\","
	    "\"reason\":\"Expired\",\"code\":410}}";
	static const struct {
		const char *line;
		int ret;
		const char *msg;
	} bad[] = {
	    {"{\"type\":\"ADDED\"", -EBADMSG, "not JSON"},
	    {"[1,2]", -EBADMSG, "no type and object"},
	    {"{\"type\":\"RENAMED\",\"object\":{}}", -EBADMSG, "unknown type"},
	    {"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}", -EBADMSG, "without"},
	    {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}", -EINVAL,
	     "not a pod"},
	    {"{\"type\":\"ADDED\",\"object\":" POD("a", "p", "1", "", "",
						   "\"podIPs\":[{\"ip\":\"10.0.0.300\"}]") "}",
	     -EINVAL, "not an IP address"},
	};
	struct k8s_event ev;
	char err[256];

	assert_int_equal(k8s_watch_event_parse(bookmark, strlen(bookmark), &ev, err, sizeof(err)),
			 0);
	assert_int_equal(ev.type, K8S_BOOKMARK);
	assert_string_equal(ev.resource_version, "9876");
	assert_int_equal(k8s_watch_event_parse(gone, strlen(gone), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.type, K8S_ERROR);
	assert_int_equal(ev.code, 410);
	assert_string_equal(ev.message, "too old resource version: 5 (99)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    k8s_watch_event_parse(bad[i].line, strlen(bad[i].line), &ev, err, sizeof(err)),
		    bad[i].ret);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].msg);
	}
}

static void test_pod_name_too_long(void **state)
{
	char name[300], line[1024], err[256];
	struct k8s_event ev;

	/* namespace/name past FLOE_POD_NAME_MAX: refused, said, not truncated. */
	memset(name, 'x', 250);
	name[250] = '\0';
	snprintf(line, sizeof(line),
		 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"%s\",\"namespace\":"
		 "\"shop\"},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"}}}",
		 name);
	assert_int_equal(k8s_watch_event_parse(line, strlen(line), &ev, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	/* 254 characters in all: taken. */
	name[254 - 5] = '\0';
	snprintf(line, sizeof(line),
		 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"%s\",\"namespace\":"
		 "\"shop\"},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"}}}",
		 name);
	assert_int_equal(k8s_watch_event_parse(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(strlen(ev.pod.pod.name), 254);
}

struct list_seen {
	char names[512];
	int n;
};

static void on_item(void *ctx, const struct k8s_pod *p)
{
	struct list_seen *s = ctx;
	size_t at = strlen(s->names);

	snprintf(s->names + at, sizeof(s->names) - at, "%s%s%s", at ? " " : "", p->pod.name,
		 p->active ? "" : "(inactive)");
	s->n++;
}

static void test_list_page_and_status(void **state)
{
	static const char page
	    [] = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		 "\"555\","
		 "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\",\"remainingItemCount\":3},"
		 "\"items\":[" POD(
		     "a", "one", "1", "", "",
		     "\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"") "," POD("b", "two", "2", "",
									     "",
									     "\"phase\":"
									     "\"Pending\"") ",{"
											    "\"meta"
											    "data\""
											    ":{}}]"
											    "}";
	static const char last[] =
	    "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"556\"},"
	    "\"items\":[]}";
	static const char forbidden[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"pods is forbidden: User \\\"x\\\" cannot list resource \\\"pods\\\"\","
	    "\"reason\":\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}";
	char rv[K8S_RV_MAX + 1], cont[K8S_CONTINUE_MAX + 1], err[256], msg[256];
	struct list_seen seen = {.names = ""};
	size_t skipped = 0;
	int code;

	assert_int_equal(k8s_pod_list_parse(page, strlen(page), on_item, &seen, rv, cont, &skipped,
					    err, sizeof(err)),
			 0);
	assert_string_equal(seen.names, "a/one b/two(inactive)");
	assert_int_equal(skipped, 1);
	assert_non_null(strstr(err, "not a pod"));
	assert_string_equal(rv, "555");
	assert_string_equal(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
	assert_int_equal(k8s_pod_list_parse(last, strlen(last), on_item, &seen, rv, cont, &skipped,
					    err, sizeof(err)),
			 0);
	assert_string_equal(rv, "556");
	assert_string_equal(cont, "");
	assert_int_equal(k8s_pod_list_parse("{\"kind\":", 8, on_item, &seen, rv, cont, &skipped,
					    err, sizeof(err)),
			 -EINVAL);

	assert_int_equal(k8s_status_parse(forbidden, strlen(forbidden), &code, msg, sizeof(msg)),
			 0);
	assert_int_equal(code, 403);
	assert_string_equal(msg, "pods is forbidden: User \"x\" cannot list resource \"pods\"");
	assert_int_equal(k8s_status_parse(last, strlen(last), &code, msg, sizeof(msg)), -EINVAL);
}

/* ------------------------------------------------------------ kubeconfig */

static void test_base64(void **state)
{
	unsigned char out[64];

	assert_int_equal(k8s_base64_decode("", 0, out), 0);
	assert_int_equal(k8s_base64_decode("Zg==", 4, out), 1);
	assert_memory_equal(out, "f", 1);
	assert_int_equal(k8s_base64_decode("Zm8=", 4, out), 2);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(k8s_base64_decode("Zm9v\nYmFy", 9, out), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(k8s_base64_decode("Zm9vYg", 6, out), -EINVAL); /* padding missing */
	assert_int_equal(k8s_base64_decode("Zg=", 3, out), -EINVAL);
	assert_int_equal(k8s_base64_decode("Zh==", 4, out), -EINVAL); /* bits past the end */
	assert_int_equal(k8s_base64_decode("Zg==Zg==", 8, out), -EINVAL);
	assert_int_equal(k8s_base64_decode("Z!==", 4, out), -EINVAL);
	assert_int_equal(k8s_base64_decode("Z", 1, out), -EINVAL);

	/* Unpadded input longer than a quad: refused before it writes past len / 4 * 3 (found by
	 * fuzz_k8s; under ASan the exact-size buffer shows an overflow). */
	static const char unpadded[] = "Zm1QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB";
	unsigned char *exact = malloc((sizeof(unpadded) - 1) / 4 * 3);

	assert_int_equal(k8s_base64_decode(unpadded, sizeof(unpadded) - 1, exact), -EINVAL);
	free(exact);
}

#define KUBECONFIG(user)                                                                           \
	"apiVersion: v1\nkind: Config\ncurrent-context: dev\n"                                     \
	"clusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"                  \
	"    certificate-authority-data: Q0EK\n"                                                   \
	"- name: c2\n  cluster: {server: 'https://other:443', certificate-authority: ca.pem}\n"    \
	"contexts:\n- name: prod\n  context: {cluster: c2, user: u1}\n"                            \
	"- name: dev\n  context:\n    cluster: c1\n    user: u1\n    namespace: shop\n"            \
	"users:\n- name: u1\n  user:\n" user

static void test_kubeconfig_cert_inline(void **state)
{
	static const char text[] = KUBECONFIG("    client-certificate-data: Q0VSVAo=\n"
					      "    client-key-data: S0VZCg==\n");
	struct k8s_config c;
	char err[256] = "";

	assert_int_equal(
	    k8s_config_parse(text, strlen(text), "kc", "/etc/kube", &c, err, sizeof(err)), 0);
	assert_string_equal(c.context, "dev");
	assert_string_equal(c.server, "https://10.0.0.1:6443"); /* the trailing '/' dropped */
	assert_int_equal(c.ca.len, 3);
	assert_memory_equal(c.ca.data, "CA\n", 3);
	assert_null(c.ca.path);
	assert_int_equal(c.cert.len, 5);
	assert_memory_equal(c.cert.data, "CERT\n", 5);
	assert_memory_equal(c.key.data, "KEY\n", 4);
	assert_null(c.token);
	assert_null(c.token_file);
	k8s_config_free(&c);
}

static void test_kubeconfig_paths_and_token(void **state)
{
	/* The other context: relative paths against the kubeconfig's directory. */
	static const char text[] = KUBECONFIG("    tokenFile: sa/token\n    token: inline\n");
	char other[sizeof(text) + 16];
	struct k8s_config c;
	char err[256] = "";

	snprintf(other, sizeof(other), "%s", text);
	memcpy(strstr(other, "current-context: dev"), "current-context: prd", 20);
	memcpy(strstr(other, "- name: prod"), "- name: prd ", 12);
	assert_int_equal(
	    k8s_config_parse(other, strlen(other), "kc", "/etc/kube", &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://other:443");
	assert_string_equal(c.ca.path, "/etc/kube/ca.pem");
	assert_string_equal(c.token_file, "/etc/kube/sa/token");
	assert_string_equal(c.token, "inline");
	k8s_config_free(&c);
}

static void test_token_file_reread(void **state)
{
	char dir[] = "/tmp/floe-k8s-test.XXXXXX", path[128], text[512], err[256];
	struct k8s_config c;
	char *tok;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	f = fopen(path, "w");
	fputs("first-token\n", f);
	fclose(f);
	snprintf(text, sizeof(text), KUBECONFIG("    tokenFile: token\n"));
	assert_int_equal(k8s_config_parse(text, strlen(text), "kc", dir, &c, err, sizeof(err)), 0);
	assert_int_equal(k8s_config_token(&c, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "first-token"); /* the newline dropped */
	free(tok);
	/* Rotated on disk (written anew and renamed over, as the kubelet does): the next read
	 * has it. */
	snprintf(path, sizeof(path), "%s/token.new", dir);
	f = fopen(path, "w");
	fputs("second-token", f);
	fclose(f);
	snprintf(text, sizeof(text), "%s/token", dir);
	assert_int_equal(rename(path, text), 0);
	assert_int_equal(k8s_config_token(&c, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "second-token");
	free(tok);
	unlink(text);
	assert_int_equal(k8s_config_token(&c, &tok, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read the token file"));
	k8s_config_free(&c);
	rmdir(dir);
}

static void test_kubeconfig_errors(void **state)
{
	static const struct {
		const char *text;
		int ret;
		const char *msg;
	} cases[] = {
	    {KUBECONFIG("    exec:\n      command: aws\n"), -ENOTSUP,
	     "kc: user \"u1\": exec authentication is not supported"},
	    {KUBECONFIG("    auth-provider: {name: gcp}\n"), -ENOTSUP, "auth-provider"},
	    {KUBECONFIG("    client-certificate: c.pem\n"), -EINVAL, "needs its key"},
	    {KUBECONFIG("    token: x\n    client-key-data: '%%%'\n"), -EINVAL,
	     "client-key-data is not valid base64"},
	    {"clusters: [\n", -EINVAL, "kc:2:1: "},
	    {"- a\n- b\n", -EINVAL, "no mapping at the top"},
	    {"apiVersion: v1\n", -EINVAL, "no current-context"},
	    {"current-context: x\ncontexts: []\n", -EINVAL, "\"x\" is not in contexts"},
	    {"current-context: x\ncontexts:\n- {name: x, context: {cluster: c}}\n", -EINVAL,
	     "cluster \"c\" is not in clusters"},
	    {"current-context: x\ncontexts:\n- {name: x, context: {cluster: c}}\n"
	     "clusters:\n- {name: c, cluster: {server: 'ftp://x'}}\n",
	     -EINVAL, "expected an https:// URL"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_config c;
		char err[256] = "";
		int ret = k8s_config_parse(cases[i].text, strlen(cases[i].text), "kc", NULL, &c,
					   err, sizeof(err));

		if (ret != cases[i].ret || !strstr(err, cases[i].msg))
			fail_msg("case %zu: %d \"%s\", want %d \"%s\"", i, ret, err, cases[i].ret,
				 cases[i].msg);
		assert_null(c.server);
	}
}

static void test_in_cluster(void **state)
{
	struct k8s_config c;
	char err[256];

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	assert_int_equal(k8s_config_in_cluster("/sa", &c, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://[fd00::1]:6443");
	assert_string_equal(c.ca.path, "/sa/ca.crt");
	assert_string_equal(c.token_file, "/sa/token");
	k8s_config_free(&c);
	assert_false(k8s_in_cluster_available("/nonexistent-floe-sa"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(k8s_config_in_cluster("/sa", &c, err, sizeof(err)), -ENOENT);
}

/* ------------------------------------------------------------ Services, EndpointSlices */

/* "key service: ip[=pod@node] ..." */
static const char *svc_str(const struct k8s_svc *v)
{
	static char buf[2048];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s %s:", v->key, v->service);

	for (size_t i = 0; i < v->n && n < sizeof(buf); i++) {
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(v->addrs[i].family, v->addrs[i].addr, ip, sizeof(ip));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", ip);
		if (v->addrs[i].pod[0] || v->addrs[i].node[0])
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "=%s@%s", v->addrs[i].pod,
					      v->addrs[i].node);
	}
	return buf;
}

static int on_svc_item(void *ctx, struct k8s_svc *v)
{
	char *text = ctx;

	strcat(text, svc_str(v));
	strcat(text, ";");
	k8s_svc_free(v);
	return 0;
}

#define SLICE(name, svc_label, type, endpoints)                                                    \
	"{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{"      \
	"\"name\":\"" name "\",\"namespace\":\"shop\",\"resourceVersion\":\"77\",\"labels\":{"   \
	svc_label "}},\"addressType\":\"" type "\",\"endpoints\":[" endpoints                      \
	"],\"ports\":[{\"port\":80}]}"

/* One event line of res: 0 and the object as svc_str has it, or the error. */
static const char *svc_event(const char *line, enum k8s_resource res, struct k8s_svc_event *ev,
			     int want)
{
	static char out[2048];
	char err[256] = "";
	int ret = k8s_svc_event_parse(line, strlen(line), res, ev, err, sizeof(err));

	assert_int_equal(ret, want);
	snprintf(out, sizeof(out), "%s", ret ? err : svc_str(&ev->svc));
	k8s_svc_free(&ev->svc);
	return out;
}

/* Services: cluster IPs (dual stack once each), headless and ExternalName with none; slices:
 * endpoints with their pod (targetRef) and node, duplicates once, FQDN and unowned slices with
 * none; a 410; a list page with a bad item. */
static void test_services_and_slices(void **state)
{
	static const char svc_line[] =
	    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
	    "\"namespace\":\"shop\",\"resourceVersion\":\"70\"},\"spec\":{\"clusterIP\":"
	    "\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\",\"fd00:96::a\"]}}}";
	static const char headless[] =
	    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"db\","
	    "\"namespace\":\"shop\",\"resourceVersion\":\"71\"},\"spec\":{\"clusterIP\":\"None\","
	    "\"clusterIPs\":[\"None\"]}}}";
	static const char external[] =
	    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\","
	    "\"namespace\":\"shop\",\"resourceVersion\":\"72\"},\"spec\":{\"type\":"
	    "\"ExternalName\",\"externalName\":\"example.com\"}}}";
	static const char bad_ip[] =
	    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"x\","
	    "\"namespace\":\"shop\",\"resourceVersion\":\"73\"},\"spec\":{\"clusterIP\":"
	    "\"10.96.0.300\"}}}";
	static const char slice_line[] =
	    "{\"type\":\"ADDED\",\"object\":" SLICE(
		"web-abc", "\"kubernetes.io/service-name\":\"web\"", "IPv4",
		"{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"node-1\",\"targetRef\":{\"kind\":"
		"\"Pod\",\"name\":\"web-1\",\"namespace\":\"shop\"}},{\"addresses\":[\"10.0.0.2\","
		"\"10.0.0.2\"],\"nodeName\":\"node-2\"},{\"addresses\":[\"10.0.0.3\"],\"targetRef\":"
		"{\"kind\":\"Node\",\"name\":\"n\"}}") "}";
	static const char fqdn[] =
	    "{\"type\":\"ADDED\",\"object\":" SLICE("ext-1",
						    "\"kubernetes.io/service-name\":\"ext\"",
						    "FQDN", "{\"addresses\":[\"example.com\"]}") "}";
	static const char unowned[] =
	    "{\"type\":\"ADDED\",\"object\":" SLICE("mine", "", "IPv4",
						    "{\"addresses\":[\"10.0.0.9\"]}") "}";
	static const char gone[] =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"message\":"
	    "\"too old resource version: 1 (80)\"}}";
	static const char list[] =
	    "{\"kind\":\"EndpointSliceList\",\"metadata\":{\"resourceVersion\":\"80\",\"continue\":"
	    "\"c1\"},\"items\":[" SLICE("a", "\"kubernetes.io/service-name\":\"api\"", "IPv6",
				       "{\"addresses\":[\"fd00::1\"]}") ",{\"metadata\":{}}]}";
	struct k8s_svc_event ev;
	char err[256] = "", rv[K8S_RV_MAX + 1], cont[K8S_CONTINUE_MAX + 1], seen[512] = "";
	size_t skipped = 0;

	assert_string_equal(svc_event(svc_line, K8S_RES_SERVICES, &ev, 0),
			    "shop/web web: 10.96.0.10 fd00:96::a");
	assert_int_equal(ev.type, K8S_ADDED);
	assert_string_equal(ev.resource_version, "70");
	assert_string_equal(svc_event(headless, K8S_RES_SERVICES, &ev, 0), "shop/db db:");
	assert_int_equal(ev.type, K8S_MODIFIED);
	assert_string_equal(svc_event(external, K8S_RES_SERVICES, &ev, 0), "shop/ext ext:");
	assert_string_equal(svc_event(bad_ip, K8S_RES_SERVICES, &ev, -EINVAL),
			    "shop/x: \"10.96.0.300\" is not an IP address");
	assert_string_equal(svc_event(slice_line, K8S_RES_ENDPOINTSLICES, &ev, 0),
			    "shop/web-abc web: 10.0.0.1=web-1@node-1 10.0.0.2=@node-2 10.0.0.3");
	assert_string_equal(svc_event(fqdn, K8S_RES_ENDPOINTSLICES, &ev, 0), "shop/ext-1 ext:");
	assert_string_equal(svc_event(unowned, K8S_RES_ENDPOINTSLICES, &ev, 0), "shop/mine :");
	svc_event(gone, K8S_RES_ENDPOINTSLICES, &ev, 0);
	assert_int_equal(ev.type, K8S_ERROR);
	assert_int_equal(ev.code, 410);

	assert_int_equal(k8s_svc_list_parse(list, strlen(list), K8S_RES_ENDPOINTSLICES,
					    on_svc_item, seen, rv, cont, &skipped, err,
					    sizeof(err)),
			 0);
	assert_string_equal(seen, "shop/a api: fd00::1;");
	assert_int_equal(skipped, 1);
	assert_string_equal(rv, "80");
	assert_string_equal(cont, "c1");
	(void)state;
}

/* Nodes: their InternalIP and ExternalIP addresses (not Hostname), each the node's; a Node
 * without name refused; a NodeList page. */
static void test_nodes(void **state)
{
	static const char node_line[] =
	    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\","
	    "\"resourceVersion\":\"90\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
	    "\"address\":\"10.0.0.4\"},{\"type\":\"Hostname\",\"address\":\"node-1\"},{\"type\":"
	    "\"ExternalIP\",\"address\":\"2001:db8::4\"},{\"type\":\"InternalDNS\",\"address\":"
	    "\"node-1.local\"}]}}}";
	static const char nameless[] =
	    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"resourceVersion\":"
	    "\"91\"}}}";
	static const char list[] =
	    "{\"kind\":\"NodeList\",\"metadata\":{\"resourceVersion\":\"95\"},\"items\":[{"
	    "\"metadata\":{\"name\":\"a\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
	    "\"address\":\"10.0.0.5\"}]}},{\"metadata\":{\"name\":\"b\"},\"status\":{\"addresses\":"
	    "[{\"type\":\"InternalIP\",\"address\":\"10.0.0.300\"}]}},{\"metadata\":{\"name\":"
	    "\"c\"}}]}";
	struct k8s_svc_event ev;
	char err[256] = "", rv[K8S_RV_MAX + 1], cont[K8S_CONTINUE_MAX + 1], seen[512] = "";
	size_t skipped = 0;

	assert_string_equal(svc_event(node_line, K8S_RES_NODES, &ev, 0),
			    "node-1 : 10.0.0.4=@node-1 2001:db8::4=@node-1");
	assert_int_equal(ev.type, K8S_ADDED);
	assert_string_equal(ev.resource_version, "90");
	assert_string_equal(svc_event(nameless, K8S_RES_NODES, &ev, -EINVAL),
			    "not a Node (no metadata.name)");
	assert_int_equal(k8s_svc_list_parse(list, strlen(list), K8S_RES_NODES, on_svc_item, seen,
					    rv, cont, &skipped, err, sizeof(err)),
			 0);
	assert_string_equal(seen, "a : 10.0.0.5=@a;c :;");
	assert_int_equal(skipped, 1);
	assert_string_equal(err, "b: \"10.0.0.300\" is not an IP address");
	assert_string_equal(rv, "95");
	(void)state;
}

/* Pods as the names of their addresses (the pod names watch of other nodes): a running pod's
 * IPs each with its name and node; a pending pod, one being deleted, a host-network pod: no
 * address (an event that makes a known pod so takes its names away); a PodList page. */
static void test_pod_names(void **state)
{
	static const char running[] = "{\"type\":\"ADDED\",\"object\":" POD(
	    "shop", "far-1", "50", "", "\"nodeName\":\"node-2\"",
	    "\"phase\":\"Running\",\"podIP\":\"10.1.2.3\",\"podIPs\":[{\"ip\":"
	    "\"10.1.2.3\"},{\"ip\":\"fd00::3\"}]") "}";
	static const char pending[] = "{\"type\":\"MODIFIED\",\"object\":" POD(
	    "shop", "far-1", "51", "", "\"nodeName\":\"node-2\"", "\"phase\":\"Pending\"") "}";
	static const char deleting[] = "{\"type\":\"MODIFIED\",\"object\":" POD(
	    "shop", "far-1", "52", ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"",
	    "\"nodeName\":\"node-2\"", "\"phase\":\"Running\",\"podIP\":\"10.1.2.3\"") "}";
	static const char host[] = "{\"type\":\"ADDED\",\"object\":" POD(
	    "kube-system", "proxy", "53", "", "\"nodeName\":\"node-2\",\"hostNetwork\":true",
	    "\"phase\":\"Running\",\"podIP\":\"10.0.0.2\"") "}";
	static const char list[] =
	    "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"60\"},\"items\":[" POD(
		"a", "p", "58", "", "\"nodeName\":\"node-3\"",
		"\"phase\":\"Running\",\"podIP\":\"10.1.3.1\"") ",{\"metadata\":{}}]}";
	struct k8s_svc_event ev;
	char err[256] = "", rv[K8S_RV_MAX + 1], cont[K8S_CONTINUE_MAX + 1], seen[512] = "";
	size_t skipped = 0;

	assert_string_equal(svc_event(running, K8S_RES_POD_NAMES, &ev, 0),
			    "shop/far-1 : 10.1.2.3=far-1@node-2 fd00::3=far-1@node-2");
	assert_int_equal(ev.type, K8S_ADDED);
	assert_string_equal(ev.resource_version, "50");
	assert_string_equal(svc_event(pending, K8S_RES_POD_NAMES, &ev, 0), "shop/far-1 :");
	assert_string_equal(svc_event(deleting, K8S_RES_POD_NAMES, &ev, 0), "shop/far-1 :");
	assert_string_equal(svc_event(host, K8S_RES_POD_NAMES, &ev, 0), "kube-system/proxy :");
	assert_int_equal(k8s_svc_list_parse(list, strlen(list), K8S_RES_POD_NAMES, on_svc_item,
					    seen, rv, cont, &skipped, err, sizeof(err)),
			 0);
	assert_string_equal(seen, "a/p : 10.1.3.1=p@node-3;");
	assert_int_equal(skipped, 1);
	assert_string_equal(rv, "60");
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_names),
	    cmocka_unit_test(test_lines_every_split),
	    cmocka_unit_test(test_lines_bounds),
	    cmocka_unit_test(test_event_pod),
	    cmocka_unit_test(test_pod_activity),
	    cmocka_unit_test(test_event_bookmark_error_bad),
	    cmocka_unit_test(test_pod_name_too_long),
	    cmocka_unit_test(test_list_page_and_status),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_kubeconfig_cert_inline),
	    cmocka_unit_test(test_kubeconfig_paths_and_token),
	    cmocka_unit_test(test_token_file_reread),
	    cmocka_unit_test(test_kubeconfig_errors),
	    cmocka_unit_test(test_in_cluster),
	    cmocka_unit_test(test_services_and_slices),
	    cmocka_unit_test(test_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
