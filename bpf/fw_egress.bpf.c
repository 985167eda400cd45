// SPDX-License-Identifier: GPL-2.0-only
/*
 * fw_egress: attached to the interface's TC egress hook while the ruleset names
 * state or track. Every frame that leaves (host-originated or forwarded) starts
 * its flow in fw_ct, or refreshes it: a packet of a flow this side started, or a
 * reply to a flow a track rule admitted (fw_conntrack.h has the phases). It never
 * drops: whatever fails, the frame goes on (TC_ACT_OK).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define FW_MAPS_EGRESS
#include "fw_common.h"
#include "fw_maps.h"
#include "fw_parse.h"
#include "fw_poptrie.h"
#include "fw_conntrack.h"

/* Enough of a frame for its headers: Ethernet, two tags, IPv6 and its extension headers, TCP. */
#define FW_EGRESS_PULL	256

SEC("tc")
int fw_egress(struct __sk_buff *skb)
{
	struct fw_ct_end src, dst;
	struct fw_ct_entry *e, fresh = {};
	struct fw_ct_key key;
	struct fw_cursor c;
	struct fw_pkt pkt;
	__u32 len = skb->len;
	__u64 ns;
	int src_lo;

	/* Headers of a frame that leaves may sit in fragments: make them direct (a failure only means no flow). */
	bpf_skb_pull_data(skb, len < FW_EGRESS_PULL ? len : FW_EGRESS_PULL);
	c.pos = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	if (parse_frame(&c, &pkt) < 0 || !fw_ct_ends(&pkt, &src, &dst))
		return TC_ACT_OK;

	src_lo = fw_ct_make_key(&key, &src, &dst, pkt.proto, pkt.is_ipv6);
	ns = fw_ct_clock();
	e = bpf_map_lookup_elem(&fw_ct, &key);
	if (e && fw_ct_live(e, ns)) {
		struct fw_ct_pkt ct = { .entry = e, .src_lo = src_lo, .ns = ns };

		fw_ct_seen(&pkt, &ct);
		return TC_ACT_OK;
	}
	fresh.last_seen = fw_ct_seconds(ns);
	fresh.origin = FW_CT_EGRESS;
	fresh.phase = fw_ct_first_phase(pkt.proto);
	fresh.starter_lo = src_lo;
	fw_ct_insert(&key, e, &fresh);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
