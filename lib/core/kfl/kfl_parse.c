// SPDX-License-Identifier: Apache-2.0
/*
 * KFL's parser and schema check (kfl.h; grammar in docs/kfl.md):
 *
 *   query  := or
 *   or     := and { ("or" | "||") and }
 *   and    := unary { ("and" | "&&") unary }
 *   unary  := ("not" | "!") unary | "(" or ")" | term
 *   term   := "exists" "(" path ")"
 *           | path "." helper "(" value ")"          helper: startsWith endsWith contains matches
 *           | path op value                          op: == != < <= > >= = ~ contains
 *           | path "in" "[" [ value { "," value } ] "]"
 *           | path                                   a protocol word, or a field's presence
 *   path   := word { "[" ( "\"key\"" | index | "*" | ) "]" [ "." word ] }
 *   value  := "string" | 'string' | number[unit] | now [ ("+"|"-") duration ] | bare-word
 *
 * Every error is "column N: ..." (N counts characters from 1) and says what was expected and
 * what was found instead.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kfl/kfl.h"
#include "kfl/kfl_ast.h"
#include "protocols/protocol.h"
#include "protocols/schema.h"

#define KFL_MAX_DEPTH 64 /* nesting of parentheses and not: bounds the evaluator's recursion */

struct parser {
	const char *s, *p;
	char *err;
	size_t errlen;
	int depth;
	bool check;  /* KFL_CHECK_SCHEMA */
	int64_t now; /* ns */
	bool failed, nomem;
};

static const struct {
	const char *name;
	enum kfl_op op;
} helpers[] = {
    {"startsWith", OP_PREFIX},
    {"endsWith", OP_SUFFIX},
    {"contains", OP_CONTAINS},
    {"matches", OP_REGEX},
};

static const char *op_text(enum kfl_op op)
{
	static const char *const text[] = {"==", "!=",	     "<", "<=",		">",
					   ">=", "contains", "~", "startsWith", "endsWith"};

	return text[op];
}

/* ---- errors ---- */

/* Characters (not bytes: a UTF-8 sequence is one) from the start to at, from 1. */
static int col_at(const struct parser *ps, const char *at)
{
	int c = 1;

	for (const char *q = ps->s; q < at; q++)
		if (((unsigned char)*q & 0xc0) != 0x80)
			c++;
	return c;
}

static void fail_col(struct parser *ps, int col, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	if (!ps->errlen)
		return;
	n = snprintf(ps->err, ps->errlen, "column %d: ", col);
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
	va_end(ap);
}

static void fail_nomem(struct parser *ps)
{
	ps->nomem = true;
	fail_col(ps, col_at(ps, ps->p), "out of memory");
}

static bool is_word_char(int c)
{
	/* Bytes of UTF-8 sequences too, so that "µs" and bare non-ASCII words read as words. */
	return isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/' || c == ':' || c == '*' ||
	       c >= 0x80;
}

/* What is at `at`, for "found ...": "end of query", "'word'", "'\"str...'", "'('". */
static const char *found(const char *at, char *buf, size_t size)
{
	size_t n = 0;

	if (!*at)
		return "end of query";
	if (is_word_char((unsigned char)*at)) {
		while (is_word_char((unsigned char)at[n]))
			n++;
	} else if (*at == '"' || *at == '\'') {
		for (n = 1; at[n] && at[n] != *at; n++)
			;
		n += at[n] ? 1 : 0;
	} else if (strchr("=!<>", *at) && at[1] == '=') {
		n = 2;
	} else if ((*at == '&' && at[1] == '&') || (*at == '|' && at[1] == '|')) {
		n = 2;
	} else {
		n = 1;
	}
	if (n > 24)
		snprintf(buf, size, "'%.20s...'", at);
	else
		snprintf(buf, size, "'%.*s'", (int)n, at);
	return buf;
}

/* ---- nodes ---- */

static void path_free(struct kfl_path *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->comps[i].key);
	free(p->comps);
	free(p->text);
}

static void node_free(struct kfl_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	path_free(&n->path);
	for (size_t i = 0; i < n->nlits; i++)
		free(n->lits[i].text);
	free(n->lits);
	free(n->texts);
	free(n->ints);
	if (n->has_re)
		regfree(&n->re);
	free(n);
}

