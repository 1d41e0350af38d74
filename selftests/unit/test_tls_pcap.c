// SPDX-License-Identifier: Apache-2.0
/*
 * store/tls_pcap: TLS plaintext chunks into synthetic TCP frames. The frames are decoded back
 * here, byte by byte from the RFCs' layouts, and checked field by field: the mark, the
 * handshake, MSS-sized segments whose sequence numbers follow the stream offsets (a gap
 * stays a gap), acknowledgements, valid IPv4/IPv6 and TCP checksums (RFC 1071 recomputed
 * here), the FINs, one stream per connection when both ends are read, the linger after an
 * end, a tuple reused by the same process, chunks without endpoints and a full table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/tls_pcap.h"

struct frame {
	uint64_t ts;
	uint8_t b[TLS_PCAP_FRAME_MAX];
	size_t len;
};

struct sink {
	struct frame f[256];
	size_t n;
};

static void emit(void *ctx, uint64_t ts, const uint8_t *frame, size_t len)
{
	struct sink *s = ctx;

	assert_true(len <= TLS_PCAP_FRAME_MAX);
	assert_true(s->n < 256);
	s->f[s->n].ts = ts;
	memcpy(s->f[s->n].b, frame, len);
	s->f[s->n].len = len;
	s->n++;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += rd16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A decoded synthetic TCP segment; checks the mark, the lengths and both checksums. */
struct seg {
	int from_client;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	size_t len;
};

static struct seg decode(const struct frame *f)
{
	struct seg s = {0};
	const uint8_t *ip = f->b + 14, *tcp;
	size_t ip_len, tcp_len;
	uint32_t sum;

	assert_true(tls_pcap_is_synthetic(f->b, f->len));
	s.from_client = f->b[11] == 1;
	assert_int_equal(f->b[5], s.from_client ? 2 : 1);
	if (rd16(f->b + 12) == 0x0800) {
		ip_len = 20;
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(rd16(ip + 2), f->len - 14);
		assert_int_equal(csum_fold(csum_add(0, ip, 20)), 0xffff);
		sum = csum_add(0, ip + 12, 8);
	} else {
		assert_int_equal(rd16(f->b + 12), 0x86dd);
		ip_len = 40;
		assert_int_equal(rd16(ip + 4), f->len - 54);
		sum = csum_add(0, ip + 8, 32);
	}
	tcp = ip + ip_len;
	tcp_len = f->len - 14 - ip_len;
	sum += 6 + (uint32_t)tcp_len;
	assert_int_equal(csum_fold(csum_add(sum, tcp, tcp_len)), 0xffff);
	s.sport = rd16(tcp);
	s.dport = rd16(tcp + 2);
	s.seq = rd32(tcp + 4);
	s.ack = rd32(tcp + 8);
	s.flags = tcp[13];
	s.data = tcp + 20;
	s.len = tcp_len - 20;
	return s;
}

static struct byte_stream_chunk chunk(uint64_t cookie, int from_client, uint64_t off,
				      const void *data, size_t len, uint32_t flags, uint64_t ts)
{
	struct byte_stream_chunk c = {.cookie = cookie,
				      .client_port = 40000,
				      .server_port = 443,
				      .from_client = (uint8_t)from_client,
				      .flags = flags | BYTE_STREAM_TLS,
				      .offset = off,
				      .data = data,
				      .len = len,
				      .ts_ns = ts,
				      .pid = 7};
	static const uint8_t c4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
	static const uint8_t s4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};

	memcpy(c.client_addr, c4, 16);
	memcpy(c.server_addr, s4, 16);
	return c;
}

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define PSH 0x08

