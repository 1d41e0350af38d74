/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kfl_ast: the compiled form of a query, shared by the files of the kfl module (parser,
 * evaluator, extraction) and by nothing else: the interface is kfl.h.
 */
#ifndef FLOE_KFL_AST_H
#define FLOE_KFL_AST_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/protocol.h"

enum kfl_kind {
	K_AND,	  /* every kid */
	K_OR,	  /* some kid */
	K_NOT,	  /* kids[0] does not match */
	K_PROTO,  /* a protocol word */
	K_TLS,	  /* the reserved word tls (no descriptor declares it yet) */
	K_TRUTHY, /* a bare field: present and not false/null/0/"" */
	K_EXISTS, /* exists(field): present and not null */
	K_CMP,	  /* field op value */
	K_IN,	  /* field in [values] */
};

enum kfl_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_CONTAINS,
	OP_REGEX,
	OP_PREFIX,
	OP_SUFFIX,
};

/* One step of a field path. */
struct kfl_comp {
	char *key;	/* an object's member (also what a numeric step is called in one) */
	bool has_index; /* key is decimal digits: an array's element */
	size_t index;
	bool any;    /* "[]" or "[*]": some element of an array / value of a map */
	bool nocase; /* a member of a headers or trailers map */
};

struct kfl_path {
	struct kfl_comp *comps;
	size_t n;
	bool timestamp; /* the pseudo-field `timestamp`: request_time, else response_time */
	char *text; /* the path as the schema writes it ("request.headers.host"), for messages */
	int col;    /* its first character's column */
};

enum kfl_unit { UNIT_NONE, UNIT_DURATION, UNIT_SIZE };

/* A value of the query. */
struct kfl_lit {
	char *text; /* as written, strings unquoted and unescaped; a time as RFC 3339 */
	bool quoted;
	bool is_num; /* a number: num (a duration in ms, a size in bytes) */
	double num;
	enum kfl_unit unit; /* the number was written with a unit */
	bool is_time;	    /* RFC 3339 text or now ± duration: ns */
	bool is_now;
	int64_t ns;
	int col;
};

struct kfl_node {
	enum kfl_kind kind;
	struct kfl_node **kids; /* K_AND, K_OR, K_NOT */
	size_t nkids;
	struct kfl_path path; /* K_TRUTHY, K_EXISTS, K_CMP, K_IN */
	enum kfl_op op;	      /* K_CMP */
	struct kfl_lit *lits; /* K_CMP: one; K_IN: nlits */
	size_t nlits;
	const char **texts; /* K_CMP, K_IN: the literals' texts, for kfl_capture_scope */
	int64_t *ints;	    /* the same as integers, or NULL when one is not */
	bool has_re;	    /* OP_REGEX */
	regex_t re;
	const struct protocol_desc *owner; /* K_PROTO */
	const struct protocol_word *word;
};

struct kfl {
	struct kfl_node *root;
};

/* kfl_literal.c: numbers, units and RFC 3339 times as the query writes them. */

/* A decimal number making up all of text (no hex, inf or nan). */
bool kfl_lit_number(const char *text, double *out);
/* A number followed by a unit (250ms, 1.5s, 5m, 1MB, 64KiB): the value in ms or bytes. */
bool kfl_lit_unit(const char *text, double *out, enum kfl_unit *unit);
/* A duration (5m, 1h30m is not one: a single number and unit) in ns, for now ± d. */
bool kfl_lit_duration_ns(const char *text, int64_t *ns);
/* RFC 3339 as kfl_parse_time takes it, without the Unix-ns form. */
bool kfl_lit_rfc3339(const char *text, size_t len, int64_t *ns);

#endif /* FLOE_KFL_AST_H */
