/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared by prefix_bench.bpf.c and its driver (bench/Fw.Bench.Prefix mirrors every
 * struct here in Structs.cs). Fixed-width types only, explicit padding, a size assertion
 * on every struct. The Poptrie variant uses the classifier's layout and lookup
 * (bpf/fw_common.h, bpf/fw_poptrie.h) and the compiler's builder (src/Fw.Compiler).
 *
 * Addresses: the test arrays hold them in network byte order, as a packet does; every
 * variant converts what it needs. Hash keys and trie chunks work on host-order integers.
 */
#ifndef PREFIX_BENCH_H
#define PREFIX_BENCH_H

#include <linux/types.h>

/* The Poptrie layout (struct fw_pop_*, FW_POP_*) is the classifier's own. */
#include "fw_common.h"

#define PB_MAX_TEST_ADDRS	65536	/* test address slots per family */
#define PB_MAX_LENS4		32	/* prefix lengths 1..32 (the /0 class is pb_default4) */
#define PB_MAX_LENS6		128	/* prefix lengths 1..128 */
#define PB_BS_STEPS4		6	/* binary search over <= 32 lengths: ceil(log2(33)) */
#define PB_BS_STEPS6		8	/* binary search over <= 128 lengths: ceil(log2(129)) */

/* A failed lookup in every variant; the Poptrie code (bpf/fw_poptrie.h) returns the same. */
#define PB_NO_MATCH		FW_POP_NO_MATCH

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
