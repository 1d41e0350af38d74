// SPDX-License-Identifier: Apache-2.0
/*
 * floe-agent: the per-node daemon. Today it runs one tap session with the same flags as
 * `floe tap`; the gRPC service for the hub comes with its own issue.
 */
#include "dissect/engine.h"
#include "tap/tap.h"

int main(int argc, char **argv)
{
	dissect_malloc_policy();
	return tap_main("floe-agent", argc, argv);
}
