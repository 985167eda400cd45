/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the data plane, in one place, for the two objects that include it:
 *
 *   fw.bpf.c           fw_stats and the maps of one ruleset generation
 *   fw_dispatch.bpf.c  fw_stats, fw_progs and fw_meta; it defines FW_MAPS_DISPATCHER
 *   fw_egress.bpf.c    fw_ct and fw_stats; it defines FW_MAPS_EGRESS
 *                      before including this file
 *
 * libbpf creates every map an object declares, so the dispatcher must not see
 * the ruleset maps. fw_stats is declared once, here, so that both objects get
 * the same definition and the loader can give every generation the
 * dispatcher's map (bpf_map__reuse_fd checks type, sizes and flags).
 *
 * Above each map: what it holds and who writes it; XDP only reads the maps the
 * control plane writes. "Resized": the loader sets max_entries per ruleset
 * before load (fw_bitmaps also its value_size, 8 * (1 + fw_words), which is why
 * that map is declared with sizes instead of BTF types); the values here are
 * the bounds. Layouts of keys and values are in fw_common.h. The address maps
 * (fw_src4_*, fw_src6_*, fw_dst4_*, fw_dst6_*) hold one Poptrie each; a field no
 * rule uses keeps one zeroed page per map and is never looked up.
 */
#ifndef FW_MAPS_H
#define FW_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fw_common.h"

#ifndef FW_MAPS_DISPATCHER
/*
 * The flow table: struct fw_ct_key -> struct fw_ct_entry. Written by: XDP (a
 * track rule's flows, and each flow's last second and phase) and the egress
 * program (flows that leave). Shared by every generation (pinned beside
 * fw_stats); resized: conntrack.max, or 1 entry when no rule names state or track.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct fw_ct_key);
	__type(value, struct fw_ct_entry);
	__uint(max_entries, 262144);
} fw_ct SEC(".maps");
#endif

/* Per-CPU packets and bytes by enum fw_stat_slot. Written by: XDP (both objects), the egress program (its inserts). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_counter);
	__uint(max_entries, FW_STAT_SLOTS);
} fw_stats SEC(".maps");

/* Counts one frame of @bytes in fw_stats[@slot]: per CPU, so no atomics. */
static __always_inline void fw_count(__u32 slot, __u64 bytes)
{
	struct fw_counter *cnt = bpf_map_lookup_elem(&fw_stats, &slot);

	if (cnt) {
		cnt->packets++;
		cnt->bytes += bytes;
	}
}

#ifndef FW_MAPS_EGRESS	/* fw_egress.bpf.c: fw_ct and fw_stats only */

#ifdef FW_MAPS_DISPATCHER

/* [0]: the live generation's fw_classify (hot swap). Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 1);
} fw_progs SEC(".maps");

/* [0]: what is loaded here (struct fw_meta). Written by: control plane; XDP never reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_meta);
	__uint(max_entries, 1);
} fw_meta SEC(".maps");

#else /* the classifier: the maps of one ruleset generation */

/* Rule index -> struct fw_rule. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_rule);
	__uint(max_entries, FW_MAX_RULES);
} fw_rules SEC(".maps");

/* Rule index -> rule name, for user space only. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_rule_name);
	__uint(max_entries, FW_MAX_RULES);
} fw_rule_names SEC(".maps");

/* Class id -> summary word + rule bit-vector. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64) * (1 + FW_MAX_WORDS));	/* no BTF type: shrunk */
	__uint(max_entries, FW_MAX_CLASSES);
} fw_bitmaps SEC(".maps");

