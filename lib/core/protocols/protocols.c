// SPDX-License-Identifier: Apache-2.0
/* The protocols the core knows: one registration line each. */
#include <string.h>

#include "protocols/protocol.h"

extern const struct protocol_desc protocol_amqp, protocol_dns, protocol_kafka, protocol_redis;

const struct protocol_desc *const protocols[] = {
	&protocol_amqp,
	&protocol_dns,
	&protocol_kafka,
	&protocol_redis,
	NULL,
};

const struct protocol_desc *protocol_find(const char *name)
{
	for (const struct protocol_desc *const *p = protocols; *p; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}
