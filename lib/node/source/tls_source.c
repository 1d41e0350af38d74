// SPDX-License-Identifier: Apache-2.0
#include "source/tls_source.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "source/clock_offset.h"
#include "source/drain_pace.h"
#include "source/go_elf.h"
#include "source/packet_source.h"
#include "source/tls_record.h"
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
	LIB_OPENSSL,
	LIB_GO,	  /* a Go program with crypto/tls */
	LIB_NONE, /* a program looked at that has no TLS floe reads (remembered, not re-read) */
};

/* A library or program file (by device and inode, whatever path or process it is seen
 * through). */
struct tls_lib {
	dev_t dev;
	ino_t ino;
	enum lib_kind kind;
	char path[PATH_MAX];
	struct bpf_link *links[N_PROBES];
	/* Go: Write, Read, Close and one per RET of Read */
	struct bpf_link *go_links[3 + GO_ELF_MAX_RETS];
	bool failed;
};

struct tls_proc {
	pid_t pid;
	uint32_t netns;
	bool scanned_tls; /* maps a TLS library (hooked or not) */
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
	struct evloop_timer *clock, *rescan_timer, *drain_timer;
	uint64_t drain_gap_ns;
	int64_t mono_to_real_ns;
	struct tls_lib *libs;
	size_t n_libs;
	struct tls_proc *procs;
	size_t n_procs, cap_procs;
	struct rescan *rescans;
	size_t n_rescans;
	struct {
		uint32_t inode;
		char name[64];
	} * netns;
	size_t n_netns;
	struct tls_source_stats st;
	int failed;
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

static void lib_detach(struct tls_lib *l)
{
	for (size_t i = 0; i < N_PROBES; i++) {
		bpf_link__destroy(l->links[i]);
		l->links[i] = NULL;
	}
	for (size_t i = 0; i < sizeof(l->go_links) / sizeof(l->go_links[0]); i++) {
		bpf_link__destroy(l->go_links[i]);
		l->go_links[i] = NULL;
	}
}

/* Probe the library file at path (as this process can open it). */
static void lib_attach(struct tls_source *ts, struct tls_lib *l, const char *open_path)
{
	for (size_t i = 0; i < N_PROBES; i++) {
		const struct probe_spec *p = &probe_specs[i];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = p->func, .retprobe = p->ret);
		struct bpf_link *link;

		link =
		    bpf_program__attach_uprobe_opts(probe_prog(ts->skel, p), -1, open_path, 0, &o);
		if (!link) {
			int err = errno;

			if (!p->required)
				continue;
			fprintf(ts->cfg.log,
				"floe: tls: %s: cannot probe %s%s: %s; its processes are "
				"not read in plaintext\n",
				l->path, p->func, p->ret ? " (return)" : "", strerror(err));
			lib_detach(l);
			l->failed = true;
			ts->st.libs_failed++;
			return;
		}
		l->links[i] = link;
	}
	ts->st.libs_hooked++;
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

/* Probe a Go program's crypto/tls (gi from go_elf) at open_path for every process. */
static void go_attach(struct tls_source *ts, struct tls_lib *l, const char *open_path,
		      const struct go_elf_info *gi)
{
	struct bpf_program *progs[3] = {ts->skel->progs.floe_go_write, ts->skel->progs.floe_go_read,
					ts->skel->progs.floe_go_close};
	uint64_t offs[3] = {gi->write_off, gi->read_off, gi->close_off};
	size_t n = 0;

	for (size_t i = 0; i < 3 + gi->n_read_rets; i++) {
		struct bpf_program *prog = i < 3 ? progs[i] : ts->skel->progs.floe_go_read_ret;
		uint64_t off = i < 3 ? offs[i] : gi->read_rets[i - 3];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = go_offsets_cookie());

		if (!off) /* Close is optional */
			continue;
		l->go_links[n] = bpf_program__attach_uprobe_opts(prog, -1, open_path, off, &o);
		if (!l->go_links[n]) {
			int err = errno;

			fprintf(ts->cfg.log,
				"floe: tls: %s (Go): cannot probe offset 0x%llx: %s; its processes "
				"are not read in plaintext\n",
				l->path, (unsigned long long)off, strerror(err));
			lib_detach(l);
			l->failed = true;
			ts->st.libs_failed++;
			return;
		}
		n++;
	}
	ts->st.libs_hooked++;
	fprintf(ts->cfg.log,
		"floe: tls: hooked %s (Go %s, crypto/tls from %s, %zu RETs of Read)%s\n", l->path,
		gi->version, gi->from_pclntab ? ".gopclntab (stripped)" : ".symtab",
		gi->n_read_rets,
		gi->major == 1 && gi->minor > GO_TABLE_MINOR_MAX
		    ? "; newer than the offsets table (go1.26): its go1.26 offsets are used"
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
	return l;
}

/*
 * pid's program, when it is a Go program with crypto/tls: found, or probed now. NULL when the
 * program is not one (or is gone). The file is opened through /proc/PID/exe, which also
 * works for a program in another mount namespace or deleted since.
 */
static struct tls_lib *go_exe_get(struct tls_source *ts, pid_t pid)
{
	char exe[64], path[PATH_MAX];
	struct go_elf_info gi;
	struct stat sb;
	struct tls_lib *l;
	ssize_t n;
	int fd, r;

