// SPDX-License-Identifier: Apache-2.0
#include "dissect/http_common.h"
#include "entry/entry.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* ---- bytes to JSON text ---- */

static bool utf8_valid(const uint8_t *p, size_t n, bool allow_nul)
{
	return entry_utf8_prefix(p, n, allow_nul) == n;
}

/*
 * A JSON string from wire bytes: valid UTF-8 is kept, every invalid byte becomes U+FFFD (the
 * rule of entry_json_text(); kept here so this file does not wait on entry.c). A NUL stays
 * in values (JSON escapes it) but not in keys: jansson neither loads such keys nor finds
 * them by C string.
 */
static json_t *sanitized(const uint8_t *p, size_t n, bool key)
{
	static const char repl[3] = {'\xef', '\xbf', '\xbd'};
	json_t *s;
	char *buf;
	size_t i = 0, o = 0;

	if (!n)
		return json_string("");
	if (utf8_valid(p, n, !key))
		return json_stringn_nocheck((const char *)p, n);
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	buf = malloc(n * 3 + 1);
	if (!buf)
		return NULL;
	while (i < n) {
		size_t l = entry_utf8_seq_len(p + i, n - i);

		if (l && !(key && p[i] == 0)) {
			memcpy(buf + o, p + i, l);
			o += l;
			i += l;
		} else {
			memcpy(buf + o, repl, sizeof(repl));
			o += sizeof(repl);
			i++;
		}
	}
	s = json_stringn_nocheck(buf, o);
	free(buf);
	return s;
}

static json_t *text_json(const uint8_t *p, size_t n)
{
	return sanitized(p, n, false);
}

/* Set a key from wire bytes; steals v. */
static int set_text_key(json_t *obj, const uint8_t *k, size_t kn, json_t *v)
{
	json_t *ks;
	int rc;

	if (!v)
		return -ENOMEM;
	ks = sanitized(k, kn, true);
	if (!ks) {
		json_decref(v);
		return -ENOMEM;
	}
	rc = json_object_set_new_nocheck(obj, json_string_value(ks), v);
	json_decref(ks);
	return rc ? -ENOMEM : 0;
}

/* Whether obj already has the key that set_text_key would make of these bytes. */
static int has_text_key(const json_t *obj, const uint8_t *k, size_t kn, bool *has)
{
	json_t *ks = sanitized(k, kn, true);

	if (!ks)
		return -ENOMEM;
	*has = json_object_get(obj, json_string_value(ks)) != NULL;
	json_decref(ks);
	return 0;
}

/* ---- headers ---- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

const char *http_header_join_sep(const char *name, size_t n)
{
	/* Set-Cookie values may contain commas (Expires). */
	if (n == 10 && !memcmp(name, "set-cookie", 10))
		return "\n";
	/* HTTP/2 may split cookie into fields that rejoin with "; " (RFC 9113 8.2.3). */
	if (n == 6 && !memcmp(name, "cookie", 6))
		return "; ";
	return ", ";
}

/* Header names up to this long are lower-cased on the stack (longer ones: malloc). */
#define HEADER_NAME_STACK 256

