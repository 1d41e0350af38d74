/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns_answer: which addresses a DNS entry's answer names, and by what name.
 *
 * A client that asked for web.example.com (A or AAAA) and got, maybe through CNAMEs, addresses
 * will talk to those addresses under that name: floe names them so (the name the client asked
 * for, not the CNAME target: that is what the client's configuration says). The tap feeds every
 * DNS entry here and gives what comes out to the name resolver (name_resolver_set_dns).
 *
 * Only what a resolver would itself believe names anything (docs/dns-names.md):
 * - an entry with both its query and its response (an unsolicited answer, or one whose query
 *   was not captured, could be anyone's), the response a QUERY, NOERROR, not truncated, parsed
 *   to its end, with one question of class IN and type A or AAAA;
 * - the chain from the question's name through CNAME records of the answer section, each owned
 *   by the previous link (compared case-insensitively), at most DNS_ANSWER_CHAIN_MAX long (a
 *   loop or a longer chain names nothing); then the records of the question's type owned by
 *   the chain's end, their data an address. Records owned by other names (an answer for a name
 *   nobody asked about) are ignored and counted, as is anything malformed;
 * - the TTL is the smallest of the chain's and the record's.
 * The input is the entry the DNS dissector made (its JSON fields), already bounded (100
 * records a section, names of at most 255 bytes in presentation form).
 */
#ifndef FLOE_PODS_DNS_ANSWER_H
#define FLOE_PODS_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "entry/entry.h"

#define DNS_ANSWER_CHAIN_MAX 16 /* CNAMEs followed; resolvers give up near here (BIND: 16) */
#define DNS_ANSWER_ADDRS_MAX 100 /* the records of a section an entry shows */

struct dns_answer_addr {
	uint8_t addr[16]; /* as name_resolver_key() makes it */
	uint32_t ttl;	  /* seconds */
};

struct dns_answer {
	const char *name; /* the question's name, inside the entry (valid while it lives) */
	size_t n_addrs;
	struct dns_answer_addr addrs[DNS_ANSWER_ADDRS_MAX];
	size_t ignored; /* records of the answer section that named nothing */
};

/*
 * What e (any entry; only complete "dns" entries name anything) names: fills out and returns
 * out->n_addrs (0: nothing; out->name is then NULL unless a chain was followed). Never fails:
 * anything it does not trust names nothing.
 */
size_t dns_answer_names(const struct entry *e, struct dns_answer *out);

#endif /* FLOE_PODS_DNS_ANSWER_H */
