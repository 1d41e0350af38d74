/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protocol: what the core knows of each application protocol, without its dissector.
 *
 * One descriptor per protocol, in its own file: lib/core/protocols/<name>.c holds the name
 * entries carry in "protocol", the dissector(s) that produce them (by name), a one-line
 * description, the filter words, the parent protocol (gRPC rides on HTTP/2, GraphQL on HTTP)
 * and the typed field schema; the dissector itself is lib/node/dissect/<name>.c, whose struct
 * dissector points back at the descriptor (dissector.h: .protocol). A protocol's "own files"
 * are those two, its tests and its docs page; centrally it adds one line to registry.h.
 *
 * The core holds the schema because the hub (which links no dissector) needs it too: for
 * query type checks, the entry fields of its API and the UI's column list.
 *
 * Field paths (the notation of docs/entries.md, `floe schema` and filter errors): dotted
 * names as in the entry JSON; `[]` stands for every element of an array
 * (`request.questions[].name`), `.*` for every value of a map with free keys
 * (`request.headers.*`). A filter addresses array elements by index (`request.questions.0.name`)
 * and map values by key (`request.headers.content-type`).
 */
#ifndef FLOE_PROTOCOLS_PROTOCOL_H
#define FLOE_PROTOCOLS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

struct entry;

/* What a field holds, as a query language needs to know it. */
enum field_type {
	FIELD_NONE = 0,    /* (a table's end; no element type) */
	FIELD_STRING,
	FIELD_INTEGER,
	FIELD_REAL,        /* a JSON number, integral or not */
	FIELD_BOOLEAN,
	FIELD_TIMESTAMP,   /* a string: RFC 3339 UTC with nanoseconds; orders as text */
	FIELD_DURATION_MS, /* a number of milliseconds */
	FIELD_BYTES,       /* an integer: a size in bytes */
	FIELD_OBJECT,      /* an object whose members are declared fields */
	FIELD_MAP,         /* an object with free keys, every value of the element type */
	FIELD_ARRAY,       /* every element of the element type */
	FIELD_ANY,         /* any JSON value; nothing below it is declared */
};

struct field_group;

/*
 * One field. A table of fields ends with a zeroed one (path NULL). path is relative to the
 * table: top-level tables hold "request", "request.method", "interim[].status"; a group's
 * table (below) holds paths relative to where the group is used.
 */
struct protocol_field {
	const char *path;
	enum field_type type;
	enum field_type elem;            /* FIELD_ARRAY, FIELD_MAP: the values' type */
	const struct field_group *group; /* an object (or array/map of objects) whose members
					    are declared in a table of their own */
	bool nullable;                   /* JSON null is a value of the field */
	const char *meaning;             /* one line */
};

/* Table rows: a field, one with an element type, an object or array of objects whose
 * members are a group's, and the end. */
#define FIELD(p, t, m) { .path = (p), .type = FIELD_##t, .meaning = (m) }
#define FIELD_OF(p, t, e, m) { .path = (p), .type = FIELD_##t, .elem = FIELD_##e, .meaning = (m) }
#define FIELD_GROUP(p, g, m) { .path = (p), .type = FIELD_OBJECT, .group = &(g), .meaning = (m) }
#define FIELD_ARRAY_GROUP(p, g, m)                                                          \
	{ .path = (p), .type = FIELD_ARRAY, .elem = FIELD_OBJECT, .group = &(g), .meaning = (m) }
#define FIELD_END { .path = NULL }

/* A table of fields used in several places (HTTP bodies, a DNS message, a DNS record). */
struct field_group {
	const char *name; /* a title for docs: "Body", "DNS message" */
	const struct protocol_field *fields;
};

/* A filter word: the bare word selects entries of the protocol, optionally by version. */
struct protocol_word {
	const char *word;
	const char *version; /* NULL: any; else entries whose "version" starts with it */
};

/*
 * A protocol's summary in entry_format_line(): writes at most size bytes to out
 * (NUL-terminated), returns the length it wanted (snprintf-like).
 */
typedef size_t (*protocol_summary_fn)(const struct entry *e, char *out, size_t size);

struct protocol_desc {
	const char *name;                /* entry.protocol: "http", "redis", ... */
	const char *description;         /* one line: what the protocol is */
	const char *const *dissectors;   /* names of the node's dissectors producing its
					    entries (struct dissector.name), NULL-terminated */
	const char *parent;              /* the protocol it rides on ("http"), or NULL */
	const struct protocol_word *words; /* its filter words, ended by { NULL } */
	const char *const *parent_words; /* the parent's words that also select its entries
					    ("http" selects gRPC entries), NULL-terminated */
	const struct protocol_field *fields; /* its fields beyond the common ones (and the
						parent's); ended by a zeroed field */
	protocol_summary_fn summary;     /* the text form's summary (entry_format_line) */
};

/* Every protocol the core knows, NULL-terminated (lib/core/protocols/protocols.c). */
extern const struct protocol_desc *const protocols[];

/* The fields every entry has (id, protocol, times, endpoints, sizes, ...): common.c. */
extern const struct protocol_field protocol_common_fields[];

/* Groups more than one protocol uses (common.c): a message body (HTTP, AMQP). */
extern const struct field_group protocol_body_group;

/* The descriptor whose name is name, or NULL. */
const struct protocol_desc *protocol_find(const char *name);

/* The descriptor that declares filter word w (and that word's spec), or NULL. */
const struct protocol_desc *protocol_find_word(const char *w, const struct protocol_word **word);

/* The word the protocol's own descriptor declares, or NULL. */
const struct protocol_word *protocol_word(const struct protocol_desc *p, const char *w);

/* Does word (of protocol owner) select an entry of protocol name with that version? */
bool protocol_word_selects(const struct protocol_desc *owner, const struct protocol_word *word,
			   const char *name, const char *version);

#endif /* FLOE_PROTOCOLS_PROTOCOL_H */
