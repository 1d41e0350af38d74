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
#include <jansson.h>

#include "capture/capture.h"
#include "source/clock_offset.h"
#include "source/drain_pace.h"
#include "source/go_elf.h"
#include "source/packet_source.h"
#include "source/probe_site.h"
#include "source/tls_exe.h"
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
	struct bpf_link *links[N_PROBES];
	/* A return probed where the function returns (probe_site.h) rather than by a
	 * uretprobe: one link per return site. */
	struct bpf_link *ret_links[N_PROBES][PROBE_SITE_MAX_RETS];
	/* Its probe sites the kernel emulates and those it single-steps (probe_site.h). */
	unsigned sites_emulated, sites_stepped;
	/* Go: Write, Read, Close and one per RET of Read and of Write */
	struct bpf_link *go_links[3 + 2 * GO_ELF_MAX_RETS];
	bool failed;
	bool attached;		/* its probes are in place now */
	unsigned users;		/* known processes of tapped namespaces that map or run it */
	uint64_t idle_since_ns; /* when users fell to 0 */
	char reason[160];	/* failed: why, for the blind list */
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
	uint32_t libs[PROC_LIBS]; /* indexes in tls_source.libs (the array only grows) */
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
	l->attached = false;
	for (size_t i = 0; i < N_PROBES; i++) {
		bpf_link__destroy(l->links[i]);
		l->links[i] = NULL;
		for (size_t k = 0; k < PROBE_SITE_MAX_RETS; k++) {
			bpf_link__destroy(l->ret_links[i][k]);
			l->ret_links[i][k] = NULL;
		}
	}
	l->sites_emulated = l->sites_stepped = 0;
	for (size_t i = 0; i < sizeof(l->go_links) / sizeof(l->go_links[0]); i++) {
		bpf_link__destroy(l->go_links[i]);
		l->go_links[i] = NULL;
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
}

/* Attach spec i's program at off (a uretprobe when ret); NULL with errno on failure. */
static struct bpf_link *attach_at(struct tls_source *ts, const struct probe_spec *p, bool ret,
				  const char *open_path, uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret);

	return bpf_program__attach_uprobe_opts(probe_prog(ts->skel, p), -1, open_path, off, &o);
}

