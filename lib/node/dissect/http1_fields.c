// SPDX-License-Identifier: Apache-2.0
#include "dissect/http1_fields.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "entry/entry_json.h"
#include "entry/hash.h"

/* Up to this many fields (or query parameters), a repeated name is found by a linear scan;
 * beyond, through a hash index (a head may hold thousands of tiny fields). */
#define H1_SCAN_MAX 16u
/* Query parameters written without a tree; more go through http_query_params(). */
#define H1_PARAMS_DIRECT 32u

/* A head's first arena bytes and header fields are in its own block (the sizes the arena
 * and the field array used to start with): a short head is one allocation, not three. */
#define H1_ARENA_INLINE 256u
#define H1_FIELDS_INLINE 8u

/* One header or trailer field; strings are arena offsets (each followed by a NUL). */
struct h1_field {
	uint32_t name, nlen, val, vlen;
	uint32_t hash;	/* of the name: set while the list has an index */
	int32_t next;   /* the next field of the same name, -1 */
	int32_t last;   /* of a name's first field: its last one */
	bool dup;       /* not the first of its name: written with the first */
	bool joined;    /* of a first field: val/vlen hold the joined values */
	/* of a first field: its own value (val/vlen until joined), for joining again when a
	 * field of its name is added after a value was read */
	uint32_t own_val, own_vlen;
	bool own_plain;
	/* name / val is entry_json_plain(): kept and written as it is */
	bool plain_name, plain_val;
};

struct h1_list {
	struct h1_field *v;
	uint32_t n, cap;
	int32_t *index; /* open addressing over first fields, -1 empty; index_cap a power of 2 */
	uint32_t index_cap;
	/* name_bit() of every first field's name: a name whose bit is clear is not in the list.
	 * Most look-ups are of names a head does not have (transfer-encoding, upgrade, cookie;
	 * a new field's own name): answered without the scan. */
	uint64_t names;
};

struct h1_head {
	bool request;
	char *arena;
	size_t alen, acap;
	struct h1_list hdrs, trls;
	const char *method;
	unsigned status;
	char version[16];
	uint32_t line, line_len;
	uint32_t pre, pe, qs, qe; /* the target's authority end, path end, query start/end */
	bool has_ct, ct_plain;
	uint32_t ct, ct_len;
	json_t *cookies;
	/* HTTP/2 (h2): pseudo-header fields instead of a start line (arena offsets, ps_set a
	 * bit per enum h1_pseudo), what HPACK could not decode, and members the tree had only
	 * sometimes: no url without :path and :authority, no status without a valid :status,
	 * "cookies" kept even when empty. */
	bool h2, no_url, no_status, hdr_truncated, hdr_partial;
	bool trls_seen; /* a later block came: "trailers" even when it had no field */
	uint8_t ps_set;
	uint32_t ps[H1_PS_N], ps_len[H1_PS_N];
	json_t *unknown;
	/* body */
	bool has_body, body_truncated; /* written as text or base64: body_is_text() */
	json_t *body_json; /* when the content-encoding makes one (decoding, "encoding") */
	uint8_t *body;
	size_t body_len;
	uint64_t body_size, gap_bytes;
	/* arena and hdrs.v until they outgrow them */
	struct h1_field hdrs_inline[H1_FIELDS_INLINE];
	char arena_inline[H1_ARENA_INLINE];
};

/* ---- the arena ---- */

/* Room for n more bytes at h->alen. Offsets are 32-bit: a head is at most HTTP1_HEAD_MAX
 * bytes, joined values at most twice that. 0 or -ENOMEM. */
static int arena_reserve(struct h1_head *h, size_t n)
{
	size_t cap = h->acap;
	char *np;
	bool in_block;

	if (n > UINT32_MAX / 4 || h->alen + n > UINT32_MAX / 2)
		return -ENOMEM;
	if (h->alen + n <= h->acap)
		return 0;
	in_block = h->arena == h->arena_inline;
	while (cap < h->alen + n)
		cap *= 2;
	/* the inline bytes are copied out, a heap arena grows in place when it can */
	np = in_block ? malloc(cap) : realloc(h->arena, cap);
	if (!np)
		return -ENOMEM;
	if (in_block)
		memcpy(np, h->arena_inline, h->alen);
	h->arena = np;
	h->acap = cap;
	return 0;
}

/* Append n bytes and a NUL; *off where they start. */
static int arena_add(struct h1_head *h, const void *p, size_t n, uint32_t *off)
{
	if (arena_reserve(h, n + 1))
		return -ENOMEM;
	if (n)
		memcpy(h->arena + h->alen, p, n);
	h->arena[h->alen + n] = 0;
	*off = (uint32_t)h->alen;
	h->alen += n + 1;
	return 0;
}

static const char *at(const struct h1_head *h, uint32_t off)
{
	return h->arena + off;
}

/* ---- heads ---- */

struct h1_head *h1_head_new(bool request)
{
	struct h1_head *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	/* The inline fields and arena bytes are written before they are read: not zeroed (they
	 * are most of the struct). */
	memset(h, 0, offsetof(struct h1_head, hdrs_inline));
	h->request = request;
	h->arena = h->arena_inline;
	h->acap = H1_ARENA_INLINE;
	h->hdrs.v = h->hdrs_inline;
	h->hdrs.cap = H1_FIELDS_INLINE;
	return h;
}

static void list_free(const struct h1_head *h, struct h1_list *l)
{
	if (l->v != h->hdrs_inline)
		free(l->v);
	free(l->index);
}

void h1_head_free(struct h1_head *h)
{
	if (!h)
		return;
	list_free(h, &h->hdrs);
	list_free(h, &h->trls);
	if (h->arena != h->arena_inline)
		free(h->arena);
	json_decref(h->cookies);
	json_decref(h->unknown);
	json_decref(h->body_json);
	free(h->body);
	free(h);
}

static uint32_t name_hash(const char *p, size_t n)
{
	return fnv1a32(p, n);
}

static bool same_name(const struct h1_head *h, const struct h1_field *f, const char *p, size_t n)
{
	return f->nlen == n && !memcmp(at(h, f->name), p, n);
}

/* Put first field i in the index (room assured). */
static void index_put(struct h1_list *l, const struct h1_field *f, int32_t i)
{
	uint32_t mask = l->index_cap - 1, s = f->hash & mask;

	while (l->index[s] >= 0)
		s = (s + 1) & mask;
	l->index[s] = i;
}

/* Keep the index at most half full, once there are more than H1_SCAN_MAX fields. The names
 * are hashed only then: a short list is scanned (cheaper than hashing every name). */
