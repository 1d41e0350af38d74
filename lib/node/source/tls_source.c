// SPDX-License-Identifier: Apache-2.0
#include "source/tls_source.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <jansson.h>

#include "capture/capture.h"
#include "source/capstone_dl.h"
#include "source/clock_offset.h"
#include "source/drain_pace.h"
#include "source/go_elf.h"
#include "source/packet_source.h"
#include "source/probe_site.h"
#include "source/tls_exe.h"
#include "source/tls_record.h"
#include "source/uprobe_multi.h"
#include "tls.skel.h"

#define CLOCK_REFRESH_NS 1000000000ull
/* After an exec, the process's maps are read at these delays: its loader maps the libraries
 * it needs within milliseconds of the exec; a slow start (a loaded machine) or a library opened
 * by the program itself (Python's ssl module) gets more tries. Since the exec wakes floe at
 * once, the first ones come earlier than they did on the drain cadence: hence more of them,
 * every 10 ms at first (a read of /proc/PID/maps each). */
#define MS 1000000ull
static const uint64_t rescan_delays_ns[] = {
    10 * MS, 20 * MS,  30 * MS,	 40 * MS,  50 * MS,  60 * MS,  70 * MS,	 80 * MS,
    90 * MS, 100 * MS, 120 * MS, 150 * MS, 200 * MS, 300 * MS, 600 * MS, 1000 * MS};
#define RESCANS (sizeof(rescan_delays_ns) / sizeof(rescan_delays_ns[0]))
/* When a file's last known user goes, the tapped namespaces are swept this much later at the
 * least (a burst of exits gives one sweep), cfg.unprobe_after_ns at the most. */
#define UNPROBE_SWEEP_NS (200 * MS)

/* One probed function: the program, entry or return, and whether a library without it is
 * refused (SSL_read/SSL_write are what the rest is for). */
struct probe_spec {
	const char *func;
	bool ret;
	bool required;
};

static const struct probe_spec probe_specs[] = {
    {"SSL_read", false, true},
    {"SSL_read", true, true},
    {"SSL_write", false, true},
    {"SSL_write", true, true},
    {"SSL_read_ex", false, false},
    {"SSL_read_ex", true, false},
    {"SSL_write_ex", false, false},
    {"SSL_write_ex", true, false},
    {"SSL_do_handshake", false, false},
    {"SSL_do_handshake", true, false},
    {"SSL_set_connect_state", false, false},
    {"SSL_set_accept_state", false, false},
    {"SSL_free", false, false},
};
#define N_PROBES (sizeof(probe_specs) / sizeof(probe_specs[0]))

enum lib_kind {
	LIB_OPENSSL, /* a libssl, or a program with OpenSSL/BoringSSL linked in (its symbols) */
	LIB_GO,	     /* a Go program with crypto/tls */
	LIB_STATIC,  /* a program with a TLS library linked in that cannot be probed: blind */
};

/* One probe point of a file: its program, where, entry or return, its cookie, and what it is
 * (for messages). */
struct probe_pt {
	struct bpf_program *prog;
	uint64_t off, cookie;
	bool ret;
	const char *what;
};

/* Go: Write, Read, Close and one per RET of Read and of Write; OpenSSL: probe_specs, a
 * return probed where the function returns taking one point per return site (probe_site.h). */
#define LIB_PTS_MAX (N_PROBES * PROBE_SITE_MAX_RETS) /* each spec: at most that many */
_Static_assert(LIB_PTS_MAX >= 3 + 2 * GO_ELF_MAX_RETS, "room for Go's probes");

/*
 * The probes of one file for one process or for all: one perf-event uprobe link per probe point,
 * or, with uprobe_multi links (uprobe_multi.h), one link per group of points of one program and
 * kind (entry or return). Removed as one.
 */
struct probe_link {
	struct bpf_link *perf; /* or NULL */
	int fd;		       /* a uprobe_multi link, or -1 */
};

struct probe_set {
	size_t n;
	struct probe_link l[];
};

/* Program files looked at that have no TLS in them: remembered (not read again) in a ring of
 * this many, the oldest forgotten first (read again if it runs again). */
#define SEEN_MAX 1024

/* A library or program file (by device and inode, whatever path or process it is seen
 * through). */
struct tls_lib {
	dev_t dev;
	ino_t ino;
	enum lib_kind kind;
	char path[PATH_MAX];
	struct probe_pt pts[LIB_PTS_MAX];
	size_t n_pts;
	/* Of its probe points, those whose instruction the kernel emulates when the probe fires
	 * and those it single-steps (probe_site.h; a uretprobe's return is not counted). */
	unsigned sites_emulated, sites_stepped;
	/* The file, open while it is hooked: every process's probes are attached through it, so a
	 * process that is gone (a short client) leaves nothing to resolve. -1 otherwise. */
	int fd;
	/* Probes for every process (pid -1): used by more tapped processes than
	 * cfg.pid_probes_max. NULL while each has its own (tls_proc's). */
	struct probe_set *wide;
	unsigned n_sets; /* processes with their own probes of it now */
	bool shared;	 /* a library found in maps (not a program file) */
	bool failed;
	bool hooked;		/* its probe points are known; probes go on as processes use it */
	unsigned users;		/* known processes of tapped namespaces that map or run it */
	uint64_t idle_since_ns; /* when users fell to 0 */
	char reason[160];	/* failed: why, for the blind list */
};

/* A library or program file of one process, and the probes the kernel applies to it alone. */
struct proc_lib {
	uint32_t lib; /* index in tls_source.libs (the array only grows) */
	/* In its maps or its program: counted in the file's users. Not yet: probed ahead at its
	 * exec because it is a library in use (proc_preprobe), dropped when its rescans end. */
	bool used;
	struct probe_set *links; /* the file's probes for this pid; NULL: none of its own */
};

/* The TLS library and program files one process uses (a libssl, its Go program). */
#define PROC_LIBS 4

struct tls_proc {
	pid_t pid;
	uint32_t netns;
	bool scanned_tls; /* maps a TLS library (hooked or not) */
	bool counted_tls; /* counted in processes_tls */
	char comm[16];
	uint8_t n_libs;
	struct proc_lib libs[PROC_LIBS];
};

/*
 * Per-process probes are removed on a thread of their own: closing a uprobe's perf event
 * waits for the kernel's grace periods (1.5-1.8 s for a set of 13 here), which on the loop
 * would hold back the exec, fork and mmap events that new processes need handled at once. At
 * most REAP_MAX sets wait (each holds its perf events' fds); past it they are removed on the
 * loop, which then waits.
 */
#define REAP_MAX 64

struct reap {
	struct probe_set *links;
	struct reap *next;
};

struct reaper {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct reap *head;
	unsigned pending;
	bool stop, started;
};

struct rescan {
	pid_t pid;
	unsigned next; /* index in rescan_delays_ns */
	uint64_t due_ns;
};

struct tls_source {
	struct tls_source_config cfg;
	struct tls_bpf *skel;
	struct ring_buffer *rb;
	struct tls_streams *streams;
	struct evloop *loop;
	struct byte_sink sink;
	struct evloop_fd *ring_src;
	struct evloop_timer *clock, *rescan_timer, *drain_timer, *sweep_timer;
	bool sweep_armed;
	uint64_t drain_gap_ns;
	int64_t mono_to_real_ns;
	struct tls_lib *libs;
	size_t n_libs;
	struct {
		dev_t dev;
		ino_t ino;
	} seen[SEEN_MAX];
	size_t n_seen, seen_next;
	struct tls_proc *procs;
	size_t n_procs, cap_procs;
	struct rescan *rescans;
	size_t n_rescans;
	struct {
		uint32_t inode;
		char name[64];	    /* the pod */
		char namespace[64]; /* its Kubernetes namespace */
	} * netns;
	size_t n_netns;
	struct tls_source_stats st;
	int failed;
	/* While a libssl mapped by a running process (dlopen) is looked at: when (monotonic) the
	 * kernel saw the mmap, so the log can say how long its calls went unread. 0 otherwise. */
	uint64_t mmap_seen_ns;
	uint64_t mmap_woke_ns;	 /* and when floe handled that event */
	uint64_t mmap_hooked_ns; /* and when it had read the library (0: known already) */
	/* The library read then got its probes for all in lib_hooked: the window is logged
	 * when the process is counted (proc_probe). */
	bool mmap_window_due;
	struct reaper reaper;
	/* The uprobes are uprobe_multi links (cfg.attach, the kernel): their programs were loaded
	 * for those, and cannot be attached as perf uprobes. */
	bool multi;
};

