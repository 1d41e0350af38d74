// SPDX-License-Identifier: Apache-2.0
/*
 * BPF program tests: bpf/capture.bpf.c, the real object (build/capture.skel.h), run by the
 * kernel on crafted frames with BPF_PROG_TEST_RUN. Each test loads its own skeleton, fills the
 * `targets` map the way the tap does (capture_targets_map_add), runs the TC programs, drains
 * the ring buffer through the same check userspace uses (capture_record_dispatch) and then
 * compares every record (header, every field, the copied bytes) and every counter with what
 * the frame calls for. Needs root (loading programs, test runs); no network namespace.
 *
 * Under a test run the skb's device is the loopback unless ctx_in names another interface,
 * and the frame is at most a page less the skb's head- and tailroom (bpf_test_init), so the
 * size classes above 4096 bytes cannot be reached here (GSO super-packets reach them on veths).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "capture/capture_scope.h"
#include "kfl/kfl.h"
#include "tap/pod_capture.h"
#include "capture.skel.h"

#define SNAP_WHOLE  65535u
#define RING_BYTES  (1u << 20)
#define MAX_RECORDS 64
#define MAX_FRAME   4096

/* The kernel's record size classes (bpf/capture.bpf.c, docs/capture.md). */
static const uint32_t size_classes[] = {128,  256,  512,   1024,  1536,
					4096, 9216, 16384, 32768, FLOE_MAX_SNAPLEN};

/* Addresses of the test's pods. */
#define POD_A_V4 "10.213.0.2"   /* target 1, local */
#define POD_B_V4 "10.213.0.3"   /* target 2, local */
#define FAR_V4	 "10.213.5.5"   /* target 3, not on this host */
#define OTHER_V4 "10.213.9.9"   /* no target */
#define POD_A_V6 "fd00:f10e::2" /* target 1, local */
#define OTHER_V6 "fd00:f10e::99"

enum { ID_A = 1, ID_B = 2, ID_FAR = 3 };

struct ring_copy {
	size_t size; /* as the ring gave it */
	uint64_t words[(sizeof(struct floe_pkt_record) + FLOE_MAX_SNAPLEN) / 8 + 1];
};

struct fixture {
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct capture_stats stats;
	struct ring_copy *copies; /* the last MAX_RECORDS records the ring gave, unchecked */
	size_t n_copies;          /* records the ring gave */
	size_t n_dispatched; /* records capture_record_dispatch passed on */
	uint64_t cnt[FLOE_CNT_MAX];
	uint64_t out_of_scope; /* what expect_counters wants of FLOE_CNT_OUT_OF_SCOPE */
};

/* ---- frames ---- */

struct frame {
	uint8_t b[MAX_FRAME];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa};

	memcpy(f->b, macs, sizeof(macs));
	put16(f->b + 12, type);
	f->len = 14;
}

/* A VLAN tag after what is there: the previous ethertype becomes tpid, type the inner one. */
static void vlan(struct frame *f, uint16_t tci, uint16_t type)
{
	put16(f->b + f->len, tci);
	put16(f->b + f->len + 2, type);
	f->len += 4;
}

static void ipv4(struct frame *f, const char *src, const char *dst, uint16_t total_len)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, total_len);
	p[8] = 64;
	p[9] = 6; /* TCP */
	assert_int_equal(inet_pton(AF_INET, src, p + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, p + 16), 1);
	f->len += 20;
}

static void ipv6(struct frame *f, const char *src, const char *dst, uint16_t payload_len)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, payload_len);
	p[6] = 6;
	p[7] = 64;
	assert_int_equal(inet_pton(AF_INET6, src, p + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, p + 24), 1);
	f->len += 40;
}

/* A TCP header, then a pattern up to len bytes of frame (so a wrong offset shows). */
static void tcp_to(struct frame *f, size_t len)
{
	uint8_t *p = f->b + f->len;

	assert_true(len <= MAX_FRAME && len >= f->len);
	memset(p, 0, 20 < len - f->len ? 20 : len - f->len);
	if (len - f->len >= 20) {
		put16(p, 40000);
		put16(p + 2, 80);
		p[12] = 5 << 4;
		p[13] = 0x18; /* PSH ACK */
	}
	for (size_t i = f->len + 20; i < len; i++)
		f->b[i] = (uint8_t)(i * 7 + 3);
	f->len = len;
}

/* Ethernet, IPv4 src -> dst, TCP, len bytes in all. */
static void v4_frame(struct frame *f, const char *src, const char *dst, size_t len)
{
	eth(f, 0x0800);
	ipv4(f, src, dst, (uint16_t)(len - 14));
	tcp_to(f, len);
}

/* The TCP ports of an IPv4 or IPv6 frame v4_frame/v6_frame made (no VLAN tags). */
static void set_ports(struct frame *f, uint16_t sport, uint16_t dport)
{
	size_t l4 = f->b[12] == 0x86 ? 14 + 40 : 14 + 20;

	put16(f->b + l4, sport);
	put16(f->b + l4 + 2, dport);
}

static void v6_frame(struct frame *f, const char *src, const char *dst, size_t len)
{
	eth(f, 0x86dd);
	ipv6(f, src, dst, (uint16_t)(len - 54));
	tcp_to(f, len);
}

/* ---- fixture ---- */

static int on_ring_record(void *ctx, void *data, size_t size);

static int count_packet(void *ctx, const struct floe_pkt_record *rec, const uint8_t *frame)
{
	struct fixture *fx = ctx;

	/* The frame follows the record, in the ring's own memory. */
	assert_ptr_equal(frame, (const uint8_t *)(rec + 1));
	fx->n_dispatched++;
	return 0;
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct fixture *fx = ctx;
	struct ring_copy *c;

	assert_true(size <= sizeof(c->words));
	c = &fx->copies[fx->n_copies++ % MAX_RECORDS];
	c->size = size;
	memcpy(c->words, data, size);
	return capture_record_dispatch(data, size, count_packet, fx, &fx->stats);
}

static int open_fixture_wake(void **state, uint32_t snaplen, uint32_t ring_bytes,
			     uint64_t wakeup_bytes)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int ret;

	assert_non_null(fx);
	fx->copies = calloc(MAX_RECORDS, sizeof(*fx->copies));
	assert_non_null(fx->copies);
	fx->skel = capture_bpf__open();
	assert_non_null(fx->skel);
	fx->skel->rodata->snap_len = snaplen;
	fx->skel->rodata->wakeup_bytes = wakeup_bytes;
	bpf_map__set_max_entries(fx->skel->maps.events, ring_bytes);
	ret = capture_bpf__load(fx->skel);
	if (ret < 0)
		fail_msg("cannot load build/capture.bpf.o: %s (these tests need root)",
			 strerror(-ret));
	fx->rb = ring_buffer__new(bpf_map__fd(fx->skel->maps.events), on_ring_record, fx, NULL);
	assert_non_null(fx->rb);

	static const struct {
		int family;
		const char *addr;
		uint32_t id, flags;
	} targets[] = {
		{AF_INET, POD_A_V4, ID_A, FLOE_TARGET_LOCAL},
		{AF_INET, POD_B_V4, ID_B, FLOE_TARGET_LOCAL},
		{AF_INET, FAR_V4, ID_FAR, 0},
		{AF_INET6, POD_A_V6, ID_A, FLOE_TARGET_LOCAL},
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		uint8_t a[16];

		assert_int_equal(inet_pton(targets[i].family, targets[i].addr, a), 1);
		assert_int_equal(capture_targets_map_add(fx->skel->maps.targets,
							 targets[i].family, a, targets[i].id,
							 targets[i].flags),
				 0);
	}
	*state = fx;
	return 0;
}

