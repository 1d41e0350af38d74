// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for lib/node/dissect/http1_fields.c: a message head made of the input is
 * written by h1_head_write() and must be byte for byte what the jansson tree of the same head
 * (http_common.h's functions, as http1.c built it before) writes, and read back as that tree
 * (h1_fields_ref.h). Input: a flags byte (bit 0 request, 1 body, 2 gap, 3 cut, 4-5 which
 * content-encoding is added, 6 body kept only in part), then the start line up to the first
 * '\n', then fields "name:value" one per '\n' (a line starting with '~' is a trailer), and
 * after a NUL the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1_fields_ref.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_FIELDS 4096

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const encodings[] = {NULL, "gzip", "br", "identity"};
	static struct h1_ref_field f[MAX_FIELDS + 1];
	struct h1_ref_msg m = {0};
	const char *p, *end, *nl, *body;
	uint8_t flags;
	size_t nf = 0;

	if (!n)
		return 0;
	flags = d[0];
	p = (const char *)d + 1;
	end = (const char *)d + n;
	body = memchr(p, 0, (size_t)(end - p));
	m.request = flags & 1;
	m.method = "GET";
	m.status = 200 + (unsigned)(n % 400);
	m.major = 1;
	m.minor = flags >> 7;
	nl = memchr(p, '\n', (size_t)((body ? body : end) - p));
	m.line = p;
	m.line_len = (size_t)((nl ? nl : (body ? body : end)) - p);
	p = nl ? nl + 1 : (body ? body : end);
	while (p < (body ? body : end) && nf < MAX_FIELDS) {
		const char *e = memchr(p, '\n', (size_t)((body ? body : end) - p));
		const char *c;

		e = e ? e : (body ? body : end);
		f[nf].trailer = *p == '~';
		if (f[nf].trailer)
			p++;
		c = memchr(p, ':', (size_t)(e - p));
		f[nf].name = p;
		f[nf].nlen = (size_t)((c ? c : e) - p);
		f[nf].value = c ? c + 1 : e;
		f[nf].vlen = (size_t)(e - f[nf].value);
		nf++;
		p = e + 1;
	}
	if (encodings[(flags >> 4) & 3]) {
		const char *v = encodings[(flags >> 4) & 3];

		f[nf++] = (struct h1_ref_field){"Content-Encoding", v, 16, strlen(v), false};
	}
	m.fields = f;
	m.nfields = nf;
	m.body = flags & 2;
	if (body) {
		m.body_bytes = (const uint8_t *)body + 1;
		m.body_len = (size_t)(end - body - 1);
	}
	m.body_size = m.body_len + ((flags & 64) ? 10 : 0);
	m.body_max = (flags & 64) ? m.body_len / 2 : 65536;
	m.gap_bytes = (flags & 4) ? 7 : 0;
	m.cut = flags & 8;
	CHECK(!h1_ref_check(&m, NULL));
	return 0;
}
