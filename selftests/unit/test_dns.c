// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests: the DNS dissector (dissect/dns.c, dissect/dns_message.c) and the engine's UDP
 * conversations. Messages are built byte by byte here; UDP datagrams go through
 * dissect_engine_packet() as decoded packets, TCP through the byte-stream interface.
 * Covered: detection (and not stealing other protocols' first bytes), orientation by the QR
 * bit, pairing (ids, questions, retransmissions, copies, out-of-order TCP), typed rdata and
 * EDNS, bounds, hostile names and lengths, timeouts, zone transfers, the UDP table's limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dissect/dissector.h"
#include "dissect/dns.h"
#include "dissect/dns_message.h"
#include "dissect/engine.h"
#include "test_json_path.h"

#include "dns_wire.h"

/* ---- the fixture ---- */

struct fx {
	struct dissect_engine *eng;
	json_t *out;
	uint64_t ts;
	uint16_t cport, sport; /* UDP client and server ports */
	struct conn *c;	       /* TCP stream */
};

static void collect(void *ctx, const struct entry *e)
{
	struct fx *f = ctx;
	char line[1024];

	json_array_append_new(f->out, entry_to_json(e));
	/* the text form must work for every entry */
	assert_true(entry_format_line(e, line, sizeof(line)) > 0);
}

static void fx_init_cfg(struct fx *f, const struct dissect_config *cfg)
{
	memset(f, 0, sizeof(*f));
	f->out = json_array();
	f->ts = 1000000000ull;
	f->cport = 40000;
	f->sport = 53;
	assert_int_equal(dissect_engine_create(cfg, collect, f, &f->eng), 0);
}

static void fx_init(struct fx *f)
{
	fx_init_cfg(f, NULL);
}

static void v4(uint8_t a[16], uint8_t last)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[15] = last;
}

/* One datagram; from_client: 10.0.0.1:cport -> 10.0.0.2:sport, else the other way. */
static void udp_n(struct fx *f, bool from_client, const uint8_t *p, size_t n, size_t wire)
{
	struct packet pk;

	dns_wire_udp(&pk, f->ts, from_client, f->cport, f->sport, p, n, wire);
	assert_int_equal(dissect_engine_packet(f->eng, &pk), 0);
	f->ts += 1000;
}

static void udp(struct fx *f, bool from_client, const struct msgb *m)
{
	udp_n(f, from_client, m->b, m->n, m->n);
}

static void tcp_open(struct fx *f)
{
	struct tcp_flow_info info = {.id = 77, .family = AF_INET, .role = TCP_ROLE_SYN};

	v4(info.client.addr, 1);
	v4(info.server.addr, 2);
	info.client.port = 41000;
	info.server.port = 53;
	f->c = dissect_stream_open(f->eng, &info);
	assert_non_null(f->c);
}

static void tcp_bytes(struct fx *f, enum tcp_dir dir, const uint8_t *p, size_t n)
{
	dissect_stream_data(f->eng, f->c, dir, p, n, f->ts);
	f->ts += 1000;
}

/* A message with its 2-byte length into b (appended at *len). */
static void framed(uint8_t *b, size_t *len, const struct msgb *m)
{
	b[(*len)++] = (uint8_t)(m->n >> 8);
	b[(*len)++] = (uint8_t)m->n;
	memcpy(b + *len, m->b, m->n);
	*len += m->n;
}

static void tcp_msg(struct fx *f, enum tcp_dir dir, const struct msgb *m)
{
	uint8_t b[70002];
	size_t n = 0;

	framed(b, &n, m);
	tcp_bytes(f, dir, b, n);
}

static struct dissect_stats fx_stats(struct fx *f)
{
	struct dissect_stats st;

	dissect_engine_get_stats(f->eng, &st);
	return st;
}

static uint64_t counter(struct fx *f, enum dns_counter idx)
{
	struct dissect_stats st = fx_stats(f);
	unsigned i;

	for (i = 0; dissect_protocol_name(i); i++)
		if (!strcmp(dissect_protocol_name(i), "dns"))
			return st.counters[i][idx];
	fail_msg("no dns dissector");
	return 0;
}

static void fx_finish(struct fx *f)
{
	if (f->c)
		dissect_stream_close(f->eng, f->c, TCP_CLOSE_FIN, f->ts);
	f->c = NULL;
	dissect_engine_finish(f->eng);
}

static void fx_free(struct fx *f)
{
	fx_finish(f);
	dissect_engine_destroy(f->eng);
	json_decref(f->out);
}

static size_t n_entries(struct fx *f)
{
	return json_array_size(f->out);
}

static json_t *eget(struct fx *f, size_t i, const char *path)
{
	return jget(json_array_get(f->out, i), path);
}

static long long iget(struct fx *f, size_t i, const char *path)
{
	json_t *v = eget(f, i, path);

	if (!json_is_integer(v))
		fail_msg("entry %zu %s: not an integer", i, path);
	return json_integer_value(v);
}

#define assert_str(f, i, path, want)                                                               \
	do {                                                                                       \
		const char *got_ = json_string_value(eget(f, i, path));                            \
		if (!got_ || strcmp(got_, want))                                                   \
			fail_msg("entry %zu %s: got \"%s\", want \"%s\"", (size_t)(i), path,       \
				 got_ ? got_ : "(none)", want);                                    \
	} while (0)

/* ---- detection ---- */

