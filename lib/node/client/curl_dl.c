// SPDX-License-Identifier: Apache-2.0
#include "client/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned users;
static void *lib;
static struct curl_dl calls;
static void (*global_cleanup)(void);

static void *sym(const char *name, const char **missing)
{
	void *p = dlsym(lib, name);

	if (!p && !*missing)
		*missing = name;
	return p;
}

static void say(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, b);
}

/* Called with lock held. */
static bool load(char *err, size_t errlen)
{
	const char *missing = NULL;
	CURLcode (*global_init)(long flags);
	CURLcode rc;

	lib = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		say(err, errlen, "libcurl cannot be loaded: %s%s", dlerror(), "");
		return false;
	}
	/* POSIX lets a function pointer hold what dlsym returns (through this cast). */
	*(void **)&global_init = sym("curl_global_init", &missing);
	*(void **)&global_cleanup = sym("curl_global_cleanup", &missing);
	*(void **)&calls.easy_init = sym("curl_easy_init", &missing);
	*(void **)&calls.easy_setopt = sym("curl_easy_setopt", &missing);
	*(void **)&calls.easy_perform = sym("curl_easy_perform", &missing);
	*(void **)&calls.easy_getinfo = sym("curl_easy_getinfo", &missing);
	*(void **)&calls.easy_cleanup = sym("curl_easy_cleanup", &missing);
	*(void **)&calls.easy_strerror = sym("curl_easy_strerror", &missing);
	*(void **)&calls.easy_escape = sym("curl_easy_escape", &missing);
	*(void **)&calls.free = sym("curl_free", &missing);
	*(void **)&calls.slist_append = sym("curl_slist_append", &missing);
	*(void **)&calls.slist_free_all = sym("curl_slist_free_all", &missing);
	*(void **)&calls.multi_init = sym("curl_multi_init", &missing);
	*(void **)&calls.multi_setopt = sym("curl_multi_setopt", &missing);
	*(void **)&calls.multi_add_handle = sym("curl_multi_add_handle", &missing);
	*(void **)&calls.multi_remove_handle = sym("curl_multi_remove_handle", &missing);
	*(void **)&calls.multi_cleanup = sym("curl_multi_cleanup", &missing);
	*(void **)&calls.multi_info_read = sym("curl_multi_info_read", &missing);
	*(void **)&calls.multi_socket_action = sym("curl_multi_socket_action", &missing);
	*(void **)&calls.multi_assign = sym("curl_multi_assign", &missing);
	*(void **)&calls.multi_strerror = sym("curl_multi_strerror", &missing);
	if (missing) {
		say(err, errlen, "libcurl cannot be used: %s has no %s", CURL_DL_SONAME, missing);
		goto fail;
	}
	/* Its TLS library's start-up too: done here, once per load, never by a caller. */
	rc = global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		say(err, errlen, "libcurl does not initialise: %s%s", calls.easy_strerror(rc), "");
		goto fail;
	}
	return true;
fail:
	dlclose(lib);
	lib = NULL;
	return false;
}

const struct curl_dl *curl_dl_get(char *err, size_t errlen)
{
	const struct curl_dl *r = NULL;

	pthread_mutex_lock(&lock);
	if (users || load(err, errlen)) {
		users++;
		r = &calls;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void curl_dl_put(const struct curl_dl *cu)
{
	if (!cu)
		return;
	pthread_mutex_lock(&lock);
	if (users && --users == 0) {
		global_cleanup();
		dlclose(lib);
		lib = NULL;
	}
	pthread_mutex_unlock(&lock);
}

bool curl_dl_loaded(void)
{
	bool r;

	pthread_mutex_lock(&lock);
	r = lib != NULL;
	pthread_mutex_unlock(&lock);
	return r;
}
