// SPDX-License-Identifier: Apache-2.0
#include "dissect/graphql.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define GRAPHQL_MAX_ERRORS 5 /* error messages kept from a response */

/* A tiny GraphQL lexer: just enough to find operation definitions (spec "Language"). */
struct lex {
	const char *p, *end;
};

static bool is_name_start(int c)
{
	return c == '_' || isalpha(c);
}

static bool is_name_char(int c)
{
	return c == '_' || isalnum(c);
}

/* Skip ignored tokens: whitespace, commas, comments, BOM. */
static void skip_ignored(struct lex *l)
{
	while (l->p < l->end) {
		unsigned char c = (unsigned char)*l->p;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
			l->p++;
		} else if (c == '#') {
			while (l->p < l->end && *l->p != '\n' && *l->p != '\r')
				l->p++;
		} else if (c == 0xef && l->end - l->p >= 3 && (unsigned char)l->p[1] == 0xbb &&
			   (unsigned char)l->p[2] == 0xbf) {
			l->p += 3;
		} else {
			return;
		}
	}
}

/* Read a Name token at l->p into [*s, *s + *n); false if none. */
static bool read_name(struct lex *l, const char **s, size_t *n)
{
	const char *b;

	skip_ignored(l);
	if (l->p >= l->end || !is_name_start((unsigned char)*l->p))
		return false;
	b = l->p;
	while (l->p < l->end && is_name_char((unsigned char)*l->p))
		l->p++;
	*s = b;
	*n = (size_t)(l->p - b);
	return true;
}

/* Skip a string token ("..." or """...""") starting at l->p. */
static void skip_string(struct lex *l)
{
	if (l->end - l->p >= 3 && !memcmp(l->p, "\"\"\"", 3)) {
		l->p += 3;
		while (l->p < l->end) {
			if (*l->p == '\\' && l->end - l->p >= 4 && !memcmp(l->p + 1, "\"\"\"", 3))
				l->p += 4;
			else if (l->end - l->p >= 3 && !memcmp(l->p, "\"\"\"", 3)) {
				l->p += 3;
				return;
			} else
				l->p++;
		}
		return;
	}
	l->p++;
	while (l->p < l->end && *l->p != '"' && *l->p != '\n') {
		if (*l->p == '\\' && l->p + 1 < l->end)
			l->p++;
		l->p++;
	}
	if (l->p < l->end)
		l->p++;
}

/* Skip to just after the selection set that starts at the next '{' (nesting, strings). */
static bool skip_definition(struct lex *l)
{
	int depth = 0;

	while (l->p < l->end) {
		char c = *l->p;

		if (c == '"') {
			skip_string(l);
			continue;
		}
		if (c == '#') {
			skip_ignored(l);
			continue;
		}
		l->p++;
		if (c == '{')
			depth++;
		else if (c == '}' && --depth <= 0)
			return depth == 0;
	}
	return false;
}