static void test_detect_not_others(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} others[] = {
#define S(x) {x, sizeof(x) - 1}
	    S("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
	    S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
	    S("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00"),
	    S("\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64\x00\x04\x00\x10"),
	    S("*1\r\n$4\r\nPING\r\n"),
	    S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
	    S("+OK\r\n"),
	    S("PING\r\n"),
	    S("AMQP\x00\x00\x09\x01"),
	    S("\x01\x00\x0a\x00\x0a\x00\x00\x01\x00\x00\x00\x00\x00\x00\xce"),
	    /* Kafka ApiVersions v3 request: length, api key 18, version 3, correlation 1 */
	    S("\x00\x00\x00\x21\x00\x12\x00\x03\x00\x00\x00\x01\x00\x07rdkafka\x00\x0b"
	      "librdkafka\x062.0.2\x00"),
	    S("\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"),
	    /* TLS ClientHello */
	    S("\x16\x03\x01\x01\x2c\x01\x00\x01\x28\x03\x03\x5e\x7a\x12\x00\x00\x00\x00\x00"
	      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	    S("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
	    /* QUIC long header initial */
	    S("\xc3\x00\x00\x00\x01\x08\x83\x94\xc8\xf0\x3e\x51\x57\x08\x00\x00\x44\x9e\x7b\x9a"
	      "\xec\x34\xd1\xb1\xc9\x8d\xd7\x68\x9f\xb8\xec\x11"),
#undef S
	};
	bool client;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		for (k = 1; k <= others[i].n; k++) {
			const uint8_t *p = (const uint8_t *)others[i].s;

			if (dissector_dns.detect(TCP_DIR_C2S, p, k) == DETECT_YES ||
			    dissector_dns.detect(TCP_DIR_S2C, p, k) == DETECT_YES)
				fail_msg("dns detect() says yes to other bytes #%zu (%zu bytes)", i,
					 k);
		}
		if (dissector_dns.detect_datagram((const uint8_t *)others[i].s, others[i].n,
						  &client) == DETECT_YES)
			fail_msg("dns detect_datagram() says yes to other bytes #%zu", i);
	}
}

static void test_detect_dns(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	uint8_t b[600];
	size_t n = 0;
	bool client = false;

	(void)state;
	query_a(m, 0x1234, "www.example.com");
	assert_int_equal(dissector_dns.detect_datagram(m->b, m->n, &client), DETECT_YES);
	assert_true(client);
	framed(b, &n, m);
	assert_int_equal(dissector_dns.detect(TCP_DIR_C2S, b, 1), DETECT_MAYBE);
	assert_int_equal(dissector_dns.detect(TCP_DIR_C2S, b, 10), DETECT_MAYBE);
	assert_int_equal(dissector_dns.detect(TCP_DIR_C2S, b, n), DETECT_YES);
	assert_int_equal(dissector_dns.detect(TCP_DIR_S2C, b, n), DETECT_NO); /* a query */
	/* a long name is taken before its end (the engine looks at 64 bytes at most) */
	n = 0;
	query_a(m, 7, "_ldap._tcp.default-first-site-name._sites.dc._msdcs.example.com");
	framed(b, &n, m);
	assert_int_equal(dissector_dns.detect(TCP_DIR_C2S, b, 64), DETECT_YES);
	/* a response; with trailing garbage a datagram is not DNS */
	hdr(m, 9, 0x8180, 1, 1, 0, 0);
	question(m, "a.example", 1);
	rr_a(m, "a.example", 1, 2, 3, 4);
	assert_int_equal(dissector_dns.detect_datagram(m->b, m->n, &client), DETECT_YES);
	assert_false(client);
	m->b[m->n++] = 0;
	assert_int_equal(dissector_dns.detect_datagram(m->b, m->n, &client), DETECT_NO);
	free(m);
}

/* ---- UDP ---- */

static void test_udp_pair(void **state)
{
	struct msgb *q = calloc(1, sizeof(*q)), *r = calloc(1, sizeof(*r));
	struct fx f;
	char line[512];
	struct entry e = {0};
	size_t at;

	(void)state;
	fx_init(&f);
	query_a(q, 0xbeef, "www.Example.com");
	hdr(r, 0xbeef, 0x8180, 1, 2, 0, 0);
	question(r, "www.example.com", 1);
	/* CNAME with its target compressed against the question */
	at = rr(r, "www.example.com", 5, 60);
	put8(r, 3);
	putn(r, "cdn", 3);
	put8(r, 0xc0);
	put8(r, 16); /* "example.com" in the question */
	rr_end(r, at);
	rr_a(r, "cdn.example.com", 93, 184, 216, 34);
	udp(&f, true, q);
	assert_int_equal(n_entries(&f), 0);
	udp(&f, false, r);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "protocol", "dns");
	assert_str(&f, 0, "transport", "udp");
	assert_int_equal(iget(&f, 0, "src.port"), 40000);
	assert_int_equal(iget(&f, 0, "dst.port"), 53);
	assert_int_equal(iget(&f, 0, "request.id"), 0xbeef);
	assert_str(&f, 0, "request.opcode", "QUERY");
	assert_true(json_is_true(eget(&f, 0, "request.flags.rd")));
	assert_true(json_is_false(eget(&f, 0, "request.flags.qr")));
	assert_str(&f, 0, "request.name", "www.Example.com");
	assert_str(&f, 0, "request.type", "A");
	assert_str(&f, 0, "request.questions.0.class", "IN");
	assert_str(&f, 0, "response.rcode", "NOERROR");
	assert_int_equal(iget(&f, 0, "response.counts.answers"), 2);
	assert_str(&f, 0, "response.answers.0.type", "CNAME");
	assert_str(&f, 0, "response.answers.0.data", "cdn.example.com");
	assert_int_equal(iget(&f, 0, "response.answers.0.ttl"), 60);
	assert_str(&f, 0, "response.answers.1.data", "93.184.216.34");
	assert_int_equal(iget(&f, 0, "request_size"), (long long)q->n);
	assert_int_equal(iget(&f, 0, "response_size"), (long long)r->n);
	assert_null(eget(&f, 0, "missing"));
	assert_str(&f, 0, "request_time", "1970-01-01T00:00:01.000000000Z");
	assert_str(&f, 0, "response_time", "1970-01-01T00:00:01.000001000Z");
	/* the text line */
	e.protocol = "dns";
	e.fields = json_object();
	json_object_set(e.fields, "request", eget(&f, 0, "request"));
	json_object_set(e.fields, "response", eget(&f, 0, "response"));
	entry_format_line(&e, line, sizeof(line));
	json_decref(e.fields);
	assert_non_null(
	    strstr(line, "A www.Example.com -> cdn.example.com, 93.184.216.34 NOERROR"));
	assert_int_equal(fx_stats(&f).udp_conversations, 1);
	assert_int_equal(fx_stats(&f).udp_datagrams, 2);
	fx_free(&f);
	free(q);
	free(r);
}

