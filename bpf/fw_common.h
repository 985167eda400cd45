/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared by the XDP program and the control plane (src/Fw.Kernel mirrors
 * every struct here; a test compares sizes and offsets against this file's BTF).
 * Fixed-width types only, explicit padding, a size assertion on every struct.
 */
#ifndef FW_COMMON_H
#define FW_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_spin_lock */

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

/*
 * Port classes (fw_sport_*, fw_dport_*): a directory with one entry per 256
 * ports and a last one for FW_PORT_ABSENT, each FW_PORT_UNIFORM | class (all
 * ports of the page have that class) or the index of a page in fw_*port_page.
 * Rules name few ports, so most entries are uniform: the 1 KiB directory stays
 * in L1 where a flat 65,537-entry array (256 KiB) would miss for varied ports.
 */
#define FW_PORT_PAGE_SHIFT	8
#define FW_PORT_PAGE		(1 << FW_PORT_PAGE_SHIFT)
#define FW_PORT_DIR		257	/* pages of 256 ports, then FW_PORT_ABSENT */
#define FW_PORT_UNIFORM		0x80000000u

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
 * Slots of fw_stats (PERCPU_ARRAY of struct fw_counter), keyed by a stable
 * number as Cilium keys its metrics by reason: the slots below
 * FW_STAT_RULE_BASE count per action and per reason, and each keeps its number
 * forever (a new reason takes the next free one), so a newer build reloading a
 * pinned fw_stats finds every counter where it was. Rule slots, from
 * FW_STAT_RULE_BASE, are assigned by the control plane per rule name, stable
 * across reloads.
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
	FW_STAT_CT_INSERT = 8,		/* flows put into fw_ct (track rules, the egress program) */
	FW_STAT_CT_INSERT_FAIL = 9,	/* flows fw_ct refused (an update failed); the packet went on */
	FW_STAT_CT_REUSE = 10,		/* of the inserts, those that took over an existing entry of their key (no new element) */
	FW_STAT_CT_REMOVED = 11,	/* entries the control plane removed (expired, flushed); written by it, never by BPF */
	FW_STAT_LOG = 12,		/* frames written to the packet log (fw_log) */
	FW_STAT_LOG_RATE = 13,		/* frames to log over log.rate: not written */
	FW_STAT_LOG_FULL = 14,		/* frames to log that found fw_log full: not written */
	FW_STAT_LIMIT_OVER = 15,	/* limit checks that found the packet over the rule's rate */
	FW_STAT_LIMIT_UNDER = 16,	/* limit checks that found it within (and took one packet of the bucket) */
	/* next free: 17 */
	FW_STAT_RULE_BASE = 64,		/* slots 8..63 are kept for new reasons */
};
/* Old and new ruleset live side by side during a reload. */
#define FW_STAT_SLOTS		(FW_STAT_RULE_BASE + 2 * FW_MAX_RULES)

/*
 * Connection tracking (fw_ct, fw_conntrack.h). A flow is keyed by family,
 * protocol and its two ends in a fixed order (the lower address and port
 * first), so either direction finds it with one lookup; the entry says which
 * end started it, who put it there and where it is in its life.
 */
enum fw_ct_state {
	FW_CT_NEW = 0,
	FW_CT_ESTABLISHED = 1,
	FW_CT_RELATED = 2,
	FW_CT_STATES,
};

enum fw_ct_phase {
	FW_CT_TCP_SYN = 0,
	FW_CT_TCP_ESTABLISHED = 1,
	FW_CT_TCP_CLOSING = 2,
	FW_CT_UDP = 3,
	FW_CT_UDP_REPLIED = 4,
	FW_CT_ICMP = 5,
	FW_CT_PHASES,
};

enum fw_ct_origin {
	FW_CT_EGRESS = 0,	/* a packet that left through the interface */
	FW_CT_TRACKED = 1,	/* an inbound packet a track rule passed */
};

/* fw_ct key: addresses as host-order halves (IPv4 in lo_hi/hi_hi's low 32 bits), ports host order. */
struct fw_ct_key {
	__u64 lo_hi;
	__u64 lo_lo;
	__u64 hi_hi;
	__u64 hi_lo;
	__u16 lo_port;		/* TCP/UDP port, ICMP echo identifier, or 0 */
	__u16 hi_port;
	__u8 proto;
	__u8 is_ipv6;
	__u8 pad[2];
};
_Static_assert(sizeof(struct fw_ct_key) == 40, "fw_ct_key size");

