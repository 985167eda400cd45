// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fw_trafficgen: a packet generator in the style of xdp-trafficgen. Run with BPF_PROG_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on one end of a veth pair (ctx ingress_ifindex = that end): every
 * repetition transmits the frame (XDP_TX) to the peer, where the program under test receives it.
 *
 * Varied fields: up to TG_MAX_FIELDS big-endian fields of 2 or 4 bytes (addresses, ports) get, per
 * packet, the bits of tg_fields[i].mask from a hash of a per-CPU sequence number and the CPU (the
 * other bits stay as the template has them), so lookups downstream do not stay in one cache line
 * and two CPUs do not send the same sequence. Checksums are not fixed up: fw does not check them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TG_MAX_FIELDS	4
#define TG_MAX_OFF	256

/* One varied field: its offset in the frame, width (2 or 4 bytes), and the bits to vary (host order). */
struct tg_field {
	__u32 off;
	__u32 width;	/* 0: unused */
	__u32 mask;
	__u32 pad;
};
_Static_assert(sizeof(struct tg_field) == 16, "tg_field size");

const volatile struct tg_field tg_fields[TG_MAX_FIELDS] = {};

/* Per-CPU sequence of generated packets. Written by: this program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} tg_seq SEC(".maps");

/* Writes the bits of @mask of @r into the big-endian field at @p (2 or 4 bytes, present). */
static __always_inline void tg_vary(__u8 *p, __u32 width, __u32 mask, __u32 r)
{
	__u32 v;

	if (width == 2) {
		v = (__u32)p[0] << 8 | p[1];
		v = (v & ~mask) | (r & mask);
		p[0] = v >> 8;
		p[1] = v;
		return;
	}
	v = (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
	v = (v & ~mask) | (r & mask);
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

SEC("xdp")
int fw_trafficgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0, i;
	__u64 *seq, x;

	if (!tg_fields[0].width)
		return XDP_TX;
	seq = bpf_map_lookup_elem(&tg_seq, &key);
	if (!seq)
		return XDP_TX;
	x = (*seq)++ ^ (__u64)bpf_get_smp_processor_id() << 48;

#pragma unroll
	for (i = 0; i < TG_MAX_FIELDS; i++) {
		__u32 off = tg_fields[i].off, width = tg_fields[i].width;

		if (width != 2 && width != 4)
			break;
		x = x * 0x9E3779B97F4A7C15ULL + i;	/* one multiplicative-hash step per field */
		if (off >= TG_MAX_OFF || data + off + width > data_end)
			continue;
		tg_vary(data + off, width, tg_fields[i].mask, x >> 32);
	}
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
