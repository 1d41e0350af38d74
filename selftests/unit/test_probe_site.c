// SPDX-License-Identifier: Apache-2.0
/*
 * source/probe_site.c: where the probes of a function go. Each function below was written in
 * assembly for this test (the listing is beside its bytes) in the shapes compilers give the
 * probed functions: gcc's stack protector around a call (OpenSSL's SSL_read and SSL_write in
 * Debian's build), a cmov before the return (SSL_read_ex), a CET prologue, a tail call, an
 * argument register overwritten first, a loop back into the prologue, a conditional jump
 * before a return that is not a dead end, and Go prologues (their stack checks recognised for
 * the Go entry probes' test of a call bound for runtime.morestack). The real libssl under the real
 * kernel is in selftests/integration/test_tls_*.sh (what it reads must not change) and the
 * cost is in selftests/bench/tls.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source/capstone_dl.h"
#include "source/probe_site.h"

#define B 0x35000ull /* where the function is in its file */

/*
 *  0 sub $0x18,%rsp; 4 mov %fs:0x28,%rax; d mov %rax,8(%rsp); 12 xor %eax,%eax;
 * 14 test %edx,%edx; 16 js 3e; 18 mov %rsp,%rcx; 1b call; 20 test %eax,%eax; 22 jle 27;
 * 24 mov (%rsp),%eax; 27 mov 8(%rsp),%rdx; 2c sub %fs:0x28,%rdx; 35 jne 45;
 * 37 add $0x18,%rsp; 3b xor %edx,%edx; 3d ret; 3e mov $-1,%eax; 43 jmp 27; 45 call (last)
 */
static const uint8_t stack_protector[] = {
    0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, 0x48, 0x89,
    0x44, 0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x78, 0x26, 0x48, 0x89, 0xe1, 0xe8, 0x00, 0x00,
    0x00, 0x00, 0x85, 0xc0, 0x7e, 0x03, 0x8b, 0x04, 0x24, 0x48, 0x8b, 0x54, 0x24, 0x08, 0x64,
    0x48, 0x2b, 0x14, 0x25, 0x28, 0x00, 0x00, 0x00, 0x75, 0x0e, 0x48, 0x83, 0xc4, 0x18, 0x31,
    0xd2, 0xc3, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xeb, 0xe2, 0xe8, 0x00, 0x00, 0x00, 0x00};

/* 0 sub $8,%rsp; 4 call; 9 xor %edx,%edx; b test %eax,%eax; d cmovs %edx,%eax;
 * 10 add $8,%rsp; 14 ret */
static const uint8_t cmov_before_ret[] = {0x48, 0x83, 0xec, 0x08, 0xe8, 0xf7, 0xff,
					  0xff, 0xff, 0x31, 0xd2, 0x85, 0xc0, 0x0f,
					  0x48, 0xc2, 0x48, 0x83, 0xc4, 0x08, 0xc3};

/* 0 endbr64; 4 push %rbp; 5 mov %rsp,%rbp; 8 mov %edi,%eax; a pop %rbp; b ret */
static const uint8_t cet_push[] = {0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48,
				   0x89, 0xe5, 0x89, 0xf8, 0x5d, 0xc3};

/* 0 sub $8,%rsp; 4 test %edi,%edi; 6 je e; 8 add $8,%rsp; c jmp (out: a tail call);
 * e add $8,%rsp; 12 ret */
static const uint8_t tail_call[] = {0x48, 0x83, 0xec, 0x08, 0x85, 0xff, 0x74, 0x06, 0x48, 0x83,
				    0xc4, 0x08, 0xeb, 0x87, 0x48, 0x83, 0xc4, 0x08, 0xc3};

/* 0 sub $8,%rsp; 4 mov $0,%edi; 9 test %edi,%edi; b je d; d add $8,%rsp; 11 ret */
static const uint8_t arg_overwritten[] = {0x48, 0x83, 0xec, 0x08, 0xbf, 0x00, 0x00, 0x00, 0x00,
					  0x85, 0xff, 0x74, 0x00, 0x48, 0x83, 0xc4, 0x08, 0xc3};

/* 0 sub $8,%rsp; 4 test %edi,%edi (a jump lands here); 6 jne c; 8 dec %edi; a jmp 4;
 * c add $8,%rsp; 10 ret */
static const uint8_t loop_in_prologue[] = {0x48, 0x83, 0xec, 0x08, 0x85, 0xff, 0x75, 0x04, 0xff,
					   0xcf, 0xeb, 0xf8, 0x48, 0x83, 0xc4, 0x08, 0xc3};

