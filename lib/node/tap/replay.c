// SPDX-License-Identifier: Apache-2.0
/*
 * `floe tap --pcap FILE`: a capture taken elsewhere through the agent's path without the
 * kernel: its packets into the PCAP store, its entries (dissected as `floe read` dissects
 * them) into the entry history and to the agent's live subscribers, so that `floe history`
 * and the agent_api serve it like a tapped node's traffic (docs/hub.md).
 */
#include "tap/replay.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "agent/agent_local.h"
#include "entry/entry_filter.h"
#include "entry/entry_json.h"
#include "entry/entry_output.h"
#include "store/entry_history.h"
#include "store/pcap_store.h"
#include "tap/read_file.h"

struct replay {
	struct entry_history *history;
	struct agent_local *agent;
	struct entry_json_buf buf;
	struct entry_output output; /* --json/--entries */
	bool printing;
};

static void replay_sink(void *ctx, const struct entry *e)
{
	struct replay *r = ctx;

	r->buf.len = 0;
	agent_local_entry(r->agent, r->history, &r->buf, e);
	if (r->printing) /* the history's text of e is the output's (len 0: not written) */
		entry_output_sink_json(&r->output, e, r->buf.len ? r->buf.p : NULL, r->buf.len);
}

/* The file's packets into the store, as the tap's drain writes them. */
static int copy_packets(const char *path, struct pcap_store *store, uint64_t *n, char *err,
			size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	FILE *f = fopen(path, "rb");
	unsigned char magic[2] = {0, 0};
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		fclose(f);
		snprintf(err, errlen,
			 "%s: a gzip file: the store keeps packets as they were captured, give the "
			 "capture uncompressed (gunzip -k)",
			 path);
		return -EINVAL;
	}
	fclose(f);
	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!p) {
		snprintf(err, errlen, "%s: %s", path, ebuf);
		return -EINVAL;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(err, errlen,
			 "%s: link type %s: the store holds Ethernet frames only (floe read "
			 "dissects this file)",
			 path, pcap_datalink_val_to_name(pcap_datalink(p)) ?: "?");
		pcap_close(p);
		return -EINVAL;
	}
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;

		pcap_store_write(store, ts, h->caplen, h->len, data);
		(*n)++;
	}
	pcap_close(p);
	return 0;
}

int tap_replay(const struct tap_options *o, FILE *out, FILE *log)
{
	struct replay r = {.printing = o->entries || o->filter};
	struct entry_filter *filter = NULL;
	struct pcap_store *store = NULL;
	struct pcap_store_stats st = {};
	struct entry_history_stats hs = {};
	struct read_file_stats rs = {};
	struct read_names names = {};
	uint64_t packets = 0;
	char err[1024], run_id[24];
	int rc = 1, ret;
	size_t started = 0; /* services running */

	tap_new_run_id(run_id);
	if (o->filter && entry_filter_compile_checked(o->filter, &filter, err, sizeof(err)) < 0) {
		fprintf(log, "floe: %s\n", err);
		return 2;
	}
	{
		struct tap_stores ts;

		ret = tap_stores_open(o, true, NULL, NULL, NULL, &ts, err, sizeof(err));
		store = ts.store;
		r.history = ts.history;
		r.agent = ts.agent;
	}
	if (ret < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	if (r.agent && o->n_services) {
		struct agent_api api = agent_local_api(r.agent);
		int n = tap_services_start(o, &api, log);

		if (n < 0)
			goto out;
		started = (size_t)n;
	}
	fprintf(log, "floe: replaying %s into %s (limit %llu bytes)\n", o->pcap_file, o->store_dir,
		(unsigned long long)o->storage_limit);
	fflush(log);
	ret = copy_packets(o->pcap_file, store, &packets, err, sizeof(err));
	if (ret < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	r.output.out = out;
	r.output.json = o->entries_json;
	r.output.filter = filter;
	struct dissect_config dc = {
	    .body_max = o->body_max, .memory_budget = o->dissect_memory, .id_prefix = run_id};

	/* the capture's own DNS answers name the addresses of what comes after them, as live
	 * (and as floe read) */
	if (read_names_init(&names, o->dns_names, replay_sink, &r, &dc) < 0) {
		fprintf(log, "floe: out of memory\n");
		goto out;
	}
	ret = read_file_run(o->pcap_file, &dc, read_names_sink, &names, &rs, err, sizeof(err));
	if (ret < 0 && ret != -EBADMSG) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	if (ret == -EBADMSG)
		fprintf(log, "floe: %s (the entries before it are kept)\n", err);
	rc = 0;
	if (r.printing && (r.output.errors || fflush(out) == EOF))
		rc = 1;
	pcap_store_flush(store);
	pcap_store_get_stats(store, &st);
	if (r.history) {
		entry_history_sync(r.history);
		entry_history_get_stats(r.history, &hs);
	}
	fprintf(log,
		"floe: replayed %llu packets (%llu written to the store, %llu lost, %llu evicted); "
		"%llu entries (%llu kept in the history, %llu dropped, %llu evicted)\n",
		(unsigned long long)packets, (unsigned long long)st.packets_written,
		(unsigned long long)st.packets_lost, (unsigned long long)st.packets_evicted,
		(unsigned long long)rs.dissect.entries, (unsigned long long)hs.entries_written,
		(unsigned long long)hs.entries_dropped, (unsigned long long)hs.entries_evicted);
	if (st.packets_lost || hs.entries_dropped)
		rc = 1;
	/* Serving the agent_api (a hub or a listener is attached): until a stop signal or
	 * --duration. Services that only consume entries (triggers, scripts) had them all. */
	if (tap_services_serve(o, started)) {
		sigset_t set;
		struct timespec d = {.tv_sec = (time_t)o->duration,
				     .tv_nsec =
					 (long)((o->duration - (double)(time_t)o->duration) * 1e9)};
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		fprintf(log, "floe: serving the replayed capture until Ctrl-C\n");
		fflush(log);
		do
			sig = o->duration > 0 ? sigtimedwait(&set, NULL, &d)
					      : sigwaitinfo(&set, NULL);
		while (sig < 0 && errno == EINTR);
	}
out:
	if (r.agent) {
		struct agent_api api = agent_local_api(r.agent);

		tap_services_stop(o, started);
		api.ops->destroy(api.self);
	}
	entry_history_close(r.history);
	if (store && pcap_store_close(store) < 0)
		rc = 1;
	read_names_free(&names);
	entry_output_free(&r.output);
	entry_json_buf_free(&r.buf);
	entry_filter_free(filter);
	return rc;
}
