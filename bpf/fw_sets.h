/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live sets and limits for the classifier. rules/README.md "Live sets" and
 * "Limits" are the contract; tests/Fw.Testing/Reference (ReferenceLiveSets,
 * ReferenceLimits) is the same written plainly, and the differential tests hold
 * the two together.
 *
 * A live set is an LPM trie (fw_set_key -> fw_set_val) the control plane made
 * for the interface; the generation reaches it through fw_sets. An address is
 * in the set when its longest unexpired entry covers it: a lookup that finds an
 * expired entry looks again for prefixes shorter than it (at most FW_SET_NEST
 * lookups), so an entry stops matching the moment it expires, whatever fwd's
 * sweep has removed yet. The clock is read only when an entry has an expiry.
 *
 * A limit is a GCRA bucket (fw_limit_key -> its theoretical arrival time) in
 * fw_limit, updated with compare-and-swap: one packet taken from a bucket is
 * one successful swap, on whichever CPU, so the rate holds for a source whose
 * packets arrive on several CPUs.
 *
 * Settings fixed at load: a ruleset with no live set, no add_to and no limit
 * compiles all of this away.
 */
#ifndef FW_SETS_H
#define FW_SETS_H

#include <bpf/bpf_endian.h>
#include "fw_common.h"
#include "fw_maps.h"

const volatile __u32 fw_src_sets = 0;		/* live sets named in src: fw_sets slots FW_SET_SRC_SLOT.. */
const volatile __u32 fw_dst_sets = 0;		/* live sets named in dst: slots FW_SET_DST_SLOT.. */
const volatile __u32 fw_src_set_class = 0;	/* class of src set membership m (1..2^n - 1): this + m */
const volatile __u32 fw_dst_set_class = 0;
const volatile __u32 fw_add_to = 0;		/* 1: some rule has add_to */
const volatile __u32 fw_limits = 0;		/* 1: some rule has a limit */
const volatile __u32 fw_readonly = 0;		/* 1: read the shared tables (flows, sets, buckets), never write them: fwctl test's copy */

#define FW_NS_PER_SEC	1000000000ULL

/* Puts the live sets' key and value into the object's BTF (fw_sets' inner maps are declared by size), for the layout test. */
const struct fw_set_key fw_set_key_layout __attribute__((used)) = {};
const struct fw_set_val fw_set_val_layout __attribute__((used)) = {};

/* @k := the whole address @a as a fw_sets key (network order, prefixlen: the family word + every bit). */
static __always_inline void fw_set_key_of(__u32 is_ipv6, const struct fw_addr *a, struct fw_set_key *k)
{
	__u64 *addr = (__u64 *)k->addr;

	if (is_ipv6) {
		k->prefixlen = FW_SET_KEY_BITS + 128;
		k->family = 6;
		addr[0] = bpf_cpu_to_be64(a->hi);
		addr[1] = bpf_cpu_to_be64(a->lo);
	} else {
		k->prefixlen = FW_SET_KEY_BITS + 32;
		k->family = 4;
		addr[0] = bpf_htonl((__u32)a->hi);	/* the low word holds addr[0..3] (little-endian hosts) */
		addr[1] = 0;
	}
}

/* CLOCK_MONOTONIC_COARSE, read at most once per packet (*now == 0: not read yet). */
static __always_inline __u64 fw_now(__u64 *now)
{
	if (!*now)
		*now = bpf_ktime_get_coarse_ns();
	return *now;
}

/* Whether the address of key @k is in the live set @set: its longest unexpired entry covers it. */
static __always_inline int fw_set_has(void *set, struct fw_set_key *k, __u64 *now)
{
	const struct fw_set_val *v;
	__u32 i;

	for (i = 0; i < FW_SET_NEST; i++) {
		v = bpf_map_lookup_elem(set, k);
		if (!v)
			return 0;
		if (!v->expires_ns || fw_now(now) < v->expires_ns)
			return 1;
		/* expired: a shorter prefix may still cover the address */
		if (v->prefixlen <= FW_SET_KEY_BITS || v->prefixlen > k->prefixlen)
			return 0;
		k->prefixlen = v->prefixlen - 1;
	}
	return 0;
}

/* Bit j set: the address @a is in the live set of fw_sets slot @first + j, for j < @count. */
static __always_inline __u32 fw_sets_of(__u32 first, __u32 count, __u32 is_ipv6, const struct fw_addr *a, __u64 *now)
{
	struct fw_set_key k;
	__u32 j, slot, m = 0;
	void *set;

	for (j = 0; j < FW_SET_FIELD_SLOTS; j++) {
		if (j >= count)
			break;
		slot = first + j;
		set = bpf_map_lookup_elem(&fw_sets, &slot);
		if (!set)
			continue;
		fw_set_key_of(is_ipv6, a, &k);
		if (fw_set_has(set, &k, now))
			m |= 1u << j;
	}
	return m;
}

