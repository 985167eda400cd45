/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Header parsing for fw_classify, in the style of xdp-tools' parsing_helpers.h:
 * a cursor walks the frame, and each parse_*() helper checks that its header is
 * wholly present before reading it, moves the cursor past it and returns the
 * next protocol, or a negative enum fw_reason (-FW_REASON_MALFORMED).
 *
 * This file is the parsing half of the rules contract ("Parsing, malformed and
 * non-IP frames" in rules/README.md): Ethernet, at most FW_MAX_VLAN_TAGS VLAN
 * tags, IPv4 with options or IPv6 with at most FW_MAX_EXT_HDRS extension
 * headers, then the TCP, UDP or ICMP header unless the packet is a non-first
 * fragment. The C# reference evaluator implements the same text.
 *
 * Every header is read from the frame's first buffer, ctx->data..data_end. A
 * multi-buffer frame (SEC("xdp.frags"): a jumbo frame the driver spread over
 * pages) has more after data_end, in fragments this file never reads: a header
 * that does not end in the first buffer fails its bounds check, and the frame
 * is malformed ("Frame sizes and multi-buffer frames" in rules/README.md).
 */
#ifndef FW_PARSE_H
#define FW_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fw_common.h"

#define FW_IP_OFFSET		0x1fff	/* iphdr.frag_off: fragment offset bits */
#define FW_IP6_FRAG_OFFSET	0xfff8	/* fw_ipv6_ext_hdr.frag_off: offset << 3 */
#define FW_TCP_FLAGS_BYTE	13	/* CWR ECE URG ACK PSH RST SYN FIN */

/* Parsing position: the first byte not yet parsed, and ctx->data_end (the end of the first buffer). */
struct fw_cursor {
	void *pos;
	void *end;
};

/* An 802.1Q or 802.1ad tag, after the MAC addresses (uapi has no struct for it). */
struct fw_vlan_hdr {
	__be16 h_vlan_tci;
	__be16 h_vlan_encapsulated_proto;	/* the EtherType that follows */
};

/*
 * The first 8 bytes of the IPv6 extension headers we walk: hop-by-hop, routing,
 * destination options and fragment (RFC 8200), AH (RFC 4302). Each is at least
 * 8 bytes long: (hdrlen + 1) * 8, for AH (hdrlen + 2) * 4, and for the fragment
 * header always 8 (its second byte is reserved).
 */
struct fw_ipv6_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off;	/* fragment header: offset << 3 | res | M */
	__be32 data;
};
_Static_assert(sizeof(struct fw_ipv6_ext_hdr) == 8, "fw_ipv6_ext_hdr size");

/*
 * The 8 bytes ICMP (RFC 792) and ICMPv6 (RFC 4443) headers share. (linux/icmp.h
 * pulls in libc's socket headers, which a BPF build cannot include.)
 */
struct fw_icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};
_Static_assert(sizeof(struct fw_icmp_hdr) == 8, "fw_icmp_hdr size");

/* What classification reads from a frame; filled by parse_frame(). */
struct fw_pkt {
	union {
		struct iphdr *iph;	/* is_ipv6 == 0: the whole header is present */
		struct ipv6hdr *ip6h;	/* is_ipv6 == 1: the fixed 40 bytes are present */
	};
	__u32 is_ipv6;
	__u32 nonfirst_frag;	/* non-zero fragment offset: no L4 header */
	__u32 proto;		/* IPv4 protocol / IPv6 header after the extension chain */
	__u32 sport;		/* host byte order, or FW_PORT_ABSENT */
	__u32 dport;		/* host byte order, or FW_PORT_ABSENT */
	__u32 tcp_flags;	/* TCP header byte 13, or FW_BYTE_ABSENT */
	__u32 icmp_type;	/* ICMP type (IPv4) / ICMPv6 type (IPv6), or FW_BYTE_ABSENT */
	__u32 icmp_rest;	/* the ICMP header's last 4 bytes, host order (echo: identifier << 16 | sequence) */
	void *l4;		/* where the L4 header starts (not for a non-first fragment) */
};

