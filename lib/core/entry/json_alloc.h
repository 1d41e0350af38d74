/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_alloc: a cache of small freed blocks in front of malloc for jansson's trees.
 *
 * Every entry's protocol fields are a jansson tree of a hundred-odd small blocks (objects, hash
 * table pairs, strings) made and freed per message. Freed in bursts, they overflow glibc's
 * per-thread cache (7 blocks per size) into its slower bins, and each body-sized malloc then
 * consolidates those: malloc and free were a third of `floe read` on small messages. The cache
 * keeps freed blocks of up to JSON_ALLOC_SMALL bytes on one free list per malloc size class and
 * hands them out again.
 *
 * The blocks are malloc's own (sized with malloc_usable_size()), so memory from jansson may still
 * be released with free() (json_dumps() results are) and memory malloc'd before install may
 * reach json_alloc's free. Bounded: the cache holds at most what was live at once. The cache
 * is per thread (no lock: `floe tap` builds and frees its entries' trees on the dissection
 * thread, and the main thread's few trees use their own lists).
 *
 * jansson's allocator is process-wide: install before the first jansson call. A thread that
 * ends calls json_alloc_release(), else its cached blocks are lost.
 *
 * Entries themselves and the dissectors' per-exchange records are made and freed as often (one
 * each per request): they take their blocks from the same cache (json_alloc_zalloc()), where
 * calloc() would not even use glibc's per-thread cache and free() of a block that size goes to
 * its bins. Per-connection state stays with malloc: the tap trims malloc every second, and a
 * burst of connections would stay cached here.
 */
#ifndef FLOE_ENTRY_JSON_ALLOC_H
#define FLOE_ENTRY_JSON_ALLOC_H

#include <stddef.h>

/* Blocks of up to this many usable bytes are cached. */
#define JSON_ALLOC_SMALL 504

/* Route jansson's allocations through the cache (no-op where malloc_usable_size() is missing). */
void json_alloc_install(void);

/* Give the calling thread's cached blocks back to malloc (at its end). */
void json_alloc_release(void);

/* The cache's two functions (tests use them directly). json_alloc_free() takes any block from
 * malloc too. */
void *json_alloc_malloc(size_t n);
void json_alloc_free(void *p);

/* A zeroed block of n bytes from the cache; NULL on ENOMEM. Free it with json_alloc_free(). */
void *json_alloc_zalloc(size_t n);

#endif /* FLOE_ENTRY_JSON_ALLOC_H */
