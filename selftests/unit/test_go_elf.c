// SPDX-License-Identifier: Apache-2.0
/*
 * source/go_elf.c: a small Go-like ELF image made here (an x86-64 executable with
 * .go.buildinfo, .gopclntab, .text holding crypto/tls.(*Conn).Write, Read and Close, and
 * optionally .symtab) must give the functions' file offsets and Read's RET offsets, through
 * .symtab and, without it, through .gopclntab; the build info's version decides the ABI; a
 * program that is not Go, images cut at every length and version strings are refused
 * without harm. The real thing (a Go program built by the Go toolchain, with and without
 * symbols) is checked by selftests/integration/test_tls_go.sh.
 *
 * FLOE_GO_ELF_SEEDS=DIR writes the images to DIR (the fuzz target's seeds,
 * selftests/fuzz/corpus/fuzz_go_elf).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <elf.h>

#include <cmocka.h>

#include "source/go_elf.h"

#define VBASE	 0x400000ull
#define TEXT_OFF 0x200u /* where .text is in the file */
#define IMG_SIZE 0x800u
#define N_SECTS	 7

/* The code: Write (nop nop ret), Read (test rax,rax; je +1; ret; xor eax,eax; ret), Close. */
static const uint8_t code_write[] = {0x90, 0x90, 0xc3};
static const uint8_t code_read[] = {0x48, 0x85, 0xc0, 0x74, 0x01, 0xc3, 0x31, 0xc0, 0xc3};
static const uint8_t code_close[] = {0xc3};
#define WRITE_AT 0u
#define READ_AT	 16u
#define CLOSE_AT 48u
static const char *const names[3] = {"crypto/tls.(*Conn).Write", "crypto/tls.(*Conn).Read",
				     "crypto/tls.(*Conn).Close"};
static const uint32_t at[3] = {WRITE_AT, READ_AT, CLOSE_AT};
static const uint32_t sizes[3] = {sizeof(code_write), sizeof(code_read), sizeof(code_close)};

static void put(uint8_t *img, size_t off, const void *p, size_t n)
{
	memcpy(img + off, p, n);
}

static void put64(uint8_t *img, size_t off, uint64_t v)
{
	put(img, off, &v, 8);
}

static void put32(uint8_t *img, size_t off, uint32_t v)
{
	put(img, off, &v, 4);
}

