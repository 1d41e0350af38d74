// SPDX-License-Identifier: Apache-2.0
#include "source/capstone_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define CS_STR2(x) #x
#define CS_STR(x)  CS_STR2(x)
/* The soname of the headers' major version (the ABI these calls are declared with). */
#define CAPSTONE_SONAME "libcapstone.so." CS_STR(CS_API_MAJOR)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned users;
static void *lib;
static struct capstone_dl calls;
static bool warned;

static void *sym(const char *name, bool *ok)
{
	void *p = dlsym(lib, name);

	if (!p)
		*ok = false;
	return p;
}

/* Called with lock held. */
static bool load(void)
{
	bool ok = true;

	lib = dlopen(CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		if (!warned)
			fprintf(stderr, "floe: capstone: %s\n", dlerror());
		warned = true;
		return false;
	}
	/* POSIX lets a function pointer hold what dlsym returns (through this cast). */
	*(void **)&calls.open = sym("cs_open", &ok);
	*(void **)&calls.close = sym("cs_close", &ok);
	*(void **)&calls.option = sym("cs_option", &ok);
	*(void **)&calls.disasm = sym("cs_disasm", &ok);
	*(void **)&calls.free = sym("cs_free", &ok);
	*(void **)&calls.malloc = sym("cs_malloc", &ok);
	*(void **)&calls.disasm_iter = sym("cs_disasm_iter", &ok);
	*(void **)&calls.regs_access = sym("cs_regs_access", &ok);
	if (!ok) {
		if (!warned)
			fprintf(stderr, "floe: capstone: %s lacks a call floe uses\n",
				CAPSTONE_SONAME);
		warned = true;
		dlclose(lib);
		lib = NULL;
	}
	return ok;
}

const struct capstone_dl *capstone_get(void)
{
	const struct capstone_dl *r = NULL;

	pthread_mutex_lock(&lock);
	if (users || load()) {
		users++;
		r = &calls;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void capstone_put(const struct capstone_dl *cs)
{
	if (!cs)
		return;
	pthread_mutex_lock(&lock);
	if (users && --users == 0) {
		dlclose(lib);
		lib = NULL;
	}
	pthread_mutex_unlock(&lock);
}

bool capstone_loaded(void)
{
	bool r;

	pthread_mutex_lock(&lock);
	r = lib != NULL;
	pthread_mutex_unlock(&lock);
	return r;
}
