// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Longest-prefix match, four ways, for the classifier's address fields.
 *
 * Every program draws one test address from pb_test4/pb_test6 at a random index
 * (bpf_get_prandom_u32() % n), finds its class with one structure, writes index and
 * class to pb_out and returns XDP_DROP. xdp_base4/6 do the same minus the lookup, so
 * "variant - base" is the lookup alone. The driver (bench/Fw.Bench.Prefix) fills the
 * maps and times each program with BPF_PROG_TEST_RUN.
 *
 *   lpm   BPF_MAP_TYPE_LPM_TRIE, one lookup with the full-length key.
 *   hash  one HASH keyed by {length, masked address}; lengths in use probed longest first.
 *   bs    the same HASH plus markers, binary search on lengths (Waldvogel et al.,
 *         SIGCOMM 1997): each entry carries its best matching prefix.
 *   pop   Poptrie (Asai & Ohara, SIGCOMM 2015) in paged ARRAY maps: a 2^16 direct level,
 *         then 64-ary nodes whose children are found by popcount; leaf-pushed; a subtree
 *         holding one prefix is a "tail", checked with one compare. Built by the compiler's
 *         PoptrieBuilder, looked up by the classifier's own bpf/fw_poptrie.h.
 *
 * The /0 class is not in the hash structures: it is pb_default4/6, the class when no
 * length matches. The trie structures hold it like any prefix.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prefix_bench.h"
#include "fw_poptrie.h"

/* Set by the driver before load. */
const volatile __u32 pb_n_test4 = 1;		/* test addresses in pb_test4 */
const volatile __u32 pb_n_test6 = 1;
const volatile __u32 pb_nlens4 = 0;		/* lengths used in pb_lens4 */
const volatile __u32 pb_nlens6 = 0;
const volatile __u8 pb_lens4[PB_MAX_LENS4] = {};	/* distinct lengths > 0, ascending */
const volatile __u8 pb_lens6[PB_MAX_LENS6] = {};
const volatile __u32 pb_default4 = PB_NO_MATCH;	/* class of ::/0 and 0.0.0.0/0 */
const volatile __u32 pb_default6 = PB_NO_MATCH;

/* Test addresses, network byte order; written once by the driver. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PB_MAX_TEST_ADDRS);
	__type(key, __u32);
	__type(value, __be32);
} pb_test4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PB_MAX_TEST_ADDRS);
	__type(key, __u32);
	__type(value, struct pb_addr6);
} pb_test6 SEC(".maps");

/* The last lookup's index and class, per CPU; read by the driver's correctness check. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_out);
} pb_out SEC(".maps");

/* Kernel LPM trie: prefix -> class; written by the driver. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pb_lpm4_key);
	__type(value, __u32);
} pb_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pb_lpm6_key);
	__type(value, __u32);
} pb_lpm6 SEC(".maps");

/* {length, masked address} -> class, prefixes only; written by the driver. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct pb_hash4_key);
	__type(value, __u32);
} pb_hash4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct pb_hash6_key);
	__type(value, __u32);
} pb_hash6 SEC(".maps");

/* {length, masked address} -> best matching prefix's class, prefixes and markers. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct pb_hash4_key);
	__type(value, __u32);
} pb_bs4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct pb_hash6_key);
	__type(value, __u32);
} pb_bs6 SEC(".maps");

/* Poptrie direct level (one element): top 16 address bits -> entry. Written by the driver. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_dir);
} pb_dir4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_dir);
} pb_dir6 SEC(".maps");

/* Poptrie nodes, FW_POP_NODE_PAGE a page; a node's child nodes are contiguous. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_node_page);
} pb_node4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_node_page);
} pb_node6 SEC(".maps");

/* Poptrie leaf entries, FW_POP_LEAF_PAGE a page; runs of equal neighbours stored once. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_leaf_page);
} pb_leaf4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_leaf_page);
} pb_leaf6 SEC(".maps");

/* Poptrie tails: subtrees holding a single prefix, FW_POP_TAIL_PAGE a page. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_tail4_page);
} pb_tail4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_pop_tail6_page);
} pb_tail6 SEC(".maps");

/* ---- helpers shared by every variant ------------------------------------------------ */

/* Picks a random test index; returns its slot in map (NULL only if n exceeds the map). */
static __always_inline void *pick(void *map, __u32 n, __u32 *idx)
{
	*idx = bpf_get_prandom_u32() % n;
	return bpf_map_lookup_elem(map, idx);
}

static __always_inline int finish(__u32 idx, __u32 cls)
{
	__u32 zero = 0;
	struct pb_out *o = bpf_map_lookup_elem(&pb_out, &zero);

	if (o) {
		o->idx1 = idx + 1;
		o->cls = cls;
	}
	return XDP_DROP;
}

static __always_inline void mask6(struct pb_hash6_key *k, __u64 hi, __u64 lo, __u32 len)
{
	k->len = len;
	if (len == 0) {
		k->hi = 0;
		k->lo = 0;
	} else if (len <= 64) {
		k->hi = hi & (~0ull << (64 - len));
		k->lo = 0;
	} else {
		k->hi = hi;
		k->lo = lo & (~0ull << (128 - len));
	}
}

/* ---- IPv4 --------------------------------------------------------------------------- */

SEC("xdp")
int xdp_base4(struct xdp_md *ctx)
{
	__u32 idx;
	__be32 *a = pick(&pb_test4, pb_n_test4, &idx);

	if (!a)
		return XDP_ABORTED;
	return finish(idx, bpf_ntohl(*a));
}