/* The image into img (IMG_SIZE bytes); with_symtab adds .symtab/.strtab. */
static void make_image(uint8_t *img, const char *version, bool with_symtab)
{
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph = {0};
	Elf64_Shdr sh[N_SECTS] = {{0}};
	const char shstr[] = "\0.shstrtab\0.text\0.go.buildinfo\0.gopclntab\0.symtab\0.strtab";
	size_t shstr_off = 0x100, bi_off = 0x300, pcl_off = 0x380, sym_off = 0x500, str_off = 0x580,
	       sh_off = 0x600, n;
	uint8_t vlen = (uint8_t)strlen(version);
	/* .gopclntab: header (8 + 8 words), names at 72, function table at 160, _funcs at 200 */
	size_t names_at = 72, pcln_at = 160, funcs_at = 200, no = 0;

	memset(img, 0, IMG_SIZE);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = VBASE + TEXT_OFF;
	eh.e_phoff = sizeof(eh);
	eh.e_shoff = sh_off;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = with_symtab ? N_SECTS : N_SECTS - 2;
	eh.e_shstrndx = 1;
	put(img, 0, &eh, sizeof(eh));
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_X;
	ph.p_vaddr = ph.p_paddr = VBASE;
	ph.p_filesz = ph.p_memsz = IMG_SIZE;
	ph.p_align = 0x1000;
	put(img, sizeof(eh), &ph, sizeof(ph));
	put(img, shstr_off, shstr, sizeof(shstr));

	put(img, TEXT_OFF + WRITE_AT, code_write, sizeof(code_write));
	put(img, TEXT_OFF + READ_AT, code_read, sizeof(code_read));
	put(img, TEXT_OFF + CLOSE_AT, code_close, sizeof(code_close));

	put(img, bi_off, "\xff Go buildinf:", 14);
	img[bi_off + 14] = 8;
	img[bi_off + 15] = 2;
	img[bi_off + 32] = vlen;
	put(img, bi_off + 33, version, vlen);

	put32(img, pcl_off, 0xfffffff1);
	img[pcl_off + 6] = 1;
	img[pcl_off + 7] = 8;
	put64(img, pcl_off + 8, 3);			   /* nfunc */
	put64(img, pcl_off + 8 + 2 * 8, VBASE + TEXT_OFF); /* textStart */
	put64(img, pcl_off + 8 + 3 * 8, names_at);	   /* funcnameOffset */
	put64(img, pcl_off + 8 + 7 * 8, pcln_at);	   /* pclnOffset */
	for (int i = 0; i < 3; i++) {
		put(img, pcl_off + names_at + no, names[i], strlen(names[i]) + 1);
		put32(img, pcl_off + pcln_at + i * 8, at[i]);
		put32(img, pcl_off + pcln_at + i * 8 + 4, (uint32_t)(funcs_at - pcln_at + i * 8));
		put32(img, pcl_off + funcs_at + i * 8, at[i]);
		put32(img, pcl_off + funcs_at + i * 8 + 4, (uint32_t)no);
		no += strlen(names[i]) + 1;
	}
	put32(img, pcl_off + pcln_at + 3 * 8, 64); /* the end of the last function */

	if (with_symtab) {
		size_t so = 1;

		for (int i = 0; i < 3; i++) {
			Elf64_Sym s = {0};

			s.st_name = (uint32_t)so;
			s.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
			s.st_shndx = 2;
			s.st_value = VBASE + TEXT_OFF + at[i];
			s.st_size = sizes[i];
			put(img, sym_off + (i + 1) * sizeof(s), &s, sizeof(s));
			put(img, str_off + so, names[i], strlen(names[i]) + 1);
			so += strlen(names[i]) + 1;
		}
	}

	n = 0;
	/* name offsets in shstr: .shstrtab 1, .text 11, .go.buildinfo 17, .gopclntab 31,
	 * .symtab 42, .strtab 50 */
	sh[1] = (Elf64_Shdr){
	    .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = shstr_off, .sh_size = sizeof(shstr)};
	sh[2] = (Elf64_Shdr){.sh_name = 11,
			     .sh_type = SHT_PROGBITS,
			     .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
			     .sh_addr = VBASE + TEXT_OFF,
			     .sh_offset = TEXT_OFF,
			     .sh_size = 64};
	sh[3] = (Elf64_Shdr){.sh_name = 17,
			     .sh_type = SHT_PROGBITS,
			     .sh_flags = SHF_ALLOC,
			     .sh_addr = VBASE + bi_off,
			     .sh_offset = bi_off,
			     .sh_size = 64};
	sh[4] = (Elf64_Shdr){.sh_name = 31,
			     .sh_type = SHT_PROGBITS,
			     .sh_flags = SHF_ALLOC,
			     .sh_addr = VBASE + pcl_off,
			     .sh_offset = pcl_off,
			     .sh_size = 0x180};
	sh[5] = (Elf64_Shdr){.sh_name = 42,
			     .sh_type = SHT_SYMTAB,
			     .sh_offset = sym_off,
			     .sh_size = 4 * sizeof(Elf64_Sym),
			     .sh_link = 6,
			     .sh_info = 1,
			     .sh_entsize = sizeof(Elf64_Sym),
			     .sh_addralign = 8};
	sh[6] = (Elf64_Shdr){
	    .sh_name = 50, .sh_type = SHT_STRTAB, .sh_offset = str_off, .sh_size = 0x80};
	(void)n;
	put(img, sh_off, sh, (size_t)eh.e_shnum * sizeof(Elf64_Shdr));
}

static void write_seed(const char *name, const uint8_t *img, size_t len)
{
	const char *dir = getenv("FLOE_GO_ELF_SEEDS");
	char p[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "we");
	if (f) {
		fwrite(img, 1, len, f);
		fclose(f);
	}
}

static void check_offsets(const struct go_elf_info *gi)
{
	assert_int_equal(gi->write_off, TEXT_OFF + WRITE_AT);
	assert_int_equal(gi->read_off, TEXT_OFF + READ_AT);
	assert_int_equal(gi->close_off, TEXT_OFF + CLOSE_AT);
	assert_int_equal(gi->n_read_rets, 2);
	assert_int_equal(gi->read_rets[0], TEXT_OFF + READ_AT + 5);
	assert_int_equal(gi->read_rets[1], TEXT_OFF + READ_AT + 8);
	assert_int_equal(gi->n_write_rets, 1);
	assert_int_equal(gi->write_rets[0], TEXT_OFF + WRITE_AT + 2);
}

static void test_symtab(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct go_elf_info gi;

	make_image(img, "go1.22.1", true);
	write_seed("symtab.elf", img, sizeof(img));
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_OK);
	assert_string_equal(gi.version, "go1.22.1");
	assert_int_equal(gi.major, 1);
	assert_int_equal(gi.minor, 22);
	assert_false(gi.from_pclntab);
	assert_int_equal(gi.read_size, sizeof(code_read));
	check_offsets(&gi);
}

