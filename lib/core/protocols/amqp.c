// SPDX-License-Identifier: Apache-2.0
/* AMQP 0-9-1: the protocol's descriptor (protocol.h); its dissector is lib/node/dissect/amqp.c. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry/entry.h"
#include "protocols/protocol.h"

/* ---- the text summary ---- */

static int put(char *buf, size_t size, int off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *buf, size_t size, int off, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (off < 0 || (size_t)off >= size)
		return off;
	va_start(ap, fmt);
	k = vsnprintf(buf + off, size - (size_t)off, fmt, ap);
	va_end(ap);
	if (k < 0)
		return off;
	return (size_t)(off + k) >= size ? (int)size - 1 : off + k;
}

/* "Basic.Publish ch=1 x=orders rk=new tag=3 120 B" for a request or response object. */
static int summary_of(const json_t *o, char *buf, size_t size, int off)
{
	static const struct {
		const char *key, *label;
	} args[] = {
	    {"exchange", "x"},	       {"routing_key", "rk"},  {"queue", "q"},
	    {"source", "src"},	       {"destination", "dst"}, {"consumer_tag", "ctag"},
	    {"virtual_host", "vhost"},
	};
	const char *m = json_string_value(json_object_get(o, "method"));
	const json_t *v, *body;
	unsigned i;

	off = put(buf, size, off, "%s", m ? m : "-");
	v = json_object_get(o, "channel");
	if (json_integer_value(v))
		off = put(buf, size, off, " ch=%lld", (long long)json_integer_value(v));
	for (i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		const char *s = json_string_value(json_object_get(o, args[i].key));

		if (s)
			off = put(buf, size, off, " %s=%.80s", args[i].label, s);
	}
	v = json_object_get(o, "delivery_tag");
	if (json_is_integer(v))
		off = put(buf, size, off, " tag=%lld", (long long)json_integer_value(v));
	v = json_object_get(o, "reply_code");
	if (json_is_integer(v)) {
		const char *rn = json_string_value(json_object_get(o, "reply_name"));
		const char *rt = json_string_value(json_object_get(o, "reply_text"));

		off = put(buf, size, off, " %lld", (long long)json_integer_value(v));
		if (rn)
			off = put(buf, size, off, " %s", rn);
		if (rt && *rt)
			off = put(buf, size, off, " \"%.100s\"", rt);
	}
	body = json_object_get(o, "body");
	if (body)
		off = put(buf, size, off, " %lld B",
			  (long long)json_integer_value(json_object_get(body, "size")));
	return off;
}

static size_t amqp_summary(const struct entry *e, char *buf, size_t size)
{
	const json_t *fields = entry_fields(e);
	const json_t *req = json_object_get(fields, "request");
	const json_t *resp = json_object_get(fields, "response");
	const json_t *ack = json_object_get(fields, "ack");
	int off = 0;

	if (!size)
		return 0;
	buf[0] = 0;
	if (req)
		off = summary_of(req, buf, size, off);
	if (resp)
		off = summary_of(resp, buf, size, put(buf, size, off, "%s", req ? " -> " : "-> "));
	if (ack)
		off = put(buf, size, off, " [%s]",
			  json_string_value(json_object_get(ack, "method")) ?: "-");
	return off;
}

static const struct protocol_field amqp_properties_fields[] = {
	FIELD("content_type", STRING, "MIME type"),
	FIELD("content_encoding", STRING, "MIME encoding (`gzip` bodies are shown decoded)"),
	FIELD_OF("headers", MAP, ANY, "the headers field table"),
	FIELD("delivery_mode", INTEGER, "`1` transient, `2` persistent"),
	FIELD("priority", INTEGER, "0..9"),
	FIELD("correlation_id", STRING, "the application's correlation id"),
	FIELD("reply_to", STRING, "the queue to reply to"),
	FIELD("expiration", STRING, "the message TTL as text"),
	FIELD("message_id", STRING, "the application's message id"),
	FIELD("timestamp", INTEGER, "seconds since the epoch"),
	FIELD("type", STRING, "the application's message type"),
	FIELD("user_id", STRING, "the publisher's user"),
	FIELD("app_id", STRING, "the publishing application"),
	FIELD("cluster_id", STRING, "(deprecated in 0-9-1)"),
	FIELD_END,
};

static const struct field_group amqp_properties_group = { "Message properties",
							  amqp_properties_fields };

