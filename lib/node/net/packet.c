// SPDX-License-Identifier: Apache-2.0
/*
 * packet: frame decoder (link layer, IPv4/IPv6, TCP/UDP). See packet.h.
 *
 * Every read is preceded by a bounds check against caplen; lengths are kept in uint32_t and
 * compared before they are subtracted, so nothing wraps.
 */
#include "net/packet.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pcap/dlt.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define ETH_HLEN_      14u
#define SLL_HLEN       16u
#define SLL2_HLEN      20u
#define NULL_HLEN      4u
#define IP4_MIN_HLEN   20u
#define IP6_HLEN       40u
#define TCP_MIN_HLEN   20u
#define UDP_HLEN       8u

#define ETHERTYPE_IPV4_  0x0800u
#define ETHERTYPE_IPV6_  0x86ddu
#define ETHERTYPE_8021Q  0x8100u
#define ETHERTYPE_8021AD 0x88a8u
#define ETHERTYPE_QINQ   0x9100u

#define ARPHRD_NETLINK_ 824u

/* IPv6 extension headers the decoder walks through. */
#define IP6_NH_HOPOPTS 0u
#define IP6_NH_ROUTING 43u
#define IP6_NH_FRAGMENT 44u
#define IP6_NH_AH      51u
#define IP6_NH_NONE    59u
#define IP6_NH_DSTOPTS 60u

static const char *const packet_err_names[] = {
	[0] = "ok",
	[-PACKET_ERR_ARG] = "bad-argument",
	[-PACKET_ERR_DLT] = "unsupported-link-type",
	[-PACKET_ERR_CAPLEN] = "caplen-above-wirelen",
	[-PACKET_ERR_L2_TRUNCATED] = "l2-truncated",
	[-PACKET_ERR_VLAN_TRUNCATED] = "vlan-truncated",
	[-PACKET_ERR_VLAN_DEPTH] = "vlan-too-deep",
	[-PACKET_ERR_NOT_IP] = "not-ip",
	[-PACKET_ERR_NULL_FAMILY] = "null-family-unknown",
	[-PACKET_ERR_IP_MISSING] = "ip-missing",
	[-PACKET_ERR_IP_VERSION] = "ip-version",
	[-PACKET_ERR_IP4_TRUNCATED] = "ip4-truncated",
	[-PACKET_ERR_IP4_HDR_LEN] = "ip4-header-length",
	[-PACKET_ERR_IP4_TOTAL_LEN] = "ip4-total-length",
	[-PACKET_ERR_IP4_BEYOND_FRAME] = "ip4-beyond-frame",
	[-PACKET_ERR_IP6_TRUNCATED] = "ip6-truncated",
	[-PACKET_ERR_IP6_BEYOND_FRAME] = "ip6-beyond-frame",
	[-PACKET_ERR_IP6_EXT_TRUNCATED] = "ip6-ext-truncated",
	[-PACKET_ERR_IP6_EXT_LEN] = "ip6-ext-length",
	[-PACKET_ERR_IP6_EXT_DEPTH] = "ip6-ext-too-deep",
	[-PACKET_ERR_L4_BEYOND_IP] = "l4-beyond-ip",
	[-PACKET_ERR_TCP_TRUNCATED] = "tcp-truncated",
	[-PACKET_ERR_TCP_HDR_LEN] = "tcp-header-length",
	[-PACKET_ERR_TCP_BEYOND_IP] = "tcp-beyond-ip",
	[-PACKET_ERR_UDP_TRUNCATED] = "udp-truncated",
	[-PACKET_ERR_UDP_LEN] = "udp-length",
};

const char *packet_strerror(int err)
{
	if (err > 0 || err < PACKET_ERR__MIN)
		return "unknown";
	return packet_err_names[-err];
}

bool packet_addr_is_v4mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Where decoding stands: the frame, and the IP packet's end on the wire (as a frame offset). */
struct cursor {
	const uint8_t *f;
	uint32_t caplen;
	uint32_t wirelen;
};

static void map_v4(uint8_t dst[16], const uint8_t *a4)
{
	memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	memcpy(dst + 12, a4, 4);
}