/* 0 sub $8,%rsp; 4 test %edi,%edi; 6 js 20; 8 call; d test %eax,%eax; f jle 16;
 * 11 add $8,%rsp; 15 ret; 16 mov $-1,%eax; 1b add $8,%rsp; 1f ret; 20 xor %eax,%eax;
 * 22 add $8,%rsp; 26 ret */
static const uint8_t jcc_not_dead_end[] = {
    0x48, 0x83, 0xec, 0x08, 0x85, 0xff, 0x78, 0x18, 0xe8, 0xf3, 0xff, 0xff, 0xff,
    0x85, 0xc0, 0x7e, 0x05, 0x48, 0x83, 0xc4, 0x08, 0xc3, 0xb8, 0xff, 0xff, 0xff,
    0xff, 0x48, 0x83, 0xc4, 0x08, 0xc3, 0x31, 0xc0, 0x48, 0x83, 0xc4, 0x08, 0xc3};

/* 0 cmp 0x10(%r14),%rsp; 4 jbe 17; 6 push %rbp; 7 mov %rsp,%rbp; a sub $0x20,%rsp;
 * e mov %rbx,%rax; 11 add $0x20,%rsp; 15 pop %rbp; 16 ret; 17 call; 1c jmp 0 */
static const uint8_t go_prologue[] = {0x49, 0x3b, 0x66, 0x10, 0x76, 0x11, 0x55, 0x48, 0x89, 0xe5,
				      0x48, 0x83, 0xec, 0x20, 0x48, 0x89, 0xd8, 0x48, 0x83, 0xc4,
				      0x20, 0x5d, 0xc3, 0xe8, 0xe4, 0xff, 0xff, 0xff, 0xeb, 0xe2};

/* crypto/tls.(*Conn).Write's start in go1.26.8 (a frame above StackSmall): 0 lea -0x48(%rsp),
 * %r12; 5 cmp 0x10(%r14),%r12; 9 jbe (rel32); f push %rbp */
static const uint8_t go_write_prologue[] = {0x4c, 0x8d, 0x64, 0x24, 0xb8, 0x4d, 0x3b, 0x66,
					    0x10, 0x0f, 0x86, 0x93, 0x07, 0x00, 0x00, 0x55};

/* A frame above StackBig (two comparisons, the first a jb): 0 mov %rsp,%r12;
 * 3 sub $0x2000,%r12; a jb; c cmp 0x10(%r14),%r12; 10 jbe; 12 push %rbp */
static const uint8_t go_big_prologue[] = {0x49, 0x89, 0xe4, 0x49, 0x81, 0xec, 0x00,
					  0x20, 0x00, 0x00, 0x72, 0x10, 0x4d, 0x3b,
					  0x66, 0x10, 0x76, 0x0c, 0x55};

static struct probe_plan plan(const uint8_t *code, size_t len, bool want_ret)
{
	struct probe_plan pl;

	assert_int_equal(
	    probe_site_plan(code, len, B, PROBE_REG_ARGS, PROBE_REG_RAX, want_ret, &pl), 0);
	return pl;
}

/* What every plan must be: on an instruction of the function, the return either way. */
static void assert_sane(const struct probe_plan *pl, size_t len, bool want_ret)
{
	assert_true(pl->entry >= B && pl->entry < B + len);
	if (!want_ret)
		return;
	assert_true(pl->ret_at_entry || pl->n_rets > 0);
	for (size_t k = 0; k < pl->n_rets; k++)
		assert_true(pl->rets[k] >= B && pl->rets[k] < B + len);
}

static void assert_first_insn(const struct probe_plan *pl, bool want_ret)
{
	assert_int_equal(pl->entry, B);
	assert_int_equal(pl->ret_at_entry, want_ret);
	assert_int_equal(pl->n_rets, 0);
}

static void test_stack_protector(void **state)
{
	struct probe_plan pl = plan(stack_protector, sizeof(stack_protector), true);
	unsigned emu, step;

	assert_sane(&pl, sizeof(stack_protector), true);
	/* The first jump: the arguments are as they came, the stack is not. */
	assert_int_equal(pl.entry, B + 0x16);
	assert_true(pl.entry_emulated);
	assert_false(pl.ret_at_entry);
	/* The return: the check's jne, whose other way is the failure call at the end; EAX is
	 * the result there, nothing after it writes it and no jump lands after it. */
	assert_int_equal(pl.n_rets, 1);
	assert_int_equal(pl.rets[0], B + 0x35);
	assert_true(pl.rets_emulated[0]);
	probe_plan_costs(&pl, true, &emu, &step);
	assert_int_equal(emu, 2);
	assert_int_equal(step, 0);
	/* Without the return: the same entry. */
	pl = plan(stack_protector, sizeof(stack_protector), false);
	assert_int_equal(pl.entry, B + 0x16);
	/* With the result register kept in RDX instead, the xor before the RET writes it: no
	 * cheaper return than the RET, so the first instruction and a uretprobe. */
	assert_int_equal(probe_site_plan(stack_protector, sizeof(stack_protector), B,
					 PROBE_REG_ARGS, PROBE_REG_RDX, true, &pl),
			 0);
	assert_first_insn(&pl, true);
}

