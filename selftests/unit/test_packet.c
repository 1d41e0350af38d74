// SPDX-License-Identifier: Apache-2.0
/* Unit tests: net/packet.c, the frame decoder, with hand-built frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <cmocka.h>

#include "net/packet.h"

/* ------------------------------------------------------------------ frame builder */

struct fb {
	uint8_t b[4096];
	size_t n;
};

static void p8(struct fb *f, uint8_t v)
{
	assert_true(f->n < sizeof(f->b));
	f->b[f->n++] = v;
}

static void p16(struct fb *f, uint16_t v)
{
	p8(f, (uint8_t)(v >> 8));
	p8(f, (uint8_t)v);
}

static void p32(struct fb *f, uint32_t v)
{
	p16(f, (uint16_t)(v >> 16));
	p16(f, (uint16_t)v);
}

static void pbytes(struct fb *f, const void *d, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, d, n);
	f->n += n;
}

static void pzero(struct fb *f, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memset(f->b + f->n, 0, n);
	f->n += n;
}

static void set16(struct fb *f, size_t off, uint16_t v)
{
	f->b[off] = (uint8_t)(v >> 8);
	f->b[off + 1] = (uint8_t)v;
}

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 1};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 2};
static const uint8_t IP4_A[4] = {10, 1, 2, 3};
static const uint8_t IP4_B[4] = {192, 168, 7, 9};
static const uint8_t IP6_A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t IP6_B[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};

static void eth(struct fb *f, uint16_t et)
{
	pbytes(f, MAC_B, 6);
	pbytes(f, MAC_A, 6);
	p16(f, et);
}

/* IPv4 header with `optwords` 32-bit option words; returns its offset (fix with ip4_end). */
static size_t ip4(struct fb *f, uint8_t proto, unsigned optwords, uint16_t frag)
{
	size_t off = f->n;

	p8(f, (uint8_t)(0x40 | (5 + optwords)));
	p8(f, 0);
	p16(f, 0); /* total length: ip4_end */
	p16(f, 0x1234);
	p16(f, frag);
	p8(f, 64);
	p8(f, proto);
	p16(f, 0);
	pbytes(f, IP4_A, 4);
	pbytes(f, IP4_B, 4);
	for (unsigned i = 0; i < optwords; i++)
		p32(f, 0x01010101); /* NOPs */
	return off;
}

static void ip4_end(struct fb *f, size_t off)
{
	set16(f, off + 2, (uint16_t)(f->n - off));
}

static size_t ip6(struct fb *f, uint8_t nh)
{
	size_t off = f->n;

	p32(f, 0x60000000);
	p16(f, 0); /* payload length: ip6_end */
	p8(f, nh);
	p8(f, 64);
	pbytes(f, IP6_A, 16);
	pbytes(f, IP6_B, 16);
	return off;
}

static void ip6_end(struct fb *f, size_t off)
{
	set16(f, off + 4, (uint16_t)(f->n - off - 40));
}

/* Generic extension header of (len8 + 1) * 8 bytes. */
static void ext6(struct fb *f, uint8_t nh, uint8_t len8)
{
	p8(f, nh);
	p8(f, len8);
	pzero(f, (size_t)(len8 + 1) * 8 - 2);
}

static void tcp(struct fb *f, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
		unsigned optwords)
{
	p16(f, sp);
	p16(f, dp);
	p32(f, seq);
	p32(f, ack);
	p8(f, (uint8_t)((5 + optwords) << 4));
	p8(f, flags);
	p16(f, 65000);
	p16(f, 0);
	p16(f, 0);
	for (unsigned i = 0; i < optwords; i++)
		p32(f, 0x01010101);
}

static size_t udp(struct fb *f, uint16_t sp, uint16_t dp)
{
	size_t off = f->n;

	p16(f, sp);
	p16(f, dp);
	p16(f, 0);
	p16(f, 0);
	return off;
}