/*
 * L4 at frame offset l4 with the IP packet ending at `end` (frame offset, <= wirelen).
 * first: the L4 header is present (not a later fragment).
 */
static int decode_l4(const struct cursor *c, uint32_t l4, uint32_t end, bool first,
		     struct packet *out)
{
	uint32_t cap_end = c->caplen < end ? c->caplen : end;
	uint32_t l4_wire = end - l4;                       /* end >= l4 checked by callers */
	uint32_t l4_cap = cap_end > l4 ? cap_end - l4 : 0;
	const uint8_t *h = c->f + l4;

	out->l4_offset = (uint16_t)(l4 > 0xffff ? 0xffff : l4);
	if (!first || (out->l4_proto != IPPROTO_TCP && out->l4_proto != IPPROTO_UDP)) {
		/* Later fragment or another protocol: the payload is what the IP header carries. */
		out->payload = c->f + (l4 < c->caplen ? l4 : c->caplen);
		out->payload_caplen = l4_cap;
		out->payload_wirelen = l4_wire;
		return PACKET_OK;
	}
	if (out->l4_proto == IPPROTO_TCP) {
		uint32_t doff;

		if (l4_wire < TCP_MIN_HLEN)
			return PACKET_ERR_L4_BEYOND_IP;
		if (l4_cap < TCP_MIN_HLEN)
			return PACKET_ERR_TCP_TRUNCATED;
		doff = (uint32_t)(h[12] >> 4) * 4u;
		if (doff < TCP_MIN_HLEN)
			return PACKET_ERR_TCP_HDR_LEN;
		if (doff > l4_wire)
			return PACKET_ERR_TCP_BEYOND_IP;
		out->sport = rd16(h);
		out->dport = rd16(h + 2);
		out->seq = rd32(h + 4);
		out->ack = rd32(h + 8);
		out->tcp_flags = h[13];
		out->window = rd16(h + 14);
		out->flags |= PACKET_F_L4;
		out->payload_wirelen = l4_wire - doff;
		if (doff > l4_cap) {
			out->flags |= PACKET_F_L4_SNAPPED;
			out->payload = h + l4_cap;
			out->payload_caplen = 0;
		} else {
			out->payload = h + doff;
			out->payload_caplen = l4_cap - doff;
		}
		return PACKET_OK;
	}
	/* UDP */
	{
		uint32_t ulen;

		if (l4_wire < UDP_HLEN)
			return PACKET_ERR_L4_BEYOND_IP;
		if (l4_cap < UDP_HLEN)
			return PACKET_ERR_UDP_TRUNCATED;
		ulen = rd16(h + 4);
		if (out->flags & PACKET_F_FRAGMENT) {
			/* First fragment: the UDP length covers the whole datagram; the payload
			 * here is this fragment's part. */
			ulen = l4_wire;
		} else if (ulen == 0 && (out->flags & PACKET_F_LEN_FROM_FRAME)) {
			ulen = l4_wire; /* jumbogram / GSO: length from the frame */
		} else if (ulen < UDP_HLEN || ulen > l4_wire) {
			return PACKET_ERR_UDP_LEN;
		}
		out->sport = rd16(h);
		out->dport = rd16(h + 2);
		out->flags |= PACKET_F_L4;
		out->payload = h + UDP_HLEN;
		out->payload_wirelen = ulen - UDP_HLEN;
		out->payload_caplen = l4_cap - UDP_HLEN;
		if (out->payload_caplen > out->payload_wirelen)
			out->payload_caplen = out->payload_wirelen;
		return PACKET_OK;
	}
}

