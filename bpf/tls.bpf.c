// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls: plaintext of TLS connections read at the library's API (OpenSSL's SSL_read/SSL_write
 * and their _ex forms), with the connection's 5-tuple, without kprobes or fentry (docs/tls.md).
 *
 * Uprobes are attached once per library file for every process (pid -1); each program's first
 * lines look the calling task's network namespace up in `tls_netns` and return at once for
 * anything not tapped. For a tapped process:
 *
 *   uprobe SSL_read/SSL_write(_ex)   remembers (SSL *, buffer, length pointer) by thread;
 *   uprobe SSL_do_handshake          the same without a buffer (only the fd is wanted);
 *   tracepoints sys_enter_{read,write,recvfrom,sendto,recvmsg,sendmsg,readv,writev}
 *                                    while a thread is inside such a call, the fd it does I/O
 *                                    on is the connection's socket: fd -> struct file ->
 *                                    struct socket -> struct sock (CO-RE reads from the task),
 *                                    whose endpoints are kept per (tgid, SSL *) in `tls_conns`;
 *   uretprobe SSL_read/SSL_write(_ex) the bytes the call returned are copied from the process
 *                                    into ring records (up to FLOE_TLS_MAX_CHUNKS of
 *                                    FLOE_TLS_MAX_DATA bytes; the rest counted as cut);
 *   uprobe SSL_set_connect_state/SSL_set_accept_state  which end the process is;
 *   uprobe SSL_free                  the connection's end (an event record);
 *   tracepoint sched_process_exec    a new program in a tapped namespace: userspace looks at
 *                                    its mappings for TLS libraries not probed yet;
 *   tracepoint sched_process_exit    the process's last thread: its connections end;
 *   tracepoint sys_enter_mmap        a tapped process maps a libssl* file executable (dlopen,
 *                                    or its loader): userspace looks at its mappings again.
 *
 * A read served from the library's own buffer makes no syscall: the endpoints learnt earlier
 * for the same SSL * are used.
 *
 * Go's crypto/tls (statically linked, its own ABI) has its own probes below (floe_go_*): they
 * find the socket through the *tls.Conn itself and feed the same records.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "floe_record.h"

#define AF_INET	       2
#define AF_INET6       10
#define SOCK_STREAM    1
#define CALL_HANDSHAKE 2 /* a struct call's dir besides enum floe_tls_dir */

/* Wake the consumer when this many bytes are waiting (0: wake for every record). */
const volatile __u64 wakeup_bytes = 0;
/* --servicemesh: a connection whose two ends are loopback addresses (an app and its sidecar
 * in one pod) is not recorded: the sidecar's mTLS connection carries the same requests with
 * the pods' real endpoints (docs/tls.md, "Service meshes"). */
const volatile __u8 skip_loopback_hops = 0;

/* Network namespaces (inode numbers) of tapped pods: value unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} tls_netns SEC(".maps");

/* A thread inside a probed call. */
struct call {
	__u64 ssl;
	__u64 buf;
	__u64 outlen; /* _ex forms: where the library writes the byte count */
	__u32 dir;    /* enum floe_tls_dir or CALL_HANDSHAKE */
	__u16 ex;
	__u16 learn; /* the connection's socket is not known yet: counted in fd_learners */
};

/*
 * Threads inside a probed call whose connection's socket is not known yet. The syscall
 * tracepoints run for every syscall of every process on the host; while this is 0 (a
 * connection's socket is learnt once, at its handshake) they return after this one load,
 * without a map lookup. A thread that dies inside a call, or an entry the LRU map drops,
 * leaves it above 0: the tracepoints then do their lookup as before, nothing is missed.
 */
__u64 fd_learners = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct call);
} tls_calls SEC(".maps");

struct conn_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

/* What is known of one SSL * of one process. */
struct conn_val {
	__u8 role;
	__u8 family;
	__u8 data_seen;
	__u8 pad;
	__u16 local_port, remote_port;
	__s32 fd;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_val);
} tls_conns SEC(".maps");

