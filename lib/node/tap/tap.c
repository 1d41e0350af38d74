// SPDX-License-Identifier: Apache-2.0
#include "tap/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/dlt.h>

#include "capture/capture.h"
#include "dissect/dissect_worker.h"
#include "dissect/engine.h"
#include "entry/entry_filter.h"
#include "entry/entry_output.h"
#include "net/packet.h"
#include "store/pcap_store.h"
#include "pods/pods_local.h"
#include "capture/sys_mounts.h"

/*
 * Names for entries' addresses: every pod tapped in this run, kept after it is untapped so
 * that entries finishing later (at exit, after a pod went away) still carry its name. Read
 * by the dissection thread, written by the main one. Bounded: the oldest name is replaced.
 */
#define POD_NAMES_MAX 4096

struct pod_name {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d, as entries have it */
	char pod[FLOE_POD_NAME_MAX + 1];
	char namespace[FLOE_POD_NAME_MAX + 1];
};

struct pod_names {
	pthread_mutex_t lock;
	struct pod_name *v;
	size_t n, next; /* next: the slot replaced when full */
};

/* A pod being tapped: what is needed to undo its hooks and map entries. */
struct tapped_pod {
	struct floe_pod pod;
	uint32_t target_id;
	bool seen; /* still present at the last rescan */
};

struct tap {
	const struct tap_options *o;
	FILE *log;
	struct tap_scope scope;
	struct capture *capture;
	struct pcap_store *store;
	struct tapped_pod *pods;
	size_t n_pods, cap_pods;
	uint32_t next_target_id;
	int64_t mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t packets, bytes;
	int store_errno;
	/* live entries (--entries/--json): dissected on the worker's thread */
	struct dissect_engine *engine;
	struct dissect_worker *worker;
	struct entry_output output;
	struct entry_filter *filter;
	struct pod_names names;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Kernel records carry CLOCK_MONOTONIC; PCAP wants wall-clock time. Re-read every second so
 * that NTP steps show up in the capture's timestamps quickly. */
static void refresh_clock_offset(struct tap *t)
{
	int64_t m1 = clock_ns(CLOCK_MONOTONIC), r = clock_ns(CLOCK_REALTIME);
	int64_t m2 = clock_ns(CLOCK_MONOTONIC);

	t->mono_to_real_ns = r - (m1 + (m2 - m1) / 2);
}

static int on_packet(void *ctx, const struct floe_pkt_record *rec, const uint8_t *frame)
{
	struct tap *t = ctx;
	int ret = pcap_store_write(t->store, (uint64_t)((int64_t)rec->ts_ns + t->mono_to_real_ns),
				   rec->cap_len, rec->pkt_len, frame);

	if (ret < 0)
		t->store_errno = -ret;
	t->packets++;
	t->bytes += rec->pkt_len;
	/* A full queue only costs this packet's entry; it is in the store all the same. */
	if (t->worker)
		dissect_worker_push(t->worker, DLT_EN10MB, frame, rec->cap_len, rec->pkt_len,
				    (uint64_t)((int64_t)rec->ts_ns + t->mono_to_real_ns));
	return 0;
}

static void pod_names_add(struct pod_names *pn, const struct floe_pod *p)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	pthread_mutex_lock(&pn->lock);
	for (size_t a = 0; a < p->n_addrs; a++) {
		const struct floe_pod_addr *pa = &p->addrs[a];
		struct pod_name *slot = NULL;
		uint8_t addr[16];

		if (pa->family == AF_INET) {
			memcpy(addr, v4mapped, 12);
			memcpy(addr + 12, pa->addr, 4);
		} else {
			memcpy(addr, pa->addr, 16);
		}
		/* An address that moved to another pod takes the new name. */
		for (size_t i = 0; i < pn->n && !slot; i++)
			if (!memcmp(pn->v[i].addr, addr, 16))
				slot = &pn->v[i];
		if (!slot && pn->n < POD_NAMES_MAX) {
			if (!pn->v)
				pn->v = calloc(POD_NAMES_MAX, sizeof(*pn->v));
			if (pn->v)
				slot = &pn->v[pn->n++];
		} else if (!slot) {
			slot = &pn->v[pn->next];
			pn->next = (pn->next + 1) % POD_NAMES_MAX;
		}
		if (!slot)
			break; /* ENOMEM: entries go without this pod's name */
		memcpy(slot->addr, addr, 16);
		snprintf(slot->pod, sizeof(slot->pod), "%s", p->name);
		snprintf(slot->namespace, sizeof(slot->namespace), "%s", p->namespace);
	}
	pthread_mutex_unlock(&pn->lock);
}