static void test_conversation(void **state)
{
	struct sink *k = calloc(1, sizeof(*k));
	struct tls_pcap *tp;
	struct tls_pcap_stats st;
	uint8_t req[3000], resp[100];
	struct byte_stream_chunk c;
	struct seg s[16];
	uint32_t cseq, sseq;

	(void)state;
	for (size_t i = 0; i < sizeof(req); i++)
		req[i] = (uint8_t)i;
	memset(resp, 'r', sizeof(resp));
	assert_int_equal(tls_pcap_new(0, emit, k, &tp), 0);
	c = chunk(1, 1, 0, req, sizeof(req), BYTE_STREAM_OPEN, 5000);
	tls_pcap_chunk(tp, &c);
	/* SYN, SYN-ACK, ACK, 1460 + 1460 + 80, the server's ACK */
	assert_int_equal(k->n, 7);
	for (size_t i = 0; i < k->n; i++) {
		s[i] = decode(&k->f[i]);
		assert_int_equal(k->f[i].ts, 5000);
	}
	assert_int_equal(s[0].flags, SYN);
	assert_true(s[0].from_client);
	assert_int_equal(s[0].sport, 40000);
	assert_int_equal(s[0].dport, 443);
	assert_int_equal(s[1].flags, SYN | ACK);
	assert_false(s[1].from_client);
	assert_int_equal(s[1].ack, s[0].seq + 1);
	cseq = s[0].seq + 1;
	sseq = s[1].seq + 1;
	assert_int_equal(s[2].flags, ACK);
	assert_int_equal(s[2].seq, cseq);
	assert_int_equal(s[2].ack, sseq);
	assert_int_equal(s[3].len, TLS_PCAP_MSS_V4);
	assert_int_equal(s[4].len, TLS_PCAP_MSS_V4);
	assert_int_equal(s[5].len, 80);
	assert_int_equal(s[3].seq, cseq);
	assert_int_equal(s[4].seq, cseq + 1460);
	assert_int_equal(s[5].seq, cseq + 2920);
	assert_int_equal(s[5].flags, ACK | PSH);
	assert_int_equal(s[3].flags, ACK);
	assert_memory_equal(s[4].data, req + 1460, 1460);
	assert_false(s[6].from_client);
	assert_int_equal(s[6].ack, cseq + 3000);
	assert_int_equal(s[6].len, 0);

	/* The response: acknowledges the whole request. */
	k->n = 0;
	c = chunk(1, 0, 0, resp, sizeof(resp), 0, 6000);
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, 2);
	s[0] = decode(&k->f[0]);
	s[1] = decode(&k->f[1]);
	assert_int_equal(s[0].seq, sseq);
	assert_int_equal(s[0].ack, cseq + 3000);
	assert_int_equal(s[0].sport, 443);
	assert_memory_equal(s[0].data, resp, sizeof(resp));
	assert_int_equal(s[1].ack, sseq + 100);

	/* A gap of 50 bytes in the client's direction stays a gap in the sequence space. */
	k->n = 0;
	c = chunk(1, 1, 3050, req, 10, 0, 7000);
	tls_pcap_chunk(tp, &c);
	s[0] = decode(&k->f[0]);
	assert_int_equal(s[0].seq, cseq + 3050);

	/* The end: FIN from each side, the last ACK. */
	k->n = 0;
	c = chunk(1, 1, 3060, NULL, 0, BYTE_STREAM_CLOSE, 8000);
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, 3);
	for (int i = 0; i < 3; i++)
		s[i] = decode(&k->f[i]);
	assert_int_equal(s[0].flags, FIN | ACK);
	assert_int_equal(s[0].seq, cseq + 3060);
	assert_int_equal(s[1].flags, FIN | ACK);
	assert_int_equal(s[1].seq, sseq + 100);
	assert_int_equal(s[1].ack, cseq + 3061);
	assert_int_equal(s[2].ack, sseq + 101);
	tls_pcap_get_stats(tp, &st);
	assert_int_equal(st.conns, 1);
	assert_int_equal(st.bytes, 3110);
	tls_pcap_free(tp);
	free(k);
}

