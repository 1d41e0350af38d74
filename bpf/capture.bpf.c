// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * capture: TC programs on the host-side veth of each tapped pod.
 *
 * Parses Ethernet (up to two VLAN tags) / IPv4 / IPv6 (L4 is carried whole in the record),
 * looks both endpoints up in `targets`, and only for targeted packets copies up to snap_len
 * bytes into the ring buffer. Everything else costs a map lookup and a per-CPU counter.
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
/*
 * What every path returns: "no verdict, go on to the next filter". floe only looks at
 * packets; TC_ACT_OK (0) would end classification at floe's filter, and a filter ranked after
 * it (a policer, another tool's counter) would never see them.
 */
#define TC_ACT_UNSPEC (-1)

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

/* The capture scope (floe_record.h): values to term bits, and the clauses. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct floe_scope_key);
	__type(value, __u32);
} scope_values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct floe_scope_config);
} scope_config SEC(".maps");

/* Flows' verdicts under the scope (floe_record.h, struct floe_scope_flow): the least recently
 * used go first. 16384 flows, about 1.5 MiB of kernel memory. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct floe_scope_flow);
	__type(value, struct floe_scope_verdict);
} scope_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * When this CPU last forced a wakeup of the consumer (ns, bpf_ktime_get_ns). While the backlog
 * stays above wakeup_bytes, every submit would otherwise force one: each is an irq_work
 * self-IPI (in a guest an APIC write that exits to the host), thousands a second exactly when
 * the consumer is already awake and behind (waiting for its store's writer). The consumer drains
 * on a timer of at most a few milliseconds anyway; the wakeup only brings that drain forward.
 * FLOE_WAKE_GAP_NS (floe_record.h) is the least gap between two.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_wake SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by the loader */
} events SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

static __always_inline void addr_v4(struct floe_addr *key, __be32 ip)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->bytes[10] = 0xff;
	key->bytes[11] = 0xff;
	__builtin_memcpy(&key->bytes[12], &ip, 4);
}

/* The term bits a value satisfies (0: none). */
static __always_inline __u32 scope_bits(__u32 kind, const void *value, __u32 size, int *found)
{
	struct floe_scope_key key = {.kind = kind};
	__u32 *bits;

	__builtin_memcpy(key.value, value, size);
	bits = bpf_map_lookup_elem(&scope_values, &key);
	if (found)
		*found = bits != 0;
	return bits ? *bits : 0;
}

/*
 * Does the capture scope hold for the packet? ports are the L4 header's two, when has_ports
 * (else the packet has none that can be read).
 */
static __always_inline int in_scope(const struct floe_scope_config *cfg,
				    const struct floe_addr *saddr, const struct floe_addr *daddr,
				    const __be16 ports[2], int has_ports)
{
	__u32 have = 0;
	int found;

	have |= scope_bits(FLOE_SCOPE_ADDR, saddr, 16, 0);
	have |= scope_bits(FLOE_SCOPE_ADDR, daddr, 16, 0);
	if (has_ports) {
		have |= scope_bits(FLOE_SCOPE_PORT, &ports[0], 2, 0);
		have |= scope_bits(FLOE_SCOPE_PORT, &ports[1], 2, 0);
	} else {
		have |= cfg->port_terms;
	}
	have |= scope_bits(FLOE_SCOPE_POD, saddr, 16, &found);
	if (!found)
		have |= cfg->pod_terms;
	have |= scope_bits(FLOE_SCOPE_POD, daddr, 16, &found);
	if (!found)
		have |= cfg->pod_terms;
	for (__u32 i = 0; i < FLOE_SCOPE_CLAUSES_MAX; i++) {
		__u32 need = cfg->clauses[i];

		if (i < cfg->nclauses && (have & need) == need)
			return 1;
	}
	return 0;
}

/* Is endpoint (a, pa) before (b, pb)? Any fixed order gives both directions of a flow one key:
 * the address as two 64-bit words, then the port, each as the machine reads it. */
static __always_inline int endpoint_before(const struct floe_addr *a, __be16 pa,
					   const struct floe_addr *b, __be16 pb)
{
	__u64 x[2], y[2];

	__builtin_memcpy(x, a->bytes, 16);
	__builtin_memcpy(y, b->bytes, 16);
	if (x[0] != y[0])
		return x[0] < y[0];
	if (x[1] != y[1])
		return x[1] < y[1];
	return pa <= pb;
}