static struct bpf_program *probe_prog(struct tls_bpf *s, const struct probe_spec *p)
{
	if (p->ret)
		return s->progs.floe_ssl_ret;
	if (!strcmp(p->func, "SSL_read"))
		return s->progs.floe_ssl_read;
	if (!strcmp(p->func, "SSL_write"))
		return s->progs.floe_ssl_write;
	if (!strcmp(p->func, "SSL_read_ex"))
		return s->progs.floe_ssl_read_ex;
	if (!strcmp(p->func, "SSL_write_ex"))
		return s->progs.floe_ssl_write_ex;
	if (!strcmp(p->func, "SSL_do_handshake"))
		return s->progs.floe_ssl_do_handshake;
	if (!strcmp(p->func, "SSL_set_connect_state"))
		return s->progs.floe_ssl_set_connect_state;
	if (!strcmp(p->func, "SSL_set_accept_state"))
		return s->progs.floe_ssl_set_accept_state;
	return s->progs.floe_ssl_free;
}

static void links_destroy(struct probe_set *links)
{
	if (!links)
		return;
	for (size_t i = 0; i < links->n; i++) {
		bpf_link__destroy(links->l[i].perf);
		if (links->l[i].fd >= 0)
			close(links->l[i].fd);
	}
	free(links);
}

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct reap *q;

		while (!r->head && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		q = r->head;
		if (!q)
			break; /* told to stop, nothing left */
		r->head = q->next;
		pthread_mutex_unlock(&r->mu);
		links_destroy(q->links);
		free(q);
		pthread_mutex_lock(&r->mu);
		r->pending--;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* links removed on the reaper thread; here when it is not running or full. */
static void links_reap(struct tls_source *ts, struct probe_set *links)
{
	struct reaper *r = &ts->reaper;
	struct reap *q = NULL;

	if (!links)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		if (r->pending < REAP_MAX && (q = malloc(sizeof(*q)))) {
			*q = (struct reap){.links = links, .next = r->head};
			r->head = q;
			r->pending++;
			pthread_cond_signal(&r->cv);
		}
		pthread_mutex_unlock(&r->mu);
	}
	if (!q)
		links_destroy(links);
}

static struct probe_set *set_new(size_t n)
{
	struct probe_set *set = calloc(1, sizeof(*set) + n * sizeof(set->l[0]));

	if (set)
		for (size_t i = 0; i < n; i++)
			set->l[i].fd = -1;
	return set;
}

/* l's probes as perf-event uprobes, one per point (links_attach). */
static struct probe_set *links_attach_perf(struct tls_lib *l, const char *path, pid_t pid, int *err,
					   size_t *at)
{
	struct probe_set *set = set_new(l->n_pts);

	if (!set) {
		*err = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < l->n_pts; i++, set->n++) {
		const struct probe_pt *p = &l->pts[i];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = p->ret, .bpf_cookie = p->cookie);

		set->l[i].perf = bpf_program__attach_uprobe_opts(p->prog, pid, path, p->off, &o);
		if (!set->l[i].perf) {
			*err = errno;
			*at = i;
			links_destroy(set);
			return NULL;
		}
	}
	return set;
}

/* l's probes as uprobe_multi links, one per group of points of one program and kind
 * (links_attach). A group that fails names its first point. */
static struct probe_set *links_attach_multi(struct tls_lib *l, const char *path, pid_t pid,
					    int *err, size_t *at)
{
	const void *keys[LIB_PTS_MAX];
	bool rets[LIB_PTS_MAX];
	uint32_t group[LIB_PTS_MAX];
	uint64_t offs[LIB_PTS_MAX], cookies[LIB_PTS_MAX];
	struct probe_set *set;
	size_t n_groups;

	for (size_t i = 0; i < l->n_pts; i++) {
		keys[i] = l->pts[i].prog;
		rets[i] = l->pts[i].ret;
	}
	n_groups = uprobe_multi_group(keys, rets, l->n_pts, group);
	set = set_new(n_groups);
	if (!set) {
		*err = ENOMEM;
		return NULL;
	}
	for (uint32_t g = 0; g < n_groups; g++, set->n++) {
		size_t n = 0, first = 0;
		int fd;

		for (size_t i = l->n_pts; i-- > 0;)
			if (group[i] == g)
				first = i;
		for (size_t i = first; i < l->n_pts; i++)
			if (group[i] == g) {
				offs[n] = l->pts[i].off;
				cookies[n++] = l->pts[i].cookie;
			}
		fd = uprobe_multi_attach(bpf_program__fd(l->pts[first].prog), path, offs, cookies,
					 n, l->pts[first].ret, pid);
		if (fd < 0) {
			*err = -fd;
			*at = first;
			links_destroy(set);
			return NULL;
		}
		set->l[g].fd = fd;
	}
	return set;
}

/* l's probes for the process pid (-1: for every process), through its open file. NULL on
 * failure, with *err and the point that failed (*at). The time it takes is counted. */
static struct probe_set *links_attach(struct tls_source *ts, struct tls_lib *l, pid_t pid, int *err,
				      size_t *at)
{
	uint64_t t0 = evloop_now_ns();
	struct probe_set *set;
	char path[64];

	*at = 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", l->fd);
	set = ts->multi ? links_attach_multi(l, path, pid, err, at)
			: links_attach_perf(l, path, pid, err, at);
	ts->st.attach_us += (evloop_now_ns() - t0) / 1000;
	ts->st.attaches++;
	return set;
}

/* The probes of l that processes have of their own (not the one for all) removed: now (the
 * file's probes for all replace them, and must not run beside them for long), or on the
 * reaper thread. */
static void lib_drop_sets(struct tls_source *ts, struct tls_lib *l, bool now)
{
	uint32_t idx = (uint32_t)(l - ts->libs);

	for (size_t i = 0; i < ts->n_procs; i++)
		for (unsigned k = 0; k < ts->procs[i].n_libs; k++) {
			struct proc_lib *s = &ts->procs[i].libs[k];

			if (s->lib == idx && s->links) {
				if (now)
					links_destroy(s->links);
				else
					links_reap(ts, s->links);
				s->links = NULL;
			}
		}
	l->n_sets = 0;
}

/* Every probe of l removed (each process's and the one for all), the file closed. */
static void lib_unhook(struct tls_source *ts, struct tls_lib *l)
{
	lib_drop_sets(ts, l, false);
	links_destroy(l->wide);
	l->wide = NULL;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->hooked = false;
}

/* l cannot be probed (reason): its processes are listed as blind. */
static void lib_fail(struct tls_source *ts, struct tls_lib *l)
{
	fprintf(ts->cfg.log, "floe: tls: %s: %s; its processes are not read in plaintext\n",
		l->path, l->reason);
	lib_unhook(ts, l);
	l->failed = true;
	ts->st.libs_failed++;
}

/* A probe of l could not be attached: why, in l->reason. */
static void attach_failed(struct tls_source *ts, struct tls_lib *l, size_t at, int err)
{
	const struct probe_pt *p = &l->pts[at];

	snprintf(l->reason, sizeof(l->reason), "cannot probe %s%s (offset 0x%llx): %s", p->what,
		 p->ret ? " (return)" : "", (unsigned long long)p->off, strerror(err));
	lib_fail(ts, l);
}

static void lib_go_wide(struct tls_source *ts, struct tls_lib *l);

/*
 * The probe points are known and the file is open (fd, duplicated): hooked. With probes for
 * every process (the default) they go on here, before the caller logs "hooked": from that line
 * on, every call through the file is read (a user or a test may start a client at it). Per
 * process (cfg.pid_probes_max), each process's own go on when it is counted (proc_probe).
 */
static void lib_hooked(struct tls_source *ts, struct tls_lib *l, int fd)
{
	l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (l->fd < 0) {
		snprintf(l->reason, sizeof(l->reason), "cannot keep it open: %s", strerror(errno));
		lib_fail(ts, l);
		return;
	}
	l->hooked = true;
	ts->st.libs_hooked++;
	if (ts->mmap_seen_ns)
		ts->mmap_hooked_ns = evloop_now_ns();
	if (!ts->cfg.pid_probes_max) {
		lib_go_wide(ts, l); /* on failure: failed, no longer hooked */
		ts->mmap_window_due = ts->mmap_seen_ns && l->wide;
	}
}

/* Whether the function of spec i has its return probed too (a spec with ret after it). */
static bool spec_has_ret(size_t i)
{
	for (size_t k = 0; k < N_PROBES; k++)
		if (probe_specs[k].ret && !strcmp(probe_specs[k].func, probe_specs[i].func))
			return true;
	return false;
}

/*
 * Where the probes of each function go (probe_site.h): plans[i] for spec i, from the
 * function's code in the file at fd. Without its code (no size in the symbol table, a read
 * error) or with cfg.probe_first_insn, a function is probed at its first instruction and its
 * return by a uretprobe, as the plan's fallback says.
 */
