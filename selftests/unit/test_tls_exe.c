// SPDX-License-Identifier: Apache-2.0
/*
 * source/tls_exe.c: a TLS library linked into a program. Crafted images for the marker
 * strings (a stripped OpenSSL, BoringSSL, rustls, none) and the test program itself, which
 * holds floe's code and has no TLS in it. Programs with Debian's libssl.a linked in, with
 * symbols and stripped, are checked live by selftests/integration/test_tls_static.sh.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "source/tls_exe.h"

/* An image: the ELF magic, then the strings given, apart. */
static size_t image(char *buf, size_t cap, const char *a, const char *b)
{
	size_t n = 64;

	memset(buf, 0, cap);
	memcpy(buf,
	       "\x7f"
	       "ELF",
	       4);
	if (a) {
		memcpy(buf + n, a, strlen(a));
		n += strlen(a) + 16;
	}
	if (b) {
		memcpy(buf + n, b, strlen(b));
		n += strlen(b) + 16;
	}
	return n;
}

/* The TLS 1.3 context, made at run time: this program must not carry it (test_files). */
static char CTX[40];

static void make_ctx(void)
{
	static volatile char last = 'y';

	strcpy(CTX, "TLS 1.3, server CertificateVerif");
	CTX[strlen(CTX) + 1] = 0;
	CTX[strlen(CTX)] = last;
}

static void test_markers(void **state)
{
	char img[512], what[160];
	size_t n;

	make_ctx();
	n = image(img, sizeof(img), CTX, "OpenSSL 3.0.15 3 Sep 2024");
	assert_int_equal(tls_exe_inspect_mem(img, n, what, sizeof(what)), TLS_EXE_BLIND);
	assert_non_null(strstr(what, "OpenSSL linked statically without SSL_read/SSL_write"));
	n = image(img, sizeof(img), "BoringSSL", CTX);
	assert_int_equal(tls_exe_inspect_mem(img, n, what, sizeof(what)), TLS_EXE_BLIND);
	assert_non_null(strstr(what, "BoringSSL"));
	n = image(img, sizeof(img), CTX, "/root/.cargo/registry/src/rustls-0.23.5/src/conn.rs");
	assert_int_equal(tls_exe_inspect_mem(img, n, what, sizeof(what)), TLS_EXE_BLIND);
	assert_non_null(strstr(what, "rustls"));
	/* No TLS 1.3 context: no TLS implementation, whatever else it names. */
	n = image(img, sizeof(img), "OpenSSL", "rustls");
	assert_int_equal(tls_exe_inspect_mem(img, n, what, sizeof(what)), TLS_EXE_NONE);
	assert_string_equal(what, "");
	/* Not an ELF file: nothing. */
	n = image(img, sizeof(img), CTX, "OpenSSL");
	img[0] = 0;
	assert_int_equal(tls_exe_inspect_mem(img, n, what, sizeof(what)), TLS_EXE_NONE);
	/* A name of SSL_write that is no symbol: not taken for one. */
	n = image(img, sizeof(img), "SSL_write", "SSL_read");
	assert_int_equal(tls_exe_inspect_mem(img, n, what, sizeof(what)), TLS_EXE_NONE);
}

static void test_files(void **state)
{
	char what[160];
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	/* floe's code is in this program: it must not find TLS in it (its marker is built at
	 * run time for that reason). */
	assert_true(fd >= 0);
	assert_int_equal(tls_exe_inspect_fd(fd, what, sizeof(what)), TLS_EXE_NONE);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(tls_exe_inspect_fd(fd, what, sizeof(what)), TLS_EXE_NONE);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_markers),
	    cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
