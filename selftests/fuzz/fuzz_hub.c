/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub's parsers: the PCAP merge over agents' answers (hub_pcap.c), the query parameters
 * (time, cursor; hub_query.c), the redaction of an agent's entry (api/agent_api_redact.c) and the
 * UI's file paths (hub_static.c), the service map's fold of an entry (hub_servicemap.c), the
 * snapshot names and trigger objects of the triggers' routes (api/snapshot_name.c,
 * hub_triggers.c). The first byte splits the rest into two "agents'" PCAP files; the
 * same bytes are also read as a time, a cursor and a UI file path. Checks: the merge either
 * fails cleanly or writes a file whose records it can read back, as many as it said, in time
 * order; a masked entry is a JSON object again, and masking it once more changes nothing; an
 * entry the map takes is counted once, in an edge or as dropped, whatever its fields hold.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../hub/hub_pcap.h"
#include "../../hub/hub_query.h"
#include "api/agent_api_redact.h"
#include "../../hub/hub_servicemap.h"
#include "../../hub/hub_static.h"
#include "../../hub/hub_triggers.h"
#include "api/snapshot_name.h"

static void check_output(const uint8_t *out, size_t len, uint64_t packets)
{
	struct hub_pcap_fmt f;
	char err[200];
	if (len < 24 || hub_pcap_parse_header(out, &f, err, sizeof(err)))
		abort();
	size_t o = 24;
	uint64_t n = 0;
	while (o < len) {
		struct hub_pcap_rec r;
		if (len - o < 16 || hub_pcap_parse_record(&f, out + o, &r, err, sizeof(err)))
			abort();
		o += 16 + r.incl_len;
		if (o > len)
			abort();
		n++;
	}
	if (n != packets)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t split = size > 1 ? data[0] * (size - 1) / 255 : 0;
	const uint8_t *body = data + 1;
	size_t blen = size - 1;
	FILE *in[2] = {fmemopen((void *)body, split ? split : 0, "r"),
		       fmemopen((void *)(body + split), blen - split, "r")};
	/* fmemopen refuses size 0 on some libcs: an empty input is a file at its end. */
	for (int i = 0; i < 2; i++)
		if (!in[i])
			in[i] = fopen("/dev/null", "r");
	char *out = NULL, err[300];
	size_t outlen = 0;
	FILE *o = open_memstream(&out, &outlen);
	uint64_t packets = 0;
	int rc = hub_pcap_merge(in, NULL, 2, o, &packets, err, sizeof(err));
	fclose(o);
	if (rc == 0)
		check_output((const uint8_t *)out, outlen, packets);
	free(out);
	fclose(in[0]);
	fclose(in[1]);

	char *s = malloc(blen + 1);
	if (!s)
		return 0;
	memcpy(s, body, blen);
	s[blen] = 0;
	int64_t t;
	char *id;
	if (hub_parse_time(s, &t, err, sizeof(err)) == 0 && t < 0)
		abort();
	/* A snapshot name that is taken is one plain file name: no '/', no leading '.', no
	 * "..", no control byte, and its parts put together give it back. */
	char trig[80], eid[128];
	if (snapshot_name_parse(s, trig, sizeof(trig), eid, sizeof(eid))) {
		char again[256];
		snprintf(again, sizeof(again), "%s.%s.pcap", trig, eid);
		if (strchr(s, '/') || s[0] == '.' || strstr(s, "..") || strcmp(again, s))
			abort();
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				abort();
	}
	/* A trigger object: checked without a crash; one that passes has a good name. */
	json_t *tj = json_loadb((const char *)body, blen, 0, NULL);
	int col;
	if (tj && hub_trigger_check(tj, err, sizeof(err), &col) == 0 &&
	    !trigger_name_ok(json_string_value(json_object_get(tj, "name"))))
		abort();
	json_decref(tj);
	/* A UI path that is taken names a file below the directory: no ".." or hidden component
	 * and nothing that leaves it, whatever the bytes. */
	char rel[256];
	if (hub_static_path(s, rel, sizeof(rel)) == 0 &&
	    (rel[0] == '/' || strstr(rel, "/.") || rel[0] == '.' || strstr(rel, "//") ||
	     strchr(rel, '\\')))
		abort();
	if (hub_cursor_decode(s, &t, &id) == 0) {
		char again[1024], *id2;
		int64_t t2;
		/* What decodes encodes to a cursor that decodes to the same position. */
		if (hub_cursor_encode(t, id, again, sizeof(again)) > 0) {
			if (hub_cursor_decode(again, &t2, &id2) || t2 != t || strcmp(id, id2))
				abort();
			free(id2);
		}
		free(id);
	}
	hub_error_column(s);
	free(s);

	struct entry_json_buf b1 = {0}, b2 = {0};
	int r = agent_api_redact_entry((const char *)body, blen, &b1);
	if (r == 1) {
		json_error_t je;
		json_t *j = json_loadb(b1.p, b1.len, JSON_ALLOW_NUL, &je);
		if (!json_is_object(j))
			abort();
		json_decref(j);
		if (agent_api_redact_entry(b1.p, b1.len, &b2) == 1 &&
		    (b2.len != b1.len || memcmp(b1.p, b2.p, b1.len)))
			abort();
	}
	entry_json_buf_free(&b1);
	entry_json_buf_free(&b2);

	/* Tiny limits, so that the bounds are reached too. */
	struct hub_map_limits lim = {.max_nodes = 1, .max_edges = 1, .max_samples = 1};
	struct hub_map *m = hub_map_new(&lim);
	if (m) {
		int ar = hub_map_add(m, (const char *)body, blen);
		json_t *g = hub_map_json(m, 1.0);
		if (g) {
			json_int_t n = json_integer_value(json_object_get(g, "entries")),
				   d = json_integer_value(json_object_get(g, "dropped")), req = 0;
			json_t *e = json_array_get(json_object_get(g, "edges"), 0);
			if (e)
				req = json_integer_value(json_object_get(e, "requests"));
			if ((ar == 0 && (n != 1 || req + d != 1)) || (ar == -EINVAL && n != 0))
				abort();
			json_decref(g);
		}
		hub_map_free(m);
	}
	return 0;
}