/* The response is the first datagram, between two high ports: the QR bit orients. */
static void test_udp_response_first(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	struct fx f;

	(void)state;
	fx_init(&f);
	f.cport = 2000; /* the client's port is the lower one: ports alone would be wrong */
	f.sport = 30053;
	hdr(m, 5, 0x8183, 1, 0, 0, 0); /* NXDOMAIN */
	question(m, "nothing.example", 28);
	udp(&f, false, m);
	query_a(m, 6, "next.example");
	udp(&f, true, m);
	hdr(m, 6, 0x8180, 1, 0, 0, 0);
	question(m, "next.example", 1);
	udp(&f, false, m);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 0, "missing", "request");
	/* UDP loses nothing floe could see: the query was asked before the capture */
	assert_str(&f, 0, "missing_reason", "unsolicited");
	assert_true(json_is_true(eget(&f, 0, "unsolicited")));
	assert_null(eget(&f, 1, "unsolicited"));
	assert_str(&f, 0, "response.rcode", "NXDOMAIN");
	assert_int_equal(iget(&f, 0, "src.port"), 2000);
	assert_int_equal(iget(&f, 0, "dst.port"), 30053);
	assert_str(&f, 1, "request.name", "next.example");
	assert_int_equal(iget(&f, 1, "src.port"), 2000);
	assert_null(eget(&f, 1, "missing"));
	fx_free(&f);
	free(m);
}

static void test_udp_retransmit_and_copy(void **state)
{
	struct msgb *q = calloc(1, sizeof(*q)), *r = calloc(1, sizeof(*r));
	struct fx f;

	(void)state;
	fx_init(&f);
	query_a(q, 77, "retry.example");
	hdr(r, 77, 0x8180, 1, 1, 0, 0);
	question(r, "retry.example", 1);
	rr_a(r, "retry.example", 10, 0, 0, 7);
	udp(&f, true, q);
	udp(&f, true, q); /* sent again: same id, same question */
	udp(&f, false, r);
	udp(&f, false, r); /* the server answers both copies */
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "request.retransmissions"), 1);
	assert_int_equal(counter(&f, DNS_COUNTER_RETRANSMITTED), 1);
	assert_int_equal(counter(&f, DNS_COUNTER_DUPLICATE_RESP), 1);
	/* the same id with another question is another query */
	query_a(q, 77, "other.example");
	udp(&f, true, q);
	udp(&f, false, r); /* does not answer it: a copy of the first answer */
	assert_int_equal(n_entries(&f), 1);
	fx_finish(&f);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 1, "missing", "response");
	assert_str(&f, 1, "missing_reason", "end_of_capture");
	fx_free(&f);
	free(q);
	free(r);
}

static void test_udp_timeouts(void **state)
{
	struct msgb *q = calloc(1, sizeof(*q));
	struct fx f;

	(void)state;
	fx_init(&f);
	query_a(q, 1, "lost.example");
	udp(&f, true, q);
	/* idle: the conversation closes, the query is missing its response */
	dissect_engine_expire(f.eng, f.ts + DISSECT_DEFAULT_UDP_IDLE_NS - 10000);
	assert_int_equal(n_entries(&f), 0);
	dissect_engine_expire(f.eng, f.ts + DISSECT_DEFAULT_UDP_IDLE_NS + 1);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing", "response");
	assert_str(&f, 0, "missing_reason", "timeout");
	assert_str(&f, 0, "request.name", "lost.example");
	/* busy conversation: the old query times out when later messages come */
	query_a(q, 2, "slow.example");
	udp(&f, true, q);
	f.ts += DNS_QUERY_TIMEOUT_NS + 1;
	query_a(q, 3, "fast.example");
	udp(&f, true, q);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 1, "request.name", "slow.example");
	assert_str(&f, 1, "missing_reason", "timeout");
	fx_free(&f);
	free(q);
}

static void test_udp_table_bounds(void **state)
{
	struct dissect_config cfg = {.udp_max_conversations = 2};
	struct msgb *q = calloc(1, sizeof(*q));
	struct dissect_stats st;
	struct fx f;
	int i;

	(void)state;
	fx_init_cfg(&f, &cfg);
	for (i = 0; i < 3; i++) {
		f.cport = 40000 + i;
		query_a(q, 100 + i, "bound.example");
		udp(&f, true, q);
	}
	st = fx_stats(&f);
	assert_int_equal(st.udp_conversations, 3);
	assert_int_equal(st.udp_evicted, 1);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing_reason", "timeout");
	assert_int_equal(iget(&f, 0, "src.port"), 40000);
	fx_finish(&f);
	assert_int_equal(n_entries(&f), 3);
	/* one numbering: every conversation its own flow id */
	assert_true(iget(&f, 0, "flow_id") != iget(&f, 1, "flow_id"));
	assert_true(iget(&f, 1, "flow_id") != iget(&f, 2, "flow_id"));
	/* not DNS: given up after a few datagrams, counted as unrecognised */
	f.cport = 50000;
	for (i = 0; i < (int)DISSECT_UDP_DETECT_DATAGRAMS + 2; i++)
		udp_n(&f, true, (const uint8_t *)"hello, not dns at all", 21, 21);
	st = fx_stats(&f);
	assert_int_equal(st.conns_unknown, 1);
	/* a later IP fragment is counted, not dissected */
	{
		struct packet pk = {.l4_proto = IPPROTO_UDP, .flags = PACKET_F_FRAGMENT};

		assert_int_equal(dissect_engine_packet(f.eng, &pk), TCP_IGNORE_FRAGMENT);
		assert_int_equal(fx_stats(&f).ip_fragments, 1);
	}
	fx_free(&f);
	free(q);
}

/* ---- TCP ---- */

