// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for net/tcp_reasm.c.
 *
 * Input: byte 0 picks a tiny configuration; then 8-byte records, each one synthetic TCP
 * segment (or a clock/expire/finish operation) on one of four address/port pairs:
 *   b0  bits 0-1 pair, bit 2 sent by the second endpoint, bits 3-7 SYN ACK FIN RST SNAP
 *       (0xff: tcp_reasm_expire at the current time; 0xfe: tcp_reasm_finish)
 *   b1-b2  sequence number, offset from the sender's base (bases sit close to 2^32, so
 *          streams wrap)      b3-b4  acknowledgement number, offset from the peer's base
 *   b5  payload length        b6  bytes cut from its end (with SNAP)
 *   b7  clock advance, in 10 ms
 * Each payload byte is the low byte of its own sequence number, so a copy always carries
 * the same bytes and the delivered stream can be checked: every data() must continue the
 * direction's previous byte values (+1 mod 256), a gap() advancing them by its size.
 *
 * Checked after every call: accounted buffered bytes within both limits, flow records
 * within max_flows, open flows = opened - closed; every user pointer is closed exactly once
 * and never called after. At the end tcp_reasm_finish leaves nothing open or held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "net/packet.h"
#include "net/tcp_reasm.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_OPS   4096
#define MAX_USERS (MAX_OPS + 8)

struct user {
	bool open;
	bool known[2];
	uint8_t next[2];
};

struct fz {
	struct user users[MAX_USERS];
	unsigned nusers;
	uint64_t closed;
};

static void *cb_open(void *ctx, const struct tcp_flow_info *info)
{
	struct fz *z = ctx;
	struct user *u;

	CHECK(z->nusers < MAX_USERS);
	CHECK(info->id == z->nusers + 1);
	u = &z->users[z->nusers++];
	memset(u, 0, sizeof(*u));
	u->open = true;
	return u;
}

static void cb_data(void *ctx, void *user, enum tcp_dir dir, const uint8_t *b, uint32_t len,
		    uint64_t ts)
{
	struct user *u = user;

	CHECK(u->open && (dir == TCP_DIR_C2S || dir == TCP_DIR_S2C) && len > 0);
	if (u->known[dir])
		CHECK(b[0] == u->next[dir]);
	for (uint32_t i = 1; i < len; i++)
		CHECK(b[i] == (uint8_t)(b[i - 1] + 1));
	u->known[dir] = true;
	u->next[dir] = (uint8_t)(b[len - 1] + 1);
}

static void cb_gap(void *ctx, void *user, enum tcp_dir dir, uint32_t missing,
		   enum tcp_gap_cause cause, uint64_t ts)
{
	struct user *u = user;

	CHECK(u->open && missing > 0 && (unsigned)cause < TCP_GAP__COUNT);
	u->next[dir] = (uint8_t)(u->next[dir] + missing);
}

static void cb_close(void *ctx, void *user, enum tcp_close_reason reason, uint64_t ts)
{
	struct fz *z = ctx;
	struct user *u = user;

	CHECK(u->open && (unsigned)reason < TCP_CLOSE__COUNT);
	u->open = false;
	z->closed++;
}