static int open_fixture(void **state, uint32_t snaplen, uint32_t ring_bytes)
{
	return open_fixture_wake(state, snaplen, ring_bytes, 0);
}

static int setup(void **state)
{
	return open_fixture(state, SNAP_WHOLE, RING_BYTES);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	ring_buffer__free(fx->rb);
	capture_bpf__destroy(fx->skel);
	free(fx->copies);
	free(fx);
	return 0;
}

/* ---- running and checking ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum hook { INGRESS, EGRESS };

/* Run one hook's program on the frame (on the device ifindex, 0: the loopback) repeat times. */
static void run_on(struct fixture *fx, enum hook h, const struct frame *f, int ifindex,
		   int repeat)
{
	struct bpf_program *prog =
		h == INGRESS ? fx->skel->progs.floe_tc_ingress : fx->skel->progs.floe_tc_egress;
	struct __sk_buff skb = {.ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = (__u32)f->len,
		    .repeat = repeat);

	if (ifindex) {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	int ret = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (ret < 0)
		fail_msg("test run of %s on %zu bytes: %s", bpf_program__name(prog), f->len,
			 strerror(errno));
	/* TC_ACT_UNSPEC on every path: floe never decides a packet's fate, the filters after
	 * its own still see it */
	assert_int_equal((int)opts.retval, TC_ACT_UNSPEC);
}

static void run(struct fixture *fx, enum hook h, const struct frame *f)
{
	run_on(fx, h, f, 0, 1);
}

/* Drain the ring; it must give exactly `want` new records. */
static void drain(struct fixture *fx, size_t want)
{
	size_t before = fx->n_copies;
	int n = ring_buffer__consume(fx->rb);

	assert_true(n >= 0);
	assert_int_equal(fx->n_copies - before, want);
	assert_int_equal((size_t)n, want);
}

/* Every counter, and the userspace ones: absolute values for this test's skeleton. */
static void expect_counters(struct fixture *fx, uint64_t seen, uint64_t targeted,
			    uint64_t recorded, uint64_t ringbuf_full, uint64_t duplicate)
{
	assert_int_equal(capture_counters_map_read(fx->skel->maps.counters, fx->cnt), 0);
	assert_int_equal(fx->cnt[FLOE_CNT_SEEN], seen);
	assert_int_equal(fx->cnt[FLOE_CNT_TARGETED], targeted);
	assert_int_equal(fx->cnt[FLOE_CNT_RECORDED], recorded);
	assert_int_equal(fx->cnt[FLOE_CNT_RINGBUF_FULL], ringbuf_full);
	assert_int_equal(fx->cnt[FLOE_CNT_DUPLICATE], duplicate);
	assert_int_equal(fx->cnt[FLOE_CNT_OUT_OF_SCOPE], fx->out_of_scope);
	assert_int_equal(FLOE_CNT_MAX, 6); /* a new counter needs its check here */
	/* Every record the kernel wrote held up in userspace. */
	assert_int_equal(fx->stats.records, fx->n_copies);
	assert_int_equal(fx->n_dispatched, fx->n_copies);
	assert_int_equal(fx->stats.bad_type, 0);
	assert_int_equal(fx->stats.bad_size, 0);
}

struct want {
	uint32_t ifindex; /* 0: the loopback's */
	uint32_t snaplen;
	uint32_t src, dst;
	uint8_t dir, flags;
};

static uint32_t class_for(uint32_t cap)
{
	for (size_t i = 0; i < sizeof(size_classes) / sizeof(size_classes[0]); i++)
		if (cap <= size_classes[i])
			return size_classes[i];
	fail_msg("no size class holds %u bytes", cap);
	return 0;
}

/* Record number idx of the test: made of frame f, within [ts_lo, ts_hi]. */
static void check_record(struct fixture *fx, size_t idx, const struct frame *f,
			 const struct want *w, uint64_t ts_lo, uint64_t ts_hi)
{
	assert_true(idx < fx->n_copies && fx->n_copies - idx <= MAX_RECORDS);
	const struct ring_copy *c = &fx->copies[idx % MAX_RECORDS];
	const struct floe_pkt_record *rec = (const void *)c->words;
	uint32_t snap = w->snaplen ? w->snaplen : SNAP_WHOLE;
	uint32_t cap = f->len < snap ? (uint32_t)f->len : snap;

	assert_int_equal(rec->hdr.type, FLOE_RECORD_PACKET);
	assert_int_equal(rec->hdr.size, c->size);
	assert_int_equal(c->size, sizeof(*rec) + class_for(cap));
	assert_true(rec->hdr.ts_ns >= ts_lo && rec->hdr.ts_ns <= ts_hi);
	assert_int_equal(rec->ifindex, w->ifindex ? w->ifindex : if_nametoindex("lo"));
	assert_int_equal(rec->pkt_len, f->len);
	assert_int_equal(rec->cap_len, cap);
	assert_int_equal(rec->src_target, w->src);
	assert_int_equal(rec->dst_target, w->dst);
	assert_int_equal(rec->dir, w->dir);
	assert_int_equal(rec->flags, w->flags);
	assert_int_equal(rec->reserved, 0);
	assert_memory_equal(rec + 1, f->b, cap);
}

/* Run, drain, check the one record it must give. */
static void run_expect_record(struct fixture *fx, enum hook h, const struct frame *f,
			      const struct want *w)
{
	uint64_t lo = mono_ns();

	run(fx, h, f);
	uint64_t hi = mono_ns();

	drain(fx, 1);
	check_record(fx, fx->n_copies - 1, f, w, lo, hi);
}

/* Run, drain: no record. */
static void run_expect_none(struct fixture *fx, enum hook h, const struct frame *f)
{
	run(fx, h, f);
	drain(fx, 0);
}

/* ---- tests ---- */

static void test_ipv4_both_hooks(void **state)
{
	struct fixture *fx = *state;
	struct frame f;

	/* What pod A sends: its veth's ingress. */
	v4_frame(&f, POD_A_V4, OTHER_V4, 74);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 1, 1, 1, 0, 0);

	/* What it receives: egress. */
	v4_frame(&f, OTHER_V4, POD_A_V4, 60);
	run_expect_record(fx, EGRESS, &f, &(struct want){.dst = ID_A, .dir = FLOE_DIR_TO_POD});
	expect_counters(fx, 2, 2, 2, 0, 0);
}

static void test_ipv6_both_hooks(void **state)
{
	struct fixture *fx = *state;
	struct frame f;

	v6_frame(&f, POD_A_V6, OTHER_V6, 94);
	run_expect_record(
		fx, INGRESS, &f,
		&(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD, .flags = FLOE_REC_IPV6});
	expect_counters(fx, 1, 1, 1, 0, 0);

	v6_frame(&f, OTHER_V6, POD_A_V6, 1514);
	run_expect_record(
		fx, EGRESS, &f,
		&(struct want){.dst = ID_A, .dir = FLOE_DIR_TO_POD, .flags = FLOE_REC_IPV6});
	expect_counters(fx, 2, 2, 2, 0, 0);

	/* An IPv4-mapped key does not match an IPv6 address with the same last bytes. */
	v6_frame(&f, "::ad5:2", OTHER_V6, 94); /* ::10.213.0.2, IPv4-compatible, not mapped */
	run_expect_none(fx, INGRESS, &f);
	expect_counters(fx, 3, 2, 2, 0, 0);
}

/* Tags still in the frame: one 802.1Q, or 802.1ad + 802.1Q (QinQ). The record is the frame
 * as it is, tags included. */
