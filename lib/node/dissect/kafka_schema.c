// SPDX-License-Identifier: Apache-2.0
/*
 * Kafka message tables (see kafka_schema.h). Each field list follows the order of the
 * message definition; a field is read only in the versions it is in, tagged fields only from
 * the tagged-fields section that ends every struct of a flexible version.
 */
#include "dissect/kafka_schema.h"

#include <stddef.h>

/* One field per line reads like the message definitions. */
/* clang-format off */
#define V KAFKA_VMAX

#define FIELD(n, t, r, lo, hi, sub) { n, t, r, lo, hi, -1, sub }
#define BOOL(n, lo, hi) FIELD(n, KAFKA_T_BOOL, KAFKA_R_NONE, lo, hi, NULL)
#define I8(n, lo, hi) FIELD(n, KAFKA_T_INT8, KAFKA_R_NONE, lo, hi, NULL)
#define I16(n, lo, hi) FIELD(n, KAFKA_T_INT16, KAFKA_R_NONE, lo, hi, NULL)
#define I32(n, lo, hi) FIELD(n, KAFKA_T_INT32, KAFKA_R_NONE, lo, hi, NULL)
#define I64(n, lo, hi) FIELD(n, KAFKA_T_INT64, KAFKA_R_NONE, lo, hi, NULL)
#define STR(n, lo, hi) FIELD(n, KAFKA_T_STRING, KAFKA_R_NONE, lo, hi, NULL)
#define BYTES(n, lo, hi) FIELD(n, KAFKA_T_BYTES, KAFKA_R_NONE, lo, hi, NULL)
#define RECORDS(n, lo, hi) FIELD(n, KAFKA_T_RECORDS, KAFKA_R_NONE, lo, hi, NULL)
#define ERR(n, lo, hi) FIELD(n, KAFKA_T_INT16, KAFKA_R_ERROR, lo, hi, NULL)
#define TOPIC(n, lo, hi) FIELD(n, KAFKA_T_STRING, KAFKA_R_TOPIC, lo, hi, NULL)
#define TOPIC_ID(n, lo, hi) FIELD(n, KAFKA_T_UUID, KAFKA_R_TOPIC_ID, lo, hi, NULL)
#define PART(n, lo, hi) FIELD(n, KAFKA_T_INT32, KAFKA_R_PARTITION, lo, hi, NULL)
#define ARR(n, sub, lo, hi) FIELD(n, KAFKA_T_ARRAY, KAFKA_R_NONE, lo, hi, sub)
#define ARR_I32(n, lo, hi) FIELD(n, KAFKA_T_ARRAY_INT32, KAFKA_R_NONE, lo, hi, NULL)
#define ARR_I64(n, lo, hi) FIELD(n, KAFKA_T_ARRAY_INT64, KAFKA_R_NONE, lo, hi, NULL)
#define ARR_STR(n, lo, hi) FIELD(n, KAFKA_T_ARRAY_STRING, KAFKA_R_NONE, lo, hi, NULL)
#define TAGGED(n, t, r, tag, lo, hi, sub) { n, t, r, lo, hi, tag, sub }
#define END { NULL, KAFKA_T_END, 0, 0, 0, -1, NULL }

/* ---- shared pieces ---- */

static const struct kafka_field leader_id_and_epoch[] = {
	I32("leader_id", 0, V),
	I32("leader_epoch", 0, V),
	END,
};

static const struct kafka_field node_endpoint[] = {
	I32("node_id", 0, V),
	STR("host", 0, V),
	I32("port", 0, V),
	STR("rack", 0, V),
	END,
};

/* ---- 0 Produce ---- */

static const struct kafka_field produce_req_partition[] = {
	PART("index", 0, V),
	RECORDS("records", 0, V),
	END,
};

static const struct kafka_field produce_req_topic[] = {
	TOPIC("name", 0, 12),
	TOPIC_ID("topic_id", 13, V),
	ARR("partition_data", produce_req_partition, 0, V),
	END,
};

static const struct kafka_field produce_req[] = {
	STR("transactional_id", 3, V),
	I16("acks", 0, V),
	I32("timeout_ms", 0, V),
	ARR("topic_data", produce_req_topic, 0, V),
	END,
};

static const struct kafka_field produce_resp_record_error[] = {
	I32("batch_index", 8, V),
	STR("batch_index_error_message", 8, V),
	END,
};

static const struct kafka_field produce_resp_partition[] = {
	PART("index", 0, V),
	ERR("error_code", 0, V),
	I64("base_offset", 0, V),
	I64("log_append_time_ms", 2, V),
	I64("log_start_offset", 5, V),
	ARR("record_errors", produce_resp_record_error, 8, V),
	STR("error_message", 8, V),
	TAGGED("current_leader", KAFKA_T_STRUCT, KAFKA_R_NONE, 0, 10, V, leader_id_and_epoch),
	END,
};

static const struct kafka_field produce_resp_topic[] = {
	TOPIC("name", 0, 12),
	TOPIC_ID("topic_id", 13, V),
	ARR("partition_responses", produce_resp_partition, 0, V),
	END,
};