int http_headers_add(json_t *headers, const char *name, size_t nlen, const char *value, size_t vlen)
{
	json_t *key = NULL, *val, *old;
	const char *sep, *k;
	char stack[HEADER_NAME_STACK], *lower = stack, *joined;
	size_t klen, olen, slen;
	int rc = -ENOMEM;

	if (nlen >= sizeof(stack)) {
		lower = malloc(nlen + 1);
		if (!lower)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];

		lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	lower[nlen] = 0;
	/* A valid key (UTF-8, no NUL: nearly every name) is used as it is; any other one as
	 * sanitized() makes it. No string object per header for the common case: headers were
	 * a tenth of an HTTP/1 entry's cost. */
	if (utf8_valid((const uint8_t *)lower, nlen, false)) {
		k = lower;
		klen = nlen;
	} else {
		key = sanitized((const uint8_t *)lower, nlen, true);
		k = key ? json_string_value(key) : NULL;
		klen = key ? json_string_length(key) : 0;
	}
	/* A field value excludes leading and trailing whitespace (RFC 9110 5.5). */
	while (vlen && is_ows(value[0])) {
		value++;
		vlen--;
	}
	while (vlen && is_ows(value[vlen - 1]))
		vlen--;
	val = text_json((const uint8_t *)value, vlen);
	if (!k || !val)
		goto out;
	old = json_object_get(headers, k);
	if (old) {
		sep = http_header_join_sep(k, klen);
		slen = strlen(sep);
		olen = json_string_length(old);
		joined = malloc(olen + slen + json_string_length(val) + 1);
		if (!joined)
			goto out;
		memcpy(joined, json_string_value(old), olen);
		memcpy(joined + olen, sep, slen);
		memcpy(joined + olen + slen, json_string_value(val), json_string_length(val));
		rc = json_string_setn_nocheck(old, joined, olen + slen + json_string_length(val));
		free(joined);
		rc = rc ? -ENOMEM : 0;
		goto out;
	}
	rc = json_object_set_new_nocheck(headers, k, val) ? -ENOMEM : 0;
	val = NULL; /* stolen, also on failure */
out:
	if (lower != stack)
		free(lower);
	json_decref(key);
	json_decref(val);
	return rc;
}

const char *http_headers_get(const json_t *headers, const char *name)
{
	return json_string_value(json_object_get(headers, name));
}

/* ---- cookies ---- */

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_ows(**s))
		(*s)++;
	while (*e > *s && is_ows((*e)[-1]))
		(*e)--;
}

/*
 * One "name=value" pair between s and e into cookies. The value loses its surrounding
 * double quotes (RFC 6265 4.1.1 allows them; they are not part of what applications read).
 * first_wins: a request lists the most specific cookie first; later Set-Cookie lines replace
 * earlier ones.
 */
static int cookie_pair(json_t *cookies, const char *s, const char *e, bool first_wins)
{
	const char *eq = memchr(s, '=', (size_t)(e - s));
	const char *ns = s, *ne, *vs, *ve = e;
	bool has = false;
	int rc;

	if (!eq)
		return 0; /* malformed: no '=' */
	ne = eq;
	vs = eq + 1;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if (ns == ne)
		return 0; /* malformed: no name */
	if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
		vs++;
		ve--;
	}
	if (first_wins) {
		rc = has_text_key(cookies, (const uint8_t *)ns, (size_t)(ne - ns), &has);
		if (rc || has)
			return rc;
	}
	return set_text_key(cookies, (const uint8_t *)ns, (size_t)(ne - ns),
			    text_json((const uint8_t *)vs, (size_t)(ve - vs)));
}

/*
 * Pairs separated by sep; of a Set-Cookie line only the first pair counts (the rest are
 * attributes).
 */
static int cookie_list(json_t *cookies, const char *s, char sep, bool set_cookie)
{
	const char *end = s ? s + strlen(s) : s;
	int rc;

	while (s < end) {
		const char *next = memchr(s, sep, (size_t)(end - s));
		const char *e = next ? next : end;
		const char *semi;

		if (set_cookie) {
			if (e > s && e[-1] == '\r')
				e--;
			semi = memchr(s, ';', (size_t)(e - s));
			if (semi)
				e = semi;
		}
		rc = cookie_pair(cookies, s, e, !set_cookie);
		if (rc)
			return rc;
		s = next ? next + 1 : end;
	}
	return 0;
}

int http_cookies_from_request(json_t *cookies, const char *cookie_header)
{
	return cookie_list(cookies, cookie_header, ';', false);
}

int http_cookies_from_set_cookie(json_t *cookies, const char *set_cookie_lines)
{
	return cookie_list(cookies, set_cookie_lines, '\n', true);
}

/* ---- url ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent- and '+'-decode s..s+n into out (n bytes at the most); returns the length. */
size_t http_form_decode(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
			   (lo = hexval(s[i + 2])) >= 0) {
			out[o++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = (uint8_t)s[i]; /* also an invalid %xx, kept as it is */
		}
	}
	return o;
}