/* A dissect_names_fn: pod names for entries, on the dissection thread. */
static int pod_names_lookup(void *ctx, const uint8_t addr[16], char pod[ENTRY_NAME_MAX],
			    char ns[ENTRY_NAME_MAX])
{
	struct pod_names *pn = ctx;
	int found = 0;

	pthread_mutex_lock(&pn->lock);
	for (size_t i = 0; i < pn->n && !found; i++) {
		if (memcmp(pn->v[i].addr, addr, 16))
			continue;
		snprintf(pod, ENTRY_NAME_MAX, "%s", pn->v[i].pod);
		snprintf(ns, ENTRY_NAME_MAX, "%s", pn->v[i].namespace);
		found = 1;
	}
	pthread_mutex_unlock(&pn->lock);
	return found;
}

/* Worker tick: entries reach a pipe or file within a second. */
static void entries_tick(void *ctx)
{
	struct tap *t = ctx;

	fflush(t->output.out);
}

static int entries_open(struct tap *t, FILE *out, char *err, size_t errlen)
{
	struct dissect_config dc = {
	    .body_max = t->o->body_max, .names = pod_names_lookup, .names_ctx = &t->names};
	struct dissect_worker_config wc = {
	    .queue_bytes = t->o->dissect_queue, .tick = entries_tick, .tick_ctx = t};
	int ret;

	if (t->o->filter) {
		ret = entry_filter_compile_checked(t->o->filter, &t->filter, err, errlen);
		if (ret)
			return ret;
	}
	t->output.out = out;
	t->output.json = t->o->entries_json;
	t->output.filter = t->filter;
	ret = dissect_engine_create(&dc, entry_output_sink, &t->output, &t->engine);
	if (ret) {
		snprintf(err, errlen, "cannot start the dissection engine: %s", strerror(-ret));
		return ret;
	}
	ret = dissect_worker_start(&wc, t->engine, &t->worker);
	if (ret) {
		snprintf(err, errlen, "cannot start the dissection thread: %s", strerror(-ret));
		dissect_engine_destroy(t->engine);
		t->engine = NULL;
	}
	return ret;
}

static void entries_close(struct tap *t)
{
	struct dissect_worker_stats ws;
	struct dissect_stats ds;

	if (!t->engine)
		return;
	/* Dissects what is still queued and finishes the engine: pending entries come out. */
	dissect_worker_stop(t->worker, &ws);
	t->worker = NULL;
	dissect_engine_get_stats(t->engine, &ds);
	fflush(t->output.out);
	fprintf(t->log,
		"  entries                         %llu (%llu printed, %llu incomplete), %llu "
		"connections (%llu unrecognised), %llu parse errors\n",
		(unsigned long long)ds.entries, (unsigned long long)t->output.printed,
		(unsigned long long)ds.entries_incomplete, (unsigned long long)ds.conns,
		(unsigned long long)ds.conns_unknown, (unsigned long long)ds.parse_errors);
	fprintf(t->log,
		"  not dissected: queue full       %llu packets (queue peak %llu bytes), %llu "
		"undecodable\n",
		(unsigned long long)ws.dropped, (unsigned long long)ws.queue_peak,
		(unsigned long long)ws.undecoded);
	dissect_engine_destroy(t->engine);
	t->engine = NULL;
	entry_output_free(&t->output);
}

static const char *addr_str(const struct floe_pod_addr *a, char *buf, size_t len)
{
	return inet_ntop(a->family, a->addr, buf, (socklen_t)len);
}

static void print_pods(FILE *out, const struct floe_pod_list *pods, const struct tap_scope *scope)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(out, "%-20s %-30s %-16s %s\n", "NAMESPACE", "POD", "INTERFACE", "ADDRESSES");
	for (size_t i = 0; i < pods->n; i++) {
		const struct floe_pod *p = &pods->pods[i];

		if (!tap_scope_match(scope, p))
			continue;
		fprintf(out, "%-20s %-30s %-16s ", p->namespace, p->name, p->host_ifname);
		for (size_t a = 0; a < p->n_addrs; a++)
			fprintf(out, "%s%s", a ? "," : "",
				addr_str(&p->addrs[a], buf, sizeof(buf)));
		fputc('\n', out);
	}
}