static void test_cmov_before_ret(void **state)
{
	struct probe_plan pl = plan(cmov_before_ret, sizeof(cmov_before_ret), true);
	unsigned emu, step;

	/* The call at 4 would do for the entry, but the cmov writes EAX just before the RET:
	 * only the RET itself is left, a single step as costly as the first instruction's. */
	assert_first_insn(&pl, true);
	assert_false(pl.entry_emulated);
	probe_plan_costs(&pl, true, &emu, &step);
	assert_int_equal(emu, 0);
	assert_int_equal(step, 1);
	/* Entry only: the call. */
	pl = plan(cmov_before_ret, sizeof(cmov_before_ret), false);
	assert_int_equal(pl.entry, B + 4);
	assert_true(pl.entry_emulated);
}

static void test_cet_push(void **state)
{
	struct probe_plan pl = plan(cet_push, sizeof(cet_push), true);

	/* endbr64 changes nothing: the push after it is emulated and the return address is
	 * still on top of the stack there, so the uretprobe goes with it. */
	assert_int_equal(pl.entry, B + 4);
	assert_true(pl.entry_emulated);
	assert_true(pl.ret_at_entry);
}

static void test_tail_call(void **state)
{
	struct probe_plan pl = plan(tail_call, sizeof(tail_call), true);

	/* A jump out of the function returns without a RET of it: a uretprobe only. */
	assert_first_insn(&pl, true);
	pl = plan(tail_call, sizeof(tail_call), false);
	assert_int_equal(pl.entry, B + 6);
}

static void test_arg_overwritten(void **state)
{
	struct probe_plan pl = plan(arg_overwritten, sizeof(arg_overwritten), false);

	/* RDI is written before the first jump: a probe there would read the wrong value. */
	assert_first_insn(&pl, false);
	/* When the probe does not read RDI, the jump will do. */
	assert_int_equal(probe_site_plan(arg_overwritten, sizeof(arg_overwritten), B, PROBE_REG_RSI,
					 PROBE_REG_RAX, false, &pl),
			 0);
	assert_int_equal(pl.entry, B + 0xb);
}

static void test_loop_in_prologue(void **state)
{
	struct probe_plan pl = plan(loop_in_prologue, sizeof(loop_in_prologue), false);

	/* A jump lands before the first jump: a probe there would fire once per loop. */
	assert_first_insn(&pl, false);
}

static void test_jcc_not_dead_end(void **state)
{
	struct probe_plan pl = plan(jcc_not_dead_end, sizeof(jcc_not_dead_end), true);

	/* The jle before the first RET goes on to another return with another EAX: not a
	 * return site. The RETs themselves cost what the first instruction costs. */
	assert_first_insn(&pl, true);
	assert_sane(&pl, sizeof(jcc_not_dead_end), true);
}

static void test_go_prologue(void **state)
{
	struct probe_plan pl;

	assert_int_equal(
	    probe_site_plan(go_prologue, sizeof(go_prologue), B,
			    PROBE_REG_RAX | PROBE_REG_RBX | PROBE_REG_RCX | PROBE_REG_R14,
			    PROBE_REG_RAX | PROBE_REG_R14, false, &pl),
	    0);
	/* The stack check's jbe: R14 and the argument registers are untouched before it. */
	assert_int_equal(pl.entry, B + 4);
	assert_true(pl.entry_emulated);
}

