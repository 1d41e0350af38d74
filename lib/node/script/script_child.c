// SPDX-License-Identifier: Apache-2.0
/* A script's runner process, from floe's side (script_child.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "script/script_child.h"

/* The process's address space beyond the script heap: the runner's code, libc, Duktape's
 * own structures outside the heap budget, the frames in flight. */
#define AS_SLACK (128ull << 20)

void script_runner_path(char *buf, size_t len)
{
	const char *env = getenv("FLOE_SCRIPT_RUNNER");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(buf, len, "floe-script");
		return;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, len, "%s/floe-script", self);
}

/* Why the runner went: reaped here (SIGKILL first when it has not gone by itself soon). */
static void reap(struct script_child *c, const struct script_limits *lim, bool kill_first,
		 char *err, size_t errlen)
{
	int status = 0;
	pid_t r = 0;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->pid <= 0)
		return;
	if (!kill_first) {
		/* it closed its end: it is exiting; give it 500 ms */
		for (int i = 0; i < 100 && (r = waitpid(c->pid, &status, WNOHANG)) == 0; i++) {
			struct timespec ts = {0, 5000000};

			nanosleep(&ts, NULL);
		}
	}
	if (r == 0 || kill_first) {
		kill(c->pid, SIGKILL);
		r = waitpid(c->pid, &status, 0);
	}
	c->pid = 0;
	if (!err || kill_first)
		return;
	if (r > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
		snprintf(err, errlen, "CPU time limit of %u ms per call exceeded: runner killed",
			 lim->cpu_ms);
	else if (r > 0 && WIFSIGNALED(status))
		snprintf(err, errlen, "runner killed by signal %d (%s; memory limit %llu bytes)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)),
			 (unsigned long long)lim->memory);
	else if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 4)
		snprintf(err, errlen,
			 "fatal error in the JavaScript engine (memory limit %llu bytes): runner "
			 "ended",
			 (unsigned long long)lim->memory);
	else if (r > 0 && WIFEXITED(status))
		snprintf(err, errlen, "runner exited with status %d", WEXITSTATUS(status));
	else
		snprintf(err, errlen, "runner lost");
}

void script_child_stop(struct script_child *c)
{
	reap(c, NULL, true, NULL, 0);
}

