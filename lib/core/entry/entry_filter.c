// SPDX-License-Identifier: Apache-2.0
#include "entry/entry_filter.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_MAX_DEPTH 64 /* nesting of parentheses and not */

enum node_kind { N_AND, N_OR, N_NOT, N_PROTO, N_TRUTHY, N_CMP };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_CONTAINS, OP_REGEX };

struct node {
	enum node_kind kind;
	struct node *a, *b;
	char *path;   /* N_TRUTHY, N_CMP; N_PROTO: the name */
	enum cmp_op op;
	char *str;    /* the value as text */
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
	bool failed, nomem;
};

static void fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	n = snprintf(ps->err, ps->errlen, "position %d: ", (int)(ps->p - ps->s) + 1);
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
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

static const char *const protocol_words[] = { "http", "http1", "http2", "grpc", "graphql",
					      "amqp", "redis", "kafka", "dns", NULL };

static bool is_protocol_word(const char *w)
{
	unsigned i;

	for (i = 0; protocol_words[i]; i++)
		if (!strcmp(w, protocol_words[i]))
			return true;
	return false;
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
	struct node *n;
	char *word, *end;
	unsigned i;

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
		n = node_new(ps, is_protocol_word(word) ? N_PROTO : N_TRUTHY);
		if (!n) {
			free(word);
			return NULL;
		}
		n->path = word;
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
	if (*ps->p == '"')
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

int entry_filter_compile(const char *text, struct entry_filter **out, char *err, size_t errlen)
{
	struct parser ps = { .s = text, .p = text, .err = err, .errlen = errlen };
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
	const char *proto, *ver;

	switch (n->kind) {
	case N_AND:
		return eval(n->a, e) && eval(n->b, e);
	case N_OR:
		return eval(n->a, e) || eval(n->b, e);
	case N_NOT:
		return !eval(n->a, e);
	case N_PROTO:
		proto = json_string_value(json_object_get(e, "protocol"));
		ver = json_string_value(json_object_get(e, "version"));
		if (!proto)
			return false;
		/* Only HTTP's versions: other protocols have a "version" of their own (RESP "2"
		 * is not HTTP/2). */
		if (!strcmp(n->path, "http2"))
			return ver && !strcmp(ver, "2") &&
			       (!strcmp(proto, "http") || !strcmp(proto, "graphql"));
		if (!strcmp(n->path, "http1"))
			return ver && ver[0] == '1' &&
			       (!strcmp(proto, "http") || !strcmp(proto, "graphql"));
		if (!strcmp(n->path, "http")) /* GraphQL and gRPC ride on HTTP */
			return !strcmp(proto, "http") || !strcmp(proto, "graphql") ||
			       !strcmp(proto, "grpc");
		return !strcmp(proto, n->path);
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
