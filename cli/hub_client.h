/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_client: the terminal user's commands against a hub's HTTP API (docs/hub.md):
 *   floe stream --hub URL [-q KFL] [--since T] [--token T]   entries, history then live
 *   floe pcap export --hub URL [-q KFL] [--since T] [--until T] -o FILE
 * The stream is the hub's WebSocket route (libwebsockets' client); the export its PCAP route
 * (libcurl). Neither parses HTTP itself.
 */
#ifndef FLOE_HUB_CLIENT_H
#define FLOE_HUB_CLIENT_H

#include <stddef.h>

struct hub_request {
	const char *hub;   /* "http://127.0.0.1:8898" (the default) */
	const char *query; /* KFL, NULL = everything */
	const char *since, *until;
	const char *token; /* the hub's --token; default $FLOE_HUB_TOKEN */
};

/* `floe stream`: argv[0] is "stream". Returns the process exit code. */
int hub_stream_main(int argc, char **argv);

/*
 * The hub's PCAP of r's query into out ("-": stdout; created 0600, an existing file replaced
 * only with replace). 0, or -errno with a message in err (the hub's own error when it gave one).
 */
int hub_pcap_export(const struct hub_request *r, const char *out, int replace, char *err,
		    size_t errlen);

#endif /* FLOE_HUB_CLIENT_H */
