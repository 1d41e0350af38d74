// SPDX-License-Identifier: Apache-2.0
/*
 * Tunnels: what an accepted CONNECT carries, handed to a fresh inner dissection. See tunnel.h
 * and docs/http1.md ("Tunnels").
 */
#include "dissect/tunnel.h"

#include <stdlib.h>
#include <string.h>

/* A TLS record header (5 bytes) and the handshake type that follows it. */
#define TLS_HEAD_LEN 6u
#define TLS_RECORD_HANDSHAKE 22u
#define TLS_HANDSHAKE_CLIENT_HELLO 1u
#define TLS_RECORD_MAX (16384u + 2048u) /* RFC 8446 5.2: the largest record */

enum tunnel_kind {
	TUNNEL_UNDECIDED = 0,
	TUNNEL_CLEARTEXT, /* bytes go to the inner connection */
	TUNNEL_TLS,
	TUNNEL_NOT_DISSECTED,
	TUNNEL_EMPTY,
};

struct tunnel {
	struct conn *c;      /* the carrier */
	struct conn *inner;  /* TUNNEL_CLEARTEXT: the dissection inside */
	struct entry *outer; /* the CONNECT's entry until the kind is known */
	json_t *ref;         /* {"id", "authority"}: what the entries inside say of the tunnel */
	enum tunnel_kind kind;
	/* The client's first bytes, held until there are enough to tell TLS from the rest. */
	uint8_t head[TLS_HEAD_LEN];
	size_t head_len;
	uint64_t head_ts;
};

int tunnel_tls_client_hello(const uint8_t *p, size_t n)
{
	static const uint8_t min_len = 4; /* a handshake header */
	size_t len;

	if (n >= 1 && p[0] != TLS_RECORD_HANDSHAKE)
		return 0;
	if (n >= 2 && p[1] != 3)
		return 0;
	if (n >= 3 && p[2] > 4)
		return 0;
	if (n < 5)
		return -1;
	len = (size_t)p[3] << 8 | p[4];
	if (len < min_len || len > TLS_RECORD_MAX)
		return 0;
	if (n < TLS_HEAD_LEN)
		return -1;
	return p[5] == TLS_HANDSHAKE_CLIENT_HELLO;
}

static const char *kind_name(enum tunnel_kind k)
{
	switch (k) {
	case TUNNEL_CLEARTEXT:
		return "cleartext";
	case TUNNEL_TLS:
		return "tls";
	case TUNNEL_EMPTY:
		return "empty";
	case TUNNEL_UNDECIDED:
	case TUNNEL_NOT_DISSECTED:
		break;
	}
	return "not_dissected";
}

/* The kind is known: emit the CONNECT's entry, open the inner connection for cleartext. */
static void decide(struct tunnel *t, enum tunnel_kind kind)
{
	struct entry *outer = t->outer;
	json_t *ref = t->ref;

	t->outer = NULL;
	t->ref = NULL;
	/* TLS goes to an inner connection too: the handshake is in clear (dissect/tls.h). */
	if (kind == TUNNEL_CLEARTEXT || kind == TUNNEL_TLS) {
		t->inner = conn_inner_open(t->c, ref); /* takes ref */
		ref = NULL;
		if (!t->inner)
			kind = TUNNEL_NOT_DISSECTED;
	}
	json_decref(ref);
	if (kind == TUNNEL_TLS)
		conn_count_tunnel_tls(t->c);
	t->kind = kind;
	json_object_set_new(entry_fields_rw(outer), "tunnel_kind", json_string(kind_name(kind)));
	conn_emit(t->c, outer);
	/* Whatever the client sent while the kind was open goes first. */
	if (t->inner && t->head_len)
		conn_inner_data(t->inner, TCP_DIR_C2S, t->head, t->head_len, t->head_ts);
	t->head_len = 0;
}

struct tunnel *tunnel_open(struct conn *c, struct entry *outer, const char *authority)
{
	struct tunnel *t = calloc(1, sizeof(*t));

	conn_entry_id(c, outer);
	if (t)
		t->ref = json_pack("{s:s, s:s}", "id", outer->id, "authority",
				   authority ? authority : "");
	if (!t || !t->ref) {
		free(t);
		json_object_set_new(entry_fields_rw(outer), "tunnel_kind",
				    json_string(kind_name(TUNNEL_NOT_DISSECTED)));
		conn_emit(c, outer);
		return NULL;
	}
	t->c = c;
	t->outer = outer;
	return t;
}

void tunnel_data(struct tunnel *t, enum tcp_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	if (!n)
		return;
	if (t->kind == TUNNEL_UNDECIDED && dir == TCP_DIR_C2S) {
		size_t take = TLS_HEAD_LEN - t->head_len;
		int tls;

		if (take > n)
			take = n;
		if (!t->head_len)
			t->head_ts = ts;
		memcpy(t->head + t->head_len, p, take);
		t->head_len += take;
		p += take;
		n -= take;
		tls = tunnel_tls_client_hello(t->head, t->head_len);
		if (tls < 0)
			return; /* n is 0: every byte is held */
		decide(t, tls ? TUNNEL_TLS : TUNNEL_CLEARTEXT);
	} else if (t->kind == TUNNEL_UNDECIDED) {
		/* The server speaks first: not a TLS client's stream. */
		decide(t, TUNNEL_CLEARTEXT);
	}
	if (t->inner && n)
		conn_inner_data(t->inner, dir, p, n, ts);
}

void tunnel_gap(struct tunnel *t, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	if (!missing)
		return;
	/* The first bytes are lost: whatever comes next is for detection to judge. */
	if (t->kind == TUNNEL_UNDECIDED)
		decide(t, TUNNEL_CLEARTEXT);
	if (t->inner)
		conn_inner_gap(t->inner, dir, missing, ts);
}

void tunnel_close(struct tunnel *t, enum conn_end why, uint64_t ts)
{
	if (!t)
		return;
	if (t->kind == TUNNEL_UNDECIDED) {
		int tls = tunnel_tls_client_hello(t->head, t->head_len);

		/* A few client bytes that may still have been TLS are not dissected either. */
		decide(t, !t->head_len ? TUNNEL_EMPTY : tls ? TUNNEL_TLS : TUNNEL_CLEARTEXT);
	}
	if (t->inner)
		conn_inner_close(t->inner, why, ts);
	free(t);
}
