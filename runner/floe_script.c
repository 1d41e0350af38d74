// SPDX-License-Identifier: Apache-2.0
/*
 * floe-script: runs one user script (JavaScript, Duktape) for floe's scripting service
 * (lib/node/script/script_service.h), sandboxed, and speaks script_proto.h on fd 3.
 *
 * floe starts it with the limits already set on the process (RLIMIT_AS, no core, fds 0-2 on
 * /dev/null); here, before any script code runs, it closes every other fd, installs a seccomp
 * filter that allows only what computing and the socket need (no open, no socket, no exec:
 * EPERM), and bounds the script's heap with its own allocator (--memory). Each call's CPU time
 * is bounded by a CPU-time timer (--cpu-ms) whose signal (SIGXCPU) ends the process; floe
 * counts that as the script's failure and starts a fresh runner. docs/scripting.md.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <duktape.h>
#include <seccomp.h>

#include "kfl/kfl.h"
#include "script/script_proto.h"

#define FD	  3
#define KFL_CACHE 16

/* The script heap's budget: every block carries its size in front. */
struct budget {
	size_t used, limit;
};

#define HDR 16 /* keeps max_align_t alignment */

static void *b_alloc(void *ud, duk_size_t size)
{
	struct budget *b = ud;
	char *p;

	if (size > b->limit - b->used)
		return NULL;
	p = malloc(HDR + size);
	if (!p)
		return NULL;
	*(size_t *)p = size;
	b->used += size;
	return p + HDR;
}

static void b_free(void *ud, void *ptr)
{
	struct budget *b = ud;
	char *p = ptr;

	if (!p)
		return;
	p -= HDR;
	b->used -= *(size_t *)p;
	free(p);
}

static void *b_realloc(void *ud, void *ptr, duk_size_t size)
{
	struct budget *b = ud;
	char *p = ptr, *np;
	size_t old;

	if (!p)
		return b_alloc(ud, size);
	if (size == 0) {
		b_free(ud, ptr);
		return NULL;
	}
	p -= HDR;
	old = *(size_t *)p;
	if (size > old && size - old > b->limit - b->used)
		return NULL;
	np = realloc(p, HDR + size);
	if (!np)
		return NULL;
	*(size_t *)np = size;
	b->used = b->used - old + size;
	return np + HDR;
}

struct runner {
	duk_context *ctx;
	const char *file;
	timer_t cpu_timer;
	long cpu_ms;
	struct {
		char *query;
		struct kfl *q;
	} kfl[KFL_CACHE];
	size_t kfl_next;
};

static struct runner R; /* the helpers reach it from Duktape's C functions */

/* Send the object on the stack top (popped) as one frame. */
static void send_top(duk_context *ctx)
{
	duk_size_t len;
	const char *s = duk_json_encode(ctx, -1);

	s = duk_get_lstring(ctx, -1, &len);
	if (script_frame_write(FD, NULL, s, len, NULL))
		_exit(1); /* floe is gone */
	duk_pop(ctx);
}

static void send_raw(const char *json)
{
	if (script_frame_write(FD, NULL, json, strlen(json), NULL))
		_exit(1);
}

/* Duktape cannot go on (an error while handling one, out of memory in its internals): the
 * message goes out as a log line, and the exit status (4) tells floe the runner is gone. */
static void fatal(void *udata, const char *msg)
{
	json_t *o = json_pack("{s:s,s:s+}", "t", "log", "text", "fatal: ", msg ? msg : "?");
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	(void)udata;
	if (s)
		send_raw(s);
	_exit(4);
}

/* Push a message object {t: type} to fill and send_top. */
static void msg_begin(duk_context *ctx, const char *type)
{
	duk_push_object(ctx);
	duk_push_string(ctx, type);
	duk_put_prop_string(ctx, -2, "t");
}

/* ---- helpers the script sees ---- */