static const struct protocol_field amqp_method_fields[] = {
	FIELD("method", STRING, "`Class.Method` as in the specification: `Basic.Publish`, "
				"`Queue.Declare-Ok`, `Channel.Close`, ...; `<class>.<method>` numbers "
				"when unknown"),
	FIELD("channel", INTEGER, "the channel (0 for the connection's own methods)"),
	FIELD("sender", STRING, "`client` or `server`"),
	FIELD("protocol_version", STRING, "the protocol header's version (an entry for a header the "
					  "peers disagree on)"),
	FIELD("exchange", STRING, "the method's argument of that name"),
	FIELD("routing_key", STRING, "the method's argument of that name"),
	FIELD("queue", STRING, "the method's argument of that name"),
	FIELD("consumer_tag", STRING, "the method's argument of that name"),
	FIELD("type", STRING, "the exchange type of `Exchange.Declare`"),
	FIELD("source", STRING, "`Exchange.Bind`/`Unbind`: the source exchange"),
	FIELD("destination", STRING, "`Exchange.Bind`/`Unbind`: the destination exchange"),
	FIELD("delivery_tag", INTEGER, "`Basic.Deliver`, `Get-Ok`, `Ack`, `Nack`, `Reject`"),
	FIELD("message_count", INTEGER, "`Queue.Declare-Ok`, `Purge-Ok`, `Delete-Ok`, `Basic.Get-Ok`"),
	FIELD("consumer_count", INTEGER, "`Queue.Declare-Ok`"),
	FIELD("prefetch_size", INTEGER, "`Basic.Qos`"),
	FIELD("prefetch_count", INTEGER, "`Basic.Qos`"),
	FIELD_OF("flags", MAP, BOOLEAN, "the method's bits, each `true`/`false`: `passive`, "
					"`durable`, `auto_delete`, `internal`, `exclusive`, "
					"`no_wait`, `if_unused`, `if_empty`, `no_local`, `no_ack`, "
					"`mandatory`, `immediate`, `redelivered`, `multiple`, "
					"`requeue`, `global`, `active` (those the method has)"),
	FIELD_OF("arguments", MAP, ANY, "the field table of declares, binds and `Basic.Consume` "
					"(`x-message-ttl`, ...)"),
	FIELD("reply_code", INTEGER, "`Channel.Close`, `Connection.Close`, `Basic.Return`: `406`"),
	FIELD("reply_name", STRING, "the reply code's name: `PRECONDITION_FAILED`"),
	FIELD("reply_text", STRING, "the broker's text"),
	FIELD("class_id", INTEGER, "a close's failing method: its class"),
	FIELD("method_id", INTEGER, "a close's failing method: its method"),
	FIELD("failed_method", STRING, "a close's failing method by name: `Queue.Declare`"),
	FIELD("publish_seq", INTEGER, "`Basic.Publish` on a channel in confirm mode: the number the "
				      "broker's `Basic.Ack`/`Nack` refers to (counted by floe, not on "
				      "the wire)"),
	FIELD("virtual_host", STRING, "`Connection.Open`"),
	FIELD("version_major", INTEGER, "`Connection.Start`"),
	FIELD("version_minor", INTEGER, "`Connection.Start`"),
	FIELD_OF("server_properties", MAP, ANY, "`Connection.Start`"),
	FIELD("mechanisms", STRING, "`Connection.Start`"),
	FIELD("locales", STRING, "`Connection.Start`"),
	FIELD_OF("client_properties", MAP, ANY, "`Connection.Start-Ok`"),
	FIELD("mechanism", STRING, "`Connection.Start-Ok`"),
	FIELD("user", STRING, "`Connection.Start-Ok` for PLAIN and AMQPLAIN (the password is never "
			      "shown)"),
	FIELD("response_size", BYTES, "`Connection.Start-Ok`, `Secure-Ok`: the SASL response's size"),
	FIELD("challenge_size", BYTES, "`Connection.Secure`: the SASL challenge's size"),
	FIELD("realm", STRING, "`Connection.Secure`: the realm of a challenge"),
	FIELD("locale", STRING, "`Connection.Start-Ok`"),
	FIELD("channel_max", INTEGER, "`Connection.Tune`, `Tune-Ok`"),
	FIELD("frame_max", INTEGER, "`Connection.Tune`, `Tune-Ok`"),
	FIELD("heartbeat", INTEGER, "`Connection.Tune`, `Tune-Ok`"),
	FIELD("reason", STRING, "`Connection.Blocked`"),
	FIELD_GROUP("properties", amqp_properties_group, "the content header of a message (those set)"),
	FIELD_GROUP("body", protocol_body_group, "the message body, as HTTP bodies"),
	FIELD("decode_error", STRING, "why the arguments were not decoded (malformed, a field table "
				      "nested deeper than 16 levels or with more than 4096 values, a "
				      "frame above 128 KiB)"),
	FIELD("properties_error", STRING, "why the properties were not decoded"),
	FIELD_END,
};

static const struct field_group amqp_method_group = { "AMQP method",
						      amqp_method_fields };

static const struct protocol_field amqp_ack_fields[] = {
	FIELD("method", STRING, "`Basic.Ack`, `Basic.Nack`, `Basic.Reject`"),
	FIELD("delivery_tag", INTEGER, "the delivery it settles"),
	FIELD_OF("flags", MAP, BOOLEAN, "`multiple`, `requeue`"),
	FIELD("time", TIMESTAMP, "when it came"),
	FIELD_END,
};

static const struct field_group amqp_ack_group = { "Settlement", amqp_ack_fields };

static const struct protocol_field amqp_fields[] = {
	FIELD_GROUP("request", amqp_method_group, "the request method (from either side)"),
	FIELD_GROUP("response", amqp_method_group, "its reply, or the acknowledgement"),
	FIELD_GROUP("ack", amqp_ack_group, "`Basic.Get` entries: the consumer's settlement of the "
					   "fetched message"),
	FIELD_END,
};

static const char *const amqp_dissectors[] = { "amqp", NULL };
static const struct protocol_word amqp_words[] = { { "amqp", NULL }, { NULL, NULL } };

const struct protocol_desc protocol_amqp = {
	.name = "amqp",
	.description = "AMQP 0-9-1 (RabbitMQ): methods and their replies, messages and their "
		       "acknowledgements",
	.dissectors = amqp_dissectors,
	.words = amqp_words,
	.fields = amqp_fields,
	.summary = amqp_summary,
};