static void plan_sites(const struct tls_source *ts, int fd, const uint64_t *offs,
		       const uint64_t *sizes, struct probe_plan *plans)
{
	/* Capstone loaded once for all the functions, unloaded after (capstone_dl.h). */
	const struct capstone_dl *cs = capstone_get();

	for (size_t i = 0; i < N_PROBES; i++) {
		bool want_ret = spec_has_ret(i);
		uint8_t *code = NULL;

		memset(&plans[i], 0, sizeof(plans[i]));
		plans[i].entry = offs[i];
		plans[i].ret_at_entry = want_ret;
		if (!offs[i])
			continue;
		/* The entry and return specs of one function share one plan. */
		for (size_t k = 0; k < i; k++)
			if (!strcmp(probe_specs[k].func, probe_specs[i].func)) {
				plans[i] = plans[k];
				goto next;
			}
		if (fd < 0 || !sizes[i] || sizes[i] > (64u << 10) || !(code = malloc(sizes[i])))
			continue;
		if (pread(fd, code, sizes[i], (off_t)offs[i]) != (ssize_t)sizes[i])
			;
		else if (ts->cfg.probe_first_insn)
			probe_site_first(code, sizes[i], offs[i], want_ret, &plans[i]);
		else
			probe_site_plan(code, sizes[i], offs[i], PROBE_REG_ARGS, PROBE_REG_RAX,
					want_ret, &plans[i]);
		free(code);
	next:;
	}
	capstone_put(cs);
}

/* The OpenSSL probe points of the file at fd (a libssl, or a program with OpenSSL's or
 * BoringSSL's symbols), each where it costs least (plan_sites): hooked, or failed with the
 * reason. */
static void lib_hook_openssl(struct tls_source *ts, struct tls_lib *l, int fd)
{
	const char *names[N_PROBES];
	uint64_t offs[N_PROBES], sizes[N_PROBES];
	struct probe_plan plans[N_PROBES];
	char path[64];
	int ret;

	/* The symbols' offsets in one read of the file (not one per probe). */
	for (size_t i = 0; i < N_PROBES; i++)
		names[i] = probe_specs[i].func;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = tls_exe_func_offsets(path, names, N_PROBES, offs, sizes);
	if (ret < 0)
		memset(offs, 0, sizeof(offs));
	plan_sites(ts, fd, offs, sizes, plans);
	l->n_pts = 0;
	l->sites_emulated = l->sites_stepped = 0;
	for (size_t i = 0; i < N_PROBES; i++) {
		const struct probe_spec *p = &probe_specs[i];
		const struct probe_plan *pl = &plans[i];
		struct probe_pt pt = {.prog = probe_prog(ts->skel, p), .what = p->func};

		if (offs[i] && p->ret && !pl->ret_at_entry) {
			/* The return, at each place the function returns (uprobes). */
			for (size_t k = 0; k < pl->n_rets && l->n_pts < LIB_PTS_MAX; k++) {
				pt.off = pl->rets[k];
				l->pts[l->n_pts++] = pt;
			}
			continue;
		}
		if (offs[i] && l->n_pts < LIB_PTS_MAX) {
			pt.off = pl->entry;
			pt.ret = p->ret;
			l->pts[l->n_pts++] = pt;
			if (!p->ret) {
				unsigned emu, step;

				probe_plan_costs(pl, spec_has_ret(i), &emu, &step);
				l->sites_emulated += emu;
				l->sites_stepped += step;
			}
			continue;
		}
		if (!p->required)
			continue;
		snprintf(l->reason, sizeof(l->reason), "cannot probe %s%s: %s", p->func,
			 p->ret ? " (return)" : "", strerror(ret < 0 ? -ret : ENOENT));
		lib_fail(ts, l);
		return;
	}
	lib_hooked(ts, l, fd);
	if (!l->hooked)
		return;
	fprintf(ts->cfg.log, "floe: tls: hooked %s\n", l->path);
}

/*
 * The field offsets the Go probes walk from a *tls.Conn to its socket's fd (bpf/tls.bpf.c,
 * GO_OFF_*), one byte each in the attach cookie: tls.Conn.conn, tls.Conn.isClient,
 * net.TCPConn's netFD pointer, netFD.pfd.Sysfd. One row for Go 1.17 to 1.26 (the register
 * ABI), read from go1.26.8's sources, the only version tested: conn and isClient are
 * tls.Conn's first fields, TCPConn embeds conn{fd *netFD}, netFD starts with poll.FD, whose
 * Sysfd follows the 16-byte fdMutex; the types are believed unchanged since Go 1.9. A newer
 * release is probed with the same offsets, and said so; the BPF side checks that the fd is a
 * TCP socket of the process before trusting it.
 */
#define GO_TABLE_MINOR_MIN 17
#define GO_TABLE_MINOR_MAX 26
static uint64_t go_offsets_cookie(void)
{
	const uint64_t conn = 0, is_client = 16, netfd = 0, sysfd = 16;

	return conn | is_client << 8 | netfd << 16 | sysfd << 24;
}

/* How Write's and Read's entry probes tell a pass bound for runtime.morestack (bpf/tls.bpf.c,
 * go_to_morestack; the layout: FLOE_GO_COOKIE_* in floe_record.h). */
static uint64_t go_entry_cookie(enum floe_go_entry mode, const struct go_stack_check *sc)
{
	return (uint64_t)mode << FLOE_GO_COOKIE_MODE |
	       (uint64_t)(sc->guard_disp & 0xff) << FLOE_GO_COOKIE_GUARD |
	       (uint64_t)(sc->sp_below & 0xffff) << FLOE_GO_COOKIE_SP_BELOW;
}

/* A Go program's crypto/tls probe points (gi from go_elf), the file at fd: hooked. */
static void lib_hook_go(struct tls_source *ts, struct tls_lib *l, int fd,
			const struct go_elf_info *gi)
{
	struct bpf_program *progs[3] = {ts->skel->progs.floe_go_write, ts->skel->progs.floe_go_read,
					ts->skel->progs.floe_go_close};
	static const char *const what[3] = {"crypto/tls.(*Conn).Write", "crypto/tls.(*Conn).Read",
					    "crypto/tls.(*Conn).Close"};
	uint64_t offs[3] = {gi->write_off, gi->read_off, gi->close_off};
	const uint64_t sizes[2] = {gi->write_size, gi->read_size};
	/* Write's and Read's entries: how they tell a pass bound for morestack (bpf/tls.bpf.c,
	 * go_to_morestack), in their cookies. */
	uint64_t entry_mode[2] = {0, 0};
	size_t nr = gi->n_read_rets;
	unsigned emulated = 0;
	bool unchecked = false;

	/* Write's and Read's entries past the stack check (probe_site.h): its jbe is emulated,
	 * the cmp before it is not; the arguments and R14 (g) are untouched up to there. */
	for (size_t i = 0; i < 2; i++) {
		struct probe_plan pl;
		struct go_stack_check sc;
		uint8_t *code = sizes[i] && sizes[i] <= (64u << 10) ? malloc(sizes[i]) : NULL;
		bool have = code && pread(fd, code, sizes[i], (off_t)offs[i]) == (ssize_t)sizes[i];
		bool check = have && probe_site_go_stack_check(code, sizes[i], offs[i], &sc) == 0;

		if (have && !ts->cfg.probe_first_insn &&
		    probe_site_plan(code, sizes[i], offs[i],
				    PROBE_REG_RAX | PROBE_REG_RBX | PROBE_REG_RCX | PROBE_REG_R14,
				    PROBE_REG_RAX | PROBE_REG_R14, false, &pl) == 0) {
			offs[i] = pl.entry;
			emulated += pl.entry_emulated;
		}
		if (check && offs[i] == sc.jbe)
			entry_mode[i] = go_entry_cookie(FLOE_GO_ENTRY_JBE, &sc);
		else if (check && sc.sp_below <= 0xffff &&
			 offs[i] == (i ? gi->read_off : gi->write_off))
			entry_mode[i] = go_entry_cookie(FLOE_GO_ENTRY_FIRST, &sc);
		else
			unchecked = true;
		free(code);
	}
	l->n_pts = 0;
	for (size_t i = 0; i < 3 + nr + gi->n_write_rets && l->n_pts < LIB_PTS_MAX; i++) {
		struct probe_pt p = {.cookie = go_offsets_cookie()};

		if (i < 3) {
			p.prog = progs[i];
			p.off = offs[i];
			p.what = what[i];
			if (i < 2)
				p.cookie |= entry_mode[i];
		} else if (i < 3 + nr) {
			p.prog = ts->skel->progs.floe_go_read_ret;
			p.off = gi->read_rets[i - 3];
			p.what = "a RET of crypto/tls.(*Conn).Read";
		} else {
			p.prog = ts->skel->progs.floe_go_write_ret;
			p.off = gi->write_rets[i - 3 - nr];
			p.what = "a RET of crypto/tls.(*Conn).Write";
		}
		if (p.off) /* Close is optional */
			l->pts[l->n_pts++] = p;
	}
	/* The RETs and Close's entry are single-stepped (a Go function's first instruction is
	 * its stack check's cmp). */
	l->sites_emulated = emulated;
	l->sites_stepped = (unsigned)l->n_pts - emulated;
	lib_hooked(ts, l, fd);
	if (!l->hooked)
		return;
	fprintf(ts->cfg.log,
		"floe: tls: hooked %s (Go %s, crypto/tls from %s, %zu RETs of Read, %zu of "
		"Write)%s%s\n",
		l->path, gi->version, gi->from_pclntab ? ".gopclntab (stripped)" : ".symtab",
		gi->n_read_rets, gi->n_write_rets,
		gi->major == 1 && gi->minor > GO_TABLE_MINOR_MAX
		    ? "; newer than the offsets table (go1.26): its go1.26 offsets are used"
		    : "",
		unchecked ? "; stack check of Write or Read not recognised: a call that grows the "
			    "goroutine's stack is read twice"
			  : "");
}
/* The lib entry of the file st (NULL: none yet). */
static struct tls_lib *lib_find(struct tls_source *ts, const struct stat *sb)
{
	for (size_t i = 0; i < ts->n_libs; i++)
		if (ts->libs[i].dev == sb->st_dev && ts->libs[i].ino == sb->st_ino)
			return &ts->libs[i];
	return NULL;
}

