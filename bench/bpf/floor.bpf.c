// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor: the least a classifier can do. It parses Ethernet (no VLAN), IPv4
 * or IPv6 (the fixed header only: no extension headers) and the TCP or UDP
 * ports, looks the destination port up in an array of 65,536 verdicts, counts
 * the verdict in a per-CPU counter and returns it. The throughput benchmark
 * measures it beside bare XDP_DROP (xdp_drop.bpf.c): what any classifier adds
 * at least; fw's added cost is read against it.
 *
 * floor_steps (set before load) cuts it short, to see what each step costs
 * under real traffic: 1 reads the EtherType and drops (the frame's first
 * touch), 2 parses and drops, 3 adds the port lookup, 4 (the default) is the
 * whole floor.
 *
 * Parsing in the style of xdp-tools' parsing_helpers.h: a cursor, one helper a
 * header, each checking its header is wholly in the frame before reading it and
 * returning the next protocol or -1 (unparsable).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define FLOOR_PORTS 65536

/* How much of the floor runs (see above): 1 touch, 2 parse, 3 parse + lookup, 4 all. */
const volatile __u32 floor_steps = 4;

/* A verdict array entry; zero (nothing written) is drop. */
enum floor_verdict {
	FLOOR_DROP = 0,
	FLOOR_PASS = 1,
};

/* The counter's slots: one a verdict, and frames not parsed (non-IP, not TCP or UDP, cut short). */
enum floor_slot {
	FLOOR_SLOT_DROP = FLOOR_DROP,
	FLOOR_SLOT_PASS = FLOOR_PASS,
	FLOOR_SLOT_UNPARSED,
	FLOOR_SLOTS,
};

/* Parsing position: the first byte not yet parsed, and ctx->data_end. */
struct floor_cursor {
	void *pos;
	void *end;
};

/* The verdict of each destination port (host order index); nobody writes it: every port drops. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLOOR_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} floor_verdicts SEC(".maps");

/* Frames a slot (enum floor_slot), per CPU; written here, read by the benchmark (FloorSut). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOOR_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} floor_counts SEC(".maps");

/* Ethernet II: returns the EtherType in host order, or -1. */
static __always_inline int parse_eth(struct floor_cursor *c)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	return bpf_ntohs(eth->h_proto);
}

/* IPv4, options skipped by ihl: returns the protocol, or -1. */
static __always_inline int parse_ipv4(struct floor_cursor *c)
{
	struct iphdr *ip = c->pos;

	if ((void *)(ip + 1) > c->end || ip->ihl < 5)
		return -1;
	if (c->pos + ip->ihl * 4 > c->end)
		return -1;
	c->pos += ip->ihl * 4;
	return ip->protocol;
}

/* IPv6, the fixed header only: returns its next header, or -1. */
static __always_inline int parse_ipv6(struct floor_cursor *c)
{
	struct ipv6hdr *ip6 = c->pos;

	if ((void *)(ip6 + 1) > c->end)
		return -1;
	c->pos = ip6 + 1;
	return ip6->nexthdr;
}

/* TCP or UDP: returns the destination port in host order, or -1. */
static __always_inline int parse_dport(struct floor_cursor *c, int proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = c->pos;

		if ((void *)(tcp + 1) > c->end)
			return -1;
		return bpf_ntohs(tcp->dest);
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = c->pos;

		if ((void *)(udp + 1) > c->end)
			return -1;
		return bpf_ntohs(udp->dest);
	}
	return -1;
}

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&floor_counts, &slot);

	if (n)
		*n += 1;
}

SEC("xdp")
int xdp_floor(struct xdp_md *ctx)
{
	struct floor_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	int proto, port;
	__u32 key, *verdict;

	proto = parse_eth(&c);
	if (floor_steps <= 1) {
		asm volatile("" : : "r"(proto));	/* the EtherType read and kept */
		return XDP_DROP;
	}
	if (proto == ETH_P_IP)
		proto = parse_ipv4(&c);
	else if (proto == ETH_P_IPV6)
		proto = parse_ipv6(&c);
	else
		proto = -1;
	port = proto < 0 ? -1 : parse_dport(&c, proto);
	if (port < 0) {
		count(FLOOR_SLOT_UNPARSED);
		return XDP_DROP;
	}

	if (floor_steps <= 2) {
		asm volatile("" : : "r"(port));	/* the parse kept */
		return XDP_DROP;
	}
	key = port;
	verdict = bpf_map_lookup_elem(&floor_verdicts, &key);
	if (floor_steps <= 3) {
		if (verdict)
			asm volatile("" : : "r"(*verdict));	/* the lookup kept */
		return XDP_DROP;
	}
	if (verdict && *verdict == FLOOR_PASS) {
		count(FLOOR_SLOT_PASS);
		return XDP_PASS;
	}
	count(FLOOR_SLOT_DROP);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