/* log(...): the arguments as text (objects as JSON), space-separated. */
static duk_ret_t h_log(duk_context *ctx)
{
	duk_idx_t n = duk_get_top(ctx);

	for (duk_idx_t i = 0; i < n; i++) {
		if (duk_is_object(ctx, i) && !duk_is_function(ctx, i)) {
			duk_dup(ctx, i);
			duk_json_encode(ctx, -1);
			duk_replace(ctx, i);
		} else {
			duk_to_string(ctx, i);
		}
	}
	duk_push_string(ctx, " ");
	duk_insert(ctx, 0);
	duk_join(ctx, n);
	msg_begin(ctx, "log");
	duk_dup(ctx, -2);
	duk_put_prop_string(ctx, -2, "text");
	send_top(ctx);
	return 0;
}

/* webhook(url, body): body a string, else sent as its JSON. */
static duk_ret_t h_webhook(duk_context *ctx)
{
	duk_require_string(ctx, 0);
	if (!duk_is_string(ctx, 1)) {
		duk_dup(ctx, 1);
		duk_json_encode(ctx, -1);
		duk_replace(ctx, 1);
	}
	msg_begin(ctx, "webhook");
	duk_dup(ctx, 0);
	duk_put_prop_string(ctx, -2, "url");
	duk_dup(ctx, 1);
	duk_put_prop_string(ctx, -2, "body");
	send_top(ctx);
	return 0;
}

/* metric(name, value, labels) */
static duk_ret_t h_metric(duk_context *ctx)
{
	const char *name = duk_require_string(ctx, 0);

	if (!script_metric_name_ok(name))
		return duk_error(ctx, DUK_ERR_TYPE_ERROR, "metric: bad name '%s'", name);
	duk_require_number(ctx, 1);
	msg_begin(ctx, "metric");
	duk_dup(ctx, 0);
	duk_put_prop_string(ctx, -2, "name");
	duk_dup(ctx, 1);
	duk_put_prop_string(ctx, -2, "value");
	if (duk_is_object(ctx, 2)) {
		/* label values as strings */
		duk_push_object(ctx);
		duk_enum(ctx, 2, DUK_ENUM_OWN_PROPERTIES_ONLY);
		while (duk_next(ctx, -1, 1)) {
			duk_to_string(ctx, -1);
			duk_put_prop(ctx, -4);
		}
		duk_pop(ctx);
		duk_put_prop_string(ctx, -2, "labels");
	}
	send_top(ctx);
	return 0;
}

/* snapshot(query, secondsBefore, secondsAfter) */
static duk_ret_t h_snapshot(duk_context *ctx)
{
	duk_require_string(ctx, 0);
	msg_begin(ctx, "snapshot");
	duk_dup(ctx, 0);
	duk_put_prop_string(ctx, -2, "query");
	duk_push_number(ctx, duk_is_number(ctx, 1) ? duk_get_number(ctx, 1) : 10);
	duk_put_prop_string(ctx, -2, "before");
	duk_push_number(ctx, duk_is_number(ctx, 2) ? duk_get_number(ctx, 2) : 10);
	duk_put_prop_string(ctx, -2, "after");
	send_top(ctx);
	return 0;
}

/* kfl(query, entry): does the entry match? Compiled queries are kept (a few). */
static duk_ret_t h_kfl(duk_context *ctx)
{
	const char *query = duk_require_string(ctx, 0);
	struct kfl *q = NULL;
	duk_size_t len;
	const char *js;
	json_t *entry;
	bool match;

	for (size_t i = 0; i < KFL_CACHE; i++)
		if (R.kfl[i].query && !strcmp(R.kfl[i].query, query))
			q = R.kfl[i].q;
	if (!q) {
		char err[256];
		struct kfl_options ko = {.flags = KFL_CHECK_SCHEMA};
		size_t slot = R.kfl_next++ % KFL_CACHE;

		if (kfl_compile(query, &ko, &q, err, sizeof(err)))
			return duk_error(ctx, DUK_ERR_SYNTAX_ERROR, "kfl: %s", err);
		free(R.kfl[slot].query);
		kfl_free(R.kfl[slot].q);
		R.kfl[slot].query = strdup(query);
		R.kfl[slot].q = q;
		if (!R.kfl[slot].query)
			return duk_error(ctx, DUK_ERR_RANGE_ERROR, "kfl: out of memory");
	}
	duk_dup(ctx, 1);
	js = duk_json_encode(ctx, -1);
	js = duk_get_lstring(ctx, -1, &len);
	entry = js ? json_loadb(js, len, 0, NULL) : NULL;
	match = entry && kfl_match_json(q, entry);
	json_decref(entry);
	duk_push_boolean(ctx, match);
	return 1;
}