struct fw_ct_entry {
	__u32 last_seen;	/* seconds (CLOCK_MONOTONIC coarse) of the flow's last packet */
	__u8 origin;		/* enum fw_ct_origin */
	__u8 phase;		/* enum fw_ct_phase */
	__u8 starter_lo;	/* 1: the lo end started the flow */
	__u8 pad;
};
_Static_assert(sizeof(struct fw_ct_entry) == 8, "fw_ct_entry size");

/*
 * fw_ct_conf [0]: the generation's connection-tracking settings as loaded (the
 * const volatile fw_ct_* of its classifier), for the control plane: listing,
 * expiry sweeps and fwctl test read them. XDP never reads it.
 */
struct fw_ct_conf {
	__u32 enabled;			/* 1: the generation names state or track */
	__u32 max;			/* conntrack.max of its ruleset */
	__u32 timeout[FW_CT_PHASES];	/* seconds, by enum fw_ct_phase */
};
_Static_assert(sizeof(struct fw_ct_conf) == 32, "fw_ct_conf size");

/* Fields some rule constrains (fw_fields): lookups for the others are skipped. */
/*
 * FW_FIELD_SRC / FW_FIELD_DST: the packet's family's Poptrie is looked up, and each is built with
 * a /0, so a lookup always finds a class (a rule with only IPv4 prefixes is absent from every
 * IPv6 class).
 */
enum fw_field {
	FW_FIELD_SRC = 1 << 0,
	FW_FIELD_DST = 1 << 1,
	FW_FIELD_PROTO = 1 << 2,
	FW_FIELD_SPORT = 1 << 3,
	FW_FIELD_DPORT = 1 << 4,
	FW_FIELD_TCP_FLAGS = 1 << 5,
	FW_FIELD_ICMP_TYPE = 1 << 6,
	FW_FIELD_STATE = 1 << 7,	/* the packet's connection state (fw_ct), enum fw_ct_state */
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
	__u32 stat_slot;	/* slot in fw_stats; also the key of its limit's buckets (stable across reloads) */
	__u32 flags;		/* FW_RULE_* */
	__u32 log_every;	/* log: one frame in N it decides goes to fw_log (1: every one); 0: none */
	__u8 add_set;		/* add_to: the set's slot in fw_sets */
	__u8 limit_len4;	/* limit per src/N: prefix length of an IPv4 source's bucket (32: per address) */
	__u8 limit_len6;	/* ... of an IPv6 source's (128: per address) */
	__u8 pad;
	__u64 add_timeout_ns;	/* add_to: the set's timeout, 0: entries stay until removed */
	__u64 limit_ns;		/* limit: ns between two packets at the rate (GCRA's emission interval) */
	__u64 limit_tol_ns;	/* limit: (burst - 1) * limit_ns, how far ahead of time a bucket may run */
};

#define FW_RULE_TRACK		1u	/* track: true: a packet it passes puts its flow into fw_ct */
#define FW_RULE_ADD_TO		2u	/* add_to: the source of a packet it decides goes into fw_sets[add_set] */
#define FW_RULE_LIMIT		4u	/* limit: matches only packets over it (drop) ... */
#define FW_RULE_QUOTA		8u	/* ... or, with this flag (pass), only packets within it */
#define FW_RULE_LIMIT_RULE	16u	/* limit per: rule: one bucket for the rule */
_Static_assert(sizeof(struct fw_rule) == 48, "fw_rule size");

/*
 * Live sets (`dynamic: true`): one LPM trie per set and interface, made and
 * pinned by the control plane (sets/NAME/entries), shared by every generation
 * that names the set, written by the control plane (fwctl set) and by XDP
 * (add_to). A generation reaches its live sets through fw_sets (slots 0-7: the
 * sets some rule names in src, 8-15: in dst, 16-31: add_to's other targets) and
 * their per-CPU counters through fw_set_stats.
 */
#define FW_SET_SLOTS		32
#define FW_SET_FIELD_SLOTS	8	/* live sets a ruleset may name in src, and in dst */
#define FW_SET_SRC_SLOT		0
#define FW_SET_DST_SLOT		8
#define FW_SET_NEST		8	/* expired entries a lookup looks past (each covering the address) */

