/* SPDX-License-Identifier: Apache-2.0 */
/*
 * packet: decode one captured frame down to its TCP/UDP payload.
 *
 * packet_decode() takes a frame of one of these link types (the DLT value libpcap's
 * pcap_datalink() returns; the LINKTYPE_ value of a file header is accepted too where it
 * differs):
 *
 *   DLT_EN10MB (1)              Ethernet II, any number (up to PACKET_MAX_VLAN_TAGS) of
 *                               802.1Q / 802.1ad / 0x9100 tags (QinQ)
 *   DLT_LINUX_SLL (113)         Linux "cooked" capture v1 (16-byte header)
 *   DLT_LINUX_SLL2 (276)        Linux "cooked" capture v2 (20-byte header)
 *   DLT_RAW (12), LINKTYPE_RAW (101)
 *                               raw IP, version from the first nibble
 *   DLT_IPV4 (228), DLT_IPV6 (229)
 *                               raw IPv4 / raw IPv6 (the version nibble must agree)
 *   DLT_NULL (0), DLT_LOOP (108)
 *                               BSD loopback: a 4-byte address family, read in either byte
 *                               order (the writer's host order for DLT_NULL); AF_INET (2) and
 *                               the AF_INET6 values of BSD (24), FreeBSD (28), Darwin (30) and
 *                               Linux (10)
 *
 * then IPv4 (options skipped through IHL; fragments flagged) or IPv6 (hop-by-hop, routing,
 * destination options, fragment and AH extension headers skipped), then TCP (options skipped
 * through the data offset) or UDP.
 *
 * Addresses: always 16 bytes. IPv6 as is; IPv4 as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, the IPv4 address in bytes 12..15), like struct floe_addr of
 * bpf/floe_record.h. `family` (AF_INET / AF_INET6) says which it was.
 *
 * Lengths. caplen is what was captured, wirelen the frame's length on the wire. The payload
 * is what follows the TCP/UDP header: payload_wirelen is its length according to the IP
 * header (IPv4 total length, IPv6 payload length; for UDP the UDP length), so Ethernet
 * padding is not payload and a frame cut by the snap length is known to miss
 * payload_wirelen - payload_caplen bytes at its end. An IP length field of 0 (a TSO/GSO
 * super-packet as Linux captures it, or an IPv6 jumbogram) is replaced by what the frame's
 * wire length leaves (PACKET_F_LEN_FROM_FRAME).
 *
 * Fragments: an IPv4 packet with MF set or a non-zero fragment offset, or an IPv6 packet with
 * a fragment header, has PACKET_F_FRAGMENT. Only the first fragment (offset 0) has its L4
 * header decoded (PACKET_F_L4, ports, TCP fields); its payload lengths cover only that
 * fragment. Later fragments have no PACKET_F_L4 and their payload is the fragment's data.
 * Nothing is reassembled: callers count fragments and leave them out of TCP reassembly.
 *
 * Other L4 protocols (ICMP, SCTP, ESP, ...): success, l4_proto set, no PACKET_F_L4, payload
 * = the IP payload after the extension headers.
 *
 * A TCP header whose options were cut by the snap length (at least the fixed 20 bytes
 * captured) still decodes: PACKET_F_L4_SNAPPED, payload_caplen 0, payload_wirelen exact.
 *
 * Errors: a negative enum packet_err; `out` is then unspecified. The decoder reads only
 * frame[0 .. caplen) and never writes outside *out. It allocates nothing and keeps no state.
 */
#ifndef FLOE_NET_PACKET_H
#define FLOE_NET_PACKET_H

#include <stdbool.h>
#include <stdint.h>

/* Link types not in every libpcap's <pcap/dlt.h> (values from the tcpdump.org registry). */
#define PACKET_LINKTYPE_RAW 101 /* LINKTYPE_RAW as written in file headers */

#define PACKET_MAX_VLAN_TAGS 8   /* more stacked tags than this: PACKET_ERR_VLAN_DEPTH */
#define PACKET_MAX_IP6_EXT   16  /* more extension headers than this: PACKET_ERR_IP6_EXT_DEPTH */

/* flags */
#define PACKET_F_L4             0x01u /* TCP/UDP header decoded: ports (and TCP fields) valid */
#define PACKET_F_FRAGMENT       0x02u /* an IP fragment (first or later) */
#define PACKET_F_L4_SNAPPED     0x04u /* TCP options cut by the snap length: payload not captured */
#define PACKET_F_LEN_FROM_FRAME 0x08u /* IP length field was 0: lengths taken from the frame */
#define PACKET_F_VLAN           0x10u /* at least one VLAN tag (vlan_id is the outermost) */

/* TCP flags as in the header's byte 13 */
#define TCP_F_FIN 0x01u
#define TCP_F_SYN 0x02u
#define TCP_F_RST 0x04u
#define TCP_F_PSH 0x08u
#define TCP_F_ACK 0x10u
#define TCP_F_URG 0x20u
#define TCP_F_ECE 0x40u
#define TCP_F_CWR 0x80u

