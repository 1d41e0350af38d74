/* SPDX-License-Identifier: Apache-2.0 */
/* sys_mounts: make sure bpffs and tracefs are mounted where BPF tooling expects them. */
#ifndef FLOE_SYS_MOUNTS_H
#define FLOE_SYS_MOUNTS_H

#include <stddef.h>

/* Mount bpffs at /sys/fs/bpf and tracefs at /sys/kernel/tracing when they are missing.
 * Returns 0, or a negative errno with a message (callers may go on: nothing pinned yet). */
int sys_mounts_ensure(char *err, size_t errlen);

#endif
