// SPDX-License-Identifier: Apache-2.0
/*
 * Matching a compiled query against an entry seen through a struct kfl_accessor (kfl.h), and
 * the accessor over json_t. Comparisons follow the value's kind: numbers with numbers, times
 * with times (both sides RFC 3339), else text; an absent field or null is unequal to
 * everything (so only != holds for it).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kfl/kfl.h"
#include "kfl/kfl_ast.h"

struct ev {
	const struct kfl_accessor *acc;
	void *entry;
	struct kfl_value root;
};

static const struct kfl_value absent = {.type = KFL_ABSENT};

static bool truthy(const struct kfl_value *v)
{
	switch (v->type) {
	case KFL_OBJECT:
	case KFL_ARRAY:
		return true;
	case KFL_BOOL:
		return v->u.b;
	case KFL_STRING:
		return v->u.str.len > 0;
	case KFL_INT:
		return v->u.i != 0;
	case KFL_REAL:
		return v->u.r != 0;
	default:
		return false;
	}
}

static bool is_text_op(enum kfl_op op)
{
	return op == OP_CONTAINS || op == OP_REGEX || op == OP_PREFIX || op == OP_SUFFIX;
}

/* c < 0, 0, > 0 as op wants it. */
static bool ordered(int c, enum kfl_op op)
{
	switch (op) {
	case OP_EQ:
		return c == 0;
	case OP_NE:
		return c != 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	case OP_GE:
		return c >= 0;
	default:
		return false;
	}
}

/* A scalar as text (numbers as the old filter printed them), or NULL for containers. */
static const char *as_text(const struct kfl_value *v, char *buf, size_t size, size_t *len)
{
	switch (v->type) {
	case KFL_STRING:
		*len = v->u.str.len;
		return v->u.str.s;
	case KFL_INT:
		*len = (size_t)snprintf(buf, size, "%lld", (long long)v->u.i);
		return buf;
	case KFL_REAL:
		*len = (size_t)snprintf(buf, size, "%g", v->u.r);
		return buf;
	case KFL_BOOL:
		*len = v->u.b ? 4 : 5;
		return v->u.b ? "true" : "false";
	default:
		return NULL;
	}
}

static bool compare(const struct kfl_node *n, const struct kfl_lit *l, enum kfl_op op,
		    const struct kfl_value *v)
{
	char buf[64];
	const char *s;
	size_t len, ll;

	if (v->type == KFL_ABSENT || v->type == KFL_NULL)
		return op == OP_NE;
	if ((v->type == KFL_INT || v->type == KFL_REAL) && l->is_num && !is_text_op(op)) {
		double d = v->type == KFL_INT ? (double)v->u.i : v->u.r;

		return ordered((d > l->num) - (d < l->num), op);
	}
	if (l->is_time && v->type == KFL_STRING && !is_text_op(op)) {
		int64_t t;

		if (kfl_lit_rfc3339(v->u.str.s, v->u.str.len, &t))
			return ordered((t > l->ns) - (t < l->ns), op);
	}
	s = as_text(v, buf, sizeof(buf), &len);
	if (!s)
		return op == OP_NE;
	switch (op) {
	case OP_CONTAINS:
		return strstr(s, l->text) != NULL;
	case OP_REGEX:
		return regexec(&n->re, s, 0, NULL, 0) == 0;
	case OP_PREFIX:
		return !strncmp(s, l->text, strlen(l->text));
	case OP_SUFFIX:
		ll = strlen(l->text);
		return len >= ll && !memcmp(s + len - ll, l->text, ll);
	default:
		return ordered(strcmp(s, l->text), op);
	}
}

/* What a path node asks of the value its path led to. */
static bool leaf(const struct kfl_node *n, const struct kfl_value *v)
{
	switch (n->kind) {
	case K_TRUTHY:
		return truthy(v);
	case K_EXISTS:
		return v->type != KFL_ABSENT && v->type != KFL_NULL;
	case K_CMP:
		return compare(n, &n->lits[0], n->op, v);
	case K_IN:
		for (size_t i = 0; i < n->nlits; i++)
			if (compare(n, &n->lits[i], OP_EQ, v))
				return true;
		return false;
	default:
		return false;
	}
}

static bool walk(const struct ev *ev, const struct kfl_node *n, size_t i, struct kfl_value v);

struct walk_rest {
	const struct ev *ev;
	const struct kfl_node *n;
	size_t i;
};

static bool walk_elem(const struct kfl_value *elem, void *arg)
{
	const struct walk_rest *w = arg;

	return walk(w->ev, w->n, w->i, *elem);
}

