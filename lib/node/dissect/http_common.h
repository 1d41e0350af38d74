/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_common: what HTTP/1.x and HTTP/2 entries share: header and cookie objects, the url
 * split into path and query, and bodies (bounded capture, gzip/deflate decoding for display).
 * The JSON shapes are documented in docs/entries.md.
 */
#ifndef FLOE_DISSECT_HTTP_COMMON_H
#define FLOE_DISSECT_HTTP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Default bound of body bytes kept per message (configurable: dissect_config.body_max). */
#define HTTP_BODY_DEFAULT_MAX (64u * 1024u)

/*
 * Headers: an object keyed by the lower-cased name. A repeated header's values are joined
 * with ", " (RFC 9110 5.3), except set-cookie whose values are joined with "\n" (they may
 * contain commas) and cookie whose values are joined with "; " (HTTP/2 splits it into
 * fields, RFC 9113 8.2.3). Names and values may hold any bytes: invalid UTF-8 bytes (and a
 * NUL in a name) become U+FFFD. Returns 0 or -ENOMEM.
 */
int http_headers_add(json_t *headers, const char *name, size_t nlen, const char *value,
		     size_t vlen);

/* The separator of a repeated header's values (name: n bytes, lower case). */
const char *http_header_join_sep(const char *name, size_t n);

/* The value of a header in such an object, or NULL. name is lower case. */
const char *http_headers_get(const json_t *headers, const char *name);

/*
 * Cookies of a request ("cookie: a=1; b=2") into an object name -> value; of a response
 * (each set-cookie line "a=1; Path=/") name -> value, attributes dropped. Returns 0 or
 * -ENOMEM; malformed pairs are skipped.
 */
int http_cookies_from_request(json_t *cookies, const char *cookie_header);
int http_cookies_from_set_cookie(json_t *cookies, const char *set_cookie_lines);

/*
 * Set "url" (as sent), "path" (before '?' or '#', percent-decoding not applied; of an
 * absolute-form target "http://h/p" the part after the authority, "/" when empty), "query"
 * (after '?', without '#fragment'; "" when none) and "query_params" (object: name -> value,
 * percent- and '+'-decoded; a repeated name keeps the first value) on req. Returns 0 or
 * -ENOMEM.
 */
int http_url_split(json_t *req, const char *url, size_t n);

/* The pieces of http_url_split, for writers without a tree (http1_fields.c): */
/* Length of "scheme://authority" at the start of an absolute-form target, else 0. */
size_t http_absolute_prefix(const char *url, size_t n);
/* Percent- and '+'-decode s..s+n into out (room for n bytes); returns the length. */
size_t http_form_decode(const char *s, size_t n, uint8_t *out);
/* The query's name=value pairs (q..q+n, without '?'), decoded, into params as "query_params"
 * holds them. 0 or -ENOMEM. */
int http_query_params(json_t *params, const char *q, size_t n);

/* A message body as it streams in: the first `max` bytes are kept, all are counted. */
struct http_body {
	uint8_t *buf;
	size_t len;   /* bytes kept */
	size_t cap;   /* bytes allocated (for the memory budget) */
	size_t *held_sum; /* NULL, or an owner's total that the changes of cap are added to */
	size_t max;   /* keep at most this many */
	uint64_t size;/* bytes seen (after transfer decoding: chunked framing not counted) */
};

void http_body_init(struct http_body *b, size_t max);
/* Count n bytes and keep what fits. Returns 0 or -ENOMEM (the bytes are counted anyway). */
int http_body_append(struct http_body *b, const uint8_t *p, size_t n);
/* The same when these n bytes are the whole body (its length known, all here): the bytes are
 * kept in an allocation of their size rather than of 4096 (a small body's 4096 bytes went
 * past malloc's per-thread cache, ~500 instructions per body). */
int http_body_append_whole(struct http_body *b, const uint8_t *p, size_t n);
void http_body_reset(struct http_body *b); /* free the bytes, keep max and held_sum */
/* The kept bytes, handed to the caller (to free()); b is then reset. NULL when none. */
uint8_t *http_body_take(struct http_body *b);
/* Does http_body_to_json() decode (gzip, deflate) or name ("encoding") this content-encoding?
 * When not, the body object is {size, truncated, text | base64}. */
bool http_body_coded(const char *content_encoding);

/*
 * The "body" object: {"size": bytes on the wire after transfer decoding, "truncated": true
 * when not all were kept, "encoding": content-encoding when one was applied, "decoded_size":
 * size after content decoding (of the kept bytes), "text": the (decoded) body when it is
 * UTF-8 text, or "base64": it otherwise}. gzip, x-gzip and deflate (zlib or raw) are
 * decoded, bounded by max bytes of output; other encodings are shown as they are. A decoding
 * error leaves the raw bytes and sets "decode_error". NULL on ENOMEM.
 */
json_t *http_body_to_json(const struct http_body *b, const char *content_encoding);

#endif /* FLOE_DISSECT_HTTP_COMMON_H */
