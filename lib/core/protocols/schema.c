// SPDX-License-Identifier: Apache-2.0
/* The field schema's lookups, walks, entry check and docs tables (schema.h). */
#include "protocols/schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *field_type_name(enum field_type t)
{
	switch (t) {
	case FIELD_NONE: return "none";
	case FIELD_STRING: return "string";
	case FIELD_INTEGER: return "integer";
	case FIELD_REAL: return "real";
	case FIELD_BOOLEAN: return "boolean";
	case FIELD_TIMESTAMP: return "timestamp";
	case FIELD_DURATION_MS: return "duration_ms";
	case FIELD_BYTES: return "bytes";
	case FIELD_OBJECT: return "object";
	case FIELD_MAP: return "map";
	case FIELD_ARRAY: return "array";
	case FIELD_ANY: return "any";
	}
	return "?";
}

void field_type_format(enum field_type type, enum field_type elem, char *out, size_t size)
{
	if ((type == FIELD_ARRAY || type == FIELD_MAP) && elem != FIELD_NONE)
		snprintf(out, size, "%s of %s", field_type_name(type), field_type_name(elem));
	else
		snprintf(out, size, "%s", field_type_name(type));
}

bool field_type_fits(enum field_type t, bool nullable, const json_t *v)
{
	if (json_is_null(v))
		return nullable || t == FIELD_ANY;
	switch (t) {
	case FIELD_STRING:
	case FIELD_TIMESTAMP:
		return json_is_string(v);
	case FIELD_INTEGER:
	case FIELD_BYTES:
		return json_is_integer(v);
	case FIELD_REAL:
	case FIELD_DURATION_MS:
		return json_is_number(v);
	case FIELD_BOOLEAN:
		return json_is_boolean(v);
	case FIELD_OBJECT:
	case FIELD_MAP:
		return json_is_object(v);
	case FIELD_ARRAY:
		return json_is_array(v);
	case FIELD_ANY:
		return true;
	case FIELD_NONE:
		break;
	}
	return false;
}

