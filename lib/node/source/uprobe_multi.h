/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uprobe_multi: one BPF link that attaches one program at many offsets of one file (Linux >=
 * 6.6, BPF_TRACE_UPROBE_MULTI), with a cookie per offset, for one process or all, entries or
 * returns. Removing it waits for the kernel's grace period once, where one perf-event uprobe per
 * offset waits once each (docs/tls.md, "How probes are attached").
 *
 * The build's libbpf (Debian's 1.1.2) has no API for it and its <linux/bpf.h> (6.1) lacks the
 * attribute fields, so the BPF_LINK_CREATE attribute is laid out here and bpf(2) called
 * directly. The layout is the kernel's uapi (include/uapi/linux/bpf.h, union bpf_attr,
 * link_create.uprobe_multi, since 6.6; checked against the 6.18 vmlinux.h of vmlinux/x86):
 * the field offsets are asserted below, a stable ABI, written from it rather than copied.
 *
 *   uprobe_multi_prog_type(prog);          before load: the program can then only be attached so
 *   uprobe_multi_supported();              whether this kernel has it (probed once)
 *   fd = uprobe_multi_attach(prog_fd, path, offs, cookies, n, ret, pid);   -errno on failure
 *   close(fd);                             detached
 */
#ifndef FLOE_SOURCE_UPROBE_MULTI_H
#define FLOE_SOURCE_UPROBE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* enum bpf_attach_type, enum bpf_link_type's flag (uapi). */
#define FLOE_BPF_TRACE_UPROBE_MULTI    48
#define FLOE_BPF_F_UPROBE_MULTI_RETURN 1u
#define FLOE_BPF_LINK_CREATE	       28 /* enum bpf_cmd */

/* union bpf_attr for BPF_LINK_CREATE with attach_type BPF_TRACE_UPROBE_MULTI. */
struct floe_uprobe_multi_attr {
	uint32_t prog_fd;
	uint32_t target_fd; /* unused: 0 */
	uint32_t attach_type;
	uint32_t flags; /* link flags: 0 */
	uint64_t path;	/* const char * */
	uint64_t offsets;
	uint64_t ref_ctr_offsets; /* 0: none */
	uint64_t cookies;
	uint32_t cnt;
	uint32_t uprobe_flags; /* FLOE_BPF_F_UPROBE_MULTI_RETURN */
	uint32_t pid;	       /* 0: every process */
};

struct bpf_program;

/* prog, not loaded yet, becomes attachable by uprobe_multi_attach only (not as a perf uprobe). */
int uprobe_multi_prog_type(struct bpf_program *prog);

/* Whether the kernel attaches uprobe_multi links: a program of that kind is loaded and a link
 * asked for on "/", which such a kernel refuses with EBADF (not a regular file) and an older one
 * with EINVAL at the load. Probed once; the answer is kept. */
bool uprobe_multi_supported(void);

/* One link: the program prog_fd at the n offsets of the file path (cookies[i] for offsets[i];
 * cookies may be NULL), at their returns when ret, for process pid (<= 0: every process). The
 * link's fd, or -errno. */
int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, size_t n, bool ret, pid_t pid);

/* Points grouped for links: point i (of n) goes in the group of (keys[i], rets[i]); group[i] is
 * that group's index, groups numbered in order of first appearance. Returns the number of
 * groups (one link each). */
size_t uprobe_multi_group(const void *const *keys, const bool *rets, size_t n, uint32_t *group);

#endif /* FLOE_SOURCE_UPROBE_MULTI_H */
