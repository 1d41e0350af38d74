// SPDX-License-Identifier: Apache-2.0
/*
 * packet_source (lib/node/source): frames recorded by the TC programs reach the byte sink
 * through the event loop, byte for byte, with wall-clock timestamps, although the BPF side
 * submits them without waking the reader (the drain timer fetches them, also after it backed
 * off while idle); byte_source_drain() delivers what is pending without the loop.
 *
 * Needs root and BPF. Runs in a network namespace of its own (unshare(2)) with a veth pair
 * made there, which vanishes with the process; frames are written with an AF_PACKET socket
 * onto one end, where the hooks are, and go nowhere else. The tc-hooks state lives in a
 * temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pcap/dlt.h>

#include "capture/capture.h"
#include "loop/evloop.h"
#include "source/packet_source.h"

#define MS 1000000ull
#define FRAME_LEN 64
#define MAX_FRAMES 8

static char state_dir[64];

struct got {
	uint8_t data[MAX_FRAMES][FRAME_LEN];
	uint32_t cap_len[MAX_FRAMES], wire_len[MAX_FRAMES];
	int linktype[MAX_FRAMES];
	uint64_t ts[MAX_FRAMES], at[MAX_FRAMES];
	unsigned n, want;
	unsigned batches, n_at_batch; /* batch_end calls; frames delivered at the last one */
	struct evloop *loop;
	int errors;
};

static void on_frame(void *ctx, const struct byte_frame *f)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_FRAMES);
	assert_true(f->cap_len <= FRAME_LEN);
	memcpy(g->data[g->n], f->data, f->cap_len);
	g->cap_len[g->n] = f->cap_len;
	g->wire_len[g->n] = f->wire_len;
	g->linktype[g->n] = f->linktype;
	g->ts[g->n] = f->ts_ns;
	g->at[g->n] = evloop_now_ns();
	if (++g->n == g->want && g->loop)
		evloop_stop(g->loop);
}

/* The end of each drain that delivered frames (the tap wakes its consumers there). */
static void on_batch_end(void *ctx)
{
	struct got *g = ctx;

	g->batches++;
	g->n_at_batch = g->n;
}

static void on_error(void *ctx, int err, const char *what)
{
	struct got *g = ctx;

	fprintf(stderr, "byte source error: %s: %s\n", what, strerror(err));
	g->errors++;
}

static void on_guard(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	*(int *)ctx = 1;
	evloop_stop(l);
}

/* Run the loop until g has want frames (0) or ms pass (1). */
static int run_until(struct evloop *l, struct got *g, unsigned want, unsigned ms)
{
	struct evloop_timer *guard;
	int fired = 0;

	g->want = want;
	if (g->n >= want)
		return 0;
	assert_int_equal(evloop_add_timer(l, ms * MS, 0, on_guard, &fired, &guard), 0);
	assert_int_equal(evloop_run(l), 0);
	evloop_del_timer(l, guard);
	return fired;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ethernet + IPv4 + UDP to 10.99.0.1 (the target), payload byte tag. */
static void make_frame(uint8_t f[FRAME_LEN], uint8_t tag)
{
	static const uint8_t hdr[] = {
	    0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00, /* eth */
	    0x45, 0, 0, FRAME_LEN - 14, 0, 0, 0x40, 0, 64, 17, 0, 0,    /* ipv4 */
	    10, 99, 0, 2, 10, 99, 0, 1,				    /* src, dst */
	    0x30, 0x39, 0x30, 0x39, 0, FRAME_LEN - 34, 0, 0,	    /* udp */
	};

	memset(f, tag, FRAME_LEN);
	memcpy(f, hdr, sizeof(hdr));
}

static void send_frame(int sock, int ifindex, uint8_t tag)
{
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
	uint8_t f[FRAME_LEN];

	make_frame(f, tag);
	assert_int_equal(sendto(sock, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)),
			 FRAME_LEN);
}

static void check_frame(const struct got *g, unsigned i, uint8_t tag, uint64_t t0, uint64_t t1)
{
	uint8_t want[FRAME_LEN];

	make_frame(want, tag);
	assert_int_equal(g->linktype[i], DLT_EN10MB);
	assert_int_equal(g->cap_len[i], FRAME_LEN);
	assert_int_equal(g->wire_len[i], FRAME_LEN);
	assert_memory_equal(g->data[i], want, FRAME_LEN);
	/* kernel CLOCK_MONOTONIC turned into wall-clock time: within the send window */
	assert_true(g->ts[i] + 50 * MS >= t0);
	assert_true(g->ts[i] <= t1 + 50 * MS);
}