static struct tapped_pod *find_tapped(struct tap *t, const struct floe_pod *p)
{
	for (size_t i = 0; i < t->n_pods; i++)
		if (t->pods[i].pod.host_ifindex == p->host_ifindex &&
		    strcmp(t->pods[i].pod.name, p->name) == 0)
			return &t->pods[i];
	return NULL;
}

static int tap_pod(struct tap *t, const struct floe_pod *p)
{
	char err[256];
	struct tapped_pod *tp;
	int ret;

	if (t->n_pods == t->cap_pods) {
		size_t cap = t->cap_pods ? t->cap_pods * 2 : 16;
		void *np = realloc(t->pods, cap * sizeof(*t->pods));

		if (!np)
			return -ENOMEM;
		t->pods = np;
		t->cap_pods = cap;
	}
	tp = &t->pods[t->n_pods];
	tp->pod = *p;
	tp->target_id = ++t->next_target_id;
	tp->seen = true;
	/* Map entries before the hook, so the first packet the hook sees is already in scope. */
	for (size_t a = 0; a < p->n_addrs; a++) {
		ret = capture_target_add(t->capture, p->addrs[a].family, p->addrs[a].addr,
					 tp->target_id, FLOE_TARGET_LOCAL);
		if (ret < 0) {
			fprintf(t->log, "floe: pod %s/%s: cannot add address: %s\n", p->namespace,
				p->name, strerror(-ret));
			return ret;
		}
	}
	ret = capture_attach(t->capture, p->host_ifindex, err, sizeof(err));
	if (ret < 0) {
		fprintf(t->log, "floe: pod %s/%s: %s\n", p->namespace, p->name, err);
		for (size_t a = 0; a < p->n_addrs; a++)
			capture_target_del(t->capture, p->addrs[a].family, p->addrs[a].addr);
		return ret;
	}
	t->n_pods++;
	pod_names_add(&t->names, p);
	return 0;
}

static void untap_pod(struct tap *t, size_t i)
{
	struct tapped_pod *tp = &t->pods[i];

	capture_detach(t->capture, tp->pod.host_ifindex);
	for (size_t a = 0; a < tp->pod.n_addrs; a++)
		capture_target_del(t->capture, tp->pod.addrs[a].family, tp->pod.addrs[a].addr);
	t->pods[i] = t->pods[--t->n_pods];
}

/* Bring the hooks in line with the pods that exist now and match the scope. */
static int sync_pods(struct tap *t, bool verbose)
{
	struct floe_pod_list list = {};
	char err[256];
	int ret = pods_local_discover(t->o->netns_dir, t->o->inventory, &list, err, sizeof(err));

	if (ret < 0) {
		fprintf(t->log, "floe: %s\n", err);
		return ret;
	}
	for (size_t i = 0; i < t->n_pods; i++)
		t->pods[i].seen = false;
	for (size_t i = 0; i < list.n; i++) {
		const struct floe_pod *p = &list.pods[i];
		struct tapped_pod *tp;

		if (!tap_scope_match(&t->scope, p))
			continue;
		tp = find_tapped(t, p);
		if (tp) {
			tp->seen = true;
			continue;
		}
		if (tap_pod(t, p) == 0 && verbose)
			fprintf(t->log, "floe: tapping new pod %s/%s\n", p->namespace, p->name);
	}
	for (size_t i = t->n_pods; i-- > 0;) {
		if (t->pods[i].seen)
			continue;
		if (verbose)
			fprintf(t->log, "floe: pod %s/%s is gone\n", t->pods[i].pod.namespace,
				t->pods[i].pod.name);
		untap_pod(t, i);
	}
	pods_local_free(&list);
	return 0;
}

