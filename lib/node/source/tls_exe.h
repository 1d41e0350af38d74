/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_exe: a TLS library linked statically into a program file (not Go: go_elf.h), the way
 * Envoy links BoringSSL or Node.js links OpenSSL (docs/tls.md, "Statically linked"). Such a
 * program maps no libssl.so*, so /proc/PID/maps says nothing of it.
 *
 * OpenSSL and BoringSSL keep their API names: when SSL_read and SSL_write are defined in the
 * program's .symtab or .dynsym, it is probed like a libssl (TLS_EXE_OPENSSL_SYMS). A stripped
 * one, and TLS implementations floe has no probes for (rustls), are recognised by the
 * TLS 1.3 signature context string every TLS 1.3 implementation carries (RFC 8446 4.4.3:
 * "TLS 1.3, server CertificateVerify"), then named by what else is in the file
 * (TLS_EXE_BLIND, what says which): floe is blind to them and lists them in tls_blind.
 *
 *   char what[96];
 *   switch (tls_exe_inspect_fd(fd, what, sizeof(what))) ...
 */
#ifndef FLOE_SOURCE_TLS_EXE_H
#define FLOE_SOURCE_TLS_EXE_H

#include <stddef.h>
#include <stdint.h>

enum tls_exe_kind {
	TLS_EXE_NONE = 0,	  /* no TLS implementation in it (or not an ELF file) */
	TLS_EXE_OPENSSL_SYMS = 1, /* SSL_read and SSL_write defined in it: probe it */
	TLS_EXE_BLIND = 2,	  /* a TLS implementation floe cannot probe; what: which, why */
};

/* An ELF image in memory (not written) or a file (read through fd, not closed). what gets a
 * NUL-terminated description for TLS_EXE_BLIND ("" otherwise). */
int tls_exe_inspect_mem(const void *image, size_t len, char *what, size_t whatlen);
int tls_exe_inspect_fd(int fd, char *what, size_t whatlen);

/*
 * The file offsets (for uprobes) of the functions names[0..n) defined in the ELF file at
 * path, from its .dynsym and .symtab, into offs (0: not there), and their sizes in bytes
 * into sizes (NULL: not wanted; 0: not known). One read of the file for all of them: probing
 * a library by name through libbpf reads it once per function, and a dlopen's first calls
 * race with that time. Returns 0, or -errno when the file cannot be read.
 */
int tls_exe_func_offsets(const char *path, const char *const *names, size_t n, uint64_t *offs,
			 uint64_t *sizes);

#endif /* FLOE_SOURCE_TLS_EXE_H */
