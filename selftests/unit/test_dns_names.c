// SPDX-License-Identifier: Apache-2.0
/*
 * Names from DNS answers (docs/dns-names.md): DNS messages in wire format through the DNS
 * dissector (the engine, as a tap runs it), each entry given to dns_answer_names() and what it
 * names to the name resolver, as the tap does; then the names a later entry's ends get.
 * CNAME chains (case, TTLs), the answers floe must not believe (records of other names,
 * loops, chains too long, error rcodes, truncated, unsolicited, malformed, other types and
 * classes), the TTL with its floor and ceiling, the most recent answer winning, a DNS name
 * beside a pod's names, and the bound on addresses kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "pods/dns_answer.h"
#include "pods/name_resolver.h"

#include "dns_wire.h"

#define T0  1000000000000ull /* the fixture's first packet time, ns */
#define SEC 1000000000ull

struct fx {
	struct dissect_engine *eng;
	struct name_resolver *r;
	struct dns_answer last; /* what the last entry named (its name: last_name) */
	char last_name[ENTRY_NAME_MAX];
	size_t entries, named;
	uint64_t ts;
	uint16_t cport;
};

static void sink(void *ctx, const struct entry *e)
{
	struct fx *f = ctx;

	f->entries++;
	if (dns_answer_names(e, &f->last)) {
		f->named++;
		snprintf(f->last_name, sizeof(f->last_name), "%s", f->last.name);
		assert_int_equal(name_resolver_learn_dns(f->r, &f->last, e->response_ts_ns), 0);
	}
}

static struct entry_names *names(void *ctx, const uint8_t addr[16], uint64_t ts_ns)
{
	return name_resolver_lookup(ctx, addr, ts_ns);
}

static void fx_init(struct fx *f, size_t dns_max)
{
	memset(f, 0, sizeof(*f));
	f->r = name_resolver_new(0, dns_max);
	assert_non_null(f->r);
	f->ts = T0;
	f->cport = 40000;
	assert_int_equal(
	    dissect_engine_create(&(struct dissect_config){.names = names, .names_ctx = f->r}, sink,
				  f, &f->eng),
	    0);
}

static void fx_free(struct fx *f)
{
	dissect_engine_finish(f->eng);
	dissect_engine_destroy(f->eng);
	name_resolver_free(f->r);
}

static void key(const char *s, uint8_t k[16])
{
	uint8_t a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		name_resolver_key(AF_INET, a, k);
	else
		assert_int_equal(inet_pton(AF_INET6, s, k), 1);
}

/* One datagram between 10.0.0.1:cport (the client) and 10.0.0.2:53. */
static void udp(struct fx *f, bool from_client, const struct msgb *m)
{
	struct packet pk;

	dns_wire_udp(&pk, f->ts, from_client, f->cport, 53, m->b, m->n, m->n);
	assert_int_equal(dissect_engine_packet(f->eng, &pk), 0);
	f->ts += 1000;
}

static void rr_cname(struct msgb *m, const char *owner, const char *target, uint32_t ttl)
{
	size_t at = rr(m, owner, 5, ttl);

	name(m, target);
	rr_end(m, at);
}

static void rr_addr(struct msgb *m, const char *owner, const char *addr, uint32_t ttl)
{
	uint8_t a[16];
	bool v4 = inet_pton(AF_INET, addr, a) == 1;
	size_t at = rr(m, owner, v4 ? 1 : 28, ttl);

	if (!v4)
		assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	putn(m, a, v4 ? 4 : 16);
	rr_end(m, at);
}

/*
 * One exchange: a query for qname (type qtype) from a new client port, and its response:
 * flags, then the answer records, each "CNAME owner target ttl" or "A owner addr ttl" (AAAA
 * the same) as an array of strings. Returns the addresses named.
 */