static void test_vlan(void **state)
{
	struct fixture *fx = *state;
	struct frame f;

	eth(&f, 0x8100);
	vlan(&f, 42, 0x0800);
	ipv4(&f, POD_A_V4, OTHER_V4, 60);
	tcp_to(&f, 78);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 1, 1, 1, 0, 0);

	eth(&f, 0x88a8);
	vlan(&f, 100, 0x8100);
	vlan(&f, 42, 0x86dd);
	ipv6(&f, OTHER_V6, POD_A_V6, 40);
	tcp_to(&f, 102);
	run_expect_record(
		fx, EGRESS, &f,
		&(struct want){.dst = ID_A, .dir = FLOE_DIR_TO_POD, .flags = FLOE_REC_IPV6});
	expect_counters(fx, 2, 2, 2, 0, 0);

	/* Two 802.1Q tags (the older QinQ) count too. */
	eth(&f, 0x8100);
	vlan(&f, 100, 0x8100);
	vlan(&f, 42, 0x0800);
	ipv4(&f, POD_A_V4, OTHER_V4, 60);
	tcp_to(&f, 82);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 3, 3, 3, 0, 0);

	/* A third tag is beyond what the program parses: seen, passed. */
	eth(&f, 0x88a8);
	vlan(&f, 1, 0x8100);
	vlan(&f, 2, 0x8100);
	vlan(&f, 3, 0x0800);
	ipv4(&f, POD_A_V4, OTHER_V4, 60);
	tcp_to(&f, 86);
	run_expect_none(fx, INGRESS, &f);
	expect_counters(fx, 4, 3, 3, 0, 0);

	/* A tagged frame that is not IP (ARP). */
	eth(&f, 0x8100);
	vlan(&f, 42, 0x0806);
	tcp_to(&f, 60);
	run_expect_none(fx, INGRESS, &f);
	expect_counters(fx, 5, 3, 3, 0, 0);
}

/*
 * A frame whose ethertype says IPv4 or IPv6 but whose IP header is cut: the kernel's test run
 * refuses it (EINVAL, 6.18 checks the header it announces) or, on a kernel that does not, the
 * program must pass it unrecorded. Returns 1 when it ran.
 */
static int run_cut_or_refused(struct fixture *fx, enum hook h, const struct frame *f)
{
	struct bpf_program *prog =
		h == INGRESS ? fx->skel->progs.floe_tc_ingress : fx->skel->progs.floe_tc_egress;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = (__u32)f->len);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) < 0) {
		assert_int_equal(errno, EINVAL);
		return 0;
	}
	assert_int_equal((int)opts.retval, TC_ACT_UNSPEC);
	drain(fx, 0);
	return 1;
}

/* The first n bytes of frame `whole`, behind `tags` 802.1Q tags when tags > 0. */
static void cut(struct frame *f, const struct frame *whole, int tags, size_t n)
{
	eth(f, tags ? 0x8100 : (uint16_t)(whole->b[12] << 8 | whole->b[13]));
	for (int t = 0; t < tags; t++)
		vlan(f, (uint16_t)(10 + t),
		     t + 1 < tags ? 0x8100 : (uint16_t)(whole->b[12] << 8 | whole->b[13]));
	assert_true(n >= 14 && f->len + n - 14 <= MAX_FRAME);
	memcpy(f->b + f->len, whole->b + 14, n - 14);
	f->len += n - 14;
}

/*
 * Headers cut short. The program's own bounds are what stands between a short frame and a
 * read past its end; the kernel's test run only lets frames with a cut IP header through when
 * a VLAN tag hides the ethertype from it, so most cases are tagged.
 */
static void test_truncated(void **state)
{
	struct fixture *fx = *state;
	struct frame f, v4, v6;
	uint64_t seen = 0;

	v4_frame(&v4, POD_A_V4, POD_A_V4, 60); /* both addresses targeted: a read would show */
	v6_frame(&v6, POD_A_V6, POD_A_V6, 94);

	/* Ethernet header only, untagged IPv4; an IPv4 header without its destination; an IPv6
	 * header cut likewise. */
	cut(&f, &v4, 0, 14);
	seen += run_cut_or_refused(fx, INGRESS, &f);
	cut(&f, &v4, 0, 14 + 19);
	seen += run_cut_or_refused(fx, INGRESS, &f);
	cut(&f, &v6, 0, 14 + 39);
	seen += run_cut_or_refused(fx, EGRESS, &f);
	expect_counters(fx, seen, 0, 0, 0, 0);

	/* Ethernet header only, announcing a tag. */
	eth(&f, 0x8100);
	run_expect_none(fx, INGRESS, &f);
	expect_counters(fx, ++seen, 0, 0, 0, 0);

	/* A tag cut in the middle; a QinQ frame with its inner tag cut. */
	eth(&f, 0x8100);
	f.b[14] = 0;
	f.b[15] = 42;
	f.len = 16;
	run_expect_none(fx, INGRESS, &f);
	eth(&f, 0x88a8);
	vlan(&f, 100, 0x8100);
	f.b[f.len] = 0;
	f.b[f.len + 1] = 42;
	f.len += 2;
	run_expect_none(fx, INGRESS, &f);
	expect_counters(fx, seen += 2, 0, 0, 0, 0);

	/* Tagged: no IP header at all, IPv4 cut one byte short, IPv6 cut one byte short, each
	 * behind one and behind two tags. */
	for (int tags = 1; tags <= 2; tags++) {
		cut(&f, &v4, tags, 14);
		run_expect_none(fx, INGRESS, &f);
		cut(&f, &v4, tags, 14 + 19);
		run_expect_none(fx, INGRESS, &f);
		cut(&f, &v6, tags, 14 + 39);
		run_expect_none(fx, EGRESS, &f);
		seen += 3;
		expect_counters(fx, seen, 0, 0, 0, 0);
	}

	/* The same, one byte longer: the IP header is whole and the packet recorded. */
	cut(&f, &v4, 1, 14 + 20);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dst = ID_A, .dir = FLOE_DIR_FROM_POD});
	cut(&f, &v6, 2, 14 + 40);
	run_expect_record(
		fx, INGRESS, &f,
		&(struct want){.src = ID_A, .dst = ID_A, .dir = FLOE_DIR_FROM_POD, .flags = FLOE_REC_IPV6});
	seen += 2;
	expect_counters(fx, seen, 2, 2, 0, 0);

	/* TCP header cut: the program reads no L4, so the packet is recorded as it is. */
	eth(&f, 0x0800);
	ipv4(&f, POD_A_V4, OTHER_V4, 28);
	tcp_to(&f, 14 + 20 + 8);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, ++seen, 3, 3, 0, 0);

	/* IPv4 header whole, nothing after it. */
	eth(&f, 0x0800);
	ipv4(&f, OTHER_V4, POD_A_V4, 20);
	run_expect_record(fx, EGRESS, &f, &(struct want){.dst = ID_A, .dir = FLOE_DIR_TO_POD});
	expect_counters(fx, ++seen, 4, 4, 0, 0);
}

static void test_not_targeted(void **state)
{
	struct fixture *fx = *state;
	struct frame f;

	v4_frame(&f, OTHER_V4, "10.213.9.10", 100);
	run_expect_none(fx, INGRESS, &f);
	run_expect_none(fx, EGRESS, &f);
	v6_frame(&f, OTHER_V6, "fd00:f10e::100", 100);
	run_expect_none(fx, INGRESS, &f);
	run_expect_none(fx, EGRESS, &f);
	/* Not IP at all. */
	eth(&f, 0x0806);
	tcp_to(&f, 42);
	run_expect_none(fx, INGRESS, &f);
	expect_counters(fx, 5, 0, 0, 0, 0);
}

