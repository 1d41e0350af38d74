// SPDX-License-Identifier: Apache-2.0
#include "source/probe_site.h"

#include "source/capstone_dl.h"

#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>

/* Functions longer than this are not looked into (the probed ones are a few hundred bytes). */
#define CODE_MAX (64u << 10)
/* How far from the start an entry site may be. */
#define ENTRY_WALK_MAX 32

struct fn {
	const struct capstone_dl *cs;
	csh h;
	cs_insn *in;
	size_t n;
	uint64_t base, end;
	uint64_t *targets; /* the direct jumps' targets, sorted */
	size_t n_targets;
};

static unsigned reg_bit(unsigned r)
{
	switch (r) {
	case X86_REG_RAX:
	case X86_REG_EAX:
	case X86_REG_AX:
	case X86_REG_AL:
	case X86_REG_AH:
		return PROBE_REG_RAX;
	case X86_REG_RBX:
	case X86_REG_EBX:
	case X86_REG_BX:
	case X86_REG_BL:
	case X86_REG_BH:
		return PROBE_REG_RBX;
	case X86_REG_RCX:
	case X86_REG_ECX:
	case X86_REG_CX:
	case X86_REG_CL:
	case X86_REG_CH:
		return PROBE_REG_RCX;
	case X86_REG_RDX:
	case X86_REG_EDX:
	case X86_REG_DX:
	case X86_REG_DL:
	case X86_REG_DH:
		return PROBE_REG_RDX;
	case X86_REG_RSI:
	case X86_REG_ESI:
	case X86_REG_SI:
	case X86_REG_SIL:
		return PROBE_REG_RSI;
	case X86_REG_RDI:
	case X86_REG_EDI:
	case X86_REG_DI:
	case X86_REG_DIL:
		return PROBE_REG_RDI;
	case X86_REG_R8:
	case X86_REG_R8D:
	case X86_REG_R8W:
	case X86_REG_R8B:
		return PROBE_REG_R8;
	case X86_REG_R9:
	case X86_REG_R9D:
	case X86_REG_R9W:
	case X86_REG_R9B:
		return PROBE_REG_R9;
	case X86_REG_R14:
	case X86_REG_R14D:
	case X86_REG_R14W:
	case X86_REG_R14B:
		return PROBE_REG_R14;
	case X86_REG_RSP:
	case X86_REG_ESP:
	case X86_REG_SP:
	case X86_REG_SPL:
		return PROBE_REG_RSP;
	default:
		return PROBE_REG_OTHER;
	}
}

/* The registers insn writes, explicitly or not (a call's clobbers are not in it: calls end
 * every walk here). Unknown: everything. */
static unsigned regs_written(const struct fn *f, const cs_insn *insn)
{
	cs_regs rd, wr;
	uint8_t nr = 0, nw = 0;
	unsigned m = 0;

	if (f->cs->regs_access(f->h, insn, rd, &nr, wr, &nw) != CS_ERR_OK)
		return ~0u;
	for (uint8_t i = 0; i < nw; i++)
		m |= reg_bit(wr[i]);
	return m;
}

/* Instructions the x86 uprobe code emulates instead of single-stepping (arch/x86/kernel/
 * uprobes.c: branch_setup_xol_ops, push_setup_xol_ops, and the one-byte nop), without
 * prefixes, which make it fall back to a single step. Measured: docs/bench.md. */
static bool is_jcc(const cs_insn *i)
{
	const uint8_t *b = i->bytes;

	return (i->size == 2 && b[0] >= 0x70 && b[0] <= 0x7f) ||
	       (i->size == 6 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f);
}

static bool is_emulated(const cs_insn *i)
{
	const uint8_t *b = i->bytes;

	return is_jcc(i) || (i->size == 2 && b[0] == 0xeb) || (i->size == 5 && b[0] == 0xe9) ||
	       (i->size == 5 && b[0] == 0xe8) || (i->size == 1 && b[0] >= 0x50 && b[0] <= 0x57) ||
	       (i->size == 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) ||
	       (i->size == 1 && b[0] == 0x90);
}