static struct tls_lib *lib_add(struct tls_source *ts, const struct stat *sb, const char *path,
			       enum lib_kind kind)
{
	struct tls_lib *l, *nl = realloc(ts->libs, (ts->n_libs + 1) * sizeof(*nl));

	if (!nl)
		return NULL;
	ts->libs = nl;
	l = &ts->libs[ts->n_libs++];
	memset(l, 0, sizeof(*l));
	l->dev = sb->st_dev;
	l->ino = sb->st_ino;
	l->kind = kind;
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->fd = -1;
	return l;
}

static bool seen_find(const struct tls_source *ts, const struct stat *sb)
{
	for (size_t i = 0; i < ts->n_seen; i++)
		if (ts->seen[i].dev == sb->st_dev && ts->seen[i].ino == sb->st_ino)
			return true;
	return false;
}

static void seen_add(struct tls_source *ts, const struct stat *sb)
{
	ts->seen[ts->seen_next].dev = sb->st_dev;
	ts->seen[ts->seen_next].ino = sb->st_ino;
	ts->seen_next = (ts->seen_next + 1) % SEEN_MAX;
	if (ts->n_seen < SEEN_MAX)
		ts->n_seen++;
}

/* A Go program (gi, r from go_elf) at fd: probed, or failed with the reason. */
static void exe_go(struct tls_source *ts, struct tls_lib *l, int fd, int r,
		   const struct go_elf_info *gi)
{
	if (r != GO_ELF_OK) {
		snprintf(l->reason, sizeof(l->reason), "Go %s: %s",
			 gi->version[0] ? gi->version : "of unknown version", go_elf_strerror(r));
		fprintf(ts->cfg.log, "floe: tls: %s (Go %s) cannot be probed: %s\n", l->path,
			gi->version[0] ? gi->version : "of unknown version", go_elf_strerror(r));
		l->failed = true;
		ts->st.libs_failed++;
		return;
	}
	/* Probed through the open file, not /proc/PID/exe: a process that exits meanwhile (a
	 * short client) must not leave its program unprobed for the next ones. */
	lib_hook_go(ts, l, fd, gi);
}

/*
 * pid's program, when it has TLS in it: a Go program with crypto/tls, or one with OpenSSL or
 * BoringSSL linked statically (probed at its SSL_* symbols, as a libssl), or one with a TLS
 * library floe cannot probe (failed: listed as blind). Found, or looked at and probed now.
 * NULL when the program has no TLS (or is gone). The file is opened through /proc/PID/exe,
 * which also works for a program in another mount namespace or deleted since.
 */
static struct tls_lib *exe_get(struct tls_source *ts, pid_t pid)
{
	char exe[64], path[PATH_MAX], what[160];
	struct go_elf_info gi;
	struct stat sb;
	struct tls_lib *l;
	ssize_t n;
	int fd, r, k = TLS_EXE_NONE;

	snprintf(exe, sizeof(exe), "%s/%d/exe", ts->cfg.proc, pid);
	if (stat(exe, &sb) < 0 || seen_find(ts, &sb))
		return NULL;
	l = lib_find(ts, &sb);
	/* Known: as it is, unless its probes were removed (no user for a while): again then. */
	if (l && (l->failed || l->hooked))
		return l;
	n = readlink(exe, path, sizeof(path) - 1);
	if (n < 0)
		return NULL;
	path[n] = 0;
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	r = go_elf_inspect_fd(fd, &gi);
	if (r == GO_ELF_NOT_ELF || r == GO_ELF_NOT_GO)
		k = tls_exe_inspect_fd(fd, what, sizeof(what));
	if (!l && (r == GO_ELF_NOT_ELF || r == GO_ELF_NOT_GO || r == GO_ELF_NO_TLS) &&
	    k == TLS_EXE_NONE) {
		close(fd);
		seen_add(ts, &sb);
		return NULL;
	}
	if (!l)
		l = lib_add(ts, &sb, path,
			    k == TLS_EXE_OPENSSL_SYMS ? LIB_OPENSSL
			    : k == TLS_EXE_BLIND      ? LIB_STATIC
						      : LIB_GO);
	if (!l) {
		close(fd);
		return NULL;
	}
	if (l->kind == LIB_GO) {
		exe_go(ts, l, fd, r, &gi);
	} else if (l->kind == LIB_OPENSSL) {
		lib_hook_openssl(ts, l, fd);
	} else {
		snprintf(l->reason, sizeof(l->reason), "%s", what);
		fprintf(ts->cfg.log, "floe: tls: %s: %s\n", path, what);
		l->failed = true;
		ts->st.libs_failed++;
	}
	close(fd);
	return l;
}

/* The library at path in pid's file system view: found, or probed now. */
static struct tls_lib *lib_get(struct tls_source *ts, pid_t pid, const char *path)
{
	char open_path[PATH_MAX + 64];
	struct stat sb;
	struct tls_lib *l;
	int fd;

	snprintf(open_path, sizeof(open_path), "%s/%d/root%s", ts->cfg.proc, pid, path);
	if (stat(open_path, &sb) < 0)
		return NULL;
	l = lib_find(ts, &sb);
	/* Known, as it is; hooked again when it was unhooked (no user for a while). */
	if (l && (l->kind != LIB_OPENSSL || l->failed || l->hooked))
		return l;
	/* Opened now: the process it was seen through may be gone a moment later (a short
	 * client), which is no fault of the file. */
	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return l;
	if (!l)
		l = lib_add(ts, &sb, path, LIB_OPENSSL);
	if (l) {
		l->shared = true;
		lib_hook_openssl(ts, l, fd);
	}
	close(fd);
	return l;
}

