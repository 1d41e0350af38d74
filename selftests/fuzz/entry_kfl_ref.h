/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The oracle of entry_kfl.c, shared by test_entry_kfl and fuzz_entry_kfl: a KFL query matched
 * against an entry as it is (entry_kfl_match: compact parts and common members read without
 * the tree) must give what the same query gives on the entry's JSON tree (kfl_match_json on
 * entry_to_json, what `floe read -f` did before). HTTP/1 entries are made of h1_ref_msg
 * messages (h1_fields_ref.h), with endpoints, times and sizes from the caller.
 */
#ifndef FLOE_TEST_ENTRY_KFL_REF_H
#define FLOE_TEST_ENTRY_KFL_REF_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "entry/entry_kfl.h"
#include "h1_fields_ref.h"
#include "kfl/kfl.h"

struct ek_ref_entry {
	const struct h1_ref_msg *req, *resp; /* either may be NULL */
	uint64_t req_ts, resp_ts;
	uint16_t sport, dport;
	uint8_t last_octet;
	const char *pod; /* src pod name, or NULL */
	enum entry_missing missing;
	bool tree_member; /* a protocol member set in the tree after the heads */
};

static inline struct entry *ek_ref_make(const struct ek_ref_entry *r)
{
	struct entry *e = entry_new();

	if (!e)
		return NULL;
	snprintf(e->id, sizeof(e->id), "t-%u-%u", r->sport, r->dport);
	e->protocol = "http";
	snprintf(e->version, sizeof(e->version), "1.1");
	e->src.family = e->dst.family = 2; /* AF_INET */
	memcpy(e->src.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\x00\x00\x01", 16);
	memcpy(e->dst.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\x00\x00\x02", 16);
	e->dst.addr[15] = r->last_octet;
	e->src.port = r->sport;
	e->dst.port = r->dport;
	if (r->pod)
		e->src.names = entry_names_new(r->pod, "shop");
	e->flow_id = 42;
	e->request_ts_ns = r->req_ts;
	e->response_ts_ns = r->resp_ts;
	e->request_size = 100 + r->sport % 7;
	e->response_size = 2000 + r->dport % 11;
	e->missing = r->missing;
	e->missing_reason = r->missing ? ENTRY_REASON_GAP : ENTRY_REASON_NONE;
	if (r->req && h1_entry_set(e, false, h1_ref_head(r->req)))
		goto fail;
	if (r->resp && h1_entry_set(e, true, h1_ref_head(r->resp)))
		goto fail;
	if (r->tree_member)
		json_object_set_new(entry_fields(e), "upgrade", json_string("websocket"));
	return e;
fail:
	entry_free(e);
	return NULL;
}

/*
 * Match text against a fresh entry of r both ways. 0 when they agree, 1 when they differ, -1
 * when the query does not compile or memory ran out. *built: whether the entry accessor built
 * the tree; *matched: the result.
 */
static inline int ek_ref_check(const struct ek_ref_entry *r, const char *text, bool *built,
			       bool *matched)
{
	struct entry *e = NULL;
	struct kfl *q = NULL;
	json_t *t = NULL, *j = NULL;
	char err[256];
	bool a, b;
	int rc = -1;

	if (kfl_compile(text, NULL, &q, err, sizeof(err)))
		return -1;
	e = ek_ref_make(r);
	if (!e)
		goto out;
	a = entry_kfl_match(q, e, &t);
	*built = t != NULL;
	*matched = a;
	/* The tree of the same entry (the accessor's, or made now: the same text) */
	j = t ? json_incref(t) : entry_to_json(e);
	if (!j)
		goto out;
	b = kfl_match_json(q, j);
	rc = a != b;
out:
	json_decref(t);
	json_decref(j);
	entry_free(e);
	kfl_free(q);
	return rc;
}

/* Queries over an HTTP/1 entry: @N is a header name, @V a value (both safe to quote), @O a
 * number. */
static const char *const ek_ref_queries[] = {
    "http",
    "http and response.status >= 500",
    "response.status == 200",
    "response.status in [200, 304, 404]",
    "request.method == \"GET\"",
    "request.method in [GET, HEAD] and not response.status >= 400",
    "request.path == \"@V\"",
    "request.path.startsWith(\"/a\")",
    "request.path.endsWith(\".json\")",
    "request.path ~ \"^/[a-z]+\"",
    "request.url contains \"?\"",
    "request.url == \"@V\"",
    "request.query == \"\"",
    "request.query contains \"=\"",
    "request.version == \"1.1\"",
    "response.version == \"1.0\"",
    "response.status_text == \"OK\"",
    "response.status_text",
    "request.headers[\"@N\"] == \"@V\"",
    "request.headers[\"@N\"]",
    "exists(request.headers[\"@N\"])",
    "request.headers.@N contains \"@V\"",
    "response.headers[\"@N\"] != \"@V\"",
    "exists(response.headers[\"Content-Type\"])",
    "request.headers[\"HOST\"] == \"@V\"",
    "request.headers[] == \"@V\"",
    "request.headers",
    "response.trailers[\"@N\"] == \"@V\"",
    "exists(response.trailers)",
    "request.content_type contains \"json\"",
    "response.content_type",
    "request.body.size > 3",
    "response.body.truncated",
    "response.body.text == \"\"",
    "response.body.text contains \"@V\"",
    "exists(request.body.base64)",
    "response.body.gap_bytes > 0",
    "response.body.encoding == \"gzip\"",
    "request.query_params.@N == \"@V\"",
    "exists(request.query_params.a)",
    "request.cookies.@N == \"@V\"",
    "exists(response.cookies)",
    "request.nothing or response.nothing.deeper",
    "request.method.deeper",
    "upgrade == \"websocket\"",
    "src.ip == \"10.0.0.1\" and dst.port == 80",
    "dst.ip == \"10.0.0.@O\"",
    "src.pod == \"@V\" or src.name == \"@V\" or dst.name == \"10.0.0.2\"",
    "src.namespace == shop",
    "src.port > 1000",
    "elapsed_ms > 1 and elapsed_ms < 1s",
    "timestamp > \"2026-01-01T00:00:00Z\"",
    "request_time < now",
    "response_time",
    "request_size > 102 or response_size < 2005",
    "flow_id == 42 and not stream_id",
    "id == \"t-80-8080\"",
    "missing or incomplete",
    "missing_reason == gap",
    "protocol == http and version == \"1.1\"",
    "src[] == \"shop\"",
    "dns or redis",
};
#define EK_REF_NQUERIES (sizeof(ek_ref_queries) / sizeof(ek_ref_queries[0]))

/* Query i with name, value and number put in (cut at size). */
static inline void ek_ref_query(size_t i, const char *name, const char *value, unsigned num,
				char *out, size_t size)
{
	const char *p = ek_ref_queries[i];
	size_t o = 0;
	char n[16];

	snprintf(n, sizeof(n), "%u", num);
	while (*p && o + 1 < size) {
		const char *put = NULL;

		if (p[0] == '@' && (p[1] == 'N' || p[1] == 'V' || p[1] == 'O'))
			put = p[1] == 'N' ? name : p[1] == 'V' ? value : n;
		if (!put) {
			out[o++] = *p++;
			continue;
		}
		for (; *put && o + 1 < size; put++)
			out[o++] = *put;
		p += 2;
	}
	out[o] = 0;
}

#endif /* FLOE_TEST_ENTRY_KFL_REF_H */
