// SPDX-License-Identifier: Apache-2.0
/*
 * floe-agent: the per-node daemon. Today it runs one tap session with the same flags as
 * `floe tap`; the gRPC service for the hub comes with its own issue.
 */
#include <stdio.h>

#include "tap.h"

int main(int argc, char **argv)
{
	struct tap_options o;
	char err[512];
	int ret;

	tap_options_init(&o);
	ret = tap_options_parse(argc, argv, &o, stdout, err, sizeof(err));
	if (ret == 1)
		return 0;
	if (ret < 0) {
		fprintf(stderr, "floe-agent: %s\n", err);
		return 2;
	}
	return tap_run(&o, stdout, stderr);
}
