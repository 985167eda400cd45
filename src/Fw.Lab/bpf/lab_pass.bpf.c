// SPDX-License-Identifier: GPL-2.0
/* The lab's peers (c0, s0, k0) run this. A veth accepts frames that another interface's XDP program
 * redirects into it (ndo_xdp_xmit) only when its peer runs an XDP program; this one passes everything
 * on to the kernel's stack, so sockets and captures on the peer see exactly what arrived. xdp.frags: it takes
 * multi-buffer frames, so a peer with a jumbo MTU (over about 3,500 bytes on a veth) still takes it natively. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int lab_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