struct scratch {
	struct floe_tls_record rec;
	/* + 8: the verifier's bound of the rounded-up length passes FLOE_TLS_MAX_DATA by 7 */
	__u8 data[FLOE_TLS_MAX_DATA + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} tls_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOE_TLS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tls_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by the loader */
} tls_events SEC(".maps");

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&tls_counters, &idx);

	if (v)
		*v += n;
}

static __always_inline __u32 task_netns(struct task_struct *task)
{
	/* Direct loads through the BTF pointer (the verifier makes them fault-safe): cheaper
	 * than a helper call per hop, and this runs first in every program. */
	return task->nsproxy->net_ns->ns.inum;
}

/* The first lines of every program: is the calling process in a tapped namespace? */
static __always_inline bool tapped(__u32 *netns)
{
	__u32 ns = task_netns(bpf_get_current_task_btf());

	if (netns)
		*netns = ns;
	return bpf_map_lookup_elem(&tls_netns, &ns) != NULL;
}

static __always_inline __u64 wake_flag(void)
{
	if (wakeup_bytes == 0 || bpf_ringbuf_query(&tls_events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline int enter(__u64 ssl, __u64 buf, __u64 outlen, __u32 dir, __u16 ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {.ssl = ssl, .buf = buf, .outlen = outlen, .dir = dir, .ex = ex}, *old;
	struct conn_key k = {.tgid = id >> 32, .ssl = ssl};
	struct conn_val *v;

	if (!tapped(NULL))
		return 0;
	/* The socket is learnt once per connection (its handshake's I/O); later calls need
	 * no syscall tracing. */
	v = bpf_map_lookup_elem(&tls_conns, &k);
	c.learn = !v || !v->family;
	old = bpf_map_lookup_elem(&tls_calls, &id);
	if (old && old->learn)
		__sync_fetch_and_add(&fd_learners, -1);
	if (c.learn)
		__sync_fetch_and_add(&fd_learners, 1);
	bpf_map_update_elem(&tls_calls, &id, &c, BPF_ANY);
	return 0;
}

/* The struct file behind fd in the current task (NULL: none). */
static __always_inline struct file *file_of_fd(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/* The socket behind fd in the current task, its endpoints into v. 0 when it is a TCP socket. */
static __always_inline int sock_of_fd(int fd, struct conn_val *v)
{
	struct file *f = file_of_fd(fd);
	struct socket *so;
	struct sock *sk;
	__u16 family;

	if (!f)
		return -1;
	/* Any file's private_data is read; it is a socket when the socket points back. */
	so = BPF_CORE_READ(f, private_data);
	if (!so || BPF_CORE_READ(so, file) != f || BPF_CORE_READ(so, type) != SOCK_STREAM)
		return -1;
	sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return -1;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memset(v->local_addr, 0, 16);
		__builtin_memset(v->remote_addr, 0, 16);
		v->local_addr[10] = v->local_addr[11] = 0xff;
		v->remote_addr[10] = v->remote_addr[11] = 0xff;
		__builtin_memcpy(&v->local_addr[12], &l, 4);
		__builtin_memcpy(&v->remote_addr[12], &r, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&v->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&v->remote_addr, sk, __sk_common.skc_v6_daddr);
	} else {
		return -1;
	}
	v->family = (__u8)family;
	v->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	v->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	v->fd = fd;
	return 0;
}

/* A syscall on fd by a thread inside a probed call: learn the connection's socket. */
static __always_inline int on_io(long fd)
{
	__u64 id;
	struct call *c;
	struct conn_key k = {};
	struct conn_val nv = {}, *v;

	/* Nobody is learning a socket: every other process's syscall ends here. */
	if (!*(volatile __u64 *)&fd_learners)
		return 0;
	id = bpf_get_current_pid_tgid();
	c = bpf_map_lookup_elem(&tls_calls, &id);
	if (!c || !c->learn)
		return 0;
	if (sock_of_fd((int)fd, &nv))
		return 0;
	k.tgid = id >> 32;
	k.ssl = c->ssl;
	v = bpf_map_lookup_elem(&tls_conns, &k);
	if (v) {
		nv.role = v->role;
		nv.data_seen = v->data_seen;
	}
	bpf_map_update_elem(&tls_conns, &k, &nv, BPF_ANY);
	c->learn = 0;
	__sync_fetch_and_add(&fd_learners, -1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int floe_tls_sys_read(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_write")
int floe_tls_sys_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int floe_tls_sys_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int floe_tls_sys_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int floe_tls_sys_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int floe_tls_sys_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int floe_tls_sys_readv(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int floe_tls_sys_writev(struct trace_event_raw_sys_enter *ctx)
{
	return on_io((long)ctx->args[0]);
}

/* An address of 127.0.0.0/8 (as ::ffff:127.x.y.z) or ::1. */
static __always_inline bool loopback_addr(const __u8 a[16])
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	if (hi)
		return false;
	/* little-endian words: bytes 8..11 = 00 00 ff ff, byte 12 = 127; or 0...01 */
	return ((lo & 0xffffffffull) == 0xffff0000ull && a[12] == 127) ||
	       lo == 0x0100000000000000ull;
}

/* The call returned n bytes (n > 0): copy them into records (flags: FLOE_TLS_F_*). Returns
 * how many records went into the ring. */
static __always_inline __u32 emit_data(const struct call *c, __u64 id, __u64 n, __u8 flags)
{
	struct conn_key k = {.tgid = id >> 32, .ssl = c->ssl};
	struct conn_val nv = {}, *v = bpf_map_lookup_elem(&tls_conns, &k);
	__u32 zero = 0, netns = task_netns(bpf_get_current_task_btf());
	struct scratch *s = bpf_map_lookup_elem(&tls_scratch, &zero);
	__u64 kept = 0;
	__u32 recs = 0;

	count(FLOE_TLS_CNT_CALLS, 1);
	if (!v) {
		/* Not seen in a syscall yet: remembered for SSL_free (its close). */
		nv.data_seen = 1;
		nv.fd = -1;
		bpf_map_update_elem(&tls_conns, &k, &nv, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&tls_conns, &k);
	}
	if (!s || !v)
		return 0;
	if (skip_loopback_hops && v->family && loopback_addr(v->local_addr) &&
	    loopback_addr(v->remote_addr)) {
		count(FLOE_TLS_CNT_MESH_HOP, 1);
		return 0;
	}
	v->data_seen = 1;
	if (!v->family)
		count(FLOE_TLS_CNT_NO_SOCKET, 1);
	s->rec.hdr.type = FLOE_RECORD_TLS_DATA;
	s->rec.conn = c->ssl;
	s->rec.pid = id >> 32;
	s->rec.tid = (__u32)id;
	s->rec.netns = netns;
	s->rec.data_len = n > 0xffffffffull ? 0xffffffffu : (__u32)n;
	s->rec.dir = (__u8)c->dir;
	s->rec.role = v->role;
	s->rec.family = v->family;
	s->rec.flags = flags;
	s->rec.local_port = v->local_port;
	s->rec.remote_port = v->remote_port;
	__builtin_memcpy(s->rec.local_addr, v->local_addr, 16);
	__builtin_memcpy(s->rec.remote_addr, v->remote_addr, 16);
	bpf_get_current_comm(s->rec.comm, sizeof(s->rec.comm));

	for (__u32 i = 0; i < FLOE_TLS_MAX_CHUNKS; i++) {
		__u64 off = (__u64)i * FLOE_TLS_MAX_DATA, left, size;
		__u32 len;

		if (off >= n)
			break;
		left = n - off;
		len = left > FLOE_TLS_MAX_DATA ? FLOE_TLS_MAX_DATA : (__u32)left;
		/* A bound the verifier follows: 1 .. FLOE_TLS_MAX_DATA. */
		len = ((len - 1) & (FLOE_TLS_MAX_DATA - 1)) + 1;
		if (bpf_probe_read_user(s->data, len, (const void *)(c->buf + off))) {
			count(FLOE_TLS_CNT_READ_FAILED, len);
			break;
		}
		size = sizeof(s->rec) + (((__u64)len + 7) & ~7ull);
		s->rec.hdr.size = (__u32)size;
		s->rec.hdr.ts_ns = bpf_ktime_get_ns();
		s->rec.call_off = (__u32)off;
		s->rec.cap_len = len;
		if (bpf_ringbuf_output(&tls_events, s, size, wake_flag())) {
			count(FLOE_TLS_CNT_RINGBUF_FULL, 1);
			break;
		}
		count(FLOE_TLS_CNT_RECORDS, 1);
		count(FLOE_TLS_CNT_BYTES, len);
		kept += len;
		recs++;
	}
	if (n > kept)
		count(FLOE_TLS_CNT_CUT, n - kept);
	return recs;
}

/* ret: the function's int return value (the upper half of the register is not part of it). */
static __always_inline int leave(int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), n = 0;
	struct call *p = bpf_map_lookup_elem(&tls_calls, &id);
	struct call c;

	if (!p)
		return 0;
	c = *p;
	bpf_map_delete_elem(&tls_calls, &id);
	if (c.learn)
		__sync_fetch_and_add(&fd_learners, -1);
	if (c.dir == CALL_HANDSHAKE)
		return 0;
	if (c.ex) {
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (const void *)c.outlen))
			return 0;
	} else {
		if (ret <= 0)
			return 0;
		n = (__u64)(__u32)ret;
	}
	if (n)
		emit_data(&c, id, n, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_read, void *ssl, void *buf, int num)
{
	return enter((__u64)ssl, (__u64)buf, 0, FLOE_TLS_READ, 0);
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_write, void *ssl, const void *buf, int num)
{
	return enter((__u64)ssl, (__u64)buf, 0, FLOE_TLS_WRITE, 0);
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return enter((__u64)ssl, (__u64)buf, (__u64)readbytes, FLOE_TLS_READ, 1);
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return enter((__u64)ssl, (__u64)buf, (__u64)written, FLOE_TLS_WRITE, 1);
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_do_handshake, void *ssl)
{
	return enter((__u64)ssl, 0, 0, CALL_HANDSHAKE, 0);
}

/* One return program for all of them: the thread's call says what it was. */
SEC("uretprobe")
int BPF_KRETPROBE(floe_ssl_ret, long rax)
{
	return leave((int)rax);
}

static __always_inline int set_role(__u64 ssl, __u8 role)
{
	struct conn_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = ssl};
	struct conn_val nv = {.role = role, .fd = -1}, *v;

	if (!tapped(NULL))
		return 0;
	v = bpf_map_lookup_elem(&tls_conns, &k);
	if (v)
		v->role = role;
	else
		bpf_map_update_elem(&tls_conns, &k, &nv, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_set_connect_state, void *ssl)
{
	return set_role((__u64)ssl, FLOE_TLS_ROLE_CLIENT);
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_set_accept_state, void *ssl)
{
	return set_role((__u64)ssl, FLOE_TLS_ROLE_SERVER);
}

static __always_inline void emit_event(__u32 kind, __u64 conn, __u32 netns, __u64 value)
{
	struct floe_tls_event *ev;
	__u64 id = bpf_get_current_pid_tgid();

	ev = bpf_ringbuf_reserve(&tls_events, sizeof(*ev), 0);
	if (!ev) {
		count(FLOE_TLS_CNT_RINGBUF_FULL, 1);
		return;
	}
	ev->hdr.type = FLOE_RECORD_TLS_EVENT;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ts_ns = bpf_ktime_get_ns();
	ev->conn = conn;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->netns = netns;
	ev->kind = kind;
	ev->value = value;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	/* An exec or a libssl mapped wakes floe at once: a static program (Go) can be probed
	 * before a short process is over, a library before its first calls if floe is quick. */
	bpf_ringbuf_submit(ev, kind == FLOE_TLS_EV_EXEC || kind == FLOE_TLS_EV_MMAP ||
				       kind == FLOE_TLS_EV_FORK
				   ? BPF_RB_FORCE_WAKEUP
				   : wake_flag());
	count(FLOE_TLS_CNT_EVENTS, 1);
}

/* The connection conn (SSL * or Go *tls.Conn) of the calling process ends. */
static __always_inline int conn_end(__u64 conn)
{
	struct conn_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = conn};
	struct conn_val *v;
	__u32 netns;

	if (!tapped(&netns))
		return 0;
	v = bpf_map_lookup_elem(&tls_conns, &k);
	if (!v)
		return 0;
	if (v->data_seen)
		emit_event(FLOE_TLS_EV_CLOSE, conn, netns, 0);
	bpf_map_delete_elem(&tls_conns, &k);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(floe_ssl_free, void *ssl)
{
	return conn_end((__u64)ssl);
}

/*
 * Go crypto/tls (Go >= 1.17 on x86-64: the register ABI). The probes are attached by
 * tls_source.c at the functions' stack check (below: go_to_morestack) and at each of their RET
 * instructions (no uretprobes: they rewrite the return address on the goroutine's stack, which
 * Go may move or copy). Arguments: RAX the *tls.Conn receiver, RBX the slice's data pointer,
 * RCX its length; results: RAX the byte count n. R14 is the running goroutine (g), which stays
 * the same across the thread switches of a Read that blocks, so a Read's entry and return meet
 * in go_calls keyed by (tgid, g).
 *
 * The socket behind a *tls.Conn: tls.Conn.conn (a net.Conn interface: itab, data pointer) ->
 * *net.TCPConn -> its *netFD -> poll.FD.Sysfd, then the same fd -> socket walk as OpenSSL's.
 * The four field offsets come in the attach cookie, one byte each (GO_OFF_*), from the table
 * per Go version in tls_source.c. x86-64 only (pt_regs' names). Under a net.Conn that is not
 * a *net.TCPConn the walk reads something else: sock_of_fd refuses what is not a TCP socket of
 * the calling process (the records then have no endpoints), but a number that happens to be
 * one of its TCP sockets would give that socket's endpoints.
 */
#define GO_OFF_CONN   0 /* tls.Conn.conn (the interface) */
#define GO_OFF_CLIENT 1 /* tls.Conn.isClient */
#define GO_OFF_NETFD  2 /* net.TCPConn (net.conn).fd */
#define GO_OFF_SYSFD  3 /* net.netFD.pfd.Sysfd */
#define GO_OFF(c, i)  (((c) >> (8 * (i))) & 0xff)

/*
 * A call bound for runtime.morestack. Write's and Read's entry probes sit before their stack
 * check's jbe (on it, or on the first instruction). When the goroutine's stack must grow (or
 * it is asked to yield), the jbe goes to runtime.morestack, which enters the function again
 * from its start: the probe would see that call twice (Write's bytes recorded twice). So the
 * probe skips the pass whose jbe will be taken; the next pass is the call. The cookie says how
 * to tell (FLOE_GO_COOKIE_* in floe_record.h; tls_source.c, from the function's code):
 *   FLOE_GO_ENTRY_JBE    on the jbe: its cmp's flags are in the trap's pt_regs; jbe is taken when
 *                   CF or ZF is set (the compared stack pointer <= the guard, unsigned);
 *   FLOE_GO_ENTRY_FIRST  on the first instruction (--tls-probe-sites first): the cmp has not
 *                   run, so the check is done here: rsp - SP_BELOW <= *(g + GUARD).
 *                   Another thread may set the guard (a preemption request) between this read
 *                   and the cmp: that call is then read twice, as before;
 *   FLOE_GO_ENTRY_NONE   the check was not recognised: no test (a growing call is read twice).
 */
#define X86_FLAGS_CF (1u << 0)
#define X86_FLAGS_ZF (1u << 6)

static __always_inline bool go_to_morestack(struct pt_regs *ctx, __u64 cookie)
{
	__u64 guard, guard_off = (cookie >> FLOE_GO_COOKIE_GUARD) & 0xff;

	switch ((cookie >> FLOE_GO_COOKIE_MODE) & 0xff) {
	case FLOE_GO_ENTRY_JBE:
		return ctx->flags & (X86_FLAGS_CF | X86_FLAGS_ZF);
	case FLOE_GO_ENTRY_FIRST:
		if (bpf_probe_read_user(&guard, 8, (const void *)(ctx->r14 + guard_off)))
			return false;
		return ctx->sp - ((cookie >> FLOE_GO_COOKIE_SP_BELOW) & 0xffff) <= guard;
	default:
		return false;
	}
}

struct go_key {
	__u32 tgid;
	__u32 pad;
	__u64 g;
};

struct go_call {
	__u64 conn;
	__u64 buf;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* What the *tls.Conn says of its socket and role, into tls_conns (once it is known). */
static __always_inline void go_conn_learn(__u64 conn, __u64 cookie)
{
	struct conn_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = conn};
	struct conn_val nv = {.fd = -1}, *v = bpf_map_lookup_elem(&tls_conns, &k);
	__u64 tcp = 0, netfd = 0;
	__s64 fd = -1;
	__u8 is_client = 0;

	if (v && v->family)
		return;
	bpf_probe_read_user(&is_client, 1, (const void *)(conn + GO_OFF(cookie, GO_OFF_CLIENT)));
	nv.role = is_client ? FLOE_TLS_ROLE_CLIENT : FLOE_TLS_ROLE_SERVER;
	if (!bpf_probe_read_user(&tcp, 8, (const void *)(conn + GO_OFF(cookie, GO_OFF_CONN) + 8)) &&
	    tcp &&
	    !bpf_probe_read_user(&netfd, 8, (const void *)(tcp + GO_OFF(cookie, GO_OFF_NETFD))) &&
	    netfd &&
	    !bpf_probe_read_user(&fd, 8, (const void *)(netfd + GO_OFF(cookie, GO_OFF_SYSFD))) &&
	    fd >= 0 && fd < 0x7fffffff)
		sock_of_fd((int)fd, &nv);
	if (v)
		nv.data_seen = v->data_seen;
	bpf_map_update_elem(&tls_conns, &k, &nv, BPF_ANY);
}

/* Go Writes whose bytes were taken at the entry, by (tgid, g), until a RET of Write. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, __u64); /* the *tls.Conn */
} go_writes SEC(".maps");

/*
 * Write: the slice is taken at the entry (the causal order: a response read on another
 * goroutine may return before this Write does), marked pending; at a RET of Write the count
 * it returned follows as an event, and tls_record.c holds the connection's chunks back until
 * then and cuts the Write to what was written (a failed Write: to nothing).
 */
SEC("uprobe")
int floe_go_write(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {.ssl = ctx->ax, .buf = ctx->bx, .dir = FLOE_TLS_WRITE};
	struct go_key k = {.tgid = id >> 32, .g = ctx->r14};
	__s64 len = (__s64)ctx->cx;
	__u64 cookie = bpf_get_attach_cookie(ctx);

	if (!tapped(NULL) || len <= 0)
		return 0;
	if (go_to_morestack(ctx, cookie)) {
		count(FLOE_TLS_CNT_GO_MORESTACK, 1);
		return 0;
	}
	go_conn_learn(c.ssl, cookie);
	if (emit_data(&c, id, (__u64)len, FLOE_TLS_F_PENDING))
		bpf_map_update_elem(&go_writes, &k, &c.ssl, BPF_ANY);
	return 0;
}

/* At a RET of Write: RAX is n (RBX the error). Only Writes recorded at their entry. */
SEC("uprobe")
int floe_go_write_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), conn, *p;
	struct go_key k = {.tgid = id >> 32, .g = ctx->r14};
	__s64 n = (__s64)ctx->ax;

	p = bpf_map_lookup_elem(&go_writes, &k);
	if (!p)
		return 0;
	conn = *p;
	bpf_map_delete_elem(&go_writes, &k);
	emit_event(FLOE_TLS_EV_WRITE_DONE, conn, task_netns(bpf_get_current_task_btf()),
		   n > 0 ? (__u64)n : 0);
	return 0;
}

SEC("uprobe")
int floe_go_read(struct pt_regs *ctx)
{
	struct go_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .g = ctx->r14};
	struct go_call c = {.conn = ctx->ax, .buf = ctx->bx};
	__u64 cookie = bpf_get_attach_cookie(ctx);

	/* The pass bound for morestack is skipped too: its buffer pointer, if on the stack, is
	 * the old stack's; the next pass has the moved one. */
	if (!tapped(NULL))
		return 0;
	if (go_to_morestack(ctx, cookie)) {
		count(FLOE_TLS_CNT_GO_MORESTACK, 1);
		return 0;
	}
	go_conn_learn(c.conn, cookie);
	bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY);
	return 0;
}

