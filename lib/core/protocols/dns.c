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
	const json_t *req = json_object_get(e->fields, "request");
	const json_t *resp = json_object_get(e->fields, "response");
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
const struct protocol_desc protocol_dns = {
    .name = "dns",
    .summary = dns_summary,
};
