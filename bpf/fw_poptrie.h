/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Longest-prefix match in a Poptrie (Asai & Ohara, SIGCOMM 2015) held in the
 * paged ARRAY maps laid out in fw_common.h. Used by fw_classify for its address
 * fields and by the prefix study (bench/prefix/prefix_bench.bpf.c), so the study
 * measures this very code. The compiler builds the tries (src/Fw.Compiler/
 * Poptrie.cs, whose Lookup() is this file in C#).
 *
 * Each lookup takes the four maps of one trie: the direct level (one element),
 * nodes, leaves and tails (pages). It is one direct read, at most FW_POP_DEPTH4
 * (IPv4) or FW_POP_DEPTH6 (IPv6) node steps, after at most one skip compare,
 * then at most one tail compare. Every
 * loop is bounded by those constants and every index is masked to its page or
 * checked by the map lookup; a missing page gives FW_POP_NO_MATCH, which is no
 * class (the caller's class lookup then fails and no rule matches).
 */
#ifndef FW_POPTRIE_H
#define FW_POPTRIE_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fw_common.h"

/* @addr (host order) masked to its first @len bits, 0 <= len <= 32. */
static __always_inline __u32 fw_pop_mask4(__u32 addr, __u32 len)
{
	return len ? addr & (~0u << (32 - len)) : 0;
}

/* The direct-level entry for the top FW_POP_DIRECT_BITS bits @top of an address. */
static __always_inline __u32 fw_pop_direct(void *dir, __u32 top)
{
	__u32 zero = 0;
	const struct fw_pop_dir *d = bpf_map_lookup_elem(dir, &zero);

	return d ? d->e[top & ((1 << FW_POP_DIRECT_BITS) - 1)] : FW_POP_NO_MATCH;
}

/*
 * One node step: for child @c (0..63) of node @idx, the index of the child node
 * or the child's leaf entry. (BPF has no popcount instruction; clang lowers the
 * builtin to shifts and masks.)
 */
static __always_inline __u32 fw_pop_step(void *nodes, void *leaves, __u32 idx, __u32 c)
{
	__u32 page = idx >> FW_POP_NODE_PAGE_SHIFT, at;
	const struct fw_pop_node_page *np = bpf_map_lookup_elem(nodes, &page);
	const struct fw_pop_leaf_page *lp;
	const struct fw_pop_node *n;
	__u64 bit = 1ull << (c & (FW_WORD_BITS - 1));
	__u64 upto = (bit << 1) - 1;	/* bits 0..c; all ones when c = 63 */

	if (!np)
		return FW_POP_NO_MATCH;
	n = &np->n[idx & (FW_POP_NODE_PAGE - 1)];
	if (n->vector & bit)
		return n->base1 + __builtin_popcountll(n->vector & upto) - 1;
	at = n->base0 + __builtin_popcountll(n->leafvec & upto) - 1;
	page = at >> FW_POP_LEAF_PAGE_SHIFT;
	lp = bpf_map_lookup_elem(leaves, &page);
	return lp ? lp->e[at & (FW_POP_LEAF_PAGE - 1)] : FW_POP_NO_MATCH;
}

/* A final entry's class: a leaf's own, or FW_POP_NO_MATCH (a node left after the last step). */
static __always_inline __u32 fw_pop_leaf_class(__u32 e)
{
	return e != FW_POP_NO_MATCH && (e & FW_POP_LEAF) ? e & FW_POP_VALUE : FW_POP_NO_MATCH;
}

/* Tail or skip @i of an IPv4 trie, or NULL. */
static __always_inline const struct fw_pop_tail4 *fw_pop_tail4_at(void *tails, __u32 i)
{
	__u32 page = i >> FW_POP_TAIL_PAGE_SHIFT;
	const struct fw_pop_tail4_page *tp = bpf_map_lookup_elem(tails, &page);

	return tp ? &tp->t[i & (FW_POP_TAIL_PAGE - 1)] : NULL;
}

/* Tail @i of an IPv4 trie: its class if @addr (host order) has its prefix, else the outer class. */
static __always_inline __u32 fw_pop_tail4(void *tails, __u32 i, __u32 addr)
{
	const struct fw_pop_tail4 *t = fw_pop_tail4_at(tails, i);

	if (!t)
		return FW_POP_NO_MATCH;
	return fw_pop_mask4(addr, t->len) == t->addr ? t->cls : t->dflt;
}

/*
 * Class of IPv4 address @addr (host order) in one trie, or FW_POP_NO_MATCH.
 * Only a direct slot can be a skip: checked once before the node steps. (A skip
 * inside the loop makes the offset data on some paths and not on others, and the
 * verifier then explores the loop's paths apart: 6x its instructions.)
 */
static __always_inline __u32 fw_pop4_class(void *dir, void *nodes, void *leaves, void *tails,
					   __u32 addr)
{
	const struct fw_pop_tail4 *t;
	__u32 e, d, off = FW_POP_DIRECT_BITS;

	e = fw_pop_direct(dir, addr >> (32 - FW_POP_DIRECT_BITS));
	if ((e & FW_POP_KIND) == FW_POP_SKIP) {
		t = fw_pop_tail4_at(tails, e & FW_POP_VALUE);
		if (!t)
			return FW_POP_NO_MATCH;
		if (fw_pop_mask4(addr, t->len) != t->addr)
			return t->dflt;
		e = t->cls;
		off = t->len;
	}
	for (d = 0; d < FW_POP_DEPTH4; d++) {
		if (e & FW_POP_LEAF)
			break;
		/* FW_POP_STRIDE bits at offset off; past bit 31 they read as zero. */
		e = fw_pop_step(nodes, leaves, e, (((__u64)addr << 32) << (off & 63)) >> (64 - FW_POP_STRIDE));
		off += FW_POP_STRIDE;
	}
	if (e != FW_POP_NO_MATCH && (e & FW_POP_KIND) == FW_POP_TAIL)
		return fw_pop_tail4(tails, e & FW_POP_VALUE, addr);
	return fw_pop_leaf_class(e);
}

/*
 * FW_POP_STRIDE bits of hi:lo at bit offset @off (0 <= off < 128); bits past 127
 * read as zero. No branch on @off: after a skip it is data, and a branch on it
 * would keep the verifier from pruning the lookup loop's states.
 */
static __always_inline __u32 fw_pop_chunk6(__u64 hi, __u64 lo, __u32 off)
{
	__u64 low = -(__u64)((off >> 6) & 1);	/* all ones when off >= 64 */
	__u64 word = (hi & ~low) | (lo & low), next = lo & ~low;
	__u32 s = off & 63;

	return ((word << s) | ((next >> 1) >> (63 - s))) >> (64 - FW_POP_STRIDE);
}

/* Tail or skip @i of an IPv6 trie, or NULL. */
static __always_inline const struct fw_pop_tail6 *fw_pop_tail6_at(void *tails, __u32 i)
{
	__u32 page = i >> FW_POP_TAIL_PAGE_SHIFT;
	const struct fw_pop_tail6_page *tp = bpf_map_lookup_elem(tails, &page);

	return tp ? &tp->t[i & (FW_POP_TAIL_PAGE - 1)] : NULL;
}

/*
 * Whether hi:lo (host order) has the first t->len bits of tail or skip @t
 * (16 < len <= 128). Branch-free, as fw_pop_chunk6: a skip's len becomes the
 * lookup's offset.
 */
static __always_inline int fw_pop_has6(const struct fw_pop_tail6 *t, __u64 hi, __u64 lo)
{
	__u32 len = t->len;
	__u64 past64 = -(__u64)(((len - 1) >> 6) & 1);	/* all ones when len > 64 */
	__u64 mhi = (~0ull << ((64 - len) & 63)) | past64;
	__u64 mlo = (~0ull << ((128 - len) & 63)) & past64;

	return (((hi & mhi) ^ t->hi) | ((lo & mlo) ^ t->lo)) == 0;
}

/* Tail @i of an IPv6 trie: its class if hi:lo (host order) has its prefix, else the outer class. */
static __always_inline __u32 fw_pop_tail6(void *tails, __u32 i, __u64 hi, __u64 lo)
{
	const struct fw_pop_tail6 *t = fw_pop_tail6_at(tails, i);

	if (!t)
		return FW_POP_NO_MATCH;
	return fw_pop_has6(t, hi, lo) ? t->cls : t->dflt;
}

/* An IPv6 address at @a (16 bytes, network byte order) as host-order halves. */
static __always_inline void fw_pop_load6(const void *a, __u64 *hi, __u64 *lo)
{
	__u64 h, l;

	__builtin_memcpy(&h, a, sizeof(h));
	__builtin_memcpy(&l, (const __u8 *)a + sizeof(h), sizeof(l));
	*hi = bpf_be64_to_cpu(h);
	*lo = bpf_be64_to_cpu(l);
}

/* Class of the IPv6 address hi:lo (host-order halves) in one trie, or FW_POP_NO_MATCH (see fw_pop4_class). */
static __always_inline __u32 fw_pop6_class(void *dir, void *nodes, void *leaves, void *tails,
					   __u64 hi, __u64 lo)
{
	const struct fw_pop_tail6 *t;
	__u32 e, d, off = FW_POP_DIRECT_BITS;

	e = fw_pop_direct(dir, hi >> (64 - FW_POP_DIRECT_BITS));
	if ((e & FW_POP_KIND) == FW_POP_SKIP) {
		t = fw_pop_tail6_at(tails, e & FW_POP_VALUE);
		if (!t)
			return FW_POP_NO_MATCH;
		if (!fw_pop_has6(t, hi, lo))
			return t->dflt;
		e = t->cls;
		off = t->len;
	}
	for (d = 0; d < FW_POP_DEPTH6; d++) {
		if (e & FW_POP_LEAF)
			break;
		e = fw_pop_step(nodes, leaves, e, fw_pop_chunk6(hi, lo, off & 127));
		off += FW_POP_STRIDE;
	}
	if (e != FW_POP_NO_MATCH && (e & FW_POP_KIND) == FW_POP_TAIL)
		return fw_pop_tail6(tails, e & FW_POP_VALUE, hi, lo);
	return fw_pop_leaf_class(e);
}

#endif /* FW_POPTRIE_H */
