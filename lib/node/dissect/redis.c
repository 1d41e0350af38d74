// SPDX-License-Identifier: Apache-2.0
/*
 * Redis dissector: RESP2 and RESP3, parsed incrementally by hand. See redis.h for the bounds
 * and docs/redis.md for the behaviour and the fields.
 *
 * Each direction has a reader: a line (type byte, header, simple value or inline command)
 * is taken whole, bounded by REDIS_LINE_MAX; a bulk payload streams through and keeps at
 * most what the bounds allow. Client bytes become commands (struct cmd) queued until their
 * reply; server bytes become replies, matched to the queue's head, or entries of their own
 * when the server sent them unasked (pushes, pub/sub messages, MONITOR lines).
 *
 * State that follows the command order (MULTI, CLIENT REPLY) is kept when a command is
 * read; state that follows the replies (subscribed, MONITOR, RESP3 after HELLO) when its
 * reply is read.
 */
#include "dissect/redis.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dissect/pending.h"

/* ---- commands: names and where their keys are (the facts of Redis' COMMAND INFO) ---- */

enum key_kind {
	KEYS_NONE = 0,
	KEYS_RANGE,	   /* first..last by step; last < 0 counts from the end */
	KEYS_NUMKEYS,	   /* the count of keys at `first`, the keys right after it */
	KEYS_DEST_NUMKEYS, /* a destination key at 1, the count of keys at `first`, the keys */
	KEYS_STREAMS,	   /* XREAD[GROUP]: the first half of what follows STREAMS */
	KEYS_MIGRATE,	   /* the key at 3 (when not ""), or everything after KEYS */
	KEYS_STORE,	   /* the key at 1, and the one after STORE / STOREDIST */
};

#define CMD_CONTAINER 1 /* the second word names a subcommand ("CONFIG GET") */

struct cmd_spec {
	const char *name; /* upper case; a subcommand as "CLIENT SETINFO" */
	uint8_t kind;
	int8_t first, last, step;
	uint8_t flags;
};