static void read_comm(const struct tls_source *ts, pid_t pid, char *comm, size_t len)
{
	char p[64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%d/comm", ts->cfg.proc, pid);
	comm[0] = 0;
	f = fopen(p, "re");
	if (!f)
		return;
	if (fgets(comm, (int)len, f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

static const char *netns_name(const struct tls_source *ts, uint32_t inode)
{
	for (size_t i = 0; i < ts->n_netns; i++)
		if (ts->netns[i].inode == inode)
			return ts->netns[i].name;
	return NULL;
}

/* The network namespace inode of pid, 0 if it cannot be read. */
static uint32_t pid_netns(const struct tls_source *ts, pid_t pid)
{
	char p[64], link[64];
	ssize_t n;
	unsigned long ino;

	snprintf(p, sizeof(p), "%s/%d/ns/net", ts->cfg.proc, pid);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = 0;
	if (sscanf(link, "net:[%lu]", &ino) != 1)
		return 0;
	return (uint32_t)ino;
}

static struct tls_proc *proc_find(struct tls_source *ts, pid_t pid)
{
	for (size_t i = 0; i < ts->n_procs; i++)
		if (ts->procs[i].pid == pid)
			return &ts->procs[i];
	return NULL;
}

/* ---- which process uses which file: probes removed when none does ---- */

static void sweep_arm(struct tls_source *ts, uint64_t delay_ns)
{
	if (ts->sweep_armed || !ts->loop || !ts->sweep_timer)
		return;
	ts->sweep_armed = true;
	evloop_timer_set(ts->loop, ts->sweep_timer,
			 delay_ns > UNPROBE_SWEEP_NS ? delay_ns : UNPROBE_SWEEP_NS, 0);
}

/*
 * l is used by more tapped processes than cfg.pid_probes_max (0: always): probed once for
 * every process (pid -1) instead, which every process mapping the file then pays for (docs/tls.md,
 * "Which processes pay"). The probes for all go on before the processes' own ones go, so no call in
 * between is missed.
 */
static void lib_go_wide(struct tls_source *ts, struct tls_lib *l)
{
	struct probe_set *w;
	size_t at;
	int err;

	w = links_attach(ts, l, -1, &err, &at);
	if (!w) {
		attach_failed(ts, l, at, err);
		return;
	}
	lib_drop_sets(ts, l, true);
	l->wide = w;
	if (ts->cfg.pid_probes_max)
		fprintf(ts->cfg.log,
			"floe: tls: %s: used by more than %u tapped processes: probed for every "
			"process "
			"that maps it\n",
			l->path, ts->cfg.pid_probes_max);
}

/*
 * l's probes went on for process pid after its mmap of the file (proc_mmap, a dlopen): how long
 * its calls went unread, and how much of that floe took to handle the event (its wake-up on a
 * loaded machine) against the rest (reading the maps and the file, the attaches).
 */
static void log_mmap_window(struct tls_source *ts, const struct tls_lib *l, pid_t pid)
{
	uint64_t d = evloop_now_ns() - ts->mmap_seen_ns, w = ts->mmap_woke_ns - ts->mmap_seen_ns;
	uint64_t h = ts->mmap_hooked_ns ? ts->mmap_hooked_ns - ts->mmap_seen_ns : w;

	ts->st.dlopen_probe_us = d / 1000;
	ts->st.dlopen_wake_us = w / 1000;
	fprintf(ts->cfg.log,
		"floe: tls: %s probed %.1f ms after process %d mapped it (the event handled after "
		"%.1f ms, the library read after %.1f ms; its calls before that are not read)\n",
		l->path, (double)d / 1e6, pid, (double)w / 1e6, (double)h / 1e6);
}

/* pr's own probes of the file of slot s (the kernel puts them in pr's memory only), or the
 * file's probes for all when it has more users than cfg.pid_probes_max. */
static void proc_probe(struct tls_source *ts, struct tls_proc *pr, struct proc_lib *s)
{
	struct tls_lib *l = &ts->libs[s->lib];
	size_t at;
	int err;

	if (l->wide && ts->mmap_window_due) { /* probed for all just now, in lib_hooked */
		ts->mmap_window_due = false;
		log_mmap_window(ts, l, pr->pid);
	}
	if (!l->hooked || l->failed || l->wide || s->links)
		return;
	if (l->n_sets >= ts->cfg.pid_probes_max) {
		lib_go_wide(ts, l);
		if (!l->wide)
			return;
	} else {
		s->links = links_attach(ts, l, pr->pid, &err, &at);
		if (!s->links) {
			if (err != ESRCH) /* ESRCH: the process is gone already */
				attach_failed(ts, l, at, err);
			return;
		}
		l->n_sets++;
	}
	if (ts->mmap_seen_ns)
		log_mmap_window(ts, l, pr->pid);
}

static struct proc_lib *proc_slot(struct tls_source *ts, struct tls_proc *pr,
				  const struct tls_lib *l)
{
	uint32_t idx = (uint32_t)(l - ts->libs);

	for (unsigned i = 0; i < pr->n_libs; i++)
		if (pr->libs[i].lib == idx)
			return &pr->libs[i];
	return NULL;
}

/* pr uses l: counted once, and probed for pr. Returns true when it is new. */
static bool proc_ref(struct tls_source *ts, struct tls_proc *pr, struct tls_lib *l)
{
	struct proc_lib *s = proc_slot(ts, pr, l);
	bool fresh = !s || !s->used;

	if (!s) {
		if (pr->n_libs == PROC_LIBS)
			return false; /* more TLS libraries than that in one process: not counted */
		s = &pr->libs[pr->n_libs++];
		*s = (struct proc_lib){.lib = (uint32_t)(l - ts->libs)};
	}
	if (!s->used) {
		s->used = true;
		l->users++;
	}
	proc_probe(ts, pr, s);
	return fresh;
}

/* Slot k of pr goes: its probes, and its count in the file's users (the last one's file is
 * unhooked after a sweep: sweep_arm). */
/* A process no longer uses l: the last one's file is unhooked after a sweep (sweep_arm). */
static void lib_unuse(struct tls_source *ts, struct tls_lib *l)
{
	if (l->users && --l->users == 0 && l->hooked) {
		l->idle_since_ns = evloop_now_ns();
		sweep_arm(ts, ts->cfg.unprobe_after_ns);
	}
}

static void proc_slot_drop(struct tls_source *ts, struct tls_proc *pr, unsigned k)
{
	struct proc_lib *s = &pr->libs[k];
	struct tls_lib *l = &ts->libs[s->lib];

	if (s->links) {
		links_reap(ts, s->links);
		if (l->n_sets)
			l->n_sets--;
	}
	if (s->used)
		lib_unuse(ts, l);
	pr->libs[k] = pr->libs[--pr->n_libs];
}

/*
 * pr ran execve: the files of its old program lose a user, but its own probes of them stay
 * on (a perf event stays with its process through the exec, and the kernel's filter looks at
 * the new memory): a new program that maps the same file is covered from its loader on, with
 * no probe removed and put back. The files it does not map go when its rescans end.
 */
static void proc_unuse(struct tls_source *ts, struct tls_proc *pr)
{
	for (unsigned k = 0; k < pr->n_libs; k++)
		if (pr->libs[k].used) {
			pr->libs[k].used = false;
			lib_unuse(ts, &ts->libs[pr->libs[k].lib]);
		}
	pr->scanned_tls = false;
}

/* pr's program is replaced or gone: its files lose a user and their probes for it. */
static void proc_unref(struct tls_source *ts, struct tls_proc *pr)
{
	while (pr->n_libs)
		proc_slot_drop(ts, pr, pr->n_libs - 1);
	pr->scanned_tls = false;
}

/*
 * pr has just run execve: its loader maps its libraries next, and the program may do TLS
 * within milliseconds, before floe sees the library in its maps. So each shared library floe
 * has hooked gets pr's probes now, ahead: the kernel puts the breakpoints in at the mmap, when
 * the process maps that file. What it turns out not to map is dropped when its rescans end.
 */
static void proc_preprobe(struct tls_source *ts, struct tls_proc *pr)
{
	for (size_t i = 0; i < ts->n_libs && pr->n_libs < PROC_LIBS; i++) {
		struct tls_lib *l = &ts->libs[i];
		struct proc_lib *s;

		if (!l->shared || !l->hooked || l->failed || l->wide || proc_slot(ts, pr, l))
			continue;
		s = &pr->libs[pr->n_libs++];
		*s = (struct proc_lib){.lib = (uint32_t)i};
		proc_probe(ts, pr, s);
		if (!s->links)
			pr->n_libs--;
	}
}

/* The probes put ahead on files pr did not map (proc_preprobe) go. */
static void proc_drop_ahead(struct tls_source *ts, pid_t pid)
{
	struct tls_proc *pr = proc_find(ts, pid);

	for (unsigned k = pr ? pr->n_libs : 0; k-- > 0;)
		if (!pr->libs[k].used)
			proc_slot_drop(ts, pr, k);
}

static void proc_remove(struct tls_source *ts, size_t i)
{
	proc_unref(ts, &ts->procs[i]);
	ts->procs[i] = ts->procs[--ts->n_procs];
}

/* The blind: processes that use a file that could not be probed. */
static void blind_log(struct tls_source *ts, const struct tls_proc *pr, const char *nsname,
		      const struct tls_lib *l)
{
	if (l->kind == LIB_STATIC)
		fprintf(ts->cfg.log,
			"floe: tls: process %d (%s) of %s runs %s, which has TLS linked in that "
			"could not be probed: floe is blind to its TLS traffic\n",
			pr->pid, pr->comm, nsname, l->path);
	else if (l->kind == LIB_GO)
		fprintf(ts->cfg.log,
			"floe: tls: process %d (%s) of %s is the Go program %s, which could not "
			"be probed: floe is blind to its TLS traffic\n",
			pr->pid, pr->comm, nsname, l->path);
	else
		fprintf(ts->cfg.log,
			"floe: tls: process %d (%s) of %s uses %s, which could not be probed: "
			"floe is blind to its TLS traffic\n",
			pr->pid, pr->comm, nsname, l->path);
	ts->st.processes_failed++;
}

/*
 * Look at pid's mappings for TLS libraries and probe the ones not probed yet. Returns 1 when it
 * maps one, 0 when not (yet), -1 when pid is not a process of a tapped namespace.
 */
static int scan_pid(struct tls_source *ts, pid_t pid)
{
	uint32_t ns = pid_netns(ts, pid);
	const char *nsname = netns_name(ts, ns);
	struct tls_proc *pr;
	char p[64], line[PATH_MAX + 128], path[PATH_MAX];
	FILE *f;
	bool found = false, hooked = false;
	struct tls_lib *g;

	if (!ns || !nsname)
		return -1;
	pr = proc_find(ts, pid);
	if (!pr) {
		if (ts->n_procs == ts->cap_procs) {
			size_t cap = ts->cap_procs ? ts->cap_procs * 2 : 64;
			struct tls_proc *np = realloc(ts->procs, cap * sizeof(*np));

			if (!np)
				return -1;
			ts->procs = np;
			ts->cap_procs = cap;
		}
		pr = &ts->procs[ts->n_procs++];
		*pr = (struct tls_proc){.pid = pid, .netns = ns};
		ts->st.processes++;
	}
	if (pr->scanned_tls)
		return 1;
	read_comm(ts, pid, pr->comm, sizeof(pr->comm));
	snprintf(p, sizeof(p), "%s/%d/maps", ts->cfg.proc, pid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct tls_lib *l;

		if (!tls_maps_line_libssl(line, path, sizeof(path)))
			continue;
		found = true;
		l = lib_get(ts, pid, path);
		if (!l)
			continue;
		if (proc_ref(ts, pr, l) && l->failed)
			blind_log(ts, pr, nsname, l);
		hooked |= !l->failed;
	}
	fclose(f);
	/* A Go program, or a TLS library linked into the program itself. */
	g = exe_get(ts, pid);
	if (g) {
		found = true;
		if (proc_ref(ts, pr, g) && g->failed)
			blind_log(ts, pr, nsname, g);
		hooked |= !g->failed;
	}
	if (found) {
		pr->scanned_tls = true;
		if (hooked && !pr->counted_tls)
			ts->st.processes_tls++;
		pr->counted_tls |= hooked;
	}
	return found ? 1 : 0;
}

/* Every process of the namespace inode (0: of every tapped namespace). */
static void scan_all(struct tls_source *ts, uint32_t inode)
{
	DIR *d = opendir(ts->cfg.proc);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (inode && pid_netns(ts, (pid_t)pid) != inode)
			continue;
		scan_pid(ts, (pid_t)pid);
	}
	closedir(d);
}

/* ---- rescans after exec ---- */

static void rescan_arm(struct tls_source *ts)
{
	uint64_t due = UINT64_MAX, now = evloop_now_ns();

	for (size_t i = 0; i < ts->n_rescans; i++)
		if (ts->rescans[i].due_ns < due)
			due = ts->rescans[i].due_ns;
	if (ts->loop && ts->rescan_timer)
		evloop_timer_set(ts->loop, ts->rescan_timer,
				 due == UINT64_MAX ? 0 : (due > now ? due - now : 1), 0);
}

static void rescan_add(struct tls_source *ts, pid_t pid)
{
	struct rescan *nr = realloc(ts->rescans, (ts->n_rescans + 1) * sizeof(*nr));

	if (!nr)
		return;
	ts->rescans = nr;
	/* An exec replaces the program: what it maps now is to be looked at again. */
	for (size_t i = 0; i < ts->n_procs; i++)
		if (ts->procs[i].pid == pid)
			ts->procs[i].scanned_tls = false;
	ts->rescans[ts->n_rescans++] =
	    (struct rescan){.pid = pid, .due_ns = evloop_now_ns() + rescan_delays_ns[0]};
	rescan_arm(ts);
}

/*
 * A process of a tapped namespace ran execve: its new program is looked at now (a Go program
 * is all there at the exec, and a short one may be over before the first rescan), and again
 * after the delays when it does not map a TLS library yet (its loader maps them later).
 */
static void proc_exec(struct tls_source *ts, pid_t pid)
{
	struct tls_proc *pr = proc_find(ts, pid);
	int r;

	if (pr)
		proc_unuse(ts, pr); /* the old program's files */
	r = scan_pid(ts, pid);
	pr = proc_find(ts, pid);
	if (r == 0 && pr)
		proc_preprobe(ts, pr);
	if (r == 0)
		rescan_add(ts, pid);
	else
		proc_drop_ahead(ts, pid);
}

/*
 * A process of a tapped namespace forked child: the child inherited its parent's breakpoints
 * with its memory, but the kernel's filter (per process) does not cover it, so the first call
 * through each removes it. The child's maps are read now and its own probes attached (a
 * server's workers, forked without an exec, do the TLS).
 */
static void proc_fork(struct tls_source *ts, pid_t child)
{
	scan_pid(ts, child);
}

/*
 * A process of a tapped namespace maps a libssl* file executable (dlopen, or its loader): its
 * maps are read again now (the file's first segment is mapped before its code, so it is there
 * already), and after the rescan delays when it is not (yet). Files it used before stay counted.
 */
static void proc_mmap(struct tls_source *ts, pid_t pid, uint64_t seen_ns)
{
	struct tls_proc *pr = proc_find(ts, pid);
	int r;

	ts->st.mmaps++;
	if (pr)
		pr->scanned_tls = false;
	ts->mmap_seen_ns = seen_ns;
	ts->mmap_woke_ns = evloop_now_ns();
	ts->mmap_hooked_ns = 0;
	ts->mmap_window_due = false;
	r = scan_pid(ts, pid);
	ts->mmap_seen_ns = 0;
	ts->mmap_window_due = false;
	if (r == 0)
		rescan_add(ts, pid);
}

/*
 * A file lost its last known user a moment ago. Before its probes go, every process of the
 * tapped namespaces is looked at: processes forked since (a server's workers: no exec, so not
 * reported) are found and counted then, and processes that are gone without an exit record (the
 * ring was full) are forgotten. What still has no user is unprobed.
 */
static void on_sweep_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct tls_source *ts = ctx;
	uint64_t now = evloop_now_ns(), next = UINT64_MAX;
	char p[64];
	struct stat sb;

	ts->sweep_armed = false;
	for (size_t i = 0; i < ts->n_procs;) {
		snprintf(p, sizeof(p), "%s/%d", ts->cfg.proc, ts->procs[i].pid);
		if (stat(p, &sb) < 0 && errno == ENOENT)
			proc_remove(ts, i);
		else
			i++;
	}
	scan_all(ts, 0);
	for (size_t i = 0; i < ts->n_libs; i++) {
		struct tls_lib *lib = &ts->libs[i];

		if (!lib->hooked || lib->users)
			continue;
		if (now - lib->idle_since_ns < ts->cfg.unprobe_after_ns) {
			uint64_t due = lib->idle_since_ns + ts->cfg.unprobe_after_ns - now;

			next = due < next ? due : next;
			continue;
		}
		lib_unhook(ts, lib);
		ts->st.libs_unhooked++;
		fprintf(ts->cfg.log, "floe: tls: unhooked %s: no tapped process uses it\n",
			lib->path);
	}
	if (next != UINT64_MAX)
		sweep_arm(ts, next);
}

static void on_rescan_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct tls_source *ts = ctx;
	uint64_t now = evloop_now_ns();

	for (size_t i = 0; i < ts->n_rescans;) {
		struct rescan *r = &ts->rescans[i];

		if (r->due_ns > now) {
			i++;
			continue;
		}
		/* Found (or not a tapped process, or gone): done; else later, a few times. */
		if (scan_pid(ts, r->pid) == 0 && ++r->next < RESCANS) {
			r->due_ns = now + rescan_delays_ns[r->next] - rescan_delays_ns[r->next - 1];
			i++;
			continue;
		}
		proc_drop_ahead(ts, r->pid);
		ts->rescans[i] = ts->rescans[--ts->n_rescans];
	}
	rescan_arm(ts);
}

/* ---- the ring ---- */

static void proc_gone(struct tls_source *ts, pid_t pid)
{
	for (size_t i = 0; i < ts->n_procs; i++)
		if (ts->procs[i].pid == pid) {
			proc_remove(ts, i);
			return;
		}
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct tls_source *ts = ctx;
	struct tls_record_view v;
	uint64_t real;

	if (tls_record_check(data, size, &v) != TLS_RECORD_OK) {
		ts->st.bad_records++;
		return 0;
	}
	real = (uint64_t)((int64_t)((const struct floe_record_hdr *)data)->ts_ns +
			  ts->mono_to_real_ns);
	if (v.data) {
		tls_streams_data(ts->streams, v.data, v.bytes, real, &ts->sink);
		return 0;
	}
	switch (v.event->kind) {
	case FLOE_TLS_EV_CLOSE:
		tls_streams_close(ts->streams, v.event->pid, v.event->conn, real, &ts->sink);
		break;
	case FLOE_TLS_EV_EXEC:
		ts->st.execs++;
		proc_exec(ts, (pid_t)v.event->pid);
		break;
	case FLOE_TLS_EV_EXIT:
		tls_streams_close_pid(ts->streams, v.event->pid, real, &ts->sink);
		proc_gone(ts, (pid_t)v.event->pid);
		break;
	case FLOE_TLS_EV_FORK:
		proc_fork(ts, (pid_t)v.event->value);
		break;
	case FLOE_TLS_EV_MMAP:
		proc_mmap(ts, (pid_t)v.event->pid, v.event->hdr.ts_ns);
		break;
	case FLOE_TLS_EV_WRITE_DONE:
		tls_streams_write_done(ts->streams, v.event->pid, v.event->conn, v.event->value,
				       real, &ts->sink);
		break;
	}
	return 0;
}

static int drain(struct tls_source *ts)
{
	int n;

	if (ts->failed)
		return -ts->failed;
	n = ring_buffer__consume(ts->rb);
	if (n < 0) {
		ts->failed = -n;
		if (ts->sink.error)
			ts->sink.error(ts->sink.ctx, -n, "TLS ring buffer");
		evloop_del_fd(ts->loop, ts->ring_src);
		ts->ring_src = NULL;
		evloop_timer_set(ts->loop, ts->drain_timer, 0, 0);
	}
	return n;
}

/* Records come without wakeups (as packets do): drained on the packet source's cadence. */
static void drain_and_rearm(struct tls_source *ts, int woken)
{
	int n = drain(ts);

	if (n < 0)
		return;
	/* Go Writes whose count is late: the records behind them go on. */
	tls_streams_expire(ts->streams, (uint64_t)((int64_t)evloop_now_ns() + ts->mono_to_real_ns),
			   &ts->sink);
	ts->drain_gap_ns = drain_pace_next(ts->drain_gap_ns, n, woken, PACKET_SOURCE_DRAIN_MIN_NS,
					   PACKET_SOURCE_DRAIN_MAX_NS);
	evloop_timer_set(ts->loop, ts->drain_timer, ts->drain_gap_ns, 0);
}

static void on_ring_ready(struct evloop *l, int fd, unsigned int events, void *ctx)
{
	drain_and_rearm(ctx, 1);
}

static void on_drain_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	drain_and_rearm(ctx, 0);
}

