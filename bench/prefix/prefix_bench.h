/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared by prefix_bench.bpf.c and its driver (bench/Fw.Bench.Prefix mirrors every
 * struct here in Structs.cs). Fixed-width types only, explicit padding, a size assertion
 * on every struct.
 *
 * Addresses: the test arrays hold them in network byte order, as a packet does; every
 * variant converts what it needs. Hash keys and trie chunks work on host-order integers.
 */
#ifndef PREFIX_BENCH_H
#define PREFIX_BENCH_H

#include <linux/types.h>

#define PB_MAX_TEST_ADDRS	65536	/* test address slots per family */
#define PB_MAX_LENS4		32	/* prefix lengths 1..32 (the /0 class is pb_default4) */
#define PB_MAX_LENS6		128	/* prefix lengths 1..128 */
#define PB_BS_STEPS4		6	/* binary search over <= 32 lengths: ceil(log2(33)) */
#define PB_BS_STEPS6		8	/* binary search over <= 128 lengths: ceil(log2(129)) */

/*
 * Poptrie: a 2^16-entry direct level, then nodes of 64 children (6 address bits each). An
 * entry (direct slot, leaf) is a node index (bit 31 clear), a class (PB_LEAF | class), or
 * a tail (PB_TAIL | index): a subtree holding a single prefix, checked by one compare.
 */
#define PB_DIRECT_BITS		16
#define PB_STRIDE		6
#define PB_DEPTH4		3	/* ceil((32 - 16) / 6): offsets 16, 22, 28 */
#define PB_DEPTH6		19	/* ceil((128 - 16) / 6): offsets 16 .. 124 */
#define PB_LEAF			0x80000000u
#define PB_TAIL			0xc0000000u
#define PB_KIND			0xc0000000u	/* the two bits that say what an entry is */
#define PB_VALUE		0x3fffffffu	/* class or tail index */
#define PB_NO_MATCH		0xffffffffu	/* never a class: a failed lookup */

/*
 * Poptrie arrays are paged: one ARRAY element holds many nodes, leaves or tails, so user
 * space writes a 1M-prefix structure in a few hundred large elements, not millions.
 */
#define PB_NODE_PAGE_SHIFT	12	/* 4096 nodes, 96 KiB a page */
#define PB_LEAF_PAGE_SHIFT	14	/* 16384 entries, 64 KiB */
#define PB_TAIL_PAGE_SHIFT	11	/* 2048 tails, 32 or 64 KiB */
#define PB_NODE_PAGE		(1 << PB_NODE_PAGE_SHIFT)
#define PB_LEAF_PAGE		(1 << PB_LEAF_PAGE_SHIFT)
#define PB_TAIL_PAGE		(1 << PB_TAIL_PAGE_SHIFT)

/* pb_lpm4 key (BPF_MAP_TYPE_LPM_TRIE): address in network byte order. */
struct pb_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};
_Static_assert(sizeof(struct pb_lpm4_key) == 8, "pb_lpm4_key size");

/* pb_lpm6 key (BPF_MAP_TYPE_LPM_TRIE): address in network byte order. */
struct pb_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct pb_lpm6_key) == 20, "pb_lpm6_key size");

/* pb_hash4 / pb_bs4 key: a length and the address masked to it, host byte order. */
struct pb_hash4_key {
	__u32 len;
	__u32 addr;
};
_Static_assert(sizeof(struct pb_hash4_key) == 8, "pb_hash4_key size");

/* pb_hash6 / pb_bs6 key: a length and the address masked to it, host-order halves. */
struct pb_hash6_key {
	__u32 len;
	__u32 pad;
	__u64 hi;
	__u64 lo;
};
_Static_assert(sizeof(struct pb_hash6_key) == 24, "pb_hash6_key size");

/*
 * One Poptrie node (Asai & Ohara, SIGCOMM 2015); pb_node4 / pb_node6 hold pages of them.
 * Child c (0..63) is a node when bit c of vector is set: node base1 + popcount(vector &
 * bits 0..c) - 1. Otherwise its entry is leaf base0 + popcount(leafvec & bits 0..c) - 1,
 * where leafvec marks the leaf children whose entry differs from the previous leaf's.
 */
struct pb_node {
	__u64 vector;
	__u64 leafvec;
	__u32 base0;
	__u32 base1;
};
_Static_assert(sizeof(struct pb_node) == 24, "pb_node size");

struct pb_node_page {
	struct pb_node n[PB_NODE_PAGE];
};
_Static_assert(sizeof(struct pb_node_page) == 24 * PB_NODE_PAGE, "pb_node_page size");

/* pb_leaf4 / pb_leaf6 value: entries (PB_LEAF | class, PB_TAIL | tail index). */
struct pb_leaf_page {
	__u32 e[PB_LEAF_PAGE];
};
_Static_assert(sizeof(struct pb_leaf_page) == 4 * PB_LEAF_PAGE, "pb_leaf_page size");

/* pb_dir4 / pb_dir6 value (one element): the direct level, indexed by the top 16 bits. */
struct pb_dir {
	__u32 e[1 << PB_DIRECT_BITS];
};
_Static_assert(sizeof(struct pb_dir) == 4 << PB_DIRECT_BITS, "pb_dir size");

/* A subtree with one prefix: cls if the address has the prefix's first len bits, else dflt. */
struct pb_tail4 {
	__u32 addr;	/* host order, masked */
	__u32 len;
	__u32 cls;
	__u32 dflt;
};
_Static_assert(sizeof(struct pb_tail4) == 16, "pb_tail4 size");

struct pb_tail6 {
	__u64 hi;	/* host-order halves, masked */
	__u64 lo;
	__u32 len;
	__u32 cls;
	__u32 dflt;
	__u32 pad;
};
_Static_assert(sizeof(struct pb_tail6) == 32, "pb_tail6 size");

struct pb_tail4_page {
	struct pb_tail4 t[PB_TAIL_PAGE];
};
_Static_assert(sizeof(struct pb_tail4_page) == 16 * PB_TAIL_PAGE, "pb_tail4_page size");

struct pb_tail6_page {
	struct pb_tail6 t[PB_TAIL_PAGE];
};
_Static_assert(sizeof(struct pb_tail6_page) == 32 * PB_TAIL_PAGE, "pb_tail6_page size");

/* pb_test6 value: one IPv6 address, network byte order. */
struct pb_addr6 {
	__u8 addr[16];
};
_Static_assert(sizeof(struct pb_addr6) == 16, "pb_addr6 size");

/* pb_out value: the last lookup of this CPU. */
struct pb_out {
	__u32 idx1;	/* test address index + 1 (0: nothing ran) */
	__u32 cls;	/* class found, PB_NO_MATCH if none */
};
_Static_assert(sizeof(struct pb_out) == 8, "pb_out size");

#endif /* PREFIX_BENCH_H */
