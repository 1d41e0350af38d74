/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema: questions about the typed field schema of the protocol descriptors (protocol.h).
 * What a path means for entries of one protocol or of any, every field with its full path
 * (for `floe schema`, the UI's columns and filter suggestions), whether an entry holds only
 * declared fields of their declared types (the capture test), and the field tables of
 * docs/entries.md, which are generated from the schema.
 */
#ifndef FLOE_PROTOCOLS_SCHEMA_H
#define FLOE_PROTOCOLS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "protocols/protocol.h"

#define SCHEMA_PATH_MAX 256 /* a field's full path in notation */
#define SCHEMA_DEPTH_MAX 32 /* components of a path */

/* What a path resolved to: the field declaring it and the type at that point. */
struct field_ref {
	const struct protocol_field *field;
	enum field_type type; /* the field's type, or its element type for "[]" / ".*" */
	enum field_type elem;
	bool nullable;
};

/*
 * Resolve path components against a field table. An array element is "[]" or a decimal
 * index; a map value any key. Returns true and *out when the table declares the path.
 */
bool schema_resolve(const struct protocol_field *table, const char *const *comps, size_t n,
		    struct field_ref *out);

/* The same for entries of protocol p: the common fields, p's own, then its parents'. */
bool schema_resolve_protocol(const struct protocol_desc *p, const char *const *comps, size_t n,
			     struct field_ref *out);

/*
 * Split a dotted path ("request.headers.host") into at most max components, in buf (which
 * holds a copy of the path). Returns the count, or -1 when it is too long or has an empty
 * component.
 */
int schema_split(const char *path, char *buf, size_t bufsize, const char **comps, size_t max);

/* Every field of a table with its full path, groups expanded. Stops at fn's first non-zero. */
typedef int (*schema_visit_fn)(const char *path, const struct protocol_field *f, void *ctx);
int schema_walk(const struct protocol_field *table, schema_visit_fn fn, void *ctx);

/* "string", "array of integer", "map of string", ... */
void field_type_format(enum field_type type, enum field_type elem, char *out, size_t size);
const char *field_type_name(enum field_type t);

/* Does a JSON value fit the type (JSON numbers fit real/duration; integers integer/bytes)? */
bool field_type_fits(enum field_type t, bool nullable, const json_t *v);

/*
 * Check an entry (the JSON of entry_to_json) against the schema of its protocol: problem()
 * is called for every path the schema does not declare and every value of another type
 * (not descending below either). Returns how many problems there were.
 */
typedef void (*schema_problem_fn)(const char *path, const char *problem, void *ctx);
size_t schema_check_entry(const json_t *entry, schema_problem_fn problem, void *ctx);

/* The schema as JSON: {"common": [fields], "protocols": [{name, ..., fields}]}. */
json_t *schema_to_json(void);

/* The schema as text, one field a line, for `floe schema`. Returns 0 or -errno. */
int schema_print_text(FILE *out);

/*
 * The markdown field tables of one section of docs/entries.md: "common" or a protocol's
 * name. Returns 0, -ENOENT for an unknown section, or -errno from writing.
 */
int schema_markdown(FILE *out, const char *section);

/*
 * docs/entries.md with every generated block regenerated: the lines between
 * "<!-- schema:SECTION -->" and "<!-- /schema -->" are replaced by schema_markdown(SECTION).
 * Returns a new string (free()), or NULL with a message in err (an unknown section, an
 * unclosed block, ENOMEM).
 */
char *schema_doc_update(const char *doc, char *err, size_t errlen);

#endif /* FLOE_PROTOCOLS_SCHEMA_H */
