// SPDX-License-Identifier: Apache-2.0
#include "source/go_elf.h"

#include "source/capstone_dl.h"

#include <capstone/capstone.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define SYM_WRITE "crypto/tls.(*Conn).Write"
#define SYM_READ  "crypto/tls.(*Conn).Read"
#define SYM_CLOSE "crypto/tls.(*Conn).Close"

/* The ELF image and what was found of the three functions (virtual addresses first). */
struct img {
	const uint8_t *p;
	size_t len;
	Elf *elf;
};

struct fn {
	uint64_t addr, size;
	bool found;
};

const char *go_elf_strerror(int r)
{
	switch (r) {
	case GO_ELF_OK:
		return "ok";
	case GO_ELF_NOT_ELF:
		return "not an x86-64 ELF file";
	case GO_ELF_NOT_GO:
		return "not a Go program (no build info)";
	case GO_ELF_NO_TLS:
		return "a Go program without crypto/tls";
	case GO_ELF_OLD_ABI:
		return "built by Go older than 1.17 (stack-based ABI), not supported";
	case GO_ELF_NO_SYMBOLS:
		return "stripped, and its .gopclntab is not one floe reads (Go >= 1.18)";
	case GO_ELF_NO_RETS:
		return "crypto/tls.(*Conn).Read's or Write's RET instructions not found";
	case GO_ELF_TOO_MANY_RETS:
		return "crypto/tls.(*Conn).Read or Write has more RET instructions than floe "
		       "probes (16)";
	}
	return "?";
}

int go_elf_parse_version(const char *v, int *major, int *minor)
{
	char *end;
	long a, b;

	if (strncmp(v, "go", 2) != 0)
		return -1;
	a = strtol(v + 2, &end, 10);
	if (end == v + 2 || *end != '.')
		return -1;
	v = end + 1;
	b = strtol(v, &end, 10);
	if (end == v || a < 0 || a > 1000 || b < 0 || b > 1000)
		return -1;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}

/* The bytes of a section, when they lie in the image. */
static const uint8_t *sec_bytes(const struct img *im, const GElf_Shdr *sh, size_t *len)
{
	if (sh->sh_type == SHT_NOBITS || sh->sh_offset > im->len ||
	    sh->sh_size > im->len - sh->sh_offset)
		return NULL;
	*len = sh->sh_size;
	return im->p + sh->sh_offset;
}

static Elf_Scn *find_sec(const struct img *im, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(im->elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(im->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(im->elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* Up to len bytes at virtual address addr, from the section holding it. */
static const uint8_t *vaddr_bytes(const struct img *im, uint64_t addr, size_t want)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(im->elf, scn))) {
		const uint8_t *b;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || addr < sh.sh_addr ||
		    addr - sh.sh_addr >= sh.sh_size)
			continue;
		b = sec_bytes(im, &sh, &n);
		if (!b || want > n - (addr - sh.sh_addr))
			return NULL;
		return b + (addr - sh.sh_addr);
	}
	return NULL;
}

/* The file offset of virtual address addr (through the PT_LOAD segment holding it). */
static int vaddr_to_off(const struct img *im, uint64_t addr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(im->elf, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(im->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			return *off < im->len ? 0 : -1;
		}
	}
	return -1;
}