static bool is_index(const char *c)
{
	if (!strcmp(c, "[]"))
		return true;
	if (!*c)
		return false;
	for (; *c; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	return true;
}

/*
 * How many components of comps the pattern (a table's path: "questions[].name") matches, or
 * -1. "[]" in the pattern matches an array element.
 */
static int match_pattern(const char *pat, const char *const *comps, size_t n)
{
	size_t i = 0;

	while (*pat) {
		size_t len;

		if (i >= n)
			return -1;
		if (!strncmp(pat, "[]", 2)) {
			if (!is_index(comps[i]))
				return -1;
			pat += 2;
		} else {
			len = strcspn(pat, ".[");
			if (strlen(comps[i]) != len || strncmp(pat, comps[i], len))
				return -1;
			pat += len;
		}
		i++;
		if (*pat == '.')
			pat++;
	}
	return (int)i;
}

static bool resolve_value(const struct protocol_field *f, enum field_type type,
			  enum field_type elem, const char *const *rest, size_t m,
			  struct field_ref *out)
{
	if (!m) {
		*out = (struct field_ref){ .field = f, .type = type, .elem = elem,
					   .nullable = f->nullable };
		return true;
	}
	switch (type) {
	case FIELD_ANY:
		*out = (struct field_ref){ .field = f, .type = FIELD_ANY, .nullable = true };
		return true;
	case FIELD_OBJECT:
		return f->group && schema_resolve(f->group->fields, rest, m, out);
	case FIELD_ARRAY:
		if (!is_index(rest[0]))
			return false;
		return resolve_value(f, elem, FIELD_NONE, rest + 1, m - 1, out);
	case FIELD_MAP:
		return resolve_value(f, elem, FIELD_NONE, rest + 1, m - 1, out);
	default:
		return false;
	}
}

bool schema_resolve(const struct protocol_field *table, const char *const *comps, size_t n,
		    struct field_ref *out)
{
	for (const struct protocol_field *f = table; f && f->path; f++) {
		int k = match_pattern(f->path, comps, n);

		if (k >= 0 && resolve_value(f, f->type, f->elem, comps + k, n - k, out))
			return true;
	}
	return false;
}

bool schema_resolve_protocol(const struct protocol_desc *p, const char *const *comps, size_t n,
			     struct field_ref *out)
{
	int hops = 0;

	if (schema_resolve(protocol_common_fields, comps, n, out))
		return true;
	/* The parent chain is short (gRPC -> HTTP); the bound guards a cycle. */
	for (; p && hops < 8; p = p->parent ? protocol_find(p->parent) : NULL, hops++)
		if (schema_resolve(p->fields, comps, n, out))
			return true;
	return false;
}

int schema_split(const char *path, char *buf, size_t bufsize, const char **comps, size_t max)
{
	size_t len = strlen(path), n = 0;
	char *p;

	if (len >= bufsize)
		return -1;
	memcpy(buf, path, len + 1);
	for (p = buf;;) {
		char *dot = strchr(p, '.');

		if (n >= max)
			return -1;
		if (dot)
			*dot = 0;
		if (!*p)
			return -1;
		comps[n++] = p;
		if (!dot)
			return (int)n;
		p = dot + 1;
	}
}

/* ---- walking every field with its full path ---- */

static int walk_table(const struct protocol_field *table, char *path, size_t off,
		      schema_visit_fn fn, void *ctx, int depth)
{
	for (const struct protocol_field *f = table; f && f->path; f++) {
		int n = snprintf(path + off, SCHEMA_PATH_MAX - off, "%s%s", off ? "." : "", f->path);
		int rc;

		if (n < 0 || off + n >= SCHEMA_PATH_MAX)
			return -ENAMETOOLONG;
		rc = fn(path, f, ctx);
		if (rc)
			return rc;
		if (f->group && depth < SCHEMA_DEPTH_MAX) {
			size_t end = off + n;
			const char *suffix = f->type == FIELD_ARRAY ? "[]" : f->type == FIELD_MAP ? ".*" : "";

			if (end + strlen(suffix) >= SCHEMA_PATH_MAX)
				return -ENAMETOOLONG;
			strcpy(path + end, suffix);
			rc = walk_table(f->group->fields, path, end + strlen(suffix), fn, ctx,
					depth + 1);
			if (rc)
				return rc;
		}
		path[off] = 0;
	}
	return 0;
}

int schema_walk(const struct protocol_field *table, schema_visit_fn fn, void *ctx)
{
	char path[SCHEMA_PATH_MAX] = "";

	return walk_table(table, path, 0, fn, ctx, 0);
}

/* ---- checking an entry ---- */

struct check {
	const struct protocol_desc *p;
	const char *comps[SCHEMA_DEPTH_MAX];
	schema_problem_fn problem;
	void *ctx;
	size_t problems;
};

static void check_report(struct check *c, size_t n, const char *what)
{
	char path[SCHEMA_PATH_MAX];
	size_t off = 0;

	path[0] = 0;
	for (size_t i = 0; i < n && off < sizeof(path); i++)
		off += snprintf(path + off, sizeof(path) - off, "%s%s",
				i && strcmp(c->comps[i], "[]") ? "." : "", c->comps[i]);
	c->problems++;
	if (c->problem)
		c->problem(path, what, c->ctx);
}

static void check_value(struct check *c, const json_t *v, size_t n)
{
	struct field_ref ref;
	char want[64], msg[128];
	const char *k;
	json_t *x;
	size_t i;

	if (n) {
		if (!schema_resolve_protocol(c->p, c->comps, n, &ref)) {
			check_report(c, n, "not in the schema");
			return;
		}
		if (!field_type_fits(ref.type, ref.nullable, v)) {
			field_type_format(ref.type, ref.elem, want, sizeof(want));
			snprintf(msg, sizeof(msg), "a JSON %s where the schema says %s",
				 json_is_null(v) ? "null" : json_is_string(v) ? "string"
				 : json_is_integer(v) ? "integer" : json_is_real(v) ? "real"
				 : json_is_boolean(v) ? "boolean" : json_is_array(v) ? "array" : "object",
				 want);
			check_report(c, n, msg);
			return;
		}
		if (ref.type == FIELD_ANY)
			return;
	}
	if (n >= SCHEMA_DEPTH_MAX) {
		check_report(c, n, "nested deeper than the schema can say");
		return;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			c->comps[n] = k;
			check_value(c, x, n + 1);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			c->comps[n] = "[]";
			check_value(c, x, n + 1);
		}
	}
}