/* ---- calls ---- */

static void cpu_arm(long ms)
{
	struct itimerspec its = {.it_value = {ms / 1000, (ms % 1000) * 1000000L}};

	timer_settime(R.cpu_timer, 0, &its, NULL);
}

/* The error on the stack top (popped) as an error message: "FILE:LINE: TEXT". */
static void send_error(duk_context *ctx)
{
	long line = 0;
	char head[64];

	if (duk_is_error(ctx, -1)) {
		duk_get_prop_string(ctx, -1, "lineNumber");
		line = (long)duk_get_int_default(ctx, -1, 0);
		duk_pop(ctx);
	}
	duk_safe_to_string(ctx, -1);
	snprintf(head, sizeof(head), "%ld", line);
	msg_begin(ctx, "error");
	duk_push_sprintf(ctx, "%s:%s: %s", R.file, line ? head : "?", duk_get_string(ctx, -2));
	duk_put_prop_string(ctx, -2, "error");
	duk_push_int(ctx, (duk_int_t)line);
	duk_put_prop_string(ctx, -2, "line");
	send_top(ctx);
	duk_pop(ctx);
}

/* Call the function on the stack below its nargs arguments; report done or error. */
static void call(duk_context *ctx, duk_idx_t nargs)
{
	int rc;

	cpu_arm(R.cpu_ms);
	rc = duk_pcall(ctx, nargs);
	cpu_arm(0);
	if (rc == DUK_EXEC_SUCCESS) {
		send_raw("{\"t\":\"done\"}");
		duk_pop(ctx);
	} else {
		send_error(ctx); /* pops the error */
	}
}

/* "500ms", "2s", "1m", "1h", or a number of seconds → ms; 0 when bad. */
static uint64_t every_ms(duk_context *ctx, duk_idx_t i)
{
	double v;
	char *end;
	const char *s;

	if (duk_is_number(ctx, i))
		return (uint64_t)(duk_get_number(ctx, i) * 1000);
	if (!duk_is_string(ctx, i))
		return 0;
	s = duk_get_string(ctx, i);
	v = strtod(s, &end);
	if (end == s || v <= 0)
		return 0;
	if (!strcmp(end, "ms"))
		return (uint64_t)v;
	if (!strcmp(end, "s") || !*end)
		return (uint64_t)(v * 1000);
	if (!strcmp(end, "m"))
		return (uint64_t)(v * 60000);
	if (!strcmp(end, "h"))
		return (uint64_t)(v * 3600000);
	return 0;
}

static const duk_function_list_entry helpers[] = {
    {"log", h_log, DUK_VARARGS}, {"webhook", h_webhook, 2}, {"metric", h_metric, 3},
    {"snapshot", h_snapshot, 3}, {"kfl", h_kfl, 2},	    {NULL, NULL, 0},
};

/* Run the program, then describe it: "ready" with its filter, hooks and jobs. The jobs'
 * functions are kept in the global stash's array "jobs", by index. */