static void write_stats_json(const char *path, const uint64_t cnt[FLOE_CNT_MAX],
			     const struct pcap_store_stats *st, size_t pods, FILE *log)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(log, "floe: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f,
		"{\"seen\":%llu,\"targeted\":%llu,\"recorded\":%llu,\"ringbuf_full\":%llu,"
		"\"duplicate\":%llu,\"written\":%llu,\"store_lost\":%llu,"
		"\"segments_evicted\":%llu,\"packets_evicted\":%llu,\"store_bytes\":%llu,"
		"\"store_bytes_peak\":%llu,\"pods\":%zu}\n",
		(unsigned long long)cnt[FLOE_CNT_SEEN], (unsigned long long)cnt[FLOE_CNT_TARGETED],
		(unsigned long long)cnt[FLOE_CNT_RECORDED],
		(unsigned long long)cnt[FLOE_CNT_RINGBUF_FULL],
		(unsigned long long)cnt[FLOE_CNT_DUPLICATE],
		(unsigned long long)st->packets_written, (unsigned long long)st->packets_lost,
		(unsigned long long)st->segments_evicted, (unsigned long long)st->packets_evicted,
		(unsigned long long)st->store_bytes, (unsigned long long)st->store_bytes_peak,
		pods);
	if (fclose(f) != 0)
		fprintf(log, "floe: cannot write %s: %s\n", path, strerror(errno));
}

static void print_summary(struct tap *t, const uint64_t cnt[FLOE_CNT_MAX],
			  const struct pcap_store_stats *st, double secs)
{
	FILE *l = t->log;

	fprintf(l, "floe: stopped after %.1f s\n", secs);
	fprintf(l, "  packets seen at the hooks       %llu\n",
		(unsigned long long)cnt[FLOE_CNT_SEEN]);
	fprintf(l, "  packets of tapped pods          %llu\n",
		(unsigned long long)cnt[FLOE_CNT_TARGETED]);
	fprintf(l, "  recorded                        %llu (%llu bytes on the wire)\n",
		(unsigned long long)cnt[FLOE_CNT_RECORDED], (unsigned long long)t->bytes);
	fprintf(l, "  dropped: kernel ring buffer full %llu\n",
		(unsigned long long)cnt[FLOE_CNT_RINGBUF_FULL]);
	fprintf(l, "  pod-to-pod copies not recorded  %llu\n",
		(unsigned long long)cnt[FLOE_CNT_DUPLICATE]);
	fprintf(l, "  written to the store            %llu\n",
		(unsigned long long)st->packets_written);
	fprintf(l, "  dropped: store write errors     %llu", (unsigned long long)st->packets_lost);
	if (st->last_errno)
		fprintf(l, " (last error: %s)", strerror(st->last_errno));
	fputc('\n', l);
	fprintf(l, "  evicted for the storage limit   %llu packets in %llu segments\n",
		(unsigned long long)st->packets_evicted, (unsigned long long)st->segments_evicted);
	fprintf(l, "  store %s: %llu bytes (peak %llu, limit %llu)\n", t->o->store_dir,
		(unsigned long long)st->store_bytes, (unsigned long long)st->store_bytes_peak,
		(unsigned long long)t->o->storage_limit);
}