static void test_tcp_pipelined_out_of_order(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	uint8_t *b = malloc(4096);
	size_t n = 0, i, sizes[3];
	struct fx f;
	const char *names[3] = {"one.example", "two.example", "three.example"};

	(void)state;
	fx_init(&f);
	tcp_open(&f);
	for (i = 0; i < 3; i++) {
		query_a(m, 10 + i, names[i]);
		framed(b, &n, m);
		sizes[i] = m->n + 2;
	}
	/* the three queries in odd pieces */
	tcp_bytes(&f, TCP_DIR_C2S, b, 1);
	tcp_bytes(&f, TCP_DIR_C2S, b + 1, 20);
	tcp_bytes(&f, TCP_DIR_C2S, b + 21, n - 21);
	/* answers in the order 3, 1, 2 (RFC 7766 6.2.1.1) */
	for (i = 0; i < 3; i++) {
		size_t k = (i + 2) % 3;

		hdr(m, 10 + k, 0x8180, 1, 1, 0, 0);
		question(m, names[k], 1);
		rr_a(m, names[k], 192, 0, 2, (uint8_t)k);
		tcp_msg(&f, TCP_DIR_S2C, m);
	}
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "request.name", "three.example");
	assert_str(&f, 0, "response.answers.0.data", "192.0.2.2");
	assert_str(&f, 1, "request.name", "one.example");
	assert_str(&f, 2, "request.name", "two.example");
	assert_str(&f, 2, "transport", "tcp");
	assert_int_equal(iget(&f, 2, "request_size"), (long long)sizes[1]); /* with the length */
	for (i = 0; i < 3; i++)
		assert_null(eget(&f, i, "missing"));
	/* a query left unanswered when the connection closes */
	query_a(m, 99, "late.example");
	tcp_msg(&f, TCP_DIR_C2S, m);
	dissect_stream_close(f.eng, f.c, TCP_CLOSE_FIN, f.ts);
	f.c = NULL;
	assert_int_equal(n_entries(&f), 4);
	assert_str(&f, 3, "missing", "response");
	assert_str(&f, 3, "missing_reason", "connection_closed");
	fx_free(&f);
	free(b);
	free(m);
}

/* An A answer (id, name -> last.last.last.last) over TCP from the server. */
static void tcp_answer(struct fx *f, struct msgb *m, uint16_t id, const char *name, uint8_t last)
{
	hdr(m, id, 0x8180, 1, 1, 0, 0);
	question(m, name, 1);
	rr_a(m, name, last, last, last, last);
	tcp_msg(f, TCP_DIR_S2C, m);
}

/*
 * A TCP response without its query: unsolicited on an unbroken stream, capture_gap once bytes
 * of the queries' direction were lost (the query may have been in them).
 */
static void test_tcp_response_without_query(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	struct fx f;

	(void)state;
	fx_init(&f);
	tcp_open(&f);
	tcp_answer(&f, m, 7, "u.example", 7);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "missing", "request");
	assert_str(&f, 0, "missing_reason", "unsolicited");
	assert_true(json_is_true(eget(&f, 0, "unsolicited")));
	/* a gap in the responses' direction says nothing about the queries */
	dissect_stream_gap(f.eng, f.c, TCP_DIR_S2C, 100, f.ts);
	tcp_answer(&f, m, 8, "v.example", 8);
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 1, "missing_reason", "unsolicited");
	/* one in the queries' direction does */
	dissect_stream_gap(f.eng, f.c, TCP_DIR_C2S, 40, f.ts);
	tcp_answer(&f, m, 9, "w.example", 9);
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 2, "missing", "request");
	assert_str(&f, 2, "missing_reason", "capture_gap");
	assert_null(eget(&f, 2, "unsolicited"));
	dissect_stream_close(f.eng, f.c, TCP_CLOSE_FIN, f.ts);
	f.c = NULL;
	fx_free(&f);
	free(m);
}

static void test_tcp_gap_resync(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	uint8_t *b = malloc(4096);
	size_t n = 0;
	struct fx f;

	(void)state;
	fx_init(&f);
	tcp_open(&f);
	query_a(m, 1, "a.example");
	tcp_msg(&f, TCP_DIR_C2S, m);
	query_a(m, 2, "b.example");
	tcp_msg(&f, TCP_DIR_C2S, m);
	/* the first response starts, then a gap eats its end */
	hdr(m, 1, 0x8180, 1, 1, 0, 0);
	question(m, "a.example", 1);
	rr_a(m, "a.example", 1, 1, 1, 1);
	framed(b, &n, m);
	tcp_bytes(&f, TCP_DIR_S2C, b, 10);
	dissect_stream_gap(f.eng, f.c, TCP_DIR_S2C, n - 10 - 3, f.ts);
	/* the 3 bytes after the gap are garbage to the dissector; then a whole response */
	n = 0;
	b[n++] = 0x0a;
	b[n++] = 0x00;
	b[n++] = 0x77;
	hdr(m, 2, 0x8180, 1, 1, 0, 0);
	question(m, "b.example", 1);
	rr_a(m, "b.example", 2, 2, 2, 2);
	framed(b, &n, m);
	tcp_bytes(&f, TCP_DIR_S2C, b, n);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "request.name", "b.example");
	assert_str(&f, 0, "response.answers.0.data", "2.2.2.2");
	dissect_stream_close(f.eng, f.c, TCP_CLOSE_FIN, f.ts);
	f.c = NULL;
	assert_int_equal(n_entries(&f), 2);
	assert_str(&f, 1, "request.name", "a.example");
	assert_str(&f, 1, "missing_reason", "capture_gap");
	fx_free(&f);
	free(b);
	free(m);
}

static void test_tcp_zone_transfer(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	struct fx f;
	int part;

	(void)state;
	fx_init(&f);
	tcp_open(&f);
	hdr(m, 0x4242, 0x0000, 1, 0, 0, 0);
	question(m, "zone.example", 252);
	tcp_msg(&f, TCP_DIR_C2S, m);
	for (part = 0; part < 2; part++) {
		hdr(m, 0x4242, 0x8400, part == 0, 3, 0, 0);
		if (part == 0)
			question(m, "zone.example", 252);
		if (part == 0) {
			rr_soa(m, "zone.example", 2024010101);
		}
		rr_a(m, part ? "c.zone.example" : "a.zone.example", 10, 0, 0, 1);
		rr_a(m, part ? "d.zone.example" : "b.zone.example", 10, 0, 0, 2);
		if (part == 1) {
			rr_soa(m, "zone.example", 2024010101);
		}
		tcp_msg(&f, TCP_DIR_S2C, m);
		assert_int_equal(n_entries(&f), (size_t)part);
	}
	assert_int_equal(iget(&f, 0, "response.messages"), 2);
	assert_int_equal(iget(&f, 0, "response.counts.answers"), 6);
	assert_str(&f, 0, "response.answers.0.type", "SOA");
	assert_int_equal(iget(&f, 0, "response.answers.0.data.serial"), 2024010101);
	assert_str(&f, 0, "response.answers.0.data.rname", "admin.zone.example");
	assert_str(&f, 0, "response.answers.4.name", "d.zone.example");
	assert_null(eget(&f, 0, "response.transfer_complete"));
	assert_null(eget(&f, 0, "missing"));
	assert_int_equal(counter(&f, DNS_COUNTER_XFR_MESSAGES), 1);
	fx_free(&f);
	free(m);
}

