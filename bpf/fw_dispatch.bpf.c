// SPDX-License-Identifier: GPL-2.0-only
/*
 * fw_dispatch: what is attached to the NIC. It tail-calls the live ruleset
 * generation in fw_progs[0]; the control plane swaps that slot to change
 * rulesets atomically, without detaching. With the slot empty it fails closed:
 * the frame is dropped and counted as FW_STAT_NO_RULESET.
 *
 * Loaded with BPF_F_XDP_HAS_FRAGS, as fw_classify (see there): a tail call goes
 * only to a program of the same kind, and the attached program decides whether
 * a jumbo-MTU interface takes it natively.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fw_common.h"
#define FW_MAPS_DISPATCHER	/* fw_stats and the dispatcher's maps, no ruleset maps */
#include "fw_maps.h"

SEC("xdp")
int fw_dispatch(struct xdp_md *ctx)
{
	__u64 bytes;

	bpf_tail_call(ctx, &fw_progs, 0);

	/* Reached only when fw_progs[0] is empty. The whole frame, every buffer. */
	bytes = bpf_xdp_get_buff_len(ctx);
	fw_count(FW_STAT_NO_RULESET, bytes);
	fw_count(FW_STAT_DROP, bytes);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