/* The query's name=value pairs, decoded; a repeated name keeps its first value. */
int http_query_params(json_t *params, const char *q, size_t n)
{
	uint8_t *buf = malloc(n + 1);
	const char *p = q, *end = q + n;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (p < end && !rc) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *ne = eq ? eq : e;
		size_t kn, vn;
		bool has = false;

		if (e > p) { /* "a&&b" has an empty pair */
			kn = http_form_decode(p, (size_t)(ne - p), buf);
			rc = has_text_key(params, buf, kn, &has);
			if (!rc && !has) {
				json_t *v;

				vn = eq ? http_form_decode(eq + 1, (size_t)(e - eq - 1), buf + kn) : 0;
				v = text_json(buf + kn, vn);
				rc = set_text_key(params, buf, kn, v);
			}
		}
		p = amp ? amp + 1 : end;
	}
	free(buf);
	return rc;
}

/* Length of "scheme://authority" at the start of an absolute-form target, else 0. */
size_t http_absolute_prefix(const char *u, size_t n)
{
	size_t i = 0;

	if (!n || !((u[0] | 0x20) >= 'a' && (u[0] | 0x20) <= 'z'))
		return 0;
	while (i < n && (((u[i] | 0x20) >= 'a' && (u[i] | 0x20) <= 'z') ||
			 (u[i] >= '0' && u[i] <= '9') || u[i] == '+' || u[i] == '-' || u[i] == '.'))
		i++;
	if (n - i < 3 || memcmp(u + i, "://", 3))
		return 0;
	i += 3;
	while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#')
		i++;
	return i;
}

int http_url_split(json_t *req, const char *url, size_t n)
{
	size_t pre, qs = n, qe = n, pe;
	json_t *params;
	int rc;

	if (!url)
		url = "";
	pre = http_absolute_prefix(url, n);

	for (size_t i = pre; i < n; i++) {
		if (url[i] == '#') {
			qs = qe = i;
			break;
		}
		if (url[i] == '?') {
			qs = i;
			break;
		}
	}
	pe = qs;
	if (qs < n && url[qs] == '?') {
		const char *h = memchr(url + qs + 1, '#', n - qs - 1);

		qe = h ? (size_t)(h - url) : n;
		qs++;
	} else {
		qs = qe; /* no query */
	}
	if (json_object_set_new_nocheck(req, "url", text_json((const uint8_t *)url, n)))
		return -ENOMEM;
	/* Absolute-form (proxies): the path is what follows the authority; "/" when empty. */
	if (pre && pe == pre)
		rc = json_object_set_new_nocheck(req, "path", json_string("/"));
	else
		rc = json_object_set_new_nocheck(req, "path",
						 text_json((const uint8_t *)url + pre, pe - pre));
	if (rc || json_object_set_new_nocheck(req, "query",
					      text_json((const uint8_t *)url + qs, qe - qs)))
		return -ENOMEM;
	params = json_object();
	if (!params)
		return -ENOMEM;
	rc = http_query_params(params, url + qs, qe - qs);
	if (rc) {
		json_decref(params);
		return rc;
	}
	return json_object_set_new_nocheck(req, "query_params", params) ? -ENOMEM : 0;
}

/* ---- bodies ---- */

void http_body_init(struct http_body *b, size_t max)
{
	b->buf = NULL;
	b->len = 0;
	b->cap = 0;
	b->held_sum = NULL;
	b->max = max;
	b->size = 0;
}

int http_body_append(struct http_body *b, const uint8_t *p, size_t n)
{
	size_t take = b->max - b->len < n ? b->max - b->len : n;
	size_t cap;
	uint8_t *nb;

	b->size += n;
	if (!take)
		return 0;
	/* Grow by doubling (a body usually ends far below max), never past max; only when the
	 * piece does not fit: growing at every piece made realloc move the body again and again
	 * (a 13 KB body in 1 KB DATA frames was copied ~7 times over). */
	if (take > b->cap - b->len) {
		cap = b->cap ? b->cap * 2 : 4096;
		if (cap < b->len + take)
			cap = b->len + take;
		if (cap > b->max)
			cap = b->max;
		nb = realloc(b->buf, cap);
		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		if (b->held_sum)
			*b->held_sum = *b->held_sum + cap - b->cap;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, take);
	b->len += take;
	return 0;
}