static void test_go_stack_check(void **state)
{
	struct go_stack_check sc;
	struct probe_plan pl;
	uint8_t other[sizeof(go_prologue)];

	/* The small frame's check: rsp itself against g.stackguard0. */
	assert_int_equal(probe_site_go_stack_check(go_prologue, sizeof(go_prologue), B, &sc), 0);
	assert_int_equal(sc.jbe, B + 4);
	assert_int_equal(sc.sp_below, 0);
	assert_int_equal(sc.guard_disp, 0x10);
	/* The lea form (a rel32 jbe), and the plan's entry is that jbe: the BPF side then reads
	 * the cmp's flags. */
	assert_int_equal(
	    probe_site_go_stack_check(go_write_prologue, sizeof(go_write_prologue), B, &sc), 0);
	assert_int_equal(sc.jbe, B + 9);
	assert_int_equal(sc.sp_below, 0x48);
	assert_int_equal(sc.guard_disp, 0x10);
	assert_int_equal(
	    probe_site_plan(go_write_prologue, sizeof(go_write_prologue), B,
			    PROBE_REG_RAX | PROBE_REG_RBX | PROBE_REG_RCX | PROBE_REG_R14,
			    PROBE_REG_RAX | PROBE_REG_R14, false, &pl),
	    0);
	assert_int_equal(pl.entry, sc.jbe);
	/* Two comparisons: not recognised (the plan's first emulated instruction would be the
	 * jb, whose flags mean something else). */
	assert_int_equal(
	    probe_site_go_stack_check(go_big_prologue, sizeof(go_big_prologue), B, &sc), -1);
	assert_int_equal(sc.jbe, 0);
	/* Not Go's check: another base register, another jump, code cut before the jbe, none. */
	memcpy(other, go_prologue, sizeof(other));
	other[2] = 0x67; /* cmp 0x10(%r15),%rsp */
	assert_int_equal(probe_site_go_stack_check(other, sizeof(other), B, &sc), -1);
	memcpy(other, go_prologue, sizeof(other));
	other[4] = 0x72; /* jb */
	assert_int_equal(probe_site_go_stack_check(other, sizeof(other), B, &sc), -1);
	assert_int_equal(probe_site_go_stack_check(go_prologue, 5, B, &sc), -1);
	assert_int_equal(
	    probe_site_go_stack_check(stack_protector, sizeof(stack_protector), B, &sc), -1);
	assert_int_equal(probe_site_go_stack_check(go_prologue, 0, B, &sc), -1);
}

static void test_bad_code(void **state)
{
	static const uint8_t bad[] = {0xff, 0xff, 0xff, 0xff};
	struct probe_plan pl;
	uint8_t cut[sizeof(stack_protector)];

	/* Nothing decodable, or nothing at all: the first instruction, as without a plan. */
	assert_int_equal(
	    probe_site_plan(bad, sizeof(bad), B, PROBE_REG_ARGS, PROBE_REG_RAX, true, &pl), -1);
	assert_first_insn(&pl, true);
	assert_int_equal(probe_site_plan(bad, 0, B, PROBE_REG_ARGS, PROBE_REG_RAX, true, &pl), -1);
	assert_first_insn(&pl, true);
	/* Undecodable bytes before the RET: its return could go unseen, so no return sites. */
	memcpy(cut, stack_protector, sizeof(cut));
	cut[0x3d] = 0xff;
	cut[0x3e] = 0xff;
	pl = plan(cut, sizeof(cut), true);
	assert_sane(&pl, sizeof(cut), true);
	assert_true(pl.ret_at_entry);
	/* Every cut of the function still gives a sane plan. */
	for (size_t n = 1; n <= sizeof(stack_protector); n++) {
		if (probe_site_plan(stack_protector, n, B, PROBE_REG_ARGS, PROBE_REG_RAX, true,
				    &pl) == 0)
			assert_sane(&pl, n, true);
		else
			assert_first_insn(&pl, true);
	}
}

/* Whether the process maps libcapstone now (the kernel's view, not the module's own). */
static bool capstone_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "libcapstone") != NULL;
	fclose(f);
	return found;
}

/* Capstone is mapped only while a placement runs (capstone_dl.h): not at start, not after
 * a plan, and a held reference keeps it across plans. */
static void test_capstone_unloaded(void **state)
{
	struct probe_plan pl;
	const struct capstone_dl *held;
	size_t n = sizeof(stack_protector);

	assert_false(capstone_mapped());
	assert_int_equal(probe_site_plan(stack_protector, n, B, PROBE_REG_ARGS, PROBE_REG_RAX,
					 true, &pl),
			 0);
	assert_false(capstone_loaded());
	assert_false(capstone_mapped());
	held = capstone_get();
	assert_non_null(held);
	assert_true(capstone_mapped());
	assert_int_equal(probe_site_first(stack_protector, n, B, true, &pl), 0);
	assert_true(capstone_loaded());
	assert_true(capstone_mapped());
	capstone_put(held);
	assert_false(capstone_loaded());
	assert_false(capstone_mapped());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stack_protector),  cmocka_unit_test(test_cmov_before_ret),
	    cmocka_unit_test(test_cet_push),	     cmocka_unit_test(test_tail_call),
	    cmocka_unit_test(test_arg_overwritten),  cmocka_unit_test(test_loop_in_prologue),
	    cmocka_unit_test(test_jcc_not_dead_end), cmocka_unit_test(test_go_prologue),
	    cmocka_unit_test(test_go_stack_check),
	    cmocka_unit_test(test_bad_code),
	    cmocka_unit_test(test_capstone_unloaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
