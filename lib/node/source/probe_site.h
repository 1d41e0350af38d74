/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_site: where in a function a uprobe costs least (x86-64; docs/tls.md, "Where the
 * probes sit").
 *
 * A uprobe replaces one instruction with a breakpoint. When it fires, the kernel either
 * emulates the instruction it replaced (direct jumps, conditional jumps, direct calls, push of
 * a register, the one-byte nop: cheap) or copies it out of line and single-steps it (every
 * other instruction: a second trap). Measured on this project's VM (docs/bench.md, "TLS in
 * plaintext"): ~1.3 us per hit when emulated, ~55 us when single-stepped, because the
 * hypervisor makes the debug trap of a single step expensive. OpenSSL's SSL_read starts with
 * `sub $0x18,%rsp`, so a probe on its first instruction is single-stepped on every call.
 *
 * This module finds, from the function's code (Capstone):
 *   - an entry site: the first emulated instruction on the straight-line path from the start
 *     that every call passes, before which no instruction writes the argument registers the
 *     probe reads (keep_entry). If the stack pointer is not changed before it either, the
 *     return address is still on top of the stack there and a uretprobe may sit on it too.
 *   - return sites, when the entry site is past a stack change (a uretprobe there would take
 *     the wrong return address): for each RET, the latest emulated instruction on the way to it
 *     after which nothing writes the result registers (keep_ret), no branch lands and no path
 *     leaves but into a dead end (the stack protector's call to __stack_chk_fail at the end of
 *     the function); the RET itself when there is none.
 * A function that can leave other than through one of its RETs (a jump out of it: a tail
 * call; an indirect jump) gets no return sites: the caller keeps the first instruction and a
 * uretprobe. The choice of site never changes what is read, only what a hit costs; an
 * instruction this kernel does not emulate is single-stepped, as before.
 *
 *   struct probe_plan pl;
 *   probe_site_plan(code, size, file_off, PROBE_REG_ARGS, PROBE_REG_RAX, true, &pl);
 *   attach the entry at pl.entry; pl.ret_at_entry ? uretprobe at pl.entry : uprobes at pl.rets[]
 */
#ifndef FLOE_SOURCE_PROBE_SITE_H
#define FLOE_SOURCE_PROBE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General-purpose registers, as a mask (any part of the register counts as the register). */
enum {
	PROBE_REG_RAX = 1u << 0,
	PROBE_REG_RBX = 1u << 1,
	PROBE_REG_RCX = 1u << 2,
	PROBE_REG_RDX = 1u << 3,
	PROBE_REG_RSI = 1u << 4,
	PROBE_REG_RDI = 1u << 5,
	PROBE_REG_R8 = 1u << 6,
	PROBE_REG_R9 = 1u << 7,
	PROBE_REG_R14 = 1u << 8,
	PROBE_REG_RSP = 1u << 9,
	PROBE_REG_OTHER = 1u << 10,
	/* The System V argument registers. */
	PROBE_REG_ARGS = PROBE_REG_RDI | PROBE_REG_RSI | PROBE_REG_RDX | PROBE_REG_RCX |
			 PROBE_REG_R8 | PROBE_REG_R9,
};

#define PROBE_SITE_MAX_RETS 8

struct probe_plan {
	uint64_t entry;	     /* offset (base + offset in code) of the entry probe */
	bool entry_emulated; /* the instruction there is one the kernel emulates */
	/* The return: true: a uretprobe at entry (the return address is on top of the stack
	 * there); false: uprobes at rets[0..n_rets). */
	bool ret_at_entry;
	uint64_t rets[PROBE_SITE_MAX_RETS];
	bool rets_emulated[PROBE_SITE_MAX_RETS];
	size_t n_rets;
};

/*
 * Plan the probes of one function: code is its len bytes, which start at offset base (the
 * file offset the probes are attached at). keep_entry: the registers the entry probe reads;
 * keep_ret: those the return probe reads; want_ret: the function's return is probed too.
 * Returns 0 (pl filled; at worst the first instruction and a uretprobe, as without this
 * module), or -1 when Capstone cannot be used (pl then says just that: base, ret_at_entry).
 */
int probe_site_plan(const uint8_t *code, size_t len, uint64_t base, unsigned keep_entry,
		    unsigned keep_ret, bool want_ret, struct probe_plan *pl);

/* The plan without this module: the first instruction (pl->entry = base) and, with want_ret, a
 * uretprobe there; pl->entry_emulated says whether the kernel emulates that instruction.
 * Returns 0, or -1 when it cannot be decoded (not emulated, then). */
int probe_site_first(const uint8_t *code, size_t len, uint64_t base, bool want_ret,
		     struct probe_plan *pl);

/* The sites of pl this kernel is believed to emulate, and those it single-steps (counting a
 * uretprobe's return as emulated: it returns through a system call since Linux 6.11). */
void probe_plan_costs(const struct probe_plan *pl, bool want_ret, unsigned *emulated,
		      unsigned *stepped);

/*
 * A Go function's stack check, the prologue the Go compiler (amd64, register ABI) puts first:
 *   cmp 0x10(%r14),%rsp; jbe MORESTACK                      (frames up to StackSmall)
 *   lea -X(%rsp),%r12; cmp 0x10(%r14),%r12; jbe MORESTACK   (frames up to StackBig)
 * R14 is the goroutine (g), 0x10(%r14) its stackguard0. The jbe is taken when the stack must
 * grow (or the goroutine is asked to yield): runtime.morestack then enters the function again
 * from its first instruction, so a probe before the jbe sees that call twice.
 */
struct go_stack_check {
	uint64_t jbe;	     /* offset (base + offset in code) of the check's jbe */
	uint32_t sp_below;   /* what is compared is rsp - sp_below (X above; 0 for the cmp form) */
	uint32_t guard_disp; /* the guard's offset in g (0x10: g.stackguard0) */
};

/* Recognise the stack check at the start of code (len bytes at offset base). Returns 0 (sc
 * filled) or -1: not one of the two forms (a larger frame's check, which compares twice; no
 * check at all: a nosplit function), or Capstone cannot be used. */
int probe_site_go_stack_check(const uint8_t *code, size_t len, uint64_t base,
			      struct go_stack_check *sc);

#endif /* FLOE_SOURCE_PROBE_SITE_H */
