// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * jitlines: the JIT image of a loaded BPF program, line by line. For each line
 * table entry of program ID (and its subprograms) it prints the kernel address
 * where the entry's JIT code starts, the function (subprogram) and the source
 * file:line with its text, tab-separated, sorted by address:
 *
 *   ADDRESS<TAB>FUNCTION<TAB>FILE:LINE<TAB>SOURCE
 *
 * bench/profile/run joins perf's samples (their kernel instruction pointers)
 * to the entry at or before each. Debian's bpftool has no libbfd, so it cannot
 * print the JIT image with lines; this reads the same bpf_prog_info fields
 * (jited_line_info, line_info, func_info, the program's BTF) through libbpf.
 *
 * Usage: jitlines PROG_ID
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

struct entry {
	__u64 addr;
	__u32 insn_off;
	const char *file;
	const char *line;
	__u32 line_no;
};

static int by_addr(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), id, n_lines, n_funcs, i, f;
	struct bpf_line_info *lines;
	struct bpf_func_info *funcs;
	__u64 *jited;
	struct entry *e;
	struct btf *btf;
	int fd;

	if (argc != 2 || !(id = strtoul(argv[1], NULL, 10))) {
		fprintf(stderr, "usage: jitlines PROG_ID\n");
		return 2;
	}
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jitlines: program %u: %s\n", id, strerror(errno));
		return 1;
	}
	n_lines = info.nr_line_info;
	n_funcs = info.nr_func_info;
	if (!n_lines || info.nr_jited_line_info != n_lines || !info.btf_id) {
		fprintf(stderr, "jitlines: program %u has no line table for its JIT image (BTF, bpf_jit_kallsyms?)\n", id);
		return 1;
	}
	lines = calloc(n_lines, sizeof(*lines));
	jited = calloc(n_lines, sizeof(*jited));
	funcs = calloc(n_funcs ? n_funcs : 1, sizeof(*funcs));
	e = calloc(n_lines, sizeof(*e));
	if (!lines || !jited || !funcs || !e)
		return 1;
	memset(&info, 0, sizeof(info));
	info.nr_line_info = n_lines;
	info.line_info_rec_size = sizeof(*lines);
	info.line_info = (__u64)(unsigned long)lines;
	info.nr_jited_line_info = n_lines;
	info.jited_line_info_rec_size = sizeof(*jited);
	info.jited_line_info = (__u64)(unsigned long)jited;
	info.nr_func_info = n_funcs;
	info.func_info_rec_size = sizeof(*funcs);
	info.func_info = (__u64)(unsigned long)funcs;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "jitlines: program %u: %s\n", id, strerror(errno));
		return 1;
	}
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf) {
		fprintf(stderr, "jitlines: BTF %u: %s\n", info.btf_id, strerror(errno));
		return 1;
	}
	for (i = 0; i < n_lines; i++) {
		e[i].addr = jited[i];
		e[i].insn_off = lines[i].insn_off;
		e[i].file = btf__name_by_offset(btf, lines[i].file_name_off);
		e[i].line = btf__name_by_offset(btf, lines[i].line_off);
		e[i].line_no = BPF_LINE_INFO_LINE_NUM(lines[i].line_col);
	}
	qsort(e, n_lines, sizeof(*e), by_addr);
	for (i = 0; i < n_lines; i++) {
		const char *func = "?", *file = e[i].file ? strrchr(e[i].file, '/') : NULL;
		const char *text = e[i].line ? e[i].line : "";

		/* the subprogram whose first instruction is the last at or before this line's */
		for (f = 0; f < n_funcs; f++) {
			if (funcs[f].insn_off <= e[i].insn_off) {
				const struct btf_type *t = btf__type_by_id(btf, funcs[f].type_id);

				func = t ? btf__name_by_offset(btf, t->name_off) : "?";
			}
		}
		while (*text == ' ' || *text == '\t')
			text++;
		printf("%llx\t%s\t%s:%u\t%s\n", (unsigned long long)e[i].addr, func,
		       file ? file + 1 : (e[i].file ? e[i].file : "?"), e[i].line_no, text);
	}
	btf__free(btf);
	return 0;
}