static void udp_end(struct fb *f, size_t off)
{
	set16(f, off + 4, (uint16_t)(f->n - off));
}

/* Decode from an exact-size heap copy, so ASan catches any read past caplen. */
static int dec(int dlt, const struct fb *f, uint32_t caplen, uint32_t wirelen, struct packet *p)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, f->b, caplen);
	rc = packet_decode(dlt, copy, caplen, wirelen, 42, p);
	if (rc == PACKET_OK && p->payload_caplen) {
		/* payload must lie inside the captured frame */
		assert_true(p->payload >= copy);
		assert_true(p->payload + p->payload_caplen <= copy + caplen);
	}
	free(copy);
	return rc;
}

static int dec_all(int dlt, const struct fb *f, struct packet *p)
{
	return dec(dlt, f, (uint32_t)f->n, (uint32_t)f->n, p);
}

static const char PAY[] = "GET / HTTP/1.1\r\n\r\n";
#define PAYLEN ((uint32_t)sizeof(PAY) - 1)

static void assert_v4_tcp(const struct packet *p)
{
	static const uint8_t mapped_a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};

	assert_int_equal(p->family, AF_INET);
	assert_int_equal(p->l4_proto, IPPROTO_TCP);
	assert_true(p->flags & PACKET_F_L4);
	assert_memory_equal(p->src, mapped_a, 16);
	assert_true(packet_addr_is_v4mapped(p->dst));
	assert_memory_equal(p->dst + 12, IP4_B, 4);
	assert_int_equal(p->sport, 40000);
	assert_int_equal(p->dport, 80);
}

/* An Ethernet/IPv4/TCP frame with PAY, `opt` TCP option words. */
static void build_eth_v4_tcp(struct fb *f, unsigned ipopt, unsigned tcpopt)
{
	size_t ip;

	memset(f, 0, sizeof(*f));
	eth(f, 0x0800);
	ip = ip4(f, IPPROTO_TCP, ipopt, 0x4000 /* DF */);
	tcp(f, 40000, 80, 0xfffffff0u, 0x01020304u, TCP_F_ACK | TCP_F_PSH, tcpopt);
	pbytes(f, PAY, PAYLEN);
	ip4_end(f, ip);
}

/* ------------------------------------------------------------------ tests */

static void test_eth_ipv4_tcp(void **state)
{
	struct fb f;
	struct packet p;

	(void)state;
	build_eth_v4_tcp(&f, 0, 3);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_v4_tcp(&p);
	assert_int_equal(p.ts_ns, 42);
	assert_int_equal(p.seq, 0xfffffff0u);
	assert_int_equal(p.ack, 0x01020304u);
	assert_int_equal(p.tcp_flags, TCP_F_ACK | TCP_F_PSH);
	assert_int_equal(p.window, 65000);
	assert_int_equal(p.l3_offset, 14);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_caplen, PAYLEN);
	assert_int_equal(p.payload_wirelen, PAYLEN);
	assert_int_equal(p.flags, PACKET_F_L4);
	assert_int_equal(p.caplen, f.n);
	assert_int_equal(p.wirelen, f.n);
}