SEC("xdp")
int xdp_lpm4(struct xdp_md *ctx)
{
	struct pb_lpm4_key k = { .prefixlen = 32 };
	__u32 idx, *v;
	__be32 *a = pick(&pb_test4, pb_n_test4, &idx);

	if (!a)
		return XDP_ABORTED;
	__builtin_memcpy(k.addr, a, 4);
	v = bpf_map_lookup_elem(&pb_lpm4, &k);
	return finish(idx, v ? *v : PB_NO_MATCH);
}

SEC("xdp")
int xdp_hash4(struct xdp_md *ctx)
{
	struct pb_hash4_key k = {};
	__u32 idx, addr, cls = pb_default4, i, *v;
	__be32 *a = pick(&pb_test4, pb_n_test4, &idx);

	if (!a)
		return XDP_ABORTED;
	addr = bpf_ntohl(*a);
	for (i = 0; i < PB_MAX_LENS4; i++) {
		if (i >= pb_nlens4)
			break;
		k.len = pb_lens4[(pb_nlens4 - 1 - i) & (PB_MAX_LENS4 - 1)];
		k.addr = fw_pop_mask4(addr, k.len);
		v = bpf_map_lookup_elem(&pb_hash4, &k);
		if (v) {
			cls = *v;
			break;
		}
	}
	return finish(idx, cls);
}

SEC("xdp")
int xdp_bs4(struct xdp_md *ctx)
{
	struct pb_hash4_key k = {};
	__u32 idx, addr, cls = pb_default4, lo = 0, hi = pb_nlens4, mid, i, *v;
	__be32 *a = pick(&pb_test4, pb_n_test4, &idx);

	if (!a)
		return XDP_ABORTED;
	addr = bpf_ntohl(*a);
	/* Half-open [lo, hi) over pb_lens4; the driver placed markers along this very search. */
	for (i = 0; i < PB_BS_STEPS4; i++) {
		if (lo >= hi)
			break;
		mid = (lo + hi) >> 1;
		k.len = pb_lens4[mid & (PB_MAX_LENS4 - 1)];
		k.addr = fw_pop_mask4(addr, k.len);
		v = bpf_map_lookup_elem(&pb_bs4, &k);
		if (v) {
			cls = *v;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return finish(idx, cls);
}

SEC("xdp")
int xdp_pop4(struct xdp_md *ctx)
{
	__u32 idx;
	__be32 *a = pick(&pb_test4, pb_n_test4, &idx);

	if (!a)
		return XDP_ABORTED;
	return finish(idx, fw_pop4_class(&pb_dir4, &pb_node4, &pb_leaf4, &pb_tail4, bpf_ntohl(*a)));
}

/* ---- IPv6 --------------------------------------------------------------------------- */

SEC("xdp")
int xdp_base6(struct xdp_md *ctx)
{
	__u32 idx;
	__u64 hi, lo;
	struct pb_addr6 *a = pick(&pb_test6, pb_n_test6, &idx);

	if (!a)
		return XDP_ABORTED;
	fw_pop_load6(a->addr, &hi, &lo);
	return finish(idx, (__u32)(hi ^ lo));
}

SEC("xdp")
int xdp_lpm6(struct xdp_md *ctx)
{
	struct pb_lpm6_key k = { .prefixlen = 128 };
	__u32 idx, *v;
	struct pb_addr6 *a = pick(&pb_test6, pb_n_test6, &idx);

	if (!a)
		return XDP_ABORTED;
	__builtin_memcpy(k.addr, a->addr, 16);
	v = bpf_map_lookup_elem(&pb_lpm6, &k);
	return finish(idx, v ? *v : PB_NO_MATCH);
}

SEC("xdp")
int xdp_hash6(struct xdp_md *ctx)
{
	struct pb_hash6_key k = {};
	__u32 idx, cls = pb_default6, i, *v;
	__u64 hi, lo;
	struct pb_addr6 *a = pick(&pb_test6, pb_n_test6, &idx);

	if (!a)
		return XDP_ABORTED;
	fw_pop_load6(a->addr, &hi, &lo);
	for (i = 0; i < PB_MAX_LENS6; i++) {
		if (i >= pb_nlens6)
			break;
		mask6(&k, hi, lo, pb_lens6[(pb_nlens6 - 1 - i) & (PB_MAX_LENS6 - 1)]);
		v = bpf_map_lookup_elem(&pb_hash6, &k);
		if (v) {
			cls = *v;
			break;
		}
	}
	return finish(idx, cls);
}

SEC("xdp")
int xdp_bs6(struct xdp_md *ctx)
{
	struct pb_hash6_key k = {};
	__u32 idx, cls = pb_default6, lo = 0, hi = pb_nlens6, mid, i, *v;
	__u64 ahi, alo;
	struct pb_addr6 *a = pick(&pb_test6, pb_n_test6, &idx);

	if (!a)
		return XDP_ABORTED;
	fw_pop_load6(a->addr, &ahi, &alo);
	for (i = 0; i < PB_BS_STEPS6; i++) {
		if (lo >= hi)
			break;
		mid = (lo + hi) >> 1;
		mask6(&k, ahi, alo, pb_lens6[mid & (PB_MAX_LENS6 - 1)]);
		v = bpf_map_lookup_elem(&pb_bs6, &k);
		if (v) {
			cls = *v;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return finish(idx, cls);
}

SEC("xdp")
int xdp_pop6(struct xdp_md *ctx)
{
	__u32 idx;
	__u64 hi, lo;
	struct pb_addr6 *a = pick(&pb_test6, pb_n_test6, &idx);

	if (!a)
		return XDP_ABORTED;
	fw_pop_load6(a->addr, &hi, &lo);
	return finish(idx, fw_pop6_class(&pb_dir6, &pb_node6, &pb_leaf6, &pb_tail6, hi, lo));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
