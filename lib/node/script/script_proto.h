/* SPDX-License-Identifier: Apache-2.0 */
/*
 * script_proto: the messages between floe and a script's sandboxed runner (build/floe-script),
 * over a socketpair. A frame is a 4-byte big-endian length and that many bytes of one JSON
 * object; every object has "t", its type (docs/scripting.md, "Protocol").
 *
 *   floe -> runner   load {file, source}, entry {entry}, packet {meta}, job {name}
 *   runner -> floe   ready {filter, jobs, onEntry, onPacket}   after load
 *                    log {text}, webhook {url, body}, metric {name, value, labels},
 *                    snapshot {query, before, after}           helper calls, during a call
 *                    done {}  | error {error, line}           each call's end
 *
 * The runner is untrusted (it runs user code), so floe checks every message it reads with
 * script_msg_parse before acting on it.
 */
#ifndef FLOE_SCRIPT_PROTO_H
#define FLOE_SCRIPT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* No frame is longer (an entry with its bodies is at most a few MiB). */
#define SCRIPT_FRAME_MAX  (16u << 20)
#define SCRIPT_JOBS_MAX	  32
#define SCRIPT_NAME_MAX	  128 /* a job's or a metric's name */
#define SCRIPT_LABELS_MAX 16  /* labels of one metric */

enum script_msg_type {
	SCRIPT_MSG_READY,
	SCRIPT_MSG_LOG,
	SCRIPT_MSG_WEBHOOK,
	SCRIPT_MSG_METRIC,
	SCRIPT_MSG_SNAPSHOT,
	SCRIPT_MSG_DONE,
	SCRIPT_MSG_ERROR,
};

struct script_job {
	char name[SCRIPT_NAME_MAX];
	uint64_t every_ms; /* 10 ms .. 1 day */
};

/* A parsed runner message. Strings point into root (freed by script_msg_free). */
struct script_msg {
	enum script_msg_type type;
	json_t *root;
	/* ready */
	const char *filter; /* NULL: no pre-filter */
	bool on_entry, on_packet;
	struct script_job jobs[SCRIPT_JOBS_MAX];
	size_t n_jobs;
	/* log: text; error: text (the message), line (0: unknown) */
	const char *text;
	int64_t line;
	/* webhook */
	const char *url, *body;
	/* metric: name (Prometheus syntax), value, labels (an object of strings, or NULL) */
	const char *name;
	double value;
	json_t *labels;
	/* snapshot: query, seconds before and after now (0 .. 3600) */
	const char *query;
	double before, after;
};

/* Parse and check one frame's JSON. 0, or -EINVAL with a message in err. */
int script_msg_parse(const char *buf, size_t len, struct script_msg *out, char *err, size_t errlen);
void script_msg_free(struct script_msg *m);

/* Is s a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most SCRIPT_NAME_MAX-1)? */
bool script_metric_name_ok(const char *s);

/*
 * Write one frame: the JSON text of len bytes. 0, or -errno (EPIPE: the runner is gone).
 * head and tail, when not NULL, are written around buf in the same frame (an entry's JSON is
 * sent as it is, inside {"t":"entry","entry":...}, without parsing it again).
 */
int script_frame_write(int fd, const char *head, const char *buf, size_t len, const char *tail);

/*
 * Read one frame into *buf (malloc'ed, NUL-terminated, *len without the NUL), waiting at most
 * timeout_ms (< 0: no bound). 0; -ETIMEDOUT; -EPIPE when the peer closed; -EMSGSIZE for a
 * frame over SCRIPT_FRAME_MAX; -errno.
 */
int script_frame_read(int fd, int timeout_ms, char **buf, size_t *len);

#endif /* FLOE_SCRIPT_PROTO_H */