static void test_ipv4_options_and_padding(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip;

	(void)state;
	build_eth_v4_tcp(&f, 10, 0); /* IHL 15: 40 bytes of options */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_v4_tcp(&p);
	assert_int_equal(p.l4_offset, 14 + 60);
	assert_int_equal(p.payload_caplen, PAYLEN);

	/* A bare ACK padded to the 60-byte Ethernet minimum: padding is not payload. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ip = ip4(&f, IPPROTO_TCP, 0, 0);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	ip4_end(&f, ip);
	pzero(&f, 6);
	assert_int_equal(f.n, 60);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.payload_caplen, 0);
	assert_int_equal(p.payload_wirelen, 0);
}

static void test_snapped(void **state)
{
	struct fb f;
	struct packet p;

	(void)state;
	build_eth_v4_tcp(&f, 0, 0);
	/* 4 payload bytes captured out of PAYLEN. */
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 20 + 20 + 4, (uint32_t)f.n, &p), PACKET_OK);
	assert_int_equal(p.payload_caplen, 4);
	assert_int_equal(p.payload_wirelen, PAYLEN);
	assert_false(p.flags & PACKET_F_L4_SNAPPED);

	/* TCP options cut: the fixed header is there, the payload is known to be missing. */
	build_eth_v4_tcp(&f, 0, 3);
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 20 + 24, (uint32_t)f.n, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_L4_SNAPPED);
	assert_int_equal(p.seq, 0xfffffff0u);
	assert_int_equal(p.payload_caplen, 0);
	assert_int_equal(p.payload_wirelen, PAYLEN);
	assert_non_null(p.payload);

	/* Fixed TCP header cut: an error. */
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 20 + 19, (uint32_t)f.n, &p),
			 PACKET_ERR_TCP_TRUNCATED);
}

static void test_every_truncation(void **state)
{
	struct fb f;
	struct packet p;

	(void)state;
	/* Every caplen of a frame decodes or fails cleanly (ASan checks the reads). */
	build_eth_v4_tcp(&f, 2, 2);
	for (uint32_t c = 0; c <= f.n; c++) {
		int rc = dec(DLT_EN10MB, &f, c, (uint32_t)f.n, &p);

		if (c < 14)
			assert_int_equal(rc, PACKET_ERR_L2_TRUNCATED);
		else if (c < 14 + 28)
			assert_int_equal(rc, PACKET_ERR_IP4_TRUNCATED);
		else if (c < 14 + 28 + 20)
			assert_int_equal(rc, PACKET_ERR_TCP_TRUNCATED);
		else
			assert_int_equal(rc, PACKET_OK);
	}
}

static void test_vlan(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip;

	(void)state;
	/* 802.1Q */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x8100);
	p16(&f, 0x2064); /* PCP 1, VID 100 */
	p16(&f, 0x0800);
	ip = ip4(&f, IPPROTO_TCP, 0, 0);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f, PAY, PAYLEN);
	ip4_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_v4_tcp(&p);
	assert_true(p.flags & PACKET_F_VLAN);
	assert_int_equal(p.vlan_id, 100);
	assert_int_equal(p.l3_offset, 18);
	assert_int_equal(p.payload_caplen, PAYLEN);

	/* QinQ: 802.1ad outer, 802.1Q inner, IPv6 */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x88a8);
	p16(&f, 7);
	p16(&f, 0x8100);
	p16(&f, 8);
	p16(&f, 0x86dd);
	ip = ip6(&f, IPPROTO_TCP);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f, PAY, PAYLEN);
	ip6_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.vlan_id, 7);
	assert_int_equal(p.l3_offset, 22);
	assert_memory_equal(p.src, IP6_A, 16);
	assert_int_equal(p.payload_caplen, PAYLEN);

	/* Tag cut in the middle */
	assert_int_equal(dec(DLT_EN10MB, &f, 16, (uint32_t)f.n, &p), PACKET_ERR_VLAN_TRUNCATED);
	assert_int_equal(dec(DLT_EN10MB, &f, 20, (uint32_t)f.n, &p), PACKET_ERR_VLAN_TRUNCATED);

	/* Too many tags */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x9100);
	for (int i = 0; i < PACKET_MAX_VLAN_TAGS; i++) {
		p16(&f, 1);
		p16(&f, 0x8100);
	}
	p16(&f, 1);
	p16(&f, 0x0800);
	pzero(&f, 40);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_VLAN_DEPTH);
}

