/* SPDX-License-Identifier: Apache-2.0 */
/*
 * go_elf: what floe needs to probe a Go program's crypto/tls (docs/tls.md, "Go"): whether an
 * ELF file is a Go program (its .go.buildinfo section) and which Go version built it, where
 * crypto/tls.(*Conn).Write, (*Conn).Read and (*Conn).Close start (file offsets, for uprobes),
 * and the offsets of Read's and Write's RET instructions (uretprobes are not safe with Go's
 * movable goroutine stacks, so their returns are probed at each RET, found with Capstone).
 *
 * The symbols come from .symtab when the binary has one, else from .gopclntab (Go's own
 * function table, kept by `-ldflags=-s -w`; read for Go 1.18 and later). ELF parsing is
 * libelf's; the buildinfo and pclntab layouts are read here, bounds-checked (fuzzed by
 * selftests/fuzz/fuzz_go_elf.c).
 *
 *   struct go_elf_info gi;
 *   if (go_elf_inspect_fd(fd, &gi) == GO_ELF_OK) ... gi.write_off, gi.read_rets[] ...
 */
#ifndef FLOE_SOURCE_GO_ELF_H
#define FLOE_SOURCE_GO_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GO_ELF_MAX_RETS 16

enum go_elf_result {
	GO_ELF_OK = 0,
	GO_ELF_NOT_ELF = -1,	   /* not a readable x86-64 ELF file */
	GO_ELF_NOT_GO = -2,	   /* no Go build info: not a Go program */
	GO_ELF_NO_TLS = -3,	   /* a Go program without crypto/tls (Conn.Read/Write not in it) */
	GO_ELF_OLD_ABI = -4,	   /* built by Go < 1.17 (stack ABI): not supported */
	GO_ELF_NO_SYMBOLS = -5,	   /* no .symtab and no .gopclntab this reader understands */
	GO_ELF_NO_RETS = -6,	   /* Read's code could not be read or has no RET */
	GO_ELF_TOO_MANY_RETS = -7, /* Read has more than GO_ELF_MAX_RETS RETs: refused */
};

struct go_elf_info {
	char version[32];   /* "go1.26.8"; "" when unknown */
	int major, minor;   /* 1, 26 (0, 0 when unknown) */
	bool from_pclntab;  /* no .symtab: symbols found through .gopclntab */
	uint64_t write_off; /* file offsets of the functions' first instruction */
	uint64_t read_off;
	uint64_t close_off;		     /* 0: not found (optional) */
	uint64_t read_size;		     /* bytes of Read's code */
	uint64_t read_rets[GO_ELF_MAX_RETS]; /* file offsets of Read's RET instructions */
	size_t n_read_rets;
	uint64_t write_size;		      /* bytes of Write's code */
	uint64_t write_rets[GO_ELF_MAX_RETS]; /* file offsets of Write's RET instructions: the
					       * count it returned (a failed Write's is short) */
	size_t n_write_rets;
};

/* An ELF file (read through fd, not closed) or an image in memory. Returns a go_elf_result;
 * out's version is filled as soon as the build info is read (also for GO_ELF_NO_TLS etc.). */
int go_elf_inspect_fd(int fd, struct go_elf_info *out);
int go_elf_inspect_mem(const void *image, size_t len, struct go_elf_info *out);

/* The offsets (base + offset in code) of the RET instructions of x86-64 code, the first max
 * of them into rets. Returns how many there are (more than max: the rest not stored), -1 if
 * Capstone cannot be used. */
int go_elf_find_rets(const uint8_t *code, size_t len, uint64_t base, uint64_t *rets, size_t max);

/* Parse "go1.N[.P][suffix]" into major, minor: 0 on success, -1 if it is not that. */
int go_elf_parse_version(const char *v, int *major, int *minor);

const char *go_elf_strerror(int result);

#endif /* FLOE_SOURCE_GO_ELF_H */