/*
 * Between two tapped pods of this host a packet crosses the sender's ingress hook and the
 * receiver's egress hook: recorded at the first, counted as a duplicate at the second.
 */
static void test_pod_to_pod(void **state)
{
	struct fixture *fx = *state;
	struct frame f;

	v4_frame(&f, POD_A_V4, POD_B_V4, 120);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dst = ID_B, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 1, 1, 1, 0, 0);
	run_expect_none(fx, EGRESS, &f);
	expect_counters(fx, 2, 1, 1, 0, 1);

	/* The answer, B to A, the same way. */
	v4_frame(&f, POD_B_V4, POD_A_V4, 66);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_B, .dst = ID_A, .dir = FLOE_DIR_FROM_POD});
	run_expect_none(fx, EGRESS, &f);
	expect_counters(fx, 4, 2, 2, 0, 2);

	/* From a tapped pod of another host (its veth is not hooked here): this egress hook is
	 * the only one that sees it, so it is recorded. */
	v4_frame(&f, FAR_V4, POD_A_V4, 66);
	run_expect_record(fx, EGRESS, &f,
			  &(struct want){.src = ID_FAR, .dst = ID_A, .dir = FLOE_DIR_TO_POD});
	expect_counters(fx, 5, 3, 3, 0, 2);

	/* Ingress never drops a copy, even with a local source and destination. */
	v4_frame(&f, POD_A_V4, POD_A_V4, 66);
	run_expect_record(fx, INGRESS, &f,
			  &(struct want){.src = ID_A, .dst = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 6, 4, 4, 0, 2);
}

/*
 * The order in which a pod's capture starts and stops (tap/pod_capture.c), driven through
 * an ops table that applies its map updates to this skeleton's `targets` and takes a
 * snapshot after each step: what the real programs decide at each hook of each path, and
 * which of the new pod's hooks are attached. Pod X (being tapped) talks to Z (not tapped)
 * and to Y (pod B: tapped, local, its hooks attached all along). The two hooks of a veth are
 * attached (detached) one after the other, so after an attach every subset of them is a
 * state too. Checked over every pair of states s <= t (a packet meets the first hook of its
 * path in s and the second in t, unless a sync lies between them):
 *   - start: a request recorded in s has its response recorded in t (X as client and as
 *     server); stop: a response recorded in t had its request recorded in s;
 *   - between X and Y every packet is recorded at least once.
 * The order before issue 14 (address first, then the hooks, then the local mark) fails the
 * first (a request recorded at the ingress hook, its response passing the egress hook not
 * attached yet: the HTTP/2 stream without its response) and the second (a packet that passed
 * X's veth before its hook, at Y's egress after the mark: skipped there).
 */
#define POD_X_V4 "10.213.0.4"
enum { ID_X = 4 };
enum path { XZ, ZX, XY, YX, NPATHS }; /* X->Z, Z->X, X->Y, Y->X */
#define MAX_SNAPS 32

struct snap {
	bool rec[NPATHS][2]; /* the program at the path's first / second hook records it */
	bool x_in, x_eg;     /* X's ingress / egress hook attached */
	bool sync_before;    /* a sync came between the previous state and this one */
};

struct order_model {
	struct fixture *fx;
	struct snap s[MAX_SNAPS];
	size_t n;
	bool x_in, x_eg, sync_pending;
	int attach_fail, target_fail; /* fail that call (1: the first), 0: never */
	int attaches, targets_set;
};

/* The hooks of a path: first and second (Y's hooks are attached; Z has none). */
static const struct {
	const char *src, *dst;
	enum hook first, second;
	bool has_second;
} paths[NPATHS] = {
	[XZ] = {POD_X_V4, OTHER_V4, INGRESS, EGRESS, false},
	[ZX] = {OTHER_V4, POD_X_V4, EGRESS, INGRESS, false},
	[XY] = {POD_X_V4, POD_B_V4, INGRESS, EGRESS, true},
	[YX] = {POD_B_V4, POD_X_V4, INGRESS, EGRESS, true},
};

/* Does the program of hook h record this frame in the map's present state? */
static bool records(struct fixture *fx, enum hook h, const struct frame *f)
{
	size_t before = fx->n_copies;

	run(fx, h, f);
	assert_true(ring_buffer__consume(fx->rb) >= 0);
	assert_true(fx->n_copies - before <= 1);
	return fx->n_copies > before;
}

static void snap_push(struct order_model *m, bool x_in, bool x_eg)
{
	struct snap *s;

	assert_true(m->n < MAX_SNAPS);
	s = &m->s[m->n++];
	memset(s, 0, sizeof(*s));
	for (int p = 0; p < NPATHS; p++) {
		struct frame f;

		v4_frame(&f, paths[p].src, paths[p].dst, 80);
		s->rec[p][0] = records(m->fx, paths[p].first, &f);
		s->rec[p][1] = paths[p].has_second && records(m->fx, paths[p].second, &f);
	}
	s->x_in = x_in;
	s->x_eg = x_eg;
	s->sync_before = m->sync_pending;
	m->sync_pending = false;
}

/* The hooks changed from (m->x_in, m->x_eg) to (in, eg): each on its own, in either order. */
static void hooks_change(struct order_model *m, bool in, bool eg)
{
	if (in != m->x_in && eg != m->x_eg) {
		snap_push(m, in, m->x_eg);
		snap_push(m, m->x_in, eg);
	}
	snap_push(m, in, eg);
	m->x_in = in;
	m->x_eg = eg;
}

static int model_attach(void *ctx, int ifindex, char *err, size_t errlen)
{
	struct order_model *m = ctx;

	assert_int_equal(ifindex, 77);
	if (++m->attaches == m->attach_fail) {
		snprintf(err, errlen, "refused");
		return -EPERM;
	}
	hooks_change(m, true, true);
	return 0;
}

static void model_detach(void *ctx, int ifindex)
{
	struct order_model *m = ctx;

	assert_int_equal(ifindex, 77);
	hooks_change(m, false, false);
}

static int model_target_set(void *ctx, int family, const uint8_t *addr, uint32_t id,
			    uint32_t flags)
{
	struct order_model *m = ctx;

	if (++m->targets_set == m->target_fail)
		return -ENOSPC;
	assert_int_equal(capture_targets_map_add(m->fx->skel->maps.targets, family, addr, id,
						 flags),
			 0);
	snap_push(m, m->x_in, m->x_eg);
	return 0;
}

static int model_target_del(void *ctx, int family, const uint8_t *addr)
{
	struct order_model *m = ctx;
	struct floe_addr key = {0};

	assert_int_equal(family, AF_INET);
	key.bytes[10] = key.bytes[11] = 0xff;
	memcpy(&key.bytes[12], addr, 4);
	assert_int_equal(bpf_map__delete_elem(m->fx->skel->maps.targets, &key, sizeof(key), 0), 0);
	snap_push(m, m->x_in, m->x_eg);
	return 0;
}

static int model_sync(void *ctx)
{
	struct order_model *m = ctx;

	m->sync_pending = true;
	return 0;
}

/* The path's packet, meeting its first hook in state s and its second in state t. */
static bool recorded(const struct order_model *m, enum path p, size_t s, size_t t)
{
	bool first_on = paths[p].first == INGRESS ? (p == XZ || p == XY ? m->s[s].x_in : true)
						  : m->s[s].x_eg;
	bool second_on = p == XY ? true : p == YX ? m->s[t].x_eg : false;

	return (first_on && m->s[s].rec[p][0]) || (second_on && m->s[t].rec[p][1]);
}

static bool sync_between(const struct order_model *m, size_t s, size_t t)
{
	for (size_t u = s + 1; u <= t; u++)
		if (m->s[u].sync_before)
			return true;
	return false;
}

