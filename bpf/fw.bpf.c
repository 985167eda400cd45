// SPDX-License-Identifier: GPL-2.0-only
/*
 * fw_classify: one generation of the ruleset. The control plane loads a fresh
 * copy per ruleset, with its own maps and settings, and puts it in the
 * dispatcher's fw_progs[0].
 *
 * Classification has no loop over rules (bpf-iptables' linear bit-vector
 * search): each field some rule constrains maps the packet's value to a class,
 * each class to a bit-vector of the rules that allow the value (fw_bitmaps).
 * The vectors are ANDed and the lowest set bit is the first matching rule.
 * A summary word (bit w: word w is not empty; fw_summary) is ANDed first, field by field,
 * cheapest lookup first, so most frames that match nothing stop before the
 * address lookups (Poptries, fw_poptrie.h); then only the words set in the
 * ANDed summary are visited.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fw_common.h"
#include "fw_maps.h"
#include "fw_parse.h"
#include "fw_poptrie.h"
#include "fw_conntrack.h"
#include "fw_log.h"
#include "fw_sets.h"

/*
 * Settings, written by the loader into .rodata before load; the verifier reads
 * them as constants and prunes the paths they rule out.
 *
 * fw_*_action: enum fw_action, PASS or DROP (anything else drops).
 * fw_words:    64-bit words of the rule bit-vectors, 0..FW_MAX_WORDS (0: no rules).
 * fw_fields:   enum fw_field, the fields some rule constrains; the others are not looked up.
 * fw_trace:    1: record every verdict in fw_trace_out[0].
 */
const volatile __u32 fw_default_action = FW_ACTION_PASS;
const volatile __u32 fw_malformed_action = FW_ACTION_DROP;
const volatile __u32 fw_non_ip_action = FW_ACTION_PASS;
const volatile __u32 fw_words = 0;
const volatile __u32 fw_fields = 0;
const volatile __u32 fw_trace = 0;
const volatile __u32 fw_ct_enabled = 0;	/* 1: some rule names state or track (fw_conntrack.h) */

#define FW_NO_RULE	(~0u)

/*
 * Index of the lowest set bit of @x != 0. BPF has no cttz or popcount (clang
 * expands popcount into ~14 instructions): the lowest bit times a de Bruijn
 * constant puts a distinct 6-bit pattern in the top bits, looked up in .rodata.
 */