static const struct kafka_field produce_resp[] = {
	ARR("responses", produce_resp_topic, 0, V),
	I32("throttle_time_ms", 1, V),
	TAGGED("node_endpoints", KAFKA_T_ARRAY, KAFKA_R_NONE, 0, 10, V, node_endpoint),
	END,
};

/* ---- 1 Fetch ---- */

static const struct kafka_field fetch_replica_state[] = {
	I32("replica_id", 15, V),
	I64("replica_epoch", 15, V),
	END,
};

static const struct kafka_field fetch_req_partition[] = {
	PART("partition", 0, V),
	I32("current_leader_epoch", 9, V),
	I64("fetch_offset", 0, V),
	I32("last_fetched_epoch", 12, V),
	I64("log_start_offset", 5, V),
	I32("partition_max_bytes", 0, V),
	TAGGED("replica_directory_id", KAFKA_T_UUID, KAFKA_R_NONE, 0, 17, V, NULL),
	TAGGED("high_watermark", KAFKA_T_INT64, KAFKA_R_NONE, 1, 18, V, NULL),
	END,
};

static const struct kafka_field fetch_req_topic[] = {
	TOPIC("topic", 0, 12),
	TOPIC_ID("topic_id", 13, V),
	ARR("partitions", fetch_req_partition, 0, V),
	END,
};

static const struct kafka_field fetch_req_forgotten[] = {
	TOPIC("topic", 7, 12),
	TOPIC_ID("topic_id", 13, V),
	ARR_I32("partitions", 7, V),
	END,
};

static const struct kafka_field fetch_req[] = {
	TAGGED("cluster_id", KAFKA_T_STRING, KAFKA_R_NONE, 0, 12, V, NULL),
	I32("replica_id", 0, 14),
	TAGGED("replica_state", KAFKA_T_STRUCT, KAFKA_R_NONE, 1, 15, V, fetch_replica_state),
	I32("max_wait_ms", 0, V),
	I32("min_bytes", 0, V),
	I32("max_bytes", 3, V),
	I8("isolation_level", 4, V),
	I32("session_id", 7, V),
	I32("session_epoch", 7, V),
	ARR("topics", fetch_req_topic, 0, V),
	ARR("forgotten_topics_data", fetch_req_forgotten, 7, V),
	STR("rack_id", 11, V),
	END,
};

static const struct kafka_field fetch_epoch_end_offset[] = {
	I32("epoch", 0, V),
	I64("end_offset", 0, V),
	END,
};

static const struct kafka_field fetch_snapshot_id[] = {
	I64("end_offset", 0, V),
	I32("epoch", 0, V),
	END,
};

static const struct kafka_field fetch_aborted_txn[] = {
	I64("producer_id", 4, V),
	I64("first_offset", 4, V),
	END,
};

static const struct kafka_field fetch_resp_partition[] = {
	PART("partition_index", 0, V),
	ERR("error_code", 0, V),
	I64("high_watermark", 0, V),
	I64("last_stable_offset", 4, V),
	I64("log_start_offset", 5, V),
	TAGGED("diverging_epoch", KAFKA_T_STRUCT, KAFKA_R_NONE, 0, 12, V, fetch_epoch_end_offset),
	TAGGED("current_leader", KAFKA_T_STRUCT, KAFKA_R_NONE, 1, 12, V, leader_id_and_epoch),
	TAGGED("snapshot_id", KAFKA_T_STRUCT, KAFKA_R_NONE, 2, 12, V, fetch_snapshot_id),
	ARR("aborted_transactions", fetch_aborted_txn, 4, V),
	I32("preferred_read_replica", 11, V),
	RECORDS("records", 0, V),
	END,
};

static const struct kafka_field fetch_resp_topic[] = {
	TOPIC("topic", 0, 12),
	TOPIC_ID("topic_id", 13, V),
	ARR("partitions", fetch_resp_partition, 0, V),
	END,
};

static const struct kafka_field fetch_resp[] = {
	I32("throttle_time_ms", 1, V),
	ERR("error_code", 7, V),
	I32("session_id", 7, V),
	ARR("responses", fetch_resp_topic, 0, V),
	TAGGED("node_endpoints", KAFKA_T_ARRAY, KAFKA_R_NONE, 0, 16, V, node_endpoint),
	END,
};

/* ---- 2 ListOffsets ---- */

static const struct kafka_field list_offsets_req_partition[] = {
	PART("partition_index", 0, V),
	I32("current_leader_epoch", 4, V),
	I64("timestamp", 0, V),
	I32("max_num_offsets", 0, 0),
	END,
};

static const struct kafka_field list_offsets_req_topic[] = {
	TOPIC("name", 0, V),
	ARR("partitions", list_offsets_req_partition, 0, V),
	END,
};

static const struct kafka_field list_offsets_req[] = {
	I32("replica_id", 0, V),
	I8("isolation_level", 2, V),
	ARR("topics", list_offsets_req_topic, 0, V),
	I32("timeout_ms", 10, V),
	END,
};

static const struct kafka_field list_offsets_resp_partition[] = {
	PART("partition_index", 0, V),
	ERR("error_code", 0, V),
	ARR_I64("old_style_offsets", 0, 0),
	I64("timestamp", 1, V),
	I64("offset", 1, V),
	I32("leader_epoch", 4, V),
	END,
};