static size_t exchange_flags(struct fx *f, const char *qname, unsigned qtype, unsigned flags,
			     const char *const *answers)
{
	static struct msgb m;
	size_t n = 0, named = f->named;
	char kind[16], owner[300], data[300];
	unsigned ttl;

	while (answers && answers[n])
		n++;
	f->cport++;
	hdr(&m, f->cport, 0x0100, 1, 0, 0, 0);
	question(&m, qname, qtype);
	udp(f, true, &m);
	hdr(&m, f->cport, flags, 1, n, 0, 0);
	question(&m, qname, qtype);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sscanf(answers[i], "%15s %299s %299s %u", kind, owner, data, &ttl),
				 4);
		if (!strcmp(kind, "CNAME"))
			rr_cname(&m, owner, data, ttl);
		else
			rr_addr(&m, owner, data, ttl);
	}
	udp(f, false, &m);
	return f->named > named ? f->last.n_addrs : 0;
}

static size_t exchange(struct fx *f, const char *qname, unsigned qtype, const char *const *ans)
{
	return exchange_flags(f, qname, qtype, 0x8180, ans);
}

/* "dns_name|name" of addr at ts (as an entry's end: name falls back to the IP), "-" when the
 * resolver knows nothing of it. */
static const char *at(struct fx *f, const char *addr, uint64_t ts)
{
	static char buf[600];
	struct entry_names *n;
	uint8_t k[16];

	key(addr, k);
	n = name_resolver_lookup(f->r, k, ts);
	if (!n)
		return "-";
	snprintf(buf, sizeof(buf), "%s|%s", entry_names_dns(n), entry_names_pod(n));
	entry_names_unref(n);
	return buf;
}

/* A and AAAA answers, straight and through CNAME chains (owners in any case); the TTL is the
 * smallest of the chain's. */
static void test_chains(void **state)
{
	struct fx f;

	fx_init(&f, 0);
	assert_int_equal(exchange(&f, "web.test.floe", 1,
				  (const char *[]){"A web.test.floe 10.9.0.5 30",
						   "A web.test.floe 10.9.0.6 40", NULL}),
			 2);
	assert_string_equal(f.last_name, "web.test.floe");
	assert_int_equal(f.last.addrs[0].ttl, 30);
	assert_int_equal(f.last.addrs[1].ttl, 40);
	assert_int_equal(f.last.ignored, 0);
	assert_string_equal(at(&f, "10.9.0.5", T0 + SEC), "web.test.floe|");
	assert_string_equal(at(&f, "10.9.0.6", T0 + SEC), "web.test.floe|");
	assert_string_equal(at(&f, "10.9.0.7", T0 + SEC), "-");

	/* the client asked for www; the chain ends at an edge server's address: named www */
	assert_int_equal(exchange(&f, "www.Shop.test", 1,
				  (const char *[]){"CNAME www.shop.test LB.cdn.test 120",
						   "CNAME lb.cdn.test edge.CDN.test 600",
						   "A edge.cdn.test 10.9.0.8 300", NULL}),
			 1);
	assert_int_equal(f.last.addrs[0].ttl, 120);
	assert_string_equal(at(&f, "10.9.0.8", T0 + SEC), "www.Shop.test|");

	/* AAAA, the chain's records in any order */
	assert_int_equal(exchange(&f, "api.test.floe", 28,
				  (const char *[]){"AAAA api.edge.test fd00:99::8 50",
						   "CNAME api.test.floe api.edge.test 500", NULL}),
			 1);
	assert_int_equal(f.last.addrs[0].ttl, 50);
	assert_string_equal(at(&f, "fd00:99::8", T0 + SEC), "api.test.floe|");

	/* a chain of DNS_ANSWER_CHAIN_MAX CNAMEs is followed; one more names nothing */
	{
		const char *ans[DNS_ANSWER_CHAIN_MAX + 3];
		char links[DNS_ANSWER_CHAIN_MAX + 1][64];
		size_t n = 0;

		for (int i = 0; i < DNS_ANSWER_CHAIN_MAX; i++)
			snprintf(links[i], sizeof(links[i]), "CNAME c%d.test c%d.test 60", i,
				 i + 1);
		snprintf(links[DNS_ANSWER_CHAIN_MAX], sizeof(links[0]), "A c%d.test 10.9.0.9 60",
			 DNS_ANSWER_CHAIN_MAX);
		for (int i = 0; i <= DNS_ANSWER_CHAIN_MAX; i++)
			ans[n++] = links[i];
		ans[n] = NULL;
		assert_int_equal(exchange(&f, "c0.test", 1, ans), 1);
		assert_string_equal(at(&f, "10.9.0.9", T0 + SEC), "c0.test|");
		memmove(ans + 1, ans, (n + 1) * sizeof(*ans));
		ans[0] = "CNAME cx.test c0.test 60";
		assert_int_equal(exchange(&f, "cx.test", 1, ans), 0);
	}
	fx_free(&f);
	(void)state;
}