static void on_clock_timer(struct evloop *l, struct evloop_timer *t, void *ctx)
{
	struct tls_source *ts = ctx;

	ts->mono_to_real_ns = clock_offset_mono_to_real();
}

static int tls_start(void *impl, struct evloop *loop, const struct byte_sink *sink, char *err,
		     size_t errlen)
{
	struct tls_source *ts = impl;
	int ret;

	ts->loop = loop;
	ts->sink = *sink;
	ts->mono_to_real_ns = clock_offset_mono_to_real();
	ret = evloop_add_fd(loop, ring_buffer__epoll_fd(ts->rb), EVLOOP_IN, on_ring_ready, ts,
			    &ts->ring_src);
	if (!ret)
		ret = evloop_add_timer(loop, CLOCK_REFRESH_NS, CLOCK_REFRESH_NS, on_clock_timer, ts,
				       &ts->clock);
	if (!ret)
		ret = evloop_add_timer(loop, 0, 0, on_rescan_timer, ts, &ts->rescan_timer);
	if (!ret)
		ret = evloop_add_timer(loop, 0, 0, on_sweep_timer, ts, &ts->sweep_timer);
	ts->drain_gap_ns = PACKET_SOURCE_DRAIN_MIN_NS;
	if (!ret)
		ret = evloop_add_timer(loop, ts->drain_gap_ns, 0, on_drain_timer, ts,
				       &ts->drain_timer);
	if (ret < 0)
		snprintf(err, errlen, "TLS ring buffer: cannot watch it: %s", strerror(-ret));
	else
		rescan_arm(ts);
	return ret;
}