static int decode_ip4(const struct cursor *c, uint32_t off, struct packet *out)
{
	const uint8_t *h = c->f + off;
	uint32_t cap = c->caplen - off; /* off <= caplen checked by callers */
	uint32_t wire = c->wirelen - off;
	uint32_t ihl, tot;
	uint16_t frag;

	if (cap < 1)
		return PACKET_ERR_IP4_TRUNCATED;
	if ((h[0] >> 4) != 4)
		return PACKET_ERR_IP_VERSION;
	if (cap < IP4_MIN_HLEN)
		return PACKET_ERR_IP4_TRUNCATED;
	ihl = (uint32_t)(h[0] & 0x0f) * 4u;
	if (ihl < IP4_MIN_HLEN)
		return PACKET_ERR_IP4_HDR_LEN;
	if (cap < ihl)
		return PACKET_ERR_IP4_TRUNCATED;
	tot = rd16(h + 2);
	if (tot == 0) {
		tot = wire;
		out->flags |= PACKET_F_LEN_FROM_FRAME;
	}
	if (tot < ihl)
		return PACKET_ERR_IP4_TOTAL_LEN;
	if (tot > wire)
		return PACKET_ERR_IP4_BEYOND_FRAME;
	out->family = AF_INET;
	out->l3_offset = (uint16_t)off;
	out->l4_proto = h[9];
	map_v4(out->src, h + 12);
	map_v4(out->dst, h + 16);
	frag = rd16(h + 6);
	if (frag & 0x3fffu) /* MF or an offset */
		out->flags |= PACKET_F_FRAGMENT;
	return decode_l4(c, off + ihl, off + tot, (frag & 0x1fffu) == 0, out);
}

static int decode_ip6(const struct cursor *c, uint32_t off, struct packet *out)
{
	const uint8_t *h = c->f + off;
	uint32_t cap = c->caplen - off;
	uint32_t wire = c->wirelen - off;
	uint32_t plen, cur, end;
	uint8_t nh;
	bool first = true;

	if (cap < 1)
		return PACKET_ERR_IP6_TRUNCATED;
	if ((h[0] >> 4) != 6)
		return PACKET_ERR_IP_VERSION;
	if (cap < IP6_HLEN)
		return PACKET_ERR_IP6_TRUNCATED;
	plen = rd16(h + 4);
	nh = h[6];
	if (wire < IP6_HLEN) /* cannot happen (cap <= wire), kept for clarity */
		return PACKET_ERR_IP6_TRUNCATED;
	if (plen == 0 && nh != IP6_NH_NONE) {
		plen = wire - IP6_HLEN;
		out->flags |= PACKET_F_LEN_FROM_FRAME;
	}
	if (plen > wire - IP6_HLEN)
		return PACKET_ERR_IP6_BEYOND_FRAME;
	out->family = AF_INET6;
	out->l3_offset = (uint16_t)off;
	memcpy(out->src, h + 8, 16);
	memcpy(out->dst, h + 24, 16);
	cur = off + IP6_HLEN;
	end = cur + plen;
	for (unsigned depth = 0;; depth++) {
		uint32_t len;
		const uint8_t *e;

		if (nh != IP6_NH_HOPOPTS && nh != IP6_NH_ROUTING && nh != IP6_NH_DSTOPTS &&
		    nh != IP6_NH_FRAGMENT && nh != IP6_NH_AH)
			break;
		if (depth >= PACKET_MAX_IP6_EXT)
			return PACKET_ERR_IP6_EXT_DEPTH;
		if (end - cur < 2)
			return PACKET_ERR_IP6_EXT_LEN;
		if (c->caplen < cur || c->caplen - cur < 2)
			return PACKET_ERR_IP6_EXT_TRUNCATED;
		e = c->f + cur;
		if (nh == IP6_NH_FRAGMENT)
			len = 8;
		else if (nh == IP6_NH_AH)
			len = ((uint32_t)e[1] + 2u) * 4u;
		else
			len = ((uint32_t)e[1] + 1u) * 8u;
		if (end - cur < len)
			return PACKET_ERR_IP6_EXT_LEN;
		if (c->caplen - cur < len)
			return PACKET_ERR_IP6_EXT_TRUNCATED;
		if (nh == IP6_NH_FRAGMENT) {
			out->flags |= PACKET_F_FRAGMENT;
			if ((rd16(e + 2) & 0xfff8u) != 0)
				first = false;
		}
		nh = e[0];
		cur += len;
		if (!first)
			break; /* a later fragment: what follows is fragment data */
	}
	out->l4_proto = nh;
	if (nh == IP6_NH_NONE && first) {
		out->payload = c->f + (cur < c->caplen ? cur : c->caplen);
		out->payload_caplen = 0;
		out->payload_wirelen = 0;
		out->l4_offset = (uint16_t)(cur > 0xffff ? 0xffff : cur);
		return PACKET_OK;
	}
	return decode_l4(c, cur, end, first, out);
}