static const __u8 fw_debruijn64[64] = {
	0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static __always_inline __u32 fw_ctz64(__u64 x)
{
	return fw_debruijn64[((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58];
}

/*
 * fw_ctz64(@x), with the table index passed through @via (map memory): the
 * verifier does not follow a value through memory, so it need not track @x
 * exactly to prove the table read in bounds. fw_match's limit loop uses it:
 * with @x tracked exactly, no two paths through the loop would look alike to
 * the verifier and it would walk every one of them.
 */
static __always_inline __u32 fw_ctz64_via(__u64 x, volatile __u32 *via)
{
	*via = ((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58;
	return fw_debruijn64[*via & 63];
}

/* The rule bit-vector (fw_bitmaps value) of class @cls, or NULL: matches no rule. */
static __always_inline const __u64 *fw_class_bits(__u32 cls)
{
	/* FW_POP_NO_MATCH (a failed class lookup of any field) is past every class: NULL. */
	return bpf_map_lookup_elem(&fw_bitmaps, &cls);
}

/* The summary word of class @cls (0 for no class: matches no rule). */
static __always_inline __u64 fw_class_summary(__u32 cls)
{
	const __u64 *s = bpf_map_lookup_elem(&fw_summary, &cls);

	return s ? *s : 0;
}

/* Class of @idx in one of the byte class arrays (fw_proto, fw_tcp_flags, fw_icmp_type), or FW_POP_NO_MATCH. */
static __always_inline __u32 fw_array_class(void *map, __u32 idx)
{
	const __u32 *cls = bpf_map_lookup_elem(map, &idx);

	return cls ? *cls : FW_POP_NO_MATCH;
}

/* Class of @port (host order, or FW_PORT_ABSENT) in a port table (fw_common.h), or FW_POP_NO_MATCH. */
static __always_inline __u32 fw_port_class(void *dir, void *pages, __u32 port)
{
	__u32 zero = 0, hi = port >> FW_PORT_PAGE_SHIFT, e;
	const struct fw_port_dir *d;
	const struct fw_port_page *p;

	if (port > FW_PORT_ABSENT)	/* never (the parser's ports); bounds hi for the verifier */
		return FW_POP_NO_MATCH;
	d = bpf_map_lookup_elem(dir, &zero);
	if (!d || hi >= FW_PORT_DIR)
		return FW_POP_NO_MATCH;
	e = d->e[hi];
	if (e & FW_PORT_UNIFORM)
		return e & ~FW_PORT_UNIFORM;
	p = bpf_map_lookup_elem(pages, &e);
	return p ? p->c[port & (FW_PORT_PAGE - 1)] : FW_POP_NO_MATCH;
}

/*
 * The addresses some rule constrains (struct fw_addr, fw_sets.h) are read once,
 * before any lookup, so that the packet pointers are dead by then (the verifier
 * then prunes the lookups' loops across the parser's many paths).
 */
static __always_inline void fw_read_addrs(const struct fw_pkt *pkt, __u32 fields,
					  struct fw_addr *src, struct fw_addr *dst)
{
	if (pkt->is_ipv6) {
		if (fields & FW_FIELD_SRC)
			fw_pop_load6(&pkt->ip6h->saddr, &src->hi, &src->lo);
		if (fields & FW_FIELD_DST)
			fw_pop_load6(&pkt->ip6h->daddr, &dst->hi, &dst->lo);
	} else {
		if (fields & FW_FIELD_SRC)
			src->hi = bpf_ntohl(pkt->iph->saddr);
		if (fields & FW_FIELD_DST)
			dst->hi = bpf_ntohl(pkt->iph->daddr);
	}
}

/*
 * Class of an address: the Poptrie of the packet's family for the field
 * (fw_poptrie.h). When the field is used, each of its tries is built with a /0,
 * so a lookup always finds a class; should it fail anyway, fw_class_bits()
 * gives NULL and no rule matches.
 */
static __always_inline __u32 fw_src_class(__u32 is_ipv6, const struct fw_addr *a)
{
	if (is_ipv6)
		return fw_pop6_class(&fw_src6_dir, &fw_src6_node, &fw_src6_leaf, &fw_src6_tail,
				     a->hi, a->lo);
	return fw_pop4_class(&fw_src4_dir, &fw_src4_node, &fw_src4_leaf, &fw_src4_tail, a->hi);
}

static __always_inline __u32 fw_dst_class(__u32 is_ipv6, const struct fw_addr *a)
{
	if (is_ipv6)
		return fw_pop6_class(&fw_dst6_dir, &fw_dst6_node, &fw_dst6_leaf, &fw_dst6_tail,
				     a->hi, a->lo);
	return fw_pop4_class(&fw_dst4_dir, &fw_dst4_node, &fw_dst4_leaf, &fw_dst4_tail, a->hi);
}

/*
 * Whether rule @rule, which matches @in in every field, matches it with its
 * limit: 1 when it has none, 3 when its limit matches (a drop limit over its
 * rate, a pass quota within it), 0 when it does not (the next rule is asked).
 * A global function, as fw_live_sets.
 */
__attribute__((noinline)) __u32 fw_limit_check(__u32 rule, const struct fw_match_in *in)
{
	const struct fw_rule *r = bpf_map_lookup_elem(&fw_rules, &rule);
	int over;

	if (!in || !r || !(r->flags & FW_RULE_LIMIT))
		return 1;
	over = fw_limit_over(r, in->is_ipv6, &in->saddr);
	fw_count(over ? FW_STAT_LIMIT_OVER : FW_STAT_LIMIT_UNDER, 0);
	return (r->flags & FW_RULE_QUOTA ? !over : over) ? 3 : 0;
}

/*
 * Index of the first rule that matches @in, or FW_NO_RULE. A rule with a limit
 * matches when its limit does too (fw_limit_check): one that does not is passed
 * over (counted in in->limits_within) and the next rule set in the same ANDed
 * word is taken, then the next word's, in one pass: the class lookups are not
 * made again. A ruleset has at most FW_MAX_LIMITS limits, so the loop ends
 * within FW_MAX_WORDS words and that many rules passed over.
 * A global function: the verifier checks it once, for any input, instead of
 * once for every state the parser, the flow table and the caller reach it with
 * (inlined, rulesets with many fields and state came near its limit of a
 * million instructions).
 *
 * src and dst match by their Poptrie class (the prefixes written in rules and
 * static sets) or by the live sets the address is in (in->src_sets): the class
 * of that membership (fw_src_set_class + m) adds the rules that name those sets.
 */
__attribute__((noinline)) __u32 fw_match(struct fw_match_in *in)
{
	const __u64 *proto = NULL, *sport = NULL, *dport = NULL, *flags = NULL;
	const __u64 *icmp = NULL, *src = NULL, *dst = NULL, *state = NULL, *src_live = NULL, *dst_live = NULL;
	__u32 c_proto = 0, c_sport = 0, c_dport = 0, c_flags = 0, c_icmp = 0, c_src = 0, c_dst = 0, c_state = 0;
	__u32 fields = fw_fields, words = fw_words, is_ipv6, m_src, m_dst, rule, lim;
	__u64 sum = ~0ULL, acc = 0, s;
	__u32 i, w = 0;

	if (!in)
		return FW_NO_RULE;
	in->limits_within = 0;
	in->limit_decided = 0;
	if (!words)
		return FW_NO_RULE;
	if (!fields)
		sum = words >= FW_MAX_WORDS ? ~0ULL : (1ULL << words) - 1;	/* no rule has a condition: each matches */
	is_ipv6 = in->is_ipv6;
	m_src = in->src_sets;
	m_dst = in->dst_sets;

	/* The summaries first (fw_summary, 8 bytes a class): most frames stop here. */
	if (fields & FW_FIELD_STATE) {
		c_state = fw_array_class(&fw_state, in->ct_state);
		sum &= fw_class_summary(c_state);
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_PROTO) {
		c_proto = fw_array_class(&fw_proto, in->proto);
		sum &= fw_class_summary(c_proto);
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_SPORT) {
		c_sport = fw_port_class(&fw_sport_dir, &fw_sport_page, in->sport);
		sum &= fw_class_summary(c_sport);
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_DPORT) {
		c_dport = fw_port_class(&fw_dport_dir, &fw_dport_page, in->dport);
		sum &= fw_class_summary(c_dport);
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_TCP_FLAGS) {
		c_flags = fw_array_class(&fw_tcp_flags, in->tcp_flags);
		sum &= fw_class_summary(c_flags);
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_ICMP_TYPE) {
		c_icmp = fw_array_class(&fw_icmp_type, in->icmp_type);
		sum &= fw_class_summary(c_icmp);
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_SRC) {
		c_src = fw_src_class(is_ipv6, &in->saddr);
		s = fw_class_summary(c_src);
		if (fw_src_sets && m_src)
			s |= fw_class_summary(fw_src_set_class + m_src);
		sum &= s;
		if (!sum)
			return FW_NO_RULE;
	}
	if (fields & FW_FIELD_DST) {
		c_dst = fw_dst_class(is_ipv6, &in->daddr);
		s = fw_class_summary(c_dst);
		if (fw_dst_sets && m_dst)
			s |= fw_class_summary(fw_dst_set_class + m_dst);
		sum &= s;
		if (!sum)
			return FW_NO_RULE;
	}
	/* Some rule may match: the rule bit-vectors of the classes (a missing one matches nothing). */
	if (fields & FW_FIELD_STATE && !(state = fw_class_bits(c_state)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_PROTO && !(proto = fw_class_bits(c_proto)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_SPORT && !(sport = fw_class_bits(c_sport)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_DPORT && !(dport = fw_class_bits(c_dport)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_TCP_FLAGS && !(flags = fw_class_bits(c_flags)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_ICMP_TYPE && !(icmp = fw_class_bits(c_icmp)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_SRC && !(src = fw_class_bits(c_src)))
		return FW_NO_RULE;
	if (fields & FW_FIELD_DST && !(dst = fw_class_bits(c_dst)))
		return FW_NO_RULE;
	/* a missing membership class adds no rule (the address's Poptrie class still counts) */
	if (fw_src_sets && m_src)
		src_live = fw_class_bits(fw_src_set_class + m_src);
	if (fw_dst_sets && m_dst)
		dst_live = fw_class_bits(fw_dst_set_class + m_dst);

	/*
	 * Only the words left set in the summary, lowest first: the lowest rule of
	 * the first non-empty AND wins, unless its limit passes it over. The loop
	 * reads fw_fields itself, not @fields: clang would otherwise keep each
	 * field's test in a stack slot across the limit check's call, and the
	 * three frames would pass 512 bytes.
	 */
	for (i = 0; i < (fw_limits ? FW_MAX_WORDS + FW_MAX_LIMITS + 1 : FW_MAX_WORDS); i++) {
		if (!acc) {
			if (!sum)
				break;
			w = fw_limits ? fw_ctz64_via(sum, &in->via) : fw_ctz64(sum);
			sum &= sum - 1;
			if (w >= words)	/* never true; bounds words[w] for the verifier */
				break;
			acc = ~0ULL;	/* no field: every rule of the word (one past the last finds no fw_rules entry: the default) */
			if (fw_fields & FW_FIELD_STATE)
				acc &= state[1 + w];
			if (fw_fields & FW_FIELD_PROTO)
				acc &= proto[1 + w];
			if (fw_fields & FW_FIELD_SPORT)
				acc &= sport[1 + w];
			if (fw_fields & FW_FIELD_DPORT)
				acc &= dport[1 + w];
			if (fw_fields & FW_FIELD_TCP_FLAGS)
				acc &= flags[1 + w];
			if (fw_fields & FW_FIELD_ICMP_TYPE)
				acc &= icmp[1 + w];
			if (fw_fields & FW_FIELD_SRC)
				acc &= src[1 + w] | (src_live ? src_live[1 + w] : 0);
			if (fw_fields & FW_FIELD_DST)
				acc &= dst[1 + w] | (dst_live ? dst_live[1 + w] : 0);
			if (!acc)
				continue;
		}
		if (!fw_limits)
			return w * FW_WORD_BITS + fw_ctz64(acc);
		rule = w * FW_WORD_BITS + fw_ctz64_via(acc, &in->via);
		lim = fw_limit_check(rule, in);
		if (lim) {
			in->limit_decided = lim == 3;
			return rule;
		}
		in->limits_within++;
		acc &= acc - 1;
	}
	return FW_NO_RULE;
}

/*
 * The live sets the packet's source (@dst 0) or destination (@dst 1) is in, as
 * bits of the field's slots. A global function, so its key and loop add nothing
 * to fw_classify's stack or states.
 */
__attribute__((noinline)) __u32 fw_live_sets(const struct fw_match_in *in, __u32 dst)
{
	__u64 now = 0;

	if (!in)
		return 0;
	if (dst)
		return fw_sets_of(FW_SET_DST_SLOT, fw_dst_sets, in->is_ipv6, &in->daddr, &now);
	return fw_sets_of(FW_SET_SRC_SLOT, fw_src_sets, in->is_ipv6, &in->saddr, &now);
}

/* add_to of rule @rule: the packet's source into its live set. A global function, as fw_live_sets. */
__attribute__((noinline)) int fw_add_source(__u32 rule, const struct fw_match_in *in)
{
	const struct fw_rule *r = bpf_map_lookup_elem(&fw_rules, &rule);

	if (!in || !r || !(r->flags & FW_RULE_ADD_TO))
		return 0;
	fw_set_add(r, in->is_ipv6, &in->saddr);
	return 0;
}

/* fw_trace_out[0]: the live sets the addresses are in, and the limits looked past (fwctl test says which decided). */
static __always_inline void fw_trace_match(__u32 src_sets, __u32 dst_sets, __u32 within, __u32 limit_rule)
{
	__u32 key = 0;
	struct fw_trace *t = bpf_map_lookup_elem(&fw_trace_out, &key);

	if (!t)
		return;
	t->src_sets = src_sets;
	t->dst_sets = dst_sets;
	t->limit_within = within;
	t->limit_rule = limit_rule;
}

/* XDP verdict of a PASS / DROP setting; anything else drops. */
static __always_inline int fw_xdp_action(__u32 action)
{
	return action == FW_ACTION_PASS ? XDP_PASS : XDP_DROP;
}

/* fw_stats slot counting the XDP verdict actually returned. */
static __always_inline __u32 fw_action_slot(int verdict)
{
	if (verdict == XDP_PASS)
		return FW_STAT_PASS;
	if (verdict == XDP_REDIRECT)
		return FW_STAT_REDIRECT;
	return FW_STAT_DROP;
}

/* XDP verdict of a matched rule; a redirect to a missing target drops. */
static __always_inline int fw_rule_verdict(const struct fw_rule *r, __u64 bytes)
{
	int verdict;

	if (r->action != FW_ACTION_REDIRECT)
		return fw_xdp_action(r->action);
	verdict = bpf_redirect_map(&fw_tx, r->ifindex, XDP_DROP);
	if (verdict == XDP_DROP)
		fw_count(FW_STAT_REDIRECT_ERR, bytes);
	return verdict;
}

/*
 * fw_trace_out[0]: the frame's state and its flow's key, written as soon as the
 * state is known so that neither stays live to the end of the program (values
 * live across the match would multiply the verifier's states).
 */
static __always_inline void fw_trace_state(__u32 ct_state, const struct fw_ct_key *ct_key)
{
	__u32 key = 0;
	struct fw_trace *t = bpf_map_lookup_elem(&fw_trace_out, &key);

	if (!t)
		return;
	t->ct_state = ct_state;
	t->src_sets = 0;
	t->dst_sets = 0;
	t->limit_within = 0;
	t->limit_rule = 0;
	if (ct_state != FW_CT_NEW)
		t->ct_key = *ct_key;
}

/* fw_trace_out[0] = the verdict, its reason and rule (or FW_NO_RULE), seq + 1. */
static __always_inline void fw_trace_verdict(int verdict, __u32 reason, __u32 rule)
{
	__u32 key = 0;
	struct fw_trace *t = bpf_map_lookup_elem(&fw_trace_out, &key);

	if (!t)
		return;
	t->verdict = verdict;
	t->reason = reason;
	t->rule = rule;
	t->seq++;
}

/*
 * Multi-buffer frames: the loader sets BPF_F_XDP_HAS_FRAGS (what SEC("xdp.frags")
 * would), so the program attaches natively to an interface whose MTU needs them
 * (jumbo frames), and so does fw_dispatch, which tail-calls it: the kernel lets a
 * program tail-call only programs that handle frags as it does. The flag is the
 * loader's and not the section's so that a generation can be loaded without it
 * under a dispatcher attached by a build before multi-buffer support (a section
 * flag cannot be cleared with libbpf 1.1). Headers are parsed from the first
 * buffer (fw_parse.h); counters count the whole frame, every buffer.
 */
SEC("xdp")
int fw_classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct fw_cursor c = { .pos = data, .end = data_end };
	__u64 bytes = bpf_xdp_get_buff_len(ctx);
	__u32 rule = FW_NO_RULE, reason, slot;
	struct fw_rule *r = NULL;
	struct fw_ct_pkt ct;	/* fw_ct_state() sets it; read only when fw_ct_enabled */
	__u32 ct_state = FW_CT_NEW;
	struct fw_pkt pkt = {};	/* zeroed: clang -mcpu=v3 spills fields no path set, which the verifier refuses to read */
	struct fw_match_in *in;
	__u32 zero = 0;
	int ret, verdict;

	ret = parse_frame(&c, &pkt);
	if (ret >= 0 && fw_ct_enabled)
		ct_state = fw_ct_state(&pkt, data_end, &ct);
	if (fw_trace)
		fw_trace_state(ct_state, &ct.key);
	/* fw_scratch's one entry, which a per-CPU array always has: without it no rule matches (the default) */
	if (ret >= 0 && (in = bpf_map_lookup_elem(&fw_scratch, &zero))) {
		__u32 addrs = fw_fields | (fw_limits || fw_add_to ? FW_FIELD_SRC : 0);

		/* the addresses are written below for what reads them (fw_read_addrs; an IPv4 address's lo is never read) */
		in->is_ipv6 = pkt.is_ipv6;
		in->proto = pkt.proto;
		in->sport = pkt.sport;
		in->dport = pkt.dport;
		in->tcp_flags = pkt.tcp_flags;
		in->icmp_type = pkt.icmp_type;
		in->ct_state = ct_state;
		if (addrs & (FW_FIELD_SRC | FW_FIELD_DST))
			fw_read_addrs(&pkt, addrs, &in->saddr, &in->daddr);
		in->src_sets = fw_src_sets ? fw_live_sets(in, 0) : 0;
		in->dst_sets = fw_dst_sets ? fw_live_sets(in, 1) : 0;
		rule = fw_match(in);
		if (fw_trace)
			fw_trace_match(in->src_sets, in->dst_sets, in->limits_within, in->limit_decided);
		if (rule != FW_NO_RULE)
			r = bpf_map_lookup_elem(&fw_rules, &rule);
		if (fw_add_to && !fw_readonly && r && (r->flags & FW_RULE_ADD_TO))
			fw_add_source(rule, in);
		if (fw_ct_enabled && !fw_readonly) {
			/* The table sees every packet of an established flow, whatever the verdict. */
			if (ct.entry)
				fw_ct_seen(&pkt, &ct);
			else if (r && (r->flags & FW_RULE_TRACK) && r->action == FW_ACTION_PASS)
				fw_ct_track(&pkt, &ct);
		}
	}

	if (ret == -FW_REASON_MALFORMED) {
		verdict = fw_xdp_action(fw_malformed_action);
		reason = FW_REASON_MALFORMED;
		slot = FW_STAT_MALFORMED;
	} else if (ret == -FW_REASON_NON_IP) {
		verdict = fw_xdp_action(fw_non_ip_action);
		reason = FW_REASON_NON_IP;
		slot = FW_STAT_NON_IP;
	} else if (r) {
		verdict = fw_rule_verdict(r, bytes);
		reason = FW_REASON_RULE;
		slot = r->stat_slot;
	} else {
		/* no rule matches (or a lookup failed: fail safe to the default) */
		verdict = fw_xdp_action(fw_default_action);
		reason = FW_REASON_DEFAULT;
		slot = FW_STAT_DEFAULT;
		rule = FW_NO_RULE;
	}

	fw_count(slot, bytes);
	fw_count(fw_action_slot(verdict), bytes);
	if (fw_log_enabled) {
		__u32 every = reason == FW_REASON_RULE ? (r ? r->log_every : 0)
			    : reason == FW_REASON_DEFAULT ? fw_log_default_every
			    : reason == FW_REASON_MALFORMED ? fw_log_malformed_every
			    : fw_log_non_ip_every;

		fw_log_frame(ctx, every, verdict, reason, slot, rule, bytes);
	}
	if (fw_trace)
		fw_trace_verdict(verdict, reason, rule);
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
