// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for source/tls_exe.c: what floe reads of a tapped pod's program file (not
 * Go) to find a TLS library linked into it (the ELF's .symtab/.dynsym through libelf, and the
 * marker strings).
 *
 * Input: the file's bytes. Seeds (selftests/fuzz/corpus/fuzz_tls_exe): a Go-like image of
 * selftests/unit/test_go_elf.c (an ELF file with a .symtab) and an image with the TLS 1.3
 * marker and a rustls path.
 *
 * Checked: no crash or sanitizer report; a known result, and a description (NUL-terminated)
 * exactly when the result is TLS_EXE_BLIND.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source/tls_exe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of its own size: libelf reads past nothing the sanitizer does not see. */
	uint8_t *img = malloc(size ? size : 1);
	char what[96];
	int r;

	if (!img)
		return 0;
	memcpy(img, data, size);
	memset(what, 'x', sizeof(what));
	r = tls_exe_inspect_mem(img, size, what, sizeof(what));
	if (r != TLS_EXE_NONE && r != TLS_EXE_OPENSSL_SYMS && r != TLS_EXE_BLIND)
		abort();
	if (!memchr(what, 0, sizeof(what)) || (r == TLS_EXE_BLIND) != (what[0] != 0))
		abort();
	free(img);
	return 0;
}