static void check_order(const struct order_model *m, bool starting)
{
	for (size_t s = 0; s < m->n; s++) {
		for (size_t t = s; t < m->n; t++) {
			for (int p = XZ; p <= ZX; p++) {
				enum path q = p == XZ ? ZX : XZ; /* the answer */
				bool req = recorded(m, p, s, s), resp = recorded(m, q, t, t);

				if (starting && req && !resp)
					fail_msg("start: a request %s recorded in state %zu, its "
						 "answer not in state %zu", p == XZ ? "X->Z" : "Z->X",
						 s, t);
				if (!starting && resp && !req)
					fail_msg("stop: an answer recorded in state %zu, its request "
						 "%s not in state %zu", t, p == XZ ? "X->Z" : "Z->X", s);
			}
			if (sync_between(m, s, t))
				continue;
			for (int p = XY; p <= YX; p++)
				if (!recorded(m, p, s, t))
					fail_msg("%s: a packet %s between states %zu and %zu is not "
						 "recorded at either hook", starting ? "start" : "stop",
						 p == XY ? "X->Y" : "Y->X", s, t);
		}
	}
}

static void test_pod_capture_order(void **state)
{
	struct fixture *fx = *state;
	struct order_model m = {.fx = fx};
	struct pod_capture_ops ops = {
	    .ctx = &m,
	    .attach = model_attach,
	    .detach = model_detach,
	    .target_set = model_target_set,
	    .target_del = model_target_del,
	    .sync = model_sync,
	};
	struct floe_pod x = {.host_ifindex = 77, .n_addrs = 1};
	char err[128];

	x.addrs[0].family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, POD_X_V4, x.addrs[0].addr), 1);

	snap_push(&m, false, false); /* before: X neither hooked nor a target */
	assert_int_equal(pod_capture_start(&ops, &x, ID_X, err, sizeof(err)), 0);
	/* it ends hooked and local: X's traffic recorded once, at X's own ingress for X->Y */
	assert_true(m.x_in && m.x_eg);
	assert_true(m.s[m.n - 1].rec[XZ][0] && m.s[m.n - 1].rec[ZX][0]);
	assert_true(m.s[m.n - 1].rec[XY][0] && !m.s[m.n - 1].rec[XY][1]);
	check_order(&m, true);

	m.n = 0;
	snap_push(&m, true, true);
	pod_capture_stop(&ops, &x);
	assert_false(m.x_in || m.x_eg);
	assert_false(m.s[m.n - 1].rec[XZ][0] || m.s[m.n - 1].rec[ZX][0]);
	check_order(&m, false);

	/* Started before its address was known (a pod whose IP comes after its veth), the
	 * address added later: the same promises over the whole sequence. */
	{
		struct floe_pod bare = x;

		bare.n_addrs = 0;
		m = (struct order_model){.fx = fx};
		snap_push(&m, false, false);
		assert_int_equal(pod_capture_start(&ops, &bare, ID_X, err, sizeof(err)), 0);
		assert_int_equal(pod_capture_readdress(&ops, &bare, &x, ID_X, err, sizeof(err)),
				 0);
		assert_true(m.s[m.n - 1].rec[XZ][0] && m.s[m.n - 1].rec[XY][0]);
		check_order(&m, true);
		/* and the address goes again, the hooks staying */
		m.n = 0;
		snap_push(&m, true, true);
		assert_int_equal(pod_capture_readdress(&ops, &x, &bare, ID_X, err, sizeof(err)),
				 0);
		assert_true(m.x_in && m.x_eg);
		check_order(&m, false);
		pod_capture_stop(&ops, &bare);
	}

	/* A failed step leaves nothing: no hooks, no map entry. */
	m = (struct order_model){.fx = fx, .target_fail = 1};
	assert_int_equal(pod_capture_start(&ops, &x, ID_X, err, sizeof(err)), -ENOSPC);
	assert_false(m.x_in || m.x_eg);
	assert_string_equal(err, "cannot add address: No space left on device");
	m = (struct order_model){.fx = fx, .attach_fail = 1};
	assert_int_equal(pod_capture_start(&ops, &x, ID_X, err, sizeof(err)), -EPERM);
	assert_int_equal(m.targets_set, 0);
	{
		struct floe_addr key = {0};
		struct floe_target v;

		key.bytes[10] = key.bytes[11] = 0xff;
		memcpy(&key.bytes[12], x.addrs[0].addr, 4);
		assert_true(bpf_map__lookup_elem(fx->skel->maps.targets, &key, sizeof(key), &v,
						 sizeof(v), 0) < 0);
	}
}

/* The record names the interface the hook runs on. */
static void test_ifindex(void **state)
{
	struct fixture *fx = *state;
	struct if_nameindex *ifs = if_nameindex(), *i;
	unsigned lo = if_nametoindex("lo"), other = 0;
	struct frame f;

	assert_non_null(ifs);
	for (i = ifs; i->if_index; i++)
		if (i->if_index != lo) {
			other = i->if_index;
			break;
		}
	if_freenameindex(ifs);
	v4_frame(&f, POD_A_V4, OTHER_V4, 60);

	uint64_t t0 = mono_ns();

	run_on(fx, INGRESS, &f, (int)lo, 1);
	drain(fx, 1);
	check_record(fx, 0, &f, &(struct want){.ifindex = lo, .src = ID_A}, t0, mono_ns());
	if (!other) {
		/* Only the loopback in this namespace: another index must be refused. */
		struct __sk_buff skb = {.ifindex = lo + 1000};
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.b, .data_size_in = 60,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

		assert_true(bpf_prog_test_run_opts(
				    bpf_program__fd(fx->skel->progs.floe_tc_ingress), &opts) < 0);
		expect_counters(fx, 1, 1, 1, 0, 0);
		return;
	}
	t0 = mono_ns();
	run_on(fx, INGRESS, &f, (int)other, 1);
	drain(fx, 1);
	check_record(fx, 1, &f, &(struct want){.ifindex = other, .src = ID_A}, t0, mono_ns());
	expect_counters(fx, 2, 2, 2, 0, 0);
}

/* Frames at both edges of each size class a test run can reach. */
static void test_size_classes(void **state)
{
	struct fixture *fx = *state;
	static const uint32_t lens[] = {60,   127,  128,  129,  255,  256,  257,  511,  512,
					513,  1023, 1024, 1025, 1535, 1536, 1537, 2048, 3000};
	struct frame f;
	uint64_t n = 0;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		v4_frame(&f, POD_A_V4, OTHER_V4, lens[i]);
		run_expect_record(fx, INGRESS, &f,
				  &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
		n++;
		expect_counters(fx, n, n, n, 0, 0);
	}
	/* The largest frame a test run takes: 4096-class, whatever the page arithmetic gives. */
	size_t len = 3000;

	for (;;) {
		v4_frame(&f, POD_A_V4, OTHER_V4, len + 1);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.b,
			    .data_size_in = (__u32)f.len);

		if (bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.floe_tc_ingress),
					   &opts) < 0)
			break;
		drain(fx, 1);
		n++;
		len++;
		assert_true(len < MAX_FRAME);
	}
	assert_int_equal(errno, EINVAL);
	expect_counters(fx, n, n, n, 0, 0);
	v4_frame(&f, POD_A_V4, OTHER_V4, len);
	run_expect_record(fx, INGRESS, &f, &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	n++;
	expect_counters(fx, n, n, n, 0, 0);
	print_message("largest frame under test run: %zu bytes\n", len);
}

static int setup_snap100(void **state)
{
	return open_fixture(state, 100, RING_BYTES);
}