static const struct kafka_field list_offsets_resp_topic[] = {
	TOPIC("name", 0, V),
	ARR("partitions", list_offsets_resp_partition, 0, V),
	END,
};

static const struct kafka_field list_offsets_resp[] = {
	I32("throttle_time_ms", 2, V),
	ARR("topics", list_offsets_resp_topic, 0, V),
	END,
};

/* ---- 3 Metadata ---- */

static const struct kafka_field metadata_req_topic[] = {
	TOPIC_ID("topic_id", 10, V),
	TOPIC("name", 0, V),
	END,
};

static const struct kafka_field metadata_req[] = {
	ARR("topics", metadata_req_topic, 0, V),
	BOOL("allow_auto_topic_creation", 4, V),
	BOOL("include_cluster_authorized_operations", 8, 10),
	BOOL("include_topic_authorized_operations", 8, V),
	END,
};

static const struct kafka_field metadata_resp_broker[] = {
	I32("node_id", 0, V),
	STR("host", 0, V),
	I32("port", 0, V),
	STR("rack", 1, V),
	END,
};

static const struct kafka_field metadata_resp_partition[] = {
	ERR("error_code", 0, V),
	PART("partition_index", 0, V),
	I32("leader_id", 0, V),
	I32("leader_epoch", 7, V),
	ARR_I32("replica_nodes", 0, V),
	ARR_I32("isr_nodes", 0, V),
	ARR_I32("offline_replicas", 5, V),
	END,
};

static const struct kafka_field metadata_resp_topic[] = {
	ERR("error_code", 0, V),
	TOPIC("name", 0, V),
	TOPIC_ID("topic_id", 10, V),
	BOOL("is_internal", 1, V),
	ARR("partitions", metadata_resp_partition, 0, V),
	I32("topic_authorized_operations", 8, V),
	END,
};

static const struct kafka_field metadata_resp[] = {
	I32("throttle_time_ms", 3, V),
	ARR("brokers", metadata_resp_broker, 0, V),
	STR("cluster_id", 2, V),
	I32("controller_id", 1, V),
	ARR("topics", metadata_resp_topic, 0, V),
	I32("cluster_authorized_operations", 8, 10),
	ERR("error_code", 13, V),
	END,
};

/* ---- 8 OffsetCommit ---- */

static const struct kafka_field offset_commit_req_partition[] = {
	PART("partition_index", 0, V),
	I64("committed_offset", 0, V),
	I32("committed_leader_epoch", 6, V),
	I64("commit_timestamp", 1, 1),
	STR("committed_metadata", 0, V),
	END,
};

static const struct kafka_field offset_commit_req_topic[] = {
	TOPIC("name", 0, 9),
	TOPIC_ID("topic_id", 10, V),
	ARR("partitions", offset_commit_req_partition, 0, V),
	END,
};

static const struct kafka_field offset_commit_req[] = {
	STR("group_id", 0, V),
	I32("generation_id_or_member_epoch", 1, V),
	STR("member_id", 1, V),
	STR("group_instance_id", 7, V),
	I64("retention_time_ms", 2, 4),
	ARR("topics", offset_commit_req_topic, 0, V),
	END,
};

static const struct kafka_field offset_commit_resp_partition[] = {
	PART("partition_index", 0, V),
	ERR("error_code", 0, V),
	END,
};

static const struct kafka_field offset_commit_resp_topic[] = {
	TOPIC("name", 0, 9),
	TOPIC_ID("topic_id", 10, V),
	ARR("partitions", offset_commit_resp_partition, 0, V),
	END,
};

static const struct kafka_field offset_commit_resp[] = {
	I32("throttle_time_ms", 3, V),
	ARR("topics", offset_commit_resp_topic, 0, V),
	END,
};

/* ---- 9 OffsetFetch ---- */

static const struct kafka_field offset_fetch_req_topic[] = {
	TOPIC("name", 0, 7),
	FIELD("partition_indexes", KAFKA_T_ARRAY_INT32, KAFKA_R_PARTITION, 0, 7, NULL),
	END,
};

static const struct kafka_field offset_fetch_req_group_topic[] = {
	TOPIC("name", 8, 9),
	TOPIC_ID("topic_id", 10, V),
	FIELD("partition_indexes", KAFKA_T_ARRAY_INT32, KAFKA_R_PARTITION, 8, V, NULL),
	END,
};

static const struct kafka_field offset_fetch_req_group[] = {
	STR("group_id", 8, V),
	STR("member_id", 9, V),
	I32("member_epoch", 9, V),
	ARR("topics", offset_fetch_req_group_topic, 8, V),
	END,
};

static const struct kafka_field offset_fetch_req[] = {
	STR("group_id", 0, 7),
	ARR("topics", offset_fetch_req_topic, 0, 7),
	ARR("groups", offset_fetch_req_group, 8, V),
	BOOL("require_stable", 7, V),
	END,
};

static const struct kafka_field offset_fetch_resp_partition[] = {
	PART("partition_index", 0, 7),
	I64("committed_offset", 0, 7),
	I32("committed_leader_epoch", 5, 7),
	STR("metadata", 0, 7),
	ERR("error_code", 0, 7),
	END,
};