/* Ethertype (possibly VLAN-tagged) at frame offset *off: dispatch to IPv4/IPv6. */
static int decode_ethertype(const struct cursor *c, uint32_t off, uint16_t et, struct packet *out)
{
	for (unsigned depth = 0;
	     et == ETHERTYPE_8021Q || et == ETHERTYPE_8021AD || et == ETHERTYPE_QINQ; depth++) {
		if (depth >= PACKET_MAX_VLAN_TAGS)
			return PACKET_ERR_VLAN_DEPTH;
		if (c->caplen - off < 4)
			return PACKET_ERR_VLAN_TRUNCATED;
		if (depth == 0) {
			out->flags |= PACKET_F_VLAN;
			out->vlan_id = rd16(c->f + off) & 0x0fffu;
		}
		et = rd16(c->f + off + 2);
		off += 4;
	}
	if (et == ETHERTYPE_IPV4_)
		return decode_ip4(c, off, out);
	if (et == ETHERTYPE_IPV6_)
		return decode_ip6(c, off, out);
	return PACKET_ERR_NOT_IP;
}

static int decode_raw(const struct cursor *c, uint32_t off, int want, struct packet *out)
{
	unsigned v;

	if (c->caplen - off < 1)
		return PACKET_ERR_IP_MISSING;
	v = c->f[off] >> 4;
	if (want && (int)v != want)
		return PACKET_ERR_IP_VERSION;
	if (v == 4)
		return decode_ip4(c, off, out);
	if (v == 6)
		return decode_ip6(c, off, out);
	return PACKET_ERR_IP_VERSION;
}

static int null_family(uint32_t fam)
{
	if (fam == 2)
		return 4;
	if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
		return 6;
	return 0;
}

int packet_decode(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		  uint64_t ts_ns, struct packet *out)
{
	struct cursor c = {.f = frame, .caplen = caplen, .wirelen = wirelen};

	if (!frame || !out)
		return PACKET_ERR_ARG;
	memset(out, 0, sizeof(*out));
	out->ts_ns = ts_ns;
	out->frame = frame;
	out->caplen = caplen;
	out->wirelen = wirelen;
	if (caplen > wirelen)
		return PACKET_ERR_CAPLEN;

	switch (dlt) {
	case DLT_EN10MB:
		if (caplen < ETH_HLEN_)
			return PACKET_ERR_L2_TRUNCATED;
		return decode_ethertype(&c, ETH_HLEN_, rd16(frame + 12), out);
	case DLT_LINUX_SLL: {
		uint16_t hatype;

		if (caplen < SLL_HLEN)
			return PACKET_ERR_L2_TRUNCATED;
		hatype = rd16(frame + 2);
		if (hatype == ARPHRD_NETLINK_)
			return PACKET_ERR_NOT_IP;
		return decode_ethertype(&c, SLL_HLEN, rd16(frame + 14), out);
	}
	case DLT_LINUX_SLL2: {
		uint16_t hatype;

		if (caplen < SLL2_HLEN)
			return PACKET_ERR_L2_TRUNCATED;
		hatype = rd16(frame + 8);
		if (hatype == ARPHRD_NETLINK_)
			return PACKET_ERR_NOT_IP;
		return decode_ethertype(&c, SLL2_HLEN, rd16(frame), out);
	}
	case DLT_RAW:
	case PACKET_LINKTYPE_RAW:
		return decode_raw(&c, 0, 0, out);
	case DLT_IPV4:
		return decode_raw(&c, 0, 4, out);
	case DLT_IPV6:
		return decode_raw(&c, 0, 6, out);
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t be, le;
		int v;

		if (caplen < NULL_HLEN)
			return PACKET_ERR_L2_TRUNCATED;
		be = rd32(frame);
		le = (uint32_t)frame[3] << 24 | (uint32_t)frame[2] << 16 |
		     (uint32_t)frame[1] << 8 | frame[0];
		v = null_family(be);
		if (!v)
			v = null_family(le);
		if (!v)
			return PACKET_ERR_NULL_FAMILY;
		return decode_raw(&c, NULL_HLEN, v, out);
	}
	default:
		return PACKET_ERR_DLT;
	}
}