static void test_sll(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip;

	(void)state;
	memset(&f, 0, sizeof(f));
	p16(&f, 4);  /* sent by us */
	p16(&f, 1);  /* ARPHRD_ETHER */
	p16(&f, 6);
	pbytes(&f, MAC_A, 6);
	p16(&f, 0);
	p16(&f, 0x0800);
	ip = ip4(&f, IPPROTO_TCP, 0, 0);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f, PAY, PAYLEN);
	ip4_end(&f, ip);
	assert_int_equal(dec_all(DLT_LINUX_SLL, &f, &p), PACKET_OK);
	assert_v4_tcp(&p);
	assert_int_equal(p.l3_offset, 16);
	assert_int_equal(p.payload_caplen, PAYLEN);
	assert_int_equal(dec(DLT_LINUX_SLL, &f, 15, (uint32_t)f.n, &p), PACKET_ERR_L2_TRUNCATED);
	/* netlink */
	set16(&f, 2, 824);
	assert_int_equal(dec_all(DLT_LINUX_SLL, &f, &p), PACKET_ERR_NOT_IP);
	/* ARP */
	set16(&f, 2, 1);
	set16(&f, 14, 0x0806);
	assert_int_equal(dec_all(DLT_LINUX_SLL, &f, &p), PACKET_ERR_NOT_IP);

	/* SLL2 with IPv6 */
	memset(&f, 0, sizeof(f));
	p16(&f, 0x86dd);
	p16(&f, 0);
	p32(&f, 3); /* ifindex */
	p16(&f, 1); /* ARPHRD_ETHER */
	p8(&f, 0);
	p8(&f, 6);
	pbytes(&f, MAC_A, 6);
	p16(&f, 0);
	ip = ip6(&f, IPPROTO_TCP);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f, PAY, PAYLEN);
	ip6_end(&f, ip);
	assert_int_equal(dec_all(DLT_LINUX_SLL2, &f, &p), PACKET_OK);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.l3_offset, 20);
	assert_memory_equal(p.dst, IP6_B, 16);
	assert_int_equal(p.payload_caplen, PAYLEN);
	assert_int_equal(dec(DLT_LINUX_SLL2, &f, 19, (uint32_t)f.n, &p), PACKET_ERR_L2_TRUNCATED);
	set16(&f, 8, 824);
	assert_int_equal(dec_all(DLT_LINUX_SLL2, &f, &p), PACKET_ERR_NOT_IP);
}

static void test_raw_and_null(void **state)
{
	struct fb f4, f6, f;
	struct packet p;
	size_t ip;
	static const uint32_t fam6[] = {10, 24, 28, 30};

	(void)state;
	memset(&f4, 0, sizeof(f4));
	ip = ip4(&f4, IPPROTO_TCP, 0, 0);
	tcp(&f4, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f4, PAY, PAYLEN);
	ip4_end(&f4, ip);
	memset(&f6, 0, sizeof(f6));
	ip = ip6(&f6, IPPROTO_TCP);
	tcp(&f6, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f6, PAY, PAYLEN);
	ip6_end(&f6, ip);

	assert_int_equal(dec_all(DLT_RAW, &f4, &p), PACKET_OK);
	assert_v4_tcp(&p);
	assert_int_equal(p.l3_offset, 0);
	assert_int_equal(dec_all(PACKET_LINKTYPE_RAW, &f6, &p), PACKET_OK);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(dec_all(DLT_IPV4, &f4, &p), PACKET_OK);
	assert_int_equal(dec_all(DLT_IPV6, &f6, &p), PACKET_OK);
	assert_int_equal(dec_all(DLT_IPV4, &f6, &p), PACKET_ERR_IP_VERSION);
	assert_int_equal(dec_all(DLT_IPV6, &f4, &p), PACKET_ERR_IP_VERSION);
	assert_int_equal(dec(DLT_RAW, &f4, 0, 0, &p), PACKET_ERR_IP_MISSING);
	f = f4;
	f.b[0] = 0x55;
	assert_int_equal(dec_all(DLT_RAW, &f, &p), PACKET_ERR_IP_VERSION);

	/* DLT_NULL: AF_INET in little endian (the usual host order), IPv6 values in both. */
	memset(&f, 0, sizeof(f));
	p32(&f, 0x02000000); /* AF_INET, little endian */
	pbytes(&f, f4.b, f4.n);
	assert_int_equal(dec_all(DLT_NULL, &f, &p), PACKET_OK);
	assert_v4_tcp(&p);
	assert_int_equal(p.l3_offset, 4);
	for (size_t i = 0; i < sizeof(fam6) / sizeof(fam6[0]); i++) {
		memset(&f, 0, sizeof(f));
		p32(&f, fam6[i]); /* big endian (DLT_LOOP) */
		pbytes(&f, f6.b, f6.n);
		assert_int_equal(dec_all(DLT_LOOP, &f, &p), PACKET_OK);
		assert_int_equal(p.family, AF_INET6);
		f.b[0] = (uint8_t)fam6[i];
		f.b[3] = 0; /* little endian */
		assert_int_equal(dec_all(DLT_NULL, &f, &p), PACKET_OK);
		assert_int_equal(p.family, AF_INET6);
	}
	memset(&f, 0, sizeof(f));
	p32(&f, 2);
	pbytes(&f, f6.b, f6.n); /* says IPv4, carries IPv6 */
	assert_int_equal(dec_all(DLT_NULL, &f, &p), PACKET_ERR_IP_VERSION);
	f.b[3] = 7;
	assert_int_equal(dec_all(DLT_NULL, &f, &p), PACKET_ERR_NULL_FAMILY);
	assert_int_equal(dec(DLT_NULL, &f, 3, 3, &p), PACKET_ERR_L2_TRUNCATED);
}

