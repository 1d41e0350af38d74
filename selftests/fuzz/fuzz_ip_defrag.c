// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for net/ip_defrag.c.
 *
 * Input: a run of raw IP frames, each as a 2-byte big-endian length and that many bytes,
 * decoded as DLT_RAW with times 1, 2, ...; fragments go to the defragmenter; at the end every
 * datagram still open is given up. Besides memory safety (ASan/UBSan) it checks what a
 * delivered datagram promises: a decoded TCP or UDP packet, captured <= wire bytes, a whole
 * one fully captured, times in order; and that nothing is pending after the final expiry.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ip_defrag.h"
#include "net/packet.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void on_datagram(void *ctx, const struct packet *p, uint64_t ts_first, bool whole)
{
	volatile uint8_t sink = 0;

	(void)ctx;
	CHECK(p->flags == PACKET_F_L4);
	CHECK(p->l4_proto == IPPROTO_TCP || p->l4_proto == IPPROTO_UDP);
	CHECK(p->payload_caplen <= p->payload_wirelen);
	CHECK(!whole || p->payload_caplen == p->payload_wirelen);
	CHECK(p->frame == NULL && ts_first <= p->ts_ns);
	for (uint32_t i = 0; i < p->payload_caplen; i++) /* every byte readable */
		sink ^= p->payload[i];
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ip_defrag *d = ip_defrag_new(on_datagram, NULL);
	struct ip_defrag_stats st;
	uint64_t ts = 1;

	if (!d)
		return 0;
	while (size >= 2) {
		size_t n = (size_t)data[0] << 8 | data[1];
		uint8_t *frame;
		struct packet p;

		data += 2, size -= 2;
		if (n > size)
			n = size;
		/* An exact-size copy: a read past the frame is caught. */
		frame = malloc(n ? n : 1);
		if (!frame)
			break;
		memcpy(frame, data, n);
		if (packet_decode(12 /* DLT_RAW */, frame, (uint32_t)n, (uint32_t)n, ts++, &p) ==
			PACKET_OK &&
		    (p.flags & PACKET_F_FRAGMENT))
			ip_defrag_add(d, &p);
		free(frame);
		data += n, size -= n;
	}
	ip_defrag_expire(d, 0, true);
	CHECK(ip_defrag_pending(d) == 0);
	ip_defrag_get_stats(d, &st);
	CHECK(st.reassembled + st.given_up <= st.fragments);
	ip_defrag_free(d);
	return 0;
}