static uint64_t rd_uint(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A uvarint at p (at most end): its value, p advanced; -1 when it does not fit. */
static int rd_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static void set_version(struct go_elf_info *out, const uint8_t *s, uint64_t n)
{
	if (n >= sizeof(out->version))
		n = sizeof(out->version) - 1;
	memcpy(out->version, s, n);
	out->version[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (out->version[i] < 0x20 || out->version[i] > 0x7e)
			out->version[i] = '?';
	if (go_elf_parse_version(out->version, &out->major, &out->minor))
		out->major = out->minor = 0;
}

/*
 * .go.buildinfo: "\xff Go buildinf:", pointer size, flags; with flag 2 (Go >= 1.18) the
 * version follows inline at offset 32 as a uvarint length and bytes; before, a pointer at
 * offset 16 to a Go string header (data pointer, length) elsewhere in the image.
 */
static int read_buildinfo(const struct img *im, struct go_elf_info *out)
{
	static const char magic[] = "\xff Go buildinf:";
	GElf_Shdr sh;
	const uint8_t *b, *end;
	size_t n;
	unsigned ptr;

	if (!find_sec(im, ".go.buildinfo", &sh) || !(b = sec_bytes(im, &sh, &n)) || n < 32 ||
	    memcmp(b, magic, 14) != 0)
		return GO_ELF_NOT_GO;
	end = b + n;
	ptr = b[14];
	if (b[15] & 2) {
		const uint8_t *p = b + 32;
		uint64_t len;

		if (rd_uvarint(&p, end, &len) == 0 && len <= (uint64_t)(end - p))
			set_version(out, p, len);
	} else if ((ptr == 4 || ptr == 8) && !(b[15] & 1)) {
		const uint8_t *hdr = vaddr_bytes(im, rd_uint(b + 16, ptr), 2 * ptr), *s;
		uint64_t len;

		if (hdr) {
			len = rd_uint(hdr + ptr, ptr);
			s = len < 64 ? vaddr_bytes(im, rd_uint(hdr, ptr), len) : NULL;
			if (s)
				set_version(out, s, len);
		}
	}
	return GO_ELF_OK;
}

static struct fn *fn_of(const char *name, struct fn fns[3])
{
	if (!strcmp(name, SYM_WRITE))
		return &fns[0];
	if (!strcmp(name, SYM_READ))
		return &fns[1];
	if (!strcmp(name, SYM_CLOSE))
		return &fns[2];
	return NULL;
}

/* .symtab: 1 when there is one (whether the functions are in it or not). */
static int from_symtab(const struct img *im, struct fn fns[3])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(im->elf, scn))) {
		Elf_Data *d;
		size_t n, len;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize ||
		    !sec_bytes(im, &sh, &len) || !(d = elf_getdata(scn, NULL)))
			continue;
		n = d->d_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			const char *name;
			struct fn *f;

			if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(im->elf, sh.sh_link, s.st_name);
			if (!name || !(f = fn_of(name, fns)))
				continue;
			*f = (struct fn){.addr = s.st_value, .size = s.st_size, .found = true};
		}
		return 1;
	}
	return 0;
}

/*
 * .gopclntab of Go >= 1.18 (magic 0xfffffff0; 0xfffffff1 from 1.20): a header of 8
 * pointer-size words after 8 bytes (nfunc, nfiles, textStart, funcnameOffset, cuOffset,
 * filetabOffset, pctabOffset, pclnOffset); at pclnOffset the function table, nfunc pairs
 * (entry offset from textStart, offset of the _func) and a last entry offset; a _func starts
 * with its entry offset and the offset of its name in the name table.
 */
static int from_pclntab(const struct img *im, struct fn fns[3])
{
	GElf_Shdr sh, tsh;
	const uint8_t *b;
	size_t n;
	uint32_t magic;
	unsigned ptr;
	uint64_t nfunc, text, names, pcln;

	if (!find_sec(im, ".gopclntab", &sh) || !(b = sec_bytes(im, &sh, &n)) || n < 8 + 8 * 8)
		return 0;
	magic = (uint32_t)rd_uint(b, 4);
	ptr = b[7];
	if ((magic != 0xfffffff0 && magic != 0xfffffff1) || b[4] || b[5] || ptr != 8)
		return 0;
	nfunc = rd_uint(b + 8, 8);
	text = rd_uint(b + 8 + 2 * 8, 8);
	names = rd_uint(b + 8 + 3 * 8, 8);
	pcln = rd_uint(b + 8 + 7 * 8, 8);
	/* A position-independent build leaves textStart to a relocation: .text's address. */
	if (!text && find_sec(im, ".text", &tsh))
		text = tsh.sh_addr;
	if (pcln > n || names > n || nfunc > (n - pcln) / 8)
		return 0;
	for (uint64_t i = 0; i < nfunc; i++) {
		const uint8_t *e = b + pcln + i * 8;
		uint64_t entry = rd_uint(e, 4), foff = rd_uint(e + 4, 4), next, noff;
		const char *name;
		struct fn *f;

		if (pcln + i * 8 + 12 > n)
			return 0;
		next = rd_uint(e + 8, 4);
		if (foff > n - pcln || 8 > n - pcln - foff)
			continue;
		noff = rd_uint(b + pcln + foff + 4, 4);
		if (noff >= n - names)
			continue;
		name = (const char *)b + names + noff;
		if (!memchr(name, 0, n - names - noff) || !(f = fn_of(name, fns)))
			continue;
		*f = (struct fn){
		    .addr = text + entry, .size = next > entry ? next - entry : 0, .found = true};
	}
	return 1;
}

