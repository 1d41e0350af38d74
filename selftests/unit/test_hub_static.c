/* SPDX-License-Identifier: Apache-2.0 */
/* hub_static: which request paths reach which files of the UI directory, and none outside it;
 * MIME types; the default directory beside the binary; hub_ui_api's validate answer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hub_static.h"
#include "hub_ui_api.h"

static void test_path(void **state)
{
	char out[64];
	assert_int_equal(hub_static_path("/", out, sizeof(out)), 0);
	assert_string_equal(out, "index.html");
	assert_int_equal(hub_static_path("/app.js", out, sizeof(out)), 0);
	assert_string_equal(out, "app.js");
	assert_int_equal(hub_static_path("/assets/x.v1.css", out, sizeof(out)), 0);
	assert_string_equal(out, "assets/x.v1.css");
	static const char *const refused[] = {
	    "",	       "app.js",    "/..",	 "/../etc/passwd", "/a/../../b",
	    "/a/..",   "/./app.js", "/.env",	 "/a/.git/config", "//etc/passwd",
	    "/a//b",   "/a/",	    "/a\\..\\b", "/a\nb",	   "/a\x7f",
	    "/a\x01b", "/..%2fetc", NULL,
	};
	for (size_t i = 0; refused[i]; i++) {
		/* "/..%2fetc" is refused for its leading dot: the server gets decoded paths. */
		assert_int_equal(hub_static_path(refused[i], out, sizeof(out)), -EINVAL);
	}
	assert_int_equal(hub_static_path(NULL, out, sizeof(out)), -EINVAL);
	/* Too long for the buffer: refused, never cut (a cut path could name another file). */
	char longp[100];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(hub_static_path(longp, out, sizeof(out)), -EINVAL);
}

static void test_mime(void **state)
{
	assert_string_equal(hub_static_mime("index.html"), "text/html; charset=utf-8");
	assert_string_equal(hub_static_mime("app.js"), "text/javascript; charset=utf-8");
	assert_string_equal(hub_static_mime("app.css"), "text/css; charset=utf-8");
	assert_string_equal(hub_static_mime("app.js.map"), "application/json");
	assert_string_equal(hub_static_mime("x.SVG"), "image/svg+xml");
	assert_string_equal(hub_static_mime("a.d/noext"), "application/octet-stream");
	assert_string_equal(hub_static_mime("README"), "application/octet-stream");
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_open(void **state)
{
	char tmpl[] = "/tmp/floe-static-XXXXXX", p[512], ui[256];
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	snprintf(ui, sizeof(ui), "%s/ui", dir);
	assert_int_equal(mkdir(ui, 0700), 0);
	snprintf(p, sizeof(p), "%s/index.html", ui);
	put(p, "<!doctype html>");
	snprintf(p, sizeof(p), "%s/secret", dir);
	put(p, "outside");
	snprintf(p, sizeof(p), "%s/sub", ui);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/link", ui);
	assert_int_equal(symlink("../secret", p), 0);

	int fd = -1;
	uint64_t len = 0;
	const char *ct = NULL;
	assert_int_equal(hub_static_open(ui, "/", &fd, &len, &ct), 0);
	assert_true(fd >= 0);
	assert_int_equal(len, 15);
	assert_string_equal(ct, "text/html; charset=utf-8");
	close(fd);
	assert_int_equal(hub_static_open(ui, "/../secret", &fd, &len, &ct), -EINVAL);
	/* A symlink out of the directory is not followed; a directory is not a file. */
	assert_int_equal(hub_static_open(ui, "/link", &fd, &len, &ct), -ENOENT);
	assert_int_equal(hub_static_open(ui, "/sub", &fd, &len, &ct), -ENOENT);
	assert_int_equal(hub_static_open(ui, "/missing.js", &fd, &len, &ct), -ENOENT);

	/* The default directory: ui/ beside the binary. */
	char exe[512], got[PATH_MAX];
	snprintf(exe, sizeof(exe), "%s/floe-hub", dir);
	assert_int_equal(hub_static_default_dir(exe, got, sizeof(got)), 0);
	assert_string_equal(got, ui);
	snprintf(exe, sizeof(exe), "%s/sub/floe-hub", ui);
	assert_int_equal(hub_static_default_dir(exe, got, sizeof(got)), -ENOENT);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

static void test_validate(void **state)
{
	json_t *j = hub_api_validate("http and response.status >= 500");
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	j = hub_api_validate("");
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	j = hub_api_validate("http and response.statu >= 500");
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "column")), 10);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "response.statu"));
	json_decref(j);
	j = hub_api_schema();
	assert_true(json_array_size(json_object_get(j, "common")) > 5);
	assert_true(json_array_size(json_object_get(j, "protocols")) >= 8);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_mime),
	    cmocka_unit_test(test_open),
	    cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