/* Counts one event of a live set (enum fw_set_counter) in its per-CPU counters. */
static __always_inline void fw_set_count(__u32 slot, __u32 counter)
{
	void *stats = bpf_map_lookup_elem(&fw_set_stats, &slot);
	__u64 *c;

	if (!stats)
		return;
	c = bpf_map_lookup_elem(stats, &counter);
	if (c)
		*c += 1;
}

/*
 * add_to: the source @a goes into the rule's live set with the set's timeout. A
 * source already there gets the later expiry (an entry without one keeps none),
 * written only when that moves it by a second or more: a source that keeps
 * sending does not write per packet. A full set refuses it (counted).
 */
static __always_inline void fw_set_add(const struct fw_rule *r, __u32 is_ipv6, const struct fw_addr *a)
{
	__u32 slot = r->add_set;
	struct fw_set_key k;
	struct fw_set_val *v, nv = {};
	__u64 now = bpf_ktime_get_coarse_ns(), expires = 0;
	void *set = bpf_map_lookup_elem(&fw_sets, &slot);
	long err;

	if (!set)
		return;
	fw_set_key_of(is_ipv6, a, &k);
	if (r->add_timeout_ns)
		expires = now + r->add_timeout_ns;
	v = bpf_map_lookup_elem(set, &k);
	if (v && v->prefixlen == k.prefixlen) {
		if (v->expires_ns && v->expires_ns <= now) {
			/* expired, not swept yet: added again */
			v->expires_ns = expires;
			v->added_ns = now;
			fw_set_count(slot, FW_SET_ADDED);
		} else if (v->expires_ns && (!expires || expires >= v->expires_ns + FW_NS_PER_SEC)) {
			v->expires_ns = expires;
			v->added_ns = now;
			fw_set_count(slot, FW_SET_REFRESHED);
		}
		return;
	}
	nv.expires_ns = expires;
	nv.added_ns = now;
	nv.prefixlen = k.prefixlen;
	err = bpf_map_update_elem(set, &k, &nv, BPF_NOEXIST);
	if (!err)
		fw_set_count(slot, FW_SET_ADDED);
	else if (err != -17 /* EEXIST: another CPU added it meanwhile */)
		fw_set_count(slot, FW_SET_FULL);
}

/*
 * Whether the packet from @a is over rule @r's limit (1) or within it (0, and
 * the packet is taken from its bucket). A new bucket starts full (burst packets
 * at once). A bucket contended past FW_LIMIT_TRIES swaps counts as over: the
 * packet does not get through on a pass quota, and a drop limit drops it.
 * fw_readonly: the bucket is read, never written.
 */
static __always_inline int fw_limit_over(const struct fw_rule *r, __u32 is_ipv6, const struct fw_addr *a)
{
	struct fw_limit_key k = { .slot = r->stat_slot };
	struct fw_limit_val nv, *v;
	__u64 now = bpf_ktime_get_coarse_ns(), old, tat;
	__u32 len, i;

	if (!(r->flags & FW_RULE_LIMIT_RULE)) {
		if (is_ipv6) {
			k.family = 6;
			len = r->limit_len6;
			k.hi = len >= 64 ? a->hi : len ? a->hi & ~((1ULL << (64 - len)) - 1) : 0;
			k.lo = len >= 128 ? a->lo : len > 64 ? a->lo & ~((1ULL << (128 - len)) - 1) : 0;
		} else {
			k.family = 4;
			len = r->limit_len4;
			k.hi = len >= 32 ? a->hi : len ? a->hi & ~((1ULL << (32 - len)) - 1) & 0xffffffffULL : 0;
		}
	}
	for (i = 0; i < FW_LIMIT_TRIES; i++) {
		v = bpf_map_lookup_elem(&fw_limit, &k);
		if (!v) {
			if (fw_readonly)
				return 0;	/* a new bucket is full */
			nv.tat_ns = now + r->limit_ns;
			if (!bpf_map_update_elem(&fw_limit, &k, &nv, BPF_NOEXIST))
				return 0;
			continue;	/* another CPU made it meanwhile: take from that one */
		}
		old = v->tat_ns;
		tat = old > now ? old : now;
		if (tat - now > r->limit_tol_ns)
			return 1;
		if (fw_readonly)
			return 0;
		if (__sync_val_compare_and_swap(&v->tat_ns, old, tat + r->limit_ns) == old)
			return 0;
	}
	return 1;
}

#endif /* FW_SETS_H */