static void test_ipv4_fragments(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip;

	(void)state;
	/* First fragment (MF): L4 decoded, flagged. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ip = ip4(&f, IPPROTO_TCP, 0, 0x2000);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f, PAY, PAYLEN);
	ip4_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_FRAGMENT);
	assert_true(p.flags & PACKET_F_L4);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.payload_wirelen, PAYLEN);

	/* Later fragment: no L4. */
	set16(&f, ip + 6, 0x0003); /* offset 24 bytes, last */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_FRAGMENT);
	assert_false(p.flags & PACKET_F_L4);
	assert_int_equal(p.l4_proto, IPPROTO_TCP);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.payload_wirelen, 20 + PAYLEN);
	assert_int_equal(p.payload_caplen, 20 + PAYLEN);

	/* First fragment of a UDP datagram: the UDP length covers the whole datagram. */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ip = ip4(&f, IPPROTO_UDP, 0, 0x2000);
	udp(&f, 5353, 53);
	set16(&f, f.n - 4, 3000);
	pbytes(&f, PAY, PAYLEN);
	ip4_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_FRAGMENT);
	assert_int_equal(p.payload_wirelen, PAYLEN);
}

static void test_ipv4_malformed(void **state)
{
	struct fb f;
	struct packet p;

	(void)state;
	build_eth_v4_tcp(&f, 0, 0);
	f.b[14] = 0x44; /* IHL 4 */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP4_HDR_LEN);
	f.b[14] = 0x65; /* version 6 under ethertype IPv4 */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP_VERSION);

	build_eth_v4_tcp(&f, 0, 0);
	set16(&f, 16, 19); /* total < header */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP4_TOTAL_LEN);
	set16(&f, 16, (uint16_t)(f.n - 14 + 1)); /* beyond the frame */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP4_BEYOND_FRAME);
	set16(&f, 16, 30); /* 10 bytes of TCP */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_L4_BEYOND_IP);
	set16(&f, 16, 44); /* 24 bytes of TCP, data offset says 20: 4 bytes payload */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.payload_wirelen, 4);
	assert_int_equal(p.payload_caplen, 4);

	/* TCP data offset */
	build_eth_v4_tcp(&f, 0, 0);
	f.b[34 + 12] = 0x40;
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_TCP_HDR_LEN);
	f.b[34 + 12] = 0xf0; /* 60 bytes > 20 + PAYLEN? PAYLEN is 18: yes */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_TCP_BEYOND_IP);

	/* TSO super-packet: total length 0, taken from the frame. */
	build_eth_v4_tcp(&f, 0, 0);
	set16(&f, 16, 0);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_LEN_FROM_FRAME);
	assert_int_equal(p.payload_wirelen, PAYLEN);

	/* ARP, 802.3 length field */
	build_eth_v4_tcp(&f, 0, 0);
	set16(&f, 12, 0x0806);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_NOT_IP);
	set16(&f, 12, 0x0040);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_NOT_IP);
}

