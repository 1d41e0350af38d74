/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns: the DNS dissector, over UDP (one message per datagram) and TCP (RFC 1035 4.2.2 /
 * RFC 7766: each message after a 2-byte length, several per connection, answered in any
 * order). docs/dns.md has the behaviour and docs/entries.md the fields.
 *
 * One entry per query and its response, matched by message id, the conversation (endpoints)
 * and the first question (name case-insensitively, type, class); a response without a
 * question matches by id. UDP: a query sent again with the same id and question while the
 * first is unanswered is a retransmission of it (request.retransmissions), and further
 * copies of a response already matched are counted, not shown. TCP zone transfers (AXFR,
 * IXFR) are one entry for all their response messages. A query never answered is an entry
 * missing its response (timeout after DNS_QUERY_TIMEOUT_NS or when the conversation goes
 * idle, end of capture, connection closed or capture gap); a response without its query
 * (the capture started late) an entry missing its request.
 */
#ifndef FLOE_DISSECT_DNS_H
#define FLOE_DISSECT_DNS_H

#include "dissect/dissector.h"

/* Queries waiting for a response per conversation; more evict the oldest (counted). */
#define DNS_PENDING_MAX 256u
/* A query unanswered this long is given up (missing response, timeout) at the next message. */
#define DNS_QUERY_TIMEOUT_NS (30ull * 1000000000ull)
/* Responses already matched that are remembered to recognise copies (UDP). */
#define DNS_ANSWERED_REMEMBERED 32u

/* Indexes of dissector_dns.counters */
enum dns_counter {
	DNS_COUNTER_MALFORMED = 0,   /* messages that did not parse to their end */
	DNS_COUNTER_RETRANSMITTED,   /* UDP queries sent again while unanswered */
	DNS_COUNTER_DUPLICATE_RESP,  /* UDP responses to queries already answered */
	DNS_COUNTER_TRUNCATED,	     /* responses with the TC flag */
	DNS_COUNTER_PENDING_EVICTED, /* queries given up because DNS_PENDING_MAX waited */
	DNS_COUNTER_XFR_MESSAGES,    /* zone transfer response messages after the first */
	DNS_COUNTER_RESYNCS,	     /* TCP: gaps that lost the framing (the next message start
				      * was searched for) */
};

extern const struct dissector dissector_dns;


#endif /* FLOE_DISSECT_DNS_H */
