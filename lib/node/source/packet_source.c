// SPDX-License-Identifier: Apache-2.0
#include "source/packet_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/dlt.h>

#include "source/clock_offset.h"
#include "source/drain_pace.h"

#define CLOCK_REFRESH_NS 1000000000ull

struct packet_source {
	struct capture *capture;
	struct evloop *loop;
	struct byte_sink sink;
	struct evloop_fd *ring_src;
	struct evloop_timer *drain, *clock;
	uint64_t drain_gap_ns;	 /* the drain timer's current gap */
	int64_t mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	int failed;		 /* a drain failed: the sink was told, no more reading */
};

static void refresh_clock_offset(struct packet_source *ps)
{
	ps->mono_to_real_ns = clock_offset_mono_to_real();
}

static int on_record(void *ctx, const struct floe_pkt_record *rec, const uint8_t *frame)
{
	struct packet_source *ps = ctx;
	struct byte_frame f = {
	    .linktype = DLT_EN10MB,
	    .data = frame,
	    .cap_len = rec->cap_len,
	    .wire_len = rec->pkt_len,
	    .ts_ns = (uint64_t)((int64_t)rec->hdr.ts_ns + ps->mono_to_real_ns),
	};

	ps->sink.frame(ps->sink.ctx, &f);
	return 0;
}

static int drain(struct packet_source *ps)
{
	int n;

	if (ps->failed)
		return -ps->failed;
	n = capture_drain(ps->capture);
	if (n > 0 && ps->sink.batch_end)
		ps->sink.batch_end(ps->sink.ctx);
	if (n < 0) {
		ps->failed = -n;
		evloop_timer_set(ps->loop, ps->drain, 0, 0);
		if (ps->sink.error)
			ps->sink.error(ps->sink.ctx, -n, "ring buffer");
	}
	return n;
}

/* Drain, then pick the next gap: batches of about PACKET_SOURCE_DRAIN_BATCH records while
 * records come, doubling while none do. */
static void drain_and_rearm(struct packet_source *ps, int woken)
{
	int n = drain(ps);

	if (n < 0)
		return;
	ps->drain_gap_ns = drain_pace_next_batch(
	    ps->drain_gap_ns, n, woken, PACKET_SOURCE_DRAIN_MIN_NS, PACKET_SOURCE_DRAIN_ACTIVE_NS,
	    PACKET_SOURCE_DRAIN_MAX_NS, PACKET_SOURCE_DRAIN_BATCH);
	evloop_timer_set(ps->loop, ps->drain, ps->drain_gap_ns, 0);
}

static void on_drain_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	drain_and_rearm(ctx, 0);
}

static void on_ring_ready(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	drain_and_rearm(ctx, 1);
}

static void on_clock_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	refresh_clock_offset(ctx);
}

static int ps_start(void *impl, struct evloop *loop, const struct byte_sink *sink, char *err,
		    size_t errlen)
{
	struct packet_source *ps = impl;
	int ret;

	ps->loop = loop;
	ps->sink = *sink;
	ps->drain_gap_ns = PACKET_SOURCE_DRAIN_MIN_NS;
	refresh_clock_offset(ps);
	capture_set_record_fn(ps->capture, on_record, ps);
	ret = evloop_add_fd(loop, capture_ring_fd(ps->capture), EVLOOP_IN, on_ring_ready, ps,
			    &ps->ring_src);
	if (!ret)
		ret = evloop_add_timer(loop, ps->drain_gap_ns, 0, on_drain_timer, ps, &ps->drain);
	if (!ret)
		ret = evloop_add_timer(loop, CLOCK_REFRESH_NS, CLOCK_REFRESH_NS, on_clock_timer, ps,
				       &ps->clock);
	if (ret < 0)
		snprintf(err, errlen, "ring buffer: cannot watch it: %s", strerror(-ret));
	return ret;
}

static int ps_drain(void *impl)
{
	struct packet_source *ps = impl;
	int total = 0, n;

	/* consume returns what it found at its start: go on until a pass finds nothing */
	while ((n = drain(ps)) > 0)
		total += n;
	return n < 0 ? n : total;
}

static void ps_free(void *impl)
{
	struct packet_source *ps = impl;

	if (!ps)
		return;
	capture_set_record_fn(ps->capture, NULL, NULL);
	if (ps->loop) {
		evloop_del_fd(ps->loop, ps->ring_src);
		evloop_del_timer(ps->loop, ps->drain);
		evloop_del_timer(ps->loop, ps->clock);
	}
	free(ps);
}

static const struct byte_source_ops packet_source_ops = {
    .name = "tc-ring",
    .start = ps_start,
    .drain = ps_drain,
    .free = ps_free,
};

int packet_source_new(struct capture *c, struct byte_source *out)
{
	struct packet_source *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	ps->capture = c;
	out->ops = &packet_source_ops;
	out->impl = ps;
	return 0;
}