	snprintf(exe, sizeof(exe), "%s/%d/exe", ts->cfg.proc, pid);
	if (stat(exe, &sb) < 0)
		return NULL;
	l = lib_find(ts, &sb);
	if (l)
		return l->kind == LIB_GO ? l : NULL;
	n = readlink(exe, path, sizeof(path) - 1);
	if (n < 0)
		return NULL;
	path[n] = 0;
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	r = go_elf_inspect_fd(fd, &gi);
	if (r == GO_ELF_NOT_ELF || r == GO_ELF_NOT_GO || r == GO_ELF_NO_TLS) {
		close(fd);
		lib_add(ts, &sb, path, LIB_NONE);
		return NULL;
	}
	l = lib_add(ts, &sb, path, LIB_GO);
	if (!l) {
		close(fd);
		return NULL;
	}
	if (r != GO_ELF_OK) {
		close(fd);
		fprintf(ts->cfg.log, "floe: tls: %s (Go %s) cannot be probed: %s\n", path,
			gi.version[0] ? gi.version : "of unknown version", go_elf_strerror(r));
		l->failed = true;
		ts->st.libs_failed++;
		return l;
	}
	/* Probed through the open file, not /proc/PID/exe: a process that exits meanwhile (a
	 * short client) must not leave its program unprobed for the next ones. */
	snprintf(exe, sizeof(exe), "/proc/self/fd/%d", fd);
	go_attach(ts, l, exe, &gi);
	close(fd);
	return l;
}

/* The library at path in pid's file system view: found, or probed now. */
static struct tls_lib *lib_get(struct tls_source *ts, pid_t pid, const char *path)
{
	char open_path[PATH_MAX + 64];
	struct stat sb;
	struct tls_lib *l;

	snprintf(open_path, sizeof(open_path), "%s/%d/root%s", ts->cfg.proc, pid, path);
	if (stat(open_path, &sb) < 0)
		return NULL;
	l = lib_find(ts, &sb);
	if (l)
		return l;
	l = lib_add(ts, &sb, path, LIB_OPENSSL);
	if (l)
		lib_attach(ts, l, open_path);
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
	int found = 0;

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
	snprintf(p, sizeof(p), "%s/%d/maps", ts->cfg.proc, pid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct tls_lib *l;
		char comm[32];

		if (!tls_maps_line_libssl(line, path, sizeof(path)))
			continue;
		found = 1;
		l = lib_get(ts, pid, path);
		if (l && !l->failed)
			continue;
		read_comm(ts, pid, comm, sizeof(comm));
		fprintf(ts->cfg.log,
			"floe: tls: process %d (%s) of %s uses %s, which could not be "
			"probed: floe is blind to its TLS traffic\n",
			pid, comm, nsname, path);
		ts->st.processes_failed++;
		found = 2;
		break;
	}
	fclose(f);
	/* A Go program: its TLS is in the program itself (statically linked). */
	if (found != 2) {
		struct tls_lib *g = go_exe_get(ts, pid);

		if (g && !g->failed) {
			found = 1;
		} else if (g) {
			char comm[32];

			read_comm(ts, pid, comm, sizeof(comm));
			fprintf(
			    ts->cfg.log,
			    "floe: tls: process %d (%s) of %s is the Go program %s, which could "
			    "not be probed: floe is blind to its TLS traffic\n",
			    pid, comm, nsname, g->path);
			ts->st.processes_failed++;
			found = 2;
		}
	}
	if (found) {
		pr->scanned_tls = true;
		if (found == 1)
			ts->st.processes_tls++;
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

	if (pr)
		pr->scanned_tls = false;
	if (scan_pid(ts, pid) == 0)
		rescan_add(ts, pid);
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
		ts->rescans[i] = ts->rescans[--ts->n_rescans];
	}
	rescan_arm(ts);
}

/* ---- the ring ---- */

static void proc_gone(struct tls_source *ts, pid_t pid)
{
	for (size_t i = 0; i < ts->n_procs; i++)
		if (ts->procs[i].pid == pid) {
			ts->procs[i] = ts->procs[--ts->n_procs];
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
	}
	for (size_t i = 0; i < ts->n_libs; i++)
		lib_detach(&ts->libs[i]);
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
	bpf_map__set_max_entries(ts->skel->maps.tls_events,
				 (__u32)ring_size(ts->cfg.ringbuf_bytes));
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
		};
		struct bpf_link **links[] = {
		    &ts->skel->links.floe_tls_sys_read,	    &ts->skel->links.floe_tls_sys_write,
		    &ts->skel->links.floe_tls_sys_recvfrom, &ts->skel->links.floe_tls_sys_sendto,
		    &ts->skel->links.floe_tls_sys_recvmsg,  &ts->skel->links.floe_tls_sys_sendmsg,
		    &ts->skel->links.floe_tls_sys_readv,    &ts->skel->links.floe_tls_sys_writev,
		    &ts->skel->links.floe_tls_exec,	    &ts->skel->links.floe_tls_exit,
		};

		for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
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

int tls_source_netns_add(struct tls_source *ts, uint32_t inode, const char *name)
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
			ts->procs[i] = ts->procs[--ts->n_procs];
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
	tls_streams_get_stats(ts->streams, &ss);
	ts->st.conns = ss.conns;
	*out = ts->st;
}
