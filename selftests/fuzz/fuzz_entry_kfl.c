// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for lib/core/entry/entry_kfl.c: an HTTP/1 entry made of the input (its
 * request and response heads kept compact, http1_fields.h) is matched against every query of
 * entry_kfl_ref.h, with a header name and value taken from the input, both through the
 * entry accessor (without the tree where it can) and on the entry's JSON tree; the two
 * must agree. Input: a flags byte (bit 0 response present, 1 request body, 2 response body,
 * 3 gap, 4 cut, 5 src pod, 6 missing response, 7 a member in the tree), the request target
 * up to '\n', the reason phrase up to '\n', then fields "name:value" one per '\n' ('~': a
 * trailer, '<': of the response), after a NUL the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entry_kfl_ref.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_FIELDS 256

/* A name or value KFL's string can hold as it is (else a fixed one). */
static void safe_copy(char *out, size_t size, const char *p, size_t n, const char *dflt)
{
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '"' || c == '\\' || (unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
			strcpy(out, dflt);
			return;
		}
		out[i] = c;
	}
	out[n] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct h1_ref_field rqf[MAX_FIELDS], rsf[MAX_FIELDS];
	struct h1_ref_msg rq = {0}, rs = {0};
	struct ek_ref_entry r = {0};
	const char *p, *end, *nl, *body, *stop;
	char name[64] = "host", value[64] = "";
	size_t nq = 0, ns = 0;
	uint8_t flags;

	if (!n)
		return 0;
	flags = d[0];
	p = (const char *)d + 1;
	end = (const char *)d + n;
	body = memchr(p, 0, (size_t)(end - p));
	stop = body ? body : end;
	rq = (struct h1_ref_msg){.request = true,
				 .method = n % 3 ? "GET" : "POST",
				 .major = 1,
				 .minor = 1,
				 .body_max = 65536};
	rs = (struct h1_ref_msg){.request = false,
				 .status = 100 + (unsigned)(n % 500),
				 .major = 1,
				 .minor = n % 2,
				 .body_max = 65536};
	nl = memchr(p, '\n', (size_t)(stop - p));
	rq.line = p;
	rq.line_len = (size_t)((nl ? nl : stop) - p);
	safe_copy(value, sizeof(value), rq.line, rq.line_len, "");
	p = nl ? nl + 1 : stop;
	nl = memchr(p, '\n', (size_t)(stop - p));
	rs.line = p;
	rs.line_len = (size_t)((nl ? nl : stop) - p);
	p = nl ? nl + 1 : stop;
	while (p < stop && nq < MAX_FIELDS && ns < MAX_FIELDS) {
		const char *e = memchr(p, '\n', (size_t)(stop - p));
		struct h1_ref_field *f;
		const char *c;
		bool resp = false, trailer = false;

		e = e ? e : stop;
		for (; p < e && (*p == '~' || *p == '<'); p++) {
			trailer |= *p == '~';
			resp |= *p == '<';
		}
		f = resp ? &rsf[ns++] : &rqf[nq++];
		c = memchr(p, ':', (size_t)(e - p));
		f->trailer = trailer;
		f->name = p;
		f->nlen = (size_t)((c ? c : e) - p);
		f->value = c ? c + 1 : e;
		f->vlen = (size_t)(e - f->value);
		if (nq + ns == 1) {
			safe_copy(name, sizeof(name), f->name, f->nlen, "host");
			safe_copy(value, sizeof(value), f->value, f->vlen, "");
		}
		p = e + 1;
	}
	rq.fields = rqf;
	rq.nfields = nq;
	rs.fields = rsf;
	rs.nfields = ns;
	if (body) {
		rq.body_bytes = rs.body_bytes = (const uint8_t *)body + 1;
		rq.body_len = rs.body_len = (size_t)(end - body - 1);
	}
	rq.body = flags & 2;
	rs.body = flags & 4;
	rq.body_size = rq.body_len;
	rs.body_size = rs.body_len;
	rs.gap_bytes = (flags & 8) ? 3 : 0;
	rs.cut = flags & 16;
	r.req = &rq;
	r.resp = (flags & 1) ? &rs : NULL;
	r.req_ts = 1800000000000000000ull + n;
	r.resp_ts = r.resp ? r.req_ts + (uint64_t)n * 99991 : 0;
	r.sport = (uint16_t)(n * 7);
	r.dport = 80;
	r.last_octet = (uint8_t)n;
	r.pod = (flags & 32) ? value : NULL;
	r.missing = (flags & 64) ? ENTRY_MISSING_RESPONSE : ENTRY_COMPLETE;
	r.tree_member = flags & 128;
	for (size_t i = 0; i < EK_REF_NQUERIES; i++) {
		char text[512];
		bool built, m;

		ek_ref_query(i, name, value, (unsigned)(n & 0xff), text, sizeof(text));
		/* a query that does not compile (a name KFL cannot hold) is skipped */
		CHECK(ek_ref_check(&r, text, &built, &m) != 1);
	}
	return 0;
}
