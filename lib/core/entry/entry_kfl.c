// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_kfl.h"

#include <string.h>

/* Objects that are not json_t (the entry, "src", a compact part's "request", its "headers")
 * are nodes: the path that leads to them. A query's path is short; a deeper one, or more
 * objects in one match than there are nodes, is answered from the tree. */
#define EK_NODES   16
#define EK_DEPTH   6
#define EK_KEY_MAX 128
/* Strings a getter made that may be alive at once (protocol and version for a word). */
#define EK_TMP 4

enum ek_origin { EK_ROOT, EK_COMPACT, EK_COMMON };

struct ek_node {
	enum ek_origin origin;
	size_t depth;
	const char *key[EK_DEPTH]; /* the query's keys */
	bool nocase[EK_DEPTH];
};

struct ek {
	const struct entry *e;
	json_t *tree; /* entry_to_json(e), once a value needed it */
	struct ek_node nodes[EK_NODES];
	size_t nnodes;
	char tmp[EK_TMP][ENTRY_VALUE_TMP];
	unsigned ntmp;
};

static const struct kfl_value ek_absent = {.type = KFL_ABSENT};

static const struct ek_node *as_node(const struct ek *k, const void *ref)
{
	const struct ek_node *n = ref;

	return n >= k->nodes && n < k->nodes + EK_NODES ? n : NULL;
}

/* The tree's value at a node's path plus key, as kfl_json_accessor finds it. */
static void from_tree(struct ek *k, const struct ek_node *n, const char *key, bool nocase,
		      struct kfl_value *out)
{
	struct kfl_value v;

	*out = ek_absent;
	if (!k->tree && !(k->tree = entry_to_json(k->e)))
		return; /* ENOMEM: nothing matches through it */
	kfl_json_accessor.root(k->tree, &v);
	for (size_t i = 0; i < n->depth + (key != NULL); i++) {
		struct kfl_value next = ek_absent;

		if (v.type != KFL_OBJECT)
			return;
		if (i < n->depth)
			kfl_json_accessor.member(k->tree, &v, n->key[i], n->nocase[i], &next);
		else
			kfl_json_accessor.member(k->tree, &v, key, nocase, &next);
		v = next;
	}
	*out = v;
}

/* A getter's answer at n's path plus key, as a KFL value. */
static void convert(struct ek *k, const struct ek_node *n, enum ek_origin origin, const char *key,
		    bool nocase, const struct entry_value *ev, struct kfl_value *out)
{
	struct ek_node *c;

	*out = ek_absent;
	switch (ev->type) {
	case ENTRY_VALUE_ABSENT:
		return;
	case ENTRY_VALUE_STRING:
		out->type = KFL_STRING;
		out->u.str.s = ev->s;
		out->u.str.len = ev->len;
		return;
	case ENTRY_VALUE_INT:
		out->type = KFL_INT;
		out->u.i = ev->i;
		return;
	case ENTRY_VALUE_REAL:
		out->type = KFL_REAL;
		out->u.r = ev->r;
		return;
	case ENTRY_VALUE_BOOL:
		out->type = KFL_BOOL;
		out->u.b = ev->i != 0;
		return;
	case ENTRY_VALUE_OBJECT:
		if (k->nnodes < EK_NODES && n->depth + 1 < EK_DEPTH) {
			c = &k->nodes[k->nnodes++];
			*c = *n;
			c->origin = origin;
			c->key[c->depth] = key;
			c->nocase[c->depth] = nocase;
			c->depth++;
			out->type = KFL_OBJECT;
			out->ref = c;
			return;
		}
		break;
	case ENTRY_VALUE_OTHER:
		break;
	}
	from_tree(k, n, key, nocase, out);
}

static void ek_root(void *entry, struct kfl_value *out)
{
	struct ek *k = entry;

	*out = ek_absent;
	out->type = KFL_OBJECT;
	out->ref = &k->nodes[0];
}

/* The getters' path: the node's keys and key, header names lower-cased (a compact part keeps
 * them so, as the tree does: see entry.h). false when a key is too long to copy. */