static const struct kafka_field offset_fetch_resp_topic[] = {
	TOPIC("name", 0, 7),
	ARR("partitions", offset_fetch_resp_partition, 0, 7),
	END,
};

static const struct kafka_field offset_fetch_resp_group_partition[] = {
	PART("partition_index", 8, V),
	I64("committed_offset", 8, V),
	I32("committed_leader_epoch", 8, V),
	STR("metadata", 8, V),
	ERR("error_code", 8, V),
	END,
};

static const struct kafka_field offset_fetch_resp_group_topic[] = {
	TOPIC("name", 8, 9),
	TOPIC_ID("topic_id", 10, V),
	ARR("partitions", offset_fetch_resp_group_partition, 8, V),
	END,
};

static const struct kafka_field offset_fetch_resp_group[] = {
	STR("group_id", 8, V),
	ARR("topics", offset_fetch_resp_group_topic, 8, V),
	ERR("error_code", 8, V),
	END,
};

static const struct kafka_field offset_fetch_resp[] = {
	I32("throttle_time_ms", 3, V),
	ARR("topics", offset_fetch_resp_topic, 0, 7),
	ERR("error_code", 2, 7),
	ARR("groups", offset_fetch_resp_group, 8, V),
	END,
};

/* ---- 10 FindCoordinator ---- */

static const struct kafka_field find_coordinator_req[] = {
	STR("key", 0, 3),
	I8("key_type", 1, V),
	ARR_STR("coordinator_keys", 4, V),
	END,
};

static const struct kafka_field find_coordinator_resp_coordinator[] = {
	STR("key", 4, V),
	I32("node_id", 4, V),
	STR("host", 4, V),
	I32("port", 4, V),
	ERR("error_code", 4, V),
	STR("error_message", 4, V),
	END,
};

static const struct kafka_field find_coordinator_resp[] = {
	I32("throttle_time_ms", 1, V),
	ERR("error_code", 0, 3),
	STR("error_message", 1, 3),
	I32("node_id", 0, 3),
	STR("host", 0, 3),
	I32("port", 0, 3),
	ARR("coordinators", find_coordinator_resp_coordinator, 4, V),
	END,
};

/* ---- the consumer protocol inside JoinGroup and SyncGroup ---- */

static const struct kafka_field consumer_topic_partitions[] = {
	TOPIC("topic", 0, V),
	ARR_I32("partitions", 0, V),
	END,
};

const struct kafka_field kafka_consumer_subscription[] = {
	FIELD("topics", KAFKA_T_ARRAY_STRING, KAFKA_R_TOPIC, 0, V, NULL),
	BYTES("user_data", 0, V),
	ARR("owned_partitions", consumer_topic_partitions, 1, V),
	I32("generation_id", 2, V),
	STR("rack_id", 3, V),
	END,
};

const struct kafka_field kafka_consumer_assignment[] = {
	ARR("assigned_partitions", consumer_topic_partitions, 0, V),
	BYTES("user_data", 0, V),
	END,
};

/* ---- 11 JoinGroup ---- */

static const struct kafka_field join_group_req_protocol[] = {
	STR("name", 0, V),
	FIELD("metadata", KAFKA_T_BYTES, KAFKA_R_SUBSCRIPTION, 0, V, NULL),
	END,
};

static const struct kafka_field join_group_req[] = {
	STR("group_id", 0, V),
	I32("session_timeout_ms", 0, V),
	I32("rebalance_timeout_ms", 1, V),
	STR("member_id", 0, V),
	STR("group_instance_id", 5, V),
	STR("protocol_type", 0, V),
	ARR("protocols", join_group_req_protocol, 0, V),
	STR("reason", 8, V),
	END,
};

static const struct kafka_field join_group_resp_member[] = {
	STR("member_id", 0, V),
	STR("group_instance_id", 5, V),
	FIELD("metadata", KAFKA_T_BYTES, KAFKA_R_SUBSCRIPTION, 0, V, NULL),
	END,
};

static const struct kafka_field join_group_resp[] = {
	I32("throttle_time_ms", 2, V),
	ERR("error_code", 0, V),
	I32("generation_id", 0, V),
	STR("protocol_type", 7, V),
	STR("protocol_name", 0, V),
	STR("leader", 0, V),
	BOOL("skip_assignment", 9, V),
	STR("member_id", 0, V),
	ARR("members", join_group_resp_member, 0, V),
	END,
};

/* ---- 12 Heartbeat ---- */

static const struct kafka_field heartbeat_req[] = {
	STR("group_id", 0, V),
	I32("generation_id", 0, V),
	STR("member_id", 0, V),
	STR("group_instance_id", 3, V),
	END,
};

static const struct kafka_field throttle_and_error[] = {
	I32("throttle_time_ms", 1, V),
	ERR("error_code", 0, V),
	END,
};

/* ---- 13 LeaveGroup ---- */

static const struct kafka_field leave_group_req_member[] = {
	STR("member_id", 3, V),
	STR("group_instance_id", 3, V),
	STR("reason", 5, V),
	END,
};

