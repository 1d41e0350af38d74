/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers of the unit tests that make network namespaces and files with shell commands
 * (test_pods_local.c, test_pod_source.c): one copy, included by each.
 */
#ifndef FLOE_TEST_SHELL_H
#define FLOE_TEST_SHELL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Run a command through the shell; a failure is printed with the command. Returns system(). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* A signal during a test ends the process through exit(), so that atexit() cleanup runs. */
static void __attribute__((unused)) exit_on_signal(int sig)
{
	(void)sig;
	exit(1);
}

#endif /* FLOE_TEST_SHELL_H */
