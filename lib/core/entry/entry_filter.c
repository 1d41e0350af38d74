// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_filter.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/protocol.h"
#include "protocols/schema.h"

#define FILTER_MAX_DEPTH 64 /* nesting of parentheses and not */

enum node_kind { N_AND, N_OR, N_NOT, N_PROTO, N_TRUTHY, N_CMP };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_CONTAINS, OP_REGEX };

struct node {
	enum node_kind kind;
	struct node *a, *b;
	char *path;   /* N_TRUTHY, N_CMP; N_PROTO: the name */
	const struct protocol_desc *owner; /* N_PROTO: the protocol declaring the word */
	const struct protocol_word *word;
	enum cmp_op op;
	char *str;    /* the value as text */
	bool quoted;  /* the value was a "string" (else a bare word or number) */
	bool is_num;
	double num;
	bool has_re;
	regex_t re;
};

struct entry_filter {
	struct node *root;
};

struct parser {
	const char *s, *p;
	char *err;
	size_t errlen;
	int depth;
	bool check_schema; /* resolve fields against the schema (protocols/schema.h) */
	bool failed, nomem;
};

static void vfail_at(struct parser *ps, const char *label, int pos, const char *fmt, va_list ap)
{
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	n = snprintf(ps->err, ps->errlen, "%s %d: ", label, pos);
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
}

/* A schema error: "column N: ..." at the field's first character (1-based). */
static void fail_column(struct parser *ps, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(ps, "column", col, fmt, ap);
	va_end(ap);
}

/* A syntax error at the parser's position. */
static void fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(ps, "position", (int)(ps->p - ps->s) + 1, fmt, ap);
	va_end(ap);
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	free(n->path);
	free(n->str);
	if (n->has_re)
		regfree(&n->re);
	free(n);
}

static struct node *node_new(struct parser *ps, enum node_kind k)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n) {
		ps->nomem = true;
		fail(ps, "out of memory");
	}
	if (n)
		n->kind = k;
	return n;
}

static void skip_ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static bool is_word_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/' || c == ':' || c == '*';
}

/* The next token is the keyword or symbol kw (words must end at a non-word char). */
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

static char *read_word(struct parser *ps)
{
	const char *b;

	skip_ws(ps);
	b = ps->p;
	while (is_word_char((unsigned char)*ps->p))
		ps->p++;
	if (ps->p == b)
		return NULL;
	return strndup(b, ps->p - b);
}

static char *read_string(struct parser *ps)
{
	size_t cap = strlen(ps->p) + 1, o = 0;
	char *out = malloc(cap);

	if (!out) {
		ps->nomem = true;
		return NULL;
	}
	ps->p++; /* opening quote */
	while (*ps->p && *ps->p != '"') {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		out[o++] = *ps->p++;
	}
	if (*ps->p != '"') {
		free(out);
		fail(ps, "unterminated string");
		return NULL;
	}
	ps->p++;
	out[o] = 0;
	return out;
}

/* ---- the schema: fields resolve, values fit their types ---- */

static bool is_numeric(enum field_type t)
{
	return t == FIELD_INTEGER || t == FIELD_REAL || t == FIELD_DURATION_MS || t == FIELD_BYTES;
}

static bool is_ordering(enum cmp_op op)
{
	return op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
}

static const char *op_text(enum cmp_op op)
{
	static const char *const text[] = { "==", "!=", "<", "<=", ">", ">=", "contains", "~" };

	return text[op];
}

/* "an integer", "a string" */
static const char *article(const char *type)
{
	return strchr("aeiou", type[0]) ? "an" : "a";
}

