// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The baseline: the cheapest possible XDP program. Every data-plane figure is compared to it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
