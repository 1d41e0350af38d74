/* SPDX-License-Identifier: Apache-2.0 */
/*
 * entry: one request/response pair (or one message without a partner), the unit users read,
 * query and, later, send from agent to hub. docs/entries.md lists every field; the names are
 * a contract (KFL, hub and UI address entries by them).
 *
 * An entry has fixed common fields (this struct) and protocol fields: jansson objects the
 * dissector fills ("request", "response", "grpc", "graphql", ...), or first a compact part a
 * dissector writes itself (HTTP/1's heads: struct entry_compact_ops). entry_to_json() joins
 * them into the one JSON object that is printed and filtered; entry_json_append_entry() writes
 * the same text without building it.
 *
 * jansson is the tree because the same object is printed as JSON, matched by filters and
 * walked by name later (KFL); it escapes and validates UTF-8, which hand-written output gets
 * wrong easily.
 */
#ifndef FLOE_ENTRY_ENTRY_H
#define FLOE_ENTRY_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Kubernetes names: pods up to 253 characters (DNS subdomain), namespaces 63. */
#define ENTRY_NAME_MAX 256

/*
 * The names of one address (its pod, namespace, service, node, and a name a DNS answer gave
 * it), made once by
 * whoever knows them (the tap's pod names) and shared by reference with every entry that has
 * the address: an entry carries a pointer, not two 256-byte buffers (an entry waits in memory
 * for its response, ten thousand of them with ten thousand connections), and a pod's names
 * outlive the pod for the entries still holding them. Immutable once made; the count is
 * atomic because the dissection thread drops entries' references while the tap's thread
 * replaces names.
 */
struct entry_names;

/* What names are made of: any may be NULL or "" (not known). dns: the name a DNS answer floe
 * saw resolved to the address (the name the client asked for). */
struct entry_names_init {
	const char *pod, *ns, *service, *node, *dns;
};

/* New names (copies, each cut to ENTRY_NAME_MAX - 1 bytes), one reference; NULL on ENOMEM. */
struct entry_names *entry_names_new_k8s(const struct entry_names_init *in);
/* The same with a pod and its namespace only. */
struct entry_names *entry_names_new(const char *pod, const char *ns);
/* Another reference to n (n may be NULL). */
struct entry_names *entry_names_ref(struct entry_names *n);
/* Drop one reference (n may be NULL); the last frees the names. */
void entry_names_unref(struct entry_names *n);
/* The pod / namespace / service / node / DNS name, "" when not known (n may be NULL). */
const char *entry_names_pod(const struct entry_names *n);
const char *entry_names_namespace(const struct entry_names *n);
const char *entry_names_service(const struct entry_names *n);
const char *entry_names_node(const struct entry_names *n);
const char *entry_names_dns(const struct entry_names *n);
/* n's names with dns as its DNS name (a new reference; n may be NULL); NULL on ENOMEM. */
struct entry_names *entry_names_with_dns(const struct entry_names *n, const char *dns);
/* Every name the same (NULL is the same as all ""). */
bool entry_names_equal(const struct entry_names *a, const struct entry_names *b);

struct entry_endpoint {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d (as in struct packet) */
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint16_t port;
	struct entry_names *names; /* a reference the entry owns; NULL when not known */
};

/* Which half of the pair never came, or came only in part. */
enum entry_missing {
	ENTRY_COMPLETE = 0,
	ENTRY_MISSING_RESPONSE,
	ENTRY_MISSING_REQUEST,
	ENTRY_INCOMPLETE_RESPONSE, /* its start came (HTTP: the head), its end did not */
	ENTRY_INCOMPLETE_REQUEST,
};

/* Why it never came (or never ended). */
enum entry_missing_reason {
	ENTRY_REASON_NONE = 0,
	ENTRY_REASON_GAP,         /* bytes of the stream were lost (capture gap) */
	ENTRY_REASON_RESET,       /* the connection was reset */
	ENTRY_REASON_CLOSED,      /* the connection closed normally before it */
	ENTRY_REASON_TIMEOUT,     /* the flow went idle, or was evicted */
	ENTRY_REASON_END_OF_INPUT,/* the capture ended */
	ENTRY_REASON_STREAM_RESET,/* HTTP/2 RST_STREAM or GOAWAY cancelled the stream */
	ENTRY_REASON_PARSE_ERROR, /* the peer's bytes did not parse */
	ENTRY_REASON_TOO_MANY_PENDING, /* more requests waited for answers than floe keeps */
	ENTRY_REASON_MEMORY,      /* the connection was evicted for the dissection memory budget */
	ENTRY_REASON_UNSOLICITED, /* a response no request was sent for in what was captured, with
				   * no loss before it (an mDNS announcement, an answer to a query
				   * sent before the capture began) */
};