static const struct kafka_field leave_group_req[] = {
	STR("group_id", 0, V),
	STR("member_id", 0, 2),
	ARR("members", leave_group_req_member, 3, V),
	END,
};

static const struct kafka_field leave_group_resp_member[] = {
	STR("member_id", 3, V),
	STR("group_instance_id", 3, V),
	ERR("error_code", 3, V),
	END,
};

static const struct kafka_field leave_group_resp[] = {
	I32("throttle_time_ms", 1, V),
	ERR("error_code", 0, V),
	ARR("members", leave_group_resp_member, 3, V),
	END,
};

/* ---- 14 SyncGroup ---- */

static const struct kafka_field sync_group_req_assignment[] = {
	STR("member_id", 0, V),
	FIELD("assignment", KAFKA_T_BYTES, KAFKA_R_ASSIGNMENT, 0, V, NULL),
	END,
};

static const struct kafka_field sync_group_req[] = {
	STR("group_id", 0, V),
	I32("generation_id", 0, V),
	STR("member_id", 0, V),
	STR("group_instance_id", 3, V),
	STR("protocol_type", 5, V),
	STR("protocol_name", 5, V),
	ARR("assignments", sync_group_req_assignment, 0, V),
	END,
};

static const struct kafka_field sync_group_resp[] = {
	I32("throttle_time_ms", 1, V),
	ERR("error_code", 0, V),
	STR("protocol_type", 5, V),
	STR("protocol_name", 5, V),
	FIELD("assignment", KAFKA_T_BYTES, KAFKA_R_ASSIGNMENT, 0, V, NULL),
	END,
};

/* ---- 17 SaslHandshake ---- */

static const struct kafka_field sasl_handshake_req[] = {
	STR("mechanism", 0, V),
	END,
};

static const struct kafka_field sasl_handshake_resp[] = {
	ERR("error_code", 0, V),
	ARR_STR("mechanisms", 0, V),
	END,
};

/* ---- 18 ApiVersions ---- */

static const struct kafka_field api_versions_req[] = {
	STR("client_software_name", 3, V),
	STR("client_software_version", 3, V),
	END,
};

static const struct kafka_field api_versions_resp_key[] = {
	FIELD("api_key", KAFKA_T_INT16, KAFKA_R_API_KEY, 0, V, NULL),
	I16("min_version", 0, V),
	I16("max_version", 0, V),
	END,
};

static const struct kafka_field api_versions_resp_feature[] = {
	STR("name", 3, V),
	I16("min_version", 3, V),
	I16("max_version", 3, V),
	END,
};

static const struct kafka_field api_versions_resp_finalized[] = {
	STR("name", 3, V),
	I16("max_version_level", 3, V),
	I16("min_version_level", 3, V),
	END,
};

static const struct kafka_field api_versions_resp[] = {
	ERR("error_code", 0, V),
	ARR("api_keys", api_versions_resp_key, 0, V),
	I32("throttle_time_ms", 1, V),
	TAGGED("supported_features", KAFKA_T_ARRAY, KAFKA_R_NONE, 0, 3, V, api_versions_resp_feature),
	TAGGED("finalized_features_epoch", KAFKA_T_INT64, KAFKA_R_NONE, 1, 3, V, NULL),
	TAGGED("finalized_features", KAFKA_T_ARRAY, KAFKA_R_NONE, 2, 3, V, api_versions_resp_finalized),
	TAGGED("zk_migration_ready", KAFKA_T_BOOL, KAFKA_R_NONE, 3, 3, V, NULL),
	END,
};

/* ---- 19 CreateTopics ---- */

static const struct kafka_field create_topics_req_assignment[] = {
	PART("partition_index", 0, V),
	ARR_I32("broker_ids", 0, V),
	END,
};

static const struct kafka_field create_topics_config[] = {
	STR("name", 0, V),
	STR("value", 0, V),
	END,
};

static const struct kafka_field create_topics_req_topic[] = {
	TOPIC("name", 0, V),
	I32("num_partitions", 0, V),
	I16("replication_factor", 0, V),
	ARR("assignments", create_topics_req_assignment, 0, V),
	ARR("configs", create_topics_config, 0, V),
	END,
};

static const struct kafka_field create_topics_req[] = {
	ARR("topics", create_topics_req_topic, 0, V),
	I32("timeout_ms", 0, V),
	BOOL("validate_only", 1, V),
	END,
};

static const struct kafka_field create_topics_resp_config[] = {
	STR("name", 5, V),
	STR("value", 5, V),
	BOOL("read_only", 5, V),
	I8("config_source", 5, V),
	BOOL("is_sensitive", 5, V),
	END,
};

static const struct kafka_field create_topics_resp_topic[] = {
	TOPIC("name", 0, V),
	TOPIC_ID("topic_id", 7, V),
	ERR("error_code", 0, V),
	STR("error_message", 1, V),
	TAGGED("topic_config_error_code", KAFKA_T_INT16, KAFKA_R_ERROR, 0, 5, V, NULL),
	I32("num_partitions", 5, V),
	I16("replication_factor", 5, V),
	ARR("configs", create_topics_resp_config, 5, V),
	END,
};

static const struct kafka_field create_topics_resp[] = {
	I32("throttle_time_ms", 2, V),
	ARR("topics", create_topics_resp_topic, 0, V),
	END,
};

