// SPDX-License-Identifier: Apache-2.0
/*
 * What a query implies before any entry is read (kfl.h): its time range, for the hub's
 * since/until, and its endpoint terms, for the agent's capture scope. Both read only the
 * predicates ANDed at the top of the query: an entry matches only when each of them holds,
 * so what they exclude can be skipped without changing the answer. Anything under or/not is
 * left to the evaluator.
 */
#include <string.h>

#include "kfl/kfl.h"
#include "kfl/kfl_ast.h"

typedef int (*conjunct_fn)(const struct kfl_node *n, void *arg);

/* fn on every node ANDed at the top (nested ands included); stops at fn's first non-zero. */
static int conjuncts(const struct kfl_node *n, conjunct_fn fn, void *arg)
{
	int rc;

	if (n->kind != K_AND)
		return fn(n, arg);
	for (size_t i = 0; i < n->nkids; i++) {
		rc = conjuncts(n->kids[i], fn, arg);
		if (rc)
			return rc;
	}
	return 0;
}

struct bounds {
	int64_t since, until; /* INT64_MIN / INT64_MAX: unbounded */
};

static void raise_since(struct bounds *b, int64_t t)
{
	if (t > b->since)
		b->since = t;
}

static void lower_until(struct bounds *b, int64_t t)
{
	if (t < b->until)
		b->until = t;
}

/*
 * timestamp and request_time: an entry with a request_time has it as its timestamp, one
 * without cannot satisfy a comparison of it; either way the bound holds for the timestamp.
 */
static bool is_time_field(const struct kfl_path *p)
{
	return p->timestamp || (p->n == 1 && !strcmp(p->comps[0].key, "request_time"));
}

static int time_bound(const struct kfl_node *n, void *arg)
{
	struct bounds *b = arg;
	int64_t lo = INT64_MAX, hi = INT64_MIN, t;

	if ((n->kind != K_CMP && n->kind != K_IN) || !is_time_field(&n->path))
		return 0;
	for (size_t i = 0; i < n->nlits; i++) {
		if (!n->lits[i].is_time)
			return 0;
		if (n->lits[i].ns < lo)
			lo = n->lits[i].ns;
		if (n->lits[i].ns > hi)
			hi = n->lits[i].ns;
	}
	if (n->kind == K_IN) {
		if (n->nlits) {
			raise_since(b, lo);
			lower_until(b, hi == INT64_MAX ? hi : hi + 1);
		}
		return 0;
	}
	t = n->lits[0].ns;
	switch (n->op) {
	case OP_EQ:
		raise_since(b, t);
		lower_until(b, t == INT64_MAX ? t : t + 1);
		break;
	case OP_GE:
		raise_since(b, t);
		break;
	case OP_GT:
		raise_since(b, t == INT64_MAX ? t : t + 1);
		break;
	case OP_LT:
		lower_until(b, t);
		break;
	case OP_LE:
		lower_until(b, t == INT64_MAX ? t : t + 1);
		break;
	default:
		break;
	}
	return 0;
}

void kfl_time_bounds(const struct kfl *q, int64_t *since_ns, int64_t *until_ns)
{
	struct bounds b = {INT64_MIN, INT64_MAX};

	if (q)
		conjuncts(q->root, time_bound, &b);
	/* 0 means unbounded to the caller (struct agent_query): a bound at or before the
	 * epoch excludes nothing an entry can have. */
	*since_ns = b.since > 0 ? b.since : 0;
	*until_ns = b.until == INT64_MAX ? 0 : b.until > 0 ? b.until : 1;
}

struct scope {
	kfl_scope_fn fn;
	void *arg;
	int count;
};

static int scope_term(const struct kfl_node *n, void *arg)
{
	static const char *const attrs[] = {
	    [KFL_POD] = "pod", [KFL_NAMESPACE] = "namespace", [KFL_IP] = "ip", [KFL_PORT] = "port"};
	struct scope *s = arg;
	struct kfl_scope_term t;
	const char *side, *attr;
	size_t a;
	int rc;

	if (!(n->kind == K_IN || (n->kind == K_CMP && n->op == OP_EQ)) || n->path.n != 2 ||
	    n->path.comps[0].any || n->path.comps[1].any)
		return 0;
	side = n->path.comps[0].key;
	attr = n->path.comps[1].key;
	if (strcmp(side, "src") && strcmp(side, "dst"))
		return 0;
	for (a = 0; a < sizeof(attrs) / sizeof(attrs[0]); a++)
		if (!strcmp(attr, attrs[a]))
			break;
	if (a == sizeof(attrs) / sizeof(attrs[0]))
		return 0;
	t = (struct kfl_scope_term){
	    .side = strcmp(side, "src") ? KFL_DST : KFL_SRC,
	    .attr = (enum kfl_attr)a,
	    .count = n->nlits,
	    .values = n->texts,
	    .ints = n->ints,
	};
	rc = s->fn(&t, s->arg);
	if (rc)
		return rc;
	s->count++;
	return 0;
}

int kfl_capture_scope(const struct kfl *q, kfl_scope_fn fn, void *arg)
{
	struct scope s = {.fn = fn, .arg = arg};
	int rc;

	if (!q)
		return 0;
	rc = conjuncts(q->root, scope_term, &s);
	return rc ? rc : s.count;
}
