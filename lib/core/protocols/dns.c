// SPDX-License-Identifier: Apache-2.0
/* DNS: the protocol's descriptor (protocol.h); its dissector is lib/node/dissect/dns.c. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* A DNS answer's data in a few characters: the address or name, else the field that names
 * something (MX exchange, SRV target, SOA mname, ...), else the first TXT string. */
static const char *dns_data_short(const json_t *d)
{
	static const char *const keys[] = { "exchange", "target", "mname", "next", "signer" };
	size_t i;

	if (json_is_string(d))
		return json_string_value(d);
	if (json_is_array(d))
		return json_string_value(json_array_get(d, 0));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_is_string(json_object_get(d, keys[i])))
			return json_string_value(json_object_get(d, keys[i]));
	return NULL;
}

/* "A example.com -> 93.184.216.34 NOERROR" (the first answers, then the rcode). */
static size_t dns_summary(const struct entry *e, char *out, size_t size)
{
	const json_t *req = json_object_get(entry_fields(e), "request");
	const json_t *resp = json_object_get(entry_fields(e), "response");
	const json_t *q = req ? req : resp, *ans = json_object_get(resp, "answers"), *a;
	size_t off = 0, i;

	off += snprintf(out, size, "%s %.200s", entry_field_str(q, "type", NULL) ?: "-",
			entry_field_str(q, "name", NULL) ?: "-");
	if (!resp || off >= size)
		return off;
	off += snprintf(out + off, size - off, " ->");
	json_array_foreach(ans, i, a) {
		const char *d = dns_data_short(json_object_get(a, "data"));

		if (off >= size)
			return off;
		if (i == 3) {
			off += snprintf(out + off, size - off, " (+%zu)", json_array_size(ans) - 3);
			break;
		}
		off += snprintf(out + off, size - off, "%s %.100s", i ? "," : "",
				d ?: entry_field_str(a, "type", NULL) ?: "?");
	}
	if (off < size)
		off += snprintf(out + off, size - off, " %s%s", entry_field_str(resp, "rcode", NULL) ?: "-",
				json_is_true(json_object_get(json_object_get(resp, "flags"), "tc"))
					? " TC"
					: "");
	return off;
}

static const struct protocol_field dns_question_fields[] = {
	FIELD("name", STRING, "the name (no trailing dot; the root is `.`)"),
	FIELD("type", STRING, "`A`, `AAAA`, ..., `TYPE<n>`"),
	FIELD("class", STRING, "`IN`, `CH`, `HS`, `NONE`, `ANY`, else `CLASS<n>`"),
	FIELD_END,
};

static const struct field_group dns_question_group = { "Question",
						       dns_question_fields };

static const struct protocol_field dns_record_fields[] = {
	FIELD("name", STRING, "the owner name"),
	FIELD("type", STRING, "`A`, `AAAA`, ..., `TYPE<n>`"),
	FIELD("class", STRING, "as in questions"),
	FIELD("ttl", INTEGER, "seconds"),
	{ .path = "data", .type = FIELD_ANY,
	  .meaning = "by type: a string for A/AAAA (address) and CNAME/NS/PTR/DNAME (name), an array "
		     "of strings for TXT, an object for the others (MX `{preference, exchange}`, SOA "
		     "`{mname, rname, serial, refresh, retry, expire, minimum}`, SRV `{priority, "
		     "weight, port, target}`, CAA `{flags, tag, value}`, DS, DNSKEY, RRSIG, NSEC, "
		     "NSEC3, SVCB/HTTPS, TSIG, ... see dns.md), `{hex}` for types not decoded" },
	FIELD("malformed", BOOLEAN, "the rdata did not fit its type (then `data` is `{hex}`)"),
	FIELD("truncated", BOOLEAN, "a value was cut at `--body-max`"),
	FIELD_END,
};

static const struct field_group dns_record_group = { "Record",
						     dns_record_fields };