static void test_frames_reach_the_sink(void **state)
{
	struct capture_config cc = {.snaplen = 256, .ringbuf_bytes = 1 << 20, .state_dir = state_dir};
	struct tc_hooks_cleanup_stats cleaned;
	struct capture *c;
	struct byte_source bs;
	struct evloop *l;
	struct got g = {};
	struct byte_sink sink = {
	    .frame = on_frame, .error = on_error, .batch_end = on_batch_end, .ctx = &g};
	unsigned batches;
	const uint8_t target[4] = {10, 99, 0, 1};
	char err[512] = "";
	uint64_t t0, t1, sent;
	int ifindex, sock;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(system("ip link add fps0 type veth peer name fps1 && ip link set fps0 up "
				"&& ip link set fps1 up"),
			 0);
	ifindex = (int)if_nametoindex("fps0");
	assert_true(ifindex > 0);
	if (capture_open(&cc, NULL, NULL, &c, &cleaned, err, sizeof(err)))
		fail_msg("capture_open: %s", err);
	assert_int_equal(capture_target_add(c, AF_INET, target, 1, 0), 0);
	if (capture_attach(c, ifindex, err, sizeof(err)))
		fail_msg("capture_attach: %s", err);
	assert_int_equal(evloop_new(&l), 0);
	g.loop = l;
	assert_int_equal(packet_source_new(c, &bs), 0);
	if (byte_source_start(&bs, l, &sink, err, sizeof(err)))
		fail_msg("start: %s", err);
	sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);

	/* three frames, far below the wakeup mark: the drain timer brings them */
	t0 = realtime_ns();
	sent = evloop_now_ns();
	for (uint8_t i = 0; i < 3; i++)
		send_frame(sock, ifindex, (uint8_t)(0xa0 + i));
	t1 = realtime_ns();
	assert_int_equal(run_until(l, &g, 3, 2000), 0);
	for (unsigned i = 0; i < 3; i++)
		check_frame(&g, i, (uint8_t)(0xa0 + i), t0, t1);
	assert_true(g.at[2] - sent < 500 * MS);

	/* idle for a while: the drain timer backs off, a frame still comes within its bound */
	assert_int_equal(run_until(l, &g, 4, 500), 1);
	t0 = realtime_ns();
	sent = evloop_now_ns();
	send_frame(sock, ifindex, 0xb0);
	t1 = realtime_ns();
	assert_int_equal(run_until(l, &g, 4, 2000), 0);
	check_frame(&g, 3, 0xb0, t0, t1);
	assert_true(g.at[3] - sent < PACKET_SOURCE_DRAIN_MAX_NS + 200 * MS);

	/* drain without the loop: what is in the ring now comes out at once */
	t0 = realtime_ns();
	send_frame(sock, ifindex, 0xc0);
	send_frame(sock, ifindex, 0xc1);
	t1 = realtime_ns();
	/* Both records wait in the ring: 8 bytes of ring header, the 40-byte record and the
	 * 128-byte size class that holds the 64-byte frame, each. */
	assert_int_equal(capture_ring_pending(c), 2 * (8 + 40 + 128));
	assert_true(g.batches >= 1 && g.n_at_batch == 4); /* every frame so far ended a batch */
	batches = g.batches;
	assert_int_equal(byte_source_drain(&bs), 2);
	assert_int_equal(capture_ring_pending(c), 0);
	assert_int_equal(g.n, 6);
	/* one batch end for the two frames, after them */
	assert_int_equal(g.batches, batches + 1);
	assert_int_equal(g.n_at_batch, 6);
	check_frame(&g, 4, 0xc0, t0, t1);
	check_frame(&g, 5, 0xc1, t0, t1);
	assert_int_equal(byte_source_drain(&bs), 0);
	assert_int_equal(g.batches, batches + 1); /* an empty drain ends no batch */
	assert_int_equal(g.errors, 0);

	close(sock);
	byte_source_free(&bs);
	evloop_free(l);
	capture_close(c);
}

static void cleanup(void)
{
	char cmd[128];

	if (!state_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup: %s failed\n", cmd);
	state_dir[0] = '\0';
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frames_reach_the_sink),
	};

	if (geteuid() == 0) {
		/* Our own netns: the veth pair and the hooks vanish with the process. */
		if (unshare(CLONE_NEWNET) < 0) {
			fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
			return 1;
		}
		snprintf(state_dir, sizeof(state_dir), "/tmp/floe-ps-state.XXXXXX");
		if (!mkdtemp(state_dir)) {
			fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
			return 1;
		}
		atexit(cleanup);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
