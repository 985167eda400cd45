/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared by the XDP program and the control plane (src/Fw.Kernel mirrors
 * every struct here; a test compares sizes and offsets against this file's BTF).
 * Fixed-width types only, explicit padding, a size assertion on every struct.
 */
#ifndef FW_COMMON_H
#define FW_COMMON_H

#include <linux/types.h>

#define FW_MAX_RULES		4096
#define FW_WORD_BITS		64
#define FW_MAX_WORDS		(FW_MAX_RULES / FW_WORD_BITS)	/* 64: one summary word covers them */
#define FW_MAX_PREFIXES		1048576	/* per ruleset, sets and rules together */
#define FW_MAX_CLASSES		262144	/* distinct rule bit-vectors per ruleset */
#define FW_MAX_VLAN_TAGS	2
#define FW_MAX_EXT_HDRS		8
#define FW_MAX_NAME		64	/* rule names, NUL included */

/* Index of the "field absent" class in the L4 arrays (non-first fragment, other protocol). */
#define FW_PORT_ABSENT		65536
#define FW_BYTE_ABSENT		256

enum fw_action {
	FW_ACTION_PASS = 0,
	FW_ACTION_DROP = 1,
	FW_ACTION_REDIRECT = 2,
	FW_ACTION_MAX,
};

/* Why a frame got its verdict: every verdict has exactly one reason. */
enum fw_reason {
	FW_REASON_RULE = 0,
	FW_REASON_DEFAULT = 1,
	FW_REASON_MALFORMED = 2,
	FW_REASON_NON_IP = 3,
	FW_REASON_NO_RULESET = 4,	/* dispatcher found no classifier: fail closed */
	FW_REASON_MAX,
};

/*
 * Slots of fw_stats (PERCPU_ARRAY of struct fw_counter). The first slots count
 * per action, then per reason; rule slots start at FW_STAT_RULE_BASE and are
 * assigned by the control plane per rule name, stable across reloads.
 */
enum fw_stat_slot {
	FW_STAT_PASS = FW_ACTION_PASS,
	FW_STAT_DROP = FW_ACTION_DROP,
	FW_STAT_REDIRECT = FW_ACTION_REDIRECT,
	FW_STAT_DEFAULT = 3,
	FW_STAT_MALFORMED = 4,
	FW_STAT_NON_IP = 5,
	FW_STAT_NO_RULESET = 6,
	FW_STAT_REDIRECT_ERR = 7,	/* redirect target missing from fw_tx: dropped */
	FW_STAT_RULE_BASE = 8,
};
/* Old and new ruleset live side by side during a reload. */
#define FW_STAT_SLOTS		(FW_STAT_RULE_BASE + 2 * FW_MAX_RULES)

/* Fields some rule constrains (fw_fields): lookups for the others are skipped. */
/*
 * FW_FIELD_SRC / FW_FIELD_DST: both families' tries are looked up, and each holds a /0 entry, so
 * a lookup always finds a class (a rule with only IPv4 prefixes is absent from every IPv6 class).
 */
enum fw_field {
	FW_FIELD_SRC = 1 << 0,
	FW_FIELD_DST = 1 << 1,
	FW_FIELD_PROTO = 1 << 2,
	FW_FIELD_SPORT = 1 << 3,
	FW_FIELD_DPORT = 1 << 4,
	FW_FIELD_TCP_FLAGS = 1 << 5,
	FW_FIELD_ICMP_TYPE = 1 << 6,
};

struct fw_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct fw_counter) == 16, "fw_counter size");

/* fw_rules value: what rule N does when it is the first match. */
struct fw_rule {
	__u32 action;		/* enum fw_action */
	__u32 ifindex;		/* redirect target (key in fw_tx), else 0 */
	__u32 stat_slot;	/* slot in fw_stats */
	__u32 pad;
};
_Static_assert(sizeof(struct fw_rule) == 16, "fw_rule size");

/* fw_src4 / fw_dst4 key: LPM trie key, address in network byte order. */
struct fw_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};
_Static_assert(sizeof(struct fw_lpm4_key) == 8, "fw_lpm4_key size");

/* fw_src6 / fw_dst6 key: LPM trie key, address in network byte order. */
struct fw_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct fw_lpm6_key) == 20, "fw_lpm6_key size");

/*
 * fw_bitmaps value layout (value_size = 8 * (1 + words), set per ruleset):
 * __u64 summary (bit w set when words[w] != 0), then __u64 words[words];
 * bit r of words[r / 64] set when rule r allows the field's value.
 */

/* fw_rule_names value: the name of rule N, for stats readers. */
struct fw_rule_name {
	char name[FW_MAX_NAME];
};
_Static_assert(sizeof(struct fw_rule_name) == FW_MAX_NAME, "fw_rule_name size");

/* fw_trace value: the last verdict of a trace-enabled copy (fwctl test, tests). */
struct fw_trace {
	__u32 verdict;		/* XDP_* returned */
	__u32 reason;		/* enum fw_reason */
	__u32 rule;		/* rule index when reason == FW_REASON_RULE, else ~0 */
	__u32 seq;		/* increments with every traced frame */
};
_Static_assert(sizeof(struct fw_trace) == 16, "fw_trace size");

/* fw_meta value: what is loaded on an interface, for fwctl status/stats/test and fwd. */
struct fw_meta {
	__u64 generation;	/* 1 after attach, +1 per successful reload */
	__u64 loaded_ns;	/* CLOCK_REALTIME of the last attach or reload */
	__u32 rules;
	__u32 prefixes;
	__u32 words;		/* the generation's fw_words */
	__u32 fields;		/* the generation's fw_fields */
	__u32 classes;
	__u32 xdp_mode;		/* 1 native, 2 generic */
	__u8 default_action;	/* the generation's settings, enum fw_action */
	__u8 malformed_action;
	__u8 non_ip_action;
	__u8 pad;
	__u32 pad2;
	__u8 digest[32];	/* SHA-256 of the compiled map image */
	char file[256];		/* the ruleset file, absolute path */
};
_Static_assert(sizeof(struct fw_meta) == 336, "fw_meta size");

#endif /* FW_COMMON_H */
