// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dissect/tls.c and dissect/tls_hello.c, through the engine's
 * byte-stream interface (detection, buffering, gaps and the close paths included), and the
 * hello and certificate readers directly.
 *
 * Input: byte 0: bit 0 the connection's role (handshake or mid-stream), bit 1 a small engine
 * buffer, bit 2 the bytes after it are also read directly as a ClientHello body, a ServerHello
 * body and a Certificate message, bit 3 no prefix: the first bytes must be recognised on their
 * own (otherwise the connection starts with a ClientHello record and handshake header of 508
 * bytes, and the fuzzed bytes go on from there). Then chunks: a header byte h and a length
 * byte n, followed by up to n bytes
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   3: a gap of n * 13 bytes instead of data; 2: close now and reopen
 *   h bit 3      prefix the data with a record header of type 20 + (h >> 4) % 5, version 3.3,
 *                length n, so that records come easily
 * The seeds (selftests/fuzz/corpus/fuzz_tls) are the shared captures' TLS handshakes in this
 * form. At the end the connection closes with a reason from the last byte.
 *
 * Checked: no crash or sanitizer report; every tls entry serialises to JSON with the
 * contract's types; the memory accounting (fuzz_common.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dissect/engine.h"
#include "dissect/tls_hello.h"
#include "fuzz_common.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check_entry(void *ctx, const struct entry *e)
{
	json_t *o = entry_to_json(e), *req, *resp, *v;
	char line[1024];
	char *s;

	(void)ctx;
	CHECK(o);
	if (strcmp(e->protocol, "tls")) {
		fuzz_check_any_entry(e, o);
		return;
	}
	CHECK(json_is_boolean(json_object_get(o, "established")));
	req = json_object_get(o, "request");
	resp = json_object_get(o, "response");
	if (req && !json_object_get(req, "error") && json_object_size(req) > 1) {
		CHECK(json_is_string(json_object_get(req, "ja3_hash")));
		CHECK(strlen(json_string_value(json_object_get(req, "ja3_hash"))) == 32);
		v = json_object_get(req, "ja4");
		CHECK(json_is_string(v) && strlen(json_string_value(v)) == 36);
		CHECK(json_is_array(json_object_get(req, "cipher_suites")));
	}
	v = json_object_get(resp, "version");
	CHECK(!v || json_is_string(v));
	v = json_object_get(o, "alerts");
	CHECK(!v || (json_is_array(v) && json_array_size(v) <= 8));
	CHECK(entry_format_line(e, line, sizeof(line)) > 0);
	s = json_dumps(o, JSON_COMPACT);
	CHECK(s);
	free(s);
	json_decref(o);
}

static struct conn *open_conn(struct dissect_engine *eng, enum tcp_role role, uint64_t id,
			      bool prefix)
{
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
					0x00, 0x01, 0xfc, 0x03, 0x03};

	return fuzz_open_conn(eng, role, id, 443, TCP_DIR_C2S, hello, prefix ? sizeof(hello) : 0);
}

static void direct(const uint8_t *p, size_t n)
{
	struct tls_client_hello *ch = malloc(sizeof(*ch));
	struct tls_server_hello sh;
	const char *why;
	json_t *j;

	if (ch && !tls_client_hello_parse(p, n, ch, &why)) {
		j = tls_client_hello_json(ch);
		json_decref(j);
	}
	free(ch);
	tls_server_hello_parse(p, n, &sh, &why);
	json_decref(tls_certificate_json(p, n, n & 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dissect_config cfg = {0};
	struct dissect_engine *eng;
	enum tcp_role role;
	struct conn *c;
	uint64_t ts = 10, id = 1;
	bool prefix;
	size_t i;

	if (size < 1)
		return 0;
	if (data[0] & 4)
		direct(data + 1, size - 1);
	role = data[0] & 1 ? TCP_ROLE_PORT : TCP_ROLE_SYN;
	cfg.max_buffer_per_dir = data[0] & 2 ? 256 : 0;
	prefix = !(data[0] & 8);
	cfg.tcp.max_flows = 4;
	if (dissect_engine_create(&cfg, check_entry, NULL, &eng))
		return 0;
	c = open_conn(eng, role, id, prefix);
	for (i = 1; i + 2 <= size && c;) {
		uint8_t h = data[i], n = data[i + 1];
		enum tcp_dir dir = h & 1 ? TCP_DIR_S2C : TCP_DIR_C2S;
		unsigned op = (h >> 1) & 3;

		i += 2;
		ts += 1000;
		if (op == 3) {
			dissect_stream_gap(eng, c, dir, (uint64_t)n * 13, ts);
		} else if (op == 2) {
			dissect_stream_close(eng, c, n & 1 ? TCP_CLOSE_RST : TCP_CLOSE_FIN, ts);
			c = open_conn(eng, role, ++id, prefix);
		} else {
			size_t len = n < size - i ? n : size - i;

			if (h & 8) {
				uint8_t hdr[5] = {(uint8_t)(20 + (h >> 4) % 5), 3, 3, 0, n};

				dissect_stream_data(eng, c, dir, hdr, sizeof(hdr), ts);
			}
			dissect_stream_data(eng, c, dir, data + i, len, ts);
			i += len;
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