static int tls_drain(void *impl)
{
	struct tls_source *ts = impl;
	int total = 0, n;

	while ((n = drain(ts)) > 0)
		total += n;
	return n < 0 ? n : total;
}

static void tls_free(void *impl)
{
	struct tls_source *ts = impl;

	if (!ts)
		return;
	if (ts->loop) {
		evloop_del_fd(ts->loop, ts->ring_src);
		evloop_del_timer(ts->loop, ts->clock);
		evloop_del_timer(ts->loop, ts->rescan_timer);
		evloop_del_timer(ts->loop, ts->drain_timer);
		evloop_del_timer(ts->loop, ts->sweep_timer);
	}
	for (size_t i = 0; i < ts->n_libs; i++)
		lib_unhook(ts, &ts->libs[i]);
	if (ts->reaper.started) { /* what it still has to remove, then it ends */
		pthread_mutex_lock(&ts->reaper.mu);
		ts->reaper.stop = true;
		pthread_cond_signal(&ts->reaper.cv);
		pthread_mutex_unlock(&ts->reaper.mu);
		pthread_join(ts->reaper.thread, NULL);
	}
	pthread_mutex_destroy(&ts->reaper.mu);
	pthread_cond_destroy(&ts->reaper.cv);
	/* Connections still open end here without a close chunk: the engine closes them at
	 * its finish (end of input). */
	tls_streams_free(ts->streams);
	ring_buffer__free(ts->rb);
	tls_bpf__destroy(ts->skel);
	free(ts->libs);
	free(ts->procs);
	free(ts->rescans);
	free(ts->netns);
	free(ts);
}

static const struct byte_source_ops tls_source_ops = {
    .name = "tls-uprobes",
    .start = tls_start,
    .drain = tls_drain,
    .free = tls_free,
};

/* The ring's size: a power of two of pages, as the kernel wants. */
static uint64_t ring_size(uint64_t want)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), n = page;

	while (n < want && n < (1ull << 30))
		n <<= 1;
	return n;
}

/*
 * How the uprobes go on (cfg.attach), decided before the programs load: a program loaded for
 * uprobe_multi links can be attached no other way. Probes per process stay perf uprobes.
 */
static int attach_kind(struct tls_source *ts, char *err, size_t errlen)
{
	struct bpf_program *p;
	bool can = ts->cfg.attach != TLS_ATTACH_PERF && !ts->cfg.pid_probes_max &&
		   uprobe_multi_supported();

	if (ts->cfg.attach == TLS_ATTACH_MULTI && !can) {
		snprintf(err, errlen, "TLS: --tls-attach multi: %s",
			 ts->cfg.pid_probes_max
			     ? "probes per process (--tls-pid-probes) are perf uprobes"
			     : "this kernel has no uprobe_multi links (Linux >= 6.6)");
		return -EOPNOTSUPP;
	}
	ts->multi = can;
	bpf_object__for_each_program(p, ts->skel->obj)
	{
		int ret;

		if (!can || bpf_program__type(p) != BPF_PROG_TYPE_KPROBE)
			continue;
		ret = uprobe_multi_prog_type(p);
		if (ret < 0) {
			snprintf(err, errlen, "TLS: %s: %s", bpf_program__name(p), strerror(-ret));
			return ret;
		}
	}
	fprintf(ts->cfg.log, "floe: tls: uprobes attached as %s\n",
		can ? "uprobe_multi links (one per program of a file)"
		    : "perf-event uprobes (one per probe point)");
	return 0;
}

int tls_source_new(const struct tls_source_config *cfg, struct byte_source *out,
		   struct tls_source **tsp, char *err, size_t errlen)
{
	struct tls_source *ts = calloc(1, sizeof(*ts));
	int ret;