/* cap_len = min(pkt_len, snaplen); the bytes are the frame's first ones. */
static void test_snaplen(void **state)
{
	struct fixture *fx = *state;
	static const uint32_t lens[] = {54, 99, 100, 101, 129, 1514, 3000};
	struct frame f;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		v6_frame(&f, OTHER_V6, POD_A_V6, lens[i]);
		run_expect_record(fx, EGRESS, &f,
				  &(struct want){.snaplen = 100,
						 .dst = ID_A,
						 .dir = FLOE_DIR_TO_POD,
						 .flags = FLOE_REC_IPV6});
		expect_counters(fx, i + 1, i + 1, i + 1, 0, 0);
	}
}

static int setup_small_ring(void **state)
{
	return open_fixture(state, SNAP_WHOLE, 4096);
}

/* wakeup_bytes 1: any backlog asks for a wakeup, so the rate limit alone decides. */
static int setup_wake(void **state)
{
	return open_fixture_wake(state, SNAP_WHOLE, RING_BYTES, 1);
}

/* The largest of the per-CPU values of last_wake (the runs of one test_run call stay on one CPU). */
static uint64_t last_wake_max(struct fixture *fx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v)), max = 0;
	uint32_t zero = 0;

	assert_true(ncpu > 0);
	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.last_wake), &zero, v), 0);
	for (int i = 0; i < ncpu; i++)
		max = v[i] > max ? v[i] : max;
	free(v);
	return max;
}

/*
 * While records wait in the ring beyond wakeup_bytes, a forced wakeup is asked at most once per
 * FLOE_WAKE_GAP_NS: last_wake holds the timestamp of the last record that asked, which is what
 * the rule gives when replayed over the records' own timestamps. 40 back-to-back runs take far
 * less than the gap, so nearly all of them must not ask; whatever the machine's speed, the
 * replay says exactly which.
 */
static void test_wakeup_rate_limited(void **state)
{
	struct fixture *fx = *state;
	struct frame f;
	uint64_t last = 0, asked = 0;

	assert_int_equal(last_wake_max(fx), 0);
	v4_frame(&f, POD_A_V4, OTHER_V4, 74);
	run_on(fx, INGRESS, &f, 0, 40);
	drain(fx, 40);
	for (size_t i = 0; i < 40; i++) {
		const struct floe_pkt_record *rec = (const void *)fx->copies[i].words;

		if (rec->hdr.ts_ns - last >= FLOE_WAKE_GAP_NS) {
			last = rec->hdr.ts_ns;
			asked++;
		}
	}
	assert_true(asked >= 1);
	assert_true(last > 0);
	assert_int_equal(last_wake_max(fx), last);
	/* a later record, past the gap, asks again */
	struct timespec pause = {.tv_nsec = 2000000};

	nanosleep(&pause, NULL);
	run(fx, INGRESS, &f);
	drain(fx, 1);
	const struct floe_pkt_record *later = (const void *)fx->copies[40].words;

	assert_int_equal(last_wake_max(fx), later->hdr.ts_ns);
}

/* With wakeup_bytes 0 every record wakes the consumer and last_wake is never used. */
static void test_wakeup_every_record(void **state)
{
	struct fixture *fx = *state;
	struct frame f;

	v4_frame(&f, POD_A_V4, OTHER_V4, 74);
	run_on(fx, INGRESS, &f, 0, 5);
	drain(fx, 5);
	assert_int_equal(last_wake_max(fx), 0);
}

/*
 * A ring of one page holds two 1536-class records (each 8 bytes of ring header, 40 of record,
 * 1536 of class): the next targeted packets are counted as ringbuf_full, never half written.
 */
static void test_ring_full(void **state)
{
	struct fixture *fx = *state;
	struct frame f;
	size_t per_record = (8 + sizeof(struct floe_pkt_record) + 1536 + 7) / 8 * 8;
	uint64_t fit = 4096 / per_record;

	assert_int_equal(fit, 2);
	v4_frame(&f, POD_A_V4, OTHER_V4, 1514);

	uint64_t lo = mono_ns();

	run_on(fx, INGRESS, &f, 0, 5);
	uint64_t hi = mono_ns();

	/* Untargeted traffic costs nothing in the ring. */
	struct frame other;

	v4_frame(&other, OTHER_V4, "10.213.9.10", 1514);
	run(fx, INGRESS, &other);
	expect_counters(fx, 6, 5, fit, 5 - fit, 0);
	drain(fx, fit);
	for (size_t i = 0; i < fit; i++)
		check_record(fx, i, &f, &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD}, lo,
			     hi);
	expect_counters(fx, 6, 5, fit, 5 - fit, 0);

	/* Drained, the ring takes records again. */
	run_expect_record(fx, INGRESS, &f, &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 7, 6, fit + 1, 5 - fit, 0);
}

/* ---- the userspace check, on crafted records ---- */

struct crafted {
	uint64_t words[(sizeof(struct floe_pkt_record) + 256) / 8];
};

static void craft_packet(struct crafted *c, uint32_t class_size, uint32_t cap, uint32_t pkt)
{
	struct floe_pkt_record *rec = (void *)c->words;

	memset(c, 0, sizeof(*c));
	rec->hdr.type = FLOE_RECORD_PACKET;
	rec->hdr.size = (uint32_t)sizeof(*rec) + class_size;
	rec->hdr.ts_ns = 1;
	rec->pkt_len = pkt;
	rec->cap_len = cap;
}

/* ---- the capture scope (--filter's pushdown, capture_scope.h) ---- */

/* Load query's pushdown into the fixture's maps, no pod named: NULL when it narrows nothing
 * (all). */
static struct capture_scope *scope_load_bare(struct fixture *fx, const char *query, struct kfl **q,
					     bool all)
{
	struct capture_scope_maps m = {fx->skel->maps.scope_values, fx->skel->maps.scope_config};
	struct capture_scope *s = (void *)1;
	struct kfl_pushdown p;
	char err[256];

	if (kfl_compile(query, NULL, q, err, sizeof(err)))
		fail_msg("'%s': %s", query, err);
	kfl_pushdown(*q, &p);
	assert_int_equal(p.all, all);
	assert_int_equal(capture_scope_load(&m, &p, &s, err, sizeof(err)), 0);
	if (all)
		assert_null(s);
	else
		assert_non_null(s);
	return s;
}

/* Load query's pushdown into the fixture's maps; the pods A and B named as the tap names them. */
static struct capture_scope *scope_load(struct fixture *fx, const char *query, struct kfl **q)
{
	struct capture_scope *s = scope_load_bare(fx, query, q, false);
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET, POD_A_V4, a), 1);
	assert_int_equal(capture_scope_pod_set(s, "web-a", "shop", AF_INET, a), 0);
	assert_int_equal(inet_pton(AF_INET6, POD_A_V6, a), 1);
	assert_int_equal(capture_scope_pod_set(s, "web-a", "shop", AF_INET6, a), 0);
	assert_int_equal(inet_pton(AF_INET, POD_B_V4, a), 1);
	assert_int_equal(capture_scope_pod_set(s, "db-b", "store", AF_INET, a), 0);
	return s;
}

/* A packet of pod A (ingress) with these ports: recorded (1) or out of scope (0). */
static void expect_v4(struct fixture *fx, const char *src, const char *dst, uint16_t sport,
		      uint16_t dport, enum hook h, int recorded, uint32_t src_id, uint32_t dst_id)
{
	struct frame f;

	v4_frame(&f, src, dst, 90);
	set_ports(&f, sport, dport);
	if (recorded) {
		run_expect_record(
		    fx, h, &f,
		    &(struct want){.src = src_id,
				   .dst = dst_id,
				   .dir = h == INGRESS ? FLOE_DIR_FROM_POD : FLOE_DIR_TO_POD});
	} else {
		run_expect_none(fx, h, &f);
		fx->out_of_scope++;
	}
}

