// SPDX-License-Identifier: Apache-2.0
#include "api/entry_proto.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "entry/entry.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * The message tree of one conversion lives in an arena, reset for the next one: an entry is
 * hundreds of small Value nodes, and one malloc each was most of the cost (and freeing them,
 * on a server's worker thread, trimmed the thread's heap with madvise() every entry). Strings
 * are not copied: they point into the jansson tree, which outlives the packing.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct proto_arena {
	struct arena_chunk *first, *cur;
	size_t total; /* bytes of all chunks */
};

/* An arena keeps at most this much between conversions (one huge entry does not pin it). */
#define ARENA_KEEP (1u << 20)

static void *arena_alloc(struct proto_arena *a, size_t n)
{
	size_t align = sizeof(max_align_t);
	struct arena_chunk *c;

	n = (n + align - 1) / align * align;
	while (a->cur && a->cur->cap - a->cur->used < n && a->cur->next && a->cur->next->cap >= n) {
		a->cur = a->cur->next;
		a->cur->used = 0;
	}
	c = a->cur;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 16384 ? n : 16384;

		if (!(c = malloc(sizeof(*c) + cap)))
			return NULL;
		c->used = 0;
		c->cap = cap;
		a->total += cap;
		if (a->cur) { /* after the current one: the chunks after it are still free */
			c->next = a->cur->next;
			a->cur->next = c;
		} else {
			c->next = NULL;
			a->first = c;
		}
		a->cur = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static void arena_release(struct proto_arena *a)
{
	while (a->first) {
		struct arena_chunk *c = a->first;

		a->first = c->next;
		free(c);
	}
	a->cur = NULL;
	a->total = 0;
}

/* Everything allocated is free again. */
static void arena_reset(struct proto_arena *a)
{
	if (a->total > ARENA_KEEP)
		arena_release(a);
	a->cur = a->first;
	if (a->cur)
		a->cur->used = 0;
}

static Floe__V1__Value *value_from_json(struct proto_arena *a, const json_t *j, int depth)
{
	Floe__V1__Value *v;

	if (depth > ENTRY_PROTO_MAX_DEPTH || !(v = arena_alloc(a, sizeof(*v))))
		return NULL;
	floe__v1__value__init(v);
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		Floe__V1__ValueMap *m = arena_alloc(a, sizeof(*m));
		size_t i = 0, n = json_object_size(j), klen;
		const char *k;
		json_t *x;

		if (!m)
			return NULL;
		floe__v1__value_map__init(m);
		if (n && !(m->fields = arena_alloc(a, n * sizeof(*m->fields))))
			return NULL;
		/* jansson 2.14 (Debian 12): key lengths, so keys holding U+0000 would survive. */
		json_object_keylen_foreach((json_t *)j, k, klen, x)
		{
			Floe__V1__ValueField *f = arena_alloc(a, sizeof(*f));

			if (!f || i >= n)
				return NULL;
			floe__v1__value_field__init(f);
			f->key.data = (uint8_t *)k;
			f->key.len = klen;
			if (!(f->value = value_from_json(a, x, depth + 1)))
				return NULL;
			m->fields[i++] = f;
		}
		m->n_fields = i;
		v->kind_case = FLOE__V1__VALUE__KIND_MAP_VALUE;
		v->map_value = m;
		break;
	}
	case JSON_ARRAY: {
		Floe__V1__ValueList *l = arena_alloc(a, sizeof(*l));
		size_t i, n = json_array_size(j);

		if (!l)
			return NULL;
		floe__v1__value_list__init(l);
		if (n && !(l->values = arena_alloc(a, n * sizeof(*l->values))))
			return NULL;
		for (i = 0; i < n; i++)
			if (!(l->values[i] = value_from_json(a, json_array_get(j, i), depth + 1)))
				return NULL;
		l->n_values = n;
		v->kind_case = FLOE__V1__VALUE__KIND_LIST_VALUE;
		v->list_value = l;
		break;
	}
	case JSON_STRING:
		v->kind_case = FLOE__V1__VALUE__KIND_STRING_VALUE;
		v->string_value.data = (uint8_t *)json_string_value(j);
		v->string_value.len = json_string_length(j);
		break;
	case JSON_INTEGER:
		v->kind_case = FLOE__V1__VALUE__KIND_INT_VALUE;
		v->int_value = json_integer_value(j);
		break;
	case JSON_REAL:
		v->kind_case = FLOE__V1__VALUE__KIND_DOUBLE_VALUE;
		v->double_value = json_real_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v->kind_case = FLOE__V1__VALUE__KIND_BOOL_VALUE;
		v->bool_value = json_is_true(j);
		break;
	case JSON_NULL:
		v->kind_case = FLOE__V1__VALUE__KIND_NULL_VALUE;
		v->null_value = 1;
		break;
	}
	return v;
}