/*
 * The scope's verdict on the packet: the flow's cached one when it was made under the current
 * generation, else worked out (in_scope) and cached. The generation is read before the maps
 * in_scope reads: a verdict made from maps that change meanwhile carries the generation from
 * before the change, which userspace bumps after it, so it is never used.
 */
static __always_inline int scope_verdict(const struct floe_scope_config *cfg,
					 const struct floe_addr *saddr,
					 const struct floe_addr *daddr, const __be16 ports[2],
					 int has_ports, __u8 proto)
{
	__u32 gen = *(volatile const __u32 *)&cfg->generation;
	struct floe_scope_flow key;
	struct floe_scope_verdict *v, nv;
	int lo_first = endpoint_before(saddr, ports[0], daddr, ports[1]);

	__builtin_memcpy(key.addr_lo, lo_first ? saddr->bytes : daddr->bytes, 16);
	__builtin_memcpy(key.addr_hi, lo_first ? daddr->bytes : saddr->bytes, 16);
	key.port_lo = lo_first ? ports[0] : ports[1];
	key.port_hi = lo_first ? ports[1] : ports[0];
	key.proto = proto;
	key.has_ports = has_ports ? 1 : 0;
	key.reserved = 0;
	v = bpf_map_lookup_elem(&scope_cache, &key);
	if (v && v->generation == gen)
		return v->in_scope;
	nv.generation = gen;
	nv.in_scope = in_scope(cfg, saddr, daddr, ports, has_ports);
	bpf_map_update_elem(&scope_cache, &key, &nv, BPF_ANY);
	return nv.in_scope;
}

/*
 * If cap fits the size class, reserve a record of that class and copy the packet into it.
 * Returns 1 when the class was the one (then *rec is the record, or NULL if the ring is full
 * or the copy failed), 0 to try the next class.
 */
static __always_inline int try_class(struct __sk_buff *skb, __u32 cap, const __u32 class_size,
				     struct floe_pkt_record **rec)
{
	struct floe_pkt_record *r;

	if (cap > class_size)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r) + class_size, 0);
	if (!r)
		return 1;
	/*
	 * A 64-bit length and two checks kept apart, so that both bounds land on the very
	 * register passed to the helper (a 32-bit one gets checked in a zero-extended copy).
	 */
	__u64 n = cap;

	barrier_var(n);
	if (n > class_size)
		goto discard;
	barrier_var(n);
	if (n < 1)
		goto discard;
	if (bpf_skb_load_bytes(skb, 0, r + 1, n) < 0) {
discard:
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		return 1;
	}
	r->hdr.type = FLOE_RECORD_PACKET;
	r->hdr.size = sizeof(*r) + class_size;
	*rec = r;
	return 1;
}

