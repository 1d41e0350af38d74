/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl_dl: libcurl loaded only while floe makes an HTTP request with it.
 *
 * Linked in, libcurl and what it pulls (its TLS, gnutls and nettle through librtmp, krb5,
 * ldap, ssh2, idn2, psl, brotli...) cost every floe process ~3.9 MiB of resident memory from
 * its start, for the webhooks (triggers, scripts), the Kubernetes pod source and the hub
 * client's PCAP export only. It is opened (dlopen of the soname, libcurl.so.4) and globally
 * initialised on the first curl_dl_get(), cleaned up and closed when the last user puts it
 * back (docs/bench.md, "Memory: libcurl opened only when used").
 *
 *   char err[256];
 *   const struct curl_dl *cu = curl_dl_get(err, sizeof(err));
 *   if (!cu) ...               // err: why libcurl cannot be loaded
 *   CURL *h = cu->easy_init();
 *   curl_dl_set_str(cu, h, CURLOPT_URL, url); ... cu->easy_cleanup(h);
 *   curl_dl_put(cu);
 *
 * Everything libcurl made (handles, slists, escaped strings) must be freed before the put that
 * may unload it. Thread-safe; gets nest (a caller may hold it across a batch of requests so
 * that each does not load it again). curl_global_init and curl_global_cleanup are this
 * module's, under its lock: no caller calls them.
 *
 * curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are variadic; the curl_dl_set_*
 * and curl_dl_info_long wrappers below pass each option the type libcurl reads for it, and
 * refuse (CURLE_BAD_FUNCTION_ARGUMENT, CURLM_UNKNOWN_OPTION) an option of another type, as
 * curl's own compile-time checks would have for a direct call.
 */
#ifndef FLOE_CLIENT_CURL_DL_H
#define FLOE_CLIENT_CURL_DL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/* The ABI of the headers' libcurl (soname 4 since libcurl 7.16). */
#define CURL_DL_SONAME "libcurl.so.4"

struct curl_dl {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode rc);
	char *(*easy_escape)(CURL *h, const char *s, int len);
	void (*free)(void *p);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption opt, ...);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t fd, int ev_bitmask, int *running);
	CURLMcode (*multi_assign)(CURLM *m, curl_socket_t fd, void *sockp);
	const char *(*multi_strerror)(CURLMcode rc);
};

/* libcurl's calls, the library loaded and globally initialised (one more user); NULL when it
 * cannot be loaded or initialised, with why in err ("libcurl.so.4: cannot open shared object
 * file: ..."; err may be NULL). */
const struct curl_dl *curl_dl_get(char *err, size_t errlen);
/* One user fewer (cu may be NULL); the last cleans libcurl up and unloads it. */
void curl_dl_put(const struct curl_dl *cu);
/* Whether the library is loaded now (for tests). */
bool curl_dl_loaded(void);

/* Whether opt is one libcurl reads as type (a CURLOPTTYPE_*: its option number's range). */
static inline bool curl_dl_opt_is(CURLoption opt, int type)
{
	return (int)opt >= type && (int)opt < type + 10000;
}

static inline CURLcode curl_dl_set_long(const struct curl_dl *cu, CURL *h, CURLoption opt, long v)
{
	return curl_dl_opt_is(opt, CURLOPTTYPE_LONG) ? cu->easy_setopt(h, opt, v)
						     : CURLE_BAD_FUNCTION_ARGUMENT;
}

static inline CURLcode curl_dl_set_off(const struct curl_dl *cu, CURL *h, CURLoption opt,
				       curl_off_t v)
{
	return curl_dl_opt_is(opt, CURLOPTTYPE_OFF_T) ? cu->easy_setopt(h, opt, v)
						      : CURLE_BAD_FUNCTION_ARGUMENT;
}

/* A string, an slist, or the callbacks' data pointer (curl copies strings, not the rest). */
static inline CURLcode curl_dl_set_ptr(const struct curl_dl *cu, CURL *h, CURLoption opt,
				       const void *v)
{
	return curl_dl_opt_is(opt, CURLOPTTYPE_OBJECTPOINT) ? cu->easy_setopt(h, opt, v)
							    : CURLE_BAD_FUNCTION_ARGUMENT;
}

static inline CURLcode curl_dl_set_blob(const struct curl_dl *cu, CURL *h, CURLoption opt,
					const struct curl_blob *v)
{
	return curl_dl_opt_is(opt, CURLOPTTYPE_BLOB) ? cu->easy_setopt(h, opt, v)
						     : CURLE_BAD_FUNCTION_ARGUMENT;
}

/* CURLOPT_WRITEFUNCTION (the only callback option floe sets on an easy handle). */
static inline CURLcode curl_dl_set_write(const struct curl_dl *cu, CURL *h, curl_write_callback fn)
{
	return cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, fn);
}

static inline CURLcode curl_dl_info_long(const struct curl_dl *cu, CURL *h, CURLINFO info, long *v)
{
	return (info & CURLINFO_TYPEMASK) == CURLINFO_LONG ? cu->easy_getinfo(h, info, v)
							   : CURLE_BAD_FUNCTION_ARGUMENT;
}

static inline CURLMcode curl_dl_multi_set_ptr(const struct curl_dl *cu, CURLM *m, CURLMoption opt,
					      void *v)
{
	return curl_dl_opt_is((CURLoption)opt, CURLOPTTYPE_OBJECTPOINT)
		   ? cu->multi_setopt(m, opt, v)
		   : CURLM_UNKNOWN_OPTION;
}

static inline CURLMcode curl_dl_multi_set_socket_fn(const struct curl_dl *cu, CURLM *m,
						    curl_socket_callback fn)
{
	return cu->multi_setopt(m, CURLMOPT_SOCKETFUNCTION, fn);
}

static inline CURLMcode curl_dl_multi_set_timer_fn(const struct curl_dl *cu, CURLM *m,
						   curl_multi_timer_callback fn)
{
	return cu->multi_setopt(m, CURLMOPT_TIMERFUNCTION, fn);
}

#endif /* FLOE_CLIENT_CURL_DL_H */