/* Ports: either end's port, in both directions of a connection; other ports are not. */
static void test_scope_ports(void **state)
{
	struct fixture *fx = *state;
	struct kfl *q;
	struct capture_scope *s = scope_load(fx, "http and dst.port in [80, 8080]", &q);
	struct frame f;

	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 1, ID_A, 0); /* request */
	expect_v4(fx, OTHER_V4, POD_A_V4, 80, 40000, EGRESS, 1, 0, ID_A);  /* response */
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 8080, INGRESS, 1, ID_A, 0);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 443, INGRESS, 0, 0, 0);
	expect_v4(fx, OTHER_V4, POD_A_V4, 5432, 40001, EGRESS, 0, 0, 0);
	/* IPv6 the same way. */
	v6_frame(&f, POD_A_V6, OTHER_V6, 100);
	set_ports(&f, 40000, 80);
	run_expect_record(
	    fx, INGRESS, &f,
	    &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD, .flags = FLOE_REC_IPV6});
	set_ports(&f, 40000, 81);
	run_expect_none(fx, INGRESS, &f);
	fx->out_of_scope++;
	/* A later IPv4 fragment carries no ports: it cannot be ruled out. */
	v4_frame(&f, POD_A_V4, OTHER_V4, 90);
	set_ports(&f, 40000, 443);
	put16(f.b + 14 + 6, 185); /* fragment offset 185 * 8 */
	run_expect_record(fx, INGRESS, &f, &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	/* Not TCP, UDP or SCTP (ICMP): no ports either. */
	v4_frame(&f, POD_A_V4, OTHER_V4, 90);
	f.b[14 + 9] = 1;
	run_expect_record(fx, INGRESS, &f, &(struct want){.src = ID_A, .dir = FLOE_DIR_FROM_POD});
	expect_counters(fx, 9, 9, 6, 0, 0);
	capture_scope_free(s);
	kfl_free(q);
}

/* Addresses: either endpoint; an or of two clauses; and with a port in the same clause. */
static void test_scope_addrs(void **state)
{
	struct fixture *fx = *state;
	struct kfl *q;
	struct capture_scope *s = scope_load(
	    fx, "(dst.ip == 10.213.9.9 and dst.port == 80) or src.ip == \"fd00:f10e::99\"", &q);
	struct frame f;

	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 1, ID_A, 0);
	expect_v4(fx, OTHER_V4, POD_A_V4, 80, 40000, EGRESS, 1, 0, ID_A);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 81, INGRESS, 0, 0, 0);	     /* port */
	expect_v4(fx, POD_A_V4, "10.213.9.10", 40000, 80, INGRESS, 0, 0, 0); /* address */
	/* The second clause: the address alone, any port. */
	v6_frame(&f, OTHER_V6, POD_A_V6, 100);
	set_ports(&f, 1234, 5678);
	run_expect_record(
	    fx, EGRESS, &f,
	    &(struct want){.dst = ID_A, .dir = FLOE_DIR_TO_POD, .flags = FLOE_REC_IPV6});
	v6_frame(&f, "fd00:f10e::98", POD_A_V6, 100);
	run_expect_none(fx, EGRESS, &f);
	fx->out_of_scope++;
	expect_counters(fx, 6, 6, 3, 0, 0);
	capture_scope_free(s);
	kfl_free(q);
}

/*
 * Pods and namespaces: the tapped pods' entries say which terms their addresses satisfy; an
 * address no entry names (a peer that is not tapped) may be any pod, so it satisfies them all.
 */
static void test_scope_pods(void **state)
{
	struct fixture *fx = *state;
	struct kfl *q;
	struct capture_scope *s = scope_load(fx, "dst.namespace == store or src.pod == web-a", &q);
	uint8_t a[16];

	/* A (web-a) to B (db-b, store): both terms hold. */
	expect_v4(fx, POD_A_V4, POD_B_V4, 40000, 5432, INGRESS, 1, ID_A, ID_B);
	/* B to the far target (named by nothing in the scope): the far end may be either. */
	expect_v4(fx, POD_B_V4, FAR_V4, 40000, 80, INGRESS, 1, ID_B, ID_FAR);
	/* A renamed into a pod neither term names; B's pod leaves the scope too. */
	assert_int_equal(inet_pton(AF_INET, POD_A_V4, a), 1);
	assert_int_equal(capture_scope_pod_set(s, "api", "front", AF_INET, a), 0);
	assert_int_equal(inet_pton(AF_INET, POD_B_V4, a), 1);
	assert_int_equal(capture_scope_pod_set(s, "db-b", "other", AF_INET, a), 0);
	expect_v4(fx, POD_A_V4, POD_B_V4, 40000, 5432, INGRESS, 0, 0, 0);
	/* Gone from the scope's entries: unnamed again, so recorded. */
	assert_int_equal(capture_scope_pod_del(s, AF_INET, a), 0);
	expect_v4(fx, POD_A_V4, POD_B_V4, 40000, 5432, INGRESS, 1, ID_A, ID_B);
	expect_counters(fx, 4, 4, 3, 0, 0);
	capture_scope_free(s);
	kfl_free(q);
}

/* ---- the scope's verdict cache (scope_cache, floe_record.h) ---- */

static uint32_t scope_generation(struct fixture *fx)
{
	struct floe_scope_config cfg;
	uint32_t zero = 0;

	assert_int_equal(bpf_map__lookup_elem(fx->skel->maps.scope_config, &zero, sizeof(zero),
					      &cfg, sizeof(cfg), 0),
			 0);
	return cfg.generation;
}

static size_t cache_entries(struct fixture *fx)
{
	struct floe_scope_flow k, next;
	size_t n = 0;
	int ret = bpf_map__get_next_key(fx->skel->maps.scope_cache, NULL, &next, sizeof(next));

	while (ret == 0) {
		n++;
		k = next;
		ret = bpf_map__get_next_key(fx->skel->maps.scope_cache, &k, &next, sizeof(next));
	}
	return n;
}

/* The key of an IPv4 TCP flow between A:a_port (A first: 10.213.0.2 sorts before the peers
 * used here) and peer:peer_port, as the program makes it. */
static struct floe_scope_flow flow_a(const char *peer, uint16_t a_port, uint16_t peer_port)
{
	struct floe_scope_flow k;

	memset(&k, 0, sizeof(k));
	k.addr_lo[10] = k.addr_lo[11] = 0xff;
	k.addr_hi[10] = k.addr_hi[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, POD_A_V4, k.addr_lo + 12), 1);
	assert_int_equal(inet_pton(AF_INET, peer, k.addr_hi + 12), 1);
	k.port_lo = htons(a_port);
	k.port_hi = htons(peer_port);
	k.proto = 6;
	k.has_ports = 1;
	return k;
}

/* The cached verdict of k: in_scope, and its generation in *gen; -1 when not cached. */
static int cached(struct fixture *fx, const struct floe_scope_flow *k, uint32_t *gen)
{
	struct floe_scope_verdict v;

	if (bpf_map__lookup_elem(fx->skel->maps.scope_cache, k, sizeof(*k), &v, sizeof(v), 0))
		return -1;
	*gen = v.generation;
	return (int)v.in_scope;
}

static void cache_put(struct fixture *fx, const struct floe_scope_flow *k, uint32_t gen,
		      uint32_t in_scope)
{
	struct floe_scope_verdict v = {.generation = gen, .in_scope = in_scope};

	assert_int_equal(
	    bpf_map__update_elem(fx->skel->maps.scope_cache, k, sizeof(*k), &v, sizeof(v), 0), 0);
}