static void test_ipv6_ext(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip;

	(void)state;
	/* hop-by-hop, routing, destination options, AH, then TCP */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ip = ip6(&f, 0);
	ext6(&f, 43, 0);
	ext6(&f, 60, 2);
	ext6(&f, 51, 0);
	/* AH: next header, length in 4-byte units minus 2: 12 bytes = 1 */
	p8(&f, IPPROTO_TCP);
	p8(&f, 1);
	pzero(&f, 10);
	tcp(&f, 40000, 80, 7, 8, TCP_F_ACK | TCP_F_FIN, 1);
	pbytes(&f, PAY, PAYLEN);
	ip6_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.l4_proto, IPPROTO_TCP);
	assert_int_equal(p.l4_offset, 14 + 40 + 8 + 24 + 8 + 12);
	assert_int_equal(p.seq, 7);
	assert_int_equal(p.tcp_flags, TCP_F_ACK | TCP_F_FIN);
	assert_int_equal(p.payload_caplen, PAYLEN);
	assert_int_equal(p.payload_wirelen, PAYLEN);

	/* extension header cut by the capture vs running past the payload length */
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 40 + 1, (uint32_t)f.n, &p),
			 PACKET_ERR_IP6_EXT_TRUNCATED);
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 40 + 8 + 10, (uint32_t)f.n, &p),
			 PACKET_ERR_IP6_EXT_TRUNCATED);
	set16(&f, 14 + 4, 8 + 16);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP6_EXT_LEN);
	set16(&f, 14 + 4, 8 + 1);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP6_EXT_LEN);
	set16(&f, 14 + 4, (uint16_t)(f.n - 14 - 40 + 1));
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP6_BEYOND_FRAME);
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 39, (uint32_t)f.n, &p), PACKET_ERR_IP6_TRUNCATED);

	/* too many extension headers */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ip = ip6(&f, 60);
	for (int i = 0; i < PACKET_MAX_IP6_EXT + 1; i++)
		ext6(&f, 60, 0);
	ip6_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_IP6_EXT_DEPTH);

	/* no next header */
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ip = ip6(&f, 59);
	ip6_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.l4_proto, 59);
	assert_false(p.flags & PACKET_F_L4);
	assert_int_equal(p.payload_wirelen, 0);
}

static void test_ipv6_fragments(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip, fh;

	(void)state;
	memset(&f, 0, sizeof(f));
	eth(&f, 0x86dd);
	ip = ip6(&f, 44);
	fh = f.n;
	p8(&f, IPPROTO_TCP);
	p8(&f, 0);
	p16(&f, 0x0001); /* offset 0, M */
	p32(&f, 0xabcd);
	tcp(&f, 40000, 80, 1, 2, TCP_F_ACK, 0);
	pbytes(&f, PAY, PAYLEN);
	ip6_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_FRAGMENT);
	assert_true(p.flags & PACKET_F_L4);
	assert_int_equal(p.payload_wirelen, PAYLEN);

	set16(&f, fh + 2, 0x0010); /* offset 16, last */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_true(p.flags & PACKET_F_FRAGMENT);
	assert_false(p.flags & PACKET_F_L4);
	assert_int_equal(p.l4_proto, IPPROTO_TCP);
	assert_int_equal(p.payload_wirelen, 20 + PAYLEN);
}