/* Probe the library file at path (as this process can open it). */
static void lib_attach(struct tls_source *ts, struct tls_lib *l, const char *open_path)
{
	const char *names[N_PROBES];
	uint64_t offs[N_PROBES], sizes[N_PROBES];
	struct probe_plan plans[N_PROBES];
	int ret, fd;

	/* The symbols' offsets in one read of the file (not one per probe). */
	for (size_t i = 0; i < N_PROBES; i++)
		names[i] = probe_specs[i].func;
	ret = tls_exe_func_offsets(open_path, names, N_PROBES, offs, sizes);
	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	plan_sites(ts, fd, offs, sizes, plans);
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < N_PROBES; i++) {
		const struct probe_spec *p = &probe_specs[i];
		const struct probe_plan *pl = &plans[i];
		struct bpf_link *link = NULL;
		int err = ret < 0 ? -ret : ENOENT;
		unsigned emu, step;

		if (offs[i] && p->ret && !pl->ret_at_entry) {
			/* The return, at each place the function returns. */
			size_t k;

			for (k = 0; k < pl->n_rets; k++) {
				l->ret_links[i][k] = attach_at(ts, p, false, open_path, pl->rets[k]);
				if (!l->ret_links[i][k]) {
					err = errno;
					break;
				}
			}
			if (k == pl->n_rets)
				continue;
			/* Some of its returns unprobed would lose those calls: none then. */
			while (k-- > 0) {
				bpf_link__destroy(l->ret_links[i][k]);
				l->ret_links[i][k] = NULL;
			}
		} else if (offs[i]) {
			link = attach_at(ts, p, p->ret, open_path, pl->entry);
			err = errno;
		}
		if (!link) {
			if (!p->required)
				continue;
			/* The process it was seen through is gone (a short client): not a fault
			 * of the file; probed when the next process maps it. */
			if (access(open_path, F_OK) < 0) {
				lib_detach(l);
				return;
			}
			snprintf(l->reason, sizeof(l->reason), "cannot probe %s%s: %s", p->func,
				 p->ret ? " (return)" : "", strerror(err));
			fprintf(ts->cfg.log,
				"floe: tls: %s: %s; its processes are not read in plaintext\n",
				l->path, l->reason);
			lib_detach(l);
			l->failed = true;
			ts->st.libs_failed++;
			return;
		}
		if (!p->ret) {
			probe_plan_costs(pl, spec_has_ret(i), &emu, &step);
			l->sites_emulated += emu;
			l->sites_stepped += step;
		}
		l->links[i] = link;
	}
	l->attached = true;
	ts->st.libs_hooked++;
	fprintf(ts->cfg.log, "floe: tls: hooked %s\n", l->path);
	if (ts->mmap_seen_ns) {
		uint64_t d = evloop_now_ns() - ts->mmap_seen_ns;

		ts->st.dlopen_probe_us = d / 1000;
		fprintf(ts->cfg.log,
			"floe: tls: %s probed %.1f ms after a process mapped it (its calls before "
			"that are not read)\n",
			l->path, (double)d / 1e6);
	}
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
	const uint64_t sizes[2] = {gi->write_size, gi->read_size};
	size_t n = 0;
	int fd = ts->cfg.probe_first_insn ? -1 : open(open_path, O_RDONLY | O_CLOEXEC);
	unsigned emulated = 0;

	size_t nr = gi->n_read_rets;

	/* Write's and Read's entries past the stack check (probe_site.h): its jbe is emulated,
	 * the cmp before it is not; the arguments and R14 (g) are untouched up to there. */
	for (size_t i = 0; i < 2 && fd >= 0; i++) {
		struct probe_plan pl;
		uint8_t *code = sizes[i] && sizes[i] <= (64u << 10) ? malloc(sizes[i]) : NULL;

		if (code && pread(fd, code, sizes[i], (off_t)offs[i]) == (ssize_t)sizes[i] &&
		    probe_site_plan(code, sizes[i], offs[i],
				    PROBE_REG_RAX | PROBE_REG_RBX | PROBE_REG_RCX | PROBE_REG_R14,
				    PROBE_REG_RAX | PROBE_REG_R14, false, &pl) == 0) {
			offs[i] = pl.entry;
			emulated += pl.entry_emulated;
		}
		free(code);
	}
	if (fd >= 0)
		close(fd);

	for (size_t i = 0; i < 3 + nr + gi->n_write_rets; i++) {
		struct bpf_program *prog = i < 3	? progs[i]
					   : i < 3 + nr ? ts->skel->progs.floe_go_read_ret
							: ts->skel->progs.floe_go_write_ret;
		uint64_t off = i < 3	    ? offs[i]
			       : i < 3 + nr ? gi->read_rets[i - 3]
					    : gi->write_rets[i - 3 - nr];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = go_offsets_cookie());

		if (!off) /* Close is optional */
			continue;
		l->go_links[n] = bpf_program__attach_uprobe_opts(prog, -1, open_path, off, &o);
		if (!l->go_links[n]) {
			int err = errno;

			snprintf(l->reason, sizeof(l->reason), "Go: cannot probe offset 0x%llx: %s",
				 (unsigned long long)off, strerror(err));
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
	/* The RETs and Close's entry are single-stepped (a Go function's first instruction
	 * is its stack check's cmp). */
	l->sites_emulated = emulated;
	l->sites_stepped = (unsigned)n - emulated;
	l->attached = true;
	ts->st.libs_hooked++;
	fprintf(
	    ts->cfg.log,
	    "floe: tls: hooked %s (Go %s, crypto/tls from %s, %zu RETs of Read, %zu of Write)%s\n",
	    l->path, gi->version, gi->from_pclntab ? ".gopclntab (stripped)" : ".symtab",
	    gi->n_read_rets, gi->n_write_rets,
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
	char open_path[64];

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
	snprintf(open_path, sizeof(open_path), "/proc/self/fd/%d", fd);
	go_attach(ts, l, open_path, gi);
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
	if (l && (l->failed || l->attached))
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
		snprintf(exe, sizeof(exe), "/proc/self/fd/%d", fd);
		lib_attach(ts, l, exe);
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

	snprintf(open_path, sizeof(open_path), "%s/%d/root%s", ts->cfg.proc, pid, path);
	if (stat(open_path, &sb) < 0)
		return NULL;
	l = lib_find(ts, &sb);
	/* Known; probed again when its probes were removed (no user for a while). */
	if (l && l->kind == LIB_OPENSSL && !l->failed && !l->attached)
		lib_attach(ts, l, open_path);
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

/* ---- which process uses which file: probes removed when none does ---- */

static void sweep_arm(struct tls_source *ts, uint64_t delay_ns)
{
	if (ts->sweep_armed || !ts->loop || !ts->sweep_timer)
		return;
	ts->sweep_armed = true;
	evloop_timer_set(ts->loop, ts->sweep_timer,
			 delay_ns > UNPROBE_SWEEP_NS ? delay_ns : UNPROBE_SWEEP_NS, 0);
}

/* pr uses l: counted once. Returns true when it is new. */
static bool proc_ref(struct tls_source *ts, struct tls_proc *pr, const struct tls_lib *l)
{
	uint32_t idx = (uint32_t)(l - ts->libs);

	for (unsigned i = 0; i < pr->n_libs; i++)
		if (pr->libs[i] == idx)
			return false;
	if (pr->n_libs == PROC_LIBS)
		return false; /* more TLS libraries than that in one process: not counted */
	pr->libs[pr->n_libs++] = idx;
	ts->libs[idx].users++;
	return true;
}

/* pr's program is replaced or gone: its files lose a user; the last one's probes go after a
 * sweep (sweep_arm). */
static void proc_unref(struct tls_source *ts, struct tls_proc *pr)
{
	for (unsigned i = 0; i < pr->n_libs; i++) {
		struct tls_lib *l = &ts->libs[pr->libs[i]];

		if (l->users && --l->users == 0 && l->attached) {
			l->idle_since_ns = evloop_now_ns();
			sweep_arm(ts, ts->cfg.unprobe_after_ns);
		}
	}
	pr->n_libs = 0;
	pr->scanned_tls = false;
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

	if (pr)
		proc_unref(ts, pr); /* the old program's files */
	if (scan_pid(ts, pid) == 0)
		rescan_add(ts, pid);
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
	r = scan_pid(ts, pid);
	ts->mmap_seen_ns = 0;
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

		if (!lib->attached || lib->users)
			continue;
		if (now - lib->idle_since_ns < ts->cfg.unprobe_after_ns) {
			uint64_t due = lib->idle_since_ns + ts->cfg.unprobe_after_ns - now;

			next = due < next ? due : next;
			continue;
		}
		lib_detach(lib);
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
	ts->skel->rodata->skip_loopback_hops = ts->cfg.skip_loopback_hops;
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
		    ts->skel->progs.floe_tls_sys_mmap,
		};
		struct bpf_link **links[] = {
		    &ts->skel->links.floe_tls_sys_read,	    &ts->skel->links.floe_tls_sys_write,
		    &ts->skel->links.floe_tls_sys_recvfrom, &ts->skel->links.floe_tls_sys_sendto,
		    &ts->skel->links.floe_tls_sys_recvmsg,  &ts->skel->links.floe_tls_sys_sendmsg,
		    &ts->skel->links.floe_tls_sys_readv,    &ts->skel->links.floe_tls_sys_writev,
		    &ts->skel->links.floe_tls_exec,	    &ts->skel->links.floe_tls_exit,
		    &ts->skel->links.floe_tls_sys_mmap,
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
	tls_streams_get_stats(ts->streams, &ss);
	ts->st.conns = ss.conns;
	ts->st.write_unsent = ss.write_unsent;
	ts->st.hold_timeouts = ss.hold_timeouts + ss.hold_overflows;
	ts->st.probes = 0;
	ts->st.probe_sites_emulated = ts->st.probe_sites_stepped = 0;
	for (size_t i = 0; i < ts->n_libs; i++) {
		const struct tls_lib *l = &ts->libs[i];

		for (size_t k = 0; k < N_PROBES; k++) {
			ts->st.probes += l->links[k] != NULL;
			for (size_t r = 0; r < PROBE_SITE_MAX_RETS; r++)
				ts->st.probes += l->ret_links[k][r] != NULL;
		}
		for (size_t k = 0; k < sizeof(l->go_links) / sizeof(l->go_links[0]); k++)
			ts->st.probes += l->go_links[k] != NULL;
		if (l->attached) {
			ts->st.probe_sites_emulated += l->sites_emulated;
			ts->st.probe_sites_stepped += l->sites_stepped;
		}
	}
	ts->st.files_seen = ts->n_seen;
	ts->st.blind = 0;
	for (size_t i = 0; i < ts->n_procs; i++)
		for (unsigned k = 0; k < ts->procs[i].n_libs; k++)
			ts->st.blind += ts->libs[ts->procs[i].libs[k]].failed;
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
			const struct tls_lib *l = &ts->libs[pr->libs[k]];
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