/* At a RET of Read: RAX is n. Other processes' Reads find nothing in go_calls. */
SEC("uprobe")
int floe_go_read_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = {.tgid = id >> 32, .g = ctx->r14};
	struct go_call *p = bpf_map_lookup_elem(&go_calls, &k);
	struct call c = {.dir = FLOE_TLS_READ};
	__s64 n = (__s64)ctx->ax;

	if (!p)
		return 0;
	c.ssl = p->conn;
	c.buf = p->buf;
	bpf_map_delete_elem(&go_calls, &k);
	if (n > 0)
		emit_data(&c, id, (__u64)n, 0);
	return 0;
}

SEC("uprobe")
int floe_go_close(struct pt_regs *ctx)
{
	return conn_end(ctx->ax);
}

SEC("tracepoint/sched/sched_process_exec")
int floe_tls_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 netns;

	if (tapped(&netns))
		emit_event(FLOE_TLS_EV_EXEC, 0, netns, 0);
	return 0;
}

/*
 * A new process (not a thread) forked by a process of a tapped namespace. floe probes libraries
 * per process (docs/tls.md, "Which processes pay"): the child inherits its parent's breakpoints
 * with its memory, but the kernel's filter does not know it, so its first call through one
 * removes it. floe attaches the child's own probes when told (a server's workers forked without
 * an exec). The raw tracepoint gives the child's task, whose pid and tgid tell a thread apart.
 */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(floe_tls_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 netns, pid = BPF_CORE_READ(child, pid);

	if (pid != (__u32)BPF_CORE_READ(child, tgid))
		return 0;
	if (tapped(&netns))
		emit_event(FLOE_TLS_EV_FORK, 0, netns, pid);
	return 0;
}

