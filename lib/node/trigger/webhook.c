// SPDX-License-Identifier: Apache-2.0
/* One webhook POST and the retry schedule (webhook.h). */
#include "trigger/webhook.h"

#include <stdio.h>

#include "client/curl_dl.h"

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

bool webhook_post(const char *url, const char *body, size_t len, const char *const *headers,
		  size_t n_headers, long long timeout_ns, char *why, size_t wlen)
{
	/* A no-op load when the caller holds libcurl (a burst, retries queued). */
	const struct curl_dl *cu = curl_dl_get(why, wlen);
	struct curl_slist *list = NULL;
	CURL *c = NULL;
	long status = 0;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	if (!cu)
		return false;
	for (size_t i = 0; i < n_headers; i++) {
		struct curl_slist *n = cu->slist_append(list, headers[i]);

		if (!n)
			goto out;
		list = n;
	}
	c = cu->easy_init();
	if (!c)
		goto out;
	curl_dl_set_ptr(cu, c, CURLOPT_URL, url);
	curl_dl_set_ptr(cu, c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_dl_set_ptr(cu, c, CURLOPT_POSTFIELDS, body);
	curl_dl_set_off(cu, c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_dl_set_ptr(cu, c, CURLOPT_HTTPHEADER, list);
	curl_dl_set_long(cu, c, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000));
	curl_dl_set_long(cu, c, CURLOPT_NOSIGNAL, 1L);
	curl_dl_set_write(cu, c, discard);
	curl_dl_set_ptr(cu, c, CURLOPT_USERAGENT, "floe-webhook");
	rc = cu->easy_perform(c);
	if (rc == CURLE_OK)
		curl_dl_info_long(cu, c, CURLINFO_RESPONSE_CODE, &status);
out:
	if (rc == CURLE_OUT_OF_MEMORY && !c)
		snprintf(why, wlen, "out of memory");
	else if (rc != CURLE_OK)
		snprintf(why, wlen, "%s", cu->easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(why, wlen, "HTTP status %ld", status);
	if (c)
		cu->easy_cleanup(c);
	cu->slist_free_all(list);
	curl_dl_put(cu);
	return rc == CURLE_OK && status >= 200 && status <= 299;
}

long long webhook_backoff(long long backoff_ns, int attempt)
{
	long long wait = backoff_ns << (attempt < 20 ? attempt : 20);

	return wait > WEBHOOK_BACKOFF_MAX || wait < 0 ? WEBHOOK_BACKOFF_MAX : wait;
}
