// SPDX-License-Identifier: Apache-2.0
/* One webhook POST and the retry schedule (webhook.h). */
#include "trigger/webhook.h"

#include <pthread.h>
#include <stdio.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* libcurl's global init, at the first POST rather than at start: it initialises OpenSSL,
 * whose code and tables were ~1.7 MB of every tap's resident memory, webhooks or not
 * (docs/bench.md, "Memory: what is resident"). */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

bool webhook_post(const char *url, const char *body, size_t len, const struct curl_slist *headers,
		  long long timeout_ns, char *why, size_t wlen)
{
	CURL *c;
	long status = 0;
	CURLcode rc;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(why, wlen, "libcurl: %s", curl_easy_strerror(curl_init_rc));
		return false;
	}
	c = curl_easy_init();
	if (!c) {
		snprintf(why, wlen, "out of memory");
		return false;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "floe-webhook");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		snprintf(why, wlen, "%s", curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(why, wlen, "HTTP status %ld", status);
	return rc == CURLE_OK && status >= 200 && status <= 299;
}

long long webhook_backoff(long long backoff_ns, int attempt)
{
	long long wait = backoff_ns << (attempt < 20 ? attempt : 20);

	return wait > WEBHOOK_BACKOFF_MAX || wait < 0 ? WEBHOOK_BACKOFF_MAX : wait;
}
