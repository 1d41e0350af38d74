// SPDX-License-Identifier: Apache-2.0
/*
 * The dissectors the engine tries, in detection order. HTTP/2 comes first: its preface
 * starts with "PRI * HTTP/2.0", which an HTTP/1 detector could take for a request line.
 */
#include "dissect/dissector.h"

/* Weak while dissectors are being written: one not linked in is left out of the list. */
extern const struct dissector dissector_http1 __attribute__((weak));
extern const struct dissector dissector_http2 __attribute__((weak));

static const struct dissector *const candidates[] = { &dissector_http2, &dissector_http1 };

const struct dissector *dissectors[sizeof(candidates) / sizeof(candidates[0]) + 1];

__attribute__((constructor)) static void registry_init(void)
{
	unsigned i, n = 0;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (candidates[i])
			dissectors[n++] = candidates[i];
}
