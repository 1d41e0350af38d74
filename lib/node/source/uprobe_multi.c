// SPDX-License-Identifier: Apache-2.0
#include "source/uprobe_multi.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The uapi's offsets (union bpf_attr, link_create): a layout that does not match is a build
 * error, not a kernel's EINVAL. */
_Static_assert(offsetof(struct floe_uprobe_multi_attr, attach_type) == 8, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, path) == 16, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, offsets) == 24, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, ref_ctr_offsets) == 32, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, cookies) == 40, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, cnt) == 48, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, uprobe_flags) == 52, "uapi");
_Static_assert(offsetof(struct floe_uprobe_multi_attr, pid) == 56, "uapi");

int uprobe_multi_prog_type(struct bpf_program *prog)
{
	return bpf_program__set_expected_attach_type(prog, FLOE_BPF_TRACE_UPROBE_MULTI);
}

int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, size_t n, bool ret, pid_t pid)
{
	struct floe_uprobe_multi_attr a;
	long fd;

	if (!n || n > UINT32_MAX)
		return -EINVAL;
	memset(&a, 0, sizeof(a)); /* the kernel wants the unused bytes zero */
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = FLOE_BPF_TRACE_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)offsets;
	a.cookies = (uint64_t)(uintptr_t)cookies;
	a.cnt = (uint32_t)n;
	a.uprobe_flags = ret ? FLOE_BPF_F_UPROBE_MULTI_RETURN : 0;
	a.pid = pid > 0 ? (uint32_t)pid : 0;
	fd = syscall(__NR_bpf, FLOE_BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}

static int probe_kernel(void)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
	    {.code = 0xb7, .dst_reg = 0, .imm = 0},
	    {.code = 0x95},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = FLOE_BPF_TRACE_UPROBE_MULTI);
	const uint64_t off = 0;
	int prog, link, ok;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "floe_um_probe", "GPL", insns, 2, &o);
	if (prog < 0)
		return 0; /* the attach type is unknown to this kernel */
	link = uprobe_multi_attach(prog, "/", &off, NULL, 1, false, 0);
	ok = link == -EBADF;
	if (link >= 0)
		close(link);
	close(prog);
	return ok;
}

bool uprobe_multi_supported(void)
{
	static int known = -1; /* the loop's thread only */

	if (known < 0)
		known = probe_kernel();
	return known;
}

size_t uprobe_multi_group(const void *const *keys, const bool *rets, size_t n, uint32_t *group)
{
	size_t groups = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < i && (keys[k] != keys[i] || rets[k] != rets[i]))
			k++;
		group[i] = k < i ? group[k] : (uint32_t)groups++;
	}
	return groups;
}