static bool getter_path(const struct ek_node *n, const char *key, bool nocase,
			const char *path[EK_DEPTH], char lower[EK_DEPTH][EK_KEY_MAX])
{
	for (size_t i = 0; i <= n->depth; i++) {
		const char *s = i < n->depth ? n->key[i] : key;
		bool nc = i < n->depth ? n->nocase[i] : nocase;
		size_t len;

		path[i] = s;
		if (!nc)
			continue;
		len = strlen(s);
		if (len >= EK_KEY_MAX)
			return false;
		for (size_t j = 0; j <= len; j++)
			lower[i][j] = s[j] >= 'A' && s[j] <= 'Z' ? (char)(s[j] + 32) : s[j];
		path[i] = lower[i];
	}
	return true;
}

static void ek_member(void *entry, const struct kfl_value *obj, const char *key, bool nocase,
		      struct kfl_value *out)
{
	struct ek *k = entry;
	const struct ek_node *n = as_node(k, obj->ref);
	const struct entry *e = k->e;
	const char *path[EK_DEPTH];
	char lower[EK_DEPTH][EK_KEY_MAX];
	struct entry_value ev = {0};
	struct kfl_value fields = {.type = KFL_OBJECT};

	if (!n) {
		kfl_json_accessor.member(k->tree, obj, key, nocase, out);
		return;
	}
	/* Once the tree is built the entry's compact part is gone into it: all from there. */
	if (k->tree || n->depth + 1 >= EK_DEPTH || !getter_path(n, key, nocase, path, lower)) {
		from_tree(k, n, key, nocase, out);
		return;
	}
	ev.tmp = k->tmp[k->ntmp++ % EK_TMP];
	ev.tmp_size = ENTRY_VALUE_TMP;
	if (n->origin == EK_ROOT) {
		if (nocase) {
			from_tree(k, n, key, nocase, out);
			return;
		}
		/* a protocol field of the tree, which a common one of its name gives way to */
		fields.ref = e->fields;
		kfl_json_accessor.member(k->tree, &fields, key, false, out);
		if (out->type != KFL_ABSENT)
			return;
		if (e->compact && e->compact_ops->get(e->compact, path, 1, &ev)) {
			convert(k, n, EK_COMPACT, key, nocase, &ev, out);
			return;
		}
		if (entry_common_get(e, path, 1, &ev)) {
			convert(k, n, EK_COMMON, key, nocase, &ev, out);
			return;
		}
		*out = ek_absent;
		return;
	}
	if (n->origin == EK_COMPACT) {
		if (!e->compact || !e->compact_ops->get(e->compact, path, n->depth + 1, &ev))
			ev.type = ENTRY_VALUE_OTHER;
	} else if (!entry_common_get(e, path, n->depth + 1, &ev)) {
		ev.type = ENTRY_VALUE_OTHER;
	}
	convert(k, n, n->origin, key, nocase, &ev, out);
}

static void ek_element(void *entry, const struct kfl_value *arr, size_t i, struct kfl_value *out)
{
	struct ek *k = entry;

	/* Arrays are the tree's: no getter gives one. */
	if (as_node(k, arr->ref)) {
		*out = ek_absent;
		return;
	}
	kfl_json_accessor.element(k->tree, arr, i, out);
}

static bool ek_each(void *entry, const struct kfl_value *v,
		    bool (*fn)(const struct kfl_value *elem, void *arg), void *arg)
{
	struct ek *k = entry;
	const struct ek_node *n = as_node(k, v->ref);
	struct kfl_value t;

	if (!n)
		return kfl_json_accessor.each(k->tree, v, fn, arg);
	/* Every member of an object: the tree's (the getters answer one at a time). */
	if (n->depth == 0) {
		from_tree(k, n, NULL, false, &t);
	} else {
		struct ek_node up = *n;

		up.depth--;
		from_tree(k, &up, n->key[n->depth - 1], n->nocase[n->depth - 1], &t);
	}
	return kfl_json_accessor.each(k->tree, &t, fn, arg);
}

static const struct kfl_accessor entry_kfl_accessor = {
    .root = ek_root,
    .member = ek_member,
    .element = ek_element,
    .each = ek_each,
};

bool entry_kfl_match(const struct kfl *q, const struct entry *e, json_t **tree)
{
	struct ek k;
	bool m;

	if (tree)
		*tree = NULL;
	if (!q)
		return true;
	k.e = e;
	k.tree = NULL;
	k.nnodes = 1;
	k.ntmp = 0;
	k.nodes[0] = (struct ek_node){.origin = EK_ROOT};
	m = kfl_match(q, &entry_kfl_accessor, &k);
	if (tree)
		*tree = k.tree;
	else
		json_decref(k.tree);
	return m;
}
