/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet log: a frame whose verdict is logged (a rule's `log`, or `log:`'s
 * default, malformed, non_ip) goes to fw_log as a struct fw_log_rec, one in N
 * at random when sampled, within log.rate records a second per interface (a
 * token bucket shared by every CPU, fw_log_bucket), never blocking the frame: a
 * record over the rate or that finds the buffer full is counted and dropped.
 * Settings are fixed at load; a ruleset that logs nothing has none of this.
 */
#ifndef FW_LOG_H
#define FW_LOG_H

#include "fw_common.h"
#include "fw_maps.h"

const volatile __u32 fw_log_enabled = 0;	/* 1: something is logged */
const volatile __u32 fw_log_rate = 1000;	/* records a second, 1..1,000,000 */
const volatile __u32 fw_log_snaplen = 128;	/* bytes kept, 64..FW_LOG_MAX_SNAPLEN */
const volatile __u32 fw_log_default_every = 0;	/* one in N of each (1: every one); 0: not logged */
const volatile __u32 fw_log_malformed_every = 0;
const volatile __u32 fw_log_non_ip_every = 0;

#define FW_NS_PER_S	1000000000ULL

/* Puts struct fw_log_rec into the object's BTF (it is only ever a pointer here), where the layout test reads it. */
const struct fw_log_rec fw_log_rec_layout __attribute__((used)) = {};

/* One record's token at @now (ns) from the bucket (refilled at fw_log_rate a second, holding one second's worth); 0 when empty. */
static __always_inline int fw_log_take(__u64 now)
{
	__u64 cap = (__u64)fw_log_rate * FW_NS_PER_S, elapsed, tokens;
	struct fw_log_bucket *b;
	__u32 key = 0;
	int ok = 0;

	b = bpf_map_lookup_elem(&fw_log_bucket, &key);
	if (!b)
		return 0;
	bpf_spin_lock(&b->lock);
	elapsed = now - b->stamp_ns;
	if (elapsed >= FW_NS_PER_S)
		tokens = cap;
	else
		tokens = b->tokens + elapsed * fw_log_rate;	/* < 2 * 10^15: no overflow */
	if (tokens > cap)
		tokens = cap;
	if (tokens >= FW_NS_PER_S) {
		tokens -= FW_NS_PER_S;
		ok = 1;
	}
	b->tokens = tokens;
	b->stamp_ns = now;
	bpf_spin_unlock(&b->lock);
	return ok;
}

/*
 * Logs the frame, one in @every (0: not at all): the record, then the frame's
 * first min(len, snaplen) bytes (read with bpf_xdp_load_bytes, so from every
 * buffer of a multi-buffer frame).
 */
static __always_inline void fw_log_frame(struct xdp_md *ctx, __u32 every, int verdict, __u32 reason, __u32 slot,
				   __u32 rule, __u64 len)
{
	struct fw_log_rec *rec;
	__u32 caplen;
	__u64 now;

	if (!every || (every > 1 && bpf_get_prandom_u32() % every))
		return;
	now = bpf_ktime_get_ns();	/* the bucket's and the record's: one clock read */
	if (!fw_log_take(now)) {
		fw_count(FW_STAT_LOG_RATE, len);
		return;
	}
	/* Every record holds FW_LOG_MAX_SNAPLEN bytes: a fixed size lets the verifier bound the copy below. */
	rec = bpf_ringbuf_reserve(&fw_log, sizeof(*rec) + FW_LOG_MAX_SNAPLEN, 0);
	if (!rec) {
		fw_count(FW_STAT_LOG_FULL, len);
		return;
	}
	rec->ts_ns = now;
	rec->cpu = bpf_get_smp_processor_id();
	rec->ifindex = ctx->ingress_ifindex;
	rec->len = len;
	rec->verdict = verdict;
	rec->reason = reason;
	rec->slot = slot;
	rec->rule = rule;
	caplen = len < fw_log_snaplen ? len : fw_log_snaplen;
	caplen = ((caplen - 1) & (FW_LOG_MAX_SNAPLEN - 1)) + 1;	/* still caplen (1..snaplen); 1..256 to the verifier */
	if (bpf_xdp_load_bytes(ctx, 0, rec->data, caplen))
		caplen = 0;
	rec->caplen = caplen;
	/* No wakeup (a wakeup per record costs an irq_work each): the reader polls every 10 ms. */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	fw_count(FW_STAT_LOG, len);
}

#endif /* FW_LOG_H */