/* ---- 20 DeleteTopics ---- */

static const struct kafka_field delete_topics_req_topic[] = {
	TOPIC("name", 6, V),
	TOPIC_ID("topic_id", 6, V),
	END,
};

static const struct kafka_field delete_topics_req[] = {
	ARR("topics", delete_topics_req_topic, 6, V),
	FIELD("topic_names", KAFKA_T_ARRAY_STRING, KAFKA_R_TOPIC, 0, 5, NULL),
	I32("timeout_ms", 0, V),
	END,
};

static const struct kafka_field delete_topics_resp_topic[] = {
	TOPIC("name", 0, V),
	TOPIC_ID("topic_id", 6, V),
	ERR("error_code", 0, V),
	STR("error_message", 5, V),
	END,
};

static const struct kafka_field delete_topics_resp[] = {
	I32("throttle_time_ms", 1, V),
	ARR("responses", delete_topics_resp_topic, 0, V),
	END,
};

/* ---- 22 InitProducerId ---- */

static const struct kafka_field init_producer_id_req[] = {
	STR("transactional_id", 0, V),
	I32("transaction_timeout_ms", 0, V),
	I64("producer_id", 3, V),
	I16("producer_epoch", 3, V),
	BOOL("enable_2pc", 6, V),
	BOOL("keep_prepared_txn", 6, V),
	END,
};

static const struct kafka_field init_producer_id_resp[] = {
	I32("throttle_time_ms", 0, V),
	ERR("error_code", 0, V),
	I64("producer_id", 0, V),
	I16("producer_epoch", 0, V),
	I64("ongoing_txn_producer_id", 6, V),
	I16("ongoing_txn_producer_epoch", 6, V),
	END,
};

/* clang-format on */

/* ---- every API key ---- */

#define API(n, max, flex)                                                                          \
	{                                                                                          \
		n, max, flex, NULL, NULL                                                           \
	}
#define API_BODY(n, max, flex, req, resp)                                                          \
	{                                                                                          \
		n, max, flex, req, resp                                                            \
	}