enum packet_err {
	PACKET_OK = 0,
	PACKET_ERR_ARG = -1, /* NULL frame or out */
	PACKET_ERR_DLT = -2, /* unsupported link type */
	PACKET_ERR_CAPLEN = -3, /* caplen > wirelen */
	PACKET_ERR_L2_TRUNCATED = -4, /* link-layer header not fully captured */
	PACKET_ERR_VLAN_TRUNCATED = -5, /* a VLAN tag not fully captured */
	PACKET_ERR_VLAN_DEPTH = -6, /* more than PACKET_MAX_VLAN_TAGS tags */
	PACKET_ERR_NOT_IP = -7, /* ethertype / protocol / ARPHRD is not IPv4 or IPv6 (ARP, LLC, ...) */
	PACKET_ERR_NULL_FAMILY = -8, /* DLT_NULL/LOOP address family neither IPv4 nor IPv6 */
	PACKET_ERR_IP_MISSING = -9, /* raw link type: not even the IP version byte captured */
	PACKET_ERR_IP_VERSION = -10, /* IP version nibble does not match the link layer's type */
	PACKET_ERR_IP4_TRUNCATED = -11, /* IPv4 header (with options) not fully captured */
	PACKET_ERR_IP4_HDR_LEN = -12, /* IHL < 5 */
	PACKET_ERR_IP4_TOTAL_LEN = -13, /* total length < header length */
	PACKET_ERR_IP4_BEYOND_FRAME = -14, /* total length larger than the frame on the wire */
	PACKET_ERR_IP6_TRUNCATED = -15, /* fixed IPv6 header not fully captured */
	PACKET_ERR_IP6_BEYOND_FRAME = -16, /* payload length larger than the frame on the wire */
	PACKET_ERR_IP6_EXT_TRUNCATED = -17, /* an extension header not fully captured */
	PACKET_ERR_IP6_EXT_LEN = -18, /* an extension header runs past the payload length */
	PACKET_ERR_IP6_EXT_DEPTH = -19, /* more than PACKET_MAX_IP6_EXT extension headers */
	PACKET_ERR_L4_BEYOND_IP = -20, /* IP payload shorter than the fixed TCP/UDP header */
	PACKET_ERR_TCP_TRUNCATED = -21, /* fixed 20-byte TCP header not fully captured */
	PACKET_ERR_TCP_HDR_LEN = -22, /* data offset < 5 */
	PACKET_ERR_TCP_BEYOND_IP = -23, /* TCP header (data offset) longer than the IP payload */
	PACKET_ERR_UDP_TRUNCATED = -24, /* UDP header not fully captured */
	PACKET_ERR_UDP_LEN = -25, /* UDP length < 8 or larger than the IP payload */
	PACKET_ERR__MIN = -25,
};

/* A short constant name for an enum packet_err value ("ok", "ip4-truncated", ...). */
const char *packet_strerror(int err);

struct packet {
	uint64_t ts_ns;
	const uint8_t *frame;       /* the frame passed in */
	uint32_t caplen;            /* bytes of the frame captured */
	uint32_t wirelen;           /* bytes of the frame on the wire */
	const uint8_t *payload;     /* first payload byte (inside frame); never NULL on success */
	uint32_t payload_caplen;    /* payload bytes captured (readable at payload) */
	uint32_t payload_wirelen;   /* payload bytes on the wire (>= payload_caplen) */
	uint16_t l3_offset;         /* IP header offset in the frame */
	uint16_t l4_offset;         /* offset of the L4 header (or fragment data) */
	uint16_t vlan_id;           /* outermost VLAN id when PACKET_F_VLAN */
	uint8_t family;             /* AF_INET or AF_INET6 */
	uint8_t l4_proto;           /* IPPROTO_TCP, IPPROTO_UDP or another IP protocol number */
	uint8_t flags;              /* PACKET_F_* */
	uint8_t tcp_flags;          /* TCP_F_* */
	uint16_t sport, dport;      /* host order; valid with PACKET_F_L4 */
	uint8_t src[16], dst[16];   /* see "Addresses" above */
	uint32_t seq, ack;          /* TCP; host order */
	uint16_t window;            /* TCP window field, unscaled */
};

/*
 * Decode a frame. dlt: see the list above. ts_ns is copied to out->ts_ns. Returns
 * PACKET_OK (0) or a negative enum packet_err.
 */
int packet_decode(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		  uint64_t ts_ns, struct packet *out);

/* True when the IPv4-mapped address in a[16] holds an IPv4 address (::ffff:0:0/96). */
bool packet_addr_is_v4mapped(const uint8_t a[16]);

#endif /* FLOE_NET_PACKET_H */
