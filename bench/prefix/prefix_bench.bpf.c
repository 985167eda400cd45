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
 *         then 64-ary nodes whose children are found by popcount; leaf-pushed by the driver;
 *         a subtree holding one prefix is a "tail", checked with one compare.
 *
 * The /0 class is not in the hash structures: it is pb_default4/6, the class when no
 * length matches. The trie structures hold it like any prefix.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "prefix_bench.h"

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
	__type(value, struct pb_dir);
} pb_dir4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_dir);
} pb_dir6 SEC(".maps");

/* Poptrie nodes, PB_NODE_PAGE a page; a node's child nodes are contiguous. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_node_page);
} pb_node4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_node_page);
} pb_node6 SEC(".maps");

/* Poptrie leaf entries, PB_LEAF_PAGE a page; runs of equal neighbours stored once. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_leaf_page);
} pb_leaf4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_leaf_page);
} pb_leaf6 SEC(".maps");

/* Poptrie tails: subtrees holding a single prefix, PB_TAIL_PAGE a page. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_tail4_page);
} pb_tail4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pb_tail6_page);
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

/* An IPv6 address (network byte order) as two host-order halves. */
static __always_inline void load6(const struct pb_addr6 *a, __u64 *hi, __u64 *lo)
{
	__u64 h, l;

	__builtin_memcpy(&h, &a->addr[0], 8);
	__builtin_memcpy(&l, &a->addr[8], 8);
	*hi = bpf_be64_to_cpu(h);
	*lo = bpf_be64_to_cpu(l);
}

/* addr (host order) masked to its first len bits, 0 <= len <= 32. */
static __always_inline __u32 mask4(__u32 addr, __u32 len)
{
	return len ? addr & (~0u << (32 - len)) : 0;
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

/* Set bits of x; BPF has no popcount instruction (SWAR, as LLVM would expand it). */
static __always_inline __u32 popcnt64(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (x * 0x0101010101010101ull) >> 56;
}

/*
 * One Poptrie node step: the entry of child c of node idx, or the index of that child
 * node. PB_NO_MATCH if a page is missing (never, when the driver is right).
 */
static __always_inline __u32 pop_step(void *nodes, void *leaves, __u32 idx, __u32 c)
{
	__u32 page = idx >> PB_NODE_PAGE_SHIFT, at;
	struct pb_node_page *np = bpf_map_lookup_elem(nodes, &page);
	struct pb_leaf_page *lp;
	struct pb_node *n;
	__u64 bit = 1ull << c, upto = (bit << 1) - 1;	/* bits 0..c; all ones when c = 63 */

	if (!np)
		return PB_NO_MATCH;
	n = &np->n[idx & (PB_NODE_PAGE - 1)];
	if (n->vector & bit)
		return n->base1 + popcnt64(n->vector & upto) - 1;
	at = n->base0 + popcnt64(n->leafvec & upto) - 1;
	page = at >> PB_LEAF_PAGE_SHIFT;
	lp = bpf_map_lookup_elem(leaves, &page);
	return lp ? lp->e[at & (PB_LEAF_PAGE - 1)] : PB_NO_MATCH;
}

/* The direct-level entry for the top 16 address bits. */
static __always_inline __u32 pop_direct(void *dir, __u32 top)
{
	__u32 zero = 0;
	struct pb_dir *d = bpf_map_lookup_elem(dir, &zero);

	return d ? d->e[top & ((1 << PB_DIRECT_BITS) - 1)] : PB_NO_MATCH;
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
		k.addr = mask4(addr, k.len);
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
		k.addr = mask4(addr, k.len);
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

/* Tail i: its class if addr has the tail's prefix, else the class around it. */
static __always_inline __u32 tail4(__u32 i, __u32 addr)
{
	__u32 page = i >> PB_TAIL_PAGE_SHIFT;
	struct pb_tail4_page *tp = bpf_map_lookup_elem(&pb_tail4, &page);
	struct pb_tail4 *t;

	if (!tp)
		return PB_NO_MATCH;
	t = &tp->t[i & (PB_TAIL_PAGE - 1)];
	return mask4(addr, t->len) == t->addr ? t->cls : t->dflt;
}

SEC("xdp")
int xdp_pop4(struct xdp_md *ctx)
{
	__u32 idx, addr, e, d, cls;
	__be32 *a = pick(&pb_test4, pb_n_test4, &idx);

	if (!a)
		return XDP_ABORTED;
	addr = bpf_ntohl(*a);
	e = pop_direct(&pb_dir4, addr >> (32 - PB_DIRECT_BITS));
	for (d = 0; d < PB_DEPTH4; d++) {
		if (e & PB_LEAF)
			break;
		/* Six bits at offset 16 + 6d; past bit 31 they read as zero. */
		e = pop_step(&pb_node4, &pb_leaf4, e,
			     (((__u64)addr << 32) << (PB_DIRECT_BITS + PB_STRIDE * d)) >> (64 - PB_STRIDE));
	}
	if ((e & PB_KIND) == PB_TAIL)
		cls = tail4(e & PB_VALUE, addr);
	else
		cls = e & PB_LEAF ? e & PB_VALUE : PB_NO_MATCH;
	return finish(idx, cls);
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
	load6(a, &hi, &lo);
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
	load6(a, &hi, &lo);
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
	load6(a, &ahi, &alo);
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

/* Six bits of hi:lo at bit offset off (16 <= off <= 124); bits past 127 read as zero. */
static __always_inline __u32 chunk6(__u64 hi, __u64 lo, __u32 off)
{
	__u64 v;

	if (off < 64)
		v = (hi << off) | (lo >> (64 - off));	/* off >= 16: the shift stays below 64 */
	else
		v = lo << (off - 64);
	return v >> (64 - PB_STRIDE);
}

static __always_inline __u32 tail6(__u32 i, __u64 hi, __u64 lo)
{
	__u32 page = i >> PB_TAIL_PAGE_SHIFT;
	struct pb_tail6_page *tp = bpf_map_lookup_elem(&pb_tail6, &page);
	struct pb_hash6_key k;
	struct pb_tail6 *t;

	if (!tp)
		return PB_NO_MATCH;
	t = &tp->t[i & (PB_TAIL_PAGE - 1)];
	mask6(&k, hi, lo, t->len);
	return k.hi == t->hi && k.lo == t->lo ? t->cls : t->dflt;
}

SEC("xdp")
int xdp_pop6(struct xdp_md *ctx)
{
	__u32 idx, e, d, cls;
	__u64 hi, lo;
	struct pb_addr6 *a = pick(&pb_test6, pb_n_test6, &idx);

	if (!a)
		return XDP_ABORTED;
	load6(a, &hi, &lo);
	e = pop_direct(&pb_dir6, hi >> (64 - PB_DIRECT_BITS));
	for (d = 0; d < PB_DEPTH6; d++) {
		if (e & PB_LEAF)
			break;
		e = pop_step(&pb_node6, &pb_leaf6, e, chunk6(hi, lo, PB_DIRECT_BITS + PB_STRIDE * d));
	}
	if ((e & PB_KIND) == PB_TAIL)
		cls = tail6(e & PB_VALUE, hi, lo);
	else
		cls = e & PB_LEAF ? e & PB_VALUE : PB_NO_MATCH;
	return finish(idx, cls);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
