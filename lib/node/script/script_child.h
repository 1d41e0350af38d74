/* SPDX-License-Identifier: Apache-2.0 */
/*
 * script_child: one script's sandboxed runner process (build/floe-script, runner/floe_script.c)
 * seen from floe: started with its limits, fed calls, watched, killed.
 *
 *   script_child_start(runner, &lim, "a.js", src, len, &c, &ready, err)   fork+exec, load
 *   script_child_call(&c, &lim, head, json, len, tail, on_helper, arg, err) one hook call
 *   script_child_stop(&c)
 *
 * A call waits for the runner's "done" or "error", handing each helper message (log, webhook,
 * metric, snapshot) to on_helper on the way. The runner ends itself when a call uses more than
 * lim.cpu_ms of CPU time (SIGXCPU); floe kills it when a call takes longer than four times that
 * plus two seconds of wall time (a runner stopped or starved), when it breaks the protocol, or when
 * it sends more than SCRIPT_HELPER_MAX helper messages in one call.
 */
#ifndef FLOE_SCRIPT_CHILD_H
#define FLOE_SCRIPT_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "script/script_proto.h"

#define SCRIPT_HELPER_MAX 10000

struct script_limits {
	uint32_t cpu_ms; /* CPU time per call (and for the script's first run) */
	uint64_t memory; /* bytes of the script's heap; the process gets 128 MiB more */
};

struct script_child {
	pid_t pid; /* 0: none */
	int fd;
};

enum script_call_result {
	SCRIPT_CALL_OK,	   /* done */
	SCRIPT_CALL_ERROR, /* the script threw: err holds "FILE:LINE: TEXT"; the runner lives */
	SCRIPT_CALL_DIED,  /* the runner is gone (limit, crash, protocol): err says why */
};

/* Where the runner is: $FLOE_SCRIPT_RUNNER, else floe-script beside this executable. */
void script_runner_path(char *buf, size_t len);

/*
 * Start a runner and load the script. Returns SCRIPT_CALL_OK with *ready (free it), or
 * SCRIPT_CALL_ERROR (the script does not load: err names file and line; the runner is
 * stopped) or SCRIPT_CALL_DIED.
 */
enum script_call_result script_child_start(const char *runner, const struct script_limits *lim,
					   const char *file, const char *src, size_t len,
					   struct script_child *c, struct script_msg *ready,
					   char *err, size_t errlen);

typedef void (*script_helper_fn)(const struct script_msg *m, void *arg);

/* One call: the frame head + buf + tail (script_frame_write). */
enum script_call_result script_child_call(struct script_child *c, const struct script_limits *lim,
					  const char *head, const char *buf, size_t len,
					  const char *tail, script_helper_fn fn, void *arg,
					  char *err, size_t errlen);

/* Close, kill, reap. Safe on a stopped child. */
void script_child_stop(struct script_child *c);

#endif /* FLOE_SCRIPT_CHILD_H */
