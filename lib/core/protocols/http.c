// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.x and HTTP/2: the protocol's descriptor (protocol.h); its dissectors are
 * lib/node/dissect/http1.c and http2.c (with http_common.c).
 */
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* "POST /api/v1/items?x=1 -> 503"; gRPC and GraphQL add to it (grpc.c, graphql.c). */
static size_t http_summary(const struct entry *e, char *out, size_t size)
{
	struct entry_value mv, uv, rv, sv;
	const char *method, *url;
	struct text_buf b = {out, size, 0};

	/* Read without a tree: an HTTP/1 entry's fields are compact (http1_fields.h). */
	entry_field_get(e, (const char *[]){"request", "method"}, 2, &mv);
	entry_field_get(e, (const char *[]){"request", "url"}, 2, &uv);
	if (uv.type == ENTRY_VALUE_OTHER) {
		/* a URL the compact part cannot give as it is (not UTF-8): the tree's */
		entry_fields(e);
		entry_field_get(e, (const char *[]){"request", "url"}, 2, &uv);
	}
	entry_field_get(e, (const char *[]){"response"}, 1, &rv);
	entry_field_get(e, (const char *[]){"response", "status"}, 2, &sv);
	method = mv.type == ENTRY_VALUE_STRING ? mv.s : NULL;
	url = uv.type == ENTRY_VALUE_STRING ? uv.s : NULL;

	/* "%s %.300s -> %lld", by hand: this runs for every HTTP entry of a text listing. */
	if (size)
		out[0] = 0;
	if (method || url) {
		text_str(&b, method ? method : "-");
		text_put(&b, " ", 1);
		if (url)
			text_put(&b, url, strnlen(url, 300));
		else
			text_put(&b, "-", 1);
	}
	if (b.len < size && rv.type != ENTRY_VALUE_ABSENT) {
		text_put(&b, " -> ", 4);
		text_int(&b, sv.type == ENTRY_VALUE_INT ? sv.i : 0);
	}
	return b.len;
}

static const struct protocol_field interim_fields[] = {
	FIELD("status", INTEGER, "`100`, `103`, `101`, ..."),
	FIELD("status_text", STRING, "the reason phrase"),
	FIELD("version", STRING, "`1.1`, `2`"),
	FIELD_OF("headers", MAP, STRING, "lower-cased name → value"),
	FIELD("time", TIMESTAMP, "when it came"),
	FIELD_END,
};

static const struct field_group interim_group = { "Interim response",
						  interim_fields };

static const struct protocol_field unknown_header_fields[] = {
	FIELD("index", INTEGER, "the HPACK dynamic-table index it referred to (62 and up)"),
	FIELD("name", STRING, "the name, when only the value came from the unknown entry"),
	FIELD("value", STRING, "the value, when only the name came from the unknown entry"),
	FIELD_END,
};

static const struct field_group unknown_header_group = { "Unknown header (HTTP/2)",
							 unknown_header_fields };

