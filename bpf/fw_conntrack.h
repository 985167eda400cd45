/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection tracking for the classifier: the packet's state (new, established,
 * related) from fw_ct, the table's side of each packet of a known flow (its last
 * second and phase), and a track rule's new flow. rules/README.md "Connection
 * state" is the contract; tests/Fw.Testing/Reference/ReferenceFlowTable.cs is
 * the same written plainly, and the differential tests hold the two together.
 * Settings are fixed at load (fw_ct_timeout, seconds by enum fw_ct_phase).
 *
 * Per packet this costs one read of the clock (only when the packet's key is
 * in the table) and one lookup of fw_ct (two for an ICMP error); no division
 * (times are compared in nanoseconds, whole seconds are taken only to write
 * last_seen) and, in the steady state of a flow, no write. The lookup itself,
 * the kernel's jhash over the 40-byte key, is most of what remains.
 */
#ifndef FW_CONNTRACK_H
#define FW_CONNTRACK_H

#include "fw_common.h"
#include "fw_parse.h"

const volatile __u32 fw_ct_timeout_tcp_syn = 60;
const volatile __u32 fw_ct_timeout_tcp_established = 21600;
const volatile __u32 fw_ct_timeout_tcp_closing = 10;
const volatile __u32 fw_ct_timeout_udp = 30;
const volatile __u32 fw_ct_timeout_udp_replied = 120;
const volatile __u32 fw_ct_timeout_icmp = 30;

#define FW_TCP_FIN	0x01
#define FW_TCP_RST	0x04
#define FW_ICMP_ECHO_REQUEST	8
#define FW_ICMP_ECHO_REPLY	0
#define FW_ICMP6_ECHO_REQUEST	128
#define FW_ICMP6_ECHO_REPLY	129

/* A flow's end: address halves and port (host order). */
struct fw_ct_end {
	__u64 hi;
	__u64 lo;
	__u16 port;
};

#define FW_NSEC_PER_SEC	1000000000ULL

