/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_message: one DNS message (RFC 1035 4.1, with EDNS(0) of RFC 6891) from its wire form
 * into a JSON object (the "request"/"response" fields of a DNS entry, docs/entries.md) and a
 * small summary for matching queries to responses. Used by dissect/dns.c for UDP and TCP.
 *
 * Robustness, for bytes from anywhere:
 *   - every read is checked against the message length; nothing is read outside (p, n);
 *   - names: labels of at most 63 bytes, at most 255 bytes in all, the label types 00 and
 *     11 only; a compression pointer must point before the name segment it is read from
 *     (strictly backwards: loops are impossible), and at most DNS_POINTER_HOPS_MAX hops;
 *   - a record's rdata is decoded inside its rdlength only; a record whose rdata does not fit
 *     its type's layout keeps its bytes as hex with "malformed": true, and parsing goes on
 *     at the next record (the rdlength framing is intact);
 *   - an error in the framing (a name, a header field or an rdlength past the end, counts
 *     larger than the message) stops the parse: what was parsed is kept, and the summary's
 *     error (also "error" and "error_offset" in the JSON) says what and where;
 *   - memory: at most lim->records_max records per section go into the JSON (the section
 *     totals are always in "counts"; the rest are walked for framing and EDNS, and
 *     counted in "records_not_shown"); TXT strings, hex and base64 values are cut at
 *     lim->value_max bytes ("truncated": true on the record).
 */
#ifndef FLOE_DISSECT_DNS_MESSAGE_H
#define FLOE_DISSECT_DNS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define DNS_HEADER_LEN	     12u
#define DNS_NAME_WIRE_MAX    255u /* RFC 1035 2.3.4 */
#define DNS_LABEL_MAX	     63u
#define DNS_POINTER_HOPS_MAX 127u /* a name has at most 127 labels */
/* Presentation text of a name: every byte may become \DDD, plus the dots. */
#define DNS_NAME_TEXT_MAX	(DNS_NAME_WIRE_MAX * 4 + 2)
#define DNS_RECORDS_MAX_DEFAULT 100u

/* Query types with special meaning for pairing. */
#define DNS_TYPE_SOA  6
#define DNS_TYPE_OPT  41
#define DNS_TYPE_IXFR 251
#define DNS_TYPE_AXFR 252

enum dns_section {
	DNS_SECTION_QUESTION = 0,
	DNS_SECTION_ANSWER,
	DNS_SECTION_AUTHORITY,
	DNS_SECTION_ADDITIONAL,
};

struct dns_header {
	uint16_t id;
	bool qr, aa, tc, rd, ra, z, ad, cd;
	uint8_t opcode;
	uint8_t rcode;	   /* the header's 4 bits */
	uint16_t count[4]; /* by enum dns_section */
};

struct dns_limits {
	size_t records_max; /* records per section in the JSON; 0: DNS_RECORDS_MAX_DEFAULT */
	size_t value_max;   /* bytes of a TXT string, hex or base64 value; 0: no bound */
};

struct dns_summary {
	struct dns_header h;
	unsigned rcode; /* with the upper bits from the EDNS OPT record */
	bool has_edns;
	bool has_question;
	char qname[DNS_NAME_TEXT_MAX]; /* first question, presentation form */
	uint16_t qtype, qclass;
	uint64_t qhash;		    /* first question: case-insensitive name, type, class */
	unsigned parsed[4];	    /* records parsed per section (framing intact) */
	unsigned malformed_records; /* records whose rdata did not fit their type */
	const char *error;	    /* NULL when the whole message parsed; else what broke */
	size_t error_offset;	    /* where (offset in the message) */
	size_t end;		    /* offset after the last record parsed */
	/* answer section, for the end of zone transfers (AXFR/IXFR): */
	bool first_answer_soa, last_answer_soa;
	uint32_t first_soa_serial, last_soa_serial;
};

/* The header of a message of at least DNS_HEADER_LEN bytes. */
void dns_header_read(const uint8_t *p, struct dns_header *h);

/*
 * Parse the message (p, n). When out is not NULL, *out is set to a new JSON object (NULL on
 * ENOMEM). Returns 0 when the message parsed to its end, -EINVAL when it is malformed
 * (sum->error says why; the JSON has what parsed before) or shorter than a header (then no
 * JSON), -ENOMEM. Trailing bytes after the last record are not an error (counted in the
 * JSON's "trailing_bytes").
 */
int dns_message_parse(const uint8_t *p, size_t n, const struct dns_limits *lim,
		      struct dns_summary *sum, json_t **out);

/* Names of numbers: the registered mnemonic, or "TYPE<n>" / "CLASS<n>" / "RCODE<n>" /
 * "OPCODE<n>" (RFC 3597 style) written into buf. */
const char *dns_type_name(uint16_t type, char buf[16]);
const char *dns_class_name(uint16_t cls, char buf[16]);
const char *dns_rcode_name(unsigned rcode, char buf[16]);
const char *dns_opcode_name(unsigned opcode, char buf[16]);

/*
 * Read the name at off of the message (p, n) into text (presentation form, no trailing dot,
 * the root as "."). *next is the offset after the name where it started (after the first
 * pointer). Returns 0, or a static message saying what is wrong.
 */
const char *dns_name_read(const uint8_t *p, size_t n, size_t off, size_t *next,
			  char text[DNS_NAME_TEXT_MAX], size_t *text_len);

/* Case-insensitive hash of a question (name text, type, class) for matching. */
uint64_t dns_question_hash(const char *name, size_t len, uint16_t type, uint16_t cls);

#endif /* FLOE_DISSECT_DNS_MESSAGE_H */