int graphql_operation(const char *doc, size_t len, const char *want, const char **type,
		      char *name, size_t name_size)
{
	struct lex l = { doc, doc + len };
	bool any = false;

	if (want && !*want)
		want = NULL;
	for (;;) {
		const char *s, *ns = "", *t;
		size_t n, nn = 0;

		skip_ignored(&l);
		if (l.p >= l.end)
			return -1;
		if (*l.p == '{') {
			struct lex sel = { l.p + 1, l.end };

			/* A selection set starts with a field name or a spread, and is closed. */
			skip_ignored(&sel);
			if (sel.p >= sel.end || !(is_name_start((unsigned char)*sel.p) || *sel.p == '.'))
				return -1;
			sel.p = l.p;
			if (!skip_definition(&sel))
				return -1;
			/* shorthand query: anonymous, matches only when no name is wanted */
			if (!want) {
				*type = "query";
				if (name_size)
					name[0] = 0;
				return 0;
			}
			if (!skip_definition(&l))
				return -1;
			any = true;
			continue;
		}
		if (!read_name(&l, &s, &n))
			return -1;
		if (n == 8 && !memcmp(s, "fragment", 8)) {
			if (!skip_definition(&l))
				return -1;
			any = true;
			continue;
		}
		if (n == 5 && !memcmp(s, "query", 5))
			t = "query";
		else if (n == 8 && !memcmp(s, "mutation", 8))
			t = "mutation";
		else if (n == 12 && !memcmp(s, "subscription", 12))
			t = "subscription";
		else
			return -1; /* not an executable GraphQL document (or SDL) */
		{
			struct lex save = l;

			if (read_name(&l, &ns, &nn)) {
				/* a name follows the keyword */
			} else {
				l = save;
				ns = "";
				nn = 0;
			}
		}
		if (!want || (strlen(want) == nn && !memcmp(want, ns, nn))) {
			struct lex rest = l;

			if (!skip_definition(&rest))
				return -1; /* not closed: not a document */
			*type = t;
			if (name_size) {
				if (nn >= name_size)
					nn = name_size - 1;
				memcpy(name, ns, nn);
				name[nn] = 0;
			}
			return 0;
		}
		if (!skip_definition(&l))
			return -1;
		any = true;
	}
	(void)any;
}

static const char *body_text(const json_t *msg)
{
	return json_string_value(json_object_get(json_object_get(msg, "body"), "text"));
}

/* Fill g from one {"query", "operationName", "variables"} object; 0 if it is GraphQL. */
static int from_request_object(json_t *g, const json_t *req)
{
	const char *q = json_string_value(json_object_get(req, "query"));
	const char *want = json_string_value(json_object_get(req, "operationName"));
	const json_t *vars = json_object_get(req, "variables");
	const json_t *ext = json_object_get(req, "extensions");
	const char *type;
	char name[256];

	if (q) {
		if (graphql_operation(q, strlen(q), want, &type, name, sizeof(name)))
			return -1;
		json_object_set_new(g, "operation_type", json_string(type));
		json_object_set_new(g, "operation_name", json_string(want ? want : name));
		json_object_set_new(g, "query", json_string(q));
	} else if (want && json_object_get(ext, "persistedQuery")) {
		/* Automatic persisted query: the hash stands for the text. */
		json_object_set_new(g, "operation_name", json_string(want));
		json_object_set(g, "persisted_query", json_object_get(ext, "persistedQuery"));
	} else {
		return -1;
	}
	if (vars && !json_is_null(vars))
		json_object_set(g, "variables", (json_t *)vars);
	return 0;
}

static int from_json_body(json_t *g, const char *text)
{
	json_error_t err;
	json_t *doc = json_loads(text, JSON_DECODE_ANY, &err);
	int ret = -1;

	if (!doc)
		return -1;
	if (json_is_object(doc)) {
		ret = from_request_object(g, doc);
	} else if (json_is_array(doc) && json_array_size(doc) > 0) {
		/* batched operations: the first one describes the entry */
		ret = from_request_object(g, json_array_get(doc, 0));
		if (!ret)
			json_object_set_new(g, "batch_size", json_integer(json_array_size(doc)));
	}
	json_decref(doc);
	return ret;
}

static void add_response_errors(json_t *g, const json_t *resp)
{
	const char *text = body_text(resp);
	json_t *doc, *errs, *list, *e;
	size_t i;

	if (!text)
		return;
	doc = json_loads(text, 0, NULL);
	errs = json_object_get(doc, "errors");
	if (json_is_array(errs)) {
		json_object_set_new(g, "error_count", json_integer(json_array_size(errs)));
		list = json_array();
		json_array_foreach(errs, i, e) {
			const char *m = json_string_value(json_object_get(e, "message"));

			if (i >= GRAPHQL_MAX_ERRORS)
				break;
			if (m)
				json_array_append_new(list, json_string(m));
		}
		json_object_set_new(g, "errors", list);
	} else if (doc) {
		json_object_set_new(g, "error_count", json_integer(0));
	}
	json_decref(doc);
}

