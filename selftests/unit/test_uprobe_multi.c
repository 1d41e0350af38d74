// SPDX-License-Identifier: Apache-2.0
/*
 * source/uprobe_multi.c: how a file's probe points are grouped into links (one per program and
 * kind), and, as root on a kernel that has them (Linux >= 6.6), one real uprobe_multi link on
 * two functions of this test's own program: each call counted under its offset's cookie, the
 * return flag honoured, nothing counted once the link is closed. floe's own probes through it
 * are in selftests/integration/test_tls_*.sh (their *_perf.sh runs: the fallback).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "source/uprobe_multi.h"

/* x86-64's struct pt_regs: ax after r15 r14 r13 r12 bp bx r11 r10 r9 r8 (uapi ptrace.h). */
#define PT_REGS_AX (10 * 8)

static void test_group(void **state)
{
	/* Go's shape: Write, Read, Close entries, then RETs of Read and of Write (uprobes). */
	int w, r, c, rr, wr;
	const void *go[] = {&w, &r, &c, &rr, &rr, &rr, &wr, &wr};
	const bool go_ret[8] = {false};
	uint32_t g[8];
	const uint32_t go_want[] = {0, 1, 2, 3, 3, 3, 4, 4};

	(void)state;
	assert_int_equal(uprobe_multi_group(go, go_ret, 8, g), 5);
	assert_memory_equal(g, go_want, sizeof(go_want));

	/* OpenSSL's: one return program as a uretprobe on some functions and as uprobes on the
	 * return sites of others: one link each kind. */
	int rd, ret, wt;
	const void *ssl[] = {&rd, &ret, &ret, &wt, &ret, &ret};
	const bool ssl_ret[] = {false, true, false, false, false, true};
	uint32_t h[6];
	const uint32_t ssl_want[] = {0, 1, 2, 3, 2, 1};

	assert_int_equal(uprobe_multi_group(ssl, ssl_ret, 6, h), 4);
	assert_memory_equal(h, ssl_want, sizeof(ssl_want));
	assert_int_equal(uprobe_multi_group(ssl, ssl_ret, 0, h), 0);
}

/* The probed functions: not inlined, not merged, each call seen. */
__attribute__((noinline)) int um_target_a(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) int um_target_b(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3;
}

/* Where fn is in this program's file (its offset), from /proc/self/maps. 0 if not found. */
static uint64_t file_offset(const void *fn)
{
	uintptr_t a = (uintptr_t)fn;
	unsigned long start, end, off;
	char line[512];
	uint64_t res = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 && a >= start &&
		    a < end) {
			res = a - start + off;
			break;
		}
	fclose(f);
	return res;
}

/* A program that adds 1 to counts[its cookie], or with cookie 3 the value in rax (a return's
 * value at a return; something else at an entry): bpf_get_attach_cookie, map lookup, atomic
 * add. */
static int counting_prog(int map_fd)
{
	const struct bpf_insn insns[] = {
	    /* r6 = ctx; r0 = bpf_get_attach_cookie(ctx); r7 = r0 */
	    {.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1},
	    {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_attach_cookie},
	    {.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_7, .src_reg = BPF_REG_0},
	    /* *(u32 *)(r10 - 4) = r0 */
	    {.code = BPF_STX | BPF_MEM | BPF_W,
	     .dst_reg = BPF_REG_10,
	     .src_reg = BPF_REG_0,
	     .off = -4},
	    /* r1 = map */
	    {.code = BPF_LD | BPF_DW | BPF_IMM,
	     .dst_reg = BPF_REG_1,
	     .src_reg = BPF_PSEUDO_MAP_FD,
	     .imm = map_fd},
	    {0},
	    /* r2 = r10 - 4 */
	    {.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10},
	    {.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4},
	    {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem},
	    /* if r0 == 0 goto out */
	    {.code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = 4, .imm = 0},
	    /* r1 = 1, or with cookie 3 ((struct pt_regs *)ctx)->ax */
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1},
	    {.code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_7, .off = 1, .imm = 3},
	    {.code = BPF_LDX | BPF_MEM | BPF_DW,
	     .dst_reg = BPF_REG_1,
	     .src_reg = BPF_REG_6,
	     .off = PT_REGS_AX},
	    /* lock *(u64 *)(r0 + 0) += r1 */
	    {.code = BPF_STX | BPF_ATOMIC | BPF_DW,
	     .dst_reg = BPF_REG_0,
	     .src_reg = BPF_REG_1,
	     .imm = BPF_ADD},
	    /* out: return 0 */
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = FLOE_BPF_TRACE_UPROBE_MULTI);

	return bpf_prog_load(BPF_PROG_TYPE_KPROBE, "um_count", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &o);
}

static uint64_t count_of(int map_fd, uint32_t cookie)
{
	uint64_t v = 0;

	assert_int_equal(bpf_map_lookup_elem(map_fd, &cookie, &v), 0);
	return v;
}

static void test_kernel_link(void **state)
{
	int (*volatile call_a)(int) = um_target_a, (*volatile call_b)(int) = um_target_b;
	uint64_t offs[2], cookies[2] = {1, 2}, ret_cookie = 3;
	int map, prog, entries, rets, sum = 0;

	(void)state;
	if (geteuid() != 0 || !uprobe_multi_supported()) {
		fprintf(stderr, "  (not root, or no uprobe_multi links in this kernel: skipped)\n");
		skip();
	}
	offs[0] = file_offset((const void *)um_target_a);
	offs[1] = file_offset((const void *)um_target_b);
	assert_true(offs[0] && offs[1]);
	map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "um_counts", 4, 8, 4, NULL);
	assert_true(map >= 0);
	prog = counting_prog(map);
	assert_true(prog >= 0);

	entries = uprobe_multi_attach(prog, "/proc/self/exe", offs, cookies, 2, false, getpid());
	assert_true(entries >= 0);
	rets = uprobe_multi_attach(prog, "/proc/self/exe", offs, &ret_cookie, 1, true, 0);
	assert_true(rets >= 0);
	for (int i = 10; i <= 30; i += 10)
		sum += call_a(i);
	for (int i = 0; i < 2; i++)
		sum += call_b(i);
	assert_int_equal(count_of(map, 1), 3);		  /* a's entries */
	assert_int_equal(count_of(map, 2), 2);		  /* b's entries */
	assert_int_equal(count_of(map, 3), 11 + 21 + 31); /* a's returns: their values */
	assert_int_equal(count_of(map, 0), 0);

	close(entries);
	close(rets);
	sum += call_a(1) + call_b(1);
	assert_int_equal(count_of(map, 1), 3);
	assert_int_equal(count_of(map, 2), 2);
	assert_int_equal(count_of(map, 3), 11 + 21 + 31);

	/* Not a regular file: refused as the support probe expects. */
	assert_int_equal(uprobe_multi_attach(prog, "/", offs, NULL, 1, false, 0), -EBADF);
	assert_int_equal(uprobe_multi_attach(prog, "/proc/self/exe", offs, NULL, 0, false, 0),
			 -EINVAL);
	close(prog);
	close(map);
	assert_true(sum > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_group),
	    cmocka_unit_test(test_kernel_link),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