static const struct protocol_field dns_edns_fields[] = {
	FIELD("udp_size", INTEGER, "the requester's UDP payload size"),
	FIELD("extended_rcode", INTEGER, "the upper bits of the rcode"),
	FIELD("version", INTEGER, "the EDNS version"),
	FIELD("do", BOOLEAN, "DNSSEC OK"),
	FIELD("z", INTEGER, "the other flag bits (when not 0)"),
	FIELD_OF("options", ARRAY, ANY,
		 "`{code, name, length, ...}` decoded for `client_subnet` (`family`, "
		 "`source_prefix`, `scope_prefix`, `address`), `cookie` (`client`, `server`), `nsid` "
		 "(`hex`, `text`), `tcp_keepalive` (`timeout`), `expire`, `chain` (`trust_point`), "
		 "`key_tag` (`key_tags`), `dau`/`dhu`/`n3u` (`algorithms`), `extended_error` "
		 "(`info_code`, `info`, `extra_text`), else `hex`"),
	FIELD_END,
};

static const struct field_group dns_edns_group = { "EDNS", dns_edns_fields };

static const struct protocol_field dns_message_fields[] = {
	FIELD("id", INTEGER, "the message id"),
	FIELD("opcode", STRING, "`QUERY`, `IQUERY`, `STATUS`, `NOTIFY`, `UPDATE`, `DSO`, else "
				"`OPCODE<n>`"),
	FIELD_OF("flags", MAP, BOOLEAN, "`qr`, `aa`, `tc`, `rd`, `ra`, `z`, `ad`, `cd`"),
	FIELD("rcode", STRING, "`NOERROR`, `FORMERR`, `SERVFAIL`, `NXDOMAIN`, `NOTIMP`, `REFUSED`, "
			       "`YXDOMAIN`, ..., `BADVERS`, `BADCOOKIE`, else `RCODE<n>`; with the "
			       "EDNS extended bits"),
	FIELD("rcode_value", INTEGER, "the same as a number"),
	FIELD("name", STRING, "the first question's name (no trailing dot; the root is `.`), for "
			      "filters"),
	FIELD("type", STRING, "the first question's type (`A`, `AAAA`, ..., `TYPE<n>`), for filters"),
	FIELD_ARRAY_GROUP("questions", dns_question_group, "the questions"),
	FIELD_ARRAY_GROUP("answers", dns_record_group, "the answer section (the OPT record is not "
						       "here but in `edns`)"),
	FIELD_ARRAY_GROUP("authority", dns_record_group, "the authority section"),
	FIELD_ARRAY_GROUP("additional", dns_record_group, "the additional section"),
	FIELD_OF("counts", MAP, INTEGER, "`questions`, `answers`, `authority`, `additional`: the "
					 "header's counts (the totals, also when fewer records are "
					 "shown)"),
	FIELD_GROUP("edns", dns_edns_group, "the OPT record"),
	FIELD("records_not_shown", INTEGER, "records beyond the 100 shown per section"),
	FIELD("malformed_records", INTEGER, "records kept as `{hex}` because their rdata did not "
					    "fit their type"),
	FIELD("error", STRING, "the message did not parse to its end: what broke (what parsed "
			       "before is shown)"),
	FIELD("error_offset", INTEGER, "at which byte it broke"),
	FIELD("trailing_bytes", INTEGER, "bytes after the last record"),
	FIELD("retransmissions", INTEGER, "the query (UDP): times it was sent again (same id and "
					  "question) before its response"),
	FIELD("messages", INTEGER, "the response of a zone transfer (AXFR/IXFR): messages in the "
				   "entry; `counts.answers` is then their total"),
	FIELD("transfer_complete", BOOLEAN, "`false` when a zone transfer was cut short (connection "
					    "end, gap)"),
	FIELD_END,
};

static const struct field_group dns_message_group = { "DNS message",
						      dns_message_fields };

static const struct protocol_field dns_fields[] = {
	FIELD("transport", STRING, "`udp` or `tcp`"),
	FIELD("unsolicited", BOOLEAN, "a response no query was seen for, and no bytes were lost "
				      "before it: sent unasked (an mDNS announcement) or to a query "
				      "made before the capture began (`missing: \"request\"`, "
				      "`missing_reason: \"unsolicited\"`)"),
	FIELD_GROUP("request", dns_message_group, "the query"),
	FIELD_GROUP("response", dns_message_group, "the response"),
	FIELD_END,
};

static const char *const dns_dissectors[] = { "dns", NULL };
static const struct protocol_word dns_words[] = { { "dns", NULL }, { NULL, NULL } };

const struct protocol_desc protocol_dns = {
	.name = "dns",
	.description = "DNS over UDP and TCP: queries and their responses, zone transfers",
	.dissectors = dns_dissectors,
	.words = dns_words,
	.fields = dns_fields,
	.summary = dns_summary,
};