int http_body_append_whole(struct http_body *b, const uint8_t *p, size_t n)
{
	size_t take = b->max - b->len < n ? b->max - b->len : n;

	if (!b->cap && take) {
		b->buf = malloc(take);
		if (!b->buf) {
			b->size += n;
			return -ENOMEM;
		}
		if (b->held_sum)
			*b->held_sum += take;
		b->cap = take;
	}
	return http_body_append(b, p, n);
}

void http_body_reset(struct http_body *b)
{
	size_t *sum = b->held_sum;

	if (sum)
		*sum -= b->cap;
	free(b->buf);
	http_body_init(b, b->max);
	b->held_sum = sum;
}

uint8_t *http_body_take(struct http_body *b)
{
	uint8_t *p = b->buf;

	if (b->held_sum)
		*b->held_sum -= b->cap;
	b->buf = NULL;
	b->cap = 0;
	http_body_reset(b);
	return p;
}

enum coding { CODING_NONE, CODING_GZIP, CODING_DEFLATE, CODING_OTHER };

/* The content-encoding list, "identity" ignored: one gzip or deflate is decoded. */
static enum coding parse_coding(const char *ce)
{
	enum coding c = CODING_NONE;
	const char *p = ce;

	while (p && *p) {
		const char *e = strchr(p, ',');
		const char *s = p, *te = e ? e : p + strlen(p);
		size_t n;
		enum coding t;

		trim(&s, &te);
		n = (size_t)(te - s);
		if (n == 0 || (n == 8 && !strncasecmp(s, "identity", 8)))
			t = CODING_NONE;
		else if ((n == 4 && !strncasecmp(s, "gzip", 4)) ||
			 (n == 6 && !strncasecmp(s, "x-gzip", 6)))
			t = CODING_GZIP;
		else if (n == 7 && !strncasecmp(s, "deflate", 7))
			t = CODING_DEFLATE;
		else
			t = CODING_OTHER;
		if (t != CODING_NONE)
			c = c == CODING_NONE ? t : CODING_OTHER; /* chains are shown as they are */
		p = e ? e + 1 : NULL;
	}
	return c;
}

bool http_body_coded(const char *content_encoding)
{
	return parse_coding(content_encoding) != CODING_NONE;
}

struct inflated {
	uint8_t *buf;
	size_t len;
	bool truncated;	 /* more output than max */
	bool incomplete; /* the stream stopped before its end, after giving output */
	const char *error;
};

/*
 * Inflate in..in+n with window bits wbits into at most max bytes. The output buffer grows
 * with the output, never past max, so a small bomb costs what max allows. complete: the
 * input is the whole body, so a stream that stops short is an error. Returns 0 or -ENOMEM.
 */
static int inflate_bounded(const uint8_t *in, size_t n, int wbits, size_t max, bool complete,
			   struct inflated *r)
{
	z_stream zs;
	size_t cap = 0;
	uint8_t *nb;
	uInt room;
	int ret = Z_OK;

