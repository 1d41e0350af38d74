// SPDX-License-Identifier: Apache-2.0
#include "tap/tap.h"
#include "tap/replay.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>

#include "capture/capture.h"
#include "dissect/dissect_worker.h"
#include "dissect/engine.h"
#include "entry/entry_filter.h"
#include "entry/entry_output.h"
#include "loop/evloop.h"
#include "net/packet.h"
#include "store/entry_history.h"
#include "store/pcap_store.h"
#include "store/tls_pcap.h"
#include "pods/name_resolver.h"
#include "agent/agent_local.h"
#include "entry/entry_json.h"
#include "pods/pod_source.h"
#include "pods/k8s_config.h"
#include "pods/pods_local.h"
#include "tap/pod_capture.h"
#include "capture/sys_mounts.h"
#include "config/config.h"
#include "capture/capture_scope.h"
#include "source/packet_source.h"
#include "source/tls_source.h"

/* A pod being tapped: what is needed to undo its hooks and map entries. */
struct tapped_pod {
	struct floe_pod pod;
	uint32_t target_id;
	uint32_t tls_netns; /* its network namespace's inode given to the TLS source (0: none) */
};

/*
 * The session is one event loop (evloop.h) on this thread: the byte source (the TC ring
 * buffer) and the pod source register their fds and timers with it, the stop signals come
 * through a signalfd, and the session's own timers do the rest (a second's housekeeping,
 * the --duration end). Pod events become map updates and hook attach/detach here.
 *
 * Every way of stopping ends the same way (hooks removed, the ring drained, the store closed,
 * the summary printed): a stop signal, --duration, the entries' reader going away (stdout's
 * hang-up, seen by the loop) or a failed write of entries (on the dissection thread, told to
 * the loop through an eventfd).
 */
struct tap {
	const struct tap_options *o;
	FILE *log;
	struct tap_scope scope;
	/* The scope's text as it applies now (the configuration file may change it: scope_*) */
	char *scope_regex, *scope_ns, *scope_sel;
	bool scope_all;
	int cfg_inotify; /* on the configuration file's directory; -1: not watched */
	struct evloop_fd *cfg_src;
	struct evloop_timer *cfg_timer;
	struct capture *capture;
	struct pcap_store *store;
	/* --queue-memory: the dissection ring, the store's chunks and the history's buffers
	 * share it (docs/storage.md, "One budget for the queues") */
	struct queue_budget queue_budget;
	struct tapped_pod *pods;
	size_t n_pods, cap_pods;
	uint32_t next_target_id;
	uint64_t packets, bytes;
	struct dissect_stats dissect; /* the engine's final counters (--entries/--json) */
	/* The engine's counters for the agent's stats call (any thread): copied on the
	 * dissection thread at each tick (entries_tick), so at most a second old. */
	pthread_mutex_t dissect_snap_lock;
	struct dissect_stats dissect_snap;
	/* the dissection queue's counters: the final ones (dissect_worker_stop), and the loop's
	 * copy of each second under dissect_snap_lock (on_housekeeping), for the stats call */
	struct dissect_worker_stats dissect_queue, dissect_queue_snap;
	int store_errno;
	struct evloop *loop;
	struct pod_source pod_source;
	struct byte_source byte_source;
	/* --tls: plaintext of the tapped pods' TLS connections (NULL: off or not available) */
	struct byte_source tls_byte_source;
	struct tls_source *tls;
	struct tls_source_stats tls_stats;
	/* The TLS source's counters and blind list for the agent's stats call (any thread),
	 * copied on the loop's thread each second (tls_snapshot). */
	pthread_mutex_t tls_snap_lock;
	struct tls_source_stats tls_snap;
	char *tls_blind_snap; /* a JSON array; NULL: none */
	/* the TLS plaintext as synthetic TCP frames into the store (docs/tls.md, "PCAP"); its
	 * counters: the last ones at tls_close (for --stats-json), and the loop's copy of each
	 * second under tls_snap_lock (for the stats call) */
	struct tls_pcap *tls_pcap;
	struct tls_pcap_stats tls_pcap_stats, tls_pcap_snap;
	/* The pod source's scans of network namespaces (Kubernetes mode), copied on the loop's
	 * thread each second and before the source goes (pods_snapshot), for the stats call and
	 * --stats-json; netns_scanned false: the source scans none (no "pod_netns" member). */
	pthread_mutex_t netns_snap_lock;
	struct pod_netns_stats netns_snap;
	bool netns_scanned;
	bool k8s;
	bool started; /* past the first list of pods: report pods coming and going */
	size_t services_started; /* tap_services_start's count: stopped in tap_run's end */
	/* live entries (--entries/--json): dissected on the worker's thread */
	struct dissect_engine *engine;
	struct dissect_worker *worker;
	unsigned dissect_wait_slices; /* left this second: see dissection_may_wait */
	struct entry_output output;
	struct entry_filter *filter;
	/* --filter's pushdown in the kernel's scope maps (NULL: every packet is recorded) */
	struct capture_scope *capture_scope;
	struct name_resolver *names; /* every pod's and service's addresses, over time */
	struct dns_answer dns_answer; /* on the dissection thread: what a DNS entry names */
	/* The entries' output failed (0: not): the first errno, EPIPE when its reader went away.
	 * Set by either thread; from then on no entry is written. */
	_Atomic int output_errno;
	/* The loop said why the entries stopped (once, whichever of the output's failure and
	 * stdout's hang-up it saw first: the writer may fail before the hang-up is seen). */
	bool output_stop_said;
	int output_efd;                  /* eventfd: the dissection thread's word to the loop */
	uint64_t entries_unwritten;      /* on the dissection thread: entries after the failure */
	int stop_signo;                  /* the signal that stopped the run, 0: none */
	/* The entry history and the agent's API over it (docs/hub.md, "The agent side"). */
	bool printing;                   /* --entries/--json/--filter: entries go to out */
	struct entry_history *history;
	struct agent_local *agent;
	struct entry_json_buf hbuf;      /* on the dissection thread: one entry's JSON */
	char run_id[24];                 /* this run's prefix of entry ids */
};

/*
 * --filter's pushdown into the kernel (docs/capture.md, "Capture scope"), before any pod is
 * tapped: the program then records only packets that can belong to a matching entry. The
 * entries are still matched against the whole query.
 */
static int capture_scope_start(struct tap *t, char *err, size_t errlen)
{
	struct capture_scope_maps maps;
	struct kfl_pushdown p;
	char text[512];
	int ret;

	kfl_pushdown(entry_filter_query(t->filter), &p);
	capture_scope_maps_of(t->capture, &maps);
	ret = capture_scope_load(&maps, &p, &t->capture_scope, err, errlen);
	if (ret < 0)
		return ret;
	capture_scope_describe(t->capture_scope, text, sizeof(text));
	fprintf(t->log, "floe: capture scope: %s\n", text);
	return 0;
}

/* Sent to a dissection thread blocked writing entries nobody reads, after this long at exit. */
#define ENTRIES_STOP_TIMEOUT_NS 5000000000ull

/* Of each second, the drain may spend this many 1 ms slices waiting for the dissection queue. */
#define DISSECT_WAIT_SLICES 500u
/* JSON entries to a file or pipe are gathered to this many bytes before one fwrite: stdio's
 * own buffer for them is st_blksize (4 KiB), a write(2) per ~6 entries, each of them, once
 * the per-second flush has left the file offset within a page, zeroing part of a new page
 * (ext4): a fifth of the dissection thread at 20k entries/s. */
#define ENTRIES_OUTPUT_BATCH (64u << 10)

/*
 * While the dissection queue is full, the drain waits for it as long as the kernel ring is
 * less than half full: a burst then waits in the ring (which the store shares) instead of going
 * undissected. Past half the ring, frames skip dissection (counted), so the store never loses
 * a packet because dissection is slow. The waiting is also bounded in time (a budget of 1 ms
 * slices refilled each second by the housekeeping timer), so that a dissection thread that
 * does not move at all (its output blocked, say) cannot keep the loop from its signals and
 * timers for longer than that.
 */
static bool dissection_may_wait(void *ctx)
{
	struct tap *t = ctx;

	if (!t->dissect_wait_slices)
		return false;
	t->dissect_wait_slices--;
	return capture_ring_pending(t->capture) < capture_ringbuf_bytes(t->capture) / 2;
}

/* A byte_sink frame: into the store, and to the dissection thread for entries. */
static void on_frame(void *ctx, const struct byte_frame *f)
{
	struct tap *t = ctx;
	int ret = pcap_store_write(t->store, f->ts_ns, f->cap_len, f->wire_len, f->data);

	if (ret < 0)
		t->store_errno = -ret;
	t->packets++;
	t->bytes += f->wire_len;
	if (t->o->packet_hook.fn)
		t->o->packet_hook.fn(t->o->packet_hook.ctx, f->linktype, f->data, f->cap_len,
				     f->wire_len, f->ts_ns);
	if (t->worker)
		dissect_worker_push_wait(t->worker, f->linktype, f->data, f->cap_len, f->wire_len,
					 f->ts_ns, dissection_may_wait, t);
}

/* A synthetic frame of TLS plaintext: into the store beside the captured ones. */
static void on_tls_frame(void *ctx, uint64_t ts_ns, const uint8_t *frame, size_t len)
{
	struct tap *t = ctx;
	int ret = pcap_store_write(t->store, ts_ns, (uint32_t)len, (uint32_t)len, frame);

	if (ret < 0)
		t->store_errno = -ret;
}

/* A byte_sink stream chunk (TLS plaintext): to the store as synthetic frames, and to the
 * dissection thread. */
static void on_stream(void *ctx, const struct byte_stream_chunk *c)
{
	struct tap *t = ctx;

	if (t->tls_pcap) {
		tls_pcap_chunk(t->tls_pcap, c);
		pcap_store_kick(t->store);
	}
	if (t->worker) {
		dissect_worker_push_stream(t->worker, c, dissection_may_wait, t);
		/* The worker is batched (on_frames_end); the TLS ring has no batch end of its
		 * own, and a kick costs one atomic load when the worker is awake. */
		dissect_worker_kick(t->worker);
	}
}

/* A byte_sink batch end: the store's writer and the dissection thread are woken once per drain. */
static void on_frames_end(void *ctx)
{
	struct tap *t = ctx;

	pcap_store_kick(t->store);
	if (t->worker)
		dissect_worker_kick(t->worker);
}