static int pack_into(const ProtobufCMessage *m, struct entry_proto_packer *pk)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	if (n > pk->cap || !pk->out) {
		uint8_t *p = realloc(pk->out, n ? n : 1);

		if (!p)
			return -ENOMEM;
		pk->out = p;
		pk->cap = n ? n : 1;
	}
	pk->len = protobuf_c_message_pack(m, pk->out);
	return 0;
}

/* The packer's arena, made on first use and emptied for this conversion. */
static struct proto_arena *packer_arena(struct entry_proto_packer *pk)
{
	if (!pk->arena && !(pk->arena = calloc(1, sizeof(*pk->arena))))
		return NULL;
	arena_reset(pk->arena);
	return pk->arena;
}

void entry_proto_packer_free(struct entry_proto_packer *pk)
{
	if (pk->arena) {
		arena_release(pk->arena);
		free(pk->arena);
	}
	free(pk->out);
	memset(pk, 0, sizeof(*pk));
}

/* jansson's reading of one JSON text: U+0000 allowed in strings (floe keeps it in bodies). */
static json_t *load(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);

	if (!j)
		fail(err, errlen, 0, "not JSON: %s at %d", je.text, je.position);
	return j;
}

static char *str_at(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return (char *)(s ? s : protobuf_c_empty_string);
}

static void endpoint_from(Floe__V1__Endpoint *ep, const json_t *o)
{
	json_int_t port = json_integer_value(json_object_get(o, "port"));

	floe__v1__endpoint__init(ep);
	ep->ip = str_at(o, "ip");
	ep->port = port > 0 && port <= 65535 ? (uint32_t)port : 0;
	ep->pod = str_at(o, "pod");
	ep->namespace_ = str_at(o, "namespace");
	ep->node = str_at(o, "node");
}

/*
 * The envelope's status: the first of these an entry has (HTTP's and gRPC's both set on a gRPC
 * entry: gRPC's says more). Numbers as their decimal text.
 */
static void status_from(const json_t *j, char buf[32], char **out)
{
	static const char *const paths[][2] = {
	    {"grpc", "status_name"},	{"response", "status"},	    {"response", "rcode"},
	    {"response", "error_name"}, {"response", "error_code"},
	};
	size_t i;

	*out = (char *)protobuf_c_empty_string;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		json_t *v = json_object_get(json_object_get(j, paths[i][0]), paths[i][1]);

		if (json_is_string(v)) {
			*out = (char *)json_string_value(v);
			return;
		}
		if (json_is_integer(v)) {
			snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
			*out = buf;
			return;
		}
	}
}

int entry_proto_pack(struct entry_proto_packer *pk, const struct agent_entry *e, char *err,
		     size_t errlen)
{
	Floe__V1__Entry m = FLOE__V1__ENTRY__INIT;
	Floe__V1__Endpoint src, dst;
	struct proto_arena *a = packer_arena(pk);
	char status[32];
	json_t *j, *el;
	int rc;

	if (!a)
		return -ENOMEM;
	if (!(j = load(e->json, e->json_len, err, errlen)))
		return -EINVAL;
	if (!json_is_object(j)) {
		json_decref(j);
		return fail(err, errlen, -EINVAL, "entry %s: not a JSON object", e->id);
	}
	m.id = (char *)(e->id ? e->id : protobuf_c_empty_string);
	m.ts_ns = e->ts_ns;
	m.protocol = str_at(j, "protocol");
	endpoint_from(&src, json_object_get(j, "src"));
	endpoint_from(&dst, json_object_get(j, "dst"));
	m.src = &src;
	m.dst = &dst;
	el = json_object_get(j, "elapsed_ms");
	m.elapsed_ms = json_is_number(el) ? json_number_value(el) : 0;
	status_from(j, status, &m.status);
	m.entry = value_from_json(a, j, 0);
	if (!m.entry)
		rc = fail(err, errlen, -ENOMEM, "entry %s: out of memory or nested too deep", m.id);
	else
		rc = pack_into(&m.base, pk);
	json_decref(j);
	return rc;
}

int value_proto_pack_json(struct entry_proto_packer *pk, const char *json, size_t len, char *err,
			  size_t errlen)
{
	struct proto_arena *a = packer_arena(pk);
	Floe__V1__Value *v;
	json_t *j;
	int rc;

	if (!a)
		return -ENOMEM;
	if (!(j = load(json, len, err, errlen)))
		return -EINVAL;
	if (!(v = value_from_json(a, j, 0)))
		rc = fail(err, errlen, -ENOMEM, "out of memory or nested too deep");
	else
		rc = pack_into(&v->base, pk);
	json_decref(j);
	return rc;
}