static int load(duk_context *ctx, const char *src, size_t len)
{
	int ok = 1;

	duk_push_global_object(ctx);
	duk_put_function_list(ctx, -1, helpers);
	duk_push_object(ctx);
	duk_put_prop_string(ctx, -2, "state"); /* per-script state: the heap outlives calls */
	duk_pop(ctx);

	duk_push_string(ctx, R.file);
	cpu_arm(R.cpu_ms);
	if (duk_pcompile_lstring_filename(ctx, 0, src, len) || duk_pcall(ctx, 0)) {
		cpu_arm(0);
		send_error(ctx);
		return -1;
	}
	cpu_arm(0);
	duk_pop(ctx);

	msg_begin(ctx, "ready");
	duk_get_global_string(ctx, "filter");
	if (!duk_is_undefined(ctx, -1) && !duk_is_null(ctx, -1) && !duk_is_string(ctx, -1)) {
		duk_pop_2(ctx);
		duk_push_error_object(ctx, DUK_ERR_TYPE_ERROR, "filter must be a KFL string");
		send_error(ctx);
		return -1;
	}
	duk_put_prop_string(ctx, -2, "filter");
	duk_get_global_string(ctx, "onEntry");
	duk_push_boolean(ctx, duk_is_function(ctx, -1));
	duk_put_prop_string(ctx, -3, "onEntry");
	duk_pop(ctx);
	duk_get_global_string(ctx, "onPacket");
	duk_push_boolean(ctx, duk_is_function(ctx, -1));
	duk_put_prop_string(ctx, -3, "onPacket");
	duk_pop(ctx);

	duk_push_global_stash(ctx);
	duk_push_array(ctx); /* stash.jobs: the run functions */
	duk_push_array(ctx); /* ready.jobs */
	duk_get_global_string(ctx, "jobs");
	if (duk_is_array(ctx, -1)) {
		duk_size_t n = duk_get_length(ctx, -1);

		for (duk_size_t i = 0; i < n && ok; i++) {
			uint64_t ms;

			duk_get_prop_index(ctx, -1, (duk_uarridx_t)i);
			duk_get_prop_string(ctx, -1, "run");
			duk_get_prop_string(ctx, -2, "every");
			ms = every_ms(ctx, -1);
			duk_pop(ctx);
			duk_get_prop_string(ctx, -2, "name");
			if (!duk_is_function(ctx, -2) || !duk_is_string(ctx, -1) || ms < 10 ||
			    ms > 86400000)
				ok = 0;
			if (ok) {
				duk_push_object(ctx);
				duk_dup(ctx, -2);
				duk_put_prop_string(ctx, -2, "name");
				duk_push_number(ctx, (double)ms);
				duk_put_prop_string(ctx, -2, "every_ms");
				duk_put_prop_index(ctx, -6, (duk_uarridx_t)i);
				duk_dup(ctx, -2);
				duk_put_prop_index(ctx, -7, (duk_uarridx_t)i);
			}
			duk_pop_3(ctx);
		}
	} else if (!duk_is_undefined(ctx, -1)) {
		ok = 0;
	}
	duk_pop(ctx);
	if (!ok) {
		duk_push_error_object(ctx, DUK_ERR_TYPE_ERROR,
				      "jobs: expected [{name: STRING, every: \"10s\" (10ms..24h), "
				      "run: function}, ...]");
		send_error(ctx);
		return -1;
	}
	duk_put_prop_string(ctx, -4, "jobs");
	duk_put_prop_string(ctx, -2, "jobs");
	duk_pop(ctx);
	send_top(ctx);
	return 0;
}

/* No files, no network, no processes: only what computing and the socket need. */
static int sandbox(void)
{
	static const int allow[] = {
	    SCMP_SYS(read),	     SCMP_SYS(write),	      SCMP_SYS(readv),
	    SCMP_SYS(writev),	     SCMP_SYS(close),	      SCMP_SYS(exit),
	    SCMP_SYS(exit_group),    SCMP_SYS(brk),	      SCMP_SYS(mmap),
	    SCMP_SYS(munmap),	     SCMP_SYS(mremap),	      SCMP_SYS(mprotect),
	    SCMP_SYS(madvise),	     SCMP_SYS(rt_sigreturn),  SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),  SCMP_SYS(time),
	    SCMP_SYS(futex),	     SCMP_SYS(timer_settime), SCMP_SYS(timer_gettime),
	    SCMP_SYS(getrandom),     SCMP_SYS(poll),	      SCMP_SYS(ppoll),
	    SCMP_SYS(fstat),	     SCMP_SYS(newfstatat),    SCMP_SYS(lseek),
	    SCMP_SYS(getpid),	     SCMP_SYS(gettid),	      SCMP_SYS(tgkill),
	};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int ret = f ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < sizeof(allow) / sizeof(allow[0]); i++)
		ret = seccomp_rule_add(f, SCMP_ACT_ALLOW, allow[i], 0);
	if (!ret)
		ret = seccomp_load(f); /* sets no_new_privs itself */
	seccomp_release(f);
	return ret;
}