/* ---- records ---- */

static void test_typed_records(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t key[] = {0x03, 0x01, 0x00, 0x01, 0xab, 0xcd};
	struct fx f;
	size_t at;

	(void)state;
	fx_init(&f);
	hdr(m, 3, 0x8580, 1, 12, 0, 1);
	question(m, "t.example", 255);
	at = rr(m, "t.example", 15, 10); /* MX */
	put16(m, 10);
	name(m, "mail.t.example");
	rr_end(m, at);
	at = rr(m, "t.example", 16, 10); /* TXT, two strings, one not UTF-8 */
	put8(m, 5);
	putn(m, "hello", 5);
	put8(m, 2);
	putn(m, "\xff\x41", 2);
	rr_end(m, at);
	at = rr(m, "t.example", 28, 10); /* AAAA */
	putn(m, v6, 16);
	rr_end(m, at);
	at = rr(m, "_sip._tcp.t.example", 33, 10); /* SRV */
	put16(m, 1);
	put16(m, 2);
	put16(m, 5060);
	name(m, "sip.t.example");
	rr_end(m, at);
	at = rr(m, "t.example", 257, 10); /* CAA */
	put8(m, 0);
	put8(m, 5);
	putn(m, "issue", 5);
	putn(m, "letsencrypt.org", 15);
	rr_end(m, at);
	at = rr(m, "t.example", 43, 10); /* DS */
	put16(m, 12345);
	put8(m, 8);
	put8(m, 2);
	putn(m, "\x01\x02\xfe", 3);
	rr_end(m, at);
	at = rr(m, "t.example", 48, 10); /* DNSKEY */
	put16(m, 257);
	put8(m, 3);
	put8(m, 8);
	putn(m, key, sizeof(key));
	rr_end(m, at);
	at = rr(m, "t.example", 46, 10); /* RRSIG */
	put16(m, 1);
	put8(m, 8);
	put8(m, 2);
	put32(m, 3600);
	put32(m, 1465061740); /* 2016-06-04 17:35:40 */
	put32(m, 1462467211);
	put16(m, 57909);
	name(m, "t.example");
	putn(m, "\x00\x01\x02", 3);
	rr_end(m, at);
	at = rr(m, "t.example", 47, 10); /* NSEC: A, MX, RRSIG, NSEC, CAA(257) */
	name(m, "u.t.example");
	putn(m, "\x00\x06\x40\x01\x00\x00\x00\x03\x01\x01\x40", 11);
	rr_end(m, at);
	at = rr(m, "t.example", 65280, 10); /* unknown */
	putn(m, "\xde\xad", 2);
	rr_end(m, at);
	at = rr(m, "t.example", 1, 10); /* A with 5 bytes: malformed, kept as hex */
	putn(m, "\x01\x02\x03\x04\x05", 5);
	rr_end(m, at);
	at = rr(m, "t.example", 65, 10); /* HTTPS: alpn h2,h3; port 443; ipv4hint */
	put16(m, 1);
	put8(m, 0);
	put16(m, 1);
	put16(m, 6);
	putn(m, "\x02h2\x02h3", 6);
	put16(m, 3);
	put16(m, 2);
	put16(m, 443);
	put16(m, 4);
	put16(m, 4);
	putn(m, "\xc0\x00\x02\x01", 4);
	rr_end(m, at);
	/* OPT: 1232 bytes, extended rcode 1 (BADVERS with header 0), DO; ECS, cookie, pad */
	put8(m, 0);
	put16(m, 41);
	put16(m, 1232);
	put32(m, 0x01008000);
	at = m->n;
	put16(m, 0);
	put16(m, 8);
	put16(m, 7);
	putn(m, "\x00\x01\x18\x00\xc0\x00\x02", 7);
	put16(m, 10);
	put16(m, 16);
	putn(m, "\x01\x02\x03\x04\x05\x06\x07\x08\x11\x12\x13\x14\x15\x16\x17\x18", 16);
	put16(m, 12);
	put16(m, 4);
	putn(m, "\0\0\0\0", 4);
	put16(m, 15);
	put16(m, 6);
	putn(m, "\x00\x12oops", 6);
	rr_end(m, at);
	udp(&f, false, m);
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(iget(&f, 0, "response.answers.0.data.preference"), 10);
	assert_str(&f, 0, "response.answers.0.data.exchange", "mail.t.example");
	assert_str(&f, 0, "response.answers.1.data.0", "hello");
	assert_str(&f, 0, "response.answers.1.data.1",
		   "\xef\xbf\xbd"
		   "A");
	assert_str(&f, 0, "response.answers.2.data", "2001:db8::1");
	assert_int_equal(iget(&f, 0, "response.answers.3.data.port"), 5060);
	assert_str(&f, 0, "response.answers.3.data.target", "sip.t.example");
	assert_str(&f, 0, "response.answers.4.data.tag", "issue");
	assert_str(&f, 0, "response.answers.4.data.value", "letsencrypt.org");
	assert_int_equal(iget(&f, 0, "response.answers.5.data.key_tag"), 12345);
	assert_str(&f, 0, "response.answers.5.data.digest", "0102fe");
	assert_int_equal(iget(&f, 0, "response.answers.6.data.flags"), 257);
	assert_str(&f, 0, "response.answers.6.data.public_key", "AwEAAavN");
	assert_int_equal(iget(&f, 0, "response.answers.6.data.key_tag"),
			 /* RFC 4034 App. B by hand: 0x0101+0x0308+0x0301+0x0001+0xabcd */
			 (0x0101 + 0x0308 + 0x0301 + 0x0001 + 0xabcd) & 0xffff);
	assert_str(&f, 0, "response.answers.7.data.type_covered", "A");
	assert_str(&f, 0, "response.answers.7.data.expiration", "20160604173540");
	assert_str(&f, 0, "response.answers.7.data.signer", "t.example");
	assert_str(&f, 0, "response.answers.8.data.next", "u.t.example");
	assert_str(&f, 0, "response.answers.8.data.types.0", "A");
	assert_str(&f, 0, "response.answers.8.data.types.1", "MX");
	assert_str(&f, 0, "response.answers.8.data.types.2", "RRSIG");
	assert_str(&f, 0, "response.answers.8.data.types.3", "NSEC");
	assert_str(&f, 0, "response.answers.8.data.types.4", "CAA");
	assert_str(&f, 0, "response.answers.9.type", "TYPE65280");
	assert_str(&f, 0, "response.answers.9.data.hex", "dead");
	assert_true(json_is_true(eget(&f, 0, "response.answers.10.malformed")));
	assert_str(&f, 0, "response.answers.10.data.hex", "0102030405");
	assert_str(&f, 0, "response.answers.11.data.params.alpn.1", "h3");
	assert_int_equal(iget(&f, 0, "response.answers.11.data.params.port"), 443);
	assert_str(&f, 0, "response.answers.11.data.params.ipv4hint.0", "192.0.2.1");
	assert_int_equal(iget(&f, 0, "response.malformed_records"), 1);
	assert_int_equal(iget(&f, 0, "response.edns.udp_size"), 1232);
	assert_true(json_is_true(eget(&f, 0, "response.edns.do")));
	assert_str(&f, 0, "response.rcode", "BADVERS");
	assert_int_equal(iget(&f, 0, "response.rcode_value"), 16);
	assert_str(&f, 0, "response.edns.options.0.name", "client_subnet");
	assert_str(&f, 0, "response.edns.options.0.address", "192.0.2.0");
	assert_int_equal(iget(&f, 0, "response.edns.options.0.source_prefix"), 24);
	assert_str(&f, 0, "response.edns.options.1.client", "0102030405060708");
	assert_str(&f, 0, "response.edns.options.1.server", "1112131415161718");
	assert_str(&f, 0, "response.edns.options.2.name", "padding");
	assert_int_equal(iget(&f, 0, "response.edns.options.2.length"), 4);
	assert_int_equal(iget(&f, 0, "response.edns.options.3.info_code"), 18);
	assert_str(&f, 0, "response.edns.options.3.info", "Prohibited");
	assert_str(&f, 0, "response.edns.options.3.extra_text", "oops");
	assert_null(eget(&f, 0, "response.additional")); /* OPT is "edns", not a record */
	assert_null(eget(&f, 0, "response.error"));
	fx_free(&f);
	free(m);
}