/* What a resolver would not believe names nothing. */
static void test_hostile(void **state)
{
	struct fx f;
	struct name_resolver_stats st;
	static struct msgb m;

	fx_init(&f, 0);
	/* records of names nobody asked about (cache poisoning's additions) are ignored */
	assert_int_equal(exchange(&f, "web.test.floe", 1,
				  (const char *[]){"A bank.example 10.9.1.1 300",
						   "CNAME other.test bank.example 300",
						   "A web.test.floe 10.9.1.2 300", NULL}),
			 1);
	assert_int_equal(f.last.ignored, 2);
	assert_string_equal(at(&f, "10.9.1.1", T0 + SEC), "-");
	assert_string_equal(at(&f, "10.9.1.2", T0 + SEC), "web.test.floe|");
	/* the question's own A beside a CNAME: the chain goes on, the A is off it */
	assert_int_equal(
	    exchange(&f, "x.test", 1,
		     (const char *[]){"A x.test 10.9.1.3 300", "CNAME x.test y.test 300",
				      "A y.test 10.9.1.4 300", NULL}),
	    1);
	assert_string_equal(at(&f, "10.9.1.3", T0 + SEC), "-");
	/* a CNAME loop */
	assert_int_equal(exchange(&f, "loop.test", 1,
				  (const char *[]){"CNAME loop.test loop2.test 300",
						   "CNAME loop2.test LOOP.test 300",
						   "A loop.test 10.9.1.5 300", NULL}),
			 0);
	assert_string_equal(at(&f, "10.9.1.5", T0 + SEC), "-");
	/* an AAAA in an answer to A; an A in an answer to AAAA */
	assert_int_equal(
	    exchange(&f, "v4.test", 1, (const char *[]){"AAAA v4.test fd00:99::1 300", NULL}), 0);
	assert_int_equal(
	    exchange(&f, "v6.test", 28, (const char *[]){"A v6.test 10.9.1.6 300", NULL}), 0);
	/* NXDOMAIN (rcode 3), SERVFAIL (2) and a truncated answer (TC) with records */
	assert_int_equal(exchange_flags(&f, "nx.test", 1, 0x8183,
					(const char *[]){"A nx.test 10.9.1.7 300", NULL}),
			 0);
	assert_int_equal(exchange_flags(&f, "sf.test", 1, 0x8182,
					(const char *[]){"A sf.test 10.9.1.7 300", NULL}),
			 0);
	assert_int_equal(exchange_flags(&f, "tc.test", 1, 0x8380,
					(const char *[]){"A tc.test 10.9.1.7 300", NULL}),
			 0);
	/* other question types name nothing (MX: its additional addresses are the exchange's) */
	assert_int_equal(
	    exchange(&f, "mx.test", 15, (const char *[]){"A mx.test 10.9.1.7 300", NULL}), 0);
	assert_string_equal(at(&f, "10.9.1.7", T0 + SEC), "-");

	/* an answer nobody asked for (no query captured: unsolicited) */
	hdr(&m, 999, 0x8180, 1, 1, 0, 0);
	question(&m, "spoof.test", 1);
	rr_addr(&m, "spoof.test", "10.9.1.8", 300);
	f.cport = 50000;
	udp(&f, false, &m);
	assert_string_equal(at(&f, "10.9.1.8", T0 + SEC), "-");

	/* an A record of 5 bytes: malformed, kept as hex by the dissector, names nothing */
	f.cport++;
	hdr(&m, 1000, 0x0100, 1, 0, 0, 0);
	question(&m, "bad.test", 1);
	udp(&f, true, &m);
	hdr(&m, 1000, 0x8180, 1, 2, 0, 0);
	question(&m, "bad.test", 1);
	{
		size_t rd = rr(&m, "bad.test", 1, 300);

		putn(&m, "\x0a\x09\x01\x09\x00", 5);
		rr_end(&m, rd);
	}
	rr_addr(&m, "bad.test", "10.9.1.10", 300);
	udp(&f, false, &m);
	assert_string_equal(at(&f, "10.9.1.9", T0 + SEC), "-");
	assert_string_equal(at(&f, "10.9.1.10", T0 + SEC), "bad.test|");

	/* a class other than IN (CH: 3) */
	f.cport++;
	hdr(&m, 1001, 0x0100, 1, 0, 0, 0);
	name(&m, "ch.test");
	put16(&m, 1);
	put16(&m, 3);
	udp(&f, true, &m);
	hdr(&m, 1001, 0x8180, 1, 1, 0, 0);
	name(&m, "ch.test");
	put16(&m, 1);
	put16(&m, 3);
	{
		size_t rd;

		name(&m, "ch.test");
		put16(&m, 1);
		put16(&m, 3);
		put32(&m, 300);
		rd = m.n;
		put16(&m, 0);
		putn(&m, "\x0a\x09\x01\x0b", 4);
		rr_end(&m, rd);
	}
	udp(&f, false, &m);
	assert_string_equal(at(&f, "10.9.1.11", T0 + SEC), "-");

	name_resolver_get_stats(f.r, &st);
	assert_int_equal(st.dns_answers, 3); /* web, x, bad */
	assert_true(st.dns_ignored >= 4);
	fx_free(&f);
	(void)state;
}

