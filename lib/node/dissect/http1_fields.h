/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http1_fields: an HTTP/1 message head (start line, header fields, trailers) and its body
 * kept as bytes, and the entry fields "request" / "response" made of them, written to JSON
 * directly (entry.h, struct entry_compact_ops) instead of being built as a jansson tree.
 * HTTP/2 heads (http2.c) are the same struct with pseudo-header fields instead of a start
 * line (below, "HTTP/2 heads").
 *
 * Why: a live HTTP/1 entry's tree (a hundred-odd small allocations: objects, hash pairs,
 * strings), built, written and freed, was about a third of the dissection thread's
 * instructions per entry (docs/bench.md, issue 13). Here a head is three allocations: the
 * struct, one arena of bytes, one array of fields. The text written is byte for byte what
 * the tree gave (docs/entries.md's shapes); whoever needs the tree (a filter, GraphQL, a
 * CONNECT, an interim response) gets it from entry_fields(), which reads this text back.
 *
 * Strings are kept as the tree kept them: header names lower-cased, values trimmed, both
 * with invalid UTF-8 bytes replaced (http_common.h); repeated names joined at
 * h1_head_finish(). A head is used by one thread.
 */
#ifndef FLOE_DISSECT_HTTP1_FIELDS_H
#define FLOE_DISSECT_HTTP1_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dissect/http_common.h"
#include "entry/entry.h"

struct h1_head;

/* A new, empty head of a request or a response; NULL on ENOMEM. */
struct h1_head *h1_head_new(bool request);
void h1_head_free(struct h1_head *h);

/* Add a header field (or, with trailer, a trailer field) as received. 0 or -ENOMEM. */
int h1_head_add_field(struct h1_head *h, bool trailer, const char *name, size_t nlen,
		      const char *value, size_t vlen);

/* The same for a header field whose name is an RFC 9110 token (tchar only, as
 * http1_scan.c's names are): known plain, not checked again. */
int h1_head_add_token_field(struct h1_head *h, const char *name, size_t nlen, const char *value,
			    size_t vlen);

/* The value of a header field (name lower case), repeated ones joined, as a C string (cut at
 * a NUL, as the tree's string gave it); NULL when absent. Valid until the next add. */
const char *h1_head_get(struct h1_head *h, const char *name);

/* Headers or trailers received so far. */
size_t h1_head_fields(const struct h1_head *h, bool trailer);

/*
 * The start line and what is derived from the headers (content type, cookies): call once
 * the head is complete (or cut after its start line). Request: method name (static) and the
 * target as sent; response: status and reason phrase. 0 or -ENOMEM.
 */
int h1_head_finish(struct h1_head *h, const char *method, unsigned status, const char *line,
		   size_t n, unsigned major, unsigned minor);

/*
 * The end of the message: the "body" member from body (NULL: no body member) (its bytes are taken when they are written as they are, else
 * http_body_to_json() makes the object), with "gap_bytes" and "truncated" as the dissector
 * sets them. 0 or -ENOMEM.
 */
int h1_head_set_body(struct h1_head *h, struct http_body *body, const char *content_encoding,
		     uint64_t gap_bytes, bool cut);

/*
 * ---- HTTP/2 heads (http2.c) ----
 *
 * The same head for an HTTP/2 header block: regular fields through h1_head_add_field(),
 * pseudo-header fields instead of a start line, and the members http2.c's tree had
 * (docs/http2.md): "method", the url's parts (from :path, or a CONNECT's :authority),
 * "authority", "scheme", "protocol", "status" and its standard "status_text" (none without
 * a valid :status), "version" "2", then those of HTTP/1 and, last, "headers_truncated",
 * "headers_partial" and "unknown_headers". HPACK's header blocks were about a third of an
 * HTTP/2 entry's instructions as jansson trees (docs/bench.md, issue 13).
 */
enum h1_pseudo {
	H1_PS_METHOD,
	H1_PS_PATH,
	H1_PS_AUTHORITY,
	H1_PS_SCHEME,
	H1_PS_PROTOCOL,
	H1_PS_STATUS,
	H1_PS_N,
};

/* A new, empty HTTP/2 head of a request (a PUSH_PROMISE's too) or a response. */
struct h1_head *h1_head_new_h2(bool request);
/* A pseudo-header field's value (invalid UTF-8 and NUL replaced, as entry_json_text()); a
 * repeated one is ignored (the first counts). 0 or -ENOMEM. */
int h1_head_set_pseudo(struct h1_head *h, enum h1_pseudo which, const uint8_t *v, size_t n);
/* Its value as a C string (length *n when n), NULL when it did not come. */
const char *h1_head_pseudo(const struct h1_head *h, enum h1_pseudo which, size_t *n);
/* The head is complete: a request's url is split, repeated fields joined, cookies and
 * content type found; a response gets status (negative: none) with its reason phrase
 * (static). 0 or -ENOMEM. */
int h1_head_finish_h2(struct h1_head *h, int status, const char *status_text);
/* Add every regular field of src (a later header block) to h's trailers. 0 or -ENOMEM. */
int h1_head_add_trailers(struct h1_head *h, struct h1_head *src);
/* The headers (or trailers) as an object of joined values (new reference); NULL on ENOMEM. */
json_t *h1_head_fields_tree(struct h1_head *h, bool trailer);
/*
 * The end of an HTTP/2 message: its "body" (body NULL: none; grpc: only {"size"}; else
 * http_body_to_json()'s object, the bytes taken when written as they are), "gap_bytes" of
 * it when lost, and what HPACK could not decode: truncated, partial, unknown (an array,
 * taken; may be NULL). Trailers are joined. 0 or -ENOMEM.
 */
int h1_head_end_h2(struct h1_head *h, struct http_body *body, bool grpc, uint64_t lost,
		   bool truncated, bool partial, json_t *unknown);

/* Bytes the head holds (for the dissection memory budget). */
size_t h1_head_mem(const struct h1_head *h);

/* The head's JSON object text. 0 or -ENOMEM. */
int h1_head_write(const struct h1_head *h, struct entry_json_buf *b);
/* The same as a tree (new reference); NULL on ENOMEM. */
json_t *h1_head_tree(const struct h1_head *h);

/*
 * Set e's "request" (response false) or "response" to h, which e takes: as a compact member
 * while e's fields are all compact, else (the tree was built: an interim response, an
 * upgrade) as a tree member. 0 or -ENOMEM (h freed).
 */
int h1_entry_set(struct entry *e, bool response, struct h1_head *h);

/* Is key ("request", "response", "interim") among e's fields? */
bool h1_entry_has(const struct entry *e, const char *key);

#endif /* FLOE_DISSECT_HTTP1_FIELDS_H */