static void test_records_bound(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	struct dissect_config cfg = {.body_max = 4};
	struct fx f;
	size_t at;
	int i;

	(void)state;
	fx_init_cfg(&f, &cfg);
	hdr(m, 8, 0x8180, 1, 151, 0, 0);
	question(m, "many.example", 1);
	for (i = 0; i < 150; i++)
		rr_a(m, "many.example", 10, 1, (uint8_t)(i >> 8), (uint8_t)i);
	at = rr(m, "many.example", 16, 1); /* walked past the bound */
	put8(m, 10);
	putn(m, "0123456789", 10);
	rr_end(m, at);
	udp(&f, false, m);
	assert_int_equal(json_array_size(eget(&f, 0, "response.answers")), DNS_RECORDS_MAX_DEFAULT);
	assert_int_equal(iget(&f, 0, "response.counts.answers"), 151);
	assert_int_equal(iget(&f, 0, "response.records_not_shown"), 51);
	assert_null(eget(&f, 0, "response.error"));
	/* values cut at body_max */
	hdr(m, 9, 0x8180, 1, 1, 0, 0);
	question(m, "txt.example", 16);
	at = rr(m, "txt.example", 16, 1);
	put8(m, 10);
	putn(m, "0123456789", 10);
	rr_end(m, at);
	udp(&f, false, m);
	assert_str(&f, 1, "response.answers.0.data.0", "0123");
	assert_true(json_is_true(eget(&f, 1, "response.answers.0.truncated")));
	fx_free(&f);
	free(m);
}

/* ---- hostile input ---- */

static void parse_expect_error(const uint8_t *p, size_t n, const char *what)
{
	struct dns_summary sum;
	json_t *o = NULL;

	assert_int_equal(dns_message_parse(p, n, NULL, &sum, &o), -EINVAL);
	assert_non_null(sum.error);
	if (!strstr(sum.error, what))
		fail_msg("error \"%s\", want \"%s\"", sum.error, what);
	if (n >= DNS_HEADER_LEN) {
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "error")), sum.error);
	}
	json_decref(o);
}

/* A response for "ok.example": one good A record, then one whose owner points to itself. */
static size_t response_with_loop(struct msgb *m)
{
	size_t at;

	hdr(m, 0x99, 0x8000, 1, 3, 0, 0);
	question(m, "ok.example", 1);
	rr_a(m, "ok.example", 1, 2, 3, 4);
	at = m->n;
	put8(m, 0xc0);
	put8(m, (uint8_t)at);
	put16(m, 1);
	put16(m, 1);
	put32(m, 1);
	put16(m, 4);
	put32(m, 0);
	return at;
}

