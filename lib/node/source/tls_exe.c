// SPDX-License-Identifier: Apache-2.0
#include "source/tls_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* In every TLS 1.3 implementation (the server's CertificateVerify signs it, RFC 8446 4.4.3).
 * Its last byte is put in at run time: floe's own program must not carry the string, or floe
 * run in a tapped pod would list itself as a TLS program it cannot read. */
static void tls13_context(char out[34])
{
	static const char head[] = "TLS 1.3, server CertificateVerif";
	static volatile char last = 'y';

	memcpy(out, head, sizeof(head) - 1);
	out[sizeof(head) - 1] = last;
	out[sizeof(head)] = 0;
}

static bool has(const void *image, size_t len, const char *s)
{
	return memmem(image, len, s, strlen(s)) != NULL;
}

/* The file offsets of the functions names[0..n) defined (not imported) in elf's .symtab or
 * .dynsym into offs (0: not there), and their sizes into sizes (when not NULL). */
static void find_funcs(Elf *elf, const char *const *names, size_t n, uint64_t *offs,
		       uint64_t *sizes)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh, tsh;

	memset(offs, 0, n * sizeof(*offs));
	if (sizes)
		memset(sizes, 0, n * sizeof(*sizes));
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		size_t cnt;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		cnt = d->d_size / sh.sh_entsize;
		for (size_t i = 0; i < cnt; i++) {
			GElf_Sym s;
			const char *name;
			Elf_Scn *in;

			if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE || !s.st_value ||
			    !(name = elf_strptr(elf, sh.sh_link, s.st_name)))
				continue;
			for (size_t k = 0; k < n; k++) {
				if (offs[k] || strcmp(name, names[k]))
					continue;
				/* The address in the section holding it, as a file offset. */
				in = elf_getscn(elf, s.st_shndx);
				if (in && gelf_getshdr(in, &tsh) && s.st_value >= tsh.sh_addr) {
					offs[k] = s.st_value - tsh.sh_addr + tsh.sh_offset;
					if (sizes)
						sizes[k] = s.st_size;
				}
			}
		}
	}
}

/* SSL_read and SSL_write defined in elf. */
static bool defines_ssl_api(Elf *elf)
{
	static const char *const api[2] = {"SSL_read", "SSL_write"};
	uint64_t offs[2];

	find_funcs(elf, api, 2, offs, NULL);
	return offs[0] && offs[1];
}

int tls_exe_inspect_mem(const void *image, size_t len, char *what, size_t whatlen)
{
	Elf *elf;
	GElf_Ehdr eh;
	bool syms = false;
	const char *lib;
	char ctx[34];

	if (whatlen)
		what[0] = 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return TLS_EXE_NONE;
	/* The name first: most programs have no SSL_write anywhere, defined or imported. */
	if (has(image, len, "SSL_write")) {
		elf = elf_memory((char *)image, len);
		if (!elf)
			return TLS_EXE_NONE;
		if (elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh))
			syms = defines_ssl_api(elf);
		elf_end(elf);
		if (syms)
			return TLS_EXE_OPENSSL_SYMS;
	}
	tls13_context(ctx);
	if (!has(image, len, ctx) || len < 4 ||
	    memcmp(image,
		   "\x7f"
		   "ELF",
		   4))
		return TLS_EXE_NONE;
	/* A Rust program carries the paths of its crates (panic locations): rustls's. */
	if (has(image, len, "rustls"))
		snprintf(what, whatlen, "rustls (Rust) linked in: no probes for it");
	else {
		lib = has(image, len, "BoringSSL") ? "BoringSSL"
		      : has(image, len, "OpenSSL") ? "OpenSSL"
						   : "a TLS library";
		snprintf(what, whatlen,
			 "%s linked statically without SSL_read/SSL_write symbols (stripped): no "
			 "function to probe",
			 lib);
	}
	return TLS_EXE_BLIND;
}

int tls_exe_inspect_fd(int fd, char *what, size_t whatlen)
{
	struct stat sb;
	void *p;
	int r;

	if (whatlen)
		what[0] = 0;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 64)
		return TLS_EXE_NONE;
	/* Private and writable: libelf may touch its image; the file never changes. */
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return TLS_EXE_NONE;
	r = tls_exe_inspect_mem(p, (size_t)sb.st_size, what, whatlen);
	munmap(p, (size_t)sb.st_size);
	return r;
}

int tls_exe_func_offsets(const char *path, const char *const *names, size_t n, uint64_t *offs,
			 uint64_t *sizes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;

	memset(offs, 0, n * sizeof(*offs));
	if (sizes)
		memset(sizes, 0, n * sizeof(*sizes));
	if (fd < 0)
		return -errno;
	if (elf_version(EV_CURRENT) == EV_NONE || !(elf = elf_begin(fd, ELF_C_READ, NULL))) {
		close(fd);
		return -EINVAL;
	}
	find_funcs(elf, names, n, offs, sizes);
	elf_end(elf);
	close(fd);
	return 0;
}
