// SPDX-License-Identifier: Apache-2.0
/*
 * What a query implies before any entry is read (kfl.h): its time range, for the hub's
 * since/until, and its endpoint terms, for the agent's capture scope. Both read only the
 * predicates ANDed at the top of the query: an entry matches only when each of them holds,
 * so what they exclude can be skipped without changing the answer. Anything under or/not is
 * left to the evaluator.
 */
#include <arpa/inet.h>
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

/* Is n an endpoint term (`src.X == v`, `dst.X in [...]`)? Then *t says which. */
static bool scope_leaf(const struct kfl_node *n, struct kfl_scope_term *t)
{
	static const char *const attrs[] = {
	    [KFL_POD] = "pod", [KFL_NAMESPACE] = "namespace", [KFL_IP] = "ip", [KFL_PORT] = "port"};
	const char *side, *attr;
	size_t a;

	if (!(n->kind == K_IN || (n->kind == K_CMP && n->op == OP_EQ)) || n->path.n != 2 ||
	    n->path.comps[0].any || n->path.comps[1].any)
		return false;
	side = n->path.comps[0].key;
	attr = n->path.comps[1].key;
	if (strcmp(side, "src") && strcmp(side, "dst"))
		return false;
	for (a = 0; a < sizeof(attrs) / sizeof(attrs[0]); a++)
		if (!strcmp(attr, attrs[a]))
			break;
	if (a == sizeof(attrs) / sizeof(attrs[0]))
		return false;
	*t = (struct kfl_scope_term){
	    .side = strcmp(side, "src") ? KFL_DST : KFL_SRC,
	    .attr = (enum kfl_attr)a,
	    .count = n->nlits,
	    .values = (const char *const *)n->texts,
	    .ints = n->ints,
	};
	return true;
}

static int scope_term(const struct kfl_node *n, void *arg)
{
	struct scope *s = arg;
	struct kfl_scope_term t;
	int rc;

	if (!scope_leaf(n, &t))
		return 0;
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

/*
 * The pushdown (kfl.h): a formula in disjunctive normal form over the terms of out, as the
 * clauses' term bits. all: true (every packet); otherwise n clauses, at least one.
 */
struct dnf {
	bool all;
	size_t n;
	uint32_t clauses[KFL_PUSHDOWN_CLAUSES_MAX];
};

static const struct dnf dnf_all = {.all = true};

/* Can the kernel compare the term's values as they are written? */
static bool pushable_values(const struct kfl_scope_term *t)
{
	uint8_t buf[16];

	/* `in []` matches nothing; holding for all is still an over-approximation. */
	if (t->count == 0)
		return false;
	for (size_t i = 0; i < t->count; i++) {
		switch (t->attr) {
		case KFL_PORT:
			if (!t->ints || t->ints[i] < 0 || t->ints[i] > 65535)
				return false;
			break;
		case KFL_IP:
			if (inet_pton(AF_INET, t->values[i], buf) != 1 &&
			    inet_pton(AF_INET6, t->values[i], buf) != 1)
				return false;
			break;
		default:
			if (!t->values[i])
				return false;
		}
	}
	return true;
}

/* The term's bit in out (the same leaf once), or -1 when out is full. */
static int term_bit(struct kfl_pushdown *out, const struct kfl_scope_term *t)
{
	for (size_t i = 0; i < out->nterms; i++)
		if (out->terms[i].values == t->values && out->terms[i].attr == t->attr)
			return (int)i;
	if (out->nterms == KFL_PUSHDOWN_TERMS_MAX)
		return -1;
	out->terms[out->nterms] = *t;
	return (int)out->nterms++;
}

static void dnf_add(struct dnf *d, uint32_t clause)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->clauses[i] == clause)
			return;
	if (d->n == KFL_PUSHDOWN_CLAUSES_MAX) {
		*d = dnf_all; /* too wide to say: no narrowing */
		return;
	}
	d->clauses[d->n++] = clause;
}