static const struct kafka_api apis[KAFKA_API_KEY_MAX + 1] = {
    [0] = API_BODY("Produce", 13, 9, produce_req, produce_resp),
    [1] = API_BODY("Fetch", 18, 12, fetch_req, fetch_resp),
    [2] = API_BODY("ListOffsets", 10, 6, list_offsets_req, list_offsets_resp),
    [3] = API_BODY("Metadata", 13, 9, metadata_req, metadata_resp),
    [4] = API("LeaderAndIsr", 7, 4),
    [5] = API("StopReplica", 4, 2),
    [6] = API("UpdateMetadata", 8, 6),
    [7] = API("ControlledShutdown", 3, 3),
    [8] = API_BODY("OffsetCommit", 10, 8, offset_commit_req, offset_commit_resp),
    [9] = API_BODY("OffsetFetch", 10, 6, offset_fetch_req, offset_fetch_resp),
    [10] = API_BODY("FindCoordinator", 6, 3, find_coordinator_req, find_coordinator_resp),
    [11] = API_BODY("JoinGroup", 9, 6, join_group_req, join_group_resp),
    [12] = API_BODY("Heartbeat", 4, 4, heartbeat_req, throttle_and_error),
    [13] = API_BODY("LeaveGroup", 5, 4, leave_group_req, leave_group_resp),
    [14] = API_BODY("SyncGroup", 5, 4, sync_group_req, sync_group_resp),
    [15] = API("DescribeGroups", 6, 5),
    [16] = API("ListGroups", 5, 3),
    [17] = API_BODY("SaslHandshake", 1, -1, sasl_handshake_req, sasl_handshake_resp),
    [18] = API_BODY("ApiVersions", 4, 3, api_versions_req, api_versions_resp),
    [19] = API_BODY("CreateTopics", 7, 5, create_topics_req, create_topics_resp),
    [20] = API_BODY("DeleteTopics", 6, 4, delete_topics_req, delete_topics_resp),
    [21] = API("DeleteRecords", 2, 2),
    [22] = API_BODY("InitProducerId", 6, 2, init_producer_id_req, init_producer_id_resp),
    [23] = API("OffsetForLeaderEpoch", 4, 4),
    [24] = API("AddPartitionsToTxn", 5, 3),
    [25] = API("AddOffsetsToTxn", 4, 3),
    [26] = API("EndTxn", 5, 3),
    [27] = API("WriteTxnMarkers", 2, 1),
    [28] = API("TxnOffsetCommit", 5, 3),
    [29] = API("DescribeAcls", 3, 2),
    [30] = API("CreateAcls", 3, 2),
    [31] = API("DeleteAcls", 3, 2),
    [32] = API("DescribeConfigs", 4, 4),
    [33] = API("AlterConfigs", 2, 2),
    [34] = API("AlterReplicaLogDirs", 2, 2),
    [35] = API("DescribeLogDirs", 4, 2),
    [36] = API("SaslAuthenticate", 2, 2),
    [37] = API("CreatePartitions", 3, 2),
    [38] = API("CreateDelegationToken", 3, 2),
    [39] = API("RenewDelegationToken", 2, 2),
    [40] = API("ExpireDelegationToken", 2, 2),
    [41] = API("DescribeDelegationToken", 3, 2),
    [42] = API("DeleteGroups", 2, 2),
    [43] = API("ElectLeaders", 2, 2),
    [44] = API("IncrementalAlterConfigs", 1, 1),
    [45] = API("AlterPartitionReassignments", 1, 0),
    [46] = API("ListPartitionReassignments", 0, 0),
    [47] = API("OffsetDelete", 0, -1),
    [48] = API("DescribeClientQuotas", 1, 1),
    [49] = API("AlterClientQuotas", 1, 1),
    [50] = API("DescribeUserScramCredentials", 0, 0),
    [51] = API("AlterUserScramCredentials", 0, 0),
    [52] = API("Vote", 2, 0),
    [53] = API("BeginQuorumEpoch", 1, 0),
    [54] = API("EndQuorumEpoch", 1, 0),
    [55] = API("DescribeQuorum", 2, 0),
    [56] = API("AlterPartition", 3, 0),
    [57] = API("UpdateFeatures", 2, 0),
    [58] = API("Envelope", 0, 0),
    [59] = API("FetchSnapshot", 1, 0),
    [60] = API("DescribeCluster", 2, 0),
    [61] = API("DescribeProducers", 0, 0),
    [62] = API("BrokerRegistration", 4, 0),
    [63] = API("BrokerHeartbeat", 1, 0),
    [64] = API("UnregisterBroker", 0, 0),
    [65] = API("DescribeTransactions", 0, 0),
    [66] = API("ListTransactions", 2, 0),
    [67] = API("AllocateProducerIds", 0, 0),
    [68] = API("ConsumerGroupHeartbeat", 1, 0),
    [69] = API("ConsumerGroupDescribe", 1, 0),
    [70] = API("ControllerRegistration", 0, 0),
    [71] = API("GetTelemetrySubscriptions", 0, 0),
    [72] = API("PushTelemetry", 0, 0),
    [73] = API("AssignReplicasToDirs", 0, 0),
    [74] = API("ListConfigResources", 1, 0),
    [75] = API("DescribeTopicPartitions", 0, 0),
    [76] = API("ShareGroupHeartbeat", 1, 0),
    [77] = API("ShareGroupDescribe", 1, 0),
    [78] = API("ShareFetch", 1, 0),
    [79] = API("ShareAcknowledge", 1, 0),
    [80] = API("AddRaftVoter", 0, 0),
    [81] = API("RemoveRaftVoter", 0, 0),
    [82] = API("UpdateRaftVoter", 0, 0),
    [83] = API("InitializeShareGroupState", 0, 0),
    [84] = API("ReadShareGroupState", 0, 0),
    [85] = API("WriteShareGroupState", 0, 0),
    [86] = API("DeleteShareGroupState", 0, 0),
    [87] = API("ReadShareGroupStateSummary", 0, 0),
    [88] = API("StreamsGroupHeartbeat", 0, 0),
    [89] = API("StreamsGroupDescribe", 0, 0),
    [90] = API("DescribeShareGroupOffsets", 0, 0),
    [91] = API("AlterShareGroupOffsets", 0, 0),
    [92] = API("DeleteShareGroupOffsets", 0, 0),
};

const struct kafka_api *kafka_api_get(int api_key)
{
	if (api_key < 0 || api_key > KAFKA_API_KEY_MAX || !apis[api_key].name)
		return NULL;
	return &apis[api_key];
}

/* ---- error codes (Errors.java) ---- */