/* Follow n's path from step i on v; "[]" steps: some element leads to a match. */
static bool walk(const struct ev *ev, const struct kfl_node *n, size_t i, struct kfl_value v)
{
	for (; i < n->path.n; i++) {
		const struct kfl_comp *c = &n->path.comps[i];
		struct kfl_value next = absent;

		if (c->any) {
			struct walk_rest rest = {ev, n, i + 1};

			/* No element at all: none matches, whatever the test. */
			if (v.type != KFL_ARRAY && v.type != KFL_OBJECT)
				return false;
			return ev->acc->each(ev->entry, &v, walk_elem, &rest);
		}
		if (v.type == KFL_OBJECT)
			ev->acc->member(ev->entry, &v, c->key, c->nocase, &next);
		else if (v.type == KFL_ARRAY && c->has_index)
			ev->acc->element(ev->entry, &v, c->index, &next);
		v = next;
	}
	return leaf(n, &v);
}

/* A top-level member of the entry. */
static void root_member(const struct ev *ev, const char *key, struct kfl_value *v)
{
	*v = absent;
	if (ev->root.type == KFL_OBJECT)
		ev->acc->member(ev->entry, &ev->root, key, false, v);
}

static const char *member_text(const struct ev *ev, const char *key)
{
	struct kfl_value v;

	root_member(ev, key, &v);
	return v.type == KFL_STRING ? v.u.str.s : NULL;
}

static bool eval(const struct ev *ev, const struct kfl_node *n)
{
	struct kfl_value v;

	switch (n->kind) {
	case K_AND:
		for (size_t i = 0; i < n->nkids; i++)
			if (!eval(ev, n->kids[i]))
				return false;
		return true;
	case K_OR:
		for (size_t i = 0; i < n->nkids; i++)
			if (eval(ev, n->kids[i]))
				return true;
		return false;
	case K_NOT:
		return !eval(ev, n->kids[0]);
	case K_PROTO:
		/* A word selects its protocol's entries (by version for http1/http2: RESP "2" is
		 * not HTTP/2) and those of children that list it (GraphQL for http1/http2). Only
		 * a word with a version reads the entry's (one lookup less per entry). */
		return protocol_word_selects(n->owner, n->word, member_text(ev, "protocol"),
					     n->word->version ? member_text(ev, "version") : NULL);
	case K_TLS: {
		const char *p = member_text(ev, "protocol");

		if (p && !strcmp(p, "tls"))
			return true;
		root_member(ev, "tls", &v);
		return v.type == KFL_BOOL && v.u.b;
	}
	default:
		if (n->path.timestamp) {
			root_member(ev, "request_time", &v);
			if (v.type == KFL_ABSENT || v.type == KFL_NULL)
				root_member(ev, "response_time", &v);
			return leaf(n, &v);
		}
		return walk(ev, n, 0, ev->root);
	}
}

bool kfl_match(const struct kfl *q, const struct kfl_accessor *acc, void *entry)
{
	struct ev ev = {.acc = acc, .entry = entry};

	if (!q)
		return true;
	acc->root(entry, &ev.root);
	return eval(&ev, q->root);
}

/* ---- the accessor over json_t ---- */

/* Only the members the type uses are written: this runs for every step of every path. */
static void json_value(const json_t *j, struct kfl_value *out)
{
	out->ref = j;
	if (!j) {
		out->type = KFL_ABSENT;
		return;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		out->type = KFL_OBJECT;
		break;
	case JSON_ARRAY:
		out->type = KFL_ARRAY;
		break;
	case JSON_STRING:
		out->type = KFL_STRING;
		out->u.str.s = json_string_value(j);
		out->u.str.len = json_string_length(j);
		break;
	case JSON_INTEGER:
		out->type = KFL_INT;
		out->u.i = json_integer_value(j);
		break;
	case JSON_REAL:
		out->type = KFL_REAL;
		out->u.r = json_real_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		out->type = KFL_BOOL;
		out->u.b = json_is_true(j);
		break;
	default:
		out->type = KFL_NULL;
		break;
	}
}

static void json_root(void *entry, struct kfl_value *out)
{
	json_value(entry, out);
}

static void json_member(void *entry, const struct kfl_value *obj, const char *key, bool nocase,
			struct kfl_value *out)
{
	json_t *o = (json_t *)obj->ref, *v = json_object_get(o, key), *x;
	const char *k;

	if (!v && nocase) {
		json_object_foreach(o, k, x)
		{
			if (!strcasecmp(k, key)) {
				v = x;
				break;
			}
		}
	}
	json_value(v, out);
}

static void json_element(void *entry, const struct kfl_value *arr, size_t i, struct kfl_value *out)
{
	json_value(json_array_get(arr->ref, i), out);
}

static bool json_each(void *entry, const struct kfl_value *v,
		      bool (*fn)(const struct kfl_value *elem, void *arg), void *arg)
{
	json_t *j = (json_t *)v->ref, *x;
	struct kfl_value e;
	const char *k;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, x)
		{
			json_value(x, &e);
			if (fn(&e, arg))
				return true;
		}
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, x)
		{
			json_value(x, &e);
			if (fn(&e, arg))
				return true;
		}
	}
	return false;
}

const struct kfl_accessor kfl_json_accessor = {
    .root = json_root,
    .member = json_member,
    .element = json_element,
    .each = json_each,
};

bool kfl_match_json(const struct kfl *q, const json_t *entry)
{
	return kfl_match(q, &kfl_json_accessor, (void *)entry);
}