static struct kfl_node *node_new(struct parser *ps, enum kfl_kind k)
{
	struct kfl_node *n = calloc(1, sizeof(*n));

	if (!n) {
		fail_nomem(ps);
		return NULL;
	}
	n->kind = k;
	return n;
}

static bool add_kid(struct parser *ps, struct kfl_node *n, struct kfl_node *kid)
{
	struct kfl_node **k = realloc(n->kids, (n->nkids + 1) * sizeof(*k));

	if (!k) {
		fail_nomem(ps);
		return false;
	}
	n->kids = k;
	n->kids[n->nkids++] = kid;
	return true;
}

/* ---- tokens ---- */

static void skip_ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

/* The next token is the keyword or symbol kw (a keyword must end at a non-word char). */
static bool accept(struct parser *ps, const char *kw)
{
	size_t n = strlen(kw);

	skip_ws(ps);
	if (strncmp(ps->p, kw, n))
		return false;
	if (isalpha((unsigned char)kw[0]) && is_word_char((unsigned char)ps->p[n]))
		return false;
	ps->p += n;
	return true;
}

/* The word at ps->p (empty when none), copied. */
static char *read_word(struct parser *ps)
{
	const char *b = ps->p;
	char *w;

	while (is_word_char((unsigned char)*ps->p))
		ps->p++;
	w = strndup(b, ps->p - b);
	if (!w)
		fail_nomem(ps);
	return w;
}

/* A string in double or single quotes at ps->p; a backslash takes the next character as it is. */
static char *read_string(struct parser *ps)
{
	const char *open = ps->p;
	char q = *ps->p++, *out;
	size_t o = 0;

	out = malloc(strlen(ps->p) + 1);
	if (!out) {
		fail_nomem(ps);
		return NULL;
	}
	while (*ps->p && *ps->p != q) {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		out[o++] = *ps->p++;
	}
	if (*ps->p != q) {
		free(out);
		fail_col(ps, col_at(ps, open), "unterminated string: expected a closing %c", q);
		return NULL;
	}
	ps->p++;
	out[o] = 0;
	return out;
}

/* ---- field paths ---- */

struct path_builder {
	struct kfl_path *path;
	size_t cap;
	char *text;
	size_t tlen, tcap;
};

static bool text_add(struct parser *ps, struct path_builder *b, const char *s, size_t n)
{
	if (b->tlen + n + 2 > b->tcap) {
		size_t cap = (b->tlen + n + 2) * 2;
		char *t = realloc(b->text, cap);

		if (!t) {
			fail_nomem(ps);
			return false;
		}
		b->text = t;
		b->tcap = cap;
	}
	memcpy(b->text + b->tlen, s, n);
	b->tlen += n;
	b->text[b->tlen] = 0;
	return true;
}

/* Append a step: key (n bytes; NULL for "some element"). */
static bool comp_add(struct parser *ps, struct path_builder *b, const char *key, size_t n,
		     bool dotted)
{
	struct kfl_path *p = b->path;
	struct kfl_comp *c;
	const char *prev = p->n ? p->comps[p->n - 1].key : NULL;

	if (p->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;

		c = realloc(p->comps, cap * sizeof(*c));
		if (!c) {
			fail_nomem(ps);
			return false;
		}
		p->comps = c;
		b->cap = cap;
	}
	c = &p->comps[p->n];
	*c = (struct kfl_comp){.any = !key};
	c->key = key ? strndup(key, n) : strdup("[]");
	if (!c->key) {
		fail_nomem(ps);
		return false;
	}
	p->n++;
	/* A decimal step also indexes an array (request.topics.0); a quoted key never does. */
	if (key && dotted && n && n < 16 && strspn(c->key, "0123456789") == n) {
		c->has_index = true;
		c->index = strtoull(c->key, NULL, 10);
	}
	/* The values of a headers map are found by a name in any case. */
	c->nocase = key && prev && (!strcmp(prev, "headers") || !strcmp(prev, "trailers"));
	if (!key)
		return text_add(ps, b, "[]", 2);
	return (p->n == 1 || text_add(ps, b, ".", 1)) && text_add(ps, b, key, n);
}