static void on_byte_source_error(void *ctx, int err, const char *what)
{
	struct tap *t = ctx;

	fprintf(t->log, "floe: %s: %s\n", what, strerror(err));
	evloop_stop(t->loop);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The resolver follows the pod source: p's addresses are p from now on (pod NULL: no pod). */
static void names_set_pod(struct tap *t, const struct floe_pod *p, bool gone)
{
	uint64_t now = realtime_ns();

	/* A host-network pod's IP is the node's, shared by every such pod: it names none. */
	if (p->host_network)
		return;
	for (size_t a = 0; a < p->n_addrs; a++) {
		uint8_t key[16];

		name_resolver_key(p->addrs[a].family, p->addrs[a].addr, key);
		/* ENOMEM: entries go without this pod's name */
		name_resolver_set_pod(t->names, key, gone ? NULL : floe_pod_short_name(p),
				      p->namespace, p->node, now);
	}
}

/* A pod_sink node event: a node's own address names the node (when no pod or service does). */
static void on_node_addr(void *ctx, bool up, const struct floe_service_addr *a)
{
	struct tap *t = ctx;
	uint8_t key[16];

	name_resolver_key(a->family, a->addr, key);
	name_resolver_set_node(t->names, key, up ? a->node : NULL, realtime_ns());
}

/* A pod_sink service event: the resolver counts the address's services. */
static void on_service(void *ctx, bool up, const struct floe_service_addr *a)
{
	struct tap *t = ctx;
	uint8_t key[16];

	name_resolver_key(a->family, a->addr, key);
	if (up)
		name_resolver_service_add(t->names, key, a->ns, a->service, a->pod, a->node,
					  realtime_ns());
	else
		name_resolver_service_del(t->names, key, a->ns, a->service, a->pod, a->node,
					  realtime_ns());
}

/* A dissect_names_fn: names for entries, on the dissection thread. Entries' times are
 * CLOCK_REALTIME (the packet source converts), as the resolver's are. */
static struct entry_names *names_lookup(void *ctx, const uint8_t addr[16], uint64_t ts_ns)
{
	return name_resolver_lookup(ctx, addr, ts_ns);
}

/* The entries' output failed (either thread): the first failure stops the tap. */
static void output_failed(struct tap *t, int err)
{
	int none = 0;
	uint64_t one = 1;
	ssize_t n;

	if (!atomic_compare_exchange_strong(&t->output_errno, &none, err ? err : EIO))
		return; /* the first failure was told already */
	if (t->output_efd < 0)
		return;
	/* Cannot fail: the eventfd counter takes one add per run, far from its overflow. */
	n = write(t->output_efd, &one, sizeof(one));
	(void)n;
}

/* The dissection sink: every entry to the history and the live subscribers; to the output
 * (--entries/--json) until it fails once. */
static void tap_entry_sink(void *ctx, const struct entry *e)
{
	struct tap *t = ctx;
	struct dns_answer *dns = &t->dns_answer;

	t->hbuf.len = 0;
	/* Entries are made in the order their exchanges end: an answer names the addresses of
	 * the connections its client opens after it, whatever the filter shows. */
	if (dns_answer_names(e, dns))
		name_resolver_learn_dns(t->names, dns, e->response_ts_ns); /* ENOMEM: unnamed */
	agent_local_entry(t->agent, t->history, &t->hbuf, e);
	if (!t->printing)
		return;
	if (atomic_load(&t->output_errno)) {
		t->entries_unwritten++;
		return;
	}
	errno = 0;
	/* The history's text of e is the output's: written once (hbuf.len 0: not written). */
	entry_output_sink_json(&t->output, e, t->hbuf.len ? t->hbuf.p : NULL, t->hbuf.len);
	if (ferror(t->output.out))
		output_failed(t, errno);
}

/* On the loop: the dissection thread could not write entries. */
static void on_output_failed(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct tap *t = ctx;
	uint64_t n;
	int err = atomic_load(&t->output_errno);

	/* Read (level-triggered), though the loop stops below either way. */
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		fprintf(t->log, "floe: eventfd: %s\n", strerror(errno));
	if (!t->output_stop_said) {
		t->output_stop_said = true;
		if (err == EPIPE)
			fprintf(t->log, "floe: the entries' reader is gone (EPIPE); stopping\n");
		else
			fprintf(t->log, "floe: cannot write entries: %s; stopping\n",
				strerror(err));
	}
	evloop_stop(l);
}

/* On the loop: stdout (a pipe or socket) hung up: whoever read the entries is gone. */
static void on_stdout_hangup(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct tap *t = ctx;
	int none = 0;

	if (!(events & EVLOOP_ERR))
		return;
	/* The writer may have failed first: its eventfd is not read once the loop stops, so
	 * whichever comes first says why. */
	if (!atomic_compare_exchange_strong(&t->output_errno, &none, EPIPE) && none != EPIPE) {
		if (!t->output_stop_said)
			fprintf(t->log, "floe: cannot write entries: %s; stopping\n",
				strerror(none));
	} else if (!t->output_stop_said) {
		fprintf(t->log, "floe: standard output closed (the entries' reader is gone); "
				"stopping\n");
	}
	t->output_stop_said = true;
	evloop_stop(l);
}

/* Worker tick (asked for by the housekeeping timer): entries reach a pipe or file within a
 * second. */
static void entries_tick(void *ctx)
{
	struct tap *t = ctx;
	struct dissect_stats ds;

	/* the engine is this thread's: its counters are read here, and published once */
	dissect_engine_get_stats(t->engine, &ds);
	pthread_mutex_lock(&t->dissect_snap_lock);
	t->dissect_snap = ds;
	pthread_mutex_unlock(&t->dissect_snap_lock);

	if (!atomic_load(&t->output_errno) &&
	    (entry_output_flush(&t->output) || fflush(t->output.out) == EOF))
		output_failed(t, errno);
	/* Give back what the second's entries freed: with dissect_malloc_policy's trim
	 * threshold the dissection thread's arena would keep up to 64 MiB of it. */
	malloc_trim(0);
}

static int entries_open(struct tap *t, FILE *out, char *err, size_t errlen)
{
	struct dissect_config dc = {.body_max = t->o->body_max,
				    .memory_budget = t->o->dissect_memory,
				    .names = names_lookup,
				    .names_ctx = t->names,
				    .id_prefix = t->run_id};
	struct dissect_worker_config wc = {
	    .queue_bytes = t->o->dissect_queue,
	    .tick_on_request = true,
	    .batched = true, /* on_frames_end */
	    .tick = entries_tick,
	    .tick_ctx = t,
	    .stop_timeout_ns = ENTRIES_STOP_TIMEOUT_NS,
	    .interrupt_signo = SIGRTMIN,
	    .budget = &t->queue_budget,
	    /* The engine's TCP idle timeout is the reassembler's default (dc.tcp is zero): a
	     * flow idle for half of it goes whole again (flow_verdict.h, "Staleness"). */
	    .verdict_slots = t->o->no_flow_verdicts ? 0 : FLOW_VERDICT_DEFAULT_SLOTS,
	    .verdict_idle_ns = TCP_REASM_DEFAULT_IDLE_NS / 2};
	int ret;

	if (t->o->filter) {
		ret = entry_filter_compile_checked(t->o->filter, &t->filter, err, errlen);
		if (ret)
			return ret;
	}
	t->output.out = out;
	t->output.json = t->o->entries_json;
	/* A terminal sees each entry at once (line-buffered); anything else within a second
	 * (entries_tick flushes the batch). */
	if (t->output.json && !isatty(fileno(out)))
		t->output.batch = ENTRIES_OUTPUT_BATCH;
	t->output.filter = t->filter;
	ret = dissect_engine_create(&dc, tap_entry_sink, t, &t->engine);
	if (ret) {
		snprintf(err, errlen, "cannot start the dissection engine: %s", strerror(-ret));
		return ret;
	}
	t->dissect_wait_slices = DISSECT_WAIT_SLICES;
	ret = dissect_worker_start(&wc, t->engine, &t->worker);
	if (ret) {
		snprintf(err, errlen, "cannot start the dissection thread: %s",
			 ret == -ENOSPC ? "the queues' memory budget has no room left for its "
					  "queue (--queue-memory)"
					: strerror(-ret));
		dissect_engine_destroy(t->engine);
		t->engine = NULL;
	}
	return ret;
}

/* A no-op: its only use is to interrupt a write the dissection thread is blocked in. */
static void on_interrupt(int signo)
{
}

/* Returns -errno when entries could not be written (other than their reader going away). */
static int entries_close(struct tap *t)
{
	struct dissect_worker_stats ws;
	struct dissect_stats ds;
	int err;

	if (!t->engine)
		return 0;
	/* Dissects what is still queued and finishes the engine: pending entries come out. */
	dissect_worker_stop(t->worker, &ws);
	t->worker = NULL;
	dissect_engine_get_stats(t->engine, &ds);
	if (ws.interrupts) /* whatever the interrupted write said */
		atomic_store(&t->output_errno, ETIMEDOUT);
	if (!atomic_load(&t->output_errno) &&
	    (entry_output_flush(&t->output) || fflush(t->output.out) == EOF))
		output_failed(t, errno);
	err = atomic_load(&t->output_errno);
	/* What a failed output still buffers is dropped: exit would block writing it again. A
	 * batch gathered after the failure was counted as printed: it is not. */
	if (err) {
		__fpurge(t->output.out);
		t->output.printed -= t->output.batched;
		t->entries_unwritten += t->output.batched;
		t->output.batched = 0;
		t->output.buf.len = 0;
	}
	fprintf(t->log,
		"  entries                         %llu (%llu printed, %llu incomplete), %llu "
		"connections (%llu unrecognised), %llu parse errors\n",
		(unsigned long long)ds.entries, (unsigned long long)t->output.printed,
		(unsigned long long)ds.entries_incomplete, (unsigned long long)ds.conns,
		(unsigned long long)ds.conns_unknown, (unsigned long long)ds.parse_errors);
	if (err)
		fprintf(t->log, "  entries not written             %llu (%s)\n",
			(unsigned long long)(t->entries_unwritten + t->output.errors),
			err == EPIPE       ? "their reader is gone"
			: err == ETIMEDOUT ? "their reader stopped reading; given up at exit"
					   : strerror(err));
	fprintf(t->log,
		"  not dissected: queue full       %llu packets (queue peak %llu bytes), %llu "
		"undecodable\n",
		(unsigned long long)ws.dropped, (unsigned long long)ws.queue_peak,
		(unsigned long long)ws.undecoded);
	fprintf(t->log,
		"  not copied for dissection       %llu packets' payload (%llu bytes) of flows "
		"no dissector recognised\n",
		(unsigned long long)ws.verdict_cut_packets,
		(unsigned long long)ws.verdict_cut_bytes);
	fprintf(t->log, "  drain waited for dissection     %.3f s (%llu times)\n",
		(double)ws.wait_ns / 1e9, (unsigned long long)ws.waits);
	fprintf(t->log,
		"  dissection memory               peak %llu of %llu bytes, %llu connections "
		"evicted (%llu bytes)\n",
		(unsigned long long)ds.mem_peak, (unsigned long long)ds.mem_limit,
		(unsigned long long)ds.mem_evictions, (unsigned long long)ds.mem_evicted_bytes);
	t->dissect = ds;
	t->dissect_queue = ws;
	dissect_engine_destroy(t->engine);
	t->engine = NULL;
	entry_output_free(&t->output);
	entry_json_buf_free(&t->hbuf);
	return err && err != EPIPE ? -err : 0;
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

/* The pod source the options choose: Kubernetes (a kubeconfig, or in-cluster when this runs in
 * a pod with a service account), else local. *k8s says which. */
static int pod_source_open(const struct tap_options *o, struct pod_source *src, bool *k8s,
			   char *err, size_t errlen)
{
	int ret;

	*k8s = o->kubeconfig || k8s_in_cluster_available(NULL);
	if (*k8s) {
		char host[FLOE_NODE_NAME_MAX + 1] = "";
		const char *node = o->node ? o->node : getenv("NODE_NAME");
		struct pod_source_k8s_config kc = {.kubeconfig = o->kubeconfig,
						   .pods_max = o->pods_max,
						   .selector = o->selector,
						   .names_all_nodes = o->names_all_nodes,
						   .page_limit = o->page_limit};

		/* As the kubelet names its node by default: the host name, in lower case. */
		if (!o->all_nodes && (!node || !*node)) {
			if (gethostname(host, sizeof(host) - 1) < 0) {
				snprintf(err, errlen, "the node's name: %s (give --node)",
					 strerror(errno));
				return -errno;
			}
			for (char *c = host; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			node = host;
		}
		kc.node = o->all_nodes ? NULL : node;
		/* Services and EndpointSlices name entries' ends: only entries need them. */
		kc.services = !o->dryrun && (o->entries || o->filter);
		return pod_source_k8s_new(&kc, src, err, errlen);
	}
	struct pod_source_local_config pc = {.netns_dir = o->netns_dir, .inventory = o->inventory};

	ret = pod_source_local_new(&pc, src);
	if (ret < 0)
		snprintf(err, errlen, "pod source: %s", strerror(-ret));
	return ret;
}

struct pod_collect {
	struct floe_pod_list list;
	size_t cap;
	int err;
};

static void on_collect_pod(void *ctx, enum pod_event_kind kind, const struct floe_pod *p,
			   const struct floe_pod *old)
{
	struct pod_collect *c = ctx;

	if (kind != POD_ADDED || c->err)
		return;
	if (c->list.n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct floe_pod *np = realloc(c->list.pods, cap * sizeof(*np));

		if (!np) {
			c->err = ENOMEM;
			return;
		}
		c->list.pods = np;
		c->cap = cap;
	}
	c->list.pods[c->list.n++] = *p;
}

static void on_collect_error(void *ctx, int err, const char *msg)
{
	fprintf(stderr, "floe: %s\n", msg);
}

/* Kubernetes --dryrun: one pod a line, namespace/name, node, IPs, host interface. */
static void print_k8s_pods(FILE *out, const struct floe_pod_list *pods,
			   const struct tap_scope *scope)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(out, "%-40s %-20s %-24s %s\n", "POD", "NODE", "ADDRESSES", "INTERFACE");
	for (size_t i = 0; i < pods->n; i++) {
		const struct floe_pod *p = &pods->pods[i];
		int w = 0;

		if (!tap_scope_match(scope, p))
			continue;
		fprintf(out, "%-40s %-20s ", p->name, p->node);
		for (size_t a = 0; a < p->n_addrs; a++)
			w += fprintf(out, "%s%s", a ? "," : "",
				     addr_str(&p->addrs[a], buf, sizeof(buf)));
		fprintf(out, "%*s %s\n", w < 24 ? 24 - w : 0, "",
			p->host_network	  ? "(host network)"
			: p->host_ifindex ? p->host_ifname
					  : "(no route)");
	}
}

/* --dryrun: the source's first list, the pods in scope printed; nothing is loaded. */
static int dryrun(const struct tap_options *o, const struct tap_scope *scope, FILE *out,
		  FILE *log)
{
	struct pod_collect c = {};
	struct pod_sink sink = {.event = on_collect_pod, .error = on_collect_error, .ctx = &c};
	struct pod_source src = {};
	struct evloop *loop = NULL;
	char err[512];
	bool k8s = false;
	int ret = evloop_new(&loop);

	if (ret < 0)
		snprintf(err, sizeof(err), "event loop: %s", strerror(-ret));
	else
		ret = pod_source_open(o, &src, &k8s, err, sizeof(err));
	if (ret == 0)
		ret = pod_source_start(&src, loop, &sink, err, sizeof(err));
	if (ret == 0 && c.err) {
		ret = -c.err;
		snprintf(err, sizeof(err), "%s", strerror(c.err));
	}
	if (ret < 0)
		fprintf(log, "floe: %s\n", err);
	else if (k8s)
		print_k8s_pods(out, &c.list, scope);
	else
		print_pods(out, &c.list, scope);
	pod_source_free(&src);
	if (loop)
		evloop_free(loop);
	free(c.list.pods);
	return ret < 0 ? 1 : 0;
}

static struct tapped_pod *find_tapped(struct tap *t, const char *name)
{
	for (size_t i = 0; i < t->n_pods; i++)
		if (strcmp(t->pods[i].pod.name, name) == 0)
			return &t->pods[i];
	return NULL;
}

/*
 * The TLS source follows the pods' network namespaces: local mode's pods are named network
 * namespaces (their inode from the netns directory); a Kubernetes pod's is the one the source
 * found holding its IP (netns_inode, pods/pod_netns.h), which may come after the pod is tapped
 * (a change then). The inode is kept: a pod whose name is gone from the netns directory is
 * untapped by it (its processes may keep the namespace alive).
 */
static void tls_pod(struct tap *t, struct tapped_pod *tp, bool add)
{
	const struct floe_pod *p = &tp->pod;
	char path[PATH_MAX];
	uint32_t inode = p->netns_inode;
	struct stat sb;
	int ret;

	if (!t->tls)
		return;
	if (!add) {
		if (tp->tls_netns)
			tls_source_netns_del(t->tls, tp->tls_netns);
		tp->tls_netns = 0;
		return;
	}
	if (!t->k8s) {
		snprintf(path, sizeof(path), "%s/%s", t->o->netns_dir, p->name);
		if (stat(path, &sb) < 0) {
			fprintf(t->log, "floe: tls: pod %s/%s: %s: %s: its TLS is not read\n",
				p->namespace, floe_pod_short_name(p), path, strerror(errno));
			return;
		}
		inode = (uint32_t)sb.st_ino;
	}
	if (!inode) {
		/* The first list's pods were looked for by a scan made just before: a miss is
		 * said. A later pod's namespace may come with the next scan (a change). */
		if (!t->started)
			fprintf(t->log,
				"floe: tls: pod %s/%s: no network namespace joined to this one "
				"holds its IP: its TLS is not read\n",
				p->namespace, floe_pod_short_name(p));
		return;
	}
	ret = tls_source_netns_add(t->tls, inode, floe_pod_short_name(p), p->namespace);
	if (ret < 0)
		fprintf(t->log, "floe: tls: pod %s/%s: %s: its TLS is not read\n", p->namespace,
			floe_pod_short_name(p), strerror(-ret));
	else
		tp->tls_netns = inode;
}

/*
 * p's addresses into the capture scope with its names as entries give them (names_set_pod):
 * a host-network pod's address names no pod, so it stays out and every pod term holds for it.
 */
static void scope_pod(struct tap *t, const struct floe_pod *p, bool add)
{
	for (size_t a = 0; a < p->n_addrs && t->capture_scope; a++) {
		int ret = add && !p->host_network
				  ? capture_scope_pod_set(t->capture_scope, floe_pod_short_name(p),
							  p->namespace, p->addrs[a].family,
							  p->addrs[a].addr)
				  : capture_scope_pod_del(t->capture_scope, p->addrs[a].family,
							  p->addrs[a].addr);

		/* Without its entry the pod's address is one the program cannot name: its
		 * packets are recorded, never lost. */
		if (ret < 0 && add)
			fprintf(t->log, "floe: pod %s/%s: capture scope: %s\n", p->namespace,
				floe_pod_short_name(p), strerror(-ret));
	}
}

static int tap_pod(struct tap *t, const struct floe_pod *p)
{
	struct pod_capture_ops ops = capture_pod_ops_for(t->capture);
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
	tp->tls_netns = 0;
	/* The capture scope names the pod before its first packet is targeted; then the hooks,
	 * then the addresses, in the order tap/pod_capture.h explains. */
	scope_pod(t, p, true);
	ret = pod_capture_start(&ops, p, tp->target_id, err, sizeof(err));
	if (ret < 0) {
		fprintf(t->log, "floe: pod %s/%s: %s\n", p->namespace, floe_pod_short_name(p),
			err);
		scope_pod(t, p, false);
		return ret;
	}
	t->n_pods++;
	tls_pod(t, tp, true);
	return 0;
}

static void untap_pod(struct tap *t, size_t i)
{
	struct tapped_pod *tp = &t->pods[i];
	struct pod_capture_ops ops = capture_pod_ops_for(t->capture);

	/* the mirror of tap_pod(): addresses out of the map, then the hooks, then the scope */
	tls_pod(t, tp, false);
	pod_capture_stop(&ops, &tp->pod);
	scope_pod(t, &tp->pod, false);
	t->pods[i] = t->pods[--t->n_pods];
}

/*
 * A tapped pod changed: its addresses (e.g. set after its veth came), its host veth or its
 * names; the target id (a pod tapped once) stays. New addresses go in before old ones go
 * (its hooks are attached, so both directions of a new address start at its map update). A
 * new host veth is a stop and a start (tap/pod_capture.h): the two veths' hooks cannot
 * change over at one instant, so the pod's conversations are cut in both directions at
 * once rather than one direction recorded without the other.
 */
static void retap_pod(struct tap *t, struct tapped_pod *tp, const struct floe_pod *p)
{
	struct pod_capture_ops ops = capture_pod_ops_for(t->capture);
	const struct floe_pod *old = &tp->pod;
	char err[256];
	int ret;

	/* The old addresses' scope entries go first: the new ones may be the same addresses
	 * (an address without an entry is recorded, never lost, meanwhile). */
	scope_pod(t, old, false);
	scope_pod(t, p, true);
	if (p->host_ifindex != old->host_ifindex) {
		pod_capture_stop(&ops, old);
		ret = pod_capture_start(&ops, p, tp->target_id, err, sizeof(err));
		if (ret < 0)
			fprintf(t->log, "floe: pod %s/%s: %s\n", p->namespace,
				floe_pod_short_name(p), err);
	} else {
		ret = pod_capture_readdress(&ops, old, p, tp->target_id, err, sizeof(err));
		if (ret < 0)
			fprintf(t->log, "floe: pod %s/%s: %s\n", p->namespace,
				floe_pod_short_name(p), err);
	}
	tp->pod = *p;
	/* Kubernetes: the pod's network namespace found (or a new one): TLS follows it. */
	if (t->k8s && tp->tls_netns != p->netns_inode) {
		tls_pod(t, tp, false);
		tls_pod(t, tp, true);
	}
}

/* A pod_sink event: bring the hooks in line with the pods that exist and match the scope. */
static void on_pod_event(void *ctx, enum pod_event_kind kind, const struct floe_pod *p,
			 const struct floe_pod *old)
{
	struct tap *t = ctx;
	struct tapped_pod *tp = find_tapped(t, p->name);
	bool in_scope = kind != POD_REMOVED && tap_scope_match(&t->scope, p);

	/* Every pod the source knows names its addresses, tapped or not (a peer of a tapped
	 * pod); a pod gone keeps naming the entries captured while it lived. */
	if (old) {
		struct floe_pod went = *old;

		went.n_addrs = 0;
		for (size_t a = 0; a < old->n_addrs; a++)
			if (!floe_pod_has_addr(p, &old->addrs[a]))
				went.addrs[went.n_addrs++] = old->addrs[a];
		names_set_pod(t, &went, true);
	}
	names_set_pod(t, p, kind == POD_REMOVED);

	/* A Kubernetes pod on the host's network, or whose IP has no route to a host interface
	 * (yet): nothing of its own to hook. Said once; an interface found later is a change.
	 * One whose veth a scan of the namespaces is about to say is not said. */
	if (in_scope && p->host_ifindex <= 0) {
		if ((kind == POD_ADDED || (old && old->host_ifindex > 0)) && !p->netns_pending)
			fprintf(t->log, "floe: pod %s/%s (%s): %s: not tapped\n", p->namespace,
				floe_pod_short_name(p), p->n_addrs ? addr_str(&p->addrs[0],
				(char[INET6_ADDRSTRLEN]){0}, INET6_ADDRSTRLEN) : "no IP",
				p->host_network ? "host network (its traffic is the node's)"
						: "no host interface routes to its IP");
		in_scope = false;
	}

	if (tp && !in_scope) {
		if (t->started)
			fprintf(t->log, "floe: pod %s/%s is gone\n", tp->pod.namespace,
				floe_pod_short_name(&tp->pod));
		untap_pod(t, (size_t)(tp - t->pods));
	} else if (tp) {
		retap_pod(t, tp, p);
	} else if (in_scope) {
		if (tap_pod(t, p) == 0 && t->started)
			fprintf(t->log, "floe: tapping new pod %s/%s\n", p->namespace,
				floe_pod_short_name(p));
	}
	if (t->started)
		fflush(t->log);
}

static void on_pod_source_error(void *ctx, int err, const char *msg)
{
	struct tap *t = ctx;

	fprintf(t->log, "floe: %s\n", msg);
}

/* ------------------------------------------------------------ the scope changed at run time */

/* A pod the source knows, looked at again under the new scope: tapped or untapped. */
static void rescope_pod(void *ctx, const struct floe_pod *p)
{
	struct tap *t = ctx;
	struct tapped_pod *tp = find_tapped(t, p->name);
	bool in = tap_scope_match(&t->scope, p) && p->host_ifindex > 0;

	if (tp && !in) {
		fprintf(t->log, "floe: pod %s/%s is out of the scope now: untapped\n", p->namespace,
			floe_pod_short_name(p));
		untap_pod(t, (size_t)(tp - t->pods));
	} else if (!tp && in && tap_pod(t, p) == 0) {
		fprintf(t->log, "floe: tapping pod %s/%s (in the scope now)\n", p->namespace,
			floe_pod_short_name(p));
	}
}

static bool str_same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static int scope_keep(struct tap *t, const char *regex, const char *ns, bool all, const char *sel)
{
	char *r = strdup(regex ? regex : ""), *n = strdup(ns ? ns : ""),
	     *l = strdup(sel ? sel : "");

	if (!r || !n || !l) {
		free(r);
		free(n);
		free(l);
		return -ENOMEM;
	}
	free(t->scope_regex);
	free(t->scope_ns);
	free(t->scope_sel);
	t->scope_regex = r;
	t->scope_ns = n;
	t->scope_sel = l;
	t->scope_all = all;
	return 0;
}

/*
 * The configuration file changed: its scope (with the command line's, which wins as at start)
 * applies now. The kernel side follows as for pods that come and go: hooks and map entries of
 * the pods that leave or enter the scope, the programs untouched. A label selector that
 * changed makes the Kubernetes source list again with it; the other keys of the file take
 * effect at the next start (said).
 */
static void scope_reread(struct tap *t)
{
	struct tap_options n;
	struct tap_scope scope;
	char err[512], **argv = NULL;
	int argc = 0;
	bool sel_changed;

	if (tap_options_reread(t->o->argc0, t->o->argv0, &n, &argc, &argv, err, sizeof(err)) < 0) {
		fprintf(t->log, "floe: %s: %s: the scope stays as it was\n", t->o->config_file,
			err);
		goto out;
	}
	sel_changed = !str_same(n.selector, t->scope_sel);
	if (str_same(n.pod_regex, t->scope_regex) && str_same(n.namespaces, t->scope_ns) &&
	    n.all_namespaces == t->scope_all && !sel_changed)
		goto out; /* another key changed, or nothing */
	if (n.all_namespaces && n.namespaces) {
		fprintf(t->log,
			"floe: %s: -A and -n exclude each other: the scope stays as it was\n",
			t->o->config_file);
		goto out;
	}
	if (tap_scope_init(&scope, n.pod_regex, n.namespaces, n.all_namespaces, err, sizeof(err)) <
	    0) {
		fprintf(t->log, "floe: %s: %s: the scope stays as it was\n", t->o->config_file,
			err);
		goto out;
	}
	if (sel_changed &&
	    pod_source_set_selector(&t->pod_source, n.selector, err, sizeof(err)) < 0) {
		fprintf(t->log, "floe: %s: selector: %s: the scope stays as it was\n",
			t->o->config_file, err);
		tap_scope_free(&scope);
		goto out;
	}
	if (scope_keep(t, n.pod_regex, n.namespaces, n.all_namespaces, n.selector) < 0) {
		fprintf(t->log, "floe: scope: %s\n", strerror(ENOMEM));
		tap_scope_free(&scope);
		goto out;
	}
	tap_scope_free(&t->scope);
	t->scope = scope;
	fprintf(t->log, "floe: the scope changed (%s): %s%s%s%s%s%s%s\n", t->o->config_file,
		n.all_namespaces ? "-A" : "-n ", n.all_namespaces ? "" : n.namespaces ?: "default",
		n.pod_regex ? ", POD REGEX " : "", n.pod_regex ?: "", n.selector ? ", -l " : "",
		n.selector ?: "", sel_changed ? " (listing the pods again)" : "");
	pod_source_each(&t->pod_source, rescope_pod, t);
	fflush(t->log);
out:
	config_argv_free(argc, argv);
}

static void on_config_settled(struct evloop *l, struct evloop_timer *timer, void *ctx)
{
	scope_reread(ctx);
}

/* Something in the file's directory changed: a burst (an editor's write and rename, the
 * kubelet's swap of a ConfigMap's ..data link) is one re-read, 100 ms after its first event. */
static void on_config_event(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	struct tap *t = ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	evloop_timer_set(l, t->cfg_timer, 100000000ull, 0);
}

/* Watch the configuration file's directory (the file itself may be replaced by a rename). */
static int config_watch(struct tap *t, char *err, size_t errlen)
{
	const struct tap_options *o = t->o;
	char dir[PATH_MAX];
	const char *slash;
	int ret;

	t->cfg_inotify = -1;
	if (scope_keep(t, o->pod_regex, o->namespaces, o->all_namespaces, o->selector) < 0)
		return -ENOMEM;
	if (!o->config_file || !o->argv0)
		return 0;
	slash = strrchr(o->config_file, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - o->config_file) : 1,
		 slash ? o->config_file : ".");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	t->cfg_inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t->cfg_inotify < 0 ||
	    inotify_add_watch(t->cfg_inotify, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0) {
		snprintf(err, errlen, "%.300s: watching for changes: %s", dir, strerror(errno));
		return -errno;
	}
	ret = evloop_add_timer(t->loop, 0, 0, on_config_settled, t, &t->cfg_timer);
	if (!ret)
		ret = evloop_add_fd(t->loop, t->cfg_inotify, EVLOOP_IN, on_config_event, t,
				    &t->cfg_src);
	if (ret < 0)
		snprintf(err, errlen, "%.300s: watching for changes: %s", dir, strerror(-ret));
	return ret;
}

/* CPU seconds (user + system) of the whole process, every thread, since it started. */
static double process_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The statistics object of --stats-json and of the agent's stats call. */
/* The services' own statistics, each under its stats_key (tap_service). */
static void services_stats_print(FILE *f, const struct tap_options *o)
{
	for (size_t i = 0; i < o->n_services; i++) {
		const struct tap_service *s = &o->services[i];
		char *j = s->stats_json && s->stats_key ? s->stats_json(s->ctx) : NULL;

		if (j)
			fprintf(f, ",\"%s\":%s", s->stats_key, j);
		free(j);
	}
}

/* The scans of the pods' network namespaces (docs/kubernetes.md, "The host interface"), as
 * the member "pod_netns" of the stats JSON; pn NULL: none. */
static void pod_netns_stats_print(FILE *f, const struct pod_netns_stats *pn)
{
	json_t *e;
	char *etext;

	if (!pn)
		return;
	/* a path or a message that is not UTF-8 is said as "" rather than break the JSON */
	e = json_string(pn->first_error);
	etext = e ? json_dumps(e, JSON_ENCODE_ANY) : NULL;
	json_decref(e);
	fprintf(f,
		",\"pod_netns\":{\"scans\":%llu,\"namespaces\":%llu,\"pods\":%llu,"
		"\"addresses\":%llu,\"ambiguous\":%llu,\"failed\":%llu,\"not_asked\":%llu,"
		"\"failed_total\":%llu,\"last_scan_s\":%.6f,\"scans_s\":%.6f,\"first_error\":%s}",
		(unsigned long long)pn->scans, (unsigned long long)pn->namespaces,
		(unsigned long long)pn->pods, (unsigned long long)pn->addresses,
		(unsigned long long)pn->ambiguous, (unsigned long long)pn->failed,
		(unsigned long long)pn->not_asked, (unsigned long long)pn->failed_total,
		(double)pn->last_scan_ns / 1e9, (double)pn->scan_ns_total / 1e9,
		etext ? etext : "\"\"");
	free(etext);
}

/* Entries by protocol, parse errors by dissector and cause, and each dissector's own event
 * counters, as objects of the stats JSON (docs/hub.md, "Metrics"). */
static void dissect_stats_print(FILE *f, const struct dissect_stats *ds)
{
	const char *name;

	fputs(",\"entries_by_protocol\":{", f);
	for (unsigned i = 0; (name = dissect_entry_protocol_name(i)); i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", name,
			(unsigned long long)ds->entries_by_protocol[i]);
	fputs("},\"parse_errors_by_protocol\":{", f);
	for (unsigned i = 0; i < DISSECT_MAX_PROTOCOLS && (name = dissect_protocol_name(i)); i++)
		fprintf(f, "%s\"%s\":{\"malformed\":%llu,\"buffer_overflow\":%llu}", i ? "," : "",
			name, (unsigned long long)ds->parse_malformed[i],
			(unsigned long long)ds->parse_overflows[i]);
	fputs("},\"dissector_events\":{", f);
	for (unsigned i = 0; i < DISSECT_MAX_PROTOCOLS && (name = dissect_protocol_name(i)); i++) {
		const char *cn;

		fprintf(f, "%s\"%s\":{", i ? "," : "", name);
		for (unsigned k = 0; (cn = dissect_counter_name(i, k)); k++)
			fprintf(f, "%s\"%s\":%llu", k ? "," : "", cn,
				(unsigned long long)ds->counters[i][k]);
		fputc('}', f);
	}
	fputc('}', f);
}

/* --stats-json's "queue_memory": the budget, its peak, and per queue its floor, peak and
 * refusals. */
static void queue_budget_stats_print(FILE *f, const struct queue_budget_stats *qb)
{
	fprintf(f, ",\"queue_memory\":{\"limit\":%llu,\"peak\":%llu,\"used\":%llu",
		(unsigned long long)qb->total, (unsigned long long)qb->peak,
		(unsigned long long)qb->used);
	for (unsigned i = 0; i < qb->members; i++)
		fprintf(f, ",\"%s\":{\"floor\":%llu,\"peak\":%llu,\"used\":%llu,\"refused\":%llu}",
			qb->m[i].name, (unsigned long long)qb->m[i].floor,
			(unsigned long long)qb->m[i].peak, (unsigned long long)qb->m[i].used,
			(unsigned long long)qb->m[i].refused);
	fputc('}', f);
}

/* Flow verdicts (dissect/flow_verdict.h): what the drain did not copy for dissection. */
static void verdict_stats_print(FILE *f, const struct dissect_worker_stats *ws)
{
	fprintf(f,
		",\"verdict_cut_packets\":%llu,\"verdict_cut_bytes\":%llu,"
		"\"verdict_sets\":%llu,\"verdict_clears\":%llu,\"verdict_refused\":%llu,"
		"\"verdict_expired\":%llu,\"verdict_flushes\":%llu,\"verdict_late\":%llu",
		(unsigned long long)ws->verdict_cut_packets,
		(unsigned long long)ws->verdict_cut_bytes, (unsigned long long)ws->verdict_sets,
		(unsigned long long)ws->verdict_clears, (unsigned long long)ws->verdict_refused,
		(unsigned long long)ws->verdict_expired, (unsigned long long)ws->verdict_flushes,
		(unsigned long long)ws->verdict_late);
}

static void stats_json_print(FILE *f, const struct tap_options *o, const struct capture *cap,
			     const uint64_t cnt[FLOE_CNT_MAX], const struct capture_stats *cs,
			     const struct pcap_store_stats *st, const struct dissect_stats *ds,
			     const struct dissect_worker_stats *ws, size_t pods,
			     const struct entry_history_stats *hs,
			     const struct name_resolver_stats *ns,
			     const struct tls_source_stats *tls, const char *tls_blind,
			     const struct tls_pcap_stats *tp, const struct pod_netns_stats *pn,
			     const struct queue_budget_stats *qb, const char *members)
{
	fprintf(f,
		"{\"seen\":%llu,\"targeted\":%llu,\"recorded\":%llu,\"ringbuf_full\":%llu,"
		"\"duplicate\":%llu,\"out_of_scope\":%llu,\"written\":%llu,\"store_lost\":%llu,"
		"\"segments_evicted\":%llu,\"packets_evicted\":%llu,\"store_bytes\":%llu,"
		"\"store_bytes_peak\":%llu,\"records_bad_type\":%llu,\"records_bad_size\":%llu,"
		"\"pods\":%zu,\"bytes_written\":%llu,\"cpu_s\":%.3f,\"store_wait_s\":%.3f,"
		"\"dissect_entries\":%llu,\"dissect_mem_limit\":%llu,\"dissect_mem_peak\":%llu,"
		"\"dissect_mem_evictions\":%llu,\"dissect_mem_evicted_bytes\":%llu,"
		"\"dissect_queue_dropped\":%llu,\"dissect_queue_peak\":%llu,"
		"\"history_entries\":%llu,\"history_dropped\":%llu,\"history_evicted\":%llu,"
		"\"history_bytes\":%llu,"
		"\"names_addrs\":%zu,\"names_spans_open\":%zu,\"names_spans_closed\":%zu,"
		"\"names_spans_forgotten\":%llu,\"names_bytes\":%zu,\"names_dns\":%zu,"
		"\"names_dns_learned\":%llu,\"names_dns_evicted\":%llu,\"names_dns_answers\":%llu,"
		"\"names_dns_ignored\":%llu,"
		"\"tls_records\":%llu,\"tls_bytes\":%llu,\"tls_cut\":%llu,"
		"\"tls_ringbuf_full\":%llu,\"tls_conns\":%llu,\"tls_libs_hooked\":%llu,"
		"\"tls_libs_failed\":%llu,\"tls_processes\":%llu,\"tls_processes_failed\":%llu,"
		"\"tls_probes\":%llu,\"tls_attach_multi\":%llu,\"tls_attaches\":%llu,"
		"\"tls_attach_us\":%llu,\"tls_probe_pids\":%llu,"
		"\"tls_wide_files\":%llu,"
		"\"tls_libs_unhooked\":%llu,\"tls_mmaps\":%llu,"
		"\"tls_mesh_hops\":%llu,\"tls_go_morestack\":%llu,"
		"\"tls_write_unsent\":%llu,\"tls_hold_timeouts\":%llu,"
		"\"tls_files_seen\":%llu,\"tls_dlopen_probe_us\":%llu,"
		"\"tls_dlopen_wake_us\":%llu,\"tls_blind_count\":%llu,"
		"\"tls_probe_sites_emulated\":%llu,\"tls_probe_sites_stepped\":%llu,"
		"\"tls_blind\":%s,"
		"\"tls_pcap_frames\":%llu,\"tls_pcap_bytes\":%llu,\"tls_pcap_conns\":%llu,"
		"\"tls_pcap_dup_skipped\":%llu,\"tls_pcap_no_endpoints\":%llu,"
		"\"tls_pcap_table_full\":%llu,"
		"\"dissect_parse_errors\":%llu,\"dissect_buffer_overflows\":%llu,"
		"\"dissect_entries_incomplete\":%llu,\"ringbuf_bytes\":%llu,"
		"\"ringbuf_pending\":%llu",
		(unsigned long long)cnt[FLOE_CNT_SEEN], (unsigned long long)cnt[FLOE_CNT_TARGETED],
		(unsigned long long)cnt[FLOE_CNT_RECORDED],
		(unsigned long long)cnt[FLOE_CNT_RINGBUF_FULL],
		(unsigned long long)cnt[FLOE_CNT_DUPLICATE],
		(unsigned long long)cnt[FLOE_CNT_OUT_OF_SCOPE],
		(unsigned long long)st->packets_written, (unsigned long long)st->packets_lost,
		(unsigned long long)st->segments_evicted, (unsigned long long)st->packets_evicted,
		(unsigned long long)st->store_bytes, (unsigned long long)st->store_bytes_peak,
		(unsigned long long)cs->bad_type, (unsigned long long)cs->bad_size, pods,
		(unsigned long long)st->bytes_written, process_cpu_s(),
		(double)st->producer_wait_ns / 1e9, (unsigned long long)ds->entries,
		(unsigned long long)ds->mem_limit, (unsigned long long)ds->mem_peak,
		(unsigned long long)ds->mem_evictions, (unsigned long long)ds->mem_evicted_bytes,
		(unsigned long long)ws->dropped, (unsigned long long)ws->queue_peak,
		(unsigned long long)hs->entries_written, (unsigned long long)hs->entries_dropped,
		(unsigned long long)hs->entries_evicted, (unsigned long long)hs->bytes, ns->addrs,
		ns->spans_open, ns->spans_closed, (unsigned long long)ns->spans_forgotten,
		ns->bytes, ns->dns_names, (unsigned long long)ns->dns_learned,
		(unsigned long long)ns->dns_evicted, (unsigned long long)ns->dns_answers,
		(unsigned long long)ns->dns_ignored, (unsigned long long)tls->records, (unsigned long long)tls->bytes,
		(unsigned long long)tls->cut, (unsigned long long)tls->ringbuf_full,
		(unsigned long long)tls->conns, (unsigned long long)tls->libs_hooked,
		(unsigned long long)tls->libs_failed, (unsigned long long)tls->processes,
		(unsigned long long)tls->processes_failed, (unsigned long long)tls->probes,
		(unsigned long long)tls->attach_multi, (unsigned long long)tls->attaches,
		(unsigned long long)tls->attach_us, (unsigned long long)tls->probe_pids, (unsigned long long)tls->wide_files,
		(unsigned long long)tls->libs_unhooked, (unsigned long long)tls->mmaps,
		(unsigned long long)tls->mesh_hops, (unsigned long long)tls->go_morestack,
		(unsigned long long)tls->write_unsent,
		(unsigned long long)tls->hold_timeouts, (unsigned long long)tls->files_seen,
		(unsigned long long)tls->dlopen_probe_us, (unsigned long long)tls->dlopen_wake_us,
		(unsigned long long)tls->blind, (unsigned long long)tls->probe_sites_emulated,
		(unsigned long long)tls->probe_sites_stepped,
		tls_blind ? tls_blind : "[]", (unsigned long long)tp->frames,
		(unsigned long long)tp->bytes, (unsigned long long)tp->conns,
		(unsigned long long)tp->dup_skipped, (unsigned long long)tp->no_endpoints,
		(unsigned long long)tp->table_full, (unsigned long long)ds->parse_errors,
		(unsigned long long)ds->buffer_overflows, (unsigned long long)ds->entries_incomplete,
		(unsigned long long)(cap ? capture_ringbuf_bytes(cap) : 0),
		(unsigned long long)(cap && capture_ring_pending(cap) != UINT64_MAX
					 ? capture_ring_pending(cap)
					 : 0));
	dissect_stats_print(f, ds);
	verdict_stats_print(f, ws);
	queue_budget_stats_print(f, qb);
	pod_netns_stats_print(f, pn);
	services_stats_print(f, o);
	if (members && *members) /* the agent's own (agent_local_config.stats) */
		fprintf(f, ",%s", members);
	fputs("}\n", f);
}

/* Written last, after the store is closed (its last compression done): cpu_s is the run's.
 * Returns 0, or -1 (said on log) when the file could not be written. */
static int write_stats_json(const char *path, const struct tap_options *o,
			    const struct capture *cap, const uint64_t cnt[FLOE_CNT_MAX],
			    const struct capture_stats *cs, const struct pcap_store_stats *st,
			    const struct dissect_stats *ds, const struct dissect_worker_stats *ws,
			    size_t pods, const struct entry_history_stats *hs,
			    const struct name_resolver_stats *ns,
			    const struct tls_source_stats *tls, const char *tls_blind,
			    const struct tls_pcap_stats *tp, const struct pod_netns_stats *pn,
			    const struct queue_budget_stats *qb, FILE *log)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(log, "floe: --stats-json: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	stats_json_print(f, o, cap, cnt, cs, st, ds, ws, pods, hs, ns, tls, tls_blind, tp, pn, qb,
			 NULL);
	if (ferror(f) | fclose(f)) {
		fprintf(log, "floe: --stats-json: cannot write %s: %s\n", path,
			strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}

/*
 * The agent's stats call, from any thread while the tap runs: the kernel's counters, the
 * store's, the history's and the name resolver's now (each has its own lock); the dissection
 * engine's as its thread last published them (each second, entries_tick), and the dissection
 * queue's as the loop last did (each second, on_housekeeping).
 */
static int tap_live_stats(void *ctx, const char *members, char **json_out)
{
	struct tap *t = ctx;
	uint64_t cnt[FLOE_CNT_MAX] = {};
	struct capture_stats cs = {};
	struct pcap_store_stats st = {};
	struct dissect_stats ds = {};
	struct dissect_worker_stats ws = {};
	struct entry_history_stats hs = {};
	struct name_resolver_stats ns = {};
	struct queue_budget_stats qb;
	struct pod_netns_stats pn;
	bool scanned;
	size_t len = 0;
	FILE *f = open_memstream(json_out, &len);

	if (!f)
		return -ENOMEM;
	capture_counters(t->capture, cnt);
	pcap_store_get_stats(t->store, &st);
	if (t->history)
		entry_history_get_stats(t->history, &hs);
	name_resolver_get_stats(t->names, &ns);
	pthread_mutex_lock(&t->netns_snap_lock);
	pn = t->netns_snap;
	scanned = t->netns_scanned;
	pthread_mutex_unlock(&t->netns_snap_lock);
	/* The TLS source's counters and blind list are the loop's last copy (at most a second
	 * old), as the namespace scans' are. */
	pthread_mutex_lock(&t->tls_snap_lock);
	pthread_mutex_lock(&t->dissect_snap_lock);
	ds = t->dissect_snap;
	ws = t->dissect_queue_snap;
	pthread_mutex_unlock(&t->dissect_snap_lock);
	queue_budget_get_stats(&t->queue_budget, &qb);
	stats_json_print(f, t->o, t->capture, cnt, &cs, &st, &ds, &ws, t->next_target_id, &hs, &ns,
			 &t->tls_snap, t->tls_blind_snap, &t->tls_pcap_snap, scanned ? &pn : NULL,
			 &qb, members);
	pthread_mutex_unlock(&t->tls_snap_lock);
	if (fclose(f)) {
		free(*json_out);
		*json_out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The summary's line for the queues' budget: its peak, and per queue its peak and refusals (a
 * refusal was then handled as at the queue's own bound, and counted there too). */
static void queue_budget_summary(const struct queue_budget_stats *qb, FILE *log)
{
	fprintf(log, "  queue memory                    peak %llu of %llu bytes (",
		(unsigned long long)qb->peak, (unsigned long long)qb->total);
	for (unsigned i = 0; i < qb->members; i++)
		fprintf(log, "%s%s %llu", i ? ", " : "", qb->m[i].name,
			(unsigned long long)qb->m[i].peak);
	fprintf(log, "); refused:");
	for (unsigned i = 0; i < qb->members; i++)
		fprintf(log, "%s %s %llu", i ? "," : "", qb->m[i].name,
			(unsigned long long)qb->m[i].refused);
	fputc('\n', log);
}

static void print_summary(struct tap *t, const uint64_t cnt[FLOE_CNT_MAX],
			  const struct capture_stats *cs, const struct pcap_store_stats *st,
			  double secs)
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
	if (t->capture_scope || cnt[FLOE_CNT_OUT_OF_SCOPE])
		fprintf(l, "  outside the capture scope       %llu\n",
			(unsigned long long)cnt[FLOE_CNT_OUT_OF_SCOPE]);
	/* Records the drain refused (a kernel and agent from different builds, or a bug). */
	if (cs->bad_type || cs->bad_size)
		fprintf(l, "  dropped: malformed ring records %llu (unknown type %llu, bad size %llu)\n",
			(unsigned long long)(cs->bad_type + cs->bad_size),
			(unsigned long long)cs->bad_type, (unsigned long long)cs->bad_size);
	fprintf(l, "  written to the store            %llu\n",
		(unsigned long long)st->packets_written);
	fprintf(l, "  dropped: store write errors     %llu", (unsigned long long)st->packets_lost);
	if (st->last_errno)
		fprintf(l, " (last error: %s)", strerror(st->last_errno));
	fputc('\n', l);
	fprintf(l, "  drain waited for the store      %.3f s (%llu times; the writer was behind)\n",
		(double)st->producer_wait_ns / 1e9, (unsigned long long)st->producer_waits);
	fprintf(l, "  evicted for the storage limit   %llu packets in %llu segments\n",
		(unsigned long long)st->packets_evicted, (unsigned long long)st->segments_evicted);
	fprintf(l, "  store %s: %llu bytes (peak %llu, limit %llu)\n", t->o->store_dir,
		(unsigned long long)st->store_bytes, (unsigned long long)st->store_bytes_peak,
		(unsigned long long)t->o->storage_limit);
}

/* On the loop's thread: the pod source's scans of network namespaces, for the stats. */
static void pods_snapshot(struct tap *t)
{
	struct pod_netns_stats pn;
	bool scanned = pod_source_netns_stats(&t->pod_source, &pn);

	pthread_mutex_lock(&t->netns_snap_lock);
	if (scanned) /* a source gone keeps its last figures */
		t->netns_snap = pn;
	t->netns_scanned |= scanned;
	pthread_mutex_unlock(&t->netns_snap_lock);
}

/* On the loop's thread: the TLS source's counters and blind list, for the stats call. */
static void tls_snapshot(struct tap *t)
{
	struct tls_source_stats st;
	char *blind;

	if (!t->tls)
		return;
	tls_source_get_stats(t->tls, &st);
	blind = tls_source_blind_json(t->tls);
	pthread_mutex_lock(&t->tls_snap_lock);
	t->tls_snap = st;
	if (t->tls_pcap) /* written on this thread (on_stream) */
		tls_pcap_get_stats(t->tls_pcap, &t->tls_pcap_snap);
	if (blind) {
		free(t->tls_blind_snap);
		t->tls_blind_snap = blind;
	}
	pthread_mutex_unlock(&t->tls_snap_lock);
}

/* Start the TLS source; one that cannot start is said, and the tap goes on without it. */
static void tls_open(struct tap *t)
{
	struct tls_source_config tc = {.log = t->log,
				       .skip_loopback_hops = t->o->servicemesh,
				       .unprobe_after_ns =
					   (uint64_t)(t->o->tls_unprobe_after * 1e9),
				       .probe_first_insn = t->o->tls_probe_first_insn,
				       .pid_probes_max = t->o->tls_pid_probes,
				       .attach = t->o->tls_attach};
	struct byte_sink bs = {.stream = on_stream, .error = on_byte_source_error, .ctx = t};
	char err[512];
	int ret = tls_source_new(&tc, &t->tls_byte_source, &t->tls, err, sizeof(err));

	if (ret == 0)
		ret = byte_source_start(&t->tls_byte_source, t->loop, &bs, err, sizeof(err));
	if (ret < 0) {
		fprintf(t->log, "floe: %s; TLS traffic is not read in plaintext\n", err);
		byte_source_free(&t->tls_byte_source);
		t->tls = NULL;
	}
	/* Without memory for it the plaintext is still dissected, only not stored. */
	if (t->tls && t->store && t->o->tls_pcap &&
	    tls_pcap_new(0, on_tls_frame, t, &t->tls_pcap) < 0)
		fprintf(t->log, "floe: tls: out of memory: the plaintext is not stored as PCAP\n");
}

static void tls_close(struct tap *t)
{
	if (!t->tls)
		return;
	byte_source_drain(&t->tls_byte_source);
	tls_source_get_stats(t->tls, &t->tls_stats);
	/* The pods are untapped by now: the blind list is the last one taken while they were. */
	pthread_mutex_lock(&t->tls_snap_lock);
	t->tls_stats.blind = t->tls_snap.blind;
	t->tls_snap = t->tls_stats;
	pthread_mutex_unlock(&t->tls_snap_lock);
	fprintf(t->log,
		"  tls: plaintext                  %llu records, %llu bytes (%llu cut, %llu lost: "
		"ring full), %llu connections\n",
		(unsigned long long)t->tls_stats.records, (unsigned long long)t->tls_stats.bytes,
		(unsigned long long)t->tls_stats.cut, (unsigned long long)t->tls_stats.ringbuf_full,
		(unsigned long long)t->tls_stats.conns);
	fprintf(t->log,
		"  tls: libraries                  %llu hooked, %llu failed; processes %llu seen, "
		"%llu with TLS, %llu not hooked\n",
		(unsigned long long)t->tls_stats.libs_hooked,
		(unsigned long long)t->tls_stats.libs_failed,
		(unsigned long long)t->tls_stats.processes,
		(unsigned long long)t->tls_stats.processes_tls,
		(unsigned long long)t->tls_stats.processes_failed);
	if (t->tls_pcap) {
		struct tls_pcap_stats ps;

		tls_pcap_get_stats(t->tls_pcap, &ps);
		t->tls_pcap_stats = ps;
		pthread_mutex_lock(&t->tls_snap_lock);
		t->tls_pcap_snap = ps;
		pthread_mutex_unlock(&t->tls_snap_lock);
		fprintf(t->log,
			"  tls: plaintext to the store     %llu synthetic frames, %llu connections "
			"(%llu chunks of the other end skipped, %llu without endpoints, %llu "
			"table full)\n",
			(unsigned long long)ps.frames, (unsigned long long)ps.conns,
			(unsigned long long)ps.dup_skipped, (unsigned long long)ps.no_endpoints,
			(unsigned long long)ps.table_full);
	}
	byte_source_free(&t->tls_byte_source);
	t->tls = NULL;
	tls_pcap_free(t->tls_pcap);
	t->tls_pcap = NULL;
}

#define HOUSEKEEPING_NS 1000000000ull

/*
 * Every signal whose default action would end the process without clean-up (hooks left on the
 * veths, the active segment uncompressed) stops the tap instead: Ctrl-C, kill, a closed
 * terminal (SIGHUP), Ctrl-\ (SIGQUIT), a pipe whose reader is gone (SIGPIPE), the user
 * signals, which nothing else in floe uses, timers nobody in floe arms (SIGALRM, SIGVTALRM), a
 * CPU-time limit reached (SIGXCPU), power failure (SIGPWR), SIGIO and SIGSTKFLT. SIGPROF is
 * left to profilers. SIGXFSZ (a file-size limit) is ignored instead: the write then fails with
 * EFBIG and the store counts the loss, as for a full disk.
 */
static const int stop_signals[] = {SIGINT,  SIGTERM,   SIGHUP,  SIGQUIT, SIGPIPE, SIGUSR1,
				   SIGUSR2, SIGALRM,   SIGVTALRM, SIGXCPU, SIGPWR, SIGIO,
				   SIGSTKFLT};

static void on_stop_signal(struct evloop *l, int signo, void *ctx)
{
	struct tap *t = ctx;

	if (!t->stop_signo) {
		t->stop_signo = signo;
		fprintf(t->log, "floe: SIG%s: stopping\n", sigabbrev_np(signo) ?: "?");
	}
	evloop_stop(l);
}

static void on_duration_end(struct evloop *l, struct evloop_timer *timer, void *ctx)
{
	evloop_stop(l);
}

/* Once a second: entries flushed and idle flows expired (on the dissection thread), and the
 * kernel's counters with --debug. */
static void on_housekeeping(struct evloop *l, struct evloop_timer *timer, void *ctx)
{
	struct tap *t = ctx;
	uint64_t cnt[FLOE_CNT_MAX];
	struct pcap_store_stats st;

	if (t->worker) {
		struct dissect_worker_stats ws;

		dissect_worker_tick(t->worker);
		/* the queue's counters are this thread's (the producer's): published here */
		dissect_worker_get_stats(t->worker, &ws);
		pthread_mutex_lock(&t->dissect_snap_lock);
		t->dissect_queue_snap = ws;
		pthread_mutex_unlock(&t->dissect_snap_lock);
	}
	t->dissect_wait_slices = DISSECT_WAIT_SLICES;
	tls_snapshot(t);
	pods_snapshot(t);
	if (t->o->debug && capture_counters(t->capture, cnt) == 0) {
		pcap_store_get_stats(t->store, &st);
		fprintf(t->log,
			"floe: seen %llu targeted %llu recorded %llu ringbuf_full %llu written %llu "
			"store_lost %llu%s%s\n",
			(unsigned long long)cnt[FLOE_CNT_SEEN],
			(unsigned long long)cnt[FLOE_CNT_TARGETED],
			(unsigned long long)cnt[FLOE_CNT_RECORDED],
			(unsigned long long)cnt[FLOE_CNT_RINGBUF_FULL],
			(unsigned long long)st.packets_written, (unsigned long long)st.packets_lost,
			st.last_errno ? " last_error " : "",
			st.last_errno ? strerrorname_np(st.last_errno) ?: "?" : "");
		fflush(t->log);
	}
}

int tap_stores_open(const struct tap_options *o, bool replay, struct queue_budget *budget,
		    int (*stats)(void *, const char *, char **), void *stats_ctx,
		    struct tap_stores *s, char *err, size_t errlen)
{
	/* The entry history takes an eighth of the limit (at least 16 KiB) beside the PCAP
	 * segments; together they stay within --storagelimit (docs/storage.md). */
	uint64_t history_limit = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	if (o->history) {
		history_limit = o->storage_limit / 8;
		if (history_limit < (16u << 10))
			history_limit = 16u << 10;
	}
	struct pcap_store_config sc = {
	    .dir = o->store_dir,
	    .group = o->store_group,
	    .limit_bytes = o->storage_limit - history_limit,
	    .segment_seconds = o->segment_seconds,
	    .snaplen = o->snaplen,
	    .zstd_level = o->compress ? o->zstd_level : 0,
	    /* live: on_frames_end wakes the writer once per ring drain; a replay writes alone */
	    .batched = !replay,
	    .budget = budget,
	};
	ret = pcap_store_open(&sc, &s->store, err, errlen);
	if (ret < 0 || !o->history)
		return ret;
	/* A replayed capture's times are in the past: its entries are kept as long as the limit
	 * allows, not by the age of the store's PCAP segments. */
	struct entry_history_config hc = {.store_dir = o->store_dir,
					  .limit_bytes = history_limit,
					  .segment_seconds = o->segment_seconds,
					  /* as the PCAP store's: level 3 (the default) was ~20 % slower
					   * on live.sh's entries and compressed them no better */
					  .zstd_level = 1,
					  .keep_older_than_packets = replay,
					  .budget = budget};
	struct agent_local_config ac = {.store_dir = o->store_dir,
					.store = s->store,
					.name = o->agent_name,
					.stats = stats,
					.stats_ctx = stats_ctx};

	ret = entry_history_open(&hc, &s->history, err, errlen);
	if (ret == 0) {
		ac.history = s->history;
		ret = agent_local_new(&ac, &s->agent, err, errlen);
	}
	return ret;
}

void tap_new_run_id(char out[24])
{
	uint8_t rnd[8] = {};

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t v = evloop_now_ns() ^ ((uint64_t)getpid() << 32);

		memcpy(rnd, &v, sizeof(rnd));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

int tap_run(const struct tap_options *o, FILE *out, FILE *log)
{
	struct tap t = {.o = o,
			.log = log,
			.output_efd = -1,
			.tls_snap_lock = PTHREAD_MUTEX_INITIALIZER,
			.dissect_snap_lock = PTHREAD_MUTEX_INITIALIZER,
			.netns_snap_lock = PTHREAD_MUTEX_INITIALIZER};
	struct sigaction interrupt = {.sa_handler = on_interrupt}, old_interrupt;
	bool interrupt_set = false;
	struct tc_hooks_cleanup_stats cleaned = {};
	struct pcap_store_stats st = {};
	struct capture_stats cs = {};
	uint64_t cnt[FLOE_CNT_MAX] = {};
	char err[512];
	int rc = 1, ret;
	uint64_t start;

	if (o->listen && !o->history) {
		fprintf(log, "floe: --listen serves the entry history: not with --no-history\n");
		return 2;
	}
	if (o->pcap_file)
		return tap_replay(o, out, log);
	queue_budget_init(&t.queue_budget, o->queue_memory ? o->queue_memory : QUEUE_BUDGET_DEFAULT);
	if (tap_scope_init(&t.scope, o->pod_regex, o->namespaces, o->all_namespaces, err,
			   sizeof(err)) < 0) {
		fprintf(log, "floe: %s\n", err);
		return 2;
	}
	if (o->dryrun) {
		rc = dryrun(o, &t.scope, out, log);
		tap_scope_free(&t.scope);
		return rc;
	}
	t.names = name_resolver_new(o->name_history, o->dns_names);
	if (!t.names) {
		fprintf(log, "floe: names: %s\n", strerror(ENOMEM));
		tap_scope_free(&t.scope);
		return 1;
	}

	/* The loop, and the signals blocked for its signalfd, before any thread starts: threads
	 * inherit the mask, so that the stop signals reach the loop and no other thread. A write
	 * to a closed pipe then fails with EPIPE instead of killing the process. */
	signal(SIGXFSZ, SIG_IGN);
	ret = evloop_new(&t.loop);
	if (ret == 0)
		ret = evloop_add_signals(t.loop, stop_signals,
					 sizeof(stop_signals) / sizeof(stop_signals[0]),
					 on_stop_signal, &t, NULL);
	if (ret < 0) {
		fprintf(log, "floe: event loop: %s\n", strerror(-ret));
		goto out;
	}
	/* Without SA_RESTART: interrupts a write of entries that no reader takes (at exit). */
	interrupt_set = sigaction(SIGRTMIN, &interrupt, &old_interrupt) == 0;
	if (!interrupt_set) {
		fprintf(log, "floe: signal handler: %s\n", strerror(errno));
		goto out;
	}

	if (sys_mounts_ensure(err, sizeof(err)) < 0 && o->debug)
		fprintf(log, "floe: warning: %s\n", err);
	if (o->debug)
		setenv("FLOE_BPF_DEBUG", "1", 0);

	/* This run's id prefixes every entry id: unique across agents and restarts. */
	tap_new_run_id(t.run_id);

	/* The store first: a refused or unusable store ends the run before BPF is loaded. */
	{
		struct tap_stores ts;

		ret = tap_stores_open(o, false, &t.queue_budget, tap_live_stats, &t, &ts, err,
				      sizeof(err));
		t.store = ts.store;
		t.history = ts.history;
		t.agent = ts.agent;
		if (ret < 0) {
			fprintf(log, "floe: %s\n", err);
			goto out;
		}
	}

	struct capture_config cc = {
	    .snaplen = o->snaplen, .ringbuf_bytes = o->ringbuf_bytes, .state_dir = o->state_dir};
	/* Records go to the byte source, which takes them over below. */
	ret = capture_open(&cc, NULL, NULL, &t.capture, &cleaned, err, sizeof(err));
	if (ret < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	if (cleaned.filters_removed || cleaned.qdiscs_removed)
		fprintf(log, "floe: removed %u hooks and %u qdiscs left by an earlier run\n",
			cleaned.filters_removed, cleaned.qdiscs_removed);

	t.printing = o->entries || o->filter;
	if ((t.printing || o->history) && entries_open(&t, out, err, sizeof(err)) < 0) {
		fprintf(log, "floe: %s\n", err);
		rc = 2;
		goto out;
	}
	if (t.filter && !o->no_capture_scope && capture_scope_start(&t, err, sizeof(err)) < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	if (t.worker && t.printing) {
		struct stat sb;

		ret = t.output_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (ret >= 0)
			ret = evloop_add_fd(t.loop, t.output_efd, EVLOOP_IN, on_output_failed, &t,
					    NULL);
		if (ret < 0) {
			fprintf(log, "floe: entries: %s\n", strerror(ret == -1 ? errno : -ret));
			goto out;
		}
		/* A pipe's or socket's hang-up (its reader gone) is seen at once, entries or not. */
		if (!fstat(fileno(out), &sb) && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)))
			evloop_add_fd(t.loop, fileno(out), 0, on_stdout_hangup, &t, NULL);
	}

	{
		struct byte_sink bs = {
		    .frame = on_frame,
		    .error = on_byte_source_error,
		    .batch_end = on_frames_end,
		    .ctx = &t};

		ret = packet_source_new(t.capture, &t.byte_source);
		if (ret == 0)
			ret = byte_source_start(&t.byte_source, t.loop, &bs, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "ring buffer: %s", strerror(-ret));
		if (ret < 0) {
			fprintf(log, "floe: %s\n", err);
			goto out;
		}
	}

	/* TLS plaintext feeds the entries only: without them there is nothing to read it for. */
	if (o->tls && t.worker)
		tls_open(&t);

	{
		struct pod_sink ps = {.event = on_pod_event,
				      .error = on_pod_source_error,
				      .service = on_service,
				      .node = on_node_addr,
				      .ctx = &t};

		ret = pod_source_open(o, &t.pod_source, &t.k8s, err, sizeof(err));
		if (ret == 0)
			ret = pod_source_start(&t.pod_source, t.loop, &ps, err, sizeof(err));
		if (ret < 0) {
			fprintf(log, "floe: %s\n", err);
			goto out;
		}
	}
	t.started = true;
	ret = config_watch(&t, err, sizeof(err));
	if (ret < 0) {
		fprintf(log, "floe: %s\n", err);
		goto out;
	}
	if (t.agent && o->n_services) {
		struct agent_api api = agent_local_api(t.agent);
		int n = tap_services_start(o, &api, log);

		if (n < 0)
			goto out;
		t.services_started = (size_t)n;
	}

	fprintf(log, "floe: tapping %zu pod%s", t.n_pods, t.n_pods == 1 ? "" : "s");
	for (size_t i = 0; i < t.n_pods; i++)
		fprintf(log, "%s%s/%s", i ? ", " : ": ", t.pods[i].pod.namespace,
			floe_pod_short_name(&t.pods[i].pod));
	fprintf(log, "%s; store %s (limit %llu bytes), ring buffer %llu bytes\n",
		t.n_pods ? "" : " (none match yet; waiting for pods)", o->store_dir,
		(unsigned long long)o->storage_limit,
		(unsigned long long)capture_ringbuf_bytes(t.capture));
	fflush(log);

	start = evloop_now_ns();
	ret = evloop_add_timer(t.loop, HOUSEKEEPING_NS, HOUSEKEEPING_NS, on_housekeeping, &t,
			       NULL);
	if (!ret && o->duration > 0)
		ret = evloop_add_timer(t.loop, (uint64_t)(o->duration * 1e9), 0, on_duration_end,
				       &t, NULL);
	if (!ret)
		ret = evloop_run(t.loop);
	if (ret < 0)
		fprintf(log, "floe: event loop: %s\n", strerror(-ret));

	/* No pod events from here on: the pods are untapped below, whatever comes. */
	pods_snapshot(&t); /* the scans' last figures, for --stats-json */
	pod_source_free(&t.pod_source);
	tls_snapshot(&t); /* the blind list while the pods were tapped, for --stats-json */
	/* Unhook first, then drain what the ring still holds: nothing recorded is left behind. */
	while (t.n_pods)
		untap_pod(&t, t.n_pods - 1);
	t.dissect_wait_slices = DISSECT_WAIT_SLICES; /* a fresh budget for the last drain */
	byte_source_drain(&t.byte_source);
	/* Probes removed, what the TLS ring holds drained into the dissection queue. */
	tls_close(&t);
	capture_counters(t.capture, cnt);
	capture_get_stats(t.capture, &cs);
	/* The counts are final only once the store is closed: the last segment's commit and
	 * compression may still evict the oldest one. */
	agent_local_detach_store(t.agent);
	ret = pcap_store_close_stats(t.store, &st);
	t.store = NULL;
	rc = 0;
	print_summary(&t, cnt, &cs, &st, (double)(evloop_now_ns() - start) / 1e9);
	/* Exit status 1 for a run that lost what it was to keep: see README, "Exit codes". */
	if (st.packets_lost) {
		fprintf(log, "floe: %llu packets could not be written to the store (%s)\n",
			(unsigned long long)st.packets_lost,
			strerror(st.last_errno ? st.last_errno : EIO));
		rc = 1;
	} else if (ret < 0) {
		fprintf(log, "floe: closing the store: %s\n", strerror(-ret));
		rc = 1;
	}
	if (entries_close(&t) < 0)
		rc = 1;
	{
		struct entry_history_stats hs = {};
		struct name_resolver_stats ns;
		struct queue_budget_stats qb;

		name_resolver_get_stats(t.names, &ns);
		if (t.history) {
			entry_history_sync(t.history);
			entry_history_get_stats(t.history, &hs);
			fprintf(log,
				"  entry history                   %llu entries kept (%llu bytes, %.1f "
				"us each to queue, wall), %llu dropped, %llu evicted%s%s\n",
				(unsigned long long)hs.entries_written, (unsigned long long)hs.bytes,
				hs.entries_written
				    ? (double)hs.append_ns / 1e3 / (double)hs.entries_written
				    : 0.0,
				(unsigned long long)hs.entries_dropped,
				(unsigned long long)hs.entries_evicted,
				hs.last_errno ? "; last error: " : "",
				hs.last_errno ? strerror(hs.last_errno) : "");
		}
		/* The services finish what the last entries started and say what they did,
		 * before the statistics that hold their counters are written. */
		for (size_t i = 0; i < t.services_started; i++)
			if (o->services[i].finish)
				o->services[i].finish(o->services[i].ctx, log);
		queue_budget_get_stats(&t.queue_budget, &qb);
		queue_budget_summary(&qb, log);
		if (o->stats_json &&
		    write_stats_json(o->stats_json, o, t.capture, cnt, &cs, &st, &t.dissect,
				     &t.dissect_queue, t.next_target_id, &hs, &ns, &t.tls_stats,
				     t.tls_blind_snap, &t.tls_pcap_stats,
				     t.netns_scanned ? &t.netns_snap : NULL, &qb, log) < 0)
			rc = 1;
	}
out:
	if (t.agent) {
		struct agent_api api = agent_local_api(t.agent);

		tap_services_stop(o, t.services_started);
		api.ops->destroy(api.self);
		t.agent = NULL;
	}
	pod_source_free(&t.pod_source);
	byte_source_free(&t.tls_byte_source);
	tls_pcap_free(t.tls_pcap);
	byte_source_free(&t.byte_source);
	entries_close(&t);
	entry_history_close(t.history);
	capture_scope_free(t.capture_scope);
	entry_filter_free(t.filter);
	if (t.store)
		pcap_store_close(t.store);
	capture_close(t.capture);
	/* Last: restores the signal mask, once nothing is left to interrupt. */
	evloop_free(t.loop);
	if (t.output_efd >= 0)
		close(t.output_efd);
	if (interrupt_set)
		sigaction(SIGRTMIN, &old_interrupt, NULL);
	if (t.cfg_inotify > 0)
		close(t.cfg_inotify);
	free(t.scope_regex);
	free(t.scope_ns);
	free(t.scope_sel);
	tap_scope_free(&t.scope);
	free(t.pods);
	free(t.tls_blind_snap);
	name_resolver_free(t.names);
	queue_budget_destroy(&t.queue_budget);
	return rc;
}