static __always_inline int capture(struct __sk_buff *skb, __u8 dir)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct floe_target *src, *dst;
	struct floe_addr saddr, daddr;
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth), ports_off = 0;
	__u16 proto;
	__u8 flags = 0, l4 = 0;

	count(FLOE_CNT_SEEN);

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_UNSPEC;
	proto = eth->h_proto;
	/*
	 * Tags still in the frame (not taken out into skb->vlan_tci): an 802.1ad outer tag and
	 * an 802.1Q inner one at most, as a QinQ frame has.
	 */
	if (proto == bpf_htons(ETH_P_8021AD) || proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = data + off;

		if ((void *)(vh + 1) > data_end)
			return TC_ACT_UNSPEC;
		proto = vh->h_vlan_encapsulated_proto;
		off += sizeof(*vh);
	}
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = data + off;

		if ((void *)(vh + 1) > data_end)
			return TC_ACT_UNSPEC;
		proto = vh->h_vlan_encapsulated_proto;
		off += sizeof(*vh);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end)
			return TC_ACT_UNSPEC;
		addr_v4(&saddr, ip->saddr);
		addr_v4(&daddr, ip->daddr);
		l4 = ip->protocol;
		/* Ports in the first fragment only (offset 0), after the header's ihl words. */
		if ((ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP ||
		     ip->protocol == IPPROTO_SCTP) &&
		    !(ip->frag_off & bpf_htons(0x1fff)) && ip->ihl >= 5)
			ports_off = off + ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(saddr.bytes, &ip6->saddr, 16);
		__builtin_memcpy(daddr.bytes, &ip6->daddr, 16);
		l4 = ip6->nexthdr;
		/* Ports only right after the fixed header: extension headers are not walked. */
		if (ip6->nexthdr == IPPROTO_TCP || ip6->nexthdr == IPPROTO_UDP ||
		    ip6->nexthdr == IPPROTO_SCTP)
			ports_off = off + sizeof(*ip6);
		flags |= FLOE_REC_IPV6;
	} else {
		return TC_ACT_UNSPEC;
	}
	src = bpf_map_lookup_elem(&targets, &saddr);
	dst = bpf_map_lookup_elem(&targets, &daddr);

	/* Scalars from here on: the verifier does not let map pointers be combined. */
	__u32 src_id = src ? src->target_id : 0;
	__u32 src_flags = src ? src->flags : 0;
	__u32 dst_id = dst ? dst->target_id : 0;

	if (!src_id && !dst_id)
		return TC_ACT_UNSPEC;
	if (dir == FLOE_DIR_TO_POD && src_id && (src_flags & FLOE_TARGET_LOCAL)) {
		count(FLOE_CNT_DUPLICATE);
		return TC_ACT_UNSPEC;
	}
	count(FLOE_CNT_TARGETED);

	/* The capture scope: a packet no clause holds for cannot belong to a matching entry. */
	__u32 zero = 0;
	struct floe_scope_config *scope = bpf_map_lookup_elem(&scope_config, &zero);

	if (scope && scope->enabled) {
		/* zero when there are none: the helper zeroes them itself when it fails */
		__be16 ports[2] = {0, 0};
		int has_ports =
		    ports_off && bpf_skb_load_bytes(skb, ports_off, ports, sizeof(ports)) == 0;

		if (!scope_verdict(scope, &saddr, &daddr, ports, has_ports, l4)) {
			count(FLOE_CNT_OUT_OF_SCOPE);
			return TC_ACT_UNSPEC;
		}
	}

	__u32 len = skb->len;
	__u32 cap = len < snap_len ? len : snap_len;
	struct floe_pkt_record *rec = NULL;

	/*
	 * One copy, straight into the ring: bpf_ringbuf_reserve() needs a constant size, so the
	 * record is reserved in the smallest size class that holds cap bytes (the classes keep
	 * MTU-sized frames, the common case, within a few percent of their size). cap_len says
	 * how much of the class is packet; the consumer ignores the rest.
	 */
	barrier_var(cap);
	if (cap == 0 || cap > FLOE_MAX_SNAPLEN)
		return TC_ACT_UNSPEC;
	/* barrier_var (bpf_helpers.h) keeps the compiler from folding checks the verifier needs. */
	if (!(try_class(skb, cap, 128, &rec) || try_class(skb, cap, 256, &rec) ||
	      try_class(skb, cap, 512, &rec) || try_class(skb, cap, 1024, &rec) ||
	      try_class(skb, cap, 1536, &rec) || try_class(skb, cap, 4096, &rec) ||
	      try_class(skb, cap, 9216, &rec) || try_class(skb, cap, 16384, &rec) ||
	      try_class(skb, cap, 32768, &rec)))
		try_class(skb, cap, FLOE_MAX_SNAPLEN, &rec);
	if (!rec) {
		/* The ring had no room for the record (a failed copy lands here too). */
		count(FLOE_CNT_RINGBUF_FULL);
		return TC_ACT_UNSPEC;
	}

	rec->hdr.ts_ns = bpf_ktime_get_ns();
	rec->ifindex = skb->ifindex;
	rec->pkt_len = len;
	rec->cap_len = cap;
	rec->src_target = src_id;
	rec->dst_target = dst_id;
	rec->dir = dir;
	rec->flags = flags;
	rec->reserved = 0;

	/*
	 * No wakeup per record: the agent drains on a short timer, and is woken early only when
	 * the backlog passes wakeup_bytes. A wakeup per packet costs several microseconds.
	 */
	__u64 wake = BPF_RB_NO_WAKEUP;

	if (wakeup_bytes == 0) {
		wake = BPF_RB_FORCE_WAKEUP;
	} else if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes) {
		__u32 zero = 0;
		__u64 *last = bpf_map_lookup_elem(&last_wake, &zero);
		__u64 now = rec->hdr.ts_ns;

		/* At most one forced wakeup per FLOE_WAKE_GAP_NS from this CPU (above). */
		if (!last || now - *last >= FLOE_WAKE_GAP_NS) {
			wake = BPF_RB_FORCE_WAKEUP;
			if (last)
				*last = now;
		}
	}
	bpf_ringbuf_submit(rec, wake);
	count(FLOE_CNT_RECORDED);
	return TC_ACT_UNSPEC;
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