/* The coarse monotonic clock, nanoseconds; last_seen counts its whole seconds. */
static __always_inline __u64 fw_ct_clock(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* Whole seconds of @ns: what last_seen holds. A division, so only where last_seen is written. */
static __always_inline __u32 fw_ct_seconds(__u64 ns)
{
	return ns / FW_NSEC_PER_SEC;
}

static __always_inline __u32 fw_ct_timeout(__u32 phase)
{
	switch (phase) {
	case FW_CT_TCP_SYN:
		return fw_ct_timeout_tcp_syn;
	case FW_CT_TCP_ESTABLISHED:
		return fw_ct_timeout_tcp_established;
	case FW_CT_TCP_CLOSING:
		return fw_ct_timeout_tcp_closing;
	case FW_CT_UDP:
		return fw_ct_timeout_udp;
	case FW_CT_UDP_REPLIED:
		return fw_ct_timeout_udp_replied;
	default:
		return fw_ct_timeout_icmp;
	}
}

/*
 * Live: its phase's timeout has not passed since its last packet, in whole
 * seconds: fw_ct_seconds(@ns) < last_seen + timeout, which for a whole number
 * of seconds is @ns < (last_seen + timeout) * 10^9 (a multiplication, not a
 * division per packet).
 */
static __always_inline int fw_ct_live(const struct fw_ct_entry *e, __u64 ns)
{
	__u32 until = e->last_seen + fw_ct_timeout(e->phase);

	return ns < (__u64)until * FW_NSEC_PER_SEC;
}

/* The first phase of a flow of @proto. */
static __always_inline __u8 fw_ct_first_phase(__u32 proto)
{
	if (proto == IPPROTO_TCP)
		return FW_CT_TCP_SYN;
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		return FW_CT_ICMP;
	return FW_CT_UDP;
}

/* a < b, by address then port. */
static __always_inline int fw_ct_end_less(const struct fw_ct_end *a, const struct fw_ct_end *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi;
	if (a->lo != b->lo)
		return a->lo < b->lo;
	return a->port < b->port;
}

/*
 * The key of the flow between @src and @dst; returns 1 when @src is its lo end.
 * One decision (the comparison), then the ends are placed with masks, not with a
 * branch per field: under real traffic either direction comes, unpredictably.
 */
static __always_inline int fw_ct_make_key(struct fw_ct_key *k, const struct fw_ct_end *src,
					  const struct fw_ct_end *dst, __u32 proto, __u32 is_ipv6)
{
	int src_lo = !fw_ct_end_less(dst, src);
	__u64 m = -(__u64)src_lo;	/* all ones: src is lo */
	__u64 x_hi = (src->hi ^ dst->hi) & m, x_lo = (src->lo ^ dst->lo) & m;
	__u16 x_port = (src->port ^ dst->port) & m;

	k->lo_hi = dst->hi ^ x_hi;
	k->lo_lo = dst->lo ^ x_lo;
	k->hi_hi = src->hi ^ x_hi;
	k->hi_lo = src->lo ^ x_lo;
	k->lo_port = dst->port ^ x_port;
	k->hi_port = src->port ^ x_port;
	k->proto = proto;
	k->is_ipv6 = is_ipv6;
	k->pad[0] = 0;
	k->pad[1] = 0;
	return src_lo;
}

/*
 * An IPv6 address as host-order halves, read as four 32-bit words (the packet
 * may be 2-byte aligned only; the architectures BPF JITs for read it unaligned,
 * as the parser's IPv4 address reads do): a byte-wise copy costs ~50
 * instructions an address.
 */
static __always_inline void fw_ct_load6(const struct in6_addr *a, __u64 *hi, __u64 *lo)
{
	*hi = (__u64)bpf_ntohl(a->in6_u.u6_addr32[0]) << 32 | bpf_ntohl(a->in6_u.u6_addr32[1]);
	*lo = (__u64)bpf_ntohl(a->in6_u.u6_addr32[2]) << 32 | bpf_ntohl(a->in6_u.u6_addr32[3]);
}

static __always_inline int fw_ct_is_icmp(const struct fw_pkt *pkt)
{
	return pkt->proto == (pkt->is_ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
}

static __always_inline int fw_ct_is_echo_request(const struct fw_pkt *pkt)
{
	return fw_ct_is_icmp(pkt) &&
	       pkt->icmp_type == (pkt->is_ipv6 ? FW_ICMP6_ECHO_REQUEST : FW_ICMP_ECHO_REQUEST);
}

/*
 * The ends of @pkt's flow: TCP and UDP ports; ICMP echo requests and replies by
 * identifier (both ends); no flow for other ICMP messages nor for a non-first
 * fragment (returns 0); port 0 for other protocols. Reads the addresses.
 */
static __always_inline int fw_ct_ends(const struct fw_pkt *pkt, struct fw_ct_end *src, struct fw_ct_end *dst)
{
	if (pkt->nonfirst_frag)
		return 0;
	if (pkt->is_ipv6) {
		fw_ct_load6(&pkt->ip6h->saddr, &src->hi, &src->lo);
		fw_ct_load6(&pkt->ip6h->daddr, &dst->hi, &dst->lo);
	} else {
		src->hi = bpf_ntohl(pkt->iph->saddr);
		dst->hi = bpf_ntohl(pkt->iph->daddr);
		src->lo = 0;
		dst->lo = 0;
	}
	if (pkt->proto == IPPROTO_TCP || pkt->proto == IPPROTO_UDP) {
		src->port = pkt->sport;
		dst->port = pkt->dport;
		return 1;
	}
	if (fw_ct_is_icmp(pkt)) {
		__u32 t = pkt->icmp_type;

		if (pkt->is_ipv6 ? t != FW_ICMP6_ECHO_REQUEST && t != FW_ICMP6_ECHO_REPLY
				 : t != FW_ICMP_ECHO_REQUEST && t != FW_ICMP_ECHO_REPLY)
			return 0;
		src->port = pkt->icmp_rest >> 16;
		dst->port = src->port;
		return 1;
	}
	src->port = 0;
	dst->port = 0;
	return 1;
}

/*
 * The flow of the packet an ICMP error quotes (ICMP 3, 11, 12; ICMPv6 1-4): an
 * IP header of the error's family (IPv4 not a non-first fragment; IPv6 with no
 * extension header) and 8 bytes of its transport header, after the 8-byte ICMP
 * header at pkt->l4. Returns 1 with @k filled, else 0.
 */
static __always_inline int fw_ct_quoted_key(const struct fw_pkt *pkt, void *end, struct fw_ct_key *k)
{
	struct fw_ct_end src = {}, dst = {};
	__u32 t = pkt->icmp_type, proto;
	void *q, *l4;
	__u8 *p;

	if (!fw_ct_is_icmp(pkt) || pkt->nonfirst_frag || !pkt->l4)
		return 0;
	if (pkt->is_ipv6 ? t < 1 || t > 4 : t != 3 && t != 11 && t != 12)
		return 0;
	q = pkt->l4 + 8;
	if (!pkt->is_ipv6) {
		struct iphdr *iph = q;

		if ((void *)(iph + 1) > end || iph->version != 4 || iph->ihl < 5)
			return 0;
		if (iph->frag_off & bpf_htons(0x1fff))
			return 0;
		proto = iph->protocol;
		src.hi = bpf_ntohl(iph->saddr);
		dst.hi = bpf_ntohl(iph->daddr);
		l4 = q + iph->ihl * 4;
	} else {
		struct ipv6hdr *ip6h = q;

		if ((void *)(ip6h + 1) > end || ip6h->version != 6)
			return 0;
		proto = ip6h->nexthdr;
		fw_ct_load6(&ip6h->saddr, &src.hi, &src.lo);
		fw_ct_load6(&ip6h->daddr, &dst.hi, &dst.lo);
		l4 = q + sizeof(*ip6h);
	}
	p = l4;
	if ((void *)(p + 8) > end)
		return 0;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		src.port = (__u16)p[0] << 8 | p[1];
		dst.port = (__u16)p[2] << 8 | p[3];
	} else if (proto == (pkt->is_ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
		if (p[0] != (pkt->is_ipv6 ? FW_ICMP6_ECHO_REQUEST : FW_ICMP_ECHO_REQUEST))
			return 0;
		src.port = (__u16)p[4] << 8 | p[5];
		dst.port = src.port;
	}
	fw_ct_make_key(k, &src, &dst, proto, pkt->is_ipv6);
	return 1;
}

/*
 * What the classifier knows of a packet's flow after fw_ct_state(), which sets
 * every field but @key (written when has_key, or when the state is related).
 */
struct fw_ct_pkt {
	struct fw_ct_key key;		/* the packet's flow; for a related ICMP error, the flow it quotes */
	struct fw_ct_entry *entry;	/* the packet's live flow when it is established */
	__u64 ns;			/* the clock (fw_ct_clock) once read for this packet, else 0 */
	__u32 has_key;
	__u32 src_lo;			/* the packet's source is the key's lo end */
};

/* The clock for @ct's packet: read once, at the first entry found (a packet of no known flow reads none). */
static __always_inline __u64 fw_ct_pkt_clock(struct fw_ct_pkt *ct)
{
	if (!ct->ns)
		ct->ns = fw_ct_clock();
	return ct->ns;
}

/*
 * The packet's state: established when its flow is live and the packet comes
 * back to a flow that left here, or belongs to a tracked flow either way (an
 * echo request is never a reply); related when it is an ICMP error quoting a
 * live flow; new otherwise.
 */
static __always_inline __u32 fw_ct_state(const struct fw_pkt *pkt, void *end, struct fw_ct_pkt *ct)
{
	struct fw_ct_end src, dst;
	struct fw_ct_entry *e;

	ct->entry = NULL;
	ct->ns = 0;
	ct->has_key = 0;
	ct->src_lo = 0;
	if (fw_ct_ends(pkt, &src, &dst)) {
		ct->has_key = 1;
		ct->src_lo = fw_ct_make_key(&ct->key, &src, &dst, pkt->proto, pkt->is_ipv6);
		e = bpf_map_lookup_elem(&fw_ct, &ct->key);
		if (e && fw_ct_live(e, fw_ct_pkt_clock(ct))) {
			int from_starter = ct->src_lo == e->starter_lo;

			if (e->origin == FW_CT_TRACKED ||
			    (!from_starter && !fw_ct_is_echo_request(pkt))) {
				ct->entry = e;
				return FW_CT_ESTABLISHED;
			}
		}
	}
	/* An ICMP error has no flow of its own (has_key is 0): its key becomes the quoted flow's. */
	if (fw_ct_quoted_key(pkt, end, &ct->key)) {
		e = bpf_map_lookup_elem(&fw_ct, &ct->key);
		if (e && fw_ct_live(e, fw_ct_pkt_clock(ct)))
			return FW_CT_RELATED;
	}
	return FW_CT_NEW;
}

/*
 * A packet of an established flow: its second, and its phase moves on. A reply
 * (from the end that did not start the flow) takes SYN to established and UDP to
 * replied; a FIN or RST either way, TCP to closing. Written through the looked-up
 * entry, at most once a second unless the phase changes: last_seen is rewritten
 * when ct->ns is not in its second, [last_seen, last_seen + 1) * 10^9, so the
 * division is taken once a second per flow, not per packet.
 */
static __always_inline void fw_ct_seen(const struct fw_pkt *pkt, struct fw_ct_pkt *ct)
{
	struct fw_ct_entry *e = ct->entry;
	__u8 phase = e->phase;
	int reply = ct->src_lo != e->starter_lo;
	__u64 second = (__u64)e->last_seen * FW_NSEC_PER_SEC;

	if (pkt->proto == IPPROTO_TCP && pkt->tcp_flags != FW_BYTE_ABSENT) {
		if (pkt->tcp_flags & (FW_TCP_FIN | FW_TCP_RST))
			phase = FW_CT_TCP_CLOSING;
		else if (phase == FW_CT_TCP_SYN && reply)
			phase = FW_CT_TCP_ESTABLISHED;
	} else if (phase == FW_CT_UDP && reply) {
		phase = FW_CT_UDP_REPLIED;
	}
	if (phase != e->phase)
		e->phase = phase;
	if (ct->ns < second || ct->ns - second >= FW_NSEC_PER_SEC)
		e->last_seen = fw_ct_seconds(ct->ns);
}

/*
 * Puts @fresh into the table as @key's flow. An entry of the key already there
 * (@found: expired, or live but not the packet's established flow) is taken
 * over in place, one 8-byte store, counted as a reuse: no element is added. Else
 * a new element, BPF_NOEXIST: when another CPU inserted the key in the same
 * instant, its flow stands and nothing is counted. So inserts - reuses is the
 * number of elements fw added, and the control plane derives the LRU's
 * evictions from it (Fw.Kernel ConntrackTable).
 */
static __always_inline void fw_ct_insert(const struct fw_ct_key *key, struct fw_ct_entry *found,
					 const struct fw_ct_entry *fresh)
{
	long rc;

	if (found) {
		*found = *fresh;
		fw_count(FW_STAT_CT_INSERT, 0);
		fw_count(FW_STAT_CT_REUSE, 0);
		return;
	}
	rc = bpf_map_update_elem(&fw_ct, key, fresh, BPF_NOEXIST);
	if (rc == 0)
		fw_count(FW_STAT_CT_INSERT, 0);
	else if (rc != -17 /* EEXIST */)
		fw_count(FW_STAT_CT_INSERT_FAIL, 0);
}

/* A track rule passed @pkt, of no established flow: its flow goes into the table. */
static __always_inline void fw_ct_track(const struct fw_pkt *pkt, struct fw_ct_pkt *ct)
{
	struct fw_ct_entry e = {
		.last_seen = fw_ct_seconds(fw_ct_pkt_clock(ct)),
		.origin = FW_CT_TRACKED,
		.phase = fw_ct_first_phase(pkt->proto),
		.starter_lo = ct->src_lo,
	};

	/* Looked up again rather than kept from fw_ct_state: a pointer live across the match would multiply the
	 * verifier's states, and this runs once per new flow, not per packet. */
	if (ct->has_key)
		fw_ct_insert(&ct->key, bpf_map_lookup_elem(&fw_ct, &ct->key), &e);
}

#endif /* FW_CONNTRACK_H */
