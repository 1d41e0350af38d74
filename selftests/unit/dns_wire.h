/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages in wire format for the unit tests (test_dns.c, test_dns_names.c): a header,
 * questions and records written into one buffer, lengths filled in afterwards.
 */
#ifndef FLOE_TEST_DNS_WIRE_H
#define FLOE_TEST_DNS_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "net/packet.h"

struct msgb {
	uint8_t b[70000];
	size_t n;
};

static inline void put8(struct msgb *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static inline void put16(struct msgb *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static inline void put32(struct msgb *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static inline void putn(struct msgb *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

/* flags: the 16 bits after the id (0x0100 = RD query, 0x8180 = RD RA response) */
static inline void hdr(struct msgb *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
		unsigned ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static inline void name(struct msgb *m, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);

		put8(m, len);
		putn(m, dotted, len);
		dotted += len + (dot ? 1 : 0);
	}
	put8(m, 0);
}

static inline void question(struct msgb *m, const char *n, unsigned type)
{
	name(m, n);
	put16(m, type);
	put16(m, 1);
}

/* Owner, type, class IN, ttl; returns where rdlength goes (rr_end fills it). */
static inline size_t rr(struct msgb *m, const char *owner, unsigned type, uint32_t ttl)
{
	size_t at;

	name(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	at = m->n;
	put16(m, 0);
	return at;
}

static inline void rr_end(struct msgb *m, size_t at)
{
	size_t len = m->n - at - 2;

	m->b[at] = (uint8_t)(len >> 8);
	m->b[at + 1] = (uint8_t)len;
}

static inline void rr_a(struct msgb *m, const char *owner, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	size_t at = rr(m, owner, 1, 300);

	put8(m, a);
	put8(m, b);
	put8(m, c);
	put8(m, d);
	rr_end(m, at);
}

static inline void rr_soa(struct msgb *m, const char *zone, uint32_t serial)
{
	size_t at = rr(m, zone, 6, 3600);
	char ns[128], admin[128];

	snprintf(ns, sizeof(ns), "ns.%s", zone);
	snprintf(admin, sizeof(admin), "admin.%s", zone);
	name(m, ns);
	name(m, admin);
	put32(m, serial);
	put32(m, 1);
	put32(m, 2);
	put32(m, 3);
	put32(m, 4);
	rr_end(m, at);
}

static inline void query_a(struct msgb *m, unsigned id, const char *n)
{
	hdr(m, id, 0x0100, 1, 0, 0, 0);
	question(m, n, 1);
}

/* A UDP datagram as the engine takes it: 10.0.0.1:cport (the client) to 10.0.0.2:sport, or the
 * other way; wire: its length on the wire (more than n: cut by the snap length). */
static inline void dns_wire_udp(struct packet *pk, uint64_t ts, bool from_client, uint16_t cport,
				uint16_t sport, const uint8_t *p, size_t n, size_t wire)
{
	uint8_t *client = from_client ? pk->src : pk->dst, *server = from_client ? pk->dst : pk->src;

	memset(pk, 0, sizeof(*pk));
	pk->ts_ns = ts;
	pk->family = AF_INET;
	pk->l4_proto = IPPROTO_UDP;
	pk->flags = PACKET_F_L4;
	client[10] = client[11] = server[10] = server[11] = 0xff;
	client[12] = server[12] = 10;
	client[15] = 1;
	server[15] = 2;
	pk->sport = from_client ? cport : sport;
	pk->dport = from_client ? sport : cport;
	pk->payload = p;
	pk->payload_caplen = n;
	pk->payload_wirelen = wire;
}

#endif /* FLOE_TEST_DNS_WIRE_H */