static const char *const error_names[] = {
    "NONE",
    "OFFSET_OUT_OF_RANGE",
    "CORRUPT_MESSAGE",
    "UNKNOWN_TOPIC_OR_PARTITION",
    "INVALID_FETCH_SIZE",
    "LEADER_NOT_AVAILABLE",
    "NOT_LEADER_OR_FOLLOWER",
    "REQUEST_TIMED_OUT",
    "BROKER_NOT_AVAILABLE",
    "REPLICA_NOT_AVAILABLE",
    "MESSAGE_TOO_LARGE",
    "STALE_CONTROLLER_EPOCH",
    "OFFSET_METADATA_TOO_LARGE",
    "NETWORK_EXCEPTION",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "COORDINATOR_NOT_AVAILABLE",
    "NOT_COORDINATOR",
    "INVALID_TOPIC_EXCEPTION",
    "RECORD_LIST_TOO_LARGE",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "INVALID_REQUIRED_ACKS",
    "ILLEGAL_GENERATION",
    "INCONSISTENT_GROUP_PROTOCOL",
    "INVALID_GROUP_ID",
    "UNKNOWN_MEMBER_ID",
    "INVALID_SESSION_TIMEOUT",
    "REBALANCE_IN_PROGRESS",
    "INVALID_COMMIT_OFFSET_SIZE",
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "INVALID_TIMESTAMP",
    "UNSUPPORTED_SASL_MECHANISM",
    "ILLEGAL_SASL_STATE",
    "UNSUPPORTED_VERSION",
    "TOPIC_ALREADY_EXISTS",
    "INVALID_PARTITIONS",
    "INVALID_REPLICATION_FACTOR",
    "INVALID_REPLICA_ASSIGNMENT",
    "INVALID_CONFIG",
    "NOT_CONTROLLER",
    "INVALID_REQUEST",
    "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    "POLICY_VIOLATION",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "DUPLICATE_SEQUENCE_NUMBER",
    "INVALID_PRODUCER_EPOCH",
    "INVALID_TXN_STATE",
    "INVALID_PRODUCER_ID_MAPPING",
    "INVALID_TRANSACTION_TIMEOUT",
    "CONCURRENT_TRANSACTIONS",
    "TRANSACTION_COORDINATOR_FENCED",
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    "SECURITY_DISABLED",
    "OPERATION_NOT_ATTEMPTED",
    "KAFKA_STORAGE_ERROR",
    "LOG_DIR_NOT_FOUND",
    "SASL_AUTHENTICATION_FAILED",
    "UNKNOWN_PRODUCER_ID",
    "REASSIGNMENT_IN_PROGRESS",
    "DELEGATION_TOKEN_AUTH_DISABLED",
    "DELEGATION_TOKEN_NOT_FOUND",
    "DELEGATION_TOKEN_OWNER_MISMATCH",
    "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
    "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
    "DELEGATION_TOKEN_EXPIRED",
    "INVALID_PRINCIPAL_TYPE",
    "NON_EMPTY_GROUP",
    "GROUP_ID_NOT_FOUND",
    "FETCH_SESSION_ID_NOT_FOUND",
    "INVALID_FETCH_SESSION_EPOCH",
    "LISTENER_NOT_FOUND",
    "TOPIC_DELETION_DISABLED",
    "FENCED_LEADER_EPOCH",
    "UNKNOWN_LEADER_EPOCH",
    "UNSUPPORTED_COMPRESSION_TYPE",
    "STALE_BROKER_EPOCH",
    "OFFSET_NOT_AVAILABLE",
    "MEMBER_ID_REQUIRED",
    "PREFERRED_LEADER_NOT_AVAILABLE",
    "GROUP_MAX_SIZE_REACHED",
    "FENCED_INSTANCE_ID",
    "ELIGIBLE_LEADERS_NOT_AVAILABLE",
    "ELECTION_NOT_NEEDED",
    "NO_REASSIGNMENT_IN_PROGRESS",
    "GROUP_SUBSCRIBED_TO_TOPIC",
    "INVALID_RECORD",
    "UNSTABLE_OFFSET_COMMIT",
    "THROTTLING_QUOTA_EXCEEDED",
    "PRODUCER_FENCED",
    "RESOURCE_NOT_FOUND",
    "DUPLICATE_RESOURCE",
    "UNACCEPTABLE_CREDENTIAL",
    "INCONSISTENT_VOTER_SET",
    "INVALID_UPDATE_VERSION",
    "FEATURE_UPDATE_FAILED",
    "PRINCIPAL_DESERIALIZATION_FAILURE",
    "SNAPSHOT_NOT_FOUND",
    "POSITION_OUT_OF_RANGE",
    "UNKNOWN_TOPIC_ID",
    "DUPLICATE_BROKER_REGISTRATION",
    "BROKER_ID_NOT_REGISTERED",
    "INCONSISTENT_TOPIC_ID",
    "INCONSISTENT_CLUSTER_ID",
    "TRANSACTIONAL_ID_NOT_FOUND",
    "FETCH_SESSION_TOPIC_ID_ERROR",
    "INELIGIBLE_REPLICA",
    "NEW_LEADER_ELECTED",
    "OFFSET_MOVED_TO_TIERED_STORAGE",
    "FENCED_MEMBER_EPOCH",
    "UNRELEASED_INSTANCE_ID",
    "UNSUPPORTED_ASSIGNOR",
    "STALE_MEMBER_EPOCH",
    "MISMATCHED_ENDPOINT_TYPE",
    "UNSUPPORTED_ENDPOINT_TYPE",
    "UNKNOWN_CONTROLLER_ID",
    "UNKNOWN_SUBSCRIPTION_ID",
    "TELEMETRY_TOO_LARGE",
    "INVALID_REGISTRATION",
    "TRANSACTION_ABORTABLE",
    "INVALID_RECORD_STATE",
    "SHARE_SESSION_NOT_FOUND",
    "INVALID_SHARE_SESSION_EPOCH",
    "FENCED_STATE_EPOCH",
    "INVALID_VOTER_KEY",
    "DUPLICATE_VOTER",
    "VOTER_NOT_FOUND",
    "INVALID_REGULAR_EXPRESSION",
    "REBOOTSTRAP_REQUIRED",
    "STREAMS_INVALID_TOPOLOGY",
    "STREAMS_INVALID_TOPOLOGY_EPOCH",
    "STREAMS_TOPOLOGY_FENCED",
    "SHARE_SESSION_LIMIT_REACHED",
};

const char *kafka_error_name(int code)
{
	if (code == -1)
		return "UNKNOWN_SERVER_ERROR";
	if (code < 0 || (size_t)code >= sizeof(error_names) / sizeof(error_names[0]))
		return NULL;
	return error_names[code];
}