static int spawn(const char *runner, const struct script_limits *lim, struct script_child *c,
		 char *err, size_t errlen)
{
	int sv[2];
	char mem[32], cpu[32];
	pid_t pid;
	int devnull;
	struct rlimit as = {lim->memory + AS_SLACK, lim->memory + AS_SLACK};
	struct rlimit core = {0, 0};

	c->pid = 0;
	c->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)lim->memory);
	snprintf(cpu, sizeof(cpu), "%u", lim->cpu_ms);
	pid = fork();
	if (pid == 0) {
		/* only async-signal-safe calls until exec: the parent has threads */
		char *const argv[] = {(char *)runner, "--memory", mem, "--cpu-ms", cpu, NULL};
		bool debug = getenv("FLOE_SCRIPT_DEBUG") != NULL;

		if (dup2(sv[1], 3) < 0 || devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(devnull, 1) < 0 || (!debug && dup2(devnull, 2) < 0))
			_exit(127);
		syscall(SYS_close_range, 4, ~0u, 0);
		setrlimit(RLIMIT_AS, &as);
		setrlimit(RLIMIT_CORE, &core);
		execv(runner, argv);
		_exit(127);
	}
	close(sv[1]);
	if (devnull >= 0)
		close(devnull);
	if (pid < 0) {
		close(sv[0]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	c->pid = pid;
	c->fd = sv[0];
	return 0;
}

/* Read messages until done/error; helper messages go to fn. */
static enum script_call_result wait_end(struct script_child *c, const struct script_limits *lim,
					script_helper_fn fn, void *arg, struct script_msg *ready,
					char *err, size_t errlen)
{
	int budget_ms = (int)lim->cpu_ms * 4 + 2000;
	struct timespec t0, t1;
	size_t helpers = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct script_msg m;
		char *buf, perr[256];
		size_t len;
		int left, ret;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = budget_ms -
		       (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			left = 0;
		ret = script_frame_read(c->fd, left, &buf, &len);
		if (ret == -ETIMEDOUT) {
			reap(c, lim, true, NULL, 0);
			snprintf(err, errlen, "no answer within %d ms: runner killed", budget_ms);
			return SCRIPT_CALL_DIED;
		}
		if (ret) {
			reap(c, lim, ret != -EPIPE, err, errlen);
			if (ret != -EPIPE)
				snprintf(err, errlen, "reading the runner: %s", strerror(-ret));
			return SCRIPT_CALL_DIED;
		}
		ret = script_msg_parse(buf, len, &m, perr, sizeof(perr));
		free(buf);
		if (ret) {
			reap(c, lim, true, NULL, 0);
			snprintf(err, errlen, "runner broke the protocol (%s): killed", perr);
			return SCRIPT_CALL_DIED;
		}
		switch (m.type) {
		case SCRIPT_MSG_DONE:
			script_msg_free(&m);
			return SCRIPT_CALL_OK;
		case SCRIPT_MSG_ERROR:
			snprintf(err, errlen, "%s", m.text);
			script_msg_free(&m);
			return SCRIPT_CALL_ERROR;
		case SCRIPT_MSG_READY:
			if (ready) {
				*ready = m;
				return SCRIPT_CALL_OK;
			}
			script_msg_free(&m);
			reap(c, lim, true, NULL, 0);
			snprintf(err, errlen,
				 "runner broke the protocol (ready in a call): killed");
			return SCRIPT_CALL_DIED;
		default:
			if (++helpers > SCRIPT_HELPER_MAX) {
				script_msg_free(&m);
				reap(c, lim, true, NULL, 0);
				snprintf(err, errlen,
					 "more than %d helper calls in one call: runner killed",
					 SCRIPT_HELPER_MAX);
				return SCRIPT_CALL_DIED;
			}
			if (fn)
				fn(&m, arg);
			script_msg_free(&m);
		}
	}
}

enum script_call_result script_child_start(const char *runner, const struct script_limits *lim,
					   const char *file, const char *src, size_t len,
					   struct script_child *c, struct script_msg *ready,
					   char *err, size_t errlen)
{
	json_t *load = json_pack("{s:s,s:s,s:s%}", "t", "load", "file", file, "source", src, len);
	char *js = load ? json_dumps(load, JSON_COMPACT) : NULL;
	enum script_call_result r;
	int ret;

	json_decref(load);
	memset(ready, 0, sizeof(*ready));
	if (!js) {
		snprintf(err, errlen, "%s: cannot encode the source (not UTF-8?)", file);
		return SCRIPT_CALL_ERROR;
	}
	if (spawn(runner, lim, c, err, errlen)) {
		free(js);
		return SCRIPT_CALL_DIED;
	}
	ret = script_frame_write(c->fd, NULL, js, strlen(js), NULL);
	free(js);
	if (ret) {
		reap(c, lim, false, err, errlen);
		if (ret != -EPIPE)
			snprintf(err, errlen, "writing to the runner: %s", strerror(-ret));
		else if (strstr(err, "status 127"))
			snprintf(err, errlen, "cannot run the script runner %s", runner);
		return SCRIPT_CALL_DIED;
	}
	r = wait_end(c, lim, NULL, NULL, ready, err, errlen);
	if (r == SCRIPT_CALL_OK && ready->type != SCRIPT_MSG_READY) {
		/* "done" instead of "ready" */
		script_msg_free(ready);
		r = SCRIPT_CALL_DIED;
		snprintf(err, errlen, "runner broke the protocol (no ready)");
	}
	if (r != SCRIPT_CALL_OK)
		script_child_stop(c);
	if (r == SCRIPT_CALL_DIED && strstr(err, "status 127"))
		snprintf(err, errlen, "cannot run the script runner %s", runner);
	return r;
}

enum script_call_result script_child_call(struct script_child *c, const struct script_limits *lim,
					  const char *head, const char *buf, size_t len,
					  const char *tail, script_helper_fn fn, void *arg,
					  char *err, size_t errlen)
{
	int ret;

	if (c->pid <= 0) {
		snprintf(err, errlen, "runner not running");
		return SCRIPT_CALL_DIED;
	}
	ret = script_frame_write(c->fd, head, buf, len, tail);
	if (ret == -EMSGSIZE) {
		snprintf(err, errlen, "message over %u bytes not sent", SCRIPT_FRAME_MAX);
		return SCRIPT_CALL_ERROR;
	}
	if (ret) {
		reap(c, lim, false, err, errlen);
		return SCRIPT_CALL_DIED;
	}
	return wait_end(c, lim, fn, arg, NULL, err, errlen);
}