size_t schema_check_entry(const json_t *entry, schema_problem_fn problem, void *ctx)
{
	struct check c = { .problem = problem, .ctx = ctx };
	const char *name = json_string_value(json_object_get(entry, "protocol"));

	c.p = name ? protocol_find(name) : NULL;
	if (!c.p) {
		c.comps[0] = "protocol";
		check_report(&c, 1, "not a protocol the schema knows");
		return c.problems;
	}
	check_value(&c, entry, 0);
	return c.problems;
}

/* ---- the schema for users: JSON and text ---- */

static int field_to_json(const char *path, const struct protocol_field *f, void *ctx)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "path", path, "type", field_type_name(f->type),
			      "meaning", f->meaning ? f->meaning : "");

	if (!o)
		return -ENOMEM;
	if (f->elem != FIELD_NONE)
		json_object_set_new(o, "element", json_string(field_type_name(f->elem)));
	if (f->nullable)
		json_object_set_new(o, "nullable", json_true());
	return json_array_append_new(ctx, o) ? -ENOMEM : 0;
}

static json_t *strings_json(const char *const *list)
{
	json_t *a = json_array();

	for (; a && list && *list; list++)
		json_array_append_new(a, json_string(*list));
	return a;
}

json_t *schema_to_json(void)
{
	json_t *root = json_object(), *common = json_array(), *list = json_array();

	if (!root || !common || !list)
		goto fail;
	json_object_set_new(root, "common", common);
	json_object_set_new(root, "protocols", list);
	if (schema_walk(protocol_common_fields, field_to_json, common))
		goto fail_root;
	for (const struct protocol_desc *const *pp = protocols; *pp; pp++) {
		const struct protocol_desc *p = *pp;
		json_t *o = json_object(), *words = json_array(), *fields = json_array();

		if (!o || !words || !fields || json_array_append_new(list, o)) {
			json_decref(words);
			json_decref(fields);
			goto fail_root;
		}
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "description", json_string(p->description));
		json_object_set_new(o, "dissectors", strings_json(p->dissectors));
		if (p->parent)
			json_object_set_new(o, "parent", json_string(p->parent));
		for (const struct protocol_word *w = p->words; w && w->word; w++)
			json_array_append_new(words, w->version ? json_pack("{s:s, s:s}", "word", w->word,
									    "version", w->version)
								: json_pack("{s:s}", "word", w->word));
		json_object_set_new(o, "words", words);
		if (p->parent_words)
			json_object_set_new(o, "parent_words", strings_json(p->parent_words));
		json_object_set_new(o, "fields", fields);
		if (schema_walk(p->fields, field_to_json, fields))
			goto fail_root;
	}
	return root;
fail:
	json_decref(common);
	json_decref(list);
fail_root:
	json_decref(root);
	return NULL;
}

static int field_to_text(const char *path, const struct protocol_field *f, void *ctx)
{
	char type[64];

	field_type_format(f->type, f->elem, type, sizeof(type));
	return fprintf(ctx, "  %-40s %-18s %s\n", path, type, f->meaning ? f->meaning : "") < 0
		       ? -EIO : 0;
}

int schema_print_text(FILE *out)
{
	int rc;

	fprintf(out, "common (every entry)\n");
	rc = schema_walk(protocol_common_fields, field_to_text, out);
	for (const struct protocol_desc *const *pp = protocols; !rc && *pp; pp++) {
		const struct protocol_desc *p = *pp;

		fprintf(out, "\n%s: %s\n  words:", p->name, p->description);
		for (const struct protocol_word *w = p->words; w && w->word; w++)
			fprintf(out, " %s", w->word);
		if (p->parent)
			fprintf(out, "; over %s", p->parent);
		fputs("; dissectors:", out);
		for (const char *const *d = p->dissectors; d && *d; d++)
			fprintf(out, " %s", *d);
		fputc('\n', out);
		rc = schema_walk(p->fields, field_to_text, out);
	}
	return rc ? rc : ferror(out) ? -EIO : 0;
}

/* ---- docs/entries.md ---- */

/* A cell's text: '|' would end the cell. */
static void md_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else
			fputc(*s, out);
	}
}

#define MD_GROUPS_MAX 16
#define MD_USES_MAX 8

/* A group whose table is printed after the one that uses it, and where it was used. */
struct md_group {
	const struct field_group *group;
	const struct protocol_field *uses[MD_USES_MAX];
	size_t nuses;
};