/* ---- wire bytes: the nesting bound, checked without recursion ---- */

enum wire_msg { W_VALUE, W_LIST, W_MAP, W_FIELD, W_ENTRY, W_FOLLOW, W_STATS, W_BATCH, W_OPAQUE };

/* The message type of field number f of a message of type t, W_OPAQUE when not nested. */
static enum wire_msg wire_child(enum wire_msg t, uint64_t f)
{
	switch (t) {
	case W_VALUE:
		return f == 7 ? W_LIST : f == 8 ? W_MAP : W_OPAQUE;
	case W_LIST:
		return f == 1 ? W_VALUE : W_OPAQUE;
	case W_MAP:
		return f == 1 ? W_FIELD : W_OPAQUE;
	case W_FIELD:
		return f == 2 ? W_VALUE : W_OPAQUE;
	case W_ENTRY:
		return f == 8 ? W_VALUE : W_OPAQUE;
	case W_FOLLOW:
		return f == 1 ? W_ENTRY : W_OPAQUE;
	case W_STATS:
		return f == 1 ? W_VALUE : W_OPAQUE;
	case W_BATCH:
		return f == 1 ? W_ENTRY : W_OPAQUE;
	case W_OPAQUE:
		break;
	}
	return W_OPAQUE;
}

static int varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t c = b[(*pos)++];

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -EINVAL;
}

