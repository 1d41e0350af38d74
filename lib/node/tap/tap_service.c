// SPDX-License-Identifier: Apache-2.0
/* The services started beside a tap over its agent_api (tap.h, struct tap_service). */
#include <stdio.h>
#include <string.h>

#include "tap/tap.h"

int tap_options_add_service(struct tap_options *o, const struct tap_service *svc)
{
	if (o->n_services >= TAP_SERVICES_MAX)
		return -1;
	o->services[o->n_services++] = *svc;
	return 0;
}

int tap_services_start(const struct tap_options *o, const struct agent_api *api, FILE *log)
{
	char err[512];
	size_t i;

	for (i = 0; i < o->n_services; i++) {
		const struct tap_service *s = &o->services[i];

		err[0] = '\0';
		if (s->start(api, s->ctx, err, sizeof(err)) == 0)
			continue;
		fprintf(log, "floe: %s: %s\n", s->name, err[0] ? err : "could not start");
		tap_services_stop(o, i);
		return -1;
	}
	return (int)i;
}

void tap_services_stop(const struct tap_options *o, size_t n)
{
	while (n > 0) {
		const struct tap_service *s = &o->services[--n];

		if (s->stop)
			s->stop(s->ctx);
	}
}

bool tap_services_serve(const struct tap_options *o, size_t n)
{
	for (size_t i = 0; i < n && i < o->n_services; i++)
		if (o->services[i].serves)
			return true;
	return false;
}