int main(int argc, char **argv)
{
	struct budget b = {.limit = 64u << 20};
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGXCPU};
	struct rlimit nofile = {FD + 1, FD + 1};
	char *buf;
	size_t len;
	json_t *msg;
	duk_context *ctx;

	R.cpu_ms = 1000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--memory"))
			b.limit = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--cpu-ms"))
			R.cpu_ms = strtol(argv[i + 1], NULL, 10);
	}
	if (R.cpu_ms <= 0)
		R.cpu_ms = 1000;

	/* Sandbox first: the script's source arrives on the socket. SIGXCPU's default action
	 * ends the process: the CPU limit of a call holds whatever the script does. */
	syscall(SYS_close_range, FD + 1, ~0u, 0);
	setrlimit(RLIMIT_NOFILE, &nofile);
	/* floe's threads block the signals it handles, and exec keeps the mask: SIGXCPU must
	 * get through, with its default action */
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	signal(SIGXCPU, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &R.cpu_timer) < 0 || sandbox() < 0) {
		send_raw("{\"t\":\"error\",\"error\":\"runner: cannot set up its sandbox\"}");
		return 1;
	}

	if (script_frame_read(FD, -1, &buf, &len))
		return 1;
	msg = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(msg) ||
	    strcmp(json_string_value(json_object_get(msg, "t")) ?: "", "load") ||
	    !json_is_string(json_object_get(msg, "source")))
		return 1;
	R.file = strdup(json_string_value(json_object_get(msg, "file")) ?: "script.js");

	ctx = duk_create_heap(b_alloc, b_realloc, b_free, &b, fatal);
	if (!ctx || !R.file) {
		send_raw("{\"t\":\"error\",\"error\":\"runner: out of memory\"}");
		return 1;
	}
	R.ctx = ctx;
	if (load(ctx, json_string_value(json_object_get(msg, "source")),
		 json_string_length(json_object_get(msg, "source"))))
		return 0; /* the error is sent; floe decides what follows */
	json_decref(msg);

	for (;;) {
		const char *t;

		if (script_frame_read(FD, -1, &buf, &len))
			return 0; /* floe closed the socket: done */
		/* Decoded by Duktape itself: the entry is used in the script heap as it is. floe
		 * is trusted, its frames well formed (a frame too big for the heap is fatal). */
		duk_push_lstring(ctx, buf, len);
		free(buf);
		duk_json_decode(ctx, -1);
		duk_get_prop_string(ctx, -1, "t");
		t = duk_get_string_default(ctx, -1, "");
		if (!strcmp(t, "entry") || !strcmp(t, "packet")) {
			bool entry = t[0] == 'e';

			duk_get_global_string(ctx, entry ? "onEntry" : "onPacket");
			duk_get_prop_string(ctx, -3, entry ? "entry" : "meta");
			call(ctx, 1);
		} else if (!strcmp(t, "job")) {
			duk_uarridx_t i;

			duk_get_prop_string(ctx, -2, "index");
			i = (duk_uarridx_t)duk_get_uint_default(ctx, -1, 0);
			duk_pop(ctx);
			duk_push_global_stash(ctx);
			duk_get_prop_string(ctx, -1, "jobs");
			duk_get_prop_index(ctx, -1, i);
			duk_remove(ctx, -2);
			duk_remove(ctx, -2);
			call(ctx, 0);
		}
		duk_pop_2(ctx);
	}
}
