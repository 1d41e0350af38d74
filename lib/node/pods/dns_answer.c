// SPDX-License-Identifier: Apache-2.0
/* Which addresses a DNS entry's answer names. See dns_answer.h. */
#include "pods/dns_answer.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "pods/name_resolver.h"

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The response's header says a resolver would use its answer. */
static bool response_usable(const json_t *resp)
{
	const json_t *flags = json_object_get(resp, "flags");
	const char *opcode = str_of(resp, "opcode"), *rcode = str_of(resp, "rcode");

	return json_is_object(resp) && opcode && !strcmp(opcode, "QUERY") && rcode &&
	       !strcmp(rcode, "NOERROR") && json_is_true(json_object_get(flags, "qr")) &&
	       !json_is_true(json_object_get(flags, "tc")) && !json_object_get(resp, "error");
}

/* A record of the answer section fit to be a link: class IN, well-formed, its TTL and data
 * there. Its type, or NULL. */
static const char *record_type(const json_t *rec)
{
	const char *cls = str_of(rec, "class"), *type = str_of(rec, "type");

	if (!cls || strcmp(cls, "IN") || !type || !str_of(rec, "name") ||
	    json_is_true(json_object_get(rec, "malformed")) ||
	    !json_is_integer(json_object_get(rec, "ttl")))
		return NULL;
	return type;
}

static uint32_t record_ttl(const json_t *rec)
{
	json_int_t ttl = json_integer_value(json_object_get(rec, "ttl"));

	return ttl < 0 ? 0 : ttl > UINT32_MAX ? UINT32_MAX : (uint32_t)ttl;
}

/* The CNAME record owned by name in answers, or NULL. */
static const json_t *cname_of(const json_t *answers, const char *name)
{
	size_t i;
	const json_t *rec;

	json_array_foreach(answers, i, rec) {
		const char *type = record_type(rec);

		if (type && !strcmp(type, "CNAME") && str_of(rec, "data") &&
		    !strcasecmp(str_of(rec, "name"), name))
			return rec;
	}
	return NULL;
}

size_t dns_answer_names(const struct entry *e, struct dns_answer *out)
{
	const json_t *resp = json_object_get(e->fields, "response"), *answers, *q, *rec;
	const char *qtype, *end, *type;
	uint32_t chain_ttl = UINT32_MAX;
	size_t i, links = 0;
	int family;

	memset(out, 0, offsetof(struct dns_answer, addrs));
	if (strcmp(e->protocol, "dns") || e->missing != ENTRY_COMPLETE || !response_usable(resp))
		return 0;
	answers = json_object_get(resp, "answers");
	q = json_array_get(json_object_get(resp, "questions"), 0);
	qtype = str_of(q, "type");
	if (json_array_size(json_object_get(resp, "questions")) != 1 || !str_of(q, "name") ||
	    !str_of(q, "class") || strcmp(str_of(q, "class"), "IN") || !qtype ||
	    !json_is_array(answers))
		return 0;
	if (!strcmp(qtype, "A"))
		family = AF_INET;
	else if (!strcmp(qtype, "AAAA"))
		family = AF_INET6;
	else
		return 0;
	/* The root and names past what an entry's names hold name nothing. */
	if (!strcmp(str_of(q, "name"), ".") || strlen(str_of(q, "name")) >= ENTRY_NAME_MAX)
		return 0;
	out->name = str_of(q, "name");
	/* Follow the CNAMEs from the question's name. */
	for (end = out->name; (rec = cname_of(answers, end)); end = str_of(rec, "data")) {
		if (++links > DNS_ANSWER_CHAIN_MAX) {
			out->ignored = json_array_size(answers);
			return 0; /* a loop, or longer than any resolver follows */
		}
		if (record_ttl(rec) < chain_ttl)
			chain_ttl = record_ttl(rec);
	}
	json_array_foreach(answers, i, rec) {
		uint8_t a[16];
		const char *data = str_of(rec, "data");

		type = record_type(rec);
		if (type && !strcmp(type, "CNAME"))
			continue; /* counted below */
		if (!type || strcmp(type, qtype) || !data || strcasecmp(str_of(rec, "name"), end) ||
		    inet_pton(family, data, a) != 1 || out->n_addrs == DNS_ANSWER_ADDRS_MAX) {
			out->ignored++;
			continue;
		}
		name_resolver_key(family, a, out->addrs[out->n_addrs].addr);
		out->addrs[out->n_addrs].ttl = record_ttl(rec) < chain_ttl ? record_ttl(rec) : chain_ttl;
		out->n_addrs++;
	}
	/* CNAMEs that were not links of the chain named nothing either. */
	json_array_foreach(answers, i, rec)
		if ((type = record_type(rec)) && !strcmp(type, "CNAME"))
			out->ignored++;
	out->ignored -= links;
	return out->n_addrs;
}
