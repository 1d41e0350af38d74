/* SPDX-License-Identifier: Apache-2.0 */
/*
 * script_service: the JavaScript scripts of --scripting-source DIR, run beside a tap as one of
 * its services (tap.h, struct tap_service) over its agent_api (docs/scripting.md).
 *
 * Each `*.js` file of the directory is one script in its own sandboxed runner process
 * (script_child.h). Its onEntry(entry) gets the entries that pass its KFL pre-filter (`var
 * filter = "..."`) through the API's follow call, on a thread of its own; its jobs run on their
 * schedule on another; its helper calls (log, webhook, metric, snapshot) are carried out here,
 * webhooks and snapshots on one action thread. A script that fails SCRIPT_MAX_FAILURES times in
 * a row is disabled until its file changes. With watch, the directory is watched (inotify)
 * and a script whose file is written, added or removed is reloaded, started or stopped.
 */
#ifndef FLOE_SCRIPT_SERVICE_H
#define FLOE_SCRIPT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api/agent_api.h"

#define SCRIPT_MAX_FAILURES 5

/*
 * Packets for the scripts' onPacket(meta): a bounded queue that the tap's drain thread fills
 * (script_packets_hook is a tap_packet_hook) only while a loaded script has onPacket; what
 * does not fit is counted, never waited for. Metadata only (addresses, ports, sizes, TCP
 * flags): no payload byte leaves the hook.
 */
struct script_packets;
struct script_packets *script_packets_new(size_t cap);
void script_packets_free(struct script_packets *q);
void script_packets_hook(void *ctx, int linktype, const uint8_t *data, uint32_t cap_len,
			 uint32_t wire_len, uint64_t ts_ns);

struct script_options {
	const char *source;	  /* the directory of *.js */
	bool watch;		  /* reload on change (inotify) */
	uint32_t cpu_ms;	  /* CPU time per call */
	uint64_t memory;	  /* heap bytes per script */
	const char *metrics_file; /* Prometheus text, rewritten as values change; may be NULL */
	const char *snapshot_dir; /* snapshot() writes PCAP files here; NULL: none allowed */
	const char *runner;	  /* NULL: script_runner_path() */
	struct script_packets *packets; /* onPacket's queue; NULL: onPacket is not fed */
	FILE *log;			/* "floe: script NAME: ..." lines */
};

struct script_service;

/* The service over api (copied; it must outlive script_service_stop). */
int script_service_start(const struct script_options *o, const struct agent_api *api,
			 struct script_service **out, char *err, size_t errlen);
void script_service_stop(struct script_service *s);

struct tap_options;

/* Add the scripting service to a tap when o asks for it (--scripting-source): floe tap and
 * floe-agent. 0, or -1 with a message (no room for another service). */
int script_tap_service_add(struct tap_options *o, char *err, size_t errlen);

#endif /* FLOE_SCRIPT_SERVICE_H */
