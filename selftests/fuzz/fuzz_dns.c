// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/dns.c and dissect/dns_message.c, through the engine: TCP
 * streams (dissect_stream_open/data/gap/close) and UDP datagrams (dissect_engine_packet).
 *
 * Input: byte 0 picks small bounds (body_max, buffer, UDP table); then records of a header
 * byte h and a length byte n, followed by up to n bytes:
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   0: TCP bytes; 1: one UDP datagram (on conversation h bit 3), or with h
 *                bit 4 a raw IP packet (decoded by packet_decode: IP fragments reach the
 *                engine's reassembly); 2: a TCP gap of n * 7 bytes; 3: close the TCP
 *                connection (reason from n) and reopen, or with h bit 3, let the UDP
 *                conversations and fragments expire
 * Each TCP connection and UDP conversation starts with a real query so that detection picks
 * dns and the rest reaches the dissector. The whole input is also parsed as one message.
 *
 * Checked: no crash or sanitizer report; every entry is "dns" and serialises to JSON with
 * integer sizes; its text line can be formatted. Each entry also goes to dns_answer_names()
 * (what the tap names addresses by) and what it names to a name resolver of 4 DNS names:
 * at most DNS_ANSWER_ADDRS_MAX addresses, a name an entry can hold, and each address then
 * named so (the bound kept).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/dns_message.h"
#include "dissect/engine.h"
#include "fuzz_common.h"
#include "pods/dns_answer.h"
#include "pods/name_resolver.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* A query for "a.example" type A, id 0x0101 */
static const uint8_t query[] = { 0x01, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
				 0x00, 0x00, 0x00, 0x01, 'a',  0x07, 'e',  'x',  'a',
				 'm',  'p',  'l',  'e',  0x00, 0x00, 0x01, 0x00, 0x01 };

/* What the entry names, as the tap learns it. */
static void check_names(struct name_resolver *r, const struct entry *e)
{
	static struct dns_answer a;
	struct name_resolver_stats st;

	if (!dns_answer_names(e, &a))
		return;
	CHECK(a.name && a.n_addrs <= DNS_ANSWER_ADDRS_MAX && strlen(a.name) < ENTRY_NAME_MAX);
	if (name_resolver_learn_dns(r, &a, e->response_ts_ns) == -ENOMEM)
		return;
	for (size_t i = 0; i < a.n_addrs; i++) {
		struct entry_names *n = name_resolver_lookup(r, a.addrs[i].addr, e->response_ts_ns);

		/* the last of these four is named so for sure; earlier ones may have been
		 * pushed out, or renamed by a later record of the same answer (never another
		 * name: one answer, one name) */
		CHECK(!n || !strcmp(entry_names_dns(n), a.name));
		CHECK(n || i + 4 < a.n_addrs);
		entry_names_unref(n);
	}
	name_resolver_get_stats(r, &st);
	CHECK(st.dns_names <= 4 && st.addrs <= 4);
}

static void check_entry(void *ctx, const struct entry *e)
{
	json_t *o = entry_to_json(e);
	char line[600], *s;

	CHECK(o);
	check_names(ctx, e);
	if (strcmp(e->protocol, "dns")) {
		fuzz_check_any_entry(e, o); /* another dissector took the input */
		return;
	}
	CHECK(json_is_integer(json_object_get(o, "request_size")));
	CHECK(json_is_integer(json_object_get(o, "response_size")));
	CHECK(entry_format_line(e, line, sizeof(line)) > 0);
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(o);
}

static struct conn *open_tcp(struct dissect_engine *eng, uint64_t id, uint64_t ts)
{
	struct tcp_flow_info info = { .id = id, .family = AF_INET, .role = TCP_ROLE_SYN };
	uint8_t framed[2 + sizeof(query)] = { 0, sizeof(query) };
	struct conn *c;

	info.client.port = 40000;
	info.server.port = 53;
	c = dissect_stream_open(eng, &info);
	memcpy(framed + 2, query, sizeof(query));
	if (c)
		dissect_stream_data(eng, c, TCP_DIR_C2S, framed, sizeof(framed), ts);
	return c;
}

static void datagram(struct dissect_engine *eng, unsigned conv, int from_client,
		     const uint8_t *p, size_t n, uint64_t ts)
{
	struct packet pk;

	memset(&pk, 0, sizeof(pk));
	pk.ts_ns = ts;
	pk.family = AF_INET;
	pk.l4_proto = IPPROTO_UDP;
	pk.flags = PACKET_F_L4;
	pk.src[10] = pk.src[11] = pk.dst[10] = pk.dst[11] = 0xff;
	pk.src[15] = from_client ? 1 : 2;
	pk.dst[15] = from_client ? 2 : 1;
	pk.sport = from_client ? 40000 + conv : 53;
	pk.dport = from_client ? 53 : 40000 + conv;
	pk.payload = p;
	pk.payload_caplen = n;
	pk.payload_wirelen = n + (n & 1); /* now and then cut by the "snap length" */
	dissect_engine_packet(eng, &pk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dissect_config cfg = { 0 };
	struct dissect_engine *eng;
	struct name_resolver *names;
	struct dns_summary sum;
	bool started[2] = { false, false };
	struct conn *c;
	uint64_t ts = 10, id = 1;
	json_t *o = NULL;
	size_t i;

	if (size < 1)
		return 0;
	if (dns_message_parse(data, size, NULL, &sum, &o) != -ENOMEM)
		json_decref(o);
	cfg.body_max = data[0] & 2 ? 16 : 0;
	cfg.max_buffer_per_dir = data[0] & 4 ? 256 : 0;
	cfg.udp_max_conversations = data[0] & 8 ? 1 : 4; /* small: the table is allocated per run */
	cfg.tcp.max_flows = 4;
	names = name_resolver_new(1, 4);
	if (!names)
		return 0;
	if (dissect_engine_create(&cfg, check_entry, names, &eng)) {
		name_resolver_free(names);
		return 0;
	}
	c = open_tcp(eng, id, ts);
	for (i = 1; i + 2 <= size && c;) {
		uint8_t h = data[i], n = data[i + 1];
		enum tcp_dir dir = h & 1 ? TCP_DIR_S2C : TCP_DIR_C2S;
		unsigned op = (h >> 1) & 3, conv = (h >> 3) & 1;
		size_t len;

		i += 2;
		ts += 1000;
		len = n < size - i ? n : size - i;
		switch (op) {
		case 0:
			dissect_stream_data(eng, c, dir, data + i, len, ts);
			i += len;
			break;
		case 1:
			if (h & 16) {
				struct packet pk;

				if (!packet_decode(12 /* DLT_RAW */, data + i, (uint32_t)len,
						   (uint32_t)len, ts, &pk))
					dissect_engine_packet(eng, &pk);
				i += len;
				break;
			}
			if (!started[conv]) {
				datagram(eng, conv, 1, query, sizeof(query), ts);
				started[conv] = true;
			}
			datagram(eng, conv, dir == TCP_DIR_C2S, data + i, len, ts);
			i += len;
			break;
		case 2:
			dissect_stream_gap(eng, c, dir, (uint64_t)n * 7, ts);
			break;
		default:
			if (conv) {
				ts += (uint64_t)n * 1000000000ull;
				dissect_engine_expire(eng, ts);
				started[0] = started[1] = false;
			} else {
				dissect_stream_close(eng, c, (enum tcp_close_reason)(n % TCP_CLOSE__COUNT),
						     ts);
				c = open_tcp(eng, ++id, ts);
			}
			break;
		}
	}
	fuzz_check_memory(eng, false);
	if (c)
		dissect_stream_close(eng, c, (enum tcp_close_reason)(data[size - 1] % TCP_CLOSE__COUNT),
				     ts + 1);
	dissect_engine_finish(eng);
	fuzz_check_memory(eng, true);
	dissect_engine_destroy(eng);
	name_resolver_free(names);
	return 0;
}