static void test_hostile(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	size_t i, at = 0, loop_at;
	struct fx f;

	(void)state;
	/* a pointer to itself */
	hdr(m, 1, 0, 1, 0, 0, 0);
	put8(m, 0xc0);
	put8(m, 12);
	put16(m, 1);
	put16(m, 1);
	parse_expect_error(m->b, m->n, "backwards");
	/* two pointers to each other, after a label */
	hdr(m, 1, 0, 1, 0, 0, 0);
	put8(m, 1);
	put8(m, 'a');
	put8(m, 0xc0);
	put8(m, 12);
	parse_expect_error(m->b, m->n, "backwards");
	/* a forward pointer */
	hdr(m, 1, 0, 1, 0, 0, 0);
	put8(m, 0xc0);
	put8(m, 18);
	put16(m, 1);
	put16(m, 1);
	name(m, "x");
	parse_expect_error(m->b, m->n, "backwards");
	/* a pointer past the end, and into the header (backwards: allowed, but garbage) */
	hdr(m, 1, 0, 1, 0, 0, 0);
	put8(m, 0xff);
	put8(m, 0xff);
	parse_expect_error(m->b, m->n, "backwards");
	/* label of 64 */
	hdr(m, 1, 0, 1, 0, 0, 0);
	put8(m, 64);
	for (i = 0; i < 64; i++)
		put8(m, 'x');
	put8(m, 0);
	put16(m, 1);
	put16(m, 1);
	parse_expect_error(m->b, m->n, "63");
	/* 0x40 / 0x80 label types */
	hdr(m, 1, 0, 1, 0, 0, 0);
	put8(m, 0x41);
	parse_expect_error(m->b, m->n, "label type 01");
	/* a name longer than 255: five questions, each a label and a pointer to the one
	 * before (62, 123, 184, 245, 306 bytes) */
	hdr(m, 1, 0, 5, 0, 0, 0);
	for (i = 0; i < 5; i++) {
		size_t prev = at;

		at = m->n;
		put8(m, 60);
		for (size_t k = 0; k < 60; k++)
			put8(m, 'a' + (int)i);
		if (i) {
			put8(m, 0xc0 | (prev >> 8));
			put8(m, prev & 0xff);
		} else {
			put8(m, 0);
		}
		put16(m, 1);
		put16(m, 1);
	}
	parse_expect_error(m->b, m->n, "255");
	/* counts larger than the message */
	hdr(m, 1, 0x8000, 1, 65535, 65535, 65535);
	question(m, "c.example", 1);
	parse_expect_error(m->b, m->n, "larger than the message");
	/* rdlength past the end */
	hdr(m, 1, 0x8000, 1, 1, 0, 0);
	question(m, "r.example", 1);
	at = rr(m, "r.example", 1, 1);
	put8(m, 1);
	m->b[at] = 0xff;
	parse_expect_error(m->b, m->n, "rdata length");
	/* a record cut in its fixed part */
	m->n = at - 4;
	parse_expect_error(m->b, m->n, "past the end");
	/* shorter than a header */
	parse_expect_error(m->b, 5, "header");

	/* through the dissector: an error entry, a counted parse error, no crash */
	fx_init(&f);
	loop_at = response_with_loop(m);
	udp(&f, true, m); /* the client side sends a response: src is then the server */
	/* the conversation is DNS already? no: a broken first datagram is not detected */
	assert_int_equal(n_entries(&f), 0);
	query_a(m, 0x99, "ok.example");
	udp(&f, false, m);
	response_with_loop(m);
	udp(&f, true, m);
	assert_int_equal(n_entries(&f), 1);
	assert_str(&f, 0, "response.answers.0.data", "1.2.3.4");
	assert_int_equal(iget(&f, 0, "response.error_offset"), (long long)loop_at);
	assert_non_null(strstr(json_string_value(eget(&f, 0, "response.error")), "backwards"));
	assert_int_equal(fx_stats(&f).parse_errors, 1);
	assert_int_equal(counter(&f, DNS_COUNTER_MALFORMED), 1);
	/* the query came from the higher port: it is the client */
	assert_int_equal(iget(&f, 0, "src.port"), 53);
	fx_free(&f);
	free(m);
}

/* A datagram cut by the snap length is dissected as far as it goes. */
static void test_udp_cut(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	struct fx f;

	(void)state;
	fx_init(&f);
	query_a(m, 4, "cut.example");
	udp(&f, true, m);
	hdr(m, 4, 0x8380, 1, 2, 0, 0); /* TC set too */
	question(m, "cut.example", 1);
	rr_a(m, "cut.example", 1, 1, 1, 1);
	rr_a(m, "cut.example", 2, 2, 2, 2);
	udp_n(&f, false, m->b, m->n - 6, m->n);
	assert_int_equal(n_entries(&f), 1);
	assert_int_equal(json_array_size(eget(&f, 0, "response.answers")), 1);
	assert_non_null(eget(&f, 0, "response.error"));
	assert_true(json_is_true(eget(&f, 0, "response.flags.tc")));
	assert_int_equal(fx_stats(&f).udp_datagrams_cut, 1);
	assert_int_equal(counter(&f, DNS_COUNTER_TRUNCATED), 1);
	fx_free(&f);
	free(m);
}

/* ---- IP fragments ---- */

/* The response (UDP header + msg) from 10.0.0.2:sport to 10.0.0.1:cport (or the IPv6
 * fd00::2 -> fd00::1) cut into fragments of frag_len data bytes; fragment i as a raw IP
 * frame into frame, returns its length, 0 past the last. */
static size_t ip_fragment(struct fx *f, const struct msgb *m, bool v6, size_t frag_len, size_t i,
			  uint8_t *frame)
{
	uint8_t dgram[70000];
	size_t dlen = 8 + m->n, off = i * frag_len, len, h;
	bool more;

	if (off >= dlen)
		return 0;
	dgram[0] = f->sport >> 8;
	dgram[1] = f->sport & 0xff;
	dgram[2] = f->cport >> 8;
	dgram[3] = f->cport & 0xff;
	dgram[4] = (uint8_t)(dlen >> 8);
	dgram[5] = (uint8_t)dlen;
	dgram[6] = dgram[7] = 0;
	memcpy(dgram + 8, m->b, m->n);
	len = dlen - off < frag_len ? dlen - off : frag_len;
	more = off + len < dlen;
	if (!v6) {
		memset(frame, 0, 20);
		frame[0] = 0x45;
		frame[2] = (uint8_t)((20 + len) >> 8);
		frame[3] = (uint8_t)(20 + len);
		frame[4] = 0x12;
		frame[5] = 0x34;
		frame[6] = (uint8_t)((more ? 0x20 : 0) | (off / 8) >> 8);
		frame[7] = (uint8_t)(off / 8);
		frame[8] = 64;
		frame[9] = 17;
		frame[12] = 10, frame[15] = 2;
		frame[16] = 10, frame[19] = 1;
		h = 20;
	} else {
		memset(frame, 0, 48);
		frame[0] = 0x60;
		frame[4] = (uint8_t)((8 + len) >> 8);
		frame[5] = (uint8_t)(8 + len);
		frame[6] = 44;
		frame[7] = 64;
		frame[8] = 0xfd, frame[23] = 2;
		frame[24] = 0xfd, frame[39] = 1;
		frame[40] = 17;
		frame[42] = (uint8_t)(off >> 8);
		frame[43] = (uint8_t)((off & 0xf8) | (more ? 1 : 0));
		frame[47] = 0x77;
		h = 48;
	}
	memcpy(frame + h, dgram + off, len);
	return h + len;
}