/* 802.1Q or 802.1ad TPID; @h_proto in network byte order. */
static __always_inline int proto_is_vlan(__be16 h_proto)
{
	return h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD);
}

/*
 * Ethernet header, then at most FW_MAX_VLAN_TAGS VLAN tags (4 bytes each).
 * Returns the EtherType after the tags in network byte order (compare it with
 * bpf_htons(ETH_P_*)), or -FW_REASON_MALFORMED when the header or a tag is
 * truncated or one more tag follows.
 */
static __always_inline int parse_ethhdr_vlan(struct fw_cursor *c)
{
	struct ethhdr *eth = c->pos;
	struct fw_vlan_hdr *vlh;
	__be16 h_proto;
	int i;

	if ((void *)(eth + 1) > c->end)
		return -FW_REASON_MALFORMED;
	c->pos = eth + 1;
	h_proto = eth->h_proto;

	for (i = 0; i < FW_MAX_VLAN_TAGS; i++) {
		if (!proto_is_vlan(h_proto))
			return h_proto;
		vlh = c->pos;
		if ((void *)(vlh + 1) > c->end)
			return -FW_REASON_MALFORMED;
		c->pos = vlh + 1;
		h_proto = vlh->h_vlan_encapsulated_proto;
	}
	if (proto_is_vlan(h_proto))
		return -FW_REASON_MALFORMED;
	return h_proto;
}

/*
 * IPv4 header and its options: 20 bytes present, version 4, IHL >= 5 and IHL * 4
 * bytes present; no total length or checksum check. frag_off is in network byte
 * order and tested against a swapped constant. Returns the protocol field (one
 * byte, no byte order) or -FW_REASON_MALFORMED.
 */
static __always_inline int parse_iphdr(struct fw_cursor *c, struct fw_pkt *pkt)
{
	struct iphdr *iph = c->pos;
	int hdrsize;

	if ((void *)(iph + 1) > c->end)
		return -FW_REASON_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return -FW_REASON_MALFORMED;
	hdrsize = iph->ihl * 4;
	if (c->pos + hdrsize > c->end)
		return -FW_REASON_MALFORMED;
	c->pos += hdrsize;

	pkt->iph = iph;
	pkt->is_ipv6 = 0;
	pkt->nonfirst_frag = !!(iph->frag_off & bpf_htons(FW_IP_OFFSET));
	return iph->protocol;
}

/* One of the extension headers parse_ip6_ext() walks (a one-byte protocol number). */
static __always_inline int ipv6_is_ext(int nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_AH || nexthdr == IPPROTO_DSTOPTS;
}

/*
 * The IPv6 extension-header chain that starts with @nexthdr, at most
 * FW_MAX_EXT_HDRS headers, each of which must be wholly present. A fragment
 * header with a non-zero offset (frag_off, network byte order, tested against
 * a swapped constant) ends the walk: the packet is a non-first fragment and its
 * protocol is that header's next header. Returns the first next header that is
 * not an extension header (one byte, no byte order) or -FW_REASON_MALFORMED.
 */
static __always_inline int parse_ip6_ext(struct fw_cursor *c, struct fw_pkt *pkt, int nexthdr)
{
	struct fw_ipv6_ext_hdr *ext;
	int i, len;

	for (i = 0; i < FW_MAX_EXT_HDRS; i++) {
		if (!ipv6_is_ext(nexthdr))
			return nexthdr;
		ext = c->pos;
		if ((void *)(ext + 1) > c->end)
			return -FW_REASON_MALFORMED;
		if (nexthdr == IPPROTO_FRAGMENT)
			len = sizeof(*ext);
		else if (nexthdr == IPPROTO_AH)
			len = (ext->hdrlen + 2) * 4;
		else
			len = (ext->hdrlen + 1) * 8;
		if (c->pos + len > c->end)
			return -FW_REASON_MALFORMED;
		c->pos += len;

		if (nexthdr == IPPROTO_FRAGMENT &&
		    (ext->frag_off & bpf_htons(FW_IP6_FRAG_OFFSET))) {
			pkt->nonfirst_frag = 1;
			return ext->nexthdr;
		}
		nexthdr = ext->nexthdr;
	}
	if (ipv6_is_ext(nexthdr))
		return -FW_REASON_MALFORMED;	/* one extension header too many */
	return nexthdr;
}

