// SPDX-License-Identifier: Apache-2.0
#include "capture/capture.h"
#include "capture/capture_scope.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.skel.h"

struct capture {
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct tc_hooks *hooks;
	capture_record_fn fn;
	void *ctx;
	struct capture_stats stats;
	uint64_t ringbuf_bytes;
	/* The ring's consumer and producer position pages, read-only: how full the ring is
	 * (libbpf 1.1 has no call for it); MAP_FAILED if they could not be mapped. */
	const uint8_t *ring_pos;
	size_t page;
	/* capture_sync_hooks: an array of maps and the map it holds, made at its first call */
	bool sync_maps;
	int sync_outer, sync_inner;
};

static uint64_t round_ringbuf(uint64_t want)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), sz = page;

	while (sz < want && sz < (1ull << 31))
		sz <<= 1;
	return sz;
}

/* The record is in the ring's memory, written by the kernel: check every length first. */
static int dispatch_packet(const void *data, size_t size, capture_record_fn fn, void *ctx,
			   struct capture_stats *st)
{
	const struct floe_pkt_record *rec = data;

	if (size < sizeof(*rec) || rec->cap_len > size - sizeof(*rec) ||
	    rec->cap_len > rec->pkt_len) {
		st->bad_size++;
		return 0;
	}
	st->records++;
	return fn(ctx, rec, (const uint8_t *)(rec + 1));
}

int capture_record_dispatch(const void *data, size_t size, capture_record_fn fn, void *ctx,
			    struct capture_stats *st)
{
	const struct floe_record_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->size != size) {
		st->bad_size++;
		return 0;
	}
	switch (hdr->type) {
	case FLOE_RECORD_PACKET:
		return dispatch_packet(data, size, fn, ctx, st);
	/* The TLS record types (floe_record.h) get their case here, each with its own check. */
	default:
		st->bad_type++;
		return 0;
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;

	return capture_record_dispatch(data, size, c->fn, c->ctx, &c->stats);
}

void capture_get_stats(const struct capture *c, struct capture_stats *out)
{
	*out = c->stats;
}

/* libbpf logs go to stderr only when debugging; library code does not print otherwise. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("FLOE_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int capture_open(const struct capture_config *cfg, capture_record_fn fn, void *ctx,
		 struct capture **out, struct tc_hooks_cleanup_stats *cleaned, char *err,
		 size_t errlen)
{
	struct capture *c;
	int ret;

	if (cfg->snaplen == 0 || cfg->snaplen > FLOE_MAX_SNAPLEN) {
		snprintf(err, errlen, "snap length must be 1..%u", FLOE_MAX_SNAPLEN);
		return -EINVAL;
	}
	libbpf_set_print(quiet_print);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	/* The counters are per CPU: fail here rather than at every read. */
	if (libbpf_num_possible_cpus() <= 0) {
		snprintf(err, errlen, "cannot count possible CPUs");
		free(c);
		return -EINVAL;
	}

	ret = tc_hooks_open(cfg->state_dir, &c->hooks, cleaned, err, errlen);
	if (ret < 0) {
		free(c);
		return ret;
	}

	c->skel = capture_bpf__open();
	if (!c->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open BPF object: %s", strerror(-ret));
		goto fail;
	}
	c->ringbuf_bytes = round_ringbuf(cfg->ringbuf_bytes);
	c->skel->rodata->snap_len = cfg->snaplen;
	/* Wake the consumer early once a quarter of the ring is waiting. */
	c->skel->rodata->wakeup_bytes = c->ringbuf_bytes / 4;
	bpf_map__set_max_entries(c->skel->maps.events, (__u32)c->ringbuf_bytes);

	ret = capture_bpf__load(c->skel);
	if (ret < 0) {
		snprintf(err, errlen,
			 "cannot load BPF programs: %s (set FLOE_BPF_DEBUG=1 for the verifier log)",
			 strerror(-ret));
		goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_record, c, NULL);
	if (!c->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot map ring buffer: %s", strerror(-ret));
		goto fail;
	}
	c->page = (size_t)sysconf(_SC_PAGESIZE);
	c->ring_pos = mmap(NULL, 2 * c->page, PROT_READ, MAP_SHARED,
			   bpf_map__fd(c->skel->maps.events), 0);
	*out = c;
	return 0;
fail:
	capture_close(c);
	return ret;
}

static void to_key(int family, const uint8_t *addr, struct floe_addr *key)
{
	memset(key, 0, sizeof(*key));
	if (family == AF_INET) {
		key->bytes[10] = 0xff;
		key->bytes[11] = 0xff;
		memcpy(&key->bytes[12], addr, 4);
	} else {
		memcpy(key->bytes, addr, 16);
	}
}

