/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_schema: what the Kafka dissector (kafka.c) knows about the protocol's messages, as
 * tables: the name, highest known version and first flexible version of every API key, the
 * error code names, and for the APIs whose bodies are decoded the field lists of their
 * requests and responses with the versions each field is in.
 *
 * The facts come from Apache Kafka's message definitions (the JSON files under
 * clients/src/main/resources/common/message/: validVersions, flexibleVersions, each field's
 * versions, taggedVersions and tag) and the protocol guide. Field names are those of the
 * definitions in lower_snake_case ("TopicData" -> "topic_data"), as the protocol guide
 * prints them.
 */
#ifndef FLOE_DISSECT_KAFKA_SCHEMA_H
#define FLOE_DISSECT_KAFKA_SCHEMA_H

#include <stdint.h>

/* A field's versions run from vmin to vmax; KAFKA_VMAX means "and every later one". */
#define KAFKA_VMAX 0xff

enum kafka_type {
	KAFKA_T_END = 0, /* ends a field list */
	KAFKA_T_BOOL,
	KAFKA_T_INT8,
	KAFKA_T_INT16,
	KAFKA_T_INT32,
	KAFKA_T_INT64,
	KAFKA_T_UUID,
	KAFKA_T_STRING,	 /* string and nullable string (compact in flexible versions) */
	KAFKA_T_BYTES,	 /* bytes and nullable bytes */
	KAFKA_T_RECORDS, /* bytes holding record batches or a legacy message set */
	KAFKA_T_STRUCT,	 /* one nested struct (fields) */
	KAFKA_T_ARRAY,	 /* array of structs (fields) */
	KAFKA_T_ARRAY_INT32,
	KAFKA_T_ARRAY_INT64,
	KAFKA_T_ARRAY_STRING,
};

/* What a field means beyond its type: the summaries (topics, errors, ...) are built from it. */
enum kafka_role {
	KAFKA_R_NONE = 0,
	KAFKA_R_ERROR,	      /* an error code: its name is added next to it */
	KAFKA_R_TOPIC,	      /* a topic name (or an array of them) */
	KAFKA_R_TOPIC_ID,     /* a topic id */
	KAFKA_R_PARTITION,    /* a partition index (or an array of them): one partition entry */
	KAFKA_R_API_KEY,      /* an API key: its name is added next to it */
	KAFKA_R_SUBSCRIPTION, /* bytes that may hold a consumer protocol subscription */
	KAFKA_R_ASSIGNMENT,   /* bytes that may hold a consumer protocol assignment */
};

struct kafka_field {
	const char *name;
	uint8_t type; /* enum kafka_type */
	uint8_t role; /* enum kafka_role */
	uint8_t vmin, vmax;
	int16_t tag;			  /* tagged field number in flexible versions, or -1 */
	const struct kafka_field *fields; /* KAFKA_T_STRUCT, KAFKA_T_ARRAY */
};

struct kafka_api {
	const char *name;    /* "Produce", "Fetch", ... */
	uint8_t max_version; /* highest version in the definitions floe follows */
	int8_t flexible_min; /* first flexible version (request header v2, response header v1); -1:
				none */
	const struct kafka_field *request; /* NULL: the body is not decoded */
	const struct kafka_field *response;
};

/*
 * The consumer protocol (ConsumerProtocolSubscription and ConsumerProtocolAssignment), carried
 * in JoinGroup metadata and SyncGroup assignments when the group's protocol type is "consumer":
 * classic encoding, after an int16 version.
 */
extern const struct kafka_field kafka_consumer_subscription[];
extern const struct kafka_field kafka_consumer_assignment[];
/* Highest version of them floe knows (later ones may add fields at the end). */
#define KAFKA_CONSUMER_PROTOCOL_MAX 3

/* Highest API key floe has a name for. */
#define KAFKA_API_KEY_MAX 92

/* The API's description, or NULL for a key floe does not know. */
const struct kafka_api *kafka_api_get(int api_key);

/* "UNKNOWN_TOPIC_OR_PARTITION" for 3, "NONE" for 0; NULL for a code floe does not know. */
const char *kafka_error_name(int code);

#endif /* FLOE_DISSECT_KAFKA_SCHEMA_H */