/*
 * IPv6 header: 40 bytes present and version 6 (as parse_iphdr checks 4: the
 * kernel's IPv6 input drops any other), then its extension headers. Returns the
 * upper-layer protocol (one byte, no byte order) or -FW_REASON_MALFORMED.
 */
static __always_inline int parse_ip6hdr(struct fw_cursor *c, struct fw_pkt *pkt)
{
	struct ipv6hdr *ip6h = c->pos;

	if ((void *)(ip6h + 1) > c->end)
		return -FW_REASON_MALFORMED;
	if (ip6h->version != 6)
		return -FW_REASON_MALFORMED;
	c->pos = ip6h + 1;

	pkt->ip6h = ip6h;
	pkt->is_ipv6 = 1;
	pkt->nonfirst_frag = 0;
	return parse_ip6_ext(c, pkt, ip6h->nexthdr);
}

/*
 * The L4 header of a packet that is not a non-first fragment: TCP needs 20 bytes,
 * UDP 8, and @icmp_proto (ICMP in IPv4, ICMPv6 in IPv6) 8. Ports are network byte
 * order on the wire and stored in host order, the key of the port tables.
 * Other protocols have no L4 fields: pkt keeps its ABSENT values.
 * Returns @proto or -FW_REASON_MALFORMED.
 */
static __always_inline int parse_l4hdr(struct fw_cursor *c, struct fw_pkt *pkt, int proto,
				       int icmp_proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;

		if ((void *)(th + 1) > c->end)
			return -FW_REASON_MALFORMED;
		pkt->sport = bpf_ntohs(th->source);
		pkt->dport = bpf_ntohs(th->dest);
		pkt->tcp_flags = ((__u8 *)th)[FW_TCP_FLAGS_BYTE];
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;

		if ((void *)(uh + 1) > c->end)
			return -FW_REASON_MALFORMED;
		pkt->sport = bpf_ntohs(uh->source);
		pkt->dport = bpf_ntohs(uh->dest);
	} else if (proto == icmp_proto) {
		struct fw_icmp_hdr *ich = c->pos;

		if ((void *)(ich + 1) > c->end)
			return -FW_REASON_MALFORMED;
		pkt->icmp_type = ich->type;
		pkt->icmp_rest = bpf_ntohl(ich->rest);
	}
	return proto;
}

/*
 * The whole frame, as the rules contract says. Returns the IP protocol (0-255)
 * with @pkt filled, or -FW_REASON_MALFORMED, or -FW_REASON_NON_IP for any
 * EtherType but IPv4 and IPv6.
 */
static __always_inline int parse_frame(struct fw_cursor *c, struct fw_pkt *pkt)
{
	int h_proto, proto, icmp_proto;

	h_proto = parse_ethhdr_vlan(c);
	if (h_proto < 0)
		return h_proto;

	if (h_proto == bpf_htons(ETH_P_IP)) {
		proto = parse_iphdr(c, pkt);
		icmp_proto = IPPROTO_ICMP;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		proto = parse_ip6hdr(c, pkt);
		icmp_proto = IPPROTO_ICMPV6;
	} else {
		return -FW_REASON_NON_IP;
	}
	if (proto < 0)
		return proto;

	pkt->proto = proto;
	pkt->sport = FW_PORT_ABSENT;
	pkt->dport = FW_PORT_ABSENT;
	pkt->tcp_flags = FW_BYTE_ABSENT;
	pkt->icmp_type = FW_BYTE_ABSENT;
	if (pkt->nonfirst_frag)
		return proto;
	pkt->l4 = c->pos;
	return parse_l4hdr(c, pkt, proto, icmp_proto);
}

#endif /* FW_PARSE_H */