/* A dotted word's names as steps ("request.path"); skip_dot: it follows "]" (".name"). */
static bool comps_of_word(struct parser *ps, struct path_builder *b, const char *w, bool skip_dot)
{
	const char *p = w;

	if (skip_dot && *p == '.')
		p++;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		/* "*": every value (the schema's notation: request.headers.*). */
		if (n == 1 && *p == '*' ? !comp_add(ps, b, NULL, 0, true)
					: !comp_add(ps, b, p, n, true))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* A "[...]" step at ps->p: a quoted key, an index, or * / nothing for every element. */
static bool read_bracket(struct parser *ps, struct path_builder *b)
{
	char buf[32];
	bool ok;

	ps->p++; /* [ */
	skip_ws(ps);
	if (*ps->p == ']' || *ps->p == '*') {
		ps->p += *ps->p == '*';
		ok = comp_add(ps, b, NULL, 0, false);
	} else if (*ps->p == '"' || *ps->p == '\'') {
		char *key = read_string(ps);

		if (!key)
			return false;
		ok = comp_add(ps, b, key, strlen(key), false);
		free(key);
	} else if (isdigit((unsigned char)*ps->p)) {
		const char *d = ps->p;

		while (isdigit((unsigned char)*ps->p))
			ps->p++;
		ok = comp_add(ps, b, d, ps->p - d, true);
	} else {
		fail_col(ps, col_at(ps, ps->p),
			 "expected a \"key\", an index or * inside '[ ]', found %s",
			 found(ps->p, buf, sizeof(buf)));
		return false;
	}
	if (!ok)
		return false;
	skip_ws(ps);
	if (*ps->p != ']') {
		fail_col(ps, col_at(ps, ps->p), "expected ']', found %s",
			 found(ps->p, buf, sizeof(buf)));
		return false;
	}
	ps->p++;
	return true;
}

/*
 * A field path at ps->p into *path. When its last dotted name is a string helper followed by
 * "(" (request.path.startsWith("/a")), that name is not part of the path: *helper is its
 * index in helpers[], else -1.
 */
static bool read_path(struct parser *ps, struct kfl_path *path, int *helper)
{
	struct path_builder b = {.path = path};
	bool last_dotted = true;
	char *w;

	*helper = -1;
	path->col = col_at(ps, ps->p);
	w = read_word(ps);
	if (!w || !comps_of_word(ps, &b, w, false)) {
		free(w);
		free(b.text);
		return false;
	}
	free(w);
	while (*ps->p == '[') {
		if (!read_bracket(ps, &b)) {
			free(b.text);
			return false;
		}
		last_dotted = false;
		if (*ps->p == '.') {
			w = read_word(ps);
			if (!w || !comps_of_word(ps, &b, w, true)) {
				free(w);
				free(b.text);
				return false;
			}
			free(w);
			last_dotted = true;
		}
	}
	path->text = b.text;
	if (last_dotted && path->n > 1) {
		const char *save = ps->p, *last = path->comps[path->n - 1].key;

		skip_ws(ps);
		for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]) && *ps->p == '('; i++) {
			if (strcmp(last, helpers[i].name))
				continue;
			*helper = (int)i;
			free(path->comps[--path->n].key);
			*strrchr(path->text, '.') = 0;
			break;
		}
		if (*helper < 0 && *ps->p == '(') {
			fail_col(ps, col_at(ps, save - strlen(last)),
				 "expected a helper before '(': startsWith, endsWith, contains or "
				 "matches, found '%s'",
				 last);
			return false;
		}
		if (*helper < 0)
			ps->p = save;
	}
	path->timestamp = path->n == 1 && !strcmp(path->comps[0].key, "timestamp");
	return true;
}

/* ---- values ---- */

