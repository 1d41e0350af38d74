// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for net/packet.c (packet_decode).
 *
 * Input: byte 0 picks the link type (from the supported ones plus one unsupported), byte 1
 * how many bytes the frame had on the wire beyond those captured (a snapped frame); the rest
 * is the captured frame. Besides memory safety (ASan/UBSan; libFuzzer's buffer is exactly the
 * input's size, so any read past caplen is caught), it checks what a successful decode
 * promises: payload inside the captured frame, captured <= wire lengths, a known family, an
 * IPv4 address in its mapped form, flags consistent; and that an error is a named
 * enum packet_err.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pcap/dlt.h>

#include "net/packet.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static const int dlts[] = {
	DLT_EN10MB, DLT_LINUX_SLL, 276 /* SLL2 */, DLT_RAW, PACKET_LINKTYPE_RAW, 228 /* IPV4 */,
	229 /* IPV6 */, DLT_NULL, DLT_LOOP, 9999 /* unsupported */,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet p;
	const uint8_t *frame;
	uint32_t caplen, wirelen;
	int dlt, rc;

	if (size < 2)
		return 0;
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	frame = data + 2;
	caplen = (uint32_t)(size - 2);
	wirelen = caplen + (data[1] < 0xf0 ? data[1] : (uint32_t)(data[1] - 0xf0) << 12);
	rc = packet_decode(dlt, frame, caplen, wirelen, 7, &p);
	if (rc != PACKET_OK) {
		CHECK(rc < 0 && rc >= PACKET_ERR__MIN);
		CHECK(strcmp(packet_strerror(rc), "unknown") != 0);
		return 0;
	}
	CHECK(p.ts_ns == 7 && p.caplen == caplen && p.wirelen == wirelen && p.frame == frame);
	CHECK(p.family == AF_INET || p.family == AF_INET6);
	if (p.family == AF_INET)
		CHECK(packet_addr_is_v4mapped(p.src) && packet_addr_is_v4mapped(p.dst));
	CHECK(p.payload != NULL);
	CHECK(p.payload >= frame && p.payload <= frame + caplen);
	CHECK(p.payload_caplen <= (uint32_t)(frame + caplen - p.payload));
	CHECK(p.payload_caplen <= p.payload_wirelen);
	CHECK(p.payload_wirelen <= wirelen);
	CHECK(p.l3_offset < caplen);
	CHECK(p.l4_offset <= caplen);
	if (p.flags & PACKET_F_L4)
		CHECK(p.l4_proto == IPPROTO_TCP || p.l4_proto == IPPROTO_UDP);
	if (p.flags & PACKET_F_L4_SNAPPED)
		CHECK(p.l4_proto == IPPROTO_TCP && p.payload_caplen == 0);
	if (p.payload_caplen) {
		/* touch every payload byte: ASan reports if any lies outside the input */
		volatile uint8_t sum = 0;

		for (uint32_t i = 0; i < p.payload_caplen; i++)
			sum ^= p.payload[i];
		(void)sum;
	}
	return 0;
}
