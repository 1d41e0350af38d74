// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/amqp.c (and the librabbitmq decoders behind it), through the
 * engine's byte-stream interface, both directions.
 *
 * Input: byte 0 picks the connection's role (handshake or mid-stream), a small body bound
 * and a small engine buffer; then records: a header byte h and a length byte n, followed by
 * up to n bytes
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   0: raw bytes; 1: a well-formed frame around the bytes (so that the
 *                decoders see many frames): bits 3-4 pick method / content header / body /
 *                heartbeat, bits 5-7 the channel; a method's class and method come from
 *                the first byte (an index into the known methods), a header's class is
 *                Basic and its body size the next byte; 2: close now and reopen; 3: a gap
 *                of n * 7 + (h >> 3) bytes (any size: the stream resumes anywhere in a frame)
 * The stream starts with the protocol header (or, mid-stream, a heartbeat) so that detection
 * picks amqp. At the end the connection closes with a reason from the last byte.
 *
 * Checked: no crash or sanitizer report; every entry serialises to JSON with the contract's
 * types (protocol "amqp", integer sizes, request/response objects with a string method).
 * librabbitmq itself is not instrumented, but every string it returns is read by floe's
 * instrumented code, so a length or pointer outside the frame shows up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "fuzz_common.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static const uint32_t known[] = {
    0x000a000a, 0x000a000b, 0x000a0014, 0x000a0015, 0x000a001e, 0x000a001f, 0x000a0028, 0x000a0029,
    0x000a0032, 0x000a0033, 0x000a003c, 0x000a003d, 0x00140028, 0x00140029, 0x0014000a, 0x0014000b,
    0x00140014, 0x00140015, 0x001e000a, 0x001e000b, 0x0028000a, 0x0028000b, 0x00280014, 0x00280015,
    0x0028001e, 0x0028001f, 0x00280028, 0x00280033, 0x0032000a, 0x0032000b, 0x00320014, 0x00320015,
    0x0032001e, 0x0032001f, 0x00320028, 0x00320029, 0x00320032, 0x00320033, 0x003c000a, 0x003c000b,
    0x003c0014, 0x003c0015, 0x003c001e, 0x003c001f, 0x003c0028, 0x003c0032, 0x003c003c, 0x003c0046,
    0x003c0047, 0x003c0048, 0x003c0050, 0x003c005a, 0x003c0064, 0x003c006e, 0x003c006f, 0x003c0078,
    0x0055000a, 0x0055000b, 0x005a000a, 0x005a000b, 0x005a0014, 0x005a0015, 0x005a001e, 0x005a001f,
};

static void check_half(const json_t *h)
{
	if (!h)
		return;
	CHECK(json_is_object(h));
	CHECK(json_is_string(json_object_get(h, "method")));
}

static void check_entry(void *ctx, const struct entry *e)
{
	json_t *o = entry_to_json(e);
	char *s;

	(void)ctx;
	CHECK(o);
	if (strcmp(e->protocol, "amqp")) {
		fuzz_check_any_entry(e, o); /* another dissector took the input */
		return;
	}
	CHECK(json_is_integer(json_object_get(o, "request_size")));
	CHECK(json_object_get(o, "request") || json_object_get(o, "response"));
	check_half(json_object_get(o, "request"));
	check_half(json_object_get(o, "response"));
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(o);
}

static struct conn *open_conn(struct dissect_engine *eng, enum tcp_role role, uint64_t id)
{
	static const uint8_t hello[] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
	static const uint8_t heartbeat[] = {8, 0, 0, 0, 0, 0, 0, 0xce};

	/* A connection seen from its start sends the protocol header; one picked up later, a
	 * heartbeat frame from the server. */
	if (role == TCP_ROLE_SYN)
		return fuzz_open_conn(eng, role, id, 5672, TCP_DIR_C2S, hello, sizeof(hello));
	return fuzz_open_conn(eng, role, id, 5672, TCP_DIR_S2C, heartbeat, sizeof(heartbeat));
}

/* A frame of type t on channel ch around the n bytes at p, into out (n + 16 bytes). */
static size_t make_frame(uint8_t *out, unsigned t, uint16_t ch, const uint8_t *p, size_t n)
{
	static const uint8_t types[4] = {1, 2, 3, 8};
	uint8_t pl[300];
	size_t len = 0;

	memset(pl, 0, sizeof(pl));
	switch (types[t]) {
	case 1: {
		uint32_t id = known[(n ? p[0] : 0) % (sizeof(known) / sizeof(known[0]))];

		pl[0] = (uint8_t)(id >> 24);
		pl[1] = (uint8_t)(id >> 16);
		pl[2] = (uint8_t)(id >> 8);
		pl[3] = (uint8_t)id;
		if (n > 1)
			memcpy(pl + 4, p + 1, n - 1);
		len = 4 + (n > 1 ? n - 1 : 0);
		break;
	}
	case 2:
		pl[1] = 60;
		pl[11] = n ? p[0] : 0; /* body size */
		if (n > 1)
			memcpy(pl + 12, p + 1, n - 1);
		len = 12 + (n > 1 ? n - 1 : 2);
		break;
	case 3:
		memcpy(pl, p, n);
		len = n;
		break;
	default:
		len = 0;
		ch = 0;
		break;
	}
	out[0] = types[t];
	out[1] = (uint8_t)(ch >> 8);
	out[2] = (uint8_t)ch;
	out[3] = 0;
	out[4] = 0;
	out[5] = (uint8_t)(len >> 8);
	out[6] = (uint8_t)len;
	memcpy(out + 7, pl, len);
	out[7 + len] = 0xce;
	return len + 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dissect_config cfg = {0};
	struct dissect_engine *eng;
	enum tcp_role role;
	struct conn *c;
	uint64_t ts = 10, id = 1;
	uint8_t frame[300 + 16];
	size_t i;

	if (size < 1)
		return 0;
	role = data[0] & 1 ? TCP_ROLE_PORT : TCP_ROLE_SYN;
	cfg.body_max = data[0] & 2 ? 16 : 0;
	cfg.max_buffer_per_dir = data[0] & 4 ? 256 : 0;
	cfg.tcp.max_flows = 4; /* the stream interface does not use the flow table */
	if (dissect_engine_create(&cfg, check_entry, NULL, &eng))
		return 0;
	c = open_conn(eng, role, id);
	for (i = 1; i + 2 <= size && c;) {
		uint8_t h = data[i], n = data[i + 1];
		enum tcp_dir dir = h & 1 ? TCP_DIR_S2C : TCP_DIR_C2S;
		unsigned op = (h >> 1) & 3;
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
			len = make_frame(frame, (h >> 3) & 3, (uint16_t)(h >> 5), data + i, len);
			i += n < size - i ? n : size - i;
			dissect_stream_data(eng, c, dir, frame, len, ts);
			break;
		case 2:
			dissect_stream_close(eng, c, n & 1 ? TCP_CLOSE_RST : TCP_CLOSE_FIN, ts);
			c = open_conn(eng, role, ++id);
			break;
		default:
			dissect_stream_gap(eng, c, dir, (uint64_t)n * 7 + (h >> 3), ts);
			break;
		}
	}
	fuzz_check_memory(eng, false);
	if (c)
		dissect_stream_close(
		    eng, c, (enum tcp_close_reason)(data[size - 1] % TCP_CLOSE__COUNT), ts + 1);
	fuzz_check_memory(eng, true);
	dissect_engine_destroy(eng);
	return 0;
}