struct entry {
	char id[64];          /* set by the engine: "[<prefix>-]<flow id>-<n>" (n counts the flow's
			       * entries; a tap's prefix is its run id, see dissect_config) */
	const char *protocol; /* static string: "http", "grpc", "graphql", ... */
	char version[8];      /* "1.0", "1.1", "2", ... */
	struct entry_endpoint src; /* the client: the request's sender */
	struct entry_endpoint dst; /* the server */
	uint64_t flow_id;
	uint64_t request_ts_ns;  /* first byte of the request; 0 when missing */
	uint64_t response_ts_ns; /* first byte of the response; 0 when missing */
	uint64_t request_end_ns; /* last byte of the request */
	uint64_t response_end_ns;/* last byte of the response */
	uint64_t request_size;   /* bytes on the wire: head and body (HTTP/2: frame payloads) */
	uint64_t response_size;
	uint32_t stream_id;      /* HTTP/2 stream; 0 when not HTTP/2 */
	enum entry_missing missing;
	enum entry_missing_reason missing_reason;
	json_t *fields;          /* object: protocol fields, owned by the entry; NULL until one is
				  * added (entry_fields_rw()): most HTTP entries have only their
				  * compact part. With a compact part, only those added after it:
				  * read with entry_fields() */
	/* A dissector's compact protocol fields (or NULL): members kept as byte ranges and
	 * written to JSON directly, without a tree (an HTTP/1 entry's tree was a third of its
	 * live cost). They come before the members of `fields` in the entry's JSON. */
	const struct entry_compact_ops *compact_ops;
	void *compact;
};

struct entry_json_buf;

/* What a compact part of an entry offers (entry.compact). */
struct entry_value;
struct entry_compact_ops {
	/* Append its members as compact JSON, each `,"key":value` (no comma before the first
	 * when first). 0 or -ENOMEM. */
	int (*write_json)(const void *c, struct entry_json_buf *b, bool first);
	/* Set its members on obj (an empty object), as write_json writes them. 0 or -ENOMEM.
	 * May be NULL: the tree is then what write_json wrote, read back by jansson (which
	 * costs about ten times the writing). */
	int (*to_tree)(const void *c, json_t *obj);
	/* The value at path (path[0] a top-level key); false when path[0] is not one of its
	 * members. A value it cannot give without the tree is ENTRY_VALUE_OTHER. */
	bool (*get)(const void *c, const char *const *path, size_t depth, struct entry_value *out);
	void (*free)(void *c);
};

enum entry_value_type {
	ENTRY_VALUE_ABSENT = 0,
	ENTRY_VALUE_STRING, /* s: NUL-terminated, len bytes */
	ENTRY_VALUE_INT,
	ENTRY_VALUE_OTHER,  /* present: an object, an array, or what needs entry_fields() */
	/* An object whose members the same getter answers (ask again with a longer path): a
	 * compact part's, or the common "src" / "dst" (entry_common_get). */
	ENTRY_VALUE_OBJECT,
	ENTRY_VALUE_REAL,   /* r */
	ENTRY_VALUE_BOOL,   /* i: 0 or 1 */
};

/*
 * One value, as a getter answers it. tmp and tmp_size are the caller's: room where a getter
 * may write a string it has to make (a time, an address, a path cut out of a URL); without
 * room (tmp NULL or too small) it answers ENTRY_VALUE_OTHER instead. A string is valid as
 * long as the entry is unchanged and tmp lives.
 */
struct entry_value {
	enum entry_value_type type;
	const char *s;
	size_t len;
	long long i;
	double r;
	char *tmp;
	size_t tmp_size;
};

/* Room a getter wants for the strings it makes (ENTRY_VALUE_OTHER without it). */
#define ENTRY_VALUE_TMP 256

/*
 * The entry's protocol fields as one jansson object: a compact part is turned into members
 * of e->fields (before those already there) on the first call, and the entry keeps them:
 * entries are used by one thread at a time, so e is written through const here. NULL only
 * on ENOMEM when the entry has no tree yet (an ENOMEM with a compact part is returned as the
 * fields without it).
 */
json_t *entry_fields(const struct entry *e);

/*
 * e->fields, made on the first call: where a dissector adds protocol fields to the tree
 * (without turning a compact part into members, as entry_fields() does). NULL on ENOMEM, which
 * json_object_set_new() takes as a failed set (it frees the value).
 */
json_t *entry_fields_rw(struct entry *e);

/* The value at path (top-level key first) of e's protocol fields, from the compact part when
 * it has it (no tree built), else from e->fields. Without room for strings (out's tmp is
 * cleared): KFL's accessor (entry_kfl.h) gives the compact part room. */
void entry_field_get(const struct entry *e, const char *const *path, size_t depth,
		     struct entry_value *out);