static int index_grow(const struct h1_head *h, struct h1_list *l)
{
	uint32_t cap = l->index_cap ? l->index_cap * 2 : 64;
	int32_t *ni;

	if (l->n + 1 <= H1_SCAN_MAX || (l->n + 1) * 2 <= l->index_cap)
		return 0;
	ni = malloc(cap * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	free(l->index);
	l->index = ni;
	l->index_cap = cap;
	memset(ni, 0xff, cap * sizeof(*ni));
	for (uint32_t i = 0; i < l->n; i++) {
		if (l->v[i].dup)
			continue;
		l->v[i].hash = name_hash(at(h, l->v[i].name), l->v[i].nlen);
		index_put(l, &l->v[i], (int32_t)i);
	}
	return 0;
}

/* One of 64 bits for a name, from its length and its first and last bytes. */
static uint64_t name_bit(const char *p, size_t n)
{
	return n ? 1ull << ((n * 7 + (unsigned char)p[0] * 3 + (unsigned char)p[n - 1]) & 63) : 1;
}

/* The first field named p..p+n, or -1. */
static int32_t find_first(const struct h1_head *h, const struct h1_list *l, const char *p, size_t n)
{
	if (!(l->names & name_bit(p, n)))
		return -1;
	if (l->index) {
		uint32_t hash = name_hash(p, n), mask = l->index_cap - 1, s = hash & mask;

		for (; l->index[s] >= 0; s = (s + 1) & mask)
			if (l->v[l->index[s]].hash == hash &&
			    same_name(h, &l->v[l->index[s]], p, n))
				return l->index[s];
		return -1;
	}
	for (uint32_t i = 0; i < l->n; i++)
		if (!l->v[i].dup && same_name(h, &l->v[i], p, n))
			return (int32_t)i;
	return -1;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Add p..p+n to the arena as the tree keeps such text: as it is when valid UTF-8 (NUL
 * allowed or not), else with every invalid byte as U+FFFD. */
static int arena_text(struct h1_head *h, const char *p, size_t n, bool allow_nul, uint32_t *off,
		      uint32_t *len)
{
	size_t o;
	char *s;
	int rc;

	if (entry_utf8_prefix((const uint8_t *)p, n, allow_nul) == n) {
		*len = (uint32_t)n;
		return arena_add(h, p, n, off);
	}
	s = entry_text_sanitize((const uint8_t *)p, n, allow_nul, &o);
	if (!s)
		return -ENOMEM;
	*len = (uint32_t)o;
	rc = arena_add(h, s, o, off);
	free(s);
	return rc;
}

/* Header names up to this long are lower-cased on the stack (when not plain). */
#define H1_NAME_STACK 256

/* n bytes of p, each below 0x80 (entry_json_plain()), to o with A-Z lower-cased: eight at a
 * time, no carry crossing bytes below 0x80. */
static void lower_plain(char *o, const char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	if (n >= 8) {
		/* words, the last one overlapping the one before (its bytes lower-cased again
		 * from p: the same values) */
		for (;;) {
			uint64_t x, upper;

			memcpy(&x, p + i, 8);
			/* high bit of a byte: >= 'A' and not >= 'Z' + 1 */
			upper = (x + ones * (0x80 - 'A')) & ~(x + ones * (0x80 - 'Z' - 1)) & highs;
			x |= upper >> 2;
			memcpy(o + i, &x, 8);
			if (i + 8 == n)
				return;
			i = n - i - 8 >= 8 ? i + 8 : n - 8;
		}
	}
	if (n >= 4) {
		/* two words of four, overlapping: one of eight, lower-cased the same way */
		uint32_t a, z;
		uint64_t x, upper;

		memcpy(&a, p, 4);
		memcpy(&z, p + n - 4, 4);
		x = (uint64_t)z << 32 | a;
		upper = (x + ones * (0x80 - 'A')) & ~(x + ones * (0x80 - 'Z' - 1)) & highs;
		x |= upper >> 2;
		a = (uint32_t)x;
		z = (uint32_t)(x >> 32);
		memcpy(o + n - 4, &z, 4);
		memcpy(o, &a, 4);
		return;
	}
	for (; i < n; i++)
		o[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
}

/* Name (lower-cased) and value, both plain, into the arena: one reservation. */
static int arena_plain_field(struct h1_head *h, struct h1_field *f, const char *name, size_t nlen,
			     const char *value, size_t vlen)
{
	char *o;

	if (arena_reserve(h, nlen + vlen + 2))
		return -ENOMEM;
	o = h->arena + h->alen;
	lower_plain(o, name, nlen);
	o[nlen] = 0;
	memcpy(o + nlen + 1, value, vlen);
	o[nlen + 1 + vlen] = 0;
	f->name = (uint32_t)h->alen;
	f->nlen = (uint32_t)nlen;
	f->val = (uint32_t)(h->alen + nlen + 1);
	f->vlen = (uint32_t)vlen;
	h->alen += nlen + vlen + 2;
	return 0;
}

static int add_field(struct h1_head *h, bool trailer, const char *name, size_t nlen,
		     const char *value, size_t vlen, bool name_token)
{
	struct h1_list *l = trailer ? &h->trls : &h->hdrs;
	char stack[H1_NAME_STACK], *lower = stack;
	struct h1_field f = {.next = -1, .last = -1};
	int32_t first;
	int rc = -ENOMEM;

	/* A field value excludes leading and trailing whitespace (RFC 9110 5.5). */
	while (vlen && is_ows(value[0])) {
		value++;
		vlen--;
	}
	while (vlen && is_ows(value[vlen - 1]))
		vlen--;
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 8;
		struct h1_field *nv;

		if (l->v == h->hdrs_inline) {
			nv = malloc(cap * sizeof(*nv));
			if (nv)
				memcpy(nv, l->v, l->n * sizeof(*nv));
		} else {
			nv = realloc(l->v, cap * sizeof(*nv));
		}
		if (!nv)
			goto out;
		l->v = nv;
		l->cap = cap;
	}
	/* Lower-casing keeps a name plain or not plain. */
	f.plain_name = name_token || entry_json_plain(name, nlen);
	f.plain_val = entry_json_plain(value, vlen);
	if (f.plain_name && f.plain_val) {
		rc = arena_plain_field(h, &f, name, nlen, value, vlen);
	} else {
		if (nlen >= sizeof(stack) && !(lower = malloc(nlen + 1)))
			goto out;
		for (size_t i = 0; i < nlen; i++)
			lower[i] =
			    name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
		if (f.plain_name) {
			f.nlen = (uint32_t)nlen;
			rc = arena_add(h, lower, nlen, &f.name);
		} else {
			rc = arena_text(h, lower, nlen, false, &f.name, &f.nlen);
		}
		if (!rc && f.plain_val) {
			f.vlen = (uint32_t)vlen;
			rc = arena_add(h, value, vlen, &f.val);
		} else if (!rc) {
			rc = arena_text(h, value, vlen, true, &f.val, &f.vlen);
		}
	}
	rc = rc ? rc : index_grow(h, l);
	if (rc)
		goto out;
	first = find_first(h, l, at(h, f.name), f.nlen);
	if (first >= 0) {
		struct h1_field *fi = &l->v[first];

		f.dup = true;
		l->v[fi->last >= 0 ? fi->last : first].next = (int32_t)l->n;
		fi->last = (int32_t)l->n;
		fi->joined = false; /* joined again with this one */
	}
	f.own_val = f.val;
	f.own_vlen = f.vlen;
	f.own_plain = f.plain_val;
	if (l->index)
		f.hash = name_hash(at(h, f.name), f.nlen);
	l->v[l->n] = f;
	if (first < 0)
		l->names |= name_bit(at(h, f.name), f.nlen);
	if (first < 0 && l->index)
		index_put(l, &l->v[l->n], (int32_t)l->n);
	l->n++;
	rc = 0;
out:
	if (lower != stack)
		free(lower);
	return rc;
}

int h1_head_add_field(struct h1_head *h, bool trailer, const char *name, size_t nlen,
		      const char *value, size_t vlen)
{
	return add_field(h, trailer, name, nlen, value, vlen, false);
}

int h1_head_add_token_field(struct h1_head *h, const char *name, size_t nlen, const char *value,
			    size_t vlen)
{
	return add_field(h, false, name, nlen, value, vlen, true);
}

size_t h1_head_fields(const struct h1_head *h, bool trailer)
{
	return trailer ? h->trls.n : h->hdrs.n;
}

/* Give first field i of a repeated name its joined value (once). */
static int join(struct h1_head *h, struct h1_list *l, int32_t i)
{
	struct h1_field *f = &l->v[i];
	const char *sep;
	size_t slen, total = 0, o = 0;
	uint32_t off, len;
	char *buf;
	bool plain;
	int rc;

	if (f->next < 0 || f->joined)
		return 0;
	sep = http_header_join_sep(at(h, f->name), f->nlen);
	slen = strlen(sep);
	total = f->own_vlen;
	for (int32_t k = f->next; k >= 0; k = l->v[k].next)
		total += slen + l->v[k].vlen;
	buf = malloc(total + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, at(h, f->own_val), f->own_vlen);
	o = f->own_vlen;
	plain = f->own_plain && entry_json_plain(sep, slen);
	for (int32_t k = f->next; k >= 0; k = l->v[k].next) {
		memcpy(buf + o, sep, slen);
		o += slen;
		memcpy(buf + o, at(h, l->v[k].val), l->v[k].vlen);
		o += l->v[k].vlen;
		plain = plain && l->v[k].plain_val;
	}
	rc = arena_add(h, buf, o, &off);
	free(buf);
	if (rc)
		return rc;
	len = (uint32_t)o;
	f = &l->v[i];
	f->val = off;
	f->vlen = len;
	f->plain_val = plain;
	f->joined = true;
	return 0;
}

static const char *list_get(struct h1_head *h, struct h1_list *l, const char *name)
{
	size_t n = strlen(name);
	int32_t i = find_first(h, l, name, n);

	if (i < 0 || join(h, l, i))
		return NULL;
	return at(h, l->v[i].val);
}

const char *h1_head_get(struct h1_head *h, const char *name)
{
	return list_get(h, &h->hdrs, name);
}

/* Join every repeated name of l (before writing: writing does not change the head). */
static int join_all(struct h1_head *h, struct h1_list *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (!l->v[i].dup && join(h, l, (int32_t)i))
			return -ENOMEM;
	return 0;
}

/* "%u.%u" */
static void version_text(char v[16], unsigned major, unsigned minor)
{
	char s[ENTRY_INT_CHARS], *d = entry_int_digits(major, s);
	size_t n = (size_t)(s + sizeof(s) - d), m;

	memcpy(v, d, n);
	v[n++] = '.';
	d = entry_int_digits(minor, s);
	m = (size_t)(s + sizeof(s) - d);
	memcpy(v + n, d, m);
	v[n + m] = 0;
}

/* http_url_split's parts of the target (h->line): path before '?' or '#', query up to '#'. */
static void split_target(struct h1_head *h)
{
	const char *url = at(h, h->line);
	size_t n = h->line_len, i;

	h->pre = (uint32_t)http_absolute_prefix(url, n);
	for (i = h->pre; i < n; i++)
		if (url[i] == '#' || url[i] == '?')
			break;
	h->pe = (uint32_t)i;
	if (i < n && url[i] == '?') {
		const char *hash = memchr(url + i + 1, '#', n - i - 1);

		h->qs = (uint32_t)i + 1;
		h->qe = hash ? (uint32_t)(hash - url) : (uint32_t)n;
	} else {
		h->qs = h->qe = (uint32_t)i;
	}
}

/* Cookies and content type from the (joined) headers. keep_empty: "cookies" even when no
 * cookie parsed (HTTP/2's tree had it so). */
static void find_derived(struct h1_head *h, bool keep_empty)
{
	const char *v = h1_head_get(h, h->request ? "cookie" : "set-cookie");

	if (v) {
		json_t *ck = json_object();
		int err = -ENOMEM;

		if (ck)
			err = h->request ? http_cookies_from_request(ck, v)
					 : http_cookies_from_set_cookie(ck, v);
		if (!err && (keep_empty || json_object_size(ck)))
			h->cookies = json_incref(ck);
		json_decref(ck);
	}
	v = h1_head_get(h, "content-type");
	if (v) {
		size_t len = strlen(v);
		const struct h1_field *f = &h->hdrs.v[find_first(h, &h->hdrs, "content-type", 12)];

		/* Its offset, found again: v points into the arena. Plain (written as it is)
		 * when its field's (joined) value is: then it has no NUL and len is its length. */
		h->has_ct = true;
		h->ct = (uint32_t)(v - h->arena);
		h->ct_len = (uint32_t)len;
		h->ct_plain = f->plain_val;
	}
}

int h1_head_finish(struct h1_head *h, const char *method, unsigned status, const char *line,
		   size_t n, unsigned major, unsigned minor)
{
	h->method = method;
	h->status = status;
	version_text(h->version, major, minor);
	if (arena_add(h, line ? line : "", line ? n : 0, &h->line) || join_all(h, &h->hdrs))
		return -ENOMEM;
	h->line_len = (uint32_t)(line ? n : 0);
	if (h->request)
		split_target(h);
	find_derived(h, false);
	return 0;
}

/* ---- HTTP/2 heads ---- */

struct h1_head *h1_head_new_h2(bool request)
{
	struct h1_head *h = h1_head_new(request);
	uint32_t empty;

	if (!h)
		return NULL;
	h->h2 = true;
	memcpy(h->version, "2", 2);
	/* "" at offset 0: line and the pseudo-headers point into the arena even when none came */
	if (arena_add(h, "", 0, &empty)) {
		h1_head_free(h);
		return NULL;
	}
	return h;
}

int h1_head_set_pseudo(struct h1_head *h, enum h1_pseudo which, const uint8_t *v, size_t n)
{
	if (h->ps_set & (1u << which))
		return 0;
	if (arena_text(h, (const char *)v, n, false, &h->ps[which], &h->ps_len[which]))
		return -ENOMEM;
	h->ps_set |= (uint8_t)(1u << which);
	return 0;
}

static bool has_ps(const struct h1_head *h, enum h1_pseudo which)
{
	return h->ps_set & (1u << which);
}

const char *h1_head_pseudo(const struct h1_head *h, enum h1_pseudo which, size_t *n)
{
	if (!has_ps(h, which))
		return NULL;
	if (n)
		*n = h->ps_len[which];
	return at(h, h->ps[which]);
}

int h1_head_finish_h2(struct h1_head *h, int status, const char *status_text)
{
	if (join_all(h, &h->hdrs))
		return -ENOMEM;
	if (h->request) {
		/* the target: :path, or a CONNECT's :authority (authority form) */
		enum h1_pseudo t = has_ps(h, H1_PS_PATH) ? H1_PS_PATH : H1_PS_AUTHORITY;

		h->no_url = !has_ps(h, t);
		if (!h->no_url) {
			h->line = h->ps[t];
			h->line_len = h->ps_len[t];
			split_target(h);
		}
	} else if (status < 0) {
		h->no_status = true;
	} else {
		h->status = (unsigned)status;
		if (arena_add(h, status_text, strlen(status_text), &h->line))
			return -ENOMEM;
		h->line_len = (uint32_t)strlen(status_text);
	}
	find_derived(h, true);
	return 0;
}

int h1_head_add_trailers(struct h1_head *h, struct h1_head *src)
{
	if (join_all(src, &src->hdrs))
		return -ENOMEM;
	h->trls_seen = true;
	for (uint32_t i = 0; i < src->hdrs.n; i++) {
		const struct h1_field *f = &src->hdrs.v[i];

		/* joined values: the tree merged a later block's joined values */
		if (!f->dup &&
		    h1_head_add_field(h, true, at(src, f->name), f->nlen, at(src, f->val), f->vlen))
			return -ENOMEM;
	}
	return 0;
}

static json_t *fields_tree(const struct h1_head *h, const struct h1_list *l);

json_t *h1_head_fields_tree(struct h1_head *h, bool trailer)
{
	struct h1_list *l = trailer ? &h->trls : &h->hdrs;

	return join_all(h, l) ? NULL : fields_tree(h, l);
}

/* Keep body's bytes, written as they are (put_body), and join the trailers. */
static int take_body(struct h1_head *h, struct http_body *body, bool truncated, uint64_t gap)
{
	h->body_size = body->size;
	h->body_truncated = truncated;
	h->gap_bytes = gap;
	h->body_len = body->len;
	h->body = http_body_take(body);
	h->has_body = true;
	return join_all(h, &h->trls);
}

int h1_head_end_h2(struct h1_head *h, struct http_body *body, bool grpc, uint64_t lost,
		   bool truncated, bool partial, json_t *unknown)
{
	const char *ce;

	h->hdr_truncated = truncated;
	h->hdr_partial = partial;
	h->unknown = unknown;
	if (!body)
		return join_all(h, &h->trls);
	ce = grpc ? NULL : h1_head_get(h, "content-encoding");
	if (grpc || http_body_coded(ce)) {
		/* gRPC bodies are shown as messages (grpc.c): the body says how much there was */
		json_t *b = grpc ? json_object() : http_body_to_json(body, ce);

		if (!b ||
		    (grpc && json_object_set_new_nocheck(b, "size",
							 json_integer((json_int_t)body->size))) ||
		    (lost &&
		     json_object_set_new_nocheck(b, "gap_bytes", json_integer((json_int_t)lost)))) {
			json_decref(b);
			return -ENOMEM;
		}
		h->body_json = b;
		h->has_body = true;
		return join_all(h, &h->trls);
	}
	/* http_body_to_json()'s object without an encoding, then "gap_bytes" */
	return take_body(h, body, body->size > body->len, lost);
}

int h1_head_set_body(struct h1_head *h, struct http_body *body, const char *content_encoding,
		     uint64_t gap_bytes, bool cut)
{
	/* Last: content_encoding may point into the arena, which joining may move. */
	if (!body)
		return join_all(h, &h->trls);
	if (http_body_coded(content_encoding)) {
		json_t *b = http_body_to_json(body, content_encoding);

		if (!b)
			return -ENOMEM;
		if (gap_bytes) {
			json_object_set_new_nocheck(b, "gap_bytes", json_integer((json_int_t)gap_bytes));
			json_object_set_new_nocheck(b, "truncated", json_true());
		}
		if (cut)
			json_object_set_new_nocheck(b, "truncated", json_true());
		h->body_json = b;
		h->has_body = true;
		return join_all(h, &h->trls);
	}
	/* http_body_to_json()'s object without an encoding: {size, truncated, text | base64}. */
	return take_body(h, body, body->size > body->len || gap_bytes || cut, gap_bytes);
}

size_t h1_head_mem(const struct h1_head *h)
{
	return h ? sizeof(*h) + (h->arena != h->arena_inline ? h->acap : 0) +
			   (h->hdrs.v != h->hdrs_inline ? h->hdrs.cap : 0) * sizeof(struct h1_field) +
			   h->trls.cap * sizeof(struct h1_field) +
			   (h->hdrs.index_cap + h->trls.index_cap) * sizeof(int32_t) + h->body_len
		 : 0;
}

/* ---- writing ---- */

/* floe's own keys (literals, nothing to escape): inlined, the literal's length is a constant
 * and the key two moves */
static inline __attribute__((always_inline)) int put_key(struct entry_json_buf *b, const char *k,
							 bool first)
{
	return entry_json_append_plain_key(b, k, strlen(k), first);
}

static int put_fields(const struct h1_head *h, const struct h1_list *l, struct entry_json_buf *b)
{
	bool first = true;

	if (entry_json_append_raw(b, "{", 1))
		return -ENOMEM;
	for (uint32_t i = 0; i < l->n; i++) {
		const struct h1_field *f = &l->v[i];

		if (f->dup)
			continue;
		if (f->plain_name && f->plain_val) {
			if (entry_json_append_plain_member(b, at(h, f->name), f->nlen,
							   at(h, f->val), f->vlen, first))
				return -ENOMEM;
			first = false;
			continue;
		}
		if ((f->plain_name ? entry_json_append_plain_key(b, at(h, f->name), f->nlen, first)
				   : entry_json_append_key(b, at(h, f->name), f->nlen, first)) ||
		    (f->plain_val ? entry_json_append_plain(b, at(h, f->val), f->vlen)
				  : entry_json_append_string(b, at(h, f->val), f->vlen)))
			return -ENOMEM;
		first = false;
	}
	return entry_json_append_raw(b, "}", 1);
}

/* Of the decoded names so far, is there one equal to (k, n)? (ranges in keys) */
static bool seen_key(const char *keys, const uint32_t (*r)[2], size_t count, const char *k,
		     size_t n)
{
	for (size_t i = 0; i < count; i++)
		if (r[i][1] == n && !memcmp(keys + r[i][0], k, n))
			return true;
	return false;
}

/* "query_params" as http_query_params() makes it: names and values decoded, a name's first
 * value kept; names as keys (NUL and invalid bytes replaced), values as text. */
static int put_params(const char *q, size_t n, struct entry_json_buf *b)
{
	uint32_t r[H1_PARAMS_DIRECT][2];
	const char *p = q, *end = q + n;
	size_t count = 0, pairs = 0, kn, vn, sn, klen = 0;
	char *keys = NULL, *s;
	uint8_t *buf;
	bool first = true;
	int rc = 0;

	for (const char *c = q; c < end; c++)
		pairs += *c == '&';
	if (pairs >= H1_PARAMS_DIRECT) {
		/* Many: the tree's way (its hash finds repeated names). */
		json_t *o = json_object();

		rc = !o || http_query_params(o, q, n) || entry_json_append(b, o) ? -ENOMEM : 0;
		json_decref(o);
		return rc;
	}
	buf = malloc(n + 1);
	keys = malloc(3 * n + 1);
	if (!buf || !keys || entry_json_append_raw(b, "{", 1)) {
		rc = -ENOMEM;
		goto out;
	}
	while (p < end && !rc) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *ne = eq ? eq : e;

		if (e > p) { /* "a&&b" has an empty pair */
			kn = http_form_decode(p, (size_t)(ne - p), buf);
			s = entry_text_sanitize(buf, kn, false, &sn);
			if (!s) {
				rc = -ENOMEM;
				break;
			}
			if (!seen_key(keys, (const uint32_t (*)[2])r, count, s, sn)) {
				memcpy(keys + klen, s, sn);
				r[count][0] = (uint32_t)klen;
				r[count][1] = (uint32_t)sn;
				klen += sn;
				count++;
				vn = eq ? http_form_decode(eq + 1, (size_t)(e - eq - 1), buf) : 0;
				rc = entry_json_append_key(b, s, sn, first) ||
				     entry_json_append_text(b, buf, vn, true);
				first = false;
			}
			free(s);
		}
		p = amp ? amp + 1 : end;
	}
	if (!rc)
		rc = entry_json_append_raw(b, "}", 1);
out:
	free(buf);
	free(keys);
	return rc ? -ENOMEM : 0;
}

/* Is the body written as "text" (valid UTF-8 without NUL, as http_body_to_json() has it)? */
static bool body_is_text(const struct h1_head *h)
{
	return entry_utf8_prefix(h->body ? h->body : (const uint8_t *)"", h->body_len, false) ==
	       h->body_len;
}

static int put_body(const struct h1_head *h, struct entry_json_buf *b)
{
	size_t at_key;
	int rc;

	const uint8_t *p = h->body ? h->body : (const uint8_t *)"";

	if (h->body_json)
		return entry_json_append(b, h->body_json);
	if (entry_json_append_raw(b, "{\"size\":", 8) ||
	    entry_json_append_int(b, h->body_size > (uint64_t)INT64_MAX ? INT64_MAX
									 : (long long)h->body_size) ||
	    entry_json_append_raw(b, h->body_truncated ? ",\"truncated\":true" : ",\"truncated\":false",
				  h->body_truncated ? 17 : 18))
		return -ENOMEM;
	/* Most bodies are ASCII: checked while they are written (one pass over the bytes); any
	 * other goes back to the key and is checked whole. */
	at_key = b->len;
	if (put_key(b, "text", false))
		return -ENOMEM;
	rc = entry_json_append_ascii(b, (const char *)p, h->body_len);
	if (rc < 0)
		return -ENOMEM;
	if (rc) {
		b->len = at_key;
		if (body_is_text(h) ? put_key(b, "text", false) ||
					  entry_json_append_string(b, (const char *)p, h->body_len)
				    : put_key(b, "base64", false) ||
					  entry_json_append_base64(b, p, h->body_len))
			return -ENOMEM;
	}
	if (h->gap_bytes && (put_key(b, "gap_bytes", false) ||
			     entry_json_append_int(b, h->gap_bytes > (uint64_t)INT64_MAX
							   ? INT64_MAX : (long long)h->gap_bytes)))
		return -ENOMEM;
	return entry_json_append_raw(b, "}", 1);
}

/* A pseudo-header field's member, when it came. */
static int put_ps(const struct h1_head *h, enum h1_pseudo w, const char *k,
		  struct entry_json_buf *b, bool *first)
{
	if (!has_ps(h, w))
		return 0;
	if (put_key(b, k, *first) || entry_json_append_string(b, at(h, h->ps[w]), h->ps_len[w]))
		return -ENOMEM;
	*first = false;
	return 0;
}

/* The url's members (http_url_split's). */
static int put_url(const struct h1_head *h, struct entry_json_buf *b, bool first)
{
	const uint8_t *line = (const uint8_t *)at(h, h->line);

	/* Nearly every target is plain: then so are its path and query, written as they are
	 * (one check instead of three UTF-8 checks and escapes). */
	if (entry_json_plain((const char *)line, h->line_len))
		return put_key(b, "url", first) ||
		       entry_json_append_plain(b, (const char *)line, h->line_len) ||
		       put_key(b, "path", false) ||
		       (h->pre && h->pe == h->pre
			    ? entry_json_append_plain(b, "/", 1)
			    : entry_json_append_plain(b, (const char *)line + h->pre, h->pe - h->pre)) ||
		       put_key(b, "query", false) ||
		       entry_json_append_plain(b, (const char *)line + h->qs, h->qe - h->qs) ||
		       put_key(b, "query_params", false) ||
		       put_params((const char *)line + h->qs, h->qe - h->qs, b);
	return put_key(b, "url", first) || entry_json_append_text(b, line, h->line_len, true) ||
	       put_key(b, "path", false) ||
	       (h->pre && h->pe == h->pre
		    ? entry_json_append_string(b, "/", 1)
		    : entry_json_append_text(b, line + h->pre, h->pe - h->pre, true)) ||
	       put_key(b, "query", false) ||
	       entry_json_append_text(b, line + h->qs, h->qe - h->qs, true) ||
	       put_key(b, "query_params", false) ||
	       put_params((const char *)line + h->qs, h->qe - h->qs, b);
}

/* An HTTP/2 head's members before "version". */
static int put_h2_start(const struct h1_head *h, struct entry_json_buf *b)
{
	bool first = true;

	if (!h->request) {
		if (h->no_status)
			return 0;
		return put_key(b, "status", true) || entry_json_append_int(b, h->status) ||
		       put_key(b, "status_text", false) ||
		       entry_json_append_string(b, at(h, h->line), h->line_len) ||
		       entry_json_append_raw(b, ",", 1);
	}
	if (put_ps(h, H1_PS_METHOD, "method", b, &first) || (!h->no_url && put_url(h, b, first)))
		return -ENOMEM;
	first = first && h->no_url;
	if (put_ps(h, H1_PS_AUTHORITY, "authority", b, &first) ||
	    put_ps(h, H1_PS_SCHEME, "scheme", b, &first) ||
	    put_ps(h, H1_PS_PROTOCOL, "protocol", b, &first))
		return -ENOMEM;
	return first ? 0 : entry_json_append_raw(b, ",", 1);
}

/* What an HTTP/2 head could not decode whole: its last members. */
static int put_h2_end(const struct h1_head *h, struct entry_json_buf *b)
{
	return (h->hdr_truncated && entry_json_append_raw(b, ",\"headers_truncated\":true", 25)) ||
	       (h->hdr_partial && entry_json_append_raw(b, ",\"headers_partial\":true", 23)) ||
	       (h->unknown &&
		(put_key(b, "unknown_headers", false) || entry_json_append(b, h->unknown)));
}

int h1_head_write(const struct h1_head *h, struct entry_json_buf *b)
{
	const uint8_t *line = (const uint8_t *)at(h, h->line);
	size_t start = b->len;
	int rc;

	if (entry_json_append_raw(b, "{", 1))
		return -ENOMEM;
	if (h->h2) {
		/* "version" follows a comma put_h2_start wrote, or nothing */
		rc = put_h2_start(h, b) || entry_json_append_raw(b, "\"version\":", 10) ||
		     entry_json_append_string(b, h->version, strlen(h->version));
	} else if (h->request) {
		size_t mlen = strlen(h->method);

		/* http_parser's method names are plain tokens; checked all the same (a library's
		 * text), the check being cheaper than the escaper */
		rc = put_key(b, "method", true) ||
		     (entry_json_plain(h->method, mlen)
			  ? entry_json_append_plain(b, h->method, mlen)
			  : entry_json_append_string(b, h->method, mlen)) ||
		     put_url(h, b, false);
	} else {
		rc = put_key(b, "status", true) || entry_json_append_int(b, h->status) ||
		     put_key(b, "status_text", false) ||
		     (entry_json_plain((const char *)line, h->line_len)
			  ? entry_json_append_plain(b, (const char *)line, h->line_len)
			  : entry_json_append_text(b, line, h->line_len, false));
	}
	/* the version is floe's own digits and '.' (version_text()) */
	if (!h->h2)
		rc = rc || put_key(b, "version", false) ||
		     entry_json_append_plain(b, h->version, strlen(h->version));
	rc = rc || put_key(b, "headers", false) || put_fields(h, &h->hdrs, b) ||
	     (h->cookies && (put_key(b, "cookies", false) || entry_json_append(b, h->cookies))) ||
	     (h->has_ct && (put_key(b, "content_type", false) ||
			    (h->ct_plain ? entry_json_append_plain(b, at(h, h->ct), h->ct_len)
					 : entry_json_append_string(b, at(h, h->ct), h->ct_len)))) ||
	     (h->has_body && (put_key(b, "body", false) || put_body(h, b))) ||
	     ((h->trls.n || h->trls_seen) &&
	      (put_key(b, "trailers", false) || put_fields(h, &h->trls, b))) ||
	     (h->h2 && put_h2_end(h, b)) || entry_json_append_raw(b, "}", 1);
	if (rc) {
		b->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* An object of the fields' names and (joined) values. */
static json_t *fields_tree(const struct h1_head *h, const struct h1_list *l)
{
	json_t *o = json_object();

	for (uint32_t i = 0; o && i < l->n; i++) {
		const struct h1_field *f = &l->v[i];

		if (!f->dup && json_object_set_new_nocheck(o, at(h, f->name),
							   json_stringn_nocheck(at(h, f->val), f->vlen))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* The body object, as put_body() writes it. */
static json_t *body_tree(const struct h1_head *h)
{
	struct http_body view;
	json_t *b;

	if (h->body_json)
		return json_incref(h->body_json);
	http_body_init(&view, h->body_len);
	view.buf = h->body;
	view.len = h->body_len;
	view.size = h->body_size;
	b = http_body_to_json(&view, NULL);
	if (b && h->gap_bytes)
		json_object_set_new_nocheck(b, "gap_bytes", json_integer(h->gap_bytes > (uint64_t)INT64_MAX
									 ? INT64_MAX : (json_int_t)h->gap_bytes));
	if (b && h->body_truncated)
		json_object_set_new_nocheck(b, "truncated", json_true());
	return b;
}

/*
 * The tree of the head, built directly (as the writer writes it: test_http1_fields and
 * fuzz_http1_fields hold both to the former tree): reading the written text back with
 * jansson's parser cost ten times more, and a filter builds the tree of every entry.
 */
json_t *h1_head_tree(const struct h1_head *h)
{
	static const char *const ps_keys[H1_PS_N] = {"method", "",	   "authority",
						     "scheme", "protocol", ""};
	json_t *o = json_object();
	int rc = !o;

	if (h->h2 && h->request && !rc) {
		/* method, the url's members, authority, scheme, protocol: as put_h2_start() */
		for (int w = H1_PS_METHOD; w <= H1_PS_PROTOCOL && !rc; w++) {
			if (w == H1_PS_PATH)
				rc = !h->no_url && http_url_split(o, at(h, h->line), h->line_len);
			else if (has_ps(h, w))
				rc = json_object_set_new_nocheck(
				    o, ps_keys[w],
				    json_stringn_nocheck(at(h, h->ps[w]), h->ps_len[w]));
		}
	} else if (h->request && !rc) {
		rc = json_object_set_new_nocheck(o, "method", json_string_nocheck(h->method)) ||
		     http_url_split(o, at(h, h->line), h->line_len);
	} else if (!rc && !h->no_status) {
		rc = json_object_set_new_nocheck(o, "status", json_integer(h->status)) ||
		     entry_set_text(o, "status_text", (const uint8_t *)at(h, h->line), h->line_len);
	}
	rc = rc || json_object_set_new_nocheck(o, "version", json_string_nocheck(h->version)) ||
	     json_object_set_new_nocheck(o, "headers", fields_tree(h, &h->hdrs)) ||
	     (h->cookies && json_object_set_nocheck(o, "cookies", h->cookies)) ||
	     (h->has_ct && json_object_set_new_nocheck(
			       o, "content_type", json_stringn_nocheck(at(h, h->ct), h->ct_len))) ||
	     (h->has_body && json_object_set_new_nocheck(o, "body", body_tree(h))) ||
	     ((h->trls.n || h->trls_seen) &&
	      json_object_set_new_nocheck(o, "trailers", fields_tree(h, &h->trls))) ||
	     (h->hdr_truncated &&
	      json_object_set_new_nocheck(o, "headers_truncated", json_true())) ||
	     (h->hdr_partial && json_object_set_new_nocheck(o, "headers_partial", json_true())) ||
	     (h->unknown && json_object_set_nocheck(o, "unknown_headers", h->unknown));
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- an entry's compact part: its "request" and "response" ---- */

struct h1_compact {
	struct h1_head *half[2]; /* request, response */
	uint8_t order[2];        /* which was set first */
	uint8_t n;
};

static int compact_write(const void *vc, struct entry_json_buf *b, bool first)
{
	const struct h1_compact *c = vc;

	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t w = c->order[i];

		if (put_key(b, w ? "response" : "request", first && !i) ||
		    h1_head_write(c->half[w], b))
			return -ENOMEM;
	}
	return 0;
}

/* Is there a query parameter whose decoded name is key? */
static bool has_param(const struct h1_head *h, const char *key)
{
	const char *q = at(h, h->line) + h->qs, *end = at(h, h->line) + h->qe, *p = q;
	size_t kl = strlen(key);
	uint8_t small[3 * 64];

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *ne = eq ? eq : e;

		/* A decoded name is at most as long as its text, at least a third of it. */
		if ((size_t)(ne - p) >= kl && (size_t)(ne - p) <= 3 * kl && kl <= 64 &&
		    http_form_decode(p, (size_t)(ne - p), small) == kl && !memcmp(small, key, kl))
			return true;
		p = amp ? amp + 1 : end;
	}
	return false;
}

/* A string of the head as the writer writes it with entry_json_append_text(): as it is when
 * valid UTF-8 (then the tree's string is the same bytes), else OTHER (the tree's). p..p+n is
 * copied to out's room unless it ends with a NUL already. */
static void get_text(const char *p, size_t n, bool allow_nul, bool terminated,
		     struct entry_value *out)
{
	out->type = ENTRY_VALUE_OTHER;
	if (entry_utf8_prefix((const uint8_t *)p, n, allow_nul) != n)
		return;
	if (!terminated) {
		if (!out->tmp || n >= out->tmp_size)
			return;
		memcpy(out->tmp, p, n);
		out->tmp[n] = 0;
		p = out->tmp;
	}
	out->type = ENTRY_VALUE_STRING;
	out->s = p;
	out->len = n;
}

/* A header or trailer field by its (lower-case) name: its value, joined when repeated. */
static void get_field(const struct h1_head *h, const struct h1_list *l, const char *name,
		      struct entry_value *out)
{
	size_t n = strlen(name);
	int32_t i = find_first(h, l, name, n);

	out->type = ENTRY_VALUE_ABSENT;
	if (i < 0)
		return;
	if (l->v[i].next >= 0 && !l->v[i].joined) {
		out->type = ENTRY_VALUE_OTHER; /* not joined yet: the tree joins it */
		return;
	}
	out->type = ENTRY_VALUE_STRING;
	out->s = at(h, l->v[i].val);
	out->len = l->v[i].vlen;
}

/* A member of "body" (path[2]), as put_body() writes it. */
static void get_body(const struct h1_head *h, const char *k, struct entry_value *out)
{
	out->type = ENTRY_VALUE_ABSENT;
	if (!strcmp(k, "size")) {
		out->type = ENTRY_VALUE_INT;
		out->i = h->body_size > (uint64_t)INT64_MAX ? INT64_MAX : (long long)h->body_size;
	} else if (!strcmp(k, "truncated")) {
		out->type = ENTRY_VALUE_BOOL;
		out->i = h->body_truncated;
	} else if (!strcmp(k, "gap_bytes") && h->gap_bytes) {
		out->type = ENTRY_VALUE_INT;
		out->i = h->gap_bytes > (uint64_t)INT64_MAX ? INT64_MAX : (long long)h->gap_bytes;
	} else if (!strcmp(k, "text") && body_is_text(h)) {
		/* the bytes are not a C string: the tree's, unless there are none */
		out->type = ENTRY_VALUE_OTHER;
		if (!h->body_len) {
			out->type = ENTRY_VALUE_STRING;
			out->s = "";
			out->len = 0;
		}
	} else if (!strcmp(k, "base64") && !body_is_text(h)) {
		out->type = ENTRY_VALUE_OTHER;
	}
}

/* The members a head may have. */
enum mkey {
	M_NONE,
	M_HEADERS,
	M_TRAILERS,
	M_BODY,
	M_QUERY_PARAMS,
	M_COOKIES,
	M_UNKNOWN,
	M_HTRUNC,
	M_HPARTIAL,
	M_METHOD,
	M_AUTHORITY,
	M_SCHEME,
	M_PROTOCOL,
	M_URL,
	M_PATH,
	M_QUERY,
	M_VERSION,
	M_CT,
	M_STATUS,
	M_STATUS_TEXT,
};

/* k's member: its first byte picks the few names to compare (a chain of strcmp() was a
 * tenth of `floe read`'s text mode on HTTP/2, which asks four members per entry). */
static enum mkey member_key(const char *k)
{
	static const struct {
		const char *name;
		enum mkey key;
	} keys[] = {
	    {"authority", M_AUTHORITY},
	    {"body", M_BODY},
	    {"content_type", M_CT},
	    {"cookies", M_COOKIES},
	    {"headers", M_HEADERS},
	    {"headers_partial", M_HPARTIAL},
	    {"headers_truncated", M_HTRUNC},
	    {"method", M_METHOD},
	    {"path", M_PATH},
	    {"protocol", M_PROTOCOL},
	    {"query", M_QUERY},
	    {"query_params", M_QUERY_PARAMS},
	    {"scheme", M_SCHEME},
	    {"status", M_STATUS},
	    {"status_text", M_STATUS_TEXT},
	    {"trailers", M_TRAILERS},
	    {"unknown_headers", M_UNKNOWN},
	    {"url", M_URL},
	    {"version", M_VERSION},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].name[0] == k[0] && !strcmp(keys[i].name + 1, k + 1))
			return keys[i].key;
	return M_NONE;
}

static void put_str(struct entry_value *out, const char *s, size_t len)
{
	out->type = ENTRY_VALUE_STRING;
	out->s = s;
	out->len = len;
}

/* A scalar member (depth 2) as h1_head_write() writes it. */
static void get_scalar(const struct h1_head *h, enum mkey m, struct entry_value *out)
{
	const char *line = at(h, h->line);

	switch (m) {
	case M_HTRUNC:
	case M_HPARTIAL:
		if (m == M_HTRUNC ? h->hdr_truncated : h->hdr_partial) {
			out->type = ENTRY_VALUE_BOOL;
			out->i = 1;
		}
		break;
	case M_METHOD:
		if (h->request && !h->h2)
			put_str(out, h->method, strlen(h->method));
		else if (h->request && has_ps(h, H1_PS_METHOD))
			put_str(out, at(h, h->ps[H1_PS_METHOD]), h->ps_len[H1_PS_METHOD]);
		break;
	case M_AUTHORITY:
	case M_SCHEME:
	case M_PROTOCOL: {
		/* valid UTF-8 without NUL, followed by one */
		enum h1_pseudo w = m == M_AUTHORITY ? H1_PS_AUTHORITY
				   : m == M_SCHEME  ? H1_PS_SCHEME
						    : H1_PS_PROTOCOL;

		if (h->h2 && h->request && has_ps(h, w))
			put_str(out, at(h, h->ps[w]), h->ps_len[w]);
		break;
	}
	case M_URL:
		if (h->request && !h->no_url)
			get_text(line, h->line_len, true, true, out);
		break;
	case M_PATH:
		if (!h->request || h->no_url)
			break;
		if (h->pre && h->pe == h->pre)
			put_str(out, "/", 1);
		else
			get_text(line + h->pre, h->pe - h->pre, true, h->pe == h->line_len, out);
		break;
	case M_QUERY:
		if (h->request && !h->no_url)
			get_text(line + h->qs, h->qe - h->qs, true, h->qe == h->line_len, out);
		break;
	case M_VERSION:
		put_str(out, h->version, strlen(h->version));
		break;
	case M_CT:
		if (h->has_ct)
			put_str(out, at(h, h->ct), h->ct_len);
		break;
	case M_STATUS:
		if (!h->request && !h->no_status) {
			out->type = ENTRY_VALUE_INT;
			out->i = h->status;
		}
		break;
	case M_STATUS_TEXT:
		if (!h->request && !h->no_status)
			get_text(line, h->line_len, false, true, out);
		break;
	default:
		break;
	}
}

/* The value at path (path[0] is h's "request" or "response") as h1_head_write() writes it:
 * what it cannot give as the tree has it is ENTRY_VALUE_OTHER. */
static void get_member(const struct h1_head *h, const char *const *path, size_t depth,
		       struct entry_value *out)
{
	enum mkey m;

	out->type = ENTRY_VALUE_OBJECT;
	if (depth == 1)
		return;
	m = member_key(path[1]);
	out->type = ENTRY_VALUE_ABSENT; /* what h1_head_write() never writes, or a scalar's member */
	switch (m) {
	case M_HEADERS:
	case M_TRAILERS: {
		const struct h1_list *l = m == M_HEADERS ? &h->hdrs : &h->trls;

		if (l == &h->trls && !l->n && !h->trls_seen)
			return;
		if (depth == 2)
			out->type = ENTRY_VALUE_OBJECT;
		else if (depth == 3)
			get_field(h, l, path[2], out);
		return;
	}
	case M_BODY:
		if (!h->has_body)
			return;
		if (h->body_json)
			out->type = ENTRY_VALUE_OTHER; /* decoded: the tree's */
		else if (depth == 2)
			out->type = ENTRY_VALUE_OBJECT;
		else if (depth == 3)
			get_body(h, path[2], out);
		return;
	case M_QUERY_PARAMS:
		if (!h->request || h->no_url)
			return;
		/* a name that is not there is known without decoding them all */
		out->type = depth == 2 ? ENTRY_VALUE_OBJECT : ENTRY_VALUE_OTHER;
		if (depth == 3 && !has_param(h, path[2]))
			out->type = ENTRY_VALUE_ABSENT;
		return;
	case M_COOKIES:
		if (h->cookies)
			out->type = ENTRY_VALUE_OTHER;
		return;
	case M_UNKNOWN:
		if (h->unknown)
			out->type = ENTRY_VALUE_OTHER;
		return;
	default:
		if (depth == 2) /* else a scalar's member: none */
			get_scalar(h, m, out);
	}
}

static int compact_tree(const void *vc, json_t *obj)
{
	const struct h1_compact *c = vc;

	for (uint8_t i = 0; i < c->n; i++) {
		uint8_t w = c->order[i];

		if (json_object_set_new_nocheck(obj, w ? "response" : "request",
						h1_head_tree(c->half[w])))
			return -ENOMEM;
	}
	return 0;
}

static bool compact_get(const void *vc, const char *const *path, size_t depth,
			struct entry_value *out)
{
	const struct h1_compact *c = vc;
	int w;

	if (!strcmp(path[0], "request"))
		w = 0;
	else if (!strcmp(path[0], "response"))
		w = 1;
	else
		return false;
	if (!c->half[w])
		return false; /* not here: maybe in the tree */
	get_member(c->half[w], path, depth, out);
	return true;
}

static void compact_free(void *vc)
{
	struct h1_compact *c = vc;

	h1_head_free(c->half[0]);
	h1_head_free(c->half[1]);
	free(c);
}

static const struct entry_compact_ops h1_compact_ops = {
	.write_json = compact_write,
	.to_tree = compact_tree,
	.get = compact_get,
	.free = compact_free,
};

int h1_entry_set(struct entry *e, bool response, struct h1_head *h)
{
	struct h1_compact *c = e->compact_ops == &h1_compact_ops ? e->compact : NULL;
	int w = response ? 1 : 0;
	bool tree_empty = !json_object_size(e->fields);
	json_t *j;

	/* Compact while nothing was set in the tree (its members would come first). */
	if (!c && !e->compact && tree_empty) {
		c = calloc(1, sizeof(*c));
		if (c)
			entry_set_compact(e, &h1_compact_ops, c);
	}
	if (c && tree_empty) {
		if (c->half[w]) {
			/* Set again (never, today): the tree's set replaced it in place. */
			h1_head_free(c->half[w]);
		} else {
			c->order[c->n++] = (uint8_t)w;
		}
		c->half[w] = h;
		return 0;
	}
	j = h1_head_tree(h);
	h1_head_free(h);
	if (!j || json_object_set_new_nocheck(entry_fields(e), response ? "response" : "request", j))
		return -ENOMEM;
	return 0;
}

bool h1_entry_has(const struct entry *e, const char *key)
{
	const struct h1_compact *c = e->compact_ops == &h1_compact_ops ? e->compact : NULL;
	struct entry_value v;

	/* A half in the compact part (nearly always): there, without the general lookup. */
	if (c && ((key[0] == 'r' && !strcmp(key, "request") && c->half[0]) ||
		  (key[0] == 'r' && !strcmp(key, "response") && c->half[1])))
		return true;

	entry_field_get(e, (const char *[]){key}, 1, &v);
	return v.type != ENTRY_VALUE_ABSENT;
}
