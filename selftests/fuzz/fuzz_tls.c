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
 * bytes, and the fuzzed bytes go on from there). Then a stream script (fuzz_common.h,
 * fuzz_play_stream), where a data op's h bit 3 puts a record header before its data (type
 * 20 + (h >> 4) % 5, version 3.3, the data's length), so that records come easily.
 * The seeds (selftests/fuzz/corpus/fuzz_tls) are the shared captures' TLS handshakes in this
 * form.
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

struct opts {
	enum tcp_role role;
	bool prefix;
};

static struct conn *open_conn(struct dissect_engine *eng, uint64_t id, void *arg)
{
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
					0x00, 0x01, 0xfc, 0x03, 0x03};
	const struct opts *o = arg;

	return fuzz_open_conn(eng, o->role, id, 443, TCP_DIR_C2S, hello,
			      o->prefix ? sizeof(hello) : 0);
}

/* h bit 3: a record header (type 20 + (h >> 4) % 5, version 3.3, length len) before the data. */
static void record_header(struct dissect_engine *eng, struct conn *c, enum tcp_dir dir, uint8_t h,
			  size_t len, uint64_t ts, void *arg)
{
	uint8_t hdr[5] = {(uint8_t)(20 + (h >> 4) % 5), 3, 3, 0, (uint8_t)len};

	(void)arg;
	if (h & 8)
		dissect_stream_data(eng, c, dir, hdr, sizeof(hdr), ts);
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
	struct opts o;

	if (size < 1)
		return 0;
	if (data[0] & 4)
		direct(data + 1, size - 1);
	o.role = data[0] & 1 ? TCP_ROLE_PORT : TCP_ROLE_SYN;
	o.prefix = !(data[0] & 8);
	cfg.max_buffer_per_dir = data[0] & 2 ? 256 : 0;
	cfg.tcp.max_flows = 4;
	if (dissect_engine_create(&cfg, check_entry, NULL, &eng))
		return 0;
	fuzz_play_stream(
	    eng, data, size,
	    &(struct fuzz_stream_ops){.open = open_conn, .before_data = record_header, .arg = &o});
	dissect_engine_destroy(eng);
	return 0;
}
