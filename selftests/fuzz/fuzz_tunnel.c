// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for tunnels (dissect/tunnel.c and the CONNECT hand-off in http1.c),
 * through the engine's byte-stream interface.
 *
 * Input: byte 0 picks a small per-direction buffer and body bound, and whether the proxy
 * accepts the CONNECT that opens the connection (200) or refuses it (407 with a body); then
 * records as in fuzz_http1: a header byte h and a length byte n, followed by up to n bytes
 *   h bit 0      direction (0: client to server)
 *   h bits 1-2   3: a gap of n * 7 bytes instead of data; 2: close now and reopen (with the
 *                same CONNECT exchange)
 * so the fuzzed bytes are what goes through the tunnel: inner protocol detection, HTTP/1 or
 * HTTP/2 inside, TLS recognition, CONNECTs inside (nesting and its bound).
 *
 * Checked: no crash or sanitizer report; every entry serialises; an entry from inside a tunnel
 * has a "tunnel" object naming an entry id of its flow emitted before it and an authority;
 * a CONNECT's tunnel_kind is one of the documented values.
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

/* Ids of the entries emitted so far (those inside refer to one of them). */
#define SEEN_MAX 256
struct seen {
	char ids[SEEN_MAX][32];
	unsigned n;
};

static bool seen_has(const struct seen *s, const char *id)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->ids[i], id))
			return true;
	return s->n == SEEN_MAX; /* past the record: not checked */
}

static void check_entry(void *ctx, const struct entry *e)
{
	struct seen *s = ctx;
	json_t *o = entry_to_json(e);
	json_t *t, *kind;

	CHECK(o);
	t = json_object_get(o, "tunnel");
	if (t) {
		const char *id = json_string_value(json_object_get(t, "id"));

		CHECK(json_is_object(t) && id && seen_has(s, id));
		CHECK(json_is_string(json_object_get(t, "authority")));
	}
	kind = json_object_get(o, "tunnel_kind");
	if (kind) {
		const char *k = json_string_value(kind);

		CHECK(k && (!strcmp(k, "cleartext") || !strcmp(k, "tls") || !strcmp(k, "empty") ||
			    !strcmp(k, "not_dissected")));
	}
	if (s->n < SEEN_MAX)
		memcpy(s->ids[s->n++], e->id, sizeof(e->id));
	fuzz_check_any_entry(e, o);
}

static struct conn *open_conn(struct dissect_engine *eng, uint64_t id, void *arg)
{
	bool accept = *(bool *)arg;
	static const char connect[] =
	    "CONNECT inner.test:80 HTTP/1.1\r\nHost: inner.test:80\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char no[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
				 "Content-Length: 2\r\n\r\nno";
	struct conn *c =
	    fuzz_open_conn(eng, TCP_ROLE_SYN, id, 3128, TCP_DIR_C2S, connect, sizeof(connect) - 1);

	if (c)
		dissect_stream_data(eng, c, TCP_DIR_S2C, (const uint8_t *)(accept ? ok : no),
				    accept ? sizeof(ok) - 1 : sizeof(no) - 1, 2);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dissect_config cfg = {0};
	struct dissect_engine *eng;
	struct seen *seen;
	bool accept;

	if (size < 1)
		return 0;
	accept = !(data[0] & 1);
	cfg.body_max = data[0] & 2 ? 16 : 0;
	cfg.max_buffer_per_dir = data[0] & 4 ? 256 : 0;
	cfg.tcp.max_flows = 4; /* the stream interface does not use the flow table */
	seen = calloc(1, sizeof(*seen));
	if (!seen)
		return 0;
	if (dissect_engine_create(&cfg, check_entry, seen, &eng)) {
		free(seen);
		return 0;
	}
	fuzz_play_stream(eng, data, size,
			 &(struct fuzz_stream_ops){.open = open_conn, .arg = &accept});
	dissect_engine_destroy(eng);
	free(seen);
	return 0;
}