/* now, now - 5m, now+1h (the word "now" is read; rest: what followed it in the same word). */
static bool read_now(struct parser *ps, struct kfl_lit *l, const char *rest)
{
	char buf[32], *dw = NULL;
	const char *at;
	int64_t d = 0;
	int sign = 0;
	bool ok;

	if (*rest) {
		sign = *rest == '-' ? -1 : 1;
		ok = kfl_lit_duration_ns(rest + 1, &d);
	} else {
		const char *save = ps->p;

		skip_ws(ps);
		if (*ps->p == '-' || *ps->p == '+') {
			sign = *ps->p++ == '-' ? -1 : 1;
			skip_ws(ps);
			at = ps->p;
			dw = read_word(ps);
			if (!dw)
				return false;
			ok = kfl_lit_duration_ns(dw, &d);
			if (!ok) {
				fail_col(ps, col_at(ps, at),
					 "expected a duration after 'now %c' (30s, 5m, 2h, 1d), "
					 "found %s",
					 sign < 0 ? '-' : '+', found(at, buf, sizeof(buf)));
				free(dw);
				return false;
			}
			free(dw);
		} else {
			ps->p = save;
			ok = true;
		}
	}
	if (!ok)
		return false;
	l->is_time = l->is_now = true;
	l->ns = ps->now + sign * d;
	free(l->text);
	l->text = malloc(40);
	if (!l->text) {
		fail_nomem(ps);
		return false;
	}
	/* As the entries write their timestamps: text comparisons of it order as times. */
	kfl_format_time(l->ns, l->text, 40);
	return true;
}

/* A value at ps->p (after: what it follows, for the message). */
static bool read_lit(struct parser *ps, struct kfl_lit *l, const char *after)
{
	char buf[32];

	skip_ws(ps);
	*l = (struct kfl_lit){.col = col_at(ps, ps->p)};
	if (*ps->p == '"' || *ps->p == '\'') {
		l->quoted = true;
		l->text = read_string(ps);
		if (!l->text)
			return false;
		l->is_num = kfl_lit_number(l->text, &l->num);
		l->is_time = kfl_lit_rfc3339(l->text, strlen(l->text), &l->ns);
		return true;
	}
	if (!is_word_char((unsigned char)*ps->p)) {
		fail_col(ps, l->col, "expected a value after '%s', found %s", after,
			 found(ps->p, buf, sizeof(buf)));
		return false;
	}
	l->text = read_word(ps);
	if (!l->text)
		return false;
	if (!strncmp(l->text, "now", 3) &&
	    (!l->text[3] || ((l->text[3] == '-' || l->text[3] == '+') &&
			     kfl_lit_duration_ns(l->text + 4, &l->ns))))
		return read_now(ps, l, l->text + 3);
	if (kfl_lit_number(l->text, &l->num))
		l->is_num = true;
	else if (kfl_lit_unit(l->text, &l->num, &l->unit))
		l->is_num = true;
	else
		l->is_time = kfl_lit_rfc3339(l->text, strlen(l->text), &l->ns);
	return true;
}

/* ---- the schema: fields resolve, values fit their types ---- */

static bool is_numeric(enum field_type t)
{
	return t == FIELD_INTEGER || t == FIELD_REAL || t == FIELD_DURATION_MS || t == FIELD_BYTES;
}

static bool is_ordering(enum kfl_op op)
{
	return op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
}

static bool is_text_op(enum kfl_op op)
{
	return op == OP_CONTAINS || op == OP_REGEX || op == OP_PREFIX || op == OP_SUFFIX;
}

/* The type with its article: "an integer", "a string", "bytes" (a plural needs none). */
static const char *type_phrase(const struct field_ref *ref, char *out, size_t size)
{
	char type[64];

	field_type_format(ref->type, ref->elem, type, sizeof(type));
	if (ref->type == FIELD_BYTES)
		snprintf(out, size, "%s", type);
	else
		snprintf(out, size, "%s %s", strchr("aeiou", type[0]) ? "an" : "a", type);
	return out;
}

static const char *unit_kind(const struct kfl_lit *l)
{
	return l->unit == UNIT_DURATION ? "duration" : l->unit == UNIT_SIZE ? "size" : "number";
}

