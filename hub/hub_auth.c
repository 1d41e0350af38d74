/* SPDX-License-Identifier: Apache-2.0 */
#include "hub_auth.h"

#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

int hub_same_secret(const char *want, const char *got, size_t gl)
{
	size_t tl = strlen(want);
	unsigned char diff = gl != tl;

	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
	return diff == 0;
}

int hub_bearer_ok(struct lws *wsi, const char *token)
{
	char h[1024];
	int n;

	if (!token)
		return 1;
	n = lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 7 || strncasecmp(h, "Bearer ", 7))
		return 0;
	return hub_same_secret(token, h + 7, strlen(h + 7));
}
