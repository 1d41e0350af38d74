// SPDX-License-Identifier: Apache-2.0
/*
 * curl_dl: libcurl is mapped only while floe uses it (client/curl_dl.h). The process's own
 * /proc/self/maps is the oracle, not the module's counter: not mapped at start, mapped while a
 * webhook POST runs (seen by the receiving end, in this process) and while a Kubernetes pod
 * source exists, unmapped after; gets nest; the typed setopt wrappers refuse an option of
 * another type.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/curl_dl.h"
#include "pods/pod_source.h"
#include "trigger/webhook.h"

/* Whether the process maps libcurl now (the kernel's view). */
static bool curl_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libcurl") != NULL;
	fclose(f);
	return found;
}

/* Runs first: nothing in a floe process maps libcurl before it is asked for. */
static void test_not_mapped_at_start(void **state)
{
	assert_false(curl_mapped());
	assert_false(curl_dl_loaded());
}

static void test_get_put_nest(void **state)
{
	char err[256] = "";
	const struct curl_dl *a = curl_dl_get(err, sizeof(err)), *b;

	assert_non_null(a);
	assert_true(curl_mapped());
	b = curl_dl_get(err, sizeof(err));
	assert_ptr_equal(a, b);
	curl_dl_put(b);
	assert_true(curl_dl_loaded());
	assert_true(curl_mapped());
	curl_dl_put(a);
	assert_false(curl_dl_loaded());
	assert_false(curl_mapped());
	curl_dl_put(NULL);

	/* loaded again after an unload: libcurl's global state is set up anew */
	a = curl_dl_get(err, sizeof(err));
	assert_non_null(a);
	CURL *h = a->easy_init();
	char *esc = a->easy_escape(h, "a b&c", 0);

	assert_string_equal(esc, "a%20b%26c");
	a->free(esc);
	a->easy_cleanup(h);
	curl_dl_put(a);
	assert_false(curl_mapped());
}