/* Why value l cannot be compared by n with a field of type ref (into why), or NULL. */
static const char *type_mismatch(const struct kfl_node *n, const struct kfl_lit *l,
				 const struct field_ref *ref, char *why, size_t size)
{
	enum kfl_op op = n->kind == K_IN ? OP_EQ : n->op;
	const char *path = n->path.text;
	enum field_type t = ref->type;
	char type[80];

	type_phrase(ref, type, sizeof(type));
	if (t == FIELD_ANY)
		return NULL;
	if (t == FIELD_OBJECT || t == FIELD_MAP || t == FIELD_ARRAY)
		snprintf(why, size, "'%s' is %s: compare one of its %s", path, type,
			 t == FIELD_ARRAY ? "elements ('.0', '[0]' or '[]')" : "fields");
	else if (is_text_op(op) && t != FIELD_STRING && t != FIELD_TIMESTAMP)
		snprintf(why, size, "'%s' matches text, and '%s' is %s", op_text(op), path, type);
	else if (is_ordering(op) && !is_numeric(t) && t != FIELD_TIMESTAMP)
		snprintf(why, size, "'%s' orders numbers and timestamps, and '%s' is %s",
			 op_text(op), path, type);
	else if (is_numeric(t) && l->is_now)
		snprintf(why, size, "'%s' is %s, and '%s' is a time", path, type, l->text);
	else if (is_numeric(t) && !l->quoted && l->unit == UNIT_DURATION && t != FIELD_DURATION_MS)
		snprintf(why, size,
			 "'%s' is %s, and %s is a duration (durations compare with "
			 "duration_ms fields)",
			 path, type, l->text);
	else if (is_numeric(t) && !l->quoted && l->unit == UNIT_SIZE && t != FIELD_BYTES)
		snprintf(why, size,
			 "'%s' is %s, and %s is a size (sizes compare with bytes fields)", path,
			 type, l->text);
	else if (is_numeric(t) && !l->is_num)
		snprintf(why, size, "'%s' is %s, and \"%s\" is not a number", path, type, l->text);
	else if (t == FIELD_BOOLEAN && strcmp(l->text, "true") && strcmp(l->text, "false"))
		snprintf(why, size, "'%s' is a boolean: compare it with true or false", path);
	else if ((t == FIELD_STRING || t == FIELD_TIMESTAMP) && l->is_num && !l->quoted)
		snprintf(why, size, "'%s' is %s, compared with the %s %s (quote it: \"%s\")", path,
			 type, unit_kind(l), l->text, l->text);
	else if (t == FIELD_TIMESTAMP && !is_text_op(op) && !l->is_time)
		snprintf(why, size,
			 "'%s' is a timestamp, and \"%s\" is not a time (RFC 3339: "
			 "\"2026-12-06T10:00:00Z\", a date \"2026-12-06\", or now - 5m)",
			 path, l->text);
	else if (t == FIELD_STRING && l->is_now)
		snprintf(why, size, "'%s' is a string, and now is a time", path);
	else
		return NULL;
	return why;
}

/* Edit distance of a and b (both shorter than SCHEMA_PATH_MAX), for suggestions. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[SCHEMA_PATH_MAX], cur[SCHEMA_PATH_MAX];

	if (la >= SCHEMA_PATH_MAX || lb >= SCHEMA_PATH_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

struct suggestion {
	const char *wanted;
	char best[SCHEMA_PATH_MAX];
	size_t distance;
};

static void suggest(struct suggestion *sg, const char *candidate)
{
	size_t d = edit_distance(sg->wanted, candidate);

	if (d < sg->distance) {
		sg->distance = d;
		snprintf(sg->best, sizeof(sg->best), "%s", candidate);
	}
}

static int suggest_field(const char *path, const struct protocol_field *f, void *ctx)
{
	suggest(ctx, path);
	return 0;
}

/* The field or word nearest to an unknown one, when near enough to be a typo. */
static const char *nearest_name(struct suggestion *sg, const char *wanted)
{
	*sg = (struct suggestion){.wanted = wanted, .distance = SIZE_MAX};
	schema_walk(protocol_common_fields, suggest_field, sg);
	suggest(sg, "timestamp");
	for (const struct protocol_desc *const *p = protocols; *p; p++) {
		for (const struct protocol_word *w = (*p)->words; w && w->word; w++)
			suggest(sg, w->word);
		schema_walk((*p)->fields, suggest_field, sg);
	}
	return sg->distance <= 2 + strlen(wanted) / 8 ? sg->best : NULL;
}

/* Does l fit n's field of type ref (every literal of an `in` list)? why: the first misfit. */
static bool fits(const struct kfl_node *n, const struct field_ref *ref, char *why, size_t size)
{
	if (n->kind != K_CMP && n->kind != K_IN)
		return true;
	for (size_t i = 0; i < n->nlits; i++)
		if (type_mismatch(n, &n->lits[i], ref, why, size))
			return false;
	return true;
}

/*
 * Resolve n's field against every table (common fields and each protocol's): unknown
 * nowhere, or of a type n cannot compare with everywhere, is an error at the field's column.
 */
