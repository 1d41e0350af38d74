/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages in wire format for the unit tests (test_dns.c, test_dns_names.c): a header,
 * questions and records written into one buffer, lengths filled in afterwards.
 */
#ifndef FLOE_TEST_DNS_WIRE_H
#define FLOE_TEST_DNS_WIRE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

#endif /* FLOE_TEST_DNS_WIRE_H */