/* Why comparison n cannot apply to a field of type ref (into why), or NULL when it can. */
static const char *type_mismatch(const struct node *n, const struct field_ref *ref, char *why,
				 size_t size)
{
	char type[64];
	const char *a;

	field_type_format(ref->type, ref->elem, type, sizeof(type));
	a = article(type);
	if (ref->type == FIELD_ANY)
		return NULL;
	if (ref->type == FIELD_OBJECT || ref->type == FIELD_MAP || ref->type == FIELD_ARRAY)
		snprintf(why, size, "'%s' is %s %s: compare one of its %s", n->path, a, type,
			 ref->type == FIELD_ARRAY ? "elements ('.0')" : "fields");
	else if ((n->op == OP_CONTAINS || n->op == OP_REGEX) && ref->type != FIELD_STRING &&
		 ref->type != FIELD_TIMESTAMP)
		snprintf(why, size, "'%s' matches text, and '%s' is %s %s", op_text(n->op), n->path,
			 a, type);
	else if (is_ordering(n->op) && !is_numeric(ref->type) && ref->type != FIELD_TIMESTAMP)
		snprintf(why, size, "'%s' orders numbers and timestamps, and '%s' is %s %s",
			 op_text(n->op), n->path, a, type);
	else if (is_numeric(ref->type) && !n->is_num)
		snprintf(why, size, "'%s' is %s %s, and \"%s\" is not a number", n->path, a, type,
			 n->str);
	else if (ref->type == FIELD_BOOLEAN && strcmp(n->str, "true") && strcmp(n->str, "false"))
		snprintf(why, size, "'%s' is a boolean: compare it with true or false", n->path);
	else if ((ref->type == FIELD_STRING || ref->type == FIELD_TIMESTAMP) && n->is_num &&
		 !n->quoted)
		snprintf(why, size, "'%s' is %s %s, compared with the number %s (quote it: \"%s\")",
			 n->path, a, type, n->str, n->str);
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
	*sg = (struct suggestion){ .wanted = wanted, .distance = SIZE_MAX };
	schema_walk(protocol_common_fields, suggest_field, sg);
	for (const struct protocol_desc *const *p = protocols; *p; p++) {
		for (const struct protocol_word *w = (*p)->words; w && w->word; w++)
			suggest(sg, w->word);
		schema_walk((*p)->fields, suggest_field, sg);
	}
	return sg->distance <= 2 + strlen(wanted) / 8 ? sg->best : NULL;
}

/*
 * Resolve n's field against every table (common fields and each protocol's): unknown
 * nowhere, or of a type n cannot compare with everywhere, is an error at column col.
 */
static void check_field(struct parser *ps, const struct node *n, int col)
{
	char buf[SCHEMA_PATH_MAX], why[256] = "";
	const char *comps[SCHEMA_DEPTH_MAX], *near;
	struct suggestion sg;
	struct field_ref ref;
	bool found = false;
	int nc = schema_split(n->path, buf, sizeof(buf), comps, SCHEMA_DEPTH_MAX);

	if (nc < 0) {
		fail_column(ps, col, "'%s' is not a field path", n->path);
		return;
	}
	/* i == 0: the common fields; i > 0: protocols[i - 1]'s. */
	for (size_t i = 0; !i || protocols[i - 1]; i++) {
		const struct protocol_field *table = i ? protocols[i - 1]->fields
						       : protocol_common_fields;
		char w[sizeof(why)];

		if (!schema_resolve(table, comps, nc, &ref))
			continue;
		found = true;
		if (n->kind != N_CMP || !type_mismatch(n, &ref, w, sizeof(w)))
			return;
		if (!why[0])
			memcpy(why, w, sizeof(why));
	}
	if (found) {
		fail_column(ps, col, "%s", why);
		return;
	}
	near = nearest_name(&sg, n->path);
	if (near)
		fail_column(ps, col, "unknown field '%s' (did you mean '%s'?)", n->path, near);
	else
		fail_column(ps, col, "unknown field '%s' (`floe schema` lists them)", n->path);
}

static struct node *parse_or(struct parser *ps);