static void check_field(struct parser *ps, const struct kfl_node *n)
{
	const char *comps[SCHEMA_DEPTH_MAX], *near;
	char why[320] = "", w[sizeof(why)];
	struct suggestion sg;
	struct field_ref ref;
	bool found_it = false;
	int col = n->path.col;

	if (n->path.timestamp) {
		ref = (struct field_ref){.type = FIELD_TIMESTAMP};
		if (!fits(n, &ref, why, sizeof(why)))
			fail_col(ps, col, "%s", why);
		return;
	}
	for (size_t i = 0; i < n->path.n; i++)
		if (!*n->path.comps[i].key) {
			fail_col(ps, col, "'%s' is not a field path", n->path.text);
			return;
		}
	if (n->path.n > SCHEMA_DEPTH_MAX || strlen(n->path.text) >= SCHEMA_PATH_MAX) {
		fail_col(ps, col, "'%.40s...' is not a field path (too long)", n->path.text);
		return;
	}
	for (size_t i = 0; i < n->path.n; i++)
		comps[i] = n->path.comps[i].key;
	/* i == 0: the common fields; i > 0: protocols[i - 1]'s. */
	for (size_t i = 0; !i || protocols[i - 1]; i++) {
		const struct protocol_field *table =
		    i ? protocols[i - 1]->fields : protocol_common_fields;

		if (!schema_resolve(table, comps, n->path.n, &ref))
			continue;
		found_it = true;
		if (fits(n, &ref, w, sizeof(w)))
			return;
		if (!why[0])
			memcpy(why, w, sizeof(why));
	}
	if (found_it) {
		fail_col(ps, col, "%s", why);
		return;
	}
	near = nearest_name(&sg, n->path.text);
	if (near)
		fail_col(ps, col, "unknown field '%s' (did you mean '%s'?)", n->path.text, near);
	else
		fail_col(ps, col, "unknown field '%s' (`floe schema` lists them)", n->path.text);
}

/* ---- terms ---- */

static bool is_keyword(const char *w)
{
	static const char *const kw[] = {"and", "or", "not", "in", "contains"};

	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (!strcmp(w, kw[i]))
			return true;
	return false;
}

/* The literals' texts and integers, for kfl_capture_scope. */
static bool index_lits(struct parser *ps, struct kfl_node *n)
{
	bool ints = true;

	n->texts = calloc(n->nlits ? n->nlits : 1, sizeof(*n->texts));
	n->ints = calloc(n->nlits ? n->nlits : 1, sizeof(*n->ints));
	if (!n->texts || !n->ints) {
		fail_nomem(ps);
		return false;
	}
	for (size_t i = 0; i < n->nlits; i++) {
		const struct kfl_lit *l = &n->lits[i];

		n->texts[i] = l->text;
		if (l->is_num && l->unit == UNIT_NONE && l->num > -9e18 && l->num < 9e18 &&
		    l->num == (double)(int64_t)l->num)
			n->ints[i] = (int64_t)l->num;
		else
			ints = false;
	}
	if (!ints) {
		free(n->ints);
		n->ints = NULL;
	}
	return true;
}

static bool add_lit(struct parser *ps, struct kfl_node *n, const char *after)
{
	struct kfl_lit *l = realloc(n->lits, (n->nlits + 1) * sizeof(*l));

	if (!l) {
		fail_nomem(ps);
		return false;
	}
	n->lits = l;
	if (!read_lit(ps, &n->lits[n->nlits], after)) {
		free(n->lits[n->nlits].text);
		return false;
	}
	n->nlits++;
	return true;
}

static bool compile_regex(struct parser *ps, struct kfl_node *n)
{
	const struct kfl_lit *l = &n->lits[0];
	int rc = regcomp(&n->re, l->text, REG_EXTENDED | REG_NOSUB);

	if (rc) {
		char msg[128];

		regerror(rc, &n->re, msg, sizeof(msg));
		fail_col(ps, l->col, "bad regular expression \"%s\": %s", l->text, msg);
		return false;
	}
	n->has_re = true;
	return true;
}