/* The TTL with its floor and ceiling; the most recent answer wins; beside a pod's names. */
static void test_ttl_and_recency(void **state)
{
	struct fx f;
	uint8_t k[16];
	char longname[300];

	fx_init(&f, 0);
	key("10.9.2.1", k);
	/* TTL 5: kept NAME_RESOLVER_DNS_TTL_MIN_S */
	assert_int_equal(name_resolver_set_dns(f.r, k, "short.test", T0, 5), 0);
	assert_string_equal(at(&f, "10.9.2.1", T0 + (NAME_RESOLVER_DNS_TTL_MIN_S - 1) * SEC),
			    "short.test|");
	assert_string_equal(at(&f, "10.9.2.1", T0 + NAME_RESOLVER_DNS_TTL_MIN_S * SEC), "-");
	/* a moment before the answer (a connection the client had open): named */
	assert_string_equal(at(&f, "10.9.2.1", T0 - SEC), "short.test|");
	/* TTL 300 within the bounds */
	assert_int_equal(name_resolver_set_dns(f.r, k, "mid.test", T0, 300), 0);
	assert_string_equal(at(&f, "10.9.2.1", T0 + 299 * SEC), "mid.test|");
	assert_string_equal(at(&f, "10.9.2.1", T0 + 300 * SEC), "-");
	/* a day: cut to NAME_RESOLVER_DNS_TTL_MAX_S */
	assert_int_equal(name_resolver_set_dns(f.r, k, "long.test", T0, 86400), 0);
	assert_string_equal(at(&f, "10.9.2.1", T0 + (NAME_RESOLVER_DNS_TTL_MAX_S - 1) * SEC),
			    "long.test|");
	assert_string_equal(at(&f, "10.9.2.1", T0 + NAME_RESOLVER_DNS_TTL_MAX_S * SEC), "-");
	/* the most recent answer wins, its TTL from its own time */
	assert_int_equal(name_resolver_set_dns(f.r, k, "newer.test", T0 + 100 * SEC, 60), 0);
	assert_string_equal(at(&f, "10.9.2.1", T0 + 150 * SEC), "newer.test|");
	assert_string_equal(at(&f, "10.9.2.1", T0 + 160 * SEC), "-");
	/* through the dissector: the second answer for the same address renames it */
	assert_int_equal(
	    exchange(&f, "one.test", 1, (const char *[]){"A one.test 10.9.2.2 300", NULL}), 1);
	assert_int_equal(
	    exchange(&f, "two.test", 1, (const char *[]){"A two.test 10.9.2.2 300", NULL}), 1);
	assert_string_equal(at(&f, "10.9.2.2", f.ts), "two.test|");
	/* beside a pod: both; the entry's name stays the pod's */
	key("10.9.2.3", k);
	assert_int_equal(name_resolver_set_pod(f.r, k, "web-1", "shop", "node-1", T0), 0);
	assert_int_equal(name_resolver_set_dns(f.r, k, "web.shop.svc.cluster.local", T0, 30), 0);
	assert_string_equal(at(&f, "10.9.2.3", T0 + SEC), "web.shop.svc.cluster.local|web-1");
	assert_string_equal(at(&f, "10.9.2.3", T0 + 100 * SEC), "|web-1");
	/* names past what an entry holds, and empty ones, are refused */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(name_resolver_set_dns(f.r, k, longname, T0, 30), -EINVAL);
	assert_int_equal(name_resolver_set_dns(f.r, k, "", T0, 30), -EINVAL);
	fx_free(&f);
	(void)state;
}