int go_elf_find_rets(const uint8_t *code, size_t len, uint64_t base, uint64_t *rets, size_t max)
{
	const struct capstone_dl *cs = capstone_get();
	csh h;
	cs_insn *insn = NULL;
	size_t found = 0;

	if (!cs)
		return -1;
	if (cs->open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		capstone_put(cs);
		return -1;
	}
	/* Bytes that are no instruction (padding) are stepped over, not the end of the walk. */
	cs->option(h, CS_OPT_SKIPDATA, CS_OPT_ON);
	insn = cs->malloc(h);
	if (insn) {
		while (cs->disasm_iter(h, &code, &len, &base, insn))
			if (insn->id == X86_INS_RET) {
				if (found < max)
					rets[found] = insn->address;
				found++;
			}
		cs->free(insn, 1);
	}
	cs->close(&h);
	capstone_put(cs);
	return insn ? (int)found : -1;
}

/* The RETs of the function at file offset off, size bytes long: a go_elf_result. */
static int fn_rets(const struct img *im, uint64_t off, uint64_t size, uint64_t *rets, size_t *n)
{
	int found;

	if (!size || off > im->len || size > im->len - off)
		return GO_ELF_NO_RETS;
	found = go_elf_find_rets(im->p + off, size, off, rets, GO_ELF_MAX_RETS);
	if (found <= 0)
		return GO_ELF_NO_RETS;
	/* Calls returning at a RET not probed would be missed without a word: refused instead. */
	if (found > GO_ELF_MAX_RETS)
		return GO_ELF_TOO_MANY_RETS;
	*n = (size_t)found;
	return GO_ELF_OK;
}

static int inspect(struct img *im, struct go_elf_info *out)
{
	GElf_Ehdr eh;
	struct fn fns[3] = {};
	int r;

	if (!im->elf || elf_kind(im->elf) != ELF_K_ELF || !gelf_getehdr(im->elf, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		return GO_ELF_NOT_ELF;
	r = read_buildinfo(im, out);
	if (r)
		return r;
	if (out->major == 1 && out->minor < 17)
		return GO_ELF_OLD_ABI;
	if (!from_symtab(im, fns)) {
		if (!from_pclntab(im, fns))
			return GO_ELF_NO_SYMBOLS;
		out->from_pclntab = true;
	}
	if (!fns[0].found || !fns[1].found)
		return GO_ELF_NO_TLS;
	if (vaddr_to_off(im, fns[0].addr, &out->write_off) ||
	    vaddr_to_off(im, fns[1].addr, &out->read_off))
		return GO_ELF_NO_SYMBOLS;
	if (fns[2].found && vaddr_to_off(im, fns[2].addr, &out->close_off))
		out->close_off = 0;
	out->read_size = fns[1].size;
	out->write_size = fns[0].size;
	r = fn_rets(im, out->read_off, out->read_size, out->read_rets, &out->n_read_rets);
	if (!r)
		r = fn_rets(im, out->write_off, out->write_size, out->write_rets,
			    &out->n_write_rets);
	return r;
}

int go_elf_inspect_mem(const void *image, size_t len, struct go_elf_info *out)
{
	struct img im = {.p = image, .len = len};
	int r;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return GO_ELF_NOT_ELF;
	/* libelf reads the image in place (it is not written: ELF_C_READ semantics). */
	im.elf = elf_memory((char *)image, len);
	r = inspect(&im, out);
	elf_end(im.elf);
	return r;
}

int go_elf_inspect_fd(int fd, struct go_elf_info *out)
{
	struct stat sb;
	void *p;
	int r;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 64)
		return GO_ELF_NOT_ELF;
	/* A private writable mapping: libelf may touch its image, the file never changes. */
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return GO_ELF_NOT_ELF;
	r = go_elf_inspect_mem(p, (size_t)sb.st_size, out);
	munmap(p, (size_t)sb.st_size);
	return r;
}