/* field in [v, ...] (after "in"). */
static bool parse_in_list(struct parser *ps, struct kfl_node *n)
{
	char buf[32];

	skip_ws(ps);
	if (*ps->p != '[') {
		fail_col(ps, col_at(ps, ps->p), "expected '[' after 'in', found %s",
			 found(ps->p, buf, sizeof(buf)));
		return false;
	}
	ps->p++;
	if (accept(ps, "]"))
		return true;
	for (const char *after = "[";; after = ",") {
		if (!add_lit(ps, n, after))
			return false;
		if (accept(ps, "]"))
			return true;
		if (!accept(ps, ",")) {
			fail_col(ps, col_at(ps, ps->p), "expected ',' or ']' in the list, found %s",
				 found(ps->p, buf, sizeof(buf)));
			return false;
		}
	}
}

/* exists(path) (at "exists"). */
static struct kfl_node *parse_exists(struct parser *ps)
{
	struct kfl_node *n = node_new(ps, K_EXISTS);
	char buf[32];
	int helper;

	if (!n)
		return NULL;
	accept(ps, "exists");
	accept(ps, "(");
	skip_ws(ps);
	if (!is_word_char((unsigned char)*ps->p)) {
		fail_col(ps, col_at(ps, ps->p), "expected a field after 'exists(', found %s",
			 found(ps->p, buf, sizeof(buf)));
	} else if (read_path(ps, &n->path, &helper)) {
		skip_ws(ps);
		if (helper >= 0 || *ps->p != ')')
			fail_col(ps, col_at(ps, ps->p), "expected ')' after the field, found %s",
				 found(ps->p, buf, sizeof(buf)));
		else
			ps->p++;
	}
	if (!ps->failed && ps->check)
		check_field(ps, n);
	if (ps->failed) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* path.helper(value) (after the "("'s position). */
static bool parse_helper(struct parser *ps, struct kfl_node *n, int helper)
{
	char after[32], buf[32];

	n->op = helpers[helper].op;
	accept(ps, "(");
	snprintf(after, sizeof(after), "%s(", helpers[helper].name);
	if (!add_lit(ps, n, after))
		return false;
	if (!accept(ps, ")")) {
		fail_col(ps, col_at(ps, ps->p), "expected ')' to close '%s', found %s", after,
			 found(ps->p, buf, sizeof(buf)));
		return false;
	}
	return true;
}

static struct kfl_node *parse_term(struct parser *ps)
{
	static const struct {
		const char *sym;
		enum kfl_op op;
	} ops[] = {
	    {"==", OP_EQ},   {"!=", OP_NE}, {"<=", OP_LE},
	    {">=", OP_GE},   {"<", OP_LT},  {">", OP_GT},
	    {"~", OP_REGEX}, {"=", OP_EQ},  {"contains", OP_CONTAINS},
	};
	const struct protocol_word *pw = NULL;
	struct kfl_node *n;
	char buf[32];
	size_t i;
	int helper;

	skip_ws(ps);
	if (!is_word_char((unsigned char)*ps->p)) {
		fail_col(ps, col_at(ps, ps->p), "expected a field or protocol name, found %s",
			 found(ps->p, buf, sizeof(buf)));
		return NULL;
	}
	if (!strncmp(ps->p, "exists", 6) && !is_word_char((unsigned char)ps->p[6])) {
		const char *q = ps->p + 6;

		while (isspace((unsigned char)*q))
			q++;
		if (*q == '(')
			return parse_exists(ps);
	}
	n = node_new(ps, K_CMP);
	if (!n)
		return NULL;
	if (!read_path(ps, &n->path, &helper))
		goto fail;
	if (n->path.n == 1 && is_keyword(n->path.text)) {
		fail_col(ps, n->path.col, "expected a field or protocol name, found '%s'",
			 n->path.text);
		goto fail;
	}
	if (helper >= 0) {
		if (!parse_helper(ps, n, helper))
			goto fail;
	} else if (accept(ps, "in")) {
		n->kind = K_IN;
		if (!parse_in_list(ps, n))
			goto fail;
	} else {
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (accept(ps, ops[i].sym))
				break;
		if (i == sizeof(ops) / sizeof(ops[0])) {
			/* A bare word: a protocol's, else a field's presence. */
			bool word =
			    n->path.n == 1 && !n->path.comps[0].any && !strchr(n->path.text, '[');

			/* `tls` first: the handshake entries (protocol tls) and the plaintext
			 * read through uprobes ("tls": true) alike, whatever its descriptor says. */
			if (word && !strcmp(n->path.text, "tls")) {
				n->kind = K_TLS;
			} else {
				n->owner = word ? protocol_find_word(n->path.text, &pw) : NULL;
				n->word = pw;
				n->kind = n->owner ? K_PROTO : K_TRUTHY;
			}
		} else {
			n->op = ops[i].op;
			if (!add_lit(ps, n, ops[i].sym))
				goto fail;
		}
	}
	if ((n->kind == K_CMP || n->kind == K_IN) && !index_lits(ps, n))
		goto fail;
	if (n->kind == K_CMP && n->op == OP_REGEX && !compile_regex(ps, n))
		goto fail;
	if (ps->check && n->kind != K_PROTO && n->kind != K_TLS)
		check_field(ps, n);
	if (ps->failed)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

static struct kfl_node *parse_or(struct parser *ps);

static struct kfl_node *parse_unary(struct parser *ps)
{
	struct kfl_node *n = NULL, *inner;
	char buf[32];

	if (++ps->depth > KFL_MAX_DEPTH) {
		skip_ws(ps);
		fail_col(ps, col_at(ps, ps->p), "nested too deeply (more than %d levels)",
			 KFL_MAX_DEPTH);
		return NULL;
	}
	if (accept(ps, "not") || accept(ps, "!")) {
		inner = parse_unary(ps);
		if (inner) {
			n = node_new(ps, K_NOT);
			if (!n || !add_kid(ps, n, inner)) {
				node_free(inner);
				node_free(n);
				n = NULL;
			}
		}
	} else if (accept(ps, "(")) {
		n = parse_or(ps);
		if (n && !accept(ps, ")")) {
			fail_col(ps, col_at(ps, ps->p), "expected ')', found %s",
				 found(ps->p, buf, sizeof(buf)));
			node_free(n);
			n = NULL;
		}
	} else {
		n = parse_term(ps);
	}
	ps->depth--;
	return n;
}

/* A chain of and (or of or): one node with a kid per operand, or the single operand. */
static struct kfl_node *parse_chain(struct parser *ps, bool is_or)
{
	struct kfl_node *first = is_or ? parse_chain(ps, false) : parse_unary(ps), *n, *kid;

	if (!first)
		return NULL;
	if (!(is_or ? (accept(ps, "or") || accept(ps, "||"))
		    : (accept(ps, "and") || accept(ps, "&&"))))
		return first;
	n = node_new(ps, is_or ? K_OR : K_AND);
	if (!n || !add_kid(ps, n, first)) {
		node_free(first);
		node_free(n);
		return NULL;
	}
	do {
		kid = is_or ? parse_chain(ps, false) : parse_unary(ps);
		if (!kid || !add_kid(ps, n, kid)) {
			node_free(kid);
			node_free(n);
			return NULL;
		}
	} while (is_or ? (accept(ps, "or") || accept(ps, "||"))
		       : (accept(ps, "and") || accept(ps, "&&")));
	return n;
}

static struct kfl_node *parse_or(struct parser *ps)
{
	return parse_chain(ps, true);
}

int kfl_compile(const char *text, const struct kfl_options *opts, struct kfl **out, char *err,
		size_t errlen)
{
	struct parser ps = {.s = text, .p = text, .err = err, .errlen = errlen};
	struct kfl_node *root;
	struct timespec ts;
	struct kfl *q;
	char buf[32];

	if (errlen)
		err[0] = 0;
	ps.check = opts && (opts->flags & KFL_CHECK_SCHEMA);
	ps.now = opts ? opts->now_ns : 0;
	if (!ps.now) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ps.now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	root = parse_or(&ps);
	skip_ws(&ps);
	if (root && *ps.p) {
		fail_col(&ps, col_at(&ps, ps.p),
			 "unexpected %s: expected 'and', 'or' or the end of the query",
			 found(ps.p, buf, sizeof(buf)));
		node_free(root);
		root = NULL;
	}
	if (!root)
		return ps.nomem ? -ENOMEM : -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q) {
		fail_nomem(&ps);
		node_free(root);
		return -ENOMEM;
	}
	q->root = root;
	*out = q;
	return 0;
}

void kfl_free(struct kfl *q)
{
	if (!q)
		return;
	node_free(q->root);
	free(q);
}