	if (!ts)
		return -ENOMEM;
	ts->cfg = *cfg;
	if (!ts->cfg.ringbuf_bytes)
		ts->cfg.ringbuf_bytes = TLS_SOURCE_DEFAULT_RING;
	if (!ts->cfg.proc)
		ts->cfg.proc = "/proc";
	if (!ts->cfg.log)
		ts->cfg.log = stderr;
	pthread_mutex_init(&ts->reaper.mu, NULL);
	pthread_cond_init(&ts->reaper.cv, NULL);
	/* Only probes per process are removed on the thread (without it: on the loop). */
	if (ts->cfg.pid_probes_max)
		ts->reaper.started =
		    pthread_create(&ts->reaper.thread, NULL, reaper_main, &ts->reaper) == 0;
	ret = tls_streams_new(&ts->streams);
	if (ret < 0) {
		snprintf(err, errlen, "TLS: %s", strerror(-ret));
		goto fail;
	}
	ts->skel = tls_bpf__open();
	if (!ts->skel) {
		ret = -errno;
		snprintf(err, errlen, "TLS: cannot open BPF object: %s", strerror(-ret));
		goto fail;
	}
	/* No wakeup per record (microseconds per SSL call): drained on a timer, woken early
	 * once a quarter of the ring is waiting. */
	ts->skel->rodata->wakeup_bytes = ring_size(ts->cfg.ringbuf_bytes) / 4;
	ts->skel->rodata->skip_loopback_hops = ts->cfg.skip_loopback_hops;
	bpf_map__set_max_entries(ts->skel->maps.tls_events,
				 (__u32)ring_size(ts->cfg.ringbuf_bytes));
	ret = attach_kind(ts, err, errlen);
	if (ret < 0)
		goto fail;
	ret = tls_bpf__load(ts->skel);
	if (ret < 0) {
		snprintf(err, errlen,
			 "TLS: cannot load BPF programs: %s (set FLOE_BPF_DEBUG=1 for the verifier "
			 "log)",
			 strerror(-ret));
		goto fail;
	}
	/* The tracepoints only; the uprobes are attached per library file. */
	{
		struct bpf_program *tps[] = {
		    ts->skel->progs.floe_tls_sys_read,	   ts->skel->progs.floe_tls_sys_write,
		    ts->skel->progs.floe_tls_sys_recvfrom, ts->skel->progs.floe_tls_sys_sendto,
		    ts->skel->progs.floe_tls_sys_recvmsg,  ts->skel->progs.floe_tls_sys_sendmsg,
		    ts->skel->progs.floe_tls_sys_readv,	   ts->skel->progs.floe_tls_sys_writev,
		    ts->skel->progs.floe_tls_exec,	   ts->skel->progs.floe_tls_exit,
		    ts->skel->progs.floe_tls_sys_mmap,	   ts->skel->progs.floe_tls_fork,
		};
		struct bpf_link **links[] = {
		    &ts->skel->links.floe_tls_sys_read,	    &ts->skel->links.floe_tls_sys_write,
		    &ts->skel->links.floe_tls_sys_recvfrom, &ts->skel->links.floe_tls_sys_sendto,
		    &ts->skel->links.floe_tls_sys_recvmsg,  &ts->skel->links.floe_tls_sys_sendmsg,
		    &ts->skel->links.floe_tls_sys_readv,    &ts->skel->links.floe_tls_sys_writev,
		    &ts->skel->links.floe_tls_exec,	    &ts->skel->links.floe_tls_exit,
		    &ts->skel->links.floe_tls_sys_mmap,	    &ts->skel->links.floe_tls_fork,
		};

		for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
			/* Forks matter only to probes per process: a file's probes for all cover a
			 * child from its first instruction (the sweep counts it later). */
			if (tps[i] == ts->skel->progs.floe_tls_fork && !ts->cfg.pid_probes_max)
				continue;
			*links[i] = bpf_program__attach(tps[i]);
			if (!*links[i]) {
				ret = -errno;
				snprintf(err, errlen, "TLS: cannot attach %s: %s",
					 bpf_program__section_name(tps[i]), strerror(-ret));
				goto fail;
			}
		}
	}
	ts->rb = ring_buffer__new(bpf_map__fd(ts->skel->maps.tls_events), on_ring_record, ts, NULL);
	if (!ts->rb) {
		ret = -errno;
		snprintf(err, errlen, "TLS: cannot map the ring buffer: %s", strerror(-ret));
		goto fail;
	}
	out->ops = &tls_source_ops;
	out->impl = ts;
	*tsp = ts;
	return 0;
fail:
	tls_free(ts);
	return ret;
}

int tls_source_netns_add(struct tls_source *ts, uint32_t inode, const char *name,
			 const char *namespace)
{
	__u32 one = 1;
	void *nn;
	int ret;

	if (netns_name(ts, inode))
		return 0;
	nn = realloc(ts->netns, (ts->n_netns + 1) * sizeof(*ts->netns));
	if (!nn)
		return -ENOMEM;
	ts->netns = nn;
	ts->netns[ts->n_netns].inode = inode;
	snprintf(ts->netns[ts->n_netns].name, sizeof(ts->netns[0].name), "%s", name);
	snprintf(ts->netns[ts->n_netns].namespace, sizeof(ts->netns[0].namespace), "%s", namespace);
	ts->n_netns++;
	/* In the map first: a process that starts during the scan below is reported by exec. */
	ret = bpf_map__update_elem(ts->skel->maps.tls_netns, &inode, sizeof(inode), &one,
				   sizeof(one), BPF_ANY);
	if (ret < 0)
		return ret;
	scan_all(ts, inode);
	return 0;
}

void tls_source_netns_del(struct tls_source *ts, uint32_t inode)
{
	for (size_t i = 0; i < ts->n_netns; i++)
		if (ts->netns[i].inode == inode) {
			ts->netns[i] = ts->netns[--ts->n_netns];
			break;
		}
	bpf_map__delete_elem(ts->skel->maps.tls_netns, &inode, sizeof(inode), 0);
	for (size_t i = 0; i < ts->n_procs;)
		if (ts->procs[i].netns == inode)
			proc_remove(ts, i);
		else
			i++;
}

void tls_source_get_stats(struct tls_source *ts, struct tls_source_stats *out)
{
	uint64_t c[FLOE_TLS_CNT_MAX] = {};
	struct tls_streams_stats ss;

	capture_percpu_sum(ts->skel->maps.tls_counters, c, FLOE_TLS_CNT_MAX);
	ts->st.calls = c[FLOE_TLS_CNT_CALLS];
	ts->st.records = c[FLOE_TLS_CNT_RECORDS];
	ts->st.bytes = c[FLOE_TLS_CNT_BYTES];
	ts->st.cut = c[FLOE_TLS_CNT_CUT];
	ts->st.ringbuf_full = c[FLOE_TLS_CNT_RINGBUF_FULL];
	ts->st.read_failed = c[FLOE_TLS_CNT_READ_FAILED];
	ts->st.no_socket = c[FLOE_TLS_CNT_NO_SOCKET];
	ts->st.mesh_hops = c[FLOE_TLS_CNT_MESH_HOP];
	ts->st.go_morestack = c[FLOE_TLS_CNT_GO_MORESTACK];
	tls_streams_get_stats(ts->streams, &ss);
	ts->st.conns = ss.conns;
	ts->st.write_unsent = ss.write_unsent;
	ts->st.hold_timeouts = ss.hold_timeouts + ss.hold_overflows;
	ts->st.probes = 0;
	ts->st.attach_multi = ts->multi;
	ts->st.probe_pids = 0;
	ts->st.wide_files = 0;
	ts->st.probe_sites_emulated = ts->st.probe_sites_stepped = 0;
	for (size_t i = 0; i < ts->n_libs; i++)
		if (ts->libs[i].hooked) {
			ts->st.probe_sites_emulated += ts->libs[i].sites_emulated;
			ts->st.probe_sites_stepped += ts->libs[i].sites_stepped;
		}
	for (size_t i = 0; i < ts->n_libs; i++)
		if (ts->libs[i].wide) {
			ts->st.probes += ts->libs[i].n_pts;
			ts->st.wide_files++;
		}
	for (size_t i = 0; i < ts->n_procs; i++) {
		bool own = false;

		for (unsigned k = 0; k < ts->procs[i].n_libs; k++) {
			const struct proc_lib *s = &ts->procs[i].libs[k];

			if (s->links) {
				ts->st.probes += ts->libs[s->lib].n_pts;
				own = true;
			}
		}
		ts->st.probe_pids += own;
	}
	ts->st.files_seen = ts->n_seen;
	ts->st.blind = 0;
	for (size_t i = 0; i < ts->n_procs; i++)
		for (unsigned k = 0; k < ts->procs[i].n_libs; k++)
			ts->st.blind += ts->libs[ts->procs[i].libs[k].lib].failed;
	*out = ts->st;
}

char *tls_source_blind_json(struct tls_source *ts)
{
	json_t *a = json_array();
	size_t n = 0;
	char *out;

	if (!a)
		return NULL;
	for (size_t i = 0; i < ts->n_procs && n < TLS_SOURCE_BLIND_MAX; i++) {
		const struct tls_proc *pr = &ts->procs[i];

		for (unsigned k = 0; k < pr->n_libs && n < TLS_SOURCE_BLIND_MAX; k++) {
			const struct tls_lib *l = &ts->libs[pr->libs[k].lib];
			const char *pod = "", *ns = "";

			if (!l->failed)
				continue;
			for (size_t j = 0; j < ts->n_netns; j++)
				if (ts->netns[j].inode == pr->netns) {
					pod = ts->netns[j].name;
					ns = ts->netns[j].namespace;
				}
			if (json_array_append_new(
				a, json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "pod", pod,
					     "namespace", ns, "pid", (int)pr->pid, "process",
					     pr->comm, "library", l->path, "reason",
					     l->reason[0] ? l->reason : "could not be probed")) < 0)
				break;
			n++;
		}
	}
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}