static void raw_frame(struct fx *f, const uint8_t *frame, size_t n)
{
	struct packet pk;

	assert_int_equal(packet_decode(12 /* DLT_RAW */, frame, n, n, f->ts, &pk), 0);
	dissect_engine_packet(f->eng, &pk);
	f->ts += 1000;
}

static void test_ip_fragments(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	uint8_t *frame = malloc(70000);
	struct dissect_stats st;
	struct fx f;
	size_t at, n;
	int v6, i;

	(void)state;
	fx_init(&f);
	/* a response of ~3000 bytes: 20 TXT records of 140 bytes */
	hdr(m, 0x0f0f, 0x8180, 1, 20, 0, 0);
	question(m, "big.example", 16);
	for (i = 0; i < 20; i++) {
		at = rr(m, "big.example", 16, 5);
		put8(m, 140);
		for (n = 0; n < 140; n++)
			put8(m, 'a' + i);
		rr_end(m, at);
	}
	for (v6 = 0; v6 < 2; v6++) {
		struct msgb *q = calloc(1, sizeof(*q));
		static const size_t order[3] = {1, 2, 0};

		query_a(q, 0x0f0f, "big.example");
		q->b[q->n - 3] = 16; /* TXT */
		if (v6) {
			struct packet pk;
			uint8_t qf[200] = {0x60};

			qf[4] = 0;
			qf[5] = (uint8_t)(8 + q->n);
			qf[6] = 17;
			qf[8] = 0xfd, qf[23] = 1;
			qf[24] = 0xfd, qf[39] = 2;
			qf[40] = f.cport >> 8, qf[41] = f.cport & 0xff;
			qf[42] = 0, qf[43] = 53;
			qf[45] = (uint8_t)(8 + q->n);
			memcpy(qf + 48, q->b, q->n);
			assert_int_equal(packet_decode(12, qf, 48 + q->n, 48 + q->n, f.ts, &pk), 0);
			dissect_engine_packet(f.eng, &pk);
		} else {
			udp(&f, true, q);
		}
		free(q);
		/* fragments 2, 3, 1: out of order */
		for (i = 0; i < 3; i++) {
			n = ip_fragment(&f, m, v6, 1232, order[i], frame);
			assert_true(n > 0);
			raw_frame(&f, frame, n);
			assert_int_equal(n_entries(&f), (size_t)v6 + (i == 2));
		}
		assert_str(
		    &f, v6, "response.answers.19.data.0",
		    "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"
		    "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt");
		assert_null(eget(&f, v6, "response.error"));
		assert_int_equal(iget(&f, v6, "response_size"), (long long)m->n);
		assert_null(eget(&f, v6, "missing"));
	}
	/* the middle fragment never comes: given up at the end, dissected as far as it goes */
	query_a(m, 0x0f10, "big.example");
	udp(&f, true, m);
	hdr(m, 0x0f10, 0x8180, 1, 20, 0, 0);
	m->n = 0;
	hdr(m, 0x0f10, 0x8180, 1, 20, 0, 0);
	question(m, "big.example", 1);
	for (i = 0; i < 20; i++)
		rr_a(m, "big.example", 10, 0, 0, (uint8_t)i);
	n = ip_fragment(&f, m, false, 200, 0, frame);
	raw_frame(&f, frame, n);
	n = ip_fragment(&f, m, false, 200, 2, frame);
	raw_frame(&f, frame, n);
	fx_finish(&f);
	st = fx_stats(&f);
	assert_int_equal(st.ip_reassembled, 2);
	assert_int_equal(st.ip_fragments, 8);
	assert_int_equal(st.ip_fragments_given_up, 1);
	assert_int_equal(n_entries(&f), 3);
	assert_non_null(eget(&f, 2, "response.error"));
	/* 192 DNS bytes: header and question 29, six A records of 27 */
	assert_int_equal(json_array_size(eget(&f, 2, "response.answers")), 6);
	fx_free(&f);
	free(frame);
	free(m);
}

/* The bounds of pending queries. */
static void test_pending_bound(void **state)
{
	struct msgb *m = calloc(1, sizeof(*m));
	struct fx f;
	unsigned i;

	(void)state;
	fx_init(&f);
	for (i = 0; i < DNS_PENDING_MAX + 3; i++) {
		query_a(m, i, "p.example");
		udp(&f, true, m);
	}
	assert_int_equal(n_entries(&f), 3);
	assert_str(&f, 0, "missing_reason", "too_many_pending");
	assert_int_equal(iget(&f, 0, "request.id"), 0);
	assert_int_equal(counter(&f, DNS_COUNTER_PENDING_EVICTED), 3);
	fx_free(&f);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect_not_others),
	    cmocka_unit_test(test_detect_dns),
	    cmocka_unit_test(test_udp_pair),
	    cmocka_unit_test(test_udp_response_first),
	    cmocka_unit_test(test_udp_retransmit_and_copy),
	    cmocka_unit_test(test_udp_timeouts),
	    cmocka_unit_test(test_udp_table_bounds),
	    cmocka_unit_test(test_tcp_pipelined_out_of_order),
	    cmocka_unit_test(test_tcp_response_without_query),
	    cmocka_unit_test(test_tcp_gap_resync),
	    cmocka_unit_test(test_tcp_zone_transfer),
	    cmocka_unit_test(test_typed_records),
	    cmocka_unit_test(test_records_bound),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_udp_cut),
	    cmocka_unit_test(test_pending_bound),
	    cmocka_unit_test(test_ip_fragments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