/*
 * A flow's first packet works the verdict out and caches it (a miss); the flow's next
 * packets, both ways, take it from the cache (a hit: a verdict changed by hand decides); a
 * change of the scope's maps bumps the generation, and a verdict of an older one is worked out
 * again (invalidation).
 */
static void test_scope_cache(void **state)
{
	struct fixture *fx = *state;
	struct kfl *q;
	struct capture_scope *s = scope_load(fx, "http and dst.port in [80, 8080]", &q);
	struct floe_scope_flow in = flow_a(OTHER_V4, 40000, 80), out = flow_a(OTHER_V4, 40000, 443);
	uint32_t gen, g;
	uint8_t a[16];

	gen = scope_generation(fx);
	assert_true(gen > 0);
	assert_int_equal(cache_entries(fx), 0);
	/* misses: each flow's verdict worked out and cached under the generation */
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 1, ID_A, 0);
	assert_int_equal(cached(fx, &in, &g), 1);
	assert_int_equal(g, gen);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 443, INGRESS, 0, 0, 0);
	assert_int_equal(cached(fx, &out, &g), 0);
	assert_int_equal(g, gen);
	/* the answer is the same flow: no entry of its own */
	expect_v4(fx, OTHER_V4, POD_A_V4, 80, 40000, EGRESS, 1, 0, ID_A);
	assert_int_equal(cache_entries(fx), 2);
	/* hits: the cached verdict decides, whatever the scope's maps say */
	cache_put(fx, &in, gen, 0);
	cache_put(fx, &out, gen, 1);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 0, 0, 0);
	expect_v4(fx, OTHER_V4, POD_A_V4, 80, 40000, EGRESS, 0, 0, 0);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 443, INGRESS, 1, ID_A, 0);
	/* invalidation: a pod's entry set again bumps the generation; both verdicts are worked
	 * out again from the maps and cached under the new one */
	assert_int_equal(inet_pton(AF_INET, POD_A_V4, a), 1);
	assert_int_equal(capture_scope_pod_set(s, "web-a", "shop", AF_INET, a), 0);
	assert_int_equal(scope_generation(fx), gen + 1);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 1, ID_A, 0);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 443, INGRESS, 0, 0, 0);
	assert_int_equal(cached(fx, &in, &g), 1);
	assert_int_equal(g, gen + 1);
	assert_int_equal(cached(fx, &out, &g), 0);
	assert_int_equal(g, gen + 1);
	/* a pod's entry removed bumps it too; a missing one changes nothing */
	assert_int_equal(capture_scope_pod_del(s, AF_INET, a), 0);
	assert_int_equal(scope_generation(fx), gen + 2);
	assert_int_equal(capture_scope_pod_del(s, AF_INET, a), 0);
	assert_int_equal(scope_generation(fx), gen + 2);
	expect_counters(fx, 8, 8, 4, 0, 0);
	capture_scope_free(s);
	kfl_free(q);
}

/* A query nothing narrows loads nothing: every targeted packet is recorded. */
static void test_scope_all(void **state)
{
	struct fixture *fx = *state;
	struct kfl *q;

	scope_load_bare(fx, "dst.port == 80 or http", &q, true);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 443, INGRESS, 1, ID_A, 0);
	expect_counters(fx, 1, 1, 1, 0, 0);
	kfl_free(q);
}

/*
 * A load replaces the scope the maps held: the values of the old terms go (an address the old
 * scope listed does not satisfy the new scope's term of the same bit), and a query nothing
 * narrows turns the check off.
 */
static void test_scope_reload(void **state)
{
	struct fixture *fx = *state;
	struct kfl *q1, *q2, *q3;
	struct capture_scope *s1 = scope_load(fx, "dst.ip == 10.213.9.9 and dst.port == 80", &q1);
	struct capture_scope *s2;

	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 1, ID_A, 0);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 81, INGRESS, 0, 0, 0);
	/* port 443 alone: its one term has the bit the old address term had */
	s2 = scope_load_bare(fx, "dst.port == 443", &q2, false);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 80, INGRESS, 0, 0, 0);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 443, INGRESS, 1, ID_A, 0);
	/* nothing to narrow: every packet again */
	scope_load_bare(fx, "dst.port == 80 or http", &q3, true);
	expect_v4(fx, POD_A_V4, OTHER_V4, 40000, 81, INGRESS, 1, ID_A, 0);
	expect_counters(fx, 5, 5, 3, 0, 0);
	capture_scope_free(s1);
	capture_scope_free(s2);
	kfl_free(q1);
	kfl_free(q2);
	kfl_free(q3);
}

static void test_dispatch_checks(void **state)
{
	(void)state;
	struct fixture fx = {0};
	struct crafted c;
	struct floe_pkt_record *rec = (void *)c.words;
	size_t size = sizeof(*rec) + 128;

	/* A good one is passed on. */
	craft_packet(&c, 128, 100, 1000);
	assert_int_equal(capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats), 0);
	assert_int_equal(fx.n_dispatched, 1);
	assert_int_equal(fx.stats.records, 1);

	/* Unknown types: 0, the reserved TLS slots (no case yet), anything else. */
	static const uint32_t bad_types[] = {0, 2, 3, 0xffffffffu};

	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		craft_packet(&c, 128, 100, 1000);
		rec->hdr.type = bad_types[i];
		assert_int_equal(capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats),
				 0);
	}
	assert_int_equal(fx.stats.bad_type, 4);

	/* Sizes that do not hold up: header size not the ring's (both ways), a ring record
	 * shorter than a header, a packet record shorter than its struct, cap_len past the
	 * record's end, cap_len past pkt_len. */
	craft_packet(&c, 128, 100, 1000);
	rec->hdr.size += 8;
	capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats);
	craft_packet(&c, 128, 100, 1000);
	rec->hdr.size -= 8;
	capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats);
	craft_packet(&c, 128, 100, 1000);
	capture_record_dispatch(c.words, sizeof(struct floe_record_hdr) - 1, count_packet, &fx,
				&fx.stats);
	craft_packet(&c, 0, 0, 0);
	rec->hdr.size = sizeof(struct floe_record_hdr) + 8;
	capture_record_dispatch(c.words, rec->hdr.size, count_packet, &fx, &fx.stats);
	craft_packet(&c, 128, 129, 1000);
	capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats);
	craft_packet(&c, 128, 100, 99);
	capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats);
	assert_int_equal(fx.stats.bad_size, 6);

	/* None of them reached the callback; the edges that are fine do. */
	assert_int_equal(fx.n_dispatched, 1);
	craft_packet(&c, 128, 128, 128);
	capture_record_dispatch(c.words, size, count_packet, &fx, &fx.stats);
	craft_packet(&c, 0, 0, 0);
	capture_record_dispatch(c.words, sizeof(*rec), count_packet, &fx, &fx.stats);
	assert_int_equal(fx.n_dispatched, 3);
	assert_int_equal(fx.stats.records, 3);
	assert_int_equal(fx.stats.bad_type, 4);
	assert_int_equal(fx.stats.bad_size, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_checks),
		cmocka_unit_test_setup_teardown(test_ipv4_both_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_both_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_targeted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_to_pod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_capture_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ifindex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snaplen, setup_snap100, teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, setup_small_ring, teardown),
		cmocka_unit_test_setup_teardown(test_wakeup_rate_limited, setup_wake, teardown),
		cmocka_unit_test_setup_teardown(test_wakeup_every_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_addrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_pods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope_cache, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