/*
 * fw_sets key: family then address, so IPv4 and IPv6 live in one trie;
 * prefixlen = 32 + the prefix's length (the family word is part of every prefix).
 */
struct fw_set_key {
	__u32 prefixlen;
	__u32 family;		/* 4 or 6, host order (always wholly inside the prefix) */
	__u8 addr[16];		/* network order; IPv4 in addr[0..3], the rest zero */
};
_Static_assert(sizeof(struct fw_set_key) == 24, "fw_set_key size");

#define FW_SET_KEY_BITS		32	/* the family word's bits in fw_set_key.prefixlen */

struct fw_set_val {
	__u64 expires_ns;	/* CLOCK_MONOTONIC_COARSE ns from which it no longer matches; 0: never */
	__u64 added_ns;		/* CLOCK_MONOTONIC_COARSE ns of its add (or of the add_to that renewed it) */
	__u32 prefixlen;	/* its key's: a lookup that found it expired looks again for shorter prefixes */
	__u32 pad;
};
_Static_assert(sizeof(struct fw_set_val) == 24, "fw_set_val size");

/* A live set's counters (fw_set_stats inner maps, per CPU), by index. */
enum fw_set_counter {
	FW_SET_ADDED = 0,	/* entries add_to added */
	FW_SET_REFRESHED = 1,	/* add_to of a source already there: its expiry moved on */
	FW_SET_FULL = 2,	/* add_to's adds refused: the set held `max` entries */
	FW_SET_EXPIRED = 3,	/* expired entries removed (fwd's sweep, fwctl set); written by the control plane */
	FW_SET_REMOVED = 4,	/* entries fwctl set del/flush/sync removed; written by the control plane */
	FW_SET_ADDED_CTL = 5,	/* entries fwctl set add/sync added or renewed; written by the control plane */
	FW_SET_COUNTERS = 8,
};

/* fw_set_conf [slot]: a generation's live sets as loaded, for the control plane. XDP never reads it. */
struct fw_set_conf {
	char name[FW_MAX_NAME];	/* empty: the slot holds no set */
	__u32 timeout;		/* seconds given to entries added without one; 0: none */
	__u32 max;		/* entries at most */
	__u32 fields;		/* FW_FIELD_SRC / FW_FIELD_DST: where rules name it (0: only add_to) */
	__u32 set_class;	/* the field's membership class base (fw_src_set_class / fw_dst_set_class) */
};
_Static_assert(sizeof(struct fw_set_conf) == 80, "fw_set_conf size");

/*
 * Limits (`limit:`): one bucket per rule and source (or source prefix, or one
 * for the rule) in fw_limit, shared by every generation. A bucket is GCRA's
 * theoretical arrival time: a packet at now is over the limit when
 * max(tat, now) - now > limit_tol_ns, else tat := max(tat, now) + limit_ns.
 */
struct fw_limit_key {
	__u32 slot;		/* the rule's fw_stats slot */
	__u32 family;		/* 4 or 6; 0 for per: rule */
	__u64 hi;		/* the source prefix, host-order halves (IPv4 in hi), masked */
	__u64 lo;
};
_Static_assert(sizeof(struct fw_limit_key) == 24, "fw_limit_key size");

struct fw_limit_val {
	__u64 tat_ns;		/* CLOCK_MONOTONIC_COARSE */
};
_Static_assert(sizeof(struct fw_limit_val) == 8, "fw_limit_val size");

#define FW_LIMIT_ENTRIES	65536	/* buckets per interface (LRU: the least recent goes first) */
#define FW_MAX_LIMITS		64	/* limit rules a packet may be checked against (rules with a limit per ruleset) */
#define FW_LIMIT_TRIES		4	/* compare-and-swap attempts on a contended bucket before it counts as over */

/*
 * The packet log (fw_log, a ring buffer shared by every generation): one record
 * per logged frame, this header then the frame's first caplen bytes (at most
 * the snaplen the generation was loaded with), in FW_LOG_MAX_SNAPLEN bytes.
 */