/* A history per address: each entry gets the name valid at its time, the newest answer at
 * or before it (newest learned for the same time), until its TTL or the next answer; a time
 * before the first answer gets the first; the same name again extends its record; at most
 * NAME_RESOLVER_DNS_PER_ADDR per address, the oldest by time going first. */
static void test_history(void **state)
{
	struct fx f;
	struct name_resolver_stats st;
	uint8_t k[16];
	char nm[32];

	fx_init(&f, 0);
	key("10.9.4.1", k);
	assert_int_equal(name_resolver_set_dns(f.r, k, "a.test", T0, 300), 0);
	assert_int_equal(name_resolver_set_dns(f.r, k, "b.test", T0 + 100 * SEC, 300), 0);
	assert_string_equal(at(&f, "10.9.4.1", T0 - 10 * SEC), "a.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 50 * SEC), "a.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 100 * SEC), "b.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 350 * SEC), "b.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 400 * SEC), "-");
	/* learned out of time order: it goes in its place */
	assert_int_equal(name_resolver_set_dns(f.r, k, "early.test", T0 + 60 * SEC, 300), 0);
	assert_string_equal(at(&f, "10.9.4.1", T0 + 50 * SEC), "a.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 70 * SEC), "early.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 110 * SEC), "b.test|");
	/* two answers at the same time: the one learned last */
	assert_int_equal(name_resolver_set_dns(f.r, k, "c.test", T0 + 500 * SEC, 300), 0);
	assert_int_equal(name_resolver_set_dns(f.r, k, "d.test", T0 + 500 * SEC, 300), 0);
	assert_string_equal(at(&f, "10.9.4.1", T0 + 500 * SEC), "d.test|");
	/* the same name while it holds: one record, held longer */
	name_resolver_get_stats(f.r, &st);
	size_t before = st.dns_records;
	assert_int_equal(st.dns_names, 1);
	assert_int_equal(name_resolver_set_dns(f.r, k, "d.test", T0 + 700 * SEC, 300), 0);
	name_resolver_get_stats(f.r, &st);
	assert_int_equal(st.dns_records, before);
	assert_string_equal(at(&f, "10.9.4.1", T0 + 900 * SEC), "d.test|");
	assert_string_equal(at(&f, "10.9.4.1", T0 + 1000 * SEC), "-");
	/* the bound per address: the oldest by time go */
	key("10.9.4.2", k);
	for (int i = 0; i < NAME_RESOLVER_DNS_PER_ADDR + 2; i++) {
		snprintf(nm, sizeof(nm), "n%d.test", i);
		assert_int_equal(
		    name_resolver_set_dns(f.r, k, nm, T0 + (uint64_t)(10 * i) * SEC, 300), 0);
	}
	assert_string_equal(at(&f, "10.9.4.2", T0), "n2.test|"); /* n0, n1 gone */
	assert_string_equal(at(&f, "10.9.4.2", T0 + 25 * SEC), "n2.test|");
	snprintf(nm, sizeof(nm), "n%d.test|", NAME_RESOLVER_DNS_PER_ADDR + 1);
	assert_string_equal(at(&f, "10.9.4.2", T0 + 10000 * SEC - 1), "-");
	assert_string_equal(
	    at(&f, "10.9.4.2", T0 + (uint64_t)(10 * NAME_RESOLVER_DNS_PER_ADDR + 15) * SEC), nm);
	/* an answer older than all an address keeps names nothing */
	assert_int_equal(name_resolver_set_dns(f.r, k, "ancient.test", T0 - 1000 * SEC, 300), 0);
	assert_string_equal(at(&f, "10.9.4.2", T0 - 1000 * SEC), "n2.test|");
	fx_free(&f);
	(void)state;
}

