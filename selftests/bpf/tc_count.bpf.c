// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tc_count: another tool's TC filter, for test_tc_chain.sh. Put on a veth at a priority after
 * floe's, it counts the IPv4 ICMP packets that reach it (the array's one slot) and, like
 * floe, returns "no verdict". Were floe's program to end the classification, it would count
 * nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_UNSPEC (-1)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} icmp_seen SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 key = 0;
	__u64 *n;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(0x0800) ||
	    ip->protocol != IPPROTO_ICMP)
		return TC_ACT_UNSPEC;
	n = bpf_map_lookup_elem(&icmp_seen, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