/* Class id -> its summary word (fw_bitmaps' first), dense for the early ANDs. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, FW_MAX_CLASSES);
} fw_summary SEC(".maps");

/* IP protocol -> class id. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 256);
} fw_proto SEC(".maps");

/* [0]: source port classes, directory (fw_common.h). Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_port_dir);
	__uint(max_entries, 1);
} fw_sport_dir SEC(".maps");

/* Source port classes, the pages of 256 ports that are not uniform. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_port_page);
	__uint(max_entries, FW_PORT_DIR - 1);
} fw_sport_page SEC(".maps");

/* [0]: destination port classes, directory (fw_common.h). Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_port_dir);
	__uint(max_entries, 1);
} fw_dport_dir SEC(".maps");

/* Destination port classes, the pages of 256 ports that are not uniform. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_port_page);
	__uint(max_entries, FW_PORT_DIR - 1);
} fw_dport_page SEC(".maps");

/* TCP flags (header byte 13) or FW_BYTE_ABSENT -> class id. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, FW_BYTE_ABSENT + 1);
} fw_tcp_flags SEC(".maps");

/* ICMP (IPv4) / ICMPv6 (IPv6) type or FW_BYTE_ABSENT -> class id. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, FW_BYTE_ABSENT + 1);
} fw_icmp_type SEC(".maps");

/* Connection state (enum fw_ct_state, 0-2) -> class id; 256 entries, a byte field's. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 256);
} fw_state SEC(".maps");

/* [0]: IPv4 src Poptrie direct level, top 16 bits -> entry. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_dir);
	__uint(max_entries, 1);
} fw_src4_dir SEC(".maps");

/* IPv4 src Poptrie nodes, FW_POP_NODE_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_node_page);
	__uint(max_entries, FW_POP_MAX_NODES / FW_POP_NODE_PAGE);
} fw_src4_node SEC(".maps");

/* IPv4 src Poptrie leaf entries, FW_POP_LEAF_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_leaf_page);
	__uint(max_entries, FW_POP_MAX_LEAVES / FW_POP_LEAF_PAGE);
} fw_src4_leaf SEC(".maps");

/* IPv4 src Poptrie tails (one-prefix subtrees), paged. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_tail4_page);
	__uint(max_entries, FW_POP_MAX_TAILS / FW_POP_TAIL_PAGE);
} fw_src4_tail SEC(".maps");

/* [0]: IPv6 src Poptrie direct level, top 16 bits -> entry. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_dir);
	__uint(max_entries, 1);
} fw_src6_dir SEC(".maps");

/* IPv6 src Poptrie nodes, FW_POP_NODE_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_node_page);
	__uint(max_entries, FW_POP_MAX_NODES / FW_POP_NODE_PAGE);
} fw_src6_node SEC(".maps");

/* IPv6 src Poptrie leaf entries, FW_POP_LEAF_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_leaf_page);
	__uint(max_entries, FW_POP_MAX_LEAVES / FW_POP_LEAF_PAGE);
} fw_src6_leaf SEC(".maps");

/* IPv6 src Poptrie tails (one-prefix subtrees), paged. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_tail6_page);
	__uint(max_entries, FW_POP_MAX_TAILS / FW_POP_TAIL_PAGE);
} fw_src6_tail SEC(".maps");

/* [0]: IPv4 dst Poptrie direct level, top 16 bits -> entry. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_dir);
	__uint(max_entries, 1);
} fw_dst4_dir SEC(".maps");

/* IPv4 dst Poptrie nodes, FW_POP_NODE_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_node_page);
	__uint(max_entries, FW_POP_MAX_NODES / FW_POP_NODE_PAGE);
} fw_dst4_node SEC(".maps");

/* IPv4 dst Poptrie leaf entries, FW_POP_LEAF_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_leaf_page);
	__uint(max_entries, FW_POP_MAX_LEAVES / FW_POP_LEAF_PAGE);
} fw_dst4_leaf SEC(".maps");

/* IPv4 dst Poptrie tails (one-prefix subtrees), paged. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_tail4_page);
	__uint(max_entries, FW_POP_MAX_TAILS / FW_POP_TAIL_PAGE);
} fw_dst4_tail SEC(".maps");

/* [0]: IPv6 dst Poptrie direct level, top 16 bits -> entry. Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_dir);
	__uint(max_entries, 1);
} fw_dst6_dir SEC(".maps");

/* IPv6 dst Poptrie nodes, FW_POP_NODE_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_node_page);
	__uint(max_entries, FW_POP_MAX_NODES / FW_POP_NODE_PAGE);
} fw_dst6_node SEC(".maps");

/* IPv6 dst Poptrie leaf entries, FW_POP_LEAF_PAGE a page. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_leaf_page);
	__uint(max_entries, FW_POP_MAX_LEAVES / FW_POP_LEAF_PAGE);
} fw_dst6_leaf SEC(".maps");

/* IPv6 dst Poptrie tails (one-prefix subtrees), paged. Written by: control plane. Resized. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_pop_tail6_page);
	__uint(max_entries, FW_POP_MAX_TAILS / FW_POP_TAIL_PAGE);
} fw_dst6_tail SEC(".maps");

/* Redirect targets, ifindex -> ifindex (key: fw_rule.ifindex). Written by: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} fw_tx SEC(".maps");

/*
 * An address of the packet as the lookups read it, host order: IPv6 as two
 * halves, IPv4 in the low 32 bits of hi.
 */
