// SPDX-License-Identifier: Apache-2.0
#include "capture/sys_mounts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

static int ensure(const char *path, unsigned long magic, const char *fstype, char *err,
		  size_t errlen)
{
	struct statfs st;

	if (statfs(path, &st) == 0 && (unsigned long)st.f_type == magic)
		return 0;
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	if (mount(fstype, path, fstype, 0, NULL) < 0) {
		snprintf(err, errlen, "cannot mount %s at %s: %s", fstype, path, strerror(errno));
		return -errno;
	}
	return 0;
}

int sys_mounts_ensure(char *err, size_t errlen)
{
	int ret = ensure("/sys/fs/bpf", BPF_FS_MAGIC, "bpf", err, errlen);

	if (ret < 0)
		return ret;
	return ensure("/sys/kernel/tracing", TRACEFS_MAGIC, "tracefs", err, errlen);
}