static struct dnf dnf_or(const struct dnf *a, const struct dnf *b)
{
	struct dnf r = *a;

	if (a->all || b->all)
		return dnf_all;
	for (size_t i = 0; i < b->n && !r.all; i++)
		dnf_add(&r, b->clauses[i]);
	return r;
}

static struct dnf dnf_and(const struct dnf *a, const struct dnf *b)
{
	struct dnf r = {0};

	if (a->all)
		return *b;
	if (b->all)
		return *a;
	/* A product too wide to keep: either side alone still holds for every match. */
	if (a->n * b->n > KFL_PUSHDOWN_CLAUSES_MAX)
		return a->n <= b->n ? *a : *b;
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			dnf_add(&r, a->clauses[i] | b->clauses[j]);
	return r;
}

/* n, negated when neg, as a DNF over out's terms. */
static struct dnf derive(const struct kfl_node *n, bool neg, struct kfl_pushdown *out)
{
	struct kfl_scope_term t;
	struct dnf acc = dnf_all, kid;
	bool conj;
	int bit;

	switch (n->kind) {
	case K_NOT:
		return derive(n->kids[0], !neg, out);
	case K_AND:
	case K_OR:
		/* De Morgan: a negated and is an or of negations, and the other way round. */
		conj = (n->kind == K_AND) != neg;
		for (size_t i = 0; i < n->nkids; i++) {
			kid = derive(n->kids[i], neg, out);
			if (i == 0)
				acc = kid;
			else
				acc = conj ? dnf_and(&acc, &kid) : dnf_or(&acc, &kid);
		}
		return acc;
	default:
		/* A negated term holds for the packets of every other endpoint: all of them. */
		if (neg || !scope_leaf(n, &t) || !pushable_values(&t))
			return dnf_all;
		bit = term_bit(out, &t);
		if (bit < 0)
			return dnf_all;
		return (struct dnf){.n = 1, .clauses = {1u << bit}};
	}
}

void kfl_pushdown(const struct kfl *q, struct kfl_pushdown *out)
{
	struct dnf d;

	memset(out, 0, sizeof(*out));
	d = q ? derive(q->root, false, out) : dnf_all;
	out->all = d.all;
	if (d.all) {
		out->nterms = 0;
		return;
	}
	out->nclauses = d.n;
	memcpy(out->clauses, d.clauses, d.n * sizeof(d.clauses[0]));
	/* Terms only a dropped side of a product named stay in the table, in no clause:
	 * their values are loaded and never required. */
}

/* snprintf that stops at the end of buf: len stays at most size - 1. */
static void put(char *buf, size_t size, size_t *len, const char *fmt, const char *s)
{
	int n;

	if (*len + 1 >= size)
		return;
	n = snprintf(buf + *len, size - *len, fmt, s);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

void kfl_pushdown_text(const struct kfl_pushdown *p, char *buf, size_t size)
{
	static const char *const attrs[] = {
	    [KFL_POD] = "pod", [KFL_NAMESPACE] = "namespace", [KFL_IP] = "ip", [KFL_PORT] = "port"};
	size_t len = 0;

	if (!size)
		return;
	buf[0] = 0;
	if (p->all) {
		put(buf, size, &len, "%s", "all");
		return;
	}
	for (size_t c = 0; c < p->nclauses; c++) {
		bool first = true;

		put(buf, size, &len, "%s(", c ? " | " : "");
		for (size_t i = 0; i < p->nterms; i++) {
			const struct kfl_scope_term *t = &p->terms[i];

			if (!(p->clauses[c] & (1u << i)))
				continue;
			put(buf, size, &len, first ? "%s=" : " & %s=", attrs[t->attr]);
			for (size_t v = 0; v < t->count; v++)
				put(buf, size, &len, v ? ",%s" : "%s", t->values[v]);
			first = false;
		}
		put(buf, size, &len, "%s", ")");
	}
}