	memset(r, 0, sizeof(*r));
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, wbits) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)in;
	zs.avail_in = n > UINT_MAX ? UINT_MAX : (uInt)n; /* bodies are far below 4 GiB */
	for (;;) {
		if (r->len == cap) {
			uint8_t scratch[1];

			if (cap == max) {
				/* Full: does the stream have more to give? */
				zs.next_out = scratch;
				zs.avail_out = sizeof(scratch);
				ret = inflate(&zs, Z_NO_FLUSH);
				if (zs.avail_out == 0 ||
				    (ret == Z_STREAM_END && wbits > MAX_WBITS && zs.avail_in >= 2 &&
				     zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b))
					r->truncated = true;
				break;
			}
			cap = cap ? cap * 2 : (n * 4 > 4096 ? n * 4 : 4096);
			if (cap > max || cap < r->len)
				cap = max;
			nb = realloc(r->buf, cap ? cap : 1);
			if (!nb) {
				inflateEnd(&zs);
				free(r->buf);
				r->buf = NULL;
				return -ENOMEM;
			}
			r->buf = nb;
		}
		room = cap - r->len > UINT_MAX ? UINT_MAX : (uInt)(cap - r->len);
		zs.next_out = r->buf + r->len;
		zs.avail_out = room;
		ret = inflate(&zs, Z_NO_FLUSH);
		r->len += room - zs.avail_out;
		if (ret == Z_STREAM_END) {
			/* gzip allows members one after another (RFC 1952 2.2). */
			if (wbits > MAX_WBITS && zs.avail_in >= 2 && zs.next_in[0] == 0x1f &&
			    zs.next_in[1] == 0x8b && inflateReset(&zs) == Z_OK)
				continue;
			break;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			break;
		if (ret == Z_BUF_ERROR && zs.avail_out)
			break; /* no progress possible: the input ran out */
	}
	if (!r->truncated && ret != Z_STREAM_END) {
		if (ret == Z_MEM_ERROR) {
			inflateEnd(&zs);
			free(r->buf);
			r->buf = NULL;
			return -ENOMEM;
		}
		if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR)
			r->error = zs.msg ? zs.msg : "invalid compressed data";
		else if (complete && !r->len)
			r->error = "unexpected end of compressed data";
		else if (complete)
			/* Some servers flush (Z_SYNC_FLUSH) and never finish the stream: what
			 * came is still the body, as browsers show it. */
			r->incomplete = true;
	}
	/* zs.msg points into zlib's static strings, so it outlives inflateEnd. */
	inflateEnd(&zs);
	return 0;
}

static int set_count(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new(o, key, json_integer(v > LLONG_MAX ? LLONG_MAX : (json_int_t)v));
}

json_t *http_body_to_json(const struct http_body *b, const char *content_encoding)
{
	enum coding c = parse_coding(content_encoding);
	bool truncated = b->size > b->len;
	const uint8_t *show = b->buf ? b->buf : (const uint8_t *)"";
	size_t show_len = b->len;
	struct inflated inf = {0};
	json_t *o = json_object();
	int rc = 0;

	if (!o)
		return NULL;
	rc |= set_count(o, "size", b->size);
	rc |= json_object_set_new_nocheck(o, "truncated",
					  json_boolean(truncated)); /* set again below */
	if (c != CODING_NONE) {
		const char *ce = content_encoding;

		rc |= json_object_set_new_nocheck(o, "encoding",
						  text_json((const uint8_t *)ce, strlen(ce)));
	}
	/* Nothing kept (HEAD, 204, max 0): nothing to decode, and that is not an error. */
	if ((c == CODING_GZIP || c == CODING_DEFLATE) && b->len) {
		if (inflate_bounded(b->buf, b->len, MAX_WBITS + 32, b->max, !truncated, &inf))
			goto nomem;
		/* "deflate" is sent zlib-wrapped (RFC 9110 8.4.1.2) and, by some, raw. */
		if (inf.error && c == CODING_DEFLATE) {
			struct inflated raw;

			/* Freed first: decoding never holds more than max bytes of output. */
			free(inf.buf);
			inf.buf = NULL;
			if (inflate_bounded(b->buf, b->len, -MAX_WBITS, b->max, !truncated, &raw))
				goto nomem;
			if (!raw.error) {
				inf = raw;
			} else {
				free(raw.buf);
			}
		}
		if (inf.error) {
			rc |=
			    json_object_set_new_nocheck(o, "decode_error", json_string(inf.error));
		} else {
			show = inf.buf ? inf.buf : show;
			show_len = inf.len;
			truncated |= inf.truncated;
			rc |= set_count(o, "decoded_size", inf.len);
			if (inf.incomplete)
				rc |= json_object_set_new_nocheck(o, "decode_incomplete",
								  json_true());
		}
	}
	rc |= json_object_set_new_nocheck(o, "truncated", json_boolean(truncated));
	if (utf8_valid(show, show_len, false))
		rc |= json_object_set_new_nocheck(
		    o, "text", json_stringn_nocheck((const char *)show, show_len));
	else
		rc |= json_object_set_new_nocheck(o, "base64", entry_json_base64(show, show_len));
	free(inf.buf);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
nomem:
	free(inf.buf);
	json_decref(o);
	return NULL;
}