struct fw_addr {
	__u64 hi;
	__u64 lo;
};

/*
 * What fw_match reads of a packet: scalars only (the addresses some rule
 * constrains already read out of the packet), so that fw_match can be a global
 * function.
 */
struct fw_match_in {
	struct fw_addr saddr;
	struct fw_addr daddr;
	__u32 is_ipv6;
	__u32 proto;
	__u32 sport;
	__u32 dport;
	__u32 tcp_flags;
	__u32 icmp_type;
	__u32 ct_state;		/* enum fw_ct_state */
	__u32 src_sets;		/* bit j: the source is in the live set of fw_sets slot FW_SET_SRC_SLOT + j */
	__u32 dst_sets;		/* bit j: the destination is in the set of slot FW_SET_DST_SLOT + j */
	__u32 limits_within;	/* out: the limits fw_match passed over (they did not match) */
	__u32 limit_decided;	/* out: 1 when the rule fw_match returned matched by its limit */
	__u32 via;		/* fw_ctz64_via's */
};

/*
 * [0]: the packet's struct fw_match_in, per CPU. Written by: XDP (fw_classify,
 * for each packet; fw_match's outputs). Off the stack, so that fw_classify,
 * fw_match and a limit check under it fit in the 512 bytes the verifier allows
 * a chain of calls. The loaded object's own: neither pinned nor shared.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_match_in);
} fw_scratch SEC(".maps");

/* [0]: the last verdict, when fw_trace is 1. Written by: XDP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_trace);
	__uint(max_entries, 1);
} fw_trace_out SEC(".maps");

/*
 * The packet log: struct fw_log_rec records to user space (fwctl log). Written
 * by: XDP. Shared by every generation (pinned as `log`); resized: 4 MiB while
 * something is logged, else one unused page.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} fw_log SEC(".maps");

/* [0]: the log's token bucket (struct fw_log_bucket). Written by: XDP. Shared like fw_log (pinned as `log_bucket`). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_log_bucket);
	__uint(max_entries, 1);
} fw_log_bucket SEC(".maps");

/*
 * A live set: struct fw_set_key -> struct fw_set_val (the template of fw_sets'
 * inner maps; each set's own trie is made by the control plane with its max).
 */
struct fw_set_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct fw_set_key));	/* sizes, not BTF types: libbpf 1.1 cannot size an inner map's */
	__uint(value_size, sizeof(struct fw_set_val));
	__uint(max_entries, 1);
};

/*
 * Slot -> a live set's trie (fw_common.h says which slot is what). Written by:
 * control plane (the slots), XDP (add_to's entries), fwctl set (entries).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, FW_SET_SLOTS);
	__array(values, struct fw_set_trie);
} fw_sets SEC(".maps");

/* A live set's counters: enum fw_set_counter -> per-CPU count (the template of fw_set_stats' inner maps). */
struct fw_set_counters {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
	__uint(max_entries, FW_SET_COUNTERS);
};

/* Slot -> the counters of the set in fw_sets' slot. Written by: XDP (adds), control plane (removals). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, FW_SET_SLOTS);
	__array(values, struct fw_set_counters);
} fw_set_stats SEC(".maps");

/* Slot -> the live set's name, timeout and max (struct fw_set_conf). Written by: control plane; XDP never reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_set_conf);
	__uint(max_entries, FW_SET_SLOTS);
} fw_set_conf SEC(".maps");

/*
 * The limits' buckets: struct fw_limit_key -> struct fw_limit_val. Written by:
 * XDP. Shared by every generation (pinned as `limits`); resized: FW_LIMIT_ENTRIES
 * while a rule has a limit, else 1 entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct fw_limit_key);
	__type(value, struct fw_limit_val);
	__uint(max_entries, FW_LIMIT_ENTRIES);
} fw_limit SEC(".maps");

/* [0]: the generation's conntrack settings (struct fw_ct_conf). Written by: control plane; XDP never reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_ct_conf);
	__uint(max_entries, 1);
} fw_ct_conf SEC(".maps");

#endif /* FW_MAPS_DISPATCHER */

#endif /* FW_MAPS_EGRESS */

#endif /* FW_MAPS_H */