static void check(struct tcp_reasm *r, const struct tcp_reasm_config *cfg, const struct fz *z)
{
	struct tcp_reasm_stats st;
	uint64_t closed = 0;

	tcp_reasm_get_stats(r, &st);
	CHECK(st.buffered_bytes <= cfg->max_total_buffered_bytes);
	CHECK(st.buffered_bytes_peak <= cfg->max_total_buffered_bytes);
	CHECK(st.buffered_dir_peak <= cfg->max_buffered_bytes_per_direction);
	CHECK(st.flows_active + st.flows_time_wait <= cfg->max_flows);
	for (int i = 0; i < TCP_CLOSE__COUNT; i++)
		closed += st.flows_closed[i];
	CHECK(closed == z->closed);
	CHECK(st.flows_opened == z->nusers);
	CHECK(st.flows_active == st.flows_opened - closed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z; /* large; reset below for every input */
	struct tcp_reasm_callbacks cb = {cb_open, cb_data, cb_gap, cb_close, NULL};
	struct tcp_reasm_config cfg = {0};
	struct tcp_reasm *r;
	uint8_t payload[256];
	uint64_t now = 1000000000ull;
	size_t nops;

	if (size < 1)
		return 0;
	memset(&z, 0, sizeof(z));
	cfg.max_flows = 1 + (data[0] & 3);
	cfg.max_buffered_bytes_per_direction = (data[0] & 4) ? 300 : 1000;
	cfg.max_total_buffered_bytes = (data[0] & 8) ? 500 : 1500;
	cfg.idle_timeout_ns = (data[0] & 16) ? 1000000000ull : 100000000ull;
	cfg.time_wait_ns = 500000000ull;
	cfg.expire_on_packets = data[0] & 32;
	cfg.hash_seed = data[0];
	if (tcp_reasm_create(&cfg, &cb, &z, &r) != 0)
		return 0;
	data++;
	size--;
	nops = size / 8;
	if (nops > MAX_OPS)
		nops = MAX_OPS;
	for (size_t i = 0; i < nops; i++) {
		const uint8_t *o = data + 8 * i;
		struct packet p;
		unsigned pair = o[0] & 3, from = (o[0] >> 2) & 1;
		uint32_t base[2], len = o[5];
		uint16_t port[2];

		now += (uint64_t)o[7] * 10000000ull;
		if (o[0] == 0xff) {
			tcp_reasm_expire(r, now);
			check(r, &cfg, &z);
			continue;
		}
		if (o[0] == 0xfe) {
			tcp_reasm_finish(r);
			check(r, &cfg, &z);
			continue;
		}
		base[0] = 0xffff8000u + pair * 0x1000u;
		base[1] = 0x7fffc000u - pair * 0x1000u;
		port[0] = (uint16_t)(40000 + pair);
		port[1] = pair == 3 ? port[0] : 80; /* pair 3: equal ports */
		memset(&p, 0, sizeof(p));
		p.ts_ns = now;
		p.family = pair == 2 ? AF_INET6 : AF_INET;
		p.l4_proto = IPPROTO_TCP;
		p.flags = PACKET_F_L4;
		p.src[0] = (uint8_t)(1 + from);
		p.dst[0] = (uint8_t)(2 - from);
		p.src[1] = p.dst[1] = (uint8_t)pair;
		p.sport = port[from];
		p.dport = port[from ^ 1];
		p.seq = base[from] + (uint32_t)(o[1] | o[2] << 8);
		p.ack = base[from ^ 1] + (uint32_t)(o[3] | o[4] << 8);
		p.tcp_flags = (uint8_t)(((o[0] & 0x08) ? TCP_F_SYN : 0) |
					((o[0] & 0x10) ? TCP_F_ACK : 0) |
					((o[0] & 0x20) ? TCP_F_FIN : 0) |
					((o[0] & 0x40) ? TCP_F_RST : 0));
		{
			uint32_t dseq = p.seq + ((p.tcp_flags & TCP_F_SYN) ? 1u : 0u);

			for (uint32_t k = 0; k < len; k++)
				payload[k] = (uint8_t)(dseq + k);
		}
		p.payload = payload;
		p.payload_wirelen = len;
		p.payload_caplen = len;
		if ((o[0] & 0x80) && o[6] <= len)
			p.payload_caplen = len - o[6];
		tcp_reasm_packet(r, &p);
		check(r, &cfg, &z);
	}
	tcp_reasm_finish(r);
	check(r, &cfg, &z);
	{
		struct tcp_reasm_stats st;

		tcp_reasm_get_stats(r, &st);
		CHECK(st.flows_active == 0 && st.flows_time_wait == 0 && st.buffered_bytes == 0);
		for (unsigned k = 0; k < z.nusers; k++)
			CHECK(!z.users[k].open);
	}
	tcp_reasm_destroy(r);
	return 0;
}