static void test_udp(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip, u;

	(void)state;
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ip = ip4(&f, IPPROTO_UDP, 0, 0);
	u = udp(&f, 5353, 53);
	pbytes(&f, PAY, PAYLEN);
	udp_end(&f, u);
	ip4_end(&f, ip);
	pzero(&f, 3); /* trailer */
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.l4_proto, IPPROTO_UDP);
	assert_true(p.flags & PACKET_F_L4);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_caplen, PAYLEN);
	assert_int_equal(p.payload_wirelen, PAYLEN);
	assert_memory_equal(p.payload, PAY, PAYLEN);

	/* UDP length shorter than the IP payload: the UDP length wins */
	set16(&f, u + 4, 8 + 4);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.payload_wirelen, 4);
	assert_int_equal(p.payload_caplen, 4);
	set16(&f, u + 4, 7);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_UDP_LEN);
	set16(&f, u + 4, (uint16_t)(8 + PAYLEN + 1));
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_UDP_LEN);
	assert_int_equal(dec(DLT_EN10MB, &f, 14 + 20 + 7, (uint32_t)f.n, &p),
			 PACKET_ERR_UDP_TRUNCATED);
	set16(&f, ip + 2, 20 + 6);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_ERR_L4_BEYOND_IP);
}

static void test_other_l4(void **state)
{
	struct fb f;
	struct packet p;
	size_t ip;

	(void)state;
	memset(&f, 0, sizeof(f));
	eth(&f, 0x0800);
	ip = ip4(&f, IPPROTO_ICMP, 0, 0);
	p32(&f, 0x08000000);
	p32(&f, 1);
	ip4_end(&f, ip);
	assert_int_equal(dec_all(DLT_EN10MB, &f, &p), PACKET_OK);
	assert_int_equal(p.l4_proto, IPPROTO_ICMP);
	assert_false(p.flags & PACKET_F_L4);
	assert_int_equal(p.payload_wirelen, 8);
	assert_int_equal(p.payload_caplen, 8);
}

static void test_args_and_strings(void **state)
{
	struct fb f;
	struct packet p;

	(void)state;
	build_eth_v4_tcp(&f, 0, 0);
	assert_int_equal(packet_decode(DLT_EN10MB, NULL, 10, 10, 0, &p), PACKET_ERR_ARG);
	assert_int_equal(packet_decode(DLT_EN10MB, f.b, 10, 10, 0, NULL), PACKET_ERR_ARG);
	assert_int_equal(dec(DLT_EN10MB, &f, (uint32_t)f.n, (uint32_t)f.n - 1, &p),
			 PACKET_ERR_CAPLEN);
	assert_int_equal(dec_all(9999, &f, &p), PACKET_ERR_DLT);
	assert_int_equal(dec_all(DLT_IEEE802_11, &f, &p), PACKET_ERR_DLT);

	/* every error has its own name */
	for (int e = 0; e >= PACKET_ERR__MIN; e--) {
		const char *s = packet_strerror(e);

		assert_string_not_equal(s, "unknown");
		for (int g = 0; g > e; g--)
			assert_string_not_equal(s, packet_strerror(g));
	}
	assert_string_equal(packet_strerror(PACKET_ERR__MIN - 1), "unknown");
	assert_string_equal(packet_strerror(1), "unknown");
	assert_string_equal(packet_strerror(PACKET_OK), "ok");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4_tcp),
		cmocka_unit_test(test_ipv4_options_and_padding),
		cmocka_unit_test(test_snapped),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_sll),
		cmocka_unit_test(test_raw_and_null),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_malformed),
		cmocka_unit_test(test_ipv6_ext),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_other_l4),
		cmocka_unit_test(test_args_and_strings),
	};

	return cmocka_run_group_tests_name("packet", tests, NULL, NULL);
}