#define FW_LOG_MAX_SNAPLEN	256
struct fw_log_rec {
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 cpu;
	__u32 ifindex;		/* the interface it arrived on */
	__u32 len;		/* the frame's length, every buffer */
	__u16 caplen;		/* bytes of it in data */
	__u8 verdict;		/* XDP_* returned */
	__u8 reason;		/* enum fw_reason */
	__u32 slot;		/* fw_stats slot of what decided it: the rule's, or FW_STAT_DEFAULT/MALFORMED/NON_IP */
	__u32 rule;		/* the rule's index in its generation, or ~0 */
	__u8 data[];
};
_Static_assert(sizeof(struct fw_log_rec) == 32, "fw_log_rec size");

/* fw_log_bucket [0]: the log's token bucket, shared by every generation and CPU (log.rate). */
struct fw_log_bucket {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 stamp_ns;		/* bpf_ktime_get_ns() of the last refill */
	__u64 tokens;		/* in billionths of a record: a record takes 1,000,000,000 */
};
_Static_assert(sizeof(struct fw_log_bucket) == 24, "fw_log_bucket size");

/*
 * Address lookups: one Poptrie (Asai & Ohara, SIGCOMM 2015) per address field
 * and family, built by the compiler (src/Fw.Compiler/Poptrie.cs), in paged
 * ARRAY maps (fw_src4_dir, fw_src4_node, fw_src4_leaf, fw_src4_tail, the same
 * for src6, dst4, dst6). A direct level indexed by the top FW_POP_DIRECT_BITS
 * address bits, then nodes of 64 children (FW_POP_STRIDE bits each), leaf-pushed:
 * a lookup stops at the first leaf. An entry (direct slot, leaf) is a node index
 * (the two top bits clear), a class (FW_POP_LEAF | class), a tail (FW_POP_TAIL |
 * index): a subtree holding a single prefix, checked with one compare, or, in a
 * direct slot only, a skip (FW_POP_SKIP | index of a tail): a chain of nodes with
 * one child each, checked with one compare (the tail's addr and len); on a match
 * the lookup goes on at node cls, bit len, else the class is dflt (path
 * compression of the bits under a /16 that all its prefixes share, as the 16 bits
 * of 2001:db8::/32 after 2001::/16).
 */
#define FW_POP_DIRECT_BITS	16
#define FW_POP_STRIDE		6
#define FW_POP_DEPTH4		3	/* ceil((32 - 16) / 6): node offsets 16, 22, 28 */
#define FW_POP_DEPTH6		19	/* ceil((128 - 16) / 6): node offsets 16 .. 124 */
#define FW_POP_LEAF		0x80000000u
#define FW_POP_TAIL		0xc0000000u
#define FW_POP_SKIP		0x40000000u
#define FW_POP_KIND		0xc0000000u	/* the two bits that say what an entry is */
#define FW_POP_VALUE		0x3fffffffu	/* class or tail index */
#define FW_POP_NO_MATCH		0xffffffffu	/* never a class: a failed lookup */

/*
 * Pages: one ARRAY element holds many nodes, leaves or tails, so the loader
 * writes a million-prefix trie in a few hundred elements. The loader sizes each
 * map to the pages its generation needs; the bounds below are per field and
 * family (the compiler rejects a ruleset past them).
 */
#define FW_POP_NODE_PAGE_SHIFT	12	/* 4096 nodes, 96 KiB a page */
#define FW_POP_LEAF_PAGE_SHIFT	14	/* 16384 entries, 64 KiB */
#define FW_POP_TAIL_PAGE_SHIFT	11	/* 2048 tails, 32 (IPv4) or 64 KiB */
#define FW_POP_NODE_PAGE	(1 << FW_POP_NODE_PAGE_SHIFT)
#define FW_POP_LEAF_PAGE	(1 << FW_POP_LEAF_PAGE_SHIFT)
#define FW_POP_TAIL_PAGE	(1 << FW_POP_TAIL_PAGE_SHIFT)
#define FW_POP_MAX_NODES	4194304		/* 96 MiB */
#define FW_POP_MAX_LEAVES	16777216	/* 64 MiB */
#define FW_POP_MAX_TAILS	1114112		/* FW_MAX_PREFIXES tails, 65,536 skips */

