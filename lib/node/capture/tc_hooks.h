/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tc_hooks: attach floe's TC programs (clsact ingress + egress) to interfaces, detach them,
 * and clean up what a crashed earlier run left behind.
 *
 * floe's filters are recognised by a fixed handle and priority (FLOE_TC_HANDLE/PRIO) and by
 * the name of the attached program (prefix "floe_tc_"). A state file per network namespace
 * (/run/floe/tc-hooks.<netns inode>) lists the interfaces where floe created the clsact qdisc,
 * so the next start can remove those qdiscs too. Only one tap may run per network namespace:
 * tc_hooks_lock() takes that lock before any clean-up, so a running tap is never disturbed.
 */
#ifndef FLOE_TC_HOOKS_H
#define FLOE_TC_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#define FLOE_TC_HANDLE 0xf10e
#define FLOE_TC_PRIO 0xf10e
#define FLOE_TC_PROG_PREFIX "floe_tc_"

struct tc_hooks;

struct tc_hooks_cleanup_stats {
	unsigned filters_removed;
	unsigned qdiscs_removed;
};

/*
 * Take the per-netns lock (state_dir is normally "/run/floe"), then remove every floe filter
 * left on any interface of this netns and the clsact qdiscs a crashed run had created.
 * Returns 0 or negative errno (-EBUSY: another tap runs in this netns) with a message.
 */
int tc_hooks_open(const char *state_dir, struct tc_hooks **out,
		  struct tc_hooks_cleanup_stats *cleaned, char *err, size_t errlen);

/* Attach ingress_fd and egress_fd at ifindex's clsact. */
int tc_hooks_attach(struct tc_hooks *h, int ifindex, int ingress_fd, int egress_fd, char *err,
		    size_t errlen);

/*
 * Detach from one interface (it may already be gone). A clsact qdisc floe created there stays
 * until tc_hooks_close: removing it would drop the packets in flight on the interface.
 */
void tc_hooks_detach(struct tc_hooks *h, int ifindex);

/* Interfaces hooked now. */
size_t tc_hooks_count(const struct tc_hooks *h);

/* Detach everything, remove the qdiscs floe created (of interfaces still there), drop the
 * state file and the lock. */
void tc_hooks_close(struct tc_hooks *h);

#endif /* FLOE_TC_HOOKS_H */