struct md_table {
	FILE *out;
	struct md_group groups[MD_GROUPS_MAX];
	size_t ngroups;
};

static int md_note_group(struct md_table *t, const struct protocol_field *f)
{
	struct md_group *g = NULL;

	for (size_t i = 0; i < t->ngroups && !g; i++)
		if (t->groups[i].group == f->group)
			g = &t->groups[i];
	if (!g) {
		if (t->ngroups == MD_GROUPS_MAX)
			return -E2BIG;
		g = &t->groups[t->ngroups++];
		g->group = f->group;
	}
	if (g->nuses < MD_USES_MAX)
		g->uses[g->nuses++] = f;
	return 0;
}

/* One table: its rows are the fields with paths relative to it; groups are noted for later. */
static int md_rows(struct md_table *t, const struct protocol_field *table)
{
	char type[64];
	int rc;

	fputs("| field | type | meaning |\n| --- | --- | --- |\n", t->out);
	for (const struct protocol_field *f = table; f && f->path; f++) {
		field_type_format(f->type, f->elem, type, sizeof(type));
		fputs("| `", t->out);
		md_cell(t->out, f->path);
		fputs("` | ", t->out);
		md_cell(t->out, f->group ? field_type_name(f->type) : type);
		if (f->group)
			fprintf(t->out, "%s%s", f->type == FIELD_OBJECT ? ": " : " of ", f->group->name);
		if (f->nullable)
			fputs(" or null", t->out);
		fputs(" | ", t->out);
		md_cell(t->out, f->meaning);
		fputs(" |\n", t->out);
		if (f->group && (rc = md_note_group(t, f)))
			return rc;
	}
	return 0;
}

static int md_section(FILE *out, const struct protocol_field *fields)
{
	struct md_table t = { .out = out };
	int rc = md_rows(&t, fields);

	/* Groups used by groups join the list as their tables are printed. */
	for (size_t i = 0; !rc && i < t.ngroups; i++) {
		const struct md_group *g = &t.groups[i];

		fprintf(out, "\n%s: the %s of", g->group->name,
			g->uses[0]->type == FIELD_OBJECT ? "fields" : "fields of each element");
		for (size_t u = 0; u < g->nuses; u++)
			fprintf(out, "%s`%s`", u ? ", " : " ", g->uses[u]->path);
		fputs("\n\n", out);
		rc = md_rows(&t, g->group->fields);
	}
	/* A blank line ends the last table before whatever follows (docs: the end marker). */
	fputc('\n', out);
	if (!rc && ferror(out))
		rc = -EIO;
	return rc;
}

int schema_markdown(FILE *out, const char *section)
{
	const struct protocol_desc *p;

	if (!strcmp(section, "common"))
		return md_section(out, protocol_common_fields);
	p = protocol_find(section);
	if (!p)
		return -ENOENT;
	return md_section(out, p->fields);
}

#define DOC_BEGIN "<!-- schema:"
#define DOC_END "<!-- /schema -->"

char *schema_doc_update(const char *doc, char *err, size_t errlen)
{
	char *buf = NULL, section[64];
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	const char *p = doc;

	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (*p) {
		const char *eol = strchr(p, '\n'), *end;
		size_t len = eol ? (size_t)(eol - p + 1) : strlen(p), name;

		fwrite(p, 1, len, out);
		if (strncmp(p, DOC_BEGIN, strlen(DOC_BEGIN))) {
			p += len;
			continue;
		}
		name = strcspn(p + strlen(DOC_BEGIN), " -\n");
		snprintf(section, sizeof(section), "%.*s", (int)name, p + strlen(DOC_BEGIN));
		p += len;
		end = strstr(p, "\n" DOC_END);
		if (!strncmp(p, DOC_END, strlen(DOC_END)))
			end = p - 1;
		if (!end) {
			snprintf(err, errlen, "'%s%s -->' without '%s'", DOC_BEGIN, section, DOC_END);
			goto fail;
		}
		if (schema_markdown(out, section)) {
			snprintf(err, errlen, "'%s%s -->': no such section", DOC_BEGIN, section);
			goto fail;
		}
		p = end + 1;
	}
	if (fclose(out)) {
		snprintf(err, errlen, "out of memory");
		free(buf);
		return NULL;
	}
	return buf;
fail:
	fclose(out);
	free(buf);
	return NULL;
}
