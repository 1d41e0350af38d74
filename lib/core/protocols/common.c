// SPDX-License-Identifier: Apache-2.0
/* The fields every entry has, and the groups several protocols share (protocol.h). */
#include "protocols/protocol.h"

static const struct protocol_field endpoint_fields[] = {
	FIELD("ip", STRING, "the address: `10.0.0.1`, `fd00::2`"),
	FIELD("port", INTEGER, "the TCP or UDP port"),
	FIELD("pod", STRING, "the pod the address belongs to, when floe knows it"),
	FIELD("namespace", STRING, "that pod's (or service's) namespace"),
	FIELD("service", STRING, "Kubernetes mode: the service the address belongs to: a Service's "
				 "cluster IP, or an endpoint of its EndpointSlices (the first by "
				 "namespace/name when it backs several)"),
	FIELD("node", STRING, "Kubernetes mode: the node the pod runs on (`spec.nodeName`), or the "
			      "node whose own address (a Node's InternalIP or ExternalIP) it is"),
	FIELD("dns_name", STRING, "floe tap: the name a DNS answer floe saw gave the address (the "
				  "name the client asked for, through CNAMEs to its A/AAAA record), "
				  "while that answer's TTL lasts (docs/dns-names.md)"),
	FIELD("name", STRING, "the best name to show: the pod, else the service, else the node (a "
			      "node's own address), else `dns_name`, else the IP"),
	FIELD_END,
};

static const struct field_group endpoint_group = { "Endpoint", endpoint_fields };

static const struct protocol_field tunnel_fields[] = {
	FIELD("id", STRING, "the `id` of the entry of the CONNECT that opened the tunnel"),
	FIELD("authority", STRING, "the CONNECT's target (`host:port`)"),
	FIELD_END,
};

static const struct field_group tunnel_group = { "Tunnel", tunnel_fields };

const struct protocol_field protocol_common_fields[] = {
	FIELD("id", STRING, "`<flow_id>-<n>`: the n-th entry of that connection, in the order entries "
			    "were completed. Stable for one input: reading the same file twice gives the "
			    "same ids. A tap prefixes its run id (16 hex digits, random per run): "
			    "`<run>-<flow_id>-<n>`, unique across agents and restarts."),
	FIELD("protocol", STRING, "`http`, `grpc`, `graphql`, `redis`, `dns`, `amqp`, `kafka`, `tls`"),
	FIELD("version", STRING, "the protocol's version: `1.0`, `1.1`, `2` for HTTP (gRPC: `2`; "
				 "GraphQL: the HTTP version it came over)"),
	FIELD("request_time", TIMESTAMP, "UTC time of the request's first byte, RFC 3339 with "
					 "nanoseconds: `2026-11-23T10:42:00.123456789Z`"),
	FIELD("response_time", TIMESTAMP, "UTC time of the response's first byte"),
	FIELD("elapsed_ms", DURATION_MS, "`response_time - request_time` in milliseconds (only when "
					 "both are known)"),
	FIELD_GROUP("src", endpoint_group, "the client (sender of the request)"),
	FIELD_GROUP("dst", endpoint_group, "the server"),
	FIELD("flow_id", INTEGER, "the TCP connection's (or UDP conversation's) number in this input "
				  "(1, 2, ... in order of first packet)"),
	FIELD_GROUP("tunnel", tunnel_group, "entries found inside a tunnel (an accepted CONNECT): "
					    "the tunnel; `src`, `dst` and `flow_id` are the carrying "
					    "connection's"),
	FIELD("tls", BOOLEAN, "`true` when the entry was read in plaintext from a TLS library "
			      "(OpenSSL uprobes, `floe tap --tls`; docs/tls.md): `src`/`dst` are the "
			      "TLS connection's endpoints"),
	FIELD("pid", INTEGER, "TLS plaintext only: the process (thread group id) whose library "
			      "calls the entry was read from"),
	FIELD("process", STRING, "that process's name (its `comm`, at most 15 bytes): the client's "
				 "or the server's side, whichever was read"),
	FIELD("stream_id", INTEGER, "HTTP/2 stream (HTTP/2, gRPC, GraphQL over HTTP/2 only)"),
	FIELD("request_size", BYTES, "bytes of the request on the wire: head and body (HTTP/1 chunk "
				     "framing included; HTTP/2: the payloads of the stream's HEADERS, "
				     "CONTINUATION and DATA frames)"),
	FIELD("response_size", BYTES, "same for the response"),
	FIELD("missing", STRING, "`request` or `response` when that half never came (absent when the "
				 "entry is complete)"),
	FIELD("incomplete", STRING, "`request` or `response` when that half began but never ended "
				    "(HTTP: its head came, the body was cut); the part that came is in "
				    "the entry"),
	FIELD("missing_reason", STRING,
	      "why the half is missing or incomplete: `capture_gap` (bytes lost in the capture), "
	      "`connection_reset`, `connection_closed`, `timeout` (idle or evicted), `end_of_capture`, "
	      "`stream_reset` (HTTP/2 RST_STREAM or GOAWAY), `parse_error`, `too_many_pending` (more "
	      "requests waited for responses than floe keeps per connection), `memory_budget` (the "
	      "connection was evicted to stay within --dissect-memory), `unsolicited` "
	      "(`missing: \"request\"` with no loss before it: a response sent unasked, as mDNS "
	      "announcements, or to a request made before the capture began)"),
	FIELD("agent", STRING, "the agent that captured the entry (`floe-agent --agent-name`, "
			       "default its host's name): on the entries the hub serves; the agents "
			       "keep none in their history, and `floe read` and `floe tap --json` "
			       "print none. A filter on it is matched by each agent with its own name"),
	FIELD_END,
};

static const struct protocol_field body_fields[] = {
	FIELD("size", BYTES, "body bytes on the wire after transfer decoding (chunk framing removed), "
			     "before content decoding"),
	FIELD("truncated", BOOLEAN, "`true` when not all of it was kept (`--body-max`, default 64 "
				    "KiB) or the decoded form was cut"),
	FIELD("encoding", STRING, "the `content-encoding` when one was applied (`gzip`, `deflate`, "
				  "...)"),
	FIELD("decoded_size", BYTES, "size after gzip/deflate decoding (of the kept bytes)"),
	FIELD("text", STRING, "the (decoded) body when it is UTF-8 text"),
	FIELD("base64", STRING, "the (decoded) body otherwise"),
	FIELD("decode_error", STRING, "why content decoding failed (the raw bytes are shown then)"),
	FIELD("decode_incomplete", BOOLEAN, "`true` when the compressed stream stopped before its "
					    "end (flushed but never finished): what decoded is shown"),
	FIELD("gap_bytes", BYTES, "bytes of the body lost in the capture and skipped"),
	FIELD("expected_size", BYTES, "AMQP: the size the content header announced, when the content "
				      "was cut"),
	FIELD_END,
};

const struct field_group protocol_body_group = { "Body", body_fields };
