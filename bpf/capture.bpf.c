// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * capture: TC programs on the host-side veth of each tapped pod.
 *
 * Parses Ethernet / IPv4 / IPv6 (L4 is carried whole in the record), looks both endpoints up
 * in `targets`, and only for targeted packets copies up to snap_len bytes into the ring
 * buffer. Everything else costs a map lookup and a per-CPU counter.
 *
 * A packet between two tapped pods of this host crosses two hooks: the sender's veth
 * (ingress, FROM_POD) and the receiver's veth (egress, TO_POD). It is recorded at the first
 * one only: at egress a packet whose source is a local target was already recorded.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "floe_record.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define TC_ACT_OK 0

/* Set by the loader before load. */
const volatile __u32 snap_len = 65535;
/* Wake the consumer when this many bytes are waiting (0: wake for every record). */
const volatile __u64 wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct floe_addr);
	__type(value, struct floe_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by the loader */
} events SEC(".maps");

/*
 * Staging area for one record, one slot per CPU. A per-CPU array value is capped at 32 KiB,
 * so this is a plain array sized to the number of CPUs by the loader. TC programs on one CPU
 * do not nest (softirq and BH-disabled xmit), so a slot is never shared.
 */
struct record_buf {
	struct floe_pkt_record hdr;
	__u8 data[FLOE_MAX_SNAPLEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs by the loader */
	__type(key, __u32);
	__type(value, struct record_buf);
} scratch SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct floe_target *lookup_v4(__be32 ip)
{
	struct floe_addr key = {};

	key.bytes[10] = 0xff;
	key.bytes[11] = 0xff;
	__builtin_memcpy(&key.bytes[12], &ip, 4);
	return bpf_map_lookup_elem(&targets, &key);
}

static __always_inline struct floe_target *lookup_v6(const struct in6_addr *ip)
{
	struct floe_addr key;

	__builtin_memcpy(key.bytes, ip, 16);
	return bpf_map_lookup_elem(&targets, &key);
}

static __always_inline int capture(struct __sk_buff *skb, __u8 dir)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct floe_target *src, *dst;
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u16 proto;
	__u8 flags = 0;

	count(FLOE_CNT_SEEN);

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return TC_ACT_OK;
		proto = vh->h_vlan_encapsulated_proto;
		off += sizeof(*vh);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end)
			return TC_ACT_OK;
		src = lookup_v4(ip->saddr);
		dst = lookup_v4(ip->daddr);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end)
			return TC_ACT_OK;
		src = lookup_v6(&ip6->saddr);
		dst = lookup_v6(&ip6->daddr);
		flags |= FLOE_REC_IPV6;
	} else {
		return TC_ACT_OK;
	}

	/* Scalars from here on: the verifier does not let map pointers be combined. */
	__u32 src_id = src ? src->target_id : 0;
	__u32 src_flags = src ? src->flags : 0;
	__u32 dst_id = dst ? dst->target_id : 0;

	if (!src_id && !dst_id)
		return TC_ACT_OK;
	if (dir == FLOE_DIR_TO_POD && src_id && (src_flags & FLOE_TARGET_LOCAL)) {
		count(FLOE_CNT_DUPLICATE);
		return TC_ACT_OK;
	}
	count(FLOE_CNT_TARGETED);

	__u32 cpu = bpf_get_smp_processor_id();
	struct record_buf *buf = bpf_map_lookup_elem(&scratch, &cpu);

	if (!buf) {
		count(FLOE_CNT_RINGBUF_FULL);
		return TC_ACT_OK;
	}

	__u32 len = skb->len;
	__u32 cap = len < snap_len ? len : snap_len;

	if (cap == 0)
		return TC_ACT_OK;
	/* Keep the verifier convinced that 1 <= cap <= FLOE_MAX_SNAPLEN (cap is already). */
	cap = ((cap - 1) & (FLOE_MAX_SNAPLEN - 1)) + 1;
	if (bpf_skb_load_bytes(skb, 0, buf->data, cap) < 0) {
		count(FLOE_CNT_RINGBUF_FULL);
		return TC_ACT_OK;
	}

	buf->hdr.ts_ns = bpf_ktime_get_ns();
	buf->hdr.ifindex = skb->ifindex;
	buf->hdr.pkt_len = len;
	buf->hdr.cap_len = cap;
	buf->hdr.src_target = src_id;
	buf->hdr.dst_target = dst_id;
	buf->hdr.dir = dir;
	buf->hdr.flags = flags;
	buf->hdr.reserved = 0;

	/*
	 * No wakeup per record: the agent drains on a short timer, and is woken early only when
	 * the backlog passes wakeup_bytes. A wakeup per packet costs several microseconds.
	 */
	__u64 wake = BPF_RB_NO_WAKEUP;

	if (wakeup_bytes == 0 || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		wake = BPF_RB_FORCE_WAKEUP;

	__u64 size = sizeof(buf->hdr) + cap;

	if (size > sizeof(*buf))
		return TC_ACT_OK;
	if (bpf_ringbuf_output(&events, buf, size, wake) < 0) {
		count(FLOE_CNT_RINGBUF_FULL);
		return TC_ACT_OK;
	}
	count(FLOE_CNT_RECORDED);
	return TC_ACT_OK;
}

SEC("tc")
int floe_tc_ingress(struct __sk_buff *skb)
{
	return capture(skb, FLOE_DIR_FROM_POD);
}

SEC("tc")
int floe_tc_egress(struct __sk_buff *skb)
{
	return capture(skb, FLOE_DIR_TO_POD);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