int proto_depth_check(enum proto_root root, const uint8_t *buf, size_t len)
{
	/* Per Value level at most three frames (Value, Map, Field), plus the roots. */
	struct {
		size_t end;
		enum wire_msg t;
	} st[3 * ENTRY_PROTO_MAX_DEPTH + 8];
	static const enum wire_msg roots[] = {W_VALUE, W_ENTRY, W_FOLLOW, W_STATS, W_BATCH};
	size_t pos = 0, sp = 0;
	int values = root == PROTO_ROOT_VALUE;

	st[0].end = len;
	st[0].t = roots[root];
	while (pos < len || sp) {
		uint64_t tag, n;
		enum wire_msg child;

		if (pos == st[sp].end) {
			values -= st[sp].t == W_VALUE;
			sp--;
			continue;
		}
		if (varint(buf, st[sp].end, &pos, &tag))
			return -EINVAL;
		switch (tag & 7) {
		case 0:
			if (varint(buf, st[sp].end, &pos, &n))
				return -EINVAL;
			break;
		case 1:
		case 5:
			n = (tag & 7) == 1 ? 8 : 4;
			if (st[sp].end - pos < n)
				return -EINVAL;
			pos += n;
			break;
		case 2:
			if (varint(buf, st[sp].end, &pos, &n) || st[sp].end - pos < n)
				return -EINVAL;
			child = wire_child(st[sp].t, tag >> 3);
			if (child == W_OPAQUE) {
				pos += n;
				break;
			}
			if (sp + 1 >= sizeof(st) / sizeof(st[0]) ||
			    (child == W_VALUE && ++values > ENTRY_PROTO_MAX_DEPTH + 1))
				return -EINVAL;
			sp++;
			st[sp].end = pos + n;
			st[sp].t = child;
			break;
		default: /* groups (3, 4) are not in this proto; 6, 7 do not exist */
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- Value -> JSON text ---- */

static int valid_text(const ProtobufCBinaryData *d)
{
	return !d->len || entry_utf8_prefix(d->data, d->len, true) == d->len;
}

static int to_json(const Floe__V1__Value *v, struct entry_json_buf *b, int depth, char *err,
		   size_t errlen)
{
	size_t i;
	int rc;

	if (!v)
		return fail(err, errlen, -EINVAL, "a value is missing");
	if (depth > ENTRY_PROTO_MAX_DEPTH)
		return fail(err, errlen, -EINVAL, "nested deeper than %d", ENTRY_PROTO_MAX_DEPTH);
	switch (v->kind_case) {
	case FLOE__V1__VALUE__KIND_NULL_VALUE:
		return entry_json_append_raw(b, "null", 4);
	case FLOE__V1__VALUE__KIND_BOOL_VALUE:
		return v->bool_value ? entry_json_append_raw(b, "true", 4)
				     : entry_json_append_raw(b, "false", 5);
	case FLOE__V1__VALUE__KIND_INT_VALUE:
		return entry_json_append_int(b, v->int_value);
	case FLOE__V1__VALUE__KIND_DOUBLE_VALUE:
		if (!isfinite(v->double_value))
			return fail(err, errlen, -EINVAL, "a real that JSON cannot hold");
		return entry_json_append_real(b, v->double_value);
	case FLOE__V1__VALUE__KIND_STRING_VALUE:
		if (!valid_text(&v->string_value))
			return fail(err, errlen, -EINVAL, "a string that is not UTF-8");
		return entry_json_append_string(b, (const char *)v->string_value.data,
						v->string_value.len);
	case FLOE__V1__VALUE__KIND_BYTES_VALUE: {
		json_t *s = entry_json_base64(v->bytes_value.data, v->bytes_value.len);

		if (!s)
			return -ENOMEM;
		rc = entry_json_append_string(b, json_string_value(s), json_string_length(s));
		json_decref(s);
		return rc;
	}
	case FLOE__V1__VALUE__KIND_LIST_VALUE:
		if (!v->list_value)
			return fail(err, errlen, -EINVAL, "a list is missing");
		if ((rc = entry_json_append_raw(b, "[", 1)))
			return rc;
		for (i = 0; i < v->list_value->n_values; i++)
			if ((i && (rc = entry_json_append_raw(b, ",", 1))) ||
			    (rc = to_json(v->list_value->values[i], b, depth + 1, err, errlen)))
				return rc;
		return entry_json_append_raw(b, "]", 1);
	case FLOE__V1__VALUE__KIND_MAP_VALUE:
		if (!v->map_value)
			return fail(err, errlen, -EINVAL, "an object is missing");
		if ((rc = entry_json_append_raw(b, "{", 1)))
			return rc;
		for (i = 0; i < v->map_value->n_fields; i++) {
			const Floe__V1__ValueField *f = v->map_value->fields[i];

			/* No U+0000 in keys: jansson (the hub, KFL) cannot hold one, and floe
			 * never makes one. */
			if (f->key.len &&
			    entry_utf8_prefix(f->key.data, f->key.len, false) != f->key.len)
				return fail(err, errlen, -EINVAL, "a key that is not UTF-8 text");
			if ((i && (rc = entry_json_append_raw(b, ",", 1))) ||
			    (rc = entry_json_append_string(b, (const char *)f->key.data,
							   f->key.len)) ||
			    (rc = entry_json_append_raw(b, ":", 1)) ||
			    (rc = to_json(f->value, b, depth + 1, err, errlen)))
				return rc;
		}
		return entry_json_append_raw(b, "}", 1);
	case FLOE__V1__VALUE__KIND__NOT_SET:
	default:
		break;
	}
	return fail(err, errlen, -EINVAL, "a value of no known kind (%d)", (int)v->kind_case);
}

int value_proto_to_json(const Floe__V1__Value *v, struct entry_json_buf *b, char *err,
			size_t errlen)
{
	size_t len = b->len;
	int rc = to_json(v, b, 0, err, errlen);

	if (rc) {
		if (rc == -ENOMEM)
			fail(err, errlen, 0, "out of memory");
		b->len = len;
	}
	return rc;
}

int entry_proto_to_agent_entry(const Floe__V1__Entry *m, struct entry_json_buf *b,
			       struct agent_entry *e, char *err, size_t errlen)
{
	size_t start = b->len;
	int rc;

	if (!m->id || !m->id[0])
		return fail(err, errlen, -EINVAL, "an entry without an id");
	if (entry_utf8_prefix((const uint8_t *)m->id, strlen(m->id), false) != strlen(m->id))
		return fail(err, errlen, -EINVAL, "an entry id that is not UTF-8");
	if (!m->entry || m->entry->kind_case != FLOE__V1__VALUE__KIND_MAP_VALUE)
		return fail(err, errlen, -EINVAL, "entry %.64s: its value is not an object", m->id);
	if ((rc = value_proto_to_json(m->entry, b, err, errlen)))
		return rc;
	e->id = m->id;
	e->ts_ns = m->ts_ns;
	e->json = b->p + start;
	e->json_len = b->len - start;
	e->tree = NULL;
	return 0;
}

int entry_proto_unpack(const uint8_t *buf, size_t len, Floe__V1__Entry **m,
		       struct entry_json_buf *b, struct agent_entry *e, char *err, size_t errlen)
{
	int rc;

	*m = NULL;
	if (proto_depth_check(PROTO_ROOT_ENTRY, buf, len))
		return fail(err, errlen, -EINVAL, "not an Entry message, or nested too deep");
	if (!(*m = floe__v1__entry__unpack(NULL, len, buf)))
		return fail(err, errlen, -EINVAL, "not an Entry message");
	if ((rc = entry_proto_to_agent_entry(*m, b, e, err, errlen))) {
		floe__v1__entry__free_unpacked(*m, NULL);
		*m = NULL;
	}
	return rc;
}