static struct node *parse_term(struct parser *ps)
{
	static const struct {
		const char *sym;
		enum cmp_op op;
	} ops[] = {
		{ "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE }, { "<", OP_LT },
		{ ">", OP_GT },	 { "~", OP_REGEX }, { "contains", OP_CONTAINS }, { "=", OP_EQ },
	};
	const struct protocol_desc *owner;
	const struct protocol_word *pw = NULL;
	struct node *n;
	char *word, *end;
	unsigned i;
	int col;

	skip_ws(ps);
	col = (int)(ps->p - ps->s) + 1;
	word = read_word(ps);
	if (!word) {
		fail(ps, *ps->p ? "expected a field or protocol name at '%.10s'"
				: "expected a field or protocol name at the end",
		     ps->p);
		return NULL;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (accept(ps, ops[i].sym))
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		owner = protocol_find_word(word, &pw);
		n = node_new(ps, owner ? N_PROTO : N_TRUTHY);
		if (!n) {
			free(word);
			return NULL;
		}
		n->path = word;
		n->owner = owner;
		n->word = pw;
		if (!owner && ps->check_schema)
			check_field(ps, n, col);
		if (ps->failed) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	n = node_new(ps, N_CMP);
	if (!n) {
		free(word);
		return NULL;
	}
	n->path = word;
	n->op = ops[i].op;
	skip_ws(ps);
	n->quoted = *ps->p == '"';
	if (n->quoted)
		n->str = read_string(ps);
	else
		n->str = read_word(ps);
	if (!n->str) {
		fail(ps, "expected a value after '%s'", ops[i].sym);
		node_free(n);
		return NULL;
	}
	n->num = strtod(n->str, &end);
	n->is_num = *n->str && !*end;
	if (n->op == OP_REGEX) {
		int rc = regcomp(&n->re, n->str, REG_EXTENDED | REG_NOSUB);

		if (rc) {
			char msg[128];

			regerror(rc, &n->re, msg, sizeof(msg));
			fail(ps, "bad regular expression \"%s\": %s", n->str, msg);
			node_free(n);
			return NULL;
		}
		n->has_re = true;
	}
	if (ps->check_schema)
		check_field(ps, n, col);
	if (ps->failed) {
		node_free(n);
		return NULL;
	}
	return n;
}

static struct node *parse_unary(struct parser *ps)
{
	struct node *n, *inner;

	if (++ps->depth > FILTER_MAX_DEPTH) {
		fail(ps, "nested too deeply");
		return NULL;
	}
	if (accept(ps, "not") || accept(ps, "!")) {
		inner = parse_unary(ps);
		if (!inner)
			return NULL;
		n = node_new(ps, N_NOT);
		if (!n) {
			node_free(inner);
			return NULL;
		}
		n->a = inner;
	} else if (accept(ps, "(")) {
		n = parse_or(ps);
		if (n && !accept(ps, ")")) {
			fail(ps, "expected ')'");
			node_free(n);
			n = NULL;
		}
	} else {
		n = parse_term(ps);
	}
	ps->depth--;
	return n;
}

static struct node *parse_binary(struct parser *ps, bool is_or)
{
	struct node *l = is_or ? parse_binary(ps, false) : parse_unary(ps), *r, *n;

	while (l && (is_or ? (accept(ps, "or") || accept(ps, "||"))
			   : (accept(ps, "and") || accept(ps, "&&")))) {
		r = is_or ? parse_binary(ps, false) : parse_unary(ps);
		n = r ? node_new(ps, is_or ? N_OR : N_AND) : NULL;
		if (!n) {
			node_free(l);
			node_free(r);
			return NULL;
		}
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct node *parse_or(struct parser *ps)
{
	return parse_binary(ps, true);
}

static int compile(const char *text, bool check_schema, struct entry_filter **out, char *err,
		   size_t errlen)
{
	struct parser ps = { .s = text, .p = text, .err = err, .errlen = errlen,
			     .check_schema = check_schema };
	struct entry_filter *f;
	struct node *root;

	if (errlen)
		err[0] = 0;
	root = parse_or(&ps);
	skip_ws(&ps);
	if (root && *ps.p) {
		fail(&ps, "unexpected '%.10s'", ps.p);
		node_free(root);
		root = NULL;
	}
	if (!root)
		return ps.nomem ? -ENOMEM : -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		node_free(root);
		return -ENOMEM;
	}
	f->root = root;
	*out = f;
	return 0;
}

int entry_filter_compile(const char *text, struct entry_filter **out, char *err, size_t errlen)
{
	return compile(text, false, out, err, errlen);
}

int entry_filter_compile_checked(const char *text, struct entry_filter **out, char *err,
				 size_t errlen)
{
	return compile(text, true, out, err, errlen);
}

void entry_filter_free(struct entry_filter *f)
{
	if (!f)
		return;
	node_free(f->root);
	free(f);
}

/* Walk a dotted path; numeric components index arrays. */
static const json_t *lookup(const json_t *v, const char *path)
{
	char comp[256];
	const char *p = path, *dot;

	while (v && *p) {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(comp))
			return NULL;
		memcpy(comp, p, n);
		comp[n] = 0;
		if (json_is_array(v)) {
			char *end;
			unsigned long i = strtoul(comp, &end, 10);

			v = (*comp && !*end) ? json_array_get(v, i) : NULL;
		} else {
			v = json_object_get(v, comp);
		}
		p += n + (dot ? 1 : 0);
	}
	return v;
}

static bool truthy(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
	case JSON_TRUE:
		return true;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	default:
		return false;
	}
}

static bool compare(const struct node *n, const json_t *v)
{
	char numbuf[64];
	const char *s = NULL;
	int c;

	if (!v || json_is_null(v))
		return n->op == OP_NE;
	if (json_is_number(v) && n->is_num && n->op != OP_CONTAINS && n->op != OP_REGEX) {
		double d = json_number_value(v);

		switch (n->op) {
		case OP_EQ: return d == n->num;
		case OP_NE: return d != n->num;
		case OP_LT: return d < n->num;
		case OP_LE: return d <= n->num;
		case OP_GT: return d > n->num;
		case OP_GE: return d >= n->num;
		default: return false;
		}
	}
	if (json_is_string(v)) {
		s = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(numbuf, sizeof(numbuf), "%lld", (long long)json_integer_value(v));
		s = numbuf;
	} else if (json_is_real(v)) {
		snprintf(numbuf, sizeof(numbuf), "%g", json_real_value(v));
		s = numbuf;
	} else if (json_is_boolean(v)) {
		s = json_is_true(v) ? "true" : "false";
	} else {
		return n->op == OP_NE;
	}
	switch (n->op) {
	case OP_CONTAINS:
		return strstr(s, n->str) != NULL;
	case OP_REGEX:
		return regexec(&n->re, s, 0, NULL, 0) == 0;
	default:
		break;
	}
	c = strcmp(s, n->str);
	switch (n->op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return false;
	}
}

static bool eval(const struct node *n, const json_t *e)
{

	switch (n->kind) {
	case N_AND:
		return eval(n->a, e) && eval(n->b, e);
	case N_OR:
		return eval(n->a, e) || eval(n->b, e);
	case N_NOT:
		return !eval(n->a, e);
	case N_PROTO:
		/* A word selects its protocol's entries (by version for http1/http2: RESP "2" is
		 * not HTTP/2) and those of children that list it (GraphQL for http1/http2). */
		return protocol_word_selects(n->owner, n->word,
					     json_string_value(json_object_get(e, "protocol")),
					     json_string_value(json_object_get(e, "version")));
	case N_TRUTHY:
		return truthy(lookup(e, n->path));
	case N_CMP:
		return compare(n, lookup(e, n->path));
	}
	return false;
}

bool entry_filter_match(const struct entry_filter *f, const json_t *entry)
{
	return !f || eval(f->root, entry);
}
