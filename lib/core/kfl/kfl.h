/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kfl: floe's query language (docs/kfl.md), the one implementation behind `floe read -f`,
 * `floe tap --filter`, the agents' query filters and the hub.
 *
 *   http and response.status >= 500
 *   request.path.startsWith("/api") && request.method in ["GET", "HEAD"]
 *   request.headers["Content-Type"].contains("json") or elapsed_ms > 1.5s
 *   src.namespace == shop and not dst.pod ~ "^redis-" and timestamp > now - 5m
 *
 * A query is compiled once (kfl_compile) and matched against many entries. Matching does not
 * need a jansson tree: it reads the entry through a struct kfl_accessor (field lookups and
 * element iteration), so the agent can match what it holds in any form; kfl_json_accessor is
 * the implementation over the JSON of `floe read --json` (json_t).
 *
 * Two questions a query answers before any entry is read: the time range it implies
 * (kfl_time_bounds, for the hub's since/until) and the endpoint predicates that narrow what
 * must be captured at all (kfl_capture_scope, for the agent's kernel maps).
 */
#ifndef FLOE_KFL_H
#define FLOE_KFL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct kfl;

enum {
	/* Resolve every field against the field schema (protocols/schema.h): an unknown field
	 * or a comparison its type does not allow is an error at the field's column. Without
	 * it fields are not looked up (entries outside the schema: tests, tools). */
	KFL_CHECK_SCHEMA = 1u << 0,
};

struct kfl_options {
	unsigned flags; /* KFL_CHECK_SCHEMA */
	int64_t now_ns; /* what `now` means, Unix ns; 0: the time of the compile */
};

/*
 * Compile a query. Returns 0 and *out; -EINVAL with the message in err, which starts with
 * "column N: " (N counts characters from 1) and says what was expected ("column 18:
 * expected a value after '>=', found end of query"); or -ENOMEM. opts may be NULL.
 */
int kfl_compile(const char *text, const struct kfl_options *opts, struct kfl **out, char *err,
		size_t errlen);
void kfl_free(struct kfl *q);

/* ---- matching: an entry seen through an accessor ---- */

enum kfl_type {
	KFL_ABSENT = 0, /* no such field */
	KFL_NULL,
	KFL_BOOL,
	KFL_INT,
	KFL_REAL,
	KFL_STRING,
	KFL_OBJECT,
	KFL_ARRAY,
};

/* One value of an entry. ref is the accessor's own handle (for objects and arrays). */
struct kfl_value {
	enum kfl_type type;
	union {
		bool b;
		int64_t i;
		double r;
		struct {
			const char *s; /* NUL-terminated */
			size_t len;
		} str;
	} u;
	const void *ref;
};

/* Each of them writes *out (KFL_ABSENT when there is nothing); entry is kfl_match's. */
struct kfl_accessor {
	/* The entry itself (an object). */
	void (*root)(void *entry, struct kfl_value *out);
	/* The member key of an object. nocase: key is a header name, which matches whatever its
	 * case (HTTP header names are case-insensitive). */
	void (*member)(void *entry, const struct kfl_value *obj, const char *key, bool nocase,
		       struct kfl_value *out);
	/* Element i of an array. */
	void (*element)(void *entry, const struct kfl_value *arr, size_t i, struct kfl_value *out);
	/* fn on every element of an array or every member value of an object, in order, until
	 * it returns true; returns whether it did. */
	bool (*each)(void *entry, const struct kfl_value *v,
		     bool (*fn)(const struct kfl_value *elem, void *arg), void *arg);
};

/* Does the entry match? A NULL query matches everything. */
bool kfl_match(const struct kfl *q, const struct kfl_accessor *acc, void *entry);

/* The accessor over a json_t entry (the JSON of entry_to_json / `floe read --json`). */
extern const struct kfl_accessor kfl_json_accessor;
bool kfl_match_json(const struct kfl *q, const json_t *entry);

/* ---- what a query implies before any entry is read ---- */

/*
 * The time range every matching entry's timestamp lies in, from the comparisons of
 * `timestamp` or `request_time` with a time that are ANDed at the top of the query
 * (`timestamp >= "2026-12-06T10:00:00Z" and timestamp < now - 1h and http`): *since_ns
 * inclusive, *until_ns exclusive, Unix ns, 0 when unbounded on that side. An entry's
 * timestamp is its request_time, else its response_time (docs/kfl.md).
 */
void kfl_time_bounds(const struct kfl *q, int64_t *since_ns, int64_t *until_ns);

/* Endpoint predicates that narrow what must be captured. */
enum kfl_side { KFL_SRC, KFL_DST };
enum kfl_attr { KFL_POD, KFL_NAMESPACE, KFL_IP, KFL_PORT };

struct kfl_scope_term {
	enum kfl_side side;
	enum kfl_attr attr;
	size_t count;		   /* the field equals one of these values */
	const char *const *values; /* as text */
	const int64_t *ints;	   /* the same as integers when every one is (ports), or NULL */
};

/*
 * Call fn for every `src.X == v` / `dst.X in [v, ...]` (X: pod, namespace, ip, port) ANDed at
 * the top of the query: an entry matches only if each of them holds, so packets of
 * endpoints outside every term need not be captured. The term points into q. Returns the
 * number of terms, or fn's first non-zero return.
 */
typedef int (*kfl_scope_fn)(const struct kfl_scope_term *t, void *arg);
int kfl_capture_scope(const struct kfl *q, kfl_scope_fn fn, void *arg);

/*
 * The kernel pushdown of a query (docs/kfl.md, "Capture pushdown"): a conservative
 * over-approximation of the packets that can belong to a matching entry, as a disjunction of
 * clauses, each a conjunction of endpoint terms (`src.`/`dst.` pod, namespace, ip, port with
 * `==` or `in`). It is derived from the whole query: `and` multiplies out, `or` joins, `not`
 * is pushed to the leaves by De Morgan; any leaf it cannot express (a negated term, `!=`, a
 * regular expression, a protocol word, another field) holds for every packet. An entry that
 * matches the query satisfies some clause, so a packet no clause can hold for need not be
 * captured. A term's side is not kept in the clause test: an entry's src is the connection's
 * client, which is either end of a given packet, so a term holds for a packet when either of
 * its endpoints has one of the values.
 */
#define KFL_PUSHDOWN_CLAUSES_MAX 8
#define KFL_PUSHDOWN_TERMS_MAX 32

struct kfl_pushdown {
	bool all; /* nothing narrower than every packet: no pushdown */
	size_t nclauses;
	uint32_t clauses[KFL_PUSHDOWN_CLAUSES_MAX]; /* bit i: terms[i] must hold */
	size_t nterms;
	struct kfl_scope_term terms[KFL_PUSHDOWN_TERMS_MAX]; /* point into the query */
};

/* Derive q's pushdown into *out (NULL q: all). Ports are checked to be 0..65535 and
 * addresses to be IPv4 or IPv6 text: a term with another value is not pushed (holds for all). */
void kfl_pushdown(const struct kfl *q, struct kfl_pushdown *out);

/* p as text: "all", or its clauses "(port=80,443 & pod=web) | (ip=10.0.0.1)" (terms without
 * their side, as the kernel checks them); cut at size. */
void kfl_pushdown_text(const struct kfl_pushdown *p, char *buf, size_t size);

/* ---- times, as KFL and the hub's API write them ---- */

/*
 * RFC 3339 (`2026-12-06T10:00:00Z`, with a fraction and an offset or without; a date alone
 * is its midnight UTC; no offset is UTC) or Unix nanoseconds (digits only). Returns 0 and
 * *ns, or -EINVAL.
 */
int kfl_parse_time(const char *text, int64_t *ns);

/* ns as RFC 3339 UTC with nanoseconds (the form of the entries' timestamps); 31+ bytes. */
void kfl_format_time(int64_t ns, char *out, size_t size);

#endif /* FLOE_KFL_H */