/* Sorted by strcmp (bsearch). */
static const struct cmd_spec commands[] = {
    {"ACL", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"ACL CAT", KEYS_NONE, 0, 0, 0, 0},
    {"ACL DELUSER", KEYS_NONE, 0, 0, 0, 0},
    {"ACL DRYRUN", KEYS_NONE, 0, 0, 0, 0},
    {"ACL GENPASS", KEYS_NONE, 0, 0, 0, 0},
    {"ACL GETUSER", KEYS_NONE, 0, 0, 0, 0},
    {"ACL HELP", KEYS_NONE, 0, 0, 0, 0},
    {"ACL LIST", KEYS_NONE, 0, 0, 0, 0},
    {"ACL LOAD", KEYS_NONE, 0, 0, 0, 0},
    {"ACL LOG", KEYS_NONE, 0, 0, 0, 0},
    {"ACL SAVE", KEYS_NONE, 0, 0, 0, 0},
    {"ACL SETUSER", KEYS_NONE, 0, 0, 0, 0},
    {"ACL USERS", KEYS_NONE, 0, 0, 0, 0},
    {"ACL WHOAMI", KEYS_NONE, 0, 0, 0, 0},
    {"APPEND", KEYS_RANGE, 1, 1, 1, 0},
    {"ASKING", KEYS_NONE, 0, 0, 0, 0},
    {"AUTH", KEYS_NONE, 0, 0, 0, 0},
    {"BGREWRITEAOF", KEYS_NONE, 0, 0, 0, 0},
    {"BGSAVE", KEYS_NONE, 0, 0, 0, 0},
    {"BITCOUNT", KEYS_RANGE, 1, 1, 1, 0},
    {"BITFIELD", KEYS_RANGE, 1, 1, 1, 0},
    {"BITFIELD_RO", KEYS_RANGE, 1, 1, 1, 0},
    {"BITOP", KEYS_RANGE, 2, -1, 1, 0},
    {"BITPOS", KEYS_RANGE, 1, 1, 1, 0},
    {"BLMOVE", KEYS_RANGE, 1, 2, 1, 0},
    {"BLMPOP", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"BLPOP", KEYS_RANGE, 1, -2, 1, 0},
    {"BRPOP", KEYS_RANGE, 1, -2, 1, 0},
    {"BRPOPLPUSH", KEYS_RANGE, 1, 2, 1, 0},
    {"BZMPOP", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"BZPOPMAX", KEYS_RANGE, 1, -2, 1, 0},
    {"BZPOPMIN", KEYS_RANGE, 1, -2, 1, 0},
    {"CLIENT", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"CLIENT CACHING", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT GETNAME", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT GETREDIR", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT HELP", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT ID", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT INFO", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT KILL", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT LIST", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT NO-EVICT", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT NO-TOUCH", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT PAUSE", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT REPLY", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT SETINFO", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT SETNAME", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT TRACKING", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT TRACKINGINFO", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT UNBLOCK", KEYS_NONE, 0, 0, 0, 0},
    {"CLIENT UNPAUSE", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"CLUSTER ADDSLOTS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER ADDSLOTSRANGE", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER BUMPEPOCH", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER COUNT-FAILURE-REPORTS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER COUNTKEYSINSLOT", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER DELSLOTS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER DELSLOTSRANGE", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER FAILOVER", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER FLUSHSLOTS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER FORGET", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER GETKEYSINSLOT", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER HELP", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER INFO", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER KEYSLOT", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER LINKS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER MEET", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER MYID", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER NODES", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER REPLICAS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER REPLICATE", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER RESET", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER SAVECONFIG", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER SET-CONFIG-EPOCH", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER SETSLOT", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER SHARDS", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER SLAVES", KEYS_NONE, 0, 0, 0, 0},
    {"CLUSTER SLOTS", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"COMMAND COUNT", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND DOCS", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND GETKEYS", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND GETKEYSANDFLAGS", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND HELP", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND INFO", KEYS_NONE, 0, 0, 0, 0},
    {"COMMAND LIST", KEYS_NONE, 0, 0, 0, 0},
    {"CONFIG", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"CONFIG GET", KEYS_NONE, 0, 0, 0, 0},
    {"CONFIG HELP", KEYS_NONE, 0, 0, 0, 0},
    {"CONFIG RESETSTAT", KEYS_NONE, 0, 0, 0, 0},
    {"CONFIG REWRITE", KEYS_NONE, 0, 0, 0, 0},
    {"CONFIG SET", KEYS_NONE, 0, 0, 0, 0},
    {"COPY", KEYS_RANGE, 1, 2, 1, 0},
    {"DBSIZE", KEYS_NONE, 0, 0, 0, 0},
    {"DEBUG", KEYS_NONE, 0, 0, 0, 0},
    {"DECR", KEYS_RANGE, 1, 1, 1, 0},
    {"DECRBY", KEYS_RANGE, 1, 1, 1, 0},
    {"DEL", KEYS_RANGE, 1, -1, 1, 0},
    {"DISCARD", KEYS_NONE, 0, 0, 0, 0},
    {"DUMP", KEYS_RANGE, 1, 1, 1, 0},
    {"ECHO", KEYS_NONE, 0, 0, 0, 0},
    {"EVAL", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"EVALSHA", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"EVALSHA_RO", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"EVAL_RO", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"EXEC", KEYS_NONE, 0, 0, 0, 0},
    {"EXISTS", KEYS_RANGE, 1, -1, 1, 0},
    {"EXPIRE", KEYS_RANGE, 1, 1, 1, 0},
    {"EXPIREAT", KEYS_RANGE, 1, 1, 1, 0},
    {"EXPIRETIME", KEYS_RANGE, 1, 1, 1, 0},
    {"FAILOVER", KEYS_NONE, 0, 0, 0, 0},
    {"FCALL", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"FCALL_RO", KEYS_NUMKEYS, 2, 0, 0, 0},
    {"FLUSHALL", KEYS_NONE, 0, 0, 0, 0},
    {"FLUSHDB", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"FUNCTION DELETE", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION DUMP", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION FLUSH", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION HELP", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION KILL", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION LIST", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION LOAD", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION RESTORE", KEYS_NONE, 0, 0, 0, 0},
    {"FUNCTION STATS", KEYS_NONE, 0, 0, 0, 0},
    {"GEOADD", KEYS_RANGE, 1, 1, 1, 0},
    {"GEODIST", KEYS_RANGE, 1, 1, 1, 0},
    {"GEOHASH", KEYS_RANGE, 1, 1, 1, 0},
    {"GEOPOS", KEYS_RANGE, 1, 1, 1, 0},
    {"GEORADIUS", KEYS_STORE, 1, 1, 1, 0},
    {"GEORADIUSBYMEMBER", KEYS_STORE, 1, 1, 1, 0},
    {"GEORADIUSBYMEMBER_RO", KEYS_RANGE, 1, 1, 1, 0},
    {"GEORADIUS_RO", KEYS_RANGE, 1, 1, 1, 0},
    {"GEOSEARCH", KEYS_RANGE, 1, 1, 1, 0},
    {"GEOSEARCHSTORE", KEYS_RANGE, 1, 2, 1, 0},
    {"GET", KEYS_RANGE, 1, 1, 1, 0},
    {"GETBIT", KEYS_RANGE, 1, 1, 1, 0},
    {"GETDEL", KEYS_RANGE, 1, 1, 1, 0},
    {"GETEX", KEYS_RANGE, 1, 1, 1, 0},
    {"GETRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"GETSET", KEYS_RANGE, 1, 1, 1, 0},
    {"HDEL", KEYS_RANGE, 1, 1, 1, 0},
    {"HELLO", KEYS_NONE, 0, 0, 0, 0},
    {"HEXISTS", KEYS_RANGE, 1, 1, 1, 0},
    {"HEXPIRE", KEYS_RANGE, 1, 1, 1, 0},
    {"HEXPIREAT", KEYS_RANGE, 1, 1, 1, 0},
    {"HEXPIRETIME", KEYS_RANGE, 1, 1, 1, 0},
    {"HGET", KEYS_RANGE, 1, 1, 1, 0},
    {"HGETALL", KEYS_RANGE, 1, 1, 1, 0},
    {"HGETDEL", KEYS_RANGE, 1, 1, 1, 0},
    {"HGETEX", KEYS_RANGE, 1, 1, 1, 0},
    {"HINCRBY", KEYS_RANGE, 1, 1, 1, 0},
    {"HINCRBYFLOAT", KEYS_RANGE, 1, 1, 1, 0},
    {"HKEYS", KEYS_RANGE, 1, 1, 1, 0},
    {"HLEN", KEYS_RANGE, 1, 1, 1, 0},
    {"HMGET", KEYS_RANGE, 1, 1, 1, 0},
    {"HMSET", KEYS_RANGE, 1, 1, 1, 0},
    {"HPERSIST", KEYS_RANGE, 1, 1, 1, 0},
    {"HPEXPIRE", KEYS_RANGE, 1, 1, 1, 0},
    {"HPEXPIREAT", KEYS_RANGE, 1, 1, 1, 0},
    {"HPEXPIRETIME", KEYS_RANGE, 1, 1, 1, 0},
    {"HPTTL", KEYS_RANGE, 1, 1, 1, 0},
    {"HRANDFIELD", KEYS_RANGE, 1, 1, 1, 0},
    {"HSCAN", KEYS_RANGE, 1, 1, 1, 0},
    {"HSET", KEYS_RANGE, 1, 1, 1, 0},
    {"HSETEX", KEYS_RANGE, 1, 1, 1, 0},
    {"HSETNX", KEYS_RANGE, 1, 1, 1, 0},
    {"HSTRLEN", KEYS_RANGE, 1, 1, 1, 0},
    {"HTTL", KEYS_RANGE, 1, 1, 1, 0},
    {"HVALS", KEYS_RANGE, 1, 1, 1, 0},
    {"INCR", KEYS_RANGE, 1, 1, 1, 0},
    {"INCRBY", KEYS_RANGE, 1, 1, 1, 0},
    {"INCRBYFLOAT", KEYS_RANGE, 1, 1, 1, 0},
    {"INFO", KEYS_NONE, 0, 0, 0, 0},
    {"KEYS", KEYS_NONE, 0, 0, 0, 0},
    {"LASTSAVE", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"LATENCY DOCTOR", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY GRAPH", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY HELP", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY HISTOGRAM", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY HISTORY", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY LATEST", KEYS_NONE, 0, 0, 0, 0},
    {"LATENCY RESET", KEYS_NONE, 0, 0, 0, 0},
    {"LCS", KEYS_RANGE, 1, 2, 1, 0},
    {"LINDEX", KEYS_RANGE, 1, 1, 1, 0},
    {"LINSERT", KEYS_RANGE, 1, 1, 1, 0},
    {"LLEN", KEYS_RANGE, 1, 1, 1, 0},
    {"LMOVE", KEYS_RANGE, 1, 2, 1, 0},
    {"LMPOP", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"LOLWUT", KEYS_NONE, 0, 0, 0, 0},
    {"LPOP", KEYS_RANGE, 1, 1, 1, 0},
    {"LPOS", KEYS_RANGE, 1, 1, 1, 0},
    {"LPUSH", KEYS_RANGE, 1, 1, 1, 0},
    {"LPUSHX", KEYS_RANGE, 1, 1, 1, 0},
    {"LRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"LREM", KEYS_RANGE, 1, 1, 1, 0},
    {"LSET", KEYS_RANGE, 1, 1, 1, 0},
    {"LTRIM", KEYS_RANGE, 1, 1, 1, 0},
    {"MEMORY", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"MEMORY DOCTOR", KEYS_NONE, 0, 0, 0, 0},
    {"MEMORY HELP", KEYS_NONE, 0, 0, 0, 0},
    {"MEMORY MALLOC-STATS", KEYS_NONE, 0, 0, 0, 0},
    {"MEMORY PURGE", KEYS_NONE, 0, 0, 0, 0},
    {"MEMORY STATS", KEYS_NONE, 0, 0, 0, 0},
    {"MEMORY USAGE", KEYS_RANGE, 2, 2, 1, 0},
    {"MGET", KEYS_RANGE, 1, -1, 1, 0},
    {"MIGRATE", KEYS_MIGRATE, 3, 3, 1, 0},
    {"MODULE", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"MODULE HELP", KEYS_NONE, 0, 0, 0, 0},
    {"MODULE LIST", KEYS_NONE, 0, 0, 0, 0},
    {"MODULE LOAD", KEYS_NONE, 0, 0, 0, 0},
    {"MODULE LOADEX", KEYS_NONE, 0, 0, 0, 0},
    {"MODULE UNLOAD", KEYS_NONE, 0, 0, 0, 0},
    {"MONITOR", KEYS_NONE, 0, 0, 0, 0},
    {"MOVE", KEYS_RANGE, 1, 1, 1, 0},
    {"MSET", KEYS_RANGE, 1, -1, 2, 0},
    {"MSETNX", KEYS_RANGE, 1, -1, 2, 0},
    {"MULTI", KEYS_NONE, 0, 0, 0, 0},
    {"OBJECT", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"OBJECT ENCODING", KEYS_RANGE, 2, 2, 1, 0},
    {"OBJECT FREQ", KEYS_RANGE, 2, 2, 1, 0},
    {"OBJECT HELP", KEYS_NONE, 0, 0, 0, 0},
    {"OBJECT IDLETIME", KEYS_RANGE, 2, 2, 1, 0},
    {"OBJECT REFCOUNT", KEYS_RANGE, 2, 2, 1, 0},
    {"PERSIST", KEYS_RANGE, 1, 1, 1, 0},
    {"PEXPIRE", KEYS_RANGE, 1, 1, 1, 0},
    {"PEXPIREAT", KEYS_RANGE, 1, 1, 1, 0},
    {"PEXPIRETIME", KEYS_RANGE, 1, 1, 1, 0},
    {"PFADD", KEYS_RANGE, 1, 1, 1, 0},
    {"PFCOUNT", KEYS_RANGE, 1, -1, 1, 0},
    {"PFDEBUG", KEYS_RANGE, 2, 2, 1, 0},
    {"PFMERGE", KEYS_RANGE, 1, -1, 1, 0},
    {"PFSELFTEST", KEYS_NONE, 0, 0, 0, 0},
    {"PING", KEYS_NONE, 0, 0, 0, 0},
    {"PSETEX", KEYS_RANGE, 1, 1, 1, 0},
    {"PSUBSCRIBE", KEYS_NONE, 0, 0, 0, 0},
    {"PSYNC", KEYS_NONE, 0, 0, 0, 0},
    {"PTTL", KEYS_RANGE, 1, 1, 1, 0},
    {"PUBLISH", KEYS_NONE, 0, 0, 0, 0},
    {"PUBSUB", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"PUBSUB CHANNELS", KEYS_NONE, 0, 0, 0, 0},
    {"PUBSUB HELP", KEYS_NONE, 0, 0, 0, 0},
    {"PUBSUB NUMPAT", KEYS_NONE, 0, 0, 0, 0},
    {"PUBSUB NUMSUB", KEYS_NONE, 0, 0, 0, 0},
    {"PUBSUB SHARDCHANNELS", KEYS_NONE, 0, 0, 0, 0},
    {"PUBSUB SHARDNUMSUB", KEYS_NONE, 0, 0, 0, 0},
    {"PUNSUBSCRIBE", KEYS_NONE, 0, 0, 0, 0},
    {"QUIT", KEYS_NONE, 0, 0, 0, 0},
    {"RANDOMKEY", KEYS_NONE, 0, 0, 0, 0},
    {"READONLY", KEYS_NONE, 0, 0, 0, 0},
    {"READWRITE", KEYS_NONE, 0, 0, 0, 0},
    {"RENAME", KEYS_RANGE, 1, 2, 1, 0},
    {"RENAMENX", KEYS_RANGE, 1, 2, 1, 0},
    {"REPLCONF", KEYS_NONE, 0, 0, 0, 0},
    {"REPLICAOF", KEYS_NONE, 0, 0, 0, 0},
    {"RESET", KEYS_NONE, 0, 0, 0, 0},
    {"RESTORE", KEYS_RANGE, 1, 1, 1, 0},
    {"RESTORE-ASKING", KEYS_RANGE, 1, 1, 1, 0},
    {"ROLE", KEYS_NONE, 0, 0, 0, 0},
    {"RPOP", KEYS_RANGE, 1, 1, 1, 0},
    {"RPOPLPUSH", KEYS_RANGE, 1, 2, 1, 0},
    {"RPUSH", KEYS_RANGE, 1, 1, 1, 0},
    {"RPUSHX", KEYS_RANGE, 1, 1, 1, 0},
    {"SADD", KEYS_RANGE, 1, 1, 1, 0},
    {"SAVE", KEYS_NONE, 0, 0, 0, 0},
    {"SCAN", KEYS_NONE, 0, 0, 0, 0},
    {"SCARD", KEYS_RANGE, 1, 1, 1, 0},
    {"SCRIPT", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"SCRIPT DEBUG", KEYS_NONE, 0, 0, 0, 0},
    {"SCRIPT EXISTS", KEYS_NONE, 0, 0, 0, 0},
    {"SCRIPT FLUSH", KEYS_NONE, 0, 0, 0, 0},
    {"SCRIPT HELP", KEYS_NONE, 0, 0, 0, 0},
    {"SCRIPT KILL", KEYS_NONE, 0, 0, 0, 0},
    {"SCRIPT LOAD", KEYS_NONE, 0, 0, 0, 0},
    {"SDIFF", KEYS_RANGE, 1, -1, 1, 0},
    {"SDIFFSTORE", KEYS_RANGE, 1, -1, 1, 0},
    {"SELECT", KEYS_NONE, 0, 0, 0, 0},
    {"SET", KEYS_RANGE, 1, 1, 1, 0},
    {"SETBIT", KEYS_RANGE, 1, 1, 1, 0},
    {"SETEX", KEYS_RANGE, 1, 1, 1, 0},
    {"SETNX", KEYS_RANGE, 1, 1, 1, 0},
    {"SETRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"SHUTDOWN", KEYS_NONE, 0, 0, 0, 0},
    {"SINTER", KEYS_RANGE, 1, -1, 1, 0},
    {"SINTERCARD", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"SINTERSTORE", KEYS_RANGE, 1, -1, 1, 0},
    {"SISMEMBER", KEYS_RANGE, 1, 1, 1, 0},
    {"SLAVEOF", KEYS_NONE, 0, 0, 0, 0},
    {"SLOWLOG", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"SLOWLOG GET", KEYS_NONE, 0, 0, 0, 0},
    {"SLOWLOG HELP", KEYS_NONE, 0, 0, 0, 0},
    {"SLOWLOG LEN", KEYS_NONE, 0, 0, 0, 0},
    {"SLOWLOG RESET", KEYS_NONE, 0, 0, 0, 0},
    {"SMEMBERS", KEYS_RANGE, 1, 1, 1, 0},
    {"SMISMEMBER", KEYS_RANGE, 1, 1, 1, 0},
    {"SMOVE", KEYS_RANGE, 1, 2, 1, 0},
    {"SORT", KEYS_STORE, 1, 1, 1, 0},
    {"SORT_RO", KEYS_RANGE, 1, 1, 1, 0},
    {"SPOP", KEYS_RANGE, 1, 1, 1, 0},
    {"SPUBLISH", KEYS_RANGE, 1, 1, 1, 0},
    {"SRANDMEMBER", KEYS_RANGE, 1, 1, 1, 0},
    {"SREM", KEYS_RANGE, 1, 1, 1, 0},
    {"SSCAN", KEYS_RANGE, 1, 1, 1, 0},
    {"SSUBSCRIBE", KEYS_RANGE, 1, -1, 1, 0},
    {"STRLEN", KEYS_RANGE, 1, 1, 1, 0},
    {"SUBSCRIBE", KEYS_NONE, 0, 0, 0, 0},
    {"SUBSTR", KEYS_RANGE, 1, 1, 1, 0},
    {"SUNION", KEYS_RANGE, 1, -1, 1, 0},
    {"SUNIONSTORE", KEYS_RANGE, 1, -1, 1, 0},
    {"SUNSUBSCRIBE", KEYS_RANGE, 1, -1, 1, 0},
    {"SWAPDB", KEYS_NONE, 0, 0, 0, 0},
    {"SYNC", KEYS_NONE, 0, 0, 0, 0},
    {"TIME", KEYS_NONE, 0, 0, 0, 0},
    {"TOUCH", KEYS_RANGE, 1, -1, 1, 0},
    {"TTL", KEYS_RANGE, 1, 1, 1, 0},
    {"TYPE", KEYS_RANGE, 1, 1, 1, 0},
    {"UNLINK", KEYS_RANGE, 1, -1, 1, 0},
    {"UNSUBSCRIBE", KEYS_NONE, 0, 0, 0, 0},
    {"UNWATCH", KEYS_NONE, 0, 0, 0, 0},
    {"WAIT", KEYS_NONE, 0, 0, 0, 0},
    {"WAITAOF", KEYS_NONE, 0, 0, 0, 0},
    {"WATCH", KEYS_RANGE, 1, -1, 1, 0},
    {"XACK", KEYS_RANGE, 1, 1, 1, 0},
    {"XADD", KEYS_RANGE, 1, 1, 1, 0},
    {"XAUTOCLAIM", KEYS_RANGE, 1, 1, 1, 0},
    {"XCLAIM", KEYS_RANGE, 1, 1, 1, 0},
    {"XDEL", KEYS_RANGE, 1, 1, 1, 0},
    {"XGROUP", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"XGROUP CREATE", KEYS_RANGE, 2, 2, 1, 0},
    {"XGROUP CREATECONSUMER", KEYS_RANGE, 2, 2, 1, 0},
    {"XGROUP DELCONSUMER", KEYS_RANGE, 2, 2, 1, 0},
    {"XGROUP DESTROY", KEYS_RANGE, 2, 2, 1, 0},
    {"XGROUP HELP", KEYS_NONE, 0, 0, 0, 0},
    {"XGROUP SETID", KEYS_RANGE, 2, 2, 1, 0},
    {"XINFO", KEYS_NONE, 0, 0, 0, CMD_CONTAINER},
    {"XINFO CONSUMERS", KEYS_RANGE, 2, 2, 1, 0},
    {"XINFO GROUPS", KEYS_RANGE, 2, 2, 1, 0},
    {"XINFO HELP", KEYS_NONE, 0, 0, 0, 0},
    {"XINFO STREAM", KEYS_RANGE, 2, 2, 1, 0},
    {"XLEN", KEYS_RANGE, 1, 1, 1, 0},
    {"XPENDING", KEYS_RANGE, 1, 1, 1, 0},
    {"XRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"XREAD", KEYS_STREAMS, 0, 0, 0, 0},
    {"XREADGROUP", KEYS_STREAMS, 0, 0, 0, 0},
    {"XREVRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"XSETID", KEYS_RANGE, 1, 1, 1, 0},
    {"XTRIM", KEYS_RANGE, 1, 1, 1, 0},
    {"ZADD", KEYS_RANGE, 1, 1, 1, 0},
    {"ZCARD", KEYS_RANGE, 1, 1, 1, 0},
    {"ZCOUNT", KEYS_RANGE, 1, 1, 1, 0},
    {"ZDIFF", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"ZDIFFSTORE", KEYS_DEST_NUMKEYS, 2, 0, 0, 0},
    {"ZINCRBY", KEYS_RANGE, 1, 1, 1, 0},
    {"ZINTER", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"ZINTERCARD", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"ZINTERSTORE", KEYS_DEST_NUMKEYS, 2, 0, 0, 0},
    {"ZLEXCOUNT", KEYS_RANGE, 1, 1, 1, 0},
    {"ZMPOP", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"ZMSCORE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZPOPMAX", KEYS_RANGE, 1, 1, 1, 0},
    {"ZPOPMIN", KEYS_RANGE, 1, 1, 1, 0},
    {"ZRANDMEMBER", KEYS_RANGE, 1, 1, 1, 0},
    {"ZRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZRANGEBYLEX", KEYS_RANGE, 1, 1, 1, 0},
    {"ZRANGEBYSCORE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZRANGESTORE", KEYS_RANGE, 1, 2, 1, 0},
    {"ZRANK", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREM", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREMRANGEBYLEX", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREMRANGEBYRANK", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREMRANGEBYSCORE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREVRANGE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREVRANGEBYLEX", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREVRANGEBYSCORE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZREVRANK", KEYS_RANGE, 1, 1, 1, 0},
    {"ZSCAN", KEYS_RANGE, 1, 1, 1, 0},
    {"ZSCORE", KEYS_RANGE, 1, 1, 1, 0},
    {"ZUNION", KEYS_NUMKEYS, 1, 0, 0, 0},
    {"ZUNIONSTORE", KEYS_DEST_NUMKEYS, 2, 0, 0, 0},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Module commands with the key first ("JSON.GET key ..."), and JSON.MGET (keys, then path). */
static const struct cmd_spec module_key_first = {"", KEYS_RANGE, 1, 1, 1, 0};
static const struct cmd_spec module_json_mget = {"", KEYS_RANGE, 1, -2, 1, 0};

static int spec_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cmd_spec *)elem)->name);
}

static const struct cmd_spec *cmd_lookup(const char *upper)
{
	static const char *const key_first[] = {"JSON.", "TS.",	  "BF.",     "CF.",
						"CMS.",	 "TOPK.", "TDIGEST."};
	static const char *const no_key[] = {"TS.MADD",	     "TS.MGET",	      "TS.MRANGE",
					     "TS.MREVRANGE", "TS.QUERYINDEX", "CMS.MERGE"};
	const struct cmd_spec *s =
	    bsearch(upper, commands, N_COMMANDS, sizeof(commands[0]), spec_cmp);
	size_t i;

	if (s || !strchr(upper, '.'))
		return s;
	if (!strcmp(upper, "JSON.MGET"))
		return &module_json_mget;
	for (i = 0; i < sizeof(no_key) / sizeof(no_key[0]); i++)
		if (!strcmp(upper, no_key[i]))
			return NULL;
	for (i = 0; i < sizeof(key_first) / sizeof(key_first[0]); i++)
		if (!strncmp(upper, key_first[i], strlen(key_first[i])))
			return &module_key_first;
	return NULL;
}

/* Commands whose replies or effects the dissector follows. */
enum special {
	SP_NONE = 0,
	SP_SUBSCRIBE,
	SP_PSUBSCRIBE,
	SP_SSUBSCRIBE,
	SP_UNSUBSCRIBE,
	SP_PUNSUBSCRIBE,
	SP_SUNSUBSCRIBE,
	SP_MONITOR,
	SP_HELLO,
	SP_RESET,
	SP_MULTI,
	SP_EXEC,
	SP_DISCARD,
	SP_SYNC,
	SP_PSYNC,
};

static const struct {
	const char *name;
	enum special sp;
} specials[] = {
    {"SUBSCRIBE", SP_SUBSCRIBE},
    {"PSUBSCRIBE", SP_PSUBSCRIBE},
    {"SSUBSCRIBE", SP_SSUBSCRIBE},
    {"UNSUBSCRIBE", SP_UNSUBSCRIBE},
    {"PUNSUBSCRIBE", SP_PUNSUBSCRIBE},
    {"SUNSUBSCRIBE", SP_SUNSUBSCRIBE},
    {"MONITOR", SP_MONITOR},
    {"HELLO", SP_HELLO},
    {"RESET", SP_RESET},
    {"MULTI", SP_MULTI},
    {"EXEC", SP_EXEC},
    {"DISCARD", SP_DISCARD},
    {"SYNC", SP_SYNC},
    {"PSYNC", SP_PSYNC},
};

/* The confirmation kind of a subscription command ("subscribe", ...), or NULL. */
static const char *sub_kind(enum special sp)
{
	switch (sp) {
	case SP_SUBSCRIBE:
		return "subscribe";
	case SP_PSUBSCRIBE:
		return "psubscribe";
	case SP_SSUBSCRIBE:
		return "ssubscribe";
	case SP_UNSUBSCRIBE:
		return "unsubscribe";
	case SP_PUNSUBSCRIBE:
		return "punsubscribe";
	case SP_SUNSUBSCRIBE:
		return "sunsubscribe";
	default:
		return NULL;
	}
}

/* ---- state ---- */

/* Estimates for redis_mem(): a JSON value's own allocations, a waiting command's entry. */
#define REDIS_JSON_VALUE_BYTES 64u
#define REDIS_CMD_BYTES (sizeof(struct cmd) + sizeof(struct entry) + 1024u)

#define NAME_BYTES 64u /* bytes kept of a command name and of a subcommand */
#define HEAD_BYTES 16u /* first bytes of every argument, for keywords */
#define REDACTED   "(redacted)"

struct kbuf {
	uint8_t *p;
	size_t len, cap;
};

/* A command waiting for its reply, or a barrier standing for commands lost in a gap. */
struct cmd {
	struct pending_link link; /* weight: argument bytes kept (bounded per connection) */
	struct entry *e;
	enum special sp;
	bool barrier;
	bool cut; /* its request was cut (gap, parse error): the request half is missing */
	enum entry_missing_reason cut_why;
	bool unsub_all;	      /* (P|S)UNSUBSCRIBE without arguments */
	unsigned expect, got; /* subscription commands: confirmations expected, received */
	json_t *replies;
	uint8_t reply_type;
	uint64_t req_end;
};

/* The command being read. */
struct req {
	bool active, is_inline;
	int64_t nargs, argi;
	char name[2 * NAME_BYTES + 2];
	const struct cmd_spec *spec;
	enum special sp;
	int64_t first_arg; /* index of the first argument after the command word(s) */
	json_t *args, *keys;
	size_t args_bytes, args_budget;
	size_t keys_bytes; /* key name bytes kept in keys */
	bool args_truncated, keys_truncated;
	int64_t numkeys; /* -1 until read */
	int64_t streams_at, store_at, keys_at, secret_at;
	bool client_reply_on, client_reply_off, client_reply_skip;
	uint64_t gap_bytes;
	/* the argument being read */
	uint8_t head[HEAD_BYTES];
	size_t head_len;
	uint64_t cur_len;
	size_t cur_cap; /* bytes of it that may be kept in args */
	bool cur_key, cur_cut;
};

/* An aggregate being read. */
struct frame {
	uint8_t type;	  /* '*', '~', '>', '%', '|' */
	bool want_key;	  /* map or attribute: the next element is a key */
	bool placeholder; /* not kept because of the depth bound: shown as null */
	int64_t left;	  /* elements still to come (a map counts keys and values) */
	json_t *val;	  /* the kept container, or NULL */
	json_t *key;	  /* map: the key waiting for its value (NULL: not kept) */
};

/* The reply being read. */
struct rep {
	unsigned depth;
	uint8_t top;	/* type byte of the reply proper (attributes come before it) */
	bool top_null2; /* RESP2's null bulk string or null array */
	bool keep_cur;	/* the bulk string being read is kept */
	int64_t top_len;
	json_t *value, *attrs, *format, *error, *code, *b64;
	bool truncated;
	unsigned nodes;
	size_t bytes; /* string bytes kept */
	uint64_t gap_bytes;
	struct frame st[REDIS_PARSE_DEPTH_MAX];
};

struct rdir {
	enum { RD_LINE = 0, RD_BULK, RD_BULK_END, RD_LONG_LINE } state;
	bool resync;
	bool last_cr; /* RD_LONG_LINE: the last byte read was a CR */
	bool in_msg;
	uint64_t ts_first, wire;
	uint8_t bulk_type;
	uint64_t bulk_len, bulk_left;
	size_t bulk_cap; /* payload bytes to hold in kept */
	struct kbuf kept;
};

struct redis {
	struct conn *c;
	struct rdir d[2];
	struct req q;
	struct rep r;
	struct pending_queue pending; /* commands waiting for replies, and barriers */
	uint64_t owed;	    /* replies owed to commands evicted from the queue */
	uint64_t reply_avg; /* average wire size of the server's messages (for gaps) */
	size_t body_max;
	/* reply order */
	bool resp3, monitor, replication;
	int64_t channels, patterns, shards; /* subscriptions, as the confirmations count them */
	/* command order */
	bool multi;
	json_t *tx; /* commands queued since MULTI */
	unsigned tx_count;
	size_t tx_bytes; /* what tx holds, for redis_mem() */
	bool reply_off, reply_skip; /* CLIENT REPLY OFF / SKIP */
	int64_t db;		    /* the database SELECTed; -1 when not known (mid-stream) */
};

/* ---- small helpers ---- */

static bool is_upper_word(const uint8_t *p, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

static bool is_name_byte(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
	       b == '_' || b == '-' || b == '.' || b == '|';
}

static bool kbuf_reserve(struct kbuf *b, size_t cap)
{
	uint8_t *np;

	if (cap <= b->cap)
		return true;
	np = realloc(b->p, cap);
	if (!np)
		return false;
	b->p = np;
	b->cap = cap;
	return true;
}

/* Strict decimal integer (an optional '-', 1 to 19 digits). */
static bool read_int(const uint8_t *p, size_t n, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	size_t i = 0;

	if (n && p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == n || n - i > 19)
		return false;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* Text of a value of which keep bytes of total were kept: a cut UTF-8 sequence at the end is
 * dropped rather than shown as U+FFFD. */
static json_t *cut_text(const uint8_t *p, size_t keep, uint64_t total)
{
	if (!p)
		return json_string("");
	if (keep < total && keep) {
		size_t i = keep - 1, lead;

		while (i > 0 && keep - i < 4 && (p[i] & 0xc0) == 0x80)
			i--;
		lead = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : p[i] >= 0xc0 ? 2 : 1;
		if (lead > keep - i)
			keep = i;
	}
	return entry_json_text(p, keep);
}

static bool valid_text(const uint8_t *p, size_t n)
{
	size_t i = 0, l;

	while (i < n && (l = entry_utf8_seq_len(p + i, n - i)) && p[i])
		i += l;
	return i == n;
}

static bool word_eq(const struct req *q, const char *w)
{
	size_t n = strlen(w);

	return q->cur_len == n && n <= HEAD_BYTES && !strncasecmp((const char *)q->head, w, n);
}

static const char *version_of(const struct redis *st)
{
	return st->resp3 ? "3" : "2";
}

static void set_version(struct redis *st, struct entry *e)
{
	snprintf(e->version, sizeof(e->version), "%s", version_of(st));
}

/* ---- detection and resynchronisation ---- */

static bool type_byte(uint8_t b)
{
	return b && strchr("+-:$*_,#(!=%~>|", b);
}

/* "<int>\r\n" at p; returns its length (including CRLF), 0 when malformed, -1 when short. */
static long int_line(const uint8_t *p, size_t n, size_t max_digits, int64_t *v)
{
	size_t i = 0;

	while (i < n && i <= max_digits && (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')))
		i++;
	if (i > max_digits)
		return 0;
	if (i + 2 > n)
		return i == n ? -1 : (p[i] == '\r' && i + 1 == n ? -1 : 0);
	if (p[i] != '\r' || p[i + 1] != '\n' || !read_int(p, i, v))
		return 0;
	return (long)(i + 2);
}

/* An inline command: a known command word, then the rest of the line (not an HTTP request). */
static enum detect_result inline_start(const uint8_t *p, size_t n)
{
	char word[33];
	size_t i = 0, k;

	while (i < n && i < 32 && is_name_byte(p[i]) && p[i] != '|') {
		word[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
		i++;
	}
	if (i == n)
		return i < 32 ? DETECT_MAYBE : DETECT_NO;
	if (!i || (p[i] != ' ' && p[i] != '\r' && p[i] != '\n'))
		return DETECT_NO;
	word[i] = 0;
	if (!bsearch(word, commands, N_COMMANDS, sizeof(commands[0]), spec_cmp))
		return DETECT_NO;
	for (k = i; k < n && k < REDIS_LINE_MAX; k++) {
		if (p[k] == '\n')
			return DETECT_YES;
		if ((p[k] < 0x20 && p[k] != '\t' && p[k] != '\r') || p[k] == 0x7f)
			return DETECT_NO;
		if (p[k] == ' ' && n - k >= 6 && !memcmp(p + k, " HTTP/", 6))
			return DETECT_NO;
	}
	return k < REDIS_LINE_MAX ? DETECT_MAYBE : DETECT_NO;
}

/* A client message: "*N\r\n$M\r\n" and a command name's first byte, or an inline command. */
static enum detect_result c2s_start(const uint8_t *p, size_t n)
{
	int64_t v;
	long k, k2;

	if (!n)
		return DETECT_MAYBE;
	if (p[0] != '*')
		return inline_start(p, n);
	k = int_line(p + 1, n - 1, 7, &v);
	if (k <= 0)
		return k < 0 ? DETECT_MAYBE : DETECT_NO;
	if (v < 1)
		return DETECT_NO;
	k += 1;
	if ((size_t)k == n)
		return DETECT_MAYBE;
	if (p[k] != '$')
		return DETECT_NO;
	k2 = int_line(p + k + 1, n - (size_t)k - 1, 10, &v);
	if (k2 <= 0)
		return k2 < 0 ? DETECT_MAYBE : DETECT_NO;
	if (v < 1 || v > 64 * 1024)
		return DETECT_NO;
	k += 1 + k2;
	if ((size_t)k == n)
		return DETECT_MAYBE;
	return (p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= 'a' && p[k] <= 'z') ? DETECT_YES
									    : DETECT_NO;
}

/* A server message: a well-formed first line of any RESP2/RESP3 type. */
static enum detect_result s2c_start(const uint8_t *p, size_t n)
{
	const uint8_t *nl;
	size_t len, i;
	int64_t v;

	if (!n)
		return DETECT_MAYBE;
	if (!type_byte(p[0]))
		return DETECT_NO;
	nl = memchr(p, '\n', n < REDIS_LINE_MAX ? n : REDIS_LINE_MAX);
	if (!nl)
		return n < REDIS_LINE_MAX ? DETECT_MAYBE : DETECT_NO;
	len = (size_t)(nl - p);
	if (len < 1 || p[len - 1] != '\r')
		return DETECT_NO;
	len -= 2; /* the text after the type byte */
	switch (p[0]) {
	case '+':
		/* POP3's greeting is "+OK text"; Redis' OK is alone on its line. */
		if (len > 3 && !memcmp(p + 1, "OK ", 3))
			return DETECT_NO;
		/* fallthrough */
	case '-':
		if (p[0] == '-' && (!len || p[1] < 'A' || p[1] > 'Z'))
			return DETECT_NO;
		for (i = 1; i <= len; i++)
			if (p[i] < 0x20 || p[i] == 0x7f)
				return DETECT_NO;
		return DETECT_YES;
	case ':':
	case '(':
		return read_int(p + 1, len, &v) ? DETECT_YES : DETECT_NO;
	case '_':
		return len ? DETECT_NO : DETECT_YES;
	case '#':
		return len == 1 && (p[1] == 't' || p[1] == 'f') ? DETECT_YES : DETECT_NO;
	case ',':
		if (!len || len > 64)
			return DETECT_NO;
		for (i = 1; i <= len; i++)
			if (!strchr("0123456789.eE+-infa", p[i]))
				return DETECT_NO;
		return DETECT_YES;
	case '$':
	case '=':
	case '!':
		if (!read_int(p + 1, len, &v) || v < -1 || (v == -1 && p[0] != '$') ||
		    v > REDIS_LENGTH_LIMIT)
			return DETECT_NO;
		/* When the payload is at hand, its CRLF must follow it. */
		if (v >= 0 && (uint64_t)(n - (len + 3)) >= (uint64_t)v + 2) {
			const uint8_t *e = p + len + 3 + v;

			if (e[0] != '\r' || e[1] != '\n')
				return DETECT_NO;
		}
		return DETECT_YES;
	default: /* '*', '~', '>', '%', '|' */
		if (!read_int(p + 1, len, &v) || v < -1 || (v == -1 && p[0] != '*') ||
		    v > REDIS_COUNT_LIMIT)
			return DETECT_NO;
		if (v > 0 && n > len + 3 && !type_byte(p[len + 3]))
			return DETECT_NO;
		return DETECT_YES;
	}
}

/*
 * A message start inside a buffer that began mid-message (a capture picked up mid-stream):
 * only forms hard to meet by chance count, wholly at hand: a client's "*N\r\n$M\r\n" and
 * a letter; a server's bulk string whose payload ends in CRLF, or an aggregate header
 * followed by a type byte.
 */
static bool strong_start(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	const uint8_t *nl;
	size_t len;
	int64_t v;

	if (dir == TCP_DIR_C2S)
		return p[0] == '*' && c2s_start(p, n) == DETECT_YES;
	if (!strchr("$*%~>", p[0]) || s2c_start(p, n) != DETECT_YES)
		return false;
	nl = memchr(p, '\n', n);
	len = (size_t)(nl - p) + 1;
	if (!read_int(p + 1, len - 3, &v) || v < 1)
		return false;
	if (p[0] == '$')
		return n - len >= (uint64_t)v + 2;
	return n > len;
}

static enum detect_result redis_detect(enum tcp_dir dir, const uint8_t *p, size_t n)
{
	enum detect_result r = dir == TCP_DIR_C2S ? c2s_start(p, n) : s2c_start(p, n);
	size_t i;

	if (r != DETECT_NO)
		return r;
	for (i = 1; i < n; i++)
		if (p[i - 1] == '\n' && strong_start(dir, p + i, n - i))
			return DETECT_YES;
	return DETECT_NO;
}

/*
 * Skip to the next line that starts a message. Returns the bytes to skip; *found when a
 * message starts right after them (else more bytes are needed, or none was seen).
 */
static size_t resync_scan(enum tcp_dir dir, const uint8_t *p, size_t n, bool *found)
{
	size_t i;

	*found = false;
	for (i = 0; i < n; i++) {
		enum detect_result r;

		if (i && p[i - 1] != '\n')
			continue;
		r = dir == TCP_DIR_C2S ? c2s_start(p + i, n - i) : s2c_start(p + i, n - i);
		if (r == DETECT_NO)
			continue;
		*found = r == DETECT_YES;
		return i;
	}
	return n;
}

/* ---- the queue ---- */

static void cmd_free(struct cmd *x)
{
	if (!x)
		return;
	entry_free(x->e);
	json_decref(x->replies);
	free(x);
}

static struct cmd *cmd_of(struct pending_link *l)
{
	return l ? pending_entry(l, struct cmd, link) : NULL;
}

/* The oldest command waiting (NULL when none). */
static struct cmd *first(const struct redis *st)
{
	return cmd_of(st->pending.head);
}

static struct cmd *dequeue(struct redis *st)
{
	return cmd_of(pending_pop(&st->pending));
}

/* Emit a command's entry (x is freed). missing: the response never came, for why. */
static void cmd_emit(struct redis *st, struct cmd *x, bool response_missing,
		     enum entry_missing_reason why)
{
	struct entry *e = x->e;

	x->e = NULL;
	if (e) {
		e->protocol = "redis";
		set_version(st, e);
		if (x->cut) {
			e->missing = ENTRY_MISSING_REQUEST;
			e->missing_reason = x->cut_why;
		} else if (response_missing) {
			e->missing = ENTRY_MISSING_RESPONSE;
			e->missing_reason = why;
		}
		conn_emit(st->c, e);
	}
	cmd_free(x);
}

/* A subscription command's confirmations so far as its response; x is freed. */
static void sub_emit(struct redis *st, struct cmd *x)
{
	json_t *o = json_object();
	static const char *const names[256] = {['*'] = "array", ['>'] = "push"};

	if (o && x->e) {
		json_object_set_new(
		    o, "type", json_string(names[x->reply_type] ? names[x->reply_type] : "array"));
		json_object_set(o, "value", x->replies);
		json_object_set_new(o, "replies", json_integer(x->got));
		json_object_set_new(entry_fields_rw(x->e), "response", o);
	} else {
		json_decref(o);
	}
	cmd_emit(st, x, false, ENTRY_REASON_NONE);
}

static void enqueue(struct redis *st, struct cmd *x)
{
	struct cmd *old = cmd_of(pending_push(&st->pending, &x->link));

	if (!old)
		return;
	conn_counter_add(st->c, REDIS_CTR_EVICTED, 1);
	if (old->barrier) {
		cmd_free(old);
	} else {
		/* Its reply, when it comes, is the next one: owed keeps the pairing right. */
		st->owed++;
		if (old->got)
			sub_emit(st, old);
		else
			cmd_emit(st, old, true, ENTRY_REASON_TOO_MANY_PENDING);
	}
}

/* Commands an unknown number of which were lost: replies are matched by time after it. */
static void add_barrier(struct redis *st)
{
	struct cmd *x;

	if (cmd_of(st->pending.tail) && cmd_of(st->pending.tail)->barrier)
		return;
	x = calloc(1, sizeof(*x));
	if (!x)
		return;
	x->barrier = true;
	enqueue(st, x);
}

/* ---- the request side ---- */

static void req_reset(struct req *q)
{
	json_decref(q->args);
	json_decref(q->keys);
	memset(q, 0, sizeof(*q));
}

static void req_begin(struct redis *st, int64_t nargs, bool is_inline)
{
	struct req *q = &st->q;
	size_t room = st->pending.weight < REDIS_PENDING_BYTES_MAX
			  ? REDIS_PENDING_BYTES_MAX - st->pending.weight
			  : 0;

	req_reset(q);
	q->active = true;
	q->is_inline = is_inline;
	q->nargs = nargs;
	q->numkeys = -1;
	q->first_arg = 1;
	q->args_budget = st->body_max < room ? st->body_max : room;
	q->args = json_array();
	q->keys = json_array();
}

static bool arg_is_key(const struct req *q, int64_t i, uint64_t len)
{
	const struct cmd_spec *s = q->spec;
	int64_t last;

	if (!s)
		return false;
	switch (s->kind) {
	case KEYS_RANGE:
		last = s->last < 0 ? q->nargs + s->last : s->last;
		return i >= s->first && i <= last && (i - s->first) % (s->step ? s->step : 1) == 0;
	case KEYS_NUMKEYS:
		return q->numkeys >= 0 && i > s->first && i <= s->first + q->numkeys;
	case KEYS_DEST_NUMKEYS:
		return i == 1 || (q->numkeys >= 0 && i > s->first && i <= s->first + q->numkeys);
	case KEYS_STREAMS:
		return q->streams_at > 0 && i > q->streams_at &&
		       i <= q->streams_at + (q->nargs - 1 - q->streams_at) / 2;
	case KEYS_MIGRATE:
		return (i == 3 && len > 0) || (q->keys_at > 0 && i > q->keys_at);
	case KEYS_STORE:
		return i == 1 || (q->store_at > 0 && i == q->store_at + 1);
	default:
		return false;
	}
}

/* An argument of len bytes starts: how many of its bytes to hold until it ends. */
static size_t req_arg_begin(struct redis *st, uint64_t len)
{
	struct req *q = &st->q;
	int64_t i = q->argi;
	size_t cap = 0, hold;

	q->cur_len = len;
	q->cur_key = false;
	q->cur_cut = false;
	if (i == 0 || (i == 1 && q->spec && (q->spec->flags & CMD_CONTAINER))) {
		hold = NAME_BYTES;
	} else {
		q->cur_key = arg_is_key(q, i, len);
		if (json_array_size(q->args) < REDIS_ARGS_MAX && q->args_bytes < q->args_budget)
			cap = q->args_budget - q->args_bytes;
		q->cur_cap = cap;
		hold = cap;
		if (q->cur_key) {
			size_t kcap =
			    st->body_max < REDIS_KEY_BYTES_MAX ? st->body_max : REDIS_KEY_BYTES_MAX;

			if (hold < kcap)
				hold = kcap;
		}
	}
	if (hold < HEAD_BYTES)
		hold = HEAD_BYTES;
	return hold;
}

static void upper_copy(char *dst, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
	dst[n] = 0;
}

/* The command's name is known: what follows from it. */
static void req_named(struct req *q)
{
	size_t i;

	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
		if (!strcmp(q->name, specials[i].name))
			q->sp = specials[i].sp;
	if (!strcmp(q->name, "AUTH"))
		q->secret_at = q->nargs == 2 ? 1 : q->nargs == 3 ? 2 : 0;
}

/* Keywords that tell where keys or secrets are, seen in argument i. */
static void req_keywords(struct req *q, int64_t i, const uint8_t *p, size_t n)
{
	const struct cmd_spec *s = q->spec;
	int64_t v;

	if (s && (s->kind == KEYS_NUMKEYS || s->kind == KEYS_DEST_NUMKEYS) && i == s->first &&
	    n == q->cur_len && read_int(p, n, &v) && v >= 0)
		q->numkeys = v;
	if (s && s->kind == KEYS_STREAMS && !q->streams_at && word_eq(q, "STREAMS"))
		q->streams_at = i;
	if (s && s->kind == KEYS_STORE && i >= 2 &&
	    (word_eq(q, "STORE") || word_eq(q, "STOREDIST")))
		q->store_at = i;
	if (s && s->kind == KEYS_MIGRATE && i >= 6) {
		if (word_eq(q, "KEYS") && !q->keys_at)
			q->keys_at = i;
		else if (word_eq(q, "AUTH"))
			q->secret_at = i + 1;
		else if (word_eq(q, "AUTH2"))
			q->secret_at = i + 2;
	}
	if (q->sp == SP_HELLO && i >= 2 && word_eq(q, "AUTH"))
		q->secret_at = i + 2;
	if (!strcmp(q->name, "CONFIG SET") && i >= 2 && (i % 2) == 0 &&
	    (word_eq(q, "requirepass") || word_eq(q, "masterauth")))
		q->secret_at = i + 1;
	if (!strcmp(q->name, "CLIENT REPLY") && i == 2) {
		q->client_reply_on = word_eq(q, "ON");
		q->client_reply_off = word_eq(q, "OFF");
		q->client_reply_skip = word_eq(q, "SKIP");
	}
}

/* The argument ends; p holds its first n bytes (n <= what req_arg_begin() asked for). */
static void req_arg_end(struct redis *st, const uint8_t *p, size_t n)
{
	struct req *q = &st->q;
	int64_t i = q->argi++;
	bool secret;

	if (n > q->cur_len)
		n = (size_t)q->cur_len;
	q->head_len = n < HEAD_BYTES ? n : HEAD_BYTES;
	memcpy(q->head, p, q->head_len);
	if (i == 0) {
		size_t k = n < NAME_BYTES ? n : NAME_BYTES;

		upper_copy(q->name, p, k);
		q->spec = cmd_lookup(q->name);
		if (!q->spec || !(q->spec->flags & CMD_CONTAINER) || q->nargs < 2)
			req_named(q);
		return;
	}
	if (i == 1 && q->spec && (q->spec->flags & CMD_CONTAINER)) {
		size_t k, len = strlen(q->name);

		for (k = 0; k < n && is_name_byte(p[k]) && p[k] != '|'; k++)
			;
		if (n && k == n && n == q->cur_len && n <= NAME_BYTES) {
			q->name[len] = ' ';
			upper_copy(q->name + len + 1, p, n);
			q->spec = cmd_lookup(q->name);
			q->first_arg = 2;
			req_named(q);
			return;
		}
		/* Not a subcommand word: an ordinary argument of the container command. */
		q->spec = NULL;
		req_named(q);
	}
	req_keywords(q, i, p, n);
	secret = i == q->secret_at ||
		 (!strcmp(q->name, "ACL SETUSER") && i >= 3 && n && strchr("><#!", p[0]));
	if (q->cur_key) {
		size_t kcap =
		    st->body_max < REDIS_KEY_BYTES_MAX ? st->body_max : REDIS_KEY_BYTES_MAX;
		size_t k = n < kcap ? n : kcap;

		/* Key bytes weigh on the connection's bound as arguments do. */
		if (json_array_size(q->keys) < REDIS_KEYS_MAX && !secret &&
		    st->pending.weight + q->args_bytes + q->keys_bytes + k <=
			REDIS_PENDING_BYTES_MAX) {
			json_array_append_new(q->keys, cut_text(p, k, q->cur_len));
			q->keys_bytes += k;
		} else
			q->keys_truncated = true;
		if (k < q->cur_len)
			q->keys_truncated = true;
	}
	if (json_array_size(q->args) >= REDIS_ARGS_MAX) {
		q->args_truncated = true;
		return;
	}
	if (secret) {
		json_array_append_new(q->args, json_string(REDACTED));
		return;
	}
	{
		size_t k = n < q->cur_cap ? n : q->cur_cap;

		if (!k && q->cur_len) {
			q->args_truncated = true;
			return;
		}
		json_array_append_new(q->args, cut_text(p, k, q->cur_len));
		q->args_bytes += k;
		if (k < q->cur_len || q->cur_cut)
			q->args_truncated = true;
	}
}

static json_t *req_json(struct req *q)
{
	json_t *o = json_object();
	int64_t argc = q->nargs - q->first_arg;

	if (!o)
		return NULL;
	if (q->argi > 0)
		entry_set_text(o, "command", (const uint8_t *)q->name, strlen(q->name));
	json_object_set(o, "args", q->args);
	json_object_set_new(o, "arg_count", json_integer(argc > 0 ? argc : 0));
	if (q->args_truncated)
		json_object_set_new(o, "args_truncated", json_true());
	if (json_array_size(q->keys))
		json_object_set(o, "keys", q->keys);
	if (q->keys_truncated)
		json_object_set_new(o, "keys_truncated", json_true());
	if (q->is_inline)
		json_object_set_new(o, "inline", json_true());
	if (q->gap_bytes)
		json_object_set_new(o, "gap_bytes", json_integer((json_int_t)q->gap_bytes));
	return o;
}

/* A command queued after MULTI, for the EXEC entry. */
static void tx_add(struct redis *st, struct req *q)
{
	json_t *o;

	st->tx_count++;
	if (!st->tx)
		st->tx = json_array();
	if (!st->tx || json_array_size(st->tx) >= REDIS_TX_MAX)
		return;
	o = json_object();
	if (!o)
		return;
	entry_set_text(o, "command", (const uint8_t *)q->name, strlen(q->name));
	if (json_array_size(q->keys))
		json_object_set(o, "keys", q->keys);
	json_array_append_new(st->tx, o);
	st->tx_bytes += REDIS_JSON_VALUE_BYTES + 2 * q->keys_bytes;
}

static unsigned sub_expect(const struct req *q)
{
	int64_t n = q->nargs - 1;

	return n > 0 ? (unsigned)(n < 1000000 ? n : 1000000) : 0;
}

/* The command in q is complete (or cut): its entry waits for the reply in the queue. */
static void req_finish(struct redis *st, uint64_t ts_end, bool cut, enum entry_missing_reason why)
{
	struct req *q = &st->q;
	struct rdir *d = &st->d[TCP_DIR_C2S];
	struct cmd *x = calloc(1, sizeof(*x));
	bool no_reply = false;

	d->in_msg = false;
	if (!x || !(x->e = conn_entry_new(st->c))) {
		free(x);
		req_reset(q);
		return;
	}
	x->e->protocol = "redis";
	x->e->request_ts_ns = d->ts_first;
	x->e->request_end_ns = ts_end;
	x->e->request_size = d->wire;
	json_object_set_new(entry_fields_rw(x->e), "request", req_json(q));
	if (st->db >= 0 && x->e)
		json_object_set_new(json_object_get(x->e->fields, "request"), "db",
				    json_integer(st->db));
	if (!cut && !strcmp(q->name, "SELECT") && q->nargs == 2) {
		int64_t db;

		st->db = read_int(q->head, q->head_len, &db) && db >= 0 ? db : -1;
	}
	x->sp = q->sp;
	x->req_end = ts_end;
	x->link.weight = q->args_bytes + q->keys_bytes;
	x->cut = cut;
	x->cut_why = why;
	if (sub_kind(x->sp)) {
		x->expect = sub_expect(q);
		x->unsub_all = !x->expect;
	}
	/* Command order: transactions and CLIENT REPLY. */
	if (st->multi && x->sp != SP_MULTI && x->sp != SP_EXEC && x->sp != SP_DISCARD &&
	    strcmp(q->name, "WATCH"))
		tx_add(st, q);
	if (x->sp == SP_MULTI) {
		st->multi = true;
		json_decref(st->tx);
		st->tx = NULL;
		st->tx_count = 0;
		st->tx_bytes = 0;
	} else if ((x->sp == SP_EXEC || x->sp == SP_DISCARD) && st->multi) {
		json_t *t = json_object();

		if (t) {
			json_object_set_new(t, "commands", st->tx ? st->tx : json_array());
			st->tx = NULL;
			st->tx_bytes = 0;
			json_object_set_new(t, "command_count", json_integer(st->tx_count));
			if (st->tx_count > REDIS_TX_MAX)
				json_object_set_new(t, "commands_truncated", json_true());
			json_object_set_new(entry_fields_rw(x->e), "transaction", t);
		}
		st->multi = false;
		st->tx_count = 0;
	} else if (x->sp == SP_RESET) {
		st->db = 0;
		st->multi = false;
		st->reply_off = st->reply_skip = false;
	}
	if (!cut) {
		if (st->reply_skip) {
			no_reply = true;
			st->reply_skip = false;
		} else if (st->reply_off) {
			no_reply = !q->client_reply_on;
		}
		if (q->client_reply_off) {
			st->reply_off = true;
			no_reply = true;
		} else if (q->client_reply_skip) {
			st->reply_skip = !st->reply_off;
			no_reply = true;
		} else if (q->client_reply_on) {
			st->reply_off = false;
		}
	}
	req_reset(q);
	if (no_reply) {
		/* Answered by no reply, by the client's choice: complete as it is. */
		json_object_set_new(entry_fields_rw(x->e), "no_reply", json_true());
		cmd_emit(st, x, false, ENTRY_REASON_NONE);
		return;
	}
	enqueue(st, x);
}

/*
 * Split an inline command as Redis does: words separated by blanks; "..." with \n \r \t \b
 * \a \\ \" \xHH escapes; '...' with \' only; a closing quote must end the word. The words go
 * to buf (n bytes), their lengths to lens (n / 2 + 1). Returns their number, -1 when
 * malformed (unbalanced quotes).
 */
static int64_t inline_split(const uint8_t *p, size_t n, uint8_t *buf, size_t *lens)
{
	size_t i = 0, o = 0, w = 0;

	while (1) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\v' ||
				 p[i] == '\f'))
			i++;
		if (i == n)
			break;
		{
			size_t start = o;
			bool dq = false, sq = false, done = false;

			while (!done) {
				if (dq) {
					if (i == n)
						return -1;
					if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' &&
					    isxdigit(p[i + 2]) && isxdigit(p[i + 3])) {
						char hex[3] = {(char)p[i + 2], (char)p[i + 3], 0};

						buf[o++] = (uint8_t)strtoul(hex, NULL, 16);
						i += 4;
					} else if (p[i] == '\\' && i + 1 < n) {
						uint8_t c = p[i + 1];

						buf[o++] = c == 'n'   ? '\n'
							   : c == 'r' ? '\r'
							   : c == 't' ? '\t'
							   : c == 'b' ? '\b'
							   : c == 'a' ? '\a'
								      : c;
						i += 2;
					} else if (p[i] == '"') {
						if (i + 1 < n && p[i + 1] != ' ' &&
						    p[i + 1] != '\t')
							return -1;
						dq = false;
						done = true;
						i++;
					} else {
						buf[o++] = p[i++];
					}
				} else if (sq) {
					if (i == n)
						return -1;
					if (p[i] == '\\' && i + 1 < n && p[i + 1] == '\'') {
						buf[o++] = '\'';
						i += 2;
					} else if (p[i] == '\'') {
						if (i + 1 < n && p[i + 1] != ' ' &&
						    p[i + 1] != '\t')
							return -1;
						sq = false;
						done = true;
						i++;
					} else {
						buf[o++] = p[i++];
					}
				} else if (i == n || p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
					   p[i] == '\v' || p[i] == '\f') {
					done = true;
				} else if (p[i] == '"') {
					dq = true;
					i++;
				} else if (p[i] == '\'') {
					sq = true;
					i++;
				} else {
					buf[o++] = p[i++];
				}
			}
			lens[w++] = o - start;
		}
	}
	return (int64_t)w;
}

/* ---- the reply side ---- */

static const char *type_name(uint8_t t, bool null2)
{
	switch (t) {
	case '+':
		return "simple_string";
	case '-':
		return "error";
	case ':':
		return "integer";
	case '$':
		return null2 ? "null" : "bulk_string";
	case '*':
		return null2 ? "null" : "array";
	case '_':
		return "null";
	case ',':
		return "double";
	case '#':
		return "boolean";
	case '(':
		return "big_number";
	case '!':
		return "bulk_error";
	case '=':
		return "verbatim_string";
	case '%':
		return "map";
	case '~':
		return "set";
	case '>':
		return "push";
	}
	return "unknown";
}

static void rep_reset(struct rep *r)
{
	unsigned i;

	for (i = 0; i < r->depth; i++) {
		json_decref(r->st[i].val);
		json_decref(r->st[i].key);
	}
	json_decref(r->value);
	json_decref(r->attrs);
	json_decref(r->format);
	json_decref(r->error);
	json_decref(r->code);
	json_decref(r->b64);
	memset(r, 0, offsetof(struct rep, st));
}

static void rep_begin_value(struct rep *r, uint8_t type)
{
	if (!r->depth && type != '|')
		r->top = type;
}

/* Does the container being filled keep its next element? */
static bool rep_parent_keeps(const struct rep *r)
{
	const struct frame *f;

	if (!r->depth)
		return true;
	f = &r->st[r->depth - 1];
	if (!f->val)
		return false;
	if ((f->type == '%' || f->type == '|') && !f->want_key && !f->key)
		return false;
	return true;
}

static bool rep_take_node(struct rep *r)
{
	if (r->nodes >= REDIS_VALUE_ELEMENTS_MAX) {
		r->truncated = true;
		return false;
	}
	r->nodes++;
	return true;
}

/* A string of total bytes starts: is it kept, and how many of its bytes (*cap)? */
static bool rep_begin_string(struct redis *st, uint64_t total, size_t *cap)
{
	struct rep *r = &st->r;
	size_t room = r->bytes < st->body_max ? st->body_max - r->bytes : 0;

	*cap = 0;
	if (!rep_parent_keeps(r) || !rep_take_node(r))
		return false;
	if (r->depth && total && !room) {
		r->nodes--;
		r->truncated = true;
		return false;
	}
	*cap = total < room ? (size_t)total : room;
	r->bytes += *cap;
	if (*cap < total)
		r->truncated = true;
	return true;
}

/* Map keys are JSON object keys: strings as they are, other values as their JSON text. */
static void map_set(json_t *obj, json_t *key, json_t *v)
{
	char buf[64], *dump = NULL;
	const char *k = buf;

	if (json_is_string(key))
		k = json_string_value(key);
	else if (json_is_integer(key))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(key));
	else if (json_is_real(key))
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(key));
	else if (json_is_boolean(key))
		k = json_is_true(key) ? "true" : "false";
	else if (json_is_null(key))
		k = "null";
	else
		k = dump = json_dumps(key, JSON_COMPACT);
	if (k)
		json_object_set_new(obj, k, v);
	else
		json_decref(v);
	free(dump);
}

static void reply_done(struct redis *st, uint64_t ts_end);
static void cmd_complete(struct redis *st, struct cmd *x, uint64_t ts_end);

/* A complete value (NULL: not kept) goes into its container, or is the reply. */
static void rep_value(struct redis *st, json_t *v, uint64_t ts_end)
{
	struct rep *r = &st->r;

	for (;;) {
		struct frame *f;
		uint8_t type;

		if (!r->depth) {
			r->value = v;
			reply_done(st, ts_end);
			return;
		}
		f = &r->st[r->depth - 1];
		if (f->type == '%' || f->type == '|') {
			if (f->want_key) {
				f->key = v;
				f->want_key = false;
			} else {
				if (f->val && f->key && v)
					map_set(f->val, f->key, v);
				else
					json_decref(v);
				json_decref(f->key);
				f->key = NULL;
				f->want_key = true;
			}
		} else if (f->val && v) {
			json_array_append_new(f->val, v);
		} else {
			json_decref(v);
		}
		if (--f->left > 0)
			return;
		type = f->type;
		v = f->val ? f->val : f->placeholder ? json_null() : NULL;
		f->val = NULL;
		json_decref(f->key);
		f->key = NULL;
		r->depth--;
		if (type == '|') {
			/* Attributes describe the value after them; only the reply's are kept. */
			if (!r->depth) {
				json_decref(r->attrs);
				r->attrs = v;
			} else {
				json_decref(v);
			}
			return;
		}
	}
}

static void rep_scalar(struct redis *st, json_t *v, uint64_t ts_end)
{
	struct rep *r = &st->r;

	if (!rep_parent_keeps(r) || !rep_take_node(r)) {
		json_decref(v);
		v = NULL;
	}
	rep_value(st, v, ts_end);
}

/* A string value (simple string, error, big number, bulk payload): keep of total bytes at p. */
static void rep_string(struct redis *st, uint8_t type, const uint8_t *p, size_t keep,
		       uint64_t total, bool kept, uint64_t ts_end)
{
	struct rep *r = &st->r;
	bool err = type == '-' || type == '!';
	bool verb = type == '=' && keep >= 4 && p[3] == ':';
	json_t *v = NULL;

	if (!r->depth) {
		if (err) {
			size_t w = 0;

			r->error = cut_text(p, keep, total);
			while (w < keep && p[w] != ' ')
				w++;
			if (w < 64 && is_upper_word(p, w))
				r->code = json_stringn((const char *)p, w);
		} else if (verb) {
			r->format = entry_json_text(p, 3);
			v = cut_text(p + 4, keep - 4, total - 4);
		} else {
			v = cut_text(p, keep, total);
			if (type == '$' && !valid_text(p, keep))
				r->b64 = entry_json_base64(p, keep);
		}
		rep_value(st, v, ts_end);
		return;
	}
	if (kept) {
		if (err) {
			v = json_object();
			if (v)
				json_object_set_new(v, "error", cut_text(p, keep, total));
		} else if (verb) {
			v = cut_text(p + 4, keep - 4, total - 4);
		} else {
			v = cut_text(p, keep, total);
		}
	}
	rep_value(st, v, ts_end);
}

static json_t *double_json(const uint8_t *p, size_t len)
{
	char buf[72], *end;
	double v;
	size_t i;

	if (!len || len >= sizeof(buf))
		return NULL;
	memcpy(buf, p, len);
	buf[len] = 0;
	if (!strcmp(buf, "inf") || !strcmp(buf, "-inf") || !strcmp(buf, "nan"))
		return json_string(buf);
	for (i = 0; i < len; i++)
		if (!strchr("0123456789.eE+-", buf[i]))
			return NULL;
	v = strtod(buf, &end);
	if (*end)
		return NULL;
	if (!isfinite(v))
		return json_string(v > 0 ? "inf" : v < 0 ? "-inf" : "nan");
	return json_real(v);
}

static bool big_number(const uint8_t *p, size_t n)
{
	size_t i = n && (p[0] == '-' || p[0] == '+') ? 1 : 0;

	if (i == n)
		return false;
	for (; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static void bulk_start(struct rdir *d, uint8_t type, uint64_t len, size_t hold)
{
	d->bulk_type = type;
	d->bulk_len = d->bulk_left = len;
	d->kept.len = 0;
	d->bulk_cap = kbuf_reserve(&d->kept, hold) ? hold : 0;
	d->state = len ? RD_BULK : RD_BULK_END;
}

/* An aggregate header; false when malformed (too deep). */
static bool rep_agg(struct redis *st, uint8_t type, int64_t count, uint64_t ts_end)
{
	struct rep *r = &st->r;
	bool map = type == '%' || type == '|';
	int64_t n = map ? count * 2 : count;
	bool keep, placeholder = false;
	json_t *val = NULL;
	struct frame *f;

	rep_begin_value(r, type);
	if (!r->depth && type != '|')
		r->top_len = count;
	keep = rep_parent_keeps(r) && !(type == '|' && r->depth);
	if (keep && r->depth >= REDIS_VALUE_DEPTH_MAX) {
		keep = false;
		placeholder = type != '|';
		r->truncated = true;
	}
	if (keep && !rep_take_node(r))
		keep = false;
	if (keep) {
		val = map ? json_object() : json_array();
		if (!val)
			keep = false;
	}
	if (!n) {
		if (!val && placeholder)
			val = json_null();
		if (type == '|') {
			if (!r->depth) {
				json_decref(r->attrs);
				r->attrs = val;
			} else {
				json_decref(val);
			}
			return true;
		}
		rep_value(st, val, ts_end);
		return true;
	}
	if (r->depth >= REDIS_PARSE_DEPTH_MAX) {
		json_decref(val);
		return false;
	}
	f = &r->st[r->depth++];
	f->type = type;
	f->want_key = map;
	f->placeholder = placeholder;
	f->left = n;
	f->val = val;
	f->key = NULL;
	return true;
}

/* One line of the server's; false when malformed. */
static bool rep_line(struct redis *st, const uint8_t *p, size_t len, uint64_t ts_end)
{
	struct rep *r = &st->r;
	struct rdir *d = &st->d[TCP_DIR_S2C];
	struct cmd *x = first(st);
	int64_t v;
	size_t cap;
	uint8_t t;
	bool kept;

	if (!len)
		return false;
	t = p[0];
	p++;
	len--;
	/* SYNC is answered by the RDB file as a bulk string without CRLF, then the stream. */
	if (!r->depth && t == '$' && x && !x->barrier && x->sp == SP_SYNC && read_int(p, len, &v) &&
	    v >= 0) {
		r->top = '$';
		r->top_len = v;
		cmd_complete(st, dequeue(st), ts_end);
		rep_reset(r);
		d->in_msg = false;
		st->replication = true;
		return true;
	}
	switch (t) {
	case '+':
	case '-':
	case '(':
		if (t == '(' && !big_number(p, len))
			return false;
		rep_begin_value(r, t);
		kept = rep_begin_string(st, len, &cap);
		rep_string(st, t, p, cap, len, kept, ts_end);
		return true;
	case ':':
		if (!read_int(p, len, &v))
			return false;
		rep_begin_value(r, t);
		rep_scalar(st, json_integer(v), ts_end);
		return true;
	case '_':
		if (len)
			return false;
		rep_begin_value(r, t);
		rep_scalar(st, json_null(), ts_end);
		return true;
	case '#':
		if (len != 1 || (p[0] != 't' && p[0] != 'f'))
			return false;
		rep_begin_value(r, t);
		rep_scalar(st, json_boolean(p[0] == 't'), ts_end);
		return true;
	case ',': {
		json_t *dv = double_json(p, len);

		if (!dv)
			return false;
		rep_begin_value(r, t);
		rep_scalar(st, dv, ts_end);
		return true;
	}
	case '$':
	case '=':
	case '!':
		if (!read_int(p, len, &v) || v < -1 || v > REDIS_LENGTH_LIMIT ||
		    (v == -1 && t != '$'))
			return false;
		rep_begin_value(r, t);
		if (v == -1) {
			if (!r->depth)
				r->top_null2 = true;
			rep_scalar(st, json_null(), ts_end);
			return true;
		}
		if (!r->depth)
			r->top_len = v;
		r->keep_cur = rep_begin_string(st, (uint64_t)v, &cap);
		bulk_start(d, t, (uint64_t)v, cap);
		return true;
	case '*':
	case '~':
	case '>':
	case '%':
	case '|':
		if (!read_int(p, len, &v) || v < -1 || v > REDIS_COUNT_LIMIT ||
		    (v == -1 && t != '*'))
			return false;
		if (v == -1) {
			rep_begin_value(r, t);
			if (!r->depth)
				r->top_null2 = true;
			rep_scalar(st, json_null(), ts_end);
			return true;
		}
		return rep_agg(st, t, v, ts_end);
	default:
		return false;
	}
}

/* The response object of the reply just read. */
static json_t *rep_json(struct redis *st)
{
	struct rep *r = &st->r;
	json_t *o = json_object();
	uint8_t t = r->top;

	if (!o)
		return NULL;
	json_object_set_new(o, "type", json_string(type_name(t, r->top_null2)));
	if (t == '-' || t == '!') {
		if (r->error)
			json_object_set(o, "error", r->error);
		if (r->code)
			json_object_set(o, "error_code", r->code);
	} else if (r->value) {
		json_object_set(o, "value", r->value);
	}
	if (t && strchr("$=!*~>%", t) && !r->top_null2)
		json_object_set_new(o, "length", json_integer(r->top_len));
	if (r->format)
		json_object_set(o, "format", r->format);
	if (r->b64)
		json_object_set(o, "value_base64", r->b64);
	if (r->truncated)
		json_object_set_new(o, "truncated", json_true());
	if (r->gap_bytes)
		json_object_set_new(o, "gap_bytes", json_integer((json_int_t)r->gap_bytes));
	if (r->attrs)
		json_object_set(o, "attributes", r->attrs);
	return o;
}

/* What a reply changes in the connection's state. */
static void reply_effects(struct redis *st, struct cmd *x)
{
	struct rep *r = &st->r;
	bool err = r->top == '-' || r->top == '!';
	json_t *t = x->e ? json_object_get(x->e->fields, "transaction") : NULL;
	const char *s = json_string_value(r->value);

	switch (x->sp) {
	case SP_MONITOR:
		if (!err)
			st->monitor = true;
		break;
	case SP_RESET:
		if (!err) {
			st->monitor = false;
			st->channels = st->patterns = st->shards = 0;
			st->resp3 = false;
		}
		break;
	case SP_HELLO:
		if (r->top == '%')
			st->resp3 = true;
		else if (r->top == '*')
			st->resp3 = false;
		break;
	case SP_EXEC:
		if (t)
			json_object_set_new(t, "outcome",
					    json_string(err || r->top_null2 || r->top == '_'
							    ? "aborted"
							    : "executed"));
		break;
	case SP_DISCARD:
		if (t && !err)
			json_object_set_new(t, "outcome", json_string("discarded"));
		break;
	case SP_PSYNC:
		if (s && (!strncmp(s, "FULLRESYNC", 10) || !strncmp(s, "CONTINUE", 8)))
			st->replication = true;
		break;
	default:
		break;
	}
}

/* The reply just read answers x (x is freed). */
static void cmd_complete(struct redis *st, struct cmd *x, uint64_t ts_end)
{
	struct rdir *d = &st->d[TCP_DIR_S2C];

	if (x->e) {
		x->e->response_ts_ns = d->ts_first;
		x->e->response_end_ns = ts_end;
		x->e->response_size = d->wire;
		json_object_set_new(entry_fields_rw(x->e), "response", rep_json(st));
	}
	reply_effects(st, x);
	cmd_emit(st, x, false, ENTRY_REASON_NONE);
}

/* A reply without its command: the command was not seen, or was given up. */
static void orphan_emit(struct redis *st, enum entry_missing_reason why, uint64_t ts_end)
{
	struct rdir *d = &st->d[TCP_DIR_S2C];
	struct entry *e = conn_entry_new(st->c);

	if (!e)
		return;
	e->protocol = "redis";
	set_version(st, e);
	e->response_ts_ns = d->ts_first;
	e->response_end_ns = ts_end;
	e->response_size = d->wire;
	json_object_set_new(entry_fields_rw(e), "response", rep_json(st));
	e->missing = ENTRY_MISSING_REQUEST;
	e->missing_reason = why;
	conn_emit(st->c, e);
}

static bool is_subscription_kind(const char *k)
{
	return !strcmp(k, "subscribe") || !strcmp(k, "psubscribe") || !strcmp(k, "ssubscribe") ||
	       !strcmp(k, "unsubscribe") || !strcmp(k, "punsubscribe") ||
	       !strcmp(k, "sunsubscribe");
}

static void set_elem(json_t *o, const char *key, json_t *arr, size_t i)
{
	json_t *v = json_array_get(arr, i);

	if (v)
		json_object_set(o, key, v);
}

/* Something the server sent unasked: an entry without a request. */
static void push_emit(struct redis *st, const char *kind, uint64_t ts_end)
{
	struct rdir *d = &st->d[TCP_DIR_S2C];
	struct entry *e = conn_entry_new(st->c);
	json_t *v = st->r.value, *p;

	if (!e)
		return;
	e->protocol = "redis";
	set_version(st, e);
	e->response_ts_ns = d->ts_first;
	e->response_end_ns = ts_end;
	e->response_size = d->wire;
	json_object_set_new(entry_fields_rw(e), "response", rep_json(st));
	p = json_object();
	if (p) {
		json_object_set_new(p, "kind", json_string(kind));
		if (!strcmp(kind, "monitor")) {
			json_object_set(p, "message", v);
		} else if (!strcmp(kind, "message") || !strcmp(kind, "smessage")) {
			set_elem(p, "channel", v, 1);
			set_elem(p, "message", v, 2);
		} else if (!strcmp(kind, "pmessage")) {
			set_elem(p, "pattern", v, 1);
			set_elem(p, "channel", v, 2);
			set_elem(p, "message", v, 3);
		} else if (is_subscription_kind(kind)) {
			set_elem(p, "channel", v, 1);
			set_elem(p, "count", v, 2);
		} else if (!strcmp(kind, "invalidate")) {
			set_elem(p, "keys", v, 1);
		}
		json_object_set_new(entry_fields_rw(e), "push", p);
	}
	conn_emit(st->c, e);
}

/* The kind of a push or a pub/sub array: its first element, lower-cased. */
static bool push_kind(const struct rep *r, char kind[32])
{
	const char *s;
	size_t i;

	kind[0] = 0;
	if ((r->top != '>' && r->top != '*') || !json_is_array(r->value))
		return false;
	s = json_string_value(json_array_get(r->value, 0));
	if (!s || strlen(s) >= 32)
		return false;
	for (i = 0; s[i]; i++)
		kind[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	kind[i] = 0;
	return true;
}

/* [kind, channel or null, count] */
static bool confirmation_shape(json_t *v)
{
	json_t *ch = json_array_get(v, 1);

	return json_array_size(v) == 3 && (json_is_string(ch) || json_is_null(ch)) &&
	       json_is_integer(json_array_get(v, 2));
}

/* [message, channel, payload], [smessage, ...], [pmessage, pattern, channel, payload] */
static bool message_shape(const char *kind, json_t *v)
{
	if (!strcmp(kind, "message") || !strcmp(kind, "smessage"))
		return json_array_size(v) == 3 && json_is_string(json_array_get(v, 1));
	if (!strcmp(kind, "pmessage"))
		return json_array_size(v) == 4 && json_is_string(json_array_get(v, 1)) &&
		       json_is_string(json_array_get(v, 2));
	return false;
}

/* "1700000000.123456 [0 10.0.0.1:5000] "GET" "k"" */
static bool monitor_line(json_t *v)
{
	const char *s = json_string_value(v);
	size_t i = 0;

	if (!s)
		return false;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (!i || s[i++] != '.')
		return false;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	return s[i] == ' ' && s[i + 1] == '[';
}

static enum special sp_of_kind(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
		if (sub_kind(specials[i].sp) && !strcmp(sub_kind(specials[i].sp), kind))
			return specials[i].sp;
	return SP_NONE;
}

static int64_t *sub_counter(struct redis *st, enum special sp)
{
	switch (sp) {
	case SP_PSUBSCRIBE:
	case SP_PUNSUBSCRIBE:
		return &st->patterns;
	case SP_SSUBSCRIBE:
	case SP_SUNSUBSCRIBE:
		return &st->shards;
	default:
		return &st->channels;
	}
}

/* The confirmation's count is channels + patterns (or shard channels): split it. */
static void sub_update(struct redis *st, enum special sp, int64_t count)
{
	int64_t *mine = sub_counter(st, sp);

	if (sp == SP_SSUBSCRIBE || sp == SP_SUNSUBSCRIBE)
		*mine = count;
	else
		*mine = count - (mine == &st->channels ? st->patterns : st->channels);
	if (*mine < 0)
		*mine = 0;
}

static bool subscribed(const struct redis *st)
{
	return st->channels + st->patterns + st->shards > 0;
}

/* A confirmation that answers x, the subscription command at the queue's head. */
static void sub_confirm(struct redis *st, struct cmd *x, int64_t count, uint64_t ts_end)
{
	struct rep *r = &st->r;
	struct rdir *d = &st->d[TCP_DIR_S2C];

	if (!x->got) {
		x->replies = json_array();
		x->reply_type = r->top;
		if (x->e)
			x->e->response_ts_ns = d->ts_first;
	}
	x->got++;
	if (x->replies && r->value && json_array_size(x->replies) < REDIS_ARGS_MAX)
		json_array_append(x->replies, r->value);
	if (x->e) {
		x->e->response_end_ns = ts_end;
		x->e->response_size += d->wire;
	}
	if (x->got >= x->expect || (x->unsub_all && count == 0))
		sub_emit(st, dequeue(st));
}

/* A reply for the queue's head. */
static void pair_reply(struct redis *st, uint64_t ts_end)
{
	struct rdir *d = &st->d[TCP_DIR_S2C];
	struct cmd *x;

	/* A subscription command that got confirmations has all it will get. */
	while ((x = first(st)) && !x->barrier && x->got)
		sub_emit(st, dequeue(st));
	if (st->owed) {
		st->owed--;
		orphan_emit(st, ENTRY_REASON_TOO_MANY_PENDING, ts_end);
		return;
	}
	if (x && x->barrier) {
		/* Lost commands come first: a reply that began before the next command was sent
		 * answers one of them. */
		struct cmd *nx = cmd_of(x->link.next);

		if (!nx || d->ts_first < nx->req_end) {
			orphan_emit(st, ENTRY_REASON_GAP, ts_end);
			return;
		}
		cmd_free(dequeue(st));
		x = nx;
	}
	/* No command, or the reply began before the command was sent: its command was missed. */
	if (!x || d->ts_first < x->req_end) {
		orphan_emit(st, ENTRY_REASON_GAP, ts_end);
		return;
	}
	cmd_complete(st, dequeue(st), ts_end);
}

static void reply_done(struct redis *st, uint64_t ts_end)
{
	struct rep *r = &st->r;
	char kind[32];
	bool listed;

	st->d[TCP_DIR_S2C].in_msg = false;
	st->reply_avg = st->reply_avg ? (st->reply_avg * 7 + st->d[TCP_DIR_S2C].wire) / 8
				      : st->d[TCP_DIR_S2C].wire;
	if ((r->top && strchr("_,#(!=%~>", r->top)) || r->attrs)
		st->resp3 = true;
	listed = push_kind(r, kind);
	if (st->monitor && r->top == '+' && monitor_line(r->value)) {
		push_emit(st, "monitor", ts_end);
	} else if (listed && sp_of_kind(kind) != SP_NONE && confirmation_shape(r->value)) {
		enum special sp = sp_of_kind(kind);
		int64_t count = json_integer_value(json_array_get(r->value, 2));
		struct cmd *x = first(st);

		if (x && !x->barrier && x->sp == sp) {
			if (x->unsub_all && !x->got) {
				int64_t now = *sub_counter(st, sp);

				x->expect = now > 1 ? (unsigned)(now < 1000000 ? now : 1000000) : 1;
			}
			sub_update(st, sp, count);
			sub_confirm(st, x, count, ts_end);
		} else {
			sub_update(st, sp, count);
			push_emit(st, kind, ts_end);
		}
	} else if (r->top == '>') {
		push_emit(st, kind, ts_end);
	} else if (listed && message_shape(kind, r->value) &&
		   (subscribed(st) || !first(st) || first(st)->barrier)) {
		/* RESP2: a published message on a subscribed connection. */
		if (!subscribed(st))
			st->channels = 1;
		push_emit(st, kind, ts_end);
	} else {
		pair_reply(st, ts_end);
	}
	rep_reset(r);
}

/* ---- cuts, gaps, malformed bytes ---- */

/* The reply being read is cut: the head command gets what was read, marked missing. */
static void rep_cut(struct redis *st, enum entry_missing_reason why, uint64_t ts)
{
	struct rep *r = &st->r;
	struct cmd *x;

	if (r->depth && r->st[0].type != '|' && r->st[0].val) {
		r->value = r->st[0].val;
		r->st[0].val = NULL;
	}
	r->truncated = true;
	while ((x = first(st)) && !x->barrier && x->got)
		sub_emit(st, dequeue(st));
	if (r->top != '>' && x && !x->barrier && !st->owed) {
		struct rdir *d = &st->d[TCP_DIR_S2C];

		x = dequeue(st);
		if (x->e) {
			x->e->response_ts_ns = d->ts_first;
			x->e->response_end_ns = ts;
			x->e->response_size = d->wire;
			json_object_set_new(entry_fields_rw(x->e), "response", rep_json(st));
		}
		cmd_emit(st, x, true, why);
	}
	rep_reset(r);
}

/* Whatever message dir was in the middle of is cut. */
static void msg_cut(struct redis *st, enum tcp_dir dir, enum entry_missing_reason why, uint64_t ts)
{
	struct rdir *d = &st->d[dir];

	if (d->in_msg) {
		if (dir == TCP_DIR_C2S) {
			/* The server answers even a malformed command (with an error). */
			if (st->q.active)
				req_finish(st, ts, true, why);
			req_reset(&st->q);
		} else {
			rep_cut(st, why, ts);
		}
	}
	d->in_msg = false;
	d->state = RD_LINE;
	d->bulk_left = 0;
	d->kept.len = 0;
}

static void malformed(struct redis *st, enum tcp_dir dir, uint64_t ts)
{
	conn_count_parse_error(st->c);
	conn_counter_add(st->c,
			 dir == TCP_DIR_C2S ? REDIS_CTR_REQUEST_ERRORS : REDIS_CTR_REPLY_ERRORS, 1);
	msg_cut(st, dir, ENTRY_REASON_PARSE_ERROR, ts);
	if (dir == TCP_DIR_C2S)
		add_barrier(st);
	st->d[dir].resync = true;
}

/* ---- the client's lines ---- */

static void req_inline(struct redis *st, const uint8_t *p, size_t len, uint64_t ts_end)
{
	uint8_t *buf = malloc(len + 1);
	size_t *lens = malloc((len / 2 + 1) * sizeof(*lens));
	size_t off = 0;
	int64_t w, i;

	if (!buf || !lens) {
		st->d[TCP_DIR_C2S].in_msg = false;
		goto out;
	}
	w = inline_split(p, len, buf, lens);
	if (!w) {
		/* Redis ignores blank lines: no reply comes. */
		conn_counter_add(st->c, REDIS_CTR_EMPTY_INLINE, 1);
		st->d[TCP_DIR_C2S].in_msg = false;
		goto out;
	}
	if (w < 0) {
		/* Unbalanced quotes: Redis answers with a protocol error. */
		conn_counter_add(st->c, REDIS_CTR_REQUEST_ERRORS, 1);
		req_begin(st, 0, true);
		req_finish(st, ts_end, false, ENTRY_REASON_NONE);
		goto out;
	}
	req_begin(st, w, true);
	for (i = 0; i < w; i++) {
		size_t hold = req_arg_begin(st, lens[i]);

		req_arg_end(st, buf + off, lens[i] < hold ? lens[i] : hold);
		off += lens[i];
	}
	req_finish(st, ts_end, false, ENTRY_REASON_NONE);
out:
	free(buf);
	free(lens);
}

/* One line of the client's; false when malformed. */
static bool req_line(struct redis *st, const uint8_t *p, size_t len, uint64_t ts_end)
{
	struct req *q = &st->q;
	struct rdir *d = &st->d[TCP_DIR_C2S];
	int64_t v;

	if (!q->active) {
		if (len && p[0] == '*') {
			if (!read_int(p + 1, len - 1, &v) || v > REDIS_COUNT_LIMIT)
				return false;
			if (v <= 0) {
				d->in_msg = false; /* Redis ignores an empty command */
				return true;
			}
			req_begin(st, v, false);
			return true;
		}
		req_inline(st, p, len, ts_end);
		return true;
	}
	if (!len || p[0] != '$' || !read_int(p + 1, len - 1, &v) || v < 0 || v > REDIS_LENGTH_LIMIT)
		return false;
	bulk_start(d, '$', (uint64_t)v, req_arg_begin(st, (uint64_t)v));
	return true;
}

/* A bulk payload and its CRLF were read. */
static void bulk_done(struct redis *st, enum tcp_dir dir, uint64_t ts_end)
{
	struct rdir *d = &st->d[dir];

	if (dir == TCP_DIR_C2S) {
		req_arg_end(st, d->kept.p, d->kept.len);
		if (st->q.argi >= st->q.nargs)
			req_finish(st, ts_end, false, ENTRY_REASON_NONE);
		return;
	}
	rep_string(st, d->bulk_type, d->kept.p, d->kept.len, d->bulk_len, st->r.keep_cur, ts_end);
}

/* Bytes of a long simple string or error (RD_LONG_LINE); returns how many were consumed. */
static size_t long_line(struct redis *st, const uint8_t *q, size_t left, uint64_t ts_end)
{
	struct rdir *d = &st->d[TCP_DIR_S2C];
	const uint8_t *nl = memchr(q, '\n', left);
	size_t n = nl ? (size_t)(nl - q) : left, take = 0, cap;
	bool kept;

	if (d->kept.len < d->bulk_cap) {
		take = d->bulk_cap - d->kept.len < n ? d->bulk_cap - d->kept.len : n;
		memcpy(d->kept.p + d->kept.len, q, take);
		d->kept.len += take;
	}
	if (n)
		d->last_cr = q[n - 1] == '\r';
	d->bulk_len += n;
	d->wire += n + (nl ? 1 : 0);
	if (!nl)
		return n;
	if (d->last_cr) {
		/* The CR ends the line; it is not part of the text. */
		if (d->kept.len == d->bulk_len)
			d->kept.len--;
		d->bulk_len--;
	}
	d->state = RD_LINE;
	rep_begin_value(&st->r, d->bulk_type);
	kept = rep_begin_string(st, d->bulk_len, &cap);
	rep_string(st, d->bulk_type, d->kept.p, cap < d->kept.len ? cap : d->kept.len, d->bulk_len,
		   kept, ts_end);
	return n + 1;
}

/* ---- the dissector ---- */

static void *redis_open(struct conn *c, void *handover)
{
	struct redis *st = calloc(1, sizeof(*st));
	const struct tcp_flow_info *info = conn_info(c);
	bool mid = info->role != TCP_ROLE_SYN && info->role != TCP_ROLE_SYNACK;

	(void)handover;
	if (!st)
		return NULL;
	st->c = c;
	pending_init(&st->pending, REDIS_PENDING_MAX);
	st->body_max = conn_body_max(c);
	/* Picked up mid-stream: the first bytes may be the middle of a message. */
	st->d[TCP_DIR_C2S].resync = mid;
	st->d[TCP_DIR_S2C].resync = mid;
	st->db = mid ? -1 : 0;
	return st;
}

static size_t redis_parse(void *vst, struct conn *c, enum tcp_dir dir, const uint8_t *p, size_t n,
			  uint64_t ts, uint64_t ts_last)
{
	struct redis *st = vst;
	struct rdir *d = &st->d[dir];
	size_t off = 0;

	st->c = c;
	while (off < n) {
		const uint8_t *q = p + off, *nl;
		size_t left = n - off, len, k;

		if (st->replication) {
			conn_counter_add(c, REDIS_CTR_REPLICATION_BYTES, left);
			return n;
		}
		if (d->resync) {
			bool found;

			k = resync_scan(dir, q, left, &found);
			if (k)
				conn_counter_add(c, REDIS_CTR_RESYNC_BYTES, k);
			off += k;
			if (!found)
				break;
			d->resync = false;
			continue;
		}
		if (d->state == RD_BULK) {
			k = left < d->bulk_left ? left : (size_t)d->bulk_left;
			if (d->kept.len < d->bulk_cap) {
				size_t take = d->bulk_cap - d->kept.len;

				if (take > k)
					take = k;
				memcpy(d->kept.p + d->kept.len, q, take);
				d->kept.len += take;
			}
			d->bulk_left -= k;
			d->wire += k;
			off += k;
			if (!d->bulk_left)
				d->state = RD_BULK_END;
			continue;
		}
		if (d->state == RD_BULK_END) {
			if (left < 2)
				break;
			if (q[0] != '\r' || q[1] != '\n') {
				malformed(st, dir, ts_last);
				continue;
			}
			d->wire += 2;
			off += 2;
			d->state = RD_LINE;
			bulk_done(st, dir, ts_last);
			continue;
		}
		if (d->state == RD_LONG_LINE) {
			off += long_line(st, q, left, ts_last);
			continue;
		}
		nl = memchr(q, '\n', left < REDIS_LINE_MAX ? left : REDIS_LINE_MAX);
		if (!nl) {
			if (left < REDIS_LINE_MAX)
				break;
			if (dir == TCP_DIR_S2C && (q[0] == '+' || q[0] == '-')) {
				/* A simple string longer than a line (MONITOR shows whole
				 * arguments): streamed, a prefix kept. */
				if (!d->in_msg) {
					d->in_msg = true;
					d->ts_first = off ? ts_last : ts;
					d->wire = 0;
				}
				d->state = RD_LONG_LINE;
				d->bulk_type = q[0];
				d->bulk_len = 0;
				d->last_cr = false;
				d->kept.len = 0;
				d->bulk_cap =
				    st->r.bytes < st->body_max ? st->body_max - st->r.bytes : 0;
				if (!kbuf_reserve(&d->kept, d->bulk_cap))
					d->bulk_cap = 0;
				d->wire++;
				off++;
				continue;
			}
			malformed(st, dir, ts_last);
			off++; /* not a message start: let the scan look further */
			continue;
		}
		k = (size_t)(nl - q) + 1;
		len = k - 1;
		if (len && q[len - 1] == '\r')
			len--;
		if (!d->in_msg) {
			d->in_msg = true;
			d->ts_first = off ? ts_last : ts;
			d->wire = 0;
		}
		d->wire += k;
		off += k;
		if (!(dir == TCP_DIR_C2S ? req_line(st, q, len, ts_last)
					 : rep_line(st, q, len, ts_last)))
			malformed(st, dir, ts_last);
	}
	return off;
}

/* At a message boundary, the hole held at least one reply: the oldest command's. */
/*
 * n replies of the oldest commands fell in a hole that ts decided: they are emitted without
 * a response. Commands sent after ts cannot have been answered in it.
 */
static void reply_lost(struct redis *st, uint64_t n, uint64_t ts)
{
	struct cmd *x;

	while (n-- && (x = first(st)) && !x->barrier && x->req_end <= ts) {
		x = dequeue(st);
		if (x->got)
			sub_emit(st, x);
		else
			cmd_emit(st, x, true, ENTRY_REASON_GAP);
	}
}

/* How many server messages a hole of `bytes` held, by their average size (at least one). */
static uint64_t replies_in(const struct redis *st, uint64_t bytes)
{
	uint64_t n;

	if (!st->reply_avg)
		return 1;
	n = (bytes + st->reply_avg / 2) / st->reply_avg;
	return n ? (n < REDIS_PENDING_MAX ? n : REDIS_PENDING_MAX) : 1;
}

static void redis_gap(void *vst, struct conn *c, enum tcp_dir dir, uint64_t missing, uint64_t ts)
{
	struct redis *st = vst;
	struct rdir *d = &st->d[dir];

	st->c = c;
	if (st->replication || !missing)
		return;
	if (d->in_msg && !d->resync && d->state == RD_LONG_LINE) {
		/* Inside a long simple string: count the hole, keep nothing after it. */
		d->bulk_len += missing;
		d->wire += missing;
		d->bulk_cap = d->kept.len;
		st->r.gap_bytes += missing;
		st->r.truncated = true;
		return;
	}
	if (d->in_msg && !d->resync && d->state == RD_BULK && missing <= d->bulk_left) {
		/* Inside a bulk payload: skip the hole, keep nothing after it. */
		d->bulk_left -= missing;
		d->wire += missing;
		d->bulk_cap = d->kept.len;
		if (dir == TCP_DIR_C2S) {
			st->q.gap_bytes += missing;
			st->q.cur_cut = true;
		} else {
			st->r.gap_bytes += missing;
			st->r.truncated = true;
		}
		if (!d->bulk_left)
			d->state = RD_BULK_END;
		return;
	}
	if (dir == TCP_DIR_C2S) {
		msg_cut(st, dir, ENTRY_REASON_GAP, ts);
		add_barrier(st);
	} else if (d->in_msg) {
		/* The reply being read is cut (its command's), and whole ones may follow it. */
		uint64_t seen = d->wire;

		msg_cut(st, dir, ENTRY_REASON_GAP, ts);
		reply_lost(st, replies_in(st, seen + missing) - 1, ts);
	} else if (!d->resync) {
		/* At a message boundary: at least one reply was lost; pipelined ones, as many as
		 * the hole held by their average size. */
		reply_lost(st, replies_in(st, missing), ts);
	}
	d->resync = true;
}

static void redis_close(void *vst, struct conn *c, enum conn_end why, uint64_t ts)
{
	struct redis *st = vst;
	enum entry_missing_reason r = conn_end_reason(why);
	struct cmd *x;

	st->c = c;
	if (!st->replication) {
		msg_cut(st, TCP_DIR_S2C, r, ts);
		msg_cut(st, TCP_DIR_C2S, r, ts);
	}
	while ((x = dequeue(st))) {
		if (x->barrier)
			cmd_free(x);
		else if (x->got)
			sub_emit(st, x);
		else
			cmd_emit(st, x, true, r);
	}
}

static void redis_free(void *vst)
{
	struct redis *st = vst;
	struct cmd *x;

	if (!st)
		return;
	while ((x = dequeue(st)))
		cmd_free(x);
	req_reset(&st->q);
	rep_reset(&st->r);
	free(st->d[0].kept.p);
	free(st->d[1].kept.p);
	json_decref(st->tx);
	free(st);
}

/*
 * For the engine's memory budget (dissector.h, mem()). Exact for the structs and the bulk
 * payload buffers; JSON is estimated: twice the string bytes kept (jansson's copy and the
 * object around it) plus REDIS_JSON_VALUE_BYTES per value, and REDIS_CMD_BYTES for each
 * waiting command's entry and fields besides its arguments (pending.weight).
 */
static size_t redis_mem(const void *vst)
{
	const struct redis *st = vst;

	return sizeof(*st) + st->d[0].kept.cap + st->d[1].kept.cap +
	       st->pending.n * REDIS_CMD_BYTES + 2 * st->pending.weight +
	       2 * (st->q.args_bytes + st->q.keys_bytes) +
	       (json_array_size(st->q.args) + json_array_size(st->q.keys)) *
		   REDIS_JSON_VALUE_BYTES +
	       2 * st->r.bytes + st->r.nodes * REDIS_JSON_VALUE_BYTES + st->tx_bytes;
}

/* dissector_redis.counters, in the order of enum redis_counter. */
static const char *const redis_counters[] = {
    "request_errors", "reply_errors",	   "resync_bytes", "empty_inline",
    "evicted",	      "replication_bytes", NULL,
};

const struct dissector dissector_redis = {
    .name = "redis",
    .protocol = "redis", /* its descriptor: lib/core/protocols/redis.c */
    .detect = redis_detect,
    .open = redis_open,
    .parse = redis_parse,
    .gap = redis_gap,
    .close = redis_close,
    .free = redis_free,
    .counters = redis_counters,
    .mem = redis_mem,
};