static void test_wrappers_refuse_other_types(void **state)
{
	const struct curl_dl *cu = curl_dl_get(NULL, 0);
	CURL *h;
	CURLM *m;
	long v = 0;

	assert_non_null(cu);
	h = cu->easy_init();
	assert_non_null(h);
	assert_int_equal(curl_dl_set_long(cu, h, CURLOPT_URL, 1L), CURLE_BAD_FUNCTION_ARGUMENT);
	assert_int_equal(curl_dl_set_ptr(cu, h, CURLOPT_NOSIGNAL, "x"),
			 CURLE_BAD_FUNCTION_ARGUMENT);
	assert_int_equal(curl_dl_set_off(cu, h, CURLOPT_TIMEOUT, 1), CURLE_BAD_FUNCTION_ARGUMENT);
	assert_int_equal(curl_dl_set_blob(cu, h, CURLOPT_CAINFO, NULL),
			 CURLE_BAD_FUNCTION_ARGUMENT);
	assert_int_equal(curl_dl_info_long(cu, h, CURLINFO_EFFECTIVE_URL, &v),
			 CURLE_BAD_FUNCTION_ARGUMENT);
	assert_int_equal(curl_dl_set_long(cu, h, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
	assert_int_equal(curl_dl_set_ptr(cu, h, CURLOPT_URL, "http://127.0.0.1/"), CURLE_OK);
	assert_int_equal(curl_dl_set_off(cu, h, CURLOPT_POSTFIELDSIZE_LARGE, 3), CURLE_OK);
	assert_int_equal(curl_dl_info_long(cu, h, CURLINFO_RESPONSE_CODE, &v), CURLE_OK);
	m = cu->multi_init();
	assert_non_null(m);
	assert_int_equal(curl_dl_multi_set_ptr(cu, m, CURLMOPT_MAXCONNECTS, NULL),
			 CURLM_UNKNOWN_OPTION);
	assert_int_equal(curl_dl_multi_set_ptr(cu, m, CURLMOPT_SOCKETDATA, NULL), CURLM_OK);
	cu->multi_cleanup(m);
	cu->easy_cleanup(h);
	curl_dl_put(cu);
}

/* ------------------------------------------------------------ a webhook's receiver */

struct receiver {
	int fd;
	bool mapped_during; /* libcurl mapped when the request arrived */
	char request[4096];
};

static void *receive_one(void *arg)
{
	static const char ok[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	struct receiver *r = arg;
	size_t len = 0;
	int c = accept(r->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	/* the head and the 5-byte body: read until both are in */
	while (len < sizeof(r->request) - 1) {
		ssize_t n = read(c, r->request + len, sizeof(r->request) - 1 - len);
		char *end;

		if (n <= 0)
			break;
		len += (size_t)n;
		r->request[len] = '\0';
		end = strstr(r->request, "\r\n\r\n");
		if (end && strlen(end + 4) >= 5)
			break;
	}
	r->mapped_during = curl_mapped();
	if (write(c, ok, sizeof(ok) - 1) < 0)
		r->mapped_during = false;
	close(c);
	return NULL;
}

static void test_webhook_loads_for_the_post(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct receiver r = {0};
	const char *headers[] = {"Content-Type: text/plain", "X-Test: curl_dl"};
	char url[64], why[256] = "";
	pthread_t t;

	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r.fd >= 0);
	assert_int_equal(bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r.fd, 1), 0);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", ntohs(sa.sin_port));
	assert_int_equal(pthread_create(&t, NULL, receive_one, &r), 0);

	assert_false(curl_mapped());
	assert_true(webhook_post(url, "hello", 5, headers, 2, 5000000000LL, why, sizeof(why)));
	pthread_join(t, NULL);
	close(r.fd);
	assert_true(r.mapped_during);
	assert_false(curl_mapped());
	/* what the receiver got is what was asked for */
	assert_non_null(strstr(r.request, "POST /hook HTTP/1.1\r\n"));
	assert_non_null(strstr(r.request, "\r\nX-Test: curl_dl\r\n"));
	assert_non_null(strstr(r.request, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(r.request, "\r\n\r\nhello"));
}

/* A failure says why, and leaves nothing loaded. */
static void test_webhook_failure(void **state)
{
	char why[256] = "";

	/* port 1 on loopback: nothing listens (connection refused) */
	assert_false(
	    webhook_post("http://127.0.0.1:1/", "x", 1, NULL, 0, 2000000000LL, why, sizeof(why)));
	assert_true(why[0] != '\0');
	assert_false(curl_mapped());
}

/* ------------------------------------------------------------ the Kubernetes pod source */

static void test_k8s_source_holds_curl(void **state)
{
	char dir[] = "/tmp/floe-curl-dl-XXXXXX", path[64], err[512] = "";
	struct pod_source_k8s_config cfg = {.kubeconfig = path};
	struct pod_source src = {0};
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
	      "clusters:\n- {name: k, cluster: {server: 'https://127.0.0.1:1'}}\n"
	      "contexts:\n- {name: c, context: {cluster: k, user: u}}\n"
	      "users:\n- {name: u, user: {token: t}}\n",
	      f);
	fclose(f);
	assert_false(curl_mapped());
	cfg.services = true; /* children sources: each holds a reference */
	if (pod_source_k8s_new(&cfg, &src, err, sizeof(err)) < 0)
		fail_msg("pod_source_k8s_new: %s", err);
	assert_true(curl_mapped());
	pod_source_free(&src);
	assert_false(curl_mapped());
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_mapped_at_start),
	    cmocka_unit_test(test_get_put_nest),
	    cmocka_unit_test(test_wrappers_refuse_other_types),
	    cmocka_unit_test(test_webhook_loads_for_the_post),
	    cmocka_unit_test(test_webhook_failure),
	    cmocka_unit_test(test_k8s_source_holds_curl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