static void test_both_ends_once(void **state)
{
	struct sink *k = calloc(1, sizeof(*k));
	struct tls_pcap *tp;
	struct tls_pcap_stats st;
	struct byte_stream_chunk c;
	size_t n;

	(void)state;
	assert_int_equal(tls_pcap_new(0, emit, k, &tp), 0);
	c = chunk(1, 1, 0, "GET", 3, BYTE_STREAM_OPEN, 1000);
	tls_pcap_chunk(tp, &c);
	n = k->n;
	/* The server's side of the same connection (another cookie, another process). */
	c = chunk(2, 1, 0, "GET", 3, BYTE_STREAM_OPEN, 1001);
	c.pid = 8;
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, n);
	c = chunk(1, 1, 3, NULL, 0, BYTE_STREAM_CLOSE, 2000);
	tls_pcap_chunk(tp, &c);
	n = k->n;
	/* Its late records after the owner's end: still not written (the linger). */
	c = chunk(2, 0, 0, "200", 3, 0, 3000);
	c.pid = 8;
	tls_pcap_chunk(tp, &c);
	c = chunk(2, 1, 3, NULL, 0, BYTE_STREAM_CLOSE, 3001);
	c.pid = 8;
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, n);
	tls_pcap_get_stats(tp, &st);
	assert_int_equal(st.dup_skipped, 3);
	/* The same process opens a new connection on the same endpoints: written at once. */
	c = chunk(3, 1, 0, "GET", 3, BYTE_STREAM_OPEN, 4000);
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, n + 3 + 1 + 1);
	assert_int_equal(decode(&k->f[n]).flags, SYN);
	/* Past the linger, any cookie may take ended endpoints again. */
	c = chunk(3, 1, 3, NULL, 0, BYTE_STREAM_CLOSE, 5000);
	tls_pcap_chunk(tp, &c);
	n = k->n;
	c = chunk(4, 1, 0, "GET", 3, BYTE_STREAM_OPEN | BYTE_STREAM_MIDSTREAM, 5000 + 11000000000ull);
	c.pid = 9;
	tls_pcap_chunk(tp, &c);
	/* picked up mid-stream: no handshake, the data and its ACK */
	assert_int_equal(k->n, n + 2);
	assert_int_equal(decode(&k->f[n]).flags, ACK | PSH);
	tls_pcap_get_stats(tp, &st);
	assert_int_equal(st.conns, 3);
	tls_pcap_free(tp);
	free(k);
}

static void test_ipv6_no_endpoints_full(void **state)
{
	struct sink *k = calloc(1, sizeof(*k));
	struct tls_pcap *tp;
	struct tls_pcap_stats st;
	struct byte_stream_chunk c;
	uint8_t big[2000] = {0};
	struct seg s;

	(void)state;
	assert_int_equal(tls_pcap_new(1, emit, k, &tp), 0);
	c = chunk(1, 1, 0, big, sizeof(big), BYTE_STREAM_OPEN | BYTE_STREAM_MIDSTREAM, 1);
	memset(c.client_addr, 0, 16);
	memset(c.server_addr, 0, 16);
	c.client_addr[0] = 0xfd;
	c.client_addr[15] = 1;
	c.server_addr[0] = 0xfd;
	c.server_addr[15] = 2;
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, 3); /* 1440 + 560, an ACK */
	s = decode(&k->f[0]);
	assert_int_equal(s.len, TLS_PCAP_MSS_V6);
	assert_int_equal(decode(&k->f[1]).len, 560);
	assert_memory_equal(k->f[0].b + 14 + 8, c.client_addr, 16);
	/* Without endpoints: not written. */
	c = chunk(2, 1, 0, "x", 1, BYTE_STREAM_OPEN, 2);
	c.client_port = c.server_port = 0;
	tls_pcap_chunk(tp, &c);
	/* A second connection with max_conns 1: not written, counted. */
	c = chunk(3, 1, 0, "x", 1, BYTE_STREAM_OPEN, 3);
	tls_pcap_chunk(tp, &c);
	assert_int_equal(k->n, 3);
	tls_pcap_get_stats(tp, &st);
	assert_int_equal(st.no_endpoints, 1);
	assert_int_equal(st.table_full, 1);
	/* A captured frame (a veth's random MACs) is not synthetic. */
	uint8_t eth[14] = {0x02, 0x66, 0x6c, 0x6f, 0x65, 0x01, 0x0a, 0x11, 0x22, 0x33, 0x44, 0x55, 8, 0};
	assert_false(tls_pcap_is_synthetic(eth, sizeof(eth)));
	assert_false(tls_pcap_is_synthetic(k->f[0].b, 13));
	tls_pcap_free(tp);
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conversation),
	    cmocka_unit_test(test_both_ends_once),
	    cmocka_unit_test(test_ipv6_no_endpoints_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