static const struct protocol_field http_fields[] = {
	FIELD("request", OBJECT, "the request"),
	FIELD("request.method", STRING, "`GET`, `POST`, ..."),
	FIELD("request.url", STRING, "the request target as sent (HTTP/2: `:path`)"),
	FIELD("request.path", STRING, "the url before `?`"),
	FIELD("request.query", STRING, "the url after `?` without `#fragment` (`\"\"` when none)"),
	FIELD_OF("request.query_params", MAP, STRING,
		 "name → value, percent- and `+`-decoded (first value of a repeated name)"),
	FIELD("request.version", STRING, "`1.0`, `1.1`, `2`"),
	FIELD_OF("request.headers", MAP, STRING,
		 "lower-cased name → value; a repeated header's values joined with `, ` "
		 "(`set-cookie` with a newline)"),
	FIELD_OF("request.cookies", MAP, STRING, "name → value from `cookie`"),
	FIELD("request.content_type", STRING, "the `content-type` header"),
	FIELD_GROUP("request.body", protocol_body_group, "the body"),
	FIELD_OF("request.trailers", MAP, STRING, "HTTP/1.1 chunked trailers / HTTP/2 trailing HEADERS"),
	FIELD("request.headers_partial", BOOLEAN,
	      "HTTP/2: not every header field could be decoded (a dynamic-table entry floe never "
	      "saw, or a block cut by a capture gap)"),
	FIELD_ARRAY_GROUP("request.unknown_headers", unknown_header_group,
			  "HTTP/2: fields that referred to dynamic-table entries floe never saw"),
	FIELD("request.headers_truncated", BOOLEAN,
	      "HTTP/2: decoded headers went past the 64 KiB bound; the rest were dropped"),
	FIELD("request.authority", STRING, "HTTP/2 `:authority`"),
	FIELD("request.scheme", STRING, "HTTP/2 `:scheme`"),
	FIELD("request.protocol", STRING,
	      "HTTP/2 `:protocol` of an extended CONNECT (RFC 8441), e.g. `websocket`"),
	FIELD("response", OBJECT, "the response"),
	FIELD("response.status", INTEGER, "`200`, `404`, ..."),
	FIELD("response.status_text", STRING,
	      "the reason phrase (HTTP/2 has none on the wire: the standard phrase of the code)"),
	FIELD("response.version", STRING, "as for the request"),
	FIELD_OF("response.headers", MAP, STRING, "as for the request"),
	FIELD_OF("response.cookies", MAP, STRING, "name → value from `set-cookie`"),
	FIELD("response.content_type", STRING, "as for the request"),
	FIELD_GROUP("response.body", protocol_body_group, "as for the request"),
	FIELD_OF("response.trailers", MAP, STRING, "as for the request"),
	FIELD("response.headers_partial", BOOLEAN, "as for the request"),
	FIELD_ARRAY_GROUP("response.unknown_headers", unknown_header_group, "as for the request"),
	FIELD("response.headers_truncated", BOOLEAN, "as for the request"),
	FIELD_ARRAY_GROUP("interim", interim_group,
			  "interim 1xx responses (100 Continue, 103, the 101 of an upgrade)"),
	FIELD("interim_dropped", INTEGER, "interim responses beyond the ones kept"),
	FIELD("upgrade", STRING, "the protocol a 101 switched to (`h2c`, `websocket`, ...)"),
	FIELD("tunnel_kind", STRING,
	      "an accepted CONNECT: what its tunnel carried: `cleartext` (dissected: the entries "
	      "from inside have `tunnel.id`), `tls` (not decrypted), `empty`, `not_dissected` "
	      "(nested too deep; HTTP/2: an extended CONNECT, or more tunnels than kept)"),
	FIELD("pushed", BOOLEAN, "HTTP/2 server push: the entry is the promised stream's"),
	FIELD("promised_on_stream", INTEGER, "HTTP/2 server push: the stream it was promised on"),
	FIELD("rst_error", STRING, "HTTP/2 RST_STREAM: the error code name"),
	FIELD("rst_by", STRING, "HTTP/2 RST_STREAM: who sent it (`client`/`server`)"),
	FIELD("goaway", BOOLEAN, "`true` when a GOAWAY cancelled the stream"),
	FIELD_END,
};

static const char *const http_dissectors[] = { "http1", "http2", NULL };

static const struct protocol_word http_words[] = {
	{ "http", NULL },  /* with gRPC and GraphQL, which ride on HTTP */
	{ "http1", "1" },  /* versions 1.0 and 1.1 */
	{ "http2", "2" },
	{ NULL, NULL },
};

const struct protocol_desc protocol_http = {
	.name = "http",
	.description = "HTTP/1.0, HTTP/1.1 and HTTP/2 (h2c, prior knowledge) requests and responses",
	.dissectors = http_dissectors,
	.words = http_words,
	.fields = http_fields,
	.summary = http_summary,
};
