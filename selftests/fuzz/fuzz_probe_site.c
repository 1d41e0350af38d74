// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for source/probe_site.c: the code of a probed function, read from a tapped
 * pod's library file, decides where floe's uprobes go (Capstone decodes it).
 *
 * Input: the first byte chooses the registers kept and whether the return is planned; the
 * rest is the function's code. Seeds: none needed (any bytes decode to something).
 *
 * Checked: no crash or sanitizer report; the plan's sites are inside the function, at least
 * one return when the return is wanted, at most PROBE_SITE_MAX_RETS, and a plan that gives
 * up says the first instruction and a uretprobe.
 */
#include <stdint.h>
#include <stdlib.h>

#include "source/probe_site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t base = 0x1000;
	struct probe_plan pl;
	unsigned emu, step;
	bool want_ret;
	unsigned keep_entry, keep_ret;

	if (size < 1)
		return 0;
	want_ret = data[0] & 1;
	keep_entry = data[0] & 2 ? PROBE_REG_ARGS
				 : PROBE_REG_RAX | PROBE_REG_RBX | PROBE_REG_RCX | PROBE_REG_R14;
	keep_ret = data[0] & 4 ? PROBE_REG_RAX : PROBE_REG_RAX | PROBE_REG_R14;
	data++;
	size--;
	if (probe_site_plan(data, size, base, keep_entry, keep_ret, want_ret, &pl) < 0) {
		if (pl.entry != base || pl.ret_at_entry != want_ret || pl.n_rets)
			abort();
		return 0;
	}
	if (pl.entry < base || pl.entry >= base + size || pl.n_rets > PROBE_SITE_MAX_RETS)
		abort();
	if (want_ret && !pl.ret_at_entry && !pl.n_rets)
		abort();
	if (!want_ret && pl.n_rets)
		abort();
	for (size_t k = 0; k < pl.n_rets; k++)
		if (pl.rets[k] < base || pl.rets[k] >= base + size || pl.rets[k] < pl.entry)
			abort();
	probe_plan_costs(&pl, want_ret, &emu, &step);
	if (emu + step != 1 + (want_ret && !pl.ret_at_entry ? pl.n_rets : 0))
		abort();
	return 0;
}