/* At most dns_max addresses: the oldest answered goes first (counted when its time was not
 * up); a renewed answer is the newest again; memory comes back. */
static void test_bound(void **state)
{
	struct fx f;
	struct name_resolver_stats st, st0;
	char addr[32], nm[64];
	uint8_t k[16];

	fx_init(&f, 3);
	name_resolver_get_stats(f.r, &st0);
	for (int i = 1; i <= 3; i++) {
		snprintf(addr, sizeof(addr), "10.9.3.%d", i);
		snprintf(nm, sizeof(nm), "n%d.test", i);
		key(addr, k);
		assert_int_equal(name_resolver_set_dns(f.r, k, nm, T0 + (uint64_t)i * SEC, 300), 0);
	}
	/* n1 answered again: n2 is now the oldest */
	key("10.9.3.1", k);
	assert_int_equal(name_resolver_set_dns(f.r, k, "n1.test", T0 + 10 * SEC, 300), 0);
	key("10.9.3.4", k);
	assert_int_equal(name_resolver_set_dns(f.r, k, "n4.test", T0 + 11 * SEC, 300), 0);
	assert_string_equal(at(&f, "10.9.3.2", T0 + 12 * SEC), "-");
	assert_string_equal(at(&f, "10.9.3.1", T0 + 12 * SEC), "n1.test|");
	assert_string_equal(at(&f, "10.9.3.4", T0 + 12 * SEC), "n4.test|");
	name_resolver_get_stats(f.r, &st);
	assert_int_equal(st.dns_names, 3);
	assert_int_equal(st.dns_evicted, 1);
	assert_int_equal(st.dns_learned, 5);
	assert_int_equal(st.addrs, 3);
	/* an expired one pushed out is not counted as evicted */
	key("10.9.3.5", k);
	assert_int_equal(name_resolver_set_dns(f.r, k, "n5.test", T0 + 1000 * SEC, 300), 0);
	name_resolver_get_stats(f.r, &st);
	assert_int_equal(st.dns_evicted, 1);
	/* many addresses through a small table: it stays at its bound */
	for (int i = 0; i < 10000; i++) {
		snprintf(addr, sizeof(addr), "10.8.%d.%d", i / 250, i % 250);
		key(addr, k);
		assert_int_equal(name_resolver_set_dns(f.r, k, "many.test", T0 + 2000 * SEC, 300),
				 0);
	}
	name_resolver_get_stats(f.r, &st);
	assert_int_equal(st.dns_names, 3);
	assert_int_equal(st.addrs, 3);
	assert_true(st.bytes < st0.bytes + 3 * 200 + 8 * 1024); /* 3 names (and the buckets) */
	fx_free(&f);

	/* what an address named by DNS costs (docs/dns-names.md): 10,000 names of 40 bytes */
	{
		struct name_resolver *r = name_resolver_new(0, 0);

		name_resolver_get_stats(r, &st0);
		for (int i = 0; i < 10000; i++) {
			snprintf(addr, sizeof(addr), "10.7.%d.%d", i / 250, i % 250);
			snprintf(nm, sizeof(nm), "host-%05d.a-forty-byte-lon-name.example", i);
			key(addr, k);
			assert_int_equal(strlen(nm), 40);
			assert_int_equal(name_resolver_set_dns(r, k, nm, T0, 300), 0);
		}
		name_resolver_get_stats(r, &st);
		assert_int_equal(st.dns_names, 10000);
		print_message("10,000 DNS names of 40 bytes: %zu bytes, %.0f an address\n",
			      st.bytes - st0.bytes, (double)(st.bytes - st0.bytes) / 10000);
		name_resolver_free(r);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chains),  cmocka_unit_test(test_history),
	    cmocka_unit_test(test_hostile), cmocka_unit_test(test_ttl_and_recency),
	    cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
