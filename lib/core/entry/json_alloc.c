// SPDX-License-Identifier: Apache-2.0
#include "entry/json_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void *json_alloc_zalloc(size_t n)
{
	void *p = json_alloc_malloc(n);

	if (p)
		memset(p, 0, n);
	return p;
}

#if defined(__GLIBC__)
#include <malloc.h>

/* glibc's chunks on 64-bit: sizes in steps of 16 from 32, usable size = chunk size - 8. */
#define CHUNK_STEP  16
#define CHUNK_MIN   32
#define CHUNK_OVER  8
#define NCLASSES    ((JSON_ALLOC_SMALL + CHUNK_OVER) / CHUNK_STEP - 1)

struct free_block {
	struct free_block *next;
};

/*
 * One free list per chunk size; the blocks are free (to jansson) but still malloc'd. One set
 * per thread, so that no lock is taken: a block freed by another thread than the one that
 * allocated it joins the freeing thread's lists, which is fine for malloc's blocks.
 */
static _Thread_local struct free_block *free_lists[NCLASSES];

void *json_alloc_malloc(size_t n)
{
	size_t chunk, c;
	struct free_block *b;

	if (n > JSON_ALLOC_SMALL)
		return malloc(n);
	chunk = (n + CHUNK_OVER + CHUNK_STEP - 1) & ~(size_t)(CHUNK_STEP - 1);
	if (chunk < CHUNK_MIN)
		chunk = CHUNK_MIN;
	c = chunk / CHUNK_STEP - 2;
	b = free_lists[c];
	if (!b)
		return malloc(n);
	free_lists[c] = b->next;
	return b;
}

void json_alloc_free(void *p)
{
	size_t usable, c;
	struct free_block *b = p;

	if (!p)
		return;
	usable = malloc_usable_size(p);
	/* A block of a size class's exact usable size goes on its list; others back to malloc. */
	if (usable > JSON_ALLOC_SMALL || (usable + CHUNK_OVER) % CHUNK_STEP ||
	    usable + CHUNK_OVER < CHUNK_MIN) {
		free(p);
		return;
	}
	c = (usable + CHUNK_OVER) / CHUNK_STEP - 2;
	b->next = free_lists[c];
	free_lists[c] = b;
}

void json_alloc_install(void)
{
	json_set_alloc_funcs(json_alloc_malloc, json_alloc_free);
}

void json_alloc_release(void)
{
	for (size_t c = 0; c < NCLASSES; c++) {
		while (free_lists[c]) {
			struct free_block *b = free_lists[c];

			free_lists[c] = b->next;
			free(b);
		}
	}
}

#else

void *json_alloc_malloc(size_t n)
{
	return malloc(n);
}

void json_alloc_free(void *p)
{
	free(p);
}

void json_alloc_install(void)
{
}

void json_alloc_release(void)
{
}

#endif