#define PROT_EXEC 0x4

/*
 * mmap(..., PROT_EXEC, ..., fd, ...) of a file whose name starts with "libssl.so" by a tapped
 * process: a library loaded now (dlopen after the start, or the loader at the start). The
 * loader maps a library's first (read-only) segment before its code, so when this code segment
 * is mapped the file is already in /proc/PID/maps for userspace to find. Other mmaps return
 * after the prot test, other files after one name read.
 */
SEC("tracepoint/syscalls/sys_enter_mmap")
int floe_tls_sys_mmap(struct trace_event_raw_sys_enter *ctx)
{
	long prot = (long)ctx->args[2], fd = (long)ctx->args[4];
	static const char want[9] = "libssl.so";
	char name[10] = {};
	const unsigned char *dname;
	struct file *f;
	__u32 netns;

	if (!(prot & PROT_EXEC) || fd < 0 || fd > 0x7fffffff)
		return 0;
	if (!tapped(&netns))
		return 0;
	f = file_of_fd((int)fd);
	if (!f)
		return 0;
	dname = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(name, sizeof(name), dname) < 10)
		return 0;
	for (int i = 0; i < 9; i++)
		if (name[i] != want[i])
			return 0;
	emit_event(FLOE_TLS_EV_MMAP, 0, netns, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int floe_tls_exit(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 netns;

	/* The whole process: its last thread (the group's live count falls to 0 before this). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (tapped(&netns))
		emit_event(FLOE_TLS_EV_EXIT, 0, netns, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
