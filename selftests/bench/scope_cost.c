// SPDX-License-Identifier: Apache-2.0
/*
 * The capture program's cost per packet with a capture scope loaded (docs/capture.md,
 * "Capture scope"), measured by the kernel: BPF_PROG_TEST_RUN runs floe_tc_ingress on one
 * frame REPEAT times and reports the mean time of a run. Cases (IPv4 TCP frames of 90 bytes
 * from tapped pod A, pod A named in the scope's pod entries):
 *   untargeted   neither end tapped: the parse and the two target lookups, no scope
 *   no_scope     A to a peer, no scope loaded: recorded (the ring is drained between rounds)
 *   out_scope    A to a peer on a port the scope rules out: the scope decides, nothing is
 *                recorded. What the scope costs: with the verdict cache one lookup of the
 *                flow once it is cached, without it up to six (addresses, ports, pods).
 *   in_scope     A to a peer on a port the scope holds: the scope, then recorded
 * Each case ROUNDS times (default 5); prints the median per case:
 *   case=NAME ns_per_packet=X (runs=REPEAT rounds=ROUNDS)
 * Root. usage: scope_cost [REPEAT] [ROUNDS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.skel.h"
#include "capture/capture.h"
#include "capture/capture_scope.h"
#include "floe_record.h"
#include "kfl/kfl.h"

#define POD_A "10.213.0.2"
#define PEER  "10.213.9.9"
#define QUERY "http and dst.port in [80, 8080] and src.pod == \"web-a\""

static void frame(uint8_t *b, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	memset(b, 0, 90);
	b[0] = 2;
	b[6] = 2;
	b[12] = 0x08; /* IPv4 */
	b[14] = 0x45;
	b[17] = 90 - 14;
	b[22] = 64;
	b[23] = 6; /* TCP */
	inet_pton(AF_INET, src, b + 26);
	inet_pton(AF_INET, dst, b + 30);
	b[34] = (uint8_t)(sport >> 8);
	b[35] = (uint8_t)sport;
	b[36] = (uint8_t)(dport >> 8);
	b[37] = (uint8_t)dport;
	b[46] = 0x50; /* data offset: 5 words */
}

static int drop_record(void *ctx, void *data, size_t len)
{
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The median over rounds of the mean ns per run of REPEAT runs. */
static uint32_t measure(struct capture_bpf *skel, struct ring_buffer *rb, const uint8_t *f,
			int repeat, int rounds)
{
	uint32_t ns[64];

	if (rounds > 64)
		rounds = 64;
	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = 90,
			    .repeat = repeat);

		if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.floe_tc_ingress), &o)) {
			fprintf(stderr, "scope_cost: test run: %s\n", strerror(errno));
			exit(1);
		}
		ns[r] = o.duration;
		ring_buffer__consume(rb);
	}
	qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_u32);
	return ns[rounds / 2];
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 200000, rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct capture_bpf *skel = capture_bpf__open();
	struct capture_scope_maps m;
	struct capture_scope *s = NULL;
	struct kfl_pushdown p;
	struct ring_buffer *rb;
	struct kfl *q;
	uint8_t a[16], f[90];
	char err[256];

	if (!skel || capture_bpf__load(skel)) {
		fprintf(stderr, "scope_cost: cannot load the capture program (root?)\n");
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), drop_record, NULL, NULL);
	inet_pton(AF_INET, POD_A, a);
	if (!rb || capture_targets_map_add(skel->maps.targets, AF_INET, a, 1, FLOE_TARGET_LOCAL)) {
		fprintf(stderr, "scope_cost: setting up the maps failed\n");
		return 1;
	}
	frame(f, "10.213.8.1", PEER, 40000, 443);
	printf("case=untargeted ns_per_packet=%u (runs=%d rounds=%d)\n",
	       measure(skel, rb, f, repeat, rounds), repeat, rounds);
	frame(f, POD_A, PEER, 40000, 80);
	printf("case=no_scope ns_per_packet=%u (runs=%d rounds=%d)\n",
	       measure(skel, rb, f, repeat, rounds), repeat, rounds);

	m.values = skel->maps.scope_values;
	m.config = skel->maps.scope_config;
	if (kfl_compile(QUERY, NULL, &q, err, sizeof(err))) {
		fprintf(stderr, "scope_cost: %s\n", err);
		return 1;
	}
	kfl_pushdown(q, &p);
	if (capture_scope_load(&m, &p, &s, err, sizeof(err)) || !s ||
	    capture_scope_pod_set(s, "web-a", "shop", AF_INET, a)) {
		fprintf(stderr, "scope_cost: loading the scope failed: %s\n", err);
		return 1;
	}
	frame(f, POD_A, PEER, 40000, 443);
	printf("case=out_scope ns_per_packet=%u (runs=%d rounds=%d)\n",
	       measure(skel, rb, f, repeat, rounds), repeat, rounds);
	frame(f, POD_A, PEER, 40000, 80);
	printf("case=in_scope ns_per_packet=%u (runs=%d rounds=%d)\n",
	       measure(skel, rb, f, repeat, rounds), repeat, rounds);
	capture_scope_free(s);
	kfl_free(q);
	ring_buffer__free(rb);
	capture_bpf__destroy(skel);
	return 0;
}