/*
 * The value at path of the members entry_to_json() writes before the protocol fields (id,
 * protocol, version, times, elapsed_ms, src and dst and their members, flow_id, stream_id,
 * sizes, missing / incomplete, missing_reason), as the tree has it; ENTRY_VALUE_OTHER when
 * it would differ from the tree's (a name that is not UTF-8) or needs more room than out's
 * tmp. False when path[0] is not one of them. Protocol fields of the same name replace
 * these in the tree: the caller looks there first.
 */
bool entry_common_get(const struct entry *e, const char *const *path, size_t depth,
		      struct entry_value *out);

/* Give e a compact part (e takes c; e must have none yet and no fields set before). */
void entry_set_compact(struct entry *e, const struct entry_compact_ops *ops, void *c);

/* A new entry without protocol fields (fields NULL); NULL on ENOMEM. */
struct entry *entry_new(void);
void entry_free(struct entry *e);

/*
 * The whole entry as one JSON object (new reference; the fields are copied by reference, so
 * the entry stays usable). NULL on ENOMEM.
 */
json_t *entry_to_json(const struct entry *e);

/*
 * Append the compact JSON text of entry_to_json(e) to b (entry_json.h), byte for byte the same,
 * without building the tree: printing an entry was half of `floe read --json` on small
 * messages, most of it in the tree's allocations. 0, or -ENOMEM (b unchanged).
 */
int entry_json_append_entry(struct entry_json_buf *b, const struct entry *e);

/* One line of text for terminals: "<id> <time> <proto> <src> -> <dst> <summary>". */
int entry_format_line(const struct entry *e, char *buf, size_t size);

/*
 * A protocol's summary in that line comes from its descriptor (protocols/protocol.h); one
 * the core does not know gets HTTP's ("METHOD url -> status").
 */

/*
 * Text appended to p[size] as snprintf() would write it: at most size - 1 bytes kept, a NUL
 * after them, len counting every byte asked for. By hand, for the text line and the protocols'
 * summaries, because snprintf was a tenth of `floe read` in text mode.
 */
struct text_buf {
	char *p;
	size_t size, len;
};

void text_put(struct text_buf *b, const char *s, size_t n);
void text_str(struct text_buf *b, const char *s);
void text_int(struct text_buf *b, long long v); /* what "%lld" prints */

/* The string at o.a (or o.a.b when b is not NULL); NULL when absent or not a string. */
const char *entry_field_str(const json_t *o, const char *a, const char *b);

/* "request" or "response": the half an entry_missing value is about. */
const char *entry_missing_str(enum entry_missing m);
/* The half began but did not end (printed as "incomplete", not "missing"). */
bool entry_is_partial(enum entry_missing m);
const char *entry_missing_reason_str(enum entry_missing_reason r);

/* "2026-11-23T10:42:00.123456789Z" (UTC, nanoseconds). */
void entry_format_time(uint64_t ts_ns, char out[64]);

/* ---- helpers for dissectors: values the JSON tree can hold ---- */

/*
 * A JSON string from bytes that may not be UTF-8: valid UTF-8 is kept, every invalid byte
 * becomes U+FFFD. Never NULL for n == 0 (""), NULL only on ENOMEM.
 */
json_t *entry_json_text(const uint8_t *p, size_t n);

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 when p[0] does not start one. Strict
 * as jansson is (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
 */
size_t entry_utf8_seq_len(const uint8_t *p, size_t n);

/*
 * Length of the longest prefix of p..p+n that is valid UTF-8 (whole sequences only); a NUL
 * ends it unless allow_nul. Fast on ASCII (eight bytes at a time).
 */
size_t entry_utf8_prefix(const uint8_t *p, size_t n, bool allow_nul);

/* A JSON string holding p..p+n in base64 (RFC 4648, padded); NULL on ENOMEM. */
json_t *entry_json_base64(const uint8_t *p, size_t n);

/*
 * Append p..p+n as the JSON string entry_json_text() makes of it (allow_nul false) or, with
 * allow_nul, the same keeping NUL bytes (escaped): the text of a string without its tree.
 * 0 or -ENOMEM.
 */
int entry_json_append_text(struct entry_json_buf *b, const uint8_t *p, size_t n, bool allow_nul);
/* Append the string entry_json_base64() makes of p..p+n. 0 or -ENOMEM. */
int entry_json_append_base64(struct entry_json_buf *b, const uint8_t *p, size_t n);
/* The bytes entry_json_text() keeps of p..p+n (allow_nul: NUL kept), into a new buffer of
 * *out_n bytes plus a NUL; NULL on ENOMEM. */
char *entry_text_sanitize(const uint8_t *p, size_t n, bool allow_nul, size_t *out_n);

/* Set key to a text value (entry_json_text); returns 0 or -ENOMEM. */
int entry_set_text(json_t *obj, const char *key, const uint8_t *p, size_t n);

#endif /* FLOE_ENTRY_ENTRY_H */
