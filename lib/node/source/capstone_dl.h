/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capstone_dl: Capstone loaded only while a probe is being placed.
 *
 * Linked in, libcapstone cost every floe process ~3.2 MB of resident memory from its start
 * (its pointer tables relocated into private pages, its relocations read): a third of what
 * `floe read` needs, for a library only the TLS probes' placement uses (probe_site, go_elf).
 * It is opened on the first capstone_get() and closed when the last user puts it back, so
 * those pages are resident only around a placement (docs/bench.md, "Memory: what is
 * resident").
 *
 *   const struct capstone_dl *cs = capstone_get();
 *   if (!cs) return -1;        // no libcapstone: the caller keeps its fallback
 *   cs->open(CS_ARCH_X86, CS_MODE_64, &h); ... cs->close(&h);
 *   capstone_put(cs);
 *
 * Thread-safe; gets nest (a caller may hold it across a batch of placements so that each
 * does not load it again).
 */
#ifndef FLOE_SOURCE_CAPSTONE_DL_H
#define FLOE_SOURCE_CAPSTONE_DL_H

#include <capstone/capstone.h>

struct capstone_dl {
	cs_err (*open)(cs_arch arch, cs_mode mode, csh *handle);
	cs_err (*close)(csh *handle);
	cs_err (*option)(csh handle, cs_opt_type type, size_t value);
	size_t (*disasm)(csh handle, const uint8_t *code, size_t size, uint64_t address,
			 size_t count, cs_insn **insn);
	void (*free)(cs_insn *insn, size_t count);
	cs_insn *(*malloc)(csh handle);
	bool (*disasm_iter)(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
			    cs_insn *insn);
	cs_err (*regs_access)(csh handle, const cs_insn *insn, cs_regs regs_read,
			      uint8_t *regs_read_count, cs_regs regs_write,
			      uint8_t *regs_write_count);
};

/* Capstone's calls, the library loaded (one more user); NULL when it cannot be loaded (the
 * reason is logged once). */
const struct capstone_dl *capstone_get(void);
/* One user fewer (cs may be NULL); the last unloads the library. */
void capstone_put(const struct capstone_dl *cs);
/* Whether the library is loaded now (for tests). */
bool capstone_loaded(void);

#endif