static bool in_group(const cs_insn *i, uint8_t g)
{
	for (uint8_t k = 0; i->detail && k < i->detail->groups_count; k++)
		if (i->detail->groups[k] == g)
			return true;
	return false;
}

static bool is_branch(const cs_insn *i)
{
	return in_group(i, CS_GRP_JUMP) || in_group(i, CS_GRP_CALL) || in_group(i, CS_GRP_RET) ||
	       in_group(i, CS_GRP_INT) || in_group(i, CS_GRP_IRET) || i->id == X86_INS_UD2 ||
	       i->id == X86_INS_HLT || i->id == X86_INS_SYSCALL;
}

/* A jump's or call's target when it is direct (an immediate), else false. */
static bool direct_target(const cs_insn *i, uint64_t *t)
{
	const cs_x86 *x = &i->detail->x86;

	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*t = (uint64_t)x->operands[0].imm;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Collect the direct jumps' targets (f->targets). Returns -1 when out of memory. */
static int find_targets(struct fn *f)
{
	uint64_t t;

	f->targets = malloc(f->n * sizeof(*f->targets));
	if (!f->targets)
		return -1;
	for (size_t k = 0; k < f->n; k++)
		if (in_group(&f->in[k], CS_GRP_JUMP) && direct_target(&f->in[k], &t))
			f->targets[f->n_targets++] = t;
	qsort(f->targets, f->n_targets, sizeof(*f->targets), cmp_u64);
	return 0;
}

/* Some direct jump of the function lands at address a. */
static bool is_target(const struct fn *f, uint64_t a)
{
	return bsearch(&a, f->targets, f->n_targets, sizeof(a), cmp_u64) != NULL;
}

static size_t index_of(const struct fn *f, uint64_t a)
{
	for (size_t k = 0; k < f->n; k++)
		if (f->in[k].address == a)
			return k;
	return f->n;
}

static bool is_padding(const cs_insn *i)
{
	return i->id == X86_INS_NOP || i->id == X86_INS_INT3 ||
	       (i->id == X86_INS_XCHG && i->size <= 2 && i->bytes[i->size - 1] == 0x90);
}

/* Code at a that never comes back: a call (or trap) with only padding after it to the end of
 * the function (gcc's stack-protector failure path: `call __stack_chk_fail` last), or a trap. */
static bool dead_end(const struct fn *f, uint64_t a)
{
	size_t k = index_of(f, a);

	if (k >= f->n)
		return false;
	if (f->in[k].id == X86_INS_UD2 || f->in[k].id == X86_INS_HLT || f->in[k].id == X86_INS_INT3)
		return true;
	if (!in_group(&f->in[k], CS_GRP_CALL))
		return false;
	for (size_t j = k + 1; j < f->n; j++)
		if (!is_padding(&f->in[j]))
			return false;
	return true;
}

/* The entry site: an index in f->in; *stack_intact: RSP unchanged before it. */
static size_t entry_site(const struct fn *f, unsigned keep, bool *stack_intact)
{
	unsigned written = 0;

	for (size_t i = 0; i < f->n && i < ENTRY_WALK_MAX; i++) {
		const cs_insn *in = &f->in[i];

		if (i > 0 && is_target(f, in->address))
			break;
		if (is_emulated(in)) {
			*stack_intact = !(written & PROBE_REG_RSP);
			return i;
		}
		if (is_branch(in))
			break;
		written |= regs_written(f, in);
		if (written & keep)
			break;
	}
	*stack_intact = true;
	return 0;
}

/* Return sites into pl->rets; false when some way out of the function is not a RET of it. */
static bool return_sites(const struct fn *f, unsigned keep, struct probe_plan *pl)
{
	uint64_t t;
	const cs_insn *last = &f->in[f->n - 1];

	pl->n_rets = 0;
	/* Bytes Capstone could not decode end the list: a RET past them would go unprobed. */
	if (last->address + last->size != f->end)
		return false;
	for (size_t r = 0; r < f->n; r++) {
		const cs_insn *in = &f->in[r];
		size_t site = r;

		if (in_group(in, CS_GRP_JUMP)) {
			/* A jump out of the function (a tail call) or one whose target is not
			 * known (a jump table, a tail call through a pointer). */
			if (!direct_target(in, &t) || t < f->base || t >= f->end)
				return false;
			continue;
		}
		if (!in_group(in, CS_GRP_RET))
			continue;
		for (size_t j = r; j-- > 0;) {
			const cs_insn *c = &f->in[j];

			if (is_target(f, f->in[j + 1].address))
				break;
			if (is_emulated(c) && !is_branch(c)) { /* push, nop */
				site = j;
				break;
			}
			/* A conditional jump whose other way never comes back: whatever reaches
			 * it goes on to this RET. */
			if (is_jcc(c) && direct_target(c, &t) && dead_end(f, t)) {
				site = j;
				break;
			}
			if (is_branch(c) || (regs_written(f, c) & keep))
				break;
		}
		if (pl->n_rets >= PROBE_SITE_MAX_RETS)
			return false;
		pl->rets[pl->n_rets] = f->in[site].address;
		pl->rets_emulated[pl->n_rets] = site != r && is_emulated(&f->in[site]);
		pl->n_rets++;
	}
	return pl->n_rets > 0;
}

int probe_site_first(const uint8_t *code, size_t len, uint64_t base, bool want_ret,
		     struct probe_plan *pl)
{
	const struct capstone_dl *cs;
	csh h;
	cs_insn *in;
	size_t n = 0;

	memset(pl, 0, sizeof(*pl));
	pl->entry = base;
	pl->ret_at_entry = want_ret;
	if (!len || !(cs = capstone_get()))
		return -1;
	if (cs->open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK) {
		n = cs->disasm(h, code, len < 16 ? len : 16, base, 1, &in);
		if (n) {
			pl->entry_emulated = is_emulated(in);
			cs->free(in, n);
		}
		cs->close(&h);
	}
	capstone_put(cs);
	return n ? 0 : -1;
}

int probe_site_plan(const uint8_t *code, size_t len, uint64_t base, unsigned keep_entry,
		    unsigned keep_ret, bool want_ret, struct probe_plan *pl)
{
	struct fn f = {.base = base, .end = base + len};
	size_t e;
	bool intact;
	unsigned classic_steps, steps = 0;

	memset(pl, 0, sizeof(*pl));
	pl->entry = base;
	pl->ret_at_entry = want_ret;
	if (!len || len > CODE_MAX || !(f.cs = capstone_get()))
		return -1;
	if (f.cs->open(CS_ARCH_X86, CS_MODE_64, &f.h) != CS_ERR_OK) {
		capstone_put(f.cs);
		return -1;
	}
	f.cs->option(f.h, CS_OPT_DETAIL, CS_OPT_ON);
	f.n = f.cs->disasm(f.h, code, len, base, 0, &f.in);
	if (!f.n || find_targets(&f) < 0) {
		if (f.n)
			f.cs->free(f.in, f.n);
		f.cs->close(&f.h);
		capstone_put(f.cs);
		return -1;
	}
	pl->entry_emulated = is_emulated(&f.in[0]);
	classic_steps = !pl->entry_emulated;
	e = entry_site(&f, keep_entry, &intact);
	if (!want_ret || intact) {
		pl->entry = f.in[e].address;
		pl->entry_emulated = is_emulated(&f.in[e]);
	} else {
		struct probe_plan alt = *pl;

		alt.entry = f.in[e].address;
		alt.entry_emulated = is_emulated(&f.in[e]);
		alt.ret_at_entry = false;
		if (return_sites(&f, keep_ret, &alt)) {
			/* Per call: the entry, and one of the return sites. */
			steps = !alt.entry_emulated;
			for (size_t k = 0; k < alt.n_rets; k++)
				if (!alt.rets_emulated[k]) {
					steps++;
					break;
				}
			if (steps < classic_steps)
				*pl = alt;
		}
	}
	free(f.targets);
	f.cs->free(f.in, f.n);
	f.cs->close(&f.h);
	capstone_put(f.cs);
	return 0;
}

void probe_plan_costs(const struct probe_plan *pl, bool want_ret, unsigned *emulated,
		      unsigned *stepped)
{
	*emulated = pl->entry_emulated;
	*stepped = !pl->entry_emulated;
	if (!want_ret)
		return;
	if (pl->ret_at_entry) {
		/* The uretprobe shares the entry's breakpoint; its return is a system call. */
		return;
	}
	for (size_t k = 0; k < pl->n_rets; k++) {
		if (pl->rets_emulated[k])
			(*emulated)++;
		else
			(*stepped)++;
	}
}

/* insn is `cmp disp(%r14),%REG` (Go's stack check; AT&T order: the register is compared with
 * the memory). */
static bool is_guard_cmp(const cs_insn *insn, unsigned reg, uint32_t *disp)
{
	const cs_x86 *x = &insn->detail->x86;

	if (insn->id != X86_INS_CMP || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    x->operands[0].reg != reg || x->operands[1].type != X86_OP_MEM ||
	    x->operands[1].mem.base != X86_REG_R14 || x->operands[1].mem.index != X86_REG_INVALID ||
	    x->operands[1].mem.segment != X86_REG_INVALID || x->operands[1].mem.disp < 0 ||
	    x->operands[1].mem.disp > 0xff)
		return false;
	*disp = (uint32_t)x->operands[1].mem.disp;
	return true;
}

int probe_site_go_stack_check(const uint8_t *code, size_t len, uint64_t base,
			      struct go_stack_check *sc)
{
	const struct capstone_dl *cs;
	csh h;
	cs_insn *in;
	size_t n, k = 0;
	int rc = -1;

	memset(sc, 0, sizeof(*sc));
	if (!len || !(cs = capstone_get()))
		return -1;
	if (cs->open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		capstone_put(cs);
		return -1;
	}
	cs->option(h, CS_OPT_DETAIL, CS_OPT_ON);
	/* Three instructions at most: 4 + 4 + 6 bytes, or a lea with a 32-bit displacement. */
	n = cs->disasm(h, code, len < 24 ? len : 24, base, 3, &in);
	if (n >= 2) {
		const cs_x86 *x = &in[0].detail->x86;
		unsigned reg = X86_REG_RSP;

		if (in[0].id == X86_INS_LEA && x->op_count == 2 &&
		    x->operands[0].type == X86_OP_REG && x->operands[0].reg == X86_REG_R12 &&
		    x->operands[1].type == X86_OP_MEM && x->operands[1].mem.base == X86_REG_RSP &&
		    x->operands[1].mem.index == X86_REG_INVALID &&
		    x->operands[1].mem.segment == X86_REG_INVALID && x->operands[1].mem.disp < 0 &&
		    x->operands[1].mem.disp > -(1 << 20)) {
			sc->sp_below = (uint32_t)-x->operands[1].mem.disp;
			reg = X86_REG_R12;
			k = 1;
		}
		if (k + 1 < n && is_guard_cmp(&in[k], reg, &sc->guard_disp) &&
		    in[k + 1].id == X86_INS_JBE && is_jcc(&in[k + 1])) {
			sc->jbe = in[k + 1].address;
			rc = 0;
		}
	}
	if (rc)
		memset(sc, 0, sizeof(*sc));
	if (n)
		cs->free(in, n);
	cs->close(&h);
	capstone_put(cs);
	return rc;
}