static void test_pclntab(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct go_elf_info gi;

	make_image(img, "go1.26.8", false);
	write_seed("pclntab.elf", img, sizeof(img));
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_OK);
	assert_string_equal(gi.version, "go1.26.8");
	assert_true(gi.from_pclntab);
	/* The size is up to the next function's start: the padding after Read is read too. */
	assert_int_equal(gi.read_size, CLOSE_AT - READ_AT);
	check_offsets(&gi);
}

static void test_refused(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct go_elf_info gi;
	int fd;

	make_image(img, "go1.16.15", true);
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_OLD_ABI);
	assert_string_equal(gi.version, "go1.16.15");

	make_image(img, "go1.21.0", false);
	img[0x300 + 1] = 'X'; /* no build info magic */
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_NOT_GO);

	make_image(img, "go1.21.0", false);
	img[0x380 + 0x48 + 12] = (uint8_t)'X'; /* Write's name in .gopclntab altered */
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_NO_TLS);

	make_image(img, "go1.21.0", false);
	put32(img, 0x380, 0xfffffffa); /* Go 1.16's pclntab magic: not read */
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_NO_SYMBOLS);

	make_image(img, "go1.21.0", false);
	memset(img + TEXT_OFF + READ_AT, 0xc3, CLOSE_AT - READ_AT); /* 32 RETs: more than probed */
	assert_int_equal(go_elf_inspect_mem(img, sizeof(img), &gi), GO_ELF_TOO_MANY_RETS);

	assert_int_equal(go_elf_inspect_mem("not an elf at all", 17, &gi), GO_ELF_NOT_ELF);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(go_elf_inspect_fd(fd, &gi), GO_ELF_NOT_GO);
	close(fd);
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	assert_int_equal(go_elf_inspect_fd(fd, &gi), GO_ELF_NOT_ELF);
	close(fd);
	for (int i = GO_ELF_TOO_MANY_RETS; i <= GO_ELF_OK; i++)
		assert_non_null(go_elf_strerror(i));
}

/* Every cut of both images: refused or read, never out of bounds (unit-san's ASan). */
static void test_truncated(void **state)
{
	static uint8_t img[IMG_SIZE];
	struct go_elf_info gi;

	for (int sym = 0; sym < 2; sym++) {
		make_image(img, "go1.22.1", sym);
		for (size_t len = 0; len < sizeof(img); len++) {
			uint8_t *cut = malloc(len ? len : 1);
			int r;

			memcpy(cut, img, len);
			r = go_elf_inspect_mem(cut, len, &gi);
			if (r == GO_ELF_OK) {
				assert_true(gi.read_off + gi.read_size <= len);
				assert_true(gi.n_read_rets > 0);
			}
			free(cut);
		}
	}
}

static void test_find_rets(void **state)
{
	/* ret; nop; retq $8 (c2: RET with an immediate); int3 padding; a lone 0xc3 inside an
	 * instruction (mov eax, 0xc3) that is not a RET */
	static const uint8_t code[] = {0xc3, 0x90, 0xc2, 0x08, 0x00, 0xb8, 0xc3,
				       0x00, 0x00, 0x00, 0xcc, 0xcc, 0xc3};
	uint64_t rets[8];

	assert_int_equal(go_elf_find_rets(code, sizeof(code), 100, rets, 8), 3);
	assert_int_equal(rets[0], 100);
	assert_int_equal(rets[1], 102);
	assert_int_equal(rets[2], 112);
	/* All are counted, the first max stored. */
	rets[1] = 7;
	assert_int_equal(go_elf_find_rets(code, sizeof(code), 0, rets, 1), 3);
	assert_int_equal(rets[0], 0);
	assert_int_equal(rets[1], 7);
	assert_int_equal(go_elf_find_rets(code, 0, 0, rets, 8), 0);
}

static void test_version(void **state)
{
	int a, b;

	assert_int_equal(go_elf_parse_version("go1.17", &a, &b), 0);
	assert_int_equal(a * 100 + b, 117);
	assert_int_equal(go_elf_parse_version("go1.26.8 X:nocoverageredesign", &a, &b), 0);
	assert_int_equal(a * 100 + b, 126);
	assert_int_equal(go_elf_parse_version("go1.21rc2", &a, &b), 0);
	assert_int_equal(b, 21);
	assert_int_equal(go_elf_parse_version("devel go1.23", &a, &b), -1);
	assert_int_equal(go_elf_parse_version("go", &a, &b), -1);
	assert_int_equal(go_elf_parse_version("go1", &a, &b), -1);
	assert_int_equal(go_elf_parse_version("go1.x", &a, &b), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_symtab),    cmocka_unit_test(test_pclntab),
	    cmocka_unit_test(test_refused),   cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_find_rets), cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