int tap_run(const struct tap_options *o, FILE *out, FILE *log)
{
	struct tap t = {.o = o, .log = log, .names = {.lock = PTHREAD_MUTEX_INITIALIZER}};
	struct tc_hooks_cleanup_stats cleaned = {};
	struct pcap_store_stats st = {};
	uint64_t cnt[FLOE_CNT_MAX] = {};
	struct sigaction sa = {.sa_handler = on_signal};
	char err[512];
	int rc = 1, ret;
	int64_t start, last_tick;

	if (tap_scope_init(&t.scope, o->pod_regex, o->namespaces, o->all_namespaces, err,
			   sizeof(err)) < 0) {
		fprintf(log, "floe: %s\n", err);
		return 2;
	}
	if (o->dryrun) {
		struct floe_pod_list list = {};

		ret = pods_local_discover(o->netns_dir, o->inventory, &list, err, sizeof(err));
		if (ret < 0) {
			fprintf(log, "floe: %s\n", err);
		} else {
			print_pods(out, &list, &t.scope);
			pods_local_free(&list);
			rc = 0;
		}
		tap_scope_free(&t.scope);
		return rc;
	}

	if (sys_mounts_ensure(err, sizeof(err)) < 0 && o->debug)
		fprintf(log, "floe: warning: %s\n", err);
	if (o->debug)
		setenv("FLOE_BPF_DEBUG", "1", 0);

	struct capture_config cc = {
	    .snaplen = o->snaplen, .ringbuf_bytes = o->ringbuf_bytes, .state_dir = o->state_dir};
	ret = capture_open(&cc, on_packet, &t, &t.capture, &cleaned, err, sizeof(err));
	if (ret < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	if (cleaned.filters_removed || cleaned.qdiscs_removed)
		fprintf(log, "floe: removed %u hooks and %u qdiscs left by an earlier run\n",
			cleaned.filters_removed, cleaned.qdiscs_removed);

	struct pcap_store_config sc = {
	    .dir = o->store_dir,
	    .limit_bytes = o->storage_limit,
	    .segment_seconds = o->segment_seconds,
	    .snaplen = o->snaplen,
	    .zstd_level = o->compress ? 3 : 0,
	};
	ret = pcap_store_open(&sc, &t.store, err, sizeof(err));
	if (ret < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}

	if ((o->entries || o->filter) && entries_open(&t, out, err, sizeof(err)) < 0) {
		fprintf(log, "floe: %s\n", err);
		rc = 2;
		goto out;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	refresh_clock_offset(&t);
	if (sync_pods(&t, false) < 0)
		goto out;

	fprintf(log, "floe: tapping %zu pod%s", t.n_pods, t.n_pods == 1 ? "" : "s");
	for (size_t i = 0; i < t.n_pods; i++)
		fprintf(log, "%s%s/%s", i ? ", " : ": ", t.pods[i].pod.namespace,
			t.pods[i].pod.name);
	fprintf(log, "%s; store %s (limit %llu bytes), ring buffer %llu bytes\n",
		t.n_pods ? "" : " (none match yet; waiting for pods)", o->store_dir,
		(unsigned long long)o->storage_limit,
		(unsigned long long)capture_ringbuf_bytes(t.capture));
	fflush(log);

	start = last_tick = clock_ns(CLOCK_MONOTONIC);
	while (!stop_requested) {
		ret = capture_poll(t.capture, 2);
		if (ret < 0) {
			fprintf(log, "floe: ring buffer: %s\n", strerror(-ret));
			break;
		}
		int64_t now = clock_ns(CLOCK_MONOTONIC);

		if (o->duration > 0 && (double)(now - start) / 1e9 >= o->duration)
			break;
		if (now - last_tick >= 1000000000) {
			last_tick = now;
			refresh_clock_offset(&t);
			sync_pods(&t, true);
			if (o->debug && capture_counters(t.capture, cnt) == 0)
				fprintf(log,
					"floe: seen %llu targeted %llu recorded %llu ringbuf_full "
					"%llu\n",
					(unsigned long long)cnt[FLOE_CNT_SEEN],
					(unsigned long long)cnt[FLOE_CNT_TARGETED],
					(unsigned long long)cnt[FLOE_CNT_RECORDED],
					(unsigned long long)cnt[FLOE_CNT_RINGBUF_FULL]);
		}
	}

	/* Unhook first, then drain what the ring still holds: nothing recorded is left behind. */
	while (t.n_pods)
		untap_pod(&t, t.n_pods - 1);
	while (capture_poll(t.capture, 0) > 0)
		;
	capture_counters(t.capture, cnt);
	/* flush waits until the writer has written everything queued: the counts are final. */
	pcap_store_flush(t.store);
	pcap_store_get_stats(t.store, &st);
	ret = pcap_store_close(t.store);
	t.store = NULL;
	rc = 0;
	if (ret < 0) {
		fprintf(log, "floe: closing the store: %s\n", strerror(-ret));
		rc = 1;
	}
	print_summary(&t, cnt, &st, (double)(clock_ns(CLOCK_MONOTONIC) - start) / 1e9);
	entries_close(&t);
	if (o->stats_json)
		write_stats_json(o->stats_json, cnt, &st, t.next_target_id, log);
out:
	entries_close(&t);
	entry_filter_free(t.filter);
	if (t.store)
		pcap_store_close(t.store);
	capture_close(t.capture);
	tap_scope_free(&t.scope);
	free(t.pods);
	free(t.names.v);
	pthread_mutex_destroy(&t.names.lock);
	return rc;
}