int graphql_annotate(struct entry *e)
{
	struct entry_value rq, ctv, tv, qv;
	const json_t *req;
	const char *ct, *text, *q;
	json_t *g;
	int ok = -1;

	/* Nothing to look at (most HTTP entries): no body text (an empty one parses as no JSON),
	 * no GraphQL content type, no ?query=. Checked first, and without the fields' tree (an
	 * HTTP/1 entry's fields are compact): parsing "" for nothing was 3% of floe read. */
	entry_field_get(e, (const char *[]){"request"}, 1, &rq);
	if (rq.type == ENTRY_VALUE_ABSENT)
		return 0;
	entry_field_get(e, (const char *[]){"request", "content_type"}, 2, &ctv);
	entry_field_get(e, (const char *[]){"request", "body", "text"}, 3, &tv);
	entry_field_get(e, (const char *[]){"request", "query_params", "query"}, 3, &qv);
	if ((tv.type == ENTRY_VALUE_ABSENT || (tv.type == ENTRY_VALUE_STRING && !tv.s[0])) &&
	    !(ctv.type == ENTRY_VALUE_OTHER ||
	      (ctv.type == ENTRY_VALUE_STRING && strstr(ctv.s, "application/graphql"))) &&
	    qv.type != ENTRY_VALUE_STRING && qv.type != ENTRY_VALUE_OTHER)
		return 0;
	/* A body under a content type that is neither GraphQL nor JSON, without ?query=: the
	 * tree would not be read (a form's or a file's POST). Its tree, made for nothing, cost
	 * more than the entry's JSON. */
	if (qv.type == ENTRY_VALUE_ABSENT && ctv.type == ENTRY_VALUE_STRING &&
	    !strstr(ctv.s, "application/graphql") && !strstr(ctv.s, "json"))
		return 0;
	req = json_object_get(entry_fields(e), "request");
	ct = json_string_value(json_object_get(req, "content_type"));
	text = body_text(req);
	if (!req)
		return 0;
	if ((!text || !*text) && !(ct && strstr(ct, "application/graphql")) &&
	    !json_string_value(json_object_get(json_object_get(req, "query_params"), "query")))
		return 0;
	g = json_object();
	if (!g)
		return -ENOMEM;
	if (ct && strstr(ct, "application/graphql") && text) {
		const char *type;
		char name[256];

		if (!graphql_operation(text, strlen(text), NULL, &type, name, sizeof(name))) {
			json_object_set_new(g, "operation_type", json_string(type));
			json_object_set_new(g, "operation_name", json_string(name));
			json_object_set_new(g, "query", json_string(text));
			ok = 0;
		}
	} else if (text && (!ct || strstr(ct, "json"))) {
		ok = from_json_body(g, text);
	}
	if (ok && (q = json_string_value(
			   json_object_get(json_object_get(req, "query_params"), "query")))) {
		/* GET /graphql?query=...&operationName=...&variables=... */
		json_t *params = json_object_get(req, "query_params");
		json_t *obj = json_object();

		const char *vars = json_string_value(json_object_get(params, "variables"));

		json_object_set_new(obj, "query", json_string(q));
		if (json_object_get(params, "operationName"))
			json_object_set(obj, "operationName",
					json_object_get(params, "operationName"));
		/* variables travel as JSON text in the parameter; kept as text if it is not JSON */
		if (vars) {
			json_t *v = json_loads(vars, JSON_DECODE_ANY, NULL);

			json_object_set_new(obj, "variables", v ? v : json_string(vars));
		}
		ok = from_request_object(g, obj);
		json_decref(obj);
	}
	if (ok) {
		json_decref(g);
		return 0;
	}
	add_response_errors(g, json_object_get(entry_fields(e), "response"));
	json_object_set_new(entry_fields_rw(e), "graphql", g);
	e->protocol = "graphql";
	return 1;
}