/*
 * One Poptrie node; fw_*_node values are pages of them. Child c (0..63) is a
 * node when bit c of vector is set: node base1 + popcount(vector & bits 0..c) - 1.
 * Otherwise its entry is leaf base0 + popcount(leafvec & bits 0..c) - 1, where
 * leafvec marks the leaf children whose entry differs from the previous leaf's.
 */
struct fw_pop_node {
	__u64 vector;
	__u64 leafvec;
	__u32 base0;
	__u32 base1;
};
_Static_assert(sizeof(struct fw_pop_node) == 24, "fw_pop_node size");

struct fw_pop_node_page {
	struct fw_pop_node n[FW_POP_NODE_PAGE];
};
_Static_assert(sizeof(struct fw_pop_node_page) == 24 * FW_POP_NODE_PAGE, "fw_pop_node_page size");

/* fw_*_leaf value: entries (FW_POP_LEAF | class, FW_POP_TAIL | tail index). */
struct fw_pop_leaf_page {
	__u32 e[FW_POP_LEAF_PAGE];
};
_Static_assert(sizeof(struct fw_pop_leaf_page) == 4 * FW_POP_LEAF_PAGE, "fw_pop_leaf_page size");

/* fw_*_dir value (one element): the direct level, indexed by the top 16 address bits. */
struct fw_pop_dir {
	__u32 e[1 << FW_POP_DIRECT_BITS];
};
_Static_assert(sizeof(struct fw_pop_dir) == 4 << FW_POP_DIRECT_BITS, "fw_pop_dir size");

/*
 * A subtree holding one prefix: cls if the address has the prefix's first len
 * bits, else dflt. As a skip: go on at node cls, bit len, if the address has
 * addr's first len bits, else dflt.
 */
struct fw_pop_tail4 {
	__u32 addr;	/* host order, masked to len */
	__u32 len;
	__u32 cls;
	__u32 dflt;
};
_Static_assert(sizeof(struct fw_pop_tail4) == 16, "fw_pop_tail4 size");

struct fw_pop_tail6 {
	__u64 hi;	/* host-order halves, masked to len */
	__u64 lo;
	__u32 len;
	__u32 cls;
	__u32 dflt;
	__u32 pad;
};
_Static_assert(sizeof(struct fw_pop_tail6) == 32, "fw_pop_tail6 size");

struct fw_pop_tail4_page {
	struct fw_pop_tail4 t[FW_POP_TAIL_PAGE];
};
_Static_assert(sizeof(struct fw_pop_tail4_page) == 16 * FW_POP_TAIL_PAGE, "fw_pop_tail4_page size");

struct fw_pop_tail6_page {
	struct fw_pop_tail6 t[FW_POP_TAIL_PAGE];
};
_Static_assert(sizeof(struct fw_pop_tail6_page) == 32 * FW_POP_TAIL_PAGE, "fw_pop_tail6_page size");

/* fw_*port_dir value (one element): the directory, indexed by port >> FW_PORT_PAGE_SHIFT. */
struct fw_port_dir {
	__u32 e[FW_PORT_DIR];
};
_Static_assert(sizeof(struct fw_port_dir) == 4 * FW_PORT_DIR, "fw_port_dir size");
_Static_assert(FW_PORT_DIR == FW_PORT_ABSENT / FW_PORT_PAGE + 1, "FW_PORT_DIR");

/* fw_*port_page value: the classes of 256 ports. */
struct fw_port_page {
	__u32 c[FW_PORT_PAGE];
};
_Static_assert(sizeof(struct fw_port_page) == 4 * FW_PORT_PAGE, "fw_port_page size");

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
	__u32 ct_state;		/* enum fw_ct_state of the frame (FW_CT_NEW when no rule names state) */
	__u32 pad;
	struct fw_ct_key ct_key;	/* established: the frame's flow; related: the flow its error quotes */
	__u32 src_sets;		/* bit j: the source is in the live set of fw_sets slot FW_SET_SRC_SLOT + j */
	__u32 dst_sets;		/* bit j: the destination is in the set of slot FW_SET_DST_SLOT + j */
	__u32 limit_within;	/* limit rules that matched all else but not their limit, before the verdict */
	__u32 limit_rule;	/* 1: the deciding rule has a limit (it matched over it, or within a quota) */
};
_Static_assert(sizeof(struct fw_trace) == 80, "fw_trace size");

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
