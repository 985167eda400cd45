// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fw_trafficgen: a packet generator in the style of xdp-trafficgen. Run with BPF_PROG_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on one end of a veth pair (ctx ingress_ifindex = that end): every
 * repetition transmits the frame (XDP_TX) to the peer, where the program under test receives it.
 *
 * With tg_vary set, each packet gets the next value of a per-CPU sequence in the low 16 bits of
 * the IPv4 source address and in the L4 source port, so lookups downstream do not stay in one
 * cache line. Checksums are not fixed up: the receiver under test does not check them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 tg_vary = 0;
const volatile __u32 tg_src_off = 0;	/* offset of the IPv4 source address in the frame */
const volatile __u32 tg_sport_off = 0;	/* offset of the L4 source port in the frame */

#define TG_MAX_OFF 256

/* Per-CPU sequence of generated packets. Written by: this program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} tg_seq SEC(".maps");

SEC("xdp")
int fw_trafficgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	__u64 *seq;
	__u16 v;

	if (!tg_vary)
		return XDP_TX;
	seq = bpf_map_lookup_elem(&tg_seq, &key);
	if (!seq)
		return XDP_TX;
	v = (__u16)(*seq)++;
	if (tg_src_off < TG_MAX_OFF && data + tg_src_off + 4 <= data_end) {
		__u8 *a = data + tg_src_off;

		a[2] = v >> 8;
		a[3] = v & 0xff;
	}
	if (tg_sport_off < TG_MAX_OFF && data + tg_sport_off + 2 <= data_end) {
		__u8 *p = data + tg_sport_off;

		p[0] = (v >> 8) | 0x80;	/* stay in 32768-65535 */
		p[1] = v & 0xff;
	}
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