int capture_targets_map_add(struct bpf_map *targets, int family, const uint8_t *addr,
			    uint32_t target_id, uint32_t flags)
{
	struct floe_target val = {.target_id = target_id, .flags = flags};
	struct floe_addr key;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	to_key(family, addr, &key);
	return bpf_map__update_elem(targets, &key, sizeof(key), &val, sizeof(val), BPF_ANY);
}

int capture_target_add(struct capture *c, int family, const uint8_t *addr, uint32_t target_id,
		       uint32_t flags)
{
	return capture_targets_map_add(c->skel->maps.targets, family, addr, target_id, flags);
}

int capture_target_del(struct capture *c, int family, const uint8_t *addr)
{
	struct floe_addr key;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	to_key(family, addr, &key);
	return bpf_map__delete_elem(c->skel->maps.targets, &key, sizeof(key), 0);
}

void capture_scope_maps_of(struct capture *c, struct capture_scope_maps *out)
{
	out->values = c->skel->maps.scope_values;
	out->config = c->skel->maps.scope_config;
}

int capture_attach(struct capture *c, int ifindex, char *err, size_t errlen)
{
	return tc_hooks_attach(c->hooks, ifindex, bpf_program__fd(c->skel->progs.floe_tc_ingress),
			       bpf_program__fd(c->skel->progs.floe_tc_egress), err, errlen);
}

void capture_detach(struct capture *c, int ifindex)
{
	tc_hooks_detach(c->hooks, ifindex);
}

int capture_ring_fd(struct capture *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int capture_drain(struct capture *c)
{
	if (!c->fn)
		return 0;
	return ring_buffer__consume(c->rb);
}

void capture_set_record_fn(struct capture *c, capture_record_fn fn, void *ctx)
{
	c->fn = fn;
	c->ctx = ctx;
}

int capture_percpu_sum(const struct bpf_map *counters, uint64_t *out, uint32_t n)
{
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus <= 0)
		return -EINVAL;
	uint64_t *vals = calloc((size_t)ncpus, sizeof(*vals));

	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(counters, &i, sizeof(i), vals,
					 sizeof(*vals) * (size_t)ncpus, 0) < 0)
			continue;
		for (int cpu = 0; cpu < ncpus; cpu++)
			out[i] += vals[cpu];
	}
	free(vals);
	return 0;
}

int capture_counters_map_read(const struct bpf_map *counters, uint64_t out[FLOE_CNT_MAX])
{
	return capture_percpu_sum(counters, out, FLOE_CNT_MAX);
}

int capture_counters(struct capture *c, uint64_t out[FLOE_CNT_MAX])
{
	return capture_counters_map_read(c->skel->maps.counters, out);
}

uint64_t capture_ring_pending(const struct capture *c)
{
	uint64_t cons, prod;

	if (!c->ring_pos || c->ring_pos == MAP_FAILED)
		return UINT64_MAX;
	/* The kernel's producer position is published with release semantics. */
	cons = __atomic_load_n((const uint64_t *)c->ring_pos, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n((const uint64_t *)(c->ring_pos + c->page), __ATOMIC_ACQUIRE);
	return prod - cons;
}

uint64_t capture_ringbuf_bytes(const struct capture *c)
{
	return c->ringbuf_bytes;
}

int capture_sync_hooks(struct capture *c)
{
	uint32_t key = 0;

	/*
	 * Updating an array of maps makes the kernel wait for an RCU grace period before the
	 * call returns (kernel/bpf/syscall.c, maybe_wait_bpf_programs: so that no program still
	 * uses the old inner map). A grace period also waits for every section that runs with
	 * bottom halves disabled, and a forwarded packet goes from one veth's TC ingress to the
	 * other veth's TC egress within one such section (the receive softirq): so once the
	 * update returns, every packet that was on its way before it has passed both hooks.
	 * (membarrier(MEMBARRIER_CMD_GLOBAL) waits the same way but promises only a memory
	 * barrier, and is refused on nohz_full kernels.)
	 */
	if (!c->sync_maps) {
		LIBBPF_OPTS(bpf_map_create_opts, opts);
		int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "floe_sync_in", 4, 4, 1, NULL);

		if (inner < 0)
			return -errno;
		opts.inner_map_fd = inner;
		c->sync_outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "floe_sync", 4, 4, 1,
					       &opts);
		if (c->sync_outer < 0) {
			int ret = -errno;

			close(inner);
			return ret;
		}
		c->sync_inner = inner;
		c->sync_maps = true;
	}
	if (bpf_map_update_elem(c->sync_outer, &key, &c->sync_inner, BPF_ANY) < 0)
		return -errno;
	return 0;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	/* Hooks first, so no packet is lost between detaching and freeing. */
	tc_hooks_close(c->hooks);
	if (c->sync_maps) {
		close(c->sync_outer);
		close(c->sync_inner);
	}
	if (c->ring_pos && c->ring_pos != MAP_FAILED)
		munmap((void *)c->ring_pos, 2 * c->page);
	ring_buffer__free(c->rb);
	capture_bpf__destroy(c->skel);
	free(c);
}
