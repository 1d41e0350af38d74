/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The oracle of http1_fields.c's writer, shared by test_http1_fields and fuzz_http1_fields:
 * the head's "request" / "response" object built as a jansson tree the way http1.c built
 * it before the compact fields (http_common.h's header, URL, cookie and body functions, which
 * HTTP/2 still uses), written by entry_json_append(), against h1_head_write() of the same
 * message, and against the text of h1_head_tree(). h1_ref_check() returns 0 when all three
 * texts are the same.
 */
#ifndef FLOE_TEST_H1_FIELDS_REF_H
#define FLOE_TEST_H1_FIELDS_REF_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/http1_fields.h"
#include "dissect/http_common.h"
#include "entry/entry.h"
#include "entry/entry_json.h"

struct h1_ref_field {
	const char *name, *value;
	size_t nlen, vlen;
	bool trailer;
};

struct h1_ref_msg {
	bool request;
	const char *method; /* request */
	unsigned status;    /* response */
	const char *line;   /* target or reason phrase */
	size_t line_len;
	unsigned major, minor;
	const struct h1_ref_field *fields;
	size_t nfields;
	bool body;          /* a "body" member from these bytes */
	const uint8_t *body_bytes;
	size_t body_len;
	uint64_t body_size; /* >= body_len: bytes seen */
	size_t body_max;
	uint64_t gap_bytes;
	bool cut;
};

static inline void h1_ref_body(const struct h1_ref_msg *m, struct http_body *b)
{
	http_body_init(b, m->body_max);
	http_body_append(b, m->body_bytes, m->body_len);
	b->size = m->body_size > m->body_len ? m->body_size : m->body_len;
}

/* The tree, as http1.c's head_json() and msg_close_obj() made it. */
static inline json_t *h1_ref_tree(const struct h1_ref_msg *m)
{
	json_t *o = json_object(), *headers = json_object(), *trailers = json_object();
	const char *v;
	char ver[32];

	for (size_t i = 0; i < m->nfields; i++)
		http_headers_add(m->fields[i].trailer ? trailers : headers, m->fields[i].name,
				 m->fields[i].nlen, m->fields[i].value, m->fields[i].vlen);
	if (m->request) {
		json_object_set_new(o, "method", json_string(m->method));
		http_url_split(o, m->line, m->line_len);
	} else {
		json_object_set_new(o, "status", json_integer(m->status));
		entry_set_text(o, "status_text", (const uint8_t *)m->line, m->line_len);
	}
	snprintf(ver, sizeof(ver), "%u.%u", m->major, m->minor);
	json_object_set_new(o, "version", json_string(ver));
	json_object_set(o, "headers", headers);
	v = http_headers_get(headers, m->request ? "cookie" : "set-cookie");
	if (v) {
		json_t *ck = json_object();

		if (!(m->request ? http_cookies_from_request(ck, v)
				 : http_cookies_from_set_cookie(ck, v)) && json_object_size(ck))
			json_object_set(o, "cookies", ck);
		json_decref(ck);
	}
	v = http_headers_get(headers, "content-type");
	if (v)
		json_object_set_new(o, "content_type", json_string(v));
	if (m->body) {
		struct http_body b;
		json_t *bj;

		h1_ref_body(m, &b);
		bj = http_body_to_json(&b, http_headers_get(headers, "content-encoding"));
		http_body_reset(&b);
		if (m->gap_bytes) {
			json_object_set_new(bj, "gap_bytes", json_integer((json_int_t)m->gap_bytes));
			json_object_set_new(bj, "truncated", json_true());
		}
		if (m->cut)
			json_object_set_new(bj, "truncated", json_true());
		json_object_set_new(o, "body", bj);
	}
	if (json_object_size(trailers))
		json_object_set(o, "trailers", trailers);
	json_decref(headers);
	json_decref(trailers);
	return o;
}

/* The same message through http1_fields.h. */
static inline struct h1_head *h1_ref_head(const struct h1_ref_msg *m)
{
	struct h1_head *h = h1_head_new(m->request);
	struct http_body b;

	for (size_t i = 0; i < m->nfields; i++)
		if (!m->fields[i].trailer)
			h1_head_add_field(h, false, m->fields[i].name, m->fields[i].nlen,
					  m->fields[i].value, m->fields[i].vlen);
	h1_head_finish(h, m->method, m->status, m->line, m->line_len, m->major, m->minor);
	for (size_t i = 0; i < m->nfields; i++)
		if (m->fields[i].trailer)
			h1_head_add_field(h, true, m->fields[i].name, m->fields[i].nlen,
					  m->fields[i].value, m->fields[i].vlen);
	h1_ref_body(m, &b);
	h1_head_set_body(h, m->body ? &b : NULL, h1_head_get(h, "content-encoding"), m->gap_bytes,
			 m->cut);
	http_body_reset(&b);
	return h;
}

/* 0 when h1_head_write() wrote what the tree's writer wrote; else 1 (and, with why, both
 * texts there, to free()). */
static inline int h1_ref_check(const struct h1_ref_msg *m, char **why)
{
	struct entry_json_buf want = {0}, got = {0}, built = {0};
	json_t *t = h1_ref_tree(m);
	struct h1_head *h = h1_ref_head(m);
	json_t *back = h1_head_tree(h);
	int bad;

	/* the text written directly, and the text of the tree it builds (order included) */
	if (entry_json_append(&want, t) || h1_head_write(h, &got) ||
	    entry_json_append(&built, back))
		bad = 1;
	else
		bad = want.len != got.len || memcmp(want.p, got.p, got.len) ||
		      want.len != built.len || memcmp(want.p, built.p, built.len);
	if (bad && why &&
	    asprintf(why, "want  %.*s\n got   %.*s\n tree  %.*s", (int)want.len,
		     want.p ? want.p : "", (int)got.len, got.p ? got.p : "", (int)built.len,
		     built.p ? built.p : "") < 0)
		*why = NULL;
	json_decref(back);
	json_decref(t);
	h1_head_free(h);
	entry_json_buf_free(&want);
	entry_json_buf_free(&got);
	entry_json_buf_free(&built);
	return bad;
}

#endif /* FLOE_TEST_H1_FIELDS_REF_H */
