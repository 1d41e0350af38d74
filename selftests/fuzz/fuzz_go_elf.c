// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for source/go_elf.c: what floe reads of a tapped pod's program file to
 * probe Go's crypto/tls (the ELF through libelf; .go.buildinfo, .symtab, .gopclntab and
 * Read's code through go_elf's own bounds-checked readers and Capstone).
 *
 * Input: the file's bytes. Seeds (selftests/fuzz/corpus/fuzz_go_elf): the small Go-like
 * images of selftests/unit/test_go_elf.c (with and without .symtab), written by
 * `FLOE_GO_ELF_SEEDS=DIR build/tests/test_go_elf`.
 *
 * Checked: no crash or sanitizer report; an image accepted gives offsets inside it, Read's
 * RETs inside Read's code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source/go_elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of its own size: libelf reads past nothing the sanitizer does not see. */
	uint8_t *img = malloc(size ? size : 1);
	struct go_elf_info gi;

	if (!img)
		return 0;
	memcpy(img, data, size);
	if (go_elf_inspect_mem(img, size, &gi) == GO_ELF_OK) {
		if (gi.write_off >= size || gi.read_off >= size || gi.close_off >= size ||
		    gi.read_off + gi.read_size > size || !gi.n_read_rets ||
		    gi.n_read_rets > GO_ELF_MAX_RETS)
			abort();
		for (size_t i = 0; i < gi.n_read_rets; i++)
			if (gi.read_rets[i] < gi.read_off ||
			    gi.read_rets[i] >= gi.read_off + gi.read_size)
				abort();
		if (gi.write_off + gi.write_size > size || !gi.n_write_rets ||
		    gi.n_write_rets > GO_ELF_MAX_RETS)
			abort();
		for (size_t i = 0; i < gi.n_write_rets; i++)
			if (gi.write_rets[i] < gi.write_off ||
			    gi.write_rets[i] >= gi.write_off + gi.write_size)
				abort();
	}
	if (!memchr(gi.version, 0, sizeof(gi.version)))
		abort();
	free(img);
	return 0;
}
